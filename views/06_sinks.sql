-- What eddy publishes back to Kafka for the other services.

CREATE SINK inventory_out FROM inventory_events
  INTO KAFKA (TOPIC 'inventory-events') KEY (order_id) FORMAT JSON ENVELOPE UPSERT;

CREATE SINK order_confirmed_out FROM orders_confirmed
  INTO KAFKA (TOPIC 'order-confirmed') KEY (order_id) FORMAT JSON ENVELOPE UPSERT;

CREATE SINK inventory_release_out FROM inventory_release
  INTO KAFKA (TOPIC 'inventory-release') KEY (order_id) FORMAT JSON ENVELOPE UPSERT;
