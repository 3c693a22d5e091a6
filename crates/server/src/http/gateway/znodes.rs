//! `/api/v1/znodes/<path>`: one znode as an HTTP resource.
//!
//! * `GET`: the data as the body (`application/octet-stream`, or `text/plain` when asked
//!   for), with the data version as `ETag`. JSON (`Accept: application/json`, `?stat` or
//!   `?children`): `path`, `data` (UTF-8 text or null), `data_base64`, `stat`, and with
//!   `?children` the sorted child names (`prefix=`, `offset=`, `limit=` select a page,
//!   `children_total` counts the selection).
//! * `GET ?watch[=data|children|exists][&timeout=s]`: long poll; sets the one-shot watch and
//!   answers the event that fires it (`204` when none within the timeout, default 30 s).
//!   With `Accept: text/event-stream`: a persistent watch (`&recursive` for the subtree)
//!   streamed as Server-Sent Events (`ready` first, then one event per change).
//! * `PUT`: setData with the body; `If-Match: <version>` (or `?version=`) makes it
//!   conditional.
//! * `POST`: create with the body as data; `?mode=` (ZooKeeper's CreateMode names,
//!   lower case: `persistent`, `persistent_sequential`, `ephemeral`, `ephemeral_sequential`,
//!   `container`, `persistent_with_ttl`, `persistent_sequential_with_ttl`), `?ttl=<ms>`,
//!   `?acl=` in zkCli's syntax (default `world:anyone:cdrwa`). `201` with the created path
//!   (sequential names included) in the body and `Location`.
//! * `DELETE`: delete, conditional with `If-Match` / `?version=`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::{ACCEPT, CONTENT_TYPE, ETAG, IF_MATCH, LOCATION};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Extension, Json, Router};
use menagerie_proto::records::{
    Acl, AddWatchRequest, CreateRequest, CreateTtlRequest, DeleteRequest, GetDataRequest,
    PathWatchRequest, SetDataRequest, WatchesRequest,
};
use menagerie_proto::request::Request;
use menagerie_proto::response::Response as ZkResponse;
use serde_json::json;

use super::pool::{GatewayError, principal};
use super::reply::{self, bad_request, gateway_error, stat_json, zk_error};
use super::session::Session;
use super::session::WatchEvent;
use crate::http::auth::Peer;
use crate::http::state::AppState;
use crate::http::target::parse_query;

/// Longest long poll.
const MAX_POLL: Duration = Duration::from_secs(300);
/// Default long poll.
const DEFAULT_POLL: Duration = Duration::from_secs(30);
/// Children listed per page by default.
const DEFAULT_LIMIT: usize = 1000;

/// The routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/znodes", any(root))
        .route("/api/v1/znodes/", any(root))
        .route("/api/v1/znodes/{*path}", any(node))
}

/// A decoded request for one znode.
struct Call {
    path: String,
    args: BTreeMap<String, String>,
    headers: HeaderMap,
    session: Arc<Session>,
}

async fn root(
    State(app): State<AppState>,
    Extension(peer): Extension<Peer>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    handle(app, peer, method, headers, uri, "/".into(), body).await
}

async fn node(
    State(app): State<AppState>,
    Extension(peer): Extension<Peer>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
    Path(rest): Path<String>,
    body: Bytes,
) -> Response {
    handle(app, peer, method, headers, uri, format!("/{rest}"), body).await
}

/// The caller's session (opened on first use).
pub async fn session_for(
    app: &AppState,
    peer: &Peer,
    headers: &HeaderMap,
) -> Result<Arc<Session>, GatewayError> {
    let who = principal(headers, peer)?;
    app.gateway.session(&who, peer.addr).await
}

async fn handle(
    app: AppState,
    peer: Peer,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
    path: String,
    body: Bytes,
) -> Response {
    let Some(args) = parse_query(uri.query().unwrap_or("")) else {
        return bad_request("undecodable query string");
    };
    if !matches!(
        method,
        Method::GET | Method::HEAD | Method::PUT | Method::POST | Method::DELETE
    ) {
        let mut r = StatusCode::METHOD_NOT_ALLOWED.into_response();
        r.headers_mut().insert(
            axum::http::header::ALLOW,
            HeaderValue::from_static("GET, HEAD, PUT, POST, DELETE"),
        );
        return r;
    }
    let session = match session_for(&app, &peer, &headers).await {
        Ok(s) => s,
        Err(e) => return gateway_error(&e),
    };
    let call = Call {
        path,
        args,
        headers,
        session,
    };
    match method {
        Method::PUT => set(call, body).await,
        Method::POST => create(call, body).await,
        Method::DELETE => delete(call).await,
        _ if call.args.contains_key("watch") => watch(call).await,
        _ => get(call).await,
    }
}

/// Runs one request; `Err` is the HTTP answer for a failure.
pub async fn run(session: &Session, path: &str, req: Request) -> Result<ZkResponse, Response> {
    match session.call(req).await {
        Ok((h, _)) if h.err != 0 => Err(zk_error(h.err, path)),
        Ok((_, body)) => Ok(body),
        Err(e) => Err(gateway_error(&GatewayError::Session(e))),
    }
}

fn accepts(headers: &HeaderMap, what: &str) -> bool {
    headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains(what))
}

/// The version condition: `If-Match: "<n>"` / `W/"<n>"` / `*`, or `?version=<n>`; -1 (any)
/// without one.
#[allow(clippy::result_large_err)] // the error is the HTTP answer itself, built once
fn version(call: &Call) -> Result<i32, Response> {
    let raw = match call.headers.get(IF_MATCH) {
        Some(v) => v.to_str().unwrap_or("?").trim().to_owned(),
        None => match call.args.get("version") {
            Some(v) => v.clone(),
            None => return Ok(-1),
        },
    };
    if raw == "*" {
        return Ok(-1);
    }
    let n = raw.trim_start_matches("W/").trim_matches('"');
    n.parse()
        .map_err(|_| bad_request(format!("version {raw:?} is not a number")))
}

fn etag(version: i32) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"\""))
}

async fn get(call: Call) -> Response {
    let json_wanted = accepts(&call.headers, "application/json")
        || call.args.contains_key("stat")
        || call.args.contains_key("children");
    let req = Request::GetData(GetDataRequest {
        path: call.path.clone(),
        watch: false,
    });
    let (data, stat) = match run(&call.session, &call.path, req).await {
        Ok(ZkResponse::GetData { data, stat }) => (data, stat),
        Ok(_) => return bad_request("unexpected reply"),
        Err(r) => return r,
    };
    if !json_wanted {
        let text = accepts(&call.headers, "text/plain");
        let ctype = if text {
            "text/plain; charset=utf-8"
        } else {
            "application/octet-stream"
        };
        let mut r = (
            StatusCode::OK,
            [(CONTENT_TYPE, ctype)],
            data.unwrap_or_default(),
        )
            .into_response();
        r.headers_mut().insert(ETAG, etag(stat.version));
        return r;
    }
    let (text, b64) = reply::data_json(data.as_deref());
    let mut o = json!({
        "path": call.path,
        "data": text,
        "data_base64": b64,
        "stat": stat_json(&stat),
    });
    if call.args.contains_key("children") {
        let req = Request::GetChildren2(PathWatchRequest {
            path: call.path.clone(),
            watch: false,
        });
        let mut children = match run(&call.session, &call.path, req).await {
            Ok(ZkResponse::GetChildren2 { children, .. }) => children,
            Ok(_) => return bad_request("unexpected reply"),
            Err(r) => return r,
        };
        children.sort_unstable();
        if let Some(prefix) = call.args.get("prefix").filter(|p| !p.is_empty()) {
            children.retain(|c| c.starts_with(prefix.as_str()));
        }
        let total = children.len();
        let offset = number(&call.args, "offset").unwrap_or(0);
        let limit = number(&call.args, "limit").unwrap_or(DEFAULT_LIMIT);
        let page: Vec<String> = children.into_iter().skip(offset).take(limit).collect();
        if call.args.contains_key("counts") {
            o["children_stats"] = child_stats(&call.session, &call.path, &page).await;
        }
        o["children"] = json!(page);
        o["children_total"] = json!(total);
    }
    let mut r = Json(o).into_response();
    r.headers_mut().insert(ETAG, etag(stat.version));
    r
}

/// `?counts`: each listed child's child count, data length and ephemeral owner (exists
/// requests sent together, answered in order), so a tree view can show them without one
/// HTTP request per child.
async fn child_stats(session: &Session, parent: &str, names: &[String]) -> serde_json::Value {
    let calls = names.iter().map(|n| {
        let path = if parent == "/" {
            format!("/{n}")
        } else {
            format!("{parent}/{n}")
        };
        session.call(Request::Exists(PathWatchRequest { path, watch: false }))
    });
    let replies = futures_util::future::join_all(calls).await;
    names
        .iter()
        .zip(replies)
        .map(|(name, r)| match r {
            Ok((h, ZkResponse::Stat(s))) if h.err == 0 => json!({
                "name": name,
                "numChildren": s.num_children,
                "dataLength": s.data_length,
                "ephemeralOwner": s.ephemeral_owner,
            }),
            // Deleted meanwhile.
            _ => json!({"name": name, "numChildren": 0, "dataLength": 0, "ephemeralOwner": 0}),
        })
        .collect()
}

fn number(args: &BTreeMap<String, String>, key: &str) -> Option<usize> {
    args.get(key).and_then(|v| v.parse().ok())
}

async fn set(call: Call, body: Bytes) -> Response {
    let version = match version(&call) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let req = Request::SetData(SetDataRequest {
        path: call.path.clone(),
        data: Some(body.to_vec()),
        version,
    });
    match run(&call.session, &call.path, req).await {
        Ok(ZkResponse::Stat(stat)) => {
            let mut r = Json(json!({"path": call.path, "stat": stat_json(&stat)})).into_response();
            r.headers_mut().insert(ETAG, etag(stat.version));
            r
        }
        Ok(_) => bad_request("unexpected reply"),
        Err(r) => r,
    }
}

/// ZooKeeper's CreateMode flags by name.
fn create_flags(mode: &str) -> Option<i32> {
    Some(match mode {
        "persistent" => 0,
        "ephemeral" => 1,
        "persistent_sequential" => 2,
        "ephemeral_sequential" => 3,
        "container" => 4,
        "persistent_with_ttl" => 5,
        "persistent_sequential_with_ttl" => 6,
        _ => return None,
    })
}

/// The create request for `mode`, `ttl` and `acl` (see the module docs).
pub fn create_request(
    path: &str,
    data: Vec<u8>,
    mode: &str,
    ttl: Option<i64>,
    acl: Vec<Acl>,
) -> Result<Request, String> {
    let flags = create_flags(mode).ok_or_else(|| format!("unknown mode {mode:?}"))?;
    let path = path.to_owned();
    let data = Some(data);
    Ok(match (flags, ttl) {
        (5 | 6, Some(ttl)) => Request::CreateTtl(CreateTtlRequest {
            path,
            data,
            acl,
            flags,
            ttl,
        }),
        (5 | 6, None) => return Err(format!("mode {mode} needs ttl=<ms>")),
        (_, Some(_)) => return Err("ttl= needs a *_with_ttl mode".into()),
        (4, None) => Request::CreateContainer(CreateRequest {
            path,
            data,
            acl,
            flags,
        }),
        (_, None) => Request::Create2(CreateRequest {
            path,
            data,
            acl,
            flags,
        }),
    })
}

async fn create(call: Call, body: Bytes) -> Response {
    let mode = call.args.get("mode").map_or("persistent", String::as_str);
    let ttl = match call.args.get("ttl").map(|t| t.parse::<i64>()) {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(_)) => return bad_request("ttl must be a number of milliseconds"),
    };
    let acl = match call.args.get("acl") {
        Some(text) => match reply::acl_from_text(text) {
            Ok(a) => a,
            Err(e) => return bad_request(e),
        },
        None => Acl::open_unsafe(),
    };
    let req = match create_request(&call.path, body.to_vec(), mode, ttl, acl) {
        Ok(r) => r,
        Err(e) => return bad_request(e),
    };
    match run(&call.session, &call.path, req).await {
        Ok(ZkResponse::Create2 { path, stat }) => {
            let location = format!("/api/v1/znodes{}", encode_path(&path));
            let body = json!({"path": path, "stat": stat_json(&stat)});
            let mut r = (StatusCode::CREATED, Json(body)).into_response();
            if let Ok(v) = HeaderValue::from_str(&location) {
                r.headers_mut().insert(LOCATION, v);
            }
            r
        }
        Ok(_) => bad_request("unexpected reply"),
        Err(r) => r,
    }
}

/// Percent-encodes a znode path for a URL (slashes kept).
pub fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

async fn delete(call: Call) -> Response {
    let version = match version(&call) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let req = Request::Delete(DeleteRequest {
        path: call.path.clone(),
        version,
    });
    match run(&call.session, &call.path, req).await {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(r) => r,
    }
}

/// Whether `event` concerns a one-shot watch of `kind` on `path`.
fn fires(kind: &str, path: &str, e: &WatchEvent) -> bool {
    e.path == path
        && match kind {
            "children" => matches!(e.event_type, 2 | 4),
            _ => matches!(e.event_type, 1..=3),
        }
}

fn event_json(e: &WatchEvent) -> serde_json::Value {
    json!({"type": reply::event_name(e.event_type), "path": e.path, "zxid": e.zxid})
}

async fn watch(call: Call) -> Response {
    if accepts(&call.headers, "text/event-stream") {
        return events(call).await;
    }
    let kind = call.args.get("watch").map_or("", String::as_str).to_owned();
    let wait = call
        .args
        .get("timeout")
        .and_then(|t| t.parse::<u64>().ok())
        .map_or(DEFAULT_POLL, Duration::from_secs)
        .min(MAX_POLL);
    let _hold = call.session.hold();
    let mut rx = call.session.subscribe();
    let path = call.path.clone();
    let watch_req = |exists: bool| -> Request {
        let p = PathWatchRequest {
            path: path.clone(),
            watch: true,
        };
        match kind.as_str() {
            "children" => Request::GetChildren(p),
            _ if exists => Request::Exists(p),
            "exists" => Request::Exists(p),
            _ => Request::GetData(GetDataRequest {
                path: path.clone(),
                watch: true,
            }),
        }
    };
    match call.session.call(watch_req(false)).await {
        // A data watch on a missing node waits for its creation, as exists() does.
        Ok((h, _)) if h.err == -101 && kind != "children" => {
            match call.session.call(watch_req(true)).await {
                Ok((h, _)) if h.err != 0 && h.err != -101 => return zk_error(h.err, &path),
                Ok(_) => {}
                Err(e) => return gateway_error(&GatewayError::Session(e)),
            }
        }
        Ok((h, _)) if h.err != 0 => return zk_error(h.err, &path),
        Ok(_) => {}
        Err(e) => return gateway_error(&GatewayError::Session(e)),
    }
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Err(_) => return StatusCode::NO_CONTENT.into_response(),
            Ok(Ok(e)) if fires(&kind, &path, &e) => {
                return Json(json!({"event": event_json(&e)})).into_response();
            }
            Ok(Ok(_)) | Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(_)) => {
                return gateway_error(&GatewayError::Session(super::session::SessionError::Closed));
            }
        }
    }
}

/// Removes a persistent watch when the last event stream on it ends.
struct StreamGuard {
    session: Arc<Session>,
    path: String,
    mode: i32,
    _hold: super::session::Hold,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        if self.session.release_persistent(&self.path, self.mode) {
            let (session, path) = (Arc::clone(&self.session), self.path.clone());
            // ZooKeeper's WatcherType: Persistent 4, PersistentRecursive 5.
            let watcher_type = if self.mode == 1 { 5 } else { 4 };
            tokio::spawn(async move {
                let req = Request::RemoveWatches(WatchesRequest { path, watcher_type });
                let _ = session.call(req).await;
            });
        }
    }
}

/// Whether `e` is under a persistent watch on `path`.
fn under(path: &str, recursive: bool, e: &WatchEvent) -> bool {
    e.path == path
        || (recursive
            && (path == "/"
                || e.path
                    .strip_prefix(path)
                    .is_some_and(|r| r.starts_with('/'))))
}

async fn events(call: Call) -> Response {
    let recursive = call.args.contains_key("recursive");
    let mode = i32::from(recursive);
    let hold = call.session.hold();
    let rx = call.session.subscribe();
    call.session.acquire_persistent(&call.path, mode);
    let guard = StreamGuard {
        session: Arc::clone(&call.session),
        path: call.path.clone(),
        mode,
        _hold: hold,
    };
    let req = Request::AddWatch(AddWatchRequest {
        path: call.path.clone(),
        mode,
    });
    if let Err(r) = run(&call.session, &call.path, req).await {
        return r;
    }
    let ready = Event::default()
        .event("ready")
        .data(json!({"path": call.path, "recursive": recursive}).to_string());
    let state = (rx, guard, Some(ready));
    let stream = futures_util::stream::unfold(state, |(mut rx, guard, first)| async move {
        if let Some(ready) = first {
            return Some((
                Ok::<Event, std::convert::Infallible>(ready),
                (rx, guard, None),
            ));
        }
        loop {
            let next = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
            match next {
                Err(_) if guard.session.is_dead() => return None,
                Err(_) => continue,
                Ok(Ok(e)) if under(&guard.path, guard.mode == 1, &e) => {
                    let ev = Event::default()
                        .event(reply::event_name(e.event_type))
                        .data(event_json(&e).to_string());
                    return Some((Ok(ev), (rx, guard, None)));
                }
                Ok(Ok(_)) => continue,
                Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(n))) => {
                    let ev = Event::default()
                        .event("lagged")
                        .data(json!({"missed": n}).to_string());
                    return Some((Ok(ev), (rx, guard, None)));
                }
                Ok(Err(_)) => return None,
            }
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_modes() {
        let open = Acl::open_unsafe();
        let r = create_request("/a", vec![], "persistent_sequential", None, open.clone());
        assert!(matches!(r, Ok(Request::Create2(c)) if c.flags == 2));
        let r = create_request("/a", vec![], "container", None, open.clone());
        assert!(matches!(r, Ok(Request::CreateContainer(_))));
        let r = create_request("/a", vec![], "persistent_with_ttl", Some(5), open.clone());
        assert!(matches!(r, Ok(Request::CreateTtl(c)) if c.ttl == 5));
        assert!(create_request("/a", vec![], "persistent_with_ttl", None, open.clone()).is_err());
        assert!(create_request("/a", vec![], "persistent", Some(5), open.clone()).is_err());
        assert!(create_request("/a", vec![], "nosuch", None, open).is_err());
    }

    #[test]
    fn paths_and_events() {
        assert_eq!(encode_path("/a b/c%"), "/a%20b/c%25");
        let e = |p: &str, t| WatchEvent {
            event_type: t,
            path: p.into(),
            zxid: 1,
        };
        assert!(under("/a", true, &e("/a/b", 3)));
        assert!(!under("/a", true, &e("/ab", 3)));
        assert!(!under("/a", false, &e("/a/b", 3)));
        assert!(under("/", true, &e("/x", 1)));
        assert!(fires("data", "/a", &e("/a", 3)));
        assert!(!fires("children", "/a", &e("/a", 3)));
        assert!(fires("children", "/a", &e("/a", 4)));
    }
}
