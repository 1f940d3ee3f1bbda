//! Small SQL helpers for end-to-end tests: a query's rows as text (simple
//! query protocol), and polling until a query returns an expected value.

#![allow(dead_code)]

use std::time::{Duration, Instant};
use tokio_postgres::{Client, SimpleQueryMessage};

/// Runs `sql` over the simple query protocol and returns its rows as text
/// (`None` for NULL); panics if it fails.
pub async fn query(c: &Client, sql: &str) -> Vec<Vec<Option<String>>> {
    c.simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{}: {:?}", sql, e))
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect()),
            _ => None,
        })
        .collect()
}

/// Waits until `sql` returns `want` (a single value: the first column of the
/// first row), or fails after `secs` seconds.
pub async fn wait_for(c: &Client, sql: &str, want: &str, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let got = query(c, sql).await;
        if got.first().and_then(|r| r[0].clone()).as_deref() == Some(want) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for `{}` = {}, last {:?}", sql, want, got);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The Kafka tests' pipeline: a JSON source on topic `orders` (dead
/// letters to `orders-dlq`), a `customers` table with customers c0..c36 in
/// four regions, and `per_customer`, a join + aggregate view over both.
pub async fn create_orders_pipeline(c: &Client) {
    c.batch_execute(
        "CREATE SOURCE orders (order_id text, customer text, amount int) FROM KAFKA (TOPIC 'orders') FORMAT JSON DEAD LETTER TOPIC 'orders-dlq';
         CREATE TABLE customers (id text, region text);
         CREATE MATERIALIZED VIEW per_customer AS
           SELECT c.id, c.region, count(*) AS orders, sum(o.amount) AS total
           FROM orders o JOIN customers c ON o.customer = c.id GROUP BY c.id, c.region;",
    )
    .await
    .unwrap();
    let values: Vec<String> = (0..37).map(|i| format!("('c{}', 'r{}')", i, i % 4)).collect();
    c.batch_execute(&format!("INSERT INTO customers VALUES {}", values.join(","))).await.unwrap();
}

/// The files of views/ (name, SQL), in load order.
pub fn view_files() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("views");
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "sql")).collect();
    files.sort();
    files.into_iter().map(|f| (f.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&f).unwrap())).collect()
}

/// Loads every views/*.sql file into eddy, in load order.
pub async fn load_views(c: &Client) {
    for (name, sql) in view_files() {
        c.batch_execute(&sql).await.unwrap_or_else(|e| panic!("views/{}: {:?}", name, e));
    }
}
