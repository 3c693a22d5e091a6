//! How a member's quorum and election connections are opened and accepted: plain TCP, TLS
//! (`sslQuorum`), or either on the same port (`portUnification`, told apart by the first
//! byte as ZooKeeper's `UnifiedServerSocket` does), then quorum SASL when configured.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::sasl;
use super::tls::{QuorumTls, QuorumTlsError};
use crate::config::quorum_security::{QuorumSaslSettings, QuorumSecurity};

/// A byte stream both ways (plain TCP or TLS over it).
pub trait Duplex: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Duplex for T {}

/// A connection between members.
pub type QuorumStream = Box<dyn Duplex>;

/// The first byte of a TLS handshake record.
const TLS_HANDSHAKE: u8 = 0x16;

/// How this member connects to and accepts other members.
#[derive(Debug, Clone, Default)]
pub struct Transport {
    tls: Option<Arc<QuorumTls>>,
    ssl_quorum: bool,
    port_unification: bool,
    sasl: Option<Arc<QuorumSaslSettings>>,
}

impl Transport {
    /// The transport the security settings describe.
    pub fn new(sec: &QuorumSecurity) -> Result<Transport, QuorumTlsError> {
        let tls = match &sec.tls {
            Some(s) => Some(Arc::new(QuorumTls::new(s)?)),
            None => None,
        };
        if sec.ssl_quorum || sec.port_unification || sec.sasl.is_some() {
            tracing::info!(
                ssl_quorum = sec.ssl_quorum,
                port_unification = sec.port_unification,
                sasl = ?sec.sasl.as_ref().map(|s| (s.learner_require, s.server_require)),
                "members are reached and accepted with quorum TLS/SASL"
            );
        }
        Ok(Transport {
            tls,
            ssl_quorum: sec.ssl_quorum,
            port_unification: sec.port_unification,
            sasl: sec.sasl.clone().map(Arc::new),
        })
    }

    /// Connects to `addr` within `timeout`, with TLS when `sslQuorum` is on.
    pub async fn connect(
        &self,
        addr: SocketAddr,
        timeout: Duration,
    ) -> Result<QuorumStream, String> {
        let open = async {
            let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
            let _ = tcp.set_nodelay(true);
            match (&self.tls, self.ssl_quorum) {
                (Some(tls), true) => {
                    let s = tls
                        .connect(tcp)
                        .await
                        .map_err(|e| format!("TLS handshake failed: {e}"))?;
                    Ok(Box::new(s) as QuorumStream)
                }
                _ => Ok(Box::new(tcp) as QuorumStream),
            }
        };
        tokio::time::timeout(timeout, open)
            .await
            .map_err(|_| "timed out".to_owned())?
    }

    /// Accepts a connection within `timeout`: TLS, plaintext, or (with `portUnification`)
    /// whichever its first byte says.
    pub async fn accept(&self, tcp: TcpStream, timeout: Duration) -> Result<QuorumStream, String> {
        let _ = tcp.set_nodelay(true);
        if !self.ssl_quorum && !self.port_unification {
            return Ok(Box::new(tcp));
        }
        let open = async {
            let mut first = [0u8; 1];
            let n = tcp.peek(&mut first).await.map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("closed before its first byte".to_owned());
            }
            if first[0] == TLS_HANDSHAKE {
                let Some(tls) = &self.tls else {
                    return Err("a TLS connection, but no ssl.quorum.keyStore.location".into());
                };
                return Ok(Box::new(tls.accept(tcp).await?) as QuorumStream);
            }
            if self.port_unification {
                return Ok(Box::new(tcp) as QuorumStream);
            }
            Err("a plaintext connection, refused because sslQuorum=true".into())
        };
        tokio::time::timeout(timeout, open)
            .await
            .map_err(|_| "no TLS handshake in time".to_owned())?
    }

    /// The dialling member's quorum SASL (when `quorum.auth.learnerRequireSasl`); returns
    /// the bytes read after the exchange.
    pub async fn authenticate_to(
        &self,
        s: &mut QuorumStream,
        timeout: Duration,
    ) -> Result<Vec<u8>, String> {
        match &self.sasl {
            Some(settings) if settings.learner_require => {
                tokio::time::timeout(timeout, sasl::learner(s, settings))
                    .await
                    .map_err(|_| "quorum SASL timed out".to_owned())?
            }
            _ => Ok(Vec::new()),
        }
    }

    /// The accepting member's quorum SASL (when `quorum.auth.enableSasl`), with `buf` the
    /// bytes already read; returns the bytes to go on with.
    pub async fn authenticate_from(
        &self,
        s: &mut QuorumStream,
        buf: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, String> {
        match &self.sasl {
            Some(settings) => tokio::time::timeout(timeout, sasl::server(s, buf, settings))
                .await
                .map_err(|_| "quorum SASL timed out".to_owned())?,
            None => Ok(buf),
        }
    }
}
