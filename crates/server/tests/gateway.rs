//! The REST gateway (`/api/v1`) through a real HTTP client (reqwest): every verb, ACL
//! decisions for anonymous, digest, super, ip and x509 callers (the same as for native
//! clients, whose view is checked with the `zookeeper-client` crate), multi, long-poll and
//! Server-Sent-Events watches, one session per caller, and the admin commands' per-command
//! authorization (ZooKeeper 3.9's rules, `snapshot` streaming a snapshot).

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use menagerie_server::config::AdminConfig;
use menagerie_server::{RunningServer, ServerConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};
use zookeeper_client as zk;

const SUPER: &str = "super:admin";
const SUPER_DIGEST: &str = "super:xQJmxLMiHGwaqBvst5y6rkB6HQs=";

fn config(dir: &std::path::Path) -> ServerConfig {
    let mut c = ServerConfig {
        admin: AdminConfig {
            enabled: true,
            addr: "127.0.0.1:0".parse().expect("loopback"),
            rate_limit: Duration::from_secs(3600),
            ..AdminConfig::zookeeper_default()
        },
        ..common::config(dir)
    };
    c.auth.super_digest = Some(SUPER_DIGEST.into());
    c
}

struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    fn new(addr: SocketAddr) -> Api {
        Api {
            base: format!("http://{addr}"),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .expect("client"),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn req(
        &self,
        method: reqwest::Method,
        path: &str,
        auth: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let r = self.http.request(method, self.url(path));
        match auth {
            Some(a) => r.header("Authorization", format!("digest {a}")),
            None => r,
        }
    }

    async fn send(&self, r: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let resp = r.send().await.expect("HTTP exchange");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

async fn start(dir: &std::path::Path) -> (RunningServer, Api) {
    let server = menagerie_server::start(config(dir)).await.expect("start");
    let api = Api::new(server.admin_addr.expect("admin bound"));
    (server, api)
}

fn digest(user_password: &str) -> String {
    menagerie_core::auth::digest_id(user_password)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_verb_on_znodes() {
    use reqwest::Method;
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, api) = start(dir.path()).await;
    let native = common::connect(&server.addr.to_string()).await;

    // POST creates, with the data as the body; 201 and Location.
    let r = api
        .req(Method::POST, "/api/v1/znodes/app", None)
        .body("v1")
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.headers()["location"], "/api/v1/znodes/app");
    let (data, stat) = native.get_data("/app").await.expect("native read");
    assert_eq!((data.as_slice(), stat.version), (&b"v1"[..], 0));
    // Sequential: the created name comes back.
    let (s, body) = api
        .send(api.req(
            Method::POST,
            "/api/v1/znodes/app/job-?mode=persistent_sequential",
            None,
        ))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    assert_eq!(body["path"], "/app/job-0000000000");
    // Existing node: 409 NodeExists; missing parent: 404 NoNode; bad mode: 400.
    let (s, body) = api
        .send(api.req(Method::POST, "/api/v1/znodes/app", None))
        .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("NodeExists"))
    );
    let (s, body) = api
        .send(api.req(Method::POST, "/api/v1/znodes/no/such", None))
        .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("NoNode"))
    );
    let (s, _) = api
        .send(api.req(Method::POST, "/api/v1/znodes/x?mode=weird", None))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // TTL nodes need extendedTypesEnabled (off here): ZooKeeper's Unimplemented.
    let (s, body) = api
        .send(api.req(
            Method::POST,
            "/api/v1/znodes/t?mode=persistent_with_ttl&ttl=1000",
            None,
        ))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");

    // GET: raw bytes with the version as ETag, or JSON with stat and children.
    let r = api
        .req(Method::GET, "/api/v1/znodes/app", None)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["etag"], "\"0\"");
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    assert_eq!(r.bytes().await.expect("body").as_ref(), b"v1");
    native
        .create(
            "/app/b",
            b"",
            &zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all()),
        )
        .await
        .expect("create");
    let (s, body) = api
        .send(api.req(Method::GET, "/api/v1/znodes/app?children", None))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["data"], "v1");
    assert_eq!(body["stat"]["numChildren"], 2);
    assert_eq!(body["children"], json!(["b", "job-0000000000"]));
    let (_, body) = api
        .send(api.req(
            Method::GET,
            "/api/v1/znodes/app?children&prefix=j&limit=5",
            None,
        ))
        .await;
    assert_eq!(
        (body["children"].clone(), body["children_total"].clone()),
        (json!(["job-0000000000"]), json!(1))
    );
    let (_, body) = api
        .send(
            api.req(Method::GET, "/api/v1/znodes", None)
                .header("Accept", "application/json"),
        )
        .await;
    assert_eq!(body["path"], "/");
    let (s, body) = api
        .send(api.req(Method::GET, "/api/v1/znodes/nope", None))
        .await;
    assert_eq!(
        (s, body["error"].as_str(), body["code"].as_i64()),
        (StatusCode::NOT_FOUND, Some("NoNode"), Some(-101))
    );
    let r = api
        .req(Method::HEAD, "/api/v1/znodes/app", None)
        .send()
        .await
        .expect("head");
    assert_eq!(r.status(), StatusCode::OK);

    // PUT: setData, conditional on If-Match (412 BadVersion when stale).
    let (s, body) = api
        .send(
            api.req(Method::PUT, "/api/v1/znodes/app", None)
                .header("If-Match", "\"0\"")
                .body("v2"),
        )
        .await;
    assert_eq!(
        (s, body["stat"]["version"].as_i64()),
        (StatusCode::OK, Some(1))
    );
    let (s, body) = api
        .send(
            api.req(Method::PUT, "/api/v1/znodes/app", None)
                .header("If-Match", "0")
                .body("v3"),
        )
        .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::PRECONDITION_FAILED, Some("BadVersion"))
    );
    assert_eq!(native.get_data("/app").await.expect("read").0, b"v2");
    let (s, _) = api
        .send(
            api.req(Method::PUT, "/api/v1/znodes/app?version=1", None)
                .body("v3"),
        )
        .await;
    assert_eq!(s, StatusCode::OK);

    // DELETE: 409 NotEmpty, 412 on a stale version, 204 when done.
    let (s, body) = api
        .send(api.req(Method::DELETE, "/api/v1/znodes/app", None))
        .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("NotEmpty"))
    );
    let (s, _) = api
        .send(api.req(Method::DELETE, "/api/v1/znodes/app/b?version=7", None))
        .await;
    assert_eq!(s, StatusCode::PRECONDITION_FAILED);
    let (s, _) = api
        .send(
            api.req(Method::DELETE, "/api/v1/znodes/app/b", None)
                .header("If-Match", "0"),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert!(native.check_stat("/app/b").await.expect("exists").is_none());
    let (s, _) = api
        .send(api.req(Method::PATCH, "/api/v1/znodes/app", None))
        .await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);

    // Multi: all or nothing; the failure's status with each op's result.
    let ops = json!([
        {"op": "create", "path": "/m1", "data": "a"},
        {"op": "set", "path": "/app", "data": "m", "version": 2},
        {"op": "check", "path": "/app", "version": 3},
    ]);
    let (s, body) = api
        .send(api.req(Method::POST, "/api/v1/multi", None).json(&ops))
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["results"][0]["path"], "/m1");
    let bad = json!([
        {"op": "create", "path": "/m2"},
        {"op": "delete", "path": "/nope"},
    ]);
    let (s, body) = api
        .send(api.req(Method::POST, "/api/v1/multi", None).json(&bad))
        .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("NoNode")),
        "{body}"
    );
    assert_eq!(body["results"][1]["error"], "NoNode");
    assert!(
        native.check_stat("/m2").await.expect("exists").is_none(),
        "multi is atomic"
    );
    let (s, _) = api
        .send(api.req(Method::POST, "/api/v1/multi", None).body("{"))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // The OpenAPI document names every route.
    let (s, doc) = api
        .send(api.req(Method::GET, "/api/v1/openapi.json", None))
        .await;
    assert_eq!(s, StatusCode::OK);
    for p in [
        "/znodes/{path}",
        "/acl/{path}",
        "/multi",
        "/whoami",
        "/server/sessions",
        "/server/largest",
    ] {
        assert!(
            doc["paths"].get(p).is_some(),
            "{p} missing from the OpenAPI document"
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acls_decide_as_for_native_clients() {
    use reqwest::Method;
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, api) = start(dir.path()).await;
    let bob = digest("bob:pw");
    // Bob-only node, created by bob through the gateway.
    let acl = format!("digest:{bob}:cdrwa");
    let (s, body) = api
        .send(
            api.req(
                Method::POST,
                &format!("/api/v1/znodes/bob?acl={acl}"),
                Some("bob:pw"),
            )
            .body("secret"),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    // Anonymous, a wrong password and another user: 403 NoAuth; bob and super: 200.
    for who in [None, Some("bob:wrong"), Some("eve:pw")] {
        let (s, body) = api
            .send(api.req(Method::GET, "/api/v1/znodes/bob", who))
            .await;
        assert_eq!(
            (s, body["error"].as_str()),
            (StatusCode::FORBIDDEN, Some("NoAuth")),
            "{who:?}"
        );
        let (s, _) = api
            .send(api.req(Method::PUT, "/api/v1/znodes/bob", who).body("x"))
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{who:?}");
    }
    for who in ["bob:pw", SUPER] {
        let r = api
            .req(Method::GET, "/api/v1/znodes/bob", Some(who))
            .send()
            .await
            .expect("get");
        assert_eq!(r.status(), StatusCode::OK, "{who}");
        assert_eq!(r.bytes().await.expect("body").as_ref(), b"secret");
    }
    // A native client sees the same decision.
    let native = common::connect(&server.addr.to_string()).await;
    assert!(matches!(
        native.get_data("/bob").await,
        Err(zk::Error::NoAuth)
    ));
    native.auth("digest", b"bob:pw").await.expect("addauth");
    assert_eq!(
        native.get_data("/bob").await.expect("bob reads").0,
        b"secret"
    );

    // ACL get and set (If-Match on the ACL version); the new ACL decides at once.
    let (s, body) = api
        .send(api.req(Method::GET, "/api/v1/acl/bob", Some("bob:pw")))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        body["acl"],
        json!([{"scheme": "digest", "id": bob, "perms": "cdrwa"}])
    );
    let open_read = json!([{"scheme": "digest", "id": bob, "perms": "cdrwa"}, {"scheme": "world", "id": "anyone", "perms": "r"}]);
    let (s, _) = api
        .send(
            api.req(Method::PUT, "/api/v1/acl/bob", Some("bob:pw"))
                .header("If-Match", "5")
                .json(&open_read),
        )
        .await;
    assert_eq!(s, StatusCode::PRECONDITION_FAILED);
    let (s, _) = api
        .send(
            api.req(Method::PUT, "/api/v1/acl/bob", None)
                .json(&open_read),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "anonymous may not change the ACL");
    let (s, body) = api
        .send(
            api.req(Method::PUT, "/api/v1/acl/bob", Some("bob:pw"))
                .header("If-Match", "0")
                .json(&open_read),
        )
        .await;
    assert_eq!(
        (s, body["stat"]["aversion"].as_i64()),
        (StatusCode::OK, Some(1)),
        "{body}"
    );
    let (s, _) = api
        .send(api.req(Method::GET, "/api/v1/znodes/bob", None))
        .await;
    assert_eq!(s, StatusCode::OK, "world:anyone:r now");
    // Deleting a child needs DELETE on its parent (bob's node): anonymous may only read it.
    let (s, _) = api
        .send(api.req(Method::POST, "/api/v1/znodes/bob/kid", Some("bob:pw")))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = api
        .send(api.req(Method::DELETE, "/api/v1/znodes/bob/kid", None))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "reading is not deleting");
    let (s, _) = api
        .send(api.req(Method::DELETE, "/api/v1/znodes/bob/kid", Some("bob:pw")))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = api
        .send(
            api.req(Method::PUT, "/api/v1/acl/bob", Some("bob:pw"))
                .body("[{"),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // ip ACLs use the TCP peer address, never X-Forwarded-For.
    let (s, _) = api
        .send(api.req(
            Method::POST,
            "/api/v1/znodes/far?acl=ip:10.9.8.7:cdrwa",
            None,
        ))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let forged = api
        .req(Method::GET, "/api/v1/znodes/far", None)
        .header("X-Forwarded-For", "10.9.8.7")
        .header("X-Real-IP", "10.9.8.7");
    assert_eq!(api.send(forged).await.0, StatusCode::FORBIDDEN);
    let (s, _) = api
        .send(api.req(Method::POST, "/api/v1/znodes/near?acl=ip:127.0.0.1:r", None))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(
        api.send(api.req(Method::GET, "/api/v1/znodes/near", None))
            .await
            .0,
        StatusCode::OK
    );

    // Unusable Authorization headers: 401 AuthFailed.
    for bad in ["basic Ym9iOnB3", "digest", "x509"] {
        let r = api
            .http
            .get(api.url("/api/v1/znodes/near"))
            .header("Authorization", bad);
        let (s, body) = api.send(r).await;
        assert_eq!(
            (s, body["error"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("AuthFailed")),
            "{bad}"
        );
    }
    // whoami: the session's identities.
    let (_, body) = api
        .send(api.req(Method::GET, "/api/v1/whoami", Some("bob:pw")))
        .await;
    let ids: Vec<String> = body["identities"]
        .as_array()
        .expect("list")
        .iter()
        .map(|i| {
            format!(
                "{}:{}",
                i["scheme"].as_str().unwrap_or(""),
                i["id"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert!(ids.contains(&"ip:127.0.0.1".to_string()), "{ids:?}");
    assert!(ids.contains(&"digest:bob".to_string()), "{ids:?}");
    server.stop().await;
}

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
    // restore is POST-only and refused with a clear answer.
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
    assert_eq!(s, StatusCode::NOT_IMPLEMENTED, "{body}");
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
