//! ACL, authentication and quota behaviour of the core, through `Node::handle` (spec 06
//! and 07): the permission each operation needs for every scheme, super digest, skipACL,
//! enforce.auth, AuthFailed, and quota enforcement.

mod common;

use common::*;

/// `super:admin` (spec 06 §6.4).
const SUPER_DIGEST: &str = "super:xQJmxLMiHGwaqBvst5y6rkB6HQs=";

fn create_with(path: &str, data: &[u8], acl: Vec<Acl>) -> Request {
    Request::Create(CreateRequest {
        path: path.into(),
        data: Some(data.to_vec()),
        acl,
        flags: 0,
    })
}

fn set_data_any(path: &str, data: &[u8]) -> Request {
    Request::SetData(SetDataRequest {
        path: path.into(),
        data: Some(data.to_vec()),
        version: -1,
    })
}

fn set_acl_any(path: &str, acl: Vec<Acl>) -> Request {
    Request::SetAcl(SetAclRequest {
        path: path.into(),
        acl,
        version: -1,
    })
}

/// Whether the operation targets the parent of the test node (create, delete) or the node.
#[derive(Clone, Copy, PartialEq)]
enum On {
    Parent,
    Node,
}

/// Every operation with a permission check, the permission it needs and where: spec 06 §6.2.
/// The test node is `/t/n`; a request that passes the check must succeed.
fn operations() -> Vec<(&'static str, i32, On, Request)> {
    let open = Acl::open_unsafe();
    let c = |path: &str| CreateRequest {
        path: path.into(),
        data: None,
        acl: open.clone(),
        flags: 0,
    };
    let pw = |p: &str| PathWatchRequest {
        path: p.into(),
        watch: false,
    };
    vec![
        (
            "create",
            perms::CREATE,
            On::Parent,
            Request::Create(c("/t/new")),
        ),
        (
            "create2",
            perms::CREATE,
            On::Parent,
            Request::Create2(c("/t/new")),
        ),
        (
            "createContainer",
            perms::CREATE,
            On::Parent,
            Request::CreateContainer(CreateRequest {
                flags: 4,
                ..c("/t/new")
            }),
        ),
        (
            "createTTL",
            perms::CREATE,
            On::Parent,
            Request::CreateTtl(CreateTtlRequest {
                path: "/t/new".into(),
                data: None,
                acl: open.clone(),
                flags: 5,
                ttl: 1000,
            }),
        ),
        (
            "delete",
            perms::DELETE,
            On::Parent,
            Request::Delete(DeleteRequest {
                path: "/t/n".into(),
                version: -1,
            }),
        ),
        (
            "setData",
            perms::WRITE,
            On::Node,
            set_data_any("/t/n", b"x"),
        ),
        (
            "setACL",
            perms::ADMIN,
            On::Node,
            set_acl_any("/t/n", open.clone()),
        ),
        (
            "getData",
            perms::READ,
            On::Node,
            Request::GetData(GetDataRequest {
                path: "/t/n".into(),
                watch: false,
            }),
        ),
        ("exists", perms::READ, On::Node, Request::Exists(pw("/t/n"))),
        (
            "getChildren",
            perms::READ,
            On::Node,
            Request::GetChildren(pw("/t/n")),
        ),
        (
            "getChildren2",
            perms::READ,
            On::Node,
            Request::GetChildren2(pw("/t/n")),
        ),
        (
            "getAllChildrenNumber",
            perms::READ,
            On::Node,
            Request::GetAllChildrenNumber(PathRequest {
                path: "/t/n".into(),
            }),
        ),
        (
            "check (multi)",
            perms::READ,
            On::Node,
            Request::Multi(vec![Request::Check(CheckVersionRequest {
                path: "/t/n".into(),
                version: -1,
            })]),
        ),
        (
            "setData (multi)",
            perms::WRITE,
            On::Node,
            Request::Multi(vec![set_data_any("/t/n", b"y")]),
        ),
        (
            "getData (multiRead)",
            perms::READ,
            On::Node,
            Request::MultiRead(vec![Request::GetData(GetDataRequest {
                path: "/t/n".into(),
                watch: false,
            })]),
        ),
    ]
}

/// The error of an answer, looking inside multi results.
fn outcome(a: &Answer) -> i32 {
    match &a.body {
        Response::Multi(results) if a.err == 0 => results
            .iter()
            .find_map(|r| match r {
                MultiResult::Error(e) if *e != 0 => Some(*e),
                _ => None,
            })
            .unwrap_or(0),
        _ => a.err,
    }
}

/// A scheme under test: how a connection gets its identity, and the ACL id that matches it
/// and one that does not.
struct Scheme {
    name: &'static str,
    peer_ip: &'static str,
    addauth: Option<(&'static str, &'static str)>,
    matching: Id,
    other: Id,
}

fn id(scheme: &str, i: &str) -> Id {
    Id {
        scheme: scheme.into(),
        id: i.into(),
    }
}

fn schemes() -> Vec<Scheme> {
    vec![
        Scheme {
            name: "digest",
            peer_ip: "127.0.0.1",
            addauth: Some(("digest", "bob:secret")),
            matching: id("digest", "bob:fyVmFCwVbTJYrznoSu1koqYEYF0="),
            other: id("digest", &digest_id("bob:wrong")),
        },
        Scheme {
            name: "ip",
            peer_ip: "10.1.2.3",
            addauth: None,
            matching: id("ip", "10.1.0.0/16"),
            other: id("ip", "10.2.0.0/16"),
        },
        Scheme {
            name: "ip exact",
            peer_ip: "192.168.7.9",
            addauth: None,
            matching: id("ip", "192.168.7.9"),
            other: id("ip", "192.168.7.8"),
        },
        Scheme {
            name: "world",
            peer_ip: "127.0.0.1",
            addauth: None,
            matching: id("world", "anyone"),
            // Nobody has a digest id here: an unauthenticated client never matches.
            other: id("digest", &digest_id("alice:pw")),
        },
    ]
}

/// Sets up `/t/n` (with a child, so getChildren has something) where the target of the
/// operation carries `target_acl` and everything else is open; returns the asking connection.
fn setup(h: &mut Harness, on: On, target_acl: Vec<Acl>, scheme: &Scheme) -> ConnId {
    let admin = h.open();
    let open = Acl::open_unsafe();
    let (t_acl, n_acl) = match on {
        On::Parent => (target_acl, open.clone()),
        On::Node => (open.clone(), target_acl),
    };
    h.answer_ok(admin, create_with("/t", b"", open.clone()));
    h.answer_ok(admin, create_with("/t/n", b"data", open.clone()));
    // ACLs last: the admin connection may not be allowed to work below them.
    h.answer_ok(admin, set_acl_any("/t/n", n_acl));
    h.answer_ok(admin, set_acl_any("/t", t_acl));
    let conn = h.open_from(scheme.peer_ip);
    if let Some((s, secret)) = scheme.addauth {
        assert_eq!(h.add_auth(conn, s, secret).err, 0);
    }
    conn
}

#[test]
fn every_operation_needs_its_permission_for_every_scheme() {
    let mut checked = 0;
    for scheme in schemes() {
        for (name, perm, on, req) in operations() {
            let what = format!("{name} with {}", scheme.name);
            // Exactly the needed permission: allowed.
            let mut h = Harness::configured(|_| {});
            let conn = setup(
                &mut h,
                on,
                vec![acl(perm, &scheme.matching.scheme, &scheme.matching.id)],
                &scheme,
            );
            let a = h.answer(conn, req.clone());
            assert_eq!(outcome(&a), 0, "{what}: granted {perm} -> {a:?}");
            // Every other permission: NoAuth, and no data.
            let mut h = Harness::configured(|_| {});
            let conn = setup(
                &mut h,
                on,
                vec![acl(
                    perms::ALL & !perm,
                    &scheme.matching.scheme,
                    &scheme.matching.id,
                )],
                &scheme,
            );
            let a = h.answer(conn, req.clone());
            assert_eq!(
                outcome(&a),
                ErrorCode::NoAuth.code(),
                "{what}: all but {perm} -> {a:?}"
            );
            if a.err != 0 {
                assert_eq!(a.body, Response::Empty, "{what}: no data with NoAuth");
            }
            // The permission for somebody else: NoAuth.
            let mut h = Harness::configured(|_| {});
            let conn = setup(
                &mut h,
                on,
                vec![acl(perms::ALL, &scheme.other.scheme, &scheme.other.id)],
                &scheme,
            );
            let a = h.answer(conn, req.clone());
            assert_eq!(
                outcome(&a),
                ErrorCode::NoAuth.code(),
                "{what}: other id -> {a:?}"
            );
            // The same with skipACL=yes: allowed.
            let mut h = Harness::configured(|c| c.auth.skip_acl = true);
            let conn = setup(
                &mut h,
                on,
                vec![acl(perms::ALL, &scheme.other.scheme, &scheme.other.id)],
                &scheme,
            );
            let a = h.answer(conn, req.clone());
            assert_eq!(outcome(&a), 0, "{what}: skipACL -> {a:?}");
            // And for the super user: allowed.
            let mut h = Harness::configured(|c| c.auth.super_digest = Some(SUPER_DIGEST.into()));
            let conn = setup(
                &mut h,
                on,
                vec![acl(perms::ALL, &scheme.other.scheme, &scheme.other.id)],
                &scheme,
            );
            assert_eq!(h.add_auth(conn, "digest", "super:admin").err, 0);
            let a = h.answer(conn, req.clone());
            assert_eq!(outcome(&a), 0, "{what}: super -> {a:?}");
            checked += 1;
        }
    }
    assert_eq!(checked, schemes().len() * operations().len());
}

#[test]
fn get_acl_needs_read_or_admin_and_redacts_digests_without_admin() {
    let bob = "bob:fyVmFCwVbTJYrznoSu1koqYEYF0=";
    for (granted, expect) in [
        (perms::READ, Some("bob:x")),
        (perms::ADMIN, Some(bob)),
        (perms::ALL & !(perms::READ | perms::ADMIN), None),
    ] {
        let mut h = Harness::configured(|_| {});
        let scheme = &schemes()[0];
        let conn = setup(&mut h, On::Node, vec![acl(granted, "digest", bob)], scheme);
        let a = h.answer(
            conn,
            Request::GetAcl(PathRequest {
                path: "/t/n".into(),
            }),
        );
        match expect {
            Some(shown) => {
                let Response::GetAcl { acl: got, .. } = &a.body else {
                    panic!("{a:?}");
                };
                assert_eq!(got, &vec![acl(granted, "digest", shown)]);
            }
            None => assert_eq!(
                (a.err, &a.body),
                (ErrorCode::NoAuth.code(), &Response::Empty)
            ),
        }
    }
}

#[test]
fn super_digest_only_with_the_right_secret() {
    let mut h = Harness::configured(|c| c.auth.super_digest = Some(SUPER_DIGEST.into()));
    let admin = h.open();
    h.add_auth(admin, "digest", "bob:secret");
    h.answer_ok(
        admin,
        create_with("/locked", b"s3cret", vec![acl(perms::ALL, "auth", "")]),
    );
    for wrong in ["super:wrong", "super:Admin", "admin:admin", "super:admin "] {
        let c = h.open();
        let a = h.add_auth(c, "digest", wrong);
        assert_eq!(
            (a.err, a.closed),
            (0, false),
            "addauth digest always succeeds"
        );
        let a = h.answer(
            c,
            Request::GetData(GetDataRequest {
                path: "/locked".into(),
                watch: false,
            }),
        );
        assert_eq!(
            (a.err, &a.body),
            (ErrorCode::NoAuth.code(), &Response::Empty),
            "{wrong}"
        );
    }
    let c = h.open();
    h.add_auth(c, "digest", "super:admin");
    let Response::GetData { data, .. } = h.answer_ok(
        c,
        Request::GetData(GetDataRequest {
            path: "/locked".into(),
            watch: false,
        }),
    ) else {
        panic!("getData");
    };
    assert_eq!(data.as_deref(), Some(&b"s3cret"[..]));
    // whoAmI lists super first, as ZooKeeper adds it before the digest id.
    let Response::WhoAmI(who) = h.answer_ok(c, Request::WhoAmI) else {
        panic!("whoAmI");
    };
    let who: Vec<_> = who
        .iter()
        .map(|i| (i.auth_scheme.as_str(), i.user.as_str()))
        .collect();
    assert_eq!(
        who,
        vec![("ip", "127.0.0.1"), ("super", ""), ("digest", "super")]
    );
    // Without a configured super digest, super:admin is just another digest user.
    let mut h = Harness::configured(|_| {});
    let admin = h.open();
    h.add_auth(admin, "digest", "bob:secret");
    h.answer_ok(
        admin,
        create_with("/locked", b"", vec![acl(perms::ALL, "auth", "")]),
    );
    let c = h.open();
    h.add_auth(c, "digest", "super:admin");
    let a = h.answer(c, set_data_any("/locked", b"x"));
    assert_eq!(a.err, ErrorCode::NoAuth.code());
    // super never appears in ACLs, and an auth ACL does not expand to it.
    let a = h.answer(
        c,
        create_with("/s", b"", vec![acl(perms::ALL, "super", "")]),
    );
    assert_eq!(a.err, ErrorCode::InvalidAcl.code());
}

#[test]
fn unknown_scheme_is_auth_failed_and_closes() {
    let mut h = Harness::configured(|_| {});
    for scheme in ["nosuch", "sasl", "x509", "super", "world", ""] {
        let c = h.open();
        let a = h.add_auth(c, scheme, "x");
        assert_eq!(
            (a.err, a.zxid, a.closed),
            (ErrorCode::AuthFailed.code(), 0, true),
            "{scheme}"
        );
        assert_eq!(a.body, Response::Empty);
    }
}

#[test]
fn enforce_auth_refuses_unauthenticated_requests_and_closes() {
    let mut h = Harness::configured(|c| c.auth.enforce_auth_schemes = vec!["digest".into()]);
    // Any request before authenticating, ping included, is refused.
    for req in [
        Request::Ping,
        Request::Exists(PathWatchRequest {
            path: "/".into(),
            watch: false,
        }),
        create_with("/x", b"", Acl::open_unsafe()),
        Request::WhoAmI,
    ] {
        let c = h.open();
        let a = h.answer(c, req.clone());
        assert_eq!(
            (a.err, a.zxid, a.closed),
            (ErrorCode::SessionClosedRequireSaslAuth.code(), 0, true),
            "{req:?}"
        );
    }
    assert!(h.node.tree().get("/x").is_none(), "nothing was written");
    // After addauth digest everything works.
    let c = h.open();
    let a = h.add_auth(c, "digest", "bob:secret");
    assert_eq!((a.err, a.closed), (0, false));
    h.answer_ok(c, create_with("/x", b"", Acl::open_unsafe()));
    // The ip identity every connection has does not count unless ip is a required scheme.
    let mut h =
        Harness::configured(|c| c.auth.enforce_auth_schemes = vec!["sasl".into(), "ip".into()]);
    let c = h.open();
    h.answer_ok(c, Request::WhoAmI);
}

// ---- quotas ---------------------------------------------------------------------------------

/// Sets a quota on `/q` as zkCli 3.8 does (`setquota`): the quota nodes, then the limits.
fn set_quota(h: &mut Harness, c: ConnId, limits: &str) {
    let open = Acl::open_unsafe();
    h.answer_ok(c, create_with("/zookeeper/quota/q", b"", open.clone()));
    h.answer_ok(
        c,
        create_with(
            "/zookeeper/quota/q/zookeeper_limits",
            limits.as_bytes(),
            open.clone(),
        ),
    );
    h.answer_ok(
        c,
        create_with(
            "/zookeeper/quota/q/zookeeper_stats",
            b"count=0,bytes=0",
            open,
        ),
    );
}

fn stats(h: &Harness) -> String {
    let n = h
        .node
        .tree()
        .get("/zookeeper/quota/q/zookeeper_stats")
        .expect("stats node");
    String::from_utf8_lossy(n.data().unwrap_or_default()).into_owned()
}

#[test]
fn hard_quota_limits_refuse_writes_when_enforced() {
    let mut h = Harness::configured(|c| c.enforce_quota = true);
    let c = h.open();
    let open = Acl::open_unsafe();
    h.answer_ok(c, create_with("/q", b"12345", open.clone()));
    set_quota(
        &mut h,
        c,
        "count=-1,bytes=-1=;byteHardLimit=20;countHardLimit=3",
    );
    assert_eq!(stats(&h), "count=1,bytes=5");
    h.answer_ok(c, create_with("/q/a", b"", open.clone()));
    h.answer_ok(c, create_with("/q/b", b"", open.clone()));
    // A fourth node exceeds countHardLimit=3.
    let a = h.answer(c, create_with("/q/c", b"", open.clone()));
    assert_eq!(
        (a.err, &a.body),
        (ErrorCode::QuotaExceeded.code(), &Response::Empty)
    );
    // It consumed a zxid (an error txn), as in ZooKeeper's prep.
    assert_eq!(a.zxid, h.node.last_processed_zxid().0);
    assert!(h.node.tree().get("/q/c").is_none());
    // Bytes: 5 + 15 = 20 is allowed, 21 is not; shrinking is always allowed.
    h.answer_ok(c, set_data_any("/q/a", &[b'x'; 15]));
    let a = h.answer(c, set_data_any("/q/b", b"y"));
    assert_eq!(a.err, ErrorCode::QuotaExceeded.code());
    h.answer_ok(c, set_data_any("/q/a", b""));
    h.answer_ok(c, set_data_any("/q/b", b"y"));
    // Inside a multi the failing op gets the error and the rest RuntimeInconsistency.
    let a = h.answer(
        c,
        Request::Multi(vec![
            set_data_any("/q/b", b"z"),
            create_with("/q/d", b"", open.clone()),
        ]),
    );
    let Response::Multi(r) = &a.body else {
        panic!("{a:?}");
    };
    assert_eq!(r.len(), 2);
    assert_eq!(r[1], MultiResult::Error(ErrorCode::QuotaExceeded.code()));
    assert!(h.node.tree().get("/q/d").is_none());
    // Paths outside the quota are not affected.
    h.answer_ok(c, create_with("/other", &[0; 100], open.clone()));
    // Deleting makes room again.
    h.answer_ok(
        c,
        Request::Delete(DeleteRequest {
            path: "/q/b".into(),
            version: -1,
        }),
    );
    h.answer_ok(c, create_with("/q/c", b"", open));
    assert_eq!(stats(&h), "count=3,bytes=5");
}

#[test]
fn soft_limits_and_disabled_enforcement_never_refuse() {
    for (enforce, limits) in [
        (true, "count=1,bytes=1"),
        (false, "count=-1,bytes=-1=;byteHardLimit=1;countHardLimit=1"),
    ] {
        let mut h = Harness::configured(|c| c.enforce_quota = enforce);
        let c = h.open();
        let open = Acl::open_unsafe();
        h.answer_ok(c, create_with("/q", b"", open.clone()));
        set_quota(&mut h, c, limits);
        h.answer_ok(c, create_with("/q/a", b"too much data", open.clone()));
        h.answer_ok(c, set_data_any("/q/a", b"even more data than before"));
        assert_eq!(stats(&h), "count=2,bytes=26", "{limits}");
    }
}

#[test]
fn hard_limit_wins_over_soft_limit() {
    // A soft count of 1 is only logged when a hard count of 3 is set.
    let mut h = Harness::configured(|c| c.enforce_quota = true);
    let c = h.open();
    let open = Acl::open_unsafe();
    h.answer_ok(c, create_with("/q", b"", open.clone()));
    set_quota(&mut h, c, "count=1,bytes=-1=;countHardLimit=3");
    h.answer_ok(c, create_with("/q/a", b"", open.clone()));
    h.answer_ok(c, create_with("/q/b", b"", open.clone()));
    let a = h.answer(c, create_with("/q/c", b"", open));
    assert_eq!(a.err, ErrorCode::QuotaExceeded.code());
}

// ---- SASL DIGEST-MD5 ------------------------------------------------------------------------

fn sasl(h: &mut Harness, conn: ConnId, token: &[u8]) -> Answer {
    h.answer(
        conn,
        Request::Sasl(menagerie_proto::records::GetSaslRequest {
            token: Some(token.to_vec()),
        }),
    )
}

/// A DIGEST-MD5 client response (RFC 2831, as pure-sasl computes it).
fn digest_md5_response(challenge: &[u8], user: &str, pw: &str) -> Vec<u8> {
    use md5::{Digest, Md5};
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let text = String::from_utf8_lossy(challenge).into_owned();
    let nonce = text
        .split("nonce=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("nonce in challenge")
        .to_owned();
    let (realm, uri, cnonce) = ("zk-sasl-md5", "zookeeper/zk-sasl-md5", "c0ffee");
    let key = Md5::digest(format!("{user}:{realm}:{pw}").as_bytes());
    let mut a1 = key.to_vec();
    a1.extend_from_slice(format!(":{nonce}:{cnonce}").as_bytes());
    let ha1 = hex(&Md5::digest(&a1));
    let ha2 = hex(&Md5::digest(format!("AUTHENTICATE:{uri}").as_bytes()));
    let resp = hex(&Md5::digest(
        format!("{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}").as_bytes(),
    ));
    format!(
        "username=\"{user}\",realm=\"{realm}\",nonce=\"{nonce}\",cnonce=\"{cnonce}\",nc=00000001,\
         qop=auth,digest-uri=\"{uri}\",maxbuf=65536,response={resp}"
    )
    .into_bytes()
}

fn sasl_server(f: impl FnOnce(&mut CoreConfig)) -> Harness {
    Harness::configured(|c| {
        c.auth.sasl_users = [("bob", "bobpw"), ("root", "rootpw")]
            .into_iter()
            .map(|(u, p)| (u.to_owned(), p.to_owned()))
            .collect();
        c.auth.sasl_super_users = vec!["root".into()];
        c.auth.nonce_secret = 42;
        f(c)
    })
}

#[test]
fn sasl_digest_md5_exchange_gives_the_sasl_identity() {
    let mut h = sasl_server(|_| {});
    let c = h.open();
    let a = sasl(&mut h, c, b"");
    assert_eq!((a.err, a.zxid, a.closed), (0, 0, false));
    let Response::Sasl(Some(challenge)) = a.body else {
        panic!("{a:?}");
    };
    assert!(String::from_utf8_lossy(&challenge).contains("realm=\"zk-sasl-md5\""));
    let a = sasl(&mut h, c, &digest_md5_response(&challenge, "bob", "bobpw"));
    assert_eq!((a.err, a.closed), (0, false));
    let Response::Sasl(Some(rspauth)) = a.body else {
        panic!("{a:?}");
    };
    assert!(rspauth.starts_with(b"rspauth="));
    let Response::WhoAmI(who) = h.answer_ok(c, Request::WhoAmI) else {
        panic!("whoAmI");
    };
    assert_eq!(who[1].auth_scheme, "sasl");
    assert_eq!(who[1].user, "bob");
    // A sasl:bob ACL is usable by this connection only.
    h.answer_ok(
        c,
        create_with("/s", b"x", vec![acl(perms::ALL, "sasl", "bob")]),
    );
    let other = h.open();
    assert_eq!(
        h.answer(other, set_data_any("/s", b"y")).err,
        ErrorCode::NoAuth.code()
    );
    // The configured super user gets super.
    let r = h.open();
    let Response::Sasl(Some(ch)) = sasl(&mut h, r, b"").body else {
        panic!("challenge");
    };
    assert_eq!(
        sasl(&mut h, r, &digest_md5_response(&ch, "root", "rootpw")).err,
        0
    );
    h.answer_ok(r, set_data_any("/s", b"by root"));
}

#[test]
fn sasl_failures_are_auth_failed_and_close() {
    for (user, pw) in [("bob", "wrong"), ("eve", "bobpw")] {
        let mut h = sasl_server(|_| {});
        let c = h.open();
        let Response::Sasl(Some(ch)) = sasl(&mut h, c, b"").body else {
            panic!("challenge");
        };
        let a = sasl(&mut h, c, &digest_md5_response(&ch, user, pw));
        assert_eq!(
            (a.err, a.zxid, a.closed),
            (ErrorCode::AuthFailed.code(), 0, true),
            "{user}"
        );
    }
    // Not configured: AuthFailed at once.
    let mut h = Harness::configured(|_| {});
    let c = h.open();
    let a = sasl(&mut h, c, b"");
    assert_eq!((a.err, a.closed), (ErrorCode::AuthFailed.code(), true));
    // With sasl required by enforce.auth the failure is SessionClosedRequireSaslAuth, and
    // nothing but SASL is served before it succeeded.
    let mut h = sasl_server(|c| c.auth.enforce_auth_schemes = vec!["sasl".into()]);
    let c = h.open();
    let Response::Sasl(Some(ch)) = sasl(&mut h, c, b"").body else {
        panic!("challenge");
    };
    let a = sasl(&mut h, c, &digest_md5_response(&ch, "bob", "nope"));
    assert_eq!(
        (a.err, a.closed),
        (ErrorCode::SessionClosedRequireSaslAuth.code(), true)
    );
    let c = h.open();
    assert_eq!(
        h.answer(c, Request::WhoAmI).err,
        ErrorCode::SessionClosedRequireSaslAuth.code()
    );
    let c = h.open();
    let Response::Sasl(Some(ch)) = sasl(&mut h, c, b"").body else {
        panic!("challenge");
    };
    assert_eq!(
        sasl(&mut h, c, &digest_md5_response(&ch, "bob", "bobpw")).err,
        0
    );
    h.answer_ok(c, Request::WhoAmI);
}
