//! Transaction logs: one line (or JSON object) per txn, like ZooKeeper's `TxnLogToolkit`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;

use menagerie_proto::txn::TxnDigest;
use menagerie_storage::txnlog::{FileEnd, LogEntry, LogFileReader, Step};
use menagerie_storage::{Error, Fs, TxnBody};
use serde_json::{Value, json};

use super::format::{hex, utc};
use super::record::{op_name, record_json, record_paths, record_text};
use super::{FileKind, FileReport, InspectError, InspectOptions, Progress, emit_problems};

/// Sessions listed by name in a text summary (the JSON summary lists all).
const SESSIONS_LISTED: usize = 20;

#[derive(Debug, Default)]
struct Summary {
    txns: u64,
    first_zxid: Option<i64>,
    last_zxid: Option<i64>,
    first_time: Option<i64>,
    last_time: Option<i64>,
    by_type: BTreeMap<String, u64>,
    created: BTreeSet<i64>,
    closed: BTreeSet<i64>,
    seen: BTreeSet<i64>,
    with_digest: u64,
    /// (previous zxid, next zxid) where the counter did not go up by one within an epoch.
    gaps: Vec<(i64, i64)>,
    crc_errors: u64,
    undecodable: u64,
    end: Option<FileEnd>,
    file_len: u64,
}

impl Summary {
    fn add(&mut self, e: &LogEntry, record: Option<&TxnBody>, digest: bool) {
        let h = &e.header;
        self.txns += 1;
        self.first_zxid.get_or_insert(h.zxid.0);
        if let Some(prev) = self.last_zxid
            && !follows(prev, h.zxid.0)
        {
            self.gaps.push((prev, h.zxid.0));
        }
        self.last_zxid = Some(h.zxid.0);
        self.first_time = Some(self.first_time.map_or(h.time, |t| t.min(h.time)));
        self.last_time = Some(self.last_time.map_or(h.time, |t| t.max(h.time)));
        *self.by_type.entry(op_name(h.txn_type)).or_default() += 1;
        if h.client_id.0 != 0 {
            self.seen.insert(h.client_id.0);
        }
        match record {
            Some(TxnBody::CreateSession(_)) => {
                self.created.insert(h.client_id.0);
            }
            Some(TxnBody::CloseSession(_)) => {
                self.closed.insert(h.client_id.0);
            }
            _ => {}
        }
        if digest {
            self.with_digest += 1;
        }
    }
}

/// Whether `next` is the zxid after `prev`: the counter (low 32 bits) up by one in the same
/// epoch, or counter 1 of a later epoch (a new leader).
fn follows(prev: i64, next: i64) -> bool {
    let (pe, ne) = (prev >> 32, next >> 32);
    next == prev + 1 || (ne > pe && next & 0xffff_ffff == 1)
}

/// Gaps listed by name in a text summary.
const GAPS_LISTED: usize = 5;

/// Prints the log at `path`.
pub(super) fn inspect(
    fs: &dyn Fs,
    path: &Path,
    opts: &InspectOptions,
    out: &mut dyn Write,
) -> Result<FileReport, InspectError> {
    let mut report = FileReport::new(path, FileKind::TxnLog);
    let mut r = match LogFileReader::open(fs, path, opts.max_log_entry_len()) {
        Ok(r) => r,
        Err(e) => {
            report.problems.push(e.to_string());
            emit_problems(&report, opts, out)?;
            return Ok(report);
        }
    };
    let mut sum = Summary {
        file_len: r.file_len(),
        ..Summary::default()
    };
    header(path, &r, opts, out)?;
    read_entries(&mut r, path, opts, &mut sum, &mut report, out)?;
    report.items = sum.txns;
    report.zxid_range = sum.first_zxid.zip(sum.last_zxid);
    emit_problems(&report, opts, out)?;
    if opts.json {
        writeln!(out, "{}", summary_json(path, &sum, &report))?;
    } else if opts.summary {
        summary_text(path, &sum, out)?;
    } else {
        match sum.end {
            Some(FileEnd::Eof { .. } | FileEnd::ZeroLength { .. }) if report.is_ok() => {
                writeln!(out, "EOF reached after {} txns.", sum.txns)?
            }
            _ => writeln!(
                out,
                "{} txns read; the file is damaged (see the errors).",
                sum.txns
            )?,
        }
    }
    Ok(report)
}

/// The JSON header object, or TxnLogToolkit's first line.
fn header(
    path: &Path,
    r: &LogFileReader,
    opts: &InspectOptions,
    out: &mut dyn Write,
) -> Result<(), InspectError> {
    if opts.json {
        let v = json!({"kind": "header", "file": path.display().to_string(), "format": "txnlog",
            "version": r.version(), "dbid": r.db_id(), "file_len": r.file_len()});
        writeln!(out, "{v}")?;
    } else if !opts.summary {
        writeln!(
            out,
            "ZooKeeper Transactional Log File with dbid {} txnlog format version {}",
            r.db_id(),
            r.version()
        )?;
    }
    Ok(())
}

/// Prints every entry up to the end or the damage, tallying them in `sum`.
fn read_entries(
    r: &mut LogFileReader,
    path: &Path,
    opts: &InspectOptions,
    sum: &mut Summary,
    report: &mut FileReport,
    out: &mut dyn Write,
) -> Result<(), InspectError> {
    let progress = Progress::new(path, r.file_len(), opts.progress);
    loop {
        match r.next_step() {
            Ok(Step::Entry(e)) => {
                progress.set(e.end_offset());
                entry(&e, opts, sum, report, out)?;
            }
            Ok(Step::End(end)) => {
                if let FileEnd::Partial { offset } = end {
                    report.problems.push(super::problem_at(
                        path,
                        offset,
                        &format!(
                            "truncated: incomplete entry (a torn write at the tail; the file has {} bytes)",
                            r.file_len()
                        ),
                    ));
                }
                sum.end = Some(end);
                break;
            }
            Err(e @ Error::CrcMismatch { .. }) => {
                // TxnLogToolkit prints "CRC ERROR" and goes on; so do we.
                sum.crc_errors += 1;
                report.problems.push(e.to_string());
                if !opts.json && !opts.summary {
                    writeln!(out, "CRC ERROR - {e}")?;
                }
            }
            Err(e) => {
                report.problems.push(e.to_string());
                break;
            }
        }
    }
    progress.finish();
    Ok(())
}

fn entry(
    e: &LogEntry,
    opts: &InspectOptions,
    sum: &mut Summary,
    report: &mut FileReport,
    out: &mut dyn Write,
) -> Result<(), InspectError> {
    let h = &e.header;
    let decoded = e.decode();
    let (record, digest) = match &decoded {
        Ok(t) => (Some(&t.body), t.digest.as_ref()),
        Err(err) => {
            sum.undecodable += 1;
            report.problems.push(super::problem_at(
                &e.file,
                e.offset,
                &format!("zxid {}: undecodable txn: {err}", hex(h.zxid.0)),
            ));
            (None, None)
        }
    };
    sum.add(e, record, digest.is_some());
    if opts.summary && !opts.json {
        return Ok(());
    }
    if opts.json {
        if !opts.summary {
            entry_json(e, &decoded, record, digest, out)?;
        }
        return Ok(());
    }
    entry_text(e, &decoded, record, digest, opts, out)
}

type Decoded = Result<menagerie_storage::LoggedTxn, Error>;

/// One `txn` JSON object.
fn entry_json(
    e: &LogEntry,
    decoded: &Decoded,
    record: Option<&TxnBody>,
    digest: Option<&TxnDigest>,
    out: &mut dyn Write,
) -> Result<(), InspectError> {
    let h = &e.header;
    let mut v = json!({
        "kind": "txn",
        "file": e.file.display().to_string(),
        "offset": e.offset,
        "zxid": h.zxid.0,
        "zxid_hex": hex(h.zxid.0),
        "session": hex(h.client_id.0),
        "cxid": h.cxid,
        "time": h.time,
        "time_utc": utc(h.time),
        "type": op_name(h.txn_type),
        "type_code": h.txn_type,
        "paths": record.map(record_paths),
        "txn": record.map(record_json),
        "digest": digest.map(|d| json!({"version": d.version, "tree_digest": hex(d.tree_digest)})),
    });
    if let (Err(err), Value::Object(m)) = (decoded, &mut v) {
        m.insert("error".into(), json!(err.to_string()));
    }
    writeln!(out, "{v}")?;
    Ok(())
}

/// One TxnLogToolkit line: time, session, cxid, zxid, type and the txn's fields.
fn entry_text(
    e: &LogEntry,
    decoded: &Decoded,
    record: Option<&TxnBody>,
    digest: Option<&TxnDigest>,
    opts: &InspectOptions,
    out: &mut dyn Write,
) -> Result<(), InspectError> {
    let h = &e.header;
    let body = match (decoded, record) {
        (Ok(_), Some(rec)) => record_text(rec, opts.data),
        (Err(err), _) => format!("<undecodable: {err}>"),
        _ => String::new(),
    };
    write!(
        out,
        "{} session {} cxid {} zxid {} {}",
        utc(h.time),
        hex(h.client_id.0),
        hex(i64::from(h.cxid as u32)),
        hex(h.zxid.0),
        op_name(h.txn_type)
    )?;
    if !body.is_empty() {
        write!(out, " {body}")?;
    }
    if opts.verbose {
        write!(out, " (offset {}", e.offset)?;
        if let Some(d) = digest {
            write!(out, ", digest {}", hex(d.tree_digest))?;
        }
        write!(out, ")")?;
    }
    writeln!(out)?;
    Ok(())
}

fn end_text(end: Option<FileEnd>, file_len: u64) -> String {
    match end {
        Some(FileEnd::Eof { offset }) => format!("end of file at offset {offset}"),
        Some(FileEnd::ZeroLength { offset }) => {
            format!("preallocated zeros from offset {offset} (file size {file_len})")
        }
        Some(FileEnd::Partial { offset }) => {
            format!("incomplete entry at offset {offset} (file size {file_len})")
        }
        None => "not reached (damage)".into(),
    }
}

fn summary_text(path: &Path, s: &Summary, out: &mut dyn Write) -> Result<(), InspectError> {
    writeln!(out, "File: {}", path.display())?;
    writeln!(out, "Format: transaction log")?;
    match (s.first_zxid, s.last_zxid) {
        (Some(a), Some(b)) => writeln!(out, "Txns: {} (zxid {} .. {})", s.txns, hex(a), hex(b))?,
        _ => writeln!(out, "Txns: 0")?,
    }
    if let (Some(a), Some(b)) = (s.first_time, s.last_time) {
        writeln!(out, "Time: {} .. {}", utc(a), utc(b))?;
    }
    let types: Vec<String> = s.by_type.iter().map(|(k, v)| format!("{k} {v}")).collect();
    if !types.is_empty() {
        writeln!(out, "Types: {}", types.join(", "))?;
    }
    writeln!(
        out,
        "Sessions: {} seen, {} created, {} closed",
        s.seen.len(),
        s.created.len(),
        s.closed.len()
    )?;
    session_lines(s, out)?;
    writeln!(
        out,
        "Digests: {} of {} txns carry a TxnDigest",
        s.with_digest, s.txns
    )?;
    gap_line(s, out)?;
    if s.crc_errors > 0 || s.undecodable > 0 {
        writeln!(
            out,
            "Damage: {} CRC errors, {} undecodable txns",
            s.crc_errors, s.undecodable
        )?;
    }
    writeln!(out, "End: {}", end_text(s.end, s.file_len))?;
    Ok(())
}

/// One line per session (the first [`SESSIONS_LISTED`]): created, closed or used.
fn session_lines(s: &Summary, out: &mut dyn Write) -> Result<(), InspectError> {
    let all: BTreeSet<i64> = s.seen.union(&s.created).copied().collect();
    for id in all.iter().take(SESSIONS_LISTED) {
        let mut what = Vec::new();
        if s.created.contains(id) {
            what.push("created");
        }
        if s.closed.contains(id) {
            what.push("closed");
        }
        if what.is_empty() {
            what.push("used");
        }
        writeln!(out, "  {} {}", hex(*id), what.join(", "))?;
    }
    if all.len() > SESSIONS_LISTED {
        writeln!(out, "  ... and {} more", all.len() - SESSIONS_LISTED)?;
    }
    Ok(())
}

/// The zxid gaps (the first [`GAPS_LISTED`]), if any.
fn gap_line(s: &Summary, out: &mut dyn Write) -> Result<(), InspectError> {
    if !s.gaps.is_empty() {
        let shown: Vec<String> = s
            .gaps
            .iter()
            .take(GAPS_LISTED)
            .map(|(a, b)| format!("{} -> {}", hex(*a), hex(*b)))
            .collect();
        writeln!(
            out,
            "Zxid gaps: {} ({}{})",
            s.gaps.len(),
            shown.join(", "),
            if s.gaps.len() > GAPS_LISTED {
                ", ..."
            } else {
                ""
            }
        )?;
    }
    Ok(())
}

fn summary_json(path: &Path, s: &Summary, report: &FileReport) -> Value {
    let ids = |set: &BTreeSet<i64>| -> Vec<String> { set.iter().map(|i| hex(*i)).collect() };
    let end = match s.end {
        Some(FileEnd::Eof { offset }) => json!({"reason": "eof", "offset": offset}),
        Some(FileEnd::ZeroLength { offset }) => json!({"reason": "preallocated", "offset": offset}),
        Some(FileEnd::Partial { offset }) => json!({"reason": "partial", "offset": offset}),
        None => json!({"reason": "damaged"}),
    };
    json!({
        "kind": "summary",
        "file": path.display().to_string(),
        "format": "txnlog",
        "txns": s.txns,
        "first_zxid": s.first_zxid,
        "last_zxid": s.last_zxid,
        "first_time": s.first_time,
        "last_time": s.last_time,
        "types": s.by_type,
        "sessions_seen": ids(&s.seen),
        "sessions_created": ids(&s.created),
        "sessions_closed": ids(&s.closed),
        "txns_with_digest": s.with_digest,
        "crc_errors": s.crc_errors,
        "undecodable": s.undecodable,
        "zxid_gaps": s.gaps.iter().map(|(a, b)| json!([a, b])).collect::<Vec<_>>(),
        "end": end,
        "file_len": s.file_len,
        "ok": report.is_ok(),
        "problems": report.problems,
    })
}
