//! The server's monitoring numbers, produced once from the core and the shell's view
//! ([`collect`]) and rendered as `mntr` and the `monitor` command by [`super::metric`], and
//! as Prometheus text by `crate::http::metrics`, so the three cannot disagree.

use menagerie_core::Node;

use super::ensemble;
use super::facts::VERSION;
use super::metric::{Metric, Value, m, round4};
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
        m("local_sessions", n(server.local_session_count())),
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
