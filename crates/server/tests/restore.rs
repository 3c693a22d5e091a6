//! ZooKeeper 3.9's `restore` admin command through a real HTTP client (reqwest) and a real
//! ZooKeeper client (the `zookeeper-client` crate): a snapshot streamed by one server's
//! `snapshot` command replaces another server's tree, survives its restart, and a
//! truncated, damaged or unauthenticated upload changes nothing.

mod common;
mod gateway_common;

use std::collections::BTreeMap;
use std::time::Duration;

use gateway_common::{Api, SUPER, config};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use zookeeper_client as zk;

/// Every znode under `/` with its data (the `/zookeeper` subtree included), read by a
/// client; at most 10,000 nodes.
async fn tree(addr: &str) -> BTreeMap<String, Vec<u8>> {
    let client = common::connect(addr).await;
    let mut out = BTreeMap::new();
    let mut todo = vec!["/".to_string()];
    while let Some(path) = todo.pop() {
        assert!(out.len() < 10_000, "tree too large for this test");
        let (data, _) = client.get_data(&path).await.expect("getData");
        let (children, _) = client.get_children(&path).await.expect("getChildren");
        for c in children {
            todo.push(if path == "/" {
                format!("/{c}")
            } else {
                format!("{path}/{c}")
            });
        }
        out.insert(path, data);
    }
    out
}

async fn start(
    dir: &std::path::Path,
    rate_limited: bool,
) -> (menagerie_server::RunningServer, Api) {
    let mut c = config(dir);
    if !rate_limited {
        c.admin.rate_limit = Duration::ZERO;
    }
    let server = common::within(menagerie_server::start(c))
        .await
        .expect("start");
    let api = Api::new(server.admin_addr.expect("admin bound"));
    (server, api)
}

async fn post(api: &Api, body: Vec<u8>, auth: Option<&str>) -> (StatusCode, Value) {
    api.send(api.req(Method::POST, "/commands/restore", auth).body(body))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_of_one_server_restored_into_another_replaces_its_tree() {
    let open = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    // Server A: a small tree, then its snapshot through the admin command.
    let dir_a = tempfile::tempdir().expect("tempdir");
    let (a, api_a) = start(dir_a.path(), true).await;
    let client = common::connect(&a.addr.to_string()).await;
    client.create("/app", b"root", &open).await.expect("create");
    client
        .create("/app/config", b"{\"v\":1}", &open)
        .await
        .expect("create");
    for i in 0..50 {
        client
            .create(&format!("/app/item{i}"), format!("{i}").as_bytes(), &open)
            .await
            .expect("create");
    }
    let snap = api_a
        .req(Method::GET, "/commands/snapshot", Some(SUPER))
        .send()
        .await
        .expect("snapshot");
    assert_eq!(snap.status(), StatusCode::OK);
    let snapshot = snap.bytes().await.expect("snapshot bytes").to_vec();
    let want = tree(&a.addr.to_string()).await;

    // Server B: other data.
    let dir_b = tempfile::tempdir().expect("tempdir");
    let (b, api_b) = start(dir_b.path(), false).await;
    let b_addr = b.addr.to_string();
    common::connect(&b_addr)
        .await
        .create("/old", b"b", &open)
        .await
        .expect("create");
    let before = tree(&b_addr).await;

    // Refused, and nothing changes: no credentials, a truncated stream, a damaged byte.
    let (s, body) = post(&api_b, snapshot.clone(), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{body}");
    let truncated = snapshot[..snapshot.len() - 7].to_vec();
    let mut damaged = snapshot.clone();
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0x5a;
    for bad in [truncated, damaged, b"not a snapshot".to_vec()] {
        let (s, body) = post(&api_b, bad, Some(SUPER)).await;
        assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
        let error = body["error"].as_str().expect("an error message");
        assert!(error.contains("snapshot"), "{error}");
        assert_eq!(
            tree(&b_addr).await,
            before,
            "a refused restore changed the tree"
        );
    }

    // Restored: B now has A's tree, and the old node is gone.
    let (s, body) = post(&api_b, snapshot.clone(), Some(SUPER)).await;
    assert_eq!(
        (s, body["command"].as_str()),
        (StatusCode::OK, Some("restore")),
        "{body}"
    );
    assert!(body["last_zxid"].as_i64().is_some_and(|z| z > 0), "{body}");
    assert_eq!(tree(&b_addr).await, want);
    // Writes go on from there, and a restart recovers the restored state with them.
    common::connect(&b_addr)
        .await
        .create("/after", b"x", &open)
        .await
        .expect("create after");
    let mut expected = want.clone();
    expected.insert("/after".into(), b"x".to_vec());
    b.stop().await;
    let (b, _api) = start(dir_b.path(), false).await;
    assert_eq!(tree(&b.addr.to_string()).await, expected);
    drop(a);
}
