//! Topic metadata and creation.

use super::base_config;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use std::time::Duration;

/// The partition ids of `topic`, or None if the broker does not know it.
pub fn partitions(consumer: &BaseConsumer, topic: &str) -> Result<Option<Vec<i32>>, String> {
    let md = consumer.fetch_metadata(Some(topic), Duration::from_secs(10)).map_err(|e| format!("cannot read metadata of topic \"{}\": {}", topic, e))?;
    let Some(t) = md.topics().iter().find(|t| t.name() == topic) else { return Ok(None) };
    if t.error().is_some() || t.partitions().is_empty() {
        return Ok(None);
    }
    Ok(Some(t.partitions().iter().map(|p| p.id()).collect()))
}

/// The high watermark (the offset after the last record) of each partition
/// of `topic` that holds records: an empty partition, or one retention
/// emptied, has nothing to read up to.
pub fn high_watermarks(broker: &str, topic: &str) -> Result<Vec<(i32, i64)>, String> {
    let consumer: BaseConsumer = base_config(broker).create().map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for p in partitions(&consumer, topic)?.unwrap_or_default() {
        let (low, high) = consumer.fetch_watermarks(topic, p, Duration::from_secs(10)).map_err(|e| format!("cannot read the end of topic \"{}\" partition {}: {}", topic, p, e))?;
        if high > low {
            out.push((p, high));
        }
    }
    Ok(out)
}

/// Creates `topic` with `partitions` partitions unless it exists. A broker
/// without the CreateTopics API (librdkafka's mock cluster) is left to
/// create the topic on first produce.
pub fn ensure_topic(broker: &str, topic: &str, partitions: i32) -> Result<(), String> {
    match create_topic(broker, topic, partitions) {
        Err(e) if e.contains("Timed out") || e.contains("UnsupportedVersion") || e.contains("not supported") => {
            tracing::warn!("could not create topic \"{}\" ({}); it will be created on first write if the broker allows", topic, e);
            Ok(())
        }
        other => other,
    }
}

fn create_topic(broker: &str, topic: &str, partitions: i32) -> Result<(), String> {
    let consumer: BaseConsumer = base_config(broker).create().map_err(|e| e.to_string())?;
    if self::partitions(&consumer, topic)?.is_some() {
        return Ok(());
    }
    // librdkafka's mock cluster has no CreateTopics: skip the admin round
    // trip (it would only time out); the first write creates the topic.
    if consumer.client().fetch_cluster_id(Duration::from_secs(5)).is_some_and(|id| id.starts_with("mockCluster")) {
        return Ok(());
    }
    let admin: AdminClient<DefaultClientContext> = base_config(broker).create().map_err(|e| e.to_string())?;
    let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(5))).request_timeout(Some(Duration::from_secs(5)));
    let results = futures::executor::block_on(admin.create_topics([&new], &opts)).map_err(|e| format!("cannot create topic \"{}\": {}", topic, e))?;
    for r in results {
        if let Err((t, code)) = r {
            if code != rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists {
                return Err(format!("cannot create topic \"{}\": {}", t, code));
            }
        }
    }
    Ok(())
}
