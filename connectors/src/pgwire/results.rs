//! Turning the handler's answers into protocol messages: column
//! descriptions, data rows in the formats the client asked for, command
//! tags, errors and notices, and the mapping between type OIDs and
//! [`ScalarType`]s.
//!
//! Does not: decide which messages a protocol step sends (see `query.rs`),
//! or encode single values (see `codec.rs`).

use bytes::{BufMut, BytesMut};
use eddy_engine::repr::{format_datum, RelationDesc, Row, ScalarType};
use eddy_sql::{Severity, SqlError};
use pgwire::api::portal::Format;
use pgwire::api::results::{FieldFormat, FieldInfo};
use pgwire::api::Type;
use pgwire::error::{ErrorInfo, PgWireError, SEVERITY_ERROR, SEVERITY_FATAL, SEVERITY_NOTICE, SEVERITY_WARNING};
use pgwire::messages::data::{DataRow, RowDescription};
use pgwire::messages::response::{ErrorResponse, NoticeResponse};

use super::codec::encode_binary;

/// The format of result column `idx` under the Bind message's format codes:
/// none means all text, one applies to all, otherwise one per column.
/// Out-of-range indexes fall back to text rather than panic.
pub fn column_format(format: &Format, idx: usize) -> FieldFormat {
    match format {
        Format::UnifiedText => FieldFormat::Text,
        Format::UnifiedBinary => FieldFormat::Binary,
        Format::Individual(codes) => codes.get(idx).map(|c| FieldFormat::from(*c)).unwrap_or(FieldFormat::Text),
    }
}

/// The column descriptions of `desc`, with per-column formats.
pub fn fields(desc: &RelationDesc, format: &Format) -> Vec<FieldInfo> {
    desc.iter()
        .enumerate()
        .map(|(i, (name, ct))| {
            let ty = ct.scalar;
            FieldInfo::new(name.clone(), None, None, pg_type(ty), column_format(format, i))
                .with_type_size(type_size(ty))
                .with_type_modifier(type_modifier(ty))
        })
        .collect()
}

pub fn row_description(fields: &[FieldInfo]) -> RowDescription {
    RowDescription::new(fields.iter().map(Into::into).collect())
}

/// Encodes every row of a result; text columns through `format_datum`,
/// binary ones through the codec. Fails only on an internal type mismatch.
pub fn data_rows(desc: &RelationDesc, rows: &[Row], format: &Format) -> Result<Vec<DataRow>, SqlError> {
    let formats: Vec<FieldFormat> = (0..desc.arity()).map(|i| column_format(format, i)).collect();
    let mut buf = BytesMut::with_capacity(256);
    rows.iter()
        .map(|row| {
            for (i, datum) in row.iter().enumerate() {
                let ty = desc.types.get(i).map(|c| c.scalar).unwrap_or(ScalarType::Text);
                let len_at = buf.len();
                buf.put_i32(-1); // NULL unless overwritten below
                if datum.is_null() {
                    continue;
                }
                match formats.get(i).copied().unwrap_or(FieldFormat::Text) {
                    FieldFormat::Text => buf.put_slice(format_datum(datum, ty).unwrap_or_default().as_bytes()),
                    FieldFormat::Binary => encode_binary(datum, ty, &mut buf)?,
                }
                let len = (buf.len() - len_at - 4) as i32;
                buf[len_at..len_at + 4].copy_from_slice(&len.to_be_bytes());
            }
            Ok(DataRow::new(buf.split(), row.len() as i16))
        })
        .collect()
}

/// The PostgreSQL type clients see for `ty`.
pub fn pg_type(ty: ScalarType) -> Type {
    Type::from_oid(ty.oid()).unwrap_or(Type::UNKNOWN)
}

/// The type a client declared for a parameter, if eddy has it. varchar,
/// bpchar and name read as text (same wire formats). Unknown or
/// unsupported OIDs count as undeclared, so describe infers the type.
pub fn scalar_type(ty: &Type) -> Option<ScalarType> {
    use ScalarType as T;
    Some(match ty.oid() {
        16 => T::Bool,
        21 => T::Int16,
        23 => T::Int32,
        20 => T::Int64,
        700 => T::Float32,
        701 => T::Float64,
        1700 => T::Numeric { precision: None, scale: None },
        25 | 1043 | 1042 | 19 => T::Text,
        1082 => T::Date,
        1114 => T::Timestamp,
        1184 => T::TimestampTz,
        1186 => T::Interval,
        3802 => T::Jsonb,
        2950 => T::Uuid,
        oid => return eddy_engine::repr::ElementType::ALL.into_iter().find(|e| e.array_oid() == oid).map(T::Array),
    })
}

/// `pg_type.typlen`: the fixed width, or -1 for variable-width types.
fn type_size(ty: ScalarType) -> i16 {
    use ScalarType as T;
    match ty {
        T::Bool => 1,
        T::Int16 => 2,
        T::Int32 | T::Float32 | T::Date => 4,
        T::Int64 | T::Float64 | T::Timestamp | T::TimestampTz => 8,
        T::Interval | T::Uuid => 16,
        T::Numeric { .. } | T::Text | T::Jsonb | T::Array(_) => -1,
    }
}

/// `atttypmod`: only `numeric(p, s)` has one, encoded as PostgreSQL does.
fn type_modifier(ty: ScalarType) -> i32 {
    match ty {
        ScalarType::Numeric { precision: Some(p), scale } => ((p as i32) << 16 | scale.unwrap_or(0) as i32) + 4,
        _ => -1,
    }
}

/// The error fields of `e` with the given severity.
pub fn error_info(e: &SqlError, severity: &str) -> ErrorInfo {
    let mut info = ErrorInfo::new(severity.to_owned(), e.code.to_owned(), e.message.clone());
    info.severity_nonlocalized = Some(severity.to_owned());
    info.detail = e.detail.clone();
    info.hint = e.hint.clone();
    info.position = e.position.map(|p| p.to_string());
    info
}

pub fn error_response(e: &SqlError) -> ErrorResponse {
    error_info(e, SEVERITY_ERROR).into()
}

/// An error for pgwire to send (as ErrorResponse, then it skips to Sync in
/// the extended protocol).
pub fn pgwire_error(e: SqlError) -> PgWireError {
    PgWireError::UserError(Box::new(error_info(&e, SEVERITY_ERROR)))
}

/// Like [`pgwire_error`], but ends the connection (failed startup).
pub fn fatal_error(e: SqlError) -> PgWireError {
    PgWireError::UserError(Box::new(error_info(&e, SEVERITY_FATAL)))
}

/// A notice; an `Error`-severity entry in a notice list is a warning.
pub fn notice_response(e: &SqlError) -> NoticeResponse {
    let severity = if e.severity == Severity::Notice { SEVERITY_NOTICE } else { SEVERITY_WARNING };
    let ErrorResponse { fields, .. } = error_info(e, severity).into();
    NoticeResponse::new(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_engine::repr::ColumnType;
    use eddy_engine::Datum;

    fn desc(types: &[ScalarType]) -> RelationDesc {
        RelationDesc::new(types.iter().enumerate().map(|(i, t)| (format!("c{i}"), ColumnType { scalar: *t, nullable: true })).collect())
    }

    #[test]
    fn rows_mix_text_binary_and_null() {
        let d = desc(&[ScalarType::Int32, ScalarType::Int32, ScalarType::Text]);
        let rows = vec![vec![Datum::Int(7), Datum::Int(7), Datum::Null]];
        let out = data_rows(&d, &rows, &Format::Individual(vec![0, 1, 1])).unwrap();
        assert_eq!(out[0].field_count, 3);
        let expect: &[u8] = &[0, 0, 0, 1, b'7', 0, 0, 0, 4, 0, 0, 0, 7, 0xff, 0xff, 0xff, 0xff];
        assert_eq!(&out[0].data[..], expect);
    }

    #[test]
    fn oids_map_both_ways() {
        for ty in [ScalarType::Bool, ScalarType::Int16, ScalarType::Float32, ScalarType::Date, ScalarType::Interval, ScalarType::Jsonb, ScalarType::Uuid] {
            assert_eq!(scalar_type(&pg_type(ty)), Some(ty));
        }
        assert_eq!(scalar_type(&Type::VARCHAR), Some(ScalarType::Text));
        assert_eq!(scalar_type(&Type::BYTEA), None);
        let f = fields(&desc(&[ScalarType::Numeric { precision: Some(10), scale: Some(2) }]), &Format::UnifiedBinary);
        assert_eq!(f[0].type_modifier(), (10 << 16 | 2) + 4);
        assert_eq!(f[0].format(), FieldFormat::Binary);
    }

    #[test]
    fn errors_carry_every_field() {
        let mut e = SqlError::new("42P01", "relation \"x\" does not exist").with_hint("h").with_detail("d");
        e.position = Some(15);
        let fields = error_response(&e).fields;
        for (code, value) in [(b'S', "ERROR"), (b'C', "42P01"), (b'D', "d"), (b'H', "h"), (b'P', "15")] {
            assert!(fields.contains(&(code, value.to_string())), "{fields:?}");
        }
        e.severity = Severity::Notice;
        assert!(notice_response(&e).fields.contains(&(b'S', "NOTICE".to_string())));
    }
}
