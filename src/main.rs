//! The `eddy` binary: command line, configuration, and the coordinator that
//! ties the engine, the SQL layer and the Postgres-wire server together.

mod coord;
mod demo;
mod server;

use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Views allocate and free many small rows; glibc's allocator spent a fifth
/// of the workers' time in malloc/free and its consolidation under the demo's
/// load, mimalloc's thread-local free lists much less.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How long memory the server freed stays with it before mimalloc gives it
/// back to the OS. Its default, 1 s, returned memory that arrangement merges
/// needed again moments later, and each page returned faulted back in
/// zeroed (with transparent huge pages, 2 MB at a time): at 5,000 orders/s
/// on the saga benchmark the server took 22,090 page faults in 8 s, and
/// zeroing them was 15% of the worker's time; with 10 s, 2,283. Memory
/// still goes back once it has been free that long. `MIMALLOC_PURGE_DELAY`
/// (ms) overrides it.
const ALLOCATOR_PURGE_DELAY_MS: std::ffi::c_long = 10_000;

/// Transparent huge pages are off for the server. mimalloc asks for them on
/// its arenas, and then each first touch of arena memory faults in and
/// zeroes 2 MB, where the server, growing its arrangements, touches far
/// less at a time. On the saga benchmark at 10,000 orders/s, zeroing those
/// pages was 24% of the worker's samples (`clear_page_erms` under
/// `do_huge_pmd_anonymous_page`), and the server used 16.4 s of CPU with
/// them, 13.7 s without. `EDDY_ALLOW_THP=1` keeps them.
fn disable_transparent_huge_pages() {
    if std::env::var_os("EDDY_ALLOW_THP").is_some_and(|v| v == "1") {
        return;
    }
    // SAFETY: PR_SET_THP_DISABLE takes no pointers; it sets a flag of this
    // process (inherited by children), and failure (an old kernel) is harmless.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

fn tune_allocator() {
    disable_transparent_huge_pages();
    // mimalloc 3's `mi_option_purge_delay` (include/mimalloc.h), which
    // libmimalloc-sys does not name. Set only while it reads as mimalloc 3's
    // default (1000 ms), so that another numbering changes nothing.
    const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: reads and sets one of mimalloc's options, which it keeps atomically.
    unsafe {
        if libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) == 1000 {
            libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, ALLOCATOR_PURGE_DELAY_MS);
        }
    }
}

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
    /// Run the e-commerce demo: an embedded Kafka broker, the server with
    /// the views of views/, and simulated order, payment and shipping
    /// services; prints how to connect and a live status line.
    Demo(demo::DemoArgs),
}

#[derive(clap::Args, Clone)]
pub struct ServeArgs {
    /// Address for the PostgreSQL wire protocol (psql -h HOST -p PORT -U eddy eddy).
    #[arg(long, default_value = "127.0.0.1:6875")]
    pub listen: SocketAddr,
    /// Number of timely worker threads that maintain views. The default is
    /// half the machine's cores, at least one: Kafka clients, sinks and
    /// pgwire sessions need the rest (benches/saga_latency on 2 cores at
    /// 100 orders/s: p50 27 ms and 6.4 s of server CPU with 1 worker, 35 ms
    /// and 10.5 s with 2; overloaded at 10,000 orders/s, 2 workers finish
    /// sooner).
    #[arg(long, default_value_t = default_workers())]
    pub workers: usize,
    /// Directory for the server's data (created if missing): its log of
    /// DDL and table commits, replayed at start so objects and rows survive
    /// a restart.
    #[arg(long, default_value = "eddy-data")]
    pub data_dir: PathBuf,
    /// Kafka broker that sources and sinks use unless they name a BROKER.
    #[arg(long, default_value = "127.0.0.1:9092")]
    pub kafka: String,
    /// Address for HTTP: Prometheus metrics at /metrics, health at /health.
    #[arg(long, default_value = "127.0.0.1:6876")]
    pub http: SocketAddr,
    /// Least milliseconds between the timestamps at which source data is
    /// written: everything sources read meanwhile lands at one timestamp.
    /// A timestamp is also not written before the engine has finished the
    /// previous one (at most 1 s), so under load timestamps grow instead of
    /// queueing (benches/saga_latency, 1 worker, 100 orders/s: p50 28 ms
    /// with 5 ms ticks, 37 ms with 20 ms; 1 ms ticks gained nothing there and
    /// were slower at 1,000 orders/s). Shorter ticks spend more CPU while
    /// data flows; none is spent while sources are idle.
    #[arg(long, default_value_t = DEFAULT_TICK_MS)]
    pub tick_ms: u64,
    /// Longest a source's Kafka fetch waits for new records
    /// (`fetch.wait.max.ms`). A Kafka broker answers as soon as records
    /// arrive, so this only sets how often idle sources ask; a broker that
    /// holds a fetch for the whole wait (librdkafka's mock cluster, which
    /// `eddy demo` embeds and uses with 2 ms) adds up to this much to
    /// every record's latency.
    #[arg(long, default_value_t = DEFAULT_FETCH_WAIT_MS)]
    pub fetch_wait_ms: u64,
}

/// The default `--fetch-wait-ms` of `serve` (see `ServeArgs::fetch_wait_ms`).
pub const DEFAULT_FETCH_WAIT_MS: u64 = 10;

/// The default `--tick-ms` of `serve` and `demo` (see `ServeArgs::tick_ms`).
pub const DEFAULT_TICK_MS: u64 = 5;

/// Half the cores, at least one (see `ServeArgs::workers`).
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map(|n| n.get() / 2).unwrap_or(1).max(1)
}

fn main() -> anyhow::Result<()> {
    tune_allocator();
    // Every thread gets a stack sized for the deepest statement eddy
    // accepts (see eddy_sql::limits): timely spawns its worker threads
    // itself, with Rust's default size, which std reads from RUST_MIN_STACK
    // at the first spawn, so it is set before any thread starts. A value
    // the user set is kept.
    if std::env::var_os("RUST_MIN_STACK").is_none() {
        std::env::set_var("RUST_MIN_STACK", eddy_sql::limits::THREAD_STACK_BYTES.to_string());
    }
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::try_from_env("EDDY_LOG").unwrap_or_else(|_| "info".into())).with_writer(std::io::stderr).init();
    match Cli::parse().command {
        Command::Serve(args) => serve(args),
        Command::Demo(args) => demo::run(args),
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).thread_stack_size(eddy_sql::limits::THREAD_STACK_BYTES).enable_all().build()?;
    runtime.block_on(async move {
        let running = server::start(&args).await?;
        eprintln!("eddy is ready: {} worker threads, data in {}", args.workers, args.data_dir.display());
        eprintln!("connect with:  psql -h {} -p {} -U eddy eddy", running.addr.ip(), running.addr.port());
        eprintln!("metrics:       http://{}/metrics   (Kafka broker for sources and sinks: {})", running.http, args.kafka);
        tokio::select! {
            r = running.pgwire => r??,
            _ = tokio::signal::ctrl_c() => eprintln!("eddy: shutting down"),
        }
        Ok(())
    })
}
