//! The local time zone, as Java's `Date.toString` uses it: `$TZ` (a zone name such as
//! `Europe/Berlin`), else `/etc/timezone`, else `/etc/localtime`; read from the system's
//! TZif files. Without one (or on any error) times are UTC.

use std::path::PathBuf;

/// A time zone: UTC offsets and abbreviations from a TZif file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Zone {
    /// Transition times (s since the epoch) and the index of the local time type from then.
    transitions: Vec<(i64, usize)>,
    /// Local time types: UTC offset in seconds and abbreviation.
    types: Vec<(i64, String)>,
}

impl Zone {
    /// UTC.
    pub fn utc() -> Zone {
        Zone::default()
    }

    /// The zone of this process (see the module doc); UTC if none can be read.
    pub fn local() -> Zone {
        let name = std::env::var("TZ")
            .ok()
            .map(|t| t.trim_start_matches(':').to_string())
            .filter(|t| !t.is_empty())
            .or_else(|| {
                std::fs::read_to_string("/etc/timezone")
                    .ok()
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
            });
        let path = match name {
            Some(n) if n.starts_with('/') => PathBuf::from(n),
            Some(n) if !n.contains("..") => PathBuf::from("/usr/share/zoneinfo").join(n),
            _ => PathBuf::from("/etc/localtime"),
        };
        std::fs::read(path)
            .ok()
            .and_then(|b| Zone::parse(&b))
            .unwrap_or_default()
    }

    /// Parses a TZif file (the version 2+ 64-bit block if present, else version 1).
    pub fn parse(b: &[u8]) -> Option<Zone> {
        let (hdr, v1) = header(b, 0, 4)?;
        let data = if b.get(4).copied().unwrap_or(0) >= b'2' {
            let (hdr2, _) = header(b, 44 + v1, 8)?;
            return block(b, 44 + v1 + 44, &hdr2, 8);
        } else {
            &hdr
        };
        block(b, 44, data, 4)
    }

    /// UTC offset (s) and abbreviation in force at `secs` since the epoch.
    pub fn at(&self, secs: i64) -> (i64, &str) {
        let idx = match self.transitions.iter().rposition(|(t, _)| *t <= secs) {
            Some(i) => self.transitions[i].1,
            None => 0,
        };
        match self.types.get(idx) {
            Some((off, abbr)) => (*off, abbr.as_str()),
            None => (0, "UTC"),
        }
    }
}

/// Counts from a TZif header: isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt; and
/// the length of the data block that follows it (with `tsize`-byte times).
fn header(b: &[u8], at: usize, tsize: usize) -> Option<([usize; 6], usize)> {
    if b.get(at..at + 4)? != b"TZif" {
        return None;
    }
    let mut c = [0usize; 6];
    for (i, v) in c.iter_mut().enumerate() {
        let o = at + 20 + 4 * i;
        *v = u32::from_be_bytes(b.get(o..o + 4)?.try_into().ok()?) as usize;
    }
    let [isut, isstd, leap, time, typ, chars] = c;
    let len = time * tsize + time + typ * 6 + chars + leap * (tsize + 4) + isstd + isut;
    Some((c, len))
}

fn block(b: &[u8], at: usize, c: &[usize; 6], tsize: usize) -> Option<Zone> {
    let [_, _, _, time, typ, chars] = *c;
    let times = at;
    let idxs = times + time * tsize;
    let types = idxs + time;
    let abbrs = types + typ * 6;
    let abbr_bytes = b.get(abbrs..abbrs + chars)?;
    let mut z = Zone::default();
    for i in 0..time {
        let o = times + i * tsize;
        let t = if tsize == 8 {
            i64::from_be_bytes(b.get(o..o + 8)?.try_into().ok()?)
        } else {
            i64::from(i32::from_be_bytes(b.get(o..o + 4)?.try_into().ok()?))
        };
        z.transitions.push((t, *b.get(idxs + i)? as usize));
    }
    for i in 0..typ {
        let o = types + i * 6;
        let off = i64::from(i32::from_be_bytes(b.get(o..o + 4)?.try_into().ok()?));
        let ai = *b.get(o + 5)? as usize;
        let rest = abbr_bytes.get(ai..)?;
        let end = rest.iter().position(|&x| x == 0).unwrap_or(rest.len());
        z.types
            .push((off, String::from_utf8_lossy(&rest[..end]).into_owned()));
    }
    Some(z)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_from_the_system() {
        assert_eq!(Zone::utc().at(0), (0, "UTC"));
        assert_eq!(Zone::parse(b"not a zone"), None);
        // only where the system has zone files
        if let Ok(b) = std::fs::read("/usr/share/zoneinfo/Europe/Berlin") {
            let z = Zone::parse(&b).expect("a TZif file");
            assert_eq!(z.at(1_795_291_899), (3600, "CET")); // November 2026
            assert_eq!(z.at(1_783_000_000), (7200, "CEST")); // July 2026
        }
    }
}
