//! CREATE/DROP SOURCE and SINK: starting Kafka readers and writers, and
//! writing what sources read into the engine at fresh timestamps.

use super::{Coordinator, State};
use eddy_connectors::kafka::sink::{broker_supports_transactions, start_sink, SinkConfig, SinkStats};
use eddy_connectors::kafka::source::{start_source, Readers, SourceBatch, SourceError, SourceHandle};
use eddy_connectors::QueryResult;
use eddy_engine::runtime::Command;
use eddy_engine::GlobalId;
use eddy_sql::catalog::{CatalogItem, ItemKind};
use eddy_sql::connector::{parse_connector, ConnectorStatement, Delivery, Envelope, KafkaSink, KafkaSource, StartOffset};
use eddy_sql::{codes, SqlError};
use std::collections::HashMap;
use std::sync::Arc;

/// A running source: its reader and where its rows go.
pub struct SourceRuntime {
    pub handle: SourceHandle,
    pub errors: GlobalId,
    pub name: String,
    pub topic: String,
    /// The broker it reads from.
    pub broker: String,
    /// Per partition, the offset after the last record written to the
    /// source's relation (what reads see).
    pub written: HashMap<i32, i64>,
}

/// A running sink.
pub struct SinkRuntime {
    pub stats: Arc<SinkStats>,
    pub name: String,
    pub topic: String,
}

/// Batches read by sources, on their way to the coordinator.
pub type BatchSender = tokio::sync::mpsc::UnboundedSender<(GlobalId, SourceBatch)>;

impl Coordinator {
    /// CREATE SOURCE and CREATE SINK, in three steps so that a slow or
    /// unreachable broker holds up no other session: check names and
    /// inputs under the state lock; connect to the broker (metadata, the
    /// transaction probe, topic creation, schema registry) without it; then
    /// register under the lock, checking again what may have changed
    /// meanwhile. A source's readers emit nothing until it is registered.
    pub(super) async fn create_connector(&self, sql: &str) -> Result<QueryResult, SqlError> {
        let blocking = |e: tokio::task::JoinError| SqlError::internal(format!("connecting to Kafka failed: {}", e));
        let statement = parse_connector(sql)?;
        // IF NOT EXISTS with the name taken: nothing to connect to.
        let (name, if_not_exists, tag) = match &statement {
            ConnectorStatement::Source(s) => (s.name.clone(), s.if_not_exists, "CREATE SOURCE"),
            ConnectorStatement::Sink(s) => (s.name.clone(), s.if_not_exists, "CREATE SINK"),
        };
        if if_not_exists {
            if let Some(notice) = self.state.lock().await.check_free(&name, true)? {
                return Ok(QueryResult::Command { tag: tag.into(), notices: vec![notice] });
            }
        }
        match statement {
            ConnectorStatement::Source(spec) => {
                let (broker, id, errors, readers, tx, restoring) = {
                    let mut state = self.state.lock().await;
                    let (id, errors) = state.check_source(&spec)?;
                    let readers = Readers { count: state.engine.workers(), fetch_wait_ms: state.fetch_wait_ms };
                    (spec.broker.clone().unwrap_or_else(|| state.kafka_broker.clone()), id, errors, readers, state.batches.clone(), state.restoring)
                };
                // What the topic holds now is read before CREATE SOURCE
                // answers (see `catch_up`); not while restoring, which
                // waits for every source at once.
                let wait = spec.start == StartOffset::Earliest && !restoring;
                let (name, topic) = (spec.name.clone(), spec.topic.clone());
                let (connected, ends) = tokio::task::spawn_blocking(move || {
                    // Its readers read nothing before it is registered.
                    let connected = connect_source(spec, broker.clone(), readers, move |batch| tx.send((id, batch)).is_ok())?;
                    let ends = if wait { eddy_connectors::kafka::admin::high_watermarks(&broker, &connected.spec.topic).unwrap_or_default() } else { Vec::new() };
                    Ok::<_, SqlError>((connected, ends))
                })
                .await
                .map_err(blocking)??;
                let mut done = {
                    let mut state = self.state.lock().await;
                    let done = state.register_source(connected, id, errors, sql)?;
                    state.log_ddl(sql)?;
                    done
                };
                let behind = self.catch_up(&[(id, ends)], super::catch_up::CREATE_WAIT, super::catch_up::CREATE_WAIT, |_| {}).await;
                if behind > 0 {
                    if let QueryResult::Command { notices, .. } = &mut done {
                        notices.push(SqlError::notice(format!("source \"{}\" is still reading topic \"{}\": {} records short of where the topic ended when it was created, after {} s; queries see what has been read so far", name, topic, behind, super::catch_up::CREATE_WAIT.as_secs())).with_hint(format!("SELECT * FROM {} WHERE source = '{}' shows its progress", super::system::SOURCE_PARTITIONS, name)));
                    }
                }
                Ok(done)
            }
            ConnectorStatement::Sink(spec) => {
                let (broker, from, key, workers, resume) = {
                    let state = self.state.lock().await;
                    let (from, key) = state.check_sink(&spec)?;
                    (spec.broker.clone().unwrap_or_else(|| state.kafka_broker.clone()), from, key, state.engine.workers(), state.restoring)
                };
                let connected = tokio::task::spawn_blocking(move || connect_sink(spec, broker, from, key, workers, resume)).await.map_err(blocking)??;
                let mut state = self.state.lock().await;
                let done = state.register_sink(connected, sql)?;
                state.log_ddl(sql)?;
                Ok(done)
            }
        }
    }
}

/// A source connected to its broker, its readers waiting to be opened.
struct ConnectedSource {
    spec: KafkaSource,
    handle: SourceHandle,
    notices: Vec<SqlError>,
}

/// A sink with its producer ready, waiting for the view's changes.
struct ConnectedSink {
    spec: KafkaSink,
    from: GlobalId,
    desc: eddy_engine::repr::RelationDesc,
    callback: eddy_engine::runtime::SubscribeSink,
    stats: Arc<SinkStats>,
    notices: Vec<SqlError>,
}

/// Fetches what the format needs (an Avro schema), checks the topic and
/// starts the readers. Blocks on the network.
fn connect_source(mut spec: KafkaSource, broker: String, readers: Readers, emit: impl Fn(SourceBatch) -> bool + Send + Sync + 'static) -> Result<ConnectedSource, SqlError> {
    // FORMAT AVRO: the writer schema, and the columns it gives.
    let notices = eddy_connectors::formats::prepare_source(&mut spec)?;
    check_columns(&spec)?;
    let handle = start_source(spec.clone(), broker.clone(), readers, emit).map_err(|e| match e {
        SourceError::NoTopic => SqlError::new(codes::UNDEFINED_OBJECT, format!("Kafka topic \"{}\" does not exist on {}", spec.topic, broker))
            .with_hint("create the topic first (eddy reads topics, it does not create them), then CREATE SOURCE again"),
        SourceError::Broker(e) => SqlError::new(codes::CONNECTION_FAILURE, format!("cannot read Kafka topic \"{}\": {}", spec.topic, e))
            .with_hint(format!("is a Kafka broker running at {}? start eddy with --kafka HOST:PORT or give BROKER 'host:port'", broker)),
    })?;
    Ok(ConnectedSource { spec, handle, notices })
}

/// Decides the delivery (probing the broker for transactions), creates the
/// topic and starts the writer. Blocks on the network.
fn connect_sink(spec: KafkaSink, broker: String, from: eddy_sql::catalog::CatalogItem, key: Vec<usize>, workers: usize, resume: bool) -> Result<ConnectedSink, SqlError> {
    let mut notices = Vec::new();
    let transactional = match spec.delivery {
        Some(Delivery::AtLeastOnce) => false,
        Some(Delivery::ExactlyOnce) => {
            if !broker_supports_transactions(&broker) {
                return Err(SqlError::new(codes::FEATURE_NOT_SUPPORTED, format!("DELIVERY = 'exactly_once' needs Kafka transactions, which the broker at {} does not support", broker)).with_hint("use WITH (DELIVERY = 'at_least_once'), or a broker with transactions"));
            }
            true
        }
        None => {
            let t = broker_supports_transactions(&broker);
            if !t {
                notices.push(SqlError::notice(format!("the broker at {} does not support transactions: sink \"{}\" delivers at least once (a restart may repeat changes)", broker, spec.name)));
            }
            t
        }
    };
    eddy_connectors::kafka::admin::ensure_topic(&broker, &spec.topic, 1).map_err(|e| SqlError::new(codes::CONNECTION_FAILURE, e).with_hint(format!("is a Kafka broker running at {}?", broker)))?;
    let config = SinkConfig { name: spec.name.clone(), topic: spec.topic.clone(), broker, desc: from.desc.clone(), key, envelope: spec.envelope, transactional, resume };
    let (callback, stats) = start_sink(config, workers).map_err(|e| SqlError::new(codes::CONNECTION_FAILURE, e))?;
    Ok(ConnectedSink { spec, from: from.id, desc: from.desc, callback, stats, notices })
}

/// A source's columns (declared, from its schema, and INCLUDEd) must have
/// distinct names: every query of the source would fail otherwise.
fn check_columns(spec: &KafkaSource) -> Result<(), SqlError> {
    let desc = spec.desc();
    for (i, name) in desc.names.iter().enumerate() {
        if desc.names[..i].contains(name) {
            let included = ["partition", "offset", "timestamp", "key", "headers", "sequence"].contains(&name.as_str());
            let err = SqlError::new(codes::DUPLICATE_COLUMN, format!("column \"{}\" specified more than once", name));
            return Err(if included { err.with_hint(format!("INCLUDE adds a column named \"{}\"; rename the declared column", name)) } else { err });
        }
    }
    Ok(())
}

impl State {
    /// The catalog's side of CREATE SOURCE, before connecting: the names
    /// are free. Returns the ids of the source and its error relation.
    fn check_source(&mut self, spec: &KafkaSource) -> Result<(GlobalId, GlobalId), SqlError> {
        self.check_free(&spec.name, false)?;
        self.check_free(&format!("{}_errors", spec.name), false)?;
        check_columns(spec)?;
        Ok((self.catalog.allocate_id(), self.catalog.allocate_id()))
    }

    fn register_source(&mut self, connected: ConnectedSource, id: GlobalId, errors: GlobalId, sql: &str) -> Result<QueryResult, SqlError> {
        let ConnectedSource { spec, handle, notices } = connected;
        let errors_name = format!("{}_errors", spec.name);
        // Another session may have taken a name while this one connected
        // (dropping `handle` then stops the readers).
        self.check_free(&spec.name, false)?;
        self.check_free(&errors_name, false)?;
        self.engine.send(Command::CreateTable { id });
        self.engine.send(Command::CreateTable { id: errors });
        self.catalog.insert(CatalogItem { id, name: spec.name.clone(), kind: ItemKind::Source { errors }, desc: spec.desc(), create_sql: sql.to_string(), plan: None, depends_on: vec![] });
        self.catalog.insert(CatalogItem { id: errors, name: errors_name, kind: ItemKind::SourceErrors { of: id }, desc: KafkaSource::error_desc(), create_sql: String::new(), plan: None, depends_on: vec![] });
        handle.open();
        let broker = spec.broker.clone().unwrap_or_else(|| self.kafka_broker.clone());
        self.sources.insert(id, SourceRuntime { handle, errors, name: spec.name.clone(), topic: spec.topic.clone(), broker, written: HashMap::new() });
        Ok(QueryResult::Command { tag: "CREATE SOURCE".into(), notices })
    }

    /// The catalog's side of CREATE SINK, before connecting: the name is
    /// free, the input can be sunk, the key columns exist, and ENVELOPE
    /// APPEND gets an input that never retracts. Returns the input and the
    /// key's column positions.
    fn check_sink(&self, spec: &KafkaSink) -> Result<(eddy_sql::catalog::CatalogItem, Vec<usize>), SqlError> {
        self.check_free(&spec.name, false)?;
        let from = self.catalog.resolve_or_err(&spec.from)?.clone();
        if !from.kind.is_arranged() {
            return Err(SqlError::new(codes::WRONG_OBJECT_TYPE, format!("cannot sink {} \"{}\"", from.kind.name(), from.name)).with_hint("sink a table, a source or a materialized view (CREATE MATERIALIZED VIEW ... AS SELECT ...)"));
        }
        let mut key = Vec::new();
        for k in &spec.key {
            key.push(from.desc.names.iter().position(|n| n == k).ok_or_else(|| SqlError::new(codes::UNDEFINED_COLUMN, format!("column \"{}\" does not exist in \"{}\"", k, from.name)))?);
        }
        if spec.envelope == Envelope::Append && self.can_retract(from.id) {
            return Err(SqlError::new(codes::FEATURE_NOT_SUPPORTED, format!("ENVELOPE APPEND cannot sink \"{}\": its rows can be retracted", from.name))
                .with_hint("use ENVELOPE UPSERT or DEBEZIUM, which represent deletions")
                .with_detail("only append-only sources (ENVELOPE NONE) and views that filter, map and project them never retract"));
        }
        Ok((from, key))
    }

    fn register_sink(&mut self, connected: ConnectedSink, sql: &str) -> Result<QueryResult, SqlError> {
        let ConnectedSink { spec, from, desc, callback, stats, notices } = connected;
        self.check_free(&spec.name, false)?;
        if self.catalog.get(from).is_none() {
            return Err(SqlError::new(codes::UNDEFINED_TABLE, format!("relation \"{}\" was dropped while sink \"{}\" was being created", spec.from, spec.name)));
        }
        let id = self.catalog.allocate_id();
        self.engine.send(Command::Subscribe { id, of: from, sink: callback });
        self.catalog.insert(CatalogItem { id, name: spec.name.clone(), kind: ItemKind::Sink { from }, desc, create_sql: sql.to_string(), plan: None, depends_on: vec![from] });
        self.sinks.insert(id, SinkRuntime { stats, name: spec.name, topic: spec.topic });
        Ok(QueryResult::Command { tag: "CREATE SINK".into(), notices })
    }

    /// Whether the contents of `id` can ever lose a row.
    fn can_retract(&self, id: GlobalId) -> bool {
        let Some(item) = self.catalog.get(id) else { return true };
        match &item.kind {
            ItemKind::Source { .. } => source_retracts(&item.create_sql),
            ItemKind::SourceErrors { .. } => false,
            ItemKind::MaterializedView => match &item.plan {
                Some(plan) => !plan_is_monotonic(plan) || plan.depends_on().iter().any(|d| self.can_retract(*d)),
                None => true,
            },
            // Tables take DELETE and UPDATE.
            _ => true,
        }
    }

    /// Writes batches sources read (their rows and their errors) at one
    /// timestamp.
    pub(super) fn ingest(&mut self, batches: Vec<(GlobalId, SourceBatch)>) {
        let mut writes = Vec::new();
        for (id, batch) in batches {
            let Some(rt) = self.sources.get_mut(&id) else { continue };
            for (p, o) in batch.offsets {
                let w = rt.written.entry(p).or_default();
                *w = (*w).max(o);
            }
            let errors = rt.errors;
            writes.push((id, batch.updates));
            if !batch.errors.is_empty() {
                writes.push((errors, batch.errors.into_iter().map(|r| (r, 1)).collect()));
            }
        }
        self.write(writes);
    }

    /// Stops the reader or writer of a dropped source or sink.
    pub(super) fn stop_connector(&mut self, id: GlobalId) {
        self.sources.remove(&id);
        self.sinks.remove(&id);
    }
}

/// Whether a source's envelope can retract rows (UPSERT and DEBEZIUM can),
/// from its parsed CREATE SOURCE.
fn source_retracts(create_sql: &str) -> bool {
    !matches!(parse_connector(create_sql), Ok(ConnectorStatement::Source(s)) if s.envelope == Envelope::None)
}

/// Whether a plan only maps, filters, projects and unions its inputs (so
/// it retracts only what its inputs retract).
fn plan_is_monotonic(plan: &eddy_engine::plan::Plan) -> bool {
    use eddy_engine::plan::Plan;
    match plan {
        Plan::Get { .. } | Plan::Constant { .. } => true,
        Plan::Map { input, .. } | Plan::Filter { input, .. } | Plan::Project { input, .. } => plan_is_monotonic(input),
        Plan::Union { inputs } => inputs.iter().all(plan_is_monotonic),
        Plan::Join { left, right, .. } => plan_is_monotonic(left) && plan_is_monotonic(right),
        Plan::Let { .. } => plan_is_monotonic(&plan.inline_lets()),
        _ => false,
    }
}

impl Coordinator {
    /// Writes source batches into the engine as they arrive, at most one
    /// timestamp per `tick`, and not before the engine has finished the
    /// previous one: what arrives meanwhile shares the next timestamp.
    ///
    /// Every timestamp costs each operator of every view a round of work
    /// (sealing and merging batches, progress tracking) however little
    /// changed. Measured on the saga benchmark at 250 orders/s, that
    /// per-timestamp work was most of the server's CPU: 4.8 s at a 100 ms
    /// tick, 15.1 s at 5 ms, for the same orders. Waiting for the engine
    /// makes timestamps as frequent as the engine can absorb: under light
    /// load one per tick (low latency), under heavy load fewer, each with
    /// more data, instead of a backlog of timestamps that grows. At 1,000
    /// orders/s (2 workers, 20 ms tick, 8 s runs) p50 went from 651 ms to
    /// 77-110 ms. That rate is near what 2 cores sustain, so runs vary
    /// (10 s runs: p50 89-281 ms). Overloaded (10,000 orders/s) the engine
    /// takes about a second of input per timestamp and its output comes in
    /// steps seconds apart.
    pub async fn run_ingest(self: Arc<Self>, mut rx: tokio::sync::mpsc::UnboundedReceiver<(GlobalId, SourceBatch)>, tick: std::time::Duration) {
        /// The longest the engine may hold up ingestion: a dataflow that is
        /// slow to build or stuck should not stop every source.
        const MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(1);
        let mut last = std::time::Instant::now();
        let mut written = 0;
        while let Some(first) = rx.recv().await {
            let wait = (last + tick).saturating_duration_since(std::time::Instant::now());
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            self.progress.wait_past(written, MAX_WAIT.saturating_sub(last.elapsed())).await;
            let mut batches = vec![first];
            while let Ok(b) = rx.try_recv() {
                batches.push(b);
            }
            let mut state = self.state.lock().await;
            state.ingest(batches);
            written = state.read_ts;
            drop(state);
            last = std::time::Instant::now();
        }
    }
}
