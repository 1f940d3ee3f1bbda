//! The timely worker threads and the handle that drives them.
//!
//! The coordinator sends every [`Command`] to every worker, in one order, so
//! that all workers build the same dataflows. Writes are spread over the
//! workers; reads (peeks) are answered by each worker for its share of an
//! arrangement and merged by the caller.

mod profile;
mod worker;

use crate::expr::EvalError;
use crate::plan::Plan;
use crate::repr::Row;
use crate::{Diff, GlobalId, Timestamp};
use std::sync::mpsc::{channel, Sender};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::Thread;

/// One worker's share of a peek: the rows (with multiplicities) and errors
/// of a collection at a time.
#[derive(Debug, Default)]
pub struct PeekResponse {
    pub rows: Vec<(Row, Diff)>,
    pub errors: Vec<EvalError>,
}

/// Called once per worker with its share of a peek.
pub type PeekResponder = Arc<dyn Fn(PeekResponse) + Send + Sync>;

/// One worker's share of what a collection holds, and how far it has got.
#[derive(Debug, Clone, Default)]
pub struct CollectionStats {
    pub id: GlobalId,
    /// The first time the collection is not yet complete at.
    pub upper: Timestamp,
    /// Updates in its arrangement of rows, and of errors: each distinct
    /// row (or error) once, with its multiplicity, and once more per
    /// later time it changed at that is not yet compacted away.
    pub records: u64,
    pub error_records: u64,
    /// Estimated bytes of both arrangements.
    pub arranged_bytes: u64,
    /// Records and estimated bytes the operators of our own keep in its
    /// dataflow (see `render::state`).
    pub operator_records: u64,
    pub operator_bytes: u64,
}

/// Called once per worker with its stats for every collection.
pub type StatsResponder = Arc<dyn Fn(Vec<CollectionStats>) + Send + Sync>;

/// Called on each worker with that worker's share of a subscription's
/// changes and progress; returning false stops sending (the subscription
/// is dropped with [`Command::Drop`]).
pub type SubscribeSink = Arc<dyn Fn(SubscribeEvent) -> bool + Send + Sync>;

#[derive(Debug, Clone)]
pub enum SubscribeEvent {
    /// Changes, each at its timestamp, from one worker (not consolidated
    /// across workers: the receiver consolidates per timestamp).
    Updates(Vec<(Row, Timestamp, Diff)>),
    /// This worker will send no more changes at times before this one;
    /// `Timestamp::MAX` when the collection is gone.
    Progress(Timestamp),
    /// Evaluation errors of the collection's rows (rows missing from
    /// `Updates`), added or retracted, each at its timestamp, from one
    /// worker; no progress of their own (they may arrive after the rows'
    /// progress passed their timestamp).
    Errors(Vec<(crate::expr::EvalError, Timestamp, Diff)>),
}

#[derive(Clone)]
pub enum Command {
    /// Creates an empty table with an input the coordinator writes to.
    CreateTable { id: GlobalId },
    /// Builds a dataflow computing `plan` and arranges its result under `id`.
    CreateView { id: GlobalId, plan: Plan },
    /// Drops the collection `id` and its dataflow.
    Drop { id: GlobalId },
    /// Inserts (or with negative diffs, deletes) rows of a table at `time`.
    Write { id: GlobalId, time: Timestamp, updates: Arc<Vec<(Row, Diff)>> },
    /// Closes every timestamp before `time` on every table.
    AdvanceTime { time: Timestamp },
    /// Reads collection `id` as of `time`, once every input has passed it.
    Peek { id: GlobalId, time: Timestamp, respond: PeekResponder },
    /// Streams the contents of `of` and then every change to it to `sink`,
    /// as a dataflow named `id` (drop it with [`Command::Drop`]).
    Subscribe { id: GlobalId, of: GlobalId, sink: SubscribeSink },
    /// Reports every collection's [`CollectionStats`] (not waiting for
    /// any time to complete).
    Stats { respond: StatsResponder },
    /// Allows arrangements to forget history before `since`.
    AllowCompaction { since: Timestamp },
    Shutdown,
}

/// How far the workers have got, readable from any thread.
#[derive(Clone)]
pub struct Progress(Arc<Uppers>);

/// Per worker, the first time some collection of it is not complete at,
/// and a wake-up for whoever waits for one of them to move.
struct Uppers {
    times: Vec<AtomicU64>,
    moved: tokio::sync::Notify,
}

impl Uppers {
    fn advance(&self, worker: usize, t: Timestamp) {
        if self.times[worker].swap(t, Ordering::Relaxed) != t {
            self.moved.notify_waiters();
        }
    }
}

impl Progress {
    /// The first time at which some table, source or view is not yet
    /// complete on some worker: every collection is complete before it.
    /// (The ingest loop waits for it to pass the last timestamp it wrote
    /// before writing another, so that under load each timestamp carries
    /// more data instead of the engine falling behind on per-timestamp
    /// work.)
    pub fn complete_before(&self) -> Timestamp {
        self.0.times.iter().map(|u| u.load(Ordering::Relaxed)).min().unwrap_or(0)
    }

    /// Waits until [`Self::complete_before`] passes `time`, or `timeout`.
    pub async fn wait_past(&self, time: Timestamp, timeout: std::time::Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Registered before the check, so a move in between still wakes.
            let moved = self.0.moved.notified();
            tokio::pin!(moved);
            moved.as_mut().enable();
            if self.complete_before() > time || tokio::time::timeout_at(deadline, moved).await.is_err() {
                return;
            }
        }
    }
}

/// The running workers.
pub struct Engine {
    senders: Vec<Sender<Command>>,
    uppers: Arc<Uppers>,
    threads: Vec<Thread>,
    guards: Option<timely::communication::initialize::WorkerGuards<()>>,
}

impl Engine {
    /// Starts `workers` timely worker threads in this process.
    pub fn start(workers: usize) -> Engine {
        let workers = workers.max(1);
        let mut senders = Vec::new();
        let mut receivers = Vec::new();
        for _ in 0..workers {
            let (tx, rx) = channel();
            senders.push(tx);
            receivers.push(Some(rx));
        }
        let receivers = Arc::new(Mutex::new(receivers));
        let (thread_tx, thread_rx) = channel();
        let thread_tx = Mutex::new(thread_tx);
        let uppers = Arc::new(Uppers { times: (0..workers).map(|_| AtomicU64::new(0)).collect(), moved: tokio::sync::Notify::new() });
        let worker_uppers = uppers.clone();
        // One worker exchanges nothing: timely's thread allocator moves its
        // progress and data through plain queues, where the process
        // allocator's go through shared, locked ones.
        let config = if workers == 1 { timely::Config::thread() } else { timely::Config::process(workers) };
        let guards = timely::execute(config, move |w| {
            let rx = receivers.lock().unwrap()[w.index()].take().expect("each worker takes its receiver once");
            thread_tx.lock().unwrap().send((w.index(), std::thread::current())).unwrap();
            let (index, uppers) = (w.index(), worker_uppers.clone());
            let run = std::panic::AssertUnwindSafe(|| worker::Worker::new(w, rx, move |t| uppers.advance(index, t)).run());
            if std::panic::catch_unwind(run).is_err() {
                // A bug, not bad input (that flows as data). The other
                // workers would wait for this one forever and every view
                // would stop moving: better a clear exit a supervisor sees
                // than a server that answers with stale or no results.
                eprintln!("eddy: engine worker {} failed (the panic is above); exiting, as no view can be maintained without it. This is a bug in eddy: please report it with the statements that led to it.", index);
                std::process::exit(70);
            }
        })
        .expect("timely workers start");
        let mut threads: Vec<(usize, Thread)> = (0..workers).map(|_| thread_rx.recv().unwrap()).collect();
        threads.sort_by_key(|(i, _)| *i);
        Engine { senders, uppers, threads: threads.into_iter().map(|(_, t)| t).collect(), guards: Some(guards) }
    }

    pub fn workers(&self) -> usize {
        self.senders.len()
    }

    /// A handle that reads [`Progress::complete_before`] from anywhere.
    pub fn progress(&self) -> Progress {
        Progress(self.uppers.clone())
    }

    /// Sends `cmd` to every worker and wakes them.
    pub fn send(&self, cmd: Command) {
        for (tx, thread) in self.senders.iter().zip(&self.threads) {
            // A worker that has exited has nothing left to do with commands.
            let _ = tx.send(cmd.clone());
            thread.unpark();
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.send(Command::Shutdown);
        if let Some(g) = self.guards.take() {
            drop(g.join());
        }
    }
}
