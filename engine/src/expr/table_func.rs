//! Table functions: called with one row's argument values, each returns a
//! set of rows, as PostgreSQL's set-returning functions in FROM do.
//! [`crate::plan::Plan::FlatMap`] appends each returned row to the row it
//! was called for.
//!
//! Semantics follow PostgreSQL: a NULL argument returns no rows (the
//! functions are strict); the jsonb functions raise 22023 for a value of
//! the wrong kind (`jsonb_array_elements` of an object, `jsonb_each` of an
//! array); `generate_series` counts from start to stop by step (an empty
//! series when the step points away from stop, 22023 for a zero step).
//! Each row's values are produced from the stored canonical text without
//! building the whole document (see [`super::json`]).

use super::json::{elements, fields, part};
use super::EvalError;
use crate::repr::{Datum, Row, ScalarType};
use serde::{Deserialize, Serialize};

/// The most rows one call may return: a call per input row that returned
/// billions would take the server's memory with it.
pub const MAX_ROWS_PER_CALL: i64 = 10_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TableFunc {
    /// `jsonb_array_elements(jsonb)`: each element, as jsonb.
    JsonbArrayElements,
    /// `jsonb_array_elements_text(jsonb)`: each element as text (strings
    /// unquoted, JSON null as NULL).
    JsonbArrayElementsText,
    /// `jsonb_each(jsonb)`: each field of an object, (key text, value jsonb).
    JsonbEach,
    /// `jsonb_each_text(jsonb)`: each field, (key text, value text).
    JsonbEachText,
    /// `jsonb_object_keys(jsonb)`: each key of an object.
    JsonbObjectKeys,
    /// `generate_series(start, stop [, step])` over bigint.
    GenerateSeries,
    /// `generate_series(start, stop, step)` of timestamps (timestamptz with
    /// `zone`) by an interval: start, start + step, (that) + step, ...
    /// while not past stop, as PostgreSQL adds the step to the previous
    /// value (a month step from Jan 31 gives Feb 29, then Mar 29).
    GenerateTimestamps { zone: bool },
    /// `regexp_matches(text, pattern [, flags])`: one text[] per match
    /// (every match with flag `g`, else the first).
    RegexpMatches,
    /// `regexp_split_to_table(text, pattern [, flags])`: the text between
    /// the matches, one row each.
    RegexpSplitToTable,
    /// `unnest(array)`: each element, NULLs included (planned from
    /// DataFusion's Unnest, which knows the element type).
    Unnest(crate::repr::ElementType),
}

impl TableFunc {
    /// The function of this name, if eddy has it.
    pub fn by_name(name: &str) -> Option<TableFunc> {
        Some(match name {
            "jsonb_array_elements" => TableFunc::JsonbArrayElements,
            "jsonb_array_elements_text" => TableFunc::JsonbArrayElementsText,
            "jsonb_each" => TableFunc::JsonbEach,
            "jsonb_each_text" => TableFunc::JsonbEachText,
            "jsonb_object_keys" => TableFunc::JsonbObjectKeys,
            "generate_series" => TableFunc::GenerateSeries,
            "regexp_matches" => TableFunc::RegexpMatches,
            "regexp_split_to_table" => TableFunc::RegexpSplitToTable,
            _ => return None,
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            TableFunc::JsonbArrayElements => "jsonb_array_elements",
            TableFunc::JsonbArrayElementsText => "jsonb_array_elements_text",
            TableFunc::JsonbEach => "jsonb_each",
            TableFunc::JsonbEachText => "jsonb_each_text",
            TableFunc::JsonbObjectKeys => "jsonb_object_keys",
            TableFunc::GenerateSeries | TableFunc::GenerateTimestamps { .. } => "generate_series",
            TableFunc::Unnest(_) => "unnest",
            TableFunc::RegexpMatches => "regexp_matches",
            TableFunc::RegexpSplitToTable => "regexp_split_to_table",
        }
    }

    /// The result columns, (name, type), as PostgreSQL names them.
    pub fn columns(&self) -> Vec<(&'static str, ScalarType)> {
        match self {
            TableFunc::JsonbArrayElements => vec![("value", ScalarType::Jsonb)],
            TableFunc::JsonbArrayElementsText => vec![("value", ScalarType::Text)],
            TableFunc::JsonbEach => vec![("key", ScalarType::Text), ("value", ScalarType::Jsonb)],
            TableFunc::JsonbEachText => vec![("key", ScalarType::Text), ("value", ScalarType::Text)],
            TableFunc::JsonbObjectKeys => vec![("jsonb_object_keys", ScalarType::Text)],
            TableFunc::GenerateSeries => vec![("generate_series", ScalarType::Int64)],
            TableFunc::GenerateTimestamps { zone } => vec![("generate_series", if *zone { ScalarType::TimestampTz } else { ScalarType::Timestamp })],
            TableFunc::Unnest(e) => vec![("unnest", e.scalar())],
            TableFunc::RegexpMatches => vec![("regexp_matches", ScalarType::Array(crate::repr::ElementType::Text))],
            TableFunc::RegexpSplitToTable => vec![("regexp_split_to_table", ScalarType::Text)],
        }
    }

    /// The argument types it takes with `args` arguments, if it does: the
    /// jsonb functions one jsonb, the series two or three bigints (or two
    /// timestamps and an interval), unnest one array.
    pub fn takes(&self, args: usize) -> Option<Vec<ScalarType>> {
        match self {
            TableFunc::GenerateSeries => (2..=3).contains(&args).then(|| vec![ScalarType::Int64; args]),
            TableFunc::GenerateTimestamps { .. } => (args == 3).then(|| vec![self.columns()[0].1, self.columns()[0].1, ScalarType::Interval]),
            TableFunc::Unnest(e) => (args == 1).then(|| vec![ScalarType::Array(*e)]),
            TableFunc::RegexpMatches | TableFunc::RegexpSplitToTable => (2..=3).contains(&args).then(|| vec![ScalarType::Text; args]),
            _ => (args == 1).then(|| vec![ScalarType::Jsonb]),
        }
    }

    /// The rows for one call. Each has [`Self::columns`]'s arity.
    pub fn eval(&self, args: &[Datum]) -> Result<Vec<Row>, EvalError> {
        if args.iter().any(|a| matches!(a, Datum::Null)) {
            return Ok(Vec::new());
        }
        match (self, args) {
            (TableFunc::GenerateSeries, [Datum::Int(start), Datum::Int(stop), rest @ ..]) => {
                let step = match rest {
                    [Datum::Int(s)] => *s,
                    _ => 1,
                };
                series(*start, *stop, step)
            }
            (TableFunc::GenerateTimestamps { zone }, [Datum::Timestamp(start) | Datum::TimestampTz(start), Datum::Timestamp(stop) | Datum::TimestampTz(stop), Datum::Interval(step)]) => {
                let wrap = if *zone { Datum::TimestampTz } else { Datum::Timestamp };
                Ok(timestamp_series(*start, *stop, *step)?.into_iter().map(|t| vec![wrap(t)]).collect())
            }
            (TableFunc::RegexpMatches | TableFunc::RegexpSplitToTable, [Datum::Text(s), Datum::Text(p), rest @ ..]) => {
                let flags = match rest {
                    [Datum::Text(f)] => f.as_str(),
                    _ => "",
                };
                Ok(match self {
                    TableFunc::RegexpMatches => super::regex::matches(s, p, flags, true)?.into_iter().map(|m| vec![super::array::text_array(m)]).collect(),
                    _ => super::regex::split(s, p, flags)?.into_iter().map(|t| vec![Datum::text(t)]).collect(),
                })
            }
            (TableFunc::Unnest(_), [Datum::Array(items)]) => Ok(items.iter().map(|i| vec![i.clone()]).collect()),
            (_, [Datum::Jsonb(json)]) => self.jsonb(json),
            _ => Err(EvalError::new("XX000", format!("{} called with arguments of the wrong types", self.name()))),
        }
    }

    fn jsonb(&self, json: &str) -> Result<Vec<Row>, EvalError> {
        match self {
            TableFunc::JsonbArrayElements | TableFunc::JsonbArrayElementsText => {
                let kind = kind_of(json);
                if kind != Kind::Array {
                    return Err(EvalError::new("22023", format!("cannot extract elements from {}", kind.article())));
                }
                let text = *self == TableFunc::JsonbArrayElementsText;
                elements(json)?.into_iter().map(|v| Ok(vec![part(v.get(), text)?])).collect()
            }
            TableFunc::JsonbEach | TableFunc::JsonbEachText => {
                if kind_of(json) != Kind::Object {
                    return Err(EvalError::new("22023", format!("cannot call {} on a non-object", self.name())));
                }
                let text = *self == TableFunc::JsonbEachText;
                fields(json)?.into_iter().map(|(k, v)| Ok(vec![Datum::Text(k.as_ref().into()), part(v.get(), text)?])).collect()
            }
            TableFunc::JsonbObjectKeys => match kind_of(json) {
                Kind::Object => Ok(fields(json)?.into_iter().map(|(k, _)| vec![Datum::Text(k.as_ref().into())]).collect()),
                kind => Err(EvalError::new("22023", format!("cannot call jsonb_object_keys on {}", kind.article()))),
            },
            TableFunc::GenerateSeries | TableFunc::GenerateTimestamps { .. } | TableFunc::Unnest(_) | TableFunc::RegexpMatches | TableFunc::RegexpSplitToTable => unreachable!("{} takes no jsonb", self.name()),
        }
    }
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum Kind {
    Array,
    Object,
    Scalar,
}

impl Kind {
    fn article(self) -> &'static str {
        match self {
            Kind::Array => "an array",
            Kind::Object => "an object",
            Kind::Scalar => "a scalar",
        }
    }
}

fn kind_of(json: &str) -> Kind {
    match json.trim_start().as_bytes().first() {
        Some(b'[') => Kind::Array,
        Some(b'{') => Kind::Object,
        _ => Kind::Scalar,
    }
}

fn series(start: i64, stop: i64, step: i64) -> Result<Vec<Row>, EvalError> {
    if step == 0 {
        return Err(EvalError::new("22023", "step size cannot equal zero"));
    }
    if (step > 0 && start > stop) || (step < 0 && start < stop) {
        return Ok(Vec::new());
    }
    let len = (stop as i128 - start as i128) / step as i128 + 1;
    if len > MAX_ROWS_PER_CALL as i128 {
        return Err(EvalError::new("54000", format!("generate_series({}, {}, {}) would return {} rows; eddy returns at most {} per call", start, stop, step, len, MAX_ROWS_PER_CALL)));
    }
    Ok((0..len as i64).map(|i| vec![Datum::Int(start + i * step)]).collect())
}

/// The timestamps from `start` by `step` while not past `stop` (see
/// [`TableFunc::GenerateTimestamps`]); the step's direction is its length
/// with a month as 30 days, as PostgreSQL compares intervals.
fn timestamp_series(start: i64, stop: i64, step: crate::repr::Interval) -> Result<Vec<i64>, EvalError> {
    let span = (step.months as i128 * 30 + step.days as i128) * crate::repr::Interval::MICROS_PER_DAY as i128 + step.micros as i128;
    if span == 0 {
        return Err(EvalError::new("22023", "step size cannot equal zero"));
    }
    let mut out = Vec::new();
    let mut t = start;
    while (span > 0 && t <= stop) || (span < 0 && t >= stop) {
        if out.len() as i64 >= MAX_ROWS_PER_CALL {
            return Err(EvalError::new("54000", format!("generate_series would return more than {} rows; eddy returns at most that many per call", MAX_ROWS_PER_CALL)));
        }
        out.push(t);
        match super::arith::add_interval(t, step, 1) {
            Ok(next) => t = next,
            Err(_) => break, // past the last representable timestamp
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn j(s: &str) -> Datum {
        Datum::Jsonb(s.into())
    }

    #[test]
    fn timestamp_series_adds_the_step_to_the_previous_value() {
        use crate::repr::{parse_timestamp, Interval};
        let ts = |s: &str| parse_timestamp(s, false).unwrap();
        let month = Interval { months: 1, days: 0, micros: 0 };
        let f = TableFunc::GenerateTimestamps { zone: false };
        let rows = f.eval(&[Datum::Timestamp(ts("2024-01-31")), Datum::Timestamp(ts("2024-04-30")), Datum::Interval(month)]).unwrap();
        assert_eq!(rows, ["2024-01-31", "2024-02-29", "2024-03-29", "2024-04-29"].iter().map(|d| vec![Datum::Timestamp(ts(d))]).collect::<Vec<_>>());
        let back = Interval { months: 0, days: 0, micros: -3_600_000_000 };
        assert_eq!(f.eval(&[Datum::Timestamp(ts("2024-01-01 02:00")), Datum::Timestamp(ts("2024-01-01 00:00")), Datum::Interval(back)]).unwrap().len(), 3);
        assert!(f.eval(&[Datum::Timestamp(ts("2024-01-01")), Datum::Timestamp(ts("2024-01-02")), Datum::Interval(back)]).unwrap().is_empty());
        assert_eq!(f.eval(&[Datum::Timestamp(0), Datum::Timestamp(1), Datum::Interval(Interval::default())]).unwrap_err().code, "22023");
    }

    #[test]
    fn array_elements_as_jsonb_and_text() {
        let rows = TableFunc::JsonbArrayElements.eval(&[j(r#"[1,"a",null,{"b":2}]"#)]).unwrap();
        assert_eq!(rows, vec![vec![j("1")], vec![j("\"a\"")], vec![j("null")], vec![j(r#"{"b":2}"#)]]);
        let rows = TableFunc::JsonbArrayElementsText.eval(&[j(r#"[1,"a",null]"#)]).unwrap();
        assert_eq!(rows, vec![vec![Datum::Text("1".into())], vec![Datum::Text("a".into())], vec![Datum::Null]]);
        assert!(TableFunc::JsonbArrayElements.eval(&[j("[]")]).unwrap().is_empty());
        assert!(TableFunc::JsonbArrayElements.eval(&[Datum::Null]).unwrap().is_empty());
        assert_eq!(TableFunc::JsonbArrayElements.eval(&[j(r#"{"a":1}"#)]).unwrap_err().to_string(), "cannot extract elements from an object");
        assert_eq!(TableFunc::JsonbArrayElements.eval(&[j("3")]).unwrap_err().to_string(), "cannot extract elements from a scalar");
    }

    #[test]
    fn object_fields_and_keys() {
        let rows = TableFunc::JsonbEachText.eval(&[j(r#"{"a":"x","b":[1]}"#)]).unwrap();
        assert_eq!(rows, vec![vec![Datum::Text("a".into()), Datum::Text("x".into())], vec![Datum::Text("b".into()), Datum::Text("[1]".into())]]);
        let keys = TableFunc::JsonbObjectKeys.eval(&[j(r#"{"a":1,"b":2}"#)]).unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(TableFunc::JsonbEach.eval(&[j("[1]")]).unwrap_err().to_string(), "cannot call jsonb_each on a non-object");
        assert_eq!(TableFunc::JsonbObjectKeys.eval(&[j("[1]")]).unwrap_err().to_string(), "cannot call jsonb_object_keys on an array");
    }

    #[test]
    fn series_counts_by_step() {
        let ints = |rows: Vec<Row>| rows.into_iter().map(|r| r[0].clone()).collect::<Vec<_>>();
        assert_eq!(ints(TableFunc::GenerateSeries.eval(&[Datum::Int(1), Datum::Int(7), Datum::Int(3)]).unwrap()), vec![Datum::Int(1), Datum::Int(4), Datum::Int(7)]);
        assert!(TableFunc::GenerateSeries.eval(&[Datum::Int(5), Datum::Int(1)]).unwrap().is_empty());
        assert!(TableFunc::GenerateSeries.eval(&[Datum::Int(1), Datum::Int(5), Datum::Int(0)]).is_err());
    }
}
