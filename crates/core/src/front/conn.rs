//! One client connection as the front sees it: its session, identities and the queue that
//! keeps its replies in request order.

use std::collections::VecDeque;

use menagerie_proto::records::Id;
use menagerie_proto::request::Request;
use menagerie_proto::{ErrorCode, SessionId};

use super::stats::ConnStats;
use crate::input::{BadRequest, ConnId};

/// One entry of a connection's reply queue.
#[derive(Debug)]
pub(crate) enum Slot {
    /// A write in flight; its reply comes when the txn with this session and cxid commits
    /// (a learner learns a write's zxid only from the leader, so replies are matched by
    /// (session, cxid), as ZooKeeper's `CommitProcessor` does).
    Write { cxid: i32, received_ms: u64 },
    /// A read (or other in-order request) waiting behind earlier writes.
    Read {
        xid: i32,
        req: Request,
        received_ms: u64,
    },
    /// An error reply waiting behind earlier writes.
    Error {
        xid: i32,
        err: ErrorCode,
        received_ms: u64,
    },
    /// A `sync` waiting for the leader (released when its answer comes).
    Sync {
        xid: i32,
        path: String,
        received_ms: u64,
        released: bool,
    },
    /// Reads behind it wait for a linearizable-read round (leadership confirmed, or the
    /// leader's answer to a sync) that started after they arrived.
    Barrier { round: u64, released: bool },
    /// A write (or closeSession) that arrived behind an open barrier, or the close of a local
    /// session behind anything: submitted only when it reaches the front, so that its reply
    /// cannot overtake the replies before it.
    Deferred { xid: i32, op: i32, req: Request },
}

/// Where a connection's session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SessionState {
    /// The handshake reply waits: for a new session's createSession to commit (or, on a
    /// learner, for the leader to revalidate a resumed one). Requests wait in `early`.
    Pending {
        timeout: i32,
        read_only: Option<bool>,
    },
    /// The handshake was answered; requests are served.
    Established,
}

/// A connection.
#[derive(Debug)]
pub(crate) struct Conn {
    /// Its session (0 until one is assigned).
    pub session: SessionId,
    /// The session's negotiated timeout (learners report it with their touches).
    pub timeout: i32,
    pub state: SessionState,
    pub ids: Vec<Id>,
    /// DIGEST-MD5 exchange: None before, Some(nonce) after the challenge, Some("") done.
    pub sasl: Option<String>,
    pub queue: VecDeque<Slot>,
    /// Requests received before the session was established.
    pub early: VecDeque<(i32, i32, Result<Request, BadRequest>)>,
    pub stats: ConnStats,
}

impl Conn {
    /// A connection from `peer_ip` (its implicit `ip` identity) for `session`, whose
    /// handshake is not answered yet.
    pub fn new(
        peer_ip: String,
        session: SessionId,
        timeout: i32,
        read_only: Option<bool>,
        wall_ms: i64,
    ) -> Conn {
        Conn {
            session,
            timeout,
            state: SessionState::Pending { timeout, read_only },
            ids: vec![Id {
                scheme: "ip".into(),
                id: peer_ip,
            }],
            sasl: None,
            queue: VecDeque::new(),
            early: VecDeque::new(),
            stats: ConnStats {
                established_ms: wall_ms,
                ..ConnStats::default()
            },
        }
    }

    /// Whether the handshake was answered.
    pub fn established(&self) -> bool {
        self.state == SessionState::Established
    }
}

/// What the operations surface can see of one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnInfo {
    /// The connection.
    pub conn: ConnId,
    /// Its session (0 before the handshake completed).
    pub session: SessionId,
    /// Negotiated timeout of the session, ms.
    pub timeout_ms: i32,
    /// Replies still owed (writes in flight and reads queued behind them).
    pub queued: usize,
    /// Counters.
    pub stats: ConnStats,
}
