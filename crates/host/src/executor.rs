//! The transaction-log executor: carries out the storage work the core asks for (append
//! these txns, roll to a new file before a snapshot) on a [`TxnLog`], one fsync per batch
//! (group commit), and says up to which zxid the log is durable.
//!
//! It never acknowledges what may not be durable. When a write fails, the work not yet
//! durable is kept, in order, with everything handed over later; [`LogExecutor::retry`]
//! brings the log back to its last durable entry and does that work again (ZooKeeper's
//! server dies on a failed log write; Menagerie serves reads meanwhile and comes back by
//! itself once the disk works again).

use std::collections::VecDeque;
use std::sync::Arc;

use menagerie_proto::txn::LoggedTxn;
use menagerie_storage::TxnLog;
use thiserror::Error;

/// Work for the log.
#[derive(Debug, Clone)]
pub enum LogWork {
    /// Append these txns and make them durable.
    Append(Vec<Arc<LoggedTxn>>),
    /// Start a new log file (before a snapshot), after making what is buffered durable.
    Roll,
    /// Cut the log after this zxid (a learner told to TRUNC, or one that took a SNAP); what
    /// follows is appended after the cut.
    Truncate(i64),
    /// Report, once everything queued before it is done, on this channel.
    Barrier(std::sync::mpsc::SyncSender<()>),
}

/// The log could not be written; nothing after the last reported zxid is durable.
#[derive(Debug, Error)]
pub enum LogError {
    /// Appending a txn failed.
    #[error("appending txn {zxid:#x} to the transaction log failed: {source}")]
    Append {
        /// The txn being appended.
        zxid: i64,
        /// What the file system said.
        #[source]
        source: menagerie_storage::Error,
    },
    /// Flushing and fsyncing the appended txns failed.
    #[error("committing (fsync) the transaction log failed: {source}")]
    Commit {
        /// What the file system said.
        #[source]
        source: menagerie_storage::Error,
    },
    /// Starting a new log file failed.
    #[error("rolling the transaction log to a new file failed: {source}")]
    Roll {
        /// What the file system said.
        #[source]
        source: menagerie_storage::Error,
    },
    /// Bringing the log back to its last durable entry after a failure failed.
    #[error("bringing the transaction log back to its last durable entry failed: {source}")]
    Recover {
        /// What the file system said.
        #[source]
        source: menagerie_storage::Error,
    },
    /// Truncating the log failed.
    #[error("truncating the transaction log after {zxid:#x} failed: {source}")]
    Truncate {
        /// The last zxid to keep.
        zxid: i64,
        /// What the file system said.
        #[source]
        source: menagerie_storage::Error,
    },
}

/// Executes [`LogWork`] on the transaction log.
#[derive(Debug)]
pub struct LogExecutor {
    log: TxnLog,
    /// Work not yet done durably, in order: a failed batch and what came after it.
    pending: VecDeque<LogWork>,
    failed: bool,
}

impl LogExecutor {
    /// An executor appending to `log` (as recovery left it).
    pub fn new(log: TxnLog) -> LogExecutor {
        LogExecutor {
            log,
            pending: VecDeque::new(),
            failed: false,
        }
    }

    /// Whether a write failed and [`LogExecutor::retry`] has not succeeded since: work
    /// handed over meanwhile waits.
    pub fn has_failed(&self) -> bool {
        self.failed
    }

    /// Carries out `batch` in order with one fsync at the end (and one before each roll,
    /// truncation or barrier that follows appends). Returns the highest zxid now durable,
    /// or `None` when the batch appended nothing. After a failure the work waits, in order,
    /// for [`LogExecutor::retry`] (`Ok(None)`).
    pub fn execute(&mut self, batch: Vec<LogWork>) -> Result<Option<i64>, LogError> {
        self.pending.extend(batch);
        if self.failed {
            return Ok(None);
        }
        self.run_pending(false)
    }

    /// After a failure: brings the log back to its last durable entry, then does the work
    /// that waits (what had not become durable, and everything handed over since). Returns
    /// as [`LogExecutor::execute`]; on an error the executor stays failed.
    pub fn retry(&mut self) -> Result<Option<i64>, LogError> {
        if !self.failed {
            return Ok(None);
        }
        self.log
            .recover_after_failure()
            .map_err(|source| LogError::Recover { source })?;
        self.failed = false;
        self.run_pending(true)
    }

    fn run_pending(&mut self, retry: bool) -> Result<Option<i64>, LogError> {
        let result = self.write(retry);
        self.failed = result.is_err();
        if result.is_ok() {
            self.pending.clear();
        }
        result
    }

    /// Carries out the pending work. Work is dropped from `pending` only once it is durable
    /// (appends after their commit); on a `retry`, txns already durable (the failure came
    /// later in the batch) are not appended again, but count as durable.
    fn write(&mut self, retry: bool) -> Result<Option<i64>, LogError> {
        let mut up_to = None;
        // Items [0, next) are carried out; appends among them wait for a commit.
        let mut next = 0;
        let mut unsynced = false;
        while next < self.pending.len() {
            let appends = matches!(self.pending[next], LogWork::Append(_));
            if !appends && unsynced {
                self.commit()?;
                self.pending.drain(..next);
                next = 0;
                unsynced = false;
            }
            match &self.pending[next] {
                LogWork::Append(txns) => {
                    for t in txns {
                        let zxid = t.zxid().0;
                        if !retry || zxid > self.log.last_synced_zxid() {
                            self.log
                                .append(zxid, &t.to_bytes())
                                .map_err(|source| LogError::Append { zxid, source })?;
                            unsynced = true;
                        }
                        up_to = Some(up_to.map_or(zxid, |u: i64| u.max(zxid)));
                    }
                }
                LogWork::Roll => self
                    .log
                    .roll()
                    .map_err(|source| LogError::Roll { source })?,
                LogWork::Truncate(zxid) => {
                    let zxid = *zxid;
                    self.truncate(zxid)?;
                    // Appends the cut removed are not durable: reporting them would tell the
                    // core that txns it hands to the log again later are already on disk.
                    up_to = up_to.map(|z| z.min(zxid));
                }
                LogWork::Barrier(done) => {
                    let _ = done.try_send(());
                }
            }
            next += 1;
            if !unsynced {
                self.pending.drain(..next);
                next = 0;
            }
        }
        if unsynced {
            // Timed, counted in the FsyncStats and, if slow, logged by the log itself.
            self.commit()?;
        }
        Ok(up_to)
    }

    /// Cuts the log after `zxid`; a log with no file yet has nothing to cut.
    fn truncate(&mut self, zxid: i64) -> Result<(), LogError> {
        match self.log.truncate(zxid) {
            Ok(()) | Err(menagerie_storage::Error::NoLogToTruncate { .. }) => Ok(()),
            Err(source) => Err(LogError::Truncate { zxid, source }),
        }
    }

    fn commit(&mut self) -> Result<(), LogError> {
        self.log
            .commit()
            .map(|_| ())
            .map_err(|source| LogError::Commit { source })
    }

    /// Flushes and closes the log.
    pub fn close(self) -> Result<(), menagerie_storage::Error> {
        self.log.close()
    }
}
