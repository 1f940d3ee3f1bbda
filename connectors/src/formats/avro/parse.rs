//! Parsing a writer schema from its JSON form into the nodes of a
//! [`Schema`](super::Schema): primitive and complex types, named types
//! (which may refer to themselves) and logical types.

use super::Node;
use serde_json::Value;
use std::collections::HashMap;

/// The nodes of the schema `v`, and the index of its root.
pub(super) fn nodes(v: &Value) -> Result<(Vec<Node>, usize), String> {
    let mut p = SchemaParser { nodes: Vec::new(), names: HashMap::new() };
    let root = p.node(v, "")?;
    Ok((p.nodes, root))
}

struct SchemaParser {
    nodes: Vec<Node>,
    /// Full names of named types.
    names: HashMap<String, usize>,
}

impl SchemaParser {
    fn push(&mut self, n: Node) -> usize {
        self.nodes.push(n);
        self.nodes.len() - 1
    }

    fn primitive(name: &str) -> Option<Node> {
        Some(match name {
            "null" => Node::Null,
            "boolean" => Node::Boolean,
            "int" => Node::Int,
            "long" => Node::Long,
            "float" => Node::Float,
            "double" => Node::Double,
            "bytes" => Node::Bytes,
            "string" => Node::String,
            _ => return None,
        })
    }

    /// A reference to a named type, from namespace `ns`.
    fn reference(&self, name: &str, ns: &str) -> Result<usize, String> {
        let full = if name.contains('.') || ns.is_empty() { name.to_string() } else { format!("{}.{}", ns, name) };
        self.names.get(&full).or_else(|| self.names.get(name)).copied().ok_or_else(|| format!("the Avro schema names type \"{}\", which is not defined before it", name))
    }

    /// Records a named type's full name and returns it with its namespace.
    fn define(&mut self, o: &serde_json::Map<String, Value>, ns: &str, node: usize) -> Result<(String, String), String> {
        let name = o.get("name").and_then(Value::as_str).ok_or("an Avro record, enum or fixed needs a \"name\"")?;
        let ns = o.get("namespace").and_then(Value::as_str).unwrap_or(ns);
        let (full, ns) = match name.rsplit_once('.') {
            Some((n, _)) => (name.to_string(), n.to_string()),
            None if ns.is_empty() => (name.to_string(), String::new()),
            None => (format!("{}.{}", ns, name), ns.to_string()),
        };
        if self.names.insert(full.clone(), node).is_some() {
            return Err(format!("the Avro schema defines \"{}\" twice", full));
        }
        Ok((full, ns))
    }

    fn node(&mut self, v: &Value, ns: &str) -> Result<usize, String> {
        match v {
            Value::String(s) => match Self::primitive(s) {
                Some(n) => Ok(self.push(n)),
                None => self.reference(s, ns),
            },
            Value::Array(branches) => {
                if branches.is_empty() {
                    return Err("an Avro union needs at least one branch".into());
                }
                let mut nodes = Vec::new();
                for b in branches {
                    let n = self.node(b, ns)?;
                    if matches!(self.nodes[n], Node::Union(_)) {
                        return Err("an Avro union may not hold a union directly".into());
                    }
                    nodes.push(n);
                }
                Ok(self.push(Node::Union(nodes)))
            }
            Value::Object(o) => self.complex(o, ns),
            other => Err(format!("invalid Avro schema: {}", other)),
        }
    }

    fn complex(&mut self, o: &serde_json::Map<String, Value>, ns: &str) -> Result<usize, String> {
        let ty = o.get("type").ok_or("an Avro schema object needs a \"type\"")?;
        let Value::String(ty) = ty else { return self.node(ty, ns) };
        let node = match ty.as_str() {
            "record" | "error" => {
                let node = self.push(Node::Pending);
                let (name, ns) = self.define(o, ns, node)?;
                let list = o.get("fields").and_then(Value::as_array).ok_or_else(|| format!("Avro record \"{}\" needs a \"fields\" array", name))?;
                let mut fields: Vec<(String, usize)> = Vec::new();
                for f in list {
                    let fname = f.get("name").and_then(Value::as_str).ok_or_else(|| format!("a field of Avro record \"{}\" has no \"name\"", name))?;
                    if fields.iter().any(|(n, _)| n == fname) {
                        return Err(format!("Avro record \"{}\" has two fields named \"{}\"", name, fname));
                    }
                    let fty = f.get("type").ok_or_else(|| format!("field \"{}\" of Avro record \"{}\" has no \"type\"", fname, name))?;
                    fields.push((fname.to_string(), self.node(fty, &ns)?));
                }
                self.nodes[node] = Node::Record { fields };
                return Ok(node);
            }
            "enum" => {
                let symbols = o.get("symbols").and_then(Value::as_array).ok_or("an Avro enum needs a \"symbols\" array")?;
                let symbols = symbols.iter().map(|s| s.as_str().map(str::to_string).ok_or("Avro enum symbols are strings")).collect::<Result<Vec<_>, _>>()?;
                let node = self.push(Node::Enum { symbols });
                self.define(o, ns, node)?;
                return Ok(node);
            }
            "array" => {
                let items = self.node(o.get("items").ok_or("an Avro array needs \"items\"")?, ns)?;
                Node::Array(items)
            }
            "map" => {
                let values = self.node(o.get("values").ok_or("an Avro map needs \"values\"")?, ns)?;
                Node::Map(values)
            }
            "fixed" => {
                let size = o.get("size").and_then(Value::as_u64).and_then(|s| usize::try_from(s).ok()).ok_or("an Avro fixed needs a non-negative \"size\"")?;
                let node = self.push(logical(o, Node::Fixed(size)));
                self.define(o, ns, node)?;
                return Ok(node);
            }
            other => match Self::primitive(other) {
                Some(n) => logical(o, n),
                None => return self.reference(other, ns),
            },
        };
        Ok(self.push(node))
    }
}

/// The logical type `o` puts on `base`, or `base` itself when it has none
/// eddy knows (or invalid parameters), as the specification says to do.
fn logical(o: &serde_json::Map<String, Value>, base: Node) -> Node {
    let Some(lt) = o.get("logicalType").and_then(Value::as_str) else { return base };
    let num = |k: &str| o.get(k).and_then(Value::as_u64).and_then(|v| u32::try_from(v).ok());
    match (lt, &base) {
        ("date", Node::Int) => Node::Date,
        ("timestamp-millis", Node::Long) => Node::Timestamp { per_second: 1_000, local: false },
        ("timestamp-micros", Node::Long) => Node::Timestamp { per_second: 1_000_000, local: false },
        ("timestamp-nanos", Node::Long) => Node::Timestamp { per_second: 1_000_000_000, local: false },
        ("local-timestamp-millis", Node::Long) => Node::Timestamp { per_second: 1_000, local: true },
        ("local-timestamp-micros", Node::Long) => Node::Timestamp { per_second: 1_000_000, local: true },
        ("local-timestamp-nanos", Node::Long) => Node::Timestamp { per_second: 1_000_000_000, local: true },
        ("decimal", Node::Bytes | Node::Fixed(_)) => match (num("precision"), num("scale").or(if o.contains_key("scale") { None } else { Some(0) })) {
            (Some(precision), Some(scale)) if precision > 0 && scale <= precision => Node::Decimal { precision, scale, fixed: if let Node::Fixed(n) = base { Some(n) } else { None } },
            _ => base,
        },
        // uuid is a string already; time-* stay their int or long.
        _ => base,
    }
}
