//! Rendering: each [`Plan`] node becomes differential-dataflow operators.
//!
//! A rendered plan is a pair of collections: `oks`, the rows, and `errs`,
//! evaluation errors raised while computing them (Materialize's design).
//! An error never stops the dataflow; it is a record that readers of the
//! view are told about.
//!
//! Semantics per node are documented on [`Plan`]; the reductions that need a
//! whole group at once (aggregates, TopK) live in [`group`], window
//! functions in [`window`].

mod accumulate;
mod group;
mod window;

use crate::expr::{EvalError, ScalarExpr};
use crate::plan::Plan;
use crate::repr::{Datum, Row};
use crate::{Diff, GlobalId, Timestamp};
use differential_dataflow::operators::arrange::TraceAgent;
use differential_dataflow::trace::implementations::KeySpine;
use differential_dataflow::{AsCollection, VecCollection};
use std::collections::HashMap;
use timely::dataflow::operators::ToStream;
use timely::dataflow::Scope;

/// An arranged collection of rows, shared between dataflows.
pub type RowTrace = TraceAgent<KeySpine<Row, Timestamp, Diff>>;
/// An arranged collection of evaluation errors.
pub type ErrTrace = TraceAgent<KeySpine<EvalError, Timestamp, Diff>>;

/// The arrangements a collection is kept in: its rows and its errors.
#[derive(Clone)]
pub struct TraceBundle {
    pub oks: RowTrace,
    pub errs: ErrTrace,
}

pub type Rows<'s> = VecCollection<'s, Timestamp, Row, Diff>;
pub type Errs<'s> = VecCollection<'s, Timestamp, EvalError, Diff>;

/// Renders `plan` in `scope`, importing the arrangements of the objects it
/// reads from `traces`.
pub fn render<'s>(plan: &Plan, scope: Scope<'s, Timestamp>, traces: &mut HashMap<GlobalId, TraceBundle>) -> (Rows<'s>, Errs<'s>) {
    let mut errs = Vec::new();
    let oks = render_inner(plan, scope, traces, &mut HashMap::new(), &mut errs);
    let errs = differential_dataflow::collection::concatenate(scope, errs);
    (oks, errs)
}

/// `locals` holds the collections bound by enclosing [`Plan::Let`]s.
fn render_inner<'s>(plan: &Plan, scope: Scope<'s, Timestamp>, traces: &mut HashMap<GlobalId, TraceBundle>, locals: &mut HashMap<u64, Rows<'s>>, errs: &mut Vec<Errs<'s>>) -> Rows<'s> {
    if let Plan::Let { id, value, body } = plan {
        let v = render_inner(value, scope, traces, locals, errs);
        let shadowed = locals.insert(*id, v);
        let out = render_inner(body, scope, traces, locals, errs);
        match shadowed {
            Some(s) => locals.insert(*id, s),
            None => locals.remove(id),
        };
        return out;
    }
    if let Plan::LocalGet { id, .. } = plan {
        return locals.get(id).unwrap_or_else(|| panic!("no binding for l{}", id)).clone();
    }
    let mut input = |p: &Plan, errs: &mut Vec<Errs<'s>>| render_inner(p, scope, traces, locals, errs);
    match plan {
        Plan::Let { .. } | Plan::LocalGet { .. } => unreachable!("handled above"),
        Plan::Constant { rows, .. } => {
            let rows: Vec<(Row, Timestamp, Diff)> = if scope.index() == 0 { rows.iter().map(|(r, d)| (r.clone(), 0, *d)).collect() } else { Vec::new() };
            rows.to_stream(scope).as_collection()
        }
        Plan::Get { id, .. } => {
            let bundle = traces.get_mut(id).unwrap_or_else(|| panic!("no arrangement for u{}", id));
            // History before the compaction frontier arrives as one
            // snapshot at that frontier: a new dataflow computes from the
            // current contents once instead of replaying each earlier
            // change (which could also leave an earlier but equal value,
            // such as numeric `0` where the contents say `0.00`).
            errs.push(bundle.errs.import_frontier(scope, "ErrsSource").0.as_collection(|e, _| e.clone()));
            bundle.oks.import_frontier(scope, "RowsSource").0.as_collection(|r, _| r.clone())
        }
        Plan::Map { input: i, exprs } => {
            let exprs = exprs.clone();
            let results = input(i, errs).map(move |mut row: Row| {
                for e in &exprs {
                    let v = e.eval(&row)?;
                    row.push(v);
                }
                Ok(row)
            });
            split(results, errs)
        }
        Plan::Filter { input: i, predicates } => {
            let preds = predicates.clone();
            let results = input(i, errs).flat_map(move |row: Row| {
                let mut keep = Ok(true);
                for p in &preds {
                    match p.eval_predicate(&row) {
                        Ok(true) => {}
                        other => {
                            keep = other;
                            break;
                        }
                    }
                }
                match keep {
                    Ok(true) => Some(Ok(row)),
                    Ok(false) => None,
                    Err(e) => Some(Err(e)),
                }
            });
            split(results, errs)
        }
        Plan::Project { input: i, columns } => {
            let columns = columns.clone();
            input(i, errs).map(move |row: Row| columns.iter().map(|c| row[*c].clone()).collect())
        }
        Plan::Join { left, right, left_key, right_key, null_eq } => {
            let l = keyed(input(left, errs), left_key.clone(), *null_eq, errs);
            let r = keyed(input(right, errs), right_key.clone(), *null_eq, errs);
            l.join_map(r, |_k, l: &Row, r: &Row| {
                let mut out = Vec::with_capacity(l.len() + r.len());
                out.extend(l.iter().cloned());
                out.extend(r.iter().cloned());
                out
            })
        }
        Plan::Reduce { input: i, group_key, aggregates } if accumulate::applies(aggregates) => {
            let keyed = keyed(input(i, errs), group_key.clone(), true, errs);
            let aggs = aggregates.clone();
            let contributions = keyed.map(move |(key, row)| {
                let (c, e) = accumulate::contribution(&row, &aggs);
                ((key, c), e)
            });
            errs.push(contributions.clone().flat_map(|(_, e)| e));
            let contributions = contributions.map(|(kc, _)| kc);
            let aggs = aggregates.clone();
            let totals = contributions.explode(|(key, c): (Row, accumulate::Accums)| Some((key, c))).count_core::<Diff>();
            let results = totals.flat_map(move |(key, totals)| accumulate::finish(&key, &totals, &aggs));
            split(results, errs)
        }
        Plan::Reduce { input: i, group_key, aggregates } => {
            let keyed = keyed(input(i, errs), group_key.clone(), true, errs);
            let aggs = aggregates.clone();
            let results = keyed.reduce(move |key: &Row, vals: &[(&Row, Diff)], out: &mut Vec<(Result<Row, EvalError>, Diff)>| {
                out.push((group::aggregate(key, vals, &aggs), 1));
            });
            split(results.map(|(_, r)| r), errs)
        }
        Plan::Distinct { input: i } => input(i, errs).distinct_core::<Diff>(),
        Plan::Union { inputs } => {
            let parts: Vec<Rows<'s>> = inputs.iter().map(|p| input(p, errs)).collect();
            differential_dataflow::collection::concatenate(scope, parts)
        }
        Plan::Negate { input: i } => input(i, errs).negate(),
        Plan::Threshold { input: i } => input(i, errs).threshold(|_, d: &Diff| if *d > 0 { *d } else { 0 }),
        Plan::TopK { input: i, group_key, order_by, limit, offset } => {
            let cols = group_key.clone();
            let keyed = input(i, errs).map(move |row: Row| (cols.iter().map(|c| row[*c].clone()).collect::<Row>(), row));
            let (order_by, limit, offset) = (order_by.clone(), *limit, *offset);
            keyed
                .reduce(move |_key: &Row, vals: &[(&Row, Diff)], out: &mut Vec<(Row, Diff)>| group::top_k(vals, &order_by, limit, offset, out))
                .map(|(_, row)| row)
        }
        Plan::Window { input: i, partition_by, order_by, exprs } => {
            let keyed = keyed(input(i, errs), partition_by.clone(), true, errs);
            split(window::render(keyed, order_by.clone(), exprs.clone()), errs)
        }
    }
}

/// Pairs each row with its key; with `null_eq` false, rows whose key has a
/// NULL are dropped (they can never join).
fn keyed<'s>(rows: Rows<'s>, key: Vec<ScalarExpr>, null_eq: bool, errs: &mut Vec<Errs<'s>>) -> VecCollection<'s, Timestamp, (Row, Row), Diff> {
    let results = rows.flat_map(move |row: Row| {
        let mut k = Vec::with_capacity(key.len());
        for e in &key {
            match e.eval(&row) {
                Ok(Datum::Null) if !null_eq => return None,
                Ok(v) => k.push(v),
                Err(e) => return Some(Err(e)),
            }
        }
        Some(Ok((k, row)))
    });
    let (oks, e) = split_any(results);
    errs.push(e);
    oks
}

fn split<'s>(results: VecCollection<'s, Timestamp, Result<Row, EvalError>, Diff>, errs: &mut Vec<Errs<'s>>) -> Rows<'s> {
    let (oks, e) = split_any(results);
    errs.push(e);
    oks
}

fn split_any<'s, D: differential_dataflow::Data>(results: VecCollection<'s, Timestamp, Result<D, EvalError>, Diff>) -> (VecCollection<'s, Timestamp, D, Diff>, Errs<'s>) {
    let errs = results.clone().flat_map(|r| r.err());
    (results.flat_map(|r| r.ok()), errs)
}
