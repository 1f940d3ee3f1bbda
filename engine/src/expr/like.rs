//! SQL LIKE and ILIKE matching.

/// One element of a LIKE pattern.
#[derive(Clone, Copy, PartialEq)]
enum LikeToken {
    /// `%`: any run of characters.
    Any,
    /// `_`: exactly one character.
    One,
    /// A character matched as itself (`\x` is `x`; a trailing lone `\`
    /// is a backslash).
    Char(char),
}

/// SQL LIKE with `%`, `_` and backslash escapes, in O(len(s) * len(p))
/// time and no extra space beyond the pattern: the classic wildcard match
/// that, on a mismatch, backtracks only to just after the last `%` seen
/// (earlier `%`s never need revisiting, since the last one can absorb
/// whatever they would have).
pub fn like(s: &str, p: &str) -> bool {
    let mut tokens = Vec::with_capacity(p.len());
    let mut chars = p.chars().peekable();
    while let Some(c) = chars.next() {
        tokens.push(match c {
            '%' => LikeToken::Any,
            '_' => LikeToken::One,
            '\\' => LikeToken::Char(chars.next().unwrap_or('\\')),
            c => LikeToken::Char(c),
        });
    }
    let s: Vec<char> = s.chars().collect();
    let (mut si, mut pi) = (0, 0);
    // After the last `%`: where the pattern resumes, and the next position
    // of the string to try it at.
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        match tokens.get(pi) {
            Some(LikeToken::Any) => {
                pi += 1;
                star = Some((pi, si));
            }
            Some(LikeToken::One) => {
                si += 1;
                pi += 1;
            }
            Some(LikeToken::Char(c)) if *c == s[si] => {
                si += 1;
                pi += 1;
            }
            _ => match star {
                // Let the last `%` absorb one more character, and retry.
                Some((resume, from)) => {
                    pi = resume;
                    si = from + 1;
                    star = Some((resume, from + 1));
                }
                None => return false,
            },
        }
    }
    tokens[pi..].iter().all(|t| *t == LikeToken::Any)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::BinaryFunc;
    use crate::repr::Datum;

    /// LIKE by dynamic programming over (string prefix, pattern prefix): the
    /// reference the linear-space matcher is checked against.
    fn like_reference(s: &str, p: &str) -> bool {
        let s: Vec<char> = s.chars().collect();
        let mut toks: Vec<(char, bool)> = Vec::new(); // (char, escaped)
        let mut it = p.chars();
        while let Some(c) = it.next() {
            toks.push(if c == '\\' { (it.next().unwrap_or('\\'), true) } else { (c, false) });
        }
        // m[j]: the string prefix so far matches the first j tokens.
        let mut m = vec![false; toks.len() + 1];
        m[0] = true;
        for j in 1..=toks.len() {
            m[j] = m[j - 1] && toks[j - 1] == ('%', false);
        }
        for c in &s {
            let mut next = vec![false; toks.len() + 1];
            for j in 1..=toks.len() {
                next[j] = match toks[j - 1] {
                    ('%', false) => next[j - 1] || m[j],
                    ('_', false) => m[j - 1],
                    (t, _) => m[j - 1] && t == *c,
                };
            }
            m = next;
        }
        m[toks.len()]
    }

    #[test]
    fn like_matches_as_before() {
        assert!(like("abc", "a%c"));
        assert!(like("abc", "_b_"));
        assert!(!like("abc", "a%d"));
        assert!(like("", "%"));
        assert!(like("", "%%"));
        assert!(!like("", "_"));
        assert!(like("", ""));
        assert!(!like("a", ""));
        assert!(like("mississippi", "%iss%ppi"));
        assert!(like("mississippi", "m%s%s%i"));
        assert!(!like("mississippi", "m%s%s%x"));
        assert!(like("héllo wörld", "h_llo w_rld"));
        // Escapes: `\%`, `\_` and `\\` are themselves; a trailing lone
        // backslash is a backslash (as before; PostgreSQL rejects it).
        assert!(like("100%", "100\\%"));
        assert!(!like("1000", "100\\%"));
        assert!(like("a_b", "a\\_b"));
        assert!(!like("axb", "a\\_b"));
        assert!(like("a\\b", "a\\\\b"));
        assert!(like("a\\", "a\\"));
        assert!(like("ab", "\\a\\b"));
        // ILIKE folds both sides to lower case.
        let ilike = |s: &str, p: &str| BinaryFunc::Like { negated: false, case_insensitive: true }.eval(Datum::text(s), Datum::text(p)).unwrap();
        assert_eq!(ilike("Hello World", "hello%WORLD"), Datum::Bool(true));
        assert_eq!(ilike("ÀB", "àb"), Datum::Bool(true));
        assert_eq!(BinaryFunc::Like { negated: true, case_insensitive: false }.eval(Datum::text("abc"), Datum::text("a%")).unwrap(), Datum::Bool(false));
        // Every string and pattern over a small alphabet agrees with the reference.
        let alphabet = ['a', 'b', '%', '_', '\\'];
        let mut patterns = vec![String::new()];
        for _ in 0..5 {
            let longer: Vec<String> = patterns.iter().filter(|p| p.chars().count() == patterns.last().unwrap().chars().count()).flat_map(|p| alphabet.iter().map(move |c| format!("{}{}", p, c))).collect();
            patterns.extend(longer);
        }
        let strings: Vec<String> = patterns.iter().filter(|p| p.chars().count() <= 3).cloned().collect();
        for p in &patterns {
            for s in &strings {
                assert_eq!(like(s, p), like_reference(s, p), "{:?} LIKE {:?}", s, p);
            }
        }
    }

    #[test]
    fn like_takes_linear_space_and_polynomial_time() {
        // Exponential for the old backtracking matcher: minutes for 100
        // characters and 10 `%a` (every session waited behind it).
        let s = "a".repeat(20_000);
        let start = std::time::Instant::now();
        assert!(!like(&s, &format!("{}b", "%a".repeat(50))));
        assert!(like(&s, &"%a".repeat(50)));
        assert!(!like(&s, &format!("{}b%", "%a_".repeat(50))));
        let ilike = BinaryFunc::Like { negated: false, case_insensitive: true };
        assert_eq!(ilike.eval(Datum::text(&s), Datum::text(format!("{}B", "%A".repeat(50)))).unwrap(), Datum::Bool(false));
        assert!(start.elapsed() < std::time::Duration::from_secs(20), "{:?}", start.elapsed());
    }
}
