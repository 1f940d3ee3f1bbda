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
