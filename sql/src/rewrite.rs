//! Fixes to the SQL syntax tree before planning.
//!
//! sqlparser 0.62 parses the right operand of `IS [NOT] DISTINCT FROM` as a
//! whole expression, so `a IS DISTINCT FROM b AND c` becomes
//! `a IS DISTINCT FROM (b AND c)`. In PostgreSQL, IS binds tighter than
//! AND and OR: the tree is rotated back to `(a IS DISTINCT FROM b) AND c`.

use sqlparser::ast::{BinaryOperator, Expr, Statement, VisitMut, VisitorMut};
use std::ops::ControlFlow;

struct DistinctFromPrecedence;

fn rotate(e: &mut Expr) {
    let (distinct, lhs, rhs) = match e {
        Expr::IsDistinctFrom(l, r) => (true, l, r),
        Expr::IsNotDistinctFrom(l, r) => (false, l, r),
        _ => return,
    };
    if let Expr::BinaryOp { left, op: op @ (BinaryOperator::And | BinaryOperator::Or), right } = rhs.as_mut() {
        let op = op.clone();
        let mut inner = if distinct { Expr::IsDistinctFrom(lhs.clone(), left.clone()) } else { Expr::IsNotDistinctFrom(lhs.clone(), left.clone()) };
        rotate(&mut inner);
        *e = Expr::BinaryOp { left: Box::new(inner), op, right: right.clone() };
    }
}

impl VisitorMut for DistinctFromPrecedence {
    type Break = ();
    fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        rotate(e);
        ControlFlow::Continue(())
    }
}

pub fn fix_precedence(stmt: &mut Statement) {
    let _ = stmt.visit(&mut DistinctFromPrecedence);
}
