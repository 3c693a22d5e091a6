//! A node in an ensemble: the role it plays (LOOKING, LEADING, FOLLOWING, OBSERVING), the
//! Zab state that outlives roles (epochs, last logged zxid, recent committed txns, the
//! election), and how the roles' actions are carried out.

use std::sync::Arc;

use menagerie_proto::quorum::{Notification, PacketType, PeerState, QuorumPacket};
use menagerie_proto::txn::LoggedTxn;
use menagerie_proto::{ServerId, Zxid};

use super::{Node, SnapshotFor};
use crate::ensemble::{EnsembleConfig, MemberRole};
use crate::input::Now;
use crate::output::{Output, SnapshotMode};
use crate::proposer::Proposer;
use crate::replica::Replica;
use crate::zab::action::{Action, Actions};
use crate::zab::committed_log::CommittedLog;
use crate::zab::election::{Election, ElectionStep};
use crate::zab::leader::{FromLearner, Leader, SyncContext};
use crate::zab::learner::{Learner, LearnerStart};
use crate::zab::vote::Vote;

/// The role a node plays.
#[derive(Debug)]
pub enum Role {
    /// A standalone server: it commits what it logs.
    Standalone,
    /// Electing.
    Looking,
    /// Leading an ensemble.
    Leading(Box<Leader>),
    /// Following (or, for an observer, observing) a leader.
    Learning(Box<Learner>),
}

/// The ensemble state that outlives roles.
#[derive(Debug)]
pub struct ZabState {
    /// The ensemble.
    pub config: EnsembleConfig,
    /// Fast Leader Election.
    pub election: Election,
    /// `acceptedEpoch`.
    pub accepted_epoch: u32,
    /// `currentEpoch`.
    pub current_epoch: u32,
    /// The last zxid handed to the log.
    pub last_logged: Zxid,
    /// The last zxid the log reported durable (raised by `Input::Persisted` in every role,
    /// lowered by a truncation, set by recovery): a role starts from it, not from
    /// `last_logged`, so that nothing still in flight to the disk counts as durable.
    pub durable: Zxid,
    /// The tree came from a leader's snapshot (SNAP sync) that is not on disk yet: the log
    /// holds nothing of the history below it, so nothing logged after it is durable history
    /// until a snapshot of it is written (a learner's NEWLEADER ack and a leader's epoch
    /// wait for that snapshot).
    pub snapshot_owed: bool,
    /// Raised each time a SNAP sync or a reload replaces the tree (a snapshot asked under
    /// an older generation is not of the current tree).
    pub tree_generation: u64,
    /// Recent committed txns (to sync learners by DIFF).
    pub committed: CommittedLog,
    /// The last role change, for the operations surface: (state, monotonic ms).
    pub since: (PeerState, u64),
    /// Learners this member synced as leader: (by DIFF or TRUNC, by SNAP); ZooKeeper's
    /// `diff_count` and `snap_count`.
    pub syncs_sent: (u64, u64),
    /// Rollover epoch changes this member led (moves to a new epoch without an election),
    /// and the longest that proposals waited for one (ms).
    pub epoch_changes: (u64, u64),
    /// Revalidations of closing sessions held during a rollover epoch change: (the
    /// learner that asked, or `None` for this member's own client; session; timeout).
    pub held_revalidations: Vec<(Option<ServerId>, menagerie_proto::SessionId, i32)>,
}

impl ZabState {
    /// How far the history on disk reaches: `durable`, or nothing while the tree is owed
    /// to the disk (`snapshot_owed`).
    pub fn durable_history(&self) -> Zxid {
        if self.snapshot_owed {
            Zxid::ZERO
        } else {
            self.durable
        }
    }

    /// The newest zxid in the committed log (zero when empty).
    pub fn committed_tail(&self) -> Zxid {
        self.committed.last_zxid().unwrap_or(Zxid::ZERO)
    }

    /// The state of a member `me` of `config`.
    pub fn new(me: ServerId, config: EnsembleConfig) -> ZabState {
        let committed =
            CommittedLog::with_budget(config.commit_log_count.max(500), config.commit_log_bytes);
        ZabState {
            election: Election::new(me),
            config,
            accepted_epoch: 0,
            current_epoch: 0,
            last_logged: Zxid::ZERO,
            durable: Zxid::ZERO,
            snapshot_owed: false,
            tree_generation: 0,
            committed,
            since: (PeerState::Looking, 0),
            syncs_sent: (0, 0),
            epoch_changes: (0, 0),
            held_revalidations: Vec::new(),
        }
    }
}

impl Node {
    /// The ensemble's configuration, on a member of one.
    fn zab(&mut self) -> Option<&mut ZabState> {
        self.zab.as_mut()
    }

    /// Becomes LOOKING and starts a round.
    pub(super) fn start_election(&mut self, now: Now, out: &mut Vec<Output>) {
        if self.zab.is_none() {
            return;
        }
        self.ro_looking(now);
        let Some(zab) = self.zab.as_mut() else {
            return;
        };
        self.role = Role::Looking;
        zab.since = (PeerState::Looking, now.mono_ms);
        if self.read_only {
            // Storage failed: no round until it works again (`Input::StorageRecovered`).
            zab.election.settle(PeerState::Looking);
            return;
        }
        let step = zab
            .election
            .start(now.mono_ms, zab.last_logged, zab.current_epoch, &zab.config);
        self.election_step(now, step, out);
    }

    /// A notification on the election port.
    pub(super) fn vote(
        &mut self,
        now: Now,
        from: ServerId,
        n: Notification,
        out: &mut Vec<Output>,
    ) {
        if self.held_out_of_elections() {
            return;
        }
        self.gossiped_config(now, &n.config, out);
        let Some(zab) = self.zab.as_mut() else {
            return;
        };
        let step = zab.election.receive(now.mono_ms, from, &n, &zab.config);
        self.election_step(now, step, out);
    }

    /// The election connection to `peer` came up or closed.
    pub(super) fn election_link(
        &mut self,
        now: Now,
        peer: ServerId,
        up: bool,
        out: &mut Vec<Output>,
    ) {
        let Some(zab) = self.zab.as_mut() else {
            return;
        };
        let step = zab.election.link(now.mono_ms, peer, up, &zab.config);
        self.election_step(now, step, out);
    }

    fn election_step(&mut self, now: Now, step: ElectionStep, out: &mut Vec<Output>) {
        for (to, notification) in step.sends {
            out.push(Output::SendVote { to, notification });
        }
        if let Some(vote) = step.decided {
            self.take_role(now, vote, out);
        }
    }

    /// Takes the role the election decided.
    fn take_role(&mut self, now: Now, vote: Vote, out: &mut Vec<Output>) {
        let me = self.config.server_id;
        let tick_ms = self.config.tick_ms;
        let last_committed = self.replica.last_processed_zxid();
        self.ro_end(out);
        let Some(zab) = self.zab.as_mut() else {
            return;
        };
        let took_ms = now.mono_ms.saturating_sub(zab.since.1);
        tracing::info!(
            state = vote.state.name(), leader = %vote.leader, took_ms,
            "{} - LEADER ELECTION TOOK - {took_ms} MS", vote.state.name()
        );
        zab.since = (vote.state, now.mono_ms);
        let epochs = (zab.accepted_epoch, zab.current_epoch);
        let mut acts = Actions::new();
        self.role = match vote.state {
            PeerState::Leading => {
                out.push(Output::ListenQuorum(true));
                let ctx = SyncContext {
                    config: &zab.config,
                    committed: &zab.committed,
                    last_committed,
                };
                let mut leader = Leader::new(
                    now.mono_ms,
                    me,
                    epochs,
                    (zab.last_logged, zab.durable_history()),
                    ctx,
                    tick_ms,
                    &mut acts,
                );
                if let Some(seen) = super::reconfig::last_seen_config(&self.replica, &zab.config) {
                    leader.adopt_last_seen(seen);
                }
                Role::Leading(Box::new(leader))
            }
            _ => {
                // A member a reconfiguration removed learns as an observer (it votes nowhere).
                let observer = zab.config.members.get(&me) != Some(&MemberRole::Participant);
                let start = LearnerStart {
                    me,
                    leader: vote.leader,
                    observer,
                    epochs,
                    last_logged: zab.last_logged,
                    durable: zab.durable_history(),
                    snapshot_owed: zab.snapshot_owed,
                };
                let learner = Learner::new(now.mono_ms, start, &zab.config, tick_ms, &mut acts);
                Role::Learning(Box::new(learner))
            }
        };
        self.exec(now, acts, out);
        if matches!(self.role, Role::Leading(_)) {
            self.ask_owed_snapshot(out);
        }
    }

    /// A quorum link came up.
    pub(super) fn peer_up(&mut self, now: Now, peer: ServerId, out: &mut Vec<Output>) {
        let mut acts = Actions::new();
        if let Role::Leading(l) = &mut self.role {
            // A learner that connects again registers again; its old link is gone.
            l.peer_down(peer);
        }
        if let (Role::Learning(l), Some(zab)) = (&mut self.role, &self.zab)
            && l.leader() == peer
        {
            l.connected(now.mono_ms, &zab.config, &mut acts);
        }
        self.exec(now, acts, out);
    }

    /// A quorum link went down (or a dial failed).
    pub(super) fn peer_down(&mut self, now: Now, peer: ServerId, out: &mut Vec<Output>) {
        match &mut self.role {
            Role::Leading(l) => l.peer_down(peer),
            Role::Learning(l) if l.leader() == peer => {
                self.step_down(now, "lost the connection to the leader", out);
            }
            _ => {}
        }
    }

    /// A packet on the quorum port.
    pub(super) fn peer_packet(
        &mut self,
        now: Now,
        from: ServerId,
        p: QuorumPacket,
        out: &mut Vec<Output>,
    ) {
        let mut acts = Actions::new();
        let last_committed = self.replica.last_processed_zxid();
        let mut from_learner = None;
        match (&mut self.role, &self.zab) {
            (Role::Leading(l), Some(zab)) => {
                let ctx = SyncContext {
                    config: &zab.config,
                    committed: &zab.committed,
                    last_committed,
                };
                from_learner = l.packet(now.mono_ms, from, p, ctx, &mut acts);
            }
            (Role::Learning(l), Some(_)) if l.leader() == from => {
                l.packet(now.mono_ms, p, &mut acts);
            }
            _ => acts.push(Action::DropPeer(from)),
        }
        self.exec(now, acts, out);
        if let Some(msg) = from_learner {
            self.learner_message(now, from, msg, out);
        }
    }

    /// Carries out a role's actions, in order.
    pub(super) fn exec(&mut self, now: Now, acts: Actions, out: &mut Vec<Output>) {
        for a in acts {
            let ends_role = matches!(a, Action::StepDown(_));
            self.exec_one(now, a, out);
            if ends_role {
                // What the ended role still asked for is moot.
                return;
            }
        }
    }

    fn exec_one(&mut self, now: Now, a: Action, out: &mut Vec<Output>) {
        match a {
            Action::Send(to, packet) => {
                if matches!(packet.kind(), Some(PacketType::Diff | PacketType::Trunc))
                    && let Some(zab) = self.zab()
                {
                    zab.syncs_sent.0 += 1;
                }
                out.push(Output::Send { to, packet });
            }
            Action::SendSnapshot(to, zxid) => {
                if let Some(zab) = self.zab() {
                    zab.syncs_sent.1 += 1;
                }
                out.push(Output::SendSnapshot { to, zxid });
            }
            Action::DropPeer(peer) => out.push(Output::DropPeer { peer }),
            Action::ConnectToLeader(leader) => out.push(Output::ConnectToLeader { leader }),
            Action::Persist(txn) => self.persist(txn, out),
            Action::PersistEpoch { accepted, current } => {
                if let Some(zab) = self.zab() {
                    zab.accepted_epoch = accepted.unwrap_or(zab.accepted_epoch);
                    zab.current_epoch = current.unwrap_or(zab.current_epoch);
                }
                out.push(Output::PersistEpoch { accepted, current });
            }
            Action::UpdatingEpoch(on) => out.push(Output::UpdatingEpoch(on)),
            Action::Truncate { to, reload } => {
                if let Some(zab) = self.zab() {
                    zab.last_logged = zab.last_logged.min(to);
                    zab.durable = zab.durable.min(to);
                    zab.committed.truncate_after(to);
                }
                out.push(Output::Truncate { to, reload });
            }
            Action::Snapshot => {
                self.ask_snapshot(SnapshotFor::Learner, SnapshotMode::Whole, out);
            }
            Action::Commit(txn) => self.commit_replicated(now, txn, out),
            Action::Serve(epoch) => self.serve(now, epoch),
            Action::EpochChanged { epoch, waited_ms } => {
                self.epoch_changed(epoch, waited_ms);
                self.release_revalidations(now, out);
            }
            Action::StepDown(why) => self.step_down(now, why, out),
            Action::SyncDone => self.sync_answered(now, out),
            Action::Confirmed(round) => self.round_done(now, round, out),
            Action::Revalidated(session, valid) => self.revalidated(now, session, valid, out),
            Action::Activate { text, designated } => self.activate(now, &text, designated, out),
        }
    }

    /// Hands a txn to the log.
    pub(super) fn persist(&mut self, txn: Arc<LoggedTxn>, out: &mut Vec<Output>) {
        if let Some(zab) = self.zab() {
            zab.last_logged = zab.last_logged.max(txn.zxid());
        }
        out.push(Output::Persist(txn));
        if !self.read_only
            && let Some(mode) = self.snapshots.logged(1)
        {
            self.ask_snapshot(SnapshotFor::Policy, mode, out);
        }
    }

    /// Applies a txn the ensemble committed, remembers it for DIFF, and answers local
    /// syncs it completes.
    fn commit_replicated(&mut self, now: Now, txn: Arc<LoggedTxn>, out: &mut Vec<Output>) {
        if txn.zxid() <= self.replica.last_processed_zxid() {
            // Already applied (a SNAP covered it): fuzzy replay is harmless, but the node's
            // own bookkeeping must not move backwards.
            self.replica.replay(&txn);
        } else {
            self.commit(now, &txn, out);
        }
        if matches!(self.role, Role::Leading(_)) {
            self.proposer.applied(&txn);
        }
        if let Some(zab) = self.zab() {
            zab.committed.push(Arc::clone(&txn));
        }
        for conn in self.front.release_local_syncs(txn.zxid()) {
            self.drain(now, conn, out);
        }
    }

    /// A rollover epoch change put the role in `epoch`; it serves on.
    fn epoch_changed(&mut self, epoch: u32, waited_ms: u64) {
        let leading = matches!(self.role, Role::Leading(_));
        if let Some(zab) = self.zab() {
            zab.election.established(epoch);
            if leading {
                zab.epoch_changes.0 += 1;
                zab.epoch_changes.1 = zab.epoch_changes.1.max(waited_ms);
            }
        }
    }

    /// The role now serves clients in `epoch`.
    fn serve(&mut self, now: Now, epoch: u32) {
        let start = Zxid::epoch_start(epoch);
        self.ro_synced();
        if let Role::Leading(_) = self.role {
            // ZooKeeper's leader moves its lastProcessedZxid to the epoch's start and tracks
            // every global session afresh, a timeout from now.
            self.replica.restore_zxid(start);
            // `menagerie.firstZxidCounter` (tests) brings the counter's end near.
            let first = self
                .zab
                .as_ref()
                .map_or(0, |z| z.config.rollover.first_counter);
            let first = Zxid::new(epoch, first);
            self.proposer = Proposer::new(&self.config, now, first);
            let sessions = self.proposer.sessions_mut();
            for (&s, &t) in self.replica.sessions() {
                sessions.add(s, t, now.mono_ms);
            }
        }
        let mut sync_ms = 0;
        if let Some(zab) = self.zab() {
            zab.election.established(epoch);
            zab.last_logged = zab.last_logged.max(start);
            // Both roles serve only once their history before `start` is durable (the
            // learner's NEWLEADER ack, the leader's own place in the NEWLEADER quorum).
            zab.durable = zab.durable.max(start);
            sync_ms = now.mono_ms.saturating_sub(zab.since.1);
        }
        // With the election's line, the failover's phases: election, then discovery and sync.
        tracing::info!(
            epoch,
            sync_ms,
            "serving clients; discovery and sync took {sync_ms} ms"
        );
    }

    /// Leaves the role: clients are disconnected (they reconnect elsewhere), what was
    /// logged is applied (as ZooKeeper fast-forwards its tree over the log), and a new
    /// election starts.
    pub(super) fn step_down(&mut self, now: Now, why: &'static str, out: &mut Vec<Output>) {
        tracing::warn!(reason = why, "leaving the role; electing again");
        let role = std::mem::replace(&mut self.role, Role::Looking);
        if let Some(zab) = self.zab.as_mut() {
            zab.held_revalidations.clear();
        }
        let unapplied: Vec<Arc<LoggedTxn>> = match role {
            Role::Leading(l) => {
                out.push(Output::ListenQuorum(false));
                for peer in l.learners().keys() {
                    out.push(Output::DropPeer { peer: *peer });
                }
                l.take_outstanding()
            }
            Role::Learning(mut l) => {
                out.push(Output::DropPeer { peer: l.leader() });
                l.take_uncommitted()
            }
            Role::Standalone | Role::Looking => Vec::new(),
        };
        let committed = self.replica.last_processed_zxid();
        for txn in unapplied {
            if txn.zxid() > self.replica.last_processed_zxid() {
                self.replica.replay(&txn);
                // Part of this member's history from now on: a learner it leads next must get
                // it by DIFF (ZooKeeper's fast-forward adds it to the committed log too).
                if let Some(zab) = self.zab.as_mut() {
                    zab.committed.push(txn);
                }
            }
        }
        self.ro_fast_forwarded(committed);
        for conn in self.front.conn_ids() {
            self.close(conn, out);
        }
        self.forget_rounds();
        // Local sessions die with the role (their clients find them expired elsewhere).
        self.local = super::local_sessions::LocalSessions::default();
        self.ask_owed_snapshot(out);
        self.start_election(now, out);
    }

    /// The leader's snapshot stream was read into `replica`: it replaces this member's state.
    pub(super) fn snap_received(
        &mut self,
        now: Now,
        from: ServerId,
        replica: Replica,
        out: &mut Vec<Output>,
    ) {
        let Role::Learning(l) = &mut self.role else {
            return;
        };
        if l.leader() != from {
            return;
        }
        let zxid = replica.last_processed_zxid();
        tracing::info!(zxid = %zxid, nodes = replica.tree().node_count(), "snapshot from the leader loaded");
        self.replica = replica;
        if let Some(zab) = &self.zab
            && !zab.config.reconfig_enabled
        {
            // As a Java learner does with reconfig disabled (ZOOKEEPER-2819). With it
            // enabled the leader's node stays: it may hold a reconfiguration this member
            // must know it has seen, should it lead next (finding 23).
            self.replica
                .set_config_node(&zab.config.config_text, now.wall_ms);
        }
        let mut acts = Actions::new();
        l.state_replaced(zxid, &mut acts);
        if let Some(zab) = self.zab() {
            zab.committed.clear();
            zab.last_logged = zxid;
            // The snapshot is in memory only; the learner's NEWLEADER ack waits for it, and
            // so does any later role if this one ends first.
            zab.durable = zab.durable.min(zxid);
            zab.snapshot_owed = true;
            zab.tree_generation += 1;
        }
        self.exec(now, acts, out);
    }

    /// After TRUNC, the state recovered from disk up to the truncation point.
    pub(super) fn reloaded(&mut self, now: Now, replica: Replica, out: &mut Vec<Output>) {
        let zxid = replica.last_processed_zxid();
        tracing::info!(zxid = %zxid, "state reloaded after truncation");
        self.replica = replica;
        let mut acts = Actions::new();
        if let Role::Learning(l) = &mut self.role {
            l.state_replaced(zxid, &mut acts);
        }
        if let Some(zab) = self.zab() {
            zab.committed.truncate_after(zxid);
            zab.last_logged = zxid;
            zab.durable = zab.durable.min(zxid);
            // The tree is the disk's own now.
            zab.snapshot_owed = false;
            zab.tree_generation += 1;
        }
        self.exec(now, acts, out);
    }

    /// Timers of the role.
    pub(super) fn zab_tick(&mut self, now: Now, out: &mut Vec<Output>) {
        let mut acts = Actions::new();
        match (&mut self.role, &mut self.zab) {
            (Role::Looking, _) if self.read_only => return,
            (Role::Looking, Some(zab)) if !zab.election.is_looking() => {
                self.start_election(now, out);
                return;
            }
            (Role::Looking, Some(zab)) => {
                let step = zab.election.tick(now.mono_ms, &zab.config);
                self.election_step(now, step, out);
                return;
            }
            (Role::Leading(l), Some(zab)) => l.tick(now.mono_ms, &zab.config, &mut acts),
            (Role::Learning(l), Some(_)) => l.tick(now.mono_ms, &mut acts),
            _ => {}
        }
        self.exec(now, acts, out);
    }

    /// Before a client is answered: a leader or learner whose timers are overdue (the
    /// process was paused, or its tick is late) runs them first, so that a leader whose
    /// quorum is gone steps down instead of answering for the ensemble (e.g. telling a
    /// client that a session created under a newer leader has expired).
    pub(super) fn overdue_role_timers(&mut self, now: Now, out: &mut Vec<Output>) {
        let role_timer = match &self.role {
            Role::Leading(l) => l.next_deadline(),
            Role::Learning(l) => l.next_deadline(),
            _ => return,
        };
        if role_timer <= now.mono_ms {
            self.zab_tick(now, out);
        }
    }

    /// When a timer of the role is due.
    pub(super) fn zab_deadline(&self) -> Option<u64> {
        match (&self.role, &self.zab) {
            (Role::Looking, Some(_)) if self.read_only => None,
            (Role::Looking, Some(zab)) => Some(zab.election.next_deadline().unwrap_or(0)),
            (Role::Leading(l), _) => Some(l.next_deadline()),
            (Role::Learning(l), _) => Some(l.next_deadline()),
            _ => None,
        }
    }

    /// The member's state in the ensemble (`None` for a standalone server).
    pub fn peer_state(&self) -> Option<PeerState> {
        match &self.role {
            Role::Standalone => None,
            Role::Looking => Some(PeerState::Looking),
            Role::Leading(_) => Some(PeerState::Leading),
            Role::Learning(l) if l.is_observer() => Some(PeerState::Observing),
            Role::Learning(_) => Some(PeerState::Following),
        }
    }

    /// Rollover epoch changes this member led since it started, and the longest that
    /// proposals waited for one (ms).
    pub fn epoch_changes(&self) -> (u64, u64) {
        self.zab.as_ref().map_or((0, 0), |z| z.epoch_changes)
    }

    /// Whether clients are served.
    pub fn is_serving(&self) -> bool {
        match &self.role {
            Role::Standalone => true,
            Role::Looking => false,
            Role::Leading(l) => l.is_serving(),
            Role::Learning(l) => l.is_serving(),
        }
    }

    /// What a learner's packet asks of the leader's node.
    fn learner_message(
        &mut self,
        now: Now,
        from: ServerId,
        msg: FromLearner,
        out: &mut Vec<Output>,
    ) {
        match msg {
            FromLearner::Request(p) => self.learner_request(now, from, p, out),
            FromLearner::Touches(data) => {
                let sessions = self.proposer.sessions_mut();
                for (s, _) in menagerie_proto::quorum::packet::parse_touches(&data) {
                    sessions.touch(s, now.mono_ms);
                }
            }
            FromLearner::Revalidate(data) => self.learner_revalidate(now, from, &data, out),
        }
    }
}
