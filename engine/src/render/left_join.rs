//! Left outer equi-join ([`crate::plan::Plan::LeftJoin`]) in one operator
//! that keeps both inputs by key.
//!
//! Semantics: per key `k`, the output is `L_k × pad(R_k)`, where `L_k` and
//! `R_k` are the rows of each side with key `k` (with multiplicities) and
//! `pad(R_k)` is `R_k`, or one all-NULL row when `R_k` is empty. Left rows
//! whose key is NULL (without `null_eq`) or failed to evaluate match
//! nothing: they come out padded, without state.
//!
//! Algorithm: when a time changes `L_k` by `ΔL` and `R_k` by `ΔR`, the
//! output changes by
//!
//! ```text
//! ΔL × pad(R_k + ΔR)  +  L_k × (pad(R_k + ΔR) − pad(R_k))
//! ```
//!
//! and `pad(R_k + ΔR) − pad(R_k)` is `ΔR`, minus the NULL row if `R_k` was
//! empty, plus it if `R_k + ΔR` is. The work is the change times what it
//! meets, as in differential's join: a new order line meets its product's
//! one stock row; a restock meets every line of that product, as each of
//! their output rows changes.
//!
//! Why not the lowering to an inner join, an anti-join and a union (what
//! FULL joins and joins with extra conditions still use): that is eight
//! operators per join, among them a second join against the right side's
//! distinct keys and a reduce that computes them, each maintaining an
//! arrangement. The saga view chains four left joins on the order id.
//! What this gives up: the sides are kept in this operator's hash maps,
//! so they are not arrangements another join could share, and timestamps
//! must be totally ordered (they are).

use super::state::{rows_footprint, Footprint, StateReport, StateSize};
use super::stash::TimeStash;
use super::Rows;
use crate::repr::{Datum, Row};
use crate::{Diff, Timestamp};
use differential_dataflow::consolidation::consolidate;
use differential_dataflow::hashable::Hashable;
use differential_dataflow::{AsCollection, VecCollection};
use std::collections::HashMap;
use timely::dataflow::channels::pact::Exchange;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::progress::operate::FrontierInterest;

/// Left rows with their key (`None`: matches nothing), right rows with theirs.
pub type LeftKeyed<'s> = VecCollection<'s, Timestamp, (Option<Row>, Row), Diff>;
pub type RightKeyed<'s> = VecCollection<'s, Timestamp, (Row, Row), Diff>;

/// The rows of one side with one key. Most keys hold a row or two (an
/// order's payment); a few hold thousands (a product's order lines), so
/// past a handful the rows move into a hash map, where an update is a
/// lookup rather than a scan.
enum Bag {
    Few(Vec<(Row, Diff)>),
    Many(HashMap<Row, Diff>),
}

const FEW: usize = 16;

impl Default for Bag {
    fn default() -> Self {
        Bag::Few(Vec::new())
    }
}

impl Bag {
    fn update(&mut self, row: &Row, diff: Diff) {
        match self {
            Bag::Few(rows) => {
                match rows.iter().position(|(r, _)| r == row) {
                    Some(i) => {
                        rows[i].1 += diff;
                        if rows[i].1 == 0 {
                            rows.swap_remove(i);
                        }
                    }
                    None => rows.push((row.clone(), diff)),
                }
                if rows.len() > FEW {
                    *self = Bag::Many(rows.drain(..).collect());
                }
            }
            Bag::Many(rows) => {
                let d = rows.entry(row.clone()).or_insert(0);
                *d += diff;
                if *d == 0 {
                    rows.remove(row);
                }
            }
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Bag::Few(rows) => rows.is_empty(),
            Bag::Many(rows) => rows.is_empty(),
        }
    }

    fn for_each(&self, mut f: impl FnMut(&Row, Diff)) {
        match self {
            Bag::Few(rows) => rows.iter().for_each(|(r, d)| f(r, *d)),
            Bag::Many(rows) => rows.iter().for_each(|(r, d)| f(r, *d)),
        }
    }
}

impl Bag {
    fn footprint(&self) -> StateSize {
        match self {
            Bag::Few(rows) => {
                let mut s = rows_footprint(rows.iter().map(|(r, _)| r), rows.len());
                s.bytes += ((rows.capacity() - rows.len()) * std::mem::size_of::<(Row, Diff)>()) as u64;
                s
            }
            Bag::Many(rows) => {
                let mut s = rows_footprint(rows.keys(), rows.len());
                s.bytes += ((rows.capacity() - rows.len()) * std::mem::size_of::<(Row, Diff)>() + rows.capacity()) as u64;
                s
            }
        }
    }
}

impl Footprint for Sides {
    fn footprint(&self) -> StateSize {
        let mut s = self.left.footprint();
        s += self.right.footprint();
        s
    }
}

/// Both sides' rows with one key.
#[derive(Default)]
struct Sides {
    left: Bag,
    right: Bag,
}

/// One update of either input, as held until its time is complete.
enum Update {
    Left(Option<Row>, Row, Diff),
    Right(Row, Row, Diff),
}

impl Update {
    fn key(&self) -> Option<&Row> {
        match self {
            Update::Left(k, _, _) => k.as_ref(),
            Update::Right(k, _, _) => Some(k),
        }
    }
}

fn concat(l: &Row, r: &Row) -> Row {
    let mut out = Vec::with_capacity(l.len() + r.len());
    out.extend(l.iter().cloned());
    out.extend(r.iter().cloned());
    out
}

/// Left-joins `left` with `right` (whose rows have `right_arity` columns).
pub fn render<'s>(left: LeftKeyed<'s>, right: RightKeyed<'s>, right_arity: usize, state: &StateReport) -> Rows<'s> {
    let left_exchange = Exchange::new(|u: &((Option<Row>, Row), Timestamp, Diff)| match &(u.0).0 {
        Some(k) => k.hashed(),
        None => (u.0).1.hashed(),
    });
    let right_exchange = Exchange::new(|u: &((Row, Row), Timestamp, Diff)| (u.0).0.hashed());
    let nulls: Row = vec![Datum::Null; right_arity];
    let mut builder = OperatorBuilder::new("LeftJoin".to_owned(), left.inner.scope());
    let mut left = builder.new_input(left.inner, left_exchange);
    let mut right = builder.new_input(right.inner, right_exchange);
    // Scheduled on frontier changes only while updates are held (see stash).
    builder.set_notify_for(0, FrontierInterest::IfCapability);
    builder.set_notify_for(1, FrontierInterest::IfCapability);
    let (output, stream) = builder.new_output();
    let mut output = OutputBuilder::<_, CapacityContainerBuilder<Vec<(Row, Timestamp, Diff)>>>::from(output);
    builder.build(move |_initial| {
        let keys = state.keyed::<Sides>();
        let mut stash = TimeStash::default();
        move |frontiers| {
            let mut output = output.activate();
            let (left_frontier, right_frontier) = (&frontiers[0], &frontiers[1]);
            left.for_each(|cap, data| stash.hold(&cap, data.drain(..).map(|((k, row), t, d)| (t, Update::Left(k, row, d)))));
            right.for_each(|cap, data| stash.hold(&cap, data.drain(..).map(|((k, row), t, d)| (t, Update::Right(k, row, d)))));
            stash.release(&[left_frontier, right_frontier], |at, time, mut updates| {
                let mut keys = keys.borrow_mut();
                let mut out: Vec<(Row, Diff)> = Vec::new();
                updates.sort_by(|a, b| a.key().cmp(&b.key()));
                for group in updates.chunk_by(|a, b| a.key() == b.key()) {
                    let Some(key) = group[0].key() else {
                        // NULL or failed keys: padded, nothing kept.
                        for u in group {
                            if let Update::Left(_, row, d) = u {
                                out.push((concat(row, &nulls), *d));
                            }
                        }
                        continue;
                    };
                    let (mut dl, mut dr) = (Vec::new(), Vec::new());
                    for u in group {
                        match u {
                            Update::Left(_, row, d) => dl.push((row.clone(), *d)),
                            Update::Right(_, row, d) => dr.push((row.clone(), *d)),
                        }
                    }
                    consolidate(&mut dl);
                    consolidate(&mut dr);
                    let sides = keys.entry(key.clone()).or_default();
                    if !dr.is_empty() {
                        // L_k × (pad(R_k + ΔR) − pad(R_k)), with the old L_k.
                        let was_empty = sides.right.is_empty();
                        for (row, d) in &dr {
                            sides.right.update(row, *d);
                        }
                        let mut dpad = dr;
                        if was_empty {
                            dpad.push((nulls.clone(), -1));
                        }
                        if sides.right.is_empty() {
                            dpad.push((nulls.clone(), 1));
                        }
                        consolidate(&mut dpad);
                        sides.left.for_each(|l, ld| out.extend(dpad.iter().map(|(r, rd)| (concat(l, r), ld * rd))));
                    }
                    // ΔL × pad(R_k + ΔR).
                    for (l, ld) in &dl {
                        if sides.right.is_empty() {
                            out.push((concat(l, &nulls), *ld));
                        } else {
                            sides.right.for_each(|r, rd| out.push((concat(l, r), ld * rd)));
                        }
                        sides.left.update(l, *ld);
                    }
                    if sides.left.is_empty() && sides.right.is_empty() {
                        keys.remove(key);
                    }
                }
                consolidate(&mut out);
                let mut session = output.session(at);
                for (row, d) in out {
                    session.give((row, time, d));
                }
            });
        }
    });
    stream.as_collection()
}
