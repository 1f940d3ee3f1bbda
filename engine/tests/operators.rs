//! Operator tests: each view is maintained incrementally by the engine over a
//! random sequence of inserts and deletes, and after every batch its contents
//! (rows and errors) are compared with a from-scratch recomputation by the
//! reference evaluator in `common`. Every test runs with 1 and 2 workers.

mod common;

use common::*;
use eddy_engine::expr::{AggregateExpr, AggregateFunc, ScalarExpr, WindowFrame, WindowFunc};
use eddy_engine::plan::Plan;
use eddy_engine::runtime::Command;
use eddy_engine::{Datum, ScalarType};

fn t1() -> Plan {
    get(T1, 3)
}
fn t2() -> Plan {
    get(T2, 2)
}
const TABLES: &[(u64, RowGen)] = &[(T1, gen_t1), (T2, gen_t2)];

#[test]
fn map_filter_project() {
    let (k, v, s) = (col(0), col(1), col(2));
    let views = [
        (
            "filter v > 0 and s not null, map arithmetic, project",
            project(
                map(filter(t1(), vec![gt(v.clone(), int(0)), is_not_null(s.clone())]), vec![add(mul(v.clone(), int(2)), k.clone()), sub(v.clone(), k.clone()), coalesce(vec![concat(s.clone(), text("x")), text("n")])]),
                vec![3, 4, 5, 0],
            ),
        ),
        // Later expressions of a Map see earlier ones.
        ("map chained", map(t1(), vec![add(k.clone(), v.clone()), mul(col(3), col(3)), modulo(col(4), int(3))])),
        ("guarded division", map(t1(), vec![case(ne(v.clone(), int(0)), div(int(100), v.clone()), ScalarExpr::null())])),
        // Division by zero whenever v = 0: errors come and go with the rows.
        ("division errors in map", map(t1(), vec![div(k.clone(), v.clone())])),
        ("division errors in filter", filter(t1(), vec![gt(div(int(10), v.clone()), int(2))])),
        // OR short-circuits the error away where v = 0.
        ("division masked by or", filter(t1(), vec![or(vec![eq(v.clone(), int(0)), gt(div(int(10), v.clone()), int(1))])])),
        ("three-valued filter", filter(t1(), vec![or(vec![lt(k.clone(), int(2)), is_null(s.clone())])])),
        ("project repeats and reorders", project(t1(), vec![2, 2, 0])),
    ];
    run_random("map_filter_project", 1, 40, TABLES, &views);
}

#[test]
fn flat_map_table_functions() {
    use eddy_engine::expr::TableFunc;
    let (k, v) = (col(0), col(1));
    let series = |args: Vec<ScalarExpr>, ordinality: bool, outer: bool| Plan::FlatMap { input: Box::new(t1()), func: TableFunc::GenerateSeries, args, ordinality, outer };
    let views = [
        ("a series per row, from 0 to v", series(vec![int(0), v.clone()], false, false)),
        // The rows whose series is empty (v < 0) are kept, padded with NULLs.
        ("outer, with ordinality", series(vec![int(0), v.clone(), int(2)], true, true)),
        // Step k: a zero step is an error that comes and goes with the rows.
        ("step from the row", series(vec![v.clone(), int(0), sub(int(0), k.clone())], true, false)),
        ("aggregated over the series", Plan::Reduce { input: Box::new(series(vec![int(1), v.clone()], false, false)), group_key: vec![k.clone()], aggregates: vec![agg(AggregateFunc::Sum, vec![col(3)], I64)] }),
    ];
    run_random("flat_map", 1, 40, TABLES, &views);
}

#[test]
fn joins() {
    let views = [
        ("equi-join on k (NULL keys never match)", join(t1(), t2(), vec![col(0)], vec![col(0)], false)),
        ("equi-join on k, null-equal", join(t1(), t2(), vec![col(0)], vec![col(0)], true)),
        ("two-column key", join(t1(), t2(), vec![col(0), modulo(col(1), int(4))], vec![col(0), col(1)], false)),
        ("cross join of filtered inputs", join(filter(t1(), vec![gt(col(1), int(3))]), filter(t2(), vec![eq(col(1), int(1))]), vec![], vec![], false)),
        ("self-join on s", join(t1(), t1(), vec![col(2)], vec![col(2)], false)),
        // Key expressions that raise errors (w = 0).
        ("join key with errors", join(t1(), t2(), vec![col(0)], vec![div(int(12), col(1))], false)),
        ("map and filter over a join", filter(map(join(t1(), t2(), vec![col(0)], vec![col(0)], false), vec![add(col(1), col(4))]), vec![gt(col(5), int(2))])),
    ];
    run_random("joins", 2, 40, TABLES, &views);
}

#[test]
fn anti_joins() {
    let shared = |id: u64, value: Plan, body: Plan| Plan::Let { id, value: value.boxed(), body: body.boxed() };
    let (l, r) = (|| Plan::LocalGet { id: 1, arity: 3 }, || Plan::LocalGet { id: 2, arity: 2 });
    let views = [
        ("rows of t1 whose k is not in t2 (NULL keys stay)", anti_join(t1(), t2(), vec![col(0)], vec![col(0)], false)),
        ("null-equal keys", anti_join(t1(), t2(), vec![col(0)], vec![col(0)], true)),
        ("key with errors on both sides", anti_join(t1(), t2(), vec![div(int(12), col(1))], vec![div(int(12), col(1))], false)),
        ("no keys: all of t1 while a rare t2 row is absent", anti_join(t1(), filter(t2(), vec![eq(col(0), int(3)), eq(col(1), int(2))]), vec![], vec![], false)),
        // A left outer join as lowered: the inner join and the anti-join
        // share the arrangements of both bound sides.
        (
            "left join through shared arrangements",
            shared(1, t1(), shared(2, t2(), union(vec![join(l(), r(), vec![col(0)], vec![col(0)], false), map(anti_join(l(), r(), vec![col(0)], vec![col(0)], false), vec![ScalarExpr::null(), ScalarExpr::null()])]))),
        ),
        ("semi-join as rows minus the anti-join", shared(1, t1(), union(vec![l(), negate(anti_join(l(), t2(), vec![col(0)], vec![col(1)], false))]))),
    ];
    run_random("anti_joins", 2, 40, TABLES, &views);
}

#[test]
fn left_joins() {
    let views = [
        ("t1 left join t2 on k (NULL keys padded)", left_join(t1(), t2(), vec![col(0)], vec![col(0)], false)),
        ("null-equal keys", left_join(t1(), t2(), vec![col(0)], vec![col(0)], true)),
        // Several right rows per key, and keys that come and go.
        ("many rows per key on both sides", left_join(t1(), t2(), vec![modulo(col(1), int(3))], vec![modulo(col(1), int(3))], false)),
        ("key with errors on both sides", left_join(t1(), t2(), vec![div(int(12), col(1))], vec![div(int(12), col(1))], false)),
        ("no keys: every t1 row with each rare t2 row, or padded", left_join(t1(), filter(t2(), vec![eq(col(0), int(3)), eq(col(1), int(2))]), vec![], vec![], false)),
        ("self left join on s", left_join(t1(), t1(), vec![col(2)], vec![col(2)], false)),
        // Chained on one key, as the saga view joins an order's facts.
        ("chained left joins on k", left_join(left_join(t1(), t2(), vec![col(0)], vec![col(0)], false), filter(t2(), vec![gt(col(1), int(2))]), vec![col(0)], vec![col(0)], false)),
        ("filter over the padded columns", filter(left_join(t1(), t2(), vec![col(0)], vec![col(0)], false), vec![is_null(col(4))])),
        // Three sides on one key, several rows per key on each: every
        // combination, each side's change met with the others.
        ("three sides, many rows per key", left_join(left_join(left_join(t1(), t2(), vec![modulo(col(1), int(3))], vec![modulo(col(1), int(3))], false), t1(), vec![modulo(col(1), int(3))], vec![modulo(col(1), int(3))], false), filter(t2(), vec![gt(col(1), int(2))]), vec![modulo(col(1), int(3))], vec![modulo(col(1), int(3))], false)),
        ("three sides, keys with errors", left_join(left_join(left_join(t1(), t2(), vec![div(int(12), col(1))], vec![div(int(12), col(1))], false), t2(), vec![div(int(12), col(1))], vec![col(0)], false), t1(), vec![div(int(12), col(1))], vec![col(0)], false)),
        // A projection between the joins (reordering, dropping a right
        // column): the next side still joins on the first side's key.
        ("chained through a projection", left_join(project(left_join(t1(), t2(), vec![col(0)], vec![col(0)], true), vec![4, 2, 0, 1]), t2(), vec![col(2)], vec![col(0)], true)),
        // On a right side's column: not the same key, stays a chain.
        ("chained on the first right side's column", left_join(left_join(t1(), t2(), vec![col(0)], vec![col(0)], false), t1(), vec![col(4)], vec![col(1)], false)),
    ];
    // The chains on one key are single nodes; the last is not.
    let sides = |name: &str| {
        let mut p = &views.iter().find(|(n, _)| *n == name).unwrap().1;
        while let Plan::Project { input, .. } | Plan::Filter { input, .. } = p {
            p = input;
        }
        match p {
            Plan::LeftJoin { rights, .. } => rights.len(),
            other => panic!("{}: not a left join: {}", name, other),
        }
    };
    assert_eq!((sides("chained left joins on k"), sides("three sides, many rows per key"), sides("three sides, keys with errors"), sides("chained through a projection")), (2, 3, 3, 2));
    assert_eq!(sides("chained on the first right side's column"), 1);
    run_random("left_joins", 3, 40, TABLES, &views);
}

fn string_agg(distinct: bool, filter: Option<ScalarExpr>, order_by: Vec<eddy_engine::expr::SortKey>, sep: &str) -> AggregateExpr {
    AggregateExpr { func: AggregateFunc::StringAgg, args: vec![col(2), text(sep)], distinct, filter, order_by, output: ScalarType::Text, exact_input: false }
}

#[test]
fn reduce_aggregates() {
    let v = col(1);
    let count_distinct_v = AggregateExpr { distinct: true, ..agg(AggregateFunc::Count, vec![v.clone()], I64) };
    let sum_filtered = AggregateExpr { filter: Some(gt(col(0), int(1))), ..agg(AggregateFunc::Sum, vec![v.clone()], I64) };
    let views = [
        (
            "group by k: count, sum, min, max, avg, count distinct, string_agg",
            reduce(
                t1(),
                vec![col(0)],
                vec![
                    count_star(),
                    agg(AggregateFunc::Count, vec![v.clone()], I64),
                    agg(AggregateFunc::Sum, vec![v.clone()], I64),
                    agg(AggregateFunc::Min, vec![v.clone()], I64),
                    agg(AggregateFunc::Max, vec![v.clone()], I64),
                    agg(AggregateFunc::Avg, vec![v.clone()], NUMERIC),
                    count_distinct_v.clone(),
                    // string_agg(s, ',' ORDER BY v DESC, s) FILTER (WHERE v > 0)
                    string_agg(false, Some(gt(v.clone(), int(0))), vec![desc(v.clone()), asc(col(2))], ","),
                    // string_agg(s, '|' ORDER BY s NULLS FIRST)
                    string_agg(false, None, vec![sort(col(2), false, true)], "|"),
                ],
            ),
        ),
        (
            "global: count, sum with FILTER, max(s), string_agg(DISTINCT s ORDER BY s)",
            reduce(t1(), vec![], vec![count_star(), sum_filtered.clone(), agg(AggregateFunc::Max, vec![col(2)], ScalarType::Text), string_agg(true, None, vec![asc(col(2))], "|")]),
        ),
        (
            "group by (s, k % 2): bool_and, bool_or, numeric sum",
            reduce(
                t1(),
                vec![col(2), modulo(col(0), int(2))],
                vec![agg(AggregateFunc::BoolAnd, vec![gt(v.clone(), int(0))], ScalarType::Bool), agg(AggregateFunc::BoolOr, vec![lt(v.clone(), int(0))], ScalarType::Bool), agg(AggregateFunc::Sum, vec![v.clone()], NUMERIC)],
            ),
        ),
        // Only accumulable aggregates: added up per group as rows come and go.
        (
            "group by k: count, sum, avg, sum with FILTER",
            reduce(t1(), vec![col(0)], vec![count_star(), agg(AggregateFunc::Count, vec![v.clone()], I64), agg(AggregateFunc::Sum, vec![v.clone()], I64), agg(AggregateFunc::Avg, vec![v.clone()], NUMERIC), sum_filtered.clone()]),
        ),
        ("global: count and numeric sum", reduce(t1(), vec![], vec![count_star(), agg(AggregateFunc::Sum, vec![v.clone()], NUMERIC)])),
        // bool_and and bool_or add up too (values and trues), with FILTER,
        // and count of a text column.
        (
            "group by k % 3: bool_and, bool_or, bool_or with FILTER, count(s)",
            reduce(
                t1(),
                vec![modulo(col(0), int(3))],
                vec![
                    agg(AggregateFunc::BoolAnd, vec![gt(v.clone(), int(0))], ScalarType::Bool),
                    agg(AggregateFunc::BoolOr, vec![lt(v.clone(), int(0))], ScalarType::Bool),
                    AggregateExpr { filter: Some(gt(col(0), int(1))), ..agg(AggregateFunc::BoolOr, vec![gt(v.clone(), int(1))], ScalarType::Bool) },
                    AggregateExpr { exact_input: false, ..agg(AggregateFunc::Count, vec![col(2)], I64) },
                ],
            ),
        ),
        // count(DISTINCT v) as DataFusion plans it: two stacked reduces.
        ("stacked reduces", reduce(reduce(t1(), vec![col(0), col(1)], vec![]), vec![col(0)], vec![agg(AggregateFunc::Count, vec![col(1)], I64)])),
        ("reduce over a join", reduce(join(t1(), t2(), vec![col(0)], vec![col(0)], false), vec![col(4)], vec![count_star(), agg(AggregateFunc::Sum, vec![mul(col(1), col(4))], I64), agg(AggregateFunc::Min, vec![col(2)], ScalarType::Text)])),
        // sum(10 / v): a group with v = 0 becomes an error, and recovers.
        ("aggregate argument errors", reduce(t1(), vec![col(2)], vec![agg(AggregateFunc::Sum, vec![div(int(10), v.clone())], I64)])),
        ("group key errors", reduce(t1(), vec![div(int(6), v.clone())], vec![count_star(), agg(AggregateFunc::Max, vec![col(2)], ScalarType::Text)])),
    ];
    run_random("reduce_aggregates", 3, 40, TABLES, &views);
}

#[test]
fn distinct_and_set_operations() {
    let a = || project(t1(), vec![0]);
    let b = || project(t2(), vec![0]);
    let views = [
        ("distinct", distinct(project(t1(), vec![0, 2]))),
        ("union all", union(vec![a(), b()])),
        ("union (distinct)", distinct(union(vec![a(), b()]))),
        ("except all", except_all(a(), b())),
        ("except (distinct)", except_all(distinct(a()), distinct(b()))),
        // a INTERSECT ALL b = a EXCEPT ALL (a EXCEPT ALL b)
        ("intersect all", except_all(a(), except_all(a(), b()))),
        ("negate of a negate", negate(negate(t2()))),
        (
            "union with a constant",
            union(vec![a(), Plan::Constant { rows: vec![(vec![Datum::Int(1)], 2), (vec![Datum::Null], 1)], arity: 1 }]),
        ),
        ("except all with a constant", except_all(b(), Plan::Constant { rows: vec![(vec![Datum::Int(0)], 1), (vec![Datum::Null], 2)], arity: 1 })),
        // A shared collection read three times, with a nested binding that
        // shadows nothing: (a - distinct a) + a, then joined with itself.
        (
            "let-bound collection read several times",
            Plan::Let {
                id: 1,
                value: filter(t1(), vec![gt(col(1), int(2))]).boxed(),
                body: Plan::Let {
                    id: 2,
                    value: project(Plan::LocalGet { id: 1, arity: 3 }, vec![0]).boxed(),
                    body: union(vec![
                        Plan::LocalGet { id: 2, arity: 1 },
                        negate(distinct(Plan::LocalGet { id: 2, arity: 1 })),
                        project(join(Plan::LocalGet { id: 1, arity: 3 }, Plan::LocalGet { id: 2, arity: 1 }, vec![col(0)], vec![col(0)], false), vec![3]),
                    ])
                    .boxed(),
                }
                .boxed(),
            },
        ),
    ];
    run_random("distinct_and_set_operations", 4, 40, TABLES, &views);
}

#[test]
fn top_k_per_group() {
    let views = [
        ("per k: v desc nulls first, limit 2", top_k(t1(), vec![0], vec![desc(col(1))], Some(2), 0)),
        ("global: (v, s) limit 3 offset 1", top_k(t1(), vec![], vec![asc(col(1)), asc(col(2))], Some(3), 1)),
        ("per s: v asc nulls last, offset 1, no limit", top_k(t1(), vec![2], vec![asc(col(1))], None, 1)),
        ("distinct on k (limit 1)", top_k(t1(), vec![0], vec![sort(col(2), true, false)], Some(1), 0)),
        ("order by expression, limit 2 offset 2", top_k(t1(), vec![0], vec![asc(mul(col(1), int(-1)))], Some(2), 2)),
        ("(empty) limit 0", top_k(t1(), vec![0], vec![asc(col(1))], Some(0), 0)),
        // Repeated rows: multiplicities straddle the offset and the limit.
        ("repeated rows, limit 3 offset 1", top_k(project(t1(), vec![0]), vec![], vec![asc(col(0))], Some(3), 1)),
        // A sort key that fails to evaluate (v = 0) sorts as NULL.
        ("failing sort key, limit 2", top_k(t1(), vec![0], vec![asc(div(int(10), col(1)))], Some(2), 0)),
        ("top k of a join", top_k(join(t1(), t2(), vec![col(0)], vec![col(0)], false), vec![4], vec![desc(col(1))], Some(2), 0)),
    ];
    run_random("top_k_per_group", 5, 40, TABLES, &views);
}

/// `RANGE BETWEEN` offsets of an integer ORDER BY value: `(offset,
/// following)`, an offset of 0 being CURRENT ROW; `None` unbounded.
fn range(start: Option<(i64, bool)>, end: Option<(i64, bool)>) -> WindowFrame {
    use eddy_engine::expr::{RangeFrame, RangeOffset};
    let side = |b: Option<(i64, bool)>| b.map(|(o, following)| RangeOffset { offset: (o != 0).then_some(Datum::Int(o)), following });
    WindowFrame::Range(RangeFrame { start: side(start), end: side(end), key_type: I64 })
}

#[test]
fn window_functions() {
    let (k, v, s) = (col(0), col(1), col(2));
    let sum_v = WindowFunc::Aggregate(agg(AggregateFunc::Sum, vec![v.clone()], I64));
    let views = [
        (
            "partition by k order by v",
            window(
                t1(),
                vec![k.clone()],
                vec![asc(v.clone())],
                vec![
                    win(WindowFunc::RowNumber, vec![], WindowFrame::Partition),
                    win(WindowFunc::Rank, vec![], WindowFrame::Partition),
                    win(WindowFunc::DenseRank, vec![], WindowFrame::Partition),
                    win(WindowFunc::Lag, vec![v.clone()], WindowFrame::Partition),
                    win(WindowFunc::Lag, vec![s.clone(), int(2), text("none")], WindowFrame::Partition),
                    win(WindowFunc::Lead, vec![v.clone(), int(1)], WindowFrame::Partition),
                    win(WindowFunc::FirstValue, vec![s.clone()], WindowFrame::RangeToCurrent),
                    win(WindowFunc::LastValue, vec![s.clone()], WindowFrame::RangeToCurrent),
                    // sum(v) OVER (... ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING)
                    win(sum_v.clone(), vec![], WindowFrame::Rows { start: Some(-1), end: Some(1) }),
                    // sum(v) OVER (... RANGE UNBOUNDED PRECEDING): running total over peers
                    win(sum_v.clone(), vec![], WindowFrame::RangeToCurrent),
                    win(WindowFunc::Aggregate(count_star()), vec![], WindowFrame::Partition),
                    win(WindowFunc::Aggregate(agg(AggregateFunc::Max, vec![s.clone()], ScalarType::Text)), vec![], WindowFrame::Rows { start: None, end: Some(0) }),
                    win(WindowFunc::Ntile, vec![int(3)], WindowFrame::Partition),
                    win(WindowFunc::PercentRank, vec![], WindowFrame::Partition),
                    win(WindowFunc::CumeDist, vec![], WindowFrame::Partition),
                    win(WindowFunc::NthValue, vec![s.clone(), int(2)], WindowFrame::RangeToCurrent),
                    // sum(v) OVER (... RANGE BETWEEN 2 PRECEDING AND CURRENT ROW): a sliding window of values
                    win(sum_v.clone(), vec![], range(Some((2, false)), Some((0, false)))),
                    // first_value(s) OVER (... RANGE BETWEEN 1 PRECEDING AND 3 FOLLOWING)
                    win(WindowFunc::FirstValue, vec![s.clone()], range(Some((1, false)), Some((3, true)))),
                ],
            ),
        ),
        (
            "partition by k order by v desc, RANGE offsets",
            window(
                t1(),
                vec![k.clone()],
                vec![desc(v.clone())],
                vec![
                    win(sum_v.clone(), vec![], range(Some((3, false)), Some((1, true)))),
                    win(WindowFunc::Aggregate(count_star()), vec![], range(None, Some((2, false)))),
                    win(WindowFunc::LastValue, vec![s.clone()], range(Some((0, false)), None)),
                ],
            ),
        ),
        (
            "no partition, order by s desc nulls first, v",
            window(
                t1(),
                vec![],
                vec![desc(s.clone()), asc(v.clone())],
                vec![
                    win(WindowFunc::RowNumber, vec![], WindowFrame::Partition),
                    win(WindowFunc::Rank, vec![], WindowFrame::Partition),
                    win(sum_v.clone(), vec![], WindowFrame::Rows { start: Some(-2), end: Some(0) }),
                    win(WindowFunc::Lead, vec![k.clone(), int(2), int(-1)], WindowFrame::Partition),
                ],
            ),
        ),
        (
            // Only functions that look back: changes resume evaluation at
            // the first changed peer group instead of the partition's start.
            "look-back functions resume at the first change",
            window(
                t1(),
                vec![k.clone()],
                vec![asc(s.clone())],
                vec![
                    win(WindowFunc::RowNumber, vec![], WindowFrame::Partition),
                    win(WindowFunc::Rank, vec![], WindowFrame::Partition),
                    win(WindowFunc::DenseRank, vec![], WindowFrame::Partition),
                    win(WindowFunc::Lag, vec![v.clone(), int(2)], WindowFrame::Partition),
                    win(WindowFunc::FirstValue, vec![v.clone()], WindowFrame::RangeToCurrent),
                    win(WindowFunc::LastValue, vec![v.clone()], WindowFrame::RangeToCurrent),
                    win(sum_v.clone(), vec![], WindowFrame::RangeToCurrent),
                    win(sum_v.clone(), vec![], WindowFrame::Rows { start: None, end: Some(0) }),
                    win(sum_v.clone(), vec![], WindowFrame::Rows { start: Some(-2), end: Some(-1) }),
                    win(WindowFunc::Aggregate(count_star()), vec![], WindowFrame::RangeToCurrent),
                    win(WindowFunc::Aggregate(agg(AggregateFunc::Max, vec![v.clone()], I64)), vec![], WindowFrame::Rows { start: None, end: Some(0) }),
                    win(WindowFunc::Aggregate(agg(AggregateFunc::Avg, vec![v.clone()], ScalarType::Numeric { precision: None, scale: None })), vec![], WindowFrame::RangeToCurrent),
                ],
            ),
        ),
        ("partition by s, no order: whole-partition aggregates", window(t1(), vec![s.clone()], vec![], vec![win(sum_v.clone(), vec![], WindowFrame::Partition), win(WindowFunc::Aggregate(agg(AggregateFunc::Min, vec![v.clone()], I64)), vec![], WindowFrame::Partition)])),
        // sum(10 / v) over the partition: a v = 0 turns the partition into an error.
        ("window aggregate errors", window(t1(), vec![k.clone()], vec![asc(v.clone())], vec![win(WindowFunc::Aggregate(agg(AggregateFunc::Sum, vec![div(int(10), v.clone())], I64)), vec![], WindowFrame::RangeToCurrent)])),
        ("window over a join", window(join(t1(), t2(), vec![col(0)], vec![col(0)], false), vec![col(4)], vec![desc(col(1))], vec![win(WindowFunc::RowNumber, vec![], WindowFrame::Partition), win(WindowFunc::Lag, vec![col(2)], WindowFrame::Partition)])),
    ];
    run_random("window_functions", 6, 40, TABLES, &views);
}

/// A division by zero in a Map is reported in the peek's errors while the
/// offending row exists, and disappears once it is deleted.
#[test]
fn evaluation_error_comes_and_goes() {
    for workers in [1, 2] {
        let mut h = Harness::new(workers, &[T1], &format!("evaluation_error_comes_and_goes ({} workers)", workers));
        let view = 50;
        // SELECT k, v, s, k / v FROM t1
        h.create_view(view, "k / v", map(get(T1, 3), vec![div(col(0), col(1))]));
        let row = |k: i64, v: i64| vec![Datum::Int(k), Datum::Int(v), Datum::text("x")];

        let t = h.write(vec![(T1, vec![(row(6, 2), 1), (row(7, 0), 1)])]);
        let c = h.peek(view, t);
        assert_eq!(c.rows.into_iter().collect::<Vec<_>>(), vec![(vec![Datum::Int(6), Datum::Int(2), Datum::text("x"), Datum::Int(3)], 1)]);
        assert_eq!(c.errors.len(), 1, "{:?}", c.errors);
        let e = c.errors.iter().next().unwrap();
        assert_eq!((e.code.as_str(), e.message.as_str()), ("22012", "division by zero"));

        // A second offending row: still one (distinct) error.
        let t = h.write(vec![(T1, vec![(row(8, 0), 1)])]);
        assert_eq!(h.peek(view, t).errors.len(), 1);
        h.check_views(t);

        // Deleting one offending row keeps the error; deleting both clears it.
        let t = h.write(vec![(T1, vec![(row(7, 0), -1)])]);
        assert_eq!(h.peek(view, t).errors.len(), 1);
        let t = h.write(vec![(T1, vec![(row(8, 0), -1)])]);
        let c = h.peek(view, t);
        assert!(c.errors.is_empty(), "error survived the delete: {:?}", c.errors);
        assert_eq!(c.rows.len(), 1);
        h.check_views(t);

        // Reading an earlier time still shows the error (no compaction yet).
        assert_eq!(h.peek(view, t - 1).errors.len(), 1);

        // After compaction the current time still reads correctly.
        h.engine.send(Command::AllowCompaction { since: t });
        let t = h.write(vec![(T1, vec![(row(9, 0), 1)])]);
        assert_eq!(h.peek(view, t).errors.len(), 1);
        let t = h.write(vec![(T1, vec![(row(9, 0), -1), (row(1, 1), 1)])]);
        let c = h.peek(view, t);
        assert!(c.errors.is_empty());
        assert_eq!(c.rows.len(), 2);
        h.check_views(t);
    }
}

/// A view created after the tables already hold data starts from their
/// contents, and a view reading another view is kept up to date too.
#[test]
fn views_created_late_and_stacked() {
    for workers in [1, 2] {
        let label = format!("views_created_late_and_stacked ({} workers)", workers);
        let mut h = Harness::new(workers, &[T1, T2], &label);
        let mut rng = Rng::new(7 + workers as u64);
        for round in 0..24 {
            let batch = vec![(T1, random_batch(&mut rng, &h.tables[&T1], gen_t1, 6, 40)), (T2, random_batch(&mut rng, &h.tables[&T2], gen_t2, 6, 40))];
            let t = h.write(batch);
            if round == 8 {
                h.create_view(60, "late reduce", reduce(get(T1, 3), vec![col(0)], vec![count_star(), agg(AggregateFunc::Sum, vec![col(1)], I64)]));
            }
            if round == 12 {
                // Reads view 60; the reference inlines its plan.
                let inner = h.views[0].2.clone();
                h.create_view_as(61, "join of a view", join(get(60, 3), get(T2, 2), vec![col(0)], vec![col(0)], false), join(inner, get(T2, 2), vec![col(0)], vec![col(0)], false));
            }
            if round % 4 == 3 {
                h.engine.send(Command::AllowCompaction { since: t });
            }
            h.check_views(t);
        }
    }
}
