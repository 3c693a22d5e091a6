//! Watches: one-shot, persistent, recursive, removal, setWatches and event order (spec 04).

mod common;

use common::*;

// ---- watches ------------------------------------------------------------------------------

#[test]
fn exists_watch_on_a_missing_node_fires_before_the_create_reply() {
    let mut h = Harness::new();
    h.connect(A);
    let zxid = h.zxid();
    assert_eq!(
        h.send(A, 1, exists("/w", true)),
        vec![reply(A, 1, zxid, ErrorCode::NoNode, Response::Empty)]
    );
    assert_eq!(
        h.send(A, 2, create("/w", b"", 0)),
        vec![
            notify(A, zxid + 1, CREATED, "/w"),
            reply(A, 2, zxid + 1, ErrorCode::Ok, created("/w")),
        ]
    );
    // One-shot: consumed.
    assert_eq!(
        h.send(A, 3, set_data("/w", b"x", -1)),
        vec![reply(
            A,
            3,
            zxid + 2,
            ErrorCode::Ok,
            Response::Stat(Stat {
                mzxid: zxid + 2,
                version: 1,
                ..new_stat(zxid + 1, START.wall_ms, 1)
            })
        )]
    );
    assert_eq!(h.node.watch_count(), 0);
}

#[test]
fn get_data_and_get_children_on_a_missing_node_set_no_watch() {
    let mut h = Harness::new();
    h.connect(A);
    h.connect(B);
    h.err(B, get_data("/w", true), ErrorCode::NoNode);
    h.err(B, get_children("/w", true), ErrorCode::NoNode);
    assert_eq!(h.node.watch_count(), 0);
    h.ok(A, create("/w", b"", 0));
}

#[test]
fn one_shot_data_and_child_watches_fire_once() {
    let mut h = Harness::new();
    h.connect(A);
    h.connect(B);
    h.ok(A, create("/w", b"", 0));
    h.ok(B, get_data("/w", true));
    h.ok(B, get_children("/w", true));
    let z = h.zxid() + 1;
    let out = h.send(A, 1, set_data("/w", b"1", -1));
    assert_eq!(out[0], notify(B, z, DATA_CHANGED, "/w"));
    assert_eq!(out.len(), 2);
    assert_eq!(h.send(A, 2, set_data("/w", b"2", -1)).len(), 1);
    // The child watch saw neither data change; it fires for a child create.
    let out = h.send(A, 3, create("/w/c", b"", 0));
    assert_eq!(
        out,
        vec![
            notify(B, z + 2, CHILDREN_CHANGED, "/w"),
            reply(A, 3, z + 2, ErrorCode::Ok, created("/w/c")),
        ]
    );
    // ...only once, and never for grandchildren.
    h.ok(B, get_children("/w", true));
    h.ok(A, create("/w/c/g", b"", 0));
    h.ok(A, set_data("/w/c", b"", -1));
    let out = h.send(A, 4, delete("/w/c/g", -1));
    assert_eq!(out.len(), 1);
    let z = h.zxid() + 1;
    assert_eq!(
        h.send(A, 5, delete("/w/c", -1)),
        vec![
            notify(B, z, CHILDREN_CHANGED, "/w"),
            reply(A, 5, z, ErrorCode::Ok, Response::Empty),
        ]
    );
    assert_eq!(h.node.watch_count(), 0);
}

#[test]
fn node_deleted_is_delivered_once_per_connection() {
    let mut h = Harness::new();
    h.connect(A);
    h.connect(B);
    h.connect(C);
    h.connect(D);
    h.ok(A, create("/d", b"", 0));
    // B: data, exists and child watches; C: the parent's child watch; D: a child watch.
    h.ok(B, get_data("/d", true));
    h.ok(B, exists("/d", true));
    h.ok(B, get_children("/d", true));
    h.ok(C, get_children("/", true));
    h.ok(D, get_children("/d", true));
    let z = h.zxid() + 1;
    assert_eq!(
        h.send(A, 1, delete("/d", -1)),
        vec![
            notify(B, z, DELETED, "/d"),
            notify(D, z, DELETED, "/d"),
            notify(C, z, CHILDREN_CHANGED, "/"),
            reply(A, 1, z, ErrorCode::Ok, Response::Empty),
        ]
    );
    assert_eq!(h.node.watch_count(), 0);
}

#[test]
fn persistent_watch_sees_every_change_of_its_node_and_children() {
    let mut h = Harness::new();
    h.connect(A);
    h.connect(B);
    let zxid = h.zxid();
    // No existence check; the reply body is ErrorResponse{0}.
    assert_eq!(
        h.send(B, 1, add_watch("/p", 0)),
        vec![reply(B, 1, zxid, ErrorCode::Ok, Response::ErrorResponse(0))]
    );
    let steps: Vec<(Request, Option<(i32, &str)>)> = vec![
        (create("/p", b"", 0), Some((CREATED, "/p"))),
        (set_data("/p", b"1", -1), Some((DATA_CHANGED, "/p"))),
        (create("/p/c", b"", 0), Some((CHILDREN_CHANGED, "/p"))),
        (set_data("/p/c", b"1", -1), None),
        (create("/p/c/g", b"", 0), None),
        (delete("/p/c/g", -1), None),
        (set_acl("/p", Acl::open_unsafe(), -1), None),
        (delete("/p/c", -1), Some((CHILDREN_CHANGED, "/p"))),
        (set_data("/p", b"2", -1), Some((DATA_CHANGED, "/p"))),
        // Registered in both tables, but NodeDeleted comes once.
        (delete("/p", -1), Some((DELETED, "/p"))),
        (create("/p", b"", 0), Some((CREATED, "/p"))),
    ];
    for (i, (req, event)) in steps.into_iter().enumerate() {
        let z = h.zxid() + 1;
        let out = h.send(A, 10 + i as i32, req.clone());
        let mut expected: Vec<Output> =
            event.map(|(t, p)| notify(B, z, t, p)).into_iter().collect();
        assert_eq!(out.len(), expected.len() + 1, "{req:?}: {out:?}");
        expected.push(out[out.len() - 1].clone());
        assert_eq!(out, expected, "{req:?}");
    }
}

#[test]
fn persistent_recursive_watch_sees_the_subtree_but_no_child_events() {
    let mut h = Harness::new();
    h.connect(A);
    h.connect(B);
    h.ok(B, add_watch("/r", 1));
    let steps: Vec<(Request, Option<(i32, &str)>)> = vec![
        (create("/r", b"", 0), Some((CREATED, "/r"))),
        (create("/r/a", b"", 0), Some((CREATED, "/r/a"))),
        (create("/r/a/b", b"", 0), Some((CREATED, "/r/a/b"))),
        (set_data("/r/a/b", b"1", -1), Some((DATA_CHANGED, "/r/a/b"))),
        (delete("/r/a/b", -1), Some((DELETED, "/r/a/b"))),
        (set_data("/r", b"1", -1), Some((DATA_CHANGED, "/r"))),
        // A sibling sharing the name prefix is not below /r.
        (create("/rx", b"", 0), None),
        (create("/rx/y", b"", 0), None),
        (delete("/r/a", -1), Some((DELETED, "/r/a"))),
    ];
    for (i, (req, event)) in steps.into_iter().enumerate() {
        let z = h.zxid() + 1;
        let out = h.send(A, 10 + i as i32, req.clone());
        let mut expected: Vec<Output> =
            event.map(|(t, p)| notify(B, z, t, p)).into_iter().collect();
        assert_eq!(out.len(), expected.len() + 1, "{req:?}: {out:?}");
        expected.push(out[out.len() - 1].clone());
        assert_eq!(out, expected, "{req:?}");
    }
    // With a one-shot child watch on /r too, a child create gives both events.
    h.ok(B, get_children("/r", true));
    let z = h.zxid() + 1;
    assert_eq!(
        h.send(A, 1, create("/r/n", b"", 0)),
        vec![
            notify(B, z, CREATED, "/r/n"),
            notify(B, z, CHILDREN_CHANGED, "/r"),
            reply(A, 1, z, ErrorCode::Ok, created("/r/n")),
        ]
    );
    // A recursive watch on the root sees everything below it.
    h.connect(C);
    h.ok(C, add_watch("/", 1));
    let z = h.zxid() + 1;
    assert_eq!(
        h.send(A, 2, set_data("/zookeeper/quota", b"", -1)),
        vec![
            notify(C, z, DATA_CHANGED, "/zookeeper/quota"),
            reply(
                A,
                2,
                z,
                ErrorCode::Ok,
                Response::Stat(Stat {
                    mzxid: z,
                    mtime: START.wall_ms,
                    version: 1,
                    ..Stat::default()
                })
            ),
        ]
    );
}

#[test]
fn check_and_remove_watches() {
    use ErrorCode::*;
    let mut h = Harness::new();
    h.connect(A);
    h.connect(B);
    h.ok(A, create("/w", b"", 0));
    // Nothing registered.
    for t in 1..=5 {
        h.err(B, check_watches("/w", t), NoWatcher);
        h.err(B, remove_watches("/w", t), NoWatcher);
    }
    // Unknown watcher type.
    h.err(B, check_watches("/w", 6), MarshallingError);
    h.err(B, remove_watches("/w", 0), MarshallingError);
    // A one-shot data watch: Data and Any match, Children does not.
    h.ok(B, get_data("/w", true));
    assert_eq!(h.ok(B, check_watches("/w", 2)), Response::Empty);
    h.ok(B, check_watches("/w", 3));
    h.err(B, check_watches("/w", 1), NoWatcher);
    h.err(B, check_watches("/w", 4), NoWatcher);
    // Another connection's watch is not ours.
    h.err(A, check_watches("/w", 2), NoWatcher);
    h.err(A, remove_watches("/w", 3), NoWatcher);
    assert_eq!(h.ok(B, remove_watches("/w", 2)), Response::Empty);
    h.err(B, remove_watches("/w", 2), NoWatcher);
    h.ok(A, set_data("/w", b"", -1)); // no event: `ok` wants exactly one output
    // Child watch removed with Any.
    h.ok(B, get_children("/w", true));
    h.ok(B, check_watches("/w", 1));
    h.ok(B, remove_watches("/w", 3));
    h.ok(A, create("/w/c", b"", 0));
    // Persistent: only Persistent or Any remove it; Data does not (3.9 semantics).
    h.ok(B, add_watch("/w", 0));
    h.ok(B, check_watches("/w", 4));
    h.ok(B, check_watches("/w", 3));
    h.err(B, check_watches("/w", 5), NoWatcher);
    h.err(B, remove_watches("/w", 2), NoWatcher);
    h.err(B, remove_watches("/w", 1), NoWatcher);
    // A one-shot watch next to the persistent one; the trigger consumes only the one-shot.
    h.ok(B, get_data("/w", true));
    let z = h.zxid() + 1;
    assert_eq!(
        h.send(A, 1, set_data("/w", b"x", -1))[0],
        notify(B, z, DATA_CHANGED, "/w")
    );
    h.err(B, check_watches("/w", 2), NoWatcher);
    h.ok(B, check_watches("/w", 4));
    h.ok(B, remove_watches("/w", 4));
    h.err(B, check_watches("/w", 3), NoWatcher);
    // Recursive: PersistentRecursive or Any.
    h.ok(B, add_watch("/w", 1));
    h.err(B, check_watches("/w", 4), NoWatcher);
    h.ok(B, check_watches("/w", 5));
    h.ok(B, remove_watches("/w", 3));
    h.ok(A, set_data("/w", b"y", -1));
    h.ok(A, delete("/w/c", -1));
    assert_eq!(h.node.watch_count(), 0);
}

#[test]
fn set_watches_sends_catch_up_events_with_zxid_minus_one() {
    let mut h = Harness::new();
    h.connect(A);
    for p in ["/d", "/gone", "/same", "/gone2", "/nochange", "/re"] {
        h.ok(A, create(p, b"", 0));
    }
    let rel = h.zxid();
    h.ok(A, set_data("/d", b"1", -1));
    h.ok(A, delete("/gone", -1));
    h.ok(A, delete("/gone2", -1));
    h.ok(A, create("/d/c", b"", 0));
    // Delete and recreate is reported as a data change (new mzxid).
    h.ok(A, delete("/re", -1));
    h.ok(A, create("/re", b"", 0));
    h.connect(B);
    let zxid = h.zxid();
    let out = h.send(
        B,
        SET_WATCHES_XID,
        Request::SetWatches2(SetWatches2 {
            relative_zxid: rel,
            data_watches: strings(&["/d", "/gone", "/same", "/re"]),
            exist_watches: strings(&["/d", "/missing"]),
            child_watches: strings(&["/d", "/gone2", "/nochange"]),
            persistent_watches: strings(&["/pw"]),
            persistent_recursive_watches: strings(&["/rw"]),
        }),
    );
    assert_eq!(
        out,
        vec![
            notify(B, -1, DATA_CHANGED, "/d"),
            notify(B, -1, DELETED, "/gone"),
            notify(B, -1, DATA_CHANGED, "/re"),
            notify(B, -1, CREATED, "/d"),
            notify(B, -1, CHILDREN_CHANGED, "/d"),
            notify(B, -1, DELETED, "/gone2"),
            reply(B, SET_WATCHES_XID, zxid, ErrorCode::Ok, Response::Empty),
        ]
    );
    // What was not caught up is registered (one-shot); the catch-up events re-arm nothing.
    let steps: Vec<(Request, Option<(i32, &str)>)> = vec![
        (set_data("/d", b"2", -1), None),
        (create("/d/c2", b"", 0), None),
        (set_data("/same", b"1", -1), Some((DATA_CHANGED, "/same"))),
        (set_data("/same", b"2", -1), None),
        (create("/missing", b"", 0), Some((CREATED, "/missing"))),
        (
            create("/nochange/c", b"", 0),
            Some((CHILDREN_CHANGED, "/nochange")),
        ),
        (create("/pw", b"", 0), Some((CREATED, "/pw"))),
        (create("/pw/c", b"", 0), Some((CHILDREN_CHANGED, "/pw"))),
        (create("/rw", b"", 0), Some((CREATED, "/rw"))),
        (create("/rw/c", b"", 0), Some((CREATED, "/rw/c"))),
    ];
    for (i, (req, event)) in steps.into_iter().enumerate() {
        let z = h.zxid() + 1;
        let out = h.send(A, 10 + i as i32, req.clone());
        let mut expected: Vec<Output> =
            event.map(|(t, p)| notify(B, z, t, p)).into_iter().collect();
        assert_eq!(out.len(), expected.len() + 1, "{req:?}: {out:?}");
        expected.push(out[out.len() - 1].clone());
        assert_eq!(out, expected, "{req:?}");
    }
}

#[test]
fn set_watches_v1_and_its_reply_order() {
    let mut h = Harness::new();
    h.connect(A);
    h.ok(A, create("/x", b"", 0));
    let rel = h.zxid();
    h.ok(A, delete("/x", -1));
    h.connect(B);
    h.auto_persist = false;
    // A write of B in flight: the SetWatches reply (and its events) wait behind it.
    assert_eq!(h.send(B, 1, create("/y", b"", 0)), vec![]);
    let out = h.send(
        B,
        SET_WATCHES_XID,
        Request::SetWatches(SetWatches {
            relative_zxid: rel,
            data_watches: strings(&["/x"]),
            exist_watches: strings(&["/y"]),
            child_watches: Vec::new(),
        }),
    );
    assert_eq!(out, vec![]);
    let z = h.zxid() + 1;
    assert_eq!(
        h.persist_all(),
        vec![
            reply(B, 1, z, ErrorCode::Ok, created("/y")),
            notify(B, -1, DELETED, "/x"),
            notify(B, -1, CREATED, "/y"),
            reply(B, SET_WATCHES_XID, z, ErrorCode::Ok, Response::Empty),
        ]
    );
}

#[test]
fn multi_fires_watches_in_op_order_with_the_multi_zxid() {
    let mut h = Harness::new();
    h.connect(A);
    h.connect(B);
    h.err(B, exists("/m2", true), ErrorCode::NoNode);
    h.err(B, exists("/m1", true), ErrorCode::NoNode);
    h.ok(B, get_children("/", true));
    let z = h.zxid() + 1;
    assert_eq!(
        h.send(
            A,
            1,
            Request::Multi(vec![
                create("/m1", b"", 0),
                create("/m2", b"", 0),
                set_data("/m1", b"x", -1),
            ])
        ),
        vec![
            notify(B, z, CREATED, "/m1"),
            notify(B, z, CHILDREN_CHANGED, "/"),
            notify(B, z, CREATED, "/m2"),
            reply(
                A,
                1,
                z,
                ErrorCode::Ok,
                Response::Multi(vec![
                    MultiResult::Create("/m1".into()),
                    MultiResult::Create("/m2".into()),
                    MultiResult::SetData(Stat {
                        version: 1,
                        ..new_stat(z, START.wall_ms, 1)
                    }),
                ])
            ),
        ]
    );
    // A failed multi fires nothing.
    h.err(B, exists("/m3", true), ErrorCode::NoNode);
    let z = h.zxid() + 1;
    assert_eq!(
        h.send(
            A,
            2,
            Request::Multi(vec![create("/m3", b"", 0), create("/m1", b"", 0)])
        ),
        vec![reply(
            A,
            2,
            z,
            ErrorCode::Ok,
            Response::Multi(vec![MultiResult::Error(0), MultiResult::Error(-110)])
        )]
    );
}
