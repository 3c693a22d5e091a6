//! What an ensemble member adds to the operations surface: its mode (`srvr`, `mntr`'s
//! `zk_server_state`), the "not currently serving" answer while it elects or syncs, the
//! quorum lines of `conf`, the leader's `mntr` gauges, and the admin commands `leader`,
//! `observers`, `voting_view` and `zabstate`.

use std::fmt::Write as _;
use std::net::SocketAddr;

use menagerie_core::Node;
use menagerie_core::node::ensemble_view::EnsembleView;
use menagerie_proto::quorum::PeerState;
use serde_json::{Map, Value, json};

use super::metric::{Metric, Value as MetricValue, m};
use super::view::ShellView;
use crate::config::quorum::{Member, QuorumConfig};
use menagerie_core::ensemble::MemberRole;

/// ZooKeeper's answer to most four-letter words while a member elects or syncs.
pub const NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests\n";

/// The four-letter words ZooKeeper answers with [`NOT_SERVING`] until the member serves
/// (`isro` answers `null` instead).
const NEED_SERVING: [&str; 14] = [
    "stat", "srvr", "cons", "crst", "conf", "dirs", "dump", "mntr", "srst", "wchc", "wchp", "wchs",
    "hash", "isro",
];

/// The answer to `word` from a member that does not serve yet, if it has one.
pub fn not_serving_answer(word: &str, server: &Node) -> Option<String> {
    let not_serving =
        server.ensemble_view().is_some() && !server.is_serving() && !server.serves_read_only();
    if !not_serving || !NEED_SERVING.contains(&word) {
        return None;
    }
    Some(if word == "isro" {
        "null".into()
    } else {
        NOT_SERVING.into()
    })
}

/// The server state as ZooKeeper names it (`Mode:` of `srvr`, `zk_server_state`).
pub fn server_state(server: &Node) -> &'static str {
    if server.serves_read_only() {
        return "read-only";
    }
    match server.peer_state() {
        None if server.is_read_only() => "read-only",
        None => "standalone",
        Some(PeerState::Leading) => "leader",
        Some(PeerState::Following) => "follower",
        Some(PeerState::Observing) => "observer",
        Some(PeerState::Looking) => "looking",
    }
}

/// `srvr`'s last line on a leader: `Proposal sizes last/min/max: a/b/c`.
pub fn proposal_sizes_line(server: &Node) -> Option<String> {
    let sizes = server.ensemble_view()?.proposal_sizes?;
    Some(format!(
        "Proposal sizes last/min/max: {}/{}/{}\n",
        sizes.last, sizes.min, sizes.max
    ))
}

/// `conf`'s quorum lines (after the standalone ones), as ZooKeeper's
/// `QuorumZooKeeperServer.dumpConf` prints them; the membership is the active configuration
/// (`active`, which a reconfiguration changes), else the one zoo.cfg gave.
pub fn conf_lines(q: &QuorumConfig, active: Option<&str>, s: &mut String) {
    let ports = |addrs: &[SocketAddr]| {
        addrs
            .iter()
            .map(|a| a.port().to_string())
            .collect::<Vec<_>>()
            .join("|")
    };
    let me = q.me();
    let _ = writeln!(s, "initLimit={}", q.init_limit);
    let _ = writeln!(s, "syncLimit={}", q.sync_limit);
    let _ = writeln!(s, "electionAlg=3");
    let _ = writeln!(
        s,
        "electionPort={}",
        me.map_or(String::new(), |m| ports(&m.election))
    );
    let _ = writeln!(
        s,
        "quorumPort={}",
        me.map_or(String::new(), |m| ports(&m.quorum))
    );
    let observer = me.is_some_and(|m| m.role == MemberRole::Observer);
    let _ = writeln!(s, "peerType={}", u8::from(observer));
    s.push_str("membership: \n");
    match active {
        Some(text) => s.push_str(text),
        None => s.push_str(&q.config_text()),
    }
}

/// The numbers an ensemble member adds to `mntr`: `quorum_size`, the sync counters
/// (`diff_count`, `snap_count`) and the rollover epoch changes it led everywhere, the leader's learner counts, pending syncs,
/// uptime and proposal sizes.
pub fn metrics(server: &Node, view: &ShellView<'_>) -> Vec<Metric> {
    use MetricValue::Int;
    let Some(e) = server.ensemble_view() else {
        return Vec::new();
    };
    let n = |v: usize| Int(v as i64);
    let count = |v: u64| Int(i64::try_from(v).unwrap_or(i64::MAX));
    let mut peer_state = e.state.name().to_lowercase();
    if e.phase != menagerie_core::node::ensemble_view::ZabPhase::Election {
        peer_state = format!("{peer_state} - {}", e.phase.name().to_lowercase());
    }
    let mut out = vec![
        m("peer_state", MetricValue::Text(peer_state)),
        m("quorum_size", n(e.voters)),
        m("diff_count", count(e.syncs_sent.0)),
        m("snap_count", count(e.syncs_sent.1)),
        // Menagerie's: epoch changes without an election that this member led (ADR 0014).
        m("rollover_epoch_changes", count(e.epoch_changes.0)),
        m(
            "rollover_epoch_change_max_wait_ms",
            count(e.epoch_changes.1),
        ),
    ];
    if let Some(sizes) = e.proposal_sizes {
        let synced = |observer: bool| {
            e.learners
                .iter()
                .filter(|l| l.synced && l.observer == observer)
                .count()
        };
        let uptime = view.now.mono_ms.saturating_sub(e.since_ms);
        out.extend([
            m("learners", n(e.learners.len())),
            // ZooKeeper 3.4's name for the same count, still read by older dashboards.
            m("followers", n(e.learners.len())),
            m("synced_followers", n(synced(false))),
            m("synced_non_voting_followers", Int(0)),
            m("synced_observers", n(synced(true))),
            m("pending_syncs", n(e.pending_syncs)),
            m(
                "leader_uptime",
                Int(i64::try_from(uptime).unwrap_or(i64::MAX)),
            ),
            m("last_proposal_size", Int(sizes.last)),
            m("min_proposal_size", Int(sizes.min)),
            m("max_proposal_size", Int(sizes.max)),
        ]);
    }
    out
}

/// The admin commands about the ensemble; `None` for other commands. A standalone server
/// answers as ZooKeeper's does.
pub fn command(
    primary: &str,
    server: &Node,
    view: &ShellView<'_>,
    o: &mut Map<String, Value>,
) -> Option<Result<(), String>> {
    let e = server.ensemble_view();
    let q = view.config.quorum.as_ref();
    match primary {
        "leader" => Some(leader(e.as_ref(), q, o)),
        "observers" => {
            let observers: Vec<Value> = e
                .iter()
                .flat_map(|e| e.learners.iter())
                .filter(|l| l.observer && l.synced)
                .map(|l| json!({ "sid": l.sid.0 }))
                .collect();
            o.insert("synced_observers".into(), observers.len().into());
            o.insert("observers".into(), observers.into());
            Some(Ok(()))
        }
        "voting_view" => {
            let view: Map<String, Value> = q
                .iter()
                .flat_map(|q| q.members.iter())
                .filter(|(_, m)| m.role == MemberRole::Participant)
                .map(|(sid, m)| (sid.0.to_string(), member_view(m)))
                .collect();
            o.insert("current_config".into(), view.into());
            Some(Ok(()))
        }
        "zabstate" => {
            zabstate(server, e.as_ref(), q, o);
            Some(Ok(()))
        }
        _ => None,
    }
}

fn leader(
    e: Option<&EnsembleView>,
    q: Option<&QuorumConfig>,
    o: &mut Map<String, Value>,
) -> Result<(), String> {
    let (Some(e), Some(q)) = (e, q) else {
        return Err("server is not initialized".to_owned());
    };
    o.insert("is_leader".into(), (e.state == PeerState::Leading).into());
    let id = e.leader.map_or(-1, |l| l.0);
    o.insert("leader_id".into(), id.into());
    let ip = e
        .leader
        .and_then(|l| q.members.get(&l))
        .and_then(|m| m.quorum.first())
        .map_or(String::new(), |a| a.ip().to_string());
    o.insert("leader_ip".into(), ip.into());
    Ok(())
}

fn zabstate(
    server: &Node,
    e: Option<&EnsembleView>,
    q: Option<&QuorumConfig>,
    o: &mut Map<String, Value>,
) {
    let (Some(e), Some(q)) = (e, q) else {
        o.insert("voting".into(), false.into());
        o.insert("zabstate".into(), "".into());
        return;
    };
    let me = q.me();
    let join = |a: &[SocketAddr]| {
        a.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("|")
    };
    let zxid = server.last_processed_zxid();
    o.insert("myid".into(), e.me.0.into());
    o.insert("is_leader".into(), (e.state == PeerState::Leading).into());
    o.insert(
        "quorum_address".into(),
        me.map_or(String::new(), |m| join(&m.quorum)).into(),
    );
    o.insert(
        "election_address".into(),
        me.map_or(String::new(), |m| join(&m.election)).into(),
    );
    let client = me
        .and_then(|m| m.client)
        .map_or(String::new(), |a| a.to_string());
    o.insert("client_address".into(), client.into());
    o.insert("voting".into(), e.voting.into());
    o.insert("last_zxid".into(), format!("0x{:x}", zxid.0).into());
    o.insert("zab_epoch".into(), zxid.epoch().into());
    o.insert("zab_counter".into(), (zxid.0 & 0xffff_ffff).into());
    o.insert("zabstate".into(), e.phase.name().to_lowercase().into());
}

/// A member as ZooKeeper's `voting_view` shows it.
fn member_view(m: &Member) -> Value {
    let addrs = |a: &[SocketAddr]| a.iter().map(ToString::to_string).collect::<Vec<_>>();
    json!({
        "serverAddresses": addrs(&m.quorum),
        "electionAddresses": addrs(&m.election),
        "clientAddress": m.client.map_or(String::new(), |a| a.to_string()),
        "learnerType": if m.role == MemberRole::Participant { "participant" } else { "observer" },
    })
}
