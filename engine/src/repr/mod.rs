//! Values, rows and types shared by every layer.

mod array;
mod datum;
mod format;
mod jsonb;
mod parse;
mod shared_row;
mod types;

pub use array::{format_array, parse_array};
pub use datum::{date_in_range, date_range, timestamp_in_range, Datum, Interval, Str, F64};
pub use format::{format_datum, format_float, format_interval, format_jsonb, format_numeric};
pub use jsonb::{normalize_jsonb, JsonbError, MAX_JSONB_DEPTH};
pub use parse::{check_int, coerce_numeric, out_of_range, parse_datum, parse_uuid, parse_date, parse_interval, parse_timestamp, ParseError};
pub use shared_row::SharedRow;
pub use types::{ColumnType, ElementType, RelationDesc, ScalarType};

/// A row: one datum per column. Ordered and hashable so that it can be the
/// data of a differential collection.
pub type Row = Vec<Datum>;
