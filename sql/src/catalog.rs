//! The catalog model: named objects, their columns, what they depend on.
//!
//! This is data only. The coordinator owns the one instance, persists it and
//! applies changes; the planner reads it.

use crate::SqlError;
use eddy_engine::plan::Plan;
use eddy_engine::repr::RelationDesc;
use eddy_engine::GlobalId;
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ItemKind {
    Table,
    /// A view whose query is inlined wherever it is read.
    View,
    /// A view whose contents the engine maintains.
    MaterializedView,
    /// An index on a view's or table's columns.
    Index { on: GlobalId, columns: Vec<usize> },
    /// Rows read from Kafka (the definition is in `create_sql`).
    Source { errors: GlobalId },
    /// A source's error relation: the records it could not decode.
    SourceErrors { of: GlobalId },
    /// Changes of a relation written to Kafka.
    Sink { from: GlobalId },
    /// A relation eddy maintains about itself (`eddy_catalog.*`).
    System,
}

impl ItemKind {
    pub fn name(&self) -> &'static str {
        match self {
            ItemKind::Table => "table",
            ItemKind::View => "view",
            ItemKind::MaterializedView => "materialized view",
            ItemKind::Index { .. } => "index",
            ItemKind::Source { .. } => "source",
            ItemKind::SourceErrors { .. } => "source error relation",
            ItemKind::Sink { .. } => "sink",
            ItemKind::System => "system relation",
        }
    }

    /// Whether the engine keeps this item's contents arranged (it can be
    /// read directly, subscribed to and sunk).
    pub fn is_arranged(&self) -> bool {
        matches!(self, ItemKind::Table | ItemKind::MaterializedView | ItemKind::Source { .. } | ItemKind::SourceErrors { .. } | ItemKind::System)
    }
}

#[derive(Clone, Debug)]
pub struct CatalogItem {
    pub id: GlobalId,
    pub name: String,
    pub kind: ItemKind,
    pub desc: RelationDesc,
    /// The statement that created it, as the user wrote it.
    pub create_sql: String,
    /// The engine plan (materialized views) or the plan to inline (views).
    pub plan: Option<Plan>,
    /// Objects this one reads.
    pub depends_on: Vec<GlobalId>,
}

#[derive(Clone, Debug, Default)]
pub struct Catalog {
    items: BTreeMap<GlobalId, CatalogItem>,
    next_id: GlobalId,
}

impl Catalog {
    pub fn allocate_id(&mut self) -> GlobalId {
        self.next_id += 1;
        self.next_id
    }

    pub fn insert(&mut self, item: CatalogItem) {
        self.next_id = self.next_id.max(item.id);
        self.items.insert(item.id, item);
    }

    /// Changes whenever an item is added or removed (ids are never reused).
    pub fn version(&self) -> (GlobalId, usize) {
        (self.next_id, self.items.len())
    }

    pub fn remove(&mut self, id: GlobalId) -> Option<CatalogItem> {
        self.items.remove(&id)
    }

    pub fn get(&self, id: GlobalId) -> Option<&CatalogItem> {
        self.items.get(&id)
    }

    /// Looks a relation up by (case-folded) name.
    pub fn resolve(&self, name: &str) -> Option<&CatalogItem> {
        self.items.values().find(|i| i.name == name)
    }

    pub fn resolve_or_err(&self, name: &str) -> Result<&CatalogItem, SqlError> {
        self.resolve(name).ok_or_else(|| SqlError::unknown_relation(name))
    }

    pub fn items(&self) -> impl Iterator<Item = &CatalogItem> {
        self.items.values()
    }

    /// Objects that read `id`, directly.
    pub fn dependents(&self, id: GlobalId) -> Vec<&CatalogItem> {
        self.items.values().filter(|i| i.depends_on.contains(&id) || matches!(i.kind, ItemKind::Index { on, .. } | ItemKind::Sink { from: on } if on == id)).collect()
    }

    /// The catalog name a table reference denotes: `eddy_catalog.x` and
    /// `information_schema.x` for those schemas' relations, else the bare
    /// (case-folded) table name (`pg_catalog.pg_tables` is `pg_tables`).
    pub fn reference_name(schema: Option<&str>, table: &str) -> String {
        match schema {
            Some(schema @ ("eddy_catalog" | "information_schema")) => format!("{}.{}", schema, table),
            _ => table.to_string(),
        }
    }

    /// `id` and everything that depends on it, transitively, dependents
    /// first (the order to drop them in).
    pub fn dependents_closure(&self, id: GlobalId) -> Vec<GlobalId> {
        let mut out = Vec::new();
        self.collect_dependents(id, &mut out);
        out
    }

    fn collect_dependents(&self, id: GlobalId, out: &mut Vec<GlobalId>) {
        for d in self.dependents(id) {
            self.collect_dependents(d.id, out);
        }
        if !out.contains(&id) {
            out.push(id);
        }
    }
}
