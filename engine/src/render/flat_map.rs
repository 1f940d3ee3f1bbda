//! [`crate::plan::Plan::FlatMap`]: a table function called per row.
//!
//! Linear, so incremental for free: a row's insertion (or deletion) inserts
//! (or deletes) every row its call returns, with the same multiplicity;
//! nothing is kept between updates. An error of a call (jsonb of the wrong
//! kind, an argument that fails to evaluate) is one error of the view,
//! and the row contributes no output.

use crate::expr::{EvalError, ScalarExpr, TableFunc};
use crate::repr::{Datum, Row};

/// The output rows for input `row`.
pub fn call(row: Row, func: TableFunc, args: &[ScalarExpr], ordinality: bool, outer: bool) -> Vec<Result<Row, EvalError>> {
    let values = match args.iter().map(|a| a.eval(&row)).collect::<Result<Vec<Datum>, _>>() {
        Ok(v) => v,
        Err(e) => return vec![Err(e)],
    };
    let returned = match func.eval(&values) {
        Ok(r) => r,
        Err(e) => return vec![Err(e)],
    };
    if returned.is_empty() && outer {
        let nulls = func.columns().len() + usize::from(ordinality);
        return vec![Ok(row.into_iter().chain(std::iter::repeat_n(Datum::Null, nulls)).collect())];
    }
    let n = returned.len();
    let mut out = Vec::with_capacity(n);
    let mut row = Some(row);
    for (i, r) in returned.into_iter().enumerate() {
        // The last output takes the input row instead of a copy.
        let mut full = if i + 1 == n { row.take().unwrap() } else { row.clone().unwrap() };
        full.extend(r);
        if ordinality {
            full.push(Datum::Int(i as i64 + 1));
        }
        out.push(Ok(full));
    }
    out
}
