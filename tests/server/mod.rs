//! Starts the `eddy` binary for an end-to-end test, and stops it when
//! dropped.
//!
//! The server binds port 0 and the harness reads the port it got from its
//! "connect with:" line. Picking a free port first and passing it in raced
//! with other listeners started by the same test binary (a mock broker, a
//! client), which could take the port in between. stderr keeps being read
//! after startup, so a chatty server never blocks on a full pipe; its last
//! lines are kept for failure messages.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

pub struct EddyServer {
    child: Child,
    pub port: u16,
    dir: std::path::PathBuf,
    /// Whether dropping the server removes its data directory.
    owns_dir: bool,
    log: Arc<Mutex<Vec<String>>>,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// How many of the server's last stderr lines a failure message shows.
const LOG_TAIL: usize = 200;

/// The port in a line like `connect with:  psql -h 127.0.0.1 -p 5433 -U eddy eddy`.
fn port_of_connect_line(line: &str) -> Option<u16> {
    let rest = line.split("connect with:").nth(1)?;
    let mut words = rest.split_whitespace();
    while let Some(w) = words.next() {
        if w == "-p" {
            return words.next()?.parse().ok();
        }
    }
    None
}

impl EddyServer {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts the server with extra `serve` flags.
    pub fn start_with(extra: &[&str]) -> Self {
        static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("eddy-test-{}-{}", std::process::id(), n));
        Self::start_in(&dir, extra, true)
    }

    /// Starts the server on the data directory `dir` (a restarted server
    /// finds there what the last one left); dropping it removes `dir` when
    /// `owns_dir`.
    pub fn start_in(dir: &std::path::Path, extra: &[&str], owns_dir: bool) -> Self {
        let dir = dir.to_path_buf();
        let mut child = Command::new(env!("CARGO_BIN_EXE_eddy"))
            .args(["serve", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--workers", "2", "--data-dir"])
            .arg(&dir)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the eddy binary");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (port_tx, port_rx) = mpsc::channel();
        let stderr = child.stderr.take().expect("piped stderr");
        let lines = log.clone();
        // EDDY_TEST_TEE=<file> appends every line to that file as well
        // (with EDDY_LOG=debug, to see what led to a failure).
        let mut tee = std::env::var_os("EDDY_TEST_TEE").and_then(|f| std::fs::OpenOptions::new().create(true).append(true).open(f).ok());
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(port) = port_of_connect_line(&line) {
                    let _ = port_tx.send(port);
                }
                if let Some(f) = &mut tee {
                    let _ = writeln!(f, "{}", line);
                }
                let mut lines = lines.lock().unwrap();
                if lines.len() == LOG_TAIL {
                    lines.remove(0);
                }
                lines.push(line);
            }
        });
        let port = match port_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(port) => port,
            Err(_) => {
                let status = child.try_wait().ok().flatten();
                let _ = child.kill();
                let _ = child.wait();
                std::thread::sleep(Duration::from_millis(100));
                let tail = log.lock().unwrap().join("\n");
                match status {
                    Some(status) => panic!("eddy exited before accepting connections ({}):\n{}", status, tail),
                    None => panic!("eddy printed no \"connect with:\" line within 30 s; its stderr:\n{}", tail),
                }
            }
        };
        EddyServer { child, port, dir, owns_dir, log }
    }

    pub fn conninfo(&self) -> String {
        format!("host=127.0.0.1 port={} user=eddy dbname=eddy", self.port)
    }

    /// The `host:port` of the server's HTTP endpoint (`/metrics`), from its
    /// "metrics:" line.
    pub fn http_addr(&self) -> String {
        let log = self.log.lock().unwrap();
        let line = log.iter().find(|l| l.starts_with("metrics:")).unwrap_or_else(|| panic!("no \"metrics:\" line in eddy's stderr:\n{}", log.join("\n")));
        line.split("http://").nth(1).and_then(|r| r.split('/').next()).expect("metrics: http://host:port/metrics").to_string()
    }

    /// GETs `path` from the HTTP endpoint and returns the body.
    pub fn http_get(&self, path: &str) -> String {
        use std::io::{Read, Write};
        let addr = self.http_addr();
        let mut conn = std::net::TcpStream::connect(&addr).unwrap_or_else(|e| panic!("connect to {}: {}", addr, e));
        write!(conn, "GET {} HTTP/1.0\r\nHost: {}\r\n\r\n", path, addr).unwrap();
        let mut response = String::new();
        conn.read_to_string(&mut response).unwrap();
        response.split_once("\r\n\r\n").map(|(_, body)| body.to_string()).unwrap_or_default()
    }

    /// The server's last stderr lines, for failure messages.
    pub fn log_tail(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

impl Drop for EddyServer {
    fn drop(&mut self) {
        // SIGKILL: a test that drops a server mid-way sees what a crash leaves.
        let _ = self.child.kill();
        let _ = self.child.wait();
        if self.owns_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
