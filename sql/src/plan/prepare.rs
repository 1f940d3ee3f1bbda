//! Passes over the plan DataFusion's `SqlToRel` builds, before its analyzer
//! adds implicit casts:
//!
//! - [`check_types`]: PostgreSQL refuses to unify values of different type
//!   categories (42804): `SELECT 1 UNION SELECT 'a'::text`, CASE or
//!   COALESCE branches of integer and text, a boolean inserted into an
//!   integer column. DataFusion would cast them to a common type instead.
//!   A bare string literal has PostgreSQL's type `unknown` and fits any
//!   category, as does NULL.
//! - [`mark_explicit_casts`]: a cast the user wrote to `numeric(p, s)`
//!   rounds to scale `s`; the casts DataFusion's analyzer adds to unify
//!   types (`coalesce(numeric_col, 0)`, `int UNION numeric`) must not, since
//!   PostgreSQL's implicit integer-to-numeric conversion keeps scale 0
//!   (`coalesce(NULL::numeric(8,2), 0)` is `0`, not `0.00`). Explicit
//!   numeric casts are therefore carried as `TryCast` (which SQL cannot
//!   express in PostgreSQL's dialect); the lowering rescales only those.
//! - [`relations_named`]: the catalog relations a statement names, plain
//!   views included (what a view depends on for DROP).

use crate::types::scalar_type_of_arrow;
use crate::{codes, SqlError};
use arrow_schema::DataType;
use datafusion_common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion_common::{DFSchema, ScalarValue};
use datafusion_expr::expr::{Case, TryCast};
use datafusion_expr::logical_plan::{DmlStatement, WriteOp};
use datafusion_expr::{Expr, ExprSchemable, LogicalPlan};

/// PostgreSQL's type categories, as far as unifying types goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Category {
    Bool,
    Numeric,
    String,
    DateTime,
    Timespan,
    Other,
}

fn category(dt: &DataType) -> Option<Category> {
    use DataType as D;
    Some(match dt {
        D::Null => return None,
        D::Boolean => Category::Bool,
        D::Int8 | D::Int16 | D::Int32 | D::Int64 | D::UInt8 | D::UInt16 | D::UInt32 | D::UInt64 | D::Float16 | D::Float32 | D::Float64 => Category::Numeric,
        D::Decimal32(..) | D::Decimal64(..) | D::Decimal128(..) | D::Decimal256(..) => Category::Numeric,
        D::Utf8 | D::Utf8View | D::LargeUtf8 => Category::String,
        D::Date32 | D::Date64 | D::Timestamp(..) => Category::DateTime,
        D::Interval(_) | D::Duration(_) => Category::Timespan,
        _ => Category::Other,
    })
}

/// An untyped literal: a string constant (PostgreSQL's `unknown`) or NULL.
fn is_unknown(e: &Expr) -> bool {
    match e {
        Expr::Alias(a) => is_unknown(&a.expr),
        Expr::Literal(ScalarValue::Utf8(_) | ScalarValue::Utf8View(_) | ScalarValue::LargeUtf8(_) | ScalarValue::Null, _) => true,
        _ => false,
    }
}

fn type_name(dt: &DataType) -> String {
    scalar_type_of_arrow(dt).map(|t| t.to_string()).unwrap_or_else(|_| dt.to_string())
}

fn mismatch(what: &str, a: &DataType, b: &DataType) -> SqlError {
    SqlError::new(codes::DATATYPE_MISMATCH, format!("{} types {} and {} cannot be matched", what, type_name(a), type_name(b)))
}

/// The types of `exprs` (over `schema`) must share a category.
fn check_exprs<'a>(what: &str, exprs: impl Iterator<Item = &'a Expr>, schema: &DFSchema) -> Result<(), SqlError> {
    let mut first: Option<(Category, DataType)> = None;
    for e in exprs {
        if is_unknown(e) {
            continue;
        }
        let Ok(dt) = e.get_type(schema) else { continue };
        let Some(c) = category(&dt) else { continue };
        match &first {
            None => first = Some((c, dt)),
            Some((fc, fdt)) if *fc != c || (c == Category::Other && *fdt != dt) => return Err(mismatch(what, fdt, &dt)),
            Some(_) => {}
        }
    }
    Ok(())
}

/// Per output column of a set operation's input: its type, unless every
/// value in it is an untyped literal.
fn setop_types(plan: &LogicalPlan) -> Result<Vec<Option<DataType>>, SqlError> {
    Ok(match plan {
        LogicalPlan::Projection(p) => p.expr.iter().zip(p.schema.fields()).map(|(e, f)| if is_unknown(e) { None } else { Some(f.data_type().clone()) }).collect(),
        LogicalPlan::Union(u) => {
            let mut cols: Option<Vec<Option<DataType>>> = None;
            for input in &u.inputs {
                let types = setop_types(input)?;
                match &mut cols {
                    None => cols = Some(types),
                    Some(cols) => {
                        for (slot, t) in cols.iter_mut().zip(types) {
                            match (slot.as_ref(), t) {
                                (None, t) => *slot = t,
                                (Some(a), Some(b)) => {
                                    let (ca, cb) = (category(a), category(&b));
                                    if ca.is_some() && cb.is_some() && (ca != cb || (ca == Some(Category::Other) && *a != b)) {
                                        return Err(mismatch("UNION", a, &b));
                                    }
                                    if ca.is_none() {
                                        *slot = Some(b);
                                    }
                                }
                                (Some(_), None) => {}
                            }
                        }
                    }
                }
            }
            cols.unwrap_or_default()
        }
        LogicalPlan::Distinct(_) | LogicalPlan::Sort(_) | LogicalPlan::Limit(_) | LogicalPlan::SubqueryAlias(_) => match plan.inputs().first() {
            Some(i) => setop_types(i)?,
            None => vec![],
        },
        other => other.schema().fields().iter().map(|f| Some(f.data_type().clone())).collect(),
    })
}

/// Refuses the type mixtures PostgreSQL refuses (see the module docs).
pub fn check_types(plan: &LogicalPlan) -> Result<(), SqlError> {
    let mut err = None;
    let _ = plan.apply_with_subqueries(|node| {
        let result = check_node(node);
        if let Err(e) = result {
            err = Some(e);
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    });
    err.map_or(Ok(()), Err)
}

fn check_node(node: &LogicalPlan) -> Result<(), SqlError> {
    if let LogicalPlan::Union(_) = node {
        setop_types(node)?;
    }
    if let LogicalPlan::Dml(DmlStatement { op: WriteOp::Insert(_), input, .. }) = node {
        check_insert(input)?;
    }
    let mut schema = DFSchema::empty();
    for i in node.inputs() {
        schema.merge(i.schema());
    }
    let mut err = None;
    node.apply_expressions(|e| {
        e.apply(|x| {
            let r = match x {
                Expr::Case(Case { when_then_expr, else_expr, .. }) => check_exprs("CASE", when_then_expr.iter().map(|(_, t)| t.as_ref()).chain(else_expr.as_deref()), &schema),
                Expr::ScalarFunction(f) if f.func.name() == "coalesce" => check_exprs("COALESCE", f.args.iter(), &schema),
                Expr::IsTrue(a) => boolean_argument("IS TRUE", a, &schema),
                Expr::IsFalse(a) => boolean_argument("IS FALSE", a, &schema),
                Expr::IsUnknown(a) => boolean_argument("IS UNKNOWN", a, &schema),
                Expr::IsNotTrue(a) => boolean_argument("IS NOT TRUE", a, &schema),
                Expr::IsNotFalse(a) => boolean_argument("IS NOT FALSE", a, &schema),
                Expr::IsNotUnknown(a) => boolean_argument("IS NOT UNKNOWN", a, &schema),
                _ => Ok(()),
            };
            if let Err(e) = r {
                err = Some(e);
                return Ok(TreeNodeRecursion::Stop);
            }
            Ok(TreeNodeRecursion::Continue)
        })
    })
    .map_err(|e| SqlError::internal(e.to_string()))?;
    err.map_or(Ok(()), Err)
}

/// `x IS [NOT] TRUE` and the like take a boolean (or a quoted literal,
/// which PostgreSQL reads as one): 42804 otherwise, as PostgreSQL says it.
fn boolean_argument(test: &str, arg: &Expr, schema: &DFSchema) -> Result<(), SqlError> {
    let Ok(t) = arg.get_type(schema) else { return Ok(()) };
    if matches!(t, DataType::Boolean | DataType::Null) || matches!(arg, Expr::Literal(..)) && t == DataType::Utf8 {
        return Ok(());
    }
    let ty = match arg.to_field(schema) {
        Ok((_, f)) => crate::types::column_type_of_field(&f).map(|c| c.scalar),
        Err(_) => scalar_type_of_arrow(&t),
    };
    // PostgreSQL names the type without its modifier; an integer literal
    // that fits is integer.
    let name = match (arg, ty) {
        (Expr::Literal(ScalarValue::Int64(Some(v)), _), _) if i32::try_from(*v).is_ok() => "integer".to_string(),
        (_, Ok(eddy_engine::ScalarType::Numeric { .. })) => "numeric".to_string(),
        (_, Ok(ty)) => crate::psql::format_type(ty),
        (_, Err(_)) => t.to_string(),
    };
    Err(SqlError::new(codes::DATATYPE_MISMATCH, format!("argument of {} must be type boolean, not type {}", test, name)))
}

/// Each VALUES row of an INSERT must fit its column's type category.
fn check_insert(input: &LogicalPlan) -> Result<(), SqlError> {
    let (names, values) = match input {
        LogicalPlan::Projection(p) => match p.input.as_ref() {
            LogicalPlan::Values(v) => {
                // Which table column each VALUES column lands in.
                let mut names: Vec<Option<String>> = vec![None; v.schema.fields().len()];
                for (e, f) in p.expr.iter().zip(p.schema.fields()) {
                    let mut cols = e.column_refs().into_iter();
                    if let (Some(c), None) = (cols.next(), cols.next()) {
                        if let Ok(i) = v.schema.index_of_column(c) {
                            names[i] = Some(f.name().clone());
                        }
                    }
                }
                (names, v)
            }
            _ => return Ok(()),
        },
        _ => return Ok(()),
    };
    let empty = DFSchema::empty();
    for row in &values.values {
        for (i, e) in row.iter().enumerate() {
            // SqlToRel casts each value to its column's type already.
            let e = match e {
                Expr::Cast(c) => c.expr.as_ref(),
                e => e,
            };
            if is_unknown(e) {
                continue;
            }
            let target = values.schema.field(i).data_type();
            let Ok(dt) = e.get_type(&empty) else { continue };
            let (Some(want), Some(have)) = (category(target), category(&dt)) else { continue };
            if want != have && want != Category::String {
                let name = names[i].clone().unwrap_or_else(|| values.schema.field(i).name().clone());
                return Err(SqlError::new(codes::DATATYPE_MISMATCH, format!("column \"{}\" is of type {} but expression is of type {}", name, type_name(target), type_name(&dt)))
                    .with_hint("You will need to rewrite or cast the expression."));
            }
        }
    }
    Ok(())
}

/// Carries casts to numeric written in the SQL as `TryCast` (see the
/// module docs).
pub fn mark_explicit_casts(plan: LogicalPlan) -> Result<LogicalPlan, SqlError> {
    plan.transform_up_with_subqueries(|node| {
        node.map_expressions(|e| {
            e.transform_up(|x| match x {
                Expr::Cast(c) if matches!(c.field.data_type(), DataType::Decimal128(..) | DataType::Decimal256(..)) => Ok(Transformed::yes(Expr::TryCast(TryCast::new_from_field(c.expr, c.field)))),
                other => Ok(Transformed::no(other)),
            })
        })
    })
    .map(|t| t.data)
    .map_err(crate::plan::df::translate)
}


/// The catalog relations a statement names, with those inside subqueries:
/// the tables and materialized views it scans, and the plain views it
/// reads (DataFusion inlines a view as an alias over a copy of the view's
/// plan, so that is what identifies one). This is what a view depends on.
pub fn relations_named(plan: &LogicalPlan, catalog: &crate::catalog::Catalog, views: &std::collections::HashMap<eddy_engine::GlobalId, LogicalPlan>) -> Vec<eddy_engine::GlobalId> {
    let mut out = Vec::new();
    let _ = plan.apply_with_subqueries(|node| {
        let found = match node {
            LogicalPlan::TableScan(scan) => catalog.resolve(&crate::catalog::Catalog::reference_name(scan.table_name.schema(), scan.table_name.table())).map(|i| i.id),
            LogicalPlan::SubqueryAlias(a) => catalog.resolve(a.alias.table()).filter(|i| i.kind == crate::catalog::ItemKind::View).map(|i| i.id).filter(|id| {
                let inlined = match a.input.as_ref() {
                    LogicalPlan::Projection(p) => [a.input.as_ref(), p.input.as_ref()],
                    other => [other, other],
                };
                views.get(id).is_some_and(|v| inlined.contains(&v))
            }),
            _ => None,
        };
        if let Some(id) = found {
            if !out.contains(&id) {
                out.push(id);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::catalog::{Catalog, CatalogItem, ItemKind};
    use crate::statement::{parse, Planner, StatementPlan};
    use crate::SqlError;
    use std::collections::HashMap;

    /// `emp (id int, name text, dept int, salary numeric(8,2))` and
    /// `dept (id int, code varchar(3))`.
    fn catalog() -> Catalog {
        let mut c = Catalog::default();
        for sql in ["CREATE TABLE emp (id int, name text, dept int, salary numeric(8,2))", "CREATE TABLE dept (id int, code varchar(3))"] {
            let views = HashMap::new();
            let Ok(StatementPlan::CreateTable { name, desc, .. }) = (Planner { catalog: &c, views: &views }).plan(parse(sql).unwrap().remove(0), &[]) else { panic!("{}", sql) };
            let id = c.allocate_id();
            c.insert(CatalogItem { id, name, kind: ItemKind::Table, desc, create_sql: sql.to_string(), plan: None, depends_on: vec![] });
        }
        c
    }

    /// Plans one statement against [`catalog`].
    pub fn plan(sql: &str) -> Result<StatementPlan, SqlError> {
        let c = catalog();
        let views = HashMap::new();
        Planner { catalog: &c, views: &views }.plan(parse(sql)?.remove(0), &[])
    }

    /// The engine plan of a SELECT, as EXPLAIN prints it.
    pub fn explain(sql: &str) -> String {
        match plan(sql) {
            Ok(StatementPlan::Select { plan, .. }) => plan.to_string(),
            other => panic!("{}: {:?}", sql, other.err()),
        }
    }

    fn code(sql: &str) -> &'static str {
        plan(sql).err().map(|e| e.code).unwrap_or("ok")
    }

    #[test]
    fn type_mixtures_postgres_refuses() {
        assert_eq!(code("SELECT 1 UNION SELECT 'a'::text"), "42804");
        assert_eq!(code("SELECT id FROM emp UNION ALL SELECT name FROM emp"), "42804");
        assert_eq!(code("SELECT CASE WHEN id > 1 THEN 1 ELSE name END FROM emp"), "42804");
        assert_eq!(code("SELECT coalesce(id, name) FROM emp"), "42804");
        assert_eq!(code("INSERT INTO emp (id) VALUES (true)"), "42804");
        // Untyped literals and numeric mixtures unify.
        assert_eq!(code("SELECT 1 UNION SELECT '2'"), "ok");
        assert_eq!(code("SELECT id FROM emp UNION SELECT salary FROM emp UNION SELECT NULL"), "ok");
        assert_eq!(code("SELECT CASE WHEN id > 1 THEN salary ELSE 0 END FROM emp"), "ok");
        assert_eq!(code("INSERT INTO emp (name, salary) VALUES (1, '2.5')"), "ok");
    }

    #[test]
    fn explicit_and_implicit_numeric_casts() {
        // The cast DataFusion adds to unify keeps scale; the written one rounds.
        let p = explain("SELECT coalesce(salary, 0), id::numeric(10,2) FROM emp");
        assert!(p.contains("Cast(Numeric { precision: None, scale: None })(0)"), "{}", p);
        assert!(p.contains("Cast(Numeric { precision: Some(10), scale: Some(2) })(#0)"), "{}", p);
    }

    #[test]
    fn integer_literals_in_integer_arithmetic_are_integers() {
        let p = explain("SELECT id + 1, 2147483647 + 1 FROM emp");
        assert!(p.contains("Add(Int32)"), "{}", p);
        assert!(!p.contains("Add(Int64)"), "{}", p);
        // A bigint operand keeps bigint arithmetic.
        assert!(explain("SELECT id::bigint + 1 FROM emp").contains("Add(Int64)"));
    }
}
