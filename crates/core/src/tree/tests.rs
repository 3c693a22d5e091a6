use super::quota::parse_quota_usage;
use super::*;

fn create(t: &mut DataTree, path: &str, zxid: i64) -> Result<NodeId, ErrorCode> {
    let parent = t.get(path::parent(path)).map_or(0, |p| p.cversion) + 1;
    t.create(
        path,
        &NewNode {
            data: Some(b"x"),
            acl: &Acl::open_unsafe(),
            ephemeral_owner: 0,
            parent_cversion: parent,
            zxid,
            time: 1000 + zxid,
        },
    )
}

#[test]
fn fresh_tree_matches_zookeeper() {
    let t = DataTree::new(false, 0);
    let root = t.get("/").unwrap();
    assert_eq!(t.client_stat(root).cversion, -1);
    assert_eq!(t.client_stat(root).num_children, 1);
    let zk = t.get("/zookeeper").unwrap();
    assert_eq!(t.client_stat(zk).cversion, -2);
    assert_eq!(t.children(zk), vec!["quota", "config"]);
    let config = t.get("/zookeeper/config").unwrap();
    assert_eq!(t.client_stat(config).aversion, -1);
    assert_eq!(t.acl(config), Acl::read_unsafe());
    assert_eq!(t.node_count(), 4);
    // ZooKeeper reports 44 for a fresh standalone server: the paths "/", "/zookeeper",
    // "/zookeeper/quota" and "/zookeeper/config" (the alias "" adds nothing).
    assert_eq!(t.approximate_data_size(), 44);
}

fn scratch_digest(t: &DataTree) -> u64 {
    t.recompute_digest()
}

#[test]
fn digest_matches_zookeepers_logged_values_and_follows_every_change() {
    // Spec 10.9: a fresh 3.8.0 server's tree digest, and the TxnDigest it logged after
    // `create /a "hello"` at zxid 2.
    let mut t = DataTree::new(false, 0);
    assert_eq!(t.digest(), 0x51c6d660);
    t.create(
        "/a",
        &NewNode {
            data: Some(b"hello"),
            acl: &Acl::open_unsafe(),
            ephemeral_owner: 0,
            parent_cversion: 1,
            zxid: 2,
            time: 1795274139084,
        },
    )
    .unwrap();
    assert_eq!(t.digest(), 0x14ff8ef00);
    create(&mut t, "/a/b", 3).unwrap();
    create(&mut t, "/zookeeper/quota/a", 4).unwrap();
    create(&mut t, "/zookeeper/quota/a/zookeeper_limits", 5).unwrap();
    create(&mut t, "/zookeeper/quota/a/zookeeper_stats", 6).unwrap();
    t.set_data("/a/b", None, 1, 7, 7).unwrap();
    t.set_acl("/a", &Acl::read_unsafe(), 1).unwrap();
    assert_eq!(t.digest(), scratch_digest(&t));
    t.delete("/a/b", 8).unwrap();
    assert_eq!(t.digest(), scratch_digest(&t));
    // Restoring nodes over existing ones (fuzzy snapshot replay) keeps it exact too.
    let stat = t.get("/a").unwrap().stat_persisted();
    t.restore_node("/a", Some(b"again"), &Acl::open_unsafe(), &stat)
        .unwrap();
    t.restore_node("/a/z", None, &Acl::open_unsafe(), &stat)
        .unwrap();
    assert_eq!(t.digest(), scratch_digest(&t));
    t.delete("/a/z", 9).unwrap();
    t.delete("/zookeeper/quota/a/zookeeper_stats", 10).unwrap();
    t.delete("/zookeeper/quota/a/zookeeper_limits", 10).unwrap();
    t.delete("/zookeeper/quota/a", 10).unwrap();
    t.delete("/a", 11).unwrap();
    // Back to the built-in nodes, with the root's and /zookeeper's moved pzxid/cversion.
    assert_eq!(t.digest(), scratch_digest(&t));
}

#[test]
fn cversion_pzxid_and_children() {
    let mut t = DataTree::new(false, 0);
    create(&mut t, "/a", 1).unwrap();
    for (i, c) in ["b", "c", "d", "e"].iter().enumerate() {
        create(&mut t, &format!("/a/{c}"), 2 + i as i64).unwrap();
    }
    t.delete("/a/c", 10).unwrap();
    let a = t.get("/a").unwrap();
    let s = t.client_stat(a);
    assert_eq!((s.cversion, s.num_children, s.pzxid), (5, 3, 10));
    assert_eq!(s.czxid, 1);
    assert_eq!(t.children(a), vec!["b", "d", "e"]);
    assert_eq!(create(&mut t, "/a/b", 11), Err(ErrorCode::NodeExists));
    assert_eq!(create(&mut t, "/x/y", 12), Err(ErrorCode::NoNode));
    assert_eq!(t.count_descendants(t.lookup("/").unwrap()), 7);
    // Slots are reused.
    let n = t.node_count();
    create(&mut t, "/a/z", 13).unwrap();
    assert_eq!(t.node_count(), n + 1);
    assert_eq!(t.get("/a/z").unwrap().data(), Some(&b"x"[..]));
}

#[test]
fn set_data_keeps_pzxid_and_null_data_differs_from_empty() {
    let mut t = DataTree::new(false, 0);
    create(&mut t, "/a", 1).unwrap();
    t.set_data("/a", None, 1, 2, 5000).unwrap();
    let a = t.get("/a").unwrap();
    assert_eq!(a.data(), None);
    let s = t.client_stat(a);
    assert_eq!(
        (s.version, s.mzxid, s.pzxid, s.data_length, s.mtime),
        (1, 2, 1, 0, 5000)
    );
    t.set_data("/a", Some(b""), 2, 3, 6000).unwrap();
    assert_eq!(t.get("/a").unwrap().data(), Some(&b""[..]));
}

#[test]
fn quota_usage_follows_writes_without_changing_stats() {
    let mut t = DataTree::new(false, 0);
    create(&mut t, "/app", 1).unwrap();
    create(&mut t, "/app/a", 2).unwrap();
    create(&mut t, "/zookeeper/quota/app", 3).unwrap();
    create(&mut t, "/zookeeper/quota/app/zookeeper_limits", 4).unwrap();
    create(&mut t, "/zookeeper/quota/app/zookeeper_stats", 5).unwrap();
    let stats = |t: &DataTree| {
        let n = t.get("/zookeeper/quota/app/zookeeper_stats").unwrap();
        (
            String::from_utf8(n.data().unwrap().to_vec()).unwrap(),
            n.version,
            n.mzxid,
        )
    };
    // /app and /app/a, one byte of data each.
    assert_eq!(stats(&t), ("count=2,bytes=2".into(), 0, 5));
    create(&mut t, "/app/b", 6).unwrap();
    t.set_data("/app/b", Some(b"hello"), 1, 7, 7).unwrap();
    assert_eq!(stats(&t), ("count=3,bytes=7".into(), 0, 5));
    t.delete("/app/a", 8).unwrap();
    assert_eq!(stats(&t), ("count=2,bytes=6".into(), 0, 5));
    // Outside the quota nothing changes.
    create(&mut t, "/other", 9).unwrap();
    assert_eq!(stats(&t).0, "count=2,bytes=6");
    t.delete("/zookeeper/quota/app/zookeeper_limits", 10)
        .unwrap();
    create(&mut t, "/app/c", 11).unwrap();
    assert_eq!(stats(&t).0, "count=2,bytes=6");
    assert_eq!(
        parse_quota_usage(b"count=5,bytes=7=;byteHardLimit=9"),
        (5, 7)
    );
}

#[test]
fn ephemeral_types() {
    assert_eq!(EphemeralType::of(0, true), EphemeralType::Void);
    assert_eq!(
        EphemeralType::of(CONTAINER_OWNER, false),
        EphemeralType::Container
    );
    let ttl = EphemeralType::ttl_owner(5000);
    assert_eq!(EphemeralType::of(ttl, true), EphemeralType::Ttl(5000));
    assert_eq!(EphemeralType::of(ttl, false), EphemeralType::Normal(ttl));
    assert_eq!(
        EphemeralType::of(0x0100_0000_0000_0001, true),
        EphemeralType::Normal(0x0100_0000_0000_0001)
    );
}
