//! Identifiers with meaning: a zxid (epoch and counter), a session id and a server id.
//!
//! ZooKeeper passes all three as raw `long`s and masks them where it needs their parts
//! (`ZxidUtils`); here each is a type, so a session id cannot be passed where a zxid is
//! expected and the epoch/counter arithmetic lives in one place. On the wire each is the
//! signed 64-bit integer ZooKeeper writes.

use std::fmt;

use crate::jute::{DecodeError, JuteWrite, Reader, Record};

/// A transaction id: `epoch << 32 | counter` (ZooKeeper: `ZxidUtils`).
///
/// Ordered as ZooKeeper compares zxids: as signed 64-bit integers. `Zxid(-1)` is "none"
/// where ZooKeeper uses -1 (a request's zxid before prep, an unknown last zxid).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Zxid(pub i64);

impl Zxid {
    /// The zxid before any transaction of any epoch.
    pub const ZERO: Zxid = Zxid(0);
    /// ZooKeeper's "no zxid" marker.
    pub const NONE: Zxid = Zxid(-1);
    /// The largest counter a leader proposes; the next one makes it step down
    /// (ZooKeeper: `Leader.propose`, ZOOKEEPER-1277).
    pub const MAX_COUNTER: u32 = 0xFFFF_FFFE;

    /// The zxid with these parts.
    pub fn new(epoch: u32, counter: u32) -> Zxid {
        Zxid(((u64::from(epoch) << 32) | u64::from(counter)) as i64)
    }

    /// The zxid that starts `epoch` (counter 0: "epoch started, no txn yet").
    pub fn epoch_start(epoch: u32) -> Zxid {
        Zxid::new(epoch, 0)
    }

    /// The epoch (high 32 bits).
    pub fn epoch(self) -> u32 {
        (self.0 as u64 >> 32) as u32
    }

    /// The counter (low 32 bits).
    pub fn counter(self) -> u32 {
        self.0 as u32
    }

    /// Whether this is an epoch's start marker (counter 0).
    pub fn is_epoch_start(self) -> bool {
        self.counter() == 0
    }

    /// The next zxid of the same epoch.
    pub fn next(self) -> Zxid {
        Zxid(self.0.wrapping_add(1))
    }
}

impl fmt::Display for Zxid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

impl fmt::LowerHex for Zxid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerHex::fmt(&self.0, f)
    }
}

/// A session id: the creating server's id in the top byte, clock bits, then a counter
/// (ZooKeeper: `SessionTrackerImpl.initializeNextSessionId`). 0 means "no session" (a new
/// connection, or server-internal txns such as container reaping).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SessionId(pub i64);

impl SessionId {
    /// No session.
    pub const NONE: SessionId = SessionId(0);

    /// The server id in the top byte (arithmetic shift, as ZooKeeper's local-session check
    /// does).
    pub fn server_byte(self) -> i64 {
        self.0 >> 56
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

impl fmt::LowerHex for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerHex::fmt(&self.0, f)
    }
}

/// A member's id in an ensemble (`server.N` in zoo.cfg, `myid`). Practical range 1..=255:
/// it is shifted into the top byte of session ids. A standalone server uses 1, as ZooKeeper's
/// standalone session tracker does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ServerId(pub i64);

impl fmt::Display for ServerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

macro_rules! long_record {
    ($t:ident) => {
        impl Record for $t {
            fn write(&self, w: &mut Vec<u8>) {
                w.put_i64(self.0)
            }
            fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                r.read_i64().map($t)
            }
        }

        #[cfg(test)]
        impl proptest::arbitrary::Arbitrary for $t {
            type Parameters = ();
            type Strategy = proptest::strategy::BoxedStrategy<Self>;
            fn arbitrary_with(_: ()) -> Self::Strategy {
                use proptest::strategy::Strategy;
                proptest::arbitrary::any::<i64>().prop_map($t).boxed()
            }
        }
    };
}

long_record!(Zxid);
long_record!(SessionId);
long_record!(ServerId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zxid_parts() {
        let z = Zxid::new(3, 7);
        assert_eq!(z.0, 0x3_0000_0007);
        assert_eq!((z.epoch(), z.counter()), (3, 7));
        assert!(Zxid::epoch_start(4).is_epoch_start());
        assert_eq!(Zxid::epoch_start(4).next(), Zxid::new(4, 1));
        assert_eq!(format!("{z}"), "0x300000007");
        assert_eq!(format!("{z:x}"), "300000007");
        assert!(Zxid::NONE < Zxid::ZERO);
    }

    #[test]
    fn ids_encode_as_longs() {
        assert_eq!(Zxid(0x0102).to_bytes(), 0x0102i64.to_be_bytes());
        assert_eq!(
            SessionId::from_bytes(&(-5i64).to_be_bytes()),
            Ok(SessionId(-5))
        );
        assert_eq!(SessionId(0x0100_0000_0000_0001).server_byte(), 1);
        assert_eq!(SessionId(i64::MIN + 1).server_byte(), -128);
    }
}
