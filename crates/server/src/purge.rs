//! Autopurge: a background task that keeps the newest `autopurge.snapRetainCount` snapshots
//! and the transaction logs needed to replay after them, and deletes the rest, every
//! `autopurge.purgeInterval` (ZooKeeper: `DatadirCleanupManager`, `PurgeTxnLog.purge`; spec
//! 10.7). As in ZooKeeper 3.8 the first purge runs at startup and then once per interval.
//! Disabled (no task) when the interval is 0.

use std::time::Duration;

use menagerie_storage::DataDirs;
use menagerie_storage::datadir::PurgeReport;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Runs one purge, logging what it removed (each file is also logged by `DataDirs::purge`).
pub fn purge_once(dirs: &DataDirs, retain: usize) -> Result<PurgeReport, menagerie_storage::Error> {
    let report = dirs.purge(retain)?;
    if report.snapshots.is_empty() && report.logs.is_empty() {
        tracing::info!(retain, "autopurge: nothing to remove");
    } else {
        tracing::info!(
            retain,
            snapshots = report.snapshots.len(),
            logs = report.logs.len(),
            removed = ?report
                .snapshots
                .iter()
                .chain(&report.logs)
                .filter_map(|p| p.file_name())
                .collect::<Vec<_>>(),
            "autopurge: removed old snapshots and transaction logs"
        );
    }
    Ok(report)
}

/// Starts the purge task if `interval` is set; it stops when `shutdown` turns true. The
/// file work runs on tokio's blocking pool.
pub fn spawn(
    dirs: DataDirs,
    retain: usize,
    interval: Option<Duration>,
    mut shutdown: watch::Receiver<bool>,
) -> Option<JoinHandle<()>> {
    let Some(interval) = interval else {
        tracing::info!("autopurge: purge task is not scheduled (autopurge.purgeInterval is 0)");
        return None;
    };
    tracing::info!(
        snap_retain_count = retain,
        interval_ms = interval.as_millis() as u64,
        "autopurge: purge task scheduled"
    );
    Some(tokio::spawn(async move {
        loop {
            if *shutdown.borrow() {
                return;
            }
            let d = dirs.clone();
            match tokio::task::spawn_blocking(move || purge_once(&d, retain)).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "autopurge: error while purging"),
                Err(e) => tracing::error!(error = %e, "autopurge: purge task failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                r = shutdown.changed() => if r.is_err() { return },
            }
        }
    }))
}
