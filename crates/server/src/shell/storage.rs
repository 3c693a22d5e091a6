//! The shell's side of storage failures, and of the disk coming back.
//!
//! * **The log** fails on the storage thread (`crate::persistence`), which retries by itself
//!   and reports [`ToShell::StorageFailed`](crate::inbox::ToShell) and later
//!   `StorageRecovered`.
//! * **The data directory** (an ensemble member's epoch files and `updatingEpoch` marker,
//!   the snapshots a TRUNC removes, the state reloaded after it) is written by the shell
//!   itself. When that fails, the outputs the core produced with the failed write (the
//!   acknowledgement of an epoch that is not on disk, txns of the sync) are dropped, the
//!   core is told the storage failed (it leaves its role), and the shell probes the
//!   directory with a backoff; once a probe succeeds (and the log works) it finishes the cut
//!   that failed, reloads the state from disk, gives the core the epochs the files hold, and
//!   reports the storage recovered.
//!
//! The core leaves read-only (a standalone server) or elects again (a member) only when both
//! work.

use std::time::{Duration, Instant};

use menagerie_core::{Input, Now};
use menagerie_host::LogError;
use menagerie_proto::Zxid;
use menagerie_storage::EpochFile;

use super::Shell;
use crate::persistence::{RETRY_FIRST, RETRY_MAX};

/// Whether the storage works.
#[derive(Debug, Default)]
pub(super) struct StorageHealth {
    /// The log failed; the storage thread retries and says when it is back.
    log_failed: bool,
    /// The storage thread is gone: nothing will ever be durable again.
    log_gone: bool,
    /// The data directory failed.
    dir: Option<DirFailure>,
    /// A data-directory write failed while the core's outputs were being carried out: the
    /// rest of them are dropped.
    pub(super) discard_rest: bool,
}

#[derive(Debug)]
struct DirFailure {
    since: Instant,
    error: String,
    backoff: Duration,
    probe_at: tokio::time::Instant,
    /// A cut of the log whose snapshot removal must be done again.
    truncate: Option<Zxid>,
    retries: u64,
}

impl StorageHealth {
    /// Whether everything can be made durable.
    pub(super) fn ok(&self) -> bool {
        !self.log_failed && !self.log_gone && self.dir.is_none()
    }

    /// When the data directory is probed next.
    pub(super) fn probe_at(&self) -> Option<tokio::time::Instant> {
        self.dir.as_ref().map(|d| d.probe_at)
    }
}

impl Shell {
    pub(super) fn on_storage_failed(&mut self, now: Now, e: &LogError) {
        tracing::error!(error = %e, "storage failed: writes wait until the disk works again and new sessions are refused; reads are still served");
        self.health.log_failed = true;
        self.fail_storage(now);
    }

    pub(super) fn on_storage_recovered(&mut self, now: Now, down: Duration) {
        tracing::debug!(down_ms = down.as_millis() as u64, "the log works again");
        self.health.log_failed = false;
        self.storage_back(now);
    }

    /// The storage thread is gone: the server stays read-only.
    pub(super) fn storage_gone(&mut self, now: Now) {
        tracing::error!("the storage thread is gone; writes are no longer acknowledged");
        self.health.log_gone = true;
        self.fail_storage(now);
    }

    /// Writing the data directory failed (`what`); with `truncate`, the cut of the log that
    /// must be finished once it works.
    pub(super) fn dir_failed(
        &mut self,
        now: Now,
        what: &str,
        error: String,
        truncate: Option<Zxid>,
    ) {
        tracing::error!(
            error,
            what,
            "cannot write the data directory: leaving the role until it works again (retrying)"
        );
        self.health.discard_rest = true;
        match self.health.dir.as_mut() {
            Some(d) => d.truncate = truncate.or(d.truncate),
            None => {
                self.health.dir = Some(DirFailure {
                    since: Instant::now(),
                    error,
                    backoff: RETRY_FIRST,
                    probe_at: tokio::time::Instant::now() + RETRY_FIRST,
                    truncate,
                    retries: 0,
                })
            }
        }
        self.fail_storage(now);
    }

    fn fail_storage(&mut self, now: Now) {
        self.server.handle(now, Input::StorageFailed, &mut self.out);
    }

    /// Tells the core once both the log and the data directory work.
    fn storage_back(&mut self, now: Now) {
        if self.health.ok() {
            self.server
                .handle(now, Input::StorageRecovered, &mut self.out);
        }
    }

    /// Probes the data directory that failed; on success finishes what failed and reports
    /// the storage back, otherwise backs off.
    pub(super) fn probe_dir(&mut self, now: Now) {
        let Some(truncate) = self.health.dir.as_ref().map(|d| d.truncate) else {
            return;
        };
        match self.repair_dir(now, truncate) {
            Ok(()) => {
                if let Some(d) = self.health.dir.take() {
                    let down = d.since.elapsed();
                    tracing::info!(
                        down_ms = down.as_millis() as u64,
                        retries = d.retries + 1,
                        error = %d.error,
                        "data directory is back after {:.1} s",
                        down.as_secs_f64()
                    );
                }
                self.storage_back(now);
            }
            Err(e) => {
                if let Some(d) = self.health.dir.as_mut() {
                    d.retries += 1;
                    d.backoff = (d.backoff * 2).min(RETRY_MAX);
                    d.probe_at = tokio::time::Instant::now() + d.backoff;
                    crate::throttled_warn!(error = %e, retries = d.retries, "data directory still failing; retrying");
                }
            }
        }
    }

    /// Whether the directory takes writes again; then the unfinished cut is finished, the
    /// state is reloaded from disk (what the core produced with the failed write was
    /// dropped, its txns included: memory must not be ahead of the log) and the core gets
    /// the epochs the files hold (an epoch whose write failed was never acknowledged, so
    /// the member must not act on it).
    fn repair_dir(&mut self, now: Now, truncate: Option<Zxid>) -> Result<(), String> {
        self.dirs.probe().map_err(|e| e.to_string())?;
        if self.health.log_failed || self.health.log_gone {
            return Err("the log is failing too".into());
        }
        if let Some(to) = truncate {
            self.dirs
                .remove_snapshots_after(to.0)
                .map_err(|e| e.to_string())?;
            if let Some(d) = self.health.dir.as_mut() {
                d.truncate = None;
            }
        }
        let replica = self.reload(Zxid(i64::MAX))?;
        self.feed(now, Input::Reloaded(Box::new(replica)));
        let (accepted, current) = self.server.epochs().unwrap_or((0, 0));
        let read = |which, held: u32| -> Result<u32, String> {
            let on_disk = self.dirs.read_epoch(which).map_err(|e| e.to_string())?;
            Ok(on_disk.map_or(held, |e| e as u32))
        };
        let accepted = read(EpochFile::Accepted, accepted)?;
        let current = read(EpochFile::Current, current)?;
        self.server.restore_epochs(accepted, current);
        Ok(())
    }
}
