//! The Kafka source reader. See the module doc of [`super`].

use super::admin::partitions;
use super::base_config;
use crate::formats::RecordDecoder;
use eddy_engine::repr::format_jsonb;
use eddy_engine::{Datum, Diff, Row};
use eddy_sql::connector::{Envelope, Include, KafkaSource, StartOffset};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Progress of one partition.
#[derive(Clone, Debug, Default)]
pub struct PartitionStats {
    /// The next offset to read.
    pub next_offset: i64,
    /// The broker's high watermark, as last fetched.
    pub high_watermark: i64,
    pub records: u64,
    pub errors: u64,
}

impl PartitionStats {
    pub fn lag(&self) -> i64 {
        (self.high_watermark - self.next_offset).max(0)
    }
}

#[derive(Clone, Debug, Default)]
pub struct SourceStats {
    pub partitions: BTreeMap<i32, PartitionStats>,
    /// The last error talking to the broker, if any.
    pub last_error: Option<String>,
}

/// Rows read since the last batch: changes to the source relation and rows
/// of its error relation. `offsets` are the next offsets after the batch.
#[derive(Debug, Default)]
pub struct SourceBatch {
    pub updates: Vec<(Row, Diff)>,
    pub errors: Vec<Row>,
    pub offsets: Vec<(i32, i64)>,
}

pub struct SourceHandle {
    stop: Arc<AtomicBool>,
    open: Arc<AtomicBool>,
    pub stats: Arc<Mutex<SourceStats>>,
}

impl SourceHandle {
    /// Lets the readers hand over batches: until then they wait, so that
    /// nothing is emitted before the source's relation exists.
    pub fn open(&self) {
        self.open.store(true, Ordering::Release);
    }
}

/// Why a source could not start.
#[derive(Debug)]
pub enum SourceError {
    /// The broker answered, and has no such topic.
    NoTopic,
    /// The broker could not be reached, or refused.
    Broker(String),
}

impl From<String> for SourceError {
    fn from(e: String) -> Self {
        SourceError::Broker(e)
    }
}

impl Drop for SourceHandle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// How a source reads: how many reader threads, and how long a fetch waits
/// for new records (`fetch.wait.max.ms`).
#[derive(Clone, Copy, Debug)]
pub struct Readers {
    pub count: usize,
    /// A Kafka broker answers a waiting fetch as soon as records arrive, so
    /// there this sets only how often an idle reader asks. librdkafka's mock
    /// cluster holds every fetch that found nothing for the whole wait, so
    /// there it adds up to this much to each record's latency.
    pub fetch_wait_ms: u64,
}

/// Connects, checks the topic, and starts `readers.count` reader threads
/// for `spec` (one with INCLUDE SEQUENCE, see below): reader `i` reads the
/// partitions `p` with `p % count == i` (partitions added later too), so
/// partitions are decoded in parallel while each keeps its order. Each
/// reader hands its batches to `emit` once the handle is opened
/// ([`SourceHandle::open`]); a false return stops it.
pub fn start_source(spec: KafkaSource, broker: String, readers: Readers, emit: impl Fn(SourceBatch) -> bool + Send + Sync + 'static) -> Result<SourceHandle, SourceError> {
    // INCLUDE SEQUENCE promises arrival order: numbers must grow with the
    // timestamps records are written at, which only one reader guarantees
    // (two readers number records while batching them, and may hand their
    // batches over in the other order).
    let fetch_wait_ms = readers.fetch_wait_ms;
    let readers = if spec.include.contains(&Include::Sequence) { 1 } else { readers.count.max(1) };
    let group = format!("{}eddy-{}-{}", spec.group_id_prefix.clone().unwrap_or_default(), spec.name, std::process::id());
    let consumer = |broker: &str| -> Result<BaseConsumer, String> {
        let mut config = base_config(broker);
        config
            .set("group.id", &group)
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "false")
            // Short fetch waits: the default 500 ms stalls a caught-up reader
            // on brokers that hold a fetch for its whole wait.
            .set("fetch.wait.max.ms", fetch_wait_ms.to_string())
            .set("auto.offset.reset", if spec.start == StartOffset::Latest { "latest" } else { "earliest" });
        config.create().map_err(|e| format!("cannot create a Kafka consumer for {}: {}", broker, e))
    };
    let first = consumer(&broker)?;
    let parts = partitions(&first, &spec.topic)?.ok_or(SourceError::NoTopic)?;
    if let Some(t) = &spec.dead_letter_topic {
        super::admin::ensure_topic(&broker, t, 1)?;
    }
    let stats = Arc::new(Mutex::new(SourceStats::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let open = Arc::new(AtomicBool::new(false));
    let sequence = Arc::new(AtomicI64::new(0));
    let upsert = Arc::new(Mutex::new(HashMap::new()));
    let emit = Arc::new(emit);
    let mut first = Some(first);
    for index in 0..readers {
        let consumer = match first.take() {
            Some(c) => c,
            None => consumer(&broker)?,
        };
        let dlq: Option<BaseProducer> = match &spec.dead_letter_topic {
            Some(_) => Some(base_config(&broker).create().map_err(|e| format!("cannot create the dead-letter producer: {}", e))?),
            None => None,
        };
        let format = RecordDecoder::new(&spec)?;
        let dec = Decoder { format, spec: spec.clone(), dlq, stats: stats.clone(), upsert: upsert.clone(), sequence: sequence.clone() };
        let mut reader = Reader { consumer, dec, assigned: Vec::new(), index, readers };
        let mine: Vec<i32> = parts.iter().copied().filter(|p| reader.owns(*p)).collect();
        reader.assign(&mine)?;
        let (stop, open, emit) = (stop.clone(), open.clone(), emit.clone());
        std::thread::Builder::new()
            .name(format!("source-{}-{}", spec.name, index))
            .spawn(move || {
                while !open.load(Ordering::Acquire) && !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(1));
                }
                reader.run(&stop, &mut |b| emit(b))
            })
            .map_err(|e| e.to_string())?;
    }
    Ok(SourceHandle { stop, open, stats })
}

struct Reader {
    consumer: BaseConsumer,
    dec: Decoder,
    assigned: Vec<i32>,
    /// This reader is number `index` of `readers`.
    index: usize,
    readers: usize,
}

/// Turns records into changes; owns the envelope's state.
struct Decoder {
    spec: KafkaSource,
    format: RecordDecoder,
    dlq: Option<BaseProducer>,
    stats: Arc<Mutex<SourceStats>>,
    /// ENVELOPE UPSERT and DEBEZIUM: the current row of each key.
    /// Shared by the source's readers: a producer that sends one key to
    /// several partitions still gets one row per key.
    upsert: Arc<Mutex<HashMap<Vec<u8>, Row>>>,
    /// Records read so far by all readers of the source (INCLUDE SEQUENCE
    /// numbers them in read order).
    sequence: Arc<AtomicI64>,
}

impl Reader {
    /// Whether partition `p` is this reader's.
    fn owns(&self, p: i32) -> bool {
        p as usize % self.readers == self.index
    }

    /// Assigns `parts` (adding to what is assigned) at the start offset.
    fn assign(&mut self, parts: &[i32]) -> Result<(), String> {
        let start = if self.dec.spec.start == StartOffset::Latest { Offset::End } else { Offset::Beginning };
        let mut tpl = TopicPartitionList::new();
        for p in self.assigned.iter().chain(parts.iter().filter(|p| !self.assigned.contains(p))) {
            let offset = self.dec.stats.lock().unwrap().partitions.get(p).map(|s| Offset::Offset(s.next_offset)).filter(|_| self.assigned.contains(p)).unwrap_or(start);
            tpl.add_partition_offset(&self.dec.spec.topic, *p, offset).map_err(|e| e.to_string())?;
        }
        self.consumer.assign(&tpl).map_err(|e| format!("cannot assign partitions of \"{}\": {}", self.dec.spec.topic, e))?;
        for p in parts {
            if !self.assigned.contains(p) {
                self.assigned.push(*p);
                self.dec.stats.lock().unwrap().partitions.entry(*p).or_default();
            }
        }
        Ok(())
    }

    fn run(mut self, stop: &AtomicBool, emit: &mut dyn FnMut(SourceBatch) -> bool) {
        let mut last_refresh = Instant::now();
        // The next offset of each partition: a record before it was read
        // already (some brokers deliver the first records again after an
        // assignment at the end of a partition).
        let mut next: HashMap<i32, i64> = HashMap::new();
        let mut last_position = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            let mut batch = SourceBatch::default();
            let mut offsets: BTreeMap<i32, i64> = BTreeMap::new();
            let deadline = Instant::now() + Duration::from_millis(20);
            while Instant::now() < deadline && batch.updates.len() + batch.errors.len() < 20_000 {
                // Wait for the first record; then take only what is already
                // there, so a batch leaves as soon as the reader caught up.
                let wait = if offsets.is_empty() { Duration::from_millis(5) } else { Duration::ZERO };
                match self.consumer.poll(wait) {
                    Some(Ok(msg)) => {
                        if next.get(&msg.partition()).is_some_and(|n| msg.offset() < *n) {
                            continue;
                        }
                        next.insert(msg.partition(), msg.offset() + 1);
                        offsets.insert(msg.partition(), msg.offset() + 1);
                        self.dec.handle(&msg, &mut batch);
                    }
                    Some(Err(e)) => self.dec.stats.lock().unwrap().last_error = Some(e.to_string()),
                    None if !offsets.is_empty() => break,
                    None => {}
                }
            }
            // Caught up: the position may have passed offsets no record is
            // read at (transaction markers, aborted records, records gone by
            // retention), which count as read.
            if offsets.is_empty() && last_position.elapsed() > Duration::from_millis(100) {
                last_position = Instant::now();
                for (p, o) in self.positions() {
                    if next.get(&p).is_none_or(|n| o > *n) && o > 0 {
                        next.insert(p, o);
                        offsets.insert(p, o);
                    }
                }
            }
            if !offsets.is_empty() {
                batch.offsets = offsets.into_iter().collect();
                {
                    let mut st = self.dec.stats.lock().unwrap();
                    for (p, o) in &batch.offsets {
                        let s = st.partitions.entry(*p).or_default();
                        s.next_offset = *o;
                        s.high_watermark = s.high_watermark.max(*o);
                    }
                }
                if !batch.errors.is_empty() {
                    self.dec.flush_dead_letters();
                }
                if !emit(batch) {
                    return;
                }
            }
            if last_refresh.elapsed() > Duration::from_secs(2) {
                last_refresh = Instant::now();
                self.refresh();
            }
        }
    }

    /// Where the consumer stands in each assigned partition it has read
    /// from or skipped into.
    fn positions(&self) -> Vec<(i32, i64)> {
        let Ok(list) = self.consumer.position() else { return Vec::new() };
        list.elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(o) => Some((e.partition(), o)),
                _ => None,
            })
            .collect()
    }

    /// Picks up new partitions and refreshes high watermarks.
    fn refresh(&mut self) {
        match partitions(&self.consumer, &self.dec.spec.topic) {
            Ok(Some(parts)) => {
                let new: Vec<i32> = parts.into_iter().filter(|p| self.owns(*p) && !self.assigned.contains(p)).collect();
                if !new.is_empty() {
                    if let Err(e) = self.assign(&new) {
                        self.dec.stats.lock().unwrap().last_error = Some(e);
                    }
                }
            }
            Ok(None) => {}
            Err(e) => self.dec.stats.lock().unwrap().last_error = Some(e),
        }
        for p in self.assigned.clone() {
            if let Ok((_, high)) = self.consumer.fetch_watermarks(&self.dec.spec.topic, p, Duration::from_secs(1)) {
                self.dec.stats.lock().unwrap().partitions.entry(p).or_default().high_watermark = high;
            }
        }
    }

}

impl Decoder {
    fn handle(&mut self, msg: &BorrowedMessage, batch: &mut SourceBatch) {
        let result = self.decode(msg);
        let mut st = self.stats.lock().unwrap();
        let ps = st.partitions.entry(msg.partition()).or_default();
        ps.records += 1;
        match result {
            Ok(changes) => batch.updates.extend(changes),
            Err(error) => {
                ps.errors += 1;
                drop(st);
                // ENVELOPE UPSERT: the key's latest value is the one that
                // failed, so its earlier row is no longer its value.
                if self.spec.envelope == Envelope::Upsert {
                    if let Some(old) = msg.key().and_then(|k| self.upsert.lock().unwrap().remove(k)) {
                        batch.updates.push((old, -1));
                    }
                }
                self.dead_letter(msg, &error);
                let key = msg.key().map(|b| Datum::Text(String::from_utf8_lossy(b).into_owned().into())).unwrap_or(Datum::Null);
                let raw = msg.payload().map(|b| Datum::Text(self.format.raw_text(b).into())).unwrap_or(Datum::Null);
                batch.errors.push(vec![Datum::Text(self.spec.topic.clone().into()), Datum::Int(msg.partition() as i64), Datum::Int(msg.offset()), key, raw, Datum::Text(error.into())]);
            }
        }
    }

    /// The changes one record makes to the source relation.
    fn decode(&mut self, msg: &BorrowedMessage) -> Result<Vec<(Row, Diff)>, String> {
        let sequence = self.sequence.fetch_add(1, Ordering::Relaxed) + 1;
        let with_meta = |mut row: Row| {
            for inc in &self.spec.include {
                row.push(match inc {
                    Include::Partition => Datum::Int(msg.partition() as i64),
                    Include::Offset => Datum::Int(msg.offset()),
                    Include::Timestamp => msg.timestamp().to_millis().map(|ms| Datum::TimestampTz(ms * 1000)).unwrap_or(Datum::Null),
                    Include::Key => msg.key().map(|k| Datum::Text(String::from_utf8_lossy(k).into_owned().into())).unwrap_or(Datum::Null),
                    Include::Headers => Datum::Jsonb(headers_json(msg).into()),
                    Include::Sequence => Datum::Int(sequence),
                });
            }
            row
        };
        match self.spec.envelope {
            Envelope::None | Envelope::Append => {
                let payload = msg.payload().ok_or("the record has no value")?;
                Ok(vec![(with_meta(self.format.decode(payload)?), 1)])
            }
            Envelope::Upsert => {
                let key = msg.key().ok_or("an upsert record needs a key")?.to_vec();
                let new = match msg.payload() {
                    Some(p) => Some(with_meta(self.format.decode(p)?)),
                    None => None,
                };
                let mut out = Vec::new();
                let mut current = self.upsert.lock().unwrap();
                if let Some(old) = current.remove(&key) {
                    out.push((old, -1));
                }
                if let Some(new) = new {
                    out.push((new.clone(), 1));
                    current.insert(key, new);
                }
                Ok(out)
            }
            Envelope::Debezium => {
                let payload = msg.payload().ok_or("a Debezium record needs a value")?;
                let (before, after) = self.format.decode_change(payload)?;
                if before.is_none() && after.is_none() {
                    return Err("a Debezium record needs \"before\" or \"after\"".into());
                }
                // A row is identified by its columns (not the record key:
                // producers do not all key by primary key). What is
                // retracted is the row held for the `before`, with the
                // INCLUDE columns it was read with: a change of a row never
                // read (a topic read from 'latest', or compacted) retracts
                // nothing, and a create delivered twice leaves one row.
                let identity = |row: &Row| format!("{:?}", row).into_bytes();
                let mut out = Vec::new();
                let mut held = self.upsert.lock().unwrap();
                if let Some(old) = before.as_ref().and_then(|b| held.remove(&identity(b))) {
                    out.push((old, -1));
                }
                if let Some(after) = after {
                    let id = identity(&after);
                    if let Some(old) = held.remove(&id) {
                        out.push((old, -1));
                    }
                    let row = with_meta(after);
                    held.insert(id, row.clone());
                    out.push((row, 1));
                }
                Ok(out)
            }
        }
    }

    /// Produces the undecodable record to the dead-letter topic with the
    /// facts in headers.
    fn dead_letter(&self, msg: &BorrowedMessage, error: &str) {
        let (Some(producer), Some(topic)) = (&self.dlq, &self.spec.dead_letter_topic) else { return };
        let partition = msg.partition().to_string();
        let offset = msg.offset().to_string();
        let headers = rdkafka::message::OwnedHeaders::new()
            .insert(rdkafka::message::Header { key: "eddy.source.topic", value: Some(self.spec.topic.as_str()) })
            .insert(rdkafka::message::Header { key: "eddy.source.partition", value: Some(partition.as_str()) })
            .insert(rdkafka::message::Header { key: "eddy.source.offset", value: Some(offset.as_str()) })
            .insert(rdkafka::message::Header { key: "eddy.error", value: Some(error) });
        let mut record: BaseRecord<[u8], [u8]> = BaseRecord::to(topic).headers(headers);
        if let Some(k) = msg.key() {
            record = record.key(k);
        }
        if let Some(p) = msg.payload() {
            record = record.payload(p);
        }
        if let Err(e) = super::send_queued(producer, record) {
            self.stats.lock().unwrap().last_error = Some(format!("dead-letter produce failed: {}", e));
        }
        producer.poll(Duration::ZERO);
    }

    /// Waits until the dead-letter records produced so far are
    /// acknowledged (at most 5 s), before their batch is handed over.
    /// Polls every millisecond: rdkafka's own flush polls in 100 ms steps.
    fn flush_dead_letters(&self) {
        let Some(producer) = &self.dlq else { return };
        let deadline = Instant::now() + Duration::from_secs(5);
        while producer.in_flight_count() > 0 && Instant::now() < deadline {
            producer.poll(Duration::ZERO);
            std::thread::sleep(Duration::from_millis(1));
        }
        if producer.in_flight_count() > 0 {
            self.stats.lock().unwrap().last_error = Some(format!("{} dead-letter records not acknowledged within 5 s", producer.in_flight_count()));
        }
    }
}

fn headers_json(msg: &BorrowedMessage) -> String {
    let mut m = serde_json::Map::new();
    if let Some(h) = msg.headers() {
        for header in h.iter() {
            let v = header.value.map(|v| serde_json::Value::String(String::from_utf8_lossy(v).into_owned())).unwrap_or(serde_json::Value::Null);
            m.insert(header.key.to_string(), v);
        }
    }
    format_jsonb(&serde_json::Value::Object(m))
}
