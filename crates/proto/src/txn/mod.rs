//! Transactions as ZooKeeper logs and replicates them: `TxnHeader ‖ txn record ‖
//! [TxnDigest]` (ZooKeeper: `Util.marshallTxnEntry`, `SerializeUtils.deserializeTxn`).
//!
//! This is the one transaction model of the project: the core proposes and applies
//! [`LoggedTxn`]s, the storage crate writes and reads them in log files, the quorum protocol
//! carries them in PROPOSAL and INFORM packets, and `menagerie inspect` prints them.
//!
//! * [`records`]: the Jute records, field for field.
//! * [`body`]: [`TxnBody`], the typed record for every txn type ZooKeeper 3.4-3.9 writes,
//!   including pre-3.3 `CreateTxnV0` and reconfig.
//! * [`logged`]: [`LoggedTxn`], header + body + optional digest, and its encoding.

pub mod body;
pub mod logged;
pub mod records;
#[cfg(test)]
mod tests;

pub use body::TxnBody;
pub use logged::LoggedTxn;
pub use records::*;

use crate::jute::DecodeError;

/// Why a transaction could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxnError {
    /// A record did not decode.
    #[error("cannot decode {what}: {source}")]
    Decode {
        /// The record being read.
        what: &'static str,
        /// The underlying error.
        source: DecodeError,
    },
    /// A txn type ZooKeeper never logs there (ZooKeeper: "Unsupported Txn with type=...").
    #[error("unsupported txn type {txn_type}")]
    Unsupported {
        /// The type read.
        txn_type: i32,
    },
}
