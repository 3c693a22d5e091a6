//! `zoo.cfg`: ZooKeeper's configuration file (a Java properties file), read into a typed
//! [`ServerConfig`]. Invalid values stop startup with a message naming the key and value;
//! keys ZooKeeper accepts that Menagerie does not use yet are reported as warnings.

pub use crate::tls::AdminTls;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub mod dynamic_file;
pub mod error;
pub mod jvm_flags;
mod parse;
pub mod properties;
pub mod quorum;
pub mod quorum_security;
pub mod values;

use menagerie_core::auth::AuthConfig;
use menagerie_core::reaper::ReaperConfig;

pub use error::ConfigError;
pub use properties::parse_properties;

/// Default of `menagerie.maxQueuedBytesTotal`: 512 MiB.
pub const DEFAULT_MAX_QUEUED_BYTES_TOTAL: usize = 512 << 20;

/// The server's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// `tickTime`, ms.
    pub tick_ms: u64,
    /// `dataDir`.
    pub data_dir: PathBuf,
    /// `dataLogDir` (defaults to `dataDir`).
    pub data_log_dir: PathBuf,
    /// `clientPortAddress`:`clientPort`.
    pub client_addr: SocketAddr,
    /// `maxClientCnxns` per client IP; 0 = unlimited.
    pub max_client_cnxns: usize,
    /// `menagerie.maxQueuedBytesTotal`: replies and notifications waiting for all clients
    /// together; above it the connections with the most are closed (0: no limit; each
    /// connection is limited to 64 MiB anyway).
    pub max_queued_bytes_total: usize,
    /// `maxCnxns`: client connections in all (both client ports); 0 = no limit but the
    /// descriptor budget (see [`crate::admission`]).
    pub max_cnxns: usize,
    /// `minSessionTimeout`, ms.
    pub min_session_timeout_ms: i32,
    /// `maxSessionTimeout`, ms.
    pub max_session_timeout_ms: i32,
    /// `extendedTypesEnabled` / `zookeeper.extendedTypesEnabled`.
    pub extended_types: bool,
    /// `digest.enabled` / `zookeeper.digest.enabled`: write the tree digest with every txn
    /// and in snapshots, and check it (default true, as in ZooKeeper 3.6+).
    pub digest_enabled: bool,
    /// `readonlymode.enabled` (ZooKeeper: the `-Dreadonlymode.enabled` system property; a
    /// zoo.cfg key too for Menagerie): read-only service while cut off from the quorum.
    pub read_only_mode: bool,
    /// `localSessionsEnabled` (ensemble members).
    pub local_sessions: bool,
    /// `localSessionsUpgradingEnabled` (ensemble members).
    pub local_sessions_upgrading: bool,
    /// `jute.maxbuffer`: largest accepted frame.
    pub max_buffer: usize,
    /// `4lw.commands.whitelist`, lower case; `*` allows all.
    pub four_letter_whitelist: Vec<String>,
    /// `znode.container.checkIntervalMs`, `znode.container.maxPerMinute`,
    /// `znode.container.maxNeverUsedIntervalMs`.
    pub reaper: ReaperConfig,
    /// `snapCount`: txns between snapshots (randomised between half and all of it).
    pub snap_count: u64,
    /// `forceSync`: fsync the log before acknowledging (default yes).
    pub force_sync: bool,
    /// `preAllocSize`: log preallocation block in bytes (zoo.cfg gives KB).
    pub pre_alloc_size: u64,
    /// `admin.*` and `metricsProvider.*`: the admin HTTP server and Prometheus metrics.
    pub admin: AdminConfig,
    /// The text of the configuration file (the admin `initial_configuration` command).
    pub initial_config: String,
    /// `autopurge.snapRetainCount`: snapshots (and the logs they need) kept by autopurge;
    /// at least 3, as ZooKeeper enforces.
    pub autopurge_snap_retain_count: usize,
    /// `autopurge.purgeInterval`: how often autopurge runs (zoo.cfg gives hours; `None` = 0 =
    /// disabled, the default). The first purge runs at startup, as ZooKeeper 3.8's timer does.
    pub autopurge_interval: Option<std::time::Duration>,
    /// `fsync.warningthresholdms` / `zookeeper.fsync.warningthresholdms`: a txn-log fsync
    /// slower than this is logged as a warning and counted.
    pub fsync_warning_threshold_ms: u64,
    /// Super digest, `skipACL`, `enforce.auth.*` (see [`crate::security_config`]).
    pub auth: AuthConfig,
    /// `enforceQuota` / `zookeeper.enforceQuota`.
    pub enforce_quota: bool,
    /// `secureClientPortAddress`:`secureClientPort`, with its TLS settings.
    pub secure_client: Option<(SocketAddr, crate::tls::TlsSettings)>,
    /// The ensemble this server is a member of (`server.N` lines and `myid`); `None` for a
    /// standalone server.
    pub quorum: Option<quorum::QuorumConfig>,
    /// Keys that were accepted but are not used.
    pub unused_keys: Vec<String>,
}

/// The admin HTTP server (ZooKeeper's AdminServer) and the Prometheus metrics endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminConfig {
    /// `admin.enableServer`: ZooKeeper's default is on; the embedded default config keeps it
    /// off so that a bare `menagerie server` (and tests) do not take port 8080.
    pub enabled: bool,
    /// `admin.serverAddress`:`admin.serverPort`. ZooKeeper's default address is 0.0.0.0;
    /// Menagerie's is 127.0.0.1 (the admin port also serves the console and the REST
    /// gateway), so only a configured `admin.serverAddress` exposes it to the network.
    pub addr: SocketAddr,
    /// `admin.commandURL` (`/commands`).
    pub command_url: String,
    /// `metricsProvider.httpHost`:`metricsProvider.httpPort` when `metricsProvider.className`
    /// is ZooKeeper's PrometheusMetricsProvider (default 0.0.0.0:7000): a second listener that
    /// serves only `/metrics`, as ZooKeeper's provider does.
    pub prometheus_addr: Option<SocketAddr>,
    /// TLS on the admin port (`admin.portUnification` or `admin.forceHttps`, with the
    /// `ssl.quorum.*` stores as ZooKeeper 3.9's AdminServer reads them).
    pub tls: Option<AdminTls>,
    /// `admin.rateLimiterIntervalInMS`: at most one `snapshot` command per interval
    /// (ZooKeeper's default: 5 minutes).
    pub rate_limit: std::time::Duration,
    /// `admin.gateway.sessionIdleMs` (Menagerie): a REST gateway session without requests or
    /// open watches this long is closed (default 60 s).
    pub gateway_idle: std::time::Duration,
    /// `admin.restore.enabled` (ZooKeeper's `zookeeper.admin.restore.enabled`, default true):
    /// whether the `restore` command runs.
    pub restore_enabled: bool,
}

impl AdminConfig {
    /// ZooKeeper's defaults for a zoo.cfg that does not mention the admin server.
    pub fn zookeeper_default() -> AdminConfig {
        AdminConfig {
            enabled: true,
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            command_url: "/commands".into(),
            prometheus_addr: None,
            tls: None,
            rate_limit: std::time::Duration::from_millis(300_000),
            gateway_idle: std::time::Duration::from_secs(60),
            restore_enabled: true,
        }
    }
}

impl Default for AdminConfig {
    /// Disabled (see [`AdminConfig::enabled`]); otherwise ZooKeeper's defaults.
    fn default() -> Self {
        AdminConfig {
            enabled: false,
            ..AdminConfig::zookeeper_default()
        }
    }
}

impl Default for ServerConfig {
    /// The embedded default: standalone on 127.0.0.1:2181 with data under `./data`.
    fn default() -> Self {
        ServerConfig {
            tick_ms: 3000,
            data_dir: PathBuf::from("data"),
            data_log_dir: PathBuf::from("data"),
            client_addr: SocketAddr::from(([127, 0, 0, 1], 2181)),
            max_client_cnxns: 60,
            max_cnxns: 0,
            max_queued_bytes_total: DEFAULT_MAX_QUEUED_BYTES_TOTAL,
            min_session_timeout_ms: 6000,
            max_session_timeout_ms: 60000,
            extended_types: false,
            digest_enabled: true,
            read_only_mode: false,
            local_sessions: false,
            local_sessions_upgrading: false,
            max_buffer: menagerie_proto::frame::DEFAULT_MAX_BUFFER,
            four_letter_whitelist: vec!["srvr".into()],
            reaper: ReaperConfig::default(),
            snap_count: 100_000,
            force_sync: true,
            pre_alloc_size: 64 << 20,
            admin: AdminConfig::default(),
            initial_config: String::new(),
            autopurge_snap_retain_count: 3,
            autopurge_interval: None,
            fsync_warning_threshold_ms: 1000,
            auth: AuthConfig::default(),
            enforce_quota: false,
            secure_client: None,
            quorum: None,
            unused_keys: Vec::new(),
        }
    }
}

impl ServerConfig {
    /// Reads and validates a zoo.cfg file. Relative `dataDir`s are taken as given (relative to
    /// the working directory), as ZooKeeper does.
    pub fn load(path: &Path) -> Result<ServerConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        let jvm = jvm_flags::from_environment(Some(path));
        let (props, from_jvm) = jvm_flags::merge(jvm, parse_properties(&text));
        let mut config = Self::from_properties(&props)?;
        config.unused_keys.retain(|k| {
            let from_flags = from_jvm.contains(k);
            if from_flags {
                tracing::debug!(property = %k, "JVM flag ignored: the server configuration does not read it");
            }
            !from_flags
        });
        config.initial_config = text;
        if let Some(q) = config.quorum.as_mut() {
            q.config_file = Some(path.to_owned());
            let listed_here = parse_properties(&config.initial_config)
                .keys()
                .any(|k| k.starts_with("server."));
            if q.reconfig_enabled && listed_here {
                // As ZooKeeper: the original is kept before the membership moves out of it.
                match dynamic_file::backup(path) {
                    Ok(bak) => tracing::info!(file = %bak.display(), "configuration backed up"),
                    Err(e) => tracing::warn!(error = %e, "cannot back up the configuration file"),
                }
            }
        }
        Ok(config)
    }

    /// Whether a four-letter word may run.
    pub fn four_letter_allowed(&self, word: &str) -> bool {
        self.four_letter_whitelist
            .iter()
            .any(|w| w == "*" || w == word)
    }
}
