//! Unit tests of the leader's discovery, sync and broadcast.

use std::collections::BTreeMap;

use super::*;
use crate::ensemble::MemberRole;

/// Found by the simulator (finding 3 in the notes): a leader elected on a stale vote,
/// behind a learner that holds acknowledged writes, must not go on to truncate it.
#[test]
fn a_leader_behind_a_learner_steps_down() {
    let members = BTreeMap::from([
        (ServerId(1), MemberRole::Participant),
        (ServerId(2), MemberRole::Participant),
        (ServerId(3), MemberRole::Participant),
    ]);
    let config = EnsembleConfig::new(members, String::new());
    let committed = CommittedLog::new(500);
    let ctx = SyncContext {
        config: &config,
        committed: &committed,
        last_committed: Zxid::new(4, 0x67),
    };
    let mut acts = Actions::new();
    let mut leader = Leader::new(
        0,
        ServerId(1),
        (4, 4),
        (Zxid::new(4, 0x67), Zxid::new(4, 0x67)),
        ctx,
        100,
        &mut acts,
    );
    let info = LearnerInfo {
        server_id: ServerId(2),
        protocol_version: PROTOCOL_VERSION,
        config_version: 0,
    };
    let reg = QuorumPacket::with_data(
        PacketType::FollowerInfo,
        Zxid::epoch_start(4),
        info.to_bytes(),
    );
    leader.packet(0, ServerId(2), reg, ctx, &mut acts);
    assert_eq!(leader.epoch(), Some(5));
    acts.clear();
    let ack = QuorumPacket::with_data(PacketType::AckEpoch, Zxid::new(4, 0x7e), encode_int(4));
    leader.packet(0, ServerId(2), ack, ctx, &mut acts);
    assert!(
        acts.iter().any(|a| matches!(a, Action::StepDown(_))),
        "{acts:?}"
    );
}

/// Found by the simulator (finding 5 in the notes): a learner's acks must not outlive
/// its connection; when it returns, a TRUNC may take those txns out of its log.
#[test]
fn acks_of_a_disconnected_learner_do_not_count() {
    let members = BTreeMap::from([
        (ServerId(1), MemberRole::Participant),
        (ServerId(2), MemberRole::Participant),
        (ServerId(3), MemberRole::Participant),
    ]);
    let config = EnsembleConfig::new(members, String::new());
    let committed = CommittedLog::new(500);
    let ctx = SyncContext {
        config: &config,
        committed: &committed,
        last_committed: Zxid::ZERO,
    };
    let mut acts = Actions::new();
    let mut leader = Leader::new(
        0,
        ServerId(1),
        (0, 0),
        (Zxid::ZERO, Zxid::ZERO),
        ctx,
        100,
        &mut acts,
    );
    let info = LearnerInfo {
        server_id: ServerId(2),
        protocol_version: PROTOCOL_VERSION,
        config_version: 0,
    };
    let two = ServerId(2);
    let reg = QuorumPacket::with_data(PacketType::FollowerInfo, Zxid::ZERO, info.to_bytes());
    leader.packet(0, two, reg, ctx, &mut acts);
    let ack_epoch = QuorumPacket::with_data(PacketType::AckEpoch, Zxid::ZERO, encode_int(0));
    leader.packet(0, two, ack_epoch, ctx, &mut acts);
    let ack_newleader = QuorumPacket::new(PacketType::Ack, Zxid::epoch_start(1));
    leader.packet(0, two, ack_newleader, ctx, &mut acts);
    assert!(leader.is_serving());
    let body =
        menagerie_proto::txn::TxnBody::CreateSession(menagerie_proto::txn::CreateSessionTxn {
            timeout: 1,
        });
    let z = Zxid::new(1, 1);
    let txn = LoggedTxn::new(menagerie_proto::SessionId(7), 0, z, 0, body, None);
    leader.propose(Arc::new(txn), &mut acts);
    leader.packet(
        0,
        two,
        QuorumPacket::new(PacketType::Ack, z),
        ctx,
        &mut acts,
    );
    leader.peer_down(two);
    acts.clear();
    leader.persisted(0, z, ctx, &mut acts);
    assert!(
        !acts.iter().any(|a| matches!(a, Action::Commit(_))),
        "committed on the ack of a learner that is gone: {acts:?}"
    );
}

fn three_members() -> EnsembleConfig {
    let members = BTreeMap::from([
        (ServerId(1), MemberRole::Participant),
        (ServerId(2), MemberRole::Participant),
        (ServerId(3), MemberRole::Participant),
    ]);
    EnsembleConfig::new(members, String::new())
}

/// Found by the simulator (findings 4 and 10 in the notes): a new leader whose own log is
/// not yet durable up to its head must neither write currentEpoch (which would make its
/// votes beat members with longer logs after a power loss) nor count itself in the
/// NEWLEADER quorum (its head would be served while durable on too few voters).
#[test]
fn a_leader_establishes_its_epoch_only_once_its_log_is_durable() {
    let config = three_members();
    let committed = CommittedLog::new(500);
    let head = Zxid::new(2, 7);
    let ctx = SyncContext {
        config: &config,
        committed: &committed,
        last_committed: head,
    };
    let mut acts = Actions::new();
    let (logged, durable) = (head, Zxid::new(2, 5));
    let mut leader = Leader::new(
        0,
        ServerId(1),
        (2, 2),
        (logged, durable),
        ctx,
        100,
        &mut acts,
    );
    let two = ServerId(2);
    let info = LearnerInfo {
        server_id: two,
        protocol_version: PROTOCOL_VERSION,
        config_version: 0,
    };
    let reg = QuorumPacket::with_data(
        PacketType::FollowerInfo,
        Zxid::epoch_start(2),
        info.to_bytes(),
    );
    leader.packet(0, two, reg, ctx, &mut acts);
    let ack_epoch = QuorumPacket::with_data(PacketType::AckEpoch, head, encode_int(2));
    leader.packet(0, two, ack_epoch, ctx, &mut acts);
    let writes_current = |acts: &Actions| {
        acts.iter().any(|a| {
            matches!(
                a,
                Action::PersistEpoch {
                    current: Some(3),
                    ..
                }
            )
        })
    };
    assert!(
        !writes_current(&acts),
        "currentEpoch written over a log not yet durable"
    );
    leader.persisted(0, Zxid::new(2, 6), ctx, &mut acts);
    assert!(!writes_current(&acts));
    acts.clear();
    leader.persisted(0, head, ctx, &mut acts);
    assert!(writes_current(&acts), "{acts:?}");
    let newleader_sent = acts.iter().any(|a| {
        matches!(a, Action::Send(to, p) if *to == two && p.kind() == Some(PacketType::NewLeader))
    });
    assert!(newleader_sent, "{acts:?}");
    assert!(!leader.is_serving());
    let ack_newleader = QuorumPacket::new(PacketType::Ack, Zxid::epoch_start(3));
    leader.packet(0, two, ack_newleader, ctx, &mut acts);
    assert!(leader.is_serving());
}

/// A leader whose log is durable while the epoch is being established (the learner's
/// NEWLEADER ack comes first) counts itself as soon as its own report arrives.
#[test]
fn a_leader_counts_itself_for_newleader_once_durable() {
    let config = three_members();
    let committed = CommittedLog::new(500);
    let head = Zxid::new(2, 7);
    let ctx = SyncContext {
        config: &config,
        committed: &committed,
        last_committed: head,
    };
    let mut acts = Actions::new();
    let mut leader = Leader::new(0, ServerId(1), (2, 2), (head, head), ctx, 100, &mut acts);
    assert!(
        !leader.count_own_newleader_ack(),
        "counted at once when durable"
    );
    let two = ServerId(2);
    let info = LearnerInfo {
        server_id: two,
        protocol_version: PROTOCOL_VERSION,
        config_version: 0,
    };
    let reg = QuorumPacket::with_data(
        PacketType::FollowerInfo,
        Zxid::epoch_start(2),
        info.to_bytes(),
    );
    leader.packet(0, two, reg, ctx, &mut acts);
    let ack_epoch = QuorumPacket::with_data(PacketType::AckEpoch, head, encode_int(2));
    leader.packet(0, two, ack_epoch, ctx, &mut acts);
    let ack_newleader = QuorumPacket::new(PacketType::Ack, Zxid::epoch_start(3));
    leader.packet(0, two, ack_newleader, ctx, &mut acts);
    assert!(leader.is_serving());
}
