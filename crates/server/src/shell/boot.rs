//! Starting the core: the clock the shell reads, the core's configuration from zoo.cfg, and
//! recovery of its data (the one place the shell builds a core).

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use menagerie_core::{CoreConfig, Node, Now};
use menagerie_proto::Zxid;
use menagerie_storage::{DataDirs, EpochFile};

use crate::config::ServerConfig;
use crate::persistence::Recovered;
use crate::security_config::random_u64;

/// Clock readings relative to the shell's start.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: Instant,
}

impl Clock {
    /// A clock starting now.
    pub fn start() -> Clock {
        Clock {
            start: Instant::now(),
        }
    }

    /// The current readings.
    pub fn now(&self) -> Now {
        Now {
            mono_ms: self.start.elapsed().as_millis() as u64,
            wall_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64),
        }
    }

    /// The tokio instant of a monotonic reading (`Now::mono_ms`), e.g. the core's next
    /// deadline.
    pub fn instant(&self, mono_ms: u64) -> tokio::time::Instant {
        tokio::time::Instant::from_std(self.start) + std::time::Duration::from_millis(mono_ms)
    }
}

/// The core's configuration for the server `config` describes (a standalone server, or an
/// ensemble member with its sid and the ensemble), started at `boot`.
pub fn core_config(config: &ServerConfig, boot: Now) -> CoreConfig {
    CoreConfig {
        server_id: config
            .quorum
            .as_ref()
            .map_or(menagerie_proto::ServerId(1), |q| q.my_id),
        tick_ms: config.tick_ms,
        min_session_timeout_ms: config.min_session_timeout_ms,
        max_session_timeout_ms: config.max_session_timeout_ms,
        extended_types: config.extended_types,
        seed: boot.wall_ms as u64,
        snap_count: config.snap_count,
        ensemble: config.quorum.as_ref().map(|q| q.ensemble()),
        reaper: config.reaper,
        auth: menagerie_core::auth::AuthConfig {
            nonce_secret: random_u64(),
            ..config.auth.clone()
        },
        enforce_quota: config.enforce_quota,
        digest_enabled: config.digest_enabled,
        read_only_mode: config.read_only_mode,
        local_sessions: config.local_sessions,
        local_sessions_upgrading: config.local_sessions_upgrading,
    }
}

/// Builds the core from `config` and recovers its data from the data directories (and, for
/// an ensemble member, its epoch files).
pub fn recover(
    config: &ServerConfig,
    fs: Arc<dyn menagerie_storage::Fs>,
    clock: &Clock,
) -> Result<(Node, Recovered), BootError> {
    let boot = clock.now();
    let mut server = Node::new(core_config(config, boot), boot);
    let recovered = crate::persistence::recover(config, fs, &mut server, boot)?;
    if config.quorum.is_some() {
        let (accepted, current) = restore_epochs(&recovered.dirs, server.last_processed_zxid())?;
        tracing::info!(accepted, current, "epochs loaded");
        server.restore_epochs(accepted, current);
    }
    Ok((server, recovered))
}

/// Why the core could not be built from the data directories.
#[derive(Debug, thiserror::Error)]
pub enum BootError {
    /// The data directory could not be read or recovered.
    #[error(transparent)]
    Data(#[from] menagerie_host::RecoveryError),
    /// An ensemble member's epoch files are missing pieces or contradict its data.
    #[error(transparent)]
    Epoch(#[from] EpochError),
}

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
