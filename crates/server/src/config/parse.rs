//! `ServerConfig::from_properties`: zoo.cfg keys to settings, one small parser per area
//! (basics, limits and features, the log and snapshots, containers, the admin server and
//! metrics; the security keys are `crate::security_config`'s). Each parser takes the keys of
//! its area and leaves the rest; what no parser takes is accepted with a warning (the
//! binary logs [`ServerConfig::unused_keys`]), as a ZooKeeper server accepts the keys it
//! does not use.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use super::error::{ConfigError, invalid};
use super::quorum::QuorumKeys;
use super::quorum_security::QuorumSecurityKeys;
use super::values::{boolean, number};
use super::{AdminConfig, ServerConfig};
use crate::security_config::SecurityKeys;

/// The class name that turns on the Prometheus endpoint.
const PROMETHEUS_PROVIDER: &str =
    "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider";

impl ServerConfig {
    /// Builds the config from parsed properties.
    pub fn from_properties(props: &BTreeMap<String, String>) -> Result<ServerConfig, ConfigError> {
        let mut c = ServerConfig {
            admin: AdminConfig::zookeeper_default(),
            ..ServerConfig::default()
        };
        let mut basics = Basics::default();
        let mut admin = AdminKeys::default();
        let mut security = SecurityKeys::default();
        let mut quorum = QuorumKeys::default();
        let mut quorum_security = QuorumSecurityKeys::default();
        for (key, raw) in props {
            let (key, value) = (key.as_str(), raw.trim());
            // The `ssl.quorum.*` stores serve both the quorum and the admin port's TLS:
            // both areas see them.
            let quorum_secured = quorum_security.take(key, value);
            let taken = security.take(key, value)
                || quorum_secured
                || quorum.take(key, value)?
                || basics.take(&mut c, key, value)?
                || limits(&mut c, key, value)?
                || log_and_snapshots(&mut c, key, value)?
                || containers(&mut c, key, value)?
                || admin.take(&mut c.admin, key, value)?;
            if !taken {
                c.unused_keys.push(key.to_owned());
            }
        }
        admin.finish(&mut c);
        let security = security.finish()?;
        c.auth = security.auth;
        c.enforce_quota = security.enforce_quota;
        c.secure_client = security.secure_client;
        c.admin.tls = security.admin_tls;
        let data_dir = basics
            .data_dir
            .clone()
            .ok_or(ConfigError::Missing("dataDir"))?;
        c.quorum = quorum.finish(&data_dir)?;
        if let Some(q) = c.quorum.as_mut() {
            let jaas = props.get(crate::security_config::JAAS_KEY);
            q.security = quorum_security.finish(jaas.map(String::as_str))?;
        }
        let line_client = c
            .quorum
            .as_ref()
            .and_then(|q| q.me())
            .and_then(|m| m.client);
        basics.finish(&mut c, line_client)?;
        Ok(c)
    }
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

/// `autopurge.purgeInterval`: hours as an integer (ZooKeeper 3.8; 0 or negative disables),
/// or a number with a unit suffix `ms`, `s`, `m`, `h` or `d` (ZooKeeper 3.10's syntax, which
/// also lets tests purge every few milliseconds).
fn purge_interval(key: &str, value: &str) -> Result<Option<Duration>, ConfigError> {
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
    Ok((n > 0).then(|| Duration::from_millis((n as u64).saturating_mul(ms_per_unit))))
}

/// The basic keys, which need each other to be checked: ticks, directories, the client
/// port and the session timeout bounds.
#[derive(Debug, Default)]
struct Basics {
    port: Option<u16>,
    addr: Option<IpAddr>,
    data_dir: Option<PathBuf>,
    data_log_dir: Option<PathBuf>,
    min_session_timeout: Option<i32>,
    max_session_timeout: Option<i32>,
}

impl Basics {
    fn take(&mut self, c: &mut ServerConfig, key: &str, value: &str) -> Result<bool, ConfigError> {
        match key {
            "tickTime" => {
                c.tick_ms = number(key, value)?;
                if c.tick_ms == 0 {
                    return Err(invalid(key, value, "must be positive"));
                }
            }
            "dataDir" => self.data_dir = Some(PathBuf::from(value)),
            "dataLogDir" => self.data_log_dir = Some(PathBuf::from(value)),
            "clientPort" => {
                let p: u16 = number(key, value)?;
                if p == 0 {
                    return Err(invalid(key, value, "must be a port between 1 and 65535"));
                }
                self.port = Some(p);
            }
            "clientPortAddress" => {
                let addr = value.parse();
                self.addr = Some(addr.map_err(|_| invalid(key, value, "not an IP address"))?);
            }
            "minSessionTimeout" => self.min_session_timeout = Some(number(key, value)?),
            "maxSessionTimeout" => self.max_session_timeout = Some(number(key, value)?),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Stores the directories, the client address and the session timeout bounds (2 and 20
    /// ticks unless given, as in ZooKeeper).
    /// An ensemble member may take its client address from its `server.N` line instead of
    /// `clientPort` (`line_client`).
    fn finish(
        self,
        c: &mut ServerConfig,
        line_client: Option<SocketAddr>,
    ) -> Result<(), ConfigError> {
        c.data_dir = self.data_dir.ok_or(ConfigError::Missing("dataDir"))?;
        c.data_log_dir = self.data_log_dir.unwrap_or_else(|| c.data_dir.clone());
        c.client_addr = match (self.port, line_client) {
            (Some(port), _) => {
                SocketAddr::new(self.addr.unwrap_or(IpAddr::from([0, 0, 0, 0])), port)
            }
            (None, Some(addr)) => addr,
            (None, None) => return Err(ConfigError::Missing("clientPort")),
        };
        let tick = i32::try_from(c.tick_ms)
            .map_err(|_| invalid("tickTime", &c.tick_ms.to_string(), "too large"))?;
        c.min_session_timeout_ms = match self.min_session_timeout {
            Some(m) if m >= 0 => m,
            _ => tick.saturating_mul(2),
        };
        c.max_session_timeout_ms = match self.max_session_timeout {
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
        Ok(())
    }
}

/// Limits and features: connections per address, the largest frame, the four-letter-word
/// whitelist, TTL nodes, the tree digest.
fn limits(c: &mut ServerConfig, key: &str, value: &str) -> Result<bool, ConfigError> {
    match key {
        "maxClientCnxns" => c.max_client_cnxns = number(key, value)?,
        "maxCnxns" | "zookeeper.maxCnxns" => c.max_cnxns = number(key, value)?,
        "menagerie.maxQueuedBytesTotal" => c.max_queued_bytes_total = number(key, value)?,
        "jute.maxbuffer" | "zookeeper.jute.maxbuffer" => {
            c.max_buffer = number(key, value)?;
            if c.max_buffer < 1024 {
                return Err(invalid(key, value, "must be at least 1024 bytes"));
            }
        }
        "4lw.commands.whitelist" | "zookeeper.4lw.commands.whitelist" => {
            c.four_letter_whitelist = value
                .split(',')
                .map(|w| w.trim().to_ascii_lowercase())
                .filter(|w| !w.is_empty())
                .collect()
        }
        "extendedTypesEnabled" | "zookeeper.extendedTypesEnabled" => {
            c.extended_types = boolean(key, value)?
        }
        "digest.enabled" | "zookeeper.digest.enabled" => c.digest_enabled = boolean(key, value)?,
        "readonlymode.enabled" | "zookeeper.readonlymode.enabled" => {
            c.read_only_mode = boolean(key, value)?
        }
        "localSessionsEnabled" => c.local_sessions = boolean(key, value)?,
        "localSessionsUpgradingEnabled" => c.local_sessions_upgrading = boolean(key, value)?,
        _ => return Ok(false),
    }
    Ok(true)
}

/// The transaction log and snapshots: `snapCount`, fsync, preallocation, autopurge.
fn log_and_snapshots(c: &mut ServerConfig, key: &str, value: &str) -> Result<bool, ConfigError> {
    match key {
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
        "fsync.warningthresholdms" | "zookeeper.fsync.warningthresholdms" => {
            c.fsync_warning_threshold_ms = number(key, value)?
        }
        "autopurge.snapRetainCount" => {
            // ZooKeeper (DatadirCleanupManager): below 3 warns and uses 3.
            c.autopurge_snap_retain_count =
                number::<usize>(key, value)?.max(menagerie_storage::datadir::MIN_SNAP_RETAIN_COUNT)
        }
        "autopurge.purgeInterval" => c.autopurge_interval = purge_interval(key, value)?,
        _ => return Ok(false),
    }
    Ok(true)
}

/// Container and TTL reaping.
fn containers(c: &mut ServerConfig, key: &str, value: &str) -> Result<bool, ConfigError> {
    match key {
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
        _ => return Ok(false),
    }
    Ok(true)
}

/// The admin server and metrics keys whose meaning depends on others.
#[derive(Debug, Default)]
struct AdminKeys {
    admin_ip: Option<IpAddr>,
    provider: Option<String>,
    metrics_host: Option<IpAddr>,
    metrics_port: Option<u16>,
}

impl AdminKeys {
    fn take(&mut self, a: &mut AdminConfig, key: &str, value: &str) -> Result<bool, ConfigError> {
        match key {
            "admin.enableServer" | "zookeeper.admin.enableServer" => {
                a.enabled = boolean(key, value)?
            }
            "admin.serverAddress" | "zookeeper.admin.serverAddress" => {
                self.admin_ip = Some(ip(key, value)?)
            }
            "admin.serverPort" | "zookeeper.admin.serverPort" => {
                a.addr.set_port(number(key, value)?)
            }
            "admin.commandURL" | "zookeeper.admin.commandURL" => {
                if !value.starts_with('/') {
                    return Err(invalid(key, value, "must start with /"));
                }
                a.command_url = value.trim_end_matches('/').to_owned();
                if a.command_url.is_empty() {
                    return Err(invalid(key, value, "must not be /"));
                }
            }
            "admin.restore.enabled" | "zookeeper.admin.restore.enabled" => {
                a.restore_enabled = boolean(key, value)?
            }
            "admin.rateLimiterIntervalInMS" | "zookeeper.admin.rateLimiterIntervalInMS" => {
                a.rate_limit = std::time::Duration::from_millis(number(key, value)?)
            }
            "admin.gateway.sessionIdleMs" => {
                let ms: u64 = number(key, value)?;
                if ms < 100 {
                    return Err(invalid(key, value, "must be at least 100"));
                }
                a.gateway_idle = std::time::Duration::from_millis(ms)
            }
            "metricsProvider.className" => self.provider = Some(value.to_owned()),
            "metricsProvider.httpHost" => self.metrics_host = Some(ip(key, value)?),
            "metricsProvider.httpPort" => self.metrics_port = Some(number(key, value)?),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The admin address, and the Prometheus port when ZooKeeper's Prometheus provider is
    /// configured (another provider is accepted but not used).
    fn finish(self, c: &mut ServerConfig) {
        if let Some(ip) = self.admin_ip {
            c.admin.addr.set_ip(ip);
        }
        match self.provider.as_deref() {
            Some(PROMETHEUS_PROVIDER) => {
                c.admin.prometheus_addr = Some(SocketAddr::new(
                    self.metrics_host.unwrap_or(IpAddr::from([0, 0, 0, 0])),
                    self.metrics_port.unwrap_or(7000),
                ))
            }
            Some(_) => c.unused_keys.push("metricsProvider.className".into()),
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::properties::parse_properties;

    fn props(s: &str) -> BTreeMap<String, String> {
        parse_properties(s)
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
        assert!(c.admin.restore_enabled, "ZooKeeper's default");
        let c = ServerConfig::from_properties(&props(
            "dataDir=d\nclientPort=1\nzookeeper.admin.restore.enabled=false\n",
        ))
        .unwrap();
        assert!(!c.admin.restore_enabled);
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
    fn unknown_keys_do_not_stop_startup_and_one_server_line_is_standalone() {
        let c = ServerConfig::from_properties(&props(
            "dataDir=d\nclientPort=1\ninitLimit=5\nserver.1=127.0.0.1:2888:3888\nsomething.new=1\n",
        ))
        .unwrap();
        assert_eq!(c.unused_keys, vec!["something.new".to_string()]);
        assert_eq!(
            c.quorum, None,
            "one server line with standaloneEnabled: standalone"
        );
    }
}
