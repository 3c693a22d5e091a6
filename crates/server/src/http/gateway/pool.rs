//! The gateway's sessions, one per caller identity (IP address, digest credential,
//! certificate subject), and the caller's identity read from a request.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use tokio::sync::{mpsc, watch};

use super::session::{Principal, Session, SessionError};
use crate::http::auth::{self, AuthError, Credential, Peer};
use crate::inbox::ToShell;

/// How often sessions are pinged and idle ones retired (at most).
const MAINTENANCE_EVERY: Duration = Duration::from_secs(5);
/// Most gateway sessions at once; beyond it idle ones are retired first, else 503.
pub const MAX_SESSIONS: usize = 1024;

/// The gateway's sessions, one per caller identity.
#[derive(Debug)]
pub struct Pool {
    shell: mpsc::Sender<ToShell>,
    sessions: Mutex<HashMap<Principal, Arc<Session>>>,
    /// Serialises session creation (so concurrent first requests share one session).
    opening: tokio::sync::Mutex<()>,
    /// Idle time after which a session is closed.
    idle_close: Duration,
}

impl Pool {
    /// A pool whose maintenance task runs until `shutdown`; sessions idle for `idle_close`
    /// are closed.
    pub fn start(
        shell: mpsc::Sender<ToShell>,
        mut shutdown: watch::Receiver<bool>,
        idle_close: Duration,
    ) -> Arc<Pool> {
        let pool = Arc::new(Pool {
            shell,
            sessions: Mutex::new(HashMap::new()),
            opening: tokio::sync::Mutex::new(()),
            idle_close,
        });
        let weak = Arc::downgrade(&pool);
        let period = MAINTENANCE_EVERY.min(idle_close / 2);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(period);
            loop {
                tokio::select! {
                    _ = shutdown.changed() => break,
                    _ = every.tick() => {}
                }
                let Some(pool) = weak.upgrade() else { break };
                pool.maintain().await;
            }
        });
        pool
    }

    /// Number of live sessions.
    pub fn len(&self) -> usize {
        self.sessions.lock().map(|s| s.len()).unwrap_or(0)
    }

    /// Whether there is no session.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The session of `who`, opened if there is none (or it died).
    pub async fn session(
        &self,
        who: &Principal,
        peer: SocketAddr,
    ) -> Result<Arc<Session>, GatewayError> {
        if let Some(s) = self.live(who) {
            return Ok(s);
        }
        let _opening = self.opening.lock().await;
        if let Some(s) = self.live(who) {
            return Ok(s);
        }
        if self.len() >= MAX_SESSIONS && !self.retire_one_idle().await {
            return Err(GatewayError::TooManySessions);
        }
        let s = Session::open(self.shell.clone(), who, peer).await?;
        if let Ok(mut map) = self.sessions.lock() {
            map.insert(who.clone(), Arc::clone(&s));
        }
        Ok(s)
    }

    fn live(&self, who: &Principal) -> Option<Arc<Session>> {
        let map = self.sessions.lock().ok()?;
        map.get(who).filter(|s| !s.is_dead()).cloned()
    }

    /// Retires the longest idle session that is not busy; false if there is none.
    async fn retire_one_idle(&self) -> bool {
        let victim = self.sessions.lock().ok().and_then(|mut map| {
            let key = map
                .iter()
                .filter(|(_, s)| !s.is_busy())
                .max_by_key(|(_, s)| s.idle_for())
                .map(|(k, _)| k.clone())?;
            map.remove(&key)
        });
        match victim {
            Some(s) => {
                s.close().await;
                true
            }
            None => false,
        }
    }

    /// Pings live sessions, forgets dead ones, closes idle ones.
    async fn maintain(&self) {
        let (mut idle, mut live) = (Vec::new(), Vec::new());
        if let Ok(mut map) = self.sessions.lock() {
            map.retain(|_, s| {
                if s.is_dead() {
                    false
                } else if !s.is_busy() && s.idle_for() >= self.idle_close {
                    idle.push(Arc::clone(s));
                    false
                } else {
                    live.push(Arc::clone(s));
                    true
                }
            });
        }
        for s in idle {
            tracing::debug!(
                session = format_args!("0x{:x}", s.id()),
                "closing idle gateway session"
            );
            s.close().await;
        }
        for s in live {
            s.ping().await;
        }
    }
}

/// Why a gateway request could not reach ZooKeeper.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// The caller's credential is unusable.
    #[error("{0}")]
    Auth(#[from] AuthError),
    /// The session failed.
    #[error("{0}")]
    Session(#[from] SessionError),
    /// [`MAX_SESSIONS`] sessions are busy.
    #[error("too many gateway sessions")]
    TooManySessions,
}

/// Who calls, from the request: the peer address, the `Authorization` header, and the
/// connection's client certificate (a verified certificate always counts, as on the secure
/// client port).
pub fn principal(headers: &HeaderMap, peer: &Peer) -> Result<Principal, AuthError> {
    let mut who = Principal {
        ip: auth::ip_of(peer.addr),
        digest: None,
        x509: peer.x509.clone(),
    };
    match auth::credential(headers, peer)? {
        Some(Credential::Digest(d)) => who.digest = Some(d),
        Some(Credential::X509(_)) | Some(Credential::Ip(_)) | None => {}
    }
    Ok(who)
}
