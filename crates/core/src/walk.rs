//! A preorder walk of the tree that can be spread over many steps while the tree keeps
//! changing in between: the node order of ZooKeeper's fuzzy snapshots.
//!
//! Each step visits nodes up to a budget: a node costs one unit, and one more per
//! [`BYTES_PER_UNIT`] of its data, so that a step over large nodes takes about as long as one
//! over small ones (4,096 nodes of 4 KiB would otherwise be a 16 MiB step, long enough to
//! show in the clients' latency of the server walking). When a node is visited its children are copied
//! (as ZooKeeper copies a node's child set while serializing), by slot id: no names are
//! copied and nothing is hashed. A child is visited only if its slot still holds a child of
//! that node when it is reached: one deleted meanwhile is skipped, and a slot reused by an
//! unrelated node is not mistaken for it. So every node that exists when the walk starts and is not
//! deleted before it is reached is visited exactly once, parents before children; nodes
//! created meanwhile may or may not be. A snapshot written this way, named after the zxid
//! the tree was at when the walk started, becomes exact once the log from that zxid on is
//! replayed over it (txns are idempotent on such a tree).

use crate::tree::{DataTree, Node, NodeId};

/// Data bytes that cost one more unit of a step's budget.
pub const BYTES_PER_UNIT: usize = 256;

/// What visiting `node` costs of a step's budget.
fn cost(node: &Node) -> usize {
    1 + node.data().map_or(0, <[u8]>::len) / BYTES_PER_UNIT
}

/// One level of the walk: the children of one visited node still to visit.
#[derive(Debug)]
struct Frame {
    /// The visited node's path followed by `/` (just `/` for the root).
    prefix: String,
    /// Its children's slots when it was visited; `next` is the next one to visit.
    children: Vec<NodeId>,
    next: usize,
}

impl Frame {
    /// Whether `node` is a child of the node this frame belongs to (its path is the prefix
    /// and one more name).
    fn is_child(&self, node: &Node) -> bool {
        node.path()
            .strip_prefix(self.prefix.as_str())
            .is_some_and(|name| !name.is_empty() && !name.contains('/'))
    }
}

/// A resumable, change-tolerant preorder walk; see the module documentation.
#[derive(Debug, Default)]
pub struct FuzzyWalk {
    started: bool,
    stack: Vec<Frame>,
    visited: u64,
}

impl FuzzyWalk {
    /// A walk that has not visited anything yet.
    pub fn new() -> FuzzyWalk {
        FuzzyWalk::default()
    }

    /// Nodes visited so far.
    pub fn visited(&self) -> u64 {
        self.visited
    }

    /// Visits more nodes, up to `budget` units (see the module documentation; at least one
    /// node); returns true once the walk is complete.
    pub fn step(&mut self, tree: &DataTree, budget: usize, mut visit: impl FnMut(&Node)) -> bool {
        let mut left = budget;
        if !self.started {
            self.started = true;
            let Some(root) = tree.get("/") else {
                return true;
            };
            self.enter(tree, root, "/".to_owned(), &mut visit);
            left = left.saturating_sub(cost(root));
        }
        while left > 0 {
            let Some(top) = self.stack.last_mut() else {
                return true;
            };
            let Some(&id) = top.children.get(top.next) else {
                self.stack.pop();
                continue;
            };
            top.next += 1;
            if let Some(node) = tree.live_node(id)
                && top.is_child(node)
            {
                let mut prefix = node.path().to_owned();
                prefix.push('/');
                self.enter(tree, node, prefix, &mut visit);
                left = left.saturating_sub(cost(node));
            }
        }
        self.stack.is_empty()
    }

    fn enter(
        &mut self,
        tree: &DataTree,
        node: &Node,
        prefix: String,
        visit: &mut impl FnMut(&Node),
    ) {
        visit(node);
        self.visited += 1;
        if node.num_children() > 0 {
            self.stack.push(Frame {
                prefix,
                children: tree.child_ids(node),
                next: 0,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use menagerie_proto::records::Acl;

    use super::*;
    use crate::path;
    use crate::tree::NewNode;

    fn create(tree: &mut DataTree, p: &str, zxid: i64) -> bool {
        let acl = Acl::open_unsafe();
        tree.create(
            p,
            &NewNode {
                data: Some(b"d"),
                acl: &acl,
                ephemeral_owner: 0,
                parent_cversion: -1,
                zxid,
                time: zxid,
            },
        )
        .is_ok()
    }

    fn all_paths(tree: &DataTree) -> BTreeSet<String> {
        let mut v = BTreeSet::new();
        tree.for_each_preorder(|n| {
            v.insert(n.path().to_owned());
        });
        v
    }

    /// A step over large nodes visits fewer of them: its data stays about the budget's.
    #[test]
    fn large_nodes_cost_more_of_a_step() {
        let mut tree = DataTree::new(false, 1);
        let acl = Acl::open_unsafe();
        let big = vec![b'x'; 4096];
        for i in 0..100 {
            let node = NewNode {
                data: Some(&big),
                acl: &acl,
                ephemeral_owner: 0,
                parent_cversion: -1,
                zxid: 1,
                time: 1,
            };
            assert!(tree.create(&format!("/n{i}"), &node).is_ok());
        }
        let mut walk = FuzzyWalk::new();
        let mut visited = 0;
        walk.step(&tree, 1, |_| visited += 1);
        assert_eq!(visited, 1, "the root, whatever the budget");
        // Each node of 4,096 bytes costs 1 + 16 units (the 3 small /zookeeper nodes 1 each).
        let mut big = 0;
        walk.step(&tree, 17 * 10 + 3, |n| {
            big += usize::from(n.data().is_some_and(|d| d.len() == 4096));
        });
        assert_eq!(big, 10);
        visited = 0;
        walk.step(&tree, 1, |_| visited += 1);
        assert_eq!(visited, 1, "at least one node per step");
    }

    /// Walks in small steps while a pseudo-random mix of creates and deletes runs between
    /// the steps; checks the fuzzy-snapshot invariants.
    #[test]
    fn survives_changes_between_steps() {
        for seed in 1..20u64 {
            let mut tree = DataTree::new(false, seed);
            let mut zxid = 1;
            for a in 0..8 {
                create(&mut tree, &format!("/a{a}"), zxid);
                for b in 0..8 {
                    create(&mut tree, &format!("/a{a}/b{b}"), zxid);
                    for c in 0..3 {
                        create(&mut tree, &format!("/a{a}/b{b}/c{c}"), zxid);
                    }
                }
                zxid += 1;
            }
            let at_start = all_paths(&tree);
            let mut deleted = BTreeSet::new();
            let mut walk = FuzzyWalk::new();
            let mut order: BTreeMap<String, usize> = BTreeMap::new();
            let mut x = seed;
            let mut steps = 0;
            loop {
                let done = walk.step(&tree, 3, |n| {
                    let p = n.path().to_owned();
                    let i = order.len();
                    assert!(order.insert(p, i).is_none(), "visited twice");
                });
                if done {
                    break;
                }
                steps += 1;
                assert!(steps < 10_000, "the walk does not end");
                for _ in 0..3 {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let (a, b, c) = ((x >> 33) % 9, (x >> 40) % 9, (x >> 50) % 4);
                    let p = format!("/a{a}/b{b}/c{c}");
                    zxid += 1;
                    if x % 2 == 0 {
                        if tree.delete(&p, zxid).is_ok() {
                            deleted.insert(p);
                        }
                    } else {
                        create(&mut tree, &p, zxid);
                    }
                }
            }
            assert_eq!(walk.visited() as usize, order.len());
            for (p, i) in &order {
                if p != "/" {
                    let parent = order.get(path::parent(p));
                    assert!(parent.is_some_and(|j| j < i), "{p} before its parent");
                }
            }
            for p in at_start.difference(&deleted) {
                assert!(
                    order.contains_key(p),
                    "seed {seed}: {p} existed throughout but was missed"
                );
            }
        }
    }

    /// A child deleted after its parent was visited frees its slot; a node created elsewhere
    /// in that slot must not be taken for the child (it would come before its own parent).
    #[test]
    fn a_reused_slot_is_not_taken_for_the_deleted_child() {
        let mut tree = DataTree::new(false, 1);
        create(&mut tree, "/x", 1);
        create(&mut tree, "/x/c", 2);
        create(&mut tree, "/y", 3);
        let mut walk = FuzzyWalk::new();
        let mut order = Vec::new();
        while !order.iter().any(|p| p == "/x") {
            assert!(!walk.step(&tree, 1, |n| order.push(n.path().to_owned())));
        }
        let slot = tree.lookup("/x/c");
        tree.delete("/x/c", 4).unwrap();
        create(&mut tree, "/y/z", 5);
        assert_eq!(tree.lookup("/y/z"), slot, "the test needs the slot reused");
        while !walk.step(&tree, 1, |n| order.push(n.path().to_owned())) {}
        let at = |p: &str| order.iter().position(|q| q == p);
        assert_eq!(
            order.iter().filter(|p| *p == "/y/z").count(),
            1,
            "{order:?}"
        );
        assert!(at("/y") < at("/y/z"), "{order:?}");
        assert_eq!(at("/x/c"), None);
    }

    #[test]
    fn visits_everything_of_a_still_tree_in_one_or_many_steps() {
        let mut tree = DataTree::new(false, 1);
        for i in 0..50 {
            create(&mut tree, &format!("/n{i}"), i + 1);
            create(&mut tree, &format!("/n{i}/m"), i + 1);
        }
        let expected = all_paths(&tree);
        for budget in [1, 7, 1000] {
            let mut seen = BTreeSet::new();
            let mut walk = FuzzyWalk::new();
            while !walk.step(&tree, budget, |n| {
                seen.insert(n.path().to_owned());
            }) {}
            assert_eq!(seen, expected, "budget {budget}");
        }
    }
}
