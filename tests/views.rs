//! The e-commerce views in views/ load into eddy and follow a few orders
//! through the saga (hand-written events on librdkafka's mock cluster).

mod server;
mod sql_client;

use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;
use server::EddyServer;
use sql_client::{load_views, query};
use std::time::{Duration, Instant};
use tokio_postgres::NoTls;

fn send(p: &BaseProducer, topic: &str, key: &str, value: &str) {
    p.send(BaseRecord::to(topic).key(key).payload(value)).map_err(|(e, _)| e).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn orders_move_through_the_saga() {
    let cluster = MockCluster::new(1).unwrap();
    let broker = cluster.bootstrap_servers();
    for t in ["order-events", "payment-events", "shipment-events", "restocks"] {
        cluster.create_topic(t, 2, 1).unwrap();
    }
    let server = EddyServer::start_with(&["--kafka", &broker]);
    let (client, conn) = tokio_postgres::connect(&server.conninfo(), NoTls).await.unwrap();
    tokio::spawn(conn);
    load_views(&client).await;

    let p: BaseProducer = ClientConfig::new().set("bootstrap.servers", &broker).create().unwrap();
    send(&p, "restocks", "p1", r#"{"eventId":"r1","productId":"p1","quantity":3,"timestamp":1700000000000}"#);
    send(&p, "restocks", "p2", r#"{"eventId":"r2","productId":"p2","quantity":10,"timestamp":1700000000000}"#);
    p.flush(Duration::from_secs(5)).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let order = |id: &str, product: &str, qty: i32| format!(r#"{{"eventId":"e-{id}","eventType":"order.created","orderId":"{id}","customerId":"c1","timestamp":1700000001000,"items":[{{"productId":"{product}","quantity":{qty},"price":2.50}}],"totalAmount":{total},"currency":"USD","shippingAddress":"x"}}"#, total = qty as f64 * 2.5);
    send(&p, "order-events", "o1", &order("o1", "p1", 2));
    p.flush(Duration::from_secs(5)).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    send(&p, "order-events", "o2", &order("o2", "p1", 2)); // only 1 left: waits
    send(&p, "order-events", "o3", &order("o3", "p2", 1));
    send(&p, "order-events", "o3", &order("o3", "p2", 1)); // duplicate delivery
    send(&p, "payment-events", "o1", r#"{"eventId":"p-o1","eventType":"payment.processed","orderId":"o1","paymentId":"x1","amount":5.0,"timestamp":1700000002000}"#);
    send(&p, "payment-events", "o3", r#"{"eventId":"p-o3","eventType":"payment.failed","orderId":"o3","paymentId":"x3","amount":2.5,"timestamp":1700000002000,"reason":"card declined"}"#);
    send(&p, "order-events", "o4", "{not json");
    p.flush(Duration::from_secs(5)).unwrap();

    let deadline = Instant::now() + Duration::from_secs(30);
    let want = vec![
        vec![Some("o1".into()), Some("CONFIRMED".into())],
        vec![Some("o2".into()), Some("OUT_OF_STOCK".into())],
        vec![Some("o3".into()), Some("PAYMENT_FAILED".into())],
    ];
    loop {
        let got = query(&client, "SELECT order_id, state FROM order_saga ORDER BY order_id").await;
        if got == want {
            break;
        }
        assert!(Instant::now() < deadline, "saga states: {:?}", got);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // o3 fit its stock and then failed payment: one release. o1 cancelled later also releases.
    send(&p, "order-events", "o1", r#"{"eventId":"c-o1","eventType":"order.cancelled","orderId":"o1","customerId":"c1","timestamp":1700000003000,"reason":"changed mind"}"#);
    p.flush(Duration::from_secs(5)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let released = query(&client, "SELECT order_id FROM inventory_release ORDER BY order_id").await;
        let o2 = query(&client, "SELECT state FROM order_saga WHERE order_id = 'o2'").await;
        if released == vec![vec![Some("o1".into())], vec![Some("o3".into())]] && o2 == vec![vec![Some("PENDING".into())]] {
            break;
        }
        assert!(Instant::now() < deadline, "released {:?}, o2 {:?}", released, o2);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(query(&client, "SELECT count(*) FROM order_events_errors").await[0][0].as_deref(), Some("1"));
    let over = query(&client, "SELECT count(*) FROM product_reservations WHERE reserved > stock").await;
    assert_eq!(over[0][0].as_deref(), Some("0"), "no product is over-reserved");
}
