//! Shared by the benchmarks: a guard that kills the `eddy` server process
//! when dropped, a free TCP port to run it on, and a client connection that
//! waits until the server accepts it.

use std::process::Child;
use std::time::Duration;
use tokio_postgres::{Client, NoTls};

pub struct Server(pub Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
    }
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
