//! The ensemble part of zoo.cfg (spec 09 §1): `server.N=` lines (also from a
//! `dynamicConfigFile`), `myid`, `initLimit`, `syncLimit`, `peerType`, `standaloneEnabled`
//! and the quorum transport's knobs. A config with one participant line and
//! `standaloneEnabled=true` (the default) is a standalone server, as in ZooKeeper.

use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use menagerie_core::config_text::{ConfigText, ServerSpec};
use menagerie_core::ensemble::{EnsembleConfig, Hierarchy, MemberRole, Rollover};
use menagerie_proto::ServerId;

use super::error::{ConfigError, invalid};
use super::values::{boolean, number};

/// One member of the ensemble as zoo.cfg names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Quorum-port addresses (several with `|`).
    pub quorum: Vec<SocketAddr>,
    /// Election-port addresses, in the same order.
    pub election: Vec<SocketAddr>,
    /// Participant or observer.
    pub role: MemberRole,
    /// The client address its line gave, if any.
    pub client: Option<SocketAddr>,
    /// The line's value as it goes into the configuration text (§1.5).
    pub text: String,
}

/// The ensemble settings of this member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumConfig {
    /// `myid`.
    pub my_id: ServerId,
    /// Every member.
    pub members: BTreeMap<ServerId, Member>,
    /// `initLimit`, ticks.
    pub init_limit: u64,
    /// `syncLimit`, ticks.
    pub sync_limit: u64,
    /// `multiAddress.enabled`: the V2 election header (several addresses).
    pub multi_address: bool,
    /// `quorumListenOnAllIPs`: bind the quorum and election ports on every address.
    pub listen_on_all_ips: bool,
    /// `electionPortBindRetry`: attempts to bind the election port (0 = forever).
    pub election_bind_retries: u32,
    /// `zookeeper.cnxTimeout`: election connect timeout, ms.
    pub cnx_timeout_ms: u64,
    /// `zookeeper.fastleader.minNotificationInterval`, ms.
    pub min_notification_interval_ms: u64,
    /// `zookeeper.fastleader.maxNotificationInterval`, ms.
    pub max_notification_interval_ms: u64,
    /// `zookeeper.commitLogCount`: committed txns kept for DIFF syncs.
    pub commit_log_count: usize,
    /// `menagerie.commitLogBytes`: more committed txns kept for DIFF syncs, by size.
    pub commit_log_bytes: usize,
    /// `syncEnabled` (observers): log INFORMed txns.
    pub observer_sync_enabled: bool,
    /// Hierarchical quorums (`group.N`, `weight.N`), if configured.
    pub hierarchy: Option<Hierarchy>,
    /// Quorum TLS and SASL (`sslQuorum`, `ssl.quorum.*`, `quorum.auth.*`).
    pub security: super::quorum_security::QuorumSecurity,
    /// `menagerie.linearizableReads`: reads wait for a leadership confirmation round.
    pub linearizable_reads: bool,
    /// `menagerie.rolloverEpochChange`, `menagerie.rolloverMargin`,
    /// `menagerie.firstZxidCounter`: the zxid-rollover epoch change.
    pub rollover: Rollover,
    /// `menagerie.linearizableSync`: `sync` waits for a leadership confirmation round.
    pub linearizable_sync: bool,
    /// `reconfigEnabled`: dynamic reconfiguration.
    pub reconfig_enabled: bool,
    /// The configuration's version (`version=` of the dynamic configuration file; 0 when
    /// the servers are listed in zoo.cfg).
    pub version: i64,
    /// The zoo.cfg this configuration came from (rewritten, as ZooKeeper does, when a
    /// reconfiguration activates a new membership).
    pub config_file: Option<PathBuf>,
}

impl QuorumConfig {
    /// This member's entry.
    pub fn me(&self) -> Option<&Member> {
        self.members.get(&self.my_id)
    }

    /// The configuration text every member sends in FLE notifications and NEWLEADER and
    /// stores in `/zookeeper/config` (spec 09 §1.5): one `server.N=` line per member in sid
    /// order, then `version=<hex>` without a newline.
    pub fn config_text(&self) -> String {
        let servers = self
            .members
            .iter()
            .filter_map(|(sid, m)| ServerSpec::parse(&m.text).ok().map(|spec| (*sid, spec)))
            .collect();
        ConfigText {
            servers,
            hierarchy: self.hierarchy.clone(),
            version: self.version,
        }
        .render()
    }

    /// The core's view of the ensemble.
    pub fn ensemble(&self) -> EnsembleConfig {
        let roles = self.members.iter().map(|(s, m)| (*s, m.role)).collect();
        let mut e = EnsembleConfig::new(roles, self.config_text());
        e.init_limit = self.init_limit;
        e.sync_limit = self.sync_limit;
        e.min_notification_interval_ms = self.min_notification_interval_ms;
        e.max_notification_interval_ms = self.max_notification_interval_ms;
        e.commit_log_count = self.commit_log_count;
        e.commit_log_bytes = self.commit_log_bytes;
        e.observer_sync_enabled = self.observer_sync_enabled;
        e.hierarchy = self.hierarchy.clone();
        e.linearizable_reads = self.linearizable_reads;
        e.rollover = self.rollover;
        e.linearizable_sync = self.linearizable_sync;
        e.reconfig_enabled = self.reconfig_enabled;
        e.config_version = self.version;
        e
    }
}

/// The ensemble keys of a zoo.cfg, collected while parsing.
#[derive(Debug, Default)]
pub(super) struct QuorumKeys {
    /// `server.N` values by sid, with the key as written.
    servers: BTreeMap<i64, (String, String)>,
    init_limit: Option<u64>,
    sync_limit: Option<u64>,
    peer_type: Option<String>,
    standalone_enabled: Option<bool>,
    multi_address: bool,
    listen_on_all_ips: bool,
    election_bind_retries: Option<u32>,
    cnx_timeout_ms: Option<u64>,
    min_notification_ms: Option<u64>,
    max_notification_ms: Option<u64>,
    commit_log_count: Option<usize>,
    commit_log_bytes: Option<usize>,
    sync_enabled: Option<bool>,
    linearizable_reads: bool,
    rollover: Rollover,
    linearizable_sync: bool,
    reconfig_enabled: bool,
    /// `version=` of the dynamic configuration file.
    version: i64,
    dynamic_file: Option<PathBuf>,
    /// `group.G` values by gid, with the key as written.
    groups: BTreeMap<u64, (String, String)>,
    /// `weight.N` values by sid.
    weights: BTreeMap<i64, (String, String)>,
}

impl QuorumKeys {
    /// Takes an ensemble key; false for keys of other areas.
    pub(super) fn take(&mut self, key: &str, value: &str) -> Result<bool, ConfigError> {
        if let Some(sid) = key.strip_prefix("server.") {
            let sid: i64 = sid.parse().map_err(|_| {
                invalid(key, value, "the server id after `server.` is not a number")
            })?;
            self.servers.insert(sid, (key.to_owned(), value.to_owned()));
            return Ok(true);
        }
        if key.starts_with("group") || key.starts_with("weight") {
            return self.take_hierarchy(key, value).map(|()| true);
        }
        match key {
            "initLimit" => self.init_limit = Some(positive(key, value)?),
            "syncLimit" => self.sync_limit = Some(positive(key, value)?),
            "peerType" => self.peer_type = Some(value.trim().to_ascii_lowercase()),
            "standaloneEnabled" => self.standalone_enabled = Some(boolean(key, value)?),
            "multiAddress.enabled" | "zookeeper.multiAddress.enabled" => {
                self.multi_address = boolean(key, value)?
            }
            "quorumListenOnAllIPs" => self.listen_on_all_ips = boolean(key, value)?,
            "electionPortBindRetry" | "zookeeper.electionPortBindRetry" => {
                self.election_bind_retries = Some(number(key, value)?)
            }
            "cnxTimeout" | "zookeeper.cnxTimeout" => {
                self.cnx_timeout_ms = Some(number(key, value)?)
            }
            "fastleader.minNotificationInterval"
            | "zookeeper.fastleader.minNotificationInterval" => {
                self.min_notification_ms = Some(positive(key, value)?)
            }
            "fastleader.maxNotificationInterval"
            | "zookeeper.fastleader.maxNotificationInterval" => {
                self.max_notification_ms = Some(positive(key, value)?)
            }
            "commitLogCount" | "zookeeper.commitLogCount" => {
                self.commit_log_count = Some(number(key, value)?)
            }
            "menagerie.commitLogBytes" => self.commit_log_bytes = Some(number(key, value)?),
            "syncEnabled" | "observer.syncEnabled" | "zookeeper.observer.syncEnabled" => {
                self.sync_enabled = Some(boolean(key, value)?)
            }
            "menagerie.linearizableReads" => self.linearizable_reads = boolean(key, value)?,
            "menagerie.rolloverEpochChange" => self.rollover.epoch_change = boolean(key, value)?,
            "menagerie.rolloverMargin" => {
                let margin = counter(key, value)?;
                if margin > i32::MAX as u32 {
                    return Err(invalid(key, value, "the margin is at most 2147483647"));
                }
                self.rollover.margin = margin;
            }
            "menagerie.firstZxidCounter" => self.rollover.first_counter = counter(key, value)?,
            "menagerie.linearizableSync" => self.linearizable_sync = boolean(key, value)?,
            "dynamicConfigFile" => self.dynamic_file = Some(PathBuf::from(value)),
            "electionAlg" if value.trim() != "3" => {
                return Err(invalid(key, value, "only 3 (fast leader election) exists"));
            }
            "electionAlg" => {}
            "reconfigEnabled" => self.reconfig_enabled = boolean(key, value)?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// `group.G=sid:sid:…` or `weight.N=w` (ZooKeeper switches to hierarchical quorums on
    /// any key starting with `group` or `weight`).
    fn take_hierarchy(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        let id = key
            .split_once('.')
            .map(|(_, id)| id)
            .ok_or_else(|| invalid(key, value, "expected group.<gid> or weight.<sid>"))?;
        let entry = (key.to_owned(), value.trim().to_owned());
        if key.starts_with("group") {
            let gid = id
                .parse()
                .map_err(|_| invalid(key, value, "the group id is not a number"))?;
            self.groups.insert(gid, entry);
        } else {
            let sid = id
                .parse()
                .map_err(|_| invalid(key, value, "the server id is not a number"))?;
            self.weights.insert(sid, entry);
        }
        Ok(())
    }

    /// The groups and weights, checked as ZooKeeper checks them: groups are disjoint and
    /// every participant is in one; participants without a weight weigh 1.
    fn hierarchy(
        &self,
        members: &BTreeMap<ServerId, Member>,
    ) -> Result<Option<Hierarchy>, ConfigError> {
        if self.groups.is_empty() && self.weights.is_empty() {
            return Ok(None);
        }
        let mut h = Hierarchy {
            group_of: BTreeMap::new(),
            weights: BTreeMap::new(),
        };
        for (gid, (key, value)) in &self.groups {
            for sid in value.split(':') {
                let sid: i64 = sid
                    .trim()
                    .parse()
                    .map_err(|_| invalid(key, value, "expected server ids separated by ':'"))?;
                if h.group_of.insert(ServerId(sid), *gid).is_some() {
                    return Err(invalid(
                        key,
                        value,
                        format!("server {sid} is in several groups"),
                    ));
                }
            }
        }
        for (sid, (key, value)) in &self.weights {
            let w = number(key, value)?;
            h.weights.insert(ServerId(*sid), w);
        }
        for (sid, m) in members {
            if m.role != MemberRole::Participant {
                continue;
            }
            if !h.group_of.contains_key(sid) {
                return Err(invalid(
                    &format!("server.{sid}"),
                    &m.text,
                    "with group.N lines every participant must be in a group",
                ));
            }
            h.weights.entry(*sid).or_insert(1);
        }
        if let Some(sid) = h.group_of.keys().find(|s| !h.weights.contains_key(s)) {
            return Err(invalid(
                &format!("group of {sid}"),
                "",
                "a grouped server that is not a participant needs a weight.N",
            ));
        }
        Ok(Some(h))
    }

    /// The ensemble settings, or `None` for a standalone server. Reads `myid` from
    /// `data_dir` and the `dynamicConfigFile`'s server lines.
    pub(super) fn finish(mut self, data_dir: &Path) -> Result<Option<QuorumConfig>, ConfigError> {
        if let Some(path) = self.dynamic_file.take() {
            self.read_dynamic_file(&path)?;
        }
        if self.servers.is_empty() {
            return Ok(None);
        }
        let members = self.members()?;
        let participants = members
            .values()
            .filter(|m| m.role == MemberRole::Participant)
            .count();
        if participants == 0 {
            return Err(invalid("server.*", "", "observers without any participant"));
        }
        if members.len() == 1 && self.standalone_enabled.unwrap_or(true) {
            return Ok(None);
        }
        let init_limit = self.init_limit.ok_or(ConfigError::Missing("initLimit"))?;
        let sync_limit = self.sync_limit.ok_or(ConfigError::Missing("syncLimit"))?;
        let my_id = read_myid(data_dir)?;
        let Some(me) = members.get(&my_id) else {
            return Err(invalid(
                "myid",
                &my_id.to_string(),
                "this server's id is not in the server.N list",
            ));
        };
        self.check_peer_type(me.role);
        let hierarchy = self.hierarchy(&members)?;
        Ok(Some(QuorumConfig {
            my_id,
            members,
            init_limit,
            sync_limit,
            multi_address: self.multi_address,
            listen_on_all_ips: self.listen_on_all_ips,
            election_bind_retries: self.election_bind_retries.unwrap_or(3),
            cnx_timeout_ms: self.cnx_timeout_ms.unwrap_or(5000),
            min_notification_interval_ms: self.min_notification_ms.unwrap_or(200),
            max_notification_interval_ms: self.max_notification_ms.unwrap_or(60_000),
            commit_log_count: self.commit_log_count.unwrap_or(500).max(500),
            commit_log_bytes: self
                .commit_log_bytes
                .unwrap_or(menagerie_core::ensemble::DEFAULT_COMMIT_LOG_BYTES),
            observer_sync_enabled: self.sync_enabled.unwrap_or(true),
            hierarchy,
            security: Default::default(),
            linearizable_reads: self.linearizable_reads,
            rollover: self.rollover,
            linearizable_sync: self.linearizable_sync,
            reconfig_enabled: self.reconfig_enabled,
            version: self.version,
            config_file: None,
        }))
    }

    fn members(&self) -> Result<BTreeMap<ServerId, Member>, ConfigError> {
        let mut members = BTreeMap::new();
        for (sid, (key, value)) in &self.servers {
            if !(1..=255).contains(sid) {
                return Err(invalid(key, value, "server ids must be between 1 and 255"));
            }
            let m = parse_member(key, value, self.multi_address)?;
            members.insert(ServerId(*sid), m);
        }
        Ok(members)
    }

    /// `peerType` is optional; when it disagrees with the server list the list wins, as in
    /// ZooKeeper (`QuorumPeerConfig.setupPeerType`).
    fn check_peer_type(&self, role: MemberRole) {
        let listed = match role {
            MemberRole::Participant => "participant",
            MemberRole::Observer => "observer",
        };
        if let Some(p) = &self.peer_type
            && p != listed
        {
            tracing::warn!(peer_type = %p, listed, "peerType disagrees with the server list; the list wins");
        }
    }

    /// Server lines from a dynamic configuration file (`zoo.cfg.dynamic.<version>`).
    fn read_dynamic_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        if let Some(v) = super::dynamic_file::version_of(path) {
            self.version = v;
        }
        for (key, value) in super::properties::parse_properties(&text) {
            if key.starts_with("server.") || key.starts_with("group") || key.starts_with("weight") {
                self.take(&key, value.trim())?;
            } else if key == "version" {
                self.version = i64::from_str_radix(value.trim(), 16)
                    .map_err(|_| invalid(&key, &value, "the version must be hexadecimal"))?;
            } else {
                return Err(invalid(
                    &key,
                    &value,
                    "not allowed in a dynamic configuration file",
                ));
            }
        }
        Ok(())
    }
}

/// A zxid counter value: at most `Zxid::MAX_COUNTER`.
fn counter(key: &str, value: &str) -> Result<u32, ConfigError> {
    let n: u32 = number(key, value)?;
    if n > menagerie_proto::Zxid::MAX_COUNTER {
        return Err(invalid(key, value, "a zxid counter is at most 4294967294"));
    }
    Ok(n)
}

fn positive(key: &str, value: &str) -> Result<u64, ConfigError> {
    let v: u64 = number(key, value)?;
    if v == 0 {
        return Err(invalid(key, value, "must be positive"));
    }
    Ok(v)
}

/// `<dataDir>/myid`: its first line as a decimal number (not trimmed, as ZooKeeper reads
/// it).
fn read_myid(data_dir: &Path) -> Result<ServerId, ConfigError> {
    let path = data_dir.join("myid");
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Io {
        path: path.clone(),
        source,
    })?;
    let line = text.lines().next().unwrap_or_default();
    let id: i64 = line.parse().map_err(|_| {
        invalid(
            "myid",
            line,
            format!("{} must hold a server id", path.display()),
        )
    })?;
    Ok(ServerId(id))
}

/// `<addr>[|<addr>…][;<client>]` with `<addr>` = `host:quorumPort:electionPort[:type]`.
pub(crate) fn parse_member(
    key: &str,
    value: &str,
    multi_address: bool,
) -> Result<Member, ConfigError> {
    let bad = |why: &str| invalid(key, value, why.to_owned());
    let spec = ServerSpec::parse(value).map_err(|why| bad(&why))?;
    if spec.addrs.len() > 1 && !multi_address {
        return Err(bad("several addresses need multiAddress.enabled=true"));
    }
    let client = match &spec.client {
        None => None,
        Some((host, port)) => Some(resolve(host, *port).map_err(|why| bad(&why))?),
    };
    let (quorum, election) = spec
        .addrs
        .iter()
        .map(|(h, q, e)| Ok((resolve(h, *q)?, resolve(h, *e)?)))
        .collect::<Result<Vec<_>, String>>()
        .map_err(|why| bad(&why))?
        .into_iter()
        .unzip();
    Ok(Member {
        quorum,
        election,
        role: spec.role,
        client,
        text: spec.text(),
    })
}

/// The members a configuration text names, with their addresses resolved (a configuration
/// a reconfiguration activated).
pub fn members_from_text(
    text: &str,
    multi_address: bool,
) -> Result<BTreeMap<ServerId, Member>, ConfigError> {
    let parsed = ConfigText::parse(text).map_err(|e| invalid("server.*", text, e.to_string()))?;
    let mut members = BTreeMap::new();
    for (sid, spec) in parsed.servers {
        let key = format!("server.{sid}");
        members.insert(sid, parse_member(&key, &spec.text(), multi_address)?);
    }
    Ok(members)
}

fn resolve(host: &str, port: u16) -> Result<SocketAddr, String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    (bare, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host} has no address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(lines: &[(&str, &str)]) -> QuorumKeys {
        let mut k = QuorumKeys::default();
        for (key, value) in lines {
            assert!(k.take(key, value).expect("valid"), "{key}");
        }
        k
    }

    fn dir_with_myid(id: &str) -> tempfile::TempDir {
        let d = tempfile::tempdir().expect("tempdir");
        std::fs::write(d.path().join("myid"), id).expect("myid");
        d
    }

    #[test]
    fn three_members_give_javas_config_text() {
        let d = dir_with_myid("2\n");
        let q = keys(&[
            ("server.1", "127.0.0.1:29841:39841"),
            ("server.2", "127.0.0.1:29842:39842"),
            ("server.3", "127.0.0.1:29843:39843"),
            ("initLimit", "10"),
            ("syncLimit", "5"),
        ])
        .finish(d.path())
        .expect("config")
        .expect("an ensemble");
        assert_eq!(q.my_id, ServerId(2));
        let text = q.config_text();
        // Spec 09 §1.5: the 138-byte text of this exact ensemble.
        assert_eq!(text.len(), 138);
        assert_eq!(
            text,
            "server.1=127.0.0.1:29841:39841:participant\nserver.2=127.0.0.1:29842:39842:participant\nserver.3=127.0.0.1:29843:39843:participant\nversion=0"
        );
        assert_eq!(q.me().map(|m| m.quorum[0].port()), Some(29842));
    }

    #[test]
    fn observers_client_parts_and_errors() {
        let d = dir_with_myid("4");
        let q = keys(&[
            ("server.1", "127.0.0.1:1:2"),
            ("server.2", "127.0.0.1:3:4"),
            ("server.3", "127.0.0.1:5:6"),
            ("server.4", "127.0.0.1:7:8:Observer ;2184"),
            ("initLimit", "5"),
            ("syncLimit", "2"),
        ])
        .finish(d.path())
        .expect("config")
        .expect("ensemble");
        let me = q.me().expect("4");
        assert_eq!(me.role, MemberRole::Observer);
        assert_eq!(me.text, "127.0.0.1:7:8:observer;0.0.0.0:2184");
        assert_eq!(me.client.map(|c| c.port()), Some(2184));
        // One participant line and standaloneEnabled (default): standalone.
        let single = keys(&[("server.1", "127.0.0.1:1:2")]).finish(d.path());
        assert!(matches!(single, Ok(None)));
        // Errors name the line.
        for (k, v) in [
            ("server.1", "127.0.0.1:1"),
            ("server.1", "127.0.0.1:1:1"),
            ("server.1", "127.0.0.1:1:2:voter"),
            ("server.1", "a:1:2;3;4"),
            ("server.1", "127.0.0.1:1:2|127.0.0.2:1:2"),
            ("server.300", "127.0.0.1:1:2"),
        ] {
            let mut k2 = QuorumKeys::default();
            k2.take(k, v).expect("taken");
            k2.take("server.9", "127.0.0.1:9:10").expect("taken");
            let e = k2.finish(d.path()).expect_err(v);
            assert!(e.to_string().contains(k), "{e}");
        }
        let mut k = QuorumKeys::default();
        assert!(k.take("server.x", "127.0.0.1:1:2").is_err());
    }

    #[test]
    fn myid_must_be_in_the_list_and_limits_are_required() {
        let d = dir_with_myid("7");
        let lines = [
            ("server.1", "127.0.0.1:1:2"),
            ("server.2", "127.0.0.1:3:4"),
            ("initLimit", "5"),
            ("syncLimit", "2"),
        ];
        let e = keys(&lines).finish(d.path()).expect_err("7 is not listed");
        assert!(e.to_string().contains("myid"), "{e}");
        let e = keys(&lines[..3])
            .finish(d.path())
            .expect_err("no syncLimit");
        assert!(e.to_string().contains("syncLimit"), "{e}");
        let bad = dir_with_myid(" 1");
        let e = keys(&lines).finish(bad.path()).expect_err("untrimmed");
        assert!(e.to_string().contains("myid"), "{e}");
    }

    #[test]
    fn rollover_settings_are_read_and_bad_values_name_the_key() {
        let d = dir_with_myid("1");
        let lines = [
            ("server.1", "127.0.0.1:1:2"),
            ("server.2", "127.0.0.1:3:4"),
            ("initLimit", "5"),
            ("syncLimit", "2"),
        ];
        let q = keys(&lines)
            .finish(d.path())
            .expect("config")
            .expect("ensemble");
        assert_eq!(q.ensemble().rollover, Rollover::default());
        let mut more = lines.to_vec();
        more.extend([
            ("menagerie.rolloverEpochChange", "false"),
            ("menagerie.rolloverMargin", "5"),
            ("menagerie.firstZxidCounter", "4294967000"),
        ]);
        let q = keys(&more)
            .finish(d.path())
            .expect("config")
            .expect("ensemble");
        let r = q.ensemble().rollover;
        assert_eq!(
            (r.epoch_change, r.margin, r.first_counter),
            (false, 5, 4_294_967_000)
        );
        for (k, v) in [
            ("menagerie.rolloverEpochChange", "maybe"),
            ("menagerie.rolloverMargin", "-1"),
            ("menagerie.rolloverMargin", "3000000000"),
            ("menagerie.firstZxidCounter", "4294967295"),
        ] {
            let e = QuorumKeys::default().take(k, v).expect_err(v);
            assert!(e.to_string().contains(k), "{e}");
        }
    }

    fn four_in_groups(extra: &[(&str, &str)]) -> Result<Option<QuorumConfig>, ConfigError> {
        let d = dir_with_myid("1");
        let mut lines = vec![
            ("server.1", "127.0.0.1:1001:2001"),
            ("server.2", "127.0.0.1:1002:2002"),
            ("server.3", "127.0.0.1:1003:2003"),
            ("server.4", "127.0.0.1:1004:2004"),
            ("initLimit", "10"),
            ("syncLimit", "5"),
        ];
        lines.extend_from_slice(extra);
        let mut k = QuorumKeys::default();
        for (key, value) in &lines {
            k.take(key, value)?;
        }
        k.finish(d.path())
    }

    #[test]
    fn groups_and_weights_make_hierarchical_quorums_with_javas_text() {
        let q = four_in_groups(&[
            ("group.1", "1:2"),
            ("group.2", "3"),
            ("group.3", "4"),
            ("weight.4", "0"),
        ])
        .expect("valid")
        .expect("an ensemble");
        let text = q.config_text();
        assert!(
            text.ends_with(
                "server.4=127.0.0.1:1004:2004:participant\ngroup.1=1:2\ngroup.2=3\ngroup.3=4\n\
                 weight.1=1\nweight.2=1\nweight.3=1\nweight.4=0\nversion=0"
            ),
            "{text}"
        );
        let e = q.ensemble();
        let ids = |v: &[i64]| v.iter().map(|s| ServerId(*s)).collect::<Vec<_>>();
        // Group 3 weighs nothing: two groups count, and both are needed.
        assert!(e.is_quorum(&ids(&[1, 2, 3])));
        assert!(!e.is_quorum(&ids(&[3, 4])), "group 3 does not count");
        assert!(
            !e.is_quorum(&ids(&[2, 3])),
            "half of group 1 is not more than half"
        );
        assert!(!e.can_lead(ServerId(4)), "weight 0 never leads");
    }

    #[test]
    fn groups_must_cover_every_participant_once() {
        let err = four_in_groups(&[("group.1", "1:2"), ("group.2", "2:3:4")]).unwrap_err();
        assert!(
            err.to_string().contains("server 2 is in several groups"),
            "{err}"
        );
        let err = four_in_groups(&[("group.1", "1:2"), ("group.2", "3")]).unwrap_err();
        assert!(
            err.to_string()
                .contains("every participant must be in a group"),
            "{err}"
        );
        let err = four_in_groups(&[("group.1", "1:x")]).unwrap_err();
        assert!(err.to_string().contains("server ids"), "{err}");
        let err = four_in_groups(&[("group.1", "1:2:3:4"), ("weight.2", "heavy")]).unwrap_err();
        assert!(err.to_string().contains("weight.2"), "{err}");
    }
}
