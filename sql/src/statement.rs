//! Statements: parsing SQL text and planning each statement against a
//! catalog snapshot into a [`StatementPlan`] the coordinator executes.
//!
//! Planning is pure: it reads the catalog, never changes it, and never
//! talks to the engine.

use crate::catalog::{Catalog, ItemKind};
use crate::dml::DmlClauses;
use crate::plan::context::{config_options, EddyContext};
use crate::plan::df::{optimize, to_logical};
use crate::plan::expr::ExprLowerer;
use crate::plan::lower::{limit_bounds, Lowerer};
use crate::types::{desc_of_schema, scalar_type_of_sql};
use crate::{codes, SqlError};
use datafusion_common::ScalarValue;
use datafusion_expr::logical_plan::{DmlStatement, WriteOp};
use datafusion_expr::LogicalPlan;
use eddy_engine::expr::{ScalarExpr, SortKey};
use eddy_engine::plan::Plan;
use eddy_engine::repr::{ColumnType, RelationDesc};
use eddy_engine::{Datum, GlobalId, ScalarType};
use sqlparser::ast::{ColumnOption, ObjectType, Statement};
use std::collections::HashMap;

/// Sorting, paging and final projection of a SELECT's result, applied to
/// the rows the dataflow computed (they have no order of their own).
#[derive(Clone, Debug, Default)]
pub struct Finishing {
    pub order_by: Vec<SortKey>,
    pub limit: Option<usize>,
    pub offset: usize,
    /// Expressions over the computed rows giving the output columns.
    pub project: Option<Vec<ScalarExpr>>,
}

#[derive(Debug)]
pub enum StatementPlan {
    /// `notices`: what the table accepts but does not do (FOREIGN KEY and
    /// CHECK constraints are not enforced).
    CreateTable { name: String, desc: RelationDesc, if_not_exists: bool, notices: Vec<SqlError> },
    /// `CREATE TABLE name AS query`: a table with the query's columns (all
    /// nullable, as in PostgreSQL), filled with its rows. `create_sql` is
    /// the plain CREATE TABLE that makes the table (what the data
    /// directory's log keeps: the rows are logged as they are written).
    CreateTableAs { name: String, if_not_exists: bool, create_sql: String, desc: RelationDesc, plan: Plan, finishing: Finishing },
    /// `depends_on`: the relations the query names (a view over a plain
    /// view depends on that view, not on what the view reads).
    CreateView { name: String, desc: RelationDesc, plan: Plan, logical: LogicalPlan, depends_on: Vec<GlobalId>, materialized: bool, if_not_exists: bool, or_replace: bool },
    /// `notices`: what the index accepts but does not do (UNIQUE).
    CreateIndex { name: String, on: GlobalId, columns: Vec<usize>, if_not_exists: bool, notices: Vec<SqlError> },
    Drop { kind: ObjectType, names: Vec<String>, if_exists: bool, cascade: bool },
    /// Rows to insert into a table (in its column order); `clauses`: its
    /// ON CONFLICT and RETURNING.
    Insert { table: GlobalId, rows: Plan, clauses: DmlClauses },
    /// Rows to delete from a table.
    Delete { table: GlobalId, rows: Plan, clauses: DmlClauses },
    /// Rows whose first half is the old row and second half the new one.
    Update { table: GlobalId, rows: Plan, clauses: DmlClauses },
    Select { plan: Plan, desc: RelationDesc, finishing: Finishing },
    /// `COPY ... TO STDOUT`: a query's rows in COPY's text or CSV format.
    CopyTo { plan: Plan, desc: RelationDesc, finishing: Finishing, format: crate::copy::CopyFormat },
    /// `COPY table FROM STDIN`: the client sends `columns` fields a row.
    CopyFrom { copy: crate::copy::CopyIn, columns: usize },
    Explain { text: String },
    /// A statement answered from the catalog alone (SHOW ...).
    Show { desc: RelationDesc, rows: Vec<Vec<Datum>> },
    Begin,
    Commit,
    Rollback,
    /// `SAVEPOINT name`, `RELEASE [SAVEPOINT] name`, `ROLLBACK TO [SAVEPOINT] name`.
    Savepoint { name: String },
    ReleaseSavepoint { name: String },
    RollbackTo { name: String },
    /// SET and other session statements accepted without effect.
    Ignored { tag: String },
    /// `DEALLOCATE name` (`None`: `DEALLOCATE ALL`): the wire protocol's
    /// session holds the prepared statements and forgets the one named.
    Deallocate { name: Option<String> },
    /// `SET statement_timeout`: the longest a statement of the session may
    /// wait for the engine (0: no limit).
    SetStatementTimeout { millis: u64 },
}

/// A relation that is stored or named (a view, a table) needs distinct
/// column names; a query's result may repeat them.
fn distinct_column_names(desc: &RelationDesc) -> Result<(), SqlError> {
    let mut seen = std::collections::HashSet::new();
    match desc.names.iter().find(|n| !seen.insert(n.as_str())) {
        Some(n) => Err(SqlError::new(codes::DUPLICATE_COLUMN, format!("column \"{}\" specified more than once", n)).with_hint("give the columns distinct names with AS")),
        None => Ok(()),
    }
}

/// Splits SQL text into statements.
pub fn parse(sql: &str) -> Result<Vec<Statement>, SqlError> {
    let mut stmts = crate::limits::parse_sql(sql, |msg| syntax_error(sql, msg))?;
    stmts.iter_mut().for_each(crate::rewrite::rewrite);
    Ok(stmts)
}

/// The DEFAULT expression of each column of a table, from its CREATE TABLE
/// (by column name as the catalog holds it).
pub fn column_defaults(create_sql: &str) -> std::collections::HashMap<String, sqlparser::ast::Expr> {
    use sqlparser::ast::ColumnOption;
    if !create_sql.to_ascii_lowercase().contains("default") {
        return Default::default();
    }
    match parse(create_sql).ok().and_then(|mut s| s.pop()) {
        Some(Statement::CreateTable(ct)) => ct.columns.into_iter().filter_map(|c| c.options.into_iter().find_map(|o| if let ColumnOption::Default(e) = o.option { Some(e) } else { None }).map(|e| (crate::names::ident_name(&c.name), e))).collect(),
        _ => Default::default(),
    }
}

/// A syntax error with the cursor position sqlparser reports.
fn syntax_error(sql: &str, msg: &str) -> SqlError {
    // ALTER of a view or materialized view does not parse at all here:
    // say what is missing rather than what the parser expected.
    let words: Vec<String> = sql.split_whitespace().take(3).map(str::to_lowercase).collect();
    if words.first().is_some_and(|w| w == "alter") && words.iter().skip(1).any(|w| w == "view" || w == "materialized") {
        return SqlError::unsupported("ALTER of a view").with_hint("drop the view and create it again (DROP ... CASCADE drops the views over it too)");
    }
    let msg = msg.trim_start_matches("sql parser error: ");
    let text = msg.split(" at Line:").next().unwrap_or(msg);
    // PostgreSQL names the token it stopped at; what the parser expected
    // there is the hint.
    let mut err = match text.strip_prefix("Expected: ").and_then(|t| t.split_once(", found: ")) {
        Some((expected, "EOF")) => SqlError::syntax("syntax error at end of input").with_hint(format!("expected {}", expected)),
        Some((expected, found)) => SqlError::syntax(format!("syntax error at or near \"{}\"", found)).with_hint(format!("expected {}", expected)),
        None => SqlError::syntax(text.to_string()),
    };
    if let Some(pos) = msg.find("Line: ") {
        let rest = &msg[pos + 6..];
        let line: usize = rest.split(',').next().and_then(|s| s.trim().parse().ok()).unwrap_or(1);
        let col: usize = rest.split("Column: ").nth(1).and_then(|s| s.trim().trim_end_matches(|c: char| !c.is_ascii_digit()).parse().ok()).unwrap_or(1);
        let offset: usize = sql.split('\n').take(line - 1).map(|l| l.chars().count() + 1).sum();
        err = err.with_position(offset + col);
    }
    err
}

/// Plans statements against one catalog snapshot.
pub struct Planner<'a> {
    pub catalog: &'a Catalog,
    /// DataFusion plans of plain views.
    pub views: &'a HashMap<GlobalId, LogicalPlan>,
}

impl Planner<'_> {
    pub(crate) fn context(&self) -> EddyContext<'_> {
        EddyContext { catalog: self.catalog, options: config_options(), views: self.views }
    }

    /// Plans one statement; `params` bind `$1`, `$2`, ...
    pub fn plan(&self, mut stmt: Statement, params: &[Datum]) -> Result<StatementPlan, SqlError> {
        match &stmt {
            Statement::CreateTable(ct) => check_schema(&ct.name)?,
            Statement::CreateView(cv) => check_schema(&cv.name)?,
            _ => {}
        }
        if !params.is_empty() {
            let types: Vec<Option<ScalarType>> = params
                .iter()
                .map(|d| match d {
                    Datum::Numeric(_) => Some(ScalarType::Numeric { precision: None, scale: None }),
                    Datum::Float(_) => Some(ScalarType::Float64),
                    Datum::Bool(_) => Some(ScalarType::Bool),
                    _ => None,
                })
                .collect();
            crate::params::typed_placeholders(&mut stmt, &types);
        }
        Ok(match stmt {
            Statement::CreateTable(ct) => {
                if let Some(q) = &ct.query {
                    return self.create_table_as(&ct, q.as_ref().clone(), params);
                }
                let mut cols: Vec<(String, ColumnType)> = Vec::new();
                let ctx = self.context();
                let planner = datafusion_sql::planner::SqlToRel::new(&ctx);
                for c in &ct.columns {
                    let name = crate::names::ident_name(&c.name);
                    if cols.iter().any(|(n, _)| *n == name) {
                        return Err(SqlError::new(codes::DUPLICATE_COLUMN, format!("column \"{}\" specified more than once", name)));
                    }
                    if c.options.iter().any(|o| matches!(o.option, ColumnOption::Generated { .. } | ColumnOption::Identity(_))) {
                        return Err(SqlError::unsupported(format!("an identity or generated column (\"{}\")", name)).with_hint("eddy has no sequences or generated columns: give the column's values in each INSERT (an event's own id, say), or compute it in a view"));
                    }
                    let nullable = !c.options.iter().any(|o| matches!(o.option, ColumnOption::NotNull | ColumnOption::PrimaryKey(_)));
                    // A DEFAULT must plan now (INSERT takes it later).
                    for o in &c.options {
                        if let ColumnOption::Default(e) = &o.option {
                            planner.sql_to_expr(e.clone(), &datafusion_common::DFSchema::empty(), &mut datafusion_sql::planner::PlannerContext::new()).map_err(|e| crate::plan::df::translate(e).with_detail(format!("in the DEFAULT of column \"{}\"", name)))?;
                        }
                    }
                    cols.push((name, ColumnType { scalar: scalar_type_of_sql(&c.data_type)?, nullable }));
                }
                let names: Vec<String> = cols.iter().map(|(n, _)| n.clone()).collect();
                for p in crate::constraints::check_declared(&object_name(&ct.name), &ct, &names)? {
                    cols[p].1.nullable = false;
                }
                let constrained = ct.constraints.iter().any(|c| !matches!(c, sqlparser::ast::TableConstraint::PrimaryKey(_) | sqlparser::ast::TableConstraint::Unique(_))) || ct.columns.iter().flat_map(|c| &c.options).any(|o| matches!(o.option, ColumnOption::ForeignKey(_) | ColumnOption::Check(_)));
                let mut notices = if constrained { vec![SqlError::notice("FOREIGN KEY and CHECK constraints are not enforced: eddy accepts them and enforces only NOT NULL, PRIMARY KEY and UNIQUE")] } else { vec![] };
                if ct.temporary {
                    notices.push(SqlError::notice("eddy has no temporary tables: this is a regular table, visible to every session until dropped"));
                }
                StatementPlan::CreateTable { name: object_name(&ct.name), desc: RelationDesc::new(cols), if_not_exists: ct.if_not_exists, notices }
            }
            Statement::CreateView(cv) if cv.materialized && crate::setops::needs_rewrite(&cv.query) => {
                let (plan, mut desc, _) = self.plan_all_setop(&cv.query, true)?;
                if !cv.columns.is_empty() && cv.columns.len() == desc.arity() {
                    desc.names = cv.columns.iter().map(|c| crate::names::ident_name(&c.name)).collect();
                }
                distinct_column_names(&desc)?;
                let logical = LogicalPlan::EmptyRelation(datafusion_expr::logical_plan::EmptyRelation { produce_one_row: false, schema: std::sync::Arc::new(datafusion_common::DFSchema::try_from(crate::types::arrow_schema(&desc).as_ref().clone()).map_err(crate::plan::df::translate)?) });
                let depends_on = plan.depends_on();
                StatementPlan::CreateView { name: object_name(&cv.name), desc, plan, logical, depends_on, materialized: true, if_not_exists: cv.if_not_exists, or_replace: cv.or_replace }
            }
            Statement::CreateView(cv) => {
                let query = Statement::Query(cv.query.clone());
                let unoptimized = to_logical(&self.context(), query)?;
                let mut depends_on = crate::plan::prepare::relations_named(&unoptimized, self.catalog, self.views);
                let logical = optimize(unoptimized)?;
                let mut desc = desc_of_schema(logical.schema())?;
                crate::names::postgres_names(&cv.query, &mut desc.names);
                if !cv.columns.is_empty() {
                    if cv.columns.len() != desc.arity() {
                        return Err(SqlError::new(codes::SYNTAX_ERROR, "CREATE VIEW specifies a different number of columns than the query returns"));
                    }
                    desc.names = cv.columns.iter().map(|c| crate::names::ident_name(&c.name)).collect();
                }
                distinct_column_names(&desc)?;
                let plan = Lowerer { catalog: self.catalog, maintained: cv.materialized }.lower(&logical)?;
                // Readers of a plain view resolve columns by the view's names.
                let renamed = logical.schema().columns().into_iter().zip(&desc.names).map(|(c, n)| datafusion_expr::Expr::Column(c).alias(n));
                let logical = datafusion_expr::LogicalPlanBuilder::from(logical.clone()).project(renamed).and_then(|b| b.build()).map_err(crate::plan::df::translate)?;
                depends_on.extend(plan.depends_on());
                depends_on.sort();
                depends_on.dedup();
                StatementPlan::CreateView { name: object_name(&cv.name), desc, plan, logical, depends_on, materialized: cv.materialized, if_not_exists: cv.if_not_exists, or_replace: cv.or_replace }
            }
            Statement::CreateIndex(ci) => {
                let table = object_name(&ci.table_name);
                let on = self.catalog.resolve_or_err(&table)?;
                let mut columns = Vec::new();
                for c in &ci.columns {
                    // A column is named as in a query: folded to lower case
                    // unless quoted (`"Id"`).
                    let col = match &c.column.expr {
                        sqlparser::ast::Expr::Identifier(ident) => crate::names::ident_name(ident),
                        other => other.to_string().to_lowercase(),
                    };
                    let pos = on.desc.names.iter().position(|n| *n == col).ok_or_else(|| SqlError::new(codes::UNDEFINED_COLUMN, format!("column \"{}\" does not exist", col)))?;
                    columns.push(pos);
                }
                let name = ci.name.as_ref().map(object_name).unwrap_or_else(|| format!("{}_{}_idx", table, columns.iter().map(|c| on.desc.names[*c].clone()).collect::<Vec<_>>().join("_")));
                let notices = if ci.unique { vec![SqlError::notice("UNIQUE is not enforced: eddy records the index's key and accepts duplicate rows")] } else { vec![] };
                StatementPlan::CreateIndex { name, on: on.id, columns, if_not_exists: ci.if_not_exists, notices }
            }
            Statement::Copy { .. } => match crate::copy::plan_copy(stmt)? {
                crate::copy::CopyPlan::To(query, format) => match self.plan(query, params)? {
                    StatementPlan::Select { plan, desc, finishing } => StatementPlan::CopyTo { plan, desc, finishing, format },
                    _ => return Err(SqlError::internal("COPY's query did not plan as a query")),
                },
                crate::copy::CopyPlan::From(copy) => {
                    // The table must exist now: the client sends its rows next.
                    let item = self.catalog.resolve_or_err(&crate::names::text_name(&copy.table))?;
                    if !matches!(item.kind, crate::catalog::ItemKind::Table) {
                        return Err(SqlError::new(codes::WRONG_OBJECT_TYPE, format!("cannot copy to \"{}\": it is not a table", item.name)));
                    }
                    let columns = if copy.columns.is_empty() { item.desc.arity() } else { copy.columns.len() };
                    StatementPlan::CopyFrom { copy, columns }
                }
            },
            Statement::Drop { object_type, if_exists, names, cascade, .. } => StatementPlan::Drop { kind: object_type, names: names.iter().map(object_name).collect(), if_exists, cascade },
            Statement::Query(ref q) if crate::setops::needs_rewrite(q) => {
                let (plan, desc, finishing) = self.plan_all_setop(q, false)?;
                StatementPlan::Select { plan, desc, finishing }
            }
            Statement::Query(ref q) => {
                let query = q.clone();
                let logical = self.logical_with_params(stmt, params)?;
                let mut plan = self.select(&logical)?;
                if let StatementPlan::Select { desc, .. } = &mut plan {
                    crate::names::postgres_names(&query, &mut desc.names);
                }
                plan
            }
            Statement::Insert(_) | Statement::Update(_) | Statement::Delete(_) => {
                if let Statement::Insert(insert) = &mut stmt {
                    self.complete_insert(insert)?;
                    self.fill_defaults(insert);
                    crate::dml::nested_values_as_selects(insert);
                }
                self.assignment_defaults(&mut stmt);
                self.dml_joins(&mut stmt);
                let clauses = self.dml_clauses(&mut stmt, Some(params))?;
                let logical = self.bind_params(to_logical(&self.context(), stmt)?, params)?;
                let LogicalPlan::Dml(dml) = logical else { return Err(SqlError::internal("DML did not plan as DML")) };
                self.dml(dml, clauses)?
            }
            Statement::Explain { statement, verbose: true, .. } if matches!(statement.as_ref(), Statement::Query(_)) => {
                // EXPLAIN VERBOSE: DataFusion's plan before and after its
                // optimizer, then ours.
                let logical = to_logical(&self.context(), (*statement).clone())?;
                let optimized = optimize(logical.clone())?;
                let ours = match self.plan(*statement, params) {
                    Ok(StatementPlan::Select { plan, .. }) => plan.to_string(),
                    Ok(other) => format!("{:?}", other),
                    Err(e) => format!("ERROR {}: {}", e.code, e.message),
                };
                StatementPlan::Explain { text: format!("DataFusion plan:\n{}\nOptimized:\n{}\nEngine plan:\n{}", logical.display_indent(), optimized.display_indent(), ours) }
            }
            Statement::Explain { statement, verbose: true, .. } if matches!(statement.as_ref(), Statement::Insert(_) | Statement::Update(_) | Statement::Delete(_)) => {
                let logical = to_logical(&self.context(), *statement)?;
                StatementPlan::Explain { text: format!("DataFusion plan:\n{}", logical.display_indent()) }
            }
            Statement::Explain { statement, .. } => {
                let text = match self.plan(*statement, params)? {
                    StatementPlan::Select { plan, .. } | StatementPlan::CreateView { plan, .. } => plan.to_string(),
                    other => format!("{:?}", other),
                };
                StatementPlan::Explain { text }
            }
            Statement::StartTransaction { .. } => StatementPlan::Begin,
            Statement::Commit { .. } => StatementPlan::Commit,
            Statement::Rollback { savepoint: Some(name), .. } => StatementPlan::RollbackTo { name: crate::names::ident_name(&name) },
            Statement::Rollback { .. } => StatementPlan::Rollback,
            Statement::Savepoint { name } => StatementPlan::Savepoint { name: crate::names::ident_name(&name) },
            Statement::ReleaseSavepoint { name } => StatementPlan::ReleaseSavepoint { name: crate::names::ident_name(&name) },
            Statement::Set(set) => {
                crate::settings::check_time_zone(&set)?;
                match crate::settings::statement_timeout(&set)? {
                    Some(millis) => StatementPlan::SetStatementTimeout { millis },
                    None => StatementPlan::Ignored { tag: "SET".into() },
                }
            }
            // TRUNCATE is a DELETE of every row (there is no storage to release).
            Statement::Truncate(t) if t.table_names.len() == 1 => {
                let delete = parse(&format!("DELETE FROM {}", t.table_names[0].name))?.remove(0);
                match self.plan(delete, params)? {
                    StatementPlan::Delete { table, rows, mut clauses } => {
                        clauses.tag = Some("TRUNCATE TABLE");
                        StatementPlan::Delete { table, rows, clauses }
                    }
                    other => other,
                }
            }
            Statement::Truncate(_) => return Err(SqlError::unsupported("TRUNCATE of several tables at once").with_hint("TRUNCATE one table per statement")),
            // Prepared statements live in the wire protocol's session, which
            // forgets them with the connection; clients (psycopg) send these
            // on rollback and poolers on release.
            Statement::Deallocate { name, .. } if name.quote_style.is_none() && name.value.eq_ignore_ascii_case("all") => StatementPlan::Deallocate { name: None },
            Statement::Deallocate { name, .. } => StatementPlan::Deallocate { name: Some(crate::names::ident_name(&name)) },
            Statement::Discard { .. } => StatementPlan::Ignored { tag: "DISCARD ALL".into() },
            Statement::AlterTable { .. } => {
                return Err(SqlError::unsupported("ALTER TABLE").with_hint("create the table anew: CREATE TABLE new_t AS SELECT ..., then DROP TABLE the old one (a view that reads it is dropped with CASCADE and created again)"))
            }
            Statement::Comment { .. } => return Err(SqlError::unsupported("COMMENT ON").with_hint("eddy keeps no comments on objects: document them beside the statements that create them")),
            other => return Err(SqlError::unsupported(format!("statement {}", other.to_string().split_whitespace().take(2).collect::<Vec<_>>().join(" ")))),
        })
    }

    /// `INSERT INTO t VALUES (1)` into a table of more columns names the
    /// first columns, which PostgreSQL fills in order (the rest take their
    /// defaults); `INSERT INTO t DEFAULT VALUES` is a row of DEFAULTs.
    fn complete_insert(&self, insert: &mut sqlparser::ast::Insert) -> Result<(), SqlError> {
        use sqlparser::ast::{Ident, ObjectName, SetExpr, TableObject};
        let TableObject::TableName(name) = &insert.table else { return Ok(()) };
        let Some(item) = self.catalog.resolve(&object_name(name)) else { return Ok(()) };
        let columns = &item.desc.names;
        if insert.source.is_none() && insert.columns.is_empty() && insert.assignments.is_empty() {
            let defaults = vec!["DEFAULT"; columns.len()].join(", ");
            let Statement::Query(q) = parse(&format!("VALUES ({})", defaults))?.remove(0) else { return Ok(()) };
            insert.source = Some(q);
            return Ok(());
        }
        // The width of the rows given: of VALUES, or of a SELECT's list
        // (without `*`, whose width is its tables').
        let width = match insert.source.as_ref().map(|q| q.body.as_ref()) {
            Some(SetExpr::Values(values)) => {
                let width = values.rows.first().map_or(0, |r| r.content.len());
                if values.rows.iter().any(|r| r.content.len() != width) {
                    return Ok(());
                }
                width
            }
            Some(SetExpr::Select(select)) if select.projection.iter().all(|i| matches!(i, sqlparser::ast::SelectItem::UnnamedExpr(_) | sqlparser::ast::SelectItem::ExprWithAlias { .. })) => select.projection.len(),
            _ => return Ok(()),
        };
        if !insert.columns.is_empty() || width >= columns.len() {
            return Ok(());
        }
        insert.columns = columns[..width].iter().map(|c| ObjectName::from(vec![Ident::with_quote('"', c.clone())])).collect();
        Ok(())
    }

    /// `INSERT ... VALUES (..., DEFAULT, ...)`: each DEFAULT becomes its
    /// column's default expression, or NULL (as in PostgreSQL).
    fn fill_defaults(&self, insert: &mut sqlparser::ast::Insert) {
        use sqlparser::ast::{Expr, SetExpr, TableObject, Value};
        let Some(SetExpr::Values(values)) = insert.source.as_mut().map(|q| q.body.as_mut()) else { return };
        let is_default = |e: &Expr| matches!(e, Expr::Identifier(i) if i.quote_style.is_none() && i.value.eq_ignore_ascii_case("default"));
        if !values.rows.iter().flat_map(|r| &r.content).any(is_default) {
            return;
        }
        let TableObject::TableName(name) = &insert.table else { return };
        let Some(item) = self.catalog.resolve(&object_name(name)) else { return };
        let defaults = column_defaults(&item.create_sql);
        let columns: Vec<String> = if insert.columns.is_empty() { item.desc.names.clone() } else { insert.columns.iter().map(object_name).collect() };
        for row in values.rows.iter_mut() {
            for (i, e) in row.content.iter_mut().enumerate() {
                if is_default(e) {
                    *e = columns.get(i).and_then(|c| defaults.get(c)).cloned().unwrap_or(Expr::value(Value::Null));
                }
            }
        }
    }

    /// `CREATE TABLE name [(columns)] AS query` (see
    /// [`StatementPlan::CreateTableAs`]).
    fn create_table_as(&self, ct: &sqlparser::ast::CreateTable, query: sqlparser::ast::Query, params: &[Datum]) -> Result<StatementPlan, SqlError> {
        let StatementPlan::Select { plan, mut desc, finishing } = self.plan(Statement::Query(Box::new(query)), params)? else {
            return Err(SqlError::unsupported("CREATE TABLE ... AS with this query"));
        };
        if ct.columns.len() > desc.arity() {
            return Err(SqlError::new(codes::SYNTAX_ERROR, "CREATE TABLE AS specifies too many column names"));
        }
        for (i, c) in ct.columns.iter().enumerate() {
            desc.names[i] = crate::names::ident_name(&c.name);
        }
        distinct_column_names(&desc)?;
        for t in &mut desc.types {
            t.nullable = true;
        }
        let columns: Vec<String> = desc.names.iter().zip(&desc.types).map(|(n, t)| format!("{} {}", crate::psql::quote_ident(n), crate::psql::format_type(t.scalar))).collect();
        let create_sql = format!("CREATE TABLE {}{} ({})", if ct.if_not_exists { "IF NOT EXISTS " } else { "" }, ct.name, columns.join(", "));
        Ok(StatementPlan::CreateTableAs { name: object_name(&ct.name), if_not_exists: ct.if_not_exists, create_sql, desc, plan, finishing })
    }

    /// Plans and optimizes a query, binding parameters.
    pub fn logical_with_params(&self, stmt: Statement, params: &[Datum]) -> Result<LogicalPlan, SqlError> {
        let logical = self.bind_params(to_logical(&self.context(), stmt)?, params)?;
        optimize(logical)
    }

    pub(crate) fn bind_params(&self, mut logical: LogicalPlan, params: &[Datum]) -> Result<LogicalPlan, SqlError> {
        if !params.is_empty() {
            let types = logical.get_parameter_types().map_err(crate::plan::df::translate)?;
            let mut values = Vec::new();
            for (i, d) in params.iter().enumerate() {
                let want = types.get(&format!("${}", i + 1)).cloned().flatten();
                values.push(datum_to_scalar(d, want.as_ref())?);
            }
            logical = logical.with_param_values(values).map_err(crate::plan::df::translate)?;
        }
        Ok(logical)
    }

    /// The parameter types and result columns of a statement.
    pub fn describe(&self, mut stmt: Statement, declared: &[Option<ScalarType>]) -> Result<(Vec<eddy_engine::ScalarType>, Option<RelationDesc>), SqlError> {
        crate::params::typed_placeholders(&mut stmt, declared);
        let cast = crate::params::cast_types(&stmt);
        let query = match &stmt {
            // Planned by eddy itself (DataFusion refuses it nested).
            Statement::Query(q) if crate::setops::needs_rewrite(q) => return Ok((Vec::new(), Some(self.plan_all_setop(q, false)?.1))),
            Statement::Query(q) => Some(q.clone()),
            _ => None,
        };
        self.assignment_defaults(&mut stmt);
        if let Statement::Insert(insert) = &mut stmt {
            self.complete_insert(insert)?;
            crate::dml::nested_values_as_selects(insert);
        }
        self.dml_joins(&mut stmt);
        // RETURNING describes the rows; neither it nor ON CONFLICT plans
        // in DataFusion.
        let clauses = match &stmt {
            Statement::Insert(_) | Statement::Update(_) | Statement::Delete(_) => Some(self.dml_clauses(&mut stmt, None)?),
            _ => None,
        };
        let returning = clauses.as_ref().and_then(|c| c.returning.as_ref()).map(|r| r.desc.clone());
        let logical = to_logical(&self.context(), stmt)?;
        let types = logical.get_parameter_types().map_err(crate::plan::df::translate)?;
        let mut params = Vec::new();
        for i in 1..=types.len() {
            let t = types.get(&format!("${}", i)).cloned().flatten();
            let declared = declared.get(i - 1).copied().flatten().filter(|t| crate::params::exact_type(*t));
            params.push(match declared {
                Some(t) => t,
                None => match t.map(|t| crate::types::scalar_type_of_arrow(&t)).transpose()? {
                    Some(t) => t,
                    None => cast.get(&i).copied().unwrap_or(eddy_engine::ScalarType::Text),
                },
            });
        }
        // Parameters only RETURNING or ON CONFLICT take come after those.
        if let Some(c) = &clauses {
            let last = c.params.keys().max().copied().unwrap_or(0);
            for i in params.len() + 1..=last {
                let declared = declared.get(i - 1).copied().flatten().filter(|t| crate::params::exact_type(*t));
                params.push(declared.or_else(|| c.params.get(&i).copied()).unwrap_or(eddy_engine::ScalarType::Text));
            }
        }
        let desc = match query {
            Some(q) => {
                // The types once unified (the plan as parsed types a CASE
                // by its first branch); a plan whose parameters are not yet
                // typed may not analyze.
                let analyzed = crate::plan::df::analyze(logical.clone()).unwrap_or(logical);
                let mut desc = desc_of_schema(analyzed.schema())?;
                crate::names::postgres_names(&q, &mut desc.names);
                Some(desc)
            }
            None => returning,
        };
        Ok((params, desc))
    }

    fn select(&self, logical: &LogicalPlan) -> Result<StatementPlan, SqlError> {
        let desc = desc_of_schema(logical.schema())?;
        let none = HashMap::new();
        let mut finishing = Finishing::default();
        let mut node = logical;
        // Peel ORDER BY / LIMIT (and a projection above them) off the top:
        // they order and page the result rather than define it.
        if let LogicalPlan::Projection(p) = node {
            if matches!(p.input.as_ref(), LogicalPlan::Sort(_) | LogicalPlan::Limit(_)) {
                let l = ExprLowerer { schema: p.input.schema(), subqueries: &none, maintained: false };
                finishing.project = Some(p.expr.iter().map(|e| l.lower(e)).collect::<Result<_, _>>()?);
                node = &p.input;
            }
        }
        if let LogicalPlan::Limit(limit) = node {
            let (offset, fetch) = limit_bounds(limit)?;
            finishing.offset = offset;
            finishing.limit = fetch;
            node = &limit.input;
        }
        if let LogicalPlan::Sort(s) = node {
            let l = ExprLowerer { schema: s.input.schema(), subqueries: &none, maintained: false };
            finishing.order_by = s.expr.iter().map(|k| l.sort_key(k)).collect::<Result<_, _>>()?;
            if let Some(f) = s.fetch {
                finishing.limit = Some(finishing.limit.map_or(f, |l| l.min(f.saturating_sub(finishing.offset))));
            }
            node = &s.input;
        }
        let lowerer = Lowerer { catalog: self.catalog, maintained: false };
        let plan = match node {
            // DataFusion keeps a DISTINCT ON query's ORDER BY inside the node.
            LogicalPlan::Distinct(datafusion_expr::logical_plan::Distinct::On(on)) if on.sort_expr.is_some() && finishing.order_by.is_empty() => {
                let (plan, order_by) = lowerer.distinct_on_sorted(on)?;
                finishing.order_by = order_by;
                if finishing.project.is_none() {
                    finishing.project = Some((0..on.select_expr.len()).map(ScalarExpr::Column).collect());
                }
                plan
            }
            node => lowerer.lower(node)?,
        };
        Ok(StatementPlan::Select { plan, desc, finishing })
    }

    fn dml(&self, dml: DmlStatement, clauses: DmlClauses) -> Result<StatementPlan, SqlError> {
        let item = self.catalog.resolve_or_err(dml.table_name.table())?;
        if item.kind != ItemKind::Table {
            return Err(SqlError::new(codes::WRONG_OBJECT_TYPE, format!("cannot change {} \"{}\": it is a {}", "rows of", item.name, item.kind.name())).with_hint("only tables accept INSERT, UPDATE and DELETE"));
        }
        let lowerer = Lowerer { catalog: self.catalog, maintained: false };
        let table = item.id;
        // `dml.input` is not optimized yet: optimizing the UPDATE input alone
        // would prune the columns it overwrites from the old rows.
        Ok(match dml.op {
            WriteOp::Insert(_) => StatementPlan::Insert { table, rows: lowerer.lower(&optimize(dml.input.as_ref().clone())?)?, clauses },
            WriteOp::Delete => StatementPlan::Delete { table, rows: lowerer.lower(&optimize(dml.input.as_ref().clone())?)?, clauses },
            WriteOp::Update => {
                // The input computes the new rows from the old ones (a
                // projection over the filtered table); keep both halves.
                let LogicalPlan::Projection(p) = dml.input.as_ref() else { return Err(SqlError::internal("UPDATE input is not a projection")) };
                let old_cols = p.input.schema().columns().into_iter().map(datafusion_expr::Expr::Column);
                let both: Vec<datafusion_expr::Expr> = old_cols.chain(p.expr.iter().enumerate().map(|(i, e)| e.clone().alias(format!("__new_{}", i)))).collect();
                let plan = datafusion_expr::LogicalPlanBuilder::from(p.input.as_ref().clone()).project(both).and_then(|b| b.build()).map_err(crate::plan::df::translate)?;
                if p.input.schema().fields().len() != item.desc.arity() {
                    return Err(SqlError::internal("UPDATE input does not have the table's columns"));
                }
                StatementPlan::Update { table, rows: lowerer.lower(&optimize(plan)?)?, clauses }
            }
            _ => return Err(SqlError::unsupported("this DML statement")),
        })
    }
}

/// Refuses a name created in a schema other than `public` (eddy has one
/// schema for what users create), rather than create it in `public`.
fn check_schema(n: &sqlparser::ast::ObjectName) -> Result<(), SqlError> {
    if n.0.len() < 2 {
        return Ok(());
    }
    let schema = match &n.0[n.0.len() - 2] {
        sqlparser::ast::ObjectNamePart::Identifier(i) => crate::names::ident_name(i),
        other => other.to_string(),
    };
    if schema == "public" && n.0.len() == 2 {
        return Ok(());
    }
    Err(SqlError::new("3F000", format!("schema \"{}\" does not exist", schema)).with_hint("eddy has one schema, public: create the object without a schema name"))
}

pub(crate) fn object_name(n: &sqlparser::ast::ObjectName) -> String {
    match n.0.last() {
        Some(sqlparser::ast::ObjectNamePart::Identifier(i)) => crate::names::ident_name(i),
        Some(other) => other.to_string().to_lowercase(),
        None => String::new(),
    }
}

/// A bound parameter as a DataFusion literal of the type it was inferred as.
fn datum_to_scalar(d: &Datum, want: Option<&arrow_schema::DataType>) -> Result<ScalarValue, SqlError> {
    use arrow_schema::{DataType, TimeUnit};
    let v = match d {
        Datum::Null => ScalarValue::Null,
        Datum::Bool(b) => ScalarValue::Boolean(Some(*b)),
        Datum::Int(i) => ScalarValue::Int64(Some(*i)),
        Datum::Float(f) => ScalarValue::Float64(Some(f.0)),
        Datum::Numeric(n) => ScalarValue::Decimal128(Some(n.mantissa()), 38, n.scale() as i8),
        Datum::Text(s) | Datum::Jsonb(s) => ScalarValue::Utf8(Some(s.to_string())),
        Datum::Date(d) => ScalarValue::Date32(Some(*d)),
        Datum::Timestamp(t) => ScalarValue::TimestampMicrosecond(Some(*t), None),
        Datum::TimestampTz(t) => ScalarValue::TimestampMicrosecond(Some(*t), Some("+00:00".into())),
        Datum::Interval(iv) => ScalarValue::IntervalMonthDayNano(Some(datafusion_common::arrow::datatypes::IntervalMonthDayNano::new(iv.months, iv.days, iv.micros * 1000))),
        Datum::Array(items) => {
            let elem = match want {
                Some(DataType::List(f)) => f.data_type().clone(),
                _ => DataType::Utf8,
            };
            let values = items.iter().map(|i| datum_to_scalar(i, Some(&elem))).collect::<Result<Vec<_>, _>>()?;
            ScalarValue::List(ScalarValue::new_list_nullable(&values, &elem))
        }
    };
    let _ = TimeUnit::Microsecond;
    match want {
        Some(dt) if *dt != v.data_type() && !matches!(dt, DataType::Null) => v.cast_to(dt).map_err(|e| SqlError::new(codes::DATATYPE_MISMATCH, format!("parameter does not fit type {}: {}", dt, e))),
        _ => Ok(v),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn alter_of_a_view_says_it_is_not_supported() {
        for sql in ["ALTER MATERIALIZED VIEW v RENAME TO w", "alter view v rename to w"] {
            let e = super::parse(sql).unwrap_err();
            assert_eq!((e.code, e.hint.is_some()), ("0A000", true), "{}", sql);
        }
        // Other syntax errors keep the parser's words and position.
        assert_eq!(super::parse("SELEC 1").unwrap_err().code, "42601");
    }
}
