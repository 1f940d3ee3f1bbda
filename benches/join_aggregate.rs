//! Benchmark: a join + aggregate materialized view over 1M rows, driven
//! through the real server and a Postgres client.
//!
//! Prints (never asserts):
//! - load throughput: rows/s inserted while the view is maintained;
//! - sustained changes/s: batches of inserts and deletes, view kept fresh;
//! - commit-to-visible latency p50/p99: from an INSERT's completion to a
//!   SELECT on the view that reflects it;
//! - server memory per row: resident memory growth over the load, divided
//!   by the rows loaded (tables, join and reduce arrangements together).
//!
//! Run: `cargo bench --bench join_aggregate` (EDDY_BENCH_ROWS to change 1M).

mod server;

use server::{connect, free_port, serve};
use std::time::{Duration, Instant};
use tokio_postgres::Client;

fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid)).unwrap_or_default();
    status.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|k| k.parse::<u64>().ok()).unwrap_or(0) * 1024
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn view_total(c: &Client) -> i64 {
    let rows = c.simple_query("SELECT sum(orders) FROM revenue").await.unwrap();
    rows.iter().find_map(|m| match m {
        tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(|v| v.parse::<i64>().unwrap()),
        _ => None,
    }).unwrap_or(0)
}

fn values(start: u64, n: u64, customers: u64) -> String {
    let mut s = String::with_capacity(n as usize * 24);
    for i in start..start + n {
        if i > start {
            s.push(',');
        }
        s.push_str(&format!("({},{},{}.{:02})", i, i * 7919 % customers, i % 500, i % 100));
    }
    s
}

#[tokio::main]
async fn main() {
    let rows: u64 = std::env::var("EDDY_BENCH_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let customers = 10_000u64;
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("eddy-bench-{}", port));
    let server = serve(port, &dir, &["--workers", "2"]);
    let pid = server.0.id();
    let client = connect(port).await;
    client
        .batch_execute(
            "CREATE TABLE customers (id int, region text);
             CREATE TABLE orders (id bigint, customer int, amount numeric(10,2));
             CREATE MATERIALIZED VIEW revenue AS
               SELECT c.region, count(*) AS orders, sum(o.amount) AS total
               FROM orders o JOIN customers c ON o.customer = c.id GROUP BY c.region;",
        )
        .await
        .unwrap();
    let regions = ["north", "south", "east", "west", "central"];
    let cust: Vec<String> = (0..customers).map(|i| format!("({},'{}')", i, regions[i as usize % regions.len()])).collect();
    client.batch_execute(&format!("INSERT INTO customers VALUES {}", cust.join(","))).await.unwrap();
    view_total(&client).await;
    let rss_before = rss_bytes(pid);

    println!("join_aggregate: {} orders over {} customers, 2 workers", rows, customers);
    let batch = 10_000u64;
    let start = Instant::now();
    let mut loaded = 0;
    while loaded < rows {
        let n = batch.min(rows - loaded);
        client.batch_execute(&format!("INSERT INTO orders VALUES {}", values(loaded, n, customers))).await.unwrap();
        loaded += n;
    }
    let total = view_total(&client).await;
    let load = start.elapsed();
    assert_eq!(total as u64, rows, "the view must count every order");
    let rss_after = rss_bytes(pid);
    println!("  load:      {:>10.0} rows/s ({} rows in {:.1?}, view caught up)", rows as f64 / load.as_secs_f64(), rows, load);
    println!("  memory:    {:>10.0} bytes/row resident growth ({} MiB for {} rows)", (rss_after.saturating_sub(rss_before)) as f64 / rows as f64, (rss_after.saturating_sub(rss_before)) >> 20, rows);

    // Sustained: each batch inserts 500 new orders and deletes 500 old ones.
    let start = Instant::now();
    let mut changes = 0u64;
    let mut next = rows;
    let mut oldest = 0u64;
    while start.elapsed() < Duration::from_secs(10) {
        client.batch_execute(&format!("BEGIN; INSERT INTO orders VALUES {}; DELETE FROM orders WHERE id >= {} AND id < {}; COMMIT;", values(next, 500, customers), oldest, oldest + 500)).await.unwrap();
        next += 500;
        oldest += 500;
        changes += 1000;
    }
    view_total(&client).await;
    println!("  sustained: {:>10.0} changes/s (500 inserts + 500 deletes per transaction, view read after)", changes as f64 / start.elapsed().as_secs_f64());

    // Latency: one-row commits, then read the view until it reflects it.
    let mut lat = Vec::new();
    for i in 0..300u64 {
        let before = view_total(&client).await;
        client.batch_execute(&format!("INSERT INTO orders VALUES {}", values(next + i, 1, customers))).await.unwrap();
        let t = Instant::now();
        let after = view_total(&client).await;
        lat.push(t.elapsed());
        assert_eq!(after, before + 1);
    }
    lat.sort();
    println!("  commit-to-visible: p50 {:.2?}  p99 {:.2?}  (max {:.2?}, 300 commits)", percentile(&lat, 0.5), percentile(&lat, 0.99), lat.last().unwrap());
    let _ = std::fs::remove_dir_all(&dir);
}
