//! [`Proposer`]: what only the server that orders writes does (a standalone server, or an
//! ensemble's leader; ZooKeeper: `PrepRequestProcessor` and the leader's `SessionTracker`):
//! turning write requests into txns against the pending state, assigning zxids without gaps,
//! expiring sessions and reaping containers and TTL nodes.
//!
//! It knows nothing of connections or of how a txn gets committed: it returns
//! [`LoggedTxn`]s and is told when they have been applied.

use menagerie_proto::records::{Id, PathRequest};
use menagerie_proto::request::Request;
use menagerie_proto::txn::{CreateSessionTxn, ErrorTxn, LoggedTxn, TxnBody, TxnDigest};
use menagerie_proto::{ErrorCode, SessionId, Zxid, digest::DIGEST_VERSION};

use crate::config::CoreConfig;
use crate::input::{BadRequest, Now};
use crate::pending::Pending;
use crate::prep::PrepContext;
use crate::reaper;
use crate::session::SessionTracker;
use crate::tree::DataTree;

/// The write-ordering state.
#[derive(Debug)]
pub struct Proposer {
    pending: Pending,
    /// The last zxid assigned.
    last_zxid: Zxid,
    sessions: SessionTracker,
    /// Monotonic time of the next container/TTL check.
    next_reap_ms: u64,
    /// `zookeeper.digest.enabled`: txns carry the predicted tree digest.
    digest_enabled: bool,
}

/// Who asks for a write: its session, the request's xid, and the identities its ACL checks
/// use.
#[derive(Debug, Clone, Copy)]
pub struct Requester<'a> {
    /// The session (0 for server-internal writes).
    pub session: SessionId,
    /// The request's xid, copied into the txn header (replies are matched by it).
    pub cxid: i32,
    /// The connection's identities.
    pub ids: &'a [Id],
}

impl Proposer {
    /// A proposer whose next zxid follows `last_zxid`.
    pub fn new(config: &CoreConfig, now: Now, last_zxid: Zxid) -> Proposer {
        Proposer {
            pending: Pending::default(),
            last_zxid,
            sessions: SessionTracker::new(config.tick_ms),
            // The first check runs one interval after start, as ZooKeeper's timer does.
            next_reap_ms: now.mono_ms + config.reaper.check_interval_ms.max(1),
            digest_enabled: config.digest_enabled,
        }
    }

    /// The last zxid assigned.
    pub fn last_zxid(&self) -> Zxid {
        self.last_zxid
    }

    /// Restarts numbering after `zxid` (recovery).
    pub fn restore_zxid(&mut self, zxid: Zxid) {
        self.last_zxid = self.last_zxid.max(zxid);
    }

    /// The live sessions.
    pub fn sessions(&self) -> &SessionTracker {
        &self.sessions
    }

    /// The live sessions, to change.
    pub fn sessions_mut(&mut self) -> &mut SessionTracker {
        &mut self.sessions
    }

    /// Whether nothing proposed is still unapplied.
    pub fn pending_is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// The txn for a client's write (or its failure: an `ErrorTxn` still consumes a zxid).
    pub fn propose_request(
        &mut self,
        tree: &DataTree,
        config: &CoreConfig,
        now: Now,
        who: Requester<'_>,
        req: Result<&Request, BadRequest>,
    ) -> LoggedTxn {
        let zxid = self.last_zxid.next();
        let body = match req {
            Ok(req) => self
                .context(tree, config, now, who, zxid)
                .prep(req)
                .unwrap_or_else(error_body),
            Err(_) => error_body(ErrorCode::MarshallingError),
        };
        self.seal(tree, now, who, body)
    }

    /// The txn of a body prepped outside [`Prep`](crate::prep) (a reconfiguration, which
    /// needs the ensemble's state): sealed with the next zxid.
    pub fn propose_body(
        &mut self,
        tree: &DataTree,
        now: Now,
        who: Requester<'_>,
        body: TxnBody,
    ) -> LoggedTxn {
        self.seal(tree, now, who, body)
    }

    /// An error txn for a write refused before prep (an expired or moved session): it still
    /// consumes a zxid and carries the request's session and xid.
    pub fn propose_error(
        &mut self,
        tree: &DataTree,
        now: Now,
        who: Requester<'_>,
        err: ErrorCode,
    ) -> LoggedTxn {
        self.seal(tree, now, who, error_body(err))
    }

    /// The txn for a new session (tracked from now on, as ZooKeeper's leader tracks it at
    /// prep time).
    pub fn propose_create_session(
        &mut self,
        tree: &DataTree,
        now: Now,
        session: SessionId,
        timeout: i32,
    ) -> LoggedTxn {
        self.sessions.add(session, timeout, now.mono_ms);
        let who = Requester {
            session,
            cxid: 0,
            ids: &[],
        };
        let body = TxnBody::CreateSession(CreateSessionTxn { timeout });
        self.seal(tree, now, who, body)
    }

    /// The closeSession txn of `session` (a client's request with `cxid`, or expiry with 0):
    /// its ephemerals as the pending state has them.
    pub fn propose_close_session(
        &mut self,
        tree: &DataTree,
        config: &CoreConfig,
        now: Now,
        session: SessionId,
        cxid: i32,
    ) -> LoggedTxn {
        let who = Requester {
            session,
            cxid,
            ids: &[],
        };
        let zxid = self.last_zxid.next();
        let body = self.context(tree, config, now, who, zxid).close_session();
        self.seal(tree, now, who, body)
    }

    /// closeSession txns for the sessions whose time is up.
    pub fn expire(&mut self, tree: &DataTree, config: &CoreConfig, now: Now) -> Vec<LoggedTxn> {
        let expired = self.sessions.expire(now.mono_ms);
        expired
            .into_iter()
            .map(|session| {
                tracing::info!(session = %session, "session expired");
                self.propose_close_session(tree, config, now, session, 0)
            })
            .collect()
    }

    /// deleteContainer txns for the containers and TTL nodes due, when a check is due
    /// (ZooKeeper: `ContainerManager.checkContainers`, through the normal write path with
    /// session 0).
    pub fn reap(&mut self, tree: &DataTree, config: &CoreConfig, now: Now) -> Vec<LoggedTxn> {
        if now.mono_ms < self.next_reap_ms {
            return Vec::new();
        }
        self.next_reap_ms = now.mono_ms + config.reaper.check_interval_ms.max(1);
        let who = Requester {
            session: SessionId::NONE,
            cxid: 0,
            ids: &[],
        };
        reaper::candidates(tree, now.wall_ms, &config.reaper)
            .into_iter()
            .map(|path| {
                let req = Request::DeleteContainer(PathRequest { path });
                self.propose_request(tree, config, now, who, Ok(&req))
            })
            .collect()
    }

    /// When a timer of the proposer is due next.
    pub fn next_deadline(&self) -> u64 {
        self.sessions
            .next_expiry()
            .map_or(self.next_reap_ms, |e| e.min(self.next_reap_ms))
    }

    /// A txn it proposed was applied: its pending changes are now in the tree.
    pub fn applied(&mut self, txn: &LoggedTxn) {
        self.pending.applied(txn.zxid());
        if let TxnBody::CloseSession(_) = txn.body {
            self.sessions.remove(txn.session());
        }
    }

    fn context<'a>(
        &'a mut self,
        tree: &'a DataTree,
        config: &CoreConfig,
        now: Now,
        who: Requester<'a>,
        zxid: Zxid,
    ) -> PrepContext<'a> {
        PrepContext {
            tree,
            pending: &mut self.pending,
            zxid,
            time: now.wall_ms,
            session: who.session,
            ids: who.ids,
            extended_types: config.extended_types,
            skip_acl: config.auth.skip_acl,
            enforce_quota: config.enforce_quota,
        }
    }

    /// Assigns the next zxid and the predicted tree digest.
    fn seal(&mut self, tree: &DataTree, now: Now, who: Requester<'_>, body: TxnBody) -> LoggedTxn {
        self.last_zxid = self.last_zxid.next();
        // The tree digest once this txn is applied, as prep predicted it; failed writes
        // carry none (ZooKeeper: PrepRequestProcessor.setTxnDigest).
        let digest =
            (self.digest_enabled && !matches!(body, TxnBody::Error(_))).then(|| TxnDigest {
                version: DIGEST_VERSION,
                tree_digest: self.pending.tree_digest(tree) as i64,
            });
        LoggedTxn::new(
            who.session,
            who.cxid,
            self.last_zxid,
            now.wall_ms,
            body,
            digest,
        )
    }
}

fn error_body(e: ErrorCode) -> TxnBody {
    TxnBody::Error(ErrorTxn { err: e.code() })
}
