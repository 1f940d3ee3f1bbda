//! Topic names and the JSON wire format of every event the simulators write,
//! plus the strict reader the Payment Service uses and the malformed records
//! the fault injector sends.
//!
//! Does: encode events (field names as in the platform's OrderCreated schema,
//! plus `eventId` and `eventType`), decode order events strictly, read
//! `order-confirmed` records leniently (eddy owns that format).
//! Does not: talk to Kafka, or decide anything (the services do).

use crate::rng::Rng;
use serde_json::{json, Value};

pub const ORDER_EVENTS: &str = "order-events";
pub const PAYMENT_EVENTS: &str = "payment-events";
pub const SHIPMENT_EVENTS: &str = "shipment-events";
pub const RESTOCKS: &str = "restocks";
/// Written by eddy (the saga's confirmations); read by the Shipping Service.
pub const ORDER_CONFIRMED: &str = "order-confirmed";
/// Written by eddy (reservation decisions and compensations).
pub const INVENTORY_EVENTS: &str = "inventory-events";
pub const INVENTORY_RELEASE: &str = "inventory-release";

/// Every topic of the platform. `create_topics` makes all of them, eddy's
/// outputs included, so that consumers can be assigned before eddy writes.
pub const ALL_TOPICS: [&str; 7] =
    [ORDER_EVENTS, PAYMENT_EVENTS, SHIPMENT_EVENTS, RESTOCKS, ORDER_CONFIRMED, INVENTORY_EVENTS, INVENTORY_RELEASE];

pub const CANCEL_REASONS: [&str; 4] = ["customer_request", "found_cheaper", "delivery_too_slow", "ordered_by_mistake"];
pub const FAILURE_REASONS: [&str; 4] = ["card_declined", "insufficient_funds", "fraud_suspected", "gateway_timeout"];
pub const CARRIERS: [&str; 4] = ["FedEx", "UPS", "DHL", "USPS"];
pub const SHIPMENT_STEPS: [&str; 3] = ["shipment.created", "shipment.dispatched", "shipment.delivered"];

#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub product_id: String,
    pub quantity: u32,
    pub price_cents: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Order {
    pub order_id: String,
    pub customer_id: String,
    pub items: Vec<Item>,
    pub shipping_address: String,
}

impl Order {
    /// Summed in cents so that totalAmount is exactly the sum of its items.
    pub fn total_cents(&self) -> u64 {
        self.items.iter().map(|i| i.price_cents * i.quantity as u64).sum()
    }
}

fn money(cents: u64) -> f64 {
    cents as f64 / 100.0
}

fn encode(v: Value) -> Vec<u8> {
    serde_json::to_vec(&v).expect("a JSON value always serializes")
}

pub fn order_created(event_id: &str, o: &Order, ts: u64) -> Vec<u8> {
    let items: Vec<Value> = o
        .items
        .iter()
        .map(|i| json!({"productId": i.product_id, "quantity": i.quantity, "price": money(i.price_cents)}))
        .collect();
    encode(json!({
        "eventId": event_id, "eventType": "order.created", "orderId": o.order_id,
        "customerId": o.customer_id, "timestamp": ts, "items": items,
        "totalAmount": money(o.total_cents()), "currency": "USD", "shippingAddress": o.shipping_address,
    }))
}

pub fn order_cancelled(event_id: &str, order_id: &str, customer_id: &str, reason: &str, ts: u64) -> Vec<u8> {
    encode(json!({
        "eventId": event_id, "eventType": "order.cancelled", "orderId": order_id,
        "customerId": customer_id, "timestamp": ts, "reason": reason,
    }))
}

/// `failure` is the reason of a payment.failed; None means payment.processed.
pub fn payment(event_id: &str, order_id: &str, amount: f64, failure: Option<&str>, ts: u64) -> Vec<u8> {
    let mut v = json!({
        "eventId": event_id, "orderId": order_id, "paymentId": format!("pay-{}", order_id),
        "amount": amount, "timestamp": ts,
    });
    let m = v.as_object_mut().expect("an object");
    match failure {
        None => m.insert("eventType".into(), "payment.processed".into()),
        Some(reason) => {
            m.insert("reason".into(), reason.into());
            m.insert("eventType".into(), "payment.failed".into())
        }
    };
    encode(v)
}

pub fn shipment(event_id: &str, step: &str, order_id: &str, carrier: &str, ts: u64) -> Vec<u8> {
    encode(json!({
        "eventId": event_id, "eventType": step, "orderId": order_id,
        "shipmentId": format!("shp-{}", order_id), "carrier": carrier, "timestamp": ts,
    }))
}

pub fn restock(event_id: &str, product_id: &str, quantity: u64, ts: u64) -> Vec<u8> {
    encode(json!({"eventId": event_id, "productId": product_id, "quantity": quantity, "timestamp": ts}))
}

/// What the Payment Service needs from an order event.
#[derive(Clone, Debug, PartialEq)]
pub enum OrderEvent {
    Created { event_id: String, order_id: String, total_amount: f64 },
    Cancelled { event_id: String, order_id: String },
}

/// Strict decoding: a record with a missing field or a field of the wrong
/// type is rejected, like a real service with a schema would.
pub fn parse_order_event(bytes: &[u8]) -> Option<OrderEvent> {
    let v: Value = serde_json::from_slice(bytes).ok()?;
    let s = |k: &str| v.get(k).and_then(Value::as_str);
    let event_id = s("eventId")?.to_string();
    let order_id = s("orderId")?.to_string();
    s("customerId")?;
    v.get("timestamp")?.as_u64()?;
    match s("eventType")? {
        "order.created" => {
            let items = v.get("items")?.as_array()?;
            let item_ok = |i: &Value| {
                i.get("productId").is_some_and(Value::is_string)
                    && i.get("quantity").and_then(Value::as_u64).is_some_and(|q| q > 0)
                    && i.get("price").is_some_and(Value::is_number)
            };
            if items.is_empty() || !items.iter().all(item_ok) {
                return None;
            }
            let total_amount = v.get("totalAmount")?.as_f64()?;
            s("currency")?;
            Some(OrderEvent::Created { event_id, order_id, total_amount })
        }
        "order.cancelled" => Some(OrderEvent::Cancelled { event_id, order_id }),
        _ => None,
    }
}

/// The order id of an `order-confirmed` record: the value's `order_id` (or
/// `orderId`), else the key's. None for tombstones and unreadable records.
pub fn confirmed_order_id(key: Option<&[u8]>, value: Option<&[u8]>) -> Option<String> {
    let value = value.filter(|v| !v.is_empty())?;
    let id_in = |bytes: &[u8]| -> Option<String> {
        let v: Value = serde_json::from_slice(bytes).ok()?;
        // A Debezium envelope carries the row under "after".
        let row = v.get("after").filter(|a| a.is_object()).unwrap_or(&v);
        row.get("order_id").or_else(|| row.get("orderId")).and_then(Value::as_str).map(str::to_string)
    };
    id_in(value).or_else(|| key.and_then(id_in))
}

/// A malformed record for `topic`: garbage bytes, truncated JSON, JSON with
/// wrong types, JSON that is not an object, or plain text. None of them parse
/// as a valid event of any topic.
pub fn malformed(rng: &mut Rng, topic: &str, n: u64) -> Vec<u8> {
    let is_payment = topic == PAYMENT_EVENTS;
    match rng.range(0, 4) {
        0 => {
            // 0xFF never occurs in UTF-8, so this cannot be JSON text.
            let mut b = vec![0xFF, 0xFE, 0x00];
            b.extend((0..rng.range(4, 40)).map(|_| rng.next_u64() as u8));
            b
        }
        1 => {
            let whole = if is_payment {
                payment(&format!("bad-{}", n), &format!("o-bad-{}", n), 10.0, None, 0)
            } else {
                order_cancelled(&format!("bad-{}", n), &format!("o-bad-{}", n), "c-0", "x", 0)
            };
            whole[..whole.len() / 2].to_vec()
        }
        2 if is_payment => encode(json!({
            "eventId": n, "eventType": "payment.processed", "orderId": ["o-1"],
            "paymentId": 7, "amount": "ten dollars", "timestamp": "now",
        })),
        2 => encode(json!({
            "eventId": n, "eventType": "order.created", "orderId": n, "customerId": null,
            "timestamp": "yesterday", "items": "three socks", "totalAmount": "lots",
            "currency": "USD", "shippingAddress": 42,
        })),
        // Not `null` or `{}`: a reader could take those for a tombstone or a
        // row of NULLs rather than an error.
        3 => rng.pick(&["[1,2,3]", "\"order.created\"", "42", "true"]).as_bytes().to_vec(),
        _ => format!("event {} total ${}", n, rng.range(1, 500)).into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order() -> Order {
        Order {
            order_id: "o-1".into(),
            customer_id: "c-2".into(),
            items: vec![
                Item { product_id: "p-0001".into(), quantity: 2, price_cents: 1999 },
                Item { product_id: "p-0007".into(), quantity: 1, price_cents: 500 },
            ],
            shipping_address: "1 Main St, Springfield".into(),
        }
    }

    #[test]
    fn created_round_trips_with_schema_fields() {
        let bytes = order_created("e-1", &order(), 1_700_000_000_000);
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["totalAmount"], json!(44.98));
        assert_eq!(v["items"][0], json!({"productId": "p-0001", "quantity": 2, "price": 19.99}));
        assert_eq!(v["currency"], "USD");
        let parsed = parse_order_event(&bytes).unwrap();
        assert_eq!(parsed, OrderEvent::Created { event_id: "e-1".into(), order_id: "o-1".into(), total_amount: 44.98 });
        let c = order_cancelled("e-2", "o-1", "c-2", "customer_request", 5);
        assert_eq!(parse_order_event(&c), Some(OrderEvent::Cancelled { event_id: "e-2".into(), order_id: "o-1".into() }));
    }

    #[test]
    fn payment_has_reason_only_on_failure() {
        let ok: Value = serde_json::from_slice(&payment("e", "o-1", 1.5, None, 1)).unwrap();
        assert_eq!(ok["eventType"], "payment.processed");
        assert!(ok.get("reason").is_none());
        let bad: Value = serde_json::from_slice(&payment("e", "o-1", 1.5, Some("card_declined"), 1)).unwrap();
        assert_eq!((bad["eventType"].as_str(), bad["reason"].as_str()), (Some("payment.failed"), Some("card_declined")));
    }

    #[test]
    fn malformed_never_parses() {
        let mut rng = Rng::new(1, 1);
        for n in 0..500 {
            for topic in [ORDER_EVENTS, PAYMENT_EVENTS] {
                let b = malformed(&mut rng, topic, n);
                assert!(parse_order_event(&b).is_none(), "{:?}", String::from_utf8_lossy(&b));
                let v: Option<Value> = serde_json::from_slice(&b).ok();
                assert!(v.as_ref().and_then(|v| v.get("orderId")).and_then(Value::as_str).is_none());
            }
        }
    }

    #[test]
    fn confirmed_ids() {
        assert_eq!(confirmed_order_id(None, Some(br#"{"order_id":"o-1","state":"CONFIRMED"}"#)), Some("o-1".into()));
        assert_eq!(confirmed_order_id(Some(br#"{"order_id":"o-2"}"#), Some(br#"{"x":1}"#)), Some("o-2".into()));
        assert_eq!(confirmed_order_id(None, Some(br#"{"before":null,"after":{"order_id":"o-3"}}"#)), Some("o-3".into()));
        assert_eq!(confirmed_order_id(Some(br#"{"order_id":"o-2"}"#), None), None);
    }
}
