//! Aggregates recomputed over a whole group: the group's output from its
//! current rows ([`super::reduce`] turns that into the change of the
//! output).

use crate::expr::{AggregateExpr, EvalError};
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
