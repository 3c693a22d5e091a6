//! Fast Leader Election (ZooKeeper: `FastLeaderElection`, spec 09 §3), as a state machine:
//! notifications and clock ticks in, notifications to send and a decision out.
//!
//! [`Election`] lives as long as the member: it keeps the logical clock (the round, never
//! persisted) and the vote the member reports. While the member is LOOKING a round runs:
//! proposals spread, and once the votes equal to this member's proposal form a quorum the
//! member waits [`FINALIZE_WAIT_MS`] for a better one before deciding. A member that is
//! not LOOKING still answers LOOKING voters with its vote, which is how a restarted member
//! finds an established leader.

use std::collections::{BTreeMap, BTreeSet};

use menagerie_proto::quorum::{Notification, PeerState};
use menagerie_proto::{ServerId, Zxid};

use super::vote::{NO_VOTE, Vote};
use crate::ensemble::{EnsembleConfig, FINALIZE_WAIT_MS};

/// What handling one input produced.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ElectionStep {
    /// Notifications to send, in order.
    pub sends: Vec<(ServerId, Notification)>,
    /// The round ended: the vote this member settles on (its state says the role).
    pub decided: Option<Vote>,
}

/// The state of one round.
#[derive(Debug, Clone)]
struct Round {
    /// This member's own initial vote.
    init: Vote,
    /// What it proposes now.
    proposal: Vote,
    /// LOOKING votes of this round, and settled votes of this round (ZooKeeper: `recvset`).
    recvset: BTreeMap<ServerId, Vote>,
    /// Settled votes of any round (ZooKeeper: `outofelection`).
    outofelection: BTreeMap<ServerId, Vote>,
    /// The current poll timeout (doubles while nothing arrives).
    timeout_ms: u64,
    /// When to re-send the proposal if nothing arrives.
    resend_at: u64,
    /// In the quiet period before deciding: when it ends.
    finalize_at: Option<u64>,
}

/// One member's election state.
#[derive(Debug, Clone)]
pub struct Election {
    me: ServerId,
    logical_clock: i64,
    /// The vote this member reports (its proposal while LOOKING).
    current: Vote,
    round: Option<Round>,
    /// Notifications to this member from itself, handled after the current input.
    loopback: Vec<Notification>,
    /// Members whose election connection the transport saw close (a killed process): no
    /// better vote can come from them until they reconnect.
    unreachable: BTreeSet<ServerId>,
}

impl Election {
    /// A member that has not voted yet.
    pub fn new(me: ServerId) -> Election {
        Election {
            me,
            logical_clock: 0,
            current: Vote {
                leader: me,
                zxid: Zxid::ZERO,
                election_epoch: 0,
                peer_epoch: 0,
                state: PeerState::Looking,
                version: 0,
            },
            round: None,
            loopback: Vec::new(),
            unreachable: BTreeSet::new(),
        }
    }

    /// The election connection to `peer` came up or closed. In the quiet period before a
    /// decision, once every voter still reachable agrees with the proposal, no better vote
    /// can come and the member decides at once instead of waiting out `finalizeWait`
    /// (a Menagerie shortcut: safety never rested on the wait, since every member of the
    /// agreeing quorum only adopts a proposal at least as recent as itself).
    pub fn link(
        &mut self,
        now: u64,
        peer: ServerId,
        up: bool,
        config: &EnsembleConfig,
    ) -> ElectionStep {
        if up {
            self.unreachable.remove(&peer);
        } else {
            self.unreachable.insert(peer);
        }
        let mut step = ElectionStep::default();
        self.decide_if_all_agree(now, config, &mut step);
        step
    }

    /// Decides now if the quiet period runs and every reachable voter agrees.
    fn decide_if_all_agree(&mut self, now: u64, config: &EnsembleConfig, step: &mut ElectionStep) {
        let Some(r) = self.round.as_mut() else {
            return;
        };
        if r.finalize_at.is_none() {
            return;
        }
        let target = Vote {
            election_epoch: self.logical_clock,
            ..r.proposal
        };
        let all_agree = config.voters().all(|v| {
            v == self.me
                || self.unreachable.contains(&v)
                || r.recvset.get(&v).is_some_and(|n| n.same_as(&target))
        });
        if all_agree {
            r.finalize_at = Some(now);
            *step = self.tick(now, config);
        }
    }

    /// The vote this member reports.
    pub fn current_vote(&self) -> Vote {
        self.current
    }

    /// The logical clock (round).
    pub fn logical_clock(&self) -> i64 {
        self.logical_clock
    }

    /// Whether a round is running.
    pub fn is_looking(&self) -> bool {
        self.round.is_some()
    }

    /// Starts a round (`lookForLeader`): the clock moves on and this member proposes itself
    /// if it votes, with its last logged zxid and current epoch.
    pub fn start(
        &mut self,
        now: u64,
        last_logged: Zxid,
        current_epoch: u32,
        config: &EnsembleConfig,
    ) -> ElectionStep {
        self.logical_clock += 1;
        let init = if config.is_voter(self.me) {
            Vote {
                leader: self.me,
                zxid: last_logged,
                election_epoch: self.logical_clock,
                peer_epoch: i64::from(current_epoch),
                state: PeerState::Looking,
                version: 0,
            }
        } else {
            Vote {
                leader: ServerId(NO_VOTE),
                zxid: Zxid(NO_VOTE),
                election_epoch: self.logical_clock,
                peer_epoch: NO_VOTE,
                state: PeerState::Looking,
                version: 0,
            }
        };
        tracing::info!(
            me = %self.me, round = self.logical_clock, zxid = %last_logged, epoch = current_epoch,
            "election started (LOOKING)"
        );
        self.current = init;
        let timeout_ms = config.min_notification_interval_ms.max(1);
        self.round = Some(Round {
            init,
            proposal: init,
            recvset: BTreeMap::new(),
            outofelection: BTreeMap::new(),
            timeout_ms,
            resend_at: now + timeout_ms,
            finalize_at: None,
        });
        let mut step = ElectionStep::default();
        self.send_proposal(config, &mut step);
        self.drain_loopback(now, config, &mut step);
        step
    }

    /// The member settled in a role other than LOOKING outside a round's decision (it keeps
    /// the vote it has, with this state).
    pub fn settle(&mut self, state: PeerState) {
        self.round = None;
        self.current.state = state;
    }

    /// Once established, a member reports the new epoch in its vote (ZOOKEEPER-1732).
    pub fn established(&mut self, epoch: u32) {
        self.current.peer_epoch = i64::from(epoch);
    }

    /// When a timer of the round is due.
    pub fn next_deadline(&self) -> Option<u64> {
        let r = self.round.as_ref()?;
        Some(r.finalize_at.unwrap_or(r.resend_at))
    }

    /// Runs the round's timers: the quiet period ending decides; a poll timeout re-sends the
    /// proposal and doubles the timeout.
    pub fn tick(&mut self, now: u64, config: &EnsembleConfig) -> ElectionStep {
        let mut step = ElectionStep::default();
        let Some(r) = self.round.as_mut() else {
            return step;
        };
        if let Some(at) = r.finalize_at {
            if now >= at {
                let vote = Vote {
                    election_epoch: self.logical_clock,
                    ..r.proposal
                };
                self.decide(vote, config, &mut step);
            }
            return step;
        }
        if now >= r.resend_at {
            r.timeout_ms = (r.timeout_ms * 2).min(config.max_notification_interval_ms.max(1));
            r.resend_at = now + r.timeout_ms;
            self.send_proposal(config, &mut step);
            self.drain_loopback(now, config, &mut step);
        }
        step
    }

    /// A notification from `from` (ZooKeeper: `WorkerReceiver.run`, then the election loop).
    pub fn receive(
        &mut self,
        now: u64,
        from: ServerId,
        n: &Notification,
        config: &EnsembleConfig,
    ) -> ElectionStep {
        let mut step = ElectionStep::default();
        self.receive_one(now, from, n, config, &mut step);
        self.drain_loopback(now, config, &mut step);
        if step.decided.is_none() {
            let mut early = ElectionStep::default();
            self.decide_if_all_agree(now, config, &mut early);
            step.sends.extend(early.sends);
            step.decided = early.decided;
        }
        step
    }

    fn drain_loopback(&mut self, now: u64, config: &EnsembleConfig, step: &mut ElectionStep) {
        // Bounded: a notification to oneself never causes another in the same pass more
        // than a few times (a proposal change re-sends once).
        for _ in 0..16 {
            if self.loopback.is_empty() {
                return;
            }
            for n in std::mem::take(&mut self.loopback) {
                self.receive_one(now, self.me, &n, config, step);
            }
        }
    }

    fn receive_one(
        &mut self,
        now: u64,
        from: ServerId,
        n: &Notification,
        config: &EnsembleConfig,
        step: &mut ElectionStep,
    ) {
        // Unknown states are dropped.
        let Some(state) = n.peer_state() else {
            return;
        };
        if !config.is_voter(from) {
            // A looking non-voter (an observer, a member a reconfiguration removed) is
            // answered at once with this member's vote. A settled one is not: two members
            // whose configurations each make the other a non-voter would otherwise answer
            // each other's answers forever (a storm, with duplicated notifications, found
            // by the simulator: seed 1257 with reconfig). A non-voter answers another only
            // to hand it a newer configuration: two members a reconfiguration removed, with
            // the same configuration, otherwise answered each other's answers forever
            // (seed 2355, 5 voters with reconfig; ZooKeeper's non-voters never write to
            // each other, as they notify voters only).
            let answers = config.is_voter(self.me) || sent_with_older_config(n, config);
            if state == PeerState::Looking && answers {
                let reply = self.notification(self.current, self.logical_clock, config);
                step.sends.push((from, reply));
            }
            return;
        }
        if self.round.is_none() {
            // Settled: LOOKING voters hear who leads; settled senders are ignored.
            if state == PeerState::Looking && from != self.me {
                let reply = self.notification(self.current, self.current.election_epoch, config);
                step.sends.push((from, reply));
            }
            return;
        }
        // A voter in an older round hears this one's proposal (a non-voter's would count
        // nowhere, and answering a voter that answers every looking non-voter would loop).
        if state == PeerState::Looking
            && n.election_epoch < self.logical_clock
            && config.is_voter(self.me)
        {
            let proposal = self.round.as_ref().map_or(self.current, |r| r.proposal);
            let reply = self.notification(proposal, self.logical_clock, config);
            step.sends.push((from, reply));
        }
        let vote = Vote {
            leader: n.leader,
            zxid: n.zxid,
            election_epoch: n.election_epoch,
            peer_epoch: n.peer_epoch,
            state,
            version: n.version,
        };
        self.election_loop(now, from, vote, config, step);
    }

    /// One turn of `lookForLeader`'s loop with notification `n` from `from`.
    fn election_loop(
        &mut self,
        now: u64,
        from: ServerId,
        n: Vote,
        config: &EnsembleConfig,
        step: &mut ElectionStep,
    ) {
        let Some(r) = self.round.as_mut() else {
            return;
        };
        if r.finalize_at.is_some() {
            // The quiet period: a better vote reopens the round, anything else is dropped.
            if !n.beats(&r.proposal, config.can_lead(n.leader)) {
                r.finalize_at = Some(now + FINALIZE_WAIT_MS);
                return;
            }
            r.finalize_at = None;
        }
        r.resend_at = now + r.timeout_ms;
        if !config.is_voter(from) || !config.is_voter(n.leader) {
            return;
        }
        match n.state {
            PeerState::Looking => self.looking_vote(now, from, n, config, step),
            PeerState::Observing => {}
            PeerState::Following | PeerState::Leading => self.settled_vote(from, n, config, step),
        }
    }

    fn looking_vote(
        &mut self,
        now: u64,
        from: ServerId,
        n: Vote,
        config: &EnsembleConfig,
        step: &mut ElectionStep,
    ) {
        let Some(mut r) = self.round.take() else {
            return;
        };
        let changed = if n.election_epoch > self.logical_clock {
            self.logical_clock = n.election_epoch;
            r.recvset.clear();
            r.proposal = if n.beats(&r.init, config.can_lead(n.leader)) {
                n
            } else {
                r.init
            };
            true
        } else if n.election_epoch < self.logical_clock {
            self.round = Some(r);
            return;
        } else if n.beats(&r.proposal, config.can_lead(n.leader)) {
            r.proposal = n;
            true
        } else {
            false
        };
        r.proposal.state = PeerState::Looking;
        r.proposal.version = 0;
        let looking = Vote {
            state: PeerState::Looking,
            version: 0,
            ..n
        };
        r.recvset.insert(from, looking);
        let target = Vote {
            election_epoch: self.logical_clock,
            ..r.proposal
        };
        let agreeing = r.recvset.iter().filter(|(_, v)| v.same_as(&target));
        if config.is_quorum(agreeing.map(|(s, _)| s)) && r.finalize_at.is_none() {
            r.finalize_at = Some(now + FINALIZE_WAIT_MS);
        }
        self.current = target;
        self.round = Some(r);
        if changed {
            self.send_proposal(config, step);
        }
    }

    fn settled_vote(
        &mut self,
        from: ServerId,
        n: Vote,
        config: &EnsembleConfig,
        step: &mut ElectionStep,
    ) {
        let Some(mut r) = self.round.take() else {
            return;
        };
        let clock = self.logical_clock;
        if n.election_epoch == clock {
            r.recvset.insert(from, Vote { version: 0, ..n });
            let agreeing = r.recvset.iter().filter(|(_, v)| v.same_as(&n));
            if config.is_quorum(agreeing.map(|(s, _)| s))
                && check_leader(&r.recvset, self.me, n.leader, n.election_epoch, clock)
            {
                self.decide(n, config, step);
                return;
            }
        }
        r.outofelection.insert(from, n);
        let agreeing = r.outofelection.iter().filter(|(_, v)| v.same_as(&n));
        if config.is_quorum(agreeing.map(|(s, _)| s))
            && check_leader(&r.outofelection, self.me, n.leader, n.election_epoch, clock)
        {
            self.logical_clock = n.election_epoch;
            self.decide(n, config, step);
            return;
        }
        self.round = Some(r);
    }

    /// Ends the round on `vote`: LEADING if it names this member, else FOLLOWING or
    /// OBSERVING by this member's role.
    fn decide(&mut self, vote: Vote, config: &EnsembleConfig, step: &mut ElectionStep) {
        let state = if vote.leader == self.me {
            PeerState::Leading
        } else if config.is_voter(self.me) {
            PeerState::Following
        } else {
            PeerState::Observing
        };
        self.round = None;
        self.current = Vote {
            state,
            version: 0,
            ..vote
        };
        tracing::info!(
            me = %self.me, leader = %vote.leader, zxid = %vote.zxid, round = vote.election_epoch,
            epoch = vote.peer_epoch, state = state.name(), "election decided"
        );
        step.decided = Some(self.current);
    }

    /// Sends the proposal to every voter (to this member itself by loopback).
    fn send_proposal(&mut self, config: &EnsembleConfig, step: &mut ElectionStep) {
        let Some(r) = &self.round else {
            return;
        };
        let n = self.notification(r.proposal, self.logical_clock, config);
        for voter in config.voters() {
            if voter == self.me {
                self.loopback.push(n.clone());
            } else {
                step.sends.push((voter, n.clone()));
            }
        }
    }

    /// A notification of `vote` in round `election_epoch`, in this member's state.
    fn notification(
        &self,
        vote: Vote,
        election_epoch: i64,
        config: &EnsembleConfig,
    ) -> Notification {
        let state = if self.round.is_some() {
            PeerState::Looking
        } else {
            self.current.state
        };
        Notification {
            state: state as i32,
            leader: vote.leader,
            zxid: vote.zxid,
            election_epoch,
            peer_epoch: vote.peer_epoch,
            version: 2,
            config: config.config_text.as_bytes().to_vec(),
        }
    }
}

/// ZooKeeper's `checkLeader`: a leader other than this member must have told it is LEADING;
/// this member may lead only in its own round.
fn check_leader(
    votes: &BTreeMap<ServerId, Vote>,
    me: ServerId,
    leader: ServerId,
    election_epoch: i64,
    clock: i64,
) -> bool {
    if leader != me {
        votes
            .get(&leader)
            .is_some_and(|v| v.state == PeerState::Leading)
    } else {
        clock == election_epoch
    }
}

/// Whether `n` carries a configuration older than `config` (a readable one: Java members
/// without reconfig send none).
fn sent_with_older_config(n: &Notification, config: &EnsembleConfig) -> bool {
    std::str::from_utf8(&n.config)
        .ok()
        .and_then(|t| crate::config_text::ConfigText::parse(t).ok())
        .is_some_and(|c| c.version < config.config_version)
}

#[cfg(test)]
mod tests;
