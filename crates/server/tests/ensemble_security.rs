//! Secured ensembles on loopback ports: quorum TLS (`sslQuorum` with PEM stores, mutual TLS)
//! and quorum SASL DIGEST-MD5 (`quorum.auth.*`), among Menagerie members and with a Java
//! ZooKeeper 3.8 member (Debian's package) that uses them. Clients are the
//! `zookeeper-client` crate's; certificates are made with rcgen.

mod common;
#[path = "../../storage/tests/java/server.rs"]
mod java;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{four_letter, within};
use java::{JavaServer, free_port, missing_prerequisite};
use menagerie_server::{RunningServer, ServerConfig};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zookeeper_client as zk;

/// How long an ensemble may take to elect and sync (a Java member starts slowly).
const FORM: Duration = Duration::from_secs(60);

/// The JAAS file every member shares (`QuorumServer` and `QuorumLearner` sections).
const JAAS: &str = r#"QuorumServer {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    user_member="quorum-secret";
};
QuorumLearner {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    username="member"
    password="quorum-secret";
};
"#;

/// Quorum SASL required both ways.
const SASL: &str = "quorum.auth.enableSasl=true\nquorum.auth.learnerRequireSasl=true\n\
                    quorum.auth.serverRequireSasl=true\n";

/// A CA, and PEM key stores (key and certificate in one file) it signed.
struct Pki {
    dir: PathBuf,
    ca: rcgen::Certificate,
    ca_key: KeyPair,
}

impl Pki {
    fn new(dir: &Path, name: &str) -> Pki {
        let mut p = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, name);
        let ca_key = KeyPair::generate().expect("CA key");
        let ca = p.self_signed(&ca_key).expect("CA certificate");
        let dir = dir.join(name);
        std::fs::create_dir_all(&dir).expect("pki directory");
        std::fs::write(dir.join("ca.pem"), ca.pem()).expect("ca.pem");
        Pki { dir, ca, ca_key }
    }

    fn trust_store(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// A member's key store naming 127.0.0.1 and localhost.
    fn key_store(&self, name: &str) -> PathBuf {
        let mut p = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .expect("member params");
        p.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().expect("member key");
        let cert = p
            .signed_by(&key, &self.ca, &self.ca_key)
            .expect("member certificate");
        let path = self.dir.join(format!("{name}.pem"));
        std::fs::write(&path, format!("{}{}", key.serialize_pem(), cert.pem())).expect("key store");
        path
    }

    /// The zoo.cfg lines of quorum TLS with `name`'s key store.
    fn tls_lines(&self, name: &str) -> String {
        format!(
            "sslQuorum=true\nssl.quorum.keyStore.location={}\nssl.quorum.keyStore.type=PEM\n\
             ssl.quorum.trustStore.location={}\nssl.quorum.trustStore.type=PEM\n\
             ssl.quorum.hostnameVerification=true\n",
            self.key_store(name).display(),
            self.trust_store().display()
        )
    }
}

/// One member: Menagerie or Java, its zoo.cfg and client port.
struct Member {
    cfg: PathBuf,
    client: u16,
    java: bool,
    ours: Option<RunningServer>,
    theirs: Option<JavaServer>,
}

/// An ensemble in a temporary directory.
struct Ensemble {
    dir: tempfile::TempDir,
    members: Vec<Member>,
}

impl Ensemble {
    /// `n` members; member `i` is Java when `java(i)`, and gets `extra(i)` zoo.cfg lines.
    fn new(
        dir: tempfile::TempDir,
        n: usize,
        java: impl Fn(usize) -> bool,
        extra: impl Fn(usize) -> String,
    ) -> Ensemble {
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
                    "tickTime=200\ninitLimit=20\nsyncLimit=10\ndataDir={}\n\
                     clientPort={client}\nclientPortAddress=127.0.0.1\n\
                     admin.enableServer=false\n4lw.commands.whitelist=*\n\
                     preAllocSize=1024\n{}{servers}",
                    data.display(),
                    extra(i)
                );
                std::fs::write(&cfg, text).expect("zoo.cfg");
                Member {
                    cfg,
                    client: *client,
                    java: java(i),
                    ours: None,
                    theirs: None,
                }
            })
            .collect();
        Ensemble { dir, members }
    }

    async fn start(&mut self, i: usize) {
        let m = &mut self.members[i];
        if m.java {
            let work = self.dir.path().join(format!("java{}", i + 1));
            std::fs::create_dir_all(&work).expect("java work directory");
            let jaas = self.dir.path().join("jaas.conf");
            let flags = vec![format!(
                "-Djava.security.auth.login.config={}",
                jaas.display()
            )];
            let (cfg, port) = (m.cfg.clone(), m.client);
            let server = tokio::task::spawn_blocking(move || {
                JavaServer::start_quorum_with(&work, &cfg, port, &flags)
            })
            .await
            .expect("java starts");
            m.theirs = Some(server);
        } else {
            let config = ServerConfig::load(&m.cfg).expect("a valid zoo.cfg");
            let server = within(menagerie_server::start(config))
                .await
                .expect("member starts");
            m.ours = Some(server);
        }
    }

    async fn start_all(&mut self) {
        for i in 0..self.members.len() {
            self.start(i).await;
        }
    }

    async fn stop(&mut self, i: usize) {
        let m = &mut self.members[i];
        m.theirs = None;
        if let Some(s) = m.ours.take() {
            within(s.stop()).await;
        }
    }

    fn addr(&self, i: usize) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.members[i].client))
    }

    fn running(&self) -> Vec<usize> {
        (0..self.members.len())
            .filter(|i| self.members[*i].ours.is_some() || self.members[*i].theirs.is_some())
            .collect()
    }

    /// Waits until the running members in `expected` serve, exactly one as leader.
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
            if modes.iter().all(|(_, m)| m == "leader" || m == "follower") && leaders.len() == 1 {
                return leaders[0];
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "ensemble not formed: {modes:?}\n{}",
                self.java_log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The end of each Java member's log (for a failure message).
    fn java_log_tail(&self) -> String {
        let mut out = String::new();
        for i in (0..self.members.len()).filter(|i| self.members[*i].java) {
            let log = self.dir.path().join(format!("java{}/server.log", i + 1));
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let lines: Vec<&str> = text
                .lines()
                .filter(|l| !l.contains("Processing srvr"))
                .collect();
            let tail = lines[lines.len().saturating_sub(60)..].join("\n");
            out.push_str(&format!(
                "--- Java member {} ({}):\n{tail}\n",
                i + 1,
                log.display()
            ));
        }
        out
    }

    async fn stop_all(&mut self) {
        for i in 0..self.members.len() {
            self.stop(i).await;
        }
    }
}

/// The `Mode:` of `srvr` ("" while not serving or not answering).
async fn mode(addr: SocketAddr) -> String {
    let text = tokio::time::timeout(Duration::from_secs(5), four_letter(addr, "srvr"))
        .await
        .unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("Mode: "))
        .unwrap_or("")
        .to_owned()
}

async fn create(addr: SocketAddr, path: &str, data: &[u8]) {
    let c = common::connect(&addr.to_string()).await;
    let opts = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    within(c.create(path, data, &opts)).await.expect("create");
}

/// The data of `path` on member `addr` after a sync.
async fn read_synced(addr: SocketAddr, path: &str) -> Option<Vec<u8>> {
    let c = common::connect(&addr.to_string()).await;
    within(c.sync("/")).await.expect("sync");
    match within(c.get_data(path)).await {
        Ok((data, _)) => Some(data),
        Err(zk::Error::NoNode) => None,
        Err(e) => panic!("get_data {path}: {e}"),
    }
}

/// A write through every running member, read back on every running member.
async fn replicates(e: &Ensemble, tag: &str) {
    let running = e.running();
    for &i in &running {
        create(e.addr(i), &format!("/{tag}{i}"), tag.as_bytes()).await;
    }
    for &i in &running {
        for &j in &running {
            let got = read_synced(e.addr(j), &format!("/{tag}{i}")).await;
            assert_eq!(got.as_deref(), Some(tag.as_bytes()), "member {j} /{tag}{i}");
        }
    }
}

/// Whether a plaintext learner's FOLLOWERINFO to `port` is answered by a close.
async fn plaintext_refused(port: u16) -> bool {
    let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return true;
    };
    // FOLLOWERINFO (11), zxid 0, a LearnerInfo for sid 9.
    let mut p = Vec::new();
    p.extend_from_slice(&11i32.to_be_bytes());
    p.extend_from_slice(&0i64.to_be_bytes());
    let info: Vec<u8> = [
        9i64.to_be_bytes().to_vec(),
        0x10000i32.to_be_bytes().to_vec(),
        0i64.to_be_bytes().to_vec(),
    ]
    .concat();
    p.extend_from_slice(&(info.len() as i32).to_be_bytes());
    p.extend_from_slice(&info);
    p.extend_from_slice(&(-1i32).to_be_bytes());
    let _ = s.write_all(&p).await;
    let mut buf = [0u8; 64];
    matches!(
        tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await,
        Ok(Ok(0) | Err(_))
    )
}

/// The quorum port of member `i` (from its zoo.cfg).
fn quorum_port(e: &Ensemble, i: usize) -> u16 {
    let text = std::fs::read_to_string(&e.members[i].cfg).expect("zoo.cfg");
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix(&format!("server.{}=127.0.0.1:", i + 1)))
        .expect("server line");
    line.split(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("quorum port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_members_form_replicate_and_refuse_plaintext_learners() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let pki = Pki::new(dir.path(), "ca");
    let lines: Vec<String> = (0..3)
        .map(|i| pki.tls_lines(&format!("m{}", i + 1)))
        .collect();
    let mut e = Ensemble::new(dir, 3, |_| false, |i| lines[i].clone());
    e.start_all().await;
    let leader = e.formed().await;
    replicates(&e, "tls").await;
    assert!(
        plaintext_refused(quorum_port(&e, leader)).await,
        "the leader's quorum port closes a plaintext learner"
    );
    // The ensemble still serves after the refused learner.
    create(e.addr(leader), "/after-plain", b"x").await;
    e.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_from_another_ca_is_kept_out() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let pki = Pki::new(dir.path(), "ca");
    let stranger = Pki::new(dir.path(), "other-ca");
    // Member 3 trusts the ensemble's CA but presents a certificate of another CA.
    let lines: Vec<String> = (0..3)
        .map(|i| {
            if i == 2 {
                format!(
                    "sslQuorum=true\nssl.quorum.keyStore.location={}\n\
                     ssl.quorum.trustStore.location={}\n",
                    stranger.key_store("m3").display(),
                    pki.trust_store().display()
                )
            } else {
                pki.tls_lines(&format!("m{}", i + 1))
            }
        })
        .collect();
    let mut e = Ensemble::new(dir, 3, |_| false, |i| lines[i].clone());
    e.start(0).await;
    e.start(1).await;
    e.formed().await;
    e.start(2).await;
    // Give the stranger every chance to join: several election rounds.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(mode(e.addr(2)).await, "", "the stranger serves nothing");
    replicates_on(&e, &[0, 1], "kept").await;
    e.stop_all().await;
}

/// [`replicates`] among `members` only.
async fn replicates_on(e: &Ensemble, members: &[usize], tag: &str) {
    for &i in members {
        create(e.addr(i), &format!("/{tag}{i}"), tag.as_bytes()).await;
    }
    for &i in members {
        for &j in members {
            let got = read_synced(e.addr(j), &format!("/{tag}{i}")).await;
            assert_eq!(got.as_deref(), Some(tag.as_bytes()), "member {j} /{tag}{i}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sasl_members_form_and_a_wrong_password_is_kept_out() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let good = dir.path().join("jaas.conf");
    std::fs::write(&good, JAAS).expect("jaas");
    let bad = dir.path().join("bad-jaas.conf");
    std::fs::write(
        &bad,
        JAAS.replace("password=\"quorum-secret\"", "password=\"guess\""),
    )
    .expect("bad jaas");
    let jaas = move |i: usize| {
        let file = if i == 2 { &bad } else { &good };
        format!("{SASL}java.security.auth.login.config={}\n", file.display())
    };
    let mut e = Ensemble::new(dir, 3, |_| false, jaas);
    e.start(0).await;
    e.start(1).await;
    e.formed().await;
    replicates_on(&e, &[0, 1], "sasl").await;
    e.start(2).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        mode(e.addr(2)).await,
        "",
        "a member with the wrong password serves nothing"
    );
    e.stop(2).await;
    e.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_java_member_with_quorum_tls_and_sasl_follows_and_leads() {
    if let Some(why) = missing_prerequisite() {
        eprintln!("skipping a_java_member_with_quorum_tls_and_sasl_follows_and_leads: {why}");
        return;
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let jaas = dir.path().join("jaas.conf");
    std::fs::write(&jaas, JAAS).expect("jaas");
    let pki = Pki::new(dir.path(), "ca");
    let lines: Vec<String> = (0..3)
        .map(|i| {
            format!(
                "{}{SASL}java.security.auth.login.config={}\n",
                pki.tls_lines(&format!("m{}", i + 1)),
                jaas.display()
            )
        })
        .collect();
    // Member 2 is Java: it follows Menagerie's member 3, then leads member 1.
    let mut e = Ensemble::new(dir, 3, |i| i == 1, |i| lines[i].clone());
    e.start_all().await;
    let leader = e.formed().await;
    assert_eq!(leader, 2, "the largest sid leads a fresh ensemble");
    replicates(&e, "mixed").await;
    e.stop(2).await;
    let leader = e.formed().await;
    assert_eq!(leader, 1, "the Java member leads the rest");
    replicates(&e, "javaled").await;
    assert_eq!(
        read_synced(e.addr(0), "/mixed1").await.as_deref(),
        Some(&b"mixed"[..])
    );
    e.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_unification_lets_tls_and_plaintext_members_form_one_ensemble() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let pki = Pki::new(dir.path(), "ca");
    // The middle of a rolling enablement: members 1 and 2 dial with TLS, member 3 still
    // dials in plaintext; every member accepts both.
    let lines: Vec<String> = (0..3)
        .map(|i| {
            let tls = pki.tls_lines(&format!("m{}", i + 1));
            let tls = if i == 2 {
                tls.replace("sslQuorum=true", "sslQuorum=false")
            } else {
                tls
            };
            format!("portUnification=true\n{tls}")
        })
        .collect();
    let mut e = Ensemble::new(dir, 3, |_| false, |i| lines[i].clone());
    e.start_all().await;
    e.formed().await;
    replicates(&e, "unified").await;
    e.stop_all().await;
}

#[test]
fn bad_quorum_security_settings_stop_startup_naming_the_key() {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(dir.path().join("myid"), "1\n").expect("myid");
    let jaas = dir.path().join("jaas.conf");
    std::fs::write(&jaas, JAAS).expect("jaas");
    let load = |extra: &str| {
        let cfg = dir.path().join("zoo.cfg");
        let text = format!(
            "tickTime=200\ninitLimit=5\nsyncLimit=2\ndataDir={}\nclientPort=2181\n\
             server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889\n{extra}",
            dir.path().display()
        );
        std::fs::write(&cfg, text).expect("zoo.cfg");
        match ServerConfig::load(&cfg) {
            Ok(_) => "accepted".to_owned(),
            Err(e) => e.to_string(),
        }
    };
    for (extra, key) in [
        ("sslQuorum=true\n", "ssl.quorum.keyStore.location"),
        (
            "sslQuorum=true\nssl.quorum.keyStore.location=/etc/zk/keystore.jks\n",
            "ssl.quorum.keyStore.location",
        ),
        (
            "sslQuorum=true\nssl.quorum.keyStore.location=/nonexistent/member.pem\n\
             ssl.quorum.trustStore.location=/nonexistent/ca.pem\n",
            "ssl.quorum.keyStore.location",
        ),
        (
            "quorum.auth.serverRequireSasl=true\n",
            "quorum.auth.serverRequireSasl",
        ),
        ("quorum.auth.enableSasl=true\n", "quorum.auth.enableSasl"),
        (
            &format!(
                "quorum.auth.enableSasl=true\nquorum.auth.server.saslLoginContext=Missing\n\
                 java.security.auth.login.config={}\n",
                jaas.display()
            ),
            "quorum.auth.server.saslLoginContext",
        ),
    ] {
        let got = load(extra);
        assert!(got.contains(key), "{extra}: {got}");
    }
    // The same file with SASL and without the bad keys is accepted.
    let ok = format!("{SASL}java.security.auth.login.config={}\n", jaas.display());
    assert_eq!(load(&ok), "accepted");
}
