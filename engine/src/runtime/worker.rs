//! One timely worker: executes commands, steps dataflows, answers peeks.

use super::{CollectionStats, Command, PeekResponder, PeekResponse, SubscribeEvent, SubscribeSink};
use crate::render::state::{shared_row_heap_bytes, StateReport, StateSize, SAMPLE};
use crate::render::arrange::arrange_by_self;
use crate::render::{render, ErrTrace, RowTrace, TraceBundle};
use crate::repr::Row;
use crate::{Diff, GlobalId, Timestamp};
use differential_dataflow::input::{Input, InputSession};
use differential_dataflow::trace::cursor::{cursor_list, Cursor};
use differential_dataflow::trace::TraceReader;
use std::collections::HashMap;
use std::sync::mpsc::Receiver;
use std::time::Duration;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::progress::frontier::{Antichain, AntichainRef};

struct PendingPeek {
    id: GlobalId,
    time: Timestamp,
    respond: PeekResponder,
}

pub struct Worker<'w> {
    timely: &'w mut timely::worker::Worker,
    commands: Receiver<Command>,
    traces: HashMap<GlobalId, TraceBundle>,
    dataflows: HashMap<GlobalId, usize>,
    /// The state of each view's operators of our own.
    states: HashMap<GlobalId, StateReport>,
    inputs: HashMap<GlobalId, InputSession<Timestamp, Row, Diff>>,
    peeks: Vec<PendingPeek>,
    time: Timestamp,
    since: Timestamp,
    profiler: Option<super::profile::Profiler>,
    /// Told the first time some collection of this worker is incomplete at.
    report_upper: Box<dyn Fn(Timestamp)>,
    /// Each collection's upper when last read (see `report_upper`).
    uppers: HashMap<GlobalId, Timestamp>,
    /// What `report_upper` was told last. Once it reaches `time`, only an
    /// `AdvanceTime` or a new collection can move it, so steps until then
    /// skip reading every trace's upper (which walks all its batches).
    reported: Timestamp,
}

impl<'w> Worker<'w> {
    pub fn new(timely: &'w mut timely::worker::Worker, commands: Receiver<Command>, report_upper: impl Fn(Timestamp) + 'static) -> Self {
        let profiler = super::profile::Profiler::install(timely);
        Worker { timely, commands, traces: HashMap::new(), dataflows: HashMap::new(), states: HashMap::new(), inputs: HashMap::new(), peeks: Vec::new(), time: 0, since: 0, profiler, report_upper: Box::new(report_upper), uppers: HashMap::new(), reported: 0 }
    }

    pub fn run(mut self) {
        loop {
            while let Ok(cmd) = self.commands.try_recv() {
                if matches!(cmd, Command::Shutdown) {
                    return;
                }
                self.handle(cmd);
            }
            self.timely.step_or_park(Some(Duration::from_millis(20)));
            self.serve_peeks();
            let upper = if self.reported >= self.time { self.reported } else { self.report_upper() };
            if let Some(p) = &mut self.profiler {
                p.step(upper);
                p.maybe_report();
            }
        }
    }

    fn handle(&mut self, cmd: Command) {
        if matches!(cmd, Command::CreateTable { .. } | Command::CreateView { .. } | Command::Drop { .. }) {
            self.reported = 0; // the least upper may move back
        }
        match cmd {
            Command::CreateTable { id } => self.create_table(id),
            Command::CreateView { id, plan } => {
                let index = self.timely.next_dataflow_index();
                let traces = &mut self.traces;
                let state = StateReport::default();
                let bundle = self.timely.dataflow_named::<Timestamp, _, _>(&format!("u{}", id), |scope| {
                    let (oks, errs) = render(&plan, scope, traces, &state);
                    let err_ids = TraceBundle::err_ids_of(id, errs.is_some(), &plan.depends_on(), traces);
                    TraceBundle { oks: arrange_by_self(oks, "ArrangeBySelf"), errs: errs.map(|e| arrange_by_self(e, "ArrangeErrors")), err_ids }
                });
                self.install(id, index, bundle);
                self.states.insert(id, state);
            }
            Command::Drop { id } => {
                self.traces.remove(&id);
                self.uppers.remove(&id);
                self.states.remove(&id);
                self.inputs.remove(&id);
                self.peeks.retain(|p| p.id != id);
                if let Some(index) = self.dataflows.remove(&id) {
                    self.timely.drop_dataflow(index);
                }
            }
            Command::Write { id, time, updates } => {
                let (index, peers) = (self.timely.index(), self.timely.peers());
                if let Some(input) = self.inputs.get_mut(&id) {
                    for (row, diff) in updates.iter().skip(index).step_by(peers) {
                        input.update_at(row.clone(), time, *diff);
                    }
                }
            }
            Command::AdvanceTime { time } => {
                self.time = self.time.max(time);
                for input in self.inputs.values_mut() {
                    input.advance_to(self.time);
                    input.flush();
                }
            }
            Command::Peek { id, time, respond } => self.peeks.push(PendingPeek { id, time, respond }),
            Command::Subscribe { id, of, sink } => self.subscribe(id, of, sink),
            Command::Stats { respond } => respond(self.stats()),
            Command::AllowCompaction { since } => {
                self.since = self.since.max(since);
                let frontier = [self.since];
                for b in self.traces.values_mut() {
                    b.oks.set_logical_compaction(AntichainRef::new(&frontier));
                    b.oks.set_physical_compaction(AntichainRef::new(&frontier));
                    if let Some(errs) = &mut b.errs {
                        errs.set_logical_compaction(AntichainRef::new(&frontier));
                        errs.set_physical_compaction(AntichainRef::new(&frontier));
                    }
                }
            }
            Command::Shutdown => {}
        }
    }

    fn create_table(&mut self, id: GlobalId) {
        let index = self.timely.next_dataflow_index();
        let (mut input, bundle) = self.timely.dataflow_named::<Timestamp, _, _>(&format!("table u{}", id), |scope| {
            let (input, rows) = scope.new_collection::<Row, Diff>();
            // Rows are checked before they are written: a table has no errors.
            (input, TraceBundle { oks: arrange_by_self(rows, "ArrangeBySelf"), errs: None, err_ids: Vec::new() })
        });
        input.advance_to(self.time);
        input.flush();
        self.inputs.insert(id, input);
        self.install(id, index, bundle);
    }

    fn install(&mut self, id: GlobalId, index: usize, mut bundle: TraceBundle) {
        self.uppers.remove(&id);
        let frontier = [self.since];
        bundle.oks.set_logical_compaction(AntichainRef::new(&frontier));
        if let Some(errs) = &mut bundle.errs {
            errs.set_logical_compaction(AntichainRef::new(&frontier));
        }
        self.traces.insert(id, bundle);
        self.dataflows.insert(id, index);
    }

    /// Tells `report_upper` the least upper of this worker's collections,
    /// and returns it. A trace's upper only grows, so one already at the
    /// input time is not read again (reading walks all its batches, and
    /// this runs after every step until the slowest view is done).
    fn report_upper(&mut self) -> Timestamp {
        let mut min = Timestamp::MAX;
        let mut upper = Antichain::new();
        for (id, bundle) in self.traces.iter_mut() {
            let known = self.uppers.entry(*id).or_insert(0);
            if *known < self.time {
                bundle.oks.read_upper(&mut upper);
                *known = upper.first().copied().unwrap_or(Timestamp::MAX);
            }
            min = min.min(*known);
        }
        (self.report_upper)(min);
        self.reported = min;
        min
    }

    fn stats(&mut self) -> Vec<CollectionStats> {
        let mut out = Vec::new();
        let mut upper = Antichain::new();
        // Each collection's own error arrangement, counted once for bytes;
        // its error records are those of all it reads too.
        let own_errs: HashMap<GlobalId, StateSize> = self.traces.iter_mut().filter_map(|(id, b)| Some((*id, arranged_size(b.errs.as_mut()?, |e| (e.code.capacity() + e.message.capacity()) as u64)))).collect();
        for (id, bundle) in self.traces.iter_mut() {
            bundle.oks.read_upper(&mut upper);
            let rows = arranged_size(&mut bundle.oks, shared_row_heap_bytes);
            let errs = own_errs.get(id).copied().unwrap_or_default();
            let error_records = bundle.err_ids.iter().filter_map(|e| own_errs.get(e)).map(|s| s.records).sum();
            let own = self.states.get(id).map(|s| s.size()).unwrap_or_default();
            out.push(CollectionStats {
                id: *id,
                upper: upper.first().copied().unwrap_or(Timestamp::MAX),
                records: rows.records,
                error_records,
                arranged_bytes: rows.bytes + errs.bytes,
                operator_records: own.records,
                operator_bytes: own.bytes,
            });
        }
        out
    }

    fn serve_peeks(&mut self) {
        let mut pending = std::mem::take(&mut self.peeks);
        pending.retain(|peek| {
            let Some(err_ids) = self.traces.get(&peek.id).map(|b| b.err_ids.clone()) else {
                (peek.respond)(PeekResponse::default());
                return false;
            };
            // The view's errors are in its own and its inputs' error
            // arrangements (see `render`): all must be complete too. (Read
            // in place: a clone of a trace handle would hold back its
            // compaction while it lives.)
            let errs_complete = err_ids.iter().all(|e| self.traces.get_mut(e).and_then(|b| b.errs.as_mut()).is_none_or(|t| complete(t, peek.time)));
            let Some(bundle) = self.traces.get_mut(&peek.id) else { return false };
            if !(errs_complete && complete(&mut bundle.oks, peek.time)) {
                return true;
            }
            let rows = read_at(&mut bundle.oks, |r| r.to_vec(), |t| t <= peek.time);
            let mut errors = Vec::new();
            for e in &err_ids {
                if let Some(t) = self.traces.get_mut(e).and_then(|b| b.errs.as_mut()) {
                    errors.extend(read_at(t, |e| e.clone(), |t| t <= peek.time).into_iter().map(|(e, _)| e));
                }
            }
            (peek.respond)(PeekResponse { rows, errors });
            false
        });
        self.peeks.extend(pending);
    }

    /// A dataflow that streams every change of `of` (first its contents as
    /// of now, then each later change) to `sink`, with progress, and its
    /// evaluation errors as they come and go.
    fn subscribe(&mut self, id: GlobalId, of: GlobalId, sink: SubscribeSink) {
        let Some(bundle) = self.traces.get(&of) else {
            sink(SubscribeEvent::Progress(Timestamp::MAX));
            return;
        };
        let mut trace = bundle.oks.clone();
        let mut errs: Vec<ErrTrace> = bundle.err_ids.iter().filter_map(|e| self.traces.get(e)?.errs.clone()).collect();
        let index = self.timely.next_dataflow_index();
        self.timely.dataflow_named::<Timestamp, _, _>(&format!("subscribe u{}", id), |scope| {
            let (mut errs_open, errs_sink) = (true, sink.clone());
            if !errs.is_empty() {
                let parts: Vec<_> = errs.iter_mut().map(|e| e.import_frontier(scope, "ErrsSource").0.as_collection(|e, _| e.clone())).collect();
                differential_dataflow::collection::concatenate(scope, parts).inspect_batch(move |_, errors| {
                    if errs_open && !errors.is_empty() {
                        errs_open = errs_sink(SubscribeEvent::Errors(errors.to_vec()));
                    }
                });
            }
            // Imported as a view's inputs are (`render`): history before the
            // compaction frontier comes as one snapshot at the frontier, the
            // same on every worker.
            let (mut open, mut reported) = (true, None);
            trace.import_frontier(scope, "RowsSource").0.as_collection(|r, _| r.to_vec()).inner.sink(Pipeline, "Subscribe", move |(input, frontier)| {
                // Each batch of updates is handed over, not cloned; then the
                // frontier, when it moved (it cannot pass an update this
                // operator has not taken yet).
                input.for_each(|_, updates| {
                    if open && !updates.is_empty() {
                        open = sink(SubscribeEvent::Updates(std::mem::take(updates)));
                    }
                });
                let upper = frontier.frontier().first().copied().unwrap_or(Timestamp::MAX);
                if open && reported != Some(upper) {
                    reported = Some(upper);
                    open = sink(SubscribeEvent::Progress(upper));
                }
            });
        });
        self.dataflows.insert(id, index);
    }
}

/// The updates in `trace` and an estimate of their bytes: per batch, its
/// updates times their fixed size plus the heap bytes (`heap`) of a sample
/// of its keys, scaled up (a key usually has one update once compacted).
fn arranged_size<K: Ord + Clone + 'static>(trace: &mut differential_dataflow::operators::arrange::TraceAgent<differential_dataflow::trace::implementations::KeySpine<K, Timestamp, Diff>>, heap: impl Fn(&K) -> u64) -> StateSize {
    use differential_dataflow::trace::implementations::spine_fueled::SpineBatch;
    use differential_dataflow::trace::Navigable;
    let mut size = StateSize::default();
    // Every batch, through the empty frontier: the read upper can be
    // behind the physical compaction frontier, and cutting there panics.
    let everything: Antichain<Timestamp> = Antichain::new();
    for batch in trace.batches_through(everything.borrow()).unwrap_or_default() {
        let len = batch.len() as u64;
        let (mut cursor, mut keys, mut bytes) = (batch.cursor(), 0u64, 0u64);
        while cursor.key_valid(&batch) && (keys as usize) < SAMPLE {
            bytes += heap(cursor.key(&batch));
            keys += 1;
            cursor.step_key(&batch);
        }
        let fixed = (std::mem::size_of::<K>() + std::mem::size_of::<(Timestamp, Diff)>() + 2 * std::mem::size_of::<usize>()) as u64;
        size.records += len;
        size.bytes += len * fixed + if keys > 0 { bytes * len / keys } else { 0 };
    }
    size
}

/// Whether every update at or before `time` is in the trace.
fn complete<Tr: TraceReader<Time = Timestamp>>(trace: &mut Tr, time: Timestamp) -> bool {
    let mut upper = Antichain::new();
    trace.read_upper(&mut upper);
    !upper.less_equal(&time)
}

fn for_each_update<K: Clone + 'static>(trace: &mut differential_dataflow::operators::arrange::TraceAgent<differential_dataflow::trace::implementations::KeySpine<K, Timestamp, Diff>>, mut f: impl FnMut(&K, Timestamp, Diff))
where
    K: Ord + Clone,
{
    let mut upper = Antichain::new();
    trace.read_upper(&mut upper);
    let Some(batches) = trace.batches_through(upper.borrow()) else { return };
    let (mut cursor, storage) = cursor_list(batches);
    while cursor.key_valid(&storage) {
        let key = cursor.key(&storage);
        while cursor.val_valid(&storage) {
            cursor.map_times(&storage, |t, d| f(key, *t, *d));
            cursor.step_val(&storage);
        }
        cursor.step_key(&storage);
    }
}

/// The accumulated contents of a trace over the times `keep` accepts.
fn read_at<K: Clone + Ord + 'static, O>(trace: &mut differential_dataflow::operators::arrange::TraceAgent<differential_dataflow::trace::implementations::KeySpine<K, Timestamp, Diff>>, out: impl Fn(&K) -> O, keep: impl Fn(Timestamp) -> bool) -> Vec<(O, Diff)> {
    let mut result: Vec<(O, Diff)> = Vec::new();
    let mut last: Option<K> = None;
    let mut acc: Diff = 0;
    let flush = |last: &Option<K>, acc: Diff, result: &mut Vec<(O, Diff)>| {
        if let Some(k) = last {
            if acc != 0 {
                result.push((out(k), acc));
            }
        }
    };
    for_each_update(trace, |k, t, d| {
        if !keep(t) {
            return;
        }
        if last.as_ref() != Some(k) {
            flush(&last, acc, &mut result);
            last = Some(k.clone());
            acc = 0;
        }
        acc += d;
    });
    flush(&last, acc, &mut result);
    result
}

#[allow(dead_code)]
fn _types(_: RowTrace) {}
