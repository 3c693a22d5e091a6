//! The Zab epoch files `acceptedEpoch` and `currentEpoch` in `dataDir/version-2` (ZooKeeper:
//! `QuorumPeer.writeLongToFile` / `readLongFromFile`; spec 09 §9.4): the decimal text of a
//! long, no newline, replaced atomically (`<name>.tmp`, fsync, rename).

use std::io;
use std::path::Path;

use crate::fs::{Fs, durable_replace};
use crate::{Error, Result};

/// Which epoch file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpochFile {
    /// `acceptedEpoch`: the highest epoch accepted from a LEADERINFO.
    Accepted,
    /// `currentEpoch`: the epoch of the last NEWLEADER acknowledged.
    Current,
}

impl EpochFile {
    /// The file name.
    pub fn file_name(self) -> &'static str {
        match self {
            EpochFile::Accepted => "acceptedEpoch",
            EpochFile::Current => "currentEpoch",
        }
    }
}

/// The marker a learner keeps in the snapshot directory while it logs a sync of an epoch
/// `currentEpoch` does not name yet (ZooKeeper 3.4's `updatingEpoch`).
pub const UPDATING_EPOCH_FILE: &str = "updatingEpoch";

/// Reads an epoch file; `None` if it does not exist. Like Java's `readLine` +
/// `Long.parseLong`, only the first line counts and a line ending is allowed.
pub fn read_epoch(fs: &dyn Fs, path: &Path) -> Result<Option<i64>> {
    let bytes = match fs.read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("read", path, e)),
    };
    let text = String::from_utf8_lossy(&bytes);
    let line = text.split(['\n', '\r']).next().unwrap_or("");
    line.parse::<i64>().map(Some).map_err(|_| Error::BadEpoch {
        file: path.to_path_buf(),
        text: text.chars().take(64).collect(),
    })
}

/// Writes an epoch file durably.
pub fn write_epoch(fs: &dyn Fs, path: &Path, epoch: i64) -> Result<()> {
    durable_replace(fs, path, epoch.to_string().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::{CrashMode, FaultKind, FaultOp, MemFs};
    use std::path::PathBuf;

    #[test]
    fn epoch_files_round_trip_and_survive_crashes() {
        let fs = MemFs::new();
        let dir = PathBuf::from("/data/version-2");
        fs.create_dir_all(&dir).unwrap();
        let path = dir.join(EpochFile::Current.file_name());
        assert_eq!(read_epoch(&fs, &path).unwrap(), None);
        write_epoch(&fs, &path, 7).unwrap();
        assert_eq!(fs.contents(&path).unwrap(), b"7");
        fs.crash(CrashMode::LoseUnsynced);
        assert_eq!(read_epoch(&fs, &path).unwrap(), Some(7));

        // A failed rename leaves the old value and a .tmp with the new one.
        fs.inject(FaultOp::Rename, FaultKind::Io, None, Some(1));
        assert!(write_epoch(&fs, &path, 8).is_err());
        assert_eq!(read_epoch(&fs, &path).unwrap(), Some(7));
        let tmp = crate::fs::tmp_path(&path);
        assert_eq!(read_epoch(&fs, &tmp).unwrap(), Some(8));
    }

    #[test]
    fn parsing_is_like_java() {
        let fs = MemFs::new();
        let p = PathBuf::from("/d/acceptedEpoch");
        for (text, want) in [
            (&b"12\n"[..], Some(12)),
            (b"-1", Some(-1)),
            (b"4294967296\r\n", Some(4294967296)),
        ] {
            fs.put_file(&p, text).unwrap();
            assert_eq!(read_epoch(&fs, &p).unwrap(), want);
        }
        for bad in [&b""[..], b" 1", b"x", b"99999999999999999999"] {
            fs.put_file(&p, bad).unwrap();
            assert!(matches!(read_epoch(&fs, &p), Err(Error::BadEpoch { .. })));
        }
    }
}
