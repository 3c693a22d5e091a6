//! The learner's unit tests.

use std::collections::BTreeMap;

use menagerie_proto::SessionId;
use menagerie_proto::txn::{CreateSessionTxn, TxnBody};

use super::*;
use crate::ensemble::MemberRole;

fn txn(counter: u32) -> QuorumPacket {
    let body = TxnBody::CreateSession(CreateSessionTxn { timeout: 1 });
    let t = LoggedTxn::new(SessionId(1), 0, Zxid::new(1, counter), 0, body, None);
    QuorumPacket::with_data(PacketType::Proposal, t.zxid(), t.to_bytes())
}

fn diffing_learner() -> Learner {
    let members = BTreeMap::from([
        (ServerId(1), MemberRole::Participant),
        (ServerId(2), MemberRole::Participant),
    ]);
    let config = EnsembleConfig::new(members, String::new());
    let start = LearnerStart {
        me: ServerId(1),
        leader: ServerId(2),
        observer: false,
        epochs: (0, 0),
        last_logged: Zxid::ZERO,
        durable: Zxid::ZERO,
        snapshot_owed: false,
    };
    let mut acts = Actions::new();
    let mut l = Learner::new(0, start, &config, 100, &mut acts);
    l.connected(0, &config, &mut acts);
    let info = QuorumPacket::with_data(
        PacketType::LeaderInfo,
        Zxid::epoch_start(2),
        vec![0, 1, 0, 0],
    );
    l.packet(0, info, &mut acts);
    l.packet(
        0,
        QuorumPacket::new(PacketType::Diff, Zxid::new(1, 2)),
        &mut acts,
    );
    l.packet(0, txn(1), &mut acts);
    l.packet(
        0,
        QuorumPacket::new(PacketType::Commit, Zxid::new(1, 1)),
        &mut acts,
    );
    l.packet(0, txn(2), &mut acts);
    l
}

fn zxids(v: &[Arc<LoggedTxn>]) -> Vec<Zxid> {
    v.iter().map(|t| t.zxid()).collect()
}

/// Found by the simulator: a learner whose DIFF sync broke off replayed the sync's
/// uncommitted proposal on a tree that lacked the commits before it (they were still
/// deferred), and its tree diverged.
#[test]
fn a_sync_cut_short_before_newleader_leaves_nothing_to_replay() {
    let mut l = diffing_learner();
    assert_eq!(zxids(&l.take_uncommitted()), Vec::<Zxid>::new());
}

#[test]
fn after_newleader_a_diff_sync_is_replayed_whole_and_in_order() {
    let mut l = diffing_learner();
    let mut acts = Actions::new();
    l.packet(
        0,
        QuorumPacket::new(PacketType::NewLeader, Zxid::epoch_start(2)),
        &mut acts,
    );
    assert_eq!(
        zxids(&l.take_uncommitted()),
        vec![Zxid::new(1, 1), Zxid::new(1, 2)]
    );
}

/// Found by the simulator (finding 4 in the notes): txns this member handed to its log
/// before the sync (fsync still running) are the prefix the leader's DIFF builds on;
/// NEWLEADER's ack must wait until they are durable.
#[test]
fn newleader_is_acked_only_once_the_earlier_log_is_durable() {
    let members = BTreeMap::from([
        (ServerId(1), MemberRole::Participant),
        (ServerId(2), MemberRole::Participant),
    ]);
    let config = EnsembleConfig::new(members, String::new());
    let start = LearnerStart {
        me: ServerId(1),
        leader: ServerId(2),
        observer: false,
        epochs: (1, 1),
        last_logged: Zxid::new(1, 2),
        durable: Zxid::new(1, 1),
        snapshot_owed: false,
    };
    let mut acts = Actions::new();
    let mut l = Learner::new(0, start, &config, 100, &mut acts);
    l.connected(0, &config, &mut acts);
    let info = QuorumPacket::with_data(
        PacketType::LeaderInfo,
        Zxid::epoch_start(2),
        vec![0, 1, 0, 0],
    );
    l.packet(0, info, &mut acts);
    let diff = QuorumPacket::new(PacketType::Diff, Zxid::new(1, 2));
    l.packet(0, diff, &mut acts);
    acts.clear();
    let newleader = QuorumPacket::new(PacketType::NewLeader, Zxid::epoch_start(2));
    l.packet(0, newleader, &mut acts);
    let acked = |acts: &Actions| {
        acts.iter()
            .any(|a| matches!(a, Action::Send(_, p) if p.kind() == Some(PacketType::Ack)))
    };
    assert!(
        !acked(&acts),
        "acked NEWLEADER before 0x100000002 is durable"
    );
    l.persisted(Zxid::new(1, 2), &mut acts);
    assert!(acked(&acts), "{acts:?}");
    assert_eq!(l.phase(), LearnerPhase::AwaitUpToDate);
}

/// Found by the simulator (seeds 10576, 11958, 14680): a learner whose tree came from a
/// SNAP sync that ended before its snapshot was written synced next by DIFF, logged the
/// DIFF's txns and acknowledged NEWLEADER without that snapshot; its disk then held the
/// new txns over an older tree, and after a restart it replayed them into a wrong tree.
#[test]
fn a_diff_over_a_tree_owed_to_the_disk_writes_a_snapshot_before_the_newleader_ack() {
    let members = BTreeMap::from([
        (ServerId(1), MemberRole::Participant),
        (ServerId(2), MemberRole::Participant),
    ]);
    let config = EnsembleConfig::new(members, String::new());
    let start = LearnerStart {
        me: ServerId(1),
        leader: ServerId(2),
        observer: false,
        epochs: (1, 1),
        last_logged: Zxid::new(1, 0),
        durable: Zxid::ZERO,
        snapshot_owed: true,
    };
    let mut acts = Actions::new();
    let mut l = Learner::new(0, start, &config, 100, &mut acts);
    l.connected(0, &config, &mut acts);
    let info = QuorumPacket::with_data(
        PacketType::LeaderInfo,
        Zxid::epoch_start(2),
        vec![0, 1, 0, 0],
    );
    l.packet(0, info, &mut acts);
    l.packet(
        0,
        QuorumPacket::new(PacketType::Diff, Zxid::new(1, 2)),
        &mut acts,
    );
    l.packet(0, txn(1), &mut acts);
    l.packet(
        0,
        QuorumPacket::new(PacketType::Commit, Zxid::new(1, 1)),
        &mut acts,
    );
    acts.clear();
    let newleader = QuorumPacket::new(PacketType::NewLeader, Zxid::epoch_start(2));
    l.packet(0, newleader, &mut acts);
    assert!(
        acts.iter().any(|a| matches!(a, Action::Snapshot)),
        "no snapshot asked: {acts:?}"
    );
    let acked = |acts: &Actions| {
        acts.iter()
            .any(|a| matches!(a, Action::Send(_, p) if p.kind() == Some(PacketType::Ack)))
    };
    l.persisted(Zxid::new(1, 1), &mut acts);
    assert!(
        !acked(&acts),
        "acked NEWLEADER before the tree it builds on is on disk"
    );
    l.snapshot_written(&mut acts);
    assert!(acked(&acts), "{acts:?}");
    assert_eq!(l.phase(), LearnerPhase::AwaitUpToDate);
}

const LEADER: ServerId = ServerId(3);

fn follower_in_broadcast() -> Learner {
    let members = [1, 2, 3]
        .into_iter()
        .map(|s| (ServerId(s), MemberRole::Participant))
        .collect();
    let config = EnsembleConfig::new(members, String::new());
    let start = LearnerStart {
        me: ServerId(1),
        leader: LEADER,
        observer: false,
        epochs: (0, 0),
        last_logged: Zxid::ZERO,
        durable: Zxid::ZERO,
        snapshot_owed: false,
    };
    let mut acts = Actions::new();
    let mut l = Learner::new(0, start, &config, 2000, &mut acts);
    l.connected(0, &config, &mut acts);
    let epoch = Zxid::epoch_start(1);
    for kind in [
        PacketType::LeaderInfo,
        PacketType::Diff,
        PacketType::NewLeader,
        PacketType::UpToDate,
    ] {
        let zxid = if kind == PacketType::Diff {
            Zxid::ZERO
        } else {
            epoch
        };
        l.packet(0, QuorumPacket::new(kind, zxid), &mut acts);
    }
    assert!(l.is_serving(), "phase {:?}", l.phase());
    l
}

fn proposal(zxid: Zxid) -> QuorumPacket {
    let body = TxnBody::CreateSession(CreateSessionTxn { timeout: 30_000 });
    let t = LoggedTxn::new(SessionId(7), 0, zxid, 0, body, None);
    QuorumPacket::with_data(PacketType::Proposal, zxid, t.to_bytes())
}

fn acks(acts: &Actions) -> Vec<Zxid> {
    acts.iter()
        .filter_map(|a| match a {
            Action::Send(to, p) if *to == LEADER && p.kind() == Some(PacketType::Ack) => {
                Some(p.zxid)
            }
            _ => None,
        })
        .collect()
}

/// A quorum without this follower can commit a proposal before this follower's log has
/// made it durable; the follower must still acknowledge it (a Java leader drops a learner
/// that skips an ACK).
#[test]
fn a_proposal_committed_before_it_is_durable_is_still_acknowledged() {
    let mut l = follower_in_broadcast();
    let (z1, z2) = (
        Zxid::epoch_start(1).next(),
        Zxid::epoch_start(1).next().next(),
    );
    let mut acts = Actions::new();
    l.packet(1, proposal(z1), &mut acts);
    l.packet(1, proposal(z2), &mut acts);
    l.packet(1, QuorumPacket::new(PacketType::Commit, z1), &mut acts);
    assert!(acks(&acts).is_empty(), "nothing is durable yet");
    let mut acts = Actions::new();
    l.persisted(z2, &mut acts);
    assert_eq!(acks(&acts), vec![z1, z2]);
    let mut acts = Actions::new();
    l.persisted(z2, &mut acts);
    assert!(acks(&acts).is_empty(), "each proposal is acknowledged once");
}

/// Found by the simulator (finding 6 in the notes): the sync is logged under the
/// `updatingEpoch` marker, removed only once currentEpoch names the new epoch.
#[test]
fn the_sync_is_logged_under_the_updating_epoch_marker() {
    let mut l = diffing_learner();
    let mut acts = Actions::new();
    let newleader = QuorumPacket::new(PacketType::NewLeader, Zxid::epoch_start(2));
    l.packet(0, newleader, &mut acts);
    let marker = acts.iter().position(|a| *a == Action::UpdatingEpoch(true));
    let first_persist = acts.iter().position(|a| matches!(a, Action::Persist(_)));
    assert!(marker.is_some() && marker < first_persist, "{acts:?}");
    assert!(!acts.contains(&Action::UpdatingEpoch(false)));
    acts.clear();
    l.persisted(Zxid::new(1, 2), &mut acts);
    let epoch = acts.iter().position(|a| {
        matches!(
            a,
            Action::PersistEpoch {
                current: Some(2),
                ..
            }
        )
    });
    let cleared = acts.iter().position(|a| *a == Action::UpdatingEpoch(false));
    assert!(epoch.is_some() && epoch < cleared, "{acts:?}");
}

/// The rollover epoch change (ADR 0014): NEWLEADER in broadcast moves the follower to the
/// next epoch only if it is above the epoch it accepted, and its ack waits until what it
/// logged is durable, after both epoch files.
#[test]
fn an_epoch_change_is_acked_once_durable_and_only_above_the_accepted_epoch() {
    let mut l = follower_in_broadcast();
    let z1 = Zxid::epoch_start(1).next();
    let mut acts = Actions::new();
    l.packet(1, proposal(z1), &mut acts);
    l.packet(1, QuorumPacket::new(PacketType::Commit, z1), &mut acts);
    acts.clear();
    let change = QuorumPacket::new(PacketType::NewLeader, Zxid::epoch_start(2));
    l.packet(2, change, &mut acts);
    assert!(
        acts.contains(&Action::PersistEpoch {
            accepted: Some(2),
            current: None
        }),
        "{acts:?}"
    );
    assert!(acks(&acts).is_empty(), "acked before {z1} is durable");
    acts.clear();
    l.persisted(z1, &mut acts);
    let current = acts.iter().position(|a| {
        *a == Action::PersistEpoch {
            accepted: None,
            current: Some(2),
        }
    });
    let ack = acts.iter().position(|a| {
        matches!(a, Action::Send(_, p) if p.kind() == Some(PacketType::Ack)
            && p.zxid == Zxid::epoch_start(2))
    });
    assert!(current.is_some() && current < ack, "{acts:?}");
    assert_eq!(acks(&acts), vec![z1, Zxid::epoch_start(2)]);
    // A second change to an epoch already accepted is refused.
    acts.clear();
    let again = QuorumPacket::new(PacketType::NewLeader, Zxid::epoch_start(2));
    l.packet(3, again, &mut acts);
    assert!(
        acts.iter().any(|a| matches!(a, Action::StepDown(_))),
        "{acts:?}"
    );
}

/// With `menagerie.rolloverEpochChange=false` the learner announces itself as Java's do,
/// and NEWLEADER in broadcast is ignored.
#[test]
fn without_the_setting_a_learner_announces_and_follows_as_java() {
    let members: BTreeMap<ServerId, MemberRole> = [1, 2]
        .into_iter()
        .map(|s| (ServerId(s), MemberRole::Participant))
        .collect();
    let mut config = EnsembleConfig::new(members, String::new());
    for (on, version) in [
        (true, MENAGERIE_PROTOCOL_VERSION),
        (false, PROTOCOL_VERSION),
    ] {
        config.rollover.epoch_change = on;
        let start = LearnerStart {
            me: ServerId(1),
            leader: ServerId(2),
            observer: false,
            epochs: (0, 0),
            last_logged: Zxid::ZERO,
            durable: Zxid::ZERO,
            snapshot_owed: false,
        };
        let mut acts = Actions::new();
        let mut l = Learner::new(0, start, &config, 100, &mut acts);
        l.connected(0, &config, &mut acts);
        let info = acts.iter().find_map(|a| match a {
            Action::Send(_, p) if p.kind() == Some(PacketType::FollowerInfo) => {
                LearnerInfo::parse(p.payload())
            }
            _ => None,
        });
        assert_eq!(info.map(|i| i.protocol_version), Some(version));
    }
}
