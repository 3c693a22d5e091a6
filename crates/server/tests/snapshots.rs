//! Background (fuzzy) snapshots: written while concurrent clients keep changing the tree,
//! including ACL lists that did not exist when a snapshot started, and the restarted server
//! shows exactly the tree the clients last saw. Driven by the independent `zookeeper-client`
//! crate. (Which interleavings occur depends on timing; the replay cases that once made this
//! test fail now and then are reproduced deterministically in `crates/host/tests/snapshots.rs`.)

mod common;

use std::collections::BTreeMap;

use menagerie_server::{RunningServer, ServerConfig};
use zookeeper_client as zk;

fn config(dir: &std::path::Path) -> ServerConfig {
    ServerConfig {
        // A snapshot every 500-1000 txns: several during the test, each spanning several
        // slices of the tree.
        snap_count: 1000,
        four_letter_whitelist: vec!["mntr".into()],
        ..common::config(dir)
    }
}

async fn connect(server: &RunningServer) -> zk::Client {
    common::connect(&server.addr.to_string()).await
}

type Dump = BTreeMap<String, (Vec<u8>, zk::Stat, Vec<(String, String, String)>)>;

/// Every node outside /zookeeper with its data, Stat and ACL (the static bulk below /bulk is
/// counted by its parent's Stat only).
async fn dump(client: &zk::Client) -> Dump {
    let mut out = BTreeMap::new();
    let mut stack = vec!["/".to_owned()];
    while let Some(p) = stack.pop() {
        if p.starts_with("/zookeeper") || p.starts_with("/bulk/") {
            continue;
        }
        let (data, stat) = client.get_data(&p).await.expect("getData");
        let (acl, _) = client.get_acl(&p).await.expect("getACL");
        let acl = acl
            .iter()
            .map(|a| {
                (
                    a.scheme().to_owned(),
                    a.id().to_owned(),
                    format!("{:?}", a.permission()),
                )
            })
            .collect();
        out.insert(p.clone(), (data, stat, acl));
        let children = client.list_children(&p).await.expect("getChildren");
        for c in children {
            stack.push(if p == "/" {
                format!("/{c}")
            } else {
                format!("{p}/{c}")
            });
        }
    }
    out
}

/// `zk_digest_mismatches_count` from `mntr`.
async fn digest_mismatches(server: &RunningServer) -> String {
    common::mntr(server.addr, "digest_mismatches_count").await
}

/// Every snapshot's digest block (zxid of the file, zxid of the digest).
fn snapshot_digests(dir: &std::path::Path) -> Vec<(i64, Option<i64>)> {
    let fs = menagerie_storage::StdFs;
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir.join("version-2")).expect("version-2") {
        let path = e.expect("entry").path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        if name.is_some_and(|n| n.starts_with("snapshot.") && !n.ends_with(".tmp")) {
            let snap = menagerie_storage::snapshot::read_snapshot(&fs, &path).expect("snapshot");
            out.push((snap.zxid, snap.trailer.digest.map(|d| d.zxid.0)));
        }
    }
    out
}

fn snapshot_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir.join("version-2"))
        .expect("version-2")
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with("snapshot.") && !name.ends_with(".tmp")
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzzy_snapshots_under_concurrent_writes_recover_exactly() {
    // Server logs (snapshot started/written/abandoned) show with --nocapture.
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let dir = tempfile::tempdir().expect("tempdir");
    let server = menagerie_server::start(config(dir.path()))
        .await
        .expect("start");
    create_bulk(&connect(&server).await).await;
    let clients = run_writers(&server).await;
    let before = dump(&clients[0]).await;
    drop(clients);
    // Every txn's digest matched the tree after it was applied.
    assert_eq!(digest_mismatches(&server).await, "0");
    server.stop().await;
    let snapshots = snapshot_files(dir.path());
    assert!(snapshots >= 3, "only {snapshots} snapshots were written");
    // Each snapshot carries the digest of the tree when its walk ended, at or after the zxid
    // it is named after (ZooKeeper's fuzzy snapshots do the same).
    let digests = snapshot_digests(dir.path());
    eprintln!("snapshot zxid -> digest zxid: {digests:x?}");
    for (zxid, digest_zxid) in &digests {
        assert!(digest_zxid.is_some_and(|d| d >= *zxid), "{digests:x?}");
    }

    let server = menagerie_server::start(config(dir.path()))
        .await
        .expect("restart");
    let client = connect(&server).await;
    let after = dump(&client).await;
    assert_eq!(before.len(), after.len());
    for (path, want) in &before {
        assert_eq!(after.get(path), Some(want), "{path}");
    }
    // Recovery compared the newest snapshot's digest when replay reached its zxid, and
    // every replayed txn's digest.
    assert_eq!(digest_mismatches(&server).await, "0");
    server.stop().await;
}

/// 20,000 static nodes under /bulk, so that every snapshot spans several slices and the
/// writers change the tree between them.
async fn create_bulk(bulk: &zk::Client) {
    let open = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    bulk.create("/bulk", b"", &open)
        .await
        .expect("create /bulk");
    for chunk in 0..40 {
        let mut multi = bulk.new_multi_writer();
        for i in 0..500 {
            multi
                .add_create(&format!("/bulk/b{}", chunk * 500 + i), &[7; 100], &open)
                .expect("multi create");
        }
        multi.commit().await.expect("multi commit");
    }
}

/// Eight clients each creating 700 nodes under /t<n> (every 25th with a new ACL list),
/// changing and deleting some as they go; returns the clients when all are done.
async fn run_writers(server: &RunningServer) -> Vec<zk::Client> {
    let mut tasks = Vec::new();
    for t in 0..8u32 {
        let client = connect(server).await;
        tasks.push(tokio::spawn(async move {
            let open = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
            let base = format!("/t{t}");
            client.create(&base, b"", &open).await.expect("create base");
            for i in 0..700u32 {
                let path = format!("{base}/n{i}");
                if i % 25 == 0 {
                    // A brand-new ACL list, likely while a snapshot is being written.
                    let acl = [
                        zk::Acl::new(zk::Permission::ALL, zk::AuthId::new("world", "anyone")),
                        zk::Acl::new(
                            zk::Permission::READ,
                            zk::AuthId::new("ip", &format!("10.{t}.{}.{}", i / 256, i % 256)),
                        ),
                    ];
                    let opts = zk::CreateMode::Persistent.with_acls(zk::Acls::new(&acl));
                    client.create(&path, b"acl", &opts).await.expect("create");
                } else {
                    client
                        .create(&path, format!("v{i}").as_bytes(), &open)
                        .await
                        .expect("create");
                }
                if i % 5 == 4 {
                    client
                        .set_data(&format!("{base}/n{}", i - 2), b"changed", None)
                        .await
                        .expect("setData");
                }
                if i % 7 == 6 {
                    client
                        .delete(&format!("{base}/n{}", i - 3), None)
                        .await
                        .expect("delete");
                }
            }
            client
        }));
    }
    let mut clients = Vec::new();
    for task in tasks {
        clients.push(task.await.expect("writer task"));
    }
    clients
}
