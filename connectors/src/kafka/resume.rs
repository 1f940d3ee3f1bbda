//! A restarted keyed sink picks up where its topic stands.
//!
//! A sink's first write is its view's whole contents. When the topic already
//! holds what an earlier run of the same sink wrote (the server restarted),
//! writing the contents again would repeat every message. So before its
//! first write, a restored sink with a KEY (ENVELOPE UPSERT or DEBEZIUM)
//! reads its topic back (read_committed when it
//! writes transactionally) and folds it by key into the value each key has
//! now. Its first write then holds only the difference: a message for each
//! key whose row is new or changed, and a deletion for each key the view no
//! longer has (UPSERT: a tombstone; DEBEZIUM: `"after": null`, with the
//! topic's row as `"before"`). Rows compare as JSON values, not as text. A consumer that folds the topic by key sees the view's
//! contents either way; one that acts on each message (an inventory release)
//! sees each change once.
//!
//! Only a restored sink does this: a sink a user creates writes its view
//! whole, as the topic may hold keys other producers wrote, which this
//! would delete.
//!
//! What it does not do: sinks without a key write their first contents
//! whole (their messages are not values per key), and so does a sink whose
//! topic cannot be read back in [`READ_TIMEOUT`], with a warning.

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

/// How a sink's messages carry a key's row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rows {
    /// The message is the row (a tombstone: none).
    Upsert,
    /// The message is `{"before": row, "after": row}` (`"after": null`: none).
    Debezium,
}

impl Rows {
    /// The text of the row a message gives its key, if any.
    fn row_text(self, message: Option<&str>) -> Option<String> {
        let message = message?;
        match self {
            Rows::Upsert => Some(message.to_string()),
            Rows::Debezium => {
                let change: HashMap<String, &serde_json::value::RawValue> = serde_json::from_str(message).ok()?;
                change.get("after").map(|a| a.get().to_string()).filter(|a| a != "null")
            }
        }
    }

    /// The message that takes a key from the row `held` (in the topic) to
    /// the row `now` (in the view).
    fn message(self, held: Option<&str>, now: Option<String>) -> Option<String> {
        match self {
            Rows::Upsert => now,
            Rows::Debezium => Some(crate::formats::encode_json_change(held.map(str::to_string), now)),
        }
    }
}

/// Whether two rows' JSON texts hold the same value.
fn same_row(a: &Option<String>, b: &Option<String>) -> bool {
    let parse = |t: &Option<String>| t.as_deref().map(|t| serde_json::from_str::<serde_json::Value>(t).ok());
    a == b || parse(a) == parse(b)
}

/// The messages that take the topic from `topic` to the view's contents,
/// given the messages that write the contents whole (for each key, the
/// last message counts).
pub fn reconcile(rows: Rows, messages: Vec<(Option<String>, Option<String>)>, topic: TopicState) -> Vec<(Option<String>, Option<String>)> {
    let mut held: HashMap<String, Option<String>> = topic.into_iter().map(|(k, m)| (k, rows.row_text(m.as_deref()))).collect();
    let mut last: Vec<(String, Option<String>)> = Vec::new();
    let mut at: HashMap<String, usize> = HashMap::new();
    for (key, message) in messages {
        let Some(k) = key else { continue };
        let row = rows.row_text(message.as_deref());
        match at.get(&k) {
            Some(&i) => last[i].1 = row,
            None => {
                at.insert(k.clone(), last.len());
                last.push((k, row));
            }
        }
    }
    let mut out = Vec::new();
    for (key, now) in last {
        let before = held.remove(&key).flatten();
        if !same_row(&before, &now) {
            out.push((Some(key), rows.message(before.as_deref(), now)));
        }
    }
    // Keys the topic holds a row for that the view does not have.
    let mut gone: Vec<(String, String)> = held.into_iter().filter_map(|(k, r)| Some((k, r?))).collect();
    gone.sort();
    out.extend(gone.into_iter().map(|(k, before)| (Some(k), rows.message(Some(&before), None))));
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
        let out = reconcile(Rows::Upsert, contents, topic);
        assert_eq!(out, vec![m("b", Some("20")), m("c", Some("3")), m("e", Some("6")), m("d", None)]);
    }

    #[test]
    fn an_empty_topic_gets_the_contents_whole() {
        let contents = vec![m("a", Some("1")), m("b", Some("2"))];
        assert_eq!(reconcile(Rows::Upsert, contents.clone(), TopicState::new()), contents);
    }

    #[test]
    fn debezium_rows_compare_by_value_and_carry_the_topic_row_before() {
        let topic: TopicState = [
            ("a", Some(r#"{"before":null,"after":{"n":1.50}}"#)),
            ("b", Some(r#"{"before":{"n":1},"after":{"n":2}}"#)),
            ("c", Some(r#"{"before":{"n":3},"after":null}"#)),
            ("d", Some(r#"{"before":null,"after":{"n":4}}"#)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
        .collect();
        let contents = vec![m("a", Some(r#"{"before":null,"after":{"n":1.5}}"#)), m("b", Some(r#"{"before":null,"after":{"n":20}}"#)), m("c", Some(r#"{"before":null,"after":{"n":3}}"#))];
        let out = reconcile(Rows::Debezium, contents, topic);
        assert_eq!(
            out,
            vec![m("b", Some(r#"{"before":{"n":2},"after":{"n":20}}"#)), m("c", Some(r#"{"before":null,"after":{"n":3}}"#)), m("d", Some(r#"{"before":{"n":4},"after":null}"#))]
        );
    }
}
