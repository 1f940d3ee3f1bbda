//! The coordinator: owns the catalog and the timestamp oracle, executes
//! planned statements against the engine, and answers the Postgres-wire
//! server through [`QueryHandler`].
//!
//! Statements run one at a time (a single lock), which makes every read a
//! consistent snapshot at the last written timestamp and every write land
//! at a fresh timestamp after it.

mod catch_up;
mod connectors;
mod ddl;
mod dml;
pub mod durable;
mod read;
mod show;
mod system;
mod txn;
mod unique;

use async_trait::async_trait;
use eddy_connectors::{Description, QueryHandler, QueryResult, SessionId};
use eddy_engine::runtime::{Command, Engine};
use eddy_engine::{Datum, GlobalId, Row, ScalarType, Timestamp};
use eddy_sql::catalog::Catalog;
use eddy_sql::psql::plan_psql_query;
use eddy_sql::statement::{parse, Planner, StatementPlan};
use eddy_sql::{codes, SqlError};
use datafusion_expr::LogicalPlan;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::Mutex;
use txn::{controls_transaction, ends_transaction, Session};

pub struct State {
    engine: Engine,
    catalog: Catalog,
    /// DataFusion plans of plain views, inlined where they are read.
    views: HashMap<GlobalId, LogicalPlan>,
    /// The timestamp every read uses: all writes up to it are complete.
    read_ts: Timestamp,
    next_transient: GlobalId,
    sessions: HashMap<SessionId, Session>,
    /// The broker sources and sinks use unless they name one.
    kafka_broker: String,
    /// Sources' `fetch.wait.max.ms` (see `ServeArgs::fetch_wait_ms`).
    fetch_wait_ms: u64,
    /// Where sources send what they read.
    batches: connectors::BatchSender,
    sources: HashMap<GlobalId, connectors::SourceRuntime>,
    sinks: HashMap<GlobalId, connectors::SinkRuntime>,
    system: system::SystemTables,
    /// The last timestamp each table was written at.
    last_write: HashMap<GlobalId, Timestamp>,
    /// The rows of each table with PRIMARY KEY or UNIQUE constraints, by key.
    keys: HashMap<GlobalId, unique::KeyIndex>,
    /// When the statement running now must give up waiting for the engine
    /// (its session's statement_timeout).
    deadline: Option<std::time::Instant>,
    /// What a cancel request for the statement running now wakes.
    cancel: Option<std::sync::Arc<tokio::sync::Notify>>,
    /// The data directory's log (none while it is replayed).
    log: Option<durable::Log>,
    /// Whether the log is being replayed (restored sinks resume their topic).
    restoring: bool,
}

pub struct Coordinator {
    state: Mutex<State>,
    /// Per session, what a cancel request wakes (held outside the state
    /// lock, which the statement to cancel holds).
    cancels: std::sync::Mutex<HashMap<SessionId, std::sync::Arc<tokio::sync::Notify>>>,
    /// How far the engine has got, read without the state lock.
    progress: eddy_engine::runtime::Progress,
    next_session: AtomicU64,
}

impl Coordinator {
    /// What a cancel request for `session` wakes.
    fn cancel_for(&self, session: SessionId) -> std::sync::Arc<tokio::sync::Notify> {
        self.cancels.lock().unwrap().entry(session).or_default().clone()
    }

    /// A coordinator over `engine`; `kafka_broker` is the default broker,
    /// and sources' fetches wait at most `fetch_wait_ms` for new records.
    /// Call [`Coordinator::run_ingest`] with the receiver to write what
    /// sources read.
    pub fn new(engine: Engine, kafka_broker: String, fetch_wait_ms: u64) -> (std::sync::Arc<Self>, tokio::sync::mpsc::UnboundedReceiver<(GlobalId, eddy_connectors::kafka::source::SourceBatch)>) {
        let now = now_ms();
        engine.send(Command::AdvanceTime { time: now + 1 });
        let (batches, rx) = tokio::sync::mpsc::unbounded_channel();
        let state = State {
            engine,
            catalog: Catalog::default(),
            views: HashMap::new(),
            read_ts: now,
            next_transient: 1 << 62,
            sessions: HashMap::new(),
            kafka_broker,
            fetch_wait_ms,
            batches,
            sources: HashMap::new(),
            sinks: HashMap::new(),
            system: Default::default(),
            last_write: HashMap::new(),
            keys: HashMap::new(),
            deadline: None,
            cancel: None,
            log: None,
            restoring: false,
        };
        let mut state = state;
        state.create_system_tables();
        let progress = state.engine.progress();
        (std::sync::Arc::new(Coordinator { state: Mutex::new(state), cancels: Default::default(), progress, next_session: AtomicU64::new(1) }), rx)
    }
}

/// Splits SQL text into the text of each statement, at semicolons outside
/// quotes and comments. Each statement is a slice of the original text
/// (re-printing tokens would lose quoting: `'it''s'` prints as `'it's'`).
fn split_statements(sql: &str) -> Result<Vec<String>, SqlError> {
    use sqlparser::tokenizer::{Location, Token, Tokenizer};
    let dialect = sqlparser::dialect::PostgreSqlDialect {};
    let tokens = Tokenizer::new(&dialect, sql).tokenize_with_location().map_err(|e| SqlError::syntax(e.to_string()))?;
    // Token locations are 1-based lines and columns counted in characters.
    let line_starts: Vec<usize> = std::iter::once(0).chain(sql.match_indices('\n').map(|(i, _)| i + 1)).collect();
    let offset = |loc: Location| -> usize {
        let start = line_starts.get((loc.line as usize).saturating_sub(1)).copied().unwrap_or(sql.len());
        sql[start..].char_indices().nth((loc.column as usize).saturating_sub(1)).map_or(sql.len(), |(i, _)| start + i)
    };
    let mut out = Vec::new();
    let mut begin = 0;
    for t in &tokens {
        if t.token == Token::SemiColon {
            let at = offset(t.span.start);
            let text = sql[begin..at].trim();
            if !text.is_empty() {
                out.push(text.to_string());
            }
            begin = at + 1;
        }
    }
    let rest = sql[begin.min(sql.len())..].trim();
    if !rest.is_empty() {
        out.push(rest.to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod split_tests {
    #[test]
    fn statements_keep_their_original_text() {
        let sql = "INSERT INTO t VALUES ('it''s', E'a\\nb', 'x;y');\n-- c;\nSELECT 'é' ; ";
        assert_eq!(super::split_statements(sql).unwrap(), vec!["INSERT INTO t VALUES ('it''s', E'a\\nb', 'x;y')", "-- c;\nSELECT 'é'"]);
    }
}

fn now_ms() -> Timestamp {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl State {
    fn planner(&self) -> Planner<'_> {
        Planner { catalog: &self.catalog, views: &self.views }
    }

    /// Executes the text of one statement: eddy's own statements (SHOW,
    /// psql's catalog queries, DROP SOURCE and SINK) first, then SQL.
    /// (CREATE SOURCE and SINK talk to a broker: see
    /// [`Coordinator::create_connector`].)
    async fn execute_text(&mut self, session: SessionId, sql: &str, params: &[Datum]) -> Result<QueryResult, SqlError> {
        if self.sessions.get(&session).is_some_and(|s| s.failed) && !ends_transaction(sql) {
            return Err(SqlError::new(codes::IN_FAILED_SQL_TRANSACTION, "current transaction is aborted, commands ignored until end of transaction block").with_hint("ROLLBACK (or COMMIT, which rolls back) to end it"));
        }
        self.deadline = self.sessions.get(&session).and_then(|s| s.statement_timeout).map(|t| std::time::Instant::now() + t);
        let result = self.execute_statement(session, sql, params).await;
        self.deadline = None;
        if result.is_err() {
            if let Some(s) = self.sessions.get_mut(&session).filter(|s| s.txn.is_some()) {
                s.failed = true;
            }
        }
        result
    }

    async fn execute_statement(&mut self, session: SessionId, sql: &str, params: &[Datum]) -> Result<QueryResult, SqlError> {
        self.refresh_catalog_relations();
        if let Some(refreshed) = self.refresh(sql) {
            return refreshed;
        }
        if let Some((source, names, if_exists, cascade)) = eddy_sql::connector::parse_drop(sql) {
            let dropped = self.drop_connector(source, names, if_exists, cascade)?;
            self.log_ddl(sql)?;
            return Ok(dropped);
        }
        if let Some(show) = show::plan_show(&self.catalog, sql).or_else(|| plan_psql_query(&self.catalog, sql)) {
            return self.execute_plan(session, show?, sql).await;
        }
        let mut stmts = parse(sql)?;
        match stmts.len() {
            0 => Ok(QueryResult::Command { tag: String::new(), notices: vec![] }),
            1 => self.execute_one(session, stmts.remove(0), params, sql).await,
            _ => Err(SqlError::internal("statement text held several statements")),
        }
    }

    /// Plans and executes one statement; `sql` is its text.
    async fn execute_one(&mut self, session: SessionId, stmt: sqlparser::ast::Statement, params: &[Datum], sql: &str) -> Result<QueryResult, SqlError> {
        let plan = self.planner().plan(stmt, params)?;
        self.execute_plan(session, plan, sql).await
    }

    /// Executes a planned statement; `sql` is its text (kept by DDL as the
    /// item's `create_sql`).
    async fn execute_plan(&mut self, session: SessionId, plan: StatementPlan, sql: &str) -> Result<QueryResult, SqlError> {
        let done = |tag: &str| Ok(QueryResult::Command { tag: tag.to_string(), notices: vec![] });
        match plan {
            StatementPlan::CreateTable { .. } | StatementPlan::CreateView { .. } | StatementPlan::CreateIndex { .. } | StatementPlan::Drop { .. } => {
                let done = self.ddl(plan, sql)?;
                self.log_ddl(sql)?;
                Ok(done)
            }
            StatementPlan::CreateTableAs { .. } => self.create_table_as(session, plan).await,
            StatementPlan::Insert { .. } | StatementPlan::Update { .. } | StatementPlan::Delete { .. } => self.dml(session, plan).await,
            StatementPlan::Select { plan, desc, finishing } => {
                let plan = self.in_transaction(session, plan);
                let rows = self.select(plan, &finishing).await?;
                Ok(QueryResult::Rows { desc, rows, tag: None })
            }
            StatementPlan::CopyTo { plan, desc, finishing, format } => {
                let plan = self.in_transaction(session, plan);
                let rows = self.select(plan, &finishing).await?;
                Ok(QueryResult::CopyOut { columns: desc.arity(), rows: rows.len(), lines: eddy_sql::copy::encode(&desc, &rows, &format) })
            }
            StatementPlan::CopyFrom { copy, columns } => Ok(QueryResult::CopyIn { columns, copy }),
            StatementPlan::Explain { text } => Ok(show::text_rows("QUERY PLAN", text.lines().map(str::to_string).collect())),
            StatementPlan::Show { desc, rows } => Ok(QueryResult::Rows { desc, rows, tag: None }),
            StatementPlan::Begin | StatementPlan::Commit | StatementPlan::Rollback | StatementPlan::Savepoint { .. } | StatementPlan::RollbackTo { .. } | StatementPlan::ReleaseSavepoint { .. } => self.transaction_control(session, plan),
            StatementPlan::Ignored { tag } => done(&tag),
            StatementPlan::Deallocate { name } => Ok(QueryResult::Deallocate { name }),
            StatementPlan::SetStatementTimeout { millis } => {
                self.sessions.entry(session).or_default().statement_timeout = (millis > 0).then(|| std::time::Duration::from_millis(millis));
                done("SET")
            }
        }
    }

    /// Applies writes to tables at one new timestamp, then makes it the
    /// read timestamp.
    fn write(&mut self, writes: Vec<(GlobalId, Vec<(Row, i64)>)>) {
        if writes.iter().all(|(_, w)| w.is_empty()) {
            return;
        }
        let ts = now_ms().max(self.read_ts + 1);
        for (id, updates) in writes {
            self.last_write.insert(id, ts);
            if let Some(index) = self.keys.get_mut(&id) {
                index.apply(&updates);
            }
            self.engine.send(Command::Write { id, time: ts, updates: std::sync::Arc::new(updates) });
        }
        self.engine.send(Command::AdvanceTime { time: ts + 1 });
        // Reads are at the newest timestamp, so history before it may go.
        // At every write: a view created later imports its inputs as one
        // snapshot at this frontier, and a frontier that lags (tried: 50 ms
        // steps, for 2% of the worker's CPU) hands it older changes one by
        // one, where values that compare equal but print differently (a
        // numeric 0 and 0.00) cancel out and leave the older one.
        self.engine.send(Command::AllowCompaction { since: ts });
        self.read_ts = ts;
    }
}

#[async_trait]
impl QueryHandler for Coordinator {
    fn cancel(&self, session: SessionId) {
        if let Some(n) = self.cancels.lock().unwrap().get(&session) {
            n.notify_waiters();
        }
    }

    fn connect(&self, _user: &str, _database: &str) -> Result<SessionId, SqlError> {
        Ok(self.next_session.fetch_add(1, Ordering::Relaxed))
    }

    fn disconnect(&self, session: SessionId) {
        self.cancels.lock().unwrap().remove(&session);
        if let Ok(mut s) = self.state.try_lock() {
            s.sessions.remove(&session);
        }
    }

    /// Runs each statement of `sql` in turn under the state lock, except
    /// CREATE SOURCE and SINK, which take it only around their broker work.
    async fn execute(&self, session: SessionId, sql: &str, params: &[Datum]) -> Vec<Result<QueryResult, SqlError>> {
        let texts = match split_statements(sql) {
            Ok(t) => t,
            Err(e) => return vec![Err(e)],
        };
        // Several statements in one message form one implicit transaction,
        // as in PostgreSQL: an error rolls back the ones before it. (Not
        // with BEGIN/COMMIT among them, nor CREATE SOURCE/SINK, which talk
        // to a broker outside the lock.)
        let implicit = texts.len() > 1 && !texts.iter().any(|t| eddy_sql::connector::is_connector_statement(t) || controls_transaction(t));
        if implicit {
            let mut state = self.state.lock().await;
            state.cancel = Some(self.cancel_for(session));
            let results = state.execute_implicit(session, &texts, params).await;
            state.cancel = None;
            return results;
        }
        let mut results = Vec::new();
        for text in texts {
            let r = if eddy_sql::connector::is_connector_statement(&text) {
                self.create_connector(&text).await
            } else {
                let mut state = self.state.lock().await;
                state.cancel = Some(self.cancel_for(session));
                let r = state.execute_text(session, &text, params).await;
                state.cancel = None;
                r
            };
            let failed = r.is_err();
            results.push(r);
            if failed {
                break;
            }
        }
        results
    }

    async fn describe(&self, _session: SessionId, sql: &str, param_types: &[Option<ScalarType>]) -> Result<Description, SqlError> {
        let state = self.state.lock().await;
        if let Some(show) = show::plan_show(&state.catalog, sql).or_else(|| plan_psql_query(&state.catalog, sql)) {
            return match show? {
                StatementPlan::Show { desc, .. } => Ok(Description { params: vec![], result: Some(desc) }),
                _ => Ok(Description::default()),
            };
        }
        let mut stmts = parse(sql)?;
        if stmts.len() != 1 {
            return Err(SqlError::new(codes::SYNTAX_ERROR, "cannot insert multiple commands into a prepared statement"));
        }
        let stmt = stmts.remove(0);
        match stmt {
            sqlparser::ast::Statement::Query(_) | sqlparser::ast::Statement::Insert(_) | sqlparser::ast::Statement::Update(_) | sqlparser::ast::Statement::Delete(_) => {
                let (params, result) = state.planner().describe(stmt, param_types)?;
                Ok(Description { params, result })
            }
            sqlparser::ast::Statement::Explain { .. } => Ok(Description { params: vec![], result: Some(show::text_desc("QUERY PLAN")) }),
            _ => Ok(Description::default()),
        }
    }
}
