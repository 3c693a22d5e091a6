//! Quorum SASL exchanges (ZooKeeper's `SaslQuorumAuthLearner` / `SaslQuorumAuthServer`):
//! DIGEST-MD5 in `QuorumAuthPacket`s, run by the dialling member (the "learner") right after
//! it connects to a quorum port or sends its election initial message, and by the accepting
//! member (the "server") before it reads anything else.
//!
//! The learner sends an empty token; the server answers with a challenge; the learner's
//! response comes back with SUCCESS and `rspauth`, or ERROR. A server that does not require
//! SASL lets through a learner that sends no auth packet, or whose credentials fail (as
//! ZooKeeper does, with a warning).

use menagerie_core::sasl::{self, QUORUM};
use menagerie_proto::quorum::auth::{AuthPacket, AuthStatus};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::config::quorum_security::QuorumSaslSettings;
use crate::security_config::random_u64;

/// Writes one auth packet.
async fn send<S: AsyncWrite + Unpin>(
    s: &mut S,
    status: AuthStatus,
    token: Vec<u8>,
) -> Result<(), String> {
    let bytes = AuthPacket { status, token }.to_bytes();
    s.write_all(&bytes).await.map_err(|e| e.to_string())?;
    s.flush().await.map_err(|e| e.to_string())
}

/// Reads into `buf` until it holds at least `n` bytes; false at end of stream.
async fn fill<S: AsyncRead + Unpin>(
    s: &mut S,
    buf: &mut Vec<u8>,
    n: usize,
) -> Result<bool, String> {
    while buf.len() < n {
        let mut chunk = [0u8; 1024];
        let got = s.read(&mut chunk).await.map_err(|e| e.to_string())?;
        if got == 0 {
            return Ok(false);
        }
        buf.extend_from_slice(&chunk[..got]);
    }
    Ok(true)
}

/// Reads one auth packet from `s` (after what `buf` already holds); the bytes after it stay
/// in `buf`.
async fn receive<S: AsyncRead + Unpin>(s: &mut S, buf: &mut Vec<u8>) -> Result<AuthPacket, String> {
    loop {
        match AuthPacket::parse(buf).map_err(|e| format!("bad auth packet: {e}"))? {
            Some((p, used)) => {
                buf.drain(..used);
                return Ok(p);
            }
            None => {
                let want = buf.len() + 1;
                if !fill(s, buf, want).await? {
                    return Err("closed during authentication".into());
                }
            }
        }
    }
}

/// A fresh hex nonce.
fn fresh_nonce() -> String {
    format!("{:016x}{:016x}", random_u64(), random_u64())
}

/// The learner's side. Returns the bytes read after the server's last packet.
pub async fn learner<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    settings: &QuorumSaslSettings,
) -> Result<Vec<u8>, String> {
    let mut buf = Vec::new();
    send(s, AuthStatus::InProgress, Vec::new()).await?;
    let challenge = receive(s, &mut buf).await?;
    match challenge.status {
        AuthStatus::InProgress => {}
        AuthStatus::Error => return Err("the member refused to authenticate us".into()),
        AuthStatus::Success => return Err("the member ended the exchange early".into()),
    }
    let (user, password) = &settings.learner;
    let (response, exchange) =
        sasl::respond(QUORUM, &challenge.token, (user, password), &fresh_nonce())
            .map_err(|e| format!("DIGEST-MD5 challenge: {e:?}"))?;
    send(s, AuthStatus::InProgress, response).await?;
    let last = receive(s, &mut buf).await?;
    match last.status {
        AuthStatus::Success => {
            sasl::check_rspauth(&exchange, &last.token)
                .map_err(|_| "the member's rspauth is wrong: it does not know our password")?;
            Ok(buf)
        }
        AuthStatus::Error => Err(format!(
            "the member refused our credentials (user {user:?})"
        )),
        AuthStatus::InProgress => Err("the member asked for another round".into()),
    }
}

/// The accepting member's side, with `buf` the bytes already read from `s`. Returns the
/// bytes to read the connection on with (after any auth packets), or why it must be closed.
pub async fn server<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    mut buf: Vec<u8>,
    settings: &QuorumSaslSettings,
) -> Result<Vec<u8>, String> {
    let complete = fill(s, &mut buf, 8).await?;
    if !complete || AuthPacket::starts(&buf) != Some(true) {
        if settings.server_require {
            return Err(
                "the member did not authenticate and quorum.auth.serverRequireSasl=true".into(),
            );
        }
        return Ok(buf);
    }
    match exchange(s, &mut buf, settings).await {
        Ok(user) => {
            tracing::info!(user, "quorum member authenticated with SASL");
            Ok(buf)
        }
        Err(why) if settings.server_require => Err(why),
        Err(why) => {
            tracing::warn!(
                why,
                "quorum SASL failed; keeping the connection (quorum.auth.serverRequireSasl=false)"
            );
            Ok(buf)
        }
    }
}

/// Runs the server's side of an exchange whose first packet is in `buf`; the user name.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    buf: &mut Vec<u8>,
    settings: &QuorumSaslSettings,
) -> Result<String, String> {
    let _first = receive(s, buf).await?;
    let nonce = fresh_nonce();
    send(
        s,
        AuthStatus::InProgress,
        sasl::challenge_for(QUORUM, &nonce),
    )
    .await?;
    let response = receive(s, buf).await?;
    match sasl::verify_for(QUORUM, &response.token, &nonce, &settings.server_users) {
        Ok((user, rspauth)) => {
            send(s, AuthStatus::Success, rspauth).await?;
            Ok(user)
        }
        Err(e) => {
            let _ = send(s, AuthStatus::Error, Vec::new()).await;
            Err(format!("quorum SASL refused: {e:?}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn settings(password: &str, server_require: bool) -> QuorumSaslSettings {
        QuorumSaslSettings {
            learner_require: true,
            server_require,
            learner: ("member".into(), password.into()),
            server_users: BTreeMap::from([("member".to_owned(), "right".to_owned())]),
        }
    }

    async fn run(
        learner_pw: &str,
        server_require: bool,
    ) -> (Result<Vec<u8>, String>, Result<Vec<u8>, String>) {
        let (mut a, mut b) = tokio::io::duplex(4096);
        let l = settings(learner_pw, server_require);
        let srv = settings("right", server_require);
        let learner = async {
            let r = learner(&mut a, &l).await;
            // What the learner sends next reaches the server after the exchange.
            let _ = a.write_all(b"NEXT").await;
            r
        };
        let server = async {
            let r = server(&mut b, Vec::new(), &srv).await;
            match r {
                Ok(mut rest) => {
                    let _ = fill(&mut b, &mut rest, 4).await;
                    Ok(rest)
                }
                e => e,
            }
        };
        tokio::join!(learner, server)
    }

    #[tokio::test]
    async fn right_password_passes_and_the_stream_continues() {
        let (l, s) = run("right", true).await;
        assert_eq!(l, Ok(Vec::new()));
        assert_eq!(s, Ok(b"NEXT".to_vec()));
    }

    #[tokio::test]
    async fn wrong_password_is_refused_when_required_and_let_through_otherwise() {
        let (l, s) = run("wrong", true).await;
        assert!(l.is_err() && s.is_err(), "{l:?} {s:?}");
        let (l, s) = run("wrong", false).await;
        assert!(l.is_err(), "the learner sees ERROR: {l:?}");
        assert!(s.is_ok(), "{s:?}");
    }

    #[tokio::test]
    async fn a_learner_without_sasl_passes_only_when_not_required() {
        for required in [true, false] {
            let (mut a, mut b) = tokio::io::duplex(256);
            a.write_all(&[0, 0, 0, 11, 1, 2, 3, 4, 5])
                .await
                .expect("write");
            let r = server(&mut b, Vec::new(), &settings("right", required)).await;
            if required {
                assert!(r.is_err());
            } else {
                assert_eq!(r, Ok(vec![0, 0, 0, 11, 1, 2, 3, 4, 5]));
            }
        }
    }
}
