//! Starts a tansu broker (a real Kafka-compatible broker process, memory
//! storage) on a free port for a test, and stops it when dropped.

#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Tansu {
    child: Child,
    pub port: u16,
}

impl Tansu {
    pub fn start() -> Self {
        let port = super::server::free_port();
        let url = format!("tcp://127.0.0.1:{}", port);
        let child = Command::new("tansu")
            .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url, "--storage-engine", "memory://tansu/"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run the tansu broker ({}): install it with `cargo install --locked tansu --version 0.6.0 --features dynostore` (scripts/test does)", e));
        let mut t = Tansu { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = t.child.try_wait() {
                panic!("tansu exited ({}) before listening; run it by hand to see why: tansu broker --listener-url {} --storage-engine memory://tansu/", status, url);
            }
            assert!(Instant::now() < deadline, "tansu did not listen on {} within 30 s", port);
            std::thread::sleep(Duration::from_millis(50));
        }
        t
    }

    pub fn broker(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs tests/clients/kafka_tool.py (confluent-kafka, an independent
/// client) and returns its stdout parsed as JSON.
pub fn kafka_tool(args: &[&str]) -> serde_json::Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/kafka_tool.py");
    let out = Command::new("python3").arg(script).args(args).output().expect("run python3");
    assert!(
        out.status.success(),
        "kafka_tool.py {:?} failed (needs `pip install confluent-kafka`, which scripts/test does):\n{}",
        args,
        String::from_utf8_lossy(&out.stderr).lines().filter(|l| !l.starts_with('%')).collect::<Vec<_>>().join("\n")
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("kafka_tool.py {:?} printed no JSON ({}): {}", args, e, String::from_utf8_lossy(&out.stdout)))
}
