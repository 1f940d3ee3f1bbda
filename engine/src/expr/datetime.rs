//! Date, timestamp and interval functions with PostgreSQL's semantics:
//! `date_part` / `extract`, `date_trunc`, `justify_*`, `make_*`.

use super::EvalError;
use crate::repr::{Datum, Interval};
use chrono::{DateTime, Datelike, NaiveDate, Timelike};
use rust_decimal::prelude::*;

const DAY: i64 = Interval::MICROS_PER_DAY;
const HOUR: i64 = 3_600_000_000;
/// PostgreSQL's seconds in a year for interval epochs (365.25 days).
const SECS_PER_YEAR: i64 = 31_557_600;

fn micros_of(d: &Datum) -> Option<i64> {
    match d {
        Datum::Timestamp(t) | Datum::TimestampTz(t) => Some(*t),
        Datum::Date(d) => Some(*d as i64 * DAY),
        _ => None,
    }
}

/// The seconds of an interval as `extract(epoch ...)` counts them: a year
/// is 365.25 days, a month 30 days, a day 24 hours.
fn interval_epoch_micros(iv: &Interval) -> i128 {
    let years = (iv.months / 12) as i128;
    let months = (iv.months % 12) as i128;
    let secs = years * SECS_PER_YEAR as i128 + months * 30 * 86_400 + iv.days as i128 * 86_400;
    secs * 1_000_000 + iv.micros as i128
}

/// `date_part(field, value)` (float8) and `extract(field FROM value)`
/// (numeric, `numeric` true).
pub fn date_part(field: &str, v: &Datum, numeric: bool) -> Result<Datum, EvalError> {
    let field = field.to_ascii_lowercase();
    let out = |x: f64, frac_micros: Option<i128>| -> Datum {
        if numeric {
            match frac_micros.and_then(|us| Decimal::try_from_i128_with_scale(us, 6).ok()) {
                Some(d) => Datum::Numeric(d),
                None => Datum::Numeric(Decimal::from_f64(x).unwrap_or_default()),
            }
        } else {
            Datum::float(x)
        }
    };
    if let Datum::Interval(iv) = v {
        let secs_total = iv.micros;
        let r = match field.as_str() {
            "year" | "years" => (iv.months / 12) as f64,
            "month" | "months" | "mon" => (iv.months % 12) as f64,
            "day" | "days" => iv.days as f64,
            "hour" | "hours" => (secs_total / HOUR) as f64,
            "minute" | "minutes" => ((secs_total / 60_000_000) % 60) as f64,
            "second" | "seconds" => {
                let us = (secs_total % 60_000_000) as i128;
                return Ok(out(us as f64 / 1e6, Some(us)));
            }
            "epoch" => {
                let us = interval_epoch_micros(iv);
                return Ok(out(us as f64 / 1e6, Some(us)));
            }
            _ => return Err(unit_error(&field, "interval")),
        };
        return Ok(out(r, None));
    }
    let us = micros_of(v).ok_or_else(|| unit_error(&field, "value"))?;
    let dt = DateTime::from_timestamp_micros(us).ok_or_else(|| EvalError::datetime_out_of_range("timestamp"))?.naive_utc();
    let sec_micros = (dt.second() as i64 * 1_000_000 + us.rem_euclid(1_000_000)) as i128;
    let r = match field.as_str() {
        "year" | "years" => dt.year() as f64,
        "month" | "months" | "mon" => dt.month() as f64,
        "day" | "days" => dt.day() as f64,
        "hour" | "hours" => dt.hour() as f64,
        "minute" | "minutes" => dt.minute() as f64,
        "second" | "seconds" => return Ok(out(sec_micros as f64 / 1e6, Some(sec_micros))),
        "milliseconds" => {
            let ms = (sec_micros as f64) / 1e3;
            return Ok(if numeric { Datum::Numeric(Decimal::try_from_i128_with_scale(sec_micros, 3).unwrap_or_default()) } else { Datum::float(ms) });
        }
        "microseconds" => return Ok(out(sec_micros as f64, None)),
        "dow" => dt.weekday().num_days_from_sunday() as f64,
        "isodow" => dt.weekday().number_from_monday() as f64,
        "doy" => dt.ordinal() as f64,
        "week" => dt.iso_week().week() as f64,
        "quarter" => ((dt.month() - 1) / 3 + 1) as f64,
        "decade" => (dt.year().div_euclid(10)) as f64,
        "century" => ((dt.year() + 99).div_euclid(100)) as f64,
        "epoch" => return Ok(out(us as f64 / 1e6, Some(us as i128))),
        _ => return Err(unit_error(&field, "timestamp")),
    };
    Ok(out(r, None))
}

fn unit_error(field: &str, ty: &str) -> EvalError {
    EvalError::new("22023", format!("unit \"{}\" not recognized for type {}", field, ty))
}

/// The IANA time zone `name` (`Europe/Berlin`, `America/New_York`, also
/// `UTC`), in any letter case; 22023 as PostgreSQL says for others.
pub fn parse_zone(name: &str) -> Result<chrono_tz::Tz, EvalError> {
    name.parse::<chrono_tz::Tz>()
        .or_else(|_| chrono_tz::TZ_VARIANTS.iter().find(|z| z.name().eq_ignore_ascii_case(name)).copied().ok_or(()))
        .map_err(|_| EvalError::new("22023", format!("time zone \"{}\" not recognized", name)))
}

/// `value AT TIME ZONE zone`: a timestamptz becomes the wall-clock
/// timestamp in `zone`; a timestamp (or date) is read as wall-clock time
/// in `zone` and becomes that instant. A wall-clock time the zone skips
/// (spring forward) is read with the offset before the change, and one it
/// repeats (fall back) as the later instant, standard time, as PostgreSQL
/// does.
pub fn at_time_zone(v: Datum, zone: &str) -> Result<Datum, EvalError> {
    use chrono::{Offset, TimeZone};
    let tz = parse_zone(zone)?;
    let naive = |micros: i64| chrono::DateTime::from_timestamp_micros(micros).map(|d| d.naive_utc()).ok_or_else(|| EvalError::datetime_out_of_range("timestamp"));
    match v {
        Datum::TimestampTz(t) => Ok(Datum::Timestamp(tz.from_utc_datetime(&naive(t)?).naive_local().and_utc().timestamp_micros())),
        Datum::Timestamp(_) | Datum::Date(_) => {
            let local = match v {
                Datum::Date(d) => d as i64 * Interval::MICROS_PER_DAY,
                Datum::Timestamp(t) => t,
                _ => unreachable!(),
            };
            let wall = naive(local)?;
            let offset = match tz.offset_from_local_datetime(&wall) {
                chrono::LocalResult::Single(o) => o.fix(),
                chrono::LocalResult::Ambiguous(a, b) => if a.fix().local_minus_utc() <= b.fix().local_minus_utc() { a.fix() } else { b.fix() },
                chrono::LocalResult::None => tz.offset_from_utc_datetime(&(wall - chrono::Duration::hours(3))).fix(),
            };
            Ok(Datum::TimestampTz(local - offset.local_minus_utc() as i64 * 1_000_000))
        }
        Datum::Null => Ok(Datum::Null),
        other => Err(EvalError::new("42883", format!("AT TIME ZONE of {:?}", other))),
    }
}

/// `date_bin(stride, source [, origin])` over timestamps or timestamptz
/// (the result has the source's type): `origin + floor((source - origin)
/// / stride) * stride`. A stride of months or years is 0A000, one not
/// positive 22008, as in PostgreSQL.
pub fn date_bin(args: &[Datum]) -> Result<Datum, EvalError> {
    let Datum::Interval(stride) = &args[0] else { return Err(EvalError::new("42883", "date_bin takes an interval stride")) };
    if stride.months != 0 {
        return Err(EvalError::new("0A000", "timestamps cannot be binned into intervals containing months or years"));
    }
    let width = (stride.days as i64).checked_mul(86_400_000_000).and_then(|d| d.checked_add(stride.micros)).ok_or_else(|| EvalError::datetime_out_of_range("interval"))?;
    if width <= 0 {
        return Err(EvalError::new("22008", "stride must be greater than zero"));
    }
    let micros = |d: &Datum| match d {
        Datum::Timestamp(t) | Datum::TimestampTz(t) => Some(*t),
        _ => None,
    };
    let source = micros(&args[1]).ok_or_else(|| EvalError::new("42883", "date_bin takes a timestamp"))?;
    let origin = args.get(2).and_then(micros).unwrap_or(0);
    let start = source.checked_sub(origin).map(|diff| diff.div_euclid(width) * width).and_then(|delta| origin.checked_add(delta)).ok_or_else(|| EvalError::datetime_out_of_range("timestamp"))?;
    Ok(match args[1] {
        Datum::TimestampTz(_) => Datum::TimestampTz(start),
        _ => Datum::Timestamp(start),
    })
}

/// `date_trunc(field, value)`. A date is truncated as the timestamptz it
/// converts to (PostgreSQL picks `date_trunc(text, timestamptz)` for it).
pub fn date_trunc(field: &str, v: Datum) -> Result<Datum, EvalError> {
    let field = field.to_ascii_lowercase();
    let us = micros_of(&v).ok_or_else(|| unit_error(&field, "value"))?;
    let dt = DateTime::from_timestamp_micros(us).ok_or_else(|| EvalError::datetime_out_of_range("timestamp"))?.naive_utc();
    let date = dt.date();
    let t = match field.as_str() {
        "microseconds" => dt,
        "milliseconds" => dt.with_nanosecond(dt.nanosecond() / 1_000_000 * 1_000_000).unwrap(),
        "second" => dt.with_nanosecond(0).unwrap(),
        "minute" => dt.with_nanosecond(0).unwrap().with_second(0).unwrap(),
        "hour" => date.and_hms_opt(dt.hour(), 0, 0).unwrap(),
        "day" => date.and_hms_opt(0, 0, 0).unwrap(),
        "week" => date.checked_sub_signed(chrono::Duration::days(date.weekday().num_days_from_monday() as i64)).ok_or_else(|| EvalError::datetime_out_of_range("timestamp"))?.and_hms_opt(0, 0, 0).unwrap(),
        "month" => date.with_day(1).unwrap().and_hms_opt(0, 0, 0).unwrap(),
        "quarter" => date.with_day(1).unwrap().with_month((date.month() - 1) / 3 * 3 + 1).unwrap().and_hms_opt(0, 0, 0).unwrap(),
        "year" => date.with_day(1).unwrap().with_month(1).unwrap().and_hms_opt(0, 0, 0).unwrap(),
        // PostgreSQL's decades start at years divisible by 10; centuries
        // and millennia at year 1 (2001 starts the 21st century).
        "decade" | "century" | "millennium" => {
            let y = date.year();
            let start = match field.as_str() {
                "decade" => y.div_euclid(10) * 10,
                "century" if y > 0 => (y - 1) / 100 * 100 + 1,
                "century" => -((-y) / 100 * 100) - 99,
                _ if y > 0 => (y - 1) / 1000 * 1000 + 1,
                _ => -((-y) / 1000 * 1000) - 999,
            };
            NaiveDate::from_ymd_opt(start, 1, 1).ok_or_else(|| EvalError::datetime_out_of_range("timestamp"))?.and_hms_opt(0, 0, 0).unwrap()
        }
        _ => return Err(unit_error(&field, "timestamp")),
    };
    let r = t.and_utc().timestamp_micros();
    Ok(match v {
        Datum::TimestampTz(_) | Datum::Date(_) => Datum::TimestampTz(r),
        _ => Datum::Timestamp(r),
    })
}

/// `date_trunc(field, value, zone)`: `value` truncated in `zone`'s local
/// time. As PostgreSQL does, units below a day keep the instant's own UTC
/// offset (so an hour repeated when clocks fall back truncates within its
/// own offset); a day or more starts at the local midnight, read with the
/// offset in force then.
pub fn date_trunc_zone(field: &str, v: Datum, zone: &str) -> Result<Datum, EvalError> {
    use chrono::{Offset, TimeZone};
    let tz = parse_zone(zone)?;
    let us = micros_of(&v).ok_or_else(|| unit_error(field, "value"))?;
    let instant = DateTime::from_timestamp_micros(us).ok_or_else(|| EvalError::datetime_out_of_range("timestamp"))?.naive_utc();
    let offset = tz.offset_from_utc_datetime(&instant).fix().local_minus_utc() as i64 * 1_000_000;
    let local = us.checked_add(offset).ok_or_else(|| EvalError::datetime_out_of_range("timestamp"))?;
    let Datum::Timestamp(truncated) = date_trunc(field, Datum::Timestamp(local))? else { unreachable!() };
    let below_day = matches!(field.to_ascii_lowercase().as_str(), "microseconds" | "milliseconds" | "second" | "minute" | "hour");
    if below_day {
        return Ok(Datum::TimestampTz(truncated - offset));
    }
    at_time_zone(Datum::Timestamp(truncated), zone)
}

/// `justify_hours`: whole 24-hour periods of the time part become days.
pub fn justify_hours(iv: Interval) -> Result<Interval, EvalError> {
    let mut r = iv;
    let whole = r.micros / DAY;
    r.micros -= whole * DAY;
    r.days = r.days.checked_add(whole as i32).ok_or_else(interval_overflow)?;
    if r.days > 0 && r.micros < 0 {
        r.micros += DAY;
        r.days -= 1;
    } else if r.days < 0 && r.micros > 0 {
        r.micros -= DAY;
        r.days += 1;
    }
    Ok(r)
}

fn interval_overflow() -> EvalError {
    EvalError::datetime_out_of_range("interval")
}

/// `justify_days`: whole 30-day periods become months.
pub fn justify_days(iv: Interval) -> Result<Interval, EvalError> {
    let mut r = iv;
    let whole = r.days / 30;
    r.days -= whole * 30;
    r.months = r.months.checked_add(whole).ok_or_else(interval_overflow)?;
    if r.months > 0 && r.days < 0 {
        r.days += 30;
        r.months -= 1;
    } else if r.months < 0 && r.days > 0 {
        r.days -= 30;
        r.months += 1;
    }
    Ok(r)
}

/// `justify_interval`: both of the above, with the signs of all parts made
/// to agree.
pub fn justify_interval(iv: Interval) -> Result<Interval, EvalError> {
    let mut r = iv;
    let whole_days = r.micros / DAY;
    r.micros -= whole_days * DAY;
    r.days = r.days.checked_add(whole_days as i32).ok_or_else(interval_overflow)?;
    let whole_months = r.days / 30;
    r.days -= whole_months * 30;
    r.months = r.months.checked_add(whole_months).ok_or_else(interval_overflow)?;
    if r.months > 0 && (r.days < 0 || (r.days == 0 && r.micros < 0)) {
        r.days += 30;
        r.months -= 1;
    } else if r.months < 0 && (r.days > 0 || (r.days == 0 && r.micros > 0)) {
        r.days -= 30;
        r.months += 1;
    }
    if r.days > 0 && r.micros < 0 {
        r.micros += DAY;
        r.days -= 1;
    } else if r.days < 0 && r.micros > 0 {
        r.micros -= DAY;
        r.days += 1;
    }
    Ok(r)
}

fn int_arg(d: &Datum) -> i64 {
    match d {
        Datum::Int(i) => *i,
        Datum::Float(f) => f.0 as i64,
        Datum::Numeric(n) => n.trunc().to_i64().unwrap_or(0),
        _ => 0,
    }
}

fn float_arg(d: &Datum) -> f64 {
    match d {
        Datum::Int(i) => *i as f64,
        Datum::Float(f) => f.0,
        Datum::Numeric(n) => n.to_f64().unwrap_or(0.0),
        _ => 0.0,
    }
}

fn date_of(y: i64, m: i64, d: i64) -> Result<NaiveDate, EvalError> {
    let bad = || EvalError::new("22008", format!("date field value out of range: {}-{:02}-{:02}", y, m, d));
    // PostgreSQL counts negative years as BC: -1 is 1 BC, i.e. proleptic year 0.
    let year = if y < 0 { y + 1 } else if y == 0 { return Err(bad()) } else { y };
    NaiveDate::from_ymd_opt(i32::try_from(year).map_err(|_| bad())?, u32::try_from(m).map_err(|_| bad())?, u32::try_from(d).map_err(|_| bad())?).ok_or_else(bad)
}

/// `make_date(year, month, day)`.
pub fn make_date(args: &[Datum]) -> Result<Datum, EvalError> {
    let d = date_of(int_arg(&args[0]), int_arg(&args[1]), int_arg(&args[2]))?;
    Ok(Datum::Date((d - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as i32))
}

/// `make_timestamp(year, month, day, hour, min, sec)`; `sec` may have a
/// fraction, rounded to microseconds.
pub fn make_timestamp(args: &[Datum]) -> Result<Datum, EvalError> {
    let d = date_of(int_arg(&args[0]), int_arg(&args[1]), int_arg(&args[2]))?;
    let (h, mi, s) = (int_arg(&args[3]), int_arg(&args[4]), float_arg(&args[5]));
    if !(0..=24).contains(&h) || !(0..60).contains(&mi) || !(0.0..=60.0).contains(&s) {
        return Err(EvalError::new("22008", format!("time field value out of range: {}:{:02}:{:02}", h, mi, s)));
    }
    let day_us = (d.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp_micros()) as i128;
    let us = day_us + (h * 3600 + mi * 60) as i128 * 1_000_000 + (s * 1e6).round() as i128;
    i64::try_from(us).ok().filter(|us| crate::repr::timestamp_in_range(*us)).map(Datum::Timestamp).ok_or_else(|| EvalError::datetime_out_of_range("timestamp"))
}

/// `make_interval(years, months, weeks, days, hours, mins, secs)`.
pub fn make_interval(args: &[Datum]) -> Result<Datum, EvalError> {
    let arg = |i: usize| args.get(i).map(int_arg).unwrap_or(0);
    let overflow = || EvalError::datetime_out_of_range("interval");
    let months = arg(0).checked_mul(12).and_then(|m| m.checked_add(arg(1))).and_then(|m| i32::try_from(m).ok()).ok_or_else(overflow)?;
    let days = arg(2).checked_mul(7).and_then(|d| d.checked_add(arg(3))).and_then(|d| i32::try_from(d).ok()).ok_or_else(overflow)?;
    let secs = args.get(6).map(float_arg).unwrap_or(0.0);
    let micros = (arg(4) as f64 * 3600.0 + arg(5) as f64 * 60.0 + secs) * 1e6;
    if !micros.is_finite() || micros.abs() > i64::MAX as f64 {
        return Err(overflow());
    }
    Ok(Datum::Interval(Interval { months, days, micros: micros.round() as i64 }))
}

/// `age(a, b)`: the symbolic difference `a - b` in years, months, days and
/// time, field by field as PostgreSQL counts it. A negative field borrows
/// from the next larger one; a day borrowed is the length of the month
/// before the later date's month (of `b`'s month when `a` is later, of
/// `a`'s when it is earlier), so `age('2024-03-01', '2024-01-31')` is
/// `1 mon 1 day`. The result is negated when `a` is before `b`.
pub fn age(a: &Datum, b: &Datum) -> Result<Datum, EvalError> {
    let fields = |d: &Datum| -> Result<[i64; 7], EvalError> {
        let us = micros_of(d).ok_or_else(|| EvalError::new("42883", format!("function age({:?}) does not exist", d)))?;
        let t = DateTime::from_timestamp_micros(us).ok_or_else(|| EvalError::datetime_out_of_range("timestamp"))?.naive_utc();
        Ok([t.year() as i64, t.month() as i64, t.day() as i64, t.hour() as i64, t.minute() as i64, t.second() as i64, us.rem_euclid(1_000_000)])
    };
    let (x, y) = (fields(a)?, fields(b)?);
    let earlier = micros_of(a) < micros_of(b);
    let sign = if earlier { -1 } else { 1 };
    let mut f: [i64; 7] = std::array::from_fn(|i| (x[i] - y[i]) * sign);
    let [year, mon, mday, hour, min, sec, usec] = &mut f;
    while *usec < 0 {
        *usec += 1_000_000;
        *sec -= 1;
    }
    while *sec < 0 {
        *sec += 60;
        *min -= 1;
    }
    while *min < 0 {
        *min += 60;
        *hour -= 1;
    }
    while *hour < 0 {
        *hour += 24;
        *mday -= 1;
    }
    // The month the borrowed days come from: the earlier timestamp's.
    let (by, bm) = if earlier { (x[0], x[1]) } else { (y[0], y[1]) };
    while *mday < 0 {
        *mday += days_in_month(by as i32, bm as u32);
        *mon -= 1;
    }
    while *mon < 0 {
        *mon += 12;
        *year -= 1;
    }
    let months = i32::try_from((*year * 12 + *mon) * sign).map_err(|_| EvalError::datetime_out_of_range("interval"))?;
    let days = (*mday * sign) as i32;
    let micros = ((*hour * 3600 + *min * 60 + *sec) * 1_000_000 + *usec) * sign;
    Ok(Datum::Interval(Interval { months, days, micros }))
}

fn days_in_month(year: i32, month: u32) -> i64 {
    let next = if month == 12 { NaiveDate::from_ymd_opt(year + 1, 1, 1) } else { NaiveDate::from_ymd_opt(year, month + 1, 1) };
    match (next, NaiveDate::from_ymd_opt(year, month, 1)) {
        (Some(n), Some(f)) => (n - f).num_days(),
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repr::format_datum;

    fn iv(months: i32, days: i32, micros: i64) -> Interval {
        Interval { months, days, micros }
    }
    fn show(d: &Datum) -> String {
        format_datum(d, crate::repr::ScalarType::Text).unwrap()
    }

    #[test]
    fn justify_functions_follow_postgres() {
        assert_eq!(show(&Datum::Interval(justify_days(iv(0, 35, 0)).unwrap())), "1 mon 5 days");
        assert_eq!(show(&Datum::Interval(justify_hours(iv(0, 0, 27 * HOUR)).unwrap())), "1 day 03:00:00");
        assert_eq!(show(&Datum::Interval(justify_interval(iv(1, 0, -HOUR)).unwrap())), "29 days 23:00:00");
        assert_eq!(justify_hours(iv(0, i32::MAX, 24 * HOUR)).unwrap_err().code, "22008");
        assert_eq!(justify_days(iv(i32::MAX, 30, 0)).unwrap_err().code, "22008");
        assert_eq!(justify_interval(iv(0, i32::MAX, 24 * HOUR)).unwrap_err().code, "22008");
    }

    #[test]
    fn interval_epoch_counts_365_25_day_years() {
        let d = date_part("epoch", &Datum::Interval(iv(14, 3, 14_706_000_000)), true).unwrap();
        assert_eq!(show(&d), "37015506.000000");
    }

    #[test]
    fn make_functions_build_values() {
        let ts = make_timestamp(&[Datum::Int(2024), Datum::Int(1), Datum::Int(2), Datum::Int(3), Datum::Int(4), Datum::float(5.5)]).unwrap();
        assert_eq!(show(&ts), "2024-01-02 03:04:05.5");
        let d = make_date(&[Datum::Int(2024), Datum::Int(2), Datum::Int(29)]).unwrap();
        assert_eq!(show(&d), "2024-02-29");
        assert_eq!(make_date(&[Datum::Int(2023), Datum::Int(2), Datum::Int(29)]).unwrap_err().code, "22008");
        let i = make_interval(&[Datum::Int(0), Datum::Int(0), Datum::Int(0), Datum::Int(10), Datum::Int(2), Datum::Int(0), Datum::float(0.0)]).unwrap();
        assert_eq!(show(&i), "10 days 02:00:00");
    }

    #[test]
    fn extract_fraction_scales_follow_the_field() {
        let ts = Datum::Timestamp(10_250_000);
        assert_eq!(show(&date_part("milliseconds", &ts, true).unwrap()), "10250.000");
        assert_eq!(show(&date_part("second", &ts, true).unwrap()), "10.250000");
        assert_eq!(show(&date_part("second", &ts, false).unwrap()), "10.25");
    }

    #[test]
    fn out_of_range_values_are_errors() {
        let (lo, _) = crate::repr::date_range();
        // The first week of the range starts before it: no chrono panic.
        let first = Datum::Timestamp(lo * DAY);
        assert!(matches!(date_trunc("week", first.clone()), Ok(_) | Err(EvalError { .. })));
        assert_eq!(date_trunc("day", first).unwrap(), Datum::Timestamp(lo * DAY));
        assert_eq!(date_part("year", &Datum::Timestamp(i64::MAX), false).unwrap_err().code, "22008");
        assert_eq!(date_trunc("month", Datum::Timestamp(i64::MIN)).unwrap_err().code, "22008");
        let last_year = make_timestamp(&[Datum::Int(200_000), Datum::Int(12), Datum::Int(31), Datum::Int(24), Datum::Int(0), Datum::float(0.0)]).unwrap();
        assert_eq!(show(&last_year), "200001-01-01 00:00:00");
        let max = chrono::NaiveDate::MAX;
        let args = [Datum::Int(max.year() as i64), Datum::Int(max.month() as i64), Datum::Int(max.day() as i64), Datum::Int(24), Datum::Int(0), Datum::float(0.0)];
        assert_eq!(make_timestamp(&args).unwrap_err().code, "22008");
        assert_eq!(make_interval(&[Datum::Int(i64::MAX), Datum::Int(0), Datum::Int(0), Datum::Int(0), Datum::Int(0), Datum::Int(0), Datum::float(0.0)]).unwrap_err().code, "22008");
    }

    #[test]
    fn date_trunc_of_a_date_is_a_timestamptz() {
        let d = date_trunc("month", Datum::Date(19737)).unwrap();
        assert_eq!(show(&d), "2024-01-01 00:00:00+00");
    }

    #[test]
    fn age_counts_fields_as_postgres() {
        let ts = |s: &str| Datum::Timestamp(chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap().and_utc().timestamp_micros());
        let iv = |d: Datum| crate::repr::format_datum(&d, crate::repr::ScalarType::Interval).unwrap();
        assert_eq!(iv(age(&ts("2001-04-10 00:00:00"), &ts("1957-06-13 00:00:00")).unwrap()), "43 years 9 mons 27 days");
        assert_eq!(iv(age(&ts("2024-03-01 00:00:00"), &ts("2024-01-31 00:00:00")).unwrap()), "1 mon 1 day");
        assert_eq!(iv(age(&ts("2024-01-31 00:00:00"), &ts("2024-03-01 00:00:00")).unwrap()), "-1 mons -1 days");
        assert_eq!(iv(age(&ts("2024-01-01 10:00:00"), &ts("2023-12-31 12:30:00")).unwrap()), "21:30:00");
    }
}
