//! Fuzzy snapshots in the background, without stalling requests (ZooKeeper's
//! `SyncRequestProcessor` hands the snapshot to a thread in the same way).
//!
//! The encoding is `menagerie_host::snapshot`'s: the shell serializes the tree a slice at a
//! time between request batches ([`FuzzySnapshot::next_slice`]) and hands the encoded bytes
//! to a writer thread, which does all the file I/O ([`write_sliced`]: write, fsync, rename).
//! The writer's queue is small and the shell never waits for it: while the disk is behind,
//! the shell simply serializes nothing more. A snapshot that meets an ACL list created after
//! it started is abandoned ([`Progress::Abandoned`]); the shell's snapshot policy
//! (`menagerie_host::SnapshotPolicy`) retries it or writes one in one go.

use std::path::PathBuf;
use std::sync::Arc;

use menagerie_core::Node;
use menagerie_host::snapshot::{
    FuzzySnapshot, SLICE_NODES, Slice, SnapshotHeader, SnapshotPart, write_sliced,
};
use menagerie_storage::{DataDirs, Fs, ZxidDigest};
use tokio::sync::mpsc;

use crate::inbox::{SnapshotOutcome, ToShell};

/// Slices the writer may have queued before the shell pauses serialization.
const QUEUED_SLICES: usize = 8;

/// What one [`Snapshotter::step`] achieved.
#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    /// More slices to go.
    Walking,
    /// The writer's queue is full; try again later.
    Waiting,
    /// Every node was handed over; the writer reports the end with
    /// [`ToShell::SnapshotDone`].
    Finishing,
    /// A node's ACL list is not in the snapshot's ACL table: drop this snapshot.
    Abandoned,
}

/// A snapshot in progress.
pub struct Snapshotter {
    id: u64,
    snapshot: FuzzySnapshot,
    tx: Option<mpsc::Sender<SnapshotPart>>,
    /// The walk ended; the finish command (with this digest block) waits for room.
    finish: Option<Option<ZxidDigest>>,
    /// Every slice and the finish command were handed over.
    finishing: bool,
}

impl Snapshotter {
    /// Starts snapshot number `id` of the tree as it is now; the writer thread reports to
    /// `done`.
    pub fn start(
        id: u64,
        dirs: &DataDirs,
        server: &Node,
        done: mpsc::Sender<ToShell>,
    ) -> Snapshotter {
        let (snapshot, header) = FuzzySnapshot::start(server.replica());
        let (tx, rx) = mpsc::channel(QUEUED_SLICES);
        let fs = Arc::clone(dirs.fs());
        let snap_dir = dirs.snap_dir().to_path_buf();
        let spawned = std::thread::Builder::new()
            .name("snapshot".into())
            .spawn(move || {
                let outcome = write(fs, snap_dir, header, rx);
                let _ = done.blocking_send(ToShell::SnapshotDone { id, outcome });
            });
        let tx = match spawned {
            Ok(_) => Some(tx),
            Err(e) => {
                tracing::error!(error = %e, "cannot start the snapshot thread");
                None
            }
        };
        Snapshotter {
            id,
            snapshot,
            tx,
            finish: None,
            finishing: false,
        }
    }

    /// Which snapshot this is.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The zxid the snapshot is named after.
    pub fn zxid(&self) -> i64 {
        self.snapshot.zxid()
    }

    /// Whether a step could do something now (the writer has room for a slice).
    pub fn has_room(&self) -> bool {
        match &self.tx {
            Some(tx) => tx.capacity() > 0,
            // A writer that never started: the next step reports the snapshot abandoned.
            None => !self.finishing,
        }
    }

    /// Waits until the writer has room for a slice (never, once every slice is handed over).
    pub async fn room(&self) {
        match &self.tx {
            Some(tx) => {
                if let Ok(permit) = tx.reserve().await {
                    drop(permit);
                } else {
                    std::future::pending::<()>().await;
                }
            }
            None if self.finishing => std::future::pending().await,
            None => {}
        }
    }

    /// Serializes the next slice of the tree and hands it to the writer, if it has room.
    pub fn step(&mut self, server: &Node) -> Progress {
        let Some(tx) = &self.tx else {
            // No writer: either everything was handed over, or the thread never started.
            return if self.finishing {
                Progress::Finishing
            } else {
                Progress::Abandoned
            };
        };
        if self.finish.is_none() {
            let permit = match tx.try_reserve() {
                Ok(p) => p,
                Err(mpsc::error::TrySendError::Full(())) => return Progress::Waiting,
                Err(mpsc::error::TrySendError::Closed(())) => return Progress::Abandoned,
            };
            match self.snapshot.next_slice(server.replica(), SLICE_NODES) {
                Slice::More(nodes) => {
                    permit.send(SnapshotPart::Nodes(nodes));
                    return Progress::Walking;
                }
                Slice::Last(nodes, digest) => {
                    permit.send(SnapshotPart::Nodes(nodes));
                    self.finish = Some(digest);
                }
                Slice::Abandoned => {
                    // Dropping the sender makes the writer abandon the file.
                    drop(permit);
                    self.tx = None;
                    return Progress::Abandoned;
                }
            }
        }
        self.queue_finish()
    }

    /// Queues the finish command behind the last slice.
    fn queue_finish(&mut self) -> Progress {
        let (Some(tx), Some(digest)) = (self.tx.take(), self.finish) else {
            return Progress::Finishing;
        };
        if let Err(e) = tx.try_send(SnapshotPart::Finish(digest)) {
            tracing::warn!(error = %e, "snapshot finish not queued; retrying later");
            self.tx = Some(tx);
            return Progress::Waiting;
        }
        self.finishing = true;
        Progress::Finishing
    }
}

/// The writer thread: all of the snapshot's file I/O.
fn write(
    fs: Arc<dyn Fs>,
    snap_dir: PathBuf,
    header: SnapshotHeader,
    mut rx: mpsc::Receiver<SnapshotPart>,
) -> SnapshotOutcome {
    match write_sliced(fs, &snap_dir, header, || rx.blocking_recv()) {
        Ok(Some(path)) => SnapshotOutcome::Written(path),
        Ok(None) => SnapshotOutcome::Abandoned,
        Err(e) => SnapshotOutcome::Failed(e),
    }
}
