//! Output column names as PostgreSQL gives them.
//!
//! DataFusion names an unaliased expression by its display (`count(*)`,
//! `sum(t.a)`); PostgreSQL by the column or function it ends in (`count`,
//! `sum`), or `?column?`. psql users and client code read these names, so
//! the top-level SELECT list is renamed from the SQL text.

use sqlparser::ast::{AccessExpr, ArrayElemTypeDef, DataType, Expr, Ident, Query, SelectItem, SetExpr, TrimWhereField};

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

/// How good a name is, as PostgreSQL's FigureColname ranks them: a cast
/// or a CASE names its column only when what it holds has no better name
/// (`x::int` is `x`, `'1'::int` is `int4`, `1::float8::int` is `int4`).
#[derive(Clone, Copy)]
enum Strength {
    Unnamed,
    Weak,
    Strong,
}

/// PostgreSQL's name for an unaliased select-list expression.
pub fn expr_name(e: &Expr) -> String {
    figure(e).0
}

fn figure(e: &Expr) -> (String, Strength) {
    use Strength::*;
    let strong = |name: &str| (name.to_string(), Strong);
    match e {
        Expr::Identifier(i) => (ident_name(i), Strong),
        Expr::CompoundIdentifier(parts) => (parts.last().map(ident_name).unwrap_or_default(), Strong),
        // `(r).field` is named after the field, `a[1]` after `a`.
        Expr::CompoundFieldAccess { root, access_chain } => match access_chain.iter().rev().find_map(|a| if let AccessExpr::Dot(Expr::Identifier(i)) = a { Some(ident_name(i)) } else { None }) {
            Some(field) => (field, Strong),
            None => figure(root),
        },
        Expr::Function(f) => match f.name.0.last().map(|p| p.to_string().trim_matches('"').to_lowercase()).unwrap_or_default() {
            // `x AT TIME ZONE z` is PostgreSQL's timezone(z, x).
            name if name == crate::rewrite::AT_TIME_ZONE => strong("timezone"),
            name if name == crate::plan::pg_functions::SUBSTRING_REGEX => strong("substring"),
            name => (name, Strong),
        },
        Expr::Cast { expr, data_type, .. } => match figure(expr) {
            (_, Unnamed | Weak) => (type_column_name(data_type), Weak),
            named => named,
        },
        Expr::TypedString(t) => (type_column_name(&t.data_type), Weak),
        Expr::Interval(_) => ("interval".into(), Weak),
        Expr::Nested(inner) | Expr::Collate { expr: inner, .. } => figure(inner),
        // A CASE is named after its ELSE when that has a good name.
        Expr::Case { else_result, .. } => match else_result.as_deref().map(figure) {
            Some(named @ (_, Strong)) => named,
            _ => ("case".into(), Weak),
        },
        // ARRAY[...] and ROW(...) are named like calls.
        Expr::Array(_) => strong("array"),
        Expr::Tuple(_) => strong("row"),
        Expr::Exists { .. } => strong("exists"),
        // A scalar subquery is named after its one column, whatever that is.
        Expr::Subquery(q) => match q.body.as_ref() {
            SetExpr::Select(s) if s.projection.len() == 1 => match &s.projection[0] {
                SelectItem::UnnamedExpr(e) => (expr_name(e), Strong),
                SelectItem::ExprWithAlias { alias, .. } => (ident_name(alias), Strong),
                _ => ("?column?".into(), Unnamed),
            },
            _ => ("?column?".into(), Unnamed),
        },
        Expr::Extract { .. } => strong("extract"),
        Expr::AtTimeZone { .. } => strong("timezone"),
        Expr::Substring { shorthand: true, .. } => strong("substr"),
        Expr::Substring { .. } => strong("substring"),
        Expr::Trim { trim_where, .. } => strong(match trim_where {
            Some(TrimWhereField::Leading) => "ltrim",
            Some(TrimWhereField::Trailing) => "rtrim",
            _ => "btrim",
        }),
        Expr::Position { .. } => strong("position"),
        Expr::Overlay { .. } => strong("overlay"),
        Expr::Ceil { .. } => strong("ceil"),
        Expr::Floor { .. } => strong("floor"),
        _ => ("?column?".into(), Unnamed),
    }
}

/// PostgreSQL's internal name of a type, which names a column that is a
/// cast of an unnamed expression.
fn type_column_name(t: &DataType) -> String {
    use DataType as T;
    match t {
        // An array cast is named after its element type (`'{1}'::int[]` is `int4`).
        T::Array(ArrayElemTypeDef::SquareBracket(element, _) | ArrayElemTypeDef::AngleBracket(element) | ArrayElemTypeDef::Parenthesis(element)) => type_column_name(element),
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
    select_list_names(query, names);
    // Columns `*` took from a subquery whose items had internal aliases.
    for name in names.iter_mut() {
        if let Some((_, written)) = name.strip_prefix(crate::rewrite::INTERNAL_ALIAS_PREFIX).and_then(|rest| rest.split_once(':')) {
            *name = written.to_string();
        }
    }
}

fn select_list_names(query: &Query, names: &mut [String]) {
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
                names[i] = match alias.value.split_once(':') {
                    Some((_, name)) => name.to_string(),
                    None => expr_name(expr),
                };
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

#[cfg(test)]
mod tests {
    use crate::statement::StatementPlan;

    fn names(sql: &str) -> Vec<String> {
        match crate::plan::prepare::tests::plan(sql) {
            Ok(StatementPlan::Select { desc, .. }) => desc.names,
            other => panic!("{}: {:?}", sql, other.err()),
        }
    }

    #[test]
    fn names_as_postgres_gives_them() {
        assert_eq!(names("SELECT 1 AS a, 2 AS a, 3 AS \"A\""), ["a", "a", "A"]);
        assert_eq!(names("SELECT current_user, current_database(), version(), version() IS NOT NULL"), ["current_user", "current_database", "version", "?column?"]);
        assert_eq!(names("SELECT ARRAY[1, 2], ARRAY[]::int[], (SELECT 1), 1::int, 1 + 1"), ["array", "array", "?column?", "int4", "?column?"]);
        assert_eq!(names("SELECT id, id AS id, name AS id FROM emp"), ["id", "id", "id"]);
    }
}
