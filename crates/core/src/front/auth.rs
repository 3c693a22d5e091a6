//! Identities of a connection: `addauth` (ZooKeeper: `processPacket`, auth), the SASL
//! DIGEST-MD5 exchange (`processSasl`) and identities the transport established (x509).

use menagerie_proto::records::{AuthPacket, Id};
use menagerie_proto::response::Response;
use menagerie_proto::{ErrorCode, Zxid};

use super::Front;
use crate::auth::{AuthConfig, digest_auth};
use crate::input::ConnId;
use crate::output::Output;
use crate::sasl::{self, SaslFailure};

/// Most identities one connection may hold. Every ACL check scans them, and ZooKeeper sets
/// no limit: 100,000 `addauth` on one connection cost 32 s of server time and slowed every
/// later check. A client needs a handful.
pub const MAX_IDENTITIES: usize = 256;

impl Front {
    /// Adds an identity to the connection. The reply echoes the request's xid, as
    /// ZooKeeper's `processPacket` does: the Java client always sends -4, other clients (e.g.
    /// the Rust `zookeeper-client`) use ordinary xids and wait for them.
    pub(crate) fn auth(
        &mut self,
        conn: ConnId,
        xid: i32,
        a: AuthPacket,
        config: &AuthConfig,
        out: &mut Vec<Output>,
    ) {
        let ids = match a.scheme.as_str() {
            "digest" => {
                let text = String::from_utf8_lossy(a.auth.as_deref().unwrap_or_default());
                Some(digest_auth(&text, config))
            }
            "ip" => self
                .ids(conn)
                .iter()
                .find(|i| i.scheme == "ip")
                .cloned()
                .map(|id| vec![id]),
            _ => None,
        };
        let held = self.ids(conn);
        let new = ids.as_ref().map(|ids| {
            ids.iter()
                .filter(|id| !held.contains(id))
                .cloned()
                .collect::<Vec<_>>()
        });
        let too_many = new
            .as_ref()
            .is_some_and(|n| held.len() + n.len() > MAX_IDENTITIES);
        let (Some(new), false) = (new, too_many) else {
            if too_many {
                tracing::warn!(
                    conn = conn.0,
                    limit = MAX_IDENTITIES,
                    "addauth refused: too many identities on one connection; closing"
                );
            }
            self.reply(
                conn,
                xid,
                Zxid::ZERO,
                ErrorCode::AuthFailed,
                Response::Empty,
                out,
            );
            self.close(conn, out);
            return;
        };
        if let Some(c) = self.conns.get_mut(&conn) {
            c.ids.extend(new);
        }
        self.reply(conn, xid, Zxid::ZERO, ErrorCode::Ok, Response::Empty, out);
    }

    /// Adds a transport identity (x509); the configured x509 super user also becomes
    /// `super`, as ZooKeeper's `X509AuthenticationProvider` does.
    pub(crate) fn add_identity(&mut self, conn: ConnId, id: Id, config: &AuthConfig) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let is_super =
            id.scheme == "x509" && config.x509_super_user.as_deref() == Some(id.id.as_str());
        let subject = id.id.clone();
        if !c.ids.contains(&id) {
            c.ids.push(id);
        }
        if is_super {
            c.ids.push(Id {
                scheme: "super".into(),
                id: subject,
            });
        }
    }

    /// One step of a SASL DIGEST-MD5 exchange: the first token gets the challenge, the second
    /// is verified and answered with `rspauth`. A failure (or SASL not configured) is
    /// AuthFailed, or SessionClosedRequireSaslAuth when enforce.auth requires `sasl`, and the
    /// connection is closed.
    pub(crate) fn sasl(
        &mut self,
        conn: ConnId,
        xid: i32,
        token: Vec<u8>,
        config: &AuthConfig,
        out: &mut Vec<Output>,
    ) {
        self.sasl_serial += 1;
        match self.sasl_step(conn, &token, config) {
            Some(Ok(token)) => {
                let body = Response::Sasl(Some(token));
                self.reply(conn, xid, Zxid::ZERO, ErrorCode::Ok, body, out);
            }
            Some(Err(why)) => {
                tracing::warn!(
                    conn = conn.0,
                    reason = why,
                    "SASL authentication failed; closing"
                );
                let err = if config.enforce_auth_schemes.iter().any(|s| s == "sasl") {
                    ErrorCode::SessionClosedRequireSaslAuth
                } else {
                    ErrorCode::AuthFailed
                };
                self.reply(conn, xid, Zxid::ZERO, err, Response::Empty, out);
                self.close(conn, out);
            }
            None => {}
        }
    }

    /// The next token of the exchange, or why it failed (`None`: no such connection).
    fn sasl_step(
        &mut self,
        conn: ConnId,
        token: &[u8],
        config: &AuthConfig,
    ) -> Option<Result<Vec<u8>, &'static str>> {
        let serial = self.sasl_serial;
        let c = self.conns.get_mut(&conn)?;
        Some(match c.sasl.take() {
            _ if config.sasl_users.is_empty() => Err("SASL is not configured (no JAAS users)"),
            None => {
                let nonce = sasl::nonce(config.nonce_secret, conn.0, serial);
                let challenge = sasl::challenge(&nonce);
                c.sasl = Some(nonce);
                Ok(challenge)
            }
            Some(nonce) if !nonce.is_empty() => {
                match sasl::verify(token, &nonce, &config.sasl_users) {
                    Ok((user, rspauth)) => {
                        tracing::info!(conn = conn.0, user = %user, "SASL DIGEST-MD5 authentication succeeded");
                        let is_super = config.sasl_super_users.contains(&user);
                        c.ids.push(Id {
                            scheme: "sasl".into(),
                            id: user,
                        });
                        if is_super {
                            c.ids.push(Id {
                                scheme: "super".into(),
                                id: String::new(),
                            });
                        }
                        c.sasl = Some(String::new());
                        Ok(rspauth)
                    }
                    Err(SaslFailure::BadCredentials) => Err("bad credentials"),
                    Err(SaslFailure::Protocol(why)) => Err(why),
                }
            }
            Some(_) => Err("SASL exchange already complete"),
        })
    }
}
