//! eddy's relations about itself (`eddy_catalog.*`) and the Prometheus
//! metrics page, refreshed once a second from the running sources and
//! sinks; and the `information_schema` / `pg_catalog` relations, rewritten
//! before a statement runs whenever the catalog changed.

use super::{Coordinator, State};
use eddy_engine::repr::{ColumnType, RelationDesc};
use eddy_engine::runtime::{CollectionStats, Command, Engine};
use eddy_engine::{Datum, GlobalId, Row, ScalarType, Timestamp};
use eddy_sql::catalog::{CatalogItem, ItemKind};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

pub const SOURCE_PARTITIONS: &str = "eddy_catalog.source_partitions";
pub const SINKS: &str = "eddy_catalog.sinks";
pub const OBJECT_STATS: &str = "eddy_catalog.object_stats";

fn col(name: &str, scalar: ScalarType) -> (String, ColumnType) {
    (name.to_string(), ColumnType { scalar, nullable: true })
}

/// The current contents of each system relation, to diff against, and
/// the engine's last report on its collections.
#[derive(Default)]
pub struct SystemTables {
    contents: BTreeMap<GlobalId, Vec<Row>>,
    stats: BTreeMap<GlobalId, CollectionStats>,
    /// The catalog version the generated catalog relations were written for.
    catalog_version: Option<(GlobalId, usize)>,
}

/// Every worker's share of each collection's stats, summed (the upper is
/// the least), once all have answered; `None` after `timeout`.
fn collect_stats(engine: &Engine, timeout: std::time::Duration) -> impl std::future::Future<Output = Option<BTreeMap<GlobalId, CollectionStats>>> + 'static {
    let workers = engine.workers();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let collected = Arc::new(Mutex::new((Some(tx), BTreeMap::<GlobalId, CollectionStats>::new(), 0usize)));
    engine.send(Command::Stats {
        respond: Arc::new(move |part: Vec<CollectionStats>| {
            let mut c = collected.lock().unwrap();
            for s in part {
                let total = c.1.entry(s.id).or_insert_with(|| CollectionStats { id: s.id, upper: s.upper, ..Default::default() });
                total.upper = total.upper.min(s.upper);
                total.records += s.records;
                total.error_records += s.error_records;
                total.arranged_bytes += s.arranged_bytes;
                total.operator_records += s.operator_records;
                total.operator_bytes += s.operator_bytes;
            }
            c.2 += 1;
            if c.2 == workers {
                if let Some(tx) = c.0.take() {
                    let _ = tx.send(std::mem::take(&mut c.1));
                }
            }
        }),
    });
    async move { tokio::time::timeout(timeout, rx).await.ok().and_then(|r| r.ok()) }
}

impl State {
    /// Creates the system relations (once, at startup).
    pub(super) fn create_system_tables(&mut self) {
        let defs = [
            (SOURCE_PARTITIONS, vec![col("source", ScalarType::Text), col("topic", ScalarType::Text), col("partition", ScalarType::Int32), col("offset", ScalarType::Int64), col("high_watermark", ScalarType::Int64), col("lag", ScalarType::Int64), col("records", ScalarType::Int64), col("errors", ScalarType::Int64), col("last_error", ScalarType::Text)]),
            (SINKS, vec![col("sink", ScalarType::Text), col("topic", ScalarType::Text), col("written_through", ScalarType::Int64), col("messages", ScalarType::Int64), col("errors", ScalarType::Int64), col("last_error", ScalarType::Text)]),
            (
                OBJECT_STATS,
                vec![col("object", ScalarType::Text), col("kind", ScalarType::Text), col("records", ScalarType::Int64), col("error_records", ScalarType::Int64), col("operator_records", ScalarType::Int64), col("bytes", ScalarType::Int64), col("behind_ms", ScalarType::Int64)],
            ),
        ];
        let generated = eddy_sql::system_catalog::RELATIONS.iter().map(|r| (r.name, r.columns.iter().map(|(n, t)| col(n, *t)).collect()));
        for (name, cols) in defs.into_iter().chain(generated) {
            let id = self.catalog.allocate_id();
            self.engine.send(Command::CreateTable { id });
            self.catalog.insert(CatalogItem { id, name: name.to_string(), kind: ItemKind::System, desc: RelationDesc::new(cols), create_sql: String::new(), plan: None, depends_on: vec![] });
        }
    }

    /// Rewrites the `information_schema` and `pg_catalog` relations if the
    /// catalog changed since they were last written.
    pub(super) fn refresh_catalog_relations(&mut self) {
        let version = self.catalog.version();
        if self.system.catalog_version == Some(version) {
            return;
        }
        self.system.catalog_version = Some(version);
        let relations = eddy_sql::system_catalog::RELATIONS.iter().map(|r| (r.name, eddy_sql::system_catalog::rows(&self.catalog, r.name))).collect::<Vec<_>>();
        self.rewrite_system(relations);
    }

    /// Replaces the rows of the named system relations, writing only the
    /// ones that changed, at one timestamp.
    fn rewrite_system(&mut self, relations: Vec<(&str, Vec<Row>)>) {
        let mut writes = Vec::new();
        for (name, rows) in relations {
            let Some(id) = self.catalog.resolve(name).map(|i| i.id) else { continue };
            let old = self.system.contents.get(&id).cloned().unwrap_or_default();
            if old == rows {
                continue;
            }
            let mut updates: Vec<(Row, i64)> = old.into_iter().map(|r| (r, -1)).collect();
            updates.extend(rows.iter().cloned().map(|r| (r, 1)));
            self.system.contents.insert(id, rows);
            writes.push((id, updates));
        }
        self.write(writes);
    }

    fn source_rows(&self) -> Vec<Row> {
        let mut rows = Vec::new();
        for rt in self.sources.values() {
            let stats = rt.handle.stats.lock().unwrap();
            // The source's last error talking to the broker, on each of its rows.
            let err = stats.last_error.clone().map(Datum::text).unwrap_or(Datum::Null);
            for (p, s) in &stats.partitions {
                rows.push(vec![Datum::Text(rt.name.clone().into()), Datum::Text(rt.topic.clone().into()), Datum::Int(*p as i64), Datum::Int(s.next_offset), Datum::Int(s.high_watermark), Datum::Int(s.lag()), Datum::Int(s.records as i64), Datum::Int(s.errors as i64), err.clone()]);
            }
        }
        rows
    }

    fn sink_rows(&self) -> Vec<Row> {
        self.sinks
            .values()
            .map(|rt| {
                let s = &rt.stats;
                let err = s.last_error.lock().unwrap().clone().map(Datum::text).unwrap_or(Datum::Null);
                vec![Datum::Text(rt.name.clone().into()), Datum::Text(rt.topic.clone().into()), Datum::Int(s.written_through.load(Ordering::Relaxed) as i64), Datum::Int(s.messages.load(Ordering::Relaxed) as i64), Datum::Int(s.errors.load(Ordering::Relaxed) as i64), err]
            })
            .collect()
    }

    /// Per table, source, view and index (not the system relations, whose
    /// every refresh would change their own size): what its arrangements
    /// and operators hold, and how far it is behind the newest timestamp
    /// written (0 once it has caught up).
    fn object_stats_rows(&self) -> Vec<Row> {
        let mut rows = Vec::new();
        for (id, s) in &self.system.stats {
            let Some(item) = self.catalog.get(*id) else { continue };
            let kind = match item.kind {
                ItemKind::Table => "table",
                ItemKind::MaterializedView => "materialized view",
                ItemKind::Index { .. } => "index",
                ItemKind::Source { .. } => "source",
                ItemKind::SourceErrors { .. } => "source errors",
                ItemKind::View | ItemKind::Sink { .. } | ItemKind::System => continue,
            };
            let behind = if s.upper == Timestamp::MAX { 0 } else { self.read_ts.saturating_sub(s.upper.saturating_sub(1)) };
            rows.push(vec![
                Datum::text(&item.name),
                Datum::text(kind),
                Datum::Int(s.records as i64),
                Datum::Int(s.error_records as i64),
                Datum::Int(s.operator_records as i64),
                Datum::Int((s.arranged_bytes + s.operator_bytes) as i64),
                Datum::Int(behind as i64),
            ]);
        }
        rows
    }

    /// Writes the changes of every system relation since the last refresh.
    fn refresh_system_tables(&mut self) {
        let relations = vec![(SOURCE_PARTITIONS, self.source_rows()), (SINKS, self.sink_rows()), (OBJECT_STATS, self.object_stats_rows())];
        self.rewrite_system(relations);
        self.refresh_catalog_relations();
    }

    /// Prometheus text exposition of sources, objects and sinks.
    fn metrics(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# HELP eddy_source_offset Next offset eddy reads, per source partition.\n# TYPE eddy_source_offset gauge");
        let rows = self.source_rows();
        let metric = |out: &mut String, name: &str, idx: usize| {
            for r in &rows {
                if let (Datum::Text(s), Datum::Text(t), Datum::Int(p), Datum::Int(v)) = (&r[0], &r[1], &r[2], &r[idx]) {
                    let _ = writeln!(out, "{}{{source=\"{}\",topic=\"{}\",partition=\"{}\"}} {}", name, s, t, p, v);
                }
            }
        };
        metric(&mut out, "eddy_source_offset", 3);
        let _ = writeln!(out, "# HELP eddy_source_lag Records behind the partition's high watermark.\n# TYPE eddy_source_lag gauge");
        metric(&mut out, "eddy_source_lag", 5);
        let _ = writeln!(out, "# HELP eddy_source_records_total Records read.\n# TYPE eddy_source_records_total counter");
        metric(&mut out, "eddy_source_records_total", 6);
        let _ = writeln!(out, "# HELP eddy_source_errors_total Records that could not be decoded.\n# TYPE eddy_source_errors_total counter");
        metric(&mut out, "eddy_source_errors_total", 7);
        let objects = self.object_stats_rows();
        for (name, help, idx) in [
            ("eddy_object_records", "Updates held in the object's arrangement of rows.", 2),
            ("eddy_object_operator_records", "Records the object's own operators keep (estimated).", 4),
            ("eddy_object_bytes", "Bytes of the object's arrangements and operator state (estimated).", 5),
            ("eddy_object_behind_ms", "How far the object is behind the newest timestamp written, in ms.", 6),
        ] {
            let _ = writeln!(out, "# HELP {} {}\n# TYPE {} gauge", name, help, name);
            for r in &objects {
                if let (Datum::Text(o), Datum::Text(k), Datum::Int(v)) = (&r[0], &r[1], &r[idx]) {
                    let _ = writeln!(out, "{}{{object=\"{}\",kind=\"{}\"}} {}", name, o, k, v);
                }
            }
        }
        let _ = writeln!(out, "# HELP eddy_sink_messages_total Messages written.\n# TYPE eddy_sink_messages_total counter");
        for rt in self.sinks.values() {
            let _ = writeln!(out, "eddy_sink_messages_total{{sink=\"{}\",topic=\"{}\"}} {}", rt.name, rt.topic, rt.stats.messages.load(Ordering::Relaxed));
        }
        let _ = writeln!(out, "# HELP eddy_sink_progress_timestamp Last eddy timestamp fully written.\n# TYPE eddy_sink_progress_timestamp gauge");
        for rt in self.sinks.values() {
            let _ = writeln!(out, "eddy_sink_progress_timestamp{{sink=\"{}\"}} {}", rt.name, rt.stats.written_through.load(Ordering::Relaxed));
        }
        let _ = writeln!(out, "# HELP eddy_sink_errors_total Failed writes.\n# TYPE eddy_sink_errors_total counter");
        for rt in self.sinks.values() {
            let _ = writeln!(out, "eddy_sink_errors_total{{sink=\"{}\"}} {}", rt.name, rt.stats.errors.load(Ordering::Relaxed));
        }
        out
    }
}

impl Coordinator {
    /// Refreshes system relations and the metrics page every second.
    pub async fn run_system_refresh(self: Arc<Self>, metrics: Arc<Mutex<String>>) {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        loop {
            tick.tick().await;
            // Asked under the lock, awaited without it: reads go on meanwhile.
            let asked = {
                let state = self.state.lock().await;
                collect_stats(&state.engine, std::time::Duration::from_secs(1))
            };
            let stats = asked.await;
            let mut state = self.state.lock().await;
            // A busy engine may not answer within the second: keep the last
            // report rather than show every object gone.
            if let Some(stats) = stats {
                state.system.stats = stats;
            }
            state.refresh_system_tables();
            *metrics.lock().unwrap() = state.metrics();
        }
    }
}
