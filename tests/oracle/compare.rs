//! Comparing PostgreSQL's rows with eddy's (as multisets, or in order) and
//! describing the difference for the failure report.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::client::{Output, Row};

pub fn render_row(row: &Row) -> String {
    row.iter()
        .map(|v| match v {
            None => "NULL".to_string(),
            Some(s) if s.is_empty() => "(empty)".to_string(),
            Some(s) => s.clone(),
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

/// Describes the difference between PostgreSQL's rows (`expected`) and eddy's
/// (`actual`), or `None` when they agree.
pub fn compare(expected: &Output, actual: &Output, ordered: bool) -> Option<String> {
    const MAX: usize = 25;
    let mut out = String::new();
    if let (Some(e), Some(a)) = (expected.columns, actual.columns) {
        if e != a {
            let _ = writeln!(out, "column count differs: PostgreSQL {e}, eddy {a}");
        }
    }
    let mut exp = expected.rows.clone();
    let mut act = actual.rows.clone();
    if ordered && exp == act && out.is_empty() {
        return None;
    }
    exp.sort();
    act.sort();
    if exp == act {
        if out.is_empty() && !ordered {
            return None;
        }
        if ordered {
            let _ = writeln!(out, "same rows, different order");
            let _ = writeln!(out, "PostgreSQL (expected) order:");
            for r in expected.rows.iter().take(MAX) {
                let _ = writeln!(out, "    {}", render_row(r));
            }
            let _ = writeln!(out, "eddy order:");
            for r in actual.rows.iter().take(MAX) {
                let _ = writeln!(out, "    {}", render_row(r));
            }
        }
        return Some(out);
    }
    let mut counts: BTreeMap<&Row, i64> = BTreeMap::new();
    for r in &exp {
        *counts.entry(r).or_default() += 1;
    }
    for r in &act {
        *counts.entry(r).or_default() -= 1;
    }
    let _ = writeln!(
        out,
        "PostgreSQL: {} rows, eddy: {} rows",
        exp.len(),
        act.len()
    );
    let missing: Vec<(&Row, i64)> = counts
        .iter()
        .filter(|(_, c)| **c > 0)
        .map(|(r, c)| (*r, *c))
        .collect();
    let extra: Vec<(&Row, i64)> = counts
        .iter()
        .filter(|(_, c)| **c < 0)
        .map(|(r, c)| (*r, -*c))
        .collect();
    let times = |c: i64| {
        if c > 1 {
            format!("   (x{c})")
        } else {
            String::new()
        }
    };
    for (rows, heading, sign) in [(&missing, "missing in eddy (PostgreSQL has them):", '-'), (&extra, "unexpected in eddy (PostgreSQL does not have them):", '+')] {
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{}", heading);
        for (r, c) in rows.iter().take(MAX) {
            let _ = writeln!(out, "  {} {}{}", sign, render_row(r), times(*c));
        }
        if rows.len() > MAX {
            let _ = writeln!(out, "  ... {} more", rows.len() - MAX);
        }
    }
    if exp.len() <= MAX && act.len() <= MAX {
        let _ = writeln!(out, "PostgreSQL (expected):");
        for r in if ordered { &expected.rows } else { &exp } {
            let _ = writeln!(out, "    {}", render_row(r));
        }
        let _ = writeln!(out, "eddy (actual):");
        for r in if ordered { &actual.rows } else { &act } {
            let _ = writeln!(out, "    {}", render_row(r));
        }
    }
    Some(out)
}
