//! [`Front`]: the client-facing part every server role shares (ZooKeeper: `ServerCnxn` and
//! the request pipeline's first and last stages): connections and their sessions, the
//! per-connection reply order, identities and authentication, reads and statistics.
//!
//! Replies leave in request order per connection: a read is answered at once only if the
//! connection has no write in flight, else it queues behind it ([`conn::Slot`]); a write's
//! reply is matched to its committed txn by (session, cxid).

mod auth;
pub(crate) mod conn;
pub mod reads;
pub mod stats;
mod waits;

use std::collections::{BTreeMap, VecDeque};

use menagerie_proto::records::{ConnectResponse, Id, ReplyHeader};
use menagerie_proto::request::Request;
use menagerie_proto::response::Response;
use menagerie_proto::session::PASSWORD_LEN;
use menagerie_proto::{ErrorCode, SessionId, Zxid};

pub use conn::ConnInfo;
use conn::{Conn, SessionState, Slot};
pub use stats::{ConnStats, Latency, LatencyHistogram, Stats};
pub(crate) use waits::Forwarded;

use crate::auth::{AuthConfig, passes_enforcement};
use crate::input::{BadRequest, ConnId, Now};
use crate::output::Output;
use crate::session::SessionIds;

/// A request the front let through to the node.
pub(crate) enum Admitted {
    /// Handle it: the connection's session and the request.
    Ready(SessionId, Result<Request, BadRequest>),
    /// Nothing more to do (queued until the session is established, or the connection was
    /// closed for failing `enforce.auth`).
    Done,
}

/// Connections, sessions of this server's clients, and statistics.
#[derive(Debug)]
pub struct Front {
    conns: BTreeMap<ConnId, Conn>,
    /// Session -> its connection on this server.
    session_conn: BTreeMap<SessionId, ConnId>,
    session_ids: SessionIds,
    stats: Stats,
    /// Counter mixed into SASL nonces.
    sasl_serial: u64,
    /// Syncs forwarded to the leader, oldest first (its SYNC answers release them in order).
    forwarded_syncs: VecDeque<Forwarded>,
    /// Syncs of a leader's own clients: released once this zxid has committed.
    local_syncs: Vec<(Zxid, ConnId)>,
    /// Connections with reads behind a linearizable-read barrier, by round.
    barriers: BTreeMap<u64, Vec<ConnId>>,
}

impl Front {
    /// A front that hands out session ids from `session_ids`.
    pub fn new(session_ids: SessionIds) -> Front {
        Front {
            conns: BTreeMap::new(),
            session_conn: BTreeMap::new(),
            session_ids,
            stats: Stats::default(),
            sasl_serial: 0,
            forwarded_syncs: VecDeque::new(),
            local_syncs: Vec::new(),
            barriers: BTreeMap::new(),
        }
    }

    /// A new session id for a client of this server.
    pub fn new_session_id(&mut self) -> SessionId {
        self.session_ids.next_id()
    }

    /// Registers a connection whose handshake for `session` is not answered yet.
    pub(crate) fn open(
        &mut self,
        now: Now,
        conn: ConnId,
        peer_ip: String,
        session: SessionId,
        timeout: i32,
        read_only: Option<bool>,
    ) {
        let c = Conn::new(peer_ip, session, timeout, read_only, now.wall_ms);
        self.conns.insert(conn, c);
        self.session_conn.insert(session, conn);
    }

    /// The connection of `session` on this server.
    pub fn conn_of(&self, session: SessionId) -> Option<ConnId> {
        self.session_conn.get(&session).copied()
    }

    /// The session of a connection (0 if unknown).
    pub fn session_of(&self, conn: ConnId) -> SessionId {
        self.conns.get(&conn).map_or(SessionId::NONE, |c| c.session)
    }

    /// The identities of a connection.
    pub fn ids(&self, conn: ConnId) -> &[Id] {
        self.conns.get(&conn).map_or(&[], |c| c.ids.as_slice())
    }

    /// Answers the handshake of a pending connection; returns the requests it sent before
    /// the answer, to be handled now in order.
    pub(crate) fn establish(
        &mut self,
        conn: ConnId,
        auth: &AuthConfig,
        out: &mut Vec<Output>,
    ) -> Vec<(i32, i32, Result<Request, BadRequest>)> {
        self.answer_handshake(conn, auth, false, out)
    }

    /// [`establish`](Self::establish) on a member in read-only mode: the answer says
    /// `readOnly=true`.
    pub(crate) fn establish_read_only(
        &mut self,
        conn: ConnId,
        auth: &AuthConfig,
        out: &mut Vec<Output>,
    ) -> Vec<(i32, i32, Result<Request, BadRequest>)> {
        self.answer_handshake(conn, auth, true, out)
    }

    fn answer_handshake(
        &mut self,
        conn: ConnId,
        auth: &AuthConfig,
        read_only_server: bool,
        out: &mut Vec<Output>,
    ) -> Vec<(i32, i32, Result<Request, BadRequest>)> {
        let Some(c) = self.conns.get_mut(&conn) else {
            return Vec::new();
        };
        let SessionState::Pending { timeout, read_only } = c.state else {
            return Vec::new();
        };
        c.state = SessionState::Established;
        out.push(Output::Connected {
            conn,
            resp: ConnectResponse {
                protocol_version: 0,
                timeout,
                session_id: c.session.0,
                passwd: auth.session_password(c.session).to_vec(),
                read_only: read_only.map(|_| read_only_server),
            },
        });
        std::mem::take(&mut c.early).into()
    }

    /// Refuses a resumed session (unknown, expired or wrong password): the handshake reply
    /// says "invalid" (timeout 0) and the connection closes.
    pub(crate) fn refuse(&mut self, conn: ConnId, out: &mut Vec<Output>) {
        let read_only = match self.conns.get(&conn).map(|c| c.state) {
            Some(SessionState::Pending { read_only, .. }) => read_only,
            _ => None,
        };
        Front::refuse_unregistered(conn, read_only, out);
        self.drop_conn(conn);
    }

    /// [`Front::refuse`] for a connection that was never registered (`read_only`: the
    /// handshake's read-only flag, echoed as ZooKeeper does).
    pub(crate) fn refuse_unregistered(
        conn: ConnId,
        read_only: Option<bool>,
        out: &mut Vec<Output>,
    ) {
        out.push(Output::Connected {
            conn,
            resp: ConnectResponse {
                protocol_version: 0,
                timeout: 0,
                session_id: 0,
                passwd: vec![0; PASSWORD_LEN],
                read_only: read_only.map(|_| false),
            },
        });
        out.push(Output::Close { conn });
    }

    /// Forgets a connection (its session lives on until it expires or resumes elsewhere).
    pub(crate) fn drop_conn(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.remove(&conn)
            && self.session_conn.get(&c.session) == Some(&conn)
        {
            self.session_conn.remove(&c.session);
        }
    }

    /// Lets a request through, or queues it (session not established yet), or refuses it
    /// (ZooKeeper's `processPacket`: a connection without a required identity is answered
    /// SessionClosedRequireSaslAuth and closed; auth and SASL packets are exempt).
    pub(crate) fn admit(
        &mut self,
        conn: ConnId,
        xid: i32,
        op: i32,
        req: Result<Request, BadRequest>,
        auth: &AuthConfig,
        out: &mut Vec<Output>,
    ) -> Admitted {
        self.stats.packets_received += 1;
        let Some(c) = self.conns.get_mut(&conn) else {
            return Admitted::Done;
        };
        c.stats.received += 1;
        if !c.established() {
            c.early.push_back((xid, op, req));
            return Admitted::Done;
        }
        if !matches!(req, Ok(Request::Auth(_) | Request::Sasl(_)))
            && !passes_enforcement(&c.ids, auth)
        {
            tracing::warn!(
                conn = conn.0,
                required = ?auth.enforce_auth_schemes,
                "client not authenticated with a required scheme; closing"
            );
            self.reply(
                conn,
                xid,
                Zxid::ZERO,
                ErrorCode::SessionClosedRequireSaslAuth,
                Response::Empty,
                out,
            );
            self.close(conn, out);
            return Admitted::Done;
        }
        Admitted::Ready(c.session, req)
    }

    /// Sends a reply.
    pub(crate) fn reply(
        &self,
        conn: ConnId,
        xid: i32,
        zxid: Zxid,
        err: ErrorCode,
        body: Response,
        out: &mut Vec<Output>,
    ) {
        out.push(Output::Reply {
            conn,
            header: ReplyHeader {
                xid,
                zxid: zxid.0,
                err: err.code(),
            },
            body,
        });
    }

    /// Closes a connection after what was queued for it.
    pub(crate) fn close(&mut self, conn: ConnId, out: &mut Vec<Output>) {
        out.push(Output::Close { conn });
        self.drop_conn(conn);
    }

    /// Whether nothing of `conn` is in flight or queued (a reply now is in order).
    pub(crate) fn is_idle(&self, conn: ConnId) -> bool {
        self.conns.get(&conn).is_none_or(|c| c.queue.is_empty())
    }

    /// Reserves the place of a write's reply in the connection's order.
    pub(crate) fn push_write(&mut self, now: Now, conn: ConnId, cxid: i32) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.queue.push_back(Slot::Write {
                cxid,
                received_ms: now.mono_ms,
            });
        }
    }

    /// Queues a read behind the connection's writes in flight; gives it back if it can be
    /// answered at once.
    pub(crate) fn read_in_order(
        &mut self,
        now: Now,
        conn: ConnId,
        xid: i32,
        req: Request,
    ) -> Option<Request> {
        let c = self.conns.get_mut(&conn)?;
        if c.queue.is_empty() {
            return Some(req);
        }
        c.queue.push_back(Slot::Read {
            xid,
            req,
            received_ms: now.mono_ms,
        });
        None
    }

    /// Answers `err` in order: now, or behind the connection's writes in flight.
    pub(crate) fn error_in_order(
        &mut self,
        now: Now,
        conn: ConnId,
        xid: i32,
        zxid: Zxid,
        err: ErrorCode,
        out: &mut Vec<Output>,
    ) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if c.queue.is_empty() {
            self.reply(conn, xid, zxid, err, Response::Empty, out);
        } else {
            c.queue.push_back(Slot::Error {
                xid,
                err,
                received_ms: now.mono_ms,
            });
        }
    }

    /// A txn of `session` with `cxid` committed: if it is the write at the head of the
    /// session's connection here, that slot is taken; returns the connection and when the
    /// request arrived (monotonic ms).
    pub(crate) fn take_write(&mut self, session: SessionId, cxid: i32) -> Option<(ConnId, u64)> {
        let conn = self.conn_of(session)?;
        let c = self.conns.get_mut(&conn)?;
        match c.queue.front() {
            Some(&Slot::Write {
                cxid: queued,
                received_ms,
            }) if queued == cxid => {
                c.queue.pop_front();
                Some((conn, received_ms))
            }
            _ => None,
        }
    }

    /// The next queued read, error or released sync of `conn` if nothing is in flight
    /// before it.
    pub(crate) fn next_ready(&mut self, conn: ConnId) -> Option<Slot> {
        let c = self.conns.get_mut(&conn)?;
        match c.queue.front() {
            Some(Slot::Read { .. } | Slot::Error { .. }) => c.queue.pop_front(),
            Some(Slot::Sync { released: true, .. }) => c.queue.pop_front(),
            Some(Slot::Barrier { released: true, .. } | Slot::Deferred { .. }) => {
                c.queue.pop_front()
            }
            _ => None,
        }
    }

    /// The session's timeout as negotiated on its connection here.
    pub fn timeout_of(&self, conn: ConnId) -> i32 {
        self.conns.get(&conn).map_or(0, |c| c.timeout)
    }

    /// Every connection (to close them all when the server stops serving).
    pub fn conn_ids(&self) -> Vec<ConnId> {
        self.conns.keys().copied().collect()
    }

    /// The connection's handshake is waiting (for createSession or a revalidation).
    pub fn is_pending(&self, conn: ConnId) -> bool {
        self.pending_handshake(conn).is_some()
    }

    /// The session's handshake is pending: (timeout, read-only flag).
    pub(crate) fn pending_handshake(&self, conn: ConnId) -> Option<(i32, Option<bool>)> {
        match self.conns.get(&conn)?.state {
            SessionState::Pending { timeout, read_only } => Some((timeout, read_only)),
            SessionState::Established => None,
        }
    }

    /// Counts an answered request.
    pub(crate) fn record(&mut self, now: Now, conn: ConnId, answered: Answered) {
        self.stats.answered(answered.latency_ms, answered.write);
        if let Some(c) = self.conns.get_mut(&conn) {
            c.stats.latency.add(answered.latency_ms);
            c.stats.last_op = Some(answered.op);
            c.stats.last_cxid = answered.xid;
            c.stats.last_zxid = answered.zxid;
            c.stats.last_response_ms = now.wall_ms;
        }
    }

    /// Counts replies and notifications about to be sent.
    pub(crate) fn count_sent(&mut self, outputs: &[Output]) {
        for o in outputs {
            if let Output::Reply { conn, .. } | Output::Notify { conn, .. } = o {
                self.stats.packets_sent += 1;
                if let Some(c) = self.conns.get_mut(conn) {
                    c.stats.sent += 1;
                }
            }
        }
    }

    /// Server-wide counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Number of connections.
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// Every connection, in id order; `timeout` gives a session's timeout.
    pub fn connections(&self, timeout: impl Fn(SessionId) -> i32) -> Vec<ConnInfo> {
        self.conns
            .iter()
            .map(|(id, c)| ConnInfo {
                conn: *id,
                session: c.session,
                timeout_ms: timeout(c.session),
                queued: c.queue.len(),
                stats: c.stats.clone(),
            })
            .collect()
    }

    /// Resets the server-wide counters (`srst`).
    pub fn reset_stats(&mut self) {
        self.stats = Stats::default();
    }

    /// Resets every connection's counters (`crst`).
    pub fn reset_connection_stats(&mut self) {
        for c in self.conns.values_mut() {
            c.stats = ConnStats {
                established_ms: c.stats.established_ms,
                ..ConnStats::default()
            };
        }
    }
}

/// A request answered, for the statistics.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Answered {
    pub op: menagerie_proto::OpCode,
    pub xid: i32,
    pub latency_ms: u64,
    pub write: bool,
    /// The zxid the reply carries.
    pub zxid: Zxid,
}
