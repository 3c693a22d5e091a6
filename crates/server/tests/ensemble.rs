//! Three-member ensembles of real servers in one process on loopback ports: election,
//! replication through every member, failover when the leader stops, and members that
//! come back syncing by DIFF or SNAP. Clients are the `zookeeper-client` crate's.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Patience, four_letter, within};
use menagerie_server::{RunningServer, ServerConfig};
use zookeeper_client as zk;

/// How long an ensemble may take to elect and sync.
const FORM: Duration = Duration::from_secs(30);

fn free_port() -> u16 {
    common::unused_port()
}

/// One member: its directory, configuration file and (while running) server.
struct Member {
    cfg: PathBuf,
    server: Option<RunningServer>,
}

/// An ensemble of members in a temporary directory.
struct Ensemble {
    _dir: tempfile::TempDir,
    members: Vec<Member>,
}

impl Ensemble {
    /// Writes the configuration of three members with `extra` zoo.cfg lines.
    fn new(extra: &str) -> Ensemble {
        Ensemble::of(3, extra)
    }

    /// Writes the configuration of `n` members with `extra` zoo.cfg lines.
    fn of(n: usize, extra: &str) -> Ensemble {
        let dir = tempfile::tempdir().expect("temporary directory");
        let ports: Vec<(u16, u16, u16)> = (0..n)
            .map(|_| (free_port(), free_port(), free_port()))
            .collect();
        let servers: String = ports
            .iter()
            .enumerate()
            .map(|(i, (_, q, e))| format!("server.{}=127.0.0.1:{q}:{e}\n", i + 1))
            .collect();
        let members = ports
            .iter()
            .enumerate()
            .map(|(i, (client, _, _))| {
                let data = dir.path().join(format!("m{}", i + 1));
                std::fs::create_dir_all(&data).expect("data directory");
                std::fs::write(data.join("myid"), format!("{}\n", i + 1)).expect("myid");
                let cfg = data.join("zoo.cfg");
                let text = format!(
                    "tickTime=100\ninitLimit=20\nsyncLimit=10\ndataDir={}\n\
                     clientPort={client}\nclientPortAddress=127.0.0.1\n\
                     admin.enableServer=false\n4lw.commands.whitelist=*\n\
                     preAllocSize=1024\n{extra}{servers}",
                    data.display()
                );
                std::fs::write(&cfg, text).expect("zoo.cfg");
                Member { cfg, server: None }
            })
            .collect();
        Ensemble { _dir: dir, members }
    }

    fn config(cfg: &Path) -> ServerConfig {
        ServerConfig::load(cfg).expect("a valid zoo.cfg")
    }

    async fn start(&mut self, i: usize) {
        let config = Ensemble::config(&self.members[i].cfg);
        let server = within(menagerie_server::start(config))
            .await
            .expect("member starts");
        self.members[i].server = Some(server);
    }

    /// Starts member `i` with its data directories on `fs` (a disk faults can be injected
    /// into).
    async fn start_on(&mut self, i: usize, fs: menagerie_storage::MemFs) {
        let config = Ensemble::config(&self.members[i].cfg);
        let server = within(menagerie_server::start_on(config, std::sync::Arc::new(fs)))
            .await
            .expect("member starts");
        self.members[i].server = Some(server);
    }

    async fn start_all(&mut self) {
        for i in 0..self.members.len() {
            self.start(i).await;
        }
    }

    async fn stop(&mut self, i: usize) {
        if let Some(s) = self.members[i].server.take() {
            within(s.stop()).await;
        }
    }

    fn addr(&self, i: usize) -> SocketAddr {
        self.members[i]
            .server
            .as_ref()
            .map(|s| s.addr)
            .expect("a running member")
    }

    fn running(&self) -> Vec<usize> {
        (0..self.members.len())
            .filter(|i| self.members[*i].server.is_some())
            .collect()
    }

    /// Waits until every running member serves, exactly one as leader; returns it.
    async fn formed(&self) -> usize {
        let deadline = tokio::time::Instant::now() + FORM;
        loop {
            let mut modes = Vec::new();
            for i in self.running() {
                modes.push((i, mode(self.addr(i)).await));
            }
            let leaders: Vec<usize> = modes
                .iter()
                .filter(|(_, m)| m == "leader")
                .map(|(i, _)| *i)
                .collect();
            let all_serve = modes.iter().all(|(_, m)| m == "leader" || m == "follower");
            if all_serve && leaders.len() == 1 {
                return leaders[0];
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "ensemble not formed: {modes:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn stop_all(&mut self) {
        for i in 0..self.members.len() {
            self.stop(i).await;
        }
    }
}

/// The `Mode:` of `srvr` ("" while not serving).
async fn mode(addr: SocketAddr) -> String {
    let text = four_letter(addr, "srvr").await;
    text.lines()
        .find_map(|l| l.strip_prefix("Mode: "))
        .unwrap_or("")
        .to_owned()
}

/// The `Zxid:` of `srvr`.
async fn zxid(addr: SocketAddr) -> i64 {
    let text = four_letter(addr, "srvr").await;
    text.lines()
        .find_map(|l| l.strip_prefix("Zxid: 0x"))
        .and_then(|z| i64::from_str_radix(z, 16).ok())
        .unwrap_or(-1)
}

/// A leader's `(diff_count, snap_count)`.
async fn sync_counts(addr: SocketAddr) -> (u64, u64) {
    let n = |v: String| v.parse::<u64>().expect("a count");
    (
        n(common::mntr(addr, "diff_count").await),
        n(common::mntr(addr, "snap_count").await),
    )
}

async fn client(addr: SocketAddr) -> zk::Client {
    common::connect(&addr.to_string()).await
}

async fn create(c: &zk::Client, path: &str, data: &[u8]) {
    let opts = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    within(c.create(path, data, &opts)).await.expect("create");
}

/// The data of `path` read on member `addr` after a sync (so it reflects every write
/// acknowledged before).
async fn read_synced(addr: SocketAddr, path: &str) -> Option<Vec<u8>> {
    let c = client(addr).await;
    within(c.sync("/")).await.expect("sync");
    match within(c.get_data(path)).await {
        Ok((data, _)) => Some(data),
        Err(zk::Error::NoNode) => None,
        Err(e) => panic!("get_data {path}: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_elect_replicate_and_survive_their_leader() {
    let mut e = Ensemble::new("");
    e.start_all().await;
    let leader = e.formed().await;
    // A write through every member (followers forward it), visible on every member.
    for i in 0..3 {
        let c = client(e.addr(i)).await;
        create(&c, &format!("/via{i}"), format!("w{i}").as_bytes()).await;
    }
    for i in 0..3 {
        for j in 0..3 {
            let got = read_synced(e.addr(j), &format!("/via{i}")).await;
            assert_eq!(
                got,
                Some(format!("w{i}").into_bytes()),
                "member {j} /via{i}"
            );
        }
    }
    let epoch_before = zxid(e.addr(leader)).await >> 32;
    e.stop(leader).await;
    let next = e.formed().await;
    assert_ne!(next, leader);
    let survivor = e.running()[0];
    let c = client(e.addr(survivor)).await;
    create(&c, "/after", b"failover").await;
    let epoch_after = zxid(e.addr(next)).await >> 32;
    assert!(epoch_after > epoch_before, "a new epoch after the failover");
    // The old leader comes back as a follower and has everything.
    e.start(leader).await;
    e.formed().await;
    for path in ["/via0", "/via1", "/via2", "/after"] {
        assert!(
            read_synced(e.addr(leader), path).await.is_some(),
            "{path} on the returning member"
        );
    }
    e.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_far_behind_syncs_by_snapshot_and_one_slightly_behind_by_diff() {
    // A committed log of 10 txns: more than that behind means SNAP.
    let mut e = Ensemble::new("commitLogCount=10\nsnapCount=50\n");
    e.start_all().await;
    let leader = e.formed().await;
    let follower = (leader + 1) % 3;
    e.stop(follower).await;
    let live = e.running()[0];
    let c = client(e.addr(live)).await;
    for k in 0..60 {
        create(&c, &format!("/far{k}"), &[k as u8; 100]).await;
    }
    drop(c);
    let snaps = sync_counts(e.addr(leader)).await.1;
    e.start(follower).await;
    assert_eq!(e.formed().await, leader, "the leader stays");
    assert_eq!(
        sync_counts(e.addr(leader)).await.1,
        snaps + 1,
        "synced by SNAP"
    );
    let patience = Patience::new("the returning member has every node");
    while read_synced(e.addr(follower), "/far59").await.is_none() {
        patience.wait().await;
    }
    for k in [0usize, 30, 59] {
        let got = read_synced(e.addr(follower), &format!("/far{k}")).await;
        assert_eq!(got, Some(vec![k as u8; 100]));
    }
    // A short absence: a few txns behind.
    e.stop(follower).await;
    let c = client(e.addr(e.running()[0])).await;
    for k in 0..3 {
        create(&c, &format!("/near{k}"), b"n").await;
    }
    drop(c);
    let (diffs, snaps) = sync_counts(e.addr(leader)).await;
    e.start(follower).await;
    assert_eq!(e.formed().await, leader, "the leader stays");
    assert!(read_synced(e.addr(follower), "/near2").await.is_some());
    assert_eq!(
        sync_counts(e.addr(leader)).await,
        (diffs + 1, snaps),
        "synced by DIFF"
    );
    // Every member at the same zxid once quiet.
    let patience = Patience::new("members agree on the last zxid");
    loop {
        let mut z = Vec::new();
        for i in e.running() {
            z.push(zxid(e.addr(i)).await);
        }
        if z.windows(2).all(|w| w[0] == w[1]) {
            break;
        }
        patience.wait().await;
    }
    e.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linearizable_reads_on_every_member_see_the_write_acknowledged_before() {
    // With the setting, a plain read (no sync) on any member, issued after a write was
    // acknowledged through another member, returns that write.
    let mut e = Ensemble::new("menagerie.linearizableReads=true\n");
    e.start_all().await;
    e.formed().await;
    let writer = client(e.addr(0)).await;
    create(&writer, "/lin", b"0").await;
    let readers = [client(e.addr(1)).await, client(e.addr(2)).await];
    for n in 1..=50 {
        let value = n.to_string().into_bytes();
        within(writer.set_data("/lin", &value, None))
            .await
            .expect("set_data");
        for (i, r) in readers.iter().enumerate() {
            let (data, _) = within(r.get_data("/lin")).await.expect("get_data");
            assert_eq!(data, value, "member {} after write {n}", i + 1);
        }
    }
    e.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_linearizable_sync_sync_then_read_sees_the_write_acknowledged_before() {
    // The per-session opt-in: reads stay local and cheap; a session that syncs first reads
    // at least every write acknowledged before its sync (the leader confirms it still leads
    // before answering).
    let mut e = Ensemble::new("menagerie.linearizableSync=true\n");
    e.start_all().await;
    e.formed().await;
    let writer = client(e.addr(0)).await;
    create(&writer, "/ls", b"0").await;
    let readers = [client(e.addr(1)).await, client(e.addr(2)).await];
    for n in 1..=20 {
        let value = n.to_string().into_bytes();
        within(writer.set_data("/ls", &value, None))
            .await
            .expect("set_data");
        for (i, r) in readers.iter().enumerate() {
            within(r.sync("/ls")).await.expect("sync");
            let (data, _) = within(r.get_data("/ls")).await.expect("get_data");
            assert_eq!(data, value, "member {} after write {n}", i + 1);
        }
    }
    e.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hierarchical_quorums_serve_with_two_of_three_groups() {
    // Four members in three groups: {3, 4} is a quorum (two of the three groups), which a
    // majority of four would not be (the same test without the group lines fails).
    let mut e = Ensemble::of(4, "group.1=1:2\ngroup.2=3\ngroup.3=4\n");
    e.start_all().await;
    e.formed().await;
    e.stop(0).await;
    e.stop(1).await;
    e.formed().await;
    let c = client(e.addr(2)).await;
    create(&c, "/two-groups", b"q").await;
    assert_eq!(
        read_synced(e.addr(3), "/two-groups").await,
        Some(b"q".to_vec())
    );
    e.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_member_serves_read_only_sessions_when_enabled() {
    let mut e = Ensemble::new("readonlymode.enabled=true\n");
    e.start_all().await;
    let leader = e.formed().await;
    let c = client(e.addr(leader)).await;
    create(&c, "/ro", b"before").await;
    drop(c);
    let lone = (leader + 1) % 3;
    // Make sure the lone member has the write before the others go.
    assert_eq!(
        read_synced(e.addr(lone), "/ro").await,
        Some(b"before".to_vec())
    );
    // ... and every commit, the close of that read's session included: a member cut off
    // with a proposal not known committed serves no read-only clients (it may be
    // truncated; docs/simulation.md, finding 15).
    let caught_up = Patience::new("the lone member has every commit");
    loop {
        let (l, z) = (zxid(e.addr(leader)).await, zxid(e.addr(lone)).await);
        if l == z {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if zxid(e.addr(leader)).await == zxid(e.addr(lone)).await {
                break;
            }
        }
        caught_up.wait().await;
    }
    for i in 0..3 {
        if i != lone {
            e.stop(i).await;
        }
    }
    let addr = e.addr(lone);
    let patience = Patience::new("the lone member serves read-only");
    while mode(addr).await != "read-only" {
        patience.wait().await;
    }
    assert_eq!(four_letter(addr, "isro").await, "ro");
    let connector = zk::Client::connector()
        .with_session_timeout(Duration::from_secs(5))
        .with_readonly(true);
    let ro = common::connect_with(&addr.to_string(), connector).await;
    let (data, _) = within(ro.get_data("/ro")).await.expect("a read");
    assert_eq!(data, b"before");
    let opts = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    let err = within(ro.create("/no", b"", &opts)).await.unwrap_err();
    assert!(matches!(err, zk::Error::NotReadOnly), "{err:?}");
    e.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_sessions_are_counted_and_upgrade_for_ephemerals() {
    let mut e = Ensemble::new("localSessionsEnabled=true\nlocalSessionsUpgradingEnabled=true\n");
    e.start_all().await;
    let leader = e.formed().await;
    let follower = (leader + 1) % 3;
    let addr = e.addr(follower);
    let c = client(addr).await;
    assert_eq!(common::mntr(addr, "local_sessions").await, "1");
    let zxid = zxid_of_leader(&e, leader).await;
    within(c.get_data("/zookeeper")).await.expect("a read");
    assert_eq!(
        zxid_of_leader(&e, leader).await,
        zxid,
        "a local session is no txn"
    );
    let opts = zk::CreateMode::Ephemeral.with_acls(zk::Acls::anyone_all());
    within(c.create("/mine", b"", &opts))
        .await
        .expect("an ephemeral upgrades the session");
    assert_eq!(common::mntr(addr, "local_sessions").await, "0");
    assert!(read_synced(e.addr(leader), "/mine").await.is_some());
    e.stop_all().await;
}

async fn zxid_of_leader(e: &Ensemble, leader: usize) -> i64 {
    zxid(e.addr(leader)).await
}

/// A leader whose disk fills up stops leading (as ZooKeeper's leader shuts down) and stays
/// out of elections while the others elect and go on; once its disk has room again it comes
/// back by itself, without a restart, and catches up (issue 16, item 9). Before, it kept
/// leading without being able to log, and then stayed read-only until restarted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_whose_disk_fills_up_steps_down_and_rejoins_once_it_has_room() {
    use menagerie_storage::fs::{FaultKind, FaultOp};
    let mut e = Ensemble::new("");
    let disks: Vec<menagerie_storage::MemFs> =
        (0..3).map(|_| menagerie_storage::MemFs::new()).collect();
    for (i, disk) in disks.iter().enumerate() {
        e.start_on(i, disk.clone()).await;
    }
    let leader = e.formed().await;
    let others: Vec<usize> = (0..3).filter(|i| *i != leader).collect();
    let c = client(e.addr(others[0])).await;
    create(&c, "/before", b"1").await;

    disks[leader].inject(FaultOp::Write, FaultKind::NoSpace, None, None);
    // The next write reaches the full disk (its outcome may be either: the followers can
    // still commit it).
    let opts = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    let _ = tokio::time::timeout(Duration::from_secs(10), c.create("/racing", b"", &opts)).await;
    let patience = Patience::new("the others elect a new leader without the full member");
    loop {
        let full = mode(e.addr(leader)).await;
        let modes = [mode(e.addr(others[0])).await, mode(e.addr(others[1])).await];
        let one_leads = modes.iter().filter(|m| *m == "leader").count() == 1;
        let serve = modes.iter().all(|m| m == "leader" || m == "follower");
        if full.is_empty() && one_leads && serve {
            break;
        }
        assert!(!patience.expired(), "modes {full:?} {modes:?}");
        patience.wait().await;
    }
    let c = client(e.addr(others[1])).await;
    create(&c, "/during", b"2").await;
    // Still full: it stays out.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(mode(e.addr(leader)).await, "");

    disks[leader].clear_faults();
    e.formed().await;
    assert_eq!(mode(e.addr(leader)).await, "follower");
    for path in ["/before", "/during"] {
        assert!(
            read_synced(e.addr(leader), path).await.is_some(),
            "{path} on the member whose disk was full"
        );
    }
    let c = client(e.addr(leader)).await;
    create(&c, "/after", b"3").await;
    e.stop_all().await;
}

/// Stops a follower, creates `n` nodes, starts it again; the leader's (DIFF, SNAP) counts
/// that this sync added.
async fn sync_after_absence(config: &str, n: usize) -> (u64, u64) {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let mut e = Ensemble::new(config);
    e.start_all().await;
    let leader = e.formed().await;
    let follower = (leader + 1) % 3;
    let c = client(e.addr(leader)).await;
    // The follower's last txn is one the leader remembers (an epoch start never is).
    create(&c, "/before", b"b").await;
    let patience = Patience::new("the follower has /before");
    while read_synced(e.addr(follower), "/before").await.is_none() {
        patience.wait().await;
    }
    e.stop(follower).await;
    for k in 0..n {
        create(&c, &format!("/away{k}"), &[1; 100]).await;
    }
    drop(c);
    let before = sync_counts(e.addr(leader)).await;
    e.start(follower).await;
    assert_eq!(e.formed().await, leader, "the leader stays");
    let last = format!("/away{}", n - 1);
    let patience = Patience::new("the returning member has every node");
    while read_synced(e.addr(follower), &last).await.is_none() {
        patience.wait().await;
    }
    let after = sync_counts(e.addr(leader)).await;
    e.stop_all().await;
    (after.0 - before.0, after.1 - before.1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_thousands_of_txns_behind_syncs_by_diff_within_the_byte_budget() {
    // 1,200 txns: more than ZooKeeper's 500 kept in memory, well within 8 MiB. (A debug
    // build applies them slowly enough that the member may sync a second time, by DIFF.)
    let (diffs, snaps) = sync_after_absence("", 1200).await;
    assert!(
        diffs >= 1 && snaps == 0,
        "DIFF by default: {diffs} DIFF, {snaps} SNAP"
    );
    assert_eq!(
        sync_after_absence("menagerie.commitLogBytes=0\n", 1200).await,
        (0, 1),
        "SNAP with the count alone, as ZooKeeper's in-memory log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_counter_near_its_end_moves_to_the_next_epoch_without_an_election() {
    // Leaders start 300 short of the counter's end and change epoch 100 short of it: the
    // writes go on through one leader, none refused, and the epoch goes up by one.
    let start = menagerie_proto::Zxid::MAX_COUNTER - 300;
    let mut e = Ensemble::new(&format!(
        "menagerie.firstZxidCounter={start}\nmenagerie.rolloverMargin=100\n"
    ));
    e.start_all().await;
    let leader = e.formed().await;
    let follower = (leader + 1) % 3;
    let c = client(e.addr(follower)).await;
    let epoch_before = zxid(e.addr(leader)).await >> 32;
    let mut slowest = Duration::ZERO;
    for i in 0..300 {
        let began = std::time::Instant::now();
        create(&c, &format!("/r{i}"), b"x").await;
        slowest = slowest.max(began.elapsed());
    }
    eprintln!("slowest write across the epoch change: {slowest:?}");
    assert_eq!(e.formed().await, leader, "the same leader");
    let epoch_after = zxid(e.addr(leader)).await >> 32;
    assert_eq!(epoch_after, epoch_before + 1, "the next epoch");
    for i in 0..3 {
        assert!(
            read_synced(e.addr(i), "/r299").await.is_some(),
            "member {i} has the last write"
        );
        assert_eq!(zxid(e.addr(i)).await >> 32, epoch_after, "member {i}");
    }
    // mntr counts the change on the member that led it, and how long writes waited.
    let changes = "rollover_epoch_changes";
    assert_eq!(common::mntr(e.addr(leader), changes).await, "1");
    assert_eq!(common::mntr(e.addr(follower), changes).await, "0");
    let waited: u64 = common::mntr(e.addr(leader), "rollover_epoch_change_max_wait_ms")
        .await
        .parse()
        .expect("a count");
    assert!(waited <= 1_000, "{waited} ms: more than a syncLimit");
    e.stop_all().await;
}
