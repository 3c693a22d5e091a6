//! ZooKeeper's AdminServer paths: the commands under `admin.commandURL` (JSON, with 3.9's
//! per-command authorization and its `snapshot` command), `/metrics`, `/ready` and
//! `/health`; plus the router that puts them together with the gateway and the console.
//!
//! These paths answer as Menagerie's admin server always did: GET and HEAD (POST only for
//! `restore`), `Connection: close` on HTTP/1.x, 400 for an undecodable target, 404 for an
//! unknown path, 405 for another method. The gateway and the console keep connections open.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{ALLOW, CONNECTION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Version};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::auth::Peer;
use super::auth::{self, AuthError, Credential, Rule};
use super::queries::{Denied, HttpAnswer, HttpQuery};
use super::state::{AppState, ask, ask_http};
use super::target::{parse_query, percent_decode};
use crate::inbox::{Answer, Query};
use crate::ops::commands::{self, Object};

/// The admin port's router: gateway, console, then the AdminServer paths.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(super::gateway::routes())
        .route("/console", get(super::console::index))
        .route("/console/", get(super::console::index))
        .route("/console/{file}", get(super::console::asset))
        .fallback(admin)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            super::guard::guard,
        ))
        .with_state(state)
}

/// ZooKeeper's Prometheus provider port: `/metrics` only.
pub fn metrics_only_router(state: AppState) -> Router {
    Router::new().fallback(metrics_only).with_state(state)
}

/// Commands Menagerie serves beyond ZooKeeper 3.8's listing (ZooKeeper 3.9's), by name and
/// alias. They are not in the `/commands` listing, which stays 3.8's.
const EXTRA_COMMANDS: &[&[&str]] = &[&["snapshot", "snap"], &["restore", "rest"]];

fn primary_name(name: &str) -> Option<&'static str> {
    commands::primary_name(name).or_else(|| {
        EXTRA_COMMANDS
            .iter()
            .find(|names| names.contains(&name))
            .map(|names| names[0])
    })
}

fn text(status: u16, body: &'static str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

fn not_allowed(allow: &'static str) -> Response {
    let mut r = text(405, "Method Not Allowed\n");
    r.headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    r
}

/// A command's JSON answer with `status`.
pub(super) fn json(status: StatusCode, o: &Object) -> Response {
    json_body(status, crate::ops::dumps::to_json_text(o))
}

/// A command's JSON answer, already rendered, with `status`.
fn json_body(status: StatusCode, body: String) -> Response {
    (status, [(CONTENT_TYPE, "application/json")], body).into_response()
}

/// ZooKeeper's `CommandResponse(command, error, status)`.
pub(super) fn command_error(status: StatusCode, command: &str, error: &str) -> Response {
    let mut o = Object::new();
    o.insert("command".into(), command.into());
    o.insert("error".into(), error.into());
    json(status, &o)
}

async fn admin(State(app): State<AppState>, req: Request) -> Response {
    let http1 = req.version() < Version::HTTP_2;
    let mut r = route(&app, req).await;
    if http1 {
        r.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    r
}

async fn metrics_only(State(app): State<AppState>, req: Request) -> Response {
    let http1 = req.version() < Version::HTTP_2;
    let mut r = if !matches!(*req.method(), Method::GET | Method::HEAD) {
        not_allowed("GET, HEAD")
    } else if req.uri().path() == "/metrics" {
        metrics(&app).await
    } else {
        text(404, "Not Found\n")
    };
    if http1 {
        r.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    r
}

async fn route(app: &AppState, req: Request) -> Response {
    let Some(target) = req
        .uri()
        .path_and_query()
        .filter(|t| t.as_str().starts_with('/'))
    else {
        return text(400, "Bad Request\n");
    };
    let (Some(path), Some(args)) = (
        percent_decode(target.path(), false),
        parse_query(target.query().unwrap_or("")),
    ) else {
        return text(400, "Bad Request\n");
    };
    let method = req.method().clone();
    let is_get = matches!(method, Method::GET | Method::HEAD);
    let command_url = &*app.command_url;
    if path == command_url || path.strip_prefix(command_url) == Some("/") {
        return if is_get {
            listing(command_url)
        } else {
            not_allowed("GET, HEAD")
        };
    }
    if let Some(name) = path
        .strip_prefix(command_url)
        .and_then(|rest| rest.strip_prefix('/'))
    {
        let primary = primary_name(name);
        let allowed = if primary == Some("restore") {
            method == Method::POST
        } else {
            is_get
        };
        if !allowed {
            return not_allowed(if primary == Some("restore") {
                "POST"
            } else {
                "GET, HEAD"
            });
        }
        let peer = req.extensions().get::<Peer>().cloned();
        let (parts, body) = req.into_parts();
        let asked = Asked {
            name,
            primary,
            args,
            body,
        };
        return command(app, peer, &parts.headers, asked).await;
    }
    if !is_get {
        return not_allowed("GET, HEAD");
    }
    match path.as_str() {
        "/metrics" => metrics(app).await,
        "/ready" | "/health" => match ask(&app.shell, Query::Ready).await {
            Some(Answer::Ready(true)) => text(200, "ok\n"),
            Some(Answer::Ready(false)) => text(
                503,
                "not serving: storage failed, writes are not acknowledged\n",
            ),
            _ => text(503, "not serving: the server does not answer\n"),
        },
        _ => text(404, "Not Found\n"),
    }
}

/// A command request: the name as asked, its primary name, its arguments and its body.
struct Asked<'a> {
    name: &'a str,
    primary: Option<&'static str>,
    args: BTreeMap<String, String>,
    body: Body,
}

/// Runs one command after its authorization (ZooKeeper's `Commands.runCommand` order:
/// unknown command, then authentication and authorization, then the command).
async fn command(
    app: &AppState,
    peer: Option<Peer>,
    headers: &HeaderMap,
    asked: Asked<'_>,
) -> Response {
    let Asked {
        name,
        primary,
        args,
        body,
    } = asked;
    let rule = primary.map_or(Rule::Open, auth::rule);
    if rule != Rule::Open
        && let Err(r) = authorize(app, peer.as_ref(), headers, name, rule).await
    {
        return r;
    }
    match primary {
        Some("snapshot") => return snapshot(app, name, &args).await,
        Some("restore") => return super::restore::restore(app, name, body).await,
        _ => {}
    }
    let query = Query::Command {
        name: name.to_owned(),
        args,
    };
    match ask(&app.shell, query).await {
        Some(Answer::Json(o)) => json(StatusCode::OK, &o),
        Some(Answer::JsonText(body)) => json_body(StatusCode::OK, body),
        _ => command_error(
            StatusCode::OK,
            name,
            "This ZooKeeper instance is not currently serving requests",
        ),
    }
}

/// The answer when the shell does not answer.
pub(super) fn not_serving(name: &str) -> Response {
    command_error(
        StatusCode::OK,
        name,
        "This ZooKeeper instance is not currently serving requests",
    )
}

/// ZooKeeper 3.9's `handleAuthentication` + `handleAuthorization` with ALL on `/`.
async fn authorize(
    app: &AppState,
    peer: Option<&Peer>,
    headers: &HeaderMap,
    name: &str,
    rule: Rule,
) -> Result<(), Response> {
    let Some(peer) = peer else {
        return Err(command_error(
            StatusCode::UNAUTHORIZED,
            name,
            "Not authenticated",
        ));
    };
    let credential: Credential = match auth::credential(headers, peer) {
        Ok(Some(c)) => c,
        Ok(None) if rule == Rule::AdminOrLoopback && peer.addr.ip().is_loopback() => {
            return Ok(());
        }
        Ok(None) => {
            return Err(command_error(
                StatusCode::UNAUTHORIZED,
                name,
                &AuthError::Missing.to_string(),
            ));
        }
        Err(e) => {
            return Err(command_error(
                StatusCode::UNAUTHORIZED,
                name,
                &e.to_string(),
            ));
        }
    };
    let query = HttpQuery::Authorize {
        credential,
        perm: auth::PERM_ALL,
        path: "/".into(),
    };
    match ask_http(&app.shell, query).await {
        Some(HttpAnswer::Authorized(Ok(()))) => Ok(()),
        Some(HttpAnswer::Authorized(Err(Denied::NoAuth))) => {
            Err(command_error(StatusCode::FORBIDDEN, name, "Not authorized"))
        }
        _ => Err(command_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            name,
            "Error occurred during auth",
        )),
    }
}

/// ZooKeeper 3.9's `snapshot`: writes a snapshot into the data directory and streams it
/// (`?streaming=false`: only the headers), with `last_zxid` and `snapshot_size` headers;
/// rate limited (`admin.rateLimiterIntervalInMS`, 429 when too soon).
async fn snapshot(app: &AppState, name: &str, args: &BTreeMap<String, String>) -> Response {
    if !app.snapshot_limiter.allow() {
        let mut o = Object::new();
        o.insert("command".into(), "snapshot".into());
        o.insert("error".into(), serde_json::Value::Null);
        return json(StatusCode::TOO_MANY_REQUESTS, &o);
    }
    let streaming = args
        .get("streaming")
        .is_none_or(|v| v.eq_ignore_ascii_case("true"));
    let (path, zxid) = match ask_http(&app.shell, HttpQuery::Snapshot).await {
        Some(HttpAnswer::Snapshot(Ok(x))) => x,
        Some(HttpAnswer::Snapshot(Err(e))) => {
            tracing::warn!(error = %e, "snapshot command failed");
            return command_error(StatusCode::INTERNAL_SERVER_ERROR, name, &e);
        }
        _ => {
            return command_error(
                StatusCode::OK,
                name,
                "This ZooKeeper instance is not currently serving requests",
            );
        }
    };
    let file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(e) => {
            return command_error(StatusCode::INTERNAL_SERVER_ERROR, name, &e.to_string());
        }
    };
    let size = file.metadata().await.map(|m| m.len()).unwrap_or(0);
    tracing::info!(file = %path.display(), size, "snapshot taken by the admin command");
    let mut o = Object::new();
    o.insert("command".into(), "snapshot".into());
    o.insert("error".into(), serde_json::Value::Null);
    let mut r = if streaming {
        let body = Body::from_stream(file_chunks(file));
        (
            StatusCode::OK,
            [(CONTENT_TYPE, "application/octet-stream")],
            body,
        )
            .into_response()
    } else {
        json(StatusCode::OK, &o)
    };
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("0x{zxid:x}")) {
        h.insert("last_zxid", v);
    }
    h.insert("snapshot_size", HeaderValue::from(size));
    r
}

/// The file's bytes in 64 KiB chunks.
fn file_chunks(
    file: tokio::fs::File,
) -> impl futures_util::Stream<Item = std::io::Result<Vec<u8>>> + Send {
    futures_util::stream::unfold(Some(file), |file| async move {
        use tokio::io::AsyncReadExt as _;
        let mut file = file?;
        let mut buf = vec![0u8; 64 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(buf), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    })
}

/// The HTML list of command links, as ZooKeeper's CommandServlet writes it.
fn listing(command_url: &str) -> Response {
    let mut body = String::new();
    for name in commands::primary_names() {
        body.push_str(&format!(
            "<a href=\"{command_url}/{name}\">{name}</a>\n<br/>\n"
        ));
    }
    (
        StatusCode::OK,
        [(CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

async fn metrics(app: &AppState) -> Response {
    match ask_http(&app.shell, HttpQuery::Metrics).await {
        Some(HttpAnswer::Metrics(scrape)) => (
            StatusCode::OK,
            [(CONTENT_TYPE, super::metrics::CONTENT_TYPE)],
            super::metrics::encode(*scrape),
        )
            .into_response(),
        _ => text(503, "not serving: the server does not answer\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_commands_have_names_and_aliases() {
        assert_eq!(primary_name("snap"), Some("snapshot"));
        assert_eq!(primary_name("rest"), Some("restore"));
        assert_eq!(primary_name("mntr"), Some("monitor"));
        assert_eq!(primary_name("nosuch"), None);
    }
}
