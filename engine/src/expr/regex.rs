//! POSIX regular expressions as PostgreSQL's `~`, `~*`, `!~`, `!~*` and
//! `regexp_replace` use them, evaluated with the `regex` crate.
//!
//! The crate's syntax covers what PostgreSQL's advanced regular expressions
//! are mostly written with (classes, `[[:alpha:]]`, `\d \w \s`, anchors,
//! groups, alternation, bounded repetition); a pattern it cannot compile
//! (back references, lookaround, PostgreSQL's `\m \M \y` word anchors) is
//! an error with SQLSTATE 2201B, as an invalid pattern is in PostgreSQL.
//! Matching takes time linear in the text, whatever the pattern.
//!
//! Compiled patterns are cached per thread: a view filters every row with
//! the same pattern.

use super::error::EvalError;
use regex::{Regex, RegexBuilder};
use std::cell::RefCell;
use std::collections::HashMap;

/// Patterns kept compiled per thread; past this the cache starts over.
const CACHED: usize = 256;

/// PostgreSQL's limit on a compiled pattern is its memory; ours is the
/// crate's size limit, set so a pattern cannot take much of the worker.
const SIZE_LIMIT: usize = 10 << 20;

thread_local! {
    static COMPILED: RefCell<HashMap<(String, bool), Regex>> = RefCell::new(HashMap::new());
}

fn with_regex<T>(pattern: &str, case_insensitive: bool, f: impl FnOnce(&Regex) -> T) -> Result<T, EvalError> {
    COMPILED.with(|cache| {
        let mut cache = cache.borrow_mut();
        let key = (pattern.to_string(), case_insensitive);
        if !cache.contains_key(&key) {
            let re = RegexBuilder::new(pattern)
                .case_insensitive(case_insensitive)
                .size_limit(SIZE_LIMIT)
                .build()
                .map_err(|e| EvalError::new("2201B", format!("invalid regular expression: {}", first_line(&e.to_string()))))?;
            if cache.len() >= CACHED {
                cache.clear();
            }
            cache.insert(key.clone(), re);
        }
        Ok(f(&cache[&key]))
    })
}

fn first_line(s: &str) -> &str {
    s.lines().rev().find(|l| l.starts_with("error:")).map(|l| l.trim_start_matches("error:").trim()).unwrap_or_else(|| s.lines().next().unwrap_or(s))
}

/// `text ~ pattern` (`~*` when case-insensitive): whether the pattern
/// matches anywhere in the text.
pub fn is_match(text: &str, pattern: &str, case_insensitive: bool) -> Result<bool, EvalError> {
    with_regex(pattern, case_insensitive, |re| re.is_match(text))
}

/// `text SIMILAR TO pattern [ESCAPE escape]`: the SQL pattern as
/// PostgreSQL rewrites it into a regular expression (`similar_escape`),
/// matched against the whole text.
pub fn similar_to(text: &str, pattern: &str, escape: Option<char>) -> Result<bool, EvalError> {
    with_regex(&similar_to_regex(pattern, escape)?, false, |re| re.is_match(text))
}

/// The regular expression of a SIMILAR TO pattern: anchored at both ends,
/// `%` any text, `_` any character, `(` a group that captures nothing,
/// `.` `^` `$` and `\` literal; `|` `*` `+` `?` `{m,n}` and bracket
/// expressions as in regular expressions. The escape character makes the
/// next one literal; escaped double quotes (at most two) separate the
/// parts `substring(x similar p escape e)` picks from.
fn similar_to_regex(pattern: &str, escape: Option<char>) -> Result<String, EvalError> {
    // (?s): `.` matches a newline too, as in PostgreSQL's default mode.
    let mut out = String::from("(?s)^(?:");
    let (mut after_escape, mut in_class, mut quotes) = (false, false, 0);
    for c in pattern.chars() {
        if after_escape {
            after_escape = false;
            if c == '"' && !in_class {
                out.push_str(match quotes {
                    0 => "){1,1}?(",
                    1 => "){1,1}(?:",
                    _ => return Err(EvalError::new("2200C", "SQL regular expression may not contain more than two escape-double-quote separators")),
                });
                quotes += 1;
            } else {
                out.push('\\');
                out.push(c);
            }
        } else if Some(c) == escape {
            after_escape = true;
        } else if in_class {
            if c == '\\' {
                out.push('\\');
            }
            out.push(c);
            in_class = c != ']';
        } else {
            match c {
                '[' => {
                    out.push('[');
                    in_class = true;
                }
                '%' => out.push_str(".*"),
                '_' => out.push('.'),
                '(' => out.push_str("(?:"),
                '\\' | '.' | '^' | '$' => {
                    out.push('\\');
                    out.push(c);
                }
                c => out.push(c),
            }
        }
    }
    // A pattern ending in the escape character: PostgreSQL's regex then
    // fails on the trailing backslash.
    if after_escape {
        return Err(EvalError::new("2201B", "invalid regular expression: invalid escape \\ sequence"));
    }
    out.push_str(")$");
    Ok(out)
}

/// `substring(text from pattern)`: the text of the first match, or of the
/// match's first parenthesized group when the pattern has one (NULL when
/// that group took no part); NULL when nothing matches.
pub fn substring(text: &str, pattern: &str) -> Result<Option<String>, EvalError> {
    with_regex(pattern, false, |re| {
        let caps = re.captures(text)?;
        let m = if re.captures_len() > 1 { caps.get(1) } else { caps.get(0) };
        m.map(|m| m.as_str().to_string())
    })
}

/// `regexp_replace(text, pattern, replacement [, flags])`: the first match
/// replaced, or every match with flag `g`; flag `i` ignores case. In the
/// replacement `\1`..`\9` stand for the groups and `\&` for the match.
pub fn replace(text: &str, pattern: &str, replacement: &str, flags: &str) -> Result<String, EvalError> {
    let (global, case_insensitive) = options(flags)?;
    let replacement = crate_replacement(replacement);
    with_regex(pattern, case_insensitive, |re| {
        let limit = if global { 0 } else { 1 };
        re.replacen(text, limit, replacement.as_str()).into_owned()
    })
}

/// The flags of the regexp functions: `g` (every match) and `i` / `c`
/// (ignore case or not), as (global, case_insensitive).
fn options(flags: &str) -> Result<(bool, bool), EvalError> {
    let (mut global, mut case_insensitive) = (false, false);
    for f in flags.chars() {
        match f {
            'g' => global = true,
            'i' => case_insensitive = true,
            'c' => case_insensitive = false,
            other => return Err(EvalError::new("22023", format!("invalid regular expression option: \"{}\"", other))),
        }
    }
    Ok((global, case_insensitive))
}

/// `regexp_match(text, pattern [, flags])` (the first match) and
/// `regexp_matches` (every match with flag `g`): per match, the texts of
/// its parenthesized groups (NULL for a group that took no part), or the
/// whole match when the pattern has none.
pub fn matches(text: &str, pattern: &str, flags: &str, allow_global: bool) -> Result<Vec<Vec<Option<String>>>, EvalError> {
    let (global, case_insensitive) = options(flags)?;
    if global && !allow_global {
        return Err(EvalError::new("22023", "regexp_match() does not support the \"global\" option: use regexp_matches"));
    }
    with_regex(pattern, case_insensitive, |re| {
        let groups = re.captures_len();
        re.captures_iter(text)
            .take(if global { usize::MAX } else { 1 })
            .map(|caps| match groups {
                1 => vec![caps.get(0).map(|m| m.as_str().to_string())],
                _ => (1..groups).map(|g| caps.get(g).map(|m| m.as_str().to_string())).collect(),
            })
            .collect()
    })
}

/// `regexp_split_to_array(text, pattern [, flags])` and
/// `regexp_split_to_table`: the text between the matches. As in
/// PostgreSQL, an empty match at the start or end of the text, or right
/// after another match, splits nothing (`''` splits into characters).
pub fn split(text: &str, pattern: &str, flags: &str) -> Result<Vec<String>, EvalError> {
    let (global, case_insensitive) = options(flags)?;
    if global {
        return Err(EvalError::new("22023", "regexp_split_to_array() does not support the \"global\" option"));
    }
    with_regex(pattern, case_insensitive, |re| {
        let (mut out, mut from, mut last_end) = (Vec::new(), 0, None);
        for m in re.find_iter(text) {
            if m.start() == m.end() && (m.start() == 0 || m.start() == text.len() || Some(m.start()) == last_end) {
                continue;
            }
            out.push(text[from..m.start()].to_string());
            from = m.end();
            last_end = Some(m.end());
        }
        out.push(text[from..].to_string());
        out
    })
}

/// PostgreSQL's replacement syntax in the crate's: `\N` is `${N}`, `\&` is
/// `${0}`, `\\` a backslash, and `$` is literal.
fn crate_replacement(r: &str) -> String {
    let mut out = String::with_capacity(r.len());
    let mut chars = r.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' => out.push_str("$$"),
            '\\' => match chars.peek().copied() {
                Some(d @ '1'..='9') => {
                    chars.next();
                    out.push_str(&format!("${{{}}}", d));
                }
                Some('&') => {
                    chars.next();
                    out.push_str("${0}");
                }
                Some('\\') => {
                    chars.next();
                    out.push('\\');
                }
                _ => out.push('\\'),
            },
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_like_postgres() {
        assert!(is_match("order-42", r"^order-\d+$", false).unwrap());
        assert!(!is_match("Order-42", "^order", false).unwrap());
        assert!(is_match("Order-42", "^order", true).unwrap());
        assert!(is_match("abc", "[[:alpha:]]+", false).unwrap());
        assert_eq!(is_match("a", "(a", false).unwrap_err().code, "2201B");
        // Linear time: no catastrophic backtracking.
        assert!(!is_match(&"a".repeat(10_000), "(a*)*b", false).unwrap());
    }

    #[test]
    fn similar_to_matches_the_whole_text() {
        let m = |t: &str, p: &str| similar_to(t, p, Some('\\')).unwrap();
        assert!(m("abc", "a%") && !m("abc", "b%") && m("abc", "%(b|d)%"));
        assert!(m("ab", "a_") && !m("abc", "a_") && m("a\nb", "a_b"));
        assert!(m("a.b", "a.b") && !m("axb", "a.b") && m("a^b$", "a^b$"));
        assert!(m("abab", "(ab){2}") && m("aab", "a{1,2}b") && m("ac", "ab?c") && m("abbc", "ab+c") && !m("ab", "b|a"));
        assert!(m("x]", "[]x]+") && m("a_", "a\\_") && !m("ab", "a\\_"));
        assert!(similar_to("a%", "a#%", Some('#')).unwrap() && !similar_to("abc", "a#%", Some('#')).unwrap());
        assert!(similar_to("a\\b", "a\\b", Some('#')).unwrap());
        assert_eq!(similar_to("a", "(a", Some('\\')).unwrap_err().code, "2201B");
    }

    #[test]
    fn replaces_first_or_all_with_groups() {
        assert_eq!(replace("foobarbaz", "b..", "X", "").unwrap(), "fooXbaz");
        assert_eq!(replace("foobarbaz", "b..", "X", "g").unwrap(), "fooXX");
        assert_eq!(replace("foobarbaz", "b(..)", r"X\1Y", "g").unwrap(), "fooXarYXazY");
        assert_eq!(replace("abc", "B", r"[\&]", "i").unwrap(), "a[b]c");
        assert_eq!(replace("a.b", r"\.", "$1", "").unwrap(), "a$1b");
        assert_eq!(replace("x", "x", "y", "q").unwrap_err().code, "22023");
    }
}
