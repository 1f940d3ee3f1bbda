//! SHOW statements, answered from the catalog.

use eddy_connectors::QueryResult;
use eddy_engine::repr::{ColumnType, RelationDesc};
use eddy_engine::{Datum, ScalarType};
use eddy_sql::catalog::{Catalog, ItemKind};
use eddy_sql::statement::StatementPlan;
use eddy_sql::SqlError;

pub fn text_desc(name: &str) -> RelationDesc {
    RelationDesc::new(vec![(name.to_string(), ColumnType { scalar: ScalarType::Text, nullable: false })])
}

pub fn text_rows(name: &str, lines: Vec<String>) -> QueryResult {
    QueryResult::Rows { desc: text_desc(name), rows: lines.into_iter().map(|l| vec![Datum::Text(l.into())]).collect(), tag: None }
}

fn names(catalog: &Catalog, want: impl Fn(&ItemKind) -> bool) -> StatementPlan {
    let rows = catalog.items().filter(|i| want(&i.kind)).map(|i| vec![Datum::Text(i.name.clone().into())]).collect();
    StatementPlan::Show { desc: text_desc("name"), rows }
}

/// Recognizes eddy's SHOW statements (`SHOW TABLES`, `SHOW VIEWS`,
/// `SHOW MATERIALIZED VIEWS`, `SHOW SOURCES`, `SHOW SINKS`, `SHOW COLUMNS
/// FROM x`, `SHOW CREATE ...`) and `EXPLAIN [MATERIALIZED] VIEW name`;
/// `None` for anything else.
pub fn plan_show(catalog: &Catalog, sql: &str) -> Option<Result<StatementPlan, SqlError>> {
    let text = sql.trim().trim_end_matches(';').trim();
    let words: Vec<String> = text.split_whitespace().map(|w| w.to_lowercase()).collect();
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    // The last word as written: a quoted name keeps its case.
    let last = eddy_sql::names::text_name(text.split_whitespace().last().unwrap_or(""));
    // `EXPLAIN [MATERIALIZED] VIEW name`: the plan the view is maintained
    // (or, plain, evaluated) by; `EXPLAIN SELECT * FROM v` reads the view.
    if matches!(w.as_slice(), ["explain", "view", _] | ["explain", "materialized", "view", _]) {
        return Some(catalog.resolve_or_err(&last).and_then(|item| match &item.plan {
            Some(plan) if matches!(item.kind, ItemKind::View | ItemKind::MaterializedView) => Ok(StatementPlan::Explain { text: plan.to_string() }),
            _ => Err(SqlError::new(eddy_sql::codes::WRONG_OBJECT_TYPE, format!("\"{}\" is not a view", item.name)).with_hint("EXPLAIN SELECT ... shows the plan of a query")),
        }));
    }
    if words.first().map(String::as_str) != Some("show") {
        return None;
    }
    Some(match w.as_slice() {
        ["show", "tables"] => Ok(names(catalog, |k| *k == ItemKind::Table)),
        ["show", "views"] => Ok(names(catalog, |k| *k == ItemKind::View)),
        ["show", "materialized", "views"] => Ok(names(catalog, |k| *k == ItemKind::MaterializedView)),
        ["show", "indexes"] => Ok(names(catalog, |k| matches!(k, ItemKind::Index { .. }))),
        ["show", "sources"] => Ok(names(catalog, |k| matches!(k, ItemKind::Source { .. }))),
        ["show", "sinks"] => Ok(names(catalog, |k| matches!(k, ItemKind::Sink { .. }))),
        ["show", "transaction", "isolation", "level"] => Ok(StatementPlan::Show { desc: text_desc("transaction_isolation"), rows: vec![vec![Datum::Text("serializable".into())]] }),
        ["show", "columns", "from" | "in", _] => catalog.resolve_or_err(&last).map(|item| {
            let desc = RelationDesc::new(vec![
                ("name".into(), ColumnType { scalar: ScalarType::Text, nullable: false }),
                ("nullable".into(), ColumnType { scalar: ScalarType::Bool, nullable: false }),
                ("type".into(), ColumnType { scalar: ScalarType::Text, nullable: false }),
            ]);
            let rows = item.desc.iter().map(|(n, t)| vec![Datum::Text(n.clone().into()), Datum::Bool(t.nullable), Datum::Text(t.scalar.to_string().into())]).collect();
            StatementPlan::Show { desc, rows }
        }),
        ["show", "create", .., _] => catalog.resolve_or_err(&last).map(|item| {
            let desc = RelationDesc::new(vec![("name".into(), ColumnType { scalar: ScalarType::Text, nullable: false }), ("create_sql".into(), ColumnType { scalar: ScalarType::Text, nullable: false })]);
            StatementPlan::Show { desc, rows: vec![vec![Datum::Text(item.name.clone().into()), Datum::Text(item.create_sql.clone().into())]] }
        }),
        // Session variables psql and drivers ask for.
        ["show", var] => Ok(StatementPlan::Show {
            desc: text_desc(var),
            rows: vec![vec![Datum::Text(
                (match eddy_sql::rewrite::setting(var) {
                    Some(v) => v,
                    None => return Some(Err(SqlError::new(eddy_sql::codes::UNDEFINED_OBJECT, format!("unrecognized configuration parameter \"{}\"", var)))),
                }
                .to_string()).into(),
            )]],
        }),
        _ => Err(SqlError::syntax(format!("unrecognized SHOW statement: {}", text)).with_hint("try SHOW TABLES, SHOW VIEWS, SHOW MATERIALIZED VIEWS, SHOW SOURCES, SHOW SINKS, SHOW COLUMNS FROM name, SHOW CREATE VIEW name")),
    })
}
