//! The scalar expression tree and its evaluator.

use super::{BinaryFunc, EvalError, UnaryFunc, VariadicFunc};
use crate::repr::{Datum, ScalarType};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::fmt;

/// An expression over the columns of one input row.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ScalarExpr {
    /// The input row's column at this index.
    Column(usize),
    Literal(Datum, ScalarType),
    CallUnary { func: UnaryFunc, expr: Box<ScalarExpr> },
    CallBinary { func: BinaryFunc, a: Box<ScalarExpr>, b: Box<ScalarExpr> },
    CallVariadic { func: VariadicFunc, exprs: Vec<ScalarExpr> },
    /// `CASE WHEN cond THEN then ELSE els END`: only the taken branch is
    /// evaluated, so `CASE WHEN x <> 0 THEN 1 / x END` never divides by zero.
    If { cond: Box<ScalarExpr>, then: Box<ScalarExpr>, els: Box<ScalarExpr> },
}

impl ScalarExpr {
    pub fn null() -> Self {
        ScalarExpr::Literal(Datum::Null, ScalarType::Text)
    }
    pub fn literal_true() -> Self {
        ScalarExpr::Literal(Datum::Bool(true), ScalarType::Bool)
    }
    pub fn call_unary(self, func: UnaryFunc) -> Self {
        ScalarExpr::CallUnary { func, expr: Box::new(self) }
    }
    pub fn call_binary(self, func: BinaryFunc, other: ScalarExpr) -> Self {
        ScalarExpr::CallBinary { func, a: Box::new(self), b: Box::new(other) }
    }

    /// Evaluates the expression over `row`.
    pub fn eval(&self, row: &[Datum]) -> Result<Datum, EvalError> {
        match self {
            ScalarExpr::Column(i) => Ok(row[*i].clone()),
            ScalarExpr::Literal(d, _) => Ok(d.clone()),
            ScalarExpr::CallUnary { func, expr } => func.eval(expr.eval(row)?),
            ScalarExpr::CallBinary { func, a, b } => {
                let a = a.eval(row)?;
                if a.is_null() && func.is_strict() {
                    return Ok(Datum::Null);
                }
                func.eval(a, b.eval(row)?)
            }
            ScalarExpr::CallVariadic { func, exprs } => func.eval(exprs, row),
            ScalarExpr::If { cond, then, els } => match cond.eval(row)? {
                Datum::Bool(true) => then.eval(row),
                _ => els.eval(row),
            },
        }
    }

    /// Evaluates a predicate: true keeps the row, false and NULL drop it.
    pub fn eval_predicate(&self, row: &[Datum]) -> Result<bool, EvalError> {
        Ok(matches!(self.eval(row)?, Datum::Bool(true)))
    }

    /// Rewrites column references through `f`.
    pub fn permute(&mut self, f: &impl Fn(usize) -> usize) {
        self.visit_mut(&mut |e| {
            if let ScalarExpr::Column(i) = e {
                *i = f(*i);
            }
        });
    }

    fn visit_mut(&mut self, f: &mut impl FnMut(&mut ScalarExpr)) {
        f(self);
        match self {
            ScalarExpr::Column(_) | ScalarExpr::Literal(..) => {}
            ScalarExpr::CallUnary { expr, .. } => expr.visit_mut(f),
            ScalarExpr::CallBinary { a, b, .. } => {
                a.visit_mut(f);
                b.visit_mut(f);
            }
            ScalarExpr::CallVariadic { exprs, .. } => exprs.iter_mut().for_each(|e| e.visit_mut(f)),
            ScalarExpr::If { cond, then, els } => {
                cond.visit_mut(f);
                then.visit_mut(f);
                els.visit_mut(f);
            }
        }
    }

    /// Whether the expression gives a new value at every evaluation
    /// (`gen_random_uuid()`).
    pub fn is_volatile(&self) -> bool {
        let mut volatile = false;
        self.clone().visit_mut(&mut |e| volatile |= matches!(e, ScalarExpr::CallVariadic { func: super::VariadicFunc::GenRandomUuid, .. }));
        volatile
    }

    /// Whether evaluating the expression may raise an [`EvalError`]:
    /// false only for column references, literals and a list of functions
    /// that answer every input (comparisons, boolean logic, NULL tests,
    /// `coalesce`, `IN`, `CASE`). Operators whose expressions cannot fail
    /// need no error output, and a view none of whose operators can fail
    /// keeps no error arrangement (see `render`). Unlisted functions count
    /// as fallible, so a wrong answer here is only ever a missed saving.
    pub fn can_fail(&self) -> bool {
        use super::{BinaryFunc as B, UnaryFunc as U, VariadicFunc as V};
        match self {
            ScalarExpr::Column(_) | ScalarExpr::Literal(..) => false,
            ScalarExpr::CallUnary { func, expr } => !matches!(func, U::Not | U::IsNull | U::IsNotNull | U::IsTrue | U::IsFalse | U::IsNotTrue | U::IsNotFalse | U::Upper | U::Lower | U::CharLength | U::OctetLength) || expr.can_fail(),
            ScalarExpr::CallBinary { func, a, b } => !matches!(func, B::Eq | B::NotEq | B::Lt | B::Lte | B::Gt | B::Gte | B::IsDistinctFrom | B::IsNotDistinctFrom | B::NullIf) || a.can_fail() || b.can_fail(),
            ScalarExpr::CallVariadic { func, exprs } => !matches!(func, V::And | V::Or | V::Coalesce | V::InList { .. }) || exprs.iter().any(ScalarExpr::can_fail),
            ScalarExpr::If { cond, then, els } => cond.can_fail() || then.can_fail() || els.can_fail(),
        }
    }

    /// The columns the expression reads.
    pub fn support(&self) -> Vec<usize> {
        let mut cols = Vec::new();
        self.clone().visit_mut(&mut |e| {
            if let ScalarExpr::Column(i) = e {
                cols.push(*i)
            }
        });
        cols.sort();
        cols.dedup();
        cols
    }
}

impl fmt::Display for ScalarExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScalarExpr::Column(i) => write!(f, "#{}", i),
            ScalarExpr::Literal(Datum::Null, _) => write!(f, "null"),
            ScalarExpr::Literal(d, ty) => match crate::repr::format_datum(d, *ty) {
                Some(s) if *ty == ScalarType::Text => write!(f, "{:?}", s),
                Some(s) => write!(f, "{}", s),
                None => write!(f, "null"),
            },
            ScalarExpr::CallUnary { func, expr } => write!(f, "{:?}({})", func, expr),
            ScalarExpr::CallBinary { func, a, b } => write!(f, "({} {:?} {})", a, func, b),
            ScalarExpr::CallVariadic { func, exprs } => {
                write!(f, "{:?}(", func)?;
                for (i, e) in exprs.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{}", e)?;
                }
                write!(f, ")")
            }
            ScalarExpr::If { cond, then, els } => write!(f, "if {} then {} else {}", cond, then, els),
        }
    }
}

/// One key of an ORDER BY.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SortKey {
    pub expr: ScalarExpr,
    pub desc: bool,
    pub nulls_first: bool,
}

impl SortKey {
    /// Compares two already-evaluated key values as this key orders them.
    pub fn compare(&self, a: &Datum, b: &Datum) -> Ordering {
        let ord = match (a.is_null(), b.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => return if self.nulls_first { Ordering::Less } else { Ordering::Greater },
            (false, true) => return if self.nulls_first { Ordering::Greater } else { Ordering::Less },
            _ => match (a, b) {
                (Datum::Jsonb(x), Datum::Jsonb(y)) => crate::expr::json_order::sort_order(x, y),
                _ => a.cmp(b),
            },
        };
        if self.desc {
            ord.reverse()
        } else {
            ord
        }
    }

    /// Compares rows by a list of keys, evaluating each key; an evaluation
    /// error sorts as NULL (the error itself is reported by the map that
    /// computed the row).
    pub fn compare_rows(keys: &[SortKey], a: &[Datum], b: &[Datum]) -> Ordering {
        for k in keys {
            let x = k.expr.eval(a).unwrap_or(Datum::Null);
            let y = k.expr.eval(b).unwrap_or(Datum::Null);
            let o = k.compare(&x, &y);
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    }
}
