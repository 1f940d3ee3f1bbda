//! Ambiguous references to a derived table's repeated column names.
//!
//! A FROM-clause subquery may name two columns alike (`(SELECT 1 AS n,
//! 2 AS n) s`), as PostgreSQL allows; reading both with `*` is fine, but a
//! reference to `n` or `s.n` is ambiguous (42702). DataFusion sees the
//! internal alias the rewrite gave the second column and would take the
//! first, so such references are refused here, before planning.
//!
//! What it checks: references in the select list, WHERE, GROUP BY, HAVING
//! and ORDER BY of the query whose FROM holds the subquery, not those in
//! its nested subqueries (which have FROM items of their own). A subquery
//! with a column alias list (`AS s(a, b)`) has the names that list gives.

use crate::error::{codes, SqlError};
use crate::names::{expr_name, ident_name};
use crate::rewrite::INTERNAL_ALIAS_PREFIX;
use sqlparser::ast::{Expr, Query, Select, SelectItem, SetExpr, TableFactor, Visit, Visitor};
use std::collections::HashSet;
use std::ops::ControlFlow;

/// The first reference of `s` (and `q`'s ORDER BY) to a name that a
/// subquery in its FROM repeats, refused (`crate::refusals` asks, for
/// every query of a statement).
pub fn ambiguous_reference(s: &Select, q: &Query) -> Option<SqlError> {
    // (derived table's alias, repeated name)
    let mut repeated: Vec<(String, String)> = Vec::new();
    let factors = s.from.iter().flat_map(|t| std::iter::once(&t.relation).chain(t.joins.iter().map(|j| &j.relation)));
    for f in factors {
        if let TableFactor::Derived { subquery, alias: Some(alias), .. } = f {
            if alias.columns.is_empty() {
                repeated.extend(repeated_names(&subquery.body).into_iter().map(|n| (ident_name(&alias.name), n)));
            }
        }
    }
    if repeated.is_empty() {
        return None;
    }
    struct References<'a> {
        repeated: &'a [(String, String)],
        depth: usize,
        found: Option<String>,
    }
    impl Visitor for References<'_> {
        type Break = ();
        fn pre_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
            self.depth += 1;
            ControlFlow::Continue(())
        }
        fn post_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
            self.depth -= 1;
            ControlFlow::Continue(())
        }
        fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            if self.depth > 0 {
                return ControlFlow::Continue(());
            }
            let hit = match e {
                Expr::Identifier(i) => self.repeated.iter().find(|(_, n)| *n == ident_name(i)).map(|(_, n)| n.clone()),
                Expr::CompoundIdentifier(parts) if parts.len() == 2 => {
                    let (t, c) = (ident_name(&parts[0]), ident_name(&parts[1]));
                    self.repeated.iter().find(|(a, n)| *a == t && *n == c).map(|(a, n)| format!("{}.{}", a, n))
                }
                _ => None,
            };
            match hit {
                Some(name) => {
                    self.found = Some(name);
                    ControlFlow::Break(())
                }
                None => ControlFlow::Continue(()),
            }
        }
    }
    let mut refs = References { repeated: &repeated, depth: 0, found: None };
    let _ = s.projection.visit(&mut refs);
    let _ = s.selection.visit(&mut refs);
    let _ = s.group_by.visit(&mut refs);
    let _ = s.having.visit(&mut refs);
    let _ = q.order_by.visit(&mut refs);
    refs.found.map(|name| SqlError::new(codes::AMBIGUOUS_COLUMN, format!("column reference \"{}\" is ambiguous", name)).with_hint("give the subquery's columns distinct names (AS), or name them in its alias: AS s(a, b)"))
}

/// The names the select list of `body` (its leftmost SELECT) gives more
/// than one column.
fn repeated_names(body: &SetExpr) -> Vec<String> {
    let select = match body {
        SetExpr::Select(s) => s,
        SetExpr::SetOperation { left, .. } => return repeated_names(left),
        SetExpr::Query(q) => return repeated_names(&q.body),
        _ => return Vec::new(),
    };
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for item in &select.projection {
        let name = match item {
            SelectItem::UnnamedExpr(e) => expr_name(e),
            SelectItem::ExprWithAlias { alias, expr } => match alias.value.strip_prefix(INTERNAL_ALIAS_PREFIX) {
                Some(rest) => rest.split_once(':').map(|(_, n)| n.to_string()).unwrap_or_else(|| expr_name(expr)),
                None => ident_name(alias),
            },
            _ => continue,
        };
        if !seen.insert(name.clone()) && !out.contains(&name) {
            out.push(name);
        }
    }
    out
}
