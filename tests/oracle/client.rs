//! The SQL client side shared by both servers: connecting, and running one
//! statement over the simple query protocol with a timeout, returning its
//! text rows or the SQLSTATE it failed with.

use std::time::Duration;

use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

pub async fn connect(conn: &str) -> Result<Client, String> {
    let (client, connection) = tokio_postgres::connect(conn, NoTls)
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

pub type Row = Vec<Option<String>>;

pub struct Output {
    pub columns: Option<usize>,
    pub rows: Vec<Row>,
}

pub enum ExecError {
    /// The server answered with an error.
    Db { code: String, message: String },
    /// Connection trouble, protocol error, or timeout.
    Other(String),
}

impl ExecError {
    pub fn describe(&self) -> String {
        match self {
            ExecError::Db { code, message } => format!("ERROR {code}: {message}"),
            ExecError::Other(m) => format!("client error: {m}"),
        }
    }
}

pub async fn exec(client: &Client, sql: &str, timeout: Duration) -> Result<Output, ExecError> {
    let res = tokio::time::timeout(timeout, client.simple_query(sql)).await;
    let msgs = match res {
        Err(_) => {
            return Err(ExecError::Other(format!(
                "timed out after {}s",
                timeout.as_secs()
            )))
        }
        Ok(Err(e)) => {
            return Err(match e.as_db_error() {
                Some(db) => {
                    let mut message = db.message().to_string();
                    if let Some(d) = db.detail() {
                        message.push_str(&format!(" (detail: {d})"));
                    }
                    ExecError::Db {
                        code: db.code().code().to_string(),
                        message,
                    }
                }
                None => ExecError::Other(e.to_string()),
            })
        }
        Ok(Ok(msgs)) => msgs,
    };
    let mut out = Output {
        columns: None,
        rows: Vec::new(),
    };
    for m in msgs {
        match m {
            SimpleQueryMessage::RowDescription(cols) => out.columns = Some(cols.len()),
            SimpleQueryMessage::Row(row) => {
                out.columns.get_or_insert(row.len());
                out.rows.push(
                    (0..row.len())
                        .map(|i| row.get(i).map(str::to_string))
                        .collect(),
                );
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The names and type names of a query's result columns, as the server
/// describes them to a client that prepares the query (what drivers and
/// psql show, and decode by).
pub async fn columns(client: &Client, sql: &str, timeout: Duration) -> Result<Vec<(String, String)>, String> {
    match tokio::time::timeout(timeout, client.prepare(sql)).await {
        Err(_) => Err(format!("describing timed out after {}s", timeout.as_secs())),
        Ok(Err(e)) => Err(e.as_db_error().map_or_else(|| e.to_string(), |db| format!("ERROR {}: {}", db.code().code(), db.message()))),
        Ok(Ok(stmt)) => Ok(stmt.columns().iter().map(|c| (c.name().to_string(), c.type_().name().to_string())).collect()),
    }
}
