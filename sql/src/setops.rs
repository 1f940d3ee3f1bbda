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
//! rewritten (they are refused with 0A000 there by [`contains_all_setop`]).

use crate::statement::{Finishing, Planner};
use crate::types::desc_of_schema;
use crate::{codes, SqlError};
use eddy_engine::expr::{ScalarExpr, SortKey};
use eddy_engine::plan::Plan;
use eddy_engine::repr::RelationDesc;
use sqlparser::ast::{Expr, OrderByKind, Query, SetExpr, SetOperator, SetQuantifier, Statement, Value};

fn is_all_setop(body: &SetExpr) -> bool {
    matches!(body, SetExpr::SetOperation { op: SetOperator::Intersect | SetOperator::Except, set_quantifier: SetQuantifier::All, .. })
}

/// Whether the query's top-level body is (or combines) INTERSECT/EXCEPT ALL.
pub fn needs_rewrite(q: &Query) -> bool {
    fn walk(b: &SetExpr) -> bool {
        match b {
            SetExpr::SetOperation { left, right, .. } => is_all_setop(b) || walk(left) || walk(right),
            SetExpr::Query(q) => needs_rewrite(q),
            _ => false,
        }
    }
    walk(&q.body)
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
            SetExpr::SetOperation { left, right, op, set_quantifier: SetQuantifier::All } if is_all_setop(body) => {
                let (l, desc) = self.setexpr(left, with, maintained)?;
                let (r, rdesc) = self.setexpr(right, with, maintained)?;
                if rdesc.arity() != desc.arity() {
                    return Err(SqlError::new(codes::SYNTAX_ERROR, format!("each {} query must have the same number of columns", op)));
                }
                if rdesc.types.iter().zip(&desc.types).any(|(a, b)| a.scalar != b.scalar) {
                    return Err(SqlError::unsupported(format!("{} ALL over columns of different types", op)).with_hint("cast the columns to the same types"));
                }
                let except = Plan::Threshold { input: Plan::Union { inputs: vec![l.clone(), Plan::Negate { input: r.boxed() }] }.boxed() };
                let plan = match op {
                    SetOperator::Except => except,
                    _ => Plan::Union { inputs: vec![l, Plan::Negate { input: except.boxed() }] },
                };
                Ok((plan, desc))
            }
            SetExpr::Query(q) if q.order_by.is_none() && q.limit_clause.is_none() && q.with.is_none() => self.setexpr(&q.body, with, maintained),
            other => {
                let sql = format!("{}{}", with, other);
                let mut stmts = crate::statement::parse(&sql)?;
                let stmt = stmts.pop().ok_or_else(|| SqlError::internal("empty operand"))?;
                let Statement::Query(q) = &stmt else { return Err(SqlError::internal("operand is not a query")) };
                if needs_rewrite(q) {
                    return Err(SqlError::unsupported("INTERSECT ALL or EXCEPT ALL inside a subquery"));
                }
                let logical = crate::plan::df::optimize(crate::plan::df::to_logical(&self.context(), stmt.clone())?)?;
                let mut desc = desc_of_schema(logical.schema())?;
                crate::names::postgres_names(q, &mut desc.names);
                let plan = crate::plan::lower::Lowerer { catalog: self.catalog, maintained }.lower(&logical)?;
                Ok((plan, desc))
            }
        }
    }
}
