//! A member's data directory: the real storage code on a [`MemFs`] of its own, which loses
//! unsynced writes (or tears the last one) on a simulated power loss and can fail with ENOSPC.
//!
//! This is the part of a shell that carries out the core's storage outputs, with the shell's
//! own pieces from `menagerie-host`: recovery at start ([`menagerie_host::recover`] and
//! [`menagerie_host::epochs::restore_epochs`]), the state rebuilt after a TRUNC
//! ([`menagerie_host::reload`], then written as a snapshot, as the shell does), snapshots
//! ([`menagerie_host::snapshot::take_snapshot`]). Appends and their group commit go to the
//! [`TxnLog`] in two steps — written when the core hands them over, fsynced when the
//! simulated fsync completes — so that a crash in between finds them unsynced (the
//! shell's `LogExecutor` does both in one call on its storage thread).

use std::path::Path;
use std::sync::Arc;

use menagerie_core::replica::Replica;
use menagerie_core::{Node, Now};
use menagerie_host::{RecoveryOptions, epochs, snapshot};
use menagerie_proto::Zxid;
use menagerie_proto::txn::LoggedTxn;
use menagerie_storage::fs::{CrashMode, FaultKind, FaultOp};
use menagerie_storage::{DataDirs, EpochFile, MemFs, TxnLog, TxnLogOptions};

/// A storage failure, as the shell would report it.
#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    /// The storage crate failed (I/O error, damaged file).
    #[error(transparent)]
    Storage(#[from] menagerie_storage::Error),
    /// Recovery failed.
    #[error(transparent)]
    Recovery(#[from] menagerie_host::RecoveryError),
    /// The epoch files forbid starting.
    #[error(transparent)]
    Epochs(#[from] epochs::EpochError),
    /// A snapshot could not be written.
    #[error(transparent)]
    Snapshot(#[from] menagerie_host::SnapshotError),
    /// The log is not open (the member has not recovered).
    #[error("the transaction log is not open")]
    NoLog,
}

/// One member's disk.
pub struct Disk {
    fs: MemFs,
    dirs: DataDirs,
    log: Option<TxnLog>,
    options: TxnLogOptions,
    /// The highest zxid appended since the last commit (reported by the next commit even if
    /// a TRUNC cut it meanwhile, as the shell's executor reports a batch).
    appended: Option<Zxid>,
    /// The highest zxid handed to the log and still in it.
    logged: Zxid,
    /// Txns handed to the log and not yet durable, in order (written again by
    /// [`Disk::retry`] after a failure, as the shell's executor keeps its pending work).
    waiting: Vec<Arc<LoggedTxn>>,
    /// A log write failed and [`Disk::retry`] has not succeeded since: appends only wait.
    failed: bool,
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
            logged: Zxid::ZERO,
            waiting: Vec::new(),
            failed: false,
        }
    }

    /// The highest zxid handed to the log and not cut since.
    pub fn logged(&self) -> Zxid {
        self.logged
    }

    /// Recovery at start: the log (its torn tail cut), the newest readable snapshot, the log
    /// after it, then the epoch files. Returns the number of txns replayed.
    pub fn recover(&mut self, node: &mut Node, now: Now) -> Result<u64, DiskError> {
        self.log = None;
        self.appended = None;
        self.waiting.clear();
        self.failed = false;
        let options = RecoveryOptions {
            log: self.options.clone(),
            extended_types: false,
        };
        let recovered = menagerie_host::recover(&self.dirs, options, node, now)?;
        let (accepted, current) = epochs::restore_epochs(&self.dirs, node.last_processed_zxid())?;
        node.restore_epochs(accepted, current);
        self.logged = node.last_processed_zxid();
        self.log = Some(recovered.log);
        Ok(recovered.replayed)
    }

    /// The epochs the files hold now (accepted, current).
    pub fn epochs(&self) -> Result<(u32, u32), DiskError> {
        let accepted = self.dirs.read_epoch(EpochFile::Accepted)?.unwrap_or(0);
        let current = self.dirs.read_epoch(EpochFile::Current)?.unwrap_or(0);
        Ok((accepted as u32, current as u32))
    }

    /// Appends a txn (written, not yet durable: see [`Disk::commit`]). After a failure it
    /// only waits for [`Disk::retry`].
    pub fn append(&mut self, txn: &Arc<LoggedTxn>) -> Result<(), DiskError> {
        self.waiting.push(Arc::clone(txn));
        self.logged = self.logged.max(txn.zxid());
        if self.failed {
            return Ok(());
        }
        let log = self.log.as_mut().ok_or(DiskError::NoLog)?;
        if let Err(e) = log.append(txn.zxid().0, &txn.to_bytes()) {
            self.failed = true;
            return Err(e.into());
        }
        self.appended = Some(self.appended.map_or(txn.zxid(), |z| z.max(txn.zxid())));
        Ok(())
    }

    /// After a failure: the log back at its last durable entry (the shell's executor's
    /// `retry`), then what waited written again and committed. Returns the highest zxid now
    /// durable.
    pub fn retry(&mut self) -> Result<Option<Zxid>, DiskError> {
        let log = self.log.as_mut().ok_or(DiskError::NoLog)?;
        log.recover_after_failure()?;
        for t in &self.waiting {
            if t.zxid().0 > log.last_synced_zxid() {
                log.append(t.zxid().0, &t.to_bytes())?;
            }
        }
        log.commit()?;
        self.failed = false;
        self.appended = None;
        Ok(self.waiting.drain(..).map(|t| t.zxid()).max())
    }

    /// Whether the directory takes durable writes again (the shell's probe).
    pub fn probe(&self) -> Result<(), DiskError> {
        Ok(self.dirs.probe()?)
    }

    /// The epochs the files hold, `held` for a file that is missing.
    pub fn epochs_or(&self, held: (u32, u32)) -> Result<(u32, u32), DiskError> {
        let accepted = self.dirs.read_epoch(EpochFile::Accepted)?;
        let current = self.dirs.read_epoch(EpochFile::Current)?;
        Ok((
            accepted.map_or(held.0, |e| e as u32),
            current.map_or(held.1, |e| e as u32),
        ))
    }

    /// Whether appends wait for a commit.
    pub fn has_unsynced(&self) -> bool {
        self.appended.is_some()
    }

    /// Writes and fsyncs everything appended; returns the highest zxid now durable.
    pub fn commit(&mut self) -> Result<Option<Zxid>, DiskError> {
        let log = self.log.as_mut().ok_or(DiskError::NoLog)?;
        if let Err(e) = log.commit() {
            self.failed = true;
            return Err(e.into());
        }
        self.waiting.clear();
        Ok(self.appended.take())
    }

    /// Whether the `updatingEpoch` marker is there.
    pub fn epoch_update_marked(&self) -> bool {
        self.dirs.epoch_update_marked()
    }

    /// Creates or removes the `updatingEpoch` marker (the shell's `updating_epoch`).
    pub fn updating_epoch(&mut self, on: bool) -> Result<(), DiskError> {
        if on {
            self.dirs.mark_epoch_update()?;
        } else {
            self.dirs.clear_epoch_update()?;
        }
        Ok(())
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

    /// TRUNC (or the cut after a SNAP): what was appended is made durable, the log is cut
    /// after `to`, and snapshots of later states are removed (the shell's `truncate`).
    pub fn truncate(&mut self, to: Zxid) -> Result<(), DiskError> {
        let log = self.log.as_mut().ok_or(DiskError::NoLog)?;
        if self.appended.is_some() {
            log.commit()?;
            self.waiting.clear();
        }
        self.logged = self.logged.min(to);
        // As the shell's executor: the cut appends are not reported durable.
        self.appended = self.appended.map(|z| z.min(to));
        match log.truncate(to.0) {
            Ok(()) | Err(menagerie_storage::Error::NoLogToTruncate { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        self.dirs.remove_snapshots_after(to.0)?;
        Ok(())
    }

    /// After a TRUNC with reload: the state up to `to`, rebuilt from disk into `fresh`, and
    /// written as a snapshot (so that no older snapshot with later txns is what a restart
    /// loads).
    pub fn reload(&self, to: Zxid, fresh: Replica) -> Result<Replica, DiskError> {
        let replica = menagerie_host::reload(&self.dirs, false, fresh, to)?;
        snapshot::take_snapshot(&self.dirs, &replica)?;
        Ok(replica)
    }

    /// Rolls the log and writes a snapshot of `replica` (named after its last applied zxid).
    pub fn snapshot(&mut self, replica: &Replica) -> Result<(), DiskError> {
        if let Some(log) = self.log.as_mut() {
            if self.appended.is_some() {
                // Durable now, but reported by the group commit under way (as the shell's
                // executor reports appends made durable by the fsync before a roll).
                log.commit()?;
                self.waiting.clear();
            }
            log.roll()?;
        }
        snapshot::take_snapshot(&self.dirs, replica)?;
        Ok(())
    }

    /// The process dies: the open log is gone; with `mode`, the disk keeps what it keeps.
    pub fn crash(&mut self, mode: CrashMode) {
        self.log = None;
        self.appended = None;
        self.waiting.clear();
        self.failed = false;
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
