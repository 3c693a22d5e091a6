//! When to snapshot (ZooKeeper: `SyncRequestProcessor`): after `snapCount` txns, the count
//! randomised per run between half and all of it so that the servers of an ensemble do not
//! all snapshot at once. A fuzzy snapshot that is abandoned (it met an ACL list created while
//! it was written) is retried at once; after [`MAX_ABANDONED_SNAPSHOTS`] in a row the next
//! one is written in one go. Txns replayed at startup are snapshotted at once, as ZooKeeper
//! snapshots after loading its data, so that the next start need not replay them again.
//!
//! A pure value: the caller says what happened and asks what to do.

/// After this many fuzzy snapshots in a row are abandoned, the next one is written in one go.
pub const MAX_ABANDONED_SNAPSHOTS: u32 = 3;

/// Which snapshot to take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotKind {
    /// A fuzzy snapshot, serialized a slice at a time between request batches.
    Fuzzy,
    /// A snapshot written in one go (requests wait meanwhile).
    OneGo,
}

/// The snapshot schedule of one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotPolicy {
    every: u64,
    since: u64,
    abandoned_in_row: u32,
}

impl SnapshotPolicy {
    /// The schedule for a run with `snapCount` = `snap_count`, randomised by `seed` (any
    /// number that differs between servers and runs: the shell uses the wall clock), after
    /// `replayed` txns were replayed at startup.
    pub fn new(snap_count: u64, seed: u64, replayed: u64) -> SnapshotPolicy {
        let every = Self::threshold(snap_count, seed);
        SnapshotPolicy {
            every,
            since: if replayed > 0 { every } else { 0 },
            abandoned_in_row: 0,
        }
    }

    /// The snapshot threshold for a run: between half and all of `snap_count`.
    pub fn threshold(snap_count: u64, seed: u64) -> u64 {
        let half = (snap_count / 2).max(1);
        half + seed % half
    }

    /// Txns between snapshots in this run.
    pub fn every(&self) -> u64 {
        self.every
    }

    /// Whether a snapshot is due (enough txns were logged since the last one started).
    pub fn due(&self) -> bool {
        self.since >= self.every
    }

    /// `txns` more txns went to the log.
    pub fn logged(&mut self, txns: u64) {
        self.since += txns;
    }

    /// Asked when no snapshot is in progress: the snapshot to start now, if one is due. The
    /// count starts again from the moment it starts. (While a snapshot is still being
    /// written the next one waits for it, the count running on, rather than being skipped as
    /// ZooKeeper does when "too busy to snap".)
    pub fn start(&mut self) -> Option<SnapshotKind> {
        if !self.due() {
            return None;
        }
        self.since = 0;
        if self.abandoned_in_row >= MAX_ABANDONED_SNAPSHOTS {
            // Fuzzy snapshots keep meeting new ACL lists: write one in one go.
            self.abandoned_in_row = 0;
            Some(SnapshotKind::OneGo)
        } else {
            Some(SnapshotKind::Fuzzy)
        }
    }

    /// A fuzzy snapshot was written completely.
    pub fn written(&mut self) {
        self.abandoned_in_row = 0;
    }

    /// A fuzzy snapshot was abandoned: the next one is due at once.
    pub fn abandoned(&mut self) {
        self.abandoned_in_row += 1;
        self.since = self.every;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_lies_between_half_and_all_of_snap_count() {
        assert_eq!(SnapshotPolicy::threshold(1000, 0), 500);
        assert_eq!(SnapshotPolicy::threshold(1000, 499), 999);
        assert_eq!(SnapshotPolicy::threshold(1000, 500), 500);
        assert_eq!(SnapshotPolicy::threshold(1000, 1_700_000_000_123), 623);
        for seed in 0..2000 {
            let t = SnapshotPolicy::threshold(100_000, seed * 7919);
            assert!((50_000..100_000).contains(&t), "{t}");
        }
        // The smallest snapCount still snapshots every txn or two.
        assert_eq!(SnapshotPolicy::threshold(2, 5), 1);
        assert_eq!(SnapshotPolicy::threshold(3, 5), 1);
    }

    #[test]
    fn a_snapshot_is_due_after_the_threshold_and_the_count_restarts() {
        let mut p = SnapshotPolicy::new(10, 2, 0);
        assert_eq!(p.every(), 7);
        assert_eq!(p.start(), None);
        p.logged(6);
        assert!(!p.due());
        assert_eq!(p.start(), None);
        p.logged(1);
        assert!(p.due());
        assert_eq!(p.start(), Some(SnapshotKind::Fuzzy));
        assert!(!p.due());
        assert_eq!(p.start(), None);
        // While a snapshot runs the caller does not ask; the count keeps running.
        p.logged(20);
        assert_eq!(p.start(), Some(SnapshotKind::Fuzzy));
        assert_eq!(p.start(), None);
    }

    #[test]
    fn replayed_txns_make_a_snapshot_due_at_once() {
        let mut p = SnapshotPolicy::new(1000, 0, 1);
        assert!(p.due());
        assert_eq!(p.start(), Some(SnapshotKind::Fuzzy));
        let mut p = SnapshotPolicy::new(1000, 0, 0);
        assert!(!p.due());
        assert_eq!(p.start(), None);
    }

    #[test]
    fn three_abandoned_in_a_row_give_a_one_go_snapshot() {
        let mut p = SnapshotPolicy::new(100, 0, 0);
        p.logged(50);
        for _ in 0..MAX_ABANDONED_SNAPSHOTS {
            assert_eq!(p.start(), Some(SnapshotKind::Fuzzy));
            // Abandoned: retried at once, without new txns.
            p.abandoned();
            assert!(p.due());
        }
        assert_eq!(p.start(), Some(SnapshotKind::OneGo));
        assert_eq!(p.start(), None);
        // The row starts again.
        p.logged(50);
        assert_eq!(p.start(), Some(SnapshotKind::Fuzzy));
    }

    #[test]
    fn a_written_snapshot_ends_the_row_of_abandoned_ones() {
        let mut p = SnapshotPolicy::new(100, 0, 0);
        p.logged(50);
        for _ in 0..MAX_ABANDONED_SNAPSHOTS - 1 {
            assert_eq!(p.start(), Some(SnapshotKind::Fuzzy));
            p.abandoned();
        }
        assert_eq!(p.start(), Some(SnapshotKind::Fuzzy));
        p.written();
        p.logged(50);
        assert_eq!(p.start(), Some(SnapshotKind::Fuzzy));
        p.abandoned();
        assert_eq!(p.start(), Some(SnapshotKind::Fuzzy));
    }
}
