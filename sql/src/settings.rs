//! Session settings clients SET: which ones eddy acts on
//! (`statement_timeout`), refuses rather than ignores (a time zone other
//! than UTC), and lets pass (the rest).

use crate::{codes, SqlError};

/// eddy evaluates time zones as UTC: a session time zone other than UTC
/// would be silently ignored, so it is refused.
pub fn check_time_zone(set: &sqlparser::ast::Set) -> Result<(), SqlError> {
    use sqlparser::ast::{Expr, Set, Value};
    let value = match set {
        Set::SetTimeZone { value, .. } => value,
        Set::SingleAssignment { variable, values, .. } if values.len() == 1 && ["timezone", "time zone"].contains(&variable.to_string().to_lowercase().as_str()) => &values[0],
        _ => return Ok(()),
    };
    let zone = match value {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => s.clone(),
            Value::Number(n, _) => n.to_string(),
            other => other.to_string(),
        },
        Expr::Identifier(i) => i.value.clone(),
        other => other.to_string(),
    };
    // DEFAULT and LOCAL are the server's zone, UTC.
    if is_utc(&zone) || ["default", "local"].contains(&zone.to_lowercase().as_str()) {
        return Ok(());
    }
    Err(SqlError::new(codes::FEATURE_NOT_SUPPORTED, format!("time zone \"{}\" is not supported", zone)).with_hint("eddy reads and shows timestamptz values in UTC; convert in the client, or SET TIME ZONE 'UTC'"))
}

/// `SET statement_timeout = 5000 | '5s' | '500ms' | '1min' | DEFAULT`, in
/// milliseconds (PostgreSQL's units); None for other settings.
pub fn statement_timeout(set: &sqlparser::ast::Set) -> Result<Option<u64>, SqlError> {
    use sqlparser::ast::{Expr, Set, Value};
    let Set::SingleAssignment { variable, values, .. } = set else { return Ok(None) };
    if !variable.to_string().eq_ignore_ascii_case("statement_timeout") || values.len() != 1 {
        return Ok(None);
    }
    let text = match &values[0] {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => n.clone(),
            Value::SingleQuotedString(s) => s.clone(),
            other => other.to_string(),
        },
        Expr::Identifier(i) if i.value.eq_ignore_ascii_case("default") => "0".into(),
        other => other.to_string(),
    };
    let t = text.trim().to_ascii_lowercase();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = (t[..split].trim(), t[split..].trim());
    let scale = match unit {
        "" | "ms" => 1.0,
        "s" => 1e3,
        "min" => 60e3,
        "h" => 3600e3,
        "d" => 86400e3,
        _ => return Err(SqlError::new(codes::INVALID_PARAMETER_VALUE, format!("invalid value for parameter \"statement_timeout\": \"{}\"", text)).with_hint("Valid units for this parameter are \"ms\", \"s\", \"min\", \"h\", and \"d\".")),
    };
    let n: f64 = number.parse().map_err(|_| SqlError::new(codes::INVALID_PARAMETER_VALUE, format!("invalid value for parameter \"statement_timeout\": \"{}\"", text)))?;
    Ok(Some((n * scale) as u64))
}

/// Whether a time zone name is UTC, the one zone eddy knows (for SET TIME
/// ZONE and AT TIME ZONE alike).
pub fn is_utc(zone: &str) -> bool {
    ["utc", "gmt", "etc/utc", "etc/gmt", "z", "zulu", "universal", "0", "+00", "+00:00", "00:00"].contains(&zone.to_lowercase().as_str())
}
