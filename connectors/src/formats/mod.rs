//! Record formats: bytes from Kafka into rows of a relation, and rows back
//! into bytes. A record that does not fit is an error (a message), never a
//! panic and never silently dropped: the caller routes it to the source's
//! error relation and dead-letter topic.

mod json;

pub use json::{datum_to_json, decode_json, encode_json_row};

use eddy_engine::repr::{parse_datum, RelationDesc};
use eddy_engine::{Datum, Row};
use eddy_sql::connector::Format;

/// Decodes one record value into a row of `desc`'s columns.
pub fn decode(format: &Format, bytes: &[u8], desc: &RelationDesc) -> Result<Row, String> {
    match format {
        Format::Json => decode_json(bytes, desc),
        Format::Text => std::str::from_utf8(bytes).map(|s| vec![Datum::Text(s.to_string())]).map_err(|e| format!("invalid UTF-8: {}", e)),
        Format::Bytes => Ok(vec![Datum::Text(bytes.iter().map(|b| format!("{:02x}", b)).collect::<String>())]),
        Format::Csv => {
            let text = std::str::from_utf8(bytes).map_err(|e| format!("invalid UTF-8: {}", e))?;
            let fields: Vec<&str> = text.trim_end_matches(['\r', '\n']).split(',').collect();
            if fields.len() != desc.arity() {
                return Err(format!("expected {} CSV fields, found {}", desc.arity(), fields.len()));
            }
            fields.iter().zip(&desc.types).map(|(f, t)| if f.is_empty() { Ok(Datum::Null) } else { parse_datum(f, t.scalar).map_err(|e| e.message) }).collect()
        }
    }
}
