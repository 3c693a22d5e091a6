//! The server on an ephemeral loopback port, driven by the independent `zookeeper-client`
//! crate: data operations, multi, ephemerals across sessions, watches, and durability across
//! a restart on the same data directory.

mod common;

use std::time::Duration;

use menagerie_server::{RunningServer, ServerConfig};
use zookeeper_client as zk;

fn config(dir: &std::path::Path) -> ServerConfig {
    ServerConfig {
        extended_types: true,
        ..common::config(dir)
    }
}

async fn connect(server: &RunningServer) -> zk::Client {
    common::connect(&server.addr.to_string()).await
}

fn persistent() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}

#[tokio::test]
async fn data_operations_match_zookeeper() {
    let dir = tempfile::tempdir().unwrap();
    let server = menagerie_server::start(config(dir.path())).await.unwrap();
    let client = connect(&server).await;

    let (stat, seq) = client.create("/a", b"hello", &persistent()).await.unwrap();
    assert_eq!(seq.into_i64(), -1);
    assert_eq!(
        (stat.version, stat.num_children, stat.data_length),
        (0, 0, 5)
    );
    assert_eq!(stat.czxid, stat.pzxid);
    let (data, got) = client.get_data("/a").await.unwrap();
    assert_eq!((data.as_slice(), got), (&b"hello"[..], stat));

    assert_eq!(
        client.create("/a", b"", &persistent()).await.unwrap_err(),
        zk::Error::NodeExists
    );
    assert_eq!(
        client.create("/x/y", b"", &persistent()).await.unwrap_err(),
        zk::Error::NoNode
    );
    assert_eq!(
        client.set_data("/a", b"v", Some(7)).await.unwrap_err(),
        zk::Error::BadVersion
    );
    let stat = client.set_data("/a", b"v", Some(0)).await.unwrap();
    assert_eq!(stat.version, 1);
    sequential_numbers_follow_the_cversion(&client).await;

    // Root and /zookeeper report ZooKeeper's derived cversions.
    let root = client.check_stat("/zookeeper").await.unwrap().unwrap();
    assert_eq!(root.cversion, -2);
    a_failed_multi_applies_nothing(&client).await;

    // A container and a TTL node are created and report ephemeralOwner 0.
    let container = zk::CreateMode::Container.with_acls(zk::Acls::anyone_all());
    let (stat, _) = client.create("/c", b"", &container).await.unwrap();
    assert_eq!(stat.ephemeral_owner, 0);
    let ttl = zk::CreateMode::Persistent
        .with_acls(zk::Acls::anyone_all())
        .with_ttl(Duration::from_secs(60));
    let (stat, _) = client.create("/t", b"", &ttl).await.unwrap();
    assert_eq!(stat.ephemeral_owner, 0);
    server.stop().await;
}

/// Sequential children of /a: numbers follow the stored cversion.
async fn sequential_numbers_follow_the_cversion(client: &zk::Client) {
    let seq_opts = zk::CreateMode::PersistentSequential.with_acls(zk::Acls::anyone_all());
    let (_, s0) = client
        .create("/a/s-", b"", &seq_opts)
        .await
        .expect("answered");
    let (_, s1) = client
        .create("/a/s-", b"", &seq_opts)
        .await
        .expect("answered");
    assert_eq!((s0.into_i64(), s1.into_i64()), (0, 1));
    client
        .delete(&format!("/a/s-{s0}"), None)
        .await
        .expect("answered");
    let (_, s2) = client
        .create("/a/s-", b"", &seq_opts)
        .await
        .expect("answered");
    assert_eq!(
        s2.into_i64(),
        2,
        "numbers follow the stored cversion: deletes do not free them"
    );
    let (_, stat) = client.get_children("/a").await.expect("answered");
    assert_eq!((stat.cversion, stat.num_children), (4, 2));
    assert_eq!(
        client.delete("/a", None).await.expect_err("an error"),
        zk::Error::NotEmpty
    );
}

/// Multi: the failing op's index is reported and nothing is applied.
async fn a_failed_multi_applies_nothing(client: &zk::Client) {
    let mut writer = client.new_multi_writer();
    writer
        .add_create("/m1", b"", &persistent())
        .expect("answered");
    writer
        .add_set_data("/missing", b"", None)
        .expect("answered");
    assert_eq!(
        writer.commit().await.expect_err("an error"),
        zk::MultiWriteError::OperationFailed {
            index: 1,
            source: zk::Error::NoNode
        }
    );
    assert_eq!(client.check_stat("/m1").await.expect("answered"), None);
}

#[tokio::test]
async fn ephemerals_and_watches_across_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let server = menagerie_server::start(config(dir.path())).await.unwrap();
    let owner = connect(&server).await;
    let observer = connect(&server).await;
    let ephemeral = zk::CreateMode::Ephemeral.with_acls(zk::Acls::anyone_all());
    owner.create("/e", b"", &ephemeral).await.unwrap();
    assert_eq!(
        owner.create("/e/child", b"", &ephemeral).await.unwrap_err(),
        zk::Error::NoChildrenForEphemerals
    );
    let (_, _, watcher) = observer.get_and_watch_data("/e").await.unwrap();
    assert_eq!(owner.list_ephemerals("/").await.unwrap(), vec!["/e"]);
    drop(owner); // closes the session
    let event = tokio::time::timeout(Duration::from_secs(10), watcher.changed())
        .await
        .expect("NodeDeleted in time");
    assert_eq!(event.event_type, zk::EventType::NodeDeleted);
    assert_eq!(event.path, "/e");
    assert_eq!(observer.check_stat("/e").await.unwrap(), None);
    server.stop().await;
}

#[tokio::test]
async fn acknowledged_writes_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = menagerie_server::start(config(dir.path())).await.unwrap();
    let client = connect(&server).await;
    for i in 0..20 {
        client
            .create(&format!("/k{i}"), format!("v{i}").as_bytes(), &persistent())
            .await
            .unwrap();
    }
    client.delete("/k3", None).await.unwrap();
    let before = client.check_stat("/k7").await.unwrap().unwrap();
    drop(client);
    server.stop().await;

    let server = menagerie_server::start(config(dir.path())).await.unwrap();
    let client = connect(&server).await;
    let (data, stat) = client.get_data("/k7").await.unwrap();
    assert_eq!((data.as_slice(), stat), (&b"v7"[..], before));
    assert_eq!(client.check_stat("/k3").await.unwrap(), None);
    let (_, root) = client.get_children("/").await.unwrap();
    assert_eq!(root.num_children, 20, "19 keys and /zookeeper");
    // The replayed txns are snapshotted right after the start (no snapshot existed before:
    // snapCount was never reached).
    let version_2 = dir.path().join("version-2");
    common::eventually("a snapshot after replaying the log at startup", || {
        let snapshots = std::fs::read_dir(&version_2)
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| {
                let n = e.file_name();
                let n = n.to_string_lossy();
                n.starts_with("snapshot.") && !n.ends_with(".tmp")
            })
            .count();
        std::future::ready(snapshots > 0)
    })
    .await;
    server.stop().await;
}
