//! Scalar expressions and aggregate functions.
//!
//! Expressions are evaluated a row at a time with PostgreSQL's semantics:
//! three-valued logic, NULL in gives NULL out for strict functions, integer
//! overflow and division by zero raise errors (never wrap), numeric division
//! keeps PostgreSQL's result scale. An error is a value ([`EvalError`]) that
//! the renderer routes into the view's error collection; it never panics.

mod agg;
mod arith;
mod array;
mod case;
mod cast;
mod count_fn;
mod datetime;
pub use datetime::parse_zone;
mod error;
mod float_fn;
mod format;
pub(crate) mod json;
mod json_edit;
mod func;
mod json_order;
mod like;
mod math;
mod regex;
mod text;
mod to_char;
mod to_char_number;
mod to_timestamp;
mod running;
mod scalar;
mod table_func;
mod window;
mod window_range;

pub use array::ArrayFunc;
pub use float_fn::FloatFn;
pub use agg::{AggregateExpr, AggregateFunc, Stat};
pub use running::RunningAggregate;
pub use error::EvalError;
pub use func::{numeric_avg, BinaryFunc, UnaryFunc, VariadicFunc};
pub use scalar::{ScalarExpr, SortKey};
pub use table_func::TableFunc;
pub use window::{WindowExpr, WindowFrame, WindowFunc};
pub use window_range::{RangeFrame, RangeOffset};
