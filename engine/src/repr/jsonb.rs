//! jsonb's canonical text, as PostgreSQL's `jsonb_out` prints it: object
//! keys unique (the last duplicate wins) and ordered by length then bytes,
//! one space after `:` and `,`, and numbers printed as the `numeric` they
//! are (`1e2` is `100`, `3.50` keeps its trailing zero, `-0` is `0`).
//!
//! serde_json would lose the number's written scale, so the text is parsed
//! here with numbers kept as their digits.

/// The deepest nesting of arrays and objects a jsonb value may have.
///
/// Parsing, printing and dropping a value recurse once per level, so the
/// bound keeps them well inside any thread's stack (a level costs well
/// under a kilobyte even in a debug build; 1000 levels fit a default 2 MiB
/// thread). Deeper input is refused with 54001, PostgreSQL's code when its
/// own (stack-size dependent, around 10,000 levels) limit is hit. Every
/// other jsonb operation is flat: values are stored, compared and hashed
/// as their canonical text, and `->`, `->>` and `jsonb_array_length` scan
/// it with serde_json, which skips nested values without recursing.
pub const MAX_JSONB_DEPTH: usize = 1000;

/// Why text is not a jsonb value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonbError {
    /// Not JSON (the message says where).
    Invalid(String),
    /// Nested more than [`MAX_JSONB_DEPTH`] levels.
    TooDeep,
}

impl std::fmt::Display for JsonbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JsonbError::Invalid(m) => f.write_str(m),
            JsonbError::TooDeep => write!(f, "stack depth limit exceeded: jsonb nested more than {} levels deep", MAX_JSONB_DEPTH),
        }
    }
}

impl From<String> for JsonbError {
    fn from(m: String) -> Self {
        JsonbError::Invalid(m)
    }
}

/// Parses JSON text and prints it in jsonb's canonical form.
pub fn normalize_jsonb(text: &str) -> Result<String, JsonbError> {
    let mut p = Parser { s: text.as_bytes(), i: 0 };
    p.ws();
    let v = p.value(1)?;
    p.ws();
    if p.i != p.s.len() {
        return Err(p.err().into());
    }
    let mut out = String::with_capacity(text.len());
    write_value(&v, &mut out);
    Ok(out)
}

enum Value {
    Null,
    Bool(bool),
    /// Canonical numeric text.
    Number(String),
    String(String),
    Array(Vec<Value>),
    Object(Vec<(String, Value)>),
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn err(&self) -> String {
        format!("invalid JSON at byte {}", self.i)
    }
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn keyword(&mut self, word: &str, v: Value) -> Result<Value, String> {
        if self.s[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(v)
        } else {
            Err(self.err())
        }
    }
    /// The value at the cursor, which is `depth` levels deep (the document
    /// is level 1); an array or object here makes level `depth`. Arrays and
    /// objects are parsed by their own functions, so that the frames of
    /// this recursion stay small.
    fn value(&mut self, depth: usize) -> Result<Value, JsonbError> {
        match self.peek() {
            Some(b'[' | b'{') if depth > MAX_JSONB_DEPTH => Err(JsonbError::TooDeep),
            Some(b'[') => self.array(depth).map(Value::Array),
            Some(b'{') => self.object(depth).map(Value::Object),
            _ => self.scalar().map_err(JsonbError::Invalid),
        }
    }

    fn scalar(&mut self) -> Result<Value, String> {
        match self.peek().ok_or_else(|| self.err())? {
            b'n' => self.keyword("null", Value::Null),
            b't' => self.keyword("true", Value::Bool(true)),
            b'f' => self.keyword("false", Value::Bool(false)),
            b'"' => self.string().map(Value::String),
            b'-' | b'0'..=b'9' => self.number(),
            _ => Err(self.err()),
        }
    }

    fn array(&mut self, depth: usize) -> Result<Vec<Value>, JsonbError> {
        self.i += 1;
        let mut items = Vec::new();
        self.ws();
        if self.eat(b']') {
            return Ok(items);
        }
        loop {
            self.ws();
            items.push(self.value(depth + 1)?);
            self.ws();
            if self.eat(b']') {
                return Ok(items);
            }
            if !self.eat(b',') {
                return Err(self.err().into());
            }
        }
    }

    /// An object's fields, ordered by key length then bytes; of a key given
    /// more than once, the last value.
    fn object(&mut self, depth: usize) -> Result<Vec<(String, Value)>, JsonbError> {
        self.i += 1;
        let mut fields: Vec<(String, Value)> = Vec::new();
        self.ws();
        if !self.eat(b'}') {
            loop {
                self.ws();
                if self.peek() != Some(b'"') {
                    return Err(self.err().into());
                }
                let k = self.string()?;
                self.ws();
                if !self.eat(b':') {
                    return Err(self.err().into());
                }
                self.ws();
                let v = self.value(depth + 1)?;
                fields.push((k, v));
                self.ws();
                if self.eat(b'}') {
                    break;
                }
                if !self.eat(b',') {
                    return Err(self.err().into());
                }
            }
        }
        // A stable sort keeps duplicates in input order: keep the last of
        // each run (O(n log n), where a lookup per field was quadratic).
        fields.sort_by(|a, b| a.0.len().cmp(&b.0.len()).then_with(|| a.0.as_bytes().cmp(b.0.as_bytes())));
        let mut out: Vec<(String, Value)> = Vec::with_capacity(fields.len());
        for f in fields {
            match out.last_mut() {
                Some(last) if last.0 == f.0 => *last = f,
                _ => out.push(f),
            }
        }
        Ok(out)
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let h = self.s.get(self.i..self.i + 4).ok_or_else(|| self.err())?;
        let v = u32::from_str_radix(std::str::from_utf8(h).map_err(|_| self.err())?, 16).map_err(|_| self.err())?;
        self.i += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<String, String> {
        self.i += 1; // opening quote
        let mut out = Vec::new();
        loop {
            let c = self.peek().ok_or_else(|| self.err())?;
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let e = self.peek().ok_or_else(|| self.err())?;
                    self.i += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                if !(self.eat(b'\\') && self.eat(b'u')) {
                                    return Err(self.err());
                                }
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(self.err());
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            if code == 0 {
                                return Err("unsupported Unicode escape sequence \\u0000".into());
                            }
                            char::from_u32(code).ok_or_else(|| self.err())?
                        }
                        _ => return Err(self.err()),
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                c if c < 0x20 => return Err(self.err()),
                c => out.push(c),
            }
        }
        String::from_utf8(out).map_err(|_| self.err())
    }

    fn digits(&mut self) -> &[u8] {
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        &self.s[start..self.i]
    }

    fn number(&mut self) -> Result<Value, String> {
        let neg = self.eat(b'-');
        let int = self.digits().to_vec();
        if int.is_empty() || (int.len() > 1 && int[0] == b'0') {
            return Err(self.err());
        }
        let frac = if self.eat(b'.') {
            let f = self.digits().to_vec();
            if f.is_empty() {
                return Err(self.err());
            }
            f
        } else {
            Vec::new()
        };
        let mut exp: i64 = 0;
        if self.eat(b'e') || self.eat(b'E') {
            let eneg = self.eat(b'-');
            if !eneg {
                self.eat(b'+');
            }
            let e = self.digits();
            if e.is_empty() || e.len() > 6 {
                return Err(self.err());
            }
            exp = std::str::from_utf8(e).unwrap().parse::<i64>().unwrap();
            if eneg {
                exp = -exp;
            }
        }
        Ok(Value::Number(canonical_number(neg, &int, &frac, exp)))
    }
}

/// The text PostgreSQL's numeric prints for `[-]int.frac e exp`: the
/// display scale is the number of written fraction digits less the
/// exponent (at least 0).
fn canonical_number(neg: bool, int: &[u8], frac: &[u8], exp: i64) -> String {
    let digits: Vec<u8> = int.iter().chain(frac).copied().collect();
    let scale = (frac.len() as i64 - exp).max(0) as usize;
    // Digits before the decimal point.
    let point = int.len() as i64 + exp;
    let mut int_part: Vec<u8> = if point <= 0 {
        Vec::new()
    } else if point as usize >= digits.len() {
        let mut v = digits.clone();
        v.resize(point as usize, b'0');
        v
    } else {
        digits[..point as usize].to_vec()
    };
    let mut frac_part: Vec<u8> = if point < 0 {
        let mut v = vec![b'0'; (-point) as usize];
        v.extend_from_slice(&digits);
        v
    } else if (point as usize) < digits.len() {
        digits[point as usize..].to_vec()
    } else {
        Vec::new()
    };
    frac_part.resize(scale, b'0');
    let lead = int_part.iter().take_while(|c| **c == b'0').count();
    int_part.drain(..lead);
    let zero = int_part.is_empty() && frac_part.iter().all(|c| *c == b'0');
    let mut out = String::new();
    if neg && !zero {
        out.push('-');
    }
    if int_part.is_empty() {
        out.push('0');
    } else {
        out.push_str(std::str::from_utf8(&int_part).unwrap());
    }
    if !frac_part.is_empty() {
        out.push('.');
        out.push_str(std::str::from_utf8(&frac_part).unwrap());
    }
    out
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_value(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(n),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(item, out);
            }
            out.push(']');
        }
        Value::Object(fields) => {
            out.push('{');
            for (i, (k, item)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_string(k, out);
                out.push_str(": ");
                write_value(item, out);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::normalize_jsonb as n;

    #[test]
    fn numbers_print_as_numeric() {
        assert_eq!(n("[1.0, 1.00, -0, 0.5e1, 1e2, 1E+2, -0.0, 1e-2, 3.50, 12.5e-1]").unwrap(), "[1.0, 1.00, 0, 5, 100, 100, 0.0, 0.01, 3.50, 1.25]");
        assert_eq!(n("-12").unwrap(), "-12");
        assert!(n("01").is_err());
        assert!(n("1.").is_err());
    }

    #[test]
    fn objects_sort_keys_and_keep_the_last_duplicate() {
        assert_eq!(n(r#"{"b": 1, "a": 2, "aa": {}, "b": 3}"#).unwrap(), r#"{"a": 2, "b": 3, "aa": {}}"#);
        assert_eq!(n(r#"{  "spaces"  :  [ 1 ,2 ]  }"#).unwrap(), r#"{"spaces": [1, 2]}"#);
        assert_eq!(n("[]").unwrap(), "[]");
    }

    #[test]
    fn strings_keep_unicode_and_escape_controls() {
        assert_eq!(n(r#""quote\" backslash\\ newline\n tab\t \u00e9 \ud83d\ude00 \u0001""#).unwrap(), "\"quote\\\" backslash\\\\ newline\\n tab\\t é 😀 \\u0001\"");
        assert!(n("\"a").is_err());
        assert!(n("[1,]").is_err());
        assert!(n("{\"a\" 1}").is_err());
    }

    fn nested(depth: usize) -> String {
        format!("{}{}", "[".repeat(depth), "]".repeat(depth))
    }

    #[test]
    fn nesting_is_bounded() {
        use super::{JsonbError, MAX_JSONB_DEPTH};
        assert_eq!(n(&nested(MAX_JSONB_DEPTH)).unwrap(), nested(MAX_JSONB_DEPTH));
        let objects = format!("{}1{}", "{\"a\": ".repeat(MAX_JSONB_DEPTH), "}".repeat(MAX_JSONB_DEPTH));
        assert_eq!(n(&objects).unwrap(), objects);
        assert_eq!(n(&nested(MAX_JSONB_DEPTH + 1)), Err(JsonbError::TooDeep));
        assert_eq!(n(&format!("[1, {{\"a\": {}}}]", nested(MAX_JSONB_DEPTH - 1))), Err(JsonbError::TooDeep));
        // Far deeper input fails at the bound, without recursing further
        // (this used to overflow the stack).
        assert_eq!(n(&nested(1_000_000)), Err(JsonbError::TooDeep));
        assert_eq!(n(&"[".repeat(1_000_000)), Err(JsonbError::TooDeep));
        assert!(matches!(n(&"[".repeat(10)), Err(JsonbError::Invalid(_))));
    }

    #[test]
    fn the_deepest_value_fits_a_small_stack() {
        // Parse, print and drop at the bound on a 1 MiB thread: half the
        // default for spawned threads, so there is room to spare anywhere.
        let text = nested(super::MAX_JSONB_DEPTH);
        let t = std::thread::Builder::new().stack_size(1 << 20).spawn(move || n(&text).map(|s| s.len())).unwrap();
        assert_eq!(t.join().unwrap(), Ok(2 * super::MAX_JSONB_DEPTH));
    }
}
