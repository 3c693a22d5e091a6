//! The shell's ensemble duties: the core's ensemble outputs that touch the disk (epoch files,
//! cutting the log, reloading the state) and the quorum transport's events and turns.

use menagerie_core::replica::Replica;
use menagerie_core::{Input, Now, Output, SnapshotEnd};
use menagerie_host::LogWork;
use menagerie_host::snapshot::take_snapshot;
use menagerie_proto::{ServerId, Zxid};
use menagerie_storage::EpochFile;

use super::Shell;
use crate::inbox::LinkEvent;

/// How long the shell waits for the storage thread to finish cutting the log.
const TRUNCATE_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

impl Shell {
    /// Carries out an output that is neither for a client connection nor a txn.
    pub(super) fn other_output(&mut self, now: Now, o: Output) {
        match o {
            Output::TakeSnapshot(mode) => self.snapshot_asked.push_back(mode),
            Output::PersistEpoch { accepted, current } => {
                self.persist_epoch(now, accepted, current)
            }
            Output::Truncate { to, reload } => self.truncate(now, to, reload),
            Output::UpdatingEpoch(on) => self.updating_epoch(now, on),
            Output::ConfigActivated { text, version } => {
                self.move_client_port(&text);
                self.transport_output(now, Output::ConfigActivated { text, version });
            }
            other => self.transport_output(now, other),
        }
    }

    /// This member's client address in an activated configuration, if its server line gives
    /// one, is where clients connect from now on.
    fn move_client_port(&mut self, text: &str) {
        let Some(q) = &self.config.quorum else {
            return;
        };
        let me = crate::config::quorum::members_from_text(text, q.multi_address)
            .ok()
            .and_then(|m| m.get(&q.my_id).and_then(|m| m.client));
        if let (Some(addr), Some(port)) = (me, self.client_port.as_mut()) {
            port.move_to(addr);
        }
    }

    /// An output for the ensemble transport.
    fn transport_output(&mut self, now: Now, other: Output) {
        let mut inputs = Vec::new();
        let unhandled = match self.quorum.as_mut() {
            Some(q) => q.execute(other, &mut inputs),
            None => Some(other),
        };
        if let Some(o) = unhandled {
            tracing::warn!(output = ?o, "ensemble output without an ensemble transport");
        }
        for input in inputs {
            self.feed(now, input);
        }
    }

    /// A quorum link's event, as the core's input.
    pub(super) fn on_link(&mut self, now: Now, peer: ServerId, link: u64, event: LinkEvent) {
        let Some(input) = self
            .quorum
            .as_mut()
            .and_then(|q| q.link_event(peer, link, event))
        else {
            return;
        };
        if matches!(input, Input::SnapReceived { .. }) {
            // The snapshot being written walks the tree the leader's replaces.
            self.abandon_snapshot(now);
        }
        self.feed(now, input);
    }

    /// After a batch: the quorum links' packets go out, and SNAP streams take a slice.
    pub(super) fn end_batch_quorum(&mut self, now: Now) {
        let mut inputs = Vec::new();
        if let Some(q) = self.quorum.as_mut() {
            // The batch's packets first: a SNAP packet precedes its stream.
            q.flush(&mut inputs);
            q.step_snapshots(self.server.replica(), &mut inputs);
        }
        for input in inputs {
            self.feed(now, input);
        }
    }

    /// Writes the epoch files before anything after them is carried out. A member that
    /// cannot leaves its role until its disk works again: it must not acknowledge an epoch
    /// it may forget.
    fn persist_epoch(&mut self, now: Now, accepted: Option<u32>, current: Option<u32>) {
        let writes = [
            (EpochFile::Accepted, accepted),
            (EpochFile::Current, current),
        ];
        for (which, epoch) in writes {
            let Some(epoch) = epoch else { continue };
            if let Err(e) = self.dirs.write_epoch(which, i64::from(epoch)) {
                self.dir_failed(now, which.file_name(), e.to_string(), None);
                return;
            }
        }
    }

    /// Creates (before the sync's txns reach the log) or removes (after `currentEpoch` was
    /// written) the `updatingEpoch` marker. A member that cannot leaves its role until its
    /// disk works again.
    fn updating_epoch(&mut self, now: Now, on: bool) {
        let result = if on {
            self.dirs.mark_epoch_update()
        } else {
            self.dirs.clear_epoch_update()
        };
        if let Err(e) = result {
            self.dir_failed(now, "updatingEpoch", e.to_string(), None);
        }
    }

    /// Cuts the log after `to` (after the appends already handed out) and drops snapshots
    /// that name later txns; with `reload`, rebuilds the state from disk up to `to`.
    fn truncate(&mut self, now: Now, to: Zxid, reload: bool) {
        self.persist_batch(now);
        tracing::info!(zxid = %to, reload, "cutting the transaction log");
        self.storage.send(LogWork::Truncate(to.0));
        if let Err(e) = self.dirs.remove_snapshots_after(to.0) {
            let what = "removing snapshots after the truncation point";
            self.dir_failed(now, what, e.to_string(), Some(to));
            return;
        }
        if !reload {
            return;
        }
        self.abandon_snapshot(now);
        match self.reload(to) {
            Ok(replica) => self.feed(now, Input::Reloaded(Box::new(replica))),
            Err(why) => {
                let what = "rebuilding the state after truncating";
                self.dir_failed(now, what, why, Some(to));
            }
        }
    }

    /// Waits for the log cut, recovers the state up to `to` and writes it as a snapshot (so
    /// that no older fuzzy snapshot with later txns in it is what a restart loads).
    pub(super) fn reload(&mut self, to: Zxid) -> Result<Replica, String> {
        let (done_tx, done) = std::sync::mpsc::sync_channel(1);
        if !self.storage.send(LogWork::Barrier(done_tx))
            || done.recv_timeout(TRUNCATE_WAIT).is_err()
        {
            return Err("the storage thread did not finish cutting the log".into());
        }
        let fresh = super::replica_template(&self.config).fresh();
        let replica = menagerie_host::reload(&self.dirs, self.config.extended_types, fresh, to)
            .map_err(|e| e.to_string())?;
        take_snapshot(&self.dirs, &replica).map_err(|e| e.to_string())?;
        Ok(replica)
    }

    /// Gives up the fuzzy snapshot being walked (the tree is about to be replaced) and
    /// tells the core.
    pub(super) fn abandon_snapshot(&mut self, now: Now) {
        if self.snapshot.take().is_some() {
            tracing::info!("snapshot abandoned: the state is being replaced");
            self.feed(now, Input::SnapshotEnded(SnapshotEnd::Abandoned));
        }
    }
}
