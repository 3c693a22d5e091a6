//! `zoo.cfg`: ZooKeeper's configuration file (a Java properties file), read into a typed
//! [`ServerConfig`]. Invalid values stop startup with a message naming the key and value;
//! keys ZooKeeper accepts that Menagerie does not use yet are reported as warnings.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use menagerie_core::auth::AuthConfig;
use menagerie_core::reaper::ReaperConfig;
use thiserror::Error;

/// A configuration problem.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A key has a value that is not acceptable.
    #[error("invalid value {value:?} for {key}: {reason}")]
    Invalid {
        /// The key.
        key: String,
        /// The value.
        value: String,
        /// What is wrong.
        reason: String,
    },
    /// A required key is missing.
    #[error("{0} is not set")]
    Missing(&'static str),
}

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
    /// `minSessionTimeout`, ms.
    pub min_session_timeout_ms: i32,
    /// `maxSessionTimeout`, ms.
    pub max_session_timeout_ms: i32,
    /// `extendedTypesEnabled` / `zookeeper.extendedTypesEnabled`.
    pub extended_types: bool,
    /// `digest.enabled` / `zookeeper.digest.enabled`: write the tree digest with every txn
    /// and in snapshots, and check it (default true, as in ZooKeeper 3.6+).
    pub digest_enabled: bool,
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
    /// `admin.rateLimiterIntervalInMS`: at most one `snapshot` command per interval (ZooKeeper's
    /// default: 5 minutes).
    pub rate_limit: std::time::Duration,
    /// `admin.gateway.sessionIdleMs` (Menagerie): a REST gateway session without requests or
    /// open watches this long is closed (default 60 s).
    pub gateway_idle: std::time::Duration,
}

/// TLS settings of the admin server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminTls {
    /// Certificates, keys, trust store, client authentication.
    pub settings: crate::tls::TlsSettings,
    /// `admin.portUnification`: TLS and plaintext HTTP on the same port (`false` with
    /// `admin.forceHttps`: TLS only).
    pub port_unification: bool,
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

/// The class name that turns on the Prometheus endpoint.
const PROMETHEUS_PROVIDER: &str =
    "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider";

impl Default for ServerConfig {
    /// The embedded default: standalone on 127.0.0.1:2181 with data under `./data`.
    fn default() -> Self {
        ServerConfig {
            tick_ms: 3000,
            data_dir: PathBuf::from("data"),
            data_log_dir: PathBuf::from("data"),
            client_addr: SocketAddr::from(([127, 0, 0, 1], 2181)),
            max_client_cnxns: 60,
            min_session_timeout_ms: 6000,
            max_session_timeout_ms: 60000,
            extended_types: false,
            digest_enabled: true,
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
            unused_keys: Vec::new(),
        }
    }
}

/// Keys a ZooKeeper 3.9 server understands that Menagerie accepts without acting on yet.
const KNOWN_UNUSED: &[&str] = &[
    "initLimit",
    "syncLimit",
    "electionAlg",
    "electionPort",
    "quorumListenOnAllIPs",
    "peerType",
    "syncEnabled",
    "dynamicConfigFile",
    "standaloneEnabled",
    "reconfigEnabled",
    "localSessionsEnabled",
    "localSessionsUpgradingEnabled",
    "clientPortListenBacklog",
    "globalOutstandingLimit",
    "snapSizeLimitInKb",
    "txnLogSizeLimitInKb",
    "connectToLearnerMasterLimit",
    "observerMasterPort",
    "multiAddress.enabled",
    "serverCnxnFactory",
    "quorum.auth.enableSasl",
    "metricsProvider.exportJvmInfo",
    "authProvider.1",
    "digest.enabled",
    "jvm.pause.warn-threshold-ms",
];

/// Parses a Java properties text (the subset of `java.util.Properties.load` that matters
/// for zoo.cfg: comments, `=`/`:`/space separators, line continuations, escapes).
pub fn parse_properties(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut logical = String::new();
    for raw in text.lines() {
        let line = raw.trim_start();
        if logical.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with('!'))
        {
            continue;
        }
        let trailing = line.chars().rev().take_while(|&c| c == '\\').count();
        if trailing % 2 == 1 {
            logical.push_str(&line[..line.len() - 1]);
            continue;
        }
        logical.push_str(line);
        let (k, v) = split_property(&logical);
        out.insert(k, v);
        logical.clear();
    }
    if !logical.is_empty() {
        let (k, v) = split_property(&logical);
        out.insert(k, v);
    }
    out
}

fn split_property(line: &str) -> (String, String) {
    let mut key = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    key.push(unescape(n, &mut chars));
                }
            }
            '=' | ':' => break,
            c if c.is_whitespace() => {
                while chars.peek().is_some_and(|c| c.is_whitespace()) {
                    chars.next();
                }
                if matches!(chars.peek(), Some('=') | Some(':')) {
                    chars.next();
                }
                break;
            }
            c => key.push(c),
        }
    }
    while chars.peek().is_some_and(|c| c.is_whitespace()) {
        chars.next();
    }
    let mut value = String::new();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                value.push(unescape(n, &mut chars));
            }
        } else {
            value.push(c);
        }
    }
    (key, value)
}

fn unescape(c: char, rest: &mut std::iter::Peekable<std::str::Chars<'_>>) -> char {
    match c {
        't' => '\t',
        'n' => '\n',
        'r' => '\r',
        'f' => '\u{c}',
        'u' => {
            let hex: String = (0..4).filter_map(|_| rest.next()).collect();
            u32::from_str_radix(&hex, 16)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{fffd}')
        }
        c => c,
    }
}

pub(crate) fn invalid(key: &str, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        value: value.into(),
        reason: reason.into(),
    }
}

fn number<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, ConfigError> {
    value
        .parse()
        .map_err(|_| invalid(key, value, "not a valid number"))
}

/// An IP address or a host name (resolved now, first address), as ZooKeeper accepts for its
/// admin and metrics hosts.
fn ip(key: &str, value: &str) -> Result<IpAddr, ConfigError> {
    if let Ok(ip) = value.parse() {
        return Ok(ip);
    }
    use std::net::ToSocketAddrs as _;
    (value, 0)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .map(|a| a.ip())
        .ok_or_else(|| invalid(key, value, "not an IP address or a resolvable host name"))
}

fn boolean(key: &str, value: &str) -> Result<bool, ConfigError> {
    // Java's Boolean.parseBoolean: "true" in any case is true, anything else false; we are
    // stricter and refuse values that are neither, since a typo there is surely a mistake.
    match value.to_ascii_lowercase().as_str() {
        "true" | "yes" => Ok(true),
        "false" | "no" => Ok(false),
        _ => Err(invalid(key, value, "expected true or false")),
    }
}

/// `autopurge.purgeInterval`: hours as an integer (ZooKeeper 3.8; 0 or negative disables),
/// or a number with a unit suffix `ms`, `s`, `m`, `h` or `d` (ZooKeeper 3.10's syntax, which
/// also lets tests purge every few milliseconds).
fn purge_interval(key: &str, value: &str) -> Result<Option<std::time::Duration>, ConfigError> {
    let split = value
        .find(|c: char| !(c.is_ascii_digit() || c == '-'))
        .unwrap_or(value.len());
    let (num, unit) = value.split_at(split);
    let n: i64 = number(key, num)?;
    let ms_per_unit: u64 = match unit.trim() {
        "" | "h" => 3_600_000,
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "d" => 86_400_000,
        _ => return Err(invalid(key, value, "unit must be ms, s, m, h or d")),
    };
    Ok((n > 0).then(|| std::time::Duration::from_millis((n as u64).saturating_mul(ms_per_unit))))
}

impl ServerConfig {
    /// Reads and validates a zoo.cfg file. Relative `dataDir`s are taken as given (relative to
    /// the working directory), as ZooKeeper does.
    pub fn load(path: &Path) -> Result<ServerConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        let mut props = crate::security_config::jvm_flag_properties();
        props.extend(parse_properties(&text));
        let mut config = Self::from_properties(&props)?;
        config.initial_config = text;
        Ok(config)
    }

    /// Builds the config from parsed properties.
    pub fn from_properties(props: &BTreeMap<String, String>) -> Result<ServerConfig, ConfigError> {
        let mut c = ServerConfig::default();
        let mut port = None;
        let mut addr: Option<IpAddr> = None;
        let mut data_dir = None;
        let mut data_log_dir = None;
        let (mut min, mut max) = (None, None);
        c.admin = AdminConfig::zookeeper_default();
        let mut admin_ip = None;
        let (mut prom_class, mut prom_host, mut prom_port) = (None, None, None);
        let mut security = crate::security_config::SecurityKeys::default();
        for (key, raw) in props {
            let value = raw.trim();
            if security.take(key, value) {
                continue;
            }
            match key.as_str() {
                "tickTime" => {
                    c.tick_ms = number(key, value)?;
                    if c.tick_ms == 0 {
                        return Err(invalid(key, value, "must be positive"));
                    }
                }
                "dataDir" => data_dir = Some(PathBuf::from(value)),
                "dataLogDir" => data_log_dir = Some(PathBuf::from(value)),
                "clientPort" => {
                    let p: u16 = number(key, value)?;
                    if p == 0 {
                        return Err(invalid(key, value, "must be a port between 1 and 65535"));
                    }
                    port = Some(p);
                }
                "clientPortAddress" => {
                    addr = Some(
                        value
                            .parse()
                            .map_err(|_| invalid(key, value, "not an IP address"))?,
                    )
                }
                "maxClientCnxns" => c.max_client_cnxns = number(key, value)?,
                "minSessionTimeout" => min = Some(number::<i32>(key, value)?),
                "maxSessionTimeout" => max = Some(number::<i32>(key, value)?),
                "extendedTypesEnabled" | "zookeeper.extendedTypesEnabled" => {
                    c.extended_types = boolean(key, value)?
                }
                "digest.enabled" | "zookeeper.digest.enabled" => {
                    c.digest_enabled = boolean(key, value)?
                }
                "jute.maxbuffer" | "zookeeper.jute.maxbuffer" => {
                    c.max_buffer = number(key, value)?;
                    if c.max_buffer < 1024 {
                        return Err(invalid(key, value, "must be at least 1024 bytes"));
                    }
                }
                "snapCount" | "zookeeper.snapCount" => {
                    c.snap_count = number(key, value)?;
                    if c.snap_count < 2 {
                        return Err(invalid(key, value, "must be at least 2"));
                    }
                }
                "forceSync" | "zookeeper.forceSync" => c.force_sync = boolean(key, value)?,
                "preAllocSize" | "zookeeper.preAllocSize" => {
                    c.pre_alloc_size = number::<u64>(key, value)?.saturating_mul(1024)
                }
                "autopurge.snapRetainCount" => {
                    // ZooKeeper (DatadirCleanupManager): below 3 warns and uses 3.
                    c.autopurge_snap_retain_count = number::<usize>(key, value)?
                        .max(menagerie_storage::datadir::MIN_SNAP_RETAIN_COUNT)
                }
                "autopurge.purgeInterval" => c.autopurge_interval = purge_interval(key, value)?,
                "fsync.warningthresholdms" | "zookeeper.fsync.warningthresholdms" => {
                    c.fsync_warning_threshold_ms = number(key, value)?
                }
                "znode.container.checkIntervalMs" => {
                    c.reaper.check_interval_ms = number(key, value)?;
                    if c.reaper.check_interval_ms == 0 {
                        return Err(invalid(key, value, "must be positive"));
                    }
                }
                "znode.container.maxPerMinute" => c.reaper.max_per_minute = number(key, value)?,
                "znode.container.maxNeverUsedIntervalMs" => {
                    c.reaper.max_never_used_interval_ms = number(key, value)?
                }
                "4lw.commands.whitelist" | "zookeeper.4lw.commands.whitelist" => {
                    c.four_letter_whitelist = value
                        .split(',')
                        .map(|w| w.trim().to_ascii_lowercase())
                        .filter(|w| !w.is_empty())
                        .collect()
                }
                "admin.enableServer" | "zookeeper.admin.enableServer" => {
                    c.admin.enabled = boolean(key, value)?
                }
                "admin.serverAddress" | "zookeeper.admin.serverAddress" => {
                    admin_ip = Some(ip(key, value)?)
                }
                "admin.serverPort" | "zookeeper.admin.serverPort" => {
                    c.admin.addr.set_port(number(key, value)?)
                }
                "admin.commandURL" | "zookeeper.admin.commandURL" => {
                    if !value.starts_with('/') {
                        return Err(invalid(key, value, "must start with /"));
                    }
                    c.admin.command_url = value.trim_end_matches('/').to_owned();
                    if c.admin.command_url.is_empty() {
                        return Err(invalid(key, value, "must not be /"));
                    }
                }
                "admin.rateLimiterIntervalInMS" | "zookeeper.admin.rateLimiterIntervalInMS" => {
                    c.admin.rate_limit = std::time::Duration::from_millis(number(key, value)?)
                }
                "admin.gateway.sessionIdleMs" => {
                    let ms: u64 = number(key, value)?;
                    if ms < 100 {
                        return Err(invalid(key, value, "must be at least 100"));
                    }
                    c.admin.gateway_idle = std::time::Duration::from_millis(ms)
                }
                "metricsProvider.className" => prom_class = Some(value.to_owned()),
                "metricsProvider.httpHost" => prom_host = Some(ip(key, value)?),
                "metricsProvider.httpPort" => prom_port = Some(number::<u16>(key, value)?),
                k if KNOWN_UNUSED.contains(&k)
                    || k.starts_with("server.")
                    || k.starts_with("group.")
                    || k.starts_with("weight.") =>
                {
                    c.unused_keys.push(k.to_owned())
                }
                k => c.unused_keys.push(k.to_owned()),
            }
        }
        if let Some(ip) = admin_ip {
            c.admin.addr.set_ip(ip);
        }
        match prom_class.as_deref() {
            Some(PROMETHEUS_PROVIDER) => {
                c.admin.prometheus_addr = Some(SocketAddr::new(
                    prom_host.unwrap_or(IpAddr::from([0, 0, 0, 0])),
                    prom_port.unwrap_or(7000),
                ))
            }
            Some(_) => c.unused_keys.push("metricsProvider.className".into()),
            None => {}
        }
        security.finish(&mut c)?;
        c.data_dir = data_dir.ok_or(ConfigError::Missing("dataDir"))?;
        c.data_log_dir = data_log_dir.unwrap_or_else(|| c.data_dir.clone());
        let port = port.ok_or(ConfigError::Missing("clientPort"))?;
        c.client_addr = SocketAddr::new(addr.unwrap_or(IpAddr::from([0, 0, 0, 0])), port);
        let tick = i32::try_from(c.tick_ms)
            .map_err(|_| invalid("tickTime", &c.tick_ms.to_string(), "too large"))?;
        c.min_session_timeout_ms = match min {
            Some(m) if m >= 0 => m,
            _ => tick.saturating_mul(2),
        };
        c.max_session_timeout_ms = match max {
            Some(m) if m >= 0 => m,
            _ => tick.saturating_mul(20),
        };
        if c.min_session_timeout_ms > c.max_session_timeout_ms {
            return Err(invalid(
                "minSessionTimeout",
                &c.min_session_timeout_ms.to_string(),
                format!(
                    "must not be larger than maxSessionTimeout ({})",
                    c.max_session_timeout_ms
                ),
            ));
        }
        Ok(c)
    }

    /// Whether a four-letter word may run.
    pub fn four_letter_allowed(&self, word: &str) -> bool {
        self.four_letter_whitelist
            .iter()
            .any(|w| w == "*" || w == word)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(s: &str) -> BTreeMap<String, String> {
        parse_properties(s)
    }

    #[test]
    fn parses_java_properties() {
        let p = props(
            "# comment\n! also\n  tickTime = 2000\nclientPort:2181\ndataDir /tmp/zk\nkey=a\\\n   b\nesc=\\u0041\\tz\n",
        );
        assert_eq!(p["tickTime"], "2000");
        assert_eq!(p["clientPort"], "2181");
        assert_eq!(p["dataDir"], "/tmp/zk");
        assert_eq!(p["key"], "ab");
        assert_eq!(p["esc"], "A\tz");
    }

    #[test]
    fn defaults_follow_ticktime() {
        let c =
            ServerConfig::from_properties(&props("tickTime=2000\ndataDir=d\nclientPort=2181\n"))
                .unwrap();
        assert_eq!(
            (c.min_session_timeout_ms, c.max_session_timeout_ms),
            (4000, 40000)
        );
        assert_eq!(c.client_addr.to_string(), "0.0.0.0:2181");
        assert_eq!(c.data_log_dir, PathBuf::from("d"));
        assert!(c.four_letter_allowed("srvr"));
        assert!(!c.four_letter_allowed("ruok"));
    }

    #[test]
    fn bad_values_name_key_and_value() {
        let e = ServerConfig::from_properties(&props("tickTime=abc\ndataDir=d\nclientPort=1\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("tickTime") && e.contains("abc"), "{e}");
        let e = ServerConfig::from_properties(&props("dataDir=d\nclientPort=99999\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("clientPort") && e.contains("99999"), "{e}");
        let e = ServerConfig::from_properties(&props(
            "dataDir=d\nclientPort=1\nminSessionTimeout=9000\nmaxSessionTimeout=8000\n",
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("minSessionTimeout"), "{e}");
        assert!(matches!(
            ServerConfig::from_properties(&props("clientPort=1\n")),
            Err(ConfigError::Missing("dataDir"))
        ));
    }

    #[test]
    fn admin_keys() {
        let c = ServerConfig::from_properties(&props("dataDir=d\nclientPort=1\n")).unwrap();
        assert!(c.admin.enabled);
        assert_eq!(c.admin.addr.to_string(), "127.0.0.1:8080");
        assert_eq!(c.admin.command_url, "/commands");
        assert_eq!(c.admin.prometheus_addr, None);
        let c = ServerConfig::from_properties(&props(
            "dataDir=d\nclientPort=1\nadmin.enableServer=false\nadmin.serverAddress=127.0.0.1\n\
             admin.serverPort=0\nadmin.commandURL=/cmds/\n\
             metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\n\
             metricsProvider.httpPort=7001\n",
        ))
        .unwrap();
        assert!(!c.admin.enabled);
        assert_eq!(c.admin.addr.to_string(), "127.0.0.1:0");
        assert_eq!(c.admin.command_url, "/cmds");
        assert_eq!(
            c.admin.prometheus_addr.map(|a| a.to_string()).as_deref(),
            Some("0.0.0.0:7001")
        );
        assert!(c.unused_keys.is_empty(), "{:?}", c.unused_keys);
        assert!(!ServerConfig::default().admin.enabled);
        let c = ServerConfig::from_properties(&props(
            "dataDir=d\nclientPort=1\nadmin.serverAddress=localhost\n",
        ))
        .unwrap();
        assert!(c.admin.addr.ip().is_loopback(), "{}", c.admin.addr);
        for bad in [
            "admin.serverPort=x",
            "admin.serverAddress=no such host",
            "admin.commandURL=cmds",
        ] {
            let text = format!("dataDir=d\nclientPort=1\n{bad}\n");
            assert!(
                ServerConfig::from_properties(&props(&text)).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn autopurge_and_fsync_keys() {
        use std::time::Duration;
        let base = "dataDir=d\nclientPort=1\n";
        let c = ServerConfig::from_properties(&props(base)).unwrap();
        assert_eq!(
            (c.autopurge_snap_retain_count, c.autopurge_interval),
            (3, None)
        );
        assert_eq!(c.fsync_warning_threshold_ms, 1000);
        let c = ServerConfig::from_properties(&props(&format!(
            "{base}autopurge.snapRetainCount=5\nautopurge.purgeInterval=24\nfsync.warningthresholdms=50\n"
        )))
        .unwrap();
        assert_eq!(c.autopurge_snap_retain_count, 5);
        assert_eq!(c.autopurge_interval, Some(Duration::from_secs(24 * 3600)));
        assert_eq!(c.fsync_warning_threshold_ms, 50);
        assert!(c.unused_keys.is_empty(), "{:?}", c.unused_keys);
        // Below the minimum: 3, as ZooKeeper does; 0 or negative hours: disabled.
        for (cfg, retain, interval) in [
            (
                "autopurge.snapRetainCount=1\nautopurge.purgeInterval=0\n",
                3,
                None,
            ),
            ("autopurge.purgeInterval=-1\n", 3, None),
            (
                "autopurge.purgeInterval=250ms\n",
                3,
                Some(Duration::from_millis(250)),
            ),
            (
                "autopurge.purgeInterval=2d\n",
                3,
                Some(Duration::from_secs(2 * 86400)),
            ),
            ("zookeeper.fsync.warningthresholdms=7\n", 3, None),
        ] {
            let c = ServerConfig::from_properties(&props(&format!("{base}{cfg}"))).unwrap();
            assert_eq!(
                (c.autopurge_snap_retain_count, c.autopurge_interval),
                (retain, interval),
                "{cfg}"
            );
        }
        for bad in [
            "autopurge.purgeInterval=1w",
            "autopurge.purgeInterval=x",
            "autopurge.snapRetainCount=-3",
            "fsync.warningthresholdms=slow",
        ] {
            let e = ServerConfig::from_properties(&props(&format!("{base}{bad}\n")))
                .unwrap_err()
                .to_string();
            assert!(e.contains(bad.split('=').next().unwrap()), "{e}");
        }
    }

    #[test]
    fn unknown_and_cluster_keys_do_not_stop_startup() {
        let c = ServerConfig::from_properties(&props(
            "dataDir=d\nclientPort=1\ninitLimit=5\nserver.1=a:2888:3888\nsomething.new=1\n",
        ))
        .unwrap();
        assert_eq!(c.unused_keys.len(), 3);
    }
}
