//! TopK ([`crate::plan::Plan::TopK`]): per group, the rows from `offset` to
//! `offset + limit` in the ORDER BY order, in an operator that keeps each
//! group sorted.
//!
//! Semantics: rows sort by the sort keys (a key that fails to evaluate
//! sorts as NULL), then by the whole row, so ties break the same way
//! whatever the arrival order; a row with multiplicity n counts as n rows.
//!
//! Algorithm: each group is a `BTreeMap` from (sort values, row) to
//! multiplicity. A time's changes to a group are applied (O(log n) each),
//! and the group's output before and after is read off the front of the
//! map: O(offset + limit) per changed group, where recomputing the group
//! sorted all of it. `top_products` (every product in one group, a few of
//! them changing per timestamp) was the costliest view of the saga
//! benchmark that way. Measured alternately against the group recomputed
//! in [`super::reduce`]'s operator (500 orders/s, 20 ms tick, 3 runs each):
//! the timely worker's CPU went from 4.4-4.5 s to 4.3 s.

use super::state::{row_heap_bytes, sampled, Footprint, StateReport, StateSize};
use super::stash::per_key;
use crate::expr::SortKey;
use crate::repr::{Datum, Row};
use crate::{Diff, Timestamp};
use differential_dataflow::consolidation::consolidate;
use differential_dataflow::VecCollection;
use std::cmp::Ordering;
use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::rc::Rc;

/// A row with its sort values, ordered as the TopK orders rows.
struct Ranked {
    keys: Vec<Datum>,
    row: Row,
    order_by: Rc<[SortKey]>,
}

impl Ranked {
    fn new(row: Row, order_by: &Rc<[SortKey]>) -> Ranked {
        let keys = order_by.iter().map(|k| k.expr.eval(&row).unwrap_or(Datum::Null)).collect();
        Ranked { keys, row, order_by: order_by.clone() }
    }
}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        for (i, k) in self.order_by.iter().enumerate() {
            let o = k.compare(&self.keys[i], &other.keys[i]);
            if o != Ordering::Equal {
                return o;
            }
        }
        self.row.cmp(&other.row)
    }
}
impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Ranked {}

/// The rows from `offset` to `offset + limit` of a sorted group.
fn window(group: &BTreeMap<Ranked, Diff>, limit: Option<usize>, offset: usize) -> Vec<(Row, Diff)> {
    let end = limit.map(|l| offset.saturating_add(l)).unwrap_or(usize::MAX);
    let (mut seen, mut out) = (0usize, Vec::new());
    for (ranked, d) in group {
        if seen >= end {
            break;
        }
        let n = (*d).max(0) as usize;
        let take = (seen + n).min(end).saturating_sub(seen.max(offset));
        if take > 0 {
            out.push((ranked.row.clone(), take as Diff));
        }
        seen += n;
    }
    out
}

impl Footprint for BTreeMap<Ranked, Diff> {
    fn footprint(&self) -> StateSize {
        let mut size = sampled(self.keys(), self.len(), |r| StateSize { records: 1, bytes: row_heap_bytes(&r.row) + row_heap_bytes(&r.keys) });
        // A B-tree node holds up to 11 entries; count it as full enough.
        size.bytes += (self.len() * (std::mem::size_of::<(Ranked, Diff)>() + 8)) as u64;
        size
    }
}

/// Per group of `keyed` (group key, row), the rows of the window.
pub fn render<'s>(keyed: VecCollection<'s, Timestamp, (Row, Row), Diff>, order_by: Vec<SortKey>, limit: Option<usize>, offset: usize, state: &StateReport) -> VecCollection<'s, Timestamp, Row, Diff> {
    let order_by: Rc<[SortKey]> = order_by.into();
    let groups = state.keyed::<BTreeMap<Ranked, Diff>>();
    per_key(keyed, "TopK", move |key, updates, out| {
        let mut groups = groups.borrow_mut();
        let group = groups.entry(key.clone()).or_default();
        let before = window(group, limit, offset);
        for (_, row, diff) in updates {
            match group.entry(Ranked::new(row.clone(), &order_by)) {
                Entry::Occupied(mut e) => {
                    *e.get_mut() += diff;
                    if *e.get() == 0 {
                        e.remove();
                    }
                }
                Entry::Vacant(e) => {
                    e.insert(*diff);
                }
            }
        }
        let after = window(group, limit, offset);
        if before != after {
            // Rows in the window before and after cancel out.
            let mut changes: Vec<(Row, Diff)> = before.into_iter().map(|(r, d)| (r, -d)).chain(after).collect();
            consolidate(&mut changes);
            out.extend(changes);
        }
        if group.is_empty() {
            groups.remove(key);
        }
    })
}
