//! Joins on equal keys, and the arrangements they share.
//!
//! An inner join arranges both inputs by their keys and matches them
//! ([`inner`]). An anti-join ([`anti`]: the rows of the left input whose key
//! matches nothing on the right, what FULL joins, joins with conditions
//! beyond the keys and `NOT EXISTS` lower to) reuses those same two
//! arrangements: the right arrangement reduced to its distinct keys, joined
//! with the left, is the matched rows, and the left rows minus the matched
//! ones are the result. (LEFT and RIGHT joins on keys alone have their own
//! operator, [`super::left_join`].)
//!
//! Sharing is by name: two joins in one dataflow that key the same bound
//! collection (a `Get` or a `LocalGet`) by the same expressions use one
//! arrangement. Unnamed inputs are arranged each time.

use super::Rows;
use crate::expr::ScalarExpr;
use crate::plan::Plan;
use crate::repr::SharedRow;
use crate::{Diff, GlobalId, Timestamp};
use differential_dataflow::operators::arrange::{Arranged, TraceAgent};
use differential_dataflow::trace::implementations::{KeyBuilder, KeySpine, ValSpine};

/// Rows arranged by a key: (key, row), shared (see [`SharedRow`]).
pub type KeyedArrangement<'s> = Arranged<'s, TraceAgent<ValSpine<SharedRow, SharedRow, Timestamp, Diff>>>;

/// Which collection is arranged, and by what key.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum ArrangementKey {
    Global(GlobalId, Vec<ScalarExpr>, bool),
    Local(u64, Vec<ScalarExpr>, bool),
}

impl ArrangementKey {
    /// The name of `plan` arranged by `key`, when `plan` names a collection.
    pub fn of(plan: &Plan, key: &[ScalarExpr], null_eq: bool) -> Option<ArrangementKey> {
        let key = key.to_vec();
        match plan {
            Plan::Get { id, .. } => Some(ArrangementKey::Global(*id, key, null_eq)),
            Plan::LocalGet { id, .. } => Some(ArrangementKey::Local(*id, key, null_eq)),
            _ => None,
        }
    }
}

/// Pairs of rows with equal keys: left columns then right columns, with
/// multiplicities multiplied.
pub fn inner<'s>(left: KeyedArrangement<'s>, right: KeyedArrangement<'s>) -> Rows<'s> {
    left.join_core(right, |_k, l: &SharedRow, r: &SharedRow| {
        let mut out = Vec::with_capacity(l.len() + r.len());
        out.extend(l.iter().cloned());
        out.extend(r.iter().cloned());
        Some(out)
    })
}

/// The rows of `rows` whose key (in `left`, the same rows arranged by key)
/// matches no key of `right`, with their multiplicities. Rows left out of
/// `left` because their key is NULL match nothing, so they stay.
pub fn anti<'s>(rows: Rows<'s>, left: KeyedArrangement<'s>, right: KeyedArrangement<'s>) -> Rows<'s> {
    let keys = right.reduce_abelian::<_, KeyBuilder<SharedRow, Timestamp, Diff>, KeySpine<SharedRow, Timestamp, Diff>, _, _>(
        "DistinctKeys",
        |_key, _vals, out| out.push(((), 1)),
        |buffer, key, updates| {
            buffer.clear();
            buffer.extend(updates.drain(..).map(|(v, t, d)| ((key.clone(), v), t, d)));
        },
    );
    let matched = left.join_core(keys, |_k, row: &SharedRow, _| Some(row.to_vec()));
    rows.concat(matched.negate())
}
