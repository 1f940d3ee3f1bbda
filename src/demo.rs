//! `eddy demo`: the e-commerce platform on one machine.
//!
//! Starts an embedded Kafka-protocol broker (librdkafka's mock cluster,
//! which supports the transactions sinks use) unless `--kafka` names one,
//! the eddy server, the views of `views/` (compiled into the binary), and
//! the simulated Order, Payment and Shipping services of
//! `examples/ecommerce`; then prints how to connect and a status line
//! every second until Ctrl-C.

use crate::server;
use crate::ServeArgs;
use eddy_connectors::{QueryHandler, QueryResult};
use eddy_ecommerce::{SimConfig, SimHandle};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The views, in load order.
const VIEWS: [(&str, &str); 6] = [
    ("01_sources.sql", include_str!("../views/01_sources.sql")),
    ("02_events.sql", include_str!("../views/02_events.sql")),
    ("03_inventory.sql", include_str!("../views/03_inventory.sql")),
    ("04_saga.sql", include_str!("../views/04_saga.sql")),
    ("05_analytics.sql", include_str!("../views/05_analytics.sql")),
    ("06_sinks.sql", include_str!("../views/06_sinks.sql")),
];

/// Fetch waits with the embedded broker, which holds a fetch that found
/// nothing for the whole wait: shorter waits cut each Kafka hop's latency
/// (benches/saga_latency, 250 orders/s: p50 25 -> 16 ms with the
/// simulators' waits cut too) for a little more CPU.
const EMBEDDED_FETCH_WAIT_MS: u64 = 2;

/// Partitions per topic with an external broker.
const PARTITIONS: i32 = 4;

/// With the embedded broker: one partition per topic, and the simulated
/// services' producers linger 20 ms, so that batches hold several records.
///
/// The embedded broker finds a fetch's offset by walking the partition's
/// whole list of batches (it keeps up to 5 MB or 100,000 per partition) and
/// hands a consumer one batch per partition per fetch, so its CPU grows
/// with the number of batches it keeps times the number it serves. Demo at
/// 200 orders/s, `rdk:mock` thread CPU and p95 saga latency (the status line):
///
/// | per topic, linger | 1 min | 2.5 min | 6 min |
/// |---|---|---|---|
/// | 4 partitions, 2 ms | 83% | 100%, p95 175 ms and climbing | (p95 1,345 ms at 4.6 min) |
/// | 1 partition, 10 ms | 33% | 40%, p95 85 ms | |
/// | 1 partition, 20 ms | 20% | 27%, p95 95 ms | 28%, p95 95 ms |
///
/// The linger adds to each hop's latency; the saga's includes the Payment
/// Service's simulated 50 ms anyway.
const EMBEDDED_PARTITIONS: i32 = 1;
const EMBEDDED_LINGER_MS: u64 = 20;

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Use this Kafka broker instead of the embedded one.
    #[arg(long)]
    kafka: Option<String>,
    /// Address for the PostgreSQL wire protocol.
    #[arg(long, default_value = "127.0.0.1:6875")]
    listen: SocketAddr,
    /// Address for HTTP metrics.
    #[arg(long, default_value = "127.0.0.1:6876")]
    http: SocketAddr,
    /// Timely worker threads (see `eddy serve --help`).
    #[arg(long, default_value_t = crate::default_workers())]
    workers: usize,
    /// Orders per second the simulated Order Service creates.
    #[arg(long, default_value_t = 200.0)]
    rate: f64,
    /// Stop creating orders after this many (default: run until Ctrl-C).
    #[arg(long)]
    orders: Option<u64>,
    /// Fraction of payments that fail.
    #[arg(long, default_value_t = 0.05)]
    payment_failure_rate: f64,
    /// Fraction of events delivered twice.
    #[arg(long, default_value_t = 0.02)]
    duplicate_rate: f64,
    /// Fraction of malformed records.
    #[arg(long, default_value_t = 0.01)]
    malformed_rate: f64,
    /// Milliseconds between source write timestamps (see `eddy serve --help`).
    #[arg(long, default_value_t = crate::DEFAULT_TICK_MS)]
    tick_ms: u64,
    /// Longest a Kafka fetch of eddy's sources and of the simulated
    /// services waits for new records (default: 2 ms with the embedded
    /// broker, which holds a fetch for the whole wait; otherwise as
    /// `eddy serve` and the simulators default).
    #[arg(long)]
    fetch_wait_ms: Option<u64>,
    /// The simulated services' producers' `linger.ms` (default: 20 ms with
    /// the embedded broker, which is slow with many small batches;
    /// otherwise as the simulators default).
    #[arg(long)]
    linger_ms: Option<u64>,
    /// Partitions per topic (default: 1 with the embedded broker, else 4).
    #[arg(long)]
    partitions: Option<i32>,
    /// Directory for the server's data.
    #[arg(long, default_value = "eddy-demo-data")]
    data_dir: PathBuf,
}

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(demo(args))
}

async fn demo(args: DemoArgs) -> anyhow::Result<()> {
    let embedded = args.kafka.is_none();
    let partitions = args.partitions.unwrap_or(if embedded { EMBEDDED_PARTITIONS } else { PARTITIONS });
    let mut _mock = None;
    let broker = match &args.kafka {
        Some(b) => b.clone(),
        None => {
            let cluster = rdkafka::mocking::MockCluster::new(1).map_err(|e| anyhow::anyhow!("cannot start the embedded Kafka broker: {}", e))?;
            for topic in eddy_ecommerce::events::ALL_TOPICS {
                cluster.create_topic(topic, partitions, 1).map_err(|e| anyhow::anyhow!("cannot create topic {}: {}", topic, e))?;
            }
            let b = cluster.bootstrap_servers();
            _mock = Some(cluster);
            b
        }
    };
    eprintln!("eddy demo: Kafka broker at {}{}", broker, if embedded { " (embedded)" } else { "" });
    eddy_ecommerce::create_topics(&broker, partitions)?;
    let fetch_wait_ms = args.fetch_wait_ms.unwrap_or(if embedded { EMBEDDED_FETCH_WAIT_MS } else { crate::DEFAULT_FETCH_WAIT_MS });
    let serve = ServeArgs { listen: args.listen, workers: args.workers, data_dir: args.data_dir.clone(), kafka: broker.clone(), http: args.http, tick_ms: args.tick_ms, fetch_wait_ms };
    // The demo loads views/ into a fresh server each time: what an earlier
    // run created would collide with it (and the embedded broker's topics
    // are new).
    if crate::coord::durable::forget(&args.data_dir)? {
        eprintln!("eddy demo: starting afresh (the earlier run's objects in {} are forgotten)", args.data_dir.display());
    }
    let running = server::start(&serve).await?;
    let coordinator = running.coordinator.clone();
    let session = coordinator.connect("eddy", "eddy").map_err(|e| anyhow::anyhow!("{}", e))?;
    for (name, sql) in VIEWS {
        eprint!("eddy demo: loading views/{} ... ", name);
        for r in coordinator.execute(session, sql, &[]).await {
            r.map_err(|e| anyhow::anyhow!("views/{}: {}", name, e))?;
        }
        eprintln!("ok");
    }
    let config = SimConfig {
        broker: broker.clone(),
        orders_per_sec: args.rate,
        total_orders: args.orders,
        payment_failure_rate: args.payment_failure_rate,
        duplicate_rate: args.duplicate_rate,
        malformed_rate: args.malformed_rate,
        out_of_order_rate: 0.02,
        fetch_wait_ms: args.fetch_wait_ms.unwrap_or(if embedded { EMBEDDED_FETCH_WAIT_MS } else { SimConfig::default().fetch_wait_ms }),
        partitions,
        linger_ms: args.linger_ms.unwrap_or(if embedded { EMBEDDED_LINGER_MS } else { SimConfig::default().linger_ms }),
        ..SimConfig::default()
    };
    let sim: SimHandle = tokio::task::spawn_blocking(move || eddy_ecommerce::start(config)).await??;
    eprintln!();
    eprintln!("eddy demo is running.");
    eprintln!("  psql -h {} -p {} -U eddy eddy", running.addr.ip(), running.addr.port());
    eprintln!("    SELECT state, count(*) FROM order_saga GROUP BY state;");
    eprintln!("    SELECT * FROM status_funnel;  SELECT * FROM saga_latency;  SELECT * FROM top_products;");
    eprintln!("  topics eddy writes: inventory-events, order-confirmed, inventory-release (broker {})", broker);
    eprintln!("  metrics: http://{}/metrics        Ctrl-C stops.", running.http);
    eprintln!();
    let status = status_loop(coordinator.clone(), session, Arc::new(sim));
    tokio::select! {
        _ = status => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    eprintln!("\neddy demo: stopping");
    Ok(())
}

/// One query's first row, as text.
async fn first_row(c: &crate::coord::Coordinator, session: u64, sql: &str) -> Vec<String> {
    match c.execute(session, sql, &[]).await.pop() {
        Some(Ok(QueryResult::Rows { desc, rows, .. })) => rows
            .first()
            .map(|r| r.iter().zip(&desc.types).map(|(d, t)| eddy_engine::repr::format_datum(d, t.scalar).unwrap_or_else(|| "-".into())).collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

async fn status_loop(c: Arc<crate::coord::Coordinator>, session: u64, sim: Arc<SimHandle>) {
    let start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut last_orders = 0u64;
    loop {
        tick.tick().await;
        let stats = sim.stats();
        let orders = stats.orders_created;
        let per_sec = orders - last_orders;
        last_orders = orders;
        let states = first_row(&c, session, "SELECT count(*) FILTER (WHERE state = 'CONFIRMED'), count(*) FILTER (WHERE state = 'PENDING'), count(*) FILTER (WHERE state = 'OUT_OF_STOCK'), count(*) FILTER (WHERE state = 'PAYMENT_FAILED'), count(*) FILTER (WHERE state = 'CANCELLED') FROM order_saga").await;
        let p95 = first_row(&c, session, "SELECT round(p95_ms) FROM saga_latency").await;
        let lag = first_row(&c, session, "SELECT coalesce(sum(lag), 0) FROM eddy_catalog.source_partitions").await;
        let s = |v: &Vec<String>, i: usize| v.get(i).cloned().unwrap_or_else(|| "-".into());
        eprint!(
            "\r[{:>4}s] orders {:>7} ({:>4}/s)  confirmed {}  pending {}  out-of-stock {}  payment-failed {}  cancelled {}  p95 saga {} ms  lag {}   ",
            start.elapsed().as_secs(),
            orders,
            per_sec,
            s(&states, 0),
            s(&states, 1),
            s(&states, 2),
            s(&states, 3),
            s(&states, 4),
            s(&p95, 0),
            s(&lag, 0)
        );
        if let Some(f) = sim.failure() {
            eprintln!("\neddy demo: a simulated service stopped: {}", f);
        }
    }
}
