//! [`CoreConfig`]: the settings of the core (a subset of zoo.cfg, validated by the shell).

use menagerie_proto::ServerId;

use crate::auth::AuthConfig;
use crate::reaper::ReaperConfig;

/// Settings of the core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreConfig {
    /// This server's id (1 for a standalone server, as ZooKeeper uses); the top byte of the
    /// session ids it creates.
    pub server_id: ServerId,
    /// `tickTime`, ms.
    pub tick_ms: u64,
    /// `minSessionTimeout`, ms.
    pub min_session_timeout_ms: i32,
    /// `maxSessionTimeout`, ms.
    pub max_session_timeout_ms: i32,
    /// `zookeeper.extendedTypesEnabled` (TTL nodes).
    pub extended_types: bool,
    /// Seed of everything random in the core: internal hash tables (never observable in
    /// outputs) and the snapshot schedule's roll. The shell draws it; a simulator derives
    /// it from its run's seed.
    pub seed: u64,
    /// Container and TTL reaping.
    pub reaper: ReaperConfig,
    /// Super digest, skipACL, enforce.auth.
    pub auth: AuthConfig,
    /// `zookeeper.enforceQuota`: hard quota limits refuse writes.
    pub enforce_quota: bool,
    /// `zookeeper.digest.enabled`: log the tree digest with every txn and check it.
    pub digest_enabled: bool,
    /// `snapCount`: a snapshot after about this many txns (between half and all of it,
    /// drawn anew for each snapshot, so that the members of an ensemble do not snapshot at
    /// the same time).
    pub snap_count: u64,
    /// The ensemble this server is a member of; `None` for a standalone server.
    pub ensemble: Option<crate::ensemble::EnsembleConfig>,
    /// `readonlymode.enabled`: an ensemble member cut off from its quorum serves reads to
    /// clients that ask for read-only sessions.
    pub read_only_mode: bool,
    /// `localSessionsEnabled`: new sessions on an ensemble member are local to it.
    pub local_sessions: bool,
    /// `localSessionsUpgradingEnabled`: a local session's first ephemeral create makes it
    /// global (otherwise that create fails with `EphemeralOnLocalSession`).
    pub local_sessions_upgrading: bool,
}

impl Default for CoreConfig {
    fn default() -> Self {
        CoreConfig {
            server_id: ServerId(1),
            tick_ms: 3000,
            min_session_timeout_ms: 6000,
            max_session_timeout_ms: 60000,
            extended_types: false,
            seed: 0,
            reaper: ReaperConfig::default(),
            auth: AuthConfig::default(),
            enforce_quota: false,
            digest_enabled: true,
            read_only_mode: false,
            local_sessions: false,
            local_sessions_upgrading: false,
            snap_count: 100_000,
            ensemble: None,
        }
    }
}
