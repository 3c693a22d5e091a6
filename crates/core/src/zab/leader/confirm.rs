//! Leadership confirmation for linearizable reads (a Menagerie extension; ZooKeeper has
//! none): a read index is served only after a quorum of voters answered a PING the leader
//! sent after the read arrived, which proves that no other leader could have committed
//! anything the read must see. Reads that arrive while a round is in flight share the next
//! round, so a burst of reads costs one PING per learner, not one per read.
//!
//! No new packet is needed: learners (Java's too) answer every PING with one PING, in order,
//! on the link, so the n-th reply on a link answers the n-th PING sent on it.

use std::collections::BTreeMap;

use menagerie_proto::ServerId;

use crate::ensemble::EnsembleConfig;

/// Confirmation rounds and the PING counts they are judged by.
#[derive(Debug, Clone, Default)]
pub struct Confirmations {
    /// PINGs sent on each learner's current link.
    sent: BTreeMap<ServerId, u64>,
    /// PING replies received on each learner's current link.
    replied: BTreeMap<ServerId, u64>,
    /// The round in flight and the reply count each learner must reach for it.
    in_flight: Option<(u64, BTreeMap<ServerId, u64>)>,
    /// Someone waits for the round after the one in flight.
    wanted: bool,
    /// The id of the next round to start.
    next_id: u64,
}

/// What a caller joining a round must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Joined {
    /// The round whose confirmation releases the caller.
    pub round: u64,
    /// Whether the caller must start it now (PING every learner, then `started`).
    pub start: bool,
}

impl Confirmations {
    /// A PING went to `to`.
    pub fn sent(&mut self, to: ServerId) {
        *self.sent.entry(to).or_default() += 1;
    }

    /// `from` answered a PING.
    pub fn replied(&mut self, from: ServerId) {
        *self.replied.entry(from).or_default() += 1;
    }

    /// `peer`'s link is new or gone: its counts start again. Every PING on a new link is
    /// sent after the round in flight started, so for that round its first reply counts.
    pub fn reset(&mut self, peer: ServerId) {
        self.sent.remove(&peer);
        self.replied.remove(&peer);
        if let Some((_, targets)) = &mut self.in_flight {
            targets.insert(peer, 1);
        }
    }

    /// A read (or a learner's sync) asks for confirmation: the round it waits for.
    pub fn join(&mut self) -> Joined {
        match &self.in_flight {
            Some((id, _)) => {
                self.wanted = true;
                Joined {
                    round: id + 1,
                    start: false,
                }
            }
            None => Joined {
                round: self.next_id,
                start: true,
            },
        }
    }

    /// The round `round` started: the PINGs for it were just sent (counted by `sent`).
    pub fn started(&mut self, round: u64) {
        assert!(self.in_flight.is_none(), "one confirmation round at a time");
        assert_eq!(round, self.next_id, "rounds start in order");
        self.next_id += 1;
        self.wanted = false;
        self.in_flight = Some((round, self.sent.clone()));
    }

    /// The round in flight if a quorum of voters (with `me`) has answered a PING sent for
    /// it; it is then over. Also says whether another round is wanted.
    pub fn confirmed(&mut self, me: ServerId, config: &EnsembleConfig) -> Option<(u64, bool)> {
        let (id, targets) = self.in_flight.as_ref()?;
        let mut answered: Vec<ServerId> = targets
            .iter()
            .filter(|(s, n)| self.replied.get(s).copied().unwrap_or(0) >= **n)
            .map(|(s, _)| *s)
            .collect();
        answered.push(me);
        if !config.is_quorum(&answered) {
            return None;
        }
        let id = *id;
        self.in_flight = None;
        Some((id, self.wanted))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ensemble::MemberRole;

    fn config() -> EnsembleConfig {
        let members = [1, 2, 3]
            .into_iter()
            .map(|s| (ServerId(s), MemberRole::Participant))
            .collect();
        EnsembleConfig::new(members, String::new())
    }

    #[test]
    fn a_round_needs_a_reply_to_a_ping_sent_after_it_started() {
        let (me, a, b) = (ServerId(3), ServerId(1), ServerId(2));
        let mut c = Confirmations::default();
        // A PING sent before the round and its reply arriving after do not count.
        c.sent(a);
        let j = c.join();
        assert_eq!(
            j,
            Joined {
                round: 0,
                start: true
            }
        );
        c.sent(a);
        c.sent(b);
        c.started(j.round);
        c.replied(a);
        assert_eq!(
            c.confirmed(me, &config()),
            None,
            "that reply answers the older ping"
        );
        // Reads arriving now share the next round.
        assert_eq!(
            c.join(),
            Joined {
                round: 1,
                start: false
            }
        );
        assert_eq!(
            c.join(),
            Joined {
                round: 1,
                start: false
            }
        );
        c.replied(a);
        assert_eq!(c.confirmed(me, &config()), Some((0, true)));
        assert_eq!(
            c.join(),
            Joined {
                round: 1,
                start: true
            }
        );
    }

    #[test]
    fn a_learner_that_reconnects_confirms_with_its_first_reply() {
        let (me, a, b) = (ServerId(3), ServerId(1), ServerId(2));
        let mut c = Confirmations::default();
        for _ in 0..3 {
            c.sent(a);
            c.sent(b);
        }
        let j = c.join();
        c.started(j.round);
        c.reset(a);
        assert_eq!(
            c.confirmed(me, &config()),
            None,
            "the leader alone is no quorum"
        );
        c.sent(a);
        c.replied(a);
        assert_eq!(c.confirmed(me, &config()), Some((0, false)));
        let mut alone = Confirmations::default();
        let single = EnsembleConfig::new(
            [(me, MemberRole::Participant)].into_iter().collect(),
            String::new(),
        );
        let j = alone.join();
        alone.started(j.round);
        assert_eq!(alone.confirmed(me, &single), Some((0, false)));
    }
}
