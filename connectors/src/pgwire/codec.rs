//! One value on the wire: PostgreSQL's binary format for every
//! [`ScalarType`], both ways, and the text format for parameters.
//!
//! Does: encode a non-null [`Datum`] in binary by its column type (the type,
//! not the datum, decides the width: every integer is a `Datum::Int`),
//! decode binary and text parameters into datums. Does not: frame values
//! into messages (see `results.rs`), or produce text output (that is the
//! engine's `format_datum`, shared with every other text consumer).

use bytes::BufMut;
use eddy_engine::repr::{coerce_numeric, format_datum, parse_datum, Interval, ScalarType, F64};
use eddy_engine::Datum;
use eddy_sql::SqlError;
use rust_decimal::Decimal;

/// Days from 1970-01-01 (our epoch) to 2000-01-01 (PostgreSQL's).
pub const PG_EPOCH_DAYS: i32 = 10_957;
/// Microseconds from 1970-01-01 to 2000-01-01.
pub const PG_EPOCH_MICROS: i64 = PG_EPOCH_DAYS as i64 * 86_400_000_000;

const NUMERIC_POS: u16 = 0x0000;
const NUMERIC_NEG: u16 = 0x4000;
const NUMERIC_NAN: u16 = 0xC000;
const NUMERIC_PINF: u16 = 0xD000;
const NUMERIC_NINF: u16 = 0xF000;
/// rust_decimal keeps at most 28 fractional digits.
const MAX_SCALE: usize = 28;

/// Writes `d` (not NULL) in the binary format of `ty`.
///
/// Datums of a neighbouring kind are widened where that is lossless in
/// meaning (an `Int` in a float or numeric column, a timestamp of either
/// zone kind), so a planner that is loose about result types still
/// produces correct bytes; anything else is an internal error.
pub fn encode_binary<B: BufMut>(d: &Datum, ty: ScalarType, buf: &mut B) -> Result<(), SqlError> {
    use ScalarType as T;
    match (ty, d) {
        (T::Bool, Datum::Bool(b)) => buf.put_u8(*b as u8),
        (T::Int16, Datum::Int(i)) => buf.put_i16(i16::try_from(*i).map_err(|_| out_of_range(ty))?),
        (T::Int32, Datum::Int(i)) => buf.put_i32(i32::try_from(*i).map_err(|_| out_of_range(ty))?),
        (T::Int64, Datum::Int(i)) => buf.put_i64(*i),
        (T::Float32, Datum::Float(f)) => buf.put_f32(f.0 as f32),
        (T::Float32, Datum::Int(i)) => buf.put_f32(*i as f32),
        (T::Float64, Datum::Float(f)) => buf.put_f64(f.0),
        (T::Float64, Datum::Int(i)) => buf.put_f64(*i as f64),
        // Aggregates eddy computes exactly where DataFusion plans a narrower
        // type (sum(bigint), avg(integer) are numeric in PostgreSQL): send
        // the value in the declared type when it fits.
        (T::Int16 | T::Int32 | T::Int64, Datum::Numeric(n)) if n.fract().is_zero() => {
            let i = i64::try_from(*n).map_err(|_| out_of_range(ty))?;
            return encode_binary(&Datum::Int(i), ty, buf);
        }
        (T::Float32 | T::Float64, Datum::Numeric(n)) => {
            use rust_decimal::prelude::ToPrimitive;
            return encode_binary(&Datum::float(n.to_f64().unwrap_or(f64::NAN)), ty, buf);
        }
        (T::Numeric { .. }, Datum::Numeric(n)) => encode_numeric(n, buf),
        (T::Numeric { .. }, Datum::Int(i)) => encode_numeric(&Decimal::from(*i), buf),
        (T::Jsonb, Datum::Jsonb(s) | Datum::Text(s)) => {
            buf.put_u8(1); // jsonb binary format version
            buf.put_slice(s.as_bytes());
        }
        (T::Date, Datum::Date(days)) => {
            buf.put_i32(days.checked_sub(PG_EPOCH_DAYS).ok_or_else(|| out_of_range(ty))?)
        }
        (T::Timestamp | T::TimestampTz, Datum::Timestamp(us) | Datum::TimestampTz(us)) => {
            buf.put_i64(us.checked_sub(PG_EPOCH_MICROS).ok_or_else(|| out_of_range(ty))?)
        }
        (T::Interval, Datum::Interval(iv)) => {
            buf.put_i64(iv.micros);
            buf.put_i32(iv.days);
            buf.put_i32(iv.months);
        }
        // uuid's binary format: its 16 bytes.
        (T::Uuid, Datum::Text(s)) => {
            let hex: String = s.chars().filter(|c| *c != '-').collect();
            if hex.len() != 32 {
                return Err(mismatch(d, ty));
            }
            for i in (0..32).step_by(2) {
                buf.put_u8(u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| mismatch(d, ty))?);
            }
        }
        // array_send: dimensions, a NULL flag, the element type, then each
        // element with its length (-1 for NULL).
        (T::Array(e), Datum::Array(items)) => {
            buf.put_i32(i32::from(!items.is_empty()));
            buf.put_i32(i32::from(items.iter().any(Datum::is_null)));
            buf.put_u32(e.scalar().oid());
            if !items.is_empty() {
                buf.put_i32(items.len() as i32);
                buf.put_i32(1);
            }
            for item in items {
                if item.is_null() {
                    buf.put_i32(-1);
                    continue;
                }
                let mut bytes = bytes::BytesMut::new();
                encode_binary(item, e.scalar(), &mut bytes)?;
                buf.put_i32(bytes.len() as i32);
                buf.put_slice(&bytes);
            }
        }
        // text's binary format is its text format, so any datum can go there.
        (T::Text, d) => match format_datum(d, ty) {
            Some(s) => buf.put_slice(s.as_bytes()),
            None => return Err(mismatch(d, ty)),
        },
        (_, d) => return Err(mismatch(d, ty)),
    }
    Ok(())
}

/// Reads a parameter sent in binary format as a value of `ty`.
pub fn decode_binary(b: &[u8], ty: ScalarType) -> Result<Datum, SqlError> {
    use ScalarType as T;
    Ok(match ty {
        T::Bool => Datum::Bool(fixed::<1>(b, ty)?[0] != 0),
        T::Int16 => Datum::Int(i16::from_be_bytes(fixed(b, ty)?) as i64),
        T::Int32 => Datum::Int(i32::from_be_bytes(fixed(b, ty)?) as i64),
        T::Int64 => Datum::Int(i64::from_be_bytes(fixed(b, ty)?)),
        T::Float32 => Datum::Float(F64(f32::from_be_bytes(fixed(b, ty)?) as f64)),
        T::Float64 => Datum::Float(F64(f64::from_be_bytes(fixed(b, ty)?))),
        T::Numeric { .. } => {
            let n = decode_numeric(b)?;
            Datum::Numeric(coerce_numeric(n, ty).map_err(|e| SqlError::new(e.code, e.message))?)
        }
        T::Text => Datum::Text(utf8(b)?.to_owned().into()),
        T::Uuid => {
            let bytes: [u8; 16] = fixed(b, ty)?;
            let hex: String = bytes.iter().map(|b| format!("{:02x}", b)).collect();
            decode_text(hex.as_bytes(), ty)?
        }
        T::Jsonb => match b.split_first() {
            // Through the text parser, so the datum holds canonical JSON.
            Some((1, rest)) => decode_text(rest, ty)?,
            _ => return Err(bad_binary(ty)),
        },
        T::Date => {
            let days = i32::from_be_bytes(fixed(b, ty)?);
            Datum::Date(days.checked_add(PG_EPOCH_DAYS).ok_or_else(|| out_of_range(ty))?)
        }
        T::Timestamp | T::TimestampTz => {
            let us = i64::from_be_bytes(fixed(b, ty)?);
            let us = us.checked_add(PG_EPOCH_MICROS).ok_or_else(|| out_of_range(ty))?;
            if ty == T::Timestamp {
                Datum::Timestamp(us)
            } else {
                Datum::TimestampTz(us)
            }
        }
        T::Array(e) => decode_array(b, e.scalar())?,
        T::Interval => {
            let b: [u8; 16] = fixed(b, ty)?;
            Datum::Interval(Interval {
                micros: i64::from_be_bytes(b[0..8].try_into().unwrap()),
                days: i32::from_be_bytes(b[8..12].try_into().unwrap()),
                months: i32::from_be_bytes(b[12..16].try_into().unwrap()),
            })
        }
    })
}

/// Reads array_send's format (see [`encode_binary`]): one dimension, or
/// none for an empty array.
fn decode_array(b: &[u8], elem: ScalarType) -> Result<Datum, SqlError> {
    let ty = elem.array_of().unwrap_or(elem);
    let word = |at: usize| -> Result<i32, SqlError> { b.get(at..at + 4).map(|w| i32::from_be_bytes(w.try_into().unwrap())).ok_or_else(|| bad_binary(ty)) };
    let dims = word(0)?;
    if dims == 0 {
        return Ok(Datum::Array(Vec::new()));
    }
    if dims != 1 {
        return Err(SqlError::unsupported("multidimensional arrays").with_hint("eddy's arrays have one dimension"));
    }
    let len = word(12)?;
    let mut at = 20;
    let mut items = Vec::with_capacity(len.max(0) as usize);
    for _ in 0..len {
        let n = word(at)?;
        at += 4;
        if n < 0 {
            items.push(Datum::Null);
            continue;
        }
        let bytes = b.get(at..at + n as usize).ok_or_else(|| bad_binary(ty))?;
        items.push(decode_binary(bytes, elem)?);
        at += n as usize;
    }
    Ok(Datum::Array(items))
}

/// Reads a parameter sent in text format as a value of `ty`, exactly as a
/// string literal cast to `ty` would be read.
pub fn decode_text(b: &[u8], ty: ScalarType) -> Result<Datum, SqlError> {
    parse_datum(utf8(b)?, ty).map_err(|e| SqlError::new(e.code, e.message))
}

/// PostgreSQL's binary numeric: digit count, weight (the power of 10000 of
/// the first digit), sign, display scale, then base-10000 digits with
/// leading and trailing zero digits left out.
fn encode_numeric<B: BufMut>(n: &Decimal, buf: &mut B) {
    let scale = n.scale() as usize;
    let digits = n.mantissa().unsigned_abs().to_string();
    let (int_part, frac_part) = if digits.len() > scale {
        digits.split_at(digits.len() - scale)
    } else {
        ("", digits.as_str())
    };
    // Align both parts on base-10000 digit boundaries around the point.
    let mut s = String::with_capacity(digits.len() + 8);
    s.extend(std::iter::repeat_n('0', (4 - int_part.len() % 4) % 4));
    s.push_str(int_part);
    let int_groups = s.len() / 4;
    s.extend(std::iter::repeat_n('0', scale - frac_part.len()));
    s.push_str(frac_part);
    s.extend(std::iter::repeat_n('0', (4 - scale % 4) % 4));
    let mut groups: Vec<i16> = s.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).unwrap().parse().unwrap()).collect();
    let mut weight = int_groups as i16 - 1;
    let lead = groups.iter().take_while(|g| **g == 0).count();
    groups.drain(..lead);
    weight -= lead as i16;
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    let sign = if n.is_sign_negative() && !groups.is_empty() { NUMERIC_NEG } else { NUMERIC_POS };
    buf.put_i16(groups.len() as i16);
    buf.put_i16(weight);
    buf.put_u16(sign);
    buf.put_u16(scale as u16);
    for g in groups {
        buf.put_i16(g);
    }
}

fn decode_numeric(b: &[u8]) -> Result<Decimal, SqlError> {
    let ty = ScalarType::Numeric { precision: None, scale: None };
    let bad = || bad_binary(ty);
    if b.len() < 8 {
        return Err(bad());
    }
    let word = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
    let (ndigits, weight, sign, dscale) = (word(0) as i16, word(2) as i16, word(4), word(6) as usize);
    if ndigits < 0 || b.len() != 8 + 2 * ndigits as usize {
        return Err(bad());
    }
    match sign {
        NUMERIC_POS | NUMERIC_NEG => {}
        NUMERIC_NAN | NUMERIC_PINF | NUMERIC_NINF => {
            return Err(SqlError::new("22003", "NaN and infinite numeric values are not supported"))
        }
        _ => return Err(bad()),
    }
    let digits: Vec<u16> = (0..ndigits as usize).map(|i| word(8 + 2 * i)).collect();
    if digits.iter().any(|d| *d > 9999) {
        return Err(bad());
    }
    // A weight beyond 7 means more than 32 integer digits: too big anyway.
    if weight > 7 {
        return Err(numeric_overflow());
    }
    let digit_at = |i: i32| if i >= 0 { digits.get(i as usize).copied().unwrap_or(0) } else { 0 };
    let mut text = String::new();
    if sign == NUMERIC_NEG {
        text.push('-');
    }
    let mut int = String::new();
    for i in 0..=weight as i32 {
        int.push_str(&format!("{:04}", digit_at(i)));
    }
    let int = int.trim_start_matches('0');
    text.push_str(if int.is_empty() { "0" } else { int });
    let mut frac = String::new();
    let mut i = weight as i32 + 1;
    while frac.len() < dscale {
        frac.push_str(&format!("{:04}", digit_at(i)));
        i += 1;
    }
    frac.truncate(dscale);
    // Zeros beyond what rust_decimal can hold carry no information.
    while frac.len() > MAX_SCALE && frac.ends_with('0') {
        frac.pop();
    }
    if !frac.is_empty() {
        text.push('.');
        text.push_str(&frac);
    }
    Decimal::from_str_exact(&text).map_err(|_| numeric_overflow())
}

fn fixed<const N: usize>(b: &[u8], ty: ScalarType) -> Result<[u8; N], SqlError> {
    b.try_into().map_err(|_| bad_binary(ty))
}

fn utf8(b: &[u8]) -> Result<&str, SqlError> {
    std::str::from_utf8(b).map_err(|_| SqlError::new("22021", "invalid byte sequence for encoding \"UTF8\""))
}

fn bad_binary(ty: ScalarType) -> SqlError {
    SqlError::new("22P03", format!("incorrect binary data format for type {}", ty))
}

fn out_of_range(ty: ScalarType) -> SqlError {
    SqlError::new("22003", format!("{} out of range", ty))
}

fn numeric_overflow() -> SqlError {
    SqlError::new("22003", "numeric value out of range (eddy keeps at most 28 significant digits)")
}

fn mismatch(d: &Datum, ty: ScalarType) -> SqlError {
    SqlError::new("XX000", format!("internal error: cannot send {:?} as {}", d, ty))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    const NUM: ScalarType = ScalarType::Numeric { precision: None, scale: None };

    fn enc(d: &Datum, ty: ScalarType) -> Vec<u8> {
        let mut v = Vec::new();
        encode_binary(d, ty, &mut v).unwrap();
        v
    }

    fn round_trip(d: Datum, ty: ScalarType) {
        let bytes = enc(&d, ty);
        assert_eq!(decode_binary(&bytes, ty).unwrap(), d, "{:?} as {}", d, ty);
    }

    #[test]
    fn fixed_width_round_trips() {
        use ScalarType as T;
        round_trip(Datum::Bool(true), T::Bool);
        round_trip(Datum::Bool(false), T::Bool);
        for (v, ty) in [(i16::MIN as i64, T::Int16), (-7, T::Int16), (i32::MAX as i64, T::Int32), (i64::MIN, T::Int64)] {
            round_trip(Datum::Int(v), ty);
        }
        round_trip(Datum::float(1.5), T::Float32);
        round_trip(Datum::float(-0.1), T::Float64);
        round_trip(Datum::float(f64::INFINITY), T::Float64);
        round_trip(Datum::Date(0), T::Date);
        round_trip(Datum::Date(-800_000), T::Date);
        round_trip(Datum::Timestamp(1_700_000_000_123_456), T::Timestamp);
        round_trip(Datum::TimestampTz(-1), T::TimestampTz);
        round_trip(Datum::Interval(Interval { months: 14, days: -3, micros: 3_600_000_001 }), T::Interval);
    }

    #[test]
    fn widths_follow_the_column_type() {
        assert_eq!(enc(&Datum::Int(1), ScalarType::Int16), [0, 1]);
        assert_eq!(enc(&Datum::Int(1), ScalarType::Int32), [0, 0, 0, 1]);
        assert_eq!(enc(&Datum::Int(-1), ScalarType::Int64), [0xff; 8]);
        assert_eq!(enc(&Datum::float(1.0), ScalarType::Float32), 1.0f32.to_be_bytes());
        assert!(encode_binary(&Datum::Int(70_000), ScalarType::Int16, &mut Vec::new()).is_err());
        assert_eq!(decode_binary(&[0, 0, 0, 1], ScalarType::Int16).unwrap_err().code, "22P03");
    }

    #[test]
    fn epochs_are_shifted_to_2000() {
        // 2000-01-01 is day 0 / microsecond 0 on the wire.
        assert_eq!(enc(&Datum::Date(10_957), ScalarType::Date), [0, 0, 0, 0]);
        assert_eq!(enc(&Datum::Timestamp(PG_EPOCH_MICROS), ScalarType::Timestamp), [0; 8]);
        assert_eq!(decode_binary(&[0xff; 4], ScalarType::Date).unwrap(), Datum::Date(10_956));
        // i32::MAX days (PostgreSQL's 'infinity') does not fit our range.
        assert_eq!(decode_binary(&i32::MAX.to_be_bytes(), ScalarType::Date).unwrap_err().code, "22003");
    }

    #[test]
    fn interval_layout_is_micros_days_months() {
        let iv = Interval { months: 2, days: 3, micros: 4 };
        assert_eq!(enc(&Datum::Interval(iv), ScalarType::Interval), [0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 3, 0, 0, 0, 2]);
    }

    #[test]
    fn text_and_jsonb() {
        round_trip(Datum::text("héllo"), ScalarType::Text);
        round_trip(Datum::text(""), ScalarType::Text);
        let j = Datum::Jsonb(r#"{"a": 1}"#.into());
        let bytes = enc(&j, ScalarType::Jsonb);
        assert_eq!(bytes[0], 1);
        assert_eq!(&bytes[1..], br#"{"a": 1}"#);
        assert_eq!(decode_binary(&bytes, ScalarType::Jsonb).unwrap(), decode_text(&bytes[1..], ScalarType::Jsonb).unwrap());
        assert_eq!(decode_binary(b"\x02{}", ScalarType::Jsonb).unwrap_err().code, "22P03");
        assert_eq!(decode_binary(&[0xff], ScalarType::Text).unwrap_err().code, "22021");
        // Text columns accept any datum, in its text form.
        assert_eq!(enc(&Datum::Int(42), ScalarType::Text), b"42");
    }

    #[test]
    fn numeric_known_encodings() {
        let n = |s: &str| Datum::Numeric(Decimal::from_str(s).unwrap());
        // ndigits, weight, sign, dscale, digits (as PostgreSQL's numeric_send).
        let words = |d: &Datum| enc(d, NUM).chunks(2).map(|c| i16::from_be_bytes([c[0], c[1]])).collect::<Vec<_>>();
        assert_eq!(words(&n("12345.678")), [3, 1, 0, 3, 1, 2345, 6780]);
        assert_eq!(words(&n("-0.00001")), [1, -2, 0x4000, 5, 1000]);
        assert_eq!(words(&n("0.00")), [0, 0, 0, 2]);
        assert_eq!(words(&n("10000")), [1, 1, 0, 0, 1]);
        assert_eq!(words(&n("1.5")), [2, 0, 0, 1, 1, 5000]);
    }

    #[test]
    fn numeric_round_trips() {
        for s in [
            "0", "1", "-1", "0.1", "12345.678", "-0.00001", "10000", "99999999.9999", "1.50",
            "79228162514264337593543950335", "-0.0000000000000000000000000001", "3.1415926535897932384626433832",
        ] {
            round_trip(Datum::Numeric(Decimal::from_str(s).unwrap()), NUM);
        }
        // The display scale survives: 1.50 stays 1.50.
        let d = decode_binary(&enc(&Datum::Numeric(Decimal::from_str("1.50").unwrap()), NUM), NUM).unwrap();
        assert_eq!(format_datum(&d, NUM).unwrap(), "1.50");
    }

    #[test]
    fn numeric_decode_edges() {
        let raw = |w: &[i16]| w.iter().flat_map(|x| x.to_be_bytes()).collect::<Vec<u8>>();
        // NaN is not representable.
        assert_eq!(decode_binary(&raw(&[0, 0, 0xC000u16 as i16, 0]), NUM).unwrap_err().code, "22003");
        // Truncated message.
        assert_eq!(decode_binary(&raw(&[2, 0, 0, 0, 1]), NUM).unwrap_err().code, "22P03");
        // 10^40 is beyond rust_decimal.
        assert_eq!(decode_binary(&raw(&[1, 10, 0, 0, 1]), NUM).unwrap_err().code, "22003");
        // A typmod on the parameter's type applies, as for text input.
        let num2 = ScalarType::Numeric { precision: Some(5), scale: Some(1) };
        let d = decode_binary(&raw(&[2, 0, 0, 2, 1, 2500]), num2).unwrap();
        assert_eq!(format_datum(&d, num2).unwrap(), "1.3");
    }

    #[test]
    fn text_parameters_use_the_sql_parser() {
        assert_eq!(decode_text(b"42", ScalarType::Int32).unwrap(), Datum::Int(42));
        assert_eq!(decode_text(b"99999", ScalarType::Int16).unwrap_err().code, "22003");
        assert_eq!(decode_text(b"yes", ScalarType::Bool).unwrap(), Datum::Bool(true));
        assert_eq!(decode_text(b"2000-01-01", ScalarType::Date).unwrap(), Datum::Date(PG_EPOCH_DAYS));
    }
}
