//! Text that zkCli.sh prints, reproduced byte for byte: Stat blocks, dates, ACL lines, child
//! lists, error messages, watch events; and the JSON forms of the same records (`--json`).

use menagerie_proto::ErrorCode;
use menagerie_proto::records::{Acl, Id, Stat, WatcherEvent, perms};
use serde_json::{Value, json};
use std::sync::OnceLock;

use super::tz::Zone;

/// The local zone, read once.
fn local_zone() -> &'static Zone {
    static ZONE: OnceLock<Zone> = OnceLock::new();
    ZONE.get_or_init(Zone::local)
}

/// The Stat block `StatPrinter` prints (eleven `name = value` lines, each ending in `\n`),
/// times in the local zone.
pub fn stat_text(s: &Stat) -> String {
    stat_text_in(s, local_zone())
}

/// [`stat_text`] with times in `zone`.
pub fn stat_text_in(s: &Stat, zone: &Zone) -> String {
    format!(
        "cZxid = 0x{:x}\nctime = {}\nmZxid = 0x{:x}\nmtime = {}\npZxid = 0x{:x}\ncversion = {}\n\
         dataVersion = {}\naclVersion = {}\nephemeralOwner = 0x{:x}\ndataLength = {}\nnumChildren = {}\n",
        s.czxid,
        java_date(s.ctime, zone),
        s.mzxid,
        java_date(s.mtime, zone),
        s.pzxid,
        s.cversion,
        s.version,
        s.aversion,
        s.ephemeral_owner,
        s.data_length,
        s.num_children
    )
}

/// A Stat as a JSON object (field names as in ZooKeeper's `Stat`).
pub fn stat_json(s: &Stat) -> Value {
    json!({
        "czxid": s.czxid, "mzxid": s.mzxid, "ctime": s.ctime, "mtime": s.mtime,
        "version": s.version, "cversion": s.cversion, "aversion": s.aversion,
        "ephemeralOwner": s.ephemeral_owner, "dataLength": s.data_length,
        "numChildren": s.num_children, "pzxid": s.pzxid,
    })
}

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Java's `new Date(ms).toString()` in `zone`: `Sat Nov 21 20:11:39 UTC 2026`.
pub fn java_date(ms: i64, zone: &Zone) -> String {
    let (offset, abbr) = zone.at(ms.div_euclid(1000));
    let secs = ms.div_euclid(1000) + offset;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let wd = DAYS[days.rem_euclid(7) as usize];
    let mon = MONTHS[(m - 1) as usize];
    format!(
        "{wd} {mon} {d:02} {:02}:{:02}:{:02} {abbr} {y}",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// Days since 1970-01-01 to (year, month 1..=12, day 1..=31), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `ZKUtil.getPermString`: the letters of `cdrwa` that are set, in that order.
pub fn perm_string(p: i32) -> String {
    [
        (perms::CREATE, 'c'),
        (perms::DELETE, 'd'),
        (perms::READ, 'r'),
        (perms::WRITE, 'w'),
        (perms::ADMIN, 'a'),
    ]
    .iter()
    .filter(|(bit, _)| p & bit != 0)
    .map(|(_, c)| *c)
    .collect()
}

/// Jute's CSV form of a string (`'` then the text with `%`-escapes), as `Id.toString` uses.
fn jute_csv(s: &str) -> String {
    let mut out = String::from("'");
    for c in s.chars() {
        match c {
            '\0' => out.push_str("%00"),
            '\n' => out.push_str("%0A"),
            '\r' => out.push_str("%0D"),
            ',' => out.push_str("%2C"),
            '}' => out.push_str("%7D"),
            '%' => out.push_str("%25"),
            c => out.push(c),
        }
    }
    out
}

/// The two lines `getAcl` prints per entry: `'scheme,'id` and `: perms`.
pub fn acl_text(acl: &[Acl]) -> String {
    acl.iter()
        .map(|a| {
            format!(
                "{},{}\n: {}\n",
                jute_csv(&a.id.scheme),
                jute_csv(&a.id.id),
                perm_string(a.perms)
            )
        })
        .collect()
}

/// An ACL list as JSON: `[{"scheme":..,"id":..,"perms":"cdrwa"}]`.
pub fn acl_json(acl: &[Acl]) -> Value {
    Value::Array(
        acl.iter()
            .map(|a| json!({"scheme": a.id.scheme, "id": a.id.id, "perms": perm_string(a.perms)}))
            .collect(),
    )
}

/// Parses an ACL list from JSON as written by [`acl_json`].
pub fn acl_from_json(v: &Value) -> Option<Vec<Acl>> {
    v.as_array()?
        .iter()
        .map(|e| {
            Some(Acl {
                perms: perms_from_str(e.get("perms")?.as_str()?).0,
                id: Id {
                    scheme: e.get("scheme")?.as_str()?.to_string(),
                    id: e.get("id")?.as_str()?.to_string(),
                },
            })
        })
        .collect()
}

/// Permission bits from `cdrwa` letters, plus the letters that were not understood.
pub fn perms_from_str(s: &str) -> (i32, Vec<char>) {
    let mut p = 0;
    let mut bad = Vec::new();
    for c in s.chars() {
        match c {
            'r' => p |= perms::READ,
            'w' => p |= perms::WRITE,
            'c' => p |= perms::CREATE,
            'd' => p |= perms::DELETE,
            'a' => p |= perms::ADMIN,
            c => bad.push(c),
        }
    }
    (p, bad)
}

/// `AclParser.parse`: `scheme:id:perms[,...]`. Malformed entries are skipped with a warning
/// line (returned second), as zkCli does.
pub fn parse_acl(s: &str) -> (Vec<Acl>, Vec<String>) {
    let mut acl = Vec::new();
    let mut warnings = Vec::new();
    for a in s.split(',') {
        let (Some(first), Some(last)) = (a.find(':'), a.rfind(':')) else {
            warnings.push(format!("{a} does not have the form scheme:id:perm"));
            continue;
        };
        if first == last {
            warnings.push(format!("{a} does not have the form scheme:id:perm"));
            continue;
        }
        let (p, bad) = perms_from_str(&a[last + 1..]);
        warnings.extend(bad.iter().map(|c| format!("Unknown perm type: {c}")));
        acl.push(Acl {
            perms: p,
            id: Id {
                scheme: a[..first].to_string(),
                id: a[first + 1..last].to_string(),
            },
        });
    }
    (acl, warnings)
}

/// Java's `List.toString` for strings: `[a, b]`.
pub fn java_list(items: &[String]) -> String {
    format!("[{}]", items.join(", "))
}

/// `KeeperException.getCodeMessage`.
pub fn code_message(code: ErrorCode) -> String {
    use ErrorCode::*;
    match code {
        Ok => "ok",
        SystemError => "SystemError",
        RuntimeInconsistency => "RuntimeInconsistency",
        DataInconsistency => "DataInconsistency",
        ConnectionLoss => "ConnectionLoss",
        MarshallingError => "MarshallingError",
        NewConfigNoQuorum => "NewConfigNoQuorum",
        ReconfigInProgress => "ReconfigInProgress",
        Unimplemented => "Unimplemented",
        OperationTimeout => "OperationTimeout",
        BadArguments => "BadArguments",
        ApiError => "APIError",
        NoNode => "NoNode",
        NoAuth => "NoAuth",
        BadVersion => "BadVersion",
        NoChildrenForEphemerals => "NoChildrenForEphemerals",
        NodeExists => "NodeExists",
        InvalidAcl => "InvalidACL",
        AuthFailed => "AuthFailed",
        NotEmpty => "Directory not empty",
        SessionExpired => "Session expired",
        InvalidCallback => "Invalid callback",
        SessionMoved => "Session moved",
        NotReadOnly => "Not a read-only call",
        EphemeralOnLocalSession => "Ephemeral node on local session",
        NoWatcher => "No such watcher",
        ReconfigDisabled => "Reconfig is disabled",
        SessionClosedRequireSaslAuth => "Session closed because client failed to authenticate",
        QuotaExceeded => "Quota has exceeded",
        Throttled => "Op throttled due to high load",
        UnknownSession => return format!("Unknown error {}", code.code()),
        RequestTimeout => "Request timeout",
    }
    .to_string()
}

/// The message zkCli prints for a server error on `path` (`CliWrapperException`).
pub fn keeper_error(code: ErrorCode, path: Option<&str>) -> String {
    let p = path.unwrap_or("null");
    match code {
        ErrorCode::NoNode => format!("Node does not exist: {p}"),
        ErrorCode::NoChildrenForEphemerals => format!("Ephemerals cannot have children: {p}"),
        ErrorCode::NodeExists => format!("Node already exists: {p}"),
        ErrorCode::NotEmpty => format!("Node not empty: {p}"),
        ErrorCode::NotReadOnly => format!("Not a read-only call: {p}"),
        ErrorCode::InvalidAcl => format!("Acl is not valid : {p}"),
        ErrorCode::NoAuth => format!("Insufficient permission : {p}"),
        ErrorCode::BadArguments => format!("Arguments are not valid : {p}"),
        ErrorCode::BadVersion => format!("version No is not valid : {p}"),
        ErrorCode::ReconfigInProgress => {
            "Another reconfiguration is in progress -- concurrent reconfigs not supported (yet)"
                .to_string()
        }
        ErrorCode::QuotaExceeded => format!("Quota has exceeded : {p}"),
        _ => plain_keeper_error(code, path),
    }
}

/// `KeeperException.getMessage`: `KeeperErrorCode = <message>[ for <path>]`.
pub fn plain_keeper_error(code: ErrorCode, path: Option<&str>) -> String {
    match path {
        Some(p) => format!("KeeperErrorCode = {} for {p}", code_message(code)),
        None => format!("KeeperErrorCode = {}", code_message(code)),
    }
}

/// `PathUtils.validatePath`: `Err(message)` as zkCli prints it for a malformed path.
pub fn validate_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("Path length must be > 0".into());
    }
    if !path.starts_with('/') {
        return Err("Path must start with / character".into());
    }
    if path.len() == 1 {
        return Ok(());
    }
    if path.ends_with('/') {
        return Err("Path must not end with / character".into());
    }
    let chars: Vec<char> = path.chars().collect();
    let mut reason = None;
    for i in 1..chars.len() {
        let (c, last) = (chars[i], chars[i - 1]);
        let ends_component = i + 1 == chars.len() || chars[i + 1] == '/';
        if c == '\0' {
            reason = Some(format!("null character not allowed @{i}"));
        } else if c == '/' && last == '/' {
            reason = Some(format!("empty node name specified @{i}"));
        } else if c == '.' && last == '.' {
            if i >= 2 && chars[i - 2] == '/' && ends_component {
                reason = Some(format!("relative paths not allowed @{i}"));
            }
        } else if c == '.' {
            if last == '/' && ends_component {
                reason = Some(format!("relative paths not allowed @{i}"));
            }
        } else if ('\u{1}'..='\u{1f}').contains(&c)
            || ('\u{7f}'..='\u{9f}').contains(&c)
            || ('\u{e000}'..='\u{f8ff}').contains(&c)
            || ('\u{fff0}'..='\u{ffff}').contains(&c)
            || u32::from(c) > 0xffff
        {
            reason = Some(format!("invalid character @{i}"));
        }
        if reason.is_some() {
            break;
        }
    }
    match reason {
        Some(r) => Err(format!("Invalid path string \"{path}\" caused by {r}")),
        None => Ok(()),
    }
}

/// `Watcher.Event.KeeperState` name of a wire state.
pub fn state_name(state: i32) -> String {
    match state {
        -1 => "Unknown".into(),
        0 => "Disconnected".into(),
        1 => "NoSyncConnected".into(),
        3 => "SyncConnected".into(),
        4 => "AuthFailed".into(),
        5 => "ConnectedReadOnly".into(),
        6 => "SaslAuthenticated".into(),
        -112 => "Expired".into(),
        7 => "Closed".into(),
        n => format!("Unknown({n})"),
    }
}

/// `Watcher.Event.EventType` name of a wire event type.
pub fn event_type_name(t: i32) -> String {
    match t {
        -1 => "None".into(),
        1 => "NodeCreated".into(),
        2 => "NodeDeleted".into(),
        3 => "NodeDataChanged".into(),
        4 => "NodeChildrenChanged".into(),
        5 => "DataWatchRemoved".into(),
        6 => "ChildWatchRemoved".into(),
        7 => "PersistentWatchRemoved".into(),
        n => format!("Unknown({n})"),
    }
}

/// `WatchedEvent.toString`: `WatchedEvent state:SyncConnected type:NodeDataChanged path:/a`.
pub fn event_text(e: &WatcherEvent) -> String {
    format!(
        "WatchedEvent state:{} type:{} path:{}",
        state_name(e.state),
        event_type_name(e.event_type),
        if e.event_type == -1 && e.path.is_empty() {
            "null"
        } else {
            &e.path
        }
    )
}

/// A watch event as JSON.
pub fn event_json(e: &WatcherEvent) -> Value {
    json!({"state": state_name(e.state), "type": event_type_name(e.event_type), "path": e.path})
}

/// Node data as zkCli prints it: the bytes as (lossy) UTF-8, `null` for no data.
pub fn data_text(data: Option<&[u8]>) -> String {
    match data {
        Some(d) => String::from_utf8_lossy(d).into_owned(),
        None => "null".into(),
    }
}

/// Node data as JSON: a string if it is UTF-8, else `{"base64": ...}`; `null` for none.
pub fn data_json(data: Option<&[u8]>) -> Value {
    use base64::Engine;
    match data {
        None => Value::Null,
        Some(d) => match std::str::from_utf8(d) {
            Ok(s) => Value::String(s.to_string()),
            Err(_) => json!({"base64": base64::engine::general_purpose::STANDARD.encode(d)}),
        },
    }
}

/// The inverse of [`data_json`]; `Err` for a value it cannot have produced.
pub fn data_from_json(v: &Value) -> Result<Option<Vec<u8>>, String> {
    use base64::Engine;
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.as_bytes().to_vec())),
        Value::Object(o) => match o.get("base64").and_then(Value::as_str) {
            Some(b) => base64::engine::general_purpose::STANDARD
                .decode(b)
                .map(Some)
                .map_err(|e| format!("bad base64 data: {e}")),
            None => Err("data object without \"base64\"".into()),
        },
        _ => Err(format!("bad data value {v}")),
    }
}

/// zkCli's quota record text (`StatsTrack.toString`), from key/value pairs.
pub fn stats_track_text(pairs: &[(String, i64)]) -> String {
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| *v)
            .unwrap_or(-1)
    };
    let mut s = format!("count={},bytes={}", get("count"), get("bytes"));
    let mut rest: Vec<&(String, i64)> = pairs
        .iter()
        .filter(|(k, _)| k != "count" && k != "bytes")
        .collect();
    if !rest.is_empty() {
        rest.sort();
        s.push('=');
        for (k, v) in rest {
            s.push_str(&format!(";{k}={v}"));
        }
    }
    s
}

/// Parses a quota record (`StatsTrack(String)`): pairs split on `,`/`;`, `key=value`.
pub fn parse_stats_track(s: &str) -> Vec<(String, i64)> {
    let mut out: Vec<(String, i64)> = Vec::new();
    for kv in s.split([',', ';']).filter(|x| !x.is_empty()) {
        let mut it = kv.split('=');
        let k = it.next().unwrap_or("").to_string();
        let v = it
            .next()
            .filter(|v| !v.is_empty())
            .and_then(|v| v.parse().ok())
            .unwrap_or(-1);
        match out.iter_mut().find(|(n, _)| *n == k) {
            Some(e) => e.1 = v,
            None => out.push((k, v)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_match_java() {
        let utc = Zone::utc();
        assert_eq!(java_date(0, &utc), "Thu Jan 01 00:00:00 UTC 1970");
        // 2026-11-21T20:11:39Z
        assert_eq!(
            java_date(1_795_291_899_000, &utc),
            "Sat Nov 21 20:11:39 UTC 2026"
        );
        assert_eq!(
            java_date(951_782_400_000, &utc),
            "Tue Feb 29 00:00:00 UTC 2000"
        );
        if let Ok(b) = std::fs::read("/usr/share/zoneinfo/America/New_York") {
            let ny = Zone::parse(&b).expect("a TZif file");
            assert_eq!(
                java_date(1_795_291_899_000, &ny),
                "Sat Nov 21 15:11:39 EST 2026"
            );
        }
    }

    #[test]
    fn stat_block() {
        let s = Stat {
            czxid: 0x10,
            mzxid: 0x11,
            ctime: 0,
            mtime: 0,
            version: 2,
            cversion: 3,
            aversion: 4,
            ephemeral_owner: 0x1000abc,
            data_length: 5,
            num_children: 6,
            pzxid: 0x12,
        };
        let t = stat_text_in(&s, &Zone::utc());
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 11);
        assert_eq!(lines[0], "cZxid = 0x10");
        assert_eq!(lines[1], "ctime = Thu Jan 01 00:00:00 UTC 1970");
        assert_eq!(lines[4], "pZxid = 0x12");
        assert_eq!(lines[6], "dataVersion = 2");
        assert_eq!(lines[8], "ephemeralOwner = 0x1000abc");
        assert_eq!(lines[10], "numChildren = 6");
    }

    #[test]
    fn acls_round_trip() {
        let (acl, warn) = parse_acl("world:anyone:cdrwa,digest:u:h=:r,ip:10.0.0.0/8:rw");
        assert!(warn.is_empty());
        assert_eq!(acl.len(), 3);
        assert_eq!(acl[1].id.id, "u:h=");
        assert_eq!(
            acl_text(&acl),
            "'world,'anyone\n: cdrwa\n'digest,'u:h=\n: r\n'ip,'10.0.0.0/8\n: rw\n"
        );
        assert_eq!(acl_from_json(&acl_json(&acl)), Some(acl));
        let (acl, warn) = parse_acl("world:anyone,auth::cdrwx");
        assert_eq!(acl.len(), 1);
        assert_eq!(
            warn,
            vec![
                "world:anyone does not have the form scheme:id:perm".to_string(),
                "Unknown perm type: x".to_string()
            ]
        );
        assert_eq!(perm_string(perms::ALL), "cdrwa");
        assert_eq!(perm_string(perms::READ | perms::ADMIN), "ra");
    }

    #[test]
    fn errors_and_paths() {
        assert_eq!(
            keeper_error(ErrorCode::NoNode, Some("/x")),
            "Node does not exist: /x"
        );
        assert_eq!(
            keeper_error(ErrorCode::NoWatcher, Some("/x")),
            "KeeperErrorCode = No such watcher for /x"
        );
        assert_eq!(
            keeper_error(ErrorCode::InvalidAcl, None),
            "Acl is not valid : null"
        );
        assert_eq!(
            validate_path("/a/"),
            Err("Path must not end with / character".into())
        );
        assert_eq!(
            validate_path("a"),
            Err("Path must start with / character".into())
        );
        assert_eq!(
            validate_path("/a//b"),
            Err("Invalid path string \"/a//b\" caused by empty node name specified @3".into())
        );
        assert_eq!(
            validate_path("/a/.."),
            Err("Invalid path string \"/a/..\" caused by relative paths not allowed @4".into())
        );
        assert!(validate_path("/a/...").is_ok());
        assert!(validate_path("/").is_ok());
    }

    #[test]
    fn events_and_data() {
        let e = WatcherEvent {
            event_type: 3,
            state: 3,
            path: "/a".into(),
        };
        assert_eq!(
            event_text(&e),
            "WatchedEvent state:SyncConnected type:NodeDataChanged path:/a"
        );
        assert_eq!(data_text(None), "null");
        let bin = vec![0xff, 0, 1];
        assert_eq!(data_from_json(&data_json(Some(&bin))), Ok(Some(bin)));
        assert_eq!(data_from_json(&data_json(None)), Ok(None));
    }

    #[test]
    fn quota_records() {
        let q = vec![
            ("count".to_string(), 3),
            ("bytes".to_string(), -1),
            ("countHardLimit".to_string(), -1),
            ("byteHardLimit".to_string(), -1),
        ];
        let t = stats_track_text(&q);
        assert_eq!(t, "count=3,bytes=-1=;byteHardLimit=-1;countHardLimit=-1");
        assert_eq!(stats_track_text(&parse_stats_track(&t)), t);
        assert_eq!(
            stats_track_text(&parse_stats_track("count=1,bytes=1")),
            "count=1,bytes=1"
        );
    }
}
