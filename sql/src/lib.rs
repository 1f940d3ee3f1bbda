//! eddy's SQL layer: statement parsing, the catalog model, planning through
//! DataFusion into the engine's plan IR, and errors with SQLSTATE codes.
//!
//! Planning is pure and synchronous: it reads a catalog snapshot and
//! produces a plan; it never touches the engine or the network.

pub mod connector;
pub mod constraints;
pub mod copy;
pub mod error;
pub mod from_functions;
pub mod grouped_subqueries;

pub use error::{codes, Severity, SqlError};
pub mod ambiguity;
pub mod catalog;
pub mod dialect;
pub mod dml;
pub mod limits;
pub mod plan;
pub mod names;
pub mod params;
pub mod settings;
pub mod psql;
pub mod refusals;
pub mod rewrite;
pub mod setops;
pub mod statement;
pub mod system_catalog;
pub mod types;
