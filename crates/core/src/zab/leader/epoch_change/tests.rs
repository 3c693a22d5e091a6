//! Unit tests of the rollover epoch change on the leader.

use std::collections::BTreeMap;

use menagerie_proto::SessionId;
use menagerie_proto::quorum::LearnerInfo;
use menagerie_proto::quorum::packet::{MENAGERIE_PROTOCOL_VERSION, PROTOCOL_VERSION, encode_int};
use menagerie_proto::txn::{CreateSessionTxn, TxnBody};

use super::super::SyncContext;
use super::*;
use crate::ensemble::MemberRole;
use crate::zab::committed_log::CommittedLog;

fn config() -> EnsembleConfig {
    let members = BTreeMap::from([
        (ServerId(1), MemberRole::Participant),
        (ServerId(2), MemberRole::Participant),
        (ServerId(3), MemberRole::Participant),
    ]);
    let mut c = EnsembleConfig::new(members, String::new());
    c.rollover.margin = 10;
    c
}

fn txn(zxid: Zxid) -> Arc<LoggedTxn> {
    let body = TxnBody::CreateSession(CreateSessionTxn { timeout: 1 });
    Arc::new(LoggedTxn::new(SessionId(7), 0, zxid, 0, body, None))
}

/// A leader of epoch 1 serving with learner 2 (announcing `version`) in broadcast.
fn serving(config: &EnsembleConfig, committed: &CommittedLog, version: i32) -> Leader {
    let ctx = SyncContext {
        config,
        committed,
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
    let two = ServerId(2);
    let info = LearnerInfo {
        server_id: two,
        protocol_version: version,
        config_version: 0,
    };
    let reg = QuorumPacket::with_data(PacketType::FollowerInfo, Zxid::ZERO, info.to_bytes());
    leader.packet(0, two, reg, ctx, &mut acts);
    let ack_epoch = QuorumPacket::with_data(PacketType::AckEpoch, Zxid::ZERO, encode_int(0));
    leader.packet(0, two, ack_epoch, ctx, &mut acts);
    let ack = QuorumPacket::new(PacketType::Ack, Zxid::epoch_start(1));
    leader.packet(0, two, ack, ctx, &mut acts);
    assert!(leader.is_serving());
    assert_eq!(leader.learners()[&two].phase, Phase::Broadcast);
    leader
}

fn persists(acts: &Actions) -> Vec<Zxid> {
    acts.iter()
        .filter_map(|a| match a {
            Action::Persist(t) => Some(t.zxid()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_java_learner_keeps_the_leader_from_changing_epoch() {
    let config = config();
    let committed = CommittedLog::new(500);
    let near = Zxid::MAX_COUNTER - 5;
    let java = serving(&config, &committed, PROTOCOL_VERSION);
    assert!(!java.wants_epoch_change(near, &config));
    let ours = serving(&config, &committed, MENAGERIE_PROTOCOL_VERSION);
    assert!(ours.wants_epoch_change(near, &config));
    assert!(
        !ours.wants_epoch_change(Zxid::MAX_COUNTER - 11, &config),
        "outside the margin"
    );
    let mut off = config.clone();
    off.rollover.epoch_change = false;
    assert!(!ours.wants_epoch_change(near, &off));
}

/// The change: old-epoch proposals commit first (those of the batch that started it go
/// out at once), new-epoch ones wait, NEWLEADER goes out once nothing is outstanding, and a
/// quorum of acks (the leader's own once durable) writes currentEpoch and releases them.
#[test]
fn new_epoch_proposals_wait_for_a_quorum_of_the_epoch_change() {
    let config = config();
    let committed = CommittedLog::new(500);
    let ctx = SyncContext {
        config: &config,
        committed: &committed,
        last_committed: Zxid::ZERO,
    };
    let mut leader = serving(&config, &committed, MENAGERIE_PROTOCOL_VERSION);
    let two = ServerId(2);
    let (a, b) = (
        Zxid::new(1, Zxid::MAX_COUNTER - 1),
        Zxid::new(1, Zxid::MAX_COUNTER),
    );
    let mut acts = Actions::new();
    leader.propose(txn(a), &mut acts);
    assert!(leader.wants_epoch_change(a.counter(), &config));
    assert_eq!(leader.start_epoch_change(10, &config, &mut acts), Some(2));
    // The same batch's next txn was prepped in epoch 1: it goes out now.
    leader.propose(txn(b), &mut acts);
    let new = Zxid::new(2, 1);
    leader.propose(txn(new), &mut acts);
    assert_eq!(persists(&acts), vec![a, b], "the new epoch's txn waits");
    let announced = |acts: &Actions| {
        acts.iter().any(|x| {
            matches!(x, Action::Send(to, p) if *to == two
                && p.kind() == Some(PacketType::NewLeader) && p.zxid == Zxid::epoch_start(2))
        })
    };
    assert!(!announced(&acts), "announced with proposals outstanding");
    acts.clear();
    for z in [a, b] {
        leader.packet(
            20,
            two,
            QuorumPacket::new(PacketType::Ack, z),
            ctx,
            &mut acts,
        );
    }
    leader.persisted(20, b, ctx, &mut acts);
    assert!(announced(&acts), "{acts:?}");
    assert!(acts.contains(&Action::PersistEpoch {
        accepted: Some(2),
        current: None
    }));
    assert!(persists(&acts).is_empty());
    assert!(leader.changing_epoch(), "waits for a learner's ack");
    acts.clear();
    let ack = QuorumPacket::new(PacketType::Ack, Zxid::epoch_start(2));
    leader.packet(30, two, ack, ctx, &mut acts);
    assert!(!leader.changing_epoch());
    assert_eq!(leader.epoch(), Some(2));
    let current = acts.iter().position(|x| {
        *x == Action::PersistEpoch {
            accepted: None,
            current: Some(2),
        }
    });
    let first = acts.iter().position(|x| matches!(x, Action::Persist(_)));
    assert!(current.is_some() && current < first, "{acts:?}");
    assert_eq!(persists(&acts), vec![new]);
    assert!(acts.contains(&Action::EpochChanged {
        epoch: 2,
        waited_ms: 20
    }));
}

/// An ACKEPOCH of -1 ("already accepted") does not count toward a new epoch's quorum: the
/// learner may have accepted that epoch from another leader or a rollover epoch change.
#[test]
fn an_ackepoch_of_an_epoch_already_accepted_does_not_count() {
    let config = config();
    let committed = CommittedLog::new(500);
    let ctx = SyncContext {
        config: &config,
        committed: &committed,
        last_committed: Zxid::new(1, 5),
    };
    let mut acts = Actions::new();
    let head = Zxid::new(1, 5);
    let mut leader = Leader::new(0, ServerId(1), (1, 1), (head, head), ctx, 100, &mut acts);
    for s in [2, 3] {
        let info = LearnerInfo {
            server_id: ServerId(s),
            protocol_version: MENAGERIE_PROTOCOL_VERSION,
            config_version: 0,
        };
        let reg = QuorumPacket::with_data(
            PacketType::FollowerInfo,
            Zxid::epoch_start(1),
            info.to_bytes(),
        );
        leader.packet(0, ServerId(s), reg, ctx, &mut acts);
    }
    assert_eq!(leader.epoch(), Some(2));
    let writes_current = |acts: &Actions| {
        acts.iter().any(|x| {
            matches!(
                x,
                Action::PersistEpoch {
                    current: Some(2),
                    ..
                }
            )
        })
    };
    acts.clear();
    let already = QuorumPacket::with_data(PacketType::AckEpoch, head, encode_int(-1));
    leader.packet(0, ServerId(2), already, ctx, &mut acts);
    assert!(
        !writes_current(&acts),
        "counted an ACKEPOCH of -1: {acts:?}"
    );
    let strict = QuorumPacket::with_data(PacketType::AckEpoch, head, encode_int(1));
    leader.packet(0, ServerId(3), strict, ctx, &mut acts);
    assert!(writes_current(&acts), "{acts:?}");
}
