//! Waiting for sources to catch up with their topics.
//!
//! A source reads its topic in the background; what it read is written to
//! its relation at the next ingest tick. A query right after CREATE SOURCE
//! would see only what the readers had got to, often nothing. So CREATE
//! SOURCE ... START OFFSET 'earliest' (the default) waits, up to
//! [`CREATE_WAIT`], until the records its topic held when it was created are
//! written and the engine has processed them; past that it returns with a
//! notice saying how far it got, and reads see what has been read so far.
//! A restore waits the same way, for every source, before it starts the
//! sinks (see `durable`).
//!
//! "Written" counts offsets, not records: offsets a reader skips (transaction
//! markers, aborted records, records gone by retention) count once its
//! position passed them (`eddy_connectors::kafka::source`).

use super::Coordinator;
use eddy_engine::GlobalId;
use std::time::{Duration, Instant};

/// How long CREATE SOURCE waits for the records its topic already holds.
pub const CREATE_WAIT: Duration = Duration::from_secs(10);

/// Per source, per partition, the offset to reach.
pub type Targets = [(GlobalId, Vec<(i32, i64)>)];

impl Coordinator {
    /// Waits until every source in `targets` has written its partitions up
    /// to their offsets and the engine has processed what was written, at
    /// most `limit`: how many records they are still behind. Calls `report`
    /// with that every `every`. A dropped source counts as caught up.
    pub(super) async fn catch_up(&self, targets: &Targets, limit: Duration, every: Duration, mut report: impl FnMut(i64)) -> i64 {
        let started = Instant::now();
        let mut said = started;
        loop {
            let (records, read_ts) = {
                let state = self.state.lock().await;
                let behind = targets
                    .iter()
                    .filter_map(|(id, ends)| Some((state.sources.get(id)?, ends)))
                    .flat_map(|(rt, ends)| ends.iter().map(move |(p, end)| (end - rt.written.get(p).copied().unwrap_or(0)).max(0)))
                    .sum();
                (behind, state.read_ts)
            };
            if records == 0 {
                let left = limit.saturating_sub(started.elapsed());
                self.progress.wait_past(read_ts, left).await;
                return 0;
            }
            if started.elapsed() >= limit {
                return records;
            }
            if said.elapsed() >= every {
                said = Instant::now();
                report(records);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
