//! INSERT, UPDATE and DELETE: read the affected rows at the read
//! timestamp, then write the changes at a new one (or buffer them in the
//! session's open transaction). Inside a transaction, statements read the
//! tables with the transaction's earlier changes applied (the buffered
//! changes are added to each table read as a constant collection).

use super::State;
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
        let (table, rows, verb) = match plan {
            StatementPlan::Insert { table, rows } => (table, rows, "INSERT 0"),
            StatementPlan::Update { table, rows } => (table, rows, "UPDATE"),
            StatementPlan::Delete { table, rows } => (table, rows, "DELETE"),
            _ => unreachable!("not DML"),
        };
        let item = self.catalog.get(table).ok_or_else(|| SqlError::internal("table vanished"))?;
        let desc = item.desc.clone();
        let limits = eddy_sql::types::char_limits(&item.create_sql);
        let arity = desc.arity();
        let rows = self.peek(self.in_transaction(session, rows)).await?;
        let count = rows.len();
        let mut updates = Vec::with_capacity(rows.len());
        for row in rows {
            match verb {
                "INSERT 0" => updates.push((conform(row, &desc, &limits)?, 1)),
                "DELETE" => updates.push((row, -1)),
                _ => {
                    let (old, new) = row.split_at(arity);
                    updates.push((old.to_vec(), -1));
                    updates.push((conform(new.to_vec(), &desc, &limits)?, 1));
                }
            }
        }
        if verb != "INSERT 0" {
            let read_ts = self.read_ts;
            if let Some(s) = self.sessions.get_mut(&session).filter(|s| s.txn.is_some()) {
                s.read_at.entry(table).or_insert(read_ts);
            }
        }
        self.apply(session, table, updates);
        Ok(QueryResult::Command { tag: format!("{} {}", verb, count), notices: vec![] })
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

    fn apply(&mut self, session: SessionId, table: GlobalId, updates: Vec<(Row, i64)>) {
        match self.sessions.entry(session).or_default().txn.as_mut() {
            Some(txn) => txn.push((table, updates)),
            None => self.write(vec![(table, updates)]),
        }
    }
}

/// Checks NOT NULL and the length of `varchar(n)` values, and brings each
/// value to its column's exact type.
fn conform(row: Row, desc: &RelationDesc, limits: &[Option<usize>]) -> Result<Row, SqlError> {
    row.into_iter()
        .zip(desc.iter())
        .enumerate()
        .map(|(i, (d, (name, ty)))| {
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
            if d.is_null() {
                if !ty.nullable {
                    return Err(SqlError::new(codes::NOT_NULL_VIOLATION, format!("null value in column \"{}\" violates not-null constraint", name)));
                }
                return Ok(d);
            }
            Ok(match (ty.scalar, d) {
                (ScalarType::Jsonb, Datum::Text(s)) => parse_datum(&s, ScalarType::Jsonb)?,
                (t, d) => UnaryFunc::Cast(t).eval(d)?,
            })
        })
        .collect()
}
