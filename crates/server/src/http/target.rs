//! Request targets and query strings, decoded as ZooKeeper's servlets see them: `%XX`
//! escapes (and `+` as a space in query strings), the first value of each parameter.

use std::collections::BTreeMap;

/// Decoded query parameters (first value of each); `None` for a bad escape.
pub fn parse_query(raw: &str) -> Option<BTreeMap<String, String>> {
    let mut args = BTreeMap::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (percent_decode(k, true)?, percent_decode(v, true)?);
        args.entry(k).or_insert(v);
    }
    Some(args)
}

/// `%XX` decoding (and `+` as space in query strings); `None` for bad escapes or non-UTF-8.
pub fn percent_decode(s: &str, plus_is_space: bool) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_targets() {
        assert_eq!(percent_decode("/a%20b", false).as_deref(), Some("/a b"));
        assert_eq!(percent_decode("a+b", true).as_deref(), Some("a b"));
        assert_eq!(percent_decode("a+b", false).as_deref(), Some("a+b"));
        for bad in ["%zz", "%f", "%ff"] {
            assert_eq!(percent_decode(bad, false), None, "{bad}");
        }
        let q = parse_query("traceMask=12&a=%41+b&a=2&flag").expect("valid");
        assert_eq!(q["traceMask"], "12");
        assert_eq!(q["a"], "A b");
        assert_eq!(q["flag"], "");
    }
}
