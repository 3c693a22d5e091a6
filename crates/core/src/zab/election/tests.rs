//! The election's unit tests: members exchanging notifications in a small network.

use std::collections::VecDeque;

use super::*;
use crate::ensemble::MemberRole;

fn config(voters: &[i64], observers: &[i64]) -> EnsembleConfig {
    let mut m = BTreeMap::new();
    for v in voters {
        m.insert(ServerId(*v), MemberRole::Participant);
    }
    for o in observers {
        m.insert(ServerId(*o), MemberRole::Observer);
    }
    EnsembleConfig::new(m, "version=0".into())
}

/// Members exchanging notifications instantly, with a clock.
struct Net {
    config: EnsembleConfig,
    members: BTreeMap<ServerId, Election>,
    queue: VecDeque<(ServerId, ServerId, Notification)>,
    decided: BTreeMap<ServerId, Vote>,
    now: u64,
    /// Members whose messages are lost.
    down: Vec<ServerId>,
    /// Notifications delivered so far.
    delivered: usize,
}

impl Net {
    fn new(config: EnsembleConfig) -> Net {
        let members = config
            .members
            .keys()
            .map(|&s| (s, Election::new(s)))
            .collect();
        Net {
            config,
            members,
            queue: VecDeque::new(),
            decided: BTreeMap::new(),
            now: 0,
            down: Vec::new(),
            delivered: 0,
        }
    }

    fn absorb(&mut self, from: ServerId, step: ElectionStep) {
        for (to, n) in step.sends {
            self.queue.push_back((from, to, n));
        }
        if let Some(v) = step.decided {
            self.decided.insert(from, v);
        }
    }

    fn start(&mut self, sid: i64, zxid: Zxid, epoch: u32) {
        let sid = ServerId(sid);
        let Some(e) = self.members.get_mut(&sid) else {
            return;
        };
        self.decided.remove(&sid);
        let step = e.start(self.now, zxid, epoch, &self.config);
        self.absorb(sid, step);
    }

    /// Delivers messages and advances time until nothing is pending, for at most `ms`.
    fn run(&mut self, ms: u64) {
        let end = self.now + ms;
        while self.now <= end {
            for _ in 0..10_000 {
                let Some((from, to, n)) = self.queue.pop_front() else {
                    break;
                };
                if self.down.contains(&from) || self.down.contains(&to) {
                    continue;
                }
                let Some(e) = self.members.get_mut(&to) else {
                    continue;
                };
                self.delivered += 1;
                let step = e.receive(self.now, from, &n, &self.config);
                self.absorb(to, step);
            }
            self.now += 10;
            let sids: Vec<ServerId> = self.members.keys().copied().collect();
            for sid in sids {
                if self.down.contains(&sid) {
                    continue;
                }
                let step = self
                    .members
                    .get_mut(&sid)
                    .map(|e| e.tick(self.now, &self.config))
                    .unwrap_or_default();
                self.absorb(sid, step);
            }
        }
    }
}

/// Found by the simulator (seed 1257 with reconfig): a looking observer in a later round
/// than a looking voter told it so, the voter answered the observer as it answers every
/// looking non-voter, and the two answered each other without end.
#[test]
fn a_looking_observer_and_a_voter_in_an_older_round_do_not_answer_each_other_forever() {
    let mut net = Net::new(config(&[1, 2, 3], &[4]));
    net.down = vec![ServerId(1), ServerId(2)];
    for _ in 0..5 {
        net.start(4, Zxid::ZERO, 0);
    }
    net.queue.clear();
    net.start(3, Zxid::ZERO, 0);
    net.start(4, Zxid::ZERO, 0);
    net.run(1_000);
    assert!(net.decided.is_empty(), "no quorum: nobody decides");
    assert!(
        net.delivered < 200,
        "{} notifications in a simulated second",
        net.delivered
    );
}

/// Found by the simulator (seed 2355, 5 voters with reconfig): two looking members a
/// reconfiguration had removed, with the same configuration, each answered the other's
/// notification as a looking non-voter's, without end.
#[test]
fn two_looking_non_voters_do_not_answer_each_other_forever() {
    let mut net = Net::new(config(&[1, 2, 3], &[4, 5]));
    net.down = vec![ServerId(1), ServerId(2), ServerId(3)];
    net.start(4, Zxid::ZERO, 0);
    net.start(5, Zxid::ZERO, 0);
    // One notification between them (in the run, from a configuration in which the
    // other still voted).
    let first =
        net.members[&ServerId(5)].notification(net.members[&ServerId(5)].current, 1, &net.config);
    net.queue.push_back((ServerId(5), ServerId(4), first));
    net.run(1_000);
    assert!(net.decided.is_empty(), "no voter: nobody decides");
    assert!(
        net.delivered < 200,
        "{} notifications in a simulated second",
        net.delivered
    );
}

#[test]
fn three_fresh_members_elect_the_highest_sid() {
    let mut net = Net::new(config(&[1, 2, 3], &[]));
    for s in 1..=3 {
        net.start(s, Zxid::ZERO, 0);
    }
    net.run(2_000);
    assert_eq!(net.decided.len(), 3, "{:?}", net.decided);
    for (sid, v) in &net.decided {
        assert_eq!(v.leader, ServerId(3));
        let want = if sid.0 == 3 {
            PeerState::Leading
        } else {
            PeerState::Following
        };
        assert_eq!(v.state, want);
    }
}

#[test]
fn the_member_with_the_newest_history_wins_over_higher_sids() {
    let mut net = Net::new(config(&[1, 2, 3], &[]));
    net.start(1, Zxid::new(2, 5), 2);
    net.start(2, Zxid::new(2, 9), 2);
    net.start(3, Zxid::new(1, 100), 1);
    net.run(2_000);
    assert!(
        net.decided.values().all(|v| v.leader == ServerId(2)),
        "{:?}",
        net.decided
    );
}

#[test]
fn a_majority_decides_without_the_missing_member_and_it_joins_later() {
    let mut net = Net::new(config(&[1, 2, 3], &[]));
    net.down = vec![ServerId(3)];
    net.start(1, Zxid::ZERO, 0);
    net.start(2, Zxid::ZERO, 0);
    net.run(2_000);
    assert_eq!(
        net.decided.get(&ServerId(2)).map(|v| v.state),
        Some(PeerState::Leading)
    );
    assert_eq!(
        net.decided.get(&ServerId(1)).map(|v| v.leader),
        Some(ServerId(2))
    );
    // Established: each reports the new epoch (ZOOKEEPER-1732).
    for s in [1, 2] {
        if let Some(e) = net.members.get_mut(&ServerId(s)) {
            e.established(1);
        }
    }
    // Member 3 comes back with a higher sid but nothing newer: it follows 2 through
    // the settled votes (outofelection), whatever its round.
    net.down.clear();
    net.start(3, Zxid::ZERO, 0);
    net.run(2_000);
    let v = net.decided.get(&ServerId(3)).expect("3 decided");
    assert_eq!((v.leader, v.state), (ServerId(2), PeerState::Following));
}

/// A member whose election connection closed (a killed leader) cannot send a better
/// vote: the survivors decide as soon as they agree instead of waiting `finalizeWait`.
#[test]
fn survivors_decide_at_once_when_the_missing_member_is_known_gone() {
    for known_gone in [false, true] {
        let mut net = Net::new(config(&[1, 2, 3], &[]));
        net.down = vec![ServerId(3)];
        if known_gone {
            for s in [1, 2] {
                if let Some(e) = net.members.get_mut(&ServerId(s)) {
                    let step = e.link(0, ServerId(3), false, &net.config);
                    assert!(step.decided.is_none(), "not looking yet");
                }
            }
        }
        net.start(1, Zxid::ZERO, 0);
        net.start(2, Zxid::ZERO, 0);
        net.run(0);
        let decided = net.decided.len();
        assert_eq!(
            decided,
            if known_gone { 2 } else { 0 },
            "known gone: {known_gone}"
        );
        net.run(FINALIZE_WAIT_MS + 20);
        assert_eq!(net.decided.len(), 2);
        assert!(net.decided.values().all(|v| v.leader == ServerId(2)));
    }
}

#[test]
fn an_observer_learns_the_leader_from_the_voters() {
    let mut net = Net::new(config(&[1, 2, 3], &[4]));
    for s in 1..=4 {
        net.start(s, Zxid::ZERO, 0);
    }
    net.run(3_000);
    let v = net.decided.get(&ServerId(4)).expect("observer decided");
    assert_eq!((v.leader, v.state), (ServerId(3), PeerState::Observing));
    assert!(
        !net.decided.values().any(|v| v.leader == ServerId(4)),
        "an observer never leads"
    );
}

#[test]
fn notifications_carry_the_round_and_the_config_text() {
    let config = config(&[1, 2, 3], &[]);
    let mut e = Election::new(ServerId(1));
    let step = e.start(0, Zxid::new(1, 7), 1, &config);
    assert_eq!(step.sends.len(), 2, "to the other two voters");
    let n = &step.sends[0].1;
    assert_eq!(
        (
            n.state,
            n.leader,
            n.zxid,
            n.election_epoch,
            n.peer_epoch,
            n.version
        ),
        (0, ServerId(1), Zxid::new(1, 7), 1, 1, 2)
    );
    assert_eq!(n.config, b"version=0");
    // Nothing arrives: re-sent after 200 ms, then after 400 more.
    assert!(e.tick(199, &config).sends.is_empty());
    assert_eq!(e.tick(200, &config).sends.len(), 2);
    assert!(e.tick(599, &config).sends.is_empty());
    assert_eq!(e.tick(600, &config).sends.len(), 2);
}
