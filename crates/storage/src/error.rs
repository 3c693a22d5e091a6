//! The crate's error type.

use std::io;
use std::path::PathBuf;

use menagerie_proto::jute::DecodeError;
use thiserror::Error;

/// Everything that can go wrong reading or writing the data directories.
///
/// Variants that concern a file name it and, where it makes sense, the byte offset at which
/// the problem was found, so that an operator can inspect the file (ZooKeeper's own messages
/// name neither, which makes its "CRC check failed" famously hard to act on).
#[derive(Debug, Error)]
pub enum Error {
    /// An operating-system call failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done ("write", "fsync", "rename", ...).
        op: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error (ENOSPC, EIO, ...).
        #[source]
        source: io::Error,
    },
    /// A transaction-log entry's Adler-32 does not match its body (ZooKeeper:
    /// `FileTxnIterator.next`, "CRC check failed").
    #[error(
        "CRC check failed: {file} at offset {offset} (stored {stored:#010x}, computed {computed:#010x})"
    )]
    CrcMismatch {
        /// The log file.
        file: PathBuf,
        /// Offset of the entry's checksum field.
        offset: u64,
        /// Checksum stored in the file.
        stored: u64,
        /// Checksum of the body as read.
        computed: u64,
    },
    /// A snapshot seal (cumulative Adler-32) does not match (ZooKeeper:
    /// `SnapStream.checkSealIntegrity`, "CRC corruption").
    #[error(
        "CRC corruption: {file} seal at offset {offset} (stored {stored:#010x}, computed {computed:#010x})"
    )]
    SealMismatch {
        /// The snapshot file.
        file: PathBuf,
        /// Offset of the seal's checksum field.
        offset: u64,
        /// Checksum stored in the file.
        stored: u64,
        /// Checksum of the bytes before the seal.
        computed: u64,
    },
    /// A file does not start with the expected magic number.
    #[error("{file}: invalid magic number {found:#010x} (expected {expected:#010x})")]
    BadMagic {
        /// The file.
        file: PathBuf,
        /// Magic read.
        found: i32,
        /// Magic expected (`ZKLG` or `ZKSN`).
        expected: i32,
    },
    /// A file is structurally damaged at a known place.
    #[error("{file}: corrupt at offset {offset}: {reason}")]
    Corrupt {
        /// The file.
        file: PathBuf,
        /// Where the damage was found.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
    /// A file ended in the middle of a mandatory part.
    #[error("{file}: unexpected end of file at offset {offset}")]
    UnexpectedEof {
        /// The file.
        file: PathBuf,
        /// Offset at which more bytes were needed.
        offset: u64,
    },
    /// A transaction body could not be decoded.
    #[error("cannot decode {what}: {source}")]
    Decode {
        /// Which record was being decoded.
        what: &'static str,
        /// The decoder's complaint.
        #[source]
        source: DecodeError,
    },
    /// A transaction type no ZooKeeper version logs (ZooKeeper: `SerializeUtils.deserializeTxn`,
    /// "Unsupported Txn"); `check` (13) outside a multi is one of them.
    #[error("Unsupported Txn with type={txn_type}")]
    UnsupportedTxn {
        /// The type found in the header (or in a multi's sub-txn).
        txn_type: i32,
    },
    /// A compressed snapshot (`.gz`, `.snappy`); this crate reads only plain snapshots.
    #[error("{file}: compressed snapshots are not supported")]
    UnsupportedCompression {
        /// The snapshot file.
        file: PathBuf,
    },
    /// Snapshot files exist but none of the newest 100 could be read (ZooKeeper:
    /// `FileSnap.deserialize`).
    #[error("Not able to find valid snapshots in {dir}")]
    NoValidSnapshot {
        /// The snapshot directory.
        dir: PathBuf,
    },
    /// `truncate` found no log file (ZooKeeper: `FileTxnLog.truncate`).
    #[error("No log files found to truncate in {dir}")]
    NoLogToTruncate {
        /// The log directory.
        dir: PathBuf,
    },
    /// An epoch file does not hold a decimal number.
    #[error("{file}: not an epoch: {text:?}")]
    BadEpoch {
        /// The epoch file.
        file: PathBuf,
        /// What it holds (at most 64 bytes of it).
        text: String,
    },
    /// A required directory is missing and `autocreate` is off.
    #[error("missing data directory {dir} (zookeeper.datadir.autocreate is false)")]
    MissingDir {
        /// The directory.
        dir: PathBuf,
    },
    /// The transaction log had an I/O error earlier; it refuses writes because it can no
    /// longer tell what reached the disk (a failed fsync may have dropped dirty pages).
    #[error("the transaction log failed earlier and accepts no more writes: {0}")]
    Poisoned(String),
    /// The caller passed something impossible (a programming error, reported rather than
    /// panicking).
    #[error("invalid argument: {0}")]
    InvalidInput(String),
}

impl From<menagerie_proto::txn::TxnError> for Error {
    fn from(e: menagerie_proto::txn::TxnError) -> Error {
        match e {
            menagerie_proto::txn::TxnError::Decode { what, source } => {
                Error::Decode { what, source }
            }
            menagerie_proto::txn::TxnError::Unsupported { txn_type } => {
                Error::UnsupportedTxn { txn_type }
            }
        }
    }
}

impl Error {
    /// Wraps an `io::Error` with the operation and path.
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// Whether the error is the disk being full (ENOSPC).
    pub fn is_disk_full(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == io::ErrorKind::StorageFull)
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
