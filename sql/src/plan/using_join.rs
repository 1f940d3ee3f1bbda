//! The merged key column of a RIGHT or FULL join with USING (or NATURAL).
//!
//! In PostgreSQL the column a USING join exposes by the key's name is the
//! right side's key in a RIGHT join and `coalesce(left, right)` in a FULL
//! join: a row found only on the right has its key there. DataFusion
//! resolves the name to the left side's key, which is NULL for such rows:
//! `SELECT id FROM a FULL JOIN b USING (id)` lost the ids only in `b`.
//!
//! A projection right above such a join gives the left key column (the one
//! names resolve to) the merged value, keeping its name, qualifier and
//! type, so nothing above changes. What it does not do: an explicitly
//! qualified `a.id` above the join reads the merged value too (PostgreSQL:
//! the left side's own, NULL for rows only in `b`), and `SELECT *` keeps
//! DataFusion's column order (PostgreSQL puts the USING columns first).

use crate::SqlError;
use datafusion_common::tree_node::Transformed;
use datafusion_common::Column;
use datafusion_expr::logical_plan::{JoinConstraint, JoinType, Projection};
use datafusion_expr::{Expr, ExprSchemable, LogicalPlan};
use std::sync::Arc;

/// Rewrites every RIGHT or FULL join with USING in `plan` (see the module
/// documentation).
pub fn merge_using_keys(plan: LogicalPlan) -> Result<LogicalPlan, SqlError> {
    plan.transform_up_with_subqueries(|node| {
        let LogicalPlan::Join(j) = &node else { return Ok(Transformed::no(node)) };
        if j.join_constraint != JoinConstraint::Using || !matches!(j.join_type, JoinType::Right | JoinType::Full) {
            return Ok(Transformed::no(node));
        }
        let keys: Vec<(Column, Expr)> = j.on.iter().filter_map(|(l, r)| if let Expr::Column(c) = l { Some((c.clone(), r.clone())) } else { None }).collect();
        let schema = j.schema.clone();
        let full = j.join_type == JoinType::Full;
        let mut exprs = Vec::with_capacity(schema.fields().len());
        for (qualifier, field) in schema.iter() {
            let column = Column::new(qualifier.cloned(), field.name());
            let merged = keys.iter().find(|(k, _)| *k == column).map(|(_, right)| {
                let value = if full { datafusion_functions::core::expr_fn::coalesce(vec![Expr::Column(column.clone()), right.clone()]) } else { right.clone() };
                match value.get_type(&schema) {
                    Ok(t) if &t == field.data_type() => value,
                    _ => value.cast_to(field.data_type(), &schema).unwrap_or_else(|_| Expr::Column(column.clone())),
                }
            });
            exprs.push(match merged {
                Some(value) => value.alias_qualified(qualifier.cloned(), field.name()),
                None => Expr::Column(column),
            });
        }
        Ok(Transformed::yes(LogicalPlan::Projection(Projection::try_new(exprs, Arc::new(node))?)))
    })
    .map(|t| t.data)
    .map_err(crate::plan::df::translate)
}
