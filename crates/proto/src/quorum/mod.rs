//! The quorum protocol's wire records, shared by the ensemble's core and its I/O shell:
//!
//! * [`election`]: the election port's initial message and Fast Leader Election
//!   notifications;
//! * [`packet`]: the quorum port's `QuorumPacket` and the layouts in its data;
//! * [`snap`]: the snapshot stream that follows a SNAP packet;
//! * [`auth`]: quorum SASL's `QuorumAuthPacket`.
//!
//! Every layout is spec 09's, checked against ZooKeeper 3.8/3.9.

pub mod auth;
mod cursor;
pub mod election;
pub mod packet;
pub mod snap;

pub use election::{InitialMessage, Notification, PeerState};
pub use packet::{ForwardedRequest, LearnerInfo, PacketType, QuorumPacket};
