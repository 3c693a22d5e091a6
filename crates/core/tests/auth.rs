//! addauth, the auth ACL scheme and READ-filtered notifications (spec 06).

mod common;

use common::*;

// ---- auth ---------------------------------------------------------------------------------

#[test]
fn digest_auth_and_the_auth_acl_scheme() {
    let mut h = Harness::new();
    h.connect(A);
    h.connect(B);
    let auth = |scheme: &str, secret: &[u8]| {
        Request::Auth(AuthPacket {
            auth_type: 0,
            scheme: scheme.into(),
            auth: Some(secret.to_vec()),
        })
    };
    // Auth replies carry xid -4 and zxid 0.
    assert_eq!(
        h.send(A, -4, auth("digest", b"user:pass")),
        vec![reply(A, -4, 0, ErrorCode::Ok, Response::Empty)]
    );
    h.ok(A, create_acl("/sec", vec![acl(perms::ALL, "auth", "")], 0));
    let me = acl(perms::ALL, "digest", &digest_id("user:pass"));
    let Response::GetAcl { acl: got, .. } = h.ok(A, get_acl("/sec")) else {
        panic!()
    };
    assert_eq!(got, vec![me]);
    assert_eq!(
        h.ok(A, Request::WhoAmI),
        Response::WhoAmI(vec![
            ClientInfo {
                auth_scheme: "ip".into(),
                user: "127.0.0.1".into()
            },
            ClientInfo {
                auth_scheme: "digest".into(),
                user: "user".into()
            },
        ])
    );
    h.err(B, get_data("/sec", false), ErrorCode::NoAuth);
    h.err(B, get_acl("/sec"), ErrorCode::NoAuth);
    h.err(B, create("/sec/x", b"", 0), ErrorCode::NoAuth);
    // An unknown scheme: AuthFailed, then close.
    assert_eq!(
        h.send(B, -4, auth("nosuch", b"x")),
        vec![
            reply(B, -4, 0, ErrorCode::AuthFailed, Response::Empty),
            close(B)
        ]
    );
}

/// ZooKeeper 3.8.4+ (CVE-2024-23944): a watcher without READ on the node concerned hears
/// nothing, judged by the ACL at the time of the change; its one-shot watch is used up anyway.
#[test]
fn notifications_need_read_permission_on_the_node_concerned() {
    let mut h = Harness::new();
    h.connect(A);
    h.connect(B);
    h.connect(C);
    let digest = Request::Auth(AuthPacket {
        auth_type: 0,
        scheme: "digest".into(),
        auth: Some(b"owner:pw".to_vec()),
    });
    h.send(A, -4, digest.clone());
    h.send(C, -4, digest);
    let private = vec![acl(perms::ALL, "auth", "")];
    // B (anonymous) and C (the owner) watch the whole tree recursively and /p's children.
    h.ok(A, create("/p", b"", 0));
    h.ok(B, add_watch("/", 1));
    h.ok(C, add_watch("/", 1));
    h.ok(B, get_children("/p", true));
    h.ok(C, get_children("/p", true));
    let z = h.zxid() + 1;
    assert_eq!(
        h.send(A, 1, create_acl("/p/secret", private.clone(), 0)),
        vec![
            // NodeCreated is judged by the new node's ACL: only C; the child event by /p's
            // (open) ACL: both.
            notify(C, z, CREATED, "/p/secret"),
            notify(B, z, CHILDREN_CHANGED, "/p"),
            notify(C, z, CHILDREN_CHANGED, "/p"),
            reply(A, 1, z, ErrorCode::Ok, created("/p/secret")),
        ]
    );
    let z = h.zxid() + 1;
    let out = h.send(A, 2, set_data("/p/secret", b"x", -1));
    assert_eq!(out[..1], [notify(C, z, DATA_CHANGED, "/p/secret")]);
    assert_eq!(out.len(), 2, "{out:?}");
    // Children of a private node: the child's own (open) ACL decides NodeCreated, the
    // private parent's ACL decides NodeChildrenChanged.
    // (addWatch has no ACL check, so B can watch the private node persistently.)
    h.ok(B, add_watch("/p/secret", 0));
    let z = h.zxid() + 1;
    assert_eq!(
        h.send(A, 3, create("/p/secret/open", b"", 0)),
        vec![
            notify(B, z, CREATED, "/p/secret/open"),
            notify(C, z, CREATED, "/p/secret/open"),
            reply(A, 3, z, ErrorCode::Ok, created("/p/secret/open")),
        ]
    );
    // B's persistent watch is still registered; it just hears nothing of /p/secret.
    h.ok(B, check_watches("/p/secret", 4));
    let z = h.zxid() + 1;
    assert_eq!(
        h.send(A, 6, delete("/p/secret/open", -1)),
        vec![
            notify(B, z, DELETED, "/p/secret/open"),
            notify(C, z, DELETED, "/p/secret/open"),
            reply(A, 6, z, ErrorCode::Ok, Response::Empty),
        ]
    );
    // Deleting the private node: judged by the ACL it had.
    let z = h.zxid() + 1;
    let out = h.send(A, 5, delete("/p/secret", -1));
    assert_eq!(out[..1], [notify(C, z, DELETED, "/p/secret")]);
    assert_eq!(out.len(), 2, "{out:?}");
}

/// Issue 16, item 5: `setWatches` catch-up events follow the READ rule of live events. A
/// reconnecting client without READ learns nothing of the data and children changes, or the
/// creation, of a private node; a reader hears them all.
#[test]
fn set_watches_catch_up_events_need_read_permission() {
    let mut h = Harness::new();
    h.connect(A);
    h.add_auth(A, "digest", "owner:pw");
    let private = vec![acl(perms::ALL, "auth", "")];
    h.ok(A, create_acl("/private", private.clone(), 0));
    h.ok(A, create("/open", b"", 0));
    let rel = h.zxid();
    h.ok(A, set_data("/private", b"changed", -1));
    h.ok(A, create("/private/child", b"", 0));
    h.ok(A, create_acl("/born-private", private, 0));
    h.ok(A, set_data("/open", b"changed", -1));
    let watches = || {
        Request::SetWatches2(SetWatches2 {
            relative_zxid: rel,
            data_watches: strings(&["/private", "/open"]),
            exist_watches: strings(&["/born-private"]),
            child_watches: strings(&["/private"]),
            persistent_watches: vec![],
            persistent_recursive_watches: vec![],
        })
    };
    let stranger = h.open();
    let zxid = h.zxid();
    assert_eq!(
        h.send(stranger, SET_WATCHES_XID, watches()),
        vec![
            notify(stranger, -1, DATA_CHANGED, "/open"),
            reply(
                stranger,
                SET_WATCHES_XID,
                zxid,
                ErrorCode::Ok,
                Response::Empty
            ),
        ]
    );
    let owner = h.open();
    h.add_auth(owner, "digest", "owner:pw");
    let zxid = h.zxid();
    assert_eq!(
        h.send(owner, SET_WATCHES_XID, watches()),
        vec![
            notify(owner, -1, DATA_CHANGED, "/private"),
            notify(owner, -1, DATA_CHANGED, "/open"),
            notify(owner, -1, CREATED, "/born-private"),
            notify(owner, -1, CHILDREN_CHANGED, "/private"),
            reply(owner, SET_WATCHES_XID, zxid, ErrorCode::Ok, Response::Empty),
        ]
    );
    // The stranger's watches on private nodes fired silently, as live ones do: a later
    // change is not told either.
    let out = h.send(A, 1, set_data("/private", b"again", -1));
    assert!(
        !out.iter()
            .any(|o| matches!(o, Output::Notify { conn, .. } if *conn == stranger)),
        "{out:?}"
    );
}

/// Issue 16, item 5: `getAllChildrenNumber` counts what the caller could find by listing
/// children: a private child is listed (and counted), what lies below it is not.
#[test]
fn get_all_children_number_skips_what_lies_below_unreadable_nodes() {
    let mut h = Harness::new();
    h.connect(A);
    h.add_auth(A, "digest", "owner:pw");
    h.ok(A, create("/app", b"", 0));
    h.ok(A, create("/app/open", b"", 0));
    h.ok(A, create("/app/open/x", b"", 0));
    h.ok(
        A,
        create_acl("/app/private", vec![acl(perms::ALL, "auth", "")], 0),
    );
    for i in 0..5 {
        h.ok(A, create(&format!("/app/private/c{i}"), b"", 0));
    }
    h.ok(A, create("/app/private/c0/deeper", b"", 0));
    let count = |h: &mut Harness, conn| match h.answer_ok(conn, all_children("/app")) {
        Response::AllChildrenNumber(n) => n,
        other => panic!("{other:?}"),
    };
    let stranger = h.open();
    assert_eq!(count(&mut h, stranger), 3, "open, open/x, private");
    assert_eq!(count(&mut h, A), 9);
}

fn all_children(path: &str) -> Request {
    Request::GetAllChildrenNumber(PathRequest { path: path.into() })
}

/// Issue 16, item 6: identities per connection are capped; the `addauth` past the cap is
/// refused with AuthFailed and the connection closed (a client needs a handful; 100,000 cost
/// ZooKeeper 32 s and slowed every later ACL check). Repeating one it holds is fine.
#[test]
fn identities_per_connection_are_capped() {
    let mut h = Harness::new();
    let c = h.open();
    // The connection starts with its ip identity.
    for i in 1..256 {
        let a = h.add_auth(c, "digest", &format!("user{i}:pw"));
        assert_eq!((a.err, a.closed), (0, false), "identity {i}");
    }
    let a = h.add_auth(c, "digest", "user1:pw");
    assert_eq!((a.err, a.closed), (0, false), "one it holds");
    let a = h.add_auth(c, "digest", "one-too-many:pw");
    assert_eq!(
        (a.err, a.closed),
        (ErrorCode::AuthFailed.code(), true),
        "the 257th"
    );
    assert_eq!(h.node.connection_count(), 0);
}
