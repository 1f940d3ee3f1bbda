//! PostgreSQL's text output format for every type, so that psql shows what
//! it would show for PostgreSQL (the oracle tests compare these strings).

use super::{Datum, Interval, ScalarType};

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
        Datum::TimestampTz(us) => format_timestamp_zone(*us, "+00"),
        Datum::Interval(iv) => format_interval(iv),
        Datum::Array(items) => match ty {
            ScalarType::Array(elem) => super::format_array(items, elem),
            _ => super::format_array(items, super::ElementType::Text),
        },
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
    let (y, m, d) = civil_from_days(days as i64);
    format!("{}{}", format_ymd(y, m, d), if y <= 0 { " BC" } else { "" })
}

/// The proleptic Gregorian year, month and day of a day count from
/// 1970-01-01 (year 0 is 1 BC). Total, unlike chrono's arithmetic, which
/// panics beyond its range: formatting a value never fails.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Howard Hinnant's days_from_civil inverse, over 400-year eras.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (y, m, d)
}

/// `YYYY-MM-DD` without the era: a year before 1 AD prints as its BC year.
fn format_ymd(y: i64, m: u32, d: u32) -> String {
    format!("{:04}-{:02}-{:02}", if y <= 0 { 1 - y } else { y }, m, d)
}

/// A timestamp as PostgreSQL prints it; `zone` (`+00`) goes after the time
/// and before the era, as in `0044-03-15 12:00:00+00 BC`.
pub fn format_timestamp(us: i64) -> String {
    format_timestamp_zone(us, "")
}

fn format_timestamp_zone(us: i64, zone: &str) -> String {
    let (y, m, d) = civil_from_days(us.div_euclid(Interval::MICROS_PER_DAY));
    let secs = us.rem_euclid(Interval::MICROS_PER_DAY) / 1_000_000;
    let mut s = format!("{} {:02}:{:02}:{:02}", format_ymd(y, m, d), secs / 3600, (secs / 60) % 60, secs % 60);
    push_fraction(&mut s, (us.rem_euclid(1_000_000)) as u32);
    s.push_str(zone);
    if y <= 0 {
        s.push_str(" BC");
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
    #[test]
    fn dates_print_as_chrono_reads_them() {
        use chrono::{Datelike, NaiveDate};
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        let (lo, hi) = crate::repr::date_range();
        let days = (-800_000..800_000).step_by(997).chain([lo, lo + 1, -719_528, -719_162, -1, 0, 59, 60, 11_016, hi - 1, hi]);
        for d in days {
            let c = epoch + chrono::Duration::days(d);
            assert_eq!(civil_from_days(d), (c.year() as i64, c.month(), c.day()), "day {}", d);
        }
    }
    #[test]
    fn values_beyond_the_supported_range_still_print() {
        // Formatting is total: it used to panic in chrono ("NaiveDate +
        // TimeDelta overflowed") for a date a few hundred thousand years out.
        assert_eq!(format_date(i32::MAX), "5881580-07-11");
        assert_eq!(format_date(i32::MIN), "5877642-06-23 BC");
        assert_eq!(format_timestamp(i64::MAX), "294247-01-10 04:00:54.775807");
        assert_eq!(format_timestamp(i64::MIN), "290309-12-21 19:59:05.224192 BC");
        assert_eq!(format_datum(&Datum::Date(100_000_000), ScalarType::Date).unwrap(), "275760-09-13");
    }
    #[test]
    fn bc_goes_after_the_time_and_zone() {
        let us = -(2_000i64 * 365 + 42 * 30) * Interval::MICROS_PER_DAY + 1_500_000;
        let ts = format_timestamp(us);
        assert!(ts.ends_with(":01.5 BC"), "{}", ts);
        let tz = format_datum(&Datum::TimestampTz(us), ScalarType::TimestampTz).unwrap();
        assert!(tz.ends_with(":01.5+00 BC"), "{}", tz);
        assert_eq!(format_date(-719_163), "0001-12-31 BC");
        assert_eq!(format_date(-719_528), "0001-01-01 BC");
        assert_eq!(format_date(-719_162), "0001-01-01");
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
