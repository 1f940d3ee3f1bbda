//! Kafka end to end against a real Kafka-compatible broker process
//! (tansu), with an independent client (Python's confluent-kafka) writing
//! the input and reading the sink topic back.
//!
//! tansu 0.6 has no transactions, so the sink here is at least once (eddy
//! says so with a NOTICE); the exactly-once path is tested on librdkafka's
//! mock cluster (tests/kafka_mock.rs).

mod broker;
mod server;
mod sql_client;

use broker::{kafka_tool, Tansu};
use server::EddyServer;
use sql_client::{query, wait_for};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio_postgres::NoTls;

#[tokio::test(flavor = "multi_thread")]
async fn two_hundred_thousand_events_through_source_view_and_sink() {
    let tansu = Tansu::start();
    let broker = tansu.broker();
    let n = 200_000;
    // The producer creates the 8-partition topic, writes every event, and
    // reports the from-scratch answer over the well-formed ones.
    let produced = kafka_tool(&["produce", &broker, "orders", &n.to_string(), "8"]);
    let malformed = produced["malformed"].as_i64().unwrap();
    let expected: BTreeMap<String, (i64, i64)> = produced["expected"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), (v[0].as_i64().unwrap(), v[1].as_i64().unwrap()))).collect();

    let server = EddyServer::start_with(&["--kafka", &broker]);
    let (client, conn) = tokio_postgres::connect(&server.conninfo(), NoTls).await.unwrap();
    tokio::spawn(conn);
    sql_client::create_orders_pipeline(&client).await;
    // tansu has no transactions: the sink must say it falls back to at least once.
    let msgs = client.simple_query("CREATE SINK per_customer_out FROM per_customer INTO KAFKA (TOPIC 'per-customer') KEY (id) FORMAT JSON ENVELOPE UPSERT").await.unwrap();
    drop(msgs);
    let explicit = client.simple_query("CREATE SINK strict FROM per_customer INTO KAFKA (TOPIC 'strict') KEY (id) FORMAT JSON ENVELOPE UPSERT WITH (DELIVERY = 'exactly_once')").await;
    let err = explicit.expect_err("exactly_once on a broker without transactions must fail");
    assert!(err.as_db_error().unwrap().message().contains("DELIVERY"), "the error names the option: {:?}", err);

    wait_for(&client, "SELECT sum(records) FROM eddy_catalog.source_partitions", &n.to_string(), 300).await;
    wait_for(&client, "SELECT count(*) FROM orders_errors", &malformed.to_string(), 60).await;
    let parts = query(&client, "SELECT count(*) FROM eddy_catalog.source_partitions WHERE source = 'orders'").await;
    assert_eq!(parts[0][0].as_deref(), Some("8"), "all 8 partitions are read");

    let rows = query(&client, "SELECT id, orders, total FROM per_customer").await;
    let view: BTreeMap<String, (i64, i64)> = rows.iter().map(|r| (r[0].clone().unwrap(), (r[1].as_ref().unwrap().parse().unwrap(), r[2].as_ref().unwrap().parse().unwrap()))).collect();
    assert_eq!(view, expected, "the view equals the from-scratch answer over the good records");

    // Each malformed record is in the error relation with its offset, and in the DLQ.
    let with_offsets = query(&client, "SELECT count(*) FROM (SELECT DISTINCT partition, \"offset\" FROM orders_errors WHERE error <> '') t").await;
    assert_eq!(with_offsets[0][0].as_deref(), Some(malformed.to_string().as_str()));
    let dlq = kafka_tool(&["count", &broker, "orders-dlq", "3"]);
    assert_eq!(dlq["count"].as_i64(), Some(malformed), "every malformed record reaches the dead-letter topic");

    // The upsert sink topic, folded by key, equals the view.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let folded = kafka_tool(&["fold", &broker, "per-customer", "id", "3"]);
        let sunk: BTreeMap<String, (i64, i64)> = folded.as_object().unwrap().iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), (v["orders"].as_i64().unwrap(), v["total"].as_i64().unwrap()))).collect();
        if sunk == view {
            break;
        }
        assert!(Instant::now() < deadline, "the sink topic never matched the view ({} of {} keys)", sunk.len(), view.len());
    }
}
