//! The dynamic configuration as text (spec 09 §1.5): what FLE notifications and NEWLEADER
//! carry, what `/zookeeper/config` holds and what a reconfig txn writes. Parsing and
//! rendering are pure (no name resolution: the shell resolves the hosts it dials).
//!
//! ```text
//! server.<sid>=<host>:<quorumPort>:<electionPort>[|…][:participant|observer][;[<clientHost>:]<clientPort>]
//! group.<gid>=<sid>:<sid>…        (hierarchical quorums only)
//! weight.<sid>=<w>                (hierarchical quorums only)
//! version=<hex>
//! ```

use std::collections::BTreeMap;

use menagerie_proto::ServerId;

use crate::ensemble::{EnsembleConfig, Hierarchy, MemberRole};

/// Why a configuration text or a server line was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigTextError {
    /// A `server.N` value that does not parse.
    #[error("server.{sid}: {why}")]
    Server {
        /// The line's sid.
        sid: i64,
        /// What is wrong.
        why: String,
    },
    /// A line that is not `key=value` or has an unknown key.
    #[error("bad configuration line {0:?}")]
    Line(String),
    /// Group or weight lines that do not make a valid hierarchy.
    #[error("{0}")]
    Hierarchy(String),
    /// No participant.
    #[error("a configuration needs at least one participant")]
    NoParticipant,
}

/// One `server.N` value, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSpec {
    /// `(host as written, quorum port, election port)`, sorted by host.
    pub addrs: Vec<(String, u16, u16)>,
    /// Participant or observer.
    pub role: MemberRole,
    /// The client address, if the line gave one: `(host, port)` (`0.0.0.0` when only a port).
    pub client: Option<(String, u16)>,
}

impl ServerSpec {
    /// Parses `<addr>[|<addr>…][;<client>]`.
    pub fn parse(value: &str) -> Result<ServerSpec, String> {
        let mut parts = value.trim().split(';');
        let addrs = parts.next().unwrap_or_default();
        let client_part = parts.next();
        if parts.next().is_some() {
            return Err("more than one `;`".into());
        }
        let mut parsed = Vec::new();
        for piece in addrs.split('|') {
            parsed.push(parse_address(piece.trim())?);
        }
        let role = parsed[0].3;
        if parsed.iter().any(|p| p.3 != role) {
            return Err("all addresses of a server must have the same type".into());
        }
        let mut addrs: Vec<(String, u16, u16)> =
            parsed.into_iter().map(|p| (p.0, p.1, p.2)).collect();
        addrs.sort();
        let client = match client_part.map(str::trim) {
            None => None,
            Some(c) => {
                let (host, port) = match c.rsplit_once(':') {
                    Some((h, p)) => (h.to_owned(), p),
                    None => ("0.0.0.0".to_owned(), c),
                };
                let port: u16 = port.parse().map_err(|_| "bad client port".to_owned())?;
                Some((host, port))
            }
        };
        Ok(ServerSpec {
            addrs,
            role,
            client,
        })
    }

    /// The value as the configuration text writes it (Java's `QuorumServer.toString`).
    pub fn text(&self) -> String {
        let mut text = self
            .addrs
            .iter()
            .map(|(h, q, e)| format!("{h}:{q}:{e}"))
            .collect::<Vec<_>>()
            .join("|");
        text.push_str(match self.role {
            MemberRole::Participant => ":participant",
            MemberRole::Observer => ":observer",
        });
        if let Some((host, port)) = &self.client {
            text.push_str(&format!(";{host}:{port}"));
        }
        text
    }

    /// The quorum addresses as written (what decides whether a leader stays leader).
    pub fn quorum_addrs(&self) -> Vec<(String, u16)> {
        self.addrs.iter().map(|(h, q, _)| (h.clone(), *q)).collect()
    }
}

/// One `host:quorumPort:electionPort[:type]` (IPv6 hosts in brackets).
fn parse_address(s: &str) -> Result<(String, u16, u16, MemberRole), String> {
    let (host, rest) = if let Some(after) = s.strip_prefix('[') {
        let (h, rest) = after.split_once(']').ok_or("unclosed `[`")?;
        (
            format!("[{h}]"),
            rest.strip_prefix(':').ok_or("expected `:` after `]`")?,
        )
    } else {
        let (h, rest) = s
            .split_once(':')
            .ok_or("expected host:quorumPort:electionPort")?;
        (h.to_owned(), rest)
    };
    let fields: Vec<&str> = rest.split(':').collect();
    if !(2..=3).contains(&fields.len()) || host.is_empty() {
        return Err("expected host:quorumPort:electionPort[:participant|observer]".into());
    }
    let port = |f: &str| {
        f.trim()
            .parse::<u16>()
            .map_err(|_| format!("bad port {f:?}"))
    };
    let (q, e) = (port(fields[0])?, port(fields[1])?);
    if q == e {
        return Err("the quorum and election ports must differ".into());
    }
    let role = match fields.get(2).map(|t| t.trim().to_ascii_lowercase()) {
        None => MemberRole::Participant,
        Some(t) if t == "participant" => MemberRole::Participant,
        Some(t) if t == "observer" => MemberRole::Observer,
        Some(t) => return Err(format!("unknown server type {t:?}")),
    };
    Ok((host, q, e, role))
}

/// A whole configuration: its members, hierarchy and version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigText {
    /// Every member.
    pub servers: BTreeMap<ServerId, ServerSpec>,
    /// Hierarchical quorums, if any group or weight line was given.
    pub hierarchy: Option<Hierarchy>,
    /// `version=` (hex; 0 when absent).
    pub version: i64,
}

impl ConfigText {
    /// Parses a configuration text (lines separated by newlines).
    pub fn parse(text: &str) -> Result<ConfigText, ConfigTextError> {
        let mut servers = BTreeMap::new();
        let mut groups: BTreeMap<u64, String> = BTreeMap::new();
        let mut weights: BTreeMap<i64, String> = BTreeMap::new();
        let mut version = 0;
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if line.starts_with('#') {
                continue;
            }
            let (key, value) = line
                .split_once('=')
                .ok_or_else(|| ConfigTextError::Line(line.to_owned()))?;
            let (key, value) = (key.trim(), value.trim());
            let bad = || ConfigTextError::Line(line.to_owned());
            if let Some(sid) = key.strip_prefix("server.") {
                let sid: i64 = sid.parse().map_err(|_| bad())?;
                let spec =
                    ServerSpec::parse(value).map_err(|why| ConfigTextError::Server { sid, why })?;
                servers.insert(ServerId(sid), spec);
            } else if let Some(gid) = key.strip_prefix("group.") {
                groups.insert(gid.parse().map_err(|_| bad())?, value.to_owned());
            } else if let Some(sid) = key.strip_prefix("weight.") {
                weights.insert(sid.parse().map_err(|_| bad())?, value.to_owned());
            } else if key == "version" {
                version = i64::from_str_radix(value, 16).map_err(|_| bad())?;
            } else {
                return Err(bad());
            }
        }
        if !servers.values().any(|s| s.role == MemberRole::Participant) {
            return Err(ConfigTextError::NoParticipant);
        }
        let hierarchy = if groups.is_empty() && weights.is_empty() {
            None
        } else {
            Some(hierarchy(&servers, &groups, &weights)?)
        };
        Ok(ConfigText {
            servers,
            hierarchy,
            version,
        })
    }

    /// The text (Java's `QuorumMaj.toString` / `QuorumHierarchical.toString`): server lines
    /// in sid order, group and weight lines, then `version=<hex>` without a newline.
    pub fn render(&self) -> String {
        let mut s = String::new();
        for (sid, spec) in &self.servers {
            s.push_str(&format!("server.{sid}={}\n", spec.text()));
        }
        if let Some(h) = &self.hierarchy {
            let mut groups: BTreeMap<u64, Vec<String>> = BTreeMap::new();
            for (sid, gid) in &h.group_of {
                groups.entry(*gid).or_default().push(sid.to_string());
            }
            for (gid, sids) in groups {
                s.push_str(&format!("group.{gid}={}\n", sids.join(":")));
            }
            for (sid, w) in &h.weights {
                s.push_str(&format!("weight.{sid}={w}\n"));
            }
        }
        s.push_str(&format!("version={:x}", self.version));
        s
    }

    /// `base` (this member's knobs) with this configuration's members, hierarchy, version
    /// and text.
    pub fn applied_to(&self, base: &EnsembleConfig) -> EnsembleConfig {
        let mut e = base.clone();
        e.members = self.servers.iter().map(|(s, m)| (*s, m.role)).collect();
        e.hierarchy = self.hierarchy.clone();
        e.config_version = self.version;
        e.config_text = self.render();
        e
    }
}

/// Group and weight lines checked as ZooKeeper's `QuorumHierarchical` does.
fn hierarchy(
    servers: &BTreeMap<ServerId, ServerSpec>,
    groups: &BTreeMap<u64, String>,
    weights: &BTreeMap<i64, String>,
) -> Result<Hierarchy, ConfigTextError> {
    let bad = |why: String| ConfigTextError::Hierarchy(why);
    let mut group_of = BTreeMap::new();
    for (gid, value) in groups {
        for sid in value.split(':') {
            let sid: i64 = sid
                .trim()
                .parse()
                .map_err(|_| bad(format!("group.{gid}: bad server id {sid:?}")))?;
            if group_of.insert(ServerId(sid), *gid).is_some() {
                return Err(bad(format!("server {sid} is in more than one group")));
            }
        }
    }
    let mut weight_of = BTreeMap::new();
    for (sid, spec) in servers {
        if spec.role == MemberRole::Participant {
            if !group_of.contains_key(sid) {
                return Err(bad(format!("participant {sid} is in no group")));
            }
            weight_of.insert(*sid, 1);
        }
    }
    for (sid, w) in weights {
        let w: u64 = w
            .parse()
            .map_err(|_| bad(format!("weight.{sid}: bad weight {w:?}")))?;
        weight_of.insert(ServerId(*sid), w);
    }
    Ok(Hierarchy {
        group_of,
        weights: weight_of,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn javas_text_round_trips_and_normalises_client_parts() {
        let text = "server.1=127.0.0.1:2888:3888:participant\n\
                    server.2=127.0.0.1:2889:3889\n\
                    server.100=0.0.0.0:1234:2345:observer;3456\nversion=100000000";
        let c = ConfigText::parse(text).expect("parses");
        assert_eq!(c.version, 0x1_0000_0000);
        assert_eq!(
            c.render(),
            "server.1=127.0.0.1:2888:3888:participant\n\
             server.2=127.0.0.1:2889:3889:participant\n\
             server.100=0.0.0.0:1234:2345:observer;0.0.0.0:3456\nversion=100000000"
        );
        assert_eq!(ConfigText::parse(&c.render()), Ok(c));
    }

    #[test]
    fn bad_lines_are_refused_naming_them() {
        assert!(matches!(
            ConfigText::parse("server.1=localhost:1:1\nversion=0"),
            Err(ConfigTextError::Server { sid: 1, .. })
        ));
        assert!(matches!(
            ConfigText::parse("some thing"),
            Err(ConfigTextError::Line(_))
        ));
        assert_eq!(
            ConfigText::parse("server.1=h:1:2:observer"),
            Err(ConfigTextError::NoParticipant)
        );
    }

    #[test]
    fn groups_and_weights_make_a_hierarchy() {
        let text = "server.1=h:1:2\nserver.2=h:3:4\nserver.3=h:5:6\n\
                    group.1=1:2\ngroup.2=3\nweight.3=0\nversion=5";
        let c = ConfigText::parse(text).expect("parses");
        let h = c.hierarchy.expect("hierarchy");
        assert_eq!(h.weights.get(&ServerId(3)), Some(&0));
        assert_eq!(h.group_of.get(&ServerId(2)), Some(&1));
        assert!(ConfigText::parse("server.1=h:1:2\nserver.2=h:3:4\ngroup.1=1").is_err());
    }
}
