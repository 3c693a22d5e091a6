//! SASL DIGEST-MD5 (RFC 2831) on the server side, as ZooKeeper's `zookeeper/zk-sasl-md5`
//! service offers it with users from a JAAS `Server` section (`DigestLoginModule`,
//! `user_<name>="<password>"`). Only `qop=auth` is offered (no integrity or privacy
//! layer), as ZooKeeper's clients use it. Kerberos (GSSAPI) is not implemented.
//!
//! Quorum SASL (`quorum.auth.*`) runs the same mechanism between members under another
//! service ([`QUORUM`]), with the learner's side here too ([`respond`], [`check_rspauth`]).

use std::collections::BTreeMap;

use md5::{Digest, Md5};

/// The realm and server name ZooKeeper uses for DIGEST-MD5.
pub const REALM: &str = "zk-sasl-md5";
/// The digest-uri clients must use.
pub const DIGEST_URI: &str = "zookeeper/zk-sasl-md5";

/// The names one DIGEST-MD5 service authenticates under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service {
    /// The realm the server offers (Java: the server name).
    pub realm: &'static str,
    /// The digest-uri clients must use (`protocol/server name`).
    pub digest_uri: &'static str,
}

/// ZooKeeper's client port (`zookeeper/zk-sasl-md5`).
pub const CLIENT: Service = Service {
    realm: REALM,
    digest_uri: DIGEST_URI,
};

/// Quorum SASL between members (`zookeeper-quorum/zk-quorum-sasl-md5`).
pub const QUORUM: Service = Service {
    realm: "zk-quorum-sasl-md5",
    digest_uri: "zookeeper-quorum/zk-quorum-sasl-md5",
};

/// Why an exchange failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaslFailure {
    /// The response is malformed or does not match the challenge.
    Protocol(&'static str),
    /// Unknown user or wrong password.
    BadCredentials,
}

/// A fresh nonce: md5 of the server's secret, the connection and a counter (the secret is
/// random per server start, so nonces are unpredictable and never repeat).
pub fn nonce(secret: u64, conn: u64, serial: u64) -> String {
    hex(&md5(&[
        &secret.to_le_bytes(),
        &conn.to_le_bytes(),
        &serial.to_le_bytes(),
    ]))
}

/// The server's challenge for `nonce` (client port).
pub fn challenge(nonce: &str) -> Vec<u8> {
    challenge_for(CLIENT, nonce)
}

/// The challenge of `service` for `nonce`.
pub fn challenge_for(service: Service, nonce: &str) -> Vec<u8> {
    let realm = service.realm;
    format!("realm=\"{realm}\",nonce=\"{nonce}\",qop=\"auth\",charset=utf-8,algorithm=md5-sess")
        .into_bytes()
}

/// Parses `key=value` / `key="quoted value"` directives separated by commas.
pub fn parse_directives(text: &[u8]) -> BTreeMap<String, String> {
    let text = String::from_utf8_lossy(text);
    let mut out = BTreeMap::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        let mut key = String::new();
        for c in chars.by_ref() {
            if c == '=' {
                break;
            }
            if !c.is_whitespace() {
                key.push(c);
            }
        }
        if key.is_empty() {
            return out;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut escaped = false;
            for c in chars.by_ref() {
                match (escaped, c) {
                    (true, c) => {
                        value.push(c);
                        escaped = false;
                    }
                    (false, '\\') => escaped = true,
                    (false, '"') => break,
                    (false, c) => value.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        out.entry(key).or_insert_with(|| value.trim().to_owned());
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

/// The `response` (with `a2_prefix` "AUTHENTICATE") or `rspauth` (empty prefix) value.
fn digest_value(d: &BTreeMap<String, String>, password: &str, a2_prefix: &str) -> String {
    let get = |k: &str| d.get(k).map_or("", String::as_str);
    let key = md5(&[
        get("username").as_bytes(),
        b":",
        get("realm").as_bytes(),
        b":",
        password.as_bytes(),
    ]);
    let mut a1 = key.to_vec();
    a1.extend_from_slice(format!(":{}:{}", get("nonce"), get("cnonce")).as_bytes());
    if let Some(authzid) = d.get("authzid") {
        a1.extend_from_slice(format!(":{authzid}").as_bytes());
    }
    let ha1 = hex(&md5(&[&a1]));
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

/// Checks the client's response to the challenge with `nonce` (client port). On success:
/// the authenticated user name and the final server token (`rspauth=...`).
pub fn verify(
    response: &[u8],
    nonce: &str,
    users: &BTreeMap<String, String>,
) -> Result<(String, Vec<u8>), SaslFailure> {
    verify_for(CLIENT, response, nonce, users)
}

/// [`verify`] for `service`.
pub fn verify_for(
    service: Service,
    response: &[u8],
    nonce: &str,
    users: &BTreeMap<String, String>,
) -> Result<(String, Vec<u8>), SaslFailure> {
    let mut d = parse_directives(response);
    if d.get("nonce").map(String::as_str) != Some(nonce) {
        return Err(SaslFailure::Protocol("nonce mismatch"));
    }
    match d.get("realm").map(String::as_str) {
        None => {
            d.insert("realm".into(), service.realm.into());
        }
        Some(r) if r == service.realm => {}
        Some(_) => return Err(SaslFailure::Protocol("wrong realm")),
    }
    if d.get("digest-uri").map(String::as_str) != Some(service.digest_uri) {
        return Err(SaslFailure::Protocol("mismatched digest-uri"));
    }
    match d.get("qop").map(String::as_str) {
        None => {
            d.insert("qop".into(), "auth".into());
        }
        Some("auth") => {}
        Some(_) => return Err(SaslFailure::Protocol("only qop=auth is offered")),
    }
    if d.get("nc").map(String::as_str) != Some("00000001") {
        return Err(SaslFailure::Protocol("unexpected nonce count"));
    }
    if d.get("cnonce").is_none_or(String::is_empty) {
        return Err(SaslFailure::Protocol("missing cnonce"));
    }
    let user = d.get("username").cloned().unwrap_or_default();
    let password = users.get(&user).ok_or(SaslFailure::BadCredentials)?;
    let expected = digest_value(&d, password, "AUTHENTICATE");
    let given = d.get("response").map(|r| r.to_ascii_lowercase());
    if given.as_deref() != Some(expected.as_str()) {
        return Err(SaslFailure::BadCredentials);
    }
    let rspauth = digest_value(&d, password, "");
    Ok((user, format!("rspauth={rspauth}").into_bytes()))
}

/// What a client's response was computed from, to check the server's `rspauth` with.
#[derive(Clone)]
pub struct ClientExchange {
    directives: BTreeMap<String, String>,
    password: String,
}

impl std::fmt::Debug for ClientExchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientExchange").finish_non_exhaustive()
    }
}

/// The client's answer to a `service` challenge, for `user`/`password` with the client
/// nonce `cnonce` (the caller's randomness). Fails if the challenge offers no nonce or not
/// `qop=auth`.
pub fn respond(
    service: Service,
    challenge: &[u8],
    (user, password): (&str, &str),
    cnonce: &str,
) -> Result<(Vec<u8>, ClientExchange), SaslFailure> {
    let c = parse_directives(challenge);
    let nonce = c
        .get("nonce")
        .ok_or(SaslFailure::Protocol("challenge without a nonce"))?;
    if let Some(qop) = c.get("qop")
        && !qop.split(',').any(|q| q.trim() == "auth")
    {
        return Err(SaslFailure::Protocol("challenge does not offer qop=auth"));
    }
    let realm = c.get("realm").map_or(service.realm, String::as_str);
    let mut d = BTreeMap::new();
    for (k, v) in [
        ("username", user),
        ("realm", realm),
        ("nonce", nonce),
        ("nc", "00000001"),
        ("cnonce", cnonce),
        ("digest-uri", service.digest_uri),
        ("qop", "auth"),
    ] {
        d.insert(k.to_owned(), v.to_owned());
    }
    let response = digest_value(&d, password, "AUTHENTICATE");
    let quote = |v: &str| v.replace('\\', "\\\\").replace('"', "\\\"");
    let text = format!(
        "charset=utf-8,username=\"{}\",realm=\"{}\",nonce=\"{}\",nc=00000001,cnonce=\"{}\",\
         digest-uri=\"{}\",maxbuf=65536,response={response},qop=auth",
        quote(user),
        quote(realm),
        quote(nonce),
        quote(cnonce),
        service.digest_uri,
    );
    let exchange = ClientExchange {
        directives: d,
        password: password.to_owned(),
    };
    Ok((text.into_bytes(), exchange))
}

/// Checks the server's last token (`rspauth=...`): it proves the server knew the password.
pub fn check_rspauth(exchange: &ClientExchange, token: &[u8]) -> Result<(), SaslFailure> {
    let expected = digest_value(&exchange.directives, &exchange.password, "");
    match parse_directives(token).get("rspauth") {
        Some(r) if r.eq_ignore_ascii_case(&expected) => Ok(()),
        Some(_) => Err(SaslFailure::BadCredentials),
        None => Err(SaslFailure::Protocol("last token without rspauth")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client response computed independently (the RFC 2831 example shape with
    /// ZooKeeper's realm and digest-uri), checked against an externally computed value.
    fn response(user: &str, pw: &str, nonce: &str) -> Vec<u8> {
        let mut d = BTreeMap::new();
        for (k, v) in [
            ("username", user),
            ("realm", REALM),
            ("nonce", nonce),
            ("cnonce", "OA6MHXh6VqTrRk"),
            ("nc", "00000001"),
            ("qop", "auth"),
            ("digest-uri", DIGEST_URI),
        ] {
            d.insert(k.to_owned(), v.to_owned());
        }
        let r = digest_value(&d, pw, "AUTHENTICATE");
        format!(
            "username=\"{user}\",realm=\"{REALM}\",nonce=\"{nonce}\",cnonce=\"OA6MHXh6VqTrRk\",\
             nc=00000001,qop=auth,digest-uri=\"{DIGEST_URI}\",response={r}"
        )
        .into_bytes()
    }

    #[test]
    fn digest_matches_an_independent_computation() {
        // Computed with Python's hashlib following pure-sasl's DigestMD5Mechanism.
        let r = String::from_utf8(response("bob", "pw", "abc")).expect("utf8");
        assert!(
            r.ends_with("response=47266e8f068ca19dcb73241ef2f3f432"),
            "{r}"
        );
        let users = BTreeMap::from([("bob".to_owned(), "pw".to_owned())]);
        let (_, token) = verify(r.as_bytes(), "abc", &users).expect("ok");
        assert_eq!(token, b"rspauth=efce05756a41e65df8efd65939b5a75a");
    }

    #[test]
    fn verifies_right_and_refuses_wrong_credentials() {
        let users = BTreeMap::from([("bob".to_owned(), "pw".to_owned())]);
        let (user, token) = verify(&response("bob", "pw", "n1"), "n1", &users).expect("ok");
        assert_eq!(user, "bob");
        assert!(token.starts_with(b"rspauth="));
        assert_eq!(
            verify(&response("bob", "bad", "n1"), "n1", &users),
            Err(SaslFailure::BadCredentials)
        );
        assert_eq!(
            verify(&response("eve", "pw", "n1"), "n1", &users),
            Err(SaslFailure::BadCredentials)
        );
        assert_eq!(
            verify(&response("bob", "pw", "n1"), "n2", &users),
            Err(SaslFailure::Protocol("nonce mismatch"))
        );
        assert!(verify(b"", "n1", &users).is_err());
        assert!(verify(b"garbage,,=\"", "n1", &users).is_err());
    }

    #[test]
    fn parses_quoted_and_bare_values() {
        let d = parse_directives(b"a=\"x,y\", b=1 ,c=\"q\\\"r\",a=dup");
        assert_eq!(d["a"], "x,y");
        assert_eq!(d["b"], "1");
        assert_eq!(d["c"], "q\"r");
    }

    #[test]
    fn quorum_client_and_server_agree_and_wrong_passwords_fail() {
        let users = BTreeMap::from([("learner".to_owned(), "secret".to_owned())]);
        let challenge = challenge_for(QUORUM, "n7");
        let (resp, ex) = respond(QUORUM, &challenge, ("learner", "secret"), "c1").expect("ok");
        let text = String::from_utf8(resp.clone()).expect("utf8");
        assert!(text.contains("digest-uri=\"zookeeper-quorum/zk-quorum-sasl-md5\""));
        assert!(text.contains("realm=\"zk-quorum-sasl-md5\""));
        let (user, token) = verify_for(QUORUM, &resp, "n7", &users).expect("verified");
        assert_eq!(user, "learner");
        assert_eq!(check_rspauth(&ex, &token), Ok(()));
        // The client-port service does not accept a quorum response, nor the reverse.
        assert!(verify(&resp, "n7", &users).is_err());
        let (wrong, ex2) = respond(QUORUM, &challenge, ("learner", "nope"), "c1").expect("ok");
        assert_eq!(
            verify_for(QUORUM, &wrong, "n7", &users),
            Err(SaslFailure::BadCredentials)
        );
        assert_eq!(
            check_rspauth(&ex2, &token),
            Err(SaslFailure::BadCredentials)
        );
        assert!(respond(QUORUM, b"realm=\"x\"", ("a", "b"), "c").is_err());
        assert!(respond(QUORUM, b"nonce=\"x\",qop=\"auth-conf\"", ("a", "b"), "c").is_err());
    }

    #[test]
    fn quorum_response_matches_an_independent_computation() {
        // md5-sess per RFC 2831 computed with Python's hashlib for user "learner", password
        // "secret", realm zk-quorum-sasl-md5, nonce "n7", cnonce "c1",
        // digest-uri zookeeper-quorum/zk-quorum-sasl-md5.
        let (resp, _) = respond(
            QUORUM,
            &challenge_for(QUORUM, "n7"),
            ("learner", "secret"),
            "c1",
        )
        .expect("ok");
        let text = String::from_utf8(resp).expect("utf8");
        assert!(
            text.contains("response=8027254d01e28eab0b06ac85bb132880"),
            "{text}"
        );
    }
}
