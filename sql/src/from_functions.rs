//! Function calls in FROM, in the syntax tree before planning.
//!
//! * A call may read the FROM items before it, as in PostgreSQL
//!   (`FROM orders o, jsonb_array_elements(o.items) e`): it becomes
//!   `LATERAL name(args)`, for which DataFusion plans the arguments against
//!   those items (see `plan::lateral`). WITH ORDINALITY, which DataFusion
//!   drops there, is carried in the function's name ([`ORDINALITY_SUFFIX`]),
//!   which `plan::table_functions` reads back.
//! * An alias's column list is completed with the function's own column
//!   names (PostgreSQL names the columns an alias leaves out; DataFusion
//!   wants all or none). A function returning one value of a base type
//!   (`generate_series`, `jsonb_object_keys`) names its column by the
//!   alias, as in PostgreSQL (`FROM generate_series(1, 3) g ... SELECT g`).
//! * A set-returning function in the select list moves into FROM when the
//!   query does not group ([`select_list_calls`]).
//! * `jsonb_array_elements[_text]` name their column `value`, and
//!   PostgreSQL also reads the alias alone as that value
//!   (`FROM jsonb_array_elements(o.items) item ... item->>'sku'`). When a
//!   query uses such an alias as a bare name, the column takes the alias's
//!   name instead (`item.value` then no longer resolves; eddy has no
//!   whole-row references that would give both).

use eddy_engine::expr::TableFunc;
use sqlparser::ast::{visit_expressions, Expr, FunctionArguments, GroupByExpr, Ident, ObjectName, Query, Select, SelectItem, SetExpr, TableAlias, TableAliasColumnDef, TableFactor, TableWithJoins};
use std::collections::HashSet;
use std::ops::ControlFlow;

pub const ORDINALITY_SUFFIX: &str = " WITH ORDINALITY";

/// The table functions whose one column is named by a table alias
/// (they return a base type; the jsonb ones name theirs `value`).
const ALIAS_NAMES_COLUMN: &[&str] = &["generate_series", "jsonb_object_keys", "regexp_matches", "regexp_split_to_table"];

/// The table functions returning one `value`, which a bare alias reads.
const BARE_ALIAS_READS_VALUE: &[&str] = &["jsonb_array_elements", "jsonb_array_elements_text"];

/// The function a FROM item calls, lower-case, without the ordinality mark.
pub(crate) fn called(name: &ObjectName) -> Option<String> {
    let last = name.0.last()?.as_ident()?.value.to_lowercase();
    Some(last.strip_suffix(&ORDINALITY_SUFFIX.to_lowercase()).map(str::to_string).unwrap_or(last))
}

/// `unnest(array)` in FROM names its column as PostgreSQL does: by the
/// alias (`unnest(a) u` is column `u`), else `unnest`.
pub fn name_unnest_column(t: &mut TableFactor) {
    // `LATERAL unnest(a)` is a function call to sqlparser: the same UNNEST item.
    if let TableFactor::Function { name, args, alias, with_ordinality: false, .. } = t {
        if called(name).as_deref() == Some("unnest") && args.len() == 1 {
            if let sqlparser::ast::FunctionArg::Unnamed(sqlparser::ast::FunctionArgExpr::Expr(e)) = &args[0] {
                *t = TableFactor::UNNEST { alias: alias.take(), array_exprs: vec![e.clone()], with_offset: false, with_offset_alias: None, with_ordinality: false };
            }
        }
    }
    let TableFactor::UNNEST { alias, array_exprs, .. } = t else { return };
    if array_exprs.len() != 1 {
        return;
    }
    let alias = alias.get_or_insert_with(|| TableAlias { explicit: true, name: Ident::new("unnest"), columns: vec![], at: None });
    if alias.columns.is_empty() {
        alias.columns = vec![TableAliasColumnDef::from_name(alias.name.value.clone())];
    }
}

/// `name(args)` in FROM as `LATERAL name(args)` (see the module doc).
pub fn lateral_call(t: &mut TableFactor) {
    let (name, args, alias, ordinality) = match t {
        TableFactor::Table { name, args: Some(args), alias, with_ordinality, .. } => (name, args.args.clone(), alias, *with_ordinality),
        TableFactor::Function { name, args, alias, with_ordinality, .. } => (name, args.clone(), alias, *with_ordinality),
        _ => return,
    };
    let Some(func) = called(name) else { return };
    if let (Some(known), Some(alias)) = (TableFunc::by_name(&func), alias.as_mut()) {
        let alias_names = ALIAS_NAMES_COLUMN.contains(&func.as_str());
        if alias_names || !alias.columns.is_empty() {
            let mut names: Vec<String> = match alias_names {
                true => vec![alias.name.value.clone()],
                false => known.columns().into_iter().map(|(n, _)| n.to_string()).collect(),
            };
            if ordinality {
                names.push("ordinality".to_string());
            }
            for n in names.into_iter().skip(alias.columns.len()) {
                alias.columns.push(TableAliasColumnDef::from_name(n));
            }
        }
    }
    let name = if ordinality { ObjectName::from(vec![Ident::with_quote('"', format!("{}{}", func, ORDINALITY_SUFFIX))]) } else { name.clone() };
    *t = TableFactor::Function { lateral: true, name, args, with_ordinality: ordinality, alias: alias.clone() };
}

/// Names the `value` column of `jsonb_array_elements(...) item` by its
/// alias when `q` reads `item` as a bare name (see the module doc). Each
/// SELECT of a set operation (`... UNION ALL ...`) is one such query: the
/// names it reads are its own.
pub fn alias_names_value(q: &mut Query) {
    if let SetExpr::Select(select) = q.body.as_ref() {
        if !select_calls_bare_alias(select) {
            return;
        }
        let bare = bare_names(&*q);
        let SetExpr::Select(select) = q.body.as_mut() else { return };
        name_bare_aliases(select, &bare);
        return;
    }
    for_each_select(&mut q.body, &mut |select| {
        if select_calls_bare_alias(select) {
            let bare = bare_names(&*select);
            name_bare_aliases(select, &bare);
        }
    });
}

/// Calls `f` on the SELECTs of a set operation (not those of subqueries,
/// which are queries of their own).
pub fn for_each_select(body: &mut SetExpr, f: &mut impl FnMut(&mut Select)) {
    match body {
        SetExpr::Select(select) => f(select),
        SetExpr::SetOperation { left, right, .. } => {
            for_each_select(left, f);
            for_each_select(right, f);
        }
        _ => {}
    }
}

/// The FROM items of a SELECT, each table factor of its joins included.
fn factors_mut(select: &mut Select) -> impl Iterator<Item = &mut TableFactor> {
    select.from.iter_mut().flat_map(|from| std::iter::once(&mut from.relation).chain(from.joins.iter_mut().map(|j| &mut j.relation)))
}

/// The aliases of `jsonb_array_elements(...) item` (no column list) in a SELECT's FROM.
fn value_aliases(select: &Select) -> Vec<String> {
    let factors = select.from.iter().flat_map(|from| std::iter::once(&from.relation).chain(from.joins.iter().map(|j| &j.relation)));
    factors
        .filter_map(|factor| match factor {
            TableFactor::Function { name, alias: Some(a), .. } if a.columns.is_empty() && called(name).is_some_and(|f| BARE_ALIAS_READS_VALUE.contains(&f.as_str())) => Some(ident_key(&a.name)),
            _ => None,
        })
        .collect()
}

fn select_calls_bare_alias(select: &Select) -> bool {
    !value_aliases(select).is_empty()
}

/// The names read bare (unqualified) anywhere in `v`.
fn bare_names<V: sqlparser::ast::Visit>(v: &V) -> HashSet<String> {
    let mut bare = HashSet::new();
    let _ = visit_expressions(v, |e| {
        if let Expr::Identifier(i) = e {
            bare.insert(ident_key(i));
        }
        ControlFlow::<()>::Continue(())
    });
    bare
}

fn name_bare_aliases(select: &mut Select, bare: &HashSet<String>) {
    let aliases = value_aliases(select);
    for factor in factors_mut(select) {
        if let TableFactor::Function { alias: Some(a), with_ordinality, .. } = factor {
            if a.columns.is_empty() && aliases.contains(&ident_key(&a.name)) && bare.contains(&ident_key(&a.name)) {
                name_columns(a, *with_ordinality);
            }
        }
    }
}

fn name_columns(a: &mut TableAlias, ordinality: bool) {
    a.columns.push(TableAliasColumnDef::from_name(a.name.value.clone()));
    if ordinality {
        a.columns.push(TableAliasColumnDef::from_name("ordinality"));
    }
}

/// How a name resolves: unquoted names fold to lower case.
fn ident_key(i: &Ident) -> String {
    match i.quote_style {
        Some(_) => i.value.clone(),
        None => i.value.to_lowercase(),
    }
}

/// The set-returning functions of one column, which PostgreSQL also runs
/// in the select list (the ones returning records it would give as one
/// composite value, which eddy has not).
const SELECT_LIST_FUNCTIONS: &[&str] = &["jsonb_array_elements", "jsonb_array_elements_text", "jsonb_object_keys", "generate_series", "regexp_matches", "regexp_split_to_table"];

/// The alias of a select-list call moved into FROM, and its column.
const SRF_ALIAS: &str = "__eddy_srf";
const SRF_COLUMN: &str = "__eddy_srf_value";

/// `SELECT id, jsonb_array_elements(items) ->> 'sku' FROM orders` as
/// `SELECT id, __eddy_srf.v ->> 'sku' FROM orders, LATERAL
/// jsonb_array_elements(items) AS __eddy_srf(v)`.
///
/// PostgreSQL runs a set-returning function of the select list once per
/// row that FROM and WHERE give, after grouping, and the rows it returns
/// replace that row: a lateral call at the end of FROM, when the query
/// does not group or aggregate. So it applies only to a SELECT without
/// GROUP BY, HAVING, aggregates or window functions, with one distinct
/// call (PostgreSQL runs several in step, a cross product would not); the
/// others are left to the planner, which refuses them with a hint. An item
/// that is the bare call is named after the function, as PostgreSQL names it.
pub fn select_list_calls(select: &mut Select) {
    if select.having.is_some() || !matches!(&select.group_by, GroupByExpr::Expressions(e, _) if e.is_empty()) {
        return;
    }
    // The calls of this query's own level (not of its subqueries), and
    // whether it aggregates.
    let (mut found, mut aggregates) = (Vec::new(), false);
    for e in select_exprs(select) {
        crate::rewrite::for_each_own_expr(e, |e| {
            let Expr::Function(f) = e else { return };
            let name = called(&f.name).unwrap_or_default();
            aggregates |= f.over.is_some() || crate::plan::context::FUNCTIONS.aggregates.contains_key(&name);
            if SELECT_LIST_FUNCTIONS.contains(&name.as_str()) {
                found.push(e.clone());
            }
        });
    }
    let Some(first) = found.first().cloned() else { return };
    if aggregates || found.iter().any(|c| c != &first) {
        return;
    }
    let Expr::Function(call) = &first else { return };
    let FunctionArguments::List(list) = &call.args else { return };
    let Some(name) = called(&call.name) else { return };
    for item in &mut select.projection {
        if let SelectItem::UnnamedExpr(e) = item {
            if *e == first {
                *item = SelectItem::ExprWithAlias { expr: e.clone(), alias: Ident::new(&name) };
            }
        }
    }
    let column = Expr::CompoundIdentifier(vec![Ident::new(SRF_ALIAS), Ident::new(SRF_COLUMN)]);
    for e in select_exprs(select) {
        crate::rewrite::for_each_own_expr(e, |e| {
            if *e == first {
                *e = column.clone();
            }
        });
    }
    let alias = TableAlias { explicit: true, name: Ident::new(SRF_ALIAS), columns: vec![TableAliasColumnDef::from_name(SRF_COLUMN)], at: None };
    let relation = TableFactor::Function { lateral: true, name: call.name.clone(), args: list.args.clone(), with_ordinality: false, alias: Some(alias) };
    select.from.push(TableWithJoins { relation, joins: vec![] });
}

/// The select list's expressions.
fn select_exprs(select: &mut Select) -> impl Iterator<Item = &mut Expr> {
    select.projection.iter_mut().filter_map(|item| match item {
        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => Some(e),
        _ => None,
    })
}
