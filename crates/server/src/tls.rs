//! TLS for the secure client port (`secureClientPort`), with rustls.
//!
//! Certificates, keys and CAs are PEM files: ZooKeeper 3.8's `ssl.keyStore.location` /
//! `ssl.trustStore.location` with `ssl.keyStore.type=PEM` (the key store file holds the
//! private key and the certificate chain), or Menagerie's simpler `ssl.certFile`,
//! `ssl.keyFile` and `ssl.caFile`. `ssl.clientAuth` is `need` (default, as in ZooKeeper),
//! `want` or `none`. The subject of a verified client certificate becomes the connection's
//! `x509` identity, printed as Java's `X500Principal.getName()` does (RFC 2253).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig as RustlsConfig, SupportedProtocolVersion};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use thiserror::Error;
use tokio_rustls::TlsAcceptor;
use x509_parser::der_parser::asn1_rs::ToDer;

/// Whether clients must present a certificate (`ssl.clientAuth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// A trusted client certificate is required (ZooKeeper's default).
    Need,
    /// A client certificate is verified if presented.
    Want,
    /// Client certificates are not asked for.
    None,
}

/// TLS settings of the secure client port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// PEM file with the server's certificate chain.
    pub cert_file: PathBuf,
    /// PEM file with the server's private key (may be the same file as `cert_file`).
    pub key_file: PathBuf,
    /// PEM file with the CA certificates client certificates must chain to.
    pub ca_file: Option<PathBuf>,
    /// `ssl.clientAuth`.
    pub client_auth: ClientAuth,
    /// Allowed protocol versions (`ssl.protocol` / `ssl.enabledProtocols`): "TLSv1.2",
    /// "TLSv1.3"; empty means both.
    pub protocols: Vec<String>,
    /// Allowed cipher suites (`ssl.ciphersuites`, IANA names); empty means rustls' defaults.
    pub ciphersuites: Vec<String>,
}

/// TLS settings of the admin server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminTls {
    /// Certificates, keys, trust store, client authentication.
    pub settings: TlsSettings,
    /// `admin.portUnification`: TLS and plaintext HTTP on the same port (`false` with
    /// `admin.forceHttps`: TLS only).
    pub port_unification: bool,
}

/// Why the TLS settings cannot be used.
#[derive(Debug, Error)]
pub enum TlsError {
    /// A PEM file could not be read or holds nothing usable.
    #[error("{path}: {reason}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A setting cannot be honoured.
    #[error("{0}")]
    Setting(String),
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

fn pem_err(path: &Path, reason: impl std::fmt::Display) -> TlsError {
    TlsError::Pem {
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}

pub(crate) fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_err(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_err(path, e))?;
    if certs.is_empty() {
        return Err(pem_err(path, "no CERTIFICATE in the file"));
    }
    Ok(certs)
}

pub(crate) fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| {
        pem_err(
            path,
            format!("no usable private key ({e}); encrypted keys are not supported"),
        )
    })
}

pub(crate) fn versions(
    protocols: &[String],
) -> Result<Vec<&'static SupportedProtocolVersion>, TlsError> {
    if protocols.is_empty() {
        return Ok(rustls::ALL_VERSIONS.to_vec());
    }
    let mut out = Vec::new();
    for p in protocols {
        match p.as_str() {
            "TLSv1.2" => out.push(&rustls::version::TLS12),
            "TLSv1.3" | "TLS" => out.push(&rustls::version::TLS13),
            other => tracing::warn!(
                protocol = other,
                "TLS protocol not supported by Menagerie (only TLSv1.2 and TLSv1.3); ignored"
            ),
        }
    }
    if out.is_empty() {
        return Err(TlsError::Setting(format!(
            "none of the TLS protocols {protocols:?} is supported (TLSv1.2, TLSv1.3)"
        )));
    }
    Ok(out)
}

/// The IANA name of a suite (rustls spells TLS 1.3 suites `TLS13_...`).
fn suite_name(s: rustls::SupportedCipherSuite) -> String {
    let name = s.suite().as_str().map_or_else(String::new, str::to_owned);
    name.replacen("TLS13_", "TLS_", 1)
}

pub(crate) fn provider(ciphersuites: &[String]) -> Result<CryptoProvider, TlsError> {
    let mut p = rustls::crypto::ring::default_provider();
    if ciphersuites.is_empty() {
        return Ok(p);
    }
    for wanted in ciphersuites {
        if !p.cipher_suites.iter().any(|s| suite_name(*s) == *wanted) {
            tracing::warn!(suite = %wanted, "cipher suite not available in rustls; ignored");
        }
    }
    p.cipher_suites
        .retain(|s| ciphersuites.iter().any(|w| *w == suite_name(*s)));
    if p.cipher_suites.is_empty() {
        return Err(TlsError::Setting(format!(
            "none of the cipher suites {ciphersuites:?} is available"
        )));
    }
    Ok(p)
}

/// Builds the acceptor for the secure client port.
pub fn acceptor(s: &TlsSettings) -> Result<TlsAcceptor, TlsError> {
    Ok(TlsAcceptor::from(Arc::new(server_config(s)?)))
}

/// The rustls configuration for `s` (the admin server adds ALPN protocols to it).
pub fn server_config(s: &TlsSettings) -> Result<RustlsConfig, TlsError> {
    let certs = load_certs(&s.cert_file)?;
    let key = load_key(&s.key_file)?;
    let provider = Arc::new(provider(&s.ciphersuites)?);
    let builder = RustlsConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&versions(&s.protocols)?)?;
    let builder = match (s.client_auth, &s.ca_file) {
        (ClientAuth::None, _) => builder.with_no_client_auth(),
        (_, None) => {
            return Err(TlsError::Setting(
                "ssl.clientAuth=need/want requires a trust store (ssl.trustStore.location or ssl.caFile)"
                    .into(),
            ));
        }
        (auth, Some(ca)) => {
            let mut roots = RootCertStore::empty();
            for c in load_certs(ca)? {
                roots.add(c).map_err(|e| pem_err(ca, e))?;
            }
            let v = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let v = if auth == ClientAuth::Want {
                v.allow_unauthenticated()
            } else {
                v
            };
            builder.with_client_cert_verifier(
                v.build()
                    .map_err(|e| TlsError::Setting(format!("client verifier: {e}")))?,
            )
        }
    };
    Ok(builder.with_single_cert(certs, key)?)
}

/// The subject of a DER certificate as Java's `X500Principal.getName()` prints it (RFC
/// 2253: RDNs last-to-first, separated by ',', known attribute keywords, other attributes as
/// `OID=#hex`).
pub fn subject_dn(cert: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert).ok()?;
    let mut rdns = Vec::new();
    for rdn in cert.subject().iter() {
        let mut parts = Vec::new();
        for atv in rdn.iter() {
            let oid = atv.attr_type().to_id_string();
            let keyword = match oid.as_str() {
                "2.5.4.3" => Some("CN"),
                "2.5.4.6" => Some("C"),
                "2.5.4.7" => Some("L"),
                "2.5.4.8" => Some("ST"),
                "2.5.4.10" => Some("O"),
                "2.5.4.11" => Some("OU"),
                "2.5.4.9" => Some("STREET"),
                "0.9.2342.19200300.100.1.25" => Some("DC"),
                "0.9.2342.19200300.100.1.1" => Some("UID"),
                _ => None,
            };
            let text = atv.as_str().ok();
            match (keyword, text) {
                (Some(k), Some(v)) => parts.push(format!("{k}={}", escape_rfc2253(v))),
                _ => {
                    let hex: String = atv
                        .attr_value()
                        .to_der_vec()
                        .ok()?
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect();
                    parts.push(format!("{oid}=#{hex}"));
                }
            }
        }
        rdns.push(parts.join("+"));
    }
    rdns.reverse();
    Some(rdns.join(","))
}

/// RFC 2253 escaping of an attribute value.
fn escape_rfc2253(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let last = v.chars().count().saturating_sub(1);
    for (i, c) in v.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == ' ' || c == '#'))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_is_printed_as_java_does() {
        let mut params = rcgen::CertificateParams::new(vec!["localhost".into()]).expect("params");
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CountryName, "US");
        dn.push(rcgen::DnType::OrganizationName, "Acme, Inc.");
        dn.push(rcgen::DnType::CommonName, "client one");
        params.distinguished_name = dn;
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = params.self_signed(&key).expect("cert");
        assert_eq!(
            subject_dn(cert.der()).as_deref(),
            Some("CN=client one,O=Acme\\, Inc.,C=US")
        );
        assert_eq!(subject_dn(b"not a certificate"), None);
    }

    #[test]
    fn protocol_and_suite_restrictions() {
        assert_eq!(versions(&[]).expect("all").len(), 2);
        assert_eq!(versions(&["TLSv1.3".into()]).expect("1.3").len(), 1);
        assert!(versions(&["SSLv3".into()]).is_err());
        let p = provider(&["TLS_AES_128_GCM_SHA256".into(), "NOPE".into()]).expect("one");
        assert_eq!(p.cipher_suites.len(), 1);
        assert!(provider(&["NOPE".into()]).is_err());
    }
}
