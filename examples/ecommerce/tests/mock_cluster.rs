//! The simulators against librdkafka's mock cluster: 500 orders with payment
//! failures, cancellations, duplicates, malformed records and held-back
//! payments, plus a stand-in for eddy that confirms every processed payment.
//! Then every topic is read back and checked against the counters and the
//! services' contracts.

use eddy_ecommerce::events::{self, CARRIERS, ORDER_CONFIRMED, ORDER_EVENTS, PAYMENT_EVENTS, RESTOCKS, SHIPMENT_EVENTS};
use eddy_ecommerce::{create_topics, product_id, start, SimConfig};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

struct Record {
    partition: i32,
    key: Option<Vec<u8>>,
    payload: Vec<u8>,
}

fn consumer(broker: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", broker)
        .set("group.id", "test-reader")
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "5")
        .create()
        .unwrap()
}

fn assign_all(c: &BaseConsumer, topic: &str) -> Vec<i32> {
    let md = c.fetch_metadata(Some(topic), Duration::from_secs(10)).unwrap();
    let parts: Vec<i32> = md.topics()[0].partitions().iter().map(|p| p.id()).collect();
    assert!(!parts.is_empty(), "topic {} has no partitions", topic);
    let mut tpl = TopicPartitionList::new();
    for p in &parts {
        tpl.add_partition_offset(topic, *p, Offset::Beginning).unwrap();
    }
    c.assign(&tpl).unwrap();
    parts
}

/// Every record of `topic`, in offset order per partition.
fn read_all(broker: &str, topic: &str) -> Vec<Record> {
    let c = consumer(broker);
    let parts = assign_all(&c, topic);
    let mut remaining: HashMap<i32, i64> = HashMap::new();
    for p in parts {
        let (_, high) = c.fetch_watermarks(topic, p, Duration::from_secs(5)).unwrap();
        if high > 0 {
            remaining.insert(p, high);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut out = Vec::new();
    while !remaining.is_empty() {
        assert!(Instant::now() < deadline, "reading {} timed out", topic);
        if let Some(m) = c.poll(Duration::from_millis(100)) {
            let m = m.unwrap();
            out.push(Record { partition: m.partition(), key: m.key().map(<[u8]>::to_vec), payload: m.payload().unwrap_or(&[]).to_vec() });
            if remaining.get(&m.partition()).is_some_and(|h| m.offset() + 1 >= *h) {
                remaining.remove(&m.partition());
            }
        }
    }
    out
}

/// A well-formed event: a JSON object with string eventId (and orderId where
/// the topic has one) and an integer timestamp. Written independently of the
/// library's own reader.
fn event(topic: &str, payload: &[u8]) -> Option<Value> {
    let v: Value = serde_json::from_slice(payload).ok()?;
    let ok = v.get("eventId").is_some_and(Value::is_string)
        && v.get("timestamp").is_some_and(Value::is_u64)
        && (topic == RESTOCKS || v.get("orderId").is_some_and(Value::is_string))
        && (topic == RESTOCKS || v.get("eventType").is_some_and(Value::is_string));
    ok.then_some(v)
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_else(|| panic!("{} missing in {}", k, v))
}

/// Parsed topic: unique events by eventId (first copy), duplicate copies,
/// malformed records; asserting that a duplicate is byte-identical.
struct Topic {
    unique: Vec<(Record, Value)>,
    duplicates: u64,
    malformed: u64,
}

fn parse(broker: &str, topic: &str) -> Topic {
    let mut seen: HashMap<String, Vec<u8>> = HashMap::new();
    let mut t = Topic { unique: Vec::new(), duplicates: 0, malformed: 0 };
    for r in read_all(broker, topic) {
        let Some(v) = event(topic, &r.payload) else {
            t.malformed += 1;
            continue;
        };
        let key_field = if topic == RESTOCKS { "productId" } else { "orderId" };
        assert_eq!(r.key.as_deref(), Some(s(&v, key_field).as_bytes()), "{} keyed by {}", topic, key_field);
        match seen.get(s(&v, "eventId")) {
            Some(first) => {
                assert_eq!(first, &r.payload, "a duplicate is the exact same event");
                t.duplicates += 1;
            }
            None => {
                seen.insert(s(&v, "eventId").to_string(), r.payload.clone());
                t.unique.push((r, v));
            }
        }
    }
    t
}

/// Stands in for eddy: every payment.processed becomes an order-confirmed
/// record (duplicates included, so the Shipping Service must dedupe).
fn confirmer(broker: String, stop: Arc<AtomicBool>) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let c = consumer(&broker);
        assign_all(&c, PAYMENT_EVENTS);
        let p: BaseProducer = ClientConfig::new().set("bootstrap.servers", &broker).set("linger.ms", "1").create().unwrap();
        // A tombstone and a garbage record the Shipping Service must survive.
        p.send(BaseRecord::<[u8], [u8]>::to(ORDER_CONFIRMED).key(br#"{"order_id":"o-none"}"#)).unwrap();
        p.send(BaseRecord::to(ORDER_CONFIRMED).key("x").payload("not json")).unwrap();
        while !stop.load(SeqCst) {
            if let Some(Ok(m)) = c.poll(Duration::from_millis(20)) {
                let v: Option<Value> = m.payload().and_then(|b| serde_json::from_slice(b).ok());
                if let Some(id) = v.filter(|v| v["eventType"] == "payment.processed").and_then(|v| v["orderId"].as_str().map(String::from)) {
                    let key = json!({"order_id": id}).to_string();
                    let value = json!({"order_id": id, "state": "CONFIRMED"}).to_string();
                    p.send(BaseRecord::to(ORDER_CONFIRMED).key(&key).payload(&value)).unwrap();
                }
            }
            p.poll(Duration::ZERO);
        }
        p.flush(Duration::from_secs(5)).unwrap();
    })
}

fn wait(what: &str, secs: u64, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {}", what);
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn five_hundred_orders_with_faults() {
    let cluster = MockCluster::new(1).unwrap();
    let broker = cluster.bootstrap_servers();
    // The mock has no CreateTopics: this exercises the auto-create fallback.
    create_topics(&broker, 4).unwrap();
    let md = consumer(&broker).fetch_metadata(None, Duration::from_secs(5)).unwrap();
    let names: HashSet<&str> = md.topics().iter().map(|t| t.name()).collect();
    assert!(events::ALL_TOPICS.iter().all(|t| names.contains(t)), "{:?}", names);

    let cfg = SimConfig {
        broker: broker.clone(),
        orders_per_sec: 1000.0,
        total_orders: Some(500),
        customers: 100,
        products: 40,
        scarce_products: 4,
        stock_per_product: 1000,
        scarce_stock: 3,
        cancel_rate: 0.1,
        cancel_delay_ms: 30,
        payment_failure_rate: 0.1,
        payment_delay_ms: 10,
        shipping_delay_ms: 10,
        duplicate_rate: 0.05,
        malformed_rate: 0.02,
        out_of_order_rate: 0.1,
        seed: 7,
        ..SimConfig::default()
    };
    let started = Instant::now();
    let sim = start(cfg.clone()).unwrap();
    let stop_confirmer = Arc::new(AtomicBool::new(false));
    let confirmer = confirmer(broker.clone(), stop_confirmer.clone());
    assert!(sim.wait_until_done_timeout(Duration::from_secs(20)).unwrap(), "not done: {}", sim.stats());
    let done = sim.stats();
    assert_eq!(done.orders_created, 500);
    assert_eq!(done.payments_processed + done.payments_failed, 500, "{}", done);
    wait("every confirmed order delivered", 15, || {
        let s = sim.stats();
        s.confirmations_seen == done.payments_processed && s.shipments_delivered == done.payments_processed
    });
    sim.stop();
    stop_confirmer.store(true, SeqCst);
    confirmer.join().unwrap();
    let st = sim.stats();
    println!("simulated in {:?}: {}", started.elapsed(), st);
    assert_eq!(st.send_errors, 0);

    // order-events: 500 distinct orders, the cancellations counted, sound totals.
    let orders = parse(&broker, ORDER_EVENTS);
    let mut created: BTreeMap<String, Value> = BTreeMap::new();
    let mut cancelled = 0;
    for (_, v) in &orders.unique {
        match s(v, "eventType") {
            "order.created" => {
                let items = v["items"].as_array().unwrap();
                assert!((1..=4).contains(&items.len()), "{}", v);
                let sum: f64 = items.iter().map(|i| i["quantity"].as_u64().unwrap() as f64 * i["price"].as_f64().unwrap()).sum();
                assert!((sum - v["totalAmount"].as_f64().unwrap()).abs() < 1e-6, "{}", v);
                assert_eq!((v["currency"].as_str(), v["shippingAddress"].is_string()), (Some("USD"), true));
                assert!(s(v, "customerId").starts_with("c-"));
                assert!(created.insert(s(v, "orderId").to_string(), v.clone()).is_none());
            }
            "order.cancelled" => {
                assert!(v["reason"].is_string());
                cancelled += 1;
            }
            other => panic!("unexpected {}", other),
        }
    }
    assert_eq!(created.len(), 500);
    assert!((1..=500).all(|i| created.contains_key(&format!("o-{}", i))));
    assert_eq!(cancelled, st.orders_cancelled);
    assert!((20..=90).contains(&cancelled), "{}", cancelled);

    // restocks: one initial restock per product, scarce ones small.
    let restocks = parse(&broker, RESTOCKS);
    assert_eq!(restocks.malformed, 0);
    let stock: BTreeMap<String, u64> =
        restocks.unique.iter().map(|(_, v)| (s(v, "productId").to_string(), v["quantity"].as_u64().unwrap())).collect();
    assert_eq!(restocks.unique.len(), 40);
    assert!((0..40).all(|i| stock[&product_id(i)] == cfg.initial_stock(i)));
    assert_eq!(stock.values().filter(|q| **q == 3).count(), 4);

    // payment-events: exactly one decision per created order, for its amount.
    let payments = parse(&broker, PAYMENT_EVENTS);
    let mut decision: HashMap<String, &str> = HashMap::new();
    for (_, v) in &payments.unique {
        let id = s(v, "orderId");
        let order = created.get(id).unwrap_or_else(|| panic!("payment for unknown order {}", id));
        assert_eq!(v["amount"], order["totalAmount"]);
        assert_eq!(s(v, "paymentId"), format!("pay-{}", id));
        let kind = s(v, "eventType");
        assert_eq!(v.get("reason").is_some(), kind == "payment.failed", "{}", v);
        assert!(decision.insert(id.to_string(), kind).is_none(), "two decisions for {}", id);
    }
    assert_eq!(decision.len(), 500);
    let failed = decision.values().filter(|k| **k == "payment.failed").count() as u64;
    assert_eq!((failed, 500 - failed), (st.payments_failed, st.payments_processed));
    assert!((20..=90).contains(&failed), "{}", failed);

    // Held-back payments arrive after later-stamped ones on their partition.
    assert!(st.payments_held_back > 0);
    let mut last: HashMap<i32, u64> = HashMap::new();
    let mut inversions = 0;
    for (r, v) in &payments.unique {
        let ts = v["timestamp"].as_u64().unwrap();
        let prev = last.entry(r.partition).or_insert(0);
        inversions += (ts < *prev) as u32;
        *prev = ts.max(*prev);
    }
    assert!(inversions > 0, "no out-of-order payment arrivals");

    // shipment-events: the three steps, in order, for confirmed orders only.
    let shipments = parse(&broker, SHIPMENT_EVENTS);
    assert_eq!(shipments.malformed, 0);
    let mut steps: HashMap<String, Vec<(String, u64, String)>> = HashMap::new();
    for (_, v) in &shipments.unique {
        assert_eq!(s(v, "shipmentId"), format!("shp-{}", s(v, "orderId")));
        assert!(CARRIERS.contains(&s(v, "carrier")));
        let e = (s(v, "eventType").to_string(), v["timestamp"].as_u64().unwrap(), s(v, "carrier").to_string());
        steps.entry(s(v, "orderId").to_string()).or_default().push(e);
    }
    assert_eq!(steps.len() as u64, st.payments_processed);
    for (id, ev) in &steps {
        assert_eq!(decision.get(id.as_str()), Some(&"payment.processed"), "shipped {}", id);
        let kinds: Vec<&str> = ev.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(kinds, events::SHIPMENT_STEPS, "{}", id);
        assert!(ev[0].1 <= ev[1].1 && ev[1].1 <= ev[2].1, "{:?}", ev);
        assert!(ev.iter().all(|e| e.2 == ev[0].2), "one carrier per shipment");
    }
    assert_eq!((st.shipments_created, st.shipments_dispatched, st.shipments_delivered), (steps.len() as u64, steps.len() as u64, steps.len() as u64));

    // Fault counters match what is on the topics.
    let dups = orders.duplicates + payments.duplicates + shipments.duplicates + restocks.duplicates;
    assert_eq!(dups, st.duplicates);
    assert!(orders.duplicates > 0 && payments.duplicates > 0, "{} {}", orders.duplicates, payments.duplicates);
    assert_eq!(orders.malformed + payments.malformed, st.malformed);
    assert!(orders.malformed > 0 && payments.malformed > 0);
    // The Payment Service read the malformed order events; the Shipping
    // Service the one garbage confirmation (not the tombstone).
    assert_eq!(st.unreadable_inputs, orders.malformed + 1);
}

#[test]
fn unbounded_run_stops_cleanly() {
    let cluster = MockCluster::new(1).unwrap();
    let cfg = SimConfig { broker: cluster.bootstrap_servers(), orders_per_sec: 300.0, products: 10, scarce_products: 2, ..SimConfig::default() };
    let sim = start(cfg).unwrap();
    wait("orders and payments flowing", 10, || {
        let s = sim.stats();
        s.orders_created > 50 && s.payments_processed > 10
    });
    assert!(!sim.is_done());
    let t = Instant::now();
    sim.stop();
    assert!(t.elapsed() < Duration::from_secs(10), "stop took {:?}", t.elapsed());
    assert!(sim.wait_until_done_timeout(Duration::ZERO).unwrap(), "returns once stopped");
    let after = sim.stats();
    thread::sleep(Duration::from_millis(200));
    assert_eq!(sim.stats().orders_created, after.orders_created, "nothing runs after stop");
    drop(sim);
}
