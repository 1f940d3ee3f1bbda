//! Output column names as PostgreSQL gives them.
//!
//! DataFusion names an unaliased expression by its display (`count(*)`,
//! `sum(t.a)`); PostgreSQL by the column or function it ends in (`count`,
//! `sum`), or `?column?`. psql users and client code read these names, so
//! the top-level SELECT list is renamed from the SQL text.

use sqlparser::ast::{Expr, Ident, Query, SelectItem, SetExpr};

/// An identifier as PostgreSQL folds it: unquoted to lower case, quoted
/// kept as written (`"Mixed"` stays `Mixed`).
pub fn ident_name(i: &Ident) -> String {
    if i.quote_style.is_some() {
        i.value.clone()
    } else {
        i.value.to_lowercase()
    }
}

/// A name written in SQL text (`orders`, `"Orders"`), folded as
/// [`ident_name`] does.
pub fn text_name(name: &str) -> String {
    match name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
        Some(quoted) => quoted.replace("\"\"", "\""),
        None => name.to_lowercase(),
    }
}

/// PostgreSQL's name for an unaliased select-list expression.
fn expr_name(e: &Expr) -> String {
    match e {
        Expr::Identifier(i) => ident_name(i),
        Expr::CompoundIdentifier(parts) => parts.last().map(ident_name).unwrap_or_default(),
        Expr::Function(f) => f.name.0.last().map(|p| p.to_string().trim_matches('"').to_lowercase()).unwrap_or_default(),
        Expr::Cast { expr, .. } => match expr.as_ref() {
            Expr::Value(_) => "?column?".into(),
            inner => expr_name(inner),
        },
        Expr::Nested(inner) => expr_name(inner),
        Expr::Case { .. } => "case".into(),
        Expr::Exists { .. } => "exists".into(),
        Expr::Subquery(q) => match q.body.as_ref() {
            SetExpr::Select(s) if s.projection.len() == 1 => match &s.projection[0] {
                SelectItem::UnnamedExpr(e) => expr_name(e),
                SelectItem::ExprWithAlias { alias, .. } => ident_name(alias),
                _ => "?column?".into(),
            },
            _ => "?column?".into(),
        },
        Expr::Extract { .. } => "extract".into(),
        Expr::Substring { .. } => "substring".into(),
        Expr::Trim { .. } => "btrim".into(),
        Expr::Position { .. } => "position".into(),
        Expr::Ceil { .. } => "ceil".into(),
        Expr::Floor { .. } => "floor".into(),
        Expr::TypedString(_) => "?column?".into(),
        _ => "?column?".into(),
    }
}

/// Renames `names` (the planned output columns) after the query's select
/// list, where it can be matched one to one; leaves them otherwise.
pub fn postgres_names(query: &Query, names: &mut [String]) {
    let mut body = query.body.as_ref();
    while let SetExpr::SetOperation { left, .. } = body {
        body = left.as_ref();
    }
    let SetExpr::Select(select) = body else { return };
    let wildcards = select.projection.iter().filter(|i| matches!(i, SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..))).count();
    let explicit = select.projection.len() - wildcards;
    if wildcards > 1 || (wildcards == 0 && explicit != names.len()) || explicit > names.len() {
        return;
    }
    let expanded = names.len() - explicit;
    let mut i = 0;
    for item in &select.projection {
        match item {
            SelectItem::UnnamedExpr(e) => {
                names[i] = expr_name(e);
                i += 1;
            }
            SelectItem::ExprWithAlias { expr, alias } if alias.value.starts_with(crate::rewrite::INTERNAL_ALIAS_PREFIX) => {
                names[i] = expr_name(expr);
                i += 1;
            }
            SelectItem::ExprWithAlias { alias, .. } => {
                names[i] = if alias.quote_style.is_some() { alias.value.clone() } else { alias.value.to_lowercase() };
                i += 1;
            }
            _ => i += expanded,
        }
    }
}
