//! Quorum TLS (`sslQuorum`; ZooKeeper's `QuorumX509Util`): mutual TLS between members on
//! the quorum and election ports, with rustls and PEM stores.
//!
//! Both sides verify: the dialling member checks the accepting member's certificate chain and
//! that it names the address dialled; the accepting member asks for a certificate
//! (`ssl.quorum.clientAuth`, need by default), checks its chain and, as Java's quorum does,
//! that it names the dialling member's address. Names are checked as ZooKeeper's
//! `ZKTrustManager` does for an address: an IP subject-alternative name equal to it, the
//! common name when the certificate has no alternative names, and `localhost` for a
//! loopback address (what Java's reverse lookup gives). `ssl.quorum.hostnameVerification=
//! false` turns the name checks off (chains are still verified).

use std::net::IpAddr;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig,
    SignatureScheme,
};
use thiserror::Error;
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};
use x509_parser::extensions::GeneralName;

use crate::config::quorum_security::QuorumTlsSettings;
use crate::tls::{ClientAuth, TlsError, load_certs, load_key, provider, versions};

/// Why the quorum TLS settings cannot be used: the key that names what is wrong.
#[derive(Debug, Error)]
#[error("{key}: {reason}")]
pub struct QuorumTlsError {
    /// The zoo.cfg key.
    pub key: &'static str,
    /// Its value.
    pub value: String,
    /// What is wrong.
    pub reason: String,
}

/// The TLS side of a member's quorum transport.
pub struct QuorumTls {
    acceptor: TlsAcceptor,
    connector: TlsConnector,
    hostname_verification: bool,
}

impl std::fmt::Debug for QuorumTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuorumTls")
            .field("hostname_verification", &self.hostname_verification)
            .finish_non_exhaustive()
    }
}

impl QuorumTls {
    /// Loads the stores and builds both sides' configurations.
    pub fn new(s: &QuorumTlsSettings) -> Result<QuorumTls, QuorumTlsError> {
        let m = Material::load(s)?;
        let server = m.server_config(s.client_auth)?;
        let client = m.client_config(s.hostname_verification)?;
        Ok(QuorumTls {
            acceptor: TlsAcceptor::from(Arc::new(server)),
            connector: TlsConnector::from(Arc::new(client)),
            hostname_verification: s.hostname_verification,
        })
    }

    /// The TLS handshake of a member that dialled `tcp`.
    pub async fn connect(
        &self,
        tcp: TcpStream,
    ) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
        let ip = tcp.peer_addr()?.ip();
        self.connector
            .connect(ServerName::IpAddress(ip.into()), tcp)
            .await
    }

    /// The TLS handshake of a connection accepted on `tcp`, with the dialling member's name
    /// check.
    pub async fn accept(
        &self,
        tcp: TcpStream,
    ) -> Result<tokio_rustls::server::TlsStream<TcpStream>, String> {
        let ip = tcp.peer_addr().map_err(|e| e.to_string())?.ip();
        let stream = self
            .acceptor
            .accept(tcp)
            .await
            .map_err(|e| format!("TLS handshake failed: {e}"))?;
        if self.hostname_verification
            && let Some(cert) = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
            && !names_address(cert, ip)
        {
            return Err(format!(
                "the member's certificate does not name its address {ip} (ssl.quorum.hostnameVerification)"
            ));
        }
        Ok(stream)
    }
}

/// The error for `key` = `value`.
fn err(
    key: &'static str,
    value: impl std::fmt::Display,
    reason: impl std::fmt::Display,
) -> QuorumTlsError {
    QuorumTlsError {
        key,
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

const KEY_STORE: &str = "ssl.quorum.keyStore.location";
const TRUST_STORE: &str = "ssl.quorum.trustStore.location";

/// What both sides' configurations are made of.
struct Material {
    certs: Vec<CertificateDer<'static>>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
    key_store: String,
    roots: Arc<RootCertStore>,
    trust_store: String,
    provider: Arc<rustls::crypto::CryptoProvider>,
    versions: Vec<&'static rustls::SupportedProtocolVersion>,
}

impl Material {
    /// Reads the stores and resolves the protocol and suite settings.
    fn load(s: &QuorumTlsSettings) -> Result<Material, QuorumTlsError> {
        let key_store = s.key_store.display().to_string();
        let trust_store = s.trust_store.display().to_string();
        let certs = load_certs(&s.key_store).map_err(|e| err(KEY_STORE, &key_store, e))?;
        let key = load_key(&s.key_store).map_err(|e| err(KEY_STORE, &key_store, e))?;
        let mut roots = RootCertStore::empty();
        for c in load_certs(&s.trust_store).map_err(|e| err(TRUST_STORE, &trust_store, e))? {
            roots.add(c).map_err(|e| {
                err(
                    TRUST_STORE,
                    &trust_store,
                    format!("unusable CA certificate: {e}"),
                )
            })?;
        }
        let suites = s.ciphersuites.join(",");
        let provider = provider(&s.ciphersuites)
            .map_err(|e: TlsError| err("ssl.quorum.ciphersuites", suites, e))?;
        let versions = versions(&s.protocols)
            .map_err(|e| err("ssl.quorum.enabledProtocols", s.protocols.join(","), e))?;
        Ok(Material {
            certs,
            key,
            key_store,
            roots: Arc::new(roots),
            trust_store,
            provider: Arc::new(provider),
            versions,
        })
    }

    fn rustls_err(&self, e: rustls::Error) -> QuorumTlsError {
        err(
            KEY_STORE,
            &self.key_store,
            format!("TLS configuration: {e}"),
        )
    }

    /// The accepting side: this member's certificate, other members' asked for.
    fn server_config(&self, auth: ClientAuth) -> Result<ServerConfig, QuorumTlsError> {
        let server = ServerConfig::builder_with_provider(Arc::clone(&self.provider))
            .with_protocol_versions(&self.versions)
            .map_err(|e| self.rustls_err(e))?;
        let server = match auth {
            ClientAuth::None => server.with_no_client_auth(),
            auth => {
                let v = WebPkiClientVerifier::builder_with_provider(
                    Arc::clone(&self.roots),
                    Arc::clone(&self.provider),
                );
                let v = if auth == ClientAuth::Want {
                    v.allow_unauthenticated()
                } else {
                    v
                };
                let v = v.build().map_err(|e| {
                    err(
                        TRUST_STORE,
                        &self.trust_store,
                        format!("client verifier: {e}"),
                    )
                })?;
                server.with_client_cert_verifier(v)
            }
        };
        server
            .with_single_cert(self.certs.clone(), self.key.clone_key())
            .map_err(|e| self.rustls_err(e))
    }

    /// The dialling side: this member's certificate, the other's checked by [`PeerVerifier`].
    fn client_config(&self, hostname_verification: bool) -> Result<ClientConfig, QuorumTlsError> {
        let inner = WebPkiServerVerifier::builder_with_provider(
            Arc::clone(&self.roots),
            Arc::clone(&self.provider),
        )
        .build()
        .map_err(|e| {
            err(
                TRUST_STORE,
                &self.trust_store,
                format!("server verifier: {e}"),
            )
        })?;
        let verifier = PeerVerifier {
            inner,
            hostname_verification,
        };
        ClientConfig::builder_with_provider(Arc::clone(&self.provider))
            .with_protocol_versions(&self.versions)
            .map_err(|e| self.rustls_err(e))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_client_auth_cert(self.certs.clone(), self.key.clone_key())
            .map_err(|e| self.rustls_err(e))
    }
}

/// Whether a certificate names `ip`: an IP alternative name equal to it, its common name
/// when it has no alternative names, or `localhost` for a loopback address.
pub fn names_address(cert: &[u8], ip: IpAddr) -> bool {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(cert) else {
        return false;
    };
    let octets = match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    };
    let text = ip.to_string();
    let matches =
        |name: &str| name == text || (ip.is_loopback() && name.eq_ignore_ascii_case("localhost"));
    match cert.subject_alternative_name() {
        Ok(Some(san)) if !san.value.general_names.is_empty() => {
            san.value.general_names.iter().any(|n| match n {
                GeneralName::IPAddress(b) => *b == octets.as_slice(),
                GeneralName::DNSName(d) => matches(d),
                _ => false,
            })
        }
        Ok(_) => cert
            .subject()
            .iter_common_name()
            .filter_map(|cn| cn.as_str().ok())
            .any(matches),
        Err(_) => false,
    }
}

/// The dialling side's check: the chain with webpki, the name as [`names_address`] does.
#[derive(Debug)]
struct PeerVerifier {
    inner: Arc<WebPkiServerVerifier>,
    hostname_verification: bool,
}

impl ServerCertVerifier for PeerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let result = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        match result {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => {
                let named = match server_name {
                    ServerName::IpAddress(ip) => names_address(end_entity, IpAddr::from(*ip)),
                    _ => false,
                };
                if named || !self.hostname_verification {
                    Ok(ServerCertVerified::assertion())
                } else {
                    result
                }
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(sans: &[&str], cn: &str) -> Vec<u8> {
        let mut p =
            rcgen::CertificateParams::new(sans.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
                .expect("params");
        p.distinguished_name = rcgen::DistinguishedName::new();
        p.distinguished_name.push(rcgen::DnType::CommonName, cn);
        let key = rcgen::KeyPair::generate().expect("key");
        p.self_signed(&key).expect("cert").der().to_vec()
    }

    #[test]
    fn names_are_checked_as_zookeeper_checks_an_address() {
        let lo: IpAddr = [127, 0, 0, 1].into();
        let other: IpAddr = [10, 1, 2, 3].into();
        let ip_san = cert(&["127.0.0.1"], "member");
        assert!(names_address(&ip_san, lo));
        assert!(!names_address(&ip_san, other));
        let dns = cert(&["localhost"], "member");
        assert!(names_address(&dns, lo));
        assert!(!names_address(&dns, other));
        let elsewhere = cert(&["zk1.example.com"], "10.1.2.3");
        assert!(
            !names_address(&elsewhere, other),
            "CN ignored when SANs exist"
        );
        assert!(names_address(&cert(&[], "10.1.2.3"), other));
        assert!(!names_address(b"garbage", lo));
    }
}
