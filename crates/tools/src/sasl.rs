//! The client side of SASL DIGEST-MD5 (RFC 2831) as ZooKeeper's Java client runs it: service
//! `zookeeper`, server name `zk-sasl-md5` (so `digest-uri="zookeeper/zk-sasl-md5"`),
//! `qop=auth`, the credentials of a JAAS `Client` section (`DigestLoginModule`).
//!
//! The exchange: the client sends an empty token, the server answers with a challenge
//! (realm, nonce, qop, algorithm `md5-sess`), the client answers with [`respond`], and the
//! server's last token (`rspauth=...`) proves it knew the password too ([`check_rspauth`]).

use std::collections::BTreeMap;

use md5::{Digest, Md5};

/// The digest-uri ZooKeeper's client uses.
pub const DIGEST_URI: &str = "zookeeper/zk-sasl-md5";

/// A user name and password (a JAAS `Client` section's `username` and `password`).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `username`.
    pub username: String,
    /// `password`.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// The values the response was computed from, to check the server's `rspauth` with.
#[derive(Debug, Clone)]
pub struct Exchange {
    directives: BTreeMap<String, String>,
    password: String,
}

/// Parses `key=value` / `key="quoted value"` directives separated by commas.
pub fn parse_directives(text: &[u8]) -> BTreeMap<String, String> {
    let text = String::from_utf8_lossy(text);
    let mut out = BTreeMap::new();
    let mut rest = text.as_ref();
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ',');
        let Some(eq) = rest.find('=') else {
            return out;
        };
        let key = rest[..eq].trim().to_string();
        rest = &rest[eq + 1..];
        let mut value = String::new();
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            value.push(n);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => value.push(c),
                }
            }
            rest = &quoted[end.min(quoted.len())..];
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            value = rest[..end].trim().to_string();
            rest = &rest[end..];
        }
        out.insert(key, value);
    }
}

fn md5(parts: &[&[u8]]) -> [u8; 16] {
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `response` (with `a2_prefix` "AUTHENTICATE") or `rspauth` (empty prefix), md5-sess.
fn digest_value(d: &BTreeMap<String, String>, password: &str, a2_prefix: &str) -> String {
    let get = |k: &str| d.get(k).map_or("", String::as_str);
    let key = md5(&[
        get("username").as_bytes(),
        b":",
        get("realm").as_bytes(),
        b":",
        password.as_bytes(),
    ]);
    let a1_tail = format!(":{}:{}", get("nonce"), get("cnonce"));
    let ha1 = hex(&md5(&[&key, a1_tail.as_bytes()]));
    let ha2 = hex(&md5(&[
        a2_prefix.as_bytes(),
        b":",
        get("digest-uri").as_bytes(),
    ]));
    let kd = format!(
        "{ha1}:{}:{}:{}:{}:{ha2}",
        get("nonce"),
        get("nc"),
        get("cnonce"),
        get("qop")
    );
    hex(&md5(&[kd.as_bytes()]))
}

/// The answer to the server's `challenge`, with the client nonce `cnonce`. Fails if the
/// challenge does not offer what ZooKeeper's client needs (a nonce, `qop=auth`).
pub fn respond(
    challenge: &[u8],
    creds: &Credentials,
    cnonce: &str,
) -> Result<(Vec<u8>, Exchange), String> {
    let c = parse_directives(challenge);
    let nonce = c
        .get("nonce")
        .ok_or("the server's DIGEST-MD5 challenge has no nonce")?;
    if let Some(qop) = c.get("qop")
        && !qop.split(',').any(|q| q.trim() == "auth")
    {
        return Err(format!("the server offers qop={qop}, not auth"));
    }
    let realm = c.get("realm").cloned().unwrap_or_default();
    let mut d = BTreeMap::new();
    for (k, v) in [
        ("username", creds.username.as_str()),
        ("realm", &realm),
        ("nonce", nonce),
        ("nc", "00000001"),
        ("cnonce", cnonce),
        ("digest-uri", DIGEST_URI),
        ("qop", "auth"),
    ] {
        d.insert(k.to_string(), v.to_string());
    }
    let response = digest_value(&d, &creds.password, "AUTHENTICATE");
    let quote = |v: &str| v.replace('\\', "\\\\").replace('"', "\\\"");
    let text = format!(
        "charset=utf-8,username=\"{}\",realm=\"{}\",nonce=\"{}\",nc=00000001,cnonce=\"{}\",digest-uri=\"{DIGEST_URI}\",maxbuf=65536,response={response},qop=auth",
        quote(&creds.username),
        quote(&realm),
        quote(nonce),
        quote(cnonce)
    );
    Ok((
        text.into_bytes(),
        Exchange {
            directives: d,
            password: creds.password.clone(),
        },
    ))
}

/// Checks the server's final token (`rspauth=...`).
pub fn check_rspauth(exchange: &Exchange, token: &[u8]) -> Result<(), String> {
    let d = parse_directives(token);
    let expected = digest_value(&exchange.directives, &exchange.password, "");
    match d.get("rspauth") {
        Some(r) if r.eq_ignore_ascii_case(&expected) => Ok(()),
        Some(_) => Err("the server's rspauth does not match: it does not know the password".into()),
        None => Err("the server's last DIGEST-MD5 token has no rspauth".into()),
    }
}

/// A fresh client nonce: 16 random bytes, hex.
pub fn cnonce() -> Result<String, String> {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| "no random numbers for the SASL client nonce".to_string())?;
    Ok(hex(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 2831 section 4's example, with its md5-sess values (realm elwood.innosoft.com,
    /// user chris, password secret, digest-uri imap/elwood.innosoft.com).
    #[test]
    fn rfc_2831_example() {
        let mut d = BTreeMap::new();
        for (k, v) in [
            ("username", "chris"),
            ("realm", "elwood.innosoft.com"),
            ("nonce", "OA6MG9tEQGm2hh"),
            ("nc", "00000001"),
            ("cnonce", "OA6MHXh6VqTrRk"),
            ("digest-uri", "imap/elwood.innosoft.com"),
            ("qop", "auth"),
        ] {
            d.insert(k.to_string(), v.to_string());
        }
        assert_eq!(
            digest_value(&d, "secret", "AUTHENTICATE"),
            "d388dad90d4bbd760a152321f2143af7"
        );
        assert_eq!(
            digest_value(&d, "secret", ""),
            "ea40f60335c427b5527b84dbabcdfffd"
        );
    }

    #[test]
    fn responds_to_a_zookeeper_challenge() {
        let challenge =
            b"realm=\"zk-sasl-md5\",nonce=\"abc\",qop=\"auth\",charset=utf-8,algorithm=md5-sess";
        let creds = Credentials {
            username: "bob".into(),
            password: "pw".into(),
        };
        let (resp, exchange) = respond(challenge, &creds, "xyz").expect("response");
        let d = parse_directives(&resp);
        assert_eq!(d["username"], "bob");
        assert_eq!(d["digest-uri"], DIGEST_URI);
        assert_eq!(d["nonce"], "abc");
        assert_eq!(d["response"].len(), 32);
        let rspauth = format!("rspauth={}", digest_value(&exchange.directives, "pw", ""));
        assert!(check_rspauth(&exchange, rspauth.as_bytes()).is_ok());
        assert!(check_rspauth(&exchange, b"rspauth=00").is_err());
        assert!(respond(b"realm=\"x\",qop=\"auth-conf\",nonce=\"n\"", &creds, "c").is_err());
        assert!(respond(b"realm=\"x\"", &creds, "c").is_err());
    }
}
