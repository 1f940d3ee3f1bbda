-- The order saga: each order's state, the reason, and when each step happened.

CREATE MATERIALIZED VIEW order_saga AS
SELECT o.order_id, o.customer_id, o.total_amount, o.created_at,
       CASE WHEN c.order_id IS NOT NULL THEN 'CANCELLED'
            WHEN p.failed_at IS NOT NULL THEN 'PAYMENT_FAILED'
            WHEN d.fits IS NOT TRUE AND d.order_id IS NOT NULL THEN 'OUT_OF_STOCK'
            WHEN p.paid_at IS NOT NULL AND d.fits THEN 'CONFIRMED'
            ELSE 'PENDING' END AS state,
       CASE WHEN c.order_id IS NOT NULL THEN coalesce(c.reason, 'cancelled')
            WHEN p.failed_at IS NOT NULL THEN coalesce(p.failure_reason, 'payment failed')
            WHEN d.fits IS NOT TRUE AND d.order_id IS NOT NULL THEN 'insufficient stock'
            WHEN p.paid_at IS NULL THEN 'awaiting payment'
            ELSE NULL END AS reason,
       p.paid_at, p.failed_at, c.cancelled_at,
       CASE WHEN c.order_id IS NULL AND p.failed_at IS NULL AND p.paid_at IS NOT NULL AND d.fits THEN p.paid_at END AS confirmed_at,
       s.shipped_at, s.dispatched_at, s.delivered_at
FROM orders_created o
LEFT JOIN orders_cancelled c ON c.order_id = o.order_id
LEFT JOIN payments p ON p.order_id = o.order_id
LEFT JOIN inventory_decisions d ON d.order_id = o.order_id
LEFT JOIN shipments s ON s.order_id = o.order_id;

-- order.confirmed, for the shipping service.
CREATE MATERIALIZED VIEW orders_confirmed AS
SELECT order_id, customer_id, total_amount, confirmed_at
FROM order_saga
WHERE state = 'CONFIRMED';
