//! The text form of arrays, as PostgreSQL's `array_out` and `array_in`
//! write and read it: `{1,2,NULL}`, an element in double quotes when its
//! text is empty, is `NULL` in any case, or holds a space, a quote, a
//! backslash, a brace or a comma (inside quotes `"` and `\` are escaped with
//! a backslash).
//!
//! Only one dimension with lower bound 1: `{{1,2},{3,4}}` and the
//! `[0:1]={...}` decoration are refused (0A000), as eddy's arrays have one.

use super::{format_datum, parse_datum, Datum, ElementType, ParseError};

/// The text output of an array of `elem` values.
pub fn format_array(items: &[Datum], elem: ElementType) -> String {
    let mut out = String::from("{");
    for (i, d) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match format_datum(d, elem.scalar()) {
            None => out.push_str("NULL"),
            Some(s) if needs_quotes(&s) => {
                out.push('"');
                for c in s.chars() {
                    if c == '"' || c == '\\' {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out.push('"');
            }
            Some(s) => out.push_str(&s),
        }
    }
    out.push('}');
    out
}

fn needs_quotes(s: &str) -> bool {
    s.is_empty() || s.eq_ignore_ascii_case("NULL") || s.chars().any(|c| matches!(c, '"' | '\\' | '{' | '}' | ',') || c.is_ascii_whitespace())
}

fn malformed(s: &str, detail: &str) -> ParseError {
    ParseError { code: "22P02", message: format!("malformed array literal: \"{}\" ({})", s, detail) }
}

/// Reads the text form of an array of `elem` values.
pub fn parse_array(s: &str, elem: ElementType) -> Result<Datum, ParseError> {
    let t = s.trim();
    if t.starts_with('[') {
        return Err(ParseError { code: "0A000", message: format!("array bounds are not supported: \"{}\"", s) });
    }
    let Some(body) = t.strip_prefix('{').and_then(|b| b.strip_suffix('}')) else {
        return Err(malformed(s, "array value must start with \"{\" or dimension information"));
    };
    let mut items = Vec::new();
    let mut chars = body.chars().peekable();
    if body.trim().is_empty() {
        return Ok(Datum::Array(items));
    }
    loop {
        while chars.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            chars.next();
        }
        let mut text = String::new();
        let mut quoted = false;
        match chars.peek() {
            Some('{') => return Err(ParseError { code: "0A000", message: format!("multidimensional arrays are not supported: \"{}\"", s) }),
            Some('"') => {
                quoted = true;
                chars.next();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => text.extend(chars.next()),
                        Some(c) => text.push(c),
                        None => return Err(malformed(s, "unexpected end of input")),
                    }
                }
                while chars.peek().is_some_and(|c| c.is_ascii_whitespace()) {
                    chars.next();
                }
            }
            _ => {
                while let Some(&c) = chars.peek() {
                    match c {
                        ',' => break,
                        '"' | '{' | '}' => return Err(malformed(s, "unexpected character")),
                        '\\' => {
                            chars.next();
                            text.extend(chars.next());
                            continue;
                        }
                        _ => text.push(c),
                    }
                    chars.next();
                }
                text.truncate(text.trim_end().len());
                if text.is_empty() {
                    return Err(malformed(s, "unexpected \",\" character"));
                }
            }
        }
        items.push(if !quoted && text.eq_ignore_ascii_case("NULL") { Datum::Null } else { parse_datum(&text, elem.scalar())? });
        match chars.next() {
            None => break,
            Some(',') => continue,
            Some(_) => return Err(malformed(s, "junk after closing right brace")),
        }
    }
    Ok(Datum::Array(items))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_quoting() {
        let a = Datum::Array(vec![Datum::text("a b"), Datum::Null, Datum::text(""), Datum::text("x\"y"), Datum::text("null"), Datum::text("plain")]);
        let Datum::Array(items) = &a else { unreachable!() };
        let s = format_array(items, ElementType::Text);
        assert_eq!(s, r#"{"a b",NULL,"","x\"y","null",plain}"#);
        assert_eq!(parse_array(&s, ElementType::Text).unwrap(), a);
    }

    #[test]
    fn reads_numbers_and_refuses_bad_input() {
        assert_eq!(parse_array(" { 1 , 2,NULL } ", ElementType::Int32).unwrap(), Datum::Array(vec![Datum::Int(1), Datum::Int(2), Datum::Null]));
        assert_eq!(parse_array("{}", ElementType::Int32).unwrap(), Datum::Array(vec![]));
        assert_eq!(parse_array("{1,x}", ElementType::Int32).unwrap_err().code, "22P02");
        assert_eq!(parse_array("1,2", ElementType::Int32).unwrap_err().code, "22P02");
        assert_eq!(parse_array("{1,}", ElementType::Int32).unwrap_err().code, "22P02");
        assert_eq!(parse_array("{{1},{2}}", ElementType::Int32).unwrap_err().code, "0A000");
    }
}
