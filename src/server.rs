//! Starting the server's parts on the current tokio runtime: the engine's
//! workers, the coordinator and its background tasks, the HTTP endpoints
//! and the Postgres-wire listener. `eddy serve` and `eddy demo` share it.

use crate::coord::Coordinator;
use crate::ServeArgs;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::task::JoinHandle;

pub struct Running {
    pub coordinator: Arc<Coordinator>,
    /// Where the Postgres-wire server listens.
    pub addr: SocketAddr,
    pub http: SocketAddr,
    pub pgwire: JoinHandle<std::io::Result<()>>,
}

pub async fn start(args: &ServeArgs) -> anyhow::Result<Running> {
    std::fs::create_dir_all(&args.data_dir).map_err(|e| anyhow::anyhow!("cannot create data directory {}: {}", args.data_dir.display(), e))?;
    let engine = eddy_engine::runtime::Engine::start(args.workers);
    let (coordinator, batches) = Coordinator::new(engine, args.kafka.clone(), args.fetch_wait_ms);
    tokio::spawn(coordinator.clone().run_ingest(batches, std::time::Duration::from_millis(args.tick_ms)));
    coordinator.restore(&args.data_dir).await?;
    let metrics = Arc::new(std::sync::Mutex::new(String::new()));
    tokio::spawn(coordinator.clone().run_system_refresh(metrics.clone()));
    let http = tokio::net::TcpListener::bind(args.http).await.map_err(|e| anyhow::anyhow!("cannot listen for HTTP on {}: {} (choose another with --http)", args.http, e))?;
    let http_addr = http.local_addr()?;
    let pages: eddy_connectors::http::Pages = Arc::new(move |path| match path {
        "/metrics" => Some(("text/plain; version=0.0.4", metrics.lock().unwrap().clone())),
        "/health" => Some(("text/plain", "ok\n".to_string())),
        _ => None,
    });
    tokio::spawn(eddy_connectors::http::serve(http, pages));
    let listener = tokio::net::TcpListener::bind(args.listen).await.map_err(|e| anyhow::anyhow!("cannot listen on {}: {} (is another server running? choose another with --listen)", args.listen, e))?;
    let addr = listener.local_addr()?;
    let pgwire = tokio::spawn(eddy_connectors::pgwire::serve(listener, coordinator.clone()));
    Ok(Running { coordinator, addr, http: http_addr, pgwire })
}
