//! Casts between eddy's types, as PostgreSQL's `CAST` converts values.

use super::EvalError;
use crate::repr::{check_int, coerce_numeric, format_datum, parse_datum, Datum, Interval, ScalarType};
use rust_decimal::prelude::*;

/// Converts a value to type `to`, as PostgreSQL's cast does.
pub fn cast(d: Datum, to: ScalarType) -> Result<Datum, EvalError> {
    use ScalarType as T;
    const DAY: i64 = Interval::MICROS_PER_DAY;
    Ok(match (d, to) {
        (Datum::Null, _) => Datum::Null,
        (d @ Datum::Text(_), T::Text) => d,
        // Element by element (`ARRAY[1, 2]::numeric[]`).
        (Datum::Array(items), T::Array(e)) => Datum::Array(items.into_iter().map(|i| cast(i, e.scalar())).collect::<Result<_, _>>()?),
        (Datum::Text(s), to) => parse_datum(&s, to)?,
        (Datum::Jsonb(s), T::Text) => Datum::Text(s),
        (Datum::Bool(b), T::Text) => Datum::text(if b { "true" } else { "false" }),
        (Datum::Float(f), T::Text) => Datum::Text(crate::repr::format_float(f.0, false).into()),
        (d, T::Text) => Datum::Text(format_datum(&d, T::Text).unwrap_or_default().into()),
        (Datum::Int(i), t) if t.is_integer() => check_int(i, t)?,
        (Datum::Int(i), T::Float32 | T::Float64) => Datum::float(i as f64),
        (Datum::Int(i), t @ T::Numeric { .. }) => Datum::Numeric(coerce_numeric(Decimal::from(i), t)?),
        (Datum::Int(i), T::Bool) => Datum::Bool(i != 0),
        // DataFusion plans `date + n` as `date + CAST(n * 86400 AS interval)`:
        // seconds, whole days apart when the microseconds would overflow.
        (Datum::Int(i), T::Interval) => match i.checked_mul(1_000_000) {
            Some(micros) => Datum::Interval(Interval { months: 0, days: 0, micros }),
            None => {
                let days = i32::try_from(i.div_euclid(86_400)).map_err(|_| EvalError::datetime_out_of_range("interval"))?;
                Datum::Interval(Interval { months: 0, days, micros: i.rem_euclid(86_400) * 1_000_000 })
            }
        },
        (Datum::Bool(b), t) if t.is_integer() => Datum::Int(b as i64),
        (Datum::Float(f), t) if t.is_integer() => {
            let r = f.0.round_ties_even();
            if !r.is_finite() || r < t.int_range().unwrap().0 as f64 || r > t.int_range().unwrap().1 as f64 {
                return Err(EvalError::out_of_range(t));
            }
            Datum::Int(r as i64)
        }
        (Datum::Float(f), T::Float32) => Datum::float(f.0 as f32 as f64),
        (d @ Datum::Float(_), T::Float64) => d,
        (Datum::Float(f), t @ T::Numeric { .. }) => {
            if !f.0.is_finite() {
                return Err(EvalError::new("22003", "cannot convert infinity to numeric"));
            }
            let d = Decimal::from_str(&crate::repr::format_float(f.0, false)).or_else(|_| Decimal::from_f64(f.0).ok_or(())).map_err(|_| EvalError::new("22003", "numeric field overflow"))?;
            Datum::Numeric(coerce_numeric(d, t)?)
        }
        (Datum::Numeric(n), t) if t.is_integer() => {
            let r = n.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
            check_int(r.to_i64().ok_or_else(|| EvalError::out_of_range(t))?, t)?
        }
        (Datum::Numeric(n), T::Float32 | T::Float64) => Datum::float(n.to_f64().unwrap_or(f64::NAN)),
        (Datum::Numeric(n), t @ T::Numeric { .. }) => Datum::Numeric(coerce_numeric(n, t)?),
        (Datum::Date(d), T::Timestamp) => Datum::Timestamp(d as i64 * DAY),
        (Datum::Date(d), T::TimestampTz) => Datum::TimestampTz(d as i64 * DAY),
        (Datum::Timestamp(t) | Datum::TimestampTz(t), T::Date) => Datum::Date(t.div_euclid(DAY) as i32),
        (Datum::Timestamp(t), T::TimestampTz) => Datum::TimestampTz(t),
        (Datum::TimestampTz(t), T::Timestamp) => Datum::Timestamp(t),
        (d @ Datum::Bool(_), T::Bool) => d,
        (d @ Datum::Date(_), T::Date) => d,
        (d @ Datum::Timestamp(_), T::Timestamp) => d,
        (d @ Datum::TimestampTz(_), T::TimestampTz) => d,
        (d @ Datum::Interval(_), T::Interval) => d,
        (d @ Datum::Jsonb(_), T::Jsonb) => d,
        (Datum::Jsonb(s), to) => return super::json::cast(&s, to),
        (d, to) => return Err(EvalError::new("42846", format!("cannot cast {:?} to {}", d, to))),
    })
}
