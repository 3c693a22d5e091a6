//! A member's data directory: the real transaction log, snapshot and epoch-file code of
//! `menagerie-storage` over its own [`MemFs`], which loses unsynced writes (or tears the last
//! one) on a simulated power loss and can fail with ENOSPC.
//!
//! This is the part of a shell that carries out the core's storage outputs: appends and group
//! commit ([`Disk::append`], [`Disk::commit`]), epoch files, TRUNC ([`Disk::truncate`]),
//! snapshots, and recovery at start ([`Disk::recover`]) and after a TRUNC ([`Disk::reload`]).

mod image;

use std::path::Path;
use std::sync::Arc;

use menagerie_core::replica::Replica;
use menagerie_core::{Node, Now};
use menagerie_proto::Zxid;
use menagerie_proto::txn::LoggedTxn;
use menagerie_storage::fs::{CrashMode, FaultKind, FaultOp};
use menagerie_storage::{DataDirs, EpochFile, MemFs, TxnLog, TxnLogOptions};

pub use image::Restorable;

/// A storage failure, as the shell would report it.
#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    /// The storage crate failed (I/O error, damaged file).
    #[error(transparent)]
    Storage(#[from] menagerie_storage::Error),
    /// A logged txn does not decode.
    #[error("undecodable txn {zxid} in the log: {reason}")]
    BadTxn {
        /// Its zxid.
        zxid: Zxid,
        /// Why.
        reason: String,
    },
    /// A snapshot is ahead of the point the state must be rebuilt to.
    #[error("snapshot {found} is beyond the truncation point {to}")]
    SnapshotBeyond {
        /// The snapshot's zxid.
        found: Zxid,
        /// The truncation point.
        to: Zxid,
    },
    /// The log is not open (the member has not recovered, or its log failed).
    #[error("the transaction log is not open")]
    NoLog,
}

/// One member's disk.
pub struct Disk {
    fs: MemFs,
    dirs: DataDirs,
    log: Option<TxnLog>,
    options: TxnLogOptions,
    /// The highest zxid appended since the last commit.
    appended: Option<Zxid>,
}

impl Disk {
    /// An empty disk; the log preallocates `pre_alloc` bytes at a time.
    pub fn new(pre_alloc: u64) -> Disk {
        let fs = MemFs::new();
        let dirs = DataDirs::new(Arc::new(fs.clone()), Path::new("/data"), None);
        let options = TxnLogOptions {
            pre_alloc_size: pre_alloc,
            ..TxnLogOptions::default()
        };
        Disk {
            fs,
            dirs,
            log: None,
            options,
            appended: None,
        }
    }

    /// The file system (for fault injection).
    pub fn fs(&self) -> &MemFs {
        &self.fs
    }

    /// Recovery at start: opens the log (repairing a torn tail), loads the newest readable
    /// snapshot into `node`, replays the log after it and restores the epoch files. Returns
    /// the number of txns replayed.
    pub fn recover(&mut self, node: &mut Node, now: Now) -> Result<u64, DiskError> {
        self.log = None;
        self.appended = None;
        self.dirs.create(true)?;
        let log = self.dirs.open_txn_log(self.options.clone())?;
        let from = image::load_snapshot(&self.dirs, node, None)?;
        let replayed = image::replay(&log, node, from, None)?;
        let accepted = self.dirs.read_epoch(EpochFile::Accepted)?.unwrap_or(0);
        let current = self.dirs.read_epoch(EpochFile::Current)?.unwrap_or(0);
        node.restore_epochs(accepted as u32, current as u32);
        node.recovery_done(now, replayed);
        node.tree_mut().rebuild_quotas();
        self.log = Some(log);
        Ok(replayed)
    }

    /// The epochs the files hold now (accepted, current).
    pub fn epochs(&self) -> Result<(u32, u32), DiskError> {
        let accepted = self.dirs.read_epoch(EpochFile::Accepted)?.unwrap_or(0);
        let current = self.dirs.read_epoch(EpochFile::Current)?.unwrap_or(0);
        Ok((accepted as u32, current as u32))
    }

    /// Appends a txn (buffered: durable after [`Disk::commit`]).
    pub fn append(&mut self, txn: &LoggedTxn) -> Result<(), DiskError> {
        let log = self.log.as_mut().ok_or(DiskError::NoLog)?;
        log.append(txn.zxid().0, &txn.to_bytes())?;
        self.appended = Some(self.appended.map_or(txn.zxid(), |z| z.max(txn.zxid())));
        Ok(())
    }

    /// Whether appends wait for a commit.
    pub fn has_unsynced(&self) -> bool {
        self.appended.is_some()
    }

    /// Writes and fsyncs everything appended; returns the highest zxid now durable.
    pub fn commit(&mut self) -> Result<Option<Zxid>, DiskError> {
        let log = self.log.as_mut().ok_or(DiskError::NoLog)?;
        log.commit()?;
        Ok(self.appended.take())
    }

    /// Writes the epoch files that changed, durably.
    pub fn write_epochs(
        &mut self,
        accepted: Option<u32>,
        current: Option<u32>,
    ) -> Result<(), DiskError> {
        if let Some(e) = accepted {
            self.dirs.write_epoch(EpochFile::Accepted, i64::from(e))?;
        }
        if let Some(e) = current {
            self.dirs.write_epoch(EpochFile::Current, i64::from(e))?;
        }
        Ok(())
    }

    /// TRUNC: removes every logged txn after `to`, and every snapshot of a later state (a
    /// restart must not load what the leader told this member to forget).
    pub fn truncate(&mut self, to: Zxid) -> Result<(), DiskError> {
        let log = self.log.as_mut().ok_or(DiskError::NoLog)?;
        // With no log file at all there is nothing to cut (and `TxnLog::truncate` would
        // fail, which poisons the log for good).
        if !self.dirs.logs()?.is_empty() || log.current_file().is_some() {
            log.truncate(to.0)?;
        }
        if self.appended.is_some_and(|z| z > to) {
            self.appended = Some(to);
        }
        image::remove_snapshots_after(&self.dirs, to)?;
        Ok(())
    }

    /// After a TRUNC with reload: the state up to `to`, rebuilt from the newest snapshot and
    /// the log.
    pub fn reload(&self, to: Zxid, mut replica: Replica) -> Result<Replica, DiskError> {
        let log = self.log.as_ref().ok_or(DiskError::NoLog)?;
        let from = image::load_snapshot(&self.dirs, &mut replica, Some(to))?;
        image::replay(log, &mut replica, from, Some(to))?;
        replica.recovery_done();
        Ok(replica)
    }

    /// Rolls the log and writes a snapshot of `replica` (named after its last applied zxid).
    pub fn snapshot(&mut self, replica: &Replica) -> Result<(), DiskError> {
        if let Some(log) = self.log.as_mut() {
            log.roll()?;
        }
        image::write_snapshot(&self.dirs, replica)
    }

    /// The process dies: the open log is gone; with `mode`, the disk keeps what it keeps.
    pub fn crash(&mut self, mode: CrashMode) {
        self.log = None;
        self.appended = None;
        self.fs.crash(mode);
    }

    /// Flips a bit in the newest snapshot (bit rot found by its checksum at the next start),
    /// if an older one is there to fall back to (without one a ZooKeeper server cannot start
    /// either, and an operator must step in).
    pub fn rot_newest_snapshot(&self, offset_pick: u64) -> bool {
        let Ok(snaps) = self.dirs.snapshots() else {
            return false;
        };
        let (Some(newest), Some(_)) = (snaps.first(), snaps.get(1)) else {
            return false;
        };
        let len = self.fs.contents(&newest.path).map_or(0, |c| c.len() as u64);
        if len <= 16 {
            return false;
        }
        let offset = 16 + offset_pick % (len - 16);
        self.fs.corrupt(&newest.path, offset, 0x10).is_ok()
    }

    /// The disk is full from now on (until [`Disk::clear_faults`]).
    pub fn fill(&self) {
        self.fs
            .inject(FaultOp::Write, FaultKind::NoSpace, None, None);
    }

    /// The disk works again.
    pub fn clear_faults(&self) {
        self.fs.clear_faults();
    }
}
