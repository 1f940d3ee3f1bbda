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

-- One row per order line, numbered from 0 in the order's items.
CREATE MATERIALIZED VIEW order_lines AS
SELECT o.order_id, o.arrival, l.n - 1 AS line,
       l.item ->> 'productId' AS product_id,
       (l.item ->> 'quantity')::int AS quantity,
       (l.item ->> 'price')::numeric AS price
FROM orders_created o, jsonb_array_elements(o.items) WITH ORDINALITY AS l(item, n);

CREATE MATERIALIZED VIEW stock AS
SELECT product_id, sum(quantity) AS quantity
FROM (SELECT DISTINCT eventid, productid AS product_id, quantity FROM restocks WHERE quantity > 0) r
GROUP BY product_id;
