//! Helpers shared by the server's integration tests (each test file includes this module;
//! not every file uses every helper). `crates/menagerie/tests` include it too, by `#[path]`.
//! Raw wire-protocol helpers are in [`wire`].
#![allow(dead_code)]

pub mod wire;

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use menagerie_server::{RunningServer, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zookeeper_client as zk;

/// Upper bound for any single wait on the server.
pub const WAIT: Duration = Duration::from_secs(10);

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

/// A started server and the directory it keeps its data in (removed on drop).
pub struct Fixture {
    /// The server.
    pub server: RunningServer,
    _dir: tempfile::TempDir,
}

impl Fixture {
    /// The client address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }
}

/// Starts a server with [`config`] in a fresh temporary directory, changed by `adjust`.
pub async fn start_with(adjust: impl FnOnce(&mut ServerConfig)) -> Fixture {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut c = config(dir.path());
    adjust(&mut c);
    let server = within(menagerie_server::start(c))
        .await
        .expect("server starts");
    Fixture { server, _dir: dir }
}

/// Awaits `f`, failing the test if it takes longer than [`WAIT`].
pub async fn within<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, f)
        .await
        .expect("the server did not answer in time")
}

/// A bounded wait for a condition: call [`Patience::wait`] between checks.
pub struct Patience {
    what: String,
    deadline: tokio::time::Instant,
}

impl Patience {
    /// Patience for [`WAIT`] with the condition described by `what`.
    pub fn new(what: &str) -> Patience {
        Patience {
            what: what.to_owned(),
            deadline: tokio::time::Instant::now() + WAIT,
        }
    }

    /// Whether [`WAIT`] has passed.
    pub fn expired(&self) -> bool {
        tokio::time::Instant::now() >= self.deadline
    }

    /// Waits 20 ms before the next check; fails the test once [`WAIT`] has passed.
    pub async fn wait(&self) {
        assert!(!self.expired(), "never happened: {}", self.what);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls `check` every 20 ms until it holds; fails the test naming `what` after [`WAIT`].
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let patience = Patience::new(what);
    while !check().await {
        patience.wait().await;
    }
}

/// A `zookeeper-client` session made by `connector` on `addr`, connected within [`WAIT`].
pub async fn connect_with(addr: &str, connector: zk::Connector) -> zk::Client {
    within(connector.connect(addr)).await.expect("connect")
}

/// A `zookeeper-client` session of 5 s on `addr`, connected within [`WAIT`].
pub async fn connect(addr: &str) -> zk::Client {
    let connector = zk::Client::connector().with_session_timeout(Duration::from_secs(5));
    connect_with(addr, connector).await
}

/// The answer to a four-letter word, read to the end within [`WAIT`].
pub async fn four_letter(addr: SocketAddr, word: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(word.as_bytes()).await.expect("send");
    let mut out = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut out))
        .await
        .expect("answer in time")
        .expect("answer");
    String::from_utf8(out).expect("UTF-8 answer")
}

/// The value of one `mntr` key (without `zk_`), as text.
pub async fn mntr(addr: SocketAddr, key: &str) -> String {
    let text = four_letter(addr, "mntr").await;
    text.lines()
        .find_map(|l| l.strip_prefix("zk_")?.strip_prefix(key)?.strip_prefix('\t'))
        .unwrap_or_else(|| panic!("{key} in {text}"))
        .to_owned()
}

/// A loopback port nothing listens on, taken from a range below the kernel's ephemeral
/// ports (32768 and up on Linux), so that the clients of tests running at the same time
/// cannot be handed it as their local port between this check and the server's bind.
pub fn unused_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let base = 12_000 + (std::process::id() % 400) * 50;
    for _ in 0..20_000 {
        let offset = NEXT.fetch_add(1, Ordering::Relaxed) % 20_000;
        let port = 12_000 + (base - 12_000 + offset) % 20_000;
        let Ok(port) = u16::try_from(port) else {
            continue;
        };
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no unused loopback port between 12000 and 32000");
}
