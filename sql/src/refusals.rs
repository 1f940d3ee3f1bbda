//! Forms of SQL that eddy cannot plan and that DataFusion's planner fails
//! on with misleading words ("column "IN" does not exist", "column "x"
//! does not exist"), refused up front with 0A000, the form named, and a
//! hint with a form that works:
//!
//! * a subquery inside an aggregate's argument or FILTER, or inside a
//!   GROUP BY key (`count(*) FILTER (WHERE x IN (SELECT ...))`,
//!   `SELECT x IN (SELECT ...) AS vip, count(*) ... GROUP BY 1`), of a
//!   query whose FROM has several items or joins (over one FROM item,
//!   [`crate::grouped_subqueries`] has already lifted it into FROM);
//! * a LATERAL subquery in FROM (`FROM c, LATERAL (SELECT ... WHERE
//!   o.c = c.id)`); LATERAL calls of table functions are planned (see
//!   [`crate::from_functions`]).
//!
//! A subquery elsewhere in a grouped query's select list (`SELECT k,
//! (SELECT count(*) FROM t2 WHERE t2.k = t.k) FROM t GROUP BY k`) is planned.

use crate::error::SqlError;
use sqlparser::ast::{Expr, GroupByExpr, Query, Select, SelectItem, SetExpr, Statement, TableFactor, Visit, Visitor};
use std::ops::ControlFlow;

/// Refuses the forms above anywhere in `stmt`.
pub fn refuse(stmt: &Statement) -> Result<(), SqlError> {
    struct Find(Option<SqlError>);
    impl Visitor for Find {
        type Break = ();
        fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<()> {
            if let SetExpr::Select(s) = q.body.as_ref() {
                self.0 = grouped_subquery(s);
            }
            if self.0.is_some() { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
        }
        fn pre_visit_table_factor(&mut self, t: &TableFactor) -> ControlFlow<()> {
            if let TableFactor::Derived { lateral: true, .. } = t {
                self.0 = Some(SqlError::unsupported("a LATERAL subquery").with_hint(
                    "join the subquery's table and group it instead; for the top rows per group, rank them with row_number() OVER (PARTITION BY ... ORDER BY ...) in a subquery and keep those with a small rank",
                ));
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        }
    }
    let mut find = Find(None);
    let _ = stmt.visit(&mut find);
    find.0.map_or(Ok(()), Err)
}

/// A subquery inside an aggregate call or a GROUP BY key of `s`.
fn grouped_subquery(s: &Select) -> Option<SqlError> {
    let hint = "compute the subquery's value in a FROM-clause subquery first and aggregate or group by its column: SELECT vip, count(*) FROM (SELECT x IN (SELECT ...) AS vip FROM t) s GROUP BY vip";
    let items: Vec<&Expr> = s.projection.iter().filter_map(|i| match i {
        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => Some(e),
        _ => None,
    }).collect();
    let mut in_aggregate = false;
    for e in items.iter().copied().chain(s.having.as_ref()) {
        let _ = e.visit(&mut AggregateCalls(&mut in_aggregate));
    }
    if in_aggregate {
        return Some(SqlError::unsupported("a subquery inside an aggregate's argument or FILTER").with_hint(hint));
    }
    let GroupByExpr::Expressions(keys, _) = &s.group_by else { return None };
    let key_item = |k: &Expr| -> Option<&Expr> {
        match k {
            // GROUP BY 1, or GROUP BY an output column's alias.
            Expr::Value(v) => v.value.to_string().parse::<usize>().ok().and_then(|n| items.get(n.checked_sub(1)?).copied()),
            Expr::Identifier(i) => s.projection.iter().find_map(|p| match p {
                SelectItem::ExprWithAlias { expr, alias } if alias.value.eq_ignore_ascii_case(&i.value) => Some(expr),
                _ => None,
            }),
            _ => None,
        }
    };
    keys.iter().any(|k| has_subquery(key_item(k).unwrap_or(k))).then(|| SqlError::unsupported("a subquery inside a GROUP BY key").with_hint(hint))
}

/// Sets its flag on a subquery inside a call of an aggregate (not a window).
struct AggregateCalls<'a>(&'a mut bool);

impl Visitor for AggregateCalls<'_> {
    type Break = ();
    fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
        match e {
            // Another query level: its aggregates are its own.
            Expr::Subquery(_) | Expr::Exists { .. } | Expr::InSubquery { .. } => ControlFlow::Continue(()),
            Expr::Function(f) if f.over.is_none() && crate::plan::context::FUNCTIONS.aggregates.contains_key(&f.name.to_string().to_lowercase()) && has_subquery(e) => {
                *self.0 = true;
                ControlFlow::Break(())
            }
            _ => ControlFlow::Continue(()),
        }
    }
}

fn has_subquery(e: &Expr) -> bool {
    struct Find;
    impl Visitor for Find {
        type Break = ();
        fn pre_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
            ControlFlow::Break(())
        }
    }
    e.visit(&mut Find).is_break()
}
