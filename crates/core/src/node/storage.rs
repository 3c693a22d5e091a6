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
use crate::input::Now;
use crate::output::Output;

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
}
