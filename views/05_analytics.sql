-- Analytics over the saga.

-- Orders and confirmed revenue per minute of creation (tumbling windows).
CREATE MATERIALIZED VIEW revenue_per_minute AS
SELECT date_trunc('minute', created_at) AS minute,
       count(*) AS orders,
       count(*) FILTER (WHERE state = 'CONFIRMED') AS confirmed,
       coalesce(sum(total_amount) FILTER (WHERE state = 'CONFIRMED'), 0) AS revenue
FROM order_saga
GROUP BY date_trunc('minute', created_at);

-- How far orders got: created, reserved, paid, confirmed, shipped, delivered.
-- (Reserved orders are counted in inventory_decisions itself: every
-- decision belongs to a created order, so no per-order join is needed.)
CREATE MATERIALIZED VIEW status_funnel AS
SELECT s.created, d.reserved, s.paid, s.confirmed, s.shipped, s.delivered
FROM (SELECT count(*) AS created,
             count(paid_at) AS paid,
             count(*) FILTER (WHERE state = 'CONFIRMED') AS confirmed,
             count(shipped_at) AS shipped,
             count(delivered_at) AS delivered
      FROM order_saga) s
CROSS JOIN (SELECT count(*) FILTER (WHERE fits AND NOT inactive) AS reserved FROM inventory_decisions) d;

CREATE MATERIALIZED VIEW payment_failure_rate AS
SELECT count(*) AS decided,
       count(failed_at) AS failed,
       CASE WHEN count(*) = 0 THEN NULL ELSE round(count(failed_at)::numeric / count(*), 4) END AS failure_rate
FROM payments;

CREATE MATERIALIZED VIEW top_products AS
SELECT l.product_id, sum(l.quantity) AS units, sum(l.quantity * l.price) AS revenue
FROM order_lines l JOIN order_saga s ON s.order_id = l.order_id
WHERE s.state = 'CONFIRMED'
GROUP BY l.product_id
ORDER BY revenue DESC, l.product_id
LIMIT 10;

-- Milliseconds from order.created to confirmation, per confirmed order.
CREATE MATERIALIZED VIEW saga_latencies AS
SELECT order_id, extract(epoch FROM confirmed_at - created_at) * 1000 AS latency_ms
FROM order_saga
WHERE confirmed_at IS NOT NULL;

-- Latency percentiles from a histogram of 5 ms buckets: a percentile is
-- the upper edge of the bucket it falls in. (Ranking every order instead
-- would recompute one big window on every change.)
CREATE MATERIALIZED VIEW saga_latency_histogram AS
SELECT floor(latency_ms / 5) * 5 + 5 AS upper_ms, count(*) AS orders
FROM saga_latencies
GROUP BY floor(latency_ms / 5) * 5 + 5;

CREATE MATERIALIZED VIEW saga_latency AS
SELECT max(total) AS confirmed,
       min(upper_ms) FILTER (WHERE cumulative >= 0.50 * total) AS p50_ms,
       min(upper_ms) FILTER (WHERE cumulative >= 0.95 * total) AS p95_ms,
       min(upper_ms) FILTER (WHERE cumulative >= 0.99 * total) AS p99_ms,
       max(upper_ms) AS max_ms
FROM (SELECT upper_ms,
             sum(orders) OVER (ORDER BY upper_ms ROWS UNBOUNDED PRECEDING) AS cumulative,
             sum(orders) OVER () AS total
      FROM saga_latency_histogram) h;
