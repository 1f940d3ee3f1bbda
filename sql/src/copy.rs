//! `COPY { table [(columns)] | (query) } TO STDOUT [WITH (options)]`: the
//! rows of a query, sent in PostgreSQL's COPY text or CSV format. This is
//! what psql's `\copy ... to 'file'` and drivers' copy-out run, to export a
//! view or a table.
//!
//! What it does not do: COPY FROM (load rows with INSERT instead), COPY to
//! or from a file on the server, and the binary format.

use crate::{codes, SqlError};
use eddy_engine::repr::{format_datum, RelationDesc};
use eddy_engine::Row;
use sqlparser::ast::{CopyOption, CopySource, CopyTarget, Ident, ObjectName, Query, Statement};

/// How COPY writes rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyFormat {
    pub csv: bool,
    /// A first line of column names.
    pub header: bool,
    pub delimiter: char,
    /// How NULL is written.
    pub null: String,
    /// CSV's quote character.
    pub quote: char,
}

impl CopyFormat {
    fn text() -> Self {
        CopyFormat { csv: false, header: false, delimiter: '\t', null: "\\N".into(), quote: '"' }
    }
    fn csv() -> Self {
        CopyFormat { csv: true, header: false, delimiter: ',', null: String::new(), quote: '"' }
    }
}

fn unsupported(what: &str) -> SqlError {
    SqlError::new(codes::FEATURE_NOT_SUPPORTED, format!("{} is not supported", what))
}

/// The query a COPY TO STDOUT reads, and its format.
pub fn plan_copy(stmt: Statement) -> Result<(Statement, CopyFormat), SqlError> {
    let Statement::Copy { source, to, target, options, legacy_options, .. } = stmt else {
        return Err(SqlError::internal("not a COPY statement"));
    };
    if !to {
        return Err(unsupported("COPY FROM").with_hint("load rows with INSERT (several rows per statement: INSERT INTO t VALUES (...), (...)), or through a Kafka source"));
    }
    if !matches!(target, CopyTarget::Stdout) {
        return Err(unsupported("COPY to a file on the server").with_hint("COPY ... TO STDOUT, or psql's \\copy ... to 'file', writes on the client"));
    }
    if !legacy_options.is_empty() {
        return Err(unsupported("this COPY option syntax").with_hint("write the options as WITH (FORMAT csv, HEADER)"));
    }
    let mut format = CopyFormat::text();
    // FORMAT first: it sets the defaults the other options change.
    for o in &options {
        if let CopyOption::Format(name) = o {
            format = match name.value.to_lowercase().as_str() {
                "text" => CopyFormat::text(),
                "csv" => CopyFormat::csv(),
                "binary" => return Err(unsupported("COPY's binary format").with_hint("use FORMAT text or FORMAT csv")),
                other => return Err(SqlError::new(codes::INVALID_PARAMETER_VALUE, format!("COPY format \"{}\" not recognized", other))),
            };
        }
    }
    for o in options {
        match o {
            CopyOption::Format(_) => {}
            CopyOption::Delimiter(c) => format.delimiter = c,
            CopyOption::Null(s) => format.null = s,
            CopyOption::Header(h) => format.header = h,
            CopyOption::Quote(c) => format.quote = c,
            CopyOption::Encoding(e) if e.eq_ignore_ascii_case("utf8") || e.eq_ignore_ascii_case("utf-8") => {}
            other => return Err(unsupported(&format!("COPY option {}", other))),
        }
    }
    let query: Box<Query> = match source {
        CopySource::Query(q) => q,
        CopySource::Table { table_name, columns } => Box::new(select_from(table_name, columns)),
    };
    Ok((Statement::Query(query), format))
}

/// `SELECT columns FROM table` (every column when none are named).
fn select_from(table: ObjectName, columns: Vec<Ident>) -> Query {
    let list = if columns.is_empty() { "*".to_string() } else { columns.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(", ") };
    let sql = format!("SELECT {} FROM {}", list, table);
    match crate::statement::parse(&sql).ok().and_then(|mut s| s.pop()) {
        Some(Statement::Query(q)) => *q,
        _ => unreachable!("a SELECT of a parsed table name parses"),
    }
}

/// The COPY text of rows: one line each (after a header line when asked).
pub fn encode(desc: &RelationDesc, rows: &[Row], format: &CopyFormat) -> Vec<String> {
    let mut lines = Vec::with_capacity(rows.len() + 1);
    let delimiter = format.delimiter.to_string();
    if format.header {
        lines.push(desc.names.iter().map(|n| if format.csv { csv_field(n, format) } else { text_field(n, format.delimiter) }).collect::<Vec<_>>().join(&delimiter) + "\n");
    }
    for row in rows {
        let fields: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, d)| {
                if d.is_null() {
                    return format.null.clone();
                }
                let text = format_datum(d, desc.types[i].scalar).unwrap_or_default();
                if format.csv {
                    csv_field(&text, format)
                } else {
                    text_field(&text, format.delimiter)
                }
            })
            .collect();
        lines.push(fields.join(&delimiter) + "\n");
    }
    lines
}

/// COPY text format: backslash escapes for the characters that would end a
/// field or a line.
fn text_field(s: &str, delimiter: char) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' if delimiter == '\t' => out.push_str("\\t"),
            c if c == delimiter => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// CSV: quoted when it holds the delimiter, the quote, a line break, or is
/// empty (so an empty text differs from NULL); quotes inside are doubled.
fn csv_field(s: &str, format: &CopyFormat) -> String {
    let needs = s.is_empty() || s.contains(format.delimiter) || s.contains(format.quote) || s.contains(['\n', '\r']) || s == format.null;
    if !needs {
        return s.to_string();
    }
    let q = format.quote.to_string();
    format!("{q}{}{q}", s.replace(&q, &format!("{q}{q}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_engine::repr::{ColumnType, ScalarType};
    use eddy_engine::Datum;

    fn desc() -> RelationDesc {
        RelationDesc::new(vec![("id".into(), ColumnType { scalar: ScalarType::Int32, nullable: true }), ("note".into(), ColumnType { scalar: ScalarType::Text, nullable: true })])
    }

    fn copy(sql: &str) -> Result<(Statement, CopyFormat), SqlError> {
        plan_copy(crate::statement::parse(sql).unwrap().remove(0))
    }

    #[test]
    fn text_format_escapes_and_writes_null_as_backslash_n() {
        let rows = vec![vec![Datum::Int(1), Datum::text("a\tb\\c\nd")], vec![Datum::Int(2), Datum::Null]];
        assert_eq!(encode(&desc(), &rows, &CopyFormat::text()), vec!["1\ta\\tb\\\\c\\nd\n", "2\t\\N\n"]);
    }

    #[test]
    fn csv_quotes_what_needs_it_and_heads_with_names() {
        let rows = vec![vec![Datum::Int(1), Datum::text("say \"hi\", then go")], vec![Datum::Int(2), Datum::text("")], vec![Datum::Null, Datum::Null]];
        let (_, mut format) = copy("COPY t TO STDOUT WITH (FORMAT csv, HEADER)").unwrap();
        assert!(format.csv && format.header);
        assert_eq!(encode(&desc(), &rows, &format), vec!["id,note\n", "1,\"say \"\"hi\"\", then go\"\n", "2,\"\"\n", ",\n"]);
        format.delimiter = ';';
        assert_eq!(encode(&desc(), &rows[1..2], &format)[1], "2;\"\"\n");
    }

    #[test]
    fn copy_reads_a_table_or_a_query_and_refuses_the_rest() {
        let (q, _) = copy("COPY t (id) TO STDOUT").unwrap();
        assert_eq!(q.to_string(), "SELECT id FROM t");
        let (q, _) = copy("COPY (SELECT 1) TO STDOUT").unwrap();
        assert_eq!(q.to_string(), "SELECT 1");
        assert_eq!(copy("COPY t FROM STDIN").unwrap_err().code, "0A000");
        assert_eq!(copy("COPY t TO '/tmp/x'").unwrap_err().code, "0A000");
        assert_eq!(copy("COPY t TO STDOUT WITH (FORMAT binary)").unwrap_err().code, "0A000");
        assert!(copy("COPY t TO STDOUT WITH (HEADER)").unwrap().1.header);
    }
}
