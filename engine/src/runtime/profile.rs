//! Where a worker's time goes: elapsed time and activations per operator,
//! from timely's own scheduling log.
//!
//! Installed on a worker when `EDDY_PROFILE_OPERATORS` is set (to a number
//! of seconds between reports); every report prints the busiest operators
//! since the previous one to stderr, named by dataflow and operator. It is
//! a diagnostic for finding the operator whose cost grows with state; it
//! does not change what the worker computes. Each report also gives the
//! worker's steps per completed timestamp (how many passes a timestamp
//! takes through the chain of stateful operators) and the time per
//! operator kind. `EDDY_PROFILE_NAMES=1` adds every operator's name.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};
use timely::logging::{StartStop, TimelyEvent, TimelyEventBuilder};

#[derive(Default)]
struct Stats {
    /// Operator id -> (dataflow index, name).
    names: HashMap<usize, (usize, String)>,
    /// Dataflow index -> name.
    dataflows: HashMap<usize, String>,
    /// Operator id -> when its current activation started.
    started: HashMap<usize, Duration>,
    /// Operator id -> (elapsed, activations) since the last report.
    elapsed: HashMap<usize, (Duration, u64)>,
    /// Operator address -> id, and channel id -> the operator it feeds.
    by_addr: HashMap<Vec<usize>, usize>,
    channels: HashMap<usize, Vec<usize>>,
    /// Channel id -> records received since the last report.
    records: HashMap<usize, i64>,
}

pub struct Profiler {
    stats: Rc<RefCell<Stats>>,
    every: Duration,
    last: Instant,
    worker: usize,
    /// Worker steps, and timestamps every collection completed, since the
    /// last report; the last least upper seen.
    steps: u64,
    completed: u64,
    upper: u64,
}

impl Profiler {
    /// Installs the scheduling logger on `timely` when profiling is asked for.
    pub fn install(timely: &mut timely::worker::Worker) -> Option<Profiler> {
        let every: f64 = std::env::var("EDDY_PROFILE_OPERATORS").ok()?.parse().ok()?;
        let stats = Rc::new(RefCell::new(Stats::default()));
        let s = stats.clone();
        timely.log_register()?.insert::<TimelyEventBuilder, _>("timely", move |_, events| {
            let Some(events) = events else { return };
            let mut s = s.borrow_mut();
            for (at, event) in events.iter() {
                match event {
                    TimelyEvent::Operates(op) if op.addr.len() == 1 => {
                        s.dataflows.insert(op.addr[0], op.name.clone());
                    }
                    TimelyEvent::Operates(op) => {
                        s.names.insert(op.id, (op.addr[0], op.name.clone()));
                        s.by_addr.insert(op.addr.clone(), op.id);
                    }
                    TimelyEvent::Channels(c) => {
                        // The target may not be logged yet: resolved at report time.
                        let mut addr = c.scope_addr.clone();
                        addr.push(c.target.0);
                        s.channels.insert(c.id, addr);
                    }
                    TimelyEvent::Messages(m) if !m.is_send => {
                        *s.records.entry(m.channel).or_default() += m.record_count;
                    }
                    TimelyEvent::Schedule(e) => match e.start_stop {
                        StartStop::Start => {
                            s.started.insert(e.id, *at);
                        }
                        StartStop::Stop => {
                            if let Some(start) = s.started.remove(&e.id) {
                                let entry = s.elapsed.entry(e.id).or_default();
                                entry.0 += at.saturating_sub(start);
                                entry.1 += 1;
                            }
                        }
                    },
                    _ => {}
                }
            }
        });
        Some(Profiler { stats, every: Duration::from_secs_f64(every), last: Instant::now(), worker: timely.index(), steps: 0, completed: 0, upper: 0 })
    }

    /// Counts one worker step (idle ones included: a step parks at most
    /// 20 ms) after which every collection was complete before `upper`.
    pub fn step(&mut self, upper: crate::Timestamp) {
        self.steps += 1;
        if upper > self.upper && upper != crate::Timestamp::MAX {
            self.completed += 1;
            self.upper = upper;
        }
    }

    /// Prints the busiest operators when a report is due.
    pub fn maybe_report(&mut self) {
        if self.last.elapsed() < self.every {
            return;
        }
        let window = self.last.elapsed();
        self.last = Instant::now();
        let mut s = self.stats.borrow_mut();
        let elapsed = std::mem::take(&mut s.elapsed);
        let mut records: HashMap<usize, i64> = HashMap::new();
        for (channel, n) in std::mem::take(&mut s.records) {
            if let Some(id) = s.channels.get(&channel).and_then(|a| s.by_addr.get(a)) {
                *records.entry(*id).or_default() += n;
            }
        }
        let mut rows: Vec<(Duration, u64, i64, String)> = elapsed
            .into_iter()
            .filter_map(|(id, (d, n))| {
                let (df, name) = s.names.get(&id)?;
                Some((d, n, records.remove(&id).unwrap_or(0), format!("{}/{}", s.dataflows.get(df).map_or("?", |n| n.as_str()), name)))
            })
            .collect();
        rows.sort_by(|a, b| b.0.cmp(&a.0));
        let total: Duration = rows.iter().map(|r| r.0).sum();
        eprintln!(
            "worker {}: operators busy {:.0} ms of {:.0} ms; {} steps, {} advances of the least upper ({:.1} steps each)",
            self.worker,
            total.as_secs_f64() * 1e3,
            window.as_secs_f64() * 1e3,
            self.steps,
            self.completed,
            self.steps as f64 / self.completed.max(1) as f64
        );
        (self.steps, self.completed) = (0, 0);
        print_totals("per dataflow", &rows, |name| name.split('/').next());
        print_totals("per operator kind", &rows, |name| name.rsplit('/').next());
        // Every operator is scheduled at least once per timestamp, so the
        // count is a floor on per-timestamp work.
        let mut operators: HashMap<&str, usize> = HashMap::new();
        for (df, _) in s.names.values() {
            *operators.entry(s.dataflows.get(df).map_or("?", |n| n.as_str())).or_default() += 1;
        }
        let mut operators: Vec<_> = operators.into_iter().collect();
        operators.sort_by(|a, b| b.1.cmp(&a.1));
        let line: Vec<String> = operators.iter().map(|(n, c)| format!("{} {}", n, c)).collect();
        eprintln!("  operators ({} in all): {}", s.names.len(), line.join(", "));
        if std::env::var_os("EDDY_PROFILE_NAMES").is_some() {
            let mut all: Vec<_> = s.names.iter().map(|(id, (df, name))| (*df, *id, name.clone())).collect();
            all.sort();
            for (df, id, name) in all {
                eprintln!("    op {} {} {}", s.dataflows.get(&df).map_or("?", |n| n.as_str()), id, name);
            }
        }
        for (d, n, r, name) in rows.iter().take(25) {
            eprintln!("  {:>8.1} ms {:>7} runs {:>8} records in  {}", d.as_secs_f64() * 1e3, n, r, name);
        }
    }
}

/// Prints the busy time of `rows` (time, runs, records, "dataflow/operator")
/// summed by the part of the name `part` picks, busiest first.
fn print_totals(label: &str, rows: &[(Duration, u64, i64, String)], part: impl Fn(&str) -> Option<&str>) {
    let mut totals: HashMap<&str, Duration> = HashMap::new();
    for (d, _, _, name) in rows {
        *totals.entry(part(name).unwrap_or("?")).or_default() += *d;
    }
    let mut totals: Vec<_> = totals.into_iter().collect();
    totals.sort_by(|a, b| b.1.cmp(&a.1));
    let line: Vec<String> = totals.iter().map(|(n, d)| format!("{} {:.0}", n, d.as_secs_f64() * 1e3)).collect();
    eprintln!("  {} (ms): {}", label, line.join(", "));
}
