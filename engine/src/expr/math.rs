//! `power`, `round` and `trunc` with PostgreSQL's errors and scales.

use super::func::f64_of;
use super::EvalError;
use crate::repr::Datum;
use rust_decimal::prelude::*;
use rust_decimal::MathematicalOps;

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

/// `x`'s digits in base 10000 aligned on the point, as PostgreSQL's numeric
/// holds them (trailing zero groups dropped), and the weight of the first
/// (0: the units group, -1: the first four places after the point).
fn nbase_digits(x: Decimal) -> (Vec<u64>, i64) {
    let pad = (4 - x.scale() % 4) % 4;
    let m = x.mantissa().unsigned_abs() * 10u128.pow(pad);
    let frac_groups = ((x.scale() + pad) / 4) as i64;
    let mut groups = Vec::new();
    let mut rest = m;
    while rest > 0 {
        groups.push((rest % 10_000) as u64);
        rest /= 10_000;
    }
    groups.reverse();
    let weight = groups.len() as i64 - 1 - frac_groups;
    while groups.last() == Some(&0) {
        groups.pop();
    }
    (groups, weight)
}

/// `sqrt(numeric)`, rounded to PostgreSQL's scale (numeric.c's
/// `numeric_sqrt`): 16 significant digits from the root's weight, and no
/// fewer places than the input shows. Newton's method in numeric from a
/// double's estimate (each step doubles the exact digits).
pub(super) fn sqrt_numeric(x: Decimal) -> Result<Datum, EvalError> {
    if x.is_sign_negative() && !x.is_zero() {
        return Err(EvalError::new("2201F", "cannot take square root of a negative number"));
    }
    let (groups, weight) = nbase_digits(x);
    let weight = if groups.is_empty() { 0 } else { weight };
    // C's integer division (toward zero), as in numeric.c.
    let sweight = (weight + 1) * 4 / 2 - 1;
    let scale = result_scale("a square root", sweight, &[x])?;
    let mut r = Decimal::ZERO;
    if !x.is_zero() {
        use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
        r = Decimal::from_f64(x.to_f64().unwrap_or(0.0).sqrt()).unwrap_or(Decimal::ONE);
        for _ in 0..4 {
            let next = (r + x.checked_div(r).ok_or_else(EvalError::numeric_overflow)?) / Decimal::TWO;
            if next == r {
                break;
            }
            r = next;
        }
    }
    Ok(at_scale(r, scale))
}

/// `exp(numeric)`, rounded to PostgreSQL's scale (numeric.c's
/// `numeric_exp`): 16 significant digits from the result's decimal weight
/// estimated as `x * log10(e)` (truncated), and no fewer places than the
/// input shows. Computed as `exp(x / 2^k)^(2^k)` with a Taylor series for
/// the small power; numeric holds 28 digits here, so a result beyond them
/// is 22003 and one needing more than 28 places is refused.
pub(super) fn exp_numeric(x: Decimal) -> Result<Datum, EvalError> {
    use rust_decimal::prelude::ToPrimitive;
    let val = x.to_f64().unwrap_or(0.0) * std::f64::consts::LOG10_E;
    if val > 28.0 {
        return Err(EvalError::numeric_overflow());
    }
    let scale = result_scale("exp", val.trunc() as i64, &[x])?;
    let mut k = 0;
    let mut y = x;
    while y.abs() > Decimal::new(5, 1) {
        y /= Decimal::TWO;
        k += 1;
    }
    let (mut sum, mut term) = (Decimal::ONE, Decimal::ONE);
    for n in 1..60 {
        term = term.checked_mul(y).ok_or_else(EvalError::numeric_overflow)? / Decimal::from(n);
        if term.is_zero() {
            break;
        }
        sum += term;
    }
    for _ in 0..k {
        sum = sum.checked_mul(sum).ok_or_else(EvalError::numeric_overflow)?;
    }
    Ok(at_scale(sum, scale))
}

/// PostgreSQL's estimate of the decimal weight of `ln(x)` for a positive
/// `x` (numeric.c's `estimate_ln_dweight`): near 1 the weight of `x - 1`,
/// elsewhere the integer part of `log10(|ln x|)` from x's leading digits.
fn ln_dweight(x: Decimal) -> i64 {
    let (lo, hi) = (Decimal::new(9, 1), Decimal::new(11, 1));
    if x >= lo && x <= hi {
        let d = (x - Decimal::ONE).abs();
        if d.is_zero() {
            return 0;
        }
        return d.mantissa().to_string().len() as i64 - 1 - d.scale() as i64;
    }
    // The first one or two base-10000 digits and the weight of the last one taken.
    let (groups, weight) = nbase_digits(x);
    let Some(&first) = groups.first() else { return 0 };
    let (digits, dweight) = match groups.get(1) {
        Some(&second) => (first * 10_000 + second, weight * 4 - 4),
        None => (first, weight * 4),
    };
    let ln = (digits as f64).ln() + dweight as f64 * std::f64::consts::LN_10;
    // C's (int) cast: toward zero.
    ln.abs().log10().trunc() as i64
}

/// `ln` of a numeric with PostgreSQL's errors (2201E for zero and
/// negative numbers).
fn numeric_ln(x: Decimal) -> Result<Decimal, EvalError> {
    if x.is_zero() {
        return Err(EvalError::new("2201E", "cannot take logarithm of zero"));
    }
    if x.is_sign_negative() {
        return Err(EvalError::new("2201E", "cannot take logarithm of a negative number"));
    }
    x.checked_ln().ok_or_else(EvalError::numeric_overflow)
}

/// PostgreSQL's scale for a result of ln, log, sqrt or exp whose decimal
/// weight is `dweight`: at least 16 significant digits (`16 - dweight`
/// places), and no fewer places than an input shows. Numeric holds 28
/// places here: a result that needs more is refused (0A000, naming
/// `what`) rather than shortened.
fn result_scale(what: &str, dweight: i64, inputs: &[Decimal]) -> Result<u32, EvalError> {
    let scale = inputs.iter().map(|d| d.scale() as i64).fold(16 - dweight, i64::max).max(0);
    if scale > 28 {
        return Err(EvalError::new("0A000", format!("{} to {} decimal places (numeric holds 28 here)", what, scale)));
    }
    Ok(scale as u32)
}

/// `v` rounded to `scale` places (half away from zero), showing all of them.
fn at_scale(v: Decimal, scale: u32) -> Datum {
    let mut r = v.round_dp_with_strategy(scale, RoundingStrategy::MidpointAwayFromZero);
    r.rescale(scale);
    Datum::Numeric(r)
}

/// A logarithm's result at PostgreSQL's scale (see [`result_scale`]).
fn log_result(v: Decimal, dweight: i64, inputs: &[Decimal]) -> Result<Datum, EvalError> {
    Ok(at_scale(v, result_scale("a logarithm", dweight, inputs)?))
}

/// `ln(numeric)`.
pub(super) fn ln_numeric(x: Decimal) -> Result<Datum, EvalError> {
    let ln = numeric_ln(x)?;
    log_result(ln, ln_dweight(x), &[x])
}

/// `log(base, x)` of numerics (and `log(x)`, `log10(x)` with base 10):
/// PostgreSQL's errors (the base's first), and 22012 for base 1.
pub(super) fn log_numeric(base: Decimal, x: Decimal) -> Result<Datum, EvalError> {
    let ln_base = numeric_ln(base)?;
    let ln_x = numeric_ln(x)?;
    if ln_base.is_zero() {
        return Err(EvalError::division_by_zero());
    }
    let q = ln_x.checked_div(ln_base).ok_or_else(EvalError::numeric_overflow)?;
    log_result(q, ln_dweight(x) - ln_dweight(base), &[base, x])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(s: &str) -> Decimal {
        Decimal::from_str_exact(s).unwrap()
    }

    fn text(d: Result<Datum, EvalError>) -> String {
        crate::repr::format_datum(&d.unwrap(), crate::ScalarType::Text).unwrap()
    }

    #[test]
    fn logarithms_of_numerics_take_postgres_scale() {
        // Each expected value is PostgreSQL 15's answer.
        assert_eq!(text(log_numeric(num("2"), num("8"))), "3.0000000000000000");
        assert_eq!(text(log_numeric(num("10"), num("100.0"))), "2.0000000000000000");
        assert_eq!(text(log_numeric(num("0.5"), num("4"))), "-2.0000000000000000");
        assert_eq!(text(log_numeric(num("2"), num("100000000000000000000"))), "66.438561897747247");
        assert_eq!(text(log_numeric(Decimal::TEN, num("1.0000001"))), "0.00000004342944601885292");
        assert_eq!(text(log_numeric(num("3"), num("1.0000001"))), "0.00000009102391811148791");
        assert_eq!(text(log_numeric(Decimal::TEN, num("0.001"))), "-3.0000000000000000");
        assert_eq!(text(log_numeric(num("7"), num("49.000"))), "2.0000000000000000");
        assert_eq!(text(ln_numeric(num("2.0"))), "0.6931471805599453");
        assert_eq!(text(ln_numeric(num("100.0"))), "4.6051701859880914");
        assert_eq!(text(log_numeric(Decimal::TEN, num("2.0"))), "0.3010299956639812");
        assert_eq!(log_numeric(num("0"), num("8")).unwrap_err().message, "cannot take logarithm of zero");
        assert_eq!(log_numeric(num("2"), num("-8")).unwrap_err().message, "cannot take logarithm of a negative number");
        assert_eq!(log_numeric(num("1"), num("8")).unwrap_err().code, "22012");
    }
}
