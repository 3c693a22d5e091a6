//! Black-box tests of the core through its public API, no sockets.
//!
//! A [`Harness`] drives `Server::handle` with connections, requests, persistence
//! acknowledgements and clock ticks, and the tests assert the *exact* outputs (reply headers
//! with xid, zxid and err, bodies, Stat fields, notifications and their order relative to
//! replies) against the ZooKeeper reference in the spec chapters 01-05.
//!
//! By default the harness answers every `Output::Persist` with `Input::Persisted` as a shell
//! would after the batch; with `auto_persist = false` txns stay in flight until the test
//! acknowledges them, which is how the ordering of reads queued behind writes is tested.

use std::collections::VecDeque;
use std::sync::Arc;

use menagerie_core::auth::digest_id;
use menagerie_core::txn::{LoggedTxn, TxnBody};
use menagerie_core::{BadRequest, ConnId, CoreConfig, Input, Now, Output, Server};
use menagerie_proto::ErrorCode;
use menagerie_proto::opcode::OpCode;
use menagerie_proto::records::{
    Acl, AddWatchRequest, AuthPacket, CheckVersionRequest, ClientInfo, ConnectRequest,
    ConnectResponse, CreateRequest, CreateTtlRequest, DeleteRequest, GetDataRequest, Id,
    PathRequest, PathWatchRequest, ReconfigRequest, ReplyHeader, SetAclRequest, SetDataRequest,
    SetWatches, SetWatches2, Stat, WatcherEvent, WatchesRequest, perms,
};
use menagerie_proto::request::Request;
use menagerie_proto::response::{MultiResult, Response, encode_reply};
use menagerie_proto::session::session_password;
use menagerie_proto::txn::{CloseSessionTxn, CreateSessionTxn, ErrorTxn, TxnDigest, TxnHeader};

// ---- the harness ------------------------------------------------------------------------

/// Clocks at server start. The first container/TTL check is due one minute later, after
/// every session expiry these tests drive.
const START: Now = Now {
    mono_ms: 1_000_000,
    wall_ms: 1_700_000_000_000,
};
/// First session id of a server started at `START` with server id 1 (spec 05 §5.1): the
/// server id in the top byte, the low 40 bits of the clock (1_700_000_000_000 =
/// 0x18B_CFE5_6800) in bits 16-55, a counter from 0 below.
const FIRST_SESSION: i64 = 0x018B_CFE5_6800_0000;
/// tickTime of the test configuration.
const TICK: u64 = 2000;
/// Largest TTL (2^40 - 1 ms).
const MAX_TTL: i64 = 0xFF_FFFF_FFFF;

const A: ConnId = ConnId(1);
const B: ConnId = ConnId(2);
const C: ConnId = ConnId(3);
const D: ConnId = ConnId(4);
const E: ConnId = ConnId(5);

/// Watcher event types.
const CREATED: i32 = 1;
const DELETED: i32 = 2;
const DATA_CHANGED: i32 = 3;
const CHILDREN_CHANGED: i32 = 4;

/// xid of SetWatches / SetWatches2.
const SET_WATCHES_XID: i32 = -8;

fn config(extended_types: bool) -> CoreConfig {
    CoreConfig {
        tick_ms: TICK,
        min_session_timeout_ms: 4000,
        max_session_timeout_ms: 40000,
        extended_types,
        ..CoreConfig::default()
    }
}

/// ZooKeeper's `ExpiryQueue.roundToNextInterval`.
fn bucket(t: u64) -> u64 {
    (t / TICK + 1) * TICK
}

struct Harness {
    server: Server,
    now: Now,
    /// Acknowledge every `Persist` automatically (after the batch that produced it).
    auto_persist: bool,
    /// zxids emitted but not yet acknowledged (manual mode).
    unacked: Vec<i64>,
    /// Every txn the core asked to persist, in order.
    log: Vec<Arc<LoggedTxn>>,
    /// Last xid used by [`Harness::call`].
    xid: i32,
}

impl Harness {
    fn new() -> Harness {
        Harness::with_config(config(true))
    }

    fn with_config(config: CoreConfig) -> Harness {
        Harness {
            server: Server::new(config, START),
            now: START,
            auto_persist: true,
            unacked: Vec::new(),
            log: Vec::new(),
            xid: 1000,
        }
    }

    /// Feeds one input and returns what the shell would carry out, minus `Persist`
    /// (recorded in `log`). In auto mode each `Persist` of a batch is answered with
    /// `Persisted { up_to: txn.zxid() }` after the batch, and those outputs follow.
    fn run(&mut self, input: Input) -> Vec<Output> {
        let mut visible = Vec::new();
        let mut inputs = VecDeque::from([input]);
        while let Some(input) = inputs.pop_front() {
            let mut raw = Vec::new();
            self.server.handle(self.now, input, &mut raw);
            for o in raw {
                match o {
                    Output::Persist(txn) => {
                        if self.auto_persist {
                            inputs.push_back(Input::Persisted { up_to: txn.zxid() });
                        } else {
                            self.unacked.push(txn.zxid());
                        }
                        self.log.push(txn);
                    }
                    o => visible.push(o),
                }
            }
        }
        // Every txn's logged digest (predicted at prep, possibly with other writes still
        // pending) must equal the tree's digest once it is applied.
        assert_eq!(
            self.server.digest_log().mismatches(),
            0,
            "tree digest mismatch"
        );
        visible
    }

    /// Reports every txn up to `up_to` durable (manual mode).
    fn persist_up_to(&mut self, up_to: i64) -> Vec<Output> {
        self.unacked.retain(|&z| z > up_to);
        self.run(Input::Persisted { up_to })
    }

    /// Reports every txn emitted so far durable (manual mode).
    fn persist_all(&mut self) -> Vec<Output> {
        let up_to = *self.unacked.last().expect("nothing in flight");
        self.persist_up_to(up_to)
    }

    fn advance(&mut self, ms: u64) {
        self.now.mono_ms += ms;
        self.now.wall_ms += ms as i64;
    }

    fn tick_at(&mut self, mono_ms: u64) -> Vec<Output> {
        self.now.mono_ms = mono_ms;
        self.run(Input::Tick)
    }

    /// Highest applied zxid (what reply headers carry).
    fn zxid(&self) -> i64 {
        self.server.last_processed_zxid()
    }

    fn last_txn(&self) -> &LoggedTxn {
        self.log.last().expect("no txn logged")
    }

    fn connect_with(&mut self, conn: ConnId, req: ConnectRequest) -> Vec<Output> {
        self.run(Input::Connect {
            conn,
            peer_ip: "127.0.0.1".into(),
            req,
        })
    }

    /// Opens a new session with `timeout` (which must be within the bounds) on `conn`.
    fn connect_timeout(&mut self, conn: ConnId, timeout: i32) -> i64 {
        let out = self.connect_with(
            conn,
            ConnectRequest {
                timeout,
                ..new_session()
            },
        );
        let [Output::Connected { conn: c, resp }] = out.as_slice() else {
            panic!("expected a ConnectResponse, got {out:?}");
        };
        assert_eq!(*c, conn);
        assert_eq!(
            *resp,
            connected_resp(timeout, resp.session_id, Some(false)),
            "{out:?}"
        );
        resp.session_id
    }

    fn connect(&mut self, conn: ConnId) -> i64 {
        self.connect_timeout(conn, 10_000)
    }

    fn send(&mut self, conn: ConnId, xid: i32, req: Request) -> Vec<Output> {
        let op = req.op().code();
        self.send_raw(conn, xid, op, Ok(req))
    }

    fn send_raw(
        &mut self,
        conn: ConnId,
        xid: i32,
        op: i32,
        req: Result<Request, BadRequest>,
    ) -> Vec<Output> {
        self.run(Input::Request { conn, xid, op, req })
    }

    /// Sends `req` with a fresh xid; exactly one reply (and nothing else) must come back.
    fn call(&mut self, conn: ConnId, req: Request) -> (ReplyHeader, Response) {
        self.xid += 1;
        let xid = self.xid;
        let out = self.send(conn, xid, req.clone());
        match out.as_slice() {
            [
                Output::Reply {
                    conn: c,
                    header,
                    body,
                },
            ] if *c == conn && header.xid == xid => (header.clone(), body.clone()),
            _ => panic!("{req:?}: expected exactly one reply, got {out:?}"),
        }
    }

    /// A successful request: a write gets the next zxid (and one txn), a read the current.
    fn ok(&mut self, conn: ConnId, req: Request) -> Response {
        let (before, logged) = (self.zxid(), self.log.len());
        let write = req.op().is_write();
        let (header, body) = self.call(conn, req.clone());
        assert_eq!(header.err, 0, "{req:?}");
        if write {
            assert_eq!(header.zxid, before + 1, "{req:?}");
            assert_eq!(self.log.len(), logged + 1, "{req:?}");
            assert_eq!(self.last_txn().zxid(), header.zxid);
        } else {
            assert_eq!(header.zxid, before, "{req:?}");
            assert_eq!(self.log.len(), logged, "{req:?}: reads are never logged");
        }
        body
    }

    /// A failed request: no body; a failed write still consumes a zxid and is logged as an
    /// ErrorTxn (spec 02 §2.2), a failed read consumes nothing.
    fn err(&mut self, conn: ConnId, req: Request, code: ErrorCode) {
        let (before, logged) = (self.zxid(), self.log.len());
        let write = req.op().is_write();
        let (header, body) = self.call(conn, req.clone());
        assert_eq!(
            (header.err, body),
            (code.code(), Response::Empty),
            "{req:?}"
        );
        if write {
            assert_eq!(header.zxid, before + 1, "{req:?}");
            assert_eq!(self.log.len(), logged + 1, "{req:?}");
            let txn = self.last_txn();
            assert_eq!(txn.zxid(), header.zxid, "{req:?}");
            assert_eq!(txn.header.txn_type, -1, "{req:?}");
            assert_eq!(
                txn.body,
                TxnBody::Error(ErrorTxn { err: code.code() }),
                "{req:?}"
            );
        } else {
            assert_eq!(header.zxid, before, "{req:?}");
            assert_eq!(self.log.len(), logged, "{req:?}");
        }
    }

    /// The node's Stat through `exists`.
    fn stat(&mut self, conn: ConnId, path: &str) -> Stat {
        match self.ok(conn, exists(path, false)) {
            Response::Stat(s) => s,
            other => panic!("exists {path}: {other:?}"),
        }
    }

    /// The node's children through `getChildren`, sorted (ZooKeeper's order is unspecified).
    fn children(&mut self, conn: ConnId, path: &str) -> Vec<String> {
        match self.ok(conn, get_children(path, false)) {
            Response::GetChildren { mut children } => {
                children.sort();
                children
            }
            other => panic!("getChildren {path}: {other:?}"),
        }
    }
}

// ---- request and output builders ------------------------------------------------------------

fn new_session() -> ConnectRequest {
    ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout: 10_000,
        session_id: 0,
        passwd: vec![0; 16],
        read_only: Some(false),
    }
}

fn resume(session: i64, last_zxid_seen: i64) -> ConnectRequest {
    ConnectRequest {
        last_zxid_seen,
        session_id: session,
        passwd: session_password(session).to_vec(),
        ..new_session()
    }
}

fn connected_resp(timeout: i32, session: i64, read_only: Option<bool>) -> ConnectResponse {
    ConnectResponse {
        protocol_version: 0,
        timeout,
        session_id: session,
        passwd: session_password(session).to_vec(),
        read_only,
    }
}

fn connected(conn: ConnId, timeout: i32, session: i64, read_only: Option<bool>) -> Output {
    Output::Connected {
        conn,
        resp: connected_resp(timeout, session, read_only),
    }
}

/// The "session invalid" handshake reply.
fn refused(conn: ConnId, read_only: Option<bool>) -> Output {
    Output::Connected {
        conn,
        resp: ConnectResponse {
            protocol_version: 0,
            timeout: 0,
            session_id: 0,
            passwd: vec![0; 16],
            read_only,
        },
    }
}

fn reply(conn: ConnId, xid: i32, zxid: i64, err: ErrorCode, body: Response) -> Output {
    Output::Reply {
        conn,
        header: ReplyHeader {
            xid,
            zxid,
            err: err.code(),
        },
        body,
    }
}

fn notify(conn: ConnId, zxid: i64, event_type: i32, path: &str) -> Output {
    Output::Notify {
        conn,
        zxid,
        event: WatcherEvent {
            event_type,
            state: 3,
            path: path.into(),
        },
    }
}

fn close(conn: ConnId) -> Output {
    Output::Close { conn }
}

fn acl(perms: i32, scheme: &str, id: &str) -> Acl {
    Acl {
        perms,
        id: Id {
            scheme: scheme.into(),
            id: id.into(),
        },
    }
}

fn world(perms: i32) -> Vec<Acl> {
    vec![acl(perms, "world", "anyone")]
}

fn create_req(path: &str, data: Option<&[u8]>, acl: Vec<Acl>, flags: i32) -> CreateRequest {
    CreateRequest {
        path: path.into(),
        data: data.map(<[u8]>::to_vec),
        acl,
        flags,
    }
}

fn create(path: &str, data: &[u8], flags: i32) -> Request {
    Request::Create(create_req(path, Some(data), Acl::open_unsafe(), flags))
}

fn create2(path: &str, data: &[u8], flags: i32) -> Request {
    Request::Create2(create_req(path, Some(data), Acl::open_unsafe(), flags))
}

fn create_acl(path: &str, acl: Vec<Acl>, flags: i32) -> Request {
    Request::Create(create_req(path, Some(b""), acl, flags))
}

fn container(path: &str) -> Request {
    Request::CreateContainer(create_req(path, Some(b""), Acl::open_unsafe(), 4))
}

fn create_ttl(path: &str, flags: i32, ttl: i64) -> Request {
    Request::CreateTtl(CreateTtlRequest {
        path: path.into(),
        data: Some(Vec::new()),
        acl: Acl::open_unsafe(),
        flags,
        ttl,
    })
}

fn delete(path: &str, version: i32) -> Request {
    Request::Delete(DeleteRequest {
        path: path.into(),
        version,
    })
}

fn set_data(path: &str, data: &[u8], version: i32) -> Request {
    Request::SetData(SetDataRequest {
        path: path.into(),
        data: Some(data.to_vec()),
        version,
    })
}

fn set_acl(path: &str, acl: Vec<Acl>, version: i32) -> Request {
    Request::SetAcl(SetAclRequest {
        path: path.into(),
        acl,
        version,
    })
}

fn check(path: &str, version: i32) -> Request {
    Request::Check(CheckVersionRequest {
        path: path.into(),
        version,
    })
}

fn exists(path: &str, watch: bool) -> Request {
    Request::Exists(PathWatchRequest {
        path: path.into(),
        watch,
    })
}

fn get_data(path: &str, watch: bool) -> Request {
    Request::GetData(GetDataRequest {
        path: path.into(),
        watch,
    })
}

fn get_children(path: &str, watch: bool) -> Request {
    Request::GetChildren(PathWatchRequest {
        path: path.into(),
        watch,
    })
}

fn get_acl(path: &str) -> Request {
    Request::GetAcl(PathRequest { path: path.into() })
}

fn add_watch(path: &str, mode: i32) -> Request {
    Request::AddWatch(AddWatchRequest {
        path: path.into(),
        mode,
    })
}

fn check_watches(path: &str, watcher_type: i32) -> Request {
    Request::CheckWatches(WatchesRequest {
        path: path.into(),
        watcher_type,
    })
}

fn remove_watches(path: &str, watcher_type: i32) -> Request {
    Request::RemoveWatches(WatchesRequest {
        path: path.into(),
        watcher_type,
    })
}

fn created(path: &str) -> Response {
    Response::Create { path: path.into() }
}

fn data(d: &[u8], stat: Stat) -> Response {
    Response::GetData {
        data: Some(d.to_vec()),
        stat,
    }
}

/// The Stat of a node created by txn `zxid` at `time` with `len` bytes of data.
fn new_stat(zxid: i64, time: i64, len: i32) -> Stat {
    Stat {
        czxid: zxid,
        mzxid: zxid,
        ctime: time,
        mtime: time,
        data_length: len,
        pzxid: zxid,
        ..Stat::default()
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

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
                client_id: id,
                cxid: 0,
                zxid: i as i64 + 1,
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
    assert_eq!(h.server.session_count(), cases.len());
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
        // ...and a refused one (which also drops the owner's connection, as in ZooKeeper).
        let out = h.connect_with(
            C,
            ConnectRequest {
                read_only: sent,
                passwd: vec![7; 16],
                ..resume(FIRST_SESSION, 0)
            },
        );
        assert_eq!(out, vec![close(B), refused(C, expected), close(C)]);
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
    assert_eq!(h.server.connection_count(), 1);
    // The old connection is gone: what it sends is ignored.
    assert_eq!(h.send(A, 1, exists("/", false)), vec![]);
    // The session and its ephemeral live on, served on the new connection.
    assert_eq!(h.stat(B, "/eph").ephemeral_owner, s);
    // Expiry now follows the renegotiated timeout.
    assert_eq!(
        h.server.next_deadline(),
        Some(bucket(h.now.mono_ms + 40_000))
    );
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
    assert_eq!(h.server.connection_count(), 1);
    // A wrong password for a live session: as in ZooKeeper (processConnectRequest closes the
    // session's other connections before it checks the password, verified against 3.8.0),
    // the owner's connection is dropped too; the session itself survives.
    let out = h.connect_with(
        B,
        ConnectRequest {
            passwd: vec![0u8; 16],
            ..resume(s, 0)
        },
    );
    assert_eq!(out, vec![close(A), refused(B, Some(false)), close(B)]);
    assert_eq!(h.server.connection_count(), 0);
    assert_eq!(h.log.len(), 1);
    // The owner comes back with the right password and finds its session intact.
    let out = h.connect_with(C, resume(s, 0));
    assert_eq!(out.len(), 1);
    h.ok(C, create("/still-here", b"", 0));
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
    assert_eq!((h.server.session_count(), h.log.len()), (1, 1));
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
    let tree = h.server.tree();
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
        TxnBody::Create { op, txn } => {
            assert_eq!(*op, OpCode::Create);
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
    assert_eq!(h.server.watch_count(), 0);
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
                client_id: s,
                cxid: 2,
                zxid: 3,
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
                joining_servers: String::new(),
                leaving_servers: String::new(),
                new_members: String::new(),
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
            client_id: s,
            cxid: 9,
            zxid: z,
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
    assert_eq!((txn.header.txn_type, txn.header.client_id), (14, s));
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
                client_id: s,
                cxid: 9,
                zxid: z,
                time: START.wall_ms,
                txn_type: -11,
            },
            body: TxnBody::CloseSession(CloseSessionTxn {
                paths_to_delete: strings(&["/e1", "/e20000000001", "/p/e3"]),
            }),
            digest: Some(TxnDigest {
                version: 2,
                tree_digest: h.server.tree().digest() as i64,
            }),
        }
    );
    assert_eq!(h.server.session_count(), 1);
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
        TxnBody::CloseSession(CloseSessionTxn {
            paths_to_delete: strings(&["/pe"]),
        })
    );
    assert_eq!(h.last_txn().header.client_id, s);
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
    assert_eq!(h.server.next_deadline(), Some(1_006_000));
    assert_eq!(h.tick_at(1_005_000), vec![]);
    assert_eq!(h.tick_at(1_005_999), vec![]);
    assert_eq!(h.server.session_count(), 2);
    let z = h.zxid() + 1;
    assert_eq!(
        h.tick_at(1_006_000),
        vec![notify(B, z, DELETED, "/eph"), close(A)]
    );
    assert_eq!(
        h.last_txn(),
        &LoggedTxn {
            header: TxnHeader {
                client_id: s,
                cxid: 0,
                zxid: z,
                time: START.wall_ms,
                txn_type: -11,
            },
            body: TxnBody::CloseSession(CloseSessionTxn {
                paths_to_delete: strings(&["/eph", "/eph2"]),
            }),
            digest: Some(TxnDigest {
                version: 2,
                tree_digest: h.server.tree().digest() as i64,
            }),
        }
    );
    assert_eq!(h.server.session_count(), 1);
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
    assert_eq!(h.server.next_deadline(), Some(1_006_000));
    h.now.mono_ms = 1_004_000;
    let zxid = h.zxid();
    assert_eq!(
        h.send(A, -2, Request::Ping),
        vec![reply(A, -2, zxid, ErrorCode::Ok, Response::Empty)]
    );
    assert_eq!(h.server.next_deadline(), Some(1_010_000));
    assert_eq!(h.tick_at(1_006_000), vec![]);
    h.now.mono_ms = 1_009_000;
    h.ok(A, get_data("/", false));
    assert_eq!(h.server.next_deadline(), Some(1_014_000));
    assert_eq!(h.tick_at(1_010_000), vec![]);
    assert_eq!(h.tick_at(1_013_999), vec![]);
    assert_eq!(h.tick_at(1_014_000), vec![close(A)]);
    assert_eq!(h.server.session_count(), 0);
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
    assert_eq!(h.server.session_count(), 2);
    assert_eq!(h.stat(B, "/eph").ephemeral_owner, s);
    // 1_000_000 + 4000 is a boundary: the bucket is the next one, timeout + tick later.
    assert_eq!(h.tick_at(1_005_999), vec![]);
    let z = h.zxid() + 1;
    // No connection to close any more.
    assert_eq!(h.tick_at(1_006_000), vec![notify(B, z, DELETED, "/eph")]);
    assert_eq!(h.server.session_count(), 1);
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
    assert_eq!(h.server.watch_count(), 0);
}

#[test]
fn get_data_and_get_children_on_a_missing_node_set_no_watch() {
    let mut h = Harness::new();
    h.connect(A);
    h.connect(B);
    h.err(B, get_data("/w", true), ErrorCode::NoNode);
    h.err(B, get_children("/w", true), ErrorCode::NoNode);
    assert_eq!(h.server.watch_count(), 0);
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
    assert_eq!(h.server.watch_count(), 0);
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
    assert_eq!(h.server.watch_count(), 0);
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
    assert_eq!(h.server.watch_count(), 0);
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

// ---- ordering with writes in flight -------------------------------------------------------

#[test]
fn reads_wait_behind_the_connections_writes_in_flight() {
    let mut h = Harness::new();
    h.connect(A);
    h.connect(B);
    h.auto_persist = false;
    let z0 = h.zxid();
    let (z1, z2, z3) = (z0 + 1, z0 + 2, z0 + 3);
    assert_eq!(h.send(A, 1, create("/q", b"x", 0)), vec![]);
    assert_eq!(h.send(A, 2, get_data("/q", false)), vec![]);
    // Pings are not part of the order.
    assert_eq!(
        h.send(A, -2, Request::Ping),
        vec![reply(A, -2, z0, ErrorCode::Ok, Response::Empty)]
    );
    // Other connections are not held up and read the applied state.
    assert_eq!(
        h.send(B, 1, get_data("/q", false)),
        vec![reply(B, 1, z0, ErrorCode::NoNode, Response::Empty)]
    );
    // Prep sees the pending create.
    assert_eq!(h.send(B, 2, create("/q", b"", 0)), vec![]);
    assert_eq!(h.send(A, 3, create("/q/child", b"", 0)), vec![]);
    assert_eq!(h.send(A, 4, exists("/q/child", false)), vec![]);
    assert_eq!(h.send_raw(A, 5, 4, Err(BadRequest::Malformed)), vec![]);
    assert_eq!(
        h.send(A, 6, Request::Sync(PathRequest { path: "/q".into() })),
        vec![]
    );
    assert_eq!(h.unacked, vec![z1, z2, z3]);
    let t = START.wall_ms;
    assert_eq!(
        h.persist_up_to(z1),
        vec![
            reply(A, 1, z1, ErrorCode::Ok, created("/q")),
            reply(A, 2, z1, ErrorCode::Ok, data(b"x", new_stat(z1, t, 1))),
        ]
    );
    assert_eq!(
        h.persist_up_to(z2),
        vec![reply(B, 2, z2, ErrorCode::NodeExists, Response::Empty)]
    );
    assert_eq!(
        h.persist_up_to(z3),
        vec![
            reply(A, 3, z3, ErrorCode::Ok, created("/q/child")),
            reply(A, 4, z3, ErrorCode::Ok, Response::Stat(new_stat(z3, t, 0))),
            reply(A, 5, z3, ErrorCode::MarshallingError, Response::Empty),
            reply(
                A,
                6,
                z3,
                ErrorCode::Ok,
                Response::Sync { path: "/q".into() }
            ),
        ]
    );
    assert!(h.unacked.is_empty());
}

#[test]
fn no_reply_goes_to_a_connection_that_is_gone() {
    let mut h = Harness::new();
    let s = h.connect(A);
    h.connect(B);
    h.err(B, exists("/x", true), ErrorCode::NoNode);
    h.err(B, exists("/y", true), ErrorCode::NoNode);
    h.auto_persist = false;
    let z = h.zxid() + 1;
    assert_eq!(h.send(A, 1, create("/x", b"", 0)), vec![]);
    assert_eq!(h.send(A, 2, get_data("/", false)), vec![]);
    assert_eq!(h.run(Input::Disconnected { conn: A }), vec![]);
    assert_eq!(h.persist_all(), vec![notify(B, z, CREATED, "/x")]);
    // Same when the session moved to another connection meanwhile.
    h.auto_persist = true;
    h.connect_with(C, resume(s, h.zxid()));
    h.auto_persist = false;
    assert_eq!(h.send(C, 1, create("/y", b"", 0)), vec![]);
    let out = h.connect_with(D, resume(s, h.zxid()));
    assert_eq!(out, vec![close(C), connected(D, 10_000, s, Some(false))]);
    assert_eq!(h.persist_all(), vec![notify(B, z + 1, CREATED, "/y")]);
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
    assert_eq!(h.server.watch_count(), 0);
    h.connect(D);
    h.ok(D, set_data("/a", b"", -1));
    assert_eq!(h.server.connection_count(), 1);
    // Only the connections are closed: the sessions live on.
    assert_eq!(h.server.session_count(), 4);
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
                client_id: s,
                cxid: 4,
                zxid: zxid + 1,
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

/// After the storage fails: writes in flight are never acknowledged (their connections are
/// closed), new writes get NotReadOnly, new sessions are refused, reads go on.
#[test]
fn a_failed_storage_leaves_a_read_only_server() {
    let mut h = Harness::new();
    h.connect(A);
    h.connect(B);
    h.ok(A, create("/kept", b"v", 0));
    h.auto_persist = false;
    // A's write is in flight when the disk fails.
    assert_eq!(h.send(A, 1, create("/lost", b"", 0)), vec![]);
    assert_eq!(h.run(Input::StorageFailed), vec![close(A)]);
    assert!(h.server.is_read_only());
    let z = h.zxid();
    assert_eq!(
        h.send(B, 2, set_data("/kept", b"w", -1)),
        vec![reply(B, 2, z, ErrorCode::NotReadOnly, Response::Empty)]
    );
    let Response::GetData { data, .. } = h.ok(B, get_data("/kept", false)) else {
        panic!("getData")
    };
    assert_eq!(data.as_deref(), Some(&b"v"[..]));
    assert_eq!(h.connect_with(C, new_session()), vec![close(C)]);
    // Nothing was proposed after the failure.
    assert!(
        h.unacked.iter().all(|&zxid| zxid <= z + 1),
        "{:?}",
        h.unacked
    );
}

/// A small deterministic generator (xorshift64*), so the random digest test needs no crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Random writes from three sessions, with up to dozens of txns in flight before they are
/// made durable: the digest each txn carries (predicted by prep against the pending
/// changes) must equal the tree's digest after it is applied (the harness checks every
/// txn), the tree's incrementally kept digest must equal one computed from scratch, and
/// replaying the log into a fresh server must give the same digest without a mismatch.
#[test]
fn txn_digests_predict_the_tree_under_pipelined_random_writes() {
    for seed in 1..=8u64 {
        let mut h = Harness::new();
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let conns = [A, B, C];
        for c in conns {
            h.connect(c);
        }
        h.auto_persist = false;
        let paths = ["/a", "/a/b", "/a/c", "/d", "/d/e", "/a/b/f"];
        let mut xid = 1;
        for step in 0..600 {
            let conn = conns[rng.below(3) as usize];
            let p = paths[rng.below(paths.len() as u64) as usize];
            let data = vec![b'x'; rng.below(40) as usize];
            let version = if rng.below(4) == 0 {
                rng.below(3) as i32
            } else {
                -1
            };
            let req = match rng.below(10) {
                0 | 1 => create(p, &data, rng.below(4) as i32),
                2 => container(p),
                3 => delete(p, version),
                4 | 5 => set_data(p, &data, version),
                6 => set_acl(p, world(31), version),
                7 => create_ttl(p, 5, 100 + rng.below(1000) as i64),
                _ => Request::Multi(vec![
                    create(paths[rng.below(6) as usize], &data, 0),
                    set_data(paths[rng.below(6) as usize], b"m", -1),
                    delete(paths[rng.below(6) as usize], -1),
                ]),
            };
            xid += 1;
            h.send(conn, xid, req);
            // Make a random prefix of what is in flight durable now and then.
            if rng.below(6) == 0 && !h.unacked.is_empty() {
                let i = rng.below(h.unacked.len() as u64) as usize;
                let up_to = h.unacked[i];
                h.persist_up_to(up_to);
            }
            // Now and then a session closes (deleting its ephemerals) and comes back.
            if step % 97 == 96 {
                xid += 1;
                h.send(conn, xid, Request::CloseSession);
                if !h.unacked.is_empty() {
                    h.persist_all();
                }
                h.auto_persist = true;
                h.connect(conn);
                h.auto_persist = false;
            }
        }
        if !h.unacked.is_empty() {
            h.persist_all();
        }
        let tree = h.server.tree();
        let mut scratch = 0u64;
        tree.for_each_preorder(|n| {
            let d = menagerie_proto::digest::node_digest(n.path(), n.data(), &n.stat_persisted());
            scratch = scratch.wrapping_add(d);
        });
        assert_eq!(tree.digest(), scratch, "seed {seed}");
        let errors = h.log.iter().filter(|t| t.digest.is_none()).count();
        assert!(
            errors > 0 && errors < h.log.len() / 2,
            "seed {seed}: the mix should have both failed and successful writes"
        );
        // Replay gives the same tree digest and checks every logged digest.
        let mut replayed = Server::new(config(true), START);
        for t in &h.log {
            replayed.replay(START, t);
        }
        assert_eq!(replayed.tree().digest(), tree.digest(), "seed {seed}");
        assert_eq!(replayed.digest_log().mismatches(), 0, "seed {seed}");
    }
}
