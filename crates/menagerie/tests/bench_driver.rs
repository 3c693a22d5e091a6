//! `menagerie bench`'s pipelined driver against a running server: every operation it counts
//! is real (the server's zxid moves at least as far as the writes it counted), replies are
//! matched in order (a mismatch is an error), and nothing fails.

#[path = "../../server/tests/common/mod.rs"]
mod common;

use std::time::Duration;

use menagerie_tools::bench::{BenchConfig, Workload, run};

/// The server's last zxid, from `srvr`.
async fn zxid(addr: std::net::SocketAddr) -> i64 {
    let text = common::four_letter(addr, "srvr").await;
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("Zxid: "))
        .expect("srvr reports the zxid");
    i64::from_str_radix(line.trim().trim_start_matches("0x"), 16).expect("hex zxid")
}

fn config(addr: std::net::SocketAddr) -> BenchConfig {
    BenchConfig {
        target: addr.to_string(),
        sessions: 4,
        outstanding: 8,
        duration: Duration::from_millis(400),
        rate: None,
        progress: false,
    }
}

#[tokio::test]
async fn the_driver_counts_only_operations_the_server_did() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = menagerie_server::start(common::config(dir.path()))
        .await
        .expect("start");
    let bench = config(server.addr);
    // Writes: each counted operation is one txn (setup and cleanup add more).
    for (name, txns_per_op) in [("set", 1), ("create", 1), ("sessions", 2), ("watch20", 1)] {
        let workload = Workload::parse(name).expect("workload");
        let before = zxid(server.addr).await;
        let r = run(&bench, workload).await.expect("bench run");
        let after = zxid(server.addr).await;
        assert_eq!(r.errors, 0, "{name}: {r:?}");
        assert!(r.ops > 0, "{name}: {r:?}");
        assert!(
            after - before >= txns_per_op * r.ops as i64,
            "{name}: {} ops counted, zxid moved {}",
            r.ops,
            after - before
        );
        assert!(r.latency_us[0] > 0 && r.latency_us[0] <= r.latency_us[3]);
    }
    // Reads: no txn, no error.
    for name in ["get", "exists", "children", "mixed90"] {
        let workload = Workload::parse(name).expect("workload");
        let r = run(&bench, workload).await.expect("bench run");
        assert_eq!(r.errors, 0, "{name}: {r:?}");
        assert!(r.ops > 0, "{name}: {r:?}");
    }
    // Paced: about rate x duration operations, never far more.
    let paced = BenchConfig {
        rate: Some(2_000.0),
        duration: Duration::from_millis(500),
        ..bench.clone()
    };
    let before = zxid(server.addr).await;
    let r = run(&paced, Workload::SetData(100))
        .await
        .expect("paced run");
    let after = zxid(server.addr).await;
    assert_eq!(r.errors, 0, "{r:?}");
    assert!((500..=1_100).contains(&r.ops), "{r:?}");
    assert!(after - before >= r.ops as i64);
    server.stop().await;
}
