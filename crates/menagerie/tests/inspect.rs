//! `menagerie inspect` on a data directory written by the server itself, driven by the
//! independent `zookeeper-client` crate: every txn the clients caused is in the logs, in
//! zxid order, and the snapshots' stored digests match their nodes (Menagerie writes exact
//! digests). A damaged copy makes the binary exit 1 and name the file and offset.

#[path = "../../server/tests/common/mod.rs"]
mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use menagerie_server::ServerConfig;
use serde_json::Value;
use zookeeper_client as zk;

fn config(dir: &Path) -> ServerConfig {
    ServerConfig {
        snap_count: 10,
        ..common::config(dir)
    }
}

fn inspect(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_menagerie"))
        .arg("inspect")
        .args(args)
        .output()
        .expect("run menagerie inspect");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json_lines(s: &str) -> Vec<Value> {
    s.lines()
        .map(|l| serde_json::from_str(l).expect("every stdout line is JSON"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_reads_what_the_server_wrote() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = menagerie_server::start(config(dir.path()))
        .await
        .expect("start");
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
    let mut created = BTreeSet::new();
    client.create("/app", b"root", &open).await.expect("create");
    created.insert("/app".to_owned());
    for i in 0..30 {
        let p = format!("/app/n{i:02}");
        client
            .create(&p, format!("v{i}").as_bytes(), &open)
            .await
            .expect("create");
        created.insert(p);
    }
    client
        .set_data("/app/n01", b"changed", None)
        .await
        .expect("set");
    client.delete("/app/n02", None).await.expect("delete");
    let eph = zk::CreateMode::Ephemeral.with_acls(zk::Acls::anyone_all());
    client.create("/eph", b"e", &eph).await.expect("ephemeral");
    created.insert("/eph".to_owned());
    let mut writer = client.new_multi_writer();
    writer.add_create("/m1", b"", &open).expect("add");
    writer.add_set_data("/app", b"m", None).expect("add");
    writer.commit().await.expect("multi");
    created.insert("/m1".to_owned());
    drop(client);
    server.stop().await;

    let (code, stdout, stderr) = inspect(&["--json", dir.path().to_str().expect("utf-8 path")]);
    assert_eq!(code, 0, "stderr: {stderr}");
    let v = json_lines(&stdout);
    let txns: Vec<&Value> = v.iter().filter(|x| x["kind"] == "txn").collect();
    let zxids: Vec<i64> = txns.iter().filter_map(|t| t["zxid"].as_i64()).collect();
    // Every txn once, in order: createSession + 31 creates + set + delete + ephemeral + multi.
    assert!(zxids.len() >= 36, "{} txns", zxids.len());
    assert_eq!(zxids, (1..=zxids.len() as i64).collect::<Vec<_>>());
    assert_eq!(txns[0]["type"], "createSession");
    let logged: BTreeSet<String> = txns
        .iter()
        .flat_map(|t| t["paths"].as_array().cloned().unwrap_or_default())
        .filter_map(|p| p.as_str().map(str::to_owned))
        .collect();
    assert!(
        created.is_subset(&logged),
        "missing {:?}",
        created.difference(&logged)
    );
    let multi = txns
        .iter()
        .find(|t| t["type"] == "multi")
        .expect("a multi txn");
    assert_eq!(multi["txn"]["txns"][1]["type"], "setData");
    // snapCount 10: several snapshots. Fuzzy (background) snapshots carry no digest block;
    // any digest that is there must match the nodes.
    let snaps: Vec<&Value> = v
        .iter()
        .filter(|x| x["kind"] == "summary" && x["format"] == "snapshot")
        .collect();
    assert!(snaps.len() >= 2, "{} snapshots", snaps.len());
    for s in &snaps {
        assert_eq!(s["ok"], true);
        if s["zxid"].as_i64() > Some(0) && !s["digest"].is_null() {
            assert_eq!(s["digest"]["matches"], true, "{s}");
        }
    }

    // The text summary names the range; a truncated copy of the newest log fails with its
    // offset.
    let logs = dir.path().join("version-2");
    let mut log_files: Vec<_> = std::fs::read_dir(&logs)
        .expect("list")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("log."))
        })
        .collect();
    log_files.sort();
    let first = log_files[0].to_str().expect("utf-8 path").to_owned();
    let (code, stdout, _) = inspect(&["--summary", &first]);
    assert_eq!(code, 0);
    assert!(stdout.contains("Txns: "), "{stdout}");
    assert!(stdout.contains("Sessions: 1 seen, 1 created"), "{stdout}");
    let bytes = std::fs::read(&log_files[0]).expect("read");
    let damaged = dir.path().join("damaged-log");
    // Past the header and into the first entry's body.
    std::fs::write(&damaged, &bytes[..40]).expect("write");
    let (code, stdout, stderr) = inspect(&[damaged.to_str().expect("utf-8 path")]);
    assert_eq!(code, 1, "stdout: {stdout}");
    assert!(
        stderr.contains("damaged-log: offset 16: truncated"),
        "stderr: {stderr}"
    );
}
