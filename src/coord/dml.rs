//! INSERT, UPDATE and DELETE: read the affected rows at the read
//! timestamp, then write the changes at a new one (or buffer them in the
//! session's open transaction). Inside a transaction, statements read the
//! tables with the transaction's earlier changes applied (the buffered
//! changes are added to each table read as a constant collection).

use super::unique::Overlay;
use super::State;
use eddy_sql::dml::{ConflictAction, OnConflict};
use eddy_connectors::{QueryResult, SessionId};
use eddy_engine::expr::UnaryFunc;
use eddy_engine::plan::Plan;
use eddy_engine::repr::{parse_datum, RelationDesc};
use eddy_engine::{Datum, GlobalId, Row, ScalarType};
use eddy_sql::statement::StatementPlan;
use eddy_sql::{codes, SqlError};
use std::collections::HashMap;

impl State {
    pub(super) async fn dml(&mut self, session: SessionId, plan: StatementPlan) -> Result<QueryResult, SqlError> {
        let (table, rows, verb, clauses) = match plan {
            StatementPlan::Insert { table, rows, clauses } => (table, rows, "INSERT 0", clauses),
            StatementPlan::Update { table, rows, clauses } => (table, rows, "UPDATE", clauses),
            StatementPlan::Delete { table, rows, clauses } => (table, rows, "DELETE", clauses),
            _ => unreachable!("not DML"),
        };
        let item = self.catalog.get(table).ok_or_else(|| SqlError::internal("table vanished"))?;
        let desc = item.desc.clone();
        let name = item.name.clone();
        let limits = eddy_sql::types::char_limits(&item.create_sql);
        let arity = desc.arity();
        let rows = self.peek(self.in_transaction(session, rows)).await?;
        let mut updates = Vec::with_capacity(rows.len());
        // The rows RETURNING is over: inserted (or updated by ON
        // CONFLICT), the new versions of updated ones, deleted ones.
        let mut changed = Vec::new();
        match verb {
            "INSERT 0" => {
                let rows = rows.into_iter().map(|r| conform(r, &name, &desc, &limits)).collect::<Result<Vec<_>, _>>()?;
                let pending = self.pending(session, table);
                match self.keys.get(&table) {
                    Some(index) => insert_keyed(&mut Overlay::new(index, &pending), rows, clauses.on_conflict.as_ref(), &name, &desc, &limits, &mut updates, &mut changed)?,
                    None => {
                        updates.extend(rows.iter().map(|r| (r.clone(), 1)));
                        changed = rows;
                    }
                }
            }
            "DELETE" => {
                updates.extend(rows.iter().map(|r| (r.clone(), -1)));
                changed = rows;
            }
            _ => {
                for row in rows {
                    let (old, new) = row.split_at(arity);
                    let new = conform(new.to_vec(), &name, &desc, &limits)?;
                    updates.push((old.to_vec(), -1));
                    updates.push((new.clone(), 1));
                    changed.push(new);
                }
                if let Some(index) = self.keys.get(&table) {
                    Overlay::new(index, &self.pending(session, table)).check(&updates, &desc)?;
                }
            }
        }
        // What the statement read decides what it writes, unless it only
        // inserts: a concurrent write to the table makes COMMIT fail with
        // 40001 (ON CONFLICT reads the rows holding the keys it inserts).
        if verb != "INSERT 0" || clauses.on_conflict.is_some() {
            let read_ts = self.read_ts;
            if let Some(s) = self.sessions.get_mut(&session).filter(|s| s.txn.is_some()) {
                s.read_at.entry(table).or_insert(read_ts);
            }
        }
        let tag = clauses.tag.map(String::from).unwrap_or_else(|| format!("{} {}", verb, changed.len()));
        self.apply(session, table, updates)?;
        match clauses.returning {
            Some(r) => {
                let rows = changed.iter().map(|row| r.exprs.iter().map(|e| e.eval(row)).collect::<Result<Row, _>>()).collect::<Result<Vec<_>, _>>()?;
                Ok(QueryResult::Rows { desc: r.desc, rows, tag: Some(tag) })
            }
            None => Ok(QueryResult::Command { tag, notices: vec![] }),
        }
    }

    /// The changes `session`'s open transaction has made to `table`.
    fn pending(&self, session: SessionId, table: GlobalId) -> Vec<(Row, i64)> {
        let txn = self.sessions.get(&session).and_then(|s| s.txn.as_ref());
        txn.into_iter().flatten().filter(|(t, _)| *t == table).flat_map(|(_, u)| u.iter().cloned()).collect()
    }

    /// `plan` as the session sees it: inside a transaction, each table it
    /// reads includes the changes the transaction has made so far.
    pub(super) fn in_transaction(&self, session: SessionId, mut plan: Plan) -> Plan {
        let Some(txn) = self.sessions.get(&session).and_then(|s| s.txn.as_ref()) else { return plan };
        let mut pending: HashMap<GlobalId, Vec<(Row, i64)>> = HashMap::new();
        for (id, updates) in txn {
            pending.entry(*id).or_default().extend(updates.iter().cloned());
        }
        fn overlay(plan: &mut Plan, pending: &HashMap<GlobalId, Vec<(Row, i64)>>) {
            if let Plan::Get { id, arity } = plan {
                if let Some(rows) = pending.get(id) {
                    let changes = Plan::Constant { rows: rows.clone(), arity: *arity };
                    *plan = Plan::Union { inputs: vec![plan.clone(), changes] };
                }
                return;
            }
            for c in plan.children_mut() {
                overlay(c, pending);
            }
        }
        if !pending.is_empty() {
            overlay(&mut plan, &pending);
        }
        plan
    }

    pub(super) fn apply(&mut self, session: SessionId, table: GlobalId, updates: Vec<(Row, i64)>) -> Result<(), SqlError> {
        match self.sessions.entry(session).or_default().txn.as_mut() {
            Some(txn) => txn.push((table, updates)),
            None => self.commit_tables(vec![(table, updates)])?,
        }
        Ok(())
    }
}

/// Inserts `rows` into a table with keys (seen through `keys`), row by
/// row as PostgreSQL does: a row whose key is taken is skipped (ON
/// CONFLICT DO NOTHING), replaces the row holding it (DO UPDATE), or fails
/// the statement with 23505. Adds the changes to `updates` and the rows
/// inserted or updated to `changed`.
fn insert_keyed(keys: &mut Overlay, rows: Vec<Row>, on_conflict: Option<&OnConflict>, table: &str, desc: &RelationDesc, limits: &[Option<usize>], updates: &mut Vec<(Row, i64)>, changed: &mut Vec<Row>) -> Result<(), SqlError> {
    // Rows this statement inserted or updated: DO UPDATE may not touch
    // one of them.
    let mut touched: std::collections::HashSet<Row> = std::collections::HashSet::new();
    // The constraint ON CONFLICT names is checked first (PostgreSQL's
    // arbiter): its conflict takes the action even where another key
    // conflicts too; without a target every key is an arbiter.
    let arbiter = on_conflict.and_then(|c| c.key.as_ref()).and_then(|key| keys.position(key));
    for row in rows {
        let found = match arbiter {
            Some(k) => keys.conflict_on(k, &row).map(|(v, existing)| (k, v, existing, true)),
            None => None,
        };
        let found = found.or_else(|| keys.conflict(&row).map(|(k, v, existing)| (k, v, existing, arbiter.is_none())));
        let Some((k, v, existing, arbitrated)) = found else {
            keys.insert(&row);
            updates.push((row.clone(), 1));
            touched.insert(row.clone());
            changed.push(row);
            continue;
        };
        match on_conflict.filter(|_| arbitrated).map(|c| &c.action) {
            None => return Err(keys.violation(k, &v, desc)),
            Some(ConflictAction::Nothing) => {}
            Some(ConflictAction::Update { .. }) if touched.contains(&existing) => {
                return Err(SqlError::new(codes::CARDINALITY_VIOLATION, "ON CONFLICT DO UPDATE command cannot affect row a second time").with_hint("Ensure that no rows proposed for insertion within the same command have duplicate constrained values."));
            }
            Some(ConflictAction::Update { row: set, filter }) => {
                let both: Row = existing.iter().chain(row.iter()).cloned().collect();
                if let Some(f) = filter {
                    if !f.eval_predicate(&both)? {
                        continue;
                    }
                }
                let new = conform(set.iter().map(|e| e.eval(&both)).collect::<Result<Row, _>>()?, table, desc, limits)?;
                keys.remove(&existing);
                if let Some((k, v, _)) = keys.conflict(&new) {
                    return Err(keys.violation(k, &v, desc));
                }
                keys.insert(&new);
                updates.push((existing, -1));
                updates.push((new.clone(), 1));
                touched.insert(new.clone());
                changed.push(new);
            }
        }
    }
    Ok(())
}

/// Checks NOT NULL and the length of `varchar(n)` values, and brings each
/// value to its column's exact type.
fn conform(row: Row, table: &str, desc: &RelationDesc, limits: &[Option<usize>]) -> Result<Row, SqlError> {
    if let Some(name) = desc.iter().zip(&row).find(|((_, ty), d)| !ty.nullable && d.is_null()).map(|((name, _), _)| name) {
        let values: Vec<String> = row.iter().zip(desc.iter()).map(|(d, (_, ty))| if d.is_null() { "null".to_string() } else { eddy_engine::repr::format_datum(d, ty.scalar).unwrap_or_default() }).collect();
        return Err(SqlError::new(codes::NOT_NULL_VIOLATION, format!("null value in column \"{}\" of relation \"{}\" violates not-null constraint", name, table)).with_detail(format!("Failing row contains ({}).", values.join(", "))));
    }
    row.into_iter()
        .zip(desc.iter())
        .enumerate()
        .map(|(i, (d, (_, ty)))| {
            let d = match (d, limits.get(i)) {
                (Datum::Text(s), Some(Some(n))) if s.chars().count() > *n => {
                    // Spaces beyond the length are cut off; anything else is an error.
                    if s.trim_end_matches(' ').chars().count() > *n {
                        return Err(SqlError::new(codes::STRING_DATA_RIGHT_TRUNCATION, format!("value too long for type character varying({})", n)));
                    }
                    Datum::Text(s.chars().take(*n).collect())
                }
                (d, _) => d,
            };
            // NOT NULL was checked above, on the whole row.
            if d.is_null() {
                return Ok(d);
            }
            Ok(match (ty.scalar, d) {
                (ScalarType::Jsonb, Datum::Text(s)) => parse_datum(&s, ScalarType::Jsonb)?,
                (t, d) => UnaryFunc::Cast(t).eval(d)?,
            })
        })
        .collect()
}
