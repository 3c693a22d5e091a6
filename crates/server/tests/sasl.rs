//! SASL DIGEST-MD5 with the independent `zookeeper-client` crate (its DIGEST-MD5 is rsasl's):
//! the `sasl` identity, `sasl` ACLs, the SASL super user, and refused credentials.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use menagerie_server::RunningServer;
use zookeeper_client as zk;

/// A server with the SASL users bob and root (also a super user).
async fn server(dir: &std::path::Path) -> RunningServer {
    let mut config = common::config(dir);
    config.auth.sasl_users = BTreeMap::from([
        ("bob".to_owned(), "bobpw".to_owned()),
        ("root".to_owned(), "rootpw".to_owned()),
    ]);
    config.auth.sasl_super_users = vec!["root".into()];
    menagerie_server::start(config).await.expect("start")
}

async fn sasl_connect(
    server: &RunningServer,
    user: &str,
    pw: &str,
) -> Result<zk::Client, zk::Error> {
    tokio::time::timeout(
        common::WAIT,
        zk::Client::connector()
            .with_session_timeout(Duration::from_secs(5))
            .with_sasl(zk::SaslOptions::digest_md5(user.to_owned(), pw.to_owned()))
            .connect(&server.addr.to_string()),
    )
    .await
    .unwrap_or(Err(zk::Error::Timeout))
}

#[tokio::test]
async fn digest_md5_gives_the_sasl_identity() {
    let dir = tempfile::tempdir().expect("tempdir");
    let srv = server(dir.path()).await;
    let bob = sasl_connect(&srv, "bob", "bobpw").await.expect("bob");
    let users = bob.list_auth_users().await.expect("whoAmI");
    assert!(
        users.contains(&zk::AuthUser::new("sasl", "bob")),
        "{users:?}"
    );
    let acls = [zk::Acl::new(
        zk::Permission::ALL,
        zk::AuthId::new("sasl", "bob"),
    )];
    let opts = zk::CreateMode::Persistent.with_acls(zk::Acls::new(&acls));
    bob.create("/s", b"secret", &opts).await.expect("create");
    assert_eq!(bob.get_data("/s").await.expect("get").0, b"secret");

    // Another connection without SASL: NoAuth.
    let anon = zk::Client::connector()
        .connect(&srv.addr.to_string())
        .await
        .expect("anon");
    assert_eq!(anon.get_data("/s").await.unwrap_err(), zk::Error::NoAuth);

    // The SASL super user reads it.
    let root = sasl_connect(&srv, "root", "rootpw").await.expect("root");
    assert_eq!(root.get_data("/s").await.expect("super").0, b"secret");

    // Wrong password and unknown user: no session.
    assert!(sasl_connect(&srv, "bob", "wrong").await.is_err());
    assert!(sasl_connect(&srv, "eve", "bobpw").await.is_err());
    // The server still serves.
    let again = sasl_connect(&srv, "bob", "bobpw").await.expect("again");
    assert_eq!(again.get_data("/s").await.expect("get").0, b"secret");
    srv.stop().await;
}
