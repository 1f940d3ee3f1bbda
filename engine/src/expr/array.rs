//! Array functions and operators, with PostgreSQL's semantics for
//! one-dimensional arrays (lower bound 1).
//!
//! NULL handling differs per function, as in PostgreSQL: building an array
//! keeps NULL elements; `array_append` and friends accept a NULL array as
//! empty; most others are strict. `x op ANY (array)` is true when some
//! element compares true, NULL when none does but an element (or `x`) is
//! NULL, else false; `ALL` is the dual.

use super::func::compare;
use super::{BinaryFunc, EvalError};
use crate::repr::{format_datum, Datum, ElementType};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ArrayFunc {
    /// `ARRAY[a, b, ...]`.
    Make,
    /// `a[i]`: NULL when `i` is out of range.
    Element,
    /// `a[lo:hi]`: the elements from `lo` to `hi`, clamped to the array.
    Slice,
    /// `x op ANY (a)` (or `ALL` with `all`).
    Compare { op: BinaryFunc, all: bool },
    /// `array_length(a, dim)`, `array_upper(a, dim)`: NULL for an empty
    /// array or a dimension other than 1.
    Length,
    Upper,
    /// `array_lower(a, dim)`: 1.
    Lower,
    /// `cardinality(a)`: the number of elements.
    Cardinality,
    /// `array_to_string(a, sep [, null_text])`: NULL elements are skipped
    /// unless `null_text` is given.
    ToString(ElementType),
    /// `string_to_array(s, sep [, null_text])`.
    FromString,
    /// `array_position(a, x)`: the first index holding `x` (IS NOT
    /// DISTINCT FROM), else NULL.
    Position,
    /// `array_append(a, x)`, `array_prepend(x, a)`, `array_cat(a, b)` and
    /// `||` of arrays.
    Append,
    Prepend,
    Cat,
    /// `array_remove(a, x)`: without the elements equal to `x`.
    Remove,
    /// `a @> b`, `a <@ b` (every element of one is in the other), `a && b`
    /// (some element in common). NULL elements match nothing.
    Contains,
    ContainedBy,
    Overlap,
    /// `regexp_match(text, pattern [, flags])`: the first match's groups
    /// (see `super::regex::matches`), NULL when nothing matches.
    RegexpMatch,
    /// `regexp_split_to_array(text, pattern [, flags])`.
    RegexpSplit,
}

fn int(d: &Datum) -> Option<i64> {
    match d {
        Datum::Int(i) => Some(*i),
        _ => None,
    }
}

fn items(d: &Datum) -> &[Datum] {
    match d {
        Datum::Array(items) => items,
        _ => &[],
    }
}

fn text(d: &Datum) -> &str {
    match d {
        Datum::Text(s) | Datum::Jsonb(s) => s,
        _ => "",
    }
}

/// Whether some non-null element of `items` equals `x`.
fn has(items: &[Datum], x: &Datum) -> bool {
    !x.is_null() && items.iter().any(|i| !i.is_null() && compare(i, x).is_eq())
}

impl ArrayFunc {
    pub fn eval(&self, mut args: Vec<Datum>) -> Result<Datum, EvalError> {
        use ArrayFunc::*;
        match self {
            Make => return Ok(Datum::Array(args)),
            Compare { op, all } => return compare_each(op, *all, &args[0], &args[1]),
            // A NULL array is an empty one here, as in PostgreSQL.
            Append => {
                let x = args.pop().unwrap_or(Datum::Null);
                let mut a = items(&args[0]).to_vec();
                a.push(x);
                return Ok(Datum::Array(a));
            }
            Prepend => {
                let mut a = vec![args[0].clone()];
                a.extend_from_slice(items(&args[1]));
                return Ok(Datum::Array(a));
            }
            Cat => {
                if args.iter().all(Datum::is_null) {
                    return Ok(Datum::Null);
                }
                return Ok(Datum::Array(args.iter().flat_map(|a| items(a).iter().cloned()).collect()));
            }
            Position => {
                if args[0].is_null() {
                    return Ok(Datum::Null);
                }
                let x = &args[1];
                let at = items(&args[0]).iter().position(|i| if x.is_null() { i.is_null() } else { !i.is_null() && compare(i, x).is_eq() });
                return Ok(at.map_or(Datum::Null, |i| Datum::Int(i as i64 + 1)));
            }
            Remove => {
                if args[0].is_null() {
                    return Ok(Datum::Null);
                }
                let x = &args[1];
                return Ok(Datum::Array(items(&args[0]).iter().filter(|i| if x.is_null() { !i.is_null() } else { i.is_null() || compare(i, x).is_ne() }).cloned().collect()));
            }
            ToString(elem) => {
                if args[0].is_null() || args[1].is_null() {
                    return Ok(Datum::Null);
                }
                let null_text = args.get(2).filter(|d| !d.is_null()).map(|d| text(d).to_string());
                let parts: Vec<String> = items(&args[0]).iter().filter_map(|i| format_datum(i, elem.scalar()).or_else(|| null_text.clone())).collect();
                return Ok(Datum::Text(parts.join(text(&args[1])).into()));
            }
            FromString => {
                if args[0].is_null() {
                    return Ok(Datum::Null);
                }
                let s = text(&args[0]);
                let null_text = args.get(2).filter(|d| !d.is_null()).map(text);
                let parts: Vec<&str> = match &args[1] {
                    _ if s.is_empty() => Vec::new(),
                    Datum::Null => s.char_indices().map(|(i, c)| &s[i..i + c.len_utf8()]).collect(),
                    sep if text(sep).is_empty() => vec![s],
                    sep => s.split(text(sep)).collect(),
                };
                return Ok(Datum::Array(parts.into_iter().map(|p| if Some(p) == null_text { Datum::Null } else { Datum::text(p) }).collect()));
            }
            _ => {}
        }
        if args.iter().any(Datum::is_null) {
            return Ok(Datum::Null);
        }
        let flags = args.get(2).map(text).unwrap_or("");
        match self {
            RegexpMatch => return Ok(super::regex::matches(text(&args[0]), text(&args[1]), flags, false)?.pop().map_or(Datum::Null, text_array)),
            RegexpSplit => return Ok(Datum::Array(super::regex::split(text(&args[0]), text(&args[1]), flags)?.into_iter().map(Datum::text).collect())),
            _ => {}
        }
        let a = items(&args[0]);
        let len = a.len() as i64;
        Ok(match self {
            Element => match int(&args[1]) {
                Some(i) if i >= 1 && i <= len => a[i as usize - 1].clone(),
                _ => Datum::Null,
            },
            Slice => {
                let lo = int(&args[1]).unwrap_or(1).max(1);
                let hi = int(&args[2]).unwrap_or(len).min(len);
                Datum::Array(if lo > hi { Vec::new() } else { a[lo as usize - 1..hi as usize].to_vec() })
            }
            Length | Upper if len == 0 || int(&args[1]) != Some(1) => Datum::Null,
            Length | Upper => Datum::Int(len),
            Lower if len == 0 || int(&args[1]) != Some(1) => Datum::Null,
            Lower => Datum::Int(1),
            Cardinality => Datum::Int(len),
            Contains => Datum::Bool(items(&args[1]).iter().all(|x| has(a, x))),
            ContainedBy => Datum::Bool(a.iter().all(|x| has(items(&args[1]), x))),
            Overlap => Datum::Bool(a.iter().any(|x| has(items(&args[1]), x))),
            Make | Compare { .. } | Append | Prepend | Cat | Position | Remove | ToString(_) | FromString | RegexpMatch | RegexpSplit => unreachable!("handled above"),
        })
    }
}

/// A text[] of texts, NULLs included.
pub(super) fn text_array(texts: Vec<Option<String>>) -> Datum {
    Datum::Array(texts.into_iter().map(|t| t.map_or(Datum::Null, Datum::text)).collect())
}

/// `x op ANY (a)`, or `ALL` with `all`.
fn compare_each(op: &BinaryFunc, all: bool, x: &Datum, a: &Datum) -> Result<Datum, EvalError> {
    if a.is_null() {
        return Ok(Datum::Null);
    }
    let mut null = false;
    for item in items(a) {
        match op.eval(x.clone(), item.clone())? {
            Datum::Bool(v) if v != all => return Ok(Datum::Bool(v)),
            Datum::Null => null = true,
            _ => {}
        }
    }
    Ok(if null { Datum::Null } else { Datum::Bool(all) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arr(v: &[i64]) -> Datum {
        Datum::Array(v.iter().map(|i| Datum::Int(*i)).collect())
    }

    #[test]
    fn any_and_all_follow_three_valued_logic() {
        let any = ArrayFunc::Compare { op: BinaryFunc::Eq, all: false };
        let all = ArrayFunc::Compare { op: BinaryFunc::Eq, all: true };
        assert_eq!(any.eval(vec![Datum::Int(2), arr(&[1, 2])]).unwrap(), Datum::Bool(true));
        assert_eq!(any.eval(vec![Datum::Int(3), arr(&[1, 2])]).unwrap(), Datum::Bool(false));
        assert_eq!(any.eval(vec![Datum::Int(3), Datum::Array(vec![Datum::Int(1), Datum::Null])]).unwrap(), Datum::Null);
        assert_eq!(any.eval(vec![Datum::Int(3), arr(&[])]).unwrap(), Datum::Bool(false));
        assert_eq!(all.eval(vec![Datum::Int(3), arr(&[])]).unwrap(), Datum::Bool(true));
        assert_eq!(all.eval(vec![Datum::Int(1), arr(&[1, 2])]).unwrap(), Datum::Bool(false));
    }

    #[test]
    fn strings_split_and_join() {
        let split = ArrayFunc::FromString.eval(vec![Datum::text("a,b,,c"), Datum::text(","), Datum::text("")]).unwrap();
        assert_eq!(split, Datum::Array(vec![Datum::text("a"), Datum::text("b"), Datum::Null, Datum::text("c")]));
        let joined = ArrayFunc::ToString(ElementType::Text).eval(vec![split, Datum::text("-"), Datum::text("*")]).unwrap();
        assert_eq!(joined, Datum::text("a-b-*-c"));
        let chars = ArrayFunc::FromString.eval(vec![Datum::text("ab"), Datum::Null]).unwrap();
        assert_eq!(chars, Datum::Array(vec![Datum::text("a"), Datum::text("b")]));
    }

    #[test]
    fn subscripts_and_slices_clamp() {
        assert_eq!(ArrayFunc::Element.eval(vec![arr(&[5, 6]), Datum::Int(2)]).unwrap(), Datum::Int(6));
        assert_eq!(ArrayFunc::Element.eval(vec![arr(&[5, 6]), Datum::Int(3)]).unwrap(), Datum::Null);
        assert_eq!(ArrayFunc::Slice.eval(vec![arr(&[5, 6, 7]), Datum::Int(0), Datum::Int(2)]).unwrap(), arr(&[5, 6]));
        assert_eq!(ArrayFunc::Length.eval(vec![arr(&[]), Datum::Int(1)]).unwrap(), Datum::Null);
        assert_eq!(ArrayFunc::Contains.eval(vec![arr(&[1, 2, 3]), arr(&[3, 1])]).unwrap(), Datum::Bool(true));
        assert_eq!(ArrayFunc::Overlap.eval(vec![arr(&[1, 2]), arr(&[4])]).unwrap(), Datum::Bool(false));
    }
}
