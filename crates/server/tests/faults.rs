//! Disk faults under a running server, injected through the storage crate's in-memory file
//! system: a full disk under the transaction log must never lead to an acknowledged write
//! that is not durable; the server turns read-only and says so.

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

#[tokio::test]
async fn a_full_log_disk_turns_the_server_read_only() {
    let fs = MemFs::new();
    let server = menagerie_server::start_on(config(), Arc::new(fs.clone()))
        .await
        .expect("start");
    let client = common::connect(&server.addr.to_string()).await;
    let open = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    client.create("/before", b"v", &open).await.expect("create");
    assert_eq!(common::four_letter(server.addr, "isro").await, "rw");

    fs.inject(FaultOp::Write, FaultKind::NoSpace, Some("datalog"), None);
    fs.inject(FaultOp::Sync, FaultKind::NoSpace, Some("datalog"), None);
    // The write that meets the full disk is never acknowledged.
    let lost = tokio::time::timeout(common::WAIT, client.create("/lost", b"", &open))
        .await
        .expect("an answer (an error) in time");
    assert!(
        lost.is_err(),
        "a write on a full disk was acknowledged: {lost:?}"
    );
    assert_eq!(common::four_letter(server.addr, "isro").await, "ro");

    // Reads go on (the client resumes its session); writes get NotReadOnly.
    let patience = common::Patience::new("reads on the read-only server");
    let data = loop {
        match client.get_data("/before").await {
            Ok((data, _)) => break data,
            Err(e) => {
                assert!(!patience.expired(), "no reads: {e:?}");
                patience.wait().await;
            }
        }
    };
    assert_eq!(data, b"v");
    let refused = client.set_data("/before", b"w", None).await;
    assert!(
        matches!(refused, Err(zk::Error::NotReadOnly)),
        "{refused:?}"
    );
    assert!(matches!(client.check_stat("/lost").await, Ok(None)));
    server.stop().await;
}
