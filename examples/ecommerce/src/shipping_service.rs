//! The Shipping Service: reads eddy's `order-confirmed` topic from the
//! beginning (committed records only) and ships each confirmed order once:
//! shipment.created, then shipment.dispatched, then shipment.delivered on
//! `shipment-events`, each a delay after the one before.
//!
//! Does: treat any readable record as "this order is confirmed", whatever
//! else it holds, and ignore repeats of an order id. Does not: un-ship an
//! order whose confirmation is later retracted (a tombstone is ignored; a
//! parcel cannot be recalled by a retraction).

use crate::events::{self, ORDER_CONFIRMED, SHIPMENT_EVENTS, SHIPMENT_STEPS};
use crate::kafka::{assign_all, now_ms, Kind, Msg, Outbox};
use crate::rng::{hash, Rng};
use crate::{Counters, SimConfig};
use rdkafka::consumer::BaseConsumer;
use rdkafka::Message;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::time::{Duration, Instant};

pub fn run(
    cfg: &SimConfig,
    consumer: BaseConsumer,
    mut out: Outbox,
    stop: &AtomicBool,
    counters: &Counters,
) -> anyhow::Result<()> {
    if !assign_all(&consumer, ORDER_CONFIRMED, stop)? {
        return Ok(());
    }
    let mut rng = Rng::new(cfg.seed, 3);
    let mut shipped: HashSet<String> = HashSet::new();
    while !stop.load(SeqCst) {
        let now = Instant::now();
        let wait = out.next_due().map_or(Duration::from_millis(20), |d| d.saturating_duration_since(now));
        let mut timeout = crate::kafka::poll_timeout(wait);
        for _ in 0..1000 {
            match consumer.poll(timeout) {
                None => break,
                Some(Ok(m)) => match events::confirmed_order_id(m.key(), m.payload()) {
                    Some(id) if shipped.insert(id.clone()) => {
                        counters.confirmations_seen.fetch_add(1, SeqCst);
                        ship(cfg, &mut rng, &mut out, id);
                    }
                    Some(_) => {}
                    None if m.payload().is_some_and(|p| !p.is_empty()) => {
                        counters.unreadable_inputs.fetch_add(1, SeqCst);
                    }
                    None => {} // a tombstone
                },
                Some(Err(e)) => {
                    eprintln!("ecommerce-sim: shipping service reading order-confirmed: {}", e);
                    break;
                }
            }
            timeout = Duration::ZERO;
        }
        out.send_due(Instant::now());
    }
    out.flush(Duration::from_secs(5));
    Ok(())
}

/// Schedules the three steps, each 0.5x..1.5x the shipping delay after the
/// previous one, so they are in order on the (single) partition of the key.
fn ship(cfg: &SimConfig, rng: &mut Rng, out: &mut Outbox, order_id: String) {
    let carrier = events::CARRIERS[(hash(cfg.seed, &order_id) % 4) as usize];
    let (now, now_ms) = (Instant::now(), now_ms());
    let d = cfg.shipping_delay_ms;
    let mut after = 0;
    for (i, step) in SHIPMENT_STEPS.iter().enumerate() {
        after += rng.range(d / 2, d + d / 2);
        let event_id = format!("{}:{}", order_id, step);
        let payload = events::shipment(&event_id, step, &order_id, carrier, now_ms + after);
        let msg = Msg { topic: SHIPMENT_EVENTS, key: order_id.clone(), payload, kind: Kind::Shipment(i) };
        out.schedule(now + Duration::from_millis(after), msg);
    }
}
