//! When to take a snapshot (ZooKeeper: `SyncRequestProcessor.shouldSnapshot`): after a
//! random number of txns between half and all of `snapCount`, drawn anew for each snapshot so
//! that the members of an ensemble do not all snapshot at once. One snapshot at a time: while
//! one is being written the count keeps running (ZooKeeper skips the snapshot when "too busy
//! to snap"; waiting instead means a long log is always covered soon after).
//!
//! Fuzzy snapshots are abandoned when an ACL list is created during the walk; after
//! [`MAX_ABANDONED_IN_ROW`] of them in a row the next snapshot is written whole.

use crate::output::SnapshotMode;

/// After this many fuzzy snapshots in a row are abandoned, the next is written whole.
pub const MAX_ABANDONED_IN_ROW: u32 = 3;

/// The snapshot schedule of one server.
#[derive(Debug, Clone)]
pub struct SnapshotPolicy {
    snap_count: u64,
    /// Txns to log before the next snapshot.
    threshold: u64,
    /// Txns logged since the last snapshot started.
    since: u64,
    in_progress: bool,
    abandoned_in_row: u32,
    /// State of the roll's generator (splitmix64).
    rng: u64,
}

impl SnapshotPolicy {
    /// A schedule for `snap_count` whose rolls come from `seed`.
    pub fn new(snap_count: u64, seed: u64) -> SnapshotPolicy {
        let mut p = SnapshotPolicy {
            snap_count: snap_count.max(1),
            threshold: 0,
            since: 0,
            in_progress: false,
            abandoned_in_row: 0,
            rng: seed,
        };
        p.threshold = p.roll();
        p
    }

    /// Between half and all of `snapCount` (ZooKeeper: `snapCount / 2 + randRoll`).
    fn roll(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let half = (self.snap_count / 2).max(1);
        half + z % half
    }

    /// Asks for a snapshot as soon as possible (after startup replayed txns from the log,
    /// as ZooKeeper snapshots after loading its data).
    pub fn request_now(&mut self) {
        self.since = self.since.max(self.threshold);
    }

    /// `n` txns were replayed from the log at startup: they count toward the next snapshot
    /// (which is due at the next tick if they reach the threshold).
    pub fn count_replayed(&mut self, n: u64) {
        self.since += n;
    }

    /// `n` more txns were logged; returns the snapshot to take now, if one is due.
    pub fn logged(&mut self, n: u64) -> Option<SnapshotMode> {
        self.since += n;
        self.due()
    }

    /// The snapshot to take now, if one is due.
    pub fn due(&mut self) -> Option<SnapshotMode> {
        if !self.is_due() {
            return None;
        }
        self.in_progress = true;
        self.since = 0;
        self.threshold = self.roll();
        if self.abandoned_in_row >= MAX_ABANDONED_IN_ROW {
            self.abandoned_in_row = 0;
            Some(SnapshotMode::Whole)
        } else {
            Some(SnapshotMode::Fuzzy)
        }
    }

    /// The snapshot in progress was written.
    pub fn written(&mut self) {
        self.in_progress = false;
        self.abandoned_in_row = 0;
    }

    /// The snapshot in progress was abandoned: another is due at once.
    pub fn abandoned(&mut self) {
        self.in_progress = false;
        self.abandoned_in_row += 1;
        self.request_now();
    }

    /// The snapshot in progress failed: the next comes after the usual count.
    pub fn failed(&mut self) {
        self.in_progress = false;
    }

    /// Whether a snapshot should be started now.
    pub fn is_due(&self) -> bool {
        !self.in_progress && self.since >= self.threshold
    }

    /// Whether a snapshot is being written.
    pub fn in_progress(&self) -> bool {
        self.in_progress
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replayed_txns_count_toward_the_next_snapshot_without_asking_for_one() {
        let mut p = SnapshotPolicy::new(1000, 7);
        p.count_replayed(10);
        assert!(!p.is_due(), "a few replayed txns: no snapshot yet");
        p.count_replayed(1000);
        assert!(p.is_due(), "more than snapCount replayed: due at once");
    }

    #[test]
    fn thresholds_fall_between_half_and_all_of_snap_count() {
        let mut p = SnapshotPolicy::new(1000, 7);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let t = p.roll();
            assert!((500..1000).contains(&t), "{t}");
            seen.insert(t);
        }
        assert!(seen.len() > 100, "rolls vary: {}", seen.len());
        // Same seed, same schedule.
        let (mut a, mut b) = (SnapshotPolicy::new(1000, 3), SnapshotPolicy::new(1000, 3));
        assert_eq!((a.roll(), a.roll()), (b.roll(), b.roll()));
    }

    #[test]
    fn one_snapshot_at_a_time_and_the_count_keeps_running() {
        let mut p = SnapshotPolicy::new(10, 1);
        let mut taken = 0;
        for _ in 0..10 {
            if p.logged(1).is_some() {
                taken += 1;
            }
        }
        assert_eq!(taken, 1, "due once within snapCount txns");
        assert!(p.in_progress());
        assert_eq!(p.logged(100), None, "not while one is being written");
        p.written();
        assert_eq!(p.due(), Some(SnapshotMode::Fuzzy), "the count kept running");
    }

    #[test]
    fn abandoned_snapshots_are_retried_and_then_written_whole() {
        let mut p = SnapshotPolicy::new(1_000_000, 1);
        p.request_now();
        for _ in 0..MAX_ABANDONED_IN_ROW {
            assert_eq!(p.due(), Some(SnapshotMode::Fuzzy));
            p.abandoned();
        }
        assert_eq!(p.due(), Some(SnapshotMode::Whole));
        p.written();
        assert_eq!(p.due(), None);
        p.failed();
        assert_eq!(p.due(), None, "a failure waits for the next count");
    }
}
