//! PostgreSQL's order of jsonb values, over their canonical text.
//!
//! PostgreSQL orders jsonb by structure, not by text: null < string <
//! number < boolean < array < object; arrays by their number of elements
//! first, then element by element; objects by their number of fields
//! first, then key, value, key, value in stored order (shorter keys first,
//! which is also the order of eddy's canonical text); numbers by value
//! (`9 < 10`, `1.0 = 1`); strings bytewise (the C collation). A top-level
//! scalar is a one-element array to PostgreSQL: it sorts after `[]` and
//! before any other array, which is why `[] < null` at the top.
//!
//! [`compare`] is that order (`1.0` and `1` equal), as the comparison
//! operators use it; [`sort_order`] breaks its ties by text, a total order
//! consistent with equality of the stored values, for ORDER BY.

use serde_json::value::RawValue;
use std::cmp::Ordering;

/// PostgreSQL's comparison of two jsonb values (see the module doc).
/// Text that does not parse (never stored) compares as text.
pub fn compare(a: &str, b: &str) -> Ordering {
    match (serde_json::from_str::<&RawValue>(a), serde_json::from_str::<&RawValue>(b)) {
        (Ok(x), Ok(y)) => top(x.get(), y.get()).unwrap_or_else(|| a.cmp(b)),
        _ => a.cmp(b),
    }
}

/// [`compare`], ties broken by the text: for sorting.
pub fn sort_order(a: &str, b: &str) -> Ordering {
    compare(a, b).then_with(|| a.cmp(b))
}

/// The rank of a value's kind in PostgreSQL's order.
fn kind(raw: &str) -> u8 {
    match raw.as_bytes().first() {
        Some(b'n') => 0,
        Some(b'"') => 1,
        Some(b't' | b'f') => 3,
        Some(b'[') => 4,
        Some(b'{') => 5,
        _ => 2,
    }
}

fn top(a: &str, b: &str) -> Option<Ordering> {
    let (ka, kb) = (kind(a), kind(b));
    // A top-level scalar against an array: a one-element array that sorts
    // before the arrays of one element.
    if ka < 4 && kb == 4 {
        let n = super::json::elements(b).ok()?.len();
        return Some(1.cmp(&n).then(Ordering::Less));
    }
    if ka == 4 && kb < 4 {
        return top(b, a).map(Ordering::reverse);
    }
    value(a, b)
}

fn value(a: &str, b: &str) -> Option<Ordering> {
    let (ka, kb) = (kind(a), kind(b));
    if ka != kb {
        return Some(ka.cmp(&kb));
    }
    Some(match ka {
        0 => Ordering::Equal,
        1 => serde_json::from_str::<String>(a).ok()?.cmp(&serde_json::from_str::<String>(b).ok()?),
        2 => numbers(a, b)?,
        3 => a.starts_with('t').cmp(&b.starts_with('t')),
        4 => {
            let (x, y) = (super::json::elements(a).ok()?, super::json::elements(b).ok()?);
            let mut o = x.len().cmp(&y.len());
            for (p, q) in x.iter().zip(&y) {
                if o.is_ne() {
                    break;
                }
                o = value(p.get(), q.get())?;
            }
            o
        }
        _ => {
            let (x, y) = (super::json::fields(a).ok()?, super::json::fields(b).ok()?);
            let mut o = x.len().cmp(&y.len());
            for ((kx, vx), (ky, vy)) in x.iter().zip(&y) {
                if o.is_ne() {
                    break;
                }
                o = kx.cmp(ky).then(value(vx.get(), vy.get())?);
            }
            o
        }
    })
}

/// Compares two JSON numbers by value, exactly, whatever their digits.
fn numbers(a: &str, b: &str) -> Option<Ordering> {
    let (x, y) = (Decimal::parse(a)?, Decimal::parse(b)?);
    Some(match (x.negative, y.negative) {
        (false, true) => Ordering::Greater,
        (true, false) => Ordering::Less,
        (false, false) => x.magnitude(&y),
        (true, true) => y.magnitude(&x),
    })
}

/// A number as `0.digits × 10^exponent`, digits without leading or
/// trailing zeros (none for zero, which is never negative).
struct Decimal {
    negative: bool,
    digits: Vec<u8>,
    exponent: i64,
}

impl Decimal {
    fn parse(s: &str) -> Option<Decimal> {
        let (negative, s) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (mantissa, exp) = match s.find(['e', 'E']) {
            Some(i) => (&s[..i], s[i + 1..].trim_start_matches('+').parse::<i64>().ok()?),
            None => (s, 0),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let all: Vec<u8> = int.bytes().chain(frac.bytes()).collect();
        if !all.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let lead = all.iter().take_while(|&&d| d == b'0').count();
        let mut digits = all[lead..].to_vec();
        while digits.last() == Some(&b'0') {
            digits.pop();
        }
        let exponent = exp + int.len() as i64 - lead as i64;
        Some(Decimal { negative: negative && !digits.is_empty(), digits, exponent })
    }

    /// Compares the absolute values.
    fn magnitude(&self, other: &Decimal) -> Ordering {
        match (self.digits.is_empty(), other.digits.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            _ => self.exponent.cmp(&other.exponent).then_with(|| self.digits.cmp(&other.digits)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_as_postgresql() {
        let lt = |a: &str, b: &str| assert_eq!(compare(a, b), Ordering::Less, "{} < {}", a, b);
        let eq = |a: &str, b: &str| assert_eq!(compare(a, b), Ordering::Equal, "{} = {}", a, b);
        lt("9", "10");
        lt("-10", "-9");
        lt("-1", "0");
        lt("0.001", "1e-2");
        lt("123456789012345678901234567890", "1e40");
        eq("1.0", "1");
        eq("-0", "0.00");
        eq("{\"a\": 1.0}", "{\"a\": 1}");
        lt("null", "\"a\"");
        lt("\"z\"", "1");
        lt("1", "false");
        lt("false", "true");
        lt("true", "[1]");
        lt("[]", "null");
        lt("[3]", "[1, 2]");
        lt("[1, 2]", "[1, 3]");
        lt("[1, \"a\"]", "[1, 2]");
        lt("[[1, 2]]", "[{}]");
        lt("[[3]]", "[[1, 2]]");
        lt("[9]", "{}");
        lt("{\"b\": 1}", "{\"a\": 1, \"b\": 1}");
        lt("{\"a\": 2}", "{\"b\": 1}");
        lt("{\"a\": 1}", "{\"a\": 2}");
        assert_eq!(sort_order("1.0", "1"), Ordering::Greater);
    }
}
