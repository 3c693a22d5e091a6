//! Recent changes from the transaction log: `/api/v1/history` (every path) and
//! `/api/v1/history/<path>` (one znode, with its earlier data, so the console can restore it).
//!
//! Only the newest log files are read ([`MAX_FILES`]), off the shell task, newest change
//! first. Rights: one znode's history shows its earlier data, so the caller's session must be
//! able to read the node now (a getData through the gateway, ACL-checked); the history of every
//! path shows which paths changed and who changed them, so it needs ALL on `/`, as
//! `snapshot` does.

use std::collections::VecDeque;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use base64::Engine as _;
use menagerie_proto::records::GetDataRequest;
use menagerie_proto::request::Request;
use menagerie_storage::{DataDirs, TxnBody as TxnRecord, TxnIterator};
use serde_json::{Value, json};

use super::reply::{bad_request, gateway_error};
use super::znodes::{run, session_for};
use crate::http::auth::{self, Credential, PERM_ALL, Peer};
use crate::http::queries::{Denied, HttpAnswer, HttpQuery};
use crate::http::state::{AppState, ask_http};
use crate::http::target::parse_query;

/// Log files read, newest first (each is up to `preAllocSize`-ish, 64 MiB by default).
pub const MAX_FILES: usize = 2;
/// Changes answered at most.
pub const MAX_LIMIT: usize = 500;

/// The routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/history", get(all))
        .route("/api/v1/history/", get(all))
        .route("/api/v1/history/{*path}", get(one))
}

fn limit(uri: &Uri) -> usize {
    parse_query(uri.query().unwrap_or(""))
        .and_then(|a| a.get("limit").and_then(|l| l.parse().ok()))
        .unwrap_or(100)
        .clamp(1, MAX_LIMIT)
}

async fn all(
    State(app): State<AppState>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let credential = match auth::credential(&headers, &peer) {
        Ok(Some(c)) => c,
        Ok(None) => Credential::Ip(auth::ip_of(peer.addr)),
        Err(e) => return gateway_error(&super::pool::GatewayError::Auth(e)),
    };
    let query = HttpQuery::Authorize {
        credential,
        perm: PERM_ALL,
        path: "/".into(),
    };
    match ask_http(&app.shell, query).await {
        Some(HttpAnswer::Authorized(Ok(()))) => {}
        Some(HttpAnswer::Authorized(Err(Denied::NoAuth))) => {
            let body = json!({"error": "NoAuth", "code": -102, "path": "/",
                "message": "the history of every path needs ALL on /"});
            return (StatusCode::FORBIDDEN, Json(body)).into_response();
        }
        _ => return unavailable(),
    }
    answer(&app, None, limit(&uri)).await
}

async fn one(
    State(app): State<AppState>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
    uri: Uri,
    Path(rest): Path<String>,
) -> Response {
    let path = format!("/{rest}");
    let session = match session_for(&app, &peer, &headers).await {
        Ok(s) => s,
        Err(e) => return gateway_error(&e),
    };
    let read = Request::GetData(GetDataRequest {
        path: path.clone(),
        watch: false,
    });
    if let Err(r) = run(&session, &path, read).await {
        return r;
    }
    answer(&app, Some(path), limit(&uri)).await
}

fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "the server does not answer\n",
    )
        .into_response()
}

async fn answer(app: &AppState, path: Option<String>, limit: usize) -> Response {
    let Some(HttpAnswer::LogDir(dirs)) = ask_http(&app.shell, HttpQuery::LogDir).await else {
        return unavailable();
    };
    let with_data = path.is_some();
    let read = tokio::task::spawn_blocking(move || changes(&dirs, path.as_deref(), limit));
    match read.await {
        Ok(Ok((changes, from))) => {
            let changes: Vec<Value> = changes
                .into_iter()
                .rev()
                .map(|c| c.to_json(with_data))
                .collect();
            Json(json!({"changes": changes, "from_zxid": from})).into_response()
        }
        Ok(Err(e)) => bad_request(format!("cannot read the transaction log: {e}")),
        Err(_) => unavailable(),
    }
}

/// One change to one path.
#[derive(Debug, Clone)]
pub struct Change {
    zxid: i64,
    time: i64,
    session: i64,
    kind: &'static str,
    path: String,
    data: Option<Vec<u8>>,
}

impl Change {
    fn to_json(&self, with_data: bool) -> Value {
        let mut o = json!({
            "zxid": self.zxid,
            "time": self.time,
            "session": format!("0x{:x}", self.session),
            "type": self.kind,
            "path": self.path,
        });
        if with_data {
            o["data_base64"] = self.data.as_ref().map_or(Value::Null, |d| {
                Value::String(base64::engine::general_purpose::STANDARD.encode(d))
            });
        }
        o
    }
}

/// The last `limit` changes (to `path` only, if given) in the newest [`MAX_FILES`] log files,
/// oldest first, and the zxid where reading started.
pub fn changes(
    dirs: &DataDirs,
    path: Option<&str>,
    limit: usize,
) -> menagerie_storage::Result<(VecDeque<Change>, i64)> {
    let files = menagerie_storage::datadir::list_log_files(dirs.fs().as_ref(), dirs.log_dir())?;
    let from = files
        .len()
        .checked_sub(MAX_FILES)
        .and_then(|i| files.get(i))
        .map_or(0, |f| f.zxid);
    let mut out = VecDeque::new();
    let txns = TxnIterator::open(
        dirs.fs().clone(),
        dirs.log_dir(),
        from,
        menagerie_storage::DEFAULT_MAX_RECORD_LEN,
    )?;
    for entry in txns {
        // A torn tail is the live log's unfinished end: stop there.
        let Ok(txn) = entry.and_then(|e| e.decode()) else {
            break;
        };
        let mut flat = Vec::new();
        flatten(&txn.body, &mut flat);
        for (kind, p, data) in flat {
            if path.is_some_and(|want| want != p) {
                continue;
            }
            out.push_back(Change {
                zxid: txn.header.zxid.0,
                time: txn.header.time,
                session: txn.header.client_id.0,
                kind,
                path: p,
                data,
            });
            if out.len() > limit {
                out.pop_front();
            }
        }
    }
    Ok((out, from))
}

/// The path changes of a txn (multi flattened): (kind, path, data).
fn flatten(r: &TxnRecord, out: &mut Vec<(&'static str, String, Option<Vec<u8>>)>) {
    match r {
        TxnRecord::Create(t) | TxnRecord::Create2(t) => {
            out.push(("create", t.path.clone(), t.data.clone()))
        }
        TxnRecord::CreateContainer(t) => out.push(("create", t.path.clone(), t.data.clone())),
        TxnRecord::CreateTtl(t) => out.push(("create", t.path.clone(), t.data.clone())),
        TxnRecord::Delete(t) | TxnRecord::DeleteContainer(t) => {
            out.push(("delete", t.path.clone(), None))
        }
        TxnRecord::SetData(t) | TxnRecord::Reconfig(t) => {
            out.push(("set", t.path.clone(), t.data.clone()))
        }
        TxnRecord::SetAcl(t) => out.push(("setACL", t.path.clone(), None)),
        TxnRecord::Multi(subs) => subs.iter().for_each(|s| flatten(s, out)),
        TxnRecord::Check(_)
        | TxnRecord::CreateSession(_)
        | TxnRecord::CloseSession(_)
        | TxnRecord::Error(_) => {}
    }
}
