//! Kafka sources and sinks over rdkafka.
//!
//! A source runs on its own thread: it assigns itself every partition of
//! the topic (no consumer-group rebalancing; eddy tracks offsets itself),
//! decodes records into rows, applies the envelope, and hands batches to
//! the coordinator, which writes each batch at one timestamp. Records that
//! fail to decode become rows of the source's error relation and, when
//! configured, messages on its dead-letter topic.
//!
//! A sink runs on its own thread too: it receives the changes of a view
//! from every engine worker, waits until all workers have passed a
//! timestamp, consolidates that timestamp's changes and produces them in
//! timestamp order, one Kafka transaction per timestamp where the broker
//! supports transactions.

pub mod admin;
pub mod resume;
pub mod sink;
pub mod source;

/// librdkafka settings common to eddy's clients.
pub fn base_config(broker: &str) -> rdkafka::ClientConfig {
    let mut c = rdkafka::ClientConfig::new();
    c.set("bootstrap.servers", broker);
    c.set("client.id", "eddy");
    c.set("log_level", "3");
    c
}

/// Sends `record`, waiting while the producer's queue is full (serving
/// delivery reports meanwhile); any other error is returned.
pub fn send_queued<'a, K, P, C>(producer: &rdkafka::producer::BaseProducer<C>, record: rdkafka::producer::BaseRecord<'a, K, P, C::DeliveryOpaque>) -> Result<(), rdkafka::error::KafkaError>
where
    K: rdkafka::message::ToBytes + ?Sized,
    P: rdkafka::message::ToBytes + ?Sized,
    C: rdkafka::producer::ProducerContext,
{
    use rdkafka::error::KafkaError;
    use rdkafka::types::RDKafkaErrorCode;
    let mut record = record;
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                producer.poll(std::time::Duration::from_millis(10));
                record = r;
            }
            Err((e, _)) => return Err(e),
        }
    }
}
