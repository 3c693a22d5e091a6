//! The security keys of zoo.cfg and ZooKeeper's `-D` system-property form of them.
//!
//! ZooKeeper reads these settings as JVM system properties (`zookeeper.skipACL`, ...); a
//! zoo.cfg key ZooKeeper does not know is turned into the system property `zookeeper.<key>`,
//! so both `skipACL=yes` and `zookeeper.skipACL=yes` work in zoo.cfg. Menagerie accepts the
//! same two spellings, and also takes `-Dzookeeper.<key>=<value>` words from the
//! `SERVER_JVMFLAGS` and `JVMFLAGS` environment variables (what `zkServer.sh` passes to the
//! JVM), with zoo.cfg winning over the environment, as in ZooKeeper.

use std::collections::BTreeMap;

use crate::config::{ConfigError, ServerConfig, invalid};

/// Environment variables whose `-Dzookeeper.*=...` words are read as settings.
pub const JVM_FLAG_VARS: [&str; 2] = ["JVMFLAGS", "SERVER_JVMFLAGS"];

/// Authentication schemes a connection can obtain an identity of (what `enforce.auth.schemes`
/// may name; ZooKeeper refuses to start with a scheme that has no provider).
pub const AVAILABLE_SCHEMES: [&str; 2] = ["digest", "ip"];

/// `-Dzookeeper.<key>=<value>` settings from [`JVM_FLAG_VARS`], keyed by the full property
/// name (later variables win).
pub fn jvm_flag_properties() -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for var in JVM_FLAG_VARS {
        if let Ok(flags) = std::env::var(var) {
            out.extend(parse_jvm_flags(&flags));
        }
    }
    out
}

/// The `-Dzookeeper.*` words of a JVM command line fragment.
pub fn parse_jvm_flags(flags: &str) -> BTreeMap<String, String> {
    flags
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("-D"))
        .filter(|w| w.starts_with("zookeeper."))
        .map(|w| match w.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (w.to_owned(), String::new()),
        })
        .collect()
}

/// Java's `Boolean.parseBoolean`: `true` in any case is true, anything else false.
fn java_bool(value: &str) -> bool {
    value.eq_ignore_ascii_case("true")
}

/// The security keys seen so far while reading a configuration.
#[derive(Debug, Default)]
pub struct SecurityKeys {
    super_digest: Option<String>,
    skip_acl: Option<bool>,
    enforce_auth: bool,
    enforce_schemes: Vec<String>,
    enforce_quota: bool,
}

impl SecurityKeys {
    /// Takes `key` if it is a security key (with or without the `zookeeper.` prefix).
    pub fn take(&mut self, key: &str, value: &str) -> bool {
        let short = key.strip_prefix("zookeeper.").unwrap_or(key);
        match short {
            "DigestAuthenticationProvider.superDigest" => {
                self.super_digest = (!value.is_empty()).then(|| value.to_owned())
            }
            // ZooKeeper compares with "yes" exactly: "true" does NOT skip ACLs there.
            "skipACL" => self.skip_acl = Some(value == "yes"),
            "enforce.auth.enabled" => self.enforce_auth = java_bool(value),
            "enforce.auth.schemes" => {
                self.enforce_schemes = value
                    .split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            }
            "enforceQuota" => self.enforce_quota = java_bool(value),
            _ => return false,
        }
        true
    }

    /// Validates the keys and stores them in `c` (ZooKeeper: `AuthenticationHelper`
    /// refuses to start when enforcement is on without a usable scheme).
    pub fn finish(self, c: &mut ServerConfig) -> Result<(), ConfigError> {
        if self.enforce_auth {
            if self.enforce_schemes.is_empty() {
                return Err(invalid(
                    "enforce.auth.enabled",
                    "true",
                    "enforce.auth.schemes must be configured",
                ));
            }
            if let Some(s) = self
                .enforce_schemes
                .iter()
                .find(|s| !AVAILABLE_SCHEMES.contains(&s.as_str()))
            {
                return Err(invalid(
                    "enforce.auth.schemes",
                    s,
                    format!(
                        "authentication scheme is not available (available: {})",
                        AVAILABLE_SCHEMES.join(", ")
                    ),
                ));
            }
            c.auth.enforce_auth_schemes = self.enforce_schemes;
        }
        if let Some(d) = &self.super_digest
            && d.split(':').count() != 2
        {
            return Err(invalid(
                "DigestAuthenticationProvider.superDigest",
                d,
                "expected super:<base64 sha1 digest>",
            ));
        }
        c.auth.super_digest = self.super_digest;
        c.auth.skip_acl = self.skip_acl.unwrap_or(false);
        if c.auth.skip_acl {
            tracing::warn!("skipACL=yes: every ACL check is skipped");
        }
        c.enforce_quota = self.enforce_quota;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_properties;

    fn load(text: &str) -> Result<ServerConfig, ConfigError> {
        ServerConfig::from_properties(&parse_properties(&format!(
            "dataDir=d\nclientPort=1\n{text}"
        )))
    }

    #[test]
    fn both_spellings_are_accepted() {
        let c = load(
            "zookeeper.DigestAuthenticationProvider.superDigest=super:xQJmxLMiHGwaqBvst5y6rkB6HQs=\n\
             skipACL=yes\nenforceQuota=true\n",
        )
        .expect("valid");
        assert_eq!(
            c.auth.super_digest.as_deref(),
            Some("super:xQJmxLMiHGwaqBvst5y6rkB6HQs=")
        );
        assert!(c.auth.skip_acl && c.enforce_quota);
        assert!(c.unused_keys.is_empty(), "{:?}", c.unused_keys);
        let c = load("zookeeper.skipACL=true\nzookeeper.enforceQuota=TRUE\n").expect("valid");
        assert!(!c.auth.skip_acl, "only 'yes' skips ACLs, as in ZooKeeper");
        assert!(c.enforce_quota);
    }

    #[test]
    fn enforce_auth_needs_available_schemes() {
        let c = load("enforce.auth.enabled=true\nenforce.auth.schemes=digest, ip\n").expect("ok");
        assert_eq!(c.auth.enforce_auth_schemes, vec!["digest", "ip"]);
        // Schemes without enabled=true change nothing.
        let c = load("enforce.auth.schemes=digest\n").expect("ok");
        assert!(c.auth.enforce_auth_schemes.is_empty());
        let e = load("enforce.auth.enabled=true\n").expect_err("no schemes");
        assert!(e.to_string().contains("enforce.auth.schemes"), "{e}");
        let e =
            load("zookeeper.enforce.auth.enabled=true\nzookeeper.enforce.auth.schemes=kerberos\n")
                .expect_err("unknown scheme");
        assert!(e.to_string().contains("kerberos"), "{e}");
        assert!(load("DigestAuthenticationProvider.superDigest=nocolon\n").is_err());
    }

    #[test]
    fn jvm_flags_give_zookeeper_properties() {
        let p = parse_jvm_flags(
            "-Xmx1g -Dzookeeper.skipACL=yes -Dfoo=bar -Dzookeeper.DigestAuthenticationProvider.superDigest=super:a=",
        );
        assert_eq!(p.len(), 2);
        assert_eq!(p["zookeeper.skipACL"], "yes");
        assert_eq!(
            p["zookeeper.DigestAuthenticationProvider.superDigest"],
            "super:a="
        );
    }
}
