//! The zxid-rollover epoch change (`menagerie.rolloverEpochChange`, ADR 0014): a leader
//! whose counter nears its end moves the ensemble to the next epoch without an election
//! while clients keep writing; with a learner that cannot follow it (as a Java one), the
//! leader steps down when the counter runs out, as ZooKeeper's does.

mod cluster;

use cluster::*;
use menagerie_core::config::CoreConfig;
use menagerie_proto::quorum::PeerState;
use menagerie_proto::{ServerId, Zxid};

/// Counters start 30 short of the end; the change starts 10 short of it.
fn near_end(c: &mut CoreConfig) {
    if let Some(e) = c.ensemble.as_mut() {
        e.rollover.first_counter = Zxid::MAX_COUNTER - 30;
        e.rollover.margin = 10;
    }
}

/// As [`near_end`], with member 1 announcing itself as ZooKeeper's learners do.
fn near_end_with_a_java_like_member(c: &mut CoreConfig) {
    near_end(c);
    if c.server_id == ServerId(1)
        && let Some(e) = c.ensemble.as_mut()
    {
        e.rollover.epoch_change = false;
    }
}

fn all_equal(c: &Cluster) -> bool {
    let d = c.digests();
    let first = d.values().next().copied();
    d.values().all(|v| Some(*v) == first)
}

#[test]
fn writes_go_on_across_the_epoch_change_without_an_election() {
    let mut c = Cluster::with_config(&[1, 2, 3], &[4], near_end);
    c.run(3_000);
    assert_eq!(c.leader(), Some(sid(3)));
    assert_eq!(c.members[&sid(3)].epochs, (1, 1));
    let via_follower = c.connect(sid(1), 1);
    let via_leader = c.connect(sid(3), 2);
    let via_observer = c.connect(sid(4), 3);
    let conns = [
        (sid(1), via_follower),
        (sid(3), via_leader),
        (sid(4), via_observer),
    ];
    let mut last_zxid = 0;
    for i in 0..60 {
        let (member, conn) = conns[i % 3];
        let xid = i as i32 + 1;
        let r = c.request(member, conn, xid, create(&format!("/n{i}"), b"x"));
        assert_eq!(r.first().map(|r| r.0.err), Some(0), "write {i}: {r:?}");
        assert!(r[0].0.zxid > last_zxid, "write {i}: zxids rise");
        last_zxid = r[0].0.zxid;
    }
    assert_eq!(Zxid(last_zxid).epoch(), 2, "the last writes are in epoch 2");
    for (member, conn) in conns {
        assert!(
            !c.closed(member, conn),
            "m{member}'s client kept its connection"
        );
    }
    assert_eq!(c.leader(), Some(sid(3)), "the same leader");
    assert_eq!(c.members[&sid(3)].node.epoch_changes().0, 1);
    for s in [1, 2, 3, 4] {
        let m = &c.members[&sid(s)];
        assert_eq!(m.epochs, (2, 2), "member {s} wrote the new epoch");
        assert!(m.node.is_serving(), "member {s} serves");
    }
    c.run(1_000);
    assert!(all_equal(&c), "{:?}", c.digests());
    assert_eq!(c.leader(), Some(sid(3)), "still the same leader");
    // Every member logged the same history, the new epoch's txns numbered from 1.
    let log: Vec<Zxid> = c.members[&sid(3)].log.iter().map(|t| t.zxid()).collect();
    assert!(log.contains(&Zxid::new(2, 1)), "{log:?}");
    assert!(
        log.iter()
            .all(|z| z.counter() <= Zxid::MAX_COUNTER - 10 || z.epoch() == 2),
        "epoch 1 stopped at the margin: {log:?}"
    );
    for s in [1, 2] {
        let theirs: Vec<Zxid> = c.members[&sid(s)].log.iter().map(|t| t.zxid()).collect();
        assert_eq!(theirs, log, "member {s}");
    }
}

#[test]
fn a_learner_without_the_marker_keeps_zookeepers_election() {
    let mut c = Cluster::with_config(&[1, 2, 3], &[], near_end_with_a_java_like_member);
    c.run(3_000);
    assert_eq!(c.leader(), Some(sid(3)));
    let conn = c.connect(sid(3), 1);
    let mut refused = None;
    for i in 0..40 {
        let r = c.request(sid(3), conn, i + 1, create(&format!("/n{i}"), b"x"));
        if r.first().map(|r| r.0.err) != Some(0) {
            refused = Some(i);
            break;
        }
    }
    assert!(refused.is_some(), "the counter ran out");
    assert!(c.closed(sid(3), conn), "the leader stepped down");
    assert_eq!(c.members[&sid(3)].node.epoch_changes().0, 0);
    c.run(5_000);
    let leader = c.leader().expect("a new leader after the election");
    let (accepted, current) = c.members[&leader].epochs;
    assert_eq!((accepted, current), (2, 2), "the election's epoch");
    let conn = c.connect(leader, 2);
    let r = c.request(leader, conn, 1, create("/after", b""));
    assert_eq!(r.first().map(|r| r.0.err), Some(0), "{r:?}");
    c.run(500);
    assert!(all_equal(&c), "{:?}", c.digests());
}

#[test]
fn a_leader_lost_mid_change_leaves_a_state_an_election_recovers() {
    let mut c = Cluster::with_config(&[1, 2, 3], &[], near_end);
    c.run(3_000);
    assert_eq!(c.leader(), Some(sid(3)));
    let conn = c.connect(sid(1), 1);
    let mut acked = Vec::new();
    let mut caught = false;
    'writes: for i in 0..40 {
        c.send(sid(1), conn, i + 1, create(&format!("/n{i}"), b"x"));
        for _ in 0..100_000 {
            let follower = c.members[&sid(1)].epochs;
            let leader = c.members[&sid(3)].epochs;
            if follower == (2, 2) && leader.1 == 1 {
                // A follower wrote the new epoch; the leader has not finished the change.
                c.crash(sid(3));
                caught = true;
                break 'writes;
            }
            if !c.step_one() {
                break;
            }
        }
        if c.replies(sid(1), conn, i + 1).first().map(|r| r.0.err) == Some(0) {
            acked.push(i);
        }
    }
    assert!(caught, "the leader was caught mid-change");
    c.run(5_000);
    let leader = c.leader().expect("an election recovers");
    assert_ne!(leader, sid(3));
    let (accepted, _) = c.members[&leader].epochs;
    assert_eq!(
        accepted, 3,
        "the election skips the epoch the change had claimed"
    );
    let conn = c.connect(leader, 5);
    for i in &acked {
        let r = c.request(
            leader,
            conn,
            100 + i,
            menagerie_proto::request::Request::Exists(menagerie_proto::records::PathWatchRequest {
                path: format!("/n{i}"),
                watch: false,
            }),
        );
        assert_eq!(r[0].0.err, 0, "/n{i} survived");
    }
    c.restart(sid(3));
    c.run(5_000);
    assert_eq!(
        c.members[&sid(3)].node.peer_state(),
        Some(PeerState::Following)
    );
    assert!(all_equal(&c), "{:?}", c.digests());
}
