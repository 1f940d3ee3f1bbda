//! JSON records: object fields map to columns by name (a missing field is
//! NULL; nested objects and arrays become jsonb); rows encode back into
//! objects keyed by column name.

use eddy_engine::repr::{format_datum, format_jsonb, parse_datum, RelationDesc};
use eddy_engine::{Datum, Row, ScalarType};
use serde_json::{Map, Value};

use super::Change;

/// Decodes a JSON object into a row of `desc`.
pub fn decode_json(bytes: &[u8], desc: &RelationDesc) -> Result<Row, String> {
    decode_json_value(parse(bytes)?, desc, false)
}

/// Decodes a JSON record into a row of `desc`; `whole`: the record whole
/// is the one jsonb column (a source without a column list).
pub fn decode_json_record(bytes: &[u8], desc: &RelationDesc, whole: bool) -> Result<Row, String> {
    decode_json_value(parse(bytes)?, desc, whole)
}

fn parse(bytes: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("invalid JSON: {}", e))
}

/// A JSON value (an object, or anything for a lone jsonb column) as a row
/// of `desc`. A lone jsonb column takes the value whole when `whole`, or
/// when the value has no field of its name.
fn decode_json_value(v: Value, desc: &RelationDesc, whole: bool) -> Result<Row, String> {
    let lone_jsonb = desc.arity() == 1 && desc.types[0].scalar == ScalarType::Jsonb;
    let Value::Object(obj) = v else {
        if lone_jsonb {
            return Ok(vec![Datum::Jsonb(format_jsonb(&v).into())]);
        }
        return Err(format!("expected a JSON object, found {}", kind(&v)));
    };
    if lone_jsonb && (whole || !obj.contains_key(&desc.names[0])) {
        return Ok(vec![Datum::Jsonb(format_jsonb(&Value::Object(obj)).into())]);
    }
    desc.iter().map(|(name, ty)| field(obj.get(name).or_else(|| find_ci(&obj, name)), ty.scalar).map_err(|e| format!("field \"{}\": {}", name, e))).collect()
}

/// A Debezium change record, `{before, after}` (or the same under
/// `payload`, as Debezium's JSON converter with schemas writes it): the
/// rows before and after.
pub fn decode_json_change(bytes: &[u8], desc: &RelationDesc, whole: bool) -> Result<Change, String> {
    let mut v = parse(bytes)?;
    if let Some(p) = v.get_mut("payload") {
        v = p.take();
    }
    let mut side = |field: &str| match v.get_mut(field).map(Value::take) {
        Some(Value::Null) | None => Ok(None),
        Some(row) => decode_json_value(row, desc, whole).map(Some).map_err(|e| format!("{}: {}", field, e)),
    };
    Ok((side("before")?, side("after")?))
}

/// Field names match exactly, else case-insensitively (SQL folds column
/// names to lower case; producers often write camelCase).
fn find_ci<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn field(v: Option<&Value>, ty: ScalarType) -> Result<Datum, String> {
    let Some(v) = v else { return Ok(Datum::Null) };
    match (v, ty) {
        (Value::Null, _) => Ok(Datum::Null),
        (v, ScalarType::Jsonb) => Ok(Datum::Jsonb(format_jsonb(v).into())),
        (Value::String(s), ty) => parse_datum(s, ty).map_err(|e| e.message),
        (Value::Bool(b), ScalarType::Bool) => Ok(Datum::Bool(*b)),
        (Value::Number(n), ty) if ty.is_numeric_family() => parse_datum(&n.to_string(), ty).map_err(|e| e.message),
        (Value::Number(n), ScalarType::Text) => Ok(Datum::Text(n.to_string().into())),
        (Value::Bool(b), ScalarType::Text) => Ok(Datum::Text(b.to_string().into())),
        (Value::Number(n), ScalarType::TimestampTz | ScalarType::Timestamp) => {
            // Epoch milliseconds, as many producers write timestamps.
            let ms = n.as_i64().ok_or_else(|| format!("{} is not epoch milliseconds", n))?;
            Ok(if ty == ScalarType::Timestamp { Datum::Timestamp(ms * 1000) } else { Datum::TimestampTz(ms * 1000) })
        }
        (v @ (Value::Array(_) | Value::Object(_)), ScalarType::Text) => Ok(Datum::Text(v.to_string().into())),
        // A JSON array is an array column's value, element by element.
        (Value::Array(items), ScalarType::Array(e)) => items.iter().map(|i| field(Some(i), e.scalar())).collect::<Result<Vec<_>, _>>().map(Datum::Array),
        (v, ty) => Err(format!("expected {}, found {}", ty, kind(v))),
    }
}

/// A datum as a JSON value: numbers stay numbers, jsonb stays structured,
/// everything else is its PostgreSQL text form.
pub fn datum_to_json(d: &Datum, ty: ScalarType) -> Value {
    match d {
        Datum::Null => Value::Null,
        Datum::Bool(b) => Value::Bool(*b),
        Datum::Int(i) => Value::from(*i),
        Datum::Float(f) if f.0.is_finite() => serde_json::Number::from_f64(f.0).map(Value::Number).unwrap_or(Value::Null),
        Datum::Numeric(n) => serde_json::from_str(&n.to_string()).unwrap_or_else(|_| Value::String(n.to_string())),
        Datum::Jsonb(s) => serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.to_string())),
        Datum::Array(items) => Value::Array(items.iter().map(|i| datum_to_json(i, ty.element().unwrap_or(ScalarType::Text))).collect()),
        other => Value::String(format_datum(other, ty).unwrap_or_default()),
    }
}

/// The columns `cols` of a row as the text of a JSON object, fields in
/// column order. Written directly rather than through `serde_json::Value`,
/// whose numbers are f64: numeric values keep every digit and their scale
/// (`12.50`), and `real` prints its own shortest digits (`0.1`, not
/// `0.10000000149011612`). Non-finite floats are the strings `"NaN"`,
/// `"Infinity"` and `"-Infinity"`; jsonb is embedded as the JSON it is;
/// other types are strings of their PostgreSQL text form.
pub fn encode_json_row(row: &Row, desc: &RelationDesc, cols: impl Iterator<Item = usize>) -> String {
    let mut out = String::from("{");
    for (i, c) in cols.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&Value::String(desc.names[c].clone()).to_string());
        out.push(':');
        write_json_datum(&mut out, &row[c], desc.types[c].scalar);
    }
    out.push('}');
    out
}

fn write_json_datum(out: &mut String, d: &Datum, ty: ScalarType) {
    use std::fmt::Write;
    let _ = match d {
        Datum::Null => write!(out, "null"),
        Datum::Bool(b) => write!(out, "{}", b),
        Datum::Int(i) => write!(out, "{}", i),
        Datum::Float(f) if f.0.is_nan() => write!(out, "\"NaN\""),
        Datum::Float(f) if f.0.is_infinite() => write!(out, "{}", if f.0 > 0.0 { "\"Infinity\"" } else { "\"-Infinity\"" }),
        Datum::Float(f) if ty == ScalarType::Float32 => write!(out, "{}", f.0 as f32),
        Datum::Float(f) => write!(out, "{}", f.0),
        Datum::Numeric(n) => write!(out, "{}", n),
        Datum::Jsonb(s) => write!(out, "{}", s),
        // An array is a JSON array of its elements, each written as a column of their type.
        Datum::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_datum(out, item, ty.element().unwrap_or(ScalarType::Text));
            }
            out.push(']');
            Ok(())
        }
        other => write!(out, "{}", Value::String(format_datum(other, ty).unwrap_or_default())),
    };
}

/// A Debezium change record `{"before": ..., "after": ...}` of two rows'
/// JSON texts (None: `null`).
pub fn encode_json_change(before: Option<String>, after: Option<String>) -> String {
    format!("{{\"before\":{},\"after\":{}}}", before.as_deref().unwrap_or("null"), after.as_deref().unwrap_or("null"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_engine::repr::ColumnType;

    fn desc() -> RelationDesc {
        let c = |n: &str, t| (n.to_string(), ColumnType { scalar: t, nullable: true });
        RelationDesc::new(vec![c("orderid", ScalarType::Text), c("total", ScalarType::Numeric { precision: None, scale: None }), c("items", ScalarType::Jsonb), c("n", ScalarType::Int32)])
    }

    #[test]
    fn rows_encode_exactly() {
        let c = |n: &str, t| (n.to_string(), ColumnType { scalar: t, nullable: true });
        let desc = RelationDesc::new(vec![c("n", ScalarType::Numeric { precision: Some(30), scale: Some(9) }), c("r", ScalarType::Float32), c("d", ScalarType::Float64), c("j", ScalarType::Jsonb), c("t", ScalarType::Text), c("b", ScalarType::Bool)]);
        let n = parse_datum("12345678901234567890.123456789", desc.types[0].scalar).unwrap();
        let row = vec![n, Datum::Float(eddy_engine::repr::F64(0.1f32 as f64)), Datum::Float(eddy_engine::repr::F64(f64::NAN)), Datum::Jsonb(r#"{"a": [1, 2.50]}"#.into()), Datum::Text("say \"hi\"".into()), Datum::Null];
        let text = encode_json_row(&row, &desc, 0..6);
        assert_eq!(text, r#"{"n":12345678901234567890.123456789,"r":0.1,"d":"NaN","j":{"a": [1, 2.50]},"t":"say \"hi\"","b":null}"#);
        let parsed: Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(parsed["t"], "say \"hi\"");
        assert_eq!(encode_json_change(None, Some("{}".into())), r#"{"before":null,"after":{}}"#);
        let scaled = parse_datum("12.50", ScalarType::Numeric { precision: Some(10), scale: Some(2) }).unwrap();
        assert_eq!(encode_json_row(&vec![scaled], &RelationDesc::new(vec![c("x", ScalarType::Numeric { precision: Some(10), scale: Some(2) })]), 0..1), r#"{"x":12.50}"#);
    }

    #[test]
    fn arrays_are_json_arrays_both_ways() {
        use eddy_engine::repr::ElementType;
        let c = |n: &str, t| (n.to_string(), ColumnType { scalar: t, nullable: true });
        let desc = RelationDesc::new(vec![c("tags", ScalarType::Array(ElementType::Text)), c("qty", ScalarType::Array(ElementType::Int32))]);
        let row = decode_json(br#"{"tags": ["a", null], "qty": [1, "2"]}"#, &desc).unwrap();
        assert_eq!(row, vec![Datum::Array(vec![Datum::Text("a".into()), Datum::Null]), Datum::Array(vec![Datum::Int(1), Datum::Int(2)])]);
        assert_eq!(encode_json_row(&row, &desc, 0..2), r#"{"tags":["a",null],"qty":[1,2]}"#);
        assert!(decode_json(br#"{"qty": [1, "x"]}"#, &desc).is_err());
        assert!(decode_json(br#"{"qty": 1}"#, &desc).is_err());
    }

    #[test]
    fn decodes_by_name_and_reports_bad_fields() {
        let row = decode_json(br#"{"orderId": "o-1", "total": 12.50, "items": [{"p": 1}]}"#, &desc()).unwrap();
        assert_eq!(row[0], Datum::Text("o-1".into()));
        assert_eq!(format_datum(&row[1], ScalarType::Numeric { precision: None, scale: None }).unwrap(), "12.5");
        assert_eq!(row[2], Datum::Jsonb(r#"[{"p": 1}]"#.into()));
        assert_eq!(row[3], Datum::Null);
        assert!(decode_json(br#"{"n": "x"}"#, &desc()).unwrap_err().contains("field \"n\""));
        assert!(decode_json(br#"{"n": 1"#, &desc()).unwrap_err().contains("invalid JSON"));
        assert!(decode_json(br#"[1]"#, &desc()).unwrap_err().contains("expected a JSON object"));
        assert!(decode_json(br#"{"n": 99999999999}"#, &desc()).unwrap_err().contains("out of range"));
    }
}
