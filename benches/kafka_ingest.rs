//! Benchmark: Kafka through eddy. Prints (never asserts):
//! - events/s a bare rdkafka consumer reads from the topic (the ceiling);
//! - events/s eddy ingests through a JSON source into a count view;
//! - produce-to-sink-topic latency p50/p99 at 10k events/s.
//!
//! Broker: `EDDY_BENCH_BROKER=host:port` (e.g. a tansu broker), else
//! librdkafka's mock cluster in this process. `EDDY_BENCH_EVENTS` sets the
//! volume (default 200k; librdkafka's mock cluster stalled a bare consumer at about 277k of 500k events here).

mod server;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use server::{connect, free_port, serve};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio_postgres::{Client, SimpleQueryMessage};

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

fn send(p: &BaseProducer, topic: &str, key: &str, payload: &str, partition: i32) {
    let mut rec = Some(BaseRecord::to(topic).key(key).payload(payload).partition(partition));
    while let Some(r) = rec.take() {
        if let Err((_, r)) = p.send(r) {
            p.poll(Duration::from_millis(5));
            rec = Some(r);
        }
    }
}

async fn scalar(c: &Client, sql: &str) -> Option<String> {
    c.simple_query(sql).await.ok()?.into_iter().find_map(|m| match m {
        SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
        _ => None,
    })
}

fn assign_all(c: &BaseConsumer, topic: &str) {
    let md = c.fetch_metadata(Some(topic), Duration::from_secs(10)).unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in md.topics()[0].partitions() {
        tpl.add_partition_offset(topic, p.id(), Offset::Beginning).unwrap();
    }
    c.assign(&tpl).unwrap();
}

#[tokio::main]
async fn main() {
    let n: u64 = std::env::var("EDDY_BENCH_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000);
    let mock;
    let (broker, name) = match std::env::var("EDDY_BENCH_BROKER") {
        Ok(b) => (b.clone(), format!("broker {}", b)),
        Err(_) => {
            mock = MockCluster::new(1).unwrap();
            mock.create_topic("bench", 4, 1).unwrap();
            (mock.bootstrap_servers(), "librdkafka mock cluster".to_string())
        }
    };
    println!("kafka_ingest: {} JSON events over 4 partitions, {}", n, name);
    let producer: BaseProducer = ClientConfig::new().set("bootstrap.servers", &broker).set("linger.ms", "5").set("queue.buffering.max.messages", "1000000").create().unwrap();
    for i in 0..n {
        let payload = format!("{{\"order_id\":\"o{}\",\"customer\":\"c{}\",\"amount\":{},\"ts\":{}}}", i, i % 1000, i % 50, 0);
        send(&producer, "bench", &format!("o{}", i), &payload, (i % 4) as i32);
    }
    producer.flush(Duration::from_secs(120)).unwrap();

    // The ceiling: a bare consumer reading the same topic.
    let consumer: BaseConsumer = ClientConfig::new().set("bootstrap.servers", &broker).set("group.id", "bench-bare").set("fetch.wait.max.ms", "10").set("enable.auto.commit", "false").create().unwrap();
    assign_all(&consumer, "bench");
    let start = Instant::now();
    let mut read = 0;
    while read < n {
        if let Some(Ok(_)) = consumer.poll(Duration::from_millis(100)) {
            read += 1;
        }
        assert!(start.elapsed() < Duration::from_secs(300), "bare consumer stalled at {}", read);
    }
    let bare = n as f64 / start.elapsed().as_secs_f64();
    println!("  bare rdkafka consumer: {:>10.0} events/s", bare);

    let port = free_port();
    let dir = std::env::temp_dir().join(format!("eddy-kbench-{}", port));
    let _server = serve(port, &dir, &["--kafka", &broker]);
    let client = connect(port).await;
    let start = Instant::now();
    client
        .batch_execute(
            "CREATE SOURCE bench (order_id text, customer text, amount int, ts bigint) FROM KAFKA (TOPIC 'bench') FORMAT JSON;
             CREATE MATERIALIZED VIEW bench_count AS SELECT count(*) AS n FROM bench;",
        )
        .await
        .unwrap();
    while scalar(&client, "SELECT n FROM bench_count").await.as_deref() != Some(&n.to_string()) {
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(start.elapsed() < Duration::from_secs(600), "eddy did not ingest {} events", n);
    }
    let eddy = n as f64 / start.elapsed().as_secs_f64();
    println!("  eddy source -> count view: {:>10.0} events/s ({:.0}% of the bare consumer)", eddy, 100.0 * eddy / bare);

    // Latency: events at 10k/s through a source, a view and an upsert sink.
    // A first record creates the topic (brokers auto-create on produce).
    send(&producer, "live", "warmup", &format!("{{\"order_id\":\"warmup\",\"amount\":0,\"ts\":{}}}", now_ms()), 0);
    producer.flush(Duration::from_secs(30)).unwrap();
    client
        .batch_execute(
            "CREATE SOURCE live (order_id text, amount int, ts bigint) FROM KAFKA (TOPIC 'live') FORMAT JSON;
             CREATE MATERIALIZED VIEW live_orders AS SELECT order_id, amount, ts FROM live WHERE amount >= 0;
             CREATE SINK live_out FROM live_orders INTO KAFKA (TOPIC 'live-out') KEY (order_id) FORMAT JSON ENVELOPE UPSERT;",
        )
        .await
        .unwrap_or_else(|e| panic!("{:?}", e));
    let out: BaseConsumer = ClientConfig::new().set("bootstrap.servers", &broker).set("group.id", "bench-out").set("fetch.wait.max.ms", "5").set("isolation.level", "read_committed").create().unwrap();
    let rate = 10_000u64;
    let seconds = 10u64;
    let reader = std::thread::spawn(move || {
        let mut latencies = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(seconds + 30);
        while Instant::now() < deadline && latencies.len() < (rate * seconds) as usize {
            if out.assignment().map(|a| a.count()).unwrap_or(0) == 0 {
                if out.fetch_metadata(Some("live-out"), Duration::from_secs(1)).map(|m| !m.topics()[0].partitions().is_empty()).unwrap_or(false) {
                    assign_all(&out, "live-out");
                } else {
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
            }
            if let Some(Ok(m)) = out.poll(Duration::from_millis(50)) {
                if let Some(p) = m.payload() {
                    let v: serde_json::Value = serde_json::from_slice(p).unwrap();
                    latencies.push(now_ms().saturating_sub(v["ts"].as_u64().unwrap()));
                }
            }
        }
        latencies
    });
    let start = Instant::now();
    for i in 0..rate * seconds {
        let due = start + Duration::from_micros(i * 1_000_000 / rate);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        send(&producer, "live", &format!("l{}", i), &format!("{{\"order_id\":\"l{}\",\"amount\":{},\"ts\":{}}}", i, i % 50, now_ms()), 0);
        producer.poll(Duration::ZERO);
    }
    producer.flush(Duration::from_secs(30)).unwrap();
    let mut lat = reader.join().unwrap();
    lat.sort();
    if lat.is_empty() {
        println!("  produce-to-sink latency: no records reached the sink topic");
    } else {
        let pct = |p: f64| lat[((lat.len() - 1) as f64 * p) as usize];
        println!("  produce-to-sink latency at {}/s: p50 {} ms  p99 {} ms  ({} of {} records)", rate, pct(0.5), pct(0.99), lat.len(), rate * seconds);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
