//! Quota usage kept by the tree: `/zookeeper/quota<P>/zookeeper_stats` follows every write
//! under `P` (ZooKeeper: `DataTree.updateQuotaStat`).

use super::{DataTree, NIL};
use crate::path;

/// Where quota nodes live.
const QUOTA_ROOT: &str = "/zookeeper/quota";
/// Name of the limits node of a quota.
const QUOTA_LIMITS: &str = "zookeeper_limits";
/// Name of the usage node of a quota.
const QUOTA_STATS: &str = "zookeeper_stats";

/// For `/zookeeper/quota<P>/zookeeper_limits` or `.../zookeeper_stats`: `(P, name)`.
pub(super) fn quota_node(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix(QUOTA_ROOT)?;
    let name = path::name(rest);
    if name != QUOTA_LIMITS && name != QUOTA_STATS {
        return None;
    }
    let root = path::parent(rest);
    (rest.starts_with('/') && root != "/").then_some((root, name))
}

/// Parses `count=<c>,bytes=<b>[...]` (ZooKeeper's `StatsTrack`); missing values read as 0.
pub(super) fn parse_quota_usage(data: &[u8]) -> (i64, i64) {
    let text = String::from_utf8_lossy(data);
    let (mut count, mut bytes) = (0, 0);
    for piece in text.split([',', ';']) {
        let mut kv = piece.splitn(2, '=');
        let key = kv.next().unwrap_or_default();
        let value = kv
            .next()
            .and_then(|v| v.trim_end_matches('=').parse().ok())
            .unwrap_or(0);
        match key {
            "count" => count = value,
            "bytes" => bytes = value,
            _ => {}
        }
    }
    (count, bytes)
}

impl DataTree {
    /// `/zookeeper/quota<root>/zookeeper_limits`.
    pub fn quota_limits_path(root: &str) -> String {
        format!("{QUOTA_ROOT}{root}/{QUOTA_LIMITS}")
    }

    /// `/zookeeper/quota<root>/zookeeper_stats`.
    pub fn quota_stats_path(root: &str) -> String {
        format!("{QUOTA_ROOT}{root}/{QUOTA_STATS}")
    }

    /// The quota root governing `path`: the longest quota path that is `path` or an ancestor
    /// of it (ZooKeeper: `getMaxPrefixWithQuota`; `/` never counts).
    pub fn quota_root_of(&self, path: &str) -> Option<String> {
        let mut cur = path;
        loop {
            if cur != "/" && self.quota_roots.contains(cur) {
                return Some(cur.to_owned());
            }
            if cur == "/" {
                return None;
            }
            cur = path::parent(cur);
        }
    }

    /// Adds `count` and `bytes` to the usage recorded for the quota governing `path`,
    /// rewriting only the stats node's data (no zxid, version or watch: spec 07 §7.3).
    pub(super) fn quota_update(&mut self, path: &str, count: i64, bytes: i64) {
        if path.starts_with(QUOTA_ROOT) {
            return;
        }
        let Some(root) = self.quota_root_of(path) else {
            return;
        };
        let stats_path = format!("{QUOTA_ROOT}{root}/{QUOTA_STATS}");
        let Some(id) = self.lookup(&stats_path) else {
            return;
        };
        let (c, b) = parse_quota_usage(self.nodes[id as usize].data().unwrap_or_default());
        self.overwrite_data(
            id,
            format!("count={},bytes={}", c + count, b + bytes).as_bytes(),
        );
    }

    pub(super) fn quota_created(&mut self, path: &str, len: i64) {
        match quota_node(path) {
            Some((root, QUOTA_LIMITS)) => {
                self.quota_roots.insert(root.to_owned());
            }
            Some((root, QUOTA_STATS)) => self.quota_recompute(root),
            _ => self.quota_update(path, 1, len),
        }
    }

    pub(super) fn quota_deleted(&mut self, path: &str, len: i64) {
        match quota_node(path) {
            Some((root, QUOTA_LIMITS)) => {
                self.quota_roots.remove(root);
            }
            Some(_) => {}
            None => self.quota_update(path, -1, -len),
        }
    }

    /// Recomputes the usage of the subtree at quota root `root` (the root included) into its
    /// stats node (ZooKeeper: `updateQuotaForPath`).
    pub(super) fn quota_recompute(&mut self, root: &str) {
        let (mut count, mut bytes) = (0i64, 0i64);
        if let Some(start) = self.lookup(root) {
            let mut stack = vec![start];
            while let Some(id) = stack.pop() {
                let n = &self.nodes[id as usize];
                count += 1;
                bytes += n.data_len() as i64;
                let mut c = n.first_child;
                while c != NIL {
                    stack.push(c);
                    c = self.nodes[c as usize].next_sibling;
                }
            }
        }
        if let Some(id) = self.lookup(&format!("{QUOTA_ROOT}{root}/{QUOTA_STATS}")) {
            self.overwrite_data(id, format!("count={count},bytes={bytes}").as_bytes());
        }
    }

    /// Rebuilds the quota roots and their usage from `/zookeeper/quota` (after a snapshot
    /// load; ZooKeeper: `setupQuota`).
    pub fn rebuild_quotas(&mut self) {
        let mut roots = Vec::new();
        self.for_each_preorder(|n| {
            if let Some((root, QUOTA_LIMITS)) = quota_node(n.path()) {
                roots.push(root.to_owned());
            }
        });
        self.quota_roots = roots.iter().cloned().collect();
        for r in roots {
            self.quota_recompute(&r);
        }
    }
}
