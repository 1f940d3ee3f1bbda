//! Avro records: a hand-written reader of Avro's binary encoding
//! (<https://avro.apache.org/docs/1.11.1/specification/>), over a writer
//! schema parsed from its JSON form.
//!
//! The top-level record's fields map to columns by name (exactly, else
//! case-insensitively; a column with no field is NULL), like JSON's. Each
//! field decodes to its natural value ([`Schema::columns`] lists the
//! types), then converts to the column's type as a SQL cast does.
//!
//! Input is untrusted: every length, count and index is checked against
//! what remains, nesting is bounded, and anything that does not fit the
//! schema is an error message, never a panic.

mod parse;

use super::json::datum_to_json;
use super::registry::{Registry, RegistryError};
use super::Change;
use eddy_engine::expr::UnaryFunc;
use eddy_engine::repr::{format_jsonb, ColumnType, RelationDesc};
use eddy_engine::{Datum, Row, ScalarType};
use rust_decimal::Decimal;
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

/// Deepest nesting of records, arrays, maps and unions a value may have.
const MAX_DEPTH: usize = 64;
/// Array and map items a record may hold beyond one per input byte (items
/// that take no bytes, such as nulls, are otherwise unbounded).
const ZERO_WIDTH_ITEMS: usize = 1 << 16;

/// A parsed writer schema: nodes refer to each other by index, so named
/// types may be recursive.
#[derive(Debug)]
pub struct Schema {
    nodes: Vec<Node>,
    root: usize,
}

#[derive(Debug, Clone)]
enum Node {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
    Record { fields: Vec<(String, usize)> },
    Enum { symbols: Vec<String> },
    Array(usize),
    Map(usize),
    Union(Vec<usize>),
    Fixed(usize),
    /// `date`: days since the epoch, as an int.
    Date,
    /// `timestamp-*` (UTC) and `local-timestamp-*` (no zone): a long count
    /// of `unit`s per second since the epoch.
    Timestamp { per_second: i64, local: bool },
    /// `decimal`: an unscaled two's-complement integer in bytes, or in a
    /// fixed of `fixed` bytes.
    Decimal { precision: u32, scale: u32, fixed: Option<usize> },
    /// A placeholder while a named type's definition is being read.
    Pending,
}

impl Schema {
    /// Parses a schema from its JSON form.
    pub fn parse(json: &str) -> Result<Schema, String> {
        let v: Value = serde_json::from_str(json).map_err(|e| format!("the Avro schema is not valid JSON: {}", e))?;
        let (nodes, root) = parse::nodes(&v)?;
        Ok(Schema { nodes, root })
    }

    /// The columns the top-level record's fields become: names folded to
    /// lower case, types from [`Schema::natural_type`]. With `debezium`,
    /// the fields of the record in `after`.
    pub fn columns(&self, debezium: bool) -> Result<Vec<(String, ColumnType)>, String> {
        let root = if debezium { self.debezium_fields()?.1 } else { self.root };
        let Node::Record { fields, .. } = &self.nodes[root] else {
            return Ok(vec![("value".into(), ColumnType { scalar: self.natural_type(root), nullable: true })]);
        };
        let mut cols: Vec<(String, ColumnType)> = Vec::new();
        for (name, node) in fields {
            let col = name.to_lowercase();
            if cols.iter().any(|(c, _)| *c == col) {
                return Err(format!("the Avro record has two fields named \"{}\" apart from case", col));
            }
            cols.push((col, ColumnType { scalar: self.natural_type(*node), nullable: true }));
        }
        Ok(cols)
    }

    /// The field names of the record that rows come from, or None when
    /// the value is not a record.
    pub fn field_names(&self, debezium: bool) -> Option<Vec<String>> {
        let root = if debezium { self.debezium_fields().map(|f| f.1).unwrap_or(self.root) } else { self.root };
        match &self.nodes[root] {
            Node::Record { fields, .. } => Some(fields.iter().map(|(n, _)| n.clone()).collect()),
            _ => None,
        }
    }

    /// The SQL type a value of `node` decodes to.
    fn natural_type(&self, node: usize) -> ScalarType {
        match &self.nodes[node] {
            Node::Null | Node::Bytes | Node::String | Node::Enum { .. } | Node::Fixed(_) | Node::Pending => ScalarType::Text,
            Node::Boolean => ScalarType::Bool,
            Node::Int => ScalarType::Int32,
            Node::Long => ScalarType::Int64,
            Node::Float => ScalarType::Float32,
            Node::Double => ScalarType::Float64,
            Node::Record { .. } | Node::Array(_) | Node::Map(_) => ScalarType::Jsonb,
            Node::Date => ScalarType::Date,
            Node::Timestamp { local, .. } => if *local { ScalarType::Timestamp } else { ScalarType::TimestampTz },
            Node::Decimal { precision, scale, .. } => ScalarType::Numeric { precision: u8::try_from(*precision).ok(), scale: u8::try_from(*scale).ok() },
            Node::Union(branches) => {
                // ["null", T] is T; branches of one type are that type;
                // anything else is jsonb holding the branch's value.
                let mut types = branches.iter().filter(|b| !matches!(self.nodes[**b], Node::Null)).map(|b| self.natural_type(*b));
                let first = types.next().unwrap_or(ScalarType::Text);
                if types.all(|t| t == first) { first } else { ScalarType::Jsonb }
            }
        }
    }

    /// ENVELOPE DEBEZIUM: the field indices of `before` and `after` in the
    /// top-level record, and the record type of `after`'s non-null branch.
    fn debezium_fields(&self) -> Result<(Option<usize>, usize, Option<usize>), String> {
        let Node::Record { fields, .. } = &self.nodes[self.root] else { return Err("a Debezium record's schema must be a record with \"before\" and \"after\" fields".into()) };
        let index = |name: &str| fields.iter().position(|(n, _)| n == name);
        let (before, after) = (index("before"), index("after"));
        let of = after.or(before).ok_or("a Debezium record's schema needs an \"after\" or \"before\" field")?;
        let mut node = fields[of].1;
        if let Node::Union(branches) = &self.nodes[node] {
            node = *branches.iter().find(|b| !matches!(self.nodes[**b], Node::Null)).ok_or("the Debezium \"after\" field is always null")?;
        }
        Ok((before, node, after))
    }

    /// Where each field of record `node` goes among `desc`'s columns.
    fn targets(&self, node: usize, desc: &RelationDesc) -> Vec<Option<usize>> {
        let Node::Record { fields, .. } = &self.nodes[node] else { return vec![] };
        let mut targets = vec![None; fields.len()];
        for (col, name) in desc.names.iter().enumerate() {
            let found = fields.iter().position(|(f, _)| f == name).or_else(|| fields.iter().position(|(f, _)| f.eq_ignore_ascii_case(name)));
            if let Some(f) = found {
                if targets[f].is_none() {
                    targets[f] = Some(col);
                }
            }
        }
        targets
    }

    /// Decodes one value of `node`: scalars as their natural datum,
    /// records, arrays and maps as jsonb.
    fn datum(&self, node: usize, c: &mut Cursor, depth: usize) -> Result<Datum, String> {
        Ok(match &self.nodes[node] {
            Node::Null | Node::Pending => Datum::Null,
            Node::Boolean => match c.byte()? {
                0 => Datum::Bool(false),
                1 => Datum::Bool(true),
                b => return Err(c.at(format!("a boolean byte is {}, not 0 or 1", b))),
            },
            Node::Int => Datum::Int(c.int()? as i64),
            Node::Long => Datum::Int(c.long()?),
            Node::Float => Datum::float(f32::from_le_bytes(c.array()?) as f64),
            Node::Double => Datum::float(f64::from_le_bytes(c.array()?)),
            Node::Bytes => Datum::Text(hex(c.bytes()?).into()),
            Node::Fixed(n) => Datum::Text(hex(c.take(*n, "fixed")?).into()),
            Node::String => Datum::Text(c.string()?.into()),
            Node::Enum { symbols } => {
                let i = c.long()?;
                Datum::Text(usize::try_from(i).ok().and_then(|i| symbols.get(i)).ok_or_else(|| c.at(format!("enum index {} is not below {}", i, symbols.len())))?.clone().into())
            }
            Node::Union(branches) => {
                let b = c.branch(branches)?;
                self.datum(b, c, deeper(depth)?)?
            }
            Node::Record { .. } | Node::Array(_) | Node::Map(_) => Datum::Jsonb(format_jsonb(&self.json(node, c, depth)?).into()),
            Node::Date => Datum::Date(c.int()?),
            Node::Timestamp { per_second, local } => {
                let v = c.long()?;
                let us = if *per_second >= 1_000_000 { Some(v.div_euclid(per_second / 1_000_000)) } else { v.checked_mul(1_000_000 / per_second) };
                let us = us.ok_or_else(|| c.at(format!("timestamp {} is out of range", v)))?;
                if *local { Datum::Timestamp(us) } else { Datum::TimestampTz(us) }
            }
            Node::Decimal { scale, fixed, .. } => {
                let raw = match fixed {
                    Some(n) => c.take(*n, "fixed")?,
                    None => c.bytes()?,
                };
                Datum::Numeric(decimal(raw, *scale).map_err(|e| c.at(e))?)
            }
        })
    }

    /// Decodes one value of `node` as JSON (inside jsonb): records and maps
    /// are objects, arrays arrays, a union its branch's value.
    fn json(&self, node: usize, c: &mut Cursor, depth: usize) -> Result<Value, String> {
        let depth = deeper(depth)?;
        Ok(match &self.nodes[node] {
            Node::Record { fields, .. } => {
                let mut m = serde_json::Map::new();
                for (name, f) in fields {
                    m.insert(name.clone(), self.json(*f, c, depth)?);
                }
                Value::Object(m)
            }
            Node::Array(items) => {
                let mut out = Vec::new();
                c.blocks(|c| {
                    out.push(self.json(*items, c, depth)?);
                    Ok(())
                })?;
                Value::Array(out)
            }
            Node::Map(values) => {
                let mut m = serde_json::Map::new();
                c.blocks(|c| {
                    let k = c.string()?;
                    m.insert(k, self.json(*values, c, depth)?);
                    Ok(())
                })?;
                Value::Object(m)
            }
            Node::Union(branches) => {
                let b = c.branch(branches)?;
                self.json(b, c, depth)?
            }
            // A float's shortest decimal form, not its widened f64 digits.
            Node::Float => serde_json::Number::from_f64(f32::from_le_bytes(c.array()?).to_string().parse().unwrap_or(f64::NAN)).map(Value::Number).unwrap_or(Value::Null),
            _ => datum_to_json(&self.datum(node, c, depth)?, self.natural_type(node)),
        })
    }

    /// Decodes record `node` into a row of `desc`: field `i` into column
    /// `targets[i]`.
    fn row(&self, node: usize, targets: &[Option<usize>], desc: &RelationDesc, c: &mut Cursor) -> Result<Row, String> {
        let Node::Record { fields, .. } = &self.nodes[node] else {
            // A non-record schema fills the single column.
            let ty = desc.types.first().ok_or("the relation has no column for the Avro value")?.scalar;
            let d = self.datum(node, c, 0)?;
            return Ok(vec![convert(d, self.natural_type(node), ty)?]);
        };
        let mut row = vec![Datum::Null; desc.arity()];
        for ((name, f), target) in fields.iter().zip(targets) {
            let d = self.datum(*f, c, 1)?;
            if let Some(col) = target {
                row[*col] = convert(d, self.natural_type(*f), desc.types[*col].scalar).map_err(|e| format!("field \"{}\": {}", name, e))?;
            }
        }
        Ok(row)
    }
}

/// A datum of `natural` type as a value of column type `ty`.
fn convert(d: Datum, natural: ScalarType, ty: ScalarType) -> Result<Datum, String> {
    match (d, ty) {
        (Datum::Null, _) => Ok(Datum::Null),
        (d @ Datum::Jsonb(_), ScalarType::Jsonb) => Ok(d),
        (d, ScalarType::Jsonb) => Ok(Datum::Jsonb(format_jsonb(&datum_to_json(&d, natural)).into())),
        // A long without a logical type in a timestamp column: epoch
        // milliseconds, as for JSON numbers.
        (Datum::Int(ms), ScalarType::Timestamp | ScalarType::TimestampTz) => {
            let us = ms.checked_mul(1000).ok_or_else(|| format!("{} is out of range as epoch milliseconds", ms))?;
            Ok(if ty == ScalarType::Timestamp { Datum::Timestamp(us) } else { Datum::TimestampTz(us) })
        }
        (d, ty) => UnaryFunc::Cast(ty).eval(d).map_err(|e| e.message),
    }
}

fn deeper(depth: usize) -> Result<usize, String> {
    if depth >= MAX_DEPTH {
        return Err(format!("the Avro value nests deeper than {} levels", MAX_DEPTH));
    }
    Ok(depth + 1)
}

/// Bytes in PostgreSQL's bytea text form: `\x` and hex digits.
pub(super) fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(2 + 2 * b.len());
    s.push_str("\\x");
    for x in b {
        s.push_str(&format!("{:02x}", x));
    }
    s
}

/// A decimal from its big-endian two's-complement unscaled value.
fn decimal(raw: &[u8], scale: u32) -> Result<Decimal, String> {
    // Drop sign-extension bytes that carry no value.
    let negative = raw.first().is_some_and(|b| b & 0x80 != 0);
    let fill = if negative { 0xff } else { 0 };
    let mut raw = raw;
    while raw.len() > 1 && raw[0] == fill && (raw[1] & 0x80 != 0) == negative {
        raw = &raw[1..];
    }
    if raw.len() > 16 {
        return Err(format!("a decimal of {} bytes is too large (eddy's numeric holds 28 digits)", raw.len()));
    }
    let mut v: i128 = if negative { -1 } else { 0 };
    for b in raw {
        v = (v << 8) | *b as i128;
    }
    Decimal::try_from_i128_with_scale(v, scale).map_err(|e| format!("decimal {}e-{} does not fit numeric: {}", v, scale, e))
}

/// A reader over one record's bytes.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Array and map items the record may still hold.
    items: usize,
}

impl<'a> Cursor<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0, items: buf.len() + ZERO_WIDTH_ITEMS }
    }

    fn at(&self, what: impl std::fmt::Display) -> String {
        format!("{} (at byte {} of {})", what, self.pos, self.buf.len())
    }

    fn left(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        if n > self.left() {
            return Err(self.at(format!("truncated Avro record: {} needs {} bytes, {} left", what, n, self.left())));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N, if N == 4 { "a float" } else { "a double" })?);
        Ok(a)
    }

    fn byte(&mut self) -> Result<u8, String> {
        Ok(self.take(1, "a byte")?[0])
    }

    /// A zigzag-encoded variable-length long (at most 10 bytes).
    fn long(&mut self) -> Result<i64, String> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let b = self.take(1, "a number").map_err(|e| if i == 0 { e } else { self.at("truncated Avro record: a number's bytes end mid-way") })?[0];
            if i == 9 && b > 1 {
                return Err(self.at("a variable-length number is longer than 64 bits"));
            }
            v |= ((b & 0x7f) as u64) << (7 * i);
            if b & 0x80 == 0 {
                return Ok((v >> 1) as i64 ^ -((v & 1) as i64));
            }
        }
        Err(self.at("a variable-length number is longer than 10 bytes"))
    }

    fn int(&mut self) -> Result<i32, String> {
        let v = self.long()?;
        i32::try_from(v).map_err(|_| self.at(format!("{} does not fit an Avro int", v)))
    }

    /// A length prefix: non-negative and no more than what is left.
    fn len(&mut self, what: &str) -> Result<usize, String> {
        let n = self.long()?;
        if n < 0 {
            return Err(self.at(format!("{} has negative length {}", what, n)));
        }
        usize::try_from(n).ok().filter(|n| *n <= self.left()).ok_or_else(|| self.at(format!("truncated Avro record: {} of {} bytes, {} left", what, n, self.left())))
    }

    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let n = self.len("bytes")?;
        self.take(n, "bytes")
    }

    fn string(&mut self) -> Result<String, String> {
        let n = self.len("a string")?;
        let b = self.take(n, "a string")?;
        std::str::from_utf8(b).map(str::to_string).map_err(|e| self.at(format!("a string is not UTF-8: {}", e)))
    }

    /// A union's branch index, checked.
    fn branch(&mut self, branches: &[usize]) -> Result<usize, String> {
        let i = self.long()?;
        usize::try_from(i).ok().and_then(|i| branches.get(i).copied()).ok_or_else(|| self.at(format!("union branch {} does not exist (the union has {})", i, branches.len())))
    }

    /// The blocks of an array or map: calls `item` once per item.
    fn blocks(&mut self, mut item: impl FnMut(&mut Self) -> Result<(), String>) -> Result<(), String> {
        loop {
            let n = self.long()?;
            if n == 0 {
                return Ok(());
            }
            if n < 0 {
                // A negative count is followed by the block's size in bytes.
                let size = self.long()?;
                if size < 0 {
                    return Err(self.at(format!("an array or map block has negative size {}", size)));
                }
                if size as u64 > self.left() as u64 {
                    return Err(self.at(format!("truncated Avro record: an array or map block of {} bytes, {} left", size, self.left())));
                }
            }
            let count = n.unsigned_abs();
            if count > self.items as u64 {
                return Err(self.at(format!("an array or map block claims {} items, more than the record can hold", count)));
            }
            self.items -= count as usize;
            for _ in 0..count {
                item(self)?;
            }
        }
    }
}

/// Decodes records of one writer schema into rows of a relation.
#[derive(Debug)]
pub struct AvroRows {
    schema: Schema,
    shape: Shape,
}

#[derive(Debug)]
enum Shape {
    /// The record (or a lone value) at the top is the row.
    Row { targets: Vec<Option<usize>> },
    /// ENVELOPE DEBEZIUM: the top-level record's `before` and `after`
    /// fields (field index) hold the rows.
    Debezium { before: Option<usize>, after: Option<usize>, record: usize, targets: Vec<Option<usize>> },
}

impl AvroRows {
    pub fn new(schema: Schema, desc: &RelationDesc, debezium: bool) -> Result<AvroRows, String> {
        let shape = if debezium {
            let (before, record, after) = schema.debezium_fields()?;
            Shape::Debezium { before, after, record, targets: schema.targets(record, desc) }
        } else {
            if !matches!(schema.nodes[schema.root], Node::Record { .. }) && desc.arity() != 1 {
                return Err(format!("the Avro schema is a {}, not a record: declare one column for it", schema.natural_type(schema.root)));
            }
            Shape::Row { targets: schema.targets(schema.root, desc) }
        };
        Ok(AvroRows { schema, shape })
    }

    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Decodes a record (all of `bytes`) into a row.
    pub fn decode(&self, bytes: &[u8], desc: &RelationDesc) -> Result<Row, String> {
        let Shape::Row { targets } = &self.shape else { return Err("a Debezium schema decodes changes, not rows".into()) };
        let mut c = Cursor::new(bytes);
        let row = self.schema.row(self.schema.root, targets, desc, &mut c)?;
        finish(&c)?;
        Ok(row)
    }

    /// Decodes a Debezium change record (all of `bytes`).
    pub fn decode_change(&self, bytes: &[u8], desc: &RelationDesc) -> Result<Change, String> {
        let Shape::Debezium { before, after, record, targets } = &self.shape else { return Err("not a Debezium schema".into()) };
        let Node::Record { fields, .. } = &self.schema.nodes[self.schema.root] else { return Err("not a Debezium schema".into()) };
        let mut c = Cursor::new(bytes);
        let mut change = (None, None);
        for (i, (name, node)) in fields.iter().enumerate() {
            let slot = if Some(i) == *before { &mut change.0 } else if Some(i) == *after { &mut change.1 } else {
                self.schema.datum(*node, &mut c, 1)?;
                continue;
            };
            // The field is `record` or a union holding it (or null).
            let mut node = *node;
            if let Node::Union(branches) = &self.schema.nodes[node] {
                node = c.branch(branches)?;
            }
            match &self.schema.nodes[node] {
                Node::Null => {}
                _ if node == *record => *slot = Some(self.schema.row(node, targets, desc, &mut c).map_err(|e| format!("{}: {}", name, e))?),
                _ => return Err(format!("Debezium field \"{}\" holds a {}, not the row record", name, self.schema.natural_type(node))),
            }
        }
        finish(&c)?;
        Ok(change)
    }
}

fn finish(c: &Cursor) -> Result<(), String> {
    if c.left() > 0 {
        return Err(format!("{} bytes left over after the Avro record of {} bytes (was it written with another schema?)", c.left(), c.pos));
    }
    Ok(())
}

/// Where a source's writer schemas come from, and the rows they decode to.
pub struct AvroDecoder {
    debezium: bool,
    schemas: Schemas,
}

enum Schemas {
    Inline(AvroRows),
    /// Confluent's wire format: each record names its schema id. Answers
    /// are cached per id, including "no such schema"; an unreachable
    /// registry is not cached (the next record asks again).
    Registry { registry: Registry, by_id: HashMap<u32, Result<AvroRows, String>> },
}

impl AvroDecoder {
    pub fn new(source: &eddy_sql::connector::AvroSchema, desc: &RelationDesc, debezium: bool) -> Result<AvroDecoder, String> {
        use eddy_sql::connector::AvroSchema as S;
        let schemas = match source {
            S::Inline(text) => Schemas::Inline(AvroRows::new(Schema::parse(text)?, desc, debezium)?),
            S::ConfluentRegistry(url) => Schemas::Registry { registry: Registry::new(url)?, by_id: HashMap::new() },
        };
        Ok(AvroDecoder { debezium, schemas })
    }

    /// The rows for `bytes`' writer schema, and the Avro body.
    fn rows<'b>(&mut self, bytes: &'b [u8], desc: &RelationDesc) -> Result<(&AvroRows, &'b [u8]), String> {
        let debezium = self.debezium;
        let (registry, by_id) = match &mut self.schemas {
            Schemas::Inline(rows) => return Ok((rows, bytes)),
            Schemas::Registry { registry, by_id } => (registry, by_id),
        };
        let (id, body) = confluent_header(bytes)?;
        let rows = match by_id.entry(id) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let fetched = fetch(registry, id)?.and_then(|text| AvroRows::new(Schema::parse(&text)?, desc, debezium));
                e.insert(fetched.map_err(|e| format!("schema id {}: {}", id, e)))
            }
        };
        rows.as_ref().map(|rows| (rows, body)).map_err(String::clone)
    }

    pub fn decode(&mut self, bytes: &[u8], desc: &RelationDesc) -> Result<Row, String> {
        let (rows, body) = self.rows(bytes, desc)?;
        rows.decode(body, desc)
    }

    pub fn decode_change(&mut self, bytes: &[u8], desc: &RelationDesc) -> Result<Change, String> {
        let (rows, body) = self.rows(bytes, desc)?;
        rows.decode_change(body, desc)
    }
}

/// Confluent's wire format: magic byte 0, a big-endian schema id, the body.
fn confluent_header(bytes: &[u8]) -> Result<(u32, &[u8]), String> {
    match bytes {
        [0, a, b, c, d, body @ ..] => Ok((u32::from_be_bytes([*a, *b, *c, *d]), body)),
        [m, ..] if *m != 0 => Err(format!("not in the Confluent wire format: the first byte is 0x{:02x}, not 0 (was the record written with a schema-registry serializer?)", m)),
        _ => Err(format!("truncated Confluent record: {} bytes, shorter than the 5-byte header", bytes.len())),
    }
}

/// Schema `id`'s text: Ok(Err) when the registry says it has none (or
/// something unusable), Err when the registry cannot be reached after a few
/// tries.
fn fetch(registry: &Registry, id: u32) -> Result<Result<String, String>, String> {
    let mut wait = Duration::from_millis(100);
    loop {
        match registry.schema(id) {
            Ok(text) => return Ok(Ok(text)),
            Err(RegistryError::Unreachable(m)) if wait > Duration::from_secs(1) => return Err(m),
            Err(RegistryError::Unreachable(_)) => {
                std::thread::sleep(wait);
                wait *= 4;
            }
            Err(e) => return Ok(Err(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests;
