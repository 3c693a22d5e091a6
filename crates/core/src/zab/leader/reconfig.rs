//! The leader's side of dynamic reconfiguration (ZooKeeper: `Leader.propose` with a
//! reconfig, `Proposal.hasAllQuorums`, `getDesignatedLeader`, `commitAndActivate`,
//! `informAndActivate`; spec 09 §10). One reconfiguration at a time: from its proposal
//! until its commit, it and every later proposal need a quorum of the old configuration
//! and one of the new.

use std::collections::BTreeSet;
use std::sync::Arc;

use menagerie_proto::quorum::{PacketType, QuorumPacket};
use menagerie_proto::txn::LoggedTxn;
use menagerie_proto::{ServerId, Zxid};

use super::Leader;
use crate::config_text::ConfigText;
use crate::ensemble::EnsembleConfig;
use crate::zab::action::{Action, Actions};

/// A reconfiguration proposed and not yet committed.
#[derive(Debug, Clone)]
pub struct PendingConfig {
    /// The reconfig txn's zxid.
    pub zxid: Zxid,
    /// The configuration it activates.
    pub config: EnsembleConfig,
}

impl Leader {
    /// Broadcasts a reconfig txn; until it commits, proposals need both configurations'
    /// quorums.
    pub fn propose_reconfig(
        &mut self,
        txn: Arc<LoggedTxn>,
        config: EnsembleConfig,
        acts: &mut Actions,
    ) {
        assert!(
            self.pending_config.is_none(),
            "one reconfiguration at a time"
        );
        self.pending_config = Some(PendingConfig {
            zxid: txn.zxid(),
            config,
        });
        self.propose(txn, acts);
    }

    /// Whether a reconfiguration is proposed and not committed (ZooKeeper: the last seen
    /// configuration is newer than the committed one).
    pub fn reconfig_in_progress(&self) -> bool {
        self.pending_config.is_some()
    }

    /// Whether an ack from `sid` counts: it votes in the configuration or in the one
    /// being proposed.
    pub(super) fn counts_acks_of(&self, sid: ServerId, config: &EnsembleConfig) -> bool {
        config.is_voter(sid)
            || self
                .pending_config
                .as_ref()
                .is_some_and(|p| p.config.is_voter(sid))
    }

    /// Whether the proposal at `zxid` has every quorum it needs.
    pub(super) fn has_all_quorums(
        &self,
        zxid: Zxid,
        acks: &BTreeSet<ServerId>,
        config: &EnsembleConfig,
    ) -> bool {
        let pending_ok = match &self.pending_config {
            Some(p) if zxid >= p.zxid => p.config.is_quorum(acks),
            _ => true,
        };
        config.is_quorum(acks) && pending_ok
    }

    /// If `zxid` is the pending reconfiguration, commits it: COMMITANDACTIVATE to
    /// followers, INFORMANDACTIVATE to observers, then the node applies it and activates
    /// the configuration. Returns false if `zxid` is not a reconfiguration.
    pub(super) fn commit_reconfig(
        &mut self,
        txn: &Arc<LoggedTxn>,
        acks: &BTreeSet<ServerId>,
        config: &EnsembleConfig,
        acts: &mut Actions,
    ) -> bool {
        let zxid = txn.zxid();
        let Some(pending) = self.pending_config.take_if(|p| p.zxid == zxid) else {
            return false;
        };
        let designated = self.designated_leader(&pending.config, config, acks);
        tracing::info!(zxid = %zxid, designated = %designated, version = %format_args!("{:x}", pending.config.config_version),
            "committing a reconfiguration");
        self.last_committed = zxid;
        let sid = designated.0.to_be_bytes();
        self.deliver_to_learners(
            |observer| {
                if observer {
                    let mut data = sid.to_vec();
                    data.extend_from_slice(&txn.to_bytes());
                    QuorumPacket::with_data(PacketType::InformAndActivate, zxid, data)
                } else {
                    QuorumPacket::with_data(PacketType::CommitAndActivate, zxid, sid.to_vec())
                }
            },
            acts,
        );
        acts.push(Action::Commit(Arc::clone(txn)));
        acts.push(Action::Activate {
            text: pending.config.config_text.clone(),
            designated,
        });
        true
    }

    /// The leader of the new configuration: this one if it votes there with the same
    /// quorum address; else the new configuration's voter that acknowledged the
    /// reconfiguration and the most of the proposals after it (the most up to date).
    fn designated_leader(
        &self,
        new: &EnsembleConfig,
        old: &EnsembleConfig,
        acks: &BTreeSet<ServerId>,
    ) -> ServerId {
        let quorum_addrs = |c: &EnsembleConfig| {
            ConfigText::parse(&c.config_text)
                .ok()
                .and_then(|t| t.servers.get(&self.me).map(|s| s.quorum_addrs()))
        };
        if new.is_voter(self.me) && quorum_addrs(new) == quorum_addrs(old) {
            return self.me;
        }
        let mut candidates: BTreeSet<ServerId> = acks
            .iter()
            .filter(|s| **s != self.me && new.is_voter(**s))
            .copied()
            .collect();
        let mut best = candidates.iter().next().copied().unwrap_or(self.me);
        for (_, later_acks) in self.outstanding.values() {
            let narrowed: BTreeSet<ServerId> =
                candidates.intersection(later_acks).copied().collect();
            if narrowed.is_empty() {
                break;
            }
            candidates = narrowed;
            best = candidates.iter().next().copied().unwrap_or(best);
        }
        best
    }

    /// Takes `seen`, a reconfiguration in the history this leader brings that is newer
    /// than its active configuration (ZooKeeper's last seen quorum verifier): NEWLEADER
    /// carries it, its quorum needs a quorum of it as well, and the leader activates it
    /// once serving (ZooKeeper's `Leader.lead`, ZOOKEEPER-1324).
    pub fn adopt_last_seen(&mut self, seen: EnsembleConfig) {
        tracing::info!(version = %format_args!("{:x}", seen.config_version),
            "the history holds a reconfiguration not activated; NEWLEADER carries it");
        if self.epoch.is_some() && self.establishing.is_some() {
            self.restamped = Some(seen.config_text.clone());
        }
        self.last_seen = Some(seen);
    }

    /// Whether `acks` make a NEWLEADER quorum: of the active configuration, and of the last
    /// seen one if any.
    pub(super) fn is_newleader_quorum(
        &self,
        config: &EnsembleConfig,
        acks: &BTreeSet<ServerId>,
    ) -> bool {
        config.is_quorum(acks) && self.last_seen.as_ref().is_none_or(|c| c.is_quorum(acks))
    }

    /// The leader of the last seen configuration once it is activated: this one if it votes
    /// there; else a voter of it that acknowledged NEWLEADER.
    pub(super) fn designated_by_newleader(
        &self,
        seen: &EnsembleConfig,
        acks: &BTreeSet<ServerId>,
    ) -> ServerId {
        if seen.is_voter(self.me) {
            return self.me;
        }
        acks.iter()
            .find(|s| **s != self.me && seen.is_voter(**s))
            .copied()
            .unwrap_or(self.me)
    }

    /// After the node activated a configuration: learners outside it are let go, and what
    /// waited for the old configuration's quorum is committed under the new one.
    pub fn activated(&mut self, config: &EnsembleConfig, acts: &mut Actions) {
        let gone: Vec<ServerId> = self
            .learners
            .keys()
            .filter(|s| !config.members.contains_key(s))
            .copied()
            .collect();
        for s in gone {
            tracing::info!(learner = %s, "learner not in the new configuration; dropped");
            self.learners.remove(&s);
            acts.push(Action::DropPeer(s));
        }
        self.try_commit(config, acts);
    }
}

/// The configuration text NEWLEADER carries when a configuration of version 0 is first
/// established with reconfig enabled: the same members, versioned by the epoch's first zxid.
pub(super) fn restamped_text(config: &EnsembleConfig, epoch: u32) -> Option<String> {
    if !config.reconfig_enabled || config.config_version != 0 {
        return None;
    }
    let mut text = ConfigText::parse(&config.config_text).ok()?;
    text.version = Zxid::epoch_start(epoch).0;
    Some(text.render())
}
