//! The ZooKeeper client wire protocol, as a pure library (no I/O).
//!
//! * [`jute`]: the Jute binary encoding ZooKeeper uses for every record.
//! * [`records`]: the data and client-protocol records of `zookeeper.jute`, field order exact.
//! * [`txn`]: the one transaction model: records, typed bodies, logged txns and their codec.
//! * [`ids`]: [`Zxid`], [`SessionId`], [`ServerId`].
//! * [`opcode`] and [`error_code`]: the numeric operation and error codes.
//! * [`request`] and [`response`]: typed request bodies per opcode (including the hand-framed
//!   `multi`), and response bodies.
//! * [`frame`]: the 4-byte length framing and the four-letter-word check.
//! * [`session`]: ZooKeeper's session-password function.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod digest;
pub mod error_code;
pub mod frame;
pub mod ids;
pub mod jute;
pub mod opcode;
pub mod quorum;
pub mod records;
pub mod request;
pub mod response;
pub mod session;
pub mod txn;

pub use error_code::ErrorCode;
pub use ids::{ServerId, SessionId, Zxid};
pub use jute::{DecodeError, Reader, Record};
pub use opcode::OpCode;
