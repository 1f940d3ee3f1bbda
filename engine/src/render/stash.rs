//! Updates held back until their time is complete, for the operators of
//! our own that keep their state in hash maps ([`super::reduce`],
//! [`super::accumulate`], [`super::top_k`], [`super::window`] through
//! [`per_key`]; [`super::left_join`], with two inputs, directly).
//!
//! Such an operator must see all of a time's updates, from every input,
//! before it computes that time's output, and must hand the times over in
//! order (its state is "as of the last time applied"). The stash keeps the
//! updates per time and one capability, for the least time it holds; once
//! the input frontiers have passed a time, its updates come out, with a
//! capability for it. Timestamps are totally ordered, so the least time is
//! one capability, not a set.
//!
//! Such operators ask to be scheduled on frontier changes only while they
//! hold a capability (`FrontierInterest::IfCapability`): one with nothing
//! held has nothing to release, and every timestamp moves every frontier,
//! so waking them all for each one was a fixed cost per timestamp.

use crate::repr::Row;
use crate::{Diff, Timestamp};
use differential_dataflow::hashable::Hashable;
use differential_dataflow::{AsCollection, Data, ExchangeData, VecCollection};
use std::collections::BTreeMap;
use timely::dataflow::channels::pact::Exchange;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::progress::operate::FrontierInterest;
use timely::dataflow::operators::{Capability, InputCapability};
use timely::progress::frontier::MutableAntichain;

pub struct TimeStash<U> {
    updates: BTreeMap<Timestamp, Vec<U>>,
    /// For the least time in `updates`, while it is not empty.
    cap: Option<Capability<Timestamp>>,
}

impl<U> Default for TimeStash<U> {
    fn default() -> Self {
        TimeStash { updates: BTreeMap::new(), cap: None }
    }
}

impl<U> TimeStash<U> {
    /// Holds `updates` that arrived with capability `cap`.
    pub fn hold(&mut self, cap: &InputCapability<Timestamp>, updates: impl IntoIterator<Item = (Timestamp, U)>) {
        if let Some(c) = cap.retain_least(0) {
            if self.cap.as_ref().is_none_or(|held| c.time() < held.time()) {
                self.cap = Some(c);
            }
        }
        for (time, u) in updates {
            self.updates.entry(time).or_default().push(u);
        }
    }

    /// Hands over, in time order, each held time that no input frontier of
    /// `frontiers` can still produce, with a capability for it; then keeps
    /// a capability only for the least time still held.
    pub fn release(&mut self, frontiers: &[&MutableAntichain<Timestamp>], mut f: impl FnMut(&Capability<Timestamp>, Timestamp, Vec<U>)) {
        while let Some(entry) = self.updates.first_entry() {
            let time = *entry.key();
            if frontiers.iter().any(|f| f.less_equal(&time)) {
                break;
            }
            let updates = entry.remove();
            let at = self.cap.as_ref().expect("a capability for held updates").delayed(&time);
            f(&at, time, updates);
        }
        match self.updates.keys().next() {
            Some(t) => {
                if let Some(c) = self.cap.as_mut() {
                    c.downgrade(t);
                }
            }
            None => self.cap = None,
        }
    }
}

/// A unary operator over `(key, value)` updates, for the operators whose
/// state is per key: once a time is complete, `logic` gets each key's
/// updates at that time (keys in order, with their diffs), and what it
/// pushes to `out` is emitted at that time. Keys are spread over workers
/// by their hash, so one key's state lives on one worker.
pub fn per_key<'s, V, O, L>(input: VecCollection<'s, Timestamp, (Row, V), Diff>, name: &str, mut logic: L) -> VecCollection<'s, Timestamp, O, Diff>
where
    V: ExchangeData,
    O: Data,
    L: FnMut(&Row, &[(Row, V, Diff)], &mut Vec<(O, Diff)>) + 'static,
{
    let exchange = Exchange::new(|update: &((Row, V), Timestamp, Diff)| (update.0).0.hashed());
    let mut builder = OperatorBuilder::new(name.to_owned(), input.inner.scope());
    let mut input = builder.new_input(input.inner, exchange);
    builder.set_notify_for(0, FrontierInterest::IfCapability);
    let (output, stream) = builder.new_output();
    let mut output = OutputBuilder::<_, CapacityContainerBuilder<Vec<(O, Timestamp, Diff)>>>::from(output);
    builder.build(move |_initial| {
        let mut stash = TimeStash::default();
        let mut out = Vec::new();
        move |frontiers| {
            let mut output = output.activate();
            input.for_each(|cap, data| stash.hold(&cap, data.drain(..).map(|((key, v), time, diff)| (time, (key, v, diff)))));
            stash.release(&[&frontiers[0]], |at, time, mut updates| {
                updates.sort_by(|a, b| a.0.cmp(&b.0));
                for batch in updates.chunk_by(|a, b| a.0 == b.0) {
                    logic(&batch[0].0, batch, &mut out);
                }
                let mut session = output.session(at);
                for (o, d) in out.drain(..) {
                    session.give((o, time, d));
                }
            });
        }
    });
    stream.as_collection()
}
