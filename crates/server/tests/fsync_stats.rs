//! The server counts every transaction-log fsync (`RunningServer::fsync_stats`) and the ones
//! slower than `fsync.warningthresholdms`, driven by the independent `zookeeper-client` crate.

mod common;

use std::time::Duration;

use menagerie_server::ServerConfig;
use zookeeper_client as zk;

fn config(dir: &std::path::Path, threshold_ms: u64) -> ServerConfig {
    ServerConfig {
        pre_alloc_size: 64 << 10,
        fsync_warning_threshold_ms: threshold_ms,
        ..common::config(dir)
    }
}

async fn writes(threshold_ms: u64) -> menagerie_server::persistence::FsyncStatsSnapshot {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = menagerie_server::start(config(dir.path(), threshold_ms))
        .await
        .expect("start");
    assert_eq!(server.fsync_stats.snapshot().count, 0);
    let client = tokio::time::timeout(
        Duration::from_secs(10),
        zk::Client::connector()
            .with_session_timeout(Duration::from_secs(5))
            .connect(&server.addr.to_string()),
    )
    .await
    .expect("connect in time")
    .expect("connect");
    let open = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    // One at a time: each write is its own commit, acknowledged only after its fsync.
    for i in 0..20 {
        client
            .create(&format!("/n{i}"), b"x", &open)
            .await
            .expect("create");
    }
    let stats = server.fsync_stats.snapshot();
    drop(client);
    server.stop().await;
    stats
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fsync_is_counted_and_slow_ones_too() {
    // createSession + 20 creates, each replied to after its own commit.
    let s = writes(60_000).await;
    assert!(s.count >= 21, "{s:?}");
    assert_eq!(s.slow, 0);
    assert_eq!(s.buckets.iter().sum::<u64>(), s.count);
    assert!(s.max > Duration::ZERO && s.total >= s.max);
    // A zero threshold makes every fsync a slow one.
    let s = writes(0).await;
    assert!(s.count >= 21, "{s:?}");
    assert_eq!(s.slow, s.count);
}
