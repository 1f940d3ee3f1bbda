//! Updates held back until their time is complete, for the operators of
//! our own that keep their state in hash maps ([`super::reduce`],
//! [`super::window`], [`super::left_join`]).
//!
//! Such an operator must see all of a time's updates, from every input,
//! before it computes that time's output, and must hand the times over in
//! order (its state is "as of the last time applied"). The stash keeps the
//! updates per time and one capability, for the least time it holds; once
//! the input frontiers have passed a time, its updates come out, with a
//! capability for it. Timestamps are totally ordered, so the least time is
//! one capability, not a set.

use crate::Timestamp;
use std::collections::BTreeMap;
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
