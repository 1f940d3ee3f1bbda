//! `to_char(number, template)`: a number as text by PostgreSQL's numeric
//! template patterns, as reports format amounts.
//!
//! Patterns: `9` (a digit, blank when a leading zero), `0` (a digit, zero
//! when leading), `.` and `D` (the decimal point), `,` and `G` (the group
//! separator, blank before the first digit), `S` (the sign, anchored to
//! the number), `MI` (a minus sign, blank when positive), `PR` (a negative
//! number in angle brackets) and the `FM` prefix (no padding, no trailing
//! zeros). The session's locale is C: the decimal point is `.`, the group
//! separator `,` and the signs `+` and `-`. Text in double quotes and any
//! other character are copied, as in PostgreSQL. A value wider than the
//! template's digits comes out as `#` in every digit position.
//!
//! Not done (refused with 0A000 rather than answered differently): `B`,
//! `C`, `L`, `V`, `EEEE`, `RN`, `TH`, `PL`, `SG` and `SP`.
//!
//! The layout follows PostgreSQL's rules: the value is first written as a
//! plain string of digits with exactly as many fraction digits as the
//! template has (rounded half away from zero for numeric, half to even on
//! the binary value for floats, which keep at most 15 significant digits,
//! 6 for real), then the template is walked, each digit position taking
//! the next character of that string or a blank before it.

use super::EvalError;
use rust_decimal::prelude::*;

/// One element of a template.
#[derive(Clone, Debug, PartialEq)]
enum Node {
    Nine,
    Zero,
    /// `.` or `D`.
    Point,
    /// `,` or `G`.
    Group,
    Minus,
    /// `S`, `PR` and `FM` print nothing where they stand.
    Silent,
    Literal(char),
}

/// Where the `S` sign goes.
#[derive(Clone, Copy, Debug, PartialEq)]
enum SignAt {
    None,
    Before,
    After,
}

/// A parsed template: its elements and what PostgreSQL counts of them.
#[derive(Debug)]
struct Template {
    nodes: Vec<Node>,
    /// Digit positions before and after the decimal point.
    pre: usize,
    post: usize,
    decimal: bool,
    fill: bool,
    /// Whether a `0` stands before the point, and the 0-based digit
    /// position of the first such `0`; `zero_end`: the digit count up to
    /// the last `0`.
    zero: bool,
    zero_start: usize,
    zero_end: usize,
    sign_at: SignAt,
    /// Digit positions before the `S` when it came first.
    pre_at_sign: usize,
    minus: bool,
    bracket: bool,
}

fn syntax(msg: &str) -> EvalError {
    EvalError::new("42601", msg)
}

/// Patterns PostgreSQL has that are not done here, longest first.
const REFUSED: &[&str] = &["EEEE", "eeee", "PL", "pl", "SG", "sg", "SP", "sp", "RN", "rn", "TH", "th", "B", "b", "C", "c", "L", "l", "V", "v"];

fn parse(template: &str) -> Result<Template, EvalError> {
    let mut t = Template { nodes: Vec::new(), pre: 0, post: 0, decimal: false, fill: false, zero: false, zero_start: 0, zero_end: 0, sign_at: SignAt::None, pre_at_sign: 0, minus: false, bracket: false };
    let mut rest = template;
    while let Some(c) = rest.chars().next() {
        if let Some(quoted) = rest.strip_prefix('"') {
            // A quoted string is copied; a backslash takes the next character as it is.
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    '\\' => match chars.next() {
                        Some((_, next)) => t.nodes.push(Node::Literal(next)),
                        None => t.nodes.push(Node::Literal('\\')),
                    },
                    c => t.nodes.push(Node::Literal(c)),
                }
            }
            rest = &quoted[end.min(quoted.len())..];
            continue;
        }
        if let Some(p) = REFUSED.iter().find(|p| rest.starts_with(**p)) {
            return Err(EvalError::new("0A000", format!("to_char pattern \"{}\" for numbers is not supported", p)));
        }
        let (node, len) = match c {
            '9' => (Node::Nine, 1),
            '0' => (Node::Zero, 1),
            '.' | 'D' | 'd' => (Node::Point, 1),
            ',' | 'G' | 'g' => (Node::Group, 1),
            'S' | 's' => (Node::Silent, 1),
            _ if rest.starts_with("MI") || rest.starts_with("mi") => (Node::Minus, 2),
            _ if rest.starts_with("PR") || rest.starts_with("pr") => (Node::Silent, 2),
            _ if rest.starts_with("FM") || rest.starts_with("fm") => (Node::Silent, 2),
            // Outside quotes a backslash only matters before a double quote.
            '\\' if rest[1..].starts_with('"') => (Node::Literal('"'), 2),
            c => (Node::Literal(c), c.len_utf8()),
        };
        let word = &rest[..len];
        rest = &rest[len..];
        match node {
            Node::Nine | Node::Zero => {
                if t.bracket {
                    return Err(syntax(if node == Node::Nine { "\"9\" must be ahead of \"PR\"" } else { "\"0\" must be ahead of \"PR\"" }));
                }
                if node == Node::Zero && !t.zero && !t.decimal {
                    t.zero = true;
                    t.zero_start = t.pre;
                }
                if t.decimal {
                    t.post += 1;
                } else {
                    t.pre += 1;
                }
                if node == Node::Zero {
                    t.zero_end = t.pre + t.post;
                }
            }
            Node::Point => {
                if t.decimal {
                    return Err(syntax("multiple decimal points"));
                }
                t.decimal = true;
            }
            Node::Minus => {
                if t.sign_at != SignAt::None {
                    return Err(syntax("cannot use \"S\" and \"MI\" together"));
                }
                t.minus = true;
            }
            Node::Silent if word.eq_ignore_ascii_case("S") => {
                if t.sign_at != SignAt::None {
                    return Err(syntax("cannot use \"S\" twice"));
                }
                if t.minus || t.bracket {
                    return Err(syntax("cannot use \"S\" and \"PL\"/\"MI\"/\"SG\"/\"PR\" together"));
                }
                if t.decimal {
                    t.sign_at = SignAt::After;
                } else {
                    t.sign_at = SignAt::Before;
                    t.pre_at_sign = t.pre;
                }
            }
            Node::Silent if word.eq_ignore_ascii_case("PR") => {
                if t.sign_at != SignAt::None || t.minus {
                    return Err(syntax("cannot use \"PR\" and \"S\"/\"PL\"/\"MI\"/\"SG\" together"));
                }
                t.bracket = true;
            }
            Node::Silent => t.fill = true,
            _ => {}
        }
        t.nodes.push(node);
    }
    Ok(t)
}

/// A value ready for the template: its digits (with a `.` and exactly
/// `post` fraction digits, or all `#` when too wide), how many digit
/// positions stay blank before it, and whether it is negative.
struct Digits {
    text: Vec<char>,
    blanks: usize,
    negative: bool,
}

/// `post`: the fraction digits the value was written with (a float may
/// have fewer than the template).
fn fit(t: &Template, digits: String, post: usize, negative: bool) -> Digits {
    let int_len = digits.find('.').unwrap_or(digits.len());
    if int_len > t.pre {
        return Digits { text: overflow(t.pre, post), blanks: 0, negative };
    }
    Digits { text: digits.chars().collect(), blanks: t.pre - int_len, negative }
}

/// `#` in every digit position, a `.` after the integer part.
fn overflow(pre: usize, post: usize) -> Vec<char> {
    let mut text = vec!['#'; pre + post + 1];
    text[pre] = '.';
    text
}

fn integer_digits(t: &Template, v: i64) -> Digits {
    let mut s = v.unsigned_abs().to_string();
    if t.post > 0 {
        s.push('.');
        s.extend(std::iter::repeat_n('0', t.post));
    }
    fit(t, s, t.post, v < 0)
}

fn numeric_digits(t: &Template, v: Decimal) -> Digits {
    let r = v.round_dp_with_strategy(t.post.min(28) as u32, RoundingStrategy::MidpointAwayFromZero);
    let s = r.abs().to_string();
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    let mut out = int.to_string();
    if t.post > 0 {
        out.push('.');
        out.push_str(frac);
        out.extend(std::iter::repeat_n('0', t.post.saturating_sub(frac.len())));
    }
    fit(t, out, t.post, r.is_sign_negative() && !r.is_zero())
}

/// `max_digits`: 15 for double precision, 6 for real (DBL_DIG, FLT_DIG).
fn float_digits(t: &Template, v: f64, max_digits: usize) -> Digits {
    if !v.is_finite() {
        return Digits { text: overflow(t.pre, t.post), blanks: 0, negative: v < 0.0 };
    }
    let int_len = format!("{:.0}", v.abs()).len();
    let post = if int_len >= max_digits { 0 } else { t.post.min(max_digits - int_len) };
    let s = format!("{:.*}", post, v);
    let negative = s.starts_with('-');
    fit(t, s.trim_start_matches('-').to_string(), post, negative)
}

/// Walks the template over the digits (PostgreSQL's layout rules).
fn layout(t: &mut Template, d: Digits) -> String {
    let number = d.text;
    let at = |i: usize| number.get(i).copied().unwrap_or('\0');
    let mut out = String::new();
    // The output ends at the first position written past the digits.
    let mut cut: Option<usize> = None;
    let negative = d.negative;
    let blanks = d.blanks;
    let mut sign_wrote = if t.minus {
        true
    } else {
        if !negative && t.fill {
            t.bracket = false;
        }
        if t.sign_at == SignAt::Before && t.pre == t.pre_at_sign {
            t.sign_at = SignAt::After;
        }
        !negative && t.fill && t.sign_at == SignAt::None
    };
    let sign_char = if negative { '-' } else { '+' };
    let mut last_relevant: Option<usize> = None;
    if t.fill && t.decimal {
        if let Some(p) = number.iter().position(|c| *c == '.') {
            let mut last = p + number[p + 1..].iter().rposition(|c| *c != '0').map_or(0, |i| i + 1);
            if t.zero_end > blanks {
                let last_zero = (number.len() - 1).min(t.zero_end - blanks);
                last = last.max(last_zero);
            }
            last_relevant = Some(last);
        }
    }
    let relevant_is_point = last_relevant.is_some_and(|i| at(i) == '.');
    let mut count = (t.post + t.pre) as i64 - 1;
    if !sign_wrote && blanks == 0 {
        count += 1;
    }
    let (mut num_in, mut curr, mut p) = (false, 0usize, 0usize);
    let nodes = t.nodes.clone();
    for node in &nodes {
        match node {
            Node::Nine | Node::Zero | Node::Point => {
                num_in = false;
                let predec_space = !t.zero && p == 0 && at(0) == '0' && t.post != 0;
                if !sign_wrote && (curr >= blanks || (t.zero && t.zero_start == curr)) && (!predec_space || relevant_is_point) {
                    match t.sign_at {
                        SignAt::Before => {
                            out.push(sign_char);
                            sign_wrote = true;
                        }
                        SignAt::After => {}
                        SignAt::None if t.bracket => {
                            out.push(if negative { '<' } else { ' ' });
                            sign_wrote = true;
                        }
                        SignAt::None => {
                            if negative {
                                out.push('-');
                            } else if !t.fill {
                                out.push(' ');
                            }
                            sign_wrote = true;
                        }
                    }
                }
                if curr < blanks && (t.zero_start > curr || !t.zero) {
                    if !t.fill {
                        out.push(' ');
                    }
                } else if t.zero && curr < blanks && t.zero_start <= curr {
                    out.push('0');
                    num_in = true;
                } else {
                    if at(p) == '.' {
                        out.push('.');
                    } else if last_relevant.is_some_and(|l| p > l) && *node != Node::Zero {
                        // A trailing zero FM drops.
                    } else if predec_space {
                        if !t.fill {
                            out.push(' ');
                        } else if relevant_is_point {
                            out.push('0');
                        }
                    } else {
                        if p >= number.len() {
                            cut.get_or_insert(out.len());
                        }
                        out.push(at(p));
                        num_in = true;
                    }
                    if p < number.len() {
                        p += 1;
                    }
                }
                let mut end = count + (blanks > 0) as i64 + t.decimal as i64;
                if last_relevant == Some(p) {
                    end = curr as i64;
                }
                if curr as i64 + 1 == end {
                    if sign_wrote && t.bracket {
                        out.push(if negative { '>' } else { ' ' });
                    } else if t.sign_at == SignAt::After {
                        out.push(sign_char);
                    }
                }
                curr += 1;
            }
            Node::Group => {
                if num_in {
                    out.push(',');
                } else if !t.fill {
                    out.push(' ');
                }
            }
            Node::Minus => {
                if negative {
                    out.push('-');
                } else if !t.fill {
                    out.push(' ');
                }
            }
            Node::Silent => {}
            Node::Literal(c) => out.push(*c),
        }
    }
    if let Some(n) = cut {
        out.truncate(n);
    }
    out
}

/// A number to format: an integer, a numeric, or a float of double
/// (`real: false`) or single precision.
pub enum Number {
    Int(i64),
    Numeric(Decimal),
    Float { value: f64, real: bool },
}

/// `to_char(number, template)`.
pub fn to_char_number(n: Number, template: &str) -> Result<String, EvalError> {
    let mut t = parse(template)?;
    let digits = match n {
        Number::Int(v) => integer_digits(&t, v),
        Number::Numeric(v) => numeric_digits(&t, v),
        Number::Float { value, real } => float_digits(&t, value, if real { 6 } else { 15 }),
    };
    Ok(layout(&mut t, digits))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(v: &str, f: &str) -> String {
        to_char_number(Number::Numeric(Decimal::from_str_exact(v).unwrap()), f).unwrap()
    }
    fn int(v: i64, f: &str) -> String {
        to_char_number(Number::Int(v), f).unwrap()
    }
    fn float(v: f64, f: &str) -> String {
        to_char_number(Number::Float { value: v, real: false }, f).unwrap()
    }

    #[test]
    fn formats_like_postgres() {
        // Each expected value is PostgreSQL 15's answer.
        assert_eq!(num("1234.5", "9999.99"), " 1234.50");
        assert_eq!(num("-1234.5", "9,999.99"), "-1,234.50");
        assert_eq!(num("0.5", "0.00"), " 0.50");
        assert_eq!(num("0.5", "9.99"), "  .50");
        assert_eq!(int(12, "999"), "  12");
        assert_eq!(int(12, "FM999"), "12");
        assert_eq!(int(-12, "S999"), " -12");
        assert_eq!(int(12, "S999"), " +12");
        assert_eq!(int(-12, "999MI"), " 12-");
        assert_eq!(int(12, "999MI"), " 12 ");
        assert_eq!(int(-12, "999PR"), " <12>");
        assert_eq!(int(12, "999PR"), "  12 ");
        assert_eq!(int(123456, "999"), " ###");
        assert_eq!(float(1.5, "9D99"), " 1.50");
        assert_eq!(num("1234567.891", "9G999G999D99"), " 1,234,567.89");
        assert_eq!(num("1234.5", "FM9999.99"), "1234.5");
        assert_eq!(num("1234.5", "FM9999.00"), "1234.50");
        assert_eq!(int(0, "9999"), "    0");
        assert_eq!(int(0, "FM9999"), "0");
        assert_eq!(num("0.1", "FM9.99"), ".1");
        assert_eq!(num("-0.1", "9.99"), " -.10");
        assert_eq!(num("12.345", "99.9"), " 12.3");
        assert_eq!(float(12.355, "99.99"), " 12.36");
        assert_eq!(int(-5, "FM999MI"), "5-");
        assert_eq!(int(-5, "FMS999"), "-5");
        assert_eq!(int(5, "FMS999"), "+5");
        assert_eq!(int(-5, "FM999PR"), "<5>");
        assert_eq!(int(5, "FM999PR"), "5");
        assert_eq!(num("2.5", "9"), " 3");
        assert_eq!(num("-2.5", "9"), "-3");
        assert_eq!(float(3.5, "9"), " 4");
        assert_eq!(float(2.5, "9"), " 2");
        assert_eq!(int(5, "99999"), "     5");
        assert_eq!(int(-5, "00000"), "-00005");
        assert_eq!(int(5, "00000"), " 00005");
        assert_eq!(int(1234, "9,999"), " 1,234");
        assert_eq!(int(123, "9,999"), "   123");
        assert_eq!(int(123, "0,000"), " 0,123");
        assert_eq!(int(-123, "9,999"), "  -123");
        assert_eq!(num("-0.001", "9.99"), "  .00");
        assert_eq!(float(-0.001, "9.99"), " -.00");
        assert_eq!(float(f64::INFINITY, "999"), " ###");
        assert_eq!(float(f64::NAN, "9.99"), " #.##");
        assert_eq!(float(f64::NEG_INFINITY, "9999.9"), "-####.#");
        assert_eq!(float(0.125, "9.99"), "  .12");
        assert_eq!(to_char_number(Number::Float { value: 1.5, real: true }, "9.9999999").unwrap(), " 1.50000");
        assert_eq!(float(123456789.123, "999999999.9999999"), " 123456789.123000");
        assert_eq!(to_char_number(Number::Float { value: 1e6, real: true }, "99.9").unwrap(), " ##.");
        assert_eq!(int(12, ""), "");
        assert_eq!(int(123, "9 9 9"), " 1 2 3");
        assert_eq!(int(-123, "9 9 9"), "-1 2 3");
        assert_eq!(int(5, "\"x\"999\"y\""), "x   5y");
        assert_eq!(num("-1.5", "FM990.00"), "-1.50");
        assert_eq!(int(0, "FM990.00"), "0.00");
        assert_eq!(num("0.0", "FM9.99"), "0.");
        assert_eq!(int(0, "FM0.99"), "0.");
        assert_eq!(int(100, "FM9,999"), "100");
        assert_eq!(num("0.123", "FM.999"), ".###");
        assert_eq!(num("-0.5", "FMS.99"), ".##-");
    }

    #[test]
    fn refuses_what_it_does_not_do() {
        for f in ["9.99EEEE", "RN", "99V9", "L999", "999th", "SG999", "PL999", "B999"] {
            assert_eq!(to_char_number(Number::Int(1), f).unwrap_err().code, "0A000", "{}", f);
        }
        assert_eq!(to_char_number(Number::Int(1), "9.9.9").unwrap_err().code, "42601");
        assert_eq!(to_char_number(Number::Int(1), "S9S").unwrap_err().code, "42601");
        assert_eq!(to_char_number(Number::Int(1), "PR9").unwrap_err().code, "42601");
        assert_eq!(to_char_number(Number::Int(1), "S9MI").unwrap_err().code, "42601");
    }
}
