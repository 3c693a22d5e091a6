//! The data directories: layout (names and listings in `crate::names`), picking the snapshot and logs to
//! recover from, and purging (ZooKeeper: `FileTxnSnapLog`, `Util`, `FileSnap`,
//! `FileTxnLog.getLogFiles`, `PurgeTxnLog`; spec 10.1, 10.5, 10.7).
//!
//! ```text
//! dataDir/version-2/     snapshot.<hex zxid>, acceptedEpoch, currentEpoch
//! dataLogDir/version-2/  log.<hex zxid>
//! dataLogDir/initialize  marker: trust an empty database once
//! ```
//!
//! Names use `Long.toHexString` (lowercase, no padding) and are ordered by the parsed
//! number, never lexically.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::epoch::{self, EpochFile};
use crate::fs::Fs;
pub use crate::names::{
    LogFile, SnapshotCompression, SnapshotFile, list_log_files, list_snapshot_files, log_file_name,
    logs_needed_after, parse_log_name, parse_snapshot_name, snapshot_file_name,
};
use crate::names::{list, loose_zxid};
use crate::snapshot::{SnapshotReader, SnapshotTrailer, looks_valid};
use crate::txnlog::{TxnLog, TxnLogOptions};
use crate::{Error, Result};

/// The versioned subdirectory of both data directories.
pub const VERSION_DIR: &str = "version-2";
/// How many of the newest snapshots startup tries (ZooKeeper: `FileSnap.deserialize`).
pub const SNAPSHOTS_TO_TRY: usize = 100;
/// Smallest `autopurge.snapRetainCount` (ZooKeeper: `DatadirCleanupManager`).
pub const MIN_SNAP_RETAIN_COUNT: usize = 3;

/// A snapshot loaded by [`DataDirs::load_newest_snapshot`].
#[derive(Debug)]
pub struct LoadedSnapshot<T> {
    /// The file it came from; its zxid is where replay resumes.
    pub file: SnapshotFile,
    /// What the loader built from it.
    pub value: T,
    /// Its digest and lastProcessedZxid blocks.
    pub trailer: SnapshotTrailer,
}

/// Files removed by [`DataDirs::purge`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// Removed snapshot files.
    pub snapshots: Vec<PathBuf>,
    /// Removed log files.
    pub logs: Vec<PathBuf>,
}

/// The snapshot and log directories of one server.
#[derive(Debug, Clone)]
pub struct DataDirs {
    fs: Arc<dyn Fs>,
    snap_dir: PathBuf,
    log_dir: PathBuf,
}

impl DataDirs {
    /// `dataDir/version-2` and `dataLogDir/version-2` (`dataLogDir` defaults to `dataDir`).
    /// Nothing is touched on disk.
    pub fn new(fs: Arc<dyn Fs>, data_dir: &Path, data_log_dir: Option<&Path>) -> DataDirs {
        DataDirs {
            fs,
            snap_dir: data_dir.join(VERSION_DIR),
            log_dir: data_log_dir.unwrap_or(data_dir).join(VERSION_DIR),
        }
    }

    /// Creates both directories if missing; with `autocreate` false
    /// (`zookeeper.datadir.autocreate`) a missing one is an error instead.
    pub fn create(&self, autocreate: bool) -> Result<()> {
        for dir in [&self.snap_dir, &self.log_dir] {
            if self.fs.exists(dir) {
                continue;
            }
            if !autocreate {
                return Err(Error::MissingDir { dir: dir.clone() });
            }
            self.fs
                .create_dir_all(dir)
                .map_err(|e| Error::io("mkdir", dir, e))?;
        }
        Ok(())
    }

    /// The file system.
    pub fn fs(&self) -> &Arc<dyn Fs> {
        &self.fs
    }

    /// `dataDir/version-2`: snapshots and epoch files.
    pub fn snap_dir(&self) -> &Path {
        &self.snap_dir
    }

    /// `dataLogDir/version-2`: transaction logs.
    pub fn log_dir(&self) -> &Path {
        &self.log_dir
    }

    /// Snapshot files, newest first.
    pub fn snapshots(&self) -> Result<Vec<SnapshotFile>> {
        list_snapshot_files(self.fs.as_ref(), &self.snap_dir)
    }

    /// Log files, oldest first.
    pub fn logs(&self) -> Result<Vec<LogFile>> {
        list_log_files(self.fs.as_ref(), &self.log_dir)
    }

    /// The newest `n` snapshots that pass the cheap validity check, newest first (ZooKeeper:
    /// `FileSnap.findNValidSnapshots`).
    pub fn valid_snapshots(&self, n: usize) -> Result<Vec<SnapshotFile>> {
        let mut v = Vec::new();
        for s in self.snapshots()? {
            if v.len() == n {
                break;
            }
            match looks_valid(self.fs.as_ref(), &s.path) {
                Ok(true) => v.push(s),
                Ok(false) => tracing::info!(file = %s.path.display(), "invalid snapshot"),
                Err(e) => tracing::info!(file = %s.path.display(), error = %e, "invalid snapshot"),
            }
        }
        Ok(v)
    }

    /// Loads the newest readable snapshot: tries up to 100 valid-looking ones, newest
    /// first, and falls back to the next on any error (ZooKeeper: `FileSnap.deserialize`).
    /// `load` consumes the reader's sessions, ACLs and nodes and builds a value; the seals
    /// are checked after it returns, and on failure its value is dropped. `Ok(None)` means
    /// there is no snapshot at all; [`Error::NoValidSnapshot`] that none could be read.
    pub fn load_newest_snapshot<T, F>(&self, load: F) -> Result<Option<LoadedSnapshot<T>>>
    where
        F: FnMut(&mut SnapshotReader) -> Result<T>,
    {
        self.load_snapshot_within(i64::MAX, load)
    }

    /// [`load_newest_snapshot`](Self::load_newest_snapshot) among the snapshots that hold
    /// nothing after `max_zxid`: named at most that, and with a digest block (the zxid its
    /// fuzzy walk ended at) at most that too. For a state rebuilt after the log was cut.
    pub fn load_snapshot_within<T, F>(
        &self,
        max_zxid: i64,
        mut load: F,
    ) -> Result<Option<LoadedSnapshot<T>>>
    where
        F: FnMut(&mut SnapshotReader) -> Result<T>,
    {
        let mut candidates = self.valid_snapshots(SNAPSHOTS_TO_TRY)?;
        candidates.retain(|f| f.zxid <= max_zxid);
        if candidates.is_empty() {
            return Ok(None);
        }
        for file in candidates {
            tracing::info!(file = %file.path.display(), "Reading snapshot");
            let attempt = SnapshotReader::open(self.fs.as_ref(), &file.path).and_then(|mut r| {
                let value = load(&mut r)?;
                let trailer = r.finish()?;
                Ok((value, trailer))
            });
            match attempt {
                Ok((_, trailer)) if trailer.digest.is_some_and(|d| d.zxid.0 > max_zxid) => {
                    tracing::info!(file = %file.path.display(), "snapshot holds txns after the cut; trying an older one")
                }
                Ok((value, trailer)) => {
                    return Ok(Some(LoadedSnapshot {
                        file,
                        value,
                        trailer,
                    }));
                }
                Err(e) => {
                    tracing::warn!(file = %file.path.display(), error = %e, "problem reading snap file")
                }
            }
        }
        Err(Error::NoValidSnapshot {
            dir: self.snap_dir.clone(),
        })
    }

    /// The log files to replay after a snapshot at `snapshot_zxid`, oldest first.
    pub fn logs_after_snapshot(&self, snapshot_zxid: i64) -> Result<Vec<LogFile>> {
        Ok(logs_needed_after(&self.logs()?, snapshot_zxid).to_vec())
    }

    /// Opens the transaction log (repairing a torn tail; see [`TxnLog::open`]).
    pub fn open_txn_log(&self, opts: TxnLogOptions) -> Result<TxnLog> {
        TxnLog::open(self.fs.clone(), &self.log_dir, opts)
    }

    /// Whether `dataLogDir/initialize` exists; it is removed if so (ZooKeeper:
    /// `FileTxnSnapLog.restore`, the `zkServer-initialize.sh` marker).
    pub fn take_initialize_marker(&self) -> Result<bool> {
        let Some(parent) = self.log_dir.parent() else {
            return Ok(false);
        };
        let marker = parent.join("initialize");
        if !self.fs.exists(&marker) {
            return Ok(false);
        }
        self.fs
            .remove_file(&marker)
            .map_err(|e| Error::io("remove", &marker, e))?;
        Ok(true)
    }

    /// Keeps the newest `retain` valid snapshots (at least 3) and the logs they need;
    /// removes every older snapshot and log file (ZooKeeper: `PurgeTxnLog.purge`).
    pub fn purge(&self, retain: usize) -> Result<PurgeReport> {
        if retain < MIN_SNAP_RETAIN_COUNT {
            tracing::warn!(retain, "snapRetainCount below the minimum, using 3");
        }
        let retain = retain.max(MIN_SNAP_RETAIN_COUNT);
        let mut report = PurgeReport::default();
        let snaps = self.valid_snapshots(retain)?;
        let Some(oldest) = snaps.last() else {
            return Ok(report);
        };
        let least = oldest.zxid;
        // A log starting before `least` may hold txns after it: keep the newest such one.
        let keep: Vec<PathBuf> = self
            .logs_after_snapshot(least)?
            .into_iter()
            .map(|l| l.path)
            .collect();
        for name in list(self.fs.as_ref(), &self.log_dir)? {
            let path = self.log_dir.join(&name);
            if loose_zxid(&name, "log").is_some_and(|z| z < least) && !keep.contains(&path) {
                self.remove(&path)?;
                report.logs.push(path);
            }
        }
        for name in list(self.fs.as_ref(), &self.snap_dir)? {
            if loose_zxid(&name, "snapshot").is_some_and(|z| z < least) {
                let path = self.snap_dir.join(&name);
                self.remove(&path)?;
                report.snapshots.push(path);
            }
        }
        for dir in [&self.log_dir, &self.snap_dir] {
            self.fs
                .sync_dir(dir)
                .map_err(|e| Error::io("fsync dir", dir, e))?;
        }
        Ok(report)
    }

    /// Removes every snapshot named after `zxid` (a learner whose log was cut there must
    /// not recover from them); returns how many.
    pub fn remove_snapshots_after(&self, zxid: i64) -> Result<usize> {
        let mut removed = 0;
        for f in self.snapshots()?.into_iter().filter(|f| f.zxid > zxid) {
            self.remove(&f.path)?;
            removed += 1;
        }
        if removed > 0 {
            self.fs
                .sync_dir(&self.snap_dir)
                .map_err(|e| Error::io("fsync dir", &self.snap_dir, e))?;
        }
        Ok(removed)
    }

    fn remove(&self, path: &Path) -> Result<()> {
        tracing::info!(file = %path.display(), "Removing file");
        self.fs
            .remove_file(path)
            .map_err(|e| Error::io("remove", path, e))
    }

    /// Reads `acceptedEpoch` or `currentEpoch`; `None` if missing.
    pub fn read_epoch(&self, which: EpochFile) -> Result<Option<i64>> {
        epoch::read_epoch(self.fs.as_ref(), &self.snap_dir.join(which.file_name()))
    }

    /// Writes `acceptedEpoch` or `currentEpoch` durably (tmp, fsync, rename, fsync dir).
    pub fn write_epoch(&self, which: EpochFile, epoch: i64) -> Result<()> {
        epoch::write_epoch(
            self.fs.as_ref(),
            &self.snap_dir.join(which.file_name()),
            epoch,
        )
    }

    /// Reads `currentEpoch.tmp`, left behind when a crash interrupted a currentEpoch update
    /// (ZooKeeper: `QuorumPeer.loadDataBase` adopts it); `None` if missing.
    pub fn read_current_epoch_tmp(&self) -> Result<Option<i64>> {
        let path = crate::fs::tmp_path(&self.snap_dir.join(EpochFile::Current.file_name()));
        epoch::read_epoch(self.fs.as_ref(), &path)
    }

    /// Removes `currentEpoch.tmp` (after adopting it).
    pub fn remove_current_epoch_tmp(&self) -> Result<()> {
        let path = crate::fs::tmp_path(&self.snap_dir.join(EpochFile::Current.file_name()));
        self.remove(&path)
    }

    /// Creates the `updatingEpoch` marker durably: a learner is about to log a sync whose
    /// epoch `currentEpoch` does not name yet (ZooKeeper 3.4's `updatingEpoch` file).
    pub fn mark_epoch_update(&self) -> Result<()> {
        crate::fs::durable_replace(self.fs.as_ref(), &self.updating_epoch_path(), b"")
    }

    /// Whether the `updatingEpoch` marker is there (a sync was being logged when the
    /// process stopped).
    pub fn epoch_update_marked(&self) -> bool {
        self.fs.exists(&self.updating_epoch_path())
    }

    /// Removes the `updatingEpoch` marker (once `currentEpoch` is written), if it is there.
    pub fn clear_epoch_update(&self) -> Result<()> {
        let path = self.updating_epoch_path();
        if !self.fs.exists(&path) {
            return Ok(());
        }
        self.remove(&path)?;
        self.fs
            .sync_dir(&self.snap_dir)
            .map_err(|e| Error::io("fsync dir", &self.snap_dir, e))
    }

    /// Whether files can be written durably in the data directory again after a failure (a
    /// full disk, no file descriptors left): writes, fsyncs and removes a small probe file,
    /// as an epoch file or snapshot would need.
    pub fn probe(&self) -> Result<()> {
        let path = self.snap_dir.join("menagerie.probe");
        let result = (|| {
            let mut f = self.fs.create(&path)?;
            f.write_at(0, &[0u8; 512])?;
            f.sync_data()
        })();
        // Whatever happened, the probe file does not stay.
        let removed = match self.fs.remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
        result
            .and(removed)
            .map_err(|e| Error::io("probe", &path, e))
    }

    fn updating_epoch_path(&self) -> std::path::PathBuf {
        self.snap_dir.join(epoch::UPDATING_EPOCH_FILE)
    }
}

#[cfg(test)]
mod tests;
