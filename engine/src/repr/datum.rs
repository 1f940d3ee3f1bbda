//! The value of one column in one row.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

/// An immutable string: up to 23 bytes inline, longer ones shared behind
/// an `Arc`, so cloning a row never copies string bytes (rows are cloned at
/// every operator boundary; with `String` the allocations dominated the
/// workers' profile). Compares and hashes as `str`.
pub type Str = smol_str::SmolStr;

/// One SQL value. The column's [`super::ScalarType`] says how to read it:
/// every integer type is an `Int`, `text`/`varchar` a `Text`, and so on.
/// Fixed-width values carry no heap allocation; strings are [`Str`]s.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Datum {
    Null,
    Bool(bool),
    Int(i64),
    Float(F64),
    Numeric(Decimal),
    Text(Str),
    /// Days since 1970-01-01.
    Date(i32),
    /// Microseconds since 1970-01-01 00:00:00 (no time zone).
    Timestamp(i64),
    /// Microseconds since 1970-01-01 00:00:00 UTC.
    TimestampTz(i64),
    Interval(Interval),
    /// JSON text in canonical form.
    Jsonb(Str),
    /// A one-dimensional array's elements, from index 1 (the column's type
    /// says the elements' type). Arrays compare element by element, then
    /// by length, as in PostgreSQL.
    Array(Vec<Datum>),
}

impl Datum {
    pub fn is_null(&self) -> bool {
        matches!(self, Datum::Null)
    }
    pub fn text(s: impl AsRef<str>) -> Datum {
        Datum::Text(Str::new(s))
    }
    pub fn float(f: f64) -> Datum {
        Datum::Float(F64(f))
    }
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Datum::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

/// An `f64` with PostgreSQL's total order: NaN equals NaN and sorts above
/// every other value; -0 equals 0.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct F64(pub f64);

impl F64 {
    fn key(self) -> f64 {
        if self.0 == 0.0 {
            0.0
        } else {
            self.0
        }
    }
}
impl PartialEq for F64 {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for F64 {}
impl PartialOrd for F64 {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for F64 {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self.0.is_nan(), other.0.is_nan()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            _ => self.key().partial_cmp(&other.key()).unwrap(),
        }
    }
}
impl Hash for F64 {
    fn hash<H: Hasher>(&self, state: &mut H) {
        if self.0.is_nan() {
            u64::MAX.hash(state)
        } else {
            self.key().to_bits().hash(state)
        }
    }
}

/// A PostgreSQL interval: months, days and microseconds kept apart, because
/// a month has no fixed number of days. Ordered as PostgreSQL orders them,
/// by the total assuming 30-day months and 24-hour days.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct Interval {
    pub months: i32,
    pub days: i32,
    pub micros: i64,
}

/// The days (from 1970-01-01) of the dates eddy computes with: chrono's
/// range, about 262,000 years either side of 1 AD. PostgreSQL's dates go
/// further (to 5874897 AD, its timestamps to 294276 AD); arithmetic that
/// leaves this range is an error (22008), as leaving PostgreSQL's is there.
pub fn date_range() -> (i64, i64) {
    static RANGE: std::sync::OnceLock<(i64, i64)> = std::sync::OnceLock::new();
    *RANGE.get_or_init(|| {
        let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("a valid date");
        (chrono::NaiveDate::MIN.signed_duration_since(epoch).num_days(), chrono::NaiveDate::MAX.signed_duration_since(epoch).num_days())
    })
}

/// Whether a date (days from 1970-01-01) is in [`date_range`].
pub fn date_in_range(days: i64) -> bool {
    let (lo, hi) = date_range();
    (lo..=hi).contains(&days)
}

/// Whether a timestamp (microseconds from 1970-01-01) falls on a day of
/// [`date_range`].
pub fn timestamp_in_range(us: i64) -> bool {
    date_in_range(us.div_euclid(Interval::MICROS_PER_DAY))
}

impl Interval {
    pub const MICROS_PER_DAY: i64 = 86_400_000_000;
    fn total(&self) -> i128 {
        (self.months as i128 * 30 + self.days as i128) * Self::MICROS_PER_DAY as i128 + self.micros as i128
    }
}
impl PartialEq for Interval {
    fn eq(&self, other: &Self) -> bool {
        self.total() == other.total()
    }
}
impl Eq for Interval {}
impl PartialOrd for Interval {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Interval {
    fn cmp(&self, other: &Self) -> Ordering {
        self.total().cmp(&other.total())
    }
}
impl Hash for Interval {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.total().hash(state)
    }
}
