//! Client connections must not take the descriptors the server needs for its own files
//! (issue 16, item 9). The real binary runs under `ulimit -n 256` with snapshots (and so
//! log rolls) every few txns; 400 idle connections arrive, and a session that was already
//! open keeps writing. Before the descriptor budget, the next log roll failed with EMFILE and
//! the server stayed read-only until restarted (a log that does run out of descriptors now
//! comes back by itself: `storage_recovery.rs`). A client nobody here wrote (the
//! `zookeeper-client` crate) does the writes.

use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{ChildGuard, four_letter, free_port, wait_until_serving};

const BIN: &str = env!("CARGO_BIN_EXE_menagerie");

/// A connection that sends a ConnectRequest (not waiting for the answer), `None` if the
/// connection cannot be made in time.
fn open_session(port: u16) -> Option<TcpStream> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    // protocolVersion, lastZxidSeen, timeOut, sessionId, passwd (16 zero bytes), readOnly.
    let mut body = Vec::new();
    body.extend_from_slice(&0i32.to_be_bytes());
    body.extend_from_slice(&0i64.to_be_bytes());
    body.extend_from_slice(&30_000i32.to_be_bytes());
    body.extend_from_slice(&0i64.to_be_bytes());
    body.extend_from_slice(&16i32.to_be_bytes());
    body.extend_from_slice(&[0; 16]);
    body.push(0);
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    s.write_all(&frame).ok()?;
    Some(s)
}

fn start(dir: &Path, port: u16) -> ChildGuard {
    let cfg = dir.join("zoo.cfg");
    let text = format!(
        "tickTime=500\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
         admin.enableServer=false\nmaxClientCnxns=0\nsnapCount=4\n4lw.commands.whitelist=*\n",
        dir.join("data").display()
    );
    std::fs::write(&cfg, text).expect("write zoo.cfg");
    let log = std::fs::File::create(dir.join("server.log")).expect("log file");
    let child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -n 256 && exec \"$0\" server --config \"$1\"")
        .arg(BIN)
        .arg(&cfg)
        .env_remove("NOTIFY_SOCKET")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start the server");
    let guard = ChildGuard(child);
    wait_until_serving(port);
    guard
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_descriptor_budget_leave_storage_working() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let _server = start(dir.path(), port);
    let client = zookeeper_client::Client::connector()
        .with_session_timeout(Duration::from_secs(10))
        .connect(&format!("127.0.0.1:{port}"))
        .await
        .expect("connect");

    // Sessions, not bare connections (those are closed after 10 s without a handshake).
    let t = Instant::now();
    let flood: Vec<TcpStream> = (0..400).filter_map(|_| open_session(port)).collect();
    eprintln!("{} flood connections in {:?}", flood.len(), t.elapsed());
    tokio::time::sleep(Duration::from_secs(1)).await;

    // 40 creates: about ten snapshots, each with a new log file.
    let mode =
        zookeeper_client::CreateMode::Persistent.with_acls(zookeeper_client::Acls::anyone_all());
    for i in 0..40 {
        let created = tokio::time::timeout(
            Duration::from_secs(10),
            client.create(&format!("/n{i}"), b"v", &mode),
        )
        .await;
        let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
        assert!(
            matches!(created, Ok(Ok(_))),
            "create {i} with {} flood connections open: {created:?}\n{log}",
            flood.len()
        );
    }
    drop(flood);
    tokio::time::sleep(Duration::from_millis(500)).await;
    // No restart: writable, and a new session is accepted and writes.
    assert_eq!(four_letter(port, "isro").as_deref(), Some("rw"));
    let fresh = zookeeper_client::Client::connector()
        .with_session_timeout(Duration::from_secs(10))
        .connect(&format!("127.0.0.1:{port}"))
        .await
        .expect("a new session after the flood");
    fresh
        .create("/after-the-flood", b"v", &mode)
        .await
        .expect("a write after the flood");
    let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
    assert!(
        log.contains("too many connections"),
        "the refused connections are logged:\n{log}"
    );
    assert!(
        log.matches("too many connections").count() < 10,
        "refusals are logged a few times, not once each:\n{log}"
    );
}
