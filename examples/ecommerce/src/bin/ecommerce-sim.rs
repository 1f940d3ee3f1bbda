//! `ecommerce-sim`: runs the Order, Payment and Shipping simulators against a
//! Kafka broker until Ctrl-C (or, with --orders, until they are done),
//! printing a status line every second. See README.md for the topics.

use clap::Parser;
use eddy_ecommerce::{start, SimConfig};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(name = "ecommerce-sim", about = "E-commerce event generator and service simulators for eddy")]
struct Args {
    /// Kafka bootstrap servers.
    #[arg(long, default_value = "localhost:9092")]
    broker: String,
    /// Orders per second (0: as fast as possible).
    #[arg(long, default_value_t = 100.0)]
    rate: f64,
    /// Evenly spaced orders instead of Poisson arrivals.
    #[arg(long)]
    even: bool,
    /// Create this many orders, then exit once all payments are sent.
    #[arg(long)]
    orders: Option<u64>,
    /// With --orders: keep the services answering after that, until Ctrl-C.
    #[arg(long)]
    keep_running: bool,
    #[arg(long, default_value_t = 10_000)]
    customers: u64,
    #[arg(long, default_value_t = 500)]
    products: u64,
    /// Products that start with --scarce-stock units.
    #[arg(long, default_value_t = 20)]
    scarce_products: u64,
    /// Initial stock of every other product.
    #[arg(long, default_value_t = 100_000)]
    stock: u64,
    #[arg(long, default_value_t = 20)]
    scarce_stock: u64,
    /// Restock one product every this many ms (0: never).
    #[arg(long, default_value_t = 0)]
    restock_interval_ms: u64,
    #[arg(long, default_value_t = 20)]
    restock_quantity: u64,
    #[arg(long, default_value_t = 4)]
    max_items: u32,
    #[arg(long, default_value_t = 3)]
    max_quantity: u32,
    /// Fraction of orders cancelled by the customer.
    #[arg(long, default_value_t = 0.05)]
    cancel_rate: f64,
    /// Cancellations come 0..=this many ms after the order.
    #[arg(long, default_value_t = 100)]
    cancel_delay_ms: u64,
    #[arg(long, default_value_t = 0.05)]
    failure_rate: f64,
    #[arg(long, default_value_t = 50)]
    payment_delay_ms: u64,
    #[arg(long, default_value_t = 200)]
    shipping_delay_ms: u64,
    /// Fraction of events delivered twice (same eventId).
    #[arg(long, default_value_t = 0.0)]
    duplicate_rate: f64,
    /// Chance per order/payment event of an extra malformed record.
    #[arg(long, default_value_t = 0.0)]
    malformed_rate: f64,
    /// Fraction of payment decisions held back to arrive out of order.
    #[arg(long, default_value_t = 0.0)]
    out_of_order_rate: f64,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Partitions of the topics this creates (the mock cluster ignores it).
    #[arg(long, default_value_t = 4)]
    partitions: i32,
    /// The services' consumers' fetch.wait.max.ms (a broker that holds an
    /// empty fetch for the whole wait, like librdkafka's mock cluster, adds
    /// up to this much to each hop).
    #[arg(long, default_value_t = 5)]
    fetch_wait_ms: u64,
    /// The services' producers' linger.ms.
    #[arg(long, default_value_t = 2)]
    linger_ms: u64,
    /// Prefix for order and event ids, to tell runs on one broker apart.
    #[arg(long, default_value = "")]
    id_prefix: String,
}

impl Args {
    fn config(&self) -> SimConfig {
        SimConfig {
            broker: self.broker.clone(),
            orders_per_sec: self.rate,
            poisson: !self.even,
            total_orders: self.orders,
            customers: self.customers,
            products: self.products,
            scarce_products: self.scarce_products,
            stock_per_product: self.stock,
            scarce_stock: self.scarce_stock,
            restock_interval_ms: Some(self.restock_interval_ms).filter(|ms| *ms > 0),
            restock_quantity: self.restock_quantity,
            max_items_per_order: self.max_items,
            max_quantity_per_item: self.max_quantity,
            cancel_rate: self.cancel_rate,
            cancel_delay_ms: self.cancel_delay_ms,
            payment_failure_rate: self.failure_rate,
            payment_delay_ms: self.payment_delay_ms,
            shipping_delay_ms: self.shipping_delay_ms,
            duplicate_rate: self.duplicate_rate,
            malformed_rate: self.malformed_rate,
            out_of_order_rate: self.out_of_order_rate,
            seed: self.seed,
            partitions: self.partitions,
            fetch_wait_ms: self.fetch_wait_ms,
            linger_ms: self.linger_ms,
            id_prefix: self.id_prefix.clone(),
        }
    }
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(sig: libc::c_int) {
    INTERRUPTED.store(true, SeqCst);
    // A second Ctrl-C kills the process if the clean stop hangs.
    unsafe { libc::signal(sig, libc::SIG_DFL) };
}

fn main() {
    let args = Args::parse();
    // SAFETY: the handler only stores to an atomic and calls signal(), both
    // async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
    let sim = match start(args.config()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ecommerce-sim: {:#}", e);
            std::process::exit(1);
        }
    };
    println!("ecommerce-sim: producing to {} (Ctrl-C stops)", args.broker);
    let started = Instant::now();
    let mut last = (Instant::now(), 0u64);
    let mut next_status = Instant::now() + Duration::from_secs(1);
    let mut reported_done = false;
    loop {
        std::thread::sleep(Duration::from_millis(50));
        if INTERRUPTED.load(SeqCst) {
            println!("ecommerce-sim: stopping");
            break;
        }
        if let Some(f) = sim.failure() {
            eprintln!("ecommerce-sim: {}", f);
            sim.stop();
            std::process::exit(1);
        }
        if Instant::now() >= next_status {
            next_status += Duration::from_secs(1);
            let s = sim.stats();
            let rate = (s.orders_created - last.1) as f64 / last.0.elapsed().as_secs_f64();
            last = (Instant::now(), s.orders_created);
            println!("[{:>5}s] {:>7.0} orders/s | {}", started.elapsed().as_secs(), rate, s);
        }
        if sim.is_done() && !reported_done {
            reported_done = true;
            println!("ecommerce-sim: all orders and payments sent: {}", sim.stats());
            if !args.keep_running {
                break;
            }
        }
    }
    sim.stop();
    println!("ecommerce-sim: stopped: {}", sim.stats());
}
