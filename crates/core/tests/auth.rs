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
