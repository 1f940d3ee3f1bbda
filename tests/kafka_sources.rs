//! Kafka sources as users write them, against librdkafka's mock cluster:
//! what CREATE SOURCE says when the topic or broker is missing (and that
//! it holds up no other session meanwhile), records kept whole without a
//! column list, quoted CSV, Debezium changes of rows the source never
//! read, and a burst of bad records with a dead-letter topic.

mod server;
mod sql_client;

use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;
use server::EddyServer;
use sql_client::{query, wait_for};
use std::time::{Duration, Instant};
use tokio_postgres::{Client, NoTls};

async fn connect(server: &EddyServer) -> Client {
    let (client, conn) = tokio_postgres::connect(&server.conninfo(), NoTls).await.unwrap();
    tokio::spawn(conn);
    client
}

fn produce(producer: &BaseProducer, topic: &str, key: Option<&str>, value: &str) {
    let mut rec: BaseRecord<str, str> = BaseRecord::to(topic).payload(value);
    if let Some(k) = key {
        rec = rec.key(k);
    }
    producer.send(rec).map_err(|(e, _)| e).unwrap();
}

fn code(e: &tokio_postgres::Error) -> Option<&str> {
    e.code().map(|c| c.code())
}

fn rows(v: &[&[&str]]) -> Vec<Vec<Option<String>>> {
    v.iter().map(|r| r.iter().map(|s| if *s == "NULL" { None } else { Some(s.to_string()) }).collect()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_topics_and_brokers_get_clear_errors_without_blocking_others() {
    let cluster = MockCluster::new(1).expect("mock cluster");
    let broker = cluster.bootstrap_servers();
    let server = EddyServer::start_with(&["--kafka", &broker]);
    let a = connect(&server).await;
    let b = connect(&server).await;

    let err = a.simple_query("CREATE SOURCE x FROM KAFKA (TOPIC 'nosuch') FORMAT JSON").await.unwrap_err();
    assert_eq!(code(&err), Some("42704"), "{:?}", err);
    let err = a.simple_query("CREATE SOURCE x FROM KAFKA (TOPIC '') FORMAT JSON").await.unwrap_err();
    assert_eq!(code(&err), Some("22023"), "{:?}", err);
    let err = a.simple_query("CREATE SOURCE x (partition int) FROM KAFKA (TOPIC 't') FORMAT JSON INCLUDE PARTITION").await.unwrap_err();
    assert_eq!(code(&err), Some("42701"), "{:?}", err);
    let err = a.simple_query("DROP SOURCE").await.unwrap_err();
    assert_eq!(code(&err), Some("42601"), "{:?}", err);
    // IF NOT EXISTS: a second run of a deploy script leaves the source be.
    cluster.create_topic("present", 1, 1).unwrap();
    for _ in 0..2 {
        a.batch_execute("CREATE SOURCE IF NOT EXISTS present FROM KAFKA (TOPIC 'present') FORMAT JSON").await.unwrap();
    }
    let err = a.simple_query("CREATE SOURCE present FROM KAFKA (TOPIC 'present') FORMAT JSON").await.unwrap_err();
    assert_eq!(code(&err), Some("42P07"), "{:?}", err);

    // A broker nobody answers at (a non-routable address): the CREATE waits
    // for its metadata timeout, while another session goes on.
    let create = tokio::spawn(async move { a.simple_query("CREATE SOURCE y FROM KAFKA (TOPIC 't', BROKER '10.255.255.1:9092') FORMAT JSON").await.map(|_| ()) });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    assert_eq!(query(&b, "SELECT 1").await, rows(&[&["1"]]));
    let waited = started.elapsed();
    let err = create.await.unwrap().unwrap_err();
    assert_eq!(code(&err), Some("08006"), "{:?}", err);
    assert!(waited < Duration::from_secs(3), "SELECT 1 waited {:?} for the other session's CREATE SOURCE", waited);
}

#[tokio::test(flavor = "multi_thread")]
async fn records_are_decoded_as_declared() {
    let cluster = MockCluster::new(1).expect("mock cluster");
    let broker = cluster.bootstrap_servers();
    for t in ["docs", "csv", "cdc", "cdc2", "up"] {
        cluster.create_topic(t, 1, 1).unwrap();
    }
    let server = EddyServer::start_with(&["--kafka", &broker]);
    let c = connect(&server).await;
    let producer: BaseProducer = ClientConfig::new().set("bootstrap.servers", &broker).create().unwrap();

    // No column list: the record whole, even one with a field named `data`.
    produce(&producer, "docs", None, r#"{"data": {"x": 1}, "other": 2}"#);
    produce(&producer, "docs", None, r#"{"z": 1}"#);
    // CSV as RFC 4180 quotes it; an empty unquoted field is NULL.
    produce(&producer, "csv", None, "1,plain,2.5");
    produce(&producer, "csv", None, r#"2,"with, comma",3"#);
    produce(&producer, "csv", None, r#"3,"say ""hi""",4"#);
    produce(&producer, "csv", None, r#"4,"",5"#);
    produce(&producer, "csv", None, "5,,6");
    produce(&producer, "csv", None, r#"6,"open,7"#);
    // Debezium: the delete of a row never read, a create delivered twice,
    // then an update.
    produce(&producer, "cdc", Some("99"), r#"{"before": {"id": 99, "v": "never"}, "after": null}"#);
    produce(&producer, "cdc", Some("1"), r#"{"before": null, "after": {"id": 1, "v": "a"}}"#);
    produce(&producer, "cdc", Some("1"), r#"{"before": null, "after": {"id": 1, "v": "a"}}"#);
    produce(&producer, "cdc", Some("2"), r#"{"before": null, "after": {"id": 2, "v": "b"}}"#);
    produce(&producer, "cdc", Some("1"), r#"{"before": {"id": 1, "v": "a"}, "after": {"id": 1, "v": "a2"}}"#);
    // The same without record keys.
    produce(&producer, "cdc2", None, r#"{"before": {"id": 7, "v": "gone"}, "after": null}"#);
    produce(&producer, "cdc2", None, r#"{"before": null, "after": {"id": 3, "v": "c"}}"#);
    produce(&producer, "cdc2", None, r#"{"before": {"id": 3, "v": "c"}, "after": {"id": 3, "v": "c2"}}"#);
    // Upsert: a key whose latest value does not decode has no row (its
    // earlier value is not its value any more); the record is an error.
    produce(&producer, "up", Some("a"), r#"{"v": 1}"#);
    produce(&producer, "up", Some("c"), r#"{"v": 5}"#);
    produce(&producer, "up", Some("c"), r#"{"v": "bad"}"#);
    producer.flush(Duration::from_secs(10)).unwrap();

    c.batch_execute(
        "CREATE SOURCE up (v int) FROM KAFKA (TOPIC 'up') FORMAT JSON ENVELOPE UPSERT INCLUDE KEY;
         CREATE SOURCE docs FROM KAFKA (TOPIC 'docs') FORMAT JSON;
         CREATE SOURCE lines (id int, name text, x numeric) FROM KAFKA (TOPIC 'csv') FORMAT CSV;
         CREATE SOURCE cdc (id int, v text) FROM KAFKA (TOPIC 'cdc') FORMAT JSON ENVELOPE DEBEZIUM INCLUDE OFFSET;
         CREATE SOURCE cdc2 (id int, v text) FROM KAFKA (TOPIC 'cdc2') FORMAT JSON ENVELOPE DEBEZIUM;",
    )
    .await
    .unwrap();
    wait_for(&c, "SELECT sum(records) FROM eddy_catalog.source_partitions", "19", 60).await;
    assert_eq!(query(&c, "SELECT key, v FROM up").await, rows(&[&["a", "1"]]));
    assert_eq!(query(&c, "SELECT key FROM up_errors").await, rows(&[&["c"]]));

    assert_eq!(query(&c, "SELECT data::text FROM docs ORDER BY 1").await, rows(&[&[r#"{"data": {"x": 1}, "other": 2}"#], &[r#"{"z": 1}"#]]));
    assert_eq!(query(&c, "SELECT id, name, x FROM lines ORDER BY id").await, rows(&[&["1", "plain", "2.5"], &["2", "with, comma", "3"], &["3", r#"say "hi""#, "4"], &["4", "", "5"], &["5", "NULL", "6"]]));
    let bad = query(&c, "SELECT error FROM lines_errors").await;
    assert_eq!(bad.len(), 1, "{:?}", bad);
    assert!(bad[0][0].as_deref().unwrap_or("").contains("unterminated"), "{:?}", bad);
    // Offsets are those of the records that made the rows.
    assert_eq!(query(&c, "SELECT id, v, \"offset\" FROM cdc ORDER BY id").await, rows(&[&["1", "a2", "4"], &["2", "b", "3"]]));
    assert_eq!(query(&c, "SELECT count(*) FROM cdc").await, rows(&[&["2"]]));
    assert_eq!(query(&c, "SELECT id, v FROM cdc2").await, rows(&[&["3", "c2"]]));
    assert_eq!(query(&c, "SELECT count(*) FROM cdc_errors").await, rows(&[&["0"]]));

    // ENVELOPE APPEND is refused for a retracting source however the
    // CREATE SOURCE was spaced.
    c.batch_execute("CREATE SOURCE cdc3 (id int, v text) FROM KAFKA (TOPIC 'cdc2') FORMAT JSON ENVELOPE\n   DEBEZIUM").await.unwrap();
    let err = c.simple_query("CREATE SINK s FROM cdc3 INTO KAFKA (TOPIC 'out') FORMAT JSON ENVELOPE APPEND").await.unwrap_err();
    assert_eq!(code(&err), Some("0A000"), "{:?}", err);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_bad_records_with_a_dead_letter_topic() {
    let cluster = MockCluster::new(1).expect("mock cluster");
    let broker = cluster.bootstrap_servers();
    cluster.create_topic("burst", 1, 1).unwrap();
    let server = EddyServer::start_with(&["--kafka", &broker]);
    let c = connect(&server).await;
    let producer: BaseProducer = ClientConfig::new().set("bootstrap.servers", &broker).create().unwrap();
    let bad = 1000;
    for i in 0..bad {
        produce(&producer, "burst", None, &format!("{{\"id\": \"x{}\"}}", i));
    }
    produce(&producer, "burst", None, r#"{"id": 1}"#);
    producer.flush(Duration::from_secs(10)).unwrap();
    c.batch_execute("CREATE SOURCE burst (id int) FROM KAFKA (TOPIC 'burst') FORMAT JSON DEAD LETTER TOPIC 'burst-dlq'").await.unwrap();
    // Each bad record is in the error relation (and the DLQ) and the good
    // one behind them arrives. (Before, each dead letter waited for its own
    // flush, about 100 ms: this took minutes.)
    wait_for(&c, "SELECT count(*) FROM burst", "1", 60).await;
    assert_eq!(query(&c, "SELECT count(*), count(DISTINCT \"offset\") FROM burst_errors").await, rows(&[&[&bad.to_string(), &bad.to_string()]]));
    let dlq = cluster.bootstrap_servers();
    let consumer: rdkafka::consumer::BaseConsumer = ClientConfig::new().set("bootstrap.servers", &dlq).set("group.id", "dlq-check").set("auto.offset.reset", "earliest").create().unwrap();
    use rdkafka::consumer::Consumer;
    let md = consumer.fetch_metadata(Some("burst-dlq"), Duration::from_secs(10)).unwrap();
    let written: i64 = md.topics()[0].partitions().iter().map(|p| consumer.fetch_watermarks("burst-dlq", p.id(), Duration::from_secs(10)).unwrap().1).sum();
    assert_eq!(written, bad as i64);
}
