//! psql's meta-commands, answered from the catalog.
//!
//! psql implements `\d`, `\dt`, `\dv`, `\dm`, `\di`, `\d NAME`, `\l`, `\dn`,
//! `\du` (and their `+` and pattern forms), `\df`/`\dT`/`\dx` (always
//! empty here) and `\gdesc` as fixed queries over `pg_catalog`
//! (`psql -E` prints them). eddy has no `pg_catalog` relations, so this
//! module recognizes those queries by distinctive fragments of their text and
//! answers them from the [`Catalog`] with the columns psql reads, in the
//! order the query selects them: a column is included when the fragment
//! that selects it occurs in the query, so the columns psql selects only in
//! some versions or modes (`+`) come and go with the query. A column this
//! module does not know is left out, which psql may not survive: when a
//! psql release adds one, add its fragment to the field list (`psql -E`
//! shows the query). Written against psql 15.
//!
//! The model psql sees: every object lives in schema `public` of database
//! `eddy`, owned by `eddy`; a relation's OID is `16384 + ` its catalog id;
//! tables and materialized views have access method `heap`, indexes
//! `arrangement` (every index is an arrangement of its relation). Name
//! patterns (`\dt order*`) are the regular expressions psql builds from
//! them, matched with the `regex` crate.
//!
//! What it does not do: evaluate queries over `pg_catalog` or
//! `information_schema` in general. A query that is not one of psql's is
//! not recognized (`None`) and goes to the planner as usual. Sequences,
//! functions, types, extensions, comments, constraints, defaults and sizes
//! do not exist in eddy and come back empty or NULL; the one role is `eddy`.

mod describe;
mod relations;

use crate::catalog::{Catalog, CatalogItem, ItemKind};
use crate::statement::StatementPlan;
use crate::SqlError;
use eddy_engine::repr::{ColumnType, RelationDesc};
use eddy_engine::{Datum, GlobalId, ScalarType};

/// The OID of the first catalog item (PostgreSQL's `FirstNormalObjectId`).
const FIRST_OID: i64 = 16384;
pub const SCHEMA: &str = "public";
pub const OWNER: &str = "eddy";
pub const DATABASE: &str = "eddy";
/// The access method shown for an index.
pub const INDEX_METHOD: &str = "arrangement";

/// Recognizes the catalog queries psql's meta-commands send and answers
/// them from `catalog`; `None` for any other statement.
pub fn plan_psql_query(catalog: &Catalog, sql: &str) -> Option<Result<StatementPlan, SqlError>> {
    // Cheap gate: every query psql's describe commands send names pg_catalog.
    if !sql.contains("pg_catalog") {
        return None;
    }
    let q = Query::new(sql);
    relations::plan(catalog, &q).or_else(|| describe::plan(catalog, &q)).or_else(|| gdesc(&q)).or_else(|| regclass_oid(catalog, &q))
}

/// `SELECT 'name'::pg_catalog.regclass::pg_catalog.oid`: how `\sv NAME`
/// looks a relation up (42P01 if there is none).
fn regclass_oid(catalog: &Catalog, q: &Query) -> Option<Result<StatementPlan, SqlError>> {
    let pattern = regex::Regex::new(r"^(?i)select '((?:[^']|'')*)'::pg_catalog\.regclass::pg_catalog\.oid$").expect("valid regex");
    let name = pattern.captures(&q.text)?[1].replace("''", "'");
    // `"public"."v"`, `public.v` or `v`: the relation's own name.
    let bare = name.rsplit('.').next().unwrap_or(&name);
    let bare = match bare.strip_prefix('"').and_then(|b| b.strip_suffix('"')) {
        Some(quoted) => quoted.replace("\"\"", "\""),
        None => bare.to_lowercase(),
    };
    let desc = RelationDesc::new(vec![("oid".into(), ColumnType { scalar: ScalarType::Int64, nullable: false })]);
    Some(match catalog.resolve(&bare) {
        Some(item) => Ok(StatementPlan::Show { desc, rows: vec![vec![Datum::Int(oid_of(item.id))]] }),
        None => Err(SqlError::new(crate::codes::UNDEFINED_TABLE, format!("relation \"{}\" does not exist", name))),
    })
}

/// `\gdesc`: psql describes the query, then asks the server to name the
/// result's types with `SELECT name AS "Column", pg_catalog.format_type(tp,
/// tpm) AS "Type" FROM (VALUES ('x', '23'::pg_catalog.oid, -1), ...)`.
fn gdesc(q: &Query) -> Option<Result<StatementPlan, SqlError>> {
    if !(q.has("format_type(tp, tpm) as \"type\"") && q.has("from (values (")) {
        return None;
    }
    let tuple = regex::Regex::new(r"\((E?)'((?:[^']|'')*)', '(\d+)'::pg_catalog\.oid, (-?\d+)\)").expect("valid regex");
    let values = &q.text[q.find("from (values (")? + "from (values ".len()..];
    let rows = tuple
        .captures_iter(values)
        .map(|c| {
            let name = string_literal(&format!("{}'", &c[2]), !c[1].is_empty()).unwrap_or_default();
            let ty = format_type_oid(c[3].parse().unwrap_or(0), c[4].parse().unwrap_or(-1));
            vec![Datum::Text(name.into()), Datum::Text(ty.into())]
        })
        .collect();
    let desc = RelationDesc::new(["Column", "Type"].iter().map(|n| (n.to_string(), ColumnType { scalar: ScalarType::Text, nullable: true })).collect());
    Some(Ok(StatementPlan::Show { desc, rows }))
}

/// `format_type(oid, typmod)` for the type OIDs eddy sends (and a few
/// more); `???` for others, as PostgreSQL says for an unknown OID.
pub fn format_type_oid(oid: u32, typmod: i32) -> String {
    let numeric = |tm: i32| match tm {
        tm if tm >= 4 => ScalarType::Numeric { precision: Some(((tm - 4) >> 16) as u8), scale: Some(((tm - 4) & 0xffff) as u8) },
        _ => ScalarType::Numeric { precision: None, scale: None },
    };
    let ty = match oid {
        16 => ScalarType::Bool,
        21 => ScalarType::Int16,
        23 => ScalarType::Int32,
        20 => ScalarType::Int64,
        700 => ScalarType::Float32,
        701 => ScalarType::Float64,
        1700 => numeric(typmod),
        25 => ScalarType::Text,
        1082 => ScalarType::Date,
        1114 => ScalarType::Timestamp,
        1184 => ScalarType::TimestampTz,
        1186 => ScalarType::Interval,
        3802 => ScalarType::Jsonb,
        2950 => ScalarType::Uuid,
        other => {
            return match other {
                18 => "\"char\"",
                19 => "name",
                26 => "oid",
                114 => "json",
                1043 => "character varying",
                _ => "???",
            }
            .to_string()
        }
    };
    format_type(ty)
}

/// The OID psql sees for a catalog item.
pub fn oid_of(id: GlobalId) -> i64 {
    FIRST_OID + id as i64
}

/// The catalog item with that OID.
pub fn item_by_oid(catalog: &Catalog, oid: i64) -> Option<&CatalogItem> {
    let id = oid.checked_sub(FIRST_OID)?;
    catalog.get(GlobalId::try_from(id).ok()?)
}

/// `pg_class.relkind` of an item.
pub fn relkind(kind: &ItemKind) -> &'static str {
    match kind {
        ItemKind::Table => "r",
        ItemKind::View => "v",
        ItemKind::MaterializedView => "m",
        ItemKind::Index { .. } => "i",
        // Sources (and sinks) show as foreign tables: their data lives in Kafka.
        ItemKind::Source { .. } | ItemKind::SourceErrors { .. } | ItemKind::Sink { .. } => "f",
        ItemKind::System => "r",
    }
}

/// A type's name as PostgreSQL's `format_type(oid, typmod)` spells it.
pub fn format_type(ty: ScalarType) -> String {
    match ty {
        ScalarType::Bool => "boolean".into(),
        ScalarType::Int16 => "smallint".into(),
        ScalarType::Int32 => "integer".into(),
        ScalarType::Int64 => "bigint".into(),
        ScalarType::Float32 => "real".into(),
        ScalarType::Float64 => "double precision".into(),
        ScalarType::Numeric { precision: Some(p), scale } => format!("numeric({},{})", p, scale.unwrap_or(0)),
        ScalarType::Numeric { precision: None, .. } => "numeric".into(),
        ScalarType::Text => "text".into(),
        ScalarType::Date => "date".into(),
        ScalarType::Timestamp => "timestamp without time zone".into(),
        ScalarType::TimestampTz => "timestamp with time zone".into(),
        ScalarType::Interval => "interval".into(),
        ScalarType::Jsonb => "jsonb".into(),
        ScalarType::Uuid => "uuid".into(),
        ScalarType::Array(e) => format!("{}[]", format_type(e.scalar())),
    }
}

/// `pg_attribute.attstorage`: how PostgreSQL would store the type.
pub fn storage(ty: ScalarType) -> &'static str {
    match ty {
        ScalarType::Text | ScalarType::Jsonb => "x",
        ScalarType::Numeric { .. } => "m",
        _ => "p",
    }
}

/// The query of a view's `CREATE [MATERIALIZED] VIEW ... AS query`
/// statement, in the form `pg_get_viewdef` gives (leading space, trailing
/// semicolon); `None` if the statement text has no top-level `AS`.
pub fn view_definition(create_sql: &str) -> Option<String> {
    let bytes = create_sql.as_bytes();
    let (mut depth, mut quote) = (0i32, None::<u8>);
    for (i, &b) in bytes.iter().enumerate() {
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None => match b {
                b'\'' | b'"' => quote = Some(b),
                b'(' => depth += 1,
                b')' => depth -= 1,
                b'a' | b'A' if depth == 0 => {
                    let word_start = i == 0 || !is_word(bytes[i - 1]);
                    let is_as = bytes.get(i + 1).is_some_and(|c| c.eq_ignore_ascii_case(&b's'));
                    let word_end = bytes.get(i + 2).is_none_or(|&c| !is_word(c));
                    if word_start && is_as && word_end {
                        let query = create_sql[i + 2..].trim().trim_end_matches(';').trim_end();
                        return Some(format!(" {};", query));
                    }
                }
                _ => {}
            },
        }
    }
    None
}

/// An identifier as PostgreSQL prints it: bare when it is lower case
/// letters, digits and underscores, double-quoted otherwise.
pub fn quote_ident(name: &str) -> String {
    let bare = name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_') && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if bare {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$'
}

/// A query's text, with runs of whitespace outside string literals made one
/// space, and a lower-cased copy (same byte offsets) to search in.
pub(crate) struct Query {
    text: String,
    lower: String,
}

impl Query {
    fn new(sql: &str) -> Self {
        let mut text = String::with_capacity(sql.len());
        let mut in_string = false;
        for c in sql.trim().trim_end_matches(';').chars() {
            if c == '\'' {
                in_string = !in_string;
            }
            if !in_string && c.is_whitespace() {
                if !text.ends_with(' ') {
                    text.push(' ');
                }
            } else {
                text.push(c);
            }
        }
        let lower = text.to_ascii_lowercase();
        Query { text, lower }
    }

    /// Where `fragment` (any case) first occurs.
    fn find(&self, fragment: &str) -> Option<usize> {
        self.lower.find(&fragment.to_ascii_lowercase())
    }

    fn has(&self, fragment: &str) -> bool {
        self.find(fragment).is_some()
    }

    /// The number right after `fragment`, as in `c.oid = '16384'` with the
    /// fragment `c.oid = `; quotes around it are skipped.
    fn number_after(&self, fragment: &str) -> Option<i64> {
        let start = self.find(fragment)? + fragment.len();
        let rest = self.text[start..].trim_start_matches([' ', '\'']);
        let end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        rest[..end].parse().ok()
    }

    /// The regular expression psql compares `column` with
    /// (`column OPERATOR(pg_catalog.~) '^(pattern)$'`), if the query has one.
    fn pattern(&self, column: &str) -> Option<Result<regex::Regex, SqlError>> {
        let fragment = format!("{} operator(pg_catalog.~) ", column);
        let start = self.find(&fragment)? + fragment.len();
        let rest = &self.text[start..];
        let (escaped, rest) = match rest.strip_prefix(['E', 'e']) {
            Some(r) => (true, r),
            None => (false, rest),
        };
        let literal = string_literal(rest.strip_prefix('\'')?, escaped)?;
        Some(regex::Regex::new(&literal).map_err(|e| SqlError::new("2201B", format!("invalid regular expression: {}", e))))
    }

    /// Whether `value` passes the pattern on `column` (true without one).
    fn matches(&self, column: &str, value: &str) -> Result<bool, SqlError> {
        match self.pattern(column) {
            None => Ok(true),
            Some(re) => Ok(re?.is_match(value)),
        }
    }
}

/// The contents of a string literal whose opening quote precedes `s`.
fn string_literal(s: &str, backslash_escapes: bool) -> Option<String> {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' if chars.peek() == Some(&'\'') => {
                chars.next();
                out.push('\'');
            }
            '\'' => return Some(out),
            '\\' if backslash_escapes => out.push(chars.next()?),
            c => out.push(c),
        }
    }
    None
}

/// One output column psql may ask for: the fragment of the query that
/// selects it, its name and type, and its value in a row `R`.
pub(crate) struct Field<R> {
    fragment: &'static str,
    name: &'static str,
    ty: ScalarType,
    value: fn(&R) -> Datum,
}

pub(crate) fn field<R>(fragment: &'static str, name: &'static str, ty: ScalarType, value: fn(&R) -> Datum) -> Field<R> {
    Field { fragment, name, ty, value }
}

/// The answer with the columns of `fields` whose fragments occur in the
/// query, in the order they occur, one row per element of `rows`.
pub(crate) fn project<R>(q: &Query, fields: &[Field<R>], rows: &[R]) -> StatementPlan {
    let mut present: Vec<(usize, &Field<R>)> = fields.iter().filter_map(|f| Some((q.find(f.fragment)?, f))).collect();
    present.sort_by_key(|(pos, _)| *pos);
    let desc = RelationDesc::new(present.iter().map(|(_, f)| (f.name.to_string(), ColumnType { scalar: f.ty, nullable: true })).collect());
    let rows = rows.iter().map(|r| present.iter().map(|(_, f)| (f.value)(r)).collect()).collect();
    StatementPlan::Show { desc, rows }
}

/// An answer with fixed columns (name, type) and no rows.
pub(crate) fn empty(columns: &[(&str, ScalarType)]) -> StatementPlan {
    let desc = RelationDesc::new(columns.iter().map(|(n, t)| (n.to_string(), ColumnType { scalar: *t, nullable: true })).collect());
    StatementPlan::Show { desc, rows: vec![] }
}

pub(crate) fn text(s: &str) -> Datum {
    Datum::Text(s.to_string().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_and_numbers() {
        let q = Query::new("SELECT c.oid\nFROM   pg_catalog.pg_class c\nWHERE c.relname OPERATOR(pg_catalog.~) '^(o.*  x''y)$' COLLATE pg_catalog.default AND c.oid = '16390';");
        assert!(q.has("from pg_catalog.pg_class c where"));
        assert_eq!(q.number_after("c.oid = "), Some(16390));
        assert_eq!(q.pattern("c.relname").unwrap().unwrap().as_str(), "^(o.*  x'y)$");
        assert!(q.matches("c.relname", "o  x'y").unwrap());
        assert!(q.matches("n.nspname", "anything").unwrap());
        let e = Query::new(r"SELECT 1 FROM pg_catalog.pg_class c WHERE c.relname OPERATOR(pg_catalog.~) E'^(a\\.b)$'");
        assert!(e.matches("c.relname", "a.b").unwrap() && !e.matches("c.relname", "axb").unwrap());
    }

    #[test]
    fn gdesc_names_types() {
        let sql = "SELECT name AS \"Column\", pg_catalog.format_type(tp, tpm) AS \"Type\"\n\tFROM (VALUES ('x', '1700'::pg_catalog.oid, 655366),('it''s', '25'::pg_catalog.oid, -1)) s(name, tp, tpm)";
        let Some(Ok(StatementPlan::Show { rows, .. })) = plan_psql_query(&Catalog::default(), sql) else { panic!("not recognized") };
        assert_eq!(rows, vec![vec![text("x"), text("numeric(10,2)")], vec![text("it's"), text("text")]]);
    }

    #[test]
    fn view_definitions() {
        assert_eq!(view_definition("CREATE VIEW v (a, \"as\") AS SELECT a AS x FROM t;").as_deref(), Some(" SELECT a AS x FROM t;"));
        assert_eq!(view_definition("create materialized view alias as\n  select 1").as_deref(), Some(" select 1;"));
        assert_eq!(view_definition("CREATE TABLE t (a int)"), None);
    }

    #[test]
    fn type_names() {
        assert_eq!(format_type(ScalarType::Numeric { precision: Some(10), scale: Some(2) }), "numeric(10,2)");
        assert_eq!(format_type(ScalarType::TimestampTz), "timestamp with time zone");
        assert_eq!(format_type(ScalarType::Int32), "integer");
    }
}
