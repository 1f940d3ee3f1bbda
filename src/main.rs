//! The `eddy` binary: command line, configuration, and the coordinator that
//! ties the engine, the SQL layer and the Postgres-wire server together.

mod coord;

use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Parser)]
#[command(name = "eddy", version, about = "eddy: a streaming SQL database. Incrementally maintained SQL views, served over the PostgreSQL wire protocol.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server: accepts PostgreSQL clients (psql, drivers) on --listen.
    Serve(ServeArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address for the PostgreSQL wire protocol (psql -h HOST -p PORT -U eddy eddy).
    #[arg(long, default_value = "127.0.0.1:6875")]
    listen: SocketAddr,
    /// Number of timely worker threads that maintain views.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Directory for the server's data (created if missing).
    #[arg(long, default_value = "eddy-data")]
    data_dir: PathBuf,
    /// Kafka broker that sources and sinks use unless they name a BROKER.
    #[arg(long, default_value = "127.0.0.1:9092")]
    kafka: String,
    /// Address for HTTP: Prometheus metrics at /metrics, health at /health.
    #[arg(long, default_value = "127.0.0.1:6876")]
    http: SocketAddr,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::try_from_env("EDDY_LOG").unwrap_or_else(|_| "info".into())).with_writer(std::io::stderr).init();
    match Cli::parse().command {
        Command::Serve(args) => serve(args),
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data_dir).map_err(|e| anyhow::anyhow!("cannot create data directory {}: {}", args.data_dir.display(), e))?;
    let engine = eddy_engine::runtime::Engine::start(args.workers);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async move {
        let (coordinator, batches) = coord::Coordinator::new(engine, args.kafka.clone());
        tokio::spawn(coordinator.clone().run_ingest(batches));
        let metrics = Arc::new(std::sync::Mutex::new(String::new()));
        tokio::spawn(coordinator.clone().run_system_refresh(metrics.clone()));
        let http = tokio::net::TcpListener::bind(args.http).await.map_err(|e| anyhow::anyhow!("cannot listen for HTTP on {}: {} (choose another with --http)", args.http, e))?;
        let pages: eddy_connectors::http::Pages = Arc::new(move |path| match path {
            "/metrics" => Some(("text/plain; version=0.0.4", metrics.lock().unwrap().clone())),
            "/health" => Some(("text/plain", "ok\n".to_string())),
            _ => None,
        });
        tokio::spawn(eddy_connectors::http::serve(http, pages));
        let listener = tokio::net::TcpListener::bind(args.listen).await.map_err(|e| anyhow::anyhow!("cannot listen on {}: {} (is another server running? choose another with --listen)", args.listen, e))?;
        let addr = listener.local_addr()?;
        eprintln!("eddy is ready: {} worker threads, data in {}", args.workers, args.data_dir.display());
        eprintln!("connect with:  psql -h {} -p {} -U eddy eddy", addr.ip(), addr.port());
        eprintln!("metrics:       http://{}/metrics   (Kafka broker for sources and sinks: {})", args.http, args.kafka);
        tokio::select! {
            r = eddy_connectors::pgwire::serve(listener, coordinator) => r?,
            _ = tokio::signal::ctrl_c() => eprintln!("eddy: shutting down"),
        }
        Ok(())
    })
}
