//! Disk faults under a running server, injected through the storage crate's in-memory file
//! system: a full disk under the transaction log must never lead to an acknowledged write
//! that is not durable; the server turns read-only and says so, and comes back by itself
//! once the disk has room.

mod common;

use std::sync::Arc;

use menagerie_server::ServerConfig;
use menagerie_storage::MemFs;
use menagerie_storage::fs::{FaultKind, FaultOp};
use zookeeper_client as zk;

fn config() -> ServerConfig {
    ServerConfig {
        four_letter_whitelist: vec!["*".into()],
        // The log on its own "disk", so that faults can target it alone.
        data_log_dir: "/datalog".into(),
        ..common::config(std::path::Path::new("/data"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_log_disk_turns_the_server_read_only_until_it_has_room() {
    let fs = MemFs::new();
    let server = menagerie_server::start_on(config(), Arc::new(fs.clone()))
        .await
        .expect("start");
    let client = common::connect(&server.addr.to_string()).await;
    let reader = common::connect(&server.addr.to_string()).await;
    let open = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    client.create("/before", b"v", &open).await.expect("create");
    assert_eq!(common::four_letter(server.addr, "isro").await, "rw");

    fs.inject(FaultOp::Write, FaultKind::NoSpace, Some("datalog"), None);
    fs.inject(FaultOp::Sync, FaultKind::NoSpace, Some("datalog"), None);
    // The write that meets the full disk is not acknowledged: it waits.
    let waiting = {
        let (client, open) = (client.clone(), open.clone());
        tokio::spawn(async move { client.create("/waits", b"", &open).await.map(|_| ()) })
    };
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(
        !waiting.is_finished(),
        "a write on a full disk was answered"
    );
    assert_eq!(common::four_letter(server.addr, "isro").await, "ro");

    // Other sessions read; their writes get NotReadOnly.
    let (data, _) = reader.get_data("/before").await.expect("read");
    assert_eq!(data, b"v");
    let refused = reader.set_data("/before", b"w", None).await;
    assert!(
        matches!(refused, Err(zk::Error::NotReadOnly)),
        "{refused:?}"
    );
    assert!(matches!(reader.check_stat("/waits").await, Ok(None)));

    // Room again: the waiting write is answered, and the server is writable, by itself.
    fs.clear_faults();
    let answered = tokio::time::timeout(common::WAIT, waiting).await;
    assert!(matches!(answered, Ok(Ok(Ok(())))), "{answered:?}");
    common::eventually("rw again", || async {
        common::four_letter(server.addr, "isro").await == "rw"
    })
    .await;
    reader
        .set_data("/before", b"w", None)
        .await
        .expect("a write after the disk has room");
    assert!(matches!(reader.check_stat("/waits").await, Ok(Some(_))));
    server.stop().await;
}
