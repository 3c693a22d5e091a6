//! The rollover epoch change (a Menagerie extension; docs/adr/0014-rollover-epoch-change.md):
//! a serving leader whose zxid counter nears its end moves the ensemble to the next epoch
//! without an election. It stops proposing (later txns, numbered in the new epoch, wait in
//! a queue), lets what is outstanding commit, then sends every learner NEWLEADER for the
//! next epoch; each follower makes its history durable, writes acceptedEpoch and
//! currentEpoch, and acknowledges. Once a quorum of voters (the leader included) did, the
//! leader writes its own currentEpoch and proposes the queued txns at (epoch+1, 1), ....
//!
//! It runs only when every connected learner announced that it can follow it; otherwise
//! the leader keeps ZooKeeper's behaviour (it steps down when the counter runs out).

use std::collections::BTreeSet;
use std::sync::Arc;

use menagerie_proto::quorum::{PacketType, QuorumPacket};
use menagerie_proto::txn::LoggedTxn;
use menagerie_proto::{ServerId, Zxid};

use super::{Leader, Phase};
use crate::ensemble::EnsembleConfig;
use crate::zab::action::{Action, Actions};

/// A change of epoch under way.
#[derive(Debug, Clone)]
pub(super) struct EpochChange {
    /// The epoch moved to.
    epoch: u32,
    /// NEWLEADER went out (once nothing of the old epoch was outstanding).
    announced: bool,
    /// Voters that wrote the new epoch (the leader once its own history is durable).
    acks: BTreeSet<ServerId>,
    /// Txns prepped meanwhile (numbered in the new epoch), proposed once it is in place.
    queued: Vec<Arc<LoggedTxn>>,
    /// When it started, and when it gives up (the leader steps down).
    started_ms: u64,
    deadline_ms: u64,
}

impl Leader {
    /// Whether a proposal with `counter` should start a rollover epoch change now: the
    /// setting is on, the counter is within the margin of its end, the leader serves with
    /// no change or reconfiguration under way, and every connected learner can follow one.
    pub fn wants_epoch_change(&self, counter: u32, config: &EnsembleConfig) -> bool {
        let rollover = config.rollover;
        rollover.epoch_change
            && counter >= Zxid::MAX_COUNTER.saturating_sub(rollover.margin)
            && self.is_serving()
            && self.change.is_none()
            && self.pending_config.is_none()
            && self.epoch.is_some_and(|e| e < u32::MAX)
            && self.learners.values().all(|h| h.menagerie)
    }

    /// Whether an epoch change is under way.
    pub fn changing_epoch(&self) -> bool {
        self.change.is_some()
    }

    /// Starts the change to the next epoch; returns that epoch (the node numbers the txns
    /// it preps from now on in it). Learners still syncing are dropped (they come back and
    /// sync into the new epoch), and new registrants wait until it is in place.
    pub fn start_epoch_change(
        &mut self,
        now: u64,
        config: &EnsembleConfig,
        acts: &mut Actions,
    ) -> Option<u32> {
        self.clock_ms = self.clock_ms.max(now);
        let epoch = self.epoch?.checked_add(1)?;
        let syncing: Vec<ServerId> = self
            .learners
            .iter()
            .filter(|(_, h)| h.phase != Phase::Broadcast)
            .map(|(s, _)| *s)
            .collect();
        for s in syncing {
            self.peer_down(s);
            acts.push(Action::DropPeer(s));
        }
        tracing::info!(from = self.current_epoch, to = epoch, last = %self.last_proposed,
            "zxid counter near its end: moving to the next epoch without an election");
        self.change = Some(EpochChange {
            epoch,
            announced: false,
            acks: BTreeSet::new(),
            queued: Vec::new(),
            started_ms: now,
            deadline_ms: now + config.sync_limit * self.tick_ms,
        });
        self.try_announce(config, acts);
        Some(epoch)
    }

    /// Holds a txn of the new epoch until the change is over. A txn of the old epoch
    /// (prepped in the same batch as the one that started the change, e.g. expiries) goes
    /// out at once, while the old epoch is still open; should one come after the change
    /// was announced, the leader steps down (an election sorts it out).
    pub(super) fn queue(
        &mut self,
        txn: Arc<LoggedTxn>,
        acts: &mut Actions,
    ) -> Option<Arc<LoggedTxn>> {
        let Some(c) = &mut self.change else {
            return Some(txn);
        };
        if txn.zxid().epoch() == c.epoch {
            c.queued.push(txn);
            return None;
        }
        if c.announced {
            tracing::error!(zxid = %txn.zxid(), "a txn of the old epoch after the epoch change was announced");
            acts.push(Action::StepDown(
                "a txn of the old epoch after the epoch change",
            ));
            return None;
        }
        Some(txn)
    }

    /// The last zxid queued during a change, if any.
    pub(super) fn last_queued(&self) -> Option<Zxid> {
        self.change
            .as_ref()
            .and_then(|c| c.queued.last())
            .map(|t| t.zxid())
    }

    /// When the change gives up.
    pub(super) fn change_deadline(&self) -> Option<u64> {
        self.change.as_ref().map(|c| c.deadline_ms)
    }

    /// Once nothing of the old epoch is outstanding: the new epoch is claimed
    /// (acceptedEpoch) and announced to every learner.
    pub(super) fn try_announce(&mut self, config: &EnsembleConfig, acts: &mut Actions) {
        let Some(c) = &mut self.change else {
            return;
        };
        if c.announced || !self.outstanding.is_empty() {
            return;
        }
        c.announced = true;
        let epoch = c.epoch;
        acts.push(Action::PersistEpoch {
            accepted: Some(epoch),
            current: None,
        });
        let newleader = QuorumPacket::new(PacketType::NewLeader, Zxid::epoch_start(epoch));
        for (s, h) in &self.learners {
            if h.phase == Phase::Broadcast {
                acts.push(Action::Send(*s, newleader.clone()));
            }
        }
        self.change_durable(config, acts);
    }

    /// The leader's own part: its history is durable.
    pub(super) fn change_durable(&mut self, config: &EnsembleConfig, acts: &mut Actions) {
        let durable = self.durable >= self.last_proposed;
        if let Some(c) = &mut self.change
            && c.announced
            && durable
        {
            c.acks.insert(self.me);
        }
        self.try_finish_change(config, acts);
    }

    /// A learner's ACK of the new epoch's start: counted if it is a voter's. Returns
    /// whether the ack was for the change.
    pub(super) fn change_ack(
        &mut self,
        from: ServerId,
        zxid: Zxid,
        config: &EnsembleConfig,
        acts: &mut Actions,
    ) -> bool {
        let Some(c) = &mut self.change else {
            return false;
        };
        if !c.announced || zxid != Zxid::epoch_start(c.epoch) {
            return false;
        }
        if config.is_voter(from) {
            c.acks.insert(from);
        }
        self.try_finish_change(config, acts);
        true
    }

    /// A quorum wrote the new epoch: the leader writes its currentEpoch, learners that
    /// waited get LEADERINFO, and the queued txns go out.
    fn try_finish_change(&mut self, config: &EnsembleConfig, acts: &mut Actions) {
        let Some(c) = &self.change else {
            return;
        };
        if !c.announced || !c.acks.contains(&self.me) || !config.is_quorum(&c.acks) {
            return;
        }
        let Some(c) = self.change.take() else {
            return;
        };
        let epoch = c.epoch;
        self.epoch = Some(epoch);
        self.current_epoch = epoch;
        acts.push(Action::PersistEpoch {
            accepted: None,
            current: Some(epoch),
        });
        let start = Zxid::epoch_start(epoch);
        self.last_proposed = start;
        self.last_committed = start;
        let waited_ms = self.clock_ms.saturating_sub(c.started_ms);
        tracing::info!(
            epoch,
            waited_ms,
            queued = c.queued.len(),
            "epoch changed without an election; proposals waited {waited_ms} ms"
        );
        self.send_leader_info_to_registered(epoch, acts);
        for txn in c.queued {
            self.propose(txn, acts);
        }
        acts.push(Action::EpochChanged { epoch, waited_ms });
    }
}

#[cfg(test)]
mod tests;
