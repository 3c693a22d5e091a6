//! Menagerie's persistence: Apache ZooKeeper's on-disk formats, byte for byte, over a small
//! file-system trait.
//!
//! A ZooKeeper data directory written by Java can be read here and the other way round:
//!
//! * [`txnlog`]: `log.<hex zxid>` transaction logs — buffered appends, group commit with
//!   fdatasync, 64 MiB sparse preallocation, rolling, reading from a zxid across files,
//!   truncation, and repair of a torn tail at open. Entry bodies are
//!   [`LoggedTxn`]s (`menagerie-proto`'s one txn codec).
//! * [`snapshot`]: `snapshot.<hex zxid>` fuzzy snapshots — streamed writer (temporary name,
//!   fsync, rename, directory fsync) and reader, Adler-32 seals, digest and lastProcessedZxid
//!   blocks. [`digest`] is ZooKeeper's CRC-32 tree digest over the same node tuples.
//! * [`datadir`]: the `version-2` layout, ordering files by zxid, choosing the snapshot and
//!   logs to recover from (with fallback to older snapshots), purge; [`epoch`]: the Zab
//!   `acceptedEpoch` / `currentEpoch` files.
//! * [`fs`]: the [`Fs`] trait, [`StdFs`] and [`MemFs`], an in-memory file system that loses
//!   unsynced data on a simulated crash, tears writes, flips bits and fails with ENOSPC/EIO.
//!
//! Recovery, as the server drives it (ZooKeeper: `FileTxnSnapLog.restore`):
//!
//! ```no_run
//! # use std::{path::Path, sync::Arc};
//! # use menagerie_storage::*;
//! # fn main() -> Result<()> {
//! let dirs = DataDirs::new(Arc::new(StdFs), Path::new("data"), None);
//! dirs.create(true)?;
//! let log = dirs.open_txn_log(TxnLogOptions::default())?; // repairs a torn tail
//! let snap = dirs.load_newest_snapshot(|r| {
//!     let sessions = r.sessions().to_vec();
//!     let mut nodes = Vec::new();
//!     while let Some(n) = r.next_node()? {
//!         nodes.push(n); // a server builds its tree here
//!     }
//!     Ok((sessions, nodes))
//! })?;
//! let from = snap.as_ref().map_or(0, |s| s.file.zxid) + 1;
//! for entry in log.read_from(from)? {
//!     let txn = entry?.decode()?; // apply txn.body; compare txn.digest
//!     let _ = txn;
//! }
//! # Ok(()) }
//! ```
//!
//! This crate does no threading and knows nothing of the data tree: it reads and writes
//! bytes in ZooKeeper's layouts and says where they are. Readers bound every length by what
//! is left in the file and by `jute.maxbuffer`, so damaged input cannot make them allocate
//! without limit.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod datadir;
/// ZooKeeper's tree digest (defined in `menagerie-proto`, shared with the core).
pub use menagerie_proto::digest;
pub mod epoch;
mod error;
pub mod fs;
mod names;
pub mod snapshot;
mod stream;
pub mod txnlog;
/// Transaction bodies (defined in `menagerie-proto`: the project's one txn codec).
pub use menagerie_proto::txn;

pub use datadir::{DataDirs, LoadedSnapshot, LogFile, SnapshotFile};
pub use digest::{TreeDigest, node_digest, tree_digest};
pub use epoch::EpochFile;
pub use error::{Error, Result};
pub use fs::{Fs, FsFile, MemFs, StdFs};
pub use menagerie_proto::digest::ZxidDigest;
pub use menagerie_proto::txn::{LoggedTxn, TxnBody};
pub use snapshot::{
    OwnedSnapshotNode, Snapshot, SnapshotNode, SnapshotReader, SnapshotTrailer, SnapshotWriter,
    read_snapshot, write_snapshot,
};
pub use stream::DEFAULT_MAX_RECORD_LEN;
pub use txnlog::{
    CommitInfo, FsyncStats, FsyncStatsSnapshot, LogEntry, MAX_ENTRY_LEN, TxnIterator, TxnLog,
    TxnLogOptions,
};
