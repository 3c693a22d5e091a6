//! Quota enforcement (ZooKeeper 3.7+: `ZooKeeperServer.checkQuota`, spec 07 §7.4).
//!
//! The usage bookkeeping itself (the `zookeeper_stats` nodes) lives in [`crate::tree`]; this
//! module only decides whether a create or setData may proceed when `zookeeper.enforceQuota`
//! is on. As in ZooKeeper, the limits and the usage are read from the *committed* tree, not
//! from writes still in flight.

use menagerie_proto::ErrorCode;

use crate::tree::DataTree;

/// The values of a `StatsTrack` text (`count=..,bytes=..;byteHardLimit=..;countHardLimit=..`).
/// A missing key, or one with an empty or unreadable value, reads as -1 ("no limit").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatsTrack {
    /// `count`: nodes (usage) or the soft count limit.
    pub count: i64,
    /// `bytes`: data bytes (usage) or the soft byte limit.
    pub bytes: i64,
    /// `countHardLimit`.
    pub count_hard_limit: i64,
    /// `byteHardLimit`.
    pub byte_hard_limit: i64,
}

impl StatsTrack {
    /// Parses a limits or stats node's data (ZooKeeper: `new StatsTrack(byte[])`): pieces split
    /// on runs of `,` and `;`, each `key=value`; an empty value is -1.
    pub fn parse(data: &[u8]) -> StatsTrack {
        let mut s = StatsTrack {
            count: -1,
            bytes: -1,
            count_hard_limit: -1,
            byte_hard_limit: -1,
        };
        let text = String::from_utf8_lossy(data);
        for piece in text.split([',', ';']).filter(|p| !p.is_empty()) {
            let mut kv = piece.split('=');
            let key = kv.next().unwrap_or_default();
            let value = kv
                .next()
                .filter(|v| !v.is_empty())
                .and_then(|v| v.parse().ok())
                .unwrap_or(-1);
            match key {
                "count" => s.count = value,
                "bytes" => s.bytes = value,
                "countHardLimit" => s.count_hard_limit = value,
                "byteHardLimit" => s.byte_hard_limit = value,
                _ => {}
            }
        }
        s
    }
}

/// Checks a change of `count_diff` nodes and `bytes_diff` data bytes under `path` against
/// the quota governing it. Exceeding a soft limit is logged; exceeding a hard limit is
/// logged and refused with QuotaExceeded (-125).
pub fn check(
    tree: &DataTree,
    path: &str,
    count_diff: i64,
    bytes_diff: i64,
) -> Result<(), ErrorCode> {
    let Some(root) = tree.quota_root_of(path) else {
        return Ok(());
    };
    let Some(limits) = tree.get(&DataTree::quota_limits_path(&root)) else {
        tracing::error!(quota = %root, "missing limit node for quota");
        return Ok(());
    };
    let limits = StatsTrack::parse(limits.data().unwrap_or_default());
    let check_count = count_diff != 0 && (limits.count > -1 || limits.count_hard_limit > -1);
    let check_bytes = bytes_diff != 0 && (limits.bytes > -1 || limits.byte_hard_limit > -1);
    if !check_count && !check_bytes {
        return Ok(());
    }
    let Some(stats) = tree.get(&DataTree::quota_stats_path(&root)) else {
        tracing::error!(quota = %root, "missing stat node for quota");
        return Ok(());
    };
    let usage = StatsTrack::parse(stats.data().unwrap_or_default());
    let verdict = |what: &str, now: i64, soft: i64, hard: i64| {
        let is_hard = hard > -1;
        let limit = if is_hard { hard } else { soft };
        if now <= limit {
            return Ok(());
        }
        let kind = if is_hard { "hard" } else { "soft" };
        tracing::warn!("Quota exceeded: {root} [current {what}={now}, {kind} limit={limit}]");
        if is_hard {
            Err(ErrorCode::QuotaExceeded)
        } else {
            Ok(())
        }
    };
    if check_count {
        verdict(
            "count",
            usage.count.saturating_add(count_diff),
            limits.count,
            limits.count_hard_limit,
        )?;
    }
    if check_bytes {
        verdict(
            "bytes",
            usage.bytes.saturating_add(bytes_diff),
            limits.bytes,
            limits.byte_hard_limit,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_classic_and_hard_limit_formats() {
        assert_eq!(
            StatsTrack::parse(b"count=5,bytes=-1"),
            StatsTrack {
                count: 5,
                bytes: -1,
                count_hard_limit: -1,
                byte_hard_limit: -1
            }
        );
        // What zkCli 3.8 writes for `setquota -N 3 -B 100`.
        assert_eq!(
            StatsTrack::parse(b"count=-1,bytes=-1=;byteHardLimit=100;countHardLimit=3"),
            StatsTrack {
                count: -1,
                bytes: -1,
                count_hard_limit: 3,
                byte_hard_limit: 100
            }
        );
        assert_eq!(StatsTrack::parse(b"count=,bytes=x").count, -1);
        assert_eq!(StatsTrack::parse(b"").bytes, -1);
        assert_eq!(StatsTrack::parse(b";;,=,count").count, -1);
    }
}
