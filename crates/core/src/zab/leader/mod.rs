//! The leader (ZooKeeper: `Leader`, `LearnerHandler`; spec 09 §6-§7): discovery (the new
//! epoch), synchronisation of each learner (DIFF, TRUNC or SNAP, then NEWLEADER), and
//! broadcast ([`broadcast`]: proposals, acks, commits in zxid order, pings, liveness).
//!
//! One [`Handler`] per learner keeps where that learner stands. Live traffic for a learner
//! that is still syncing is held back until its UPTODATE (spec 09 §12 item 15: a COMMIT that
//! reaches a Java 3.8 learner between NEWLEADER and UPTODATE can crash its sync).

mod broadcast;
pub mod confirm;
mod epoch_change;
mod reconfig;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use menagerie_proto::quorum::packet::{
    MENAGERIE_PROTOCOL_VERSION, PROTOCOL_VERSION, encode_int, parse_int,
};
use menagerie_proto::quorum::{LearnerInfo, PacketType, QuorumPacket};
use menagerie_proto::txn::LoggedTxn;
use menagerie_proto::{ServerId, Zxid};

use super::action::{Action, Actions};
use super::committed_log::{CommittedLog, SyncPlan};
use crate::ensemble::EnsembleConfig;

/// Where a learner stands with this leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Registered (FOLLOWERINFO/OBSERVERINFO); LEADERINFO goes out once the epoch is fixed.
    Registered,
    /// LEADERINFO sent; waiting for ACKEPOCH.
    LeaderInfoSent,
    /// ACKEPOCH received (with the learner's last zxid); sync starts once a quorum acked.
    EpochAcked(Zxid),
    /// Sync and NEWLEADER sent; the next packet must ACK NEWLEADER.
    AwaitNewLeaderAck,
    /// NEWLEADER acknowledged; UPTODATE goes out once this leader serves.
    AwaitServing,
    /// UPTODATE sent: live traffic flows.
    Broadcast,
}

/// One learner's state on the leader.
#[derive(Debug, Clone)]
pub struct Handler {
    /// An observer (INFORM, never acks) rather than a follower.
    pub observer: bool,
    /// A Menagerie learner that can follow a rollover epoch change (its LearnerInfo
    /// carries [`MENAGERIE_PROTOCOL_VERSION`]); Java's learners cannot.
    pub menagerie: bool,
    /// Where it stands.
    pub phase: Phase,
    /// Live traffic held until its UPTODATE.
    held: Vec<QuorumPacket>,
    /// The leader tick after which it no longer counts as synced (refreshed by every packet
    /// it sends; ZooKeeper: `tickOfNextAckDeadline`).
    pub ack_deadline_tick: u64,
    /// Proposals sent to it in broadcast and not yet acknowledged, with the half tick each
    /// was sent at (ZooKeeper: `SyncLimitCheck`): the oldest may wait at most `syncLimit`.
    unacked: std::collections::VecDeque<(Zxid, u64)>,
}

/// Discovery and sync progress that ends once the leader serves.
#[derive(Debug, Clone)]
struct Establishing {
    /// The epoch as proposed so far (1 + the largest acceptedEpoch heard).
    candidate: u32,
    /// Voters registered before the epoch was fixed (the leader included).
    connecting: BTreeSet<ServerId>,
    /// Voters whose ACKEPOCH counted (the leader included).
    epoch_acks: BTreeSet<ServerId>,
    /// A quorum acked the epoch: currentEpoch is written and learners are being synced.
    epoch_acked: bool,
    /// Voters that acknowledged NEWLEADER (the leader included).
    newleader_acks: BTreeSet<ServerId>,
    /// When the current wait gives up (monotonic ms).
    deadline_ms: u64,
}

/// The sizes of the proposals a leader sent, in bytes (-1 before the first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProposalSizes {
    /// The last one.
    pub last: i64,
    /// The smallest.
    pub min: i64,
    /// The largest.
    pub max: i64,
}

impl Default for ProposalSizes {
    fn default() -> Self {
        ProposalSizes {
            last: -1,
            min: -1,
            max: -1,
        }
    }
}

impl ProposalSizes {
    fn record(&mut self, size: usize) {
        let size = i64::try_from(size).unwrap_or(i64::MAX);
        self.last = size;
        self.min = if self.min < 0 {
            size
        } else {
            self.min.min(size)
        };
        self.max = self.max.max(size);
    }
}

/// What the node must handle itself from a learner's packet.
#[derive(Debug, Clone, PartialEq)]
pub enum FromLearner {
    /// A forwarded client request (REQUEST).
    Request(QuorumPacket),
    /// Session touches from a PING reply.
    Touches(Vec<u8>),
    /// REVALIDATE data.
    Revalidate(Vec<u8>),
}

/// The leader's state.
#[derive(Debug, Clone)]
pub struct Leader {
    me: ServerId,
    /// This leader's own state summary: (currentEpoch, last logged zxid).
    current_epoch: u32,
    last_logged: Zxid,
    /// The last zxid its own log reported durable: it counts in the NEWLEADER quorum only
    /// once this reaches `last_logged` (its history is what the learners are synced to).
    durable: Zxid,
    /// The new epoch, once fixed.
    epoch: Option<u32>,
    establishing: Option<Establishing>,
    learners: BTreeMap<ServerId, Handler>,
    /// Proposals not yet committed, by zxid, with the voters that have them durable.
    outstanding: BTreeMap<Zxid, (Arc<LoggedTxn>, BTreeSet<ServerId>)>,
    last_proposed: Zxid,
    last_committed: Zxid,
    /// Forwarded syncs: answered once this zxid commits.
    syncs: Vec<(Zxid, ServerId)>,
    /// Leadership confirmation rounds (linearizable reads), and the learners' syncs that
    /// wait for one (with `linearizableReads`).
    confirmations: confirm::Confirmations,
    confirming_syncs: Vec<(u64, ServerId)>,
    /// Sizes of the proposals sent (ZooKeeper's `ProposalStats`).
    proposal_sizes: ProposalSizes,
    /// A rollover epoch change under way (proposals wait for it).
    change: Option<epoch_change::EpochChange>,
    /// The latest time an input carried (monotonic ms).
    clock_ms: u64,
    /// The reconfiguration proposed and not yet committed.
    pending_config: Option<reconfig::PendingConfig>,
    /// With reconfig enabled, a configuration of version 0 gets the new epoch's first zxid
    /// as its version (ZOOKEEPER-1783); or the last seen configuration below: NEWLEADER
    /// carries it, and it is activated when the leader serves.
    restamped: Option<String>,
    /// A reconfiguration in the history this leader brings, newer than its active
    /// configuration (proposed, its commit never seen; ZooKeeper's last seen quorum
    /// verifier): the NEWLEADER quorum must hold in it too.
    last_seen: Option<EnsembleConfig>,
    /// Half-tick timer: pings every half tick, liveness every tick.
    half_ticks: u64,
    next_half_tick_ms: u64,
    tick_ms: u64,
}

impl Leader {
    /// A leader that just won the election, with its own acceptedEpoch, currentEpoch and
    /// (last logged, last durable) zxids; it registers itself at once, and counts toward
    /// the NEWLEADER quorum once its log is durable up to its last logged zxid.
    pub fn new(
        now: u64,
        me: ServerId,
        epochs: (u32, u32),
        (last_logged, durable): (Zxid, Zxid),
        ctx: SyncContext<'_>,
        tick_ms: u64,
        acts: &mut Actions,
    ) -> Leader {
        let config = ctx.config;
        let (accepted, current) = epochs;
        let establishing = Establishing {
            candidate: accepted + 1,
            connecting: BTreeSet::from([me]),
            epoch_acks: BTreeSet::from([me]),
            epoch_acked: false,
            newleader_acks: BTreeSet::new(),
            deadline_ms: now + config.init_limit * tick_ms,
        };
        let mut leader = Leader {
            me,
            current_epoch: current,
            last_logged,
            durable,
            epoch: None,
            establishing: Some(establishing),
            learners: BTreeMap::new(),
            outstanding: BTreeMap::new(),
            last_proposed: last_logged,
            last_committed: last_logged,
            syncs: Vec::new(),
            confirmations: confirm::Confirmations::default(),
            confirming_syncs: Vec::new(),
            proposal_sizes: ProposalSizes::default(),
            change: None,
            clock_ms: now,
            pending_config: None,
            restamped: None,
            last_seen: None,
            half_ticks: 0,
            next_half_tick_ms: now + tick_ms / 2,
            tick_ms,
        };
        leader.count_own_newleader_ack();
        leader.try_fix_epoch(now, ctx, acts);
        leader
    }

    /// The leader's own NEWLEADER ack: its log is durable up to the history it syncs
    /// learners to. Returns whether it was counted just now.
    fn count_own_newleader_ack(&mut self) -> bool {
        match &mut self.establishing {
            Some(e) if self.durable >= self.last_logged => e.newleader_acks.insert(self.me),
            _ => false,
        }
    }

    /// The leader's log became more durable while establishing: once that covers its
    /// history the epoch may be written (if a quorum acked it), and the leader counts
    /// toward the NEWLEADER quorum and may start serving.
    fn durable_while_establishing(&mut self, now: u64, ctx: SyncContext<'_>, acts: &mut Actions) {
        if !self.count_own_newleader_ack() {
            return;
        }
        self.try_epoch_acked(now, ctx, acts);
        if let (Some(e), Some(epoch)) = (&self.establishing, self.epoch)
            && e.epoch_acked
            && self.is_newleader_quorum(ctx.config, &e.newleader_acks)
        {
            self.start_serving(epoch, acts);
        }
    }

    /// The new epoch, once fixed.
    pub fn epoch(&self) -> Option<u32> {
        self.epoch
    }

    /// Whether the leader serves clients (a quorum acknowledged NEWLEADER).
    pub fn is_serving(&self) -> bool {
        self.establishing.is_none()
    }

    /// The learners and where they stand.
    pub fn learners(&self) -> &BTreeMap<ServerId, Handler> {
        &self.learners
    }

    /// The last zxid proposed.
    pub fn last_proposed(&self) -> Zxid {
        self.last_proposed
    }

    /// Proposals not yet committed.
    pub fn outstanding(&self) -> usize {
        self.outstanding.len()
    }

    /// Proposals logged and not committed, in zxid order (applied when the role ends, as
    /// ZooKeeper fast-forwards its tree over the log).
    pub fn take_outstanding(self) -> Vec<Arc<LoggedTxn>> {
        self.outstanding.into_values().map(|(t, _)| t).collect()
    }

    /// The learner's link is gone: it is forgotten.
    pub fn peer_down(&mut self, peer: ServerId) {
        if self.learners.remove(&peer).is_some() {
            tracing::info!(learner = %peer, "learner disconnected");
        }
        self.syncs.retain(|(_, s)| *s != peer);
        // Its acks vouched for its log as it was: when it comes back its sync may truncate
        // them (TRUNC), and it acknowledges what it still has again.
        for (_, acks) in self.outstanding.values_mut() {
            acks.remove(&peer);
        }
        self.confirming_syncs.retain(|(_, s)| *s != peer);
        self.confirmations.reset(peer);
    }

    /// The sizes of the proposals sent so far.
    pub fn proposal_sizes(&self) -> ProposalSizes {
        self.proposal_sizes
    }

    /// Forwarded syncs waiting for their commit.
    pub fn pending_syncs(&self) -> usize {
        self.syncs.len()
    }

    /// A packet from a learner. Returns what the node must handle itself.
    pub fn packet(
        &mut self,
        now: u64,
        from: ServerId,
        p: QuorumPacket,
        ctx: SyncContext<'_>,
        acts: &mut Actions,
    ) -> Option<FromLearner> {
        self.clock_ms = self.clock_ms.max(now);
        let tick = self.half_ticks / 2;
        if let Some(h) = self.learners.get_mut(&from) {
            h.ack_deadline_tick = tick + ctx.config.sync_limit;
        }
        let phase = self.learners.get(&from).map(|h| h.phase);
        match (phase, p.kind()) {
            (None, Some(PacketType::FollowerInfo | PacketType::ObserverInfo)) => {
                self.register(now, from, &p, ctx, acts);
                None
            }
            (None, _) => {
                tracing::warn!(peer = %from, "first packet of a learner is not FOLLOWERINFO or OBSERVERINFO");
                acts.push(Action::DropPeer(from));
                None
            }
            (Some(Phase::LeaderInfoSent), Some(PacketType::AckEpoch)) => {
                self.ack_epoch(now, from, &p, ctx, acts);
                None
            }
            (Some(Phase::AwaitNewLeaderAck), kind) => {
                self.newleader_ack(from, &p, kind, ctx.config, acts);
                None
            }
            (Some(Phase::Broadcast), _) => self.broadcast_packet(from, p, ctx.config, acts),
            (Some(_), kind) => {
                tracing::debug!(peer = %from, ?kind, "packet ignored in this phase");
                None
            }
        }
    }

    /// FOLLOWERINFO / OBSERVERINFO: registers the learner and counts it toward the epoch.
    fn register(
        &mut self,
        now: u64,
        from: ServerId,
        p: &QuorumPacket,
        ctx: SyncContext<'_>,
        acts: &mut Actions,
    ) {
        let config = ctx.config;
        let info = LearnerInfo::parse(p.payload());
        let refused = match info {
            None => Some("no LearnerInfo"),
            Some(i) if i.server_id != from => Some("LearnerInfo names another server"),
            Some(i) if i.protocol_version < PROTOCOL_VERSION => Some("pre-Zab-1.0 learner"),
            Some(i) if i.config_version > config.config_version => {
                Some("learner's configuration is ahead of the leader's")
            }
            Some(_) => None,
        };
        if let Some(why) = refused {
            tracing::warn!(peer = %from, why, "refusing learner");
            acts.push(Action::DropPeer(from));
            return;
        }
        let observer = p.kind() == Some(PacketType::ObserverInfo);
        let menagerie = info.is_some_and(|i| i.protocol_version == MENAGERIE_PROTOCOL_VERSION);
        let tick = self.half_ticks / 2;
        let handler = Handler {
            observer,
            menagerie,
            phase: Phase::Registered,
            held: Vec::new(),
            ack_deadline_tick: tick + config.init_limit + config.sync_limit,
            unacked: std::collections::VecDeque::new(),
        };
        self.learners.insert(from, handler);
        self.confirmations.reset(from);
        tracing::info!(learner = %from, observer, menagerie, accepted_epoch = p.zxid.epoch(), "learner registered");
        match (&mut self.establishing, self.epoch) {
            (Some(e), None) => {
                // Every registrant before the quorum counts for the epoch, observers too.
                e.candidate = e.candidate.max(p.zxid.epoch().saturating_add(1));
                if config.is_voter(from) {
                    e.connecting.insert(from);
                }
                self.try_fix_epoch(now, ctx, acts);
            }
            // During a rollover epoch change it waits for the new epoch.
            (None, Some(_)) if self.change.is_some() => {}
            (_, Some(epoch)) => self.send_leader_info(from, epoch, acts),
            (None, None) => unreachable!("a serving leader has an epoch"),
        }
    }

    /// Fixes the epoch once a quorum (the leader included) registered.
    fn try_fix_epoch(&mut self, now: u64, ctx: SyncContext<'_>, acts: &mut Actions) {
        let config = ctx.config;
        let Some(e) = &mut self.establishing else {
            return;
        };
        if self.epoch.is_some() || !config.is_quorum(&e.connecting) {
            return;
        }
        let epoch = e.candidate;
        self.epoch = Some(epoch);
        self.restamped = match &self.last_seen {
            Some(seen) => Some(seen.config_text.clone()),
            None => reconfig::restamped_text(config, epoch),
        };
        e.deadline_ms = now + config.init_limit * self.tick_ms;
        tracing::info!(epoch, "new epoch fixed; LEADERINFO to the learners");
        acts.push(Action::PersistEpoch {
            accepted: Some(epoch),
            current: None,
        });
        self.send_leader_info_to_registered(epoch, acts);
        // A quorum of one (the leader alone) is complete already.
        self.try_epoch_acked(now, ctx, acts);
    }

    /// LEADERINFO for `epoch` to every learner registered and waiting for one.
    fn send_leader_info_to_registered(&mut self, epoch: u32, acts: &mut Actions) {
        let waiting: Vec<ServerId> = self
            .learners
            .iter()
            .filter(|(_, h)| h.phase == Phase::Registered)
            .map(|(s, _)| *s)
            .collect();
        for s in waiting {
            self.send_leader_info(s, epoch, acts);
        }
    }

    fn send_leader_info(&mut self, to: ServerId, epoch: u32, acts: &mut Actions) {
        let p = QuorumPacket::with_data(
            PacketType::LeaderInfo,
            Zxid::epoch_start(epoch),
            encode_int(PROTOCOL_VERSION),
        );
        acts.push(Action::Send(to, p));
        if let Some(h) = self.learners.get_mut(&to) {
            h.phase = Phase::LeaderInfoSent;
        }
    }

    /// ACKEPOCH: a learner more recent than the leader is dropped; voters count toward the
    /// epoch-ack quorum, after which every acked learner is synced.
    fn ack_epoch(
        &mut self,
        now: u64,
        from: ServerId,
        p: &QuorumPacket,
        ctx: SyncContext<'_>,
        acts: &mut Actions,
    ) {
        let learner_epoch = parse_int(p.payload()).unwrap_or(-1);
        let learner_zxid = p.zxid;
        if let Some(h) = self.learners.get_mut(&from) {
            h.phase = Phase::EpochAcked(learner_zxid);
        }
        let Some(e) = &mut self.establishing else {
            // Late joiner: the checks are over; sync at once.
            self.start_sync(from, ctx, acts);
            return;
        };
        if !e.epoch_acked {
            let more_recent = learner_epoch != -1
                && (i64::from(learner_epoch) > i64::from(self.current_epoch)
                    || (i64::from(learner_epoch) == i64::from(self.current_epoch)
                        && learner_zxid > self.last_logged));
            if more_recent {
                // ZooKeeper drops only that learner and goes on; but the learner has written
                // the new acceptedEpoch by now, comes back with ACKEPOCH -1 (which skips this
                // check) and is truncated to this leader's shorter history. A leader behind
                // one of its learners was elected on a stale vote: it abdicates instead.
                tracing::warn!(learner = %from, epoch = learner_epoch, zxid = %learner_zxid,
                    "learner is more recent than the leader; stepping down");
                acts.push(Action::StepDown("a learner is more recent than the leader"));
                return;
            }
        }
        if e.epoch_acked {
            // The quorum formed before this learner's ack: sync it at once.
            self.start_sync(from, ctx, acts);
            return;
        }
        // Only a learner that accepted the epoch from this leader just now counts (ACKEPOCH
        // -1, "already accepted", proves nothing: another leader of the same epoch, or a
        // rollover epoch change, may have given it; docs/adr/0014-rollover-epoch-change.md).
        if learner_zxid != Zxid::NONE && learner_epoch != -1 && ctx.config.is_voter(from) {
            e.epoch_acks.insert(from);
        }
        self.try_epoch_acked(now, ctx, acts);
    }

    /// Once a quorum acked the epoch: currentEpoch is written, then learners are synced.
    fn try_epoch_acked(&mut self, now: u64, ctx: SyncContext<'_>, acts: &mut Actions) {
        let (Some(e), Some(epoch)) = (&mut self.establishing, self.epoch) else {
            return;
        };
        if e.epoch_acked || !ctx.config.is_quorum(&e.epoch_acks) {
            return;
        }
        if self.durable < self.last_logged {
            // currentEpoch raises this member's votes above those of members with longer
            // logs: it is written only once the history it vouches for is on disk (a power
            // loss must not leave a short log under a new epoch, finding 10).
            tracing::debug!(durable = %self.durable, head = %self.last_logged,
                "epoch acknowledged; waiting for the leader's log to be durable");
            return;
        }
        e.deadline_ms = now + ctx.config.init_limit * self.tick_ms;
        e.epoch_acked = true;
        self.current_epoch = epoch;
        tracing::info!(epoch, "epoch acknowledged by a quorum");
        acts.push(Action::PersistEpoch {
            accepted: None,
            current: Some(epoch),
        });
        let ready: Vec<ServerId> = self
            .learners
            .iter()
            .filter(|(_, h)| matches!(h.phase, Phase::EpochAcked(_)))
            .map(|(s, _)| *s)
            .collect();
        for s in ready {
            self.start_sync(s, ctx, acts);
        }
        if let Some(e) = &self.establishing
            && self.is_newleader_quorum(ctx.config, &e.newleader_acks)
        {
            self.start_serving(epoch, acts);
        }
    }

    /// Whether the epoch-ack quorum has been reached.
    fn epoch_acked(&self) -> bool {
        self.establishing.as_ref().is_none_or(|e| e.epoch_acked)
    }

    /// Sends a learner what it lacks (DIFF, TRUNC or SNAP), then NEWLEADER; live traffic from
    /// now on is held for it.
    fn start_sync(&mut self, to: ServerId, ctx: SyncContext<'_>, acts: &mut Actions) {
        if !self.epoch_acked() {
            return;
        }
        let (Some(epoch), Some(h)) = (self.epoch, self.learners.get(&to)) else {
            return;
        };
        let Phase::EpochAcked(peer) = h.phase else {
            return;
        };
        let observer = h.observer;
        let plan = ctx.committed.plan(peer, ctx.last_committed);
        tracing::info!(learner = %to, peer_zxid = %peer, leader_zxid = %ctx.last_committed,
            mode = plan_name(&plan), "syncing learner");
        match plan {
            SyncPlan::Diff { zxid, txns } => {
                acts.push(Action::Send(to, QuorumPacket::new(PacketType::Diff, zxid)));
                push_pairs(to, &txns, observer, acts);
            }
            SyncPlan::Trunc { zxid, txns } => {
                acts.push(Action::Send(to, QuorumPacket::new(PacketType::Trunc, zxid)));
                push_pairs(to, &txns, observer, acts);
            }
            SyncPlan::Snap => acts.push(Action::SendSnapshot(to, ctx.last_committed)),
        }
        let text = self.restamped.as_ref().unwrap_or(&ctx.config.config_text);
        let newleader = QuorumPacket::with_data(
            PacketType::NewLeader,
            Zxid::epoch_start(epoch),
            text.as_bytes().to_vec(),
        );
        acts.push(Action::Send(to, newleader));
        // Proposals still waiting for their quorum reach followers after UPTODATE, in order,
        // with the live traffic behind them.
        let held: Vec<QuorumPacket> = if observer {
            Vec::new()
        } else {
            self.outstanding
                .values()
                .map(|(t, _)| proposal(t))
                .collect()
        };
        if let Some(h) = self.learners.get_mut(&to) {
            h.held = held;
            h.phase = Phase::AwaitNewLeaderAck;
        }
    }

    /// The packet after NEWLEADER must acknowledge it.
    fn newleader_ack(
        &mut self,
        from: ServerId,
        p: &QuorumPacket,
        kind: Option<PacketType>,
        config: &EnsembleConfig,
        acts: &mut Actions,
    ) {
        if kind != Some(PacketType::Ack) {
            tracing::warn!(learner = %from, ?kind, "expected the NEWLEADER ack");
            self.learners.remove(&from);
            acts.push(Action::DropPeer(from));
            return;
        }
        let epoch = self.epoch.unwrap_or_default();
        let counted = p.zxid == Zxid::epoch_start(epoch);
        if !counted {
            tracing::warn!(learner = %from, zxid = %p.zxid, "NEWLEADER ack for another zxid; not counted");
        }
        if let Some(h) = self.learners.get_mut(&from) {
            h.phase = Phase::AwaitServing;
        }
        let votes =
            config.is_voter(from) || self.last_seen.as_ref().is_some_and(|c| c.is_voter(from));
        match &mut self.establishing {
            Some(e) => {
                if counted && votes {
                    e.newleader_acks.insert(from);
                }
                let acks = e.newleader_acks.clone();
                if self.is_newleader_quorum(config, &acks) {
                    self.start_serving(epoch, acts);
                }
            }
            None => self.send_up_to_date(from, acts),
        }
    }

    /// A quorum has the new epoch's history: serve, and tell every acknowledged learner.
    fn start_serving(&mut self, epoch: u32, acts: &mut Actions) {
        let acks = self
            .establishing
            .take()
            .map(|e| e.newleader_acks)
            .unwrap_or_default();
        let start = Zxid::epoch_start(epoch);
        self.last_proposed = start;
        self.last_committed = start;
        tracing::info!(epoch, "leader serving");
        acts.push(Action::Serve(epoch));
        if let Some(text) = self.restamped.take() {
            let designated = match self.last_seen.take() {
                Some(seen) => self.designated_by_newleader(&seen, &acks),
                None => self.me,
            };
            acts.push(Action::Activate { text, designated });
        }
        let ready: Vec<ServerId> = self
            .learners
            .iter()
            .filter(|(_, h)| h.phase == Phase::AwaitServing)
            .map(|(s, _)| *s)
            .collect();
        for s in ready {
            self.send_up_to_date(s, acts);
        }
    }

    /// UPTODATE, then what was held for the learner.
    fn send_up_to_date(&mut self, to: ServerId, acts: &mut Actions) {
        let Some(h) = self.learners.get_mut(&to) else {
            return;
        };
        acts.push(Action::Send(
            to,
            QuorumPacket::new(PacketType::UpToDate, Zxid::NONE),
        ));
        for p in std::mem::take(&mut h.held) {
            acts.push(Action::Send(to, p));
        }
        h.phase = Phase::Broadcast;
        tracing::info!(learner = %to, "learner up to date");
    }

    /// Sends to a learner now, or holds the packet until its UPTODATE. Learners that have
    /// not started syncing get nothing (their sync will cover it).
    fn deliver(&mut self, to: ServerId, p: QuorumPacket, acts: &mut Actions) {
        let Some(h) = self.learners.get_mut(&to) else {
            return;
        };
        match h.phase {
            Phase::Broadcast => {
                if !h.observer && p.kind() == Some(PacketType::Proposal) {
                    h.unacked.push_back((p.zxid, self.half_ticks));
                }
                acts.push(Action::Send(to, p))
            }
            Phase::AwaitNewLeaderAck | Phase::AwaitServing => h.held.push(p),
            _ => {}
        }
    }
}

/// What syncing a learner needs from the node.
#[derive(Debug, Clone, Copy)]
pub struct SyncContext<'a> {
    /// The ensemble.
    pub config: &'a EnsembleConfig,
    /// Recent committed txns.
    pub committed: &'a CommittedLog,
    /// The last committed zxid.
    pub last_committed: Zxid,
}

fn plan_name(plan: &SyncPlan) -> &'static str {
    match plan {
        SyncPlan::Diff { .. } => "DIFF",
        SyncPlan::Trunc { .. } => "TRUNC",
        SyncPlan::Snap => "SNAP",
    }
}

/// The PROPOSAL packet of a txn.
pub(crate) fn proposal(t: &LoggedTxn) -> QuorumPacket {
    QuorumPacket::with_data(PacketType::Proposal, t.zxid(), t.to_bytes())
}

/// Committed txns as PROPOSAL+COMMIT pairs (followers) or INFORMs (observers: spec 09 §12
/// item 17 forbids uncommitted PROPOSALs, and the pairs are what Java's leader sends them
/// during sync too).
fn push_pairs(to: ServerId, txns: &[Arc<LoggedTxn>], _observer: bool, acts: &mut Actions) {
    for t in txns {
        acts.push(Action::Send(to, proposal(t)));
        acts.push(Action::Send(
            to,
            QuorumPacket::new(PacketType::Commit, t.zxid()),
        ));
    }
}

#[cfg(test)]
mod tests;
