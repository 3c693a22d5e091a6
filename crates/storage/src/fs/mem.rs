//! An in-memory [`Fs`] that models crashes and injects faults.
//!
//! Every file keeps two states: what is durable (as of its last `sync_data`) and what the
//! process sees (durable plus the writes since, kept as an ordered journal). Directory entries
//! likewise have a current and a durable view; `sync_dir` publishes one directory's current
//! entries. [`MemFs::crash`] then decides what survives:
//!
//! * [`CrashMode::ProcessOnly`]: the process died, the kernel did not; everything written
//!   survives.
//! * [`CrashMode::LoseUnsynced`]: power loss; only synced data and synced entries survive.
//! * [`CrashMode::TornTail`]: power loss during writeback; each file keeps its synced state
//!   plus the first `keep_bytes` bytes of its unsynced writes, in order, the last one torn.
//!
//! Files are sparse: bytes never written read as zeros and cost no memory, so ZooKeeper's
//! 64 MiB log preallocation is cheap here.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::{Fs, FsFile};

/// What survives [`MemFs::crash`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashMode {
    /// Only the process died: all written data and all directory changes survive.
    ProcessOnly,
    /// Power loss: unsynced data and unsynced directory entries are lost.
    LoseUnsynced,
    /// Power loss during writeback: unsynced directory entries are lost; each file keeps its
    /// synced contents plus the first `keep_bytes` bytes of its unsynced writes, applied in
    /// order, the write crossing the budget torn.
    TornTail {
        /// Bytes of unsynced writes to keep per file.
        keep_bytes: usize,
    },
}

/// Operations a fault can be attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultOp {
    /// `write_at` / `append` (the failing write first stores half of its bytes, as a real
    /// short write would).
    Write,
    /// `sync_data`.
    Sync,
    /// `set_len`.
    SetLen,
    /// `create` / `open`.
    Create,
    /// `rename`.
    Rename,
    /// `remove_file`.
    Remove,
    /// `sync_dir`.
    SyncDir,
    /// `open_read`, `read_at`.
    Read,
}

/// The error an injected fault produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// ENOSPC (`io::ErrorKind::StorageFull`).
    NoSpace,
    /// EIO.
    Io,
}

impl FaultKind {
    fn error(self) -> io::Error {
        match self {
            FaultKind::NoSpace => io::Error::new(
                io::ErrorKind::StorageFull,
                "No space left on device (simulated)",
            ),
            FaultKind::Io => io::Error::other("Input/output error (simulated)"),
        }
    }
}

#[derive(Debug, Clone)]
struct Fault {
    op: FaultOp,
    kind: FaultKind,
    path_contains: Option<String>,
    remaining: Option<u32>,
}

/// A sparse byte array: `data` holds a prefix, the rest up to `len` is zeros.
#[derive(Debug, Clone, Default)]
struct Content {
    data: Vec<u8>,
    len: u64,
}

impl Content {
    fn write(&mut self, offset: u64, buf: &[u8]) {
        let end = offset + buf.len() as u64;
        self.len = self.len.max(end);
        // Trailing zeros that land beyond the stored prefix need not be stored.
        let nonzero = buf.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        let stored_end = if nonzero == 0 {
            self.data.len() as u64
        } else {
            (self.data.len() as u64).max(offset + nonzero as u64)
        };
        if stored_end > self.data.len() as u64 {
            self.data.resize(stored_end as usize, 0);
        }
        let start = offset as usize;
        if start < self.data.len() {
            let n = buf.len().min(self.data.len() - start);
            self.data[start..start + n].copy_from_slice(&buf[..n]);
        }
    }

    fn set_len(&mut self, len: u64) {
        if (len as usize) < self.data.len() {
            self.data.truncate(len as usize);
        }
        self.len = len;
    }

    fn read(&self, offset: u64, buf: &mut [u8]) -> usize {
        if offset >= self.len {
            return 0;
        }
        let n = (buf.len() as u64).min(self.len - offset) as usize;
        for (i, b) in buf[..n].iter_mut().enumerate() {
            *b = self.data.get(offset as usize + i).copied().unwrap_or(0);
        }
        n
    }
}

#[derive(Debug, Clone)]
enum Pending {
    Write { offset: u64, bytes: Vec<u8> },
    SetLen(u64),
}

#[derive(Debug, Default)]
struct Inode {
    durable: Content,
    current: Content,
    pending: Vec<Pending>,
}

#[derive(Debug, Default)]
struct State {
    generation: u64,
    dirs: BTreeSet<PathBuf>,
    names: BTreeMap<PathBuf, u64>,
    durable_names: BTreeMap<PathBuf, u64>,
    inodes: HashMap<u64, Inode>,
    next_ino: u64,
    faults: Vec<Fault>,
    data_syncs: u64,
    dir_syncs: u64,
    sync_delay: std::time::Duration,
}

impl State {
    fn fault(&mut self, op: FaultOp, path: &Path) -> Option<io::Error> {
        let p = path.to_string_lossy();
        let i = self
            .faults
            .iter()
            .position(|f| f.op == op && f.path_contains.as_deref().is_none_or(|s| p.contains(s)))?;
        let kind = self.faults[i].kind;
        if let Some(n) = &mut self.faults[i].remaining {
            *n -= 1;
            if *n == 0 {
                self.faults.remove(i);
            }
        }
        Some(kind.error())
    }

    fn parent_exists(&self, path: &Path) -> io::Result<()> {
        match path.parent() {
            Some(p) if self.dirs.contains(p) => Ok(()),
            _ => Err(not_found(path)),
        }
    }

    fn ino(&self, path: &Path) -> io::Result<u64> {
        self.names.get(path).copied().ok_or_else(|| not_found(path))
    }
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{}: no such file or directory", path.display()),
    )
}

/// An in-memory file system with crash and fault simulation. Clones share the same state.
#[derive(Clone, Default)]
pub struct MemFs {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for MemFs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.lock();
        f.debug_struct("MemFs")
            .field("files", &s.names.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl MemFs {
    /// An empty file system (no directories).
    pub fn new() -> MemFs {
        MemFs::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Simulates a crash; open file handles become stale (their operations fail).
    pub fn crash(&self, mode: CrashMode) {
        let mut s = self.lock();
        s.generation += 1;
        if mode == CrashMode::ProcessOnly {
            s.durable_names = s.names.clone();
        } else {
            s.names = s.durable_names.clone();
        }
        for inode in s.inodes.values_mut() {
            let mut c = inode.durable.clone();
            match mode {
                CrashMode::ProcessOnly => c = inode.current.clone(),
                CrashMode::LoseUnsynced => {}
                CrashMode::TornTail { keep_bytes } => {
                    let mut budget = keep_bytes;
                    for p in &inode.pending {
                        match p {
                            Pending::SetLen(len) => c.set_len(*len),
                            Pending::Write { offset, bytes } => {
                                let n = bytes.len().min(budget);
                                c.write(*offset, &bytes[..n]);
                                budget -= n;
                                if budget == 0 {
                                    break;
                                }
                            }
                        }
                    }
                }
            }
            inode.durable = c.clone();
            inode.current = c;
            inode.pending.clear();
        }
        let live: BTreeSet<u64> = s.names.values().copied().collect();
        s.inodes.retain(|ino, _| live.contains(ino));
    }

    /// Makes every later `op` on a path containing `path_contains` (any path if `None`) fail
    /// with `kind`, `times` times (forever if `None`).
    pub fn inject(
        &self,
        op: FaultOp,
        kind: FaultKind,
        path_contains: Option<&str>,
        times: Option<u32>,
    ) {
        self.lock().faults.push(Fault {
            op,
            kind,
            path_contains: path_contains.map(str::to_owned),
            remaining: times,
        });
    }

    /// Makes every later `sync_data` take at least `delay` (a slow disk), to exercise
    /// `fsync.warningthresholdms`.
    pub fn set_sync_delay(&self, delay: std::time::Duration) {
        self.lock().sync_delay = delay;
    }

    /// Removes all injected faults.
    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// XORs the byte at `offset` of `path` with `mask`, in both the durable and the visible
    /// contents (bit rot on the platter).
    pub fn corrupt(&self, path: &Path, offset: u64, mask: u8) -> io::Result<()> {
        let mut s = self.lock();
        let ino = s.ino(path)?;
        let inode = s.inodes.get_mut(&ino).ok_or_else(|| not_found(path))?;
        for c in [&mut inode.durable, &mut inode.current] {
            let mut b = [0u8];
            if c.read(offset, &mut b) == 1 {
                c.write(offset, &[b[0] ^ mask]);
            }
        }
        Ok(())
    }

    /// Creates (or replaces) a file with `contents`, durably, creating its directories.
    pub fn put_file(&self, path: &Path, contents: &[u8]) -> io::Result<()> {
        if let Some(dir) = path.parent() {
            self.create_dir_all(dir)?;
        }
        let mut f = self.create(path)?;
        f.write_at(0, contents)?;
        f.sync_data()?;
        self.sync_dir(super::parent_dir(path))
    }

    /// The visible contents of a file (materializing sparse zeros).
    pub fn contents(&self, path: &Path) -> Option<Vec<u8>> {
        let s = self.lock();
        let ino = s.names.get(path)?;
        let c = &s.inodes.get(ino)?.current;
        let mut v = vec![0u8; c.len as usize];
        c.read(0, &mut v);
        Some(v)
    }

    /// Number of `sync_data` calls so far.
    pub fn data_syncs(&self) -> u64 {
        self.lock().data_syncs
    }

    /// Number of `sync_dir` calls so far.
    pub fn dir_syncs(&self) -> u64 {
        self.lock().dir_syncs
    }
}

#[derive(Debug)]
struct MemFile {
    fs: MemFs,
    ino: u64,
    generation: u64,
    path: PathBuf,
}

impl MemFile {
    fn with<T>(
        &self,
        op: Option<FaultOp>,
        f: impl FnOnce(&mut State, &mut Inode) -> io::Result<T>,
    ) -> io::Result<T> {
        let mut s = self.fs.lock();
        if s.generation != self.generation {
            return Err(io::Error::other("stale file handle (simulated crash)"));
        }
        let fault = op.and_then(|op| s.fault(op, &self.path));
        let mut inode = s.inodes.remove(&self.ino).unwrap_or_default();
        let r = match fault {
            Some(e) => Err(e),
            None => f(&mut s, &mut inode),
        };
        s.inodes.insert(self.ino, inode);
        r
    }
}

impl FsFile for MemFile {
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> io::Result<()> {
        let r = self.with(Some(FaultOp::Write), |_, inode| {
            inode.current.write(offset, buf);
            inode.pending.push(Pending::Write {
                offset,
                bytes: buf.to_vec(),
            });
            Ok(())
        });
        if let Err(e) = r {
            // A failed write may still have stored a prefix (a short write).
            let half = &buf[..buf.len() / 2];
            let _ = self.with(None, |_, inode| {
                inode.current.write(offset, half);
                inode.pending.push(Pending::Write {
                    offset,
                    bytes: half.to_vec(),
                });
                Ok(())
            });
            return Err(e);
        }
        Ok(())
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.with(Some(FaultOp::Read), |_, inode| {
            Ok(inode.current.read(offset, buf))
        })
    }

    fn size(&mut self) -> io::Result<u64> {
        self.with(None, |_, inode| Ok(inode.current.len))
    }

    fn set_len(&mut self, len: u64) -> io::Result<()> {
        self.with(Some(FaultOp::SetLen), |_, inode| {
            inode.current.set_len(len);
            inode.pending.push(Pending::SetLen(len));
            Ok(())
        })
    }

    fn sync_data(&mut self) -> io::Result<()> {
        let delay = self.fs.lock().sync_delay;
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        self.with(Some(FaultOp::Sync), |s, inode| {
            s.data_syncs += 1;
            inode.durable = inode.current.clone();
            inode.pending.clear();
            Ok(())
        })
    }
}

struct MemReader {
    content: Content,
    pos: u64,
}

impl Read for MemReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.content.read(self.pos, buf);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Fs for MemFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        let mut s = self.lock();
        let mut d = Some(dir);
        while let Some(p) = d {
            if p.as_os_str().is_empty() {
                break;
            }
            s.dirs.insert(p.to_path_buf());
            d = p.parent();
        }
        Ok(())
    }

    fn exists(&self, path: &Path) -> bool {
        let s = self.lock();
        s.dirs.contains(path) || s.names.contains_key(path)
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn FsFile>> {
        let mut s = self.lock();
        if let Some(e) = s.fault(FaultOp::Create, path) {
            return Err(e);
        }
        s.parent_exists(path)?;
        let ino = match s.names.get(path) {
            Some(&ino) => {
                if let Some(inode) = s.inodes.get_mut(&ino) {
                    inode.current.set_len(0);
                    inode.pending.push(Pending::SetLen(0));
                }
                ino
            }
            None => {
                s.next_ino += 1;
                let ino = s.next_ino;
                s.inodes.insert(ino, Inode::default());
                s.names.insert(path.to_path_buf(), ino);
                ino
            }
        };
        Ok(Box::new(MemFile {
            fs: self.clone(),
            ino,
            generation: s.generation,
            path: path.to_path_buf(),
        }))
    }

    fn open(&self, path: &Path) -> io::Result<Box<dyn FsFile>> {
        let mut s = self.lock();
        if let Some(e) = s.fault(FaultOp::Create, path) {
            return Err(e);
        }
        let ino = s.ino(path)?;
        Ok(Box::new(MemFile {
            fs: self.clone(),
            ino,
            generation: s.generation,
            path: path.to_path_buf(),
        }))
    }

    fn open_read(&self, path: &Path) -> io::Result<Box<dyn Read + Send>> {
        let mut s = self.lock();
        if let Some(e) = s.fault(FaultOp::Read, path) {
            return Err(e);
        }
        let ino = s.ino(path)?;
        let content = s
            .inodes
            .get(&ino)
            .map(|i| i.current.clone())
            .unwrap_or_default();
        Ok(Box::new(MemReader { content, pos: 0 }))
    }

    fn read_at(&self, path: &Path, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let mut s = self.lock();
        if let Some(e) = s.fault(FaultOp::Read, path) {
            return Err(e);
        }
        let ino = s.ino(path)?;
        Ok(s.inodes
            .get(&ino)
            .map_or(0, |i| i.current.read(offset, buf)))
    }

    fn file_len(&self, path: &Path) -> io::Result<u64> {
        let s = self.lock();
        let ino = s.ino(path)?;
        Ok(s.inodes.get(&ino).map_or(0, |i| i.current.len))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut s = self.lock();
        if let Some(e) = s.fault(FaultOp::Rename, from) {
            return Err(e);
        }
        s.parent_exists(to)?;
        let ino = s.names.remove(from).ok_or_else(|| not_found(from))?;
        s.names.insert(to.to_path_buf(), ino);
        Ok(())
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let mut s = self.lock();
        if let Some(e) = s.fault(FaultOp::Remove, path) {
            return Err(e);
        }
        s.names.remove(path).ok_or_else(|| not_found(path))?;
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut s = self.lock();
        if let Some(e) = s.fault(FaultOp::SyncDir, dir) {
            return Err(e);
        }
        if !s.dirs.contains(dir) {
            return Err(not_found(dir));
        }
        s.dir_syncs += 1;
        let in_dir = |p: &Path| p.parent() == Some(dir);
        s.durable_names.retain(|p, _| !in_dir(p));
        let current: Vec<(PathBuf, u64)> = s
            .names
            .iter()
            .filter(|(p, _)| in_dir(p))
            .map(|(p, i)| (p.clone(), *i))
            .collect();
        s.durable_names.extend(current);
        Ok(())
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        let s = self.lock();
        if !s.dirs.contains(dir) {
            return Err(not_found(dir));
        }
        Ok(s.names
            .keys()
            .filter(|p| p.parent() == Some(dir))
            .filter_map(|p| p.file_name()?.to_str().map(str::to_owned))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> PathBuf {
        PathBuf::from(s)
    }

    #[test]
    fn sparse_writes_read_back_as_zeros() {
        let fs = MemFs::new();
        fs.create_dir_all(&p("/d")).unwrap();
        let mut f = fs.create(&p("/d/f")).unwrap();
        f.write_at(0, b"abc").unwrap();
        f.write_at(1 << 30, &[0]).unwrap(); // 1 GiB sparse, costs nothing
        assert_eq!(f.size().unwrap(), (1 << 30) + 1);
        let mut buf = [9u8; 5];
        assert_eq!(f.read_at(1, &mut buf).unwrap(), 5);
        assert_eq!(&buf, b"bc\0\0\0");
        f.set_len(2).unwrap();
        assert_eq!(fs.contents(&p("/d/f")).unwrap(), b"ab");
    }

    #[test]
    fn crash_modes() {
        let fs = MemFs::new();
        fs.create_dir_all(&p("/d")).unwrap();
        let mut f = fs.create(&p("/d/f")).unwrap();
        f.write_at(0, b"synced").unwrap();
        f.sync_data().unwrap();
        fs.sync_dir(&p("/d")).unwrap();
        f.append(b"+unsynced").unwrap();
        let mut g = fs.create(&p("/d/new")).unwrap();
        g.write_at(0, b"x").unwrap();
        g.sync_data().unwrap(); // data synced, directory entry not

        let snapshot = fs.lock().inodes.len();
        assert_eq!(snapshot, 2);
        let fs2 = fs.clone();
        fs2.crash(CrashMode::TornTail { keep_bytes: 3 });
        assert_eq!(fs.contents(&p("/d/f")).unwrap(), b"synced+un");
        assert!(!fs.exists(&p("/d/new")));
        assert!(f.append(b"z").is_err(), "handles are stale after a crash");

        let mut f = fs.open(&p("/d/f")).unwrap();
        f.append(b"more").unwrap();
        fs.crash(CrashMode::LoseUnsynced);
        assert_eq!(fs.contents(&p("/d/f")).unwrap(), b"synced+un");
        let mut f = fs.open(&p("/d/f")).unwrap();
        f.append(b"!").unwrap();
        fs.crash(CrashMode::ProcessOnly);
        assert_eq!(fs.contents(&p("/d/f")).unwrap(), b"synced+un!");
    }

    #[test]
    fn faults_fire_and_expire() {
        let fs = MemFs::new();
        fs.create_dir_all(&p("/d")).unwrap();
        let mut f = fs.create(&p("/d/log.1")).unwrap();
        fs.inject(FaultOp::Write, FaultKind::NoSpace, Some("log."), Some(1));
        let e = f.write_at(0, b"abcd").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::StorageFull);
        // The short write stored half of the bytes.
        assert_eq!(fs.contents(&p("/d/log.1")).unwrap(), b"ab");
        f.write_at(0, b"abcd").unwrap();
        fs.inject(FaultOp::Sync, FaultKind::Io, None, None);
        assert!(f.sync_data().is_err());
        assert!(f.sync_data().is_err());
        fs.clear_faults();
        f.sync_data().unwrap();
        fs.corrupt(&p("/d/log.1"), 1, 0xff).unwrap();
        assert_eq!(fs.contents(&p("/d/log.1")).unwrap(), b"a\x9dcd");
    }

    #[test]
    fn rename_and_list() {
        let fs = MemFs::new();
        fs.put_file(&p("/d/a.tmp"), b"1").unwrap();
        fs.rename(&p("/d/a.tmp"), &p("/d/a")).unwrap();
        assert_eq!(fs.list_dir(&p("/d")).unwrap(), vec!["a".to_string()]);
        fs.crash(CrashMode::LoseUnsynced);
        assert_eq!(fs.list_dir(&p("/d")).unwrap(), vec!["a.tmp".to_string()]);
        assert!(fs.create(&p("/nodir/x")).is_err());
    }
}
