//! A node's handling of client input: handshakes, requests, reads and the replies that wait
//! behind writes.

use menagerie_proto::records::ConnectRequest;
use menagerie_proto::request::Request;
use menagerie_proto::response::Response;
use menagerie_proto::{ErrorCode, OpCode, SessionId, Zxid};

use super::Node;
use super::local_sessions::Upgrade;
use crate::apply::Outcome;
use crate::front::conn::Slot;
use crate::front::reads::ReadContext;
use crate::front::{Admitted, Answered, Front};
use crate::input::{BadRequest, ConnId, Now};
use crate::output::Output;

/// xid of pings.
const PING_XID: i32 = -2;

/// A client request's envelope: who sent it, with which xid and opcode.
#[derive(Debug, Clone, Copy)]
pub(super) struct Call {
    pub conn: ConnId,
    pub session: SessionId,
    pub xid: i32,
    pub op: i32,
}

impl Node {
    pub(super) fn connect(
        &mut self,
        now: Now,
        conn: ConnId,
        peer_ip: String,
        req: ConnectRequest,
        out: &mut Vec<Output>,
    ) {
        if self.serves_read_only() && Zxid(req.last_zxid_seen) <= self.replica.last_processed_zxid()
        {
            let timeout = req.timeout.clamp(
                self.config.min_session_timeout_ms,
                self.config.max_session_timeout_ms,
            );
            self.ro_connect(now, conn, peer_ip, req, timeout, out);
            return;
        }
        // A member that is not serving (electing, syncing) refuses clients, as ZooKeeper's
        // "ZooKeeperServer not running" does; they try another member.
        if !self.is_serving() {
            tracing::debug!(conn = conn.0, "refusing a client: not serving");
            out.push(Output::Close { conn });
            return;
        }
        // A new session needs a durable createSession txn: not while storage is failed.
        if self.read_only && req.session_id == 0 {
            self.refuse_session_while_failed(now, conn, out);
            return;
        }
        // "Client has seen a newer zxid than we have": it must try another server.
        let last = self.replica.last_processed_zxid();
        if Zxid(req.last_zxid_seen) > last {
            tracing::info!(
                conn = conn.0,
                client_zxid = %Zxid(req.last_zxid_seen),
                server_zxid = %last,
                "refusing client that has seen a newer zxid"
            );
            out.push(Output::Close { conn });
            return;
        }
        let timeout = req.timeout.clamp(
            self.config.min_session_timeout_ms,
            self.config.max_session_timeout_ms,
        );
        if req.session_id == 0 {
            let session = self.front.new_session_id();
            self.front
                .open(now, conn, peer_ip, session, timeout, req.read_only);
            if self.local_sessions_enabled() {
                self.create_local_session(now, conn, session, timeout, out);
            } else {
                self.create_session(now, conn, session, timeout, out);
            }
        } else {
            self.resume(now, conn, peer_ip, req, timeout, out);
        }
    }

    /// A client resumes its session on this connection.
    fn resume(
        &mut self,
        now: Now,
        conn: ConnId,
        peer_ip: String,
        req: ConnectRequest,
        timeout: i32,
        out: &mut Vec<Output>,
    ) {
        let session = SessionId(req.session_id);
        // The password first: ZooKeeper closes the session's other connection before it
        // checks it (ZooKeeperServer.processConnectRequest -> reopenSession), which lets
        // anyone who knows a session id keep disconnecting its owner.
        if req.passwd.as_slice() != self.config.auth.session_password(session).as_slice() {
            tracing::info!(conn = conn.0, session = %session, "resume with a wrong password refused");
            Front::refuse_unregistered(conn, req.read_only, out);
            return;
        }
        if let Some(old) = self.front.conn_of(session)
            && old != conn
        {
            self.close(old, out);
        }
        self.front
            .open(now, conn, peer_ip, session, timeout, req.read_only);
        match self.revalidate(now, session, timeout, out) {
            Some(true) => {
                for (xid, op, req) in self.front.establish(conn, &self.config.auth, out) {
                    self.request(now, conn, xid, op, req, out);
                }
            }
            Some(false) => self.front.refuse(conn, out),
            // A learner asked the leader; the answer completes the handshake.
            None => {}
        }
    }

    pub(super) fn request(
        &mut self,
        now: Now,
        conn: ConnId,
        xid: i32,
        op: i32,
        req: Result<Request, BadRequest>,
        out: &mut Vec<Output>,
    ) {
        let auth = &self.config.auth;
        let Admitted::Ready(session, req) = self.front.admit(conn, xid, op, req, auth, out) else {
            // Queued until the handshake is answered, or closed (its watches go with it).
            if self.front.session_of(conn) == SessionId::NONE {
                self.watches.remove_conn(conn);
            }
            return;
        };
        // A request on a closing (expiring) session is dropped, as ZooKeeper's touch fails.
        if !self.touch(now, conn, session) {
            return;
        }
        let zxid = self.replica.last_processed_zxid();
        if op == OpCode::DeleteContainer.code() {
            // The reaper's own operation (`Proposer::reap`): from a client it would delete any
            // empty node without an ACL check. Refused whatever the body's encoding (a jute
            // path, ZooKeeper 3.8.0's raw path bytes, garbage); the connection stays.
            tracing::debug!(conn = conn.0, "deleteContainer from a client refused");
            let err = ErrorCode::BadArguments;
            self.front.error_in_order(now, conn, xid, zxid, err, out);
            return;
        }
        match req {
            Ok(Request::Check(_)) | Err(BadRequest::UnknownOp) => {
                // Unknown opcodes, and standalone `check` (ZOOKEEPER-2623), are Unimplemented
                // and the connection is closed. ZooKeeper's UnimplementedRequestProcessor
                // answers with the request's zxid, which is still -1: no zxid was assigned.
                let err = ErrorCode::Unimplemented;
                self.front
                    .reply(conn, xid, Zxid::NONE, err, Response::Empty, out);
                self.close(conn, out);
            }
            Err(BadRequest::Malformed) => {
                if OpCode::from_code(op).is_some_and(OpCode::is_write) {
                    let call = Call {
                        conn,
                        session,
                        xid,
                        op,
                    };
                    self.submit_write(now, call, Err(BadRequest::Malformed), out);
                } else {
                    let err = ErrorCode::MarshallingError;
                    self.front.error_in_order(now, conn, xid, zxid, err, out);
                }
            }
            Ok(r) => {
                let call = Call {
                    conn,
                    session,
                    xid,
                    op,
                };
                self.dispatch(now, call, r, out)
            }
        }
    }

    /// Routes a decoded request of an established session.
    fn dispatch(&mut self, now: Now, call: Call, req: Request, out: &mut Vec<Output>) {
        let Call {
            conn, session, xid, ..
        } = call;
        let zxid = self.replica.last_processed_zxid();
        let write = req.op().is_write() || matches!(req, Request::CloseSession);
        if self.serves_read_only() && (write || matches!(req, Request::Sync(_))) {
            let close = matches!(req, Request::CloseSession);
            self.ro_refuse(now, conn, session, xid, close, out);
            return;
        }
        if write {
            match self.upgrade_if_needed(now, conn, session, &req, out) {
                Upgrade::Refused => {
                    let err = ErrorCode::EphemeralOnLocalSession;
                    self.front.error_in_order(now, conn, xid, zxid, err, out);
                    return;
                }
                Upgrade::No | Upgrade::Upgraded => {}
            }
        }
        if matches!(req, Request::CloseSession) && self.is_local_session(session) {
            // In order: after the replies of what came before it (then the connection
            // closes, and a reply still owed would be lost).
            if self.front.is_idle(conn) {
                self.close_local_session(conn, session, xid, out);
            } else {
                self.front.defer(conn, xid, call.op, req);
            }
            return;
        }
        if self.read_only && write {
            let err = ErrorCode::NotReadOnly;
            self.front.error_in_order(now, conn, xid, zxid, err, out);
            return;
        }
        if (write || matches!(req, Request::CloseSession)) && self.front.behind_barrier(conn) {
            self.front.defer(conn, xid, call.op, req);
            return;
        }
        match req {
            Request::Ping => {
                self.front
                    .reply(conn, PING_XID, zxid, ErrorCode::Ok, Response::Empty, out)
            }
            Request::Auth(a) => {
                self.front.auth(conn, xid, a, &self.config.auth, out);
                self.forget_if_closed(conn);
            }
            Request::Sasl(r) => {
                let token = r.token.unwrap_or_default();
                self.front.sasl(conn, xid, token, &self.config.auth, out);
                self.forget_if_closed(conn);
            }
            Request::CloseSession => self.close_session(now, conn, session, xid, out),
            r if write => self.submit_write(now, call, Ok(r), out),
            r @ Request::Sync(_) => self.sync(now, conn, xid, r, out),
            r if self.reads_linearized() => {
                self.linearizable_read(now, (conn, session, xid), r, out)
            }
            r => self.read_now_or_queued(now, conn, xid, r, out),
        }
    }

    /// Answers a read now, or queues it behind the connection's writes in flight.
    pub(super) fn read_now_or_queued(
        &mut self,
        now: Now,
        conn: ConnId,
        xid: i32,
        req: Request,
        out: &mut Vec<Output>,
    ) {
        if let Some(r) = self.front.read_in_order(now, conn, xid, req) {
            self.read(now, conn, xid, r, now.mono_ms, out);
        }
    }

    /// Drops the watches of a connection the front just closed.
    fn forget_if_closed(&mut self, conn: ConnId) {
        if self.front.session_of(conn) == SessionId::NONE {
            self.watches.remove_conn(conn);
        }
    }

    /// Answers a read from the tree.
    pub(super) fn read(
        &mut self,
        now: Now,
        conn: ConnId,
        xid: i32,
        req: Request,
        received_ms: u64,
        out: &mut Vec<Output>,
    ) {
        let zxid = self.replica.last_processed_zxid();
        let answered = Answered {
            op: req.op(),
            xid,
            latency_ms: now.mono_ms.saturating_sub(received_ms),
            write: false,
            zxid,
        };
        self.front.record(now, conn, answered);
        let result = ReadContext {
            tree: self.replica.tree(),
            watches: &mut self.watches,
            conn,
            ids: self.front.ids(conn),
            session: self.front.session_of(conn),
            skip_acl: self.config.auth.skip_acl,
        }
        .evaluate(req, out);
        let (err, body) = match result {
            Ok(body) => (ErrorCode::Ok, body),
            Err(e) => (e, Response::Empty),
        };
        self.front.reply(conn, xid, zxid, err, body, out);
    }

    /// Answers the reads that were waiting behind a write that just completed.
    pub(super) fn drain(&mut self, now: Now, conn: ConnId, out: &mut Vec<Output>) {
        while let Some(slot) = self.front.next_ready(conn) {
            match slot {
                Slot::Read {
                    xid,
                    req,
                    received_ms,
                } => self.read(now, conn, xid, req, received_ms, out),
                Slot::Error {
                    xid,
                    err,
                    received_ms,
                } => {
                    let zxid = self.replica.last_processed_zxid();
                    let answered = Answered {
                        op: OpCode::Error,
                        xid,
                        latency_ms: now.mono_ms.saturating_sub(received_ms),
                        write: false,
                        zxid,
                    };
                    self.front.record(now, conn, answered);
                    self.front.reply(conn, xid, zxid, err, Response::Empty, out);
                }
                Slot::Sync {
                    xid,
                    path,
                    received_ms,
                    ..
                } => {
                    let zxid = self.replica.last_processed_zxid();
                    let answered = Answered {
                        op: OpCode::Sync,
                        xid,
                        latency_ms: now.mono_ms.saturating_sub(received_ms),
                        write: false,
                        zxid,
                    };
                    self.front.record(now, conn, answered);
                    let body = Response::Sync { path };
                    self.front.reply(conn, xid, zxid, ErrorCode::Ok, body, out);
                }
                Slot::Barrier { .. } => {}
                Slot::Deferred { xid, op, req } => {
                    self.submit_deferred(now, conn, (xid, op), req, out);
                    return;
                }
                Slot::Write { .. } => return,
            }
        }
    }
}

/// The reply for an applied write.
pub(super) fn write_response(outcome: Outcome) -> (ErrorCode, Response) {
    match outcome {
        Outcome::Failed(e) => (e, Response::Empty),
        Outcome::Created { op, path, stat } => match op {
            OpCode::Create => (ErrorCode::Ok, Response::Create { path }),
            _ => (ErrorCode::Ok, Response::Create2 { path, stat }),
        },
        Outcome::Stat(s) => (ErrorCode::Ok, Response::Stat(s)),
        Outcome::Multi(results) => (ErrorCode::Ok, Response::Multi(results)),
        Outcome::Done => (ErrorCode::Ok, Response::Empty),
    }
}
