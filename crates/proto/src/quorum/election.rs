//! The election port's records (spec 09 §2-§3): the dialler's initial message and Fast Leader
//! Election notifications, each carried in a 4-byte length frame after the handshake.

use crate::ids::{ServerId, Zxid};
use crate::jute::{DecodeError, JuteWrite, Reader};

/// Protocol version of the initial message with one address ("V1").
pub const INITIAL_V1: i64 = -65536;
/// Protocol version of the initial message with `|`-joined addresses ("V2").
pub const INITIAL_V2: i64 = -65535;
/// Largest address field of an initial message.
pub const MAX_INITIAL_ADDR: usize = 2048;
/// Largest notification frame (`QuorumCnxManager.PACKETMAXSIZE`).
pub const MAX_NOTIFICATION: usize = 512 * 1024;

/// A member's state as notifications carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeerState {
    /// Electing.
    Looking = 0,
    /// Following an established leader.
    Following = 1,
    /// Leading.
    Leading = 2,
    /// Observing.
    Observing = 3,
}

impl PeerState {
    /// The state of a numeric value, if valid.
    pub fn from_code(code: i32) -> Option<PeerState> {
        Some(match code {
            0 => PeerState::Looking,
            1 => PeerState::Following,
            2 => PeerState::Leading,
            3 => PeerState::Observing,
            _ => return None,
        })
    }

    /// As ZooKeeper names it in logs and `zabstate`.
    pub fn name(self) -> &'static str {
        match self {
            PeerState::Looking => "LOOKING",
            PeerState::Following => "FOLLOWING",
            PeerState::Leading => "LEADING",
            PeerState::Observing => "OBSERVING",
        }
    }
}

/// The header a dialler sends first on an election connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitialMessage {
    /// The dialler's sid.
    pub sid: ServerId,
    /// Its election address(es), `host:port` each (empty for a 3.4-style header).
    pub addrs: Vec<String>,
}

impl InitialMessage {
    /// The header, to be sent in one write (Java reads the address with a single `read()`).
    /// V2 (several addresses) only when `v2`.
    pub fn to_bytes(&self, v2: bool) -> Vec<u8> {
        let addr = self.addrs.join("|");
        let mut v = Vec::with_capacity(20 + addr.len());
        v.put_i64(if v2 { INITIAL_V2 } else { INITIAL_V1 });
        v.put_i64(self.sid.0);
        v.put_i32(addr.len() as i32);
        v.extend_from_slice(addr.as_bytes());
        v
    }

    /// Parses a header from the front of `buf`: `Ok(Some((header, bytes used)))`,
    /// `Ok(None)` if more bytes are needed, `Err` if it is not a valid header.
    pub fn parse(buf: &[u8]) -> Result<Option<(InitialMessage, usize)>, DecodeError> {
        let mut r = Reader::new(buf);
        let Ok(first) = r.read_i64() else {
            return Ok(None);
        };
        if first >= 0 {
            // A 3.4-style header: the sid alone.
            let msg = InitialMessage {
                sid: ServerId(first),
                addrs: Vec::new(),
            };
            return Ok(Some((msg, 8)));
        }
        if first != INITIAL_V1 && first != INITIAL_V2 {
            return Err(DecodeError::InvalidValue {
                what: "election protocol version",
                value: first,
            });
        }
        let (Ok(sid), Ok(len)) = (r.read_i64(), r.read_i32()) else {
            return Ok(None);
        };
        if len <= 0 || len as usize > MAX_INITIAL_ADDR {
            return Err(DecodeError::BadLength {
                offset: 16,
                length: len,
            });
        }
        let Ok(addr) = r.take(len as usize) else {
            return Ok(None);
        };
        let addrs = String::from_utf8_lossy(addr)
            .split('|')
            .map(str::to_owned)
            .collect();
        let msg = InitialMessage {
            sid: ServerId(sid),
            addrs,
        };
        Ok(Some((msg, 20 + len as usize)))
    }
}

/// A Fast Leader Election notification (spec 09 §3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The sender's state (kept raw: an invalid value makes the receiver drop it).
    pub state: i32,
    /// The proposed or known leader.
    pub leader: ServerId,
    /// That leader's last zxid.
    pub zxid: Zxid,
    /// The election round (logical clock).
    pub election_epoch: i64,
    /// The leader's epoch.
    pub peer_epoch: i64,
    /// Format version (2 from 3.5 on; 0 for the legacy forms).
    pub version: i32,
    /// The sender's committed configuration text (version 2 only).
    pub config: Vec<u8>,
}

impl Notification {
    /// The sender's state, if valid.
    pub fn peer_state(&self) -> Option<PeerState> {
        PeerState::from_code(self.state)
    }

    /// The frame payload (44 + config bytes), always version 2.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(44 + self.config.len());
        v.put_i32(self.state);
        v.put_i64(self.leader.0);
        v.put_i64(self.zxid.0);
        v.put_i64(self.election_epoch);
        v.put_i64(self.peer_epoch);
        v.put_i32(2);
        v.put_i32(self.config.len() as i32);
        v.extend_from_slice(&self.config);
        v
    }

    /// Parses a frame payload in any form Java accepts (`WorkerReceiver.run`): 28 bytes
    /// (no peer epoch: taken from the zxid), 40 bytes (3.4: version ignored), or the
    /// current form with a config text when the version is above 1. `None` for what Java
    /// drops.
    pub fn parse(buf: &[u8]) -> Option<Notification> {
        if buf.len() < 28 {
            return None;
        }
        let mut r = Reader::new(buf);
        let state = r.read_i32().ok()?;
        let leader = ServerId(r.read_i64().ok()?);
        let zxid = Zxid(r.read_i64().ok()?);
        let election_epoch = r.read_i64().ok()?;
        let mut n = Notification {
            state,
            leader,
            zxid,
            election_epoch,
            peer_epoch: i64::from(zxid.epoch()),
            version: 0,
            config: Vec::new(),
        };
        if buf.len() == 28 {
            return Some(n);
        }
        n.peer_epoch = r.read_i64().ok()?;
        if buf.len() == 40 {
            return Some(n);
        }
        n.version = r.read_i32().ok()?;
        if n.version > 1 {
            let len = r.read_i32().ok()?;
            if len < 0 || len as usize > buf.len() {
                return None;
            }
            n.config = r.take(len as usize).ok()?.to_vec();
        }
        Some(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Notification {
        Notification {
            state: 0,
            leader: ServerId(3),
            zxid: Zxid::new(1, 9),
            election_epoch: 2,
            peer_epoch: 1,
            version: 2,
            config: b"server.1=127.0.0.1:29841:39841:participant\nversion=0".to_vec(),
        }
    }

    #[test]
    fn notifications_round_trip_and_legacy_forms_parse() {
        let n = sample();
        let bytes = n.to_bytes();
        assert_eq!(bytes.len(), 44 + n.config.len());
        assert_eq!(Notification::parse(&bytes), Some(n.clone()));
        let old = Notification::parse(&bytes[..28]).unwrap();
        assert_eq!((old.peer_epoch, old.version), (1, 0));
        let mut v34 = bytes[..36].to_vec();
        v34.extend_from_slice(&7i32.to_be_bytes());
        let v34 = Notification::parse(&v34).unwrap();
        assert_eq!((v34.peer_epoch, v34.version), (1, 0), "3.4 version ignored");
        assert_eq!(Notification::parse(&bytes[..27]), None);
        let mut lying = bytes[..44].to_vec();
        lying[40..44].copy_from_slice(&1000i32.to_be_bytes());
        assert_eq!(Notification::parse(&lying), None);
    }

    #[test]
    fn the_138_byte_config_of_the_spec_makes_a_182_byte_notification() {
        let config = "server.1=127.0.0.1:29841:39841:participant\nserver.2=127.0.0.1:29842:39842:participant\nserver.3=127.0.0.1:29843:39843:participant\nversion=0";
        assert_eq!(config.len(), 138);
        let n = Notification {
            config: config.as_bytes().to_vec(),
            ..sample()
        };
        assert_eq!(n.to_bytes().len(), 182);
    }

    #[test]
    fn initial_messages() {
        let m = InitialMessage {
            sid: ServerId(2),
            addrs: vec!["127.0.0.1:39842".into()],
        };
        let bytes = m.to_bytes(false);
        assert_eq!(&bytes[..8], &INITIAL_V1.to_be_bytes());
        for cut in 0..bytes.len() {
            assert_eq!(InitialMessage::parse(&bytes[..cut]), Ok(None), "{cut}");
        }
        assert_eq!(InitialMessage::parse(&bytes), Ok(Some((m, bytes.len()))));
        let v2 = InitialMessage {
            sid: ServerId(4),
            addrs: vec!["10.0.0.1:3888".into(), "[::1]:3888".into()],
        };
        let (got, _) = InitialMessage::parse(&v2.to_bytes(true)).unwrap().unwrap();
        assert_eq!(got, v2);
        assert_eq!(
            InitialMessage::parse(&5i64.to_be_bytes()),
            Ok(Some((
                InitialMessage {
                    sid: ServerId(5),
                    addrs: vec![]
                },
                8
            )))
        );
        assert!(InitialMessage::parse(&(-3i64).to_be_bytes()).is_err());
        let mut long = INITIAL_V1.to_be_bytes().to_vec();
        long.extend_from_slice(&1i64.to_be_bytes());
        long.extend_from_slice(&4000i32.to_be_bytes());
        assert!(InitialMessage::parse(&long).is_err());
    }
}
