//! `setquota`, `listquota`, `delquota`: client-side compositions over the quota nodes under
//! `/zookeeper/quota`, as zkCli does them (same nodes, same record text, same messages).

use menagerie_proto::ErrorCode;
use menagerie_proto::records::{Acl, CreateRequest, DeleteRequest, SetDataRequest};
use menagerie_proto::request::Request;
use serde_json::json;

use super::args::Parsed;
use super::format::{keeper_error, parse_stats_track, stats_track_text, validate_path};
use super::nodes::read_node;
use super::session::Io;
use crate::client::{Client, ClientError};

const QUOTA_ROOT: &str = "/zookeeper/quota";
const LIMITS: &str = "zookeeper_limits";
const STATS: &str = "zookeeper_stats";

fn quota_path(path: &str) -> String {
    format!("{QUOTA_ROOT}{path}")
}

fn limit_path(path: &str) -> String {
    format!("{QUOTA_ROOT}{path}/{LIMITS}")
}

fn stat_path(path: &str) -> String {
    format!("{QUOTA_ROOT}{path}/{STATS}")
}

fn map_err(path: &str) -> impl Fn(ClientError) -> String + '_ {
    move |e| match e {
        ClientError::Server(c) => keeper_error(c, Some(path)),
        e => e.to_string(),
    }
}

async fn children(client: &Client, path: &str) -> Result<Option<Vec<String>>, String> {
    match client.get_children(path, false).await {
        Ok(c) => Ok(Some(c)),
        Err(ClientError::Server(ErrorCode::NoNode)) => Ok(None),
        Err(e) => Err(map_err(path)(e)),
    }
}

async fn exists(client: &Client, path: &str) -> Result<bool, String> {
    client
        .exists(path, false)
        .await
        .map(|s| s.is_some())
        .map_err(map_err(path))
}

async fn create_if_missing(
    client: &Client,
    path: &str,
    data: Option<Vec<u8>>,
) -> Result<(), String> {
    let r = Request::Create(CreateRequest {
        path: path.to_string(),
        data,
        acl: Acl::open_unsafe(),
        flags: 0,
    });
    match client.call(r).await {
        Ok(_) | Err(ClientError::Server(ErrorCode::NodeExists)) => Ok(()),
        Err(e) => Err(map_err(path)(e)),
    }
}

fn record(data: Option<&[u8]>) -> Vec<(String, i64)> {
    parse_stats_track(&String::from_utf8_lossy(data.unwrap_or_default()))
}

fn get(pairs: &[(String, i64)], k: &str) -> i64 {
    pairs
        .iter()
        .find(|(n, _)| n == k)
        .map(|(_, v)| *v)
        .unwrap_or(-1)
}

fn put(pairs: &mut Vec<(String, i64)>, k: &str, v: i64) {
    match pairs.iter_mut().find(|(n, _)| n == k) {
        Some(e) => e.1 = v,
        None => pairs.push((k.to_string(), v)),
    }
}

/// `setquota -n|-b|-N|-B val path`.
pub async fn setquota(
    client: &Client,
    p: &Parsed,
    usage: &str,
    io: &mut Io<'_>,
) -> Result<(), String> {
    let Some(path) = p.arg(1) else {
        return Err(usage.to_string());
    };
    if !(p.has('n') || p.has('b') || p.has('N') || p.has('B')) {
        return Err(
            "org.apache.commons.cli.MissingOptionException: Missing required option: \
             [-n num soft quota, -b bytes soft quota, -N num hard quota, -B bytes hard quota]"
                .to_string(),
        );
    }
    if path.starts_with(QUOTA_ROOT) {
        let _ = writeln!(io.err, "cannot set a quota under the path: {QUOTA_ROOT}");
        return Ok(());
    }
    let quota = match quota_from_flags(p) {
        Ok(q) => q,
        Err(message) => {
            let _ = writeln!(io.err, "{message}");
            return Ok(());
        }
    };
    validate_path(path)?;
    if read_node(client, path).await?.is_none() {
        return Err(format!("{path} does not exist."));
    }
    check_child_quota(client, path).await?;
    check_parent_quota(client, path).await?;
    ensure_quota_dirs(client, path).await?;
    let (limits, stats) = write_limits(client, path, quota).await?;
    warn_below_usage(&limits, &stats, io);
    Ok(())
}

/// The limits the flags set (-1 for the others), or zkCli's message for a bad value.
fn quota_from_flags(p: &Parsed) -> Result<Vec<(String, i64)>, &'static str> {
    let mut quota: Vec<(String, i64)> = ["count", "bytes", "countHardLimit", "byteHardLimit"]
        .iter()
        .map(|k| (k.to_string(), -1))
        .collect();
    for (flag, key, count) in [
        ('n', "count", true),
        ('b', "bytes", false),
        ('N', "countHardLimit", true),
        ('B', "byteHardLimit", false),
    ] {
        let Some(v) = p.value(flag) else { continue };
        let parsed = if count {
            v.parse::<i32>().ok().map(i64::from)
        } else {
            v.parse::<i64>().ok()
        };
        let n = parsed.ok_or("NumberFormatException happens when parsing the option value")?;
        if count && n <= 0 {
            return Err("the num quota must be greater than zero");
        }
        if !count && n < 0 {
            return Err("the bytes quota must be greater than or equal to zero");
        }
        put(&mut quota, key, n);
    }
    Ok(quota)
}

/// Creates `/zookeeper/quota` and the nodes mirroring `path` under it (only what is
/// missing: a failed create would still use a zxid).
async fn ensure_quota_dirs(client: &Client, path: &str) -> Result<(), String> {
    if !exists(client, QUOTA_ROOT).await? {
        create_if_missing(client, "/zookeeper", None).await?;
        create_if_missing(client, QUOTA_ROOT, None).await?;
    }
    let mut qp = QUOTA_ROOT.to_string();
    for part in path.split('/').filter(|s| !s.is_empty()) {
        qp.push('/');
        qp.push_str(part);
        if !exists(client, &qp).await? {
            create_if_missing(client, &qp, None).await?;
        }
    }
    Ok(())
}

type Record = Vec<(String, i64)>;

/// Writes the limits node of `path` (new, or merged into the existing one) and returns the
/// limits and the usage stats.
async fn write_limits(
    client: &Client,
    path: &str,
    quota: Record,
) -> Result<(Record, Record), String> {
    let (lp, sp) = (limit_path(path), stat_path(path));
    let stats = |client| async move {
        let s = read_node(client, &stat_path(path)).await?;
        Ok::<_, String>(s.map(|(d, _)| record(d.as_deref())).unwrap_or_default())
    };
    match read_node(client, &lp).await? {
        None => {
            let text = stats_track_text(&quota);
            create_if_missing(client, &lp, Some(text.into_bytes())).await?;
            let zero = stats_track_text(&[("count".into(), 0), ("bytes".into(), 0)]);
            create_if_missing(client, &sp, Some(zero.into_bytes())).await?;
            Ok((quota, stats(client).await?))
        }
        Some((data, _)) => {
            let mut existing = record(data.as_deref());
            for (k, v) in &quota {
                if *v > -1 {
                    put(&mut existing, k, *v);
                }
            }
            let stats = stats(client).await?;
            set_data(client, &lp, stats_track_text(&existing)).await?;
            Ok((existing, stats))
        }
    }
}

async fn set_data(client: &Client, path: &str, text: String) -> Result<(), String> {
    client
        .call(Request::SetData(SetDataRequest {
            path: path.to_string(),
            data: Some(text.into_bytes()),
            version: -1,
        }))
        .await
        .map_err(map_err(path))?;
    Ok(())
}

/// zkCli's warnings when a new limit is already exceeded.
fn warn_below_usage(limits: &Record, stats: &Record, io: &mut Io<'_>) {
    let (count, bytes) = (get(stats, "count"), get(stats, "bytes"));
    let below =
        |soft: i64, hard: i64, used: i64| (soft > -1 && soft < used) || (hard > -1 && hard < used);
    if below(get(limits, "count"), get(limits, "countHardLimit"), count) {
        let _ = writeln!(
            io.out,
            "[Warning]: the count quota you create is less than the existing count:{count}"
        );
    }
    if below(get(limits, "bytes"), get(limits, "byteHardLimit"), bytes) {
        let _ = writeln!(
            io.out,
            "[Warning]: the bytes quota you create is less than the existing bytes:{bytes}"
        );
    }
}

async fn check_child_quota(client: &Client, path: &str) -> Result<(), String> {
    let root = quota_path(path);
    let mut stack = vec![root.clone()];
    let mut steps = 0usize;
    while let Some(node) = stack.pop() {
        steps += 1;
        if steps > 1_000_000 {
            break;
        }
        let Some(kids) = children(client, &node).await? else {
            continue;
        };
        if node != root && kids.iter().any(|k| k == LIMITS) {
            return Err(format!(
                "{path} has a child {} which has a quota",
                &node[QUOTA_ROOT.len()..]
            ));
        }
        stack.extend(kids.iter().map(|k| format!("{node}/{k}")));
    }
    Ok(())
}

async fn check_parent_quota(client: &Client, path: &str) -> Result<(), String> {
    let parts: Vec<&str> = path.split('/').collect();
    let mut qp = QUOTA_ROOT.to_string();
    for part in parts.iter().take(parts.len().saturating_sub(1)).skip(1) {
        qp.push('/');
        qp.push_str(part);
        let Some(kids) = children(client, &qp).await? else {
            return Ok(());
        };
        if kids.is_empty() {
            return Ok(());
        }
        if qp != quota_path(path) && kids.iter().any(|k| k == LIMITS) {
            return Err(format!(
                "{path} has a parent {} which has a quota",
                &qp[QUOTA_ROOT.len()..]
            ));
        }
    }
    Ok(())
}

/// `listquota path`.
pub async fn listquota(
    client: &Client,
    p: &Parsed,
    usage: &str,
    json: bool,
    io: &mut Io<'_>,
) -> Result<(), String> {
    let Some(path) = p.arg(1) else {
        return Err(usage.to_string());
    };
    let lp = limit_path(path);
    if !json {
        let _ = writeln!(io.err, "absolute path is {lp}");
    }
    let limits = read_node(client, &lp).await?;
    let stats = read_node(client, &stat_path(path)).await?;
    match (limits, stats) {
        (Some((l, _)), Some((s, _))) => {
            let (l, s) = (record(l.as_deref()), record(s.as_deref()));
            if json {
                let obj = |r: &[(String, i64)]| {
                    serde_json::Value::Object(
                        r.iter().map(|(k, v)| (k.clone(), json!(v))).collect(),
                    )
                };
                let _ = writeln!(
                    io.out,
                    "{}",
                    json!({"path": path, "quota": obj(&l), "stat": obj(&s)})
                );
            } else {
                let _ = writeln!(io.out, "Output quota for {path} {}", stats_track_text(&l));
                let _ = writeln!(io.out, "Output stat for {path} {}", stats_track_text(&s));
            }
        }
        _ => {
            let _ = writeln!(io.err, "quota for {path} does not exist.");
        }
    }
    Ok(())
}

/// `delquota [-n|-b|-N|-B] path`.
pub async fn delquota(
    client: &Client,
    p: &Parsed,
    usage: &str,
    io: &mut Io<'_>,
) -> Result<(), String> {
    let Some(path) = p.arg(1) else {
        return Err(usage.to_string());
    };
    let (parent, lp) = (quota_path(path), limit_path(path));
    let Some((data, _)) = read_node(client, &lp).await? else {
        let _ = writeln!(io.out, "Quota does not exist for {path}");
        return Ok(());
    };
    let flags = [
        ('n', "count"),
        ('b', "bytes"),
        ('N', "countHardLimit"),
        ('B', "byteHardLimit"),
    ];
    if flags.iter().any(|(f, _)| p.has(*f)) {
        let mut rec = record(data.as_deref());
        for (f, k) in flags {
            if p.has(f) {
                put(&mut rec, k, -1);
            }
        }
        return set_data(client, &lp, stats_track_text(&rec)).await;
    }
    let Some(kids) = children(client, &parent).await? else {
        let _ = writeln!(io.err, "quota for {path} does not exist.");
        return Ok(());
    };
    for k in kids {
        delete(client, &format!("{parent}/{k}")).await?;
    }
    remove_empty_quota_dirs(client, parent).await
}

async fn delete(client: &Client, path: &str) -> Result<(), String> {
    client
        .call(Request::Delete(DeleteRequest {
            path: path.to_string(),
            version: -1,
        }))
        .await
        .map_err(map_err(path))?;
    Ok(())
}

/// Removes now-empty quota directories from `dir` up to `/zookeeper/quota`.
async fn remove_empty_quota_dirs(client: &Client, dir: String) -> Result<(), String> {
    let mut cur = dir;
    let mut steps = 0;
    while cur != QUOTA_ROOT && cur.starts_with(QUOTA_ROOT) && steps < 10_000 {
        steps += 1;
        match children(client, &cur).await? {
            Some(k) if k.is_empty() => delete(client, &cur).await?,
            _ => break,
        }
        match cur.rfind('/') {
            Some(i) => cur.truncate(i),
            None => break,
        }
    }
    Ok(())
}
