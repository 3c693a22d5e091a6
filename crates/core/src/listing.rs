//! Compact copies of the indexes the large operator dumps list (`wchc`, `wchp`, `wchs`,
//! `dump`): taken quickly between inputs, read elsewhere while the node goes on.
//!
//! A copy stores every path once, back to back in one string, and the owners or watchers
//! as plain ids, so taking it costs a few copies of bytes rather than one allocation per
//! registration; sorting and formatting are left to whoever reads it.

use std::collections::BTreeSet;
use std::ops::Range;

use crate::ConnId;

/// Paths back to back in one string.
#[derive(Debug, Clone, Default)]
pub struct PackedPaths {
    text: String,
    ends: Vec<usize>,
}

impl PackedPaths {
    /// Room for `paths` paths of `bytes` bytes in all, so that filling it copies each
    /// byte once.
    pub fn with_capacity(paths: usize, bytes: usize) -> PackedPaths {
        PackedPaths {
            text: String::with_capacity(bytes),
            ends: Vec::with_capacity(paths),
        }
    }

    /// Appends a path.
    pub fn push(&mut self, path: &str) {
        self.text.push_str(path);
        self.ends.push(self.text.len());
    }

    /// Number of paths.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The `i`th path ("" past the end).
    pub fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.ends
            .get(i)
            .and_then(|&end| self.text.get(start..end))
            .unwrap_or_default()
    }

    /// The paths in `range`, in the order they were pushed.
    pub fn slice(&self, range: Range<usize>) -> impl Iterator<Item = &str> + '_ {
        range.map(move |i| self.get(i))
    }
}

/// The data-watch registrations: each watched path with the connections watching it.
#[derive(Debug, Clone, Default)]
pub struct WatchCopy {
    paths: PackedPaths,
    /// For path `i`, its watchers are `conns[watchers_end[i - 1]..watchers_end[i]]`.
    watchers_end: Vec<usize>,
    conns: Vec<ConnId>,
}

impl WatchCopy {
    /// Room for `paths` watched paths of `bytes` bytes in all and `registrations`
    /// watchers (a copy is taken while the node waits: no reallocation while filling it).
    pub fn with_capacity(paths: usize, bytes: usize, registrations: usize) -> WatchCopy {
        WatchCopy {
            paths: PackedPaths::with_capacity(paths, bytes),
            watchers_end: Vec::with_capacity(paths),
            conns: Vec::with_capacity(registrations),
        }
    }

    /// Adds a watched path with its watchers (a path without watchers is left out).
    pub fn push(&mut self, path: &str, watchers: impl Iterator<Item = ConnId>) {
        let before = self.conns.len();
        self.conns.extend(watchers);
        if self.conns.len() > before {
            self.paths.push(path);
            self.watchers_end.push(self.conns.len());
        }
    }

    /// Number of (path, connection) registrations.
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// Number of watched paths.
    pub fn path_count(&self) -> usize {
        self.paths.len()
    }

    /// Number of connections with at least one registration.
    pub fn conn_count(&self) -> usize {
        self.conns.iter().collect::<BTreeSet<_>>().len()
    }

    /// Every (path, connection) registration, sorted by path then connection.
    pub fn sorted_pairs(&self) -> Vec<(&str, ConnId)> {
        let mut v = Vec::with_capacity(self.conns.len());
        let mut start = 0;
        for (i, &end) in self.watchers_end.iter().enumerate() {
            let path = self.paths.get(i);
            v.extend(self.conns[start..end].iter().map(|&c| (path, c)));
            start = end;
        }
        v.sort_unstable();
        v
    }
}

/// The ephemeral nodes of every session that owns some, in session order.
#[derive(Debug, Clone, Default)]
pub struct EphemeralCopy {
    paths: PackedPaths,
    /// Each owner with the end of its paths in `paths`.
    owners: Vec<(i64, usize)>,
}

impl EphemeralCopy {
    /// Adds an owner and its paths (push owners in session order, paths in path order).
    pub fn push<'a>(&mut self, session: i64, paths: impl Iterator<Item = &'a str>) {
        for p in paths {
            self.paths.push(p);
        }
        self.owners.push((session, self.paths.len()));
    }

    /// Each owning session with its ephemeral paths, in the order they were pushed.
    pub fn iter(&self) -> impl Iterator<Item = (i64, impl Iterator<Item = &str> + '_)> + '_ {
        let mut start = 0;
        self.owners.iter().map(move |&(session, end)| {
            let range = start..end;
            start = end;
            (session, self.paths.slice(range))
        })
    }

    /// Number of owning sessions.
    pub fn owner_count(&self) -> usize {
        self.owners.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_copies_sort_pairs_and_count_as_the_tables_do() {
        let mut w = WatchCopy::default();
        w.push("/b", [ConnId(2), ConnId(1)].into_iter());
        w.push("/empty", std::iter::empty());
        w.push("/a", [ConnId(2)].into_iter());
        assert_eq!(
            w.sorted_pairs(),
            vec![("/a", ConnId(2)), ("/b", ConnId(1)), ("/b", ConnId(2))]
        );
        assert_eq!((w.len(), w.path_count(), w.conn_count()), (3, 2, 2));
    }

    #[test]
    fn ephemeral_copies_keep_each_owner_with_its_paths() {
        let mut e = EphemeralCopy::default();
        e.push(7, ["/x", "/y"].into_iter());
        e.push(9, std::iter::empty());
        e.push(11, ["/z"].into_iter());
        let got: Vec<(i64, Vec<&str>)> = e.iter().map(|(s, p)| (s, p.collect())).collect();
        assert_eq!(
            got,
            vec![(7, vec!["/x", "/y"]), (9, vec![]), (11, vec!["/z"])]
        );
        assert_eq!(e.owner_count(), 3);
    }
}
