//! Session table with ZooKeeper's tick-bucket expiry (`SessionTrackerImpl`, `ExpiryQueue`).

use std::collections::{BTreeMap, BTreeSet};

/// A live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Negotiated timeout, ms.
    pub timeout_ms: i32,
    /// Bucket time at which it expires unless touched.
    pub expires_at: u64,
    /// Set once expiry or close has begun: the session accepts nothing more.
    pub closing: bool,
}

/// All sessions of this server and their expiry buckets.
#[derive(Debug)]
pub struct SessionTracker {
    sessions: BTreeMap<i64, Session>,
    buckets: BTreeMap<u64, BTreeSet<i64>>,
    tick_ms: u64,
    next_id: i64,
}

/// The first session id of a server (ZooKeeper: `SessionTrackerImpl.initializeNextSessionId`):
/// server id in the top byte, the low 40 bits of a millisecond clock below it, then a counter.
pub fn initial_session_id(server_id: u8, clock_ms: u64) -> i64 {
    let base = ((clock_ms << 24) >> 8) | (u64::from(server_id) << 56);
    let base = base as i64;
    // Never hand out the container marker.
    if base == i64::MIN { base + 1 } else { base }
}

impl SessionTracker {
    /// A tracker that hands out ids from `first_id` and expires in buckets of `tick_ms`.
    pub fn new(first_id: i64, tick_ms: u64) -> SessionTracker {
        SessionTracker {
            sessions: BTreeMap::new(),
            buckets: BTreeMap::new(),
            tick_ms: tick_ms.max(1),
            next_id: first_id,
        }
    }

    fn bucket(&self, t: u64) -> u64 {
        (t / self.tick_ms + 1) * self.tick_ms
    }

    /// Reserves a new session id.
    pub fn next_id(&mut self) -> i64 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        if self.next_id == i64::MIN {
            self.next_id += 1;
        }
        id
    }

    /// Starts tracking `id` (or re-tracks it with a new timeout).
    pub fn add(&mut self, id: i64, timeout_ms: i32, now: u64) {
        self.remove(id);
        let expires_at = self.bucket(now + timeout_ms.max(0) as u64);
        self.buckets.entry(expires_at).or_default().insert(id);
        self.sessions.insert(
            id,
            Session {
                timeout_ms,
                expires_at,
                closing: false,
            },
        );
    }

    /// Stops tracking `id`.
    pub fn remove(&mut self, id: i64) -> Option<Session> {
        let s = self.sessions.remove(&id)?;
        self.unbucket(id, s.expires_at);
        Some(s)
    }

    fn unbucket(&mut self, id: i64, at: u64) {
        if let Some(b) = self.buckets.get_mut(&at) {
            b.remove(&id);
            if b.is_empty() {
                self.buckets.remove(&at);
            }
        }
    }

    /// Records activity; false if the session is unknown or closing.
    pub fn touch(&mut self, id: i64, now: u64) -> bool {
        let Some(s) = self.sessions.get(&id) else {
            return false;
        };
        if s.closing {
            return false;
        }
        let (old, timeout) = (s.expires_at, s.timeout_ms);
        let new = self.bucket(now + timeout.max(0) as u64);
        if new != old {
            self.unbucket(id, old);
            self.buckets.entry(new).or_default().insert(id);
            if let Some(s) = self.sessions.get_mut(&id) {
                s.expires_at = new;
            }
        }
        true
    }

    /// Changes a session's timeout (a reconnect re-negotiates it).
    pub fn set_timeout(&mut self, id: i64, timeout_ms: i32, now: u64) {
        if let Some(s) = self.sessions.get_mut(&id) {
            s.timeout_ms = timeout_ms;
            self.touch(id, now);
        }
    }

    /// The session, if tracked.
    pub fn get(&self, id: i64) -> Option<&Session> {
        self.sessions.get(&id)
    }

    /// Marks a session closing; false if unknown or already closing.
    pub fn set_closing(&mut self, id: i64) -> bool {
        match self.sessions.get_mut(&id) {
            Some(s) if !s.closing => {
                s.closing = true;
                true
            }
            _ => false,
        }
    }

    /// Takes every session whose bucket is due at `now`, marking each closing.
    pub fn expire(&mut self, now: u64) -> Vec<i64> {
        let mut out = Vec::new();
        while let Some((&at, _)) = self.buckets.first_key_value() {
            if at > now {
                break;
            }
            if let Some(ids) = self.buckets.remove(&at) {
                for id in ids {
                    if self.set_closing(id) {
                        out.push(id);
                    }
                }
            }
        }
        out
    }

    /// When the next bucket is due.
    pub fn next_expiry(&self) -> Option<u64> {
        self.buckets.keys().next().copied()
    }

    /// Number of sessions.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether there are no sessions.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// All sessions.
    pub fn iter(&self) -> impl Iterator<Item = (i64, &Session)> {
        self.sessions.iter().map(|(id, s)| (*id, s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_zookeeper_formula() {
        // The 3.8.0 server of spec 05 §5.1: top byte 1, clock bits, counter from 0.
        let id = initial_session_id(1, 0x0007_6374);
        assert_eq!(id, 0x0100_0007_6374_0000);
        let mut t = SessionTracker::new(id, 2000);
        assert_eq!(t.next_id(), 0x0100_0007_6374_0000);
        assert_eq!(t.next_id(), 0x0100_0007_6374_0001);
        assert_ne!(initial_session_id(0x80, 0), i64::MIN);
    }

    #[test]
    fn expiry_happens_in_tick_buckets() {
        let mut t = SessionTracker::new(1, 2000);
        t.add(7, 4000, 500); // 4500 rounds up to 6000
        assert_eq!(t.next_expiry(), Some(6000));
        assert!(t.expire(5999).is_empty());
        assert!(t.touch(7, 3000)); // 7000 -> 8000
        assert!(t.expire(6000).is_empty());
        assert_eq!(t.expire(8000), vec![7]);
        assert!(t.get(7).unwrap().closing);
        assert!(!t.touch(7, 8001), "a closing session cannot be touched");
        assert!(t.remove(7).is_some());
        assert!(t.is_empty());
    }
}
