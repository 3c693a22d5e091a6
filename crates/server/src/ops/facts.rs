//! Facts both the four-letter words and the admin commands report: the version string, the
//! process environment, directory sizes, the trace mask, ZooKeeper's short operation names
//! and the session of each connection.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};

use menagerie_core::{ConnId, Node};
use menagerie_proto::opcode::OpCode;

/// The version string reported to tools that parse it.
pub const VERSION: &str = concat!(
    "3.9.3-menagerie-",
    env!("CARGO_PKG_VERSION"),
    ", built on 1970-01-01 00:00 UTC"
);

/// ZooKeeper's default trace mask (client ping, request, watch event and session masks).
const DEFAULT_TRACE_MASK: i64 = 306;

/// The process-wide trace mask (`set_trace_mask` / `get_trace_mask`), as ZooKeeper's
/// static `ZooTrace` level. Menagerie writes no trace log; the mask is only remembered.
static TRACE_MASK: AtomicI64 = AtomicI64::new(DEFAULT_TRACE_MASK);

/// The current trace mask.
pub fn trace_mask() -> i64 {
    TRACE_MASK.load(Ordering::Relaxed)
}

/// Remembers a new trace mask.
pub fn set_trace_mask(mask: i64) {
    TRACE_MASK.store(mask, Ordering::Relaxed);
}

/// ZooKeeper's `lop` abbreviations.
pub fn op_name(op: Option<OpCode>) -> &'static str {
    use OpCode::*;
    match op {
        None => "NA",
        Some(op) => match op {
            CreateSession => "SESS",
            Ping => "PING",
            Create | Create2 | CreateContainer | CreateTtl => "CREA",
            Delete | DeleteContainer => "DELE",
            SetData => "SETD",
            GetData => "GETD",
            Exists => "EXIS",
            GetChildren | GetChildren2 => "GETC",
            GetAcl => "GETA",
            SetAcl => "SETA",
            Sync => "SYNC",
            Check => "CHEC",
            Multi => "MULT",
            MultiRead => "MLTR",
            Reconfig => "RECO",
            SetWatches => "SETW",
            SetWatches2 => "STW2",
            AddWatch => "ADDW",
            CheckWatches => "CHKW",
            RemoveWatches => "REMW",
            WhoAmI => "HOMI",
            GetEphemerals => "GETE",
            GetAllChildrenNumber => "GETACN",
            CloseSession => "CLOS",
            _ => "NA",
        },
    }
}

/// The `envi` pairs (the Java-only keys a native server cannot have are left out).
pub fn environment() -> Vec<(&'static str, String)> {
    let env = |k: &str| std::env::var(k).unwrap_or_default();
    let cwd = std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    vec![
        ("zookeeper.version", VERSION.to_string()),
        ("host.name", host),
        ("os.name", std::env::consts::OS.to_string()),
        ("os.arch", std::env::consts::ARCH.to_string()),
        ("os.version", os_version()),
        (
            "os.memory.free",
            format!("{}MB", mem_kb("MemAvailable") / 1024),
        ),
        ("os.memory.max", format!("{}MB", mem_kb("MemTotal") / 1024)),
        ("os.memory.total", format!("{}MB", rss_kb() / 1024)),
        ("user.name", env("USER")),
        ("user.home", env("HOME")),
        ("user.dir", cwd),
        ("java.io.tmpdir", std::env::temp_dir().display().to_string()),
    ]
}

fn os_version() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

fn mem_kb(key: &str) -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|m| {
            m.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4)
}

/// Total size of the files under `dir` (non-recursive past `version-2`).
pub fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    for d in [dir.to_path_buf(), dir.join("version-2")] {
        if let Ok(entries) = std::fs::read_dir(&d) {
            for e in entries.flatten() {
                if let Ok(m) = e.metadata()
                    && m.is_file()
                {
                    total += m.len();
                }
            }
        }
    }
    total
}

/// The session of every connection (0 before its handshake completed).
pub fn session_of(server: &Node) -> HashMap<ConnId, i64> {
    server
        .connections()
        .into_iter()
        .map(|c| (c.conn, c.session.0))
        .collect()
}
