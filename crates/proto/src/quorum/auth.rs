//! Quorum SASL's `QuorumAuthPacket` (ZooKeeper's `quorum.auth.*`, spec 09): `long magic;
//! int status; buffer token`, exchanged before anything else on a quorum-port link and after
//! the initial message on an election connection. A member that authenticates learners
//! tells an auth packet from anything else by its magic.

use crate::jute::{DecodeError, JuteWrite, Reader};

/// The magic number every auth packet starts with: Java's `-0xa0dbcafecafe1234L`, whose
/// hex literal is already a negative long, so the value is positive.
pub const QUORUM_AUTH_MAGIC: i64 = 0x5f24_3501_3501_edcc;

/// The largest token accepted (DIGEST-MD5 tokens are a few hundred bytes).
pub const MAX_AUTH_TOKEN: usize = 64 * 1024;

/// Where an exchange stands (`QuorumAuth.Status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthStatus {
    /// More tokens follow.
    InProgress,
    /// The server accepted the learner.
    Success,
    /// The server refused the learner.
    Error,
}

impl AuthStatus {
    fn code(self) -> i32 {
        match self {
            AuthStatus::InProgress => 0,
            AuthStatus::Success => 1,
            AuthStatus::Error => -1,
        }
    }

    fn from_code(code: i32) -> Option<AuthStatus> {
        match code {
            0 => Some(AuthStatus::InProgress),
            1 => Some(AuthStatus::Success),
            -1 => Some(AuthStatus::Error),
            _ => None,
        }
    }
}

/// One `QuorumAuthPacket`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthPacket {
    /// Where the exchange stands.
    pub status: AuthStatus,
    /// The SASL token (Java may send a null buffer; it reads as empty).
    pub token: Vec<u8>,
}

impl AuthPacket {
    /// The packet's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(16 + self.token.len());
        v.put_i64(QUORUM_AUTH_MAGIC);
        v.put_i32(self.status.code());
        v.put_buffer(Some(&self.token));
        v
    }

    /// Whether `buf` (at least 8 bytes) starts with the auth magic; `None` if fewer bytes.
    pub fn starts(buf: &[u8]) -> Option<bool> {
        let first: [u8; 8] = buf.get(..8)?.try_into().ok()?;
        Some(i64::from_be_bytes(first) == QUORUM_AUTH_MAGIC)
    }

    /// Parses a packet from the front of `buf`: `Ok(Some((packet, bytes used)))`,
    /// `Ok(None)` if more bytes are needed.
    pub fn parse(buf: &[u8]) -> Result<Option<(AuthPacket, usize)>, DecodeError> {
        let mut r = Reader::new(buf);
        let (Ok(magic), Ok(status)) = (r.read_i64(), r.read_i32()) else {
            return Ok(None);
        };
        if magic != QUORUM_AUTH_MAGIC {
            return Err(DecodeError::InvalidValue {
                what: "quorum auth magic",
                value: magic,
            });
        }
        let status = AuthStatus::from_code(status).ok_or(DecodeError::InvalidValue {
            what: "quorum auth status",
            value: i64::from(status),
        })?;
        let Ok(len) = r.read_i32() else {
            return Ok(None);
        };
        if len > MAX_AUTH_TOKEN as i32 || len < -1 {
            return Err(DecodeError::BadLength {
                offset: 12,
                length: len,
            });
        }
        let len = len.max(0) as usize;
        let Ok(token) = r.take(len) else {
            return Ok(None);
        };
        let packet = AuthPacket {
            status,
            token: token.to_vec(),
        };
        Ok(Some((packet, 16 + len)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn javas_layout_round_trips() {
        let p = AuthPacket {
            status: AuthStatus::InProgress,
            token: b"abc".to_vec(),
        };
        let b = p.to_bytes();
        // Java's -0xa0dbcafecafe1234L as a big-endian long, then status 0, then a 3-byte buffer.
        assert_eq!(
            b,
            [
                0x5f, 0x24, 0x35, 0x01, 0x35, 0x01, 0xed, 0xcc, 0, 0, 0, 0, 0, 0, 0, 3, b'a', b'b',
                b'c'
            ]
        );
        assert_eq!(AuthPacket::starts(&b), Some(true));
        assert_eq!(AuthPacket::parse(&b), Ok(Some((p, 19))));
        assert_eq!(AuthPacket::parse(&b[..18]), Ok(None));
        assert_eq!(AuthPacket::starts(&b[..7]), None);
    }

    #[test]
    fn null_token_and_bad_input() {
        let mut b = Vec::new();
        b.put_i64(QUORUM_AUTH_MAGIC);
        b.put_i32(1);
        b.put_buffer(None);
        let (p, used) = AuthPacket::parse(&b).expect("valid").expect("whole");
        assert_eq!(
            (p.status, p.token.len(), used),
            (AuthStatus::Success, 0, 16)
        );
        // A FOLLOWERINFO packet is not an auth packet.
        let mut q = Vec::new();
        q.put_i32(11);
        q.put_i64(0);
        assert_eq!(AuthPacket::starts(&q), Some(false));
        assert!(AuthPacket::parse(&q).is_err());
        b[11] = 7;
        assert!(AuthPacket::parse(&b).is_err());
    }
}
