//! Watch registry (ZooKeeper 3.9 `WatchManager` semantics, spec 04).
//!
//! Two tables, data and child, each mapping a path to the connections watching it with a
//! set of modes. [`WatchManager::trigger`] returns the connections to notify; it never sends.

use std::collections::BTreeSet;
use std::hash::BuildHasher;

use foldhash::fast::FixedState;
use hashbrown::HashTable;

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

/// The connections watching one path and their mode bits, sorted by connection. Most
/// paths have a single watcher, which is stored inline.
#[derive(Debug)]
enum Watchers {
    One(ConnId, u8),
    // Boxed on purpose: keeps `Watchers` at 16 bytes, so a single watcher costs no allocation.
    #[allow(clippy::box_collection)]
    Many(Box<Vec<(ConnId, u8)>>),
}

impl Watchers {
    fn modes(&self, conn: ConnId) -> u8 {
        match self {
            Watchers::One(c, m) => {
                if *c == conn {
                    *m
                } else {
                    0
                }
            }
            Watchers::Many(v) => v
                .binary_search_by_key(&conn, |(c, _)| *c)
                .map_or(0, |i| v[i].1),
        }
    }

    /// Sets `bits` for `conn`; returns the bits it had before.
    fn set(&mut self, conn: ConnId, bits: u8) -> u8 {
        match self {
            Watchers::One(c, m) if *c == conn => {
                let old = *m;
                *m |= bits;
                old
            }
            Watchers::One(c, m) => {
                let mut v = vec![(*c, *m), (conn, bits)];
                v.sort_unstable_by_key(|(c, _)| *c);
                *self = Watchers::Many(Box::new(v));
                0
            }
            Watchers::Many(v) => match v.binary_search_by_key(&conn, |(c, _)| *c) {
                Ok(i) => {
                    let old = v[i].1;
                    v[i].1 |= bits;
                    old
                }
                Err(i) => {
                    v.insert(i, (conn, bits));
                    0
                }
            },
        }
    }

    /// Clears `bits` of `conn`; returns (bits removed, whether `conn` is gone from the set).
    fn clear(&mut self, conn: ConnId, bits: u8) -> (u8, bool) {
        match self {
            Watchers::One(c, m) if *c == conn => {
                let removed = *m & bits;
                *m &= !bits;
                (removed, *m == 0)
            }
            Watchers::One(..) => (0, false),
            Watchers::Many(v) => {
                let Ok(i) = v.binary_search_by_key(&conn, |(c, _)| *c) else {
                    return (0, false);
                };
                let removed = v[i].1 & bits;
                v[i].1 &= !bits;
                let gone = v[i].1 == 0;
                if gone {
                    v.remove(i);
                    if let [(c, m)] = v.as_slice() {
                        *self = Watchers::One(*c, *m);
                    }
                }
                (removed, gone)
            }
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Watchers::One(_, m) => *m == 0,
            Watchers::Many(v) => v.is_empty(),
        }
    }

    fn iter(&self) -> impl Iterator<Item = (ConnId, u8)> + '_ {
        let (one, many) = match self {
            Watchers::One(c, m) => (Some((*c, *m)).filter(|_| *m != 0), &[][..]),
            Watchers::Many(v) => (None, v.as_slice()),
        };
        one.into_iter().chain(many.iter().copied())
    }
}

/// One watched path: where its bytes live in the path arena, and its watchers.
#[derive(Debug)]
struct Entry {
    offset: usize,
    len: u32,
    watchers: Watchers,
}

/// The paths of every entry, back to back in one string (no allocation per watched path);
/// compacted when more than half of it belongs to removed entries.
#[derive(Debug, Default)]
struct PathArena {
    text: String,
    dead: usize,
}

/// Below this many dead bytes the arena is never compacted.
const ARENA_COMPACT_MIN: usize = 1 << 20;

type FastSet<T> = hashbrown::HashSet<T, FixedState>;
type FastMap<K, V> = hashbrown::HashMap<K, V, FixedState>;

/// One table: path -> watchers, and connection -> watched entries (to drop a closed
/// connection's watches without scanning). A registration costs an inline slot in its
/// path's entry (or 16 bytes in a shared list) plus 4 bytes in its connection's set; the
/// path text is stored once per path.
#[derive(Debug)]
struct WatchTable {
    entries: Vec<Option<Entry>>,
    free: Vec<u32>,
    arena: PathArena,
    index: HashTable<u32>,
    hasher: FixedState,
    by_conn: FastMap<ConnId, FastSet<u32>>,
    recursive: usize,
    count: usize,
}

impl WatchTable {
    fn new(seed: u64) -> WatchTable {
        let hasher = FixedState::with_seed(seed);
        WatchTable {
            entries: Vec::new(),
            free: Vec::new(),
            arena: PathArena::default(),
            index: HashTable::new(),
            by_conn: FastMap::with_hasher(hasher.clone()),
            hasher,
            recursive: 0,
            count: 0,
        }
    }

    fn path_of<'a>(arena: &'a PathArena, e: &Entry) -> &'a str {
        arena
            .text
            .get(e.offset..e.offset + e.len as usize)
            .unwrap_or_default()
    }

    fn find(&self, path: &str) -> Option<u32> {
        let (entries, arena) = (&self.entries, &self.arena);
        self.index
            .find(self.hasher.hash_one(path.as_bytes()), |&id| {
                entries[id as usize]
                    .as_ref()
                    .is_some_and(|e| Self::path_of(arena, e) == path)
            })
            .copied()
    }

    fn entry_mut(&mut self, id: u32) -> Option<&mut Entry> {
        self.entries.get_mut(id as usize).and_then(Option::as_mut)
    }

    fn add(&mut self, path: &str, conn: ConnId, mode: u8) {
        let id = match self.find(path) {
            Some(id) => id,
            None => self.insert_entry(path, conn),
        };
        let Some(entry) = self.entry_mut(id) else {
            return;
        };
        let old = entry.watchers.set(conn, mode);
        if mode & RECURSIVE != 0 && old & RECURSIVE == 0 {
            self.recursive += 1;
        }
        if old == 0 {
            self.count += 1;
            let hasher = self.hasher.clone();
            self.by_conn
                .entry(conn)
                .or_insert_with(|| FastSet::with_hasher(hasher))
                .insert(id);
        }
    }

    /// A new entry whose watcher set starts with `conn` (modes 0 until set).
    fn insert_entry(&mut self, path: &str, conn: ConnId) -> u32 {
        let offset = self.arena.text.len();
        self.arena.text.push_str(path);
        let entry = Entry {
            offset,
            len: path.len() as u32,
            watchers: Watchers::One(conn, 0),
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.entries[id as usize] = Some(entry);
                id
            }
            None => {
                self.entries.push(Some(entry));
                (self.entries.len() - 1) as u32
            }
        };
        let (entries, arena, hasher) = (&self.entries, &self.arena, &self.hasher);
        self.index
            .insert_unique(hasher.hash_one(path.as_bytes()), id, |&i| {
                entries[i as usize]
                    .as_ref()
                    .map_or(0, |e| hasher.hash_one(Self::path_of(arena, e).as_bytes()))
            });
        id
    }

    fn remove_entry(&mut self, id: u32) {
        let Some(entry) = self.entries.get_mut(id as usize).and_then(Option::take) else {
            return;
        };
        let path = Self::path_of(&self.arena, &entry);
        if let Ok(slot) = self
            .index
            .find_entry(self.hasher.hash_one(path.as_bytes()), |&i| i == id)
        {
            slot.remove();
        }
        self.arena.dead += entry.len as usize;
        self.free.push(id);
        if self.arena.dead > ARENA_COMPACT_MIN && self.arena.dead * 2 > self.arena.text.len() {
            self.compact();
        }
    }

    /// Rewrites the arena without the bytes of removed entries.
    fn compact(&mut self) {
        let mut text = String::with_capacity(self.arena.text.len() - self.arena.dead);
        for e in self.entries.iter_mut().flatten() {
            let old = Self::path_of(&self.arena, e);
            let offset = text.len();
            text.push_str(old);
            e.offset = offset;
        }
        self.arena = PathArena { text, dead: 0 };
    }

    /// Clears `bits` of `conn` on entry `id`; returns the bits that were set.
    fn clear_id(&mut self, id: u32, conn: ConnId, bits: u8) -> u8 {
        let Some(entry) = self.entry_mut(id) else {
            return 0;
        };
        let (removed, gone) = entry.watchers.clear(conn, bits);
        let empty = entry.watchers.is_empty();
        if removed & RECURSIVE != 0 {
            self.recursive -= 1;
        }
        if gone {
            self.count -= 1;
            if let Some(ids) = self.by_conn.get_mut(&conn) {
                ids.remove(&id);
                if ids.is_empty() {
                    self.by_conn.remove(&conn);
                }
            }
        }
        if empty {
            self.remove_entry(id);
        }
        removed
    }

    /// Clears `bits` of `conn` on `path`; returns the bits that were set.
    fn clear(&mut self, path: &str, conn: ConnId, bits: u8) -> u8 {
        match self.find(path) {
            Some(id) => self.clear_id(id, conn, bits),
            None => 0,
        }
    }

    fn modes(&self, path: &str, conn: ConnId) -> u8 {
        self.find(path)
            .and_then(|id| self.entries[id as usize].as_ref())
            .map_or(0, |e| e.watchers.modes(conn))
    }

    fn trigger(&mut self, p: &str, event: EventType, skip: &BTreeSet<ConnId>) -> BTreeSet<ConnId> {
        let mut fired = BTreeSet::new();
        if let Some(id) = self.find(p)
            && let Some(entry) = self.entries[id as usize].as_ref()
        {
            let hits: Vec<(ConnId, u8)> = entry.watchers.iter().collect();
            for (conn, modes) in hits {
                if modes & STANDARD != 0 {
                    self.clear_id(id, conn, STANDARD);
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
                if let Some(id) = self.find(cur)
                    && let Some(entry) = self.entries[id as usize].as_ref()
                {
                    for (conn, modes) in entry.watchers.iter() {
                        if modes & RECURSIVE != 0 && !skip.contains(&conn) {
                            fired.insert(conn);
                        }
                    }
                }
            }
        }
        fired
    }

    fn remove_conn(&mut self, conn: ConnId) {
        let Some(ids) = self.by_conn.remove(&conn) else {
            return;
        };
        for id in ids {
            let Some(entry) = self.entry_mut(id) else {
                continue;
            };
            let (removed, gone) = entry.watchers.clear(conn, u8::MAX);
            let empty = entry.watchers.is_empty();
            if removed & RECURSIVE != 0 {
                self.recursive -= 1;
            }
            if gone {
                self.count -= 1;
            }
            if empty {
                self.remove_entry(id);
            }
        }
    }

    fn count(&self) -> usize {
        self.count
    }

    /// Every (path, connection) registration.
    fn registrations(&self) -> impl Iterator<Item = (&str, ConnId)> + '_ {
        self.entries.iter().flatten().flat_map(|e| {
            let p = Self::path_of(&self.arena, e);
            e.watchers.iter().map(move |(c, _)| (p, c))
        })
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
#[derive(Debug)]
pub struct WatchManager {
    data: WatchTable,
    child: WatchTable,
}

impl Default for WatchManager {
    fn default() -> WatchManager {
        WatchManager::new(0)
    }
}

impl WatchManager {
    /// Empty tables; `seed` seeds the path hash (not observable in outputs).
    pub fn new(seed: u64) -> WatchManager {
        WatchManager {
            data: WatchTable::new(seed),
            child: WatchTable::new(seed.rotate_left(17)),
        }
    }

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
            .registrations()
            .map(|(p, c)| (p.to_owned(), c))
            .collect();
        v.sort();
        v
    }

    /// A compact copy of the data-table registrations (what `data_watches` lists), taken
    /// without an allocation per registration.
    pub fn data_watch_copy(&self) -> crate::listing::WatchCopy {
        let table = &self.data;
        let paths = table.entries.len().saturating_sub(table.free.len());
        let bytes = table.arena.text.len().saturating_sub(table.arena.dead);
        let mut copy = crate::listing::WatchCopy::with_capacity(paths, bytes, table.count);
        for e in table.entries.iter().flatten() {
            let path = WatchTable::path_of(&table.arena, e);
            copy.push(path, e.watchers.iter().map(|(c, _)| c));
        }
        copy
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

#[cfg(test)]
mod table_tests {
    use super::*;

    /// Many connections on one path, removal in any order, and the path arena compacting
    /// under churn: the table stays consistent with a naive model.
    #[test]
    fn churn_matches_a_naive_model() {
        let mut w = WatchManager::new(3);
        let mut model: std::collections::BTreeMap<(String, u64), u8> = Default::default();
        let none = BTreeSet::new();
        let mut x: u64 = 12345;
        for round in 0..60_000u64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let path = format!("/churn/{:0200}", (x >> 33) % 300);
            let conn = (x >> 20) % 7 + 1;
            match (x >> 10) % 4 {
                0 | 1 => {
                    w.add_standard(Table::Data, &path, ConnId(conn));
                    *model.entry((path, conn)).or_insert(0) |= STANDARD;
                }
                2 => {
                    let fired = w.trigger(Table::Data, &path, EventType::DataChanged, &none);
                    let expected: BTreeSet<ConnId> = model
                        .iter()
                        .filter(|((p, _), _)| *p == path)
                        .map(|((_, c), _)| ConnId(*c))
                        .collect();
                    assert_eq!(fired, expected, "round {round}");
                    model.retain(|(p, _), _| *p != path);
                }
                _ => {
                    if round % 50 == 0 {
                        w.remove_conn(ConnId(conn));
                        model.retain(|(_, c), _| *c != conn);
                    }
                }
            }
            assert_eq!(w.count(), model.len(), "round {round}");
        }
        let listed: Vec<(String, ConnId)> = w.data_watches();
        let expected: Vec<(String, ConnId)> =
            model.keys().map(|(p, c)| (p.clone(), ConnId(*c))).collect();
        assert_eq!(listed, expected);
    }
}
