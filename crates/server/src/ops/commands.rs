//! ZooKeeper 3.8's AdminServer commands (`Commands.java`): names, aliases and the JSON each
//! answers, with the same keys and JSON types as a standalone ZooKeeper server.

use std::collections::BTreeMap;
use std::path::Path;

use menagerie_core::Node;
use serde_json::{Map, Value, json};

use super::dumps::{self, Capture, Clients, Reply};
use super::ensemble;
use super::facts::{VERSION, dir_size, environment, set_trace_mask, trace_mask};
use super::metric::{round4, to_json};
use super::monitor::collect;
use super::redact::{redact_properties_text, redact_value};
use super::view::ShellView;
use crate::config::properties::parse_properties;

/// A JSON object in ZooKeeper's key order.
pub type Object = Map<String, Value>;

/// Every command of ZooKeeper 3.8: primary name and aliases (the primary name comes first).
pub const COMMANDS: &[&[&str]] = &[
    &["configuration", "conf", "config"],
    &["connection_stat_reset", "crst"],
    &["connections", "cons"],
    &["dirs"],
    &["dump"],
    &["environment", "env", "envi"],
    &["get_trace_mask", "gtmk"],
    &["hash"],
    &["initial_configuration", "icfg"],
    &["is_read_only", "isro"],
    &["last_snapshot", "lsnp"],
    &["leader", "lead"],
    &["monitor", "mntr"],
    &["observer_connection_stat_reset", "orst"],
    &["observers", "obsr"],
    &["ruok"],
    &["server_stats", "srvr"],
    &["set_trace_mask", "stmk"],
    &["stat_reset", "srst"],
    &["stats", "stat"],
    &["system_properties", "sysp"],
    &["voting_view"],
    &["watch_summary", "wchs"],
    &["watches", "wchc"],
    &["watches_by_path", "wchp"],
    &["zabstate"],
];

/// The primary name of a command or alias.
pub fn primary_name(name: &str) -> Option<&'static str> {
    COMMANDS
        .iter()
        .find(|names| names.contains(&name))
        .map(|names| names[0])
}

/// The primary names, sorted (the `/commands` listing).
pub fn primary_names() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = COMMANDS.iter().map(|n| n[0]).collect();
    v.sort_unstable();
    v
}

/// Runs a command and returns its JSON object, `command` and `error` included.
/// `args` are the request's query parameters (first value of each).
pub fn run(
    name: &str,
    args: &BTreeMap<String, String>,
    server: &mut Node,
    view: &ShellView<'_>,
) -> Object {
    match prepare(name, args, server, view) {
        Reply::Ready(o) => o,
        Reply::Later(capture) => capture.into_object().unwrap_or_default(),
    }
}

/// Runs a command, or captures what a large answer needs so that it can be rendered off
/// the shell task ([`Capture::render`] then gives the admin server's JSON body).
pub fn prepare(
    name: &str,
    args: &BTreeMap<String, String>,
    server: &mut Node,
    view: &ShellView<'_>,
) -> Reply<Object> {
    let primary = primary_name(name);
    if primary == Some("stats") {
        let mut o = Object::new();
        server_stats(&mut o, server, view);
        return Reply::Later(Capture::Stats(o, Clients::capture(server, view)));
    }
    if let Some(capture) = primary.and_then(|p| dumps::capture_command(p, server, view)) {
        return Reply::Later(capture);
    }
    let Some(primary) = primary else {
        let error = Some(format!("Unknown command: {name}"));
        return Reply::Ready(finish(name, Object::new(), error));
    };
    let mut o = Object::new();
    let error = answer(primary, args, server, view, &mut o).err();
    Reply::Ready(finish(primary, o, error))
}

/// Fills `o` with the answer of the command named `primary`; `Err` is the command's error.
fn answer(
    primary: &str,
    args: &BTreeMap<String, String>,
    server: &mut Node,
    view: &ShellView<'_>,
    o: &mut Object,
) -> Result<(), String> {
    if let Some(answered) = ensemble::command(primary, server, view, o) {
        return answered;
    }
    match primary {
        "configuration" => configuration(o, view),
        "connection_stat_reset" => server.reset_connection_stats(),
        "dirs" => {
            o.put("datadir_size", dir_size(&view.config.data_dir).into());
            o.put("logdir_size", dir_size(&view.config.data_log_dir).into());
        }
        "environment" => {
            for (k, v) in environment() {
                o.put(k, v.into());
            }
        }
        "get_trace_mask" => o.put("tracemask", trace_mask().into()),
        "hash" => hash(o, server),
        "initial_configuration" => o.put(
            "initial_configuration",
            redact_properties_text(&view.config.initial_config).into(),
        ),
        "is_read_only" => o.put("read_only", server.is_read_only().into()),
        "last_snapshot" => {
            let (zxid, timestamp) = last_snapshot(&view.config.data_dir);
            o.put("zxid", format!("{:x}", zxid).into());
            o.put("timestamp", timestamp.into());
        }
        "monitor" => *o = to_json(&collect(server, view, 0)),
        "observer_connection_stat_reset" | "ruok" => {}
        "server_stats" => server_stats(o, server, view),
        "set_trace_mask" => return set_trace_mask_command(o, args),
        "stat_reset" => server.reset_stats(),
        "system_properties" => system_properties(o, view),
        _ => return Err(format!("Unknown command: {primary}")),
    }
    Ok(())
}

/// The tree digest every 128th zxid, oldest first (ZooKeeper's digest log).
fn hash(o: &mut Object, server: &Node) {
    let digests: Vec<_> = server
        .digest_log()
        .history()
        .map(|d| json!({"zxid": d.zxid.0, "digest": d.digest, "digest_version": d.version}))
        .collect();
    o.put("digests", digests.into());
}

/// `set_trace_mask?traceMask=N`.
fn set_trace_mask_command(o: &mut Object, args: &BTreeMap<String, String>) -> Result<(), String> {
    let Some(v) = args.get("traceMask") else {
        return Err("setTraceMask requires long traceMask argument".into());
    };
    let mask = v
        .parse::<i64>()
        .map_err(|_| format!("setTraceMask requires long traceMask argument, got {v}"))?;
    set_trace_mask(mask);
    o.put("tracemask", mask.into());
    Ok(())
}

/// Appends `command` and `error` (ZooKeeper's `CommandResponse.toMap`).
fn finish(command: &str, mut o: Object, error: Option<String>) -> Object {
    o.put("command", command.into());
    o.put("error", error.map_or(Value::Null, Value::String));
    o
}

/// `insert` with a borrowed key.
trait Put {
    fn put(&mut self, k: impl Into<String>, v: Value);
}

impl Put for Object {
    fn put(&mut self, k: impl Into<String>, v: Value) {
        self.insert(k.into(), v);
    }
}

fn configuration(o: &mut Object, view: &ShellView<'_>) {
    let c = view.config;
    o.put("client_port", c.client_addr.port().into());
    o.put(
        "data_dir",
        format!("{}/version-2", c.data_dir.display()).into(),
    );
    o.put(
        "data_log_dir",
        format!("{}/version-2", c.data_log_dir.display()).into(),
    );
    o.put("tick_time", c.tick_ms.into());
    o.put("max_client_cnxns", c.max_client_cnxns.into());
    o.put("min_session_timeout", c.min_session_timeout_ms.into());
    o.put("max_session_timeout", c.max_session_timeout_ms.into());
    o.put(
        "server_id",
        c.quorum.as_ref().map_or(0, |q| q.my_id.0).into(),
    );
    o.put("client_port_listen_backlog", (-1).into());
}

fn server_stats(o: &mut Object, server: &Node, view: &ShellView<'_>) {
    let stats = server.stats();
    let buffers = json!({"last_buffer_size": -1, "min_buffer_size": -1, "max_buffer_size": -1});
    let data_size = dir_size(&view.config.data_dir);
    let log_size = dir_size(&view.config.data_log_dir);
    let s = json!({
        "packets_sent": stats.packets_sent,
        "packets_received": stats.packets_received,
        "fsync_threshold_exceed_count": 0,
        "client_response_stats": buffers.clone(),
        "data_dir_size": data_size,
        "log_dir_size": log_size,
        "provider_null": false,
        "server_state": ensemble::server_state(server),
        "last_processed_zxid": server.last_processed_zxid().0,
        "outstanding_requests": server.outstanding(),
        "avg_latency": round4(stats.latency.avg()),
        "max_latency": stats.latency.max,
        "min_latency": stats.latency.min,
        "num_alive_client_connections": server.connection_count(),
        "auth_failed_count": 0,
        "non_mtlsremote_conn_count": 0,
        "non_mtlslocal_conn_count": 0,
        "uptime": view.uptime_ms(),
    });
    o.put("version", VERSION.into());
    o.put("read_only", server.is_read_only().into());
    o.put("server_stats", s);
    o.put("client_response", buffers);
    // ZooKeeper counts the root twice (under "/" and its alias "").
    o.put("node_count", (server.tree().node_count() + 1).into());
}

/// The newest snapshot file of the data directory: (zxid, modification time in seconds), or
/// (-1, -1) when there is none (ZooKeeper's answer without snapshot information).
fn last_snapshot(data_dir: &Path) -> (i64, i64) {
    let mut best: Option<(i64, i64)> = None;
    if let Ok(entries) = std::fs::read_dir(data_dir.join("version-2")) {
        for e in entries.flatten() {
            let name = e.file_name();
            let Some((zxid, _)) = name
                .to_str()
                .and_then(menagerie_storage::datadir::parse_snapshot_name)
            else {
                continue;
            };
            if best.is_some_and(|(z, _)| z >= zxid) {
                continue;
            }
            let secs = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(-1, |d| d.as_secs() as i64);
            best = Some((zxid, secs));
        }
    }
    best.unwrap_or((-1, -1))
}

/// Java system properties have no native counterpart; this lists the process facts a JVM
/// would report under the same names, plus `zookeeper.<key>` for each zoo.cfg key that
/// ZooKeeper turns into a system property, sorted by name as ZooKeeper does.
fn system_properties(o: &mut Object, view: &ShellView<'_>) {
    let mut props: BTreeMap<String, String> = environment()
        .into_iter()
        .filter(|(k, _)| !k.starts_with("os.memory") && *k != "host.name")
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    props.insert("file.separator".into(), "/".into());
    props.insert("line.separator".into(), "\n".into());
    props.insert("path.separator".into(), ":".into());
    for (k, v) in parse_properties(&view.config.initial_config) {
        if !DIRECT_KEYS.contains(&k.as_str()) && !k.starts_with("server.") {
            let key = if k.starts_with("zookeeper.") {
                k
            } else {
                format!("zookeeper.{k}")
            };
            let v = redact_value(&key, v.trim());
            props.insert(key, v);
        }
    }
    props.remove("zookeeper.version");
    for (k, v) in props {
        o.put(k, v.into());
    }
}

/// zoo.cfg keys ZooKeeper's `QuorumPeerConfig` handles itself (not system properties).
const DIRECT_KEYS: &[&str] = &[
    "dataDir",
    "dataLogDir",
    "clientPort",
    "clientPortAddress",
    "secureClientPort",
    "secureClientPortAddress",
    "tickTime",
    "maxClientCnxns",
    "minSessionTimeout",
    "maxSessionTimeout",
    "initLimit",
    "syncLimit",
    "electionAlg",
    "peerType",
    "syncEnabled",
    "dynamicConfigFile",
    "autopurge.snapRetainCount",
    "autopurge.purgeInterval",
    "standaloneEnabled",
    "reconfigEnabled",
    "localSessionsEnabled",
    "localSessionsUpgradingEnabled",
    "clientPortListenBacklog",
    "metricsProvider.className",
    "metricsProvider.httpHost",
    "metricsProvider.httpPort",
    "metricsProvider.exportJvmInfo",
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn aliases_resolve_to_primary_names() {
        assert_eq!(primary_name("mntr"), Some("monitor"));
        assert_eq!(primary_name("config"), Some("configuration"));
        assert_eq!(primary_name("zabstate"), Some("zabstate"));
        assert_eq!(primary_name("nosuch"), None);
        assert_eq!(primary_names().len(), 26);
        let all: BTreeSet<&str> = COMMANDS.iter().flat_map(|n| n.iter().copied()).collect();
        assert_eq!(
            all.len(),
            COMMANDS.iter().map(|n| n.len()).sum::<usize>(),
            "a name is used twice"
        );
    }
}
