//! Result types as PostgreSQL gives them, where DataFusion's differ: a pass
//! over the plan `SqlToRel` builds, before DataFusion's analyzer unifies
//! types.
//!
//! ## Integer literals
//!
//! DataFusion makes every integer literal a `bigint`; PostgreSQL makes one
//! that fits an `integer` an `integer`. The difference shows in result
//! types (a driver decodes `SELECT 1` by it), in overflow (`2147483647 + 1`
//! is 22003 in PostgreSQL) and in what aggregates return (`sum` of a
//! `CASE WHEN .. THEN 1 ELSE 0 END` is `bigint`, of a `bigint` `numeric`).
//!
//! A literal that fits is retyped (by a cast, which keeps the name parent
//! nodes know it by) where its type decides a result's:
//! - an operand of `+ - * / %` whose other side is an integer of at most
//!   32 bits (or such a literal);
//! - a result of CASE, or an argument of coalesce, nullif, greatest,
//!   least, mod or abs, when all results or arguments are such integers or
//!   NULL;
//! - the argument of `sum`;
//! - a column of the select list that is the literal itself;
//! - a column of VALUES whose rows are all such literals or NULL.
//!
//! Elsewhere (comparisons, LIMIT, function arguments) the literal stays a
//! `bigint`: the result's type does not depend on it.
//!
//! An integer literal beyond `bigint` is numeric, as in PostgreSQL
//! (DataFusion makes one up to 2^64 an unsigned bigint).
//!
//! A UNION's column takes its type from its inputs once they are retyped
//! (DataFusion fixed it before: `SELECT 0 UNION ALL SELECT 2` is integer).
//!
//! ## Marked text through CASE and coalesce
//!
//! jsonb and uuid travel as text marked by field metadata (see
//! `crate::types`). DataFusion builds the result field of CASE, coalesce,
//! nullif, greatest and least without it, so a select-list column such as
//! `coalesce(data, '{}')` was typed text where PostgreSQL says jsonb. A
//! select-list column whose values all carry one mark (NULL and untyped
//! string literals aside) gets it back through its alias.
//!
//! ## Rounding integers
//!
//! `round(int, n)` and `trunc(int, n)` are numeric in PostgreSQL (only the
//! numeric versions take a scale); DataFusion keeps the integer, or makes
//! it a double. The integer argument is cast to numeric; without a scale,
//! to a double (PostgreSQL picks `round(double precision)` for
//! `round(int)`).

use crate::types::{TYPE_METADATA_KEY, UNCONSTRAINED_NUMERIC};
use crate::SqlError;
use arrow_schema::{DataType, Field};
use datafusion_common::tree_node::{Transformed, TreeNode};
use datafusion_common::metadata::FieldMetadata;
use datafusion_common::{DFSchema, ScalarValue};
use datafusion_expr::expr::{Alias, Case, Cast};
use datafusion_expr::logical_plan::{Projection, Union, Values};
use datafusion_expr::{BinaryExpr, Expr, ExprSchemable, LogicalPlan, Operator};
use std::sync::Arc;

fn small_literal(e: &Expr) -> bool {
    matches!(e, Expr::Literal(ScalarValue::Int64(Some(v)), _) if i32::try_from(*v).is_ok())
}

fn null_literal(e: &Expr) -> bool {
    matches!(e, Expr::Literal(v, _) if v.is_null())
}

fn narrow(e: &Expr, schema: &DFSchema) -> bool {
    small_literal(e) || e.get_type(schema).is_ok_and(|t| matches!(t, DataType::Int32 | DataType::Int16 | DataType::Int8))
}

fn to_int(e: Expr) -> Expr {
    if small_literal(&e) {
        Expr::Cast(Cast::new(Box::new(e), DataType::Int32))
    } else {
        e
    }
}

/// Whether values unified into one type are all narrow integers or NULL,
/// with at least one literal to retype.
fn all_narrow<'a>(mut values: impl Iterator<Item = &'a Expr> + Clone, schema: &DFSchema) -> bool {
    values.clone().any(small_literal) && values.all(|e| narrow(e, schema) || null_literal(e))
}

/// Retypes one expression node (children are done first).
fn retype(x: Expr, schema: &DFSchema) -> Transformed<Expr> {
    match x {
        Expr::BinaryExpr(BinaryExpr { left, op: op @ (Operator::Plus | Operator::Minus | Operator::Multiply | Operator::Divide | Operator::Modulo), right }) => {
            let side = |side: Box<Expr>, other: &Expr| if small_literal(&side) && narrow(other, schema) { (Box::new(to_int(*side)), true) } else { (side, false) };
            let (l, lt) = side(left, &right);
            let (r, rt) = side(right, &l);
            Transformed::new_transformed(Expr::BinaryExpr(BinaryExpr { left: l, op, right: r }), lt || rt)
        }
        Expr::Case(c) if all_narrow(c.when_then_expr.iter().map(|(_, t)| t.as_ref()).chain(c.else_expr.as_deref()), schema) => {
            let Case { expr, when_then_expr, else_expr } = c;
            let when_then_expr = when_then_expr.into_iter().map(|(w, t)| (w, Box::new(to_int(*t)))).collect();
            Transformed::yes(Expr::Case(Case { expr, when_then_expr, else_expr: else_expr.map(|e| Box::new(to_int(*e))) }))
        }
        Expr::ScalarFunction(mut f) if matches!(f.func.name(), "coalesce" | "nullif" | "greatest" | "least" | "mod" | "abs") && all_narrow(f.args.iter(), schema) => {
            f.args = f.args.into_iter().map(to_int).collect();
            Transformed::yes(Expr::ScalarFunction(f))
        }
        Expr::ScalarFunction(mut f) if matches!(f.func.name(), "round" | "trunc") && f.args.first().is_some_and(|a| a.get_type(schema).is_ok_and(|t| t.is_integer())) => {
            let arg = f.args.remove(0);
            let to = if f.args.is_empty() { DataType::Float64 } else { DataType::Decimal128(UNCONSTRAINED_NUMERIC.0, UNCONSTRAINED_NUMERIC.1) };
            f.args.insert(0, Expr::Cast(Cast::new(Box::new(arg), to)));
            Transformed::yes(Expr::ScalarFunction(f))
        }
        Expr::AggregateFunction(mut a) if a.func.name() == "sum" && a.params.args.first().is_some_and(small_literal) => {
            a.params.args = a.params.args.into_iter().map(to_int).collect();
            Transformed::yes(Expr::AggregateFunction(a))
        }
        // DataFusion reads 9223372036854775808 as an unsigned bigint, which
        // eddy has not; PostgreSQL makes it numeric.
        Expr::Literal(ScalarValue::UInt64(Some(v)), m) if i64::try_from(v).is_err() => Transformed::yes(Expr::Literal(ScalarValue::Decimal128(Some(v as i128), 38, 0), m)),
        other => Transformed::no(other),
    }
}

/// `SELECT 1`: a select-list column that is a literal.
fn retype_projection(p: Projection) -> datafusion_common::Result<Transformed<LogicalPlan>> {
    if !p.expr.iter().any(|e| small_literal(e) || matches!(e, Expr::Alias(a) if small_literal(&a.expr))) {
        return Ok(Transformed::no(LogicalPlan::Projection(p)));
    }
    let exprs = p
        .expr
        .into_iter()
        .map(|e| match e {
            Expr::Alias(Alias { expr, relation, name, metadata }) => Expr::Alias(Alias { expr: Box::new(to_int(*expr)), relation, name, metadata }),
            e => to_int(e),
        })
        .collect();
    Ok(Transformed::yes(LogicalPlan::Projection(Projection::try_new(exprs, p.input)?)))
}

/// The type mark (`jsonb`, `uuid`) of a text value, seen through CASE and
/// the coalesce-like functions.
pub(super) fn mark_of(e: &Expr, schema: &DFSchema) -> Option<String> {
    match e {
        Expr::Alias(a) => mark_of(&a.expr, schema),
        Expr::Case(c) => same_mark(c.when_then_expr.iter().map(|(_, t)| t.as_ref()).chain(c.else_expr.as_deref()), schema),
        Expr::ScalarFunction(f) if matches!(f.func.name(), "coalesce" | "greatest" | "least") => same_mark(f.args.iter(), schema),
        Expr::ScalarFunction(f) if f.func.name() == "nullif" => f.args.first().and_then(|a| mark_of(a, schema)),
        e => e.to_field(schema).ok().and_then(|(_, f)| f.metadata().get(TYPE_METADATA_KEY).cloned()),
    }
}

/// The one mark of values unified into one type: NULL and untyped string
/// literals take any; a value without a mark, or two marks, give none.
fn same_mark<'a>(values: impl Iterator<Item = &'a Expr>, schema: &DFSchema) -> Option<String> {
    let mut mark: Option<String> = None;
    fn untyped(v: &Expr) -> bool {
        match v {
            Expr::Cast(c) => null_literal(&c.expr),
            v => null_literal(v) || matches!(v, Expr::Literal(ScalarValue::Utf8(_), _)),
        }
    }
    for v in values.filter(|v| !untyped(v)) {
        let m = mark_of(v, schema)?;
        if *mark.get_or_insert_with(|| m.clone()) != m {
            return None;
        }
    }
    mark
}

/// Select-list columns of text whose values carry a mark DataFusion lost
/// (see the module documentation) get it back through their alias.
fn mark_projection(p: Projection) -> datafusion_common::Result<Transformed<LogicalPlan>> {
    let lost = |e: &Expr| -> Option<String> {
        let (_, f) = e.to_field(p.input.schema()).ok()?;
        (f.data_type() == &DataType::Utf8 && !f.metadata().contains_key(TYPE_METADATA_KEY)).then(|| mark_of(e, p.input.schema())).flatten()
    };
    let marks: Vec<Option<String>> = p.expr.iter().map(lost).collect();
    if marks.iter().all(Option::is_none) {
        return Ok(Transformed::no(LogicalPlan::Projection(p)));
    }
    let exprs = p
        .expr
        .iter()
        .zip(marks)
        .map(|(e, mark)| match mark {
            None => e.clone(),
            Some(mark) => {
                let metadata = Some(FieldMetadata::from(std::collections::HashMap::from([(TYPE_METADATA_KEY.to_string(), mark)])));
                match e {
                    Expr::Alias(a) => Expr::Alias(a.clone().with_metadata(metadata)),
                    e => e.clone().alias_with_metadata(e.schema_name().to_string(), metadata),
                }
            }
        })
        .collect();
    Ok(Transformed::yes(LogicalPlan::Projection(Projection::try_new(exprs, p.input)?)))
}

/// Gives back the marks DataFusion's optimizer lost: common subexpression
/// elimination moves `coalesce(j, NULL)` into a projection below, whose
/// field it builds without the mark.
pub fn restore_marks(plan: LogicalPlan) -> Result<LogicalPlan, SqlError> {
    plan.transform_up_with_subqueries(|node| {
        node.recompute_schema().map(Transformed::yes)?.transform_data(|n| match n {
            LogicalPlan::Projection(p) => mark_projection(p),
            n => Ok(Transformed::no(n)),
        })
    })
    .map(|t| t.data)
    .map_err(crate::plan::df::translate)
}

/// A UNION's column types start from its first input's (DataFusion's
/// analyzer then widens them over the other inputs), so that retyped
/// literals reach them.
fn retype_union(u: Union) -> datafusion_common::Result<Transformed<LogicalPlan>> {
    let Some(first) = u.inputs.first() else { return Ok(Transformed::no(LogicalPlan::Union(u))) };
    let first = first.schema().clone();
    if first.fields().len() != u.schema.fields().len() || first.fields().iter().zip(u.schema.fields()).all(|(a, b)| a.data_type() == b.data_type()) {
        return Ok(Transformed::no(LogicalPlan::Union(u)));
    }
    let fields = u
        .schema
        .iter()
        .zip(first.fields())
        .map(|((q, f), from)| {
            let mut metadata = f.metadata().clone();
            metadata.extend(from.metadata().clone());
            (q.cloned(), Arc::new(Field::new(f.name(), from.data_type().clone(), f.is_nullable() || from.is_nullable()).with_metadata(metadata)))
        })
        .collect();
    let schema = Arc::new(DFSchema::new_with_metadata(fields, u.schema.metadata().clone())?);
    Ok(Transformed::yes(LogicalPlan::Union(Union { inputs: u.inputs, schema })))
}

/// `VALUES (1), (2)`: columns of literals that fit, typed integer.
fn retype_values(v: Values) -> datafusion_common::Result<Transformed<LogicalPlan>> {
    let arity = v.schema.fields().len();
    let narrow_column = |j: usize| v.values.iter().any(|row| row.get(j).is_some_and(small_literal)) && v.values.iter().all(|row| row.get(j).is_some_and(|e| small_literal(e) || null_literal(e)));
    let columns: Vec<bool> = (0..arity).map(narrow_column).collect();
    if !columns.contains(&true) {
        return Ok(Transformed::no(LogicalPlan::Values(v)));
    }
    let values = v
        .values
        .into_iter()
        .map(|row| {
            row.into_iter()
                .zip(&columns)
                .map(|(e, narrow)| match e {
                    Expr::Literal(ScalarValue::Int64(Some(i)), m) if *narrow => Expr::Literal(ScalarValue::Int32(Some(i as i32)), m),
                    Expr::Literal(ref s, ref m) if *narrow && s.is_null() => Expr::Literal(ScalarValue::Int32(None), m.clone()),
                    e => e,
                })
                .collect()
        })
        .collect();
    let fields = v
        .schema
        .iter()
        .zip(&columns)
        .map(|((q, f), narrow)| (q.cloned(), if *narrow { Arc::new(Field::new(f.name(), DataType::Int32, f.is_nullable()).with_metadata(f.metadata().clone())) } else { f.clone() }))
        .collect();
    let schema = Arc::new(DFSchema::new_with_metadata(fields, v.schema.metadata().clone())?);
    Ok(Transformed::yes(LogicalPlan::Values(Values { schema, values })))
}

/// Retypes the integer literals and rounded integers of a plan (see the
/// module documentation).
pub fn postgres_types(plan: LogicalPlan) -> Result<LogicalPlan, SqlError> {
    plan.transform_up_with_subqueries(|node| {
        let node = match node {
            LogicalPlan::Limit(_) => return Ok(Transformed::no(node)),
            LogicalPlan::Values(v) => return retype_values(v),
            node => node,
        };
        let mut schema = DFSchema::empty();
        for i in node.inputs() {
            schema.merge(i.schema());
        }
        // An aggregate's name shows its FILTER's text, casts included:
        // keep the names the nodes above know the aggregates by.
        let aggregate_names: Option<Vec<String>> = match &node {
            LogicalPlan::Aggregate(a) => Some(a.aggr_expr.iter().map(|e| e.schema_name().to_string()).collect()),
            _ => None,
        };
        let node = node.map_expressions(|e| e.transform_up(|x| Ok(retype(x, &schema))))?;
        let node = match (node.data, aggregate_names) {
            (LogicalPlan::Aggregate(mut a), Some(names)) => {
                a.aggr_expr = a.aggr_expr.into_iter().zip(names).map(|(e, name)| if e.schema_name().to_string() == name { e } else { e.alias(name) }).collect();
                Transformed::new(LogicalPlan::Aggregate(a), node.transformed, node.tnr)
            }
            (data, _) => Transformed::new(data, node.transformed, node.tnr),
        };
        // Types below may have changed: recompute every node's schema.
        let node = node.map_data(|n| n.recompute_schema())?;
        node.transform_data(|n| match n {
            LogicalPlan::Projection(p) => retype_projection(p)?.transform_data(|n| match n {
                LogicalPlan::Projection(p) => mark_projection(p),
                n => Ok(Transformed::no(n)),
            }),
            LogicalPlan::Union(u) => retype_union(u),
            n => Ok(Transformed::no(n)),
        })
    })
    .map(|t| t.data)
    .map_err(crate::plan::df::translate)
}
