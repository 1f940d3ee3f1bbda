"""An independent Kafka client for eddy's tests (confluent-kafka, not
eddy's code).

  kafka_tool.py produce BROKER TOPIC N PARTITIONS  -> prints the expected
      per-customer (count, sum) of the well-formed events as JSON, and the
      number of malformed records, on stdout
  kafka_tool.py fold BROKER TOPIC KEYFIELD SECONDS -> reads the topic from
      the beginning until it is quiet for SECONDS, folds upsert records by
      key, prints {key: value-or-null} as JSON
  kafka_tool.py count BROKER TOPIC SECONDS -> prints how many records the
      topic holds (read until quiet) and the offsets header values seen
"""
import json
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def create_topic(broker, topic, partitions):
    admin = AdminClient({"bootstrap.servers": broker})  # kept alive until the futures resolve
    fs = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    for f in fs.values():
        try:
            f.result(10)
        except Exception as e:  # already exists is fine
            if "exist" not in str(e).lower():
                raise


def produce(broker, topic, n, partitions):
    create_topic(broker, topic, partitions)
    p = Producer({"bootstrap.servers": broker, "linger.ms": 5, "queue.buffering.max.messages": 1000000})
    expected = {}
    malformed = 0
    for i in range(n):
        customer = f"c{i % 37}"
        if i % 100 == 7:
            malformed += 1
            value = [b'{"order_id": "o-broken", "amount":', json.dumps({"order_id": f"o{i}", "customer": customer, "amount": "lots"}).encode(), b"\x01\x02binary"][i % 3]
        else:
            c, s = expected.get(customer, (0, 0))
            expected[customer] = (c + 1, s + i % 50)
            value = json.dumps({"order_id": f"o{i}", "customer": customer, "amount": i % 50}).encode()
        while True:
            try:
                p.produce(topic, key=f"o{i}".encode(), value=value, partition=i % partitions)
                break
            except BufferError:
                p.poll(0.05)
        if i % 10000 == 0:
            p.poll(0)
    left = p.flush(60)
    assert left == 0, f"{left} messages not delivered"
    print(json.dumps({"expected": expected, "malformed": malformed}))


def consume_all(broker, topic, quiet):
    c = Consumer({"bootstrap.servers": broker, "group.id": f"check-{time.time()}", "enable.auto.commit": False, "isolation.level": "read_committed"})
    md = c.list_topics(topic, timeout=10)
    c.assign([TopicPartition(topic, p, 0) for p in md.topics[topic].partitions])
    last = time.time()
    while time.time() - last < quiet:
        m = c.poll(0.2)
        if m is None or m.error():
            continue
        last = time.time()
        yield m
    c.close()


def main():
    cmd = sys.argv[1]
    if cmd == "produce":
        produce(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    elif cmd == "fold":
        broker, topic, keyfield, quiet = sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
        folded = {}
        for m in consume_all(broker, topic, quiet):
            key = json.loads(m.key())[keyfield]
            folded[key] = json.loads(m.value()) if m.value() is not None else None
        print(json.dumps(folded))
    elif cmd == "count":
        broker, topic, quiet = sys.argv[2], sys.argv[3], float(sys.argv[4])
        offsets = []
        for m in consume_all(broker, topic, quiet):
            headers = dict(m.headers() or [])
            offsets.append(int(headers[b"eddy.source.offset"] if b"eddy.source.offset" in headers else headers["eddy.source.offset"]))
        print(json.dumps({"count": len(offsets), "offsets": offsets}))
    elif cmd == "keys":
        # Records per key (as text) and the total, tombstones included.
        broker, topic, quiet = sys.argv[2], sys.argv[3], float(sys.argv[4])
        keys = {}
        total = 0
        for m in consume_all(broker, topic, quiet):
            k = m.key().decode("utf-8", "replace") if m.key() is not None else ""
            keys[k] = keys.get(k, 0) + 1
            total += 1
        print(json.dumps({"total": total, "keys": keys}))


if __name__ == "__main__":
    main()
