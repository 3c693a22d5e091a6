//! Rendering helpers shared by the log and snapshot printers: times, zxids, data, ACLs and
//! their JSON forms.

use base64::Engine;
use menagerie_proto::records::{Acl, StatPersisted};
use serde_json::{Value, json};

/// Bytes of data shown in text mode unless `--data` asks for all of it.
pub const DATA_PREVIEW: usize = 64;

/// `2026-11-21 20:11:51.084 UTC` for milliseconds since the Unix epoch (proleptic Gregorian,
/// UTC; no time-zone database needed).
pub fn utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{millis:03} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Year, month, day of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `0x1a` (ZooKeeper's `Long.toHexString` with a prefix; negative values as two's complement).
pub fn hex(v: i64) -> String {
    format!("{:#x}", v as u64)
}

/// `0x0000000000001a`, the 14-digit form ZooKeeper's `SnapshotFormatter` prints.
pub fn hex14(v: i64) -> String {
    format!("0x{:014x}", v as u64)
}

/// Permissions as `cdrwa` letters (ZooKeeper's zkCli spelling).
pub fn perms(p: i32) -> String {
    use menagerie_proto::records::perms::*;
    let mut s = String::new();
    for (bit, c) in [
        (CREATE, 'c'),
        (DELETE, 'd'),
        (READ, 'r'),
        (WRITE, 'w'),
        (ADMIN, 'a'),
    ] {
        if p & bit != 0 {
            s.push(c);
        }
    }
    let unknown = p & !ALL;
    if unknown != 0 {
        s.push_str(&format!("+{unknown:#x}"));
    }
    s
}

/// `[world:anyone:cdrwa, digest:u:x:r]`.
pub fn acl_text(acl: &[Acl]) -> String {
    let items: Vec<String> = acl
        .iter()
        .map(|a| format!("{}:{}:{}", a.id.scheme, a.id.id, perms(a.perms)))
        .collect();
    format!("[{}]", items.join(", "))
}

/// ACL entries as JSON objects.
pub fn acl_json(acl: &[Acl]) -> Value {
    Value::Array(
        acl.iter()
            .map(|a| json!({"perms": a.perms, "scheme": a.id.scheme, "id": a.id.id}))
            .collect(),
    )
}

/// Data for a text line: `null`, a quoted string if it is printable UTF-8, else `0x…` hex;
/// cut after [`DATA_PREVIEW`] bytes unless `full`.
pub fn data_text(data: Option<&[u8]>, full: bool) -> String {
    let Some(d) = data else {
        return "null".into();
    };
    let shown = if full || d.len() <= DATA_PREVIEW {
        d
    } else {
        &d[..DATA_PREVIEW]
    };
    let mut s = match std::str::from_utf8(shown) {
        Ok(t) if !t.chars().any(|c| c.is_control() && c != '\n' && c != '\t') => {
            format!("\"{}\"", t.escape_debug())
        }
        // A multi-byte character cut by the preview is still text.
        Err(e) if shown.len() < d.len() && e.error_len().is_none() => {
            let t = String::from_utf8_lossy(&shown[..e.valid_up_to()]).into_owned();
            format!("\"{}\"", t.escape_debug())
        }
        _ => {
            let mut h = String::with_capacity(2 + 2 * shown.len());
            h.push_str("0x");
            for b in shown {
                h.push_str(&format!("{b:02x}"));
            }
            h
        }
    };
    if shown.len() < d.len() {
        s.push_str(&format!("…({} bytes)", d.len()));
    }
    s
}

/// Base64 of data (what ZooKeeper's `SnapshotFormatter -d` prints); `None` for null.
pub fn base64(data: Option<&[u8]>) -> Option<String> {
    data.map(|d| base64::engine::general_purpose::STANDARD.encode(d))
}

/// Data as JSON fields: `data` (base64 or null), `data_len` (−1 for null) and `data_utf8`
/// when the bytes are valid UTF-8.
pub fn data_json(obj: &mut serde_json::Map<String, Value>, data: Option<&[u8]>) {
    obj.insert("data".into(), json!(base64(data)));
    obj.insert(
        "data_len".into(),
        json!(data.map_or(-1, |d| d.len() as i64)),
    );
    if let Some(t) = data.and_then(|d| std::str::from_utf8(d).ok()) {
        obj.insert("data_utf8".into(), json!(t));
    }
}

/// What an `ephemeralOwner` means (ZooKeeper: `EphemeralType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// Persistent.
    None,
    /// Ephemeral, owned by this session.
    Session(i64),
    /// A container node.
    Container,
    /// A TTL node with this TTL (ms).
    Ttl(i64),
}

impl Owner {
    /// Decodes a stored owner (TTL encodings are recognised whatever the server's
    /// `extendedTypesEnabled` was).
    pub fn of(owner: i64) -> Owner {
        const MAX_TTL: i64 = 0xFF_FFFF_FFFF;
        if owner == 0 {
            Owner::None
        } else if owner == i64::MIN {
            Owner::Container
        } else if (owner as u64) >> 56 == 0xFF && (owner >> 40) & 0xFFFF == 0 {
            Owner::Ttl(owner & MAX_TTL)
        } else {
            Owner::Session(owner)
        }
    }

    /// `ephemeral`, `container`, `ttl` or `persistent`.
    pub fn kind(self) -> &'static str {
        match self {
            Owner::None => "persistent",
            Owner::Session(_) => "ephemeral",
            Owner::Container => "container",
            Owner::Ttl(_) => "ttl",
        }
    }
}

/// StatPersisted as JSON (zxids as numbers; cversion as stored).
pub fn stat_json(s: &StatPersisted) -> Value {
    json!({
        "czxid": s.czxid,
        "mzxid": s.mzxid,
        "pzxid": s.pzxid,
        "ctime": s.ctime,
        "mtime": s.mtime,
        "version": s.version,
        "cversion": s.cversion,
        "aversion": s.aversion,
        "ephemeral_owner": hex(s.ephemeral_owner),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use menagerie_proto::records::Id;

    #[test]
    fn utc_formats_known_instants() {
        assert_eq!(utc(0), "1970-01-01 00:00:00.000 UTC");
        // Spec 10.2's create at 1795274139084 ms.
        assert_eq!(utc(1_795_274_139_084), "2026-11-21 15:15:39.084 UTC");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00.000 UTC");
        assert_eq!(utc(-1), "1969-12-31 23:59:59.999 UTC");
    }

    #[test]
    fn hex_forms() {
        assert_eq!(hex(0x1a), "0x1a");
        assert_eq!(hex(-1), "0xffffffffffffffff");
        assert_eq!(hex14(0x12), "0x00000000000012");
    }

    #[test]
    fn data_and_acl_rendering() {
        assert_eq!(data_text(None, false), "null");
        assert_eq!(data_text(Some(b"hello"), false), "\"hello\"");
        assert_eq!(data_text(Some(b"a\"b"), false), "\"a\\\"b\"");
        assert_eq!(data_text(Some(&[0, 1, 0xff]), false), "0x0001ff");
        let long = vec![b'x'; 100];
        assert_eq!(
            data_text(Some(&long), false),
            format!("\"{}\"…(100 bytes)", "x".repeat(64))
        );
        assert_eq!(data_text(Some(&long), true).len(), 102);
        let acl = vec![
            Acl {
                perms: 31,
                id: Id {
                    scheme: "world".into(),
                    id: "anyone".into(),
                },
            },
            Acl {
                perms: 1,
                id: Id {
                    scheme: "digest".into(),
                    id: "u:x".into(),
                },
            },
        ];
        assert_eq!(acl_text(&acl), "[world:anyone:cdrwa, digest:u:x:r]");
        assert_eq!(perms(64 | 1), "r+0x40");
    }

    #[test]
    fn owners() {
        assert_eq!(Owner::of(0), Owner::None);
        assert_eq!(Owner::of(i64::MIN), Owner::Container);
        assert_eq!(
            Owner::of(0xFF00_0000_0000_1000u64 as i64),
            Owner::Ttl(0x1000)
        );
        assert_eq!(
            Owner::of(0x0100_0007_6374_0000),
            Owner::Session(0x0100_0007_6374_0000)
        );
    }
}
