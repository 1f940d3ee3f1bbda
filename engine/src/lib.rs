//! eddy's dataflow engine.
//!
//! The engine knows nothing of SQL, Kafka or the Postgres wire protocol. It
//! holds:
//! - [`repr`]: the values (`Datum`), rows and column types every layer shares;
//! - [`expr`]: scalar expressions and aggregate functions, evaluated row at a
//!   time with PostgreSQL's semantics (NULLs, overflow, rounding);
//! - [`plan`]: the plan IR that the SQL layer lowers queries into;
//! - [`render`]: how each plan node becomes differential-dataflow operators;
//! - [`runtime`]: the timely worker threads, the commands they execute
//!   (install a dataflow, write to a table, peek at an arrangement) and the
//!   handle the coordinator drives them through.

pub mod expr;
pub mod plan;
pub mod render;
pub mod repr;
pub mod runtime;

pub use repr::{Datum, Row, ScalarType};

/// Logical time: milliseconds assigned by the coordinator's timestamp oracle.
pub type Timestamp = u64;
/// Multiplicity of an update.
pub type Diff = i64;
/// Identifier of a catalog object whose contents the engine holds.
pub type GlobalId = u64;
