//! The admin port with TLS (`admin.portUnification`: TLS and plaintext on one port), a client
//! certificate as the caller's `x509` identity for the gateway and for admin command
//! authorization, and HTTP/2 over TLS (ALPN). Certificates are generated with rcgen; the
//! client is reqwest.

mod common;

use std::time::Duration;

use menagerie_server::config::{AdminConfig, AdminTls};
use menagerie_server::tls::{ClientAuth, TlsSettings};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use reqwest::StatusCode;
use serde_json::Value;

struct Pki {
    ca_pem: String,
    client_pem: String,
}

fn write_pki(dir: &std::path::Path) -> Pki {
    let ca_key = KeyPair::generate().expect("key");
    let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name
        .push(DnType::CommonName, "Admin Test CA");
    let ca = p.self_signed(&ca_key).expect("ca");
    let leaf = |sans: &[&str], cn: &str| {
        let key = KeyPair::generate().expect("key");
        let mut p = CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .expect("params");
        p.distinguished_name = rcgen::DistinguishedName::new();
        p.distinguished_name.push(DnType::CommonName, cn);
        let cert = p.signed_by(&key, &ca, &ca_key).expect("sign");
        (cert.pem(), key.serialize_pem())
    };
    let (server_cert, server_key) = leaf(&["localhost", "127.0.0.1"], "server");
    let (client_cert, client_key) = leaf(&[], "alice");
    std::fs::write(dir.join("server.pem"), format!("{server_key}{server_cert}")).expect("write");
    std::fs::write(dir.join("ca.pem"), ca.pem()).expect("write");
    Pki {
        ca_pem: ca.pem(),
        client_pem: format!("{client_cert}{client_key}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_and_plaintext_on_one_port_with_x509_callers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = write_pki(dir.path());
    let mut config = common::config(dir.path());
    config.admin = AdminConfig {
        enabled: true,
        addr: "127.0.0.1:0".parse().expect("addr"),
        tls: Some(AdminTls {
            settings: TlsSettings {
                cert_file: dir.path().join("server.pem"),
                key_file: dir.path().join("server.pem"),
                ca_file: Some(dir.path().join("ca.pem")),
                client_auth: ClientAuth::Want,
                protocols: vec![],
                ciphersuites: vec![],
            },
            port_unification: true,
        }),
        ..AdminConfig::zookeeper_default()
    };
    let server = menagerie_server::start(config).await.expect("start");
    let port = server.admin_addr.expect("admin").port();
    let ca = reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).expect("ca");
    let alice = reqwest::Identity::from_pem(pki.client_pem.as_bytes()).expect("identity");
    let tls = |identity: Option<reqwest::Identity>| {
        let b = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .tls_built_in_root_certs(false)
            .add_root_certificate(ca.clone());
        match identity {
            Some(i) => b.identity(i),
            None => b,
        }
        .build()
        .expect("client")
    };
    let https = format!("https://localhost:{port}");
    let http = format!("http://127.0.0.1:{port}");

    // Both protocols on the one port.
    let r = tls(None)
        .get(format!("{https}/commands/ruok"))
        .send()
        .await
        .expect("https");
    assert_eq!(r.status(), StatusCode::OK);
    let r = reqwest::get(format!("{http}/commands/ruok"))
        .await
        .expect("http");
    assert_eq!(r.status(), StatusCode::OK);

    // The client certificate is the caller's x509 identity (on the gateway, always; HTTP/2
    // over ALPN).
    let client = tls(Some(alice));
    let r = client
        .get(format!("{https}/api/v1/whoami"))
        .send()
        .await
        .expect("whoami");
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    let body: Value = r.json().await.expect("json");
    assert!(
        body["identities"]
            .as_array()
            .expect("list")
            .iter()
            .any(|i| i["scheme"] == "x509" && i["id"] == "CN=alice"),
        "{body}"
    );
    assert_eq!(body["tls"], true);
    let r = client
        .post(format!(
            "{https}/api/v1/znodes/alice?acl=x509:CN=alice:cdrwa"
        ))
        .body("hers")
        .send()
        .await
        .expect("create");
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = client
        .get(format!("{https}/api/v1/znodes/alice"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.bytes().await.expect("body").as_ref(), b"hers");
    let r = tls(None)
        .get(format!("{https}/api/v1/znodes/alice"))
        .send()
        .await
        .expect("get");
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "no certificate, no x509 identity"
    );
    let r = reqwest::get(format!("{http}/api/v1/znodes/alice"))
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Admin authorization with `Authorization: x509` needs the certificate.
    let r = client
        .get(format!("{https}/commands/snapshot?streaming=false"))
        .header("Authorization", "x509")
        .send()
        .await
        .expect("snapshot");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().contains_key("last_zxid"));
    let r = tls(None)
        .get(format!("{https}/commands/stat_reset"))
        .header("Authorization", "x509")
        .send()
        .await
        .expect("srst");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    server.stop().await;
}
