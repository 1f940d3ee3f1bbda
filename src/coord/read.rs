//! Reads: peeking at an arrangement (or a transient dataflow) as of the
//! read timestamp, then sorting and paging the rows.

use super::State;
use eddy_engine::expr::SortKey;
use eddy_engine::plan::Plan;
use eddy_engine::runtime::{Command, PeekResponse};
use eddy_engine::{Datum, Row};
use eddy_sql::statement::Finishing;
use eddy_sql::{codes, SqlError};
use std::sync::{Arc, Mutex};

impl State {
    /// The rows of `plan` as of the read timestamp, each repeated by its
    /// multiplicity.
    pub(super) async fn peek(&mut self, plan: Plan) -> Result<Vec<Row>, SqlError> {
        // A plan over constants alone (INSERT ... VALUES, SELECT 1) needs
        // no dataflow, and keeps the order of its rows (RETURNING gives
        // rows in VALUES order). An error falls back to the dataflow, which
        // picks which of several errors to report.
        if let Some(Ok(rows)) = eddy_engine::render::constant_rows(&plan) {
            if rows.iter().all(|(_, d)| *d >= 0) {
                return Ok(rows.into_iter().flat_map(|(r, d)| std::iter::repeat_n(r, d as usize)).collect());
            }
        }
        let (id, transient) = match plan {
            Plan::Get { id, .. } => (id, false),
            plan => {
                self.next_transient += 1;
                let id = self.next_transient;
                self.engine.send(Command::CreateView { id, plan });
                (id, true)
            }
        };
        let workers = self.engine.workers();
        let (tx, rx) = tokio::sync::oneshot::channel::<PeekResponse>();
        let collected = Arc::new(Mutex::new((Some(tx), PeekResponse::default(), 0usize)));
        let respond = Arc::new(move |part: PeekResponse| {
            let mut c = collected.lock().unwrap();
            c.1.rows.extend(part.rows);
            c.1.errors.extend(part.errors);
            c.2 += 1;
            if c.2 == workers {
                if let Some(tx) = c.0.take() {
                    let _ = tx.send(std::mem::take(&mut c.1));
                }
            }
        });
        self.engine.send(Command::Peek { id, time: self.read_ts, respond });
        // The answer, unless the statement times out or the client cancels
        // it first (the transient dataflow is dropped below, which stops
        // its work).
        let cancel = self.cancel.clone().unwrap_or_default();
        let cancelled = cancel.notified();
        let deadline = async {
            match self.deadline {
                Some(d) => tokio::time::sleep_until(d.into()).await,
                None => std::future::pending().await,
            }
        };
        let response = tokio::select! {
            r = rx => r.map_err(|_| SqlError::internal("the engine stopped before answering")),
            _ = cancelled => Err(SqlError::new(codes::QUERY_CANCELED, "canceling statement due to user request")),
            _ = deadline => Err(SqlError::new(codes::QUERY_CANCELED, "canceling statement due to statement timeout")),
        };
        if transient {
            self.engine.send(Command::Drop { id });
        }
        let response = response?;
        if let Some(e) = response.errors.into_iter().min() {
            return Err(SqlError::from(e));
        }
        let mut rows = Vec::new();
        for (row, diff) in response.rows {
            if diff < 0 {
                return Err(SqlError::new(codes::INTERNAL_ERROR, "a collection holds a row with negative multiplicity").with_detail(format!("{:?} x {}", row, diff)));
            }
            rows.extend(std::iter::repeat_n(row, diff as usize));
        }
        Ok(rows)
    }

    pub(super) async fn select(&mut self, plan: Plan, finishing: &Finishing) -> Result<Vec<Row>, SqlError> {
        let mut rows = self.peek(plan).await?;
        finish(&mut rows, finishing)?;
        Ok(rows)
    }
}

/// Applies ORDER BY, OFFSET/LIMIT and the final projection.
pub fn finish(rows: &mut Vec<Row>, f: &Finishing) -> Result<(), SqlError> {
    if !f.order_by.is_empty() {
        // Evaluate keys once per row.
        let mut keyed: Vec<(Vec<Datum>, Row)> = std::mem::take(rows)
            .into_iter()
            .map(|r| Ok((f.order_by.iter().map(|k| k.expr.eval(&r)).collect::<Result<Vec<_>, _>>()?, r)))
            .collect::<Result<_, eddy_engine::expr::EvalError>>()?;
        keyed.sort_by(|(a, _), (b, _)| {
            for (i, k) in f.order_by.iter().enumerate() {
                let o = SortKey::compare(k, &a[i], &b[i]);
                if o.is_ne() {
                    return o;
                }
            }
            std::cmp::Ordering::Equal
        });
        *rows = keyed.into_iter().map(|(_, r)| r).collect();
    }
    if f.offset > 0 || f.limit.is_some() {
        let end = f.limit.map(|l| f.offset.saturating_add(l)).unwrap_or(usize::MAX).min(rows.len());
        let start = f.offset.min(end);
        *rows = rows.drain(start..end).collect();
    }
    if let Some(exprs) = &f.project {
        for r in rows.iter_mut() {
            *r = exprs.iter().map(|e| e.eval(r)).collect::<Result<_, _>>()?;
        }
    }
    Ok(())
}
