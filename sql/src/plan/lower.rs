//! Lowering an optimized DataFusion logical plan into the engine's [`Plan`].
//!
//! The output of every lowered node has the columns of the DataFusion
//! node's schema, in order, so expressions above it resolve by position.
//! Constructs without a direct incremental operator are rewritten:
//! - outer joins: the inner join, plus the unmatched rows of a side
//!   (that side minus its matched rows) padded with NULLs;
//! - semi and anti joins: rows of the left side that occur (or not) among
//!   the left columns of the inner join; NOT IN's null-aware anti join also
//!   drops rows when the right side holds a NULL key;
//! - global aggregates: the reduction plus a default row when it is empty;
//! - grouping sets: one reduction per set, unioned, with NULLs and the
//!   `__grouping_id` column filled in;
//! - mark joins (EXISTS and IN used as values, see [`super::subquery`]):
//!   every probe row flagged false, plus the matched probe rows flagged true
//!   minus the same rows flagged false; an uncorrelated EXISTS crosses the
//!   probe with a one-row relation holding whether the subquery has rows;
//! - uncorrelated scalar subqueries: cross-joined as a one-row relation;
//! - DISTINCT ON: a TopK of one row per key in the ORDER BY order.
//!
//! A collection these rewrites read more than once (a join's sides, the
//! inner join of an outer join) is bound once with [`Plan::Let`], so the
//! dataflow computes it once.
//!
//! What it refuses (0A000): recursive queries, LATERAL joins that remain
//! after decorrelation, subqueries that could not be decorrelated, and
//! expressions the engine has no counterpart for.

use super::expr::{strip_alias, ExprLowerer};
use crate::catalog::Catalog;
use crate::SqlError;
use datafusion_common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion_common::{DFSchema, NullEquality};
use datafusion_expr::logical_plan::{Aggregate, Distinct, DistinctOn, Join, JoinType, Window};
use datafusion_expr::{Expr, GroupingSet, LogicalPlan};
use eddy_engine::expr::{ScalarExpr, SortKey, UnaryFunc};
use eddy_engine::plan::Plan;
use eddy_engine::repr::Datum;
use eddy_engine::ScalarType;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

pub struct Lowerer<'a> {
    pub catalog: &'a Catalog,
    /// Lowering a maintained view (refuses non-deterministic functions).
    pub maintained: bool,
}

fn unsupported(what: impl Into<String>) -> SqlError {
    SqlError::unsupported(what)
}

fn project(input: Plan, columns: Vec<usize>) -> Plan {
    if columns.len() == input.arity() && columns.iter().enumerate().all(|(i, c)| i == *c) {
        return input;
    }
    Plan::Project { input: input.boxed(), columns }
}

fn union(inputs: Vec<Plan>) -> Plan {
    Plan::Union { inputs }
}

fn negate(p: Plan) -> Plan {
    Plan::Negate { input: p.boxed() }
}

/// `arity` NULL columns appended to `p`.
fn pad(p: Plan, nulls: usize) -> Plan {
    if nulls == 0 {
        return p;
    }
    Plan::Map { input: p.boxed(), exprs: vec![ScalarExpr::null(); nulls] }
}

/// The rows of `x` (with their multiplicity) that occur among `matched`,
/// a collection of rows of the same columns.
fn semijoin_rows(x: Plan, matched: Plan) -> Plan {
    let arity = x.arity();
    let keys: Vec<ScalarExpr> = (0..arity).map(ScalarExpr::Column).collect();
    let distinct = Plan::Distinct { input: matched.boxed() };
    project(Plan::Join { left: x.boxed(), right: distinct.boxed(), left_key: keys.clone(), right_key: keys, null_eq: true }, (0..arity).collect())
}

impl Lowerer<'_> {
    fn exprs<'s>(&self, schema: &'s DFSchema, subqueries: &'s HashMap<Expr, usize>) -> ExprLowerer<'s> {
        ExprLowerer { schema, subqueries, maintained: self.maintained }
    }

    pub fn lower(&self, plan: &LogicalPlan) -> Result<Plan, SqlError> {
        let none = HashMap::new();
        Ok(match plan {
            LogicalPlan::TableScan(scan) => {
                let item = self.catalog.resolve_or_err(&Catalog::reference_name(scan.table_name.schema(), scan.table_name.table()))?;
                let mut p = Plan::Get { id: item.id, arity: item.desc.arity() };
                if !scan.filters.is_empty() {
                    let schema = DFSchema::try_from_qualified_schema(scan.table_name.clone(), &scan.source.schema()).map_err(|e| SqlError::internal(e.to_string()))?;
                    let l = self.exprs(&schema, &none);
                    let predicates = scan.filters.iter().map(|f| l.lower(f)).collect::<Result<_, _>>()?;
                    p = Plan::Filter { input: p.boxed(), predicates };
                }
                if let Some(cols) = &scan.projection {
                    p = project(p, cols.clone());
                }
                if let Some(fetch) = scan.fetch {
                    p = Plan::TopK { input: p.boxed(), group_key: vec![], order_by: vec![], limit: Some(fetch), offset: 0 };
                }
                p
            }
            LogicalPlan::Projection(proj) => {
                let (input, subs) = self.with_subqueries(&proj.input, &proj.expr)?;
                let arity = input.arity();
                let l = self.exprs(proj.input.schema(), &subs);
                let mut exprs = Vec::new();
                let mut columns = Vec::new();
                for e in &proj.expr {
                    match l.lower(e)? {
                        ScalarExpr::Column(c) => columns.push(c),
                        other => {
                            columns.push(arity + exprs.len());
                            exprs.push(other);
                        }
                    }
                }
                let mapped = if exprs.is_empty() { input } else { Plan::Map { input: input.boxed(), exprs } };
                project(mapped, columns)
            }
            LogicalPlan::Filter(f) => {
                let (input, subs) = self.with_subqueries(&f.input, std::slice::from_ref(&f.predicate))?;
                let arity = f.input.schema().fields().len();
                let pred = self.exprs(f.input.schema(), &subs).lower(&f.predicate)?;
                let filtered = Plan::Filter { input: input.boxed(), predicates: split_and(pred) };
                project(filtered, (0..arity).collect())
            }
            LogicalPlan::Aggregate(a) => self.aggregate(a)?,
            LogicalPlan::Join(j) => self.join(j)?,
            LogicalPlan::Window(w) => self.window(w)?,
            LogicalPlan::Sort(s) => {
                let input = self.lower(&s.input)?;
                match s.fetch {
                    None => input,
                    Some(fetch) => {
                        let l = self.exprs(s.input.schema(), &none);
                        let order_by = s.expr.iter().map(|k| l.sort_key(k)).collect::<Result<_, _>>()?;
                        Plan::TopK { input: input.boxed(), group_key: vec![], order_by, limit: Some(fetch), offset: 0 }
                    }
                }
            }
            LogicalPlan::Limit(limit) => {
                let (offset, fetch) = limit_bounds(limit)?;
                let (input, order_by) = match limit.input.as_ref() {
                    LogicalPlan::Distinct(Distinct::On(on)) if on.sort_expr.is_some() => {
                        let (input, order_by) = self.distinct_on_sorted(on)?;
                        let top = Plan::TopK { input: input.boxed(), group_key: vec![], order_by, limit: fetch, offset };
                        return Ok(project(top, (0..on.select_expr.len()).collect()));
                    }
                    LogicalPlan::Sort(s) => {
                        let l = self.exprs(s.input.schema(), &none);
                        (self.lower(&s.input)?, s.expr.iter().map(|k| l.sort_key(k)).collect::<Result<Vec<_>, _>>()?)
                    }
                    other => (self.lower(other)?, vec![]),
                };
                Plan::TopK { input: input.boxed(), group_key: vec![], order_by, limit: fetch, offset }
            }
            LogicalPlan::Union(u) => union(u.inputs.iter().map(|i| self.lower(i)).collect::<Result<_, _>>()?),
            LogicalPlan::SubqueryAlias(a) => self.lower(&a.input)?,
            LogicalPlan::Subquery(s) => self.lower(&s.subquery)?,
            LogicalPlan::Distinct(Distinct::All(input)) => Plan::Distinct { input: self.lower(input)?.boxed() },
            LogicalPlan::Distinct(Distinct::On(on)) => self.distinct_on(on)?,
            LogicalPlan::EmptyRelation(e) => Plan::Constant { rows: if e.produce_one_row { vec![(vec![Datum::Null; e.schema.fields().len()], 1)] } else { vec![] }, arity: e.schema.fields().len() },
            LogicalPlan::Values(v) => {
                let empty = DFSchema::empty();
                let l = self.exprs(&empty, &none);
                let mut rows = Vec::new();
                for (i, row) in v.values.iter().enumerate() {
                    let mut out = Vec::new();
                    for (j, e) in row.iter().enumerate() {
                        let lowered = l.lower(e)?;
                        // Values take the column's type (e.g. a text literal in a date column).
                        let want = crate::types::scalar_type_of_arrow(v.schema.field(j).data_type())?;
                        let d = lowered.call_unary(UnaryFunc::Cast(want)).eval(&[]).map_err(|err| SqlError::from(err).with_detail(format!("in row {} of VALUES", i + 1)))?;
                        out.push(d);
                    }
                    rows.push((out, 1));
                }
                Plan::Constant { rows, arity: v.schema.fields().len() }
            }
            LogicalPlan::RecursiveQuery(_) => return Err(unsupported("WITH RECURSIVE")),
            LogicalPlan::Unnest(u) => self.unnest(u)?,
            LogicalPlan::Extension(e) if super::lateral::lower(self, e).is_some() => super::lateral::lower(self, e).unwrap()?,
            other => return Err(unsupported(format!("{} in a query", other.display().to_string().split(':').next().unwrap_or("this plan node")))),
        })
    }

    /// Lowers `input` and cross-joins it with each uncorrelated scalar
    /// subquery in `exprs` (as a one-row relation: its row, or NULL when it
    /// has none). Returns the widened input and where each subquery's
    /// value lives.
    fn with_subqueries(&self, input: &LogicalPlan, exprs: &[Expr]) -> Result<(Plan, HashMap<Expr, usize>), SqlError> {
        let mut plan = self.lower(input)?;
        let mut subs = HashMap::new();
        for e in exprs {
            e.apply(|x| {
                if let Expr::ScalarSubquery(_) = x {
                    if !subs.contains_key(x) {
                        subs.insert(x.clone(), usize::MAX);
                    }
                    return Ok(TreeNodeRecursion::Jump);
                }
                Ok(TreeNodeRecursion::Continue)
            })
            .map_err(|e| SqlError::internal(e.to_string()))?;
        }
        for (e, col) in subs.iter_mut() {
            let Expr::ScalarSubquery(s) = e else { unreachable!() };
            if !s.outer_ref_columns.is_empty() {
                return Err(unsupported("a correlated scalar subquery in this position"));
            }
            let sub = self.lower(&s.subquery)?;
            if sub.arity() != 1 {
                return Err(SqlError::new(crate::codes::SYNTAX_ERROR, "subquery must return only one column"));
            }
            // One row: the subquery's, or a NULL when it is empty.
            let one_row = share(sub, |sub| {
                let marker = Plan::Map { input: Plan::Project { input: sub.clone().boxed(), columns: vec![] }.boxed(), exprs: vec![ScalarExpr::null()] };
                let null_row = Plan::Constant { rows: vec![(vec![Datum::Null], 1)], arity: 1 };
                union(vec![sub, null_row, negate(Plan::Distinct { input: marker.boxed() })])
            });
            *col = plan.arity();
            plan = Plan::Join { left: plan.boxed(), right: one_row.boxed(), left_key: vec![], right_key: vec![], null_eq: false };
        }
        Ok((plan, subs))
    }

    fn aggregate(&self, a: &Aggregate) -> Result<Plan, SqlError> {
        let none = HashMap::new();
        let input = self.lower(&a.input)?;
        let l = self.exprs(a.input.schema(), &none);
        let aggregates = a.aggr_expr.iter().map(|e| l.aggregate(e)).collect::<Result<Vec<_>, _>>()?;
        if let [Expr::GroupingSet(set)] = a.group_expr.as_slice() {
            return self.grouping_sets(set, input, &l, aggregates);
        }
        let group_key = a.group_expr.iter().map(|e| l.lower(e)).collect::<Result<Vec<_>, _>>()?;
        Ok(reduce(input, group_key, aggregates))
    }

    fn grouping_sets(&self, set: &GroupingSet, input: Plan, l: &ExprLowerer, aggregates: Vec<eddy_engine::expr::AggregateExpr>) -> Result<Plan, SqlError> {
        let all: Vec<&Expr> = set.distinct_expr();
        let sets: Vec<Vec<Expr>> = match set {
            GroupingSet::Rollup(exprs) => (0..=exprs.len()).rev().map(|k| exprs[..k].to_vec()).collect(),
            GroupingSet::Cube(exprs) => (0..1usize << exprs.len()).rev().map(|mask| exprs.iter().enumerate().filter(|(i, _)| mask & (1 << (exprs.len() - 1 - i)) != 0).map(|(_, e)| e.clone()).collect()).collect(),
            GroupingSet::GroupingSets(sets) => sets.clone(),
        };
        let n = all.len();
        let mut seen: HashMap<u64, u64> = HashMap::new();
        let mut parts = Vec::new();
        for s in sets {
            let keys = s.iter().map(|e| l.lower(e)).collect::<Result<Vec<_>, _>>()?;
            let k = keys.len();
            let reduce = reduce(input.clone(), keys, aggregates.clone());
            let mut mask = 0u64;
            for (i, e) in all.iter().enumerate() {
                if !s.contains(e) {
                    mask |= 1 << (n - 1 - i);
                }
            }
            let ordinal = seen.entry(mask).or_insert(0);
            let id = mask | (*ordinal << n);
            *ordinal += 1;
            // Layout: all group columns (NULL where not grouped), grouping id, aggregates.
            let mut exprs = vec![ScalarExpr::null(); 0];
            exprs.push(ScalarExpr::Literal(Datum::Int(id as i64), ScalarType::Int64));
            let mapped = Plan::Map { input: reduce.boxed(), exprs: [exprs, vec![ScalarExpr::null()]].concat() };
            let null_col = k + aggregates.len() + 1;
            let mut columns = Vec::new();
            for e in &all {
                match s.iter().position(|x| x == *e) {
                    Some(p) => columns.push(p),
                    None => columns.push(null_col),
                }
            }
            columns.push(k + aggregates.len());
            columns.extend(k..k + aggregates.len());
            parts.push(project(mapped, columns));
        }
        Ok(union(parts))
    }

    fn join(&self, j: &Join) -> Result<Plan, SqlError> {
        let none = HashMap::new();
        let left = self.lower(&j.left)?;
        let right = self.lower(&j.right)?;
        let (la, ra) = (left.arity(), right.arity());
        let ll = self.exprs(j.left.schema(), &none);
        let rl = self.exprs(j.right.schema(), &none);
        let left_key = j.on.iter().map(|(l, _)| ll.lower(l)).collect::<Result<Vec<_>, _>>()?;
        let right_key = j.on.iter().map(|(_, r)| rl.lower(r)).collect::<Result<Vec<_>, _>>()?;
        let null_eq = j.null_equality == NullEquality::NullEqualsNull;
        let predicates = match &j.filter {
            Some(filter) => {
                let both = j.left.schema().join(j.right.schema()).map_err(|e| SqlError::internal(e.to_string()))?;
                Some(split_and(self.exprs(&both, &none).lower(filter)?))
            }
            None => None,
        };
        // A mark join whose condition reads only the subquery side (an
        // uncorrelated EXISTS): the mark is whether that side has a row.
        let (probe_schema, other_schema) = if j.join_type == JoinType::RightMark { (j.right.schema(), j.left.schema()) } else { (j.left.schema(), j.right.schema()) };
        if matches!(j.join_type, JoinType::LeftMark | JoinType::RightMark) && j.on.is_empty() && !j.filter.as_ref().is_some_and(|f| f.column_refs().iter().any(|c| probe_schema.has_column(c))) {
            let (probe, other) = if j.join_type == JoinType::RightMark { (right, left) } else { (left, right) };
            let other = match &j.filter {
                Some(f) => Plan::Filter { input: other.boxed(), predicates: split_and(self.exprs(other_schema, &none).lower(f)?) },
                None => other,
            };
            return Ok(mark_nonempty(probe, other));
        }
        let join_type = j.join_type;
        let null_aware = j.null_aware;
        let has_filter = predicates.is_some();
        // Outer joins on keys alone have an operator of their own; a RIGHT
        // join is a LEFT join with the sides swapped, then reordered.
        if !has_filter && matches!(join_type, JoinType::Left | JoinType::Right) {
            let (l, r, lk, rk) = if join_type == JoinType::Left { (left, right, left_key, right_key) } else { (right, left, right_key, left_key) };
            let joined = Plan::left_join(l, r, lk, rk, null_eq);
            return Ok(match join_type {
                JoinType::Left => joined,
                _ => project(joined, (ra..ra + la).chain(0..ra).collect()),
            });
        }
        Ok(share(left, |left| {
            share(right, |right| {
                let mut inner = Plan::Join { left: left.clone().boxed(), right: right.clone().boxed(), left_key: left_key.clone(), right_key: right_key.clone(), null_eq };
                if let Some(predicates) = predicates {
                    inner = Plan::Filter { input: inner.boxed(), predicates };
                }
                share(inner, |inner| {
                    let left_cols: Vec<usize> = (0..la).collect();
                    let right_cols: Vec<usize> = (la..la + ra).collect();
                    // On keys alone, whether a row has a match is whether its
                    // key occurs on the other side: an AntiJoin, which shares
                    // the inner join's key arrangements. An extra condition
                    // makes it depend on the pair, so matched rows are then
                    // found among the inner join's output.
                    let anti = |a: &Plan, b: &Plan, ak: &[ScalarExpr], bk: &[ScalarExpr]| Plan::AntiJoin { left: a.clone().boxed(), right: b.clone().boxed(), left_key: ak.to_vec(), right_key: bk.to_vec(), null_eq };
                    let on_keys = !has_filter;
                    let unmatched_left = || match on_keys {
                        true => anti(&left, &right, &left_key, &right_key),
                        false => share(semijoin_rows(left.clone(), project(inner.clone(), left_cols.clone())), |m| union(vec![left.clone(), negate(m)])),
                    };
                    let unmatched_right = || match on_keys {
                        true => anti(&right, &left, &right_key, &left_key),
                        false => share(semijoin_rows(right.clone(), project(inner.clone(), right_cols.clone())), |m| union(vec![right.clone(), negate(m)])),
                    };
                    let matched_left = || match on_keys {
                        true => union(vec![left.clone(), negate(unmatched_left())]),
                        false => semijoin_rows(left.clone(), project(inner.clone(), left_cols.clone())),
                    };
                    let matched_right = || match on_keys {
                        true => union(vec![right.clone(), negate(unmatched_right())]),
                        false => semijoin_rows(right.clone(), project(inner.clone(), right_cols.clone())),
                    };
                    // Right rows padded on the left: NULLs then the right columns.
                    let pad_left = |p: Plan| project(pad(p, la), (ra..ra + la).chain(0..ra).collect());
                    match join_type {
                        JoinType::Inner => inner,
                        JoinType::Left => union(vec![inner.clone(), pad(unmatched_left(), ra)]),
                        JoinType::Right => union(vec![inner.clone(), pad_left(unmatched_right())]),
                        JoinType::Full => union(vec![inner.clone(), pad(unmatched_left(), ra), pad_left(unmatched_right())]),
                        JoinType::LeftSemi => matched_left(),
                        JoinType::RightSemi => matched_right(),
                        JoinType::LeftAnti if null_aware => null_aware_anti(unmatched_left(), right.clone(), &left_key, &right_key),
                        JoinType::LeftAnti => unmatched_left(),
                        JoinType::RightAnti => unmatched_right(),
                        // The probe side with a `mark` column: whether the row has a match.
                        JoinType::LeftMark => mark(left.clone(), matched_left()),
                        JoinType::RightMark => mark(right.clone(), matched_right()),
                    }
                })
            })
        }))
    }

    /// `SELECT DISTINCT ON (keys) exprs ... ORDER BY ...`: per distinct key,
    /// the first row in the ORDER BY order, as a TopK of one per group.
    fn distinct_on(&self, on: &DistinctOn) -> Result<Plan, SqlError> {
        let (plan, _) = self.distinct_on_sorted(on)?;
        Ok(project(plan, (0..on.select_expr.len()).collect()))
    }

    /// DISTINCT ON with its ORDER BY values appended to each output row,
    /// and that order as sort keys over those columns (DataFusion folds a
    /// DISTINCT ON query's ORDER BY into the node).
    pub fn distinct_on_sorted(&self, on: &DistinctOn) -> Result<(Plan, Vec<SortKey>), SqlError> {
        let none = HashMap::new();
        let input = self.lower(&on.input)?;
        let arity = input.arity();
        let l = self.exprs(on.input.schema(), &none);
        let keys = on.on_expr.iter().map(|e| l.lower(e)).collect::<Result<Vec<_>, _>>()?;
        let values = on.select_expr.iter().map(|e| l.lower(e)).collect::<Result<Vec<_>, _>>()?;
        let order_by = match &on.sort_expr {
            Some(sort) => sort.iter().map(|k| l.sort_key(k)).collect::<Result<Vec<_>, _>>()?,
            None => vec![],
        };
        let (nk, nv, ns) = (keys.len(), values.len(), order_by.len());
        let sort_values = order_by.iter().map(|k| k.expr.clone());
        let mapped = Plan::Map { input: input.boxed(), exprs: keys.into_iter().chain(values).chain(sort_values).collect() };
        let top = Plan::TopK { input: mapped.boxed(), group_key: (arity..arity + nk).collect(), order_by: order_by.clone(), limit: Some(1), offset: 0 };
        let out = project(top, (arity + nk..arity + nk + nv + ns).collect());
        let keys = order_by.into_iter().enumerate().map(|(i, k)| SortKey { expr: ScalarExpr::Column(nv + i), ..k }).collect();
        Ok((out, keys))
    }

    fn window(&self, w: &Window) -> Result<Plan, SqlError> {
        let none = HashMap::new();
        let mut plan = self.lower(&w.input)?;
        let arity = plan.arity();
        let l = self.exprs(w.input.schema(), &none);
        // Group the window expressions by (partition, order); each group is
        // one Window node appending its columns.
        let mut groups: Vec<(Vec<ScalarExpr>, Vec<SortKey>, Vec<(usize, eddy_engine::expr::WindowExpr)>)> = Vec::new();
        for (i, e) in w.window_expr.iter().enumerate() {
            let (partition, order, we) = l.window(strip_alias(e))?;
            match groups.iter_mut().find(|(p, o, _)| *p == partition && *o == order) {
                Some(g) => g.2.push((i, we)),
                None => groups.push((partition, order, vec![(i, we)])),
            }
        }
        let mut position = vec![0; w.window_expr.len()];
        for (partition, order, exprs) in groups {
            let base = plan.arity();
            for (k, (i, _)) in exprs.iter().enumerate() {
                position[*i] = base + k;
            }
            plan = Plan::Window { input: plan.boxed(), partition_by: partition, order_by: order, exprs: exprs.into_iter().map(|(_, e)| e).collect() };
        }
        Ok(project(plan, (0..arity).chain(position).collect()))
    }
}

static NEXT_LOCAL: AtomicU64 = AtomicU64::new(1);

/// `body` applied to a reference to `value`, which is computed once however
/// often the reference is used ([`Plan::Let`]). Collections that are cheap
/// to read again (arrangements, constants) are not bound.
fn share(value: Plan, body: impl FnOnce(Plan) -> Plan) -> Plan {
    if matches!(value, Plan::Get { .. } | Plan::LocalGet { .. } | Plan::Constant { .. }) {
        return body(value);
    }
    let id = NEXT_LOCAL.fetch_add(1, Ordering::Relaxed);
    let arity = value.arity();
    let mut body = body(Plan::LocalGet { id, arity });
    fn uses(p: &Plan, id: u64) -> usize {
        match p {
            Plan::LocalGet { id: i, .. } => usize::from(*i == id),
            p => p.children().into_iter().map(|c| uses(c, id)).sum(),
        }
    }
    // Read once (or not at all): no binding needed.
    if uses(&body, id) <= 1 {
        fn substitute(p: &mut Plan, id: u64, value: &mut Option<Plan>) {
            match p {
                Plan::LocalGet { id: i, .. } if *i == id => *p = value.take().expect("one use"),
                p => p.children_mut().into_iter().for_each(|c| substitute(c, id, value)),
            }
        }
        substitute(&mut body, id, &mut Some(value));
        return body;
    }
    Plan::Let { id, value: value.boxed(), body: body.boxed() }
}

fn flag(p: Plan, b: bool) -> Plan {
    Plan::Map { input: p.boxed(), exprs: vec![ScalarExpr::Literal(Datum::Bool(b), ScalarType::Bool)] }
}

fn cross(l: Plan, r: Plan) -> Plan {
    Plan::Join { left: l.boxed(), right: r.boxed(), left_key: vec![], right_key: vec![], null_eq: false }
}

/// A mark join: every row of `probe` with a boolean column saying whether
/// it is among `matched` (the probe rows that have a match).
fn mark(probe: Plan, matched: Plan) -> Plan {
    share(matched, |m| union(vec![flag(probe, false), flag(m.clone(), true), negate(flag(m, false))]))
}

/// Every row of `probe` with a boolean column saying whether `other` has
/// any row: the probe crossed with a one-row relation holding that flag.
fn mark_nonempty(probe: Plan, other: Plan) -> Plan {
    let nonempty = Plan::Distinct { input: Plan::Project { input: other.boxed(), columns: vec![] }.boxed() };
    let flag_row = share(nonempty, |n| union(vec![Plan::Constant { rows: vec![(vec![Datum::Bool(false)], 1)], arity: 1 }, flag(n.clone(), true), negate(flag(n, false))]));
    cross(probe, flag_row)
}

/// `x NOT IN (subquery)`: beyond the plain anti join, a row whose key is
/// NULL is dropped when the subquery has any row, and every row is
/// dropped when the subquery yields a NULL.
fn null_aware_anti(anti: Plan, right: Plan, left_key: &[ScalarExpr], right_key: &[ScalarExpr]) -> Plan {
    let arity = anti.arity();
    let any_null = |keys: &[ScalarExpr]| ScalarExpr::CallVariadic { func: eddy_engine::expr::VariadicFunc::Or, exprs: keys.iter().map(|k| k.clone().call_unary(UnaryFunc::IsNull)).chain(std::iter::once(ScalarExpr::Literal(Datum::Bool(false), ScalarType::Bool))).collect() };
    share(anti, |anti| {
        let right_nonempty = Plan::Distinct { input: Plan::Project { input: right.clone().boxed(), columns: vec![] }.boxed() };
        let right_has_null = Plan::Distinct { input: Plan::Project { input: Plan::Filter { input: right.boxed(), predicates: vec![any_null(right_key)] }.boxed(), columns: vec![] }.boxed() };
        let null_keyed = Plan::Filter { input: anti.clone().boxed(), predicates: vec![any_null(left_key)] };
        let non_null_keyed = Plan::Filter { input: anti.clone().boxed(), predicates: vec![any_null(left_key).call_unary(UnaryFunc::Not)] };
        let dropped = |l: Plan, r: Plan| project(cross(l, r), (0..arity).collect());
        union(vec![anti, negate(dropped(null_keyed, right_nonempty)), negate(dropped(non_null_keyed, right_has_null))])
    })
}

/// Groups by `group_key`; with no key (a global aggregate, or the grand
/// total of a grouping set) there is one row even over no input, holding
/// each aggregate's value over nothing.
fn reduce(input: Plan, group_key: Vec<ScalarExpr>, aggregates: Vec<eddy_engine::expr::AggregateExpr>) -> Plan {
    let global = group_key.is_empty();
    let reduce = Plan::Reduce { input: input.boxed(), group_key, aggregates: aggregates.clone() };
    if !global {
        return reduce;
    }
    let defaults: Vec<Datum> = aggregates.iter().map(|a| a.empty_value()).collect();
    let n = defaults.len();
    share(reduce, |reduce| {
        let as_default = Plan::Map { input: Plan::Project { input: reduce.clone().boxed(), columns: vec![] }.boxed(), exprs: defaults.iter().map(|d| ScalarExpr::Literal(d.clone(), ScalarType::Int64)).collect() };
        union(vec![reduce, Plan::Constant { rows: vec![(defaults, 1)], arity: n }, negate(as_default)])
    })
}

/// `a AND b AND c` as separate predicates.
fn split_and(e: ScalarExpr) -> Vec<ScalarExpr> {
    match e {
        ScalarExpr::CallVariadic { func: eddy_engine::expr::VariadicFunc::And, exprs } => exprs.into_iter().flat_map(split_and).collect(),
        other => vec![other],
    }
}

/// OFFSET and LIMIT of a Limit node, which must be constants.
pub fn limit_bounds(limit: &datafusion_expr::logical_plan::Limit) -> Result<(usize, Option<usize>), SqlError> {
    use datafusion_expr::logical_plan::{FetchType, SkipType};
    let skip = match limit.get_skip_type().map_err(|e| SqlError::internal(e.to_string()))? {
        SkipType::Literal(s) => s,
        SkipType::UnsupportedExpr => return Err(unsupported("a non-constant OFFSET")),
    };
    let fetch = match limit.get_fetch_type().map_err(|e| SqlError::internal(e.to_string()))? {
        FetchType::Literal(f) => f,
        FetchType::UnsupportedExpr => return Err(unsupported("a non-constant LIMIT")),
    };
    Ok((skip, fetch))
}

/// `unnest(array)` in the select list or FROM: a call per row of the
/// input (see `TableFunc::Unnest`), then the output's columns in
/// DataFusion's order, the unnested one where its array was.
impl Lowerer<'_> {
    fn unnest(&self, u: &datafusion_expr::logical_plan::Unnest) -> Result<Plan, SqlError> {
        let [(array_at, list)] = u.list_type_columns.as_slice() else {
            return Err(unsupported("unnest of several arrays in one select list").with_hint("unnest them in FROM one after another, or zip them by index"));
        };
        if !u.struct_type_columns.is_empty() || list.depth != 1 {
            return Err(unsupported("unnest of a row or a nested array"));
        }
        let input = self.lower(&u.input)?;
        let width = input.arity();
        let elem = match crate::types::column_type_of_field(u.input.schema().field(*array_at))?.scalar {
            ScalarType::Array(e) => e,
            other => return Err(unsupported(format!("unnest of {}", other))),
        };
        let called = Plan::FlatMap { input: input.boxed(), func: eddy_engine::expr::TableFunc::Unnest(elem), args: vec![ScalarExpr::Column(*array_at)], ordinality: false, outer: false };
        let columns = u.dependency_indices.iter().zip(u.schema.columns()).map(|(i, c)| if *i == *array_at && c == list.output_column { width } else { *i }).collect();
        Ok(project(called, columns))
    }
}
