//! Session table with ZooKeeper's tick-bucket expiry (`SessionTrackerImpl`, `ExpiryQueue`).

use std::collections::{BTreeMap, BTreeSet};

use menagerie_proto::{ServerId, SessionId};

/// A live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Negotiated timeout, ms.
    pub timeout_ms: i32,
    /// Bucket time at which it expires unless touched.
    pub expires_at: u64,
    /// Set once expiry or close has begun: the session accepts nothing more.
    pub closing: bool,
    /// On a leader: the member whose client holds the session (ZooKeeper: the session's
    /// owner); `None` until one is recorded.
    pub owner: Option<ServerId>,
}

/// The live sessions and their expiry buckets (on a standalone server or a leader, the
/// authority on session liveness).
#[derive(Debug)]
pub struct SessionTracker {
    sessions: BTreeMap<SessionId, Session>,
    buckets: BTreeMap<u64, BTreeSet<SessionId>>,
    tick_ms: u64,
}

/// The session ids a server hands out to its clients (ZooKeeper:
/// `SessionTrackerImpl.initializeNextSessionId`): server id in the top byte, the low 40 bits
/// of a millisecond clock below it, then a counter.
#[derive(Debug, Clone)]
pub struct SessionIds {
    next: i64,
}

impl SessionIds {
    /// Ids of server `server_id`, started at `clock_ms`.
    pub fn new(server_id: ServerId, clock_ms: u64) -> SessionIds {
        let base = ((clock_ms << 24) >> 8) | ((server_id.0 as u64) << 56);
        let base = base as i64;
        // Never hand out the container marker.
        let next = if base == i64::MIN { base + 1 } else { base };
        SessionIds { next }
    }

    /// The next id.
    pub fn next_id(&mut self) -> SessionId {
        let id = self.next;
        self.next = self.next.wrapping_add(1);
        if self.next == i64::MIN {
            self.next += 1;
        }
        SessionId(id)
    }
}

impl SessionTracker {
    /// A tracker that expires in buckets of `tick_ms`.
    pub fn new(tick_ms: u64) -> SessionTracker {
        SessionTracker {
            sessions: BTreeMap::new(),
            buckets: BTreeMap::new(),
            tick_ms: tick_ms.max(1),
        }
    }

    fn bucket(&self, t: u64) -> u64 {
        (t / self.tick_ms + 1) * self.tick_ms
    }

    /// Starts tracking `id` (or re-tracks it with a new timeout).
    pub fn add(&mut self, id: SessionId, timeout_ms: i32, now: u64) {
        self.remove(id);
        let expires_at = self.bucket(now + timeout_ms.max(0) as u64);
        self.buckets.entry(expires_at).or_default().insert(id);
        self.sessions.insert(
            id,
            Session {
                timeout_ms,
                expires_at,
                closing: false,
                owner: None,
            },
        );
    }

    /// Stops tracking `id`.
    pub fn remove(&mut self, id: SessionId) -> Option<Session> {
        let s = self.sessions.remove(&id)?;
        self.unbucket(id, s.expires_at);
        Some(s)
    }

    fn unbucket(&mut self, id: SessionId, at: u64) {
        if let Some(b) = self.buckets.get_mut(&at) {
            b.remove(&id);
            if b.is_empty() {
                self.buckets.remove(&at);
            }
        }
    }

    /// Records activity; false if the session is unknown or closing.
    pub fn touch(&mut self, id: SessionId, now: u64) -> bool {
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
    pub fn set_timeout(&mut self, id: SessionId, timeout_ms: i32, now: u64) {
        if let Some(s) = self.sessions.get_mut(&id) {
            s.timeout_ms = timeout_ms;
            self.touch(id, now);
        }
    }

    /// The session, if tracked.
    pub fn get(&self, id: SessionId) -> Option<&Session> {
        self.sessions.get(&id)
    }

    /// Checks that `owner` may write for `session` (ZooKeeper:
    /// `SessionTrackerImpl.checkSession`): an unknown or closing session is expired; the
    /// first writer becomes the owner; another owner's write is SessionMoved.
    pub fn check_owner(
        &mut self,
        session: SessionId,
        owner: ServerId,
    ) -> Result<(), menagerie_proto::ErrorCode> {
        use menagerie_proto::ErrorCode;
        match self.sessions.get_mut(&session) {
            None => Err(ErrorCode::SessionExpired),
            Some(s) if s.closing => Err(ErrorCode::SessionExpired),
            Some(s) => match s.owner {
                None => {
                    s.owner = Some(owner);
                    Ok(())
                }
                Some(o) if o == owner => Ok(()),
                Some(_) => Err(ErrorCode::SessionMoved),
            },
        }
    }

    /// Records who holds the session now (a reconnect, a revalidation).
    pub fn set_owner(&mut self, session: SessionId, owner: ServerId) {
        if let Some(s) = self.sessions.get_mut(&session) {
            s.owner = Some(owner);
        }
    }

    /// Marks a session closing; false if unknown or already closing.
    pub fn set_closing(&mut self, id: SessionId) -> bool {
        match self.sessions.get_mut(&id) {
            Some(s) if !s.closing => {
                s.closing = true;
                true
            }
            _ => false,
        }
    }

    /// Takes every session whose bucket is due at `now`, marking each closing.
    pub fn expire(&mut self, now: u64) -> Vec<SessionId> {
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
    pub fn iter(&self) -> impl Iterator<Item = (SessionId, &Session)> {
        self.sessions.iter().map(|(id, s)| (*id, s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_zookeeper_formula() {
        // The 3.8.0 server of spec 05 §5.1: top byte 1, clock bits, counter from 0.
        let mut ids = SessionIds::new(ServerId(1), 0x0007_6374);
        assert_eq!(ids.next_id(), SessionId(0x0100_0007_6374_0000));
        assert_eq!(ids.next_id(), SessionId(0x0100_0007_6374_0001));
        assert_ne!(
            SessionIds::new(ServerId(0x80), 0).next_id(),
            SessionId(i64::MIN)
        );
    }

    #[test]
    fn expiry_happens_in_tick_buckets() {
        let s = SessionId(7);
        let mut t = SessionTracker::new(2000);
        t.add(s, 4000, 500); // 4500 rounds up to 6000
        assert_eq!(t.next_expiry(), Some(6000));
        assert!(t.expire(5999).is_empty());
        assert!(t.touch(s, 3000)); // 7000 -> 8000
        assert!(t.expire(6000).is_empty());
        assert_eq!(t.expire(8000), vec![s]);
        assert!(t.get(s).unwrap().closing);
        assert!(!t.touch(s, 8001), "a closing session cannot be touched");
        assert!(t.remove(s).is_some());
        assert!(t.is_empty());
    }
}
