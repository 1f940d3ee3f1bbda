//! The Kafka sink writer. See the module doc of [`super`].
//!
//! Engine workers call the subscription callback from their own threads;
//! each worker's progress is tracked separately (by thread), and a
//! timestamp is written only once every worker has passed it.
//!
//! # Delivery
//!
//! A write succeeds only once the broker has acknowledged every message
//! of it: a delivery report with an error (the broker refused the message,
//! or could not be reached within [`MESSAGE_TIMEOUT`]) fails the write,
//! like an error from `send` or from the commit. The messages of a failed
//! write are kept, encoded, and written again after a backoff (200 ms,
//! doubling up to 5 s), together with the timestamps completed meanwhile,
//! whether or not new changes arrive. `written_through` never passes a
//! timestamp whose messages are not all acknowledged; every failed attempt
//! counts in `errors` and shows in `last_error` (which keeps the last
//! failure as history once a retry succeeds).
//!
//! An at-least-once sink may repeat the messages of a failed attempt that
//! did reach the broker. An exactly-once sink aborts the transaction of a
//! failed attempt (read_committed readers never see its messages) and
//! writes the batch again in a new one; a producer that cannot abort, or
//! that reports a fatal error, is replaced by a new one with the same
//! `transactional.id`, whose `init_transactions` fences the old one and
//! aborts its transaction. A commit that timed out may still be applied,
//! so it is retried as a commit, never written again.
//!
//! # The first write
//!
//! A sink's first write is its view's contents when it subscribed, as of
//! one timestamp: the changes before the first complete timestamp,
//! consolidated together. Only their sum is the view's contents; how they
//! spread over earlier times depends on each worker's compaction, and
//! written one timestamp at a time they could pass through states the
//! view never had (a key with two rows, written as whichever came last).
//! Later timestamps are written one by one. A restored sink writes its
//! first write as the difference from its topic (`super::resume`).
//!
//! # Keys
//!
//! ENVELOPE UPSERT and DEBEZIUM with KEY (cols) write one message per key
//! changed at a timestamp, so the key must identify one row of the view;
//! CREATE SINK does not prove it. The writer keeps, per key, how many rows
//! of the view have it (a count per key that has rows, nothing else) and
//! - never writes a tombstone (UPSERT) or `"after": null` (DEBEZIUM) for a
//!   key that still has rows;
//! - when a changed key has (or had, before the change) more than one row,
//!   counts an error in the sink's stats, with a `last_error` naming the
//!   key, and writes the last row added to the key at that timestamp, if
//!   one was added (if rows were only removed, it writes nothing: the
//!   topic keeps a value the view may no longer have).
//!
//! # Errors of the view
//!
//! Rows of the view that failed to evaluate (division by zero, a failed
//! cast) cannot be written. The writer counts them; whenever there are more
//! than before, that counts as an error of the sink, with a `last_error`
//! that says how many and shows one.
//!
//! # Without a key
//!
//! Without KEY, DEBEZIUM writes one message per changed row (as often as
//! its multiplicity): `{"before": row, "after": null}` for each removal,
//! then `{"before": null, "after": row}` for each insertion. (Kafka
//! spreads messages without a key over the topic's partitions: a reader
//! sees them in the order written only on a topic of one partition.)

use super::base_config;
use crate::formats::{encode_json_change, encode_json_row};
use eddy_engine::expr::EvalError;
use eddy_engine::repr::RelationDesc;
use eddy_engine::runtime::{SubscribeEvent, SubscribeSink};
use eddy_engine::{Diff, Row, Timestamp};
use eddy_sql::connector::Envelope;
use rdkafka::client::ClientContext;
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

/// How long librdkafka tries to deliver a message (`message.timeout.ms`)
/// before it reports the message failed.
pub const MESSAGE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a write waits for its acknowledgements after its last send:
/// longer than [`MESSAGE_TIMEOUT`], so every message is either
/// acknowledged or reported failed by then.
const ACK_TIMEOUT: Duration = Duration::from_secs(15);
/// The timeout of `init_transactions`, `commit_transaction` and `abort_transaction`.
const TXN_TIMEOUT: Duration = Duration::from_secs(10);
/// The first and the longest wait before a failed write is retried.
const MIN_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What a sink writes and how.
pub struct SinkConfig {
    pub name: String,
    pub topic: String,
    pub broker: String,
    pub desc: RelationDesc,
    pub key: Vec<usize>,
    pub envelope: Envelope,
    pub transactional: bool,
    /// Whether the topic holds what an earlier run of this sink wrote, to
    /// resume from (see `super::resume`): a restarted server's sinks.
    pub resume: bool,
}

#[derive(Debug, Default)]
pub struct SinkStats {
    /// The last timestamp whose changes are all written and acknowledged
    /// (the progress record a restart resumes from).
    pub written_through: AtomicU64,
    /// Messages of successful writes (acknowledged and, exactly once,
    /// committed); a failed attempt counts none.
    pub messages: AtomicU64,
    /// Failed write attempts, changed keys that have more than one row, and
    /// new evaluation errors of the view (rows missing from the topic).
    pub errors: AtomicU64,
    pub last_error: Mutex<Option<String>>,
}

impl SinkStats {
    fn error(&self, e: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        *self.last_error.lock().unwrap() = Some(e);
    }
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
    let producer = create_producer(&config)?;
    let (tx, rx) = channel::<(ThreadId, SubscribeEvent)>();
    let tx = Mutex::new(tx);
    let stats = Arc::new(SinkStats::default());
    // A restored keyed sink starts from what its topic holds (see `resume`);
    // the producer's `init_transactions` has aborted an earlier run's open
    // transaction by now.
    let rows = match config.envelope {
        Envelope::Upsert => Some(super::resume::Rows::Upsert),
        Envelope::Debezium => Some(super::resume::Rows::Debezium),
        _ => None,
    };
    let resume = match rows {
        Some(rows) if config.resume && !config.key.is_empty() => super::resume::read_topic(&config.broker, &config.topic, config.transactional)
            .inspect_err(|e| tracing::warn!("sink \"{}\": cannot read topic \"{}\" back ({}); writing the view's contents whole", config.name, config.topic, e))
            .ok()
            .map(|topic| (rows, topic)),
        _ => None,
    };
    let writer = Writer { config, producer: Some(producer), committing: None, workers, stats: stats.clone(), unwritten: Vec::new(), key_rows: HashMap::new(), view_errors: 0, resume, snapshot_taken: false };
    std::thread::Builder::new().name("sink".into()).spawn(move || writer.run(rx)).map_err(|e| e.to_string())?;
    let callback: SubscribeSink = Arc::new(move |event| tx.lock().unwrap().send((std::thread::current().id(), event)).is_ok());
    Ok((callback, stats))
}

/// A producer for the sink, its transactions initialized if it writes
/// transactionally.
fn create_producer(config: &SinkConfig) -> Result<BaseProducer<SinkContext>, String> {
    let mut c = base_config(&config.broker);
    c.set("enable.idempotence", "true").set("acks", "all").set("linger.ms", "1");
    c.set("message.timeout.ms", MESSAGE_TIMEOUT.as_millis().to_string());
    // Back from an outage within a second (the default backoff grows to 10 s).
    c.set("reconnect.backoff.max.ms", "1000");
    if config.transactional {
        c.set("transactional.id", format!("eddy-sink-{}", config.name));
    }
    let producer: BaseProducer<SinkContext> = c.create_with_context(SinkContext::default()).map_err(|e| format!("cannot create a Kafka producer for {}: {}", config.broker, e))?;
    if config.transactional {
        producer.init_transactions(TXN_TIMEOUT).map_err(|e| format!("cannot start Kafka transactions: {}", e))?;
    }
    Ok(producer)
}

/// Counts the failed deliveries of a producer and keeps the first one's
/// error (later ones may only say that a failed transaction purged them),
/// and its last client-level error (a broker that cannot be reached).
#[derive(Default)]
struct SinkContext {
    failed: AtomicU64,
    first_failure: Mutex<Option<String>>,
    client_error: Mutex<Option<String>>,
}

impl ClientContext for SinkContext {
    fn error(&self, error: KafkaError, reason: &str) {
        tracing::warn!("Kafka sink producer: {}: {}", error, reason);
        *self.client_error.lock().unwrap() = Some(reason.to_string());
    }
}

impl ProducerContext for SinkContext {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = result {
            self.failed.fetch_add(1, Ordering::Relaxed);
            self.first_failure.lock().unwrap().get_or_insert_with(|| e.to_string());
        }
    }
}

/// A message: key and value (None for a tombstone).
type Message = (Option<String>, Option<String>);

/// Why a write attempt failed.
enum Failure {
    /// Before the commit (begin, send, delivery): a transaction must be aborted.
    Write(String),
    /// The commit failed.
    Commit(KafkaError),
}

struct Writer {
    config: SinkConfig,
    /// None after a producer had to be given up; the next attempt creates one.
    producer: Option<BaseProducer<SinkContext>>,
    /// The number of leading `unwritten` batches of a transaction whose
    /// commit timed out (it may yet be applied: commit it, do not resend).
    committing: Option<usize>,
    workers: usize,
    stats: Arc<SinkStats>,
    /// Complete timestamps' messages, oldest first, not yet all acknowledged.
    unwritten: Vec<(Timestamp, Vec<Message>)>,
    /// UPSERT and DEBEZIUM with KEY: per encoded key, how many rows the view has.
    key_rows: HashMap<String, Diff>,
    /// How many of the view's rows failed to evaluate (they are not in the topic).
    view_errors: Diff,
    /// What the topic held before the first write, which then writes only
    /// the difference (see `super::resume`).
    resume: Option<(super::resume::Rows, super::resume::TopicState)>,
    /// Whether the view's contents as of the subscription were taken.
    snapshot_taken: bool,
}

impl Writer {
    fn run(mut self, rx: Receiver<(ThreadId, SubscribeEvent)>) {
        let mut pending: BTreeMap<Timestamp, Vec<(Row, Diff)>> = BTreeMap::new();
        let mut frontiers: HashMap<ThreadId, Timestamp> = HashMap::new();
        // The last complete timestamp, and when a failed write is retried.
        let mut ready_through: Option<Timestamp> = None;
        let mut retry_at: Option<Instant> = None;
        let mut backoff = MIN_BACKOFF;
        loop {
            // Wait for events; while a failed write waits, only until its retry is due.
            let first = match retry_at {
                None => match rx.recv() {
                    Ok(e) => Some(e),
                    Err(_) => break,
                },
                Some(at) => match rx.recv_timeout(at.saturating_duration_since(Instant::now())) {
                    Ok(e) => Some(e),
                    Err(RecvTimeoutError::Timeout) => None,
                    // The sink was dropped: nobody waits for its writes.
                    Err(RecvTimeoutError::Disconnected) => break,
                },
            };
            // Take everything queued, so one transaction covers it.
            for (worker, event) in first.into_iter().chain(rx.try_iter()) {
                match event {
                    SubscribeEvent::Updates(updates) => {
                        if let Some(late) = updates.iter().map(|(_, t, _)| *t).filter(|t| ready_through.is_some_and(|r| *t <= r)).min() {
                            // The engine promises otherwise; written with the next timestamps.
                            self.stats.error(format!("sink \"{}\": changes at {} came after that timestamp was written", self.config.name, late));
                        }
                        for (row, t, d) in updates {
                            pending.entry(t).or_default().push((row, d));
                        }
                    }
                    SubscribeEvent::Progress(t) => {
                        frontiers.insert(worker, t);
                    }
                    SubscribeEvent::Errors(errors) => self.view_errors(errors),
                }
            }
            let complete = if frontiers.len() < self.workers { 0 } else { frontiers.values().copied().min().unwrap_or(0) };
            if !self.snapshot_taken && complete > 0 {
                self.snapshot_taken = true;
                // The view's contents as of the subscription: one write (see
                // the module doc), with a topic to resume the difference
                // from what it holds.
                let snapshot = take_before(&mut pending, complete);
                ready_through = snapshot.keys().last().copied().or(ready_through);
                let mut contents: Vec<(Row, Diff)> = snapshot.into_values().flatten().collect();
                differential_consolidate(&mut contents);
                let mut messages = self.encode(contents);
                if let Some((rows, topic)) = self.resume.take() {
                    let whole = messages.len();
                    messages = super::resume::reconcile(rows, messages, topic);
                    tracing::debug!("sink \"{}\": resumed at {}: {} messages of contents, {} differ from the topic", self.config.name, complete, whole, messages.len());
                }
                if !messages.is_empty() {
                    self.unwritten.push((ready_through.unwrap_or(complete - 1), messages));
                }
            }
            // Every timestamp before `complete` is whole: encode it once (the
            // key counts move once per timestamp), then write them all, in
            // order, in one transaction (a reader never sees part of one).
            for (t, mut changes) in take_before(&mut pending, complete) {
                differential_consolidate(&mut changes);
                let messages = self.encode(changes);
                ready_through = Some(t);
                if !messages.is_empty() {
                    self.unwritten.push((t, messages));
                }
            }
            if retry_at.is_none_or(|at| Instant::now() >= at) {
                retry_at = None;
                while !self.unwritten.is_empty() {
                    let started = Instant::now();
                    match self.attempt() {
                        Ok((batches, count)) => {
                            let last = self.unwritten[batches - 1].0;
                            tracing::debug!("sink \"{}\": wrote {} messages of {} timestamps through {} in {:?}", self.config.name, count, batches, last, started.elapsed());
                            self.unwritten.drain(..batches);
                            self.stats.messages.fetch_add(count, Ordering::Relaxed);
                            self.stats.written_through.store(last, Ordering::Relaxed);
                            backoff = MIN_BACKOFF;
                        }
                        Err(e) => {
                            tracing::warn!("sink \"{}\": {} (retrying in {:?})", self.config.name, e, backoff);
                            retry_at = Some(Instant::now() + backoff);
                            backoff = (backoff * 2).min(MAX_BACKOFF);
                            break;
                        }
                    }
                }
                if let (true, Some(t)) = (self.unwritten.is_empty(), ready_through) {
                    self.stats.written_through.store(t, Ordering::Relaxed);
                }
            }
            if complete == Timestamp::MAX && self.unwritten.is_empty() {
                break;
            }
            // Nobody else holds the stats: the sink was dropped.
            if retry_at.is_some() && Arc::strong_count(&self.stats) == 1 {
                break;
            }
        }
    }

    /// Counts the view's evaluation errors; more of them is an error of the
    /// sink: those rows are missing from the topic.
    fn view_errors(&mut self, errors: Vec<(EvalError, Timestamp, Diff)>) {
        let before = self.view_errors;
        self.view_errors += errors.iter().map(|(_, _, d)| d).sum::<Diff>();
        if self.view_errors > before.max(0) {
            let example = errors.iter().find(|(_, _, d)| *d > 0).map(|(e, _, _)| e.to_string()).unwrap_or_default();
            let e = format!("sink \"{}\": the view has {} row(s) that failed to evaluate ({}), missing from the topic", self.config.name, self.view_errors, example);
            tracing::warn!("{}", e);
            self.stats.error(e);
        }
    }

    /// One attempt at writing the unwritten batches, in timestamp order, in
    /// one transaction: how many batches and messages it wrote, once every
    /// message is acknowledged (and the transaction committed). A failure
    /// is in the stats before the producer is readied for the next attempt
    /// (which can take a while when the broker is away).
    fn attempt(&mut self) -> Result<(usize, u64), String> {
        if self.producer.is_none() {
            let producer = create_producer(&self.config).inspect_err(|e| self.stats.error(e.clone()))?;
            self.producer = Some(producer);
        }
        let batches = self.committing.unwrap_or(self.unwritten.len());
        let count = self.unwritten[..batches].iter().map(|(_, m)| m.len() as u64).sum();
        let result = match self.committing {
            Some(_) => self.commit(),
            None => self.send(batches).and_then(|()| self.commit()),
        };
        match result {
            Ok(()) => {
                self.committing = None;
                Ok((batches, count))
            }
            Err(failure) => {
                let message = match &failure {
                    Failure::Write(e) => e.clone(),
                    Failure::Commit(e) => format!("committing {} messages to \"{}\" failed: {}", count, self.config.topic, e),
                };
                self.stats.error(message.clone());
                self.recover(failure, batches);
                Err(message)
            }
        }
    }

    /// Sends `batches` unwritten batches (in a new transaction) and waits
    /// until the broker acknowledged every message.
    fn send(&self, batches: usize) -> Result<(), Failure> {
        let producer = self.producer.as_ref().unwrap();
        if self.config.transactional {
            producer.begin_transaction().map_err(|e| Failure::Write(format!("cannot begin a Kafka transaction: {}", e)))?;
        }
        // Every report of an earlier attempt is in: count this one's.
        producer.context().failed.store(0, Ordering::Relaxed);
        *producer.context().first_failure.lock().unwrap() = None;
        let mut sent = 0;
        for (t, messages) in &self.unwritten[..batches] {
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
                super::send_queued(producer, record).map_err(|e| Failure::Write(format!("produce to \"{}\" failed: {}", self.config.topic, e)))?;
                producer.poll(Duration::ZERO);
                sent += 1;
            }
        }
        self.wait_for_acks(ACK_TIMEOUT)?;
        let context = producer.context();
        let failed = context.failed.load(Ordering::Relaxed);
        if failed > 0 {
            let why = context.first_failure.lock().unwrap().clone().unwrap_or_default();
            let broker = context.client_error.lock().unwrap().clone().map(|e| format!(" (last client error: {})", e)).unwrap_or_default();
            return Err(Failure::Write(format!("{} of {} messages to \"{}\" were not delivered: {}{}", failed, sent, self.config.topic, why, broker)));
        }
        Ok(())
    }

    /// Commits the transaction, if the sink writes transactionally.
    fn commit(&self) -> Result<(), Failure> {
        if self.config.transactional {
            self.producer.as_ref().unwrap().commit_transaction(TXN_TIMEOUT).map_err(Failure::Commit)?;
        }
        Ok(())
    }

    /// Readies the producer for the next attempt after a failed one: a
    /// timed-out commit is to be retried as a commit; otherwise the
    /// transaction is aborted. A producer with a fatal error, one that
    /// cannot abort, and one with messages still in flight is given up (a
    /// new one fences it and aborts its transaction; dropping it purges
    /// its queue).
    fn recover(&mut self, failure: Failure, batches: usize) {
        self.committing = None;
        let Some(producer) = &self.producer else { return };
        let fatal = producer.client().fatal_error().is_some() || matches!(&failure, Failure::Commit(KafkaError::Transaction(e)) if e.is_fatal());
        if fatal || producer.in_flight_count() > 0 {
            self.producer = None;
            return;
        }
        if !self.config.transactional {
            return;
        }
        if let Failure::Commit(KafkaError::Transaction(e)) = &failure {
            if e.is_retriable() && !e.txn_requires_abort() {
                self.committing = Some(batches);
                return;
            }
        }
        if let Err(e) = producer.abort_transaction(TXN_TIMEOUT) {
            tracing::warn!("sink \"{}\": cannot abort the failed transaction ({}); starting a new producer", self.config.name, e);
            self.producer = None;
        }
    }

    /// Waits until every message sent is acknowledged or reported failed.
    /// (rdkafka's own `flush`, which `commit_transaction` also calls, polls
    /// in steps of 100 ms and its `poll` always waits out its timeout: every
    /// write took at least 100 ms. Checking every half millisecond, a write
    /// takes as long as the broker does.)
    fn wait_for_acks(&self, timeout: Duration) -> Result<(), Failure> {
        let producer = self.producer.as_ref().unwrap();
        let deadline = Instant::now() + timeout;
        while producer.in_flight_count() > 0 {
            if Instant::now() >= deadline {
                return Err(Failure::Write(format!("{} messages to \"{}\" not acknowledged within {:?}", producer.in_flight_count(), self.config.topic, timeout)));
            }
            // Serve delivery reports, then sleep: rdkafka's poll with a
            // timeout spins on the clock until the timeout passes.
            producer.poll(Duration::ZERO);
            if producer.in_flight_count() > 0 {
                std::thread::sleep(Duration::from_micros(500));
            }
        }
        // The last reports may still wait in the queue.
        producer.poll(Duration::ZERO);
        Ok(())
    }

    /// The messages for one timestamp's consolidated changes, by envelope.
    /// With KEY, UPSERT and DEBEZIUM move the per-key row counts: call once
    /// per timestamp.
    fn encode(&mut self, changes: Vec<(Row, Diff)>) -> Vec<Message> {
        let desc = &self.config.desc;
        let all = || 0..desc.arity();
        let json = |r: &Row| encode_json_row(r, desc, all());
        let key_of = |row: &Row| -> Option<String> {
            if self.config.key.is_empty() {
                None
            } else {
                Some(encode_json_row(row, desc, self.config.key.iter().copied()))
            }
        };
        let repeat = |d: Diff| d.unsigned_abs() as usize;
        match self.config.envelope {
            Envelope::Append | Envelope::None => changes.into_iter().filter(|(_, d)| *d > 0).flat_map(|(row, d)| std::iter::repeat_n((key_of(&row), Some(json(&row))), repeat(d))).collect(),
            Envelope::Debezium if self.config.key.is_empty() => {
                // No key to group by: one message per changed row, removals first.
                let message = |before: Option<&Row>, after: Option<&Row>| (None, Some(encode_json_change(before.map(json), after.map(json))));
                let removed = changes.iter().filter(|(_, d)| *d < 0).flat_map(|(r, d)| std::iter::repeat_n(message(Some(r), None), repeat(*d)));
                let added = changes.iter().filter(|(_, d)| *d > 0).flat_map(|(r, d)| std::iter::repeat_n(message(None, Some(r)), repeat(*d)));
                removed.chain(added).collect()
            }
            Envelope::Upsert | Envelope::Debezium => {
                // Per key: the rows removed and the rows added at this timestamp.
                let mut by_key: BTreeMap<String, (Diff, Vec<Row>, Vec<Row>)> = BTreeMap::new();
                for (row, d) in changes {
                    let entry = by_key.entry(key_of(&row).unwrap_or_default()).or_default();
                    entry.0 += d;
                    if d < 0 {
                        entry.1.push(row);
                    } else {
                        entry.2.push(row);
                    }
                }
                let mut messages = Vec::new();
                let mut problems = Vec::new();
                for (key, (diff, removed, added)) in by_key {
                    let before = self.key_rows.get(&key).copied().unwrap_or(0);
                    let after = before + diff;
                    if after > 0 {
                        self.key_rows.insert(key.clone(), after);
                    } else {
                        self.key_rows.remove(&key);
                    }
                    if after > 1 {
                        problems.push(format!("sink \"{}\": key {} has {} rows: a sink KEY must identify one row", self.config.name, key, after));
                    } else if before > 1 {
                        problems.push(format!("sink \"{}\": key {} had {} rows, now {}: a sink KEY must identify one row (the topic may keep the value of a row that is gone)", self.config.name, key, before, after));
                    }
                    // Never a deletion for a key that still has rows.
                    let value = if after <= 0 {
                        if before <= 0 {
                            continue;
                        }
                        match self.config.envelope {
                            Envelope::Upsert => None,
                            _ => Some(encode_json_change(removed.last().map(json), None)),
                        }
                    } else {
                        let Some(row) = added.last() else { continue };
                        match self.config.envelope {
                            Envelope::Upsert => Some(json(row)),
                            _ => Some(encode_json_change(removed.last().map(json), Some(json(row)))),
                        }
                    };
                    messages.push((Some(key), value));
                }
                if let Some(first) = problems.first() {
                    let more = if problems.len() > 1 { format!(" (and {} more keys)", problems.len() - 1) } else { String::new() };
                    tracing::warn!("{}{}", first, more);
                    self.stats.errors.fetch_add(problems.len() as u64, Ordering::Relaxed);
                    *self.stats.last_error.lock().unwrap() = Some(format!("{}{}", first, more));
                }
                messages
            }
        }
    }
}

/// Removes and returns the changes at timestamps before `complete`.
fn take_before(pending: &mut BTreeMap<Timestamp, Vec<(Row, Diff)>>, complete: Timestamp) -> BTreeMap<Timestamp, Vec<(Row, Diff)>> {
    let later = pending.split_off(&complete);
    std::mem::replace(pending, later)
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
