//! INSERT's `ON CONFLICT` and the `RETURNING` clause of INSERT, UPDATE and
//! DELETE, planned as expressions over the rows a statement changes.
//!
//! DataFusion plans neither clause, so they are taken off the statement
//! before it plans it, and each is planned as a query of its own whose
//! projection gives the expressions:
//! - `RETURNING items` is `SELECT items FROM table [AS alias]`: expressions
//!   over one row of the table (the new row; the deleted row for DELETE).
//! - `ON CONFLICT (key) DO UPDATE SET c = e WHERE cond` is
//!   `SELECT <each column, or its new value>, cond FROM table [AS alias],
//!   table AS excluded`: expressions over the existing row followed by the
//!   row proposed for insertion (`excluded`), as PostgreSQL names them.
//!
//! The coordinator evaluates them row by row, in the statement's order, so
//! RETURNING gives rows in the order they were inserted. Subqueries in
//! these clauses are not supported (they would need a dataflow per row).
//!
//! [`joins_to_subqueries`] turns PostgreSQL's joins in DML, which
//! DataFusion does not plan, into correlated subqueries it does:
//! - `DELETE FROM t USING u WHERE c` is
//!   `DELETE FROM t WHERE EXISTS (SELECT 1 FROM u WHERE c)`;
//! - `UPDATE t SET x = t.a + u.b FROM u WHERE c` is
//!   `UPDATE t SET x = t.a + (SELECT u.b FROM u WHERE c)
//!   WHERE EXISTS (SELECT 1 FROM u WHERE c)`: each column of u read in
//!   SET is a correlated scalar subquery of its own.
//!
//! [`nested_values_as_selects`] works around DataFusion typing every
//! VALUES list of an INSERT by the target table: a nested
//! `(VALUES (1), (2)) v(x)` becomes `SELECT 1 UNION ALL SELECT 2`.
//!
//! Where several rows of `u` match one row of `t`, PostgreSQL's UPDATE takes
//! any one of them; here it is error 21000 (more than one row returned by
//! a subquery). A column name that both tables have must be qualified.

use crate::constraints::{unique_keys, UniqueKey};
use crate::names::{ident_name, postgres_names};
use crate::plan::df::{analyze, to_logical};
use crate::plan::expr::ExprLowerer;
use crate::statement::{parse, Planner};
use crate::types::desc_of_schema;
use crate::{codes, SqlError};
use datafusion_expr::LogicalPlan;
use eddy_engine::expr::ScalarExpr;
use eddy_engine::repr::RelationDesc;
use eddy_engine::{Datum, ScalarType};
use sqlparser::ast::{AssignmentTarget, ConflictTarget, Expr, FromTable, OnConflictAction, OnInsert, Query, SelectItem, SetExpr, Statement, TableFactor, TableObject, TableWithJoins, UpdateTableFromKind, VisitMut, VisitorMut};
use std::ops::ControlFlow;
use std::collections::HashMap;

/// What `RETURNING` gives: one expression per output column over a changed
/// row, and the output's columns.
#[derive(Debug, Clone)]
pub struct Returning {
    pub exprs: Vec<ScalarExpr>,
    pub desc: RelationDesc,
}

/// INSERT's `ON CONFLICT` clause.
#[derive(Debug, Clone)]
pub struct OnConflict {
    /// The constraint it names (by columns or by name); `None` for `DO
    /// NOTHING` without a target, which covers every constraint.
    pub key: Option<UniqueKey>,
    pub action: ConflictAction,
}

#[derive(Debug, Clone)]
pub enum ConflictAction {
    Nothing,
    /// The new row (one expression per table column) and the condition,
    /// over the existing row followed by the proposed one.
    Update { row: Vec<ScalarExpr>, filter: Option<ScalarExpr> },
}

/// The clauses taken off a DML statement.
#[derive(Debug, Clone, Default)]
pub struct DmlClauses {
    pub returning: Option<Returning>,
    pub on_conflict: Option<OnConflict>,
    /// Describing: the type of each parameter (`$n` by n) the clauses take.
    pub params: HashMap<usize, ScalarType>,
    /// The command tag in place of `DELETE n` (`TRUNCATE TABLE`).
    pub tag: Option<&'static str>,
}

/// Rewrites `UPDATE ... FROM` and `DELETE ... USING` into correlated
/// subqueries (see the module documentation); `target_columns`: the
/// columns of the table being changed.
pub fn joins_to_subqueries(stmt: &mut Statement, target_columns: &[String]) {
    match stmt {
        Statement::Delete(d) => {
            if let Some(using) = d.using.take() {
                let names = from_names(&using);
                let (outer, inner) = split_conditions(d.selection.take(), &names, target_columns);
                d.selection = and_all(outer.into_iter().chain([Expr::Exists { subquery: correlated(using, inner, None), negated: false }]));
            }
        }
        Statement::Update(u) => {
            if let Some(UpdateTableFromKind::AfterSet(from)) = u.from.take() {
                let names = from_names(&from);
                let (outer, inner) = split_conditions(u.selection.take(), &names, target_columns);
                // Each reference to a FROM table's column becomes a subquery
                // of its own: DataFusion decorrelates a scalar subquery only
                // when its select list reads no outer column.
                for a in &mut u.assignments {
                    crate::rewrite::for_each_own_expr(&mut a.value, |e| from_column_as_subquery(e, &names, target_columns, &from, &inner));
                }
                u.selection = and_all(outer.into_iter().chain([Expr::Exists { subquery: correlated(from, inner, None), negated: false }]));
            }
        }
        _ => {}
    }
}

/// The names the tables of a FROM (or USING) list are read by.
fn from_names(from: &[TableWithJoins]) -> Vec<String> {
    let mut names = Vec::new();
    for t in from {
        for f in std::iter::once(&t.relation).chain(t.joins.iter().map(|j| &j.relation)) {
            match f {
                TableFactor::Table { alias: Some(a), .. } | TableFactor::Derived { alias: Some(a), .. } => names.push(ident_name(&a.name)),
                TableFactor::Table { name, .. } => names.push(crate::names::text_name(&name.0.last().map(|p| p.to_string()).unwrap_or_default())),
                _ => {}
            }
        }
    }
    names
}

/// Whether `e` reads a column of the FROM tables: one qualified by one of
/// `names`, or an unqualified one the target does not have.
fn reads_from(e: &Expr, names: &[String], target_columns: &[String]) -> bool {
    sqlparser::ast::visit_expressions(e, |x| match x {
        Expr::CompoundIdentifier(parts) if parts.len() == 2 && names.contains(&ident_name(&parts[0])) => ControlFlow::Break(()),
        Expr::Identifier(i) if !target_columns.contains(&ident_name(i)) => ControlFlow::Break(()),
        _ => ControlFlow::Continue(()),
    })
    .is_break()
}

/// Splits a WHERE at its top-level ANDs into the conditions on the target
/// table alone (they stay outside the subqueries) and the rest.
fn split_conditions(selection: Option<Expr>, names: &[String], target_columns: &[String]) -> (Vec<Expr>, Option<Expr>) {
    fn conjuncts(e: Expr, out: &mut Vec<Expr>) {
        match e {
            Expr::BinaryOp { left, op: sqlparser::ast::BinaryOperator::And, right } => {
                conjuncts(*left, out);
                conjuncts(*right, out);
            }
            Expr::Nested(inner) if matches!(inner.as_ref(), Expr::BinaryOp { op: sqlparser::ast::BinaryOperator::And, .. }) => conjuncts(*inner, out),
            other => out.push(other),
        }
    }
    let mut all = Vec::new();
    if let Some(e) = selection {
        conjuncts(e, &mut all);
    }
    let (inner, outer): (Vec<Expr>, Vec<Expr>) = all.into_iter().partition(|c| reads_from(c, names, target_columns));
    (outer, and_all(inner.into_iter()))
}

/// The conjunction of `conditions` (`None` for none).
fn and_all(conditions: impl Iterator<Item = Expr>) -> Option<Expr> {
    conditions.reduce(|a, b| Expr::BinaryOp { left: Box::new(a), op: sqlparser::ast::BinaryOperator::And, right: Box::new(b) })
}

/// Replaces `e`, when it references a column of the FROM tables (qualified
/// by one of `names`, or unqualified and not a column of the target), with
/// the correlated subquery that reads it.
fn from_column_as_subquery(e: &mut Expr, names: &[String], target_columns: &[String], from: &[TableWithJoins], selection: &Option<Expr>) {
    let from_column = match e {
        Expr::CompoundIdentifier(parts) if parts.len() == 2 => names.contains(&ident_name(&parts[0])),
        Expr::Identifier(i) => !target_columns.contains(&ident_name(i)),
        _ => false,
    };
    if from_column {
        let column = e.clone();
        *e = Expr::Subquery(correlated(from.to_vec(), selection.clone(), Some(column)));
    }
}

/// `SELECT item FROM from WHERE selection` (`SELECT 1` without an item).
fn correlated(from: Vec<TableWithJoins>, selection: Option<Expr>, item: Option<Expr>) -> Box<Query> {
    let dialect = sqlparser::dialect::PostgreSqlDialect {};
    let mut q = sqlparser::parser::Parser::new(&dialect).try_with_sql("SELECT 1").and_then(|mut p| p.parse_query()).expect("SELECT 1 parses");
    if let SetExpr::Select(s) = q.body.as_mut() {
        s.from = from;
        s.selection = selection;
        if let Some(e) = item {
            s.projection = vec![SelectItem::UnnamedExpr(e)];
        }
    }
    q
}

/// Takes RETURNING and ON CONFLICT off `stmt`, returning them unplanned
/// with the text of the table reference they are over.
pub fn take_clauses(stmt: &mut Statement) -> (Option<Vec<SelectItem>>, Option<OnInsert>, String) {
    match stmt {
        Statement::Insert(i) => {
            let table = match &i.table {
                TableObject::TableName(n) => n.to_string(),
                other => other.to_string(),
            };
            // DataFusion does not plan `INSERT INTO t AS alias`; only the
            // clauses planned here use the alias.
            let alias = i.table_alias.take().map(|a| format!(" AS {}", a.alias)).unwrap_or_default();
            (i.returning.take(), i.on.take(), format!("{}{}", table, alias))
        }
        Statement::Update(u) => (u.returning.take(), None, u.table.relation.to_string()),
        Statement::Delete(d) => {
            let (FromTable::WithFromKeyword(from) | FromTable::WithoutKeyword(from)) = &d.from;
            (d.returning.take(), None, from.first().map(|t| t.relation.to_string()).unwrap_or_default())
        }
        _ => (None, None, String::new()),
    }
}

/// `INSERT INTO t SELECT ... FROM (VALUES ...) v(x)`: DataFusion types
/// every VALUES list in an INSERT by the target table's columns, so a
/// nested list of another width fails ("Inconsistent data length"). Each
/// VALUES list below the top of the INSERT's query becomes the same rows
/// as `SELECT ... UNION ALL SELECT ...`, which it plans by their own types.
pub(crate) fn nested_values_as_selects(insert: &mut sqlparser::ast::Insert) {
    use sqlparser::ast::{Ident, Select, SetOperator, SetQuantifier};
    struct Nested {
        depth: usize,
        template: Select,
    }
    impl Nested {
        fn select_of(&self, row: &[Expr]) -> SetExpr {
            let mut select = self.template.clone();
            select.projection = row.iter().enumerate().map(|(i, e)| SelectItem::ExprWithAlias { expr: e.clone(), alias: Ident::new(format!("column{}", i + 1)) }).collect();
            SetExpr::Select(Box::new(select))
        }
    }
    impl VisitorMut for Nested {
        type Break = ();
        fn pre_visit_query(&mut self, _: &mut Query) -> ControlFlow<()> {
            self.depth += 1;
            ControlFlow::Continue(())
        }
        fn post_visit_query(&mut self, q: &mut Query) -> ControlFlow<()> {
            self.depth -= 1;
            let SetExpr::Values(v) = q.body.as_ref() else { return ControlFlow::Continue(()) };
            if self.depth == 0 {
                return ControlFlow::Continue(());
            }
            let mut rows = v.rows.iter().map(|r| self.select_of(&r.content));
            if let Some(first) = rows.next() {
                *q.body = rows.fold(first, |acc, next| SetExpr::SetOperation { op: SetOperator::Union, set_quantifier: SetQuantifier::All, left: Box::new(acc), right: Box::new(next) });
            }
            ControlFlow::Continue(())
        }
    }
    let Some(source) = insert.source.as_mut() else { return };
    if matches!(source.body.as_ref(), SetExpr::Values(_)) {
        return;
    }
    let Ok(Statement::Query(q)) = parse("SELECT 1").map(|mut s| s.remove(0)) else { return };
    let SetExpr::Select(template) = *q.body else { return };
    let _ = source.visit(&mut Nested { depth: 0, template: *template });
}

impl Planner<'_> {
    /// `SET c = DEFAULT` in UPDATE and in ON CONFLICT DO UPDATE: the
    /// column's DEFAULT expression, or NULL when it has none (as in
    /// PostgreSQL; DataFusion would read `default` as a column).
    pub fn assignment_defaults(&self, stmt: &mut Statement) {
        use sqlparser::ast::{Assignment, OnConflictAction, OnInsert, TableObject, Value};
        let (table, assignments): (Option<String>, Option<&mut Vec<Assignment>>) = match stmt {
            Statement::Update(u) => match &u.table.relation {
                TableFactor::Table { name, .. } => (Some(crate::statement::object_name(name)), Some(&mut u.assignments)),
                _ => (None, None),
            },
            Statement::Insert(i) => {
                let table = match &i.table {
                    TableObject::TableName(name) => Some(crate::statement::object_name(name)),
                    _ => None,
                };
                match &mut i.on {
                    Some(OnInsert::OnConflict(c)) => match &mut c.action {
                        OnConflictAction::DoUpdate(u) => (table, Some(&mut u.assignments)),
                        _ => (None, None),
                    },
                    _ => (None, None),
                }
            }
            _ => (None, None),
        };
        let (Some(table), Some(assignments)) = (table, assignments) else { return };
        let is_default = |e: &Expr| matches!(e, Expr::Identifier(i) if i.quote_style.is_none() && i.value.eq_ignore_ascii_case("default"));
        if !assignments.iter().any(|a| is_default(&a.value)) {
            return;
        }
        let Some(item) = self.catalog.resolve(&table) else { return };
        let defaults = crate::statement::column_defaults(&item.create_sql);
        for a in assignments.iter_mut().filter(|a| is_default(&a.value)) {
            let AssignmentTarget::ColumnName(n) = &a.target else { continue };
            let col = crate::names::text_name(&n.0.last().map(|p| p.to_string()).unwrap_or_default());
            a.value = defaults.get(&col).cloned().unwrap_or(Expr::value(Value::Null));
        }
    }

    /// [`joins_to_subqueries`] for `stmt`, knowing the target's columns.
    pub fn dml_joins(&self, stmt: &mut Statement) {
        let target = match &*stmt {
            Statement::Update(u) => match &u.table.relation {
                TableFactor::Table { name, .. } => name.0.last().map(|p| p.to_string()),
                _ => None,
            },
            Statement::Delete(d) => {
                let (FromTable::WithFromKeyword(from) | FromTable::WithoutKeyword(from)) = &d.from;
                match from.first().map(|t| &t.relation) {
                    Some(TableFactor::Table { name, .. }) => name.0.last().map(|p| p.to_string()),
                    _ => None,
                }
            }
            _ => None,
        };
        let Some(target) = target else { return };
        let columns = self.catalog.resolve(&crate::names::text_name(&target)).map(|i| i.desc.names.clone()).unwrap_or_default();
        joins_to_subqueries(stmt, &columns);
    }

    /// Plans the RETURNING and ON CONFLICT clauses of `stmt`, taking them
    /// off it. Describing a statement (`params` `None`), the clauses' expressions
    /// are left empty and `DmlClauses::params` lists the parameters they
    /// take.
    pub fn dml_clauses(&self, stmt: &mut Statement, params: Option<&[Datum]>) -> Result<DmlClauses, SqlError> {
        let (returning, on, relation) = take_clauses(stmt);
        let mut described = HashMap::new();
        let returning = returning.map(|items| self.returning(&items, &relation, params, &mut described)).transpose()?;
        let on_conflict = match on {
            None => None,
            Some(OnInsert::OnConflict(c)) => Some(self.on_conflict(c, &relation, params, &mut described)?),
            Some(_) => return Err(SqlError::unsupported("ON DUPLICATE KEY UPDATE").with_hint("write ON CONFLICT (key) DO UPDATE SET ...")),
        };
        Ok(DmlClauses { returning, on_conflict, params: described, tag: None })
    }

    fn returning(&self, items: &[SelectItem], relation: &str, params: Option<&[Datum]>, described: &mut HashMap<usize, ScalarType>) -> Result<Returning, SqlError> {
        let sql = format!("SELECT {} FROM {}", items.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "), relation);
        let (exprs, mut desc, stmt) = self.projection(&sql, params, described)?;
        if let Statement::Query(q) = &stmt {
            postgres_names(q, &mut desc.names);
        }
        Ok(Returning { exprs, desc })
    }

    fn on_conflict(&self, c: sqlparser::ast::OnConflict, relation: &str, params: Option<&[Datum]>, described: &mut HashMap<usize, ScalarType>) -> Result<OnConflict, SqlError> {
        let table_name = relation.split_whitespace().next().unwrap_or_default();
        let item = self.catalog.resolve_or_err(&crate::names::text_name(table_name))?;
        let keys = unique_keys(&item.name, &item.create_sql, &item.desc);
        let key = match &c.conflict_target {
            None => None,
            Some(ConflictTarget::Columns(cols)) => {
                let mut wanted: Vec<usize> = cols.iter().map(|c| item.desc.names.iter().position(|n| *n == ident_name(c)).ok_or_else(|| SqlError::new(codes::UNDEFINED_COLUMN, format!("column \"{}\" does not exist", ident_name(c))))).collect::<Result<_, _>>()?;
                wanted.sort_unstable();
                let found = keys.iter().find(|k| {
                    let mut cols = k.columns.clone();
                    cols.sort_unstable();
                    cols == wanted
                });
                Some(found.cloned().ok_or_else(|| SqlError::new("42P10", "there is no unique or exclusion constraint matching the ON CONFLICT specification").with_hint(format!("declare the columns PRIMARY KEY or UNIQUE in CREATE TABLE {}", item.name)))?)
            }
            Some(ConflictTarget::OnConstraint(name)) => {
                let name = crate::names::text_name(&name.to_string());
                Some(keys.iter().find(|k| k.name == name).cloned().ok_or_else(|| SqlError::new(codes::UNDEFINED_OBJECT, format!("constraint \"{}\" for table \"{}\" does not exist", name, item.name)))?)
            }
        };
        let action = match c.action {
            OnConflictAction::DoNothing => ConflictAction::Nothing,
            OnConflictAction::DoUpdate(_) if key.is_none() => {
                return Err(SqlError::new(codes::SYNTAX_ERROR, "ON CONFLICT DO UPDATE requires inference specification or constraint name").with_hint("name the key: ON CONFLICT (id) DO UPDATE SET ..."))
            }
            OnConflictAction::DoUpdate(u) => {
                let mut new: HashMap<String, String> = HashMap::new();
                for a in &u.assignments {
                    let AssignmentTarget::ColumnName(n) = &a.target else { return Err(SqlError::unsupported("assigning a tuple of columns in ON CONFLICT DO UPDATE")) };
                    let col = crate::names::text_name(&n.0.last().map(|p| p.to_string()).unwrap_or_default());
                    if !item.desc.names.contains(&col) {
                        return Err(SqlError::new(codes::UNDEFINED_COLUMN, format!("column \"{}\" of relation \"{}\" does not exist", col, item.name)));
                    }
                    new.insert(col, a.value.to_string());
                }
                let existing = relation.split_whitespace().last().unwrap_or(table_name);
                let mut items: Vec<String> = item.desc.names.iter().map(|n| new.get(n).cloned().unwrap_or_else(|| format!("{}.\"{}\"", existing, n))).collect();
                if let Some(cond) = &u.selection {
                    items.push(format!("({})", cond));
                }
                let sql = format!("SELECT {} FROM {}, {} AS excluded", items.join(", "), relation, table_name);
                let (mut row, _, _) = self.projection(&sql, params, described)?;
                let filter = u.selection.is_some().then(|| row.pop()).flatten();
                ConflictAction::Update { row, filter }
            }
        };
        Ok(OnConflict { key, action })
    }

    /// The expressions of `sql`'s select list over its FROM's columns, the
    /// result's columns, and the parsed statement. Describing (`params`
    /// `None`), the expressions are not lowered and the parameters `sql`
    /// takes are added to `described` with their types.
    fn projection(&self, sql: &str, params: Option<&[Datum]>, described: &mut HashMap<usize, ScalarType>) -> Result<(Vec<ScalarExpr>, RelationDesc, Statement), SqlError> {
        let stmt = parse(sql)?.remove(0);
        let mut logical = to_logical(&self.context(), stmt.clone())?;
        match params {
            Some(params) if sql.contains('$') => logical = self.bind_params(logical, params)?,
            Some(_) => {}
            None => {
                for (name, ty) in logical.get_parameter_types().map_err(crate::plan::df::translate)? {
                    let Some(i) = name.strip_prefix('$').and_then(|n| n.parse::<usize>().ok()) else { continue };
                    let ty = ty.map(|t| crate::types::scalar_type_of_arrow(&t)).transpose()?.unwrap_or(ScalarType::Text);
                    described.entry(i).or_insert(ty);
                }
            }
        }
        let analyzed = analyze(logical.clone());
        let logical = match (analyzed, params) {
            (Ok(l), _) => l,
            // Untyped parameters may not analyze; their types are known by now.
            (Err(_), None) => logical,
            (Err(e), Some(_)) => return Err(e),
        };
        let LogicalPlan::Projection(p) = &logical else {
            return Err(SqlError::unsupported("this RETURNING or ON CONFLICT clause (subqueries are not supported there)"));
        };
        match p.input.as_ref() {
            LogicalPlan::Aggregate(_) => return Err(SqlError::new(codes::GROUPING_ERROR, "aggregate functions are not allowed in RETURNING or ON CONFLICT")),
            LogicalPlan::Window(_) => return Err(SqlError::new("42P20", "window functions are not allowed in RETURNING or ON CONFLICT")),
            LogicalPlan::TableScan(_) | LogicalPlan::SubqueryAlias(_) | LogicalPlan::Join(_) => {}
            _ => return Err(SqlError::unsupported("this RETURNING or ON CONFLICT clause (subqueries are not supported there)")),
        }
        let desc = desc_of_schema(logical.schema())?;
        if params.is_none() {
            return Ok((vec![], desc, stmt));
        }
        let none = HashMap::new();
        let lowerer = ExprLowerer { schema: p.input.schema(), subqueries: &none, maintained: false };
        let exprs = p.expr.iter().map(|e| lowerer.lower(e)).collect::<Result<Vec<_>, _>>()?;
        Ok((exprs, desc, stmt))
    }
}
