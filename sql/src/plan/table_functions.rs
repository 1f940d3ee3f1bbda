//! Table functions in FROM: `generate_series(start, stop [, step])` over
//! integers, and the jsonb functions `jsonb_array_elements[_text]`,
//! `jsonb_each[_text]` and `jsonb_object_keys` (see
//! `eddy_engine::expr::TableFunc`), each also `WITH ORDINALITY`.
//!
//! DataFusion asks the [`ContextProvider`](datafusion_expr::planner::ContextProvider)
//! for a table source. For `generate_series` over constants ours carries
//! a VALUES plan of the whole series, which the analyzer inlines as it
//! does a plain view, so the engine sees a constant (the column is named
//! `generate_series`; `integer` when every argument fits one, else
//! `bigint`; an empty series when the step points away from `stop`).
//! Every other call, and a series whose bounds read columns, is a source
//! carrying the call, which [`super::lateral`] turns into a call per row
//! (a series then counts in `bigint`). What this does not do: timestamps
//! of timestamps whose bounds read columns only, and constant series
//! longer than [`MAX_ROWS`]. A series of timestamps by an interval step is
//! a call (`timestamp`, or `timestamptz` when a bound is).

use super::context::EddySource;
use super::lateral::TableCall;
use crate::from_functions::ORDINALITY_SUFFIX;
use crate::types::arrow_field;
use eddy_engine::repr::ColumnType;
use eddy_engine::expr::TableFunc;
use arrow_schema::{DataType, Field, Schema};
use datafusion_common::{not_impl_err, plan_err, Result, ScalarValue};
use datafusion_expr::{lit, Expr, LogicalPlanBuilder, TableSource};
use std::sync::Arc;

/// The longest series planned (each row is held by the plan and the engine).
pub const MAX_ROWS: i64 = 10_000_000;

/// The source for table function `name` called with `args`.
pub fn table_function(name: &str, args: Vec<Expr>) -> Result<Arc<dyn TableSource>> {
    let (name, ordinality) = match name.strip_suffix(ORDINALITY_SUFFIX) {
        Some(n) => (n, true),
        None => (name, false),
    };
    let lower = name.to_ascii_lowercase();
    if lower == "generate_series" && !ordinality && args.iter().all(|a| integer(a).is_some()) {
        return generate_series(&args);
    }
    let Some(mut func) = TableFunc::by_name(&lower) else {
        return plan_err!("invalid function '{}' in FROM: the table functions eddy has are generate_series, unnest, regexp_matches, regexp_split_to_table, jsonb_array_elements, jsonb_array_elements_text, jsonb_each, jsonb_each_text and jsonb_object_keys", name);
    };
    if func == TableFunc::GenerateSeries {
        if let Some(zone) = timestamps(&args) {
            func = TableFunc::GenerateTimestamps { zone };
        }
    }
    if func.takes(args.len()).is_none() {
        return plan_err!("invalid function '{}' with {} arguments: {}", func.name(), args.len(), if matches!(func, TableFunc::GenerateSeries | TableFunc::GenerateTimestamps { .. }) { "it takes (start, stop) or (start, stop, step), of integers or of timestamps with an interval step" } else if matches!(func, TableFunc::RegexpMatches | TableFunc::RegexpSplitToTable) { "it takes (text, pattern [, flags])" } else { "it takes one jsonb value" });
    }
    let mut fields: Vec<arrow_schema::Field> = func.columns().into_iter().map(|(n, t)| arrow_field(n, &ColumnType { scalar: t, nullable: true })).collect();
    if ordinality {
        fields.push(Field::new("ordinality", DataType::Int64, false));
    }
    Ok(Arc::new(EddySource::call(Arc::new(Schema::new(fields)), TableCall { func, args, ordinality })))
}

/// Whether a series' arguments are timestamps (and with a time zone):
/// a timestamp or date among the bounds, or an interval step. Typed here
/// without the FROM items (constants, casts and `now()` have their type).
fn timestamps(args: &[Expr]) -> Option<bool> {
    use datafusion_expr::ExprSchemable;
    let types: Vec<Option<DataType>> = args.iter().map(|a| a.get_type(&datafusion_common::DFSchema::empty()).ok()).collect();
    let bounds: Vec<&DataType> = types.iter().take(2).flatten().collect();
    let temporal = bounds.iter().any(|t| matches!(t, DataType::Timestamp(..) | DataType::Date32)) || matches!(types.get(2), Some(Some(DataType::Interval(_))));
    // A date converts to timestamptz, as PostgreSQL prefers it.
    let zone = bounds.iter().any(|t| matches!(t, DataType::Timestamp(_, Some(_)))) || (bounds.iter().any(|t| **t == DataType::Date32) && !bounds.iter().any(|t| matches!(t, DataType::Timestamp(_, None))));
    temporal.then_some(zone)
}

/// An integer constant: a literal, negated, or cast.
fn integer(e: &Expr) -> Option<i64> {
    match e {
        Expr::Literal(v, _) => match v {
            ScalarValue::Int8(Some(i)) => Some(*i as i64),
            ScalarValue::Int16(Some(i)) => Some(*i as i64),
            ScalarValue::Int32(Some(i)) => Some(*i as i64),
            ScalarValue::Int64(Some(i)) => Some(*i),
            ScalarValue::UInt8(Some(i)) => Some(*i as i64),
            ScalarValue::UInt16(Some(i)) => Some(*i as i64),
            ScalarValue::UInt32(Some(i)) => Some(*i as i64),
            ScalarValue::UInt64(Some(i)) => i64::try_from(*i).ok(),
            _ => None,
        },
        Expr::Negative(inner) => integer(inner)?.checked_neg(),
        Expr::Cast(c) => integer(&c.expr),
        _ => None,
    }
}

fn generate_series(args: &[Expr]) -> Result<Arc<dyn TableSource>> {
    if !(2..=3).contains(&args.len()) {
        return plan_err!("invalid function 'generate_series' with {} arguments: it takes (start, stop) or (start, stop, step)", args.len());
    }
    let Some(values) = args.iter().map(integer).collect::<Option<Vec<i64>>>() else {
        return not_impl_err!("generate_series is supported with integer constants only (not columns, parameters, timestamps or NULL): {}", args.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", "));
    };
    let (start, stop, step) = (values[0], values[1], values.get(2).copied().unwrap_or(1));
    if step == 0 {
        return plan_err!("generate_series: step size cannot equal zero");
    }
    let len = if (step > 0 && start > stop) || (step < 0 && start < stop) { 0 } else { (stop as i128 - start as i128) / step as i128 + 1 };
    if len > MAX_ROWS as i128 {
        return not_impl_err!("generate_series({}, {}, {}) has {} rows; eddy plans at most {} (the series is a constant of the plan)", start, stop, step, len, MAX_ROWS);
    }
    let int32 = values.iter().all(|v| i32::try_from(*v).is_ok());
    let series = (0..len as i64).map(|i| start + i * step);
    let rows: Vec<Vec<Expr>> = if int32 { series.map(|v| vec![lit(v as i32)]).collect() } else { series.map(|v| vec![lit(v)]).collect() };
    let data_type = if int32 { DataType::Int32 } else { DataType::Int64 };
    let schema = Arc::new(Schema::new(vec![Field::new("generate_series", data_type.clone(), true)]));
    let plan = if rows.is_empty() { LogicalPlanBuilder::empty(false).project(vec![Expr::Cast(datafusion_expr::Cast::new(Box::new(lit(ScalarValue::Null)), data_type)).alias("generate_series")])?.build()? } else { LogicalPlanBuilder::values(rows)?.project(vec![datafusion_expr::col("column1").alias("generate_series")])?.build()? };
    Ok(Arc::new(EddySource::inlined(schema, plan)))
}
