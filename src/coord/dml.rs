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
        let desc = self.catalog.get(table).map(|i| i.desc.clone()).ok_or_else(|| SqlError::internal("table vanished"))?;
        let arity = desc.arity();
        let rows = self.peek(self.in_transaction(session, rows)).await?;
        let count = rows.len();
        let mut updates = Vec::with_capacity(rows.len());
        for row in rows {
            match verb {
                "INSERT 0" => updates.push((conform(row, &desc)?, 1)),
                "DELETE" => updates.push((row, -1)),
                _ => {
                    let (old, new) = row.split_at(arity);
                    updates.push((old.to_vec(), -1));
                    updates.push((conform(new.to_vec(), &desc)?, 1));
                }
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

/// Checks NOT NULL and brings each value to its column's exact type.
fn conform(row: Row, desc: &RelationDesc) -> Result<Row, SqlError> {
    row.into_iter()
        .zip(desc.iter())
        .map(|(d, (name, ty))| {
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
