//! Planning: SQL → DataFusion logical plan → optimized plan → engine plan.

pub mod context;
pub mod expr;
pub mod lateral;
pub mod df;
mod df_messages;
pub mod lower;
pub mod prepare;
pub mod subquery;
pub mod table_functions;
pub mod pg_arrays;
pub mod pg_functions;
pub mod pg_aggregates;
pub mod pg_types;
pub mod using_join;
