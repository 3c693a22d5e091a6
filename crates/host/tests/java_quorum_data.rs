//! A data directory written by a Java ZooKeeper 3.8 *ensemble member* (QuorumPeerMain with
//! `reconfigEnabled=true`): every txn type a standalone server writes (the storage tests'
//! `drive.py`) plus a `reconfig` record, recovered by Menagerie's recovery into a node whose
//! tree must equal the tree Java itself serves from that directory, node for node and stat
//! for stat.
//!
//! Skipped, with a message, when `java`, the ZooKeeper jars, `python3` or kazoo are missing.

#[path = "../../storage/tests/java/server.rs"]
mod java_server;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use java_server::{JavaServer, free_port, missing_prerequisite, python};
use menagerie_core::{CoreConfig, Node, Now};
use menagerie_host::RecoveryOptions;
use menagerie_proto::txn::TxnBody;
use menagerie_storage::{DataDirs, StdFs, TxnIterator, TxnLogOptions};

const DRIVE: &str = include_str!("../../storage/tests/java/drive.py");

/// Adds an observer by incremental reconfig and writes one node after it.
const RECONFIG: &str = r#"
import sys
from kazoo.client import KazooClient
zk = KazooClient(hosts=sys.argv[1], timeout=10.0)
zk.start(timeout=20)
new = zk.reconfig(joining=sys.argv[2], leaving=None, new_members=None)[0].decode()
print("CONFIG " + new.replace("\n", "|"))
zk.create("/after-reconfig", b"r")
zk.stop()
zk.close()
"#;

/// Every node as `path data-hex czxid mzxid ctime mtime version cversion aversion owner pzxid`.
const DUMP: &str = r#"
import sys
from kazoo.client import KazooClient
zk = KazooClient(hosts=sys.argv[1], timeout=10.0)
zk.start(timeout=20)
def walk(path):
    data, s = zk.get(path)
    print("NODE %s %s %d %d %d %d %d %d %d %d %d" % (path, (data or b"").hex(), s.czxid,
        s.mzxid, s.ctime, s.mtime, s.version, s.cversion, s.aversion, s.ephemeralOwner,
        s.pzxid))
    for c in sorted(zk.get_children(path)):
        walk(path.rstrip("/") + "/" + c)
walk("/")
zk.stop()
zk.close()
"#;

/// The configuration file of a one-member ensemble that may reconfigure.
fn write_config(work: &Path, data: &Path, client: u16) -> std::path::PathBuf {
    let (quorum, election) = (free_port(), free_port());
    std::fs::create_dir_all(data).expect("data dir");
    std::fs::write(data.join("myid"), "1\n").expect("myid");
    let cfg = work.join(format!("zoo-{client}.cfg"));
    std::fs::write(
        &cfg,
        format!(
            "tickTime=500\ninitLimit=10\nsyncLimit=5\ndataDir={}\nreconfigEnabled=true\n\
             standaloneEnabled=false\nskipACL=yes\nadmin.enableServer=false\n\
             server.1=127.0.0.1:{quorum}:{election};127.0.0.1:{client}\n",
            data.display()
        ),
    )
    .expect("zoo.cfg");
    cfg
}

/// `path -> (data hex, stat fields)` from [`DUMP`]'s output.
fn parse_dump(out: &str) -> BTreeMap<String, String> {
    out.lines()
        .filter_map(|l| l.strip_prefix("NODE "))
        .filter_map(|l| l.split_once(' '))
        .map(|(p, rest)| (p.to_owned(), rest.to_owned()))
        .collect()
}

/// The same dump of a recovered node's tree, with the Stat a client sees (whose cversion is
/// derived from the stored one, as ZooKeeper's).
fn dump_node(node: &Node) -> BTreeMap<String, String> {
    let tree = node.tree();
    let mut out = BTreeMap::new();
    tree.for_each_preorder(|n| {
        let s = tree.client_stat(n);
        let hex: String = n
            .data()
            .unwrap_or_default()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let path = if n.path().is_empty() { "/" } else { n.path() };
        out.insert(
            path.to_owned(),
            format!(
                "{hex} {} {} {} {} {} {} {} {} {}",
                s.czxid,
                s.mzxid,
                s.ctime,
                s.mtime,
                s.version,
                s.cversion,
                s.aversion,
                s.ephemeral_owner,
                s.pzxid,
            ),
        );
    });
    out
}

#[test]
fn a_java_ensemble_members_data_with_a_reconfig_record_is_recovered() {
    if let Some(why) = missing_prerequisite() {
        eprintln!(
            "skipping a_java_ensemble_members_data_with_a_reconfig_record_is_recovered: {why}"
        );
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let work = tmp.path();
    let data = work.join("data");
    let client = free_port();
    let cfg = write_config(work, &data, client);
    let observer = format!(
        "server.2=127.0.0.1:{}:{}:observer;127.0.0.1:{}",
        free_port(),
        free_port(),
        free_port()
    );
    {
        let java = JavaServer::start_quorum(work, &cfg, client);
        assert!(python(DRIVE, &java.hostport()).contains("DONE"));
        let out = run_with_arg(RECONFIG, &java.hostport(), &observer);
        assert!(out.contains("observer"), "{out}");
    }
    let fs = Arc::new(StdFs);
    let dirs = DataDirs::new(fs.clone(), &data, None);
    let mut types = std::collections::BTreeSet::new();
    for e in TxnIterator::open(
        fs,
        dirs.log_dir(),
        0,
        menagerie_storage::DEFAULT_MAX_RECORD_LEN,
    )
    .expect("logs")
    {
        let txn = e.expect("entry").decode().expect("a txn Menagerie decodes");
        if let TxnBody::Reconfig(set) = &txn.body {
            assert_eq!(set.path, "/zookeeper/config");
        }
        types.insert(txn.header.txn_type);
    }
    assert!(
        types.contains(&16),
        "a reconfig record in the log: {types:?}"
    );

    let now = Now {
        mono_ms: 0,
        wall_ms: 1_700_000_000_000,
    };
    let mut node = Node::new(CoreConfig::default(), now);
    let options = RecoveryOptions {
        log: TxnLogOptions::default(),
        extended_types: true,
    };
    let recovered =
        menagerie_host::recover(&dirs, options, &mut node, now).expect("Menagerie recovers it");
    assert!(
        recovered.replayed >= 50,
        "the log is replayed: {}",
        recovered.replayed
    );
    drop(recovered);
    // What Java serves from that directory (it rewrote zoo.cfg with its dynamic file); it
    // starts after our recovery, so that we replay the log it wrote, not a snapshot of its.
    let java_tree = {
        let java = JavaServer::start_quorum(work, &cfg, client);
        parse_dump(&python(DUMP, &java.hostport()))
    };

    let mut ours = dump_node(&node);
    let mut java = java_tree;
    // Java sets /zookeeper/config again from its dynamic file at every start (new stat);
    // the data must agree, the stat is the restart's.
    let config = |t: &mut BTreeMap<String, String>| {
        t.remove("/zookeeper/config")
            .and_then(|v| v.split(' ').next().map(str::to_owned))
    };
    assert_eq!(
        config(&mut ours),
        config(&mut java),
        "/zookeeper/config data"
    );
    assert!(ours.contains_key("/after-reconfig"));
    assert_eq!(ours, java, "the recovered tree is the tree Java serves");
}

fn run_with_arg(script: &str, hostport: &str, arg: &str) -> String {
    let out = std::process::Command::new("python3")
        .args(["-c", script, hostport, arg])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
