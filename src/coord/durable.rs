//! What survives a restart: the data directory's log of the statements that
//! made the catalog and of the rows committed to tables.
//!
//! The log (`<data dir>/eddy.log`) holds records in commit order: the text
//! of each DDL statement that succeeded (CREATE and DROP of tables, views,
//! indexes, sources and sinks) and each commit's table changes, by table
//! name. At start the server replays it before it accepts connections: the
//! statements run again (a source reads its topic again from the start
//! offset its statement names) and the table changes are written again, so
//! every object and table row is back. Derived state (arrangements, views)
//! is recomputed, not stored.
//!
//! Sinks are created last, once every source has read its topic up to
//! where it ended when the restore began: a sink created earlier would see
//! the restored rows arrive as changes and write them again. A keyed sink
//! (UPSERT or DEBEZIUM) then writes only what differs from its topic
//! (`eddy_connectors::kafka::resume`), so a restart without changes writes
//! nothing.
//!
//! Each record is a little-endian `u32` length and the record in bincode. A
//! record is appended and flushed to the OS before the statement answers,
//! so a killed process (kill -9) loses nothing it confirmed; a record cut
//! short by a crash of the machine is dropped at the next start, with a
//! warning. The log grows with every commit; after a restore that ran every
//! statement again without a failure it is compacted: rewritten (to a new
//! file, renamed over the old one) as the statements that create the
//! objects there are now and one record of each table's rows.
//!
//! What it does not do (yet): checkpoints of arranged state, source offsets
//! bound to timestamps, and sink progress records; so a restarted sink
//! without a key writes its view's contents again (at least once across
//! restarts).

use super::{Coordinator, State};
use eddy_connectors::{QueryHandler, SessionId};
use eddy_engine::{GlobalId, Row};
use eddy_sql::SqlError;
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// One entry of the log.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub enum Record {
    /// A DDL statement that succeeded, as the user wrote it.
    Ddl(String),
    /// One commit's changes: per table (by name), rows and their diffs.
    Write(Vec<(String, Vec<(Row, i64)>)>),
}

pub struct Log {
    path: PathBuf,
    file: std::fs::File,
}

impl Log {
    /// Opens (or creates) the log in `dir`: the log to append to, and the
    /// records it already holds, oldest first.
    pub fn open(dir: &Path) -> std::io::Result<(Log, Vec<Record>)> {
        let path = dir.join("eddy.log");
        let mut bytes = Vec::new();
        if path.exists() {
            std::fs::File::open(&path)?.read_to_end(&mut bytes)?;
        }
        let (records, whole) = decode(&bytes).map_err(|(n, e)| {
            std::io::Error::other(format!("record {} of {} cannot be read ({}); was it written by another version of eddy? Move the file away to start with an empty catalog", n + 1, path.display(), e))
        })?;
        if whole < bytes.len() {
            tracing::warn!("{}: dropping {} bytes after the last whole record (a write cut short)", path.display(), bytes.len() - whole);
            let f = std::fs::OpenOptions::new().write(true).open(&path)?;
            f.set_len(whole as u64)?;
        }
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
        Ok((Log { path, file }, records))
    }

    /// Appends `record` and hands it to the OS.
    pub fn append(&mut self, record: &Record) -> std::io::Result<()> {
        let body = bincode::serialize(record).map_err(std::io::Error::other)?;
        let mut frame = Vec::with_capacity(body.len() + 4);
        frame.extend_from_slice(&(body.len() as u32).to_le_bytes());
        frame.extend_from_slice(&body);
        self.file.write_all(&frame)?;
        self.file.flush()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Replaces the log's records with `records`: writes them to a new
    /// file, syncs it and renames it over the log.
    pub fn rewrite(&mut self, records: &[Record]) -> std::io::Result<()> {
        let new = self.path.with_extension("log.new");
        let file = std::fs::File::create(&new)?;
        let mut fresh = Log { path: new.clone(), file };
        for r in records {
            fresh.append(r)?;
        }
        fresh.file.sync_all()?;
        std::fs::rename(&new, &self.path)?;
        self.file = std::fs::OpenOptions::new().append(true).open(&self.path)?;
        Ok(())
    }
}

/// Removes the log in `dir`, if there is one: whether there was.
pub fn forget(dir: &Path) -> std::io::Result<bool> {
    match std::fs::remove_file(dir.join("eddy.log")) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// 58030: the log could not be written (the statement is not applied).
fn io_error(log: &Log, e: std::io::Error) -> SqlError {
    SqlError::new("58030", format!("could not write to {}: {}", log.path().display(), e)).with_hint("check the data directory's disk space and permissions (eddy serve --data-dir)")
}

impl State {
    /// Records a DDL statement that succeeded.
    pub(super) fn log_ddl(&mut self, sql: &str) -> Result<(), SqlError> {
        match &mut self.log {
            Some(log) => log.append(&Record::Ddl(sql.to_string())).map_err(|e| io_error(log, e)),
            None => Ok(()),
        }
    }

    /// Commits changes to tables: logs them, then writes them at one new
    /// timestamp.
    pub(super) fn commit_tables(&mut self, writes: Vec<(GlobalId, Vec<(Row, i64)>)>) -> Result<(), SqlError> {
        if let Some(log) = &mut self.log {
            let named: Vec<(String, Vec<(Row, i64)>)> = writes.iter().filter(|(_, w)| !w.is_empty()).filter_map(|(id, w)| Some((self.catalog.get(*id)?.name.clone(), w.clone()))).collect();
            if !named.is_empty() {
                log.append(&Record::Write(named)).map_err(|e| io_error(log, e))?;
            }
        }
        self.write(writes);
        Ok(())
    }
}

impl Coordinator {
    /// Replays the log in `dir` (see the module documentation), then logs
    /// every later statement there. Says on stderr what it restored.
    pub async fn restore(&self, dir: &Path) -> anyhow::Result<()> {
        let (mut log, records) = Log::open(dir).map_err(|e| anyhow::anyhow!("cannot open the log in data directory {}: {}", dir.display(), e))?;
        if !records.is_empty() {
            let started = std::time::Instant::now();
            eprintln!("restoring {} records from {} ...", records.len(), log.path().display());
            self.state.lock().await.restoring = true;
            let (mut statements, mut commits, mut failed) = (0, 0, 0);
            let mut sinks: Vec<(String, String)> = Vec::new();
            for record in records {
                match record {
                    Record::Ddl(sql) => {
                        statements += 1;
                        // Sinks wait for the sources (see the module doc); a
                        // dropped one is not created at all.
                        match sink_statement(&sql) {
                            Some(SinkStatement::Create(name)) => {
                                sinks.push((name, sql));
                                continue;
                            }
                            Some(SinkStatement::Drop(names)) if names.iter().all(|n| sinks.iter().any(|(s, _)| s == n)) => {
                                sinks.retain(|(s, _)| !names.contains(s));
                                continue;
                            }
                            _ => {}
                        }
                        if !self.restore_statement(&sql).await {
                            failed += 1;
                        }
                    }
                    Record::Write(tables) => {
                        commits += 1;
                        let mut state = self.state.lock().await;
                        let mut writes = Vec::new();
                        for (name, rows) in tables {
                            match state.catalog.resolve(&name) {
                                Some(t) => writes.push((t.id, rows)),
                                None => {
                                    failed += 1;
                                    eprintln!("warning: {} rows of table {} are not restored: the table was not restored", rows.len(), name);
                                }
                            }
                        }
                        state.write(writes);
                    }
                }
            }
            if !sinks.is_empty() {
                self.wait_for_sources().await;
                for (_, sql) in &sinks {
                    if !self.restore_statement(sql).await {
                        failed += 1;
                    }
                }
            }
            self.state.lock().await.restoring = false;
            let before = statements + commits;
            if failed == 0 {
                let snapshot = self.state.lock().await.snapshot().await.map_err(|e| anyhow::anyhow!("cannot compact the log: {}", e.message))?;
                if snapshot.len() < before {
                    let path = log.path().display().to_string();
                    log.rewrite(&snapshot).map_err(|e| anyhow::anyhow!("cannot compact the log {}: {}", path, e))?;
                    eprintln!("compacted {}: {} records to {}", log.path().display(), before, snapshot.len());
                }
            }
            let failed = if failed > 0 { format!(", {} statements failed (see above)", failed) } else { String::new() };
            eprintln!("restored {} statements and {} commits in {:.1} s{}", statements, commits, started.elapsed().as_secs_f64(), failed);
        }
        self.state.lock().await.log = Some(log);
        Ok(())
    }
}

impl State {
    /// The records that rebuild the catalog and the tables as they are now:
    /// each object's statement in the order they were created (an object
    /// comes after what it reads), then each table's rows.
    async fn snapshot(&mut self) -> Result<Vec<Record>, SqlError> {
        use eddy_sql::catalog::ItemKind;
        let mut items: Vec<_> = self.catalog.items().filter(|i| matches!(i.kind, ItemKind::Table | ItemKind::View | ItemKind::MaterializedView | ItemKind::Index { .. } | ItemKind::Source { .. } | ItemKind::Sink { .. })).map(|i| (i.id, i.name.clone(), i.kind.clone(), i.create_sql.clone(), i.desc.arity())).collect();
        items.sort_by_key(|(id, ..)| *id);
        let mut records: Vec<Record> = items.iter().map(|(_, _, _, sql, _)| Record::Ddl(sql.clone())).collect();
        for (id, name, kind, _, arity) in items {
            if matches!(kind, ItemKind::Table) {
                let rows = self.peek(eddy_engine::plan::Plan::Get { id, arity }).await?;
                if !rows.is_empty() {
                    records.push(Record::Write(vec![(name, rows.into_iter().map(|r| (r, 1)).collect())]));
                }
            }
        }
        Ok(records)
    }
}

enum SinkStatement {
    Create(String),
    Drop(Vec<String>),
}

/// Whether `sql` creates or drops sinks, and which.
fn sink_statement(sql: &str) -> Option<SinkStatement> {
    if let Some((false, names, _, _)) = eddy_sql::connector::parse_drop(sql) {
        return Some(SinkStatement::Drop(names));
    }
    match eddy_sql::connector::parse_connector(sql).ok()? {
        eddy_sql::connector::ConnectorStatement::Sink(s) => Some(SinkStatement::Create(s.name)),
        _ => None,
    }
}

impl Coordinator {
    /// Runs one logged statement again: whether it succeeded (a failure is
    /// reported on stderr).
    async fn restore_statement(&self, sql: &str) -> bool {
        match self.execute(RESTORE_SESSION, sql, &[]).await.pop() {
            Some(Err(e)) => {
                eprintln!("warning: restoring `{}` failed: {}", sql, e.message);
                false
            }
            _ => true,
        }
    }

    /// Waits until every source has read its topic up to where it ends now,
    /// and what it read is written and processed (at most [`SOURCE_WAIT`]),
    /// saying on stderr how far behind they are every few seconds.
    async fn wait_for_sources(&self) {
        let sources: Vec<(GlobalId, String, String, String)> = self.state.lock().await.sources.iter().map(|(id, s)| (*id, s.name.clone(), s.topic.clone(), s.broker.clone())).collect();
        let mut targets = Vec::new();
        for (id, name, topic, broker) in sources {
            let (t, b) = (topic.clone(), broker.clone());
            match tokio::task::spawn_blocking(move || eddy_connectors::kafka::admin::high_watermarks(&b, &t)).await {
                Ok(Ok(ends)) => targets.push((id, ends)),
                Ok(Err(e)) => eprintln!("warning: cannot read where topic \"{}\" of source {} ends ({}); its sink may repeat messages", topic, name, e),
                Err(e) => eprintln!("warning: {}", e),
            }
        }
        let report = |records| eprintln!("restoring: sources are {} records behind; sinks start when they have caught up", records);
        let behind = self.catch_up(&targets, SOURCE_WAIT, std::time::Duration::from_secs(5), report).await;
        if behind > 0 {
            eprintln!("warning: sources are still {} records behind after {:?}; starting the sinks anyway (they may repeat messages)", behind, SOURCE_WAIT);
        }
    }
}

/// The longest the restore waits for sources before it starts the sinks.
const SOURCE_WAIT: std::time::Duration = std::time::Duration::from_secs(300);

/// The session the restore runs its statements in.
const RESTORE_SESSION: SessionId = 0;

/// The whole records at the start of `bytes`, and how many bytes they take
/// (a frame cut short ends them); or the index of a whole frame that does
/// not decode, and why.
fn decode(bytes: &[u8]) -> Result<(Vec<Record>, usize), (usize, String)> {
    let mut records = Vec::new();
    let mut at = 0;
    while bytes.len() >= at + 4 {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let Some(body) = bytes.get(at + 4..at + 4 + len) else { break };
        records.push(bincode::deserialize(body).map_err(|e| (records.len(), e.to_string()))?);
        at += 4 + len;
    }
    Ok((records, at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_engine::Datum;
    // (Datum's numeric is rust_decimal's, which reads back from bincode
    // only with its `serde-str` feature: the workspace turns it on.)

    #[test]
    fn records_come_back_and_a_torn_tail_is_dropped() {
        let dir = std::env::temp_dir().join(format!("eddy-log-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let _ = std::fs::remove_file(dir.join("eddy.log"));
        let rows = vec![(vec![Datum::Int(1), Datum::text("a long text value, longer than inline"), Datum::Null, Datum::float(f64::NAN)], 1), (vec![Datum::Int(2), Datum::text("b"), Datum::Bool(true), Datum::float(-0.5), Datum::Numeric("12.50".parse().unwrap()), Datum::Jsonb("{\"a\": 1}".into()), Datum::TimestampTz(-5)], -1)];
        let written = vec![Record::Ddl("CREATE TABLE t (a int)".into()), Record::Write(vec![("t".into(), rows)])];
        {
            let (mut log, old) = Log::open(&dir).unwrap();
            assert!(old.is_empty());
            for r in &written {
                log.append(r).unwrap();
            }
        }
        // A record cut short after the two whole ones.
        std::fs::OpenOptions::new().append(true).open(dir.join("eddy.log")).unwrap().write_all(&[200, 0, 0, 0, 1, 2]).unwrap();
        let (mut log, back) = Log::open(&dir).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[0], written[0]);
        match (&back[1], &written[1]) {
            (Record::Write(a), Record::Write(b)) => assert_eq!(format!("{:?}", a), format!("{:?}", b)),
            other => panic!("{:?}", other),
        }
        // Appending after the dropped tail keeps the log readable.
        log.append(&Record::Ddl("DROP TABLE t".into())).unwrap();
        drop(log);
        let (_, again) = Log::open(&dir).unwrap();
        assert_eq!(again.len(), 3);
        // A whole record that does not decode is an error, not a tail to cut.
        std::fs::OpenOptions::new().append(true).open(dir.join("eddy.log")).unwrap().write_all(&[2, 0, 0, 0, 9, 9]).unwrap();
        let e = Log::open(&dir).err().expect("an unreadable record is an error");
        assert!(e.to_string().contains("record 4 of"), "{}", e);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
