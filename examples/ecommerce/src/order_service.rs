//! The Order Service: publishes the initial stock of every product to
//! `restocks`, then order.created events to `order-events` at the configured
//! rate, cancels a fraction of them a little later, and optionally restocks
//! a product now and then.
//!
//! Does: choose customers, products, quantities and prices from the seed.
//! Does not: read any topic (the real one would read the saga's outcome; here
//! eddy owns that), or check stock (the Inventory Service, i.e. eddy, does).

use crate::events::{self, Item, Order, ORDER_EVENTS, RESTOCKS};
use crate::kafka::{now_ms, Kind, Msg, Outbox};
use crate::rng::{hash, Rng};
use crate::{product_id, SimConfig};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::thread;
use std::time::{Duration, Instant};

const STREETS: [&str; 8] = ["Main", "Oak", "Pine", "Maple", "Cedar", "Elm", "Lake", "Hill"];
const CITIES: [&str; 8] = ["Springfield", "Riverside", "Fairview", "Madison", "Georgetown", "Salem", "Clinton", "Ashland"];

/// At most this much backlog is made up after a stall (a slow broker, a
/// paused process), so that a stall does not end in a burst of hours.
const MAX_CATCH_UP: Duration = Duration::from_secs(1);

pub fn run(cfg: &SimConfig, mut out: Outbox, stop: &AtomicBool, done: &AtomicBool) -> anyhow::Result<()> {
    let mut rng = Rng::new(cfg.seed, 1);
    let mut restock_seq = 0u64;
    for i in 0..cfg.products {
        out.send_now(restock(cfg, &mut restock_seq, i, cfg.initial_stock(i)));
    }
    // Stock is on the broker before the first order that could take it.
    out.flush(Duration::from_secs(30));

    let mean_gap = if cfg.orders_per_sec > 0.0 { 1.0 / cfg.orders_per_sec } else { 0.0 };
    let limit = cfg.total_orders.unwrap_or(u64::MAX);
    let restock_every = cfg.restock_interval_ms.filter(|ms| *ms > 0).map(Duration::from_millis);
    let mut next_order = Instant::now();
    let mut next_restock = restock_every.map(|d| Instant::now() + d);
    let mut created = 0u64;
    while !stop.load(SeqCst) {
        let now = Instant::now();
        if let Some(floor) = now.checked_sub(MAX_CATCH_UP) {
            next_order = next_order.max(floor);
        }
        // Bounded batches keep scheduled cancellations flowing at full speed.
        let mut batch = 0;
        while created < limit && next_order <= now && batch < 1000 {
            created += 1;
            batch += 1;
            create_order(cfg, &mut rng, &mut out, created, now);
            let gap = if cfg.poisson { rng.exponential(mean_gap) } else { mean_gap };
            next_order += Duration::from_secs_f64(gap);
        }
        if let (Some(due), Some(every)) = (next_restock, restock_every) {
            if due <= now && created < limit {
                let product = rng.skewed_index(cfg.products);
                out.send_now(restock(cfg, &mut restock_seq, product, cfg.restock_quantity));
                next_restock = Some(due + every);
            }
        }
        out.send_due(now);
        if created >= limit && out.queued() == 0 {
            break;
        }
        let mut wake = now + Duration::from_millis(10);
        if created < limit {
            wake = wake.min(next_order);
        }
        for t in [out.next_due(), next_restock].into_iter().flatten() {
            wake = wake.min(t);
        }
        let pause = wake.saturating_duration_since(Instant::now());
        if !pause.is_zero() {
            thread::sleep(pause);
        }
    }
    let stopped = stop.load(SeqCst);
    out.flush(Duration::from_secs(if stopped { 5 } else { 60 }));
    if !stopped {
        done.store(true, SeqCst);
    }
    Ok(())
}

fn restock(cfg: &SimConfig, seq: &mut u64, product: u64, quantity: u64) -> Msg {
    *seq += 1;
    let pid = product_id(product);
    let event_id = format!("{}restock-{}", cfg.id_prefix, seq);
    let payload = events::restock(&event_id, &pid, quantity, now_ms());
    Msg { topic: RESTOCKS, key: pid, payload, kind: Kind::Restock }
}

/// Prices are fixed per product by the seed: $0.99 to $199.99.
pub fn price_cents(seed: u64, product: u64) -> u64 {
    (hash(seed, &product_id(product)) % 200 + 1) * 100 - 1
}

/// Each customer always ships to the same address.
fn address(seed: u64, customer: u64) -> String {
    let h = hash(seed ^ 0xADD, &customer.to_string());
    format!("{} {} St, {}", 1 + h % 999, STREETS[(h >> 16) as usize % 8], CITIES[(h >> 24) as usize % 8])
}

pub fn make_order(cfg: &SimConfig, rng: &mut Rng, seq: u64) -> Order {
    let customer = rng.range(0, cfg.customers - 1);
    let wanted = rng.range(1, cfg.max_items_per_order as u64).min(cfg.products) as usize;
    let mut items: Vec<Item> = Vec::with_capacity(wanted);
    let mut tries = 0;
    while items.len() < wanted && tries < 10 * wanted {
        tries += 1;
        let p = rng.skewed_index(cfg.products);
        let pid = product_id(p);
        if items.iter().any(|i| i.product_id == pid) {
            continue;
        }
        let quantity = rng.range(1, cfg.max_quantity_per_item as u64) as u32;
        items.push(Item { product_id: pid, quantity, price_cents: price_cents(cfg.seed, p) });
    }
    Order {
        order_id: format!("{}o-{}", cfg.id_prefix, seq),
        customer_id: format!("c-{}", customer),
        items,
        shipping_address: address(cfg.seed, customer),
    }
}

fn create_order(cfg: &SimConfig, rng: &mut Rng, out: &mut Outbox, seq: u64, now: Instant) {
    let order = make_order(cfg, rng, seq);
    let payload = events::order_created(&format!("{}:created", order.order_id), &order, now_ms());
    out.send_now(Msg { topic: ORDER_EVENTS, key: order.order_id.clone(), payload, kind: Kind::OrderCreated });
    if rng.chance(cfg.cancel_rate) {
        let delay = rng.range(0, cfg.cancel_delay_ms);
        let reason = rng.pick(&events::CANCEL_REASONS);
        let event_id = format!("{}:cancelled", order.order_id);
        let payload = events::order_cancelled(&event_id, &order.order_id, &order.customer_id, reason, now_ms() + delay);
        let msg = Msg { topic: ORDER_EVENTS, key: order.order_id, payload, kind: Kind::OrderCancelled };
        out.schedule(now + Duration::from_millis(delay), msg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_follow_the_config() {
        let cfg = SimConfig { products: 50, max_items_per_order: 3, max_quantity_per_item: 2, ..SimConfig::default() };
        let mut rng = Rng::new(1, 1);
        let mut sizes = [0; 4];
        for seq in 1..=2000 {
            let o = make_order(&cfg, &mut rng, seq);
            assert_eq!(o.order_id, format!("o-{}", seq));
            assert!((1..=3).contains(&o.items.len()));
            sizes[o.items.len()] += 1;
            for i in &o.items {
                assert!((1..=2).contains(&i.quantity));
                assert_eq!(i.price_cents % 100, 99);
            }
            let mut ids: Vec<_> = o.items.iter().map(|i| &i.product_id).collect();
            ids.sort();
            ids.dedup();
            assert_eq!(ids.len(), o.items.len());
        }
        assert!(sizes[1] > 400 && sizes[3] > 400, "{:?}", sizes);
        // Same seed, same orders.
        let a = make_order(&cfg, &mut Rng::new(9, 1), 5);
        assert_eq!(a, make_order(&cfg, &mut Rng::new(9, 1), 5));
    }

    #[test]
    fn scarce_products_are_spread() {
        let cfg = SimConfig { products: 500, scarce_products: 20, stock_per_product: 1000, scarce_stock: 5, ..SimConfig::default() };
        let scarce: Vec<u64> = (0..500).filter(|i| cfg.is_scarce(*i)).collect();
        assert_eq!(scarce.len(), 20);
        assert_eq!((scarce[0], scarce[19]), (24, 499));
        assert_eq!((cfg.initial_stock(24), cfg.initial_stock(0)), (5, 1000));
    }
}
