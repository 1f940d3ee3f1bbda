//! CREATE SOURCE and CREATE SINK: eddy's own statements (in Materialize's
//! form), parsed here with sqlparser's token-level API since sqlparser has
//! no grammar for them.
//!
//! ```sql
//! CREATE SOURCE [IF NOT EXISTS] name [(col type, ...)]
//!   FROM KAFKA (TOPIC 't' [, BROKER 'host:port'] [, START OFFSET 'earliest'|'latest']
//!               [, GROUP ID PREFIX 'p'])
//!   FORMAT JSON | TEXT | BYTES | CSV
//!        | AVRO USING SCHEMA '<avro schema json>'
//!        | AVRO USING CONFLUENT SCHEMA REGISTRY 'http://host:port'
//!   [ENVELOPE NONE | UPSERT | DEBEZIUM]
//!   [INCLUDE PARTITION, OFFSET, TIMESTAMP, KEY, HEADERS, SEQUENCE]
//!   [DEAD LETTER TOPIC 'dlq'];
//! CREATE SINK [IF NOT EXISTS] name FROM view INTO KAFKA (TOPIC 't' [, BROKER 'host:port'])
//!   [KEY (col, ...)] FORMAT JSON [ENVELOPE UPSERT | DEBEZIUM | APPEND]
//!   [WITH (DELIVERY = 'exactly_once' | 'at_least_once')];
//! ```

use crate::types::scalar_type_of_sql;
use crate::{codes, SqlError};
use eddy_engine::repr::{ColumnType, RelationDesc};
use eddy_engine::ScalarType;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Text,
    Bytes,
    Csv,
    /// Avro binary records of a writer schema given inline or held by a
    /// schema registry.
    Avro(AvroSchema),
}

/// Where a FORMAT AVRO source finds the schema its records were written with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AvroSchema {
    /// `USING SCHEMA '<json>'`: every record is plain Avro binary of this schema.
    Inline(String),
    /// `USING CONFLUENT SCHEMA REGISTRY 'url'`: every record is in Confluent's
    /// wire format (magic byte 0, a 4-byte big-endian schema id, Avro
    /// binary); the schema is the registry's for that id.
    ConfluentRegistry(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Envelope {
    None,
    Upsert,
    Debezium,
    Append,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Include {
    Partition,
    Offset,
    Timestamp,
    Key,
    Headers,
    /// The position of the record in the order eddy read the source (all
    /// partitions together): arrival order.
    Sequence,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartOffset {
    Earliest,
    Latest,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    ExactlyOnce,
    AtLeastOnce,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaSource {
    pub name: String,
    pub topic: String,
    /// None: the server's `--kafka` broker.
    pub broker: Option<String>,
    pub start: StartOffset,
    pub group_id_prefix: Option<String>,
    pub format: Format,
    pub envelope: Envelope,
    pub include: Vec<Include>,
    pub dead_letter_topic: Option<String>,
    /// The declared columns (before INCLUDE columns). Empty for FORMAT AVRO
    /// without a column list until the schema's fields fill it in.
    pub columns: RelationDesc,
    /// No column list with FORMAT JSON: each record whole is the one jsonb
    /// column `data` (even a record with a field named `data`).
    pub whole_records: bool,
    /// `CREATE SOURCE IF NOT EXISTS`: an existing name is a notice.
    pub if_not_exists: bool,
}

impl KafkaSource {
    /// The source relation: declared columns, then the INCLUDE columns.
    pub fn desc(&self) -> RelationDesc {
        let mut d = self.columns.clone();
        for inc in &self.include {
            let (name, ty) = match inc {
                Include::Partition => ("partition", ScalarType::Int32),
                Include::Offset => ("offset", ScalarType::Int64),
                Include::Timestamp => ("timestamp", ScalarType::TimestampTz),
                Include::Key => ("key", ScalarType::Text),
                Include::Headers => ("headers", ScalarType::Jsonb),
                Include::Sequence => ("sequence", ScalarType::Int64),
            };
            d.names.push(name.into());
            d.types.push(ColumnType { scalar: ty, nullable: true });
        }
        d
    }

    /// The source's error relation: one row per record that could not be decoded.
    pub fn error_desc() -> RelationDesc {
        let col = |n: &str, t| (n.to_string(), ColumnType { scalar: t, nullable: true });
        RelationDesc::new(vec![
            col("topic", ScalarType::Text),
            col("partition", ScalarType::Int32),
            col("offset", ScalarType::Int64),
            col("key", ScalarType::Text),
            col("raw_value", ScalarType::Text),
            col("error", ScalarType::Text),
        ])
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaSink {
    pub name: String,
    pub from: String,
    pub topic: String,
    pub broker: Option<String>,
    pub key: Vec<String>,
    pub format: Format,
    pub envelope: Envelope,
    /// None: exactly once where the broker has transactions, else at least once.
    pub delivery: Option<Delivery>,
    /// `CREATE SINK IF NOT EXISTS`: an existing name is a notice.
    pub if_not_exists: bool,
}

#[derive(Debug)]
pub enum ConnectorStatement {
    Source(KafkaSource),
    Sink(KafkaSink),
}

/// `DROP SOURCE|SINK [IF EXISTS] name [, ...] [CASCADE|RESTRICT]`:
/// (is a source, names, if exists, cascade), or None for other text.
pub fn parse_drop(sql: &str) -> Option<(bool, Vec<String>, bool, bool)> {
    let text = skip_comments(sql).trim().trim_end_matches(';');
    let mut words = text.split_whitespace();
    if !words.next()?.eq_ignore_ascii_case("DROP") {
        return None;
    }
    let source = match words.next()?.to_ascii_uppercase().as_str() {
        "SOURCE" => true,
        "SINK" => false,
        _ => return None,
    };
    let rest: Vec<String> = words.map(|w| w.to_string()).collect();
    let mut rest = rest.join(" ");
    let if_exists = rest.to_ascii_uppercase().starts_with("IF EXISTS ") || rest.eq_ignore_ascii_case("IF EXISTS");
    if if_exists {
        rest = rest[9..].trim_start().to_string();
    }
    let upper = rest.to_ascii_uppercase();
    let cascade = upper.ends_with(" CASCADE");
    let rest = rest.trim_end_matches(|_| false);
    let body = if cascade { &rest[..rest.len() - 8] } else if upper.ends_with(" RESTRICT") { &rest[..rest.len() - 9] } else { rest };
    let names = body.split(',').map(|n| crate::names::text_name(n.trim())).filter(|n| !n.is_empty()).collect();
    Some((source, names, if_exists, cascade))
}

/// The text after leading whitespace and `--` / `/* */` comments.
pub fn skip_comments(mut sql: &str) -> &str {
    loop {
        sql = sql.trim_start();
        if let Some(rest) = sql.strip_prefix("--") {
            sql = rest.split_once('\n').map(|(_, r)| r).unwrap_or("");
        } else if let Some(rest) = sql.strip_prefix("/*") {
            sql = rest.split_once("*/").map(|(_, r)| r).unwrap_or("");
        } else {
            return sql;
        }
    }
}

/// Whether the text starts with CREATE SOURCE or CREATE SINK.
pub fn is_connector_statement(sql: &str) -> bool {
    let w: Vec<String> = skip_comments(sql).split_whitespace().take(2).map(|w| w.to_ascii_uppercase()).collect();
    w.len() == 2 && w[0] == "CREATE" && (w[1] == "SOURCE" || w[1] == "SINK")
}

struct P<'a> {
    p: Parser<'a>,
}

fn err(e: sqlparser::parser::ParserError) -> SqlError {
    SqlError::syntax(e.to_string().trim_start_matches("sql parser error: ").to_string())
}

impl P<'_> {
    fn word(&mut self, w: &str) -> bool {
        match self.p.peek_token().token {
            Token::Word(ref x) if x.value.eq_ignore_ascii_case(w) => {
                self.p.next_token();
                true
            }
            _ => false,
        }
    }
    fn expect_word(&mut self, w: &str) -> Result<(), SqlError> {
        if self.word(w) {
            Ok(())
        } else {
            Err(SqlError::syntax(format!("expected {}, found {}", w, self.p.peek_token())).with_hint(HINT))
        }
    }
    fn string(&mut self) -> Result<String, SqlError> {
        self.p.parse_literal_string().map_err(err)
    }
    fn ident(&mut self) -> Result<String, SqlError> {
        Ok(crate::names::ident_name(&self.p.parse_identifier().map_err(err)?))
    }
    fn words_until(&mut self, stops: &[&str]) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            match self.p.peek_token().token {
                Token::Word(ref w) if !stops.iter().any(|s| w.value.eq_ignore_ascii_case(s)) => {
                    out.push(w.value.to_ascii_uppercase());
                    self.p.next_token();
                }
                _ => return out,
            }
        }
    }
}

const HINT: &str = "CREATE SOURCE name (col type, ...) FROM KAFKA (TOPIC 't') FORMAT JSON; CREATE SINK name FROM view INTO KAFKA (TOPIC 't') KEY (col) FORMAT JSON ENVELOPE UPSERT";

fn format(p: &mut P) -> Result<Format, SqlError> {
    p.expect_word("FORMAT")?;
    let f = p.ident()?;
    Ok(match f.as_str() {
        "json" => Format::Json,
        "text" => Format::Text,
        "bytes" => Format::Bytes,
        "csv" => Format::Csv,
        "avro" => Format::Avro(avro_schema(p)?),
        other => return Err(SqlError::syntax(format!("unknown format {}", other)).with_hint("FORMAT JSON | TEXT | BYTES | CSV | AVRO USING ...")),
    })
}

const AVRO_HINT: &str = "FORMAT AVRO USING SCHEMA '{\"type\": \"record\", ...}' or FORMAT AVRO USING CONFLUENT SCHEMA REGISTRY 'http://host:8081'";

/// `USING SCHEMA '<json>'` or `USING CONFLUENT SCHEMA REGISTRY 'url'`.
fn avro_schema(p: &mut P) -> Result<AvroSchema, SqlError> {
    fn expect(p: &mut P, w: &str) -> Result<(), SqlError> {
        if p.word(w) {
            Ok(())
        } else {
            Err(SqlError::syntax(format!("expected {} after FORMAT AVRO, found {}", w, p.p.peek_token())).with_hint(AVRO_HINT))
        }
    }
    expect(p, "USING")?;
    if p.word("SCHEMA") {
        return Ok(AvroSchema::Inline(p.string()?));
    }
    expect(p, "CONFLUENT")?;
    expect(p, "SCHEMA")?;
    expect(p, "REGISTRY")?;
    let url = p.string()?;
    if !url.starts_with("http://") {
        let e = if url.starts_with("https://") { SqlError::unsupported("a schema registry over https") } else { SqlError::new(codes::INVALID_PARAMETER_VALUE, format!("invalid schema registry URL '{}'", url)) };
        return Err(e.with_hint("give the registry as 'http://host:port'"));
    }
    Ok(AvroSchema::ConfluentRegistry(url.trim_end_matches('/').to_string()))
}

/// `ENVELOPE x`, or None when the clause is absent.
fn envelope(p: &mut P) -> Result<Option<Envelope>, SqlError> {
    if !p.word("ENVELOPE") {
        return Ok(None);
    }
    let e = p.ident()?;
    Ok(Some(match e.as_str() {
        "none" => Envelope::None,
        "upsert" => Envelope::Upsert,
        "debezium" => Envelope::Debezium,
        "append" => Envelope::Append,
        other => return Err(SqlError::syntax(format!("unknown envelope {}", other)).with_hint("ENVELOPE NONE | UPSERT | DEBEZIUM (sources), UPSERT | DEBEZIUM | APPEND (sinks)")),
    }))
}

/// Parses `(TOPIC 't', BROKER 'b', ...)` options into (name, value) pairs.
fn kafka_options(p: &mut P) -> Result<Vec<(String, String)>, SqlError> {
    p.expect_word("KAFKA")?;
    p.p.expect_token(&Token::LParen).map_err(err)?;
    let mut opts = Vec::new();
    loop {
        let name = p.words_until(&[]).join(" ");
        let value = p.string().map_err(|e| e.with_hint("option values are strings in single quotes, e.g. TOPIC 'orders'"))?;
        if opts.iter().any(|(n, _)| *n == name) {
            return Err(SqlError::new(codes::SYNTAX_ERROR, format!("option {} given more than once", name)));
        }
        opts.push((name, value));
        if !p.p.consume_token(&Token::Comma) {
            break;
        }
    }
    p.p.expect_token(&Token::RParen).map_err(err)?;
    Ok(opts)
}

pub fn parse_connector(sql: &str) -> Result<ConnectorStatement, SqlError> {
    let dialect = PostgreSqlDialect {};
    let parser = Parser::new(&dialect).try_with_sql(sql).map_err(err)?;
    let mut p = P { p: parser };
    p.expect_word("CREATE")?;
    if p.word("SOURCE") {
        parse_source(&mut p).map(ConnectorStatement::Source)
    } else {
        p.expect_word("SINK")?;
        parse_sink(&mut p).map(ConnectorStatement::Sink)
    }
}

fn parse_source(p: &mut P) -> Result<KafkaSource, SqlError> {
    let if_not_exists = p.p.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
    let name = p.ident()?;
    let mut cols = Vec::new();
    if p.p.peek_token().token == Token::LParen {
        let (defs, _) = p.p.parse_columns().map_err(err)?;
        for c in defs {
            cols.push((crate::names::ident_name(&c.name), ColumnType { scalar: scalar_type_of_sql(&c.data_type)?, nullable: true }));
        }
    }
    p.expect_word("FROM")?;
    let opts = kafka_options(p)?;
    let mut topic = None;
    let mut broker = None;
    let mut start = StartOffset::Earliest;
    let mut group_id_prefix = None;
    for (k, v) in opts {
        match k.as_str() {
            "TOPIC" => topic = Some(v),
            "BROKER" => broker = Some(v),
            "START OFFSET" => {
                start = match v.to_lowercase().as_str() {
                    "earliest" => StartOffset::Earliest,
                    "latest" => StartOffset::Latest,
                    _ => return Err(SqlError::new(codes::INVALID_PARAMETER_VALUE, format!("invalid START OFFSET '{}'", v)).with_hint("use 'earliest' or 'latest'")),
                }
            }
            "GROUP ID PREFIX" => group_id_prefix = Some(v),
            other => return Err(SqlError::new(codes::INVALID_PARAMETER_VALUE, format!("unknown Kafka source option {}", other)).with_hint("options: TOPIC, BROKER, START OFFSET, GROUP ID PREFIX")),
        }
    }
    let topic = check_topic(topic.ok_or_else(|| SqlError::syntax("a Kafka source needs a TOPIC").with_hint(HINT))?)?;
    let format = format(p)?;
    let envelope = envelope(p)?.unwrap_or(Envelope::None);
    if envelope == Envelope::Append {
        return Err(SqlError::syntax("ENVELOPE APPEND is for sinks").with_hint("sources take ENVELOPE NONE, UPSERT or DEBEZIUM"));
    }
    if envelope == Envelope::Debezium && matches!(format, Format::Text | Format::Bytes | Format::Csv) {
        return Err(SqlError::new(codes::FEATURE_NOT_SUPPORTED, "ENVELOPE DEBEZIUM reads JSON or Avro change records").with_hint("FORMAT JSON ENVELOPE DEBEZIUM, or FORMAT AVRO ... ENVELOPE DEBEZIUM"));
    }
    let mut include = Vec::new();
    if p.word("INCLUDE") {
        loop {
            let w = p.ident()?;
            include.push(match w.as_str() {
                "partition" => Include::Partition,
                "offset" => Include::Offset,
                "timestamp" => Include::Timestamp,
                "key" => Include::Key,
                "headers" => Include::Headers,
                "sequence" => Include::Sequence,
                other => return Err(SqlError::syntax(format!("cannot INCLUDE {}", other)).with_hint("INCLUDE PARTITION, OFFSET, TIMESTAMP, KEY, HEADERS, SEQUENCE")),
            });
            if !p.p.consume_token(&Token::Comma) {
                break;
            }
        }
    }
    let mut dead_letter_topic = None;
    if p.word("DEAD") {
        p.expect_word("LETTER")?;
        p.expect_word("TOPIC")?;
        dead_letter_topic = Some(p.string()?);
    }
    let _ = p.p.consume_token(&Token::SemiColon);
    if p.p.peek_token().token != Token::EOF {
        return Err(SqlError::syntax(format!("unexpected {} at the end of CREATE SOURCE", p.p.peek_token())).with_hint(HINT));
    }
    let whole_records = cols.is_empty() && format == Format::Json;
    if cols.is_empty() {
        cols = match format {
            Format::Text | Format::Bytes => vec![("text".into(), ColumnType { scalar: ScalarType::Text, nullable: true })],
            Format::Json => vec![("data".into(), ColumnType { scalar: ScalarType::Jsonb, nullable: true })],
            Format::Csv => return Err(SqlError::syntax("FORMAT CSV needs the column list").with_hint("CREATE SOURCE name (a int, b text) FROM KAFKA (...) FORMAT CSV")),
            // Derived from the writer schema's record fields before the
            // source starts (the schema may be the registry's).
            Format::Avro(_) => vec![],
        };
    }
    Ok(KafkaSource { name, topic, broker, start, group_id_prefix, format, envelope, include, dead_letter_topic, columns: RelationDesc::new(cols), whole_records, if_not_exists })
}

/// A Kafka topic name is 1 to 249 ASCII letters, digits, '.', '_' and '-'.
fn check_topic(topic: String) -> Result<String, SqlError> {
    if topic.is_empty() || topic.len() > 249 || !topic.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')) {
        return Err(SqlError::new(codes::INVALID_PARAMETER_VALUE, format!("invalid Kafka topic name '{}'", topic)).with_hint("a topic name is 1 to 249 letters, digits, '.', '_' and '-'"));
    }
    Ok(topic)
}

fn parse_sink(p: &mut P) -> Result<KafkaSink, SqlError> {
    let if_not_exists = p.p.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
    let name = p.ident()?;
    p.expect_word("FROM")?;
    let from = p.ident()?;
    p.expect_word("INTO")?;
    let opts = kafka_options(p)?;
    let mut topic = None;
    let mut broker = None;
    for (k, v) in opts {
        match k.as_str() {
            "TOPIC" => topic = Some(v),
            "BROKER" => broker = Some(v),
            other => return Err(SqlError::new(codes::INVALID_PARAMETER_VALUE, format!("unknown Kafka sink option {}", other)).with_hint("options: TOPIC, BROKER")),
        }
    }
    let topic = check_topic(topic.ok_or_else(|| SqlError::syntax("a Kafka sink needs a TOPIC").with_hint(HINT))?)?;
    let mut key = Vec::new();
    if p.word("KEY") {
        p.p.expect_token(&Token::LParen).map_err(err)?;
        loop {
            key.push(p.ident()?);
            if !p.p.consume_token(&Token::Comma) {
                break;
            }
        }
        p.p.expect_token(&Token::RParen).map_err(err)?;
    }
    if !p.word("FORMAT") || !p.word("JSON") {
        return Err(SqlError::new(codes::FEATURE_NOT_SUPPORTED, "a sink writes FORMAT JSON only").with_hint("CREATE SINK s FROM v INTO KAFKA (TOPIC 't') KEY (id) FORMAT JSON"));
    }
    // Without an ENVELOPE clause a sink upserts by its key.
    let written = envelope(p)?;
    let envelope = match written {
        None => Envelope::Upsert,
        Some(Envelope::None) => return Err(SqlError::syntax("ENVELOPE NONE is for sources").with_hint("a sink's envelope is UPSERT (the default), DEBEZIUM or APPEND")),
        Some(e) => e,
    };
    let mut delivery = None;
    if p.p.parse_keyword(Keyword::WITH) {
        p.p.expect_token(&Token::LParen).map_err(err)?;
        p.expect_word("DELIVERY")?;
        p.p.expect_token(&Token::Eq).map_err(err)?;
        let v = p.string()?;
        delivery = Some(match v.to_lowercase().as_str() {
            "exactly_once" => Delivery::ExactlyOnce,
            "at_least_once" => Delivery::AtLeastOnce,
            _ => return Err(SqlError::new(codes::INVALID_PARAMETER_VALUE, format!("invalid DELIVERY '{}'", v)).with_hint("DELIVERY = 'exactly_once' or 'at_least_once'")),
        });
        p.p.expect_token(&Token::RParen).map_err(err)?;
    }
    let _ = p.p.consume_token(&Token::SemiColon);
    if p.p.peek_token().token != Token::EOF {
        return Err(SqlError::syntax(format!("unexpected {} at the end of CREATE SINK", p.p.peek_token())).with_hint(HINT));
    }
    if envelope == Envelope::Upsert && key.is_empty() {
        let message = if written.is_none() { "a sink without ENVELOPE upserts by its KEY (columns), and this one has none" } else { "ENVELOPE UPSERT needs KEY (columns)" };
        return Err(SqlError::syntax(message).with_hint("name the columns that identify a row of the view: ... INTO KAFKA (TOPIC 't') KEY (id) FORMAT JSON; or write every change without a key: ... FORMAT JSON ENVELOPE DEBEZIUM (APPEND for a view that only grows)"));
    }
    Ok(KafkaSink { name, from, topic, broker, key, format: Format::Json, envelope, delivery, if_not_exists })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn parses_sources_and_sinks() {
        let ConnectorStatement::Source(s) = parse_connector("CREATE SOURCE o (id text, amount numeric) FROM KAFKA (TOPIC 'orders', START OFFSET 'latest') FORMAT JSON ENVELOPE UPSERT INCLUDE PARTITION, OFFSET DEAD LETTER TOPIC 'dlq'").unwrap() else { panic!() };
        assert_eq!(s.topic, "orders");
        assert_eq!(s.start, StartOffset::Latest);
        assert_eq!(s.envelope, Envelope::Upsert);
        assert_eq!(s.include, vec![Include::Partition, Include::Offset]);
        assert_eq!(s.dead_letter_topic.as_deref(), Some("dlq"));
        assert_eq!(s.desc().names, vec!["id", "amount", "partition", "offset"]);
        let ConnectorStatement::Sink(k) = parse_connector("CREATE SINK s FROM v INTO KAFKA (TOPIC 'out') KEY (id) FORMAT JSON ENVELOPE DEBEZIUM WITH (DELIVERY = 'at_least_once')").unwrap() else { panic!() };
        assert_eq!((k.from.as_str(), k.envelope, k.delivery), ("v", Envelope::Debezium, Some(Delivery::AtLeastOnce)));
        assert!(parse_connector("CREATE SINK s FROM v INTO KAFKA (TOPIC 'out') FORMAT JSON").is_err());
        assert_eq!(parse_connector("CREATE SOURCE x FROM KAFKA (TOPIC 't', FOO 'x') FORMAT JSON").unwrap_err().code, codes::INVALID_PARAMETER_VALUE);
    }

    #[test]
    fn parses_avro_formats() {
        let source = |sql: &str| match parse_connector(sql) {
            Ok(ConnectorStatement::Source(s)) => Ok(s),
            Ok(_) => panic!("not a source"),
            Err(e) => Err(e),
        };
        let s = source(r#"CREATE SOURCE a FROM KAFKA (TOPIC 't') FORMAT AVRO USING SCHEMA '{"type": "record", "name": "r", "fields": []}' ENVELOPE UPSERT"#).unwrap();
        assert_eq!(s.format, Format::Avro(AvroSchema::Inline(r#"{"type": "record", "name": "r", "fields": []}"#.into())));
        assert_eq!((s.envelope, s.columns.arity()), (Envelope::Upsert, 0), "columns come from the schema later");
        let s = source("CREATE SOURCE a (id int) FROM KAFKA (TOPIC 't') FORMAT AVRO USING CONFLUENT SCHEMA REGISTRY 'http://localhost:8081/' DEAD LETTER TOPIC 'd'").unwrap();
        assert_eq!(s.format, Format::Avro(AvroSchema::ConfluentRegistry("http://localhost:8081".into())));
        assert_eq!(s.columns.names, vec!["id"]);
        let e = source("CREATE SOURCE a FROM KAFKA (TOPIC 't') FORMAT AVRO").unwrap_err();
        assert_eq!(e.code, codes::SYNTAX_ERROR);
        assert!(e.hint.unwrap().contains("USING CONFLUENT SCHEMA REGISTRY"));
        assert_eq!(source("CREATE SOURCE a FROM KAFKA (TOPIC 't') FORMAT AVRO USING CONFLUENT SCHEMA REGISTRY 'https://r:8081'").unwrap_err().code, codes::FEATURE_NOT_SUPPORTED);
        assert_eq!(source("CREATE SOURCE a FROM KAFKA (TOPIC 't') FORMAT AVRO USING CONFLUENT SCHEMA REGISTRY 'r:8081'").unwrap_err().code, codes::INVALID_PARAMETER_VALUE);
        assert_eq!(source("CREATE SOURCE a FROM KAFKA (TOPIC 't') FORMAT AVRO USING SCHEMA").unwrap_err().code, codes::SYNTAX_ERROR);
        let sink = parse_connector("CREATE SINK s FROM v INTO KAFKA (TOPIC 'o') KEY (id) FORMAT AVRO USING SCHEMA '{}'").unwrap_err();
        assert_eq!(sink.code, codes::FEATURE_NOT_SUPPORTED);
    }
}
