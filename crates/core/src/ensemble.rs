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
    /// `menagerie.commitLogBytes`: beyond `commit_log_count`, committed txns kept while they
    /// take at most this many bytes, so that a member a few thousand txns behind syncs by
    /// DIFF (0: the count alone, as ZooKeeper's in-memory log).
    pub commit_log_bytes: usize,
    /// `syncEnabled` (observers): log INFORMed txns before applying them.
    pub observer_sync_enabled: bool,
    /// A mistake planted for the simulator's checker ([`PlantedBug::None`] on real servers).
    pub planted_bug: PlantedBug,
    /// Hierarchical quorums (`group.N`, `weight.N`); `None` for majorities.
    pub hierarchy: Option<Hierarchy>,
    /// `menagerie.linearizableReads`: reads wait for a leadership confirmation round and
    /// the leader answers learners' syncs only after one (a Menagerie extension).
    pub linearizable_reads: bool,
    /// `menagerie.linearizableSync`: `sync` waits for a leadership confirmation round, so a
    /// session's `sync` followed by a read is linearizable (the opt-in for one session's
    /// reads, a Menagerie extension; ZooKeeper's sync+read is not).
    pub linearizable_sync: bool,
    /// `reconfigEnabled`: the configuration may change at run time (the reconfig
    /// operation, newer configurations adopted from peers; spec 09 §10).
    pub reconfig_enabled: bool,
}

/// Hierarchical quorums (ZooKeeper's `QuorumHierarchical`): voters in disjoint groups, each
/// with a weight. A set is a quorum when more than half of the groups of non-zero weight
/// have more than half of their weight in it; a member of weight 0 votes but never leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// Each voter's group.
    pub group_of: BTreeMap<ServerId, u64>,
    /// Each member's weight (participants without `weight.N` have 1).
    pub weights: BTreeMap<ServerId, u64>,
}

impl Hierarchy {
    /// The total weight of every group.
    fn group_weights(&self) -> BTreeMap<u64, u64> {
        let mut totals = BTreeMap::new();
        for (sid, gid) in &self.group_of {
            *totals.entry(*gid).or_insert(0) += self.weights.get(sid).copied().unwrap_or(0);
        }
        totals
    }

    /// ZooKeeper's `QuorumHierarchical.containsQuorum`.
    fn contains_quorum(&self, sids: &std::collections::BTreeSet<ServerId>) -> bool {
        if sids.is_empty() {
            return false;
        }
        let mut acked: BTreeMap<u64, u64> = BTreeMap::new();
        for sid in sids {
            if let Some(gid) = self.group_of.get(sid) {
                *acked.entry(*gid).or_insert(0) += self.weights.get(sid).copied().unwrap_or(0);
            }
        }
        let totals = self.group_weights();
        let groups = totals.values().filter(|w| **w > 0).count();
        let counting = acked
            .iter()
            .filter(|(gid, w)| **w > totals.get(gid).copied().unwrap_or(0) / 2)
            .count();
        counting > groups / 2
    }
}

/// FLE's quiet period before deciding (`FastLeaderElection.finalizeWait`, a constant).
pub const FINALIZE_WAIT_MS: u64 = 200;

/// The default of `menagerie.commitLogBytes` (8 MiB: about 20,000 small txns).
pub const DEFAULT_COMMIT_LOG_BYTES: usize = 8 << 20;

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
            commit_log_bytes: DEFAULT_COMMIT_LOG_BYTES,
            observer_sync_enabled: true,
            planted_bug: PlantedBug::None,
            hierarchy: None,
            linearizable_reads: false,
            linearizable_sync: false,
            reconfig_enabled: false,
        }
    }

    /// Whether `sid` may be elected: hierarchical quorums never elect a member of weight 0
    /// (ZooKeeper's `totalOrderPredicate`); with majorities everyone may.
    pub fn can_lead(&self, sid: ServerId) -> bool {
        match &self.hierarchy {
            Some(h) => h.weights.get(&sid).is_some_and(|w| *w > 0),
            None => true,
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

    /// Whether `acks` (any set of sids) holds a quorum of the voters: a majority
    /// (ZooKeeper: `QuorumMaj.containsQuorum`) or, with groups, a majority of groups
    /// (`QuorumHierarchical.containsQuorum`). Non-voters in `acks` do not count.
    pub fn is_quorum<'a>(&self, acks: impl IntoIterator<Item = &'a ServerId>) -> bool {
        let votes: std::collections::BTreeSet<ServerId> = acks
            .into_iter()
            .filter(|s| self.is_voter(**s))
            .copied()
            .collect();
        match &self.hierarchy {
            Some(h) => h.contains_quorum(&votes),
            None => votes.len() > self.voters().count() / 2,
        }
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

    fn hierarchical(groups: &[(u64, &[i64])], weights: &[(i64, u64)]) -> EnsembleConfig {
        let voters: Vec<i64> = groups.iter().flat_map(|(_, m)| m.iter().copied()).collect();
        let mut c = config(&voters, &[]);
        let mut h = Hierarchy {
            group_of: BTreeMap::new(),
            weights: voters.iter().map(|s| (ServerId(*s), 1)).collect(),
        };
        for (gid, members) in groups {
            for m in *members {
                h.group_of.insert(ServerId(*m), *gid);
            }
        }
        for (sid, w) in weights {
            h.weights.insert(ServerId(*sid), *w);
        }
        c.hierarchy = Some(h);
        c
    }

    fn ids(v: &[i64]) -> Vec<ServerId> {
        v.iter().map(|s| ServerId(*s)).collect()
    }

    #[test]
    fn hierarchical_quorums_need_a_majority_of_groups_each_by_weight() {
        // Three groups of three: two whole-enough groups suffice, five scattered servers do not.
        let c = hierarchical(&[(1, &[1, 2, 3]), (2, &[4, 5, 6]), (3, &[7, 8, 9])], &[]);
        assert!(c.is_quorum(&ids(&[1, 2, 4, 5])));
        assert!(!c.is_quorum(&ids(&[1, 2, 4, 7])), "only group 1 past half");
        assert!(
            !c.is_quorum(&ids(&[1, 2, 3, 4, 7])),
            "five of nine, one group"
        );
        assert!(!c.is_quorum(&ids(&[])));
        // Groups of one and two: {3, 4} is a quorum of 4 servers (2 of 3 groups).
        let c = hierarchical(&[(1, &[1, 2]), (2, &[3]), (3, &[4])], &[]);
        assert!(c.is_quorum(&ids(&[3, 4])));
        assert!(
            !c.is_quorum(&ids(&[1, 3])),
            "1 of 2 in group 1 is not more than half"
        );
        // Weights: server 1 carries its group; a zero-weight group does not count.
        let c = hierarchical(&[(1, &[1, 2, 3]), (2, &[4]), (3, &[5])], &[(1, 3), (5, 0)]);
        assert!(
            c.is_quorum(&ids(&[1, 4])),
            "weight 3 of 5 in group 1, group 2: 2 of 2 groups"
        );
        assert!(
            !c.is_quorum(&ids(&[2, 3, 5])),
            "weight 2 of 5 and a zero group"
        );
        assert!(!c.can_lead(ServerId(5)));
        assert!(c.can_lead(ServerId(1)));
    }
}
