//! Durability in the tokio shell: recovery at startup and the storage thread that
//! group-commits the transaction log, both thin wrappers over `menagerie-host` (which holds
//! the logic, shared with a simulator) in ZooKeeper's own on-disk formats.
//!
//! * **Recovery** ([`recover`]): [`menagerie_host::recover()`] with the log options of the
//!   configuration: the newest readable snapshot, then log replay. A torn tail is cut back to
//!   the last whole entry; a checksum failure in the middle of a log stops startup with the
//!   file and offset.
//! * **Group commit** ([`StorageThread`]): the shell hands over the txns of one batch; the
//!   thread takes everything queued, has [`LogExecutor`] append it all and fsync once, and
//!   reports the highest durable zxid. Replies wait for that report. If the disk fails,
//!   nothing more is acknowledged.
//! * **Fsync statistics** ([`FsyncStats`], in [`Recovered::fsync_stats`]): the log times
//!   every commit's fsync; one slower than `fsync.warningthresholdms` is logged as a warning
//!   naming the file and duration, and counted. Metrics and admin commands read the counters
//!   with [`FsyncStats::snapshot`] from any thread.

use std::sync::Arc;

use menagerie_core::{Node, Now};
use menagerie_host::{LogExecutor, LogWork, RecoveryError, RecoveryOptions};
use menagerie_storage::{DataDirs, Fs, TxnLog, TxnLogOptions};
use tokio::sync::mpsc;

use crate::config::ServerConfig;
use crate::inbox::ToShell;

/// The transaction log's fsync counters: number of fsyncs, slow ones (over
/// `fsync.warningthresholdms`; ZooKeeper's `fsync_threshold_exceed_count`), total and maximum
/// time, and a histogram over [`FSYNC_BUCKET_BOUNDS_MS`]. Shared as an `Arc`; lock-free.
pub use menagerie_storage::txnlog::{FSYNC_BUCKET_BOUNDS_MS, FsyncStats, FsyncStatsSnapshot};

/// The data directories and the open log, as recovery leaves them.
pub struct Recovered {
    /// The directories.
    pub dirs: DataDirs,
    /// The transaction log, positioned after its last entry.
    pub log: TxnLog,
    /// Txns replayed from the log.
    pub replayed: u64,
    /// The counters the log's commits record every fsync in (clone the `Arc` to read them
    /// from elsewhere, e.g. `/metrics`).
    pub fsync_stats: Arc<FsyncStats>,
}

fn log_options(config: &ServerConfig, fsync_stats: &Arc<FsyncStats>) -> TxnLogOptions {
    TxnLogOptions {
        force_sync: config.force_sync,
        pre_alloc_size: config.pre_alloc_size,
        // The log's own limit, never below what a request of jute.maxbuffer bytes can make.
        max_entry_len: menagerie_storage::MAX_ENTRY_LEN.max(config.max_buffer + 1024),
        fsync_warning_threshold: std::time::Duration::from_millis(
            config.fsync_warning_threshold_ms,
        ),
        fsync_stats: Some(Arc::clone(fsync_stats)),
        ..TxnLogOptions::default()
    }
}

/// Loads the newest snapshot and replays the log into `server` (see
/// [`menagerie_host::recover()`]).
pub fn recover(
    config: &ServerConfig,
    fs: Arc<dyn Fs>,
    server: &mut Node,
    now: Now,
) -> Result<Recovered, RecoveryError> {
    let dirs = DataDirs::new(fs, &config.data_dir, Some(&config.data_log_dir));
    let fsync_stats = Arc::new(FsyncStats::new());
    let options = RecoveryOptions {
        log: log_options(config, &fsync_stats),
        extended_types: config.extended_types,
    };
    let recovered = menagerie_host::recover(&dirs, options, server, now)?;
    Ok(Recovered {
        dirs,
        log: recovered.log,
        replayed: recovered.replayed,
        fsync_stats,
    })
}

/// The thread that owns the transaction log.
pub struct StorageThread {
    tx: std::sync::mpsc::Sender<LogWork>,
}

impl StorageThread {
    /// Starts the thread. It publishes the highest durable zxid on `durable` (a watch, so
    /// the shell sees it ahead of queued client input and several reports coalesce) and
    /// reports a failure to `shell`.
    pub fn start(
        log: TxnLog,
        durable: tokio::sync::watch::Sender<i64>,
        shell: mpsc::Sender<ToShell>,
    ) -> StorageThread {
        let (tx, rx) = std::sync::mpsc::channel::<LogWork>();
        std::thread::Builder::new()
            .name("menagerie-storage".into())
            .spawn(move || run(LogExecutor::new(log), &rx, &durable, &shell))
            .map(|_| ())
            .unwrap_or_else(|e| tracing::error!(error = %e, "cannot start the storage thread"));
        StorageThread { tx }
    }

    /// Queues work; false if the thread is gone.
    pub fn send(&self, work: LogWork) -> bool {
        self.tx.send(work).is_ok()
    }
}

/// The storage thread's loop: until the shell is gone, take everything queued and execute
/// it as one batch (one fsync).
fn run(
    mut log: LogExecutor,
    rx: &std::sync::mpsc::Receiver<LogWork>,
    durable: &tokio::sync::watch::Sender<i64>,
    shell: &mpsc::Sender<ToShell>,
) {
    while let Ok(first) = rx.recv() {
        // Take everything already queued: one fsync for all of it.
        let mut batch = vec![first];
        batch.extend(rx.try_iter());
        match log.execute(batch) {
            Ok(Some(up_to)) => {
                if durable.send(up_to).is_err() {
                    return;
                }
            }
            Ok(None) => {}
            Err(e) => {
                // Never acknowledge what may not be durable: stop here. Reads go on.
                tracing::error!(error = %e, "transaction log write failed; no further writes will be acknowledged");
                let _ = shell.blocking_send(ToShell::StorageFailed(e));
            }
        }
    }
    let _ = log.close();
}
