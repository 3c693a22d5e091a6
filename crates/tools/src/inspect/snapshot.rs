//! Snapshots: one block (or JSON object) per node, then the sessions, like ZooKeeper's
//! `SnapshotFormatter`, plus a check of the stored tree digest against the nodes.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;

use menagerie_proto::records::Acl;
use menagerie_storage::digest::DIGEST_VERSION;
use menagerie_storage::{Fs, OwnedSnapshotNode, SnapshotReader, SnapshotTrailer, TreeDigest};
use serde_json::{Value, json};

use super::format::{Owner, acl_json, acl_text, base64, data_json, hex, hex14, stat_json, utc};
use super::{FileKind, FileReport, InspectError, InspectOptions, Progress, emit_problems};

/// Sessions listed in a text summary (the JSON output lists all).
const SESSIONS_LISTED: usize = 20;

#[derive(Debug, Default)]
struct Summary {
    nodes: u64,
    by_owner: BTreeMap<&'static str, u64>,
    data_bytes: u64,
    largest: Option<(String, usize)>,
    ephemerals: HashMap<i64, u64>,
    digest: TreeDigest,
    max_zxid: Option<i64>,
}

/// Prints the snapshot at `path`.
pub(super) fn inspect(
    fs: &dyn Fs,
    path: &Path,
    opts: &InspectOptions,
    out: &mut dyn Write,
) -> Result<FileReport, InspectError> {
    let mut report = FileReport::new(path, FileKind::Snapshot);
    let mut r = match SnapshotReader::open_with(fs, path, opts.max_len()) {
        Ok(r) => r,
        Err(e) => {
            report.problems.push(e.to_string());
            emit_problems(&report, opts, out)?;
            return Ok(report);
        }
    };
    let acls: HashMap<i64, Vec<Acl>> = r.acls().iter().cloned().collect();
    let sessions = r.sessions().to_vec();
    header(path, &r, acls.len(), sessions.len(), opts, out)?;
    let (sum, failed) = read_nodes(&mut r, path, &acls, opts, &mut report, out)?;
    let (zxid, file_len) = (r.zxid(), r.file_len());
    let trailer = if failed {
        None
    } else {
        finish(r, path, &mut report)
    };
    report.items = sum.nodes;
    // SnapshotFormatter's "Last zxid": the name's zxid or the newest mzxid/pzxid of any
    // node, whichever is larger (a fuzzy snapshot can hold effects of later txns).
    let last = [(zxid >= 0).then_some(zxid), sum.max_zxid]
        .into_iter()
        .flatten()
        .max();
    report.zxid_range = (zxid >= 0).then_some(zxid).or(last).zip(last);
    if opts.json {
        if !opts.summary {
            for (id, timeout) in &sessions {
                let v = json!({"kind": "session", "id": hex(*id), "timeout": timeout,
                    "ephemerals": sum.ephemerals.get(id).copied().unwrap_or(0)});
                writeln!(out, "{v}")?;
            }
        }
        emit_problems(&report, opts, out)?;
        let v = summary_json(
            path,
            zxid,
            last,
            &sessions,
            acls.len(),
            &sum,
            trailer,
            &report,
            file_len,
        );
        writeln!(out, "{v}")?;
    } else if opts.summary {
        summary_text(path, zxid, last, &sessions, acls.len(), &sum, trailer, out)?;
    } else {
        footer_text(&sum, &sessions, last, trailer, out)?;
    }
    Ok(report)
}

/// The JSON header object, or the text heading.
fn header(
    path: &Path,
    r: &SnapshotReader,
    acl_entries: usize,
    sessions: usize,
    opts: &InspectOptions,
    out: &mut dyn Write,
) -> Result<(), InspectError> {
    if opts.json {
        let v = json!({"kind": "header", "file": path.display().to_string(), "format": "snapshot",
            "zxid": (r.zxid() >= 0).then_some(r.zxid()), "sessions": sessions,
            "acl_entries": acl_entries, "file_len": r.file_len()});
        writeln!(out, "{v}")?;
    } else if !opts.summary {
        writeln!(out, "ZNode Details:")?;
    }
    Ok(())
}

/// Prints every node; returns the tally and whether reading stopped at damage.
fn read_nodes(
    r: &mut SnapshotReader,
    path: &Path,
    acls: &HashMap<i64, Vec<Acl>>,
    opts: &InspectOptions,
    report: &mut FileReport,
    out: &mut dyn Write,
) -> Result<(Summary, bool), InspectError> {
    let progress = Progress::new(path, r.file_len(), opts.progress);
    let mut sum = Summary::default();
    let mut failed = false;
    loop {
        match r.next_node() {
            Ok(Some(n)) => {
                progress.set(SnapshotReader::position(r));
                node(&n, acls, opts, &mut sum, out)?;
            }
            Ok(None) => break,
            Err(e) => {
                report.problems.push(e.to_string());
                failed = true;
                break;
            }
        }
    }
    progress.finish();
    Ok((sum, failed))
}

/// Reads the blocks after the nodes (digest, lastProcessedZxid), noting a cut-short end.
fn finish(r: SnapshotReader, path: &Path, report: &mut FileReport) -> Option<SnapshotTrailer> {
    let file_len = r.file_len();
    match r.finish_with_end() {
        Ok((t, end)) => {
            if end < file_len {
                report.problems.push(super::problem_at(
                    path,
                    end,
                    &format!(
                        "truncated: {} bytes after the last complete block (an optional digest or lastProcessedZxid block cut short)",
                        file_len - end
                    ),
                ));
            }
            Some(t)
        }
        Err(e) => {
            report.problems.push(e.to_string());
            None
        }
    }
}

/// SnapshotFormatter's closing text: node count, sessions, last zxid, then the digest.
fn footer_text(
    sum: &Summary,
    sessions: &[(i64, i32)],
    last: Option<i64>,
    trailer: Option<SnapshotTrailer>,
    out: &mut dyn Write,
) -> Result<(), InspectError> {
    writeln!(out, "ZNode count: {}", sum.nodes)?;
    writeln!(out, "Session Details (sid, timeout, ephemeralCount):")?;
    for (id, timeout) in sessions {
        let eph = sum.ephemerals.get(id).copied().unwrap_or(0);
        writeln!(out, "{}, {timeout}, {eph}", hex(*id))?;
    }
    writeln!(out, "----")?;
    if let Some(z) = last {
        writeln!(out, "Last zxid: {}", hex(z))?;
    }
    if let Some(t) = trailer {
        digest_lines(sum, t, out)?;
    }
    Ok(())
}

fn node(
    n: &OwnedSnapshotNode,
    acls: &HashMap<i64, Vec<Acl>>,
    opts: &InspectOptions,
    sum: &mut Summary,
    out: &mut dyn Write,
) -> Result<(), InspectError> {
    let s = &n.stat;
    let owner = Owner::of(s.ephemeral_owner);
    let len = n.data.as_ref().map_or(0, Vec::len);
    sum.nodes += 1;
    *sum.by_owner.entry(owner.kind()).or_default() += 1;
    sum.data_bytes += len as u64;
    if sum.largest.as_ref().is_none_or(|(_, l)| len > *l) {
        sum.largest = Some((display_path(&n.path).to_owned(), len));
    }
    if let Owner::Session(id) = owner {
        *sum.ephemerals.entry(id).or_default() += 1;
    }
    sum.digest.add(&n.path, n.data.as_deref(), s);
    let newest = s.mzxid.max(s.pzxid);
    sum.max_zxid = Some(sum.max_zxid.map_or(newest, |m| m.max(newest)));
    if opts.summary {
        return Ok(());
    }
    // -1 is OPEN_ACL_UNSAFE, never stored in the cache.
    let acl = if n.acl == -1 {
        Some(Acl::open_unsafe())
    } else {
        acls.get(&n.acl).cloned()
    };
    if opts.json {
        let mut m = serde_json::Map::new();
        m.insert("kind".into(), json!("node"));
        m.insert("path".into(), json!(display_path(&n.path)));
        data_json(&mut m, n.data.as_deref());
        m.insert("acl_index".into(), json!(n.acl));
        m.insert("acl".into(), acl.as_deref().map_or(Value::Null, acl_json));
        m.insert("owner".into(), json!(owner.kind()));
        m.insert("stat".into(), stat_json(s));
        writeln!(out, "{}", Value::Object(m))?;
        return Ok(());
    }
    writeln!(out, "----")?;
    writeln!(out, "{}", display_path(&n.path))?;
    writeln!(out, "  cZxid = {}", hex14(s.czxid))?;
    writeln!(out, "  ctime = {}", utc(s.ctime))?;
    writeln!(out, "  mZxid = {}", hex14(s.mzxid))?;
    writeln!(out, "  mtime = {}", utc(s.mtime))?;
    writeln!(out, "  pZxid = {}", hex14(s.pzxid))?;
    writeln!(out, "  cversion = {}", s.cversion)?;
    writeln!(out, "  dataVersion = {}", s.version)?;
    writeln!(out, "  aclVersion = {}", s.aversion)?;
    writeln!(out, "  ephemeralOwner = {}", hex14(s.ephemeral_owner))?;
    if opts.data {
        writeln!(
            out,
            "  data = {}",
            base64(n.data.as_deref()).unwrap_or_else(|| "null".into())
        )?;
    } else {
        writeln!(out, "  dataLength = {len}")?;
    }
    match acl {
        Some(a) => writeln!(out, "  acl = {}", acl_text(&a))?,
        None => writeln!(out, "  acl = <index {} not in the ACL cache>", n.acl)?,
    }
    Ok(())
}

/// The root is stored as `""`; print it as `/`.
fn display_path(p: &str) -> &str {
    if p.is_empty() { "/" } else { p }
}

/// Whether the stored digest matches the nodes; `None` if there is none to compare (absent,
/// or an old digest version).
/// zxid 0 means no digest was recorded (ZooKeeper writes `{0, 2, 0}` into the first
/// snapshot of an empty database).
fn digest_matches(sum: &Summary, t: SnapshotTrailer) -> Option<bool> {
    let d = t.digest?;
    (d.version == DIGEST_VERSION && d.zxid.0 != 0).then(|| d.digest == sum.digest.as_i64())
}

fn digest_lines(
    sum: &Summary,
    t: SnapshotTrailer,
    out: &mut dyn Write,
) -> Result<(), InspectError> {
    if let Some(d) = t.digest {
        let verdict = match digest_matches(sum, t) {
            Some(true) => "matches the nodes".to_owned(),
            Some(false) => format!(
                "differs from the nodes' {} (normal for a fuzzy snapshot taken while the tree changed)",
                hex(sum.digest.as_i64())
            ),
            None if d.zxid.0 == 0 => "none recorded".to_owned(),
            None => "not checked (old digest version)".to_owned(),
        };
        writeln!(
            out,
            "Digest: {} at zxid {} (version {}): {verdict}",
            hex(d.digest),
            hex(d.zxid.0),
            d.version
        )?;
    }
    if let Some(z) = t.last_processed_zxid {
        writeln!(out, "Last processed zxid: {}", hex(z))?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn summary_text(
    path: &Path,
    zxid: i64,
    last: Option<i64>,
    sessions: &[(i64, i32)],
    acl_entries: usize,
    sum: &Summary,
    trailer: Option<SnapshotTrailer>,
    out: &mut dyn Write,
) -> Result<(), InspectError> {
    writeln!(out, "File: {}", path.display())?;
    if zxid >= 0 {
        writeln!(out, "Format: snapshot (zxid {})", hex(zxid))?;
    } else {
        writeln!(out, "Format: snapshot")?;
    }
    let kinds: Vec<String> = sum
        .by_owner
        .iter()
        .map(|(k, v)| format!("{v} {k}"))
        .collect();
    writeln!(
        out,
        "Nodes: {} ({}), {} data bytes",
        sum.nodes,
        kinds.join(", "),
        sum.data_bytes
    )?;
    if let Some((p, l)) = &sum.largest {
        writeln!(out, "Largest node: {p} ({l} bytes)")?;
    }
    writeln!(out, "Sessions: {}", sessions.len())?;
    for (id, timeout) in sessions.iter().take(SESSIONS_LISTED) {
        let eph = sum.ephemerals.get(id).copied().unwrap_or(0);
        writeln!(out, "  {} timeout {timeout} ms, {eph} ephemerals", hex(*id))?;
    }
    if sessions.len() > SESSIONS_LISTED {
        writeln!(out, "  ... and {} more", sessions.len() - SESSIONS_LISTED)?;
    }
    writeln!(out, "ACL cache: {acl_entries} entries")?;
    if let Some(z) = last {
        writeln!(out, "Last zxid: {}", hex(z))?;
    }
    match trailer {
        Some(t) => digest_lines(sum, t, out)?,
        None => writeln!(out, "Trailer: not reached (damage)")?,
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn summary_json(
    path: &Path,
    zxid: i64,
    last: Option<i64>,
    sessions: &[(i64, i32)],
    acl_entries: usize,
    sum: &Summary,
    trailer: Option<SnapshotTrailer>,
    report: &FileReport,
    file_len: u64,
) -> Value {
    let digest = trailer.and_then(|t| t.digest).map(|d| {
        json!({"zxid": d.zxid.0, "version": d.version, "digest": hex(d.digest),
            "computed": hex(sum.digest.as_i64()),
            "matches": trailer.and_then(|t| digest_matches(sum, t))})
    });
    json!({
        "kind": "summary",
        "file": path.display().to_string(),
        "format": "snapshot",
        "zxid": (zxid >= 0).then_some(zxid),
        "last_zxid": last,
        "nodes": sum.nodes,
        "owners": sum.by_owner,
        "data_bytes": sum.data_bytes,
        "largest": sum.largest.as_ref().map(|(p, l)| json!({"path": p, "data_len": l})),
        "sessions": sessions.iter().map(|(id, t)| json!({"id": hex(*id), "timeout": t,
            "ephemerals": sum.ephemerals.get(id).copied().unwrap_or(0)})).collect::<Vec<_>>(),
        "acl_entries": acl_entries,
        "digest": digest,
        "last_processed_zxid": trailer.and_then(|t| t.last_processed_zxid),
        "file_len": file_len,
        "ok": report.is_ok(),
        "problems": report.problems,
    })
}
