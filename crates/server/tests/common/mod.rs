//! Helpers shared by the server's integration tests (each test file includes this module;
//! not every file uses every helper).
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use menagerie_server::ServerConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zookeeper_client as zk;

/// A server on an ephemeral loopback port with its data (and log) in `dir`: 200 ms ticks,
/// sessions of 400 ms to 10 s, small preallocated log files.
pub fn config(dir: &Path) -> ServerConfig {
    ServerConfig {
        client_addr: "127.0.0.1:0".parse().expect("loopback address"),
        data_dir: dir.to_path_buf(),
        data_log_dir: dir.to_path_buf(),
        tick_ms: 200,
        min_session_timeout_ms: 400,
        max_session_timeout_ms: 10_000,
        pre_alloc_size: 1 << 20,
        ..ServerConfig::default()
    }
}

/// A `zookeeper-client` session of 5 s on `addr`, connected within 10 s.
pub async fn connect(addr: &str) -> zk::Client {
    tokio::time::timeout(
        Duration::from_secs(10),
        zk::Client::connector()
            .with_session_timeout(Duration::from_secs(5))
            .connect(addr),
    )
    .await
    .expect("connect in time")
    .expect("connect")
}

/// The answer to a four-letter word, read to the end within 10 s.
pub async fn four_letter(addr: std::net::SocketAddr, word: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(word.as_bytes()).await.expect("send");
    let mut out = String::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_string(&mut out))
        .await
        .expect("answer in time")
        .expect("answer");
    out
}
