//! Binding the admin and Prometheus ports and serving connections on them with hyper: HTTP/1.1
//! (keep-alive) and HTTP/2 (prior knowledge on plaintext, ALPN on TLS), TLS with
//! `admin.forceHttps` or, with `admin.portUnification`, TLS and plaintext on one port (a
//! connection whose first byte starts a TLS record is TLS). Limits: [`MAX_CONNECTIONS`]
//! connections at once, request heads up to [`MAX_HEAD`] bytes read within
//! [`READ_TIMEOUT`]. At shutdown the listeners stop and each connection ends gracefully.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

use super::auth::Peer;
use super::state::AppState;
use crate::config::AdminConfig;
use crate::inbox::ToShell;

/// Largest accepted request head (hyper's read buffer; longer heads get 431).
pub const MAX_HEAD: usize = 16 * 1024;
/// Time allowed for a request head (also the idle time of a kept-alive connection) and for
/// a TLS handshake.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once per listener; more are closed at once.
pub const MAX_CONNECTIONS: usize = 256;
/// How long connections may take to finish at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// An admin listener could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr} for the {what}: {source}")]
pub struct BindError {
    /// Which listener.
    pub what: &'static str,
    /// The address.
    pub addr: SocketAddr,
    /// The error.
    pub source: std::io::Error,
}

/// TLS on a listener.
#[derive(Clone)]
struct Tls {
    acceptor: TlsAcceptor,
    /// Plaintext is served too (`admin.portUnification`).
    unified: bool,
}

/// The bound admin listeners.
#[derive(Default)]
pub struct Listeners {
    /// The admin server (commands, metrics, probes, gateway, console).
    admin: Option<TcpListener>,
    /// ZooKeeper's separate Prometheus port (`metricsProvider.httpPort`): `/metrics` only.
    prometheus: Option<TcpListener>,
    /// `admin.commandURL`.
    command_url: String,
    /// TLS of the admin listener.
    tls: Option<Tls>,
    /// `admin.rateLimiterIntervalInMS`.
    rate_limit: Duration,
    /// `admin.gateway.sessionIdleMs`.
    gateway_idle: Duration,
}

impl std::fmt::Debug for Listeners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listeners")
            .field("admin", &self.admin)
            .field("prometheus", &self.prometheus)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl Listeners {
    /// Binds what `config` asks for. ZooKeeper exits when the admin port cannot be bound
    /// ("Unable to start AdminServer"), so a bind failure is an error here too.
    pub async fn bind(config: &AdminConfig) -> Result<Listeners, BindError> {
        let mut l = Listeners {
            command_url: config.command_url.clone(),
            rate_limit: config.rate_limit,
            gateway_idle: config.gateway_idle,
            ..Listeners::default()
        };
        if config.enabled {
            if let Some(t) = &config.tls {
                let mut rustls = crate::tls::server_config(&t.settings).map_err(|e| BindError {
                    what: "admin server TLS (ssl.quorum.*)",
                    addr: config.addr,
                    source: std::io::Error::other(e.to_string()),
                })?;
                rustls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
                l.tls = Some(Tls {
                    acceptor: TlsAcceptor::from(Arc::new(rustls)),
                    unified: t.port_unification,
                });
            }
            let listener = TcpListener::bind(config.addr)
                .await
                .map_err(|source| BindError {
                    what: "admin server (admin.serverAddress:admin.serverPort)",
                    addr: config.addr,
                    source,
                })?;
            let scheme = match &l.tls {
                None => "http",
                Some(t) if t.unified => "http+https",
                Some(_) => "https",
            };
            let bound = listener.local_addr().unwrap_or(config.addr);
            if bound.ip().is_loopback() {
                tracing::info!(addr = %bound, scheme, "admin server, console and REST gateway (loopback only; set admin.serverAddress to expose them)");
            } else {
                tracing::info!(addr = %bound, scheme, "admin server, console and REST gateway");
            }
            l.admin = Some(listener);
        }
        if let Some(addr) = config.prometheus_addr {
            l.prometheus = Some(TcpListener::bind(addr).await.map_err(|source| BindError {
                what: "Prometheus metrics (metricsProvider.httpHost:httpPort)",
                addr,
                source,
            })?);
        }
        Ok(l)
    }

    /// The bound addresses: (admin, prometheus).
    pub fn local_addrs(&self) -> (Option<SocketAddr>, Option<SocketAddr>) {
        let addr = |l: &Option<TcpListener>| l.as_ref().and_then(|l| l.local_addr().ok());
        (addr(&self.admin), addr(&self.prometheus))
    }

    /// Serves until `shutdown` turns true.
    pub async fn serve(self, shell: mpsc::Sender<ToShell>, shutdown: watch::Receiver<bool>) {
        let loopback_only = self
            .admin
            .as_ref()
            .and_then(|l| l.local_addr().ok())
            .is_some_and(|a| a.ip().is_loopback());
        let state = AppState {
            loopback_only,
            shell: shell.clone(),
            command_url: Arc::from(self.command_url.as_str()),
            gateway: super::gateway::pool::Pool::start(shell, shutdown.clone(), self.gateway_idle),
            snapshot_limiter: Arc::new(super::auth::RateLimiter::new(self.rate_limit)),
            restore_limiter: Arc::new(super::auth::RateLimiter::new(self.rate_limit)),
        };
        let admin = self.admin.map(|l| {
            let router = super::admin_routes::router(state.clone());
            tokio::spawn(accept_loop(l, router, self.tls.clone(), shutdown.clone()))
        });
        let prometheus = self.prometheus.map(|l| {
            let router = super::admin_routes::metrics_only_router(state.clone());
            tokio::spawn(accept_loop(l, router, None, shutdown.clone()))
        });
        for task in [admin, prometheus].into_iter().flatten() {
            let _ = task.await;
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    router: Router,
    tls: Option<Tls>,
    mut shutdown: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            _ = shutdown.changed() => break,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((stream, peer)) => {
                let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
                    tracing::warn!(
                        limit = MAX_CONNECTIONS,
                        "too many admin connections; closing a new one"
                    );
                    continue;
                };
                let (router, tls, shutdown) = (router.clone(), tls.clone(), shutdown.clone());
                tokio::spawn(async move {
                    connection(stream, peer, router, tls, shutdown).await;
                    drop(permit);
                });
            }
            Err(e) => {
                // e.g. out of file descriptors: do not spin.
                tracing::warn!(error = %e, "admin accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Serves one accepted socket: TLS handshake if it is (or must be) TLS, then HTTP.
async fn connection(
    stream: TcpStream,
    addr: SocketAddr,
    router: Router,
    tls: Option<Tls>,
    shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let Some(tls) = tls else {
        let peer = Peer {
            addr,
            x509: None,
            tls: false,
        };
        return serve_http(TokioIo::new(stream), peer, router, shutdown).await;
    };
    if tls.unified {
        let mut first = [0u8; 1];
        match tokio::time::timeout(READ_TIMEOUT, stream.peek(&mut first)).await {
            Ok(Ok(1)) if first[0] == 0x16 => {}
            Ok(Ok(1)) => {
                let peer = Peer {
                    addr,
                    x509: None,
                    tls: false,
                };
                return serve_http(TokioIo::new(stream), peer, router, shutdown).await;
            }
            _ => return,
        }
    }
    match tokio::time::timeout(READ_TIMEOUT, tls.acceptor.accept(stream)).await {
        Ok(Ok(s)) => {
            let x509 = s
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .and_then(|c| crate::tls::subject_dn(c));
            let peer = Peer {
                addr,
                x509,
                tls: true,
            };
            serve_http(TokioIo::new(s), peer, router, shutdown).await
        }
        Ok(Err(e)) => tracing::debug!(peer = %addr, error = %e, "admin TLS handshake failed"),
        Err(_) => tracing::debug!(peer = %addr, "admin TLS handshake timed out"),
    }
}

/// Runs hyper on one connection until it ends, or until shutdown (then gracefully).
async fn serve_http<I>(io: I, peer: Peer, router: Router, mut shutdown: watch::Receiver<bool>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = router.map_request(move |req: hyper::Request<hyper::body::Incoming>| {
        let mut req = req.map(axum::body::Body::new);
        req.extensions_mut().insert(peer.clone());
        req
    });
    let service = TowerToHyperService::new(service);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .title_case_headers(true)
        .max_buf_size(MAX_HEAD)
        .timer(TokioTimer::new())
        .header_read_timeout(READ_TIMEOUT);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(64);
    let conn = builder.serve_connection_with_upgrades(io, service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = shutdown.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, conn).await;
        }
    }
}
