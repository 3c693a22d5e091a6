//! Autopurge on a live server (driven by the independent `zookeeper-client` crate): with a
//! tiny snapCount and a 50 ms purge interval, the newest `snapRetainCount` snapshots and the
//! logs needed after them survive, everything older goes, and the purged directory still
//! recovers every node. Without autopurge nothing is removed.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use menagerie_server::ServerConfig;
use menagerie_storage::datadir::{parse_log_name, parse_snapshot_name};
use zookeeper_client as zk;

const NODES: usize = 60;

fn config(dir: &Path, purge: Option<Duration>) -> ServerConfig {
    ServerConfig {
        pre_alloc_size: 64 << 10,
        snap_count: 4,
        autopurge_snap_retain_count: 3,
        autopurge_interval: purge,
        ..common::config(dir)
    }
}

/// (snapshot zxids, log zxids) in `dir/version-2`.
fn listing(dir: &Path) -> (BTreeSet<i64>, BTreeSet<i64>) {
    let mut snaps = BTreeSet::new();
    let mut logs = BTreeSet::new();
    for e in std::fs::read_dir(dir.join("version-2"))
        .expect("list")
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some((z, _)) = parse_snapshot_name(&name) {
            snaps.insert(z);
        } else if let Some(z) = parse_log_name(&name) {
            logs.insert(z);
        }
    }
    (snaps, logs)
}

/// The logs `snaps` need of those seen: the newest one starting at or before the oldest
/// snapshot, and every later one (`None` without such a log or snapshot).
fn needed_logs(snaps: &BTreeSet<i64>, seen_logs: &BTreeSet<i64>) -> Option<BTreeSet<i64>> {
    let oldest = *snaps.first()?;
    let base = *seen_logs.iter().filter(|&&z| z <= oldest).max()?;
    Some(seen_logs.iter().copied().filter(|&z| z >= base).collect())
}

/// Writes NODES nodes, sampling the directory after each write; returns every snapshot and
/// log zxid seen.
async fn write_and_watch(dir: &Path, client: &zk::Client) -> (BTreeSet<i64>, BTreeSet<i64>) {
    let open = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    let (mut snaps, mut logs) = listing(dir);
    for i in 0..NODES {
        client
            .create(&format!("/n{i:03}"), format!("v{i}").as_bytes(), &open)
            .await
            .expect("create");
        let (s, l) = listing(dir);
        snaps.extend(s);
        logs.extend(l);
    }
    (snaps, logs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autopurge_keeps_the_newest_snapshots_and_the_logs_they_need() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = menagerie_server::start(config(dir.path(), Some(Duration::from_millis(50))))
        .await
        .expect("start");
    let client = common::connect(&server.addr.to_string()).await;
    let (mut seen_snaps, mut seen_logs) = write_and_watch(dir.path(), &client).await;
    // No more snapshots are written now; the next purges leave exactly three and the logs
    // they need (a look during a purge may see the snapshots gone but not yet the logs).
    let patience = common::Patience::new("autopurge to finish");
    let (snaps, logs) = loop {
        let (s, l) = listing(dir.path());
        seen_snaps.extend(&s);
        seen_logs.extend(&l);
        if (s.len() <= 3 && needed_logs(&s, &seen_logs) == Some(l.clone())) || patience.expired() {
            break (s, l);
        }
        patience.wait().await;
    };
    drop(client);
    server.stop().await;

    assert!(
        seen_snaps.len() > 5,
        "only {} snapshots written",
        seen_snaps.len()
    );
    let newest: BTreeSet<i64> = seen_snaps.iter().rev().take(3).copied().collect();
    assert_eq!(snaps, newest, "kept snapshots (seen: {seen_snaps:?})");
    let want_logs =
        needed_logs(&snaps, &seen_logs).expect("a log starting before the oldest kept snapshot");
    assert_eq!(logs, want_logs, "kept logs (seen: {seen_logs:?})");
    assert!(logs.len() < seen_logs.len(), "no log was purged");

    // The purged directory recovers every node.
    let server = menagerie_server::start(config(dir.path(), None))
        .await
        .expect("restart");
    let client = common::connect(&server.addr.to_string()).await;
    for i in 0..NODES {
        let (data, _) = client
            .get_data(&format!("/n{i:03}"))
            .await
            .expect("node survives the purge");
        assert_eq!(data, format!("v{i}").into_bytes());
    }
    drop(client);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_autopurge_nothing_is_removed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = menagerie_server::start(config(dir.path(), None))
        .await
        .expect("start");
    let client = common::connect(&server.addr.to_string()).await;
    let (seen_snaps, seen_logs) = write_and_watch(dir.path(), &client).await;
    // A negative test has nothing to poll for: give a purge that should not exist three of
    // the other test's intervals to show itself.
    tokio::time::sleep(Duration::from_millis(150)).await;
    drop(client);
    server.stop().await;
    let (snaps, logs) = listing(dir.path());
    assert!(snaps.len() > 5, "{snaps:?}");
    // Everything seen is still there (a background snapshot may have finished since the last
    // look, so there may be more).
    assert!(seen_snaps.is_subset(&snaps), "{seen_snaps:?} vs {snaps:?}");
    assert!(seen_logs.is_subset(&logs), "{seen_logs:?} vs {logs:?}");
}
