//! Running DataFusion's planner: SQL AST → analyzed, optimized logical
//! plan, with DataFusion's errors translated to SQLSTATE codes.

use super::context::{config_options, EddyContext};
use crate::{codes, SqlError};
use datafusion_common::DataFusionError;
use datafusion_expr::LogicalPlan;
use datafusion_common::tree_node::Transformed;
use datafusion_expr::logical_plan::Distinct;
use datafusion_optimizer::optimizer::ApplyOrder;
use datafusion_optimizer::push_down_filter::PushDownFilter;
use datafusion_optimizer::{Analyzer, Optimizer, OptimizerConfig, OptimizerContext, OptimizerRule};
use datafusion_sql::planner::{NullOrdering, ParserOptions, SqlToRel};
use sqlparser::ast::Statement;

/// Optimizer rules we leave out: constant folding evaluates with
/// DataFusion's semantics (wrapping overflow, truncated decimal division),
/// where every value must be computed with PostgreSQL's by our engine;
/// DISTINCT and DISTINCT ON are lowered by us (the rule's DISTINCT ON
/// rewrite needs a function registry the planner does not have, and a
/// TopK of one row per key is the natural incremental form). The engine
/// evaluates `count(DISTINCT x)` beside other aggregates itself; DataFusion's
/// two-level rewrite of it re-types `sum(int)` (bigint, then numeric as the
/// sum of bigints) and then fails its own schema check.
const SKIPPED_RULES: &[&str] = &["simplify_expressions", "replace_distinct_aggregate", "single_distinct_aggregation_to_group_by"];

pub fn parser_options() -> ParserOptions {
    ParserOptions {
        parse_float_as_decimal: true,
        enable_ident_normalization: true,
        support_varchar_with_length: true,
        enable_options_value_normalization: false,
        collect_spans: false,
        map_string_types_to_utf8view: false,
        default_null_ordering: NullOrdering::NullsMax,
    }
}

/// Plans a statement with DataFusion, without optimizing it.
pub fn to_logical(ctx: &EddyContext, stmt: Statement) -> Result<LogicalPlan, SqlError> {
    crate::setops::refuse_nested(&stmt)?;
    crate::refusals::refuse(&stmt)?;
    let planner = SqlToRel::new_with_options(ctx, parser_options());
    let plan = planner.sql_statement_to_plan(stmt).map_err(translate)?;
    super::prepare::check_types(&plan)?;
    let plan = super::prepare::mark_explicit_casts(plan)?;
    let plan = super::pg_types::postgres_types(plan)?;
    let plan = super::using_join::merge_using_keys(plan)?;
    let plan = super::subquery::rewrite_subqueries(plan).map_err(translate)?;
    let plan = super::pg_arrays::type_any_parameters(plan).map_err(translate)?;
    super::lateral::absorb_calls(plan)
}

/// Type-checks a plan: DataFusion's analyzer adds the casts that unify
/// types (a CASE of integer and numeric branches is numeric).
pub fn analyze(plan: LogicalPlan) -> Result<LogicalPlan, SqlError> {
    Analyzer::new().execute_and_check(plan, &config_options(), |_, _| {}).map_err(translate)
}

/// Type-checks and optimizes a plan for incremental maintenance.
pub fn optimize(plan: LogicalPlan) -> Result<LogicalPlan, SqlError> {
    let analyzed = analyze(plan)?;
    let mut optimizer = Optimizer::new();
    optimizer.rules.retain(|r| !SKIPPED_RULES.contains(&r.name()));
    optimizer.rules.insert(0, std::sync::Arc::new(super::subquery::ProjectionExists));
    for rule in optimizer.rules.iter_mut() {
        if rule.name() == "push_down_filter" {
            *rule = std::sync::Arc::new(PushDownFilterKeepingDistinctOn(PushDownFilter::new()));
        }
    }
    let ctx = OptimizerContext::new().with_max_passes(3);
    let optimized = optimizer.optimize(analyzed, &ctx, |_, _| {}).map_err(translate)?;
    super::pg_types::restore_marks(optimized)
}

/// DataFusion's filter push-down, except through DISTINCT ON.
///
/// DataFusion pushes any filter below a DISTINCT ON (it expects DISTINCT ON
/// to have become an aggregate first, a rule we leave out). That changes
/// the answer: `(SELECT DISTINCT ON (id) * .. ORDER BY id, ts) WHERE k = 20`
/// must drop an id whose first row has another k, not pick the first row
/// with k = 20. A filter right above a DISTINCT ON stays there.
#[derive(Debug)]
struct PushDownFilterKeepingDistinctOn(PushDownFilter);

impl OptimizerRule for PushDownFilterKeepingDistinctOn {
    fn name(&self) -> &str {
        self.0.name()
    }
    fn apply_order(&self) -> Option<ApplyOrder> {
        self.0.apply_order()
    }
    fn rewrite(&self, plan: LogicalPlan, config: &dyn OptimizerConfig) -> datafusion_common::Result<Transformed<LogicalPlan>> {
        // Below a chain of filters (which the rule merges first).
        let mut below = &plan;
        while let LogicalPlan::Filter(f) = below {
            below = f.input.as_ref();
        }
        if matches!(plan, LogicalPlan::Filter(_)) && matches!(below, LogicalPlan::Distinct(Distinct::On(_))) {
            return Ok(Transformed::no(plan));
        }
        self.0.rewrite(plan, config)
    }
}

/// DataFusion's error as a client error with the right SQLSTATE.
pub fn translate(e: DataFusionError) -> SqlError {
    let e = e.find_root();
    let msg = e.strip_backtrace();
    let lower = msg.to_lowercase();
    let code = match &e {
        DataFusionError::SchemaError(s, _) => match s.as_ref() {
            datafusion_common::SchemaError::FieldNotFound { .. } => codes::UNDEFINED_COLUMN,
            datafusion_common::SchemaError::AmbiguousReference { .. } => codes::AMBIGUOUS_COLUMN,
            _ => codes::DUPLICATE_OBJECT,
        },
        DataFusionError::SQL(..) => codes::SYNTAX_ERROR,
        DataFusionError::NotImplemented(_) => codes::FEATURE_NOT_SUPPORTED,
        _ if lower.contains("does not exist") && lower.contains("relation") => codes::UNDEFINED_TABLE,
        _ if lower.contains("table") && lower.contains("not found") => codes::UNDEFINED_TABLE,
        _ if lower.contains("invalid function") || lower.contains("no function matches") => codes::UNDEFINED_FUNCTION,
        _ if lower.contains("cannot create filter with non-boolean predicate") => codes::DATATYPE_MISMATCH,
        _ if lower.contains("cannot coerce arithmetic expression") || lower.contains("no operator matches") || lower.contains("operator does not exist") => codes::UNDEFINED_FUNCTION,
        _ if lower.contains("aggregate functions are not allowed") => codes::GROUPING_ERROR,
        _ if lower.contains("cannot infer common") || lower.contains("type") && (lower.contains("coerc") || lower.contains("mismatch") || lower.contains("cannot be cast") || lower.contains("unsupported cast")) => codes::DATATYPE_MISMATCH,
        _ if lower.contains("must appear in the group by") || lower.contains("projection references non-aggregate") => codes::GROUPING_ERROR,
        _ if lower.contains("divide by zero") => codes::DIVISION_BY_ZERO,
        _ if lower.contains("step size cannot equal zero") => codes::INVALID_PARAMETER_VALUE,
        _ if lower.contains("not supported") || lower.contains("unsupported") => codes::FEATURE_NOT_SUPPORTED,
        _ => codes::SYNTAX_ERROR,
    };
    // DataFusion's own words to its developers are not for our users.
    let msg = match msg.find("This issue was likely caused by a bug in DataFusion") {
        Some(i) => msg[..i].trim_end().to_string(),
        None => msg,
    };
    if msg.contains("ValueWithSpan") || msg.contains("span: Span(") {
        // A syntax tree printed for debugging: say what is meant instead.
        return SqlError::new(codes::FEATURE_NOT_SUPPORTED, "this form of the expression is not supported").with_hint("write it in another way, e.g. with the function's plain call syntax");
    }
    if msg.contains("values of type List(") {
        return SqlError::new(codes::FEATURE_NOT_SUPPORTED, "arrays of arrays are not supported").with_hint("eddy's arrays have one dimension");
    }
    if msg.contains("values of type Struct(") {
        return SqlError::new(codes::FEATURE_NOT_SUPPORTED, "row values are not supported").with_hint("compare or count the columns one by one, e.g. count(DISTINCT a || '/' || b)");
    }
    for window in ["rank", "dense_rank", "row_number", "percent_rank", "cume_dist", "ntile", "lag", "lead", "first_value", "last_value", "nth_value"] {
        if lower.starts_with(&format!("error during planning: invalid function '{}'", window)) {
            return SqlError::new(codes::WRONG_OBJECT_TYPE, format!("window function {} requires an OVER clause", window));
        }
    }
    if msg.contains("Projections require unique expression names") {
        return SqlError::new(codes::FEATURE_NOT_SUPPORTED, "two result columns with the same name, or the same expression twice, are not supported").with_hint("give each column its own alias: SELECT a AS a1, a AS a2");
    }
    // A function of ours that refused its argument types says so in words
    // of its own, wrapped in DataFusion's.
    if let Some((_, rest)) = msg.split_once("user-defined coercion failed with: ") {
        let words = rest.split(". No function matches").next().unwrap_or(rest);
        if let Some(words) = words.strip_prefix("This feature is not implemented: ") {
            return SqlError::new(codes::FEATURE_NOT_SUPPORTED, words);
        }
        let words = words.trim_start_matches("Error during planning: ");
        return SqlError::new(codes::UNDEFINED_FUNCTION, words).with_hint(crate::error::NO_FUNCTION_HINT);
    }
    // DataFusion suggests a function of its own ('Did you mean arrow_typeof?').
    if let Some(rest) = msg.strip_prefix("Error during planning: Invalid function '") {
        let name = rest.split('\'').next().unwrap_or("");
        if let Some(f) = eddy_engine::expr::TableFunc::by_name(&name.to_ascii_lowercase()) {
            return SqlError::new(codes::FEATURE_NOT_SUPPORTED, format!("set-returning function {} is not supported in this select list", f.name())).with_hint(format!(
                "eddy runs one set-returning function of one column (jsonb_array_elements[_text], jsonb_object_keys, generate_series) in the select list of a query without GROUP BY, HAVING, aggregates or window functions; else call it in FROM: SELECT ... FROM t, {}(t.column) AS e",
                f.name()
            ));
        }
        return SqlError::new(codes::UNDEFINED_FUNCTION, format!("function {}() does not exist", name)).with_hint("eddy does not have this function; docs/semantics.md lists what eddy supports");
    }
    let message = msg
        .trim_start_matches("Internal error: ")
        .trim_start_matches("Error during planning: ")
        .trim_start_matches("Schema error: ")
        .trim_start_matches("This feature is not implemented: ")
        .trim_start_matches("SQL error: ")
        .to_string();
    if let Some(err) = super::df_messages::in_postgres_words(&message) {
        return err;
    }
    let mut err = SqlError::new(code, message);
    if let DataFusionError::SchemaError(s, _) = &e {
        if let datafusion_common::SchemaError::FieldNotFound { field, valid_fields } = s.as_ref() {
            // PostgreSQL's words, not DataFusion's (which suggest a setting
            // of its own for case-sensitive names).
            err.message = format!("column \"{}\" does not exist", field.name);
            let similar = valid_fields.iter().find(|c| c.name.eq_ignore_ascii_case(&field.name));
            return err.with_hint(match similar {
                Some(c) => format!("Perhaps you meant to reference the column \"{}\" (quoted names keep their case).", c.flat_name()),
                None => "check the column name, or qualify it with its table".to_string(),
            });
        }
    }
    if code == codes::UNDEFINED_COLUMN {
        err = err.with_hint("check the column name, or qualify it with its table");
    }
    if lower.contains("operator does not exist") {
        err = err.with_hint("No operator matches the given name and argument types. You might need to add an explicit type cast.");
    }
    err
}
