//! The server's monitoring numbers, produced once from the core and the shell's view
//! ([`collect`]) and rendered by [`super::metric`] as `mntr`, the `monitor` command and
//! Prometheus text, so the three cannot disagree; plus the Prometheus-only families
//! ([`extra_prometheus`]).

use std::fmt::Write as _;

use menagerie_core::Node;
use menagerie_core::Stats;
use menagerie_storage::FsyncStatsSnapshot;
use menagerie_storage::txnlog::FSYNC_BUCKET_BOUNDS_MS;

use super::ensemble;
use super::facts::VERSION;
use super::metric::{Metric, Value, java_double, m, round4};
use super::view::ShellView;

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

/// The monitoring set of a standalone ZooKeeper 3.8 server's basic gauges, in ZooKeeper's
/// order, and the counters of its metrics that Menagerie measures. `extra_connections` counts a connection the core does not know about (the
/// four-letter-word connection itself, which ZooKeeper counts as alive).
pub fn collect(server: &Node, view: &ShellView<'_>, extra_connections: usize) -> Vec<Metric> {
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
    let mut all = vec![
        m("version", Text(VERSION.to_string())),
        m("server_state", Text(ensemble::server_state(server).into())),
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
        m("uptime", Int(view.uptime_ms())),
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
    ];
    all.extend(ensemble::metrics(server, view));
    all
}

/// Prometheus families beyond the `mntr` gauges (whose key set is ZooKeeper's): ZooKeeper's
/// summaries `fsynctime`, `readlatency` and `updatelatency` (milliseconds; count and sum, no
/// quantiles), and Menagerie's own `menagerie_fsync_threshold_exceed_count` (fsyncs over
/// `fsync.warningthresholdms`; ZooKeeper 3.8 exports no such metric) and the histograms
/// `menagerie_fsync_seconds`, `menagerie_read_latency_seconds` and
/// `menagerie_update_latency_seconds`.
pub fn extra_prometheus(fsync: &FsyncStatsSnapshot, stats: &Stats) -> String {
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
