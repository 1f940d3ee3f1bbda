//! The Kafka sink writer. See the module doc of [`super`].
//!
//! Engine workers call the subscription callback from their own threads;
//! each worker's progress is tracked separately (by thread), and a
//! timestamp is written only once every worker has passed it.

use super::base_config;
use crate::formats::encode_json_row;
use eddy_engine::repr::RelationDesc;
use eddy_engine::runtime::{SubscribeEvent, SubscribeSink};
use eddy_engine::{Diff, Row, Timestamp};
use eddy_sql::connector::Envelope;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::Duration;

/// What a sink writes and how.
pub struct SinkConfig {
    pub name: String,
    pub topic: String,
    pub broker: String,
    pub desc: RelationDesc,
    pub key: Vec<usize>,
    pub envelope: Envelope,
    pub transactional: bool,
}

#[derive(Debug, Default)]
pub struct SinkStats {
    /// The last timestamp whose changes are all written (the progress
    /// record a restart resumes from).
    pub written_through: AtomicU64,
    pub messages: AtomicU64,
    pub errors: AtomicU64,
    pub last_error: Mutex<Option<String>>,
}

/// The topic the transaction probe writes to (one record per probe).
pub const PROBE_TOPIC: &str = "_eddy_transaction_probe";

/// Whether the broker supports transactions: runs a whole transaction
/// (init, produce, commit) against a probe topic. Some brokers accept
/// InitProducerId but refuse EndTxn (tansu 0.6), so initializing alone
/// proves nothing.
pub fn broker_supports_transactions(broker: &str) -> bool {
    let probe = || -> Result<(), String> {
        super::admin::ensure_topic(broker, PROBE_TOPIC, 1)?;
        let p: BaseProducer = base_config(broker).set("transactional.id", format!("eddy-probe-{}", std::process::id())).set("transaction.timeout.ms", "10000").create().map_err(|e| e.to_string())?;
        p.init_transactions(Duration::from_secs(5)).map_err(|e| e.to_string())?;
        p.begin_transaction().map_err(|e| e.to_string())?;
        p.send(BaseRecord::<str, str>::to(PROBE_TOPIC).payload("probe")).map_err(|(e, _)| e.to_string())?;
        p.commit_transaction(Duration::from_secs(5)).map_err(|e| e.to_string())
    };
    match probe() {
        Ok(()) => true,
        Err(e) => {
            tracing::info!("the broker at {} has no usable transactions: {}", broker, e);
            false
        }
    }
}

/// Starts the writer thread; returns the callback to subscribe with.
pub fn start_sink(config: SinkConfig, workers: usize) -> Result<(SubscribeSink, Arc<SinkStats>), String> {
    let mut c = base_config(&config.broker);
    c.set("enable.idempotence", "true").set("acks", "all").set("linger.ms", "1");
    if config.transactional {
        c.set("transactional.id", format!("eddy-sink-{}", config.name));
    }
    let producer: BaseProducer = c.create().map_err(|e| format!("cannot create a Kafka producer for {}: {}", config.broker, e))?;
    if config.transactional {
        producer.init_transactions(Duration::from_secs(10)).map_err(|e| format!("cannot start Kafka transactions: {}", e))?;
    }
    let (tx, rx) = channel::<(ThreadId, SubscribeEvent)>();
    let tx = Mutex::new(tx);
    let stats = Arc::new(SinkStats::default());
    let writer = Writer { config, producer, workers, stats: stats.clone() };
    std::thread::Builder::new().name("sink".into()).spawn(move || writer.run(rx)).map_err(|e| e.to_string())?;
    let callback: SubscribeSink = Arc::new(move |event| tx.lock().unwrap().send((std::thread::current().id(), event)).is_ok());
    Ok((callback, stats))
}

struct Writer {
    config: SinkConfig,
    producer: BaseProducer,
    workers: usize,
    stats: Arc<SinkStats>,
}

impl Writer {
    fn run(self, rx: Receiver<(ThreadId, SubscribeEvent)>) {
        let mut pending: BTreeMap<Timestamp, Vec<(Row, Diff)>> = BTreeMap::new();
        let mut frontiers: HashMap<ThreadId, Timestamp> = HashMap::new();
        while let Ok(first) = rx.recv() {
            // Take everything queued, so one transaction covers it.
            for (worker, event) in std::iter::once(first).chain(rx.try_iter()) {
            match event {
                SubscribeEvent::Updates(updates) => {
                    for (row, t, d) in updates {
                        pending.entry(t).or_default().push((row, d));
                    }
                }
                SubscribeEvent::Progress(t) => {
                    frontiers.insert(worker, t);
                }
            }
            }
            let complete = if frontiers.len() < self.workers { 0 } else { frontiers.values().copied().min().unwrap_or(0) };
            // Every timestamp before `complete` is whole: write them all, in
            // order, in one transaction (a reader never sees part of one).
            let mut ready = Vec::new();
            while let Some((&t, _)) = pending.iter().next() {
                if t >= complete {
                    break;
                }
                let mut changes = pending.remove(&t).unwrap();
                differential_consolidate(&mut changes);
                ready.push((t, changes));
            }
            if let Some(&(last, _)) = ready.last() {
                if let Err(e) = self.write(ready) {
                    self.stats.errors.fetch_add(1, Ordering::Relaxed);
                    *self.stats.last_error.lock().unwrap() = Some(e);
                }
                self.stats.written_through.store(last, Ordering::Relaxed);
            }
            if complete == Timestamp::MAX {
                break;
            }
        }
        let _ = self.producer.flush(Duration::from_secs(10));
    }

    /// Writes complete timestamps' consolidated changes, in timestamp
    /// order, in one transaction.
    fn write(&self, batches: Vec<(Timestamp, Vec<(Row, Diff)>)>) -> Result<(), String> {
        let batches: Vec<(Timestamp, Vec<(Option<String>, Option<String>)>)> = batches.into_iter().filter(|(_, c)| !c.is_empty()).map(|(t, c)| (t, self.encode(c))).collect();
        if batches.is_empty() {
            return Ok(());
        }
        if self.config.transactional {
            self.producer.begin_transaction().map_err(|e| e.to_string())?;
        }
        let mut count = 0;
        for (t, messages) in &batches {
            let ts = t.to_string();
            for (key, value) in messages {
                let headers = OwnedHeaders::new().insert(Header { key: "eddy-timestamp", value: Some(ts.as_str()) });
                let mut record: BaseRecord<String, String> = BaseRecord::to(&self.config.topic).headers(headers);
                if let Some(k) = key {
                    record = record.key(k);
                }
                if let Some(v) = value {
                    record = record.payload(v);
                }
                let mut record = Some(record);
                while let Some(r) = record.take() {
                    match self.producer.send(r) {
                        Ok(()) => {}
                        Err((rdkafka::error::KafkaError::MessageProduction(rdkafka::types::RDKafkaErrorCode::QueueFull), r)) => {
                            self.producer.poll(Duration::from_millis(10));
                            record = Some(r);
                        }
                        Err((e, _)) => return Err(format!("produce to \"{}\" failed: {}", self.config.topic, e)),
                    }
                }
                self.producer.poll(Duration::ZERO);
                count += 1;
            }
        }
        self.flush(Duration::from_secs(30))?;
        if self.config.transactional {
            self.producer.commit_transaction(Duration::from_secs(30)).map_err(|e| e.to_string())?;
        }
        self.stats.messages.fetch_add(count, Ordering::Relaxed);
        Ok(())
    }

    /// Waits until every message sent is acknowledged. (rdkafka's own
    /// `flush`, which `commit_transaction` also calls, polls in steps of
    /// 100 ms and its `poll` always waits out its timeout: every write took
    /// at least 100 ms. Checking every half millisecond, a write takes as
    /// long as the broker does.)
    fn flush(&self, timeout: Duration) -> Result<(), String> {
        let deadline = std::time::Instant::now() + timeout;
        while self.producer.in_flight_count() > 0 {
            if std::time::Instant::now() >= deadline {
                return Err(format!("{} messages to \"{}\" not acknowledged within {:?}", self.producer.in_flight_count(), self.config.topic, timeout));
            }
            // Serve delivery reports, then sleep: rdkafka's poll with a
            // timeout spins on the clock until the timeout passes.
            self.producer.poll(Duration::ZERO);
            if self.producer.in_flight_count() > 0 {
                std::thread::sleep(Duration::from_micros(500));
            }
        }
        Ok(())
    }

    /// (key, value) messages for one timestamp's changes, by envelope.
    fn encode(&self, changes: Vec<(Row, Diff)>) -> Vec<(Option<String>, Option<String>)> {
        let desc = &self.config.desc;
        let all = || 0..desc.arity();
        let key_of = |row: &Row| -> Option<String> {
            if self.config.key.is_empty() {
                None
            } else {
                Some(encode_json_row(row, desc, self.config.key.iter().copied()).to_string())
            }
        };
        match self.config.envelope {
            Envelope::Append | Envelope::None => changes
                .into_iter()
                .filter(|(_, d)| *d > 0)
                .flat_map(|(row, d)| std::iter::repeat_n((key_of(&row), Some(encode_json_row(&row, desc, all()).to_string())), d as usize))
                .collect(),
            Envelope::Upsert | Envelope::Debezium => {
                // Per key: the rows removed and the rows added at this timestamp.
                let mut by_key: BTreeMap<Option<String>, (Vec<Row>, Vec<Row>)> = BTreeMap::new();
                for (row, d) in changes {
                    let entry = by_key.entry(key_of(&row)).or_default();
                    if d < 0 {
                        entry.0.push(row);
                    } else {
                        entry.1.push(row);
                    }
                }
                by_key
                    .into_iter()
                    .map(|(key, (removed, added))| {
                        let value = if self.config.envelope == Envelope::Upsert {
                            added.last().map(|r| encode_json_row(r, desc, all()).to_string())
                        } else {
                            let j = |r: Option<&Row>| r.map(|r| encode_json_row(r, desc, all())).unwrap_or(serde_json::Value::Null);
                            Some(serde_json::json!({ "before": j(removed.last()), "after": j(added.last()) }).to_string())
                        };
                        (key, value)
                    })
                    .collect()
            }
        }
    }
}

/// Sums the multiplicities of equal rows and drops the zeros.
fn differential_consolidate(changes: &mut Vec<(Row, Diff)>) {
    changes.sort();
    let mut out: Vec<(Row, Diff)> = Vec::with_capacity(changes.len());
    for (r, d) in changes.drain(..) {
        match out.last_mut() {
            Some((prev, pd)) if *prev == r => *pd += d,
            _ => out.push((r, d)),
        }
    }
    out.retain(|(_, d)| *d != 0);
    *changes = out;
}
