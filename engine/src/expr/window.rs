//! Window functions, computed over one sorted partition at a time.

use super::{AggregateExpr, EvalError, RunningAggregate, ScalarExpr, SortKey};
use crate::repr::Datum;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum WindowFunc {
    RowNumber,
    Rank,
    DenseRank,
    /// `lag(value [, offset [, default]])`; args hold value, offset, default.
    Lag,
    Lead,
    FirstValue,
    LastValue,
    /// `nth_value(value, n)`: the value at the frame's n-th row (1-based).
    NthValue,
    /// `ntile(k)`: the row's bucket, 1..k, of k buckets as equal as can be
    /// (the first ones one row larger).
    Ntile,
    /// `percent_rank()`: (rank - 1) / (rows - 1), 0 for one row.
    PercentRank,
    /// `cume_dist()`: rows sorting before or with this one, over all rows.
    CumeDist,
    /// An aggregate over the frame.
    Aggregate(AggregateExpr),
}

/// Which rows of the partition an aggregate sees from the current row.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum WindowFrame {
    /// The whole partition (no ORDER BY, or UNBOUNDED both ways).
    Partition,
    /// RANGE UNBOUNDED PRECEDING to CURRENT ROW: up to the last peer.
    RangeToCurrent,
    /// ROWS BETWEEN start AND end, offsets relative to the current row
    /// (`None` is unbounded).
    Rows { start: Option<i64>, end: Option<i64> },
    /// RANGE BETWEEN offsets of the ORDER BY value (see [`super::window_range`]).
    Range(super::window_range::RangeFrame),
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct WindowExpr {
    pub func: WindowFunc,
    pub args: Vec<ScalarExpr>,
    pub frame: WindowFrame,
}

impl WindowExpr {
    /// Whether a row's value depends only on the rows up to its last peer
    /// (no frame or offset looks ahead). Then a change leaves the values of
    /// all rows that sort before the changed rows' peers as they were, and
    /// [`WindowExpr::eval_from`] can resume at the first changed peer group.
    pub fn looks_back_only(&self) -> bool {
        let frame_ends_at_current = match &self.frame {
            WindowFrame::Partition => false,
            WindowFrame::RangeToCurrent => true,
            WindowFrame::Rows { end, .. } => end.is_some_and(|e| e <= 0),
            WindowFrame::Range(r) => r.ends_at_current(),
        };
        match &self.func {
            WindowFunc::RowNumber | WindowFunc::Rank | WindowFunc::DenseRank => true,
            // lag with a negative offset looks ahead.
            WindowFunc::Lag => match self.args.get(1) {
                None => true,
                Some(ScalarExpr::Literal(Datum::Int(k), _)) => *k >= 0,
                Some(_) => false,
            },
            // These depend on the partition's size.
            WindowFunc::Lead | WindowFunc::Ntile | WindowFunc::PercentRank | WindowFunc::CumeDist => false,
            WindowFunc::FirstValue | WindowFunc::LastValue | WindowFunc::NthValue | WindowFunc::Aggregate(_) => frame_ends_at_current,
        }
    }

    /// Computes this window function for every row of a partition already
    /// sorted by `order_by`.
    pub fn eval_partition(&self, rows: &[Vec<Datum>], order_by: &[SortKey]) -> Result<Vec<Datum>, EvalError> {
        self.eval_from(rows, order_by, 0, None)
    }

    /// The values of rows `start..` of a partition sorted by `order_by`,
    /// where `start` begins a peer group and `before` is row `start - 1`'s
    /// value (it lets rank counters and running aggregates resume). For
    /// `start > 0` the function must [look back only](Self::looks_back_only).
    pub fn eval_from(&self, rows: &[Vec<Datum>], order_by: &[SortKey], start: usize, before: Option<&Datum>) -> Result<Vec<Datum>, EvalError> {
        let n = rows.len();
        let peers = |a: usize, b: usize| SortKey::compare_rows(order_by, &rows[a], &rows[b]).is_eq();
        // last_peer[i - start]: index of the last row that sorts equal to row i.
        let mut last_peer = vec![0; n - start];
        for i in (start..n).rev() {
            last_peer[i - start] = if i + 1 < n && peers(i, i + 1) { last_peer[i + 1 - start] } else { i };
        }
        let keys = match (&self.frame, order_by.first()) {
            (WindowFrame::Range(_), Some(k)) => rows.iter().map(|r| k.expr.eval(r)).collect::<Result<Vec<_>, _>>()?,
            _ => Vec::new(),
        };
        let bounds = |i: usize, last_peer: usize| self.frame_bounds(i, n, last_peer, &keys, order_by);
        if let WindowFunc::Aggregate(agg) = &self.func {
            return self.aggregate_frames(agg, rows, start, before, &last_peer, bounds);
        }
        let mut out = Vec::with_capacity(n - start);
        let mut rank = 0i64;
        let mut dense = match before {
            Some(Datum::Int(d)) if matches!(self.func, WindowFunc::DenseRank) => *d,
            _ => 0,
        };
        for i in start..n {
            let new_group = i == start || !peers(i - 1, i);
            if new_group {
                rank = i as i64 + 1;
                dense += 1;
            }
            let v = match &self.func {
                WindowFunc::RowNumber => Datum::Int(i as i64 + 1),
                WindowFunc::Rank => Datum::Int(rank),
                WindowFunc::DenseRank => Datum::Int(dense),
                WindowFunc::Lag | WindowFunc::Lead => {
                    let offset = match self.args.get(1).map(|e| e.eval(&rows[i])).transpose()? {
                        Some(Datum::Int(k)) => k,
                        Some(Datum::Null) => {
                            out.push(Datum::Null);
                            continue;
                        }
                        _ => 1,
                    };
                    let j = if matches!(self.func, WindowFunc::Lag) { (i as i64).checked_sub(offset) } else { (i as i64).checked_add(offset) };
                    if let Some(j) = j.filter(|j| *j >= 0 && (*j as usize) < n) {
                        self.args[0].eval(&rows[j as usize])?
                    } else {
                        self.args.get(2).map(|e| e.eval(&rows[i])).transpose()?.unwrap_or(Datum::Null)
                    }
                }
                WindowFunc::FirstValue | WindowFunc::LastValue => {
                    let (lo, hi) = bounds(i, last_peer[i - start])?;
                    match &self.func {
                        WindowFunc::FirstValue => if lo < hi { self.args[0].eval(&rows[lo])? } else { Datum::Null },
                        _ => if lo < hi { self.args[0].eval(&rows[hi - 1])? } else { Datum::Null },
                    }
                }
                WindowFunc::NthValue => match self.args[1].eval(&rows[i])? {
                    Datum::Null => Datum::Null,
                    Datum::Int(k) if k > 0 => {
                        let (lo, hi) = bounds(i, last_peer[i - start])?;
                        let j = lo.saturating_add(k as usize - 1);
                        if j < hi { self.args[0].eval(&rows[j])? } else { Datum::Null }
                    }
                    _ => return Err(EvalError::new("22016", "argument of nth_value must be greater than zero")),
                },
                WindowFunc::Ntile => match self.args[0].eval(&rows[i])? {
                    Datum::Null => Datum::Null,
                    Datum::Int(k) if k > 0 => Datum::Int(ntile(i, n, k as usize)),
                    _ => return Err(EvalError::new("22014", "argument of ntile must be greater than zero")),
                },
                WindowFunc::PercentRank => Datum::float(if n > 1 { (rank - 1) as f64 / (n - 1) as f64 } else { 0.0 }),
                WindowFunc::CumeDist => Datum::float((last_peer[i - start] + 1) as f64 / n as f64),
                WindowFunc::Aggregate(_) => unreachable!("handled above"),
            };
            out.push(v);
        }
        Ok(out)
    }

    /// An aggregate's value over the frames of rows `start..`. Rows with
    /// the same frame as the row before (peers, or the whole partition)
    /// reuse its value; a frame that extends the one before at its end
    /// extends a running value. A partition costs O(n) for the common
    /// frames instead of O(n²).
    fn aggregate_frames(&self, agg: &AggregateExpr, rows: &[Vec<Datum>], start: usize, before: Option<&Datum>, last_peer: &[usize], bounds: impl Fn(usize, usize) -> Result<(usize, usize), EvalError>) -> Result<Vec<Datum>, EvalError> {
        let n = rows.len();
        let mut running = RunningAggregate::new(agg);
        let mut out: Vec<Datum> = Vec::with_capacity(n - start);
        // The frame (and value) of the row before the current one.
        let mut prev: Option<((usize, usize), Datum)> = None;
        if let (Some(value), true) = (before, start > 0) {
            // Row start - 1's frame ends before `start` (it is not its peer).
            let frame = bounds(start - 1, start - 1)?;
            if running.as_mut().is_some_and(|r| r.resume(value.clone())) {
                prev = Some((frame, value.clone()));
            }
        }
        for i in start..n {
            let (lo, hi) = bounds(i, last_peer[i - start])?;
            let hi = hi.max(lo);
            let v = match (&prev, running.as_mut()) {
                (Some((p, v)), _) if *p == (lo, hi) => v.clone(),
                (Some(((plo, phi), _)), Some(r)) if *plo == lo && *phi <= hi => r.extend(&rows[*phi..hi])?,
                (_, Some(r)) => {
                    r.reset();
                    r.extend(&rows[lo..hi])?
                }
                (_, None) => agg.eval(rows[lo..hi].iter().map(|r| (r.as_slice(), 1)))?,
            };
            out.push(v.clone());
            prev = Some(((lo, hi), v));
        }
        Ok(out)
    }

    /// The half-open range of rows in row `i`'s frame; `last_peer` is the
    /// index of the last row that sorts equal to row `i`.
    /// `keys` are the rows' ORDER BY values (for RANGE offset frames).
    fn frame_bounds(&self, i: usize, n: usize, last_peer: usize, keys: &[Datum], order_by: &[SortKey]) -> Result<(usize, usize), EvalError> {
        Ok(match &self.frame {
            WindowFrame::Partition => (0, n),
            WindowFrame::RangeToCurrent => (0, last_peer + 1),
            WindowFrame::Rows { start, end } => {
                let lo = start.map(|s| (i as i64).saturating_add(s).clamp(0, n as i64) as usize).unwrap_or(0);
                let hi = end.map(|e| (i as i64).saturating_add(e).saturating_add(1).clamp(0, n as i64) as usize).unwrap_or(n);
                (lo, hi)
            }
            WindowFrame::Range(r) => match order_by.first() {
                Some(order) => r.bounds(keys, order, i)?,
                None => (0, n),
            },
        })
    }
}

/// Row `i`'s bucket (1-based) of `k` buckets over `n` rows, as PostgreSQL
/// deals them: the first `n % k` buckets hold one row more.
fn ntile(i: usize, n: usize, k: usize) -> i64 {
    let (size, larger) = (n / k, n % k);
    let in_larger = larger * (size + 1);
    (if i < in_larger { i / (size + 1) } else { larger + (i - in_larger) / size.max(1) }) as i64 + 1
}
