//! What a connection's queue waits for besides writes: `sync` answers (a leader's commit or
//! the leader's SYNC packet) and linearizable-read barriers.

use std::collections::VecDeque;

use menagerie_proto::Zxid;
use menagerie_proto::request::Request;

use super::Front;
use super::conn::Slot;
use crate::input::{ConnId, Now};

/// A sync forwarded to the leader, in the order its SYNC answers come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Forwarded {
    /// A client's `sync`.
    Client(ConnId),
    /// A linearizable-read round of this learner.
    Round(u64),
}

impl Front {
    /// Queues a `sync` that waits for the leader: `until` a zxid commits (a leader's own
    /// client) or, with `None`, the leader's SYNC answer (a learner's client).
    pub(crate) fn push_sync(
        &mut self,
        now: Now,
        conn: ConnId,
        xid: i32,
        path: String,
        until: Option<Zxid>,
    ) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.queue.push_back(Slot::Sync {
            xid,
            path,
            received_ms: now.mono_ms,
            released: false,
        });
        match until {
            Some(z) => self.local_syncs.push((z, conn)),
            None => self.forwarded_syncs.push_back(Forwarded::Client(conn)),
        }
    }

    /// A linearizable-read round of this learner went to the leader as a sync.
    pub(crate) fn push_round_sync(&mut self, round: u64) {
        self.forwarded_syncs.push_back(Forwarded::Round(round));
    }

    /// The leader answered the oldest forwarded sync: which one it was (a client's is
    /// released).
    pub(crate) fn release_forwarded_sync(&mut self) -> Option<Forwarded> {
        let f = self.forwarded_syncs.pop_front()?;
        if let Forwarded::Client(conn) = f {
            self.release_sync(conn);
        }
        Some(f)
    }

    /// Releases the local syncs waiting for `zxid` or less; returns their connections.
    pub(crate) fn release_local_syncs(&mut self, zxid: Zxid) -> Vec<ConnId> {
        let (done, waiting): (Vec<_>, Vec<_>) =
            self.local_syncs.drain(..).partition(|(z, _)| *z <= zxid);
        self.local_syncs = waiting;
        let conns: Vec<ConnId> = done.into_iter().map(|(_, c)| c).collect();
        for c in &conns {
            self.release_sync(*c);
        }
        conns
    }

    fn release_sync(&mut self, conn: ConnId) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        for slot in c.queue.iter_mut() {
            if let Slot::Sync { released, .. } = slot
                && !*released
            {
                *released = true;
                return;
            }
        }
    }

    /// The reads of `conn` that follow wait for linearizable-read round `round` (one
    /// barrier serves consecutive reads waiting for the same round).
    pub(crate) fn push_barrier(&mut self, conn: ConnId, round: u64) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if let Some(Slot::Barrier {
            round: r,
            released: false,
        }) = c.queue.back()
            && *r == round
        {
            return;
        }
        c.queue.push_back(Slot::Barrier {
            round,
            released: false,
        });
        self.barriers.entry(round).or_default().push(conn);
    }

    /// Rounds up to `round` are over: their barriers open; returns the connections to
    /// drain.
    pub(crate) fn release_barriers(&mut self, round: u64) -> Vec<ConnId> {
        let later = self.barriers.split_off(&(round + 1));
        let done = std::mem::replace(&mut self.barriers, later);
        let mut conns: Vec<ConnId> = done.into_values().flatten().collect();
        conns.sort_unstable();
        conns.dedup();
        for conn in &conns {
            let Some(c) = self.conns.get_mut(conn) else {
                continue;
            };
            for slot in c.queue.iter_mut() {
                if let Slot::Barrier { round: r, released } = slot
                    && *r <= round
                {
                    *released = true;
                }
            }
        }
        conns
    }

    /// Whether `conn` has reads behind an open linearizable-read barrier (or a write
    /// deferred behind one): a write must then wait its turn.
    pub(crate) fn behind_barrier(&self, conn: ConnId) -> bool {
        self.conns.get(&conn).is_some_and(|c| {
            c.queue.iter().any(|s| {
                matches!(
                    s,
                    Slot::Barrier {
                        released: false,
                        ..
                    } | Slot::Deferred { .. }
                )
            })
        })
    }

    /// Queues a write to be submitted when it reaches the front of `conn`'s queue.
    pub(crate) fn defer(&mut self, conn: ConnId, xid: i32, op: i32, req: Request) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.queue.push_back(Slot::Deferred { xid, op, req });
        }
    }

    /// Takes what is queued for `conn` (to submit a deferred write at the front).
    pub(crate) fn take_queue(&mut self, conn: ConnId) -> VecDeque<Slot> {
        self.conns
            .get_mut(&conn)
            .map(|c| std::mem::take(&mut c.queue))
            .unwrap_or_default()
    }

    /// Puts back what [`Front::take_queue`] took, behind what was queued meanwhile.
    pub(crate) fn restore_queue(&mut self, conn: ConnId, rest: VecDeque<Slot>) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.queue.extend(rest);
        }
    }

    /// The role ended: nothing it was waiting for will come (its clients are closed).
    pub(crate) fn forget_waits(&mut self) {
        self.forwarded_syncs.clear();
        self.local_syncs.clear();
        self.barriers.clear();
    }
}
