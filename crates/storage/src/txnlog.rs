//! The transaction log: `dataLogDir/version-2/log.<hex zxid>` files in ZooKeeper's format
//! (ZooKeeper: `FileTxnLog`, `FilePadding`, `Util`; spec 10.2).
//!
//! ```text
//! FileHeader : int magic "ZKLG", int version 2, long dbid 0
//! entry*     : long adler32(body), int len, byte body[len], byte 'B'
//! padding    : zeros (sparse preallocation, preAllocSize at a time)
//! ```
//!
//! The 1 MiB ahead of the last entry is filled with written zeros (not a hole), so that an
//! fsync after an append flushes data only, without allocating blocks or writing the inode.
//!
//! Appends are buffered; [`TxnLog::commit`] writes them and fsyncs every file that has
//! unsynced data (group commit). A new file is started on the first append after
//! [`TxnLog::roll`], named after that append's zxid. Any I/O error poisons the log: later
//! calls fail with [`Error::Poisoned`], so an fsync failure can never be followed by a
//! "successful" commit of data the kernel may already have dropped.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use menagerie_proto::jute::Record;
use menagerie_proto::txn::LoggedTxn;

use crate::fs::{Fs, FsFile};
use crate::names::{list_log_files, log_file_name};
use crate::{Error, Result};

mod reader;
mod stats;

pub use reader::{FileEnd, FileScan, LogEntry, LogFileReader, Step, TxnIterator, scan_log_file};
pub use stats::{FSYNC_BUCKET_BOUNDS_MS, FSYNC_BUCKETS, FsyncStats, FsyncStatsSnapshot};

/// `"ZKLG"` (ZooKeeper: `FileTxnLog.TXNLOG_MAGIC`).
pub const TXNLOG_MAGIC: i32 = i32::from_be_bytes(*b"ZKLG");
/// On-disk format version (ZooKeeper: `FileTxnLog.VERSION`).
pub const TXNLOG_VERSION: i32 = 2;
/// Default longest log entry body, read or written: far above what one request can make
/// (a request is at most `jute.maxbuffer`, 1 MiB by default, and a closeSession txn lists
/// at most 512 KiB of paths), yet small enough that a damaged length field is recognised as
/// damage rather than taken for a torn tail. Independent of `jute.maxbuffer`, so lowering
/// that setting never makes a log unreadable.
pub const MAX_ENTRY_LEN: usize = 64 << 20;
/// Size of the file header.
pub const FILE_HEADER_LEN: u64 = 16;
/// Default preallocation block: 64 MiB (ZooKeeper: `zookeeper.preAllocSize` = 65536 KB).
pub const DEFAULT_PRE_ALLOC_SIZE: u64 = 64 * 1024 * 1024;

/// Appended bytes are written to the file once this many are buffered (ZooKeeper buffers in
/// a `BufferedOutputStream`).
const WRITE_BUFFER: usize = 64 * 1024;

/// Settings of a [`TxnLog`].
#[derive(Debug, Clone)]
pub struct TxnLogOptions {
    /// Preallocation block in bytes; 0 disables preallocation (`zookeeper.preAllocSize`,
    /// which is in KB).
    pub pre_alloc_size: u64,
    /// Whether commits fsync (`zookeeper.forceSync`; `no` is unsafe).
    pub force_sync: bool,
    /// An fsync slower than this is logged and reported (`zookeeper.fsync.warningthresholdms`).
    pub fsync_warning_threshold: Duration,
    /// Where every commit's fsync time is counted (`None`: nowhere).
    pub fsync_stats: Option<Arc<FsyncStats>>,
    /// Roll to a new file after a commit leaves the current one larger than this many bytes
    /// of entries (`zookeeper.txnLogSizeLimitInKb`; `None` = off).
    pub size_limit: Option<u64>,
    /// Longest entry body accepted, when reading and when appending, so that the log never
    /// holds an entry its own reader refuses ([`MAX_ENTRY_LEN`] by default; a server uses the
    /// larger of that and `jute.maxbuffer` + 1024).
    pub max_entry_len: usize,
    /// The `dbid` written in file headers (always 0 in ZooKeeper).
    pub db_id: i64,
}

impl Default for TxnLogOptions {
    fn default() -> Self {
        TxnLogOptions {
            pre_alloc_size: DEFAULT_PRE_ALLOC_SIZE,
            force_sync: true,
            fsync_warning_threshold: Duration::from_millis(1000),
            fsync_stats: None,
            size_limit: None,
            max_entry_len: MAX_ENTRY_LEN,
            db_id: 0,
        }
    }
}

/// What a [`TxnLog::commit`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CommitInfo {
    /// Total time spent in fsync (`None` if nothing was synced, or `force_sync` is off).
    pub fsync: Option<Duration>,
    /// Whether that exceeded the warning threshold (ZooKeeper counts these as
    /// `fsync_threshold_exceed_count`).
    pub slow: bool,
    /// Highest zxid now durable (`-1` if none was ever appended).
    pub last_zxid: i64,
}

/// How far ahead of the entries [`zero_ahead`] writes zeros.
const ZERO_AHEAD: u64 = 1 << 20;

/// Writes real zeros into the preallocated (sparse) region after the next `upcoming` bytes
/// (buffered entries and the one being appended), [`ZERO_AHEAD`] at a time. Appends then
/// overwrite blocks that already exist, so an fsync flushes only data; appends into a hole
/// make the file system allocate blocks and write the inode on every fsync (on ext4 about
/// 0.1 ms more per fsync). Zeros are what the padding reads as anyway, so the file's
/// contents are the same either way.
fn zero_ahead(cur: &mut OpenLog, upcoming: u64, pre_alloc: u64) -> Result<()> {
    if pre_alloc == 0 {
        return Ok(());
    }
    // Never write zeros over bytes that are written, buffered or about to be.
    let end = cur.written + upcoming;
    cur.zeroed = cur.zeroed.max(end);
    if end + ZERO_AHEAD / 2 <= cur.zeroed || cur.zeroed >= cur.size {
        return Ok(());
    }
    static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];
    let to = (cur.zeroed + ZERO_AHEAD).min(cur.size);
    while cur.zeroed < to {
        let n = (to - cur.zeroed).min(ZEROS.len() as u64);
        cur.file
            .write_at(cur.zeroed, &ZEROS[..n as usize])
            .map_err(|e| Error::io("preallocate", &cur.path, e))?;
        cur.zeroed += n;
    }
    Ok(())
}

/// ZooKeeper: `FilePadding.calculateFileSizeWithPadding`.
pub fn padded_size(position: u64, file_size: u64, pre_alloc_size: u64) -> u64 {
    if pre_alloc_size > 0 && position + 4096 >= file_size {
        if position > file_size {
            let size = position + pre_alloc_size;
            return size - size % pre_alloc_size;
        }
        return file_size + pre_alloc_size;
    }
    file_size
}

#[derive(Debug)]
struct OpenLog {
    path: PathBuf,
    file: Box<dyn FsFile>,
    /// Bytes of header and entries written to the file.
    written: u64,
    /// Size the file was extended to by preallocation.
    size: u64,
    /// End of the region holding written bytes (entries, or zeros written ahead of them).
    zeroed: u64,
    /// Whether it has data not yet fsynced.
    dirty: bool,
}

/// A ZooKeeper-format transaction log directory, open for appending and reading.
#[derive(Debug)]
pub struct TxnLog {
    fs: Arc<dyn Fs>,
    dir: PathBuf,
    opts: TxnLogOptions,
    current: Option<OpenLog>,
    /// Rolled files whose data is not yet fsynced (ZooKeeper: `streamsToFlush`).
    rolled: Vec<OpenLog>,
    buf: Vec<u8>,
    dir_dirty: bool,
    last_zxid_seen: i64,
    last_zxid_synced: i64,
    failed: Option<String>,
}

impl TxnLog {
    /// Opens the log directory `dir` (which must exist) and repairs what a crash may have
    /// left at its tail: an empty or header-less last file is removed (ZooKeeper:
    /// `FileTxnIterator.goToNextLog`), and a torn last entry is cut off so that the file ends
    /// with its last complete entry. A checksum mismatch before the tail is an error.
    pub fn open(fs: Arc<dyn Fs>, dir: &Path, opts: TxnLogOptions) -> Result<TxnLog> {
        let mut last = -1;
        let mut logs = list_log_files(fs.as_ref(), dir)?;
        if let Some(tail) = logs.last() {
            let len = fs
                .file_len(&tail.path)
                .map_err(|e| Error::io("stat", &tail.path, e))?;
            if len < FILE_HEADER_LEN || header_is_zero(fs.as_ref(), &tail.path)? {
                tracing::warn!(file = %tail.path.display(), len, "removing log file with no complete header (crash while creating it)");
                fs.remove_file(&tail.path)
                    .map_err(|e| Error::io("remove", &tail.path, e))?;
                fs.sync_dir(dir)
                    .map_err(|e| Error::io("fsync dir", dir, e))?;
                logs.pop();
            }
        }
        for (i, log) in logs.iter().enumerate().rev() {
            let scan = scan_log_file(fs.as_ref(), &log.path, opts.max_entry_len)?;
            if i + 1 == logs.len()
                && let FileEnd::Partial { offset } = scan.end
            {
                tracing::warn!(file = %log.path.display(), offset, "truncating torn entry at the tail of the txn log");
                let mut f = fs
                    .open(&log.path)
                    .map_err(|e| Error::io("open", &log.path, e))?;
                f.set_len(offset)
                    .map_err(|e| Error::io("truncate", &log.path, e))?;
                f.sync_data()
                    .map_err(|e| Error::io("fsync", &log.path, e))?;
            }
            if let Some(z) = scan.last_zxid {
                last = z;
                break;
            }
        }
        Ok(TxnLog {
            fs,
            dir: dir.to_path_buf(),
            opts,
            current: None,
            rolled: Vec::new(),
            buf: Vec::new(),
            dir_dirty: false,
            last_zxid_seen: last,
            last_zxid_synced: last,
            failed: None,
        })
    }

    /// The directory holding the log files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The options in force.
    pub fn options(&self) -> &TxnLogOptions {
        &self.opts
    }

    /// Highest zxid appended (or found at open); `-1` if none.
    pub fn last_zxid(&self) -> i64 {
        self.last_zxid_seen
    }

    /// Highest zxid known durable; `-1` if none.
    pub fn last_synced_zxid(&self) -> i64 {
        self.last_zxid_synced
    }

    /// The file currently appended to, if any.
    pub fn current_file(&self) -> Option<&Path> {
        self.current.as_ref().map(|c| c.path.as_path())
    }

    /// Bytes of header and entries in the current file, buffered ones included.
    pub fn current_size(&self) -> u64 {
        self.current
            .as_ref()
            .map_or(0, |c| c.written + self.buf.len() as u64)
    }

    fn check(&self) -> Result<()> {
        match &self.failed {
            Some(why) => Err(Error::Poisoned(why.clone())),
            None => Ok(()),
        }
    }

    fn poison<T>(&mut self, r: Result<T>) -> Result<T> {
        if let Err(e) = &r {
            tracing::error!(error = %e, "txn log write failed; refusing further writes");
            self.failed = Some(e.to_string());
        }
        r
    }

    /// Appends a typed txn (ZooKeeper: `FileTxnLog.append` after `Util.marshallTxnEntry`).
    pub fn append_txn(&mut self, txn: &LoggedTxn) -> Result<()> {
        self.append(txn.zxid().0, &txn.to_bytes())
    }

    /// Appends an already-encoded body (`TxnHeader ‖ record ‖ [TxnDigest]`, e.g. a PROPOSAL
    /// payload) for `zxid`. Buffered: durable only after [`TxnLog::commit`].
    pub fn append(&mut self, zxid: i64, body: &[u8]) -> Result<()> {
        self.check()?;
        if body.is_empty() {
            return Err(Error::InvalidInput(
                "Faulty serialization for header and txn".into(),
            ));
        }
        if body.len() > self.opts.max_entry_len {
            return Err(Error::InvalidInput(format!(
                "txn of {} bytes is longer than the log's entry limit of {} bytes (jute.maxbuffer + 1024)",
                body.len(),
                self.opts.max_entry_len
            )));
        }
        let r = self.append_inner(zxid, body);
        self.poison(r)
    }

    fn append_inner(&mut self, zxid: i64, body: &[u8]) -> Result<()> {
        if zxid <= self.last_zxid_seen {
            tracing::warn!(
                zxid,
                last = self.last_zxid_seen,
                "Current zxid is <= last zxid seen"
            );
        } else {
            self.last_zxid_seen = zxid;
        }
        if self.current.is_none() {
            let path = self.dir.join(log_file_name(zxid));
            tracing::info!(file = %path.display(), "Creating new log file");
            let mut file = self
                .fs
                .create(&path)
                .map_err(|e| Error::io("create", &path, e))?;
            let mut header = Vec::with_capacity(16);
            TXNLOG_MAGIC.write(&mut header);
            TXNLOG_VERSION.write(&mut header);
            self.opts.db_id.write(&mut header);
            // ZooKeeper: "Make sure that the magic number is written before padding."
            file.write_at(0, &header)
                .map_err(|e| Error::io("write", &path, e))?;
            self.current = Some(OpenLog {
                path,
                file,
                written: FILE_HEADER_LEN,
                size: FILE_HEADER_LEN,
                zeroed: FILE_HEADER_LEN,
                dirty: true,
            });
            self.dir_dirty = true;
        }
        let buffered = self.buf.len() as u64;
        let pre_alloc = self.opts.pre_alloc_size;
        let Some(cur) = self.current.as_mut() else {
            return Err(Error::InvalidInput("no current log file".into()));
        };
        // ZooKeeper: FilePadding.padFile — extend by writing one zero byte at newSize − 1.
        let new_size = padded_size(cur.written + buffered, cur.size, pre_alloc);
        if new_size != cur.size {
            cur.file
                .write_at(new_size - 1, &[0])
                .map_err(|e| Error::io("preallocate", &cur.path, e))?;
            cur.size = new_size;
        }
        zero_ahead(cur, buffered + body.len() as u64 + 13, pre_alloc)?;
        let crc = u64::from(adler2::adler32_slice(body)) as i64;
        crc.write(&mut self.buf);
        (body.len() as i32).write(&mut self.buf);
        self.buf.extend_from_slice(body);
        self.buf.push(b'B');
        if self.buf.len() >= WRITE_BUFFER {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes buffered entries to the current file (no fsync).
    fn flush(&mut self) -> Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let Some(cur) = self.current.as_mut() else {
            return Err(Error::InvalidInput(
                "buffered entries without a log file".into(),
            ));
        };
        cur.file
            .write_at(cur.written, &self.buf)
            .map_err(|e| Error::io("write", &cur.path, e))?;
        cur.written += self.buf.len() as u64;
        if cur.written > cur.size {
            cur.size = cur.written;
        }
        cur.dirty = true;
        self.buf.clear();
        Ok(())
    }

    /// Writes everything appended and makes it durable: fdatasync of every file with
    /// unsynced data, and of the directory if a file was created (ZooKeeper:
    /// `FileTxnLog.commit`, which never syncs the directory). Then rolls the log if it
    /// outgrew `size_limit`.
    pub fn commit(&mut self) -> Result<CommitInfo> {
        self.check()?;
        let r = self.commit_inner();
        self.poison(r)
    }

    fn commit_inner(&mut self) -> Result<CommitInfo> {
        self.flush()?;
        let mut info = CommitInfo {
            last_zxid: self.last_zxid_seen,
            ..CommitInfo::default()
        };
        if self.opts.force_sync {
            let start = Instant::now();
            let mut synced: Vec<&Path> = Vec::new();
            for log in self.rolled.iter_mut().chain(self.current.as_mut()) {
                if log.dirty {
                    log.file
                        .sync_data()
                        .map_err(|e| Error::io("fsync", &log.path, e))?;
                    log.dirty = false;
                    synced.push(&log.path);
                }
            }
            if self.dir_dirty {
                self.fs
                    .sync_dir(&self.dir)
                    .map_err(|e| Error::io("fsync dir", &self.dir, e))?;
                self.dir_dirty = false;
                synced.push(&self.dir);
            }
            if !synced.is_empty() {
                let took = start.elapsed();
                info.fsync = Some(took);
                info.slow = took > self.opts.fsync_warning_threshold;
                if let Some(stats) = &self.opts.fsync_stats {
                    stats.record(took, info.slow);
                }
                if info.slow {
                    let files: Vec<String> =
                        synced.iter().map(|p| p.display().to_string()).collect();
                    let size = self.current.as_ref().map_or(0, |c| c.size);
                    tracing::warn!(
                        file = %files.join(", "),
                        took_ms = took.as_millis() as u64,
                        threshold_ms = self.opts.fsync_warning_threshold.as_millis() as u64,
                        file_size = size,
                        "fsync-ing the write ahead log took longer than fsync.warningthresholdms, which will adversely effect operation latency; see the ZooKeeper troubleshooting guide"
                    );
                }
            }
        }
        self.rolled.clear();
        self.last_zxid_synced = self.last_zxid_seen;
        if let Some(limit) = self.opts.size_limit
            && self.current_size() > limit
        {
            tracing::debug!(size = self.current_size(), "Log size limit reached");
            self.roll_inner()?;
        }
        Ok(info)
    }

    /// Ends the current file: the next append starts a new one (ZooKeeper:
    /// `FileTxnLog.rollLog`). Its data is written now and fsynced by the next commit.
    pub fn roll(&mut self) -> Result<()> {
        self.check()?;
        let r = self.roll_inner();
        self.poison(r)
    }

    fn roll_inner(&mut self) -> Result<()> {
        self.flush()?;
        if let Some(cur) = self.current.take()
            && cur.dirty
        {
            self.rolled.push(cur);
        }
        Ok(())
    }

    /// Reads txns with zxid ≥ `from`, across files (see [`TxnIterator`]). Appends not yet
    /// committed may be invisible.
    pub fn read_from(&self, from: i64) -> Result<TxnIterator> {
        TxnIterator::open(self.fs.clone(), &self.dir, from, self.opts.max_entry_len)
    }

    /// Removes every txn with zxid > `zxid` (a leader's TRUNC): cuts the newest file starting
    /// at or before `zxid` just before its first later txn, and deletes all files starting
    /// after `zxid` (ZooKeeper: `FileTxnLog.truncate`). The next append starts a new file.
    /// With no log file at all it fails with [`Error::NoLogToTruncate`] and changes nothing
    /// (the log stays usable).
    pub fn truncate(&mut self, zxid: i64) -> Result<()> {
        self.check()?;
        if list_log_files(self.fs.as_ref(), &self.dir)?.is_empty() && self.current.is_none() {
            return Err(Error::NoLogToTruncate {
                dir: self.dir.clone(),
            });
        }
        let r = self.truncate_inner(zxid);
        self.poison(r)
    }

    fn truncate_inner(&mut self, zxid: i64) -> Result<()> {
        self.roll_inner()?;
        self.rolled.clear();
        let logs = list_log_files(self.fs.as_ref(), &self.dir)?;
        let keep = logs.iter().rposition(|l| l.zxid <= zxid);
        if let Some(i) = keep {
            let path = &logs[i].path;
            let mut r =
                reader::LogFileReader::open(self.fs.as_ref(), path, self.opts.max_entry_len)?;
            let cut = loop {
                match r.next_step()? {
                    reader::Step::Entry(e) if e.zxid() > zxid => break e.offset,
                    reader::Step::Entry(_) => {}
                    reader::Step::End(end) => break end.offset(),
                }
            };
            let mut f = self.fs.open(path).map_err(|e| Error::io("open", path, e))?;
            f.set_len(cut).map_err(|e| Error::io("truncate", path, e))?;
            f.sync_data().map_err(|e| Error::io("fsync", path, e))?;
        }
        let first_removed = keep.map_or(0, |i| i + 1);
        for log in &logs[first_removed..] {
            self.fs
                .remove_file(&log.path)
                .map_err(|e| Error::io("remove", &log.path, e))?;
        }
        self.fs
            .sync_dir(&self.dir)
            .map_err(|e| Error::io("fsync dir", &self.dir, e))?;
        self.last_zxid_seen = zxid;
        self.last_zxid_synced = zxid;
        Ok(())
    }

    /// Brings a log whose write failed back to its last durable point, so that appending
    /// can resume: buffered and unsynced data are dropped (after a failed fsync the kernel
    /// may already have discarded them, so they are never trusted), every entry after the
    /// last zxid known durable is cut off, and files that start after it are removed — a
    /// half-created file from a failed roll among them, whatever its preallocation. The next
    /// append starts a new file. Afterwards [`TxnLog::last_zxid`] is that durable zxid; the
    /// caller appends again what followed it. Fails (and stays poisoned) if the disk still
    /// refuses; it can be called again.
    pub fn recover_after_failure(&mut self) -> Result<()> {
        self.current = None;
        self.rolled.clear();
        self.buf.clear();
        let durable = self.last_zxid_synced;
        if list_log_files(self.fs.as_ref(), &self.dir)?.is_empty() {
            self.fs
                .sync_dir(&self.dir)
                .map_err(|e| Error::io("fsync dir", &self.dir, e))?;
            self.last_zxid_seen = durable;
        } else {
            self.truncate_inner(durable)?;
        }
        self.dir_dirty = false;
        if let Some(why) = self.failed.take() {
            tracing::info!(durable, after = %why, "transaction log back at its last durable entry");
        }
        Ok(())
    }

    /// Writes buffered entries without syncing and closes the files.
    pub fn close(mut self) -> Result<()> {
        self.check()?;
        self.flush()
    }
}

fn header_is_zero(fs: &dyn Fs, path: &Path) -> Result<bool> {
    let mut b = [0u8; FILE_HEADER_LEN as usize];
    let n = fs
        .read_at(path, 0, &mut b)
        .map_err(|e| Error::io("read", path, e))?;
    Ok(n == b.len() && b.iter().all(|&x| x == 0))
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod damage_tests;

#[cfg(test)]
mod recovery_tests;
