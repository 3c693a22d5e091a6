use menagerie_proto::records::StatPersisted;

use super::*;
use crate::fs::MemFs;
use crate::snapshot::{SnapshotNode, write_snapshot};

fn dirs() -> (MemFs, DataDirs) {
    let mem = MemFs::new();
    let dirs = DataDirs::new(Arc::new(mem.clone()), Path::new("/zk/data"), None);
    dirs.create(true).unwrap();
    (mem, dirs)
}

/// A snapshot whose root data says which zxid it was written at.
fn snap(dirs: &DataDirs, zxid: i64) -> PathBuf {
    let stat = StatPersisted::default();
    let data = zxid.to_string();
    let root = SnapshotNode {
        path: "",
        data: Some(data.as_bytes()),
        acl: -1,
        stat: &stat,
    };
    write_snapshot(
        dirs.fs().clone(),
        dirs.snap_dir(),
        zxid,
        [],
        std::iter::empty(),
        [root],
        &SnapshotTrailer::default(),
    )
    .unwrap()
}

fn root_data(r: &mut SnapshotReader) -> Result<String> {
    let root = r
        .next_node()?
        .ok_or(Error::InvalidInput("no root".into()))?;
    Ok(String::from_utf8(root.data.unwrap_or_default()).unwrap_or_default())
}

fn names(mem: &MemFs, dir: &Path) -> Vec<String> {
    let mut v = mem.list_dir(dir).unwrap();
    v.sort();
    v
}

#[test]
fn names_are_java_hex() {
    assert_eq!(log_file_name(0x100000001), "log.100000001");
    assert_eq!(snapshot_file_name(0), "snapshot.0");
    assert_eq!(snapshot_file_name(0xabc), "snapshot.abc");
    assert_eq!(parse_log_name("log.1f"), Some(0x1f));
    assert_eq!(parse_log_name("log.1f.tmp"), None);
    assert_eq!(parse_log_name("log."), None);
    assert_eq!(parse_log_name("log.-1"), None);
    assert_eq!(parse_log_name("snapshot.1"), None);
    assert_eq!(
        parse_snapshot_name("snapshot.a"),
        Some((10, SnapshotCompression::None))
    );
    assert_eq!(
        parse_snapshot_name("snapshot.a.gz"),
        Some((10, SnapshotCompression::Gzip))
    );
    assert_eq!(
        parse_snapshot_name("snapshot.a.snappy"),
        Some((10, SnapshotCompression::Snappy))
    );
    assert_eq!(parse_snapshot_name("snapshot.a.tmp"), None);
    assert_eq!(parse_snapshot_name("snapshot.xyz"), None);
    assert_eq!(loose_zxid("snapshot.a.tmp", "snapshot"), Some(10));
    assert_eq!(loose_zxid("log.10", "snapshot"), None);
}

#[test]
fn layout_and_listing() {
    let mem = MemFs::new();
    let dirs = DataDirs::new(
        Arc::new(mem.clone()),
        Path::new("/zk/data"),
        Some(Path::new("/zk/log")),
    );
    assert!(matches!(dirs.create(false), Err(Error::MissingDir { .. })));
    dirs.create(true).unwrap();
    assert_eq!(dirs.snap_dir(), Path::new("/zk/data/version-2"));
    assert_eq!(dirs.log_dir(), Path::new("/zk/log/version-2"));
    dirs.create(false).unwrap();
    for name in [
        "log.9",
        "log.10",
        "log.a",
        "README",
        "log.zz",
        "acceptedEpoch",
    ] {
        mem.put_file(&dirs.log_dir().join(name), b"").unwrap();
    }
    let logs: Vec<i64> = dirs.logs().unwrap().iter().map(|l| l.zxid).collect();
    assert_eq!(logs, [9, 10, 16]);
    for zxid in [0x9, 0x10, 0xa] {
        snap(&dirs, zxid);
    }
    mem.put_file(&dirs.snap_dir().join("snapshot.ff.tmp"), b"x")
        .unwrap();
    let snaps: Vec<i64> = dirs.snapshots().unwrap().iter().map(|s| s.zxid).collect();
    assert_eq!(snaps, [16, 10, 9]);
}

#[test]
fn logs_needed_after_a_snapshot() {
    let logs: Vec<LogFile> = [1, 15, 25, 35]
        .iter()
        .map(|&zxid| LogFile {
            zxid,
            path: PathBuf::from(format!("log.{zxid:x}")),
        })
        .collect();
    let z = |s: i64| -> Vec<i64> { logs_needed_after(&logs, s).iter().map(|l| l.zxid).collect() };
    assert_eq!(z(0), [1, 15, 25, 35]);
    assert_eq!(z(20), [15, 25, 35]);
    assert_eq!(z(25), [25, 35]);
    assert_eq!(z(100), [35]);
    assert!(logs_needed_after(&[], 5).is_empty());
}

#[test]
fn newest_readable_snapshot_wins_with_fallback() {
    let (mem, dirs) = dirs();
    assert!(dirs.load_newest_snapshot(root_data).unwrap().is_none());
    snap(&dirs, 5);
    let newest = snap(&dirs, 9);
    let loaded = dirs.load_newest_snapshot(root_data).unwrap().unwrap();
    assert_eq!((loaded.file.zxid, loaded.value.as_str()), (9, "9"));

    // A bit flip in the newest: its seal fails after loading, the older one is used.
    mem.corrupt(&newest, 16 + 4 + 4 + 4 + 4, 0x01).unwrap();
    let loaded = dirs.load_newest_snapshot(root_data).unwrap().unwrap();
    assert_eq!((loaded.file.zxid, loaded.value.as_str()), (5, "5"));

    // A truncated newest fails the cheap check and is skipped outright.
    let full = mem.contents(&newest).unwrap();
    mem.put_file(&newest, &full[..full.len() - 3]).unwrap();
    assert_eq!(dirs.valid_snapshots(10).unwrap().len(), 1);
    let loaded = dirs.load_newest_snapshot(root_data).unwrap().unwrap();
    assert_eq!(loaded.file.zxid, 5);

    // An error from the loader also falls back.
    let loaded = dirs
        .load_newest_snapshot(|r| {
            if r.zxid() == 5 {
                Err(Error::InvalidInput("refused".into()))
            } else {
                root_data(r)
            }
        })
        .unwrap_err();
    assert!(matches!(loaded, Error::NoValidSnapshot { .. }), "{loaded}");
}

#[test]
fn purge_keeps_n_snapshots_and_the_logs_they_need() {
    let mem = MemFs::new();
    let dirs = DataDirs::new(
        Arc::new(mem.clone()),
        Path::new("/zk/data"),
        Some(Path::new("/zk/log")),
    );
    dirs.create(true).unwrap();
    for zxid in [0x10, 0x20, 0x30, 0x40, 0x50] {
        snap(&dirs, zxid);
    }
    for zxid in [0x1, 0x15, 0x25, 0x35, 0x45] {
        mem.put_file(&dirs.log_dir().join(log_file_name(zxid)), b"")
            .unwrap();
    }
    mem.put_file(&dirs.snap_dir().join("snapshot.11.tmp"), b"")
        .unwrap();
    // An invalid newer snapshot does not count towards the retained ones.
    mem.put_file(&dirs.snap_dir().join("snapshot.60"), b"junk")
        .unwrap();
    let report = dirs.purge(1).unwrap(); // raised to 3
    assert_eq!(report.logs.len(), 2);
    assert_eq!(report.snapshots.len(), 3);
    assert_eq!(
        names(&mem, dirs.snap_dir()),
        ["snapshot.30", "snapshot.40", "snapshot.50", "snapshot.60"]
    );
    // log.25 starts before snapshot.30 but may hold txns after it.
    assert_eq!(names(&mem, dirs.log_dir()), ["log.25", "log.35", "log.45"]);
    assert_eq!(dirs.purge(3).unwrap(), PurgeReport::default());
}

#[test]
fn epochs_and_initialize_marker() {
    let (mem, dirs) = dirs();
    assert_eq!(dirs.read_epoch(EpochFile::Accepted).unwrap(), None);
    dirs.write_epoch(EpochFile::Accepted, 3).unwrap();
    dirs.write_epoch(EpochFile::Current, 2).unwrap();
    assert_eq!(dirs.read_epoch(EpochFile::Accepted).unwrap(), Some(3));
    assert_eq!(dirs.read_epoch(EpochFile::Current).unwrap(), Some(2));
    assert_eq!(
        mem.contents(&dirs.snap_dir().join("currentEpoch")).unwrap(),
        b"2"
    );
    assert_eq!(dirs.read_current_epoch_tmp().unwrap(), None);
    mem.put_file(&dirs.snap_dir().join("currentEpoch.tmp"), b"4")
        .unwrap();
    assert_eq!(dirs.read_current_epoch_tmp().unwrap(), Some(4));
    dirs.remove_current_epoch_tmp().unwrap();
    assert_eq!(dirs.read_current_epoch_tmp().unwrap(), None);

    assert!(!dirs.take_initialize_marker().unwrap());
    mem.put_file(Path::new("/zk/data/initialize"), b"").unwrap();
    assert!(dirs.take_initialize_marker().unwrap());
    assert!(!dirs.take_initialize_marker().unwrap());
}

#[test]
fn a_cut_removes_later_snapshots_and_bounds_which_one_loads() {
    let (mem, dirs) = dirs();
    for z in [3, 7, 9] {
        snap(&dirs, z);
    }
    let within = dirs.load_snapshot_within(8, root_data).unwrap().unwrap();
    assert_eq!((within.file.zxid, within.value.as_str()), (7, "7"));
    assert!(dirs.load_snapshot_within(2, root_data).unwrap().is_none());
    assert_eq!(dirs.remove_snapshots_after(7).unwrap(), 1);
    assert_eq!(names(&mem, dirs.snap_dir()), ["snapshot.3", "snapshot.7"]);
    assert_eq!(dirs.remove_snapshots_after(7).unwrap(), 0);
}
