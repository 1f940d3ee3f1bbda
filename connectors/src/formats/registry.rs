//! A client of a Confluent Schema Registry: the two lookups a source needs
//! (a schema by id, a subject's latest schema), over plain HTTP/1.1 on a
//! std `TcpStream` (no TLS; eddy has no HTTP client dependency and needs
//! none for two GETs).

use serde_json::Value;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// The largest response eddy reads (a schema is a few kilobytes).
const MAX_RESPONSE: u64 = 16 << 20;

#[derive(Clone, Debug)]
pub struct Registry {
    /// `http://host:port[/prefix]`, without a trailing slash.
    pub url: String,
    authority: String,
    prefix: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegistryError {
    /// The registry answered that the schema or subject does not exist.
    NotFound(String),
    /// The registry could not be reached (worth retrying).
    Unreachable(String),
    /// The registry answered something eddy cannot use.
    Invalid(String),
}

impl std::fmt::Display for RegistryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RegistryError::NotFound(m) | RegistryError::Unreachable(m) | RegistryError::Invalid(m) => f.write_str(m),
        }
    }
}

impl Registry {
    pub fn new(url: &str) -> Result<Registry, String> {
        let rest = url.strip_prefix("http://").ok_or_else(|| format!("schema registry URL '{}' is not http://host:port", url))?;
        let (authority, prefix) = rest.split_once('/').map(|(a, p)| (a, format!("/{}", p.trim_end_matches('/')))).unwrap_or((rest, String::new()));
        if authority.is_empty() {
            return Err(format!("schema registry URL '{}' has no host", url));
        }
        let prefix = if prefix == "/" { String::new() } else { prefix };
        Ok(Registry { url: url.trim_end_matches('/').to_string(), authority: authority.to_string(), prefix })
    }

    /// The schema registered under `id` (GET /schemas/ids/{id}).
    pub fn schema(&self, id: u32) -> Result<String, RegistryError> {
        let v = self.get_json(&format!("/schemas/ids/{}", id), &format!("schema id {}", id))?;
        avro_schema_text(&v, &format!("schema id {}", id))
    }

    /// The id and schema of the latest version of `subject`
    /// (GET /subjects/{subject}/versions/latest).
    pub fn latest(&self, subject: &str) -> Result<(u32, String), RegistryError> {
        let what = format!("subject \"{}\"", subject);
        let v = self.get_json(&format!("/subjects/{}/versions/latest", encode_path(subject)), &what)?;
        let id = v.get("id").and_then(Value::as_u64).and_then(|i| u32::try_from(i).ok()).ok_or_else(|| RegistryError::Invalid(format!("the registry at {} gave {} without an id", self.url, what)))?;
        Ok((id, avro_schema_text(&v, &what)?))
    }

    fn get_json(&self, path: &str, what: &str) -> Result<Value, RegistryError> {
        let (status, body) = self.get(path).map_err(|e| RegistryError::Unreachable(format!("cannot reach the schema registry at {}: {}", self.url, e)))?;
        let v: Option<Value> = serde_json::from_slice(&body).ok();
        let message = || v.as_ref().and_then(|v| v.get("message")).and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(200).collect());
        match status {
            200 => v.ok_or_else(|| RegistryError::Invalid(format!("the schema registry at {} answered {} with something other than JSON", self.url, what))),
            404 => Err(RegistryError::NotFound(format!("the schema registry at {} has no {} ({})", self.url, what, message()))),
            // Overloaded or restarting: a later try may work.
            500..=599 => Err(RegistryError::Unreachable(format!("the schema registry at {} failed to look up {}: HTTP {} {}", self.url, what, status, message()))),
            _ => Err(RegistryError::Invalid(format!("the schema registry at {} refused to look up {}: HTTP {} {}", self.url, what, status, message()))),
        }
    }

    /// A GET over a fresh connection: (status, body).
    fn get(&self, path: &str) -> std::io::Result<(u16, Vec<u8>)> {
        let addr = self.authority.to_socket_addrs()?.next().ok_or_else(|| std::io::Error::other(format!("{} resolves to no address", self.authority)))?;
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(3))?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        s.set_write_timeout(Some(Duration::from_secs(10)))?;
        write!(s, "GET {}{} HTTP/1.1\r\nHost: {}\r\nAccept: application/vnd.schemaregistry.v1+json, application/json\r\nConnection: close\r\n\r\n", self.prefix, path, self.authority)?;
        let mut raw = Vec::new();
        // A server may reset the connection right after a complete answer.
        let read = s.take(MAX_RESPONSE).read_to_end(&mut raw);
        match (parse_response(&raw), read) {
            (Some(r), _) => Ok(r),
            (None, Err(e)) => Err(e),
            (None, Ok(_)) => Err(std::io::Error::other("malformed HTTP response")),
        }
    }
}

/// The `schema` of a registry answer, which must be an Avro schema.
fn avro_schema_text(v: &Value, what: &str) -> Result<String, RegistryError> {
    if let Some(t) = v.get("schemaType").and_then(Value::as_str).filter(|t| *t != "AVRO") {
        return Err(RegistryError::Invalid(format!("{} is a {} schema, not Avro", what, t)));
    }
    v.get("schema").and_then(Value::as_str).map(str::to_string).ok_or_else(|| RegistryError::Invalid(format!("the registry's answer for {} has no schema", what)))
}

/// Percent-encodes a path segment.
fn encode_path(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { (b as char).to_string() } else { format!("%{:02X}", b) }).collect()
}

/// Status and body of an HTTP/1.x response read to the end of the
/// connection (Content-Length and chunked bodies both handled).
fn parse_response(raw: &[u8]) -> Option<(u16, Vec<u8>)> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let body = &raw[end + 4..];
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let mut length = None;
    let mut chunked = false;
    for line in lines {
        let (k, v) = line.split_once(':')?;
        if k.eq_ignore_ascii_case("content-length") {
            length = v.trim().parse::<usize>().ok();
        } else if k.eq_ignore_ascii_case("transfer-encoding") && v.to_ascii_lowercase().contains("chunked") {
            chunked = true;
        }
    }
    if chunked {
        let mut out = Vec::new();
        let mut rest = body;
        loop {
            let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
            let size = usize::from_str_radix(std::str::from_utf8(&rest[..line_end]).ok()?.split(';').next()?.trim(), 16).ok()?;
            rest = &rest[line_end + 2..];
            if size == 0 {
                return Some((status, out));
            }
            out.extend_from_slice(rest.get(..size)?);
            rest = rest.get(size + 2..)?;
        }
    }
    Some((status, match length {
        Some(n) => body.get(..n)?.to_vec(),
        None => body.to_vec(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls_and_responses() {
        let r = Registry::new("http://localhost:8081/").unwrap();
        assert_eq!((r.url.as_str(), r.authority.as_str(), r.prefix.as_str()), ("http://localhost:8081", "localhost:8081", ""));
        assert_eq!(Registry::new("http://h:1/api/").unwrap().prefix, "/api");
        assert!(Registry::new("https://h:1").is_err());
        assert_eq!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}xx"), Some((200, b"{}".to_vec())));
        assert_eq!(parse_response(b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"), Some((404, b"abcde".to_vec())));
        assert_eq!(parse_response(b"HTTP/1.0 200 OK\r\n\r\nbody"), Some((200, b"body".to_vec())));
        assert_eq!(parse_response(b"garbage"), None);
        assert_eq!(parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nff\r\nab"), None);
        assert_eq!(encode_path("a b/c-value"), "a%20b%2Fc-value");
    }

    #[test]
    fn an_unreachable_registry_is_reported() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let r = Registry::new(&format!("http://127.0.0.1:{}", port)).unwrap();
        assert!(matches!(r.schema(1), Err(RegistryError::Unreachable(m)) if m.contains("cannot reach the schema registry at http://127.0.0.1:")));
    }
}
