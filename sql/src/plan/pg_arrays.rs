//! Arrays as DataFusion plans them and the engine evaluates them.
//!
//! An array is an Arrow `List` to DataFusion and a `Datum::Array` to the
//! engine ([`eddy_engine::expr::ArrayFunc`] holds the semantics). Here:
//! - the array functions PostgreSQL has, as DataFusion functions that only
//!   type their calls ([`array_functions`]): `array_length`, `cardinality`,
//!   `array_to_string`, `string_to_array`, `array_append`, ...;
//! - the syntax that becomes calls of them: `ARRAY[...]` and `a[i]`,
//!   `a[i:j]` (planned by `pg_functions::PgExprPlanner` as [`MAKE_ARRAY`],
//!   [`ARRAY_ELEMENT`], [`ARRAY_SLICE`]), the operators `||`, `@>`, `<@`,
//!   `&&` and comparisons of arrays ([`plan_operator`]), and
//!   `x op ANY (array)` / `ALL`, which `crate::rewrite` turns into a call
//!   of [`ARRAY_COMPARE`] before DataFusion sees it ([`type_any_parameters`]
//!   types its parameters);
//! - [`lower`]: such a call as an engine expression.
//!
//! Elements are coerced to one type as PostgreSQL resolves an ARRAY
//! constructor (`ARRAY[1, 2.5]` is numeric[]). What it does not do: arrays
//! of arrays, slices without both bounds, and `unnest` of several arrays
//! at once (the select list's unnest is DataFusion's Unnest node, lowered
//! in `lower.rs`).

use arrow_schema::{DataType, Field};
use datafusion_common::{plan_err, Result};
use datafusion_expr::expr::ScalarFunction;
use datafusion_common::DFSchemaRef;
use datafusion_expr::{ColumnarValue, Expr, ExprSchemable, LogicalPlan, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};
use eddy_engine::expr::{ArrayFunc, BinaryFunc, ScalarExpr, VariadicFunc};
use eddy_engine::repr::{Datum, ElementType};
use eddy_engine::ScalarType;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

/// What `ARRAY[...]`, `a[i]` and `a[i:j]` are planned as.
pub const MAKE_ARRAY: &str = "__eddy_make_array";
pub const ARRAY_ELEMENT: &str = "__eddy_array_element";
pub const ARRAY_SLICE: &str = "__eddy_array_slice";
/// `x op ANY (a)` is planned as `__eddy_array_compare(x, a, 'op', false)`
/// (`true` for ALL).
pub const ARRAY_COMPARE: &str = "__eddy_array_compare";
/// What `a @> b`, `a <@ b` and `a && b` of arrays are planned as.
pub const ARRAY_CONTAINS: &str = "__eddy_array_contains";
pub const ARRAY_CONTAINED_BY: &str = "__eddy_array_contained_by";
pub const ARRAY_OVERLAP: &str = "__eddy_array_overlap";

/// How a function's arguments are typed: which are arrays, which elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Shape {
    /// Any number of values of one type (`ARRAY[...]`).
    Elements,
    /// An array, then integers (`a[i]`, `array_length(a, 1)`).
    ArrayInts(usize),
    /// Two arrays of one element type (`array_cat`, `@>`).
    TwoArrays,
    /// An array and a value of its element type (`array_append`).
    ArrayValue,
    /// A value and an array (`array_prepend`).
    ValueArray,
    /// A value, an array, the operator's name and ALL (see [`ARRAY_COMPARE`]).
    Compare,
    /// An array and one or two texts (`array_to_string`).
    ArrayTexts,
    /// Two or three texts (`string_to_array`).
    Texts,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct ArrayUdf {
    name: &'static str,
    shape: Shape,
    signature: Signature,
}

fn element(t: &DataType) -> Option<&DataType> {
    match t {
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => Some(f.data_type()),
        _ => None,
    }
}

pub fn list_of(t: DataType) -> DataType {
    DataType::List(Arc::new(Field::new("item", t, true)))
}

/// The type values of `types` meet in (NULLs take the others' type; all
/// NULL is text, as PostgreSQL reads unknown literals).
fn common(name: &str, types: &[DataType]) -> Result<DataType> {
    let mut out = DataType::Null;
    for t in types.iter().filter(|t| **t != DataType::Null) {
        out = if out == DataType::Null {
            t.clone()
        } else {
            match datafusion_expr::type_coercion::binary::comparison_coercion(&out, t) {
                Some(c) => c,
                None => return plan_err!("{} types {} and {} cannot be matched", name, crate::types::type_name_of_arrow(&out), crate::types::type_name_of_arrow(t)),
            }
        };
    }
    Ok(if out == DataType::Null { DataType::Utf8 } else { out })
}

/// An array argument's type: an untyped NULL is a NULL text[].
fn array_arg(t: &DataType) -> DataType {
    if *t == DataType::Null {
        list_of(DataType::Utf8)
    } else {
        t.clone()
    }
}

/// An integer value beside an array of integers takes the array's element
/// type (`array_append(integer[], 7)` is integer[], as PostgreSQL reads
/// the literal); other pairs meet in `common`.
fn element_wins(common: DataType, elem: &DataType, value: &DataType) -> DataType {
    if elem.is_integer() && value.is_integer() {
        elem.clone()
    } else {
        common
    }
}

impl ArrayUdf {
    fn wrong_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        let names: Vec<String> = args.iter().map(crate::types::type_name_of_arrow).collect();
        plan_err!("function {}({}) does not exist", self.name.trim_start_matches("__eddy_"), names.join(", "))
    }

    /// The element type of the array at `i` (an untyped NULL counts as an
    /// array of the other side's type; a text literal beside an array was
    /// cast to it by [`plan_operator`]).
    fn elem_at(&self, args: &[DataType], i: usize) -> Option<DataType> {
        match &args[i] {
            DataType::Null => Some(DataType::Null),
            t => element(t).cloned(),
        }
    }
}

impl ScalarUDFImpl for ArrayUdf {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        let n = args.len();
        Ok(match self.shape {
            Shape::Elements => vec![common("ARRAY", args)?; n],
            Shape::ArrayInts(k) if n == k + 1 && self.elem_at(args, 0).is_some() => [vec![array_arg(&args[0])], vec![DataType::Int64; k]].concat(),
            Shape::TwoArrays if n == 2 => match (self.elem_at(args, 0), self.elem_at(args, 1)) {
                (Some(a), Some(b)) => vec![list_of(common(self.name, &[a, b])?); 2],
                _ => return self.wrong_types(args),
            },
            Shape::ArrayValue if n == 2 => match self.elem_at(args, 0) {
                Some(a) => {
                    let t = element_wins(common(self.name, &[a.clone(), args[1].clone()])?, &a, &args[1]);
                    vec![list_of(t.clone()), t]
                }
                None => return self.wrong_types(args),
            },
            Shape::ValueArray if n == 2 => match self.elem_at(args, 1) {
                Some(a) => {
                    let t = element_wins(common(self.name, &[args[0].clone(), a.clone()])?, &a, &args[0]);
                    vec![t.clone(), list_of(t)]
                }
                None => return self.wrong_types(args),
            },
            Shape::Compare if n == 4 => match self.elem_at(args, 1) {
                Some(a) => {
                    let t = common("ANY/ALL", &[args[0].clone(), a])?;
                    vec![t.clone(), list_of(t), DataType::Utf8, DataType::Boolean]
                }
                // `x = ANY('{1,2}')`: the literal is read as an array of x's type.
                None if matches!(args[1], DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8) && !matches!(args[0], DataType::Null) => {
                    vec![args[0].clone(), list_of(args[0].clone()), DataType::Utf8, DataType::Boolean]
                }
                None => return plan_err!("op ANY/ALL (array) requires array on right side"),
            },
            Shape::ArrayTexts if (2..=3).contains(&n) && self.elem_at(args, 0).is_some() => [vec![array_arg(&args[0])], vec![DataType::Utf8; n - 1]].concat(),
            Shape::Texts if (2..=3).contains(&n) => vec![DataType::Utf8; n],
            _ => return self.wrong_types(args),
        })
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        let array = |i: usize| args.get(i).cloned().unwrap_or(DataType::Null);
        Ok(match self.name {
            MAKE_ARRAY => list_of(args.first().cloned().unwrap_or(DataType::Utf8)),
            ARRAY_ELEMENT => element(&array(0)).cloned().unwrap_or(DataType::Utf8),
            ARRAY_COMPARE | ARRAY_CONTAINS | ARRAY_CONTAINED_BY | ARRAY_OVERLAP => DataType::Boolean,
            "array_position" | "array_length" | "array_upper" | "array_lower" | "cardinality" => DataType::Int32,
            "array_to_string" => DataType::Utf8,
            "string_to_array" | "regexp_match" | "regexp_split_to_array" => list_of(DataType::Utf8),
            "array_prepend" => array(1),
            // a slice, array_append, array_remove, array_cat
            _ => array(0),
        })
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        datafusion_common::internal_err!("{}() is evaluated by eddy's engine, not DataFusion", self.name)
    }
}

/// The array functions to register with DataFusion, by name.
pub fn array_functions() -> Vec<(&'static str, Arc<ScalarUDF>)> {
    let defs = [
        (MAKE_ARRAY, Shape::Elements),
        (ARRAY_ELEMENT, Shape::ArrayInts(1)),
        (ARRAY_SLICE, Shape::ArrayInts(2)),
        (ARRAY_COMPARE, Shape::Compare),
        (ARRAY_CONTAINS, Shape::TwoArrays),
        (ARRAY_CONTAINED_BY, Shape::TwoArrays),
        (ARRAY_OVERLAP, Shape::TwoArrays),
        ("array_length", Shape::ArrayInts(1)),
        ("array_upper", Shape::ArrayInts(1)),
        ("array_lower", Shape::ArrayInts(1)),
        ("cardinality", Shape::ArrayInts(0)),
        ("array_to_string", Shape::ArrayTexts),
        ("string_to_array", Shape::Texts),
        ("array_position", Shape::ArrayValue),
        ("array_append", Shape::ArrayValue),
        ("array_remove", Shape::ArrayValue),
        ("array_prepend", Shape::ValueArray),
        ("array_cat", Shape::TwoArrays),
        ("regexp_match", Shape::Texts),
        ("regexp_split_to_array", Shape::Texts),
    ];
    defs.into_iter().map(|(name, shape)| (name, Arc::new(ScalarUDF::new_from_impl(ArrayUdf { name, shape, signature: Signature::user_defined(Volatility::Immutable) })))).collect()
}

static ARRAY_FUNCTIONS: LazyLock<HashMap<&'static str, Arc<ScalarUDF>>> = LazyLock::new(|| array_functions().into_iter().collect());

pub fn call(name: &str, args: Vec<Expr>) -> Expr {
    Expr::ScalarFunction(ScalarFunction::new_udf(ARRAY_FUNCTIONS[name].clone(), args))
}

/// `left op right` where one side is an array, if `op` is an array
/// operator: `||` (of two arrays, or an array and an element), `@>`,
/// `<@` and `&&`, and comparisons. A quoted literal beside an array is an
/// array of its type (`tags @> '{red}'`, `scores = '{}'`), except beside
/// `||`, where only a literal in braces is (`tags || 'x'` appends `x`).
pub fn plan_operator(op: &sqlparser::ast::BinaryOperator, left: &Expr, lt: &DataType, right: &Expr, rt: &DataType) -> Option<Expr> {
    use sqlparser::ast::BinaryOperator as B;
    let literal = |e: &Expr, t: &DataType| matches!(e, Expr::Literal(..)) && *t == DataType::Utf8;
    let braced = |e: &Expr| matches!(e, Expr::Literal(datafusion_common::ScalarValue::Utf8(Some(s)), _) if s.trim_start().starts_with('{'));
    let as_array = |e: &Expr, t: &DataType, to: &DataType| if literal(e, t) { Expr::Cast(datafusion_expr::Cast::new(Box::new(e.clone()), to.clone())) } else { e.clone() };
    let (l, r) = (as_array(left, lt, rt), as_array(right, rt, lt));
    let (la, ra) = (is_array(lt), is_array(rt));
    Some(match op {
        B::StringConcat if (la && ra) || (la && braced(right)) || (ra && braced(left)) => call("array_cat", vec![l, r]),
        B::StringConcat if la => call("array_append", vec![left.clone(), right.clone()]),
        B::StringConcat => call("array_prepend", vec![left.clone(), right.clone()]),
        B::AtArrow => call(ARRAY_CONTAINS, vec![l, r]),
        B::ArrowAt => call(ARRAY_CONTAINED_BY, vec![l, r]),
        B::PGOverlap => call(ARRAY_OVERLAP, vec![l, r]),
        B::Eq | B::NotEq | B::Lt | B::LtEq | B::Gt | B::GtEq if literal(left, lt) || literal(right, rt) => {
            let op = match op {
                B::Eq => datafusion_expr::Operator::Eq,
                B::NotEq => datafusion_expr::Operator::NotEq,
                B::Lt => datafusion_expr::Operator::Lt,
                B::LtEq => datafusion_expr::Operator::LtEq,
                B::Gt => datafusion_expr::Operator::Gt,
                _ => datafusion_expr::Operator::GtEq,
            };
            Expr::BinaryExpr(datafusion_expr::BinaryExpr::new(Box::new(l), op, Box::new(r)))
        }
        _ => return None,
    })
}

/// Types the parameters of `x op ANY ($n)` as PostgreSQL does, from the
/// other side: `$n` an array of `x`'s type, or `x` (a parameter) the
/// array's element type. DataFusion types parameters beside operators,
/// not in function calls.
pub fn type_any_parameters(plan: LogicalPlan) -> Result<LogicalPlan> {
    use datafusion_common::tree_node::{Transformed, TreeNode};
    plan.transform_up_with_subqueries(|p| {
        let schemas: Vec<DFSchemaRef> = p.inputs().iter().map(|i| i.schema().clone()).collect();
        let type_of = |e: &Expr| schemas.iter().find_map(|s| e.get_type(s).ok());
        p.map_expressions(|e| {
            e.transform_up(|e| {
                let Expr::ScalarFunction(mut f) = e else { return Ok(Transformed::no(e)) };
                if f.func.name() != ARRAY_COMPARE || f.args.len() != 4 {
                    return Ok(Transformed::no(Expr::ScalarFunction(f)));
                }
                let untyped = |e: &Expr| matches!(e, Expr::Placeholder(p) if p.field.is_none());
                let field = |t: DataType| Some(Arc::new(Field::new("", t, true)));
                if untyped(&f.args[1]) {
                    if let (Some(t), Expr::Placeholder(p)) = (type_of(&f.args[0]), &mut f.args[1]) {
                        p.field = field(list_of(t));
                    }
                } else if untyped(&f.args[0]) {
                    if let (Some(t), Expr::Placeholder(p)) = (type_of(&f.args[1]).as_ref().and_then(element).cloned(), &mut f.args[0]) {
                        p.field = field(t);
                    }
                }
                Ok(Transformed::yes(Expr::ScalarFunction(f)))
            })
        })
    })
    .map(|t| t.data)
}

/// Whether `name` is one of [`array_functions`] (which [`lower`] lowers).
pub fn is_array_function(name: &str) -> bool {
    ARRAY_FUNCTIONS.contains_key(name)
}

/// Whether `t` is an array type.
pub fn is_array(t: &DataType) -> bool {
    element(t).is_some()
}

/// The engine's expression for a call of one of [`array_functions`], or
/// `None` when `name` is not one. `arg_types` are the call's argument
/// types as eddy reads them.
pub fn lower(name: &str, mut args: Vec<ScalarExpr>, arg_types: &[ScalarType]) -> Option<Result<ScalarExpr, crate::SqlError>> {
    let func = match name {
        MAKE_ARRAY => ArrayFunc::Make,
        ARRAY_ELEMENT => ArrayFunc::Element,
        ARRAY_SLICE => ArrayFunc::Slice,
        ARRAY_CONTAINS => ArrayFunc::Contains,
        ARRAY_CONTAINED_BY => ArrayFunc::ContainedBy,
        ARRAY_OVERLAP => ArrayFunc::Overlap,
        "array_length" => ArrayFunc::Length,
        "array_upper" => ArrayFunc::Upper,
        "array_lower" => ArrayFunc::Lower,
        "cardinality" => ArrayFunc::Cardinality,
        "array_to_string" => ArrayFunc::ToString(match arg_types.first() {
            Some(ScalarType::Array(e)) => *e,
            _ => ElementType::Text,
        }),
        "string_to_array" => ArrayFunc::FromString,
        "array_position" => ArrayFunc::Position,
        "array_append" => ArrayFunc::Append,
        "array_remove" => ArrayFunc::Remove,
        "array_prepend" => ArrayFunc::Prepend,
        "array_cat" => ArrayFunc::Cat,
        "regexp_match" => ArrayFunc::RegexpMatch,
        "regexp_split_to_array" => ArrayFunc::RegexpSplit,
        ARRAY_COMPARE => {
            let (Some(ScalarExpr::Literal(Datum::Bool(all), _)), Some(ScalarExpr::Literal(Datum::Text(op), _))) = (args.pop(), args.pop()) else {
                return Some(Err(crate::SqlError::internal("ANY/ALL without its operator")));
            };
            let op = match op.as_str() {
                "=" => BinaryFunc::Eq,
                "<>" | "!=" => BinaryFunc::NotEq,
                "<" => BinaryFunc::Lt,
                "<=" => BinaryFunc::Lte,
                ">" => BinaryFunc::Gt,
                ">=" => BinaryFunc::Gte,
                other => return Some(Err(crate::SqlError::unsupported(format!("operator {} with ANY or ALL", other)))),
            };
            ArrayFunc::Compare { op, all }
        }
        _ => return None,
    };
    Some(Ok(ScalarExpr::CallVariadic { func: VariadicFunc::Array(func), exprs: args }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_meet_in_one_type() {
        let make = &ARRAY_FUNCTIONS[MAKE_ARRAY];
        let types = make.coerce_types(&[DataType::Int64, DataType::Null, DataType::Decimal128(3, 1)]).unwrap();
        assert!(types.iter().all(|t| matches!(t, DataType::Decimal128(..))));
        assert_eq!(make.return_type(&[DataType::Int64]).unwrap(), list_of(DataType::Int64));
        let length = &ARRAY_FUNCTIONS["array_length"];
        assert!(length.coerce_types(&[DataType::Int64, DataType::Int64]).is_err());
        assert_eq!(length.return_type(&[list_of(DataType::Utf8), DataType::Int64]).unwrap(), DataType::Int32);
        assert_eq!(ARRAY_FUNCTIONS[ARRAY_ELEMENT].return_type(&[list_of(DataType::Utf8), DataType::Int64]).unwrap(), DataType::Utf8);
        assert_eq!(ARRAY_FUNCTIONS[ARRAY_CONTAINS].return_type(&[list_of(DataType::Utf8), list_of(DataType::Utf8)]).unwrap(), DataType::Boolean);
        assert_eq!(ARRAY_FUNCTIONS["array_cat"].return_type(&[list_of(DataType::Utf8), list_of(DataType::Utf8)]).unwrap(), list_of(DataType::Utf8));
    }
}
