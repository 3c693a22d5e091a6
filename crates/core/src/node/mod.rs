//! [`Node`]: one server, as a deterministic state machine. It owns the parts (each with its
//! own state) and passes values between them:
//!
//! * [`Front`]: connections, sessions of this server's clients, reply order, auth, reads;
//! * [`Proposer`]: prep, zxid assignment, pending changes, session expiry, reaping;
//! * [`Replica`]: the committed tree, its digest, the global sessions;
//! * the watch registry and [`Notifier`], turning applied changes into events;
//! * [`SnapshotPolicy`]: when to ask the shell for a snapshot.
//!
//! `handle(now, input, &mut outputs)` is the only entry point. A write travels
//! front -> proposer (prep, zxid) -> `Output::Persist` -> `Input::Persisted` -> replica
//! (apply) -> notifier -> front (the reply, matched by session and cxid). Replicated roles
//! put Zab between persist and apply; the front and the replica stay the same.

pub mod ensemble;
pub mod ensemble_view;
mod linearizable;
pub mod local_sessions;
mod owed_snapshot;
pub mod read_only;
mod reconfig;
mod requests;
mod roles;
mod storage;
pub mod views;

use std::collections::VecDeque;
use std::sync::Arc;

use menagerie_proto::response::Response;
use menagerie_proto::txn::{LoggedTxn, TxnBody};
use menagerie_proto::{ErrorCode, OpCode, SessionId, Zxid};

use crate::apply::Outcome;
use crate::config::CoreConfig;
use crate::front::{Answered, Front};
use crate::input::{ConnId, Input, Now, SnapshotEnd};
use crate::notify::Notifier;
use crate::output::{Output, SnapshotMode};
use crate::proposer::Proposer;
use crate::replica::Replica;
use crate::session::SessionIds;
use crate::snapshot_policy::SnapshotPolicy;
use crate::watch::WatchManager;

/// One server.
#[derive(Debug)]
pub struct Node {
    config: CoreConfig,
    front: Front,
    replica: Replica,
    watches: WatchManager,
    proposer: Proposer,
    /// Txns proposed and not yet durable, in zxid order.
    in_flight: VecDeque<Arc<LoggedTxn>>,
    snapshots: SnapshotPolicy,
    /// Storage failed and has not recovered: reads only ([`Input::StorageFailed`]).
    read_only: bool,
    /// The last "refusing a new session" warning (monotonic ms) and how many were left out
    /// since.
    refusals_warned: Option<(u64, u64)>,
    /// The role this node plays.
    role: ensemble::Role,
    /// The ensemble state that outlives roles (`None` for a standalone server).
    zab: Option<ensemble::ZabState>,
    /// Each snapshot asked for and not yet ended, in the order they end.
    snapshots_asked: VecDeque<AskedSnapshot>,
    /// Read-only mode (`readonlymode.enabled`).
    ro: read_only::ReadOnly,
    /// Sessions local to this member (`localSessionsEnabled`).
    local: local_sessions::LocalSessions,
    /// A learner's linearizable-read rounds (`menagerie.linearizableReads`).
    lin: linearizable::LearnerRounds,
}

/// Who asked for a snapshot ([`Output::TakeSnapshot`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SnapshotFor {
    /// The snapshot policy (`snapCount`, `snapSizeLimitInKb`).
    Policy,
    /// A learner synced by SNAP, before it acknowledges NEWLEADER.
    Learner,
    /// The tree a leader's snapshot replaced, not yet on disk when the learner role ended
    /// (see `ZabState::snapshot_owed`).
    Owed,
}

/// A snapshot asked for: by whom, and of which tree.
#[derive(Debug, Clone, Copy)]
struct AskedSnapshot {
    asker: SnapshotFor,
    /// `ZabState::tree_generation` when asked: a snapshot of an older generation is of a
    /// tree a SNAP sync or a reload has since replaced.
    generation: u64,
    /// The tree's last applied zxid when asked (the snapshot holds at least that).
    zxid: Zxid,
}

impl Node {
    /// A server with an empty tree. The wall clock in `now` provides the clock bits of session
    /// ids (ZooKeeper uses an arbitrary-origin millisecond clock; the wall clock keeps ids of
    /// successive runs apart).
    pub fn new(config: CoreConfig, now: Now) -> Node {
        let session_ids = SessionIds::new(config.server_id, now.wall_ms as u64);
        let zab = config
            .ensemble
            .clone()
            .map(|e| ensemble::ZabState::new(config.server_id, e));
        let role = if zab.is_some() {
            ensemble::Role::Looking
        } else {
            ensemble::Role::Standalone
        };
        let mut replica = Replica::new(config.extended_types, config.seed, config.digest_enabled);
        if let Some(e) = &config.ensemble {
            replica.set_config_node(&e.config_text, now.wall_ms);
        }
        Node {
            role,
            zab,
            snapshots_asked: VecDeque::new(),
            ro: read_only::ReadOnly::default(),
            local: local_sessions::LocalSessions::default(),
            lin: linearizable::LearnerRounds::default(),
            front: Front::new(session_ids),
            replica,
            watches: WatchManager::new(config.seed),
            proposer: Proposer::new(&config, now, Zxid::ZERO),
            in_flight: VecDeque::new(),
            snapshots: SnapshotPolicy::new(config.snap_count, config.seed),
            read_only: false,
            refusals_warned: None,
            config,
        }
    }

    /// The earliest time at which `Input::Tick` has work to do.
    pub fn next_deadline(&self) -> Option<u64> {
        if !self.read_only && self.snapshots.is_due() {
            return Some(0);
        }
        let role = [
            self.zab_deadline(),
            self.ro_deadline(),
            self.local_deadline(),
        ]
        .into_iter()
        .flatten()
        .min();
        let proposer = match self.role {
            ensemble::Role::Standalone => Some(self.proposer.next_deadline()),
            ensemble::Role::Leading(ref l) if l.is_serving() => Some(self.proposer.next_deadline()),
            _ => None,
        };
        match (role, proposer) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Processes one input, appending the resulting actions to `out`.
    pub fn handle(&mut self, now: Now, input: Input, out: &mut Vec<Output>) {
        let first_new = out.len();
        if matches!(input, Input::Connect { .. } | Input::Request { .. }) {
            self.overdue_role_timers(now, out);
        }
        match input {
            Input::Connect { conn, peer_ip, req } => self.connect(now, conn, peer_ip, req, out),
            Input::Request { conn, xid, op, req } => self.request(now, conn, xid, op, req, out),
            Input::Disconnected { conn } => self.drop_conn(conn),
            Input::Identity { conn, id } => self.front.add_identity(conn, id, &self.config.auth),
            Input::Persisted { up_to } => self.persisted(now, up_to, out),
            Input::SnapshotEnded(end) => self.snapshot_ended(now, end, out),
            Input::Tick => self.tick(now, out),
            Input::StorageFailed => self.storage_failed(now, out),
            Input::StorageRecovered => self.storage_recovered(now, out),
            Input::Vote { from, notification } => self.vote(now, from, notification, out),
            Input::ElectionLink { peer, up } => self.election_link(now, peer, up, out),
            Input::PeerUp { peer } => self.peer_up(now, peer, out),
            Input::PeerDown { peer } => self.peer_down(now, peer, out),
            Input::Peer { from, packet } => self.peer_packet(now, from, packet, out),
            Input::SnapReceived { from, replica } => self.snap_received(now, from, *replica, out),
            Input::Reloaded(replica) => self.reloaded(now, *replica, out),
        }
        self.front.count_sent(&out[first_new..]);
    }

    /// Forgets a connection and its watches (its session lives on until it expires or the
    /// client resumes it).
    fn drop_conn(&mut self, conn: ConnId) {
        let session = self.front.session_of(conn);
        self.front.drop_conn(conn);
        self.watches.remove_conn(conn);
        self.ro_forget(session);
    }

    /// Closes a connection after what was queued for it.
    fn close(&mut self, conn: ConnId, out: &mut Vec<Output>) {
        out.push(Output::Close { conn });
        self.drop_conn(conn);
    }

    fn tick(&mut self, now: Now, out: &mut Vec<Output>) {
        if self.zab.is_some() {
            self.zab_tick(now, out);
            self.ro_tick(now);
            self.expire_local_sessions(now, out);
        }
        // Only the server that orders writes expires sessions and reaps containers.
        let orders = match &self.role {
            ensemble::Role::Standalone => true,
            ensemble::Role::Leading(l) => l.is_serving(),
            _ => false,
        };
        if orders {
            let tree = self.replica.tree();
            let mut txns = self.proposer.reap(tree, &self.config, now);
            txns.extend(self.proposer.expire(tree, &self.config, now));
            for txn in txns {
                self.propose(now, txn, out);
            }
        }
        self.snapshot_if_due(out);
    }

    /// Sends a txn to be made durable; it commits once it is.
    fn log(&mut self, txn: LoggedTxn, out: &mut Vec<Output>) {
        let txn = Arc::new(txn);
        if let Some(last) = self.in_flight.back() {
            assert!(
                txn.zxid() > last.zxid(),
                "txns are proposed in zxid order: {} after {}",
                txn.zxid(),
                last.zxid()
            );
        }
        out.push(Output::Persist(Arc::clone(&txn)));
        self.in_flight.push_back(txn);
        if !self.read_only
            && let Some(mode) = self.snapshots.logged(1)
        {
            self.ask_snapshot(SnapshotFor::Policy, mode, out);
        }
    }

    fn snapshot_if_due(&mut self, out: &mut Vec<Output>) {
        if !self.read_only
            && let Some(mode) = self.snapshots.due()
        {
            self.ask_snapshot(SnapshotFor::Policy, mode, out);
        }
    }

    /// Asks the shell for a snapshot; `Input::SnapshotEnded` reports them in this order.
    fn ask_snapshot(&mut self, asker: SnapshotFor, mode: SnapshotMode, out: &mut Vec<Output>) {
        self.snapshots_asked.push_back(AskedSnapshot {
            asker,
            generation: self.tree_generation(),
            zxid: self.replica.last_processed_zxid(),
        });
        out.push(Output::TakeSnapshot(mode));
    }

    fn snapshot_ended(&mut self, now: Now, end: SnapshotEnd, out: &mut Vec<Output>) {
        let asked = self.snapshots_asked.pop_front();
        let of_this_tree = asked.is_some_and(|a| a.generation == self.tree_generation());
        if let (Some(a), SnapshotEnd::Written, true) = (asked, end, of_this_tree) {
            self.tree_written(now, a.zxid, out);
        }
        match asked.map(|a| a.asker) {
            Some(SnapshotFor::Learner) => {
                // The snapshot a learner synced by SNAP needs before it acknowledges NEWLEADER.
                if of_this_tree
                    && end != SnapshotEnd::Written
                    && let ensemble::Role::Learning(_) = self.role
                {
                    self.step_down(now, "the snapshot after a SNAP sync failed", out);
                }
            }
            Some(SnapshotFor::Owed) => {}
            Some(SnapshotFor::Policy) | None => {
                match end {
                    SnapshotEnd::Written => self.snapshots.written(),
                    SnapshotEnd::Abandoned => self.snapshots.abandoned(),
                    SnapshotEnd::Failed => self.snapshots.failed(),
                }
                self.snapshot_if_due(out);
            }
        }
    }

    /// Txns up to `up_to` are durable: a standalone server commits them; a leader counts
    /// its own acks; a follower acknowledges them.
    fn persisted(&mut self, now: Now, up_to: Zxid, out: &mut Vec<Output>) {
        if let Some(zab) = self.zab.as_mut() {
            // Between roles too: the next role starts from what is really durable.
            zab.durable = zab.durable.max(up_to.min(zab.last_logged));
        }
        let mut acts = crate::zab::action::Actions::new();
        match (&mut self.role, &self.zab) {
            // A leader whose tree is not on disk yet is durable only once it is.
            (ensemble::Role::Leading(_), Some(zab)) if zab.snapshot_owed => {}
            (ensemble::Role::Leading(l), Some(zab)) => {
                let ctx = crate::zab::leader::SyncContext {
                    config: &zab.config,
                    committed: &zab.committed,
                    last_committed: self.replica.last_processed_zxid(),
                };
                l.persisted(now.mono_ms, up_to, ctx, &mut acts)
            }
            (ensemble::Role::Learning(l), _) => l.persisted(up_to, &mut acts),
            (ensemble::Role::Standalone, _) => return self.commit_in_flight(now, up_to, out),
            _ => {}
        }
        self.exec(now, acts, out);
    }

    /// A standalone server commits every txn in flight up to `up_to`, in zxid order.
    fn commit_in_flight(&mut self, now: Now, up_to: Zxid, out: &mut Vec<Output>) {
        while self.in_flight.front().is_some_and(|t| t.zxid() <= up_to) {
            if let Some(txn) = self.in_flight.pop_front() {
                self.commit(now, &txn, out);
            }
        }
        assert!(
            !self.in_flight.is_empty() || self.proposer.pending_is_empty(),
            "pending changes must be empty once every proposed txn is applied"
        );
    }

    /// Applies a committed txn, emits its watch events, then answers whoever waits for it
    /// on this server.
    fn commit(&mut self, now: Now, txn: &LoggedTxn, out: &mut Vec<Output>) {
        let mut changes = Vec::new();
        let outcome = self.replica.apply(txn, &mut changes);
        self.proposer.applied(txn);
        Notifier {
            watches: &mut self.watches,
            front: &self.front,
            skip_acl: self.config.auth.skip_acl,
            zxid: txn.zxid(),
        }
        .notify(&changes, out);
        match &txn.body {
            TxnBody::CreateSession(_) => self.session_created(now, txn.session(), out),
            TxnBody::CloseSession(_) => self.session_closed(now, txn, out),
            _ => self.write_committed(now, txn, outcome, out),
        }
    }

    fn session_created(&mut self, now: Now, session: SessionId, out: &mut Vec<Output>) {
        let Some(conn) = self.front.conn_of(session) else {
            return;
        };
        if self.front.pending_handshake(conn).is_some() {
            for (xid, op, req) in self.front.establish(conn, &self.config.auth, out) {
                self.request(now, conn, xid, op, req, out);
            }
        }
    }

    fn session_closed(&mut self, now: Now, txn: &LoggedTxn, out: &mut Vec<Output>) {
        let session = txn.session();
        if let Some((conn, received_ms)) = self.front.take_write(session, txn.header.cxid) {
            self.answered(
                now,
                conn,
                txn.header.cxid,
                received_ms,
                OpCode::CloseSession,
            );
            let zxid = self.replica.last_processed_zxid();
            self.front.reply(
                conn,
                txn.header.cxid,
                zxid,
                ErrorCode::Ok,
                Response::Empty,
                out,
            );
        }
        if let Some(conn) = self.front.conn_of(session) {
            self.close(conn, out);
        }
    }

    fn write_committed(
        &mut self,
        now: Now,
        txn: &LoggedTxn,
        outcome: Outcome,
        out: &mut Vec<Output>,
    ) {
        // The connection may be gone (closed, or the session moved): like ZooKeeper writing
        // to a closed ServerCnxn, the reply is dropped.
        let Some((conn, received_ms)) = self.front.take_write(txn.session(), txn.header.cxid)
        else {
            return;
        };
        self.answered(now, conn, txn.header.cxid, received_ms, txn.body.op());
        let (err, body) = match (&txn.body, outcome) {
            // ZooKeeper answers a reconfig with the new configuration and the node's stat.
            (TxnBody::Reconfig(r), crate::apply::Outcome::Stat(stat)) => (
                ErrorCode::Ok,
                menagerie_proto::response::Response::GetData {
                    data: r.data.clone(),
                    stat,
                },
            ),
            (_, outcome) => requests::write_response(outcome),
        };
        let zxid = self.replica.last_processed_zxid();
        self.front
            .reply(conn, txn.header.cxid, zxid, err, body, out);
        if err == ErrorCode::SessionMoved {
            // ZooKeeper's learner closes a client whose session moved to another member.
            self.close(conn, out);
            return;
        }
        self.drain(now, conn, out);
    }

    /// Records the statistics of a write answered now.
    fn answered(&mut self, now: Now, conn: ConnId, xid: i32, received_ms: u64, op: OpCode) {
        let answered = Answered {
            op,
            xid,
            latency_ms: now.mono_ms.saturating_sub(received_ms),
            write: true,
            zxid: self.replica.last_processed_zxid(),
        };
        self.front.record(now, conn, answered);
    }
}
