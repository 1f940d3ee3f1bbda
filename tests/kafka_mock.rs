//! Kafka end to end against librdkafka's mock cluster (it supports
//! transactions, which tansu does not): a source with malformed records,
//! a join + aggregate view, and a transactional upsert sink read back with
//! isolation read_committed.

mod server;
mod sql_client;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use server::EddyServer;
use sql_client::{query, wait_for};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio_postgres::NoTls;

/// Reads every partition of `topic` from the beginning.
fn assign_all(consumer: &BaseConsumer, topic: &str) {
    let md = consumer.fetch_metadata(Some(topic), Duration::from_secs(10)).unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in md.topics()[0].partitions() {
        tpl.add_partition_offset(topic, p.id(), Offset::Beginning).unwrap();
    }
    consumer.assign(&tpl).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn source_view_and_transactional_sink() {
    let cluster = MockCluster::new(1).expect("mock cluster");
    let broker = cluster.bootstrap_servers();
    cluster.create_topic("orders", 8, 1).unwrap();
    let server = EddyServer::start_with(&["--kafka", &broker]);
    let (client, conn) = tokio_postgres::connect(&server.conninfo(), NoTls).await.unwrap();
    tokio::spawn(conn);

    // 20k events over 8 partitions, every 100th malformed.
    let producer: BaseProducer = ClientConfig::new().set("bootstrap.servers", &broker).create().unwrap();
    let mut expected: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let mut malformed = 0;
    let n = 20_000;
    for i in 0..n {
        let customer = format!("c{}", i % 37);
        let payload = if i % 100 == 7 {
            malformed += 1;
            match i % 3 {
                0 => "{\"order_id\": \"o-broken\", \"amount\":".to_string(),
                1 => format!("{{\"order_id\": \"o{}\", \"customer\": \"{}\", \"amount\": \"lots\"}}", i, customer),
                _ => "\u{1}\u{2}binary".to_string(),
            }
        } else {
            let e = expected.entry(customer.clone()).or_default();
            e.0 += 1;
            e.1 += (i % 50) as i64;
            format!("{{\"order_id\": \"o{}\", \"customer\": \"{}\", \"amount\": {}}}", i, customer, i % 50)
        };
        let key = format!("o{}", i);
        let mut rec = Some(BaseRecord::to("orders").key(&key).payload(&payload).partition((i % 8) as i32));
        while let Some(r) = rec.take() {
            if let Err((_, r)) = producer.send(r) {
                producer.poll(Duration::from_millis(10));
                rec = Some(r);
            }
        }
    }
    producer.flush(Duration::from_secs(30)).unwrap();

    sql_client::create_orders_pipeline(&client).await;
    let sink = client.simple_query("CREATE SINK per_customer_out FROM per_customer INTO KAFKA (TOPIC 'per-customer') KEY (id) FORMAT JSON ENVELOPE UPSERT WITH (DELIVERY = 'exactly_once')").await;
    sink.expect("the mock cluster supports transactions");

    // CREATE SOURCE answered once what the topic held was read: no waiting
    // for the source or its error relation (the catalog's statistics are
    // refreshed on their own schedule).
    let good = n - malformed;
    assert_eq!(query(&client, "SELECT count(*) FROM orders").await[0][0].as_deref(), Some(good.to_string().as_str()));
    assert_eq!(query(&client, "SELECT count(*) FROM orders_errors").await[0][0].as_deref(), Some(malformed.to_string().as_str()));
    wait_for(&client, "SELECT sum(records) FROM eddy_catalog.source_partitions", &n.to_string(), 60).await;

    // The view equals the from-scratch answer.
    let rows = query(&client, "SELECT id, orders, total FROM per_customer ORDER BY id").await;
    let got: BTreeMap<String, (i64, i64)> = rows.iter().map(|r| (r[0].clone().unwrap(), (r[1].as_ref().unwrap().parse().unwrap(), r[2].as_ref().unwrap().parse().unwrap()))).collect();
    assert_eq!(got, expected);

    // Every malformed record is in the error relation with its offset, and in the DLQ.
    let errs = query(&client, "SELECT partition, \"offset\", error FROM orders_errors").await;
    assert!(errs.iter().all(|r| r[1].is_some() && r[2].as_ref().is_some_and(|e| !e.is_empty())), "{:?}", &errs[..3]);

    // The sink topic, read committed and folded by key, equals the view.
    let consumer: BaseConsumer = ClientConfig::new().set("bootstrap.servers", &broker).set("group.id", "check").set("isolation.level", "read_committed").set("enable.auto.commit", "false").create().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut folded: BTreeMap<String, Option<serde_json::Value>> = BTreeMap::new();
    assign_all(&consumer, "per-customer");
    loop {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            let key: serde_json::Value = serde_json::from_slice(m.key().unwrap()).unwrap();
            let value = m.payload().map(|p| serde_json::from_slice::<serde_json::Value>(p).unwrap());
            folded.insert(key["id"].as_str().unwrap().to_string(), value);
        }
        let view: BTreeMap<String, (i64, i64)> = folded.iter().filter_map(|(k, v)| v.as_ref().map(|v| (k.clone(), (v["orders"].as_i64().unwrap(), v["total"].as_i64().unwrap())))).collect();
        if view == expected {
            break;
        }
        if Instant::now() > deadline {
            panic!("sink topic does not converge to the view: {} keys; sink status {:?}", view.len(), query(&client, "SELECT * FROM eddy_catalog.sinks").await);
        }
    }
    // Every DLQ record carries its source offset.
    let dlq: BaseConsumer = ClientConfig::new().set("bootstrap.servers", &broker).set("group.id", "dlq").create().unwrap();
    assign_all(&dlq, "orders-dlq");
    let mut seen = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen < malformed && Instant::now() < deadline {
        if let Some(Ok(m)) = dlq.poll(Duration::from_millis(100)) {
            use rdkafka::message::Headers;
            let h = m.headers().expect("DLQ headers");
            assert!(h.iter().any(|h| h.key == "eddy.source.offset"));
            seen += 1;
        }
    }
    assert_eq!(seen, malformed, "every malformed record reaches the dead-letter topic");
}

/// Produces `n` well-formed events numbered from `start` to `topic`.
fn produce_events(producer: &BaseProducer, topic: &str, start: u64, n: u64) {
    for i in start..start + n {
        let payload = format!("{{\"order_id\": \"o{}\", \"customer\": \"c{}\", \"amount\": {}}}", i, i % 37, i % 50);
        let key = format!("o{}", i);
        let mut rec = Some(BaseRecord::to(topic).key(&key).payload(&payload).partition((i % 4) as i32));
        while let Some(r) = rec.take() {
            if let Err((_, r)) = producer.send(r) {
                producer.poll(Duration::from_millis(10));
                rec = Some(r);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn broker_restart_mid_stream_loses_and_doubles_nothing() {
    let cluster = MockCluster::new(1).expect("mock cluster");
    let broker = cluster.bootstrap_servers();
    cluster.create_topic("events", 4, 1).unwrap();
    let server = EddyServer::start_with(&["--kafka", &broker]);
    let (client, conn) = tokio_postgres::connect(&server.conninfo(), NoTls).await.unwrap();
    tokio::spawn(conn);
    client
        .batch_execute(
            "CREATE SOURCE events (order_id text, customer text, amount int) FROM KAFKA (TOPIC 'events') FORMAT JSON;
             CREATE MATERIALIZED VIEW totals AS SELECT count(*) AS n, count(DISTINCT order_id) AS ids, sum(amount) AS total FROM events;",
        )
        .await
        .unwrap();
    let producer: BaseProducer = ClientConfig::new().set("bootstrap.servers", &broker).set("message.timeout.ms", "120000").create().unwrap();
    produce_events(&producer, "events", 0, 5_000);
    producer.flush(Duration::from_secs(30)).unwrap();
    wait_for(&client, "SELECT n FROM totals", "5000", 60).await;

    // Take the broker away while more events are in flight, then bring it back.
    cluster.broker_down(1).unwrap();
    produce_events(&producer, "events", 5_000, 5_000);
    tokio::time::sleep(Duration::from_secs(3)).await;
    cluster.broker_up(1).unwrap();
    produce_events(&producer, "events", 10_000, 5_000);
    producer.flush(Duration::from_secs(60)).unwrap();

    let expected_total: u64 = (0..15_000u64).map(|i| i % 50).sum();
    wait_for(&client, "SELECT n FROM totals", "15000", 60).await;
    let row = &query(&client, "SELECT n, ids, total FROM totals").await[0];
    assert_eq!(row, &vec![Some("15000".to_string()), Some("15000".to_string()), Some(expected_total.to_string())], "nothing lost or doubled");
}

fn send_kv(producer: &BaseProducer, topic: &str, key: &str, value: Option<&str>) {
    let mut rec: BaseRecord<str, str> = BaseRecord::to(topic).key(key);
    if let Some(v) = value {
        rec = rec.payload(v);
    }
    producer.send(rec).map_err(|(e, _)| e).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn upsert_and_debezium_envelopes() {
    let cluster = MockCluster::new(1).expect("mock cluster");
    let broker = cluster.bootstrap_servers();
    cluster.create_topic("stock", 2, 1).unwrap();
    cluster.create_topic("cdc", 1, 1).unwrap();
    let server = EddyServer::start_with(&["--kafka", &broker]);
    let (client, conn) = tokio_postgres::connect(&server.conninfo(), NoTls).await.unwrap();
    tokio::spawn(conn);
    let producer: BaseProducer = ClientConfig::new().set("bootstrap.servers", &broker).create().unwrap();
    // Upsert: the latest value per key wins; a null value deletes the key.
    send_kv(&producer, "stock", "p1", Some(r#"{"product": "p1", "qty": 5}"#));
    send_kv(&producer, "stock", "p2", Some(r#"{"product": "p2", "qty": 7}"#));
    send_kv(&producer, "stock", "p1", Some(r#"{"product": "p1", "qty": 3}"#));
    send_kv(&producer, "stock", "p3", Some(r#"{"product": "p3", "qty": 1}"#));
    send_kv(&producer, "stock", "p2", None);
    // Debezium: before/after pairs become retractions and insertions.
    send_kv(&producer, "cdc", "1", Some(r#"{"before": null, "after": {"id": 1, "name": "ada"}}"#));
    send_kv(&producer, "cdc", "2", Some(r#"{"before": null, "after": {"id": 2, "name": "bob"}}"#));
    send_kv(&producer, "cdc", "1", Some(r#"{"payload": {"before": {"id": 1, "name": "ada"}, "after": {"id": 1, "name": "ada l."}}}"#));
    send_kv(&producer, "cdc", "2", Some(r#"{"before": {"id": 2, "name": "bob"}, "after": null}"#));
    producer.flush(Duration::from_secs(10)).unwrap();
    client
        .batch_execute(
            "CREATE SOURCE stock (product text, qty int) FROM KAFKA (TOPIC 'stock') FORMAT JSON ENVELOPE UPSERT INCLUDE KEY, PARTITION;
             CREATE SOURCE people (id int, name text) FROM KAFKA (TOPIC 'cdc') FORMAT JSON ENVELOPE DEBEZIUM;",
        )
        .await
        .unwrap();
    wait_for(&client, "SELECT sum(records) FROM eddy_catalog.source_partitions", "9", 60).await;
    let stock = query(&client, "SELECT product, qty, key FROM stock ORDER BY product").await;
    assert_eq!(stock, vec![vec![Some("p1".into()), Some("3".into()), Some("p1".into())], vec![Some("p3".into()), Some("1".into()), Some("p3".into())]]);
    let people = query(&client, "SELECT id, name FROM people").await;
    assert_eq!(people, vec![vec![Some("1".into()), Some("ada l.".into())]]);
    // APPEND refuses a relation that can retract, at CREATE time.
    let err = client.simple_query("CREATE SINK s FROM stock INTO KAFKA (TOPIC 'out') FORMAT JSON ENVELOPE APPEND").await.unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("0A000"), "{:?}", err);
}
