//! The Payment Service: reads `order-events` from the beginning (all
//! partitions assigned, no consumer group) and answers each order.created,
//! once per order id, with payment.processed or payment.failed on
//! `payment-events` after a delay; some answers are held back much longer to
//! arrive out of order.
//!
//! Does: decide each payment from (seed, orderId) only, so a rerun over the
//! same input decides the same way and emits the same eventIds; skip
//! unreadable records. Does not: look at cancellations (a real gateway would
//! not know of them either) or at stock.

use crate::events::{self, OrderEvent, ORDER_EVENTS, PAYMENT_EVENTS};
use crate::kafka::{assign_all, now_ms, Kind, Msg, Outbox};
use crate::rng::{hash, hash_unit, Rng};
use crate::{Counters, SimConfig};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::time::{Duration, Instant};

pub fn run(
    cfg: &SimConfig,
    consumer: BaseConsumer,
    mut out: Outbox,
    stop: &AtomicBool,
    counters: &Counters,
    orders_done: &AtomicBool,
    caught_up: &AtomicBool,
) -> anyhow::Result<()> {
    if !assign_all(&consumer, ORDER_EVENTS, stop)? {
        return Ok(());
    }
    let mut rng = Rng::new(cfg.seed, 2);
    let mut answered: HashSet<String> = HashSet::new();
    let mut last_check = Instant::now();
    while !stop.load(SeqCst) {
        let now = Instant::now();
        let wait = out.next_due().map_or(Duration::from_millis(20), |d| d.saturating_duration_since(now));
        let mut timeout = crate::kafka::poll_timeout(wait);
        // Drain what is there before sending, without waiting again.
        for _ in 0..1000 {
            match consumer.poll(timeout) {
                None => break,
                Some(Ok(m)) => decide(cfg, &mut rng, &mut out, counters, &mut answered, m.payload().unwrap_or(&[])),
                Some(Err(e)) => {
                    eprintln!("ecommerce-sim: payment service reading order-events: {}", e);
                    break;
                }
            }
            timeout = Duration::ZERO;
        }
        out.send_due(Instant::now());
        // Once the Order Service is finished, "done" needs us at its end.
        if orders_done.load(SeqCst) && !caught_up.load(SeqCst) && last_check.elapsed() > Duration::from_millis(50) {
            last_check = Instant::now();
            if at_end(&consumer) {
                caught_up.store(true, SeqCst);
            }
        }
    }
    out.flush(Duration::from_secs(5));
    Ok(())
}

fn decide(
    cfg: &SimConfig,
    rng: &mut Rng,
    out: &mut Outbox,
    counters: &Counters,
    answered: &mut HashSet<String>,
    payload: &[u8],
) {
    let (order_id, amount) = match events::parse_order_event(payload) {
        Some(OrderEvent::Created { order_id, total_amount, .. }) => (order_id, total_amount),
        Some(OrderEvent::Cancelled { .. }) => return,
        None => {
            counters.unreadable_inputs.fetch_add(1, SeqCst);
            return;
        }
    };
    // Idempotent: a duplicate order.created is charged only once.
    if !answered.insert(order_id.clone()) {
        return;
    }
    let failed = hash_unit(cfg.seed, &format!("{}:pay", order_id)) < cfg.payment_failure_rate;
    let reason = failed.then(|| events::FAILURE_REASONS[(hash(cfg.seed, &order_id) % 4) as usize]);
    let d = cfg.payment_delay_ms;
    let delay = rng.range(d / 2, d + d / 2);
    // The event's timestamp is when it was decided; a held-back one arrives
    // later with that earlier timestamp.
    let payload = events::payment(&format!("{}:payment", order_id), &order_id, amount, reason, now_ms() + delay);
    let mut due = Instant::now() + Duration::from_millis(delay);
    if rng.chance(cfg.out_of_order_rate) {
        let base = d.max(50);
        due += Duration::from_millis(rng.range(2 * base, 10 * base));
        counters.payments_held_back.fetch_add(1, SeqCst);
    }
    let kind = if failed { Kind::PaymentFailed } else { Kind::PaymentProcessed };
    out.schedule(due, Msg { topic: PAYMENT_EVENTS, key: order_id, payload, kind });
}

/// True when the consumer's position is at the high watermark of every
/// assigned partition.
fn at_end(consumer: &BaseConsumer) -> bool {
    let Ok(pos) = consumer.position() else { return false };
    pos.elements().iter().all(|e| {
        let Ok((_, high)) = consumer.fetch_watermarks(e.topic(), e.partition(), Duration::from_secs(2)) else {
            return false;
        };
        match e.offset() {
            Offset::Offset(o) => o >= high,
            // Nothing consumed yet from this partition: at end only if empty.
            _ => high == 0,
        }
    })
}
