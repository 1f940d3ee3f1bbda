//! The engine's plan IR: what the SQL layer lowers a query into, and what
//! [`crate::render`] turns into a differential dataflow.
//!
//! Every node denotes a multiset of rows (a collection that changes over
//! time). The nodes are chosen so that each has a direct incremental
//! implementation; SQL constructs without one (full outer joins, joins with
//! conditions beyond their keys, EXCEPT, global aggregates) are lowered
//! into combinations of them.

use crate::expr::{AggregateExpr, ScalarExpr, SortKey, TableFunc, WindowExpr};
use crate::repr::Row;
use crate::{Diff, GlobalId};
use serde::{Deserialize, Serialize};
use std::fmt;

/// One right side of a [`Plan::LeftJoin`], with its key expressions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeftJoinSide {
    pub plan: Plan,
    pub key: Vec<ScalarExpr>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Plan {
    /// A fixed multiset of rows.
    Constant { rows: Vec<(Row, Diff)>, arity: usize },
    /// The contents of a table, source or materialized view.
    Get { id: GlobalId, arity: usize },
    /// Appends one column per expression; expressions see the input row
    /// and the columns appended before them.
    Map { input: Box<Plan>, exprs: Vec<ScalarExpr> },
    /// Calls `func` with `args` evaluated on each input row and appends each
    /// row it returns (and, with `ordinality`, the returned row's position
    /// from 1, a bigint) to the input row: PostgreSQL's function calls in
    /// FROM that read earlier FROM items (LATERAL). With `outer`, a row for
    /// which the function returns nothing is kept once with NULLs (LEFT
    /// JOIN LATERAL ... ON true).
    FlatMap { input: Box<Plan>, func: TableFunc, args: Vec<ScalarExpr>, ordinality: bool, outer: bool },
    /// Keeps the rows for which every predicate is true.
    Filter { input: Box<Plan>, predicates: Vec<ScalarExpr> },
    /// Keeps (and reorders, or repeats) the given columns.
    Project { input: Box<Plan>, columns: Vec<usize> },
    /// Equi-join: pairs of rows whose key expressions are equal (and not
    /// NULL, unless `null_eq`); output is left columns then right columns.
    /// With no keys it is a cross product.
    Join { left: Box<Plan>, right: Box<Plan>, left_key: Vec<ScalarExpr>, right_key: Vec<ScalarExpr>, null_eq: bool },
    /// The rows of `left` whose key matches no row of `right` (keys equal
    /// and not NULL, unless `null_eq`), with their multiplicities. Outer
    /// joins and anti-joins without extra conditions lower to it, sharing
    /// the key arrangements of the inner join beside it.
    AntiJoin { left: Box<Plan>, right: Box<Plan>, left_key: Vec<ScalarExpr>, right_key: Vec<ScalarExpr>, null_eq: bool },
    /// Left outer equi-joins of `left` with each of `rights` on one key:
    /// each row of `left` paired with every combination of one row from
    /// each right side whose key equals the row's `left_key` (not NULL,
    /// unless `null_eq`), a side with no such row giving NULL for each of
    /// its columns. Columns: left's, then each right side's in order.
    /// LEFT and RIGHT joins on keys alone lower to it (one operator instead
    /// of an inner join, an anti-join and a union), and a chain of them on
    /// the same left columns (an order and its payment, its shipment, ...)
    /// is one node: see [`Plan::left_join`] and `render/left_join.rs`.
    LeftJoin { left: Box<Plan>, left_key: Vec<ScalarExpr>, rights: Vec<LeftJoinSide>, null_eq: bool },
    /// Groups by the key expressions; output is key columns then one column
    /// per aggregate. No group, no row (global aggregates add their default
    /// row in the lowering).
    Reduce { input: Box<Plan>, group_key: Vec<ScalarExpr>, aggregates: Vec<AggregateExpr> },
    /// Each distinct row once.
    Distinct { input: Box<Plan> },
    /// The multiset sum of the inputs.
    Union { inputs: Vec<Plan> },
    /// Every multiplicity negated.
    Negate { input: Box<Plan> },
    /// Keeps rows with positive multiplicity (EXCEPT ALL / INTERSECT ALL
    /// are Threshold over Union and Negate).
    Threshold { input: Box<Plan> },
    /// Per group, the rows from `offset` to `offset + limit` in `order_by`
    /// order (ORDER BY ... LIMIT inside a view, DISTINCT ON).
    TopK { input: Box<Plan>, group_key: Vec<usize>, order_by: Vec<SortKey>, limit: Option<usize>, offset: usize },
    /// Appends one column per window expression, computed per partition.
    Window { input: Box<Plan>, partition_by: Vec<ScalarExpr>, order_by: Vec<SortKey>, exprs: Vec<WindowExpr> },
    /// `body`, in which [`Plan::LocalGet`] `id` is the collection `value`:
    /// a collection used several times (both sides of an outer join, the
    /// probe side of a subquery) is computed once and shared.
    Let { id: u64, value: Box<Plan>, body: Box<Plan> },
    /// The collection bound to `id` by an enclosing [`Plan::Let`].
    LocalGet { id: u64, arity: usize },
}

impl Plan {
    pub fn boxed(self) -> Box<Plan> {
        Box::new(self)
    }

    /// `left` LEFT JOIN `right` ON `left_key` = `right_key`, as a
    /// [`Plan::LeftJoin`]. When `left` is already a left join on the same
    /// key of the same rows (the key reads only its left side's columns),
    /// possibly under a projection, `right` becomes one more side of it,
    /// and the projection moves on top: `(L ⟕ A) ⟕ B`, both on `L.k`, is
    /// `L ⟕ (A, B)`. The joined operator keeps each input once per key,
    /// where the chain kept every intermediate row as well.
    pub fn left_join(left: Plan, right: Plan, left_key: Vec<ScalarExpr>, right_key: Vec<ScalarExpr>, null_eq: bool) -> Plan {
        let right_arity = right.arity();
        let side = LeftJoinSide { plan: right, key: right_key };
        // Under a projection: the key seen through it, the projection
        // extended with the new side's columns.
        if let Plan::Project { input, columns } = &left {
            if let Plan::LeftJoin { .. } = **input {
                let mut key = left_key.clone();
                key.iter_mut().for_each(|k| k.permute(&|c| columns[c]));
                if Self::extends(input, &key, null_eq) {
                    let inner_arity = input.arity();
                    let Plan::Project { input, mut columns } = left else { unreachable!() };
                    columns.extend(inner_arity..inner_arity + right_arity);
                    return Plan::Project { input: Self::add_side(*input, side).boxed(), columns };
                }
            }
        }
        if Self::extends(&left, &left_key, null_eq) {
            return Self::add_side(left, side);
        }
        Plan::LeftJoin { left: left.boxed(), left_key, rights: vec![side], null_eq }
    }

    /// Whether `plan` is a left join on `key` (over its left side's columns).
    fn extends(plan: &Plan, key: &[ScalarExpr], null_eq: bool) -> bool {
        match plan {
            Plan::LeftJoin { left, left_key, null_eq: ne, .. } => *ne == null_eq && left_key == key && key.iter().all(|k| k.support().iter().all(|c| *c < left.arity())),
            _ => false,
        }
    }

    fn add_side(plan: Plan, side: LeftJoinSide) -> Plan {
        match plan {
            Plan::LeftJoin { left, left_key, mut rights, null_eq } => {
                rights.push(side);
                Plan::LeftJoin { left, left_key, rights, null_eq }
            }
            other => other,
        }
    }

    /// The number of columns of the rows this plan produces.
    pub fn arity(&self) -> usize {
        match self {
            Plan::Constant { arity, .. } | Plan::Get { arity, .. } => *arity,
            Plan::Map { input, exprs } => input.arity() + exprs.len(),
            Plan::Filter { input, .. } | Plan::Distinct { input } | Plan::Negate { input } | Plan::Threshold { input } | Plan::TopK { input, .. } => input.arity(),
            Plan::Project { columns, .. } => columns.len(),
            Plan::Join { left, right, .. } => left.arity() + right.arity(),
            Plan::LeftJoin { left, rights, .. } => left.arity() + rights.iter().map(|r| r.plan.arity()).sum::<usize>(),
            Plan::AntiJoin { left, .. } => left.arity(),
            Plan::Reduce { group_key, aggregates, .. } => group_key.len() + aggregates.len(),
            Plan::Union { inputs } => inputs.first().map(|p| p.arity()).unwrap_or(0),
            Plan::Window { input, exprs, .. } => input.arity() + exprs.len(),
            Plan::FlatMap { input, func, ordinality, .. } => input.arity() + func.columns().len() + usize::from(*ordinality),
            Plan::Let { body, .. } => body.arity(),
            Plan::LocalGet { arity, .. } => *arity,
        }
    }

    /// The objects this plan reads.
    pub fn depends_on(&self) -> Vec<GlobalId> {
        let mut ids = Vec::new();
        self.visit(&mut |p| {
            if let Plan::Get { id, .. } = p {
                ids.push(*id)
            }
        });
        ids.sort();
        ids.dedup();
        ids
    }

    fn visit(&self, f: &mut impl FnMut(&Plan)) {
        f(self);
        for c in self.children() {
            c.visit(f);
        }
    }

    pub fn children(&self) -> Vec<&Plan> {
        match self {
            Plan::Constant { .. } | Plan::Get { .. } | Plan::LocalGet { .. } => vec![],
            Plan::Let { value, body, .. } => vec![value, body],
            Plan::Map { input, .. } | Plan::Filter { input, .. } | Plan::Project { input, .. } | Plan::Reduce { input, .. } | Plan::Distinct { input } | Plan::Negate { input } | Plan::Threshold { input } | Plan::TopK { input, .. } | Plan::Window { input, .. } | Plan::FlatMap { input, .. } => vec![input],
            Plan::Join { left, right, .. } | Plan::AntiJoin { left, right, .. } => vec![left, right],
            Plan::LeftJoin { left, rights, .. } => std::iter::once(&**left).chain(rights.iter().map(|r| &r.plan)).collect(),
            Plan::Union { inputs } => inputs.iter().collect(),
        }
    }

    /// The plan with every [`Plan::Let`] replaced by copies of its value
    /// (what the plan means, without the sharing).
    pub fn inline_lets(&self) -> Plan {
        fn go(p: &Plan, env: &mut Vec<(u64, Plan)>) -> Plan {
            match p {
                Plan::Let { id, value, body } => {
                    let v = go(value, env);
                    env.push((*id, v));
                    let b = go(body, env);
                    env.pop();
                    b
                }
                Plan::LocalGet { id, .. } => env.iter().rev().find(|(i, _)| i == id).map(|(_, v)| v.clone()).unwrap_or_else(|| p.clone()),
                other => {
                    let mut copy = other.clone();
                    let originals = other.children();
                    for (c, orig) in copy.children_mut().into_iter().zip(originals) {
                        *c = go(orig, env);
                    }
                    copy
                }
            }
        }
        go(self, &mut Vec::new())
    }

    pub fn children_mut(&mut self) -> Vec<&mut Plan> {
        match self {
            Plan::Constant { .. } | Plan::Get { .. } | Plan::LocalGet { .. } => vec![],
            Plan::Let { value, body, .. } => vec![value, body],
            Plan::Map { input, .. } | Plan::Filter { input, .. } | Plan::Project { input, .. } | Plan::Reduce { input, .. } | Plan::Distinct { input } | Plan::Negate { input } | Plan::Threshold { input } | Plan::TopK { input, .. } | Plan::Window { input, .. } | Plan::FlatMap { input, .. } => vec![input],
            Plan::Join { left, right, .. } | Plan::AntiJoin { left, right, .. } => vec![left, right],
            Plan::LeftJoin { left, rights, .. } => std::iter::once(&mut **left).chain(rights.iter_mut().map(|r| &mut r.plan)).collect(),
            Plan::Union { inputs } => inputs.iter_mut().collect(),
        }
    }

    fn explain(&self, f: &mut fmt::Formatter<'_>, depth: usize) -> fmt::Result {
        let pad = "  ".repeat(depth);
        let list = |es: &[ScalarExpr]| es.iter().map(|e| e.to_string()).collect::<Vec<_>>().join(", ");
        let keys = |ks: &[SortKey]| ks.iter().map(|k| format!("{}{}", k.expr, if k.desc { " desc" } else { "" })).collect::<Vec<_>>().join(", ");
        match self {
            Plan::Constant { rows, .. } => writeln!(f, "{}Constant ({} rows)", pad, rows.len())?,
            Plan::Get { id, .. } => writeln!(f, "{}Get u{}", pad, id)?,
            Plan::Map { exprs, .. } => writeln!(f, "{}Map ({})", pad, list(exprs))?,
            Plan::Filter { predicates, .. } => writeln!(f, "{}Filter ({})", pad, list(predicates))?,
            Plan::Project { columns, .. } => writeln!(f, "{}Project ({})", pad, columns.iter().map(|c| format!("#{}", c)).collect::<Vec<_>>().join(", "))?,
            Plan::Join { left_key, right_key, .. } if left_key.is_empty() => writeln!(f, "{}CrossJoin", pad)?,
            Plan::Join { left_key, right_key, null_eq, .. } => writeln!(f, "{}Join on ({}) = ({}){}", pad, list(left_key), list(right_key), if *null_eq { " null-eq" } else { "" })?,
            Plan::AntiJoin { left_key, right_key, null_eq, .. } => writeln!(f, "{}AntiJoin on ({}) = ({}){}", pad, list(left_key), list(right_key), if *null_eq { " null-eq" } else { "" })?,
            Plan::LeftJoin { left_key, rights, null_eq, .. } => {
                let sides = rights.iter().map(|r| format!("({})", list(&r.key))).collect::<Vec<_>>().join(", ");
                writeln!(f, "{}LeftJoin on ({}) = {}{}", pad, list(left_key), sides, if *null_eq { " null-eq" } else { "" })?
            }
            Plan::Reduce { group_key, aggregates, .. } => writeln!(f, "{}Reduce group=({}) aggs=({})", pad, list(group_key), aggregates.iter().map(|a| format!("{:?}({})", a.func, list(&a.args))).collect::<Vec<_>>().join(", "))?,
            Plan::Distinct { .. } => writeln!(f, "{}Distinct", pad)?,
            Plan::Union { .. } => writeln!(f, "{}Union", pad)?,
            Plan::Negate { .. } => writeln!(f, "{}Negate", pad)?,
            Plan::Threshold { .. } => writeln!(f, "{}Threshold", pad)?,
            Plan::TopK { group_key, order_by, limit, offset, .. } => writeln!(f, "{}TopK group=({:?}) order=({}) limit={:?} offset={}", pad, group_key, keys(order_by), limit, offset)?,
            Plan::Window { partition_by, order_by, exprs, .. } => writeln!(f, "{}Window partition=({}) order=({}) funcs={}", pad, list(partition_by), keys(order_by), exprs.len())?,
            Plan::FlatMap { func, args, ordinality, outer, .. } => writeln!(f, "{}FlatMap {}({}){}{}", pad, func.name(), list(args), if *ordinality { " with ordinality" } else { "" }, if *outer { " outer" } else { "" })?,
            Plan::Let { id, .. } => writeln!(f, "{}Let l{} = (first child) in (second child)", pad, id)?,
            Plan::LocalGet { id, .. } => writeln!(f, "{}Get l{}", pad, id)?,
        }
        for c in self.children() {
            c.explain(f, depth + 1)?;
        }
        Ok(())
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.explain(f, 0)
    }
}
