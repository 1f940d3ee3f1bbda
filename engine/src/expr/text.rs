//! Text functions of single characters and identifiers: `chr` and
//! `quote_ident`, with PostgreSQL's errors and keyword list.

use super::EvalError;

/// `chr(n)`: the character with code point `n`, with PostgreSQL's errors
/// (the database encoding is UTF8).
pub fn chr(n: i64) -> Result<char, EvalError> {
    if n < 0 {
        return Err(EvalError::new("22023", "character number must be positive"));
    }
    if n == 0 {
        return Err(EvalError::new("54000", "null character not permitted"));
    }
    if n > 0x10FFFF {
        return Err(EvalError::new("54000", format!("requested character too large for encoding: {}", n)));
    }
    char::from_u32(n as u32).ok_or_else(|| EvalError::new("54000", format!("requested character not valid for encoding: {}", n)))
}

/// PostgreSQL 15's keywords that are not unreserved (reserved, column
/// name, type or function name keywords): an identifier spelled as one of
/// these is quoted. From `pg_get_keywords()`, in order.
const QUOTED_KEYWORDS: &[&str] = &[
    "all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric", "authorization", "between", "bigint", "binary", "bit", "boolean", "both", "case", "cast", "char", "character", "check",
    "coalesce", "collate", "collation", "column", "concurrently", "constraint", "create", "cross", "current_catalog", "current_date", "current_role", "current_schema", "current_time",
    "current_timestamp", "current_user", "dec", "decimal", "default", "deferrable", "desc", "distinct", "do", "else", "end", "except", "exists", "extract", "false", "fetch", "float", "for", "foreign",
    "freeze", "from", "full", "grant", "greatest", "group", "grouping", "having", "ilike", "in", "initially", "inner", "inout", "int", "integer", "intersect", "interval", "into", "is", "isnull", "join",
    "lateral", "leading", "least", "left", "like", "limit", "localtime", "localtimestamp", "national", "natural", "nchar", "none", "normalize", "not", "notnull", "null", "nullif", "numeric", "offset",
    "on", "only", "or", "order", "out", "outer", "overlaps", "overlay", "placing", "position", "precision", "primary", "real", "references", "returning", "right", "row", "select", "session_user",
    "setof", "similar", "smallint", "some", "substring", "symmetric", "table", "tablesample", "then", "time", "timestamp", "to", "trailing", "treat", "trim", "true", "union", "unique", "user", "using",
    "values", "varchar", "variadic", "verbose", "when", "where", "window", "with", "xmlattributes", "xmlconcat", "xmlelement", "xmlexists", "xmlforest", "xmlnamespaces", "xmlparse", "xmlpi", "xmlroot",
    "xmlserialize", "xmltable"
];

/// `quote_ident(text)`: the text as an identifier, in double quotes (with
/// quotes doubled) unless it is lower case letters, digits and
/// underscores not starting with a digit, and no keyword PostgreSQL
/// reserves in any way.
pub fn quote_ident(s: &str) -> String {
    let plain = s.starts_with(|c: char| c.is_ascii_lowercase() || c == '_') && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain && QUOTED_KEYWORDS.binary_search(&s).is_err() {
        return s.to_string();
    }
    format!("\"{}\"", s.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chr_and_quote_ident_follow_postgres() {
        assert_eq!(chr(65).unwrap(), 'A');
        assert_eq!(chr(0x1F600).unwrap(), '\u{1F600}');
        assert_eq!(chr(0).unwrap_err().code, "54000");
        assert_eq!(chr(-1).unwrap_err().code, "22023");
        assert_eq!(chr(0x110000).unwrap_err().code, "54000");
        assert_eq!(chr(0xD800).unwrap_err().message, "requested character not valid for encoding: 55296");
        assert!(QUOTED_KEYWORDS.windows(2).all(|w| w[0] < w[1]));
        let q: Vec<String> = ["abc", "Abc", "a b", "select", "user", "a\"b", "", "1a", "_x1", "é", "name", "int"].iter().map(|s| quote_ident(s)).collect();
        assert_eq!(q, ["abc", "\"Abc\"", "\"a b\"", "\"select\"", "\"user\"", "\"a\"\"b\"", "\"\"", "\"1a\"", "_x1", "\"é\"", "name", "\"int\""]);
    }
}
