//! Reductions over a whole group: aggregates and TopK.
//! Each recomputes its group's output from the group's current rows;
//! differential-dataflow turns that into the change of the output.

use crate::expr::{AggregateExpr, EvalError, SortKey};
use crate::repr::Row;
use crate::Diff;

/// The group key followed by each aggregate's value.
pub fn aggregate(key: &Row, vals: &[(&Row, Diff)], aggs: &[AggregateExpr]) -> Result<Row, EvalError> {
    let mut out = key.clone();
    for agg in aggs {
        out.push(agg.eval(vals.iter().filter(|(_, d)| *d > 0).map(|(r, d)| (r.as_slice(), *d)))?);
    }
    Ok(out)
}

/// Rows of one group, sorted, with each multiplicity expanded.
fn sorted_rows(vals: &[(&Row, Diff)], order_by: &[SortKey]) -> Vec<Row> {
    let mut rows: Vec<Row> = vals.iter().filter(|(_, d)| *d > 0).flat_map(|(r, d)| std::iter::repeat_n((*r).clone(), *d as usize)).collect();
    // Stable, with the row itself as the final tie-breaker so that the
    // result does not depend on arrival order.
    rows.sort_by(|a, b| SortKey::compare_rows(order_by, a, b).then_with(|| a.cmp(b)));
    rows
}

/// The rows from `offset` to `offset + limit` of the group.
pub fn top_k(vals: &[(&Row, Diff)], order_by: &[SortKey], limit: Option<usize>, offset: usize, out: &mut Vec<(Row, Diff)>) {
    let rows = sorted_rows(vals, order_by);
    let end = limit.map(|l| offset.saturating_add(l)).unwrap_or(usize::MAX).min(rows.len());
    for row in rows.into_iter().take(end).skip(offset) {
        match out.last_mut() {
            Some((r, d)) if *r == row => *d += 1,
            _ => out.push((row, 1)),
        }
    }
}
