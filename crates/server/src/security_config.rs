//! The security keys of zoo.cfg and ZooKeeper's `-D` system-property form of them.
//!
//! ZooKeeper reads these settings as JVM system properties (`zookeeper.skipACL`, ...); a
//! zoo.cfg key ZooKeeper does not know is turned into the system property `zookeeper.<key>`,
//! so both `skipACL=yes` and `zookeeper.skipACL=yes` work in zoo.cfg. Menagerie accepts the
//! same two spellings, and also takes them as `-D` words of the JVM flags (see
//! [`crate::config::jvm_flags`]), with zoo.cfg winning over the flags, as in ZooKeeper.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use menagerie_core::auth::AuthConfig;

use crate::config::error::{ConfigError, invalid};
use crate::tls::{AdminTls, ClientAuth, TlsSettings};

/// Authentication schemes a connection can obtain an identity of (what `enforce.auth.schemes`
/// may name; ZooKeeper refuses to start with a scheme that has no provider).
pub const AVAILABLE_SCHEMES: [&str; 4] = ["digest", "ip", "sasl", "x509"];

/// The JAAS login configuration property (`-Djava.security.auth.login.config=...` in
/// ZooKeeper; also a zoo.cfg key or a `-D` word in the JVM flag variables for Menagerie).
pub const JAAS_KEY: &str = "java.security.auth.login.config";

/// The file holding the secret mixed into session passwords (Menagerie only; see
/// `AuthConfig::session_password`).
pub const SESSION_SECRET_KEY: &str = "menagerie.sessionSecretFile";

/// Shortest session secret accepted.
pub const MIN_SESSION_SECRET: usize = 16;

/// A random number from the operating system (for SASL nonces).
pub fn random_u64() -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(std::time::SystemTime::now())
}

/// The `user_<name>="<password>"` options of the JAAS section `section`
/// (ZooKeeper: `DigestLoginModule` in the `Server` section).
pub fn jaas_users(text: &str, section: &str) -> Option<BTreeMap<String, String>> {
    // Strip comments, then find `section {` ... `};`.
    let mut clean = String::new();
    for line in text.lines() {
        let line = line.split("//").next().unwrap_or_default();
        clean.push_str(line);
        clean.push('\n');
    }
    let mut rest = clean.as_str();
    loop {
        let start = rest.find(section)?;
        let after = &rest[start + section.len()..];
        let before_ok = start == 0
            || !rest[..start]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_');
        let body = after.trim_start();
        if before_ok && body.starts_with('{') {
            let end = body.find('}')?;
            let body = &body[1..end];
            let mut users = BTreeMap::new();
            let mut s = body;
            while let Some(i) = s.find("user_") {
                s = &s[i + 5..];
                let Some(eq) = s.find('=') else { break };
                let name = s[..eq].trim().to_owned();
                let v = s[eq + 1..].trim_start();
                let (value, next) = match v.strip_prefix('"') {
                    Some(q) => match q.find('"') {
                        Some(e) => (q[..e].to_owned(), &q[e + 1..]),
                        None => break,
                    },
                    None => {
                        let e = v
                            .find(|c: char| c.is_whitespace() || c == ';')
                            .unwrap_or(v.len());
                        (v[..e].to_owned(), &v[e..])
                    }
                };
                users.insert(name, value);
                s = next;
            }
            return Some(users);
        }
        rest = after;
    }
}

/// Java's `Boolean.parseBoolean`: `true` in any case is true, anything else false.
fn java_bool(value: &str) -> bool {
    value.eq_ignore_ascii_case("true")
}

/// What the security keys configure.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecuritySettings {
    /// Super digest, skipACL, enforce.auth, SASL users and super users, the x509 super user.
    pub auth: AuthConfig,
    /// `enforceQuota`.
    pub enforce_quota: bool,
    /// `secureClientPortAddress`:`secureClientPort` with its TLS settings.
    pub secure_client: Option<(SocketAddr, TlsSettings)>,
    /// TLS of the admin server.
    pub admin_tls: Option<AdminTls>,
}

/// The security keys seen so far while reading a configuration.
#[derive(Debug, Default)]
pub struct SecurityKeys {
    super_digest: Option<String>,
    skip_acl: Option<bool>,
    enforce_auth: bool,
    enforce_schemes: Vec<String>,
    enforce_quota: bool,
    secure_port: Option<u16>,
    secure_addr: Option<IpAddr>,
    /// Other `ssl.*` keys, by name without the `zookeeper.` prefix.
    ssl: BTreeMap<String, String>,
    /// `ssl.quorum.*` keys (the AdminServer's TLS, as ZooKeeper 3.9's `QuorumX509Util`),
    /// by name without the `zookeeper.` prefix.
    ssl_quorum: BTreeMap<String, String>,
    /// `admin.portUnification`, `admin.forceHttps`, `admin.needClientAuth`.
    admin_tls: [bool; 3],
    x509_super_user: Option<String>,
    jaas: Option<String>,
    jaas_section: Option<String>,
    sasl_super_users: Vec<String>,
    require_sasl: bool,
    session_secret_file: Option<String>,
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
            "secureClientPort" => self.secure_port = value.parse().ok().or(Some(0)),
            "secureClientPortAddress" => {
                self.secure_addr = value.parse().ok();
                if self.secure_addr.is_none() {
                    self.ssl
                        .insert("!secureClientPortAddress".into(), value.into());
                }
            }
            "X509AuthenticationProvider.superUser" => {
                self.x509_super_user = (!value.is_empty()).then(|| value.to_owned())
            }
            JAAS_KEY => self.jaas = (!value.is_empty()).then(|| value.to_owned()),
            "sasl.serverconfig" => self.jaas_section = Some(value.to_owned()),
            "sessionRequireClientSASLAuth" => self.require_sasl = java_bool(value),
            SESSION_SECRET_KEY => {
                self.session_secret_file = (!value.is_empty()).then(|| value.to_owned())
            }
            k if k == "superUser" || k.starts_with("superUser.") => {
                self.sasl_super_users.push(value.to_owned())
            }
            k if k.starts_with("ssl.quorum.") => {
                self.ssl_quorum.insert(k.to_owned(), value.to_owned());
            }
            k if k.starts_with("ssl.") => {
                self.ssl.insert(k.to_owned(), value.to_owned());
            }
            "admin.portUnification" => self.admin_tls[0] = java_bool(value),
            "admin.forceHttps" => self.admin_tls[1] = java_bool(value),
            "admin.needClientAuth" => self.admin_tls[2] = java_bool(value),
            _ => return false,
        }
        true
    }

    /// Validates the keys and returns what they configure (ZooKeeper: `AuthenticationHelper`
    /// refuses to start when enforcement is on without a usable scheme).
    pub fn finish(mut self) -> Result<SecuritySettings, ConfigError> {
        // ZooKeeper: sessionRequireClientSASLAuth=true means enforcement with scheme sasl.
        if self.require_sasl {
            self.enforce_auth = true;
            self.enforce_schemes = vec!["sasl".into()];
        }
        let auth = AuthConfig {
            sasl_users: self.sasl_users()?,
            sasl_super_users: self.sasl_super_users.clone(),
            enforce_auth_schemes: self.enforced_schemes()?,
            super_digest: self.super_digest()?,
            skip_acl: self.skip_acl.unwrap_or(false),
            x509_super_user: self.x509_super_user.clone(),
            session_secret: self.session_secret()?,
            ..AuthConfig::default()
        };
        if auth.skip_acl {
            tracing::warn!("skipACL=yes: every ACL check is skipped");
        }
        let secure_client = self.secure_client()?;
        Ok(SecuritySettings {
            auth,
            enforce_quota: self.enforce_quota,
            secure_client,
            admin_tls: self.admin_tls()?,
        })
    }

    /// The SASL users of the JAAS file, if one is configured.
    fn sasl_users(&self) -> Result<BTreeMap<String, String>, ConfigError> {
        let Some(path) = &self.jaas else {
            return Ok(BTreeMap::new());
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| invalid(JAAS_KEY, path, format!("cannot read: {e}")))?;
        let section = self.jaas_section.as_deref().unwrap_or("Server");
        let Some(users) = jaas_users(&text, section) else {
            // As ZooKeeper: a JAAS file without the default `Server` section (one with only
            // the quorum sections, say) leaves client SASL off; a section named by
            // `zookeeper.sasl.serverconfig` must exist.
            if self.jaas_section.is_none() {
                tracing::info!(file = %path, "no 'Server' section in the JAAS file: client SASL is off");
                return Ok(BTreeMap::new());
            }
            return Err(invalid(
                JAAS_KEY,
                path,
                format!("no '{section} {{ ... }};' section (zookeeper.sasl.serverconfig)"),
            ));
        };
        if users.is_empty() {
            tracing::warn!(file = %path, "JAAS section has no user_<name> entries: SASL will refuse everyone");
        }
        Ok(users)
    }

    /// The session secret from `menagerie.sessionSecretFile`: the file's bytes without
    /// trailing whitespace, at least [`MIN_SESSION_SECRET`] of them.
    fn session_secret(&self) -> Result<Option<Vec<u8>>, ConfigError> {
        let Some(path) = &self.session_secret_file else {
            return Ok(None);
        };
        let mut secret = std::fs::read(path)
            .map_err(|e| invalid(SESSION_SECRET_KEY, path, format!("cannot read: {e}")))?;
        while secret.last().is_some_and(u8::is_ascii_whitespace) {
            secret.pop();
        }
        if secret.len() < MIN_SESSION_SECRET {
            return Err(invalid(
                SESSION_SECRET_KEY,
                path,
                format!("the secret must be at least {MIN_SESSION_SECRET} bytes"),
            ));
        }
        tracing::info!(file = %path, "session passwords mix in the session secret (every member of the ensemble must be a Menagerie with the same secret)");
        Ok(Some(secret))
    }

    /// The schemes `enforce.auth` requires (none when it is off); each must be available.
    fn enforced_schemes(&self) -> Result<Vec<String>, ConfigError> {
        if !self.enforce_auth {
            return Ok(Vec::new());
        }
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
        Ok(self.enforce_schemes.clone())
    }

    /// The super digest, which must look like `super:<digest>`.
    fn super_digest(&self) -> Result<Option<String>, ConfigError> {
        if let Some(d) = &self.super_digest
            && d.split(':').count() != 2
        {
            return Err(invalid(
                "DigestAuthenticationProvider.superDigest",
                d,
                "expected super:<base64 sha1 digest>",
            ));
        }
        Ok(self.super_digest.clone())
    }

    /// The secure client port's address and TLS settings, if `secureClientPort` is set.
    fn secure_client(&self) -> Result<Option<(SocketAddr, TlsSettings)>, ConfigError> {
        if let Some(bad) = self.ssl.get("!secureClientPortAddress") {
            return Err(invalid("secureClientPortAddress", bad, "not an IP address"));
        }
        let Some(port) = self.secure_port else {
            return Ok(None);
        };
        if port == 0 {
            return Err(invalid(
                "secureClientPort",
                &port.to_string(),
                "must be a port between 1 and 65535",
            ));
        }
        let addr = SocketAddr::new(self.secure_addr.unwrap_or(IpAddr::from([0, 0, 0, 0])), port);
        let keys = TlsKeys {
            keys: &self.ssl,
            prefix: "ssl.",
        };
        let settings = keys.settings(("secureClientPort", &port.to_string()), None)?;
        Ok(Some((addr, settings)))
    }

    /// The admin server's TLS (ZooKeeper 3.9's AdminServer: `admin.portUnification` or
    /// `admin.forceHttps` with the `ssl.quorum.*` stores; client certificates required with
    /// `admin.needClientAuth`, otherwise verified when offered and a trust store is given).
    fn admin_tls(&self) -> Result<Option<AdminTls>, ConfigError> {
        let [unify, force, need] = self.admin_tls;
        if !unify && !force {
            return Ok(None);
        }
        let key = if force {
            "admin.forceHttps"
        } else {
            "admin.portUnification"
        };
        let auth = if need {
            ClientAuth::Need
        } else {
            ClientAuth::Want
        };
        let keys = TlsKeys {
            keys: &self.ssl_quorum,
            prefix: "ssl.quorum.",
        };
        Ok(Some(AdminTls {
            settings: keys.settings((key, "true"), Some(auth))?,
            port_unification: unify && !force,
        }))
    }
}

/// The TLS keys under one prefix (`ssl.` for the secure client port, `ssl.quorum.` for the
/// admin server), by full name without the `zookeeper.` prefix.
struct TlsKeys<'a> {
    keys: &'a BTreeMap<String, String>,
    prefix: &'static str,
}

impl TlsKeys<'_> {
    fn name(&self, short: &str) -> String {
        format!("{}{short}", self.prefix)
    }

    /// A non-empty value.
    fn get(&self, short: &str) -> Option<&str> {
        self.keys
            .get(&self.name(short))
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A comma-separated list.
    fn list(&self, short: &str) -> Vec<String> {
        self.get(short)
            .map(|v| {
                v.split(',')
                    .map(|p| p.trim().to_owned())
                    .filter(|p| !p.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The TLS settings (ZooKeeper's names, PEM stores only, or Menagerie's `certFile` /
    /// `keyFile` / `caFile`). `needed_by` is the key and value that asked for TLS (named in
    /// errors); `client_auth` replaces `<prefix>clientAuth` (the admin server's rule).
    fn settings(
        &self,
        needed_by: (&str, &str),
        client_auth: Option<ClientAuth>,
    ) -> Result<TlsSettings, ConfigError> {
        self.check_store_types()?;
        let key_store = self.get("keyStore.location");
        let cert = self.get("certFile").or(key_store).ok_or_else(|| {
            invalid(
                needed_by.0,
                needed_by.1,
                format!(
                    "needs {0}keyStore.location (PEM) or {0}certFile and {0}keyFile",
                    self.prefix
                ),
            )
        })?;
        let key = self.get("keyFile").or(key_store).unwrap_or(cert);
        let ca = self.get("caFile").or(self.get("trustStore.location"));
        let client_auth = match client_auth {
            // Nothing to verify a certificate against: do not ask for one.
            Some(ClientAuth::Want) if ca.is_none() => ClientAuth::None,
            Some(a) => a,
            None => self.client_auth()?,
        };
        self.warn_unused();
        let mut protocols = self.list("enabledProtocols");
        if protocols.is_empty() {
            protocols = self.list("protocol");
        }
        Ok(TlsSettings {
            cert_file: PathBuf::from(cert),
            key_file: PathBuf::from(key),
            ca_file: ca.map(PathBuf::from),
            client_auth,
            protocols,
            ciphersuites: self.list("ciphersuites"),
        })
    }

    /// Key and trust stores must be PEM (ZooKeeper guesses the type from the extension when
    /// it is not given).
    fn check_store_types(&self) -> Result<(), ConfigError> {
        for (loc, ty) in [
            ("keyStore.location", "keyStore.type"),
            ("trustStore.location", "trustStore.type"),
        ] {
            let Some(path) = self.get(loc) else {
                continue;
            };
            let kind = self
                .get(ty)
                .map(str::to_ascii_uppercase)
                .unwrap_or_else(|| {
                    if path.ends_with(".pem") {
                        "PEM".into()
                    } else {
                        "JKS".into()
                    }
                });
            if kind != "PEM" {
                return Err(invalid(
                    &self.name(ty),
                    &kind,
                    format!("only PEM stores are supported ({}={path})", self.name(loc)),
                ));
            }
        }
        Ok(())
    }

    /// `<prefix>clientAuth`: need (the default), want or none.
    fn client_auth(&self) -> Result<ClientAuth, ConfigError> {
        match self
            .get("clientAuth")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("need") => Ok(ClientAuth::Need),
            Some("want") => Ok(ClientAuth::Want),
            Some("none") => Ok(ClientAuth::None),
            Some(other) => Err(invalid(
                &self.name("clientAuth"),
                other,
                "expected need, want or none",
            )),
        }
    }

    /// Logs the keys ZooKeeper knows that Menagerie does not use.
    fn warn_unused(&self) {
        for k in self.keys.keys() {
            let short = k.strip_prefix(self.prefix).unwrap_or(k);
            if !USED_SSL_KEYS.contains(&short) && !k.starts_with('!') {
                tracing::warn!(key = %k, "TLS setting accepted but not used by Menagerie");
            }
        }
    }
}

/// The TLS keys Menagerie reads (after the prefix).
const USED_SSL_KEYS: [&str; 13] = [
    "keyStore.location",
    "keyStore.type",
    "keyStore.password",
    "trustStore.location",
    "trustStore.type",
    "trustStore.password",
    "certFile",
    "keyFile",
    "caFile",
    "clientAuth",
    "protocol",
    "enabledProtocols",
    "ciphersuites",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::properties::parse_properties;

    /// What the security keys of a zoo.cfg `text` configure (other keys are left alone, as
    /// `ServerConfig::from_properties` leaves them to the other parsers).
    fn load(text: &str) -> Result<SecuritySettings, ConfigError> {
        let mut keys = SecurityKeys::default();
        for (k, v) in parse_properties(text) {
            keys.take(&k, v.trim());
        }
        keys.finish()
    }

    #[test]
    fn session_secret_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let good = dir.path().join("good");
        std::fs::write(&good, "0123456789abcdef\n").expect("write");
        let c = load(&format!("menagerie.sessionSecretFile={}\n", good.display())).expect("ok");
        assert_eq!(
            c.auth.session_secret.as_deref(),
            Some(&b"0123456789abcdef"[..])
        );
        assert_eq!(load("").expect("ok").auth.session_secret, None);
        let short = dir.path().join("short");
        std::fs::write(&short, "tiny\n").expect("write");
        for path in [short, dir.path().join("missing")] {
            let err = load(&format!("menagerie.sessionSecretFile={}\n", path.display()))
                .expect_err("refused");
            assert!(err.to_string().contains(SESSION_SECRET_KEY), "{err}");
        }
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
        for key in [
            "zookeeper.DigestAuthenticationProvider.superDigest",
            "skipACL",
            "zookeeper.skipACL",
            "enforceQuota",
            "zookeeper.enforceQuota",
        ] {
            assert!(SecurityKeys::default().take(key, "yes"), "{key}");
        }
        // The quorum stores are the admin server's TLS (ZooKeeper 3.9's AdminServer).
        assert!(SecurityKeys::default().take("ssl.quorum.keyStore.location", "q.jks"));
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
    fn admin_tls_keys_are_zookeeper_3_9s() {
        let c = load(
            "admin.portUnification=true\nssl.quorum.keyStore.location=/q/server.pem\n\
             ssl.quorum.keyStore.type=PEM\nssl.quorum.trustStore.location=/q/ca.pem\n\
             ssl.quorum.enabledProtocols=TLSv1.3\nssl.keyStore.location=/client.pem\n",
        )
        .expect("valid");
        let t = c.admin_tls.expect("admin TLS");
        assert!(t.port_unification);
        assert_eq!(t.settings.cert_file, PathBuf::from("/q/server.pem"));
        assert_eq!(t.settings.ca_file, Some(PathBuf::from("/q/ca.pem")));
        assert_eq!(t.settings.client_auth, ClientAuth::Want);
        assert_eq!(t.settings.protocols, vec!["TLSv1.3"]);
        let c = load(
            "zookeeper.admin.forceHttps=true\nadmin.needClientAuth=true\n\
             ssl.quorum.keyStore.location=/q/server.pem\nssl.quorum.trustStore.location=/q/ca.pem\n",
        )
        .expect("valid");
        let t = c.admin_tls.expect("admin TLS");
        assert!(!t.port_unification);
        assert_eq!(t.settings.client_auth, ClientAuth::Need);
        // Without a trust store, no client certificates are asked for.
        let c =
            load("admin.forceHttps=true\nssl.quorum.certFile=c.pem\nssl.quorum.keyFile=k.pem\n")
                .expect("valid");
        assert_eq!(
            c.admin_tls.expect("tls").settings.client_auth,
            ClientAuth::None
        );
        let e = load("admin.portUnification=true\n").expect_err("no key store");
        assert!(
            e.to_string().contains("ssl.quorum.keyStore.location"),
            "{e}"
        );
        let e =
            load("admin.forceHttps=true\nssl.quorum.keyStore.location=k.jks\n").expect_err("JKS");
        assert!(e.to_string().contains("ssl.quorum.keyStore.type"), "{e}");
        assert_eq!(load("").expect("valid").admin_tls, None);
    }

    #[test]
    fn secure_port_keys() {
        let c = load(
            "secureClientPort=2281\nssl.keyStore.location=/k/server.pem\nssl.keyStore.type=PEM\n\
             zookeeper.ssl.trustStore.location=/k/ca.pem\nssl.clientAuth=want\n\
             ssl.enabledProtocols=TLSv1.3\nssl.quorum.keyStore.location=/q.jks\n",
        )
        .expect("valid");
        let (addr, tls) = c.secure_client.expect("secure port");
        assert_eq!(addr.to_string(), "0.0.0.0:2281");
        assert_eq!(tls.cert_file, PathBuf::from("/k/server.pem"));
        assert_eq!(tls.key_file, PathBuf::from("/k/server.pem"));
        assert_eq!(tls.ca_file, Some(PathBuf::from("/k/ca.pem")));
        assert_eq!(tls.client_auth, ClientAuth::Want);
        assert_eq!(tls.protocols, vec!["TLSv1.3"]);
        let c = load(
            "secureClientPort=2281\nsecureClientPortAddress=127.0.0.1\nssl.certFile=c.pem\n\
             ssl.keyFile=k.pem\nssl.caFile=ca.pem\n",
        )
        .expect("valid");
        let (addr, tls) = c.secure_client.expect("secure port");
        assert_eq!(addr.to_string(), "127.0.0.1:2281");
        assert_eq!(tls.key_file, PathBuf::from("k.pem"));
        assert_eq!(tls.client_auth, ClientAuth::Need);
        assert!(load("secureClientPort=2281\n").is_err(), "no certificate");
        assert!(load("secureClientPort=2281\nssl.keyStore.location=k.jks\n").is_err());
        assert!(load("secureClientPort=2281\nssl.certFile=c\nssl.clientAuth=maybe\n").is_err());
        assert!(
            load("ssl.keyStore.location=k.pem\n")
                .expect("ok")
                .secure_client
                .is_none()
        );
    }

    #[test]
    fn jaas_server_section() {
        let text = r#"
            // comment user_nobody="x"
            Client { org.apache.zookeeper.server.auth.DigestLoginModule required
                username="bob" password="pw"; };
            Server {
                org.apache.zookeeper.server.auth.DigestLoginModule required
                user_super="adminsecret"
                user_bob="bob pw;1";
            };
        "#;
        let users = jaas_users(text, "Server").expect("section");
        assert_eq!(users.len(), 2, "{users:?}");
        assert_eq!(users["bob"], "bob pw;1");
        assert_eq!(users["super"], "adminsecret");
        assert!(jaas_users(text, "Nope").is_none());
        assert!(jaas_users(text, "Client").expect("client").is_empty());
        let dir = tempfile::tempdir().expect("dir");
        let f = dir.path().join("jaas.conf");
        std::fs::write(&f, text).expect("write");
        let c = load(&format!("{JAAS_KEY}={}\nsuperUser=bob\n", f.display())).expect("ok");
        assert_eq!(c.auth.sasl_users.len(), 2);
        assert_eq!(c.auth.sasl_super_users, vec!["bob"]);
        let c = load(&format!(
            "{JAAS_KEY}={}\nsessionRequireClientSASLAuth=true\n",
            f.display()
        ))
        .expect("ok");
        assert_eq!(c.auth.enforce_auth_schemes, vec!["sasl"]);
        assert!(load("java.security.auth.login.config=/nonexistent/jaas\n").is_err());
    }
}
