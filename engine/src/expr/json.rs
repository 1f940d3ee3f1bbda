//! jsonb access: `->`, `->>` and `jsonb_array_length`, over values stored
//! as canonical JSON text.

use super::EvalError;
use crate::repr::{format_jsonb, Datum};
use serde_json::Value;

pub fn parse(text: &str) -> Result<Value, EvalError> {
    serde_json::from_str(text).map_err(|e| EvalError::new("22P02", format!("invalid input syntax for type json: {}", e)))
}

/// The field `key` (text) or element `key` (integer) of a JSON value;
/// NULL when absent. `as_text` gives `->>`: strings unquoted, others as
/// JSON text.
pub fn get(json: &str, key: &Datum, as_text: bool) -> Result<Datum, EvalError> {
    let v = parse(json)?;
    let found = match (&v, key) {
        (Value::Object(m), Datum::Text(k)) => m.get(k.as_str()),
        (Value::Array(items), Datum::Int(i)) => {
            let idx = if *i < 0 { items.len() as i64 + i } else { *i };
            usize::try_from(idx).ok().and_then(|i| items.get(i))
        }
        _ => None,
    };
    Ok(match found {
        None => Datum::Null,
        Some(Value::Null) if as_text => Datum::Null,
        Some(Value::String(s)) if as_text => Datum::Text(s.clone().into()),
        Some(other) if as_text => Datum::Text(format_jsonb(other).into()),
        Some(other) => Datum::Jsonb(format_jsonb(other).into()),
    })
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
