//! Checks of what clients see. Checks that need the committed tree at some zxid wait until
//! the chain has grown that far (they are "deferred"); whatever still waits when the run
//! ends concerns a state that was never committed.

use std::collections::BTreeMap;

use menagerie_proto::records::WatcherEvent;
use menagerie_proto::response::Response;
use menagerie_proto::txn::LoggedTxn;
use menagerie_proto::{ErrorCode, Zxid};

use super::Checker;
use super::model::Change;
use crate::workload::{Mode, Op};

/// What the checker notes when a request is sent.
#[derive(Debug, Clone, Copy)]
pub struct InvokeCtx {
    /// The highest zxid of a write acknowledged (to anyone) before this request was sent.
    pub floor: Zxid,
    /// When it was sent.
    pub at: u64,
    /// The newest state (resolved zxid) a completed read of a read-write connection had
    /// shown before this request was sent: with linearizable reads, no later read may show
    /// an older one.
    pub read_floor: Zxid,
    /// Sent on a connection the member answered as read-only.
    pub read_only: bool,
}

/// A reply as a client received it.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The client.
    pub client: usize,
    /// Its session.
    pub session: i64,
    /// The connection (link) it came on.
    pub link: u64,
    /// Request xid.
    pub xid: i32,
    /// Header zxid.
    pub zxid: Zxid,
    /// Header error code.
    pub err: i32,
    /// Body.
    pub body: Response,
    /// The connection's handshake was answered read-only.
    pub read_only: bool,
    /// Answered read-only by a member that has not served in a role since it restarted:
    /// its tree is its own log's, which may end with txns that never commit.
    pub from_own_log: bool,
}

/// A check waiting for the chain to reach a zxid.
#[derive(Debug, Clone)]
enum Deferred {
    /// A reply (write or read) to compare with the model; `floor`: the oldest state a
    /// linearizable read may show.
    Reply {
        at: u64,
        op: Op,
        reply: Reply,
        floor: Option<Zxid>,
    },
    /// A watch that fired with event `kind` at `zxid`: it must be the first change after it
    /// was set.
    Fired {
        at: u64,
        client: usize,
        path: String,
        child: bool,
        set: Zxid,
        kind: i32,
        zxid: Zxid,
    },
    /// A watch still unfired when a reply at `zxid` arrived: no change may lie in between.
    Unfired {
        at: u64,
        client: usize,
        path: String,
        child: bool,
        set: Zxid,
        zxid: Zxid,
    },
}

/// What the client checks remember.
#[derive(Debug, Default)]
pub struct ClientState {
    /// The highest zxid of a write acknowledged so far.
    pub max_acked: Zxid,
    /// The highest zxid each session has seen in a reply or a ping.
    session_max: BTreeMap<i64, Zxid>,
    /// The highest zxid of a watch event on each connection.
    event_max: BTreeMap<u64, Zxid>,
    /// Watches set on each connection: (path, child watch) -> zxid set at.
    watches: BTreeMap<u64, BTreeMap<(String, bool), Zxid>>,
    /// Deferred checks by the zxid they wait for.
    deferred: BTreeMap<Zxid, Vec<Deferred>>,
    /// The newest state a completed read of a read-write connection showed.
    max_read: Zxid,
    /// Writes sent on read-only connections: (session, xid). None may ever be committed.
    ro_writes: std::collections::BTreeSet<(i64, i32)>,
    /// Sessions whose client was told they ended (closed or expired), and when.
    pub ended: BTreeMap<i64, u64>,
}

impl Checker {
    /// Request `xid` of `session` is sent (`read_only`: on a connection answered
    /// read-only).
    pub fn invoke(
        &mut self,
        at: u64,
        (session, xid): (i64, i32),
        op: &Op,
        read_only: bool,
    ) -> InvokeCtx {
        if read_only && op.is_write() && !matches!(op, Op::CloseSession) {
            self.clients.ro_writes.insert((session, xid));
        }
        InvokeCtx {
            floor: self.clients.max_acked,
            at,
            read_floor: self.clients.max_read,
            read_only,
        }
    }

    /// A session saw `zxid` (a reply, a ping).
    pub fn seen_zxid(&mut self, at: u64, client: usize, session: i64, zxid: Zxid, what: &str) {
        if session == 0 || zxid.0 < 0 {
            return;
        }
        let max = self
            .clients
            .session_max
            .entry(session)
            .or_insert(Zxid::ZERO);
        if zxid < *max {
            let detail = format!(
                "c{client} (session {session:#x}) saw zxid {zxid} in a {what} after having seen {max}"
            );
            self.fail(
                at,
                "SessionZxidMonotonic",
                detail,
                vec![format!("c{client}")],
            );
            return;
        }
        *max = zxid;
    }

    /// A client's connection closed: its watches are gone.
    pub fn conn_closed(&mut self, link: u64) {
        self.clients.watches.remove(&link);
        self.clients.event_max.remove(&link);
    }

    /// A watch event at `zxid` on `link`: never older than what the session saw, and no
    /// later reply on that connection is older. It does not count as seen across a
    /// reconnection: ZooKeeper's Java client does not report a notification's zxid as
    /// `lastZxidSeen`, so no member can hold a session to it (seeds 613, 1863).
    fn event_zxid(&mut self, at: u64, (client, session, link): (usize, i64, u64), zxid: Zxid) {
        if session == 0 || zxid.0 < 0 {
            return;
        }
        let max = self.clients.session_max.get(&session).copied();
        if let Some(max) = max.filter(|m| zxid < *m) {
            let detail = format!(
                "c{client} (session {session:#x}) saw zxid {zxid} in a watch event after having seen {max}"
            );
            return self.fail(
                at,
                "SessionZxidMonotonic",
                detail,
                vec![format!("c{client}")],
            );
        }
        let e = self.clients.event_max.entry(link).or_insert(zxid);
        *e = (*e).max(zxid);
    }

    /// A client was told its session expired.
    pub fn expired_told(
        &mut self,
        at: u64,
        client: usize,
        session: i64,
        member: menagerie_proto::ServerId,
    ) {
        self.coverage.expiries += 1;
        self.clients.ended.insert(session, at);
        if self.zab.closes_proposed.contains(&session) {
            return;
        }
        // A local session (local sessions, or one opened on a read-only member) is known to
        // its member only: elsewhere it is unknown, hence expired, and no txn closes it.
        let local = self.features.local_sessions || self.features.read_only;
        if local && !self.model.session_known(session) {
            self.coverage.local_ends += 1;
            return;
        }
        let detail = format!(
            "c{client} was told by m{member} that session {session:#x} expired, but no leader proposed to close it"
        );
        self.fail(
            at,
            "ExpiryByLeader",
            detail,
            vec![format!("c{client}"), format!("{session:#x}")],
        );
    }

    /// A reply to `op`.
    pub fn reply(&mut self, at: u64, op: &Op, ctx: &InvokeCtx, reply: Reply) {
        let focus = vec![format!("c{}", reply.client)];
        self.seen_zxid(at, reply.client, reply.session, reply.zxid, "reply");
        if let Some(e) = self.clients.event_max.get(&reply.link).copied()
            && reply.zxid < e
            && reply.zxid.0 >= 0
        {
            let detail = format!(
                "c{} got a reply at {} after a watch event at {e} on the same connection",
                reply.client, reply.zxid
            );
            return self.fail(at, "SessionZxidMonotonic", detail, focus);
        }
        self.pending_watches(at, &reply);
        match op {
            Op::Sync if reply.err == 0 && reply.zxid < ctx.floor => {
                let detail = format!(
                    "c{} synced at {} but a write at {} was acknowledged before the sync was sent",
                    reply.client, reply.zxid, ctx.floor
                );
                self.fail(at, "SyncSeesAcknowledged", detail, focus);
            }
            Op::Sync => self.coverage.syncs += 1,
            op if op.is_write() && reply.read_only => self.read_only_write(at, op, reply),
            op if op.is_write() => self.write_replied(at, op, ctx, reply),
            op => {
                self.set_watch(op, &reply);
                let answered = reply.err == 0 || reply.err == ErrorCode::NoNode.code();
                let floor = (self.features.linearizable && answered && !reply.read_only)
                    .then(|| ctx.floor.max(ctx.read_floor));
                if answered
                    && !reply.read_only
                    && let Some(z) = self.chain.resolve(reply.zxid)
                {
                    self.clients.max_read = self.clients.max_read.max(z);
                }
                self.defer(
                    reply.zxid,
                    Deferred::Reply {
                        at,
                        op: op.clone(),
                        reply,
                        floor,
                    },
                );
            }
        }
    }

    /// A session no leader was asked to create was closed: only a local session may be.
    fn local_close(&mut self, at: u64, reply: Reply) {
        if self.features.local_sessions || self.features.read_only {
            self.coverage.local_ends += 1;
            return;
        }
        let detail = format!(
            "c{} closed session {:#x} at {}, but no leader proposed to create it",
            reply.client, reply.session, reply.zxid
        );
        self.fail(
            at,
            "AckedWriteProposed",
            detail,
            vec![format!("c{}", reply.client)],
        );
    }

    /// A write answered on a read-only connection: refused with `NotReadOnly` (closing a
    /// session local to the read-only member ends it).
    fn read_only_write(&mut self, at: u64, op: &Op, reply: Reply) {
        if reply.err == ErrorCode::NotReadOnly.code() {
            self.coverage.ro_refused += 1;
            return;
        }
        if matches!(op, Op::CloseSession) && reply.err == 0 {
            self.clients.ended.insert(reply.session, at);
            if self.model.session_known(reply.session) {
                let detail = format!(
                    "c{} closed global session {:#x} on a read-only member",
                    reply.client, reply.session
                );
                self.fail(
                    at,
                    "ReadOnlyRefusesWrites",
                    detail,
                    vec![format!("c{}", reply.client)],
                );
            }
            self.coverage.local_ends += 1;
            return;
        }
        if reply.err == 0 {
            let detail = format!(
                "c{} {} was acknowledged at {} on a read-only connection",
                reply.client,
                op.describe(),
                reply.zxid
            );
            self.fail(
                at,
                "ReadOnlyRefusesWrites",
                detail,
                vec![format!("c{}", reply.client)],
            );
        }
    }

    /// A txn was committed: it must not be a write sent on a read-only connection.
    pub(super) fn check_not_read_only_write(&mut self, at: u64, txn: &LoggedTxn) {
        let key = (txn.header.client_id.0, txn.header.cxid);
        if self.clients.ro_writes.contains(&key) {
            let detail = format!(
                "{} committed at {}: a write sent on a read-only connection",
                super::zab::describe_txn(txn),
                txn.zxid()
            );
            self.fail(
                at,
                "ReadOnlyWriteApplied",
                detail,
                vec![format!("{}", txn.zxid())],
            );
        }
    }

    /// At the end: the sessions clients were told ended own no ephemeral.
    pub(super) fn check_ended_sessions(&mut self, at: u64) {
        let ended: Vec<(i64, u64)> = self.clients.ended.iter().map(|(s, t)| (*s, *t)).collect();
        for (session, told) in ended {
            let left = self.model.ephemerals_of(session);
            if !left.is_empty() {
                let detail = format!(
                    "session {session:#x} ended (its client was told at {}.{:03}s), yet at the end it still owns {left:?}",
                    told / 1000,
                    told % 1000
                );
                return self.fail(at, "EphemeralOutlivesSession", detail, left);
            }
        }
    }

    fn write_replied(&mut self, at: u64, op: &Op, ctx: &InvokeCtx, reply: Reply) {
        let focus = vec![format!("c{}", reply.client), format!("{}", reply.zxid)];
        if matches!(op, Op::CloseSession) && reply.err == 0 {
            self.clients.ended.insert(reply.session, at);
            if !self.zab.creates_proposed.contains(&reply.session) {
                // A local session: its member ends it, no txn.
                return self.local_close(at, reply);
            }
        }
        if self.features.local_sessions
            && reply.err == 0
            && matches!(
                op,
                Op::Create {
                    mode: Mode::Ephemeral,
                    ..
                }
            )
        {
            self.coverage.local_ephemerals += 1;
        }
        let z = reply.zxid;
        let txn = self.chain.proposal(z).cloned();
        let ours = txn
            .as_ref()
            .is_some_and(|t| t.header.client_id.0 == reply.session && t.header.cxid == reply.xid);
        if reply.err != 0 {
            // An error from a txn is checked against the model; a local one is not.
            if ours && txn.as_ref().is_some_and(|t| t.body.is_error()) {
                self.defer(
                    z,
                    Deferred::Reply {
                        at,
                        op: op.clone(),
                        reply,
                        floor: None,
                    },
                );
            }
            return;
        }
        if !ours {
            let detail = format!(
                "c{} was acknowledged xid {} at zxid {z}, but the txn proposed there is {}",
                reply.client,
                reply.xid,
                txn.map_or("none".to_string(), |t| super::zab::describe_txn(&t))
            );
            return self.fail(at, "AckedWriteProposed", detail, focus);
        }
        if z <= ctx.floor {
            let detail = format!(
                "c{} write at zxid {z} was sent after a write at {} had been acknowledged",
                reply.client, ctx.floor
            );
            return self.fail(at, "WritesLinearizable", detail, focus);
        }
        self.clients.max_acked = self.clients.max_acked.max(z);
        self.defer(
            z,
            Deferred::Reply {
                at,
                op: op.clone(),
                reply,
                floor: None,
            },
        );
    }

    /// A watch event.
    pub fn event(
        &mut self,
        at: u64,
        client: usize,
        session: i64,
        link: u64,
        zxid: Zxid,
        e: &WatcherEvent,
    ) {
        if zxid.0 < 0 {
            return;
        }
        self.event_zxid(at, (client, session, link), zxid);
        let kinds: &[bool] = match e.event_type {
            1 | 3 => &[false],
            2 => &[false, true],
            4 => &[true],
            _ => &[],
        };
        let set = self.clients.watches.entry(link).or_default();
        let mut fired = Vec::new();
        for &child in kinds {
            if let Some(z) = set.remove(&(e.path.clone(), child)) {
                fired.push((child, z));
            }
        }
        if fired.is_empty() {
            let detail = format!(
                "c{client} got event {} for {} at {zxid} without a watch set (or a second time)",
                e.event_type, e.path
            );
            return self.fail(
                at,
                "WatchOnce",
                detail,
                vec![format!("c{client}"), e.path.clone()],
            );
        }
        for (child, set) in fired {
            let d = Deferred::Fired {
                at,
                client,
                path: e.path.clone(),
                child,
                set,
                kind: e.event_type,
                zxid,
            };
            self.defer(zxid, d);
        }
    }

    fn set_watch(&mut self, op: &Op, reply: &Reply) {
        let (path, child, ok_needed) = match op {
            Op::GetData { path, watch: true } => (path, false, true),
            Op::Exists { path, watch: true } => (path, false, false),
            Op::GetChildren { path, watch: true } => (path, true, true),
            _ => return,
        };
        let ok = reply.err == 0;
        let no_node = reply.err == ErrorCode::NoNode.code();
        if ok || (!ok_needed && no_node) {
            self.clients
                .watches
                .entry(reply.link)
                .or_default()
                .entry((path.clone(), child))
                .or_insert(reply.zxid);
        }
    }

    /// Every watch still set when a reply arrives: no change it watches may lie at or before
    /// the reply's zxid.
    fn pending_watches(&mut self, at: u64, reply: &Reply) {
        let Some(set) = self.clients.watches.get(&reply.link) else {
            return;
        };
        let pending: Vec<Deferred> = set
            .iter()
            .filter(|(_, z)| **z < reply.zxid)
            .map(|((path, child), z)| Deferred::Unfired {
                at,
                client: reply.client,
                path: path.clone(),
                child: *child,
                set: *z,
                zxid: reply.zxid,
            })
            .collect();
        for d in pending {
            self.defer(reply.zxid, d);
        }
    }

    fn defer(&mut self, zxid: Zxid, d: Deferred) {
        self.clients.deferred.entry(zxid).or_default().push(d);
        self.run_deferred(0);
    }

    /// Runs the deferred checks the chain has reached.
    pub(super) fn run_deferred(&mut self, _at: u64) {
        loop {
            let Some((&z, _)) = self.clients.deferred.first_key_value() else {
                return;
            };
            let Some(resolved) = self.chain.resolve(z) else {
                return;
            };
            if resolved > self.chain.tip() {
                return;
            }
            let ds = self.clients.deferred.remove(&z).unwrap_or_default();
            for d in ds {
                self.check_deferred(resolved, d);
            }
        }
    }

    /// At the end: whatever still waits concerns a state the ensemble never committed.
    pub(super) fn flush_deferred(&mut self, at: u64) {
        self.run_deferred(at);
        // Read-only replies beyond the converged state: a state that never committed.
        let mut rest = std::mem::take(&mut self.clients.deferred);
        for (z, ds) in rest.iter_mut() {
            let (ro, others): (Vec<Deferred>, Vec<Deferred>) = std::mem::take(ds)
                .into_iter()
                .partition(|d| matches!(d, Deferred::Reply { reply, .. } if reply.read_only));
            *ds = others;
            for d in ro {
                let Deferred::Reply { op, reply, .. } = d else {
                    continue;
                };
                let detail = format!(
                    "c{} got a read-only reply at zxid {z} ({}), beyond the converged state {}",
                    reply.client,
                    op.describe(),
                    self.chain.tip()
                );
                let focus = vec![format!("c{}", reply.client), format!("{z}")];
                if reply.from_own_log {
                    self.known_issue(at, "ReadOnlyAfterRestart", detail, focus);
                } else {
                    self.fail(at, "ReadOnlyReadCommitted", detail, focus);
                }
            }
        }
        rest.retain(|_, ds| !ds.is_empty());
        self.clients.deferred = rest;
        if let Some((z, ds)) = self.clients.deferred.first_key_value() {
            let detail = format!(
                "{} check(s) wait for zxid {z}, beyond the converged state {}: {:?}",
                ds.len(),
                self.chain.tip(),
                ds.first()
            );
            self.fail(at, "Durability", detail, vec![format!("{z}")]);
        }
    }

    fn check_deferred(&mut self, z: Zxid, d: Deferred) {
        match d {
            Deferred::Reply {
                at,
                op,
                reply,
                floor,
            } => {
                if op.is_write() {
                    self.coverage.writes += 1;
                } else {
                    self.coverage.reads += 1;
                }
                if reply.read_only {
                    self.coverage.ro_reads += 1;
                }
                if let Some(floor) = floor {
                    self.coverage.lin_reads += 1;
                    let floor = self.chain.resolve(floor).unwrap_or(floor);
                    if z < floor {
                        let detail = format!(
                            "c{} {} was answered with the state at {} ({z}), older than {floor}, which a write acknowledged or a read answered before this read was sent had shown",
                            reply.client,
                            op.describe(),
                            reply.zxid
                        );
                        let focus = vec![format!("c{}", reply.client), format!("{floor}")];
                        return self.fail(at, "LinearizableRead", detail, focus);
                    }
                }
                if !self.chain.contains(z) {
                    let detail = format!(
                        "c{} got a reply at zxid {} ({}), which is not in the committed history (committed up to {})",
                        reply.client,
                        reply.zxid,
                        op.describe(),
                        self.chain.tip()
                    );
                    let focus = vec![format!("c{}", reply.client), format!("{}", reply.zxid)];
                    let invariant = if op.is_write() {
                        "Durability"
                    } else if reply.from_own_log {
                        // Known limit (docs/simulation.md): a restarted member cannot tell
                        // which txns at the end of its log were committed.
                        return self.known_issue(at, "ReadOnlyAfterRestart", detail, focus);
                    } else if reply.read_only {
                        "ReadOnlyReadCommitted"
                    } else {
                        "ReadCommitted"
                    };
                    return self.fail(at, invariant, detail, focus);
                }
                if let Err(e) = self.check_reply(z, &op, &reply) {
                    let detail = format!("c{} {} -> {e}", reply.client, op.describe());
                    let invariant = if op.is_write() {
                        "WriteResult"
                    } else {
                        "ReadResult"
                    };
                    self.fail(at, invariant, detail, vec![format!("c{}", reply.client)]);
                }
            }
            Deferred::Fired {
                at,
                client,
                path,
                child,
                set,
                kind,
                zxid,
            } => {
                self.coverage.events += 1;
                let first = self.model.first_change(&path, set, child);
                let expected = first.map(|(z, c)| (z, change_event(c)));
                if expected != Some((zxid, kind)) {
                    let detail = format!(
                        "c{client} got event {kind} for {path} at {zxid} (watch set at {set}); the first change was {first:?}"
                    );
                    self.fail(
                        at,
                        "WatchFiresOnFirstChange",
                        detail,
                        vec![format!("c{client}"), path],
                    );
                }
            }
            Deferred::Unfired {
                at,
                client,
                path,
                child,
                set,
                zxid,
            } => {
                if let Some((zc, c)) = self.model.first_change(&path, set, child)
                    && zc <= z
                {
                    let detail = format!(
                        "c{client} got a reply at {zxid} without the event of {c:?} of {path} at {zc} (watch set at {set})"
                    );
                    self.fail(
                        at,
                        "WatchBeforeRead",
                        detail,
                        vec![format!("c{client}"), path],
                    );
                }
            }
        }
    }
}

/// The event type a change fires.
fn change_event(c: Change) -> i32 {
    match c {
        Change::Created => 1,
        Change::Deleted => 2,
        Change::DataChanged => 3,
        Change::ChildrenChanged => 4,
    }
}
