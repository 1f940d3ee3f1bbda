//! Builders of scalar expressions, aggregates and plans, so that test plans
//! read like the SQL they stand for.

use eddy_engine::expr::{AggregateExpr, AggregateFunc, BinaryFunc, ScalarExpr, SortKey, UnaryFunc, VariadicFunc, WindowExpr, WindowFrame, WindowFunc};
use eddy_engine::plan::Plan;
use eddy_engine::{Datum, GlobalId, ScalarType};

pub const I64: ScalarType = ScalarType::Int64;
pub const NUMERIC: ScalarType = ScalarType::Numeric { precision: None, scale: None };

pub fn col(i: usize) -> ScalarExpr {
    ScalarExpr::Column(i)
}
pub fn int(i: i64) -> ScalarExpr {
    ScalarExpr::Literal(Datum::Int(i), I64)
}
pub fn text(s: &str) -> ScalarExpr {
    ScalarExpr::Literal(Datum::text(s), ScalarType::Text)
}
pub fn bin(func: BinaryFunc, a: ScalarExpr, b: ScalarExpr) -> ScalarExpr {
    a.call_binary(func, b)
}
pub fn add(a: ScalarExpr, b: ScalarExpr) -> ScalarExpr {
    bin(BinaryFunc::Add(I64), a, b)
}
pub fn sub(a: ScalarExpr, b: ScalarExpr) -> ScalarExpr {
    bin(BinaryFunc::Sub(I64), a, b)
}
pub fn mul(a: ScalarExpr, b: ScalarExpr) -> ScalarExpr {
    bin(BinaryFunc::Mul(I64), a, b)
}
pub fn div(a: ScalarExpr, b: ScalarExpr) -> ScalarExpr {
    bin(BinaryFunc::Div(I64), a, b)
}
pub fn modulo(a: ScalarExpr, b: ScalarExpr) -> ScalarExpr {
    bin(BinaryFunc::Mod(I64), a, b)
}
pub fn eq(a: ScalarExpr, b: ScalarExpr) -> ScalarExpr {
    bin(BinaryFunc::Eq, a, b)
}
pub fn ne(a: ScalarExpr, b: ScalarExpr) -> ScalarExpr {
    bin(BinaryFunc::NotEq, a, b)
}
pub fn gt(a: ScalarExpr, b: ScalarExpr) -> ScalarExpr {
    bin(BinaryFunc::Gt, a, b)
}
pub fn lt(a: ScalarExpr, b: ScalarExpr) -> ScalarExpr {
    bin(BinaryFunc::Lt, a, b)
}
pub fn concat(a: ScalarExpr, b: ScalarExpr) -> ScalarExpr {
    bin(BinaryFunc::TextConcat, a, b)
}
pub fn and(es: Vec<ScalarExpr>) -> ScalarExpr {
    ScalarExpr::CallVariadic { func: VariadicFunc::And, exprs: es }
}
pub fn or(es: Vec<ScalarExpr>) -> ScalarExpr {
    ScalarExpr::CallVariadic { func: VariadicFunc::Or, exprs: es }
}
pub fn coalesce(es: Vec<ScalarExpr>) -> ScalarExpr {
    ScalarExpr::CallVariadic { func: VariadicFunc::Coalesce, exprs: es }
}
pub fn is_null(e: ScalarExpr) -> ScalarExpr {
    e.call_unary(UnaryFunc::IsNull)
}
pub fn is_not_null(e: ScalarExpr) -> ScalarExpr {
    e.call_unary(UnaryFunc::IsNotNull)
}
pub fn case(cond: ScalarExpr, then: ScalarExpr, els: ScalarExpr) -> ScalarExpr {
    ScalarExpr::If { cond: Box::new(cond), then: Box::new(then), els: Box::new(els) }
}
pub fn asc(e: ScalarExpr) -> SortKey {
    // PostgreSQL's default: NULLS LAST for ascending order.
    SortKey { expr: e, desc: false, nulls_first: false }
}
pub fn desc(e: ScalarExpr) -> SortKey {
    // PostgreSQL's default: NULLS FIRST for descending order.
    SortKey { expr: e, desc: true, nulls_first: true }
}
pub fn sort(e: ScalarExpr, desc: bool, nulls_first: bool) -> SortKey {
    SortKey { expr: e, desc, nulls_first }
}

pub fn agg(func: AggregateFunc, args: Vec<ScalarExpr>, output: ScalarType) -> AggregateExpr {
    AggregateExpr { func, args, distinct: false, filter: None, order_by: vec![], output, exact_input: true }
}
pub fn count_star() -> AggregateExpr {
    agg(AggregateFunc::Count, vec![], I64)
}

pub fn win(func: WindowFunc, args: Vec<ScalarExpr>, frame: WindowFrame) -> WindowExpr {
    WindowExpr { func, args, frame }
}

pub fn get(id: GlobalId, arity: usize) -> Plan {
    Plan::Get { id, arity }
}
pub fn map(input: Plan, exprs: Vec<ScalarExpr>) -> Plan {
    Plan::Map { input: input.boxed(), exprs }
}
pub fn filter(input: Plan, predicates: Vec<ScalarExpr>) -> Plan {
    Plan::Filter { input: input.boxed(), predicates }
}
pub fn project(input: Plan, columns: Vec<usize>) -> Plan {
    Plan::Project { input: input.boxed(), columns }
}
pub fn join(left: Plan, right: Plan, left_key: Vec<ScalarExpr>, right_key: Vec<ScalarExpr>, null_eq: bool) -> Plan {
    Plan::Join { left: left.boxed(), right: right.boxed(), left_key, right_key, null_eq }
}
pub fn anti_join(left: Plan, right: Plan, left_key: Vec<ScalarExpr>, right_key: Vec<ScalarExpr>, null_eq: bool) -> Plan {
    Plan::AntiJoin { left: left.boxed(), right: right.boxed(), left_key, right_key, null_eq }
}
/// Through the engine's constructor, which makes a chain of left joins on
/// one key a single node with several right sides.
pub fn left_join(left: Plan, right: Plan, left_key: Vec<ScalarExpr>, right_key: Vec<ScalarExpr>, null_eq: bool) -> Plan {
    Plan::left_join(left, right, left_key, right_key, null_eq)
}
pub fn reduce(input: Plan, group_key: Vec<ScalarExpr>, aggregates: Vec<AggregateExpr>) -> Plan {
    Plan::Reduce { input: input.boxed(), group_key, aggregates }
}
pub fn distinct(input: Plan) -> Plan {
    Plan::Distinct { input: input.boxed() }
}
pub fn union(inputs: Vec<Plan>) -> Plan {
    Plan::Union { inputs }
}
pub fn negate(input: Plan) -> Plan {
    Plan::Negate { input: input.boxed() }
}
pub fn threshold(input: Plan) -> Plan {
    Plan::Threshold { input: input.boxed() }
}
/// `a EXCEPT ALL b`.
pub fn except_all(a: Plan, b: Plan) -> Plan {
    threshold(union(vec![a, negate(b)]))
}
pub fn top_k(input: Plan, group_key: Vec<usize>, order_by: Vec<SortKey>, limit: Option<usize>, offset: usize) -> Plan {
    Plan::TopK { input: input.boxed(), group_key, order_by, limit, offset }
}
pub fn window(input: Plan, partition_by: Vec<ScalarExpr>, order_by: Vec<SortKey>, exprs: Vec<WindowExpr>) -> Plan {
    Plan::Window { input: input.boxed(), partition_by, order_by, exprs }
}
