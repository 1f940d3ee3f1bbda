//! PostgreSQL's text input format for every type: what `'...'::type`,
//! INSERT of a string literal and parameters in text format accept.

use super::{Datum, Interval, ScalarType, F64};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use rust_decimal::prelude::*;
use std::fmt;

/// A value that does not parse as its type, or does not fit it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// SQLSTATE: 22P02 invalid text, 22003 out of range, 22008 bad datetime.
    pub code: &'static str,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

fn invalid(ty: ScalarType, s: &str) -> ParseError {
    ParseError { code: "22P02", message: format!("invalid input syntax for type {}: \"{}\"", ty, s) }
}

pub fn out_of_range(ty: ScalarType) -> ParseError {
    let name = match ty {
        ScalarType::Numeric { .. } => "numeric field overflow".to_string(),
        _ => format!("{} out of range", ty),
    };
    let message = if ty.is_integer() { format!("value out of range for type {}", ty) } else { name };
    ParseError { code: "22003", message }
}

/// Parses `s` as a value of type `ty`.
pub fn parse_datum(s: &str, ty: ScalarType) -> Result<Datum, ParseError> {
    let t = s.trim();
    match ty {
        ScalarType::Bool => match t.to_ascii_lowercase().as_str() {
            "t" | "true" | "yes" | "y" | "on" | "1" => Ok(Datum::Bool(true)),
            "f" | "false" | "no" | "n" | "off" | "0" => Ok(Datum::Bool(false)),
            _ => Err(invalid(ty, s)),
        },
        ScalarType::Int16 | ScalarType::Int32 | ScalarType::Int64 => {
            let v: i64 = t.parse().map_err(|_| {
                if !t.is_empty() && t.trim_start_matches(['-', '+']).chars().all(|c| c.is_ascii_digit()) {
                    out_of_range(ty)
                } else {
                    invalid(ty, s)
                }
            })?;
            check_int(v, ty)
        }
        ScalarType::Float32 | ScalarType::Float64 => {
            let v = match t.to_ascii_lowercase().as_str() {
                "nan" => f64::NAN,
                "infinity" | "inf" | "+infinity" => f64::INFINITY,
                "-infinity" | "-inf" => f64::NEG_INFINITY,
                _ => {
                    let v = t.parse::<f64>().map_err(|_| invalid(ty, s))?;
                    let narrowed = if ty == ScalarType::Float32 { v as f32 as f64 } else { v };
                    // A finite number beyond the type's range, or one so
                    // small it would read as zero, is 22003 in PostgreSQL.
                    let underflow = narrowed == 0.0 && t.trim_start_matches(['-', '+']).split(['e', 'E']).next().is_some_and(|m| m.chars().any(|c| ('1'..='9').contains(&c)));
                    if narrowed.is_infinite() || underflow {
                        return Err(ParseError { code: "22003", message: format!("\"{}\" is out of range for type {}", t, ty) });
                    }
                    v // narrowed below, with the named values
                }
            };
            let v = if ty == ScalarType::Float32 { v as f32 as f64 } else { v };
            Ok(Datum::Float(F64(v)))
        }
        ScalarType::Numeric { .. } => {
            let d = Decimal::from_str_exact(t)
                .or_else(|_| Decimal::from_scientific(t))
                // A well-formed number numeric cannot hold (more than 28 digits) is out of range.
                .map_err(|_| if t.chars().any(|c| c.is_ascii_digit()) && t.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E')) && t.parse::<f64>().is_ok() { out_of_range(ty) } else { invalid(ty, s) })?;
            coerce_numeric(d, ty).map(Datum::Numeric)
        }
        ScalarType::Text => Ok(Datum::Text(s.into())),
        ScalarType::Uuid => parse_uuid(s).map(|u| Datum::Text(u.into())).ok_or_else(|| invalid(ty, s)),
        ScalarType::Jsonb => {
            let v = crate::repr::normalize_jsonb(t).map_err(|e| match e {
                crate::repr::JsonbError::TooDeep => ParseError { code: "54001", message: e.to_string() },
                crate::repr::JsonbError::Invalid(_) => ParseError { code: "22P02", message: format!("invalid input syntax for type json: \"{}\"", s) },
            })?;
            Ok(Datum::Jsonb(v.into()))
        }
        ScalarType::Date => parse_date(t).map(Datum::Date).ok_or_else(|| datetime_invalid(ty, s)),
        ScalarType::Timestamp => parse_timestamp(t, false).map(Datum::Timestamp).ok_or_else(|| datetime_invalid(ty, s)),
        ScalarType::TimestampTz => parse_timestamp(t, true).map(Datum::TimestampTz).ok_or_else(|| datetime_invalid(ty, s)),
        ScalarType::Interval => parse_interval(t).map(Datum::Interval).ok_or_else(|| datetime_invalid(ty, s)),
        ScalarType::Array(elem) => super::parse_array(s, elem),
    }
}

fn datetime_invalid(ty: ScalarType, s: &str) -> ParseError {
    // A well-formed date whose month or day does not exist
    // (`2024-02-30`) is out of range, as in PostgreSQL (22008).
    let date_part = s.trim().split([' ', 'T']).next().unwrap_or("");
    let fields: Vec<&str> = date_part.split('-').collect();
    let shaped = fields.len() == 3 && fields.iter().all(|f| !f.is_empty() && f.chars().all(|c| c.is_ascii_digit()));
    if shaped && matches!(ty, ScalarType::Date | ScalarType::Timestamp | ScalarType::TimestampTz) {
        return ParseError { code: "22008", message: format!("date/time field value out of range: \"{}\"", s) };
    }
    ParseError { code: "22007", message: format!("invalid input syntax for type {}: \"{}\"", ty, s) }
}

/// Checks that an integer fits `ty`.
pub fn check_int(v: i64, ty: ScalarType) -> Result<Datum, ParseError> {
    match ty.int_range() {
        Some((lo, hi)) if v < lo || v > hi => Err(out_of_range(ty)),
        _ => Ok(Datum::Int(v)),
    }
}

/// Rounds a numeric to the type's scale and checks its precision, as a
/// cast to `numeric(p, s)` does.
pub fn coerce_numeric(d: Decimal, ty: ScalarType) -> Result<Decimal, ParseError> {
    let ScalarType::Numeric { precision, scale } = ty else { return Ok(d) };
    let mut d = d;
    if let Some(s) = scale.or(precision.map(|_| 0)) {
        d = d.round_dp_with_strategy(s as u32, RoundingStrategy::MidpointAwayFromZero);
        d.rescale(s as u32);
    }
    if let Some(p) = precision {
        let s = scale.unwrap_or(0) as i32;
        let int_digits = d.trunc().abs().to_string().trim_start_matches('0').len() as i32;
        if int_digits > p as i32 - s {
            return Err(ParseError { code: "22003", message: "numeric field overflow".into() });
        }
    }
    Ok(d)
}

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()
}

pub fn parse_date(t: &str) -> Option<i32> {
    let d = NaiveDate::parse_from_str(t, "%Y-%m-%d").ok()?;
    Some((d - epoch()).num_days() as i32)
}

/// Accepts `YYYY-MM-DD[ T]HH:MM[:SS[.f]]` with an optional zone suffix
/// (`Z`, `+HH`, `+HH:MM`), or a bare date.
pub fn parse_timestamp(t: &str, with_zone: bool) -> Option<i64> {
    let (body, offset_secs) = split_zone(t);
    if offset_secs.is_some() && !with_zone {
        // PostgreSQL ignores a zone given to a timestamp without time zone.
    }
    let body = body.trim();
    let ndt = if let Some(d) = parse_date(body) {
        (epoch() + chrono::Duration::days(d as i64)).and_hms_opt(0, 0, 0)?
    } else {
        let normalized = body.replacen('T', " ", 1);
        ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M"]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(&normalized, f).ok())?
    };
    let mut us = ndt.and_utc().timestamp_micros();
    // Digits past microseconds round, as in PostgreSQL (23:59:59.9999995 is
    // the next day), rather than being cut off.
    if ndt.and_utc().timestamp_subsec_nanos() % 1000 >= 500 {
        us = us.checked_add(1)?;
    }
    if with_zone {
        us = us.checked_sub(offset_secs.unwrap_or(0).checked_mul(1_000_000)?)?;
    }
    Some(us).filter(|us| super::timestamp_in_range(*us))
}

fn split_zone(t: &str) -> (&str, Option<i64>) {
    if let Some(b) = t.strip_suffix('Z').or_else(|| t.strip_suffix("+00:00").or_else(|| t.strip_suffix(" UTC"))) {
        return (b, Some(0));
    }
    // A sign after the time part (position > 10 skips the date's dashes).
    if let Some(pos) = t.rfind(['+', '-']).filter(|&p| p > 10) {
        let zone = &t[pos + 1..];
        let sign = if &t[pos..pos + 1] == "-" { -1 } else { 1 };
        let (h, m) = match zone.split_once(':') {
            Some((h, m)) => (h.parse::<i64>().ok(), m.parse::<i64>().ok()),
            None if zone.len() == 4 => (zone[..2].parse().ok(), zone[2..].parse().ok()),
            None => (zone.parse().ok(), Some(0)),
        };
        // PostgreSQL's displacements stop at 15:59; larger ones are not zones.
        if let (Some(h @ 0..=15), Some(m @ 0..=59)) = (h, m) {
            return (&t[..pos], Some(sign * (h * 3600 + m * 60)));
        }
    }
    (t, None)
}

/// Accepts PostgreSQL's interval syntax: unit words (`1 year 2 mons 3 days
/// 04:05:06`, `2 hours`, `-1 day`, `1.5 days`, `3 weeks`, a trailing
/// `ago`, a leading `@`), clock times, and ISO 8601 (`P1Y2M3DT4H5M6S`).
pub fn parse_interval(t: &str) -> Option<Interval> {
    let t = t.trim();
    if let Some(iso) = t.strip_prefix('P').or_else(|| t.strip_prefix('p')) {
        return parse_iso_interval(iso);
    }
    let mut acc = IntervalAcc::default();
    let mut tokens: Vec<String> = Vec::new();
    for word in t.split_whitespace() {
        // Split a number glued to its unit (`10d`, `2hours`).
        let split = word.char_indices().find(|(i, c)| *i > 0 && c.is_ascii_alphabetic() && !word.contains(':')).map(|(i, _)| i);
        match split {
            Some(i) if word[..i].parse::<f64>().is_ok() => {
                tokens.push(word[..i].to_string());
                tokens.push(word[i..].to_string());
            }
            _ => tokens.push(word.to_string()),
        }
    }
    let mut i = 0;
    let mut ago = false;
    if tokens.is_empty() {
        return None;
    }
    while i < tokens.len() {
        let tok = tokens[i].as_str();
        if tok == "@" {
            i += 1;
            continue;
        }
        if tok.eq_ignore_ascii_case("ago") && i == tokens.len() - 1 {
            ago = true;
            i += 1;
            continue;
        }
        if tok.contains(':') {
            acc.micros += parse_clock(tok)? as f64;
            i += 1;
            continue;
        }
        let n: f64 = tok.parse().ok().filter(|n: &f64| n.is_finite())?;
        let unit = tokens.get(i + 1).map(|u| u.to_ascii_lowercase());
        let consumed = if unit.as_deref().is_some_and(|u| unit_of(u).is_some()) { 2 } else { 1 };
        let unit = if consumed == 2 { unit_of(unit.as_deref().unwrap())? } else { Unit::Second };
        acc.add(n, unit);
        i += consumed;
    }
    let mut iv = acc.finish()?;
    if ago {
        iv = Interval { months: -iv.months, days: -iv.days, micros: -iv.micros };
    }
    Some(iv)
}

#[derive(Clone, Copy, PartialEq)]
enum Unit {
    Millennium,
    Century,
    Decade,
    Year,
    Month,
    Week,
    Day,
    Hour,
    Minute,
    Second,
    Millisecond,
    Microsecond,
}

fn unit_of(u: &str) -> Option<Unit> {
    Some(match u {
        "millennium" | "millennia" | "millenniums" | "mil" | "mils" => Unit::Millennium,
        "century" | "centuries" | "c" | "cent" => Unit::Century,
        "decade" | "decades" | "dec" | "decs" => Unit::Decade,
        "year" | "years" | "y" | "yr" | "yrs" => Unit::Year,
        "month" | "months" | "mon" | "mons" => Unit::Month,
        "week" | "weeks" | "w" => Unit::Week,
        "day" | "days" | "d" => Unit::Day,
        "hour" | "hours" | "h" | "hr" | "hrs" => Unit::Hour,
        "minute" | "minutes" | "m" | "min" | "mins" => Unit::Minute,
        "second" | "seconds" | "s" | "sec" | "secs" => Unit::Second,
        "millisecond" | "milliseconds" | "ms" | "msec" | "msecs" => Unit::Millisecond,
        "microsecond" | "microseconds" | "us" | "usec" | "usecs" => Unit::Microsecond,
        _ => return None,
    })
}

/// Interval parts as they are read; fractions of months and days spill
/// into days and time as PostgreSQL's input does.
#[derive(Default)]
struct IntervalAcc {
    months: f64,
    days: f64,
    micros: f64,
}

impl IntervalAcc {
    fn add(&mut self, n: f64, unit: Unit) {
        let months_of = |m: f64, acc: &mut IntervalAcc| {
            let whole = m.trunc();
            acc.months += whole;
            acc.add_days((m - whole) * 30.0);
        };
        match unit {
            Unit::Millennium => months_of((n * 12000.0).round(), self),
            Unit::Century => months_of((n * 1200.0).round(), self),
            Unit::Decade => months_of((n * 120.0).round(), self),
            Unit::Year => months_of((n * 12.0).round(), self),
            Unit::Month => months_of(n, self),
            Unit::Week => self.add_days(n * 7.0),
            Unit::Day => self.add_days(n),
            Unit::Hour => self.micros += n * 3_600_000_000.0,
            Unit::Minute => self.micros += n * 60_000_000.0,
            Unit::Second => self.micros += n * 1_000_000.0,
            Unit::Millisecond => self.micros += n * 1000.0,
            Unit::Microsecond => self.micros += n,
        }
    }
    fn add_days(&mut self, d: f64) {
        let whole = d.trunc();
        self.days += whole;
        self.micros += (d - whole) * Interval::MICROS_PER_DAY as f64;
    }
    fn finish(self) -> Option<Interval> {
        let fits = |v: f64, max: f64| v.is_finite() && v.abs() <= max;
        if !fits(self.months, i32::MAX as f64) || !fits(self.days, i32::MAX as f64) || !fits(self.micros, i64::MAX as f64) {
            return None;
        }
        Some(Interval { months: self.months as i32, days: self.days as i32, micros: self.micros.round() as i64 })
    }
}

/// ISO 8601 durations after the `P`: `1Y2M3DT4H5M6S`, `3W`, `T1.5S`.
fn parse_iso_interval(s: &str) -> Option<Interval> {
    let mut acc = IntervalAcc::default();
    let mut in_time = false;
    let mut num = String::new();
    let mut any = false;
    for c in s.chars() {
        match c {
            'T' | 't' if num.is_empty() && !in_time => in_time = true,
            '0'..='9' | '.' | '-' | '+' => num.push(c),
            _ => {
                let n: f64 = num.parse().ok()?;
                num.clear();
                let unit = match (c.to_ascii_uppercase(), in_time) {
                    ('Y', false) => Unit::Year,
                    ('M', false) => Unit::Month,
                    ('W', false) => Unit::Week,
                    ('D', false) => Unit::Day,
                    ('H', true) => Unit::Hour,
                    ('M', true) => Unit::Minute,
                    ('S', true) => Unit::Second,
                    _ => return None,
                };
                acc.add(n, unit);
                any = true;
            }
        }
    }
    if !num.is_empty() || !any {
        return None;
    }
    acc.finish()
}

fn parse_clock(tok: &str) -> Option<i64> {
    let (neg, tok) = match tok.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, tok.strip_prefix('+').unwrap_or(tok)),
    };
    let parts: Vec<&str> = tok.split(':').collect();
    let (h, m, s) = match parts.as_slice() {
        [h, m] => (h.parse::<i64>().ok()?, m.parse::<i64>().ok()?, 0.0),
        [h, m, s] => (h.parse::<i64>().ok()?, m.parse::<i64>().ok()?, s.parse::<f64>().ok()?),
        _ => return None,
    };
    let us = h.checked_mul(3600)?.checked_add(m.checked_mul(60)?)?.checked_mul(1_000_000)?.checked_add((s * 1_000_000.0).round() as i64)?;
    Some(if neg { -us } else { us })
}

/// A time of day as microseconds (unused by types today, kept for `time`).
#[allow(dead_code)]
fn parse_time(t: &str) -> Option<i64> {
    let tm = NaiveTime::parse_from_str(t, "%H:%M:%S%.f").ok()?;
    Some((tm - NaiveTime::MIN).num_microseconds()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repr::format_datum;

    fn roundtrip(s: &str, ty: ScalarType) -> String {
        format_datum(&parse_datum(s, ty).unwrap(), ty).unwrap()
    }

    #[test]
    fn parses_and_prints_back() {
        assert_eq!(roundtrip("2024-03-01 10:20:30.25", ScalarType::Timestamp), "2024-03-01 10:20:30.25");
        assert_eq!(roundtrip("2024-03-01 10:20:30+02", ScalarType::TimestampTz), "2024-03-01 08:20:30+00");
        assert_eq!(roundtrip("1 day 02:00:00", ScalarType::Interval), "1 day 02:00:00");
        assert_eq!(roundtrip("90 minutes", ScalarType::Interval), "01:30:00");
        assert_eq!(roundtrip("P1Y2M3DT4H5M6S", ScalarType::Interval), "1 year 2 mons 3 days 04:05:06");
        assert_eq!(roundtrip("3 weeks", ScalarType::Interval), "21 days");
        assert_eq!(roundtrip("1.5 days", ScalarType::Interval), "1 day 12:00:00");
        assert_eq!(roundtrip("-1 day 2 hours", ScalarType::Interval), "-1 days +02:00:00");
        assert_eq!(roundtrip("1 year 13 months", ScalarType::Interval), "2 years 1 mon");
        assert_eq!(roundtrip("10 ms", ScalarType::Interval), "00:00:00.01");
        assert_eq!(roundtrip("@ 2 days ago", ScalarType::Interval), "-2 days");
        assert_eq!(roundtrip("1.5 seconds", ScalarType::Interval), "00:00:01.5");
        assert_eq!(roundtrip("12.345", ScalarType::Numeric { precision: Some(10), scale: Some(2) }), "12.35");
        assert_eq!(roundtrip("yes", ScalarType::Bool), "t");
    }

    #[test]
    fn range_errors_have_sqlstate() {
        assert_eq!(parse_datum("40000", ScalarType::Int16).unwrap_err().code, "22003");
        assert_eq!(parse_datum("abc", ScalarType::Int32).unwrap_err().code, "22P02");
        assert_eq!(parse_datum("1234.5", ScalarType::Numeric { precision: Some(4), scale: Some(1) }).unwrap_err().code, "22003");
    }

    #[test]
    fn extreme_input_is_an_error_not_a_panic() {
        let num = ScalarType::Numeric { precision: None, scale: None };
        assert_eq!(parse_datum("1e100", num).unwrap_err().code, "22003");
        assert_eq!(parse_datum("1e99999999999999999999", num).unwrap_err().code, "22003");
        assert_eq!(parse_datum("123456789012345678901234567890", num).unwrap_err().code, "22003");
        assert!(parse_datum("1e-100", num).is_ok() || parse_datum("1e-100", num).unwrap_err().code == "22003");
        assert_eq!(parse_datum("1e5e5", num).unwrap_err().code, "22P02");
        assert_eq!(parse_datum("99999999999999999:00", ScalarType::Interval).unwrap_err().code, "22007");
        assert_eq!(parse_datum("9223372036854775807:00:00", ScalarType::Interval).unwrap_err().code, "22007");
        assert!(parse_datum("2024-01-01 10:00+99999999999999999", ScalarType::TimestampTz).is_err());
        assert!(parse_datum("2024-01-01 10:00+9999999999", ScalarType::TimestampTz).is_err());
        assert_eq!(roundtrip("2024-01-01 10:00-15:59", ScalarType::TimestampTz), "2024-01-02 01:59:00+00");
    }
}

/// A UUID in any form PostgreSQL reads (upper or lower case, optional
/// braces, hyphens after any group of four digits) as its canonical text.
pub fn parse_uuid(s: &str) -> Option<String> {
    let inner = match s.strip_prefix('{') {
        Some(rest) => rest.strip_suffix('}')?,
        None => s,
    };
    let mut hex = String::with_capacity(32);
    let mut since_hyphen = 0;
    for (i, c) in inner.chars().enumerate() {
        if c == '-' {
            // Only between groups of four digits, never first, last or twice.
            if i == 0 || since_hyphen % 4 != 0 || since_hyphen == 0 {
                return None;
            }
            since_hyphen = 0;
            continue;
        }
        if !c.is_ascii_hexdigit() {
            return None;
        }
        hex.push(c.to_ascii_lowercase());
        since_hyphen += 1;
    }
    if hex.len() != 32 || inner.ends_with('-') {
        return None;
    }
    Some(format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32]))
}

#[cfg(test)]
mod uuid_tests {
    use super::parse_uuid;

    #[test]
    fn uuid_spellings_as_postgres_reads_them() {
        let canonical = Some("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11".to_string());
        for s in ["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}", "a0eebc999c0b4ef8bb6d6bb9bd380a11", "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11", "{a0eebc999c0b4ef8bb6d6bb9bd380a11}"] {
            assert_eq!(parse_uuid(s), canonical, "{s}");
        }
        for s in ["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1", "a0eebc99-9c0b4-ef8-bb6d-6bb9bd380a11", "-a0eebc999c0b4ef8bb6d6bb9bd380a11", "a0eebc999c0b4ef8bb6d6bb9bd380a11-", "a0eebc99--9c0b-4ef8-bb6d-6bb9bd380a11", "{a0eebc999c0b4ef8bb6d6bb9bd380a11", "g0eebc999c0b4ef8bb6d6bb9bd380a11", ""] {
            assert_eq!(parse_uuid(s), None, "{s}");
        }
    }
}
