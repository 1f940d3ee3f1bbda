//! `format(template, args...)`, PostgreSQL's printf for SQL.
//!
//! A template holds text and conversions `%[position$][-][width]type`:
//! `%s` the argument's text (NULL as nothing), `%I` it quoted as an
//! identifier where needed (NULL is an error), `%L` it quoted as a literal
//! (NULL as the word NULL), `%%` a percent sign. `position` (1-based)
//! picks the argument, later conversions go on from it; `width` pads to
//! that many characters, on the left unless `-`; `*` and `*n$` take the
//! width from an argument. Errors carry PostgreSQL's SQLSTATE 22023.
//!
//! Does not: read `format`'s VARIADIC array form (eddy has no arrays).

use super::EvalError;
use crate::repr::Datum;

fn invalid(msg: impl Into<String>) -> EvalError {
    EvalError::new("22023", msg)
}

/// `format(template, args...)` with each argument's text (None for NULL).
pub fn format(template: &str, args: &[Option<String>]) -> Result<String, EvalError> {
    let mut out = String::new();
    let mut chars = template.chars().peekable();
    // The argument the next conversion without a position takes (0-based).
    let mut next = 0usize;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            out.push('%');
            continue;
        }
        let mut position = None;
        let mut left = false;
        let mut width: Option<i64> = None;
        // `n$` is a position; digits without `$` are the width.
        let number = |chars: &mut std::iter::Peekable<std::str::Chars>| -> Result<Option<usize>, EvalError> {
            let mut n: Option<usize> = None;
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                n = Some(n.unwrap_or(0).checked_mul(10).and_then(|v| v.checked_add(d as usize)).ok_or_else(|| invalid("number is out of range"))?);
                chars.next();
            }
            Ok(n)
        };
        if let Some(n) = number(&mut chars)? {
            if chars.peek() == Some(&'$') {
                chars.next();
                if n == 0 {
                    return Err(invalid("format specifies argument 0, but arguments are numbered from 1"));
                }
                position = Some(n - 1);
            } else {
                width = Some(n as i64);
            }
        }
        if width.is_none() {
            while chars.peek() == Some(&'-') {
                chars.next();
                left = true;
            }
            if chars.peek() == Some(&'*') {
                chars.next();
                let from = match number(&mut chars)? {
                    Some(n) if chars.peek() == Some(&'$') => {
                        chars.next();
                        if n == 0 {
                            return Err(invalid("format specifies argument 0, but arguments are numbered from 1"));
                        }
                        // The value (without a position) is the argument after the width's.
                        next = n;
                        n - 1
                    }
                    Some(_) => return Err(invalid("unterminated format() type specifier")),
                    None => {
                        next += 1;
                        next - 1
                    }
                };
                let w = match args.get(from) {
                    None => return Err(invalid("too few arguments for format()")),
                    Some(None) => 0,
                    Some(Some(s)) => s.trim().parse::<i64>().map_err(|_| invalid(format!("invalid input syntax for type integer: \"{}\"", s)))?,
                };
                if w < 0 {
                    left = true;
                }
                width = Some(w.abs());
            } else if let Some(n) = number(&mut chars)? {
                width = Some(n as i64);
            }
        }
        let Some(kind) = chars.next() else { return Err(invalid("unterminated format() type specifier")) };
        let index = match position {
            Some(p) => p,
            None => next,
        };
        next = index + 1;
        let arg = match kind {
            's' | 'I' | 'L' => args.get(index).ok_or_else(|| invalid("too few arguments for format()"))?,
            other => return Err(invalid(format!("unrecognized format() type specifier \"{}\"", other))),
        };
        let text = match (kind, arg) {
            ('s', None) => String::new(),
            ('s', Some(s)) => s.clone(),
            ('I', None) => return Err(EvalError::new("22004", "null values cannot be formatted as an SQL identifier")),
            ('I', Some(s)) => quote_ident(s),
            (_, None) => "NULL".to_string(),
            (_, Some(s)) => quote_literal(s),
        };
        let pad = width.unwrap_or(0).saturating_sub(text.chars().count() as i64).max(0) as usize;
        if left {
            out.push_str(&text);
            out.extend(std::iter::repeat_n(' ', pad));
        } else {
            out.extend(std::iter::repeat_n(' ', pad));
            out.push_str(&text);
        }
        if out.len() > super::func::MAX_TEXT_BYTES {
            return Err(EvalError::length_too_large());
        }
    }
    Ok(out)
}

/// A value of any type as `format` reads it: its text form, None for NULL.
pub fn argument_text(d: &Datum) -> Option<String> {
    (!d.is_null()).then(|| super::func::display(d))
}

/// `quote_ident`: double quotes unless the name is lower case letters,
/// digits, `_` and `$` not starting with a digit or `$`.
pub fn quote_ident(s: &str) -> String {
    let plain = s.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c == '_') && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$');
    if plain && !is_reserved(s) {
        s.to_string()
    } else {
        format!("\"{}\"", s.replace('"', "\"\""))
    }
}

/// `quote_literal`: single quotes, quotes doubled; a backslash makes it an
/// escape string (`E'...'`) with backslashes doubled.
pub fn quote_literal(s: &str) -> String {
    let body = s.replace('\'', "''");
    if s.contains('\\') {
        format!("E'{}'", body.replace('\\', "\\\\"))
    } else {
        format!("'{}'", body)
    }
}

/// PostgreSQL's reserved key words (those quote_ident quotes).
fn is_reserved(s: &str) -> bool {
    const RESERVED: &[&str] = &[
        "all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric", "authorization", "binary", "both", "case", "cast", "check", "collate", "collation", "column", "concurrently", "constraint", "create", "cross", "current_catalog", "current_date", "current_role", "current_schema", "current_time", "current_timestamp",
        "current_user", "default", "deferrable", "desc", "distinct", "do", "else", "end", "except", "false", "fetch", "for", "foreign", "freeze", "from", "full", "grant", "group", "having", "ilike", "in", "initially", "inner", "intersect", "into", "is", "isnull", "join", "lateral", "leading", "left", "like", "limit", "localtime",
        "localtimestamp", "natural", "not", "notnull", "null", "offset", "on", "only", "or", "order", "outer", "overlaps", "placing", "primary", "references", "returning", "right", "select", "session_user", "similar", "some", "symmetric", "system_user", "table", "tablesample", "then", "to", "trailing", "true", "union", "unique", "user",
        "using", "variadic", "verbose", "when", "where", "window", "with",
    ];
    RESERVED.contains(&s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(t: &str, args: &[Option<&str>]) -> Result<String, EvalError> {
        format(t, &args.iter().map(|a| a.map(str::to_string)).collect::<Vec<_>>())
    }

    #[test]
    fn conversions_follow_postgres() {
        assert_eq!(f("Hello %s, %1$s", &[Some("World")]).unwrap(), "Hello World, World");
        assert_eq!(f("INSERT INTO %I VALUES(%L)", &[Some("Foo bar"), Some("O'Reilly")]).unwrap(), "INSERT INTO \"Foo bar\" VALUES('O''Reilly')");
        assert_eq!(f("%L %s|", &[None, None]).unwrap(), "NULL |");
        assert_eq!(f("|%10s|%-10s|", &[Some("foo"), Some("bar")]).unwrap(), "|       foo|bar       |");
        assert_eq!(f("|%*s|%-*s|", &[Some("5"), Some("a"), Some("3"), Some("b")]).unwrap(), "|    a|b  |");
        assert_eq!(f("%3$s %1$s %s", &[Some("a"), Some("b"), Some("c")]).unwrap(), "c a b");
        assert_eq!(f("100%%", &[]).unwrap(), "100%");
        assert_eq!(f("%L", &[Some("a\\b")]).unwrap(), "E'a\\\\b'");
        assert_eq!(f("%I", &[Some("select")]).unwrap(), "\"select\"");
        assert_eq!(f("%I", &[Some("order_id")]).unwrap(), "order_id");
        assert_eq!(f("%s %s", &[Some("a")]).unwrap_err().code, "22023");
        assert_eq!(f("%x", &[Some("a")]).unwrap_err().code, "22023");
        assert_eq!(f("%I", &[None]).unwrap_err().code, "22004");
        assert_eq!(f("%0$s", &[Some("a")]).unwrap_err().code, "22023");
        assert_eq!(f("|%*2$s|", &[Some("abc"), Some("10")]).unwrap_err().code, "22023");
        assert_eq!(f("|%*2$s|", &[Some("x"), Some("4"), Some("abc")]).unwrap(), "| abc|");
    }
}
