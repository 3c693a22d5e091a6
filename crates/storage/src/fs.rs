//! The file-system boundary: everything this crate does to disks goes through [`Fs`].
//!
//! [`StdFs`] is the real thing. [`MemFs`] is an in-memory file system for tests and the
//! simulator that models what a crash does to data that was written but not synced, and that
//! can inject faults (torn writes, bit flips, ENOSPC, EIO).
//!
//! Durability contract (the POSIX one, which `MemFs` enforces): file contents are durable
//! after [`FsFile::sync_data`]; creating, renaming or removing a directory entry is durable
//! after [`Fs::sync_dir`] on the parent directory.

use std::fmt::Debug;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

mod mem;

pub use mem::{CrashMode, FaultKind, FaultOp, MemFs};

/// An open file, readable and writable at explicit offsets.
pub trait FsFile: Send + Debug {
    /// Writes all of `buf` at `offset`, extending the file if needed (a gap reads as zeros).
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> io::Result<()>;
    /// Writes all of `buf` at the current end of the file.
    fn append(&mut self, buf: &[u8]) -> io::Result<()> {
        let end = self.size()?;
        self.write_at(end, buf)
    }
    /// Reads up to `buf.len()` bytes at `offset`; returns how many were read (0 at the end).
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize>;
    /// The file's length in bytes.
    fn size(&mut self) -> io::Result<u64>;
    /// Truncates or extends (with zeros) the file to `len` bytes.
    fn set_len(&mut self, len: u64) -> io::Result<()>;
    /// Makes the contents durable (`fdatasync`; ZooKeeper: `FileChannel.force(false)`).
    fn sync_data(&mut self) -> io::Result<()>;
}

/// A file system: the operations ZooKeeper's persistence layer needs, and no more.
pub trait Fs: Send + Sync + Debug {
    /// Creates a directory and its missing parents (durably: parents are synced).
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Whether `path` exists (file or directory).
    fn exists(&self, path: &Path) -> bool;
    /// Creates `path` (truncating an existing file) for reading and writing.
    fn create(&self, path: &Path) -> io::Result<Box<dyn FsFile>>;
    /// Opens an existing file for reading and writing.
    fn open(&self, path: &Path) -> io::Result<Box<dyn FsFile>>;
    /// Opens an existing file as a sequential stream.
    fn open_read(&self, path: &Path) -> io::Result<Box<dyn Read + Send>>;
    /// Reads a whole file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let mut v = Vec::new();
        self.open_read(path)?.read_to_end(&mut v)?;
        Ok(v)
    }
    /// Reads up to `buf.len()` bytes of a file at `offset` (0 at the end).
    fn read_at(&self, path: &Path, offset: u64, buf: &mut [u8]) -> io::Result<usize>;
    /// The length of a file.
    fn file_len(&self, path: &Path) -> io::Result<u64>;
    /// Renames a file, replacing `to` if it exists (atomic on POSIX).
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes a file.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Makes the directory's entries (creates, renames, removes) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Names of the regular files directly in `dir`, in no particular order.
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>>;
}

/// The real file system (`std::fs`).
#[derive(Debug, Default, Clone, Copy)]
pub struct StdFs;

#[derive(Debug)]
struct StdFile(File);

impl FsFile for StdFile {
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> io::Result<()> {
        self.0.seek(SeekFrom::Start(offset))?;
        self.0.write_all(buf)
    }

    fn append(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.seek(SeekFrom::End(0))?;
        self.0.write_all(buf)
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.0.seek(SeekFrom::Start(offset))?;
        loop {
            match self.0.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => return r,
            }
        }
    }

    fn size(&mut self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }

    fn set_len(&mut self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }

    fn sync_data(&mut self) -> io::Result<()> {
        self.0.sync_data()
    }
}

impl Fs for StdFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        if dir.is_dir() {
            return Ok(());
        }
        fs::create_dir_all(dir)?;
        // Make the new entries durable, from the deepest existing ancestor down.
        let mut p = dir.parent();
        while let Some(parent) = p {
            if parent.as_os_str().is_empty() {
                break;
            }
            self.sync_dir(parent)?;
            p = parent.parent();
        }
        Ok(())
    }

    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn FsFile>> {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        Ok(Box::new(StdFile(f)))
    }

    fn open(&self, path: &Path) -> io::Result<Box<dyn FsFile>> {
        let f = OpenOptions::new().read(true).write(true).open(path)?;
        Ok(Box::new(StdFile(f)))
    }

    fn open_read(&self, path: &Path) -> io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(File::open(path)?))
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        fs::read(path)
    }

    fn read_at(&self, path: &Path, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let mut f = File::open(path)?;
        f.seek(SeekFrom::Start(offset))?;
        let mut done = 0;
        while done < buf.len() {
            match f.read(&mut buf[done..]) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }

    fn file_len(&self, path: &Path) -> io::Result<u64> {
        Ok(fs::metadata(path)?.len())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        #[cfg(unix)]
        {
            File::open(dir)?.sync_all()
        }
        #[cfg(not(unix))]
        {
            // Directories cannot be opened for syncing elsewhere; entries are durable on
            // the file systems these platforms use by default.
            let _ = dir;
            Ok(())
        }
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file()
                && let Some(name) = entry.file_name().to_str()
            {
                names.push(name.to_owned());
            }
        }
        Ok(names)
    }
}

/// Replaces `path` durably with `contents`: write `<path>.tmp`, fsync it, rename it over
/// `path`, fsync the directory (ZooKeeper: `AtomicFileOutputStream`, which skips the last
/// step).
pub fn durable_replace(fs: &dyn Fs, path: &Path, contents: &[u8]) -> crate::Result<()> {
    use crate::Error;
    let tmp = tmp_path(path);
    let mut f = fs.create(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
    f.write_at(0, contents)
        .map_err(|e| Error::io("write", &tmp, e))?;
    f.sync_data().map_err(|e| Error::io("fsync", &tmp, e))?;
    drop(f);
    fs.rename(&tmp, path)
        .map_err(|e| Error::io("rename", &tmp, e))?;
    let dir = parent_dir(path);
    fs.sync_dir(dir).map_err(|e| Error::io("fsync dir", dir, e))
}

/// `<path>.tmp`, the temporary name used by [`durable_replace`] and the snapshot writer.
pub fn tmp_path(path: &Path) -> std::path::PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".tmp");
    s.into()
}

/// The directory holding `path` (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}
