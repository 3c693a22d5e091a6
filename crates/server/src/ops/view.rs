//! What the shell knows that the core does not, handed to the operations surface with the
//! core itself.

use std::collections::HashMap;
use std::net::SocketAddr;

use menagerie_core::{ConnId, Now};
use menagerie_storage::FsyncStats;

use crate::config::ServerConfig;

/// The shell's side of an operations answer.
pub struct ShellView<'a> {
    /// The connection asking (ZooKeeper lists it among the connections, with interest ops 0).
    pub requester: SocketAddr,
    /// Remote address of every connection.
    pub peers: &'a HashMap<ConnId, SocketAddr>,
    /// The configuration.
    pub config: &'a ServerConfig,
    /// Clock at startup.
    pub started: Now,
    /// Clock now.
    pub now: Now,
    /// The transaction log's fsync counters.
    pub fsync: &'a FsyncStats,
}

impl ShellView<'_> {
    /// Milliseconds since the shell started.
    pub fn uptime_ms(&self) -> i64 {
        self.now.mono_ms.saturating_sub(self.started.mono_ms) as i64
    }

    /// The remote address of `conn` as ZooKeeper prints it (`unknown` for a connection the
    /// shell no longer knows).
    pub fn peer(&self, conn: ConnId) -> String {
        self.peers
            .get(&conn)
            .map_or_else(|| "unknown".to_string(), SocketAddr::to_string)
    }
}
