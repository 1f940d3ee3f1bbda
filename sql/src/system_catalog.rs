//! The `information_schema` and `pg_catalog` relations that tools, drivers
//! and people query to list what a database holds, computed from eddy's
//! catalog.
//!
//! Each relation is a system relation like `eddy_catalog.*`: the
//! coordinator creates it once and rewrites its rows whenever the catalog
//! changes, so it can be filtered, joined and aggregated like any table.
//! This module is pure: it names the relations, their columns, and the rows
//! a catalog gives them.
//!
//! What it holds, with PostgreSQL's column names:
//! - `information_schema.schemata`, `.tables`, `.views`, `.columns`,
//!   `.table_constraints` and `.key_column_usage` (PRIMARY KEY and UNIQUE;
//!   not PostgreSQL's NOT NULL check constraints);
//! - `pg_catalog.pg_tables`, `pg_views`, `pg_matviews`, `pg_indexes` (also unqualified,
//!   as pg_catalog is on PostgreSQL's search path).
//!
//! What it does not: PostgreSQL's other catalogs (`pg_class`,
//! `pg_attribute`, ... are answered only in the shapes psql's `\d` sends:
//! see `psql/`), foreign keys and checks, privileges and routines. Columns are a
//! common subset of PostgreSQL's, not all of them.
//!
//! Choices where eddy differs from PostgreSQL: a materialized view is listed
//! in `information_schema.tables` and `.views` (PostgreSQL leaves them out;
//! in eddy they are the main objects), with `table_type` `VIEW`; a Kafka
//! source and its error relation are `FOREIGN`, as psql shows them as
//! foreign tables. Everything is in database `eddy`, owned by `eddy`.

use crate::catalog::{Catalog, CatalogItem, ItemKind};
use eddy_engine::{Datum, Row, ScalarType};

/// The database and owner names the relations report (what
/// `current_database()` and `current_user` return).
const DATABASE: &str = "eddy";
const OWNER: &str = "eddy";

use ScalarType::{Bool, Int32, Text};

/// A generated relation: its catalog name and columns.
pub struct Relation {
    pub name: &'static str,
    pub columns: &'static [(&'static str, ScalarType)],
}

pub const RELATIONS: &[Relation] = &[
    Relation { name: "information_schema.schemata", columns: &[("catalog_name", Text), ("schema_name", Text), ("schema_owner", Text)] },
    Relation { name: "information_schema.tables", columns: &[("table_catalog", Text), ("table_schema", Text), ("table_name", Text), ("table_type", Text), ("is_insertable_into", Text)] },
    Relation { name: "information_schema.views", columns: &[("table_catalog", Text), ("table_schema", Text), ("table_name", Text), ("view_definition", Text)] },
    Relation {
        name: "information_schema.columns",
        columns: &[
            ("table_catalog", Text),
            ("table_schema", Text),
            ("table_name", Text),
            ("column_name", Text),
            ("ordinal_position", Int32),
            ("column_default", Text),
            ("is_nullable", Text),
            ("data_type", Text),
            ("character_maximum_length", Int32),
            ("numeric_precision", Int32),
            ("numeric_scale", Int32),
            ("udt_name", Text),
        ],
    },
    Relation {
        name: "information_schema.table_constraints",
        columns: &[
            ("constraint_catalog", Text),
            ("constraint_schema", Text),
            ("constraint_name", Text),
            ("table_catalog", Text),
            ("table_schema", Text),
            ("table_name", Text),
            ("constraint_type", Text),
            ("is_deferrable", Text),
            ("initially_deferred", Text),
        ],
    },
    Relation {
        name: "information_schema.key_column_usage",
        columns: &[
            ("constraint_catalog", Text),
            ("constraint_schema", Text),
            ("constraint_name", Text),
            ("table_catalog", Text),
            ("table_schema", Text),
            ("table_name", Text),
            ("column_name", Text),
            ("ordinal_position", Int32),
            ("position_in_unique_constraint", Int32),
        ],
    },
    Relation { name: "pg_tables", columns: &[("schemaname", Text), ("tablename", Text), ("tableowner", Text), ("hasindexes", Bool)] },
    Relation { name: "pg_views", columns: &[("schemaname", Text), ("viewname", Text), ("viewowner", Text), ("definition", Text)] },
    Relation { name: "pg_matviews", columns: &[("schemaname", Text), ("matviewname", Text), ("matviewowner", Text), ("hasindexes", Bool), ("ispopulated", Bool), ("definition", Text)] },
    Relation { name: "pg_indexes", columns: &[("schemaname", Text), ("tablename", Text), ("indexname", Text), ("tablespace", Text), ("indexdef", Text)] },
];

/// The schemas eddy has.
const SCHEMAS: &[&str] = &["public", "eddy_catalog", "information_schema", "pg_catalog"];

/// The rows of relation `name` (one of [`RELATIONS`]) for `catalog`.
pub fn rows(catalog: &Catalog, name: &str) -> Vec<Row> {
    let relations = || catalog.items().filter_map(|i| table_type(&i.kind).map(|t| (i, t)));
    let indexed = |item: &CatalogItem| catalog.items().any(|i| matches!(i.kind, ItemKind::Index { on, .. } if on == item.id));
    match name {
        "information_schema.schemata" => SCHEMAS.iter().map(|s| vec![text(DATABASE), text(s), text(OWNER)]).collect(),
        "information_schema.tables" => relations()
            .map(|(i, t)| {
                let (schema, table) = split(i);
                vec![text(DATABASE), text(schema), text(table), text(t), text(if i.kind == ItemKind::Table { "YES" } else { "NO" })]
            })
            .collect(),
        "information_schema.views" => views(catalog)
            .map(|i| {
                let (schema, table) = split(i);
                vec![text(DATABASE), text(schema), text(table), definition(i)]
            })
            .collect(),
        "information_schema.columns" => relations().flat_map(|(i, _)| columns(i)).collect(),
        "information_schema.table_constraints" => keyed(catalog)
            .map(|(i, k)| {
                let (schema, table) = split(i);
                let kind = if k.primary { "PRIMARY KEY" } else { "UNIQUE" };
                vec![text(DATABASE), text(schema), text(&k.name), text(DATABASE), text(schema), text(table), text(kind), text("NO"), text("NO")]
            })
            .collect(),
        "information_schema.key_column_usage" => keyed(catalog)
            .flat_map(|(i, k)| {
                let (schema, table) = split(i);
                k.columns.iter().enumerate().map(move |(n, c)| vec![text(DATABASE), text(schema), text(&k.name), text(DATABASE), text(schema), text(table), text(&i.desc.names[*c]), Datum::Int(n as i64 + 1), Datum::Null]).collect::<Vec<_>>()
            })
            .collect(),
        "pg_tables" => relations().filter(|(_, t)| *t == "BASE TABLE").map(|(i, _)| vec![text(split(i).0), text(split(i).1), text(OWNER), Datum::Bool(indexed(i))]).collect(),
        "pg_views" => catalog.items().filter(|i| i.kind == ItemKind::View).map(|i| vec![text(split(i).0), text(split(i).1), text(OWNER), definition(i)]).collect(),
        "pg_matviews" => catalog.items().filter(|i| i.kind == ItemKind::MaterializedView).map(|i| vec![text(split(i).0), text(split(i).1), text(OWNER), Datum::Bool(indexed(i)), Datum::Bool(true), definition(i)]).collect(),
        "pg_indexes" => indexes(catalog),
        _ => vec![],
    }
}

/// `pg_indexes`: each table's PRIMARY KEY and UNIQUE constraints (their
/// indexes, as PostgreSQL names them after the constraint), then each
/// CREATE INDEX, with a definition in PostgreSQL's form.
fn indexes(catalog: &Catalog) -> Vec<Row> {
    let row = |on: &CatalogItem, name: &str, unique: bool, columns: &[usize]| {
        let (schema, table) = split(on);
        let cols: Vec<String> = columns.iter().map(|c| crate::psql::quote_ident(&on.desc.names[*c])).collect();
        let def = format!("CREATE {}INDEX {} ON {}.{} USING btree ({})", if unique { "UNIQUE " } else { "" }, crate::psql::quote_ident(name), schema, crate::psql::quote_ident(table), cols.join(", "));
        vec![text(schema), text(table), text(name), Datum::Null, text(&def)]
    };
    let keys = keyed(catalog).map(|(t, k)| row(t, &k.name, true, &k.columns));
    let created = catalog.items().filter_map(|i| match &i.kind {
        ItemKind::Index { on, columns } => Some(row(catalog.get(*on)?, &i.name, false, columns)),
        _ => None,
    });
    keys.chain(created).collect()
}

/// `information_schema.tables.table_type` of a kind of item; `None` for
/// items that are not relations (indexes, sinks).
fn table_type(kind: &ItemKind) -> Option<&'static str> {
    match kind {
        ItemKind::Table | ItemKind::System => Some("BASE TABLE"),
        ItemKind::View | ItemKind::MaterializedView => Some("VIEW"),
        ItemKind::Source { .. } | ItemKind::SourceErrors { .. } => Some("FOREIGN"),
        ItemKind::Index { .. } | ItemKind::Sink { .. } => None,
    }
}

/// Each table's PRIMARY KEY and UNIQUE constraints.
fn keyed(catalog: &Catalog) -> impl Iterator<Item = (&CatalogItem, crate::constraints::UniqueKey)> {
    catalog.items().filter(|i| i.kind == ItemKind::Table).flat_map(|i| crate::constraints::unique_keys(&i.name, &i.create_sql, &i.desc).into_iter().map(move |k| (i, k)))
}

fn views(catalog: &Catalog) -> impl Iterator<Item = &CatalogItem> {
    catalog.items().filter(|i| matches!(i.kind, ItemKind::View | ItemKind::MaterializedView))
}

/// An item's schema and its name within it.
fn split(item: &CatalogItem) -> (&str, &str) {
    match item.name.split_once('.') {
        Some((schema, name)) if SCHEMAS.contains(&schema) => (schema, name),
        _ if RELATIONS.iter().any(|r| r.name == item.name) => ("pg_catalog", &item.name),
        _ => ("public", &item.name),
    }
}

fn definition(item: &CatalogItem) -> Datum {
    crate::psql::view_definition(&item.create_sql).map(Datum::text).unwrap_or(Datum::Null)
}

fn text(s: &str) -> Datum {
    Datum::text(s)
}

/// One `information_schema.columns` row per column of `item`.
fn columns(item: &CatalogItem) -> Vec<Row> {
    let (schema, table) = split(item);
    let limits = if item.kind == ItemKind::Table { crate::types::char_limits(&item.create_sql) } else { vec![] };
    let defaults = if item.kind == ItemKind::Table { crate::statement::column_defaults(&item.create_sql) } else { Default::default() };
    // PostgreSQL says a view's columns are nullable whatever they hold.
    let view = matches!(item.kind, ItemKind::View | ItemKind::MaterializedView);
    item.desc
        .iter()
        .enumerate()
        .map(|(i, (name, ty))| {
            let limit = limits.get(i).copied().flatten();
            let (data_type, udt) = match (ty.scalar, limit) {
                (Text, Some(_)) => ("character varying".to_string(), "varchar".to_string()),
                (ScalarType::Numeric { .. }, _) => ("numeric".to_string(), "numeric".to_string()),
                (t @ ScalarType::Array(_), _) => ("ARRAY".to_string(), udt_name(t)),
                (t, _) => (crate::psql::format_type(t), udt_name(t)),
            };
            let (precision, scale) = match ty.scalar {
                ScalarType::Int16 => (Some(16), Some(0)),
                ScalarType::Int32 => (Some(32), Some(0)),
                ScalarType::Int64 => (Some(64), Some(0)),
                ScalarType::Float32 => (Some(24), None),
                ScalarType::Float64 => (Some(53), None),
                ScalarType::Numeric { precision, scale } => (precision.map(i64::from), precision.map(|_| scale.unwrap_or(0) as i64)),
                _ => (None, None),
            };
            let int = |v: Option<i64>| v.map(Datum::Int).unwrap_or(Datum::Null);
            vec![
                text(DATABASE),
                text(schema),
                text(table),
                text(name),
                Datum::Int(i as i64 + 1),
                defaults.get(name).map(|e| Datum::text(e.to_string().as_str())).unwrap_or(Datum::Null),
                text(if ty.nullable || view { "YES" } else { "NO" }),
                Datum::text(data_type.as_str()),
                int(limit.map(|n| n as i64)),
                int(precision),
                int(scale),
                text(&udt),
            ]
        })
        .collect()
}

/// PostgreSQL's internal name of a type (`pg_type.typname`).
fn udt_name(t: ScalarType) -> String {
    if let ScalarType::Array(e) = t {
        return format!("_{}", udt_name(e.scalar()));
    }
    match t {
        ScalarType::Bool => "bool",
        ScalarType::Int16 => "int2",
        ScalarType::Int32 => "int4",
        ScalarType::Int64 => "int8",
        ScalarType::Float32 => "float4",
        ScalarType::Float64 => "float8",
        ScalarType::Numeric { .. } => "numeric",
        ScalarType::Text => "text",
        ScalarType::Date => "date",
        ScalarType::Timestamp => "timestamp",
        ScalarType::TimestampTz => "timestamptz",
        ScalarType::Interval => "interval",
        ScalarType::Jsonb => "jsonb",
        ScalarType::Uuid => "uuid",
        ScalarType::Array(_) => unreachable!("handled above"),
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_engine::repr::{ColumnType, RelationDesc};

    fn item(id: u64, name: &str, kind: ItemKind, cols: &[(&str, ScalarType, bool)], sql: &str) -> CatalogItem {
        let desc = RelationDesc::new(cols.iter().map(|(n, t, null)| (n.to_string(), ColumnType { scalar: *t, nullable: *null })).collect());
        CatalogItem { id, name: name.into(), kind, desc, create_sql: sql.into(), plan: None, depends_on: vec![] }
    }

    #[test]
    fn tables_views_and_columns_come_from_the_catalog() {
        let mut c = Catalog::default();
        c.insert(item(1, "stock", ItemKind::Table, &[("sku", Text, false), ("name", Text, true)], "CREATE TABLE stock (sku text NOT NULL, name varchar(20))"));
        c.insert(item(2, "low", ItemKind::MaterializedView, &[("sku", Text, true)], "CREATE MATERIALIZED VIEW low AS SELECT sku FROM stock"));
        c.insert(item(3, "ix", ItemKind::Index { on: 2, columns: vec![0] }, &[], ""));
        c.insert(item(4, "eddy_catalog.sinks", ItemKind::System, &[("sink", Text, true)], ""));
        let tables = rows(&c, "information_schema.tables");
        assert_eq!(tables.len(), 3, "the index is not a relation");
        assert_eq!(tables[1], vec![text("eddy"), text("public"), text("low"), text("VIEW"), text("NO")]);
        assert_eq!(tables[2][1..3], [text("eddy_catalog"), text("sinks")]);
        let cols = rows(&c, "information_schema.columns");
        assert_eq!(cols[0][3..8], [text("sku"), Datum::Int(1), Datum::Null, text("NO"), text("text")]);
        assert_eq!(cols[2][6], text("YES"), "a view's columns are nullable");
        assert_eq!(cols[1][7..9], [text("character varying"), Datum::Int(20)]);
        assert_eq!(rows(&c, "pg_matviews")[0][3], Datum::Bool(true), "low has an index");
        assert_eq!(rows(&c, "information_schema.views")[0][3], text(" SELECT sku FROM stock;"));
        assert_eq!(rows(&c, "pg_indexes"), vec![vec![text("public"), text("low"), text("ix"), Datum::Null, text("CREATE INDEX ix ON public.low USING btree (sku)")]]);
    }
}
