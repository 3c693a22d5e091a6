//! The leader's memory of recent committed txns (ZooKeeper: `ZKDatabase.committedLog`), from
//! which it syncs a learner that is only a little behind by DIFF, and the choice between
//! DIFF, TRUNC and SNAP (ZooKeeper: `LearnerHandler.syncFollower`; spec 09 §6.3).

use std::collections::VecDeque;
use std::sync::Arc;

use menagerie_proto::Zxid;
use menagerie_proto::txn::LoggedTxn;

/// What one kept txn is counted as beyond its encoded bytes (its allocations).
const ENTRY_OVERHEAD: usize = 256;

/// Recent committed txns, in zxid order: at least the last `min_count` (ZooKeeper's
/// `commitLogCount`), and older ones while all of them together take at most `max_bytes`
/// (a Menagerie extension: a follower restarted after a few thousand writes comes back by
/// DIFF where ZooKeeper reads its on-disk log, instead of by a whole snapshot).
#[derive(Debug, Clone)]
pub struct CommittedLog {
    txns: VecDeque<(Arc<LoggedTxn>, usize)>,
    min_count: usize,
    max_bytes: usize,
    bytes: usize,
}

/// How to bring a learner up to date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncPlan {
    /// DIFF(zxid), then these txns as PROPOSAL+COMMIT pairs.
    Diff {
        /// The DIFF packet's zxid.
        zxid: Zxid,
        /// What the learner lacks.
        txns: Vec<Arc<LoggedTxn>>,
    },
    /// TRUNC(zxid): the learner drops what it logged after `zxid`; then these pairs.
    Trunc {
        /// The last zxid the learner keeps.
        zxid: Zxid,
        /// What it lacks after that.
        txns: Vec<Arc<LoggedTxn>>,
    },
    /// A whole snapshot.
    Snap,
}

impl CommittedLog {
    /// An empty log keeping exactly the last `capacity` txns.
    pub fn new(capacity: usize) -> CommittedLog {
        CommittedLog::with_budget(capacity, 0)
    }

    /// An empty log keeping the last `min_count` txns, and more while they take at most
    /// `max_bytes` (counted as encoded size plus a fixed allowance per txn).
    pub fn with_budget(min_count: usize, max_bytes: usize) -> CommittedLog {
        CommittedLog {
            txns: VecDeque::new(),
            min_count: min_count.max(1),
            max_bytes,
            bytes: 0,
        }
    }

    /// Remembers a committed txn (the next in zxid order).
    pub fn push(&mut self, txn: Arc<LoggedTxn>) {
        if let Some((last, _)) = self.txns.back() {
            assert!(
                txn.zxid() > last.zxid(),
                "committed txns are remembered in zxid order: {} after {}",
                txn.zxid(),
                last.zxid()
            );
        }
        let size = if self.max_bytes == 0 {
            0
        } else {
            txn.to_bytes().len() + ENTRY_OVERHEAD
        };
        self.bytes += size;
        self.txns.push_back((txn, size));
        while self.txns.len() > self.min_count
            && (self.max_bytes == 0 || self.bytes > self.max_bytes)
        {
            self.pop_oldest();
        }
    }

    fn pop_oldest(&mut self) {
        if let Some((_, size)) = self.txns.pop_front() {
            self.bytes -= size;
        }
    }

    /// Forgets everything (the state was replaced by a snapshot).
    pub fn clear(&mut self) {
        self.txns.clear();
        self.bytes = 0;
    }

    /// Forgets txns after `zxid` (TRUNC).
    pub fn truncate_after(&mut self, zxid: Zxid) {
        while self.txns.back().is_some_and(|(t, _)| t.zxid() > zxid) {
            if let Some((_, size)) = self.txns.pop_back() {
                self.bytes -= size;
            }
        }
    }

    /// The newest zxid kept.
    pub fn last_zxid(&self) -> Option<Zxid> {
        self.txns.back().map(|(t, _)| t.zxid())
    }

    /// The bytes the kept txns are counted as (zero without a byte budget).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Number of txns kept.
    pub fn len(&self) -> usize {
        self.txns.len()
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.txns.is_empty()
    }

    /// How to sync a learner whose last logged zxid is `peer`, the leader being at `last`
    /// (its last committed zxid). In ZooKeeper's order:
    ///
    /// 1. `peer == last`: an empty DIFF;
    /// 2. `peer` beyond the log and not an epoch start: TRUNC to the log's end;
    /// 3. `peer` within the log: DIFF from an exact match (or for an epoch-start peer), TRUNC
    ///    to the entry before the first one past `peer` in the same epoch, else SNAP;
    /// 4. anything else: SNAP.
    pub fn plan(&self, peer: Zxid, last: Zxid) -> SyncPlan {
        let (min, max) = match (self.txns.front(), self.txns.back()) {
            (Some((a, _)), Some((b, _))) => (a.zxid(), b.zxid()),
            _ => (last, last),
        };
        let new_epoch_peer = peer.is_epoch_start();
        if peer == last {
            return SyncPlan::Diff {
                zxid: peer,
                txns: Vec::new(),
            };
        }
        if peer > max && !new_epoch_peer {
            return SyncPlan::Trunc {
                zxid: max,
                txns: Vec::new(),
            };
        }
        if self.txns.is_empty() || peer < min || peer > max {
            return SyncPlan::Snap;
        }
        self.plan_within(peer, max)
    }

    /// Step 3: `min <= peer <= max`.
    fn plan_within(&self, peer: Zxid, max: Zxid) -> SyncPlan {
        let mut prev: Option<Zxid> = None;
        for (i, (t, _)) in self.txns.iter().enumerate() {
            let z = t.zxid();
            if z < peer {
                prev = Some(z);
                continue;
            }
            let rest = || {
                self.txns
                    .iter()
                    .skip(i)
                    .map(|(t, _)| Arc::clone(t))
                    .collect::<Vec<_>>()
            };
            if z == peer {
                let txns = self
                    .txns
                    .iter()
                    .skip(i + 1)
                    .map(|(t, _)| Arc::clone(t))
                    .collect();
                return SyncPlan::Diff { zxid: max, txns };
            }
            if peer.is_epoch_start() {
                return SyncPlan::Diff {
                    zxid: max,
                    txns: rest(),
                };
            }
            if z.epoch() == peer.epoch() {
                return match prev {
                    Some(p) => SyncPlan::Trunc {
                        zxid: p,
                        txns: rest(),
                    },
                    None => SyncPlan::Snap,
                };
            }
            return SyncPlan::Snap;
        }
        SyncPlan::Snap
    }
}

#[cfg(test)]
mod tests {
    use menagerie_proto::SessionId;
    use menagerie_proto::txn::{CreateSessionTxn, TxnBody};

    use super::*;

    fn txn(epoch: u32, counter: u32) -> Arc<LoggedTxn> {
        let body = TxnBody::CreateSession(CreateSessionTxn { timeout: 1 });
        Arc::new(LoggedTxn::new(
            SessionId(1),
            0,
            Zxid::new(epoch, counter),
            0,
            body,
            None,
        ))
    }

    fn log(zxids: &[(u32, u32)]) -> CommittedLog {
        let mut l = CommittedLog::new(500);
        for &(e, c) in zxids {
            l.push(txn(e, c));
        }
        l
    }

    fn zxids(txns: &[Arc<LoggedTxn>]) -> Vec<Zxid> {
        txns.iter().map(|t| t.zxid()).collect()
    }

    #[test]
    fn exact_matches_give_a_diff_of_what_follows() {
        let l = log(&[(1, 1), (1, 2), (1, 3), (2, 1)]);
        let last = Zxid::new(2, 1);
        assert_eq!(
            l.plan(last, last),
            SyncPlan::Diff {
                zxid: last,
                txns: vec![]
            }
        );
        let SyncPlan::Diff { zxid, txns } = l.plan(Zxid::new(1, 2), last) else {
            panic!("diff")
        };
        assert_eq!(zxid, last);
        assert_eq!(zxids(&txns), vec![Zxid::new(1, 3), Zxid::new(2, 1)]);
    }

    #[test]
    fn divergent_learners_are_truncated_or_snapped() {
        let l = log(&[(1, 1), (1, 2), (1, 4), (2, 1), (2, 2)]);
        let last = Zxid::new(2, 2);
        // Logged 1:3, which the leader never committed: back to 1:2, then the rest.
        let SyncPlan::Trunc { zxid, txns } = l.plan(Zxid::new(1, 3), last) else {
            panic!("trunc")
        };
        assert_eq!(zxid, Zxid::new(1, 2));
        assert_eq!(
            zxids(&txns),
            vec![Zxid::new(1, 4), Zxid::new(2, 1), Zxid::new(2, 2)]
        );
        // A TRUNC never crosses an epoch: Java's learner cannot take it; SNAP instead.
        let l = log(&[(1, 1), (1, 2), (2, 1), (2, 2)]);
        assert_eq!(l.plan(Zxid::new(1, 3), last), SyncPlan::Snap);
        // Beyond the log entirely: truncate to its end.
        assert_eq!(
            l.plan(Zxid::new(2, 9), last),
            SyncPlan::Trunc {
                zxid: last,
                txns: vec![]
            }
        );
        // Before the log: a snapshot.
        assert_eq!(
            log(&[(3, 1)]).plan(Zxid::new(1, 1), Zxid::new(3, 1)),
            SyncPlan::Snap
        );
    }

    #[test]
    fn an_epoch_start_peer_gets_everything_after_it() {
        let l = log(&[(1, 1), (2, 1), (2, 2)]);
        let SyncPlan::Diff { txns, .. } = l.plan(Zxid::epoch_start(2), Zxid::new(2, 2)) else {
            panic!("diff")
        };
        assert_eq!(zxids(&txns), vec![Zxid::new(2, 1), Zxid::new(2, 2)]);
    }

    #[test]
    fn capacity_is_bounded() {
        let mut l = CommittedLog::new(2);
        l.push(txn(1, 1));
        l.push(txn(1, 2));
        l.push(txn(1, 3));
        assert_eq!(l.len(), 2);
        assert_eq!(l.plan(Zxid::new(1, 1), Zxid::new(1, 3)), SyncPlan::Snap);
        l.truncate_after(Zxid::new(1, 2));
        assert_eq!(l.len(), 1);
    }

    #[test]
    fn a_byte_budget_keeps_more_than_the_count_and_no_more_than_it_allows() {
        let size = txn(1, 1).to_bytes().len() + ENTRY_OVERHEAD;
        let mut l = CommittedLog::with_budget(2, size * 5);
        for c in 1..=20 {
            l.push(txn(1, c));
        }
        assert_eq!(l.len(), 5, "five fit in the budget");
        assert_eq!(l.bytes(), size * 5);
        assert!(matches!(
            l.plan(Zxid::new(1, 16), Zxid::new(1, 20)),
            SyncPlan::Diff { .. }
        ));
        assert_eq!(l.plan(Zxid::new(1, 15), Zxid::new(1, 20)), SyncPlan::Snap);
        l.truncate_after(Zxid::new(1, 18));
        assert_eq!(l.bytes(), size * 3);
        l.clear();
        assert_eq!((l.len(), l.bytes()), (0, 0));
        // A budget smaller than the count's txns: the count wins.
        let mut small = CommittedLog::with_budget(3, 1);
        for c in 1..=10 {
            small.push(txn(1, c));
        }
        assert_eq!(small.len(), 3);
    }
}
