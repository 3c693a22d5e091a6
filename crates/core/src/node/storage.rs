//! The disk failing and coming back ([`Input::StorageFailed`], [`Input::StorageRecovered`]).
//!
//! While the shell cannot make anything durable (a full disk, no file descriptors left, an
//! I/O error), it keeps what was handed to the log and retries with a backoff; nothing is
//! acknowledged meanwhile. A standalone server turns read-only: writes already in flight
//! wait for the disk (their replies come once it works again, or the client gives up and
//! sees ConnectionLoss: outcome unknown), new writes get NotReadOnly, new sessions are
//! refused, reads go on. An ensemble member leaves its role (a leader stops leading, as
//! ZooKeeper's leader shuts down; a learner stops acknowledging) and stays out of elections
//! until the disk works again; then it elects and rejoins by DIFF, TRUNC or SNAP.
//!
//! [`Input::StorageFailed`]: crate::Input::StorageFailed
//! [`Input::StorageRecovered`]: crate::Input::StorageRecovered

use super::Node;
use super::ensemble::Role;
use crate::input::{ConnId, Now};
use crate::output::Output;

/// At most one "refusing a new session" warning per this many ms (the others are counted).
const REFUSAL_WARN_INTERVAL_MS: u64 = 10_000;

impl Node {
    /// Nothing more can be made durable for now.
    pub(super) fn storage_failed(&mut self, now: Now, out: &mut Vec<Output>) {
        if self.read_only {
            return;
        }
        self.read_only = true;
        if matches!(self.role, Role::Leading(_) | Role::Learning(_)) {
            self.step_down(now, "storage failed", out);
        } else if matches!(self.role, Role::Looking) {
            self.start_election(now, out);
        }
    }

    /// The shell made everything handed to the log durable again: writes and new sessions
    /// are accepted again; an ensemble member elects.
    pub(super) fn storage_recovered(&mut self, now: Now, out: &mut Vec<Output>) {
        if !self.read_only {
            return;
        }
        self.read_only = false;
        tracing::info!("storage works again: accepting writes");
        if matches!(self.role, Role::Looking) {
            self.start_election(now, out);
        }
        self.snapshot_if_due(out);
    }

    /// Whether this member stays out of elections: its storage failed, so it could neither
    /// lead nor acknowledge anything.
    pub(super) fn held_out_of_elections(&self) -> bool {
        self.read_only && self.zab.is_some()
    }

    /// A new session needs a durable createSession txn: refused while the storage is failed.
    /// The warning is logged once per [`REFUSAL_WARN_INTERVAL_MS`] with the number left out.
    pub(super) fn refuse_session_while_failed(
        &mut self,
        now: Now,
        conn: ConnId,
        out: &mut Vec<Output>,
    ) {
        match &mut self.refusals_warned {
            Some((at, left_out)) if now.mono_ms < *at + REFUSAL_WARN_INTERVAL_MS => {
                *left_out += 1;
                tracing::debug!(conn = conn.0, "refusing a new session: storage has failed");
            }
            warned => {
                let suppressed = warned.map_or(0, |(_, n)| n);
                *warned = Some((now.mono_ms, 0));
                tracing::warn!(
                    conn = conn.0,
                    suppressed,
                    "refusing a new session: storage has failed"
                );
            }
        }
        out.push(Output::Close { conn });
    }
}
