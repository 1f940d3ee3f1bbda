//! SQL type names, Arrow types (DataFusion's) and the engine's
//! [`ScalarType`], and the conversions between them.
//!
//! jsonb has no Arrow type; it travels through DataFusion as Utf8 with the
//! field metadata `eddy.type = jsonb`, so that a column read straight from a
//! table keeps its type.

use crate::SqlError;
use arrow_schema::{DataType, Field, IntervalUnit, TimeUnit};
use eddy_engine::repr::{ColumnType, ElementType, RelationDesc};
use eddy_engine::ScalarType;
use sqlparser::ast::{DataType as SqlType, ExactNumberInfo};
use std::collections::HashMap;
use std::sync::Arc;

pub const TYPE_METADATA_KEY: &str = "eddy.type";
/// Precision and scale DataFusion uses for an unconstrained `numeric`.
pub const UNCONSTRAINED_NUMERIC: (u8, i8) = (38, 10);

/// The engine type of a type name in CREATE TABLE or a cast.
pub fn scalar_type_of_sql(ty: &SqlType) -> Result<ScalarType, SqlError> {
    use SqlType as T;
    Ok(match ty {
        T::Boolean | T::Bool => ScalarType::Bool,
        T::SmallInt(_) | T::Int2(_) => ScalarType::Int16,
        T::Int(_) | T::Integer(_) | T::Int4(_) => ScalarType::Int32,
        T::BigInt(_) | T::Int8(_) => ScalarType::Int64,
        T::Real | T::Float4 => ScalarType::Float32,
        T::Double(_) | T::DoublePrecision | T::Float8 | T::Float(_) => ScalarType::Float64,
        T::Numeric(info) | T::Decimal(info) | T::Dec(info) => match info {
            ExactNumberInfo::None => ScalarType::Numeric { precision: None, scale: None },
            ExactNumberInfo::Precision(p) => ScalarType::Numeric { precision: Some(*p as u8), scale: Some(0) },
            ExactNumberInfo::PrecisionAndScale(p, s) => ScalarType::Numeric { precision: Some(*p as u8), scale: Some(*s as u8) },
        },
        T::Text | T::Varchar(_) | T::CharVarying(_) | T::CharacterVarying(_) | T::Char(_) | T::Character(_) | T::String(_) => ScalarType::Text,
        T::Date => ScalarType::Date,
        T::Timestamp(_, tz) => match tz {
            sqlparser::ast::TimezoneInfo::WithTimeZone | sqlparser::ast::TimezoneInfo::Tz => ScalarType::TimestampTz,
            _ => ScalarType::Timestamp,
        },
        T::TimestampNtz(_) => ScalarType::Timestamp,
        T::Interval { .. } => ScalarType::Interval,
        T::JSONB | T::JSON => ScalarType::Jsonb,
        T::Uuid => ScalarType::Uuid,
        T::Array(sqlparser::ast::ArrayElemTypeDef::SquareBracket(inner, _) | sqlparser::ast::ArrayElemTypeDef::AngleBracket(inner) | sqlparser::ast::ArrayElemTypeDef::Parenthesis(inner)) => match scalar_type_of_sql(inner)?.array_of() {
            Some(array) => array,
            None => return Err(SqlError::unsupported("arrays of arrays").with_hint("eddy's arrays have one dimension")),
        },
        T::Custom(name, _) => match name.to_string().to_lowercase().as_str() {
            "timestamptz" => ScalarType::TimestampTz,
            "jsonb" | "json" => ScalarType::Jsonb,
            "uuid" => ScalarType::Uuid,
            "int2" => ScalarType::Int16,
            "int4" => ScalarType::Int32,
            "int8" => ScalarType::Int64,
            "float8" => ScalarType::Float64,
            "float4" => ScalarType::Float32,
            serial @ ("serial" | "bigserial" | "smallserial" | "serial4" | "serial8" | "serial2") => {
                return Err(SqlError::new(crate::codes::UNDEFINED_OBJECT, format!("type \"{}\" does not exist", serial)).with_hint("eddy has no sequences: declare the column integer (or bigint) and give its values in each INSERT"))
            }
            other => return Err(SqlError::new(crate::codes::UNDEFINED_OBJECT, format!("type \"{}\" does not exist", other))),
        },
        T::Time(..) => return Err(time_unsupported()),
        T::Bytea | T::Blob(_) | T::Binary(_) | T::Varbinary(_) => return Err(bytea_unsupported()),
        other => return Err(SqlError::unsupported(format!("type {}", other))),
    })
}

/// The type `time` (of day), which eddy does not have.
fn time_unsupported() -> SqlError {
    SqlError::unsupported("type time").with_hint("keep a time of day as an interval ('10:30'::interval, comparable and addable to a date) or as text; a point in time is a timestamp or timestamptz")
}

/// The type `bytea`, which eddy does not have.
fn bytea_unsupported() -> SqlError {
    SqlError::unsupported("type bytea").with_hint("keep binary data as text, hex or base64 encoded (encode/decode in the client)")
}

/// The Arrow type DataFusion plans a column of this type as.
pub fn arrow_type(ty: ScalarType) -> DataType {
    match ty {
        ScalarType::Bool => DataType::Boolean,
        ScalarType::Int16 => DataType::Int16,
        ScalarType::Int32 => DataType::Int32,
        ScalarType::Int64 => DataType::Int64,
        ScalarType::Float32 => DataType::Float32,
        ScalarType::Float64 => DataType::Float64,
        ScalarType::Numeric { precision, scale } => match precision {
            Some(p) => DataType::Decimal128(p, scale.unwrap_or(0) as i8),
            None => DataType::Decimal128(UNCONSTRAINED_NUMERIC.0, UNCONSTRAINED_NUMERIC.1),
        },
        ScalarType::Text | ScalarType::Jsonb | ScalarType::Uuid => DataType::Utf8,
        ScalarType::Date => DataType::Date32,
        ScalarType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
        ScalarType::TimestampTz => DataType::Timestamp(TimeUnit::Microsecond, Some(Arc::from("+00:00"))),
        ScalarType::Interval => DataType::Interval(IntervalUnit::MonthDayNano),
        ScalarType::Array(e) => DataType::List(Arc::new(Field::new("item", arrow_type(e.scalar()), true))),
    }
}

/// An Arrow field for a column.
pub fn arrow_field(name: &str, ty: &ColumnType) -> Field {
    let f = Field::new(name, arrow_type(ty.scalar), ty.nullable);
    match ty.scalar {
        ScalarType::Jsonb | ScalarType::Uuid | ScalarType::Array(ElementType::Jsonb | ElementType::Uuid) => f.with_metadata(HashMap::from([(TYPE_METADATA_KEY.to_string(), ty.scalar.to_string())])),
        _ => f,
    }
}

/// The engine type of a DataFusion-planned value.
pub fn scalar_type_of_arrow(dt: &DataType) -> Result<ScalarType, SqlError> {
    Ok(match dt {
        DataType::Boolean => ScalarType::Bool,
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => ScalarType::Int16,
        DataType::Int32 | DataType::UInt16 => ScalarType::Int32,
        DataType::Int64 | DataType::UInt32 | DataType::UInt64 => ScalarType::Int64,
        DataType::Float16 | DataType::Float32 => ScalarType::Float32,
        DataType::Float64 => ScalarType::Float64,
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) | DataType::Decimal64(p, s) | DataType::Decimal32(p, s) => {
            if (*p, *s) == UNCONSTRAINED_NUMERIC || *s < 0 {
                ScalarType::Numeric { precision: None, scale: None }
            } else {
                ScalarType::Numeric { precision: Some(*p), scale: Some(*s as u8) }
            }
        }
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 | DataType::Null => ScalarType::Text,
        DataType::Date32 | DataType::Date64 => ScalarType::Date,
        DataType::Timestamp(_, None) => ScalarType::Timestamp,
        DataType::Timestamp(_, Some(_)) => ScalarType::TimestampTz,
        DataType::Interval(_) | DataType::Duration(_) => ScalarType::Interval,
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => match scalar_type_of_arrow(f.data_type())?.array_of() {
            Some(array) => array,
            None => return Err(SqlError::unsupported("arrays of arrays").with_hint("eddy's arrays have one dimension")),
        },
        DataType::Time32(_) | DataType::Time64(_) => return Err(time_unsupported()),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView | DataType::FixedSizeBinary(_) => return Err(bytea_unsupported()),
        other => return Err(SqlError::unsupported(format!("values of type {}", other))),
    })
}

/// The name eddy gives a DataFusion type in messages (`integer`, `text`),
/// DataFusion's own name for a type eddy does not have.
pub fn type_name_of_arrow(t: &DataType) -> String {
    scalar_type_of_arrow(t).map(|s| s.to_string()).unwrap_or_else(|_| t.to_string())
}

/// The engine column type of a DataFusion field (honouring the jsonb and
/// uuid metadata).
pub fn column_type_of_field(f: &Field) -> Result<ColumnType, SqlError> {
    // A cast of jsonb to another type keeps the mark (DataFusion carries a
    // field's metadata through casts): only text can be jsonb.
    let text = f.data_type() == &DataType::Utf8;
    let scalar = match f.metadata().get(TYPE_METADATA_KEY).map(String::as_str) {
        Some("jsonb") if text => ScalarType::Jsonb,
        Some("uuid") if text => ScalarType::Uuid,
        Some("jsonb[]") if !text => ScalarType::Array(ElementType::Jsonb),
        Some("uuid[]") if !text => ScalarType::Array(ElementType::Uuid),
        _ => scalar_type_of_arrow(f.data_type())?,
    };
    Ok(ColumnType { scalar, nullable: f.is_nullable() })
}

/// The relation description of a DataFusion schema.
pub fn desc_of_schema(schema: &datafusion_common::DFSchema) -> Result<RelationDesc, SqlError> {
    let cols = schema.fields().iter().map(|f| Ok((f.name().clone(), column_type_of_field(f)?))).collect::<Result<Vec<_>, SqlError>>()?;
    Ok(RelationDesc::new(cols))
}

/// The Arrow schema of a relation.
pub fn arrow_schema(desc: &RelationDesc) -> arrow_schema::SchemaRef {
    Arc::new(arrow_schema::Schema::new(desc.iter().map(|(n, t)| arrow_field(n, t)).collect::<Vec<_>>()))
}

/// The declared length of each `varchar(n)` / `char(n)` column of a
/// `CREATE TABLE` statement (None for other columns). The engine's text
/// type has no length; INSERT and UPDATE check it (error 22001).
pub fn char_limits(create_sql: &str) -> Vec<Option<usize>> {
    use sqlparser::ast::{CharacterLength, Statement};
    let Ok(mut stmts) = crate::statement::parse(create_sql) else { return vec![] };
    let Some(Statement::CreateTable(ct)) = stmts.pop() else { return vec![] };
    ct.columns
        .iter()
        .map(|c| match &c.data_type {
            SqlType::Varchar(Some(CharacterLength::IntegerLength { length, .. }))
            | SqlType::CharVarying(Some(CharacterLength::IntegerLength { length, .. }))
            | SqlType::CharacterVarying(Some(CharacterLength::IntegerLength { length, .. }))
            | SqlType::Char(Some(CharacterLength::IntegerLength { length, .. }))
            | SqlType::Character(Some(CharacterLength::IntegerLength { length, .. })) => Some(*length as usize),
            _ => None,
        })
        .collect()
}
