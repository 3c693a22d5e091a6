//! A learner: a follower or an observer (ZooKeeper: `Learner.registerWithLeader`,
//! `syncWithLeader`, `Follower.processPacket`, `Observer.processPacket`; spec 09 §6-§8).
//!
//! The learner dials the leader, registers (FOLLOWERINFO/OBSERVERINFO), accepts the new
//! epoch (ACKEPOCH), takes the sync (DIFF, TRUNC or SNAP, then proposals and commits), makes
//! everything it was sent durable before it acknowledges NEWLEADER (as ZooKeeper 3.8.5+
//! does), and serves once UPTODATE arrives. In broadcast a follower logs each PROPOSAL and
//! acknowledges it once durable; COMMITs must come in proposal order. An observer logs and
//! applies each INFORM and never acknowledges.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use menagerie_proto::quorum::packet::{
    LearnerInfo, PROTOCOL_VERSION, encode_int, encode_touches, parse_revalidate_reply,
};
use menagerie_proto::quorum::{PacketType, QuorumPacket};
use menagerie_proto::txn::LoggedTxn;
use menagerie_proto::{ServerId, SessionId, Zxid};

use super::action::{Action, Actions};
use crate::ensemble::EnsembleConfig;
use crate::planted::PlantedBug;

/// How the leader syncs this learner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// The learner has a prefix of the leader's history: txns follow.
    Diff,
    /// The learner drops its log's tail first.
    Trunc,
    /// A whole snapshot replaces the learner's state.
    Snap,
}

/// Where the learner stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LearnerPhase {
    /// Dialling the leader.
    Connecting,
    /// Registered; waiting for LEADERINFO.
    AwaitLeaderInfo,
    /// ACKEPOCH sent; waiting for DIFF, TRUNC or SNAP.
    AwaitSyncStart,
    /// Waiting for the state the sync replaces ours with (SNAP stream, or a reload after
    /// TRUNC).
    AwaitState,
    /// Receiving the sync's proposals and commits.
    Syncing,
    /// NEWLEADER received; making the sync durable before acknowledging it.
    Persisting,
    /// NEWLEADER acknowledged; waiting for UPTODATE.
    AwaitUpToDate,
    /// Serving.
    Broadcast,
}

/// Who a new learner is and what it knows.
#[derive(Debug, Clone, Copy)]
pub struct LearnerStart {
    /// This member.
    pub me: ServerId,
    /// The leader the election named.
    pub leader: ServerId,
    /// Whether this member observes rather than follows.
    pub observer: bool,
    /// (acceptedEpoch, currentEpoch).
    pub epochs: (u32, u32),
    /// The last zxid this member has logged.
    pub last_logged: Zxid,
    /// The last zxid its log reported durable (at most `last_logged`; txns between the two
    /// are still on their way to the disk and must be durable before NEWLEADER's ack).
    pub durable: Zxid,
    /// The tree came from an earlier SNAP sync whose snapshot is not written yet: this
    /// sync writes one before NEWLEADER's ack, whatever its mode.
    pub snapshot_owed: bool,
}

/// A learner's state.
#[derive(Debug, Clone)]
pub struct Learner {
    me: ServerId,
    leader: ServerId,
    observer: bool,
    phase: LearnerPhase,
    mode: SyncMode,
    accepted_epoch: u32,
    current_epoch: u32,
    /// The last zxid this member has logged, as it told the leader.
    last_logged: Zxid,
    new_epoch: u32,
    /// Sync proposals (and observers' INFORMs) not yet committed, in order.
    uncommitted: VecDeque<Arc<LoggedTxn>>,
    /// Txns received in sync, all of which are persisted before the NEWLEADER ack.
    synced: Vec<Arc<LoggedTxn>>,
    /// DIFF mode: commits received in sync, applied at UPTODATE.
    deferred: Vec<Arc<LoggedTxn>>,
    /// What must be durable before the NEWLEADER ack, and whether a snapshot must be too.
    persist_target: Zxid,
    snapshot_pending: bool,
    /// Broadcast: proposals logged or being logged, not yet committed.
    pending: VecDeque<Arc<LoggedTxn>>,
    /// Logged proposals not yet acknowledged, in zxid order: each is acknowledged once
    /// durable, whether or not its COMMIT has already arrived (a quorum without this member
    /// may commit it first; Java's leader drops a learner that skips an ACK).
    unacked: VecDeque<Zxid>,
    /// The highest zxid durable here.
    durable: Zxid,
    /// The highest zxid acknowledged to the leader.
    acked: Zxid,
    /// Sessions of this member's clients touched since the last PING reply.
    touches: BTreeMap<SessionId, i32>,
    /// When the leader was last heard from, and how long silence is allowed.
    last_heard_ms: u64,
    timeout_ms: u64,
    sync_timeout_ms: u64,
    /// A mistake planted for the simulator ([`PlantedBug::None`] on real servers).
    planted: PlantedBug,
    /// The configuration text NEWLEADER carried, offered for activation at UPTODATE.
    newleader_config: Option<String>,
}

impl Learner {
    /// A learner of `leader` (the election's outcome); it dials at once.
    pub fn new(
        now: u64,
        start: LearnerStart,
        config: &EnsembleConfig,
        tick_ms: u64,
        acts: &mut Actions,
    ) -> Learner {
        let LearnerStart {
            me,
            leader,
            observer,
            epochs,
            last_logged,
            durable,
            snapshot_owed,
        } = start;
        acts.push(Action::ConnectToLeader(leader));
        Learner {
            me,
            leader,
            observer,
            phase: LearnerPhase::Connecting,
            mode: SyncMode::Diff,
            accepted_epoch: epochs.0,
            current_epoch: epochs.1,
            last_logged,
            new_epoch: 0,
            uncommitted: VecDeque::new(),
            synced: Vec::new(),
            deferred: Vec::new(),
            persist_target: Zxid::ZERO,
            snapshot_pending: snapshot_owed,
            pending: VecDeque::new(),
            unacked: VecDeque::new(),
            durable: durable.min(last_logged),
            acked: last_logged,
            touches: BTreeMap::new(),
            last_heard_ms: now,
            timeout_ms: config.init_limit * tick_ms,
            sync_timeout_ms: config.sync_limit * tick_ms,
            planted: config.planted_bug,
            newleader_config: None,
        }
    }

    /// The leader.
    pub fn leader(&self) -> ServerId {
        self.leader
    }

    /// The mistake planted in this learner, if any (for the simulator).
    pub fn planted(&self) -> PlantedBug {
        self.planted
    }

    /// Whether this member observes rather than follows.
    pub fn is_observer(&self) -> bool {
        self.observer
    }

    /// Where it stands.
    pub fn phase(&self) -> LearnerPhase {
        self.phase
    }

    /// Whether it serves clients.
    pub fn is_serving(&self) -> bool {
        let early = self.planted == PlantedBug::ServeBeforeUpToDate; // planted mistake
        self.phase == LearnerPhase::Broadcast
            || (early && self.phase == LearnerPhase::AwaitUpToDate)
    }

    /// Txns handed to the log and not applied: applied when the role ends, as ZooKeeper
    /// fast-forwards its tree over the log. Before NEWLEADER nothing of the sync was logged
    /// (it is all dropped); from NEWLEADER on, a DIFF sync's commits (still deferred) come
    /// before the proposals that follow them.
    pub fn take_uncommitted(&mut self) -> Vec<Arc<LoggedTxn>> {
        let logged = matches!(
            self.phase,
            LearnerPhase::Persisting | LearnerPhase::AwaitUpToDate | LearnerPhase::Broadcast
        );
        let mut v: Vec<Arc<LoggedTxn>> = Vec::new();
        if logged {
            v.append(&mut self.deferred);
            v.extend(self.uncommitted.drain(..));
        }
        v.extend(self.pending.drain(..));
        v.sort_by_key(|t| t.zxid());
        v.dedup_by_key(|t| t.zxid());
        v
    }

    /// Records a touch of a local client's session (shipped with the next PING reply).
    pub fn touch(&mut self, session: SessionId, timeout_ms: i32) {
        self.touches.insert(session, timeout_ms);
    }

    /// The link to the leader is up: register.
    pub fn connected(&mut self, now: u64, config: &EnsembleConfig, acts: &mut Actions) {
        if self.phase != LearnerPhase::Connecting {
            return;
        }
        self.last_heard_ms = now;
        let kind = if self.observer {
            PacketType::ObserverInfo
        } else {
            PacketType::FollowerInfo
        };
        let info = LearnerInfo {
            server_id: self.me,
            protocol_version: PROTOCOL_VERSION,
            config_version: config.config_version,
        };
        let p = QuorumPacket::with_data(
            kind,
            Zxid::epoch_start(self.accepted_epoch),
            info.to_bytes(),
        );
        acts.push(Action::Send(self.leader, p));
        self.phase = LearnerPhase::AwaitLeaderInfo;
    }

    /// A packet from the leader.
    pub fn packet(&mut self, now: u64, p: QuorumPacket, acts: &mut Actions) {
        self.last_heard_ms = now;
        let kind = p.kind();
        match self.phase {
            LearnerPhase::AwaitLeaderInfo if kind == Some(PacketType::LeaderInfo) => {
                self.leader_info(&p, acts)
            }
            LearnerPhase::AwaitSyncStart => self.sync_start(p, acts),
            LearnerPhase::Syncing => self.sync_packet(p, acts),
            LearnerPhase::AwaitUpToDate if kind == Some(PacketType::UpToDate) => {
                self.up_to_date(acts)
            }
            // A Java leader sends live traffic right after NEWLEADER: proposals are logged
            // (and acknowledged once serving), commits wait for UPTODATE.
            LearnerPhase::Persisting | LearnerPhase::AwaitUpToDate
                if matches!(
                    kind,
                    Some(
                        PacketType::Proposal
                            | PacketType::Commit
                            | PacketType::Inform
                            | PacketType::CommitAndActivate
                            | PacketType::InformAndActivate
                    )
                ) =>
            {
                self.live_before_up_to_date(p, acts)
            }
            LearnerPhase::Broadcast => self.broadcast_packet(p, acts),
            // Pings are ignored until UPTODATE; anything else before it is a protocol error.
            _ if kind == Some(PacketType::Ping) => {}
            phase => {
                tracing::warn!(leader = %self.leader, ?phase, ?kind, "unexpected packet from the leader");
                acts.push(Action::StepDown("unexpected packet from the leader"));
            }
        }
    }

    /// LEADERINFO: accept the epoch (or refuse an older one), then ACKEPOCH.
    fn leader_info(&mut self, p: &QuorumPacket, acts: &mut Actions) {
        let epoch = p.zxid.epoch();
        let current = if epoch > self.accepted_epoch {
            self.accepted_epoch = epoch;
            let durable = self.planted != PlantedBug::EpochNotDurable; // planted mistake
            acts.push(Action::PersistEpoch {
                accepted: durable.then_some(epoch),
                current: None,
            });
            self.current_epoch as i32
        } else if epoch == self.accepted_epoch {
            -1
        } else {
            tracing::warn!(
                epoch,
                accepted = self.accepted_epoch,
                "leader's epoch is older than the one accepted"
            );
            acts.push(Action::StepDown(
                "leader's epoch is older than the accepted epoch",
            ));
            return;
        };
        self.new_epoch = epoch;
        let ack =
            QuorumPacket::with_data(PacketType::AckEpoch, self.last_logged, encode_int(current));
        acts.push(Action::Send(self.leader, ack));
        self.phase = LearnerPhase::AwaitSyncStart;
    }

    /// The first sync packet: DIFF, TRUNC or SNAP.
    fn sync_start(&mut self, p: QuorumPacket, acts: &mut Actions) {
        match p.kind() {
            Some(PacketType::Diff) => {
                self.mode = SyncMode::Diff;
                self.phase = LearnerPhase::Syncing;
                tracing::info!(zxid = %p.zxid, "sync by DIFF");
            }
            Some(PacketType::Trunc) => {
                self.mode = SyncMode::Trunc;
                tracing::info!(zxid = %p.zxid, "sync by TRUNC");
                // The tree may hold txns beyond the cut (applied, or fast-forwarded when
                // a role ended): it is rebuilt from the cut log.
                let reload = self.last_logged > p.zxid;
                self.durable = self.durable.min(p.zxid);
                self.last_logged = self.last_logged.min(p.zxid);
                self.acked = self.last_logged;
                acts.push(Action::Truncate { to: p.zxid, reload });
                self.phase = if reload {
                    LearnerPhase::AwaitState
                } else {
                    LearnerPhase::Syncing
                };
            }
            Some(PacketType::Snap) => {
                self.mode = SyncMode::Snap;
                tracing::info!(zxid = %p.zxid, "sync by SNAP");
                self.phase = LearnerPhase::AwaitState;
            }
            kind => {
                tracing::warn!(?kind, "first sync packet is not DIFF, TRUNC or SNAP");
                acts.push(Action::StepDown(
                    "first sync packet is not DIFF, TRUNC or SNAP",
                ));
            }
        }
    }

    /// The state a SNAP stream or a TRUNC reload gave (at `zxid`); the log now ends there.
    pub fn state_replaced(&mut self, zxid: Zxid, acts: &mut Actions) {
        if self.phase != LearnerPhase::AwaitState {
            return;
        }
        if self.mode == SyncMode::Trunc && zxid != self.last_logged {
            // The disk could not give the state at the truncation point (`last_logged` was
            // set to it): syncing from here would leave a gap the leader knows nothing of.
            tracing::error!(reloaded = %zxid, expected = %self.last_logged, "reload after TRUNC fell short");
            acts.push(Action::StepDown(
                "the state reloaded after TRUNC ends before the truncation point",
            ));
            return;
        }
        if self.mode == SyncMode::Snap {
            // No divergent tail may survive beyond the snapshot the leader sent.
            acts.push(Action::Truncate {
                to: zxid,
                reload: false,
            });
            self.snapshot_pending = true;
            // Durable once that snapshot is written, which NEWLEADER's ack waits for.
            self.durable = zxid;
        }
        self.last_logged = zxid;
        self.acked = zxid;
        self.phase = LearnerPhase::Syncing;
    }

    /// PROPOSAL, COMMIT, INFORM and NEWLEADER during the sync.
    fn sync_packet(&mut self, p: QuorumPacket, acts: &mut Actions) {
        match p.kind() {
            Some(PacketType::Proposal) => {
                if let Some(t) = decode(&p, acts) {
                    self.uncommitted.push_back(Arc::clone(&t));
                    self.synced.push(t);
                }
            }
            Some(PacketType::Commit) => self.sync_commit(p.zxid, acts),
            Some(PacketType::Inform) => {
                if let Some(t) = decode(&p, acts) {
                    self.synced.push(Arc::clone(&t));
                    self.committed_in_sync(t, acts);
                }
            }
            Some(PacketType::NewLeader) => {
                let text = String::from_utf8_lossy(p.payload()).into_owned();
                self.newleader_config = (!text.is_empty()).then_some(text);
                self.new_leader(acts)
            }
            Some(PacketType::Ping) => {}
            kind => tracing::debug!(?kind, "packet ignored during sync"),
        }
    }

    fn sync_commit(&mut self, zxid: Zxid, acts: &mut Actions) {
        match self.uncommitted.front() {
            Some(t) if t.zxid() == zxid => {
                if let Some(t) = self.uncommitted.pop_front() {
                    self.committed_in_sync(t, acts);
                }
            }
            Some(t) => {
                tracing::warn!(zxid = %zxid, head = %t.zxid(), "sync commit for another proposal")
            }
            None => tracing::warn!(zxid = %zxid, "sync commit without a proposal"),
        }
    }

    /// SNAP and TRUNC apply committed sync txns at once; DIFF applies them at UPTODATE.
    fn committed_in_sync(&mut self, t: Arc<LoggedTxn>, acts: &mut Actions) {
        if self.mode == SyncMode::Diff {
            self.deferred.push(t);
        } else {
            acts.push(Action::Commit(t));
        }
    }

    /// NEWLEADER: everything received is made durable (and a snapshot written after SNAP)
    /// before the ack, and so is what this member logged before the sync (the prefix the
    /// leader's DIFF builds on may still be on its way to the disk).
    fn new_leader(&mut self, acts: &mut Actions) {
        self.phase = LearnerPhase::Persisting;
        self.timeout_ms = self.sync_timeout_ms;
        self.persist_target = self.persist_target.max(self.last_logged);
        // Until currentEpoch names the new epoch, a restart must know the log may hold it.
        acts.push(Action::UpdatingEpoch(true));
        for t in &self.synced {
            if t.zxid() > self.durable {
                acts.push(Action::Persist(Arc::clone(t)));
                self.persist_target = self.persist_target.max(t.zxid());
            }
        }
        if self.snapshot_pending {
            // Of the tree the sync builds on (a DIFF's commits wait for UPTODATE; they are
            // in the log).
            acts.push(Action::Snapshot);
        }
        self.try_ack_new_leader(acts);
    }

    /// Live PROPOSAL, COMMIT or INFORM between NEWLEADER and UPTODATE (ZooKeeper 3.9.3+
    /// keeps them queued the same way).
    fn live_before_up_to_date(&mut self, p: QuorumPacket, acts: &mut Actions) {
        match p.kind() {
            Some(PacketType::Proposal) => {
                if let Some(t) = decode(&p, acts) {
                    acts.push(Action::Persist(Arc::clone(&t)));
                    self.uncommitted.push_back(t);
                }
            }
            Some(PacketType::Commit | PacketType::CommitAndActivate) => {
                match self.uncommitted.front() {
                    Some(t) if t.zxid() == p.zxid => {
                        if let Some(t) = self.uncommitted.pop_front() {
                            self.activate_at_up_to_date(&t, p.kind());
                            self.deferred.push(t);
                        }
                    }
                    _ => {
                        tracing::warn!(zxid = %p.zxid, "commit before UPTODATE matches no proposal")
                    }
                }
            }
            Some(PacketType::InformAndActivate) => {
                if let Some(t) = p
                    .payload()
                    .get(8..)
                    .and_then(|b| decode_bytes(p.zxid, b, acts))
                {
                    self.activate_at_up_to_date(&t, p.kind());
                    acts.push(Action::Persist(Arc::clone(&t)));
                    self.deferred.push(t);
                }
            }
            Some(PacketType::Inform) => {
                if let Some(t) = decode(&p, acts) {
                    acts.push(Action::Persist(Arc::clone(&t)));
                    self.deferred.push(t);
                }
            }
            _ => {}
        }
    }

    /// The learner's log is durable up to `up_to`.
    pub fn persisted(&mut self, up_to: Zxid, acts: &mut Actions) {
        self.durable = self.durable.max(up_to);
        match self.phase {
            LearnerPhase::Persisting => self.try_ack_new_leader(acts),
            LearnerPhase::Broadcast => self.ack_durable(acts),
            _ => {}
        }
    }

    /// The snapshot asked for at NEWLEADER was written.
    pub fn snapshot_written(&mut self, acts: &mut Actions) {
        self.snapshot_pending = false;
        if self.phase == LearnerPhase::Persisting {
            self.try_ack_new_leader(acts);
        }
    }

    fn try_ack_new_leader(&mut self, acts: &mut Actions) {
        if self.durable < self.persist_target || self.snapshot_pending {
            tracing::debug!(durable = %self.durable, target = %self.persist_target,
                snapshot = self.snapshot_pending, "NEWLEADER ack waits for the disk");
            return;
        }
        self.current_epoch = self.new_epoch;
        acts.push(Action::PersistEpoch {
            accepted: None,
            current: Some(self.new_epoch),
        });
        acts.push(Action::UpdatingEpoch(false));
        let ack = QuorumPacket::new(PacketType::Ack, Zxid::epoch_start(self.new_epoch));
        acts.push(Action::Send(self.leader, ack));
        self.phase = LearnerPhase::AwaitUpToDate;
    }

    /// UPTODATE: deferred commits are applied, the sync's uncommitted proposals become the
    /// first pending ones (and are acknowledged: they are durable), and the learner serves.
    fn up_to_date(&mut self, acts: &mut Actions) {
        for t in std::mem::take(&mut self.deferred) {
            acts.push(Action::Commit(t));
        }
        self.synced.clear();
        let ack = QuorumPacket::new(PacketType::Ack, Zxid::epoch_start(self.new_epoch));
        acts.push(Action::Send(self.leader, ack));
        self.pending = std::mem::take(&mut self.uncommitted);
        if !self.observer {
            let acked = self.acked;
            let unacked = self.pending.iter().map(|t| t.zxid()).filter(|z| *z > acked);
            self.unacked.extend(unacked);
        }
        self.phase = LearnerPhase::Broadcast;
        self.ack_durable(acts);
        acts.push(Action::Serve(self.new_epoch));
        self.activate_newleader_config(acts);
    }

    /// Followers acknowledge each logged proposal once durable, in zxid order.
    fn ack_durable(&mut self, acts: &mut Actions) {
        while let Some(&z) = self.unacked.front() {
            if z > self.durable {
                break;
            }
            self.unacked.pop_front();
            if z > self.acked {
                acts.push(Action::Send(
                    self.leader,
                    QuorumPacket::new(PacketType::Ack, z),
                ));
                self.acked = z;
            }
        }
    }

    /// Broadcast packets.
    fn broadcast_packet(&mut self, p: QuorumPacket, acts: &mut Actions) {
        match p.kind() {
            Some(PacketType::Proposal) if !self.observer => {
                if let Some(t) = decode(&p, acts) {
                    self.propose(t, acts);
                }
            }
            Some(PacketType::Commit) if !self.observer => self.commit(p.zxid, acts),
            Some(PacketType::CommitAndActivate) if !self.observer => {
                self.commit_and_activate(&p, acts)
            }
            Some(PacketType::InformAndActivate) if self.observer => {
                self.inform_and_activate(&p, acts)
            }
            Some(PacketType::Inform) if self.observer => {
                if let Some(t) = decode(&p, acts) {
                    acts.push(Action::Persist(Arc::clone(&t)));
                    acts.push(Action::Commit(t));
                }
            }
            Some(PacketType::Ping) => {
                let touches: Vec<(SessionId, i32)> =
                    std::mem::take(&mut self.touches).into_iter().collect();
                let mut reply = p.clone();
                reply.data = Some(encode_touches(&touches));
                acts.push(Action::Send(self.leader, reply));
            }
            Some(PacketType::Sync) => acts.push(Action::SyncDone),
            Some(PacketType::Revalidate) => match parse_revalidate_reply(p.payload()) {
                Ok((session, valid)) => acts.push(Action::Revalidated(session, valid)),
                Err(e) => tracing::warn!(error = %e, "malformed REVALIDATE reply"),
            },
            kind => tracing::debug!(?kind, "packet ignored in broadcast"),
        }
    }

    fn propose(&mut self, t: Arc<LoggedTxn>, acts: &mut Actions) {
        if let Some(last) = self.pending.back()
            && t.zxid() != last.zxid().next()
        {
            tracing::warn!(zxid = %t.zxid(), previous = %last.zxid(), "proposal out of sequence");
        }
        acts.push(Action::Persist(Arc::clone(&t)));
        let zxid = t.zxid();
        self.unacked.push_back(zxid);
        self.pending.push_back(t);
        if self.planted == PlantedBug::AckBeforeFsync {
            self.persisted(zxid, acts); // planted mistake: acknowledged before it is durable
        }
    }

    /// A COMMIT must be for the oldest pending proposal (Java exits otherwise; this learner
    /// leaves the role and syncs again).
    fn commit(&mut self, zxid: Zxid, acts: &mut Actions) {
        match self.pending.front() {
            Some(t) if t.zxid() == zxid => {
                if let Some(t) = self.pending.pop_front() {
                    acts.push(Action::Commit(t));
                }
            }
            Some(t) => {
                tracing::error!(zxid = %zxid, pending = %t.zxid(), "commit is not for the oldest pending proposal");
                acts.push(Action::StepDown("commit out of order"));
            }
            None => tracing::warn!(zxid = %zxid, "commit with nothing pending ignored"),
        }
    }

    /// When the read timeout runs out.
    pub fn next_deadline(&self) -> u64 {
        self.last_heard_ms + self.timeout_ms
    }

    /// The leader has been silent too long: leave the role.
    pub fn tick(&mut self, now: u64, acts: &mut Actions) {
        if now >= self.next_deadline() {
            acts.push(Action::StepDown("leader silent for the read timeout"));
        }
    }
}

/// The txn a PROPOSAL or INFORM carries; a txn that does not decode ends the role (Java's
/// learner throws and drops the connection too).
fn decode(p: &QuorumPacket, acts: &mut Actions) -> Option<Arc<LoggedTxn>> {
    decode_bytes(p.zxid, p.payload(), acts)
}

/// The txn in `bytes`, which a packet for `zxid` carried.
fn decode_bytes(zxid: Zxid, bytes: &[u8], acts: &mut Actions) -> Option<Arc<LoggedTxn>> {
    match LoggedTxn::from_bytes(bytes) {
        Ok(t) if t.zxid() == zxid => Some(Arc::new(t)),
        Ok(t) => {
            tracing::warn!(packet = %zxid, txn = %t.zxid(), "txn zxid differs from its packet's");
            Some(Arc::new(t))
        }
        Err(e) => {
            tracing::error!(error = %e, zxid = %zxid, "undecodable txn from the leader");
            acts.push(Action::StepDown("undecodable txn from the leader"));
            None
        }
    }
}

mod activate;
#[cfg(test)]
mod tests;
