//! Starts the `eddy` binary on a free port for an end-to-end test, and
//! stops it when dropped.

#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct EddyServer {
    child: Child,
    pub port: u16,
    dir: std::path::PathBuf,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl EddyServer {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts the server with extra `serve` flags.
    pub fn start_with(extra: &[&str]) -> Self {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("eddy-test-{}-{}", std::process::id(), port));
        let child = Command::new(env!("CARGO_BIN_EXE_eddy"))
            .args(["serve", "--listen", &format!("127.0.0.1:{}", port), "--http", "127.0.0.1:0", "--workers", "2", "--data-dir"])
            .arg(&dir)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the eddy binary");
        let mut server = EddyServer { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                let mut err = String::new();
                use std::io::Read;
                server.child.stderr.take().map(|mut s| s.read_to_string(&mut err));
                panic!("eddy exited before accepting connections ({}):\n{}", status, err);
            }
            assert!(Instant::now() < deadline, "eddy did not listen on port {} within 30 s", port);
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    pub fn conninfo(&self) -> String {
        format!("host=127.0.0.1 port={} user=eddy dbname=eddy", self.port)
    }
}

impl Drop for EddyServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
