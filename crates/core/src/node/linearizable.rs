//! Linearizable reads (`menagerie.linearizableReads`, a Menagerie extension): a read is
//! answered only with state at least as new as every write acknowledged before it arrived,
//! without a write per read.
//!
//! A read waits behind a barrier in its connection's queue for a round that starts after it
//! arrived. On the leader a round is a leadership confirmation: a quorum of voters answered
//! a PING sent after the read arrived (no other leader can have committed anything since),
//! and the leader has applied everything it committed. On a learner a round is a `sync`
//! forwarded to the leader, which a Menagerie leader answers only after such a confirmation
//! and after what it had proposed has committed; the learner has applied every COMMIT that
//! came before the answer. Reads arriving while a round is in flight share the next one, so
//! a burst of reads costs one round. Standalone servers are linearizable as they are.

use menagerie_proto::records::PathRequest;
use menagerie_proto::request::Request;
use menagerie_proto::{OpCode, SessionId};

use super::Node;
use super::ensemble::Role;
use crate::front::Forwarded;
use crate::input::{ConnId, Now};
use crate::output::Output;
use crate::planted::PlantedBug;
use crate::zab::action::Actions;

/// A learner's linearizable-read rounds.
#[derive(Debug, Default)]
pub struct LearnerRounds {
    /// The round whose sync is at the leader.
    in_flight: Option<u64>,
    /// Who the next round's sync is sent for (a read waits for it).
    next: Option<(ConnId, SessionId, i32)>,
    /// The id of the next round.
    next_id: u64,
}

impl Node {
    /// Whether reads wait for a round: the setting is on and this member leads or learns.
    pub(super) fn reads_linearized(&self) -> bool {
        self.zab.as_ref().is_some_and(|z| {
            z.config.linearizable_reads && z.config.planted_bug != PlantedBug::SkipReadRound
        }) && matches!(self.role, Role::Leading(_) | Role::Learning(_))
    }

    /// Queues a read behind a barrier for a round that starts after now.
    pub(super) fn linearizable_read(
        &mut self,
        now: Now,
        (conn, session, xid): (ConnId, SessionId, i32),
        req: Request,
        out: &mut Vec<Output>,
    ) {
        let mut acts = Actions::new();
        let round = match (&mut self.role, &self.zab) {
            (Role::Leading(l), Some(zab)) => l.confirm(&zab.config, &mut acts),
            _ => match self.lin.in_flight {
                Some(id) => {
                    self.lin.next.get_or_insert((conn, session, xid));
                    id + 1
                }
                None => {
                    let id = self.lin.next_id;
                    self.start_round(id, (conn, session, xid), out);
                    id
                }
            },
        };
        self.front.push_barrier(conn, round);
        self.read_now_or_queued(now, conn, xid, req, out);
        self.exec(now, acts, out);
    }

    /// A learner's round: a sync to the leader on behalf of a waiting read's session.
    fn start_round(
        &mut self,
        id: u64,
        (conn, session, xid): (ConnId, SessionId, i32),
        out: &mut Vec<Output>,
    ) {
        self.lin.in_flight = Some(id);
        self.lin.next_id = id + 1;
        self.front.push_round_sync(id);
        let mut body = Vec::new();
        Request::Sync(PathRequest { path: "/".into() }).write_body(&mut body);
        self.forward(conn, session, xid, OpCode::Sync, body, out);
    }

    /// The leader answered the oldest forwarded sync.
    pub(super) fn sync_answered(&mut self, now: Now, out: &mut Vec<Output>) {
        match self.front.release_forwarded_sync() {
            Some(Forwarded::Client(conn)) => self.drain(now, conn, out),
            Some(Forwarded::Round(id)) => {
                self.lin.in_flight = None;
                self.round_done(now, id, out);
                if let Some(next) = self.lin.next.take() {
                    self.start_round(id + 1, next, out);
                }
            }
            None => {}
        }
    }

    /// Rounds up to `round` are over: the reads behind them are answered.
    pub(super) fn round_done(&mut self, now: Now, round: u64, out: &mut Vec<Output>) {
        for conn in self.front.release_barriers(round) {
            self.drain(now, conn, out);
        }
    }

    /// A write that waited behind a barrier reached the front of its queue: submitted now,
    /// ahead of what was queued after it.
    pub(super) fn submit_deferred(
        &mut self,
        now: Now,
        conn: ConnId,
        (xid, op): (i32, i32),
        req: Request,
        out: &mut Vec<Output>,
    ) {
        let rest = self.front.take_queue(conn);
        let session = self.front.session_of(conn);
        match req {
            Request::CloseSession if self.is_local_session(session) => {
                self.close_local_session(conn, session, xid, out)
            }
            Request::CloseSession => self.close_session(now, conn, session, xid, out),
            r => {
                let call = super::requests::Call {
                    conn,
                    session,
                    xid,
                    op,
                };
                self.submit_write(now, call, Ok(r), out);
            }
        }
        self.front.restore_queue(conn, rest);
    }

    /// The role ended: rounds in flight will not be answered.
    pub(super) fn forget_rounds(&mut self) {
        self.lin = LearnerRounds::default();
        self.front.forget_waits();
    }
}
