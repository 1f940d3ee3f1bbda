//! Shared pieces of the operator tests: a seeded PRNG, expression and plan
//! builders (`builders`), a from-scratch reference evaluator of the plan IR
//! (`reference`), and a harness that drives an [`Engine`] through random
//! changes and compares every peek with the reference (in the manner of
//! differential-dataflow's `tests/reduce_reference.rs`).

#![allow(dead_code)]

mod builders;
mod reference;

pub use builders::*;
pub use reference::*;

use eddy_engine::expr::EvalError;
use eddy_engine::plan::Plan;
use eddy_engine::runtime::{Command, Engine, PeekResponse};
use eddy_engine::{Datum, Diff, GlobalId, Row, Timestamp};
use std::collections::{BTreeSet, HashMap};
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
