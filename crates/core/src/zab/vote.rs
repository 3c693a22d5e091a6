//! Votes as Fast Leader Election orders and compares them (ZooKeeper: `Vote`,
//! `FastLeaderElection.totalOrderPredicate`; spec 09 §3.4-§3.5).

use menagerie_proto::quorum::PeerState;
use menagerie_proto::{ServerId, Zxid};

/// A vote: who should lead, and the state of the member that casts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vote {
    /// The proposed or known leader.
    pub leader: ServerId,
    /// That leader's last logged zxid.
    pub zxid: Zxid,
    /// The election round the vote belongs to.
    pub election_epoch: i64,
    /// The leader's epoch.
    pub peer_epoch: i64,
    /// The state of the member that cast it.
    pub state: PeerState,
    /// The notification format it came in (0 for votes built locally).
    pub version: i32,
}

/// Java's `Long.MIN_VALUE`: the leader, zxid and epoch of a non-voter's initial vote.
pub const NO_VOTE: i64 = i64::MIN;

impl Vote {
    /// `(peerEpoch, zxid, leader)`: the order in which votes beat each other.
    fn rank(&self) -> (i64, i64, i64) {
        (self.peer_epoch, self.zxid.0, self.leader.0)
    }

    /// Whether `self` beats `current` (ZooKeeper: `totalOrderPredicate(new, current)`);
    /// `leader_can_lead` is false for a leader whose quorum weight is zero.
    pub fn beats(&self, current: &Vote, leader_can_lead: bool) -> bool {
        leader_can_lead && self.rank() > current.rank()
    }

    /// ZooKeeper's `Vote.equals`, which decides whether two votes count together: with a
    /// LOOKING vote on either side all of leader, zxid, round and epoch must match; between
    /// settled votes the leader must match, and the epoch too unless exactly one of them
    /// came in the version-0 form.
    pub fn same_as(&self, other: &Vote) -> bool {
        if self.state == PeerState::Looking || other.state == PeerState::Looking {
            return self.leader == other.leader
                && self.zxid == other.zxid
                && self.election_epoch == other.election_epoch
                && self.peer_epoch == other.peer_epoch;
        }
        if (self.version > 0) != (other.version > 0) {
            self.leader == other.leader
        } else {
            self.leader == other.leader && self.peer_epoch == other.peer_epoch
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vote(
        leader: i64,
        zxid: i64,
        round: i64,
        epoch: i64,
        state: PeerState,
        version: i32,
    ) -> Vote {
        Vote {
            leader: ServerId(leader),
            zxid: Zxid(zxid),
            election_epoch: round,
            peer_epoch: epoch,
            state,
            version,
        }
    }

    #[test]
    fn epoch_then_zxid_then_sid_decide() {
        let looking = PeerState::Looking;
        let base = vote(2, 10, 1, 1, looking, 0);
        assert!(
            vote(1, 0, 1, 2, looking, 0).beats(&base, true),
            "higher epoch"
        );
        assert!(
            vote(1, 11, 1, 1, looking, 0).beats(&base, true),
            "higher zxid"
        );
        assert!(
            vote(3, 10, 1, 1, looking, 0).beats(&base, true),
            "higher sid"
        );
        assert!(!vote(1, 10, 1, 1, looking, 0).beats(&base, true));
        assert!(!base.beats(&base, true), "a vote does not beat itself");
        assert!(
            !vote(3, 10, 1, 1, looking, 0).beats(&base, false),
            "zero weight"
        );
    }

    #[test]
    fn equality_depends_on_state_and_version() {
        let f = PeerState::Following;
        let l = PeerState::Looking;
        // LOOKING on either side: all four fields.
        assert!(vote(1, 5, 2, 1, l, 0).same_as(&vote(1, 5, 2, 1, f, 2)));
        assert!(!vote(1, 5, 2, 1, l, 0).same_as(&vote(1, 5, 3, 1, f, 2)));
        // Settled, versions differ in "> 0": leader only.
        assert!(vote(1, 5, 2, 1, f, 0).same_as(&vote(1, 9, 7, 4, f, 2)));
        // Settled, same kind of version: leader and epoch.
        assert!(vote(1, 5, 2, 1, f, 2).same_as(&vote(1, 9, 7, 1, f, 2)));
        assert!(!vote(1, 5, 2, 1, f, 2).same_as(&vote(1, 9, 7, 4, f, 2)));
    }
}
