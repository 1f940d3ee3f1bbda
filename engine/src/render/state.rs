//! How much state the operators of our own hold (DESIGN decision 4: the
//! size of every piece of arranged state is reported).
//!
//! Differential's arrangements are measured by the worker from their
//! batches. The operators of our own ([`super::reduce`],
//! [`super::accumulate`], [`super::top_k`], [`super::window`],
//! [`super::left_join`]) keep a hash map from key to per-key state instead;
//! each makes that map with [`StateReport::keyed`], which shares it with a
//! reporter of the dataflow. A report walks a sample of each map (at most
//! [`SAMPLE`] keys, and as many entries of each key's rows) and scales up:
//! its cost does not grow with the state, so it can run every second. The
//! figures are estimates: records within the sample's error, bytes as the
//! rows' own memory plus the maps' tables, not the allocator's rounding.
//!
//! What it does not count: updates held until their time is complete (a
//! timestamp's worth at most) and timely's buffers.

use crate::repr::{Datum, Row, SharedRow};
use std::cell::RefCell;
use std::collections::HashMap;
use std::mem::size_of;
use std::rc::Rc;

/// Keys (and rows of one key) looked at per report.
pub const SAMPLE: usize = 256;

/// An amount of state: records (rows, or groups for an aggregate) and bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StateSize {
    pub records: u64,
    pub bytes: u64,
}

impl std::ops::AddAssign for StateSize {
    fn add_assign(&mut self, o: StateSize) {
        self.records += o.records;
        self.bytes += o.bytes;
    }
}

/// What one key's state holds: its records and the heap bytes they own
/// (the value's own inline size is counted with the map).
pub trait Footprint {
    fn footprint(&self) -> StateSize;
}

/// The heap bytes of `row`: its datums, and strings too long to be inline.
pub fn row_heap_bytes(row: &Row) -> u64 {
    datums_heap_bytes(row, row.capacity())
}

/// The heap bytes of a [`SharedRow`]: its datums, their strings, and the
/// reference counts.
pub fn shared_row_heap_bytes(row: &SharedRow) -> u64 {
    datums_heap_bytes(row, row.len()) + 2 * size_of::<usize>() as u64
}

/// The heap bytes of `slots` datums' room holding `datums`.
fn datums_heap_bytes(datums: &[Datum], slots: usize) -> u64 {
    fn heap(d: &Datum) -> usize {
        match d {
            Datum::Text(s) | Datum::Jsonb(s) if s.is_heap_allocated() => s.len() + 16,
            // An array's elements live on the heap, with their own strings.
            Datum::Array(items) => items.capacity() * size_of::<Datum>() + items.iter().map(heap).sum::<usize>(),
            _ => 0,
        }
    }
    (slots * size_of::<Datum>() + datums.iter().map(heap).sum::<usize>()) as u64
}

/// The footprint of `len` items, from at most [`SAMPLE`] of them scaled up.
pub fn sampled<'a, T: 'a>(items: impl Iterator<Item = T>, len: usize, f: impl Fn(T) -> StateSize) -> StateSize {
    let mut sum = StateSize::default();
    let mut seen = 0;
    for item in items.take(SAMPLE) {
        sum += f(item);
        seen += 1;
    }
    if seen == 0 {
        return sum;
    }
    let scale = len as f64 / seen as f64;
    StateSize { records: (sum.records as f64 * scale).round() as u64, bytes: (sum.bytes as f64 * scale).round() as u64 }
}

/// The footprint of rows with multiplicities (one record per row).
pub fn rows_footprint<'a>(rows: impl Iterator<Item = &'a Row>, len: usize) -> StateSize {
    let mut size = sampled(rows, len, |r| StateSize { records: 1, bytes: row_heap_bytes(r) });
    size.bytes += (len * size_of::<(Row, crate::Diff)>()) as u64;
    size
}

/// The state reporters of one dataflow; cheap to clone (shared).
#[derive(Clone, Default)]
pub struct StateReport(Rc<RefCell<Vec<Box<dyn Fn() -> StateSize>>>>);

impl StateReport {
    /// A new, empty map from key to `V`, reported with this dataflow.
    pub fn keyed<V: Footprint + 'static>(&self) -> Rc<RefCell<HashMap<Row, V>>> {
        let map: Rc<RefCell<HashMap<Row, V>>> = Rc::default();
        let shared = map.clone();
        self.0.borrow_mut().push(Box::new(move || {
            let map = shared.borrow();
            let mut size = sampled(map.iter(), map.len(), |(k, v)| {
                let mut s = v.footprint();
                s.bytes += row_heap_bytes(k);
                s
            });
            // The table: one slot (key, value and a control byte) per bucket.
            size.bytes += (map.capacity() * (size_of::<(Row, V)>() + 1)) as u64;
            size
        }));
        map
    }

    /// The state held now by every map made with [`Self::keyed`].
    pub fn size(&self) -> StateSize {
        let mut total = StateSize::default();
        for report in self.0.borrow().iter() {
            total += report();
        }
        total
    }
}
