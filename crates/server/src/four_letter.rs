//! Four-letter words (`ruok`, `srvr`, ...), answered as plain text on a fresh connection.

use menagerie_core::{Now, Server};

use crate::config::ServerConfig;

/// The version string reported to tools that parse it.
pub const VERSION: &str = concat!(
    "3.9.3-menagerie-",
    env!("CARGO_PKG_VERSION"),
    ", built on 1970-01-01 00:00 UTC"
);

/// Renders a whitelisted command.
pub fn render(
    word: &str,
    server: &Server,
    config: &ServerConfig,
    _now: Now,
    _started: Now,
) -> String {
    match word {
        "ruok" => "imok".into(),
        "isro" => "rw".into(),
        "srvr" | "stat" => srvr(server, config, word == "stat"),
        _ => format!("{word} is not executed because it is not in the whitelist.\n"),
    }
}

fn srvr(server: &Server, _config: &ServerConfig, with_clients: bool) -> String {
    let mut s = format!("Zookeeper version: {VERSION}\n");
    if with_clients {
        s.push_str("Clients:\n\n");
    }
    let stats = server.stats();
    s.push_str("Latency min/avg/max: 0/0.0/0\n");
    s.push_str(&format!("Received: {}\n", stats.packets_received));
    s.push_str(&format!("Sent: {}\n", stats.packets_sent));
    s.push_str(&format!("Connections: {}\n", server.connection_count()));
    s.push_str("Outstanding: 0\n");
    s.push_str(&format!("Zxid: 0x{:x}\n", server.last_processed_zxid()));
    s.push_str("Mode: standalone\n");
    // ZooKeeper counts the root twice (under "/" and its alias "").
    s.push_str(&format!("Node count: {}\n", server.tree().node_count() + 1));
    s
}
