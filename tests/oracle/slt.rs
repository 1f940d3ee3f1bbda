//! The `.slt` file format (see the top of `tests/oracle.rs`): parsing files
//! into records, and the statement rewriting and inspection the driver needs
//! (materialized views run as plain views on PostgreSQL).

use std::path::Path;

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    StatementOk { eddy_only: bool },
    StatementError { code: String, eddy_only: bool },
    Query { ordered: bool },
}

#[derive(Debug, Clone)]
pub struct Record {
    pub line: usize,
    pub comment: String,
    pub kind: Kind,
    pub sql: String,
}

pub fn parse_file(path: &Path, text: &str) -> Result<Vec<Record>, Vec<String>> {
    let name = path.display();
    let mut records = Vec::new();
    let mut errors = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim().is_empty() {
            i += 1;
            continue;
        }
        let start = i;
        let mut para: Vec<(usize, &str)> = Vec::new();
        while i < lines.len() && !lines[i].trim().is_empty() {
            para.push((i + 1, lines[i]));
            i += 1;
        }
        let comment: Vec<&str> = para
            .iter()
            .filter(|(_, l)| l.trim_start().starts_with('#'))
            .map(|(_, l)| l.trim_start().trim_start_matches('#').trim())
            .collect();
        let body: Vec<(usize, &str)> = para
            .iter()
            .copied()
            .filter(|(_, l)| !l.trim_start().starts_with('#'))
            .collect();
        if body.is_empty() {
            continue; // file-level comment
        }
        let (hline, header) = body[0];
        let sql = body[1..]
            .iter()
            .map(|(_, l)| *l)
            .collect::<Vec<_>>()
            .join("\n");
        let sql = sql.trim().trim_end_matches(';').trim_end().to_string();
        let words: Vec<&str> = header.split_whitespace().collect();
        let loc = format!("{name}:{hline}");
        let kind = match words.as_slice() {
            ["statement", "ok"] => Some(Kind::StatementOk { eddy_only: false }),
            ["statement", "ok", "eddy-only"] => Some(Kind::StatementOk { eddy_only: true }),
            ["statement", "error", code] => Some(Kind::StatementError {
                code: code.to_string(),
                eddy_only: false,
            }),
            ["statement", "error", code, "eddy-only"] => Some(Kind::StatementError {
                code: code.to_string(),
                eddy_only: true,
            }),
            ["query"] | ["query", "rowsort"] => Some(Kind::Query { ordered: false }),
            ["query", "ordered"] => Some(Kind::Query { ordered: true }),
            _ => {
                errors.push(format!("{loc}: unknown record header `{header}`"));
                None
            }
        };
        let Some(kind) = kind else { continue };
        if sql.is_empty() {
            errors.push(format!("{loc}: record has no SQL"));
            continue;
        }
        if let Kind::StatementError { code, .. } = &kind {
            if code.len() != 5 || !code.chars().all(|c| c.is_ascii_alphanumeric()) {
                errors.push(format!("{loc}: `{code}` is not a SQLSTATE (5 characters)"));
            }
        }
        if matches!(kind, Kind::Query { .. } | Kind::StatementError { .. }) && comment.is_empty() {
            errors.push(format!(
                "{loc}: case has no `#` comment saying what it checks"
            ));
        }
        if kind == (Kind::Query { ordered: true }) && !sql.to_ascii_uppercase().contains("ORDER BY")
        {
            errors.push(format!(
                "{loc}: `query ordered` but the query has no ORDER BY"
            ));
        }
        let _ = start;
        records.push(Record {
            line: hline,
            comment: comment.join(" "),
            kind,
            sql,
        });
    }
    if errors.is_empty() {
        Ok(records)
    } else {
        Err(errors)
    }
}

/// Upper-cased leading words of a statement (skipping `--` comment lines).
pub fn leading_words(sql: &str, n: usize) -> Vec<String> {
    sql.lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .flat_map(|l| l.split_whitespace())
        .take(n)
        .map(|w| w.to_ascii_uppercase())
        .collect()
}

/// For `CREATE [OR REPLACE] MATERIALIZED VIEW [IF NOT EXISTS] name ...`, the view name.
pub fn created_mv_name(sql: &str) -> Option<String> {
    let words: Vec<&str> = sql.split_whitespace().take(10).collect();
    let upper: Vec<String> = words.iter().map(|w| w.to_ascii_uppercase()).collect();
    let pos = upper.iter().position(|w| w == "MATERIALIZED")?;
    if upper.first().map(String::as_str) != Some("CREATE")
        || upper.get(pos + 1).map(String::as_str) != Some("VIEW")
    {
        return None;
    }
    let mut k = pos + 2;
    if upper.get(k).map(String::as_str) == Some("IF") {
        k += 3;
    }
    let raw = words.get(k)?;
    let name = raw.split('(').next().unwrap_or(raw).trim_end_matches(';');
    (!name.is_empty()).then(|| name.to_string())
}

/// The statement as PostgreSQL should run it: materialized views become plain views.
pub fn pg_sql(sql: &str) -> String {
    let lead = leading_words(sql, 4);
    let is_mv_ddl = matches!(
        lead.first().map(String::as_str),
        Some("CREATE" | "DROP" | "ALTER")
    ) && lead.iter().any(|w| w == "MATERIALIZED");
    if !is_mv_ddl {
        return sql.to_string();
    }
    let upper = sql.to_ascii_uppercase(); // same byte offsets as `sql`
    match upper.find("MATERIALIZED") {
        Some(at) => {
            let rest = &sql[at + "MATERIALIZED".len()..];
            format!("{}{}", &sql[..at], rest.trim_start())
        }
        None => sql.to_string(),
    }
}
