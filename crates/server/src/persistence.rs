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
//!   reports the highest durable zxid. Replies wait for that report. If the disk fails
//!   (full, no file descriptors left, an I/O error), nothing more is acknowledged: the thread
//!   reports the failure, keeps the work not yet durable and everything queued after it, and
//!   retries with a backoff ([`RETRY_FIRST`] doubling to [`RETRY_MAX`]), each time bringing
//!   the log back to its last durable entry first. When a retry succeeds it logs how long
//!   the storage was down and reports it recovered.
//! * **Fsync statistics** ([`FsyncStats`], in [`Recovered::fsync_stats`]): the log times
//!   every commit's fsync; one slower than `fsync.warningthresholdms` is logged as a warning
//!   naming the file and duration, and counted. Metrics and admin commands read the counters
//!   with [`FsyncStats::snapshot`] from any thread.

use std::sync::Arc;
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

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

/// The first retry after a failed log write comes this long after it.
pub const RETRY_FIRST: Duration = Duration::from_millis(100);
/// Retries back off, doubling, up to this interval.
pub const RETRY_MAX: Duration = Duration::from_secs(5);

/// The thread that owns the transaction log.
pub struct StorageThread {
    tx: std::sync::mpsc::Sender<LogWork>,
}

impl StorageThread {
    /// Starts the thread. It publishes the highest durable zxid on `durable` (a watch, so
    /// the shell sees it ahead of queued client input and several reports coalesce) and
    /// reports a failure, and the recovery that follows it, to `shell`.
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

/// A failure of the log not yet recovered from.
struct Outage {
    since: Instant,
    /// The first error.
    error: String,
    next_try: Instant,
    backoff: Duration,
    retries: u64,
}

/// The storage thread's loop: until the shell is gone, take everything queued and execute
/// it as one batch (one fsync); after a failure, retry on schedule.
fn run(
    mut log: LogExecutor,
    rx: &std::sync::mpsc::Receiver<LogWork>,
    durable: &tokio::sync::watch::Sender<i64>,
    shell: &mpsc::Sender<ToShell>,
) {
    let mut outage: Option<Outage> = None;
    loop {
        let first = match &outage {
            None => match rx.recv() {
                Ok(w) => Some(w),
                Err(_) => break,
            },
            Some(o) => {
                match rx.recv_timeout(o.next_try.saturating_duration_since(Instant::now())) {
                    Ok(w) => Some(w),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            }
        };
        // Take everything already queued: one fsync for all of it.
        let mut batch: Vec<LogWork> = first.into_iter().collect();
        batch.extend(rx.try_iter());
        let mut result = log.execute(batch);
        if outage
            .as_ref()
            .is_some_and(|o| Instant::now() >= o.next_try)
        {
            result = log.retry();
        }
        match result {
            Ok(up_to) => {
                if let Some(up_to) = up_to
                    && durable.send(up_to).is_err()
                {
                    return;
                }
                if !log.has_failed()
                    && let Some(o) = outage.take()
                {
                    recovered(&o, shell);
                }
            }
            Err(e) => match outage.as_mut() {
                None => {
                    // Never acknowledge what may not be durable. Reads go on.
                    tracing::error!(error = %e, "transaction log write failed; writes wait and are not acknowledged until the disk works again (retrying)");
                    outage = Some(Outage {
                        since: Instant::now(),
                        error: e.to_string(),
                        next_try: Instant::now() + RETRY_FIRST,
                        backoff: RETRY_FIRST,
                        retries: 0,
                    });
                    let _ = shell.blocking_send(ToShell::StorageFailed(e));
                }
                Some(o) => {
                    o.retries += 1;
                    o.backoff = (o.backoff * 2).min(RETRY_MAX);
                    o.next_try = Instant::now() + o.backoff;
                    crate::throttled_warn!(
                        error = %e,
                        retries = o.retries,
                        down_ms = o.since.elapsed().as_millis() as u64,
                        "transaction log still failing; retrying"
                    );
                }
            },
        }
    }
    let _ = log.close();
}

/// Says that the storage is back, with how long it was down and why.
fn recovered(o: &Outage, shell: &mpsc::Sender<ToShell>) {
    let down = o.since.elapsed();
    tracing::info!(
        down_ms = down.as_millis() as u64,
        retries = o.retries + 1,
        error = %o.error,
        "storage is back after {:.1} s: writes are acknowledged again",
        down.as_secs_f64()
    );
    let _ = shell.blocking_send(ToShell::StorageRecovered { down });
}
