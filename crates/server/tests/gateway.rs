//! The REST gateway (`/api/v1`) through a real HTTP client (reqwest): every verb and the ACL
//! decisions for anonymous, digest, super and ip callers (the same as for native clients,
//! whose view is checked with the `zookeeper-client` crate).

mod common;
mod gateway_common;

use gateway_common::{SUPER, digest, start};
use reqwest::StatusCode;
use serde_json::json;
use zookeeper_client as zk;

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
