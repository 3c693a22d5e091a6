//! The transaction-log executor: carries out the storage work the core asks for (append
//! these txns, roll to a new file before a snapshot) on a [`TxnLog`], one fsync per batch
//! (group commit), and says up to which zxid the log is durable.
//!
//! It never acknowledges what may not be durable: after the first failure it stops writing
//! for good and reports nothing more as durable (ZooKeeper's server dies then; Menagerie
//! goes on serving reads).

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
    failed: bool,
}

impl LogExecutor {
    /// An executor appending to `log` (as recovery left it).
    pub fn new(log: TxnLog) -> LogExecutor {
        LogExecutor { log, failed: false }
    }

    /// Whether a write failed: the executor then ignores all further work.
    pub fn has_failed(&self) -> bool {
        self.failed
    }

    /// Carries out `batch` in order with one fsync at the end (and one before each roll
    /// that follows appends). Returns the highest zxid now durable, or `None` when the batch
    /// appended nothing (or the executor has failed before).
    pub fn execute(&mut self, batch: Vec<LogWork>) -> Result<Option<i64>, LogError> {
        if self.failed {
            return Ok(None);
        }
        let result = self.write(batch);
        self.failed = result.is_err();
        result
    }

    fn write(&mut self, batch: Vec<LogWork>) -> Result<Option<i64>, LogError> {
        let mut up_to = None;
        for work in batch {
            match work {
                LogWork::Append(txns) => {
                    for t in txns {
                        let zxid = t.zxid().0;
                        self.log
                            .append(zxid, &t.to_bytes())
                            .map_err(|source| LogError::Append { zxid, source })?;
                        up_to = Some(zxid);
                    }
                }
                LogWork::Roll => {
                    if up_to.is_some() {
                        self.commit()?;
                    }
                    self.log
                        .roll()
                        .map_err(|source| LogError::Roll { source })?;
                }
                LogWork::Truncate(zxid) => {
                    if up_to.is_some() {
                        self.commit()?;
                    }
                    self.truncate(zxid)?;
                }
                LogWork::Barrier(done) => {
                    if up_to.is_some() {
                        self.commit()?;
                    }
                    let _ = done.send(());
                }
            }
        }
        if up_to.is_some() {
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
