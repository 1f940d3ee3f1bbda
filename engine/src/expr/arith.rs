//! Arithmetic with PostgreSQL's rules: checked integer ranges, numeric
//! result scales, date/time arithmetic.

use super::EvalError;
use crate::repr::{Datum, Interval, ScalarType, F64};
use chrono::{DateTime, Months};
use rust_decimal::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

fn to_decimal(d: &Datum) -> Option<Decimal> {
    match d {
        Datum::Int(i) => Some(Decimal::from(*i)),
        Datum::Numeric(n) => Some(*n),
        _ => None,
    }
}

fn to_f64(d: &Datum) -> Option<f64> {
    match d {
        Datum::Int(i) => Some(*i as f64),
        Datum::Float(f) => Some(f.0),
        Datum::Numeric(n) => n.to_f64(),
        _ => None,
    }
}

fn int_overflow(ty: ScalarType) -> EvalError {
    let ty = if ty.is_integer() { ty } else { ScalarType::Int64 };
    let name = match ty {
        ScalarType::Int16 => "smallint",
        ScalarType::Int32 => "integer",
        _ => "bigint",
    };
    EvalError::out_of_range(name)
}

/// Applies `op` to two non-null values; `ty` is the result type planned for
/// the expression (it bounds integer results).
pub fn arith(op: ArithOp, a: Datum, b: Datum, ty: ScalarType) -> Result<Datum, EvalError> {
    use Datum::*;
    match (&a, &b) {
        (Int(x), Int(y)) if ty.is_integer() || !ty.is_numeric_family() => int_arith(op, *x, *y, if ty.is_integer() { ty } else { ScalarType::Int64 }),
        (Float(_), Int(_) | Numeric(_) | Float(_)) | (Int(_) | Numeric(_), Float(_)) => float_arith(op, to_f64(&a).unwrap(), to_f64(&b).unwrap()),
        (Int(_), Int(_)) if matches!(ty, ScalarType::Float32 | ScalarType::Float64) => float_arith(op, to_f64(&a).unwrap(), to_f64(&b).unwrap()),
        (Int(_) | Numeric(_), Int(_) | Numeric(_)) => numeric_arith(op, to_decimal(&a).unwrap(), to_decimal(&b).unwrap()),
        _ => match (datetime_arith(op, a, b), ty) {
            // date ± interval typed as date (DataFusion's `date + integer`).
            (Ok(Timestamp(t)), ScalarType::Date) => Ok(Date(t.div_euclid(crate::repr::Interval::MICROS_PER_DAY) as i32)),
            (Err(e), ScalarType::Date) if e.code == "22008" => Err(EvalError::datetime_out_of_range("date")),
            (r, _) => r,
        },
    }
}

fn int_arith(op: ArithOp, x: i64, y: i64, ty: ScalarType) -> Result<Datum, EvalError> {
    let r = match op {
        ArithOp::Add => x.checked_add(y),
        ArithOp::Sub => x.checked_sub(y),
        ArithOp::Mul => x.checked_mul(y),
        ArithOp::Div => {
            if y == 0 {
                return Err(EvalError::division_by_zero());
            }
            x.checked_div(y)
        }
        ArithOp::Mod => {
            if y == 0 {
                return Err(EvalError::division_by_zero());
            }
            Some(x.checked_rem(y).unwrap_or(0))
        }
    };
    let (lo, hi) = ty.int_range().unwrap();
    match r {
        Some(v) if v >= lo && v <= hi => Ok(Datum::Int(v)),
        _ => Err(int_overflow(ty)),
    }
}

fn float_arith(op: ArithOp, x: f64, y: f64) -> Result<Datum, EvalError> {
    let r = match op {
        ArithOp::Add => x + y,
        ArithOp::Sub => x - y,
        ArithOp::Mul => x * y,
        ArithOp::Div => {
            if y == 0.0 {
                return Err(EvalError::division_by_zero());
            }
            x / y
        }
        ArithOp::Mod => {
            if y == 0.0 {
                return Err(EvalError::division_by_zero());
            }
            x % y
        }
    };
    if r.is_infinite() && x.is_finite() && y.is_finite() {
        return Err(EvalError::new("22003", "value out of range: overflow"));
    }
    Ok(Datum::Float(F64(r)))
}

fn numeric_overflow() -> EvalError {
    EvalError::new("22003", "value overflows numeric format")
}

pub fn numeric_arith(op: ArithOp, x: Decimal, y: Decimal) -> Result<Datum, EvalError> {
    let r = match op {
        ArithOp::Add => x.checked_add(y),
        ArithOp::Sub => x.checked_sub(y),
        ArithOp::Mul => x.checked_mul(y),
        ArithOp::Div => return numeric_div(x, y).map(Datum::Numeric),
        ArithOp::Mod => {
            if y.is_zero() {
                return Err(EvalError::division_by_zero());
            }
            x.checked_rem(y)
        }
    };
    let mut r = r.ok_or_else(numeric_overflow)?;
    // PostgreSQL's result scale: the larger input scale for + - %, their
    // sum for *. (rust_decimal drops trailing zeros of a zero product.)
    let scale = match op {
        ArithOp::Mul => x.scale() + y.scale(),
        _ => x.scale().max(y.scale()),
    };
    if r.scale() < scale && scale <= 28 {
        r.rescale(scale);
    }
    Ok(Datum::Numeric(r))
}

/// PostgreSQL's `select_div_scale`: at least 16 significant digits, and no
/// fewer fractional digits than either input has.
pub fn numeric_div(x: Decimal, y: Decimal) -> Result<Decimal, EvalError> {
    if y.is_zero() {
        return Err(EvalError::division_by_zero());
    }
    let (w1, d1) = base10000_lead(x);
    let (w2, d2) = base10000_lead(y);
    let mut qweight = w1 - w2;
    if d1 <= d2 {
        qweight -= 1;
    }
    let rscale = (16 - qweight * 4).max(x.scale() as i32).max(y.scale() as i32).clamp(0, 1000) as u32;
    let q = x.checked_div(y).ok_or_else(numeric_overflow)?;
    let rscale = rscale.min(28);
    let mut q = q.round_dp_with_strategy(rscale, RoundingStrategy::MidpointAwayFromZero);
    if q.scale() < rscale {
        // Pad with zeros only as far as 28 significant digits allow.
        let room = 28u32.saturating_sub(int_digits(q));
        q.rescale(rscale.min(room));
    }
    Ok(q)
}

fn int_digits(d: Decimal) -> u32 {
    let t = d.trunc().abs();
    if t.is_zero() {
        1
    } else {
        t.to_string().len() as u32
    }
}

/// The weight (power of 10000) and first base-10000 digit of a value, as
/// PostgreSQL's numeric stores it.
fn base10000_lead(d: Decimal) -> (i32, i64) {
    let a = d.abs();
    if a.is_zero() {
        return (0, 0);
    }
    // log10 of the leading digit position.
    let s = a.normalize().to_string();
    let (int_part, frac_part) = s.split_once('.').unwrap_or((&s, ""));
    let exp10 = if int_part != "0" {
        int_part.len() as i32 - 1
    } else {
        let zeros = frac_part.chars().take_while(|c| *c == '0').count() as i32;
        -(zeros + 1)
    };
    let weight = exp10.div_euclid(4);
    let scaled = a / Decimal::from_i128_with_scale(1, 0) * pow10(-weight * 4);
    (weight, scaled.trunc().to_i64().unwrap_or(0))
}

fn pow10(e: i32) -> Decimal {
    let mut r = Decimal::ONE;
    for _ in 0..e.abs() {
        r = if e > 0 { r * Decimal::TEN } else { r / Decimal::TEN };
    }
    r
}

fn add_months(us: i64, months: i32) -> Option<i64> {
    let dt = DateTime::from_timestamp_micros(us)?.naive_utc();
    let dt = if months >= 0 { dt.checked_add_months(Months::new(months as u32))? } else { dt.checked_sub_months(Months::new(months.unsigned_abs()))? };
    Some(dt.and_utc().timestamp_micros())
}

/// `timestamp ± interval`: months first (as calendar months), then days
/// and time; an error when the result leaves the supported range.
pub(super) fn add_interval(us: i64, iv: Interval, sign: i64) -> Result<i64, EvalError> {
    let out_of_range = || EvalError::datetime_out_of_range("timestamp");
    let months = iv.months.checked_mul(sign as i32).ok_or_else(out_of_range)?;
    let us = add_months(us, months).ok_or_else(out_of_range)?;
    let delta = (iv.days as i64).checked_mul(Interval::MICROS_PER_DAY).and_then(|d| d.checked_add(iv.micros)).and_then(|d| d.checked_mul(sign)).ok_or_else(out_of_range)?;
    us.checked_add(delta).filter(|r| crate::repr::timestamp_in_range(*r)).ok_or_else(out_of_range)
}

/// `date ± integer`: a date in the supported range, or 22008.
fn add_days(d: i32, n: i64) -> Result<Datum, EvalError> {
    (d as i64).checked_add(n).filter(|r| crate::repr::date_in_range(*r)).map(|r| Datum::Date(r as i32)).ok_or_else(|| EvalError::datetime_out_of_range("date"))
}

fn datetime_arith(op: ArithOp, a: Datum, b: Datum) -> Result<Datum, EvalError> {
    use Datum::*;
    const DAY: i64 = crate::repr::Interval::MICROS_PER_DAY;
    let interval_overflow = || EvalError::datetime_out_of_range("interval");
    Ok(match (op, a, b) {
        (ArithOp::Add, Date(d), Int(n)) | (ArithOp::Add, Int(n), Date(d)) => add_days(d, n)?,
        (ArithOp::Sub, Date(d), Int(n)) => add_days(d, n.checked_neg().ok_or_else(|| EvalError::datetime_out_of_range("date"))?)?,
        (ArithOp::Sub, Date(x), Date(y)) => Int(x as i64 - y as i64),
        (ArithOp::Add, Date(d), Interval(iv)) | (ArithOp::Add, Interval(iv), Date(d)) => Timestamp(add_interval(d as i64 * DAY, iv, 1)?),
        (ArithOp::Sub, Date(d), Interval(iv)) => Timestamp(add_interval(d as i64 * DAY, iv, -1)?),
        (ArithOp::Add, Timestamp(t), Interval(iv)) | (ArithOp::Add, Interval(iv), Timestamp(t)) => Timestamp(add_interval(t, iv, 1)?),
        (ArithOp::Sub, Timestamp(t), Interval(iv)) => Timestamp(add_interval(t, iv, -1)?),
        (ArithOp::Add, TimestampTz(t), Interval(iv)) | (ArithOp::Add, Interval(iv), TimestampTz(t)) => TimestampTz(add_interval(t, iv, 1)?),
        (ArithOp::Sub, TimestampTz(t), Interval(iv)) => TimestampTz(add_interval(t, iv, -1)?),
        (ArithOp::Sub, Timestamp(x), Timestamp(y)) | (ArithOp::Sub, TimestampTz(x), TimestampTz(y)) => {
            let d = x.checked_sub(y).ok_or_else(interval_overflow)?;
            Interval(crate::repr::Interval { months: 0, days: (d / DAY) as i32, micros: d % DAY })
        }
        (ArithOp::Add, Interval(x), Interval(y)) => Interval(crate::repr::Interval {
            months: x.months.checked_add(y.months).ok_or_else(interval_overflow)?,
            days: x.days.checked_add(y.days).ok_or_else(interval_overflow)?,
            micros: x.micros.checked_add(y.micros).ok_or_else(interval_overflow)?,
        }),
        (ArithOp::Sub, Interval(x), Interval(y)) => Interval(crate::repr::Interval {
            months: x.months.checked_sub(y.months).ok_or_else(interval_overflow)?,
            days: x.days.checked_sub(y.days).ok_or_else(interval_overflow)?,
            micros: x.micros.checked_sub(y.micros).ok_or_else(interval_overflow)?,
        }),
        (ArithOp::Mul, Interval(iv), n) | (ArithOp::Mul, n, Interval(iv)) => Interval(scale_interval(iv, to_f64(&n).unwrap_or(1.0), false)?),
        (ArithOp::Div, Interval(iv), n) => {
            let f = to_f64(&n).unwrap_or(1.0);
            if f == 0.0 {
                return Err(EvalError::division_by_zero());
            }
            Interval(scale_interval(iv, f, true)?)
        }
        (op, a, b) => return Err(EvalError::new("42883", format!("operator does not exist: {:?} {:?} {:?}", a, op, b))),
    })
}

/// Multiplies (or divides) an interval as PostgreSQL's `interval_mul` and
/// `interval_div` do: fractional months spill into days, fractional days
/// into time, each remainder rounded to microseconds.
pub(super) fn scale_interval(iv: Interval, f: f64, divide: bool) -> Result<Interval, EvalError> {
    let op = |x: f64| if divide { x / f } else { x * f };
    let tsround = |x: f64| (x * 1e6).round() / 1e6;
    let overflow = || EvalError::datetime_out_of_range("interval");
    let months = op(iv.months as f64);
    let days = op(iv.days as f64);
    if !months.is_finite() || months.abs() > i32::MAX as f64 || !days.is_finite() || days.abs() > i32::MAX as f64 {
        return Err(overflow());
    }
    let (rmonths, mut rdays) = (months as i32, days as i32);
    let month_remainder_days = tsround((months - rmonths as f64) * 30.0);
    let mut sec_remainder = tsround((days - rdays as f64 + month_remainder_days - month_remainder_days.trunc()) * 86_400.0);
    if sec_remainder.abs() >= 86_400.0 {
        let whole = (sec_remainder / 86_400.0).trunc();
        rdays = rdays.checked_add(whole as i32).ok_or_else(overflow)?;
        sec_remainder -= whole * 86_400.0;
    }
    rdays = rdays.checked_add(month_remainder_days as i32).ok_or_else(overflow)?;
    let micros = (op(iv.micros as f64) + sec_remainder * 1e6).round();
    if !micros.is_finite() || micros.abs() > i64::MAX as f64 {
        return Err(overflow());
    }
    Ok(Interval { months: rmonths, days: rdays, micros: micros as i64 })
}

#[cfg(test)]
mod tests {
    use super::*;
    fn dec(s: &str) -> Decimal {
        Decimal::from_str_exact(s).unwrap()
    }
    #[test]
    fn numeric_division_keeps_postgres_scale() {
        assert_eq!(numeric_div(dec("1"), dec("3")).unwrap().to_string(), "0.33333333333333333333");
        assert_eq!(numeric_div(dec("10"), dec("4")).unwrap().to_string(), "2.5000000000000000");
        assert_eq!(numeric_div(dec("12345"), dec("7")).unwrap().to_string(), "1763.5714285714285714");
        assert_eq!(numeric_div(dec("7.50"), dec("2")).unwrap().to_string(), "3.7500000000000000");
    }
    #[test]
    fn interval_scaling_spills_fractions_down() {
        let iv = |months, days, micros| Datum::Interval(Interval { months, days, micros });
        let half = arith(ArithOp::Div, iv(14, 3, 14_706_000_000), Datum::Int(2), ScalarType::Interval).unwrap();
        assert_eq!(half, iv(7, 1, 50_553_000_000));
        let r = arith(ArithOp::Div, iv(1, 0, 0), Datum::Int(2), ScalarType::Interval).unwrap();
        assert_eq!(crate::repr::format_datum(&r, ScalarType::Interval).unwrap(), "15 days");
        let r = arith(ArithOp::Mul, iv(0, 2, 3 * 3_600_000_000), Datum::Int(3), ScalarType::Interval).unwrap();
        assert_eq!(crate::repr::format_datum(&r, ScalarType::Interval).unwrap(), "6 days 09:00:00");
        assert_eq!(arith(ArithOp::Div, iv(0, 1, 0), Datum::Int(0), ScalarType::Interval).unwrap_err().code, "22012");
        let r = arith(ArithOp::Mul, iv(0, 1, 0), Datum::float(1.5), ScalarType::Interval).unwrap();
        assert_eq!(crate::repr::format_datum(&r, ScalarType::Interval).unwrap(), "1 day 12:00:00");
    }
    #[test]
    fn date_arithmetic_out_of_range_is_an_error() {
        use crate::repr::{date_range, format_datum};
        const DAY: i64 = Interval::MICROS_PER_DAY;
        let dec31_9999 = 2_932_896;
        let iv = |months, days, micros| Datum::Interval(Interval { months, days, micros });
        // `'9999-12-31'::date + 100000000`, as DataFusion plans it: the
        // result used to be stored, then panicked in formatting.
        let secs = super::super::cast::cast(Datum::Int(100_000_000 * 86_400), ScalarType::Interval).unwrap();
        let e = arith(ArithOp::Add, Datum::Date(dec31_9999), secs, ScalarType::Date).unwrap_err();
        assert_eq!((e.code.as_str(), e.message.as_str()), ("22008", "date out of range"));
        let secs = super::super::cast::cast(Datum::Int(2_147_483_000 * 86_400), ScalarType::Interval).unwrap();
        assert_eq!(arith(ArithOp::Sub, Datum::Date(dec31_9999), secs, ScalarType::Date).unwrap_err().code, "22008");
        assert_eq!(arith(ArithOp::Add, Datum::Date(dec31_9999), Datum::Int(100_000_000), ScalarType::Date).unwrap_err().code, "22008");
        assert_eq!(arith(ArithOp::Sub, Datum::Date(0), Datum::Int(i64::MIN), ScalarType::Date).unwrap_err().code, "22008");
        assert_eq!(arith(ArithOp::Add, Datum::Date(0), Datum::Int(4_294_967_296), ScalarType::Date).unwrap_err().code, "22008");
        // The edges of the range are fine.
        let (lo, hi) = date_range();
        assert_eq!(arith(ArithOp::Add, Datum::Date(hi as i32 - 1), Datum::Int(1), ScalarType::Date).unwrap(), Datum::Date(hi as i32));
        assert_eq!(arith(ArithOp::Add, Datum::Date(hi as i32), Datum::Int(1), ScalarType::Date).unwrap_err().code, "22008");
        assert_eq!(arith(ArithOp::Sub, Datum::Date(lo as i32), Datum::Int(1), ScalarType::Date).unwrap_err().code, "22008");
        let last = arith(ArithOp::Add, Datum::Timestamp(hi * DAY), iv(0, 0, DAY - 1), ScalarType::Timestamp).unwrap();
        assert!(format_datum(&last, ScalarType::Timestamp).unwrap().ends_with(" 23:59:59.999999"));
        let e = arith(ArithOp::Add, last, iv(0, 0, 1), ScalarType::Timestamp).unwrap_err();
        assert_eq!((e.code.as_str(), e.message.as_str()), ("22008", "timestamp out of range"));
        // Timestamps ± intervals whose parts overflow.
        for (a, b) in [(Datum::Timestamp(0), iv(i32::MAX, 0, 0)), (Datum::Timestamp(0), iv(0, i32::MAX, 0)), (Datum::TimestampTz(0), iv(0, 0, i64::MAX)), (Datum::Date(0), iv(0, i32::MIN, i64::MIN))] {
            assert_eq!(arith(ArithOp::Add, a.clone(), b.clone(), ScalarType::Timestamp).unwrap_err().code, "22008");
            assert_eq!(arith(ArithOp::Sub, a, b, ScalarType::Timestamp).unwrap_err().code, "22008");
        }
        assert_eq!(arith(ArithOp::Sub, Datum::Timestamp(i64::MAX), Datum::Timestamp(i64::MIN), ScalarType::Interval).unwrap_err().code, "22008");
        assert_eq!(arith(ArithOp::Add, iv(i32::MAX, 0, 0), iv(1, 0, 0), ScalarType::Interval).unwrap_err().code, "22008");
        assert_eq!(arith(ArithOp::Sub, iv(0, i32::MIN, 0), iv(0, 1, 0), ScalarType::Interval).unwrap_err().code, "22008");
        assert_eq!(arith(ArithOp::Add, iv(0, 0, i64::MAX), iv(0, 0, 1), ScalarType::Interval).unwrap_err().code, "22008");
        assert_eq!(arith(ArithOp::Mul, iv(0, i32::MAX, 0), Datum::float(1.5), ScalarType::Interval).unwrap_err().code, "22008");
        assert_eq!(arith(ArithOp::Sub, Datum::Date(i32::MAX), Datum::Date(i32::MIN), ScalarType::Int32).unwrap(), Datum::Int(u32::MAX as i64));
        // Ordinary arithmetic is unchanged.
        assert_eq!(arith(ArithOp::Add, Datum::Date(19_723), Datum::Int(10), ScalarType::Date).unwrap(), Datum::Date(19_733));
        let secs = super::super::cast::cast(Datum::Int(-10 * 86_400), ScalarType::Interval).unwrap();
        assert_eq!(arith(ArithOp::Add, Datum::Date(19_723), secs, ScalarType::Date).unwrap(), Datum::Date(19_713));
    }

    #[test]
    fn integer_overflow_is_an_error() {
        assert!(arith(ArithOp::Add, Datum::Int(i32::MAX as i64), Datum::Int(1), ScalarType::Int32).is_err());
        assert_eq!(arith(ArithOp::Add, Datum::Int(i32::MAX as i64), Datum::Int(1), ScalarType::Int64).unwrap(), Datum::Int(2147483648));
        assert_eq!(arith(ArithOp::Div, Datum::Int(1), Datum::Int(0), ScalarType::Int32).unwrap_err().code, "22012");
    }
}
