//! Stat fields, sequential names and null versus empty data (spec 03).

mod common;

use common::*;

// ---- Stat ---------------------------------------------------------------------------------

#[test]
fn fresh_server_special_nodes() {
    let mut h = Harness::new();
    h.connect(A);
    // /zookeeper is a child of the root that was never "created": derived cversion -1.
    assert_eq!(
        h.stat(A, "/"),
        Stat {
            cversion: -1,
            num_children: 1,
            ..Stat::default()
        }
    );
    assert_eq!(
        h.stat(A, "/zookeeper"),
        Stat {
            cversion: -2,
            num_children: 2,
            ..Stat::default()
        }
    );
    assert_eq!(h.stat(A, "/zookeeper/quota"), Stat::default());
    let config_stat = Stat {
        aversion: -1,
        ..Stat::default()
    };
    assert_eq!(
        h.ok(A, get_acl("/zookeeper/config")),
        Response::GetAcl {
            acl: Acl::read_unsafe(),
            stat: config_stat.clone(),
        }
    );
    assert_eq!(
        h.ok(A, get_data("/zookeeper/config", false)),
        data(b"", config_stat)
    );
    assert_eq!(h.children(A, "/"), strings(&["zookeeper"]));
    assert_eq!(h.children(A, "/zookeeper"), strings(&["config", "quota"]));
    let Response::GetChildren2 { mut children, stat } = h.ok(
        A,
        Request::GetChildren2(PathWatchRequest {
            path: "/zookeeper".into(),
            watch: false,
        }),
    ) else {
        panic!("not a getChildren2 response");
    };
    children.sort();
    assert_eq!(children, strings(&["config", "quota"]));
    assert_eq!(
        stat,
        Stat {
            cversion: -2,
            num_children: 2,
            ..Stat::default()
        }
    );
    assert_eq!(
        h.ok(
            A,
            Request::GetAllChildrenNumber(PathRequest { path: "/".into() })
        ),
        Response::AllChildrenNumber(3)
    );
}

#[test]
fn stat_fields_follow_the_zookeeper_rules() {
    let mut h = Harness::new();
    h.connect(A);
    let (z1, t1) = (h.zxid() + 1, h.now.wall_ms);
    // czxid = mzxid = pzxid, ctime = mtime = the txn's wall clock.
    assert_eq!(
        h.ok(A, create2("/a", b"hello", 0)),
        Response::Create2 {
            path: "/a".into(),
            stat: new_stat(z1, t1, 5),
        }
    );
    h.advance(1500);
    let (z2, t2) = (h.zxid() + 1, h.now.wall_ms);
    let s2 = Stat {
        mzxid: z2,
        mtime: t2,
        version: 1,
        data_length: 2,
        ..new_stat(z1, t1, 5)
    };
    assert_eq!(
        h.ok(A, set_data("/a", b"hi", 0)),
        Response::Stat(s2.clone())
    );
    h.advance(10);
    let (z3, t3) = (h.zxid() + 1, h.now.wall_ms);
    let s3 = Stat {
        mzxid: z3,
        mtime: t3,
        version: 2,
        data_length: 3,
        ..s2
    };
    // Version -1 matches any version.
    assert_eq!(
        h.ok(A, set_data("/a", b"hey", -1)),
        Response::Stat(s3.clone())
    );
    h.advance(10);
    // setACL: aversion + 1; mzxid and mtime stay.
    let s4 = Stat { aversion: 1, ..s3 };
    assert_eq!(
        h.ok(A, set_acl("/a", Acl::open_unsafe(), 0)),
        Response::Stat(s4.clone())
    );
    assert_eq!(
        h.ok(A, set_acl("/a", Acl::open_unsafe(), -1)),
        Response::Stat(Stat { aversion: 2, ..s4 })
    );
    // Four child creates and one delete: cversion 5, numChildren 3, pzxid = the delete.
    for c in ["c0", "c1", "c2", "c3"] {
        h.ok(A, create(&format!("/a/{c}"), b"", 0));
    }
    let z_del = h.zxid() + 1;
    h.ok(A, delete("/a/c1", -1));
    let a = h.stat(A, "/a");
    assert_eq!(
        a,
        Stat {
            cversion: 5,
            num_children: 3,
            pzxid: z_del,
            aversion: 2,
            ..s3.clone()
        }
    );
    // Only direct children move pzxid; data and ACL changes of a child do not either.
    let z_deep = h.zxid() + 1;
    h.ok(A, create("/a/c0/deep", b"", 0));
    h.ok(A, set_data("/a/c0", b"x", -1));
    h.ok(A, set_acl("/a/c0", Acl::open_unsafe(), -1));
    let z_deep_del = h.zxid() + 1;
    h.ok(A, delete("/a/c0/deep", -1));
    assert_eq!(h.stat(A, "/a"), a);
    let c0 = h.stat(A, "/a/c0");
    assert_eq!(
        (
            c0.pzxid,
            c0.cversion,
            c0.num_children,
            c0.version,
            c0.aversion
        ),
        (z_deep_del, 2, 0, 1, 1)
    );
    assert!(c0.mzxid > z_deep && c0.mzxid < z_deep_del);
    // The root after creating /a, /cont and /x: 2 * 3 - 4 = 2.
    h.ok(A, container("/cont"));
    let z_x = h.zxid() + 1;
    h.ok(A, create("/x", b"", 0));
    assert_eq!(
        h.stat(A, "/"),
        Stat {
            cversion: 2,
            num_children: 4,
            pzxid: z_x,
            ..Stat::default()
        }
    );
}

#[test]
fn ephemeral_owner_is_reported_for_ordinary_ephemerals_only() {
    let mut h = Harness::new();
    let s = h.connect(A);
    let t = h.now.wall_ms;
    let z = h.zxid() + 1;
    assert_eq!(
        h.ok(A, create2("/e", b"", 1)),
        Response::Create2 {
            path: "/e".into(),
            stat: Stat {
                ephemeral_owner: s,
                ..new_stat(z, t, 0)
            },
        }
    );
    // Containers and TTL nodes store special owners but report 0.
    assert_eq!(
        h.ok(A, container("/c")),
        Response::Create2 {
            path: "/c".into(),
            stat: new_stat(z + 1, t, 0),
        }
    );
    assert_eq!(
        h.ok(A, create_ttl("/t", 5, 1000)),
        Response::Create2 {
            path: "/t".into(),
            stat: new_stat(z + 2, t, 0),
        }
    );
    assert_eq!(
        h.ok(A, create_ttl("/t-", 6, MAX_TTL)),
        Response::Create2 {
            path: "/t-0000000003".into(),
            stat: new_stat(z + 3, t, 0),
        }
    );
    let tree = h.node.tree();
    assert_eq!(tree.get("/c").map(|n| n.ephemeral_owner), Some(i64::MIN));
    assert_eq!(
        tree.get("/t").map(|n| n.ephemeral_owner),
        Some(0xFF00_0000_0000_03E8_u64 as i64)
    );
    assert_eq!(h.stat(A, "/e").ephemeral_owner, s);
    assert_eq!(h.stat(A, "/c").ephemeral_owner, 0);
    assert_eq!(h.stat(A, "/t").ephemeral_owner, 0);
}

// ---- sequential names ---------------------------------------------------------------------

#[test]
fn sequential_suffix_is_the_parents_stored_cversion() {
    let mut h = Harness::new();
    h.connect(A);
    h.ok(A, create("/s", b"", 0));
    assert_eq!(h.ok(A, create("/s/x-", b"", 2)), created("/s/x-0000000000"));
    // The CreateTxn carries the parent's new stored cversion.
    match &h.last_txn().body {
        TxnBody::Create(txn) => {
            assert_eq!(
                (txn.path.as_str(), txn.parent_cversion, txn.ephemeral),
                ("/s/x-0000000000", 1, false)
            );
        }
        other => panic!("{other:?}"),
    }
    // Every create advances the counter, sequential or not.
    h.ok(A, create("/s/plain", b"", 0));
    assert_eq!(h.ok(A, create("/s/x-", b"", 2)), created("/s/x-0000000002"));
    // Deletes do not: numbers are never reused.
    h.ok(A, delete("/s/x-0000000002", -1));
    assert_eq!(h.ok(A, create("/s/x-", b"", 3)), created("/s/x-0000000003"));
    // Failed creates do not consume a number.
    h.err(A, create("/s/plain", b"", 0), ErrorCode::NodeExists);
    // A sequential create of "/s/" is legal.
    assert_eq!(h.ok(A, create("/s/", b"", 2)), created("/s/0000000004"));
    // A failed multi consumes no number either.
    assert_eq!(
        h.ok(
            A,
            Request::Multi(vec![create("/s/m-", b"", 2), create("/nope/x", b"", 0)])
        ),
        Response::Multi(vec![MultiResult::Error(0), MultiResult::Error(-101)])
    );
    assert_eq!(h.ok(A, create("/s/m-", b"", 2)), created("/s/m-0000000005"));
    // Within a multi, later creates see earlier ones.
    let (z, t) = (h.zxid() + 1, h.now.wall_ms);
    assert_eq!(
        h.ok(
            A,
            Request::Multi(vec![create("/s/q-", b"", 2), create2("/s/q-", b"", 2)])
        ),
        Response::Multi(vec![
            MultiResult::Create("/s/q-0000000006".into()),
            MultiResult::Create2("/s/q-0000000007".into(), new_stat(z, t, 0)),
        ])
    );
    // 8 creations, 1 deletion.
    let s = h.stat(A, "/s");
    assert_eq!((s.cversion, s.num_children), (9, 7));
    assert_eq!(
        h.children(A, "/s"),
        strings(&[
            "0000000004",
            "m-0000000005",
            "plain",
            "q-0000000006",
            "q-0000000007",
            "x-0000000000",
            "x-0000000003",
        ])
    );
}

#[test]
fn sequential_names_under_the_root_and_after_pending_creates() {
    let mut h = Harness::new();
    h.connect(A);
    // The root's stored cversion starts at 0 although /zookeeper exists.
    assert_eq!(h.ok(A, create("/r-", b"", 2)), created("/r-0000000000"));
    // "/a/" is legal for a sequential create: the check before the suffix only wants a '/'.
    h.ok(A, create("/a", b"", 0));
    assert_eq!(h.ok(A, create("/a/", b"", 2)), created("/a/0000000000"));
    assert_eq!(h.ok(A, create("/a/", b"", 3)), created("/a/0000000001"));
    h.err(A, create("/a/", b"", 0), ErrorCode::BadArguments);
    // Prep sees creates still in flight.
    h.auto_persist = false;
    assert_eq!(h.send(A, 1, create("/r-", b"", 2)), vec![]);
    assert_eq!(h.send(A, 2, create("/r-", b"", 3)), vec![]);
    let z = h.zxid();
    assert_eq!(
        h.persist_all(),
        vec![
            reply(A, 1, z + 1, ErrorCode::Ok, created("/r-0000000002")),
            reply(A, 2, z + 2, ErrorCode::Ok, created("/r-0000000003")),
        ]
    );
}

// ---- data ---------------------------------------------------------------------------------

#[test]
fn null_data_differs_from_empty_data() {
    let mut h = Harness::new();
    h.connect(A);
    let z = h.zxid() + 1;
    h.ok(
        A,
        Request::Create(create_req("/null", None, Acl::open_unsafe(), 0)),
    );
    h.ok(A, create("/empty", b"", 0));
    let null_stat = new_stat(z, START.wall_ms, 0);
    let get = h.ok(A, get_data("/null", false));
    assert_eq!(
        get,
        Response::GetData {
            data: None,
            stat: null_stat
        }
    );
    // On the wire: buffer length -1 for null, 0 for empty.
    let mut w = Vec::new();
    encode_reply(
        &mut w,
        &ReplyHeader {
            xid: 1,
            zxid: z,
            err: 0,
        },
        &get,
    );
    assert_eq!(w[16..20], (-1i32).to_be_bytes());
    assert_eq!(
        h.ok(A, get_data("/empty", false)),
        data(b"", new_stat(z + 1, START.wall_ms, 0))
    );
    // setData switches between them.
    h.ok(
        A,
        Request::SetData(SetDataRequest {
            path: "/empty".into(),
            data: None,
            version: -1,
        }),
    );
    h.ok(A, set_data("/null", b"", -1));
    let Response::GetData { data: d, .. } = h.ok(A, get_data("/empty", false)) else {
        panic!()
    };
    assert_eq!(d, None);
    let Response::GetData { data: d, .. } = h.ok(A, get_data("/null", false)) else {
        panic!()
    };
    assert_eq!(d, Some(Vec::new()));
    assert_eq!(
        h.ok(A, Request::MultiRead(vec![get_data("/empty", false)])),
        Response::Multi(vec![MultiResult::GetData(
            None,
            Stat {
                mzxid: z + 2,
                version: 1,
                ..new_stat(z + 1, START.wall_ms, 0)
            }
        )])
    );
}
