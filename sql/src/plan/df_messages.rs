//! DataFusion's planning errors in PostgreSQL's words and codes.
//!
//! DataFusion words its errors for its own developers (`Invalid qualifier
//! x`, `Cannot coerce arithmetic expression Int32 + Utf8`). The messages a
//! user meets most often are recognised here by their text and said as
//! PostgreSQL says them, with its SQLSTATE and Arrow types named by their
//! SQL names. What is not recognised keeps DataFusion's text
//! ([`super::df::translate`] still picks a code for it).

use crate::{codes, SqlError};

/// PostgreSQL's version of DataFusion's message `msg`, if it is one we know.
pub fn in_postgres_words(msg: &str) -> Option<SqlError> {
    if let Some(i) = msg.find("must appear in the GROUP BY clause") {
        // `..., column "t.ts" must appear in the GROUP BY clause or must be part of ...`
        let column = msg[..i].rsplit("column ").next()?.trim();
        return Some(SqlError::new(codes::GROUPING_ERROR, format!("column {} must appear in the GROUP BY clause or be used in an aggregate function", column)));
    }
    if let Some(rest) = msg.strip_prefix("Ambiguous reference to unqualified field ") {
        return Some(SqlError::new(codes::AMBIGUOUS_COLUMN, format!("column reference \"{}\" is ambiguous", rest.trim())).with_hint("qualify the column with its table or alias"));
    }
    if let Some(rest) = msg.strip_prefix("Invalid qualifier ") {
        return Some(SqlError::new(codes::UNDEFINED_TABLE, format!("missing FROM-clause entry for table \"{}\"", rest.trim())));
    }
    if let Some(rest) = msg.strip_prefix("Order by column out of bounds, specified: ") {
        let n = rest.split(',').next()?.trim();
        return Some(SqlError::new("42P10", format!("ORDER BY position {} is not in select list", n)));
    }
    if msg.starts_with("LIMIT must be >=") {
        return Some(SqlError::new("2201W", "LIMIT must not be negative"));
    }
    if msg.starts_with("OFFSET must be >=") {
        return Some(SqlError::new("2201X", "OFFSET must not be negative"));
    }
    if let Some(rest) = msg.strip_prefix("Schema contains duplicate qualified field name ") {
        let table = rest.rsplit_once('.').map_or(rest, |(t, _)| t).trim();
        return Some(SqlError::new("42712", format!("table name \"{}\" specified more than once", table)).with_hint("give each its own alias"));
    }
    if let Some(rest) = msg.strip_prefix("Cannot coerce arithmetic expression ") {
        let expr = rest.strip_suffix(" to valid types").unwrap_or(rest);
        return Some(no_operator(expr));
    }
    if let Some(rest) = msg.strip_prefix("Cannot infer common argument type for comparison operation ") {
        return Some(no_operator(&rest.replace(" IS DISTINCT FROM ", " = ").replace(" IS NOT DISTINCT FROM ", " = ")));
    }
    // `Function 'lower' requires String, ... No function matches the given
    // name and argument types 'lower(Int64)'. ...`
    if let Some((_, rest)) = msg.split_once("No function matches the given name and argument types '") {
        let call = rest.split("'.").next()?;
        let (name, args) = call.split_once('(')?;
        let args = args.strip_suffix(')').unwrap_or(args);
        let args: Vec<String> = split_types(args).iter().map(|t| sql_type(t)).collect();
        return Some(SqlError::undefined_function(name, &args));
    }
    None
}

/// `operator does not exist: integer + text` for DataFusion's `Int32 + Utf8`.
fn no_operator(expr: &str) -> SqlError {
    let words = ["IS NOT DISTINCT FROM", "IS DISTINCT FROM", "<=", ">=", "<>", "!=", "=", "<", ">", "+", "-", "*", "/", "%", "||"];
    let split = words.iter().find_map(|op| expr.split_once(&format!(" {} ", op)).map(|(l, r)| (l, *op, r)));
    let message = match split {
        Some((l, op, r)) => format!("operator does not exist: {} {} {}", sql_type(l.trim()), op, sql_type(r.trim())),
        None => format!("operator does not exist: {}", expr),
    };
    SqlError::new(codes::UNDEFINED_FUNCTION, message).with_hint("No operator matches the given name and argument types. You might need to add explicit type casts.")
}

/// Splits `Int64, Timestamp(µs, "+00:00")` at the commas outside parentheses.
fn split_types(list: &str) -> Vec<&str> {
    let (mut out, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in list.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(list[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    if !list[start..].trim().is_empty() {
        out.push(list[start..].trim());
    }
    out
}

/// The SQL name of an Arrow type as DataFusion prints it (or DataFusion's
/// signature class, `String`).
fn sql_type(arrow: &str) -> String {
    let base = arrow.split('(').next().unwrap_or(arrow);
    let name = match base {
        "Int8" | "Int16" | "UInt8" => "smallint",
        "Int32" | "UInt16" => "integer",
        "Int64" | "UInt32" | "UInt64" => "bigint",
        "Float16" | "Float32" => "real",
        "Float64" => "double precision",
        "Decimal32" | "Decimal64" | "Decimal128" | "Decimal256" => "numeric",
        "Utf8" | "Utf8View" | "LargeUtf8" | "String" => "text",
        "Boolean" => "boolean",
        "Date32" | "Date64" => "date",
        "Timestamp" if arrow.contains("Some(") || arrow.contains('"') => "timestamp with time zone",
        "Timestamp" => "timestamp without time zone",
        "Interval" | "Duration" => "interval",
        "Null" => "unknown",
        other => other,
    };
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::in_postgres_words;

    fn said(msg: &str) -> (String, String) {
        let e = in_postgres_words(msg).expect("recognised");
        (e.code.to_string(), e.message)
    }

    #[test]
    fn common_planning_errors_read_as_postgresql_says_them() {
        assert_eq!(said("Cannot coerce arithmetic expression Int32 + Utf8 to valid types"), ("42883".into(), "operator does not exist: integer + text".into()));
        assert_eq!(said("Cannot infer common argument type for comparison operation Int32 IS DISTINCT FROM Boolean"), ("42883".into(), "operator does not exist: integer = boolean".into()));
        assert_eq!(said("Ambiguous reference to unqualified field id"), ("42702".into(), "column reference \"id\" is ambiguous".into()));
        assert_eq!(said("Invalid qualifier x"), ("42P01".into(), "missing FROM-clause entry for table \"x\"".into()));
        assert_eq!(said("Order by column out of bounds, specified: 2, max: 1"), ("42P10".into(), "ORDER BY position 2 is not in select list".into()));
        assert_eq!(said("LIMIT must be >= 0, '-1' was provided"), ("2201W".into(), "LIMIT must not be negative".into()));
        assert_eq!(said("Schema contains duplicate qualified field name x.id"), ("42712".into(), "table name \"x\" specified more than once".into()));
        assert_eq!(
            said("Column in SELECT must be in GROUP BY or an aggregate function: While expanding wildcard, column \"t.ts\" must appear in the GROUP BY clause or must be part of an aggregate function, currently only \"t.cust\" appears"),
            ("42803".into(), "column \"t.ts\" must appear in the GROUP BY clause or be used in an aggregate function".into())
        );
        assert_eq!(
            said("Function 'lower' requires String, but received Int64 (DataType: Int64).. No function matches the given name and argument types 'lower(Int64)'. You might need to add explicit type casts.\n\tCandidate functions:\n\tlower(String)"),
            ("42883".into(), "function lower(bigint) does not exist".into())
        );
        assert_eq!(said("No function matches the given name and argument types 'f(Timestamp(µs, \"+00:00\"), Utf8)'. x"), ("42883".into(), "function f(timestamp with time zone, text) does not exist".into()));
        assert!(in_postgres_words("something else").is_none());
    }
}
