//! Rendering: each [`Plan`] node becomes differential-dataflow operators.
//!
//! A rendered plan is a pair of collections: `oks`, the rows, and `errs`,
//! evaluation errors raised while computing them (Materialize's design).
//! An error never stops the dataflow; it is a record that readers of the
//! view are told about.
//!
//! A view's errors are its own operators' and those of every collection
//! it reads, transitively. Each view arranges only its own (none when no
//! operator of it can fail) and lists the collections whose arrangements
//! hold the rest ([`TraceBundle::err_ids`]); readers take the union. A
//! view importing its inputs' errors instead would pay, at every
//! timestamp, for an import per input, a concatenation and an arrangement
//! of errors that are already arranged upstream. On the saga benchmark
//! (views/, 1,000 orders/s, two runs each) this took the views from 421
//! operators to 359, the worker's CPU per timestamp from 3.1-3.5 ms to
//! 2.3-2.7 ms, and latency p50 from 25-31 ms to 19-23 ms.
//!
//! Semantics per node are documented on [`Plan`]. Where each node goes:
//! - chains of Map, Filter and Project: one operator, [`row_ops`], and
//!   the same operator that reads the collection when they cannot fail
//!   ([`fused`]);
//! - inner joins and anti-joins, over arrangements they share: [`join`];
//! - left outer joins, a chain of them on one key as one: [`left_join`];
//! - aggregates: [`accumulate`] when every one adds up (count, sum, avg),
//!   else recomputed per group ([`group`]) in [`reduce`]'s operator;
//! - TopK: each group kept sorted, [`top_k`];
//! - window functions: [`window`].
//!
//! The operators of our own keep their state in hash maps and hold updates
//! until their time is complete ([`stash`]); row work that can fail is one
//! operator with two outputs ([`fallible`]). Views, tables and joins keep
//! their rows in arrangements as [`SharedRow`]s, converted by the arrange
//! operator itself ([`arrange`]).

mod accumulate;
pub mod arrange;
mod fallible;
mod flat_map;
mod fused;
mod group;
mod join;
mod left_join;
mod reduce;
mod row_ops;
pub use row_ops::constant_rows;
mod stash;
pub mod state;
mod top_k;
mod window;

use crate::expr::{AggregateExpr, EvalError, ScalarExpr};
use crate::plan::Plan;
use crate::repr::{Datum, Row, SharedRow};
use crate::{Diff, GlobalId, Timestamp};
use differential_dataflow::operators::arrange::TraceAgent;
use differential_dataflow::trace::implementations::KeySpine;
use differential_dataflow::{AsCollection, VecCollection};
use row_ops::RowOps;
use std::collections::HashMap;
use timely::dataflow::operators::ToStream;
use timely::dataflow::Scope;

/// An arranged collection of rows, shared between dataflows.
pub type RowTrace = TraceAgent<KeySpine<SharedRow, Timestamp, Diff>>;
/// An arranged collection of evaluation errors.
pub type ErrTrace = TraceAgent<KeySpine<EvalError, Timestamp, Diff>>;

/// The arrangements a collection is kept in: its rows and its errors.
#[derive(Clone)]
pub struct TraceBundle {
    pub oks: RowTrace,
    /// The errors this collection's own operators raised; None when none
    /// of them can fail (and for a table: rows are checked before they
    /// are written).
    pub errs: Option<ErrTrace>,
    /// Every collection whose `errs` hold errors of this one: itself when
    /// it has `errs`, and those of the collections it reads. A reader of
    /// its errors reads the union of theirs.
    pub err_ids: Vec<GlobalId>,
}

impl TraceBundle {
    /// The `err_ids` of a collection reading `inputs`, with errors of its
    /// own (`own`) or not.
    pub fn err_ids_of(id: GlobalId, own: bool, inputs: &[GlobalId], traces: &HashMap<GlobalId, TraceBundle>) -> Vec<GlobalId> {
        let mut ids: Vec<GlobalId> = inputs.iter().filter_map(|i| traces.get(i)).flat_map(|b| b.err_ids.iter().copied()).collect();
        if own {
            ids.push(id);
        }
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

pub type Rows<'s> = VecCollection<'s, Timestamp, Row, Diff>;
pub type Errs<'s> = VecCollection<'s, Timestamp, EvalError, Diff>;

/// Renders `plan` in `scope`, importing the rows of the objects it reads
/// from `traces`; the errors are those its own operators raise (None when
/// none can fail). `state` reports the state its operators of our own keep.
pub fn render<'s>(plan: &Plan, scope: Scope<'s, Timestamp>, traces: &mut HashMap<GlobalId, TraceBundle>, state: &state::StateReport) -> (Rows<'s>, Option<Errs<'s>>) {
    let mut ctx = Context { scope, traces, locals: HashMap::new(), errs: Vec::new(), arranged: HashMap::new(), state: state.clone() };
    let oks = ctx.render(plan);
    let errs = std::mem::take(&mut ctx.errs);
    let errs = (!errs.is_empty()).then(|| differential_dataflow::collection::concatenate(scope, errs));
    (oks, errs)
}

/// What rendering one dataflow keeps track of.
struct Context<'a, 's> {
    scope: Scope<'s, Timestamp>,
    /// The arrangements of tables, sources and views, to import.
    traces: &'a mut HashMap<GlobalId, TraceBundle>,
    /// The collections bound by enclosing [`Plan::Let`]s.
    locals: HashMap<u64, Rows<'s>>,
    /// Every operator's evaluation errors, concatenated at the end.
    errs: Vec<Errs<'s>>,
    /// Arrangements by key of named collections, shared by every join of
    /// this dataflow that keys the same collection the same way (see
    /// [`join`]).
    arranged: HashMap<join::ArrangementKey, join::KeyedArrangement<'s>>,
    /// Where the operators of our own register their state.
    state: state::StateReport,
}

impl<'s> Context<'_, 's> {
    fn render(&mut self, plan: &Plan) -> Rows<'s> {
        let scope = self.scope;
        match plan {
            Plan::Let { id, value, body } => {
                let v = self.render(value);
                let shadowed = self.locals.insert(*id, v);
                let out = self.render(body);
                match shadowed {
                    Some(s) => self.locals.insert(*id, s),
                    None => self.locals.remove(id),
                };
                out
            }
            Plan::LocalGet { id, .. } => self.locals.get(id).unwrap_or_else(|| panic!("no binding for l{}", id)).clone(),
            Plan::Constant { rows, .. } => {
                let rows: Vec<(Row, Timestamp, Diff)> = if scope.index() == 0 { rows.iter().map(|(r, d)| (r.clone(), 0, *d)).collect() } else { Vec::new() };
                rows.to_stream(scope).as_collection()
            }
            Plan::Get { id, .. } => self.import_map(*id, |r| Some(r.to_vec())),
            Plan::Map { .. } | Plan::Filter { .. } | Plan::Project { .. } => {
                if let Some(rows) = self.fused_rows(plan) {
                    return rows;
                }
                let (ops, below) = RowOps::of(plan).expect("a Map, Filter or Project");
                let rows = self.render(below);
                let rows = if ops.is_volatile() { rows.consolidate() } else { rows };
                self.fallible(rows, "RowOps", ops.can_fail(), move |row: Row| ops.apply(row))
            }
            Plan::FlatMap { input, func, args, ordinality, outer } => {
                let rows = self.render(input);
                let (func, args, ordinality, outer) = (*func, args.clone(), *ordinality, *outer);
                self.fallible(rows, "FlatMap", true, move |row: Row| flat_map::call(row, func, &args, ordinality, outer))
            }
            Plan::Join { left, right, left_key, right_key, null_eq } => {
                let l = self.arrange(left, left_key, *null_eq);
                let r = self.arrange(right, right_key, *null_eq);
                join::inner(l, r)
            }
            Plan::AntiJoin { left, right, left_key, right_key, null_eq } => {
                let rows = self.render(left);
                let l = self.arrange_rendered(left, Some(rows.clone()), left_key, *null_eq);
                let r = self.arrange(right, right_key, *null_eq);
                join::anti(rows, l, r)
            }
            Plan::LeftJoin { left, left_key, rights, null_eq } => {
                let l = self.render_left_keyed(left, left_key.clone(), *null_eq);
                let rs = rights.iter().map(|side| (self.render_keyed(&side.plan, side.key.clone(), *null_eq), side.plan.arity())).collect();
                left_join::render(l, rs, &self.state)
            }
            Plan::Reduce { input, group_key, aggregates } if accumulate::applies(aggregates) => {
                let keyed = self.render_keyed(input, group_key.clone(), true);
                let aggs = aggregates.clone();
                let can_fail = aggs.iter().any(AggregateExpr::inputs_can_fail);
                let contributions = self.fallible(keyed, "Contributions", can_fail, move |(key, row): (Row, Row)| {
                    let (c, e) = accumulate::contribution(&row, &aggs);
                    std::iter::once(Ok((key, c))).chain(e.map(Err))
                });
                // The inputs' errors were the contributions'.
                if aggregates.iter().any(AggregateExpr::result_can_fail) {
                    let results = accumulate::render(contributions, aggregates.clone(), &self.state, Some);
                    self.fallible(results, "Results", true, Some)
                } else {
                    accumulate::render(contributions, aggregates.clone(), &self.state, |r| fused::infallible(r, "Accumulate"))
                }
            }
            Plan::Reduce { input, group_key, aggregates } => {
                let keyed = self.render_keyed(input, group_key.clone(), true);
                let aggs = aggregates.clone();
                if aggregates.iter().any(AggregateExpr::can_fail) {
                    let results = reduce::render(keyed, "Reduce", &self.state, move |key: &Row, vals: &[(&Row, Diff)], out: &mut Vec<(Result<Row, EvalError>, Diff)>| {
                        out.push((group::aggregate(key, vals, &aggs), 1));
                    });
                    self.fallible(results, "Results", true, Some)
                } else {
                    // Rows straight out, with no operator to split off errors.
                    reduce::render(keyed, "Reduce", &self.state, move |key: &Row, vals: &[(&Row, Diff)], out: &mut Vec<(Row, Diff)>| {
                        out.extend(fused::infallible(group::aggregate(key, vals, &aggs), "Reduce").map(|row| (row, 1)));
                    })
                }
            }
            Plan::Distinct { input } => self.render(input).distinct_core::<Diff>(),
            Plan::Union { inputs } => {
                let parts: Vec<Rows<'s>> = inputs.iter().map(|p| self.render(p)).collect();
                differential_dataflow::collection::concatenate(scope, parts)
            }
            Plan::Negate { input } => self.render(input).negate(),
            Plan::Threshold { input } => self.render(input).threshold(|_, d: &Diff| if *d > 0 { *d } else { 0 }),
            Plan::TopK { input, group_key, order_by, limit, offset } => {
                let cols = group_key.clone();
                let keyed = self.render(input).map(move |row: Row| (cols.iter().map(|c| row[*c].clone()).collect::<Row>(), row));
                top_k::render(keyed, order_by.clone(), *limit, *offset, &self.state)
            }
            Plan::Window { input, partition_by, order_by, exprs } => {
                let keyed = self.render_keyed(input, partition_by.clone(), true);
                let results = window::render(keyed, order_by.clone(), exprs.clone(), &self.state);
                self.fallible(results, "Results", true, Some)
            }
        }
    }

    /// `plan`'s rows arranged by `key`: the arrangement already made for the
    /// same collection and key when `plan` names a collection (a `Get` or a
    /// `LocalGet`), else a new one.
    fn arrange(&mut self, plan: &Plan, key: &[ScalarExpr], null_eq: bool) -> join::KeyedArrangement<'s> {
        self.arrange_rendered(plan, None, key, null_eq)
    }

    /// [`Self::arrange`], given `plan`'s rows when they are rendered already.
    fn arrange_rendered(&mut self, plan: &Plan, rows: Option<Rows<'s>>, key: &[ScalarExpr], null_eq: bool) -> join::KeyedArrangement<'s> {
        let name = join::ArrangementKey::of(plan, key, null_eq);
        if let Some(a) = name.as_ref().and_then(|n| self.arranged.get(n)) {
            return a.clone();
        }
        let keyed = match rows {
            Some(r) => self.keyed(r, key.to_vec(), null_eq),
            None => self.render_keyed(plan, key.to_vec(), null_eq),
        };
        let arranged = arrange::arrange_by_key(keyed, "ArrangeByKey");
        if let Some(n) = name {
            self.arranged.insert(n, arranged.clone());
        }
        arranged
    }

    /// Pairs each row with its key; with `null_eq` false, rows whose key has
    /// a NULL are dropped (they can never join).
    fn keyed(&mut self, rows: Rows<'s>, key: Vec<ScalarExpr>, null_eq: bool) -> VecCollection<'s, Timestamp, (Row, Row), Diff> {
        let can_fail = key.iter().any(ScalarExpr::can_fail);
        self.fallible(rows, "Key", can_fail, move |row: Row| Some(key_of(&key, &row, null_eq)?.map(|k| (k, row))))
    }

    /// [`Self::keyed`] over `plan`'s rows. A chain of Map, Filter and
    /// Project at the top of `plan` runs in the same operator as the key:
    /// one operator fewer, for timely to schedule at every timestamp.
    fn render_keyed(&mut self, plan: &Plan, key: Vec<ScalarExpr>, null_eq: bool) -> VecCollection<'s, Timestamp, (Row, Row), Diff> {
        if let Some(keyed) = self.fused_keyed(plan, &key, null_eq) {
            return keyed;
        }
        let (rows, ops) = self.render_below_row_ops(plan);
        let can_fail = ops.as_ref().is_some_and(RowOps::can_fail) || key.iter().any(ScalarExpr::can_fail);
        self.fallible(rows, if ops.is_some() { "RowOps+Key" } else { "Key" }, can_fail, move |row: Row| {
            let row = match RowOps::apply_some(&ops, row)? {
                Ok(row) => row,
                Err(e) => return Some(Err(e)),
            };
            Some(key_of(&key, &row, null_eq)?.map(|k| (k, row)))
        })
    }

    /// Pairs each row of `plan` with its key for the left side of a left
    /// join: `None` when the key has a NULL (without `null_eq`) or fails to
    /// evaluate (the error goes to the errs collection too), as such a row
    /// matches nothing but is still in the output. A Map, Filter and
    /// Project chain at the top of `plan` runs in the same operator.
    fn render_left_keyed(&mut self, plan: &Plan, key: Vec<ScalarExpr>, null_eq: bool) -> left_join::LeftKeyed<'s> {
        if let Some(keyed) = self.fused_left_keyed(plan, &key, null_eq) {
            return keyed;
        }
        let (rows, ops) = self.render_below_row_ops(plan);
        let can_fail = ops.as_ref().is_some_and(RowOps::can_fail) || key.iter().any(ScalarExpr::can_fail);
        self.fallible(rows, if ops.is_some() { "RowOps+Key" } else { "Key" }, can_fail, move |row: Row| {
            let row = match RowOps::apply_some(&ops, row) {
                Some(Ok(row)) => row,
                Some(Err(e)) => return [Some(Err(e)), None].into_iter().flatten(),
                None => return [None, None].into_iter().flatten(),
            };
            match key_of(&key, &row, null_eq) {
                Some(Ok(k)) => [Some(Ok((Some(k), row))), None],
                None => [Some(Ok((None, row))), None],
                Some(Err(e)) => [Some(Err(e)), Some(Ok((None, row)))],
            }
            .into_iter()
            .flatten()
        })
    }

    /// The rows below the chain of Map, Filter and Project at the top of
    /// `plan`, and that chain (`None` when `plan` is not such a node: the
    /// rows are then `plan`'s).
    fn render_below_row_ops(&mut self, plan: &Plan) -> (Rows<'s>, Option<RowOps>) {
        match RowOps::of(plan) {
            Some((ops, below)) if ops.is_volatile() => (self.render(below).consolidate(), Some(ops)),
            Some((ops, below)) => (self.render(below), Some(ops)),
            None => (self.render(plan), None),
        }
    }

    /// `logic` over every update of `input`; its errors join the dataflow's
    /// error collection unless it cannot fail (see [`fallible`]).
    fn fallible<D, D2, I, L>(&mut self, input: VecCollection<'s, Timestamp, D, Diff>, name: &str, can_fail: bool, logic: L) -> VecCollection<'s, Timestamp, D2, Diff>
    where
        D: differential_dataflow::Data,
        D2: differential_dataflow::Data,
        I: IntoIterator<Item = Result<D2, EvalError>>,
        L: FnMut(D) -> I + 'static,
    {
        let (oks, errs) = fallible::flat_map_fallible(input, name, can_fail, logic);
        self.errs.extend(errs);
        oks
    }
}

/// The key of `row`: `None` when it has a NULL and `null_eq` is false
/// (such a row can never match), the error when one fails to evaluate.
fn key_of(key: &[ScalarExpr], row: &Row, null_eq: bool) -> Option<Result<Row, EvalError>> {
    let mut k = Vec::with_capacity(key.len());
    for e in key {
        match e.eval(row) {
            Ok(Datum::Null) if !null_eq => return None,
            Ok(v) => k.push(v),
            Err(e) => return Some(Err(e)),
        }
    }
    Some(Ok(k))
}
