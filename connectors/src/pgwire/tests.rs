//! End-to-end tests: a real client (tokio-postgres, which uses the binary
//! format for extended-protocol parameters and results) against the server
//! over a scripted handler.

use std::error::Error;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::BytesMut;
use eddy_engine::repr::{ColumnType, Interval, RelationDesc, Row, ScalarType};
use eddy_engine::Datum;
use eddy_sql::{Severity, SqlError};
use rust_decimal::Decimal;
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type};
use tokio_postgres::{AsyncMessage, Client, NoTls, SimpleQueryMessage};

use crate::handler::{Description, QueryHandler, QueryResult, SessionId};

/// Answers a handful of fixed statements:
/// - `ALL`: one row of every type, then a row of NULLs;
/// - `ECHO <type>...`: takes one parameter per type, returns them as a row;
/// - `COUNT n`: n rows of one int8;
/// - `FAIL`: an error with every field; `NOTICE`: a command with a notice;
/// - anything else: a command whose tag is the statement text.
#[derive(Default)]
struct Script {
    next: AtomicU64,
    disconnects: AtomicUsize,
}

fn ty(name: &str) -> ScalarType {
    use ScalarType as T;
    match name {
        "bool" => T::Bool,
        "int2" => T::Int16,
        "int4" => T::Int32,
        "int8" => T::Int64,
        "float4" => T::Float32,
        "float8" => T::Float64,
        "numeric" => T::Numeric { precision: None, scale: None },
        "date" => T::Date,
        "timestamp" => T::Timestamp,
        "timestamptz" => T::TimestampTz,
        "interval" => T::Interval,
        "jsonb" => T::Jsonb,
        "uuid" => T::Uuid,
        _ => T::Text,
    }
}

fn desc(types: &[ScalarType]) -> RelationDesc {
    RelationDesc::new(types.iter().enumerate().map(|(i, t)| (format!("c{i}"), ColumnType { scalar: *t, nullable: true })).collect())
}

fn all_row() -> (Vec<ScalarType>, Row) {
    let types = ["bool", "int2", "int4", "int8", "float4", "float8", "numeric", "text", "date", "timestamp", "timestamptz", "interval", "jsonb", "uuid"];
    let row = vec![
        Datum::Bool(true),
        Datum::Int(-2),
        Datum::Int(40_000),
        Datum::Int(1 << 40),
        Datum::float(1.5),
        Datum::float(0.1),
        Datum::Numeric("12345.678".parse().unwrap()),
        Datum::text("héllo"),
        Datum::Date(10_958),
        Datum::Timestamp(946_684_800_000_001),
        Datum::TimestampTz(0),
        Datum::Interval(Interval { months: 1, days: 2, micros: 3_000_000 }),
        Datum::Jsonb(r#"{"a": 1}"#.into()),
        Datum::text("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
    ];
    (types.iter().map(|t| ty(t)).collect(), row)
}

impl Script {
    fn run(&self, sql: &str, params: &[Datum]) -> Result<QueryResult, SqlError> {
        let words: Vec<&str> = sql.split_whitespace().collect();
        match words.first().copied() {
            Some("ALL") => {
                let (types, row) = all_row();
                let nulls = vec![Datum::Null; row.len()];
                Ok(QueryResult::Rows { desc: desc(&types), rows: vec![row, nulls], tag: None })
            }
            Some("ECHO") => {
                // Typed as the statement says, unless the client bound
                // an integer for it (as a declared int8 makes the planner do).
                let types: Vec<ScalarType> = words[1..].iter().enumerate().map(|(i, w)| if matches!(params.get(i), Some(Datum::Int(_))) && !ty(w).is_integer() { ScalarType::Int64 } else { ty(w) }).collect();
                Ok(QueryResult::Rows { desc: desc(&types), rows: vec![params.to_vec()], tag: None })
            }
            Some("COUNT") => {
                let n: i64 = words[1].parse().unwrap();
                Ok(QueryResult::Rows { desc: desc(&[ScalarType::Int64]), rows: (0..n).map(|i| vec![Datum::Int(i)]).collect(), tag: None })
            }
            Some("FAIL") => {
                let mut e = SqlError::new("42P01", "relation \"nope\" does not exist").with_detail("d").with_hint("h");
                e.position = Some(6);
                Err(e)
            }
            Some("NOTICE") => {
                let mut n = SqlError::new("00000", "relation already exists, skipping");
                n.severity = Severity::Notice;
                Ok(QueryResult::Command { tag: "CREATE TABLE".into(), notices: vec![n] })
            }
            _ => Ok(QueryResult::Command { tag: sql.trim().to_owned(), notices: vec![] }),
        }
    }
}

#[async_trait]
impl QueryHandler for Script {
    fn connect(&self, user: &str, database: &str) -> Result<SessionId, SqlError> {
        if user == "nobody" {
            return Err(SqlError::new("28000", format!("role \"{user}\" does not exist")));
        }
        assert_eq!(database, if user == "eddy" { "shop" } else { user });
        Ok(self.next.fetch_add(1, Ordering::SeqCst))
    }
    fn disconnect(&self, _session: SessionId) {
        self.disconnects.fetch_add(1, Ordering::SeqCst);
    }
    fn cancel(&self, _session: SessionId) {}
    async fn execute(&self, _session: SessionId, sql: &str, params: &[Datum]) -> Vec<Result<QueryResult, SqlError>> {
        let mut out = Vec::new();
        for stmt in sql.split(';').filter(|s| !s.trim().is_empty() && !s.trim().starts_with("--")) {
            let r = self.run(stmt, params);
            let failed = r.is_err();
            out.push(r);
            if failed {
                break;
            }
        }
        out
    }
    async fn describe(&self, _session: SessionId, sql: &str, declared: &[Option<ScalarType>]) -> Result<Description, SqlError> {
        let words: Vec<&str> = sql.split_whitespace().collect();
        match words.first().copied() {
            Some("ECHO") => {
                let params: Vec<ScalarType> = words[1..].iter().enumerate().map(|(i, w)| declared.get(i).copied().flatten().unwrap_or(ty(w))).collect();
                Ok(Description { result: Some(desc(&params)), params })
            }
            Some("ALL") => Ok(Description { params: vec![], result: Some(desc(&all_row().0)) }),
            Some("COUNT") => Ok(Description { params: vec![], result: Some(desc(&[ScalarType::Int64])) }),
            Some("BADPARSE") => Err(SqlError::new("42601", "syntax error at or near \"BADPARSE\"")),
            _ => Ok(Description::default()),
        }
    }
}

/// Raw binary values, to check exact wire bytes in both directions.
#[derive(Debug, PartialEq)]
struct Raw(Vec<u8>);

impl ToSql for Raw {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        out.extend_from_slice(&self.0);
        Ok(IsNull::No)
    }
    fn accepts(_: &Type) -> bool {
        true
    }
    tokio_postgres::types::to_sql_checked!();
}

impl<'a> FromSql<'a> for Raw {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
        Ok(Raw(raw.to_vec()))
    }
    fn accepts(_: &Type) -> bool {
        true
    }
}

async fn start() -> (u16, Arc<Script>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let script = Arc::new(Script::default());
    tokio::spawn(super::serve(listener, script.clone()));
    (port, script)
}

/// Connects and forwards the connection's notices into a channel.
async fn connect(port: u16, user: &str) -> Result<(Client, tokio::sync::mpsc::UnboundedReceiver<String>), tokio_postgres::Error> {
    let db = if user == "eddy" { " dbname=shop" } else { "" };
    let (client, mut conn) = tokio_postgres::connect(&format!("host=127.0.0.1 port={port} user={user}{db}"), NoTls).await?;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(msg) = futures::future::poll_fn(|cx| conn.poll_message(cx)).await {
            if let Ok(AsyncMessage::Notice(n)) = msg {
                let _ = tx.send(format!("{} {}", n.severity(), n.message()));
            }
        }
    });
    Ok((client, rx))
}

#[tokio::test]
async fn simple_query_returns_text_and_tags() {
    let (port, _) = start().await;
    let (client, _) = connect(port, "eddy").await.unwrap();
    let msgs = client.simple_query("ALL; INSERT 0 3").await.unwrap();
    let rows: Vec<_> = msgs.iter().filter_map(|m| if let SimpleQueryMessage::Row(r) = m { Some(r) } else { None }).collect();
    let text: Vec<Option<&str>> = (0..13).map(|i| rows[0].get(i)).collect();
    let expect = [
        "t", "-2", "40000", "1099511627776", "1.5", "0.1", "12345.678", "héllo", "2000-01-02", "2000-01-01 00:00:00.000001",
        "1970-01-01 00:00:00+00", "1 mon 2 days 00:00:03", r#"{"a": 1}"#,
    ];
    assert_eq!(text, expect.map(Some));
    assert!((0..13).all(|i| rows[1].get(i).is_none()));
    let tags: Vec<u64> = msgs.iter().filter_map(|m| if let SimpleQueryMessage::CommandComplete(n) = m { Some(*n) } else { None }).collect();
    assert_eq!(tags, [2, 3]);
    // Blank and comment-only strings are empty queries, not errors.
    client.simple_query(" ; ").await.unwrap();
    client.simple_query("-- nothing").await.unwrap();
}

#[tokio::test]
async fn errors_carry_sqlstate_fields_and_connection_survives() {
    let (port, _) = start().await;
    let (client, _) = connect(port, "eddy").await.unwrap();
    let err = client.simple_query("FAIL").await.unwrap_err();
    let db = err.as_db_error().unwrap();
    assert_eq!((db.code().code(), db.message(), db.detail(), db.hint()), ("42P01", "relation \"nope\" does not exist", Some("d"), Some("h")));
    assert!(matches!(db.position(), Some(tokio_postgres::error::ErrorPosition::Original(6))));
    // Extended protocol: the error arrives at Execute, then Sync recovers.
    let err = client.query("FAIL", &[]).await.unwrap_err();
    assert_eq!(err.code().unwrap().code(), "42P01");
    let err = client.prepare("BADPARSE").await.unwrap_err();
    assert_eq!(err.code().unwrap().code(), "42601");
    assert_eq!(client.query("COUNT 2", &[]).await.unwrap().len(), 2);
}

#[tokio::test]
async fn notices_are_sent() {
    let (port, _) = start().await;
    let (client, mut notices) = connect(port, "eddy").await.unwrap();
    client.batch_execute("NOTICE").await.unwrap();
    client.execute("NOTICE", &[]).await.unwrap();
    for _ in 0..2 {
        assert_eq!(notices.recv().await.unwrap(), "NOTICE relation already exists, skipping");
    }
}

#[tokio::test]
async fn binary_parameters_and_results_round_trip() {
    let (port, _) = start().await;
    let (client, _) = connect(port, "eddy").await.unwrap();
    let row = client
        .query_one("ECHO int2 int4 int8 float4 float8 bool text", &[&-3i16, &70_000i32, &(1i64 << 50), &1.25f32, &-2.5f64, &true, &"ünï"])
        .await
        .unwrap();
    assert_eq!(row.get::<_, i16>(0), -3);
    assert_eq!(row.get::<_, i32>(1), 70_000);
    assert_eq!(row.get::<_, i64>(2), 1 << 50);
    assert_eq!(row.get::<_, f32>(3), 1.25);
    assert_eq!(row.get::<_, f64>(4), -2.5);
    assert!(row.get::<_, bool>(5));
    assert_eq!(row.get::<_, &str>(6), "ünï");
    let null: Option<i64> = None;
    assert_eq!(client.query_one("ECHO int8", &[&null]).await.unwrap().get::<_, Option<i64>>(0), None);

    // Types without a native Rust mapping here: compare exact PostgreSQL bytes.
    let cases: [(&str, Vec<u8>); 6] = [
        ("numeric", [3i16, 1, 0, 3, 1, 2345, 6780].iter().flat_map(|w| w.to_be_bytes()).collect()),
        ("date", 1i32.to_be_bytes().to_vec()),
        ("timestamptz", (-1i64).to_be_bytes().to_vec()),
        ("interval", [3_000_000i64.to_be_bytes().to_vec(), 2i32.to_be_bytes().to_vec(), 1i32.to_be_bytes().to_vec()].concat()),
        ("jsonb", b"\x01{\"a\": [1, 2]}".to_vec()),
        ("uuid", (0u8..16).collect()),
    ];
    for (name, bytes) in cases {
        let row = client.query_one(&format!("ECHO {name}"), &[&Raw(bytes.clone())]).await.unwrap();
        assert_eq!(row.get::<_, Raw>(0), Raw(bytes), "{name}");
    }
}

#[tokio::test]
async fn binary_results_match_the_codec() {
    let (port, _) = start().await;
    let (client, _) = connect(port, "eddy").await.unwrap();
    let rows = client.query("ALL", &[]).await.unwrap();
    let (types, datums) = all_row();
    for (i, (t, d)) in types.iter().zip(&datums).enumerate() {
        let mut expect = Vec::new();
        super::codec::encode_binary(d, *t, &mut expect).unwrap();
        assert_eq!(rows[0].get::<_, Raw>(i).0, expect, "column {i}");
        assert_eq!(rows[0].columns()[i].type_().oid(), t.oid());
        assert_eq!(rows[1].get::<_, Option<Raw>>(i), None);
    }
    assert_eq!(super::codec::decode_binary(&rows[0].get::<_, Raw>(6).0, types[6]).unwrap(), Datum::Numeric(Decimal::new(12_345_678, 3)));
}

#[tokio::test]
async fn declared_types_and_bad_parameters() {
    let (port, _) = start().await;
    let (client, _) = connect(port, "eddy").await.unwrap();
    // The client declares int8 where the statement would infer text.
    let stmt = client.prepare_typed("ECHO text", &[Type::INT8]).await.unwrap();
    assert_eq!(stmt.params(), &[Type::INT8]);
    assert_eq!(stmt.columns()[0].type_(), &Type::INT8);
    assert_eq!(client.query_one(&stmt, &[&5i64]).await.unwrap().get::<_, i64>(0), 5);
    // A statement without result columns is described with NoData.
    assert!(client.prepare("CREATE TABLE t").await.unwrap().columns().is_empty());
    // Wrong binary width: 22P03 at Bind, and the session goes on.
    let err = client.query("ECHO int4", &[&Raw(vec![1, 2])]).await.unwrap_err();
    assert_eq!(err.code().unwrap().code(), "22P03");
    let err = client.query("ECHO numeric", &[&Raw([1i16, 0, 0xC000u16 as i16, 0, 1].iter().flat_map(|w| w.to_be_bytes()).collect())]).await.unwrap_err();
    assert_eq!(err.code().unwrap().code(), "22003");
    assert_eq!(client.query("COUNT 1", &[]).await.unwrap().len(), 1);
}

#[tokio::test]
async fn portal_row_limit_suspends() {
    let (port, _) = start().await;
    let (mut client, _) = connect(port, "eddy").await.unwrap();
    let tx = client.transaction().await.unwrap();
    let portal = tx.bind("COUNT 5", &[]).await.unwrap();
    let sizes = [tx.query_portal(&portal, 2).await.unwrap().len(), tx.query_portal(&portal, 2).await.unwrap().len(), tx.query_portal(&portal, 2).await.unwrap().len()];
    assert_eq!(sizes, [2, 2, 1]);
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn startup_failure_and_disconnect() {
    let (port, script) = start().await;
    let err = connect(port, "nobody").await.err().unwrap();
    assert_eq!(err.code().unwrap().code(), "28000");
    let (client, _) = connect(port, "alice").await.unwrap(); // database defaults to the user
    drop(client);
    for _ in 0..100 {
        if script.disconnects.load(Ordering::SeqCst) == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("disconnect was not called");
}
