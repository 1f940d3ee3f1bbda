//! A from-scratch reference evaluator of the plan IR.
//!
//! Deliberately naive: collections are `BTreeMap<Row, Diff>`, joins are
//! nested loops, groups are gathered into vectors of rows with every
//! multiplicity expanded, and orders are computed by sorting. It reuses the
//! engine's scalar evaluation (`ScalarExpr::eval`, `AggregateExpr::eval`) but
//! nothing of the renderer, and computes window functions itself.

use eddy_engine::expr::{EvalError, ScalarExpr, SortKey, WindowExpr, WindowFrame, WindowFunc};
use eddy_engine::plan::Plan;
use eddy_engine::{Datum, Diff, GlobalId, Row};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A multiset of rows; no entry has multiplicity zero.
pub type Multiset = BTreeMap<Row, Diff>;

pub fn update(m: &mut Multiset, row: Row, diff: Diff) {
    if diff == 0 {
        return;
    }
    let e = m.entry(row.clone()).or_insert(0);
    *e += diff;
    if *e == 0 {
        m.remove(&row);
    }
}

/// Every row of `m` repeated by its multiplicity (which must be positive).
fn expand(m: &Multiset) -> Vec<Row> {
    let mut out = Vec::new();
    for (r, d) in m {
        assert!(*d > 0, "reference: negative multiplicity {} for {:?} fed to a grouping operator", d, r);
        for _ in 0..*d {
            out.push(r.clone());
        }
    }
    out
}

/// Evaluates `exprs` over `row` one after another; a NULL (with `!null_eq`)
/// drops the row, an error is recorded and drops it.
fn key_of(exprs: &[ScalarExpr], row: &Row, null_eq: bool, errs: &mut BTreeSet<EvalError>) -> Option<Row> {
    let mut k = Vec::new();
    for e in exprs {
        match e.eval(row) {
            Ok(Datum::Null) if !null_eq => return None,
            Ok(v) => k.push(v),
            Err(e) => {
                errs.insert(e);
                return None;
            }
        }
    }
    Some(k)
}

/// Orders two rows by ORDER BY keys, written out without `SortKey::compare`.
fn cmp_by(keys: &[SortKey], a: &Row, b: &Row) -> Ordering {
    for k in keys {
        let x = k.expr.eval(a).unwrap_or(Datum::Null);
        let y = k.expr.eval(b).unwrap_or(Datum::Null);
        let o = match (&x, &y) {
            (Datum::Null, Datum::Null) => Ordering::Equal,
            // NULLS FIRST puts NULL before every value whichever the direction.
            (Datum::Null, _) => if k.nulls_first { Ordering::Less } else { Ordering::Greater },
            (_, Datum::Null) => if k.nulls_first { Ordering::Greater } else { Ordering::Less },
            _ => if k.desc { y.cmp(&x) } else { x.cmp(&y) },
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// Sorts by the keys, ties broken by the whole row (the engine's documented
/// choice, which makes ROW_NUMBER and TopK deterministic).
fn sort_rows(rows: &mut [Row], keys: &[SortKey]) {
    rows.sort_by(|a, b| cmp_by(keys, a, b).then_with(|| a.cmp(b)));
}

/// The contents of `plan` over `tables`, recomputed from scratch; evaluation
/// errors go to `errs`.
pub fn reference(plan: &Plan, tables: &HashMap<GlobalId, Multiset>, errs: &mut BTreeSet<EvalError>) -> Multiset {
    let mut out = Multiset::new();
    match plan {
        Plan::Constant { rows, .. } => {
            for (r, d) in rows {
                update(&mut out, r.clone(), *d);
            }
        }
        Plan::Get { id, .. } => out = tables.get(id).cloned().unwrap_or_default(),
        Plan::Map { input, exprs } => {
            'rows: for (row, d) in reference(input, tables, errs) {
                let mut row = row;
                for e in exprs {
                    match e.eval(&row) {
                        Ok(v) => row.push(v),
                        Err(e) => {
                            errs.insert(e);
                            continue 'rows;
                        }
                    }
                }
                update(&mut out, row, d);
            }
        }
        Plan::FlatMap { input, func, args, ordinality, outer } => {
            'rows: for (row, d) in reference(input, tables, errs) {
                let mut values = Vec::new();
                for a in args {
                    match a.eval(&row) {
                        Ok(v) => values.push(v),
                        Err(e) => {
                            errs.insert(e);
                            continue 'rows;
                        }
                    }
                }
                let returned = match func.eval(&values) {
                    Ok(r) => r,
                    Err(e) => {
                        errs.insert(e);
                        continue 'rows;
                    }
                };
                if returned.is_empty() && *outer {
                    let mut padded = row.clone();
                    padded.resize(row.len() + func.columns().len() + usize::from(*ordinality), Datum::Null);
                    update(&mut out, padded, d);
                }
                for (i, r) in returned.into_iter().enumerate() {
                    let mut full = row.clone();
                    full.extend(r);
                    if *ordinality {
                        full.push(Datum::Int(i as i64 + 1));
                    }
                    update(&mut out, full, d);
                }
            }
        }
        Plan::Filter { input, predicates } => {
            'rows: for (row, d) in reference(input, tables, errs) {
                for p in predicates {
                    match p.eval(&row) {
                        Ok(Datum::Bool(true)) => {}
                        Ok(_) => continue 'rows,
                        Err(e) => {
                            errs.insert(e);
                            continue 'rows;
                        }
                    }
                }
                update(&mut out, row, d);
            }
        }
        Plan::Project { input, columns } => {
            for (row, d) in reference(input, tables, errs) {
                update(&mut out, columns.iter().map(|c| row[*c].clone()).collect(), d);
            }
        }
        Plan::Join { left, right, left_key, right_key, null_eq } => {
            let l: Vec<(Row, Row, Diff)> = reference(left, tables, errs).into_iter().filter_map(|(r, d)| key_of(left_key, &r, *null_eq, errs).map(|k| (k, r, d))).collect();
            let r: Vec<(Row, Row, Diff)> = reference(right, tables, errs).into_iter().filter_map(|(r, d)| key_of(right_key, &r, *null_eq, errs).map(|k| (k, r, d))).collect();
            for (lk, lr, ld) in &l {
                for (rk, rr, rd) in &r {
                    if lk == rk {
                        let mut row = lr.clone();
                        row.extend(rr.iter().cloned());
                        update(&mut out, row, ld * rd);
                    }
                }
            }
        }
        Plan::AntiJoin { left, right, left_key, right_key, null_eq } => {
            let keys: BTreeSet<Row> = reference(right, tables, errs).into_iter().filter(|(_, d)| *d != 0).filter_map(|(r, _)| key_of(right_key, &r, *null_eq, errs)).collect();
            // A row whose key is NULL (without null_eq) or fails to
            // evaluate matches nothing, so it stays.
            for (row, d) in reference(left, tables, errs) {
                if !key_of(left_key, &row, *null_eq, errs).is_some_and(|k| keys.contains(&k)) {
                    update(&mut out, row, d);
                }
            }
        }
        Plan::LeftJoin { left, left_key, rights, null_eq } => {
            // The left key is evaluated once per left row. A row whose key is
            // NULL (without null_eq) or fails to evaluate matches nothing:
            // NULLs for every side. Each side joins in turn: the rows so far
            // with every matching row of the side, or its NULLs.
            let mut rows: Vec<(Option<Row>, Row, Diff)> = reference(left, tables, errs).into_iter().map(|(row, d)| (key_of(left_key, &row, *null_eq, errs), row, d)).collect();
            for side in rights {
                let nulls = vec![Datum::Null; side.plan.arity()];
                let r: Vec<(Row, Row, Diff)> = reference(&side.plan, tables, errs).into_iter().filter(|(_, d)| *d != 0).filter_map(|(r, d)| key_of(&side.key, &r, *null_eq, errs).map(|k| (k, r, d))).collect();
                let mut next = Vec::new();
                for (key, row, d) in rows {
                    let matches: Vec<&(Row, Row, Diff)> = r.iter().filter(|(k, _, _)| Some(k) == key.as_ref()).collect();
                    if matches.is_empty() {
                        let mut padded = row.clone();
                        padded.extend(nulls.iter().cloned());
                        next.push((key.clone(), padded, d));
                    }
                    for (_, rr, rd) in matches {
                        let mut joined = row.clone();
                        joined.extend(rr.iter().cloned());
                        next.push((key.clone(), joined, d * rd));
                    }
                }
                rows = next;
            }
            for (_, row, d) in rows {
                update(&mut out, row, d);
            }
        }
        Plan::Reduce { input, group_key, aggregates } => {
            let mut groups: BTreeMap<Row, Multiset> = BTreeMap::new();
            for (row, d) in reference(input, tables, errs) {
                if let Some(k) = key_of(group_key, &row, true, errs) {
                    update(groups.entry(k).or_default(), row, d);
                }
            }
            'groups: for (key, rows) in groups {
                // One row per copy, in row order.
                let rows = expand(&rows);
                let mut result = key;
                for a in aggregates {
                    match a.eval(rows.iter().map(|r| (r.as_slice(), 1))) {
                        Ok(v) => result.push(v),
                        Err(e) => {
                            errs.insert(e);
                            continue 'groups;
                        }
                    }
                }
                update(&mut out, result, 1);
            }
        }
        Plan::Distinct { input } => {
            for (row, d) in reference(input, tables, errs) {
                assert!(d > 0, "reference: Distinct over a negative multiplicity");
                update(&mut out, row, 1);
            }
        }
        Plan::Union { inputs } => {
            for i in inputs {
                for (row, d) in reference(i, tables, errs) {
                    update(&mut out, row, d);
                }
            }
        }
        Plan::Negate { input } => {
            for (row, d) in reference(input, tables, errs) {
                update(&mut out, row, -d);
            }
        }
        Plan::Threshold { input } => {
            for (row, d) in reference(input, tables, errs) {
                if d > 0 {
                    update(&mut out, row, d);
                }
            }
        }
        Plan::TopK { input, group_key, order_by, limit, offset } => {
            let mut groups: BTreeMap<Row, Multiset> = BTreeMap::new();
            for (row, d) in reference(input, tables, errs) {
                let k: Row = group_key.iter().map(|c| row[*c].clone()).collect();
                update(groups.entry(k).or_default(), row, d);
            }
            for rows in groups.values() {
                let mut rows = expand(rows);
                sort_rows(&mut rows, order_by);
                for row in rows.into_iter().skip(*offset).take(limit.unwrap_or(usize::MAX)) {
                    update(&mut out, row, 1);
                }
            }
        }
        Plan::Let { .. } => {
            for (row, d) in reference(&plan.inline_lets(), tables, errs) {
                update(&mut out, row, d);
            }
        }
        Plan::LocalGet { id, .. } => panic!("reference: no binding for l{}", id),
        Plan::Window { input, partition_by, order_by, exprs } => {
            let mut parts: BTreeMap<Row, Multiset> = BTreeMap::new();
            for (row, d) in reference(input, tables, errs) {
                if let Some(k) = key_of(partition_by, &row, true, errs) {
                    update(parts.entry(k).or_default(), row, d);
                }
            }
            'parts: for rows in parts.values() {
                let mut rows = expand(rows);
                sort_rows(&mut rows, order_by);
                let mut cols = Vec::new();
                for e in exprs {
                    match window_column(e, &rows, order_by) {
                        Ok(c) => cols.push(c),
                        Err(e) => {
                            errs.insert(e);
                            continue 'parts;
                        }
                    }
                }
                for (i, row) in rows.iter().enumerate() {
                    let mut row = row.clone();
                    row.extend(cols.iter().map(|c: &Vec<Datum>| c[i].clone()));
                    update(&mut out, row, 1);
                }
            }
        }
    }
    out
}

/// One window function over a sorted partition, computed naively: ranks by
/// counting, frames by scanning every row.
fn window_column(e: &WindowExpr, rows: &[Row], order_by: &[SortKey]) -> Result<Vec<Datum>, EvalError> {
    let n = rows.len();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let v = match &e.func {
            WindowFunc::RowNumber => Datum::Int(i as i64 + 1),
            WindowFunc::Rank => Datum::Int(1 + (0..n).filter(|&j| cmp_by(order_by, &rows[j], &rows[i]) == Ordering::Less).count() as i64),
            WindowFunc::DenseRank => {
                let mut smaller: Vec<&Row> = (0..n).filter(|&j| cmp_by(order_by, &rows[j], &rows[i]) == Ordering::Less).map(|j| &rows[j]).collect();
                smaller.dedup_by(|a, b| cmp_by(order_by, a, b) == Ordering::Equal);
                Datum::Int(1 + smaller.len() as i64)
            }
            WindowFunc::Lag | WindowFunc::Lead => {
                let offset = match e.args.get(1) {
                    None => Some(1),
                    Some(x) => match x.eval(&rows[i])? {
                        Datum::Int(k) => Some(k),
                        Datum::Null => None,
                        other => panic!("reference: lag offset {:?}", other),
                    },
                };
                match offset {
                    None => Datum::Null,
                    Some(k) => {
                        let j = if e.func == WindowFunc::Lag { i as i64 - k } else { i as i64 + k };
                        if (0..n as i64).contains(&j) {
                            e.args[0].eval(&rows[j as usize])?
                        } else {
                            match e.args.get(2) {
                                Some(d) => d.eval(&rows[i])?,
                                None => Datum::Null,
                            }
                        }
                    }
                }
            }
            WindowFunc::Ntile => match e.args[0].eval(&rows[i])? {
                // Deal the rows out one bucket at a time, larger buckets first.
                Datum::Int(k) => {
                    let k = k as usize;
                    let mut bucket_of = Vec::new();
                    for b in 0..k {
                        let size = n / k + usize::from(b < n % k);
                        bucket_of.extend(std::iter::repeat_n(b as i64 + 1, size));
                    }
                    Datum::Int(bucket_of[i])
                }
                _ => Datum::Null,
            },
            WindowFunc::PercentRank => {
                let smaller = (0..n).filter(|&j| cmp_by(order_by, &rows[j], &rows[i]) == Ordering::Less).count();
                Datum::float(if n > 1 { smaller as f64 / (n - 1) as f64 } else { 0.0 })
            }
            WindowFunc::CumeDist => Datum::float((0..n).filter(|&j| cmp_by(order_by, &rows[j], &rows[i]) != Ordering::Greater).count() as f64 / n as f64),
            WindowFunc::FirstValue | WindowFunc::LastValue | WindowFunc::NthValue | WindowFunc::Aggregate(_) => {
                let frame: Vec<usize> = (0..n)
                    .filter(|&j| match &e.frame {
                        WindowFrame::Partition => true,
                        WindowFrame::Range(r) => in_range_frame(r, &order_by[0], &rows[i], &rows[j]),
                        WindowFrame::RangeToCurrent => cmp_by(order_by, &rows[j], &rows[i]) != Ordering::Greater,
                        WindowFrame::Rows { start, end } => {
                            let (start, end) = (*start, *end);
                            let d = j as i64 - i as i64;
                            start.is_none_or(|s| d >= s) && end.is_none_or(|en| d <= en)
                        }
                    })
                    .collect();
                match &e.func {
                    WindowFunc::FirstValue => match frame.first() {
                        Some(&j) => e.args[0].eval(&rows[j])?,
                        None => Datum::Null,
                    },
                    WindowFunc::LastValue => match frame.last() {
                        Some(&j) => e.args[0].eval(&rows[j])?,
                        None => Datum::Null,
                    },
                    WindowFunc::NthValue => match e.args[1].eval(&rows[i])? {
                        Datum::Int(k) => match frame.get(k as usize - 1) {
                            Some(&j) => e.args[0].eval(&rows[j])?,
                            None => Datum::Null,
                        },
                        _ => Datum::Null,
                    },
                    WindowFunc::Aggregate(a) => a.eval(frame.iter().map(|&j| (rows[j].as_slice(), 1)))?,
                    _ => unreachable!(),
                }
            }
        };
        out.push(v);
    }
    Ok(out)
}

/// Whether `row` is in `current`'s RANGE frame, by the definition: its
/// key lies between the current key shifted by each offset (in the sort's
/// direction), or it is a NULL-keyed peer of a NULL-keyed current row.
fn in_range_frame(r: &eddy_engine::expr::RangeFrame, order: &eddy_engine::expr::SortKey, current: &[Datum], row: &[Datum]) -> bool {
    use eddy_engine::expr::BinaryFunc;
    let (k, x) = (order.expr.eval(current).unwrap(), order.expr.eval(row).unwrap());
    if k.is_null() || x.is_null() {
        let (kn, xn) = (k.is_null(), x.is_null());
        // Where a NULL sorts relative to values.
        let x_before = if xn == kn { false } else { xn == order.nulls_first };
        let x_after = if xn == kn { false } else { !x_before };
        return (kn && xn) || (r.start.is_none() && x_before) || (r.end.is_none() && x_after);
    }
    let bound = |b: &Option<eddy_engine::expr::RangeOffset>, is_start: bool| -> bool {
        let Some(b) = b else { return true };
        let target = match &b.offset {
            None => k.clone(),
            Some(off) => {
                let up = b.following != order.desc;
                let f = if up { BinaryFunc::Add(r.key_type) } else { BinaryFunc::Sub(r.key_type) };
                f.eval(k.clone(), off.clone()).unwrap()
            }
        };
        let ord = x.partial_cmp(&target).unwrap();
        let ord = if order.desc { ord.reverse() } else { ord };
        if is_start { ord != Ordering::Less } else { ord != Ordering::Greater }
    };
    bound(&r.start, true) && bound(&r.end, false)
}
