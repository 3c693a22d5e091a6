//! The ensemble as the core sees it: who the members are, which of them vote, and the timing
//! knobs of the quorum protocol (spec 09 §1, §3.7, §11). Addresses are the shell's business;
//! the core knows members by [`ServerId`].

use std::collections::BTreeMap;

use menagerie_proto::ServerId;

use crate::planted::PlantedBug;

/// A member's role in the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberRole {
    /// Votes in elections and acknowledges proposals.
    Participant,
    /// Serves clients and learns committed txns; never votes.
    Observer,
}

/// The quorum settings of one member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnsembleConfig {
    /// Every member of the configuration and its role.
    pub members: BTreeMap<ServerId, MemberRole>,
    /// The configuration text as FLE notifications and NEWLEADER carry it, and as
    /// `/zookeeper/config` holds it (spec 09 §1.5): `server.N=...` lines and `version=<hex>`.
    pub config_text: String,
    /// The configuration's version (0 unless reconfig is enabled).
    pub config_version: i64,
    /// `initLimit`, in ticks.
    pub init_limit: u64,
    /// `syncLimit`, in ticks.
    pub sync_limit: u64,
    /// `zookeeper.fastleader.minNotificationInterval`, ms.
    pub min_notification_interval_ms: u64,
    /// `zookeeper.fastleader.maxNotificationInterval`, ms.
    pub max_notification_interval_ms: u64,
    /// How many committed txns the leader keeps in memory to sync learners by DIFF
    /// (`zookeeper.commitLogCount`; at least 500).
    pub commit_log_count: usize,
    /// `syncEnabled` (observers): log INFORMed txns before applying them.
    pub observer_sync_enabled: bool,
    /// A mistake planted for the simulator's checker ([`PlantedBug::None`] on real servers).
    pub planted_bug: PlantedBug,
}

/// FLE's quiet period before deciding (`FastLeaderElection.finalizeWait`, a constant).
pub const FINALIZE_WAIT_MS: u64 = 200;

impl EnsembleConfig {
    /// A configuration of `members` with Java's defaults for everything else.
    pub fn new(members: BTreeMap<ServerId, MemberRole>, config_text: String) -> EnsembleConfig {
        EnsembleConfig {
            members,
            config_text,
            config_version: 0,
            init_limit: 10,
            sync_limit: 5,
            min_notification_interval_ms: 200,
            max_notification_interval_ms: 60_000,
            commit_log_count: 500,
            observer_sync_enabled: true,
            planted_bug: PlantedBug::None,
        }
    }

    /// Whether `sid` votes.
    pub fn is_voter(&self, sid: ServerId) -> bool {
        self.members.get(&sid) == Some(&MemberRole::Participant)
    }

    /// The voting members.
    pub fn voters(&self) -> impl Iterator<Item = ServerId> + '_ {
        self.members
            .iter()
            .filter(|(_, r)| **r == MemberRole::Participant)
            .map(|(s, _)| *s)
    }

    /// Whether `acks` (any set of sids) holds a majority of the voters (ZooKeeper:
    /// `QuorumMaj.containsQuorum`; non-voters in `acks` do not count).
    pub fn is_quorum<'a>(&self, acks: impl IntoIterator<Item = &'a ServerId>) -> bool {
        let votes = acks.into_iter().filter(|s| self.is_voter(**s)).count();
        votes > self.voters().count() / 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(voters: &[i64], observers: &[i64]) -> EnsembleConfig {
        let mut m = BTreeMap::new();
        for v in voters {
            m.insert(ServerId(*v), MemberRole::Participant);
        }
        for o in observers {
            m.insert(ServerId(*o), MemberRole::Observer);
        }
        EnsembleConfig::new(m, String::new())
    }

    #[test]
    fn majorities_count_voters_only() {
        let c = config(&[1, 2, 3], &[4]);
        assert!(!c.is_quorum(&[ServerId(1)]));
        assert!(!c.is_quorum(&[ServerId(1), ServerId(4)]));
        assert!(c.is_quorum(&[ServerId(1), ServerId(3)]));
        let c = config(&[1, 2, 3, 4], &[]);
        assert!(!c.is_quorum(&[ServerId(1), ServerId(2)]));
        assert!(c.is_quorum(&[ServerId(1), ServerId(2), ServerId(4)]));
        assert!(config(&[1], &[]).is_quorum(&[ServerId(1)]));
    }
}
