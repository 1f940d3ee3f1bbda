//! Table functions called per row: `FROM orders o, jsonb_array_elements(o.items) e`.
//!
//! PostgreSQL lets a function call in FROM read the FROM items before it
//! (it is implicitly LATERAL). DataFusion plans such a call's arguments
//! against those items, asks our context for a table source
//! ([`super::table_functions`]), and joins the source with them; but the
//! arguments then live inside the source, out of sight of its analyzer
//! (no type coercion) and optimizer (which would prune the columns they
//! read). So right after planning, [`absorb_calls`] turns each call into a
//! [`LateralCall`] node over the rows it is called for, whose arguments
//! are expressions DataFusion coerces and keeps columns for:
//!
//! ```text
//! Join(left, [SubqueryAlias] [Projection of its columns] Scan(call))  =>  LateralCall(left)
//! Scan(call) alone (constant arguments)                               =>  LateralCall(one empty row)
//! ```
//!
//! An inner or cross join becomes the call over its left side, the join's
//! condition a filter above it; `LEFT JOIN LATERAL ... ON true` keeps the
//! rows for which the call returns nothing, with NULLs. [`lower`] makes the
//! node the engine's `FlatMap`.
//!
//! What it does not do: calls that read columns of an outer query (a
//! correlated subquery), LEFT joins with a condition, and RIGHT or FULL
//! joins with a call on the right; each is refused with 0A000.

use super::expr::ExprLowerer;
use super::lower::Lowerer;
use crate::SqlError;
use datafusion_common::tree_node::{Transformed, TreeNode};
use arrow_schema::DataType;
use datafusion_common::{DFSchema, DFSchemaRef, Result, ScalarValue};
use datafusion_expr::logical_plan::{EmptyRelation, Extension, Filter, Join, JoinType};
use datafusion_expr::{Expr, ExprSchemable, LogicalPlan, Operator, UserDefinedLogicalNodeCore};
use eddy_engine::expr::{TableFunc, UnaryFunc};
use eddy_engine::plan::Plan;
use eddy_engine::ScalarType;
use eddy_engine::repr::ElementType;
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

/// A table function call as planned in FROM, before it meets its rows.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TableCall {
    pub func: TableFunc,
    pub args: Vec<Expr>,
    pub ordinality: bool,
}

/// `call` applied to each row of `input`: the row's columns, then the
/// call's (see `Plan::FlatMap`). `schema` names both.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LateralCall {
    pub input: Arc<LogicalPlan>,
    pub call: TableCall,
    pub outer: bool,
    pub schema: DFSchemaRef,
}

impl PartialOrd for LateralCall {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        (&self.input, &self.call.args, self.call.func, self.call.ordinality, self.outer).partial_cmp(&(&other.input, &other.call.args, other.call.func, other.call.ordinality, other.outer))
    }
}

impl UserDefinedLogicalNodeCore for LateralCall {
    fn name(&self) -> &str {
        "LateralCall"
    }
    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![&self.input]
    }
    fn schema(&self) -> &DFSchemaRef {
        &self.schema
    }
    fn expressions(&self) -> Vec<Expr> {
        self.call.args.clone()
    }
    /// A filter on the input's columns alone runs before the call (the
    /// call maps each row to its own rows, and an outer call keeps each
    /// row), as PostgreSQL filters a FROM item before calling a function
    /// over it: `WHERE o.kind = 'order'` keeps the call away from rows it
    /// would fail on. Filters reading the call's columns stay above it.
    fn prevent_predicate_push_down_columns(&self) -> HashSet<String> {
        self.schema.fields().iter().skip(self.input.schema().fields().len()).map(|f| f.name().clone()).collect()
    }
    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let args: Vec<String> = self.call.args.iter().map(|a| a.to_string()).collect();
        write!(f, "LateralCall: {}({})", self.call.func.name(), args.join(", "))
    }
    fn with_exprs_and_inputs(&self, exprs: Vec<Expr>, mut inputs: Vec<LogicalPlan>) -> Result<Self> {
        let input = Arc::new(inputs.pop().expect("LateralCall has one input"));
        Ok(LateralCall { input, call: TableCall { args: exprs, ..self.call.clone() }, outer: self.outer, schema: self.schema.clone() })
    }
}

fn node(input: LogicalPlan, mut call: TableCall, outer: bool, schema: DFSchemaRef) -> LogicalPlan {
    // A parameter given straight to the call takes the argument's type, as
    // in PostgreSQL (`generate_series(1, $1)`: $1 is an integer).
    let wanted = if call.func == TableFunc::GenerateSeries { DataType::Int32 } else { DataType::Utf8 };
    for a in &mut call.args {
        if let Expr::Placeholder(p) = a {
            if p.field.is_none() {
                p.field = Some(Arc::new(arrow_schema::Field::new(&p.id, wanted.clone(), true)));
            }
        }
    }
    LogicalPlan::Extension(Extension { node: Arc::new(LateralCall { input: Arc::new(input), call, outer, schema }) })
}

/// The call a scan reads, if it is a table function's.
fn call_of(plan: &LogicalPlan) -> Option<&TableCall> {
    let LogicalPlan::TableScan(scan) = plan else { return None };
    scan.source.as_ref().downcast_ref::<super::context::EddySource>()?.call.as_ref()
}

/// The call over one empty row that `plan` is, looking through the alias
/// and column renaming that name its columns (which keep their order).
fn standalone_call(plan: &LogicalPlan) -> Option<&TableCall> {
    match plan {
        LogicalPlan::SubqueryAlias(a) => standalone_call(&a.input),
        LogicalPlan::Projection(p) => {
            let in_order = p.expr.iter().enumerate().all(|(i, e)| matches!(e.clone().unalias(), Expr::Column(c) if p.input.schema().index_of_column(&c).ok() == Some(i)));
            (in_order && p.expr.len() == p.input.schema().fields().len()).then(|| standalone_call(&p.input)).flatten()
        }
        LogicalPlan::Extension(e) => {
            let call = e.node.as_any().downcast_ref::<LateralCall>()?;
            matches!(call.input.as_ref(), LogicalPlan::EmptyRelation(r) if r.produce_one_row && r.schema.fields().is_empty()).then_some(&call.call)
        }
        _ => None,
    }
}

/// Every table function call of `plan` as a [`LateralCall`] (see the module doc).
pub fn absorb_calls(plan: LogicalPlan) -> std::result::Result<LogicalPlan, SqlError> {
    // Once a call's column type changed, the schemas above it are derived again.
    let mut retyped = false;
    plan.transform_up_with_subqueries(|p| {
        if let Some((call, schema)) = unnest_of_outer_columns(&p)? {
            let one_row = LogicalPlan::EmptyRelation(EmptyRelation { produce_one_row: true, schema: Arc::new(DFSchema::empty()) });
            return Ok(Transformed::yes(node(one_row, call, false, schema)));
        }
        if let Some(call) = call_of(&p) {
            let one_row = LogicalPlan::EmptyRelation(EmptyRelation { produce_one_row: true, schema: Arc::new(DFSchema::empty()) });
            let schema = series_type(call, &DFSchema::empty(), p.schema().clone(), &mut retyped)?;
            return Ok(Transformed::yes(node(one_row, call.clone(), false, schema)));
        }
        match p {
            LogicalPlan::Join(j) if standalone_call(&j.right).is_some() => join(j, &mut retyped).map(Transformed::yes),
            other if retyped => other.recompute_schema().map(Transformed::yes),
            other => Ok(Transformed::no(other)),
        }
    })
    .and_then(|t| refuse_outer_columns(t.data))
    .map_err(super::df::translate)
}

/// `unnest(t.array)` in FROM after `t`, as DataFusion plans it: a
/// subquery unnesting the outer column over one empty row,
///
/// ```text
/// Subquery: Projection(one column)... Unnest(one list) Projection(e AS p) EmptyRelation
/// ```
///
/// as the call `unnest(e)` (outer references read as the FROM item's
/// columns), which [`join`] then makes a call per row of `t`.
fn unnest_of_outer_columns(p: &LogicalPlan) -> Result<Option<(TableCall, DFSchemaRef)>> {
    let LogicalPlan::Subquery(s) = p else { return Ok(None) };
    // The projections that name the one column.
    let mut top = s.subquery.as_ref();
    while let LogicalPlan::Projection(named) = top {
        if named.expr.len() != 1 {
            return Ok(None);
        }
        top = named.input.as_ref();
    }
    let LogicalPlan::Unnest(u) = top else { return Ok(None) };
    let LogicalPlan::Projection(args) = u.input.as_ref() else { return Ok(None) };
    let one_row = matches!(args.input.as_ref(), LogicalPlan::EmptyRelation(r) if r.produce_one_row);
    if !one_row || args.expr.len() != 1 || u.list_type_columns.len() != 1 || !u.struct_type_columns.is_empty() {
        return Ok(None);
    }
    let ScalarType::Array(elem) = crate::types::column_type_of_field(args.schema.field(0)).map_err(|e| datafusion_common::DataFusionError::Plan(e.message))?.scalar else {
        return Ok(None);
    };
    let arg = args.expr[0].clone().unalias().transform(|e| match e {
        Expr::OuterReferenceColumn(_, c) => Ok(Transformed::yes(Expr::Column(c))),
        other => Ok(Transformed::no(other)),
    })?;
    Ok(Some((TableCall { func: TableFunc::Unnest(elem), args: vec![arg.data], ordinality: false }, p.schema().clone())))
}

/// A call left over one empty row that reads columns reads an outer
/// query's: DataFusion would have to see them to decorrelate the
/// subquery, and it cannot inside the call.
fn refuse_outer_columns(plan: LogicalPlan) -> Result<LogicalPlan> {
    let mut found = None;
    plan.apply_with_subqueries(|p| {
        if let Some(call) = standalone_call(p) {
            found = found.take().or_else(|| call.args.iter().flat_map(|a| a.column_refs()).next().map(|c| (call.func, c.flat_name())));
        }
        Ok(datafusion_common::tree_node::TreeNodeRecursion::Continue)
    })?;
    match found {
        Some((func, column)) => datafusion_common::not_impl_err!("{}(...) reads {}, a column of an outer query: eddy calls a table function with constants or with columns of the FROM items before it", func.name(), column),
        None => Ok(plan),
    }
}

/// A join with a call on its right: the call over the join's left side.
fn join(j: Join, retyped: &mut bool) -> Result<LogicalPlan> {
    let call = standalone_call(&j.right).expect("checked by the caller").clone();
    let always = |f: &Option<Expr>| f.as_ref().is_none_or(|e| matches!(e, Expr::Literal(ScalarValue::Boolean(Some(true)), _)));
    let mut condition: Vec<Expr> = j.on.iter().map(|(l, r)| l.clone().eq(r.clone())).collect();
    if !always(&j.filter) {
        condition.extend(j.filter.clone());
    }
    let outer = match j.join_type {
        JoinType::Inner => false,
        JoinType::Left if condition.is_empty() => true,
        JoinType::Left => return datafusion_common::not_impl_err!("LEFT JOIN LATERAL {}(...) with a condition other than ON true", call.func.name()),
        other => return datafusion_common::not_impl_err!("{} JOIN with {}(...) on its right: eddy calls table functions in inner, cross and LEFT ... ON true joins", other.to_string().to_uppercase(), call.func.name()),
    };
    let schema = series_type(&call, j.left.schema(), j.schema.clone(), retyped)?;
    let lateral = node(Arc::unwrap_or_clone(j.left), call, outer, schema);
    Ok(match condition.into_iter().reduce(Expr::and) {
        Some(predicate) => LogicalPlan::Filter(Filter::try_new(predicate, Arc::new(lateral))?),
        None => lateral,
    })
}

/// `schema`, the input's columns then the call's, with the series column
/// `integer` when every bound is, as PostgreSQL types `generate_series`
/// (the call's source was planned before its arguments' types were known,
/// as `bigint`).
fn series_type(call: &TableCall, input: &DFSchema, schema: DFSchemaRef, retyped: &mut bool) -> Result<DFSchemaRef> {
    if call.func != TableFunc::GenerateSeries || !call.args.iter().all(|a| int4(a, input)) {
        return Ok(schema);
    }
    let at = input.fields().len();
    let fields = schema.iter().enumerate().map(|(i, (q, f))| (q.cloned(), if i == at { Arc::new(f.as_ref().clone().with_data_type(DataType::Int32)) } else { f.clone() })).collect();
    *retyped = true;
    Ok(Arc::new(DFSchema::new_with_metadata(fields, schema.metadata().clone())?))
}

/// Whether PostgreSQL would type `e` `integer` (or smaller): DataFusion
/// types integer literals `bigint`, PostgreSQL `integer` when they fit.
fn int4(e: &Expr, schema: &DFSchema) -> bool {
    match e {
        Expr::Literal(ScalarValue::Int64(Some(v)), _) => i32::try_from(*v).is_ok(),
        Expr::Negative(x) => int4(x, schema),
        Expr::BinaryExpr(b) if matches!(b.op, Operator::Plus | Operator::Minus | Operator::Multiply | Operator::Divide | Operator::Modulo) => int4(&b.left, schema) && int4(&b.right, schema),
        _ => matches!(e.get_type(schema), Ok(DataType::Int8 | DataType::Int16 | DataType::Int32)),
    }
}

/// The engine's plan for a [`LateralCall`] node, if `node` is one.
pub fn lower(lowerer: &Lowerer, e: &Extension) -> Option<std::result::Result<Plan, SqlError>> {
    let call = e.node.as_any().downcast_ref::<LateralCall>()?;
    Some(lower_call(lowerer, call))
}

fn lower_call(lowerer: &Lowerer, call: &LateralCall) -> std::result::Result<Plan, SqlError> {
    let input = lowerer.lower(&call.input)?;
    let none = HashMap::new();
    let exprs = ExprLowerer { schema: call.input.schema(), subqueries: &none, maintained: lowerer.maintained };
    let func = call.call.func;
    let Some(wanted) = func.takes(call.call.args.len()) else {
        return Err(SqlError::new(crate::codes::UNDEFINED_FUNCTION, format!("function {} does not take {} arguments", func.name(), call.call.args.len())));
    };
    let mut args = Vec::new();
    for (a, wanted) in call.call.args.iter().zip(wanted) {
        let ty = exprs.type_of(a)?;
        use ScalarType as T;
        let fits = match wanted {
            T::Jsonb => matches!(ty, T::Jsonb | T::Text),
            T::Array(e) => ty == T::Array(e) || (ty == T::Text && e == ElementType::Text),
            T::Timestamp | T::TimestampTz => matches!(ty, T::Timestamp | T::TimestampTz | T::Date | T::Text),
            T::Interval => matches!(ty, T::Interval | T::Text),
            T::Text => matches!(ty, T::Text | T::Uuid),
            _ => matches!(ty, T::Int16 | T::Int32 | T::Int64),
        };
        if !fits {
            let types: Vec<String> = call.call.args.iter().map(|a| exprs.type_of(a).map(|t| t.to_string()).unwrap_or_default()).collect();
            return Err(SqlError::undefined_function(func.name(), &types));
        }
        let lowered = exprs.lower(a)?;
        args.push(if ty == wanted { lowered } else { lowered.call_unary(UnaryFunc::Cast(wanted)) });
    }
    Ok(Plan::FlatMap { input: input.boxed(), func, args, ordinality: call.call.ordinality, outer: call.outer })
}
