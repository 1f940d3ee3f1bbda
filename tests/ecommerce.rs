//! The e-commerce platform end to end: a real broker (tansu), the eddy
//! server with the views of views/, and the simulated Order, Payment and
//! Shipping services running 20,000 orders with payment failures, scarce
//! stock, duplicate deliveries, malformed records and out-of-order arrival.
//!
//! After the pipeline quiesces it checks:
//! - every order is in a final state (none PENDING);
//! - no product was over-reserved at any timestamp: a view of the
//!   over-reserved products is sunk to a topic, and a sink writes every
//!   timestamp's changes, so an empty topic means the view was empty at
//!   every timestamp (a control sink of the same shape must write);
//! - each compensated order has exactly one record in `inventory-release`,
//!   read back with isolation read_committed by an independent client;
//! - every view of views/ (facts, inventory, saga and analytics) equals
//!   the same SQL run by PostgreSQL over the same events (copied from
//!   eddy's sources, duplicates included, after checking that the sources
//!   hold every record of their topics).

mod broker;
mod server;
mod sql_client;
// Shared with the oracle, which uses more of them.
#[path = "oracle/client.rs"]
#[allow(dead_code)]
mod client;
#[path = "oracle/common.rs"]
#[allow(dead_code)]
mod common;
#[path = "oracle/compare.rs"]
mod compare;
#[path = "oracle/postgres.rs"]
mod postgres;

use broker::{kafka_tool, Tansu};
use eddy_ecommerce::SimConfig;
use server::EddyServer;
use sql_client::view_files;
use std::time::{Duration, Instant};
use tokio_postgres::Client;

const ORDERS: u64 = 20_000;

/// The source relations and the columns PostgreSQL gets for them (as
/// views/01_sources.sql declares them, plus `sequence`).
const SOURCES: [(&str, &str); 4] = [
    (
        "order_events",
        "eventid text, eventtype text, orderid text, customerid text, \"timestamp\" timestamptz, items jsonb, totalamount numeric, currency text, shippingaddress text, reason text, sequence bigint",
    ),
    ("payment_events", "eventid text, eventtype text, orderid text, paymentid text, amount numeric, \"timestamp\" timestamptz, reason text"),
    ("shipment_events", "eventid text, eventtype text, orderid text, shipmentid text, carrier text, \"timestamp\" timestamptz"),
    ("restocks", "eventid text, productid text, quantity int, \"timestamp\" timestamptz"),
];

/// Every view of views/02..05, compared with PostgreSQL.
const VIEWS: [&str; 20] = [
    "orders_created",
    "orders_cancelled",
    "payments",
    "shipments",
    "order_lines",
    "stock",
    "line_queue",
    "inventory_decisions",
    "inventory_events",
    "inventory_release",
    "product_reservations",
    "order_saga",
    "orders_confirmed",
    "revenue_per_minute",
    "status_funnel",
    "payment_failure_rate",
    "top_products",
    "saga_latencies",
    "saga_latency_histogram",
    "saga_latency",
];

async fn rows(c: &Client, sql: &str) -> Vec<Vec<Option<String>>> {
    match client::exec(c, sql, Duration::from_secs(120)).await {
        Ok(out) => out.rows,
        Err(e) => panic!("{}: {}", sql, e.describe()),
    }
}

async fn count(c: &Client, sql: &str) -> u64 {
    rows(c, sql).await[0][0].as_deref().unwrap().parse().unwrap()
}

fn sql_literal(v: &Option<String>) -> String {
    match v {
        None => "NULL".into(),
        Some(s) => format!("'{}'", s.replace('\'', "''")),
    }
}

/// Records in `topic`, read to the end by the independent client.
fn topic_keys(broker: &str, topic: &str) -> (u64, std::collections::BTreeMap<String, u64>) {
    let v = kafka_tool(&["keys", broker, topic, "3"]);
    let keys = v["keys"].as_object().unwrap().iter().map(|(k, n)| (k.clone(), n.as_u64().unwrap())).collect();
    (v["total"].as_u64().unwrap(), keys)
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_thousand_orders_through_the_platform() {
    let tansu = Tansu::start();
    let broker = tansu.broker();
    eddy_ecommerce::create_topics(&broker, 4).unwrap();
    let server = EddyServer::start_with(&["--kafka", &broker]);
    let eddy = client::connect(&server.conninfo()).await.unwrap();
    sql_client::load_views(&eddy).await;
    eddy.batch_execute(
        "CREATE MATERIALIZED VIEW over_reserved AS SELECT product_id, stock, reserved FROM product_reservations WHERE reserved > stock;
         CREATE SINK over_reserved_out FROM over_reserved INTO KAFKA (TOPIC 'test-over-reserved') KEY (product_id) FORMAT JSON ENVELOPE DEBEZIUM;
         CREATE MATERIALIZED VIEW reserved_products AS SELECT product_id, stock, reserved FROM product_reservations WHERE reserved > 0;
         CREATE SINK reserved_products_out FROM reserved_products INTO KAFKA (TOPIC 'test-reserved-products') KEY (product_id) FORMAT JSON ENVELOPE DEBEZIUM;",
    )
    .await
    .unwrap();

    let config = SimConfig {
        broker: broker.clone(),
        orders_per_sec: 1000.0,
        total_orders: Some(ORDERS),
        products: 200,
        scarce_products: 20,
        scarce_stock: 30,
        restock_interval_ms: Some(100),
        restock_quantity: 5,
        payment_failure_rate: 0.05,
        duplicate_rate: 0.02,
        malformed_rate: 0.01,
        out_of_order_rate: 0.05,
        ..SimConfig::default()
    };
    let started = Instant::now();
    let sim = eddy_ecommerce::start(config).unwrap();
    assert!(sim.wait_until_done_timeout(Duration::from_secs(300)).unwrap(), "the simulators did not finish within 300 s: {:?}", sim.stats());
    eprintln!("ecommerce: simulators done after {:.0?}: {:?}", started.elapsed(), sim.stats());

    // Quiesce: every order decided, shipping finished, and each source
    // holding every record of its topic (good rows plus error rows).
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut last = None;
    loop {
        let saga = count(&eddy, "SELECT count(*) FROM order_saga").await;
        let pending = count(&eddy, "SELECT count(*) FROM order_saga WHERE state = 'PENDING'").await;
        let stats = sim.stats();
        let shipped = stats.confirmations_seen == stats.shipments_delivered;
        let state = (saga, pending, stats.shipments_delivered);
        if saga == ORDERS && pending == 0 && shipped && last == Some(state) {
            break;
        }
        assert!(Instant::now() < deadline, "not quiescent after 300 s: {} orders in order_saga, {} PENDING, stats {:?}", saga, pending, stats);
        last = Some(state);
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    sim.stop();
    eprintln!("ecommerce: quiescent after {:.0?}", started.elapsed());

    for (source, _) in SOURCES {
        let topic = source.replace('_', "-");
        let (total, _) = topic_keys(&broker, &topic);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let read = count(&eddy, &format!("SELECT count(*) FROM {}", source)).await + count(&eddy, &format!("SELECT count(*) FROM {}_errors", source)).await;
            if read == total {
                break;
            }
            assert!(Instant::now() < deadline, "{} holds {} records (rows and errors), topic {} has {}", source, read, topic, total);
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    let malformed: u64 = {
        let mut n = 0;
        for (source, _) in SOURCES {
            n += count(&eddy, &format!("SELECT count(*) FROM {}_errors", source)).await;
        }
        n
    };
    assert_eq!(malformed, sim.stats().malformed, "error rows across sources vs malformed records produced");

    // The state report covers the source-fed views too: order_saga holds
    // a row per order (more while changes are not yet compacted), and its
    // left joins keep every order's row.
    let saga_stats = rows(&eddy, "SELECT records, operator_records, bytes FROM eddy_catalog.object_stats WHERE object = 'order_saga'").await;
    let n = |i: usize| saga_stats.first().and_then(|r| r[i].as_deref()?.parse::<u64>().ok()).unwrap_or(0);
    assert!(n(0) >= ORDERS && n(1) >= ORDERS && n(2) > ORDERS * 100, "order_saga in eddy_catalog.object_stats: {:?}", saga_stats);

    // Final states.
    let states = rows(&eddy, "SELECT state, count(*) FROM order_saga GROUP BY state ORDER BY state").await;
    eprintln!("ecommerce: states {:?}", states);
    for state in ["CONFIRMED", "PAYMENT_FAILED", "CANCELLED", "OUT_OF_STOCK"] {
        assert!(states.iter().any(|r| r[0].as_deref() == Some(state)), "no order ended {}: {:?}", state, states);
    }

    // No over-reservation at any timestamp.
    let (over, _) = topic_keys(&broker, "test-over-reserved");
    let (control, _) = topic_keys(&broker, "test-reserved-products");
    assert!(control > 0, "the control sink wrote nothing, so an empty over-reserved topic proves nothing");
    assert_eq!(over, 0, "some product was over-reserved at some timestamp ({} changes in test-over-reserved)", over);

    // Each compensated order has exactly one inventory.release.
    let released: std::collections::BTreeSet<String> = rows(&eddy, "SELECT order_id FROM inventory_release").await.into_iter().map(|r| r[0].clone().unwrap()).collect();
    assert!(!released.is_empty(), "no compensations happened");
    let (_, keys) = topic_keys(&broker, "inventory-release");
    let doubled: Vec<_> = keys.iter().filter(|(_, n)| **n != 1).collect();
    assert!(doubled.is_empty(), "releases written more than once: {:?}", doubled);
    let topic_orders: std::collections::BTreeSet<String> = keys.keys().map(|k| serde_json::from_str::<serde_json::Value>(k).ok().and_then(|v| v["order_id"].as_str().map(String::from)).unwrap_or_else(|| k.clone())).collect();
    assert_eq!(topic_orders, released, "inventory-release topic vs the inventory_release view");

    // The same SQL in PostgreSQL over the same events.
    let dir = std::env::temp_dir().join(format!("eddy-ecommerce-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let pg_server = postgres::Postgres::start(&dir).unwrap_or_else(|e| panic!("{}", e));
    let pg = client::connect(&pg_server.conn_string("postgres")).await.unwrap();
    pg.batch_execute("SET TimeZone = 'UTC'").await.unwrap();
    for (source, columns) in SOURCES {
        pg.batch_execute(&format!("CREATE TABLE {} ({})", source, columns)).await.unwrap();
        let names: Vec<&str> = columns.split(", ").map(|c| c.rsplit_once(' ').unwrap().0).collect();
        let data = rows(&eddy, &format!("SELECT {} FROM {}", names.join(", "), source)).await;
        for chunk in data.chunks(500) {
            let values: Vec<String> = chunk.iter().map(|r| format!("({})", r.iter().map(sql_literal).collect::<Vec<_>>().join(", "))).collect();
            pg.batch_execute(&format!("INSERT INTO {} VALUES {}", source, values.join(", "))).await.unwrap();
        }
    }
    for (name, sql) in view_files() {
        if name.starts_with("01") || name.starts_with("06") {
            continue; // sources and sinks
        }
        let sql = sql.replace("CREATE MATERIALIZED VIEW", "CREATE VIEW");
        pg.batch_execute(&sql).await.unwrap_or_else(|e| panic!("PostgreSQL cannot run views/{}: {:?}", name, e));
    }
    let mut failures = Vec::new();
    for view in VIEWS {
        let q = format!("SELECT * FROM {}", view);
        let expected = client::exec(&pg, &q, Duration::from_secs(300)).await.unwrap_or_else(|e| panic!("PostgreSQL {}: {}", q, e.describe()));
        let actual = client::exec(&eddy, &q, Duration::from_secs(120)).await.unwrap_or_else(|e| panic!("eddy {}: {}", q, e.describe()));
        assert!(!expected.rows.is_empty(), "{} is empty in PostgreSQL: the comparison would prove nothing", view);
        if let Some(diff) = compare::compare(&expected, &actual, false) {
            failures.push(format!("{} differs from PostgreSQL:\n{}", view, diff));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    eprintln!("ecommerce: {} views equal PostgreSQL's answer; done after {:.0?}", VIEWS.len(), started.elapsed());
    drop(server);
}
