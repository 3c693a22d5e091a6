//! The data tree against a simple model: random creates, deletes and setData calls on a
//! small namespace, applied to both; after every step the tree must hold exactly the model's
//! nodes, with the model's data, versions, child counts and child lists, and its incremental
//! digest must equal one computed from scratch.

use std::collections::BTreeMap;

use menagerie_core::tree::{DataTree, NewNode};
use menagerie_proto::ErrorCode;
use menagerie_proto::records::Acl;
use proptest::prelude::*;

/// What the model keeps of a node.
#[derive(Debug, Clone, PartialEq)]
struct Model {
    data: Option<Vec<u8>>,
    version: i32,
    /// Child creations (the stored cversion).
    cversion: i32,
    pzxid: i64,
}

#[derive(Debug, Clone)]
enum Op {
    Create(usize, Option<Vec<u8>>),
    Delete(usize),
    SetData(usize, Option<Vec<u8>>),
}

/// Paths of the namespace: a small tree three levels deep.
const PATHS: [&str; 7] = ["/a", "/b", "/a/x", "/a/y", "/b/x", "/a/x/1", "/a/x/2"];

fn parent(p: &str) -> &str {
    match p.rfind('/') {
        Some(0) => "/",
        Some(i) => &p[..i],
        None => "/",
    }
}

fn data() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop_oneof![
        Just(None),
        proptest::collection::vec(any::<u8>(), 0..8).prop_map(Some)
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let i = 0..PATHS.len();
    prop_oneof![
        (i.clone(), data()).prop_map(|(i, d)| Op::Create(i, d)),
        i.clone().prop_map(Op::Delete),
        (i, data()).prop_map(|(i, d)| Op::SetData(i, d)),
    ]
}

/// Applies `op` to the model, returning the error the tree must give (if any).
fn model_step(model: &mut BTreeMap<String, Model>, op: &Op, zxid: i64) -> Result<(), ErrorCode> {
    match op {
        Op::Create(i, d) => {
            let p = PATHS[*i];
            let exists = model.contains_key(p);
            let Some(par) = model.get_mut(parent(p)) else {
                return Err(ErrorCode::NoNode);
            };
            // A create's parent cversion moves even when the node exists (replay over a
            // fuzzy snapshot; ZooKeeper's NODEEXISTS fix-up): -1 means "the parent's + 1".
            par.cversion += 1;
            par.pzxid = zxid;
            if exists {
                return Err(ErrorCode::NodeExists);
            }
            par.pzxid = zxid;
            let node = Model {
                data: d.clone(),
                version: 0,
                cversion: 0,
                pzxid: zxid,
            };
            model.insert(p.into(), node);
            Ok(())
        }
        Op::Delete(i) => {
            let p = PATHS[*i];
            if !model.contains_key(p) {
                // The parent's pzxid rises anyway (ZooKeeper: DataTree.deleteNode).
                if let Some(par) = model.get_mut(parent(p)) {
                    par.pzxid = par.pzxid.max(zxid);
                }
                return Err(ErrorCode::NoNode);
            }
            if model.keys().any(|k| parent(k) == p && k != p) {
                return Err(ErrorCode::NotEmpty);
            }
            model.remove(p);
            if let Some(par) = model.get_mut(parent(p)) {
                par.pzxid = zxid;
            }
            Ok(())
        }
        Op::SetData(i, d) => {
            let n = model.get_mut(PATHS[*i]).ok_or(ErrorCode::NoNode)?;
            n.data = d.clone();
            n.version += 1;
            Ok(())
        }
    }
}

fn tree_step(tree: &mut DataTree, op: &Op, zxid: i64) -> Result<(), ErrorCode> {
    let open = Acl::open_unsafe();
    match op {
        Op::Create(i, d) => tree
            .create(
                PATHS[*i],
                &NewNode {
                    data: d.as_deref(),
                    acl: &open,
                    ephemeral_owner: 0,
                    parent_cversion: -1,
                    zxid,
                    time: zxid,
                },
            )
            .map(drop),
        Op::Delete(i) => {
            let p = PATHS[*i];
            match tree.get(p) {
                Some(n) if n.num_children() > 0 => Err(ErrorCode::NotEmpty),
                _ => tree.delete(p, zxid),
            }
        }
        Op::SetData(i, d) => {
            // The txn carries the node's new version (prep computed it).
            let p = PATHS[*i];
            let version = tree.get(p).map_or(0, |n| n.version + 1);
            tree.set_data(p, d.as_deref(), version, zxid, zxid)
                .map(drop)
        }
    }
}

fn check(tree: &DataTree, model: &BTreeMap<String, Model>) {
    for p in PATHS.iter().chain(["/"].iter()) {
        let want = model.get(*p);
        let got = tree.get(p);
        assert_eq!(got.is_some(), want.is_some(), "{p}");
        let (Some(n), Some(m)) = (got, want) else {
            continue;
        };
        assert_eq!(n.data().map(<[u8]>::to_vec), m.data.clone(), "{p} data");
        assert_eq!(n.version, m.version, "{p} version");
        assert_eq!(n.cversion, m.cversion, "{p} cversion");
        assert_eq!(n.pzxid, m.pzxid, "{p} pzxid");
        let mut kids = tree.children(n);
        kids.sort();
        let mut want_kids: Vec<String> = model
            .keys()
            .filter(|k| parent(k) == *p && k.as_str() != *p && PATHS.contains(&k.as_str()))
            .map(|k| k.rsplit('/').next().unwrap_or_default().to_owned())
            .collect();
        if *p == "/" {
            want_kids.push("zookeeper".into());
        }
        want_kids.sort();
        assert_eq!(kids, want_kids, "{p} children");
        assert_eq!(
            n.num_children() as usize,
            want_kids.len(),
            "{p} numChildren"
        );
    }
    assert_eq!(tree.digest(), tree.recompute_digest(), "incremental digest");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn the_tree_behaves_like_its_model(ops in proptest::collection::vec(op(), 1..60)) {
        let mut tree = DataTree::new(false, 7);
        let mut model = BTreeMap::new();
        // The root as the model sees it: /zookeeper is a child never "created".
        let root = tree.get("/").map(|n| n.data().map(<[u8]>::to_vec));
        let root = Model { data: root.flatten(), version: 0, cversion: 0, pzxid: 0 };
        model.insert("/".to_string(), root);
        for (i, op) in ops.iter().enumerate() {
            let zxid = i as i64 + 1;
            let want = model_step(&mut model, op, zxid);
            let got = tree_step(&mut tree, op, zxid);
            prop_assert_eq!(got, want, "{:?}", op);
            check(&tree, &model);
        }
    }
}
