-- Inventory reservation: eddy is the inventory service.
--
-- Each product has a line of order lines in arrival order. An order leaves
-- the line when it is cancelled or its payment fails (it is "inactive").
-- A line fits when the product's stock covers it and every active line
-- ahead of it; an order is reserved when all its lines fit, else it waits
-- as insufficient until stock frees up (views/README.md has the details
-- and the invariants).

CREATE MATERIALIZED VIEW line_queue AS
SELECT order_id, product_id, quantity, inactive,
       -- demand of the active lines up to this one, counting this one even
       -- when the order is inactive (what it holds if it were still in line)
       sum(quantity) OVER (PARTITION BY product_id ORDER BY arrival, order_id, line ROWS UNBOUNDED PRECEDING)
       - sum(CASE WHEN inactive THEN quantity ELSE 0 END) OVER (PARTITION BY product_id ORDER BY arrival, order_id, line ROWS UNBOUNDED PRECEDING)
       + CASE WHEN inactive THEN quantity ELSE 0 END AS demand_through
FROM (
  SELECT l.order_id, l.arrival, l.line, l.product_id, l.quantity,
         (c.order_id IS NOT NULL OR p.failed_at IS NOT NULL) AS inactive
  FROM order_lines l
  LEFT JOIN orders_cancelled c ON c.order_id = l.order_id
  LEFT JOIN payments p ON p.order_id = l.order_id
) lines;

CREATE MATERIALIZED VIEW inventory_decisions AS
SELECT q.order_id,
       bool_and(q.demand_through <= coalesce(s.quantity, 0)) AS fits,
       bool_or(q.inactive) AS inactive
FROM line_queue q LEFT JOIN stock s ON s.product_id = q.product_id
GROUP BY q.order_id;

-- What the inventory service publishes for each order still in line.
CREATE MATERIALIZED VIEW inventory_events AS
SELECT order_id,
       CASE WHEN fits THEN 'inventory.reserved' ELSE 'inventory.insufficient' END AS event_type
FROM inventory_decisions
WHERE NOT inactive;

-- Compensations: a cancelled or payment-failed order whose lines fit
-- releases its stock. Rows only ever appear (see README), so each order's
-- release is written once.
CREATE MATERIALIZED VIEW inventory_release AS
SELECT order_id, 'inventory.release' AS event_type
FROM inventory_decisions
WHERE inactive AND fits;

-- Stock held by reservations, per product (the no-over-reservation check:
-- reserved <= stock at every timestamp).
-- (Summed per product first, then joined with the product's one stock
-- row: a restock touches one row here, not every reserved line.)
CREATE MATERIALIZED VIEW product_reservations AS
SELECT r.product_id, coalesce(s.quantity, 0) AS stock, r.reserved
FROM (SELECT q.product_id, sum(q.quantity) AS reserved
      FROM line_queue q
      JOIN inventory_decisions d ON d.order_id = q.order_id
      WHERE d.fits AND NOT d.inactive
      GROUP BY q.product_id) r
LEFT JOIN stock s ON s.product_id = r.product_id;
