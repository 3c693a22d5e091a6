//! Who is calling, as ZooKeeper 3.9's AdminServer decides it, and which AdminServer commands
//! need which rights.
//!
//! The `Authorization` header is `<scheme> [<auth>]` (one space): `digest user:password`
//! gives the digest identity (and `super` when it matches the super digest), `x509` the
//! subject of the connection's verified client certificate, `ip` the TCP peer address. The
//! peer address is always the socket's: `X-Forwarded-For` and similar headers are ignored,
//! so a caller cannot claim another address. A command with a permission rule runs only if
//! the caller's identities pass ZooKeeper's ACL check on the rule's path, as in
//! `Commands.handleAuthorization`.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;

/// What the transport knows about the caller of one request (set per connection).
#[derive(Debug, Clone)]
pub struct Peer {
    /// The TCP peer address (never taken from `X-Forwarded-For` or similar headers).
    pub addr: SocketAddr,
    /// The subject of the verified TLS client certificate, if any.
    pub x509: Option<String>,
    /// Whether the connection is TLS.
    pub tls: bool,
}

/// What the caller claims in its `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Credential {
    /// `digest user:password`.
    Digest(String),
    /// `x509`: the connection's client certificate subject.
    X509(String),
    /// `ip`: the connection's peer address.
    Ip(String),
}

/// Why the caller could not be authenticated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header where one is needed.
    #[error("Auth info is missing for the command")]
    Missing,
    /// A header that names no usable scheme, or `x509` without a verified certificate.
    #[error("Not authenticated")]
    Failed,
}

/// The credential of a request's `Authorization` header: `Ok(None)` without a header.
pub fn credential(headers: &HeaderMap, peer: &Peer) -> Result<Option<Credential>, AuthError> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let text = value.to_str().map_err(|_| AuthError::Failed)?;
    parse(text, peer).map(Some)
}

/// Parses `<scheme> [<auth>]` as ZooKeeper splits it (on single spaces, one or two parts).
pub fn parse(text: &str, peer: &Peer) -> Result<Credential, AuthError> {
    let parts: Vec<&str> = text.split(' ').collect();
    match parts.as_slice() {
        ["digest", auth] if auth.contains(':') => Ok(Credential::Digest((*auth).to_owned())),
        ["x509"] | ["x509", _] => peer
            .x509
            .clone()
            .map(Credential::X509)
            .ok_or(AuthError::Failed),
        ["ip"] | ["ip", _] => Ok(Credential::Ip(ip_of(peer.addr))),
        _ => Err(AuthError::Failed),
    }
}

/// The `ip` identity of an address (IPv4-mapped IPv6 addresses as IPv4).
pub fn ip_of(addr: SocketAddr) -> String {
    match addr.ip() {
        std::net::IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or_else(|| v6.to_string(), |v4| v4.to_string()),
        ip => ip.to_string(),
    }
}

/// The permission rule of an AdminServer command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Anyone (ZooKeeper's read-only commands).
    Open,
    /// ALL on `/` for an authenticated caller (ZooKeeper 3.9: `snapshot`, `restore`,
    /// `shed_connections`).
    Admin,
    /// Commands that change server state (statistics resets, the trace mask): as
    /// [`Rule::Admin`], except that a caller on a loopback address may run them without an
    /// `Authorization` header (ZooKeeper 3.9 lets anyone run them; tools on the server's
    /// own host keep working).
    AdminOrLoopback,
}

/// The rule of a command, by primary name.
pub fn rule(primary: &str) -> Rule {
    match primary {
        "snapshot" | "restore" => Rule::Admin,
        "stat_reset"
        | "connection_stat_reset"
        | "observer_connection_stat_reset"
        | "set_trace_mask" => Rule::AdminOrLoopback,
        _ => Rule::Open,
    }
}

/// ZooKeeper's `zookeeper.perms.ALL`.
pub const PERM_ALL: i32 = 31;
/// ZooKeeper's `zookeeper.perms.READ`.
pub const PERM_READ: i32 = 1;

/// At most one call per interval (ZooKeeper's admin `RateLimiter` for `snapshot`).
#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    last: Mutex<Option<Instant>>,
}

impl RateLimiter {
    /// A limiter allowing one call per `interval` (zero: no limit).
    pub fn new(interval: Duration) -> RateLimiter {
        RateLimiter {
            interval,
            last: Mutex::new(None),
        }
    }

    /// Whether a call may go ahead now (and, if so, counts it).
    pub fn allow(&self) -> bool {
        let now = Instant::now();
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if last.is_some_and(|t| now.duration_since(t) < self.interval) {
            return false;
        }
        *last = Some(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(x509: Option<&str>) -> Peer {
        Peer {
            addr: "[::ffff:10.1.2.3]:5000".parse().expect("addr"),
            x509: x509.map(str::to_owned),
            tls: x509.is_some(),
        }
    }

    #[test]
    fn authorization_headers_as_zookeeper_splits_them() {
        let p = peer(Some("CN=alice"));
        assert_eq!(
            parse("digest bob:secret", &p),
            Ok(Credential::Digest("bob:secret".into()))
        );
        assert_eq!(parse("x509", &p), Ok(Credential::X509("CN=alice".into())));
        assert_eq!(parse("ip", &p), Ok(Credential::Ip("10.1.2.3".into())));
        assert_eq!(parse("x509", &peer(None)), Err(AuthError::Failed));
        for bad in [
            "",
            "digest",
            "digest nocolon",
            "digest a:b c",
            "basic x",
            "Digest a:b",
        ] {
            assert_eq!(parse(bad, &p), Err(AuthError::Failed), "{bad:?}");
        }
    }

    #[test]
    fn state_changing_commands_need_rights() {
        assert_eq!(rule("monitor"), Rule::Open);
        assert_eq!(rule("snapshot"), Rule::Admin);
        assert_eq!(rule("stat_reset"), Rule::AdminOrLoopback);
        assert_eq!(rule("set_trace_mask"), Rule::AdminOrLoopback);
    }

    #[test]
    fn rate_limiter_allows_one_per_interval() {
        let r = RateLimiter::new(Duration::from_secs(3600));
        assert!(r.allow());
        assert!(!r.allow());
        let open = RateLimiter::new(Duration::ZERO);
        assert!(open.allow() && open.allow());
    }
}
