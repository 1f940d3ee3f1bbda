//! The Kafka sink writer under faults, end to end against librdkafka's
//! mock cluster through the eddy server, reading the sink topics back with
//! an independent consumer (read_committed).
//!
//! - A broker outage longer than the sink's message timeout: the sink
//!   reports the failure while it lasts (errors, last_error; written_through
//!   stays put), and every row written meanwhile arrives afterwards, once
//!   (exactly once) or at least once (at least once).
//! - Deliveries the broker refuses: retried, never counted as written.
//! - ENVELOPE DEBEZIUM without KEY: one message per changed row.
//! - A KEY that does not identify one row: reported, and no tombstone or
//!   `"after": null` for a key that still has rows.
//! - A view with rows that fail to evaluate: the sink reports them.
//!
//! The mock cluster writes no transaction markers (its fetches list no
//! aborted transactions), so a read_committed reader would see the
//! messages of an aborted transaction that reached it. The outages here
//! start while the sink is idle, so a failed attempt's messages never
//! reach the broker, and a duplicate seen is one the sink committed.

mod server;
mod sql_client;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use serde_json::Value;
use server::EddyServer;
use sql_client::{query, wait_for};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio_postgres::{Client, NoTls};

/// The eddy server and a client, against a fresh one-broker mock cluster
/// with `topics`, of one partition each (so their order is the order
/// written; the mock would create them with several on first write).
async fn start(topics: &[&str]) -> (MockCluster<'static, rdkafka::producer::DefaultProducerContext>, EddyServer, Client) {
    let cluster = MockCluster::new(1).expect("mock cluster");
    for t in topics {
        cluster.create_topic(t, 1, 1).unwrap();
    }
    let server = EddyServer::start_with(&["--kafka", &cluster.bootstrap_servers()]);
    let (client, conn) = tokio_postgres::connect(&server.conninfo(), NoTls).await.unwrap();
    tokio::spawn(conn);
    (cluster, server, client)
}

/// A message read back: key and value as JSON (None for a tombstone).
type Read = (Option<Value>, Option<Value>);

/// Reads `topic` from the beginning, read_committed, until `done` holds
/// for what was read (or panics after `secs` seconds), then `settle` more
/// (to see messages that should not be there).
fn read_topic(broker: &str, topic: &str, secs: u64, settle: Duration, done: impl Fn(&[Read]) -> bool) -> Vec<Read> {
    let consumer: BaseConsumer = ClientConfig::new().set("bootstrap.servers", broker).set("group.id", "check").set("isolation.level", "read_committed").set("enable.auto.commit", "false").set("auto.offset.reset", "earliest").create().unwrap();
    let md = consumer.fetch_metadata(Some(topic), Duration::from_secs(10)).unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in md.topics()[0].partitions() {
        tpl.add_partition_offset(topic, p.id(), Offset::Beginning).unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let json = |b: Option<&[u8]>| b.map(|b| serde_json::from_slice::<Value>(b).unwrap());
    let mut read = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut settled: Option<Instant> = None;
    loop {
        if let Some(m) = consumer.poll(Duration::from_millis(100)) {
            let m = m.unwrap();
            read.push((json(m.key()), json(m.payload())));
        }
        match settled {
            Some(at) if Instant::now() >= at => return read,
            Some(_) => {}
            None if done(&read) => settled = Some(Instant::now() + settle),
            None => assert!(Instant::now() < deadline, "{}: {} messages read, not what was expected: {:?}", topic, read.len(), read),
        }
    }
}

/// The sink's row of eddy_catalog.sinks: written_through, messages, errors, last_error.
async fn sink_stats(client: &Client, sink: &str) -> (i64, i64, i64, Option<String>) {
    let rows = query(client, &format!("SELECT written_through, messages, errors, last_error FROM eddy_catalog.sinks WHERE sink = '{}'", sink)).await;
    let r = &rows[0];
    let n = |i: usize| r[i].as_deref().unwrap().parse::<i64>().unwrap();
    (n(0), n(1), n(2), r[3].clone())
}

/// How often each `id` of a topic's upsert messages was written.
fn ids(read: &[Read]) -> BTreeMap<i64, usize> {
    let mut seen = BTreeMap::new();
    for (key, _) in read {
        *seen.entry(key.as_ref().unwrap()["id"].as_i64().unwrap()).or_insert(0) += 1;
    }
    seen
}

async fn insert_ids(client: &Client, range: std::ops::Range<i64>) {
    let values: Vec<String> = range.map(|i| format!("({}, 'v{}')", i, i)).collect();
    client.batch_execute(&format!("INSERT INTO t VALUES {}", values.join(","))).await.unwrap();
}

/// Rows inserted while the broker is down reach the topic once it is back;
/// meanwhile the sink reports the failure and its progress stays put.
async fn broker_outage(delivery: &str) {
    let (cluster, server, client) = start(&["out"]).await;
    let broker = cluster.bootstrap_servers();
    client.batch_execute(&format!("CREATE TABLE t (id int, v text); CREATE SINK s FROM t INTO KAFKA (TOPIC 'out') KEY (id) FORMAT JSON ENVELOPE UPSERT WITH (DELIVERY = '{}')", delivery)).await.unwrap();
    insert_ids(&client, 0..10).await;
    read_topic(&broker, "out", 30, Duration::ZERO, |r| r.len() >= 10);
    wait_for(&client, "SELECT messages FROM eddy_catalog.sinks", "10", 10).await;
    let (before, _, errors, _) = sink_stats(&client, "s").await;
    assert_eq!(errors, 0);

    cluster.broker_down(1).unwrap();
    let down = Instant::now();
    for i in 0..4 {
        insert_ids(&client, 10 + i * 5..15 + i * 5).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // The failure shows while it lasts: the sink's messages time out after
    // 10 s (a 30 s flush used to pass before anything was reported).
    let (through, errors, last_error) = loop {
        let (through, _, errors, last_error) = sink_stats(&client, "s").await;
        if errors > 0 {
            break (through, errors, last_error);
        }
        assert!(down.elapsed() < Duration::from_secs(25), "no error reported {:?} into the outage; log:\n{}", down.elapsed(), server.log_tail());
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    eprintln!("{}: first error {:?} into the outage: {:?}", delivery, down.elapsed(), last_error);
    assert!(last_error.is_some(), "errors {} without last_error", errors);
    assert_eq!(through, before, "written_through must not pass rows the broker has not acknowledged");
    // Still failing, still not past them.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (through, _, _, _) = sink_stats(&client, "s").await;
    assert_eq!(through, before);

    cluster.broker_up(1).unwrap();
    let up = Instant::now();
    insert_ids(&client, 30..40).await;
    let read = read_topic(&broker, "out", 60, Duration::from_secs(3), |r| ids(r).len() >= 40);
    eprintln!("{}: all 40 ids read {:?} after the broker came back, {} messages", delivery, up.elapsed(), read.len());
    let seen = ids(&read);
    assert_eq!(seen.keys().copied().collect::<Vec<_>>(), (0..40).collect::<Vec<_>>(), "every row arrives");
    for (id, (_, value)) in read.iter().map(|r| (r.0.as_ref().unwrap()["id"].as_i64().unwrap(), r)) {
        assert_eq!(value.as_ref().unwrap()["v"], format!("v{}", id));
    }
    if delivery == "exactly_once" {
        assert!(seen.values().all(|&n| n == 1), "exactly once: {:?}", seen.iter().filter(|(_, &n)| n > 1).collect::<Vec<_>>());
    }
    // Progress moves again; the failure stays as history.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (through, messages, errors_now, last_error) = sink_stats(&client, "s").await;
        if through > before && messages >= 40 {
            assert!(errors_now >= errors && last_error.is_some());
            break;
        }
        assert!(Instant::now() < deadline, "written_through {} (before the outage {}), messages {}", through, before, messages);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn exactly_once_sink_retries_through_a_broker_outage() {
    broker_outage("exactly_once").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn at_least_once_sink_retries_through_a_broker_outage() {
    broker_outage("at_least_once").await;
}

/// The broker refuses the sink's produce requests a few times: the rows
/// are not counted as written, and arrive once the broker accepts them.
async fn refused_deliveries(delivery: &str) {
    let (cluster, server, client) = start(&["out"]).await;
    let broker = cluster.bootstrap_servers();
    client.batch_execute(&format!("CREATE TABLE t (id int, v text); CREATE SINK s FROM t INTO KAFKA (TOPIC 'out') KEY (id) FORMAT JSON ENVELOPE UPSERT WITH (DELIVERY = '{}')", delivery)).await.unwrap();
    insert_ids(&client, 0..5).await;
    read_topic(&broker, "out", 30, Duration::ZERO, |r| r.len() >= 5);
    cluster.request_errors(RDKafkaApiKey::Produce, &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED; 3]);
    insert_ids(&client, 5..10).await;
    let read = read_topic(&broker, "out", 30, Duration::from_secs(2), |r| ids(r).len() >= 10);
    let seen = ids(&read);
    assert_eq!(seen.keys().copied().collect::<Vec<_>>(), (0..10).collect::<Vec<_>>(), "every row arrives; log:\n{}", server.log_tail());
    // A refused produce request appends nothing (one partition, one
    // request per attempt): a retry repeats nothing, even at least once.
    assert!(seen.values().all(|&n| n == 1), "{:?}", seen);
    let (_, messages, errors, last_error) = sink_stats(&client, "s").await;
    assert!(errors >= 1, "the refused deliveries are reported");
    // (The last failure may be a consequence of the refusals: librdkafka
    // fails sends to a topic it was refused until it refreshes metadata,
    // and purges a transaction whose sequence numbers the broker rejects.)
    assert!(last_error.as_deref().is_some_and(|e| e.contains("\"out\"")), "{:?}; log:\n{}", last_error, server.log_tail());
    assert!(server.log_tail().contains("Topic authorization failed"), "the first failure is the refusal; log:\n{}", server.log_tail());
    assert_eq!(messages, 10);
}

#[tokio::test(flavor = "multi_thread")]
async fn exactly_once_sink_retries_refused_deliveries() {
    refused_deliveries("exactly_once").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn at_least_once_sink_retries_refused_deliveries() {
    refused_deliveries("at_least_once").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn debezium_without_key_writes_every_changed_row() {
    let (cluster, _server, client) = start(&["cdc"]).await;
    let broker = cluster.bootstrap_servers();
    client.batch_execute("CREATE TABLE t (id int, v text); CREATE SINK s FROM t INTO KAFKA (TOPIC 'cdc') FORMAT JSON ENVELOPE DEBEZIUM").await.unwrap();
    // One statement, one timestamp: four rows (one of them twice).
    client.batch_execute("INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c'), (3, 'c')").await.unwrap();
    client.batch_execute("UPDATE t SET v = 'B' WHERE id = 2").await.unwrap();
    client.batch_execute("DELETE FROM t WHERE id IN (1, 3)").await.unwrap();
    let read = read_topic(&broker, "cdc", 30, Duration::from_secs(2), |r| r.len() >= 9);
    let row = |id: i64, v: &str| serde_json::json!({"id": id, "v": v});
    let msg = |before: Option<Value>, after: Option<Value>| (None, Some(serde_json::json!({"before": before, "after": after})));
    let mut expected = vec![msg(None, Some(row(1, "a"))), msg(None, Some(row(2, "b"))), msg(None, Some(row(3, "c"))), msg(None, Some(row(3, "c")))];
    expected.extend([msg(Some(row(2, "b")), None), msg(None, Some(row(2, "B")))]);
    expected.extend([msg(Some(row(1, "a")), None), msg(Some(row(3, "c")), None), msg(Some(row(3, "c")), None)]);
    assert_eq!(read, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn sink_key_with_several_rows_is_reported_and_never_deleted_early() {
    let (cluster, _server, client) = start(&["up", "dbz"]).await;
    let broker = cluster.bootstrap_servers();
    client
        .batch_execute(
            "CREATE TABLE g (id int, grp text);
             CREATE SINK up FROM g INTO KAFKA (TOPIC 'up') KEY (grp) FORMAT JSON ENVELOPE UPSERT;
             CREATE SINK dbz FROM g INTO KAFKA (TOPIC 'dbz') KEY (grp) FORMAT JSON ENVELOPE DEBEZIUM;",
        )
        .await
        .unwrap();
    client.batch_execute("INSERT INTO g VALUES (1, 'a'), (2, 'b'), (3, 'a')").await.unwrap();
    // Key a has two rows: one message per key (the last row added), and an error.
    let key = |g: &str| Some(serde_json::json!({"grp": g}));
    let row = |id: i64, g: &str| serde_json::json!({"id": id, "grp": g});
    let up = read_topic(&broker, "up", 30, Duration::from_secs(1), |r| r.len() >= 2);
    assert_eq!(up, vec![(key("a"), Some(row(3, "a"))), (key("b"), Some(row(2, "b")))]);
    for sink in ["up", "dbz"] {
        wait_for(&client, &format!("SELECT errors FROM eddy_catalog.sinks WHERE sink = '{}'", sink), "1", 10).await;
        let (_, _, errors, last_error) = sink_stats(&client, sink).await;
        assert_eq!(errors, 1, "{}", sink);
        assert_eq!(last_error.as_deref(), Some(format!("sink \"{}\": key {{\"grp\":\"a\"}} has 2 rows: a sink KEY must identify one row", sink).as_str()));
    }
    // Row 3 goes, row 1 still has key a: no tombstone, no "after": null.
    // Then c is added (a marker: what came before it is all there is), and
    // only then the last row of key a goes.
    client.batch_execute("DELETE FROM g WHERE id = 3").await.unwrap();
    client.batch_execute("INSERT INTO g VALUES (4, 'c')").await.unwrap();
    client.batch_execute("DELETE FROM g WHERE id = 1").await.unwrap();
    let up = read_topic(&broker, "up", 30, Duration::from_secs(2), |r| r.len() >= 4);
    assert_eq!(up, vec![(key("a"), Some(row(3, "a"))), (key("b"), Some(row(2, "b"))), (key("c"), Some(row(4, "c"))), (key("a"), None)]);
    let after = |before: Option<Value>, after: Option<Value>| Some(serde_json::json!({"before": before, "after": after}));
    let dbz = read_topic(&broker, "dbz", 30, Duration::from_secs(2), |r| r.len() >= 4);
    assert_eq!(dbz, vec![(key("a"), after(None, Some(row(3, "a")))), (key("b"), after(None, Some(row(2, "b")))), (key("c"), after(None, Some(row(4, "c")))), (key("a"), after(Some(row(1, "a")), None))]);
    // The delete of row 3 is reported too: the topic kept its value.
    let (_, _, errors, last_error) = sink_stats(&client, "up").await;
    assert_eq!(errors, 2);
    assert!(last_error.as_deref().is_some_and(|e| e.contains("had 2 rows, now 1")), "{:?}", last_error);
}

#[tokio::test(flavor = "multi_thread")]
async fn sink_of_a_view_with_errors_reports_them() {
    let (cluster, _server, client) = start(&["q"]).await;
    let broker = cluster.bootstrap_servers();
    client
        .batch_execute(
            "CREATE TABLE n (a int, b int);
             CREATE MATERIALIZED VIEW q AS SELECT a, 10 / b AS r FROM n;
             CREATE SINK s FROM q INTO KAFKA (TOPIC 'q') KEY (a) FORMAT JSON ENVELOPE UPSERT;",
        )
        .await
        .unwrap();
    client.batch_execute("INSERT INTO n VALUES (1, 1), (2, 0), (3, 5)").await.unwrap();
    let key = |a: i64| Some(serde_json::json!({"a": a}));
    let row = |a: i64, r: i64| Some(serde_json::json!({"a": a, "r": r}));
    let read = read_topic(&broker, "q", 30, Duration::from_secs(1), |r| r.len() >= 2);
    assert_eq!(read, vec![(key(1), row(1, 10)), (key(3), row(3, 2))]);
    // The row that failed is not in the topic, and the sink says so.
    wait_for(&client, "SELECT errors FROM eddy_catalog.sinks", "1", 10).await;
    let (_, _, _, last_error) = sink_stats(&client, "s").await;
    assert_eq!(last_error.as_deref(), Some("sink \"s\": the view has 1 row(s) that failed to evaluate (division by zero), missing from the topic"));
    // The bad row goes: nothing new to report. Another comes: reported.
    client.batch_execute("DELETE FROM n WHERE b = 0").await.unwrap();
    client.batch_execute("INSERT INTO n VALUES (4, 2)").await.unwrap();
    read_topic(&broker, "q", 30, Duration::ZERO, |r| r.len() >= 3);
    assert_eq!(sink_stats(&client, "s").await.2, 1);
    client.batch_execute("INSERT INTO n VALUES (5, 0), (6, 0)").await.unwrap();
    wait_for(&client, "SELECT errors FROM eddy_catalog.sinks", "2", 10).await;
    assert!(sink_stats(&client, "s").await.3.is_some_and(|e| e.starts_with("sink \"s\": the view has 2 row(s) that failed")));
}
