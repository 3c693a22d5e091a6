//! Four-letter words (`ruok`, `srvr`, `mntr`, ...), answered as plain text on a fresh
//! connection in ZooKeeper's formats (tools such as zktop and mntr scrapers parse them).

use std::fmt::Write as _;

use menagerie_core::Node;

use super::dumps::{self, Capture, Clients, Reply};
use super::ensemble;
use super::facts::{VERSION, dir_size, environment, trace_mask};
use super::metric::to_mntr;
use super::monitor::collect;
use super::view::ShellView;
use crate::config::ServerConfig;

/// Renders a whitelisted command on the spot; may reset counters (`crst`, `srst`).
pub fn render(word: &str, server: &mut Node, view: &ShellView<'_>) -> String {
    match prepare(word, server, view) {
        Reply::Ready(text) => text,
        Reply::Later(capture) => capture.render(),
    }
}

/// Answers a whitelisted command, or captures what a large answer needs so that it can be
/// rendered off the shell task ([`Capture::render`]); may reset counters (`crst`, `srst`).
pub fn prepare(word: &str, server: &mut Node, view: &ShellView<'_>) -> Reply<String> {
    if let Some(answer) = ensemble::not_serving_answer(word, server) {
        return Reply::Ready(answer);
    }
    if word == "stat" {
        let clients = Clients::capture(server, view);
        return Reply::Later(Capture::Stat(srvr_head(server), clients, srvr_tail(server)));
    }
    if let Some(capture) = dumps::capture_word(word, server, view) {
        return Reply::Later(capture);
    }
    Reply::Ready(small(word, server, view))
}

/// The answer of a word that does not grow with the watches, sessions or connections.
fn small(word: &str, server: &mut Node, view: &ShellView<'_>) -> String {
    match word {
        "ruok" => "imok".into(),
        // "ro" once the storage has failed and only reads are served.
        "isro" => if server.is_read_only() { "ro" } else { "rw" }.into(),
        "srvr" => srvr_head(server) + &srvr_tail(server),
        "crst" => {
            server.reset_connection_stats();
            "Connection stats reset.\n".into()
        }
        "srst" => {
            server.reset_stats();
            "Server stats reset.\n".into()
        }
        "conf" => conf(view.config, server),
        "envi" => envi(),
        "dirs" => format!(
            "datadir_size: {}\nlogdir_size: {}\n",
            dir_size(&view.config.data_dir),
            dir_size(&view.config.data_log_dir)
        ),
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

/// `srvr`/`stat` up to the list of clients.
fn srvr_head(server: &Node) -> String {
    let mut s = format!("Zookeeper version: {VERSION}\n");
    if server.serves_read_only() {
        s.push_str("READ-ONLY mode; serving only read-only clients\n");
    }
    s
}

/// `srvr`/`stat` after the list of clients.
fn srvr_tail(server: &Node) -> String {
    let mut s = String::new();
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

fn conf(c: &ServerConfig, server: &Node) -> String {
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
        let active = server.ensemble_view().map(|v| v.config_text);
        ensemble::conf_lines(q, active.as_deref(), &mut s);
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

fn mntr(server: &Node, view: &ShellView<'_>) -> String {
    // The four-letter-word connection itself counts as alive, as in ZooKeeper.
    to_mntr(&collect(server, view, 1))
}
