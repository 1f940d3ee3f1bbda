//! `to_timestamp(text, format)` and `to_date(text, format)`: text read by
//! the template patterns `to_char` writes (see [`super::to_char`]), as
//! PostgreSQL reads event timestamps in a producer's own layout.
//!
//! Read: `YYYY YYY YY Y` (two-digit years are 1970-2069), `MM`, `DD`,
//! `DDD` (day of the year), `HH HH12 HH24`, `MI`, `SS`, `MS`, `US`,
//! `FF1`..`FF6`, `AM PM A.M. P.M.` (either case), `Month Mon` (any case),
//! `Day Dy` (read and ignored), `TZH` and `TZM` (an offset from UTC), the
//! `FM` and `FX` prefixes (ignored) and `TH` suffixes; text in double
//! quotes skips as many input characters, any other template character
//! one separator (a character neither letter nor digit) if there is one,
//! and blanks in the input before a field are skipped, as PostgreSQL does
//! outside FX mode. A number reads up to its field's width, or up to the
//! next non-digit. Fields not given default to 0001-01-01 BC 00:00:00.
//!
//! Errors: text that does not fit its pattern is 22007, a field out of its
//! range (month 13, February 30, hour 25) is 22008. Not read: `TZ` names,
//! `J`, ISO week dates, `CC`, `Q`, `W`, `RM`, BC years.

use super::EvalError;
use chrono::{NaiveDate, NaiveTime};

const MONTHS: [&str; 12] = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"];
const DAYS: [&str; 7] = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];

/// The patterns read, longest first where one is the start of another.
const PATTERNS: &[&str] = &[
    "A.M.", "P.M.", "a.m.", "p.m.", "HH24", "HH12", "YYYY", "MONTH", "Month", "month", "YYY", "MON", "Mon", "mon", "DAY", "Day", "day", "DDD", "TZH", "TZM", "FF1", "FF2", "FF3", "FF4", "FF5", "FF6", "AM", "PM",
    "am", "pm", "HH", "MI", "SS", "MS", "US", "YY", "MM", "DD", "DY", "Dy", "dy", "Y",
];

#[derive(Default)]
struct Fields {
    year: Option<i64>,
    month: Option<i64>,
    day: Option<i64>,
    day_of_year: Option<i64>,
    hour: i64,
    twelve_hour: bool,
    pm: Option<bool>,
    minute: i64,
    second: i64,
    micros: i64,
    offset_minutes: i64,
}

fn invalid(text: &str, pattern: &str) -> EvalError {
    EvalError::new("22007", format!("invalid value \"{}\" for \"{}\"", text, pattern))
}

fn out_of_range(text: &str) -> EvalError {
    EvalError::new("22008", format!("date/time field value out of range: \"{}\"", text))
}

/// Reads up to `width` digits (with an optional sign when `signed`).
fn number<'a>(input: &mut &'a str, width: usize, pattern: &str, signed: bool) -> Result<(i64, usize), EvalError> {
    let s = *input;
    let sign = if signed && (s.starts_with('-') || s.starts_with('+')) { 1 } else { 0 };
    let digits = s[sign..].bytes().take(width).take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(invalid(&s.chars().take(width).collect::<String>(), pattern));
    }
    let v: i64 = s[..sign + digits].parse().map_err(|_| invalid(s, pattern))?;
    *input = &s[sign + digits..];
    Ok((v, digits))
}

/// Reads one of `names` (or its first three letters with `short`), any case.
fn name(input: &mut &str, names: &[&str], short: bool, pattern: &str) -> Result<usize, EvalError> {
    let lower = input.to_ascii_lowercase();
    for (i, n) in names.iter().enumerate() {
        let n = if short { &n[..3] } else { n };
        if lower.starts_with(n) {
            *input = &input[n.len()..];
            return Ok(i);
        }
    }
    Err(invalid(input, pattern))
}

/// The microseconds since 1970 the text gives (UTC, less any TZH/TZM offset).
pub fn parse(text: &str, template: &str) -> Result<i64, EvalError> {
    let mut f = Fields::default();
    let mut input = text;
    let mut rest = template;
    while !rest.is_empty() {
        if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted.find('"').unwrap_or(quoted.len());
            for _ in quoted[..end].chars() {
                skip_one(&mut input);
            }
            rest = quoted.get(end + 1..).unwrap_or("");
            continue;
        }
        if let Some(after) = ["FX", "fx", "FM", "fm", "TH", "th"].iter().find_map(|p| rest.strip_prefix(p)) {
            rest = after;
            continue;
        }
        let Some(pattern) = PATTERNS.iter().find(|p| rest.starts_with(**p)) else {
            let c = rest.chars().next().unwrap();
            rest = &rest[c.len_utf8()..];
            // A blank in the template matches any blanks; another separator
            // one separator of the input, or nothing (a letter or digit is
            // left for the next field).
            if c.is_whitespace() {
                input = input.trim_start();
            } else if input.chars().next().is_some_and(|i| !i.is_alphanumeric()) {
                skip_one(&mut input);
            }
            continue;
        };
        rest = &rest[pattern.len()..];
        input = input.trim_start();
        read_field(&mut f, &mut input, pattern)?;
    }
    assemble(&f, text)
}

fn skip_one(input: &mut &str) {
    if let Some(c) = input.chars().next() {
        *input = &input[c.len_utf8()..];
    }
}

fn read_field(f: &mut Fields, input: &mut &str, pattern: &str) -> Result<(), EvalError> {
    match pattern {
        "YYYY" => f.year = Some(number(input, 4, pattern, false)?.0),
        "YYY" | "YY" | "Y" => {
            let (v, digits) = number(input, pattern.len(), pattern, false)?;
            // PostgreSQL's nearest year to 2020 for short years.
            f.year = Some(match digits {
                1 => 2000 + v,
                2 if v < 70 => 2000 + v,
                2 => 1900 + v,
                _ if v < 100 => 2000 + v,
                _ => 1000 + v,
            });
        }
        "MM" => f.month = Some(number(input, 2, pattern, false)?.0),
        "DD" => f.day = Some(number(input, 2, pattern, false)?.0),
        "DDD" => f.day_of_year = Some(number(input, 3, pattern, false)?.0),
        "HH" | "HH12" => {
            f.hour = number(input, 2, pattern, false)?.0;
            f.twelve_hour = true;
        }
        "HH24" => f.hour = number(input, 2, pattern, false)?.0,
        "MI" => f.minute = number(input, 2, pattern, false)?.0,
        "SS" => f.second = number(input, 2, pattern, false)?.0,
        "MS" => {
            let (v, digits) = number(input, 3, pattern, false)?;
            f.micros = v * 10i64.pow(3 - digits as u32) * 1000;
        }
        "US" | "FF1" | "FF2" | "FF3" | "FF4" | "FF5" | "FF6" => {
            let width = if pattern == "US" { 6 } else { pattern[2..].parse().unwrap_or(6) };
            let (v, digits) = number(input, width, pattern, false)?;
            f.micros = v * 10i64.pow(6 - digits as u32);
        }
        "AM" | "PM" | "am" | "pm" | "A.M." | "P.M." | "a.m." | "p.m." => {
            let dotted = pattern.len() == 4;
            let lower = input.to_ascii_lowercase();
            let (am, pm) = if dotted { ("a.m.", "p.m.") } else { ("am", "pm") };
            f.pm = Some(if lower.starts_with(pm) {
                true
            } else if lower.starts_with(am) {
                false
            } else {
                return Err(invalid(input, pattern));
            });
            *input = &input[am.len()..];
        }
        "MONTH" | "Month" | "month" => f.month = Some(name(input, &MONTHS, false, pattern)? as i64 + 1),
        "MON" | "Mon" | "mon" => f.month = Some(name(input, &MONTHS, true, pattern)? as i64 + 1),
        "DAY" | "Day" | "day" => {
            name(input, &DAYS, false, pattern)?;
        }
        "DY" | "Dy" | "dy" => {
            name(input, &DAYS, true, pattern)?;
        }
        "TZH" => {
            let (h, _) = number(input, 2, pattern, true)?;
            f.offset_minutes = h * 60;
        }
        "TZM" => {
            let (m, _) = number(input, 2, pattern, false)?;
            f.offset_minutes += if f.offset_minutes < 0 { -m } else { m };
        }
        other => return Err(EvalError::new("0A000", format!("the template pattern \"{}\" is not supported in to_timestamp and to_date", other))),
    }
    Ok(())
}

fn assemble(f: &Fields, text: &str) -> Result<i64, EvalError> {
    // Year 0 is 1 BC, PostgreSQL's default when the template has no year.
    let year = i32::try_from(f.year.unwrap_or(0)).map_err(|_| out_of_range(text))?;
    let date = match f.day_of_year {
        Some(doy) if f.month.is_none() && f.day.is_none() => NaiveDate::from_yo_opt(year, doy as u32),
        _ => NaiveDate::from_ymd_opt(year, f.month.unwrap_or(1) as u32, f.day.unwrap_or(1) as u32),
    }
    .ok_or_else(|| out_of_range(text))?;
    let mut hour = f.hour;
    if f.twelve_hour || f.pm.is_some() {
        if !(1..=12).contains(&hour) {
            return Err(EvalError::new("22008", format!("hour \"{}\" is invalid for the 12-hour clock", hour)));
        }
        hour = hour % 12 + if f.pm == Some(true) { 12 } else { 0 };
    }
    if hour > 24 || f.minute > 59 || f.second > 60 {
        return Err(out_of_range(text));
    }
    let time = NaiveTime::from_hms_opt(0, 0, 0).unwrap();
    let local = date.and_time(time).and_utc().timestamp_micros() + ((hour * 60 + f.minute) * 60 + f.second) * 1_000_000 + f.micros;
    let us = local - f.offset_minutes * 60_000_000;
    if !crate::repr::timestamp_in_range(us) {
        return Err(EvalError::datetime_out_of_range("timestamp"));
    }
    Ok(us)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repr::parse_timestamp;

    fn at(s: &str) -> i64 {
        parse_timestamp(s, false).unwrap()
    }

    #[test]
    fn reads_common_layouts() {
        assert_eq!(parse("2024-05-01 10:00", "YYYY-MM-DD HH24:MI").unwrap(), at("2024-05-01 10:00"));
        assert_eq!(parse("01/05/2024 07:30:15 PM", "DD/MM/YYYY HH12:MI:SS AM").unwrap(), at("2024-05-01 19:30:15"));
        assert_eq!(parse("  5 Mar 24", "DD Mon YY").unwrap(), at("2024-03-05"));
        assert_eq!(parse("20240102T030405.123", "YYYYMMDD\"T\"HH24MISS.MS").unwrap(), at("2024-01-02 03:04:05.123"));
        assert_eq!(parse("2024-01-01 10:00 +02", "YYYY-MM-DD HH24:MI TZH").unwrap(), at("2024-01-01 08:00"));
        assert_eq!(parse("Tuesday, March 5, 2024", "Day, Month DD, YYYY").unwrap(), at("2024-03-05"));
        // year 0 (1 BC) is a leap year: 366 days before 0001-01-01
        assert_eq!(parse("10:00", "HH24:MI").unwrap(), at("0001-01-01 10:00") - 366 * 86_400_000_000);
    }

    #[test]
    fn refuses_what_does_not_fit() {
        assert_eq!(parse("2024-13-01", "YYYY-MM-DD").unwrap_err().code, "22008");
        assert_eq!(parse("2024-02-30", "YYYY-MM-DD").unwrap_err().code, "22008");
        assert_eq!(parse("20x4-01-01", "YYYY-MM-DD").unwrap_err().code, "22007");
        assert_eq!(parse("13:00 PM", "HH12:MI PM").unwrap_err().code, "22008");
    }
}
