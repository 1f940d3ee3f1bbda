//! The SQL dialect eddy parses: sqlparser's PostgreSQL dialect plus the
//! syntax it lacks.
//!
//! * `x [NOT] BETWEEN SYMMETRIC a AND b` (sqlparser 0.62 does not know
//!   SYMMETRIC) is parsed into `(x BETWEEN a AND b OR x BETWEEN b AND a)`,
//!   PostgreSQL's definition; `BETWEEN ASYMMETRIC` is plain BETWEEN.
//! * A statement stops parsing at its `limits::MAX_OPERATORS`th infix
//!   operator (see [`crate::limits`]).
//!
//! Every other behaviour is PostgreSqlDialect's: the wrapper forwards the
//! methods that dialect overrides and reports its type id, so the parser's
//! "is this PostgreSQL" checks still hold.

use sqlparser::ast::{BinaryOperator, Expr, Statement, UnaryOperator};
use sqlparser::dialect::{Dialect, PostgreSqlDialect, Precedence};
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::Token;
use std::any::TypeId;
use std::cell::Cell;

#[derive(Debug, Default)]
pub struct EddyDialect {
    pg: PostgreSqlDialect,
    /// Infix operators parsed so far in the current statement.
    operators: Cell<usize>,
    /// Whether parsing stopped at `limits::MAX_OPERATORS`.
    too_many_operators: Cell<bool>,
}

impl EddyDialect {
    /// Whether the last parse stopped because a statement had more than
    /// `limits::MAX_OPERATORS` infix operators.
    pub fn too_many_operators(&self) -> bool {
        self.too_many_operators.get()
    }
}

fn is_keyword(t: &Token, k: Keyword) -> bool {
    matches!(t, Token::Word(w) if w.keyword == k)
}

/// Parses `[NOT] BETWEEN {SYMMETRIC | ASYMMETRIC} low AND high` after `expr`.
fn parse_between_symmetric(parser: &mut Parser, expr: &Expr) -> Option<Result<Expr, ParserError>> {
    let negated = is_keyword(&parser.peek_nth_token_ref(0).token, Keyword::NOT);
    let at = negated as usize;
    if !is_keyword(&parser.peek_nth_token_ref(at).token, Keyword::BETWEEN) {
        return None;
    }
    let symmetric = match &parser.peek_nth_token_ref(at + 1).token {
        t if is_keyword(t, Keyword::SYMMETRIC) => true,
        t if is_keyword(t, Keyword::ASYMMETRIC) => false,
        _ => return None,
    };
    for _ in 0..at + 2 {
        parser.next_token();
    }
    let between = match parser.parse_between(expr.clone(), false) {
        Ok(e) => e,
        Err(e) => return Some(Err(e)),
    };
    let result = match (&between, symmetric) {
        (Expr::Between { expr, low, high, .. }, true) => {
            let swapped = Expr::Between { expr: expr.clone(), negated: false, low: high.clone(), high: low.clone() };
            Expr::Nested(Box::new(Expr::BinaryOp { left: Box::new(between.clone()), op: BinaryOperator::Or, right: Box::new(swapped) }))
        }
        _ => between,
    };
    Some(Ok(if negated { Expr::Nested(Box::new(Expr::UnaryOp { op: UnaryOperator::Not, expr: Box::new(result) })) } else { result }))
}

macro_rules! forward_bool {
    ($($name:ident),* $(,)?) => {
        $(fn $name(&self) -> bool { self.pg.$name() })*
    };
}

impl Dialect for EddyDialect {
    fn dialect(&self) -> TypeId {
        TypeId::of::<PostgreSqlDialect>()
    }
    fn parse_infix(&self, parser: &mut Parser, expr: &Expr, precedence: u8) -> Option<Result<Expr, ParserError>> {
        // Every infix operator comes through here: a left-deep chain grows
        // a level each, in a loop no recursion limit bounds.
        self.operators.set(self.operators.get() + 1);
        if self.operators.get() > crate::limits::MAX_OPERATORS {
            self.too_many_operators.set(true);
            return Some(Err(ParserError::ParserError(format!("more than {} operators in one statement", crate::limits::MAX_OPERATORS))));
        }
        parse_between_symmetric(parser, expr).or_else(|| self.pg.parse_infix(parser, expr, precedence))
    }
    fn parse_statement(&self, _parser: &mut Parser) -> Option<Result<Statement, ParserError>> {
        // A new statement: its operators are counted afresh.
        self.operators.set(0);
        None
    }
    fn identifier_quote_style(&self, identifier: &str) -> Option<char> {
        self.pg.identifier_quote_style(identifier)
    }
    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        self.pg.is_delimited_identifier_start(ch)
    }
    fn is_identifier_start(&self, ch: char) -> bool {
        self.pg.is_identifier_start(ch)
    }
    fn is_identifier_part(&self, ch: char) -> bool {
        self.pg.is_identifier_part(ch)
    }
    fn is_reserved_for_identifier(&self, kw: Keyword) -> bool {
        self.pg.is_reserved_for_identifier(kw)
    }
    fn is_custom_operator_part(&self, ch: char) -> bool {
        self.pg.is_custom_operator_part(ch)
    }
    fn get_next_precedence(&self, parser: &Parser) -> Option<Result<u8, ParserError>> {
        self.pg.get_next_precedence(parser)
    }
    fn prec_value(&self, prec: Precedence) -> u8 {
        self.pg.prec_value(prec)
    }
    forward_bool!(
        supports_unicode_string_literal,
        supports_filter_during_aggregation,
        supports_group_by_expr,
        allow_extract_custom,
        allow_extract_single_quotes,
        supports_create_index_with_clause,
        supports_explain_with_utility_options,
        supports_listen_notify,
        supports_factorial_operator,
        supports_bitwise_shift_operators,
        supports_comment_on,
        supports_load_extension,
        supports_named_fn_args_with_colon_operator,
        supports_named_fn_args_with_expr_name,
        supports_empty_projections,
        supports_nested_comments,
        supports_string_escape_constant,
        supports_numeric_literal_underscores,
        supports_array_typedef_with_brackets,
        supports_geometric_types,
        supports_set_names,
        supports_alter_column_type_using,
        supports_notnull_operator,
        supports_interval_options,
        supports_insert_table_alias,
        supports_create_table_like_parenthesized,
        supports_select_wildcard_with_alias,
        supports_comma_separated_trim,
        supports_xml_expressions,
        supports_comment_optimizer_hint,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_expr(sql: &str) -> String {
        let stmt = Parser::parse_sql(&EddyDialect::default(), &format!("SELECT {}", sql)).unwrap().remove(0);
        stmt.to_string().trim_start_matches("SELECT ").to_string()
    }

    #[test]
    fn between_symmetric_expands_to_both_orders() {
        assert_eq!(parse_expr("a BETWEEN SYMMETRIC 10 AND 0"), "(a BETWEEN 10 AND 0 OR a BETWEEN 0 AND 10)");
        assert_eq!(parse_expr("a NOT BETWEEN SYMMETRIC b + 1 AND 0 AND c"), "(NOT (a BETWEEN b + 1 AND 0 OR a BETWEEN 0 AND b + 1)) AND c");
        assert_eq!(parse_expr("a BETWEEN ASYMMETRIC 1 AND 2"), "a BETWEEN 1 AND 2");
        assert_eq!(parse_expr("a NOT BETWEEN 1 AND 2"), "a NOT BETWEEN 1 AND 2");
        assert_eq!(parse_expr("x::text || 'a'"), "x::TEXT || 'a'");
    }
}
