//! Which error each failed request gets, in ZooKeeper's check order, and invalid requests (spec 02).

mod common;

use common::*;

// ---- errors and their check order -----------------------------------------------------------

#[test]
fn create_errors_in_zookeeper_check_order() {
    use ErrorCode::*;
    let mut h = Harness::new();
    h.connect(A);
    h.ok(A, create("/a", b"", 0));
    h.ok(A, create_acl("/ro", world(perms::READ), 0));
    h.ok(A, create("/e", b"", 1));
    let no_acl = |path: &str, flags| Request::Create(create_req(path, Some(b""), vec![], flags));
    let cases = vec![
        // 1. flags come first.
        (create("/x", b"", 7), BadArguments),
        (create("/x", b"", -1), BadArguments),
        (no_acl("nope", 7), BadArguments),
        // 3. TTL validity (extended types on).
        (create_ttl("/x", 5, 0), BadArguments),
        (create_ttl("/x", 5, -1), BadArguments),
        (create_ttl("/x", 5, MAX_TTL + 1), BadArguments),
        (create_ttl("/x", 0, 100), BadArguments),
        (create_ttl("/x", 2, 100), BadArguments),
        (create("/x", b"", 5), BadArguments),
        (create2("/x", b"", 6), BadArguments),
        // Containers only through opcode 19, and opcode 19 only for containers.
        (create("/x", b"", 4), BadArguments),
        (
            Request::CreateContainer(create_req("/x", None, Acl::open_unsafe(), 0)),
            BadArguments,
        ),
        // 5. a '/' and no NUL, before the ACL.
        (create("x", b"", 0), BadArguments),
        (create("", b"", 0), BadArguments),
        (create("/a\0b", b"", 0), BadArguments),
        (no_acl("x", 0), BadArguments),
        // 6. the ACL, before the parent lookup.
        (no_acl("/x", 0), InvalidAcl),
        (no_acl("/nope/x", 0), InvalidAcl),
        (
            create_acl("/x", vec![acl(31, "world", "someone")], 0),
            InvalidAcl,
        ),
        (create_acl("/x", vec![acl(31, "auth", "")], 0), InvalidAcl),
        (
            create_acl("/x", vec![acl(31, "nosuch", "x")], 0),
            InvalidAcl,
        ),
        // 7. the parent: "/bad/" is NoNode, not BadArguments.
        (create("/nope/x", b"", 0), NoNode),
        (create("/bad/", b"", 0), NoNode),
        (create("/bad/", b"", 2), NoNode),
        // 8. CREATE on the parent, before the full path is validated.
        (create("/ro/x", b"", 0), NoAuth),
        (create("/ro/.", b"", 0), NoAuth),
        (create("/ro/", b"", 0), NoAuth),
        // 10. the full path.
        (create("/a/", b"", 0), BadArguments),
        (create("/a/.", b"", 0), BadArguments),
        (create("/a/..", b"", 0), BadArguments),
        (create("//", b"", 0), BadArguments),
        (create("/a/\u{1}", b"", 0), BadArguments),
        // 11. existence.
        (create("/a", b"", 0), NodeExists),
        (create("/", b"", 0), NodeExists),
        (create("/zookeeper", b"", 0), NodeExists),
        (create("/zookeeper/config", b"", 0), NodeExists),
        // 12. ordinary ephemerals cannot have children.
        (create("/e/x", b"", 0), NoChildrenForEphemerals),
        (create("/e/x", b"", 3), NoChildrenForEphemerals),
        (container("/e/c"), NoChildrenForEphemerals),
    ];
    for (req, code) in cases {
        h.err(A, req, code);
    }
    // Containers and TTL nodes may have children; clients may add children to /zookeeper.
    h.ok(A, container("/c"));
    h.ok(A, create("/c/x", b"", 0));
    h.ok(A, create_ttl("/t", 5, 1000));
    h.ok(A, create("/t/x", b"", 1));
    h.ok(A, create("/zookeeper/foo", b"", 0));
    h.ok(A, delete("/zookeeper/foo", -1));
}

#[test]
fn ttl_without_extended_types_is_unimplemented() {
    use ErrorCode::*;
    let mut h = Harness::with_config(config(false));
    h.connect(A);
    let bad_everything = Request::CreateTtl(CreateTtlRequest {
        path: "/nope/x".into(),
        data: None,
        acl: vec![],
        flags: 5,
        ttl: 0,
    });
    let cases = vec![
        (create_ttl("/x", 5, 1000), Unimplemented),
        (create_ttl("/x", 6, 1000), Unimplemented),
        // Also through opcodes 1 and 15 (verified live for flag 5 with opcode 1).
        (create("/x", b"", 5), Unimplemented),
        (create2("/x", b"", 6), Unimplemented),
        // Before the TTL value, the path, the ACL and the parent.
        (bad_everything, Unimplemented),
        // Unknown flags are still checked first; a non-TTL mode with a TTL is bad.
        (create_ttl("/x", 7, 1000), BadArguments),
        (create_ttl("/x", 0, 1000), BadArguments),
    ];
    for (req, code) in cases {
        h.err(A, req, code);
    }
    h.ok(A, container("/c"));
    h.ok(A, create("/x", b"", 0));
}

#[test]
fn delete_errors_in_zookeeper_check_order() {
    use ErrorCode::*;
    let mut h = Harness::new();
    h.connect(A);
    h.ok(A, create("/p", b"", 0));
    h.ok(A, create("/p/c", b"", 0));
    h.ok(A, create_acl("/nd", world(perms::ALL & !perms::DELETE), 0));
    h.ok(A, create("/nd/c", b"", 0));
    h.ok(A, create("/zookeeper/foo", b"", 0));
    let cases = vec![
        (delete("/", -1), BadArguments),
        (delete("/zookeeper", -1), BadArguments),
        (delete("/zookeeper/quota", -1), BadArguments),
        (delete("/zookeeper/config", -1), BadArguments),
        (delete("/zookeeper/config", 0), BadArguments),
        (delete("nope", -1), BadArguments),
        (delete("", -1), BadArguments),
        (delete("/p\0", -1), BadArguments),
        (delete("/nope/x", -1), NoNode),
        (delete("/missing", -1), NoNode),
        // DELETE on the parent is checked before the node's existence.
        (delete("/nd/missing", -1), NoAuth),
        (delete("/nd/c", 5), NoAuth),
        // The version before the children.
        (delete("/p", 3), BadVersion),
        (delete("/p", -1), NotEmpty),
        (delete("/p", 0), NotEmpty),
        (delete("/p/c", 1), BadVersion),
    ];
    for (req, code) in cases {
        h.err(A, req, code);
    }
    h.ok(A, delete("/p/c", 0));
    h.ok(A, delete("/p", 0));
    h.ok(A, delete("/zookeeper/foo", -1));
    // /nd itself may be deleted: its parent (the root) grants DELETE.
    h.ok(A, set_acl("/nd", Acl::open_unsafe(), -1));
    h.ok(A, delete("/nd/c", -1));
    h.ok(A, delete("/nd", -1));
}

#[test]
fn set_data_and_set_acl_errors_in_zookeeper_check_order() {
    use ErrorCode::*;
    let mut h = Harness::new();
    h.connect(A);
    h.ok(A, create("/a", b"", 0));
    h.ok(A, create_acl("/ro", world(perms::READ), 0));
    h.ok(
        A,
        create_acl("/noadmin", world(perms::ALL & !perms::ADMIN), 0),
    );
    let open = Acl::open_unsafe;
    let cases = vec![
        // setData: path, node, WRITE, version.
        (set_data("/a/", b"", -1), BadArguments),
        (set_data("a", b"", -1), BadArguments),
        (set_data("/missing/", b"", -1), BadArguments),
        (set_data("/a\0", b"", -1), BadArguments),
        (set_data("/missing", b"", -1), NoNode),
        (set_data("/ro", b"", -1), NoAuth),
        (set_data("/ro", b"", 5), NoAuth),
        (set_data("/zookeeper/config", b"", -1), NoAuth),
        (set_data("/a", b"", 1), BadVersion),
        // setACL: path, ACL, node, ADMIN, version.
        (set_acl("/a/", open(), -1), BadArguments),
        (set_acl("/missing/", vec![], -1), BadArguments),
        (set_acl("/missing", vec![], -1), InvalidAcl),
        (
            set_acl("/missing", vec![acl(31, "world", "someone")], -1),
            InvalidAcl,
        ),
        (set_acl("/a", vec![acl(31, "auth", "")], -1), InvalidAcl),
        (set_acl("/missing", open(), -1), NoNode),
        (set_acl("/noadmin", open(), 5), NoAuth),
        (set_acl("/zookeeper/config", open(), -1), NoAuth),
        (set_acl("/a", open(), 1), BadVersion),
    ];
    for (req, code) in cases {
        h.err(A, req, code);
    }
    // WRITE without ADMIN is enough for setData.
    h.ok(A, set_data("/noadmin", b"x", 0));
}

#[test]
fn read_errors() {
    use ErrorCode::*;
    let mut h = Harness::new();
    h.connect(A);
    h.ok(A, create("/a", b"", 0));
    h.ok(A, create_acl("/nr", world(perms::CREATE), 0));
    let all_children = |p: &str| Request::GetAllChildrenNumber(PathRequest { path: p.into() });
    let cases = vec![
        (exists("/a\0", false), BadArguments),
        (exists("nope", false), NoNode),
        (exists("/missing", false), NoNode),
        // Reads do not validate paths: invalid ones are simply not found.
        (get_data("nope", false), NoNode),
        (get_data("/a/", false), NoNode),
        (get_children("/missing", false), NoNode),
        (
            Request::GetChildren2(PathWatchRequest {
                path: "/missing".into(),
                watch: false,
            }),
            NoNode,
        ),
        (get_acl("/missing"), NoNode),
        (all_children("/missing"), NoNode),
        // READ is needed (exists too, since 3.8.4 / 3.9.2); getACL needs READ or ADMIN.
        (exists("/nr", false), NoAuth),
        (get_data("/nr", false), NoAuth),
        (get_children("/nr", false), NoAuth),
        (get_acl("/nr"), NoAuth),
        (all_children("/nr"), NoAuth),
    ];
    for (req, code) in cases {
        h.err(A, req, code);
    }
    // Reads that fail set no watch (except exists).
    assert_eq!(h.node.watch_count(), 0);
}

#[test]
fn failed_writes_consume_a_zxid_and_are_logged() {
    let mut h = Harness::new();
    let s = h.connect(A);
    assert_eq!(
        h.send(A, 1, create("/a", b"", 0)),
        vec![reply(A, 1, 2, ErrorCode::Ok, created("/a"))]
    );
    h.advance(5);
    assert_eq!(
        h.send(A, 2, create("/a", b"", 0)),
        vec![reply(A, 2, 3, ErrorCode::NodeExists, Response::Empty)]
    );
    assert_eq!(
        h.last_txn(),
        &LoggedTxn {
            header: TxnHeader {
                client_id: SessionId(s),
                cxid: 2,
                zxid: Zxid(3),
                time: START.wall_ms + 5,
                txn_type: -1,
            },
            body: TxnBody::Error(ErrorTxn { err: -110 }),
            digest: None,
        }
    );
    assert_eq!(
        h.send(A, 3, delete("/missing", -1)),
        vec![reply(A, 3, 4, ErrorCode::NoNode, Response::Empty)]
    );
    // reconfig is disabled: also an error txn.
    assert_eq!(
        h.send(
            A,
            4,
            Request::Reconfig(ReconfigRequest {
                joining_servers: None,
                leaving_servers: None,
                new_members: None,
                cur_config_id: -1,
            })
        ),
        vec![reply(A, 4, 5, ErrorCode::ReconfigDisabled, Response::Empty)]
    );
    assert_eq!(
        h.send(A, 5, create("/b", b"", 0)),
        vec![reply(A, 5, 6, ErrorCode::Ok, created("/b"))]
    );
    // The failures applied nothing.
    assert_eq!(h.stat(A, "/").cversion, 1);
}

// ---- invalid requests ---------------------------------------------------------------------

#[test]
fn standalone_check_and_unknown_ops_are_unimplemented_then_close() {
    let mut h = Harness::new();
    h.connect(A);
    h.connect(B);
    h.ok(A, create("/a", b"", 0));
    let (zxid, logged) = (h.zxid(), h.log.len());
    // ZooKeeper's UnimplementedRequestProcessor answers with the request's zxid, still -1.
    assert_eq!(
        h.send(A, 5, check("/a", -1)),
        vec![
            reply(A, 5, -1, ErrorCode::Unimplemented, Response::Empty),
            close(A)
        ]
    );
    assert_eq!(h.send(A, 6, exists("/", false)), vec![]);
    assert_eq!(
        h.send_raw(B, 7, 10, Err(BadRequest::UnknownOp)),
        vec![
            reply(B, 7, -1, ErrorCode::Unimplemented, Response::Empty),
            close(B)
        ]
    );
    assert_eq!((h.zxid(), h.log.len()), (zxid, logged), "never logged");
    // The closed connections' watches went with them.
    h.connect(C);
    h.ok(C, get_data("/a", true));
    h.ok(C, add_watch("/", 1));
    assert_eq!(h.run(Input::Disconnected { conn: C }), vec![]);
    assert_eq!(h.node.watch_count(), 0);
    h.connect(D);
    h.ok(D, set_data("/a", b"", -1));
    assert_eq!(h.node.connection_count(), 1);
    // Only the connections are closed: the sessions live on.
    assert_eq!(h.node.session_count(), 4);
}

#[test]
fn malformed_requests_are_marshalling_errors() {
    let mut h = Harness::new();
    let s = h.connect(A);
    let zxid = h.zxid();
    // A read: answered, nothing logged, the connection stays.
    assert_eq!(
        h.send_raw(A, 3, 4, Err(BadRequest::Malformed)),
        vec![reply(
            A,
            3,
            zxid,
            ErrorCode::MarshallingError,
            Response::Empty
        )]
    );
    assert_eq!(h.log.len(), 1);
    // A write: an error txn with its own zxid.
    assert_eq!(
        h.send_raw(A, 4, 1, Err(BadRequest::Malformed)),
        vec![reply(
            A,
            4,
            zxid + 1,
            ErrorCode::MarshallingError,
            Response::Empty
        )]
    );
    assert_eq!(
        h.last_txn(),
        &LoggedTxn {
            header: TxnHeader {
                client_id: SessionId(s),
                cxid: 4,
                zxid: Zxid(zxid + 1),
                time: START.wall_ms,
                txn_type: -1,
            },
            body: TxnBody::Error(ErrorTxn { err: -5 }),
            digest: None,
        }
    );
    assert_eq!(
        h.send_raw(A, 5, 14, Err(BadRequest::Malformed)),
        vec![reply(
            A,
            5,
            zxid + 2,
            ErrorCode::MarshallingError,
            Response::Empty
        )]
    );
    // addWatch with an unknown mode.
    h.err(A, add_watch("/", 2), ErrorCode::MarshallingError);
    h.ok(A, exists("/", false));
}

/// deleteContainer (opcode 20) is the server's own reaper operation: from a client it would
/// delete any empty non-ephemeral node without an ACL check. It is refused with BadArguments
/// whatever its body (a jute path, ZooKeeper 3.8.0's raw path bytes, garbage), nothing is
/// logged, the node stays and the connection is kept.
#[test]
fn delete_container_from_a_client_is_bad_arguments_and_keeps_the_node() {
    let mut h = Harness::new();
    h.connect(A);
    h.ok(A, create_acl("/locked", world(perms::READ), 0));
    h.ok(A, container("/box"));
    h.ok(A, create("/plain", b"", 0));
    let (zxid, logged) = (h.zxid(), h.log.len());
    let path = |p: &str| Ok(Request::DeleteContainer(PathRequest { path: p.into() }));
    let bodies = [
        path("/locked"),
        path("/box"),
        path("/plain"),
        path("/nope"),
        Err(BadRequest::Malformed),
    ];
    for (i, body) in bodies.into_iter().enumerate() {
        let xid = 50 + i as i32;
        assert_eq!(
            h.send_raw(A, xid, 20, body),
            vec![reply(
                A,
                xid,
                zxid,
                ErrorCode::BadArguments,
                Response::Empty
            )],
        );
    }
    assert_eq!((h.zxid(), h.log.len()), (zxid, logged), "nothing logged");
    for p in ["/locked", "/box", "/plain"] {
        h.stat(A, p);
    }
    // Behind a write in flight, the refusal keeps its place in the reply order.
    h.auto_persist = false;
    assert_eq!(h.send(A, 60, create("/w", b"", 0)), vec![]);
    assert_eq!(h.send_raw(A, 61, 20, path("/plain")), vec![]);
    let out = h.persist_all();
    assert_eq!(
        out,
        vec![
            reply(A, 60, zxid + 1, ErrorCode::Ok, created("/w")),
            reply(A, 61, zxid + 1, ErrorCode::BadArguments, Response::Empty),
        ]
    );
    h.auto_persist = true;
    h.stat(A, "/plain");
}
