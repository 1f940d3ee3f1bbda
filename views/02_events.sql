-- Deduplicated business facts. A duplicate delivery repeats an event with
-- the same eventId and content, so grouping by the content keeps one row;
-- `arrival` is the first time eddy read the order (its place in line).

CREATE MATERIALIZED VIEW orders_created AS
SELECT orderid AS order_id, customerid AS customer_id, "timestamp" AS created_at, items,
       totalamount AS total_amount, currency, min(sequence) AS arrival
FROM order_events
WHERE eventtype = 'order.created'
GROUP BY orderid, customerid, "timestamp", items, totalamount, currency;

CREATE MATERIALIZED VIEW orders_cancelled AS
SELECT orderid AS order_id, min("timestamp") AS cancelled_at, min(reason) AS reason
FROM order_events
WHERE eventtype = 'order.cancelled'
GROUP BY orderid;

CREATE MATERIALIZED VIEW payments AS
SELECT orderid AS order_id,
       min("timestamp") FILTER (WHERE eventtype = 'payment.processed') AS paid_at,
       min("timestamp") FILTER (WHERE eventtype = 'payment.failed') AS failed_at,
       min(reason) FILTER (WHERE eventtype = 'payment.failed') AS failure_reason
FROM payment_events
WHERE eventtype IN ('payment.processed', 'payment.failed')
GROUP BY orderid;

CREATE MATERIALIZED VIEW shipments AS
SELECT orderid AS order_id,
       min("timestamp") FILTER (WHERE eventtype = 'shipment.created') AS shipped_at,
       min("timestamp") FILTER (WHERE eventtype = 'shipment.dispatched') AS dispatched_at,
       min("timestamp") FILTER (WHERE eventtype = 'shipment.delivered') AS delivered_at
FROM shipment_events
GROUP BY orderid;

-- One row per order line (orders carry up to 10 lines; see views/README.md).
CREATE MATERIALIZED VIEW order_lines AS
SELECT o.order_id, o.arrival, n.line,
       o.items -> n.line ->> 'productId' AS product_id,
       (o.items -> n.line ->> 'quantity')::int AS quantity,
       (o.items -> n.line ->> 'price')::numeric AS price
FROM orders_created o
CROSS JOIN (VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)) AS n(line)
WHERE jsonb_array_length(o.items) > n.line;

CREATE MATERIALIZED VIEW stock AS
SELECT product_id, sum(quantity) AS quantity
FROM (SELECT DISTINCT eventid, productid AS product_id, quantity FROM restocks WHERE quantity > 0) r
GROUP BY product_id;
