//! The secure client port: TLS with client certificates (need/want/none), the x509 identity,
//! and clean refusals (untrusted, expired or missing certificates, plaintext on the TLS port,
//! TLS on the plaintext port). Certificates are generated with rcgen.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use common::wire::{WAIT, frame, new_session_request, read_frame};
use menagerie_proto::request::{Request, encode_request};
use menagerie_server::tls::{ClientAuth, TlsSettings};
use menagerie_server::{RunningServer, ServerConfig};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

const ALICE_DN: &str = "CN=alice,O=Menagerie Test";

/// A CA with its key.
struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

fn new_ca(name: &str) -> Ca {
    let key = KeyPair::generate().expect("key");
    let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, name);
    Ca {
        cert: p.self_signed(&key).expect("ca"),
        key,
    }
}

/// A leaf certificate signed by `ca`: (cert PEM, key PEM, cert DER, key DER).
fn leaf(ca: &Ca, sans: &[&str], dn: &[(DnType, &str)], expired: bool) -> Leaf {
    let key = KeyPair::generate().expect("key");
    let mut p = CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .expect("params");
    p.distinguished_name = rcgen::DistinguishedName::new();
    for (t, v) in dn {
        p.distinguished_name.push(t.clone(), *v);
    }
    if expired {
        p.not_before = rcgen::date_time_ymd(2001, 1, 1);
        p.not_after = rcgen::date_time_ymd(2002, 1, 1);
    }
    let cert = p.signed_by(&key, &ca.cert, &ca.key).expect("sign");
    Leaf {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        cert_der: cert.der().clone(),
        key_der: PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    }
}

struct Leaf {
    cert_pem: String,
    key_pem: String,
    cert_der: CertificateDer<'static>,
    key_der: PrivateKeyDer<'static>,
}

struct Pki {
    ca: Ca,
    alice: Leaf,
    rogue: Leaf,
    expired: Leaf,
}

fn make_pki(dir: &Path) -> Pki {
    let ca = new_ca("Menagerie Test CA");
    let server = leaf(
        &ca,
        &["localhost", "127.0.0.1"],
        &[(DnType::CommonName, "server")],
        false,
    );
    // The key store in ZooKeeper's PEM form: key and certificate in one file.
    std::fs::write(
        dir.join("server.pem"),
        format!("{}{}", server.key_pem, server.cert_pem),
    )
    .expect("write");
    std::fs::write(dir.join("ca.pem"), ca.cert.pem()).expect("write");
    let alice = leaf(
        &ca,
        &[],
        &[
            (DnType::OrganizationName, "Menagerie Test"),
            (DnType::CommonName, "alice"),
        ],
        false,
    );
    let other_ca = new_ca("Rogue CA");
    let rogue = leaf(&other_ca, &[], &[(DnType::CommonName, "alice")], false);
    let expired = leaf(&ca, &[], &[(DnType::CommonName, "old")], true);
    Pki {
        ca,
        alice,
        rogue,
        expired,
    }
}

async fn server(dir: &Path, client_auth: ClientAuth) -> RunningServer {
    let tls = TlsSettings {
        cert_file: dir.join("server.pem"),
        key_file: dir.join("server.pem"),
        ca_file: Some(dir.join("ca.pem")),
        client_auth,
        protocols: Vec::new(),
        ciphersuites: Vec::new(),
    };
    let config = ServerConfig {
        secure_client: Some(("127.0.0.1:0".parse().expect("addr"), tls)),
        ..common::config(&dir.join("data"))
    };
    menagerie_server::start(config).await.expect("start")
}

fn client_config(pki: &Pki, cert: Option<&Leaf>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca.cert.der().clone()).expect("root");
    let b = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots);
    Arc::new(match cert {
        Some(l) => b
            .with_client_auth_cert(vec![l.cert_der.clone()], l.key_der.clone_key())
            .expect("client cert"),
        None => b.with_no_client_auth(),
    })
}

/// ZooKeeper handshake then whoAmI; the (scheme, user) pairs, or None when the server
/// refused the connection anywhere on the way.
async fn who_am_i<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S) -> Option<Vec<(String, String)>> {
    s.write_all(&new_session_request()).await.ok()?;
    let resp = read_frame(s).await?;
    assert_eq!(resp.len(), 37, "ConnectResponse");
    s.write_all(&frame(&encode_request(7, &Request::WhoAmI)))
        .await
        .ok()?;
    let r = read_frame(s).await?;
    assert_eq!(&r[..4], &7i32.to_be_bytes(), "xid");
    assert_eq!(&r[12..16], &0i32.to_be_bytes(), "err");
    let mut pos = 16;
    let mut int = |r: &[u8]| {
        let v = i32::from_be_bytes(r[pos..pos + 4].try_into().expect("4 bytes"));
        pos += 4;
        v
    };
    let n = int(&r);
    let mut out = Vec::new();
    let string = |r: &[u8], pos: &mut usize| {
        let len = i32::from_be_bytes(r[*pos..*pos + 4].try_into().expect("4")) as usize;
        *pos += 4;
        let s = String::from_utf8_lossy(&r[*pos..*pos + len]).into_owned();
        *pos += len;
        s
    };
    for _ in 0..n {
        let scheme = string(&r, &mut pos);
        let user = string(&r, &mut pos);
        out.push((scheme, user));
    }
    Some(out)
}

async fn tls_connect(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let connector = tokio_rustls::TlsConnector::from(config);
    let name = ServerName::try_from("localhost").expect("name");
    tokio::time::timeout(WAIT, connector.connect(name, tcp))
        .await
        .map_err(|_| std::io::Error::other("handshake timed out"))?
}

/// A refused TLS client: the handshake fails or the server closes before answering.
async fn refused(addr: SocketAddr, config: Arc<rustls::ClientConfig>) -> bool {
    match tls_connect(addr, config).await {
        Err(_) => true,
        Ok(mut s) => who_am_i(&mut s).await.is_none(),
    }
}

async fn plain_still_serves(addr: SocketAddr) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let who = who_am_i(&mut s).await.expect("plaintext port serves");
    assert_eq!(who, vec![("ip".to_string(), "127.0.0.1".to_string())]);
}

#[tokio::test]
async fn client_certificate_gives_x509_identity_and_bad_ones_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = make_pki(dir.path());
    let srv = server(dir.path(), ClientAuth::Need).await;
    let secure = srv.secure_addr.expect("secure port");

    let mut s = tls_connect(secure, client_config(&pki, Some(&pki.alice)))
        .await
        .expect("handshake");
    let who = who_am_i(&mut s).await.expect("served over TLS");
    assert_eq!(
        who,
        vec![
            ("ip".to_string(), "127.0.0.1".to_string()),
            ("x509".to_string(), ALICE_DN.to_string())
        ]
    );

    assert!(
        refused(secure, client_config(&pki, None)).await,
        "no client cert"
    );
    assert!(
        refused(secure, client_config(&pki, Some(&pki.rogue))).await,
        "untrusted"
    );
    assert!(
        refused(secure, client_config(&pki, Some(&pki.expired))).await,
        "expired"
    );

    // Plaintext ZooKeeper on the TLS port: closed, no reply.
    let mut p = TcpStream::connect(secure).await.expect("connect");
    p.write_all(&new_session_request()).await.expect("write");
    let mut buf = Vec::new();
    let read = tokio::time::timeout(WAIT, p.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the server closes the connection");
    assert!(buf.len() != 41, "no ConnectResponse: {buf:?}");

    // TLS on the plaintext port: the handshake fails, the connection is closed.
    assert!(
        tls_connect(srv.addr, client_config(&pki, Some(&pki.alice)))
            .await
            .is_err()
    );

    // Everything above left the server serving both ports.
    plain_still_serves(srv.addr).await;
    let mut s = tls_connect(secure, client_config(&pki, Some(&pki.alice)))
        .await
        .expect("handshake");
    assert!(who_am_i(&mut s).await.is_some());
    srv.stop().await;
}

#[tokio::test]
async fn want_and_none_accept_clients_without_certificates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = make_pki(dir.path());
    let srv = server(dir.path(), ClientAuth::Want).await;
    let secure = srv.secure_addr.expect("secure port");
    let mut s = tls_connect(secure, client_config(&pki, None))
        .await
        .expect("handshake");
    let who = who_am_i(&mut s).await.expect("served");
    assert_eq!(who.len(), 1, "only the ip identity: {who:?}");
    // With want, a presented certificate must still be trusted.
    assert!(refused(secure, client_config(&pki, Some(&pki.rogue))).await);
    let mut s = tls_connect(secure, client_config(&pki, Some(&pki.alice)))
        .await
        .expect("handshake");
    assert_eq!(who_am_i(&mut s).await.expect("served").len(), 2);
    srv.stop().await;

    let dir = tempfile::tempdir().expect("tempdir");
    let keys = make_pki(dir.path());
    let srv = server(dir.path(), ClientAuth::None).await;
    let mut s = tls_connect(srv.secure_addr.expect("port"), client_config(&keys, None))
        .await
        .expect("handshake");
    assert_eq!(who_am_i(&mut s).await.expect("served").len(), 1);
    srv.stop().await;
}
