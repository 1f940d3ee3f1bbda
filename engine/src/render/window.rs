//! Window functions maintained per partition, without re-sorting it.
//!
//! Semantics: for each row of the input, the output is the row followed by
//! each window function's value over the row's partition (rows with equal
//! `partition_by` values) in `order_by` order, the row itself breaking ties
//! so that results do not depend on arrival order. Errors raised while
//! evaluating a partition replace that partition's output with one error.
//!
//! Algorithm: a reduce would hand the operator the whole partition on every
//! change and have it sort, copy and evaluate all of it, and would then
//! diff the whole output against the last one. This operator instead keeps
//! each partition sorted, with the window values it last produced. The
//! updates of one timestamp are merged into the sorted rows from the first
//! position they touch; the partition is evaluated again (linear, see
//! [`crate::expr::RunningAggregate`]); and only outputs that changed are
//! emitted: rows from the first touched position on, and earlier rows
//! whose values changed (only possible for frames that look ahead).
//! Appending at the end of a long partition, the common streaming case,
//! emits one row instead of the whole partition.
//!
//! Timestamps are totally ordered: updates are stashed per time and
//! applied in time order once the input frontier has passed them.
//! Partitions are spread over workers by the hash of their key.

use crate::expr::{EvalError, SortKey, WindowExpr};
use super::state::{rows_footprint, Footprint, StateReport, StateSize};
use super::stash::per_key;
use crate::repr::{Datum, Row};
use crate::{Diff, Timestamp};
use differential_dataflow::consolidation::consolidate;
use differential_dataflow::VecCollection;
use std::cmp::Ordering;

/// One partition: its rows in window order (a row appears once per unit of
/// multiplicity), each row's window values, or the error it evaluated to.
#[derive(Default)]
struct Partition {
    rows: Vec<Row>,
    values: Vec<Vec<Datum>>,
    error: Option<EvalError>,
}

impl Footprint for Partition {
    fn footprint(&self) -> StateSize {
        let rows = rows_footprint(self.rows.iter(), self.rows.len());
        let values = rows_footprint(self.values.iter(), self.values.len());
        StateSize { records: rows.records, bytes: rows.bytes + values.bytes }
    }
}

/// Renders `keyed` (partition key, row) as the window's output rows.
pub fn render<'s>(keyed: VecCollection<'s, Timestamp, (Row, Row), Diff>, order_by: Vec<SortKey>, exprs: Vec<WindowExpr>, state: &StateReport) -> VecCollection<'s, Timestamp, Result<Row, EvalError>, Diff> {
    let partitions = state.keyed::<Partition>();
    per_key(keyed, "Window", move |key, updates, out| {
        let mut partitions = partitions.borrow_mut();
        let mut changes: Vec<(Row, Diff)> = updates.iter().map(|(_, row, diff)| (row.clone(), *diff)).collect();
        consolidate(&mut changes);
        let part = partitions.entry(key.clone()).or_default();
        update_partition(part, changes, &order_by, &exprs, out);
        if part.rows.is_empty() && part.error.is_none() {
            partitions.remove(key);
        }
    })
}

/// The window order: `order_by`, then the whole row.
fn window_order(order_by: &[SortKey], a: &Row, b: &Row) -> Ordering {
    SortKey::compare_rows(order_by, a, b).then_with(|| a.cmp(b))
}

/// Applies one time's consolidated `changes` to `part` and pushes the
/// changes of its output to `out`.
fn update_partition(part: &mut Partition, mut changes: Vec<(Row, Diff)>, order_by: &[SortKey], exprs: &[WindowExpr], out: &mut Vec<(Result<Row, EvalError>, Diff)>) {
    if changes.is_empty() {
        return;
    }
    changes.sort_by(|a, b| window_order(order_by, &a.0, &b.0));
    // Rows that sort before the first changed row and its peers stay where
    // they are; so do their values when every function looks back only.
    let first = part.rows.partition_point(|r| SortKey::compare_rows(order_by, r, &changes[0].0) == Ordering::Less);
    let old_rows = part.rows.split_off(first);
    let old_values = if part.error.is_none() { part.values.split_off(first.min(part.values.len())) } else { Vec::new() };
    part.rows.extend(merge(&old_rows, &changes, order_by));

    let mut emitted: Vec<(Result<Row, EvalError>, Diff)> = Vec::new();
    match &part.error {
        // The old output was one error: retract it and everything is new.
        Some(e) => emitted.push((Err(e.clone()), -1)),
        None => {
            for (row, vals) in old_rows.iter().zip(&old_values) {
                emitted.push((Ok(output_row(row, vals)), -1));
            }
        }
    }
    let had_error = part.error.take().is_some();
    // Rows before `from` keep their values (see `first`), or are compared.
    let from = if !had_error && exprs.iter().all(WindowExpr::looks_back_only) { first } else { 0 };
    match evaluate(&part.rows, order_by, exprs, from, part.values.get(from.wrapping_sub(1))) {
        Err(e) => {
            if !had_error {
                // Retract the unchanged prefix too: the error replaces it all.
                for (row, vals) in part.rows[..first].iter().zip(&part.values) {
                    emitted.push((Ok(output_row(row, vals)), -1));
                }
            }
            emitted.push((Err(e.clone()), 1));
            part.error = Some(e);
            part.values.clear();
        }
        Ok(values) => {
            for (i, vals) in (from..).zip(&values) {
                let row = &part.rows[i];
                if i >= first || had_error {
                    emitted.push((Ok(output_row(row, vals)), 1));
                } else if part.values[i] != *vals {
                    emitted.push((Ok(output_row(row, &part.values[i])), -1));
                    emitted.push((Ok(output_row(row, vals)), 1));
                }
            }
            part.values.truncate(from);
            part.values.extend(values);
        }
    }
    consolidate(&mut emitted);
    out.extend(emitted);
}

/// The old rows with `changes` (sorted in window order) applied.
fn merge(old: &[Row], changes: &[(Row, Diff)], order_by: &[SortKey]) -> Vec<Row> {
    let mut merged = Vec::with_capacity(old.len() + changes.len());
    let mut old = old.iter().peekable();
    for (row, diff) in changes {
        while let Some(r) = old.next_if(|r| window_order(order_by, r, row) == Ordering::Less) {
            merged.push(r.clone());
        }
        let mut count = *diff;
        while old.next_if(|r| *r == row).is_some() {
            count += 1;
        }
        // A retraction of more copies than exist leaves none (it cannot
        // happen for a valid collection).
        for _ in 0..count.max(0) {
            merged.push(row.clone());
        }
    }
    merged.extend(old.cloned());
    merged
}

/// The window values of rows `start..`, given row `start - 1`'s values.
fn evaluate(rows: &[Row], order_by: &[SortKey], exprs: &[WindowExpr], start: usize, before: Option<&Vec<Datum>>) -> Result<Vec<Vec<Datum>>, EvalError> {
    let mut values: Vec<Vec<Datum>> = vec![Vec::with_capacity(exprs.len()); rows.len() - start];
    for (j, e) in exprs.iter().enumerate() {
        for (v, column) in values.iter_mut().zip(e.eval_from(rows, order_by, start, before.map(|b| &b[j]))?) {
            v.push(column);
        }
    }
    Ok(values)
}

fn output_row(row: &Row, values: &[Datum]) -> Row {
    let mut out = Vec::with_capacity(row.len() + values.len());
    out.extend(row.iter().cloned());
    out.extend(values.iter().cloned());
    out
}
