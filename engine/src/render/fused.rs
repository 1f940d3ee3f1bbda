//! Reading a collection and the row work over it in one operator.
//!
//! A `Get` imports a collection's arrangement and turns its batches into a
//! stream of rows: one operator. The Map, Filter and Project chain or the
//! join key over it is another, and every operator costs timely a round of
//! scheduling and progress tracking at every timestamp, data or not. When
//! that work cannot fail (see `ScalarExpr::can_fail`) it needs no error
//! output, and it runs inside the operator that reads the batches.
//!
//! Work that can fail keeps its own operator, which has an error output
//! (`fallible`).

use super::left_join::LeftKeyed;
use super::row_ops::RowOps;
use super::{key_of, Context};
use crate::expr::{EvalError, ScalarExpr};
use crate::plan::Plan;
use crate::repr::{Datum, Row};
use crate::{Diff, GlobalId, Timestamp};
use differential_dataflow::VecCollection;

/// The collection `plan` reads when it is a `Get`, alone or under a chain
/// of Map, Filter and Project that cannot fail and is not volatile (whose
/// input must be consolidated first), with that chain.
fn fusable(plan: &Plan) -> Option<(GlobalId, Option<RowOps>)> {
    let (ops, below) = match RowOps::of(plan) {
        Some((ops, below)) if !ops.can_fail() && !ops.is_volatile() => (Some(ops), below),
        Some(_) => return None,
        None => (None, plan),
    };
    match below {
        Plan::Get { id, .. } => Some((*id, ops)),
        _ => None,
    }
}

/// The value of work judged unable to fail; an error is a bug in that
/// judgement (see `fallible::report_unexpected`).
pub(super) fn infallible<T>(result: Result<T, EvalError>, what: &str) -> Option<T> {
    result.map_err(|e| super::fallible::report_unexpected(what, &e)).ok()
}

impl<'s> Context<'_, 's> {
    /// `logic` over each row of collection `id`, in the operator that reads
    /// its imported arrangement. History before the compaction frontier
    /// arrives as one snapshot at that frontier: a new dataflow computes
    /// from the current contents once instead of replaying each earlier
    /// change (which could also leave an earlier but equal value, such as
    /// numeric `0` where the contents say `0.00`). Its errors stay where
    /// they are (see the module doc of `render`).
    pub(super) fn import_map<D, I, L>(&mut self, id: GlobalId, mut logic: L) -> VecCollection<'s, Timestamp, D, Diff>
    where
        D: differential_dataflow::Data,
        I: IntoIterator<Item = D>,
        L: FnMut(&[Datum]) -> I + 'static,
    {
        let bundle = self.traces.get_mut(&id).unwrap_or_else(|| panic!("no arrangement for u{}", id));
        bundle.oks.import_frontier(self.scope, "RowsSource").0.flat_map_ref(move |row, _| logic(row))
    }

    /// `plan`'s rows in one operator, when [`fusable`].
    pub(super) fn fused_rows(&mut self, plan: &Plan) -> Option<super::Rows<'s>> {
        let (id, ops) = fusable(plan)?;
        Some(self.import_map(id, move |row| infallible(RowOps::apply_some_ref(&ops, row)?, "RowOps")))
    }

    /// `plan`'s rows paired with their key in one operator, when [`fusable`]
    /// and the key cannot fail either (see `Context::render_keyed`).
    pub(super) fn fused_keyed(&mut self, plan: &Plan, key: &[ScalarExpr], null_eq: bool) -> Option<VecCollection<'s, Timestamp, (Row, Row), Diff>> {
        self.fused_by_key(plan, key, null_eq, |k, row| Some((k?, row)))
    }

    /// The left side of a left join keyed in one operator, when
    /// [`fusable`] and the key cannot fail (see
    /// `Context::render_left_keyed`).
    pub(super) fn fused_left_keyed(&mut self, plan: &Plan, key: &[ScalarExpr], null_eq: bool) -> Option<LeftKeyed<'s>> {
        self.fused_by_key(plan, key, null_eq, |k, row| Some((k, row)))
    }

    /// `pair` of each row's key (None when it has a NULL and `null_eq` is
    /// false) and the row, in one operator, when [`fusable`] and the key
    /// cannot fail.
    fn fused_by_key<D, P>(&mut self, plan: &Plan, key: &[ScalarExpr], null_eq: bool, pair: P) -> Option<VecCollection<'s, Timestamp, D, Diff>>
    where
        D: differential_dataflow::Data,
        P: Fn(Option<Row>, Row) -> Option<D> + 'static,
    {
        if key.iter().any(ScalarExpr::can_fail) {
            return None;
        }
        let (id, ops) = fusable(plan)?;
        let key = key.to_vec();
        Some(self.import_map(id, move |row| {
            let row = infallible(RowOps::apply_some_ref(&ops, row)?, "RowOps+Key")?;
            let k = match key_of(&key, &row, null_eq) {
                Some(k) => Some(infallible(k, "Key")?),
                None => None,
            };
            pair(k, row)
        }))
    }
}
