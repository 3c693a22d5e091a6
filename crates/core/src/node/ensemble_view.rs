//! What the ensemble looks like from one member, for the operations surface (`srvr`,
//! `mntr`, the admin commands `leader`, `zabstate`, `observers`, `voting_view`).

use menagerie_proto::ServerId;
use menagerie_proto::quorum::PeerState;

use super::Node;
use super::ensemble::Role;
use crate::zab::leader::{Phase, ProposalSizes};
use crate::zab::learner::LearnerPhase;

/// ZooKeeper's `QuorumPeer.ZabState`: where a member stands in the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZabPhase {
    /// Electing a leader.
    Election,
    /// Agreeing on the new epoch.
    Discovery,
    /// Bringing learners up to the leader's history.
    Synchronization,
    /// Serving: proposals flow.
    Broadcast,
}

impl ZabPhase {
    /// The name ZooKeeper prints.
    pub fn name(self) -> &'static str {
        match self {
            ZabPhase::Election => "ELECTION",
            ZabPhase::Discovery => "DISCOVERY",
            ZabPhase::Synchronization => "SYNCHRONIZATION",
            ZabPhase::Broadcast => "BROADCAST",
        }
    }
}

/// One learner as its leader sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LearnerView {
    /// Its sid.
    pub sid: ServerId,
    /// An observer rather than a follower.
    pub observer: bool,
    /// In broadcast (ZooKeeper: a "forwarding" learner).
    pub synced: bool,
}

/// One member's view of its ensemble.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnsembleView {
    /// This member.
    pub me: ServerId,
    /// Its state.
    pub state: PeerState,
    /// Its protocol phase.
    pub phase: ZabPhase,
    /// The leader it follows or is (none while electing).
    pub leader: Option<ServerId>,
    /// `acceptedEpoch`.
    pub accepted_epoch: u32,
    /// `currentEpoch`.
    pub current_epoch: u32,
    /// When the state last changed (monotonic ms).
    pub since_ms: u64,
    /// Voting members (ZooKeeper's `quorum_size`).
    pub voters: usize,
    /// Whether this member votes.
    pub voting: bool,
    /// A leader's learners.
    pub learners: Vec<LearnerView>,
    /// A leader's forwarded syncs waiting for their commit.
    pub pending_syncs: usize,
    /// A leader's proposal sizes.
    pub proposal_sizes: Option<ProposalSizes>,
    /// Learners synced as leader since the start: (by DIFF or TRUNC, by SNAP).
    pub syncs_sent: (u64, u64),
    /// The active configuration's text (changes with dynamic reconfiguration).
    pub config_text: String,
    /// Rollover epoch changes this member led since the start (ADR 0014), and the longest
    /// time, ms, proposals waited for one.
    pub epoch_changes: (u64, u64),
}

impl Node {
    /// The member's view of its ensemble (`None` for a standalone server).
    pub fn ensemble_view(&self) -> Option<EnsembleView> {
        let zab = self.zab.as_ref()?;
        let me = self.config.server_id;
        let mut view = EnsembleView {
            me,
            state: self.peer_state()?,
            phase: ZabPhase::Election,
            leader: None,
            accepted_epoch: zab.accepted_epoch,
            current_epoch: zab.current_epoch,
            since_ms: zab.since.1,
            voters: zab.config.voters().count(),
            voting: zab.config.is_voter(me),
            learners: Vec::new(),
            pending_syncs: 0,
            proposal_sizes: None,
            syncs_sent: zab.syncs_sent,
            config_text: zab.config.config_text.clone(),
            epoch_changes: zab.epoch_changes,
        };
        match &self.role {
            Role::Leading(l) => {
                view.leader = Some(me);
                view.phase = if l.epoch().is_none() {
                    ZabPhase::Discovery
                } else if l.is_serving() {
                    ZabPhase::Broadcast
                } else {
                    ZabPhase::Synchronization
                };
                view.learners = l
                    .learners()
                    .iter()
                    .map(|(sid, h)| LearnerView {
                        sid: *sid,
                        observer: h.observer,
                        synced: h.phase == Phase::Broadcast,
                    })
                    .collect();
                view.pending_syncs = l.pending_syncs();
                view.proposal_sizes = Some(l.proposal_sizes());
            }
            Role::Learning(l) => {
                view.leader = Some(l.leader());
                view.phase = match l.phase() {
                    LearnerPhase::Connecting | LearnerPhase::AwaitLeaderInfo => ZabPhase::Discovery,
                    LearnerPhase::Broadcast => ZabPhase::Broadcast,
                    _ => ZabPhase::Synchronization,
                };
            }
            Role::Looking | Role::Standalone => {}
        }
        Some(view)
    }
}
