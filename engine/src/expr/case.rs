//! Upper and lower case of text: `upper`, `lower` and `initcap`, one
//! character for one as PostgreSQL maps them in a UTF-8 locale.

/// `upper(s)`.
pub fn upper(s: &str) -> String {
    s.chars().map(upper_char).collect()
}

/// `lower(s)`.
pub fn lower(s: &str) -> String {
    s.chars().map(lower_char).collect()
}

/// `initcap(s)`: the first letter or digit of each word upper case, the
/// rest lower case.
pub fn initcap(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if c.is_alphanumeric() {
            out.push(if start { upper_char(c) } else { lower_char(c) });
            start = false;
        } else {
            out.push(c);
            start = true;
        }
    }
    out
}

/// A character in upper case, one for one as PostgreSQL maps characters
/// in a UTF-8 locale (`ß` stays `ß`, where Rust's upper case is `SS`).
fn upper_char(c: char) -> char {
    let mut u = c.to_uppercase();
    match (u.next(), u.next()) {
        (Some(x), None) => x,
        _ => c,
    }
}

/// A character in lower case, one for one (see [`upper_char`]); `İ` is `i`,
/// without the combining dot Rust adds.
fn lower_char(c: char) -> char {
    let mut l = c.to_lowercase();
    match (l.next(), l.next()) {
        (Some(x), None) => x,
        (Some(x), Some('\u{300}'..='\u{36f}')) => x,
        _ => c,
    }
}
