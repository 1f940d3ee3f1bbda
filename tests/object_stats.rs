//! `eddy_catalog.object_stats` and the per-object lines of `/metrics`:
//! what each table's and view's arrangements and own operators hold, and
//! how far each is behind, checked against the contents read back in SQL
//! (2 workers, so every figure is a sum over workers).

mod server;

use server::EddyServer;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio_postgres::{Client, NoTls};

/// object -> (records, error_records, operator_records, bytes, behind_ms)
async fn stats(client: &Client) -> HashMap<String, (i64, i64, i64, i64, i64)> {
    let rows = client.query("SELECT object, records, error_records, operator_records, bytes, behind_ms FROM eddy_catalog.object_stats", &[]).await.unwrap();
    rows.iter().map(|r| (r.get(0), (r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))).collect()
}

async fn count(client: &Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).await.unwrap().get(0)
}

/// Polls the stats (refreshed every second) until `ok` holds, for 20 s.
async fn stats_until(client: &Client, what: &str, ok: impl Fn(&HashMap<String, (i64, i64, i64, i64, i64)>) -> bool) -> HashMap<String, (i64, i64, i64, i64, i64)> {
    let start = Instant::now();
    loop {
        let s = stats(client).await;
        if ok(&s) {
            return s;
        }
        if start.elapsed() > Duration::from_secs(20) {
            panic!("object_stats never showed {}: {:?}", what, s);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn object_stats_follow_the_contents() {
    let server = EddyServer::start();
    let (client, conn) = tokio_postgres::connect(&server.conninfo(), NoTls).await.expect("connect");
    tokio::spawn(conn);
    client.batch_execute("CREATE TABLE t (k int, v text)").await.unwrap();
    // Strings longer than the 23 bytes kept inline, so they take heap.
    let values: Vec<String> = (0..3000).map(|i| format!("({}, 'a value long enough to need the heap {}')", i % 7, i)).collect();
    client.batch_execute(&format!("INSERT INTO t VALUES {}", values.join(","))).await.unwrap();
    client
        .batch_execute(
            "CREATE MATERIALIZED VIEW per_k AS SELECT k, count(*) AS n, max(v) AS top FROM t GROUP BY k;
             CREATE MATERIALIZED VIEW firsts AS SELECT k, v FROM t ORDER BY v LIMIT 3;
             CREATE MATERIALIZED VIEW lookup AS SELECT t.k, t.v, p.n FROM t LEFT JOIN per_k p ON p.k = t.k;
             CREATE MATERIALIZED VIEW bad AS SELECT 1 / (k - 3) AS x FROM t",
        )
        .await
        .unwrap();
    let rows_in = count(&client, "SELECT count(*) FROM t").await;
    let groups = count(&client, "SELECT count(*) FROM per_k").await;
    let lookups = count(&client, "SELECT count(*) FROM lookup").await;

    let s = stats_until(&client, "every object", |s| ["t", "per_k", "firsts", "lookup", "bad"].iter().all(|o| s.get(*o).is_some_and(|v| v.0 > 0 || v.1 > 0))).await;
    // One insert, one time: the table's arrangement holds each row once.
    assert_eq!(s["t"].0, rows_in, "{:?}", s);
    assert_eq!(s["per_k"].0, groups, "{:?}", s);
    assert_eq!(s["firsts"].0, 3, "{:?}", s);
    assert_eq!(s["lookup"].0, lookups, "{:?}", s);
    // max() keeps every row of its group; the TopK keeps its whole group;
    // the left join keeps both sides.
    assert_eq!(s["per_k"].2, rows_in, "{:?}", s);
    assert_eq!(s["firsts"].2, rows_in, "{:?}", s);
    assert_eq!(s["lookup"].2, rows_in + groups, "{:?}", s);
    // Division by zero for the rows with k = 3: one error record (its
    // multiplicity the count of those rows). An arrangement holds each
    // distinct row once, with its multiplicity.
    assert_eq!(s["bad"].1, 1, "{:?}", s);
    assert_eq!(s["bad"].0, count(&client, "SELECT count(DISTINCT 1 / (k - 3)) FROM t WHERE k <> 3").await, "{:?}", s);
    // Each row of t holds a Vec, two datums and a heap string of ~45 bytes.
    assert!(s["t"].3 > rows_in * 80, "bytes of t: {:?}", s);
    assert!(s["per_k"].3 > rows_in * 80, "the grouped rows count in per_k's bytes: {:?}", s);
    for (o, v) in &s {
        assert_eq!(v.4, 0, "{} is caught up: {:?}", o, s);
    }

    // The same figures on the metrics page.
    let metrics = server.http_get("/metrics");
    let line = format!("eddy_object_records{{object=\"per_k\",kind=\"materialized view\"}} {}", groups);
    assert!(metrics.contains(&line), "no `{}` in /metrics:\n{}", line, metrics);
    assert!(metrics.contains("eddy_object_bytes{object=\"t\",kind=\"table\"}"), "{}", metrics);

    // Emptied, the operators let go of their state.
    client.batch_execute("DELETE FROM t").await.unwrap();
    let s = stats_until(&client, "the operator state released", |s| ["per_k", "firsts", "lookup"].iter().all(|o| s.get(*o).is_some_and(|v| v.2 == 0))).await;
    assert_eq!(count(&client, "SELECT count(*) FROM per_k").await, 0, "{:?}", s);
}
