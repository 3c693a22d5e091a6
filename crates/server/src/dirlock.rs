//! One server per data directory: an exclusive lock on `menagerie.lock` in `dataDir` and in
//! `dataLogDir`, taken before any data file is opened and held while the server runs.
//!
//! A second server started on a directory in use would otherwise recover it: it would take
//! the running server's unfinished log write for a torn tail and cut it off, losing
//! acknowledged transactions. The lock is an advisory `flock(2)` lock on the file, released
//! by the kernel when the process ends however it ends (no stale lock after a crash); the
//! file holds the owner's pid so that the refusal can name it.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use rustix::fs::{FlockOperation, flock};

/// Name of the lock file in each directory.
pub const LOCK_FILE: &str = "menagerie.lock";

/// Why a data directory could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds the lock.
    #[error(
        "{dir} is in use by another server ({owner}, holding {file}); stop it first, or give \
         this server its own dataDir and dataLogDir"
    )]
    InUse {
        /// The directory.
        dir: PathBuf,
        /// The lock file.
        file: PathBuf,
        /// Who holds it, as its lock file says (`process N`).
        owner: String,
    },
    /// The directory or the lock file could not be created, opened or locked.
    #[error("cannot lock {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// A held lock on one directory; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct DirLock {
    file: File,
    path: PathBuf,
}

impl DirLock {
    /// Creates `dir` if needed and takes its lock without waiting; writes this process's
    /// pid into the lock file.
    pub fn acquire(dir: &Path) -> Result<DirLock, LockError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| LockError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io(&path))?;
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
                return Err(LockError::InUse {
                    dir: dir.to_path_buf(),
                    owner: owner(&mut file),
                    file: path,
                });
            }
            Err(e) => return Err(io(&path)(e.into())),
        }
        let pid = std::process::id();
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| writeln!(file, "{pid}"))
            .map_err(io(&path))?;
        Ok(DirLock { file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        // Closing the file releases the lock too; unlocking first makes the release
        // immediate even if another handle of the file were still open.
        let _ = flock(&self.file, FlockOperation::Unlock);
    }
}

/// "process N" from a held lock file's contents, or "an unknown process".
fn owner(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file.read_to_string(&mut text);
    match text.trim().parse::<u32>() {
        Ok(pid) => format!("process {pid}"),
        Err(_) => "an unknown process".into(),
    }
}

/// The locks of a server's data directories.
#[derive(Debug)]
pub struct DataDirLocks {
    /// `dataDir`'s lock.
    pub data: DirLock,
    /// `dataLogDir`'s lock, when it is another directory.
    pub log: Option<DirLock>,
}

impl DataDirLocks {
    /// Locks `data_dir` and, if different, `data_log_dir`.
    pub fn acquire(data_dir: &Path, data_log_dir: &Path) -> Result<DataDirLocks, LockError> {
        let data = DirLock::acquire(data_dir)?;
        let same = match (data_dir.canonicalize(), data_log_dir.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => data_dir == data_log_dir,
        };
        let log = if same {
            None
        } else {
            Some(DirLock::acquire(data_log_dir)?)
        };
        Ok(DataDirLocks { data, log })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_directory_is_refused_naming_the_holder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let held = DirLock::acquire(dir.path()).expect("first lock");
        let err = DirLock::acquire(dir.path()).expect_err("second lock");
        let text = err.to_string();
        assert!(
            text.contains(&format!("process {}", std::process::id())),
            "{text}"
        );
        assert!(text.contains("menagerie.lock"), "{text}");
        drop(held);
        DirLock::acquire(dir.path()).expect("free again once released");
    }

    #[test]
    fn the_log_directory_is_locked_too() {
        let data = tempfile::tempdir().expect("tempdir");
        let log = tempfile::tempdir().expect("tempdir");
        let locks = DataDirLocks::acquire(data.path(), log.path()).expect("locks");
        assert!(locks.log.is_some());
        let other = tempfile::tempdir().expect("tempdir");
        assert!(matches!(
            DataDirLocks::acquire(other.path(), log.path()),
            Err(LockError::InUse { .. })
        ));
        // The same directory twice is one lock.
        let one = tempfile::tempdir().expect("tempdir");
        let single = DataDirLocks::acquire(one.path(), one.path()).expect("locks");
        assert!(single.log.is_none());
    }
}
