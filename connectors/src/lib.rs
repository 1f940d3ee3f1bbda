//! eddy's edges to the outside world: the Postgres-wire server (and, later,
//! Kafka sources and sinks and the HTTP server).

pub mod handler;
pub mod pgwire;

pub use handler::{Description, QueryHandler, QueryResult, SessionId};
pub mod formats;
pub mod kafka;
pub mod http;
