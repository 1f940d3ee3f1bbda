//! Fixes to the SQL syntax tree before planning.
//!
//! * sqlparser 0.62 parses the right operand of `IS [NOT] DISTINCT FROM` as
//!   a whole expression, so `a IS DISTINCT FROM b AND c` becomes
//!   `a IS DISTINCT FROM (b AND c)`. In PostgreSQL, IS binds tighter than
//!   AND and OR: the tree is rotated back to `(a IS DISTINCT FROM b) AND c`.
//! * A numeric literal the engine's numeric cannot hold (`1e308`, `5e-324`,
//!   more than 28 digits) becomes a double precision constant, the closest
//!   value eddy can represent (DataFusion would refuse it as a decimal).
//! * `make_interval(days => 10, hours => 2)`: named arguments become the
//!   seven positional ones, missing ones zero (DataFusion fills no defaults).
//! * Select-list items DataFusion would name alike (it ignores casts and
//!   parentheses: `a::text, a::int`, `a + b * 2, (a + b) * 2`; PostgreSQL
//!   allows duplicate names) get internal aliases, which
//!   [`crate::names`] turns back into PostgreSQL's names; so do repeated
//!   aliases (`SELECT 1 AS n, 2 AS n`).
//! * The top query's columns keep the names PostgreSQL gives the written
//!   select list: an item whose rewrite below would change its name
//!   (`x::varchar(3)`, `version()`, `x = ANY(arr)`) gets an internal alias
//!   that carries the written name.
//! * `GROUP BY ROLLUP(1, 2)` (and CUBE, GROUPING SETS): integers name
//!   select-list items, as in a plain `GROUP BY 1`.
//! * `GROUP BY ()` (the empty grouping set) is `GROUPING SETS (())`, and
//!   nothing beside other items.
//! * Function calls DataFusion would name alike because they differ only
//!   in casts (`sum(x), sum(x::bigint)`) are told apart by wrapping the
//!   later call's first argument in a one-argument `coalesce`.
//! * Function calls in FROM: see [`crate::from_functions`].
//! * An explicit cast to `varchar(n)` cuts the text to n characters, as in
//!   PostgreSQL: `CAST(x AS varchar(n))` becomes `left(CAST(x AS text), n)`
//!   (the engine has one text type).
//! * A quoted literal under `IS [NOT] TRUE / FALSE / UNKNOWN` is cast to
//!   boolean, as PostgreSQL reads it.
//! * `x AT TIME ZONE z` becomes the call `__eddy_at_time_zone(x, z)`, which
//!   the planner types by `x` (DataFusion's own reading is a cast to
//!   timestamptz, which left a timestamptz unchanged).
//! * `timezone(z, x)` is `x AT TIME ZONE z`.
//! * `substring(x FROM 'pattern')` with a quoted pattern and no FOR (also
//!   `substring(x, 'pattern')`) is the regular-expression form, as
//!   PostgreSQL reads a text second argument: it becomes the call
//!   `__eddy_substring_regex(x, 'pattern')` (DataFusion knows only the
//!   positional form).
//! * The session functions tools call when they connect (`version()`,
//!   `current_database()`, `current_schema()`, `current_user`,
//!   `session_user`, `pg_backend_pid()`, `current_setting('name')`) become
//!   the constants they are in eddy.

use rust_decimal::Decimal;
use sqlparser::ast::{
    BinaryOperator, CastKind, DataType, Expr, FunctionArg, LimitClause, FunctionArgExpr, FunctionArguments, Ident, Query, SelectItem, SetExpr, Statement, TableFactor, Value, VisitMut, VisitorMut,
};
use std::collections::HashSet;
use std::ops::ControlFlow;

/// Prefix of the aliases given to select-list items whose DataFusion names
/// would collide: `__eddy_col_3`, or `__eddy_col_3:name` when the item's
/// PostgreSQL name cannot be read off its rewritten expression (a repeated
/// alias, a session function replaced by its value).
pub const INTERNAL_ALIAS_PREFIX: &str = "__eddy_col_";

/// The internal alias of the `i`th select-list item, carrying `name` if given.
fn internal_alias(i: usize, name: Option<&str>) -> Ident {
    Ident::with_quote('"', match name {
        Some(name) => format!("{}{}:{}", INTERNAL_ALIAS_PREFIX, i, name),
        None => format!("{}{}", INTERNAL_ALIAS_PREFIX, i),
    })
}

/// Applies every rewrite to a parsed statement.
pub fn rewrite(stmt: &mut Statement) {
    let _ = stmt.visit(&mut Rewriter::default());
}

/// Kept for callers of the first rewrite alone.
pub fn fix_precedence(stmt: &mut Statement) {
    rewrite(stmt)
}

#[derive(Default)]
struct Rewriter {
    /// Per query enclosing the one being visited (and that one, last):
    /// PostgreSQL's names of its unaliased select-list items, figured
    /// before the rewrites (which can change them: `x::varchar(3)` becomes
    /// a call of `left`, `version()` its value).
    names: Vec<Vec<Option<String>>>,
    /// Whether the next query to visit is an expression's subquery (whose
    /// items are not read by name), and per visited query whether it was.
    expression_next: bool,
    expression: Vec<bool>,
}

impl VisitorMut for Rewriter {
    type Break = ();
    fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        rotate(e);
        float_literal(e);
        interval_literal(e);
        make_interval_args(e);
        session_function(e);
        at_time_zone(e);
        timezone_function(e);
        substring_regex(e);
        varchar_cast(e);
        boolean_test_literal(e);
        any_all_of_array(e);
        frame_interval_literal(e);
        ControlFlow::Continue(())
    }
    fn pre_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        if matches!(e, Expr::Subquery(_) | Expr::Exists { .. } | Expr::InSubquery { .. } | Expr::AnyOp { .. } | Expr::AllOp { .. }) {
            self.expression_next = true;
        }
        ControlFlow::Continue(())
    }
    fn pre_visit_query(&mut self, q: &mut Query) -> ControlFlow<()> {
        let expression = std::mem::take(&mut self.expression_next);
        self.expression.push(expression);
        let names = leftmost_select(&mut q.body).map(|s| s.projection.iter().map(|i| if let SelectItem::UnnamedExpr(e) = i { Some(crate::names::expr_name(e)) } else { None }).collect()).unwrap_or_default();
        self.names.push(names);
        ControlFlow::Continue(())
    }
    fn post_visit_query(&mut self, q: &mut Query) -> ControlFlow<()> {
        if let SetExpr::Select(select) = q.body.as_mut() {
            crate::grouped_subqueries::lift(select);
            crate::from_functions::select_list_calls(select);
            distinguish_calls(select, q.order_by.as_mut());
        } else {
            crate::from_functions::for_each_select(&mut q.body, &mut crate::from_functions::select_list_calls);
        }
        let names = self.names.pop().unwrap_or_default();
        let expression = self.expression.pop().unwrap_or_default();
        let top = self.names.is_empty();
        if !top && !expression {
            name_items(q, &names);
        }
        alias_colliding_items(&mut q.body);
        fetch_as_limit(q);
        crate::from_functions::alias_names_value(q);
        if top {
            keep_names(q, &names);
        }
        ControlFlow::Continue(())
    }
    fn post_visit_table_factor(&mut self, t: &mut TableFactor) -> ControlFlow<()> {
        crate::from_functions::name_unnest_column(t);
        crate::from_functions::lateral_call(t);
        ControlFlow::Continue(())
    }
}

/// Calls `f` on `e` and on every expression within it, innermost first,
/// except those inside its subqueries (another query level, whose names
/// resolve against its own FROM).
pub fn for_each_own_expr(e: &mut Expr, f: impl FnMut(&mut Expr)) {
    struct OwnLevel<F> {
        depth: usize,
        f: F,
    }
    impl<F: FnMut(&mut Expr)> VisitorMut for OwnLevel<F> {
        type Break = ();
        fn pre_visit_query(&mut self, _: &mut Query) -> ControlFlow<()> {
            self.depth += 1;
            ControlFlow::Continue(())
        }
        fn post_visit_query(&mut self, _: &mut Query) -> ControlFlow<()> {
            self.depth -= 1;
            ControlFlow::Continue(())
        }
        fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
            if self.depth == 0 {
                (self.f)(e);
            }
            ControlFlow::Continue(())
        }
    }
    let _ = e.visit(&mut OwnLevel { depth: 0, f });
}

/// `FETCH FIRST n ROWS ONLY` (the standard's LIMIT, which PostgreSQL
/// takes) is `LIMIT n`; `OFFSET .. FETCH ..` keeps its offset. WITH TIES and
/// PERCENT stay, for DataFusion to refuse.
fn fetch_as_limit(q: &mut Query) {
    let Some(fetch) = &q.fetch else { return };
    if fetch.with_ties || fetch.percent {
        return;
    }
    let n = fetch.quantity.clone().unwrap_or_else(|| Expr::value(Value::Number("1".into(), false)));
    match &mut q.limit_clause {
        None => q.limit_clause = Some(LimitClause::LimitOffset { limit: Some(n), offset: None, limit_by: vec![] }),
        Some(LimitClause::LimitOffset { limit: limit @ None, .. }) => *limit = Some(n),
        Some(_) => return, // LIMIT and FETCH both: left for DataFusion to refuse
    }
    q.fetch = None;
}

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

/// Whether the engine's numeric holds this literal exactly.
fn fits_numeric(s: &str) -> bool {
    if s.contains(['e', 'E']) {
        Decimal::from_scientific(s).is_ok_and(|d| d.scale() <= 28)
    } else {
        Decimal::from_str_exact(s).is_ok() || s.parse::<i64>().is_ok()
    }
}

fn float_literal(e: &mut Expr) {
    let Expr::Value(v) = e else { return };
    let Value::Number(s, _) = &v.value else { return };
    if fits_numeric(s) {
        return;
    }
    let text = Value::SingleQuotedString(s.clone()).with_empty_span();
    *e = Expr::Cast { kind: CastKind::DoubleColon, expr: Box::new(Expr::Value(text)), data_type: DataType::DoublePrecision, array: false, format: None };
}

/// `INTERVAL 'text'` is read by eddy's PostgreSQL interval input (as
/// `'text'::interval`), not by DataFusion's parser at planning time (which
/// also negates `-INTERVAL '1 day 2 hours'` as the text `-1 day 2 hours`).
fn interval_literal(e: &mut Expr) {
    let Expr::Interval(iv) = e else { return };
    if iv.leading_field.is_some() || iv.last_field.is_some() || iv.leading_precision.is_some() || iv.fractional_seconds_precision.is_some() {
        return;
    }
    if !matches!(&*iv.value, Expr::Value(v) if matches!(v.value, Value::SingleQuotedString(_))) {
        return;
    }
    let value = (*iv.value).clone();
    *e = Expr::Cast { kind: CastKind::DoubleColon, expr: Box::new(value), data_type: DataType::Interval { fields: None, precision: None }, array: false, format: None };
}

/// An interval offset of a RANGE window frame stays `INTERVAL 'text'`
/// (undoing [`interval_literal`] there): DataFusion takes only literals as
/// frame offsets.
fn frame_interval_literal(e: &mut Expr) {
    use sqlparser::ast::{WindowFrameBound, WindowType};
    let Expr::Function(f) = e else { return };
    let Some(WindowType::WindowSpec(spec)) = &mut f.over else { return };
    let Some(frame) = &mut spec.window_frame else { return };
    for bound in std::iter::once(&mut frame.start_bound).chain(frame.end_bound.as_mut()) {
        let (WindowFrameBound::Preceding(Some(offset)) | WindowFrameBound::Following(Some(offset))) = bound else { continue };
        if let Expr::Cast { expr, data_type: DataType::Interval { .. }, .. } = offset.as_mut() {
            let value = std::mem::replace(expr.as_mut(), Expr::value(Value::Null));
            **offset = Expr::Interval(sqlparser::ast::Interval { value: Box::new(value), leading_field: None, leading_precision: None, last_field: None, fractional_seconds_precision: None });
        }
    }
}

const MAKE_INTERVAL_PARAMS: [&str; 7] = ["years", "months", "weeks", "days", "hours", "mins", "secs"];

fn make_interval_args(e: &mut Expr) {
    let Expr::Function(f) = e else { return };
    if !f.name.0.last().is_some_and(|p| p.to_string().trim_matches('"').eq_ignore_ascii_case("make_interval")) {
        return;
    }
    let FunctionArguments::List(list) = &mut f.args else { return };
    let mut slots: Vec<Option<Expr>> = vec![None; MAKE_INTERVAL_PARAMS.len()];
    for (i, arg) in list.args.iter().enumerate() {
        let (slot, value) = match arg {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(v)) => (i, v),
            FunctionArg::Named { name, arg: FunctionArgExpr::Expr(v), .. } => match MAKE_INTERVAL_PARAMS.iter().position(|p| p.eq_ignore_ascii_case(&name.value)) {
                Some(p) => (p, v),
                None => return,
            },
            FunctionArg::ExprNamed { name: Expr::Identifier(name), arg: FunctionArgExpr::Expr(v), .. } => match MAKE_INTERVAL_PARAMS.iter().position(|p| p.eq_ignore_ascii_case(&name.value)) {
                Some(p) => (p, v),
                None => return,
            },
            _ => return,
        };
        match slots.get_mut(slot) {
            Some(s @ None) => *s = Some(value.clone()),
            _ => return,
        }
    }
    let zero = || Expr::Value(Value::Number("0".into(), false).with_empty_span());
    list.args = slots.into_iter().map(|s| FunctionArg::Unnamed(FunctionArgExpr::Expr(s.unwrap_or_else(zero)))).collect();
}

/// The part of an expression's display DataFusion names a column by:
/// casts and parentheses dropped, column references unqualified.
fn name_key(e: &Expr) -> String {
    struct Strip;
    impl VisitorMut for Strip {
        type Break = ();
        fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
            match e {
                Expr::Cast { expr, .. } | Expr::Nested(expr) => *e = (**expr).clone(),
                // `date '...'` is a cast of the text; `a ^ b` is power(a, b).
                Expr::TypedString(t) => *e = Expr::Value(t.value.clone()),
                Expr::BinaryOp { left, op: BinaryOperator::PGExp, right } => *e = Expr::Identifier(Ident::new(format!("power({}, {})", left, right))),
                Expr::CompoundIdentifier(parts) if !parts.is_empty() => *e = Expr::Identifier(parts.last().unwrap().clone()),
                // DataFusion names subquery expressions without their
                // subquery (`x IN (SELECT ...)` is just `IN`).
                Expr::InSubquery { negated, .. } => *e = Expr::Identifier(Ident::new(if *negated { "NOT IN" } else { "IN" })),
                Expr::Exists { negated, .. } => *e = Expr::Identifier(Ident::new(if *negated { "NOT EXISTS" } else { "EXISTS" })),
                // A scalar subquery is named after its one column, as
                // DataFusion names it (`(SELECT 1)` and `1::int` collide).
                Expr::Subquery(q) => *e = Expr::Identifier(Ident::new(subquery_column_name(q))),
                Expr::AnyOp { right, .. } | Expr::AllOp { right, .. } => *right = Box::new(Expr::Identifier(Ident::new("(subquery)"))),
                _ => {}
            }
            ControlFlow::Continue(())
        }
    }
    let mut e = e.clone();
    let _ = e.visit(&mut Strip);
    e.to_string().to_lowercase()
}

/// The name DataFusion gives a scalar subquery: its one column's.
fn subquery_column_name(q: &Query) -> String {
    match q.body.as_ref() {
        SetExpr::Select(s) if s.projection.len() == 1 => match &s.projection[0] {
            SelectItem::UnnamedExpr(e) => name_key(e),
            SelectItem::ExprWithAlias { alias, .. } => alias.value.to_lowercase(),
            _ => "(subquery)".into(),
        },
        _ => "(subquery)".into(),
    }
}

/// `GROUP BY ROLLUP(1, 2)`, `CUBE(...)` and `GROUPING SETS (...)`: an
/// integer there names a select-list item, as a plain `GROUP BY 1` does
/// (DataFusion resolves only the plain form).
fn positional_grouping_sets(select: &mut sqlparser::ast::Select) {
    let sqlparser::ast::GroupByExpr::Expressions(exprs, _) = &mut select.group_by else { return };
    for e in exprs.iter_mut() {
        let (Expr::Rollup(sets) | Expr::Cube(sets) | Expr::GroupingSets(sets)) = e else { continue };
        for x in sets.iter_mut().flatten() {
            if let Some(item) = positional_item(&select.projection, x) {
                *x = item.clone();
            }
        }
    }
}

/// The select-list item an integer in GROUP BY names (`GROUP BY 1`).
pub fn positional_item<'a>(projection: &'a [SelectItem], key: &Expr) -> Option<&'a Expr> {
    let Expr::Value(v) = key else { return None };
    let Value::Number(n, _) = &v.value else { return None };
    match projection.get(n.parse::<usize>().ok()?.checked_sub(1)?)? {
        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => Some(e),
        _ => None,
    }
}

/// `GROUP BY ()`: the empty grouping set, one group of every row (one row
/// even of no rows). Beside other items it adds nothing (`GROUP BY (), a`
/// is `GROUP BY a`); alone it is `GROUPING SETS (())`, which DataFusion
/// plans (it refuses the empty tuple).
fn empty_grouping_set(select: &mut sqlparser::ast::Select) {
    let sqlparser::ast::GroupByExpr::Expressions(exprs, _) = &mut select.group_by else { return };
    let empty = |e: &Expr| matches!(e, Expr::Tuple(t) if t.is_empty());
    if !exprs.iter().any(empty) {
        return;
    }
    exprs.retain(|e| !empty(e));
    if exprs.is_empty() {
        exprs.push(Expr::GroupingSets(vec![vec![]]));
    }
}

/// Function calls DataFusion would name alike because they differ only in
/// casts (`sum(x), sum(x::bigint)`): it refuses two aggregates of one
/// name. A later call's first argument is wrapped in a one-argument
/// `coalesce`, which changes the name and nothing else.
fn distinguish_calls(select: &mut sqlparser::ast::Select, order_by: Option<&mut sqlparser::ast::OrderBy>) {
    struct Calls(std::collections::HashMap<String, String>);
    impl VisitorMut for Calls {
        type Break = ();
        fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
            if !matches!(e, Expr::Function(_)) {
                return ControlFlow::Continue(());
            }
            // Wrap again while another call holds the name (three calls
            // that differ only in casts need two distinct wrappings).
            for _ in 0..8 {
                let (key, text) = (name_key(e), e.to_string());
                match self.0.get(&key) {
                    Some(seen) if *seen != text => {
                        let Expr::Function(f) = e else { break };
                        let FunctionArguments::List(l) = &mut f.args else { break };
                        let Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(x))) = l.args.first_mut() else { break };
                        *x = function_call("coalesce", vec![x.clone()]);
                    }
                    Some(_) => break,
                    None => {
                        self.0.insert(key, text);
                        break;
                    }
                }
            }
            ControlFlow::Continue(())
        }
    }
    let mut calls = Calls(Default::default());
    for item in select.projection.iter_mut() {
        let _ = item.visit(&mut calls);
    }
    if let Some(h) = &mut select.having {
        let _ = h.visit(&mut calls);
    }
    if let Some(o) = order_by {
        let _ = o.visit(&mut calls);
    }
}

fn alias_colliding_items(body: &mut SetExpr) {
    match body {
        SetExpr::SetOperation { left, right, .. } => {
            alias_colliding_items(left);
            alias_colliding_items(right);
        }
        SetExpr::Select(select) => {
            positional_grouping_sets(select);
            empty_grouping_set(select);
            let wildcard = select.projection.iter().any(|i| matches!(i, SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)));
            let mut seen = HashSet::new();
            for (i, item) in select.projection.iter_mut().enumerate() {
                match item {
                    SelectItem::UnnamedExpr(e) => {
                        let plain = matches!(e, Expr::Identifier(_) | Expr::CompoundIdentifier(_));
                        let fresh = seen.insert(name_key(e));
                        if !fresh || (wildcard && !plain) {
                            // Named, for a query that reads this one's columns with `*`.
                            *item = SelectItem::ExprWithAlias { expr: e.clone(), alias: internal_alias(i, Some(&crate::names::expr_name(e))) };
                        }
                    }
                    // PostgreSQL allows `SELECT 1 AS a, 2 AS a`; DataFusion not.
                    SelectItem::ExprWithAlias { alias, .. } if !seen.insert(alias.value.to_lowercase()) => *alias = internal_alias(i, Some(&crate::names::ident_name(alias))),
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    fn rewritten(sql: &str) -> String {
        let mut stmts = crate::statement::parse(sql).unwrap();
        stmts.remove(0).to_string()
    }

    #[test]
    fn out_of_range_literals_become_doubles() {
        assert_eq!(rewritten("SELECT 1.7976931348623157e308, 5e-324, 1.5, 1e3"), "SELECT '1.7976931348623157e308'::DOUBLE PRECISION AS \"__eddy_col_0:?column?\", '5e-324'::DOUBLE PRECISION AS \"__eddy_col_1:?column?\", 1.5, 1e3");
    }

    #[test]
    fn interval_literals_are_casts() {
        assert_eq!(rewritten("SELECT -INTERVAL '1 day 2 hours', INTERVAL '1' DAY"), "SELECT -'1 day 2 hours'::INTERVAL, INTERVAL '1' DAY");
    }

    #[test]
    fn make_interval_named_arguments_become_positional() {
        assert_eq!(rewritten("SELECT make_interval(days => 10, hours => 2)"), "SELECT make_interval(0, 0, 0, 10, 2, 0, 0)");
    }

    #[test]
    fn colliding_select_items_get_internal_aliases() {
        assert_eq!(rewritten("SELECT a + b * 2, (a + b) * 2, a::text, t.a FROM t"), "SELECT a + b * 2, (a + b) * 2 AS \"__eddy_col_1:?column?\", a::TEXT, t.a AS \"__eddy_col_3:a\" FROM t");
        assert_eq!(rewritten("SELECT (SELECT 1), 1::int, (SELECT 2)"), "SELECT (SELECT 1), 1::INT AS \"__eddy_col_1:int4\", (SELECT 2)");
        assert_eq!(rewritten("SELECT *, a::text FROM t"), "SELECT *, a::TEXT AS \"__eddy_col_1:a\" FROM t");
        assert_eq!(rewritten("SELECT a, b FROM t"), "SELECT a, b FROM t");
        assert_eq!(rewritten("SELECT date '2024-03-01', timestamp '2024-03-01'"), "SELECT DATE '2024-03-01', TIMESTAMP '2024-03-01' AS \"__eddy_col_1:timestamp\"");
        assert_eq!(rewritten("SELECT 2.0 ^ 3, power(2.0, 3)"), "SELECT 2.0 ^ 3, power(2.0, 3) AS \"__eddy_col_1:power\"");
    }
}

/// The value of a session setting as `SHOW` and `current_setting` give it.
pub fn setting(name: &str) -> Option<&'static str> {
    Some(match name.to_ascii_lowercase().as_str() {
        "timezone" => "UTC",
        "datestyle" => "ISO, MDY",
        "server_version" => "15.0 (eddy)",
        "server_version_num" => "150000",
        "transaction_isolation" | "transaction" => "serializable",
        "standard_conforming_strings" => "on",
        "client_encoding" | "server_encoding" => "UTF8",
        "search_path" => "public",
        "application_name" => "",
        "integer_datetimes" | "is_superuser" => "on",
        "max_identifier_length" => "63",
        _ => return None,
    })
}

/// The select whose items name a query's columns: the leftmost of its
/// set operations.
fn leftmost_select(body: &mut SetExpr) -> Option<&mut sqlparser::ast::Select> {
    match body {
        SetExpr::Select(s) => Some(s),
        SetExpr::SetOperation { left, .. } => leftmost_select(left),
        _ => None,
    }
}

/// Names a nested query's unaliased items that are not column references
/// as PostgreSQL does (`count(*)` is `count`), so that a query reading it
/// can refer to them by that name and `*` gives it.
fn name_items(q: &mut Query, names: &[Option<String>]) {
    let Some(select) = leftmost_select(&mut q.body) else { return };
    if select.projection.len() != names.len() {
        return;
    }
    for (item, name) in select.projection.iter_mut().zip(names) {
        let Some(name) = name else { continue };
        if let SelectItem::UnnamedExpr(e) = item {
            if !matches!(e, Expr::Identifier(_) | Expr::CompoundIdentifier(_)) {
                *item = SelectItem::ExprWithAlias { expr: e.clone(), alias: Ident::with_quote('"', name.clone()) };
            }
        }
    }
}

/// Gives the top query's items whose rewritten expression
/// [`crate::names`] would name otherwise than the written one an internal
/// alias carrying the written one's name.
fn keep_names(q: &mut Query, names: &[Option<String>]) {
    let Some(select) = leftmost_select(&mut q.body) else { return };
    if select.projection.len() != names.len() {
        return;
    }
    for (i, (item, name)) in select.projection.iter_mut().zip(names).enumerate() {
        let Some(name) = name else { continue };
        match item {
            SelectItem::UnnamedExpr(e) if crate::names::expr_name(e) != *name => *item = SelectItem::ExprWithAlias { expr: e.clone(), alias: internal_alias(i, Some(name)) },
            SelectItem::ExprWithAlias { alias, .. } if alias.value.starts_with(INTERNAL_ALIAS_PREFIX) => *alias = internal_alias(i, Some(name)),
            _ => {}
        }
    }
}

fn session_function(e: &mut Expr) {
    let Expr::Function(f) = e else { return };
    let name = f.name.to_string().to_ascii_lowercase();
    let name = name.trim_start_matches("pg_catalog.");
    let args: Vec<&Expr> = match &f.args {
        FunctionArguments::List(l) => l.args.iter().filter_map(|a| if let FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) = a { Some(e) } else { None }).collect(),
        _ => vec![],
    };
    let text = |s: &str| Expr::value(Value::SingleQuotedString(s.to_string()));
    *e = match (name, args.as_slice()) {
        ("version", []) => text("PostgreSQL 15.0 (eddy, a streaming SQL database)"),
        ("current_database" | "current_catalog", []) => text("eddy"),
        ("current_schema", []) => text("public"),
        ("current_user" | "session_user" | "user" | "current_role", []) => text("eddy"),
        ("pg_backend_pid", []) => Expr::value(Value::Number("1".into(), false)),
        ("current_setting", [Expr::Value(v)]) => match &v.value {
            Value::SingleQuotedString(s) => match setting(s) {
                Some(value) => text(value),
                None => return,
            },
            _ => return,
        },
        _ => return,
    };
}

/// The function `x AT TIME ZONE z` is planned as.
pub const AT_TIME_ZONE: &str = "__eddy_at_time_zone";

fn at_time_zone(e: &mut Expr) {
    let Expr::AtTimeZone { timestamp, time_zone } = e else { return };
    *e = function_call(AT_TIME_ZONE, vec![(**timestamp).clone(), (**time_zone).clone()]);
}

fn timezone_function(e: &mut Expr) {
    let Expr::Function(f) = e else { return };
    if !f.name.to_string().eq_ignore_ascii_case("timezone") || f.over.is_some() {
        return;
    }
    let FunctionArguments::List(l) = &f.args else { return };
    let [FunctionArg::Unnamed(FunctionArgExpr::Expr(zone)), FunctionArg::Unnamed(FunctionArgExpr::Expr(value))] = l.args.as_slice() else { return };
    *e = function_call(AT_TIME_ZONE, vec![value.clone(), zone.clone()]);
}

fn substring_regex(e: &mut Expr) {
    let Expr::Substring { expr, substring_from: Some(from), substring_for: None, shorthand: false, .. } = e else { return };
    let Expr::Value(v) = from.as_ref() else { return };
    if !matches!(v.value, Value::SingleQuotedString(_) | Value::EscapedStringLiteral(_)) {
        return;
    }
    *e = function_call(crate::plan::pg_functions::SUBSTRING_REGEX, vec![(**expr).clone(), (**from).clone()]);
}

fn varchar_cast(e: &mut Expr) {
    use sqlparser::ast::CharacterLength;
    let Expr::Cast { data_type: DataType::Varchar(Some(CharacterLength::IntegerLength { length, .. })) | DataType::CharacterVarying(Some(CharacterLength::IntegerLength { length, .. })), .. } = e else { return };
    let n = *length;
    let Expr::Cast { kind, expr, format, array, .. } = std::mem::replace(e, Expr::value(Value::Null)) else { unreachable!() };
    let text = Expr::Cast { kind, expr, data_type: DataType::Text, format, array };
    *e = function_call("left", vec![text, Expr::value(Value::Number(n.to_string(), false))]);
}

/// `'t' IS TRUE` (and IS FALSE, IS UNKNOWN, IS NOT ...): a quoted literal
/// there is a boolean, as PostgreSQL types it (DataFusion would compare
/// text with a boolean).
fn boolean_test_literal(e: &mut Expr) {
    let (Expr::IsTrue(x) | Expr::IsFalse(x) | Expr::IsUnknown(x) | Expr::IsNotTrue(x) | Expr::IsNotFalse(x) | Expr::IsNotUnknown(x)) = e else { return };
    if matches!(&**x, Expr::Value(v) if matches!(v.value, Value::SingleQuotedString(_))) {
        let literal = std::mem::replace(&mut **x, Expr::value(Value::Null));
        **x = Expr::Cast { kind: CastKind::DoubleColon, expr: Box::new(literal), data_type: DataType::Boolean, format: None, array: false };
    }
}

/// `x op ANY (array)` and `ALL` (not of a subquery) as a call of
/// `plan::pg_arrays::ARRAY_COMPARE`, which keeps PostgreSQL's NULL rules.
fn any_all_of_array(e: &mut Expr) {
    let (Expr::AnyOp { right, .. } | Expr::AllOp { right, .. }) = e else { return };
    if matches!(**right, Expr::Subquery(_)) {
        return;
    }
    let all = matches!(e, Expr::AllOp { .. });
    let (Expr::AnyOp { left, compare_op, right, .. } | Expr::AllOp { left, compare_op, right }) = std::mem::replace(e, Expr::value(Value::Null)) else { unreachable!() };
    let op = Expr::value(Value::SingleQuotedString(compare_op.to_string()));
    *e = function_call(crate::plan::pg_arrays::ARRAY_COMPARE, vec![*left, *right, op, Expr::value(Value::Boolean(all))]);
}

/// `name(args...)` as a plain function call.
fn function_call(name: &str, args: Vec<Expr>) -> Expr {
    Expr::Function(sqlparser::ast::Function {
        name: sqlparser::ast::ObjectName::from(vec![Ident::new(name)]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(sqlparser::ast::FunctionArgumentList { duplicate_treatment: None, args: args.into_iter().map(|x| FunctionArg::Unnamed(FunctionArgExpr::Expr(x))).collect(), clauses: vec![] }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: vec![],
    })
}
