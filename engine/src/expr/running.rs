//! Running aggregates: an aggregate's value over a window frame that grows
//! at its end, extended row by row instead of recomputed.
//!
//! Window frames that start at the partition's first row (`ROWS UNBOUNDED
//! PRECEDING`, `RANGE ... CURRENT ROW`) grow by one row (or one peer group)
//! per output row. Recomputing the aggregate for every row costs O(n²) per
//! partition; extending a running value costs O(n). Only aggregates whose
//! value over `a ++ b` follows from their values over `a` and `b` run this
//! way (count, sum, avg, min, max, bool_and, bool_or, without DISTINCT or
//! ORDER BY); the rest are recomputed per frame by the caller.

use super::agg::{avg, sum};
use super::{AggregateExpr, AggregateFunc, EvalError};
use crate::repr::{Datum, ScalarType};

/// The running value of one aggregate (see the module doc).
pub struct RunningAggregate {
    /// The aggregate evaluated over each newly added stretch of rows.
    part: AggregateExpr,
    /// For avg: the count that divides the running sum.
    count: Option<AggregateExpr>,
    value: Datum,
    rows: i64,
}

impl RunningAggregate {
    /// A running form of `agg`, or None if it must be recomputed per frame.
    pub fn new(agg: &AggregateExpr) -> Option<Self> {
        use AggregateFunc::*;
        if agg.distinct || !agg.order_by.is_empty() {
            return None;
        }
        let (part, count) = match agg.func {
            Count | Sum | Min | Max | BoolAnd | BoolOr => (agg.clone(), None),
            // avg = sum / count, with the sum kept exact (numeric) as avg does.
            Avg => (
                AggregateExpr { func: Sum, output: ScalarType::Numeric { precision: None, scale: None }, ..agg.clone() },
                Some(AggregateExpr { func: Count, output: ScalarType::Int64, ..agg.clone() }),
            ),
            _ => return None,
        };
        let mut r = RunningAggregate { part, count, value: Datum::Null, rows: 0 };
        r.reset();
        Some(r)
    }

    /// Continues from a value this aggregate produced earlier, if that
    /// value is all its state (everything but avg, whose value is not its
    /// sum and count). False leaves it unchanged.
    pub fn resume(&mut self, value: Datum) -> bool {
        if self.count.is_some() {
            return false;
        }
        self.value = value;
        true
    }

    /// Back to the value over no rows.
    pub fn reset(&mut self) {
        self.value = self.part.empty_value();
        self.rows = 0;
    }

    /// Adds `rows` to the frame and returns the aggregate's value over it.
    pub fn extend(&mut self, rows: &[Vec<Datum>]) -> Result<Datum, EvalError> {
        let stretch = || rows.iter().map(|r| (r.as_slice(), 1));
        let more = self.part.eval(stretch())?;
        self.value = combine(self.part.func, std::mem::replace(&mut self.value, Datum::Null), more, self.part.output)?;
        match &self.count {
            Some(count) => {
                if let Datum::Int(n) = count.eval(stretch())? {
                    self.rows += n;
                }
                if self.rows == 0 {
                    Ok(Datum::Null)
                } else {
                    avg(self.value.clone(), self.rows)
                }
            }
            None => Ok(self.value.clone()),
        }
    }
}

/// The aggregate over `a ++ b` from its values over `a` and over `b`. NULL
/// is the value over no (non-NULL) rows, except for count.
fn combine(func: AggregateFunc, a: Datum, b: Datum, output: ScalarType) -> Result<Datum, EvalError> {
    use AggregateFunc::*;
    if a.is_null() {
        return Ok(b);
    }
    if b.is_null() {
        return Ok(a);
    }
    Ok(match func {
        Count | Sum => sum([(&a, 1), (&b, 1)].into_iter(), output)?,
        Min => a.min(b),
        Max => a.max(b),
        BoolAnd => Datum::Bool(a == Datum::Bool(true) && b == Datum::Bool(true)),
        BoolOr => Datum::Bool(a == Datum::Bool(true) || b == Datum::Bool(true)),
        _ => unreachable!("not a running aggregate"),
    })
}
