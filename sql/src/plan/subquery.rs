//! Subqueries with PostgreSQL's meaning, in forms that DataFusion's
//! decorrelation and our lowering turn into joins.
//!
//! Before DataFusion's analyzer, on the plan `SqlToRel` built
//! ([`rewrite_subqueries`]):
//!
//! - Every `x op ANY|ALL (S)`, and every `x [NOT] IN (S)` except a plain
//!   conjunct of a WHERE clause (which DataFusion plans as a semi join, or
//!   a null-aware anti join for a NOT IN whose left side reads a column),
//!   becomes a CASE over EXISTS
//!   subqueries that keeps SQL's three-valued logic:
//!
//!   ```text
//!   x IN (S)     = CASE WHEN EXISTS (S WHERE s = x)       THEN true
//!                       WHEN x IS NULL AND EXISTS (S)     THEN NULL
//!                       WHEN EXISTS (S WHERE s IS NULL)   THEN NULL ELSE false END
//!   x op ANY (S) = CASE WHEN EXISTS (S WHERE (x op s) IS TRUE)  THEN true
//!                       WHEN EXISTS (S WHERE (x op s) IS NULL)  THEN NULL ELSE false END
//!   x op ALL (S) = CASE WHEN EXISTS (S WHERE (x op s) IS FALSE) THEN false
//!                       WHEN EXISTS (S WHERE (x op s) IS NULL)  THEN NULL ELSE true END
//!   ```
//!
//!   (`= ANY` is IN, `<> ALL` is NOT IN: the match is then an equi-join.)
//!   S is first given an alias of its own, so that its columns never share
//!   a qualified name with the outer query's: DataFusion's decorrelation
//!   confuses `emp.salary` inside and outside the subquery.
//! - A scalar subquery that is not a global aggregate gets the aggregate
//!   `__single_value`: its one row's value, NULL without rows, error 21000
//!   with more than one (PostgreSQL's rule). DataFusion decorrelates
//!   aggregated scalar subqueries and refuses the others.
//!
//! In the optimizer, ahead of DataFusion's rules ([`ProjectionExists`]):
//! an EXISTS in a select list becomes a LeftMark join whose `mark` column
//! replaces it (DataFusion does this only for EXISTS inside WHERE).

use datafusion_common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion_common::{Column, DFSchema, ExprSchema, Result, ScalarValue};
use datafusion_expr::expr::{AggregateFunction, Case, Exists, InSubquery, SetComparison, SetQuantifier};
use datafusion_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion_expr::logical_plan::{Filter, JoinType, LogicalPlan, Projection, Subquery};
use datafusion_expr::utils::{conjunction, split_conjunction_owned};
use datafusion_expr::{lit, Accumulator, AggregateUDF, AggregateUDFImpl, BinaryExpr, Expr, LogicalPlanBuilder, Operator, Signature, Volatility};
use datafusion_optimizer::decorrelate::PullUpCorrelatedExpr;
use datafusion_optimizer::optimizer::ApplyOrder;
use datafusion_optimizer::{OptimizerConfig, OptimizerRule};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};

/// The name of the aggregate a non-aggregated scalar subquery is wrapped in.
pub const SINGLE_VALUE: &str = "__single_value";

static NEXT_ALIAS: AtomicUsize = AtomicUsize::new(1);

fn fresh_alias(prefix: &str) -> String {
    format!("{}_{}", prefix, NEXT_ALIAS.fetch_add(1, Ordering::Relaxed))
}

/// `__single_value(x)`: planned by DataFusion, evaluated only by our engine.
#[derive(Debug, PartialEq, Eq, Hash)]
struct SingleValue {
    signature: Signature,
}

impl AggregateUDFImpl for SingleValue {
    fn name(&self) -> &str {
        SINGLE_VALUE
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, args: &[arrow_schema::DataType]) -> Result<arrow_schema::DataType> {
        Ok(args[0].clone())
    }
    fn return_field(&self, args: &[arrow_schema::FieldRef]) -> Result<arrow_schema::FieldRef> {
        Ok(Arc::new(args[0].as_ref().clone().with_nullable(true)))
    }
    fn accumulator(&self, _: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        datafusion_common::not_impl_err!("{} is evaluated by eddy's engine", SINGLE_VALUE)
    }
    fn state_fields(&self, _: StateFieldsArgs) -> Result<Vec<arrow_schema::FieldRef>> {
        datafusion_common::not_impl_err!("{} is evaluated by eddy's engine", SINGLE_VALUE)
    }
}

static SINGLE_VALUE_UDAF: LazyLock<Arc<AggregateUDF>> = LazyLock::new(|| Arc::new(AggregateUDF::new_from_impl(SingleValue { signature: Signature::any(1, Volatility::Immutable) })));

/// Rewrites IN / ANY / ALL subqueries and non-aggregated scalar subqueries
/// (see the module documentation).
pub fn rewrite_subqueries(plan: LogicalPlan) -> Result<LogicalPlan> {
    plan.transform_up_with_subqueries(|node| {
        let outer = outer_schema(&node);
        match node {
            LogicalPlan::Filter(f) => {
                let mut changed = false;
                let mut conjuncts = Vec::new();
                for c in split_conjunction_owned(f.predicate.clone()) {
                    // DataFusion's null-aware anti join for a NOT IN whose
                    // left side reads no column is wrong: filter pushdown
                    // moves `5 = s` into S, where a NULL s is lost.
                    if matches!(&c, Expr::InSubquery(i) if !i.negated || !i.expr.column_refs().is_empty()) {
                        conjuncts.push(c);
                        continue;
                    }
                    let t = rewrite_expr(c, &outer)?;
                    changed |= t.transformed;
                    conjuncts.push(t.data);
                }
                if !changed {
                    return Ok(Transformed::no(LogicalPlan::Filter(f)));
                }
                let predicate = conjunction(conjuncts).unwrap_or_else(|| lit(true));
                Ok(Transformed::yes(LogicalPlan::Filter(Filter::try_new(predicate, f.input)?)))
            }
            LogicalPlan::Projection(p) => {
                let mut changed = false;
                let mut exprs = Vec::new();
                for e in p.expr {
                    let name = e.schema_name().to_string();
                    let t = rewrite_expr(e, &outer)?;
                    changed |= t.transformed;
                    exprs.push(if t.transformed { keep_name(t.data, &name) } else { t.data });
                }
                Ok(Transformed::new_transformed(LogicalPlan::Projection(Projection::try_new(exprs, p.input)?), changed))
            }
            other => other.map_expressions(|e| rewrite_expr(e, &outer)),
        }
    })
    .map(|t| t.data)
}

/// The schema the expressions of `node` are evaluated over.
fn outer_schema(node: &LogicalPlan) -> DFSchema {
    let mut schema = DFSchema::empty();
    for i in node.inputs() {
        schema.merge(i.schema());
    }
    schema
}

/// `e` under the column name it had before being rewritten.
fn keep_name(e: Expr, name: &str) -> Expr {
    match e {
        Expr::Alias(_) => e,
        other => other.alias(name),
    }
}

fn rewrite_expr(e: Expr, outer: &DFSchema) -> Result<Transformed<Expr>> {
    e.transform_up(|x| match x {
        Expr::InSubquery(InSubquery { expr, subquery, negated }) => {
            let v = in_subquery(*expr, subquery, outer)?;
            Ok(Transformed::yes(if negated { Expr::Not(Box::new(v)) } else { v }))
        }
        Expr::SetComparison(SetComparison { expr, subquery, op, quantifier }) => {
            let v = match (op, &quantifier) {
                (Operator::Eq, SetQuantifier::Any) => in_subquery(*expr, subquery, outer)?,
                (Operator::NotEq, SetQuantifier::All) => Expr::Not(Box::new(in_subquery(*expr, subquery, outer)?)),
                _ => set_comparison(*expr, subquery, op, quantifier, outer)?,
            };
            Ok(Transformed::yes(v))
        }
        Expr::ScalarSubquery(s) if !is_global_aggregate(&s.subquery) => Ok(Transformed::yes(Expr::ScalarSubquery(single_value(s)?))),
        Expr::ScalarSubquery(s) if !s.outer_ref_columns.is_empty() => {
            let subquery = Arc::new(expose_correlated_exprs(s.subquery.as_ref().clone())?);
            Ok(Transformed::yes(Expr::ScalarSubquery(Subquery { subquery, outer_ref_columns: s.outer_ref_columns, spans: s.spans })))
        }
        other => Ok(Transformed::no(other)),
    })
}

/// `... WHERE f(inner) = outer.x` as `... FROM (SELECT *, f(inner) AS c)
/// WHERE c = outer.x`, in an aggregated scalar subquery: DataFusion's
/// decorrelation groups the subquery by the inner columns of its
/// correlated equalities, so `b.ts::date = a.d` grouped by `b.ts` (a group
/// per timestamp instead of per date, and a row per group). With the
/// expression a column of its own, the groups are the expression's values.
fn expose_correlated_exprs(plan: LogicalPlan) -> Result<LogicalPlan> {
    let computed = |e: &Expr| !matches!(e, Expr::Column(_)) && !e.contains_outer() && !e.column_refs().is_empty();
    plan.transform_up(|node| {
        let LogicalPlan::Filter(f) = node else { return Ok(Transformed::yes(node.recompute_schema()?)) };
        let (mut exposed, mut conjuncts) = (Vec::new(), Vec::new());
        for c in split_conjunction_owned(f.predicate.clone()) {
            match c {
                Expr::BinaryExpr(BinaryExpr { left, op: Operator::Eq, right }) if computed(&left) && right.contains_outer() => {
                    let name = fresh_alias("__eddy_corr");
                    exposed.push(left.alias(&name));
                    conjuncts.push(Expr::Column(Column::from_name(name)).eq(*right));
                }
                Expr::BinaryExpr(BinaryExpr { left, op: Operator::Eq, right }) if computed(&right) && left.contains_outer() => {
                    let name = fresh_alias("__eddy_corr");
                    exposed.push(right.alias(&name));
                    conjuncts.push((*left).eq(Expr::Column(Column::from_name(name))));
                }
                other => conjuncts.push(other),
            }
        }
        if exposed.is_empty() {
            return Ok(Transformed::no(LogicalPlan::Filter(f)));
        }
        let input = Arc::unwrap_or_clone(f.input);
        let mut exprs: Vec<Expr> = input.schema().columns().into_iter().map(Expr::Column).collect();
        exprs.extend(exposed);
        let projected = LogicalPlanBuilder::from(input).project(exprs)?.build()?;
        Ok(Transformed::yes(LogicalPlanBuilder::from(projected).filter(conjunction(conjuncts).unwrap_or_else(|| lit(true)))?.build()?))
    })
    .map(|t| t.data)
}

/// The subquery under a fresh alias, and its (first) output column.
fn aliased(s: &Subquery) -> Result<(LogicalPlan, Expr)> {
    let plan = LogicalPlanBuilder::from(s.subquery.as_ref().clone()).alias(fresh_alias("__eddy_sq"))?.build()?;
    let col = Expr::Column(Column::from(plan.schema().qualified_field(0)));
    Ok((plan, col))
}

/// `EXISTS (plan WHERE filter)`.
fn exists(plan: &LogicalPlan, filter: Option<Expr>) -> Result<Expr> {
    let plan = match filter {
        Some(f) => LogicalPlanBuilder::from(plan.clone()).filter(f)?.build()?,
        None => plan.clone(),
    };
    let outer_ref_columns = plan.all_out_ref_exprs();
    Ok(Expr::Exists(Exists { subquery: Subquery { subquery: Arc::new(plan), outer_ref_columns, spans: Default::default() }, negated: false }))
}

/// `e` with its columns turned into references to the outer query.
fn to_outer(e: Expr, outer: &DFSchema) -> Result<Expr> {
    e.transform_up(|x| match x {
        Expr::Column(c) => {
            let field = outer.field_from_column(&c)?.clone();
            Ok(Transformed::yes(Expr::OuterReferenceColumn(field, c)))
        }
        other => Ok(Transformed::no(other)),
    })
    .map(|t| t.data)
}

fn null_bool() -> Expr {
    Expr::Literal(ScalarValue::Boolean(None), None)
}

fn case(whens: Vec<(Expr, Expr)>, otherwise: Expr) -> Expr {
    Expr::Case(Case { expr: None, when_then_expr: whens.into_iter().map(|(w, t)| (Box::new(w), Box::new(t))).collect(), else_expr: Some(Box::new(otherwise)) })
}

fn in_subquery(x: Expr, s: Subquery, outer: &DFSchema) -> Result<Expr> {
    let (plan, col) = aliased(&s)?;
    let probe = to_outer(x.clone(), outer)?;
    let matched = exists(&plan, Some(col.clone().eq(probe)))?;
    let nonempty = exists(&plan, None)?;
    let has_null = exists(&plan, Some(col.is_null()))?;
    Ok(case(vec![(matched, lit(true)), (x.is_null().and(nonempty), null_bool()), (has_null, null_bool())], lit(false)))
}

fn set_comparison(x: Expr, s: Subquery, op: Operator, quantifier: SetQuantifier, outer: &DFSchema) -> Result<Expr> {
    let (plan, col) = aliased(&s)?;
    let cmp = Expr::BinaryExpr(BinaryExpr::new(Box::new(to_outer(x, outer)?), op, Box::new(col)));
    let null = exists(&plan, Some(cmp.clone().is_null()))?;
    Ok(match quantifier {
        SetQuantifier::Any => case(vec![(exists(&plan, Some(cmp.is_true()))?, lit(true)), (null, null_bool())], lit(false)),
        SetQuantifier::All => case(vec![(exists(&plan, Some(cmp.is_false()))?, lit(false)), (null, null_bool())], lit(true)),
    })
}

/// Whether a plan yields exactly one row: an aggregate without GROUP BY,
/// under projections, aliases and sorts.
fn is_global_aggregate(plan: &LogicalPlan) -> bool {
    match plan {
        LogicalPlan::Aggregate(a) => a.group_expr.is_empty(),
        LogicalPlan::Projection(p) => is_global_aggregate(&p.input),
        LogicalPlan::SubqueryAlias(a) => is_global_aggregate(&a.input),
        LogicalPlan::Sort(s) if s.fetch.is_none() => is_global_aggregate(&s.input),
        _ => false,
    }
}

/// `(SELECT x FROM ...)` as `(SELECT __single_value(x) AS x FROM ...)`.
fn single_value(s: Subquery) -> Result<Subquery> {
    let plan = s.subquery.as_ref().clone();
    let arg = Expr::Column(Column::from(plan.schema().qualified_field(0)));
    let call = Expr::AggregateFunction(AggregateFunction::new_udf(SINGLE_VALUE_UDAF.clone(), vec![arg], false, None, vec![], None));
    let wrapped = LogicalPlanBuilder::from(plan).aggregate(Vec::<Expr>::new(), vec![call])?.build()?;
    // A name of its own: decorrelation may add the inner column the value
    // was read from (`d.id`) next to it. (The select list that holds the
    // subquery keeps its column name, see `rewrite_subqueries`.)
    let value = Expr::Column(Column::from(wrapped.schema().qualified_field(0))).alias(fresh_alias("__eddy_value"));
    let wrapped = LogicalPlanBuilder::from(wrapped).project(vec![value])?.build()?;
    Ok(Subquery { subquery: Arc::new(wrapped), outer_ref_columns: s.outer_ref_columns, spans: s.spans })
}

/// The optimizer rule turning EXISTS in a select list into mark joins.
#[derive(Debug, Default)]
pub struct ProjectionExists;

impl OptimizerRule for ProjectionExists {
    fn name(&self) -> &str {
        "eddy_projection_exists"
    }
    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::BottomUp)
    }
    fn supports_rewrite(&self) -> bool {
        true
    }
    fn rewrite(&self, plan: LogicalPlan, _config: &dyn OptimizerConfig) -> Result<Transformed<LogicalPlan>> {
        let LogicalPlan::Projection(p) = plan else { return Ok(Transformed::no(plan)) };
        let mut found = false;
        for e in &p.expr {
            e.apply(|x| {
                found |= matches!(x, Expr::Exists(_));
                Ok(if found { TreeNodeRecursion::Stop } else { TreeNodeRecursion::Continue })
            })?;
        }
        if !found {
            return Ok(Transformed::no(LogicalPlan::Projection(p)));
        }
        let mut input = p.input.as_ref().clone();
        let mut exprs = Vec::new();
        for e in p.expr.iter() {
            let name = e.schema_name().to_string();
            let t = e.clone().transform_up(|x| match x {
                Expr::Exists(Exists { subquery, negated }) => match mark_join(&input, &subquery.subquery)? {
                    Some((plan, mark)) => {
                        input = plan;
                        Ok(Transformed::yes(if negated { Expr::Not(Box::new(mark)) } else { mark }))
                    }
                    None => Ok(Transformed::no(Expr::Exists(Exists { subquery, negated }))),
                },
                other => Ok(Transformed::no(other)),
            })?;
            exprs.push(if t.transformed { keep_name(t.data, &name) } else { t.data });
        }
        Ok(Transformed::yes(LogicalPlan::Projection(Projection::try_new(exprs, Arc::new(input))?)))
    }
}

/// `left` LeftMark-joined with a (correlated) subquery, and its mark column;
/// None when the correlation cannot be pulled up into a join condition.
fn mark_join(left: &LogicalPlan, subquery: &LogicalPlan) -> Result<Option<(LogicalPlan, Expr)>> {
    let mut pull_up = PullUpCorrelatedExpr::new().with_exists_sub_query(true);
    let plan = subquery.clone().rewrite(&mut pull_up)?.data;
    if !pull_up.can_pull_up {
        return Ok(None);
    }
    let alias = fresh_alias("__eddy_mark");
    let right = LogicalPlanBuilder::from(plan).alias(alias.clone())?.build()?;
    let correlated: BTreeSet<Column> = pull_up.correlated_subquery_cols_map.values().flatten().cloned().collect();
    let renames: HashMap<Column, Column> = correlated.iter().map(|c| (c.clone(), Column::new(Some(alias.clone()), c.name.clone()))).collect();
    let filter = conjunction(pull_up.join_filters)
        .map(|f| {
            f.transform_up(|x| match x {
                Expr::Column(c) => match renames.get(&c) {
                    Some(r) => Ok(Transformed::yes(Expr::Column(r.clone()))),
                    None => Ok(Transformed::no(Expr::Column(c))),
                },
                other => Ok(Transformed::no(other)),
            })
            .map(|t| t.data)
        })
        .transpose()?
        .unwrap_or_else(|| lit(true));
    let joined = LogicalPlanBuilder::from(left.clone()).join_on(right, JoinType::LeftMark, Some(filter))?.build()?;
    let n = joined.schema().fields().len();
    let mark = Expr::Column(Column::from(joined.schema().qualified_field(n - 1)));
    Ok(Some((joined, mark)))
}

#[cfg(test)]
mod tests {
    use crate::plan::prepare::tests::{explain, plan};

    #[test]
    fn subqueries_as_values_plan_as_mark_joins() {
        for sql in [
            "SELECT id, dept IN (SELECT id FROM dept), dept NOT IN (SELECT id FROM dept) FROM emp",
            "SELECT name, EXISTS (SELECT 1 FROM dept d WHERE d.id = e.dept) FROM emp e",
            "SELECT name, CASE WHEN dept IN (SELECT id FROM dept) THEN 'y' ELSE 'n' END FROM emp",
            "SELECT name FROM emp WHERE salary > ALL (SELECT salary FROM emp WHERE dept = 20)",
            "SELECT name FROM emp WHERE id = 1 OR dept NOT IN (SELECT id FROM dept)",
        ] {
            let p = explain(sql);
            assert!(p.contains("Let l"), "{}\n{}", sql, p);
        }
    }

    #[test]
    fn collections_read_once_are_not_bound() {
        let p = explain("SELECT * FROM emp JOIN dept ON dept.id = emp.dept WHERE emp.salary > 10");
        assert!(!p.contains("Let"), "{}", p);
        // A left join of computed sides reads each of them once, in one
        // operator; a full join reads them several times, so binds them.
        let p = explain("SELECT * FROM (SELECT * FROM emp WHERE salary > 1) e LEFT JOIN dept ON dept.id = e.dept");
        assert!(p.contains("LeftJoin") && !p.contains("Let"), "{}", p);
        let p = explain("SELECT * FROM (SELECT * FROM emp WHERE salary > 1) e FULL JOIN dept ON dept.id = e.dept");
        assert!(p.contains("AntiJoin") && p.contains("Let"), "{}", p);
    }

    #[test]
    fn uncorrelated_exists_does_not_pair_rows() {
        // The mark is a one-row flag crossed with the probe, not a join of
        // every probe row with every subquery row.
        let p = explain("SELECT name, EXISTS (SELECT 1 FROM dept) FROM emp");
        assert_eq!(p.matches("CrossJoin").count(), 1, "{}", p);
    }

    #[test]
    fn scalar_subqueries_yield_at_most_one_row() {
        assert!(explain("SELECT (SELECT id FROM dept)").contains("Single"));
        assert!(explain("SELECT e.name, (SELECT d.code FROM dept d WHERE d.id = e.dept) FROM emp e").contains("Single"));
        // An aggregate needs no guard.
        assert!(!explain("SELECT (SELECT max(id) FROM dept)").contains("Single"));
    }

    #[test]
    fn distinct_on_is_a_top_1_per_key() {
        let p = explain("SELECT DISTINCT ON (dept) dept, name FROM emp ORDER BY dept, salary DESC");
        assert!(p.contains("limit=Some(1)"), "{}", p);
        assert!(plan("CREATE MATERIALIZED VIEW v AS SELECT DISTINCT ON (dept) dept, name FROM emp ORDER BY dept, salary DESC, id").is_ok());
    }
}
