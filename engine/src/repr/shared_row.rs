//! [`SharedRow`]: a row as the arrangements of views and tables keep it.

use super::{Datum, Row};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::ops::Deref;
use std::sync::Arc;

/// A row whose datums are shared: cloning it counts a reference instead of
/// copying the row.
///
/// Why: an arrangement merges its batches over and over as it grows (each
/// update is copied about once per doubling of the trace), and with rows as
/// [`Row`]s every copy allocated a new vector and cloned each datum. On the
/// saga's views that was most of the merging, itself 20-28% of the worker's
/// time (`benches/timestamp_cost`). Rows are immutable once arranged, so
/// merges can share them. Compared, hashed and ordered as the row.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct SharedRow(Arc<[Datum]>);

impl From<Row> for SharedRow {
    fn from(row: Row) -> Self {
        SharedRow(row.into())
    }
}

impl Deref for SharedRow {
    type Target = [Datum];
    fn deref(&self) -> &[Datum] {
        &self.0
    }
}

impl Serialize for SharedRow {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for SharedRow {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Row::deserialize(d).map(SharedRow::from)
    }
}
