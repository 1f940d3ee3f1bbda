//! Shared pieces of the operator tests: a seeded PRNG, expression and plan
//! builders, a from-scratch reference evaluator of the plan IR, and a harness
//! that drives an [`Engine`] through random changes and compares every peek
//! with the reference (in the manner of differential-dataflow's
//! `tests/reduce_reference.rs`).
//!
//! The reference evaluator is deliberately naive: collections are
//! `BTreeMap<Row, Diff>`, joins are nested loops, groups are gathered into
//! vectors of rows with every multiplicity expanded, and orders are computed
//! by sorting. It reuses the engine's scalar evaluation (`ScalarExpr::eval`,
//! `AggregateExpr::eval`) but nothing of the renderer, and computes window
//! functions itself.

#![allow(dead_code)]

use eddy_engine::expr::{AggregateExpr, AggregateFunc, BinaryFunc, EvalError, ScalarExpr, SortKey, UnaryFunc, VariadicFunc, WindowExpr, WindowFrame, WindowFunc};
use eddy_engine::plan::Plan;
use eddy_engine::runtime::{Command, Engine, PeekResponse};
use eddy_engine::{Datum, Diff, GlobalId, Row, ScalarType, Timestamp};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::mpsc::channel;
use std::sync::Arc;
use std::time::Duration;

// ---------------------------------------------------------------------------
// PRNG

/// splitmix64: small, seeded, good enough for test inputs.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
    /// True with probability `num / den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
}

// ---------------------------------------------------------------------------
// Builders

pub const I64: ScalarType = ScalarType::Int64;
pub const NUMERIC: ScalarType = ScalarType::Numeric { precision: None, scale: None };

pub fn col(i: usize) -> ScalarExpr {
    ScalarExpr::Column(i)
}
pub fn int(i: i64) -> ScalarExpr {
    ScalarExpr::Literal(Datum::Int(i), I64)
}
pub fn text(s: &str) -> ScalarExpr {
    ScalarExpr::Literal(Datum::text(s), ScalarType::Text)
}
pub fn bin(func: BinaryFunc, a: ScalarExpr, b: ScalarExpr) -> ScalarExpr {
    a.call_binary(func, b)
}
pub fn add(a: ScalarExpr, b: ScalarExpr) -> ScalarExpr {
    bin(BinaryFunc::Add(I64), a, b)
}
pub fn sub(a: ScalarExpr, b: ScalarExpr) -> ScalarExpr {
    bin(BinaryFunc::Sub(I64), a, b)
}
pub fn mul(a: ScalarExpr, b: ScalarExpr) -> ScalarExpr {
    bin(BinaryFunc::Mul(I64), a, b)
}
pub fn div(a: ScalarExpr, b: ScalarExpr) -> ScalarExpr {
    bin(BinaryFunc::Div(I64), a, b)
}
pub fn modulo(a: ScalarExpr, b: ScalarExpr) -> ScalarExpr {
    bin(BinaryFunc::Mod(I64), a, b)
}
pub fn eq(a: ScalarExpr, b: ScalarExpr) -> ScalarExpr {
    bin(BinaryFunc::Eq, a, b)
}
pub fn ne(a: ScalarExpr, b: ScalarExpr) -> ScalarExpr {
    bin(BinaryFunc::NotEq, a, b)
}
pub fn gt(a: ScalarExpr, b: ScalarExpr) -> ScalarExpr {
    bin(BinaryFunc::Gt, a, b)
}
pub fn lt(a: ScalarExpr, b: ScalarExpr) -> ScalarExpr {
    bin(BinaryFunc::Lt, a, b)
}
pub fn concat(a: ScalarExpr, b: ScalarExpr) -> ScalarExpr {
    bin(BinaryFunc::TextConcat, a, b)
}
pub fn and(es: Vec<ScalarExpr>) -> ScalarExpr {
    ScalarExpr::CallVariadic { func: VariadicFunc::And, exprs: es }
}
pub fn or(es: Vec<ScalarExpr>) -> ScalarExpr {
    ScalarExpr::CallVariadic { func: VariadicFunc::Or, exprs: es }
}
pub fn coalesce(es: Vec<ScalarExpr>) -> ScalarExpr {
    ScalarExpr::CallVariadic { func: VariadicFunc::Coalesce, exprs: es }
}
pub fn is_null(e: ScalarExpr) -> ScalarExpr {
    e.call_unary(UnaryFunc::IsNull)
}
pub fn is_not_null(e: ScalarExpr) -> ScalarExpr {
    e.call_unary(UnaryFunc::IsNotNull)
}
pub fn case(cond: ScalarExpr, then: ScalarExpr, els: ScalarExpr) -> ScalarExpr {
    ScalarExpr::If { cond: Box::new(cond), then: Box::new(then), els: Box::new(els) }
}
pub fn asc(e: ScalarExpr) -> SortKey {
    // PostgreSQL's default: NULLS LAST for ascending order.
    SortKey { expr: e, desc: false, nulls_first: false }
}
pub fn desc(e: ScalarExpr) -> SortKey {
    // PostgreSQL's default: NULLS FIRST for descending order.
    SortKey { expr: e, desc: true, nulls_first: true }
}
pub fn sort(e: ScalarExpr, desc: bool, nulls_first: bool) -> SortKey {
    SortKey { expr: e, desc, nulls_first }
}

pub fn agg(func: AggregateFunc, args: Vec<ScalarExpr>, output: ScalarType) -> AggregateExpr {
    AggregateExpr { func, args, distinct: false, filter: None, order_by: vec![], output, exact_input: true }
}
pub fn count_star() -> AggregateExpr {
    agg(AggregateFunc::Count, vec![], I64)
}

pub fn win(func: WindowFunc, args: Vec<ScalarExpr>, frame: WindowFrame) -> WindowExpr {
    WindowExpr { func, args, frame }
}

pub fn get(id: GlobalId, arity: usize) -> Plan {
    Plan::Get { id, arity }
}
pub fn map(input: Plan, exprs: Vec<ScalarExpr>) -> Plan {
    Plan::Map { input: input.boxed(), exprs }
}
pub fn filter(input: Plan, predicates: Vec<ScalarExpr>) -> Plan {
    Plan::Filter { input: input.boxed(), predicates }
}
pub fn project(input: Plan, columns: Vec<usize>) -> Plan {
    Plan::Project { input: input.boxed(), columns }
}
pub fn join(left: Plan, right: Plan, left_key: Vec<ScalarExpr>, right_key: Vec<ScalarExpr>, null_eq: bool) -> Plan {
    Plan::Join { left: left.boxed(), right: right.boxed(), left_key, right_key, null_eq }
}
pub fn anti_join(left: Plan, right: Plan, left_key: Vec<ScalarExpr>, right_key: Vec<ScalarExpr>, null_eq: bool) -> Plan {
    Plan::AntiJoin { left: left.boxed(), right: right.boxed(), left_key, right_key, null_eq }
}
/// Through the engine's constructor, which makes a chain of left joins on
/// one key a single node with several right sides.
pub fn left_join(left: Plan, right: Plan, left_key: Vec<ScalarExpr>, right_key: Vec<ScalarExpr>, null_eq: bool) -> Plan {
    Plan::left_join(left, right, left_key, right_key, null_eq)
}
pub fn reduce(input: Plan, group_key: Vec<ScalarExpr>, aggregates: Vec<AggregateExpr>) -> Plan {
    Plan::Reduce { input: input.boxed(), group_key, aggregates }
}
pub fn distinct(input: Plan) -> Plan {
    Plan::Distinct { input: input.boxed() }
}
pub fn union(inputs: Vec<Plan>) -> Plan {
    Plan::Union { inputs }
}
pub fn negate(input: Plan) -> Plan {
    Plan::Negate { input: input.boxed() }
}
pub fn threshold(input: Plan) -> Plan {
    Plan::Threshold { input: input.boxed() }
}
/// `a EXCEPT ALL b`.
pub fn except_all(a: Plan, b: Plan) -> Plan {
    threshold(union(vec![a, negate(b)]))
}
pub fn top_k(input: Plan, group_key: Vec<usize>, order_by: Vec<SortKey>, limit: Option<usize>, offset: usize) -> Plan {
    Plan::TopK { input: input.boxed(), group_key, order_by, limit, offset }
}
pub fn window(input: Plan, partition_by: Vec<ScalarExpr>, order_by: Vec<SortKey>, exprs: Vec<WindowExpr>) -> Plan {
    Plan::Window { input: input.boxed(), partition_by, order_by, exprs }
}

// ---------------------------------------------------------------------------
// Reference evaluator

/// A multiset of rows; no entry has multiplicity zero.
pub type Multiset = BTreeMap<Row, Diff>;

pub fn update(m: &mut Multiset, row: Row, diff: Diff) {
    if diff == 0 {
        return;
    }
    let e = m.entry(row.clone()).or_insert(0);
    *e += diff;
    if *e == 0 {
        m.remove(&row);
    }
}

/// Every row of `m` repeated by its multiplicity (which must be positive).
fn expand(m: &Multiset) -> Vec<Row> {
    let mut out = Vec::new();
    for (r, d) in m {
        assert!(*d > 0, "reference: negative multiplicity {} for {:?} fed to a grouping operator", d, r);
        for _ in 0..*d {
            out.push(r.clone());
        }
    }
    out
}

/// Evaluates `exprs` over `row` one after another; a NULL (with `!null_eq`)
/// drops the row, an error is recorded and drops it.
fn key_of(exprs: &[ScalarExpr], row: &Row, null_eq: bool, errs: &mut BTreeSet<EvalError>) -> Option<Row> {
    let mut k = Vec::new();
    for e in exprs {
        match e.eval(row) {
            Ok(Datum::Null) if !null_eq => return None,
            Ok(v) => k.push(v),
            Err(e) => {
                errs.insert(e);
                return None;
            }
        }
    }
    Some(k)
}

/// Orders two rows by ORDER BY keys, written out without `SortKey::compare`.
fn cmp_by(keys: &[SortKey], a: &Row, b: &Row) -> Ordering {
    for k in keys {
        let x = k.expr.eval(a).unwrap_or(Datum::Null);
        let y = k.expr.eval(b).unwrap_or(Datum::Null);
        let o = match (&x, &y) {
            (Datum::Null, Datum::Null) => Ordering::Equal,
            // NULLS FIRST puts NULL before every value whichever the direction.
            (Datum::Null, _) => if k.nulls_first { Ordering::Less } else { Ordering::Greater },
            (_, Datum::Null) => if k.nulls_first { Ordering::Greater } else { Ordering::Less },
            _ => if k.desc { y.cmp(&x) } else { x.cmp(&y) },
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// Sorts by the keys, ties broken by the whole row (the engine's documented
/// choice, which makes ROW_NUMBER and TopK deterministic).
fn sort_rows(rows: &mut [Row], keys: &[SortKey]) {
    rows.sort_by(|a, b| cmp_by(keys, a, b).then_with(|| a.cmp(b)));
}

/// The contents of `plan` over `tables`, recomputed from scratch; evaluation
/// errors go to `errs`.
pub fn reference(plan: &Plan, tables: &HashMap<GlobalId, Multiset>, errs: &mut BTreeSet<EvalError>) -> Multiset {
    let mut out = Multiset::new();
    match plan {
        Plan::Constant { rows, .. } => {
            for (r, d) in rows {
                update(&mut out, r.clone(), *d);
            }
        }
        Plan::Get { id, .. } => out = tables.get(id).cloned().unwrap_or_default(),
        Plan::Map { input, exprs } => {
            'rows: for (row, d) in reference(input, tables, errs) {
                let mut row = row;
                for e in exprs {
                    match e.eval(&row) {
                        Ok(v) => row.push(v),
                        Err(e) => {
                            errs.insert(e);
                            continue 'rows;
                        }
                    }
                }
                update(&mut out, row, d);
            }
        }
        Plan::Filter { input, predicates } => {
            'rows: for (row, d) in reference(input, tables, errs) {
                for p in predicates {
                    match p.eval(&row) {
                        Ok(Datum::Bool(true)) => {}
                        Ok(_) => continue 'rows,
                        Err(e) => {
                            errs.insert(e);
                            continue 'rows;
                        }
                    }
                }
                update(&mut out, row, d);
            }
        }
        Plan::Project { input, columns } => {
            for (row, d) in reference(input, tables, errs) {
                update(&mut out, columns.iter().map(|c| row[*c].clone()).collect(), d);
            }
        }
        Plan::Join { left, right, left_key, right_key, null_eq } => {
            let l: Vec<(Row, Row, Diff)> = reference(left, tables, errs).into_iter().filter_map(|(r, d)| key_of(left_key, &r, *null_eq, errs).map(|k| (k, r, d))).collect();
            let r: Vec<(Row, Row, Diff)> = reference(right, tables, errs).into_iter().filter_map(|(r, d)| key_of(right_key, &r, *null_eq, errs).map(|k| (k, r, d))).collect();
            for (lk, lr, ld) in &l {
                for (rk, rr, rd) in &r {
                    if lk == rk {
                        let mut row = lr.clone();
                        row.extend(rr.iter().cloned());
                        update(&mut out, row, ld * rd);
                    }
                }
            }
        }
        Plan::AntiJoin { left, right, left_key, right_key, null_eq } => {
            let keys: BTreeSet<Row> = reference(right, tables, errs).into_iter().filter(|(_, d)| *d != 0).filter_map(|(r, _)| key_of(right_key, &r, *null_eq, errs)).collect();
            // A row whose key is NULL (without null_eq) or fails to
            // evaluate matches nothing, so it stays.
            for (row, d) in reference(left, tables, errs) {
                if !key_of(left_key, &row, *null_eq, errs).is_some_and(|k| keys.contains(&k)) {
                    update(&mut out, row, d);
                }
            }
        }
        Plan::LeftJoin { left, left_key, rights, null_eq } => {
            // The left key is evaluated once per left row. A row whose key is
            // NULL (without null_eq) or fails to evaluate matches nothing:
            // NULLs for every side. Each side joins in turn: the rows so far
            // with every matching row of the side, or its NULLs.
            let mut rows: Vec<(Option<Row>, Row, Diff)> = reference(left, tables, errs).into_iter().map(|(row, d)| (key_of(left_key, &row, *null_eq, errs), row, d)).collect();
            for side in rights {
                let nulls = vec![Datum::Null; side.plan.arity()];
                let r: Vec<(Row, Row, Diff)> = reference(&side.plan, tables, errs).into_iter().filter(|(_, d)| *d != 0).filter_map(|(r, d)| key_of(&side.key, &r, *null_eq, errs).map(|k| (k, r, d))).collect();
                let mut next = Vec::new();
                for (key, row, d) in rows {
                    let matches: Vec<&(Row, Row, Diff)> = r.iter().filter(|(k, _, _)| Some(k) == key.as_ref()).collect();
                    if matches.is_empty() {
                        let mut padded = row.clone();
                        padded.extend(nulls.iter().cloned());
                        next.push((key.clone(), padded, d));
                    }
                    for (_, rr, rd) in matches {
                        let mut joined = row.clone();
                        joined.extend(rr.iter().cloned());
                        next.push((key.clone(), joined, d * rd));
                    }
                }
                rows = next;
            }
            for (_, row, d) in rows {
                update(&mut out, row, d);
            }
        }
        Plan::Reduce { input, group_key, aggregates } => {
            let mut groups: BTreeMap<Row, Multiset> = BTreeMap::new();
            for (row, d) in reference(input, tables, errs) {
                if let Some(k) = key_of(group_key, &row, true, errs) {
                    update(groups.entry(k).or_default(), row, d);
                }
            }
            'groups: for (key, rows) in groups {
                // One row per copy, in row order.
                let rows = expand(&rows);
                let mut result = key;
                for a in aggregates {
                    match a.eval(rows.iter().map(|r| (r.as_slice(), 1))) {
                        Ok(v) => result.push(v),
                        Err(e) => {
                            errs.insert(e);
                            continue 'groups;
                        }
                    }
                }
                update(&mut out, result, 1);
            }
        }
        Plan::Distinct { input } => {
            for (row, d) in reference(input, tables, errs) {
                assert!(d > 0, "reference: Distinct over a negative multiplicity");
                update(&mut out, row, 1);
            }
        }
        Plan::Union { inputs } => {
            for i in inputs {
                for (row, d) in reference(i, tables, errs) {
                    update(&mut out, row, d);
                }
            }
        }
        Plan::Negate { input } => {
            for (row, d) in reference(input, tables, errs) {
                update(&mut out, row, -d);
            }
        }
        Plan::Threshold { input } => {
            for (row, d) in reference(input, tables, errs) {
                if d > 0 {
                    update(&mut out, row, d);
                }
            }
        }
        Plan::TopK { input, group_key, order_by, limit, offset } => {
            let mut groups: BTreeMap<Row, Multiset> = BTreeMap::new();
            for (row, d) in reference(input, tables, errs) {
                let k: Row = group_key.iter().map(|c| row[*c].clone()).collect();
                update(groups.entry(k).or_default(), row, d);
            }
            for rows in groups.values() {
                let mut rows = expand(rows);
                sort_rows(&mut rows, order_by);
                for row in rows.into_iter().skip(*offset).take(limit.unwrap_or(usize::MAX)) {
                    update(&mut out, row, 1);
                }
            }
        }
        Plan::Let { .. } => {
            for (row, d) in reference(&plan.inline_lets(), tables, errs) {
                update(&mut out, row, d);
            }
        }
        Plan::LocalGet { id, .. } => panic!("reference: no binding for l{}", id),
        Plan::Window { input, partition_by, order_by, exprs } => {
            let mut parts: BTreeMap<Row, Multiset> = BTreeMap::new();
            for (row, d) in reference(input, tables, errs) {
                if let Some(k) = key_of(partition_by, &row, true, errs) {
                    update(parts.entry(k).or_default(), row, d);
                }
            }
            'parts: for rows in parts.values() {
                let mut rows = expand(rows);
                sort_rows(&mut rows, order_by);
                let mut cols = Vec::new();
                for e in exprs {
                    match window_column(e, &rows, order_by) {
                        Ok(c) => cols.push(c),
                        Err(e) => {
                            errs.insert(e);
                            continue 'parts;
                        }
                    }
                }
                for (i, row) in rows.iter().enumerate() {
                    let mut row = row.clone();
                    row.extend(cols.iter().map(|c: &Vec<Datum>| c[i].clone()));
                    update(&mut out, row, 1);
                }
            }
        }
    }
    out
}

/// One window function over a sorted partition, computed naively: ranks by
/// counting, frames by scanning every row.
fn window_column(e: &WindowExpr, rows: &[Row], order_by: &[SortKey]) -> Result<Vec<Datum>, EvalError> {
    let n = rows.len();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let v = match &e.func {
            WindowFunc::RowNumber => Datum::Int(i as i64 + 1),
            WindowFunc::Rank => Datum::Int(1 + (0..n).filter(|&j| cmp_by(order_by, &rows[j], &rows[i]) == Ordering::Less).count() as i64),
            WindowFunc::DenseRank => {
                let mut smaller: Vec<&Row> = (0..n).filter(|&j| cmp_by(order_by, &rows[j], &rows[i]) == Ordering::Less).map(|j| &rows[j]).collect();
                smaller.dedup_by(|a, b| cmp_by(order_by, a, b) == Ordering::Equal);
                Datum::Int(1 + smaller.len() as i64)
            }
            WindowFunc::Lag | WindowFunc::Lead => {
                let offset = match e.args.get(1) {
                    None => Some(1),
                    Some(x) => match x.eval(&rows[i])? {
                        Datum::Int(k) => Some(k),
                        Datum::Null => None,
                        other => panic!("reference: lag offset {:?}", other),
                    },
                };
                match offset {
                    None => Datum::Null,
                    Some(k) => {
                        let j = if e.func == WindowFunc::Lag { i as i64 - k } else { i as i64 + k };
                        if (0..n as i64).contains(&j) {
                            e.args[0].eval(&rows[j as usize])?
                        } else {
                            match e.args.get(2) {
                                Some(d) => d.eval(&rows[i])?,
                                None => Datum::Null,
                            }
                        }
                    }
                }
            }
            WindowFunc::FirstValue | WindowFunc::LastValue | WindowFunc::Aggregate(_) => {
                let frame: Vec<usize> = (0..n)
                    .filter(|&j| match e.frame {
                        WindowFrame::Partition => true,
                        WindowFrame::RangeToCurrent => cmp_by(order_by, &rows[j], &rows[i]) != Ordering::Greater,
                        WindowFrame::Rows { start, end } => {
                            let d = j as i64 - i as i64;
                            start.is_none_or(|s| d >= s) && end.is_none_or(|en| d <= en)
                        }
                    })
                    .collect();
                match &e.func {
                    WindowFunc::FirstValue => match frame.first() {
                        Some(&j) => e.args[0].eval(&rows[j])?,
                        None => Datum::Null,
                    },
                    WindowFunc::LastValue => match frame.last() {
                        Some(&j) => e.args[0].eval(&rows[j])?,
                        None => Datum::Null,
                    },
                    WindowFunc::Aggregate(a) => a.eval(frame.iter().map(|&j| (rows[j].as_slice(), 1)))?,
                    _ => unreachable!(),
                }
            }
        };
        out.push(v);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Harness

/// A view's contents as read from the engine: rows merged over all workers,
/// and the distinct errors.
#[derive(Debug, Default, PartialEq)]
pub struct Contents {
    pub rows: Multiset,
    pub errors: BTreeSet<EvalError>,
}

pub struct Harness {
    pub engine: Engine,
    pub workers: usize,
    /// The next time to write at; everything before it is complete.
    pub time: Timestamp,
    pub tables: HashMap<GlobalId, Multiset>,
    pub views: Vec<(GlobalId, String, Plan)>,
    pub label: String,
}

impl Harness {
    pub fn new(workers: usize, tables: &[GlobalId], label: &str) -> Harness {
        let engine = Engine::start(workers);
        assert_eq!(engine.workers(), workers);
        for id in tables {
            engine.send(Command::CreateTable { id: *id });
        }
        Harness { engine, workers, time: 1, tables: tables.iter().map(|id| (*id, Multiset::new())).collect(), views: Vec::new(), label: label.to_string() }
    }

    pub fn create_view(&mut self, id: GlobalId, name: &str, plan: Plan) {
        self.create_view_as(id, name, plan.clone(), plan);
    }

    /// Creates a view from `plan`, checked against `reference` (the same
    /// query with every view it reads inlined: the reference knows tables only).
    pub fn create_view_as(&mut self, id: GlobalId, name: &str, plan: Plan, reference: Plan) {
        self.engine.send(Command::CreateView { id, plan });
        self.views.push((id, name.to_string(), reference));
    }

    /// Writes `updates` at the current time and closes it; returns that time.
    pub fn write(&mut self, updates: Vec<(GlobalId, Vec<(Row, Diff)>)>) -> Timestamp {
        let t = self.time;
        for (id, ups) in updates {
            let table = self.tables.get_mut(&id).expect("known table");
            for (r, d) in &ups {
                update(table, r.clone(), *d);
                assert!(table.get(r).is_none_or(|c| *c > 0), "test bug: deleting an absent row {:?}", r);
            }
            self.engine.send(Command::Write { id, time: t, updates: Arc::new(ups) });
        }
        self.time = t + 1;
        self.engine.send(Command::AdvanceTime { time: self.time });
        t
    }

    /// Peeks every id at `time`, each answered once by every worker.
    pub fn peek_many(&self, ids: &[GlobalId], time: Timestamp) -> Vec<Contents> {
        let receivers: Vec<_> = ids
            .iter()
            .map(|id| {
                let (tx, rx) = channel::<PeekResponse>();
                let tx = std::sync::Mutex::new(tx);
                self.engine.send(Command::Peek { id: *id, time, respond: Arc::new(move |r| drop(tx.lock().unwrap().send(r))) });
                rx
            })
            .collect();
        receivers
            .into_iter()
            .zip(ids)
            .map(|(rx, id)| {
                let mut c = Contents::default();
                for w in 0..self.workers {
                    let resp = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_else(|e| panic!("{}: peek of u{} at {}: response {} of {} not received: {}", self.label, id, time, w + 1, self.workers, e));
                    for (r, d) in resp.rows {
                        update(&mut c.rows, r, d);
                    }
                    c.errors.extend(resp.errors);
                }
                c
            })
            .collect()
    }

    pub fn peek(&self, id: GlobalId, time: Timestamp) -> Contents {
        self.peek_many(&[id], time).pop().unwrap()
    }

    /// The reference contents of a plan over the current tables.
    pub fn expected(&self, plan: &Plan) -> Contents {
        let mut errors = BTreeSet::new();
        let rows = reference(plan, &self.tables, &mut errors);
        Contents { rows, errors }
    }

    /// The reference contents of every view over the current tables.
    pub fn expected_views(&self) -> Vec<Contents> {
        self.views.iter().map(|(_, _, plan)| self.expected(plan)).collect()
    }

    /// Peeks every view at `time` and compares it with `expected` (one
    /// entry per view).
    pub fn check_views_against(&self, time: Timestamp, expected: &[Contents]) {
        let ids: Vec<GlobalId> = self.views.iter().map(|(id, _, _)| *id).collect();
        let got = self.peek_many(&ids, time);
        for (((id, name, plan), got), want) in self.views.iter().zip(got).zip(expected) {
            if got != *want {
                panic!("{}: view u{} ({}) differs at time {} (last written {})\nplan:\n{}\n{}tables now: {:?}", self.label, id, name, time, self.time - 1, plan, diff_report(&got, want), self.tables);
            }
        }
    }

    /// Peeks every view at `time` (the last written time) and compares it
    /// with the reference over the current table contents. Returns the
    /// expected contents.
    pub fn check_views(&self, time: Timestamp) -> Vec<Contents> {
        let expected = self.expected_views();
        self.check_views_against(time, &expected);
        expected
    }
}

fn diff_report(got: &Contents, want: &Contents) -> String {
    let mut s = String::new();
    let keys: BTreeSet<&Row> = got.rows.keys().chain(want.rows.keys()).collect();
    for k in keys {
        let (g, w) = (got.rows.get(k).copied().unwrap_or(0), want.rows.get(k).copied().unwrap_or(0));
        if g != w {
            s.push_str(&format!("  row {:?}: engine {} reference {}\n", k, g, w));
        }
    }
    if got.errors != want.errors {
        s.push_str(&format!("  errors: engine {:?} reference {:?}\n", got.errors, want.errors));
    }
    s
}

/// How a random table row is made.
pub type RowGen = fn(&mut Rng) -> Row;

/// A random batch of up to `max` changes for one table: inserts of fresh rows
/// (sometimes twice) and deletes of rows present (one copy, or sometimes all
/// of them), each change a delete with `delete_percent`% odds.
pub fn random_batch(rng: &mut Rng, current: &Multiset, gen: RowGen, max: u64, delete_percent: u64) -> Vec<(Row, Diff)> {
    let mut now = current.clone();
    let mut ups = Vec::new();
    for _ in 0..rng.below(max + 1) {
        if !now.is_empty() && rng.chance(delete_percent, 100) {
            let i = rng.below(now.len() as u64) as usize;
            let (row, count) = now.iter().nth(i).map(|(r, c)| (r.clone(), *c)).unwrap();
            let d = if rng.chance(1, 4) { -count } else { -1 };
            update(&mut now, row.clone(), d);
            ups.push((row, d));
        } else {
            let row = gen(rng);
            let d = if rng.chance(1, 8) { 2 } else { 1 };
            update(&mut now, row.clone(), d);
            ups.push((row, d));
        }
    }
    ups
}

/// Runs `rounds` random batches over `tables` against the given views with
/// 1 and with 2 workers, checking every view after every batch. Every few
/// rounds the arrangements are allowed to compact up to the last read time.
///
/// `EDDY_TEST_SEED` and `EDDY_TEST_ROUNDS` override the seed and the number
/// of rounds, for longer runs by hand.
pub fn run_random(name: &str, seed: u64, rounds: usize, tables: &[(GlobalId, RowGen)], views: &[(&str, Plan)]) {
    let env = |k: &str| std::env::var(k).ok().map(|v| v.parse::<u64>().unwrap_or_else(|_| panic!("{} must be a number", k)));
    let seed = env("EDDY_TEST_SEED").map(|s| s ^ seed).unwrap_or(seed);
    let rounds = env("EDDY_TEST_ROUNDS").map(|r| r as usize).unwrap_or(rounds);
    for workers in [1, 2] {
        let label = format!("{} (seed {}, {} workers)", name, seed, workers);
        let ids: Vec<GlobalId> = tables.iter().map(|(id, _)| *id).collect();
        let mut h = Harness::new(workers, &ids, &label);
        for (i, (vname, plan)) in views.iter().enumerate() {
            h.create_view(100 + i as GlobalId, vname, plan.clone());
        }
        let mut rng = Rng::new(seed.wrapping_mul(31).wrapping_add(workers as u64));
        // Per view: rounds with rows, with errors, and error-free rounds after an error.
        let mut stats = vec![(0, 0, 0); views.len()];
        let mut previous: Option<(Timestamp, Vec<Contents>)> = None;
        let mut since: Timestamp = 0;
        for round in 0..rounds {
            // Early rounds grow the tables, middle ones churn them, the last
            // ones drain them (so every error is eventually retracted).
            let (max, delete_percent) = if round < rounds / 4 {
                (8, 20)
            } else if round + rounds / 5 < rounds {
                (4, 50)
            } else {
                (10, 90)
            };
            let batch: Vec<(GlobalId, Vec<(Row, Diff)>)> = if round + 1 == rounds {
                // The last round deletes everything at once.
                tables.iter().map(|(id, _)| (*id, h.tables[id].iter().map(|(r, d)| (r.clone(), -d)).collect())).collect()
            } else {
                tables.iter().map(|(id, gen)| (*id, random_batch(&mut rng, &h.tables[id], *gen, max, delete_percent))).collect()
            };
            let t = h.write(batch);
            let expected = h.check_views(t);
            for (st, c) in stats.iter_mut().zip(&expected) {
                let (rows, errs) = (!c.rows.is_empty(), !c.errors.is_empty());
                st.0 += rows as usize;
                st.1 += errs as usize;
                st.2 += (st.1 > 0 && !errs) as usize;
            }
            // Every other round, read the previous time again: a time not
            // yet compacted away still shows its own contents.
            if let Some((pt, prev)) = &previous {
                if round % 2 == 1 && *pt >= since {
                    h.check_views_against(*pt, prev);
                }
            }
            if round % 3 == 2 {
                since = t;
                h.engine.send(Command::AllowCompaction { since });
            }
            previous = Some((t, expected));
        }
        // The random inputs must exercise every view: each has rows in some
        // round (unless it is meant to be empty), and each view that can
        // raise errors raises them in some round and recovers in a later one
        // (at the latest when the tables are emptied).
        for ((vname, _), (rows, errs, recovered)) in views.iter().zip(&stats) {
            eprintln!("{}: {}: {} rounds with rows, {} with errors, {} recovered", label, vname, rows, errs, recovered);
            assert!(*rows > 0 || vname.contains("(empty)"), "{}: view {} never had rows", label, vname);
            if vname.contains("error") {
                assert!(*errs > 0 && *recovered > 0, "{}: view {} never had errors, or never recovered from them", label, vname);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Table shapes shared by the tests

pub const T1: GlobalId = 1;
pub const T2: GlobalId = 2;

fn maybe_null(rng: &mut Rng, one_in: u64, d: Datum) -> Datum {
    if rng.chance(1, one_in) {
        Datum::Null
    } else {
        d
    }
}

/// `t1(k int, v int, s text)`: small domains so that keys collide, rows
/// repeat and every column is sometimes NULL.
pub fn gen_t1(rng: &mut Rng) -> Row {
    let k = Datum::Int(rng.range(0, 4));
    let k = maybe_null(rng, 7, k);
    let v = Datum::Int(rng.range(-3, 6));
    let v = maybe_null(rng, 8, v);
    let s = Datum::text(*rng.pick(&["a", "b", "c", "dd"]));
    let s = maybe_null(rng, 6, s);
    vec![k, v, s]
}

/// `t2(k int, w int)`.
pub fn gen_t2(rng: &mut Rng) -> Row {
    let k = Datum::Int(rng.range(0, 4));
    let k = maybe_null(rng, 6, k);
    let w = Datum::Int(rng.range(0, 3));
    vec![k, w]
}
