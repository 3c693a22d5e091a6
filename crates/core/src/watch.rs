//! Watch registry (ZooKeeper 3.9 `WatchManager` semantics, spec 04).
//!
//! Two tables, data and child, each mapping a path to the connections watching it with a
//! set of modes. [`WatchManager::trigger`] returns the connections to notify; it never sends.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::ConnId;
use crate::path;

/// One-shot watch bit.
pub const STANDARD: u8 = 1;
/// Persistent (non-recursive) watch bit.
pub const PERSISTENT: u8 = 2;
/// Persistent recursive watch bit.
pub const RECURSIVE: u8 = 4;

/// Watcher event types (`Watcher.Event.EventType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EventType {
    /// NodeCreated (1).
    Created = 1,
    /// NodeDeleted (2).
    Deleted = 2,
    /// NodeDataChanged (3).
    DataChanged = 3,
    /// NodeChildrenChanged (4).
    ChildrenChanged = 4,
}

/// Which table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// Data (and exists) watches.
    Data,
    /// Child watches.
    Child,
}

#[derive(Debug, Default)]
struct WatchTable {
    by_path: HashMap<String, BTreeMap<ConnId, u8>>,
    by_conn: HashMap<ConnId, BTreeSet<String>>,
    recursive: usize,
}

impl WatchTable {
    fn add(&mut self, path: &str, conn: ConnId, mode: u8) {
        let modes = self
            .by_path
            .entry(path.to_owned())
            .or_default()
            .entry(conn)
            .or_insert(0);
        if mode == RECURSIVE && *modes & RECURSIVE == 0 {
            self.recursive += 1;
        }
        *modes |= mode;
        self.by_conn
            .entry(conn)
            .or_default()
            .insert(path.to_owned());
    }

    /// Clears `bits` of `conn` on `path`; returns the bits that were set.
    fn clear(&mut self, path: &str, conn: ConnId, bits: u8) -> u8 {
        let Some(watchers) = self.by_path.get_mut(path) else {
            return 0;
        };
        let Some(modes) = watchers.get_mut(&conn) else {
            return 0;
        };
        let removed = *modes & bits;
        if removed & RECURSIVE != 0 {
            self.recursive -= 1;
        }
        *modes &= !bits;
        if *modes == 0 {
            watchers.remove(&conn);
            if watchers.is_empty() {
                self.by_path.remove(path);
            }
            if let Some(paths) = self.by_conn.get_mut(&conn) {
                paths.remove(path);
                if paths.is_empty() {
                    self.by_conn.remove(&conn);
                }
            }
        }
        removed
    }

    fn modes(&self, path: &str, conn: ConnId) -> u8 {
        self.by_path
            .get(path)
            .and_then(|w| w.get(&conn))
            .copied()
            .unwrap_or(0)
    }

    fn trigger(&mut self, p: &str, event: EventType, skip: &BTreeSet<ConnId>) -> BTreeSet<ConnId> {
        let mut fired = BTreeSet::new();
        if let Some(watchers) = self.by_path.get(p) {
            let hits: Vec<(ConnId, u8)> = watchers.iter().map(|(c, m)| (*c, *m)).collect();
            for (conn, modes) in hits {
                if modes & STANDARD != 0 {
                    self.clear(p, conn, STANDARD);
                }
                if !skip.contains(&conn) {
                    fired.insert(conn);
                }
            }
        }
        // Recursive watches never see NodeChildrenChanged; ancestors only matter for them.
        if self.recursive > 0 && event != EventType::ChildrenChanged {
            let mut cur = p;
            while cur != "/" {
                cur = path::parent(cur);
                if let Some(watchers) = self.by_path.get(cur) {
                    for (conn, modes) in watchers {
                        if modes & RECURSIVE != 0 && !skip.contains(conn) {
                            fired.insert(*conn);
                        }
                    }
                }
            }
        }
        fired
    }

    fn remove_conn(&mut self, conn: ConnId) {
        if let Some(paths) = self.by_conn.remove(&conn) {
            for p in paths {
                if let Some(watchers) = self.by_path.get_mut(&p) {
                    if let Some(m) = watchers.remove(&conn)
                        && m & RECURSIVE != 0
                    {
                        self.recursive -= 1;
                    }
                    if watchers.is_empty() {
                        self.by_path.remove(&p);
                    }
                }
            }
        }
    }

    fn count(&self) -> usize {
        self.by_path.values().map(BTreeMap::len).sum()
    }
}

/// `WatcherType` of checkWatches/removeWatches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatcherType {
    /// Children (1): one-shot child watch.
    Children,
    /// Data (2): one-shot data watch.
    Data,
    /// Any (3): every mode in both tables.
    Any,
    /// Persistent (4).
    Persistent,
    /// PersistentRecursive (5).
    PersistentRecursive,
}

impl WatcherType {
    /// From the wire int.
    pub fn from_code(code: i32) -> Option<WatcherType> {
        Some(match code {
            1 => WatcherType::Children,
            2 => WatcherType::Data,
            3 => WatcherType::Any,
            4 => WatcherType::Persistent,
            5 => WatcherType::PersistentRecursive,
            _ => return None,
        })
    }
}

/// Both watch tables.
#[derive(Debug, Default)]
pub struct WatchManager {
    data: WatchTable,
    child: WatchTable,
}

impl WatchManager {
    fn table(&mut self, t: Table) -> &mut WatchTable {
        match t {
            Table::Data => &mut self.data,
            Table::Child => &mut self.child,
        }
    }

    /// Registers a one-shot watch.
    pub fn add_standard(&mut self, table: Table, path: &str, conn: ConnId) {
        self.table(table).add(path, conn, STANDARD);
    }

    /// Registers a persistent watch (`addWatch` mode 0: both tables) or a recursive one
    /// (mode 1: data table only).
    pub fn add_persistent(&mut self, path: &str, conn: ConnId, recursive: bool) {
        if recursive {
            self.data.add(path, conn, RECURSIVE);
        } else {
            self.data.add(path, conn, PERSISTENT);
            self.child.add(path, conn, PERSISTENT);
        }
    }

    /// Fires `event` for `path` in `table`, skipping `skip`; returns who to notify.
    pub fn trigger(
        &mut self,
        table: Table,
        path: &str,
        event: EventType,
        skip: &BTreeSet<ConnId>,
    ) -> BTreeSet<ConnId> {
        self.table(table).trigger(path, event, skip)
    }

    /// Removes (`remove = true`) or checks for watches of `conn` on `path`; false = NoWatcher.
    pub fn remove(&mut self, path: &str, conn: ConnId, kind: WatcherType, remove: bool) -> bool {
        let (data_bits, child_bits) = match kind {
            WatcherType::Children => (0, STANDARD),
            WatcherType::Data => (STANDARD, 0),
            WatcherType::Any => (STANDARD | PERSISTENT | RECURSIVE, STANDARD | PERSISTENT),
            WatcherType::Persistent => (PERSISTENT, PERSISTENT),
            WatcherType::PersistentRecursive => (RECURSIVE, 0),
        };
        if remove {
            let a = self.data.clear(path, conn, data_bits);
            let b = self.child.clear(path, conn, child_bits);
            a | b != 0
        } else {
            self.data.modes(path, conn) & data_bits != 0
                || self.child.modes(path, conn) & child_bits != 0
        }
    }

    /// Drops every watch of a closed connection.
    pub fn remove_conn(&mut self, conn: ConnId) {
        self.data.remove_conn(conn);
        self.child.remove_conn(conn);
    }

    /// Data-table registrations as (path, connection), sorted (`wchc`/`wchp`/`wchs` report
    /// data watches only, as ZooKeeper does).
    pub fn data_watches(&self) -> Vec<(String, ConnId)> {
        let mut v: Vec<(String, ConnId)> = self
            .data
            .by_path
            .iter()
            .flat_map(|(p, w)| w.keys().map(move |c| (p.clone(), *c)))
            .collect();
        v.sort();
        v
    }

    /// Number of (path, connection) registrations in both tables.
    pub fn count(&self) -> usize {
        self.data.count() + self.child.count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(c: &[u64]) -> BTreeSet<ConnId> {
        c.iter().map(|&c| ConnId(c)).collect()
    }

    #[test]
    fn one_shot_fires_once_persistent_stays() {
        let mut w = WatchManager::default();
        w.add_standard(Table::Data, "/a", ConnId(1));
        w.add_persistent("/a", ConnId(2), false);
        let none = BTreeSet::new();
        assert_eq!(
            w.trigger(Table::Data, "/a", EventType::DataChanged, &none),
            set(&[1, 2])
        );
        assert_eq!(
            w.trigger(Table::Data, "/a", EventType::DataChanged, &none),
            set(&[2])
        );
    }

    #[test]
    fn recursive_sees_descendants_but_not_child_events() {
        let mut w = WatchManager::default();
        w.add_persistent("/a", ConnId(1), true);
        let none = BTreeSet::new();
        assert_eq!(
            w.trigger(Table::Data, "/a/b/c", EventType::Created, &none),
            set(&[1])
        );
        assert!(
            w.trigger(Table::Child, "/a", EventType::ChildrenChanged, &none)
                .is_empty()
        );
        assert!(
            w.trigger(Table::Data, "/b", EventType::Created, &none)
                .is_empty()
        );
    }

    #[test]
    fn several_modes_on_one_path_and_removal() {
        let mut w = WatchManager::default();
        w.add_persistent("/a", ConnId(1), false);
        w.add_standard(Table::Data, "/a", ConnId(1));
        assert!(w.remove("/a", ConnId(1), WatcherType::Data, false));
        assert!(w.remove("/a", ConnId(1), WatcherType::Data, true));
        assert!(!w.remove("/a", ConnId(1), WatcherType::Data, true));
        // The persistent one survived the removal of the one-shot watch.
        assert!(w.remove("/a", ConnId(1), WatcherType::Persistent, false));
        assert!(!w.remove("/a", ConnId(1), WatcherType::Children, true));
        w.remove_conn(ConnId(1));
        assert_eq!(w.count(), 0);
    }
}
