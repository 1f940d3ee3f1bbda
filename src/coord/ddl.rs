//! CREATE and DROP: catalog changes and the dataflows behind them.

use super::State;
use eddy_connectors::{QueryResult, SessionId};
use eddy_engine::runtime::Command;
use eddy_sql::catalog::{CatalogItem, ItemKind};
use eddy_sql::statement::StatementPlan;
use eddy_sql::{codes, SqlError};
use sqlparser::ast::ObjectType;

fn created(tag: &str, notices: Vec<SqlError>) -> Result<QueryResult, SqlError> {
    Ok(QueryResult::Command { tag: tag.to_string(), notices })
}

impl State {
    /// `REFRESH MATERIALIZED VIEW name`: nothing to do, since every
    /// materialized view is kept up to date; said so in a notice. None for
    /// other statements.
    pub(super) fn refresh(&self, sql: &str) -> Option<Result<QueryResult, SqlError>> {
        let words: Vec<&str> = eddy_sql::connector::skip_comments(sql).trim_end().trim_end_matches(';').split_whitespace().collect();
        if words.len() < 3 || !words[0].eq_ignore_ascii_case("REFRESH") || !words[1].eq_ignore_ascii_case("MATERIALIZED") || !words[2].eq_ignore_ascii_case("VIEW") {
            return None;
        }
        let names: Vec<&str> = words[3..].iter().copied().filter(|w| !w.eq_ignore_ascii_case("CONCURRENTLY")).collect();
        let [name] = names.as_slice() else {
            return Some(Err(SqlError::syntax("REFRESH MATERIALIZED VIEW takes the name of one materialized view")));
        };
        let name = eddy_sql::names::text_name(name);
        Some(match self.catalog.resolve(&name) {
            Some(item) if matches!(item.kind, ItemKind::MaterializedView) => created("REFRESH MATERIALIZED VIEW", vec![SqlError::notice(format!("materialized view \"{}\" is always up to date: eddy maintains it as its inputs change", name))]),
            Some(item) => Err(SqlError::new(codes::WRONG_OBJECT_TYPE, format!("\"{}\" is not a materialized view", name)).with_detail(format!("\"{}\" is a {}", name, item.kind.name()))),
            None => Err(SqlError::new(codes::UNDEFINED_TABLE, format!("relation \"{}\" does not exist", name))),
        })
    }

    /// Fails with 42P07 if `name` is taken (or returns a notice to skip, with IF NOT EXISTS).
    pub(super) fn check_free(&self, name: &str, if_not_exists: bool) -> Result<Option<SqlError>, SqlError> {
        match self.catalog.resolve(name) {
            None => Ok(None),
            Some(_) if if_not_exists => Ok(Some(SqlError::notice(format!("relation \"{}\" already exists, skipping", name)))),
            Some(item) => Err(SqlError::new(codes::DUPLICATE_TABLE, format!("relation \"{}\" already exists", name)).with_detail(format!("\"{}\" is a {}", name, item.kind.name()))),
        }
    }

    /// Applies a CREATE or DROP; `sql` is the statement's text, kept as a
    /// created item's `create_sql` (for SHOW CREATE and psql's `\d+`).
    /// `CREATE TABLE name AS query`: the query's rows, read now, written
    /// to a new table (see [`StatementPlan::CreateTableAs`]); logged as the
    /// plain CREATE TABLE and a commit of the rows.
    pub(super) async fn create_table_as(&mut self, session: SessionId, plan: StatementPlan) -> Result<QueryResult, SqlError> {
        let StatementPlan::CreateTableAs { name, if_not_exists, create_sql, desc, plan, finishing } = plan else {
            return Err(SqlError::internal("create_table_as takes a CREATE TABLE AS"));
        };
        let plan = self.in_transaction(session, plan);
        if let Some(n) = self.check_free(&name, if_not_exists)? {
            return Ok(QueryResult::Command { tag: "CREATE TABLE AS".into(), notices: vec![n] });
        }
        let rows = self.select(plan, &finishing).await?;
        self.ddl(StatementPlan::CreateTable { name: name.clone(), desc, if_not_exists, notices: vec![] }, &create_sql)?;
        self.log_ddl(&create_sql)?;
        let table = self.catalog.resolve_or_err(&name)?.id;
        let count = rows.len();
        self.apply(session, table, rows.into_iter().map(|r| (r, 1)).collect())?;
        Ok(QueryResult::Command { tag: format!("SELECT {}", count), notices: vec![] })
    }

    pub(super) fn ddl(&mut self, plan: StatementPlan, sql: &str) -> Result<QueryResult, SqlError> {
        match plan {
            StatementPlan::CreateTable { name, desc, if_not_exists, notices } => {
                if let Some(n) = self.check_free(&name, if_not_exists)? {
                    return created("CREATE TABLE", vec![n]);
                }
                let id = self.catalog.allocate_id();
                self.engine.send(Command::CreateTable { id });
                let keys = eddy_sql::constraints::unique_keys(&name, sql, &desc);
                if !keys.is_empty() {
                    self.keys.insert(id, super::unique::KeyIndex::new(keys));
                }
                self.catalog.insert(CatalogItem { id, name, kind: ItemKind::Table, desc, create_sql: sql.to_string(), plan: None, depends_on: vec![] });
                created("CREATE TABLE", notices)
            }
            StatementPlan::CreateView { name, desc, plan, logical, depends_on, materialized, if_not_exists, or_replace } => {
                let tag = if materialized { "CREATE MATERIALIZED VIEW" } else { "CREATE VIEW" };
                if or_replace {
                    if let Some(old) = self.catalog.resolve(&name) {
                        if !self.catalog.dependents(old.id).is_empty() {
                            return Err(SqlError::new(codes::DEPENDENT_OBJECTS_STILL_EXIST, format!("cannot replace view \"{}\" because other objects depend on it", name)));
                        }
                        let id = old.id;
                        self.drop_one(id);
                    }
                }
                if let Some(n) = self.check_free(&name, if_not_exists)? {
                    return created(tag, vec![n]);
                }
                let id = self.catalog.allocate_id();
                let kind = if materialized {
                    self.engine.send(Command::CreateView { id, plan: plan.clone() });
                    ItemKind::MaterializedView
                } else {
                    self.views.insert(id, logical);
                    ItemKind::View
                };
                self.catalog.insert(CatalogItem { id, name, kind, desc, create_sql: sql.to_string(), plan: Some(plan), depends_on });
                created(tag, vec![])
            }
            StatementPlan::CreateIndex { name, on, columns, if_not_exists, notices } => {
                if let Some(n) = self.check_free(&name, if_not_exists)? {
                    return created("CREATE INDEX", vec![n]);
                }
                let id = self.catalog.allocate_id();
                let desc = self.catalog.get(on).map(|i| i.desc.clone()).unwrap_or_default();
                // Every collection is already arranged by its whole row; an
                // index records the user's key for lookups and \d.
                self.catalog.insert(CatalogItem { id, name, kind: ItemKind::Index { on, columns }, desc, create_sql: sql.to_string(), plan: None, depends_on: vec![on] });
                created("CREATE INDEX", notices)
            }
            StatementPlan::Drop { kind, names, if_exists, cascade } => self.drop(kind, names, if_exists, cascade),
            _ => unreachable!("not DDL"),
        }
    }

    fn drop(&mut self, kind: ObjectType, names: Vec<String>, if_exists: bool, cascade: bool) -> Result<QueryResult, SqlError> {
        let (tag, want): (&str, fn(&ItemKind) -> bool) = match kind {
            ObjectType::Table => ("DROP TABLE", |k| *k == ItemKind::Table),
            ObjectType::View => ("DROP VIEW", |k| *k == ItemKind::View),
            ObjectType::MaterializedView => ("DROP MATERIALIZED VIEW", |k| *k == ItemKind::MaterializedView),
            ObjectType::Index => ("DROP INDEX", |k| matches!(k, ItemKind::Index { .. })),
            other => return Err(SqlError::unsupported(format!("DROP {}", other))),
        };
        let label = kind.to_string().to_lowercase();
        let missing = if matches!(kind, ObjectType::Index) { codes::UNDEFINED_OBJECT } else { codes::UNDEFINED_TABLE };
        self.drop_items(tag, &label, missing, want, names, if_exists, cascade)
    }

    /// `DROP SOURCE` / `DROP SINK` (eddy's own statements).
    pub(super) fn drop_connector(&mut self, source: bool, names: Vec<String>, if_exists: bool, cascade: bool) -> Result<QueryResult, SqlError> {
        let what = if source { "SOURCE" } else { "SINK" };
        if names.is_empty() {
            return Err(SqlError::syntax(format!("DROP {} needs the name of a {}", what, what.to_lowercase())).with_hint(format!("DROP {} [IF EXISTS] name [, ...] [CASCADE | RESTRICT]", what)));
        }
        if source {
            self.drop_items("DROP SOURCE", "source", codes::UNDEFINED_OBJECT, |k| matches!(k, ItemKind::Source { .. }), names, if_exists, cascade)
        } else {
            self.drop_items("DROP SINK", "sink", codes::UNDEFINED_OBJECT, |k| matches!(k, ItemKind::Sink { .. }), names, if_exists, cascade)
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn drop_items(&mut self, tag: &str, label: &str, missing: &'static str, want: fn(&ItemKind) -> bool, names: Vec<String>, if_exists: bool, cascade: bool) -> Result<QueryResult, SqlError> {
        let mut notices = Vec::new();
        let mut targets = Vec::new();
        for name in names {
            let Some(item) = self.catalog.resolve(&name) else {
                if if_exists {
                    notices.push(SqlError::notice(format!("{} \"{}\" does not exist, skipping", label, name)));
                    continue;
                }
                return Err(SqlError::new(missing, format!("{} \"{}\" does not exist", label, name)));
            };
            if !want(&item.kind) {
                let hint = match &item.kind {
                    ItemKind::SourceErrors { of } => format!("an error relation goes with its source: DROP SOURCE {} drops both", self.catalog.get(*of).map(|s| s.name.as_str()).unwrap_or("...")),
                    kind => format!("use DROP {} to remove a {}", kind.name().to_uppercase(), kind.name()),
                };
                return Err(SqlError::new(codes::WRONG_OBJECT_TYPE, format!("\"{}\" is not a {}", name, label)).with_hint(hint));
            }
            // An index goes with its relation, as in PostgreSQL.
            let dependents: Vec<_> = self.catalog.dependents(item.id).into_iter().filter(|d| !matches!(d.kind, ItemKind::Index { .. })).collect();
            if !dependents.is_empty() && !cascade {
                let detail = dependents.iter().map(|d| format!("{} {} depends on {} {}", d.kind.name(), d.name, item.kind.name(), item.name)).collect::<Vec<_>>().join("\n");
                return Err(SqlError::new(codes::DEPENDENT_OBJECTS_STILL_EXIST, format!("cannot drop {} {} because other objects depend on it", item.kind.name(), item.name))
                    .with_detail(detail)
                    .with_hint("Use DROP ... CASCADE to drop the dependent objects too."));
            }
            targets.push(item.id);
        }
        for id in targets {
            for dep in self.catalog.dependents_closure(id) {
                if dep != id {
                    if let Some(d) = self.catalog.get(dep).filter(|d| !matches!(d.kind, ItemKind::Index { .. })) {
                        notices.push(SqlError::notice(format!("drop cascades to {} {}", d.kind.name(), d.name)));
                    }
                }
                self.drop_one(dep);
            }
        }
        created(tag, notices)
    }

    fn drop_one(&mut self, id: eddy_engine::GlobalId) {
        if let Some(item) = self.catalog.remove(id) {
            match item.kind {
                ItemKind::Table | ItemKind::MaterializedView | ItemKind::System => {
                    self.keys.remove(&id);
                    self.engine.send(Command::Drop { id })
                }
                ItemKind::View => {
                    self.views.remove(&id);
                }
                ItemKind::Index { .. } => {}
                ItemKind::Source { errors } => {
                    self.stop_connector(id);
                    self.engine.send(Command::Drop { id });
                    self.drop_one(errors);
                }
                ItemKind::SourceErrors { .. } => self.engine.send(Command::Drop { id }),
                ItemKind::Sink { .. } => {
                    self.engine.send(Command::Drop { id });
                    self.stop_connector(id);
                }
            }
        }
    }
}
