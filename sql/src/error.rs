//! Errors a client sees: a SQLSTATE code, a message that names the object,
//! and, where one helps, a detail, a hint and a position in the statement.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlError {
    /// The five-character SQLSTATE code.
    pub code: &'static str,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
    /// 1-based character position in the statement text, where known.
    pub position: Option<usize>,
    /// NOTICE or WARNING instead of ERROR (never fails the statement).
    pub severity: Severity,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Notice,
}

impl SqlError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        SqlError { code, message: message.into(), detail: None, hint: None, position: None, severity: Severity::Error }
    }
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
    pub fn with_position(mut self, position: usize) -> Self {
        self.position = Some(position);
        self
    }
    pub fn notice(message: impl Into<String>) -> Self {
        SqlError { severity: Severity::Notice, ..SqlError::new("00000", message) }
    }

    pub fn syntax(message: impl Into<String>) -> Self {
        Self::new(codes::SYNTAX_ERROR, message)
    }
    pub fn unsupported(what: impl Into<String>) -> Self {
        Self::new(codes::FEATURE_NOT_SUPPORTED, format!("{} is not supported", what.into()))
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(codes::INTERNAL_ERROR, message)
    }
    pub fn unknown_relation(name: &str) -> Self {
        Self::new(codes::UNDEFINED_TABLE, format!("relation \"{}\" does not exist", name))
    }
    /// 42883 `function f(integer, text) does not exist`, with PostgreSQL's
    /// hint; `arg_types` are SQL type names.
    pub fn undefined_function(name: &str, arg_types: &[String]) -> Self {
        Self::new(codes::UNDEFINED_FUNCTION, format!("function {}({}) does not exist", name, arg_types.join(", "))).with_hint(NO_FUNCTION_HINT)
    }
}

/// PostgreSQL's hint when no function matches a call's argument types.
pub const NO_FUNCTION_HINT: &str = "No function matches the given name and argument types. You might need to add explicit type casts.";

impl fmt::Display for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code)?;
        if let Some(h) = &self.hint {
            write!(f, "\nHINT: {}", h)?;
        }
        Ok(())
    }
}

impl std::error::Error for SqlError {}

impl From<eddy_engine::expr::EvalError> for SqlError {
    fn from(e: eddy_engine::expr::EvalError) -> Self {
        let code = codes::from_str(&e.code);
        SqlError::new(code, e.message)
    }
}

impl From<eddy_engine::repr::ParseError> for SqlError {
    fn from(e: eddy_engine::repr::ParseError) -> Self {
        SqlError::new(e.code, e.message)
    }
}

/// SQLSTATE codes used by eddy.
pub mod codes {
    pub const SUCCESSFUL_COMPLETION: &str = "00000";
    pub const FEATURE_NOT_SUPPORTED: &str = "0A000";
    pub const CARDINALITY_VIOLATION: &str = "21000";
    pub const NUMERIC_VALUE_OUT_OF_RANGE: &str = "22003";
    pub const DIVISION_BY_ZERO: &str = "22012";
    pub const STRING_DATA_RIGHT_TRUNCATION: &str = "22001";
    pub const INVALID_TEXT_REPRESENTATION: &str = "22P02";
    pub const NOT_NULL_VIOLATION: &str = "23502";
    pub const UNIQUE_VIOLATION: &str = "23505";
    pub const ACTIVE_SQL_TRANSACTION: &str = "25001";
    pub const NO_ACTIVE_SQL_TRANSACTION: &str = "25P01";
    pub const IN_FAILED_SQL_TRANSACTION: &str = "25P02";
    pub const SERIALIZATION_FAILURE: &str = "40001";
    pub const INVALID_CURSOR_NAME: &str = "34000";
    pub const DEPENDENT_OBJECTS_STILL_EXIST: &str = "2BP01";
    pub const SYNTAX_ERROR: &str = "42601";
    pub const INSUFFICIENT_PRIVILEGE: &str = "42501";
    pub const UNDEFINED_COLUMN: &str = "42703";
    pub const UNDEFINED_FUNCTION: &str = "42883";
    pub const UNDEFINED_TABLE: &str = "42P01";
    pub const UNDEFINED_OBJECT: &str = "42704";
    pub const DUPLICATE_TABLE: &str = "42P07";
    pub const DUPLICATE_OBJECT: &str = "42710";
    pub const DUPLICATE_COLUMN: &str = "42701";
    pub const AMBIGUOUS_COLUMN: &str = "42702";
    pub const DATATYPE_MISMATCH: &str = "42804";
    pub const WRONG_OBJECT_TYPE: &str = "42809";
    pub const GROUPING_ERROR: &str = "42803";
    pub const INVALID_PARAMETER_VALUE: &str = "22023";
    pub const INTERNAL_ERROR: &str = "XX000";
    pub const CONNECTION_FAILURE: &str = "08006";
    pub const QUERY_CANCELED: &str = "57014";

    /// The static code for a code string carried in an engine error.
    pub fn from_str(code: &str) -> &'static str {
        const ALL: &[&str] = &[
            SUCCESSFUL_COMPLETION, FEATURE_NOT_SUPPORTED, CARDINALITY_VIOLATION, NUMERIC_VALUE_OUT_OF_RANGE, DIVISION_BY_ZERO, INVALID_TEXT_REPRESENTATION,
            NOT_NULL_VIOLATION, UNIQUE_VIOLATION, DEPENDENT_OBJECTS_STILL_EXIST, SYNTAX_ERROR, UNDEFINED_COLUMN, UNDEFINED_FUNCTION, UNDEFINED_TABLE,
            DATATYPE_MISMATCH, INVALID_PARAMETER_VALUE, "22004", "22007", "22008", "22011", "2200C", "2201B", "2201E", "2201F", "2201G", "22014", "22016", "42846", "22P02",
            // Program limits: "requested length too large", "stack depth limit exceeded".
            "54000", "54001",
        ];
        ALL.iter().find(|c| **c == code).copied().unwrap_or(INTERNAL_ERROR)
    }
}
