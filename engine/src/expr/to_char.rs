//! `to_char(timestamp, format)`: a timestamp as text by PostgreSQL's
//! template patterns, the labels dashboards put on time buckets.
//!
//! Patterns: `YYYY Y,YYY YYY YY Y IYYY IYY IY I`, `CC`, `MM RM rm`,
//! `Month MONTH month Mon MON mon`, `DD DDD IDDD D ID J`,
//! `Day DAY day Dy DY dy`, `W WW IW Q`,
//! `HH HH12 HH24 MI SS MS US FF1..FF6 SSSS SSSSS`,
//! `AM PM am pm A.M. P.M. a.m. p.m.`, `AD BC A.D. B.C.` (either case),
//! `TZ tz TZH TZM OF` (always UTC, the session's zone), the `FM` prefix
//! (no padding), the `FX` prefix (ignored) and the `TH`/`th` suffix
//! (ordinal). Text in double quotes is copied; other characters are
//! copied as they are, as in PostgreSQL. Not done: `to_char` of numbers
//! and intervals.

use chrono::{DateTime, Datelike, NaiveDateTime, Timelike};

const MONTHS: [&str; 12] = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const ROMAN: [&str; 12] = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII"];
const DAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/// Patterns, longest first where one is the start of another.
const PATTERNS: &[&str] = &[
    "Y,YYY", "A.M.", "P.M.", "a.m.", "p.m.", "A.D.", "B.C.", "a.d.", "b.c.", "SSSSS", "HH24", "HH12", "IYYY", "IDDD", "SSSS", "YYYY", "MONTH", "Month", "month", "YYY", "IYY", "MON", "Mon", "mon", "DAY", "Day",
    "day", "DDD", "TZH", "TZM", "FF1", "FF2", "FF3", "FF4", "FF5", "FF6", "AM", "PM", "am", "pm", "AD", "BC", "ad", "bc", "HH", "MI", "SS", "MS", "US", "YY", "IY", "MM", "DD", "DY", "Dy", "dy", "ID", "IW",
    "WW", "TZ", "tz", "OF", "CC", "RM", "rm", "Y", "I", "D", "Q", "W", "J",
];

/// What a pattern gives: a number (padded to a width unless FM) or a word.
enum Field {
    Number(i64, usize),
    Word(String),
}

fn case_like(word: &str, pattern: &str) -> String {
    if pattern.chars().all(|c| !c.is_ascii_lowercase()) {
        word.to_uppercase()
    } else if pattern.chars().all(|c| !c.is_ascii_uppercase()) {
        word.to_lowercase()
    } else {
        word.to_string()
    }
}

fn field(t: &NaiveDateTime, pattern: &str) -> Field {
    use Field::*;
    let hour12 = match t.hour() % 12 {
        0 => 12,
        h => h,
    };
    let pm = t.hour() >= 12;
    match pattern {
        "YYYY" => Number(t.year() as i64, 4),
        "YYY" => Number((t.year() % 1000) as i64, 3),
        "YY" => Number((t.year() % 100) as i64, 2),
        "Y" => Number((t.year() % 10) as i64, 1),
        "IYYY" => Number(t.iso_week().year() as i64, 4),
        "MM" => Number(t.month() as i64, 2),
        "MONTH" | "Month" | "month" => Word(format!("{:<9}", case_like(MONTHS[t.month0() as usize], pattern))),
        "MON" | "Mon" | "mon" => Word(case_like(&MONTHS[t.month0() as usize][..3], pattern)),
        "DD" => Number(t.day() as i64, 2),
        "DDD" => Number(t.ordinal() as i64, 3),
        "D" => Number(t.weekday().num_days_from_sunday() as i64 + 1, 1),
        "ID" => Number(t.weekday().number_from_monday() as i64, 1),
        "DAY" | "Day" | "day" => Word(format!("{:<9}", case_like(DAYS[t.weekday().num_days_from_sunday() as usize], pattern))),
        "DY" | "Dy" | "dy" => Word(case_like(&DAYS[t.weekday().num_days_from_sunday() as usize][..3], pattern)),
        "HH" | "HH12" => Number(hour12 as i64, 2),
        "HH24" => Number(t.hour() as i64, 2),
        "MI" => Number(t.minute() as i64, 2),
        "SS" => Number(t.second() as i64, 2),
        "MS" => Number((t.nanosecond() / 1_000_000) as i64, 3),
        "US" => Number((t.nanosecond() / 1_000) as i64, 6),
        "SSSS" => Number(t.num_seconds_from_midnight() as i64, 1),
        "AM" | "PM" => Word(if pm { "PM" } else { "AM" }.into()),
        "am" | "pm" => Word(if pm { "pm" } else { "am" }.into()),
        "A.M." | "P.M." => Word(if pm { "P.M." } else { "A.M." }.into()),
        "a.m." | "p.m." => Word(if pm { "p.m." } else { "a.m." }.into()),
        "Q" => Number(t.month0() as i64 / 3 + 1, 1),
        "WW" => Number((t.ordinal0() / 7 + 1) as i64, 2),
        "IW" => Number(t.iso_week().week() as i64, 2),
        "TZ" => Word("UTC".into()),
        "tz" => Word("utc".into()),
        // The session's zone is UTC: offsets are zero.
        "TZH" | "OF" => Word("+00".into()),
        "TZM" => Word("00".into()),
        "Y,YYY" => Word(format!("{},{:03}", t.year() / 1000, t.year() % 1000)),
        "IYY" => Number((t.iso_week().year() % 1000) as i64, 3),
        "IY" => Number((t.iso_week().year() % 100) as i64, 2),
        "I" => Number((t.iso_week().year() % 10) as i64, 1),
        "IDDD" => Number((t.iso_week().week0() * 7 + t.weekday().num_days_from_monday()) as i64 + 1, 3),
        "SSSSS" => Number(t.num_seconds_from_midnight() as i64, 1),
        "W" => Number(t.day0() as i64 / 7 + 1, 1),
        // Julian day: 1 January 1 AD is day 1,721,426.
        "J" => Number(t.date().num_days_from_ce() as i64 + 1_721_425, 1),
        "CC" => Number(if t.year() > 0 { (t.year() as i64 - 1) / 100 + 1 } else { t.year() as i64 / 100 - 1 }, 2),
        "RM" => Word(format!("{:<4}", ROMAN[t.month0() as usize])),
        "rm" => Word(format!("{:<4}", ROMAN[t.month0() as usize].to_lowercase())),
        "AD" | "BC" => Word(if t.year() > 0 { "AD" } else { "BC" }.into()),
        "ad" | "bc" => Word(if t.year() > 0 { "ad" } else { "bc" }.into()),
        "A.D." | "B.C." => Word(if t.year() > 0 { "A.D." } else { "B.C." }.into()),
        "a.d." | "b.c." => Word(if t.year() > 0 { "a.d." } else { "b.c." }.into()),
        // FF1..FF6: the first n digits of the fraction of a second.
        ff => {
            let n = ff.strip_prefix("FF").and_then(|d| d.parse::<u32>().ok()).unwrap_or(6);
            Number((t.nanosecond() / 1_000 / 10u32.pow(6 - n)) as i64, n as usize)
        }
    }
}

fn ordinal_suffix(n: i64, upper: bool) -> &'static str {
    let s = match (n % 100, n % 10) {
        (11..=13, _) => "th",
        (_, 1) => "st",
        (_, 2) => "nd",
        (_, 3) => "rd",
        _ => "th",
    };
    if upper {
        match s {
            "st" => "ST",
            "nd" => "ND",
            "rd" => "RD",
            _ => "TH",
        }
    } else {
        s
    }
}

/// Formats microseconds since 1970 (UTC wall-clock) by `template`.
pub fn to_char(micros: i64, template: &str) -> Option<String> {
    let t = DateTime::from_timestamp_micros(micros)?.naive_utc();
    let mut out = String::with_capacity(template.len() + 8);
    let mut rest = template;
    while !rest.is_empty() {
        if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted.find('"').unwrap_or(quoted.len());
            out.push_str(&quoted[..end]);
            rest = quoted.get(end + 1..).unwrap_or("");
            continue;
        }
        // FX (fixed format) only matters when parsing text: skip it.
        if let Some(after) = rest.strip_prefix("FX").or_else(|| rest.strip_prefix("fx")) {
            rest = after;
            continue;
        }
        let (fill_mode, body) = match rest.strip_prefix("FM").or_else(|| rest.strip_prefix("fm")) {
            Some(b) => (true, b),
            None => (false, rest),
        };
        let Some(pattern) = PATTERNS.iter().find(|p| body.starts_with(**p)) else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        };
        rest = &body[pattern.len()..];
        match field(&t, pattern) {
            Field::Number(n, width) => {
                if fill_mode {
                    out.push_str(&n.to_string());
                } else {
                    out.push_str(&format!("{:0width$}", n, width = width));
                }
                if let Some(after) = rest.strip_prefix("TH").or_else(|| rest.strip_prefix("th")) {
                    out.push_str(ordinal_suffix(n, rest.starts_with("TH")));
                    rest = after;
                }
            }
            Field::Word(w) => out.push_str(if fill_mode { w.trim_end() } else { &w }),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> i64 {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap().and_utc().timestamp_micros()
    }

    #[test]
    fn formats_like_postgres() {
        let t = at("2024-03-05 14:07:09.123456");
        assert_eq!(to_char(t, "YYYY-MM-DD HH24:MI:SS").unwrap(), "2024-03-05 14:07:09");
        assert_eq!(to_char(t, "HH12:MI AM").unwrap(), "02:07 PM");
        assert_eq!(to_char(t, "Day, DD Month YYYY").unwrap(), "Tuesday  , 05 March     2024");
        assert_eq!(to_char(t, "FMDay, FMDDth FMMonth").unwrap(), "Tuesday, 5th March");
        assert_eq!(to_char(t, "Mon DY dy mon").unwrap(), "Mar TUE tue mar");
        assert_eq!(to_char(t, "\"Q\"Q YYYY \"week\" IW").unwrap(), "Q1 2024 week 10");
        assert_eq!(to_char(t, "MS US").unwrap(), "123 123456");
        assert_eq!(to_char(t, "DDD D ID WW").unwrap(), "065 3 2 10");
        assert_eq!(to_char(at("2024-01-01 00:00:00"), "HH:MI a.m. TZ").unwrap(), "12:00 a.m. UTC");
        assert_eq!(to_char(at("2024-01-11 00:00:00"), "DDth").unwrap(), "11th");
        assert_eq!(to_char(at("2024-01-22 00:00:00"), "FMDDTH").unwrap(), "22ND");
        let t = at("2024-02-05 10:00:00.123456");
        assert_eq!(to_char(t, "Y,YYY AD IDDD IYY IY I SSSSS TZH:TZM W J CC RM FF3 OF FXYYYY").unwrap(), "2,024 AD 036 024 24 4 36000 +00:00 1 2460346 21 II   123 +00 2024");
        assert_eq!(to_char(at("2024-12-30 00:00:00"), "IYYY-IW IDDD").unwrap(), "2025-01 001");
    }
}
