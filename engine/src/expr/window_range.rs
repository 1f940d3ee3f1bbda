//! RANGE frames with offsets: `RANGE BETWEEN INTERVAL '1 hour' PRECEDING
//! AND CURRENT ROW`, the rows whose ORDER BY value lies within an offset
//! of the current row's (PostgreSQL's semantics, one ORDER BY key).
//!
//! Row `i`'s frame starts at the first row whose key is not before
//! `key_i - offset` in the sort order (`+` for FOLLOWING, the other way
//! round for DESC) and ends after the last row whose key is not after the
//! end bound; CURRENT ROW is the key itself, so peers are in. A row whose
//! key is NULL sees the NULL rows (its peers), and unbounded ends reach
//! the partition's ends. The bounds are found by binary search over the
//! sorted keys: O(log n) per row.

use super::func::compare;
use super::{BinaryFunc, EvalError, SortKey};
use crate::repr::{Datum, ScalarType};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

/// One end of a RANGE frame: `offset PRECEDING` / `FOLLOWING`, or CURRENT
/// ROW when `offset` is `None`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RangeOffset {
    pub offset: Option<Datum>,
    pub following: bool,
}

/// RANGE BETWEEN `start` AND `end` (`None`: unbounded) over ORDER BY
/// values of type `key_type`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RangeFrame {
    pub start: Option<RangeOffset>,
    pub end: Option<RangeOffset>,
    pub key_type: ScalarType,
}

impl RangeFrame {
    /// Whether no row's frame reaches past its last peer.
    pub fn ends_at_current(&self) -> bool {
        self.end.as_ref().is_some_and(|e| !e.following || e.offset.is_none())
    }

    /// The key `offset` away from `key` in the direction `toward_end`
    /// (toward the end of the sort order).
    fn shifted(&self, key: &Datum, bound: &RangeOffset, toward_end: bool, desc: bool) -> Result<Datum, EvalError> {
        let Some(offset) = &bound.offset else { return Ok(key.clone()) };
        // Toward the end of an ascending order is a larger key.
        let add = toward_end != desc;
        let f = if add { BinaryFunc::Add(self.key_type) } else { BinaryFunc::Sub(self.key_type) };
        f.eval(key.clone(), offset.clone())
    }

    /// Row `i`'s frame as a half-open range of the partition, given every
    /// row's ORDER BY value (sorted by `order`).
    pub fn bounds(&self, keys: &[Datum], order: &SortKey, i: usize) -> Result<(usize, usize), EvalError> {
        let n = keys.len();
        let nulls = keys.iter().filter(|k| k.is_null()).count();
        let (a, b) = if order.nulls_first { (nulls, n) } else { (0, n - nulls) };
        if keys[i].is_null() {
            let (first, last) = if order.nulls_first { (0, nulls) } else { (n - nulls, n) };
            return Ok((if self.start.is_none() { 0 } else { first }, if self.end.is_none() { n } else { last }));
        }
        // In sort order: Less when x sorts before y.
        let cmp = |x: &Datum, y: &Datum| if order.desc { compare(y, x) } else { compare(x, y) };
        let lo = match &self.start {
            None => 0,
            Some(s) => {
                let target = self.shifted(&keys[i], s, s.following, order.desc)?;
                a + keys[a..b].partition_point(|x| cmp(x, &target) == Ordering::Less)
            }
        };
        let hi = match &self.end {
            None => n,
            Some(e) => {
                let target = self.shifted(&keys[i], e, e.following, order.desc)?;
                a + keys[a..b].partition_point(|x| cmp(x, &target) != Ordering::Greater)
            }
        };
        Ok((lo, hi))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::ScalarExpr;

    #[test]
    fn offsets_follow_the_sort_direction() {
        let keys: Vec<Datum> = [1, 2, 4, 7].iter().map(|k| Datum::Int(*k)).collect();
        let back = |o: i64| Some(RangeOffset { offset: Some(Datum::Int(o)), following: false });
        let current = Some(RangeOffset { offset: None, following: false });
        let frame = RangeFrame { start: back(2), end: current.clone(), key_type: ScalarType::Int64 };
        let asc = SortKey { expr: ScalarExpr::Column(0), desc: false, nulls_first: false };
        assert_eq!(frame.bounds(&keys, &asc, 2).unwrap(), (1, 3)); // 2..=4
        assert_eq!(frame.bounds(&keys, &asc, 3).unwrap(), (3, 4)); // 5..=7
        let desc_keys: Vec<Datum> = keys.iter().rev().cloned().collect();
        let desc = SortKey { expr: ScalarExpr::Column(0), desc: true, nulls_first: true };
        assert_eq!(frame.bounds(&desc_keys, &desc, 1).unwrap(), (1, 2)); // 4..=6 of 7,4,2,1
        let ahead = RangeFrame { start: current, end: Some(RangeOffset { offset: Some(Datum::Int(3)), following: true }), key_type: ScalarType::Int64 };
        assert_eq!(ahead.bounds(&keys, &asc, 0).unwrap(), (0, 3)); // 1..=4
        assert!(!ahead.ends_at_current());
    }
}
