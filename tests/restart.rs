//! Restarts: a server killed with SIGKILL and started again on the same
//! data directory has every object and table row back, keeps maintaining
//! its views, reads its Kafka sources again, and its keyed sinks write
//! only what changed. After each restart every materialized view is
//! compared with its query run from scratch over the tables (a plain
//! SELECT), and with what the server answered before; the sink's topic,
//! read committed and folded by key, with its view.

mod server;
mod sql_client;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::{Message, Offset, TopicPartitionList};
use std::collections::BTreeMap;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;
use server::EddyServer;
use sql_client::{query, wait_for};
use std::time::Duration;
use tokio_postgres::{Client, NoTls};

/// Each materialized view of the test and the query that defines it.
const VIEWS: &[(&str, &str)] = &[
    ("per_customer", "SELECT c.name, count(o.id) AS orders, sum(o.amount) AS total FROM customers c LEFT JOIN orders o ON o.customer = c.id GROUP BY c.name"),
    ("big_orders", "SELECT id, amount, note ->> 'tag' AS tag FROM orders WHERE amount > 50"),
    ("events_per_kind", "SELECT kind, count(*) AS n, sum(v) AS v FROM events GROUP BY kind"),
    // Equal rows of a table without a key keep their multiplicity.
    ("dup_counts", "SELECT x, count(*) AS n FROM dups GROUP BY x"),
];

async fn connect(server: &EddyServer) -> Client {
    let (client, conn) = tokio_postgres::connect(&server.conninfo(), NoTls).await.expect("connect");
    tokio::spawn(conn);
    client
}

/// Every view's rows, checked against its query run from scratch.
async fn views_checked(client: &Client) -> Vec<Vec<Vec<Option<String>>>> {
    let mut all = Vec::new();
    for (name, body) in VIEWS {
        let view = query(client, &format!("SELECT * FROM {} ORDER BY 1, 2", name)).await;
        let scratch = query(client, &format!("SELECT * FROM ({}) q ORDER BY 1, 2", body)).await;
        assert_eq!(view, scratch, "{} differs from its query run from scratch", name);
        all.push(view);
    }
    all
}

/// The sink topic's messages (key, value), read committed, in order.
fn topic_messages(broker: &str, topic: &str) -> Vec<(String, Option<String>)> {
    let consumer: BaseConsumer = ClientConfig::new().set("bootstrap.servers", broker).set("group.id", "restart-check").set("isolation.level", "read_committed").set("enable.auto.commit", "false").create().unwrap();
    let (_, end) = consumer.fetch_watermarks(topic, 0, Duration::from_secs(10)).unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning).unwrap();
    consumer.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while (out.len() as i64) < end {
        assert!(std::time::Instant::now() < deadline, "read {} of {} messages of {}", out.len(), end, topic);
        if let Some(m) = consumer.poll(Duration::from_millis(100)) {
            let m = m.unwrap();
            out.push((String::from_utf8(m.key().unwrap().to_vec()).unwrap(), m.payload().map(|v| String::from_utf8(v.to_vec()).unwrap())));
        }
    }
    out
}

/// A sink of the test: its view, topic, key column and a value column.
struct Sink {
    view: &'static str,
    topic: &'static str,
    key: &'static str,
    value: &'static str,
    envelope: &'static str,
}

const SINKS: &[Sink] = &[
    Sink { view: "per_customer", topic: "per-customer", key: "name", value: "orders", envelope: "UPSERT" },
    // Over a source: created after the source caught up on a restart.
    Sink { view: "events_per_kind", topic: "per-kind", key: "kind", value: "n", envelope: "UPSERT" },
    // Changes with the row before: a restart writes each changed key's
    // change from the row in the topic.
    Sink { view: "per_customer", topic: "per-customer-changes", key: "name", value: "orders", envelope: "DEBEZIUM" },
];

/// A sink topic folded by key: per key column, the value column.
fn folded(sink: &Sink, messages: &[(String, Option<String>)]) -> BTreeMap<String, serde_json::Value> {
    let key_of = |k: &str| serde_json::from_str::<serde_json::Value>(k).unwrap()[sink.key].as_str().unwrap().to_string();
    let mut out = BTreeMap::new();
    for (k, v) in messages {
        match v {
            Some(v) => {
                let v: serde_json::Value = serde_json::from_str(v).unwrap();
                let row = if sink.envelope == "DEBEZIUM" { v["after"].clone() } else { v };
                match row.is_null() {
                    true => out.remove(&key_of(k)),
                    false => out.insert(key_of(k), row[sink.value].clone()),
                }
            }
            None => out.remove(&key_of(k)),
        };
    }
    out
}

/// Waits until each sink topic, folded by key, equals its view and has
/// stopped growing: how many messages each holds.
async fn sink_checked(client: &Client, broker: &str) -> Vec<usize> {
    let mut counts = Vec::new();
    for sink in SINKS {
        let sql = format!("SELECT {}, {} FROM {}", sink.key, sink.value, sink.view);
        let view: BTreeMap<String, serde_json::Value> = query(client, &sql).await.into_iter().map(|r| (r[0].clone().unwrap(), serde_json::json!(r[1].as_ref().unwrap().parse::<i64>().unwrap()))).collect();
        let start = std::time::Instant::now();
        loop {
            let messages = topic_messages(broker, sink.topic);
            if folded(sink, &messages) == view {
                tokio::time::sleep(Duration::from_millis(700)).await;
                if topic_messages(broker, sink.topic).len() == messages.len() {
                    counts.push(messages.len());
                    break;
                }
            }
            assert!(start.elapsed() < Duration::from_secs(30), "topic {} folded by key differs from {}:\n{:?}\n{:?}", sink.topic, sink.view, folded(sink, &messages), view);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    counts
}

fn produce(broker: &str, from: usize, to: usize) {
    let producer: BaseProducer = ClientConfig::new().set("bootstrap.servers", broker).create().unwrap();
    for i in from..to {
        let payload = format!("{{\"kind\": \"k{}\", \"v\": {}}}", i % 5, i);
        producer.send(BaseRecord::<(), _>::to("events").payload(&payload)).unwrap();
        producer.poll(Duration::ZERO);
    }
    producer.flush(Duration::from_secs(30)).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn objects_rows_and_sources_survive_sigkill() {
    let dir = std::env::temp_dir().join(format!("eddy-restart-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cluster = MockCluster::new(1).expect("mock cluster");
    let broker = cluster.bootstrap_servers();
    cluster.create_topic("events", 2, 1).unwrap();
    for sink in SINKS {
        cluster.create_topic(sink.topic, 1, 1).unwrap();
    }
    produce(&broker, 0, 20_000);
    let args = ["--kafka", broker.as_str()];

    // First life: objects, writes in and out of transactions, a rolled
    // back transaction, a refused write and a dropped table.
    let server = EddyServer::start_in(&dir, &args, false);
    let client = connect(&server).await;
    client
        .batch_execute(
            "CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);
             CREATE TABLE orders (id bigint PRIMARY KEY, customer int, amount numeric(10,2), at timestamptz, note jsonb);
             CREATE TABLE dups (x int);
             CREATE SOURCE events (kind text, v bigint) FROM KAFKA (TOPIC 'events') FORMAT JSON;",
        )
        .await
        .unwrap();
    for (name, body) in VIEWS {
        client.batch_execute(&format!("CREATE MATERIALIZED VIEW {} AS {}", name, body)).await.unwrap();
    }
    for sink in SINKS {
        let name = format!("{}_sink", sink.topic.replace('-', "_"));
        client.batch_execute(&format!("CREATE SINK {} FROM {} INTO KAFKA (TOPIC '{}') KEY ({}) FORMAT JSON ENVELOPE {}", name, sink.view, sink.topic, sink.key, sink.envelope)).await.unwrap();
    }
    client.batch_execute("CREATE VIEW recent AS SELECT id FROM orders WHERE at > '2024-01-01'; CREATE INDEX orders_by_customer ON big_orders (id)").await.unwrap();
    client.batch_execute("INSERT INTO customers VALUES (1, 'ann'), (2, 'bob'), (3, 'cy'); INSERT INTO dups VALUES (1), (1), (1), (2)").await.unwrap();
    let insert = client.prepare("INSERT INTO orders VALUES ($1, $2, $3::text::numeric, now(), $4::jsonb)").await.unwrap();
    for i in 0..60i64 {
        let note = serde_json::json!({"tag": format!("t{}", i % 4), "it's": "quoted ' text"});
        client.execute(&insert, &[&i, &((i % 3) as i32 + 1), &format!("{}.{:02}", i * 7 % 100, i % 100), &note]).await.unwrap();
    }
    client.batch_execute("BEGIN; UPDATE orders SET amount = amount + 1 WHERE customer = 2; DELETE FROM orders WHERE id % 10 = 0; COMMIT").await.unwrap();
    client.batch_execute("BEGIN; DELETE FROM orders; ROLLBACK").await.unwrap();
    assert!(client.batch_execute("INSERT INTO customers VALUES (1, 'again')").await.is_err(), "a duplicate key is refused");
    for sql in ["CREATE TABLE scratch (x int)", "INSERT INTO scratch VALUES (1)", "DROP TABLE scratch"] {
        client.batch_execute(sql).await.unwrap();
    }
    wait_for(&client, "SELECT count(*) FROM events", "20000", 60).await;
    // A table made by CREATE TABLE AS: its rows are written, not recomputed.
    client.batch_execute("CREATE TABLE order_snapshot AS SELECT customer, count(*) AS n FROM orders GROUP BY customer").await.unwrap();
    client.batch_execute("DELETE FROM orders WHERE id = 59").await.unwrap();
    let snapshot = query(&client, "SELECT * FROM order_snapshot ORDER BY 1").await;
    assert_eq!(snapshot.len(), 3);
    let before = views_checked(&client).await;
    let written = sink_checked(&client, &broker).await;
    assert!(written[0] > 3, "the sink wrote each change: {:?} messages", written);
    drop(client);
    drop(server); // SIGKILL

    // Second life: everything is back, the source read its topic again.
    let server = EddyServer::start_in(&dir, &args, false);
    let client = connect(&server).await;
    wait_for(&client, "SELECT count(*) FROM events", "20000", 60).await;
    assert!(server.log_tail().contains("compacted"), "the restore compacts the log:\n{}", server.log_tail());
    let after = views_checked(&client).await;
    assert_eq!(before, after, "the views after the restart differ from before it");
    assert_eq!(query(&client, "SELECT * FROM order_snapshot ORDER BY 1").await, snapshot, "CREATE TABLE AS keeps the rows it was made with");
    assert_eq!(sink_checked(&client, &broker).await, written, "the restarted sink wrote messages for a view that did not change");
    assert_eq!(query(&client, "SELECT count(*) FROM recent").await[0][0].as_deref(), Some("53"));
    assert!(client.batch_execute("SELECT * FROM scratch").await.is_err(), "the dropped table stays dropped");
    let dup = client.batch_execute("INSERT INTO customers VALUES (2, 'again')").await.unwrap_err();
    assert_eq!(dup.code().map(|c| c.code()), Some("23505"), "the primary key index is rebuilt: {:?}", dup);
    // The views keep being maintained, over the restored rows and new ones.
    client.batch_execute("INSERT INTO customers VALUES (4, 'di'); UPDATE orders SET customer = 4 WHERE id < 5; DELETE FROM orders WHERE id = 7").await.unwrap();
    produce(&broker, 20_000, 25_000);
    wait_for(&client, "SELECT count(*) FROM events", "25000", 60).await;
    let changed = views_checked(&client).await;
    assert_ne!(changed, after);
    let rewritten = sink_checked(&client, &broker).await;
    assert!(rewritten.iter().zip(&written).all(|(a, b)| a > b), "the changes after the restart reached the topics: {:?} after {:?}", rewritten, written);
    drop(client);
    drop(server);

    // Third life: the writes of the second are back too.
    let server = EddyServer::start_in(&dir, &args, false);
    let client = connect(&server).await;
    wait_for(&client, "SELECT count(*) FROM events", "25000", 60).await;
    assert_eq!(views_checked(&client).await, changed);
    assert_eq!(sink_checked(&client, &broker).await, rewritten);
    drop(client);
    drop(server);
    std::fs::remove_dir_all(&dir).unwrap();
}
