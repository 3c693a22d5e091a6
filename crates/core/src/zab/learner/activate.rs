//! A learner's side of dynamic reconfiguration (ZooKeeper: `Follower.processPacket`
//! COMMITANDACTIVATE, `Observer.processPacket` INFORMANDACTIVATE, the NEWLEADER and
//! UPTODATE branches of `Learner.syncWithLeader`; spec 09 §5, §10): the configuration a
//! reconfig txn carries is activated once it commits, with the leader the old leader
//! designated for it.

use std::sync::Arc;

use menagerie_proto::ServerId;
use menagerie_proto::quorum::{PacketType, QuorumPacket};
use menagerie_proto::txn::{LoggedTxn, TxnBody};

use super::{Learner, decode_bytes};
use crate::zab::action::{Action, Actions};

impl Learner {
    /// COMMITANDACTIVATE: commits the oldest pending proposal (the reconfig) and activates
    /// its configuration.
    pub(super) fn commit_and_activate(&mut self, p: &QuorumPacket, acts: &mut Actions) {
        let Some(designated) = designated_leader(p.payload()) else {
            tracing::error!(zxid = %p.zxid, "COMMITANDACTIVATE without a designated leader");
            acts.push(Action::StepDown("malformed COMMITANDACTIVATE"));
            return;
        };
        let txn = self.pending.front().filter(|t| t.zxid() == p.zxid).cloned();
        self.commit(p.zxid, acts);
        if let Some(text) = txn.as_deref().and_then(config_of) {
            acts.push(Action::Activate { text, designated });
        }
    }

    /// INFORMANDACTIVATE (observers): the designated leader, then the reconfig txn.
    pub(super) fn inform_and_activate(&mut self, p: &QuorumPacket, acts: &mut Actions) {
        let data = p.payload();
        let (Some(designated), Some(body)) = (designated_leader(data), data.get(8..)) else {
            tracing::error!(zxid = %p.zxid, "malformed INFORMANDACTIVATE");
            acts.push(Action::StepDown("malformed INFORMANDACTIVATE"));
            return;
        };
        let Some(t) = decode_bytes(p.zxid, body, acts) else {
            return;
        };
        let text = config_of(&t);
        acts.push(Action::Persist(Arc::clone(&t)));
        acts.push(Action::Commit(t));
        if let Some(text) = text {
            acts.push(Action::Activate { text, designated });
        }
    }

    /// A reconfiguration committed between NEWLEADER and UPTODATE (a Java leader sends live
    /// traffic then): its configuration replaces NEWLEADER's, activated at UPTODATE.
    pub(super) fn activate_at_up_to_date(&mut self, t: &LoggedTxn, kind: Option<PacketType>) {
        let activating = matches!(
            kind,
            Some(PacketType::CommitAndActivate | PacketType::InformAndActivate)
        );
        if let Some(text) = config_of(t).filter(|_| activating) {
            self.newleader_config = Some(text);
        }
    }

    /// At UPTODATE: the configuration NEWLEADER carried (the node adopts it if it is newer
    /// than its own and reconfig is enabled).
    pub(super) fn activate_newleader_config(&mut self, acts: &mut Actions) {
        if let Some(text) = self.newleader_config.take() {
            acts.push(Action::Activate {
                text,
                designated: self.leader,
            });
        }
    }
}

/// The designated leader at the start of an activate packet's data.
fn designated_leader(data: &[u8]) -> Option<ServerId> {
    let bytes: [u8; 8] = data.get(..8)?.try_into().ok()?;
    Some(ServerId(i64::from_be_bytes(bytes)))
}

/// The configuration text of a reconfig txn.
fn config_of(t: &LoggedTxn) -> Option<String> {
    match &t.body {
        TxnBody::Reconfig(r) => Some(String::from_utf8_lossy(r.data.as_deref()?).into_owned()),
        _ => None,
    }
}
