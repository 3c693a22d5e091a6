//! Fuzzy snapshots in the background, without stalling requests (ZooKeeper's
//! `SyncRequestProcessor` hands the snapshot to a thread in the same way).
//!
//! A snapshot is named after the zxid the tree is at when it starts. The shell serializes the
//! tree a slice at a time between request batches ([`FuzzyWalk`]: the tree may change
//! between slices) and hands the encoded bytes to a writer thread, which does all the file
//! I/O: write, fsync, rename. Replaying the log from the snapshot's zxid on makes the result
//! exact, as with ZooKeeper's fuzzy snapshots. The writer's queue is small and the shell
//! never waits for it: while the disk is behind, the shell simply serializes nothing more.
//!
//! The ACL table is written first, so a node whose ACL list did not exist (under the same
//! reference) when the snapshot started cannot be written correctly; the snapshot is then
//! abandoned ([`Progress::Abandoned`]) and the shell tries again or, after repeated
//! failures, writes a consistent snapshot in one go. The digest block holds the tree's
//! digest when the walk ended, with the zxid it was at (later than the file's name, as in
//! ZooKeeper); recovery checks it when replay reaches that zxid.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use menagerie_core::Node as Server;
use menagerie_core::walk::FuzzyWalk;
use menagerie_proto::records::Acl;
use menagerie_storage::snapshot::encode_node;
use menagerie_storage::{DataDirs, Fs, SnapshotNode, SnapshotTrailer, SnapshotWriter, ZxidDigest};
use tokio::sync::mpsc;

use crate::shell::ToShell;

/// Nodes serialized per slice.
const SLICE_NODES: usize = 4096;
/// Slices the writer may have queued before the shell pauses serialization.
const QUEUED_SLICES: usize = 8;

/// What the writer thread is told.
enum Cmd {
    /// Encoded nodes to append.
    Nodes(Vec<u8>),
    /// Every node was sent: write this digest block, seal, fsync and rename.
    Finish(Option<ZxidDigest>),
}

/// How a snapshot ended, reported to the shell as [`ToShell::SnapshotDone`].
#[derive(Debug)]
pub enum SnapshotOutcome {
    /// Written, synced and renamed into place.
    Written(PathBuf),
    /// Given up before completion (the temporary file is removed).
    Abandoned,
    /// The file system failed.
    Failed(String),
}

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
    zxid: i64,
    walk: FuzzyWalk,
    /// The ACL table as written, by reference (the open ACL is -1 and not in it).
    acls: HashMap<u32, Vec<Acl>>,
    open: Vec<Acl>,
    tx: Option<mpsc::Sender<Cmd>>,
    /// Every slice and the finish command were handed over.
    finishing: bool,
}

impl Snapshotter {
    /// Starts snapshot number `id` of the tree as it is now; the writer thread reports to
    /// `done`.
    pub fn start(
        id: u64,
        dirs: &DataDirs,
        server: &Server,
        done: mpsc::Sender<ToShell>,
    ) -> Snapshotter {
        let zxid = server.last_processed_zxid().0;
        let open = Acl::open_unsafe();
        let acls: HashMap<u32, Vec<Acl>> = server
            .tree()
            .acl_lists()
            .into_iter()
            .filter(|(_, l)| *l != open.as_slice())
            .map(|(r, l)| (r, l.to_vec()))
            .collect();
        let sessions = crate::persistence::snapshot_sessions(server);
        let mut table: Vec<(i64, Vec<Acl>)> = acls
            .iter()
            .map(|(r, l)| (i64::from(*r), l.clone()))
            .collect();
        table.sort_by_key(|(r, _)| *r);
        let (tx, rx) = mpsc::channel(QUEUED_SLICES);
        let fs = Arc::clone(dirs.fs());
        let snap_dir = dirs.snap_dir().to_path_buf();
        let spawned = std::thread::Builder::new()
            .name("snapshot".into())
            .spawn(move || {
                let outcome = write(fs, snap_dir, zxid, sessions, table, rx);
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
            zxid,
            walk: FuzzyWalk::new(),
            acls,
            open,
            tx,
            finishing: false,
        }
    }

    /// Which snapshot this is.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The zxid the snapshot is named after.
    pub fn zxid(&self) -> i64 {
        self.zxid
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
    pub fn step(&mut self, server: &Server) -> Progress {
        let Some(tx) = &self.tx else {
            // No writer: either everything was handed over, or the thread never started.
            return if self.finishing {
                Progress::Finishing
            } else {
                Progress::Abandoned
            };
        };
        let permit = match tx.try_reserve() {
            Ok(p) => p,
            Err(mpsc::error::TrySendError::Full(())) => return Progress::Waiting,
            Err(mpsc::error::TrySendError::Closed(())) => return Progress::Abandoned,
        };
        let tree = server.tree();
        let mut buf = Vec::with_capacity(SLICE_NODES * 128);
        let mut foreign_acl = false;
        let done = self.walk.step(tree, SLICE_NODES, |n| {
            let list = tree.acl(n);
            let acl = if list == self.open.as_slice() {
                -1
            } else if self.acls.get(&n.acl_ref()).is_some_and(|l| l == list) {
                i64::from(n.acl_ref())
            } else {
                foreign_acl = true;
                return;
            };
            let stat = n.stat_persisted();
            let path = if n.path() == "/" { "" } else { n.path() };
            encode_node(
                &mut buf,
                SnapshotNode {
                    path,
                    data: n.data(),
                    acl,
                    stat: &stat,
                },
            );
        });
        if foreign_acl {
            // Dropping the sender makes the writer abandon the file.
            drop(permit);
            self.tx = None;
            return Progress::Abandoned;
        }
        permit.send(Cmd::Nodes(buf));
        if !done {
            return Progress::Walking;
        }
        // The finish command waits in the queue behind the last slice.
        if let Some(tx) = self.tx.take()
            && let Err(e) = tx.try_send(Cmd::Finish(crate::persistence::snapshot_digest(server)))
        {
            tracing::warn!(error = %e, "snapshot finish not queued; retrying later");
            self.tx = Some(tx);
            return Progress::Waiting;
        }
        self.finishing = true;
        Progress::Finishing
    }

    /// Nodes serialized so far.
    pub fn nodes_written(&self) -> u64 {
        self.walk.visited()
    }
}

/// The writer thread: all of the snapshot's file I/O.
fn write(
    fs: Arc<dyn Fs>,
    snap_dir: PathBuf,
    zxid: i64,
    sessions: Vec<(i64, i32)>,
    acls: Vec<(i64, Vec<Acl>)>,
    mut rx: mpsc::Receiver<Cmd>,
) -> SnapshotOutcome {
    let run = || -> Result<Option<PathBuf>, menagerie_storage::Error> {
        let mut w = SnapshotWriter::create(fs, &snap_dir, zxid)?;
        w.sessions(sessions)?;
        w.acls(acls.iter().map(|(r, l)| (*r, l.as_slice())))?;
        while let Some(cmd) = rx.blocking_recv() {
            match cmd {
                Cmd::Nodes(bytes) => w.encoded_nodes(&bytes)?,
                Cmd::Finish(digest) => {
                    return w
                        .finish(&SnapshotTrailer {
                            digest,
                            last_processed_zxid: None,
                        })
                        .map(Some);
                }
            }
        }
        // The shell gave up on this snapshot: dropping the writer removes the file.
        Ok(None)
    };
    match run() {
        Ok(Some(path)) => SnapshotOutcome::Written(path),
        Ok(None) => SnapshotOutcome::Abandoned,
        Err(e) => SnapshotOutcome::Failed(e.to_string()),
    }
}
