//! Handshakes, session resumption and the life of sessions (spec 01 §1.3, 05).

mod common;

use common::*;

// ---- connect ------------------------------------------------------------------------------

#[test]
fn connect_clamps_timeout_and_hands_out_ids_and_passwords() {
    let mut h = Harness::new();
    let cases = [
        (1000, 4000),
        (100_000, 40_000),
        (10_000, 10_000),
        (4000, 4000),
        (40_000, 40_000),
        (3999, 4000),
        (40_001, 40_000),
        (-1, 4000),
    ];
    for (i, (asked, negotiated)) in cases.into_iter().enumerate() {
        let conn = ConnId(i as u64 + 1);
        let id = FIRST_SESSION + i as i64;
        let out = h.connect_with(
            conn,
            ConnectRequest {
                timeout: asked,
                ..new_session()
            },
        );
        assert_eq!(out, vec![connected(conn, negotiated, id, Some(false))]);
        // The session is created by a createSession txn (type -10) carrying the negotiated
        // timeout; it takes the next zxid.
        let txn = h.last_txn();
        assert_eq!(
            txn.header,
            TxnHeader {
                client_id: SessionId(id),
                cxid: 0,
                zxid: Zxid(i as i64 + 1),
                time: START.wall_ms,
                txn_type: -10,
            }
        );
        assert_eq!(
            txn.body,
            TxnBody::CreateSession(CreateSessionTxn {
                timeout: negotiated
            })
        );
    }
    assert_eq!(h.node.session_count(), cases.len());
    assert_eq!(h.zxid(), cases.len() as i64);
    // The password function reproduces a live ZooKeeper 3.8.0 (spec 01 §1.3).
    assert_eq!(
        hex(&session_password(0x0100_0007_6374_0001)),
        "c173b5fe4305e7ef318bbe12f87a16ed"
    );
}

#[test]
fn connect_response_has_the_read_only_byte_iff_the_request_had_it() {
    for (sent, expected) in [
        (None, None),
        (Some(false), Some(false)),
        (Some(true), Some(false)),
    ] {
        let mut h = Harness::new();
        let out = h.connect_with(
            A,
            ConnectRequest {
                read_only: sent,
                ..new_session()
            },
        );
        assert_eq!(out, vec![connected(A, 10_000, FIRST_SESSION, expected)]);
        // A successful resume...
        let out = h.connect_with(
            B,
            ConnectRequest {
                read_only: sent,
                ..resume(FIRST_SESSION, h.zxid())
            },
        );
        assert_eq!(
            out,
            vec![close(A), connected(B, 10_000, FIRST_SESSION, expected)]
        );
        // ...and a refused one (which leaves the owner's connection alone).
        let out = h.connect_with(
            C,
            ConnectRequest {
                read_only: sent,
                passwd: vec![7; 16],
                ..resume(FIRST_SESSION, 0)
            },
        );
        assert_eq!(out, vec![refused(C, expected), close(C)]);
    }
}

#[test]
fn resume_with_the_right_password_moves_the_session() {
    let mut h = Harness::new();
    let s = h.connect(A);
    h.ok(A, create("/eph", b"", 1));
    let (zxid, logged) = (h.zxid(), h.log.len());
    h.advance(3000);
    let out = h.connect_with(
        B,
        ConnectRequest {
            timeout: 100_000,
            ..resume(s, zxid)
        },
    );
    // The older connection of the session is closed; the timeout is renegotiated.
    assert_eq!(out, vec![close(A), connected(B, 40_000, s, Some(false))]);
    assert_eq!(
        (h.zxid(), h.log.len()),
        (zxid, logged),
        "resume is not a txn"
    );
    assert_eq!(h.node.connection_count(), 1);
    // The old connection is gone: what it sends is ignored.
    assert_eq!(h.send(A, 1, exists("/", false)), vec![]);
    // The session and its ephemeral live on, served on the new connection.
    assert_eq!(h.stat(B, "/eph").ephemeral_owner, s);
    // Expiry now follows the renegotiated timeout.
    assert_eq!(h.node.next_deadline(), Some(bucket(h.now.mono_ms + 40_000)));
}

#[test]
fn resume_with_a_wrong_password_or_an_unknown_session_is_refused() {
    let mut h = Harness::new();
    let s = h.connect(A);
    // An unknown session, and a missing password for another unknown one: refused, and
    // nobody else is disturbed.
    for (conn, session, passwd) in [
        (D, s + 1, session_password(s + 1).to_vec()),
        (E, s + 2, Vec::new()),
    ] {
        let out = h.connect_with(
            conn,
            ConnectRequest {
                passwd,
                ..resume(session, 0)
            },
        );
        // timeout 0, id 0, 16 zero bytes, then close.
        assert_eq!(out, vec![refused(conn, Some(false)), close(conn)]);
    }
    assert_eq!(h.node.connection_count(), 1);
    // A wrong password for a live session leaves its owner alone. (ZooKeeper 3.8 closes the
    // session's other connections before it checks the password, so anyone knowing a
    // session id can keep disconnecting its owner; Menagerie checks first.)
    let out = h.connect_with(
        B,
        ConnectRequest {
            passwd: vec![0u8; 16],
            ..resume(s, 0)
        },
    );
    assert_eq!(out, vec![refused(B, Some(false)), close(B)]);
    assert_eq!(h.node.connection_count(), 1);
    assert_eq!(h.log.len(), 1);
    h.ok(A, create("/still-here", b"", 0));
    // The owner moves with the right password and finds its session intact.
    let out = h.connect_with(C, resume(s, 0));
    assert_eq!(out.len(), 2, "{out:?}");
    h.stat(C, "/still-here");
}

/// `menagerie.sessionSecretFile` (issue 16, item 3): passwords come from a secret, so a
/// session id alone (shown by `cons`, guessable from its structure) no longer lets anyone
/// resume, and take over, the session with ZooKeeper's formula.
#[test]
fn a_session_secret_makes_passwords_unguessable_from_the_id() {
    let secret = b"an ensemble-wide secret".to_vec();
    let mut h = Harness::configured(|c| {
        c.auth.session_secret = Some(secret.clone());
        c.min_session_timeout_ms = 4000;
        c.max_session_timeout_ms = 40_000;
    });
    let out = h.connect_with(A, new_session());
    let [Output::Connected { resp, .. }] = out.as_slice() else {
        panic!("{out:?}");
    };
    let s = resp.session_id;
    assert_ne!(resp.passwd, session_password(s).to_vec());
    let with_secret = |secret: &[u8]| {
        menagerie_core::auth::AuthConfig {
            session_secret: Some(secret.to_vec()),
            ..Default::default()
        }
        .session_password(SessionId(s))
        .to_vec()
    };
    assert_eq!(resp.passwd, with_secret(&secret));
    let given = resp.passwd.clone();
    h.ok(A, create("/lock", b"", 1));
    // ZooKeeper's formula, or another ensemble's secret: refused, the owner undisturbed.
    for (conn, passwd) in [
        (B, session_password(s).to_vec()),
        (C, with_secret(b"another secret")),
    ] {
        let req = ConnectRequest {
            passwd,
            ..resume(s, 0)
        };
        assert_eq!(
            h.connect_with(conn, req),
            vec![refused(conn, Some(false)), close(conn)]
        );
    }
    h.stat(A, "/lock");
    // The password the server handed out resumes the session.
    let req = ConnectRequest {
        passwd: given.clone(),
        ..resume(s, 0)
    };
    let out = h.connect_with(D, req);
    assert_eq!(
        out,
        vec![
            close(A),
            Output::Connected {
                conn: D,
                resp: ConnectResponse {
                    passwd: given,
                    ..connected_resp(10_000, s, Some(false))
                }
            }
        ]
    );
}

#[test]
fn client_that_has_seen_a_newer_zxid_is_closed_without_response() {
    let mut h = Harness::new();
    let s = h.connect(A);
    assert_eq!(h.zxid(), 1);
    let out = h.connect_with(
        B,
        ConnectRequest {
            last_zxid_seen: 2,
            ..new_session()
        },
    );
    assert_eq!(out, vec![close(B)]);
    let out = h.connect_with(C, resume(s, 2));
    assert_eq!(out, vec![close(C)]);
    // Neither created a session nor disturbed the session's connection.
    assert_eq!((h.node.session_count(), h.log.len()), (1, 1));
    h.ok(A, exists("/", false));
    // Having seen exactly the server's zxid is fine.
    let out = h.connect_with(D, resume(s, 1));
    assert_eq!(out, vec![close(A), connected(D, 10_000, s, Some(false))]);
}

#[test]
fn requests_pipelined_before_the_session_exists_are_answered_after_the_handshake() {
    let mut h = Harness::new();
    h.auto_persist = false;
    assert_eq!(h.connect_with(A, new_session()), vec![]);
    assert_eq!(h.unacked, vec![1]);
    assert_eq!(h.send(A, 1, get_data("/", false)), vec![]);
    assert_eq!(h.send(A, 2, create("/p", b"x", 0)), vec![]);
    assert_eq!(h.send(A, 3, get_data("/p", false)), vec![]);
    assert_eq!(h.send(A, 4, exists("/", false)), vec![]);
    // createSession applied: the handshake reply first, then the early requests in order.
    // The read before the write is answered at once, the create is proposed, and the reads
    // after it wait for it.
    let root = Stat {
        cversion: -1,
        num_children: 1,
        ..Stat::default()
    };
    assert_eq!(
        h.persist_all(),
        vec![
            connected(A, 10_000, FIRST_SESSION, Some(false)),
            reply(A, 1, 1, ErrorCode::Ok, data(b"", root.clone())),
        ]
    );
    assert_eq!(h.unacked, vec![2]);
    assert_eq!(
        h.persist_all(),
        vec![
            reply(A, 2, 2, ErrorCode::Ok, created("/p")),
            reply(
                A,
                3,
                2,
                ErrorCode::Ok,
                data(b"x", new_stat(2, START.wall_ms, 1))
            ),
            reply(
                A,
                4,
                2,
                ErrorCode::Ok,
                Response::Stat(Stat {
                    cversion: 0,
                    num_children: 2,
                    pzxid: 2,
                    ..root
                })
            ),
        ]
    );
}

// ---- sessions -----------------------------------------------------------------------------

#[test]
fn close_session_deletes_ephemerals_then_replies_then_closes() {
    let mut h = Harness::new();
    let s = h.connect(A);
    h.connect(B);
    h.ok(A, create("/e1", b"", 1));
    h.ok(A, create("/e2", b"", 3));
    h.ok(A, create("/p", b"", 0));
    h.ok(A, create("/p/e3", b"", 1));
    h.ok(A, exists("/e1", true)); // A watches its own ephemeral
    h.ok(B, exists("/e1", true));
    h.ok(B, get_children("/", true));
    h.ok(B, get_children("/p", true));
    let z = h.zxid() + 1;
    assert_eq!(
        h.send(A, 9, Request::CloseSession),
        vec![
            notify(A, z, DELETED, "/e1"),
            notify(B, z, DELETED, "/e1"),
            notify(B, z, CHILDREN_CHANGED, "/"),
            notify(B, z, CHILDREN_CHANGED, "/p"),
            reply(A, 9, z, ErrorCode::Ok, Response::Empty),
            close(A),
        ]
    );
    assert_eq!(
        h.last_txn(),
        &LoggedTxn {
            header: TxnHeader {
                client_id: SessionId(s),
                cxid: 9,
                zxid: Zxid(z),
                time: START.wall_ms,
                txn_type: -11,
            },
            body: TxnBody::CloseSession(Some(CloseSessionTxn {
                paths_to_delete: strings(&["/e1", "/e20000000001", "/p/e3"]),
            })),
            digest: Some(TxnDigest {
                version: 2,
                tree_digest: h.node.tree().digest() as i64,
            }),
        }
    );
    assert_eq!(h.node.session_count(), 1);
    assert_eq!(h.children(B, "/"), strings(&["p", "zookeeper"]));
    // Ephemeral removal moves the parents' pzxid and cversion.
    let p = h.stat(B, "/p");
    assert_eq!((p.pzxid, p.cversion, p.num_children), (z, 2, 0));
    assert_eq!(h.stat(B, "/").pzxid, z);
    // The session is gone for good.
    let out = h.connect_with(C, resume(s, h.zxid()));
    assert_eq!(out, vec![refused(C, Some(false)), close(C)]);
}

#[test]
fn close_session_covers_pending_ephemeral_creates_and_skips_pending_deletes() {
    let mut h = Harness::new();
    let s = h.connect(A);
    h.connect(B);
    h.ok(A, create("/kept", b"", 1));
    h.ok(B, add_watch("/pe", 0));
    h.auto_persist = false;
    let z = h.zxid();
    assert_eq!(h.send(A, 1, create("/pe", b"", 1)), vec![]);
    assert_eq!(h.send(A, 2, delete("/kept", -1)), vec![]);
    assert_eq!(h.send(A, 3, Request::CloseSession), vec![]);
    // Prep lists the session's ephemerals as of the pending state (spec 05 §5.5).
    assert_eq!(
        h.last_txn().body,
        TxnBody::CloseSession(Some(CloseSessionTxn {
            paths_to_delete: strings(&["/pe"]),
        }))
    );
    assert_eq!(h.last_txn().header.client_id, SessionId(s));
    assert_eq!(
        h.persist_all(),
        vec![
            notify(B, z + 1, CREATED, "/pe"),
            reply(A, 1, z + 1, ErrorCode::Ok, created("/pe")),
            reply(A, 2, z + 2, ErrorCode::Ok, Response::Empty),
            notify(B, z + 3, DELETED, "/pe"),
            reply(A, 3, z + 3, ErrorCode::Ok, Response::Empty),
            close(A),
        ]
    );
    assert_eq!(h.children(B, "/"), strings(&["zookeeper"]));
}

/// A session with more ephemerals than one log entry should carry (issue 16, item 8: a
/// closeSession txn over `jute.maxbuffer` made the log unreadable at the next restart): the
/// txn leaves the list out and stays small, and apply still deletes every ephemeral of the
/// session, pending creates included, with the digest predicted right.
#[test]
fn close_session_with_too_many_ephemerals_leaves_the_list_out() {
    let mut h = Harness::new();
    let s = h.connect(A);
    h.connect(B);
    h.ok(A, create("/locks", b"", 0));
    h.ok(B, create("/locks/other", b"", 1));
    let name = |i: usize| format!("/locks/{i:0>40}");
    for i in 0..11_000 {
        h.ok(A, create(&name(i), b"", 1));
    }
    h.ok(B, get_children("/locks", true));
    h.auto_persist = false;
    assert_eq!(h.send(A, 1, create("/pending", b"", 1)), vec![]);
    assert_eq!(h.send(A, 2, Request::CloseSession), vec![]);
    let txn = h.last_txn().clone();
    assert_eq!(
        txn.body,
        TxnBody::CloseSession(Some(CloseSessionTxn {
            paths_to_delete: vec![]
        }))
    );
    assert_eq!(txn.header.client_id, SessionId(s));
    assert!(txn.to_bytes().len() < 100, "{} bytes", txn.to_bytes().len());
    let out = h.persist_all();
    let z = h.zxid();
    assert_eq!(
        out[out.len() - 3..],
        [
            notify(B, z, CHILDREN_CHANGED, "/locks"),
            reply(A, 2, z, ErrorCode::Ok, Response::Empty),
            close(A),
        ]
    );
    assert_eq!(h.children(B, "/locks"), strings(&["other"]));
    assert_eq!(h.children(B, "/"), strings(&["locks", "zookeeper"]));
    assert_eq!(h.node.session_count(), 1);
}

#[test]
fn requests_on_a_closing_session_are_dropped() {
    let mut h = Harness::new();
    h.connect(A);
    h.connect(B);
    h.ok(A, create("/eph", b"", 1));
    h.ok(B, exists("/eph", true));
    h.auto_persist = false;
    let z = h.zxid() + 1;
    assert_eq!(h.send(A, 5, Request::CloseSession), vec![]);
    assert_eq!(h.send(A, 6, get_data("/", false)), vec![]);
    assert_eq!(h.send(A, 7, create("/x", b"", 0)), vec![]);
    assert_eq!(h.send(A, -2, Request::Ping), vec![]);
    assert_eq!(
        h.unacked,
        vec![z],
        "nothing but the closeSession was proposed"
    );
    assert_eq!(
        h.persist_all(),
        vec![
            notify(B, z, DELETED, "/eph"),
            reply(A, 5, z, ErrorCode::Ok, Response::Empty),
            close(A),
        ]
    );
}

#[test]
fn session_expires_between_timeout_and_timeout_plus_tick_after_last_touch() {
    let mut h = Harness::new();
    h.now.mono_ms = 1_001_000;
    let s = h.connect_timeout(A, 4000);
    h.connect_timeout(B, 10_000);
    h.ok(A, create("/eph", b"", 1));
    h.ok(A, create("/eph2", b"", 1));
    h.ok(B, exists("/eph", true));
    // Last touch 1_001_000 + 4000 rounds up to the next tick boundary.
    assert_eq!(h.node.next_deadline(), Some(1_006_000));
    assert_eq!(h.tick_at(1_005_000), vec![]);
    assert_eq!(h.tick_at(1_005_999), vec![]);
    assert_eq!(h.node.session_count(), 2);
    let z = h.zxid() + 1;
    assert_eq!(
        h.tick_at(1_006_000),
        vec![notify(B, z, DELETED, "/eph"), close(A)]
    );
    assert_eq!(
        h.last_txn(),
        &LoggedTxn {
            header: TxnHeader {
                client_id: SessionId(s),
                cxid: 0,
                zxid: Zxid(z),
                time: START.wall_ms,
                txn_type: -11,
            },
            body: TxnBody::CloseSession(Some(CloseSessionTxn {
                paths_to_delete: strings(&["/eph", "/eph2"]),
            })),
            digest: Some(TxnDigest {
                version: 2,
                tree_digest: h.node.tree().digest() as i64,
            }),
        }
    );
    assert_eq!(h.node.session_count(), 1);
    h.err(B, exists("/eph2", false), ErrorCode::NoNode);
    assert_eq!(h.stat(B, "/").pzxid, z);
    let out = h.connect_with(C, resume(s, h.zxid()));
    assert_eq!(out, vec![refused(C, Some(false)), close(C)]);
}

#[test]
fn pings_and_requests_touch_the_session() {
    let mut h = Harness::new();
    h.now.mono_ms = 1_001_000;
    h.connect_timeout(A, 4000);
    assert_eq!(h.node.next_deadline(), Some(1_006_000));
    h.now.mono_ms = 1_004_000;
    let zxid = h.zxid();
    assert_eq!(
        h.send(A, -2, Request::Ping),
        vec![reply(A, -2, zxid, ErrorCode::Ok, Response::Empty)]
    );
    assert_eq!(h.node.next_deadline(), Some(1_010_000));
    assert_eq!(h.tick_at(1_006_000), vec![]);
    h.now.mono_ms = 1_009_000;
    h.ok(A, get_data("/", false));
    assert_eq!(h.node.next_deadline(), Some(1_014_000));
    assert_eq!(h.tick_at(1_010_000), vec![]);
    assert_eq!(h.tick_at(1_013_999), vec![]);
    assert_eq!(h.tick_at(1_014_000), vec![close(A)]);
    assert_eq!(h.node.session_count(), 0);
}

#[test]
fn a_disconnected_session_lives_until_it_expires() {
    let mut h = Harness::new();
    h.now.mono_ms = 1_000_000;
    let s = h.connect_timeout(A, 4000);
    h.connect_timeout(B, 40_000);
    h.ok(A, create("/eph", b"", 1));
    h.ok(B, exists("/eph", true));
    assert_eq!(h.run(Input::Disconnected { conn: A }), vec![]);
    assert_eq!(h.node.session_count(), 2);
    assert_eq!(h.stat(B, "/eph").ephemeral_owner, s);
    // 1_000_000 + 4000 is a boundary: the bucket is the next one, timeout + tick later.
    assert_eq!(h.tick_at(1_005_999), vec![]);
    let z = h.zxid() + 1;
    // No connection to close any more.
    assert_eq!(h.tick_at(1_006_000), vec![notify(B, z, DELETED, "/eph")]);
    assert_eq!(h.node.session_count(), 1);
}

#[test]
fn get_ephemerals_lists_this_sessions_ephemerals() {
    let mut h = Harness::new();
    h.connect(A);
    h.connect(B);
    h.ok(A, create("/eph-a", b"", 1));
    h.ok(A, create("/eph-b", b"", 1));
    h.ok(A, create("/x", b"", 0));
    h.ok(A, create("/x/e", b"", 3));
    h.ok(A, create("/x/p", b"", 0));
    h.ok(B, create("/eph-c", b"", 1));
    let list = |h: &mut Harness, conn, prefix: &str| match h.ok(
        conn,
        Request::GetEphemerals(PathRequest {
            path: prefix.into(),
        }),
    ) {
        Response::Ephemerals(mut v) => {
            v.sort();
            v
        }
        other => panic!("{other:?}"),
    };
    let all = strings(&["/eph-a", "/eph-b", "/x/e0000000000"]);
    // All of them for an empty, blank or "/" prefix (Java trims the prefix for that test).
    for prefix in ["/", "", " ", "  / "] {
        assert_eq!(list(&mut h, A, prefix), all, "{prefix:?}");
    }
    // Otherwise a plain string prefix.
    assert_eq!(list(&mut h, A, "/eph"), strings(&["/eph-a", "/eph-b"]));
    assert_eq!(list(&mut h, A, "/x"), strings(&["/x/e0000000000"]));
    assert_eq!(list(&mut h, A, "/x/"), strings(&["/x/e0000000000"]));
    assert_eq!(list(&mut h, A, "/nothing"), Vec::<String>::new());
    assert_eq!(list(&mut h, B, "/"), strings(&["/eph-c"]));
    assert_eq!(list(&mut h, B, "/x"), Vec::<String>::new());
}

#[test]
fn get_all_children_number_counts_descendants() {
    let mut h = Harness::new();
    h.connect(A);
    let count = |h: &mut Harness, p: &str| {
        h.ok(
            A,
            Request::GetAllChildrenNumber(PathRequest { path: p.into() }),
        )
    };
    assert_eq!(count(&mut h, "/"), Response::AllChildrenNumber(3));
    assert_eq!(count(&mut h, "/zookeeper"), Response::AllChildrenNumber(2));
    h.ok(A, create("/a", b"", 0));
    h.ok(A, create("/a/b", b"", 0));
    h.ok(A, create("/a/b/c", b"", 0));
    h.ok(A, create("/a/d", b"", 1));
    assert_eq!(count(&mut h, "/"), Response::AllChildrenNumber(7));
    assert_eq!(count(&mut h, "/a"), Response::AllChildrenNumber(3));
    assert_eq!(count(&mut h, "/a/b/c"), Response::AllChildrenNumber(0));
}
