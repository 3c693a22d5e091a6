//! Counters of the transaction log's fsyncs, shared lock-free with whoever reports them
//! (ZooKeeper: the `fsynctime` summary and `fsync_threshold_exceed_count` metric).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (inclusive, in milliseconds) of the histogram buckets; one more bucket counts
/// everything slower than the last bound.
pub const FSYNC_BUCKET_BOUNDS_MS: [u64; 12] =
    [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];

/// Number of histogram buckets: one per bound plus the overflow bucket.
pub const FSYNC_BUCKETS: usize = FSYNC_BUCKET_BOUNDS_MS.len() + 1;

/// Every fsync of a [`crate::TxnLog`] commit, counted. One "fsync" is one commit's syncing of
/// all its files (and the directory, when a file was created), measured as one duration, as
/// ZooKeeper measures `FileTxnLog.commit`. Share it in an `Arc`; reading never blocks the
/// writer.
#[derive(Debug, Default)]
pub struct FsyncStats {
    count: AtomicU64,
    slow: AtomicU64,
    total_us: AtomicU64,
    max_us: AtomicU64,
    buckets: [AtomicU64; FSYNC_BUCKETS],
}

/// A point-in-time copy of [`FsyncStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FsyncStatsSnapshot {
    /// Fsyncs done.
    pub count: u64,
    /// Of those, how many took longer than `fsync.warningthresholdms`
    /// (ZooKeeper: `fsync_threshold_exceed_count`).
    pub slow: u64,
    /// Time spent in all of them.
    pub total: Duration,
    /// The slowest one.
    pub max: Duration,
    /// `buckets[i]` counts fsyncs that took at most `FSYNC_BUCKET_BOUNDS_MS[i]` ms and more
    /// than the previous bound; the last bucket those slower than every bound. Not cumulative:
    /// a Prometheus histogram sums them.
    pub buckets: [u64; FSYNC_BUCKETS],
}

impl FsyncStatsSnapshot {
    /// Average fsync time (zero if none).
    pub fn mean(&self) -> Duration {
        if self.count == 0 {
            Duration::ZERO
        } else {
            self.total / u32::try_from(self.count).unwrap_or(u32::MAX)
        }
    }
}

impl FsyncStats {
    /// Zeroed counters.
    pub fn new() -> FsyncStats {
        FsyncStats::default()
    }

    /// Counts one fsync that took `took`; `slow` if it exceeded the warning threshold.
    pub fn record(&self, took: Duration, slow: bool) {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.count.fetch_add(1, Ordering::Relaxed);
        if slow {
            self.slow.fetch_add(1, Ordering::Relaxed);
        }
        self.total_us.fetch_add(us, Ordering::Relaxed);
        self.max_us.fetch_max(us, Ordering::Relaxed);
        let bucket = FSYNC_BUCKET_BOUNDS_MS
            .iter()
            .position(|&b| us <= b * 1000)
            .unwrap_or(FSYNC_BUCKETS - 1);
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
    }

    /// The counters now (each read atomically; together they may be a few fsyncs apart).
    pub fn snapshot(&self) -> FsyncStatsSnapshot {
        let mut buckets = [0; FSYNC_BUCKETS];
        for (b, a) in buckets.iter_mut().zip(&self.buckets) {
            *b = a.load(Ordering::Relaxed);
        }
        FsyncStatsSnapshot {
            count: self.count.load(Ordering::Relaxed),
            slow: self.slow.load(Ordering::Relaxed),
            total: Duration::from_micros(self.total_us.load(Ordering::Relaxed)),
            max: Duration::from_micros(self.max_us.load(Ordering::Relaxed)),
            buckets,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_count_and_max() {
        let s = FsyncStats::new();
        s.record(Duration::from_micros(500), false); // <= 1 ms
        s.record(Duration::from_millis(1), false); // <= 1 ms (inclusive)
        s.record(Duration::from_micros(1001), false); // <= 2 ms
        s.record(Duration::from_millis(1500), true); // <= 2000 ms
        s.record(Duration::from_secs(9), true); // overflow
        let snap = s.snapshot();
        assert_eq!((snap.count, snap.slow), (5, 2));
        assert_eq!(snap.max, Duration::from_secs(9));
        assert_eq!(snap.buckets[0], 2);
        assert_eq!(snap.buckets[1], 1);
        assert_eq!(snap.buckets[10], 1);
        assert_eq!(snap.buckets[FSYNC_BUCKETS - 1], 1);
        assert_eq!(snap.buckets.iter().sum::<u64>(), 5);
        assert_eq!(
            snap.total,
            Duration::from_micros(500 + 1000 + 1001 + 1_500_000 + 9_000_000)
        );
        assert_eq!(snap.mean(), snap.total / 5);
        assert_eq!(FsyncStats::new().snapshot().mean(), Duration::ZERO);
    }
}
