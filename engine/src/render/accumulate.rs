//! Accumulable reductions: count, bool_and and bool_or, sum and avg over
//! exact numbers.
//!
//! Instead of recomputing a group from all its rows on every change (what
//! [`super::group::aggregate`] does), each row contributes a vector of
//! (count, sum) pairs, and [`render`]'s operator adds the contributions of
//! a group together as changes arrive. A change costs
//! O(changed rows), whatever the group's size. Sums are exact (integers in
//! i128, numerics in Decimal), so inserting and then deleting a row leaves
//! exactly nothing; floats are not accumulated here for that reason.

use super::state::{row_heap_bytes, Footprint, StateReport, StateSize};
use super::stash::per_key;
use crate::expr::{numeric_avg, AggregateExpr, AggregateFunc, EvalError};
use crate::repr::{Datum, Row, ScalarType};
use crate::{Diff, Timestamp};
use differential_dataflow::difference::{Abelian, IsZero, Monoid, Multiply, Semigroup};
use differential_dataflow::VecCollection;
use rust_decimal::prelude::*;
use serde::{Deserialize, Serialize};

/// The running sum of one aggregate's arguments.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Sum {
    Zero,
    Int(i128),
    /// The sum, and how many current values have each scale: the result
    /// shows the largest scale among the values still in the group, as a
    /// sum computed from scratch would.
    Numeric(Decimal, Vec<(u32, i64)>),
}

fn merge_scales(a: &mut Vec<(u32, i64)>, b: &[(u32, i64)], k: i64) {
    for (scale, n) in b {
        match a.iter_mut().find(|(s, _)| s == scale) {
            Some(e) => e.1 += n * k,
            None => a.push((*scale, n * k)),
        }
    }
    a.retain(|(_, n)| *n != 0);
    a.sort();
}

impl Sum {
    pub fn numeric(d: Decimal) -> Sum {
        Sum::Numeric(d, vec![(d.scale(), 1)])
    }
    fn add(&mut self, other: &Sum) {
        *self = match (std::mem::replace(self, Sum::Zero), other) {
            (Sum::Zero, o) => o.clone(),
            (s, Sum::Zero) => s,
            (Sum::Int(a), Sum::Int(b)) => Sum::Int(a + *b),
            (Sum::Numeric(a, mut sa), Sum::Numeric(b, sb)) => {
                merge_scales(&mut sa, sb, 1);
                Sum::Numeric(a + *b, sa)
            }
            // An aggregate's argument has one type; mixing does not happen.
            (s, _) => s,
        };
    }
    fn scale(&self, k: i64) -> Sum {
        match self {
            Sum::Zero => Sum::Zero,
            Sum::Int(a) => Sum::Int(a * k as i128),
            Sum::Numeric(a, scales) => {
                let mut counts = Vec::new();
                merge_scales(&mut counts, scales, k);
                Sum::Numeric(a * Decimal::from(k), counts)
            }
        }
    }
    fn is_zero(&self) -> bool {
        match self {
            Sum::Zero => true,
            Sum::Int(a) => *a == 0,
            Sum::Numeric(a, scales) => a.is_zero() && scales.is_empty(),
        }
    }
    /// The numeric total at the largest scale among current values.
    fn decimal(&self) -> Decimal {
        match self {
            Sum::Zero => Decimal::ZERO,
            Sum::Int(s) => Decimal::from_i128(*s).unwrap_or_default(),
            Sum::Numeric(a, scales) => {
                let scale = scales.iter().map(|(s, _)| *s).max().unwrap_or(0);
                let mut r = *a;
                r.rescale(scale);
                r
            }
        }
    }
}

/// Per aggregate, how many rows contributed and the sum of their values.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Accums(pub Vec<(i64, Sum)>);

impl IsZero for Accums {
    fn is_zero(&self) -> bool {
        self.0.iter().all(|(c, s)| *c == 0 && s.is_zero())
    }
}

impl Semigroup for Accums {
    fn plus_equals(&mut self, rhs: &Self) {
        if self.0.len() < rhs.0.len() {
            self.0.resize(rhs.0.len(), (0, Sum::Zero));
        }
        for (a, b) in self.0.iter_mut().zip(&rhs.0) {
            a.0 += b.0;
            a.1.add(&b.1);
        }
    }
}

impl Monoid for Accums {
    fn zero() -> Self {
        Accums(Vec::new())
    }
}

impl Abelian for Accums {
    fn negate(&mut self) {
        for a in &mut self.0 {
            a.0 = -a.0;
            a.1 = a.1.scale(-1);
        }
    }
}

impl Multiply<Diff> for Accums {
    type Output = Accums;
    fn multiply(self, rhs: &Diff) -> Accums {
        Accums(self.0.into_iter().map(|(c, s)| (c * rhs, s.scale(*rhs))).collect())
    }
}

/// Whether a Reduce can use this path: every aggregate is accumulable.
pub fn applies(aggs: &[AggregateExpr]) -> bool {
    aggs.iter().all(AggregateExpr::is_accumulable)
}

/// One row's contribution: to the group's row count, to its count of rows
/// whose arguments failed to evaluate (such a group has no output row, as
/// when it is recomputed whole; the error goes to the error collection),
/// then to each aggregate.
pub fn contribution(row: &[Datum], aggs: &[AggregateExpr]) -> (Accums, Option<EvalError>) {
    match contribution_of(row, aggs) {
        Ok(a) => (a, None),
        Err(e) => (Accums(vec![(1, Sum::Zero), (1, Sum::Zero)]), Some(e)),
    }
}

fn contribution_of(row: &[Datum], aggs: &[AggregateExpr]) -> Result<Accums, EvalError> {
    let mut out = Vec::with_capacity(aggs.len() + 2);
    out.push((1, Sum::Zero));
    out.push((0, Sum::Zero));
    for agg in aggs {
        if let Some(f) = &agg.filter {
            if !f.eval_predicate(row)? {
                out.push((0, Sum::Zero));
                continue;
            }
        }
        let Some(arg) = agg.args.first() else {
            out.push((1, Sum::Zero)); // count(*)
            continue;
        };
        out.push(match arg.eval(row)? {
            Datum::Null => (0, Sum::Zero),
            // bool_and and bool_or: how many values, and how many are true.
            Datum::Bool(b) if matches!(agg.func, AggregateFunc::BoolAnd | AggregateFunc::BoolOr) => (1, Sum::Int(b as i128)),
            Datum::Int(i) if agg.func != AggregateFunc::Count => (1, Sum::Int(i as i128)),
            Datum::Numeric(n) if agg.func != AggregateFunc::Count => (1, Sum::numeric(n)),
            _ => (1, Sum::Zero),
        });
    }
    Ok(Accums(out))
}

/// The group key followed by each aggregate's value, from its totals.
/// `None` when no row is left in the group.
pub fn finish(key: &Row, totals: &Accums, aggs: &[AggregateExpr]) -> Option<Result<Row, EvalError>> {
    let count_at = |i: usize| totals.0.get(i).map_or(0, |(c, _)| *c);
    if count_at(0) <= 0 || count_at(1) > 0 {
        return None;
    }
    let mut out = key.clone();
    for (i, agg) in aggs.iter().enumerate() {
        let (count, sum) = totals.0.get(i + 2).cloned().unwrap_or((0, Sum::Zero));
        let value = match agg.func {
            AggregateFunc::Count => Ok(Datum::Int(count)),
            _ if count == 0 => Ok(Datum::Null),
            AggregateFunc::BoolAnd => Ok(Datum::Bool(matches!(sum, Sum::Int(t) if t == count as i128))),
            AggregateFunc::BoolOr => Ok(Datum::Bool(matches!(sum, Sum::Int(t) if t > 0))),
            AggregateFunc::Sum => match sum {
                Sum::Numeric(..) => Ok(Datum::Numeric(sum.decimal())),
                Sum::Int(s) if matches!(agg.output, ScalarType::Numeric { .. }) => Decimal::from_i128(s).map(Datum::Numeric).ok_or_else(|| EvalError::new("22003", "value overflows numeric format")),
                Sum::Int(s) => i64::try_from(s).map(Datum::Int).map_err(|_| EvalError::out_of_range("bigint")),
                Sum::Zero => Ok(Datum::Int(0)),
            },
            _ => {
                numeric_avg(sum.decimal(), count)
            }
        };
        match value {
            Ok(v) => out.push(v),
            Err(e) => return Some(Err(e)),
        }
    }
    Some(Ok(out))
}

/// One group's totals and the output row last emitted for them.
struct Totals(Accums, Option<Result<Row, EvalError>>);

impl Footprint for Totals {
    fn footprint(&self) -> StateSize {
        let shown = match &self.1 {
            Some(Ok(row)) => row_heap_bytes(row),
            _ => 0,
        };
        StateSize { records: 1, bytes: (self.0 .0.capacity() * std::mem::size_of::<(i64, Sum)>()) as u64 + shown }
    }
}

/// Maintains each group's totals and output row: for every group a time
/// changed, the output row finished from the new totals replaces the one
/// from the old (nothing when they are equal; no row when the group is
/// empty).
///
/// Its own operator, like [`super::reduce`], rather than differential's
/// `count` over the contributions: that arranges the contributions and its
/// output and replays each changed key's history, 150-450 us per
/// activation in the saga benchmark; here a change is a hash lookup and an
/// addition. Timestamps must be totally ordered (they are).
///
/// Each output row (or error) goes out through `output`: the results as
/// they are, or, for aggregates that cannot fail, the rows themselves (no
/// operator after this one then splits off errors).
pub fn render<'s, O, F>(contributions: VecCollection<'s, Timestamp, (Row, Accums), Diff>, aggs: Vec<AggregateExpr>, state: &StateReport, output: F) -> VecCollection<'s, Timestamp, O, Diff>
where
    O: differential_dataflow::Data,
    F: Fn(Result<Row, EvalError>) -> Option<O> + 'static,
{
    let groups = state.keyed::<Totals>();
    per_key(contributions, "Accumulate", move |key, updates, out| {
        let mut groups = groups.borrow_mut();
        let Totals(totals, shown) = groups.entry(key.clone()).or_insert_with(|| Totals(Accums::zero(), None));
        for (_, c, diff) in updates {
            totals.plus_equals(&c.clone().multiply(diff));
        }
        let new = if totals.is_zero() { None } else { finish(key, totals, &aggs) };
        if new != *shown {
            out.extend(shown.take().and_then(&output).map(|old| (old, -1)));
            out.extend(new.clone().and_then(&output).map(|new| (new, 1)));
            *shown = new;
        }
        if totals.is_zero() {
            groups.remove(key);
        }
    })
}
