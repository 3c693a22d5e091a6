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

fn ephemeral(path: &str) -> Request {
    Request::Create(menagerie_proto::records::CreateRequest {
        path: path.into(),
        data: Some(vec![]),
        acl: menagerie_proto::records::Acl::open_unsafe(),
        flags: 1,
    })
}

#[test]
fn a_session_moves_between_followers_with_its_ephemerals() {
    let mut c = Cluster::new(&[1, 2, 3], &[]);
    c.run(3_000);
    let a = c.connect(sid(1), 1);
    let session = c.session_of(sid(1), a).expect("session");
    assert_eq!(c.request(sid(1), a, 1, ephemeral("/lock"))[0].0.err, 0);
    // The client moves to member 2: the leader revalidates the session there.
    let b = c.resume(sid(2), 2, session);
    assert!(c.connected(sid(2), b), "resumed through REVALIDATE");
    assert_eq!(c.request(sid(2), b, 2, exists("/lock"))[0].0.err, 0);
    // The old connection on member 1 writes: the leader says SessionMoved and member 1
    // closes it.
    let r = c.request(sid(1), a, 3, create("/stale", b""));
    assert_eq!(r[0].0.err, ErrorCode::SessionMoved.code());
    assert!(c.closed(sid(1), a));
    // The new owner writes fine.
    assert_eq!(c.request(sid(2), b, 4, create("/fresh", b""))[0].0.err, 0);
}

#[test]
fn sessions_on_followers_live_by_touches_and_expire_on_the_leader() {
    let mut c = Cluster::new(&[1, 2, 3], &[]);
    c.run(3_000);
    let a = c.connect(sid(1), 1);
    assert_eq!(c.request(sid(1), a, 1, ephemeral("/e"))[0].0.err, 0);
    // Reads only, well past the 4 s timeout: the follower's touches keep it alive.
    for i in 0..20 {
        c.run(500);
        let r = c.request(sid(1), a, 10 + i, exists("/e"));
        assert_eq!(r[0].0.err, 0, "read {i}");
    }
    // Silence: the leader expires it, the ephemeral goes everywhere, the connection closes.
    c.run(10_000);
    assert!(
        c.closed(sid(1), a),
        "expired session closed on its follower"
    );
    let b = c.connect(sid(2), 2);
    let r = c.request(sid(2), b, 1, exists("/e"));
    assert_eq!(r[0].0.err, ErrorCode::NoNode.code());
    assert!(all_equal(&c), "{:?}", c.digests());
}

#[test]
fn sync_on_a_follower_and_watches_fire_on_every_member() {
    let mut c = Cluster::new(&[1, 2, 3], &[]);
    c.run(3_000);
    let w = c.connect(sid(2), 1);
    let r = c.request(
        sid(2),
        w,
        1,
        Request::Exists(PathWatchRequest {
            path: "/x".into(),
            watch: true,
        }),
    );
    assert_eq!(r[0].0.err, ErrorCode::NoNode.code());
    let a = c.connect(sid(1), 2);
    assert_eq!(c.request(sid(1), a, 1, create("/x", b""))[0].0.err, 0);
    assert_eq!(c.events(sid(2), w), vec![(1, "/x".to_string())]);
    let r = c.request(
        sid(2),
        w,
        2,
        Request::Sync(menagerie_proto::records::PathRequest { path: "/x".into() }),
    );
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].1, Response::Sync { path: "/x".into() });
}

#[test]
fn a_divergent_member_is_truncated_when_it_returns() {
    let mut c = Cluster::new(&[1, 2, 3], &[]);
    c.run(3_000);
    let leader = c.leader().expect("leader");
    let a = c.connect(leader, 1);
    assert_eq!(c.request(leader, a, 1, create("/kept", b""))[0].0.err, 0);
    c.run(300);
    // The leader is cut off: its next proposal reaches only its own log.
    for s in [1, 2, 3] {
        if sid(s) != leader {
            c.partition(leader, sid(s), true);
        }
    }
    c.send(leader, a, 2, create("/lost", b""));
    c.settle();
    assert!(c.replies(leader, a, 2).is_empty(), "never acknowledged");
    c.crash(leader);
    for s in [1, 2, 3] {
        c.partition(leader, sid(s), false);
    }
    c.run(3_000);
    let new_leader = c.leader().expect("a new leader");
    c.restart(leader);
    c.run(3_000);
    assert_eq!(
        c.members[&leader].node.peer_state(),
        Some(PeerState::Following)
    );
    assert!(all_equal(&c), "{:?}", c.digests());
    let b = c.connect(leader, 2);
    assert_eq!(
        c.request(leader, b, 1, exists("/lost"))[0].0.err,
        ErrorCode::NoNode.code()
    );
    assert_eq!(c.request(leader, b, 2, exists("/kept"))[0].0.err, 0);
    let _ = new_leader;
}

/// Cuts `member` off from every other member (or heals it).
fn isolate(c: &mut Cluster, member: ServerId, cut: bool) {
    let others: Vec<ServerId> = c.members.keys().copied().filter(|s| *s != member).collect();
    for s in others {
        c.partition(member, s, cut);
    }
}

#[test]
fn a_member_cut_off_serves_read_only_clients_until_it_rejoins() {
    let mut c = Cluster::with_config(&[1, 2, 3], &[], |c| c.read_only_mode = true);
    c.run(3_000);
    let leader = c.leader().expect("leader");
    let a = c.connect(leader, 1);
    assert_eq!(c.request(leader, a, 1, create("/seen", b"v1"))[0].0.err, 0);
    c.run(500);
    let lone = [1, 2, 3]
        .map(sid)
        .into_iter()
        .find(|s| *s != leader)
        .expect("a follower");
    let before = c.members[&lone].node.last_processed_zxid();
    isolate(&mut c, lone, true);
    // Electing without a quorum: no clients at first, read-only ones after the delay.
    c.run(1_000);
    assert!(!c.members[&lone].node.serves_read_only());
    let early = c.connect_with(lone, 10, 0, Some(true));
    assert!(c.closed(lone, early), "not yet read-only");
    c.run(2_000);
    assert!(c.members[&lone].node.serves_read_only());
    let rw = c.connect_with(lone, 11, 0, Some(false));
    assert!(c.closed(lone, rw), "a read-write client is refused");
    let ro = c.connect_with(lone, 12, 0, Some(true));
    let resp = c.connect_response(lone, ro).expect("answered");
    assert_eq!(resp.read_only, Some(true));
    assert!(resp.timeout > 0);
    let read = c.request(lone, ro, 1, exists("/seen"));
    assert_eq!(read[0].0.err, 0);
    assert_eq!(read[0].0.zxid, before.0, "reads carry the member's zxid");
    let write = c.request(lone, ro, 2, create("/nope", b""));
    assert_eq!(write[0].0.err, ErrorCode::NotReadOnly.code());
    // A global session resumes here too; an unknown one is refused.
    let global = c.session_of(leader, a).expect("session");
    let resumed = c.connect_with(lone, 13, global, Some(true));
    assert!(c.connected(lone, resumed), "a session the member knows");
    let unknown = c.connect_with(lone, 14, global + 99, Some(true));
    assert!(!c.connected(lone, unknown));
    // ... closed without an answer: it may be alive on the quorum's side, which this
    // member cannot ask, so it must not be told it expired (simulator finding, seed 393).
    assert!(c.closed(lone, unknown));
    assert!(
        c.connect_response(lone, unknown).is_none(),
        "not told its session expired"
    );
    // The majority side kept serving writes (a new session: the first one had no pings
    // for longer than its timeout); healing ends read-only mode.
    let b = c.connect(leader, 2);
    assert_eq!(c.request(leader, b, 1, create("/after", b""))[0].0.err, 0);
    isolate(&mut c, lone, false);
    c.run(3_000);
    assert!(!c.members[&lone].node.serves_read_only());
    assert!(
        c.closed(lone, ro),
        "read-only clients are closed on rejoining"
    );
    assert!(c.members[&lone].node.is_serving());
    assert!(all_equal(&c), "{:?}", c.digests());
}

/// Simulator finding (seeds 11, 93): a leader cut off with a proposal outstanding applies
/// it when it steps down (ZooKeeper's fast-forward); the next leader may truncate it, so
/// the member must not show it to read-only clients.
#[test]
fn a_member_whose_state_may_not_be_committed_serves_no_read_only_clients() {
    let mut c = Cluster::with_config(&[1, 2, 3], &[], |c| c.read_only_mode = true);
    c.run(3_000);
    let leader = c.leader().expect("leader");
    let a = c.connect(leader, 1);
    assert_eq!(c.request(leader, a, 1, create("/seen", b"v1"))[0].0.err, 0);
    let committed = c.members[&leader].node.last_processed_zxid();
    isolate(&mut c, leader, true);
    // Proposed, never acknowledged by anyone.
    c.send(leader, a, 2, create("/maybe", b"x"));
    c.run(5_000);
    assert!(
        c.members[&leader].node.last_processed_zxid() > committed,
        "the step-down applied the outstanding proposal"
    );
    assert!(!c.members[&leader].node.serves_read_only());
    let ro = c.connect_with(leader, 10, 0, Some(true));
    assert!(c.closed(leader, ro), "no read-only service from that state");
    // Once synced in a role again, a later cut-off serves read-only clients.
    isolate(&mut c, leader, false);
    c.run(3_000);
    let lone = leader;
    assert!(c.members[&lone].node.is_serving());
    isolate(&mut c, lone, true);
    c.run(5_000);
    assert!(c.members[&lone].node.serves_read_only());
}

#[test]
fn read_only_mode_is_off_by_default() {
    let mut c = Cluster::new(&[1, 2, 3], &[]);
    c.run(3_000);
    let leader = c.leader().expect("leader");
    let lone = [1, 2, 3]
        .map(sid)
        .into_iter()
        .find(|s| *s != leader)
        .expect("a follower");
    isolate(&mut c, lone, true);
    c.run(5_000);
    assert!(!c.members[&lone].node.serves_read_only());
    let ro = c.connect_with(lone, 10, 0, Some(true));
    assert!(c.closed(lone, ro));
}

fn ephemeral_under(path: &str) -> Request {
    ephemeral(path)
}

/// The last zxid every member applied (they agree once settled).
fn zxid_of(c: &Cluster, member: ServerId) -> menagerie_proto::Zxid {
    c.members[&member].node.last_processed_zxid()
}

#[test]
fn local_sessions_cost_no_txn_and_upgrade_on_their_first_ephemeral() {
    let mut c = Cluster::with_config(&[1, 2, 3], &[], |c| {
        c.local_sessions = true;
        c.local_sessions_upgrading = true;
    });
    c.run(3_000);
    let leader = c.leader().expect("leader");
    let follower = [1, 2, 3]
        .map(sid)
        .into_iter()
        .find(|s| *s != leader)
        .expect("follower");
    let before = zxid_of(&c, leader);
    let a = c.connect(follower, 1);
    assert!(c.connected(follower, a));
    assert_eq!(c.members[&follower].node.local_session_count(), 1);
    assert_eq!(c.request(follower, a, 1, exists("/zookeeper"))[0].0.err, 0);
    assert_eq!(
        zxid_of(&c, leader),
        before,
        "opening a local session is no txn"
    );
    // A persistent create keeps it local; an ephemeral one makes it global first.
    assert_eq!(c.request(follower, a, 2, create("/p", b""))[0].0.err, 0);
    assert_eq!(c.members[&follower].node.local_session_count(), 1);
    assert_eq!(c.request(follower, a, 3, ephemeral_under("/e"))[0].0.err, 0);
    assert_eq!(
        c.members[&follower].node.local_session_count(),
        0,
        "upgraded"
    );
    let session = c.session_of(follower, a).expect("session");
    assert!(
        c.members[&leader]
            .node
            .replica()
            .sessions()
            .contains_key(&menagerie_proto::SessionId(session))
    );
    // A second local session closes without a txn.
    let b = c.connect(follower, 2);
    let at = zxid_of(&c, leader);
    assert_eq!(c.request(follower, b, 1, Request::CloseSession)[0].0.err, 0);
    assert!(c.closed(follower, b));
    assert_eq!(zxid_of(&c, leader), at, "closing a local session is no txn");
    assert!(all_equal(&c), "{:?}", c.digests());
}

/// Simulator finding (seed 43): closing a local session was answered at once, ahead of the
/// connection's write still in flight, and the connection closed, so the write's reply was
/// lost (a client saw its replies out of order).
#[test]
fn closing_a_local_session_answers_after_the_requests_before_it() {
    let mut c = Cluster::with_config(&[1, 2, 3], &[], |c| {
        c.local_sessions = true;
        c.local_sessions_upgrading = true;
    });
    c.run(3_000);
    let leader = c.leader().expect("leader");
    let follower = [1, 2, 3]
        .map(sid)
        .into_iter()
        .find(|s| *s != leader)
        .expect("follower");
    let a = c.connect(follower, 1);
    assert_eq!(c.members[&follower].node.local_session_count(), 1);
    c.send(follower, a, 1, create("/p", b"x"));
    c.send(follower, a, 2, exists("/p"));
    c.send(follower, a, 3, Request::CloseSession);
    c.settle();
    let xids: Vec<i32> = c.members[&follower].client_out[&a]
        .iter()
        .filter_map(|o| match o {
            menagerie_core::Output::Reply { header, .. } if header.xid > 0 => Some(header.xid),
            _ => None,
        })
        .collect();
    assert_eq!(xids, vec![1, 2, 3], "replies in request order");
    assert_eq!(c.replies(follower, a, 1)[0].0.err, 0);
    assert!(c.closed(follower, a));
    assert_eq!(c.members[&follower].node.local_session_count(), 0);
}

/// Simulator finding (seed 467, 5 voters + observer): with local sessions on, an ephemeral
/// create that reached the leader after its session's close had committed passed as another
/// member's local session, and created a node owned by a closed session, for ever.
#[test]
fn an_ephemeral_create_of_a_closed_session_fails_with_local_sessions_on() {
    use menagerie_proto::quorum::packet::ForwardedRequest;
    use menagerie_proto::quorum::{PacketType, QuorumPacket};
    use menagerie_proto::{OpCode, SessionId, Zxid};
    let mut c = Cluster::with_config(&[1, 2, 3], &[], |c| {
        c.local_sessions = true;
        c.local_sessions_upgrading = true;
    });
    c.run(3_000);
    let leader = c.leader().expect("leader");
    let follower = [1, 2, 3]
        .map(sid)
        .into_iter()
        .find(|s| *s != leader)
        .expect("follower");
    let a = c.connect(follower, 1);
    assert_eq!(c.request(follower, a, 1, ephemeral("/e1"))[0].0.err, 0);
    let session = c.session_of(follower, a).expect("session");
    assert_eq!(c.request(follower, a, 2, Request::CloseSession)[0].0.err, 0);
    // The follower's forward of a create its client sent before the close was answered,
    // arriving after the close committed.
    let mut body = Vec::new();
    ephemeral("/late").write_body(&mut body);
    let request = ForwardedRequest {
        session: SessionId(session),
        cxid: 3,
        op: OpCode::Create.code(),
        body,
    };
    let packet = QuorumPacket::with_data(PacketType::Request, Zxid::NONE, request.to_bytes());
    c.deliver(
        leader,
        menagerie_core::Input::Peer {
            from: follower,
            packet,
        },
    );
    c.settle();
    let b = c.connect(leader, 5);
    let late = c.request(leader, b, 1, exists("/late"));
    assert_eq!(
        late[0].0.err,
        ErrorCode::NoNode.code(),
        "no orphan ephemeral"
    );
    assert!(all_equal(&c), "{:?}", c.digests());
}

#[test]
fn without_upgrading_a_local_session_cannot_own_ephemerals_or_move() {
    let mut c = Cluster::with_config(&[1, 2, 3], &[], |c| c.local_sessions = true);
    c.run(3_000);
    let leader = c.leader().expect("leader");
    let others: Vec<ServerId> = [1, 2, 3]
        .map(sid)
        .into_iter()
        .filter(|s| *s != leader)
        .collect();
    let a = c.connect(others[0], 1);
    let err = c.request(others[0], a, 1, ephemeral_under("/e"))[0].0.err;
    assert_eq!(err, ErrorCode::EphemeralOnLocalSession.code());
    // The session is unknown on another member.
    let session = c.session_of(others[0], a).expect("session");
    let moved = c.connect_with(others[1], 2, session, None);
    assert!(
        !c.connected(others[1], moved),
        "a local session does not move"
    );
    // It expires on its member without pings.
    c.run(3_000);
    assert!(c.closed(others[0], a), "expired");
    assert_eq!(c.members[&others[0]].node.local_session_count(), 0);
}

/// Failover's "pre-vote" concern: a member partitioned away for a long time (it kept
/// electing, its election round far ahead) must not disturb a healthy leader when it returns
/// (as a Raft member with a higher term would): it follows the sitting leader, the epoch
/// stays, and the leader's clients never see a change.
#[test]
fn a_member_returning_from_a_partition_does_not_disturb_the_leader() {
    let mut c = Cluster::new(&[1, 2, 3], &[]);
    c.run(3_000);
    let leader = c.leader().expect("a leader");
    let away = sid(1);
    assert_ne!(leader, away);
    let epochs = c.members[&leader].epochs;
    let conn = c.connect(leader, 1);
    isolate(&mut c, away, true);
    for i in 0..30 {
        c.run(1_000);
        let r = c.request(leader, conn, i + 1, create(&format!("/w{i}"), b"x"));
        assert_eq!(r[0].0.err, 0, "write {i} while member 1 is away");
    }
    assert_ne!(
        c.members[&away].node.peer_state(),
        Some(PeerState::Following),
        "the cut-off member left its role"
    );
    isolate(&mut c, away, false);
    for i in 30..40 {
        c.run(300);
        let r = c.request(leader, conn, i + 1, create(&format!("/w{i}"), b"x"));
        assert_eq!(r[0].0.err, 0, "write {i} while member 1 returns");
    }
    // It follows once its next notification goes out (this harness drops what is sent
    // while a link is cut; the shell also resends the last notification on reconnection,
    // as ZooKeeper's send queue does, so a real member rejoins at once).
    for _ in 0..70 {
        if c.members[&away].node.peer_state() == Some(PeerState::Following) {
            break;
        }
        c.run(1_000);
    }
    assert_eq!(c.leader(), Some(leader), "the same leader");
    assert_eq!(c.members[&leader].epochs, epochs, "no new epoch");
    assert!(
        c.connected(leader, conn),
        "the leader's session was never disturbed"
    );
    assert_eq!(
        c.members[&away].node.peer_state(),
        Some(PeerState::Following)
    );
    assert!(all_equal(&c), "{:?}", c.digests());
}

/// Found by the simulator: a leader that stepped down with proposals it had logged but not
/// committed applies them (as ZooKeeper fast-forwards over its log); when it leads again,
/// a learner synced by DIFF must get them too, or its tree differs from the leader's.
#[test]
fn a_returning_leader_syncs_learners_with_what_it_logged_but_never_committed() {
    let mut c = Cluster::new(&[1, 2, 3], &[]);
    c.run(3_000);
    let leader = c.leader().expect("leader");
    let others: Vec<ServerId> = [1, 2, 3]
        .map(sid)
        .into_iter()
        .filter(|s| *s != leader)
        .collect();
    let (f1, f2) = (others[0], others[1]);
    let a = c.connect(leader, 1);
    assert_eq!(c.request(leader, a, 1, create("/a", b""))[0].0.err, 0);
    c.run(300);
    c.crash(f2);
    c.partition(leader, f1, true);
    // Logged by the leader alone: never committed in its epoch.
    c.send(leader, a, 2, create("/b", b""));
    c.send(leader, a, 3, create("/c", b""));
    c.run(3_000);
    assert_eq!(c.leader(), None, "no quorum while cut off");
    c.partition(leader, f1, false);
    c.run(5_000);
    assert_eq!(
        c.leader(),
        Some(leader),
        "the member with the longest log leads again"
    );
    let b = c.connect(leader, 2);
    assert_eq!(c.request(leader, b, 1, create("/d", b""))[0].0.err, 0);
    c.run(500);
    assert_eq!(c.members[&f1].node.digest_log().mismatches(), 0);
    assert!(all_equal(&c), "{:?}", c.digests());
    let f = c.connect(f1, 3);
    assert_eq!(
        c.request(f1, f, 1, exists("/b"))[0].0.err,
        0,
        "/b reached the follower"
    );
}

/// Found by the simulator (finding 9 in the notes): a leader whose timers stopped (a paused
/// process) while the others elected a new leader must not, when a client reaches it before
/// its next tick, answer that a session the new leader created has expired.
#[test]
fn a_stale_leader_steps_down_before_answering_a_client() {
    let mut c = Cluster::new(&[1, 2, 3], &[]);
    c.run(3_000);
    let old = c.leader().expect("leader");
    c.members.get_mut(&old).expect("member").timers_stopped = true;
    c.run(10_000);
    let new = *c
        .members
        .iter()
        .find(|(s, m)| **s != old && m.node.peer_state() == Some(PeerState::Leading))
        .expect("a new leader")
        .0;
    let a = c.connect(new, 1);
    let session = c
        .session_of(new, a)
        .expect("a session under the new leader");
    assert_eq!(
        c.members[&old].node.peer_state(),
        Some(PeerState::Leading),
        "the old leader has not noticed yet"
    );
    let late = c.resume(old, 2, session);
    let answer = c.connect_response(old, late);
    assert!(
        answer.as_ref().is_none_or(|r| r.timeout > 0),
        "told the client its live session expired: {answer:?}"
    );
    assert_ne!(c.members[&old].node.peer_state(), Some(PeerState::Leading));
}

/// Found by the simulator (seeds 10576, 11958, 14680): a learner synced by SNAP left the
/// role before the sync's snapshot was written, so its tree was in memory only. Synced next
/// by DIFF, it logged the new txns and acknowledged NEWLEADER (and served) with nothing on
/// disk below them: a restart would have replayed them over an older tree. The tree must
/// be written first.
#[test]
fn a_tree_from_an_unfinished_snap_sync_is_written_before_the_member_serves_again() {
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
    if let Some(m) = c.members.get_mut(&sid(1)) {
        m.hold_snapshots = true;
    }
    c.run(3_000);
    assert_eq!(
        c.members[&sid(1)].node.last_processed_zxid(),
        zxid_of(&c, leader)
    );
    assert!(
        !c.members[&sid(1)].node.is_serving(),
        "served before its snapshot was written"
    );
    // It leaves the role with the leader's snapshot in memory only; writes go on without it.
    isolate(&mut c, sid(1), true);
    c.run(3_000);
    let leader = c.leader().expect("leader");
    let conn = c.connect(leader, 2);
    for i in 0..5 {
        let r = c.request(leader, conn, i + 1, create(&format!("/t{i}"), b"v"));
        assert_eq!(r.first().map(|r| r.0.err), Some(0));
    }
    isolate(&mut c, sid(1), false);
    c.run(3_000);
    assert_eq!(
        c.members[&sid(1)].node.peer_state(),
        Some(PeerState::Following)
    );
    assert!(
        !c.members[&sid(1)].node.is_serving(),
        "acknowledged a DIFF over a tree that is not on disk"
    );
    c.release_snapshots(sid(1));
    c.run(3_000);
    assert!(c.members[&sid(1)].node.is_serving());
    assert!(all_equal(&c), "{:?}", c.digests());
}

/// Found by the real-process full-disk scenario: a follower whose disk stopped kept
/// answering pings, so the leader went on counting it as synced while it acknowledged
/// nothing. As ZooKeeper's `SyncLimitCheck`, the leader drops a follower whose oldest
/// unacknowledged proposal has waited `syncLimit` ticks.
#[test]
fn a_follower_that_acknowledges_nothing_is_dropped_after_sync_limit() {
    let mut c = Cluster::new(&[1, 2, 3], &[]);
    c.run(3_000);
    let leader = c.leader().expect("a leader");
    let stalled = sid(1);
    assert_ne!(leader, stalled);
    let synced = |c: &Cluster| {
        let view = c.members[&leader]
            .node
            .ensemble_view()
            .expect("an ensemble");
        view.learners.iter().any(|l| l.sid == stalled && l.synced)
    };
    assert!(synced(&c), "synced before its disk stops");
    c.members.get_mut(&stalled).expect("member").disk_stalled = true;
    let conn = c.connect(leader, 1);
    let r = c.request(leader, conn, 1, create("/a", b"x"));
    assert_eq!(r[0].0.err, 0, "the others are a quorum");
    let mut dropped = false;
    for _ in 0..150 {
        c.run(200);
        if !synced(&c) {
            dropped = true;
            break;
        }
    }
    assert!(
        dropped,
        "still counted as synced 30 s after its disk stopped"
    );
    let r = c.request(leader, conn, 2, create("/b", b"y"));
    assert_eq!(r[0].0.err, 0, "the ensemble goes on without it");
}
