//! PRIMARY KEY and UNIQUE enforcement: for each table with such keys, an
//! index from each key's values to the row holding them, kept in step with
//! every write to the table (the coordinator is the tables' only writer).
//!
//! A statement checks its changes against the index as its session sees
//! it (with the open transaction's changes laid over it, see [`Overlay`]);
//! COMMIT checks the transaction's changes again against the index as it
//! is then, as another session may have written the same key meanwhile.
//! A violation is 23505 with PostgreSQL's message and detail. Keys with a
//! NULL part are not indexed: they never conflict.

use eddy_engine::repr::RelationDesc;
use eddy_engine::Row;
use eddy_sql::constraints::UniqueKey;
use eddy_sql::{codes, SqlError};
use std::collections::HashMap;

/// `updates` with the changes of each row summed and zero sums dropped:
/// a row inserted and updated in one transaction is one insertion of its
/// last version, a row inserted and deleted is nothing.
fn consolidated(updates: &[(Row, i64)]) -> Vec<(Row, i64)> {
    let mut sums: HashMap<&Row, i64> = HashMap::new();
    let mut order: Vec<&Row> = Vec::new();
    for (row, diff) in updates {
        let e = sums.entry(row).or_insert_with(|| {
            order.push(row);
            0
        });
        *e += diff;
    }
    order.into_iter().filter_map(|r| Some((r.clone(), *sums.get(r).filter(|d| **d != 0)?))).collect()
}

/// The rows of one table by each of its keys.
pub struct KeyIndex {
    pub keys: Vec<UniqueKey>,
    rows: Vec<HashMap<Row, Row>>,
}

impl KeyIndex {
    pub fn new(keys: Vec<UniqueKey>) -> Self {
        let rows = keys.iter().map(|_| HashMap::new()).collect();
        KeyIndex { keys, rows }
    }

    /// Applies written changes: removals first, so a row replaced in one
    /// batch (UPDATE) leaves its new version indexed.
    pub fn apply(&mut self, updates: &[(Row, i64)]) {
        let updates = consolidated(updates);
        for (row, diff) in updates.iter().filter(|(_, d)| *d < 0).chain(updates.iter().filter(|(_, d)| *d > 0)) {
            for (k, key) in self.keys.iter().enumerate() {
                let Some(v) = key.of(row) else { continue };
                if *diff > 0 {
                    self.rows[k].insert(v, row.clone());
                } else if self.rows[k].get(&v) == Some(row) {
                    self.rows[k].remove(&v);
                }
            }
        }
    }
}

/// The index seen through changes not yet written: `Some(row)` where a
/// change put a row under a key, `None` where it removed one.
pub struct Overlay<'a> {
    index: &'a KeyIndex,
    changed: Vec<HashMap<Row, Option<Row>>>,
}

impl<'a> Overlay<'a> {
    /// The index with `pending` (a transaction's earlier changes) applied.
    pub fn new(index: &'a KeyIndex, pending: &[(Row, i64)]) -> Self {
        let mut o = Overlay { index, changed: index.keys.iter().map(|_| HashMap::new()).collect() };
        let pending = consolidated(pending);
        for (row, diff) in pending.iter().filter(|(_, d)| *d < 0).chain(pending.iter().filter(|(_, d)| *d > 0)) {
            if *diff > 0 {
                o.insert(row);
            } else {
                o.remove(row);
            }
        }
        o
    }

    /// The row holding `key`'s values `v`.
    pub fn get(&self, k: usize, v: &Row) -> Option<&Row> {
        match self.changed[k].get(v) {
            Some(r) => r.as_ref(),
            None => self.index.rows[k].get(v),
        }
    }

    /// The first key of `row` whose values another row already holds, with
    /// those values and that row.
    pub fn conflict(&self, row: &Row) -> Option<(usize, Row, Row)> {
        self.index.keys.iter().enumerate().find_map(|(k, key)| {
            let v = key.of(row)?;
            let other = self.get(k, &v)?.clone();
            Some((k, v, other))
        })
    }

    /// Whether key `k` of `row` is held by another row: its values and
    /// that row.
    pub fn conflict_on(&self, k: usize, row: &Row) -> Option<(Row, Row)> {
        let v = self.index.keys[k].of(row)?;
        let other = self.get(k, &v)?.clone();
        Some((v, other))
    }

    /// The position of `key` among the table's keys.
    pub fn position(&self, key: &UniqueKey) -> Option<usize> {
        self.index.keys.iter().position(|k| k == key)
    }

    pub fn insert(&mut self, row: &Row) {
        for (k, key) in self.index.keys.iter().enumerate() {
            if let Some(v) = key.of(row) {
                self.changed[k].insert(v, Some(row.clone()));
            }
        }
    }

    pub fn remove(&mut self, row: &Row) {
        for (k, key) in self.index.keys.iter().enumerate() {
            if let Some(v) = key.of(row) {
                if self.get(k, &v) == Some(row) {
                    self.changed[k].insert(v, None);
                }
            }
        }
    }

    /// Applies `updates` (removals first), failing at the first row whose
    /// key another row holds.
    pub fn check(&mut self, updates: &[(Row, i64)], table: &RelationDesc) -> Result<(), SqlError> {
        let updates = consolidated(updates);
        for (row, _) in updates.iter().filter(|(_, d)| *d < 0) {
            self.remove(row);
        }
        for (row, _) in updates.iter().filter(|(_, d)| *d > 0) {
            if let Some((k, v, _)) = self.conflict(row) {
                return Err(self.violation(k, &v, table));
            }
            self.insert(row);
        }
        Ok(())
    }

    /// 23505 for key `k` holding `v` twice.
    pub fn violation(&self, k: usize, v: &Row, table: &RelationDesc) -> SqlError {
        let key = &self.index.keys[k];
        SqlError::new(codes::UNIQUE_VIOLATION, format!("duplicate key value violates unique constraint \"{}\"", key.name)).with_detail(key.detail(table, v))
    }
}

impl super::State {
    /// Checks a transaction's changes against the keys as they are now
    /// (another session may have taken a key since its statements ran).
    pub(super) fn check_keys(&self, writes: &[(eddy_engine::GlobalId, Vec<(Row, i64)>)]) -> Result<(), SqlError> {
        for (table, index) in &self.keys {
            let updates: Vec<(Row, i64)> = writes.iter().filter(|(t, _)| t == table).flat_map(|(_, u)| u.iter().cloned()).collect();
            if updates.is_empty() {
                continue;
            }
            let Some(item) = self.catalog.get(*table) else { continue };
            Overlay::new(index, &[]).check(&updates, &item.desc)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_engine::repr::ColumnType;
    use eddy_engine::{Datum, ScalarType};

    fn row(id: i64, v: i64) -> Row {
        vec![Datum::Int(id), Datum::Int(v)]
    }

    #[test]
    fn conflicts_account_for_pending_and_own_changes() {
        let desc = RelationDesc::new(["id", "v"].iter().map(|n| (n.to_string(), ColumnType { scalar: ScalarType::Int32, nullable: true })).collect());
        let mut index = KeyIndex::new(vec![UniqueKey { name: "t_pkey".into(), columns: vec![0], primary: true }]);
        index.apply(&[(row(1, 10), 1), (row(2, 20), 1)]);
        // An UPDATE that moves key 2 to 3 and 1 to 2 is fine as a whole.
        assert!(Overlay::new(&index, &[]).check(&[(row(1, 10), -1), (row(2, 20), -1), (row(2, 10), 1), (row(3, 20), 1)], &desc).is_ok());
        let err = Overlay::new(&index, &[]).check(&[(row(1, 11), 1)], &desc).unwrap_err();
        assert_eq!((err.code, err.detail.as_deref()), ("23505", Some("Key (id)=(1) already exists.")));
        // A transaction that deleted key 1 may insert it again.
        assert!(Overlay::new(&index, &[(row(1, 10), -1)]).check(&[(row(1, 12), 1)], &desc).is_ok());
        // Two rows of one statement with one key conflict.
        assert!(Overlay::new(&index, &[]).check(&[(row(5, 1), 1), (row(5, 2), 1)], &desc).is_err());
        // Inserted, then updated, in one transaction: one insertion.
        assert!(Overlay::new(&index, &[]).check(&[(row(7, 1), 1), (row(7, 1), -1), (row(7, 2), 1)], &desc).is_ok());
        // Inserted and deleted again: nothing to index.
        let mut other = KeyIndex::new(index.keys.clone());
        other.apply(&[(row(8, 1), 1), (row(8, 1), -1)]);
        assert_eq!(Overlay::new(&other, &[]).get(0, &vec![Datum::Int(8)]), None);
        index.apply(&[(row(1, 10), -1), (row(1, 13), 1)]);
        assert_eq!(Overlay::new(&index, &[]).get(0, &vec![Datum::Int(1)]), Some(&row(1, 13)));
    }
}
