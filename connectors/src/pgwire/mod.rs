//! The PostgreSQL wire-protocol server, on the `pgwire` crate.
//!
//! Does: accept connections (one task each), run the startup without a
//! password (trust), open a [`QueryHandler`] session per connection and
//! close it when the connection ends (also on a panic), serve the simple
//! and the extended query protocol with text and binary formats for every
//! eddy type, and send errors and notices with their SQLSTATE fields.
//!
//! A cancel request (a new connection with a connection's process id and
//! secret key) is passed to the handler for that connection's session.
//!
//! COPY FROM STDIN and COPY TO STDOUT are served (`copy.rs` for the
//! incoming data).
//!
//! Does not (yet): TLS, passwords, streaming results (SUBSCRIBE needs a
//! streaming handler API; today each statement's rows arrive whole). There are no transactions here: the
//! ReadyForQuery status only follows BEGIN / COMMIT / ROLLBACK command tags
//! so that drivers see what they expect.
//!
//! Layout: this file wires connections and startup; `query.rs` the query
//! protocols; `results.rs` the messages; `codec.rs` single values.

pub mod codec;
mod copy;
mod query;
mod results;

use std::collections::HashMap;
use std::fmt::Debug;
use std::io;
use std::sync::{Arc, LazyLock, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use futures::Sink;
use pgwire::api::cancel::CancelHandler;
use pgwire::messages::cancel::CancelRequest;
use pgwire::messages::startup::SecretKey;
use pgwire::api::auth::{finish_authentication, protocol_negotiation, save_startup_parameters_to_metadata, ServerParameterProvider, StartupHandler};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::{ClientInfo, PgWireServerHandlers, PidSecretKeyGenerator, RandomPidSecretKeyGenerator, METADATA_APPLICATION_NAME, METADATA_DATABASE, METADATA_USER};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use tokio::net::{TcpListener, TcpStream};

use crate::handler::{QueryHandler, SessionId};
use results::fatal_error;

/// The version clients see; drivers parse the leading number.
pub const SERVER_VERSION: &str = "15.0 (eddy)";

/// Accepts connections forever, serving each on its own task. A failing
/// connection only ends that connection; a failing `accept` (e.g. out of
/// file descriptors) is logged and retried after a pause, so the `Result`
/// is only there for future shutdown handling.
pub async fn serve(listener: TcpListener, handler: Arc<dyn QueryHandler>) -> io::Result<()> {
    loop {
        let (socket, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!("pgwire: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let handler = handler.clone();
        tokio::spawn(async move {
            if let Err(e) = serve_connection(socket, handler).await {
                tracing::debug!("pgwire: connection from {peer} ended: {e}");
            }
        });
    }
}

/// Serves one accepted connection until the client leaves.
pub async fn serve_connection(socket: TcpStream, handler: Arc<dyn QueryHandler>) -> io::Result<()> {
    let conn = Conn { session: Arc::new(Session { handler, id: OnceLock::new(), copy_in: Default::default() }) };
    pgwire::tokio::process_socket(socket, None, conn).await
}

/// One connection's session. Dropped when the connection's task ends
/// (all handler clones are dropped with it), which closes the session.
struct Session {
    handler: Arc<dyn QueryHandler>,
    id: OnceLock<SessionId>,
    /// A COPY FROM STDIN under way: what it loads and the data so far.
    /// (What it loads, the fields a row has, the data so far.)
    copy_in: std::sync::Mutex<Option<(eddy_sql::copy::CopyIn, usize, Vec<u8>)>>,
}

impl Session {
    /// pgwire only routes queries after a successful startup, which set it.
    fn id(&self) -> PgWireResult<SessionId> {
        self.id.get().copied().ok_or(PgWireError::NotReadyForQuery)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(id) = self.id.get() {
            CANCEL_KEYS.lock().unwrap().retain(|_, (_, s)| s != id);
            self.handler.disconnect(*id);
        }
    }
}

/// The process id and secret key each open connection was given, and its
/// session: what a cancel request names.
static CANCEL_KEYS: LazyLock<std::sync::Mutex<HashMap<i32, (SecretKey, SessionId)>>> = LazyLock::new(Default::default);

/// The per-connection handler pgwire calls for every protocol step.
#[derive(Clone)]
struct Conn {
    session: Arc<Session>,
}

impl PgWireServerHandlers for Conn {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        Arc::new(self.clone())
    }
    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        Arc::new(self.clone())
    }
    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        Arc::new(self.clone())
    }
    fn cancel_handler(&self) -> Arc<impl CancelHandler> {
        Arc::new(self.clone())
    }
    fn copy_handler(&self) -> Arc<impl pgwire::api::copy::CopyHandler> {
        Arc::new(self.clone())
    }
}

#[async_trait]
impl CancelHandler for Conn {
    async fn on_cancel_request(&self, request: CancelRequest) {
        let session = CANCEL_KEYS.lock().unwrap().get(&request.pid).filter(|(key, _)| key.eq_value(&request.secret_key)).map(|(_, s)| *s);
        if let Some(session) = session {
            self.session.handler.cancel(session);
        }
    }
}

static PID_GENERATOR: LazyLock<RandomPidSecretKeyGenerator> = LazyLock::new(Default::default);

#[async_trait]
impl StartupHandler for Conn {
    async fn on_startup<C>(&self, client: &mut C, message: PgWireFrontendMessage) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        // Trust authentication: the startup message is the whole exchange.
        let PgWireFrontendMessage::Startup(startup) = message else { return Ok(()) };
        protocol_negotiation(client, &startup).await?;
        save_startup_parameters_to_metadata(client, &startup);
        let user = client.metadata().get(METADATA_USER).cloned().ok_or(PgWireError::UserNameRequired)?;
        // As in PostgreSQL, the database defaults to the user name.
        let database = client.metadata().get(METADATA_DATABASE).cloned().unwrap_or_else(|| user.clone());
        let id = self.session.handler.connect(&user, &database).map_err(fatal_error)?;
        let _ = self.session.id.set(id);
        let (pid, key) = PID_GENERATOR.generate(client);
        CANCEL_KEYS.lock().unwrap().insert(pid, (key.clone(), id));
        client.set_pid_and_secret_key(pid, key);
        finish_authentication(client, &ServerParams).await
    }
}

/// The ParameterStatus values sent after authentication. They describe the
/// text formats `format_datum` produces, so they are fixed.
struct ServerParams;

impl ServerParameterProvider for ServerParams {
    fn server_parameters<C: ClientInfo>(&self, client: &C) -> Option<HashMap<String, String>> {
        let mut p: HashMap<String, String> = [
            ("server_version", SERVER_VERSION),
            ("server_encoding", "UTF8"),
            ("client_encoding", "UTF8"),
            ("DateStyle", "ISO, MDY"),
            ("IntervalStyle", "postgres"),
            ("TimeZone", "UTC"),
            ("integer_datetimes", "on"),
            ("standard_conforming_strings", "on"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        if let Some(name) = client.metadata().get(METADATA_APPLICATION_NAME) {
            p.insert("application_name".into(), name.clone());
        }
        if let Some(user) = client.metadata().get(METADATA_USER) {
            p.insert("session_authorization".into(), user.clone());
        }
        Some(p)
    }
}

#[cfg(test)]
mod tests;
