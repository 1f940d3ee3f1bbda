//! Reductions that recompute a group's output from the group's rows,
//! keeping each group's rows and last output in the operator.
//!
//! Semantics: as differential-dataflow's `reduce`. For each key, `logic`
//! gets the group's current rows (consolidated, sorted, with their nonzero
//! multiplicities) and pushes the group's output; a group with no rows has
//! no output. Each complete timestamp emits, per key it changed, the new
//! output minus the previous one.
//!
//! Why not differential's `reduce`: it arranges its input and its output,
//! and for every changed key walks cursors over both traces and replays
//! their histories. Measured on the saga benchmark, that cost 250-750 us
//! per activation whatever the number of records (most of eddy's groups
//! hold a handful of rows: one order's events). Here a changed key costs a
//! hash lookup, the group's rows and one call of `logic`: the `Reduce` of
//! `shipments` went from 182 ms to 27-63 ms per 4 s at 1,000 orders/s, and
//! the whole server from 8.9-9.1 s to 8.2-8.5 s of CPU for 500 orders/s
//! over 10 s at a 20 ms tick (3 runs each; a 100 ms tick, where
//! timestamps carry more rows each, showed no difference). What it gives up:
//! the output is not an arrangement another operator could share (no
//! caller shared it), and timestamps must be totally ordered (they are).
//!
//! Updates are stashed per time and applied in time order once the input
//! frontier has passed them, as in [`super::window`]. Groups are spread over
//! workers by the hash of their key.

use super::stash::TimeStash;
use crate::repr::Row;
use crate::{Diff, Timestamp};
use differential_dataflow::consolidation::consolidate;
use differential_dataflow::hashable::Hashable;
use differential_dataflow::{AsCollection, VecCollection};
use std::collections::HashMap;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;

/// One group: its rows and the output `logic` last gave for them.
struct Group<D> {
    rows: Vec<(Row, Diff)>,
    output: Vec<(D, Diff)>,
}

/// Reduces each group of `keyed` (key, row) with `logic`.
pub fn render<'s, D, F>(keyed: VecCollection<'s, Timestamp, (Row, Row), Diff>, name: &str, mut logic: F) -> VecCollection<'s, Timestamp, D, Diff>
where
    D: differential_dataflow::Data,
    F: FnMut(&Row, &[(&Row, Diff)], &mut Vec<(D, Diff)>) + 'static,
{
    let exchange = Exchange::new(|update: &((Row, Row), Timestamp, Diff)| (update.0).0.hashed());
    keyed
        .inner
        .unary_frontier(exchange, name, move |_cap, _info| {
            let mut groups: HashMap<Row, Group<D>> = HashMap::new();
            let mut stash = TimeStash::default();
            move |(input, frontier), output| {
                input.for_each(|cap, data| stash.hold(&cap, data.drain(..).map(|((key, row), time, diff)| (time, (key, row, diff)))));
                stash.release(&[frontier], |at, time, mut updates| {
                    let mut session = output.session(at);
                    updates.sort_by(|a, b| a.0.cmp(&b.0));
                    let mut changes = Vec::new();
                    for batch in updates.chunk_by(|a, b| a.0 == b.0) {
                        let key = &batch[0].0;
                        let group = groups.entry(key.clone()).or_insert_with(|| Group { rows: Vec::new(), output: Vec::new() });
                        group.rows.extend(batch.iter().map(|(_, row, diff)| (row.clone(), *diff)));
                        consolidate(&mut group.rows);
                        let mut new = Vec::new();
                        if !group.rows.is_empty() {
                            let vals: Vec<(&Row, Diff)> = group.rows.iter().map(|(r, d)| (r, *d)).collect();
                            logic(key, &vals, &mut new);
                            consolidate(&mut new);
                        }
                        if new != group.output {
                            changes.extend(group.output.drain(..).map(|(d, r)| (d, -r)));
                            changes.extend(new.iter().cloned());
                            group.output = new;
                        }
                        if group.rows.is_empty() {
                            groups.remove(key);
                        }
                    }
                    consolidate(&mut changes);
                    for (d, r) in changes {
                        session.give((d, time, r));
                    }
                });
            }
        })
        .as_collection()
}
