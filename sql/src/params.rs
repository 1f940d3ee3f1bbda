//! Statement parameters (`$1`, `$2`, ...): which take the type the client
//! declared and which the type their context gives.

use eddy_engine::ScalarType;
use sqlparser::ast::Statement;

/// The parameter types eddy takes from the client instead of inferring
/// them from the context: a numeric, double or boolean parameter inferred
/// as an integer would be cut (`id = 2.7` matched 2, `1.5 + 1` was 2).
pub fn exact_type(t: ScalarType) -> bool {
    matches!(t, ScalarType::Numeric { .. } | ScalarType::Float64 | ScalarType::Float32 | ScalarType::Bool)
}

/// `$n` as `CAST($n AS type)` where the client said the parameter is of
/// one of the [`exact_type`]s, as PostgreSQL types a parameter by what the
/// client declared. Other parameters keep the type their context gives.
pub fn typed_placeholders(stmt: &mut Statement, types: &[Option<ScalarType>]) {
    use sqlparser::ast::{CastKind, DataType, ExactNumberInfo, Expr, Value, VisitMut, VisitorMut};
    use std::ops::ControlFlow;
    struct Typer<'a>(&'a [Option<ScalarType>]);
    impl VisitorMut for Typer<'_> {
        type Break = ();
        fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
            let Expr::Value(v) = e else { return ControlFlow::Continue(()) };
            let Value::Placeholder(p) = &v.value else { return ControlFlow::Continue(()) };
            let Some(ty) = p.strip_prefix('$').and_then(|n| n.parse::<usize>().ok()).and_then(|n| self.0.get(n.wrapping_sub(1)).copied().flatten()).filter(|t| exact_type(*t)) else { return ControlFlow::Continue(()) };
            let data_type = match ty {
                ScalarType::Numeric { .. } => DataType::Numeric(ExactNumberInfo::None),
                ScalarType::Float32 => DataType::Real,
                ScalarType::Float64 => DataType::DoublePrecision,
                _ => DataType::Boolean,
            };
            *e = Expr::Cast { kind: CastKind::DoubleColon, expr: Box::new(e.clone()), data_type, format: None, array: false };
            ControlFlow::Continue(())
        }
    }
    let _ = stmt.visit(&mut Typer(types));
}
