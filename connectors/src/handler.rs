//! The interface the Postgres-wire server calls; the coordinator implements
//! it. The server knows the protocol; the handler knows the database.

use async_trait::async_trait;
use eddy_engine::repr::{RelationDesc, Row, ScalarType};
use eddy_engine::Datum;
use eddy_sql::SqlError;

/// Identifies one client connection's session.
pub type SessionId = u64;

/// The outcome of one statement.
#[derive(Debug)]
pub enum QueryResult {
    /// A statement that returns rows (SELECT, SHOW, EXPLAIN, and DML with
    /// RETURNING); `tag` is the command tag when not `SELECT n` (`INSERT 0 1`).
    Rows { desc: RelationDesc, rows: Vec<Row>, tag: Option<String> },
    /// Any other statement: the command tag, e.g. `INSERT 0 3`,
    /// `CREATE TABLE`; `notices` are sent before the completion.
    Command { tag: String, notices: Vec<SqlError> },
    /// `COPY ... TO STDOUT`: the rows as COPY lines, sent as CopyData.
    /// `rows`: how many rows the lines hold (a header line is not one).
    CopyOut { columns: usize, rows: usize, lines: Vec<String> },
    /// `COPY ... FROM STDIN`: the client sends rows of `columns` fields
    /// next; the wire layer inserts them (see `eddy_sql::copy`).
    CopyIn { columns: usize, copy: eddy_sql::copy::CopyIn },
    /// `DEALLOCATE name` (`None`: `ALL`): the wire layer, which holds the
    /// session's prepared statements, forgets the one named, or fails
    /// with 26000 when there is none of that name.
    Deallocate { name: Option<String> },
}

/// What a statement takes and returns, for the extended protocol's
/// Describe.
#[derive(Debug, Clone, Default)]
pub struct Description {
    /// Types of `$1`, `$2`, ...
    pub params: Vec<ScalarType>,
    /// Result columns; `None` for statements that return no rows.
    pub result: Option<RelationDesc>,
}

#[async_trait]
pub trait QueryHandler: Send + Sync + 'static {
    /// Opens a session for a new connection.
    fn connect(&self, user: &str, database: &str) -> Result<SessionId, SqlError>;
    /// Closes a session (the connection ended).
    fn disconnect(&self, session: SessionId);
    /// Runs the statements in `sql` (one result per statement; execution
    /// stops at the first error). `params` bind `$1`, `$2`, ...
    async fn execute(&self, session: SessionId, sql: &str, params: &[Datum]) -> Vec<Result<QueryResult, SqlError>>;
    /// Describes one statement without running it. `param_types` are the
    /// types the client declared (None where it left them open).
    async fn describe(&self, session: SessionId, sql: &str, param_types: &[Option<ScalarType>]) -> Result<Description, SqlError>;
    /// A client's cancel request for the statement `session` is running
    /// (nothing when it runs none).
    fn cancel(&self, session: SessionId);
}
