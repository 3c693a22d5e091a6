//! Which container and TTL nodes are due for deletion (ZooKeeper: `ContainerManager`).
//!
//! The server turns each candidate into an ordinary `deleteContainer` write (session 0,
//! cxid 0), so reaping consumes zxids, is logged and replicated, and fires watches. Prep
//! re-checks emptiness, so a child created meanwhile makes the delete fail harmlessly.

use crate::tree::{DataTree, EphemeralType};

/// Reaping settings (`znode.container.*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReaperConfig {
    /// `znode.container.checkIntervalMs` (default 60,000).
    pub check_interval_ms: u64,
    /// `znode.container.maxPerMinute` (default 10,000): at most this many deletions per minute.
    pub max_per_minute: u64,
    /// `znode.container.maxNeverUsedIntervalMs` (default 0 = never reap containers that never
    /// had a child).
    pub max_never_used_interval_ms: i64,
}

impl Default for ReaperConfig {
    fn default() -> Self {
        ReaperConfig {
            check_interval_ms: 60_000,
            max_per_minute: 10_000,
            max_never_used_interval_ms: 0,
        }
    }
}

impl ReaperConfig {
    /// How many deletions one check may issue.
    pub fn max_per_check(&self) -> usize {
        let per_check = self.max_per_minute.saturating_mul(self.check_interval_ms) / 60_000;
        per_check.max(1) as usize
    }
}

/// Paths to delete at wall-clock time `now_ms`, in path order: empty containers that have
/// had a child (or were never used for longer than `max_never_used_interval_ms`, if set), and
/// childless TTL nodes not modified for longer than their TTL.
pub fn candidates(tree: &DataTree, now_ms: i64, config: &ReaperConfig) -> Vec<String> {
    let mut out = Vec::new();
    for p in tree.containers() {
        let Some(node) = tree.get(p) else { continue };
        if node.num_children() != 0 {
            continue;
        }
        let used = node.cversion > 0;
        let idle = config.max_never_used_interval_ms != 0
            && now_ms - node.mtime > config.max_never_used_interval_ms;
        if used || idle {
            out.push(p.clone());
        }
    }
    for p in tree.ttl_nodes() {
        let Some(node) = tree.get(p) else { continue };
        if node.num_children() != 0 {
            continue;
        }
        if let EphemeralType::Ttl(ttl) = tree.ephemeral_type(node)
            && ttl != 0
            && now_ms - node.mtime > ttl
        {
            out.push(p.clone());
        }
    }
    out.sort();
    out.truncate(config.max_per_check());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::{CONTAINER_OWNER, NewNode};
    use menagerie_proto::records::Acl;

    fn create(t: &mut DataTree, path: &str, owner: i64, time: i64) {
        t.create(
            path,
            &NewNode {
                data: None,
                acl: &Acl::open_unsafe(),
                ephemeral_owner: owner,
                parent_cversion: -1,
                zxid: 1,
                time,
            },
        )
        .unwrap();
    }

    #[test]
    fn containers_need_a_past_child_ttls_need_age() {
        let mut t = DataTree::new(true, 0);
        let config = ReaperConfig::default();
        create(&mut t, "/never", CONTAINER_OWNER, 0);
        create(&mut t, "/used", CONTAINER_OWNER, 0);
        create(&mut t, "/used/child", 0, 0);
        create(&mut t, "/ttl", EphemeralType::ttl_owner(1000), 5000);
        assert!(candidates(&t, 5500, &config).is_empty());
        t.delete("/used/child", 2).unwrap();
        assert_eq!(candidates(&t, 5500, &config), vec!["/used"]);
        assert_eq!(candidates(&t, 6001, &config), vec!["/ttl", "/used"]);
        let eager = ReaperConfig {
            max_never_used_interval_ms: 100,
            ..config
        };
        assert_eq!(
            candidates(&t, 6001, &eager),
            vec!["/never", "/ttl", "/used"]
        );
        let slow = ReaperConfig {
            max_per_minute: 1,
            ..config
        };
        assert_eq!(candidates(&t, 6001, &slow).len(), 1);
    }
}
