-- The platform's Kafka topics as sources (broker: the server's --kafka).
-- JSON fields map to columns by name (case-insensitively: eventId -> eventid);
-- records that do not decode go to <source>_errors and the -dlq topic.

CREATE SOURCE order_events (eventid text, eventtype text, orderid text, customerid text, "timestamp" timestamptz,
                            items jsonb, totalamount numeric, currency text, shippingaddress text, reason text)
  FROM KAFKA (TOPIC 'order-events') FORMAT JSON INCLUDE SEQUENCE DEAD LETTER TOPIC 'order-events-dlq';

CREATE SOURCE payment_events (eventid text, eventtype text, orderid text, paymentid text, amount numeric,
                              "timestamp" timestamptz, reason text)
  FROM KAFKA (TOPIC 'payment-events') FORMAT JSON DEAD LETTER TOPIC 'payment-events-dlq';

CREATE SOURCE shipment_events (eventid text, eventtype text, orderid text, shipmentid text, carrier text,
                               "timestamp" timestamptz)
  FROM KAFKA (TOPIC 'shipment-events') FORMAT JSON DEAD LETTER TOPIC 'shipment-events-dlq';

CREATE SOURCE restocks (eventid text, productid text, quantity int, "timestamp" timestamptz)
  FROM KAFKA (TOPIC 'restocks') FORMAT JSON DEAD LETTER TOPIC 'restocks-dlq';
