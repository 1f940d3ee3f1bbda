//! jsonb functions that build a changed value: `-` (a key or an element
//! removed), `#-`, `jsonb_set`, `jsonb_insert` and `jsonb_strip_nulls`,
//! and `jsonb_pretty`, with PostgreSQL 15's semantics.
//!
//! They work on the canonical text's slices (serde_json `RawValue`s), so
//! numbers keep their digits (`12.50`, 30-digit integers); only the parts
//! along the path are rebuilt, and the result is put back into canonical
//! form (keys ordered) by `normalize_jsonb`.

use super::json::{elements, fields, jsonb_of};
use super::EvalError;
use crate::repr::Datum;
use serde_json::value::RawValue;

/// A jsonb argument as canonical text: stored jsonb is; text (a literal
/// PostgreSQL would read as jsonb) is put into that form.
pub(super) fn canonical(d: &Datum) -> Result<std::borrow::Cow<'_, str>, EvalError> {
    match d {
        Datum::Text(s) => canonical_value(s).map(std::borrow::Cow::Owned),
        Datum::Jsonb(s) => Ok(std::borrow::Cow::Borrowed(s)),
        other => Err(EvalError::new("42883", format!("function of jsonb given {:?}", other))),
    }
}

fn invalid_parameter(message: &str) -> EvalError {
    EvalError::new("22023", message)
}

fn is_scalar(json: &str) -> bool {
    !matches!(json.trim_start().as_bytes().first(), Some(b'{' | b'['))
}

/// Whether `json` is `[]` or `{}`.
fn is_empty_container(json: &str) -> bool {
    let t = json.trim();
    !is_scalar(t) && t[1..t.len() - 1].trim().is_empty()
}

fn quoted(key: &str) -> String {
    serde_json::to_string(key).unwrap_or_default()
}

fn object_text(pairs: &[(String, String)]) -> String {
    format!("{{{}}}", pairs.iter().map(|(k, v)| format!("{}: {}", quoted(k), v)).collect::<Vec<_>>().join(", "))
}

fn array_text(items: &[String]) -> String {
    format!("[{}]", items.join(", "))
}

/// `jsonb - text`: an object without the key, or an array without its
/// string elements equal to the text.
pub fn delete_key(json: &str, key: &str) -> Result<Datum, EvalError> {
    if is_scalar(json) {
        return Err(invalid_parameter("cannot delete from scalar"));
    }
    if json.trim_start().starts_with('{') {
        let kept: Vec<(String, String)> = fields(json)?.into_iter().filter(|(k, _)| k != key).map(|(k, v)| (k.into_owned(), v.get().to_string())).collect();
        return jsonb_of(&object_text(&kept));
    }
    let is_key = |v: &RawValue| v.get().starts_with('"') && serde_json::from_str::<String>(v.get()).is_ok_and(|s| s == key);
    let kept: Vec<String> = elements(json)?.into_iter().filter(|v| !is_key(v)).map(|v| v.get().to_string()).collect();
    jsonb_of(&array_text(&kept))
}

/// `jsonb - integer`: an array without its element at the index
/// (negative counts from the end; out of range changes nothing).
pub fn delete_index(json: &str, index: i64) -> Result<Datum, EvalError> {
    if is_scalar(json) {
        return Err(invalid_parameter("cannot delete from scalar"));
    }
    if json.trim_start().starts_with('{') {
        return Err(invalid_parameter("cannot delete from object using integer index"));
    }
    let items = elements(json)?;
    let n = items.len() as i64;
    let i = if index < 0 { n + index } else { index };
    if !(0..n).contains(&i) {
        return jsonb_of(json);
    }
    let kept: Vec<String> = items.iter().enumerate().filter(|(j, _)| *j as i64 != i).map(|(_, v)| v.get().to_string()).collect();
    jsonb_of(&array_text(&kept))
}

/// What [`set_path`] does at the end of the path.
#[derive(Clone, Copy)]
enum Op<'a> {
    Delete,
    /// `jsonb_set`: replace; with `create`, add a missing key or element.
    Set { value: &'a str, create: bool },
    /// `jsonb_insert`: add before (or after) an element, or a missing key.
    Insert { value: &'a str, after: bool },
}

impl Op<'_> {
    fn creates(&self) -> bool {
        matches!(self, Op::Set { create: true, .. } | Op::Insert { .. })
    }
}

/// PostgreSQL's `setPath`: `at` with the value at `path[level..]`
/// changed by `op`. A step into a scalar, or a missing step before the
/// last, changes nothing.
fn set_path(at: &str, path: &[Option<String>], level: usize, op: Op) -> Result<String, EvalError> {
    let at = at.trim();
    let last = level + 1 == path.len();
    let step = path[level].as_ref().ok_or_else(|| EvalError::new("22004", format!("path element at position {} is null", level + 1)))?;
    match at.as_bytes().first() {
        Some(b'{') => {
            let mut out = Vec::new();
            let mut found = false;
            for (k, v) in fields(at)? {
                if !found && k == step.as_str() {
                    found = true;
                    if !last {
                        out.push((k.into_owned(), set_path(v.get(), path, level + 1, op)?));
                        continue;
                    }
                    match op {
                        Op::Insert { .. } => return Err(invalid_parameter("cannot replace existing key")),
                        Op::Set { value, .. } => out.push((k.into_owned(), value.to_string())),
                        Op::Delete => {}
                    }
                } else {
                    out.push((k.into_owned(), v.get().to_string()));
                }
            }
            if !found && last && op.creates() {
                let (Op::Set { value, .. } | Op::Insert { value, .. }) = op else { unreachable!() };
                out.push((step.clone(), value.to_string()));
            }
            Ok(object_text(&out))
        }
        Some(b'[') => {
            let items = elements(at)?;
            let n = items.len() as i64;
            let bad = || EvalError::new("22P02", format!("path element at position {} is not an integer: \"{}\"", level + 1, step));
            // strtoint: leading blanks and a sign, nothing after the digits.
            let idx = step.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']).parse::<i32>().map_err(|_| bad())? as i64;
            // Before the first element (where a negative index points).
            let before_all = idx < 0 && -idx > n;
            let idx = if idx < 0 && !before_all { n + idx } else { idx.min(n) };
            let new_value = match op {
                Op::Set { value, .. } | Op::Insert { value, .. } => value,
                Op::Delete => "",
            };
            let mut out = Vec::new();
            let mut done = false;
            if (before_all || n == 0) && last && op.creates() {
                out.push(new_value.to_string());
                done = true;
            }
            for (i, v) in items.iter().enumerate() {
                if i as i64 == idx && !before_all {
                    done = true;
                    if !last {
                        out.push(set_path(v.get(), path, level + 1, op)?);
                        continue;
                    }
                    match op {
                        Op::Set { value, .. } => out.push(value.to_string()),
                        Op::Insert { value, after: false } => out.extend([value.to_string(), v.get().to_string()]),
                        Op::Insert { value, after: true } => out.extend([v.get().to_string(), value.to_string()]),
                        Op::Delete => {}
                    }
                } else {
                    out.push(v.get().to_string());
                }
            }
            if !done && last && op.creates() {
                out.push(new_value.to_string());
            }
            Ok(array_text(&out))
        }
        _ => Ok(at.to_string()),
    }
}

/// A jsonb argument given as text (a literal) in canonical form.
fn canonical_value(value: &str) -> Result<String, EvalError> {
    crate::repr::normalize_jsonb(value).map_err(|e| EvalError::new("22P02", format!("invalid input syntax for type json: {}", e)))
}

/// `jsonb #- path`: the value without the key or element at the path.
pub fn delete_path(json: &str, path: &str) -> Result<Datum, EvalError> {
    let path = super::json::path_elements(path)?;
    if is_scalar(json) {
        return Err(invalid_parameter("cannot delete path in scalar"));
    }
    if is_empty_container(json) || path.is_empty() {
        return jsonb_of(json);
    }
    jsonb_of(&set_path(json, &path, 0, Op::Delete)?)
}

/// `jsonb_set(target, path, value [, create_missing])`.
pub fn set(json: &str, path: &str, value: &str, create: bool) -> Result<Datum, EvalError> {
    let path = super::json::path_elements(path)?;
    let value = canonical_value(value)?;
    if is_scalar(json) {
        return Err(invalid_parameter("cannot set path in scalar"));
    }
    if (is_empty_container(json) && !create) || path.is_empty() {
        return jsonb_of(json);
    }
    jsonb_of(&set_path(json, &path, 0, Op::Set { value: &value, create })?)
}

/// `jsonb_insert(target, path, value [, insert_after])`.
pub fn insert(json: &str, path: &str, value: &str, after: bool) -> Result<Datum, EvalError> {
    let path = super::json::path_elements(path)?;
    let value = canonical_value(value)?;
    if is_scalar(json) {
        return Err(invalid_parameter("cannot set path in scalar"));
    }
    if path.is_empty() {
        return jsonb_of(json);
    }
    jsonb_of(&set_path(json, &path, 0, Op::Insert { value: &value, after })?)
}

/// `jsonb_strip_nulls`: every object field whose value is null removed,
/// at any depth (null array elements stay).
pub fn strip_nulls(json: &str) -> Result<Datum, EvalError> {
    fn strip(at: &str) -> Result<String, EvalError> {
        Ok(match at.trim_start().as_bytes().first() {
            Some(b'{') => {
                let mut out = Vec::new();
                for (k, v) in fields(at)? {
                    if v.get().trim() != "null" {
                        out.push((k.into_owned(), strip(v.get())?));
                    }
                }
                object_text(&out)
            }
            Some(b'[') => array_text(&elements(at)?.into_iter().map(|v| strip(v.get())).collect::<Result<Vec<_>, _>>()?),
            _ => at.trim().to_string(),
        })
    }
    jsonb_of(&strip(json)?)
}

/// `jsonb_pretty`: PostgreSQL's layout, one element or field a line,
/// indented by four spaces a level (an empty array is `[` and `]` on two
/// lines).
pub fn pretty(json: &str) -> Result<Datum, EvalError> {
    fn write(at: &str, level: usize, out: &mut String) -> Result<(), EvalError> {
        let at = at.trim();
        let indent = |level: usize, out: &mut String| {
            out.push('\n');
            out.push_str(&"    ".repeat(level));
        };
        match at.as_bytes().first() {
            Some(b'{') => {
                out.push('{');
                for (i, (k, v)) in fields(at)?.into_iter().enumerate() {
                    out.push_str(if i > 0 { "," } else { "" });
                    indent(level + 1, out);
                    out.push_str(&quoted(&k));
                    out.push_str(": ");
                    write(v.get(), level + 1, out)?;
                }
                indent(level, out);
                out.push('}');
            }
            Some(b'[') => {
                out.push('[');
                for (i, v) in elements(at)?.into_iter().enumerate() {
                    out.push_str(if i > 0 { "," } else { "" });
                    indent(level + 1, out);
                    write(v.get(), level + 1, out)?;
                }
                indent(level, out);
                out.push(']');
            }
            _ => out.push_str(at),
        }
        Ok(())
    }
    let mut out = String::new();
    write(json, 0, &mut out)?;
    Ok(Datum::Text(out.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn j(d: Datum) -> String {
        match d {
            Datum::Jsonb(s) | Datum::Text(s) => s.to_string(),
            other => panic!("{:?}", other),
        }
    }

    #[test]
    fn deletes_keep_number_digits() {
        assert_eq!(j(delete_key(r#"{"a": 12.50, "b": 123456789012345678901234567890}"#, "a").unwrap()), r#"{"b": 123456789012345678901234567890}"#);
        assert_eq!(j(delete_key(r#"["a", 1, "b", "a"]"#, "a").unwrap()), r#"[1, "b"]"#);
        assert_eq!(j(delete_index("[1.0, 2, 3]", -1).unwrap()), "[1.0, 2]");
        assert_eq!(j(delete_index("[1.0, 2, 3]", -4).unwrap()), "[1.0, 2, 3]");
        assert_eq!(delete_index("{}", 0).unwrap_err().code, "22023");
        assert_eq!(j(delete_path(r#"{"a": {"b": [1, 2]}}"#, "{a,b,0}").unwrap()), r#"{"a": {"b": [2]}}"#);
    }

    #[test]
    fn set_and_insert_follow_set_path() {
        assert_eq!(j(set(r#"{"a": [1, 2]}"#, "{a,-1}", "2.50", true).unwrap()), r#"{"a": [1, 2.50]}"#);
        assert_eq!(j(set(r#"{"a": [1]}"#, "{a,5,c}", "3", true).unwrap()), r#"{"a": [1]}"#);
        assert_eq!(j(set("[]", "{-5}", "3", true).unwrap()), "[3]");
        assert_eq!(j(set("{}", "{a}", "3", false).unwrap()), "{}");
        assert_eq!(j(insert(r#"{"a": [0, 1, 2]}"#, "{a,-10}", "\"new\"", false).unwrap()), r#"{"a": ["new", 0, 1, 2]}"#);
        assert_eq!(j(insert(r#"{"a": [0, 1, 2]}"#, "{a,1}", "9", true).unwrap()), r#"{"a": [0, 1, 9, 2]}"#);
        assert_eq!(insert(r#"{"a": 1}"#, "{a}", "2", false).unwrap_err().code, "22023");
        assert_eq!(set("[1]", "{x}", "2", true).unwrap_err().code, "22P02");
    }

    #[test]
    fn paths_read_as_text_array_literals() {
        let p = |s: &str| super::super::json::path_elements(s).map_err(|e| e.code);
        let some = |v: &[&str]| v.iter().map(|s| Some(s.to_string())).collect::<Vec<_>>();
        assert_eq!(p(r#"{ a , "b,c" , d e ,"",\,}"#), Ok(some(&["a", "b,c", "d e", "", ","])));
        assert_eq!(p(r#"{a,NULL,"NULL",null}"#), Ok(vec![Some("a".into()), None, Some("NULL".into()), None]));
        assert_eq!(p(" { } "), Ok(vec![]));
        assert_eq!(p("{a,,b}"), Err("22P02".into()));
        assert_eq!(p("{\"a}"), Err("22P02".into()));
        assert_eq!(delete_path(r#"{"a": {"b": 1}}"#, "{a,NULL}").unwrap_err().code, "22004");
        assert_eq!(j(delete_path(r#"{"a": 1}"#, "{a,b,NULL}").unwrap()), r#"{"a": 1}"#);
    }

    #[test]
    fn strips_and_prints() {
        assert_eq!(j(strip_nulls(r#"{"a": null, "b": [null, {"c": null}]}"#).unwrap()), r#"{"b": [null, {}]}"#);
        assert_eq!(j(pretty(r#"{"a": [], "b": {"c": 1.50}}"#).unwrap()), "{\n    \"a\": [\n    ],\n    \"b\": {\n        \"c\": 1.50\n    }\n}");
        assert_eq!(j(pretty("\"x\"").unwrap()), "\"x\"");
    }
}
