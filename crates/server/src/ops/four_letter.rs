//! Four-letter words (`ruok`, `srvr`, `mntr`, ...), answered as plain text on a fresh
//! connection in ZooKeeper's formats (tools such as zktop and mntr scrapers parse them).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use menagerie_core::ConnInfo;
use menagerie_core::{ConnId, Node};

use super::ensemble;
use super::facts::{VERSION, dir_size, environment, op_name, session_of, trace_mask};
use super::metric::to_mntr;
use super::monitor::collect;
use super::redact::masked_session;
use super::view::ShellView;
use crate::config::ServerConfig;

/// Renders a whitelisted command; may reset counters (`crst`, `srst`).
pub fn render(word: &str, server: &mut Node, view: &ShellView<'_>) -> String {
    if let Some(answer) = ensemble::not_serving_answer(word, server) {
        return answer;
    }
    match word {
        "ruok" => "imok".into(),
        // "ro" once the storage has failed and only reads are served.
        "isro" => if server.is_read_only() { "ro" } else { "rw" }.into(),
        "srvr" => srvr(server, view, false),
        "stat" => srvr(server, view, true),
        "cons" => {
            let mut s = requester_line(view);
            for c in server.connections() {
                connection_line(&mut s, &c, view, false);
            }
            s.push('\n');
            s
        }
        "crst" => {
            server.reset_connection_stats();
            "Connection stats reset.\n".into()
        }
        "srst" => {
            server.reset_stats();
            "Server stats reset.\n".into()
        }
        "conf" => conf(view.config),
        "envi" => envi(),
        "dirs" => format!(
            "datadir_size: {}\nlogdir_size: {}\n",
            dir_size(&view.config.data_dir),
            dir_size(&view.config.data_log_dir)
        ),
        "dump" => dump(server, view),
        "wchs" => wchs(server),
        "wchc" => wchc(server),
        "wchp" => wchp(server),
        "mntr" => mntr(server, view),
        // The trace mask (ZooKeeper's default 306 unless the admin set_trace_mask changed it).
        "gtmk" => trace_mask().to_string(),
        // The tree digest every 128th zxid, oldest first: `<hex zxid>: <digest>`.
        "hash" => server
            .digest_log()
            .history()
            .map(|d| format!("{:x}: {}\n", d.zxid, d.digest))
            .collect(),
        _ => format!("{word} is not executed because it is not in the whitelist.\n"),
    }
}

fn srvr(server: &Node, view: &ShellView<'_>, with_clients: bool) -> String {
    let mut s = format!("Zookeeper version: {VERSION}\n");
    if server.serves_read_only() {
        s.push_str("READ-ONLY mode; serving only read-only clients\n");
    }
    if with_clients {
        s.push_str("Clients:\n");
        s.push_str(&requester_line(view));
        for c in server.connections() {
            connection_line(&mut s, &c, view, true);
        }
        s.push('\n');
    }
    let stats = server.stats();
    let _ = writeln!(
        s,
        "Latency min/avg/max: {}/{:.4}/{}",
        stats.latency.min,
        stats.latency.avg(),
        stats.latency.max
    );
    let _ = writeln!(s, "Received: {}", stats.packets_received);
    let _ = writeln!(s, "Sent: {}", stats.packets_sent);
    let _ = writeln!(s, "Connections: {}", server.connection_count() + 1);
    let _ = writeln!(s, "Outstanding: {}", server.outstanding());
    let _ = writeln!(s, "Zxid: 0x{:x}", server.last_processed_zxid());
    let _ = writeln!(s, "Mode: {}", ensemble::server_state(server));
    // ZooKeeper counts the root twice (under "/" and its alias "").
    let _ = writeln!(s, "Node count: {}", server.tree().node_count() + 1);
    if let Some(line) = ensemble::proposal_sizes_line(server) {
        s.push_str(&line);
    }
    s
}

/// The line for the four-letter-word connection itself (no session, nothing queued).
fn requester_line(view: &ShellView<'_>) -> String {
    format!(" /{}[0](queued=0,recved=1,sent=0)\n", view.requester)
}

/// One connection as ZooKeeper's `ServerCnxn.dumpConnectionInfo` prints it.
fn connection_line(s: &mut String, c: &ConnInfo, view: &ShellView<'_>, brief: bool) {
    let peer = view.peer(c.conn);
    let st = &c.stats;
    let _ = write!(
        s,
        " /{peer}[1](queued={},recved={},sent={}",
        c.queued, st.received, st.sent
    );
    if !brief && c.session != menagerie_proto::SessionId::NONE {
        let _ = write!(
            s,
            ",sid={},lop={},est={},to={},lcxid=0x{:x},lzxid=0x{:x},lresp={},llat={},minlat={},avglat={:.0},maxlat={}",
            masked_session(c.session.0),
            op_name(st.last_op),
            st.established_ms,
            c.timeout_ms,
            st.last_cxid,
            st.last_zxid,
            st.last_response_ms,
            st.latency.last,
            st.latency.min,
            st.latency.avg(),
            st.latency.max
        );
    }
    s.push_str(")\n");
}

fn conf(c: &ServerConfig) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "clientPort={}", c.client_addr.port());
    let secure = c
        .secure_client
        .as_ref()
        .map_or(-1, |(a, _)| i32::from(a.port()));
    let _ = writeln!(s, "secureClientPort={secure}");
    let _ = writeln!(s, "dataDir={}/version-2", c.data_dir.display());
    let _ = writeln!(s, "dataDirSize={}", dir_size(&c.data_dir));
    let _ = writeln!(s, "dataLogDir={}/version-2", c.data_log_dir.display());
    let _ = writeln!(s, "dataLogSize={}", dir_size(&c.data_log_dir));
    let _ = writeln!(s, "tickTime={}", c.tick_ms);
    let _ = writeln!(s, "maxClientCnxns={}", c.max_client_cnxns);
    let _ = writeln!(s, "minSessionTimeout={}", c.min_session_timeout_ms);
    let _ = writeln!(s, "maxSessionTimeout={}", c.max_session_timeout_ms);
    let _ = writeln!(s, "clientPortListenBacklog=-1");
    let id = c.quorum.as_ref().map_or(0, |q| q.my_id.0);
    let _ = writeln!(s, "serverId={id}");
    if let Some(q) = &c.quorum {
        ensemble::conf_lines(q, &mut s);
    }
    s
}

fn envi() -> String {
    let mut s = String::from("Environment:\n");
    for (k, v) in environment() {
        let _ = writeln!(s, "{k}={v}");
    }
    s
}

fn dump(server: &Node, view: &ShellView<'_>) -> String {
    let mut s = String::from("SessionTracker dump:\n");
    let sessions = server.sessions();
    let mut buckets: BTreeMap<u64, Vec<i64>> = BTreeMap::new();
    for si in &sessions {
        buckets.entry(si.expires_at_ms).or_default().push(si.id.0);
    }
    let _ = writeln!(s, "Session Sets ({})/({}):", buckets.len(), sessions.len());
    for (at, ids) in &buckets {
        // Expiry times are monotonic; show them as wall-clock ms like ZooKeeper's dates.
        let wall = view.now.wall_ms + (*at as i64 - view.now.mono_ms as i64);
        let _ = writeln!(s, "{} expire at {}:", ids.len(), wall);
        for id in ids {
            let _ = writeln!(s, "\t{}", masked_session(*id));
        }
    }
    s.push_str("ephemeral nodes dump:\n");
    let tree = server.tree();
    let owners: Vec<i64> = tree.sessions_with_ephemerals().collect();
    let _ = writeln!(s, "Sessions with Ephemerals ({}):", owners.len());
    for id in owners {
        let _ = writeln!(s, "{}:", masked_session(id));
        for p in tree.ephemerals(id) {
            let _ = writeln!(s, "\t{p}");
        }
    }
    s
}

fn wchs(server: &Node) -> String {
    let watches = server.data_watches();
    let conns: BTreeSet<ConnId> = watches.iter().map(|(_, c)| *c).collect();
    let paths: BTreeSet<&str> = watches.iter().map(|(p, _)| p.as_str()).collect();
    format!(
        "{} connections watching {} paths\nTotal watches:{}\n",
        conns.len(),
        paths.len(),
        watches.len()
    )
}

fn wchc(server: &Node) -> String {
    let sessions = session_of(server);
    let mut by_session: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for (p, c) in server.data_watches() {
        by_session
            .entry(sessions.get(&c).copied().unwrap_or(0))
            .or_default()
            .push(p);
    }
    let mut s = String::new();
    for (sid, paths) in by_session {
        let _ = writeln!(s, "{}", masked_session(sid));
        for p in paths {
            let _ = writeln!(s, "\t{p}");
        }
    }
    s.push('\n');
    s
}

fn wchp(server: &Node) -> String {
    let sessions = session_of(server);
    let mut by_path: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (p, c) in server.data_watches() {
        by_path
            .entry(p)
            .or_default()
            .push(sessions.get(&c).copied().unwrap_or(0));
    }
    let mut s = String::new();
    for (p, sids) in by_path {
        let _ = writeln!(s, "{p}");
        for sid in sids {
            let _ = writeln!(s, "\t{}", masked_session(sid));
        }
    }
    s.push('\n');
    s
}

fn mntr(server: &Node, view: &ShellView<'_>) -> String {
    // The four-letter-word connection itself counts as alive, as in ZooKeeper.
    to_mntr(&collect(server, view, 1))
}
