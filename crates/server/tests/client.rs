//! The real server on an ephemeral loopback port, driven by the independent `zookeeper-client`
//! crate: data operations and their errors, sequential names, ephemerals, containers and TTL
//! nodes, multi and multiRead, one-shot and persistent watches, session resume and expiry,
//! whoAmI and digest ACLs. Every wait is bounded so a hung server fails instead of hanging.

mod common;

use std::time::{Duration, Instant};

use common::{Fixture, within};
use menagerie_core::reaper::ReaperConfig;
use menagerie_server::ServerConfig;
use zookeeper_client as zk;

/// base64(SHA-1("alice:secret")), computed independently (`openssl sha1 -binary | base64`).
const ALICE_DIGEST: &str = "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=";

/// A server with 100 ms ticks, sessions from 200 ms, TTL nodes and a container check every
/// 100 ms, changed by `adjust`.
async fn start_with(adjust: impl FnOnce(&mut ServerConfig)) -> Fixture {
    common::start_with(|c| {
        c.tick_ms = 100;
        c.min_session_timeout_ms = 200;
        c.max_session_timeout_ms = 10_000;
        c.extended_types = true;
        c.reaper = ReaperConfig {
            check_interval_ms: 100,
            ..ReaperConfig::default()
        };
        adjust(c);
    })
    .await
}

async fn start() -> Fixture {
    start_with(|_| {}).await
}

fn connector(timeout: Duration) -> zk::Connector {
    zk::Client::connector().with_session_timeout(timeout)
}

async fn connect_with(f: &Fixture, connector: zk::Connector) -> zk::Client {
    common::connect_with(&f.addr().to_string(), connector).await
}

/// A session of 10 s.
async fn connect(f: &Fixture) -> zk::Client {
    connect_with(f, connector(Duration::from_secs(10))).await
}

fn persistent() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}

fn mode(m: zk::CreateMode) -> zk::CreateOptions<'static> {
    m.with_acls(zk::Acls::anyone_all())
}

async fn sorted_children(client: &zk::Client, path: &str) -> Vec<String> {
    let mut c = within(client.list_children(path)).await.expect("list");
    c.sort();
    c
}

#[tokio::test]
async fn create_get_set_delete_with_versions_and_errors() {
    let f = start().await;
    let c = connect(&f).await;
    let stat = create_and_read(&c).await;
    plain_errors(&c).await;
    versioned_sets(&c, &stat).await;
    children_move_pzxid_and_cversion(&c).await;
    special_nodes(&c).await;
    // Delete bottom-up, then everything is gone.
    within(c.delete("/a/c/d", None)).await.unwrap();
    within(c.delete("/a/c", None)).await.unwrap();
    within(c.delete("/a", Some(2))).await.unwrap();
    assert_eq!(within(c.check_stat("/a")).await, Ok(None));
    within(c.sync("/")).await.unwrap();
    f.server.stop().await;
}

/// Creates /a = "hello" and checks its Stat; returns it.
async fn create_and_read(c: &zk::Client) -> zk::Stat {
    let (stat, seq) = within(c.create("/a", b"hello", &persistent()))
        .await
        .expect("answered");
    assert_eq!(seq.into_i64(), -1, "no sequence number for plain nodes");
    assert_eq!(
        (
            stat.version,
            stat.cversion,
            stat.aversion,
            stat.data_length,
            stat.num_children
        ),
        (0, 0, 0, 5, 0)
    );
    assert_eq!(stat.ephemeral_owner, 0);
    assert_eq!((stat.czxid, stat.pzxid), (stat.mzxid, stat.czxid));
    let (data, got) = within(c.get_data("/a")).await.expect("answered");
    assert_eq!((data.as_slice(), got), (&b"hello"[..], stat));
    stat
}

/// NodeExists, NoNode and BadVersion where ZooKeeper gives them (with /a existing).
async fn plain_errors(c: &zk::Client) {
    assert_eq!(
        within(c.create("/a", b"", &persistent())).await,
        Err(zk::Error::NodeExists)
    );
    assert_eq!(
        within(c.create("/missing/child", b"", &persistent())).await,
        Err(zk::Error::NoNode)
    );
    assert_eq!(within(c.get_data("/nope")).await, Err(zk::Error::NoNode));
    assert_eq!(
        within(c.set_data("/nope", b"", None)).await,
        Err(zk::Error::NoNode)
    );
    assert_eq!(
        within(c.delete("/nope", None)).await,
        Err(zk::Error::NoNode)
    );
    assert_eq!(within(c.check_stat("/nope")).await, Ok(None));
    assert_eq!(
        within(c.set_data("/a", b"x", Some(3))).await,
        Err(zk::Error::BadVersion)
    );
}

/// Versioned set: version advances, mzxid moves, czxid/pzxid do not.
async fn versioned_sets(c: &zk::Client, stat: &zk::Stat) {
    let s1 = within(c.set_data("/a", b"world!", Some(0)))
        .await
        .expect("answered");
    assert_eq!((s1.version, s1.data_length), (1, 6));
    assert!(s1.mzxid > stat.mzxid);
    assert_eq!((s1.czxid, s1.pzxid), (stat.czxid, stat.pzxid));
    let s2 = within(c.set_data("/a", b"", None)).await.expect("answered");
    assert_eq!((s2.version, s2.data_length), (2, 0));
    let (data, _) = within(c.get_data("/a")).await.expect("answered");
    assert!(data.is_empty());
}

/// Children of /a: pzxid and the visible cversion follow child creations and deletions.
async fn children_move_pzxid_and_cversion(c: &zk::Client) {
    within(c.create("/a/b", b"1", &persistent()))
        .await
        .expect("answered");
    within(c.create("/a/c", b"2", &persistent()))
        .await
        .expect("answered");
    within(c.create("/a/c/d", b"3", &persistent()))
        .await
        .expect("answered");
    assert_eq!(sorted_children(c, "/a").await, ["b", "c"]);
    let (mut kids, parent) = within(c.get_children("/a")).await.expect("answered");
    kids.sort();
    assert_eq!(kids, ["b", "c"]);
    assert_eq!((parent.num_children, parent.cversion), (2, 2));
    assert_eq!(within(c.count_descendants_number("/a")).await, Ok(3));
    assert_eq!(
        within(c.delete("/a", None)).await,
        Err(zk::Error::NotEmpty),
        "a node with children cannot be deleted"
    );
    assert_eq!(
        within(c.delete("/a/b", Some(5))).await,
        Err(zk::Error::BadVersion)
    );
    within(c.delete("/a/b", Some(0))).await.expect("answered");
    let parent2 = within(c.check_stat("/a"))
        .await
        .expect("answered")
        .expect("answered");
    assert_eq!((parent2.num_children, parent2.cversion), (1, 3));
    assert!(parent2.pzxid > parent.pzxid, "deleting a child moves pzxid");
    assert_eq!(
        parent2.mzxid, parent.mzxid,
        "child changes leave mzxid alone"
    );
}

/// Ephemerals cannot have children; special nodes cannot be deleted; a fresh /zookeeper
/// reports cversion -2.
async fn special_nodes(c: &zk::Client) {
    within(c.create("/eph", b"", &mode(zk::CreateMode::Ephemeral)))
        .await
        .expect("answered");
    assert_eq!(
        within(c.create("/eph/kid", b"", &persistent())).await,
        Err(zk::Error::NoChildrenForEphemerals)
    );
    assert!(matches!(
        within(c.delete("/zookeeper", None)).await,
        Err(zk::Error::BadArguments(_))
    ));
    let zk_stat = within(c.check_stat("/zookeeper"))
        .await
        .expect("answered")
        .expect("answered");
    assert_eq!(zk_stat.cversion, -2);
}

#[tokio::test]
async fn sequential_names_follow_the_parents_creation_count() {
    let f = start().await;
    let c = connect(&f).await;
    within(c.create("/q", b"", &persistent())).await.unwrap();
    let seq = mode(zk::CreateMode::PersistentSequential);
    let eseq = mode(zk::CreateMode::EphemeralSequential);

    let (_, n0) = within(c.create("/q/n-", b"", &seq)).await.unwrap();
    let (_, n1) = within(c.create("/q/n-", b"", &seq)).await.unwrap();
    assert_eq!((n0.into_i64(), n1.into_i64()), (0, 1));
    // A plain child create advances the counter too; deletes never free numbers.
    within(c.create("/q/plain", b"", &persistent()))
        .await
        .unwrap();
    within(c.delete("/q/n-0000000001", None)).await.unwrap();
    let (_, n3) = within(c.create("/q/e-", b"", &eseq)).await.unwrap();
    assert_eq!(n3.into_i64(), 3);
    // A sequential create of "/q/" is legal: the name is just the number.
    let (_, n4) = within(c.create("/q/", b"", &seq)).await.unwrap();
    assert_eq!(n4.into_i64(), 4);
    assert_eq!(
        sorted_children(&c, "/q").await,
        ["0000000004", "e-0000000003", "n-0000000000", "plain"]
    );
    let e = within(c.check_stat("/q/e-0000000003"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.ephemeral_owner, c.session_id().0);
    f.server.stop().await;
}

#[tokio::test]
async fn ephemerals_vanish_when_their_owner_closes() {
    let f = start().await;
    let owner = connect(&f).await;
    let observer = connect(&f).await;
    assert_ne!(owner.session_id(), observer.session_id());
    within(observer.create("/eph", b"", &persistent()))
        .await
        .unwrap();
    let (created, _) = within(owner.create("/eph/e", b"x", &mode(zk::CreateMode::Ephemeral)))
        .await
        .unwrap();
    assert_eq!(created.ephemeral_owner, owner.session_id().0);
    within(owner.create("/eph/s-", b"", &mode(zk::CreateMode::EphemeralSequential)))
        .await
        .unwrap();
    within(observer.create("/eph/keep", b"", &persistent()))
        .await
        .unwrap();
    let mut mine = within(owner.list_ephemerals("/")).await.unwrap();
    mine.sort();
    assert_eq!(mine, ["/eph/e", "/eph/s-0000000001"]);
    assert_eq!(
        within(observer.list_ephemerals("/")).await,
        Ok(Vec::<String>::new())
    );

    let (_, _, data_watch) = within(observer.get_and_watch_data("/eph/e")).await.unwrap();
    let (_, _, child_watch) = within(observer.get_and_watch_children("/eph"))
        .await
        .unwrap();
    drop(owner); // the last handle: the client sends closeSession

    let event = within(data_watch.changed()).await;
    assert_eq!(
        (event.event_type, event.path.as_str()),
        (zk::EventType::NodeDeleted, "/eph/e")
    );
    let event = within(child_watch.changed()).await;
    assert_eq!(
        (event.event_type, event.path.as_str()),
        (zk::EventType::NodeChildrenChanged, "/eph")
    );
    // Both ephemerals go in the same closeSession; the persistent sibling stays.
    assert_eq!(sorted_children(&observer, "/eph").await, ["keep"]);
    assert_eq!(within(observer.check_stat("/eph/e")).await, Ok(None));
    f.server.stop().await;
}

#[tokio::test]
async fn containers_and_ttl_nodes_are_created_and_reaped() {
    let f = start().await;
    let c = connect(&f).await;
    let (stat, _) = within(c.create("/c", b"", &mode(zk::CreateMode::Container)))
        .await
        .unwrap();
    assert_eq!(stat.ephemeral_owner, 0, "containers report owner 0");
    let ttl = persistent().with_ttl(Duration::from_millis(300));
    let (stat, _) = within(c.create("/t", b"", &ttl)).await.unwrap();
    assert_eq!(stat.ephemeral_owner, 0, "TTL nodes report owner 0");
    let (_, _, ttl_gone) = within(c.get_and_watch_data("/t")).await.unwrap();
    let seq_ttl = mode(zk::CreateMode::PersistentSequential).with_ttl(Duration::from_secs(600));
    let (_, n) = within(c.create("/ts-", b"", &seq_ttl)).await.unwrap();
    assert!(n.into_i64() >= 0);

    // A container that never had a child is left alone; once its last child goes it is
    // reaped (check interval 100 ms here).
    within(c.create("/c/kid", b"", &persistent()))
        .await
        .unwrap();
    let (_, _, container_gone) = within(c.get_and_watch_data("/c")).await.unwrap();
    within(c.delete("/c/kid", None)).await.unwrap();
    let event = within(container_gone.changed()).await;
    assert_eq!(
        (event.event_type, event.path.as_str()),
        (zk::EventType::NodeDeleted, "/c")
    );

    // The TTL node expires 300 ms after its last modification.
    let event = within(ttl_gone.changed()).await;
    assert_eq!(
        (event.event_type, event.path.as_str()),
        (zk::EventType::NodeDeleted, "/t")
    );
    // The long-TTL node is still there.
    assert_eq!(
        within(c.count_descendants_number("/")).await,
        Ok(4),
        "/ts-…, /zookeeper, /zookeeper/quota and /zookeeper/config"
    );
    f.server.stop().await;
}

#[tokio::test]
async fn ttl_nodes_need_extended_types() {
    let f = start_with(|c| c.extended_types = false).await;
    let c = connect(&f).await;
    let ttl = persistent().with_ttl(Duration::from_secs(60));
    assert_eq!(
        within(c.create("/t", b"", &ttl)).await,
        Err(zk::Error::Unimplemented)
    );
    assert_eq!(within(c.check_stat("/t")).await, Ok(None));
    // Containers do not need the switch.
    within(c.create("/c", b"", &mode(zk::CreateMode::Container)))
        .await
        .unwrap();
    f.server.stop().await;
}

#[tokio::test]
async fn multi_applies_all_or_nothing_and_multi_read_reports_per_op() {
    let f = start().await;
    let c = connect(&f).await;
    within(c.create("/m", b"v0", &persistent())).await.unwrap();
    multi_applies_every_op(&c).await;
    failed_multis_apply_nothing(&c).await;
    multi_read_answers_each_op(&c).await;
    f.server.stop().await;
}

/// A multi of five ops under /m: one zxid, one result per op.
async fn multi_applies_every_op(c: &zk::Client) {
    let mut w = c.new_multi_writer();
    w.add_create("/m/a", b"a", &persistent()).expect("answered");
    w.add_set_data("/m", b"v1", Some(0)).expect("answered");
    w.add_check_version("/m", 1).expect("answered");
    w.add_create("/m/b", b"", &persistent()).expect("answered");
    w.add_delete("/m/b", Some(0)).expect("answered");
    let results = within(w.commit()).await.expect("answered");
    assert_eq!(results.len(), 5);
    let after = within(c.check_stat("/m"))
        .await
        .expect("answered")
        .expect("answered");
    match &results[0] {
        zk::MultiWriteResult::Create { path, stat } => {
            assert_eq!(path, "/m/a");
            assert_eq!(stat.data_length, 1);
            // All ops of one multi share a zxid.
            assert_eq!(stat.czxid, after.mzxid);
        }
        other => panic!("expected a create result, got {other:?}"),
    }
    match &results[1] {
        zk::MultiWriteResult::SetData { stat } => assert_eq!(stat.version, 1),
        other => panic!("expected a setData result, got {other:?}"),
    }
    assert_eq!(results[2], zk::MultiWriteResult::Check);
    assert!(matches!(results[3], zk::MultiWriteResult::Create { .. }));
    assert_eq!(results[4], zk::MultiWriteResult::Delete);
    assert_eq!(sorted_children(c, "/m").await, ["a"]);
}

/// A failing op: its index is reported and nothing before it is applied.
async fn failed_multis_apply_nothing(c: &zk::Client) {
    let mut w = c.new_multi_writer();
    w.add_create("/m/x", b"", &persistent()).expect("answered");
    w.add_set_data("/m", b"v2", None).expect("answered");
    w.add_check_version("/m", 7).expect("answered");
    w.add_delete("/m/a", None).expect("answered");
    assert_eq!(
        within(w.commit()).await,
        Err(zk::MultiWriteError::OperationFailed {
            index: 2,
            source: zk::Error::BadVersion
        })
    );
    let mut w = c.new_multi_writer();
    w.add_delete("/m/a", None).expect("answered");
    w.add_create("/m/a/deeper/still", b"", &persistent())
        .expect("answered");
    assert_eq!(
        within(w.commit()).await,
        Err(zk::MultiWriteError::OperationFailed {
            index: 1,
            source: zk::Error::NoNode
        })
    );
    let (data, stat) = within(c.get_data("/m")).await.expect("answered");
    assert_eq!((data.as_slice(), stat.version), (&b"v1"[..], 1));
    assert_eq!(sorted_children(c, "/m").await, ["a"]);
}

/// multiRead: each op answers on its own, errors included.
async fn multi_read_answers_each_op(c: &zk::Client) {
    let mut r = c.new_multi_reader();
    r.add_get_data("/m").expect("answered");
    r.add_get_children("/m").expect("answered");
    r.add_get_data("/m/none").expect("answered");
    r.add_get_children("/none").expect("answered");
    let results = within(r.commit()).await.expect("answered");
    assert_eq!(results.len(), 4);
    match &results[0] {
        zk::MultiReadResult::Data { data, stat } => {
            assert_eq!((data.as_slice(), stat.version), (&b"v1"[..], 1))
        }
        other => panic!("expected data, got {other:?}"),
    }
    match &results[1] {
        zk::MultiReadResult::Children { children } => assert_eq!(children, &["a"]),
        other => panic!("expected children, got {other:?}"),
    }
    for r in &results[2..] {
        assert!(
            matches!(
                r,
                zk::MultiReadResult::Error {
                    err: zk::Error::NoNode
                }
            ),
            "{r:?}"
        );
    }
}

/// Whether `w`'s event is already delivered (without waiting).
async fn ready(w: zk::OneshotWatcher) -> Option<zk::WatchedEvent> {
    tokio::select! {
        biased;
        e = w.changed() => Some(e),
        _ = std::future::ready(()) => None,
    }
}

#[tokio::test]
async fn one_shot_watches_fire_once_with_the_right_type_and_path() {
    let f = start().await;
    let c = connect(&f).await;
    let other = connect(&f).await;

    // exists() on a missing node watches for its creation.
    let (stat, created) = within(c.check_and_watch_stat("/w")).await.unwrap();
    assert!(stat.is_none());
    let (s, _) = within(other.create("/w", b"", &persistent()))
        .await
        .unwrap();
    let e = within(created.changed()).await;
    assert_eq!(
        (e.event_type, e.path.as_str()),
        (zk::EventType::NodeCreated, "/w")
    );
    assert_eq!(e.zxid, s.czxid, "the event carries the triggering zxid");

    // A data watch fires on setData; the notification precedes the reply to the write that
    // caused it, so it is already there when the writer's own setData returns. (The client
    // may read both frames at once, so this check is not strict; bad_input.rs checks the
    // order on the wire.)
    let (_, _, changed) = within(c.get_and_watch_data("/w")).await.unwrap();
    let (_, exists_watch) = within(c.check_and_watch_stat("/w")).await.unwrap();
    within(c.set_data("/w", b"1", None)).await.unwrap();
    let e = ready(changed).await.expect("event before the reply");
    assert_eq!(
        (e.event_type, e.path.as_str()),
        (zk::EventType::NodeDataChanged, "/w")
    );
    let e = ready(exists_watch).await.expect("event before the reply");
    assert_eq!(e.event_type, zk::EventType::NodeDataChanged);

    // A child watch fires on a child create; the data watch set with it does not.
    let (_, _, children) = within(c.get_and_watch_children("/w")).await.unwrap();
    let (_, _, data) = within(c.get_and_watch_data("/w")).await.unwrap();
    within(other.create("/w/k", b"", &persistent()))
        .await
        .unwrap();
    let e = within(children.changed()).await;
    assert_eq!(
        (e.event_type, e.path.as_str()),
        (zk::EventType::NodeChildrenChanged, "/w")
    );
    // The data watch did not fire on the child change: its one event is NodeDeleted.
    within(other.delete("/w/k", None)).await.unwrap();
    within(other.delete("/w", None)).await.unwrap();
    let e = within(data.changed()).await;
    assert_eq!(
        (e.event_type, e.path.as_str()),
        (zk::EventType::NodeDeleted, "/w")
    );

    // getData on a missing node sets no watch and fails.
    assert!(matches!(
        within(c.get_and_watch_data("/w")).await,
        Err(zk::Error::NoNode)
    ));
    f.server.stop().await;
}

#[tokio::test]
async fn persistent_and_recursive_watches_keep_firing() {
    let f = start().await;
    let c = connect(&f).await;
    let writer = connect(&f).await;
    within(writer.create("/p", b"", &persistent()))
        .await
        .unwrap();
    within(writer.create("/r", b"", &persistent()))
        .await
        .unwrap();
    let mut plain = within(c.watch("/p", zk::AddWatchMode::Persistent))
        .await
        .unwrap();
    let mut recursive = within(c.watch("/r", zk::AddWatchMode::PersistentRecursive))
        .await
        .unwrap();

    // Persistent: data and child events on the node itself, repeatedly.
    within(writer.set_data("/p", b"1", None)).await.unwrap();
    within(writer.set_data("/p", b"2", None)).await.unwrap();
    within(writer.create("/p/kid", b"", &persistent()))
        .await
        .unwrap();
    within(writer.set_data("/p/kid", b"", None)).await.unwrap(); // not watched
    within(writer.delete("/p/kid", None)).await.unwrap();
    within(writer.delete("/p", None)).await.unwrap();
    let expected = [
        (zk::EventType::NodeDataChanged, "/p"),
        (zk::EventType::NodeDataChanged, "/p"),
        (zk::EventType::NodeChildrenChanged, "/p"),
        (zk::EventType::NodeChildrenChanged, "/p"),
        (zk::EventType::NodeDeleted, "/p"),
    ];
    for want in expected {
        let e = within(plain.changed()).await;
        assert_eq!((e.event_type, e.path.as_str()), want);
    }

    // Recursive: every node below, events named by the changed node, and never
    // NodeChildrenChanged.
    within(writer.create("/r/a", b"", &persistent()))
        .await
        .unwrap();
    within(writer.create("/r/a/b", b"", &persistent()))
        .await
        .unwrap();
    within(writer.set_data("/r/a/b", b"x", None)).await.unwrap();
    within(writer.create("/rr", b"", &persistent()))
        .await
        .unwrap(); // a sibling with a common prefix is not below /r
    within(writer.delete("/r/a/b", None)).await.unwrap();
    within(writer.set_data("/r", b"y", None)).await.unwrap();
    let expected = [
        (zk::EventType::NodeCreated, "/r/a"),
        (zk::EventType::NodeCreated, "/r/a/b"),
        (zk::EventType::NodeDataChanged, "/r/a/b"),
        (zk::EventType::NodeDeleted, "/r/a/b"),
        (zk::EventType::NodeDataChanged, "/r"),
    ];
    for want in expected {
        let e = within(recursive.changed()).await;
        assert_eq!((e.event_type, e.path.as_str()), want);
    }
    f.server.stop().await;
}

#[tokio::test]
async fn a_session_resumes_on_a_new_connection_with_its_ephemerals() {
    let f = start().await;
    let first = connect_with(&f, connector(Duration::from_secs(10)).with_detached()).await;
    let session = first.session().clone();
    within(first.create("/mine", b"", &mode(zk::CreateMode::Ephemeral)))
        .await
        .unwrap();
    drop(first); // detached: the connection closes, the session stays

    let observer = connect(&f).await;
    let resumed = connect_with(
        &f,
        connector(Duration::from_secs(10)).with_session(session.clone()),
    )
    .await;
    assert_eq!(resumed.session_id(), session.id());
    let stat = within(resumed.check_stat("/mine")).await.unwrap().unwrap();
    assert_eq!(stat.ephemeral_owner, session.id().0);
    assert_eq!(
        within(resumed.list_ephemerals("/")).await.unwrap(),
        ["/mine"]
    );

    // The resumed handle owns the session: closing it removes the ephemeral.
    let (_, _, gone) = within(observer.get_and_watch_data("/mine")).await.unwrap();
    drop(resumed);
    let e = within(gone.changed()).await;
    assert_eq!(e.event_type, zk::EventType::NodeDeleted);
    // And the closed session cannot be resumed.
    let r = within(
        connector(Duration::from_secs(10))
            .with_session(session)
            .connect(&f.server.addr.to_string()),
    )
    .await;
    assert!(
        matches!(r, Err(zk::Error::SessionExpired)),
        "{:?}",
        r.map(|c| c.session_id())
    );
    f.server.stop().await;
}

#[tokio::test]
async fn sessions_expire_and_timeouts_are_clamped() {
    let f = start().await;
    // Negotiation clamps to [minSessionTimeout, maxSessionTimeout].
    let big = connect_with(&f, connector(Duration::from_secs(60))).await;
    assert_eq!(big.session_timeout(), Duration::from_secs(10));
    drop(big);

    let timeout = Duration::from_millis(1000);
    let doomed = connect_with(&f, connector(timeout).with_detached()).await;
    assert_eq!(doomed.session_timeout(), timeout);
    let session = doomed.session().clone();
    within(doomed.create("/doomed", b"", &mode(zk::CreateMode::Ephemeral)))
        .await
        .unwrap();
    let observer = connect(&f).await;
    let (_, _, gone) = within(observer.get_and_watch_data("/doomed"))
        .await
        .unwrap();
    let dropped_at = Instant::now();
    drop(doomed); // no closeSession, no more pings: the session must time out

    let e = within(gone.changed()).await;
    assert_eq!(
        (e.event_type, e.path.as_str()),
        (zk::EventType::NodeDeleted, "/doomed")
    );
    let waited = dropped_at.elapsed();
    assert!(
        waited >= timeout / 2,
        "the session expired after {waited:?}, before its timeout {timeout:?}"
    );
    let r = within(
        connector(Duration::from_secs(10))
            .with_session(session)
            .connect(&f.server.addr.to_string()),
    )
    .await;
    assert!(
        matches!(r, Err(zk::Error::SessionExpired)),
        "{:?}",
        r.map(|c| c.session_id())
    );
    f.server.stop().await;
}

#[tokio::test]
async fn who_am_i_digest_auth_and_acls() {
    let f = start().await;
    let alice = connect(&f).await;
    let bob = connect(&f).await;

    let ip_only = [zk::AuthUser::new("ip", "127.0.0.1")];
    assert_eq!(within(alice.list_auth_users()).await.unwrap(), ip_only);
    // An `auth` ACL needs an authenticated identity other than ip.
    assert_eq!(
        within(alice.create(
            "/nope",
            b"",
            &zk::CreateMode::Persistent.with_acls(zk::Acls::creator_all())
        ))
        .await,
        Err(zk::Error::InvalidAcl)
    );

    within(alice.auth("digest", b"alice:secret")).await.unwrap();
    let mut users = within(alice.list_auth_users()).await.unwrap();
    users.sort_by(|a, b| a.scheme().cmp(b.scheme()));
    assert_eq!(
        users,
        [
            zk::AuthUser::new("digest", "alice"),
            zk::AuthUser::new("ip", "127.0.0.1")
        ]
    );
    assert_eq!(within(bob.list_auth_users()).await.unwrap(), ip_only);
    let acl = [zk::Acl::new(
        zk::Permission::ALL,
        zk::AuthId::new("digest", ALICE_DIGEST),
    )];
    digest_acls_admit_only_the_password(&f, &alice, &bob, &acl).await;
    auth_expands_to_the_creator(&alice, &bob, &acl).await;
    set_acl_is_versioned(&alice, &bob).await;
    f.server.stop().await;
}

/// A node only alice's digest may use: bob is refused, also with a wrong password; the right
/// password on another session works.
async fn digest_acls_admit_only_the_password(
    f: &Fixture,
    alice: &zk::Client,
    bob: &zk::Client,
    acl: &[zk::Acl],
) {
    let only_alice = zk::CreateMode::Persistent.with_acls(zk::Acls::new(acl));
    within(alice.create("/secret", b"s3", &only_alice))
        .await
        .expect("answered");
    let (data, _) = within(alice.get_data("/secret")).await.expect("answered");
    assert_eq!(data, b"s3");
    let (got, _) = within(alice.get_acl("/secret")).await.expect("answered");
    assert_eq!(got, acl);

    assert_eq!(
        within(bob.get_data("/secret")).await,
        Err(zk::Error::NoAuth)
    );
    assert_eq!(
        within(bob.set_data("/secret", b"", None)).await,
        Err(zk::Error::NoAuth)
    );
    assert_eq!(
        within(bob.get_acl("/secret")).await.map(|(a, _)| a),
        Err(zk::Error::NoAuth)
    );
    // Adding a digest identity always succeeds, but a wrong password is a different identity.
    within(bob.auth("digest", b"alice:wrong"))
        .await
        .expect("answered");
    assert_eq!(
        within(bob.get_data("/secret")).await,
        Err(zk::Error::NoAuth)
    );
    // The right password on another session works.
    let carol = connect_with(
        f,
        connector(Duration::from_secs(10)).with_auth("digest", b"alice:secret"),
    )
    .await;
    assert_eq!(
        within(carol.get_data("/secret")).await.map(|(d, _)| d),
        Ok(b"s3".to_vec())
    );
}

/// `auth` expands to the creator's digest identity.
async fn auth_expands_to_the_creator(alice: &zk::Client, bob: &zk::Client, acl: &[zk::Acl]) {
    within(alice.create(
        "/creator",
        b"",
        &zk::CreateMode::Persistent.with_acls(zk::Acls::creator_all()),
    ))
    .await
    .expect("answered");
    let (got, _) = within(alice.get_acl("/creator")).await.expect("answered");
    assert_eq!(got, acl);
    assert_eq!(
        within(bob.list_children("/creator")).await,
        Err(zk::Error::NoAuth)
    );
}

/// setACL: versioned, and a read-only ACL refuses writes.
async fn set_acl_is_versioned(alice: &zk::Client, bob: &zk::Client) {
    within(alice.create("/open", b"", &persistent()))
        .await
        .expect("answered");
    assert_eq!(
        within(alice.set_acl("/open", &zk::Acls::anyone_read(), Some(3))).await,
        Err(zk::Error::BadVersion)
    );
    let stat = within(alice.set_acl("/open", &zk::Acls::anyone_read(), Some(0)))
        .await
        .expect("answered");
    assert_eq!((stat.aversion, stat.version), (1, 0));
    assert_eq!(
        within(bob.set_data("/open", b"x", None)).await,
        Err(zk::Error::NoAuth)
    );
    assert!(within(bob.get_data("/open")).await.is_ok());
}
