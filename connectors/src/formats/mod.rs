//! Record formats: bytes from Kafka into rows of a relation, and rows back
//! into bytes. A record that does not fit is an error (a message), never a
//! panic and never silently dropped: the caller routes it to the source's
//! error relation and dead-letter topic.

mod avro;
mod json;
mod registry;

pub use avro::{AvroDecoder, AvroRows, Schema as AvroSchema};
pub use json::{datum_to_json, decode_json, encode_json_change, encode_json_row};
pub use registry::{Registry, RegistryError};

use eddy_engine::repr::{parse_datum, RelationDesc};
use eddy_engine::{Datum, Row};
use eddy_sql::connector::{AvroSchema as AvroSchemaSource, Envelope, Format, KafkaSource};
use eddy_sql::{codes, SqlError};

/// A change record's rows (ENVELOPE DEBEZIUM): before and after.
pub type Change = (Option<Row>, Option<Row>);

/// The fields of one CSV line (RFC 4180): fields are separated by commas;
/// a field in double quotes may hold commas and newlines, and `""` inside
/// it is one quote. An empty unquoted field is NULL (`None`); a quoted one
/// (`""`) is the empty string, as PostgreSQL's COPY ... CSV reads them.
fn csv_fields(line: &str) -> Result<Vec<Option<String>>, String> {
    let mut fields = Vec::new();
    let (mut field, mut quoted, mut in_quotes) = (String::new(), false, false);
    let mut finish = |field: &mut String, quoted: &mut bool| {
        let (f, q) = (std::mem::take(field), std::mem::take(quoted));
        fields.push(if f.is_empty() && !q { None } else { Some(f) });
    };
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                c => field.push(c),
            }
            continue;
        }
        match c {
            ',' => finish(&mut field, &mut quoted),
            '"' if field.is_empty() && !quoted => (quoted, in_quotes) = (true, true),
            c if quoted => return Err(format!("unexpected {:?} after the closing quote of a CSV field", c)),
            c => field.push(c),
        }
    }
    if in_quotes {
        return Err("unterminated quoted CSV field".into());
    }
    finish(&mut field, &mut quoted);
    Ok(fields)
}

/// Decodes the record values of one source into rows of its declared
/// columns, keeping what a format needs from record to record (Avro's
/// parsed writer schemas).
pub struct RecordDecoder {
    format: Format,
    desc: RelationDesc,
    avro: Option<AvroDecoder>,
    /// JSON records go whole into the one jsonb column.
    whole: bool,
}

impl RecordDecoder {
    /// A decoder of the records of `spec` into its declared columns.
    pub fn new(spec: &KafkaSource) -> Result<RecordDecoder, String> {
        let (format, desc) = (&spec.format, &spec.columns);
        let avro = match format {
            Format::Avro(source) => Some(AvroDecoder::new(source, desc, spec.envelope == Envelope::Debezium)?),
            _ => None,
        };
        Ok(RecordDecoder { format: format.clone(), desc: desc.clone(), avro, whole: spec.whole_records })
    }

    /// One record value as a row.
    pub fn decode(&mut self, bytes: &[u8]) -> Result<Row, String> {
        let desc = &self.desc;
        match &self.format {
            Format::Json => json::decode_json_record(bytes, desc, self.whole),
            Format::Text => std::str::from_utf8(bytes).map(|s| vec![Datum::Text(s.to_string().into())]).map_err(|e| format!("invalid UTF-8: {}", e)),
            Format::Bytes => Ok(vec![Datum::Text(bytes.iter().map(|b| format!("{:02x}", b)).collect::<String>().into())]),
            Format::Csv => {
                let text = std::str::from_utf8(bytes).map_err(|e| format!("invalid UTF-8: {}", e))?;
                let fields = csv_fields(text.trim_end_matches(['\r', '\n']))?;
                if fields.len() != desc.arity() {
                    return Err(format!("expected {} CSV fields, found {}", desc.arity(), fields.len()));
                }
                fields
                    .into_iter()
                    .zip(desc.iter())
                    .map(|(f, (name, t))| match f {
                        None => Ok(Datum::Null),
                        Some(f) => parse_datum(&f, t.scalar).map_err(|e| format!("column \"{}\": {}", name, e.message)),
                    })
                    .collect()
            }
            Format::Avro(_) => self.avro.as_mut().ok_or("no Avro decoder")?.decode(bytes, desc),
        }
    }

    /// One Debezium change record's rows. FORMAT AVRO reads the change
    /// record's `before` and `after` fields; every other format reads it as
    /// JSON.
    pub fn decode_change(&mut self, bytes: &[u8]) -> Result<Change, String> {
        match &mut self.avro {
            Some(avro) => avro.decode_change(bytes, &self.desc),
            None => json::decode_json_change(bytes, &self.desc, self.whole),
        }
    }

    /// A record value as the error relation's `raw_value` text: binary
    /// formats in bytea's hex form (`\x...`), text formats as text.
    pub fn raw_text(&self, bytes: &[u8]) -> String {
        match self.format {
            Format::Avro(_) => avro::hex(bytes),
            _ => String::from_utf8_lossy(bytes).into_owned(),
        }
    }
}

/// What CREATE SOURCE looks up before the source starts. For FORMAT AVRO:
/// the writer schema (inline, or the registry's latest for subject
/// `<topic>-value`), checked against the columns, or giving them when none
/// were declared. Returns notices for the client.
pub fn prepare_source(spec: &mut KafkaSource) -> Result<Vec<SqlError>, SqlError> {
    let Format::Avro(source) = &spec.format else { return Ok(vec![]) };
    let debezium = spec.envelope == Envelope::Debezium;
    let invalid = |m: String| SqlError::new(codes::INVALID_PARAMETER_VALUE, m);
    let mut notices = Vec::new();
    let schema = match source {
        AvroSchemaSource::Inline(text) => Some(AvroSchema::parse(text).map_err(|e| invalid(format!("invalid Avro schema: {}", e)).with_hint(r#"USING SCHEMA takes the writer schema as JSON, e.g. '{"type": "record", "name": "r", "fields": [{"name": "id", "type": "long"}]}'"#))?),
        AvroSchemaSource::ConfluentRegistry(url) => {
            let registry = Registry::new(url).map_err(invalid)?;
            let subject = format!("{}-value", spec.topic);
            match registry.latest(&subject) {
                Ok((id, text)) => Some(AvroSchema::parse(&text).map_err(|e| invalid(format!("the schema registry's schema {} for subject \"{}\" is not valid Avro: {}", id, subject, e)))?),
                Err(RegistryError::Unreachable(m)) => {
                    return Err(SqlError::new(codes::CONNECTION_FAILURE, m).with_hint(format!("is a Confluent schema registry running at {}? eddy fetches the schema of subject \"{}\" when the source is created", url, subject)))
                }
                Err(RegistryError::NotFound(m)) if spec.columns.arity() == 0 => {
                    return Err(SqlError::new(codes::UNDEFINED_OBJECT, m).with_hint(format!("register the topic's value schema under subject \"{}\" first, or declare the columns: CREATE SOURCE {} (col type, ...) FROM KAFKA ...", subject, spec.name)))
                }
                Err(RegistryError::NotFound(m)) => {
                    notices.push(SqlError::notice(format!("{}: records will be decoded with the schema whose id each names", m)));
                    None
                }
                Err(RegistryError::Invalid(m)) => return Err(invalid(m)),
            }
        }
    };
    let Some(schema) = schema else { return Ok(notices) };
    if spec.columns.arity() == 0 {
        spec.columns = RelationDesc::new(schema.columns(debezium).map_err(invalid)?);
    } else {
        let fields = schema.field_names(debezium).unwrap_or_else(|| spec.columns.names.clone());
        for name in &spec.columns.names {
            if !fields.iter().any(|f| f.eq_ignore_ascii_case(name)) {
                notices.push(SqlError::notice(format!("column \"{}\" matches no field of the Avro schema: it will be NULL", name)));
            }
        }
    }
    AvroRows::new(schema, &spec.columns, debezium).map_err(invalid)?;
    Ok(notices)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_follow_rfc_4180() {
        let f = |l: &str| csv_fields(l).unwrap();
        let s = |v: &str| Some(v.to_string());
        assert_eq!(f("1,hello,2.5"), vec![s("1"), s("hello"), s("2.5")]);
        assert_eq!(f(r#"2,"quoted, with comma",3"#), vec![s("2"), s("quoted, with comma"), s("3")]);
        assert_eq!(f(r#"3,"say ""hi""",4"#), vec![s("3"), s(r#"say "hi""#), s("4")]);
        assert_eq!(f(r#"8,"",1"#), vec![s("8"), s(""), s("1")]);
        assert_eq!(f("a,,"), vec![s("a"), None, None]);
        assert_eq!(f(""), vec![None]);
        assert_eq!(f("\"multi\nline\",x"), vec![s("multi\nline"), s("x")]);
        assert!(csv_fields(r#""open,1"#).is_err());
        assert!(csv_fields(r#""a"b,1"#).is_err());
    }
    use eddy_sql::connector::{parse_connector, ConnectorStatement};
    use std::io::{BufRead, BufReader, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    const ORDER: &str = r#"{"type": "record", "name": "Order", "fields": [{"name": "id", "type": "long"}, {"name": "Customer", "type": ["null", "string"]}]}"#;

    fn source(sql: &str) -> KafkaSource {
        match parse_connector(sql).unwrap() {
            ConnectorStatement::Source(s) => s,
            _ => panic!("not a source"),
        }
    }

    /// A registry on a free port serving `ORDER` as id 7 and as the latest
    /// version of subject `orders-value`; counts the requests it answers.
    fn fake_registry() -> (String, Arc<AtomicUsize>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = hits.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let mut reader = BufReader::new(&conn);
                let mut request = String::new();
                let _ = reader.read_line(&mut request);
                let mut header = String::new();
                while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                    header.clear();
                }
                counted.fetch_add(1, Ordering::SeqCst);
                let schema = serde_json::Value::String(ORDER.into());
                let (status, body) = match request.split_whitespace().nth(1).unwrap_or("") {
                    "/schemas/ids/7" => ("200 OK", format!(r#"{{"schema": {}}}"#, schema)),
                    "/subjects/orders-value/versions/latest" => ("200 OK", format!(r#"{{"subject": "orders-value", "version": 1, "id": 7, "schema": {}}}"#, schema)),
                    _ => ("404 Not Found", r#"{"error_code": 40403, "message": "Schema not found"}"#.to_string()),
                };
                let _ = write!(conn, "HTTP/1.1 {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{}", status, body.len(), body);
            }
        });
        (url, hits)
    }

    #[test]
    fn inline_schemas_give_columns_and_notices() {
        let mut s = source(&format!("CREATE SOURCE o FROM KAFKA (TOPIC 'orders') FORMAT AVRO USING SCHEMA '{}'", ORDER));
        assert!(prepare_source(&mut s).unwrap().is_empty());
        assert_eq!(s.columns.names, vec!["id", "customer"]);
        let mut d = RecordDecoder::new(&s).unwrap();
        assert_eq!(d.decode(&[4, 2, 2, b'c']), Ok(vec![Datum::Int(2), Datum::text("c")]));
        assert_eq!(d.raw_text(&[4, 0xff]), "\\x04ff");

        let mut s = source(&format!("CREATE SOURCE o (ID int, extra text) FROM KAFKA (TOPIC 'orders') FORMAT AVRO USING SCHEMA '{}'", ORDER));
        let notices = prepare_source(&mut s).unwrap();
        assert_eq!(notices.len(), 1);
        assert!(notices[0].message.contains("column \"extra\" matches no field"), "{:?}", notices);

        let mut s = source("CREATE SOURCE o FROM KAFKA (TOPIC 'orders') FORMAT AVRO USING SCHEMA '{\"type\": \"record\"}'");
        let e = prepare_source(&mut s).unwrap_err();
        assert_eq!(e.code, codes::INVALID_PARAMETER_VALUE);
        assert!(e.message.contains("invalid Avro schema") && e.hint.is_some(), "{:?}", e);
    }

    #[test]
    fn registry_schemas_are_fetched_once_per_id() {
        let (url, hits) = fake_registry();
        let mut s = source(&format!("CREATE SOURCE o FROM KAFKA (TOPIC 'orders') FORMAT AVRO USING CONFLUENT SCHEMA REGISTRY '{}'", url));
        prepare_source(&mut s).unwrap();
        assert_eq!(s.columns.names, vec!["id", "customer"], "columns of the latest schema of orders-value");
        let mut d = RecordDecoder::new(&s).unwrap();
        let before = hits.load(Ordering::SeqCst);
        for _ in 0..3 {
            assert_eq!(d.decode(&[0, 0, 0, 0, 7, 4, 0]), Ok(vec![Datum::Int(2), Datum::Null]));
        }
        assert!(d.decode(&[0, 0, 0, 0, 7, 4]).unwrap_err().contains("truncated"));
        for _ in 0..2 {
            let e = d.decode(&[0, 0, 0, 0, 9, 4, 0]).unwrap_err();
            assert!(e.contains("schema id 9") && e.contains("no schema id 9"), "{}", e);
        }
        assert!(d.decode(&[4, 0]).unwrap_err().contains("first byte is 0x04"));
        assert_eq!(hits.load(Ordering::SeqCst) - before, 2, "one lookup per schema id, found or not");

        // A topic without a registered schema needs declared columns.
        let mut s = source(&format!("CREATE SOURCE o FROM KAFKA (TOPIC 'other') FORMAT AVRO USING CONFLUENT SCHEMA REGISTRY '{}'", url));
        let e = prepare_source(&mut s).unwrap_err();
        assert_eq!(e.code, codes::UNDEFINED_OBJECT);
        assert!(e.hint.unwrap().contains("\"other-value\""));
        let mut s = source(&format!("CREATE SOURCE o (id int) FROM KAFKA (TOPIC 'other') FORMAT AVRO USING CONFLUENT SCHEMA REGISTRY '{}'", url));
        assert_eq!(prepare_source(&mut s).unwrap().len(), 1, "a notice says the subject has no schema yet");
    }

    #[test]
    fn an_unreachable_registry_fails_create_source() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut s = source(&format!("CREATE SOURCE o (id int) FROM KAFKA (TOPIC 'orders') FORMAT AVRO USING CONFLUENT SCHEMA REGISTRY 'http://127.0.0.1:{}'", port));
        let e = prepare_source(&mut s).unwrap_err();
        assert_eq!(e.code, codes::CONNECTION_FAILURE);
        assert!(e.hint.unwrap().contains(&format!("http://127.0.0.1:{}", port)));
    }
}
