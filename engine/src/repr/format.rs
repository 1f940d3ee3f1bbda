//! PostgreSQL's text output format for every type, so that psql shows what
//! it would show for PostgreSQL (the oracle tests compare these strings).

use super::{Datum, Interval, ScalarType};
use chrono::{DateTime, NaiveDate};

/// Formats a non-null datum of type `ty` as PostgreSQL's text output does
/// (session time zone UTC, DateStyle ISO).
pub fn format_datum(d: &Datum, ty: ScalarType) -> Option<String> {
    Some(match d {
        Datum::Null => return None,
        Datum::Bool(b) => if *b { "t" } else { "f" }.to_string(),
        Datum::Int(i) => i.to_string(),
        Datum::Float(f) => format_float(f.0, ty == ScalarType::Float32),
        Datum::Numeric(n) => format_numeric(n),
        Datum::Text(s) | Datum::Jsonb(s) => s.to_string(),
        Datum::Date(d) => format_date(*d),
        Datum::Timestamp(us) => format_timestamp(*us),
        Datum::TimestampTz(us) => format!("{}+00", format_timestamp(*us)),
        Datum::Interval(iv) => format_interval(iv),
    })
}

/// Shortest round-trip digits, in `%g` style with PostgreSQL's thresholds:
/// exponent notation below 1e-4 and at or above 1e15 (1e6 for real).
pub fn format_float(f: f64, real: bool) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let sci = if real { format!("{:e}", f as f32) } else { format!("{:e}", f) };
    let (mantissa, exp) = sci.split_once('e').unwrap();
    let exp: i32 = exp.parse().unwrap();
    let neg = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let max_exp = if real { 6 } else { 15 };
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if exp < -4 || exp >= max_exp {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push_str(&format!("e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs()));
    } else if exp < 0 {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.push_str(&digits);
            for _ in digits.len()..int_len {
                out.push('0');
            }
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    }
    out
}

pub fn format_date(days: i32) -> String {
    let d = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap() + chrono::Duration::days(days as i64);
    format_ymd(d)
}

fn format_ymd(d: NaiveDate) -> String {
    use chrono::Datelike;
    if d.year() <= 0 {
        format!("{:04}-{:02}-{:02} BC", 1 - d.year(), d.month(), d.day())
    } else {
        format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
    }
}

pub fn format_timestamp(us: i64) -> String {
    use chrono::Timelike;
    let Some(dt) = DateTime::from_timestamp_micros(us) else { return "infinity".into() };
    let dt = dt.naive_utc();
    let mut s = format!("{} {:02}:{:02}:{:02}", format_ymd(dt.date()), dt.hour(), dt.minute(), dt.second());
    push_fraction(&mut s, (us.rem_euclid(1_000_000)) as u32);
    if s.contains(" BC ") {
        // PostgreSQL puts the era after the time.
    }
    s
}

fn push_fraction(s: &mut String, micros: u32) {
    if micros != 0 {
        let frac = format!("{:06}", micros);
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
}

/// A numeric with its scale; PostgreSQL's numeric has no negative zero.
pub fn format_numeric(n: &rust_decimal::Decimal) -> String {
    if n.is_zero() && n.is_sign_negative() {
        let mut z = *n;
        z.set_sign_positive(true);
        return z.to_string();
    }
    n.to_string()
}

/// PostgreSQL's `IntervalStyle = postgres` output: a part after a negative
/// one carries an explicit `+`, e.g. `-1 days +02:00:00`.
pub fn format_interval(iv: &Interval) -> String {
    let mut out = String::new();
    let mut is_zero = true;
    let mut is_before = false;
    let mut part = |value: i64, unit: &str, out: &mut String| {
        if value == 0 {
            return;
        }
        let sep = if is_zero { "" } else { " " };
        let plus = if is_before && value > 0 { "+" } else { "" };
        out.push_str(&format!("{}{}{} {}{}", sep, plus, value, unit, if value != 1 { "s" } else { "" }));
        is_before = value < 0;
        is_zero = false;
    };
    part((iv.months / 12) as i64, "year", &mut out);
    part((iv.months % 12) as i64, "mon", &mut out);
    part(iv.days as i64, "day", &mut out);
    if is_zero || iv.micros != 0 {
        let minus = iv.micros < 0;
        let total = iv.micros.unsigned_abs();
        let secs = total / 1_000_000;
        out.push_str(if is_zero { "" } else { " " });
        out.push_str(if minus { "-" } else if is_before { "+" } else { "" });
        out.push_str(&format!("{:02}:{:02}:{:02}", secs / 3600, (secs / 60) % 60, secs % 60));
        push_fraction(&mut out, (total % 1_000_000) as u32);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn floats_print_like_postgres() {
        assert_eq!(format_float(1.5, false), "1.5");
        assert_eq!(format_float(1e20, false), "1e+20");
        assert_eq!(format_float(123456789012345.0, false), "123456789012345");
        assert_eq!(format_float(1234567890123456.0, false), "1.234567890123456e+15");
        assert_eq!(format_float(0.0001, false), "0.0001");
        assert_eq!(format_float(0.00001, false), "1e-05");
        assert_eq!(format_float(0.1 + 0.2, false), "0.30000000000000004");
        assert_eq!(format_float(-2.0, false), "-2");
    }
    #[test]
    fn intervals_print_like_postgres() {
        let iv = Interval { months: 14, days: 3, micros: 4 * 3_600_000_000 + 5_500_000 };
        assert_eq!(format_interval(&iv), "1 year 2 mons 3 days 04:00:05.5");
        assert_eq!(format_interval(&Interval::default()), "00:00:00");
        assert_eq!(format_interval(&Interval { months: 0, days: 1, micros: 0 }), "1 day");
        assert_eq!(format_interval(&Interval { months: 0, days: -1, micros: 7_200_000_000 }), "-1 days +02:00:00");
        assert_eq!(format_interval(&Interval { months: -13, days: 2, micros: -1_000_000 }), "-1 years -1 mons +2 days -00:00:01");
        assert_eq!(format_interval(&Interval { months: 0, days: 0, micros: -30_000_000 }), "-00:00:30");
    }
    #[test]
    fn numeric_zero_has_no_sign() {
        use rust_decimal::Decimal;
        assert_eq!(format_numeric(&Decimal::new(-5, 1).ceil()), "0");
        let mut z = Decimal::new(0, 1);
        z.set_sign_negative(true);
        assert_eq!(format_numeric(&z), "0.0");
        assert_eq!(format_numeric(&Decimal::new(-150, 2)), "-1.50");
    }
    #[test]
    fn timestamps_print_like_postgres() {
        assert_eq!(format_timestamp(0), "1970-01-01 00:00:00");
        assert_eq!(format_timestamp(1_500_000), "1970-01-01 00:00:01.5");
        assert_eq!(format_date(19723), "2024-01-01");
    }
}

/// PostgreSQL's jsonb output: object keys ordered by length then bytes,
/// a space after `:` and `,`.
pub fn format_jsonb(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| a.len().cmp(&b.len()).then(a.cmp(b)));
            let items: Vec<String> = keys.iter().map(|k| format!("{}: {}", Value::String((*k).clone()), format_jsonb(&map[*k]))).collect();
            format!("{{{}}}", items.join(", "))
        }
        Value::Array(items) => format!("[{}]", items.iter().map(format_jsonb).collect::<Vec<_>>().join(", ")),
        other => other.to_string(),
    }
}
