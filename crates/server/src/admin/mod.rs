//! The admin HTTP server: ZooKeeper's AdminServer commands as JSON under `admin.commandURL`,
//! Prometheus metrics at `/metrics`, and `/ready` / `/health` probes for orchestrators.
//!
//! * [`http`]: a small HTTP/1.1 server (GET/HEAD only, one request per connection, with size,
//!   time and concurrency limits).
//!
//! The HTTP tasks never touch the core: each request becomes a [`ToShell::Admin`] message and
//! the shell answers it between client inputs (with `crate::ops::answer`), as it does for
//! four-letter words.

pub mod http;

use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use crate::config::AdminConfig;
use crate::inbox::ToShell;

/// The bound admin listeners.
#[derive(Debug, Default)]
pub struct Listeners {
    /// The admin server (commands, metrics, probes).
    pub admin: Option<TcpListener>,
    /// ZooKeeper's separate Prometheus port (`metricsProvider.httpPort`): `/metrics` only.
    pub prometheus: Option<TcpListener>,
    /// `admin.commandURL`.
    pub command_url: String,
}

impl Listeners {
    /// Binds what `config` asks for. ZooKeeper exits when the admin port cannot be bound
    /// ("Unable to start AdminServer"), so a bind failure is an error here too.
    pub async fn bind(config: &AdminConfig) -> Result<Listeners, BindError> {
        let mut l = Listeners {
            command_url: config.command_url.clone(),
            ..Listeners::default()
        };
        if config.enabled {
            l.admin = Some(
                TcpListener::bind(config.addr)
                    .await
                    .map_err(|source| BindError {
                        what: "admin server (admin.serverAddress:admin.serverPort)",
                        addr: config.addr,
                        source,
                    })?,
            );
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
        let admin = self.admin.map(|l| {
            tokio::spawn(http::serve(
                l,
                http::Routes::Admin {
                    command_url: self.command_url.clone(),
                },
                shell.clone(),
                shutdown.clone(),
            ))
        });
        let prometheus = self
            .prometheus
            .map(|l| tokio::spawn(http::serve(l, http::Routes::MetricsOnly, shell, shutdown)));
        for task in [admin, prometheus].into_iter().flatten() {
            let _ = task.await;
        }
    }
}

/// An admin listener could not be bound.
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
