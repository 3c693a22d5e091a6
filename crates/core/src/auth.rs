//! Identities and the permission check (ZooKeeper: `ZooKeeperServer.checkACL`, the
//! `digest` and `ip` authentication providers).

use base64::Engine;
use hmac::{Hmac, Mac};
use menagerie_proto::SessionId;
use menagerie_proto::records::{Acl, Id};
use menagerie_proto::session::{PASSWORD_LEN, session_password};
use sha1::{Digest, Sha1};

/// Authentication switches of the server (ZooKeeper system properties, also accepted as
/// zoo.cfg keys; spec 06 §6.7).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthConfig {
    /// `zookeeper.DigestAuthenticationProvider.superDigest`: a `super:<base64 sha1>` digest
    /// id; a connection whose `addauth digest` produces exactly this id also becomes `super`.
    pub super_digest: Option<String>,
    /// `zookeeper.skipACL=yes`: no permission checks at all.
    pub skip_acl: bool,
    /// `zookeeper.enforce.auth.enabled` with `zookeeper.enforce.auth.schemes`: when not
    /// empty, every request (other than auth and SASL) from a connection without an identity
    /// of one of these schemes gets SessionClosedRequireSaslAuth (-124) and the connection is
    /// closed.
    pub enforce_auth_schemes: Vec<String>,
    /// `zookeeper.X509AuthenticationProvider.superUser`: the x509 identity (certificate
    /// subject) that is also `super`.
    pub x509_super_user: Option<String>,
    /// SASL DIGEST-MD5 users (name -> password) from the JAAS `Server` section; empty means
    /// SASL is not offered (requests get AuthFailed and the connection is closed).
    pub sasl_users: std::collections::BTreeMap<String, String>,
    /// `zookeeper.superUser`: SASL user names that are also `super`.
    pub sasl_super_users: Vec<String>,
    /// Secret mixed into DIGEST-MD5 nonces (random per server start).
    pub nonce_secret: u64,
    /// `menagerie.sessionSecretFile`: a secret shared by every member of an all-Menagerie
    /// ensemble, mixed into session passwords (see [`AuthConfig::session_password`]).
    pub session_secret: Option<Vec<u8>>,
}

impl AuthConfig {
    /// The password of `session`. Without a session secret it is ZooKeeper's, computed from
    /// the session id alone (`ZooKeeperServer.generatePasswd`), which Java members of a
    /// mixed ensemble need; but then anyone who learns a session id can take the session
    /// over. With a secret it is the first 16 bytes of HMAC-SHA1(secret, "menagerie session
    /// password" ‖ session id), which only servers holding the secret can compute.
    pub fn session_password(&self, session: SessionId) -> [u8; PASSWORD_LEN] {
        let Some(secret) = &self.session_secret else {
            return session_password(session.0);
        };
        let mut mac =
            <Hmac<Sha1> as Mac>::new_from_slice(secret).expect("HMAC accepts keys of any length");
        mac.update(b"menagerie session password");
        mac.update(&session.0.to_be_bytes());
        let tag = mac.finalize().into_bytes();
        let mut out = [0u8; PASSWORD_LEN];
        out.copy_from_slice(&tag[..PASSWORD_LEN]);
        out
    }
}

/// The identities `addauth digest <user:password>` adds, in the order ZooKeeper adds them:
/// `super:""` first when the digest equals the configured super digest, then the digest id.
pub fn digest_auth(user_password: &str, config: &AuthConfig) -> Vec<Id> {
    let id = digest_id(user_password);
    let mut ids = Vec::with_capacity(2);
    if config.super_digest.as_deref() == Some(id.as_str()) {
        ids.push(Id {
            scheme: "super".into(),
            id: String::new(),
        });
    }
    ids.push(Id {
        scheme: "digest".into(),
        id,
    });
    ids
}

/// Whether a connection with `ids` may send requests under `config`'s enforce.auth rule
/// (ZooKeeper: `AuthenticationHelper.enforceAuthentication`).
pub fn passes_enforcement(ids: &[Id], config: &AuthConfig) -> bool {
    config.enforce_auth_schemes.is_empty()
        || ids
            .iter()
            .any(|i| config.enforce_auth_schemes.contains(&i.scheme))
}

/// The stored identity for `addauth digest user:password`:
/// `user:base64(sha1("user:password"))`.
pub fn digest_id(user_password: &str) -> String {
    let user = user_password.split(':').next().unwrap_or_default();
    let hash = Sha1::digest(user_password.as_bytes());
    format!(
        "{user}:{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

/// Whether identities of this scheme count as "authenticated" (what the `auth` ACL scheme
/// expands to).
pub fn is_authenticated_scheme(scheme: &str) -> bool {
    matches!(scheme, "digest" | "sasl" | "x509")
}

/// The user name `whoAmI` reports for an identity.
pub fn user_name(id: &Id) -> &str {
    match id.scheme.as_str() {
        "digest" => id.id.split(':').next().unwrap_or_default(),
        _ => &id.id,
    }
}

/// Whether `ids` grant `perm` on a node with `acl` (ZooKeeper: `checkACL`). `skip` is
/// `zookeeper.skipACL=yes`; an empty ACL allows everything; `super` bypasses every check.
pub fn check_acl(acl: &[Acl], perm: i32, ids: &[Id], skip: bool) -> bool {
    if skip || acl.is_empty() || ids.iter().any(|i| i.scheme == "super") {
        return true;
    }
    acl.iter().any(|entry| {
        entry.perms & perm != 0
            && ((entry.id.scheme == "world" && entry.id.id == "anyone")
                || ids
                    .iter()
                    .any(|id| id.scheme == entry.id.scheme && id_matches(id, &entry.id.id)))
    })
}

fn id_matches(id: &Id, acl_id: &str) -> bool {
    match id.scheme.as_str() {
        "ip" => ip_matches(&id.id, acl_id),
        _ => id.id == acl_id,
    }
}

fn ip_bytes(s: &str) -> Option<Vec<u8>> {
    if let Ok(v4) = s.parse::<std::net::Ipv4Addr>() {
        return Some(v4.octets().to_vec());
    }
    s.parse::<std::net::Ipv6Addr>()
        .ok()
        .map(|v6| v6.octets().to_vec())
}

/// `ip` provider match: both addresses masked to the ACL's prefix length.
fn ip_matches(addr: &str, acl: &str) -> bool {
    let (net, bits) = match acl.split_once('/') {
        Some((n, b)) => (n, b.parse::<usize>().ok()),
        None => (acl, None),
    };
    let (Some(a), Some(n)) = (ip_bytes(addr), ip_bytes(net)) else {
        return false;
    };
    if a.len() != n.len() {
        return false;
    }
    let bits = bits.unwrap_or(a.len() * 8).min(a.len() * 8);
    (0..a.len()).all(|i| {
        let keep = bits.saturating_sub(i * 8).min(8);
        let mask = if keep == 0 { 0 } else { 0xffu8 << (8 - keep) };
        a[i] & mask == n[i] & mask
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use menagerie_proto::records::perms;

    fn id(s: &str, i: &str) -> Id {
        Id {
            scheme: s.into(),
            id: i.into(),
        }
    }

    #[test]
    fn digest_matches_zookeeper() {
        // DigestAuthenticationProvider.generateDigest("super:test") as documented by ZooKeeper.
        assert_eq!(
            digest_id("super:test"),
            "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
        );
    }

    #[test]
    fn permission_checks() {
        let acl = vec![
            Acl {
                perms: perms::READ,
                id: id("world", "anyone"),
            },
            Acl {
                perms: perms::ALL,
                id: id("ip", "10.1.0.0/16"),
            },
        ];
        assert!(check_acl(&acl, perms::READ, &[], false));
        assert!(!check_acl(
            &acl,
            perms::WRITE,
            &[id("ip", "10.2.0.1")],
            false
        ));
        assert!(check_acl(
            &acl,
            perms::WRITE,
            &[id("ip", "10.1.200.1")],
            false
        ));
        assert!(check_acl(&acl, perms::WRITE, &[id("super", "")], false));
        assert!(check_acl(&[], perms::ADMIN, &[], false));
        assert!(!ip_matches("::1", "127.0.0.1"));
        assert!(ip_matches("127.0.0.1", "127.0.0.0/8"));
    }
}
