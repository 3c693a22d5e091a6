//! Reading transaction-log files (ZooKeeper: `FileTxnLog.FileTxnIterator`, `Util.readTxnBytes`).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use menagerie_proto::txn::TxnHeader;

use super::{TXNLOG_MAGIC, TXNLOG_VERSION};
use crate::fs::Fs;
use crate::names::list_log_files;
use crate::stream::{JuteIn, is_eof};
use crate::{Error, Result};
use menagerie_proto::jute::Record;
use menagerie_proto::txn::LoggedTxn;

/// One log entry as read from disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// The decoded `TxnHeader` at the start of the body.
    pub header: TxnHeader,
    /// The whole checksummed body: `TxnHeader ‖ txn record ‖ [TxnDigest]` — the same bytes a
    /// leader sends in PROPOSAL packets.
    pub body: Vec<u8>,
    /// The file it was read from.
    pub file: PathBuf,
    /// Offset of the entry (of its checksum field) in that file.
    pub offset: u64,
}

impl LogEntry {
    /// The entry's zxid.
    pub fn zxid(&self) -> i64 {
        self.header.zxid.0
    }

    /// Decodes the record and the optional digest.
    pub fn decode(&self) -> Result<LoggedTxn> {
        Ok(LoggedTxn::from_bytes(&self.body)?)
    }

    /// Offset just past the entry (its `'B'` marker included).
    pub fn end_offset(&self) -> u64 {
        self.offset + 8 + 4 + self.body.len() as u64 + 1
    }
}

/// How a log file's entry sequence ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileEnd {
    /// The file ended exactly after an entry.
    Eof {
        /// Offset of the end.
        offset: u64,
    },
    /// A zero checksum and zero length: the preallocated, never-written area.
    ZeroLength {
        /// Offset of the zero length's entry.
        offset: u64,
    },
    /// An entry cut short or without its `'B'` marker: a torn write at the tail
    /// (ZooKeeper: "Last transaction was partial.").
    Partial {
        /// Offset where the incomplete entry starts (= end of the last complete one).
        offset: u64,
    },
}

impl FileEnd {
    /// Offset just past the last complete entry.
    pub fn offset(self) -> u64 {
        match self {
            FileEnd::Eof { offset }
            | FileEnd::ZeroLength { offset }
            | FileEnd::Partial { offset } => offset,
        }
    }
}

/// One step of a [`LogFileReader`]: an entry, or how the file ends.
#[derive(Debug)]
pub enum Step {
    /// A complete entry whose checksum matched.
    Entry(LogEntry),
    /// The end of the entries.
    End(FileEnd),
}

/// Sequential reader of one log file, whatever its name (tools use it to inspect a single
/// file; [`TxnIterator`] chains them across a directory).
pub struct LogFileReader {
    inp: JuteIn,
    max_entry_len: usize,
    version: i32,
    db_id: i64,
}

impl std::fmt::Debug for LogFileReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogFileReader")
            .field("file", &self.inp.file())
            .field("offset", &self.inp.position())
            .finish()
    }
}

impl LogFileReader {
    /// Opens `path` and checks its `FileHeader`. A file shorter than the header gives
    /// [`Error::UnexpectedEof`]; entry bodies longer than `max_entry_len` are corruption.
    pub fn open(fs: &dyn Fs, path: &Path, max_entry_len: usize) -> Result<LogFileReader> {
        let len = fs.file_len(path).map_err(|e| Error::io("stat", path, e))?;
        let r = fs.open_read(path).map_err(|e| Error::io("open", path, e))?;
        let mut inp = JuteIn::new(r, path, len, false);
        // ZooKeeper: FileHeader{int magic, int version, long dbid}; only the magic is checked.
        let magic = inp.read_i32()?;
        let version = inp.read_i32()?;
        let db_id = inp.read_i64()?;
        if magic != TXNLOG_MAGIC {
            return Err(Error::BadMagic {
                file: path.to_path_buf(),
                found: magic,
                expected: TXNLOG_MAGIC,
            });
        }
        if version != TXNLOG_VERSION {
            tracing::warn!(file = %path.display(), version, "unexpected txn log version");
        }
        Ok(LogFileReader {
            inp,
            max_entry_len,
            version,
            db_id,
        })
    }

    /// The format version in the file header (2).
    pub fn version(&self) -> i32 {
        self.version
    }

    /// The `dbid` in the file header (always 0 in ZooKeeper).
    pub fn db_id(&self) -> i64 {
        self.db_id
    }

    /// Offset of the next byte to be read.
    pub fn position(&self) -> u64 {
        self.inp.position()
    }

    /// Length of the file when it was opened.
    pub fn file_len(&self) -> u64 {
        self.inp.position() + self.inp.remaining()
    }

    /// Reads the next entry, or how the file ends. Checksum mismatches and impossible
    /// lengths are errors. After a checksum mismatch ([`Error::CrcMismatch`]) the reader is
    /// positioned after the damaged entry and may go on; after any other error it may not.
    pub fn next_step(&mut self) -> Result<Step> {
        let offset = self.inp.position();
        if self.inp.remaining() == 0 {
            return Ok(Step::End(FileEnd::Eof { offset }));
        }
        let partial = Step::End(FileEnd::Partial { offset });
        // ZooKeeper: crc = readLong, bytes = readBuffer, then readByte == 'B'; an EOF
        // anywhere ends the file.
        let crc = match self.inp.read_i64() {
            Ok(v) => v,
            Err(e) if is_eof(&e) => return Ok(partial),
            Err(e) => return Err(e),
        };
        let len = match self.inp.read_i32() {
            Ok(v) => v,
            Err(e) if is_eof(&e) => return Ok(partial),
            Err(e) => return Err(e),
        };
        if len == 0 {
            // Preallocated zeros. A non-zero checksum before a zero length is a torn entry.
            return Ok(if crc == 0 {
                Step::End(FileEnd::ZeroLength { offset })
            } else {
                partial
            });
        }
        if len < 0 || len as usize > self.max_entry_len {
            // A torn length is never larger than the real one (its low bytes read as zero),
            // so an impossible length is damage, not a torn tail.
            return Err(self
                .inp
                .corrupt(offset + 8, oversize_hint(len, self.max_entry_len)));
        }
        if len as u64 + 1 > self.inp.remaining() {
            let rest = self.rest_of_file(len as usize)?;
            return self.torn_or_damaged(offset, &rest, None);
        }
        let mut body = vec![0u8; len as usize];
        self.inp.read_exact(&mut body)?;
        let marker = self.inp.read_u8()?;
        if marker != b'B' {
            return self.torn_or_damaged(offset, &body, Some(marker));
        }
        let computed = u64::from(adler2::adler32_slice(&body));
        if crc as u64 != computed {
            return Err(Error::CrcMismatch {
                file: self.inp.file().to_path_buf(),
                offset,
                stored: crc as u64,
                computed,
            });
        }
        let header = TxnHeader::from_bytes(&body).map_err(|e| {
            self.inp.corrupt(
                offset + 12,
                format!("entry body has no valid TxnHeader: {e}"),
            )
        })?;
        Ok(Step::Entry(LogEntry {
            header,
            body,
            file: self.inp.file().to_path_buf(),
            offset,
        }))
    }
}

impl LogFileReader {
    /// The entry at `offset` did not end well: its end-of-record byte (just read, after
    /// `body`) is `marker` instead of `'B'`, or (`marker` = `None`) its length runs past the
    /// end of the file and `body` is the rest of the file. A torn tail or damage?
    ///
    /// A torn write leaves the bytes it did not reach as they were, and the log's unwritten
    /// area reads as zeros (preallocated, or zeros written ahead), so only a zero marker (or
    /// the end of the file) can be the tail of an interrupted write, and only if no complete
    /// entry lies inside the cut-off region or right after it. Anything else is damage: the
    /// entries after it were acknowledged, and taking it for a torn tail would cut them off.
    fn torn_or_damaged(&mut self, offset: u64, body: &[u8], marker: Option<u8>) -> Result<Step> {
        let body_at = offset + 12;
        if let Some(m) = marker.filter(|&m| m != 0) {
            return Err(self.inp.corrupt(
                body_at + body.len() as u64,
                format!("end-of-record byte is 0x{m:02x}, not 'B' (damage, not a torn tail)"),
            ));
        }
        if let Some(at) = find_whole_entry(body, self.max_entry_len) {
            return Err(self.inp.corrupt(
                offset + 8,
                format!(
                    "the entry's length runs over a complete entry at offset {} (damage, not a torn tail)",
                    body_at + at as u64
                ),
            ));
        }
        if marker.is_some() && self.whole_entry_follows()? {
            return Err(self.inp.corrupt(
                body_at + body.len() as u64,
                "end-of-record byte is 0 but a complete entry follows it (damage, not a torn tail)",
            ));
        }
        tracing::warn!(file = %self.inp.file().display(), offset, "Last transaction was partial.");
        Ok(Step::End(FileEnd::Partial { offset }))
    }

    /// Whether a complete entry starts at the current position. Consumes what it reads;
    /// the reader is done with the file after.
    fn whole_entry_follows(&mut self) -> Result<bool> {
        if self.inp.remaining() < 12 {
            return Ok(false);
        }
        let mut head = [0u8; 12];
        self.inp.read_exact(&mut head)?;
        let len = i32::from_be_bytes([head[8], head[9], head[10], head[11]]);
        if len <= 0 || len as usize > self.max_entry_len || len as u64 >= self.inp.remaining() {
            return Ok(false);
        }
        let mut entry = head.to_vec();
        entry.resize(12 + len as usize + 1, 0);
        self.inp.read_exact(&mut entry[12..])?;
        Ok(entry_at(&entry, 0, self.max_entry_len))
    }

    /// The rest of the file (an entry whose length runs past its end), at most `len` bytes.
    fn rest_of_file(&mut self, len: usize) -> Result<Vec<u8>> {
        let n = self.inp.remaining().min(len as u64);
        let mut rest = vec![0u8; n as usize];
        self.inp.read_exact(&mut rest)?;
        Ok(rest)
    }
}

/// Whether `bytes[at..]` starts with a complete entry: checksum, length, body, `'B'`, and
/// the checksum matches.
fn entry_at(bytes: &[u8], at: usize, max_entry_len: usize) -> bool {
    let field = |from: usize, n: usize| bytes.get(at + from..at + from + n);
    let (Some(crc), Some(len)) = (field(0, 8), field(8, 4)) else {
        return false;
    };
    let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
    if len <= 0 || len as usize > max_entry_len {
        return false;
    }
    let (Some(body), Some(&[b'B'])) = (field(12, len as usize), field(12 + len as usize, 1)) else {
        return false;
    };
    // A TxnHeader's type (its last field) must be a txn type, before the checksum is
    // computed: this keeps a scan over a long damaged region cheap.
    let Some(t) = body.get(28..32) else {
        return false;
    };
    if !matches!(
        i32::from_be_bytes([t[0], t[1], t[2], t[3]]),
        -11 | -10 | -1 | 1..=21
    ) {
        return false;
    }
    let crc = u64::from_be_bytes([
        crc[0], crc[1], crc[2], crc[3], crc[4], crc[5], crc[6], crc[7],
    ]);
    crc == u64::from(adler2::adler32_slice(body))
}

/// The offset of the first complete entry inside `bytes`, if any.
fn find_whole_entry(bytes: &[u8], max_entry_len: usize) -> Option<usize> {
    (0..bytes.len()).find(|&at| entry_at(bytes, at, max_entry_len))
}

/// Summary of a full scan of one log file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileScan {
    /// How the entries ended.
    pub end: FileEnd,
    /// zxid of the first entry, if any.
    pub first_zxid: Option<i64>,
    /// zxid of the last complete entry, if any.
    pub last_zxid: Option<i64>,
    /// Number of complete entries.
    pub entries: u64,
}

/// The message for an entry length above the limit: damage, or (for a plausible positive
/// length) a log written by a server with a larger `jute.maxbuffer`.
fn oversize_hint(len: i32, max_entry_len: usize) -> String {
    if len < 0 || len as usize > 1 << 30 {
        return format!("Unreasonable length = {len}");
    }
    format!(
        "Unreasonable length = {len}: the entry is longer than the log's limit of {max_entry_len} \
         bytes (the larger of 64 MiB and jute.maxbuffer + 1024); if the log was written with a \
         larger jute.maxbuffer, set jute.maxbuffer to at least {} (zoo.cfg, or --jute-maxbuffer \
         for menagerie inspect)",
        (len as usize).saturating_sub(1024).max(1024)
    )
}

/// Reads every entry of one file, verifying checksums.
pub fn scan_log_file(fs: &dyn Fs, path: &Path, max_entry_len: usize) -> Result<FileScan> {
    let mut r = LogFileReader::open(fs, path, max_entry_len)?;
    let mut scan = FileScan {
        end: FileEnd::Eof { offset: 16 },
        first_zxid: None,
        last_zxid: None,
        entries: 0,
    };
    loop {
        match r.next_step()? {
            Step::Entry(e) => {
                scan.first_zxid.get_or_insert(e.zxid());
                scan.last_zxid = Some(e.zxid());
                scan.entries += 1;
            }
            Step::End(end) => {
                scan.end = end;
                return Ok(scan);
            }
        }
    }
}

/// Iterates over the logged txns with zxid ≥ a starting zxid, across log files in zxid
/// order (ZooKeeper: `FileTxnIterator` with fastForward). After the first error it yields
/// nothing more.
pub struct TxnIterator {
    fs: Arc<dyn Fs>,
    files: VecDeque<PathBuf>,
    current: Option<LogFileReader>,
    from: i64,
    reached: bool,
    max_entry_len: usize,
    failed: bool,
}

impl std::fmt::Debug for TxnIterator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxnIterator")
            .field("files", &self.files)
            .field("from", &self.from)
            .finish()
    }
}

impl TxnIterator {
    /// Starts reading `log_dir` at the first txn with zxid ≥ `from`: opens every log file
    /// whose start is ≥ `from` plus the newest one starting before it (ZooKeeper:
    /// `FileTxnIterator.init`).
    pub fn open(
        fs: Arc<dyn Fs>,
        log_dir: &Path,
        from: i64,
        max_entry_len: usize,
    ) -> Result<TxnIterator> {
        let logs = list_log_files(fs.as_ref(), log_dir)?;
        let first = logs.iter().rposition(|l| l.zxid < from).unwrap_or(0);
        Ok(TxnIterator {
            fs,
            files: logs[first..].iter().map(|l| l.path.clone()).collect(),
            current: None,
            from,
            reached: false,
            max_entry_len,
            failed: false,
        })
    }

    fn step(&mut self) -> Result<Option<LogEntry>> {
        loop {
            if self.current.is_none() {
                let Some(path) = self.files.pop_front() else {
                    return Ok(None);
                };
                match LogFileReader::open(self.fs.as_ref(), &path, self.max_entry_len) {
                    Ok(r) => self.current = Some(r),
                    // ZooKeeper: an empty last file is a crash before the header was written.
                    Err(e) if is_eof(&e) && self.files.is_empty() => {
                        tracing::warn!(file = %path.display(), "log file without a complete header at the tail, ignored");
                        return Ok(None);
                    }
                    Err(e) => return Err(e),
                }
            }
            let Some(reader) = self.current.as_mut() else {
                continue;
            };
            match reader.next_step()? {
                Step::Entry(e) => {
                    if !self.reached && e.zxid() < self.from {
                        continue;
                    }
                    self.reached = true;
                    return Ok(Some(e));
                }
                Step::End(end) => {
                    if let FileEnd::Partial { offset } = end
                        && !self.files.is_empty()
                    {
                        tracing::warn!(file = %reader.inp.file().display(), offset,
                            "partial entry in a log file that is not the last one");
                    }
                    self.current = None;
                }
            }
        }
    }
}

impl Iterator for TxnIterator {
    type Item = Result<LogEntry>;

    fn next(&mut self) -> Option<Result<LogEntry>> {
        if self.failed {
            return None;
        }
        match self.step() {
            Ok(e) => e.map(Ok),
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}
