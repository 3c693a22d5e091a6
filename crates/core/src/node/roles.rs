//! How each role handles what clients ask: a standalone server and a leader order writes
//! themselves; a learner forwards them to the leader (REQUEST) and learns the outcome from
//! the commit, matched by (session, cxid). Also the leader's side of what learners forward.

use std::sync::Arc;

use menagerie_proto::jute::Reader;
use menagerie_proto::quorum::packet::{
    ForwardedRequest, encode_int, encode_revalidate, encode_revalidate_reply, parse_int,
    parse_revalidate,
};
use menagerie_proto::quorum::{PacketType, QuorumPacket};
use menagerie_proto::request::Request;
use menagerie_proto::txn::LoggedTxn;
use menagerie_proto::{OpCode, ServerId, SessionId, Zxid};

use super::Node;
use super::ensemble::Role;
use super::local_sessions::creates_ephemeral;
use super::requests::Call;
use crate::input::{BadRequest, ConnId, Now};
use crate::output::Output;
use crate::planted::PlantedBug;
use crate::proposer::Requester;
use crate::zab::action::Actions;

impl Node {
    /// Orders a txn this node prepped: a standalone server logs it; a leader broadcasts it.
    pub(super) fn propose(&mut self, now: Now, txn: LoggedTxn, out: &mut Vec<Output>) {
        match &mut self.role {
            Role::Leading(l) => {
                let counter = txn.zxid().counter();
                if counter > Zxid::MAX_COUNTER {
                    // ZooKeeper: "zxid lower 32 bits have rolled over, forcing re-election".
                    self.step_down(now, "zxid counter rolled over", out);
                    return;
                }
                let mut acts = Actions::new();
                l.propose(Arc::new(txn), &mut acts);
                if let Some(zab) = &self.zab
                    && l.wants_epoch_change(counter, &zab.config)
                    && let Some(epoch) = l.start_epoch_change(now.mono_ms, &zab.config, &mut acts)
                {
                    // What is prepped from now on belongs to the next epoch.
                    self.proposer.restore_zxid(Zxid::epoch_start(epoch));
                }
                self.exec(now, acts, out);
            }
            _ => self.log(txn, out),
        }
    }

    /// A new session for a client of this node.
    pub(super) fn create_session(
        &mut self,
        now: Now,
        conn: ConnId,
        session: SessionId,
        timeout: i32,
        out: &mut Vec<Output>,
    ) {
        if let Role::Learning(l) = &mut self.role {
            l.touch(session, timeout);
            let body = encode_int(timeout);
            self.forward(conn, session, 0, OpCode::CreateSession, body, out);
            return;
        }
        let tree = self.replica.tree();
        let txn = self
            .proposer
            .propose_create_session(tree, now, session, timeout);
        self.proposer
            .sessions_mut()
            .set_owner(session, self.config.server_id);
        self.propose(now, txn, out);
    }

    /// Whether a resumed session is valid: decided now (`Some`), or asked of the leader
    /// (`None`: the REVALIDATE answer decides).
    pub(super) fn revalidate(
        &mut self,
        now: Now,
        session: SessionId,
        timeout: i32,
        out: &mut Vec<Output>,
    ) -> Option<bool> {
        if self.touch_local(now, session) {
            return Some(true);
        }
        if let Role::Learning(l) = &mut self.role {
            if l.planted() == PlantedBug::LocalExpiry {
                return Some(false); // planted mistake: expired without the leader's decision
            }
            let leader = l.leader();
            let data = encode_revalidate(session, timeout);
            let packet = QuorumPacket::with_data(PacketType::Revalidate, Zxid::NONE, data);
            out.push(Output::Send { to: leader, packet });
            return None;
        }
        if self.hold_revalidation(None, session, timeout) {
            return None;
        }
        let me = self.config.server_id;
        let sessions = self.proposer.sessions_mut();
        let valid = sessions.touch(session, now.mono_ms);
        if valid {
            sessions.set_timeout(session, timeout, now.mono_ms);
            sessions.set_owner(session, me);
        }
        Some(valid)
    }

    /// Records activity of a session; false if its requests must be dropped (closing).
    pub(super) fn touch(&mut self, now: Now, conn: ConnId, session: SessionId) -> bool {
        if self.serves_read_only() {
            // Nothing expires here while read-only: local sessions end with their connection.
            return true;
        }
        if self.touch_local(now, session) {
            return true;
        }
        match &mut self.role {
            Role::Learning(l) => {
                l.touch(session, self.front.timeout_of(conn));
                true
            }
            _ => self.proposer.sessions_mut().touch(session, now.mono_ms),
        }
    }

    /// A client's write (or its undecodable body): ordered here, or forwarded.
    pub(super) fn submit_write(
        &mut self,
        now: Now,
        call: Call,
        req: Result<Request, BadRequest>,
        out: &mut Vec<Output>,
    ) {
        let Call {
            conn,
            session,
            xid,
            op,
        } = call;
        self.front.push_write(now, conn, xid);
        if matches!(self.role, Role::Learning(_)) {
            let mut body = Vec::new();
            if let Ok(r) = &req {
                r.write_body(&mut body);
            }
            let op = OpCode::from_code(op).unwrap_or(OpCode::Error);
            self.forward(conn, session, xid, op, body, out);
            return;
        }
        let owner = self.config.server_id;
        let ephemeral = req.as_ref().is_ok_and(creates_ephemeral);
        let check = matches!(self.role, Role::Leading(_))
            .then(|| self.check_session(session, owner, ephemeral));
        if let (Some(Ok(())), Ok(Request::Reconfig(r))) = (&check, &req) {
            let ids = self.front.ids(conn).to_vec();
            let who = Requester {
                session,
                cxid: xid,
                ids: &ids,
            };
            self.submit_reconfig(now, who, r, out);
            return;
        }
        let who = Requester {
            session,
            cxid: xid,
            ids: self.front.ids(conn),
        };
        let tree = self.replica.tree();
        let txn = match check {
            Some(Err(e)) => self.proposer.propose_error(tree, now, who, e),
            _ => self.proposer.propose_request(
                tree,
                &self.config,
                now,
                who,
                req.as_ref().map_err(|e| *e),
            ),
        };
        self.propose(now, txn, out);
    }

    /// A client closes its session.
    pub(super) fn close_session(
        &mut self,
        now: Now,
        conn: ConnId,
        session: SessionId,
        xid: i32,
        out: &mut Vec<Output>,
    ) {
        if matches!(self.role, Role::Learning(_)) {
            self.front.push_write(now, conn, xid);
            self.forward(conn, session, xid, OpCode::CloseSession, Vec::new(), out);
            return;
        }
        if self.proposer.sessions_mut().set_closing(session) {
            self.front.push_write(now, conn, xid);
            let tree = self.replica.tree();
            let txn = self
                .proposer
                .propose_close_session(tree, &self.config, now, session, xid);
            self.propose(now, txn, out);
        }
    }

    /// `sync`: a standalone server answers in order; a leader once what is proposed now has
    /// committed; a learner once the leader answers the forwarded sync.
    pub(super) fn sync(
        &mut self,
        now: Now,
        conn: ConnId,
        xid: i32,
        req: Request,
        out: &mut Vec<Output>,
    ) {
        let path = match &req {
            Request::Sync(r) => r.path.clone(),
            _ => String::new(),
        };
        if let (Role::Leading(l), Some(zab)) = (&mut self.role, &self.zab)
            && zab.config.linearizable_sync
        {
            // Answered only after a quorum confirmed this leader after the sync arrived.
            let mut acts = Actions::new();
            let round = l.confirm(&zab.config, &mut acts);
            self.front.push_barrier(conn, round);
            self.exec(now, acts, out);
        }
        let until = match &mut self.role {
            Role::Leading(l) => match l.sync_point() {
                Some(z) => Some(z),
                None => return self.read_now_or_queued(now, conn, xid, req, out),
            },
            Role::Learning(_) => None,
            _ => return self.read_now_or_queued(now, conn, xid, req, out),
        };
        self.front.push_sync(now, conn, xid, path.clone(), until);
        if until.is_none() {
            let session = self.front.session_of(conn);
            let body = {
                let mut b = Vec::new();
                req.write_body(&mut b);
                b
            };
            self.forward(conn, session, xid, OpCode::Sync, body, out);
        }
    }

    /// Sends a client's request to the leader with the connection's identities.
    pub(super) fn forward(
        &mut self,
        conn: ConnId,
        session: SessionId,
        cxid: i32,
        op: OpCode,
        body: Vec<u8>,
        out: &mut Vec<Output>,
    ) {
        let Role::Learning(l) = &self.role else {
            return;
        };
        let request = ForwardedRequest {
            session,
            cxid,
            op: op.code(),
            body,
        };
        let packet = QuorumPacket {
            authinfo: Some(self.front.ids(conn).to_vec()),
            ..QuorumPacket::with_data(PacketType::Request, Zxid::NONE, request.to_bytes())
        };
        out.push(Output::Send {
            to: l.leader(),
            packet,
        });
    }

    /// The leader's answer to a revalidation: the waiting handshake completes or fails.
    pub(super) fn revalidated(
        &mut self,
        now: Now,
        session: SessionId,
        valid: bool,
        out: &mut Vec<Output>,
    ) {
        let Some(conn) = self.front.conn_of(session) else {
            return;
        };
        if !self.front.is_pending(conn) {
            return;
        }
        if valid {
            for (xid, op, req) in self.front.establish(conn, &self.config.auth, out) {
                self.request(now, conn, xid, op, req, out);
            }
        } else {
            self.front.refuse(conn, out);
        }
    }

    /// A request a learner forwarded: exactly one txn comes of every forwarded write (an
    /// error txn if it fails), with the client's session and xid, so that the learner can
    /// match it (spec 09 §12 item 23).
    pub(super) fn learner_request(
        &mut self,
        now: Now,
        from: ServerId,
        p: QuorumPacket,
        out: &mut Vec<Output>,
    ) {
        let Ok(fr) = ForwardedRequest::parse(p.payload()) else {
            tracing::warn!(learner = %from, "malformed REQUEST ignored");
            return;
        };
        let ids = p.authinfo.unwrap_or_default();
        let who = Requester {
            session: fr.session,
            cxid: fr.cxid,
            ids: &ids,
        };
        let decoded = || {
            OpCode::from_code(fr.op)
                .ok_or(BadRequest::UnknownOp)
                .and_then(|op| decode_forwarded(op, &fr.body))
        };
        let session_check = match OpCode::from_code(fr.op) {
            Some(OpCode::CreateSession | OpCode::CloseSession | OpCode::Sync) => Ok(()),
            _ => {
                let ephemeral = decoded().is_ok_and(|r| creates_ephemeral(&r));
                self.check_session(fr.session, from, ephemeral)
            }
        };
        let tree = self.replica.tree();
        let txn = match OpCode::from_code(fr.op) {
            Some(OpCode::CreateSession) => {
                let timeout = parse_int(&fr.body).unwrap_or(self.config.min_session_timeout_ms);
                let txn = self
                    .proposer
                    .propose_create_session(tree, now, fr.session, timeout);
                self.proposer.sessions_mut().set_owner(fr.session, from);
                txn
            }
            Some(OpCode::CloseSession) => {
                self.proposer.sessions_mut().set_closing(fr.session);
                self.proposer
                    .propose_close_session(tree, &self.config, now, fr.session, fr.cxid)
            }
            Some(OpCode::Sync) => {
                let mut acts = Actions::new();
                if let (Role::Leading(l), Some(zab)) = (&mut self.role, &self.zab) {
                    l.sync(from, &zab.config, &mut acts);
                }
                self.exec(now, acts, out);
                return;
            }
            _ => {
                let req = decoded();
                if let (Ok(()), Ok(Request::Reconfig(r))) = (&session_check, &req) {
                    self.submit_reconfig(now, who, r, out);
                    return;
                }
                match session_check {
                    Err(e) => self.proposer.propose_error(tree, now, who, e),
                    Ok(()) => {
                        let req = req.as_ref().map_err(|e| *e);
                        self.proposer
                            .propose_request(tree, &self.config, now, who, req)
                    }
                }
            }
        };
        self.propose(now, txn, out);
    }

    /// During a rollover epoch change, a closing session's revalidation waits for the
    /// change (its closeSession is queued, not yet proposed): true if held.
    fn hold_revalidation(
        &mut self,
        from: Option<ServerId>,
        session: SessionId,
        timeout: i32,
    ) -> bool {
        let changing = matches!(&self.role, Role::Leading(l) if l.changing_epoch());
        let closing = self
            .proposer
            .sessions()
            .get(session)
            .is_some_and(|s| s.closing);
        match &mut self.zab {
            Some(zab) if changing && closing => {
                zab.held_revalidations.push((from, session, timeout));
                true
            }
            _ => false,
        }
    }

    /// Answers the revalidations held during a rollover epoch change.
    pub(super) fn release_revalidations(&mut self, now: Now, out: &mut Vec<Output>) {
        let held = match &mut self.zab {
            Some(zab) => std::mem::take(&mut zab.held_revalidations),
            None => return,
        };
        for (from, session, timeout) in held {
            match from {
                Some(learner) => {
                    let data = encode_revalidate(session, timeout);
                    self.learner_revalidate(now, learner, &data, out);
                }
                None => {
                    if let Some(valid) = self.revalidate(now, session, timeout, out) {
                        self.revalidated(now, session, valid, out);
                    }
                }
            }
        }
    }

    /// A learner revalidates a session its client resumed there: valid if the session
    /// lives; the learner becomes its owner.
    pub(super) fn learner_revalidate(
        &mut self,
        now: Now,
        from: ServerId,
        data: &[u8],
        out: &mut Vec<Output>,
    ) {
        let Ok((session, timeout)) = parse_revalidate(data) else {
            tracing::warn!(learner = %from, "malformed REVALIDATE ignored");
            return;
        };
        if self.hold_revalidation(Some(from), session, timeout) {
            return;
        }
        let sessions = self.proposer.sessions_mut();
        let valid = sessions.touch(session, now.mono_ms);
        if valid {
            sessions.set_timeout(session, timeout, now.mono_ms);
            sessions.set_owner(session, from);
        }
        let data = encode_revalidate_reply(session, valid);
        let packet = QuorumPacket::with_data(PacketType::Revalidate, Zxid::NONE, data);
        out.push(Output::Send { to: from, packet });
    }
}

/// A forwarded request's body as the client sent it.
fn decode_forwarded(op: OpCode, body: &[u8]) -> Result<Request, BadRequest> {
    match Request::decode(op, &mut Reader::new(body)) {
        Ok(Some(r)) => Ok(r),
        Ok(None) => Err(BadRequest::UnknownOp),
        Err(_) => Err(BadRequest::Malformed),
    }
}
