//! FORMAT AVRO end to end: a real Kafka-compatible broker (tansu), a
//! schema registry (tests/clients/schema_registry.py) and an independent
//! producer (tests/clients/avro_tool.py: fastavro and confluent-kafka)
//! write Avro records, some malformed; eddy's sources must show exactly
//! the good ones, and every bad one in `<source>_errors` (with its offset)
//! and on the dead-letter topic.

mod broker;
mod server;
mod sql_client;

use broker::{kafka_tool, Tansu};
use server::{free_port, EddyServer};
use sql_client::{query, wait_for};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio_postgres::{Client, NoTls};

type Rows = Vec<Vec<Option<String>>>;

/// tests/clients/schema_registry.py on a free port, stopped when dropped.
struct SchemaRegistry {
    child: Child,
    url: String,
}

impl SchemaRegistry {
    fn start() -> Self {
        let port = free_port();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/schema_registry.py");
        let child = Command::new("python3").arg(script).arg(port.to_string()).stdout(Stdio::null()).spawn().expect("run python3");
        let mut r = SchemaRegistry { child, url: format!("http://127.0.0.1:{}", port) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(r.child.try_wait().unwrap().is_none(), "schema_registry.py exited before listening");
            assert!(Instant::now() < deadline, "schema_registry.py did not listen on {} within 10 s", port);
            std::thread::sleep(Duration::from_millis(50));
        }
        r
    }
}

impl Drop for SchemaRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs tests/clients/avro_tool.py; returns its JSON answer.
fn avro_tool(args: &[&str]) -> serde_json::Value {
    let have = Command::new("python3").args(["-c", "import fastavro, confluent_kafka"]).output().expect("run python3");
    assert!(have.status.success(), "the Avro tests need Python's fastavro and confluent-kafka: `python3 -m pip install fastavro confluent-kafka` (scripts/test installs both)");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/avro_tool.py");
    let out = Command::new("python3").arg(script).args(args).output().expect("run python3");
    assert!(out.status.success(), "avro_tool.py {:?} failed:\n{}", args, String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("avro_tool.py {:?} printed no JSON ({}): {}", args, e, String::from_utf8_lossy(&out.stdout)))
}

fn rows_of(v: &serde_json::Value) -> Rows {
    v.as_array().unwrap().iter().map(|r| r.as_array().unwrap().iter().map(|d| d.as_str().map(str::to_string)).collect()).collect()
}

fn offsets_of(v: &serde_json::Value) -> Vec<i64> {
    v.as_array().unwrap().iter().map(|o| o.as_i64().unwrap()).collect()
}

/// Waits until `sql` returns `want`; fails with the difference.
async fn wait_rows(c: &Client, sql: &str, want: &Rows, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let got = query(c, sql).await;
        if got == *want {
            return;
        }
        if Instant::now() > deadline {
            assert_eq!(got, *want, "`{}` never returned the expected rows", sql);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The bad records of `source` are in its error relation at `offsets`, and
/// on `dlq` with the same offsets; returns the error messages.
async fn check_errors(c: &Client, broker: &str, source: &str, dlq: &str, offsets: &[i64]) -> Vec<String> {
    let n = offsets.len().to_string();
    wait_for(c, &format!("SELECT count(*) FROM {}_errors", source), &n, 30).await;
    let rows = query(c, &format!("SELECT \"offset\", error, raw_value FROM {}_errors ORDER BY 1", source)).await;
    let got: Vec<i64> = rows.iter().map(|r| r[0].as_ref().unwrap().parse().unwrap()).collect();
    assert_eq!(got, offsets, "{}_errors holds each malformed record's offset", source);
    for r in &rows {
        assert!(r[2].as_deref().unwrap_or("").starts_with("\\x"), "raw_value is the record's bytes in hex: {:?}", r);
    }
    let dead = kafka_tool(&["count", broker, dlq, "2"]);
    let mut dead_offsets: Vec<i64> = offsets_of(&dead["offsets"]);
    dead_offsets.sort();
    assert_eq!(dead_offsets, offsets, "every malformed record of {} reaches {}", source, dlq);
    rows.into_iter().map(|r| r[1].clone().unwrap()).collect()
}

async fn connect(server: &EddyServer) -> Client {
    let (client, conn) = tokio_postgres::connect(&server.conninfo(), NoTls).await.unwrap();
    tokio::spawn(conn);
    client
}

#[tokio::test(flavor = "multi_thread")]
async fn inline_schema_source_decodes_every_type() {
    let tansu = Tansu::start();
    let broker = tansu.broker();
    let produced = avro_tool(&["inline", &broker, "avro-orders"]);
    let want = rows_of(&produced["rows"]);
    let malformed = offsets_of(&produced["malformed"]);
    let schema = produced["schema"].as_str().unwrap().replace('\'', "''");

    let server = EddyServer::start_with(&["--kafka", &broker]);
    let c = connect(&server).await;
    // No column list: the columns are the record's fields, lower-cased.
    c.batch_execute(&format!("CREATE SOURCE orders FROM KAFKA (TOPIC 'avro-orders') FORMAT AVRO USING SCHEMA '{}' DEAD LETTER TOPIC 'avro-orders-dlq'", schema)).await.unwrap();
    let sql = "SELECT id, customername, note, amount, qty, paid, status, address, tags, placedat, day, price FROM orders ORDER BY id";
    wait_rows(&c, sql, &want, 30).await;
    let stmt = c.prepare("SELECT id, amount, address, placedat, day, price, status FROM orders").await.unwrap();
    let types: Vec<&str> = stmt.columns().iter().map(|col| col.type_().name()).collect();
    assert_eq!(types, ["int8", "float8", "jsonb", "timestamptz", "date", "numeric", "text"]);
    // Timestamps compare as timestamps; nested records are jsonb.
    let q = query(&c, "SELECT count(*) FROM orders WHERE address::text LIKE '%Oslo%' AND placedat > '2024-03-01 12:00:10+00'").await;
    let oslo_late = want.iter().filter(|r| r[7].as_deref().unwrap().contains("Oslo") && r[0].as_ref().unwrap().parse::<i64>().unwrap() * 1001 > 10_000).count();
    assert_eq!(q[0][0].as_deref(), Some(oslo_late.to_string().as_str()));

    let errors = check_errors(&c, &broker, "orders", "avro-orders-dlq", &malformed).await;
    assert!(errors.iter().any(|e| e.contains("truncated")), "{:?}", errors);
    assert!(errors.iter().any(|e| e.contains("left over")), "{:?}", errors);
    // Good records kept flowing around the bad ones.
    wait_for(&c, "SELECT count(*) FROM orders", &want.len().to_string(), 5).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn schema_registry_sources_evolve_upsert_and_take_changes() {
    let tansu = Tansu::start();
    let broker = tansu.broker();
    let registry = SchemaRegistry::start();
    let url = registry.url.as_str();
    let payments = avro_tool(&["registry", &broker, "avro-payments", url]);
    let stock = avro_tool(&["upsert", &broker, "avro-stock", url]);
    let people = avro_tool(&["debezium", &broker, "avro-people", url]);

    let server = EddyServer::start_with(&["--kafka", &broker]);
    let c = connect(&server).await;
    // Columns from the subject's latest schema (v2, with `method`); v1
    // records have no `method`, so it is NULL for them.
    c.batch_execute(&format!("CREATE SOURCE payments FROM KAFKA (TOPIC 'avro-payments') FORMAT AVRO USING CONFLUENT SCHEMA REGISTRY '{}' DEAD LETTER TOPIC 'avro-payments-dlq'", url)).await.unwrap();
    // Declared columns match fields case-insensitively.
    c.batch_execute(&format!("CREATE SOURCE stock (SKU text, qty bigint) FROM KAFKA (TOPIC 'avro-stock') FORMAT AVRO USING CONFLUENT SCHEMA REGISTRY '{}' ENVELOPE UPSERT", url)).await.unwrap();
    c.batch_execute(&format!("CREATE SOURCE people FROM KAFKA (TOPIC 'avro-people') FORMAT AVRO USING CONFLUENT SCHEMA REGISTRY '{}' ENVELOPE DEBEZIUM", url)).await.unwrap();

    wait_rows(&c, "SELECT id, orderid, amount, \"at\", method FROM payments ORDER BY id", &rows_of(&payments["rows"]), 30).await;
    wait_rows(&c, "SELECT sku, qty FROM stock ORDER BY sku", &rows_of(&stock["rows"]), 30).await;
    wait_rows(&c, "SELECT id, name FROM people ORDER BY id", &rows_of(&people["rows"]), 30).await;

    let errors = check_errors(&c, &broker, "payments", "avro-payments-dlq", &offsets_of(&payments["malformed"])).await;
    assert!(errors[0].contains("truncated"), "{:?}", errors);
    assert!(errors[1].contains("first byte is 0x7b"), "{:?}", errors);
    assert!(errors[2].contains("schema id 999"), "{:?}", errors);
    for source in ["stock", "people"] {
        assert_eq!(query(&c, &format!("SELECT count(*) FROM {}_errors", source)).await[0][0].as_deref(), Some("0"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn create_source_reports_registry_problems() {
    let registry = SchemaRegistry::start();
    let server = EddyServer::start();
    let c = connect(&server).await;
    let dead = format!("http://127.0.0.1:{}", free_port());
    let e = c.batch_execute(&format!("CREATE SOURCE s (id int) FROM KAFKA (TOPIC 't') FORMAT AVRO USING CONFLUENT SCHEMA REGISTRY '{}'", dead)).await.unwrap_err();
    let db = e.as_db_error().unwrap();
    assert_eq!(db.code().code(), "08006", "{:?}", db);
    assert!(db.hint().unwrap_or("").contains(&dead), "the hint names the registry: {:?}", db);
    let e = c.batch_execute(&format!("CREATE SOURCE s FROM KAFKA (TOPIC 'nothing') FORMAT AVRO USING CONFLUENT SCHEMA REGISTRY '{}'", registry.url)).await.unwrap_err();
    let db = e.as_db_error().unwrap();
    assert_eq!(db.code().code(), "42704", "{:?}", db);
    assert!(db.hint().unwrap_or("").contains("nothing-value"), "the hint names the subject: {:?}", db);
    let e = c.batch_execute("CREATE SOURCE s FROM KAFKA (TOPIC 't') FORMAT AVRO USING SCHEMA '{\"type\": \"record\", \"name\": \"r\"}'").await.unwrap_err();
    assert_eq!(e.as_db_error().unwrap().code().code(), "22023");
}
