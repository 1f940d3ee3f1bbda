//! A small HTTP server for operational endpoints: `GET /metrics`
//! (Prometheus text format) and `GET /health`. It serves whatever the
//! `page` callback returns for a path; it is not a general web server.

use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// Returns (content type, body) for a path, or None for 404.
pub type Pages = Arc<dyn Fn(&str) -> Option<(&'static str, String)> + Send + Sync>;

pub async fn serve(listener: TcpListener, pages: Pages) -> std::io::Result<()> {
    loop {
        let (socket, _) = match listener.accept().await {
            Ok(s) => s,
            Err(_) => continue,
        };
        let pages = pages.clone();
        tokio::spawn(async move {
            let (read, mut write) = socket.into_split();
            let mut lines = BufReader::new(read).lines();
            let Ok(Some(request)) = lines.next_line().await else { return };
            // Skip the headers.
            while let Ok(Some(line)) = lines.next_line().await {
                if line.is_empty() {
                    break;
                }
            }
            let mut parts = request.split_whitespace();
            let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
            let response = match (method, pages(path)) {
                ("GET", Some((ctype, body))) => format!("HTTP/1.1 200 OK\r\ncontent-type: {}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}", ctype, body.len(), body),
                ("GET", None) => "HTTP/1.1 404 Not Found\r\ncontent-length: 10\r\nconnection: close\r\n\r\nnot found\n".to_string(),
                _ => "HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_string(),
            };
            let _ = write.write_all(response.as_bytes()).await;
        });
    }
}
