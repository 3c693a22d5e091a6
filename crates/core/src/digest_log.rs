//! Checking the tree digest as txns are applied, and its history (ZooKeeper:
//! `DataTree.compareDigest`, `compareSnapshotDigests`, `logZxidDigest` and the digest log the
//! `hash` command lists; spec 10 §10.5 and §10.9).
//!
//! Every logged txn but a failed one carries the tree digest its prep predicted. After the
//! txn is applied the tree's own digest must equal it; a difference means the two computed
//! different trees and is logged and counted (`digest_mismatches_count`), never fatal.
//!
//! A fuzzy snapshot's digest belongs to the zxid its walk ended at, later than the zxid it
//! is named after. Until replay reaches that zxid the tree is "fuzzy" and no digest is
//! compared or recorded.

use std::collections::VecDeque;

use menagerie_proto::Zxid;
use menagerie_proto::digest::DIGEST_VERSION;
pub use menagerie_proto::digest::ZxidDigest;
use menagerie_proto::txn::TxnDigest;

/// A digest is recorded in the history every this many zxids (ZooKeeper:
/// `DIGEST_LOG_INTERVAL`, 0x80).
pub const HISTORY_INTERVAL: i64 = 128;
/// Entries kept in the history (ZooKeeper: `DIGEST_LOG_LIMIT`).
pub const HISTORY_LIMIT: usize = 1024;

/// Digest checks and history of one server.
#[derive(Debug, Clone)]
pub struct DigestLog {
    enabled: bool,
    /// The digest a loaded snapshot carries, while replay has not reached its zxid.
    from_snapshot: Option<ZxidDigest>,
    history: VecDeque<ZxidDigest>,
    mismatches: u64,
    /// Txns up to here re-apply effects the tree already has (see [`Self::fuzzy_until`]).
    fuzzy_until: Zxid,
}

impl DigestLog {
    /// A log; when not `enabled` (`zookeeper.digest.enabled=false`) nothing is compared or
    /// recorded.
    pub fn new(enabled: bool) -> DigestLog {
        DigestLog {
            enabled,
            from_snapshot: None,
            history: VecDeque::new(),
            mismatches: 0,
            fuzzy_until: Zxid::ZERO,
        }
    }

    /// Whether digests are written and checked.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// A snapshot named `snapshot_zxid` was loaded, carrying `stored` (if any); `tree` is the
    /// loaded tree's digest. A digest taken exactly at the snapshot's zxid is compared now;
    /// a later one when replay gets there; an earlier or empty one is ignored (ZooKeeper:
    /// `deserializeZxidDigest`).
    pub fn snapshot_loaded(&mut self, snapshot_zxid: Zxid, stored: Option<ZxidDigest>, tree: u64) {
        self.from_snapshot = None;
        let Some(d) = stored.filter(|d| self.enabled && d.zxid > Zxid::ZERO) else {
            return;
        };
        if d.version != DIGEST_VERSION {
            tracing::info!(
                version = d.version,
                "snapshot digest of another digest version; not compared"
            );
        } else if d.zxid < snapshot_zxid {
            tracing::info!(
                zxid = %d.zxid,
                "snapshot digest older than the snapshot; not compared"
            );
        } else if d.zxid == snapshot_zxid {
            self.compare("snapshot", d.zxid, d.digest, tree);
            self.record(d.zxid, tree);
        } else {
            self.from_snapshot = Some(d);
        }
    }

    /// The tree holds effects of txns up to `zxid` that will be applied again (a fuzzy
    /// snapshot stream from a leader, which carries no digest): until then nothing is
    /// compared.
    pub fn fuzzy_until(&mut self, zxid: Zxid) {
        self.fuzzy_until = zxid;
    }

    /// Txn `zxid` was applied and the tree's digest is now `tree`; `logged` is the digest the
    /// txn carries. Returns false on a mismatch.
    pub fn applied(&mut self, zxid: Zxid, logged: Option<&TxnDigest>, tree: u64) -> bool {
        if !self.enabled {
            return true;
        }
        if zxid <= self.fuzzy_until {
            return true;
        }
        if let Some(d) = self.from_snapshot {
            if zxid < d.zxid {
                return true;
            }
            self.from_snapshot = None;
            if zxid == d.zxid {
                self.compare("snapshot", zxid, d.digest, tree);
            } else {
                tracing::warn!(
                    zxid = %d.zxid,
                    "the txn the snapshot's digest belongs to is not in the log"
                );
            }
        }
        self.record(zxid, tree);
        match logged {
            Some(l) if l.version == DIGEST_VERSION => {
                self.compare("txn", zxid, l.tree_digest, tree)
            }
            _ => true,
        }
    }

    /// Replay ended at `last_zxid`: a snapshot digest never reached is reported (the log
    /// does not cover the snapshot) and checking resumes.
    pub fn recovery_done(&mut self, last_zxid: Zxid) {
        if let Some(d) = self.from_snapshot.take() {
            tracing::warn!(
                snapshot_digest_zxid = %d.zxid,
                last_zxid = %last_zxid,
                "the log ends before the zxid of the snapshot's digest; the data may be inconsistent"
            );
        }
    }

    fn record(&mut self, zxid: Zxid, tree: u64) {
        let d = ZxidDigest {
            zxid,
            version: DIGEST_VERSION,
            digest: tree as i64,
        };
        if zxid.0 % HISTORY_INTERVAL == 0 {
            if self.history.len() == HISTORY_LIMIT {
                self.history.pop_front();
            }
            self.history.push_back(d);
        }
    }

    fn compare(&mut self, what: &str, zxid: Zxid, expected: i64, tree: u64) -> bool {
        if expected == tree as i64 {
            return true;
        }
        self.mismatches += 1;
        // Every mismatch counts; the log shows the first and then powers of two.
        if self.mismatches.is_power_of_two() {
            tracing::error!(
                zxid = %zxid,
                expected,
                actual = tree as i64,
                mismatches = self.mismatches,
                "tree digest mismatch after {what}: this server's tree differs from the one the digest was computed on"
            );
        }
        false
    }

    /// The recorded digests, oldest first: one every [`HISTORY_INTERVAL`] zxids, the last
    /// [`HISTORY_LIMIT`] of them (the `hash` command).
    pub fn history(&self) -> impl Iterator<Item = &ZxidDigest> {
        self.history.iter()
    }

    /// Digest mismatches seen (ZooKeeper: `digest_mismatches_count`).
    pub fn mismatches(&self) -> u64 {
        self.mismatches
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txn(d: u64) -> TxnDigest {
        TxnDigest {
            version: DIGEST_VERSION,
            tree_digest: d as i64,
        }
    }

    #[test]
    fn compares_records_and_counts() {
        let mut l = DigestLog::new(true);
        assert!(l.applied(menagerie_proto::Zxid(1), Some(&txn(10)), 10));
        assert!(!l.applied(menagerie_proto::Zxid(2), Some(&txn(11)), 12));
        // Other versions and missing digests are not compared.
        let v1 = TxnDigest {
            version: 1,
            tree_digest: 0,
        };
        assert!(l.applied(menagerie_proto::Zxid(3), Some(&v1), 13));
        assert!(l.applied(menagerie_proto::Zxid(4), None, 14));
        assert_eq!(l.mismatches(), 1);
        for z in 5..=(HISTORY_INTERVAL * (HISTORY_LIMIT as i64 + 3)) {
            l.applied(menagerie_proto::Zxid(z), None, z as u64);
        }
        let h: Vec<_> = l.history().collect();
        assert_eq!(h.len(), HISTORY_LIMIT);
        assert_eq!(h[0].zxid, menagerie_proto::Zxid(HISTORY_INTERVAL * 4));
        assert!(h.iter().all(|d| d.zxid.0 % HISTORY_INTERVAL == 0));
    }

    #[test]
    fn fuzzy_state_lasts_until_the_snapshot_digest_zxid() {
        let mut l = DigestLog::new(true);
        let stored = ZxidDigest {
            zxid: menagerie_proto::Zxid(7),
            version: DIGEST_VERSION,
            digest: 70,
        };
        l.snapshot_loaded(menagerie_proto::Zxid(5), Some(stored), 999);
        // Txn 6 is inside the fuzzy window: not compared.
        assert!(l.applied(menagerie_proto::Zxid(6), Some(&txn(1)), 60));
        assert_eq!(l.mismatches(), 0);
        // At 7 both the snapshot's and the txn's digest are compared.
        assert!(!l.applied(menagerie_proto::Zxid(7), Some(&txn(71)), 70));
        assert_eq!(l.mismatches(), 1);
        assert_eq!(l.history().count(), 0, "7 is not a multiple of 128");

        // A digest at the snapshot's own zxid is compared at once.
        let mut l = DigestLog::new(true);
        l.snapshot_loaded(menagerie_proto::Zxid(7), Some(stored), 71);
        assert_eq!(l.mismatches(), 1);

        // Disabled: nothing at all.
        let mut l = DigestLog::new(false);
        l.snapshot_loaded(menagerie_proto::Zxid(7), Some(stored), 71);
        assert!(l.applied(menagerie_proto::Zxid(8), Some(&txn(1)), 2));
        assert_eq!((l.mismatches(), l.history().count()), (0, 0));
    }
}
