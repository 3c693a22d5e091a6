//! The shell's storage recovery, for a simulated member: when its log or data directory
//! fails (a full disk), the work not yet durable waits, the core is told
//! (`Input::StorageFailed`: a member leaves its role and stays out of elections), and a
//! retry with a backoff (100 ms doubling to 5 s, as `crates/server/src/persistence.rs`)
//! brings the log back to its last durable entry, writes what waited, finishes a cut that
//! failed, reloads the state from disk, gives the core the epochs the files hold and
//! reports `Input::StorageRecovered`.

use menagerie_core::Input;
use menagerie_core::replica::Replica;
use menagerie_proto::{ServerId, Zxid};

use crate::sim::Sim;
use crate::world::Ev;

/// The first retry comes this long after a failure (ms).
const RETRY_FIRST_MS: u64 = 100;
/// Retries back off, doubling, up to this interval (ms).
const RETRY_MAX_MS: u64 = 5_000;

impl Sim {
    /// The member's log failed: the core is told (through `feedback`), a retry scheduled.
    pub(crate) fn log_failed(&mut self, sid: ServerId, why: &str, feedback: &mut Vec<Input>) {
        let m = self.members.get_mut(&sid).expect("member");
        if m.storage_failed {
            return;
        }
        m.storage_failed = true;
        self.history
            .record(self.now, format!("m{sid}"), format!("log failed: {why}"));
        self.storage_trouble(sid, feedback);
    }

    /// Writing the member's data directory failed (an epoch file, the `updatingEpoch`
    /// marker, a cut of the log with `truncate`): the rest of the outputs are dropped.
    pub(crate) fn dir_failed(
        &mut self,
        sid: ServerId,
        why: String,
        truncate: Option<Zxid>,
        feedback: &mut Vec<Input>,
    ) {
        let m = self.members.get_mut(&sid).expect("member");
        m.discard_rest = true;
        m.dir_failed = true;
        m.pending_truncate = truncate.or(m.pending_truncate);
        self.history.record(self.now, format!("m{sid}"), why);
        self.storage_trouble(sid, feedback);
    }

    fn storage_trouble(&mut self, sid: ServerId, feedback: &mut Vec<Input>) {
        if !feedback.iter().any(|i| matches!(i, Input::StorageFailed)) {
            feedback.push(Input::StorageFailed);
        }
        let m = self.members.get_mut(&sid).expect("member");
        if m.retry_ms.is_none() {
            m.retry_ms = Some(RETRY_FIRST_MS);
            let inc = m.inc;
            self.queue.push(
                self.now + RETRY_FIRST_MS,
                Ev::StorageRetry { member: sid, inc },
            );
        }
    }

    /// A scheduled retry of a member whose storage failed.
    pub(crate) fn storage_retry(&mut self, sid: ServerId, inc: u64) {
        let Some(m) = self.members.get_mut(&sid) else {
            return;
        };
        if m.inc != inc || m.node.is_none() {
            return;
        }
        match self.repair(sid) {
            Ok(()) => {
                let m = self.members.get_mut(&sid).expect("member");
                m.retry_ms = None;
                self.history
                    .record(self.now, format!("m{sid}"), "storage is back");
                self.deliver(sid, Input::StorageRecovered);
            }
            Err(e) => {
                let m = self.members.get_mut(&sid).expect("member");
                let backoff = (m.retry_ms.unwrap_or(RETRY_FIRST_MS) * 2).min(RETRY_MAX_MS);
                m.retry_ms = Some(backoff);
                self.queue
                    .push(self.now + backoff, Ev::StorageRetry { member: sid, inc });
                let text = format!("storage still failing: {e}");
                self.history.record(self.now, format!("m{sid}"), text);
            }
        }
    }

    /// The log first (what waited written), then the data directory.
    fn repair(&mut self, sid: ServerId) -> Result<(), String> {
        let m = self.members.get_mut(&sid).expect("member");
        if m.storage_failed {
            let up_to = m.disk.retry().map_err(|e| e.to_string())?;
            m.storage_failed = false;
            if let Some(up_to) = up_to {
                m.durable = m.durable.max(up_to);
                self.deliver(sid, Input::Persisted { up_to });
            }
        }
        let seed = self.opts.seed;
        let m = self.members.get_mut(&sid).expect("member");
        if !m.dir_failed {
            return Ok(());
        }
        m.disk.probe().map_err(|e| e.to_string())?;
        if let Some(to) = m.pending_truncate {
            m.disk.truncate(to).map_err(|e| e.to_string())?;
            m.pending_truncate = None;
        }
        // As the shell's reload, which waits for the storage thread (a barrier): what was
        // appended before the failure is committed first, so that the reloaded state has it
        // and no later commit puts it in the log behind the reload (a DIFF then logged the
        // same zxids again after it, and a replay read the stale ones: finding 22).
        let committed = m.disk.commit().map_err(|e| e.to_string())?;
        // What came with the failed write was dropped, txns included: the state is what
        // the disk holds.
        let empty = Replica::new(false, seed ^ sid.0 as u64, true);
        let replica = m
            .disk
            .reload(Zxid(i64::MAX), empty)
            .map_err(|e| e.to_string())?;
        m.durable = m.durable.min(replica.last_processed_zxid());
        self.deliver(sid, Input::Reloaded(Box::new(replica)));
        if let Some(up_to) = committed {
            let m = self.members.get_mut(&sid).expect("member");
            m.durable = m.durable.max(up_to);
            self.deliver(sid, Input::Persisted { up_to });
        }
        let m = self.members.get_mut(&sid).expect("member");
        let Some(node) = m.node.as_mut() else {
            return Err("down".into());
        };
        let held = node.epochs().unwrap_or((0, 0));
        let (accepted, current) = m.disk.epochs_or(held).map_err(|e| e.to_string())?;
        node.restore_epochs(accepted, current);
        m.dir_failed = false;
        Ok(())
    }
}
