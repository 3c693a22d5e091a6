//! What operators' outputs give away (issue 16, items 2 and 3): no secret from the
//! configuration in `initial_configuration` or `system_properties`, and no full session id
//! (which, with ZooKeeper's password formula, is the session) in the four-letter words or
//! the admin commands. The session is made with the `zookeeper-client` crate.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use menagerie_server::ServerConfig;
use menagerie_server::config::AdminConfig;
use menagerie_server::ops::redact::masked_session;
use zookeeper_client as zk;

const SECRETS: [&str; 3] = ["xQJmxLMiHGwaqBvst5y6rkB6HQs", "hunter2", "sw0rdfish"];

fn config(dir: &std::path::Path) -> ServerConfig {
    ServerConfig {
        four_letter_whitelist: vec!["*".into()],
        admin: AdminConfig {
            enabled: true,
            addr: "127.0.0.1:0".parse().expect("loopback address"),
            ..AdminConfig::zookeeper_default()
        },
        initial_config: "tickTime=200\n\
                         DigestAuthenticationProvider.superDigest=super:xQJmxLMiHGwaqBvst5y6rkB6HQs=\n\
                         ssl.keyStore.password=hunter2\n\
                         zookeeper.ssl.trustStore.password = sw0rdfish\n"
            .into(),
        ..common::config(dir)
    }
}

/// The body of `GET path` on the admin port.
fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect to the admin port");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).expect("send");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).expect("read");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
    assert!(head.contains(" 200 "), "{path}: {head}");
    body.to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outputs_never_show_secrets_or_whole_session_ids() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = common::within(menagerie_server::start(config(dir.path())))
        .await
        .expect("start");
    let client = common::connect(&server.addr.to_string()).await;
    let eph = zk::CreateMode::Ephemeral.with_acls(zk::Acls::anyone_all());
    client.create("/e", b"", &eph).await.expect("create");
    let (_, _, _watch) = client.get_and_watch_data("/e").await.expect("watch");
    let id = client.session_id().0;
    let masked = masked_session(id);

    let mut outputs = Vec::new();
    for word in ["cons", "dump", "wchc", "wchp", "stat", "conf", "envi"] {
        outputs.push((
            word.to_owned(),
            common::four_letter(server.addr, word).await,
        ));
    }
    let admin = server.admin_addr.expect("admin port");
    for cmd in [
        "connections",
        "stats",
        "dump",
        "watches",
        "watches_by_path",
        "initial_configuration",
        "system_properties",
        "configuration",
        "environment",
    ] {
        let path = format!("/commands/{cmd}");
        let body = tokio::task::spawn_blocking(move || http_get(admin, &path))
            .await
            .expect("request");
        outputs.push((cmd.to_owned(), body));
    }
    // The console's sessions view (the REST gateway), open to anyone who reaches the port.
    let body = tokio::task::spawn_blocking(move || http_get(admin, "/api/v1/server/sessions"))
        .await
        .expect("request");
    outputs.push(("/api/v1/server/sessions".to_owned(), body));

    for (name, text) in &outputs {
        for whole in [format!("{id:x}"), format!("{id:X}"), id.to_string()] {
            assert!(
                !text.contains(&whole),
                "{name} shows session {whole}: {text}"
            );
        }
        for secret in SECRETS {
            assert!(!text.contains(secret), "{name} shows {secret}: {text}");
        }
    }
    // The masked id lets an operator follow the session from one output to the next.
    for name in [
        "cons",
        "dump",
        "wchc",
        "wchp",
        "connections",
        "dump",
        "watches",
        "watches_by_path",
        "/api/v1/server/sessions",
    ] {
        let text = &outputs.iter().find(|(n, _)| n == name).expect("output").1;
        assert!(text.contains(&masked), "{name} lacks {masked}: {text}");
    }
    let icfg = &outputs
        .iter()
        .find(|(n, _)| n == "initial_configuration")
        .expect("icfg")
        .1;
    assert!(
        icfg.contains("ssl.keyStore.password=******"),
        "the key stays, the value goes: {icfg}"
    );
    drop(client);
    server.stop().await;
}

/// With `menagerie.sessionSecretFile` a client works as before (it resumes with the
/// password the server gave it), but ZooKeeper's formula no longer opens its session.
#[tokio::test]
async fn with_a_session_secret_the_id_alone_does_not_open_the_session() {
    use common::wire;
    let dir = tempfile::tempdir().expect("tempdir");
    let secret_file = dir.path().join("session.secret");
    std::fs::write(&secret_file, "0123456789abcdef-ensemble-secret\n").expect("secret");
    let cfg_file = dir.path().join("zoo.cfg");
    let text = format!(
        "dataDir={}\nclientPort=2181\nadmin.enableServer=false\n\
         menagerie.sessionSecretFile={}\n",
        dir.path().display(),
        secret_file.display()
    );
    std::fs::write(&cfg_file, text).expect("zoo.cfg");
    let mut cfg = ServerConfig::load(&cfg_file).expect("config");
    cfg.client_addr = "127.0.0.1:0".parse().expect("addr");
    let server = common::within(menagerie_server::start(cfg))
        .await
        .expect("start");
    let (mut owner, c) = wire::handshake(server.addr).await;
    assert_ne!(
        c.passwd,
        menagerie_proto::session::session_password(c.session).to_vec()
    );
    // An attacker who read the id: ZooKeeper's password for it is refused, and the owner
    // keeps its connection.
    let mut thief = wire::dial(server.addr).await;
    let zk_pw = menagerie_proto::session::session_password(c.session);
    wire::send(
        &mut thief,
        &wire::connect_request(0, 10_000, c.session, &zk_pw, Some(false)),
    )
    .await;
    let resp = wire::read_frame(&mut thief).await.expect("answer");
    assert_eq!(wire::parse_connect_response(&resp).timeout, 0, "refused");
    assert_eq!(
        wire::exists(&mut owner, 1, "/").await.2,
        0,
        "owner undisturbed"
    );
    // The real client, with the password it was given, resumes elsewhere.
    let mut again = wire::dial(server.addr).await;
    wire::send(
        &mut again,
        &wire::connect_request(0, 10_000, c.session, &c.passwd, Some(false)),
    )
    .await;
    let resp = wire::read_frame(&mut again).await.expect("answer");
    let resumed = wire::parse_connect_response(&resp);
    assert_eq!((resumed.session, resumed.timeout > 0), (c.session, true));
    server.stop().await;
}
