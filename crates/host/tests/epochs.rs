//! The epoch files at startup (`restore_epochs`): a sync interrupted while being logged
//! (the `updatingEpoch` marker) is adopted; without the marker a log ahead of
//! `currentEpoch` stops the member, as in ZooKeeper.

use std::path::Path;
use std::sync::Arc;

use menagerie_host::epochs::{EpochError, restore_epochs};
use menagerie_proto::Zxid;
use menagerie_storage::fs::CrashMode;
use menagerie_storage::{DataDirs, EpochFile, MemFs};

fn member_at_epoch_one(fs: &MemFs) -> DataDirs {
    let dirs = DataDirs::new(Arc::new(fs.clone()), Path::new("/data"), None);
    dirs.create(true).expect("data dirs");
    dirs.write_epoch(EpochFile::Accepted, 2)
        .expect("acceptedEpoch");
    dirs.write_epoch(EpochFile::Current, 1)
        .expect("currentEpoch");
    dirs
}

/// Found by the simulator (finding 6 in the notes): a learner killed after logging a sync of
/// epoch 2, before it wrote currentEpoch 2, could not start again.
#[test]
fn an_interrupted_sync_adopts_the_epoch_of_the_last_zxid() {
    let fs = MemFs::new();
    let dirs = member_at_epoch_one(&fs);
    dirs.mark_epoch_update().expect("marker");
    fs.crash(CrashMode::LoseUnsynced);
    assert!(dirs.epoch_update_marked(), "the marker is durable");
    let epochs = restore_epochs(&dirs, Zxid::new(2, 0x35)).expect("starts");
    assert_eq!(epochs, (2, 2));
    assert_eq!(dirs.read_epoch(EpochFile::Current).expect("read"), Some(2));
    assert!(
        !dirs.epoch_update_marked(),
        "the marker is removed once adopted"
    );
}

#[test]
fn a_marker_with_nothing_of_the_new_epoch_logged_changes_nothing() {
    let fs = MemFs::new();
    let dirs = member_at_epoch_one(&fs);
    dirs.mark_epoch_update().expect("marker");
    let epochs = restore_epochs(&dirs, Zxid::new(1, 7)).expect("starts");
    assert_eq!(epochs, (2, 1));
    assert!(!dirs.epoch_update_marked());
}

#[test]
fn without_the_marker_a_log_ahead_of_current_epoch_stops_the_member() {
    let fs = MemFs::new();
    let dirs = member_at_epoch_one(&fs);
    let err = restore_epochs(&dirs, Zxid::new(2, 0x35)).expect_err("refused");
    assert!(
        matches!(err, EpochError::CurrentBehindLog { current: 1, .. }),
        "{err}"
    );
}

#[test]
fn clearing_a_missing_marker_is_harmless() {
    let fs = MemFs::new();
    let dirs = member_at_epoch_one(&fs);
    dirs.clear_epoch_update().expect("nothing to clear");
    assert!(!dirs.epoch_update_marked());
}
