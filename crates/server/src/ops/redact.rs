//! What operator output never shows in full: secrets in configuration values, and session
//! ids.
//!
//! * Secrets: the values of keys that name a password, a secret or the super digest
//!   (`ssl.keyStore.password`, `DigestAuthenticationProvider.superDigest`, ...) are replaced
//!   by [`REDACTED`] in `initial_configuration` and `system_properties`.
//! * Session ids: a session's password is derived from its id (ZooKeeper's formula, unless
//!   `menagerie.sessionSecretFile` is set), so an id is as good as the session to anyone who
//!   can reach the client port. `cons`, `dump`, `wchc`, `wchp` and the admin commands show
//!   [`masked_session`] instead: the id's high 40 bits (server id and start time, which every
//!   session of the server shares) and a keyed 24-bit fingerprint of the whole id, stable for
//!   the life of the process, so one session is recognisable across outputs without its id
//!   being given away.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::OnceLock;

/// What a redacted value reads as.
pub const REDACTED: &str = "******";

/// Whether the value of configuration key `key` is a secret.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["password", "passwd", "secret", "superdigest", "credential"]
        .iter()
        .any(|w| k.contains(w))
}

/// `value`, or [`REDACTED`] when `key` names a secret.
pub fn redact_value(key: &str, value: &str) -> String {
    if is_secret_key(key) {
        REDACTED.to_owned()
    } else {
        value.to_owned()
    }
}

/// A properties file (zoo.cfg) with the values of secret keys replaced, comments and layout
/// kept. A value continued on following lines (a trailing backslash) is replaced whole.
pub fn redact_properties_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // Whether the previous line continues onto this one, and whether its value is a secret.
    let (mut continuing, mut redacting) = (false, false);
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let continued = continuing;
        continuing = ends_with_continuation(body);
        if continued {
            // The rest of a value: dropped when the value is a secret (already redacted).
            if !redacting {
                out.push_str(line);
            }
            continue;
        }
        redacting = false;
        match secret_key_split(body) {
            Some(key_part) => {
                redacting = true;
                out.push_str(key_part);
                out.push_str(REDACTED);
                out.push_str(&line[body.len()..]);
            }
            None => out.push_str(line),
        }
    }
    out
}

/// Java's rule: a line continues when it ends with an odd number of backslashes.
fn ends_with_continuation(line: &str) -> bool {
    line.bytes().rev().take_while(|&b| b == b'\\').count() % 2 == 1
}

/// For a `key=value` line whose key is a secret: the line up to and including the
/// separator (where the value starts).
fn secret_key_split(line: &str) -> Option<&str> {
    let trimmed = line.trim_start();
    if trimmed.is_empty() || trimmed.starts_with(['#', '!']) {
        return None;
    }
    let start = line.len() - trimmed.len();
    let key_end = trimmed
        .char_indices()
        .find(|&(_, c)| c == '=' || c == ':' || c.is_whitespace())
        .map_or(trimmed.len(), |(i, _)| i);
    if !is_secret_key(&trimmed[..key_end]) {
        return None;
    }
    // The separator: spaces, at most one '=' or ':', spaces.
    let rest = &trimmed[key_end..];
    let mut value_at = rest.len() - rest.trim_start().len();
    if rest[value_at..].starts_with(['=', ':']) {
        value_at += 1;
        let after = &rest[value_at..];
        value_at += after.len() - after.trim_start().len();
    }
    Some(&line[..start + key_end + value_at])
}

/// The text a session id is shown as: `0x` + the id's high 40 bits in hex, `_`, and a
/// 24-bit fingerprint of the whole id under a key drawn at process start.
pub fn masked_session(id: i64) -> String {
    static KEY: OnceLock<RandomState> = OnceLock::new();
    let fingerprint = KEY.get_or_init(RandomState::new).hash_one(id) & 0xff_ffff;
    format!("0x{:010x}_{fingerprint:06x}", (id as u64) >> 24)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_values_are_redacted_and_the_rest_is_kept() {
        let cfg = "tickTime=2000\n\
                   # a comment mentioning password=x stays\n\
                   DigestAuthenticationProvider.superDigest=super:xQJmxLMiHGwaqBvst5y6rkB6HQs=\n\
                   ssl.keyStore.password = hunter2\r\n\
                   zookeeper.ssl.trustStore.password:sw0rdfish\n\
                   ssl.quorum.keyStore.password  multi\\\n    line\\\n    secret\n\
                   dataDir=/var/lib/zookeeper\n";
        let out = redact_properties_text(cfg);
        for secret in [
            "xQJmxL",
            "hunter2",
            "sw0rdfish",
            "multi",
            "line",
            "    secret",
        ] {
            assert!(!out.contains(secret), "{secret} in {out}");
        }
        assert_eq!(
            out,
            "tickTime=2000\n\
             # a comment mentioning password=x stays\n\
             DigestAuthenticationProvider.superDigest=******\n\
             ssl.keyStore.password = ******\r\n\
             zookeeper.ssl.trustStore.password:******\n\
             ssl.quorum.keyStore.password  ******\n\
             dataDir=/var/lib/zookeeper\n"
        );
        assert_eq!(
            redact_value("zookeeper.ssl.keyStore.password", "x"),
            REDACTED
        );
        assert_eq!(redact_value("zookeeper.tickTime", "2000"), "2000");
    }

    #[test]
    fn masked_sessions_hide_the_low_bits_and_stay_distinct() {
        let a = 0x018b_cfe5_6800_0000_i64;
        let b = a + 1;
        let (ma, mb) = (masked_session(a), masked_session(b));
        assert!(ma.starts_with("0x018bcfe568_"), "{ma}");
        assert_eq!(ma.len(), "0x018bcfe568_".len() + 6);
        assert_ne!(ma, mb, "neighbouring sessions are told apart");
        assert_eq!(ma, masked_session(a), "stable");
        assert!(!ma.contains(&format!("{a:x}")));
    }
}
