//! Subscriptions: what a sink is told. A subscriber takes a timestamp as
//! complete once every worker's progress has passed it, so a worker must
//! send all its changes at a timestamp before progress past it. The test
//! subscribes to a view over a table written in random batches (with 1 and
//! 2 workers), with history compacted before it subscribes, and checks
//! that contract on every event, that no change comes before the compaction
//! frontier, and that the changes up to each timestamp from the frontier on
//! add up to the view's contents recomputed from scratch at that timestamp.

mod common;

use common::*;
use eddy_engine::runtime::{Command, SubscribeEvent};
use eddy_engine::{Diff, GlobalId, Row, Timestamp};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

const VIEW: GlobalId = 100;
const SUBSCRIPTION: GlobalId = 200;

/// What the subscriber saw, per worker thread: its progress, the changes
/// it sent, and every change that came at or after a time its progress had
/// passed (each one a broken promise).
#[derive(Default)]
struct Seen {
    progress: HashMap<ThreadId, Timestamp>,
    changes: BTreeMap<Timestamp, Vec<(Row, Diff)>>,
    late: Vec<(Row, Timestamp, Timestamp)>,
}

#[test]
fn changes_come_before_the_progress_that_completes_them() {
    for workers in [1, 2] {
        let label = format!("subscribe ({} workers)", workers);
        let mut h = Harness::new(workers, &[T1], &label);
        // A view, so the subscription reads an arrangement a dataflow
        // keeps up to date, as a sink's does.
        let view = filter(get(T1, 3), vec![is_not_null(col(0))]);
        h.create_view(VIEW, "keyed", view.clone());
        let seen = Arc::new(Mutex::new(Seen::default()));
        let s = seen.clone();
        let sink = Arc::new(move |event: SubscribeEvent| {
            let worker = std::thread::current().id();
            let mut s = s.lock().unwrap();
            let passed = s.progress.get(&worker).copied().unwrap_or(0);
            match event {
                SubscribeEvent::Updates(updates) => {
                    for (row, t, d) in updates {
                        if t < passed {
                            s.late.push((row.clone(), t, passed));
                        }
                        s.changes.entry(t).or_default().push((row, d));
                    }
                }
                SubscribeEvent::Progress(t) => {
                    s.progress.insert(worker, t);
                }
                SubscribeEvent::Errors(_) => {}
            }
            true
        });
        let mut rng = Rng::new(7 + workers as u64);
        // History before the subscription, partly compacted: its changes
        // before the compaction frontier come at the frontier, on every
        // worker, so the contents at each later timestamp add up.
        let mut expected: Vec<(Timestamp, Multiset)> = Vec::new();
        let mut since = 0;
        for i in 0..30 {
            let t = h.write(vec![(T1, random_batch(&mut rng, &h.tables[&T1], gen_t1, 8, 25))]);
            if i == 20 {
                since = t;
                h.engine.send(Command::AllowCompaction { since });
            }
            if t >= since && since > 0 {
                expected.push((t, h.expected(&view).rows));
            }
        }
        h.engine.send(Command::Subscribe { id: SUBSCRIPTION, of: VIEW, sink });
        for _ in 0..60 {
            let batch = random_batch(&mut rng, &h.tables[&T1], gen_t1, 6, 30);
            let t = h.write(vec![(T1, batch)]);
            expected.push((t, h.expected(&view).rows));
        }
        // Wait until every worker's progress passed the last write.
        let last = h.time - 1;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let s = seen.lock().unwrap();
            if s.progress.len() == workers && s.progress.values().all(|p| *p > last) {
                break;
            }
            drop(s);
            assert!(Instant::now() < deadline, "{}: progress did not pass {} within 60 s", label, last);
            std::thread::sleep(Duration::from_millis(10));
        }
        let s = seen.lock().unwrap();
        assert!(s.late.is_empty(), "{}: {} changes came after their worker's progress passed them, e.g. {:?}", label, s.late.len(), &s.late[..s.late.len().min(3)]);
        let early: Vec<&Timestamp> = s.changes.keys().filter(|t| **t < since).collect();
        assert!(early.is_empty(), "{}: changes at {:?}, before the compaction frontier {}", label, early, since);
        for (t, want) in expected {
            let mut got = Multiset::new();
            for (row, d) in s.changes.range(..=t).flat_map(|(_, c)| c) {
                update(&mut got, row.clone(), *d);
            }
            assert_eq!(got, want, "{}: the changes through {} do not add up to the view", label, t);
        }
    }
}
