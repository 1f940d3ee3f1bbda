//! COPY in PostgreSQL's text and CSV formats:
//! - `COPY { table [(columns)] | (query) } TO STDOUT [WITH (options)]`: the
//!   rows of a query, as psql's `\copy ... to 'file'` and drivers'
//!   copy-out run it to export a view or a table;
//! - `COPY table [(columns)] FROM STDIN [WITH (options)]`: rows for a table,
//!   as psql's `\copy t from 'file'` sends them. The lines are decoded
//!   here and inserted by INSERT statements (one implicit transaction), so
//!   they get an INSERT's conversions and checks.
//!
//! What it does not do: COPY to or from a file on the server, and the
//! binary format.

use crate::{codes, SqlError};
use eddy_engine::repr::{format_datum, RelationDesc};
use eddy_engine::Row;
use sqlparser::ast::{CopyLegacyCsvOption, CopyLegacyOption, CopyOption, CopySource, CopyTarget, Ident, ObjectName, Query, Statement};

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

/// A COPY FROM STDIN: where the rows go and how they are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyIn {
    /// The table, as written in the statement.
    pub table: String,
    /// The columns named, as written (none: every column in order).
    pub columns: Vec<String>,
    pub format: CopyFormat,
}

/// What a COPY statement does.
pub enum CopyPlan {
    /// Send the rows of this query.
    To(Statement, CopyFormat),
    /// Receive rows for a table.
    From(CopyIn),
}

/// The plan of a COPY statement.
pub fn plan_copy(stmt: Statement) -> Result<CopyPlan, SqlError> {
    let Statement::Copy { source, to, target, options, legacy_options, .. } = stmt else {
        return Err(SqlError::internal("not a COPY statement"));
    };
    match (&target, to) {
        (CopyTarget::Stdout, true) | (CopyTarget::Stdin, false) => {}
        (_, true) => return Err(SqlError::unsupported("COPY to a file on the server").with_hint("COPY ... TO STDOUT, or psql's \\copy ... to 'file', writes on the client")),
        (_, false) => return Err(SqlError::unsupported("COPY from a file on the server").with_hint("COPY ... FROM STDIN, or psql's \\copy ... from 'file', reads on the client")),
    }
    let mut format = CopyFormat::text();
    // PostgreSQL's older option syntax, which psql's `\copy t from 'f' csv
    // header` sends: `CSV [HEADER] [QUOTE 'q']`, `DELIMITER 'd'`, `NULL 'n'`.
    if legacy_options.iter().any(|o| matches!(o, CopyLegacyOption::Csv(_))) {
        format = CopyFormat::csv();
    }
    for o in legacy_options {
        match o {
            CopyLegacyOption::Csv(csv) => {
                for c in csv {
                    match c {
                        CopyLegacyCsvOption::Header => format.header = true,
                        CopyLegacyCsvOption::Quote(q) => format.quote = q,
                        other => return Err(SqlError::unsupported(format!("COPY option {}", other))),
                    }
                }
            }
            CopyLegacyOption::Header => format.header = true,
            CopyLegacyOption::Delimiter(c) => format.delimiter = c,
            CopyLegacyOption::Null(n) => format.null = n,
            CopyLegacyOption::Binary => return Err(SqlError::unsupported("COPY's binary format").with_hint("use FORMAT text or FORMAT csv")),
            other => return Err(SqlError::unsupported(format!("COPY option {}", other))),
        }
    }
    // FORMAT first: it sets the defaults the other options change.
    for o in &options {
        if let CopyOption::Format(name) = o {
            format = match name.value.to_lowercase().as_str() {
                "text" => CopyFormat::text(),
                "csv" => CopyFormat::csv(),
                "binary" => return Err(SqlError::unsupported("COPY's binary format").with_hint("use FORMAT text or FORMAT csv")),
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
            other => return Err(SqlError::unsupported(format!("COPY option {}", other))),
        }
    }
    if !to {
        return match source {
            CopySource::Table { table_name, columns } => Ok(CopyPlan::From(CopyIn { table: table_name.to_string(), columns: columns.iter().map(|c| c.to_string()).collect(), format })),
            CopySource::Query(_) => Err(SqlError::new(codes::SYNTAX_ERROR, "COPY FROM takes a table, not a query")),
        };
    }
    let query: Box<Query> = match source {
        CopySource::Query(q) => q,
        CopySource::Table { table_name, columns } => Box::new(select_from(table_name, columns)),
    };
    Ok(CopyPlan::To(Statement::Query(query), format))
}

/// The rows COPY FROM received (`columns` fields each), as INSERT
/// statements of at most `chunk` rows each (all of them run as one implicit transaction); the second
/// value is the number of rows. A field is a quoted literal or NULL.
pub fn insert_statements(copy: &CopyIn, data: &str, columns: usize, chunk: usize) -> Result<(Vec<String>, usize), SqlError> {
    let mut rows = if copy.format.csv { decode_csv(data, &copy.format)? } else { decode_text(data, &copy.format)? };
    if copy.format.header && !rows.is_empty() {
        rows.remove(0);
    }
    let first_line = if copy.format.header { 2 } else { 1 };
    for (i, row) in rows.iter().enumerate() {
        if row.len() > columns {
            return Err(bad_copy(i + first_line, "extra data after last expected column"));
        }
        if row.len() < columns {
            return Err(bad_copy(i + first_line, format!("missing data for column {}", row.len() + 1)));
        }
    }
    let columns = if copy.columns.is_empty() { String::new() } else { format!(" ({})", copy.columns.join(", ")) };
    let literal = |f: &Option<String>| match f {
        None => "NULL".to_string(),
        Some(s) => format!("'{}'", s.replace('\'', "''")),
    };
    let statements = rows
        .chunks(chunk.max(1))
        .map(|part| {
            let values: Vec<String> = part.iter().map(|row| format!("({})", row.iter().map(literal).collect::<Vec<_>>().join(", "))).collect();
            format!("INSERT INTO {}{} VALUES {}", copy.table, columns, values.join(", "))
        })
        .collect();
    Ok((statements, rows.len()))
}

fn bad_copy(line: usize, message: impl Into<String>) -> SqlError {
    SqlError::new("22P04", message).with_detail(format!("COPY data, line {}", line))
}

/// Text format: one row per line, fields split at the delimiter, backslash
/// escapes, `\N` (or the NULL string) for NULL; a line `\.` ends the data.
fn decode_text(data: &str, format: &CopyFormat) -> Result<Vec<Vec<Option<String>>>, SqlError> {
    let mut rows = Vec::new();
    for (n, line) in data.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line == "\\." {
            break;
        }
        if line.is_empty() && n + 1 == data.split('\n').count() {
            continue; // after the last line break
        }
        let mut fields = Vec::new();
        let mut raw = String::new();
        let mut field = String::new();
        let mut chars = line.chars();
        loop {
            let c = chars.next();
            match c {
                None => {
                    fields.push(if raw == format.null { None } else { Some(std::mem::take(&mut field)) });
                    break;
                }
                Some(c) if c == format.delimiter => {
                    fields.push(if raw == format.null { None } else { Some(std::mem::take(&mut field)) });
                    raw.clear();
                    field.clear();
                }
                Some('\\') => {
                    let e = chars.next().ok_or_else(|| bad_copy(n + 1, "end-of-copy marker corrupt"))?;
                    raw.push('\\');
                    raw.push(e);
                    field.push(match e {
                        'n' => '\n',
                        'r' => '\r',
                        't' => '\t',
                        'b' => '\u{8}',
                        'f' => '\u{c}',
                        'v' => '\u{b}',
                        other => other,
                    });
                }
                Some(c) => {
                    raw.push(c);
                    field.push(c);
                }
            }
        }
        rows.push(fields);
    }
    Ok(rows)
}

/// CSV (RFC 4180 with PostgreSQL's rules): quoted fields may hold the
/// delimiter, quotes (doubled) and line breaks; an unquoted field equal to
/// the NULL string (empty by default) is NULL, a quoted one never is.
fn decode_csv(data: &str, format: &CopyFormat) -> Result<Vec<Vec<Option<String>>>, SqlError> {
    let q = format.quote;
    let mut rows = Vec::new();
    let mut row: Vec<Option<String>> = Vec::new();
    let mut field = String::new();
    let (mut quoted, mut in_quotes, mut line) = (false, false, 1);
    let mut chars = data.chars().peekable();
    let finish = |field: &mut String, quoted: &mut bool, row: &mut Vec<Option<String>>| {
        let value = std::mem::take(field);
        row.push(if !*quoted && value == format.null { None } else { Some(value) });
        *quoted = false;
    };
    while let Some(c) = chars.next() {
        if in_quotes {
            if c == q && chars.peek() == Some(&q) {
                chars.next();
                field.push(q);
            } else if c == q {
                in_quotes = false;
            } else {
                if c == '\n' {
                    line += 1;
                }
                field.push(c);
            }
        } else if c == q {
            in_quotes = true;
            quoted = true;
        } else if c == format.delimiter {
            finish(&mut field, &mut quoted, &mut row);
        } else if c == '\n' || c == '\r' {
            if c == '\r' && chars.peek() == Some(&'\n') {
                chars.next();
            }
            if row.is_empty() && field.is_empty() && !quoted {
                line += 1;
                continue; // an empty line
            }
            if !quoted && row.is_empty() && field == "\\." {
                break;
            }
            finish(&mut field, &mut quoted, &mut row);
            rows.push(std::mem::take(&mut row));
            line += 1;
        } else {
            field.push(c);
        }
    }
    if in_quotes {
        return Err(bad_copy(line, "unterminated CSV quoted field"));
    }
    if !row.is_empty() || !field.is_empty() || quoted {
        if !(row.is_empty() && !quoted && field == "\\.") {
            finish(&mut field, &mut quoted, &mut row);
            rows.push(row);
        }
    }
    Ok(rows)
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
        match plan_copy(crate::statement::parse(sql).unwrap().remove(0))? {
            CopyPlan::To(q, f) => Ok((q, f)),
            CopyPlan::From(_) => panic!("COPY FROM"),
        }
    }

    fn copy_in(sql: &str, data: &str) -> Result<(Vec<String>, usize), SqlError> {
        match plan_copy(crate::statement::parse(sql).unwrap().remove(0))? {
            CopyPlan::From(c) => insert_statements(&c, data, 2, 2),
            CopyPlan::To(..) => panic!("COPY TO"),
        }
    }

    #[test]
    fn copy_from_decodes_text_and_csv_into_inserts() {
        let (stmts, n) = copy_in("COPY t (id, note) FROM STDIN", "1\ta\\tb\n2\t\\N\n3\tit's\n\\.\n").unwrap();
        assert_eq!(n, 3);
        assert_eq!(stmts, vec!["INSERT INTO t (id, note) VALUES ('1', 'a\tb'), ('2', NULL)", "INSERT INTO t (id, note) VALUES ('3', 'it''s')"]);
        let (stmts, n) = copy_in("COPY t FROM STDIN WITH (FORMAT csv, HEADER)", "id,note\r\n1,\"x, \"\"y\"\"\"\r\n2,\n3,\"\"\n").unwrap();
        assert_eq!(n, 3);
        assert_eq!(stmts, vec!["INSERT INTO t VALUES ('1', 'x, \"y\"'), ('2', NULL)", "INSERT INTO t VALUES ('3', '')"]);
        assert_eq!(copy_in("COPY t FROM STDIN WITH (FORMAT csv)", "1,\"open\n").unwrap_err().code, "22P04");
        assert_eq!(copy_in("COPY t FROM STDIN", "1\t2\t3\n").unwrap_err().message, "extra data after last expected column");
        assert_eq!(copy_in("COPY t FROM STDIN", "1\n").unwrap_err().message, "missing data for column 2");
        let (_, n) = copy_in("COPY t FROM STDIN WITH (FORMAT csv)", "1,\"two\nlines\"\n").unwrap();
        assert_eq!(n, 1);
        // psql's `\copy t from 'f' csv header` sends the older option syntax.
        let (stmts, n) = copy_in("COPY t FROM STDIN CSV HEADER", "id,note\n1,x\n").unwrap();
        assert_eq!((stmts, n), (vec!["INSERT INTO t VALUES ('1', 'x')".to_string()], 1));
        let (stmts, _) = copy_in("COPY t FROM STDIN DELIMITER '|' NULL 'none'", "1|none\n").unwrap();
        assert_eq!(stmts, vec!["INSERT INTO t VALUES ('1', NULL)"]);
        assert_eq!(copy_in("COPY t FROM STDIN BINARY", "").unwrap_err().code, "0A000");
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
        assert_eq!(plan_copy(crate::statement::parse("COPY t FROM '/tmp/x'").unwrap().remove(0)).err().unwrap().code, "0A000");
        assert_eq!(copy("COPY t TO '/tmp/x'").unwrap_err().code, "0A000");
        assert_eq!(copy("COPY t TO STDOUT WITH (FORMAT binary)").unwrap_err().code, "0A000");
        assert!(copy("COPY t TO STDOUT WITH (HEADER)").unwrap().1.header);
    }
}
