//! Subqueries inside a grouped query's aggregates or GROUP BY keys, when
//! the query reads one FROM item: each is computed per row in a derived
//! table first, and the grouped query reads its column.
//!
//! ```text
//! SELECT k IN (SELECT z FROM b) AS vip, count(*) FILTER (WHERE x > (SELECT avg(x) FROM a)) FROM a WHERE w GROUP BY 1
//! SELECT a.__eddy_sq_1 AS vip, count(*) FILTER (WHERE a.__eddy_sq_2) FROM
//!   (SELECT *, k IN (SELECT z FROM b) AS __eddy_sq_1, x > (SELECT avg(x) FROM a) AS __eddy_sq_2 FROM a WHERE w) AS a GROUP BY 1
//! ```
//!
//! The derived table takes the FROM item's name, so the query's other
//! references (`a.k`, `k`) still resolve, and the subqueries keep what
//! they read. DataFusion plans neither form of the original (its planner
//! loses such expressions between the aggregate and the projection). With
//! several FROM items or joins the query is left as it is and
//! [`crate::refusals`] refuses it with a hint.

use sqlparser::ast::{Expr, GroupByExpr, Ident, Select, SelectItem, SetExpr, Statement, TableAlias, TableFactor, TableWithJoins, Visit, VisitMut, Visitor, VisitorMut, WildcardAdditionalOptions};
use std::ops::ControlFlow;

/// The prefix of the derived table's columns that hold the subqueries' values.
const COLUMN_PREFIX: &str = "__eddy_sq_";

/// Rewrites `select` as the module documentation shows, where it applies.
pub fn lift(select: &mut Select) {
    if select.from.len() != 1 || !select.from[0].joins.is_empty() {
        return;
    }
    let Some(qualifier) = from_item_name(&select.from[0].relation) else { return };
    let found = grouped_subqueries(select);
    if found.is_empty() {
        return;
    }
    // The values, computed per row of the FROM item under the WHERE clause.
    let mut inner = select.clone();
    inner.projection = vec![SelectItem::Wildcard(WildcardAdditionalOptions::default())];
    for (i, e) in found.iter().enumerate() {
        inner.projection.push(SelectItem::ExprWithAlias { expr: e.clone(), alias: Ident::new(format!("{}{}", COLUMN_PREFIX, i + 1)) });
    }
    inner.group_by = GroupByExpr::Expressions(vec![], vec![]);
    inner.having = None;
    inner.distinct = None;
    inner.named_window = vec![];
    inner.qualify = None;
    let Ok(Some(Statement::Query(mut query))) = crate::statement::parse("SELECT 1").map(|mut s| s.pop()) else { return };
    query.body = Box::new(SetExpr::Select(Box::new(inner)));
    // The grouped query reads the columns instead.
    let mut replace = Replace { found: &found, qualifier: &qualifier };
    for item in &mut select.projection {
        let _ = VisitMut::visit(item, &mut replace);
    }
    let _ = VisitMut::visit(&mut select.having, &mut replace);
    let _ = VisitMut::visit(&mut select.group_by, &mut replace);
    select.selection = None;
    let alias = TableAlias { explicit: true, name: qualifier.clone(), columns: vec![], at: None };
    select.from = vec![TableWithJoins { relation: TableFactor::Derived { lateral: false, subquery: query, alias: Some(alias), sample: None }, joins: vec![] }];
}

/// The outermost subquery expressions inside the aggregate calls (of the
/// select list and HAVING) and the GROUP BY keys of `select`, once each.
pub fn grouped_subqueries(select: &Select) -> Vec<Expr> {
    let mut found = Vec::new();
    let items: Vec<&Expr> = select.projection.iter().filter_map(|i| match i {
        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => Some(e),
        _ => None,
    }).collect();
    for e in items.iter().copied().chain(&select.having) {
        let _ = e.visit(&mut InAggregates { found: &mut found, depth: 0 });
    }
    if let GroupByExpr::Expressions(keys, _) = &select.group_by {
        for key in keys {
            // GROUP BY 1, or GROUP BY an output column's alias.
            let item = match key {
                Expr::Value(_) => crate::rewrite::positional_item(&select.projection, key),
                Expr::Identifier(i) => select.projection.iter().find_map(|p| match p {
                    SelectItem::ExprWithAlias { expr, alias } if alias.value.eq_ignore_ascii_case(&i.value) => Some(expr),
                    _ => None,
                }),
                _ => None,
            };
            collect_subqueries(item.unwrap_or(key), &mut found);
        }
    }
    found
}

/// The name the query's references use for its one FROM item.
fn from_item_name(t: &TableFactor) -> Option<Ident> {
    match t {
        TableFactor::Table { alias: Some(a), .. } | TableFactor::Derived { alias: Some(a), lateral: false, .. } if a.columns.is_empty() => Some(a.name.clone()),
        TableFactor::Table { name, alias: None, args: None, .. } => name.0.last().and_then(|p| p.as_ident()).cloned(),
        _ => None,
    }
}

/// A subquery expression, whole: `x IN (SELECT ..)`, `EXISTS (..)`,
/// `(SELECT ..)`, `x = ANY (SELECT ..)`.
fn is_subquery(e: &Expr) -> bool {
    match e {
        Expr::InSubquery { .. } | Expr::Exists { .. } | Expr::Subquery(_) => true,
        Expr::AnyOp { right, .. } | Expr::AllOp { right, .. } => matches!(right.as_ref(), Expr::Subquery(_)),
        _ => false,
    }
}

/// The outermost subquery expressions within `e` (once each).
fn collect_subqueries(e: &Expr, found: &mut Vec<Expr>) {
    struct Collect<'a>(&'a mut Vec<Expr>, usize);
    impl Visitor for Collect<'_> {
        type Break = ();
        fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            if self.1 == 0 && is_subquery(e) && !self.0.contains(e) {
                self.0.push(e.clone());
            }
            if is_subquery(e) {
                self.1 += 1;
            }
            ControlFlow::Continue(())
        }
        fn post_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            if is_subquery(e) {
                self.1 -= 1;
            }
            ControlFlow::Continue(())
        }
    }
    let _ = e.visit(&mut Collect(found, 0));
}

/// Collects the subquery expressions inside aggregate calls (not windows)
/// of this query level.
struct InAggregates<'a> {
    found: &'a mut Vec<Expr>,
    /// How many subquery expressions enclose the visit (another level).
    depth: usize,
}

impl Visitor for InAggregates<'_> {
    type Break = ();
    fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
        if is_subquery(e) {
            self.depth += 1;
        } else if let Expr::Function(f) = e {
            if self.depth == 0 && f.over.is_none() && crate::from_functions::called(&f.name).is_some_and(|name| crate::plan::context::FUNCTIONS.aggregates.contains_key(&name)) {
                collect_subqueries(e, self.found);
            }
        }
        ControlFlow::Continue(())
    }
    fn post_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
        if is_subquery(e) {
            self.depth -= 1;
        }
        ControlFlow::Continue(())
    }
}

/// Replaces each found expression by the derived table's column for it.
struct Replace<'a> {
    found: &'a [Expr],
    qualifier: &'a Ident,
}

impl VisitorMut for Replace<'_> {
    type Break = ();
    fn pre_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        if let Some(i) = self.found.iter().position(|f| f == e) {
            *e = Expr::CompoundIdentifier(vec![self.qualifier.clone(), Ident::new(format!("{}{}", COLUMN_PREFIX, i + 1))]);
        }
        ControlFlow::Continue(())
    }
}
