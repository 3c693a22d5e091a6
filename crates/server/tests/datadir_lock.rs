//! One server per data directory (issue 16, item 7): a second server started by mistake on
//! a directory in use, or on a port in use, stops before it reads or writes any data file,
//! so the running server's log (whose unfinished write looks like a torn tail) is left
//! alone. Driven by the `zookeeper-client` crate.

mod common;

use std::path::{Path, PathBuf};

use menagerie_server::StartError;
use zookeeper_client as zk;

fn log_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(dir.join("version-2"))
        .expect("version-2")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("log."))
        })
        .map(|p| {
            let bytes = std::fs::read(&p).expect("read log");
            (p, bytes)
        })
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn a_second_server_on_a_data_directory_in_use_is_refused_naming_the_owner() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = common::within(menagerie_server::start(common::config(dir.path())))
        .await
        .expect("first server");
    let client = common::connect(&first.addr.to_string()).await;
    let open = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    for i in 0..50 {
        client
            .create(&format!("/n{i}"), b"acknowledged", &open)
            .await
            .expect("create");
    }
    let before = log_files(dir.path());

    // Same data directory, another port; then a separate log directory that is in use.
    let err = match menagerie_server::start(common::config(dir.path())).await {
        Ok(_) => panic!("a second server started on a data directory in use"),
        Err(e) => e,
    };
    assert!(matches!(err, StartError::Locked(_)), "{err}");
    let text = err.to_string();
    let owner = format!("process {}", std::process::id());
    assert!(
        text.contains(&owner) && text.contains("menagerie.lock"),
        "{text}"
    );
    let other = tempfile::tempdir().expect("tempdir");
    let mut c = common::config(other.path());
    c.data_log_dir = dir.path().to_path_buf();
    let err = menagerie_server::start(c)
        .await
        .err()
        .expect("log dir in use");
    assert!(err.to_string().contains(&owner), "{err}");
    assert_eq!(
        log_files(dir.path()),
        before,
        "the running server's log untouched"
    );

    // The first server goes on, and everything it acknowledged survives a restart.
    client
        .create("/after", b"", &open)
        .await
        .expect("still serving");
    drop(client);
    first.stop().await;
    let again = common::within(menagerie_server::start(common::config(dir.path())))
        .await
        .expect("restart once the first server stopped");
    let client = common::connect(&again.addr.to_string()).await;
    let children = client.list_children("/").await.expect("ls /");
    assert_eq!(children.len(), 52, "{children:?}");
    drop(client);
    again.stop().await;
}

#[tokio::test]
async fn a_taken_client_port_stops_startup_before_any_data_file_is_touched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = common::within(menagerie_server::start(common::config(dir.path())))
        .await
        .expect("server");
    let client = common::connect(&server.addr.to_string()).await;
    let open = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    client.create("/kept", b"", &open).await.expect("create");
    drop(client);
    server.stop().await;
    // A torn entry at the tail: what a running server's unfinished write looks like.
    let (log, mut bytes) = log_files(dir.path()).pop().expect("a log file");
    let end = bytes.iter().rposition(|&b| b == b'B').expect("an entry") + 1;
    bytes[end..end + 12].copy_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 40]);
    bytes[end + 12..end + 30].fill(7);
    std::fs::write(&log, &bytes).expect("write torn tail");

    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let mut c = common::config(dir.path());
    c.client_addr = taken.local_addr().expect("addr");
    let err = menagerie_server::start(c).await.err().expect("port taken");
    assert!(matches!(err, StartError::Listen(_)), "{err}");
    assert_eq!(
        std::fs::read(&log).expect("read"),
        bytes,
        "log not repaired"
    );
}
