//! How complex one statement may be: checked while and right after it is
//! parsed, before anything else walks it.
//!
//! Everything after the parser walks a statement recursively, once per
//! level of nesting: our rewrites, DataFusion's planner, analyzer and
//! optimizer, the lowering into the engine's plan, the engine's rendering
//! and evaluation, and cloning and dropping every one of those trees. A
//! chain like `1 + 1 + ... + 1`, `a OR b OR ...`, `x::t::t...` or
//! `SELECT .. UNION SELECT ..` is built by a loop in sqlparser, so the
//! parser's recursion limit does not bound it, and a long one used to
//! overflow a thread's stack, which aborts the whole server. So:
//!
//! * the parser's recursion limit (nested parentheses, subqueries, ...) is
//!   [`MAX_PARSER_RECURSION`]: sqlparser's default, 50, refused 100 nested
//!   parentheses, which PostgreSQL takes;
//! * a statement may have at most [`MAX_OPERATORS`] infix operators (the
//!   dialect counts them as it parses) and set operations (counted in the
//!   tokens first), so that no tree sqlparser builds, even one it drops
//!   half-built on a syntax error, is deeper than the stack can drop;
//! * [`check_depth`] measures the parsed statement's nesting, visiting no
//!   deeper than [`MAX_DEPTH`]: expressions within expressions,
//!   subqueries, set operations, and the tables of each FROM clause (a
//!   level each of the join tree DataFusion builds). A deeper statement is
//!   refused with 54001 "stack depth limit exceeded", PostgreSQL's error
//!   when its own stack runs out (for `1 + 1 + ... + 1` of 10,000 terms).
//!
//! The threads that plan (tokio's) and evaluate (timely's) have stacks
//! sized for statements of [`MAX_DEPTH`] levels with a wide margin, even in
//! a debug build: see `THREAD_STACK_BYTES` in `src/main.rs`.

use crate::dialect::EddyDialect;
use crate::SqlError;
use sqlparser::ast::{Expr, Query, Select, SetExpr, Statement, TableFactor, Visit, Visitor};
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};
use std::ops::ControlFlow;

/// The deepest nesting a statement may have (see the module comment).
/// PostgreSQL takes a 1000-term `1 + ... + 1` and refuses one of 10,000.
/// The bound is set by time more than by stack: DataFusion's planner
/// takes time quadratic in the depth (it recomputes a subexpression's type
/// and name at every level above it), in a debug build 13 s for 1000
/// levels and a minute for 2000, so a much larger bound would let one
/// statement hold a planning thread for minutes.
pub const MAX_DEPTH: usize = 1500;

/// sqlparser's recursion limit: each nested parenthesis, subquery or
/// prefix operator uses a level or two.
pub const MAX_PARSER_RECURSION: usize = 1000;

/// The most infix operators, and separately set operations, one statement
/// may have: far more than [`MAX_DEPTH`], so that only a statement refused
/// anyway stops here, and few enough that a tree that deep can be dropped.
pub const MAX_OPERATORS: usize = 100_000;

/// The stack of every thread that parses, plans or evaluates statements:
/// tokio's workers, and timely's (through `RUST_MIN_STACK`, as timely
/// spawns them itself). Planning a statement [`MAX_DEPTH`] levels deep
/// takes about 33 MiB of it in a debug build (22 KiB a level, mostly in
/// DataFusion), evaluating it a few MiB. It is reserved address space: only
/// the pages a deep statement touches are ever backed by memory.
pub const THREAD_STACK_BYTES: usize = 256 << 20;

/// Parses SQL text into statements within the limits above; `syntax_error`
/// makes the error for text that does not parse.
pub fn parse_sql(sql: &str, syntax_error: impl Fn(&str) -> SqlError) -> Result<Vec<Statement>, SqlError> {
    let dialect = EddyDialect::default();
    let tokens = Tokenizer::new(&dialect, sql).with_unescape(true).tokenize_with_location().map_err(|e| syntax_error(&ParserError::from(e).to_string()))?;
    check_tokens(&tokens)?;
    let stmts = match Parser::new(&dialect).with_recursion_limit(MAX_PARSER_RECURSION).with_tokens_with_locations(tokens).parse_statements() {
        Ok(stmts) => stmts,
        Err(_) if dialect.too_many_operators() => return Err(too_deep(&format!("the statement has more than {} operators", MAX_OPERATORS))),
        Err(ParserError::RecursionLimitExceeded) => return Err(too_deep(&format!("parentheses, subqueries or prefix operators nest more than {} levels deep", MAX_PARSER_RECURSION))),
        Err(e) => return Err(syntax_error(&e.to_string())),
    };
    stmts.iter().try_for_each(check_depth)?;
    Ok(stmts)
}

/// The error for a statement too deep for eddy's stack.
pub fn too_deep(what: &str) -> SqlError {
    SqlError::new("54001", "stack depth limit exceeded").with_detail(what.to_string()).with_hint(format!(
        "eddy takes statements nested up to {} levels deep (each operator of a chain like a + b + c or a OR b OR c, each subquery and each UNION is a level): split the statement, or use IN (...) or a VALUES list instead of a long chain of comparisons",
        MAX_DEPTH
    ))
}

/// Refuses a statement whose text has more than [`MAX_OPERATORS`] set
/// operations (`UNION`, `EXCEPT`, `INTERSECT`): sqlparser chains them in
/// a loop, one level each.
pub fn check_tokens(tokens: &[TokenWithSpan]) -> Result<(), SqlError> {
    let set_ops = tokens.iter().filter(|t| matches!(&t.token, Token::Word(w) if matches!(w.keyword, Keyword::UNION | Keyword::EXCEPT | Keyword::INTERSECT))).count();
    if set_ops > MAX_OPERATORS {
        return Err(too_deep(&format!("the statement has {} set operations", set_ops)));
    }
    Ok(())
}

/// Refuses a statement nested more than [`MAX_DEPTH`] levels deep. The
/// walk stops at the first level beyond the limit, so it never recurses
/// deeper than that itself.
pub fn check_depth(stmt: &Statement) -> Result<(), SqlError> {
    let mut d = Depth { depth: 0 };
    match stmt.visit(&mut d) {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(what) => Err(too_deep(&what)),
    }
}

struct Depth {
    depth: usize,
}

impl Depth {
    fn enter(&mut self, levels: usize, what: &str) -> ControlFlow<String> {
        self.depth += levels;
        if self.depth > MAX_DEPTH {
            return ControlFlow::Break(format!("{} nests more than {} levels deep", what, MAX_DEPTH));
        }
        ControlFlow::Continue(())
    }
}

/// The longest chain of set operations in a query body, measured without
/// recursion (the chain is as long as the statement has UNIONs).
fn set_operation_depth(body: &SetExpr) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(body, 0)];
    while let Some((e, d)) = stack.pop() {
        deepest = deepest.max(d);
        if let SetExpr::SetOperation { left, right, .. } = e {
            stack.push((left, d + 1));
            stack.push((right, d + 1));
        }
    }
    deepest
}

/// The levels an expression adds: one, or for a CASE one per WHEN, as it
/// becomes a chain of if-then-else in the engine.
fn expr_levels(e: &Expr) -> usize {
    match e {
        Expr::Case { conditions, .. } => 1 + conditions.len(),
        _ => 1,
    }
}

impl Visitor for Depth {
    type Break = String;

    fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<String> {
        self.enter(expr_levels(e), "an expression")
    }
    fn post_visit_expr(&mut self, e: &Expr) -> ControlFlow<String> {
        self.depth -= expr_levels(e);
        ControlFlow::Continue(())
    }
    fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<String> {
        self.enter(1, "a subquery")?;
        // Checked before the visit goes down the chain.
        let chain = set_operation_depth(&q.body);
        if self.depth + chain > MAX_DEPTH {
            return ControlFlow::Break(format!("a chain of {} set operations (UNION, EXCEPT, INTERSECT) nests more than {} levels deep", chain, MAX_DEPTH));
        }
        ControlFlow::Continue(())
    }
    fn post_visit_query(&mut self, _: &Query) -> ControlFlow<String> {
        self.depth -= 1;
        ControlFlow::Continue(())
    }
    fn pre_visit_select(&mut self, s: &Select) -> ControlFlow<String> {
        // The FROM list and its joins become a join tree one level per table.
        let tables: usize = s.from.iter().map(|t| 1 + t.joins.len()).sum();
        if self.depth + tables > MAX_DEPTH {
            return ControlFlow::Break(format!("a FROM clause of {} tables nests more than {} levels deep", tables, MAX_DEPTH));
        }
        ControlFlow::Continue(())
    }
    fn pre_visit_table_factor(&mut self, _: &TableFactor) -> ControlFlow<String> {
        self.enter(1, "a FROM clause")
    }
    fn post_visit_table_factor(&mut self, _: &TableFactor) -> ControlFlow<String> {
        self.depth -= 1;
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::statement::parse;

    fn chain(op: &str, n: usize) -> String {
        vec!["1"; n].join(op)
    }

    /// Parses on a thread with the server's stack (a test thread's 2 MiB
    /// is too little for hundreds of parentheses in a debug build).
    fn parsed(sql: String) -> Result<Vec<Statement>, SqlError> {
        std::thread::Builder::new().stack_size(THREAD_STACK_BYTES).spawn(move || parse(&sql)).unwrap().join().unwrap()
    }

    fn code(sql: &str) -> &'static str {
        match parsed(sql.to_string()) {
            Ok(_) => "ok",
            Err(e) => e.code,
        }
    }

    #[test]
    fn deep_chains_are_refused_with_54001() {
        assert_eq!(code(&format!("SELECT {}", chain(" + ", 1000))), "ok");
        assert_eq!(code(&format!("SELECT {}", chain(" + ", MAX_DEPTH - 10))), "ok");
        assert_eq!(code(&format!("SELECT {}", chain(" + ", 10_000))), "54001");
        assert_eq!(code(&format!("SELECT 1 WHERE {}", vec!["1 = 0"; 10_000].join(" OR "))), "54001");
        assert_eq!(code(&format!("SELECT {}", chain("::int + ", 5_000))), "54001");
        assert_eq!(code(&vec!["SELECT 1"; 1000].join(" UNION ALL ")), "ok");
        assert_eq!(code(&vec!["SELECT 1"; 10_000].join(" UNION ALL ")), "54001");
        assert_eq!(code(&format!("SELECT 1 FROM {}", vec!["t"; 10_000].join(", "))), "54001");
        assert_eq!(code(&format!("SELECT 1 FROM t{}", " JOIN t ON true".repeat(10_000))), "54001");
        // Subqueries count too.
        let nested = format!("{}1{}", "(SELECT ".repeat(300), ")".repeat(300));
        assert_eq!(code(&format!("SELECT {}", nested)), "ok");
        let nested = format!("{}1{}", "(SELECT ".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert_eq!(code(&format!("SELECT {}", nested)), "54001");
        // So do the branches of a CASE.
        assert_eq!(code(&format!("SELECT CASE {} END", "WHEN false THEN 1 ".repeat(1000))), "ok");
        assert_eq!(code(&format!("SELECT CASE {} END", "WHEN false THEN 1 ".repeat(MAX_DEPTH))), "54001");
        let e = parsed(format!("SELECT {}", chain(" + ", 10_000))).unwrap_err();
        assert!(e.hint.unwrap().contains("IN (...)"));
    }

    #[test]
    fn parentheses_nest_as_in_postgres() {
        assert_eq!(code(&format!("SELECT {}1{}", "(".repeat(100), ")".repeat(100))), "ok");
        assert_eq!(code(&format!("SELECT {}1{}", "(".repeat(400), ")".repeat(400))), "ok");
        assert_eq!(code(&format!("SELECT {}1{}", "(".repeat(100_000), ")".repeat(100_000))), "54001");
        assert_ne!(code(&format!("SELECT * FROM {}t{}", "(".repeat(100_000), ")".repeat(100_000))), "ok");
        assert_eq!(code(&format!("SELECT {}1", "- ".repeat(100_000))), "54001");
        // sqlparser reports this one as a syntax error; either way, no crash.
        assert_ne!(code(&format!("SELECT {}true", "NOT ".repeat(100_000))), "ok");
    }

    #[test]
    fn huge_statements_stop_parsing_at_the_operator_limit() {
        // Parsed and dropped (also half-built, on the syntax error) without
        // a tree deeper than MAX_OPERATORS: a million-term chain used to be
        // built whole, then overflowed the stack when dropped.
        assert_eq!(code(&format!("SELECT {}", chain("+", 1_000_000))), "54001");
        assert_eq!(code(&format!("SELECT {} +", chain("+", 1_000_000))), "54001");
        assert_eq!(code(&format!("SELECT {} + )", chain("+", MAX_OPERATORS - 5))), "42601");
        assert_eq!(code(&vec!["SELECT 1"; MAX_OPERATORS + 1].join(" UNION ")), "54001");
        // Many short statements are fine: the count is per statement.
        assert_eq!(code(&format!("SELECT {};", chain("+", 100)).repeat(1500)), "ok");
    }
}
