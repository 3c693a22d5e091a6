//! The leader's broadcast (ZooKeeper: `Leader.propose`, `processAck`, `tryToCommit`,
//! `commit`, `inform`, `processSync`, the lead loop's pings and quorum check; spec 09 §7).

use std::collections::BTreeSet;
use std::sync::Arc;

use menagerie_proto::quorum::{PacketType, QuorumPacket};
use menagerie_proto::txn::LoggedTxn;
use menagerie_proto::{ServerId, Zxid};

use super::{FromLearner, Leader, Phase, SyncContext, proposal};
use crate::ensemble::EnsembleConfig;
use crate::planted::PlantedBug;
use crate::zab::action::{Action, Actions};

impl Leader {
    /// Broadcasts a txn the node prepped (zxid assigned, the next after the last proposed):
    /// the leader logs it, and followers get a PROPOSAL.
    /// During a rollover epoch change the txn (of the new epoch) waits for it.
    pub fn propose(&mut self, txn: Arc<LoggedTxn>, acts: &mut Actions) {
        let Some(txn) = self.queue(txn, acts) else {
            return;
        };
        let zxid = txn.zxid();
        assert!(self.is_serving(), "only a serving leader proposes");
        assert!(
            zxid > self.last_proposed,
            "proposals go out in zxid order: {zxid} after {}",
            self.last_proposed
        );
        self.last_proposed = zxid;
        acts.push(Action::Persist(Arc::clone(&txn)));
        let p = proposal(&txn);
        self.proposal_sizes.record(p.payload().len());
        let followers: Vec<ServerId> = self
            .learners
            .iter()
            .filter(|(_, h)| !h.observer)
            .map(|(s, _)| *s)
            .collect();
        for f in followers {
            self.deliver(f, p.clone(), acts);
        }
        self.outstanding.insert(zxid, (txn, BTreeSet::new()));
    }

    /// The leader's own log is durable up to `up_to`: its acks.
    pub fn persisted(&mut self, now: u64, up_to: Zxid, ctx: SyncContext<'_>, acts: &mut Actions) {
        let config = ctx.config;
        self.clock_ms = self.clock_ms.max(now);
        self.durable = self.durable.max(up_to);
        if self.establishing.is_some() {
            self.durable_while_establishing(now, ctx, acts);
        }
        let me = self.me;
        for (_, (_, acks)) in self.outstanding.range_mut(..=up_to) {
            acks.insert(me);
        }
        self.try_commit(config, acts);
        self.change_durable(config, acts);
    }

    /// A packet from a learner in broadcast.
    pub(super) fn broadcast_packet(
        &mut self,
        from: ServerId,
        p: QuorumPacket,
        config: &EnsembleConfig,
        acts: &mut Actions,
    ) -> Option<FromLearner> {
        match p.kind() {
            Some(PacketType::Ack) => {
                self.ack(from, p.zxid, config, acts);
                None
            }
            Some(PacketType::Request) => Some(FromLearner::Request(p)),
            Some(PacketType::Ping) => {
                self.confirmations.replied(from);
                self.check_confirmed(config, acts);
                Some(FromLearner::Touches(p.data.unwrap_or_default()))
            }
            Some(PacketType::Revalidate) => {
                Some(FromLearner::Revalidate(p.data.unwrap_or_default()))
            }
            kind => {
                tracing::debug!(learner = %from, ?kind, "unexpected packet from a learner ignored");
                None
            }
        }
    }

    /// An ACK: counted if it is a voter's, for a proposal still outstanding.
    fn ack(&mut self, from: ServerId, zxid: Zxid, config: &EnsembleConfig, acts: &mut Actions) {
        // Acks of an epoch start (NEWLEADER, UPTODATE) and of committed txns are ignored.
        if let Some(h) = self.learners.get_mut(&from) {
            // Acks come in zxid order: this one answers every earlier proposal too.
            while h.unacked.front().is_some_and(|(z, _)| *z <= zxid) {
                h.unacked.pop_front();
            }
        }
        if self.change_ack(from, zxid, config, acts) {
            return;
        }
        if zxid.is_epoch_start() || zxid <= self.last_committed {
            return;
        }
        if !self.counts_acks_of(from, config) {
            return;
        }
        match self.outstanding.get_mut(&zxid) {
            Some((_, acks)) => {
                acks.insert(from);
            }
            None => {
                tracing::warn!(learner = %from, zxid = %zxid, "ack for a future proposal ignored");
                return;
            }
        }
        self.try_commit(config, acts);
    }

    /// Commits what a quorum has durable ([`commit_ready`](Self::commit_ready)); once
    /// nothing is outstanding, a rollover epoch change under way is announced.
    pub(super) fn try_commit(&mut self, config: &EnsembleConfig, acts: &mut Actions) {
        self.commit_ready(config, acts);
        self.try_announce(config, acts);
    }

    /// Commits, in zxid order, every proposal at the front that a quorum has durable. A
    /// reconfiguration ends the loop: what follows it waits for the node to activate it.
    fn commit_ready(&mut self, config: &EnsembleConfig, acts: &mut Actions) {
        let newest_first = config.planted_bug == PlantedBug::CommitOutOfOrder; // planted mistake
        loop {
            let front = if newest_first {
                self.outstanding.last_key_value()
            } else {
                self.outstanding.first_key_value()
            };
            let Some((&zxid, (_, acks))) = front else {
                return;
            };
            let alone = config.planted_bug == PlantedBug::NoQuorumWait && acks.contains(&self.me); // planted mistake
            if !self.has_all_quorums(zxid, acks, config) && !alone {
                return;
            }
            let Some((txn, acks)) = self.outstanding.remove(&zxid) else {
                return;
            };
            if self.commit_reconfig(&txn, &acks, config, acts) {
                return;
            }
            self.commit(txn, acts);
        }
    }

    /// Sends every learner the packet `packet_for(is_observer)` makes (a commit: COMMIT to
    /// followers, INFORM to observers).
    pub(super) fn deliver_to_learners(
        &mut self,
        packet_for: impl Fn(bool) -> QuorumPacket,
        acts: &mut Actions,
    ) {
        let learners: Vec<(ServerId, bool)> = self
            .learners
            .iter()
            .map(|(s, h)| (*s, h.observer))
            .collect();
        for (s, observer) in learners {
            self.deliver(s, packet_for(observer), acts);
        }
    }

    fn commit(&mut self, txn: Arc<LoggedTxn>, acts: &mut Actions) {
        let zxid = txn.zxid();
        self.last_committed = zxid;
        self.deliver_to_learners(
            |observer| {
                if observer {
                    QuorumPacket::with_data(PacketType::Inform, zxid, txn.to_bytes())
                } else {
                    QuorumPacket::new(PacketType::Commit, zxid)
                }
            },
            acts,
        );
        acts.push(Action::Commit(txn));
        let (done, waiting): (Vec<_>, Vec<_>) =
            self.syncs.drain(..).partition(|(at, _)| *at <= zxid);
        self.syncs = waiting;
        for (_, learner) in done {
            self.deliver(
                learner,
                QuorumPacket::new(PacketType::Sync, Zxid::ZERO),
                acts,
            );
        }
    }

    /// A learner forwarded a `sync`: answered once what is proposed now has committed
    /// (and, with linearizable reads, once a confirmation round started after it is over).
    pub fn sync(&mut self, learner: ServerId, config: &EnsembleConfig, acts: &mut Actions) {
        if config.linearizable_reads || config.linearizable_sync {
            let round = self.confirm(config, acts);
            self.confirming_syncs.push((round, learner));
            return;
        }
        self.sync_after_commit(learner, acts);
    }

    fn sync_after_commit(&mut self, learner: ServerId, acts: &mut Actions) {
        if let Some(queued) = self.last_queued() {
            self.syncs.push((queued, learner));
        } else if self.outstanding.is_empty() {
            self.deliver(
                learner,
                QuorumPacket::new(PacketType::Sync, Zxid::ZERO),
                acts,
            );
        } else {
            self.syncs.push((self.last_proposed, learner));
        }
    }

    /// The zxid a local `sync` must see committed before it is answered (`None`: now).
    pub fn sync_point(&self) -> Option<Zxid> {
        self.last_queued()
            .or((!self.outstanding.is_empty()).then_some(self.last_proposed))
    }

    /// When the next timer is due.
    pub fn next_deadline(&self) -> u64 {
        let half = self.next_half_tick_ms;
        let half = self.change_deadline().map_or(half, |d| half.min(d));
        match &self.establishing {
            Some(e) => half.min(e.deadline_ms),
            None => half,
        }
    }

    /// Timers: discovery and sync give up after initLimit ticks; every half tick a PING goes
    /// to each up-to-date learner; every tick the leader checks that a quorum of voters is
    /// still synced with it (else it steps down).
    pub fn tick(&mut self, now: u64, config: &EnsembleConfig, acts: &mut Actions) {
        if let Some(e) = &self.establishing
            && now >= e.deadline_ms
        {
            let why = match self.epoch {
                None => "no quorum of voters registered within initLimit",
                Some(_) => "no quorum acknowledged the new epoch within initLimit",
            };
            acts.push(Action::StepDown(why));
            return;
        }
        self.clock_ms = self.clock_ms.max(now);
        if self.change_deadline().is_some_and(|d| now >= d) {
            acts.push(Action::StepDown(
                "no quorum acknowledged the rollover epoch change within syncLimit",
            ));
            return;
        }
        while now >= self.next_half_tick_ms {
            self.next_half_tick_ms += (self.tick_ms / 2).max(1);
            self.half_ticks += 1;
            self.ping(acts);
            self.drop_followers_behind_on_acks(config, acts);
            if self.half_ticks.is_multiple_of(2) && self.is_serving() && !self.quorum_synced(config)
            {
                acts.push(Action::StepDown("not sufficient followers synced"));
                return;
            }
        }
    }

    /// A follower whose oldest unacknowledged proposal has waited `syncLimit` ticks is
    /// dropped, as ZooKeeper's `SyncLimitCheck` does ("transaction timeout"): pings alone
    /// (a member whose disk stopped) must not keep it counted as synced.
    fn drop_followers_behind_on_acks(&mut self, config: &EnsembleConfig, acts: &mut Actions) {
        let limit = 2 * config.sync_limit;
        let now = self.half_ticks;
        let late: Vec<ServerId> = self
            .learners
            .iter()
            .filter(|(_, h)| {
                h.unacked
                    .front()
                    .is_some_and(|(_, sent)| now - sent >= limit)
            })
            .map(|(s, _)| *s)
            .collect();
        for learner in late {
            let oldest = self
                .learners
                .get(&learner)
                .and_then(|h| h.unacked.front())
                .map(|(z, _)| *z);
            tracing::warn!(learner = %learner, oldest = ?oldest, "closing the link to a follower that acknowledged no proposal within syncLimit (transaction timeout)");
            self.peer_down(learner);
            acts.push(Action::DropPeer(learner));
        }
    }

    fn ping(&mut self, acts: &mut Actions) {
        let zxid = self.last_proposed;
        for (s, h) in &self.learners {
            if h.phase == Phase::Broadcast {
                acts.push(Action::Send(*s, QuorumPacket::new(PacketType::Ping, zxid)));
                self.confirmations.sent(*s);
            }
        }
    }

    /// Asks for a leadership confirmation round (linearizable reads): returns the round
    /// whose end (`Action::Confirmed`) releases the caller, starting it now if none is in
    /// flight (reads arriving meanwhile share the next one).
    pub fn confirm(&mut self, config: &EnsembleConfig, acts: &mut Actions) -> u64 {
        let joined = self.confirmations.join();
        if joined.start {
            self.ping(acts);
            self.confirmations.started(joined.round);
            self.check_confirmed(config, acts);
        }
        joined.round
    }

    /// Ends the round in flight if a quorum confirmed it: the syncs waiting for it go on to
    /// wait for their commit, the node is told, and the next round starts if one is wanted.
    fn check_confirmed(&mut self, config: &EnsembleConfig, acts: &mut Actions) {
        let Some((round, again)) = self.confirmations.confirmed(self.me, config) else {
            return;
        };
        let (done, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.confirming_syncs)
            .into_iter()
            .partition(|(r, _)| *r <= round);
        self.confirming_syncs = waiting;
        for (_, learner) in done {
            self.sync_after_commit(learner, acts);
        }
        acts.push(Action::Confirmed(round));
        if again {
            self.confirm(config, acts);
        }
    }

    /// Whether the voters of `config` synced with this leader (acknowledging within
    /// syncLimit; the leader included) form a quorum of it (ZooKeeper: `isQuorumSynced`).
    pub fn quorum_synced(&self, config: &EnsembleConfig) -> bool {
        let tick = self.half_ticks / 2;
        let mut synced: BTreeSet<ServerId> = self
            .learners
            .iter()
            .filter(|(_, h)| !h.observer && h.ack_deadline_tick >= tick)
            .map(|(s, _)| *s)
            .collect();
        synced.insert(self.me);
        config.is_quorum(&synced)
    }
}
