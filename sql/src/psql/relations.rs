//! The listing queries: `\d` and `\dt`/`\dv`/`\dm`/`\di` (with `+`, `S` and
//! a name pattern), the name lookup at the start of `\d NAME`, `\l` and
//! `\dn`, `\du`, and the empty answers to `\df`, `\dT` and `\dx`.
//!
//! Only catalog items are listed; psql's system relations (`\dS`) and other
//! relkinds (sequences, foreign tables) do not exist in eddy.

use super::{field, item_by_oid, oid_of, project, relkind, text, Field, Query, DATABASE, INDEX_METHOD, OWNER, SCHEMA};
use crate::catalog::{Catalog, CatalogItem, ItemKind};
use crate::statement::StatementPlan;
use crate::SqlError;
use eddy_engine::{Datum, ScalarType};

/// A relation row: the item and the catalog it is in (to name an index's
/// table).
type Rel<'a> = (&'a Catalog, &'a CatalogItem);

pub(super) fn plan(catalog: &Catalog, q: &Query) -> Option<Result<StatementPlan, SqlError>> {
    let from_class = q.has("from pg_catalog.pg_class c ");
    if from_class && q.has("as \"name\"") && q.has("c.relkind in (") {
        Some(list_relations(catalog, q))
    } else if from_class && q.has("select c.oid, n.nspname, c.relname from") {
        Some(lookup_relations(catalog, q))
    } else if q.has("from pg_catalog.pg_database d") && q.has("as \"name\"") {
        Some(list_databases(q))
    } else if q.has("from pg_catalog.pg_namespace n") && q.has("as \"name\"") && !from_class {
        Some(list_schemas(q))
    } else if q.has("from pg_catalog.pg_roles r") && q.has("r.rolsuper") {
        Some(list_roles(q))
    } else if ["from pg_catalog.pg_proc p", "from pg_catalog.pg_type t", "from pg_catalog.pg_extension e"].iter().any(|f| q.has(f)) && q.has("as \"name\"") {
        // \df, \dT, \dx: eddy has no user-defined functions, types or
        // extensions.
        Some(Ok(empty_listing(q)))
    } else if q.has("select e.extname, e.oid from pg_catalog.pg_extension e") {
        Some(Ok(super::empty(&[("extname", ScalarType::Text), ("oid", ScalarType::Int64)])))
    } else {
        None
    }
}

/// The relkinds psql asks for: `c.relkind IN ('r','p','')`.
fn wanted_relkinds(q: &Query) -> Vec<String> {
    let start = q.find("c.relkind in (").map(|p| p + "c.relkind in (".len()).unwrap_or(0);
    let list = &q.text[start..];
    let list = &list[..list.find(')').unwrap_or(list.len())];
    list.split(',').map(|k| k.trim().trim_matches('\'').to_string()).filter(|k| !k.is_empty()).collect()
}

/// Catalog items whose relkind is wanted and that pass the query's name and
/// schema patterns, by name.
fn matching<'a>(catalog: &'a Catalog, q: &Query, kinds: Option<&[String]>) -> Result<Vec<Rel<'a>>, SqlError> {
    if !q.matches("n.nspname", SCHEMA)? {
        return Ok(vec![]);
    }
    let mut out = Vec::new();
    // eddy's own relations live in eddy_catalog, not in the user's schema.
    for item in catalog.items().filter(|i| i.kind != ItemKind::System) {
        if kinds.is_some_and(|k| !k.iter().any(|k| k == relkind(&item.kind))) {
            continue;
        }
        if q.matches("c.relname", &item.name)? {
            out.push((catalog, item));
        }
    }
    out.sort_by(|a, b| a.1.name.cmp(&b.1.name));
    Ok(out)
}

fn index_table<'a>(catalog: &'a Catalog, item: &CatalogItem) -> Option<&'a CatalogItem> {
    match item.kind {
        ItemKind::Index { on, .. } => catalog.get(on),
        _ => None,
    }
}

/// `\d`, `\dt`, `\dv`, `\dm`, `\di` and their `+` forms: one row per
/// relation with the columns the query names by alias.
fn list_relations(catalog: &Catalog, q: &Query) -> Result<StatementPlan, SqlError> {
    let kinds = wanted_relkinds(q);
    let rows = matching(catalog, q, Some(&kinds))?;
    let fields: Vec<Field<Rel>> = vec![
        field("as \"schema\"", "Schema", ScalarType::Text, |_| text(SCHEMA)),
        field("as \"name\"", "Name", ScalarType::Text, |(_, i)| text(&i.name)),
        field("as \"type\"", "Type", ScalarType::Text, |(_, i)| text(i.kind.name())),
        field("as \"owner\"", "Owner", ScalarType::Text, |_| text(OWNER)),
        field("as \"table\"", "Table", ScalarType::Text, |(c, i)| index_table(c, i).map_or(Datum::Null, |t| text(&t.name))),
        field("as \"persistence\"", "Persistence", ScalarType::Text, |_| text("permanent")),
        field("as \"access method\"", "Access method", ScalarType::Text, |(_, i)| match i.kind {
            ItemKind::Table | ItemKind::MaterializedView | ItemKind::System => text("heap"),
            ItemKind::Index { .. } => text(INDEX_METHOD),
            ItemKind::View | ItemKind::Source { .. } | ItemKind::SourceErrors { .. } | ItemKind::Sink { .. } => Datum::Null,
        }),
        field("as \"size\"", "Size", ScalarType::Text, |_| Datum::Null),
        field("as \"description\"", "Description", ScalarType::Text, |_| Datum::Null),
    ];
    Ok(project(q, &fields, &rows))
}

/// The first query of `\d NAME`: OID, schema and name of every relation
/// matching the pattern.
fn lookup_relations(catalog: &Catalog, q: &Query) -> Result<StatementPlan, SqlError> {
    let rows = matching(catalog, q, None)?;
    let fields: Vec<Field<Rel>> = vec![
        field("select c.oid", "oid", ScalarType::Int64, |(_, i)| Datum::Int(oid_of(i.id))),
        field("n.nspname,", "nspname", ScalarType::Text, |_| text(SCHEMA)),
        field("c.relname from", "relname", ScalarType::Text, |(_, i)| text(&i.name)),
    ];
    Ok(project(q, &fields, &rows))
}

/// `\l`: the one database.
fn list_databases(q: &Query) -> Result<StatementPlan, SqlError> {
    let rows: Vec<()> = if q.matches("d.datname", DATABASE)? { vec![()] } else { vec![] };
    let fields: Vec<Field<()>> = vec![
        field("as \"name\"", "Name", ScalarType::Text, |_| text(DATABASE)),
        field("as \"owner\"", "Owner", ScalarType::Text, |_| text(OWNER)),
        field("as \"encoding\"", "Encoding", ScalarType::Text, |_| text("UTF8")),
        field("as \"collate\"", "Collate", ScalarType::Text, |_| text("C")),
        field("as \"ctype\"", "Ctype", ScalarType::Text, |_| text("C")),
        field("as \"icu locale\"", "ICU Locale", ScalarType::Text, |_| Datum::Null),
        field("as \"locale provider\"", "Locale Provider", ScalarType::Text, |_| text("libc")),
        field("as \"access privileges\"", "Access privileges", ScalarType::Text, |_| Datum::Null),
        field("as \"size\"", "Size", ScalarType::Text, |_| Datum::Null),
        field("as \"tablespace\"", "Tablespace", ScalarType::Text, |_| text("pg_default")),
        field("as \"description\"", "Description", ScalarType::Text, |_| Datum::Null),
    ];
    Ok(project(q, &fields, &rows))
}

/// `\dn`: the one schema.
fn list_schemas(q: &Query) -> Result<StatementPlan, SqlError> {
    let rows: Vec<()> = if q.matches("n.nspname", SCHEMA)? { vec![()] } else { vec![] };
    let fields: Vec<Field<()>> = vec![
        field("as \"name\"", "Name", ScalarType::Text, |_| text(SCHEMA)),
        field("as \"owner\"", "Owner", ScalarType::Text, |_| text(OWNER)),
        field("as \"access privileges\"", "Access privileges", ScalarType::Text, |_| Datum::Null),
        field("as \"description\"", "Description", ScalarType::Text, |_| Datum::Null),
    ];
    Ok(project(q, &fields, &rows))
}

/// `\du`: the one role, which may do everything.
fn list_roles(q: &Query) -> Result<StatementPlan, SqlError> {
    let rows: Vec<()> = if q.matches("r.rolname", OWNER)? { vec![()] } else { vec![] };
    let yes = |_: &()| Datum::Bool(true);
    let no = |_: &()| Datum::Bool(false);
    let fields: Vec<Field<()>> = vec![
        field("r.rolname,", "rolname", ScalarType::Text, |_| text(OWNER)),
        field("r.rolsuper", "rolsuper", ScalarType::Bool, yes),
        field("r.rolinherit", "rolinherit", ScalarType::Bool, yes),
        field("r.rolcreaterole", "rolcreaterole", ScalarType::Bool, yes),
        field("r.rolcreatedb", "rolcreatedb", ScalarType::Bool, yes),
        field("r.rolcanlogin", "rolcanlogin", ScalarType::Bool, yes),
        field("r.rolconnlimit", "rolconnlimit", ScalarType::Int32, |_| Datum::Int(-1)),
        field("r.rolvaliduntil", "rolvaliduntil", ScalarType::Text, |_| Datum::Null),
        field("as memberof", "memberof", ScalarType::Text, |_| text("{}")),
        field("shobj_description(r.oid", "description", ScalarType::Text, |_| Datum::Null),
        field("r.rolreplication", "rolreplication", ScalarType::Bool, no),
        field("r.rolbypassrls", "rolbypassrls", ScalarType::Bool, no),
    ];
    Ok(project(q, &fields, &rows))
}

/// No rows, with a text column per `AS "Alias"` of the query.
fn empty_listing(q: &Query) -> StatementPlan {
    let alias = regex::Regex::new(r#"(?i)\bas "((?:[^"]|"")+)""#).expect("valid regex");
    let names: Vec<String> = alias.captures_iter(&q.text).map(|c| c[1].replace("\"\"", "\"")).collect();
    let columns: Vec<(&str, ScalarType)> = names.iter().map(|n| (n.as_str(), ScalarType::Text)).collect();
    super::empty(&columns)
}

/// The item a describe query is about (`c.oid = '16385'`-style), if any.
pub(super) fn item_at<'a>(catalog: &'a Catalog, q: &Query, fragment: &str) -> Option<&'a CatalogItem> {
    item_by_oid(catalog, q.number_after(fragment)?)
}
