//! Aggregate functions, computed over all rows of a group.

use super::func::numeric_avg;
use super::{EvalError, ScalarExpr, SortKey};
use crate::repr::{Datum, ScalarType};
use crate::Diff;
use rust_decimal::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum AggregateFunc {
    /// `count(*)` when it has no argument, else `count(x)` (non-NULL x).
    Count,
    Sum,
    Avg,
    Min,
    Max,
    BoolAnd,
    BoolOr,
    /// `string_agg(value, delimiter)`.
    StringAgg,
    StddevSamp,
    StddevPop,
    VarSamp,
    VarPop,
    /// The first value in ORDER BY order (NULLs included).
    FirstValue,
    LastValue,
    /// The value of the only row (NULLs included); more than one row is
    /// error 21000 (a scalar subquery used as an expression).
    Single,
    /// `percentile_cont(f) WITHIN GROUP (ORDER BY x)`: arguments (x, f);
    /// the value at fraction f of the ordered non-NULL values, interpolated
    /// linearly between the two nearest.
    PercentileCont,
    /// `percentile_disc(f) WITHIN GROUP (ORDER BY x)`: the first value whose
    /// position in the ordering reaches fraction f of the values.
    PercentileDisc,
    /// `mode() WITHIN GROUP (ORDER BY x)`: the most frequent value, the
    /// first in the ordering among equally frequent ones.
    Mode,
    /// `jsonb_agg(x)` (and `json_agg`): the values as a JSON array, NULLs
    /// as null.
    JsonbAgg,
    /// `array_agg(x)`: the values as an array, NULLs included.
    ArrayAgg,
    /// `jsonb_object_agg(k, v)` (and `json_object_agg`): an object of the
    /// pairs; a NULL key is an error.
    JsonbObjectAgg,
    /// The statistics of pairs `(y, x)` (rows where either is NULL are
    /// skipped), in double precision: `corr`, `covar_pop`, `covar_samp`
    /// and the `regr_*` family.
    Stat(Stat),
}

/// The two-variable statistics, over the non-NULL pairs (y, x).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Stat {
    Corr,
    CovarPop,
    CovarSamp,
    RegrSlope,
    RegrIntercept,
    RegrCount,
    RegrR2,
    RegrAvgX,
    RegrAvgY,
    RegrSxx,
    RegrSyy,
    RegrSxy,
}

impl Stat {
    /// The statistic of `pairs` (y, x); NULL where PostgreSQL's is (too
    /// few pairs, or a variance of zero it would divide by). The sums are
    /// accumulated as PostgreSQL's float8_regr_accum does (Youngs and
    /// Cramer's update), so results agree to the last digit for the same
    /// order of pairs.
    fn eval(self, pairs: &[(f64, f64)]) -> Datum {
        if self == Stat::RegrCount {
            return Datum::Int(pairs.len() as i64);
        }
        let (mut n, mut sx, mut sy, mut sxx, mut syy, mut sxy) = (0.0f64, 0.0, 0.0, 0.0, 0.0, 0.0);
        for (y, x) in pairs {
            n += 1.0;
            sx += x;
            sy += y;
            if n > 1.0 {
                let (tx, ty) = (x * n - sx, y * n - sy);
                let scale = 1.0 / (n * (n - 1.0));
                sxx += tx * tx * scale;
                syy += ty * ty * scale;
                sxy += tx * ty * scale;
            }
        }
        if n == 0.0 || (self == Stat::CovarSamp && n < 2.0) {
            return Datum::Null;
        }
        let v = match self {
            Stat::Corr if sxx == 0.0 || syy == 0.0 => return Datum::Null,
            Stat::Corr => sxy / (sxx * syy).sqrt(),
            Stat::CovarPop => sxy / n,
            Stat::CovarSamp => sxy / (n - 1.0),
            Stat::RegrSlope | Stat::RegrIntercept | Stat::RegrR2 if sxx == 0.0 => return Datum::Null,
            Stat::RegrSlope => sxy / sxx,
            Stat::RegrIntercept => (sy - sx * sxy / sxx) / n,
            Stat::RegrR2 if syy == 0.0 => 1.0,
            Stat::RegrR2 => (sxy * sxy) / (sxx * syy),
            Stat::RegrAvgX => sx / n,
            Stat::RegrAvgY => sy / n,
            Stat::RegrSxx => sxx,
            Stat::RegrSyy => syy,
            Stat::RegrSxy => sxy,
            Stat::RegrCount => unreachable!(),
        };
        Datum::float(v)
    }
}

/// One aggregate of a Reduce: `func(DISTINCT args ORDER BY ...) FILTER (WHERE filter)`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AggregateExpr {
    pub func: AggregateFunc,
    pub args: Vec<ScalarExpr>,
    pub distinct: bool,
    pub filter: Option<ScalarExpr>,
    pub order_by: Vec<SortKey>,
    /// The result type (bounds integer sums).
    pub output: ScalarType,
    /// The argument is an integer or numeric (or there is none), so sums
    /// and counts can be maintained by accumulating changes exactly.
    pub exact_input: bool,
}

impl AggregateExpr {
    /// Whether the aggregate can be maintained from the sum of its rows'
    /// contributions, instead of recomputing the group: count of anything,
    /// bool_and and bool_or (counts of values and of trues), sum and avg
    /// over exact numbers; none with DISTINCT (which bool_and and bool_or
    /// ignore) or ORDER BY.
    pub fn is_accumulable(&self) -> bool {
        let plain = self.order_by.is_empty();
        match self.func {
            AggregateFunc::Count => plain && !self.distinct,
            AggregateFunc::BoolAnd | AggregateFunc::BoolOr => plain,
            AggregateFunc::Sum | AggregateFunc::Avg => plain && !self.distinct && self.exact_input,
            _ => false,
        }
    }

    /// Whether evaluating its arguments, sort keys or FILTER may raise an
    /// error (see `ScalarExpr::can_fail`).
    pub fn inputs_can_fail(&self) -> bool {
        self.args.iter().chain(self.filter.iter()).chain(self.order_by.iter().map(|k| &k.expr)).any(ScalarExpr::can_fail)
    }

    /// Whether computing the aggregate from its inputs' values may raise an
    /// error: for a function other than count, min, max, bool_and,
    /// bool_or, first and last value (a sum can overflow, `Single` sees
    /// two rows, ...).
    pub fn result_can_fail(&self) -> bool {
        use AggregateFunc::*;
        !matches!(self.func, Count | Min | Max | BoolAnd | BoolOr | FirstValue | LastValue)
    }

    /// Whether computing the aggregate may raise an error, through its
    /// inputs or its result.
    pub fn can_fail(&self) -> bool {
        self.result_can_fail() || self.inputs_can_fail()
    }

    /// The aggregate's value over an empty input: 0 for count, NULL else.
    pub fn empty_value(&self) -> Datum {
        match self.func {
            AggregateFunc::Count | AggregateFunc::Stat(Stat::RegrCount) => Datum::Int(0),
            _ => Datum::Null,
        }
    }

    /// Computes the aggregate over `rows`, each with a positive multiplicity.
    pub fn eval<'a>(&self, rows: impl Iterator<Item = (&'a [Datum], Diff)>) -> Result<Datum, EvalError> {
        // Gather (sort key, args) per row, applying FILTER and multiplicity.
        let mut inputs: Vec<(Vec<Datum>, Vec<Datum>, Diff)> = Vec::new();
        for (row, diff) in rows {
            if let Some(f) = &self.filter {
                if !f.eval_predicate(row)? {
                    continue;
                }
            }
            let args = self.args.iter().map(|a| a.eval(row)).collect::<Result<Vec<_>, _>>()?;
            // Aggregates skip rows whose (first) argument is NULL; count(*) has none.
            let keeps_nulls = matches!(self.func, AggregateFunc::FirstValue | AggregateFunc::LastValue | AggregateFunc::Single | AggregateFunc::JsonbAgg | AggregateFunc::JsonbObjectAgg | AggregateFunc::ArrayAgg);
            if !keeps_nulls && args.first().is_some_and(Datum::is_null) {
                continue;
            }
            // The statistics of pairs skip a pair with either side NULL.
            if matches!(self.func, AggregateFunc::Stat(_)) && args.get(1).is_some_and(Datum::is_null) {
                continue;
            }
            let keys = self.order_by.iter().map(|k| k.expr.eval(row)).collect::<Result<Vec<_>, _>>()?;
            inputs.push((keys, args, diff));
        }
        if self.distinct {
            // Keep each distinct argument list once, with its sort key (which
            // ORDER BY below needs; PostgreSQL requires a DISTINCT aggregate's
            // ORDER BY to use only its arguments, so any copy's key will do).
            let mut set: BTreeMap<Vec<Datum>, Vec<Datum>> = BTreeMap::new();
            for (keys, args, _) in inputs {
                set.entry(args).or_insert(keys);
            }
            inputs = set.into_iter().map(|(a, k)| (k, a, 1)).collect();
        }
        if !self.order_by.is_empty() {
            inputs.sort_by(|a, b| {
                for (i, k) in self.order_by.iter().enumerate() {
                    let o = k.compare(&a.0[i], &b.0[i]);
                    if o.is_ne() {
                        return o;
                    }
                }
                std::cmp::Ordering::Equal
            });
        }
        let values = || inputs.iter().flat_map(|(_, a, d)| std::iter::repeat_n(&a[0], *d as usize));
        let count: i64 = inputs.iter().map(|(_, _, d)| *d).sum();
        use AggregateFunc::*;
        Ok(match self.func {
            Count => Datum::Int(count),
            Stat(stat) => {
                let pairs: Vec<(f64, f64)> = inputs.iter().flat_map(|(_, a, d)| std::iter::repeat_n((super::func::f64_of(&a[0]).unwrap_or(f64::NAN), a.get(1).and_then(super::func::f64_of).unwrap_or(f64::NAN)), *d as usize)).collect();
                stat.eval(&pairs)
            }
            _ if count == 0 => Datum::Null,
            Sum => sum(inputs.iter().map(|(_, a, d)| (&a[0], *d)), self.output)?,
            Avg => avg(sum(inputs.iter().map(|(_, a, d)| (&a[0], *d)), ScalarType::Numeric { precision: None, scale: None })?, count)?,
            Min => values().min().cloned().unwrap_or(Datum::Null),
            Max => values().max().cloned().unwrap_or(Datum::Null),
            BoolAnd => Datum::Bool(values().all(|v| *v == Datum::Bool(true))),
            BoolOr => Datum::Bool(values().any(|v| *v == Datum::Bool(true))),
            StringAgg => {
                let mut out = String::new();
                let mut first = true;
                for (_, a, d) in &inputs {
                    for _ in 0..*d {
                        if !first {
                            if let Some(Datum::Text(sep)) = a.get(1) {
                                out.push_str(sep);
                            }
                        }
                        first = false;
                        if let Datum::Text(s) = &a[0] {
                            out.push_str(s);
                        }
                        // No text value may be longer (the group's strings are kept anyway).
                        if out.len() > super::func::MAX_TEXT_BYTES {
                            return Err(EvalError::length_too_large());
                        }
                    }
                }
                Datum::Text(out.into())
            }
            StddevSamp | StddevPop | VarSamp | VarPop => variance(self.func, values(), count)?,
            FirstValue => values().next().cloned().unwrap_or(Datum::Null),
            LastValue => values().last().cloned().unwrap_or(Datum::Null),
            Single if count > 1 => return Err(EvalError::new("21000", "more than one row returned by a subquery used as an expression")),
            Single => values().next().cloned().unwrap_or(Datum::Null),
            PercentileCont | PercentileDisc => match inputs.first().and_then(|(_, a, _)| a.get(1)) {
                Some(Datum::Null) | None => Datum::Null,
                Some(f) => percentile(self.func == PercentileCont, fraction(f)?, &values().collect::<Vec<_>>())?,
            },
            Mode => mode(inputs.iter().map(|(_, a, d)| (&a[0], *d))),
            JsonbAgg => super::json::agg_array(values())?,
            ArrayAgg => Datum::Array(values().cloned().collect()),
            JsonbObjectAgg => super::json::agg_object(inputs.iter().flat_map(|(_, a, d)| std::iter::repeat_n((&a[0], a.get(1).unwrap_or(&Datum::Null)), *d as usize)))?,
        })
    }
}

/// The fraction argument of a percentile, checked to lie in [0, 1].
fn fraction(f: &Datum) -> Result<f64, EvalError> {
    let v = match f {
        Datum::Float(f) => f.0,
        Datum::Int(i) => *i as f64,
        Datum::Numeric(d) => d.to_f64().unwrap_or(f64::NAN),
        other => return Err(EvalError::new("22023", format!("percentile fraction must be a number, not {:?}", other))),
    };
    if !(0.0..=1.0).contains(&v) {
        return Err(EvalError::new("22003", format!("percentile value {} is not between 0 and 1", v)));
    }
    Ok(v)
}

/// The percentile at fraction `f` of `sorted` (not empty, in the
/// aggregate's order): interpolated between neighbours when `continuous`
/// (the values are numbers), else the first value whose 1-based position
/// is at least f * n, as PostgreSQL defines them.
fn percentile(continuous: bool, f: f64, sorted: &[&Datum]) -> Result<Datum, EvalError> {
    let n = sorted.len();
    if !continuous {
        let pos = ((f * n as f64).ceil() as usize).clamp(1, n);
        return Ok(sorted[pos - 1].clone());
    }
    let num = |d: &Datum| match d {
        Datum::Float(x) => Ok(x.0),
        Datum::Int(i) => Ok(*i as f64),
        Datum::Numeric(x) => Ok(x.to_f64().unwrap_or(f64::NAN)),
        other => Err(EvalError::new("42883", format!("percentile_cont needs numbers, not {:?}", other))),
    };
    let pos = f * (n - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    let (a, b) = (num(sorted[lo])?, num(sorted[hi])?);
    Ok(Datum::float(if lo == hi { a } else { a + (pos - lo as f64) * (b - a) }))
}

/// The most frequent of `values` (in the aggregate's order, each with its
/// multiplicity); ties go to the first.
fn mode<'a>(values: impl Iterator<Item = (&'a Datum, Diff)>) -> Datum {
    let mut best: Option<(&Datum, Diff)> = None;
    let mut run: Option<(&Datum, Diff)> = None;
    for (v, d) in values {
        run = match run {
            Some((r, n)) if r == v => Some((r, n + d)),
            _ => Some((v, d)),
        };
        if let Some((r, n)) = run {
            if best.is_none_or(|(_, m)| n > m) {
                best = Some((r, n));
            }
        }
    }
    best.map(|(v, _)| v.clone()).unwrap_or(Datum::Null)
}

pub(super) fn sum<'a>(vals: impl Iterator<Item = (&'a Datum, Diff)>, output: ScalarType) -> Result<Datum, EvalError> {
    let mut ints: i128 = 0;
    let mut dec = Decimal::ZERO;
    let mut float = 0.0f64;
    let (mut saw_dec, mut saw_float) = (false, false);
    let mut scale = 0;
    // Intervals add part by part (months, days, microseconds), as PostgreSQL's `+` does.
    let mut interval: Option<(i128, i128, i128)> = None;
    for (v, d) in vals {
        match v {
            Datum::Int(i) => ints = ints.checked_add(*i as i128 * d as i128).ok_or_else(|| EvalError::out_of_range("bigint"))?,
            Datum::Numeric(n) => {
                saw_dec = true;
                scale = scale.max(n.scale());
                dec = n.checked_mul(Decimal::from(d)).and_then(|x| dec.checked_add(x)).ok_or_else(EvalError::numeric_overflow)?;
            }
            Datum::Float(f) => {
                saw_float = true;
                float += f.0 * d as f64
            }
            Datum::Interval(iv) => {
                let (m, dd, us) = interval.unwrap_or_default();
                let d = d as i128;
                let overflow = || EvalError::datetime_out_of_range("interval");
                interval = Some((
                    m.checked_add(iv.months as i128 * d).ok_or_else(overflow)?,
                    dd.checked_add(iv.days as i128 * d).ok_or_else(overflow)?,
                    us.checked_add(iv.micros as i128 * d).ok_or_else(overflow)?,
                ));
            }
            _ => {}
        }
    }
    if let Some((months, days, micros)) = interval {
        let overflow = || EvalError::datetime_out_of_range("interval");
        return Ok(Datum::Interval(crate::repr::Interval {
            months: i32::try_from(months).map_err(|_| overflow())?,
            days: i32::try_from(days).map_err(|_| overflow())?,
            micros: i64::try_from(micros).map_err(|_| overflow())?,
        }));
    }
    if saw_float {
        return Ok(Datum::float(float + ints as f64));
    }
    if saw_dec || matches!(output, ScalarType::Numeric { .. }) {
        let i = Decimal::from_i128(ints).ok_or_else(|| EvalError::new("22003", "value overflows numeric format"))?;
        let mut total = dec.checked_add(i).ok_or_else(|| EvalError::new("22003", "value overflows numeric format"))?;
        // PostgreSQL's sum keeps the largest input scale (rust_decimal
        // drops it from a zero product).
        if total.scale() < scale {
            total.rescale(scale);
        }
        return Ok(Datum::Numeric(total));
    }
    if ints < i64::MIN as i128 || ints > i64::MAX as i128 {
        return Err(EvalError::out_of_range("bigint"));
    }
    Ok(Datum::Int(ints as i64))
}

/// The average of `count` values whose sum is `total`.
pub(super) fn avg(total: Datum, count: i64) -> Result<Datum, EvalError> {
    Ok(match total {
        Datum::Float(f) => Datum::float(f.0 / count as f64),
        Datum::Numeric(n) => numeric_avg(n, count)?,
        Datum::Interval(iv) => Datum::Interval(super::arith::scale_interval(iv, count as f64, true)?),
        other => other,
    })
}

fn variance<'a>(func: AggregateFunc, vals: impl Iterator<Item = &'a Datum>, n: i64) -> Result<Datum, EvalError> {
    let xs: Vec<f64> = vals
        .map(|v| match v {
            Datum::Int(i) => *i as f64,
            Datum::Float(f) => f.0,
            Datum::Numeric(d) => d.to_f64().unwrap_or(0.0),
            _ => 0.0,
        })
        .collect();
    let samp = matches!(func, AggregateFunc::StddevSamp | AggregateFunc::VarSamp);
    if samp && n < 2 {
        return Ok(Datum::Null);
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    let ss: f64 = xs.iter().map(|x| (x - mean) * (x - mean)).sum();
    let var = ss / if samp { (n - 1) as f64 } else { n as f64 };
    let r = if matches!(func, AggregateFunc::StddevSamp | AggregateFunc::StddevPop) { var.sqrt() } else { var };
    Ok(Datum::float(r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repr::Interval;

    fn sum_of(vals: &[Datum], output: ScalarType) -> Datum {
        sum(vals.iter().map(|v| (v, 1)), output).unwrap()
    }

    #[test]
    fn sum_of_intervals_adds_each_part() {
        let iv = |months, days, micros| Datum::Interval(Interval { months, days, micros });
        let r = sum_of(&[iv(1, 2, 3), iv(0, 30, -3), iv(-1, 0, 5)], ScalarType::Interval);
        assert_eq!(crate::repr::format_datum(&r, ScalarType::Interval).unwrap(), "32 days 00:00:00.000005");
    }

    #[test]
    fn sum_of_numeric_keeps_the_input_scale() {
        let r = sum_of(&[Datum::Numeric(Decimal::new(0, 4)), Datum::Numeric(Decimal::new(0, 4))], ScalarType::Numeric { precision: None, scale: None });
        assert_eq!(crate::repr::format_datum(&r, ScalarType::Text).unwrap(), "0.0000");
        let big = sum_of(&[Datum::Int(i64::MAX), Datum::Int(i64::MAX)], ScalarType::Numeric { precision: None, scale: None });
        assert_eq!(crate::repr::format_datum(&big, ScalarType::Text).unwrap(), "18446744073709551614");
    }

    #[test]
    fn percentiles_follow_postgres_definitions() {
        let vals: Vec<Datum> = [1.0, 2.0, 4.0, 10.0].iter().map(|v| Datum::float(*v)).collect();
        let refs: Vec<&Datum> = vals.iter().collect();
        assert_eq!(percentile(true, 0.5, &refs).unwrap(), Datum::float(3.0));
        assert_eq!(percentile(true, 0.75, &refs).unwrap(), Datum::float(5.5));
        assert_eq!(percentile(true, 1.0, &refs).unwrap(), Datum::float(10.0));
        assert_eq!(percentile(false, 0.5, &refs).unwrap(), Datum::float(2.0));
        assert_eq!(percentile(false, 0.51, &refs).unwrap(), Datum::float(4.0));
        assert_eq!(percentile(false, 0.0, &refs).unwrap(), Datum::float(1.0));
        assert!(fraction(&Datum::float(1.5)).is_err());
        let (a, b) = (Datum::Int(1), Datum::Int(2));
        assert_eq!(mode([(&a, 2), (&b, 2)].into_iter()), Datum::Int(1));
        assert_eq!(mode([(&a, 1), (&b, 2)].into_iter()), Datum::Int(2));
    }

    #[test]
    fn pair_statistics_follow_postgres_definitions() {
        let pairs = [(2.0, 1.0), (4.0, 2.0), (6.0, 3.0)];
        assert_eq!(Stat::RegrSlope.eval(&pairs), Datum::float(2.0));
        assert_eq!(Stat::RegrIntercept.eval(&pairs), Datum::float(0.0));
        assert_eq!(Stat::Corr.eval(&pairs), Datum::float(1.0));
        assert_eq!(Stat::CovarPop.eval(&pairs), Datum::float(4.0 / 3.0));
        assert_eq!(Stat::CovarSamp.eval(&pairs), Datum::float(2.0));
        assert_eq!(Stat::RegrCount.eval(&[]), Datum::Int(0));
        assert_eq!(Stat::CovarSamp.eval(&pairs[..1]), Datum::Null);
        // x constant: no slope, no correlation.
        assert_eq!(Stat::RegrSlope.eval(&[(1.0, 5.0), (2.0, 5.0)]), Datum::Null);
        assert_eq!(Stat::Corr.eval(&[(1.0, 5.0), (2.0, 5.0)]), Datum::Null);
    }
}
