//! Scalar functions and operators, by arity.

use super::arith::{arith, numeric_div, ArithOp};
use super::like::like;
use super::math::{power, round};
use super::datetime::{date_part, date_trunc, justify_days, justify_hours, justify_interval, make_date, make_interval, make_timestamp};
use super::cast::cast;
use super::{EvalError, ScalarExpr};
use crate::repr::{format_datum, Datum, Interval, ScalarType, Str, F64};
use rust_decimal::prelude::*;
use serde::{Deserialize, Serialize};

/// Functions of one argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum UnaryFunc {
    Not,
    /// The double-precision functions of [`super::float_fn`] (`cbrt`, `sin`, ...).
    Float(super::float_fn::FloatFn),
    IsNull,
    IsNotNull,
    IsTrue,
    IsFalse,
    IsNotTrue,
    IsNotFalse,
    Neg(ScalarType),
    Abs(ScalarType),
    Cast(ScalarType),
    Upper,
    Lower,
    CharLength,
    OctetLength,
    InitCap,
    Reverse,
    Ceil,
    Floor,
    Sqrt,
    Ln,
    Log10,
    Exp,
    Sign,
    /// The number of elements of a JSON array.
    JsonbArrayLength,
    /// `to_timestamp(seconds since 1970)`: a timestamptz, to the microsecond.
    ToTimestamp,
    /// `jsonb_typeof`: object, array, string, number, boolean or null.
    JsonbTypeof,
    JustifyDays,
    JustifyHours,
    JustifyInterval,
    /// `to_json(x)` and `to_jsonb(x)`: the value as JSON.
    ToJsonb,
    /// `md5(text)`: the MD5 digest of the text's bytes, in hex.
    Md5,
    /// `chr(n)` and `quote_ident(text)`: see `expr::text`.
    Chr,
    QuoteIdent,
    /// `jsonb_strip_nulls`: object fields with null values removed.
    JsonbStripNulls,
    /// `jsonb_pretty`: indented text.
    JsonbPretty,
}

/// Functions of two arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum BinaryFunc {
    /// `to_timestamp(text, format)`, or `to_date` with `date` (see [`super::to_timestamp`]).
    ParseTimestamp { date: bool },
    Add(ScalarType),
    Sub(ScalarType),
    Mul(ScalarType),
    Div(ScalarType),
    Mod(ScalarType),
    Power,
    Eq,
    NotEq,
    Lt,
    Lte,
    Gt,
    Gte,
    IsDistinctFrom,
    IsNotDistinctFrom,
    /// `||` on text: NULL if either side is NULL.
    TextConcat,
    Like { negated: bool, case_insensitive: bool },
    /// `to_char(timestamp, template)`.
    ToChar,
    /// `to_char(number, template)`; `real`: the number is single precision.
    ToCharNumber { real: bool },
    /// `log(base, x)` of numerics.
    Log,
    /// `x SIMILAR TO pattern ESCAPE escape` (`escape`: `\` by default).
    SimilarTo { negated: bool, escape: Option<char> },
    /// `~`, `~*`, `!~`, `!~*`: a POSIX regular expression matches somewhere.
    RegexMatch { negated: bool, case_insensitive: bool },
    NullIf,
    /// `date_part('field', value)`; result float8 (PostgreSQL 14+ returns
    /// numeric for `extract`, float8 for `date_part`).
    DatePart { numeric: bool },
    DateTrunc,
    /// `value AT TIME ZONE zone` with a zone other than UTC: a
    /// timestamptz's wall-clock time there, or the instant a timestamp's
    /// wall-clock time there is.
    AtTimeZone,
    Round,
    Trunc,
    Left,
    Right,
    Repeat,
    StrPos,
    StartsWith,
    /// Integer bit operations (`&`, `|`, `#`, `<<`, `>>`).
    BitAnd,
    BitOr,
    BitXor,
    ShiftLeft,
    ShiftRight,
    /// `json -> key` (jsonb) and `json ->> key` (text): an object field by
    /// name or an array element by index (negative counts from the end).
    JsonGet { text: bool },
    /// `jsonb || jsonb`: objects merge (the right's keys win), arrays
    /// concatenate, and anything else is an element of an array.
    JsonbConcat,
    /// `jsonb ? text`: the text is a top-level key, or a string element.
    JsonbExists,
    /// `jsonb @> jsonb`: the left contains the right.
    JsonbContains,
    /// `jsonb #> path` (jsonb) and `jsonb #>> path` (text): the value at a
    /// path of keys and array indexes, written `{a,0,b}`.
    JsonPath { text: bool },
    /// `age(a, b)`: the symbolic interval from b to a (years, months, days
    /// and time, field by field).
    Age,
    /// `substring(text from pattern)`: the first match of a POSIX regular
    /// expression (its first group when it has one).
    RegexpSubstring,
    /// `jsonb - text` (a key, or string elements) and `jsonb - integer`
    /// (an element) removed.
    JsonbDelete,
    /// `jsonb #- path`: the key or element at a path removed.
    JsonbDeletePath,
}

/// Functions of any number of arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum VariadicFunc {
    And,
    Or,
    Coalesce,
    Greatest,
    Least,
    /// `concat(...)`: NULL arguments are skipped.
    Concat,
    ConcatWs,
    /// `x IN (a, b, ...)`: the first expression is `x`.
    InList { negated: bool },
    Substr,
    Replace,
    /// `translate(s, from, to)`: each character of `from` in `s` becomes
    /// the one at its place in `to`, or is removed when `to` is shorter.
    Translate,
    Lpad,
    Rpad,
    Btrim,
    Ltrim,
    Rtrim,
    SplitPart,
    /// `make_date(year, month, day)`.
    MakeDate,
    /// `make_timestamp(year, month, day, hour, min, sec)`.
    MakeTimestamp,
    /// `make_interval(years, months, weeks, days, hours, mins, secs)`, all
    /// seven arguments present (the planner fills in zeros).
    MakeInterval,
    /// `jsonb_build_object(key, value, ...)`.
    JsonbBuildObject,
    /// `regexp_replace(text, pattern, replacement [, flags])`.
    RegexpReplace,
    /// `date_bin(stride, source [, origin])`: the start of the bin of width
    /// `stride`, counted from `origin` (default 1970-01-01), holding
    /// `source`.
    DateBin,
    /// `jsonb_build_array(v, ...)` (and `json_build_array`).
    JsonbBuildArray,
    /// `format(template, args...)`: see `expr::format`.
    Format,
    /// `date_trunc(field, value, zone)`: truncated in the zone's local time.
    DateTruncZone,
    /// `gen_random_uuid()`: a random (version 4) UUID, new on every
    /// evaluation. Volatile: a chain of row operations holding it runs
    /// over consolidated input (see `render`), so that a row inserted and
    /// deleted before the query is not evaluated twice.
    GenRandomUuid,
    /// `jsonb_set(target, path, value [, create_missing])`.
    JsonbSet,
    /// `jsonb_insert(target, path, value [, insert_after])`.
    JsonbInsert,
    /// `jsonb_extract_path(json, steps...)` (jsonb) and
    /// `jsonb_extract_path_text` (text).
    JsonbExtractPath { text: bool },
    /// The array functions and operators (see [`super::array`]).
    Array(super::array::ArrayFunc),
    /// `width_bucket(x, low, high, count)`.
    WidthBucket,
    /// `num_nulls(args...)`, or `num_nonnulls` with `nonnull`.
    NumNulls { nonnull: bool },
    /// `pg_size_pretty(bigint)`.
    SizePretty,
}

fn text(d: &Datum) -> &str {
    match d {
        Datum::Text(s) | Datum::Jsonb(s) => s,
        _ => "",
    }
}

pub(super) fn f64_of(d: &Datum) -> Option<f64> {
    match d {
        Datum::Int(i) => Some(*i as f64),
        Datum::Float(f) => Some(f.0),
        Datum::Numeric(n) => n.to_f64(),
        _ => None,
    }
}

impl UnaryFunc {
    pub fn eval(&self, d: Datum) -> Result<Datum, EvalError> {
        use UnaryFunc::*;
        let b = |v: bool| Ok(Datum::Bool(v));
        match self {
            IsNull => return b(d.is_null()),
            IsNotNull => return b(!d.is_null()),
            IsTrue => return b(d == Datum::Bool(true)),
            IsFalse => return b(d == Datum::Bool(false)),
            IsNotTrue => return b(d != Datum::Bool(true)),
            IsNotFalse => return b(d != Datum::Bool(false)),
            _ => {}
        }
        if d.is_null() {
            return Ok(Datum::Null);
        }
        Ok(match (self, d) {
            (Not, Datum::Bool(v)) => Datum::Bool(!v),
            // float8um flips the sign bit: -(0.0) is -0.
            (Neg(_), Datum::Float(f)) => Datum::float(-f.0),
            (Neg(ty), d) => return arith(ArithOp::Sub, zero_like(&d), d, *ty),
            (Abs(ty), d) => {
                if d < zero_like(&d) {
                    return arith(ArithOp::Sub, zero_like(&d), d, *ty);
                }
                d
            }
            (Cast(to), d) => return cast(d, *to),
            (Float(f), d) => return f.eval(&d),
            // The database runs with the C locale: case mapping is ASCII only.
            (Upper, d) => Datum::Text(super::case::upper(text(&d)).into()),
            (Lower, d) => Datum::Text(super::case::lower(text(&d)).into()),
            (CharLength, d) => Datum::Int(text(&d).chars().count() as i64),
            (OctetLength, d) => Datum::Int(text(&d).len() as i64),
            (InitCap, d) => Datum::Text(super::case::initcap(text(&d)).into()),
            (Reverse, d) => Datum::Text(text(&d).chars().rev().collect()),
            (Ceil, Datum::Numeric(n)) => Datum::Numeric(n.ceil()),
            (Floor, Datum::Numeric(n)) => Datum::Numeric(n.floor()),
            (Ceil, Datum::Int(i)) | (Floor, Datum::Int(i)) => Datum::Int(i),
            (Ceil, d) => Datum::float(f64_of(&d).unwrap_or(0.0).ceil()),
            (Floor, d) => Datum::float(f64_of(&d).unwrap_or(0.0).floor()),
            (Sign, Datum::Numeric(n)) => Datum::Numeric(if n.is_zero() { Decimal::ZERO } else { n.signum() }),
            (Sign, d) => Datum::float(f64_of(&d).unwrap_or(0.0).signum() * if f64_of(&d) == Some(0.0) { 0.0 } else { 1.0 }),
            (JsonbTypeof, d) => return crate::expr::json::type_of(text(&d)),
            (JsonbArrayLength, d) => match text(&d).trim_start().starts_with('[') {
                true => Datum::Int(crate::expr::json::elements(text(&d))?.len() as i64),
                false => return Err(EvalError::new("22023", "cannot get array length of a non-array")),
            },
            (ToTimestamp, d) => {
                let secs = f64_of(&d).unwrap_or(f64::NAN);
                let us = (secs * 1e6).round();
                if !us.is_finite() || us.abs() >= i64::MAX as f64 || !crate::repr::timestamp_in_range(us as i64) {
                    return Err(EvalError::datetime_out_of_range("timestamp"));
                }
                Datum::TimestampTz(us as i64)
            }
            (ToJsonb, d) => return crate::expr::json::to_jsonb(&d),
            (JsonbStripNulls, d) => return super::json_edit::strip_nulls(&super::json_edit::canonical(&d)?),
            (JsonbPretty, d) => return super::json_edit::pretty(&super::json_edit::canonical(&d)?),
            (Md5, d) => Datum::Text(format!("{:x}", md5::compute(text(&d).as_bytes())).into()),
            (Chr, Datum::Int(n)) => Datum::Text(super::text::chr(n)?.to_string().into()),
            (QuoteIdent, d) => Datum::Text(super::text::quote_ident(text(&d)).into()),
            (Ln, Datum::Numeric(n)) => return super::math::ln_numeric(n),
            (Sqrt, Datum::Numeric(n)) => return super::math::sqrt_numeric(n),
            (Exp, Datum::Numeric(n)) => return super::math::exp_numeric(n),
            (Log10, Datum::Numeric(n)) => return super::math::log_numeric(Decimal::TEN, n),
            (JustifyDays, Datum::Interval(iv)) => Datum::Interval(justify_days(iv)?),
            (JustifyHours, Datum::Interval(iv)) => Datum::Interval(justify_hours(iv)?),
            (JustifyInterval, Datum::Interval(iv)) => Datum::Interval(justify_interval(iv)?),
            (Sqrt, d) => {
                let x = f64_of(&d).unwrap_or(0.0);
                if x < 0.0 {
                    return Err(EvalError::new("2201F", "cannot take square root of a negative number"));
                }
                float_or_numeric(&d, x.sqrt())?
            }
            (Ln | Log10, d) => {
                let x = f64_of(&d).unwrap_or(0.0);
                if x == 0.0 {
                    return Err(EvalError::new("2201E", "cannot take logarithm of zero"));
                }
                if x < 0.0 {
                    return Err(EvalError::new("2201E", "cannot take logarithm of a negative number"));
                }
                float_or_numeric(&d, if *self == Ln { x.ln() } else { x.log10() })?
            }
            (Exp, d) => {
                let x = f64_of(&d).unwrap_or(0.0);
                let r = x.exp();
                // float8's exp: a result beyond double's range either way is an error.
                if r == 0.0 && x.is_finite() && !matches!(d, Datum::Numeric(_)) {
                    return Err(EvalError::new("22003", "value out of range: underflow"));
                }
                float_or_numeric(&d, r)?
            }
            (f, d) => return Err(EvalError::new("42883", format!("function {:?} does not accept {:?}", f, d))),
        })
    }
}

/// A result computed in double precision, as the input's type: numeric
/// when the input is numeric (an error when it does not fit numeric's 28
/// digits), float otherwise (an error when a finite input overflowed).
fn float_or_numeric(input: &Datum, v: f64) -> Result<Datum, EvalError> {
    let finite_input = f64_of(input).is_some_and(f64::is_finite);
    Ok(match input {
        Datum::Numeric(_) => Datum::Numeric(Decimal::from_f64(v).ok_or_else(EvalError::numeric_overflow)?.round_dp(16).normalize()),
        _ if v.is_infinite() && finite_input => return Err(EvalError::new("22003", "value out of range: overflow")),
        _ => Datum::float(v),
    })
}

fn zero_like(d: &Datum) -> Datum {
    match d {
        Datum::Float(_) => Datum::float(0.0),
        Datum::Numeric(_) => Datum::Numeric(Decimal::ZERO),
        Datum::Interval(_) => Datum::Interval(Interval::default()),
        _ => Datum::Int(0),
    }
}

impl BinaryFunc {
    /// A strict function returns NULL when its first argument is NULL (the
    /// evaluator skips the second argument then).
    pub fn is_strict(&self) -> bool {
        !matches!(self, BinaryFunc::IsDistinctFrom | BinaryFunc::IsNotDistinctFrom)
    }

    pub fn eval(&self, a: Datum, b: Datum) -> Result<Datum, EvalError> {
        use BinaryFunc::*;
        match self {
            IsDistinctFrom => return Ok(Datum::Bool(!same(&a, &b))),
            IsNotDistinctFrom => return Ok(Datum::Bool(same(&a, &b))),
            NullIf => return Ok(if !b.is_null() && same(&a, &b) { Datum::Null } else { a }),
            _ => {}
        }
        if a.is_null() || b.is_null() {
            return Ok(Datum::Null);
        }
        Ok(match self {
            Add(ty) => return arith(ArithOp::Add, a, b, *ty),
            Sub(ty) => return arith(ArithOp::Sub, a, b, *ty),
            Mul(ty) => return arith(ArithOp::Mul, a, b, *ty),
            Div(ty) => return arith(ArithOp::Div, a, b, *ty),
            Mod(ty) => return arith(ArithOp::Mod, a, b, *ty),
            Power => return power(&a, &b),
            ParseTimestamp { date } => {
                let us = super::to_timestamp::parse(text(&a), text(&b))?;
                if *date {
                    Datum::Date(us.div_euclid(Interval::MICROS_PER_DAY) as i32)
                } else {
                    Datum::TimestampTz(us)
                }
            }
            Eq => Datum::Bool(compare(&a, &b).is_eq()),
            NotEq => Datum::Bool(compare(&a, &b).is_ne()),
            Lt => Datum::Bool(compare(&a, &b).is_lt()),
            Lte => Datum::Bool(compare(&a, &b).is_le()),
            Gt => Datum::Bool(compare(&a, &b).is_gt()),
            Gte => Datum::Bool(compare(&a, &b).is_ge()),
            TextConcat => {
                let (a, b) = (display(&a), display(&b));
                check_text_len(a.len().saturating_add(b.len()))?;
                Datum::Text(format!("{}{}", a, b).into())
            }
            Like { negated, case_insensitive } => {
                let m = if *case_insensitive { like(&text(&a).to_lowercase(), &text(&b).to_lowercase()) } else { like(text(&a), text(&b)) };
                Datum::Bool(m != *negated)
            }
            ToChar => {
                let micros = match a {
                    Datum::Timestamp(t) | Datum::TimestampTz(t) => t,
                    Datum::Date(d) => d as i64 * Interval::MICROS_PER_DAY,
                    other => return Err(EvalError::new("42883", format!("function to_char({:?}, text) does not exist", other))),
                };
                Datum::Text(super::to_char::to_char(micros, text(&b)).ok_or_else(|| EvalError::datetime_out_of_range("timestamp"))?.into())
            }
            ToCharNumber { real } => {
                use super::to_char_number::{to_char_number, Number};
                let n = match a {
                    Datum::Int(i) => Number::Int(i),
                    Datum::Numeric(d) => Number::Numeric(d),
                    other => Number::Float { value: f64_of(&other).unwrap_or(f64::NAN), real: *real },
                };
                Datum::Text(to_char_number(n, text(&b))?.into())
            }
            Log => match (a, b) {
                (Datum::Numeric(base), Datum::Numeric(x)) => return super::math::log_numeric(base, x),
                (a, b) => return Err(EvalError::new("42883", format!("function log({:?}, {:?}) does not exist", a, b))),
            },
            SimilarTo { negated, escape } => Datum::Bool(super::regex::similar_to(text(&a), text(&b), *escape)? != *negated),
            RegexMatch { negated, case_insensitive } => Datum::Bool(super::regex::is_match(text(&a), text(&b), *case_insensitive)? != *negated),
            DatePart { numeric } => return date_part(text(&a), &b, *numeric),
            DateTrunc => return date_trunc(text(&a), b),
            AtTimeZone => return super::datetime::at_time_zone(a, text(&b)),
            Age => return super::datetime::age(&a, &b),
            RegexpSubstring => return Ok(super::regex::substring(text(&a), text(&b))?.map_or(Datum::Null, |s| Datum::Text(s.into()))),
            Round | Trunc => return round(a, &b, *self == Trunc),
            Left | Right => {
                let s: Vec<char> = text(&a).chars().collect();
                let n = match b { Datum::Int(n) => n, _ => 0 };
                let len = s.len() as i64;
                let k = if n >= 0 { n.min(len) } else { (len + n).max(0) } as usize;
                let out: String = if *self == Left { s[..k].iter().collect() } else { s[s.len() - k..].iter().collect() };
                Datum::Text(out.into())
            }
            Repeat => {
                let n = match b {
                    Datum::Int(n) if n > 0 => n as u64,
                    _ => 0,
                };
                let s = text(&a);
                check_text_len((s.len() as u64).saturating_mul(n).try_into().unwrap_or(usize::MAX))?;
                Datum::Text(s.repeat(n as usize).into())
            }
            StrPos => Datum::Int(text(&a).find(text(&b)).map(|i| text(&a)[..i].chars().count() as i64 + 1).unwrap_or(0)),
            StartsWith => Datum::Bool(text(&a).starts_with(text(&b))),
            JsonGet { text: as_text } => return crate::expr::json::get(text(&a), &b, *as_text),
            JsonbConcat => return crate::expr::json::concat(text(&a), text(&b)),
            JsonbExists => return crate::expr::json::exists(text(&a), text(&b)),
            JsonbContains => return crate::expr::json::contains(text(&a), text(&b)),
            JsonPath { text: as_text } => return crate::expr::json::path(text(&a), text(&b), *as_text),
            JsonbDelete => match b {
                Datum::Int(i) => return super::json_edit::delete_index(&super::json_edit::canonical(&a)?, i),
                b => return super::json_edit::delete_key(&super::json_edit::canonical(&a)?, text(&b)),
            },
            JsonbDeletePath => return super::json_edit::delete_path(&super::json_edit::canonical(&a)?, text(&b)),
            BitAnd | BitOr | BitXor | ShiftLeft | ShiftRight => match (a, b) {
                (Datum::Int(x), Datum::Int(y)) => Datum::Int(match self {
                    BitAnd => x & y,
                    BitOr => x | y,
                    BitXor => x ^ y,
                    ShiftLeft => x.wrapping_shl(y as u32),
                    _ => x.wrapping_shr(y as u32),
                }),
                (a, b) => return Err(EvalError::new("42883", format!("operator does not exist: {:?} {:?} {:?}", a, self, b))),
            },
            IsDistinctFrom | IsNotDistinctFrom | NullIf => unreachable!(),
        })
    }
}

/// A value as `||` and `concat` show it: the text output of its type.
pub(super) fn display(d: &Datum) -> String {
    match d {
        Datum::Text(s) | Datum::Jsonb(s) => s.to_string(),
        Datum::Float(f) => crate::repr::format_float(f.0, false),
        other => format_datum(other, ScalarType::Text).unwrap_or_default(),
    }
}

/// The longest text a function builds, in bytes: PostgreSQL's limit for a
/// value (1 GB less its 4-byte header). `repeat`, `lpad`, `rpad`, `||` and
/// the like fail with 54000 before building anything longer.
pub const MAX_TEXT_BYTES: usize = 0x3FFF_FFFF - 4;

fn check_text_len(bytes: usize) -> Result<(), EvalError> {
    if bytes > MAX_TEXT_BYTES {
        return Err(EvalError::length_too_large());
    }
    Ok(())
}

impl VariadicFunc {
    pub fn eval(&self, exprs: &[ScalarExpr], row: &[Datum]) -> Result<Datum, EvalError> {
        use VariadicFunc::*;
        match self {
            And | Or => {
                // Three-valued logic; an error in one argument is masked by a
                // deciding value in another, as in PostgreSQL's short circuit.
                let decisive = *self == Or;
                let mut null = false;
                let mut err = None;
                for e in exprs {
                    match e.eval(row) {
                        Ok(Datum::Bool(v)) if v == decisive => return Ok(Datum::Bool(decisive)),
                        Ok(Datum::Null) => null = true,
                        Ok(_) => {}
                        Err(e) => err = err.or(Some(e)),
                    }
                }
                if let Some(e) = err {
                    return Err(e);
                }
                Ok(if null { Datum::Null } else { Datum::Bool(!decisive) })
            }
            Coalesce => {
                for e in exprs {
                    let v = e.eval(row)?;
                    if !v.is_null() {
                        return Ok(v);
                    }
                }
                Ok(Datum::Null)
            }
            InList { negated } => {
                let x = exprs[0].eval(row)?;
                if x.is_null() {
                    return Ok(Datum::Null);
                }
                let mut null = false;
                for e in &exprs[1..] {
                    let v = e.eval(row)?;
                    if v.is_null() {
                        null = true;
                    } else if compare(&v, &x).is_eq() {
                        return Ok(Datum::Bool(!negated));
                    }
                }
                Ok(if null { Datum::Null } else { Datum::Bool(*negated) })
            }
            GenRandomUuid => Ok(Datum::Text(uuid::Uuid::new_v4().hyphenated().to_string().into())),
            _ => {
                let args = exprs.iter().map(|e| e.eval(row)).collect::<Result<Vec<_>, _>>()?;
                self.eval_args(args)
            }
        }
    }

    fn eval_args(&self, args: Vec<Datum>) -> Result<Datum, EvalError> {
        use VariadicFunc::*;
        match self {
            Greatest | Least => {
                let vals = args.into_iter().filter(|d| !d.is_null());
                return Ok(if *self == Greatest { vals.max_by(compare) } else { vals.min_by(compare) }.unwrap_or(Datum::Null));
            }
            Concat => {
                let parts: Vec<String> = args.iter().filter(|d| !d.is_null()).map(display).collect();
                check_text_len(parts.iter().fold(0usize, |n, p| n.saturating_add(p.len())))?;
                return Ok(Datum::Text(parts.concat().into()));
            }
            Array(f) => return f.eval(args),
            NumNulls { nonnull } => return Ok(super::count_fn::num_nulls(&args, *nonnull)),
            JsonbBuildObject => return crate::expr::json::build_object(&args),
            JsonbBuildArray => return crate::expr::json::build_array(&args),
            Format => {
                if args[0].is_null() {
                    return Ok(Datum::Null);
                }
                let values: Vec<Option<String>> = args[1..].iter().map(super::format::argument_text).collect();
                return Ok(Datum::Text(super::format::format(text(&args[0]), &values)?.into()));
            }
            ConcatWs => {
                if args[0].is_null() {
                    return Ok(Datum::Null);
                }
                let sep = text(&args[0]).to_string();
                let parts: Vec<String> = args[1..].iter().filter(|d| !d.is_null()).map(display).collect();
                check_text_len(parts.iter().fold(0usize, |n, p| n.saturating_add(p.len()).saturating_add(sep.len())))?;
                return Ok(Datum::Text(parts.join(&sep).into()));
            }
            _ => {}
        }
        if args.iter().any(Datum::is_null) {
            return Ok(Datum::Null);
        }
        match self {
            WidthBucket => return super::float_fn::width_bucket(&args),
            SizePretty => return Ok(Datum::text(super::count_fn::size_pretty(match args[0] {
                Datum::Int(i) => i,
                _ => 0,
            }))),
            DateTruncZone => return super::datetime::date_trunc_zone(text(&args[0]), args[1].clone(), text(&args[2])),
            DateBin => return super::datetime::date_bin(&args),
            MakeDate => return make_date(&args),
            MakeTimestamp => return make_timestamp(&args),
            MakeInterval => return make_interval(&args),
            JsonbSet | JsonbInsert => {
                let flag = matches!(args.get(3), Some(Datum::Bool(true))) || (*self == JsonbSet && args.len() == 3);
                let (json, path, value) = (super::json_edit::canonical(&args[0])?, text(&args[1]), text(&args[2]));
                return if *self == JsonbSet { super::json_edit::set(&json, path, value, flag) } else { super::json_edit::insert(&json, path, value, flag) };
            }
            JsonbExtractPath { text: as_text } => return crate::expr::json::extract_path(&super::json_edit::canonical(&args[0])?, &args[1..], *as_text),
            _ => {}
        }
        let int = |i: usize| match args.get(i) {
            Some(Datum::Int(n)) => Some(*n),
            _ => None,
        };
        let s = text(&args[0]);
        Ok(Datum::Text(match self {
            Substr => {
                let chars: Vec<char> = s.chars().collect();
                let start = int(1).unwrap_or(1);
                let end = match int(2) {
                    Some(len) if len < 0 => return Err(EvalError::new("22011", "negative substring length not allowed")),
                    Some(len) => start.saturating_add(len),
                    None => i64::MAX,
                };
                let lo = (start.max(1) - 1) as usize;
                let hi = (end.max(1) - 1).min(chars.len() as i64) as usize;
                if lo >= hi {
                    Str::default()
                } else {
                    chars[lo..hi].iter().copied().collect()
                }
            }
            RegexpReplace => {
                let out = super::regex::replace(s, text(&args[1]), text(&args[2]), args.get(3).map(text).unwrap_or(""))?;
                check_text_len(out.len())?;
                out.into()
            }
            Replace => {
                let (from, to) = (text(&args[1]), text(&args[2]));
                if from.is_empty() {
                    s.to_string().into()
                } else {
                    if to.len() > from.len() {
                        let grows = s.matches(from).count().saturating_mul(to.len() - from.len());
                        check_text_len(s.len().saturating_add(grows))?;
                    }
                    (s.replace(from, to)).into()
                }
            }
            Translate => {
                let (from, to): (Vec<char>, Vec<char>) = (text(&args[1]).chars().collect(), text(&args[2]).chars().collect());
                // The first place of a character in `from` decides, as in PostgreSQL.
                s.chars().filter_map(|c| match from.iter().position(|f| *f == c) {
                    Some(i) => to.get(i).copied(),
                    None => Some(c),
                }).collect()
            }
            Lpad | Rpad => {
                let n = int(1).unwrap_or(0).max(0);
                let fill = args.get(2).map(text).unwrap_or(" ");
                let len = s.chars().count() as i64;
                if len >= n || fill.is_empty() {
                    // Truncated to n characters (no padding to add, or nothing to pad with).
                    let end = s.char_indices().nth(n.min(len) as usize).map(|(i, _)| i).unwrap_or(s.len());
                    s[..end].into()
                } else {
                    // As PostgreSQL, refuse a length whose worst case (4 bytes
                    // a character) is longer than a text value may be.
                    check_text_len(usize::try_from(n).ok().and_then(|n| n.checked_mul(4)).unwrap_or(usize::MAX))?;
                    let pad: String = fill.chars().cycle().take((n - len) as usize).collect();
                    if *self == Lpad {
                        format!("{}{}", pad, s).into()
                    } else {
                        format!("{}{}", s, pad).into()
                    }
                }
            }
            Btrim | Ltrim | Rtrim => {
                let set: Vec<char> = args.get(1).map(|d| text(d).chars().collect()).unwrap_or_else(|| vec![' ']);
                let f = |c: char| set.contains(&c);
                (match self {
                    Btrim => s.trim_matches(f),
                    Ltrim => s.trim_start_matches(f),
                    _ => s.trim_end_matches(f),
                }
                .to_string()).into()
            }
            SplitPart => {
                let n = int(2).unwrap_or(1);
                let delim = text(&args[1]);
                if n == 0 {
                    return Err(EvalError::new("22023", "field position must not be zero"));
                }
                let parts: Vec<&str> = if delim.is_empty() { vec![s] } else { s.split(delim).collect() };
                let idx = if n > 0 { n - 1 } else { parts.len() as i64 + n };
                (parts.get(idx as usize).filter(|_| idx >= 0).map(|p| p.to_string()).unwrap_or_default()).into()
            }
            _ => unreachable!("handled above"),
        }))
    }
}

/// `avg` over a numeric sum and count, with PostgreSQL's result scale.
pub fn numeric_avg(sum: Decimal, count: i64) -> Result<Datum, EvalError> {
    numeric_div(sum, Decimal::from(count)).map(Datum::Numeric)
}


/// Whether two values are not distinct: both NULL, or equal as `=` compares them.
fn same(a: &Datum, b: &Datum) -> bool {
    match (a.is_null(), b.is_null()) {
        (false, false) => compare(a, b).is_eq(),
        (x, y) => x && y,
    }
}

/// Compares two non-null values, across numeric representations (an
/// integer against a numeric or float) and date against timestamp; jsonb
/// in PostgreSQL's order (`9 < 10`, `1.0 = 1`).
pub fn compare(a: &Datum, b: &Datum) -> std::cmp::Ordering {
    use Datum::*;
    const DAY: i64 = crate::repr::Interval::MICROS_PER_DAY;
    match (a, b) {
        (Int(x), Numeric(y)) => Decimal::from(*x).cmp(y),
        (Numeric(x), Int(y)) => x.cmp(&Decimal::from(*y)),
        (Float(_), Int(_) | Numeric(_)) | (Int(_) | Numeric(_), Float(_)) => F64(f64_of(a).unwrap()).cmp(&F64(f64_of(b).unwrap())),
        (Date(d), Timestamp(t) | TimestampTz(t)) => (*d as i64 * DAY).cmp(t),
        (Timestamp(t) | TimestampTz(t), Date(d)) => t.cmp(&(*d as i64 * DAY)),
        (Timestamp(x), TimestampTz(y)) | (TimestampTz(x), Timestamp(y)) => x.cmp(y),
        // A jsonb against text: an untyped literal (`data -> 'n' = '1.0'`).
        (Jsonb(x), Jsonb(y) | Text(y)) | (Text(x), Jsonb(y)) => crate::expr::json_order::compare(x, y),
        (Text(x), Text(y)) => x.cmp(y),
        // Element by element (NULL after every value), then by length.
        (Array(x), Array(y)) => x
            .iter()
            .zip(y)
            .map(|(p, q)| match (p.is_null(), q.is_null()) {
                (false, false) => compare(p, q),
                (p, q) => p.cmp(&q),
            })
            .find(|o| o.is_ne())
            .unwrap_or(x.len().cmp(&y.len())),
        _ => a.cmp(b),
    }
}

#[cfg(test)]
#[path = "func_tests.rs"]
mod tests;
