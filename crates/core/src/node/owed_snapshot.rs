//! A tree a leader's snapshot replaced (a SNAP sync) is in memory only until a snapshot of
//! it is written: the log holds nothing of the history below it, so a restart before that
//! would replay what was logged after it over an older tree. Until then nothing logged after
//! it counts as durable history: a learner acknowledges NEWLEADER only after that snapshot,
//! and a leader establishes its epoch only after it (`ZabState::snapshot_owed`).

use menagerie_proto::Zxid;

use super::ensemble::Role;
use super::{Node, SnapshotFor};
use crate::input::Now;
use crate::output::{Output, SnapshotMode};
use crate::zab::action::Actions;
use crate::zab::leader::SyncContext;

impl Node {
    /// The generation of the tree: raised each time a SNAP sync or a reload replaces it.
    pub(super) fn tree_generation(&self) -> u64 {
        self.zab.as_ref().map_or(0, |z| z.tree_generation)
    }

    /// Asks for a snapshot of the tree if it is owed to the disk and none of this tree is
    /// on its way already (a learner that left before its SNAP sync's snapshot was written).
    pub(super) fn ask_owed_snapshot(&mut self, out: &mut Vec<Output>) {
        let Some(zab) = &self.zab else {
            return;
        };
        let generation = zab.tree_generation;
        let asked = self
            .snapshots_asked
            .iter()
            .any(|a| a.generation == generation);
        if zab.snapshot_owed && !asked && !self.read_only {
            tracing::info!("the tree from the leader's snapshot is not on disk yet: snapshot");
            if self.replica.last_processed_zxid().epoch() > zab.current_epoch {
                // The snapshot holds txns of an epoch above currentEpoch: a restart must
                // adopt that epoch (as after a sync logged under the marker).
                out.push(Output::UpdatingEpoch(true));
            }
            self.ask_snapshot(SnapshotFor::Owed, SnapshotMode::Whole, out);
        }
    }

    /// A snapshot of the current tree, holding at least `zxid`, was written: a tree owed to
    /// the disk is durable now, and the role waiting for it goes on.
    pub(super) fn tree_written(&mut self, now: Now, zxid: Zxid, out: &mut Vec<Output>) {
        let Some(zab) = self.zab.as_mut() else {
            return;
        };
        let was_owed = std::mem::replace(&mut zab.snapshot_owed, false);
        if was_owed {
            zab.durable = zab.durable.max(zxid.min(zab.last_logged));
            tracing::info!(zxid = %zxid, "the tree from the leader's snapshot is on disk now");
        }
        let mut acts = Actions::new();
        match (&mut self.role, &self.zab) {
            (Role::Learning(l), _) => l.snapshot_written(&mut acts),
            (Role::Leading(l), Some(zab)) if was_owed => {
                let ctx = SyncContext {
                    config: &zab.config,
                    committed: &zab.committed,
                    last_committed: self.replica.last_processed_zxid(),
                };
                l.persisted(now.mono_ms, zab.durable, ctx, &mut acts);
            }
            _ => {}
        }
        self.exec(now, acts, out);
    }
}
