//! Output column names as PostgreSQL gives them.
//!
//! DataFusion names an unaliased expression by its display (`count(*)`,
//! `sum(t.a)`); PostgreSQL by the column or function it ends in (`count`,
//! `sum`), or `?column?`. psql users and client code read these names, so
//! the top-level SELECT list is renamed from the SQL text.

use sqlparser::ast::{DataType, Expr, Ident, Query, SelectItem, SetExpr};

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
        Expr::Function(f) => match f.name.0.last().map(|p| p.to_string().trim_matches('"').to_lowercase()).unwrap_or_default() {
            // `x AT TIME ZONE z` is PostgreSQL's timezone(z, x).
            name if name == crate::rewrite::AT_TIME_ZONE => "timezone".into(),
            name if name == crate::plan::pg_functions::SUBSTRING_REGEX => "substring".into(),
            name => name,
        },
        // A cast is named after what it casts when that has a name of its
        // own (`a::text` is `a`), else after the type (`(j->'n')::numeric`
        // is `numeric`, `'5'::int` is `int4`).
        Expr::Cast { expr, data_type, .. } => match expr_name(expr) {
            name if name == "?column?" => type_column_name(data_type),
            name => name,
        },
        Expr::TypedString(t) => type_column_name(&t.data_type),
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
        Expr::AtTimeZone { .. } => "timezone".into(),
        Expr::Substring { .. } => "substring".into(),
        Expr::Trim { .. } => "btrim".into(),
        Expr::Position { .. } => "position".into(),
        Expr::Ceil { .. } => "ceil".into(),
        Expr::Floor { .. } => "floor".into(),
        _ => "?column?".into(),
    }
}

/// PostgreSQL's internal name of a type, which names a column that is a
/// cast of an unnamed expression.
fn type_column_name(t: &DataType) -> String {
    use DataType as T;
    match t {
        T::Int(_) | T::Integer(_) | T::Int4(_) => "int4".into(),
        T::BigInt(_) | T::Int8(_) => "int8".into(),
        T::SmallInt(_) | T::Int2(_) => "int2".into(),
        T::Real | T::Float4 => "float4".into(),
        T::Double(_) | T::DoublePrecision | T::Float8 | T::Float(_) => "float8".into(),
        T::Numeric(_) | T::Decimal(_) | T::Dec(_) => "numeric".into(),
        T::Boolean | T::Bool => "bool".into(),
        T::Varchar(_) | T::CharacterVarying(_) => "varchar".into(),
        T::Char(_) | T::Character(_) => "bpchar".into(),
        T::Timestamp(_, sqlparser::ast::TimezoneInfo::WithTimeZone | sqlparser::ast::TimezoneInfo::Tz) => "timestamptz".into(),
        T::Timestamp(..) => "timestamp".into(),
        T::Interval { .. } => "interval".into(),
        other => other.to_string().to_lowercase(),
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
