//! A REST gateway client for the server's tests (with `common`): a server with the admin port on loopback and
//! a super digest, and reqwest requests with an optional digest identity.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use menagerie_server::config::AdminConfig;
use menagerie_server::{RunningServer, ServerConfig};
use reqwest::StatusCode;
use serde_json::Value;

pub const SUPER: &str = "super:admin";
pub const SUPER_DIGEST: &str = "super:xQJmxLMiHGwaqBvst5y6rkB6HQs=";

pub fn config(dir: &std::path::Path) -> ServerConfig {
    let mut c = ServerConfig {
        admin: AdminConfig {
            enabled: true,
            addr: "127.0.0.1:0".parse().expect("loopback"),
            rate_limit: Duration::from_secs(3600),
            ..AdminConfig::zookeeper_default()
        },
        ..crate::common::config(dir)
    };
    c.auth.super_digest = Some(SUPER_DIGEST.into());
    c
}

pub struct Api {
    /// `http://<admin address>`.
    pub base: String,
    /// The client.
    pub http: reqwest::Client,
}

impl Api {
    pub fn new(addr: SocketAddr) -> Api {
        Api {
            base: format!("http://{addr}"),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .expect("client"),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn req(
        &self,
        method: reqwest::Method,
        path: &str,
        auth: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let r = self.http.request(method, self.url(path));
        match auth {
            Some(a) => r.header("Authorization", format!("digest {a}")),
            None => r,
        }
    }

    pub async fn send(&self, r: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let resp = r.send().await.expect("HTTP exchange");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

pub async fn start(dir: &std::path::Path) -> (RunningServer, Api) {
    let server = menagerie_server::start(config(dir)).await.expect("start");
    let api = Api::new(server.admin_addr.expect("admin bound"));
    (server, api)
}

pub fn digest(user_password: &str) -> String {
    menagerie_core::auth::digest_id(user_password)
}
