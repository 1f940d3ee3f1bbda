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

/// `n` of the placeholder `$n`.
fn placeholder_number(p: &str) -> Option<usize> {
    p.strip_prefix('$')?.parse().ok()
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
            let Some(ty) = placeholder_number(p).and_then(|n| self.0.get(n.wrapping_sub(1)).copied().flatten()).filter(|t| exact_type(*t)) else { return ControlFlow::Continue(()) };
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

/// The types casts give parameters written straight under them
/// (`$1::int`, `CAST($2 AS date)`): PostgreSQL types such a parameter as
/// the cast's target, where DataFusion leaves it untyped.
pub fn cast_types(stmt: &Statement) -> std::collections::HashMap<usize, ScalarType> {
    use sqlparser::ast::{Expr, Value, Visit, Visitor};
    use std::ops::ControlFlow;
    struct Casts(std::collections::HashMap<usize, ScalarType>);
    impl Visitor for Casts {
        type Break = ();
        fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            let Expr::Cast { expr, data_type, .. } = e else { return ControlFlow::Continue(()) };
            let Expr::Value(v) = expr.as_ref() else { return ControlFlow::Continue(()) };
            let Value::Placeholder(p) = &v.value else { return ControlFlow::Continue(()) };
            if let (Some(n), Ok(ty)) = (placeholder_number(p), crate::types::scalar_type_of_sql(data_type)) {
                self.0.entry(n).or_insert(ty);
            }
            ControlFlow::Continue(())
        }
    }
    let mut casts = Casts(Default::default());
    let _ = stmt.visit(&mut casts);
    casts.0
}
