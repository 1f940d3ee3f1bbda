//! The harness's environment: the `ORACLE_*` settings, the temporary
//! directory, and small helpers (progress output, free ports, log excerpts).

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// What the `ORACLE_*` environment variables ask for (see `tests/oracle.rs`).
pub struct Settings {
    pub pg_only: bool,
    pub filter: Option<String>,
    pub workers: usize,
    pub timeout: Duration,
    pub keep: bool,
    pub self_test: bool,
    pub dump: bool,
}

impl Settings {
    pub fn from_env() -> Settings {
        let flag = |name: &str| {
            std::env::var(name)
                .map(|v| !v.is_empty() && v != "0" && v != "false")
                .unwrap_or(false)
        };
        Settings {
            pg_only: flag("ORACLE_PG_ONLY"),
            filter: std::env::var("ORACLE_FILTER")
                .ok()
                .filter(|s| !s.is_empty()),
            workers: std::env::var("ORACLE_WORKERS")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(2),
            timeout: Duration::from_secs(
                std::env::var("ORACLE_TIMEOUT_SECS")
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(60),
            ),
            keep: flag("ORACLE_KEEP"),
            self_test: flag("ORACLE_SELF_TEST"),
            dump: flag("ORACLE_DUMP"),
        }
    }
}

// ---------------------------------------------------------------------------
// Temporary directory
// ---------------------------------------------------------------------------

pub struct TempDir {
    pub path: PathBuf,
    keep: bool,
}

impl TempDir {
    pub fn new(keep: bool) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        // Keep the path short: it holds PostgreSQL's unix socket (path limit ~107 bytes).
        let base = if is_root() {
            PathBuf::from("/tmp")
        } else {
            std::env::temp_dir()
        };
        let path = base.join(format!("eddy-oracle-{}-{:x}", std::process::id(), nanos));
        fs::create_dir_all(&path).expect("create temporary directory");
        TempDir { path, keep }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if self.keep {
            say(&format!(
                "oracle: kept temporary directory {}",
                self.path.display()
            ));
        } else {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

pub fn is_root() -> bool {
    // Effective uid from /proc (no libc dependency); fall back to `id -u`.
    if let Ok(status) = fs::read_to_string("/proc/self/status") {
        for line in status.lines() {
            if let Some(rest) = line.strip_prefix("Uid:") {
                if let Some(euid) = rest.split_whitespace().nth(1) {
                    return euid == "0";
                }
            }
        }
    }
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Progress output written straight to stderr, so it shows even when the test
/// harness captures output of passing tests.
pub fn say(msg: &str) {
    use std::io::Write;
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{msg}");
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("find a free TCP port")
}

pub fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path)
        .unwrap_or_else(|e| format!("<cannot read {}: {e}>", path.display()));
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    all[start..].join("\n")
}

/// The interesting part of eddy's log: every panic message (with the two
/// lines after it), else the last lines.
pub fn log_excerpt(path: &Path) -> String {
    excerpt_of(&fs::read_to_string(path).unwrap_or_default())
}

pub fn excerpt_of(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if l.contains("panicked at") {
            out.extend(lines[i..(i + 3).min(lines.len())].iter().copied());
            if out.len() >= 30 {
                break;
            }
        }
    }
    if out.is_empty() {
        lines[lines.len().saturating_sub(30)..].join("\n")
    } else {
        out.join("\n")
    }
}
