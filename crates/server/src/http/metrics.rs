//! The Prometheus exposition of `/metrics`, encoded with the `prometheus-client` crate:
//! ZooKeeper's gauges under the names its PrometheusMetricsProvider uses (the `mntr` set,
//! from the same numbers as `mntr` and `monitor`), Menagerie's own counter and histograms,
//! and ZooKeeper's summaries `fsynctime`, `readlatency` and `updatelatency` (count and sum).
//!
//! prometheus-client 0.24 has no summary type (its `MetricType` lists Counter, Gauge,
//! Histogram, Info and Unknown), so the three summaries are appended in the same text format
//! by [`summary`]; everything else goes through the crate's encoder. The text is Prometheus'
//! 0.0.4 format (no OpenMetrics `# EOF`), as ZooKeeper serves it.

use std::fmt::Write as _;

use menagerie_core::front::stats::LATENCY_BUCKET_BOUNDS_MS;
use menagerie_core::{LatencyHistogram, Stats};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::ops::metric::{Metric, Value};
use menagerie_storage::FsyncStatsSnapshot;
use menagerie_storage::txnlog::FSYNC_BUCKET_BOUNDS_MS;

/// The numbers of one scrape, read by the shell task.
#[derive(Debug, Clone)]
pub struct Scrape {
    /// The monitoring numbers (`mntr`).
    pub metrics: Vec<Metric>,
    /// The transaction log's fsyncs.
    pub fsync: FsyncStatsSnapshot,
    /// The core's request counters and latency histograms.
    pub stats: Stats,
}

/// The content type of [`encode`]'s text.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Renders a scrape as Prometheus text.
pub fn encode(scrape: Scrape) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(ScrapeCollector(scrape.clone())));
    let mut out = String::new();
    if prometheus_client::encoding::text::encode_registry(&mut out, &registry).is_err() {
        out.clear();
    }
    let fsync_ms = scrape.fsync.total.as_secs_f64() * 1000.0;
    summary(
        &mut out,
        "fsynctime",
        "fsync time of the transaction log, ms",
        scrape.fsync.count,
        fsync_ms,
    );
    for (name, help, h) in [
        (
            "readlatency",
            "read request latency, ms",
            &scrape.stats.read_latency,
        ),
        (
            "updatelatency",
            "write request latency, ms",
            &scrape.stats.update_latency,
        ),
    ] {
        summary(&mut out, name, help, h.count, h.sum_ms as f64);
    }
    out
}

/// Encodes the scrape's gauges, counter and histograms.
#[derive(Debug)]
struct ScrapeCollector(Scrape);

impl Collector for ScrapeCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = &self.0;
        for m in &s.metrics {
            let v = match &m.value {
                Value::Int(i) => *i as f64,
                Value::Float(f) => *f,
                Value::Text(_) => continue,
            };
            encoder
                .encode_descriptor(m.name, m.name, None, MetricType::Gauge)?
                .encode_gauge(&v)?;
        }
        encoder
            .encode_descriptor(
                "menagerie_fsync_threshold_exceed_count",
                "fsyncs slower than fsync.warningthresholdms",
                None,
                MetricType::Counter,
            )?
            .encode_counter::<NoLabelSet, u64, f64>(&s.fsync.slow, None)?;
        let fsync_ms = s.fsync.total.as_secs_f64() * 1000.0;
        histogram(
            &mut encoder,
            "menagerie_fsync_seconds",
            "fsync time of the transaction log",
            &FSYNC_BUCKET_BOUNDS_MS,
            &s.fsync.buckets,
            fsync_ms,
        )?;
        latency(
            &mut encoder,
            "menagerie_read_latency_seconds",
            "read request latency",
            &s.stats.read_latency,
        )?;
        latency(
            &mut encoder,
            "menagerie_update_latency_seconds",
            "write request latency, from receipt to the reply after apply",
            &s.stats.update_latency,
        )
    }
}

fn latency(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    h: &LatencyHistogram,
) -> Result<(), std::fmt::Error> {
    histogram(
        encoder,
        name,
        help,
        &LATENCY_BUCKET_BOUNDS_MS,
        &h.buckets,
        h.sum_ms as f64,
    )
}

/// A histogram in seconds from non-cumulative buckets with upper bounds in milliseconds (one
/// more bucket than bounds: the overflow). The count is the buckets' own sum, so the text is
/// consistent even when the counters were read while they moved.
fn histogram(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    bounds_ms: &[u64],
    buckets: &[u64],
    sum_ms: f64,
) -> Result<(), std::fmt::Error> {
    let mut pairs: Vec<(f64, u64)> = bounds_ms
        .iter()
        .zip(buckets)
        .map(|(b, n)| (*b as f64 / 1000.0, *n))
        .collect();
    let overflow = buckets.get(bounds_ms.len()).copied().unwrap_or(0);
    pairs.push((f64::MAX, overflow));
    let count = buckets.iter().sum();
    encoder
        .encode_descriptor(name, help, None, MetricType::Histogram)?
        .encode_histogram::<NoLabelSet>(sum_ms / 1000.0, count, &pairs, None)
}

/// A summary with only a count and a sum (milliseconds), as ZooKeeper names its summaries.
fn summary(s: &mut String, name: &str, help: &str, count: u64, sum_ms: f64) {
    let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} summary");
    let _ = writeln!(s, "{name}_count {count}\n{name}_sum {sum_ms:?}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauges_histograms_and_summaries() {
        let mut stats = Stats::default();
        stats.read_latency.count = 3;
        stats.read_latency.sum_ms = 7;
        stats.read_latency.buckets[0] = 2;
        stats.read_latency.buckets[LATENCY_BUCKET_BOUNDS_MS.len()] = 1;
        let text = encode(Scrape {
            metrics: vec![
                Metric {
                    name: "znode_count",
                    value: Value::Int(8),
                },
                Metric {
                    name: "version",
                    value: Value::Text("3.8".into()),
                },
                Metric {
                    name: "avg_latency",
                    value: Value::Float(0.5),
                },
            ],
            fsync: FsyncStatsSnapshot::default(),
            stats,
        });
        assert!(
            text.contains("# TYPE znode_count gauge\nznode_count 8.0\n"),
            "{text}"
        );
        assert!(text.contains("\navg_latency 0.5\n"), "{text}");
        assert!(!text.contains("version"), "{text}");
        assert!(
            text.contains("menagerie_read_latency_seconds_bucket{le=\"+Inf\"} 3\n"),
            "{text}"
        );
        assert!(
            text.contains("readlatency_count 3\nreadlatency_sum 7.0\n"),
            "{text}"
        );
        assert!(
            text.contains("menagerie_fsync_threshold_exceed_count_total 0\n"),
            "{text}"
        );
        assert!(!text.contains("# EOF"), "{text}");
    }
}
