//! TLS and SASL settings of a client, read as ZooKeeper's Java client reads them: from a
//! `-client-configuration` properties file (`ZKClientConfig`) and from `-D` words in the
//! `CLIENT_JVMFLAGS` / `JVMFLAGS` environment variables (the file wins).
//!
//! * TLS: `zookeeper.client.secure=true`; `zookeeper.ssl.keyStore.location` (PEM with the
//!   client's private key and certificate chain, optional), `zookeeper.ssl.trustStore.location`
//!   (PEM CA certificates, required), `.type` PEM (JKS/PKCS12 are refused),
//!   `zookeeper.ssl.hostnameVerification` (default true: the server certificate must name the
//!   host of `-server`).
//! * SASL DIGEST-MD5: `java.security.auth.login.config` names a JAAS file whose `Client`
//!   section (or the one named by `zookeeper.sasl.clientconfig`) has `username` and
//!   `password`; `zookeeper.sasl.client=false` turns SASL off.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use thiserror::Error;

use crate::sasl::Credentials;

/// A setting that cannot be used.
#[derive(Debug, Error)]
#[error("{key}: {reason}")]
pub struct SecurityError {
    /// The property (or file) concerned.
    pub key: String,
    /// What is wrong.
    pub reason: String,
}

fn err(key: &str, reason: impl std::fmt::Display) -> SecurityError {
    SecurityError {
        key: key.to_string(),
        reason: reason.to_string(),
    }
}

/// How a client secures its connections.
#[derive(Debug, Clone, Default)]
pub struct ClientSecurity {
    /// TLS, if `zookeeper.client.secure=true`.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// SASL DIGEST-MD5 credentials, if a JAAS `Client` section gives them.
    pub sasl: Option<Credentials>,
}

impl ClientSecurity {
    /// The settings in `props` (see the module documentation).
    pub fn from_properties(props: &BTreeMap<String, String>) -> Result<Self, SecurityError> {
        let get = |k: &str| prop(props, k);
        let tls = if get("zookeeper.client.secure") == Some("true") {
            Some(Arc::new(tls_config(props)?))
        } else {
            None
        };
        let sasl = match get("java.security.auth.login.config") {
            Some(_) if get("zookeeper.sasl.client") == Some("false") => None,
            Some(file) => {
                let section = get("zookeeper.sasl.clientconfig").unwrap_or("Client");
                Some(jaas_credentials(Path::new(file), section)?)
            }
            None => None,
        };
        Ok(ClientSecurity { tls, sasl })
    }

    /// The settings of a `-client-configuration` file (if any) over the environment's JVM
    /// flags.
    pub fn load(client_configuration: Option<&str>) -> Result<Self, SecurityError> {
        let mut props = jvm_flag_properties();
        if let Some(file) = client_configuration {
            let text = std::fs::read_to_string(file).map_err(|e| err(file, e))?;
            props.extend(properties(&text));
        }
        Self::from_properties(&props)
    }
}

/// `-Dkey=value` words of `CLIENT_JVMFLAGS` and `JVMFLAGS`.
pub fn jvm_flag_properties() -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for var in ["JVMFLAGS", "CLIENT_JVMFLAGS"] {
        if let Ok(flags) = std::env::var(var) {
            for w in flags
                .split_whitespace()
                .filter_map(|w| w.strip_prefix("-D"))
            {
                let (k, v) = w.split_once('=').unwrap_or((w, ""));
                out.insert(k.to_string(), v.to_string());
            }
        }
    }
    out
}

/// The `key=value` / `key: value` lines of a Java properties text (comments `#`, `!`).
pub fn properties(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim_start)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('!'))
        .filter_map(|l| {
            let i = l.find(['=', ':'])?;
            Some((l[..i].trim().to_string(), l[i + 1..].trim().to_string()))
        })
        .collect()
}

/// A property's value, trimmed; `None` if unset or empty.
fn prop<'a>(props: &'a BTreeMap<String, String>, key: &str) -> Option<&'a str> {
    props.get(key).map(|v| v.trim()).filter(|v| !v.is_empty())
}

fn pem_type_ok(props: &BTreeMap<String, String>, key: &str) -> Result<(), SecurityError> {
    match prop(props, key) {
        None => Ok(()),
        Some(t) if t.eq_ignore_ascii_case("PEM") => Ok(()),
        Some(t) => Err(err(
            key,
            format!("{t} stores are not supported; use PEM files"),
        )),
    }
}

fn tls_config(props: &BTreeMap<String, String>) -> Result<rustls::ClientConfig, SecurityError> {
    let get = |k: &str| prop(props, k);
    pem_type_ok(props, "zookeeper.ssl.keyStore.type")?;
    pem_type_ok(props, "zookeeper.ssl.trustStore.type")?;
    let trust_key = "zookeeper.ssl.trustStore.location";
    let trust = get(trust_key).ok_or_else(|| {
        err(
            trust_key,
            "not set: a PEM file with the CA certificates to trust is required",
        )
    })?;
    let mut roots = RootCertStore::empty();
    for c in certs(trust_key, Path::new(trust))? {
        roots.add(c).map_err(|e| err(trust_key, e))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| err("zookeeper.ssl.protocol", e))?;
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|e| err(trust_key, e))?;
    let builder = if get("zookeeper.ssl.hostnameVerification") == Some("false") {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyName(verifier)))
    } else {
        builder.with_webpki_verifier(verifier)
    };
    let key_key = "zookeeper.ssl.keyStore.location";
    match get(key_key) {
        None => Ok(builder.with_no_client_auth()),
        Some(file) => {
            let chain = certs(key_key, Path::new(file))?;
            let key = PrivateKeyDer::from_pem_file(file).map_err(|e| {
                err(
                    key_key,
                    format!("{file}: no usable (unencrypted) PRIVATE KEY: {e}"),
                )
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| err(key_key, e))
        }
    }
}

fn certs(key: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, SecurityError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| err(key, format!("{}: {e}", path.display())))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(key, format!("{}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(err(
            key,
            format!("{}: no CERTIFICATE in the file", path.display()),
        ));
    }
    Ok(certs)
}

/// Verifies the server's chain but not that it names the host
/// (`zookeeper.ssl.hostnameVerification=false`).
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName))
            | Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `username` and `password` of the JAAS section `section` in `file`.
pub fn jaas_credentials(file: &Path, section: &str) -> Result<Credentials, SecurityError> {
    let key = "java.security.auth.login.config";
    let text =
        std::fs::read_to_string(file).map_err(|e| err(key, format!("{}: {e}", file.display())))?;
    let options = jaas_section(&text, section).ok_or_else(|| {
        err(
            key,
            format!("{}: no section named {section:?}", file.display()),
        )
    })?;
    let get = |k: &str| {
        options.get(k).cloned().ok_or_else(|| {
            err(
                key,
                format!("{}: section {section} has no {k}", file.display()),
            )
        })
    };
    Ok(Credentials {
        username: get("username")?,
        password: get("password")?,
    })
}

/// The `name="value"` options of a JAAS section (`Name { module flag k="v" ...; };`),
/// comments (`//`, `/* */`) removed.
pub fn jaas_section(text: &str, section: &str) -> Option<BTreeMap<String, String>> {
    let text = strip_comments(text);
    let mut rest = text.as_str();
    while let Some(open) = rest.find('{') {
        let name = rest[..open]
            .trim()
            .rsplit(|c: char| c.is_whitespace() || c == ';' || c == '}')
            .next()
            .unwrap_or("");
        let close = open + rest[open..].find('}')?;
        if name == section {
            return Some(jaas_options(&rest[open + 1..close]));
        }
        rest = &rest[close + 1..];
    }
    None
}

fn strip_comments(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    loop {
        let line = rest.find("//");
        let block = rest.find("/*");
        match (line, block) {
            (Some(l), b) if b.is_none_or(|b| l < b) => {
                out.push_str(&rest[..l]);
                rest = rest[l..].find('\n').map_or("", |n| &rest[l + n..]);
            }
            (_, Some(b)) => {
                out.push_str(&rest[..b]);
                rest = rest[b..].find("*/").map_or("", |e| &rest[b + e + 2..]);
            }
            _ => {
                out.push_str(rest);
                return out;
            }
        }
    }
}

fn jaas_options(body: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = body;
    while let Some(eq) = rest.find('=') {
        let key = rest[..eq]
            .split_whitespace()
            .last()
            .unwrap_or("")
            .to_string();
        let after = rest[eq + 1..].trim_start();
        let (value, next) = match after.strip_prefix('"') {
            Some(q) => match q.find('"') {
                Some(end) => (&q[..end], &q[end + 1..]),
                None => (q, ""),
            },
            None => {
                let end = after
                    .find(|c: char| c.is_whitespace() || c == ';')
                    .unwrap_or(after.len());
                (&after[..end], &after[end..])
            }
        };
        out.insert(key, value.to_string());
        rest = next;
    }
    out
}

/// Where a server address's host name is checked against its certificate.
pub fn server_name(addr: &str) -> Result<ServerName<'static>, SecurityError> {
    let host = match addr.rsplit_once(':') {
        Some((h, _)) => h.trim_start_matches('[').trim_end_matches(']'),
        None => addr,
    };
    ServerName::try_from(host.to_string()).map_err(|e| err("-server", format!("{host}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jaas_sections() {
        let text = r#"
            // the server's users
            Server {
               org.apache.zookeeper.server.auth.DigestLoginModule required
               user_bob="bob-secret";
            };
            /* the client */ Client {
               org.apache.zookeeper.server.auth.DigestLoginModule required
               username="bob"
               password="bob secret";
            };
        "#;
        let c = jaas_section(text, "Client").expect("Client section");
        assert_eq!(c["username"], "bob");
        assert_eq!(c["password"], "bob secret");
        assert_eq!(
            jaas_section(text, "Server").expect("Server")["user_bob"],
            "bob-secret"
        );
        assert!(jaas_section(text, "Other").is_none());
    }

    #[test]
    fn property_files() {
        let p = properties("# c\nzookeeper.client.secure=true\n a : b \n!x=y\n");
        assert_eq!(p["zookeeper.client.secure"], "true");
        assert_eq!(p["a"], "b");
        assert!(!p.contains_key("!x"));
    }

    #[test]
    fn settings_errors_name_the_key() {
        let props = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>()
        };
        let e = ClientSecurity::from_properties(&props(&[("zookeeper.client.secure", "true")]))
            .expect_err("no trust store");
        assert_eq!(e.key, "zookeeper.ssl.trustStore.location");
        let e = ClientSecurity::from_properties(&props(&[
            ("zookeeper.client.secure", "true"),
            ("zookeeper.ssl.trustStore.location", "/x.jks"),
            ("zookeeper.ssl.trustStore.type", "JKS"),
        ]))
        .expect_err("JKS");
        assert_eq!(e.key, "zookeeper.ssl.trustStore.type");
        let e = ClientSecurity::from_properties(&props(&[(
            "java.security.auth.login.config",
            "/nonexistent/jaas.conf",
        )]))
        .expect_err("missing JAAS file");
        assert!(e.to_string().contains("/nonexistent/jaas.conf"), "{e}");
        let s = ClientSecurity::from_properties(&props(&[
            ("java.security.auth.login.config", "/nonexistent/jaas.conf"),
            ("zookeeper.sasl.client", "false"),
        ]))
        .expect("SASL off");
        assert!(s.sasl.is_none() && s.tls.is_none());
        assert_eq!(
            server_name("127.0.0.1:2281").expect("ip").to_str(),
            "127.0.0.1"
        );
        assert_eq!(
            server_name("zk1.example:2281").expect("dns").to_str(),
            "zk1.example"
        );
    }
}
