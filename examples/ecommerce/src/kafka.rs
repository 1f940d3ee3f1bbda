//! The Kafka plumbing the three services share: client settings, topic
//! creation, assigning all partitions of a topic, and the `Outbox`, which
//! sends events now or at a later instant and injects duplicate and
//! malformed records on the way out.
//!
//! Does: everything that touches rdkafka on the producing side, and the
//! consumer settings. Does not: build events or decide what to send (see
//! `events` and the service modules).

use crate::events::{self, ORDER_EVENTS, PAYMENT_EVENTS};
use crate::rng::Rng;
use crate::Counters;
use anyhow::{anyhow, Context as _};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientConfig, ClientContext, Offset, TopicPartitionList};
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Creates every topic in `events::ALL_TOPICS` with `partitions` partitions
/// (replication: the broker's default). Topics that exist are left alone.
/// librdkafka's mock cluster has no CreateTopics (and names no controller,
/// so the request would only time out): there, and wherever CreateTopics
/// fails, a metadata request auto-creates the topics instead, with the
/// broker's default partition count (4 on the mock; `MockCluster::create_topic`
/// chooses another).
pub fn create_topics(broker: &str, partitions: i32) -> anyhow::Result<()> {
    let probe: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", broker)
        .set("allow.auto.create.topics", "true")
        .create()
        .context("creating a metadata client")?;
    let md = probe.client().fetch_metadata(None, Duration::from_secs(10)).context("reading cluster metadata")?;
    let existing: Vec<&str> =
        md.topics().iter().filter(|t| t.error().is_none() && !t.partitions().is_empty()).map(|t| t.name()).collect();
    let wanted: Vec<&str> = events::ALL_TOPICS.iter().copied().filter(|t| !existing.contains(t)).collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let mock = probe.client().fetch_cluster_id(Duration::from_secs(5)).is_some_and(|id| id.starts_with("mockCluster"));
    let missing: Vec<(&str, String)> = if mock {
        wanted.iter().map(|t| (*t, "the mock cluster has no CreateTopics".to_string())).collect()
    } else {
        create_with_admin(broker, &wanted, partitions)?
    };
    for (topic, why) in missing {
        auto_create(&probe, topic).with_context(|| format!("creating topic {} ({})", topic, why))?;
    }
    Ok(())
}

/// CreateTopics for `topics`; returns those it did not create, with why.
fn create_with_admin<'a>(broker: &str, topics: &[&'a str], partitions: i32) -> anyhow::Result<Vec<(&'a str, String)>> {
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", broker).create().context("creating the admin client")?;
    // -1: the broker's default replication factor (KIP-464).
    let new: Vec<NewTopic> = topics.iter().map(|t| NewTopic::new(t, partitions, TopicReplication::Fixed(-1))).collect();
    let opts = AdminOptions::new()
        .operation_timeout(Some(Duration::from_secs(10)))
        .request_timeout(Some(Duration::from_secs(10)));
    let missing = match block_on(admin.create_topics(&new, &opts)) {
        Ok(results) => results
            .into_iter()
            .filter_map(|r| match r {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => None,
                Err((name, code)) => {
                    topics.iter().find(|t| **t == name).map(|t| (*t, format!("CreateTopics said: {}", code)))
                }
            })
            .collect(),
        Err(e) => topics.iter().map(|t| (*t, format!("CreateTopics failed: {}", e))).collect(),
    };
    Ok(missing)
}

/// A metadata request for an unknown topic makes brokers with auto-creation
/// on (the mock cluster always) create it; the first answers may still say
/// "leader not available", hence the retries.
fn auto_create(producer: &BaseProducer, topic: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let md = producer.client().fetch_metadata(Some(topic), Duration::from_secs(5))?;
        let last = match md.topics().iter().find(|t| t.name() == topic) {
            Some(t) if t.error().is_none() && !t.partitions().is_empty() => return Ok(()),
            Some(t) => format!("{:?}", t.error()),
            None => "absent from metadata".to_string(),
        };
        if Instant::now() > deadline {
            return Err(anyhow!("topic still unavailable: {}", last));
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// Runs one future to completion on this thread (the admin API is async and
/// this crate has no executor; a parked thread woken by the waker suffices).
fn block_on<F: Future>(f: F) -> F::Output {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark()
        }
    }
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        thread::park();
    }
}

/// A consumer for one service, reading with assigned partitions (no group
/// membership, no commits: every service reads its input from the start).
pub fn consumer(broker: &str, service: &str, fetch_wait_ms: u64) -> anyhow::Result<BaseConsumer> {
    ClientConfig::new()
        .set("bootstrap.servers", broker)
        .set("group.id", format!("eddy-ecommerce-{}", service))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        // The mock cluster crawls with the default 500 ms fetch wait.
        .set("fetch.wait.max.ms", fetch_wait_ms.to_string())
        // eddy's sinks are transactional: never act on aborted records.
        .set("isolation.level", "read_committed")
        .create()
        .with_context(|| format!("creating the {} consumer", service))
}

/// Assigns every partition of `topic` from the beginning, waiting until the
/// topic exists. Returns false if `stop` was set first.
pub fn assign_all(consumer: &BaseConsumer, topic: &str, stop: &AtomicBool) -> anyhow::Result<bool> {
    while !stop.load(SeqCst) {
        if let Ok(md) = consumer.fetch_metadata(Some(topic), Duration::from_secs(2)) {
            if let Some(t) = md.topics().iter().find(|t| t.name() == topic && !t.partitions().is_empty()) {
                let mut tpl = TopicPartitionList::new();
                for p in t.partitions() {
                    tpl.add_partition_offset(topic, p.id(), Offset::Beginning)?;
                }
                consumer.assign(&tpl)?;
                return Ok(true);
            }
        }
        thread::sleep(Duration::from_millis(200));
    }
    Ok(false)
}

/// What a message is, for the counters (bumped when it is handed to Kafka).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    OrderCreated,
    OrderCancelled,
    PaymentProcessed,
    PaymentFailed,
    /// Index into `events::SHIPMENT_STEPS`.
    Shipment(usize),
    Restock,
    /// A re-send of an event already sent (same bytes, same eventId).
    Duplicate,
    Malformed,
}

pub struct Msg {
    pub topic: &'static str,
    pub key: String,
    pub payload: Vec<u8>,
    pub kind: Kind,
}

struct Scheduled {
    due: Instant,
    seq: u64,
    msg: Msg,
}

impl PartialEq for Scheduled {
    fn eq(&self, o: &Self) -> bool {
        (self.due, self.seq) == (o.due, o.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, o: &Self) -> Ordering {
        (self.due, self.seq).cmp(&(o.due, o.seq))
    }
}

/// Keeps `busy` = messages scheduled or handed to Kafka but not yet
/// acknowledged, so "done" can mean "delivered", not "queued".
struct Delivery {
    busy: Arc<AtomicU64>,
    counters: Arc<Counters>,
}

impl ClientContext for Delivery {}
impl ProducerContext for Delivery {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if result.is_err() {
            self.counters.send_errors.fetch_add(1, SeqCst);
        }
        self.busy.fetch_sub(1, SeqCst);
    }
}

/// Fault injection applied to every event an `Outbox` sends.
#[derive(Clone, Copy, Debug)]
pub struct Faults {
    pub duplicate_rate: f64,
    /// A duplicate is re-sent between 0 and this many ms after the original.
    pub duplicate_max_delay_ms: u64,
    /// Only on order-events and payment-events.
    pub malformed_rate: f64,
}

/// One service's producer plus its queue of events due later.
pub struct Outbox {
    producer: ThreadedProducer<Delivery>,
    queue: BinaryHeap<Reverse<Scheduled>>,
    seq: u64,
    rng: Rng,
    faults: Faults,
    counters: Arc<Counters>,
    busy: Arc<AtomicU64>,
}

impl Outbox {
    pub fn new(broker: &str, linger_ms: u64, faults: Faults, rng: Rng, counters: Arc<Counters>) -> anyhow::Result<Outbox> {
        let busy = Arc::new(AtomicU64::new(0));
        let producer = ClientConfig::new()
            .set("bootstrap.servers", broker)
            .set("linger.ms", linger_ms.to_string())
            // Injected duplicates are deliberate; retries must not add more.
            .set("enable.idempotence", "true")
            // Key hashing as Java clients do, like the platform's services.
            .set("partitioner", "murmur2_random")
            .set("queue.buffering.max.messages", "1000000")
            .create_with_context(Delivery { busy: busy.clone(), counters: counters.clone() })
            .context("creating a producer")?;
        Ok(Outbox { producer, queue: BinaryHeap::new(), seq: 0, rng, faults, counters, busy })
    }

    /// Messages scheduled or in flight (0 once everything is acknowledged).
    pub fn busy(&self) -> Arc<AtomicU64> {
        self.busy.clone()
    }

    pub fn send_now(&mut self, msg: Msg) {
        self.busy.fetch_add(1, SeqCst);
        self.produce(msg);
    }

    pub fn schedule(&mut self, due: Instant, msg: Msg) {
        self.busy.fetch_add(1, SeqCst);
        self.seq += 1;
        self.queue.push(Reverse(Scheduled { due, seq: self.seq, msg }));
    }

    /// Sends everything due by `now`.
    pub fn send_due(&mut self, now: Instant) {
        while self.queue.peek().is_some_and(|s| s.0.due <= now) {
            let s = self.queue.pop().expect("peeked").0;
            self.produce(s.msg);
        }
    }

    pub fn next_due(&self) -> Option<Instant> {
        self.queue.peek().map(|s| s.0.due)
    }

    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    pub fn flush(&self, timeout: Duration) {
        if let Err(e) = self.producer.flush(timeout) {
            eprintln!("ecommerce-sim: flush: {}", e);
        }
    }

    /// Hands one message to Kafka (its `busy` unit is already counted),
    /// waiting while the local queue is full, then injects faults.
    fn produce(&mut self, msg: Msg) {
        let mut record = BaseRecord::to(msg.topic).key(&msg.key).payload(&msg.payload);
        loop {
            match self.producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    thread::sleep(Duration::from_millis(1));
                }
                Err((e, _)) => {
                    eprintln!("ecommerce-sim: producing to {}: {}", msg.topic, e);
                    self.counters.send_errors.fetch_add(1, SeqCst);
                    self.busy.fetch_sub(1, SeqCst);
                    return;
                }
            }
        }
        let c = &self.counters;
        let counter = match msg.kind {
            Kind::OrderCreated => &c.orders_created,
            Kind::OrderCancelled => &c.orders_cancelled,
            Kind::PaymentProcessed => &c.payments_processed,
            Kind::PaymentFailed => &c.payments_failed,
            Kind::Shipment(0) => &c.shipments_created,
            Kind::Shipment(1) => &c.shipments_dispatched,
            Kind::Shipment(_) => &c.shipments_delivered,
            Kind::Restock => &c.restocks,
            Kind::Duplicate => &c.duplicates,
            Kind::Malformed => &c.malformed,
        };
        counter.fetch_add(1, SeqCst);
        if matches!(msg.kind, Kind::Duplicate | Kind::Malformed) {
            return;
        }
        if (msg.topic == ORDER_EVENTS || msg.topic == PAYMENT_EVENTS) && self.rng.chance(self.faults.malformed_rate) {
            self.seq += 1;
            let payload = events::malformed(&mut self.rng, msg.topic, self.seq);
            let key = format!("malformed-{}", self.seq);
            self.send_now(Msg { topic: msg.topic, key, payload, kind: Kind::Malformed });
        }
        if self.rng.chance(self.faults.duplicate_rate) {
            let delay = self.rng.range(0, self.faults.duplicate_max_delay_ms);
            self.schedule(Instant::now() + Duration::from_millis(delay), Msg { kind: Kind::Duplicate, ..msg });
        }
    }
}

/// How long to wait in `poll` for a message when the next scheduled send is
/// `wait` away: at most 20 ms, and at least 1 ms unless a send is due now
/// (librdkafka rounds shorter timeouts down to 0, which would spin).
pub fn poll_timeout(wait: Duration) -> Duration {
    if wait.is_zero() {
        wait
    } else {
        wait.clamp(Duration::from_millis(1), Duration::from_millis(20))
    }
}
