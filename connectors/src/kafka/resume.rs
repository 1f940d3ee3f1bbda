//! A restarted keyed UPSERT sink picks up where its topic stands.
//!
//! A sink's first write is its view's whole contents. When the topic already
//! holds what an earlier run of the same sink wrote (the server restarted),
//! writing the contents again would repeat every message. So before its
//! first write, a restored sink with ENVELOPE UPSERT and a KEY reads its
//! topic back (read_committed when it
//! writes transactionally) and folds it by key into the value each key has
//! now. Its first write then holds only the difference: a message for each
//! key whose value is new or changed, and a tombstone for each key the view
//! no longer has. A consumer that folds the topic by key sees the view's
//! contents either way; one that acts on each message (an inventory release)
//! sees each change once.
//!
//! Only a restored sink does this: a sink a user creates writes its view
//! whole, as the topic may hold keys other producers wrote, which this
//! would delete.
//!
//! What it does not do: DEBEZIUM and sinks without a key write their first
//! contents whole (their messages are changes, not values per key), and a
//! topic that cannot be read back in [`READ_TIMEOUT`] is written whole too,
//! with a warning.

use super::base_config;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// The longest reading a topic back may take.
pub const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Per key, the value the topic holds for it now (`None`: a tombstone).
pub type TopicState = HashMap<String, Option<String>>;

/// Reads `topic` from the beginning to its end and folds it by key.
pub fn read_topic(broker: &str, topic: &str, read_committed: bool) -> Result<TopicState, String> {
    let consumer: BaseConsumer = base_config(broker)
        .set("group.id", format!("eddy-resume-{}-{}", topic, std::process::id()))
        .set("enable.auto.commit", "false")
        .set("isolation.level", if read_committed { "read_committed" } else { "read_uncommitted" })
        .create()
        .map_err(|e| e.to_string())?;
    let md = consumer.fetch_metadata(Some(topic), Duration::from_secs(10)).map_err(|e| e.to_string())?;
    let partitions: Vec<i32> = md.topics().first().map(|t| t.partitions().iter().map(|p| p.id()).collect()).unwrap_or_default();
    // Where each partition ends now (read_committed: the end of what is
    // committed); what is written after does not exist yet for this sink.
    let mut ends = HashMap::new();
    let mut tpl = TopicPartitionList::new();
    for &p in &partitions {
        let (low, high) = consumer.fetch_watermarks(topic, p, Duration::from_secs(10)).map_err(|e| e.to_string())?;
        if high > low {
            ends.insert(p, high);
            tpl.add_partition_offset(topic, p, Offset::Beginning).map_err(|e| e.to_string())?;
        }
    }
    let mut state = TopicState::new();
    if ends.is_empty() {
        return Ok(state);
    }
    consumer.assign(&tpl).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + READ_TIMEOUT;
    let mut done: HashSet<i32> = HashSet::new();
    while done.len() < ends.len() {
        if Instant::now() > deadline {
            return Err(format!("reading topic \"{}\" back took longer than {:?}", topic, READ_TIMEOUT));
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                if let Some(key) = m.key() {
                    state.insert(String::from_utf8_lossy(key).into_owned(), m.payload().map(|v| String::from_utf8_lossy(v).into_owned()));
                }
                if m.offset() + 1 >= ends[&m.partition()] {
                    done.insert(m.partition());
                }
            }
            Some(Err(e)) => return Err(e.to_string()),
            None => {
                // Aborted messages and transaction markers take offsets no
                // message is read at: a partition whose position reached its
                // end is read.
                let position = consumer.position().map_err(|e| e.to_string())?;
                for e in position.elements() {
                    if let Offset::Offset(o) = e.offset() {
                        if o >= ends[&e.partition()] {
                            done.insert(e.partition());
                        }
                    }
                }
            }
        }
    }
    Ok(state)
}

/// The messages that take the topic from `topic` to the view's contents,
/// given the messages that write the contents whole (for each key, the
/// last message counts).
pub fn reconcile(messages: Vec<(Option<String>, Option<String>)>, mut topic: TopicState) -> Vec<(Option<String>, Option<String>)> {
    let mut last: Vec<(Option<String>, Option<String>)> = Vec::new();
    let mut at: HashMap<String, usize> = HashMap::new();
    for (key, value) in messages {
        let Some(k) = key else { continue };
        match at.get(&k) {
            Some(&i) => last[i].1 = value,
            None => {
                at.insert(k.clone(), last.len());
                last.push((Some(k), value));
            }
        }
    }
    let mut out: Vec<(Option<String>, Option<String>)> = Vec::new();
    for (key, value) in last {
        let k = key.as_deref().unwrap_or_default();
        let held = topic.remove(k).flatten();
        if held != value && !(held.is_none() && value.is_none()) {
            out.push((key, value));
        }
    }
    // Keys the topic holds a value for that the view does not have.
    let mut gone: Vec<String> = topic.into_iter().filter(|(_, v)| v.is_some()).map(|(k, _)| k).collect();
    gone.sort();
    out.extend(gone.into_iter().map(|k| (Some(k), None)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(k: &str, v: Option<&str>) -> (Option<String>, Option<String>) {
        (Some(k.to_string()), v.map(str::to_string))
    }

    #[test]
    fn only_the_difference_is_written() {
        let topic: TopicState = [("a", Some("1")), ("b", Some("2")), ("c", None), ("d", Some("4"))].into_iter().map(|(k, v)| (k.to_string(), v.map(str::to_string))).collect();
        let contents = vec![m("a", Some("1")), m("b", Some("20")), m("c", Some("3")), m("e", Some("5")), m("e", Some("6"))];
        let out = reconcile(contents, topic);
        assert_eq!(out, vec![m("b", Some("20")), m("c", Some("3")), m("e", Some("6")), m("d", None)]);
    }

    #[test]
    fn an_empty_topic_gets_the_contents_whole() {
        let contents = vec![m("a", Some("1")), m("b", Some("2"))];
        assert_eq!(reconcile(contents.clone(), TopicState::new()), contents);
    }
}
