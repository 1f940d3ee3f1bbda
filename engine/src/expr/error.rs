use serde::{Deserialize, Serialize};
use std::fmt;

/// An error raised while evaluating an expression over a row, such as
/// division by zero or a failed cast. Carries its SQLSTATE code.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EvalError {
    pub code: String,
    pub message: String,
}

impl EvalError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        EvalError { code: code.to_string(), message: message.into() }
    }
    pub fn division_by_zero() -> Self {
        Self::new("22012", "division by zero")
    }
    pub fn out_of_range(what: impl fmt::Display) -> Self {
        Self::new("22003", format!("{} out of range", what))
    }
    /// 22008, PostgreSQL's code for a date, timestamp or interval that
    /// leaves its type's range: `what` is "date", "timestamp" or "interval".
    pub fn datetime_out_of_range(what: &str) -> Self {
        Self::new("22008", format!("{} out of range", what))
    }
    /// 22003 for a numeric result beyond what numeric holds (28 digits).
    pub fn numeric_overflow() -> Self {
        Self::new("22003", "value overflows numeric format")
    }
    /// 54000: a string function asked to build a result longer than a text
    /// value may be (PostgreSQL's limit, 1 GB).
    pub fn length_too_large() -> Self {
        Self::new("54000", "requested length too large")
    }
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for EvalError {}

impl From<crate::repr::ParseError> for EvalError {
    fn from(e: crate::repr::ParseError) -> Self {
        EvalError::new(e.code, e.message)
    }
}
