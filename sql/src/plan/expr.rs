//! Lowering DataFusion expressions into the engine's [`ScalarExpr`].
//!
//! Column references become positions in the input schema; operators and
//! functions map to engine functions that carry PostgreSQL's semantics
//! (the engine evaluates them, not DataFusion). A function without an
//! engine counterpart is refused with 0A000 rather than evaluated wrongly.

use crate::types::{column_type_of_field, scalar_type_of_arrow};
use crate::SqlError;
use datafusion_common::{DFSchema, ExprSchema, ScalarValue};
use datafusion_expr::expr::{AggregateFunction, Case, Sort, WindowFunction};
use datafusion_expr::{BinaryExpr, Expr, ExprSchemable, Operator, WindowFrameBound, WindowFrameUnits, WindowFunctionDefinition};
use eddy_engine::expr::{AggregateExpr, AggregateFunc, BinaryFunc, RangeFrame, RangeOffset, ScalarExpr, SortKey, Stat, UnaryFunc, VariadicFunc, WindowExpr, WindowFrame, WindowFunc};
use eddy_engine::repr::{Datum, Interval};
use eddy_engine::ScalarType;
use rust_decimal::Decimal;
use std::collections::HashMap;

/// Lowers expressions over one input schema.
pub struct ExprLowerer<'a> {
    pub schema: &'a DFSchema,
    /// Scalar subqueries already attached to the input as columns.
    pub subqueries: &'a HashMap<Expr, usize>,
    /// Whether the expression belongs to a maintained view (no `now()`).
    pub maintained: bool,
}

fn unsupported(what: impl Into<String>) -> SqlError {
    SqlError::unsupported(what)
}

impl ExprLowerer<'_> {
    pub fn lower(&self, e: &Expr) -> Result<ScalarExpr, SqlError> {
        if let Some(col) = self.subqueries.get(e) {
            return Ok(ScalarExpr::Column(*col));
        }
        Ok(match e {
            Expr::Alias(a) => self.lower(&a.expr)?,
            Expr::Column(c) => ScalarExpr::Column(self.schema.index_of_column(c).map_err(|_| SqlError::new(crate::codes::UNDEFINED_COLUMN, format!("column \"{}\" does not exist", c.name)))?),
            Expr::Literal(v, _) => {
                let (d, ty) = literal(v)?;
                ScalarExpr::Literal(d, ty)
            }
            Expr::BinaryExpr(b) => self.binary(b)?,
            Expr::Like(l) => {
                if l.escape_char.is_some_and(|c| c != '\\') {
                    return Err(unsupported("LIKE with a custom ESCAPE"));
                }
                self.lower(&l.expr)?.call_binary(BinaryFunc::Like { negated: l.negated, case_insensitive: l.case_insensitive }, self.lower(&l.pattern)?)
            }
            // PostgreSQL's default escape character is the backslash.
            Expr::SimilarTo(l) => self.lower(&l.expr)?.call_binary(BinaryFunc::SimilarTo { negated: l.negated, escape: Some(l.escape_char.unwrap_or('\\')) }, self.lower(&l.pattern)?),
            Expr::Not(x) => self.lower(x)?.call_unary(UnaryFunc::Not),
            Expr::IsNull(x) | Expr::IsUnknown(x) => self.lower(x)?.call_unary(UnaryFunc::IsNull),
            Expr::IsNotNull(x) | Expr::IsNotUnknown(x) => self.lower(x)?.call_unary(UnaryFunc::IsNotNull),
            Expr::IsTrue(x) => self.lower(x)?.call_unary(UnaryFunc::IsTrue),
            Expr::IsFalse(x) => self.lower(x)?.call_unary(UnaryFunc::IsFalse),
            Expr::IsNotTrue(x) => self.lower(x)?.call_unary(UnaryFunc::IsNotTrue),
            Expr::IsNotFalse(x) => self.lower(x)?.call_unary(UnaryFunc::IsNotFalse),
            Expr::Negative(x) => self.lower(x)?.call_unary(UnaryFunc::Neg(self.type_of(x)?)),
            Expr::Between(b) => {
                let x = self.lower(&b.expr)?;
                let both = and(vec![x.clone().call_binary(BinaryFunc::Gte, self.lower(&b.low)?), x.call_binary(BinaryFunc::Lte, self.lower(&b.high)?)]);
                if b.negated {
                    both.call_unary(UnaryFunc::Not)
                } else {
                    both
                }
            }
            Expr::Case(c) => self.case(c)?,
            // The target field carries jsonb's metadata for `::jsonb`.
            // Casts to numeric that DataFusion added to unify types keep
            // each value's scale (PostgreSQL's implicit conversion); casts
            // written in the SQL are TryCasts and round to the declared
            // scale (see `super::prepare::mark_explicit_casts`).
            Expr::Cast(c) if matches!(column_type_of_field(&c.field)?.scalar, ScalarType::Numeric { .. }) => self.lower(&c.expr)?.call_unary(UnaryFunc::Cast(ScalarType::Numeric { precision: None, scale: None })),
            Expr::Cast(c) => self.lower(&c.expr)?.call_unary(UnaryFunc::Cast(column_type_of_field(&c.field)?.scalar)),
            Expr::TryCast(c) => self.lower(&c.expr)?.call_unary(UnaryFunc::Cast(column_type_of_field(&c.field)?.scalar)),
            // pg_typeof(x): the name of x's type, known when planning.
            Expr::ScalarFunction(f) if f.func.name() == "pg_typeof" && f.args.len() == 1 => {
                let arg = &f.args[0];
                let ty = match arg.to_field(self.schema) {
                    Ok((_, field)) => column_type_of_field(&field)?.scalar,
                    Err(_) => self.type_of(arg)?,
                };
                // jsonb or uuid through CASE or coalesce (see `pg_types`).
                let ty = match super::pg_types::mark_of(arg, self.schema).as_deref() {
                    Some("jsonb") if ty == ScalarType::Text => ScalarType::Jsonb,
                    Some("uuid") if ty == ScalarType::Text => ScalarType::Uuid,
                    _ => ty,
                };
                let name = match (arg, ty) {
                    // An integer literal that fits is integer, as everywhere in eddy.
                    (Expr::Literal(ScalarValue::Int64(Some(v)), _), _) if i32::try_from(*v).is_ok() => "integer".to_string(),
                    (Expr::Literal(ScalarValue::Null, _), _) => "unknown".to_string(),
                    // pg_typeof names a type without its modifier.
                    (_, ScalarType::Numeric { .. }) => "numeric".to_string(),
                    (_, ty) => crate::psql::format_type(ty),
                };
                ScalarExpr::Literal(Datum::Text(name.into()), ScalarType::Text)
            }
            // to_char of a number (of a timestamp: `scalar_function`).
            Expr::ScalarFunction(f) if f.func.name() == "to_char" && f.args.len() == 2 && self.type_of(&f.args[0]).is_ok_and(|t| t.is_integer() || matches!(t, ScalarType::Float32 | ScalarType::Float64 | ScalarType::Numeric { .. })) => {
                let real = self.type_of(&f.args[0])? == ScalarType::Float32;
                self.lower(&f.args[0])?.call_binary(BinaryFunc::ToCharNumber { real }, self.lower(&f.args[1])?)
            }
            Expr::ScalarFunction(f) if super::pg_arrays::is_array_function(f.func.name()) => {
                let args = f.args.iter().map(|a| self.lower(a)).collect::<Result<Vec<_>, _>>()?;
                let types = f.args.iter().map(|a| self.type_of(a)).collect::<Result<Vec<_>, _>>()?;
                super::pg_arrays::lower(f.func.name(), args, &types).expect("an array function")?
            }
            Expr::ScalarFunction(f) => {
                let args = match f.func.name() {
                    // concat prints its arguments with their types' output
                    // functions (a boolean is `t`), not as DataFusion's casts to text do.
                    "concat" | "concat_ws" => f.args.iter().map(|a| self.lower(self.uncast_boolean(a))).collect::<Result<Vec<_>, _>>()?,
                    _ => f.args.iter().map(|a| self.lower(a)).collect::<Result<Vec<_>, _>>()?,
                };
                let out = self.type_of(e)?;
                scalar_function(f.func.name(), args, out, self.maintained)?
            }
            Expr::InList(l) => {
                let mut exprs = vec![self.lower(&l.expr)?];
                // `uuid IN ('A0EE...', ...)`: text items read as uuids, as
                // PostgreSQL types the quoted literals.
                let uuid = self.type_of(&l.expr)? == ScalarType::Uuid;
                for x in &l.list {
                    let item = self.lower(x)?;
                    exprs.push(if uuid && self.type_of(x)? == ScalarType::Text { item.call_unary(UnaryFunc::Cast(ScalarType::Uuid)) } else { item });
                }
                ScalarExpr::CallVariadic { func: VariadicFunc::InList { negated: l.negated }, exprs }
            }
            Expr::Placeholder(p) => return Err(SqlError::new(crate::codes::SYNTAX_ERROR, format!("no value was bound for parameter {}", p.id))),
            Expr::ScalarSubquery(_) => return Err(unsupported("a scalar subquery in this position")),
            Expr::Exists(_) | Expr::InSubquery(_) | Expr::SetComparison(_) => return Err(unsupported("this subquery form (it could not be decorrelated)")),
            Expr::WindowFunction(_) => return Err(SqlError::new("42P20", "window functions are not allowed here").with_hint("window functions belong in the select list or ORDER BY: compute it in a subquery and filter on its result outside")),
            Expr::AggregateFunction(_) => return Err(SqlError::new(crate::codes::GROUPING_ERROR, "aggregate functions are not allowed here").with_hint("aggregates belong in the select list, HAVING or ORDER BY")),
            other => return Err(unsupported(format!("expression {}", other))),
        })
    }

    pub fn type_of(&self, e: &Expr) -> Result<ScalarType, SqlError> {
        let dt = e.get_type(self.schema).map_err(|err| SqlError::internal(err.to_string()))?;
        if let Expr::Column(c) = e {
            if let Ok(f) = self.schema.field_from_column(c) {
                return Ok(column_type_of_field(f)?.scalar);
            }
        }
        scalar_type_of_arrow(&dt)
    }

    fn binary(&self, b: &BinaryExpr) -> Result<ScalarExpr, SqlError> {
        let l = self.lower(&b.left)?;
        let r = self.lower(&b.right)?;
        let ty = || self.type_of(&Expr::BinaryExpr(b.clone()));
        let func = match b.op {
            Operator::Plus => BinaryFunc::Add(ty()?),
            Operator::Minus => BinaryFunc::Sub(ty()?),
            Operator::Multiply => BinaryFunc::Mul(ty()?),
            Operator::Divide => BinaryFunc::Div(ty()?),
            Operator::Modulo => BinaryFunc::Mod(ty()?),
            Operator::Eq => BinaryFunc::Eq,
            Operator::NotEq => BinaryFunc::NotEq,
            Operator::Lt => BinaryFunc::Lt,
            Operator::LtEq => BinaryFunc::Lte,
            Operator::Gt => BinaryFunc::Gt,
            Operator::GtEq => BinaryFunc::Gte,
            Operator::IsDistinctFrom => BinaryFunc::IsDistinctFrom,
            Operator::IsNotDistinctFrom => BinaryFunc::IsNotDistinctFrom,
            Operator::StringConcat => BinaryFunc::TextConcat,
            Operator::LikeMatch => BinaryFunc::Like { negated: false, case_insensitive: false },
            Operator::NotLikeMatch => BinaryFunc::Like { negated: true, case_insensitive: false },
            Operator::ILikeMatch => BinaryFunc::Like { negated: false, case_insensitive: true },
            Operator::NotILikeMatch => BinaryFunc::Like { negated: true, case_insensitive: true },
            Operator::RegexMatch => BinaryFunc::RegexMatch { negated: false, case_insensitive: false },
            Operator::RegexIMatch => BinaryFunc::RegexMatch { negated: false, case_insensitive: true },
            Operator::RegexNotMatch => BinaryFunc::RegexMatch { negated: true, case_insensitive: false },
            Operator::RegexNotIMatch => BinaryFunc::RegexMatch { negated: true, case_insensitive: true },
            Operator::BitwiseAnd => BinaryFunc::BitAnd,
            Operator::BitwiseOr => BinaryFunc::BitOr,
            Operator::BitwiseXor => BinaryFunc::BitXor,
            Operator::BitwiseShiftLeft => BinaryFunc::ShiftLeft,
            Operator::BitwiseShiftRight => BinaryFunc::ShiftRight,
            Operator::And => return Ok(and(vec![l, r])),
            Operator::Or => return Ok(ScalarExpr::CallVariadic { func: VariadicFunc::Or, exprs: vec![l, r] }),
            op => return Err(unsupported(format!("operator {}", op))),
        };
        Ok(l.call_binary(func, r))
    }

    /// A DataFusion cast of a boolean to text, unwrapped.
    fn uncast_boolean<'e>(&self, a: &'e Expr) -> &'e Expr {
        if let Expr::Cast(c) = a {
            if c.field.data_type() == &arrow_schema::DataType::Utf8 && self.type_of(&c.expr).is_ok_and(|t| t == ScalarType::Bool) {
                return &c.expr;
            }
        }
        a
    }

    fn case(&self, c: &Case) -> Result<ScalarExpr, SqlError> {
        let mut result = match &c.else_expr {
            Some(e) => self.lower(e)?,
            None => ScalarExpr::null(),
        };
        let operand = c.expr.as_ref().map(|e| self.lower(e)).transpose()?;
        for (when, then) in c.when_then_expr.iter().rev() {
            let cond = match &operand {
                Some(x) => x.clone().call_binary(BinaryFunc::Eq, self.lower(when)?),
                None => self.lower(when)?,
            };
            result = ScalarExpr::If { cond: Box::new(cond), then: Box::new(self.lower(then)?), els: Box::new(result) };
        }
        Ok(result)
    }

    pub fn sort_key(&self, s: &Sort) -> Result<SortKey, SqlError> {
        Ok(SortKey { expr: self.lower(&s.expr)?, desc: !s.asc, nulls_first: s.nulls_first })
    }

    /// An aggregate call in an Aggregate node.
    pub fn aggregate(&self, e: &Expr) -> Result<AggregateExpr, SqlError> {
        let (Expr::AggregateFunction(AggregateFunction { func, params }), out) = (strip_alias(e), self.type_of(e)?) else {
            return Err(SqlError::internal(format!("expected an aggregate, found {}", e)));
        };
        self.aggregate_call(func.name(), &params.args, params.distinct, params.filter.as_deref(), &params.order_by, out)
    }

    /// `name(DISTINCT args ORDER BY order_by) FILTER (WHERE filter)`, as an
    /// aggregate of a group or of a window frame.
    fn aggregate_call(&self, name: &str, args: &[Expr], distinct: bool, filter: Option<&Expr>, order_by: &[Sort], out: ScalarType) -> Result<AggregateExpr, SqlError> {
        let f = aggregate_func(name)?;
        let exact_input = match args.first() {
            None => true,
            Some(a) => f == AggregateFunc::Count || self.type_of(a).is_ok_and(|t| t.is_integer() || matches!(t, ScalarType::Numeric { .. })),
        };
        let mut lowered = args.iter().map(|a| self.lower(a)).collect::<Result<Vec<_>, _>>()?;
        if f == AggregateFunc::Count && lowered.iter().all(|a| matches!(a, ScalarExpr::Literal(d, _) if !d.is_null())) {
            lowered.clear(); // count(*), count(1)
        }
        Ok(AggregateExpr {
            func: f,
            args: lowered,
            distinct,
            filter: filter.map(|f| self.lower(f)).transpose()?,
            order_by: order_by.iter().map(|s| self.sort_key(s)).collect::<Result<_, _>>()?,
            output: out,
            exact_input,
        })
    }

    /// A window function call: its partitioning, ordering and expression.
    pub fn window(&self, e: &Expr) -> Result<(Vec<ScalarExpr>, Vec<SortKey>, WindowExpr), SqlError> {
        let Expr::WindowFunction(w) = strip_alias(e) else {
            return Err(SqlError::internal(format!("expected a window function, found {}", e)));
        };
        let WindowFunction { fun, params } = w.as_ref();
        if params.distinct {
            return Err(unsupported("DISTINCT in a window function").with_hint("PostgreSQL has no DISTINCT window aggregates either: aggregate the distinct values in a subquery and join it back"));
        }
        let partition = params.partition_by.iter().map(|p| self.lower(p)).collect::<Result<Vec<_>, _>>()?;
        let order = params.order_by.iter().map(|s| self.sort_key(s)).collect::<Result<Vec<_>, _>>()?;
        let args = params.args.iter().map(|a| self.lower(a)).collect::<Result<Vec<_>, _>>()?;
        let f = &params.window_frame;
        let bound = |b: &WindowFrameBound| -> Result<Option<i64>, SqlError> {
            Ok(match b {
                WindowFrameBound::CurrentRow => Some(0),
                WindowFrameBound::Preceding(v) if v.is_null() => None,
                WindowFrameBound::Following(v) if v.is_null() => None,
                WindowFrameBound::Preceding(v) => Some(-frame_offset(v)?),
                WindowFrameBound::Following(v) => Some(frame_offset(v)?),
            })
        };
        let offset = |b: &WindowFrameBound| matches!(b, WindowFrameBound::Preceding(v) | WindowFrameBound::Following(v) if !v.is_null());
        if f.units == WindowFrameUnits::Range && !order.is_empty() && (offset(&f.start_bound) || offset(&f.end_bound)) {
            let frame = self.range_frame(&params.order_by, &f.start_bound, &f.end_bound)?;
            return Ok((partition, order, WindowExpr { func: self.window_func(fun, params, e)?, args, frame }));
        }
        let (start, end) = (bound(&f.start_bound)?, bound(&f.end_bound)?);
        let frame = match (f.units, start, end) {
            (_, None, None) => WindowFrame::Partition,
            (_, _, _) if order.is_empty() && f.units != WindowFrameUnits::Rows => WindowFrame::Partition,
            (WindowFrameUnits::Range, None, Some(0)) => WindowFrame::RangeToCurrent,
            (WindowFrameUnits::Rows, s, e) => WindowFrame::Rows { start: s, end: e },
            _ => return Err(unsupported("this window frame (GROUPS with offsets)")),
        };
        Ok((partition, order, WindowExpr { func: self.window_func(fun, params, e)?, args, frame }))
    }

    /// `RANGE BETWEEN .. PRECEDING/FOLLOWING ..`: offsets from the one
    /// ORDER BY key's value (see `eddy_engine::expr::RangeFrame`).
    fn range_frame(&self, order_by: &[Sort], start: &WindowFrameBound, end: &WindowFrameBound) -> Result<WindowFrame, SqlError> {
        let [key] = order_by else {
            return Err(SqlError::new("42P20", "RANGE with offset PRECEDING/FOLLOWING requires exactly one ORDER BY column"));
        };
        let key_type = self.type_of(&key.expr)?;
        let side = |b: &WindowFrameBound| -> Result<Option<RangeOffset>, SqlError> {
            let (v, following) = match b {
                WindowFrameBound::CurrentRow => return Ok(Some(RangeOffset { offset: None, following: false })),
                WindowFrameBound::Preceding(v) | WindowFrameBound::Following(v) if v.is_null() => return Ok(None),
                WindowFrameBound::Preceding(v) => (v, false),
                WindowFrameBound::Following(v) => (v, true),
            };
            let (offset, _) = literal(v)?;
            let negative = match &offset {
                Datum::Int(i) => *i < 0,
                Datum::Numeric(n) => n.is_sign_negative() && !n.is_zero(),
                Datum::Float(f) => f.0 < 0.0,
                Datum::Interval(iv) => iv.months < 0 || iv.days < 0 || iv.micros < 0,
                _ => false,
            };
            if negative {
                return Err(SqlError::new("22013", "invalid preceding or following size in window function"));
            }
            Ok(Some(RangeOffset { offset: Some(offset), following }))
        };
        Ok(WindowFrame::Range(RangeFrame { start: side(start)?, end: side(end)?, key_type }))
    }

    fn window_func(&self, fun: &WindowFunctionDefinition, params: &datafusion_expr::expr::WindowFunctionParams, e: &Expr) -> Result<WindowFunc, SqlError> {
        Ok(match fun {
            WindowFunctionDefinition::WindowUDF(udf) => match udf.name() {
                "row_number" => WindowFunc::RowNumber,
                "rank" => WindowFunc::Rank,
                "dense_rank" => WindowFunc::DenseRank,
                "lag" => WindowFunc::Lag,
                "lead" => WindowFunc::Lead,
                "first_value" => WindowFunc::FirstValue,
                "last_value" => WindowFunc::LastValue,
                "nth_value" => WindowFunc::NthValue,
                "ntile" => WindowFunc::Ntile,
                "percent_rank" => WindowFunc::PercentRank,
                "cume_dist" => WindowFunc::CumeDist,
                other => return Err(unsupported(format!("window function {}", other))),
            },
            WindowFunctionDefinition::AggregateUDF(udaf) => {
                WindowFunc::Aggregate(self.aggregate_call(udaf.name(), &params.args, params.distinct, params.filter.as_deref(), &[], self.type_of(e)?)?)
            }
        })
    }
}

fn frame_offset(v: &ScalarValue) -> Result<i64, SqlError> {
    match literal(v)?.0 {
        Datum::Int(i) => Ok(i),
        Datum::Numeric(d) => Ok(d.trunc().try_into().unwrap_or(0)),
        _ => Err(unsupported("a non-integer window frame offset")),
    }
}

pub fn strip_alias(e: &Expr) -> &Expr {
    match e {
        Expr::Alias(a) => strip_alias(&a.expr),
        other => other,
    }
}

pub fn and(mut exprs: Vec<ScalarExpr>) -> ScalarExpr {
    if exprs.len() == 1 {
        return exprs.pop().unwrap();
    }
    ScalarExpr::CallVariadic { func: VariadicFunc::And, exprs }
}

fn aggregate_func(name: &str) -> Result<AggregateFunc, SqlError> {
    Ok(match name {
        "count" => AggregateFunc::Count,
        "sum" => AggregateFunc::Sum,
        "avg" | "mean" => AggregateFunc::Avg,
        "min" => AggregateFunc::Min,
        "max" => AggregateFunc::Max,
        "bool_and" | "every" => AggregateFunc::BoolAnd,
        "bool_or" => AggregateFunc::BoolOr,
        "string_agg" => AggregateFunc::StringAgg,
        "array_agg" => AggregateFunc::ArrayAgg,
        "stddev" | "stddev_samp" => AggregateFunc::StddevSamp,
        "stddev_pop" => AggregateFunc::StddevPop,
        "var_samp" | "variance" | "var" => AggregateFunc::VarSamp,
        "var_pop" => AggregateFunc::VarPop,
        "first_value" => AggregateFunc::FirstValue,
        "last_value" => AggregateFunc::LastValue,
        "percentile_cont" => AggregateFunc::PercentileCont,
        "percentile_disc" => AggregateFunc::PercentileDisc,
        "mode" => AggregateFunc::Mode,
        "jsonb_agg" | "json_agg" => AggregateFunc::JsonbAgg,
        "jsonb_object_agg" | "json_object_agg" => AggregateFunc::JsonbObjectAgg,
        "corr" => AggregateFunc::Stat(Stat::Corr),
        "covar_pop" => AggregateFunc::Stat(Stat::CovarPop),
        "covar_samp" | "covar" => AggregateFunc::Stat(Stat::CovarSamp),
        "regr_slope" => AggregateFunc::Stat(Stat::RegrSlope),
        "regr_intercept" => AggregateFunc::Stat(Stat::RegrIntercept),
        "regr_count" => AggregateFunc::Stat(Stat::RegrCount),
        "regr_r2" => AggregateFunc::Stat(Stat::RegrR2),
        "regr_avgx" => AggregateFunc::Stat(Stat::RegrAvgX),
        "regr_avgy" => AggregateFunc::Stat(Stat::RegrAvgY),
        "regr_sxx" => AggregateFunc::Stat(Stat::RegrSxx),
        "regr_syy" => AggregateFunc::Stat(Stat::RegrSyy),
        "regr_sxy" => AggregateFunc::Stat(Stat::RegrSxy),
        crate::plan::subquery::SINGLE_VALUE => AggregateFunc::Single,
        other => return Err(unsupported(format!("aggregate function {}", other))),
    })
}

/// Maps a DataFusion function name onto the engine's function.
fn scalar_function(name: &str, mut args: Vec<ScalarExpr>, out: ScalarType, maintained: bool) -> Result<ScalarExpr, SqlError> {
    use ScalarExpr as E;
    let unary = |f: UnaryFunc, mut args: Vec<ScalarExpr>| Ok(args.remove(0).call_unary(f));
    let variadic = |func: VariadicFunc, exprs: Vec<ScalarExpr>| Ok(E::CallVariadic { func, exprs });
    let binary = |f: BinaryFunc, mut args: Vec<ScalarExpr>| {
        let b = args.remove(1);
        Ok(args.remove(0).call_binary(f, b))
    };
    match name {
        "abs" => unary(UnaryFunc::Abs(out), args),
        "upper" => unary(UnaryFunc::Upper, args),
        "lower" => unary(UnaryFunc::Lower, args),
        "length" | "char_length" | "character_length" => unary(UnaryFunc::CharLength, args),
        "octet_length" => unary(UnaryFunc::OctetLength, args),
        "initcap" => unary(UnaryFunc::InitCap, args),
        "reverse" => unary(UnaryFunc::Reverse, args),
        "ceil" | "ceiling" => unary(UnaryFunc::Ceil, args),
        "floor" => unary(UnaryFunc::Floor, args),
        "sqrt" => unary(UnaryFunc::Sqrt, args),
        "pi" => Ok(E::Literal(Datum::float(std::f64::consts::PI), ScalarType::Float64)),
        "width_bucket" => variadic(VariadicFunc::WidthBucket, args),
        "num_nulls" | "num_nonnulls" => variadic(VariadicFunc::NumNulls { nonnull: name == "num_nonnulls" }, args),
        "pg_size_pretty" => variadic(VariadicFunc::SizePretty, args),
        "bit_length" => Ok(args.remove(0).call_unary(UnaryFunc::OctetLength).call_binary(BinaryFunc::Mul(ScalarType::Int32), E::Literal(Datum::Int(8), ScalarType::Int32))),
        // The quotient truncated toward zero.
        "div" => Ok(E::CallBinary { func: BinaryFunc::Div(out), a: Box::new(args.remove(0)), b: Box::new(args.remove(0)) }.call_binary(BinaryFunc::Trunc, E::Literal(Datum::Int(0), ScalarType::Int64))),
        // overlay(s PLACING r FROM start [FOR count]): s's text before
        // start, r, then s's text after the count characters replaced
        // (count defaults to r's length).
        "overlay" => {
            let int = |i: i64| E::Literal(Datum::Int(i), ScalarType::Int64);
            let count = if args.len() == 4 { args.pop().unwrap() } else { args[1].clone().call_unary(UnaryFunc::CharLength) };
            let (s, r, start) = (args[0].clone(), args[1].clone(), args[2].clone());
            let before = E::CallVariadic { func: VariadicFunc::Substr, exprs: vec![s.clone(), int(1), start.clone().call_binary(BinaryFunc::Sub(ScalarType::Int64), int(1))] };
            let after = E::CallVariadic { func: VariadicFunc::Substr, exprs: vec![s, start.call_binary(BinaryFunc::Add(ScalarType::Int64), count)] };
            Ok(before.call_binary(BinaryFunc::TextConcat, r).call_binary(BinaryFunc::TextConcat, after))
        }
        "make_timestamptz" => {
            let zone = (args.len() == 7).then(|| args.pop()).flatten();
            let local = E::CallVariadic { func: VariadicFunc::MakeTimestamp, exprs: args };
            Ok(match zone {
                // The wall-clock time in that zone: the instant it names.
                Some(z) => local.call_binary(BinaryFunc::AtTimeZone, z),
                None => local.call_unary(UnaryFunc::Cast(ScalarType::TimestampTz)),
            })
        }
        f if eddy_engine::expr::FloatFn::by_name(f).is_some() => unary(UnaryFunc::Float(eddy_engine::expr::FloatFn::by_name(f).unwrap()), args),
        "ln" => unary(UnaryFunc::Ln, args),
        "log10" => unary(UnaryFunc::Log10, args),
        "log" if args.len() == 1 => unary(UnaryFunc::Log10, args),
        "log" => binary(BinaryFunc::Log, args),
        "chr" => unary(UnaryFunc::Chr, args),
        "quote_ident" => unary(UnaryFunc::QuoteIdent, args),
        "exp" => unary(UnaryFunc::Exp, args),
        "mod" => binary(BinaryFunc::Mod(out), args),
        "justify_days" => unary(UnaryFunc::JustifyDays, args),
        "justify_hours" => unary(UnaryFunc::JustifyHours, args),
        "justify_interval" => unary(UnaryFunc::JustifyInterval, args),
        "make_date" => variadic(VariadicFunc::MakeDate, args),
        "make_timestamp" => variadic(VariadicFunc::MakeTimestamp, args),
        "make_interval" => variadic(VariadicFunc::MakeInterval, args),
        super::pg_functions::INTERVAL_MUL => binary(BinaryFunc::Mul(ScalarType::Interval), args),
        super::pg_functions::INTERVAL_DIV => binary(BinaryFunc::Div(ScalarType::Interval), args),
        "signum" | "sign" => unary(UnaryFunc::Sign, args),
        "round" | "trunc" => {
            let f = if name == "round" { BinaryFunc::Round } else { BinaryFunc::Trunc };
            if args.len() == 1 {
                args.push(E::Literal(Datum::Int(0), ScalarType::Int64));
            }
            binary(f, args)
        }
        "power" | "pow" => binary(BinaryFunc::Power, args),
        "nullif" => binary(BinaryFunc::NullIf, args),
        "date_part" | "datepart" => binary(BinaryFunc::DatePart { numeric: false }, args),
        super::pg_functions::EXTRACT => binary(BinaryFunc::DatePart { numeric: true }, args),
        // date_trunc(field, value, zone): truncated in the zone's local time.
        "date_trunc" if args.len() == 3 => variadic(VariadicFunc::DateTruncZone, args),
        "date_trunc" => binary(BinaryFunc::DateTrunc, args),
        "age" => {
            if args.len() == 1 {
                // age(x) is age(current_date, x): it moves with the clock.
                if maintained {
                    return Err(unsupported("age(timestamp) in a materialized view").with_hint("a view's contents must depend only on its inputs: write age(later, earlier) with both timestamps"));
                }
                let today = chrono::Utc::now().timestamp_micros().div_euclid(Interval::MICROS_PER_DAY) * Interval::MICROS_PER_DAY;
                args.insert(0, E::Literal(Datum::Timestamp(today), ScalarType::Timestamp));
            }
            binary(BinaryFunc::Age, args)
        }
        "md5" => unary(UnaryFunc::Md5, args),
        "gen_random_uuid" => {
            if maintained {
                return Err(unsupported("gen_random_uuid() in a materialized view").with_hint("a view's contents must depend only on its inputs: give each row its id when it is written"));
            }
            variadic(VariadicFunc::GenRandomUuid, args)
        }
        "format" => variadic(VariadicFunc::Format, args),
        "to_json" | "to_jsonb" => unary(UnaryFunc::ToJsonb, args),
        "jsonb_build_array" | "json_build_array" => variadic(VariadicFunc::JsonbBuildArray, args),
        super::pg_functions::SUBSTRING_REGEX => binary(BinaryFunc::RegexpSubstring, args),
        "date_bin" => variadic(VariadicFunc::DateBin, args),
        // The session time zone is UTC: UTC shifts nothing, so that
        // conversion is the cast between the two timestamp types.
        crate::rewrite::AT_TIME_ZONE => match &args[1] {
            E::Literal(Datum::Text(z), _) if crate::settings::is_utc(z) => unary(UnaryFunc::Cast(out), args),
            E::Literal(Datum::Text(z), _) => match eddy_engine::expr::parse_zone(z) {
                Ok(_) => binary(BinaryFunc::AtTimeZone, args),
                Err(e) => Err(SqlError::from(e).with_hint("name an IANA time zone, e.g. 'Europe/Berlin' or 'America/New_York'")),
            },
            _ => binary(BinaryFunc::AtTimeZone, args),
        },
        super::pg_functions::JSON_GET => binary(BinaryFunc::JsonGet { text: false }, args),
        super::pg_functions::JSONB_CONCAT => binary(BinaryFunc::JsonbConcat, args),
        super::pg_functions::JSONB_EXISTS => binary(BinaryFunc::JsonbExists, args),
        super::pg_functions::JSONB_CONTAINS => binary(BinaryFunc::JsonbContains, args),
        super::pg_functions::JSON_PATH => binary(BinaryFunc::JsonPath { text: false }, args),
        super::pg_functions::JSON_PATH_TEXT => binary(BinaryFunc::JsonPath { text: true }, args),
        super::pg_functions::JSONB_DELETE => binary(BinaryFunc::JsonbDelete, args),
        super::pg_functions::JSONB_DELETE_PATH => binary(BinaryFunc::JsonbDeletePath, args),
        "jsonb_set" => variadic(VariadicFunc::JsonbSet, args),
        "jsonb_insert" => variadic(VariadicFunc::JsonbInsert, args),
        "jsonb_extract_path" => variadic(VariadicFunc::JsonbExtractPath { text: false }, args),
        "jsonb_extract_path_text" => variadic(VariadicFunc::JsonbExtractPath { text: true }, args),
        "jsonb_strip_nulls" => unary(UnaryFunc::JsonbStripNulls, args),
        "jsonb_pretty" => unary(UnaryFunc::JsonbPretty, args),
        "jsonb_typeof" | "json_typeof" => unary(UnaryFunc::JsonbTypeof, args),
        "jsonb_build_object" | "json_build_object" => variadic(VariadicFunc::JsonbBuildObject, args),
        super::pg_functions::JSON_GET_TEXT => binary(BinaryFunc::JsonGet { text: true }, args),
        "jsonb_array_length" | "json_array_length" => unary(UnaryFunc::JsonbArrayLength, args),
        "left" => binary(BinaryFunc::Left, args),
        "right" => binary(BinaryFunc::Right, args),
        "repeat" => binary(BinaryFunc::Repeat, args),
        "strpos" | "instr" | "position" => binary(BinaryFunc::StrPos, args),
        "starts_with" => binary(BinaryFunc::StartsWith, args),
        "coalesce" => variadic(VariadicFunc::Coalesce, args),
        "greatest" => variadic(VariadicFunc::Greatest, args),
        "least" => variadic(VariadicFunc::Least, args),
        "concat" => variadic(VariadicFunc::Concat, args),
        "concat_ws" => variadic(VariadicFunc::ConcatWs, args),
        "substr" | "substring" => variadic(VariadicFunc::Substr, args),
        "replace" => variadic(VariadicFunc::Replace, args),
        "translate" => variadic(VariadicFunc::Translate, args),
        "regexp_replace" => variadic(VariadicFunc::RegexpReplace, args),
        "to_timestamp" if args.len() == 2 => binary(BinaryFunc::ParseTimestamp { date: false }, args),
        "to_date" => binary(BinaryFunc::ParseTimestamp { date: true }, args),
        "to_timestamp" => unary(UnaryFunc::ToTimestamp, args),
        "to_char" => binary(BinaryFunc::ToChar, args),
        "lpad" => variadic(VariadicFunc::Lpad, args),
        "rpad" => variadic(VariadicFunc::Rpad, args),
        "btrim" | "trim" => variadic(VariadicFunc::Btrim, args),
        "ltrim" => variadic(VariadicFunc::Ltrim, args),
        "rtrim" => variadic(VariadicFunc::Rtrim, args),
        "split_part" => variadic(VariadicFunc::SplitPart, args),
        "now" | "current_timestamp" | "current_date" | "current_time" => {
            if maintained {
                return Err(unsupported(format!("{}() in a materialized view", name)).with_hint("a view's contents must depend only on its inputs; filter on event timestamps instead"));
            }
            let now = chrono::Utc::now().timestamp_micros();
            Ok(match name {
                "current_date" => E::Literal(Datum::Date(now.div_euclid(Interval::MICROS_PER_DAY) as i32), ScalarType::Date),
                _ => E::Literal(Datum::TimestampTz(now), ScalarType::TimestampTz),
            })
        }
        other => Err(SqlError::new(crate::codes::FEATURE_NOT_SUPPORTED, format!("function {}() is not supported", other))),
    }
}

/// A DataFusion literal as a datum and its type.
pub fn literal(v: &ScalarValue) -> Result<(Datum, ScalarType), SqlError> {
    use ScalarValue as V;
    let ty = scalar_type_of_arrow(&v.data_type())?;
    if v.is_null() {
        return Ok((Datum::Null, ty));
    }
    let d = match v {
        V::Boolean(Some(b)) => Datum::Bool(*b),
        V::Int8(Some(i)) => Datum::Int(*i as i64),
        V::Int16(Some(i)) => Datum::Int(*i as i64),
        V::Int32(Some(i)) => Datum::Int(*i as i64),
        V::Int64(Some(i)) => Datum::Int(*i),
        V::UInt8(Some(i)) => Datum::Int(*i as i64),
        V::UInt16(Some(i)) => Datum::Int(*i as i64),
        V::UInt32(Some(i)) => Datum::Int(*i as i64),
        V::UInt64(Some(i)) => Datum::Int(*i as i64),
        V::Float32(Some(f)) => Datum::float(*f as f64),
        V::Float64(Some(f)) => Datum::float(*f),
        V::Decimal128(Some(v), _, s) => Datum::Numeric(decimal_literal(*v, *s)?),
        V::Utf8(Some(s)) | V::LargeUtf8(Some(s)) | V::Utf8View(Some(s)) => Datum::Text(s.clone().into()),
        V::Date32(Some(d)) => Datum::Date(*d),
        V::TimestampMicrosecond(Some(t), tz) => ts(*t, tz.is_some()),
        V::TimestampMillisecond(Some(t), tz) => ts(*t * 1000, tz.is_some()),
        V::TimestampSecond(Some(t), tz) => ts(*t * 1_000_000, tz.is_some()),
        V::TimestampNanosecond(Some(t), tz) => ts(*t / 1000, tz.is_some()),
        V::IntervalMonthDayNano(Some(iv)) => Datum::Interval(Interval { months: iv.months, days: iv.days, micros: iv.nanoseconds / 1000 }),
        V::IntervalYearMonth(Some(m)) => Datum::Interval(Interval { months: *m, days: 0, micros: 0 }),
        V::IntervalDayTime(Some(dt)) => Datum::Interval(Interval { months: 0, days: dt.days, micros: dt.milliseconds as i64 * 1000 }),
        // A bound array parameter: its elements one by one.
        V::List(list) if datafusion_common::arrow::array::Array::len(list.as_ref()) == 1 => {
            let values = list.value(0);
            let items = (0..datafusion_common::arrow::array::Array::len(values.as_ref())).map(|i| ScalarValue::try_from_array(&values, i).map_err(|e| SqlError::internal(e.to_string())).and_then(|v| literal(&v).map(|(d, _)| d)));
            Datum::Array(items.collect::<Result<_, _>>()?)
        }
        other => return Err(unsupported(format!("literal {}", other))),
    };
    Ok((d, ty))
}

/// A DataFusion decimal `v * 10^-s` as a numeric; a negative scale (`1e3`)
/// gives an integer.
fn decimal_literal(v: i128, s: i8) -> Result<Decimal, SqlError> {
    let overflow = || SqlError::new(crate::codes::NUMERIC_VALUE_OUT_OF_RANGE, "value overflows numeric format");
    if s >= 0 {
        return Decimal::try_from_i128_with_scale(v, s as u32).map_err(|_| overflow());
    }
    let factor = 10i128.checked_pow(s.unsigned_abs() as u32).ok_or_else(overflow)?;
    Decimal::try_from_i128_with_scale(v.checked_mul(factor).ok_or_else(overflow)?, 0).map_err(|_| overflow())
}

fn ts(us: i64, tz: bool) -> Datum {
    if tz {
        Datum::TimestampTz(us)
    } else {
        Datum::Timestamp(us)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_schema::DataType;
    use datafusion_expr::{lit, Cast};

    fn eval(e: Expr) -> String {
        let schema = DFSchema::empty();
        let none = HashMap::new();
        let lowered = ExprLowerer { schema: &schema, subqueries: &none, maintained: false }.lower(&e).unwrap();
        let d = lowered.eval(&[]).unwrap();
        eddy_engine::repr::format_datum(&d, ScalarType::Text).unwrap_or_else(|| "NULL".into())
    }

    fn cast(e: Expr, to: DataType) -> Expr {
        Expr::Cast(Cast::new(Box::new(e), to))
    }

    #[test]
    fn decimal_literals_with_negative_scale_are_integers() {
        assert_eq!(eval(lit(ScalarValue::Decimal128(Some(1), 1, -3))), "1000");
        assert_eq!(eval(lit(ScalarValue::Decimal128(Some(150), 3, 2))), "1.50");
    }

    #[test]
    fn case_branches_keep_their_own_numeric_scale() {
        let dec = DataType::Decimal128(8, 3);
        let case = |cond: bool| Expr::Case(Case::new(None, vec![(Box::new(lit(cond)), Box::new(cast(lit(7i64), dec.clone())))], Some(Box::new(lit(ScalarValue::Decimal128(Some(2500), 8, 3))))));
        assert_eq!(eval(case(true)), "7");
        assert_eq!(eval(case(false)), "2.500");
        // An explicit cast (planned as a TryCast) applies the type's scale.
        assert_eq!(eval(Expr::TryCast(datafusion_expr::TryCast::new(Box::new(lit(7i64)), dec))), "7.000");
    }

    #[test]
    fn concat_prints_booleans_as_their_output_function_does() {
        let concat = Expr::ScalarFunction(datafusion_expr::expr::ScalarFunction::new_udf(super::super::context::FUNCTIONS.scalars["concat"].clone(), vec![lit("x"), cast(lit(true), DataType::Utf8)]));
        assert_eq!(eval(concat), "xt");
        assert_eq!(eval(cast(lit(true), DataType::Utf8)), "true");
    }
}
