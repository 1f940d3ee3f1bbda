//! `power`, `round` and `trunc` with PostgreSQL's errors and scales.

use super::func::f64_of;
use super::EvalError;
use crate::repr::Datum;
use rust_decimal::prelude::*;

/// `power(a, b)` with PostgreSQL's errors: zero to a negative power and a
/// negative number to a fractional power are undefined (2201F); a result
/// beyond the type's range is an overflow (22003).
pub(super) fn power(a: &Datum, b: &Datum) -> Result<Datum, EvalError> {
    let (x, y) = (f64_of(a).unwrap_or(0.0), f64_of(b).unwrap_or(0.0));
    if x == 0.0 && y < 0.0 {
        return Err(EvalError::new("2201F", "zero raised to a negative power is undefined"));
    }
    if x < 0.0 && y.is_finite() && y.fract() != 0.0 {
        return Err(EvalError::new("2201F", "a negative number raised to a non-integer power yields a complex result"));
    }
    let r = x.powf(y);
    let numeric = matches!((a, b), (Datum::Numeric(_), Datum::Numeric(_) | Datum::Int(_)) | (Datum::Int(_), Datum::Numeric(_)));
    if numeric {
        return Ok(Datum::Numeric(Decimal::from_f64(r).ok_or_else(EvalError::numeric_overflow)?.round_dp(16).normalize()));
    }
    if x.is_finite() && y.is_finite() {
        if r.is_infinite() {
            return Err(EvalError::new("22003", "value out of range: overflow"));
        }
        if r == 0.0 && x != 0.0 {
            return Err(EvalError::new("22003", "value out of range: underflow"));
        }
    }
    Ok(Datum::float(r))
}

/// `round(x, n)` and `trunc(x, n)`: to `n` decimal places, or for a
/// negative `n` to a multiple of 10^-n. Any `n` is accepted: numeric keeps
/// at most 28 fraction digits, so a larger `n` leaves the value as it is
/// (padded with zeros as far as they fit), and an `n` below -29 rounds
/// every numeric to 0.
pub(super) fn round(a: Datum, digits: &Datum, trunc: bool) -> Result<Datum, EvalError> {
    let n = match digits {
        Datum::Int(n) => *n,
        _ => 0,
    };
    Ok(match a {
        Datum::Numeric(x) => Datum::Numeric(round_numeric(x, n, trunc)?),
        Datum::Int(i) if n < 0 => {
            // As PostgreSQL, which rounds an integer as the numeric it converts to.
            let r = round_numeric(Decimal::from(i), n, trunc)?;
            Datum::Int(r.to_i64().ok_or_else(|| EvalError::out_of_range("bigint"))?)
        }
        Datum::Int(i) => Datum::Int(i),
        other => {
            let x = f64_of(&other).unwrap_or(0.0);
            // 10^n is finite and non-zero for |n| <= 308; beyond, every
            // double is already exact at that place (or rounds to 0).
            if n > 308 {
                return Ok(Datum::float(x));
            }
            if n < -308 {
                return Ok(Datum::float(0.0));
            }
            let p = 10f64.powi(n as i32);
            let scaled = x * p;
            if !scaled.is_finite() {
                return Ok(Datum::float(x));
            }
            Datum::float(if trunc { scaled.trunc() / p } else { scaled.round_ties_even() / p })
        }
    })
}

fn round_numeric(x: Decimal, n: i64, trunc: bool) -> Result<Decimal, EvalError> {
    if n >= 0 {
        let strategy = if trunc { RoundingStrategy::ToZero } else { RoundingStrategy::MidpointAwayFromZero };
        let scale = n.min(28) as u32;
        let mut r = x.round_dp_with_strategy(scale, strategy);
        // Never fails: keeps the largest scale up to `scale` that fits.
        r.rescale(scale);
        return Ok(r);
    }
    // To a multiple of 10^k, exactly, on the 96-bit mantissa: x is
    // m / 10^scale, so the digits to drop are the last scale + k of m.
    let k = n.unsigned_abs();
    let m = x.mantissa();
    let drop = (x.scale() as u64).saturating_add(k);
    // |m| < 2^96 < 10^29: dropping 30 or more digits leaves less than a
    // tenth of the unit, which rounds (and truncates) to 0.
    if drop >= 30 {
        return Ok(Decimal::ZERO);
    }
    let unit = 10i128.pow(drop as u32);
    let (mut q, r) = (m / unit, m % unit);
    if !trunc && 2 * r.abs() >= unit {
        q += m.signum();
    }
    // q * 10^k: k <= drop < 30 and |q| <= |m| / 10^scale / 10^k + 1.
    Decimal::try_from_i128_with_scale(q * 10i128.pow(k as u32), 0).map_err(|_| EvalError::numeric_overflow())
}
