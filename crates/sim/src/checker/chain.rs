//! The committed history, reconstructed from what members do.
//!
//! Every txn a leader proposes is seen when it is handed to the log (`Output::Persist`), so
//! the checker knows each zxid's txn. Proposals form a tree: within an epoch a proposal
//! follows the previous one, and the first of epoch `e` follows the **head** of `e` — the
//! last zxid the leader had when a quorum acknowledged `e` (an epoch's start, `e:0`, stands
//! for that head). A member that serves clients is at some node of this tree; all of them
//! must lie on one line (Zab.tla: `PrefixConsistency`, `Agreement`, `TotalOrder`), the
//! committed **chain**. The chain grows as serving members move forward; a serving state off
//! the chain is a fork — something served or acknowledged was lost.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use menagerie_proto::Zxid;
use menagerie_proto::txn::LoggedTxn;

/// The proposal tree and the committed chain.
#[derive(Debug, Default)]
pub struct Chain {
    proposals: BTreeMap<Zxid, Arc<LoggedTxn>>,
    heads: BTreeMap<u32, Zxid>,
    committed: BTreeSet<Zxid>,
    tip: Zxid,
}

/// Why the chain cannot take a serving state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fork {
    /// No leader proposed this zxid, or its ancestry is unknown (Zab.tla: `Integrity`).
    Unknown(Zxid),
    /// The state is not on the committed line: it branches off at `at`, where the chain
    /// already holds `lost` beyond it.
    Branch {
        /// The serving state.
        zxid: Zxid,
        /// Where its ancestry meets the chain.
        at: Zxid,
        /// Committed zxids it lacks.
        lost: Vec<Zxid>,
    },
}

impl Chain {
    /// A txn handed to a log; the first one seen for a zxid defines it. Returns the txn seen
    /// before if it differs (two txns for one zxid).
    pub fn propose(&mut self, txn: &Arc<LoggedTxn>) -> Option<Arc<LoggedTxn>> {
        match self.proposals.get(&txn.zxid()) {
            None => {
                self.proposals.insert(txn.zxid(), Arc::clone(txn));
                None
            }
            Some(seen) if Arc::ptr_eq(seen, txn) || **seen == **txn => None,
            Some(seen) => Some(Arc::clone(seen)),
        }
    }

    /// The txn of `zxid`, if proposed.
    pub fn proposal(&self, zxid: Zxid) -> Option<&Arc<LoggedTxn>> {
        self.proposals.get(&zxid)
    }

    /// Proposals after `after` up to `upto`, in zxid order.
    pub fn proposals_between(
        &self,
        after: Zxid,
        upto: Zxid,
    ) -> impl Iterator<Item = &Arc<LoggedTxn>> {
        use std::ops::Bound::{Excluded, Included};
        self.proposals
            .range((Excluded(after), Included(upto)))
            .map(|(_, t)| t)
    }

    /// Proposals of a session, in zxid order.
    pub fn proposals(&self) -> impl Iterator<Item = &Arc<LoggedTxn>> {
        self.proposals.values()
    }

    /// The leader of `epoch` was at `head` when a quorum acknowledged the epoch.
    pub fn set_head(&mut self, epoch: u32, head: Zxid) {
        self.heads.entry(epoch).or_insert(head);
    }

    /// The head of `epoch`, if known.
    pub fn head(&self, epoch: u32) -> Option<Zxid> {
        self.heads.get(&epoch).copied()
    }

    /// Whether `zxid` is the head some epoch was established on.
    pub fn is_head(&self, zxid: Zxid) -> bool {
        self.heads.values().any(|h| self.resolve(*h) == Some(zxid))
    }

    /// `zxid` with epoch starts replaced by the heads they stand for.
    pub fn resolve(&self, mut zxid: Zxid) -> Option<Zxid> {
        for _ in 0..10_000 {
            if zxid == Zxid::ZERO || !zxid.is_epoch_start() {
                return Some(zxid);
            }
            zxid = self.head(zxid.epoch())?;
        }
        None
    }

    /// The zxid a (resolved) proposal follows.
    fn parent(&self, zxid: Zxid) -> Option<Zxid> {
        let start = Zxid::epoch_start(zxid.epoch());
        match self.proposals.range(start.next()..zxid).next_back() {
            Some((z, _)) => Some(*z),
            None => self.resolve(self.head(zxid.epoch())?),
        }
    }

    /// The last committed zxid.
    pub fn tip(&self) -> Zxid {
        self.tip
    }

    /// Whether `zxid` (resolved) is committed.
    pub fn contains(&self, zxid: Zxid) -> bool {
        zxid == Zxid::ZERO || self.committed.contains(&zxid)
    }

    /// A member serves the state at `zxid`: it must be on the chain, which grows to it if it
    /// is ahead. Returns the zxids newly committed, in order.
    pub fn extend(&mut self, zxid: Zxid) -> Result<Vec<Zxid>, Fork> {
        let z = self.resolve(zxid).ok_or(Fork::Unknown(zxid))?;
        if z <= self.tip {
            return if self.contains(z) {
                Ok(Vec::new())
            } else {
                Err(self.branch(z))
            };
        }
        let mut walked = vec![z];
        let mut at = z;
        loop {
            if at != Zxid::ZERO && !self.proposals.contains_key(&at) {
                return Err(Fork::Unknown(at));
            }
            let parent = self.parent(at).ok_or(Fork::Unknown(at))?;
            if parent <= self.tip {
                if parent != self.tip {
                    return Err(self.branch_at(z, parent));
                }
                break;
            }
            walked.push(parent);
            at = parent;
            if walked.len() > 10_000_000 {
                return Err(Fork::Unknown(z));
            }
        }
        walked.reverse();
        self.committed.extend(walked.iter().copied());
        self.tip = z;
        Ok(walked)
    }

    fn branch(&self, z: Zxid) -> Fork {
        let mut at = z;
        while at > Zxid::ZERO && !self.contains(at) {
            match self.parent(at) {
                Some(p) => at = p,
                None => return Fork::Unknown(at),
            }
        }
        self.branch_at(z, at)
    }

    fn branch_at(&self, zxid: Zxid, at: Zxid) -> Fork {
        let lost = self.committed.range(at.next()..).take(5).copied().collect();
        Fork::Branch { zxid, at, lost }
    }
}

#[cfg(test)]
mod tests {
    use menagerie_proto::SessionId;
    use menagerie_proto::txn::{CreateSessionTxn, TxnBody};

    use super::*;

    fn txn(e: u32, c: u32) -> Arc<LoggedTxn> {
        let body = TxnBody::CreateSession(CreateSessionTxn { timeout: c as i32 });
        Arc::new(LoggedTxn::new(
            SessionId(1),
            0,
            Zxid::new(e, c),
            0,
            body,
            None,
        ))
    }

    #[test]
    fn serving_states_extend_one_line_and_forks_are_found() {
        let mut ch = Chain::default();
        ch.set_head(1, Zxid::ZERO);
        for c in 1..=3 {
            assert!(ch.propose(&txn(1, c)).is_none());
        }
        assert_eq!(ch.extend(Zxid::new(1, 2)).map(|v| v.len()), Ok(2));
        assert_eq!(ch.extend(Zxid::new(1, 1)), Ok(vec![]));
        // Epoch 2 builds on 1:2 (1:3 was never committed): a fork once 1:3 is served.
        ch.set_head(2, Zxid::new(1, 2));
        assert!(ch.propose(&txn(2, 1)).is_none());
        assert_eq!(ch.extend(Zxid::epoch_start(2)), Ok(vec![]));
        assert_eq!(ch.extend(Zxid::new(2, 1)), Ok(vec![Zxid::new(2, 1)]));
        assert!(matches!(
            ch.extend(Zxid::new(1, 3)),
            Err(Fork::Branch { .. })
        ));
        // A different txn under a known zxid.
        let other = Arc::new(LoggedTxn::new(
            SessionId(2),
            0,
            Zxid::new(2, 1),
            0,
            TxnBody::CreateSession(CreateSessionTxn { timeout: 9 }),
            None,
        ));
        assert!(ch.propose(&other).is_some());
        assert_eq!(
            ch.extend(Zxid::new(3, 1)),
            Err(Fork::Unknown(Zxid::new(3, 1)))
        );
    }
}
