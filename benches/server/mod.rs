//! Shared by the benchmarks: a guard that kills the `eddy` server process
//! when dropped, a free TCP port to run it on, a client connection that
//! waits until the server accepts it, and the CPU time and memory a process
//! used (Linux /proc).

use std::process::Child;
use std::time::Duration;
use tokio_postgres::{Client, NoTls};

pub struct Server(pub Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
    }
}

/// Starts `eddy serve` on `port` with its data in `dir` and `extra` flags,
/// its stderr silenced unless EDDY_PROFILE_OPERATORS asks for the profile.
#[allow(dead_code)]
pub fn serve(port: u16, dir: &std::path::Path, extra: &[&str]) -> Server {
    Server(
        std::process::Command::new(env!("CARGO_BIN_EXE_eddy"))
            .args(["serve", "--listen", &format!("127.0.0.1:{}", port), "--http", "127.0.0.1:0", "--data-dir"])
            .arg(dir)
            .args(extra)
            // The operator profile (EDDY_PROFILE_OPERATORS) is on stderr.
            .stderr(if std::env::var_os("EDDY_PROFILE_OPERATORS").is_some() { std::process::Stdio::inherit() } else { std::process::Stdio::null() })
            .spawn()
            .expect("start eddy"),
    )
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Connects to the server on `port` as `eddy`, retrying every 100 ms until it
/// accepts, and drives the connection on a background task.
pub async fn connect(port: u16) -> Client {
    let (client, conn) = loop {
        match tokio_postgres::connect(&format!("host=127.0.0.1 port={} user=eddy dbname=eddy", port), NoTls).await {
            Ok(c) => break c,
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    tokio::spawn(conn);
    client
}

/// CPU time used so far by process `pid` (Linux /proc; zero elsewhere).
#[allow(dead_code)]
pub fn cpu_time(pid: u32) -> Duration {
    stat_cpu(&std::fs::read_to_string(format!("/proc/{}/stat", pid)).unwrap_or_default())
}

/// CPU time used so far by the timely worker threads of process `pid`.
#[allow(dead_code)]
pub fn worker_cpu_time(pid: u32) -> Duration {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{}/task", pid)) else { return Duration::ZERO };
    tasks
        .filter_map(|t| t.ok())
        .filter(|t| std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.starts_with("timely:work")))
        .map(|t| stat_cpu(&std::fs::read_to_string(t.path().join("stat")).unwrap_or_default()))
        .sum()
}

/// Resident memory of process `pid` in bytes (Linux /proc; zero elsewhere).
#[allow(dead_code)]
pub fn resident_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid)).unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok()).unwrap_or(0) * 1024
}

/// User plus system time from the text of a /proc `stat` file.
fn stat_cpu(stat: &str) -> Duration {
    // Fields after the parenthesised command name; utime and stime are the
    // 12th and 13th of them, in clock ticks (100 per second on Linux).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let ticks: u64 = rest.split_whitespace().skip(11).take(2).filter_map(|f| f.parse::<u64>().ok()).sum();
    Duration::from_millis(ticks * 10)
}
