//! `menagerie inspect`: prints ZooKeeper transaction logs (`log.<zxid>`) and snapshots
//! (`snapshot.<zxid>`) in human-readable form or as JSON lines, written by Menagerie or by
//! Apache ZooKeeper (the same formats byte for byte).
//!
//! The text layout follows ZooKeeper's own tools where that is sensible:
//! `TxnLogToolkit` (one line per txn: time, session, cxid, zxid, type, fields; then
//! `EOF reached after N txns.`) and `SnapshotFormatter` (`ZNode Details`, one block per
//! node, `Session Details`, `Last zxid`). Differences: times are ISO-8601 UTC with
//! milliseconds, data is shown as text or hex (base64 with `--data` for snapshots, as
//! `SnapshotFormatter -d`), ACLs are spelled out, and nodes are streamed, so the node count
//! comes at the end.
//!
//! JSON mode prints one object per line: a `header`, then one `txn` / `node` / `session`
//! object each, any `error`s, and a `summary`. `--summary` prints only the summary (and, in
//! JSON, the header).
//!
//! Damage never panics: the file is read up to the damage, which is reported with the file
//! and byte offset in [`FileReport::problems`]. A checksum mismatch in a log entry is
//! reported and reading goes on with the next entry (as `TxnLogToolkit` does); anything else
//! ends that file. An incomplete entry at the end of a log (a torn write) is reported too.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use menagerie_storage::datadir::{VERSION_DIR, list_log_files, list_snapshot_files};
use menagerie_storage::fs::Fs;
use thiserror::Error;

pub mod format;
mod progress;
pub mod record;
mod snapshot;
mod txnlog;

pub use progress::Progress;

/// How to print.
#[derive(Debug, Clone, Default)]
pub struct InspectOptions {
    /// One JSON object per line instead of text.
    pub json: bool,
    /// Only the summary (counts, zxid range, sessions), not every txn or node.
    pub summary: bool,
    /// Print data in full (text: no cut after 64 bytes; snapshots: `data = <base64>` instead
    /// of `dataLength`, as `SnapshotFormatter -d`).
    pub data: bool,
    /// Text mode: also print each txn's file offset and TxnDigest.
    pub verbose: bool,
    /// Show a progress bar on stderr for large files (the binary turns it on when stderr is
    /// a terminal).
    pub progress: bool,
    /// Longest snapshot buffer accepted (`jute.maxbuffer` + 1024 by default); log entries
    /// may be as long as the log's own limit (`menagerie_storage::MAX_ENTRY_LEN`) or this,
    /// whichever is larger.
    pub max_record_len: usize,
}

impl InspectOptions {
    /// Default options for the binary: progress only when stderr is a terminal.
    pub fn for_terminal() -> InspectOptions {
        InspectOptions {
            progress: std::io::stderr().is_terminal(),
            max_record_len: menagerie_storage::DEFAULT_MAX_RECORD_LEN,
            ..InspectOptions::default()
        }
    }

    /// Longest log entry accepted: the log's own limit, or `max_record_len` if larger (the
    /// server reads its log the same way).
    fn max_log_entry_len(&self) -> usize {
        self.max_len().max(menagerie_storage::MAX_ENTRY_LEN)
    }

    fn max_len(&self) -> usize {
        if self.max_record_len == 0 {
            menagerie_storage::DEFAULT_MAX_RECORD_LEN
        } else {
            self.max_record_len
        }
    }
}

/// Writing the output failed (a closed pipe, a full disk). Damage in the inspected files is
/// not an error here but a [`FileReport::problems`] entry.
#[derive(Debug, Error)]
pub enum InspectError {
    /// stdout (or the given writer) failed.
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
    /// A directory given on the command line could not be listed.
    #[error("cannot list {dir}: {source}")]
    List {
        /// The directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: menagerie_storage::Error,
    },
}

/// What kind of file was inspected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A transaction log (`ZKLG`).
    TxnLog,
    /// A snapshot (`ZKSN`).
    Snapshot,
    /// Neither (or unreadable).
    Unknown,
}

/// The outcome for one file.
#[derive(Debug, Clone)]
pub struct FileReport {
    /// The file.
    pub path: PathBuf,
    /// What it is.
    pub kind: FileKind,
    /// Txns (logs) or nodes (snapshots) read completely.
    pub items: u64,
    /// Lowest and highest zxid seen (txn zxids for logs; the file's zxid for snapshots).
    pub zxid_range: Option<(i64, i64)>,
    /// Damage found, each naming the file and, where known, the byte offset.
    pub problems: Vec<String>,
    /// The file could not be read at all (missing, a permission problem): not damage.
    pub unreadable: bool,
}

impl FileReport {
    fn new(path: &Path, kind: FileKind) -> FileReport {
        FileReport {
            path: path.to_path_buf(),
            kind,
            items: 0,
            zxid_range: None,
            problems: Vec::new(),
            unreadable: false,
        }
    }

    /// Whether the file was read to its end without damage.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// Whether the file was read and found damaged (not merely unreadable).
    pub fn is_damaged(&self) -> bool {
        !self.unreadable && !self.problems.is_empty()
    }
}

/// Expands the command line: a directory stands for its `version-2` subdirectory (if it has
/// one) and that for every `snapshot.*` and `log.*` file in it, in zxid order (snapshots
/// before logs of the same zxid). Files are kept as given.
pub fn expand_paths(fs: &dyn Fs, args: &[PathBuf]) -> Result<Vec<PathBuf>, InspectError> {
    let mut out = Vec::new();
    for arg in args {
        if !arg.is_dir() {
            out.push(arg.clone());
            continue;
        }
        let dir = if arg.join(VERSION_DIR).is_dir() {
            arg.join(VERSION_DIR)
        } else {
            arg.clone()
        };
        let list_err = |source| InspectError::List {
            dir: dir.clone(),
            source,
        };
        let mut files: Vec<(i64, u8, PathBuf)> = Vec::new();
        for s in list_snapshot_files(fs, &dir).map_err(list_err)? {
            files.push((s.zxid, 0, s.path));
        }
        for l in list_log_files(fs, &dir).map_err(list_err)? {
            files.push((l.zxid, 1, l.path));
        }
        files.sort();
        out.extend(files.into_iter().map(|(_, _, p)| p));
    }
    Ok(out)
}

/// Tells a file's kind from its first four bytes.
pub fn detect_kind(fs: &dyn Fs, path: &Path) -> std::io::Result<(FileKind, Option<[u8; 4]>)> {
    let mut magic = [0u8; 4];
    let n = fs.read_at(path, 0, &mut magic)?;
    if n < 4 {
        return Ok((FileKind::Unknown, None));
    }
    let kind = match &magic {
        b"ZKLG" => FileKind::TxnLog,
        b"ZKSN" => FileKind::Snapshot,
        _ => FileKind::Unknown,
    };
    Ok((kind, Some(magic)))
}

/// Inspects one file, printing to `out`.
pub fn inspect_file(
    fs: &dyn Fs,
    path: &Path,
    opts: &InspectOptions,
    out: &mut dyn Write,
) -> Result<FileReport, InspectError> {
    let (kind, magic) = match detect_kind(fs, path) {
        Ok(k) => k,
        Err(e) => {
            let mut r = FileReport::new(path, FileKind::Unknown);
            r.unreadable = true;
            r.problems
                .push(format!("cannot read {}: {e}", path.display()));
            emit_problems(&r, opts, out)?;
            return Ok(r);
        }
    };
    match kind {
        FileKind::TxnLog => txnlog::inspect(fs, path, opts, out),
        FileKind::Snapshot => snapshot::inspect(fs, path, opts, out),
        FileKind::Unknown => {
            let mut r = FileReport::new(path, kind);
            let why = match magic {
                None => "too short to be a transaction log or snapshot (no 4-byte magic number)"
                    .to_owned(),
                Some([0x1f, 0x8b, ..]) => {
                    "a gzip-compressed snapshot; decompress it first (gunzip -c FILE > snapshot.ZXID)"
                        .to_owned()
                }
                Some([0x82, b'S', b'N', b'A']) => {
                    "a snappy-compressed snapshot, which is not supported".to_owned()
                }
                Some(m) => format!(
                    "not a ZooKeeper transaction log or snapshot (magic {:#010x}, expected \"ZKLG\" or \"ZKSN\")",
                    u32::from_be_bytes(m)
                ),
            };
            r.problems
                .push(format!("{}: offset 0: {why}", path.display()));
            emit_problems(&r, opts, out)?;
            Ok(r)
        }
    }
}

/// Inspects every file (directories expanded), printing to `out`; when there are several,
/// text mode puts a `==> file <==` line before each. Returns one report per file.
pub fn inspect_paths(
    fs: &dyn Fs,
    args: &[PathBuf],
    opts: &InspectOptions,
    out: &mut dyn Write,
) -> Result<Vec<FileReport>, InspectError> {
    let files = expand_paths(fs, args)?;
    let many = files.len() > 1;
    let mut reports = Vec::with_capacity(files.len());
    for (i, f) in files.iter().enumerate() {
        if many && !opts.json {
            if i > 0 {
                writeln!(out)?;
            }
            writeln!(out, "==> {} <==", f.display())?;
        }
        reports.push(inspect_file(fs, f, opts, out)?);
    }
    Ok(reports)
}

/// JSON mode: one `error` object per problem (text mode leaves them to the caller's
/// stderr).
fn emit_problems(
    r: &FileReport,
    opts: &InspectOptions,
    out: &mut dyn Write,
) -> Result<(), InspectError> {
    if opts.json {
        for p in &r.problems {
            let v = serde_json::json!({"kind": "error", "file": r.path.display().to_string(), "message": p});
            writeln!(out, "{v}")?;
        }
    }
    Ok(())
}

/// A problem found here (storage errors carry their own file and offset in their text):
/// `<file>: offset <n>: <what>`.
fn problem_at(path: &Path, offset: u64, what: &str) -> String {
    format!("{}: offset {offset}: {what}", path.display())
}

#[cfg(test)]
mod tests;
