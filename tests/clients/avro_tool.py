"""An independent Avro producer for eddy's tests: fastavro writes the
records, confluent-kafka produces them (neither is eddy's code). Each
command creates a one-partition topic, produces to it, and prints JSON: the
rows eddy should show, in PostgreSQL's text form ("rows", null for NULL),
and the offsets of the malformed records it slipped in ("malformed").

  avro_tool.py inline BROKER TOPIC         -> also "schema", the writer
      schema for FORMAT AVRO USING SCHEMA
  avro_tool.py registry BROKER TOPIC URL   -> two schema versions registered
      under TOPIC-value, records in Confluent's wire format (magic byte 0,
      4-byte big-endian schema id, Avro body)
  avro_tool.py upsert BROKER TOPIC URL     -> keyed records, updates and a
      tombstone; rows are the final value per key
  avro_tool.py debezium BROKER TOPIC URL   -> Debezium change records
      (before/after); rows are the final table
"""
import datetime
import decimal
import io
import json
import struct
import sys
import urllib.request

try:
    import fastavro
except ImportError:
    sys.exit("avro_tool.py needs fastavro: pip install fastavro (scripts/test does)")
from confluent_kafka import Producer

from kafka_tool import create_topic


def produce(broker, topic, records):
    """Produces (key, value) pairs in order; returns their offsets."""
    create_topic(broker, topic, 1)
    p = Producer({"bootstrap.servers": broker, "linger.ms": 5})
    offsets = [None] * len(records)

    def report(i):
        def on_delivery(err, msg):
            assert err is None, err
            offsets[i] = msg.offset()
        return on_delivery

    for i, (key, value) in enumerate(records):
        p.produce(topic, key=key, value=value, on_delivery=report(i))
    assert p.flush(30) == 0, "not every record was delivered"
    return offsets


def avro(schema, record):
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), record)
    return out.getvalue()


def register(url, subject, schema):
    body = json.dumps({"schema": json.dumps(schema)}).encode()
    req = urllib.request.Request(f"{url}/subjects/{subject}/versions", data=body, headers={"Content-Type": "application/vnd.schemaregistry.v1+json"})
    return json.load(urllib.request.urlopen(req, timeout=10))["id"]


def wire(schema_id, body):
    return struct.pack(">bI", 0, schema_id) + body


# PostgreSQL's text forms of what was written.
def pg_float(f):
    r = repr(f)
    return r[:-2] if r.endswith(".0") else r


def pg_ts(dt):
    s = dt.strftime("%Y-%m-%d %H:%M:%S")
    if dt.microsecond:
        s += (".%06d" % dt.microsecond).rstrip("0")
    return s + "+00"


def pg_jsonb(v):
    if isinstance(v, dict):
        keys = sorted(v, key=lambda k: (len(k.encode()), k.encode()))
        return "{" + ", ".join(f"{json.dumps(k)}: {pg_jsonb(v[k])}" for k in keys) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(pg_jsonb(x) for x in v) + "]"
    return json.dumps(v)


ORDER = {"type": "record", "name": "Order", "namespace": "shop", "fields": [
    {"name": "id", "type": "long"},
    {"name": "customerName", "type": "string"},
    {"name": "note", "type": ["null", "string"], "default": None},
    {"name": "amount", "type": "double"},
    {"name": "qty", "type": "int"},
    {"name": "paid", "type": "boolean"},
    {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["NEW", "PAID", "SHIPPED"]}},
    {"name": "address", "type": {"type": "record", "name": "Address", "fields": [
        {"name": "city", "type": "string"}, {"name": "zip", "type": "int"}, {"name": "floor", "type": ["null", "int"]}]}},
    {"name": "tags", "type": {"type": "array", "items": "string"}},
    {"name": "placedAt", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "day", "type": {"type": "int", "logicalType": "date"}},
    {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}},
]}


def inline(broker, topic):
    records, rows, bad = [], [], set()
    base = datetime.datetime(2024, 3, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
    for i in range(1, 41):
        placed = base + datetime.timedelta(milliseconds=1001 * i)
        day = datetime.date(2024, 1, 1) + datetime.timedelta(days=i)
        price = decimal.Decimal(f"{i * 3}.{i % 100:02d}")
        address = {"city": ["Oslo", "Lima", "Kyiv"][i % 3], "zip": 1000 + i, "floor": None if i % 2 else i}
        tags = [f"t{j}" for j in range(i % 3)]
        note = None if i % 4 == 0 else f"note {i}"
        rec = {"id": i, "customerName": f"c{i % 7}", "note": note, "amount": i * 0.5, "qty": -i, "paid": i % 2 == 0,
               "status": ["NEW", "PAID", "SHIPPED"][i % 3], "address": address, "tags": tags, "placedAt": placed, "day": day, "price": price}
        body = avro(ORDER, rec)
        rows.append([str(i), f"c{i % 7}", note, pg_float(i * 0.5), str(-i), "t" if i % 2 == 0 else "f", rec["status"],
                     pg_jsonb({"city": address["city"], "zip": address["zip"], "floor": address["floor"]}), pg_jsonb(tags), pg_ts(placed), day.isoformat(), str(price)])
        records.append((str(i).encode(), body))
        if i % 10 == 3:
            bad.add(len(records))
            records.append((b"truncated", body[: len(body) // 2]))
        if i % 10 == 7:
            bad.add(len(records))
            records.append((b"trailing", body + b"\x00\x01"))
    offsets = produce(broker, topic, records)
    print(json.dumps({"schema": json.dumps(ORDER), "rows": rows, "malformed": [offsets[i] for i in sorted(bad)]}))


PAYMENT_V1 = {"type": "record", "name": "Payment", "namespace": "shop", "fields": [
    {"name": "id", "type": "long"},
    {"name": "orderId", "type": "string"},
    {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}},
    {"name": "at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
]}
PAYMENT_V2 = dict(PAYMENT_V1, fields=PAYMENT_V1["fields"] + [
    {"name": "method", "type": ["null", {"type": "enum", "name": "Method", "symbols": ["CARD", "CASH"]}], "default": None}])


def registry(broker, topic, url):
    subject = f"{topic}-value"
    v1, v2 = register(url, subject, PAYMENT_V1), register(url, subject, PAYMENT_V2)
    assert v1 != v2
    base = datetime.datetime(2024, 5, 1, 8, 30, 0, tzinfo=datetime.timezone.utc)
    records, rows, bad = [], [], []
    for i in range(1, 21):
        at = base + datetime.timedelta(microseconds=123 * i, seconds=i)
        amount = decimal.Decimal(f"{i}.{i * 7 % 100:02d}")
        rec = {"id": i, "orderId": f"o-{i}", "amount": amount, "at": at}
        if i > 10:
            rec["method"] = "CARD" if i % 2 else None
            body = wire(v2, avro(PAYMENT_V2, rec))
        else:
            body = wire(v1, avro(PAYMENT_V1, rec))
        rows.append([str(i), f"o-{i}", str(amount), pg_ts(at), rec.get("method")])
        records.append((f"p{i}".encode(), body))
        if i == 4:
            bad.append(len(records))
            records.append((b"truncated", body[:-3]))
        if i == 8:
            bad.append(len(records))
            records.append((b"json", json.dumps({"id": 99}).encode()))
        if i == 15:
            bad.append(len(records))
            records.append((b"unknown-id", wire(999, avro(PAYMENT_V1, {"id": 99, "orderId": "x", "amount": amount, "at": at}))))
    offsets = produce(broker, topic, records)
    print(json.dumps({"rows": rows, "malformed": [offsets[i] for i in bad]}))


STOCK = {"type": "record", "name": "Stock", "fields": [{"name": "sku", "type": "string"}, {"name": "qty", "type": "int"}]}


def upsert(broker, topic, url):
    sid = register(url, f"{topic}-value", STOCK)
    v = lambda sku, qty: wire(sid, avro(STOCK, {"sku": sku, "qty": qty}))
    produce(broker, topic, [(b"k1", v("a", 1)), (b"k2", v("b", 2)), (b"k1", v("a", 5)), (b"k3", v("c", 3)), (b"k2", None)])
    print(json.dumps({"rows": [["a", "5"], ["c", "3"]], "malformed": []}))


CHANGE = {"type": "record", "name": "Envelope", "namespace": "cdc.people", "fields": [
    {"name": "before", "type": ["null", {"type": "record", "name": "Value", "fields": [{"name": "id", "type": "int"}, {"name": "name", "type": "string"}]}], "default": None},
    {"name": "after", "type": ["null", "Value"], "default": None},
    {"name": "op", "type": "string"},
    {"name": "ts_ms", "type": ["null", "long"], "default": None},
]}


def debezium(broker, topic, url):
    sid = register(url, f"{topic}-value", CHANGE)
    change = lambda before, after, op: (b"k", wire(sid, avro(CHANGE, {"before": before, "after": after, "op": op, "ts_ms": 1})))
    ada, bob = {"id": 1, "name": "ada"}, {"id": 2, "name": "bob"}
    produce(broker, topic, [change(None, ada, "c"), change(None, bob, "c"), change(ada, {"id": 1, "name": "ada lovelace"}, "u"), change(bob, None, "d")])
    print(json.dumps({"rows": [["1", "ada lovelace"]], "malformed": []}))


cmd = sys.argv[1]
if cmd == "inline":
    inline(sys.argv[2], sys.argv[3])
else:
    {"registry": registry, "upsert": upsert, "debezium": debezium}[cmd](sys.argv[2], sys.argv[3], sys.argv[4])
