//! The operations simulated clients perform, and how they are drawn. Keys are few so that
//! clients contend: persistent nodes `/k/0`..`/k/7` (created, set with and without versions,
//! deleted, read, watched), sequential nodes under `/s`, ephemerals under `/e`, multis over
//! `/k`, and syncs.

use menagerie_proto::records::{
    Acl, CheckVersionRequest, CreateRequest, DeleteRequest, GetDataRequest, PathRequest,
    PathWatchRequest, SetDataRequest,
};
use menagerie_proto::request::Request;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

/// Parents every workload path lives under.
pub const PARENTS: [&str; 3] = ["/k", "/s", "/e"];
/// Number of `/k` keys.
const KEYS: u32 = 8;

/// How a node is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Persistent.
    Persistent,
    /// Ephemeral: gone with the session.
    Ephemeral,
    /// Persistent, with a sequence number appended by the server.
    Sequential,
}

/// One client operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// create.
    Create {
        /// Path (the prefix, for sequential nodes).
        path: String,
        /// Data (unique per write).
        data: Vec<u8>,
        /// Mode.
        mode: Mode,
    },
    /// setData (version -1: any).
    SetData {
        /// Path.
        path: String,
        /// Data (unique per write).
        data: Vec<u8>,
        /// Expected version.
        version: i32,
    },
    /// delete (version -1: any).
    Delete {
        /// Path.
        path: String,
        /// Expected version.
        version: i32,
    },
    /// check (inside a multi).
    Check {
        /// Path.
        path: String,
        /// Expected version.
        version: i32,
    },
    /// multi of create / setData / delete / check.
    Multi(Vec<Op>),
    /// getData.
    GetData {
        /// Path.
        path: String,
        /// Leave a data watch.
        watch: bool,
    },
    /// exists.
    Exists {
        /// Path.
        path: String,
        /// Leave a data (or existence) watch.
        watch: bool,
    },
    /// getChildren.
    GetChildren {
        /// Path.
        path: String,
        /// Leave a child watch.
        watch: bool,
    },
    /// sync.
    Sync,
    /// closeSession.
    CloseSession,
    /// reconfig (incremental): remove a server, or add (back) one.
    Reconfig {
        /// `server.N=spec` lines to add.
        joining: Option<String>,
        /// Server ids to remove.
        leaving: Option<String>,
    },
}

impl Op {
    /// Whether the op is a write (ordered by the leader).
    pub fn is_write(&self) -> bool {
        matches!(
            self,
            Op::Create { .. }
                | Op::SetData { .. }
                | Op::Delete { .. }
                | Op::Check { .. }
                | Op::Multi(_)
                | Op::CloseSession
                | Op::Reconfig { .. }
        )
    }

    /// The request on the wire.
    pub fn request(&self) -> Request {
        match self {
            Op::Create { path, data, mode } => Request::Create2(CreateRequest {
                path: path.clone(),
                data: Some(data.clone()),
                acl: Acl::open_unsafe(),
                flags: match mode {
                    Mode::Persistent => 0,
                    Mode::Ephemeral => 1,
                    Mode::Sequential => 2,
                },
            }),
            Op::SetData {
                path,
                data,
                version,
            } => Request::SetData(SetDataRequest {
                path: path.clone(),
                data: Some(data.clone()),
                version: *version,
            }),
            Op::Delete { path, version } => Request::Delete(DeleteRequest {
                path: path.clone(),
                version: *version,
            }),
            Op::Check { path, version } => Request::Check(CheckVersionRequest {
                path: path.clone(),
                version: *version,
            }),
            Op::Multi(ops) => Request::Multi(ops.iter().map(Op::request).collect()),
            Op::GetData { path, watch } => Request::GetData(GetDataRequest {
                path: path.clone(),
                watch: *watch,
            }),
            Op::Exists { path, watch } => Request::Exists(PathWatchRequest {
                path: path.clone(),
                watch: *watch,
            }),
            Op::GetChildren { path, watch } => Request::GetChildren(PathWatchRequest {
                path: path.clone(),
                watch: *watch,
            }),
            Op::Sync => Request::Sync(PathRequest { path: "/".into() }),
            Op::CloseSession => Request::CloseSession,
            Op::Reconfig { joining, leaving } => {
                Request::Reconfig(menagerie_proto::records::ReconfigRequest {
                    joining_servers: joining.clone(),
                    leaving_servers: leaving.clone(),
                    new_members: None,
                    cur_config_id: -1,
                })
            }
        }
    }

    /// A short description for the history.
    pub fn describe(&self) -> String {
        let v = |version: &i32| {
            if *version < 0 {
                String::new()
            } else {
                format!(" v{version}")
            }
        };
        match self {
            Op::Create { path, data, mode } => {
                let m = match mode {
                    Mode::Persistent => "",
                    Mode::Ephemeral => " -e",
                    Mode::Sequential => " -s",
                };
                format!("create{m} {path} {}", String::from_utf8_lossy(data))
            }
            Op::SetData {
                path,
                data,
                version,
            } => format!("set {path} {}{}", String::from_utf8_lossy(data), v(version)),
            Op::Delete { path, version } => format!("delete {path}{}", v(version)),
            Op::Check { path, version } => format!("check {path}{}", v(version)),
            Op::Multi(ops) => {
                let parts: Vec<String> = ops.iter().map(Op::describe).collect();
                format!("multi [{}]", parts.join("; "))
            }
            Op::GetData { path, watch } => format!("get{} {path}", if *watch { " -w" } else { "" }),
            Op::Exists { path, watch } => {
                format!("exists{} {path}", if *watch { " -w" } else { "" })
            }
            Op::GetChildren { path, watch } => {
                format!("ls{} {path}", if *watch { " -w" } else { "" })
            }
            Op::Sync => "sync /".into(),
            Op::CloseSession => "closeSession".into(),
            Op::Reconfig { joining, leaving } => format!(
                "reconfig{}{}",
                joining
                    .as_ref()
                    .map_or(String::new(), |j| format!(" -add {j}")),
                leaving
                    .as_ref()
                    .map_or(String::new(), |l| format!(" -remove {l}"))
            ),
        }
    }
}

/// Draws the next op of client `client`; `tag` makes written data unique; without
/// `ephemerals` the client creates persistent nodes where it would create ephemerals;
/// `version_of` gives the last version the client saw of a key, for conditional writes.
pub fn draw(
    rng: &mut ChaCha8Rng,
    (client, tag): (usize, u64),
    ephemerals: bool,
    version_of: impl Fn(&str) -> Option<i32>,
) -> Op {
    let data = format!("c{client}.{tag}").into_bytes();
    let roll = rng.random_range(0..100u32);
    let k = format!("/k/{}", rng.random_range(0..KEYS));
    let cond = |rng: &mut ChaCha8Rng, k: &str| {
        if rng.random_bool(0.5) {
            version_of(k).unwrap_or(-1)
        } else {
            -1
        }
    };
    match roll {
        0..=11 => Op::Create {
            path: k,
            data,
            mode: Mode::Persistent,
        },
        12..=15 => Op::Create {
            path: "/s/x-".into(),
            data,
            mode: Mode::Sequential,
        },
        16..=21 => Op::Create {
            path: format!("/e/c{client}-{}", rng.random_range(0..3u32)),
            data,
            mode: if ephemerals {
                Mode::Ephemeral
            } else {
                Mode::Persistent
            },
        },
        22..=35 => {
            let version = cond(rng, &k);
            Op::SetData {
                path: k,
                data,
                version,
            }
        }
        36..=41 => {
            let version = cond(rng, &k);
            Op::Delete { path: k, version }
        }
        42..=47 => draw_multi(rng, client, tag, &version_of),
        48..=66 => Op::GetData {
            path: k,
            watch: rng.random_bool(0.4),
        },
        67..=76 => Op::Exists {
            path: k,
            watch: rng.random_bool(0.4),
        },
        77..=86 => {
            let path = PARENTS[rng.random_range(0..PARENTS.len())].to_string();
            Op::GetChildren {
                path,
                watch: rng.random_bool(0.4),
            }
        }
        _ => Op::Sync,
    }
}

fn draw_multi(
    rng: &mut ChaCha8Rng,
    client: usize,
    tag: u64,
    version_of: &impl Fn(&str) -> Option<i32>,
) -> Op {
    let n = rng.random_range(1..=3);
    let mut ops = Vec::new();
    for i in 0..n {
        let k = format!("/k/{}", rng.random_range(0..KEYS));
        let data = format!("c{client}.{tag}.{i}").into_bytes();
        let op = match rng.random_range(0..4u32) {
            0 => Op::Create {
                path: k,
                data,
                mode: Mode::Persistent,
            },
            1 => Op::SetData {
                path: k,
                data,
                version: -1,
            },
            2 => Op::Delete {
                path: k,
                version: -1,
            },
            _ => {
                let version = version_of(&k).unwrap_or(0);
                Op::Check { path: k, version }
            }
        };
        ops.push(op);
    }
    Op::Multi(ops)
}

/// Now and then (with reconfig on): a reconfiguration of one of the original
/// voters `1..=voters`: removed, added back as a participant, or made an observer. The
/// ensemble refuses what would leave fewer than 2 voters or no synced quorum.
pub fn draw_reconfig(rng: &mut ChaCha8Rng, voters: usize) -> Option<Op> {
    if !rng.random_bool(0.01) {
        return None;
    }
    let sid = rng.random_range(1..=voters);
    let line =
        |role: &str| format!("server.{sid}=127.0.0.{sid}:2888:3888:{role};127.0.0.{sid}:2181");
    Some(match rng.random_range(0..10u32) {
        0..=3 => Op::Reconfig {
            joining: None,
            leaving: Some(sid.to_string()),
        },
        4..=7 => Op::Reconfig {
            joining: Some(line("participant")),
            leaving: None,
        },
        _ => Op::Reconfig {
            joining: Some(line("observer")),
            leaving: None,
        },
    })
}
