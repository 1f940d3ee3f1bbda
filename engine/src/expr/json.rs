//! jsonb access: `->`, `->>`, `jsonb_array_length` and `||`, over values
//! stored as canonical JSON text.

use super::EvalError;
use crate::repr::{Datum, ScalarType};
use rust_decimal::Decimal;
use serde_json::value::RawValue;

/// The field `key` (text) or element `key` (integer) of a JSON value;
/// NULL when absent. `as_text` gives `->>`: strings unquoted, others as
/// JSON text.
pub fn get(json: &str, key: &Datum, as_text: bool) -> Result<Datum, EvalError> {
    // Stored jsonb is canonical text, and a canonical document's parts are
    // canonical too: the element is found by scanning, never by building
    // the whole value, and returned as the slice of text it is.
    let found: Option<&RawValue> = match (json.trim_start().as_bytes().first(), key) {
        (Some(b'{'), Datum::Text(k)) => {
            let fields: Vec<(std::borrow::Cow<str>, &RawValue)> = serde_json::from_str::<Fields>(json).map_err(invalid)?.0;
            fields.into_iter().find(|(name, _)| name == k.as_str()).map(|(_, v)| v)
        }
        (Some(b'['), Datum::Int(i)) => {
            let items = elements(json)?;
            let idx = if *i < 0 { items.len() as i64 + i } else { *i };
            usize::try_from(idx).ok().and_then(|i| items.get(i).copied())
        }
        _ => None,
    };
    let Some(raw) = found.map(RawValue::get) else { return Ok(Datum::Null) };
    part(raw, as_text)
}

/// A part of a canonical document (a slice of its text) as jsonb, or as
/// `->>` gives it (`as_text`): strings unquoted, JSON null as NULL, others
/// as their JSON text.
pub(super) fn part(raw: &str, as_text: bool) -> Result<Datum, EvalError> {
    Ok(match raw.as_bytes().first() {
        Some(b'n') if as_text => Datum::Null,
        Some(b'"') if as_text => Datum::Text(serde_json::from_str::<String>(raw).map_err(invalid)?.into()),
        _ if as_text => Datum::Text(raw.into()),
        _ => Datum::Jsonb(raw.into()),
    })
}

/// The elements of a JSON array, as text; an error when `json` is not an array.
pub fn elements(json: &str) -> Result<Vec<&RawValue>, EvalError> {
    serde_json::from_str(json).map_err(invalid)
}

/// The fields of a JSON object in order, values as text; an error when
/// `json` is not an object.
pub fn fields(json: &str) -> Result<Vec<(std::borrow::Cow<'_, str>, &RawValue)>, EvalError> {
    Ok(serde_json::from_str::<Fields>(json).map_err(invalid)?.0)
}

fn invalid(e: serde_json::Error) -> EvalError {
    EvalError::new("22P02", format!("invalid input syntax for type json: {}", e))
}

/// An object's fields in order, values unparsed.
struct Fields<'a>(Vec<(std::borrow::Cow<'a, str>, &'a RawValue)>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for Fields<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visit<'a> {
            type Value = Fields<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(self, mut map: M) -> Result<Fields<'a>, M::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry::<std::borrow::Cow<'de, str>, &'de RawValue>()? {
                    out.push(entry);
                }
                Ok(Fields(out))
            }
        }
        d.deserialize_map(Visit(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn gets_fields_and_elements() {
        let j = r#"{"items": [{"productId": "p1", "quantity": 2}], "n": 1.5, "s": "x"}"#;
        assert_eq!(get(j, &Datum::Text("s".into()), true).unwrap(), Datum::Text("x".into()));
        assert_eq!(get(j, &Datum::Text("s".into()), false).unwrap(), Datum::Jsonb("\"x\"".into()));
        assert_eq!(get(j, &Datum::Text("missing".into()), true).unwrap(), Datum::Null);
        let items = get(j, &Datum::Text("items".into()), false).unwrap();
        let Datum::Jsonb(items) = items else { panic!() };
        let first = get(&items, &Datum::Int(0), false).unwrap();
        let Datum::Jsonb(first) = first else { panic!() };
        assert_eq!(get(&first, &Datum::Text("quantity".into()), true).unwrap(), Datum::Text("2".into()));
        assert_eq!(get(&items, &Datum::Int(-1), false).unwrap(), Datum::Jsonb(first.clone()));
        assert_eq!(get(&items, &Datum::Int(5), true).unwrap(), Datum::Null);
    }
}

/// `a || b` of two jsonb values, as PostgreSQL: two objects merge (a key
/// of both takes `b`'s value), two arrays concatenate, an array and a
/// non-array make the array with the other added at that end, and two
/// non-arrays make a two-element array.
pub fn concat(a: &str, b: &str) -> Result<Datum, EvalError> {
    // Joined as text from the canonical parts (whose numbers keep their
    // digits) and normalized: a repeated key keeps `b`'s value.
    let (a, b) = (a.trim(), b.trim());
    let inner = |s: &str| s[1..s.len() - 1].trim().to_string();
    let join = |open: char, close: char, parts: Vec<String>| format!("{}{}{}", open, parts.into_iter().filter(|p| !p.is_empty()).collect::<Vec<_>>().join(", "), close);
    let joined = match (a.as_bytes().first(), b.as_bytes().first()) {
        (Some(b'{'), Some(b'{')) => join('{', '}', vec![inner(a), inner(b)]),
        (Some(b'['), Some(b'[')) => join('[', ']', vec![inner(a), inner(b)]),
        (Some(b'['), _) => join('[', ']', vec![inner(a), b.to_string()]),
        (_, Some(b'[')) => join('[', ']', vec![a.to_string(), inner(b)]),
        _ => join('[', ']', vec![a.to_string(), b.to_string()]),
    };
    jsonb_of(&joined)
}

fn parse_value(s: &str) -> Result<serde_json::Value, EvalError> {
    serde_json::from_str(s).map_err(invalid)
}

/// A jsonb scalar as a number or boolean: `(j -> 'n')::numeric`. A number
/// converts as a numeric would (to an integer by rounding), `true` and
/// `false` to boolean; any other JSON value is 22023, as in PostgreSQL.
pub fn cast(json: &str, to: ScalarType) -> Result<Datum, EvalError> {
    let kind = match json.as_bytes().first() {
        Some(b'"') => "string",
        Some(b'{') => "object",
        Some(b'[') => "array",
        Some(b't' | b'f') => "boolean",
        Some(b'n') => "null",
        _ => "number",
    };
    match (kind, to) {
        ("number", t) if t.is_integer() || matches!(t, ScalarType::Numeric { .. } | ScalarType::Float32 | ScalarType::Float64) => {
            let n = Decimal::from_str_exact(json).or_else(|_| Decimal::from_scientific(json)).map_err(|_| EvalError::new("22003", "value overflows numeric format"))?;
            super::cast::cast(Datum::Numeric(n), t)
        }
        ("boolean", ScalarType::Bool) => Ok(Datum::Bool(json == "true")),
        (kind, to) => Err(EvalError::new("22023", format!("cannot cast jsonb {} to type {}", kind, to))),
    }
}

/// `jsonb_typeof`.
pub fn type_of(json: &str) -> Result<Datum, EvalError> {
    use serde_json::Value;
    Ok(Datum::text(match parse_value(json)? {
        Value::Object(_) => "object",
        Value::Array(_) => "array",
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "boolean",
        Value::Null => "null",
    }))
}

/// `json ? key`: `key` is a key of the top-level object, a string element
/// of the top-level array, or the top-level string itself.
pub fn exists(json: &str, key: &str) -> Result<Datum, EvalError> {
    use serde_json::Value;
    Ok(Datum::Bool(match parse_value(json)? {
        Value::Object(m) => m.contains_key(key),
        Value::Array(a) => a.iter().any(|v| v.as_str() == Some(key)),
        Value::String(s) => s == key,
        _ => false,
    }))
}

/// `a @> b`, PostgreSQL's containment: an object contains an object whose
/// every key it has with a containing value; an array contains an array
/// whose every element some element of it contains (and, at the top, a
/// scalar it has as an element); scalars contain equal scalars.
pub fn contains(a: &str, b: &str) -> Result<Datum, EvalError> {
    // Over the canonical text's slices: numbers compare by value with
    // every digit (as f64s, 9007199254740993 would equal ...992).
    fn within(a: &str, b: &str) -> Result<bool, EvalError> {
        Ok(match (a.as_bytes().first(), b.as_bytes().first()) {
            (Some(b'{'), Some(b'{')) => {
                let have = fields(a)?;
                for (k, v) in fields(b)? {
                    let Some((_, w)) = have.iter().find(|(name, _)| *name == k) else { return Ok(false) };
                    if !within(w.get(), v.get())? {
                        return Ok(false);
                    }
                }
                true
            }
            (Some(b'['), Some(b'[')) => {
                let have = elements(a)?;
                for v in elements(b)? {
                    let mut found = false;
                    for w in &have {
                        if within(w.get(), v.get())? {
                            found = true;
                            break;
                        }
                    }
                    if !found {
                        return Ok(false);
                    }
                }
                true
            }
            (Some(b'{' | b'['), _) | (_, Some(b'{' | b'[')) => false,
            (Some(b'-' | b'0'..=b'9'), Some(b'-' | b'0'..=b'9')) => super::json_order::compare(a, b).is_eq(),
            _ => a == b,
        })
    }
    // Either side may be text not yet in canonical form (a literal).
    let canonical = |s: &str| crate::repr::normalize_jsonb(s).map_err(|e| EvalError::new("22P02", e.to_string()));
    let (a, b) = (canonical(a)?, canonical(b)?);
    let (a, b) = (a.as_str(), b.as_str());
    let scalar = |s: &str| !matches!(s.as_bytes().first(), Some(b'{' | b'['));
    if a.starts_with('[') && scalar(b) {
        for w in elements(a)? {
            if within(w.get(), b)? {
                return Ok(Datum::Bool(true));
            }
        }
        return Ok(Datum::Bool(false));
    }
    within(a, b).map(Datum::Bool)
}

/// The elements of a text array literal, `{a,0,"b c"}`, as PostgreSQL's
/// array input reads them: blanks around an unquoted element dropped,
/// double quotes and backslashes quoting, an unquoted `NULL` a NULL.
pub(super) fn path_elements(path: &str) -> Result<Vec<Option<String>>, EvalError> {
    let malformed = || EvalError::new("22P02", format!("malformed array literal: \"{}\"", path));
    let inner = path.trim().strip_prefix('{').and_then(|p| p.strip_suffix('}')).ok_or_else(malformed)?;
    if inner.trim().is_empty() {
        return Ok(vec![]);
    }
    let mut out = Vec::new();
    let mut chars = inner.chars();
    // The element so far, its length up to the last character that is not
    // an unquoted blank, and whether any of it was quoted.
    let (mut text, mut keep, mut quoted) = (String::new(), 0, false);
    let mut in_quotes = false;
    loop {
        let c = chars.next();
        match c {
            Some('\\') => {
                text.push(chars.next().ok_or_else(malformed)?);
                keep = text.len();
                quoted = true;
            }
            Some('"') => {
                in_quotes = !in_quotes;
                quoted = true;
                keep = text.len();
            }
            Some(c) if in_quotes => {
                text.push(c);
                keep = text.len();
            }
            None if in_quotes => return Err(malformed()),
            Some('{' | '}') => return Err(malformed()),
            None | Some(',') => {
                text.truncate(keep);
                if text.is_empty() && !quoted {
                    return Err(malformed());
                }
                out.push(if !quoted && text.eq_ignore_ascii_case("null") { None } else { Some(std::mem::take(&mut text)) });
                (text, keep, quoted) = (String::new(), 0, false);
                if c.is_none() {
                    return Ok(out);
                }
            }
            Some(c) if c.is_ascii_whitespace() && text.is_empty() && !quoted => {}
            Some(c) => {
                text.push(c);
                if !c.is_ascii_whitespace() {
                    keep = text.len();
                }
            }
        }
    }
}

/// `json #> path` and `json #>> path`: NULL where the path leads nowhere
/// or has a NULL step.
pub fn path(json: &str, path: &str, as_text: bool) -> Result<Datum, EvalError> {
    match path_elements(path)?.into_iter().collect::<Option<Vec<String>>>() {
        Some(steps) => at_path(json, &steps, as_text),
        None => Ok(Datum::Null),
    }
}

/// `jsonb_extract_path(json, VARIADIC steps)` and `jsonb_extract_path_text`:
/// `#>` and `#>>` with the steps as separate texts.
pub fn extract_path(json: &str, steps: &[Datum], as_text: bool) -> Result<Datum, EvalError> {
    let steps: Vec<String> = steps.iter().map(|d| if let Datum::Text(s) | Datum::Jsonb(s) = d { s.to_string() } else { String::new() }).collect();
    at_path(json, &steps, as_text)
}

fn at_path(json: &str, steps: &[String], as_text: bool) -> Result<Datum, EvalError> {
    // The parts of canonical text are canonical: the value at the path is
    // the slice of text it is (numbers keep their digits).
    let mut at: &str = json;
    for step in steps {
        let next = match at.trim_start().as_bytes().first() {
            Some(b'{') => fields(at)?.into_iter().find(|(name, _)| name == step).map(|(_, v)| v.get()),
            Some(b'[') => match step.trim().parse::<i64>() {
                Ok(i) => {
                    let items = elements(at)?;
                    let i = if i < 0 { items.len() as i64 + i } else { i };
                    usize::try_from(i).ok().and_then(|i| items.get(i)).map(|v| v.get())
                }
                Err(_) => None,
            },
            _ => None,
        };
        match next {
            Some(v) => at = v,
            None => return Ok(Datum::Null),
        }
    }
    part(at.trim(), as_text)
}

/// Writes a datum as JSON text: numbers (in their PostgreSQL text form,
/// so numeric keeps its scale) and booleans as themselves, jsonb as the
/// JSON it holds, NULL as null, anything else as the string of its text
/// form (timestamps in ISO 8601 with a `T`, as PostgreSQL's to_json).
fn write_json(d: &Datum, out: &mut String) {
    use crate::repr::{format_datum, format_float, ScalarType};
    let string = |s: &str, out: &mut String| out.push_str(&serde_json::to_string(s).unwrap_or_default());
    match d {
        Datum::Null => out.push_str("null"),
        Datum::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Datum::Int(i) => out.push_str(&i.to_string()),
        Datum::Float(f) if f.0.is_finite() => out.push_str(&format_float(f.0, false)),
        Datum::Float(f) => string(&format_float(f.0, false), out),
        Datum::Numeric(n) => out.push_str(&n.to_string()),
        Datum::Jsonb(s) => out.push_str(s),
        Datum::Text(s) => string(s, out),
        Datum::Date(_) => string(&format_datum(d, ScalarType::Date).unwrap_or_default(), out),
        Datum::Timestamp(_) => string(&format_datum(d, ScalarType::Timestamp).unwrap_or_default().replacen(' ', "T", 1), out),
        Datum::TimestampTz(_) => string(&(format_datum(d, ScalarType::TimestampTz).unwrap_or_default().replacen(' ', "T", 1) + ":00"), out),
        Datum::Interval(_) => string(&format_datum(d, ScalarType::Interval).unwrap_or_default(), out),
        // An array is a JSON array of its elements (to_jsonb(ARRAY[1,2]) is [1, 2]).
        Datum::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_json(item, out);
            }
            out.push(']');
        }
    }
}

/// JSON text built by the functions below, in jsonb's canonical form
/// (keys ordered, a repeated key's last value kept).
pub(super) fn jsonb_of(text: &str) -> Result<Datum, EvalError> {
    crate::repr::normalize_jsonb(text).map(|s| Datum::Jsonb(s.into())).map_err(|e| EvalError::new("22P02", e.to_string()))
}

/// An object key: text as it is, anything else as its JSON text (a
/// string's contents); NULL is an error (`message`).
fn write_key(k: &Datum, message: &str, out: &mut String) -> Result<(), EvalError> {
    let key = match k {
        Datum::Null => return Err(EvalError::new(if message.starts_with("argument") { "22004" } else { "22023" }, message)),
        Datum::Jsonb(_) => return Err(EvalError::new("22023", "key value must be scalar, not array, composite, or json")),
        Datum::Text(s) => s.to_string(),
        other => {
            let mut t = String::new();
            write_json(other, &mut t);
            serde_json::from_str::<String>(&t).unwrap_or(t)
        }
    };
    out.push_str(&serde_json::to_string(&key).unwrap_or_default());
    Ok(())
}

/// Builds `{k: v, ...}` from pairs.
fn object<'a>(pairs: impl Iterator<Item = (&'a Datum, &'a Datum)>, null_key: &str) -> Result<Datum, EvalError> {
    let mut out = String::from("{");
    for (i, (k, v)) in pairs.enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_key(k, null_key, &mut out)?;
        out.push(':');
        write_json(v, &mut out);
    }
    out.push('}');
    jsonb_of(&out)
}

/// Builds `[v, ...]`.
fn array<'a>(values: impl Iterator<Item = &'a Datum>) -> Result<Datum, EvalError> {
    let mut out = String::from("[");
    for (i, v) in values.enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_json(v, &mut out);
    }
    out.push(']');
    jsonb_of(&out)
}

/// `jsonb_build_object(k1, v1, k2, v2, ...)`: keys are text (a NULL key
/// is an error), a later value of a key replaces an earlier one.
pub fn build_object(args: &[Datum]) -> Result<Datum, EvalError> {
    if args.len() % 2 != 0 {
        return Err(EvalError::new("22023", "argument list must have even number of elements"));
    }
    object(args.chunks(2).map(|p| (&p[0], &p[1])), "argument 1: key must not be null")
}

/// `to_jsonb(value)` (and `to_json`): the value as JSON.
pub fn to_jsonb(d: &Datum) -> Result<Datum, EvalError> {
    let mut out = String::new();
    write_json(d, &mut out);
    jsonb_of(&out)
}

/// `jsonb_build_array(v, ...)`: an array of the values, NULL as null.
pub fn build_array(args: &[Datum]) -> Result<Datum, EvalError> {
    array(args.iter())
}

/// `jsonb_agg(x)`: the values as a JSON array, in the aggregate's order
/// (NULLs as null).
pub fn agg_array<'a>(values: impl Iterator<Item = &'a Datum>) -> Result<Datum, EvalError> {
    array(values)
}

/// `jsonb_object_agg(k, v)`: an object of the pairs; a later value of a
/// key replaces an earlier one, and a NULL key is an error.
pub fn agg_object<'a>(pairs: impl Iterator<Item = (&'a Datum, &'a Datum)>) -> Result<Datum, EvalError> {
    object(pairs, "field name must not be null")
}
