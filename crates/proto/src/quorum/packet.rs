//! The quorum port's records (spec 09 §5): `QuorumPacket`, its types, and the layouts carried
//! in its data (`LearnerInfo`, REQUEST, PING touch tables, REVALIDATE).
//!
//! The quorum stream is a bare sequence of Jute `QuorumPacket` records in both directions,
//! with no length prefix: [`QuorumPacket::decode_prefix`] decodes one from the front of a
//! buffer and says when more bytes are needed.

use crate::ids::{ServerId, SessionId, Zxid};
use crate::jute::{DecodeError, JuteWrite, Reader, Record};
use crate::records::Id;

use super::cursor::Cursor;
pub use super::cursor::MAX_QUORUM_BUFFER;

/// The Zab 1.0 protocol version learners announce and leaders send in LEADERINFO.
pub const PROTOCOL_VERSION: i32 = 0x10000;

/// The protocol version a Menagerie learner announces in its LearnerInfo: Zab 1.0 plus a
/// mark in the low bits ("Mg") saying it can move to a new epoch without an election (the
/// rollover epoch change). A Java leader only checks that the version is at least
/// [`PROTOCOL_VERSION`], so it treats such a learner as any 3.4+ one.
pub const MENAGERIE_PROTOCOL_VERSION: i32 = PROTOCOL_VERSION | 0x4d67;

/// Packet types (`Leader.java` constants).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
#[allow(missing_docs)]
pub enum PacketType {
    Request = 1,
    Proposal = 2,
    Ack = 3,
    Commit = 4,
    Ping = 5,
    Revalidate = 6,
    Sync = 7,
    Inform = 8,
    CommitAndActivate = 9,
    NewLeader = 10,
    FollowerInfo = 11,
    UpToDate = 12,
    Diff = 13,
    Trunc = 14,
    Snap = 15,
    ObserverInfo = 16,
    LeaderInfo = 17,
    AckEpoch = 18,
    InformAndActivate = 19,
}

impl PacketType {
    /// The type of a numeric code, if known.
    pub fn from_code(code: i32) -> Option<PacketType> {
        use PacketType::*;
        Some(match code {
            1 => Request,
            2 => Proposal,
            3 => Ack,
            4 => Commit,
            5 => Ping,
            6 => Revalidate,
            7 => Sync,
            8 => Inform,
            9 => CommitAndActivate,
            10 => NewLeader,
            11 => FollowerInfo,
            12 => UpToDate,
            13 => Diff,
            14 => Trunc,
            15 => Snap,
            16 => ObserverInfo,
            17 => LeaderInfo,
            18 => AckEpoch,
            19 => InformAndActivate,
            _ => return None,
        })
    }
}

/// One packet of the quorum stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumPacket {
    /// The type code (kept raw: unknown types are ignored, not errors).
    pub packet_type: i32,
    /// Meaning depends on the type.
    pub zxid: Zxid,
    /// Payload; `None` is null, as Java sends for packets without one.
    pub data: Option<Vec<u8>>,
    /// Identities (REQUEST only; `None` = null elsewhere).
    pub authinfo: Option<Vec<Id>>,
}

impl QuorumPacket {
    /// A packet of `t` with no payload (data and authinfo null, as Java sends them).
    pub fn new(t: PacketType, zxid: Zxid) -> QuorumPacket {
        QuorumPacket {
            packet_type: t as i32,
            zxid,
            data: None,
            authinfo: None,
        }
    }

    /// A packet of `t` with a payload.
    pub fn with_data(t: PacketType, zxid: Zxid, data: Vec<u8>) -> QuorumPacket {
        QuorumPacket {
            data: Some(data),
            ..QuorumPacket::new(t, zxid)
        }
    }

    /// The known type, if any.
    pub fn kind(&self) -> Option<PacketType> {
        PacketType::from_code(self.packet_type)
    }

    /// The payload, empty when null.
    pub fn payload(&self) -> &[u8] {
        self.data.as_deref().unwrap_or_default()
    }

    /// Appends the encoding.
    pub fn write(&self, w: &mut Vec<u8>) {
        w.put_i32(self.packet_type);
        w.put_i64(self.zxid.0);
        w.put_buffer(self.data.as_deref());
        match &self.authinfo {
            None => w.put_i32(-1),
            Some(ids) => ids.write(w),
        }
    }

    /// The encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.write(&mut v);
        v
    }

    /// Decodes one packet from the front of `buf`: `Ok(Some((packet, bytes used)))`,
    /// `Ok(None)` when `buf` holds only part of one, `Err` when it can never be one (a length
    /// beyond [`MAX_QUORUM_BUFFER`] or negative): the connection is then dropped.
    pub fn decode_prefix(buf: &[u8]) -> Result<Option<(QuorumPacket, usize)>, DecodeError> {
        let mut c = Cursor::new(buf);
        let Some(packet_type) = c.i32() else {
            return Ok(None);
        };
        let Some(zxid) = c.i64() else {
            return Ok(None);
        };
        let Some(data) = c.buffer()? else {
            return Ok(None);
        };
        let Some(authinfo) = c.ids()? else {
            return Ok(None);
        };
        let packet = QuorumPacket {
            packet_type,
            zxid: Zxid(zxid),
            data: data.map(<[u8]>::to_vec),
            authinfo,
        };
        Ok(Some((packet, c.position())))
    }
}

/// FOLLOWERINFO / OBSERVERINFO data (spec 09 §5.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LearnerInfo {
    /// The learner's sid.
    pub server_id: ServerId,
    /// Its protocol version (0x10000 for Zab 1.0; 0x1 when absent).
    pub protocol_version: i32,
    /// Version of its committed configuration (0 when absent).
    pub config_version: i64,
}

impl LearnerInfo {
    /// The 20 bytes a 3.5+ learner sends.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(20);
        v.put_i64(self.server_id.0);
        v.put_i32(self.protocol_version);
        v.put_i64(self.config_version);
        v
    }

    /// Parses by length, as the Java leader does: >= 8 bytes the sid, >= 12 the protocol
    /// version, >= 20 the config version. `None` for fewer than 8 bytes.
    pub fn parse(data: &[u8]) -> Option<LearnerInfo> {
        let mut r = Reader::new(data);
        let server_id = ServerId(r.read_i64().ok()?);
        let protocol_version = r.read_i32().unwrap_or(0x1);
        let config_version = r.read_i64().unwrap_or(0);
        Some(LearnerInfo {
            server_id,
            protocol_version,
            config_version,
        })
    }
}

/// A client request a learner forwards to the leader (REQUEST data, spec 09 §5.3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardedRequest {
    /// The client's session.
    pub session: SessionId,
    /// The client's xid (0 for createSession).
    pub cxid: i32,
    /// The opcode.
    pub op: i32,
    /// The request record exactly as it followed the client's RequestHeader.
    pub body: Vec<u8>,
}

impl ForwardedRequest {
    /// The REQUEST data.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(16 + self.body.len());
        v.put_i64(self.session.0);
        v.put_i32(self.cxid);
        v.put_i32(self.op);
        v.extend_from_slice(&self.body);
        v
    }

    /// Parses REQUEST data.
    pub fn parse(data: &[u8]) -> Result<ForwardedRequest, DecodeError> {
        let mut r = Reader::new(data);
        Ok(ForwardedRequest {
            session: SessionId(r.read_i64()?),
            cxid: r.read_i32()?,
            op: r.read_i32()?,
            body: r.rest().to_vec(),
        })
    }
}

/// A learner's session touches since its last PING reply: `(session, timeout ms)` pairs,
/// 12 bytes each, no count (spec 09 §5.3.4).
pub fn encode_touches(touches: &[(SessionId, i32)]) -> Vec<u8> {
    let mut v = Vec::with_capacity(touches.len() * 12);
    for (s, t) in touches {
        v.put_i64(s.0);
        v.put_i32(*t);
    }
    v
}

/// Parses a PING reply's touch table; trailing bytes short of an entry are ignored.
pub fn parse_touches(data: &[u8]) -> Vec<(SessionId, i32)> {
    data.chunks_exact(12)
        .map(|c| {
            let mut r = Reader::new(c);
            let s = r.read_i64().unwrap_or_default();
            let t = r.read_i32().unwrap_or_default();
            (SessionId(s), t)
        })
        .collect()
}

/// REVALIDATE from a learner: `long sessionId, int timeoutMs`.
pub fn encode_revalidate(session: SessionId, timeout_ms: i32) -> Vec<u8> {
    let mut v = Vec::with_capacity(12);
    v.put_i64(session.0);
    v.put_i32(timeout_ms);
    v
}

/// Parses a learner's REVALIDATE.
pub fn parse_revalidate(data: &[u8]) -> Result<(SessionId, i32), DecodeError> {
    let mut r = Reader::new(data);
    Ok((SessionId(r.read_i64()?), r.read_i32()?))
}

/// The leader's REVALIDATE reply: `long sessionId, boolean valid`.
pub fn encode_revalidate_reply(session: SessionId, valid: bool) -> Vec<u8> {
    let mut v = Vec::with_capacity(9);
    v.put_i64(session.0);
    v.put_bool(valid);
    v
}

/// Parses the leader's REVALIDATE reply.
pub fn parse_revalidate_reply(data: &[u8]) -> Result<(SessionId, bool), DecodeError> {
    let mut r = Reader::new(data);
    Ok((SessionId(r.read_i64()?), r.read_bool()?))
}

/// A 4-byte `int` payload (LEADERINFO's protocol version, ACKEPOCH's current epoch).
pub fn encode_int(v: i32) -> Vec<u8> {
    v.to_be_bytes().to_vec()
}

/// Parses a 4-byte `int` payload.
pub fn parse_int(data: &[u8]) -> Result<i32, DecodeError> {
    Reader::new(data).read_i32()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_decode_incrementally() {
        let p = QuorumPacket {
            packet_type: 1,
            zxid: Zxid(-1),
            data: Some(b"abc".to_vec()),
            authinfo: Some(vec![Id {
                scheme: "ip".into(),
                id: "127.0.0.1".into(),
            }]),
        };
        let mut bytes = p.to_bytes();
        let q = QuorumPacket::new(PacketType::Ping, Zxid::new(1, 5));
        bytes.extend(q.to_bytes());
        let first = p.to_bytes().len();
        for cut in 0..first {
            assert_eq!(
                QuorumPacket::decode_prefix(&bytes[..cut]),
                Ok(None),
                "{cut}"
            );
        }
        assert_eq!(QuorumPacket::decode_prefix(&bytes), Ok(Some((p, first))));
        let (got, used) = QuorumPacket::decode_prefix(&bytes[first..])
            .unwrap()
            .unwrap();
        assert_eq!((got, used), (q, 20));
    }

    #[test]
    fn null_payloads_are_minus_one_and_bad_lengths_are_errors() {
        let ping = QuorumPacket::new(PacketType::Ping, Zxid(7)).to_bytes();
        assert_eq!(&ping[12..], &[0xff; 8], "null data and null authinfo");
        let mut bad = ping[..12].to_vec();
        bad.extend_from_slice(&(MAX_QUORUM_BUFFER as i32 + 1).to_be_bytes());
        assert!(QuorumPacket::decode_prefix(&bad).is_err());
        let mut neg = ping[..12].to_vec();
        neg.extend_from_slice(&(-2i32).to_be_bytes());
        assert!(QuorumPacket::decode_prefix(&neg).is_err());
    }

    #[test]
    fn learner_info_is_parsed_by_length() {
        let full = LearnerInfo {
            server_id: ServerId(3),
            protocol_version: PROTOCOL_VERSION,
            config_version: 0,
        };
        assert_eq!(full.to_bytes().len(), 20);
        assert_eq!(LearnerInfo::parse(&full.to_bytes()), Some(full));
        let old = LearnerInfo::parse(&3i64.to_be_bytes()).unwrap();
        assert_eq!((old.protocol_version, old.config_version), (1, 0));
        assert_eq!(LearnerInfo::parse(&[0; 7]), None);
    }

    #[test]
    fn touches_and_revalidate_round_trip() {
        let t = vec![(SessionId(1), 5000), (SessionId(-2), 30000)];
        let bytes = encode_touches(&t);
        assert_eq!(bytes.len(), 24);
        assert_eq!(parse_touches(&bytes), t);
        assert_eq!(parse_touches(&[]), vec![]);
        assert_eq!(
            parse_revalidate(&encode_revalidate(SessionId(9), 4000)),
            Ok((SessionId(9), 4000))
        );
        assert_eq!(encode_revalidate_reply(SessionId(9), true).len(), 9);
        assert_eq!(
            parse_revalidate_reply(&encode_revalidate_reply(SessionId(9), true)),
            Ok((SessionId(9), true))
        );
        let r = ForwardedRequest {
            session: SessionId(5),
            cxid: 0,
            op: -10,
            body: encode_int(30000),
        };
        assert_eq!(ForwardedRequest::parse(&r.to_bytes()), Ok(r));
    }
}
