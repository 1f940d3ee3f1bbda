//! The `eddy serve` process under test: one per `.slt` file (fresh data
//! directory, log file in the temporary directory), killed when dropped.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio_postgres::Client;

use crate::client::connect;
use crate::common::{excerpt_of, log_excerpt};

pub struct Eddy {
    child: Child,
    stderr: PathBuf,
    port: u16,
    /// How much of the log has been shown in failure reports already.
    log_seen: usize,
}

impl Eddy {
    pub async fn start(dir: &Path, name: &str, workers: usize) -> Result<(Eddy, Client), String> {
        let data_dir = dir.join(format!("eddy-data-{name}"));
        fs::create_dir_all(&data_dir).map_err(|e| format!("create eddy data dir: {e}"))?;
        let stderr = dir.join(format!("eddy-{name}.log"));
        let log = fs::File::create(&stderr).map_err(|e| format!("create eddy log: {e}"))?;
        let log2 = log
            .try_clone()
            .map_err(|e| format!("clone eddy log: {e}"))?;
        // Port 0: the server picks a free port and names it in its log
        // ("connect with: ... -p PORT"); choosing one here first raced with
        // other listeners of the same test binary.
        let port = 0;
        let bin = env!("CARGO_BIN_EXE_eddy");
        let child = Command::new(bin)
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .args(["--http", "127.0.0.1:0"])
            .arg("--workers")
            .arg(workers.to_string())
            .arg("--data-dir")
            .arg(&data_dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| format!("cannot start {bin}: {e}"))?;
        let mut eddy = Eddy {
            child,
            stderr,
            port,
            log_seen: 0,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut conn = eddy.conn_string();
        let mut last_err;
        loop {
            if let Ok(Some(status)) = eddy.child.try_wait() {
                return Err(format!(
                    "eddy server exited ({status}) before accepting connections; \
                     command: {bin} serve --listen 127.0.0.1:{port} --workers {workers} --data-dir {}\n\
                     --- eddy output ---\n{}",
                    data_dir.display(),
                    log_excerpt(&eddy.stderr)
                ));
            }
            if eddy.port == 0 {
                eddy.port = fs::read_to_string(&eddy.stderr).ok().and_then(|log| port_in_log(&log)).unwrap_or(0);
                conn = eddy.conn_string();
            }
            if eddy.port == 0 {
                last_err = "no \"connect with:\" line in the log yet".into();
            } else {
                match tokio::time::timeout(Duration::from_secs(10), connect(&conn)).await {
                    Ok(Ok(client)) => return Ok((eddy, client)),
                    Ok(Err(e)) => last_err = e,
                    Err(_) => last_err = "connect timed out".into(),
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "eddy server did not accept connections (port {}) within 60s \
                     (last error: {last_err})\n--- eddy output ---\n{}",
                    eddy.port,
                    log_excerpt(&eddy.stderr)
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Excerpt of the log written since the last call.
    pub fn new_log_excerpt(&mut self) -> String {
        let text = fs::read_to_string(&self.stderr).unwrap_or_default();
        let start = self.log_seen.min(text.len());
        let start = (start..=text.len())
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(text.len());
        self.log_seen = text.len();
        excerpt_of(&text[start..])
    }

    pub fn conn_string(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=eddy dbname=eddy connect_timeout=5",
            self.port
        )
    }

    /// `Some(description)` when the process has exited.
    pub fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(format!(
                "eddy server (port {}) exited ({status})\n--- eddy output ---\n{}",
                self.port,
                log_excerpt(&self.stderr)
            )),
            _ => None,
        }
    }
}

/// The port in the server's `connect with:  psql -h HOST -p PORT ...` line.
fn port_in_log(log: &str) -> Option<u16> {
    let line = log.lines().find(|l| l.contains("connect with:"))?;
    let mut words = line.split_whitespace().skip_while(|w| *w != "-p");
    words.next()?;
    words.next()?.parse().ok()
}

impl Drop for Eddy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
