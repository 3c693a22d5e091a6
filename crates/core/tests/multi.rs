//! multi and multiRead (spec 02).

mod common;

use common::*;

// ---- multi --------------------------------------------------------------------------------

#[test]
fn multi_success_results() {
    let mut h = Harness::new();
    let s = h.connect(A);
    let (z, t) = (h.zxid() + 1, h.now.wall_ms);
    let ops = vec![
        create("/m", b"m", 0),
        create2("/m/c", b"c", 0),
        set_data("/m", b"mm", 0),
        check("/m", 1),
        Request::CreateContainer(create_req("/m/k", None, Acl::open_unsafe(), 4)),
        delete("/m/c", 0),
        create_ttl("/m/t", 5, 5000),
        check("/m/k", 0),
    ];
    assert_eq!(
        h.send(A, 9, Request::Multi(ops)),
        vec![reply(
            A,
            9,
            z,
            ErrorCode::Ok,
            Response::Multi(vec![
                MultiResult::Create("/m".into()),
                MultiResult::Create2("/m/c".into(), new_stat(z, t, 1)),
                MultiResult::SetData(Stat {
                    version: 1,
                    cversion: 1,
                    num_children: 1,
                    ..new_stat(z, t, 2)
                }),
                MultiResult::Check,
                MultiResult::Create2("/m/k".into(), new_stat(z, t, 0)),
                MultiResult::Delete,
                MultiResult::Create2("/m/t".into(), new_stat(z, t, 0)),
                MultiResult::Check,
            ])
        )]
    );
    // One txn (type 14) with one sub-txn per op.
    let txn = h.last_txn();
    assert_eq!(
        txn.header,
        TxnHeader {
            client_id: SessionId(s),
            cxid: 9,
            zxid: Zxid(z),
            time: t,
            txn_type: 14,
        }
    );
    let TxnBody::Multi(subs) = &txn.body else {
        panic!("{:?}", txn.body);
    };
    assert_eq!(
        subs.iter().map(TxnBody::txn_type).collect::<Vec<_>>(),
        vec![1, 15, 5, 13, 19, 2, 21, 13]
    );
    // 3 child creations, 1 deletion.
    assert_eq!(
        h.ok(A, get_data("/m", false)),
        data(
            b"mm",
            Stat {
                version: 1,
                cversion: 4,
                num_children: 2,
                ..new_stat(z, t, 2)
            }
        )
    );
    assert_eq!(h.children(A, "/m"), strings(&["k", "t"]));
}

#[test]
fn failed_multi_reports_per_op_and_applies_nothing() {
    let mut h = Harness::new();
    let s = h.connect(A);
    h.ok(A, create("/keep", b"k", 0));
    let before = h.stat(A, "/");
    let z = h.zxid() + 1;
    let ops = vec![
        create("/f1", b"", 0),
        set_data("/f1", b"x", 0),
        delete("/keep", -1),
        delete("/nonexistent", -1),
        create("/g", b"", 0),
        check("/f1", 0),
    ];
    // Header err 0; 0 before the failure, the code, -2 after.
    assert_eq!(
        h.send(A, 3, Request::Multi(ops)),
        vec![reply(
            A,
            3,
            z,
            ErrorCode::Ok,
            Response::Multi(vec![
                MultiResult::Error(0),
                MultiResult::Error(0),
                MultiResult::Error(0),
                MultiResult::Error(-101),
                MultiResult::Error(-2),
                MultiResult::Error(-2),
            ])
        )]
    );
    // Logged as a multi of the earlier txns, the error and RuntimeInconsistency.
    let txn = h.last_txn();
    assert_eq!(
        (txn.header.txn_type, txn.header.client_id),
        (14, SessionId(s))
    );
    let TxnBody::Multi(subs) = &txn.body else {
        panic!("{:?}", txn.body);
    };
    assert_eq!(
        subs.iter().map(TxnBody::txn_type).collect::<Vec<_>>(),
        vec![1, 5, 2, -1, -1, -1]
    );
    assert_eq!(subs[3], TxnBody::Error(ErrorTxn { err: -101 }));
    assert_eq!(subs[4], TxnBody::Error(ErrorTxn { err: -2 }));
    // Atomic: nothing applied, not even the ops before the failure.
    h.err(A, exists("/f1", false), ErrorCode::NoNode);
    assert_eq!(
        h.ok(A, get_data("/keep", false)),
        data(b"k", new_stat(2, START.wall_ms, 1))
    );
    assert_eq!(h.stat(A, "/"), before);
    // The rolled-back pending state does not leak into later writes.
    h.ok(A, create("/f1", b"", 0));
    h.ok(A, delete("/keep", 0));
}

#[test]
fn multi_ops_see_the_earlier_ops_of_the_same_multi() {
    let mut h = Harness::new();
    h.connect(A);
    h.ok(A, create("/a", b"", 0));
    let multi = |ops| Request::Multi(ops);
    assert_eq!(
        h.ok(A, multi(vec![create("/x", b"", 0), create("/x", b"", 0)])),
        Response::Multi(vec![MultiResult::Error(0), MultiResult::Error(-110)])
    );
    assert_eq!(
        h.ok(A, multi(vec![delete("/a", -1), create("/a/c", b"", 0)])),
        Response::Multi(vec![MultiResult::Error(0), MultiResult::Error(-101)])
    );
    assert_eq!(
        h.ok(A, multi(vec![create("/e", b"", 1), create("/e/c", b"", 0)])),
        Response::Multi(vec![MultiResult::Error(0), MultiResult::Error(-108)])
    );
    assert_eq!(
        h.ok(A, multi(vec![set_data("/a", b"", 0), check("/a", 0)])),
        Response::Multi(vec![MultiResult::Error(0), MultiResult::Error(-103)])
    );
    let z = h.zxid() + 1;
    assert_eq!(
        h.ok(
            A,
            multi(vec![
                create("/y", b"", 0),
                delete("/y", 0),
                create("/y", b"1", 0),
                set_data("/y", b"22", 0),
                check("/y", 1),
            ])
        ),
        Response::Multi(vec![
            MultiResult::Create("/y".into()),
            MultiResult::Delete,
            MultiResult::Create("/y".into()),
            MultiResult::SetData(Stat {
                version: 1,
                ..new_stat(z, START.wall_ms, 2)
            }),
            MultiResult::Check,
        ])
    );
    // A NoAuth or BadArguments sub-op fails the multi like any other error.
    h.ok(A, create_acl("/ro", world(perms::READ), 0));
    assert_eq!(
        h.ok(
            A,
            multi(vec![
                check("/ro", 0),
                create("/ro/x", b"", 0),
                delete("/", -1)
            ])
        ),
        Response::Multi(vec![
            MultiResult::Error(0),
            MultiResult::Error(-102),
            MultiResult::Error(-2)
        ])
    );
    // An empty multi is an empty write.
    assert_eq!(h.ok(A, multi(vec![])), Response::Multi(vec![]));
}

#[test]
fn check_inside_multi_errors() {
    let mut h = Harness::new();
    h.connect(A);
    h.ok(A, create("/a", b"", 0));
    h.ok(A, create_acl("/nr", world(perms::CREATE), 0));
    for (op, code) in [
        (check("/missing", -1), -101),
        (check("/a", 3), -103),
        (check("/a/", -1), -8),
        (check("a", -1), -8),
        (check("/nr", -1), -102),
    ] {
        let z = h.zxid() + 1;
        assert_eq!(
            h.send(A, 1, Request::Multi(vec![op.clone()])),
            vec![reply(
                A,
                1,
                z,
                ErrorCode::Ok,
                Response::Multi(vec![MultiResult::Error(code)])
            )],
            "{op:?}"
        );
        assert_eq!(
            h.last_txn().body,
            TxnBody::Multi(vec![TxnBody::Error(ErrorTxn { err: code })])
        );
    }
}

#[test]
fn multi_read_mixes_successes_and_failures() {
    let mut h = Harness::new();
    h.connect(A);
    let z = h.zxid() + 1;
    h.ok(A, create("/r", b"r", 0));
    h.ok(A, create("/r/c1", b"", 0));
    h.ok(A, create("/r/c2", b"", 0));
    h.ok(A, create_acl("/secret", world(perms::CREATE), 0));
    let r_stat = Stat {
        cversion: 2,
        num_children: 2,
        pzxid: z + 2,
        ..new_stat(z, START.wall_ms, 1)
    };
    let body = h.ok(
        A,
        Request::MultiRead(vec![
            get_data("/r", false),
            get_data("/missing", false),
            get_children("/r", false),
            get_children("/missing", false),
            get_data("/secret", false),
            get_children("/secret", false),
            get_data("/r/c1", false),
        ]),
    );
    assert_eq!(
        body,
        Response::Multi(vec![
            MultiResult::GetData(Some(b"r".to_vec()), r_stat),
            MultiResult::Error(-101),
            MultiResult::GetChildren(strings(&["c1", "c2"])),
            MultiResult::Error(-101),
            MultiResult::Error(-102),
            MultiResult::Error(-102),
            MultiResult::GetData(Some(Vec::new()), new_stat(z + 1, START.wall_ms, 0)),
        ])
    );
}
