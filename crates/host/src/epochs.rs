//! A member's Zab epoch files at startup (ZooKeeper: `QuorumPeer.loadDataBase`; spec 09
//! §4.2): `currentEpoch` and `acceptedEpoch` read (or created from the last zxid), a sync
//! interrupted while being logged (the `updatingEpoch` marker) or an interrupted
//! `currentEpoch` update (`currentEpoch.tmp`) adopted, and the two checked against each
//! other and the data.

use menagerie_proto::Zxid;
use menagerie_storage::{DataDirs, EpochFile};

/// Why a member's epoch files stop it from starting.
#[derive(Debug, thiserror::Error)]
pub enum EpochError {
    /// An epoch file could not be read or written.
    #[error("epoch file: {0}")]
    Io(#[from] menagerie_storage::Error),
    /// The log holds txns of a later epoch than `currentEpoch` and no `currentEpoch.tmp`
    /// says the update was under way.
    #[error("the current epoch, {current}, is older than the last zxid, {last_zxid:#x}")]
    CurrentBehindLog {
        /// `currentEpoch`.
        current: i64,
        /// The last zxid loaded.
        last_zxid: i64,
    },
    /// `acceptedEpoch` < `currentEpoch`.
    #[error("the accepted epoch, {accepted}, is less than the current epoch, {current}")]
    AcceptedBehindCurrent {
        /// `acceptedEpoch`.
        accepted: i64,
        /// `currentEpoch`.
        current: i64,
    },
    /// An epoch does not fit in 32 bits.
    #[error("epoch {0} is out of range")]
    OutOfRange(i64),
}

/// Reads (creating when missing) `currentEpoch` and `acceptedEpoch` and checks them against
/// the last zxid loaded, as ZooKeeper does at startup (spec 09 §4.2).
pub fn restore_epochs(dirs: &DataDirs, last: Zxid) -> Result<(u32, u32), EpochError> {
    let of_zxid = i64::from(last.epoch());
    let mut current = match dirs.read_epoch(EpochFile::Current)? {
        Some(e) => e,
        None => {
            dirs.write_epoch(EpochFile::Current, of_zxid)?;
            of_zxid
        }
    };
    if dirs.epoch_update_marked() {
        // The process stopped while logging a sync, before `currentEpoch` named its epoch
        // (the learner acknowledges NEWLEADER, and writes the epoch, only once the sync is
        // durable): the log's last epoch is the one being adopted.
        if of_zxid > current {
            tracing::info!(
                epoch = of_zxid,
                "updatingEpoch found: adopting the epoch of the last zxid"
            );
            dirs.write_epoch(EpochFile::Current, of_zxid)?;
            current = of_zxid;
        }
        dirs.clear_epoch_update()?;
    }
    if of_zxid > current {
        let Some(tmp) = dirs.read_current_epoch_tmp()? else {
            return Err(EpochError::CurrentBehindLog {
                current,
                last_zxid: last.0,
            });
        };
        tracing::info!(
            epoch = tmp,
            "adopting currentEpoch.tmp left by an interrupted update"
        );
        dirs.write_epoch(EpochFile::Current, tmp)?;
        dirs.remove_current_epoch_tmp()?;
        current = tmp;
    }
    let accepted = match dirs.read_epoch(EpochFile::Accepted)? {
        Some(e) => e,
        None => {
            dirs.write_epoch(EpochFile::Accepted, of_zxid)?;
            of_zxid
        }
    };
    if accepted < current {
        return Err(EpochError::AcceptedBehindCurrent { accepted, current });
    }
    let fit = |e: i64| u32::try_from(e).map_err(|_| EpochError::OutOfRange(e));
    Ok((fit(accepted)?, fit(current)?))
}
