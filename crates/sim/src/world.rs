//! The simulated world's clock and event queue. Time is in milliseconds and only moves when
//! the next event is taken; events due at the same millisecond run in the order they were
//! scheduled, so a run depends on nothing but its seed.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use menagerie_core::{Input, SnapshotEnd};
use menagerie_proto::ServerId;
use menagerie_proto::quorum::Notification;

/// Something that happens at a simulated time.
#[derive(Debug)]
pub enum Ev {
    /// An election notification reaches `to` (if `to` is still the incarnation it was sent
    /// to).
    Vote {
        /// Sender.
        from: ServerId,
        /// Receiver.
        to: ServerId,
        /// The receiver's incarnation when it was sent.
        to_inc: u64,
        /// What it says.
        notification: Notification,
    },
    /// The oldest message of one direction of a link is due.
    LinkHead {
        /// The link.
        link: u64,
        /// 0: from end `a` to end `b`; 1: back.
        dir: usize,
    },
    /// A learner's dial of its leader's quorum port is due (an attempt of it).
    Dial {
        /// The dialling member.
        learner: ServerId,
        /// Which dial (a member dials again with a new id).
        dial: u64,
        /// Attempt number (ZooKeeper tries 5 times).
        attempt: u32,
    },
    /// A member's core timer.
    Timer {
        /// The member.
        member: ServerId,
        /// Which arming of the timer (older ones are stale).
        generation: u64,
    },
    /// A member's log fsync completes.
    FsyncDone {
        /// The member.
        member: ServerId,
        /// Its incarnation when the fsync started.
        inc: u64,
    },
    /// A member whose storage failed retries it.
    StorageRetry {
        /// The member.
        member: ServerId,
        /// Its incarnation when the retry was scheduled.
        inc: u64,
    },
    /// A member's snapshot write is reported.
    SnapshotDone {
        /// The member.
        member: ServerId,
        /// Its incarnation when the snapshot started.
        inc: u64,
        /// How it ended.
        end: SnapshotEnd,
    },
    /// An input for a member that the shell produces later (a reload, a delayed notice).
    Input {
        /// The member.
        member: ServerId,
        /// Its incarnation when scheduled.
        inc: u64,
        /// The input.
        input: Input,
    },
    /// A member learns that its connection `link` to `peer` broke (if its core still
    /// knows that connection).
    PeerLost {
        /// The member.
        member: ServerId,
        /// Its incarnation when the connection broke.
        inc: u64,
        /// The other end.
        peer: ServerId,
        /// The connection.
        link: u64,
    },
    /// A client acts.
    ClientWake {
        /// The client.
        client: usize,
        /// Which arming (older ones are stale).
        generation: u64,
    },
    /// A fault starts or ends.
    Fault(crate::faults::FaultEv),
    /// Faults stop; everything is healed and the ensemble must converge.
    Calm,
    /// The run ends.
    End,
}

struct Scheduled {
    at: u64,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Scheduled {}

impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> Ordering {
        // A max-heap: the earliest (then the first scheduled) on top.
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// The event queue.
#[derive(Default)]
pub struct Queue {
    heap: BinaryHeap<Scheduled>,
    seq: u64,
    /// Events handled so far.
    pub handled: u64,
}

impl Queue {
    /// Schedules `ev` at `at`.
    pub fn push(&mut self, at: u64, ev: Ev) {
        self.seq += 1;
        self.heap.push(Scheduled {
            at,
            seq: self.seq,
            ev,
        });
    }

    /// The next event and its time.
    pub fn pop(&mut self) -> Option<(u64, Ev)> {
        let s = self.heap.pop()?;
        self.handled += 1;
        Some((s.at, s.ev))
    }

    /// Events waiting.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_then_in_scheduling_order() {
        let mut q = Queue::default();
        q.push(5, Ev::End);
        q.push(3, Ev::Calm);
        q.push(5, Ev::Calm);
        let order: Vec<(u64, bool)> = std::iter::from_fn(|| q.pop())
            .map(|(t, e)| (t, matches!(e, Ev::End)))
            .collect();
        assert_eq!(order, vec![(3, false), (5, true), (5, false)]);
    }
}
