//! The synchronous glue between Menagerie's deterministic core (`menagerie-core`) and its
//! storage (`menagerie-storage`): everything that turns core state into files and files back
//! into core state, written as plain functions and structs over the storage crate's
//! [`Fs`](menagerie_storage::Fs) trait. No tokio, no threads, no clock: the tokio shell
//! (`menagerie-server`) runs these pieces on its storage and snapshot threads, and a
//! deterministic simulator can run several nodes in one thread on
//! [`MemFs`](menagerie_storage::MemFs) with the very same code.
//!
//! * [`mod@recover`]: the newest valid snapshot plus log replay -> a core `Server`.
//! * [`snapshot`]: core tree -> snapshot file, in one go ([`snapshot::take_snapshot`]) or as a
//!   fuzzy walk sliced between request batches ([`snapshot::FuzzySnapshot`]) whose encoded
//!   slices are written by [`snapshot::write_sliced`].
//! * [`epochs`]: the epoch files of an ensemble member at startup.
//! * [`executor`]: the transaction-log executor: a batch of appends and rolls, then one
//!   fsync (group commit).

#![forbid(unsafe_code)]

pub mod epochs;
pub mod executor;
pub mod recover;
pub mod restore;
pub mod snapshot;

pub use executor::{LogError, LogExecutor, LogWork};

pub use recover::{Recovered, RecoveryError, RecoveryOptions, recover, reload};
pub use snapshot::{FuzzySnapshot, Slice, SnapshotError, SnapshotHeader, SnapshotPart};
