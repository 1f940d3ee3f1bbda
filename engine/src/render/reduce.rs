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
//! Updates are applied per key once their time is complete
//! ([`super::stash::per_key`]).

use super::state::{rows_footprint, Footprint, StateReport, StateSize};
use super::stash::per_key;
use crate::repr::Row;
use crate::{Diff, Timestamp};
use differential_dataflow::consolidation::consolidate;
use differential_dataflow::VecCollection;

/// One group: its rows and the output `logic` last gave for them.
struct Group<D> {
    rows: Vec<(Row, Diff)>,
    output: Vec<(D, Diff)>,
}

impl<D> Footprint for Group<D> {
    fn footprint(&self) -> StateSize {
        let mut size = rows_footprint(self.rows.iter().map(|(r, _)| r), self.rows.len());
        size.bytes += (self.output.capacity() * std::mem::size_of::<(D, Diff)>()) as u64;
        size
    }
}

/// Reduces each group of `keyed` (key, row) with `logic`.
pub fn render<'s, D, F>(keyed: VecCollection<'s, Timestamp, (Row, Row), Diff>, name: &str, state: &StateReport, mut logic: F) -> VecCollection<'s, Timestamp, D, Diff>
where
    D: differential_dataflow::Data,
    F: FnMut(&Row, &[(&Row, Diff)], &mut Vec<(D, Diff)>) + 'static,
{
    let groups = state.keyed::<Group<D>>();
    per_key(keyed, name, move |key, updates, out| {
        let mut groups = groups.borrow_mut();
        let group = groups.entry(key.clone()).or_insert_with(|| Group { rows: Vec::new(), output: Vec::new() });
        group.rows.extend(updates.iter().map(|(_, row, diff)| (row.clone(), *diff)));
        consolidate(&mut group.rows);
        let mut new = Vec::new();
        if !group.rows.is_empty() {
            let vals: Vec<(&Row, Diff)> = group.rows.iter().map(|(r, d)| (r, *d)).collect();
            logic(key, &vals, &mut new);
            consolidate(&mut new);
        }
        if new != group.output {
            out.extend(group.output.drain(..).map(|(d, r)| (d, -r)));
            out.extend(new.iter().cloned());
            group.output = new;
        }
        if group.rows.is_empty() {
            groups.remove(key);
        }
    })
}
