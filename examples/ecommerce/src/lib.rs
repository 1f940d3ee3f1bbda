//! eddy-ecommerce: the event generator and service simulators of the
//! e-commerce platform that eddy's views run (see README.md in this folder).
//!
//! Three services run on threads and talk only through Kafka, like the real
//! ones would: the Order Service writes `order-events` (and the initial stock
//! to `restocks`), the Payment Service answers each order.created on
//! `payment-events`, the Shipping Service turns each record of eddy's
//! `order-confirmed` into `shipment-events`. Faults are injected on the way
//! out: duplicate deliveries, payments held back (out-of-order arrival across
//! topics), malformed records.
//!
//! Does: generate load, simulate the services, count what it sent.
//! Does not: reserve inventory or run the saga (eddy's views do), nor depend
//! on any eddy crate.

pub mod events;
mod kafka;
mod order_service;
mod payment_service;
pub mod rng;
mod shipping_service;

pub use kafka::{create_topics, now_ms};

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Everything the simulators can be told. `Default` is a gentle demo load.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Kafka bootstrap servers, `host:port[,host:port]`.
    pub broker: String,
    /// Orders created per second; 0 means as fast as possible.
    pub orders_per_sec: f64,
    /// Exponential gaps between orders (a Poisson process) if true, else even.
    pub poisson: bool,
    /// Stop creating orders after this many; None runs until stopped.
    pub total_orders: Option<u64>,
    pub customers: u64,
    pub products: u64,
    /// How many products start with `scarce_stock` instead of `stock_per_product`.
    pub scarce_products: u64,
    pub stock_per_product: u64,
    pub scarce_stock: u64,
    /// Every this many ms, restock one product (chosen like order items) by
    /// `restock_quantity`; None: only the initial stock.
    pub restock_interval_ms: Option<u64>,
    pub restock_quantity: u64,
    /// Items per order are 1..=this, each of a distinct product.
    pub max_items_per_order: u32,
    /// Quantity per item is 1..=this.
    pub max_quantity_per_item: u32,
    /// Fraction of orders the customer cancels, 0..=`cancel_delay_ms` after creating.
    pub cancel_rate: f64,
    pub cancel_delay_ms: u64,
    pub payment_failure_rate: f64,
    /// Mean delay of a payment decision (uniform in 0.5x..1.5x).
    pub payment_delay_ms: u64,
    /// Mean delay between confirmation and each shipment step.
    pub shipping_delay_ms: u64,
    /// Fraction of events sent a second time (same bytes, same eventId).
    pub duplicate_rate: f64,
    /// Per event on order-events and payment-events, the chance of an extra
    /// malformed record on the same topic.
    pub malformed_rate: f64,
    /// Fraction of payment decisions held back 2x..10x the payment delay, so
    /// they arrive after later events (often after the order's cancellation).
    pub out_of_order_rate: f64,
    pub seed: u64,
    /// Partitions of each topic `create_topics` makes.
    pub partitions: i32,
    /// The services' consumers' `fetch.wait.max.ms`. A real broker answers
    /// a waiting fetch when data arrives; librdkafka's mock cluster holds a
    /// fetch that found nothing for this whole wait, so there it is part of
    /// every hop's latency (and a shorter one costs the mock more CPU).
    pub fetch_wait_ms: u64,
    /// The services' producers' `linger.ms`: how long a message waits for
    /// others to share its batch. The mock cluster hands a consumer one
    /// batch per partition per fetch, and its cost grows with the number of
    /// batches it keeps: 0 at 1,000 orders/s overloads it.
    pub linger_ms: u64,
    /// Prepended to order ids and event ids, so that several runs can share
    /// one broker without their ids colliding.
    pub id_prefix: String,
}

impl Default for SimConfig {
    fn default() -> SimConfig {
        SimConfig {
            broker: "localhost:9092".into(),
            orders_per_sec: 100.0,
            poisson: true,
            total_orders: None,
            customers: 10_000,
            products: 500,
            scarce_products: 20,
            stock_per_product: 100_000,
            scarce_stock: 20,
            restock_interval_ms: None,
            restock_quantity: 20,
            max_items_per_order: 4,
            max_quantity_per_item: 3,
            cancel_rate: 0.05,
            cancel_delay_ms: 100,
            payment_failure_rate: 0.05,
            payment_delay_ms: 50,
            shipping_delay_ms: 200,
            duplicate_rate: 0.0,
            malformed_rate: 0.0,
            out_of_order_rate: 0.0,
            seed: 42,
            partitions: 4,
            fetch_wait_ms: 5,
            linger_ms: 2,
            id_prefix: String::new(),
        }
    }
}

/// The id of product number `index`: `p-0000`, `p-0001`, ...
pub fn product_id(index: u64) -> String {
    format!("p-{:04}", index)
}

impl SimConfig {
    /// Scarce products are spread evenly over the catalog (every
    /// products/scarce_products-th), so they sell at different rates: order
    /// items favour low-numbered products.
    pub fn is_scarce(&self, index: u64) -> bool {
        if self.scarce_products == 0 {
            return false;
        }
        let stride = (self.products / self.scarce_products).max(1);
        index % stride == stride - 1 && index / stride < self.scarce_products
    }

    /// The quantity of the restock the Order Service publishes at startup.
    pub fn initial_stock(&self, index: u64) -> u64 {
        if self.is_scarce(index) {
            self.scarce_stock
        } else {
            self.stock_per_product
        }
    }

    fn validate(&self) -> anyhow::Result<()> {
        let rates = [
            ("cancel_rate", self.cancel_rate),
            ("payment_failure_rate", self.payment_failure_rate),
            ("duplicate_rate", self.duplicate_rate),
            ("malformed_rate", self.malformed_rate),
            ("out_of_order_rate", self.out_of_order_rate),
        ];
        for (name, r) in rates {
            anyhow::ensure!((0.0..=1.0).contains(&r), "{} must be between 0 and 1, not {}", name, r);
        }
        anyhow::ensure!(self.orders_per_sec >= 0.0 && self.orders_per_sec.is_finite(), "orders_per_sec must be >= 0");
        anyhow::ensure!(self.customers > 0 && self.products > 0, "customers and products must be > 0");
        anyhow::ensure!(self.scarce_products <= self.products, "scarce_products must be <= products");
        anyhow::ensure!(self.max_items_per_order > 0 && self.max_quantity_per_item > 0, "max items and quantity must be > 0");
        anyhow::ensure!(self.partitions > 0, "partitions must be > 0");
        Ok(())
    }
}

/// Live counters, bumped when an event is handed to Kafka (payments held
/// back: when decided). Duplicates and malformed records count only in
/// their own counters.
#[derive(Debug, Default)]
pub struct Counters {
    pub orders_created: AtomicU64,
    pub orders_cancelled: AtomicU64,
    pub payments_processed: AtomicU64,
    pub payments_failed: AtomicU64,
    pub payments_held_back: AtomicU64,
    /// Distinct orders the Shipping Service has seen confirmed.
    pub confirmations_seen: AtomicU64,
    pub shipments_created: AtomicU64,
    pub shipments_dispatched: AtomicU64,
    pub shipments_delivered: AtomicU64,
    pub restocks: AtomicU64,
    pub duplicates: AtomicU64,
    pub malformed: AtomicU64,
    /// Input records a service could not read (malformed ones, mostly).
    pub unreadable_inputs: AtomicU64,
    /// Events Kafka did not accept or acknowledge (including those still in
    /// flight when the services are stopped, which are purged).
    pub send_errors: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub orders_created: u64,
    pub orders_cancelled: u64,
    pub payments_processed: u64,
    pub payments_failed: u64,
    pub payments_held_back: u64,
    pub confirmations_seen: u64,
    pub shipments_created: u64,
    pub shipments_dispatched: u64,
    pub shipments_delivered: u64,
    pub restocks: u64,
    pub duplicates: u64,
    pub malformed: u64,
    pub unreadable_inputs: u64,
    pub send_errors: u64,
}

impl Counters {
    pub fn snapshot(&self) -> Stats {
        let g = |a: &AtomicU64| a.load(SeqCst);
        Stats {
            orders_created: g(&self.orders_created),
            orders_cancelled: g(&self.orders_cancelled),
            payments_processed: g(&self.payments_processed),
            payments_failed: g(&self.payments_failed),
            payments_held_back: g(&self.payments_held_back),
            confirmations_seen: g(&self.confirmations_seen),
            shipments_created: g(&self.shipments_created),
            shipments_dispatched: g(&self.shipments_dispatched),
            shipments_delivered: g(&self.shipments_delivered),
            restocks: g(&self.restocks),
            duplicates: g(&self.duplicates),
            malformed: g(&self.malformed),
            unreadable_inputs: g(&self.unreadable_inputs),
            send_errors: g(&self.send_errors),
        }
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "orders {} cancelled {} | payments ok {} failed {} held {} | confirmed {} shipped {}/{}/{} | restocks {} dup {} malformed {} unreadable {} errors {}",
            self.orders_created,
            self.orders_cancelled,
            self.payments_processed,
            self.payments_failed,
            self.payments_held_back,
            self.confirmations_seen,
            self.shipments_created,
            self.shipments_dispatched,
            self.shipments_delivered,
            self.restocks,
            self.duplicates,
            self.malformed,
            self.unreadable_inputs,
            self.send_errors
        )
    }
}

/// Progress flags the services publish for `SimHandle::is_done`.
#[derive(Debug, Default)]
struct Progress {
    /// The Order Service has sent and flushed everything.
    orders_done: AtomicBool,
    /// After that, the Payment Service has read order-events to its end.
    payments_caught_up: AtomicBool,
    /// Payment events scheduled or unacknowledged.
    payment_busy: Arc<AtomicU64>,
    /// A service thread ended with an error (its message is in `failures`).
    failed: AtomicBool,
}

/// The running simulators. Dropping it stops them.
pub struct SimHandle {
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
    progress: Arc<Progress>,
    failures: Arc<Mutex<Vec<String>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    bounded: bool,
}

/// Creates the topics and starts the Order, Payment and Shipping services.
/// Errors if the configuration is invalid or the broker cannot be reached.
pub fn start(config: SimConfig) -> anyhow::Result<SimHandle> {
    config.validate()?;
    create_topics(&config.broker, config.partitions)?;
    let counters = Arc::new(Counters::default());
    let faults = kafka::Faults {
        duplicate_rate: config.duplicate_rate,
        duplicate_max_delay_ms: config.payment_delay_ms.max(20) * 2,
        malformed_rate: config.malformed_rate,
    };
    let outbox = |stream| kafka::Outbox::new(&config.broker, config.linger_ms, faults, rng::Rng::new(config.seed, stream), counters.clone());
    let (order_out, payment_out, shipping_out) = (outbox(11)?, outbox(12)?, outbox(13)?);
    let payment_in = kafka::consumer(&config.broker, "payment", config.fetch_wait_ms)?;
    let shipping_in = kafka::consumer(&config.broker, "shipping", config.fetch_wait_ms)?;
    let progress = Arc::new(Progress { payment_busy: payment_out.busy(), ..Progress::default() });
    let handle = SimHandle {
        counters: counters.clone(),
        stop: Arc::new(AtomicBool::new(false)),
        progress: progress.clone(),
        failures: Arc::new(Mutex::new(Vec::new())),
        threads: Mutex::new(Vec::new()),
        bounded: config.total_orders.is_some(),
    };
    let cfg = Arc::new(config);
    let (c, s, p) = (cfg.clone(), handle.stop.clone(), progress.clone());
    handle.spawn("order-service", move || order_service::run(&c, order_out, &s, &p.orders_done))?;
    let (c, s, p, n) = (cfg.clone(), handle.stop.clone(), progress, counters.clone());
    handle.spawn("payment-service", move || {
        payment_service::run(&c, payment_in, payment_out, &s, &n, &p.orders_done, &p.payments_caught_up)
    })?;
    let (s, n) = (handle.stop.clone(), counters);
    handle.spawn("shipping-service", move || shipping_service::run(&cfg, shipping_in, shipping_out, &s, &n))?;
    Ok(handle)
}

impl SimHandle {
    fn spawn(&self, name: &str, body: impl FnOnce() -> anyhow::Result<()> + Send + 'static) -> anyhow::Result<()> {
        let (failures, progress, service) = (self.failures.clone(), self.progress.clone(), name.to_string());
        let t = thread::Builder::new().name(name.into()).spawn(move || {
            if let Err(e) = body() {
                failures.lock().unwrap_or_else(|p| p.into_inner()).push(format!("{}: {:#}", service, e));
                progress.failed.store(true, SeqCst);
            }
        })?;
        self.threads.lock().unwrap_or_else(|p| p.into_inner()).push(t);
        Ok(())
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    pub fn stats(&self) -> Stats {
        self.counters.snapshot()
    }

    /// The first error a service thread ended with, if any.
    pub fn failure(&self) -> Option<String> {
        self.failures.lock().unwrap_or_else(|p| p.into_inner()).first().cloned()
    }

    /// With `total_orders`: every order, cancellation and payment decision
    /// (duplicates included) is acknowledged by Kafka. Shipping is not
    /// waited for: it depends on eddy's confirmations.
    pub fn is_done(&self) -> bool {
        let p = &self.progress;
        self.bounded
            && p.orders_done.load(SeqCst)
            && p.payments_caught_up.load(SeqCst)
            && p.payment_busy.load(SeqCst) == 0
    }

    /// Blocks until `is_done`, or until stopped (without `total_orders`, only
    /// that). Errors if a service failed.
    pub fn wait_until_done(&self) -> anyhow::Result<()> {
        while !self.wait_until_done_timeout(Duration::from_secs(3600))? {}
        Ok(())
    }

    /// Like `wait_until_done` with a limit; Ok(false) on timeout.
    pub fn wait_until_done_timeout(&self, timeout: Duration) -> anyhow::Result<bool> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(f) = self.failure() {
                anyhow::bail!("{}", f);
            }
            if self.is_done() || self.stop.load(SeqCst) {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn is_stopped(&self) -> bool {
        self.stop.load(SeqCst)
    }

    /// Stops all services and waits for their threads (each flushes what it
    /// already handed to Kafka; events scheduled for later are dropped).
    /// Safe to call more than once and from any thread.
    pub fn stop(&self) {
        self.stop.store(true, SeqCst);
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|p| p.into_inner()));
        for t in threads {
            let name = t.thread().name().unwrap_or("service").to_string();
            if t.join().is_err() {
                eprintln!("ecommerce-sim: {} panicked", name);
            }
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.stop();
    }
}
