//! Local sessions (`localSessionsEnabled`, `localSessionsUpgradingEnabled`; ZooKeeper's
//! `LocalSessionTracker` and `UpgradeableSessionTracker`): on an ensemble member, a new
//! session lives on that member only. No txn creates or closes it, so opening and closing
//! one costs no quorum round; the member expires it itself. It cannot own ephemeral nodes:
//! with upgrading enabled its first ephemeral create first makes it global (a createSession
//! txn), otherwise that create fails with `EphemeralOnLocalSession`. A local session cannot
//! move to another member (the leader does not know it: the client sees it expired).

use std::collections::BTreeMap;

use menagerie_proto::request::Request;
use menagerie_proto::response::Response;
use menagerie_proto::{ErrorCode, SessionId};

use super::Node;
use crate::input::{ConnId, Now};
use crate::output::Output;

/// The local sessions of a member: each one's timeout and when it expires (monotonic ms).
#[derive(Debug, Default, Clone)]
pub struct LocalSessions {
    sessions: BTreeMap<SessionId, (i32, u64)>,
}

impl LocalSessions {
    /// How many there are.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }
}

/// What a request of a local session needs before it runs.
pub(super) enum Upgrade {
    /// Nothing: run it.
    No,
    /// The session became global; run it after the createSession.
    Upgraded,
    /// Refused with `EphemeralOnLocalSession` (upgrading is disabled).
    Refused,
}

/// Whether `req` creates an ephemeral node (ZooKeeper: `checkUpgradeSession` looks at
/// create, create2 and the creates inside a multi).
pub(super) fn creates_ephemeral(req: &Request) -> bool {
    let ephemeral = |flags: i32| flags == 1 || flags == 3;
    match req {
        Request::Create(r) | Request::Create2(r) => ephemeral(r.flags),
        Request::Multi(ops) => ops.iter().any(|op| match op {
            Request::Create(r) | Request::Create2(r) => ephemeral(r.flags),
            _ => false,
        }),
        _ => false,
    }
}

impl Node {
    /// Whether new sessions on this member are local.
    pub(super) fn local_sessions_enabled(&self) -> bool {
        self.zab.is_some() && self.config.local_sessions
    }

    /// How many local sessions this member holds.
    pub fn local_session_count(&self) -> usize {
        self.local.len()
    }

    /// Opens a local session on `conn`: answered at once, no txn.
    pub(super) fn create_local_session(
        &mut self,
        now: Now,
        conn: ConnId,
        session: SessionId,
        timeout: i32,
        out: &mut Vec<Output>,
    ) {
        let expires = now.mono_ms + timeout.max(0) as u64;
        self.local.sessions.insert(session, (timeout, expires));
        for (xid, op, req) in self.front.establish(conn, &self.config.auth, out) {
            self.request(now, conn, xid, op, req, out);
        }
    }

    /// Records activity of `session` if it is local; false if it is not.
    pub(super) fn touch_local(&mut self, now: Now, session: SessionId) -> bool {
        let Some((timeout, expires)) = self.local.sessions.get_mut(&session) else {
            return false;
        };
        *expires = now.mono_ms + (*timeout).max(0) as u64;
        true
    }

    /// Whether `session` is local to this member.
    pub(super) fn is_local_session(&self, session: SessionId) -> bool {
        self.local.sessions.contains_key(&session)
    }

    /// Before a write of a local session: makes it global if it creates an ephemeral node.
    pub(super) fn upgrade_if_needed(
        &mut self,
        now: Now,
        conn: ConnId,
        session: SessionId,
        req: &Request,
        out: &mut Vec<Output>,
    ) -> Upgrade {
        if !self.is_local_session(session) || !creates_ephemeral(req) {
            return Upgrade::No;
        }
        if !self.config.local_sessions_upgrading {
            return Upgrade::Refused;
        }
        let Some((timeout, _)) = self.local.sessions.remove(&session) else {
            return Upgrade::No;
        };
        tracing::info!(session = %session, "upgrading a local session to a global one");
        self.create_session(now, conn, session, timeout, out);
        Upgrade::Upgraded
    }

    /// Closes a local session: answered at once, no txn.
    pub(super) fn close_local_session(
        &mut self,
        conn: ConnId,
        session: SessionId,
        xid: i32,
        out: &mut Vec<Output>,
    ) {
        self.local.sessions.remove(&session);
        let zxid = self.replica.last_processed_zxid();
        self.front
            .reply(conn, xid, zxid, ErrorCode::Ok, Response::Empty, out);
        self.close(conn, out);
    }

    /// Expires the local sessions whose time has come: their connections are closed.
    pub(super) fn expire_local_sessions(&mut self, now: Now, out: &mut Vec<Output>) {
        let expired: Vec<SessionId> = self
            .local
            .sessions
            .iter()
            .filter(|(_, (_, at))| *at <= now.mono_ms)
            .map(|(s, _)| *s)
            .collect();
        for session in expired {
            tracing::info!(session = %session, "local session expired");
            self.local.sessions.remove(&session);
            if let Some(conn) = self.front.conn_of(session) {
                self.close(conn, out);
            }
        }
    }

    /// The leader's check of the session of a write (ZooKeeper:
    /// `LeaderSessionTracker.checkSession`): its own local sessions pass; with local
    /// sessions enabled, a session the leader does not know that another member created is
    /// taken for that member's local session and passes too — unless the write creates an
    /// `ephemeral` node, which only a global session may own (ZooKeeper's
    /// `checkGlobalSession`): a session closed meanwhile would own it forever.
    pub(super) fn check_session(
        &mut self,
        session: SessionId,
        owner: menagerie_proto::ServerId,
        ephemeral: bool,
    ) -> Result<(), ErrorCode> {
        if self.is_local_session(session) && !ephemeral {
            return Ok(());
        }
        let unknown = self.proposer.sessions_mut().get(session).is_none();
        if unknown
            && !ephemeral
            && self.local_sessions_enabled()
            && session.server_byte() != self.config.server_id.0
        {
            return Ok(());
        }
        self.proposer.sessions_mut().check_owner(session, owner)
    }

    /// When the next local session expires.
    pub(super) fn local_deadline(&self) -> Option<u64> {
        self.local.sessions.values().map(|(_, at)| *at).min()
    }
}
