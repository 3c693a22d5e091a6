//! Linearizable reads (`menagerie.linearizableReads`): a read never returns state older than
//! a write acknowledged before it arrived, even on a member cut off from the leader that
//! does not know it yet; reads still cost no write.

mod cluster;

use cluster::*;
use menagerie_proto::ServerId;
use menagerie_proto::records::{GetDataRequest, SetDataRequest};
use menagerie_proto::request::Request;
use menagerie_proto::response::Response;

fn get(path: &str) -> Request {
    Request::GetData(GetDataRequest {
        path: path.into(),
        watch: false,
    })
}

fn set(path: &str, data: &[u8]) -> Request {
    Request::SetData(SetDataRequest {
        path: path.into(),
        data: Some(data.to_vec()),
        version: -1,
    })
}

fn linearizable(c: &mut menagerie_core::config::CoreConfig) {
    if let Some(e) = c.ensemble.as_mut() {
        e.linearizable_reads = true;
    }
}

fn data_of(r: &[(menagerie_proto::records::ReplyHeader, Response)]) -> Option<Vec<u8>> {
    r.iter().find_map(|(h, body)| match body {
        Response::GetData { data, .. } if h.err == 0 => data.clone(),
        _ => None,
    })
}

/// A follower cut off from everyone, before its read timeout tells it so; meanwhile the
/// leader and the other follower acknowledge a write. Returns what a read on the cut-off
/// follower answered (None: no answer; its client was disconnected instead).
fn read_on_a_cut_off_follower(c: &mut Cluster) -> Option<Vec<u8>> {
    c.run(3_000);
    let leader = c.leader().expect("a leader");
    let cut: ServerId = [1, 2, 3]
        .into_iter()
        .map(sid)
        .find(|s| *s != leader)
        .expect("a follower");
    let writer = c.connect(leader, 1);
    assert_eq!(
        c.request(leader, writer, 1, create("/x", b"old"))[0].0.err,
        0
    );
    let reader = c.connect(cut, 2);
    c.run(200);
    assert_eq!(
        data_of(&c.request(cut, reader, 1, get("/x"))).as_deref(),
        Some(&b"old"[..])
    );
    for s in c.members.keys().copied().collect::<Vec<_>>() {
        if s != cut {
            c.partition(cut, s, true);
        }
    }
    let r = c.request(leader, writer, 2, set("/x", b"new"));
    assert_eq!(
        r[0].0.err, 0,
        "the write is acknowledged by a quorum without the cut member"
    );
    c.send(cut, reader, 2, get("/x"));
    c.run(5_000);
    let answered = data_of(&c.replies(cut, reader, 2));
    if answered.is_none() {
        assert!(
            c.closed(cut, reader),
            "an unanswered read's client is disconnected"
        );
    }
    answered
}

#[test]
fn without_the_setting_a_cut_off_follower_serves_a_stale_read() {
    // ZooKeeper's behaviour (and ours by default): this is what the setting exists for.
    let mut c = Cluster::new(&[1, 2, 3], &[]);
    assert_eq!(
        read_on_a_cut_off_follower(&mut c).as_deref(),
        Some(&b"old"[..])
    );
}

#[test]
fn a_cut_off_follower_never_answers_a_linearizable_read_with_stale_data() {
    let mut c = Cluster::with_config(&[1, 2, 3], &[], linearizable);
    assert_eq!(read_on_a_cut_off_follower(&mut c), None);
}

#[test]
fn linearizable_reads_see_every_acknowledged_write_on_every_member() {
    let mut c = Cluster::with_config(&[1, 2, 3], &[4], linearizable);
    c.run(3_000);
    let leader = c.leader().expect("a leader");
    let writer = c.connect(leader, 1);
    let readers: Vec<(ServerId, _)> = (1..=4)
        .map(|s| (sid(s), c.connect(sid(s), 10 + s as u64)))
        .collect();
    c.run(200);
    for round in 0..5u8 {
        let value = [b'v', b'0' + round];
        let req = if round == 0 {
            create("/x", &value)
        } else {
            set("/x", &value)
        };
        assert_eq!(
            c.request(leader, writer, 1 + i32::from(round), req)[0]
                .0
                .err,
            0
        );
        // A burst of reads on every member, sent before any is answered: each member
        // answers them all, with the write just acknowledged.
        for (s, conn) in &readers {
            for k in 0..10 {
                c.send(*s, *conn, 100 * i32::from(round) + k, get("/x"));
            }
        }
        c.run(50);
        for (s, conn) in &readers {
            for k in 0..10 {
                let r = c.replies(*s, *conn, 100 * i32::from(round) + k);
                assert_eq!(
                    data_of(&r).as_deref(),
                    Some(&value[..]),
                    "member {s}, read {k}"
                );
            }
        }
    }
}

#[test]
fn a_leader_cut_off_from_its_quorum_answers_no_linearizable_read() {
    let mut c = Cluster::with_config(&[1, 2, 3], &[], linearizable);
    c.run(3_000);
    let leader = c.leader().expect("a leader");
    let conn = c.connect(leader, 1);
    assert_eq!(c.request(leader, conn, 1, create("/x", b"v"))[0].0.err, 0);
    assert_eq!(
        data_of(&c.request(leader, conn, 2, get("/x"))).as_deref(),
        Some(&b"v"[..])
    );
    for s in [1, 2, 3].map(sid) {
        if s != leader {
            c.partition(leader, s, true);
        }
    }
    // The followers elect a new leader, which may accept writes the old one never sees:
    // the old leader must not answer from its own state meanwhile.
    c.send(leader, conn, 3, get("/x"));
    c.run(5_000);
    assert!(c.replies(leader, conn, 3).is_empty());
    assert!(
        c.closed(leader, conn),
        "the old leader stepped down and closed its client"
    );
}

#[test]
fn writes_behind_linearizable_reads_keep_the_session_order() {
    let mut c = Cluster::with_config(&[1, 2, 3], &[], linearizable);
    c.run(3_000);
    let leader = c.leader().expect("a leader");
    let follower = [1, 2, 3]
        .map(sid)
        .into_iter()
        .find(|s| *s != leader)
        .expect("f");
    for (member, base) in [(follower, 10u64), (leader, 20)] {
        let conn = c.connect(member, base);
        c.run(200);
        let path = format!("/order{base}");
        assert_eq!(c.request(member, conn, 1, create(&path, b"0"))[0].0.err, 0);
        // read, write, read, write, read sent together: the writes must not be answered
        // (or lost) ahead of the reads before them.
        for (i, k) in (2..12).enumerate() {
            if i % 2 == 0 {
                c.send(member, conn, k, get(&path));
            } else {
                c.send(member, conn, k, set(&path, format!("{k}").as_bytes()));
            }
        }
        c.run(500);
        assert!(!c.closed(member, conn), "member {member}");
        let xids: Vec<i32> = c.members[&member]
            .client_out
            .get(&conn)
            .map(|v| {
                v.iter()
                    .filter_map(|o| match o {
                        menagerie_core::Output::Reply { header, .. } if header.xid > 1 => {
                            Some(header.xid)
                        }
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(
            xids,
            (2..12).collect::<Vec<_>>(),
            "member {member}: replies in order"
        );
        // each read sees the write before it
        for k in (4..12).step_by(2) {
            let r = c.replies(member, conn, k);
            assert_eq!(
                data_of(&r),
                Some(format!("{}", k - 1).into_bytes()),
                "read {k}"
            );
        }
    }
}

fn linearizable_sync(c: &mut menagerie_core::config::CoreConfig) {
    if let Some(e) = c.ensemble.as_mut() {
        e.linearizable_sync = true;
    }
}

/// A leader cut off from its quorum an instant before a client's `sync` reaches it.
/// Returns whether the sync was answered while the leader could not know it still led.
fn sync_on_a_leader_just_cut_off(c: &mut Cluster) -> bool {
    c.run(3_000);
    let leader = c.leader().expect("a leader");
    let client = c.connect(leader, 1);
    c.run(200);
    for s in c.members.keys().copied().collect::<Vec<_>>() {
        if s != leader {
            c.partition(leader, s, true);
        }
    }
    c.send(
        leader,
        client,
        1,
        Request::Sync(menagerie_proto::records::PathRequest { path: "/".into() }),
    );
    c.run(5_000);
    let answered = !c.replies(leader, client, 1).is_empty();
    if !answered {
        assert!(
            c.closed(leader, client),
            "an unanswered sync's client is disconnected"
        );
    }
    answered
}

#[test]
fn without_the_setting_a_cut_off_leader_answers_sync() {
    // ZooKeeper's behaviour: why sync+read is not linearizable (Jepsen).
    let mut c = Cluster::new(&[1, 2, 3], &[]);
    assert!(sync_on_a_leader_just_cut_off(&mut c));
}

#[test]
fn with_linearizable_sync_a_leader_answers_sync_only_once_a_quorum_confirmed_it() {
    let mut c = Cluster::with_config(&[1, 2, 3], &[], linearizable_sync);
    assert!(!sync_on_a_leader_just_cut_off(&mut c));
    // Connected, sync (forwarded from a follower too) is answered.
    let mut c = Cluster::with_config(&[1, 2, 3], &[], linearizable_sync);
    c.run(3_000);
    for s in 1..=3 {
        let conn = c.connect(sid(s), 10 + s as u64);
        let r = c.request(
            sid(s),
            conn,
            1,
            Request::Sync(menagerie_proto::records::PathRequest { path: "/".into() }),
        );
        assert_eq!(r.first().map(|(h, _)| h.err), Some(0), "member {s}: {r:?}");
    }
}
