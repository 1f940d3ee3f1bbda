//! Arranging a collection in one operator, its updates converted to the
//! arranged form ([`SharedRow`]s, keyed pairs) on the way in.
//!
//! Differential's `arrange_by_self` and our conversion to [`SharedRow`]
//! were each a `map` in front of the arrange operator: two operators per
//! arrangement, every one scheduled and tracked for progress at every
//! timestamp, and each update copied once more between them. Here the
//! batcher's chunker takes the collection's own updates, converts each as
//! it sorts it into chunks, and the arrange operator is the only one.
//!
//! Semantics are `arrange_by_self` (rows, errors) and `arrange_by_key`
//! (keyed rows) over the converted updates. Updates are spread over
//! workers by the hash of their key, which is the same for a [`Row`] and
//! the [`SharedRow`] made from it.

use super::join::KeyedArrangement;
use crate::expr::EvalError;
use crate::repr::{Row, SharedRow};
use crate::{Diff, Timestamp};
use differential_dataflow::batcher::merge::vec::VecMerger;
use differential_dataflow::batcher::merge::MergeBatcher;
use differential_dataflow::consolidation::consolidate_updates;
use differential_dataflow::hashable::Hashable;
use differential_dataflow::operators::arrange::arrangement::arrange_core;
use differential_dataflow::operators::arrange::TraceAgent;
use differential_dataflow::trace::implementations::{KeyBuilder, KeySpine, ValBuilder, ValSpine};
use differential_dataflow::VecCollection;
use std::collections::VecDeque;
use timely::container::{ContainerBuilder, PushInto};
use timely::dataflow::channels::pact::Exchange;

/// Data as an arrangement keeps it: a (key, value) pair.
pub trait Arrangeable: differential_dataflow::ExchangeData {
    type Key: Ord + Clone + 'static;
    type Val: Ord + Clone + 'static;
    /// What the update is spread over workers by: its key's hash.
    fn route(&self) -> u64;
    fn into_pair(self) -> (Self::Key, Self::Val);
}

impl Arrangeable for Row {
    type Key = SharedRow;
    type Val = ();
    fn route(&self) -> u64 {
        self.hashed()
    }
    fn into_pair(self) -> (SharedRow, ()) {
        (SharedRow::from(self), ())
    }
}

impl Arrangeable for EvalError {
    type Key = EvalError;
    type Val = ();
    fn route(&self) -> u64 {
        self.hashed()
    }
    fn into_pair(self) -> (EvalError, ()) {
        (self, ())
    }
}

impl Arrangeable for (Row, Row) {
    type Key = SharedRow;
    type Val = SharedRow;
    fn route(&self) -> u64 {
        self.0.hashed()
    }
    fn into_pair(self) -> (SharedRow, SharedRow) {
        (SharedRow::from(self.0), SharedRow::from(self.1))
    }
}

/// Updates per sorted chunk.
const CHUNK: usize = 1024;

type Pair<D> = (<D as Arrangeable>::Key, <D as Arrangeable>::Val);
type Chunk<D> = Vec<(Pair<D>, Timestamp, Diff)>;

/// Converts updates of `D` and cuts them into sorted, consolidated chunks
/// (what differential's `ContainerChunker` does, plus the conversion).
pub struct IntoArranged<D: Arrangeable> {
    pending: Chunk<D>,
    ready: VecDeque<Chunk<D>>,
    current: Chunk<D>,
}

impl<D: Arrangeable> Default for IntoArranged<D> {
    fn default() -> Self {
        IntoArranged { pending: Vec::new(), ready: VecDeque::new(), current: Vec::new() }
    }
}

impl<D: Arrangeable> IntoArranged<D> {
    /// Sorts and consolidates what is pending; keeps it as a chunk when at
    /// least half of it is left (else it goes on filling).
    fn cut(&mut self, force: bool) {
        let before = self.pending.len();
        consolidate_updates(&mut self.pending);
        if !self.pending.is_empty() && (force || self.pending.len() > before / 2) {
            self.ready.push_back(std::mem::take(&mut self.pending));
        }
    }
}

impl<D: Arrangeable> PushInto<&mut Vec<(D, Timestamp, Diff)>> for IntoArranged<D> {
    fn push_into(&mut self, updates: &mut Vec<(D, Timestamp, Diff)>) {
        for (d, t, r) in updates.drain(..) {
            if self.pending.capacity() == 0 {
                self.pending.reserve(CHUNK);
            }
            self.pending.push((d.into_pair(), t, r));
            if self.pending.len() >= CHUNK {
                self.cut(false);
            }
        }
    }
}

impl<D: Arrangeable> ContainerBuilder for IntoArranged<D> {
    type Container = Chunk<D>;

    fn extract(&mut self) -> Option<&mut Chunk<D>> {
        self.current = self.ready.pop_front()?;
        Some(&mut self.current)
    }

    fn finish(&mut self) -> Option<&mut Chunk<D>> {
        if !self.pending.is_empty() {
            self.cut(true);
        }
        self.extract()
    }
}

/// `collection` arranged by itself: rows as [`SharedRow`]s, errors as they are.
pub fn arrange_by_self<'s, D>(collection: VecCollection<'s, Timestamp, D, Diff>, name: &str) -> TraceAgent<KeySpine<D::Key, Timestamp, Diff>>
where
    D: Arrangeable<Val = ()>,
{
    type Batcher<D> = MergeBatcher<IntoArranged<D>, VecMerger<Pair<D>, Timestamp, Diff>, KeyBuilder<<D as Arrangeable>::Key, Timestamp, Diff>>;
    let exchange = Exchange::new(|(d, _, _): &(D, Timestamp, Diff)| d.route());
    arrange_core::<_, _, Batcher<D>, KeySpine<D::Key, Timestamp, Diff>>(collection.inner, exchange, name, Batcher::<D>::new).trace
}

/// Keyed rows arranged by their key, both as [`SharedRow`]s.
pub fn arrange_by_key<'s>(keyed: VecCollection<'s, Timestamp, (Row, Row), Diff>, name: &str) -> KeyedArrangement<'s> {
    type Batcher = MergeBatcher<IntoArranged<(Row, Row)>, VecMerger<(SharedRow, SharedRow), Timestamp, Diff>, ValBuilder<SharedRow, SharedRow, Timestamp, Diff>>;
    let exchange = Exchange::new(|(d, _, _): &((Row, Row), Timestamp, Diff)| d.route());
    arrange_core::<_, _, Batcher, ValSpine<SharedRow, SharedRow, Timestamp, Diff>>(keyed.inner, exchange, name, Batcher::new)
}
