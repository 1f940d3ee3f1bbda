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
        other => Value::String(format_datum(other, ty).unwrap_or_default()),
    }
}

/// The columns `cols` of a row as a JSON object.
pub fn encode_json_row(row: &Row, desc: &RelationDesc, cols: impl Iterator<Item = usize>) -> Value {
    let mut m = Map::new();
    for c in cols {
        m.insert(desc.names[c].clone(), datum_to_json(&row[c], desc.types[c].scalar));
    }
    Value::Object(m)
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
