//! Tests of the Avro reader: hand-encoded values of every type, truncated
//! and corrupted input, schemas, and the registry path.

use super::*;
use eddy_engine::repr::format_datum;

/// Avro's zigzag varint of `v`.
fn z(v: i64) -> Vec<u8> {
    let mut u = ((v << 1) ^ (v >> 63)) as u64;
    let mut out = Vec::new();
    loop {
        if u < 0x80 {
            out.push(u as u8);
            return out;
        }
        out.push((u as u8 & 0x7f) | 0x80);
        u >>= 7;
    }
}

fn s(x: &str) -> Vec<u8> {
    [z(x.len() as i64), x.as_bytes().to_vec()].concat()
}

const ALL: &str = r#"{"type": "record", "name": "Order", "namespace": "shop", "fields": [
    {"name": "orderId", "type": "string"},
    {"name": "qty", "type": "int"},
    {"name": "big", "type": "long"},
    {"name": "ok", "type": "boolean"},
    {"name": "ratio", "type": "float"},
    {"name": "price", "type": "double"},
    {"name": "note", "type": ["null", "string"]},
    {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["NEW", "PAID"]}},
    {"name": "tags", "type": {"type": "array", "items": "string"}},
    {"name": "attrs", "type": {"type": "map", "values": "long"}},
    {"name": "customer", "type": {"type": "record", "name": "Customer", "fields": [{"name": "id", "type": "long"}, {"name": "name", "type": ["null", "string"]}]}},
    {"name": "raw", "type": "bytes"},
    {"name": "hash", "type": {"type": "fixed", "name": "Hash", "size": 2}},
    {"name": "day", "type": {"type": "int", "logicalType": "date"}},
    {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "ts_us", "type": {"type": "long", "logicalType": "timestamp-micros"}},
    {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}},
    {"name": "amount_f", "type": {"type": "fixed", "name": "Dec", "size": 4, "logicalType": "decimal", "precision": 8, "scale": 3}},
    {"name": "uid", "type": {"type": "string", "logicalType": "uuid"}},
    {"name": "previous", "type": ["null", "Customer"]},
    {"name": "either", "type": ["int", "string"]}
]}"#;

/// One record of ALL, hand-encoded.
fn all_bytes(note: Option<&str>) -> Vec<u8> {
    [
        s("o-1"),
        z(-3),
        z(1 << 40),
        vec![1],
        1.5f32.to_le_bytes().to_vec(),
        12.25f64.to_le_bytes().to_vec(),
        match note {
            Some(n) => [z(1), s(n)].concat(),
            None => z(0),
        },
        z(1),
        [z(2), s("a"), s("b"), z(0)].concat(),
        // A map in one block with a negative count and its byte size.
        [z(-1), z(3), s("k"), z(7), z(0)].concat(),
        [z(42), z(1), s("Ada")].concat(),
        [z(2), vec![0xde, 0xad]].concat(),
        vec![0xbe, 0xef],
        z(19723),
        z(1_704_067_200_123),
        z(1_704_067_200_123_456),
        // 12345 (123.45 at scale 2), two's complement big-endian.
        [z(2), vec![0x30, 0x39]].concat(),
        // -1500 (-1.500 at scale 3) in 4 bytes.
        (-1500i32).to_be_bytes().to_vec(),
        s("0b6e1b2c-8f6a-4c1e-9a50-0c1f5ad0e7a1"),
        z(0),
        [z(1), s("x")].concat(),
    ]
    .concat()
}

/// A decoder of ALL into the columns it derives.
fn all_rows() -> (AvroRows, RelationDesc) {
    let schema = Schema::parse(ALL).unwrap();
    let desc = RelationDesc::new(schema.columns(false).unwrap());
    (AvroRows::new(schema, &desc, false).unwrap(), desc)
}

fn text(row: &Row, desc: &RelationDesc) -> Vec<String> {
    row.iter().zip(&desc.types).map(|(d, t)| format_datum(d, t.scalar).unwrap_or_else(|| "NULL".into())).collect()
}

#[test]
fn derives_columns_and_decodes_every_type() {
    let (rows, desc) = all_rows();
    let types: Vec<String> = desc.iter().map(|(n, t)| format!("{} {}", n, t.scalar)).collect();
    assert_eq!(
        types.join(", "),
        "orderid text, qty integer, big bigint, ok boolean, ratio real, price double precision, note text, status text, tags jsonb, attrs jsonb, customer jsonb, raw text, hash text, day date, ts timestamp with time zone, ts_us timestamp with time zone, amount numeric(10,2), amount_f numeric(8,3), uid text, previous jsonb, either jsonb"
    );
    let row = rows.decode(&all_bytes(Some("gift")), &desc).unwrap();
    assert_eq!(
        text(&row, &desc),
        [
            "o-1", "-3", "1099511627776", "t", "1.5", "12.25", "gift", "PAID", r#"["a", "b"]"#, r#"{"k": 7}"#, r#"{"id": 42, "name": "Ada"}"#, "\\xdead", "\\xbeef", "2024-01-01", "2024-01-01 00:00:00.123+00",
            "2024-01-01 00:00:00.123456+00", "123.45", "-1.500", "0b6e1b2c-8f6a-4c1e-9a50-0c1f5ad0e7a1", "NULL", r#""x""#
        ]
    );
    let row = rows.decode(&all_bytes(None), &desc).unwrap();
    assert_eq!(row[6], Datum::Null, "the null branch of a nullable union is NULL");
}

#[test]
fn maps_fields_to_declared_columns_by_name() {
    let schema = Schema::parse(ALL).unwrap();
    let c = |n: &str, t| (n.to_string(), ColumnType { scalar: t, nullable: true });
    // Out of order, another case, converted types, and a column no field fills.
    let desc = RelationDesc::new(vec![
        c("ts", ScalarType::Text),
        c("ORDERID", ScalarType::Text),
        c("qty", ScalarType::Int64),
        c("big", ScalarType::TimestampTz),
        c("missing", ScalarType::Int32),
        c("price", ScalarType::Numeric { precision: None, scale: None }),
        c("customer", ScalarType::Text),
        c("qty_json", ScalarType::Jsonb),
        c("ok", ScalarType::Jsonb),
    ]);
    let rows = AvroRows::new(schema, &desc, false).unwrap();
    let row = rows.decode(&all_bytes(None), &desc).unwrap();
    assert_eq!(text(&row, &desc), ["2024-01-01 00:00:00.123+00", "o-1", "-3", "2004-11-03 19:53:47.776+00", "NULL", "12.25", r#"{"id": 42, "name": "Ada"}"#, "NULL", "true"]);
    // A value that does not convert names its field.
    let desc = RelationDesc::new(vec![c("orderid", ScalarType::Int32)]);
    let rows = AvroRows::new(Schema::parse(ALL).unwrap(), &desc, false).unwrap();
    let e = rows.decode(&all_bytes(None), &desc).unwrap_err();
    assert!(e.contains("field \"orderId\"") && e.contains("invalid input syntax for type integer"), "{}", e);
}

#[test]
fn every_truncation_is_an_error() {
    let (rows, desc) = all_rows();
    let bytes = all_bytes(Some("gift"));
    for n in 0..bytes.len() {
        let e = rows.decode(&bytes[..n], &desc).unwrap_err();
        assert!(e.contains("truncated") || e.contains("left"), "{} bytes: {}", n, e);
    }
    let e = rows.decode(&[bytes.clone(), vec![0]].concat(), &desc).unwrap_err();
    assert!(e.contains("1 bytes left over"), "{}", e);
}

fn one(schema: &str, bytes: &[u8]) -> Result<Datum, String> {
    let schema = Schema::parse(schema)?;
    let desc = RelationDesc::new(schema.columns(false)?);
    let rows = AvroRows::new(schema, &desc, false)?;
    rows.decode(bytes, &desc).map(|mut r| r.remove(0))
}

fn field(ty: &str) -> String {
    format!(r#"{{"type": "record", "name": "r", "fields": [{{"name": "f", "type": {}}}]}}"#, ty)
}

#[test]
fn malformed_values_are_errors() {
    let cases: Vec<(String, Vec<u8>, &str)> = vec![
        (field(r#"["null", "string"]"#), z(2), "union branch 2 does not exist"),
        (field(r#"["null", "string"]"#), z(-1), "union branch -1 does not exist"),
        (field(r#""string""#), z(-1), "negative length -1"),
        (field(r#""bytes""#), z(-5), "negative length -5"),
        (field(r#""string""#), z(1 << 60), "truncated"),
        (field(r#""string""#), [z(2), vec![0xff, 0xfe]].concat(), "not UTF-8"),
        (field(r#""boolean""#), vec![2], "not 0 or 1"),
        (field(r#""int""#), z(1 << 40), "does not fit an Avro int"),
        (field(r#""long""#), vec![0xff; 11], "longer than"),
        (field(r#""long""#), [vec![0xff; 9], vec![0x7f]].concat(), "longer than 64 bits"),
        (field(r#"{"type": "enum", "name": "e", "symbols": ["A"]}"#), z(1), "enum index 1"),
        (field(r#"{"type": "array", "items": "long"}"#), [z(-2), z(-1)].concat(), "negative size -1"),
        (field(r#"{"type": "array", "items": "null"}"#), z(1 << 40), "more than the record can hold"),
        (field(r#"{"type": "array", "items": "long"}"#), [z(3), z(1)].concat(), "truncated"),
        (field(r#"{"type": "map", "values": "long"}"#), [z(1), z(-1)].concat(), "negative length"),
        (field(r#"{"type": "bytes", "logicalType": "decimal", "precision": 40, "scale": 0}"#), [z(17), vec![0x7f; 17]].concat(), "too large"),
        (field(r#"{"type": "long", "logicalType": "timestamp-millis"}"#), z(i64::MAX / 2), "out of range"),
    ];
    for (schema, bytes, want) in cases {
        let e = one(&schema, &bytes).unwrap_err();
        assert!(e.contains(want), "{} on {:?}: {}", schema, bytes, e);
    }
    // Decimals: sign extension is not size; the widest fit.
    let dec = field(r#"{"type": "bytes", "logicalType": "decimal", "precision": 5, "scale": 1}"#);
    assert_eq!(one(&dec, &[z(4), vec![0xff, 0xff, 0xff, 0x85]].concat()), Ok(Datum::Numeric(Decimal::new(-123, 1))));
    assert_eq!(one(&dec, &z(0)), Ok(Datum::Numeric(Decimal::ZERO)));
}

#[test]
fn nesting_is_bounded() {
    let list = field(r#"{"type": "record", "name": "Node", "fields": [{"name": "next", "type": ["null", "Node"]}]}"#);
    // A few levels decode; a thousand are refused, not a stack overflow.
    let nested = |n: usize| [vec![2u8; n], vec![0]].concat();
    assert_eq!(one(&list, &nested(2)), Ok(Datum::Jsonb(r#"{"next": {"next": {"next": null}}}"#.into())));
    assert!(one(&list, &nested(1000)).unwrap_err().contains("deeper than 64"));
    // A record that always holds itself takes no bytes per level.
    let forever = field(r#"{"type": "record", "name": "Loop", "fields": [{"name": "again", "type": "Loop"}]}"#);
    assert!(one(&forever, &[]).unwrap_err().contains("deeper than 64"));
}

#[test]
fn bad_schemas_are_refused() {
    for (schema, want) in [
        ("{", "not valid JSON"),
        (r#"{"type": "record", "name": "r", "fields": [{"name": "a", "type": "Nope"}]}"#, "\"Nope\", which is not defined"),
        (r#"{"type": "record", "fields": []}"#, "needs a \"name\""),
        (r#"{"type": "record", "name": "r", "fields": [{"name": "a", "type": "int"}, {"name": "a", "type": "int"}]}"#, "two fields named \"a\""),
        (r#"[]"#, "at least one branch"),
        (r#"["null", ["int"]]"#, "may not hold a union"),
        (r#"{"type": "fixed", "name": "f"}"#, "\"size\""),
        (r#"42"#, "invalid Avro schema"),
    ] {
        let e = Schema::parse(schema).unwrap_err();
        assert!(e.contains(want), "{}: {}", schema, e);
    }
    // Case-folded field names that collide cannot both be columns.
    let s = Schema::parse(r#"{"type": "record", "name": "r", "fields": [{"name": "a", "type": "int"}, {"name": "A", "type": "int"}]}"#).unwrap();
    assert!(s.columns(false).unwrap_err().contains("two fields named \"a\""));
    // A namespaced reference resolves by full and by short name.
    let s = Schema::parse(r#"{"type": "record", "name": "r", "namespace": "n", "fields": [{"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["X"]}}, {"name": "f", "type": "n.E"}, {"name": "g", "type": "E"}]}"#).unwrap();
    assert_eq!(s.columns(false).unwrap().len(), 3);
    // Unknown or invalid logical types fall back to the base type.
    assert_eq!(one(&field(r#"{"type": "long", "logicalType": "time-micros"}"#), &z(5)), Ok(Datum::Int(5)));
    assert_eq!(one(&field(r#"{"type": "bytes", "logicalType": "decimal", "scale": 2}"#), &[z(1), vec![7]].concat()), Ok(Datum::Text("\\x07".into())));
}

#[test]
fn a_non_record_schema_fills_one_column() {
    let schema = Schema::parse(r#"{"type": "long", "logicalType": "timestamp-millis"}"#).unwrap();
    let cols = schema.columns(false).unwrap();
    assert_eq!((cols[0].0.as_str(), cols[0].1.scalar), ("value", ScalarType::TimestampTz));
    let desc = RelationDesc::new(cols);
    assert_eq!(AvroRows::new(schema, &desc, false).unwrap().decode(&z(1000), &desc), Ok(vec![Datum::TimestampTz(1_000_000)]));
    let two = RelationDesc::new(vec![("a".into(), ColumnType { scalar: ScalarType::Text, nullable: true }); 2]);
    assert!(AvroRows::new(Schema::parse(r#""long""#).unwrap(), &two, false).unwrap_err().contains("not a record"));
}

#[test]
fn debezium_changes() {
    let schema = r#"{"type": "record", "name": "Envelope", "fields": [
        {"name": "before", "type": ["null", {"type": "record", "name": "Value", "fields": [{"name": "id", "type": "int"}, {"name": "name", "type": "string"}]}]},
        {"name": "after", "type": ["null", "Value"]},
        {"name": "op", "type": "string"}]}"#;
    let schema = Schema::parse(schema).unwrap();
    let desc = RelationDesc::new(schema.columns(true).unwrap());
    assert_eq!(desc.names, vec!["id", "name"]);
    let rows = AvroRows::new(schema, &desc, true).unwrap();
    let update = [z(1), z(7), s("old"), z(1), z(7), s("new"), s("u")].concat();
    assert_eq!(rows.decode_change(&update, &desc), Ok((Some(vec![Datum::Int(7), Datum::text("old")]), Some(vec![Datum::Int(7), Datum::text("new")]))));
    let delete = [z(1), z(7), s("old"), z(0), s("d")].concat();
    assert_eq!(rows.decode_change(&delete, &desc), Ok((Some(vec![Datum::Int(7), Datum::text("old")]), None)));
    assert!(rows.decode_change(&[z(1), z(7)].concat(), &desc).unwrap_err().contains("before: truncated"));
}

#[test]
fn confluent_headers() {
    assert_eq!(confluent_header(&[0, 0, 0, 1, 2, 9]), Ok((258, &[9u8][..])));
    assert!(confluent_header(b"{\"a\": 1}").unwrap_err().contains("first byte is 0x7b"));
    assert!(confluent_header(&[0, 0, 1]).unwrap_err().contains("shorter than the 5-byte header"));
    assert!(confluent_header(&[]).unwrap_err().contains("truncated"));
}

#[test]
fn random_bytes_never_panic() {
    let (rows, desc) = all_rows();
    let good = all_bytes(Some("gift"));
    let mut x: u64 = 0x9e3779b97f4a7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..20_000 {
        // Flip a few bytes of a good record, or take random bytes.
        let mut b = good.clone();
        if next() % 4 == 0 {
            b = (0..next() % 64).map(|_| next() as u8).collect();
        } else {
            for _ in 0..1 + next() % 3 {
                let i = (next() as usize) % b.len();
                b[i] = next() as u8;
            }
        }
        let _ = rows.decode(&b, &desc);
    }
}
