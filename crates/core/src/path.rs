//! Znode path rules (ZooKeeper: `PathUtils.validatePath`).

/// Why a path is not valid (the message ZooKeeper logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// Empty, or not starting with `/`.
    NotAbsolute,
    /// Ends with `/` (other than the root).
    TrailingSlash,
    /// Contains U+0000.
    NullCharacter,
    /// Contains `//`.
    EmptyComponent,
    /// A component is `.` or `..`.
    Relative,
    /// A control, surrogate, private-use or non-character code point.
    InvalidCharacter,
}

/// Validates a full znode path exactly as ZooKeeper does (checked on UTF-16 code units:
/// every character outside the BMP is a surrogate pair and so rejected).
pub fn validate_path(path: &str) -> Result<(), PathError> {
    let bytes = path.as_bytes();
    if bytes.first() != Some(&b'/') {
        return Err(PathError::NotAbsolute);
    }
    if path.len() == 1 {
        return Ok(());
    }
    if bytes[bytes.len() - 1] == b'/' {
        return Err(PathError::TrailingSlash);
    }
    for component in path[1..].split('/') {
        if component.is_empty() {
            return Err(PathError::EmptyComponent);
        }
        if component == "." || component == ".." {
            return Err(PathError::Relative);
        }
        for c in component.chars() {
            let u = c as u32;
            if u == 0 {
                return Err(PathError::NullCharacter);
            }
            if (0x01..=0x1f).contains(&u)
                || (0x7f..=0x9f).contains(&u)
                || (0xd800..=0xf8ff).contains(&u)
                || (0xfff0..=0xffff).contains(&u)
                || u > 0xffff
            {
                return Err(PathError::InvalidCharacter);
            }
        }
    }
    Ok(())
}

/// The weak check ZooKeeper applies before the sequential suffix is appended and on delete:
/// the path contains a `/` somewhere and no NUL.
pub fn has_slash_and_no_nul(path: &str) -> bool {
    path.contains('/') && !path.contains('\0')
}

/// The parent of `path`: everything before the last `/` (`/` for top-level nodes).
/// Like ZooKeeper, `/a/` has the parent `/a`.
pub fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// The last component of `path`.
pub fn name(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// Paths that can never be deleted (ZooKeeper: PrepRequestProcessor's special-path check).
pub fn is_undeletable(path: &str) -> bool {
    matches!(
        path,
        "/" | "/zookeeper" | "/zookeeper/quota" | "/zookeeper/config"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_matches_zookeeper() {
        for ok in [
            "/",
            "/a",
            "/a/b",
            "/...",
            "/.a",
            "/a.",
            "/zookeeper",
            "/ü",
            "/a b",
        ] {
            assert_eq!(validate_path(ok), Ok(()), "{ok}");
        }
        let bad = [
            ("", PathError::NotAbsolute),
            ("a", PathError::NotAbsolute),
            ("/a/", PathError::TrailingSlash),
            ("//a", PathError::EmptyComponent),
            ("/a//b", PathError::EmptyComponent),
            ("/a/.", PathError::Relative),
            ("/a/../b", PathError::Relative),
            ("/a\0b", PathError::NullCharacter),
            ("/a\u{1}", PathError::InvalidCharacter),
            ("/a\u{85}", PathError::InvalidCharacter),
            ("/a\u{e000}", PathError::InvalidCharacter),
            ("/a\u{fff5}", PathError::InvalidCharacter),
            ("/😀", PathError::InvalidCharacter),
        ];
        for (p, e) in bad {
            assert_eq!(validate_path(p), Err(e), "{p:?}");
        }
    }

    #[test]
    fn parents_and_names() {
        assert_eq!(parent("/a"), "/");
        assert_eq!(parent("/a/b"), "/a");
        assert_eq!(parent("/a/"), "/a");
        assert_eq!(name("/a/b"), "b");
        assert_eq!(name("/"), "");
    }
}
