//! Column types.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The SQL type of a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ScalarType {
    Bool,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    /// `numeric(p, s)`; `None` when unconstrained.
    Numeric { precision: Option<u8>, scale: Option<u8> },
    Text,
    Date,
    Timestamp,
    TimestampTz,
    Interval,
    Jsonb,
    /// A UUID, held as its canonical text (lower-case hex in 8-4-4-4-12
    /// groups), whose byte order is the UUID's order.
    Uuid,
    /// A one-dimensional array of the element type (lower bound 1; an
    /// array of arrays is not a type eddy has).
    Array(ElementType),
}

/// The type of an array's elements: every [`ScalarType`] but an array
/// (numeric without its precision and scale, as PostgreSQL's `numeric[]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ElementType {
    Bool,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Numeric,
    Text,
    Date,
    Timestamp,
    TimestampTz,
    Interval,
    Jsonb,
    Uuid,
}

impl ElementType {
    pub const ALL: [ElementType; 14] = {
        use ElementType as E;
        [E::Bool, E::Int16, E::Int32, E::Int64, E::Float32, E::Float64, E::Numeric, E::Text, E::Date, E::Timestamp, E::TimestampTz, E::Interval, E::Jsonb, E::Uuid]
    };

    /// The elements' scalar type.
    pub fn scalar(self) -> ScalarType {
        use ElementType as E;
        match self {
            E::Bool => ScalarType::Bool,
            E::Int16 => ScalarType::Int16,
            E::Int32 => ScalarType::Int32,
            E::Int64 => ScalarType::Int64,
            E::Float32 => ScalarType::Float32,
            E::Float64 => ScalarType::Float64,
            E::Numeric => ScalarType::Numeric { precision: None, scale: None },
            E::Text => ScalarType::Text,
            E::Date => ScalarType::Date,
            E::Timestamp => ScalarType::Timestamp,
            E::TimestampTz => ScalarType::TimestampTz,
            E::Interval => ScalarType::Interval,
            E::Jsonb => ScalarType::Jsonb,
            E::Uuid => ScalarType::Uuid,
        }
    }

    /// PostgreSQL's OID of the array type (`_int4` for `integer[]`).
    pub fn array_oid(self) -> u32 {
        use ElementType as E;
        match self {
            E::Bool => 1000,
            E::Int16 => 1005,
            E::Int32 => 1007,
            E::Int64 => 1016,
            E::Float32 => 1021,
            E::Float64 => 1022,
            E::Numeric => 1231,
            E::Text => 1009,
            E::Date => 1182,
            E::Timestamp => 1115,
            E::TimestampTz => 1185,
            E::Interval => 1187,
            E::Jsonb => 3807,
            E::Uuid => 2951,
        }
    }
}

impl ScalarType {
    /// The type of an array of this type's values; `None` for an array
    /// (eddy has no arrays of arrays).
    pub fn array_of(self) -> Option<ScalarType> {
        use ElementType as E;
        Some(ScalarType::Array(match self {
            ScalarType::Bool => E::Bool,
            ScalarType::Int16 => E::Int16,
            ScalarType::Int32 => E::Int32,
            ScalarType::Int64 => E::Int64,
            ScalarType::Float32 => E::Float32,
            ScalarType::Float64 => E::Float64,
            ScalarType::Numeric { .. } => E::Numeric,
            ScalarType::Text => E::Text,
            ScalarType::Date => E::Date,
            ScalarType::Timestamp => E::Timestamp,
            ScalarType::TimestampTz => E::TimestampTz,
            ScalarType::Interval => E::Interval,
            ScalarType::Jsonb => E::Jsonb,
            ScalarType::Uuid => E::Uuid,
            ScalarType::Array(_) => return None,
        }))
    }

    /// The element type of an array type.
    pub fn element(self) -> Option<ScalarType> {
        match self {
            ScalarType::Array(e) => Some(e.scalar()),
            _ => None,
        }
    }

    /// The PostgreSQL type OID clients see.
    pub fn oid(self) -> u32 {
        match self {
            ScalarType::Bool => 16,
            ScalarType::Int16 => 21,
            ScalarType::Int32 => 23,
            ScalarType::Int64 => 20,
            ScalarType::Float32 => 700,
            ScalarType::Float64 => 701,
            ScalarType::Numeric { .. } => 1700,
            ScalarType::Text => 25,
            ScalarType::Date => 1082,
            ScalarType::Timestamp => 1114,
            ScalarType::TimestampTz => 1184,
            ScalarType::Interval => 1186,
            ScalarType::Jsonb => 3802,
            ScalarType::Uuid => 2950,
            ScalarType::Array(e) => e.array_oid(),
        }
    }

    /// The inclusive range of an integer type.
    pub fn int_range(self) -> Option<(i64, i64)> {
        match self {
            ScalarType::Int16 => Some((i16::MIN as i64, i16::MAX as i64)),
            ScalarType::Int32 => Some((i32::MIN as i64, i32::MAX as i64)),
            ScalarType::Int64 => Some((i64::MIN, i64::MAX)),
            _ => None,
        }
    }

    pub fn is_integer(self) -> bool {
        self.int_range().is_some()
    }

    pub fn is_numeric_family(self) -> bool {
        matches!(self, ScalarType::Int16 | ScalarType::Int32 | ScalarType::Int64 | ScalarType::Float32 | ScalarType::Float64 | ScalarType::Numeric { .. })
    }
}

impl fmt::Display for ScalarType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScalarType::Bool => write!(f, "boolean"),
            ScalarType::Int16 => write!(f, "smallint"),
            ScalarType::Int32 => write!(f, "integer"),
            ScalarType::Int64 => write!(f, "bigint"),
            ScalarType::Float32 => write!(f, "real"),
            ScalarType::Float64 => write!(f, "double precision"),
            ScalarType::Numeric { precision: Some(p), scale } => write!(f, "numeric({},{})", p, scale.unwrap_or(0)),
            ScalarType::Numeric { .. } => write!(f, "numeric"),
            ScalarType::Text => write!(f, "text"),
            ScalarType::Date => write!(f, "date"),
            ScalarType::Timestamp => write!(f, "timestamp without time zone"),
            ScalarType::TimestampTz => write!(f, "timestamp with time zone"),
            ScalarType::Interval => write!(f, "interval"),
            ScalarType::Jsonb => write!(f, "jsonb"),
            ScalarType::Uuid => write!(f, "uuid"),
            ScalarType::Array(e) => write!(f, "{}[]", e.scalar()),
        }
    }
}

/// A column's type and nullability.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnType {
    pub scalar: ScalarType,
    pub nullable: bool,
}

/// The names and types of a relation's columns.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelationDesc {
    pub names: Vec<String>,
    pub types: Vec<ColumnType>,
}

impl RelationDesc {
    pub fn new(columns: Vec<(String, ColumnType)>) -> Self {
        let (names, types) = columns.into_iter().unzip();
        RelationDesc { names, types }
    }
    pub fn arity(&self) -> usize {
        self.names.len()
    }
    pub fn iter(&self) -> impl Iterator<Item = (&String, &ColumnType)> {
        self.names.iter().zip(self.types.iter())
    }
}
