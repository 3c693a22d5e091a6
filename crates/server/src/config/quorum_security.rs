//! The ensemble's security keys: quorum TLS (`sslQuorum`, `portUnification`,
//! `ssl.quorum.*`) and quorum SASL (`quorum.auth.*` with the JAAS `QuorumServer` and
//! `QuorumLearner` sections), checked as ZooKeeper 3.8's `QuorumPeerConfig` checks them.
//!
//! Key and trust stores are PEM files (ZooKeeper's `ssl.quorum.keyStore.type=PEM`: the key
//! store holds the private key and the certificate chain, the trust store the CA
//! certificates). JKS, PKCS12 and BCFKS stores, encrypted keys and Kerberos are refused at
//! startup with the key that names them. The `ssl.quorum.*` keys are accepted with or
//! without the `zookeeper.` prefix, as system properties or zoo.cfg lines.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::error::{ConfigError, invalid};
use super::values::boolean;
use crate::tls::ClientAuth;

/// TLS between members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumTlsSettings {
    /// `ssl.quorum.keyStore.location`: PEM with the private key and certificate chain.
    pub key_store: PathBuf,
    /// `ssl.quorum.trustStore.location`: PEM with the CA certificates peers chain to.
    pub trust_store: PathBuf,
    /// `ssl.quorum.hostnameVerification` (default true): a peer's certificate must name
    /// its address, on both sides of a connection.
    pub hostname_verification: bool,
    /// `ssl.quorum.clientAuth` (default need): whether a dialling member must present a
    /// certificate.
    pub client_auth: ClientAuth,
    /// `ssl.quorum.enabledProtocols` or `ssl.quorum.protocol` (default TLSv1.2 and
    /// TLSv1.3).
    pub protocols: Vec<String>,
    /// `ssl.quorum.ciphersuites` (IANA names; empty: rustls' defaults).
    pub ciphersuites: Vec<String>,
}

/// SASL DIGEST-MD5 between members.
#[derive(Clone, PartialEq, Eq)]
pub struct QuorumSaslSettings {
    /// `quorum.auth.learnerRequireSasl`: this member authenticates when it dials.
    pub learner_require: bool,
    /// `quorum.auth.serverRequireSasl`: members that dial this one must authenticate.
    pub server_require: bool,
    /// The learner's `username` and `password` (JAAS `QuorumLearner` section).
    pub learner: (String, String),
    /// The users learners may authenticate as (JAAS `QuorumServer`, `user_<name>`).
    pub server_users: BTreeMap<String, String>,
}

impl std::fmt::Debug for QuorumSaslSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuorumSaslSettings")
            .field("learner_require", &self.learner_require)
            .field("server_require", &self.server_require)
            .field("learner", &self.learner.0)
            .field(
                "server_users",
                &self.server_users.keys().collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// What the ensemble's security keys configure (all off by default, as in ZooKeeper).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuorumSecurity {
    /// `sslQuorum`: dial other members with TLS and accept only TLS.
    pub ssl_quorum: bool,
    /// `portUnification`: accept TLS and plaintext on the quorum and election ports.
    pub port_unification: bool,
    /// The TLS material, when a key store is configured.
    pub tls: Option<QuorumTlsSettings>,
    /// Quorum SASL, when `quorum.auth.enableSasl=true`.
    pub sasl: Option<QuorumSaslSettings>,
}

/// The `ssl.quorum.*` keys read; other ones ZooKeeper knows are accepted with a warning.
const TLS_KEYS: &[&str] = &[
    "keyStore.location",
    "keyStore.password",
    "keyStore.passwordPath",
    "keyStore.type",
    "trustStore.location",
    "trustStore.password",
    "trustStore.passwordPath",
    "trustStore.type",
    "hostnameVerification",
    "clientAuth",
    "protocol",
    "enabledProtocols",
    "ciphersuites",
];

/// The `quorum.auth.*` keys read (`kerberos.servicePrincipal` only matters for GSSAPI).
const AUTH_KEYS: &[&str] = &[
    "enableSasl",
    "learnerRequireSasl",
    "serverRequireSasl",
    "learner.saslLoginContext",
    "server.saslLoginContext",
];

/// The ensemble's security keys seen so far.
#[derive(Debug, Default)]
pub struct QuorumSecurityKeys {
    ssl_quorum: Option<String>,
    port_unification: Option<String>,
    /// `ssl.quorum.<name>` values by `<name>`.
    tls: BTreeMap<String, String>,
    /// `quorum.auth.<name>` values by `<name>`.
    auth: BTreeMap<String, String>,
}

impl QuorumSecurityKeys {
    /// Takes `key` if it is one of the ensemble's security keys.
    pub fn take(&mut self, key: &str, value: &str) -> bool {
        let short = key.strip_prefix("zookeeper.").unwrap_or(key);
        if let Some(name) = short.strip_prefix("ssl.quorum.") {
            self.tls.insert(name.to_owned(), value.to_owned());
        } else if let Some(name) = key.strip_prefix("quorum.auth.") {
            self.auth.insert(name.to_owned(), value.to_owned());
        } else {
            match short {
                "sslQuorum" => self.ssl_quorum = Some(value.to_owned()),
                "portUnification" => self.port_unification = Some(value.to_owned()),
                "sslQuorumReloadCertFiles" => {
                    if value.eq_ignore_ascii_case("true") {
                        tracing::warn!(
                            "sslQuorumReloadCertFiles: certificate files are read at startup only"
                        );
                    }
                }
                _ => return false,
            }
        }
        true
    }

    /// Validates the keys; `jaas` is the JAAS file (`java.security.auth.login.config`).
    pub fn finish(self, jaas: Option<&str>) -> Result<QuorumSecurity, ConfigError> {
        let flag = |key: &str, v: &Option<String>| match v {
            Some(v) => boolean(key, v),
            None => Ok(false),
        };
        let ssl_quorum = flag("sslQuorum", &self.ssl_quorum)?;
        let port_unification = flag("portUnification", &self.port_unification)?;
        let tls = if ssl_quorum || self.tls.contains_key("keyStore.location") {
            Some(self.tls_settings()?)
        } else {
            None
        };
        if port_unification && tls.is_none() {
            tracing::warn!(
                "portUnification=true without ssl.quorum.keyStore.location: TLS connections from members will be refused"
            );
        }
        Ok(QuorumSecurity {
            ssl_quorum,
            port_unification,
            tls,
            sasl: self.sasl_settings(jaas)?,
        })
    }

    fn tls_value(&self, name: &str) -> Option<&str> {
        self.tls
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    fn tls_list(&self, name: &str) -> Vec<String> {
        self.tls_value(name)
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn tls_settings(&self) -> Result<QuorumTlsSettings, ConfigError> {
        for name in self.tls.keys() {
            if !TLS_KEYS.contains(&name.as_str()) {
                tracing::warn!(key = %format!("ssl.quorum.{name}"), "not used by Menagerie; ignored");
            }
        }
        let key_store = self.store("keyStore")?;
        let trust_store = self.store("trustStore")?;
        let hostname_verification = match self.tls_value("hostnameVerification") {
            Some(v) => boolean("ssl.quorum.hostnameVerification", v)?,
            None => true,
        };
        let client_auth = match self
            .tls_value("clientAuth")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("need") => ClientAuth::Need,
            Some("want") => ClientAuth::Want,
            Some("none") => ClientAuth::None,
            Some(other) => {
                return Err(invalid(
                    "ssl.quorum.clientAuth",
                    other,
                    "expected need, want or none",
                ));
            }
        };
        let mut protocols = self.tls_list("enabledProtocols");
        if protocols.is_empty() {
            protocols = self.tls_list("protocol");
        }
        let settings = QuorumTlsSettings {
            key_store,
            trust_store,
            hostname_verification,
            client_auth,
            protocols,
            ciphersuites: self.tls_list("ciphersuites"),
        };
        crate::quorum::tls::QuorumTls::new(&settings)
            .map_err(|e| invalid(e.key, &e.value, e.reason))?;
        Ok(settings)
    }

    /// `ssl.quorum.<store>.location`, which must be a PEM store.
    fn store(&self, store: &str) -> Result<PathBuf, ConfigError> {
        let key = format!("ssl.quorum.{store}.location");
        let path = self
            .tls_value(&format!("{store}.location"))
            .ok_or_else(|| invalid(&key, "", "sslQuorum=true needs it (a PEM file)"))?;
        let ty = match self.tls_value(&format!("{store}.type")) {
            Some(t) => t.to_ascii_uppercase(),
            None => type_from_extension(path),
        };
        if ty != "PEM" {
            let type_key = format!("ssl.quorum.{store}.type");
            return Err(invalid(
                &key,
                path,
                format!(
                    "{ty} stores are not supported; convert it to PEM (key and certificates in one file) and set {type_key}=PEM"
                ),
            ));
        }
        Ok(PathBuf::from(path))
    }

    fn auth_flag(&self, name: &str) -> Result<bool, ConfigError> {
        match self.auth.get(name) {
            Some(v) => boolean(&format!("quorum.auth.{name}"), v),
            None => Ok(false),
        }
    }

    fn sasl_settings(&self, jaas: Option<&str>) -> Result<Option<QuorumSaslSettings>, ConfigError> {
        for name in self.auth.keys() {
            if !AUTH_KEYS.contains(&name.as_str()) {
                tracing::warn!(key = %format!("quorum.auth.{name}"), "not used by Menagerie; ignored");
            }
        }
        let enabled = self.auth_flag("enableSasl")?;
        let learner_require = self.auth_flag("learnerRequireSasl")?;
        let server_require = self.auth_flag("serverRequireSasl")?;
        // ZooKeeper's QuorumPeerConfig refuses these combinations.
        if !enabled && (learner_require || server_require) {
            let key = if server_require {
                "quorum.auth.serverRequireSasl"
            } else {
                "quorum.auth.learnerRequireSasl"
            };
            return Err(invalid(
                key,
                "true",
                "quorum.auth.enableSasl is disabled, so it cannot be enabled",
            ));
        }
        if server_require && !learner_require {
            return Err(invalid(
                "quorum.auth.serverRequireSasl",
                "true",
                "quorum.auth.learnerRequireSasl is disabled, so it cannot be enabled",
            ));
        }
        if !enabled {
            return Ok(None);
        }
        let path = jaas.filter(|p| !p.is_empty()).ok_or_else(|| {
            invalid(
                "quorum.auth.enableSasl",
                "true",
                "needs a JAAS file (java.security.auth.login.config) with QuorumServer and QuorumLearner sections",
            )
        })?;
        let text = std::fs::read_to_string(path).map_err(|e| {
            invalid(
                crate::security_config::JAAS_KEY,
                path,
                format!("cannot read: {e}"),
            )
        })?;
        let section = |name: &str, default: &str| self.jaas_options(&text, path, name, default);
        let server = section("server.saslLoginContext", "QuorumServer")?;
        let learner = section("learner.saslLoginContext", "QuorumLearner")?;
        let server_users: BTreeMap<String, String> = server
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix("user_")?.to_owned(), v.clone())))
            .collect();
        let (Some(user), Some(password)) = (learner.get("username"), learner.get("password"))
        else {
            return Err(invalid(
                "quorum.auth.learner.saslLoginContext",
                self.auth
                    .get("learner.saslLoginContext")
                    .map_or("QuorumLearner", String::as_str),
                "the JAAS section needs username=\"...\" and password=\"...\"",
            ));
        };
        if server_users.is_empty() {
            tracing::warn!(file = %path, "the JAAS quorum server section has no user_<name> entries: every learner will be refused");
        }
        Ok(Some(QuorumSaslSettings {
            learner_require,
            server_require,
            learner: (user.clone(), password.clone()),
            server_users,
        }))
    }

    /// The options of the JAAS section `quorum.auth.<name>` names (or `default`), from
    /// the file `path` holding `text`; a DIGEST-MD5 section only.
    fn jaas_options(
        &self,
        text: &str,
        path: &str,
        name: &str,
        default: &str,
    ) -> Result<BTreeMap<String, String>, ConfigError> {
        let key = format!("quorum.auth.{name}");
        let wanted = self.auth.get(name).map_or(default, |s| s.trim());
        let section = jaas_section(text, wanted).ok_or_else(|| {
            invalid(
                &key,
                wanted,
                format!("no '{wanted} {{ ... }};' section in the JAAS file {path}"),
            )
        })?;
        if section.module.contains("Krb5LoginModule") {
            return Err(invalid(
                &key,
                wanted,
                "Kerberos (GSSAPI) quorum authentication is not supported; use DigestLoginModule",
            ));
        }
        Ok(section.values)
    }
}

/// Java's `KeyStoreFileType.fromFilename`: the type a store's file name implies.
fn type_from_extension(path: &str) -> String {
    let ext = Path::new(path)
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    match ext.as_deref() {
        Some("jks") => "JKS".into(),
        Some("p12" | "pkcs12" | "pfx") => "PKCS12".into(),
        Some("bcfks") => "BCFKS".into(),
        // `.pem` and anything else is read as PEM (a wrong file fails to load, naming it).
        _ => "PEM".into(),
    }
}

/// One JAAS section: its login module and its `name=value` options.
#[derive(Debug, Default)]
struct JaasSection {
    module: String,
    values: BTreeMap<String, String>,
}

/// The section `name { module flag key="value" ...; };` of a JAAS file.
fn jaas_section(text: &str, name: &str) -> Option<JaasSection> {
    let clean: String = text
        .lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    let mut rest = clean.as_str();
    let body = loop {
        let start = rest.find(name)?;
        let before_ok = !rest[..start]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        let after = rest[start + name.len()..].trim_start();
        if before_ok && let Some(b) = after.strip_prefix('{') {
            break &b[..b.find('}')?];
        }
        rest = &rest[start + name.len()..];
    };
    let mut section = JaasSection::default();
    let mut words = body.trim_start();
    let module_end = words.find(char::is_whitespace).unwrap_or(words.len());
    section.module = words[..module_end].to_owned();
    words = &words[module_end..];
    while let Some(eq) = words.find('=') {
        let key = words[..eq]
            .split_whitespace()
            .last()
            .unwrap_or_default()
            .to_owned();
        let v = words[eq + 1..].trim_start();
        let (value, next) = match v.strip_prefix('"') {
            Some(q) => {
                let e = q.find('"')?;
                (q[..e].to_owned(), &q[e + 1..])
            }
            None => {
                let e = v
                    .find(|c: char| c.is_whitespace() || c == ';')
                    .unwrap_or(v.len());
                (v[..e].to_owned(), &v[e..])
            }
        };
        section.values.insert(key, value);
        words = next;
    }
    Some(section)
}

#[cfg(test)]
mod tests {
    use super::*;

    const JAAS: &str = r#"
QuorumServer {
       org.apache.zookeeper.server.auth.DigestLoginModule required
       user_test="test pw";
};
// QuorumLearner { nothing here };
QuorumLearner {
       org.apache.zookeeper.server.auth.DigestLoginModule required
       username="test"
       password="test pw";
};
Kerb {
       com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true;
};
"#;

    fn keys(lines: &[(&str, &str)]) -> QuorumSecurityKeys {
        let mut k = QuorumSecurityKeys::default();
        for (key, value) in lines {
            assert!(k.take(key, value), "{key}");
        }
        k
    }

    fn error_key(r: Result<QuorumSecurity, ConfigError>) -> String {
        match r {
            Err(ConfigError::Invalid { key, .. }) => key,
            other => panic!("expected an invalid key, got {other:?}"),
        }
    }

    #[test]
    fn off_by_default_and_other_keys_left() {
        let mut k = QuorumSecurityKeys::default();
        assert!(!k.take("ssl.keyStore.location", "x"));
        assert!(!k.take("clientPort", "1"));
        assert_eq!(k.finish(None).expect("ok"), QuorumSecurity::default());
    }

    #[test]
    fn jaas_sections_give_users_and_credentials() {
        let dir = tempfile::tempdir().expect("dir");
        let jaas = dir.path().join("jaas.conf");
        std::fs::write(&jaas, JAAS).expect("write");
        let jaas = jaas.to_str().expect("utf8");
        let s = keys(&[
            ("quorum.auth.enableSasl", "true"),
            ("quorum.auth.learnerRequireSasl", "true"),
            ("quorum.auth.serverRequireSasl", "true"),
        ])
        .finish(Some(jaas))
        .expect("valid");
        let sasl = s.sasl.expect("sasl");
        assert_eq!(sasl.learner, ("test".into(), "test pw".into()));
        assert_eq!(
            sasl.server_users.get("test").map(String::as_str),
            Some("test pw")
        );
        assert!(sasl.learner_require && sasl.server_require);
        assert!(!format!("{sasl:?}").contains("test pw"));

        // Named sections that are missing, Kerberos, and ZooKeeper's refused combinations.
        let bad = |lines: &[(&str, &str)]| error_key(keys(lines).finish(Some(jaas)));
        let on = ("quorum.auth.enableSasl", "true");
        assert_eq!(
            bad(&[on, ("quorum.auth.server.saslLoginContext", "Nope")]),
            "quorum.auth.server.saslLoginContext"
        );
        assert_eq!(
            bad(&[on, ("quorum.auth.learner.saslLoginContext", "Kerb")]),
            "quorum.auth.learner.saslLoginContext"
        );
        assert_eq!(
            bad(&[on, ("quorum.auth.learner.saslLoginContext", "QuorumServer")]),
            "quorum.auth.learner.saslLoginContext"
        );
        assert_eq!(
            bad(&[("quorum.auth.serverRequireSasl", "true")]),
            "quorum.auth.serverRequireSasl"
        );
        assert_eq!(
            bad(&[("quorum.auth.learnerRequireSasl", "true")]),
            "quorum.auth.learnerRequireSasl"
        );
        assert_eq!(
            bad(&[on, ("quorum.auth.serverRequireSasl", "true")]),
            "quorum.auth.serverRequireSasl"
        );
        assert_eq!(
            bad(&[("quorum.auth.enableSasl", "sure")]),
            "quorum.auth.enableSasl"
        );
        assert_eq!(
            error_key(keys(&[on]).finish(None)),
            "quorum.auth.enableSasl"
        );
        assert_eq!(
            error_key(keys(&[on]).finish(Some("/nonexistent/jaas.conf"))),
            crate::security_config::JAAS_KEY
        );
    }

    #[test]
    fn tls_stores_must_be_pem_and_present() {
        let bad = |lines: &[(&str, &str)]| error_key(keys(lines).finish(None));
        assert_eq!(
            bad(&[("sslQuorum", "true")]),
            "ssl.quorum.keyStore.location"
        );
        assert_eq!(
            bad(&[
                ("sslQuorum", "true"),
                ("ssl.quorum.keyStore.location", "/k/server.jks"),
            ]),
            "ssl.quorum.keyStore.location"
        );
        assert_eq!(
            bad(&[
                ("sslQuorum", "true"),
                ("zookeeper.ssl.quorum.keyStore.location", "/k/server.pem"),
                ("zookeeper.ssl.quorum.keyStore.type", "PKCS12"),
            ]),
            "ssl.quorum.keyStore.location"
        );
        assert_eq!(
            bad(&[
                ("sslQuorum", "true"),
                ("ssl.quorum.keyStore.location", "/k/server.pem"),
            ]),
            "ssl.quorum.trustStore.location"
        );
        assert_eq!(
            bad(&[
                ("sslQuorum", "true"),
                ("ssl.quorum.keyStore.location", "/k/server.pem"),
                ("ssl.quorum.trustStore.location", "/k/ca.p12"),
            ]),
            "ssl.quorum.trustStore.location"
        );
        assert_eq!(bad(&[("sslQuorum", "maybe")]), "sslQuorum");
        assert_eq!(bad(&[("portUnification", "2")]), "portUnification");
    }

    #[test]
    fn pem_stores_are_loaded_and_unusable_ones_named() {
        let dir = tempfile::tempdir().expect("dir");
        let path = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
        let key = rcgen::KeyPair::generate().expect("key");
        let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).expect("params");
        let cert = params.self_signed(&key).expect("cert");
        std::fs::write(
            path("ks.pem"),
            format!("{}{}", key.serialize_pem(), cert.pem()),
        )
        .expect("ks");
        std::fs::write(path("ca.pem"), cert.pem()).expect("ca");
        std::fs::write(path("cert-only.pem"), cert.pem()).expect("cert only");
        std::fs::write(path("garbage.pem"), "not PEM at all\n").expect("garbage");
        let encrypted = format!(
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIBvTBXBgkqhkiG9w0BBQ0wSjApBgkqhkiG9w0BBQwwHAQI\n-----END ENCRYPTED PRIVATE KEY-----\n{}",
            cert.pem()
        );
        std::fs::write(path("encrypted.pem"), encrypted).expect("encrypted");
        let with = |ks: &str, ts: &str, more: &[(&str, &str)]| {
            let (ks, ts) = (path(ks), path(ts));
            let mut lines = vec![
                ("sslQuorum", "true"),
                ("ssl.quorum.keyStore.location", ks.as_str()),
                ("ssl.quorum.trustStore.location", ts.as_str()),
            ];
            lines.extend_from_slice(more);
            keys(&lines).finish(None)
        };
        let ok = with("ks.pem", "ca.pem", &[]).expect("valid stores");
        let tls = ok.tls.expect("tls");
        assert!(ok.ssl_quorum && !ok.port_unification);
        assert!(tls.hostname_verification);
        assert_eq!(tls.client_auth, ClientAuth::Need);
        let off = with(
            "ks.pem",
            "ca.pem",
            &[
                ("ssl.quorum.hostnameVerification", "false"),
                ("ssl.quorum.clientAuth", "want"),
            ],
        )
        .expect("valid");
        let tls = off.tls.expect("tls");
        assert!(!tls.hostname_verification);
        assert_eq!(tls.client_auth, ClientAuth::Want);

        let key_of = |r| error_key(r);
        assert_eq!(
            key_of(with("cert-only.pem", "ca.pem", &[])),
            "ssl.quorum.keyStore.location"
        );
        assert_eq!(
            key_of(with("encrypted.pem", "ca.pem", &[])),
            "ssl.quorum.keyStore.location"
        );
        assert_eq!(
            key_of(with("ks.pem", "garbage.pem", &[])),
            "ssl.quorum.trustStore.location"
        );
        assert_eq!(
            key_of(with(
                "ks.pem",
                "ca.pem",
                &[("ssl.quorum.clientAuth", "maybe")]
            )),
            "ssl.quorum.clientAuth"
        );
        assert_eq!(
            key_of(with(
                "ks.pem",
                "ca.pem",
                &[("ssl.quorum.hostnameVerification", "perhaps")]
            )),
            "ssl.quorum.hostnameVerification"
        );
        assert_eq!(
            key_of(with(
                "ks.pem",
                "ca.pem",
                &[("ssl.quorum.enabledProtocols", "SSLv3")]
            )),
            "ssl.quorum.enabledProtocols"
        );
    }
}
