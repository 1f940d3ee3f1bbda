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
use sqlparser::ast::{Query, Select, SetExpr, Statement, TableFactor, Visit, Visitor};
use std::ops::ControlFlow;

/// Refuses the forms above anywhere in `stmt`, and references to a name a
/// FROM-clause subquery repeats (42702, see [`crate::ambiguity`]).
pub fn refuse(stmt: &Statement) -> Result<(), SqlError> {
    struct Find(Option<SqlError>);
    impl Visitor for Find {
        type Break = ();
        fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<()> {
            if let SetExpr::Select(s) = q.body.as_ref() {
                self.0 = grouped_subquery(s).or_else(|| crate::ambiguity::ambiguous_reference(s, q));
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

/// A subquery inside an aggregate call or a GROUP BY key of `s` (left
/// there by [`crate::grouped_subqueries::lift`] because FROM joins).
fn grouped_subquery(s: &Select) -> Option<SqlError> {
    (!crate::grouped_subqueries::grouped_subqueries(s).is_empty()).then(|| {
        SqlError::unsupported("a subquery inside an aggregate or a GROUP BY key of a query that joins")
            .with_hint("compute the subquery's value in a FROM-clause subquery first and aggregate or group by its column: SELECT vip, count(*) FROM (SELECT x IN (SELECT ...) AS vip FROM t JOIN u ON ...) s GROUP BY vip")
    })
}
