//! Traffic counters and request latencies (what `stat`, `cons`, `mntr` and `/metrics` show).

use menagerie_proto::Zxid;
use menagerie_proto::opcode::OpCode;

/// Request latency summary in ms (min/avg/max as ZooKeeper reports them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Latency {
    /// Smallest.
    pub min: u64,
    /// Largest.
    pub max: u64,
    /// Sum.
    pub total: u64,
    /// Count.
    pub count: u64,
    /// Latest.
    pub last: u64,
}

impl Latency {
    pub(crate) fn add(&mut self, ms: u64) {
        self.min = if self.count == 0 {
            ms
        } else {
            self.min.min(ms)
        };
        self.max = self.max.max(ms);
        self.total += ms;
        self.count += 1;
        self.last = ms;
    }

    /// Average, 0 when nothing was measured.
    pub fn avg(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.total as f64 / self.count as f64
        }
    }
}

/// Upper bounds (ms, inclusive) of the [`LatencyHistogram`] buckets; one more bucket holds
/// everything slower.
pub const LATENCY_BUCKET_BOUNDS_MS: [u64; 12] =
    [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];

/// Request latencies counted by bucket (for Prometheus histograms).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LatencyHistogram {
    /// `buckets[i]`: requests that took at most `LATENCY_BUCKET_BOUNDS_MS[i]` ms and more than
    /// the previous bound; the last one, those slower than every bound. Not cumulative.
    pub buckets: [u64; LATENCY_BUCKET_BOUNDS_MS.len() + 1],
    /// Requests counted.
    pub count: u64,
    /// Their total latency, ms.
    pub sum_ms: u64,
}

impl LatencyHistogram {
    fn add(&mut self, ms: u64) {
        let i = LATENCY_BUCKET_BOUNDS_MS
            .iter()
            .position(|&b| ms <= b)
            .unwrap_or(LATENCY_BUCKET_BOUNDS_MS.len());
        self.buckets[i] += 1;
        self.count += 1;
        self.sum_ms += ms;
    }
}

/// Server-wide counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Requests received.
    pub packets_received: u64,
    /// Replies and notifications sent.
    pub packets_sent: u64,
    /// Request latency.
    pub latency: Latency,
    /// Latency of reads (and other requests answered without a txn), by bucket.
    pub read_latency: LatencyHistogram,
    /// Latency of writes (from receipt to the reply after apply), by bucket.
    pub update_latency: LatencyHistogram,
}

impl Stats {
    /// Counts an answered request.
    pub(crate) fn answered(&mut self, latency_ms: u64, write: bool) {
        self.latency.add(latency_ms);
        if write {
            self.update_latency.add(latency_ms);
        } else {
            self.read_latency.add(latency_ms);
        }
    }
}

/// Per-connection counters (what `cons` and `stat` show).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnStats {
    /// Requests received.
    pub received: u64,
    /// Replies and notifications sent.
    pub sent: u64,
    /// Wall-clock time the connection was established, ms.
    pub established_ms: i64,
    /// Last operation answered.
    pub last_op: Option<OpCode>,
    /// xid of the last request answered.
    pub last_cxid: i32,
    /// zxid in the last reply.
    pub last_zxid: Zxid,
    /// Wall-clock time of the last reply, ms.
    pub last_response_ms: i64,
    /// Request latency, ms.
    pub latency: Latency,
}
