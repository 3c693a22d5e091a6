//! Data-file names and listings (ZooKeeper: `Util.makeLogName`, `Util.makeSnapshotName`,
//! `FileTxnLog.getLogFiles`): `log.<hex zxid>` and `snapshot.<hex zxid>[.gz|.snappy]`, named
//! with `Long.toHexString` (lowercase, no padding) and ordered by the parsed number, never
//! lexically. A leaf of the crate: the directories, the log and the snapshots all use it.

use std::path::{Path, PathBuf};

use crate::fs::Fs;
use crate::{Error, Result};

/// `log.<hex zxid>` (ZooKeeper: `Util.makeLogName`).
pub fn log_file_name(zxid: i64) -> String {
    format!("log.{zxid:x}")
}

/// `snapshot.<hex zxid>` (ZooKeeper: `Util.makeSnapshotName`, uncompressed).
pub fn snapshot_file_name(zxid: i64) -> String {
    format!("snapshot.{zxid:x}")
}

/// A snapshot's compression, from its file extension (ZooKeeper: `SnapStream.StreamMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotCompression {
    /// Plain (`snapshot.<zxid>`).
    None,
    /// `snapshot.<zxid>.gz`.
    Gzip,
    /// `snapshot.<zxid>.snappy`.
    Snappy,
}

fn parse_hex(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    i64::from_str_radix(s, 16).ok()
}

/// The zxid of `log.<hex>`; `None` for any other name.
pub fn parse_log_name(name: &str) -> Option<i64> {
    parse_hex(name.strip_prefix("log.")?)
}

/// The zxid and compression of `snapshot.<hex>[.gz|.snappy]`; `None` for any other name,
/// including the `.tmp` files of unfinished writes.
pub fn parse_snapshot_name(name: &str) -> Option<(i64, SnapshotCompression)> {
    let rest = name.strip_prefix("snapshot.")?;
    let (hex, compression) = match rest.split_once('.') {
        None => (rest, SnapshotCompression::None),
        Some((hex, "gz")) => (hex, SnapshotCompression::Gzip),
        Some((hex, "snappy")) => (hex, SnapshotCompression::Snappy),
        Some(_) => return None,
    };
    Some((parse_hex(hex)?, compression))
}

/// ZooKeeper's own, looser parse (`Util.getZxidFromName`): `prefix.<hex>[.anything]`. Used
/// by purge so that it deletes what ZooKeeper's purge deletes (e.g. stale `.tmp` files).
pub(crate) fn loose_zxid(name: &str, prefix: &str) -> Option<i64> {
    let mut parts = name.split('.');
    if parts.next()? != prefix {
        return None;
    }
    parse_hex(parts.next()?)
}

/// A transaction-log file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFile {
    /// zxid of its first txn (from the name).
    pub zxid: i64,
    /// Its path.
    pub path: PathBuf,
}

/// A snapshot file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotFile {
    /// zxid from the name: the last txn applied when it was started.
    pub zxid: i64,
    /// Its path.
    pub path: PathBuf,
    /// Compression, from the extension.
    pub compression: SnapshotCompression,
}

/// The names in `dir`.
pub(crate) fn list(fs: &dyn Fs, dir: &Path) -> Result<Vec<String>> {
    fs.list_dir(dir).map_err(|e| Error::io("list", dir, e))
}

/// The log files of `dir`, oldest first.
pub fn list_log_files(fs: &dyn Fs, dir: &Path) -> Result<Vec<LogFile>> {
    let mut v: Vec<LogFile> = list(fs, dir)?
        .into_iter()
        .filter_map(|name| {
            let zxid = parse_log_name(&name)?;
            Some(LogFile {
                zxid,
                path: dir.join(name),
            })
        })
        .collect();
    v.sort_by_key(|l| l.zxid);
    Ok(v)
}

/// The snapshot files of `dir`, newest first.
pub fn list_snapshot_files(fs: &dyn Fs, dir: &Path) -> Result<Vec<SnapshotFile>> {
    let mut v: Vec<SnapshotFile> = list(fs, dir)?
        .into_iter()
        .filter_map(|name| {
            let (zxid, compression) = parse_snapshot_name(&name)?;
            Some(SnapshotFile {
                zxid,
                path: dir.join(name),
                compression,
            })
        })
        .collect();
    v.sort_by_key(|s| std::cmp::Reverse(s.zxid));
    Ok(v)
}

/// The log files needed to replay after a snapshot at `snapshot_zxid`: the newest one
/// starting at or before it, and all later ones (ZooKeeper: `FileTxnLog.getLogFiles`).
/// `logs` must be oldest first.
pub fn logs_needed_after(logs: &[LogFile], snapshot_zxid: i64) -> &[LogFile] {
    let start = logs
        .iter()
        .filter(|l| l.zxid <= snapshot_zxid)
        .map(|l| l.zxid)
        .fold(0, i64::max);
    let first = logs
        .iter()
        .position(|l| l.zxid >= start)
        .unwrap_or(logs.len());
    &logs[first..]
}
