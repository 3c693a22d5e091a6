//! The server's monitoring numbers, produced once and rendered three ways: the `mntr`
//! four-letter word (`zk_<name>\t<value>` lines), the admin `monitor` command (a JSON object)
//! and Prometheus text on `/metrics` (the names ZooKeeper's PrometheusMetricsProvider uses).

use std::fmt::Write as _;

use menagerie_core::Node as Server;
use menagerie_core::Stats;

use crate::four_letter::{ShellView, VERSION};

/// One value as ZooKeeper's metrics map holds it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A Java long.
    Int(i64),
    /// A Java double.
    Float(f64),
    /// A string (only `version` and `server_state`).
    Text(String),
}

impl Value {
    /// The value as `mntr` prints it (Java's `toString`: doubles keep a `.0`).
    pub fn to_text(&self) -> String {
        match self {
            Value::Int(i) => i.to_string(),
            Value::Float(f) => java_double(*f),
            Value::Text(s) => s.clone(),
        }
    }

    /// The value as the JSON `monitor` command gives it.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Int(i) => (*i).into(),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            Value::Text(s) => s.clone().into(),
        }
    }
}

/// Java's `Double.toString` for the values that occur here (no exponent form).
fn java_double(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}

/// Rounds to 4 decimals, as ZooKeeper's `ServerStats.getAvgLatency` does.
pub fn round4(f: f64) -> f64 {
    (f * 10_000.0).round() / 10_000.0
}

/// A named number (or string) of the monitoring set.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// The name without `zk_` (the JSON key and the Prometheus name).
    pub name: &'static str,
    /// The value.
    pub value: Value,
}

fn m(name: &'static str, value: Value) -> Metric {
    Metric { name, value }
}

/// Open and maximum file descriptors of this process (-1 when unknown).
pub fn open_fds() -> (i64, i64) {
    let open = std::fs::read_dir("/proc/self/fd").map_or(-1, |d| d.count() as i64);
    let max = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| {
            l.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3).map(str::to_owned))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(-1);
    (open, max)
}

/// Milliseconds since the shell started.
pub fn uptime_ms(view: &ShellView<'_>) -> i64 {
    view.now.mono_ms.saturating_sub(view.started.mono_ms) as i64
}

/// The monitoring set of a standalone ZooKeeper 3.8 server's basic gauges, in ZooKeeper's
/// order, and the counters of its metrics that Menagerie measures. `extra_connections` counts a connection the core does not know about (the
/// four-letter-word connection itself, which ZooKeeper counts as alive).
pub fn collect(server: &Server, view: &ShellView<'_>, extra_connections: usize) -> Vec<Metric> {
    use Value::{Float, Int, Text};
    let stats = server.stats();
    let tree = server.tree();
    let ephemerals: usize = tree
        .sessions_with_ephemerals()
        .map(|s| tree.ephemerals(s).count())
        .sum();
    let (open, max) = open_fds();
    let n = |v: usize| Int(v as i64);
    let u = |v: u64| Int(i64::try_from(v).unwrap_or(i64::MAX));
    vec![
        m("version", Text(VERSION.to_string())),
        m("server_state", Text("standalone".into())),
        m("ephemerals_count", n(ephemerals)),
        m(
            "num_alive_connections",
            n(server.connection_count() + extra_connections),
        ),
        m("outstanding_requests", n(server.outstanding())),
        // ZooKeeper counts the root twice (under "/" and its alias "").
        m("znode_count", n(tree.node_count() + 1)),
        m("global_sessions", n(server.session_count())),
        m("local_sessions", Int(0)),
        m("watch_count", n(server.watch_count())),
        m("approximate_data_size", u(tree.approximate_data_size())),
        m("avg_latency", Float(round4(stats.latency.avg()))),
        m("min_latency", u(stats.latency.min)),
        m("max_latency", u(stats.latency.max)),
        m("packets_sent", u(stats.packets_sent)),
        m("packets_received", u(stats.packets_received)),
        m("open_file_descriptor_count", Int(open)),
        m("max_file_descriptor_count", Int(max)),
        m("uptime", Int(uptime_ms(view))),
        m("last_client_response_size", Int(-1)),
        m("min_client_response_size", Int(-1)),
        m("max_client_response_size", Int(-1)),
        m("connection_drop_probability", Float(0.0)),
        m("auth_failed_count", Int(0)),
        m("non_mtls_remote_conn_count", Int(0)),
        m("non_mtls_local_conn_count", Int(0)),
        m("outstanding_tls_handshake", Int(0)),
        // A ZooKeeper counter (3.6+): txns or snapshots whose digest differed from the tree's.
        m(
            "digest_mismatches_count",
            u(server.digest_log().mismatches()),
        ),
    ]
}

/// The `mntr` four-letter-word text.
pub fn to_mntr(metrics: &[Metric]) -> String {
    let mut s = String::new();
    for x in metrics {
        let _ = writeln!(s, "zk_{}\t{}", x.name, x.value.to_text());
    }
    s
}

/// The admin `monitor` command's fields.
pub fn to_json(metrics: &[Metric]) -> serde_json::Map<String, serde_json::Value> {
    metrics
        .iter()
        .map(|x| (x.name.to_owned(), x.value.to_json()))
        .collect()
}

/// Prometheus text exposition format 0.0.4, as ZooKeeper's PrometheusMetricsProvider writes
/// it: every numeric metric is a gauge named like its `mntr` key without `zk_`, with the
/// name as its help text; strings (`version`, `server_state`) are not exported.
pub fn to_prometheus(metrics: &[Metric]) -> String {
    let mut s = String::new();
    for x in metrics {
        let v = match &x.value {
            Value::Int(i) => *i as f64,
            Value::Float(f) => *f,
            Value::Text(_) => continue,
        };
        let _ = writeln!(s, "# HELP {0} {0}\n# TYPE {0} gauge", x.name);
        let _ = writeln!(s, "{} {}", x.name, java_double(v));
    }
    s
}

/// Prometheus families beyond the `mntr` gauges (whose key set is ZooKeeper's): ZooKeeper's
/// summaries `fsynctime`, `readlatency` and `updatelatency` (milliseconds; count and sum, no
/// quantiles), and Menagerie's own `menagerie_fsync_threshold_exceed_count` (fsyncs over
/// `fsync.warningthresholdms`; ZooKeeper 3.8 exports no such metric) and the histograms
/// `menagerie_fsync_seconds`, `menagerie_read_latency_seconds` and
/// `menagerie_update_latency_seconds`.
pub fn extra_prometheus(fsync: &crate::persistence::FsyncStatsSnapshot, stats: &Stats) -> String {
    use crate::persistence::FSYNC_BUCKET_BOUNDS_MS;
    use menagerie_core::front::stats::LATENCY_BUCKET_BOUNDS_MS;
    let mut s = String::new();
    let fsync_ms = fsync.total.as_secs_f64() * 1000.0;
    summary(
        &mut s,
        "fsynctime",
        "fsync time of the transaction log, ms",
        fsync.count,
        fsync_ms,
    );
    let _ = writeln!(
        s,
        "# HELP menagerie_fsync_threshold_exceed_count fsyncs slower than fsync.warningthresholdms"
    );
    let _ = writeln!(s, "# TYPE menagerie_fsync_threshold_exceed_count counter");
    let _ = writeln!(
        s,
        "menagerie_fsync_threshold_exceed_count_total {}",
        fsync.slow
    );
    histogram(
        &mut s,
        "menagerie_fsync_seconds",
        "fsync time of the transaction log",
        &FSYNC_BUCKET_BOUNDS_MS,
        &fsync.buckets,
        fsync_ms,
    );
    for (name, help, h) in [
        (
            "readlatency",
            "read request latency, ms",
            &stats.read_latency,
        ),
        (
            "updatelatency",
            "write request latency, ms",
            &stats.update_latency,
        ),
    ] {
        summary(&mut s, name, help, h.count, h.sum_ms as f64);
    }
    for (name, help, h) in [
        (
            "menagerie_read_latency_seconds",
            "read request latency",
            &stats.read_latency,
        ),
        (
            "menagerie_update_latency_seconds",
            "write request latency, from receipt to the reply after apply",
            &stats.update_latency,
        ),
    ] {
        histogram(
            &mut s,
            name,
            help,
            &LATENCY_BUCKET_BOUNDS_MS,
            &h.buckets,
            h.sum_ms as f64,
        );
    }
    s
}

/// A summary with only a count and a sum (milliseconds), as ZooKeeper names its summaries.
fn summary(s: &mut String, name: &str, help: &str, count: u64, sum_ms: f64) {
    let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} summary");
    let _ = writeln!(
        s,
        "{name}_count {count}\n{name}_sum {}",
        java_double(sum_ms)
    );
}

/// A histogram in seconds from non-cumulative buckets with upper bounds in milliseconds (one
/// more bucket than bounds: the overflow). The count is the buckets' own sum, so the text is
/// consistent even when the counters were read while they moved.
fn histogram(
    s: &mut String,
    name: &str,
    help: &str,
    bounds_ms: &[u64],
    buckets: &[u64],
    sum_ms: f64,
) {
    let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} histogram");
    let mut cumulative = 0u64;
    for (bound, n) in bounds_ms.iter().zip(buckets) {
        cumulative += n;
        let le = java_double(*bound as f64 / 1000.0);
        let _ = writeln!(s, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
    }
    let all: u64 = buckets.iter().sum();
    let _ = writeln!(s, "{name}_bucket{{le=\"+Inf\"}} {all}");
    let _ = writeln!(s, "{name}_sum {}", java_double(sum_ms / 1000.0));
    let _ = writeln!(s, "{name}_count {all}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_print_like_java() {
        assert_eq!(java_double(0.0), "0.0");
        assert_eq!(java_double(3.0), "3.0");
        assert_eq!(java_double(3.4286), "3.4286");
        assert_eq!(round4(10.0 / 3.0), 3.3333);
    }

    #[test]
    fn three_renderings_agree() {
        let metrics = vec![
            m("version", Value::Text("v".into())),
            m("znode_count", Value::Int(5)),
            m("avg_latency", Value::Float(0.5)),
        ];
        assert_eq!(
            to_mntr(&metrics),
            "zk_version\tv\nzk_znode_count\t5\nzk_avg_latency\t0.5\n"
        );
        let json = to_json(&metrics);
        assert_eq!(json["znode_count"], serde_json::json!(5));
        assert!(json["avg_latency"].is_f64());
        let prom = to_prometheus(&metrics);
        assert!(!prom.contains("version"));
        assert!(prom.contains("# TYPE znode_count gauge\nznode_count 5.0\n"));
    }
}
