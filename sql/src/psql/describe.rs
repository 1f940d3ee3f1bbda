//! The queries `\d NAME` sends about one relation, identified by OID: its
//! `pg_class` flags, its columns (`pg_attribute` with `format_type`), its
//! indexes, an index's own details, a view's definition, and the policies,
//! statistics, publications, rules and inheritance psql also asks about.
//!
//! Columns come from the catalog's [`RelationDesc`]; nullability is what the
//! planner inferred (for views too, where PostgreSQL would always say
//! nullable). The features eddy lacks (policies, extended statistics,
//! publications, rules, inheritance, defaults, collations) are answered
//! with no rows or NULL, with the column count psql expects.
//!
//! [`RelationDesc`]: eddy_engine::repr::RelationDesc

use super::relations::item_at;
use super::{empty, field, format_type, quote_ident, relkind, storage, text, view_definition, Field, Query, INDEX_METHOD, SCHEMA};
use crate::catalog::{Catalog, CatalogItem, ItemKind};
use crate::statement::StatementPlan;
use crate::SqlError;
use eddy_engine::repr::ColumnType;
use eddy_engine::{Datum, ScalarType};

use ScalarType::{Bool, Int16, Int32, Int64, Text};

pub(super) fn plan(catalog: &Catalog, q: &Query) -> Option<Result<StatementPlan, SqlError>> {
    let plan = if q.has("c.relchecks, c.relkind, c.relhasindex") {
        class_flags(catalog, q)
    } else if q.has("from pg_catalog.pg_attribute a") && q.has("a.attrelid = ") && q.has("format_type(a.atttypid, a.atttypmod)") {
        attributes(catalog, q)
    } else if q.has("from pg_catalog.pg_class c, pg_catalog.pg_class c2, pg_catalog.pg_index i") {
        indexes_of(catalog, q)
    } else if q.has("from pg_catalog.pg_index i, pg_catalog.pg_class c, pg_catalog.pg_class c2, pg_catalog.pg_am a") {
        index_details(catalog, q)
    } else if q.has("nspname, relname, relkind, pg_catalog.pg_get_viewdef(c.oid, true)") {
        // `\sv NAME`: psql writes the CREATE statement from these columns.
        let item = item_at(catalog, q, "c.oid = ");
        let cols = [("nspname", Text), ("relname", Text), ("relkind", Text), ("pg_get_viewdef", Text), ("reloptions", Text), ("checkoption", Text)];
        let desc = eddy_engine::repr::RelationDesc::new(cols.iter().map(|(n, t)| (n.to_string(), ColumnType { scalar: *t, nullable: true })).collect());
        let rows = item
            .map(|i| vec![text(SCHEMA), text(&i.name), text(relkind(&i.kind)), view_definition(&i.create_sql).map_or(Datum::Null, Datum::text), Datum::Null, Datum::Null])
            .into_iter()
            .collect();
        StatementPlan::Show { desc, rows }
    } else if q.has("pg_get_viewdef(") {
        let def = item_at(catalog, q, "pg_get_viewdef(").and_then(|i| view_definition(&i.create_sql));
        let desc = eddy_engine::repr::RelationDesc::new(vec![("pg_get_viewdef".into(), ColumnType { scalar: Text, nullable: true })]);
        StatementPlan::Show { desc, rows: vec![vec![def.map_or(Datum::Null, Datum::text)]] }
    } else if q.has("from pg_catalog.pg_foreign_table f") {
        foreign_table(catalog, q)
    } else if q.has("from pg_catalog.pg_policy pol") {
        empty(&[("polname", Text), ("polpermissive", Bool), ("array_to_string", Text), ("pg_get_expr", Text), ("pg_get_expr", Text), ("cmd", Text)])
    } else if q.has("from pg_catalog.pg_statistic_ext") {
        let cols = [("oid", Int64), ("stxrelid", Text), ("nsp", Text), ("stxname", Text), ("columns", Text), ("ndist_enabled", Bool), ("deps_enabled", Bool), ("mcv_enabled", Bool), ("stxstattarget", Int32)];
        empty(&cols)
    } else if q.has("from pg_catalog.pg_publication p") {
        empty(&[("pubname", Text), ("?column?", Text), ("?column?", Text)])
    } else if q.has("pg_catalog.pg_inherits i") && q.has("c.oid = i.inhparent") {
        empty(&[("oid", Text)])
    } else if q.has("pg_catalog.pg_inherits i") && q.has("c.oid = i.inhrelid") {
        empty(&[("oid", Text), ("relkind", Text), ("inhdetachpending", Bool), ("pg_get_expr", Text)])
    } else if q.has("from pg_catalog.pg_rewrite r") {
        empty(&[("rulename", Text), ("btrim", Text)])
    } else if q.has("from pg_catalog.pg_trigger t") {
        empty(&[("tgname", Text), ("pg_get_triggerdef", Text), ("tgenabled", Text), ("tgisinternal", Bool)])
    } else {
        return None;
    };
    Some(Ok(plan))
}

/// A source (or its error relation, or a sink) shows as a foreign table of
/// server `kafka`, with its topic and format as the options:
/// `Server: kafka`, `FDW options: (topic 'orders', format 'json')`.
fn foreign_table(catalog: &Catalog, q: &Query) -> StatementPlan {
    let item = item_at(catalog, q, "f.ftrelid = '");
    let owner = match item.map(|i| &i.kind) {
        Some(ItemKind::SourceErrors { of }) => catalog.get(*of),
        _ => item,
    };
    let options = owner.and_then(|i| crate::connector::parse_connector(&i.create_sql).ok()).map(|c| match c {
        crate::connector::ConnectorStatement::Source(s) => format!("topic '{}', format '{}', envelope '{}'", s.topic, format!("{:?}", s.format).split('(').next().unwrap_or("").to_lowercase(), format!("{:?}", s.envelope).to_lowercase()),
        crate::connector::ConnectorStatement::Sink(s) => format!("topic '{}', envelope '{}'", s.topic, format!("{:?}", s.envelope).to_lowercase()),
    });
    let desc = eddy_engine::repr::RelationDesc::new(vec![("srvname".into(), ColumnType { scalar: Text, nullable: true }), ("array_to_string".into(), ColumnType { scalar: Text, nullable: true })]);
    let rows = options.map(|o| vec![vec![Datum::text("kafka"), Datum::text(&o)]]).unwrap_or_default();
    StatementPlan::Show { desc, rows }
}

/// An item with the catalog it is in.
type Rel<'a> = (&'a Catalog, &'a CatalogItem);

fn has_index(catalog: &Catalog, item: &CatalogItem) -> bool {
    catalog.items().any(|i| matches!(i.kind, ItemKind::Index { on, .. } if on == item.id))
}

/// `SELECT c.relchecks, c.relkind, c.relhasindex, ...`: the flags psql uses
/// to decide what else to ask and which header to print.
fn class_flags(catalog: &Catalog, q: &Query) -> StatementPlan {
    let rows: Vec<Rel> = item_at(catalog, q, "c.oid = ").map(|i| (catalog, i)).into_iter().collect();
    let fields: Vec<Field<Rel>> = vec![
        field("c.relchecks", "relchecks", Int16, |_| Datum::Int(0)),
        field("c.relkind,", "relkind", Text, |(_, i)| text(relkind(&i.kind))),
        field("c.relhasindex", "relhasindex", Bool, |(c, i)| Datum::Bool(has_index(c, i))),
        field("c.relhasrules", "relhasrules", Bool, |(_, i)| Datum::Bool(i.kind == ItemKind::View)),
        field("c.relhastriggers", "relhastriggers", Bool, |_| Datum::Bool(false)),
        field("c.relrowsecurity", "relrowsecurity", Bool, |_| Datum::Bool(false)),
        field("c.relforcerowsecurity", "relforcerowsecurity", Bool, |_| Datum::Bool(false)),
        field("as relhasoids", "relhasoids", Bool, |_| Datum::Bool(false)),
        field("c.relispartition", "relispartition", Bool, |_| Datum::Bool(false)),
        field("'', c.reltablespace", "?column?", Text, |_| text("")),
        field("array_to_string(c.reloptions", "array_to_string", Text, |_| text("")),
        field("c.reltablespace", "reltablespace", Int64, |_| Datum::Int(0)),
        field("c.reloftype = 0", "reloftype", Text, |_| text("")),
        field("c.relpersistence", "relpersistence", Text, |_| text("p")),
        field("c.relreplident", "relreplident", Text, |_| text("d")),
        field("am.amname", "amname", Text, |(_, i)| access_method(&i.kind)),
    ];
    super::project(q, &fields, &rows)
}

fn access_method(kind: &ItemKind) -> Datum {
    match kind {
        ItemKind::Table | ItemKind::MaterializedView | ItemKind::System => text("heap"),
        ItemKind::Index { .. } => text(INDEX_METHOD),
        ItemKind::View | ItemKind::Source { .. } | ItemKind::SourceErrors { .. } | ItemKind::Sink { .. } => Datum::Null,
    }
}

/// One column of a relation or index.
struct Attr {
    name: String,
    ty: ColumnType,
    /// A table column's DEFAULT, as written.
    default: Option<String>,
}

/// The columns of the relation (or of the index) the query names.
fn columns(catalog: &Catalog, item: &CatalogItem) -> Vec<Attr> {
    let attr = |(n, t): (&String, &ColumnType)| Attr { name: n.clone(), ty: t.clone(), default: None };
    match &item.kind {
        ItemKind::Index { on, columns } => {
            let Some(table) = catalog.get(*on) else { return vec![] };
            let all: Vec<_> = table.desc.iter().collect();
            columns.iter().filter_map(|&c| all.get(c).map(|&col| attr(col))).collect()
        }
        ItemKind::Table => {
            let defaults = crate::statement::column_defaults(&item.create_sql);
            item.desc.iter().map(|c| Attr { default: defaults.get(c.0).map(ToString::to_string), ..attr(c) }).collect()
        }
        _ => item.desc.iter().map(attr).collect(),
    }
}

/// `SELECT a.attname, pg_catalog.format_type(...) ... FROM
/// pg_catalog.pg_attribute a WHERE a.attrelid = '...'`, in both the
/// relation form (default, not null, collation, identity, generated,
/// storage, ...) and the index form (key?, definition).
fn attributes(catalog: &Catalog, q: &Query) -> StatementPlan {
    let rows = item_at(catalog, q, "a.attrelid = ").map(|i| columns(catalog, i)).unwrap_or_default();
    let fields: Vec<Field<Attr>> = vec![
        field("a.attname,", "attname", Text, |a| text(&a.name)),
        field("format_type(a.atttypid, a.atttypmod)", "format_type", Text, |a| Datum::Text(format_type(a.ty.scalar).into())),
        field("pg_get_expr(d.adbin", "pg_get_expr", Text, |a| a.default.as_deref().map(text).unwrap_or(Datum::Null)),
        field("a.attnotnull", "attnotnull", Bool, |a| Datum::Bool(!a.ty.nullable)),
        field("as attcollation", "attcollation", Text, |_| Datum::Null),
        field("a.attidentity", "attidentity", Text, |_| text("")),
        field("a.attgenerated", "attgenerated", Text, |_| text("")),
        field("as is_key", "is_key", Text, |_| text("yes")),
        field("as indexdef", "indexdef", Text, |a| text(&a.name)),
        field("attfdwoptions", "attfdwoptions", Text, |_| Datum::Null),
        field("a.attstorage", "attstorage", Text, |a| text(storage(a.ty.scalar))),
        field("a.attcompression", "attcompression", Text, |_| text("")),
        field("attstattarget", "attstattarget", Int32, |_| Datum::Null),
        field("col_description(a.attrelid", "col_description", Text, |_| Datum::Null),
    ];
    super::project(q, &fields, &rows)
}

/// An index with its catalog and the relation it is on.
type Idx<'a> = (&'a CatalogItem, &'a CatalogItem);

fn index_def((index, table): &Idx) -> String {
    let names: Vec<&String> = table.desc.iter().map(|(n, _)| n).collect();
    let cols: Vec<String> = match &index.kind {
        ItemKind::Index { columns, .. } => columns.iter().filter_map(|&c| names.get(c).map(|n| quote_ident(n))).collect(),
        _ => vec![],
    };
    format!("CREATE INDEX {} ON {}.{} USING {} ({})", index.name, SCHEMA, table.name, INDEX_METHOD, cols.join(", "))
}

/// The indexes on a table or materialized view (`\d` footer "Indexes:").
fn indexes_of(catalog: &Catalog, q: &Query) -> StatementPlan {
    let mut rows: Vec<Idx> = match item_at(catalog, q, "c.oid = ") {
        Some(table) => catalog.items().filter(|i| matches!(i.kind, ItemKind::Index { on, .. } if on == table.id)).map(|i| (i, table)).collect(),
        None => vec![],
    };
    rows.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    let f = |_: &Idx| Datum::Bool(false);
    let fields: Vec<Field<Idx>> = vec![
        field("select c2.relname", "relname", Text, |(i, _)| text(&i.name)),
        field("i.indisprimary", "indisprimary", Bool, f),
        field("i.indisunique", "indisunique", Bool, f),
        field("i.indisclustered", "indisclustered", Bool, f),
        field("i.indisvalid", "indisvalid", Bool, |_| Datum::Bool(true)),
        field("pg_get_indexdef(i.indexrelid", "pg_get_indexdef", Text, |r| Datum::Text(index_def(r).into())),
        field("pg_get_constraintdef(con.oid", "pg_get_constraintdef", Text, |_| Datum::Null),
        field(" contype,", "contype", Text, |_| Datum::Null),
        field(" condeferrable,", "condeferrable", Bool, f),
        field(" condeferred,", "condeferred", Bool, f),
        field("i.indisreplident", "indisreplident", Bool, f),
        field("c2.reltablespace", "reltablespace", Int64, |_| Datum::Int(0)),
    ];
    super::project(q, &fields, &rows)
}

/// An index's own details (`\d INDEX`): its method and table.
fn index_details(catalog: &Catalog, q: &Query) -> StatementPlan {
    let rows: Vec<Idx> = item_at(catalog, q, "c.oid = ")
        .and_then(|i| match i.kind {
            ItemKind::Index { on, .. } => Some((i, catalog.get(on)?)),
            _ => None,
        })
        .into_iter()
        .collect();
    let f = |_: &Idx| Datum::Bool(false);
    let fields: Vec<Field<Idx>> = vec![
        field("i.indisunique", "indisunique", Bool, f),
        field("i.indisprimary", "indisprimary", Bool, f),
        field("i.indisclustered", "indisclustered", Bool, f),
        field("i.indisvalid", "indisvalid", Bool, |_| Datum::Bool(true)),
        field("as condeferrable", "condeferrable", Bool, f),
        field("as condeferred", "condeferred", Bool, f),
        field("i.indisreplident", "indisreplident", Bool, f),
        field("i.indnullsnotdistinct", "indnullsnotdistinct", Bool, f),
        field("a.amname", "amname", Text, |_| text(INDEX_METHOD)),
        field("c2.relname", "relname", Text, |(_, t)| text(&t.name)),
        field("pg_get_expr(i.indpred", "pg_get_expr", Text, |_| Datum::Null),
    ];
    super::project(q, &fields, &rows)
}
