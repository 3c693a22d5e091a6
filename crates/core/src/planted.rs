//! [`PlantedBug`]: mistakes the deterministic simulator (`menagerie-sim`) plants on purpose,
//! to prove that its checker notices them. Each is switched on by
//! [`EnsembleConfig::planted_bug`](crate::ensemble::EnsembleConfig::planted_bug) and is
//! checked at exactly one place in the Zab code (search for the variant's name). The default,
//! [`PlantedBug::None`], is what every real server runs; no configuration key sets another.

/// A known mistake, planted in an ensemble member for the simulator's tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord, Hash)]
pub enum PlantedBug {
    /// No mistake: the real protocol.
    #[default]
    None,
    /// A follower acknowledges a PROPOSAL as soon as it hands it to the log, before the
    /// fsync (`zab::learner`, `propose`).
    AckBeforeFsync,
    /// The leader commits the newest proposal that has a quorum first instead of the oldest
    /// (`zab::leader::broadcast`, `try_commit`).
    CommitOutOfOrder,
    /// A learner serves clients once it has acknowledged NEWLEADER, before UPTODATE
    /// (`zab::learner`, `is_serving`).
    ServeBeforeUpToDate,
    /// The leader commits a proposal once it is durable on the leader, without waiting for a
    /// quorum of acknowledgements (`zab::leader::broadcast`, `try_commit`).
    NoQuorumWait,
    /// A learner tells a client resuming its session there that the session expired, without
    /// asking the leader (`node::roles`, `revalidate`).
    LocalExpiry,
    /// A learner accepts a new epoch (ACKEPOCH) without writing `acceptedEpoch`
    /// (`zab::learner`, `leader_info`).
    EpochNotDurable,
    /// With linearizable reads on, reads are answered at once, without waiting for a
    /// confirmation round (`node::linearizable`, `reads_linearized`).
    SkipReadRound,
}

impl PlantedBug {
    /// Every planted mistake (not [`PlantedBug::None`]).
    pub const ALL: [PlantedBug; 7] = [
        PlantedBug::AckBeforeFsync,
        PlantedBug::CommitOutOfOrder,
        PlantedBug::ServeBeforeUpToDate,
        PlantedBug::NoQuorumWait,
        PlantedBug::LocalExpiry,
        PlantedBug::EpochNotDurable,
        PlantedBug::SkipReadRound,
    ];

    /// The name on the simulator's command line (`menagerie sim --bug NAME`).
    pub fn name(self) -> &'static str {
        match self {
            PlantedBug::None => "none",
            PlantedBug::AckBeforeFsync => "ack-before-fsync",
            PlantedBug::CommitOutOfOrder => "commit-out-of-order",
            PlantedBug::ServeBeforeUpToDate => "serve-before-uptodate",
            PlantedBug::NoQuorumWait => "no-quorum-wait",
            PlantedBug::LocalExpiry => "local-expiry",
            PlantedBug::EpochNotDurable => "epoch-not-durable",
            PlantedBug::SkipReadRound => "skip-read-round",
        }
    }

    /// The mistake called `name` (see [`PlantedBug::name`]).
    pub fn from_name(name: &str) -> Option<PlantedBug> {
        std::iter::once(PlantedBug::None)
            .chain(PlantedBug::ALL)
            .find(|b| b.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for b in PlantedBug::ALL {
            assert_eq!(PlantedBug::from_name(b.name()), Some(b));
        }
        assert_eq!(PlantedBug::from_name("none"), Some(PlantedBug::None));
        assert_eq!(PlantedBug::from_name("nonsense"), None);
    }
}
