//! ZooKeeper 3.9's `restore` on the shell: a checked snapshot (read whole off the shell task
//! by the admin server, `menagerie_host::restore`) replaces the core's state.
//!
//! What it does, in order, and only on a standalone server:
//! 1. refuses while writes are in flight or a snapshot is being written (try again);
//! 2. builds a fresh core with the snapshot's tree and sessions, at the higher of the
//!    snapshot's zxid and the highest zxid logged here;
//! 3. writes a snapshot of it into the data directory under that zxid (the newest file, so a
//!    restart recovers the restored state and replays nothing logged before); a failure here
//!    leaves the old state in place;
//! 4. puts the new core in place and closes every client connection: clients reconnect, and
//!    those whose session is not in the snapshot learn that it expired.

use menagerie_core::Node;
use menagerie_core::Now;
use menagerie_host::LogWork;
use menagerie_host::restore::{CheckedSnapshot, install};
use menagerie_host::snapshot::take_snapshot;

use super::Shell;
use super::boot::core_config;

impl Shell {
    /// Replaces the state with `snap`; the new last zxid, or why nothing was changed.
    pub(super) fn restore(&mut self, now: Now, snap: CheckedSnapshot) -> Result<i64, String> {
        if self.config.quorum.is_some() {
            return Err("restore is supported on a standalone server only".into());
        }
        if !self.storage_ok {
            return Err("the storage has failed; restart the server first".into());
        }
        if self.snapshot.is_some() || !self.snapshot_asked.is_empty() {
            return Err("a snapshot is being written; try again".into());
        }
        if self.server.outstanding() > 0 || !self.to_persist.is_empty() {
            return Err("writes are in flight; try again".into());
        }
        let before = (
            self.server.last_processed_zxid(),
            self.server.tree().node_count(),
        );
        let mut node = Node::new(core_config(&self.config, now), now);
        let zxid = install(&mut node, snap, before.0, now);
        // New txns go to a new log file, after the snapshot.
        self.storage.send(LogWork::Roll);
        let path = take_snapshot(&self.dirs, node.replica()).map_err(|e| e.to_string())?;
        tracing::warn!(
            file = %path.display(),
            zxid = format_args!("{:#x}", zxid.0),
            nodes = node.tree().node_count(),
            sessions = node.session_count(),
            previous_zxid = format_args!("{:#x}", before.0.0),
            previous_nodes = before.1,
            "database restored from an uploaded snapshot; client connections closed"
        );
        self.server = node;
        self.out.clear();
        self.others.clear();
        self.conns.forget_all();
        Ok(zxid.0)
    }
}
