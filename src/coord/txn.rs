//! Transaction blocks: BEGIN, COMMIT, ROLLBACK and savepoints over a
//! session's buffered writes, and the implicit transaction of several
//! statements sent in one message.
//!
//! A transaction buffers its writes and applies them at COMMIT at one
//! timestamp. Its UPDATEs and DELETEs find their rows when they run, so
//! COMMIT fails with 40001 if another session wrote one of those tables
//! since (first committer wins, per table), or dropped a table it wrote
//! to; an error inside the block aborts it (25P02 until it ends; COMMIT
//! then rolls back).

use super::State;
use eddy_connectors::{QueryResult, SessionId};
use eddy_engine::{Datum, GlobalId, Row, Timestamp};
use eddy_sql::statement::StatementPlan;
use eddy_sql::{codes, SqlError};
use std::collections::HashMap;

/// Per-connection state.
#[derive(Default)]
pub(super) struct Session {
    /// Writes buffered by an open transaction, applied together at COMMIT.
    pub(super) txn: Option<Vec<(GlobalId, Vec<(Row, i64)>)>>,
    /// The open transaction had an error: everything up to its end is
    /// refused, and COMMIT rolls it back (as in PostgreSQL).
    pub(super) failed: bool,
    /// For each table the open transaction deleted or updated rows of, the
    /// read timestamp it first found them at. COMMIT fails if another
    /// session wrote the table since (first committer wins, per table).
    pub(super) read_at: HashMap<GlobalId, Timestamp>,
    /// `SET statement_timeout`: how long a statement may wait for the engine.
    pub(super) statement_timeout: Option<std::time::Duration>,
    /// The open transaction's savepoints, oldest first: each name with how
    /// many of the transaction's writes came before it.
    savepoints: Vec<(String, usize)>,
}

impl Session {
    /// `ROLLBACK TO name` (`undo`: the writes since the savepoint go, the
    /// savepoint stays and the block works again) or `RELEASE name` (the
    /// savepoint and those after it go, the writes stay).
    fn back_to_savepoint(&mut self, name: &str, undo: bool) -> Result<(), SqlError> {
        let Some(at) = self.savepoints.iter().rposition(|(n, _)| n == name) else {
            return Err(SqlError::new("3B001", format!("savepoint \"{}\" does not exist", name)));
        };
        if undo {
            let writes = self.savepoints[at].1;
            self.savepoints.truncate(at + 1);
            if let Some(txn) = self.txn.as_mut() {
                txn.truncate(writes);
            }
            self.failed = false;
        } else {
            self.savepoints.truncate(at);
        }
        Ok(())
    }

    pub(super) fn end_transaction(&mut self) -> Option<Vec<(GlobalId, Vec<(Row, i64)>)>> {
        self.failed = false;
        self.read_at.clear();
        self.savepoints.clear();
        self.txn.take()
    }
}

/// Whether the statement begins or ends a transaction block.
pub(super) fn controls_transaction(sql: &str) -> bool {
    matches!(first_word(sql).as_str(), "BEGIN" | "START") || ends_transaction(sql)
}

/// Whether the statement ends a transaction block (it is still run in a
/// failed one).
pub(super) fn ends_transaction(sql: &str) -> bool {
    matches!(first_word(sql).as_str(), "ROLLBACK" | "COMMIT" | "END" | "ABORT")
}

/// The statement's first keyword, upper-cased.
fn first_word(sql: &str) -> String {
    eddy_sql::connector::skip_comments(sql).split(|c: char| !c.is_ascii_alphabetic()).next().unwrap_or("").to_ascii_uppercase()
}

impl State {
    /// BEGIN, COMMIT, ROLLBACK, SAVEPOINT, ROLLBACK TO and RELEASE.
    pub(super) fn transaction_control(&mut self, session: SessionId, plan: StatementPlan) -> Result<QueryResult, SqlError> {
        let done = |tag: &str| Ok(QueryResult::Command { tag: tag.to_string(), notices: vec![] });
        match plan {
            StatementPlan::Begin => {
                let s = self.sessions.entry(session).or_default();
                if s.txn.is_some() {
                    return Ok(QueryResult::Command { tag: "BEGIN".into(), notices: vec![SqlError::notice("there is already a transaction in progress")] });
                }
                s.txn = Some(Vec::new());
                done("BEGIN")
            }
            StatementPlan::Commit => {
                let s = self.sessions.entry(session).or_default();
                let (failed, read_at) = (s.failed, std::mem::take(&mut s.read_at));
                match s.end_transaction() {
                    Some(_) if failed => done("ROLLBACK"),
                    Some(w) => {
                        if let Some((table, _)) = read_at.iter().find(|(t, ts)| self.last_write.get(t).is_some_and(|w| w > ts)) {
                            let name = self.catalog.get(*table).map(|i| i.name.clone()).unwrap_or_default();
                            return Err(SqlError::new(codes::SERIALIZATION_FAILURE, "could not serialize access due to concurrent update")
                                .with_detail(format!("another session wrote \"{}\" after this transaction read the rows it deletes or updates there; the transaction was rolled back", name))
                                .with_hint("retry the transaction"));
                        }
                        // A table written in the block and dropped (or
                        // replaced by one of the same name) meanwhile: the
                        // rows have nowhere to go.
                        if w.iter().any(|(t, _)| self.catalog.get(*t).is_none()) {
                            return Err(SqlError::new(codes::SERIALIZATION_FAILURE, "could not serialize access due to concurrent DROP")
                                .with_detail("another session dropped a table this transaction wrote to; the transaction was rolled back")
                                .with_hint("retry the transaction"));
                        }
                        self.check_keys(&w)?;
                        self.commit_tables(w)?;
                        done("COMMIT")
                    }
                    None => Ok(QueryResult::Command { tag: "COMMIT".into(), notices: vec![SqlError::notice("there is no transaction in progress")] }),
                }
            }
            StatementPlan::Rollback => {
                self.sessions.entry(session).or_default().end_transaction();
                done("ROLLBACK")
            }
            StatementPlan::Savepoint { name } => {
                let s = self.sessions.entry(session).or_default();
                let Some(writes) = s.txn.as_ref().map(Vec::len) else {
                    return Err(SqlError::new(codes::NO_ACTIVE_SQL_TRANSACTION, "SAVEPOINT can only be used in transaction blocks"));
                };
                s.savepoints.push((name, writes));
                done("SAVEPOINT")
            }
            StatementPlan::RollbackTo { name } => {
                self.sessions.entry(session).or_default().back_to_savepoint(&name, true)?;
                // The wire layer sends "ROLLBACK" and keeps the block open.
                done("ROLLBACK TO SAVEPOINT")
            }
            StatementPlan::ReleaseSavepoint { name } => {
                self.sessions.entry(session).or_default().back_to_savepoint(&name, false)?;
                done("RELEASE")
            }
            _ => Err(SqlError::internal("not a transaction statement")),
        }
    }

    /// Several statements sent in one message, as one implicit
    /// transaction (unless the session has a block open already): an
    /// error rolls back the statements before it.
    pub(super) async fn execute_implicit(&mut self, session: SessionId, texts: &[String], params: &[Datum]) -> Vec<Result<QueryResult, SqlError>> {
        let opened = self.sessions.entry(session).or_default().txn.is_none();
        if opened {
            self.sessions.entry(session).or_default().txn = Some(Vec::new());
        }
        let mut results = Vec::new();
        for text in texts {
            let r = self.execute_text(session, text, params).await;
            let failed = r.is_err();
            results.push(r);
            if failed {
                break;
            }
        }
        if opened {
            let failed = results.last().is_some_and(|r| r.is_err());
            if failed {
                self.sessions.entry(session).or_default().end_transaction();
            } else if let Err(e) = self.transaction_control(session, StatementPlan::Commit) {
                results.push(Err(e));
            }
        }
        results
    }
}
