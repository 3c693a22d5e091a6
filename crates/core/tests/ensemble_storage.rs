//! An ensemble member whose disk fails leaves its role and stays out of elections until the
//! disk works again; then it elects, rejoins and catches up (issue 16, item 9). A leader
//! whose disk fails stops leading (as ZooKeeper's leader shuts down); the others elect a new
//! one and go on. Nothing the failed member handed to its log is acknowledged before it is
//! durable.

mod cluster;

use cluster::*;
use menagerie_proto::ServerId;
use menagerie_proto::quorum::PeerState;

fn all_equal(c: &Cluster) -> bool {
    let d = c.digests();
    let first = d.values().next().copied();
    d.values().all(|v| Some(*v) == first)
}

/// Writes `/<prefix><i>` for i in 0..n through `member`, each acknowledged.
fn write(c: &mut Cluster, member: ServerId, conn: u64, prefix: &str, n: i32) {
    let conn = c.connect(member, conn);
    assert!(c.connected(member, conn), "a session on {member}");
    for i in 0..n {
        let r = c.request(member, conn, i + 1, create(&format!("/{prefix}{i}"), b"x"));
        assert_eq!(r.first().map(|r| r.0.err), Some(0), "{prefix}{i}: {r:?}");
    }
}

fn state(c: &Cluster, s: i64) -> Option<PeerState> {
    c.members[&sid(s)].node.peer_state()
}

#[test]
fn a_leader_whose_disk_fails_stops_leading_and_rejoins_once_it_works() {
    let mut c = Cluster::new(&[1, 2, 3], &[]);
    c.run(3_000);
    assert_eq!(c.leader(), Some(sid(3)));
    write(&mut c, sid(1), 1, "before", 5);

    c.fail_disk(sid(3));
    assert_eq!(state(&c, 3), Some(PeerState::Looking));
    c.run(5_000);
    let leader = c.leader().expect("the others elect a new leader");
    assert_ne!(leader, sid(3));
    write(&mut c, leader, 2, "during", 5);
    // Still failed: it takes part in no election and serves no one.
    assert_eq!(state(&c, 3), Some(PeerState::Looking));
    assert!(!c.members[&sid(3)].node.is_serving());
    assert!(
        c.members[&sid(3)].held.is_empty(),
        "{:?}",
        c.members[&sid(3)].held
    );

    c.heal_disk(sid(3));
    c.run(5_000);
    assert_eq!(state(&c, 3), Some(PeerState::Following));
    assert!(all_equal(&c), "{:?}", c.digests());
    write(&mut c, sid(3), 3, "after", 3);
    c.run(500);
    assert!(all_equal(&c), "{:?}", c.digests());
}

#[test]
fn a_follower_whose_disk_fails_acknowledges_nothing_and_catches_up_after() {
    let mut c = Cluster::new(&[1, 2, 3], &[]);
    c.run(3_000);
    assert_eq!(c.leader(), Some(sid(3)));
    write(&mut c, sid(1), 1, "before", 5);
    let logged = c.members[&sid(1)].log.len();

    c.fail_disk(sid(1));
    assert_eq!(state(&c, 1), Some(PeerState::Looking));
    // The leader keeps its quorum with member 2.
    write(&mut c, sid(2), 2, "during", 10);
    c.run(2_000);
    assert_eq!(state(&c, 1), Some(PeerState::Looking));
    assert_eq!(
        c.members[&sid(1)].log.len(),
        logged,
        "nothing durable meanwhile"
    );

    c.heal_disk(sid(1));
    c.run(5_000);
    assert_eq!(state(&c, 1), Some(PeerState::Following));
    assert_eq!(c.leader(), Some(sid(3)));
    assert!(all_equal(&c), "{:?}", c.digests());
    write(&mut c, sid(1), 3, "after", 3);
    c.run(500);
    assert!(all_equal(&c), "{:?}", c.digests());
}

/// Txns in flight to the failed disk are written when it works again: the member's log
/// then holds them, and it rejoins from there (a TRUNC if the ensemble never committed
/// them), with every member equal.
#[test]
fn what_waited_for_the_disk_is_written_before_the_member_elects() {
    let mut c = Cluster::new(&[1, 2, 3], &[]);
    c.run(3_000);
    write(&mut c, sid(1), 1, "before", 3);
    // Member 1's disk fails while a write is in flight: it holds the proposal unlogged.
    c.members.get_mut(&sid(1)).expect("member").disk_failed = true;
    write(&mut c, sid(2), 2, "inflight", 2);
    assert!(!c.members[&sid(1)].held.is_empty());
    c.fail_disk(sid(1));
    c.run(2_000);
    c.heal_disk(sid(1));
    assert!(c.members[&sid(1)].held.is_empty());
    c.run(5_000);
    assert_eq!(state(&c, 1), Some(PeerState::Following));
    assert!(all_equal(&c), "{:?}", c.digests());
}
