//! Functions of double precision alone, as PostgreSQL's `float8` versions:
//! the cube root, trigonometry and the conversions between degrees and
//! radians, and `width_bucket`. Out-of-domain inputs (`asin(2)`) are
//! errors 22003, as in PostgreSQL, never NaN.

use super::func::f64_of;
use super::EvalError;
use crate::repr::Datum;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum FloatFn {
    Cbrt,
    Degrees,
    Radians,
    Sin,
    Cos,
    Tan,
    Cot,
    Asin,
    Acos,
    Atan,
    Sinh,
    Cosh,
    Tanh,
}

impl FloatFn {
    pub fn by_name(name: &str) -> Option<FloatFn> {
        use FloatFn::*;
        Some(match name {
            "cbrt" => Cbrt,
            "degrees" => Degrees,
            "radians" => Radians,
            "sin" => Sin,
            "cos" => Cos,
            "tan" => Tan,
            "cot" => Cot,
            "asin" => Asin,
            "acos" => Acos,
            "atan" => Atan,
            "sinh" => Sinh,
            "cosh" => Cosh,
            "tanh" => Tanh,
            _ => return None,
        })
    }

    pub fn eval(self, d: &Datum) -> Result<Datum, EvalError> {
        use FloatFn::*;
        let x = f64_of(d).unwrap_or(f64::NAN);
        if matches!(self, Asin | Acos) && x.abs() > 1.0 {
            return Err(EvalError::new("22003", "input is out of range"));
        }
        if matches!(self, Sin | Cos | Tan | Cot) && x.is_infinite() {
            return Err(EvalError::new("22003", "input is out of range"));
        }
        Ok(Datum::float(match self {
            Cbrt => x.cbrt(),
            Degrees => x.to_degrees(),
            Radians => x.to_radians(),
            Sin => x.sin(),
            Cos => x.cos(),
            Tan => x.tan(),
            Cot => 1.0 / x.tan(),
            Asin => x.asin(),
            Acos => x.acos(),
            Atan => x.atan(),
            Sinh => x.sinh(),
            Cosh => x.cosh(),
            Tanh => x.tanh(),
        }))
    }
}

/// `width_bucket(x, low, high, count)`: which of `count` equal buckets
/// between `low` and `high` holds `x` (from 1), 0 below the range and
/// `count + 1` above it; `low > high` numbers the buckets downwards.
pub fn width_bucket(args: &[Datum]) -> Result<Datum, EvalError> {
    let [x, low, high] = [&args[0], &args[1], &args[2]].map(|d| f64_of(d).unwrap_or(f64::NAN));
    let count = match args[3] {
        Datum::Int(n) if n > 0 => n,
        _ => return Err(EvalError::new("2201G", "count must be greater than zero")),
    };
    if low == high {
        return Err(EvalError::new("2201G", "lower bound cannot equal upper bound"));
    }
    if x.is_nan() || low.is_nan() || high.is_nan() || low.is_infinite() || high.is_infinite() {
        return Err(EvalError::new("2201G", "operand, lower bound, and upper bound cannot be NaN or infinity"));
    }
    let bucket = if low < high {
        if x < low {
            0
        } else if x >= high {
            count + 1
        } else {
            ((count as f64) * (x - low) / (high - low)).floor() as i64 + 1
        }
    } else if x > low {
        0
    } else if x <= high {
        count + 1
    } else {
        ((count as f64) * (low - x) / (low - high)).floor() as i64 + 1
    };
    Ok(Datum::Int(bucket))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_and_domains() {
        let wb = |x: f64, lo: f64, hi: f64, n: i64| width_bucket(&[Datum::float(x), Datum::float(lo), Datum::float(hi), Datum::Int(n)]);
        assert_eq!(wb(5.0, 0.0, 10.0, 5).unwrap(), Datum::Int(3));
        assert_eq!(wb(-1.0, 0.0, 10.0, 5).unwrap(), Datum::Int(0));
        assert_eq!(wb(10.0, 0.0, 10.0, 5).unwrap(), Datum::Int(6));
        assert_eq!(wb(9.0, 10.0, 0.0, 5).unwrap(), Datum::Int(1));
        assert_eq!(wb(1.0, 0.0, 10.0, 0).unwrap_err().code, "2201G");
        assert_eq!(FloatFn::Cbrt.eval(&Datum::Int(27)).unwrap(), Datum::float(3.0));
        assert_eq!(FloatFn::Asin.eval(&Datum::float(2.0)).unwrap_err().code, "22003");
    }
}
