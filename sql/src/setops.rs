//! INTERSECT ALL and EXCEPT ALL, lowered by eddy itself.
//!
//! DataFusion 55 rewrites them into joins that get multiplicities wrong
//! (its issues #12955, #12956), so a query whose top-level body is such a
//! set operation is split here: each operand is planned on its own and
//! the results combined with multiset arithmetic:
//! - `L EXCEPT ALL R`    = Threshold(L - R)            (max(l - r, 0) copies)
//! - `L INTERSECT ALL R` = L - Threshold(L - R)        (min(l, r) copies)
//!
//! Set operations of these kinds nested inside subqueries or CTEs are not
//! rewritten: [`refuse_nested`] refuses them with 0A000 (DataFusion would
//! plan them with the wrong multiplicities).

use crate::statement::{Finishing, Planner};
use crate::types::desc_of_schema;
use crate::{codes, SqlError};
use eddy_engine::expr::{ScalarExpr, SortKey};
use eddy_engine::plan::Plan;
use eddy_engine::expr::UnaryFunc;
use eddy_engine::repr::{RelationDesc, ScalarType};
use sqlparser::ast::{Expr, OrderByKind, Query, SetExpr, SetOperator, SetQuantifier, Statement, Value};

fn is_all_setop(body: &SetExpr) -> bool {
    matches!(body, SetExpr::SetOperation { op: SetOperator::Intersect | SetOperator::Except, set_quantifier: SetQuantifier::All, .. })
}

/// Whether the query's top-level body is (or combines) INTERSECT/EXCEPT ALL.
pub fn needs_rewrite(q: &Query) -> bool {
    contains_all_setop(&q.body)
}

/// Whether `b` is, or combines, INTERSECT/EXCEPT ALL (also in parentheses).
fn contains_all_setop(b: &SetExpr) -> bool {
    match b {
        SetExpr::SetOperation { left, right, .. } => is_all_setop(b) || contains_all_setop(left) || contains_all_setop(right),
        SetExpr::Query(q) => needs_rewrite(q),
        _ => false,
    }
}

/// Refuses INTERSECT/EXCEPT ALL anywhere in `stmt`: called on what goes to
/// DataFusion, after [`Planner::plan_all_setop`] has split those at the top.
pub fn refuse_nested(stmt: &Statement) -> Result<(), SqlError> {
    struct Find;
    impl sqlparser::ast::Visitor for Find {
        type Break = ();
        fn pre_visit_query(&mut self, q: &Query) -> std::ops::ControlFlow<()> {
            if needs_rewrite(q) {
                std::ops::ControlFlow::Break(())
            } else {
                std::ops::ControlFlow::Continue(())
            }
        }
    }
    match sqlparser::ast::Visit::visit(stmt, &mut Find) {
        std::ops::ControlFlow::Break(()) => Err(SqlError::unsupported("INTERSECT ALL or EXCEPT ALL inside a subquery, CTE or plain view")
            .with_hint("put it at the top level of the query or materialized view, or use INTERSECT / EXCEPT without ALL if duplicates do not matter")),
        std::ops::ControlFlow::Continue(()) => Ok(()),
    }
}

impl Planner<'_> {
    /// Plans a query whose body uses INTERSECT/EXCEPT ALL.
    pub fn plan_all_setop(&self, q: &Query, maintained: bool) -> Result<(Plan, RelationDesc, Finishing), SqlError> {
        let with = q.with.as_ref().map(|w| format!("{} ", w)).unwrap_or_default();
        let (plan, desc) = self.setexpr(&q.body, &with, maintained)?;
        let mut finishing = Finishing::default();
        if let Some(ob) = &q.order_by {
            let OrderByKind::Expressions(items) = &ob.kind else { return Err(SqlError::unsupported("ORDER BY ALL")) };
            for item in items {
                let col = match &item.expr {
                    Expr::Value(v) => match &v.value {
                        Value::Number(n, _) => n.parse::<usize>().ok().and_then(|n| n.checked_sub(1)),
                        _ => None,
                    },
                    Expr::Identifier(i) => desc.names.iter().position(|n| *n == i.value.to_lowercase()),
                    _ => None,
                }
                .filter(|c| *c < desc.arity())
                .ok_or_else(|| SqlError::unsupported("ORDER BY on INTERSECT/EXCEPT ALL other than by output column name or position"))?;
                let desc_order = item.options.asc == Some(false);
                finishing.order_by.push(SortKey { expr: ScalarExpr::Column(col), desc: desc_order, nulls_first: item.options.nulls_first.unwrap_or(desc_order) });
            }
        }
        if q.limit_clause.is_some() || q.fetch.is_some() {
            return Err(SqlError::unsupported("LIMIT on INTERSECT/EXCEPT ALL"));
        }
        Ok((plan, desc, finishing))
    }

    fn setexpr(&self, body: &SetExpr, with: &str, maintained: bool) -> Result<(Plan, RelationDesc), SqlError> {
        match body {
            // Any set operation over one of those is combined here too.
            SetExpr::SetOperation { left, right, op, set_quantifier } if contains_all_setop(body) => {
                let distinct = match set_quantifier {
                    SetQuantifier::All => false,
                    SetQuantifier::Distinct | SetQuantifier::None => true,
                    other => return Err(SqlError::unsupported(format!("{} {}", op, other))),
                };
                let (l, desc) = self.setexpr(left, with, maintained)?;
                let (r, rdesc) = self.setexpr(right, with, maintained)?;
                if rdesc.arity() != desc.arity() {
                    return Err(SqlError::new(codes::SYNTAX_ERROR, format!("each {} query must have the same number of columns", op)));
                }
                let (l, r, desc) = unify(l, desc, r, &rdesc).ok_or_else(|| SqlError::unsupported(format!("{} over columns of different types", op)).with_hint("cast the columns to the same types"))?;
                let (l, r) = match (distinct, op) {
                    (true, SetOperator::Intersect | SetOperator::Except) => (Plan::Distinct { input: l.boxed() }, Plan::Distinct { input: r.boxed() }),
                    _ => (l, r),
                };
                let except = |l: Plan, r: Plan| Plan::Threshold { input: Plan::Union { inputs: vec![l, Plan::Negate { input: r.boxed() }] }.boxed() };
                let plan = match op {
                    SetOperator::Except => except(l, r),
                    SetOperator::Intersect => Plan::Union { inputs: vec![l.clone(), Plan::Negate { input: except(l, r).boxed() }] },
                    _ if distinct => Plan::Distinct { input: Plan::Union { inputs: vec![l, r] }.boxed() },
                    _ => Plan::Union { inputs: vec![l, r] },
                };
                Ok((plan, desc))
            }
            SetExpr::Query(q) if q.order_by.is_none() && q.limit_clause.is_none() && q.with.is_none() => self.setexpr(&q.body, with, maintained),
            other => {
                let sql = format!("{}{}", with, other);
                let mut stmts = crate::statement::parse(&sql)?;
                let stmt = stmts.pop().ok_or_else(|| SqlError::internal("empty operand"))?;
                let Statement::Query(q) = &stmt else { return Err(SqlError::internal("operand is not a query")) };
                let logical = crate::plan::df::optimize(crate::plan::df::to_logical(&self.context(), stmt.clone())?)?;
                let mut desc = desc_of_schema(logical.schema())?;
                crate::names::postgres_names(q, &mut desc.names);
                let plan = crate::plan::lower::Lowerer { catalog: self.catalog, maintained }.lower(&logical)?;
                Ok((plan, desc))
            }
        }
    }
}

/// Casts the columns of two set operation operands to common types, as
/// PostgreSQL resolves them: numbers widen (smallint < integer < bigint <
/// numeric < double precision). None if some pair has no common type.
fn unify(l: Plan, mut desc: RelationDesc, r: Plan, rdesc: &RelationDesc) -> Option<(Plan, Plan, RelationDesc)> {
    use eddy_engine::repr::ScalarType::*;
    fn rank(t: ScalarType) -> Option<u8> {
        match t {
            Int16 => Some(0),
            Int32 => Some(1),
            Int64 => Some(2),
            Numeric { .. } => Some(3),
            Float32 | Float64 => Some(4),
            _ => None,
        }
    }
    let mut lcasts = vec![None; desc.arity()];
    let mut rcasts = vec![None; desc.arity()];
    let pairs: Vec<(ScalarType, ScalarType)> = desc.types.iter().map(|t| t.scalar).zip(rdesc.types.iter().map(|t| t.scalar)).collect();
    for (i, (a, b)) in pairs.into_iter().enumerate() {
        if a == b {
            continue;
        }
        let common = match (rank(a)?, rank(b)?) {
            (4, _) | (_, 4) => Float64,
            (3, _) | (_, 3) => Numeric { precision: None, scale: None },
            (x, y) => [Int16, Int32, Int64][x.max(y) as usize],
        };
        lcasts[i] = (a != common).then_some(common);
        rcasts[i] = (b != common).then_some(common);
        desc.types[i].scalar = common;
    }
    Some((cast_columns(l, &lcasts), cast_columns(r, &rcasts), desc))
}

/// `plan` with column `i` cast to `casts[i]` where that is given.
fn cast_columns(plan: Plan, casts: &[Option<ScalarType>]) -> Plan {
    if casts.iter().all(Option::is_none) {
        return plan;
    }
    let arity = casts.len();
    let exprs = casts.iter().enumerate().map(|(i, c)| match c {
        Some(t) => ScalarExpr::Column(i).call_unary(UnaryFunc::Cast(*t)),
        None => ScalarExpr::Column(i),
    });
    Plan::Project { input: Plan::Map { input: plan.boxed(), exprs: exprs.collect() }.boxed(), columns: (arity..2 * arity).collect() }
}
