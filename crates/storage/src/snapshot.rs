//! Snapshots: `dataDir/version-2/snapshot.<hex zxid>` in ZooKeeper's format (ZooKeeper:
//! `FileSnap`, `SnapStream`, `SerializeUtils.serializeSnapshot`, `DataTree.serialize`,
//! `ReferenceCountedACLCache.serialize`; spec 10.4).
//!
//! ```text
//! FileHeader : int magic "ZKSN", int version 2, long dbid -1
//! sessions   : int count, count × (long id, int timeoutMs)
//! ACL cache  : int count, count × (long index, vector<ACL>)
//! nodes      : (ustring path, buffer data, long aclIndex, StatPersisted)*, root path "",
//!              parents before children
//! terminator : ustring "/"
//! seal       : long adler32(every byte so far), ustring "/"
//! [digest]   : long zxid, int digestVersion, long digest (hex ustring if version < 2); seal
//! [last zxid]: long lastProcessedZxid (3.9+); seal
//! ```
//!
//! Optional blocks are detected by end of file. Files are written under a temporary name,
//! fsynced, renamed into place and the directory fsynced. Compressed snapshots (`.gz`,
//! `.snappy`) are recognised by name but not supported.

use menagerie_proto::digest::ZxidDigest;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use menagerie_proto::jute::{JuteWrite, Reader, Record};
use menagerie_proto::records::{Acl, Id, StatPersisted};

use crate::fs::{Fs, FsFile, parent_dir, tmp_path};
use crate::names::{SnapshotCompression, parse_snapshot_name, snapshot_file_name};
use crate::stream::{DEFAULT_MAX_RECORD_LEN, JuteIn, is_eof};
use crate::{Error, Result};

/// `"ZKSN"` (ZooKeeper: `FileSnap.SNAP_MAGIC`).
pub const SNAP_MAGIC: i32 = i32::from_be_bytes(*b"ZKSN");
/// On-disk format version.
pub const SNAP_VERSION: i32 = 2;
/// The `dbid` of snapshot headers (ZooKeeper: `FileSnap.dbId`).
pub const SNAP_DB_ID: i64 = -1;

const STAT_PERSISTED_LEN: usize = 60;
const WRITE_BUFFER: usize = 64 * 1024;

/// One node as written to or read from a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotNode<'a> {
    /// Full path; the root is `""`.
    pub path: &'a str,
    /// Data; `None` is null (length −1), distinct from empty.
    pub data: Option<&'a [u8]>,
    /// Index into the ACL cache; −1 = `OPEN_ACL_UNSAFE` (not in the map).
    pub acl: i64,
    /// Persisted metadata (cversion is the stored one).
    pub stat: &'a StatPersisted,
}

/// An owned [`SnapshotNode`], as the reader yields it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedSnapshotNode {
    /// Full path; the root is `""`.
    pub path: String,
    /// Data (`None` = null).
    pub data: Option<Vec<u8>>,
    /// ACL cache index.
    pub acl: i64,
    /// Persisted metadata.
    pub stat: StatPersisted,
}

impl OwnedSnapshotNode {
    /// Borrows it as a [`SnapshotNode`].
    pub fn as_node(&self) -> SnapshotNode<'_> {
        SnapshotNode {
            path: &self.path,
            data: self.data.as_deref(),
            acl: self.acl,
            stat: &self.stat,
        }
    }
}

/// What follows the node stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SnapshotTrailer {
    /// The digest block (3.6+ with `zookeeper.digest.enabled`).
    pub digest: Option<ZxidDigest>,
    /// The lastProcessedZxid block (3.9+).
    pub last_processed_zxid: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Sessions,
    Acls,
    Nodes,
}

/// Streams a snapshot to `snapshot.<hex zxid>.tmp`; [`SnapshotWriter::finish`] seals it and
/// moves it into place. Dropping an unfinished writer removes the temporary file.
#[derive(Debug)]
pub struct SnapshotWriter {
    fs: Arc<dyn Fs>,
    path: PathBuf,
    tmp: PathBuf,
    file: Option<Box<dyn FsFile>>,
    buf: Vec<u8>,
    written: u64,
    adler: adler2::Adler32,
    stage: Stage,
}

impl SnapshotWriter {
    /// Starts `snap_dir/snapshot.<hex zxid>` (via its `.tmp` name) and writes the header.
    pub fn create(fs: Arc<dyn Fs>, snap_dir: &Path, zxid: i64) -> Result<SnapshotWriter> {
        let path = snap_dir.join(snapshot_file_name(zxid));
        let tmp = tmp_path(&path);
        let file = fs.create(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
        let mut w = SnapshotWriter {
            fs,
            path,
            tmp,
            file: Some(file),
            buf: Vec::with_capacity(WRITE_BUFFER),
            written: 0,
            adler: adler2::Adler32::new(),
            stage: Stage::Sessions,
        };
        w.put(|b| {
            b.put_i32(SNAP_MAGIC);
            b.put_i32(SNAP_VERSION);
            b.put_i64(SNAP_DB_ID);
        })?;
        Ok(w)
    }

    /// The final path of the snapshot.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends bytes produced by `f`, through the running checksum.
    fn put(&mut self, f: impl FnOnce(&mut Vec<u8>)) -> Result<()> {
        let start = self.buf.len();
        f(&mut self.buf);
        self.adler.write_slice(&self.buf[start..]);
        if self.buf.len() >= WRITE_BUFFER {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        let Some(file) = self.file.as_mut() else {
            return Err(Error::InvalidInput(
                "snapshot writer already finished".into(),
            ));
        };
        file.write_at(self.written, &self.buf)
            .map_err(|e| Error::io("write", &self.tmp, e))?;
        self.written += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    fn stage(&mut self, want: Stage) -> Result<()> {
        if self.stage > want {
            return Err(Error::InvalidInput(format!(
                "snapshot parts out of order: {want:?} after {:?}",
                self.stage
            )));
        }
        self.stage = want;
        Ok(())
    }

    /// Writes the session table (ZooKeeper: `SerializeUtils.serializeSnapshot`). Must come
    /// first.
    pub fn sessions<I>(&mut self, sessions: I) -> Result<()>
    where
        I: IntoIterator<Item = (i64, i32)>,
        I::IntoIter: ExactSizeIterator,
    {
        self.stage(Stage::Sessions)?;
        let it = sessions.into_iter();
        let count = it.len();
        self.put(|b| b.put_i32(count as i32))?;
        let mut n = 0;
        for (id, timeout) in it {
            self.put(|b| {
                b.put_i64(id);
                b.put_i32(timeout);
            })?;
            n += 1;
        }
        self.stage = Stage::Acls;
        check_count("sessions", count, n)
    }

    /// Writes the ACL cache (ZooKeeper: `ReferenceCountedACLCache.serialize`). Must follow
    /// the sessions.
    pub fn acls<'a, I>(&mut self, acls: I) -> Result<()>
    where
        I: IntoIterator<Item = (i64, &'a [Acl])>,
        I::IntoIter: ExactSizeIterator,
    {
        if self.stage != Stage::Acls {
            return Err(Error::InvalidInput("ACLs must follow the sessions".into()));
        }
        let it = acls.into_iter();
        let count = it.len();
        self.put(|b| b.put_i32(count as i32))?;
        let mut n = 0;
        for (index, list) in it {
            self.put(|b| {
                b.put_i64(index);
                list.to_vec().write(b);
            })?;
            n += 1;
        }
        self.stage = Stage::Nodes;
        check_count("ACL entries", count, n)
    }

    /// Writes one node (ZooKeeper: `DataTree.serializeNodeData`). Parents must come before
    /// their children, the root (path `""`) first.
    pub fn node(&mut self, node: SnapshotNode<'_>) -> Result<()> {
        if self.stage != Stage::Nodes {
            return Err(Error::InvalidInput("nodes must follow the ACLs".into()));
        }
        if node.path == "/" {
            return Err(Error::InvalidInput(
                "the root is written as \"\"; \"/\" ends the node list".into(),
            ));
        }
        self.put(|b| encode_node(b, node))
    }

    /// Appends nodes already encoded with [`encode_node`] (so that a producer elsewhere can
    /// serialize while this writer does the I/O). The same ordering rules as
    /// [`SnapshotWriter::node`] apply; the caller keeps them.
    pub fn encoded_nodes(&mut self, bytes: &[u8]) -> Result<()> {
        if self.stage != Stage::Nodes {
            return Err(Error::InvalidInput("nodes must follow the ACLs".into()));
        }
        self.put(|b| b.extend_from_slice(bytes))
    }

    /// Writes the terminator, the seals and the optional blocks, fsyncs, renames into place
    /// and fsyncs the directory. Returns the snapshot's path.
    pub fn finish(mut self, trailer: &SnapshotTrailer) -> Result<PathBuf> {
        if self.stage != Stage::Nodes {
            return Err(Error::InvalidInput(
                "snapshot finished before its ACLs".into(),
            ));
        }
        self.put(|b| b.put_string("/"))?;
        self.seal()?;
        if let Some(d) = trailer.digest {
            // ZooKeeper: ZxidDigest.serialize.
            self.put(|b| {
                b.put_i64(d.zxid.0);
                b.put_i32(d.version);
                if d.version < 2 {
                    b.put_string(&format!("{:x}", d.digest as u64));
                } else {
                    b.put_i64(d.digest);
                }
            })?;
            self.seal()?;
        }
        if let Some(z) = trailer.last_processed_zxid {
            self.put(|b| b.put_i64(z))?;
            self.seal()?;
        }
        self.flush()?;
        let Some(mut file) = self.file.take() else {
            return Err(Error::InvalidInput(
                "snapshot writer already finished".into(),
            ));
        };
        file.sync_data()
            .map_err(|e| Error::io("fsync", &self.tmp, e))?;
        drop(file);
        self.fs
            .rename(&self.tmp, &self.path)
            .map_err(|e| Error::io("rename", &self.tmp, e))?;
        let dir = parent_dir(&self.path);
        self.fs
            .sync_dir(dir)
            .map_err(|e| Error::io("fsync dir", dir, e))?;
        Ok(self.path.clone())
    }

    /// ZooKeeper: `SnapStream.sealStream` — the checksum so far, then `"/"`.
    fn seal(&mut self) -> Result<()> {
        let v = i64::from(self.adler.checksum());
        self.put(|b| {
            b.put_i64(v);
            b.put_string("/");
        })
    }
}

/// Appends one node in the snapshot encoding (ZooKeeper: `DataTree.serializeNodeData`); the
/// root's path is `""` and `"/"` is reserved for the end of the node list.
pub fn encode_node(b: &mut Vec<u8>, node: SnapshotNode<'_>) {
    b.put_string(node.path);
    b.put_buffer(node.data);
    b.put_i64(node.acl);
    node.stat.write(b);
}

impl Drop for SnapshotWriter {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = self.fs.remove_file(&self.tmp);
        }
    }
}

fn check_count(what: &str, announced: usize, written: usize) -> Result<()> {
    if announced == written {
        Ok(())
    } else {
        Err(Error::InvalidInput(format!(
            "{what}: iterator announced {announced} items but yielded {written}"
        )))
    }
}

/// Writes a whole snapshot in one call; see [`SnapshotWriter`].
pub fn write_snapshot<'a, S, A, N>(
    fs: Arc<dyn Fs>,
    snap_dir: &Path,
    zxid: i64,
    sessions: S,
    acls: A,
    nodes: N,
    trailer: &SnapshotTrailer,
) -> Result<PathBuf>
where
    S: IntoIterator<Item = (i64, i32)>,
    S::IntoIter: ExactSizeIterator,
    A: IntoIterator<Item = (i64, &'a [Acl])>,
    A::IntoIter: ExactSizeIterator,
    N: IntoIterator<Item = SnapshotNode<'a>>,
{
    let mut w = SnapshotWriter::create(fs, snap_dir, zxid)?;
    w.sessions(sessions)?;
    w.acls(acls)?;
    for n in nodes {
        w.node(n)?;
    }
    w.finish(trailer)
}

/// Streams a snapshot file: header, sessions and ACLs are read at open, nodes one at a time
/// (also through `Iterator`), and [`SnapshotReader::finish`] checks the seals.
pub struct SnapshotReader {
    inp: JuteIn,
    zxid: i64,
    sessions: Vec<(i64, i32)>,
    acls: Vec<(i64, Vec<Acl>)>,
    max: usize,
    nodes_done: bool,
    failed: bool,
}

impl std::fmt::Debug for SnapshotReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotReader")
            .field("file", &self.inp.file())
            .field("offset", &self.inp.position())
            .finish()
    }
}

impl SnapshotReader {
    /// Opens a snapshot with the default record-length bound (`jute.maxbuffer` + 1024).
    pub fn open(fs: &dyn Fs, path: &Path) -> Result<SnapshotReader> {
        Self::open_with(fs, path, DEFAULT_MAX_RECORD_LEN)
    }

    /// Opens a snapshot; buffers (node data, paths, ACL strings) longer than `max_record_len`
    /// are rejected as corruption.
    pub fn open_with(fs: &dyn Fs, path: &Path, max_record_len: usize) -> Result<SnapshotReader> {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let (zxid, compression) =
            parse_snapshot_name(name).unwrap_or((-1, SnapshotCompression::None));
        if compression != SnapshotCompression::None {
            return Err(Error::UnsupportedCompression {
                file: path.to_path_buf(),
            });
        }
        let len = fs.file_len(path).map_err(|e| Error::io("stat", path, e))?;
        let r = fs.open_read(path).map_err(|e| Error::io("open", path, e))?;
        let mut inp = JuteIn::new(r, path, len, true);
        let magic = inp.read_i32()?;
        let _version = inp.read_i32()?;
        let _dbid = inp.read_i64()?;
        if magic != SNAP_MAGIC {
            return Err(Error::BadMagic {
                file: path.to_path_buf(),
                found: magic,
                expected: SNAP_MAGIC,
            });
        }
        let n = inp.read_count(12)?;
        let mut sessions = Vec::with_capacity(n);
        for _ in 0..n {
            let id = inp.read_i64()?;
            let timeout = inp.read_i32()?;
            sessions.push((id, timeout));
        }
        // ZooKeeper: ReferenceCountedACLCache.deserialize.
        let n = inp.read_count(12)?;
        let mut acls = Vec::with_capacity(n);
        for _ in 0..n {
            let index = inp.read_i64()?;
            let offset = inp.position();
            let Some(count) = inp.read_count_opt(12)? else {
                return Err(inp.corrupt(offset, "missing acls"));
            };
            let mut list = Vec::with_capacity(count);
            for _ in 0..count {
                let perms = inp.read_i32()?;
                let scheme = inp.read_string(max_record_len)?;
                let id = inp.read_string(max_record_len)?;
                list.push(Acl {
                    perms,
                    id: Id { scheme, id },
                });
            }
            acls.push((index, list));
        }
        Ok(SnapshotReader {
            inp,
            zxid,
            sessions,
            acls,
            max: max_record_len,
            nodes_done: false,
            failed: false,
        })
    }

    /// The zxid in the file name (`-1` if the name has none): the last zxid applied when
    /// the snapshot started, where log replay resumes.
    pub fn zxid(&self) -> i64 {
        self.zxid
    }

    /// The file being read.
    pub fn path(&self) -> &Path {
        self.inp.file()
    }

    /// Offset of the next byte to be read (for progress reports).
    pub fn position(&self) -> u64 {
        self.inp.position()
    }

    /// Length of the file when it was opened.
    pub fn file_len(&self) -> u64 {
        self.inp.position() + self.inp.remaining()
    }

    /// The session table: (session id, timeout ms), in file order.
    pub fn sessions(&self) -> &[(i64, i32)] {
        &self.sessions
    }

    /// The ACL cache: (index, ACL list), in file order.
    pub fn acls(&self) -> &[(i64, Vec<Acl>)] {
        &self.acls
    }

    /// The next node, or `None` after the `"/"` terminator (ZooKeeper:
    /// `DataTree.deserialize`).
    pub fn next_node(&mut self) -> Result<Option<OwnedSnapshotNode>> {
        if self.nodes_done {
            return Ok(None);
        }
        let path = self.inp.read_string(self.max)?;
        if path == "/" {
            self.nodes_done = true;
            return Ok(None);
        }
        let data = self.inp.read_buffer(self.max)?;
        let acl = self.inp.read_i64()?;
        let mut b = [0u8; STAT_PERSISTED_LEN];
        self.inp.read_exact(&mut b)?;
        let stat = StatPersisted::read(&mut Reader::new(&b)).map_err(|e| Error::Decode {
            what: "StatPersisted",
            source: e,
        })?;
        Ok(Some(OwnedSnapshotNode {
            path,
            data,
            acl,
            stat,
        }))
    }

    /// Reads any nodes left, then checks the seal, reads the optional digest and
    /// lastProcessedZxid blocks (each sealed) and returns them (ZooKeeper:
    /// `FileSnap.deserialize`, `DataTree.deserializeZxidDigest`,
    /// `DataTree.deserializeLastProcessedZxid`).
    pub fn finish(self) -> Result<SnapshotTrailer> {
        self.finish_with_end().map(|(t, _)| t)
    }

    /// Like [`SnapshotReader::finish`], and also returns the offset just past the last
    /// complete sealed block. Bytes beyond it (an optional block cut short, which readers
    /// take as absent, as ZooKeeper does) mean the file was truncated; tools report that.
    pub fn finish_with_end(mut self) -> Result<(SnapshotTrailer, u64)> {
        while self.next_node()?.is_some() {}
        self.check_seal()?;
        let mut trailer = SnapshotTrailer::default();
        let mut end = self.inp.position();
        if self.inp.remaining() == 0 {
            return Ok((trailer, end));
        }
        match self.read_zxid_digest() {
            Ok(d) => {
                trailer.digest = Some(d);
                self.check_seal()?;
                end = self.inp.position();
            }
            // ZooKeeper: "Got EOF exception while reading the digest, likely due to the
            // reading an older snapshot."
            Err(e) if is_eof(&e) => return Ok((trailer, end)),
            Err(e) => return Err(e),
        }
        match self.inp.read_i64() {
            Ok(z) => {
                trailer.last_processed_zxid = Some(z);
                self.check_seal()?;
                end = self.inp.position();
            }
            Err(e) if is_eof(&e) => {}
            Err(e) => return Err(e),
        }
        Ok((trailer, end))
    }

    fn read_zxid_digest(&mut self) -> Result<ZxidDigest> {
        let zxid = self.inp.read_i64()?;
        let version = self.inp.read_i32()?;
        let offset = self.inp.position();
        let digest = if version < 2 {
            let hex = self.inp.read_string(self.max)?;
            u64::from_str_radix(&hex, 16)
                .map_err(|_| self.inp.corrupt(offset, format!("bad hex digest {hex:?}")))?
                as i64
        } else {
            self.inp.read_i64()?
        };
        Ok(ZxidDigest {
            zxid: menagerie_proto::Zxid(zxid),
            version,
            digest,
        })
    }

    /// ZooKeeper: `SnapStream.checkSealIntegrity` — "CRC corruption".
    fn check_seal(&mut self) -> Result<()> {
        let computed = u64::from(self.inp.checksum());
        let offset = self.inp.position();
        let stored = self.inp.read_i64()? as u64;
        self.inp.read_string(self.max)?;
        if stored != computed {
            return Err(Error::SealMismatch {
                file: self.inp.file().to_path_buf(),
                offset,
                stored,
                computed,
            });
        }
        Ok(())
    }
}

impl Iterator for SnapshotReader {
    type Item = Result<OwnedSnapshotNode>;

    fn next(&mut self) -> Option<Result<OwnedSnapshotNode>> {
        if self.failed {
            return None;
        }
        match self.next_node() {
            Ok(n) => n.map(Ok),
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// A whole snapshot in memory (for tools and tests; servers should stream).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// zxid from the file name.
    pub zxid: i64,
    /// Sessions (id, timeout).
    pub sessions: Vec<(i64, i32)>,
    /// ACL cache (index, list).
    pub acls: Vec<(i64, Vec<Acl>)>,
    /// Nodes in file order.
    pub nodes: Vec<OwnedSnapshotNode>,
    /// Digest and lastProcessedZxid blocks.
    pub trailer: SnapshotTrailer,
}

/// Reads and verifies a whole snapshot.
pub fn read_snapshot(fs: &dyn Fs, path: &Path) -> Result<Snapshot> {
    let mut r = SnapshotReader::open(fs, path)?;
    let mut nodes = Vec::new();
    while let Some(n) = r.next_node()? {
        nodes.push(n);
    }
    let (zxid, sessions, acls) = (
        r.zxid,
        std::mem::take(&mut r.sessions),
        std::mem::take(&mut r.acls),
    );
    let trailer = r.finish()?;
    Ok(Snapshot {
        zxid,
        sessions,
        acls,
        nodes,
        trailer,
    })
}

/// ZooKeeper's cheap validity test used to pick snapshots (`SnapStream.isValidSnapshot`):
/// a plain file must be at least 10 bytes and end with the seal's `"/"` (`00 00 00 01 2F`);
/// a compressed one must start with its format's magic.
pub fn looks_valid(fs: &dyn Fs, path: &Path) -> Result<bool> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let Some((_, compression)) = parse_snapshot_name(name) else {
        return Ok(false);
    };
    let len = fs.file_len(path).map_err(|e| Error::io("stat", path, e))?;
    let read = |offset: u64, n: usize| -> Result<Vec<u8>> {
        let mut b = vec![0u8; n];
        let got = fs
            .read_at(path, offset, &mut b)
            .map_err(|e| Error::io("read", path, e))?;
        b.truncate(got);
        Ok(b)
    };
    Ok(match compression {
        SnapshotCompression::None => len >= 10 && read(len - 5, 5)? == [0, 0, 0, 1, b'/'],
        SnapshotCompression::Gzip => read(0, 2)? == [0x1f, 0x8b],
        // org.xerial.snappy.SnappyCodec magic header.
        SnapshotCompression::Snappy => read(0, 8)? == [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0],
    })
}

#[cfg(test)]
mod tests;
