//! Read-only mode (`readonlymode.enabled`; ZooKeeper's `ReadOnlyZooKeeperServer`): an
//! ensemble member that has been electing for a while without forming a quorum serves reads
//! to clients that asked for read-only sessions, from the state it has, until it joins a
//! quorum again.
//!
//! * It starts `max(2000 ms, tickTime)` after the member began looking, as ZooKeeper's.
//! * Only clients whose handshake carries `readOnly=true` are accepted; others are closed.
//!   Their handshake answer says `readOnly=true`.
//! * A new session is local to this member (no txn, nothing replicated): it lives as long
//!   as its connection. A session the member's state knows (a global one) may resume here.
//! * Writes, `sync`, and closing a global session are answered `NotReadOnly`; closing a
//!   local session ends it.
//! * When the member takes a role again, every read-only connection is closed (the clients
//!   reconnect, to a member that serves writes once they find one).

use std::collections::BTreeSet;

use menagerie_proto::records::ConnectRequest;
use menagerie_proto::response::Response;
use menagerie_proto::{ErrorCode, SessionId};

use super::Node;
use super::ensemble::Role;
use crate::input::{ConnId, Now};
use crate::output::Output;

/// How long a member looks before it serves read-only (ZooKeeper: 2 s, or a tick if longer).
pub const READ_ONLY_DELAY_MS: u64 = 2000;

/// The read-only service of a member.
#[derive(Debug, Default, Clone)]
pub struct ReadOnly {
    /// When the member began looking (monotonic ms); `None` while it has a role.
    looking_since: Option<u64>,
    /// Serving read-only clients.
    serving: bool,
    /// Sessions created here while read-only (they die with their connection).
    local: BTreeSet<SessionId>,
    /// The tree holds txns not known to be committed (the role ended with proposals
    /// outstanding, and they were applied as ZooKeeper fast-forwards): read-only service
    /// would show a state that a new leader may truncate, so it does not start until the
    /// member is synced in a role again.
    uncommitted: bool,
}

impl ReadOnly {
    /// Whether read-only clients are being served.
    pub fn is_serving(&self) -> bool {
        self.serving
    }
}

impl Node {
    /// Whether this member serves read-only clients now.
    pub fn serves_read_only(&self) -> bool {
        self.ro.serving
    }

    /// The member began (or went on) looking.
    pub(super) fn ro_looking(&mut self, now: Now) {
        if self.ro.looking_since.is_none() {
            self.ro.looking_since = Some(now.mono_ms);
        }
    }

    /// When read-only service is due to start, if it is enabled and not started.
    pub(super) fn ro_deadline(&self) -> Option<u64> {
        let since = self.ro.looking_since?;
        (self.config.read_only_mode && !self.ro.serving && !self.ro.uncommitted)
            .then(|| since + READ_ONLY_DELAY_MS.max(self.config.tick_ms))
    }

    /// Starts read-only service once the member has looked long enough.
    pub(super) fn ro_tick(&mut self, now: Now) {
        if matches!(self.role, Role::Looking)
            && self.ro_deadline().is_some_and(|at| now.mono_ms >= at)
        {
            tracing::info!("no quorum: serving read-only clients");
            self.ro.serving = true;
        }
    }

    /// The role ended and the tree was fast-forwarded from `committed` (the last zxid known
    /// committed) over txns that may never commit: no read-only service from it.
    pub(super) fn ro_fast_forwarded(&mut self, committed: menagerie_proto::Zxid) {
        if self.replica.last_processed_zxid() > committed {
            tracing::info!(
                %committed,
                "state ahead of what is known committed: no read-only service until synced"
            );
            self.ro.uncommitted = true;
        }
    }

    /// The member serves in a role: its tree is the quorum's, committed up to where it is.
    pub(super) fn ro_synced(&mut self) {
        self.ro.uncommitted = false;
    }

    /// The member takes a role: read-only service ends and its clients are closed.
    pub(super) fn ro_end(&mut self, out: &mut Vec<Output>) {
        self.ro.looking_since = None;
        if !std::mem::take(&mut self.ro.serving) {
            return;
        }
        tracing::info!("leaving read-only mode");
        for conn in self.front.conn_ids() {
            self.close(conn, out);
        }
        self.ro.local.clear();
    }

    /// A handshake while serving read-only.
    pub(super) fn ro_connect(
        &mut self,
        now: Now,
        conn: ConnId,
        peer_ip: String,
        req: ConnectRequest,
        timeout: i32,
        out: &mut Vec<Output>,
    ) {
        if req.read_only != Some(true) {
            tracing::info!(
                conn = conn.0,
                "refusing a client that is not read-only: in read-only mode"
            );
            out.push(Output::Close { conn });
            return;
        }
        let new = req.session_id == 0;
        let session = if new {
            let s = self.front.new_session_id();
            self.ro.local.insert(s);
            s
        } else {
            SessionId(req.session_id)
        };
        if let Some(old) = self.front.conn_of(session)
            && old != conn
        {
            self.close(old, out);
        }
        self.front
            .open(now, conn, peer_ip, session, timeout, req.read_only);
        let known =
            self.ro.local.contains(&session) || self.replica.sessions().contains_key(&session);
        let password_ok =
            new || req.passwd.as_slice() == self.config.auth.session_password(session).as_slice();
        if !known {
            // It may be alive on the quorum's side, which this member cannot ask: no
            // "expired" answer; the client tries another member.
            tracing::info!(session = %session, "unknown session: closing, read-only");
            self.close(conn, out);
            return;
        }
        if !password_ok {
            self.front.refuse(conn, out);
            return;
        }
        for (xid, op, req) in self.front.establish_read_only(conn, &self.config.auth, out) {
            self.request(now, conn, xid, op, req, out);
        }
    }

    /// What a read-only member does with a write, `sync` or `closeSession`: `NotReadOnly`,
    /// except that closing a local session ends it.
    pub(super) fn ro_refuse(
        &mut self,
        now: Now,
        conn: ConnId,
        session: SessionId,
        xid: i32,
        close: bool,
        out: &mut Vec<Output>,
    ) {
        let zxid = self.replica.last_processed_zxid();
        if close && self.ro.local.remove(&session) {
            self.front
                .reply(conn, xid, zxid, ErrorCode::Ok, Response::Empty, out);
            self.close(conn, out);
            return;
        }
        self.front
            .error_in_order(now, conn, xid, zxid, ErrorCode::NotReadOnly, out);
    }

    /// A connection ended: a local session ends with it.
    pub(super) fn ro_forget(&mut self, session: SessionId) {
        self.ro.local.remove(&session);
    }
}
