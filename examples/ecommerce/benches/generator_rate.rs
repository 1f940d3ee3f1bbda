//! Benchmark: the order rate the simulators reach at a 10k orders/s target,
//! with the Payment Service answering, on librdkafka's mock cluster in this
//! process. Prints the figure; asserts nothing about time.

use eddy_ecommerce::{start, SimConfig};
use rdkafka::mocking::MockCluster;
use std::time::{Duration, Instant};

fn main() {
    let cluster = MockCluster::new(1).unwrap();
    let cfg = SimConfig { broker: cluster.bootstrap_servers(), orders_per_sec: 10_000.0, total_orders: Some(50_000), ..SimConfig::default() };
    let t = Instant::now();
    let sim = start(cfg).unwrap();
    assert!(sim.wait_until_done_timeout(Duration::from_secs(120)).unwrap(), "the simulators did not finish within 120 s");
    println!("generator: 50k orders at a 10k/s target: {:.0} orders/s end to end (payments included): {:?}", 50_000.0 / t.elapsed().as_secs_f64(), sim.stats());
}
