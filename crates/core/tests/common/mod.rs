//! The one harness of the core's black-box tests: it drives [`Node::handle`] with
//! connections, requests, persistence acknowledgements and clock ticks, and the tests assert
//! the *exact* outputs (reply headers with xid, zxid and err, bodies, Stat fields,
//! notifications and their order relative to replies) against the ZooKeeper reference in the
//! spec chapters 01-07.
//!
//! By default the harness answers every `Output::Persist` with `Input::Persisted` as a shell
//! would after the batch; with `auto_persist = false` txns stay in flight until the test
//! acknowledges them, which is how the ordering of reads queued behind writes is tested.
//! After every input it checks that each applied txn's logged digest matched the tree.
//!
//! Each test file includes this module (`mod common; use common::*;`); not every file uses
//! every helper.
#![allow(dead_code, unused_imports)]

pub use std::collections::VecDeque;
pub use std::sync::Arc;

pub use menagerie_core::auth::digest_id;
pub use menagerie_core::{BadRequest, ConnId, CoreConfig, Input, Node, Now, Output, SnapshotMode};
pub use menagerie_proto::opcode::OpCode;
pub use menagerie_proto::records::{
    Acl, AddWatchRequest, AuthPacket, CheckVersionRequest, ClientInfo, ConnectRequest,
    ConnectResponse, CreateRequest, CreateTtlRequest, DeleteRequest, GetDataRequest, Id,
    PathRequest, PathWatchRequest, ReconfigRequest, ReplyHeader, SetAclRequest, SetDataRequest,
    SetWatches, SetWatches2, Stat, WatcherEvent, WatchesRequest, perms,
};
pub use menagerie_proto::request::Request;
pub use menagerie_proto::response::{MultiResult, Response, encode_reply};
pub use menagerie_proto::session::session_password;
pub use menagerie_proto::txn::{
    CloseSessionTxn, CreateSessionTxn, CreateTxn, ErrorTxn, LoggedTxn, TxnBody, TxnDigest,
    TxnHeader,
};
pub use menagerie_proto::{ErrorCode, SessionId, Zxid};

// ---- the harness ------------------------------------------------------------------------

/// Clocks at server start. The first container/TTL check is due one minute later, after
/// every session expiry these tests drive.
pub const START: Now = Now {
    mono_ms: 1_000_000,
    wall_ms: 1_700_000_000_000,
};
/// First session id of a server started at `START` with server id 1 (spec 05 §5.1): the
/// server id in the top byte, the low 40 bits of the clock (1_700_000_000_000 =
/// 0x18B_CFE5_6800) in bits 16-55, a counter from 0 below.
pub const FIRST_SESSION: i64 = 0x018B_CFE5_6800_0000;
/// tickTime of the test configuration.
pub const TICK: u64 = 2000;
/// Largest TTL (2^40 - 1 ms).
pub const MAX_TTL: i64 = 0xFF_FFFF_FFFF;

pub const A: ConnId = ConnId(1);
pub const B: ConnId = ConnId(2);
pub const C: ConnId = ConnId(3);
pub const D: ConnId = ConnId(4);
pub const E: ConnId = ConnId(5);

/// Watcher event types.
pub const CREATED: i32 = 1;
pub const DELETED: i32 = 2;
pub const DATA_CHANGED: i32 = 3;
pub const CHILDREN_CHANGED: i32 = 4;

/// xid of SetWatches / SetWatches2.
pub const SET_WATCHES_XID: i32 = -8;

pub fn config(extended_types: bool) -> CoreConfig {
    CoreConfig {
        tick_ms: TICK,
        min_session_timeout_ms: 4000,
        max_session_timeout_ms: 40000,
        extended_types,
        ..CoreConfig::default()
    }
}

/// ZooKeeper's `ExpiryQueue.roundToNextInterval`.
pub fn bucket(t: u64) -> u64 {
    (t / TICK + 1) * TICK
}

pub struct Harness {
    pub node: Node,
    pub now: Now,
    /// Acknowledge every `Persist` automatically (after the batch that produced it).
    pub auto_persist: bool,
    /// zxids emitted but not yet acknowledged (manual mode).
    pub unacked: Vec<i64>,
    /// Every txn the core asked to persist, in order.
    pub log: Vec<Arc<LoggedTxn>>,
    /// Last xid used by [`Harness::call`].
    pub xid: i32,
    /// Snapshots the node asked for (each answered as written at once).
    pub snapshots: Vec<SnapshotMode>,
    /// Next connection id [`Harness::open_from`] hands out.
    pub next_conn: u64,
}

/// What one request produced on its connection, whatever else came out.
#[derive(Debug)]
pub struct Answer {
    pub err: i32,
    pub zxid: i64,
    pub body: Response,
    /// Whether the connection was closed.
    pub closed: bool,
}

impl Harness {
    pub fn new() -> Harness {
        Harness::with_config(config(true))
    }

    pub fn with_config(config: CoreConfig) -> Harness {
        Harness {
            node: Node::new(config, START),
            now: START,
            auto_persist: true,
            unacked: Vec::new(),
            log: Vec::new(),
            xid: 1000,
            snapshots: Vec::new(),
            next_conn: 100,
        }
    }

    /// A harness with the default core configuration (TTL nodes on), changed by `f`.
    pub fn configured(f: impl FnOnce(&mut CoreConfig)) -> Harness {
        let mut c = CoreConfig {
            extended_types: true,
            ..CoreConfig::default()
        };
        f(&mut c);
        Harness::with_config(c)
    }

    /// Feeds one input and returns what the shell would carry out, minus `Persist`
    /// (recorded in `log`). In auto mode each `Persist` of a batch is answered with
    /// `Persisted { up_to: txn.zxid() }` after the batch, and those outputs follow.
    pub fn run(&mut self, input: Input) -> Vec<Output> {
        let mut visible = Vec::new();
        let mut inputs = VecDeque::from([input]);
        while let Some(input) = inputs.pop_front() {
            let mut raw = Vec::new();
            self.node.handle(self.now, input, &mut raw);
            for o in raw {
                match o {
                    Output::Persist(txn) => {
                        if self.auto_persist {
                            inputs.push_back(Input::Persisted { up_to: txn.zxid() });
                        } else {
                            self.unacked.push(txn.zxid().0);
                        }
                        self.log.push(txn);
                    }
                    Output::TakeSnapshot(mode) => {
                        self.snapshots.push(mode);
                        inputs
                            .push_back(Input::SnapshotEnded(menagerie_core::SnapshotEnd::Written));
                    }
                    o => visible.push(o),
                }
            }
        }
        // Every txn's logged digest (predicted at prep, possibly with other writes still
        // pending) must equal the tree's digest once it is applied.
        assert_eq!(
            self.node.digest_log().mismatches(),
            0,
            "tree digest mismatch"
        );
        visible
    }

    /// Reports every txn up to `up_to` durable (manual mode).
    pub fn persist_up_to(&mut self, up_to: i64) -> Vec<Output> {
        self.unacked.retain(|&z| z > up_to);
        self.run(Input::Persisted { up_to: Zxid(up_to) })
    }

    /// Reports every txn emitted so far durable (manual mode).
    pub fn persist_all(&mut self) -> Vec<Output> {
        let up_to = *self.unacked.last().expect("nothing in flight");
        self.persist_up_to(up_to)
    }

    pub fn advance(&mut self, ms: u64) {
        self.now.mono_ms += ms;
        self.now.wall_ms += ms as i64;
    }

    pub fn tick_at(&mut self, mono_ms: u64) -> Vec<Output> {
        self.now.mono_ms = mono_ms;
        self.run(Input::Tick)
    }

    /// Highest applied zxid (what reply headers carry).
    pub fn zxid(&self) -> i64 {
        self.node.last_processed_zxid().0
    }

    pub fn last_txn(&self) -> &LoggedTxn {
        self.log.last().expect("no txn logged")
    }

    pub fn connect_with(&mut self, conn: ConnId, req: ConnectRequest) -> Vec<Output> {
        self.run(Input::Connect {
            conn,
            peer_ip: "127.0.0.1".into(),
            req,
        })
    }

    /// Opens a new session with `timeout` (which must be within the bounds) on `conn`.
    pub fn connect_timeout(&mut self, conn: ConnId, timeout: i32) -> i64 {
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

    pub fn connect(&mut self, conn: ConnId) -> i64 {
        self.connect_timeout(conn, 10_000)
    }

    pub fn send(&mut self, conn: ConnId, xid: i32, req: Request) -> Vec<Output> {
        let op = req.op().code();
        self.send_raw(conn, xid, op, Ok(req))
    }

    pub fn send_raw(
        &mut self,
        conn: ConnId,
        xid: i32,
        op: i32,
        req: Result<Request, BadRequest>,
    ) -> Vec<Output> {
        self.run(Input::Request { conn, xid, op, req })
    }

    /// Sends `req` with a fresh xid; exactly one reply (and nothing else) must come back.
    pub fn call(&mut self, conn: ConnId, req: Request) -> (ReplyHeader, Response) {
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
    pub fn ok(&mut self, conn: ConnId, req: Request) -> Response {
        let (before, logged) = (self.zxid(), self.log.len());
        let write = req.op().is_write();
        let (header, body) = self.call(conn, req.clone());
        assert_eq!(header.err, 0, "{req:?}");
        if write {
            assert_eq!(header.zxid, before + 1, "{req:?}");
            assert_eq!(self.log.len(), logged + 1, "{req:?}");
            assert_eq!(self.last_txn().zxid(), menagerie_proto::Zxid(header.zxid));
        } else {
            assert_eq!(header.zxid, before, "{req:?}");
            assert_eq!(self.log.len(), logged, "{req:?}: reads are never logged");
        }
        body
    }

    /// A failed request: no body; a failed write still consumes a zxid and is logged as an
    /// ErrorTxn (spec 02 §2.2), a failed read consumes nothing.
    pub fn err(&mut self, conn: ConnId, req: Request, code: ErrorCode) {
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
            assert_eq!(txn.zxid(), menagerie_proto::Zxid(header.zxid), "{req:?}");
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
    pub fn stat(&mut self, conn: ConnId, path: &str) -> Stat {
        match self.ok(conn, exists(path, false)) {
            Response::Stat(s) => s,
            other => panic!("exists {path}: {other:?}"),
        }
    }

    /// The node's children through `getChildren`, sorted (ZooKeeper's order is unspecified).
    pub fn children(&mut self, conn: ConnId, path: &str) -> Vec<String> {
        match self.ok(conn, get_children(path, false)) {
            Response::GetChildren { mut children } => {
                children.sort();
                children
            }
            other => panic!("getChildren {path}: {other:?}"),
        }
    }

    /// Opens a new session from `ip` on a fresh connection (ids from 100 up).
    pub fn open_from(&mut self, ip: &str) -> ConnId {
        let conn = ConnId(self.next_conn);
        self.next_conn += 1;
        let out = self.run(Input::Connect {
            conn,
            peer_ip: ip.into(),
            req: ConnectRequest {
                timeout: 10_000,
                read_only: Some(false),
                ..new_session()
            },
        });
        assert!(
            matches!(out.as_slice(), [Output::Connected { resp, .. }] if resp.timeout > 0),
            "{out:?}"
        );
        conn
    }

    /// Opens a new session from 127.0.0.1.
    pub fn open(&mut self) -> ConnId {
        self.open_from("127.0.0.1")
    }

    /// Sends `req` with a fresh xid and picks its reply out of whatever else comes back.
    pub fn answer(&mut self, conn: ConnId, req: Request) -> Answer {
        self.xid += 1;
        let xid = self.xid;
        let out = self.send(conn, xid, req);
        let mut answer = None;
        let mut closed = false;
        for o in out {
            match o {
                Output::Reply {
                    conn: c,
                    header,
                    body,
                } if c == conn && header.xid == xid => {
                    answer = Some((header.err, header.zxid, body));
                }
                Output::Close { conn: c } if c == conn => closed = true,
                _ => {}
            }
        }
        let (err, zxid, body) = answer.unwrap_or_else(|| panic!("no reply to xid {xid}"));
        Answer {
            err,
            zxid,
            body,
            closed,
        }
    }

    /// [`answer`](Self::answer), which must succeed.
    pub fn answer_ok(&mut self, conn: ConnId, req: Request) -> Response {
        let a = self.answer(conn, req.clone());
        assert_eq!(a.err, 0, "{req:?} -> {a:?}");
        a.body
    }

    /// `addauth scheme secret`.
    pub fn add_auth(&mut self, conn: ConnId, scheme: &str, secret: &str) -> Answer {
        let req = Request::Auth(AuthPacket {
            auth_type: 0,
            scheme: scheme.into(),
            auth: Some(secret.as_bytes().to_vec()),
        });
        self.answer(conn, req)
    }
}

// ---- request and output builders ------------------------------------------------------------

pub fn new_session() -> ConnectRequest {
    ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout: 10_000,
        session_id: 0,
        passwd: vec![0; 16],
        read_only: Some(false),
    }
}

pub fn resume(session: i64, last_zxid_seen: i64) -> ConnectRequest {
    ConnectRequest {
        last_zxid_seen,
        session_id: session,
        passwd: session_password(session).to_vec(),
        ..new_session()
    }
}

pub fn connected_resp(timeout: i32, session: i64, read_only: Option<bool>) -> ConnectResponse {
    ConnectResponse {
        protocol_version: 0,
        timeout,
        session_id: session,
        passwd: session_password(session).to_vec(),
        read_only,
    }
}

pub fn connected(conn: ConnId, timeout: i32, session: i64, read_only: Option<bool>) -> Output {
    Output::Connected {
        conn,
        resp: connected_resp(timeout, session, read_only),
    }
}

/// The "session invalid" handshake reply.
pub fn refused(conn: ConnId, read_only: Option<bool>) -> Output {
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

pub fn reply(conn: ConnId, xid: i32, zxid: i64, err: ErrorCode, body: Response) -> Output {
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

pub fn notify(conn: ConnId, zxid: i64, event_type: i32, path: &str) -> Output {
    Output::Notify {
        conn,
        zxid: menagerie_proto::Zxid(zxid),
        event: WatcherEvent {
            event_type,
            state: 3,
            path: path.into(),
        },
    }
}

pub fn close(conn: ConnId) -> Output {
    Output::Close { conn }
}

pub fn acl(perms: i32, scheme: &str, id: &str) -> Acl {
    Acl {
        perms,
        id: Id {
            scheme: scheme.into(),
            id: id.into(),
        },
    }
}

pub fn world(perms: i32) -> Vec<Acl> {
    vec![acl(perms, "world", "anyone")]
}

pub fn create_req(path: &str, data: Option<&[u8]>, acl: Vec<Acl>, flags: i32) -> CreateRequest {
    CreateRequest {
        path: path.into(),
        data: data.map(<[u8]>::to_vec),
        acl,
        flags,
    }
}

pub fn create(path: &str, data: &[u8], flags: i32) -> Request {
    Request::Create(create_req(path, Some(data), Acl::open_unsafe(), flags))
}

pub fn create2(path: &str, data: &[u8], flags: i32) -> Request {
    Request::Create2(create_req(path, Some(data), Acl::open_unsafe(), flags))
}

pub fn create_acl(path: &str, acl: Vec<Acl>, flags: i32) -> Request {
    Request::Create(create_req(path, Some(b""), acl, flags))
}

pub fn container(path: &str) -> Request {
    Request::CreateContainer(create_req(path, Some(b""), Acl::open_unsafe(), 4))
}

pub fn create_ttl(path: &str, flags: i32, ttl: i64) -> Request {
    Request::CreateTtl(CreateTtlRequest {
        path: path.into(),
        data: Some(Vec::new()),
        acl: Acl::open_unsafe(),
        flags,
        ttl,
    })
}

pub fn delete(path: &str, version: i32) -> Request {
    Request::Delete(DeleteRequest {
        path: path.into(),
        version,
    })
}

pub fn set_data(path: &str, data: &[u8], version: i32) -> Request {
    Request::SetData(SetDataRequest {
        path: path.into(),
        data: Some(data.to_vec()),
        version,
    })
}

pub fn set_acl(path: &str, acl: Vec<Acl>, version: i32) -> Request {
    Request::SetAcl(SetAclRequest {
        path: path.into(),
        acl,
        version,
    })
}

pub fn check(path: &str, version: i32) -> Request {
    Request::Check(CheckVersionRequest {
        path: path.into(),
        version,
    })
}

pub fn exists(path: &str, watch: bool) -> Request {
    Request::Exists(PathWatchRequest {
        path: path.into(),
        watch,
    })
}

pub fn get_data(path: &str, watch: bool) -> Request {
    Request::GetData(GetDataRequest {
        path: path.into(),
        watch,
    })
}

pub fn get_children(path: &str, watch: bool) -> Request {
    Request::GetChildren(PathWatchRequest {
        path: path.into(),
        watch,
    })
}

pub fn get_acl(path: &str) -> Request {
    Request::GetAcl(PathRequest { path: path.into() })
}

pub fn add_watch(path: &str, mode: i32) -> Request {
    Request::AddWatch(AddWatchRequest {
        path: path.into(),
        mode,
    })
}

pub fn check_watches(path: &str, watcher_type: i32) -> Request {
    Request::CheckWatches(WatchesRequest {
        path: path.into(),
        watcher_type,
    })
}

pub fn remove_watches(path: &str, watcher_type: i32) -> Request {
    Request::RemoveWatches(WatchesRequest {
        path: path.into(),
        watcher_type,
    })
}

pub fn created(path: &str) -> Response {
    Response::Create { path: path.into() }
}

pub fn data(d: &[u8], stat: Stat) -> Response {
    Response::GetData {
        data: Some(d.to_vec()),
        stat,
    }
}

/// The Stat of a node created by txn `zxid` at `time` with `len` bytes of data.
pub fn new_stat(zxid: i64, time: i64, len: i32) -> Stat {
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

pub fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}
