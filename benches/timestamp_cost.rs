//! Benchmark: what one timestamp costs the engine with the flagship views
//! loaded. Prints (never asserts) the timely worker's CPU per timestamp.
//!
//! Every timestamp costs each operator of every view a round of scheduling
//! and progress tracking, however little changed; on the saga benchmark
//! that is most of the engine's CPU (see `run_ingest` in src/coord). The
//! saga benchmark measures it through a mock Kafka broker and simulators
//! that share the 2 cores, so its CPU figures vary by 10-20% from run to
//! run. Here there is no Kafka: the four sources of views/01_sources.sql
//! are tables of the same columns, views/02-05 are loaded over them, and
//! each INSERT of one event is one timestamp, sent every 5 ms as the
//! server's ingest tick writes timestamps under load. (Sent back to back,
//! timestamps overlap in the engine and share its rounds of work: a tenth
//! of the cost each.)
//!
//! Phases: 1,000 order.created events (each a new order, one line), then
//! a payment.processed for each of them. Each phase prints the worker's
//! CPU per timestamp and the INSERT's round trip p50/p95 (the INSERT
//! returns once its timestamp is written, not once views caught up).
//!
//! `EDDY_BENCH_EVENTS` sets the timestamps per phase (default 1000),
//! `EDDY_BENCH_INTERVAL_MS` the time between them (default 5), and
//! `EDDY_BENCH_BATCH` the events per timestamp (default 1). With batches
//! (say 200 events every 20 ms) the figure to read is the CPU per event:
//! the engine's cost per order under load, when timestamps are full.
//! Orders go to 20 products, one line each.

mod server;

use server::{connect, free_port, serve, worker_cpu_time};
use std::time::{Duration, Instant};
use tokio_postgres::Client;

/// The sources of views/01_sources.sql, as tables (`sequence` is what
/// INCLUDE SEQUENCE adds).
const TABLES: &str = "
CREATE TABLE order_events (eventid text, eventtype text, orderid text, customerid text, \"timestamp\" timestamptz,
                           items jsonb, totalamount numeric, currency text, shippingaddress text, reason text, sequence bigint);
CREATE TABLE payment_events (eventid text, eventtype text, orderid text, paymentid text, amount numeric,
                             \"timestamp\" timestamptz, reason text);
CREATE TABLE shipment_events (eventid text, eventtype text, orderid text, shipmentid text, carrier text,
                              \"timestamp\" timestamptz);
CREATE TABLE restocks (eventid text, productid text, quantity int, \"timestamp\" timestamptz);";

const VIEW_FILES: [&str; 4] = ["02_events.sql", "03_inventory.sql", "04_saga.sql", "05_analytics.sql"];

fn main() {
    let setting = |name: &str, default: u64| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let events = setting("EDDY_BENCH_EVENTS", 1000);
    let interval = Duration::from_millis(setting("EDDY_BENCH_INTERVAL_MS", 5));
    let batch = setting("EDDY_BENCH_BATCH", 1).max(1);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(run(events, interval, batch));
}

async fn run(events: u64, interval: Duration, batch: u64) {
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("eddy-timestamp-bench-{}-{}", std::process::id(), port));
    let _ = std::fs::remove_dir_all(&dir);
    let server = serve(port, &dir, &[]);
    let pid = server.0.id();
    let client = connect(port).await;
    client.batch_execute(TABLES).await.expect("create the source tables");
    let views = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("views");
    for file in VIEW_FILES {
        let sql = std::fs::read_to_string(views.join(file)).expect("read views/");
        client.batch_execute(&sql).await.unwrap_or_else(|e| panic!("load views/{}: {}", file, e));
    }
    let restocks: Vec<String> = (0..20).map(|p| format!("('r{p}', 'p{p}', 100000000, now())")).collect();
    client.batch_execute(&format!("INSERT INTO restocks VALUES {}", restocks.join(", "))).await.unwrap();
    println!(
        "timestamp cost: views/02-05 over tables, {} timestamps per phase of {} event(s) each, one INSERT (one timestamp) every {:?}, eddy serve with its defaults",
        events, batch, interval
    );
    let created = |i: u64| {
        format!(
            "('e{i}', 'order.created', 'o{i}', 'c{}', now(), '[{{\"productId\":\"p{}\",\"quantity\":1,\"price\":10.0}}]', 10.0, 'EUR', 'street', NULL, {i})",
            i % 50,
            i % 20
        )
    };
    let paid = |i: u64| format!("('p{i}', 'payment.processed', 'o{i}', 'pay{i}', 10.0, now(), NULL)");
    let insert = |table: &str, row: &dyn Fn(u64) -> String, t: u64| {
        let rows: Vec<String> = (t * batch..(t + 1) * batch).map(row).collect();
        format!("INSERT INTO {} VALUES {}", table, rows.join(", "))
    };
    phase(&client, pid, "order.created", events, batch, interval, |t| insert("order_events", &created, t)).await;
    phase(&client, pid, "payment.processed", events, batch, interval, |t| insert("payment_events", &paid, t)).await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Sends `events` INSERTs made by `sql`, one at a time, and prints the
/// worker's CPU per timestamp (and per event, for batches) and the round trips.
async fn phase(client: &Client, pid: u32, what: &str, events: u64, batch: u64, interval: Duration, sql: impl Fn(u64) -> String) {
    // Let the previous phase's last timestamps finish.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cpu = worker_cpu_time(pid);
    let started = Instant::now();
    let mut trips = Vec::with_capacity(events as usize);
    let mut ticks = tokio::time::interval(interval);
    for i in 0..events {
        ticks.tick().await;
        let t = Instant::now();
        client.batch_execute(&sql(i)).await.unwrap_or_else(|e| panic!("insert {}: {}", what, e));
        trips.push(t.elapsed());
    }
    // Until the views caught up with the last one.
    client.batch_execute("SELECT count(*) FROM order_saga").await.unwrap();
    let elapsed = started.elapsed();
    let used = worker_cpu_time(pid).saturating_sub(cpu);
    trips.sort();
    let pct = |p: f64| trips[((trips.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0;
    let per_event = if batch > 1 { format!(", {:.1} us per event", used.as_secs_f64() * 1e6 / (events * batch) as f64) } else { String::new() };
    println!(
        "  {:>18}: worker CPU {:>6.0} us per timestamp{} ({:.2} s for {} in {:.1} s); INSERT round trip p50 {:.2} ms, p95 {:.2} ms",
        what,
        used.as_secs_f64() * 1e6 / events as f64,
        per_event,
        used.as_secs_f64(),
        events,
        elapsed.as_secs_f64(),
        pct(0.5),
        pct(0.95)
    );
}
