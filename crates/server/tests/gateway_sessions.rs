//! The REST gateway's sessions and watches, and the admin port's authorization, through a
//! real HTTP client (reqwest): one session per caller, idle sessions closed with their
//! ephemerals, long-poll and Server-Sent-Events watches, the history from the transaction
//! log, and ZooKeeper 3.9's per-command rules (`snapshot` streaming a snapshot).

mod common;
mod gateway_common;

use std::time::Duration;

use gateway_common::{Api, SUPER, config, start};
use reqwest::StatusCode;
use serde_json::{Value, json};
use zookeeper_client as zk;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_session_per_caller_and_watches() {
    use reqwest::Method;
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, api) = start(dir.path()).await;
    let native = common::connect(&server.addr.to_string()).await;
    native
        .create(
            "/w",
            b"0",
            &zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all()),
        )
        .await
        .expect("create");
    // Many requests of two callers: two gateway sessions (plus the native one), not one per request.
    for i in 0..20 {
        let who = if i % 2 == 0 { None } else { Some("bob:pw") };
        assert_eq!(
            api.send(api.req(Method::GET, "/api/v1/znodes/w", who))
                .await
                .0,
            StatusCode::OK
        );
    }
    let (_, body) = api
        .send(api.req(Method::GET, "/api/v1/server/sessions", None))
        .await;
    let sessions = body["sessions"].as_array().expect("sessions");
    assert_eq!(sessions.len(), 3, "{body}");
    // An ephemeral made through the gateway belongs to the caller's gateway session.
    let (s, _) = api
        .send(api.req(
            Method::POST,
            "/api/v1/znodes/w/eph?mode=ephemeral",
            Some("bob:pw"),
        ))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, body) = api
        .send(api.req(Method::GET, "/api/v1/server/sessions", None))
        .await;
    let owners: Vec<&Value> = body["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .filter(|s| s["ephemerals"] == json!(["/w/eph"]))
        .collect();
    assert_eq!(owners.len(), 1, "{body}");

    // Long poll: the change made by the native client ends it with the event.
    let poll = {
        let r = api.req(Method::GET, "/api/v1/znodes/w?watch=data&timeout=20", None);
        tokio::spawn(async move {
            r.send()
                .await
                .expect("poll")
                .json::<Value>()
                .await
                .expect("json")
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    native.set_data("/w", b"1", None).await.expect("set");
    let event = tokio::time::timeout(Duration::from_secs(10), poll)
        .await
        .expect("in time")
        .expect("task");
    assert_eq!(event["event"]["type"], "NodeDataChanged", "{event}");
    assert_eq!(event["event"]["path"], "/w");
    // No change: 204 after the timeout.
    let r = api
        .req(Method::GET, "/api/v1/znodes/w?watch&timeout=1", None)
        .send()
        .await
        .expect("poll");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    // Children watch, and a data watch on a missing node waits for its creation.
    let kids = api
        .req(
            Method::GET,
            "/api/v1/znodes/w?watch=children&timeout=20",
            None,
        )
        .send();
    let born = api
        .req(Method::GET, "/api/v1/znodes/w/new?watch&timeout=20", None)
        .send();
    let both = tokio::spawn(async move {
        let (a, b) = tokio::join!(kids, born);
        (
            a.expect("kids").json::<Value>().await.expect("json"),
            b.expect("born").json::<Value>().await.expect("json"),
        )
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    native
        .create(
            "/w/new",
            b"",
            &zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all()),
        )
        .await
        .expect("create");
    let (a, b) = tokio::time::timeout(Duration::from_secs(10), both)
        .await
        .expect("in time")
        .expect("task");
    assert_eq!(a["event"]["type"], "NodeChildrenChanged", "{a}");
    assert_eq!(b["event"]["type"], "NodeCreated", "{b}");

    // Server-Sent Events: a recursive persistent watch streams every change below /w.
    let mut resp = api
        .req(Method::GET, "/api/v1/znodes/w?watch&recursive", None)
        .header("Accept", "text/event-stream")
        .send()
        .await
        .expect("stream");
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut text = String::new();
    let next_chunk = async |text: &mut String, resp: &mut reqwest::Response| {
        let c = tokio::time::timeout(Duration::from_secs(10), resp.chunk())
            .await
            .expect("in time")
            .expect("chunk")
            .expect("open");
        text.push_str(&String::from_utf8_lossy(&c));
    };
    while !text.contains("event: ready") {
        next_chunk(&mut text, &mut resp).await;
    }
    native.set_data("/w/new", b"x", None).await.expect("set");
    native.delete("/w/new", None).await.expect("delete");
    while !text.contains("event: NodeDeleted") {
        next_chunk(&mut text, &mut resp).await;
    }
    assert!(
        text.contains(
            "event: NodeDataChanged\ndata: {\"type\":\"NodeDataChanged\",\"path\":\"/w/new\""
        ),
        "{text}"
    );
    drop(resp);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_commands_need_rights_as_in_zookeeper_3_9() {
    use reqwest::Method;
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, api) = start(dir.path()).await;
    // Read-only commands: anyone.
    let (s, body) = api.send(api.req(Method::GET, "/commands/ruok", None)).await;
    assert_eq!((s, body["error"].clone()), (StatusCode::OK, Value::Null));
    // snapshot: an Authorization header is required (401), then ALL on / (open here).
    let (s, body) = api
        .send(api.req(Method::GET, "/commands/snapshot", None))
        .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (
            StatusCode::UNAUTHORIZED,
            Some("Auth info is missing for the command")
        )
    );
    let r = api
        .http
        .get(api.url("/commands/snapshot"))
        .header("Authorization", "nosuch x")
        .send()
        .await
        .expect("snap");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = api
        .req(Method::GET, "/commands/snapshot", Some("bob:pw"))
        .send()
        .await
        .expect("snapshot");
    assert_eq!(r.status(), StatusCode::OK);
    let size: u64 = r.headers()["snapshot_size"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("number");
    assert!(
        r.headers()["last_zxid"]
            .to_str()
            .expect("ascii")
            .starts_with("0x")
    );
    let bytes = r.bytes().await.expect("snapshot bytes");
    assert_eq!(bytes.len() as u64, size);
    assert_eq!(&bytes[..4], b"ZKSN", "a ZooKeeper snapshot file");
    // Rate limited (one per admin.rateLimiterIntervalInMS).
    let r = api
        .req(Method::GET, "/commands/snap", Some("bob:pw"))
        .send()
        .await
        .expect("snapshot");
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // History from the transaction log: one node's earlier data (needs READ on it), every
    // path's changes (needs ALL on /, as snapshot).
    for v in ["one", "two", "three"] {
        let r = api.req(Method::PUT, "/api/v1/znodes/hist", None);
        let r = if v == "one" {
            api.req(Method::POST, "/api/v1/znodes/hist", None)
        } else {
            r
        };
        assert!(api.send(r.body(v)).await.0.is_success());
    }
    let (s, body) = api
        .send(api.req(Method::GET, "/api/v1/history/hist", None))
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let kinds: Vec<&str> = body["changes"]
        .as_array()
        .expect("list")
        .iter()
        .map(|c| c["type"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(kinds, ["set", "set", "create"], "newest first: {body}");
    assert_eq!(
        body["changes"][2]["data_base64"], "b25l",
        "the created data, base64 of 'one'"
    );
    let (s, body) = api
        .send(api.req(Method::GET, "/api/v1/history?limit=2", None))
        .await;
    assert_eq!(
        (s, body["changes"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(2)),
        "{body}"
    );
    assert!(
        body["changes"][0].get("data_base64").is_none(),
        "no data in the global list"
    );
    let (s, _) = api
        .send(api.req(Method::GET, "/api/v1/history/nope", None))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // With the root restricted to super, bob is refused (403) and super is not.
    let super_only = json!([{"scheme": "world", "id": "anyone", "perms": "r"}]);
    let (s, body) = api
        .send(
            api.req(Method::PUT, "/api/v1/acl/", Some(SUPER))
                .json(&super_only),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, body) = api
        .send(api.req(Method::GET, "/commands/stat_reset", Some("bob:pw")))
        .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("Not authorized"))
    );
    let (s, body) = api
        .send(api.req(Method::GET, "/commands/srst", Some(SUPER)))
        .await;
    assert_eq!(
        (s, body["command"].as_str()),
        (StatusCode::OK, Some("stat_reset"))
    );
    // State-changing commands from the loopback without a header still run (compatibility).
    let (s, _) = api
        .send(api.req(Method::GET, "/commands/set_trace_mask?traceMask=306", None))
        .await;
    assert_eq!(s, StatusCode::OK);
    // restore is POST-only; an upload that is not a snapshot is refused, naming why.
    let (s, _) = api
        .send(api.req(Method::GET, "/commands/restore", Some(SUPER)))
        .await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    let (s, body) = api
        .send(
            api.req(Method::POST, "/commands/restore", Some(SUPER))
                .body("x"),
        )
        .await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("not a valid snapshot")),
        "{body}"
    );
    // Browser-borne requests of other sites: refused, not run with the loopback's rights.
    let evil_form = api
        .req(Method::POST, "/api/v1/znodes/csrf", None)
        .header("Origin", "https://evil.example");
    assert_eq!(api.send(evil_form).await.0, StatusCode::FORBIDDEN);
    let evil_img = api
        .req(Method::GET, "/commands/stat_reset", None)
        .header("Sec-Fetch-Site", "cross-site")
        .header("Sec-Fetch-Mode", "no-cors");
    assert_eq!(api.send(evil_img).await.0, StatusCode::FORBIDDEN);
    let rebound = api
        .req(Method::GET, "/api/v1/znodes", None)
        .header("Host", "evil.example");
    assert_eq!(api.send(rebound).await.0, StatusCode::FORBIDDEN);
    let same_origin = api
        .req(Method::POST, "/api/v1/znodes/csrf", Some(SUPER))
        .header("Origin", api.base.clone());
    assert_eq!(api.send(same_origin).await.0, StatusCode::CREATED);
    // Keep-alive on the gateway: two requests on one HTTP/1.1 connection.
    let c = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .build()
        .expect("client");
    for _ in 0..2 {
        let r = c
            .get(api.url("/api/v1/whoami"))
            .send()
            .await
            .expect("whoami");
        assert!(r.headers().get("connection").is_none(), "kept alive");
        r.bytes().await.expect("body");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sessions_are_closed_with_their_ephemerals() {
    use reqwest::Method;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = config(dir.path());
    c.admin.gateway_idle = Duration::from_millis(600);
    let server = menagerie_server::start(c).await.expect("start");
    let api = Api::new(server.admin_addr.expect("admin bound"));
    let native = common::connect(&server.addr.to_string()).await;
    let (s, _) = api
        .send(api.req(
            Method::POST,
            "/api/v1/znodes/lock?mode=ephemeral",
            Some("bob:pw"),
        ))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert!(native.check_stat("/lock").await.expect("exists").is_some());
    // An open watch keeps the session (and its ephemeral) alive past the idle time.
    let poll = api
        .req(
            Method::GET,
            "/api/v1/znodes/lock?watch&timeout=2",
            Some("bob:pw"),
        )
        .send();
    assert_eq!(poll.await.expect("poll").status(), StatusCode::NO_CONTENT);
    assert!(
        native.check_stat("/lock").await.expect("exists").is_some(),
        "kept while watched"
    );
    // Then, idle: closed (closeSession), so the ephemeral goes; the next request opens anew.
    let gone = async {
        while native.check_stat("/lock").await.expect("exists").is_some() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), gone)
        .await
        .expect("the idle session was closed");
    let (_, body) = api
        .send(api.req(Method::GET, "/api/v1/server/sessions", None))
        .await;
    assert_eq!(
        body["sessions"].as_array().map(Vec::len),
        Some(1),
        "only the native one: {body}"
    );
    server.stop().await;
}
