//! The rest of `/api/v1`: ACLs (`/api/v1/acl/<path>`), `multi`, `whoami`, the server views
//! of the console (`/api/v1/server/...`), and the OpenAPI document.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_TYPE, IF_MATCH};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use base64::Engine as _;
use menagerie_proto::records::{
    Acl, CheckVersionRequest, DeleteRequest, PathRequest, SetAclRequest, SetDataRequest,
};
use menagerie_proto::request::Request;
use menagerie_proto::response::{MultiResult, Response as ZkResponse};
use serde_json::{Value, json};

use super::reply::{self, acl_json, bad_request, gateway_error, stat_json, zk_error};
use super::znodes::{create_request, run, session_for};
use crate::http::auth::Peer;
use crate::http::queries::{HttpAnswer, HttpQuery};
use crate::http::state::{AppState, ask_http};

/// The OpenAPI document of `/api/v1`.
pub const OPENAPI: &str = include_str!("openapi.json");

/// The routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/acl", get(acl_get_root).put(acl_put_root))
        .route("/api/v1/acl/", get(acl_get_root).put(acl_put_root))
        .route("/api/v1/acl/{*path}", get(acl_get).put(acl_put))
        .route("/api/v1/multi", post(multi))
        .route("/api/v1/whoami", get(whoami))
        .route("/api/v1/server/largest", get(largest))
        .route("/api/v1/server/sessions", get(sessions))
        .route("/api/v1/openapi.json", get(openapi))
}

async fn openapi() -> Response {
    ([(CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn acl_get_root(
    State(app): State<AppState>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
) -> Response {
    acl_read(app, peer, headers, "/".into()).await
}

async fn acl_get(
    State(app): State<AppState>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
    Path(rest): Path<String>,
) -> Response {
    acl_read(app, peer, headers, format!("/{rest}")).await
}

async fn acl_read(app: AppState, peer: Peer, headers: HeaderMap, path: String) -> Response {
    let session = match session_for(&app, &peer, &headers).await {
        Ok(s) => s,
        Err(e) => return gateway_error(&e),
    };
    let req = Request::GetAcl(PathRequest { path: path.clone() });
    match run(&session, &path, req).await {
        Ok(ZkResponse::GetAcl { acl, stat }) => {
            Json(json!({"path": path, "acl": acl_json(&acl), "stat": stat_json(&stat)}))
                .into_response()
        }
        Ok(_) => bad_request("unexpected reply"),
        Err(r) => r,
    }
}

async fn acl_put_root(
    State(app): State<AppState>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    acl_write(app, peer, headers, "/".into(), body).await
}

async fn acl_put(
    State(app): State<AppState>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
    Path(rest): Path<String>,
    body: Bytes,
) -> Response {
    acl_write(app, peer, headers, format!("/{rest}"), body).await
}

/// PUT `/api/v1/acl/<path>`: the body is the ACL list as JSON (`[{"scheme", "id",
/// "perms"}]`, or `{"acl": [...]}`); `If-Match: <aversion>` makes it conditional.
async fn acl_write(
    app: AppState,
    peer: Peer,
    headers: HeaderMap,
    path: String,
    body: Bytes,
) -> Response {
    let v: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return bad_request(format!("the body is not JSON: {e}")),
    };
    let list = if v.is_object() { &v["acl"] } else { &v };
    let acl = match reply::acl_from_json(list) {
        Ok(a) => a,
        Err(e) => return bad_request(e),
    };
    let version = match headers.get(IF_MATCH).map(|h| h.to_str().unwrap_or("?")) {
        None | Some("*") => -1,
        Some(t) => match t.trim_start_matches("W/").trim_matches('"').parse() {
            Ok(n) => n,
            Err(_) => return bad_request(format!("version {t:?} is not a number")),
        },
    };
    let session = match session_for(&app, &peer, &headers).await {
        Ok(s) => s,
        Err(e) => return gateway_error(&e),
    };
    let req = Request::SetAcl(SetAclRequest {
        path: path.clone(),
        acl,
        version,
    });
    match run(&session, &path, req).await {
        Ok(ZkResponse::Stat(stat)) => {
            Json(json!({"path": path, "stat": stat_json(&stat)})).into_response()
        }
        Ok(_) => bad_request("unexpected reply"),
        Err(r) => r,
    }
}

/// Data of a multi op: `data` (text) or `data_base64`.
fn op_data(op: &Value) -> Result<Vec<u8>, String> {
    if let Some(b) = op["data_base64"].as_str() {
        return base64::engine::general_purpose::STANDARD
            .decode(b)
            .map_err(|e| format!("data_base64: {e}"));
    }
    Ok(op["data"].as_str().unwrap_or("").as_bytes().to_vec())
}

fn op_version(op: &Value) -> i32 {
    op["version"]
        .as_i64()
        .and_then(|v| i32::try_from(v).ok())
        .unwrap_or(-1)
}

/// One op of a multi body as a request.
fn multi_op(op: &Value) -> Result<Request, String> {
    let path = op["path"]
        .as_str()
        .ok_or("every op needs a \"path\"")?
        .to_owned();
    match op["op"].as_str().unwrap_or("") {
        "create" => {
            let acl = match &op["acl"] {
                Value::Null => Acl::open_unsafe(),
                Value::String(t) => reply::acl_from_text(t)?,
                v => reply::acl_from_json(v)?,
            };
            let mode = op["mode"].as_str().unwrap_or("persistent");
            create_request(&path, op_data(op)?, mode, op["ttl"].as_i64(), acl)
        }
        "delete" => Ok(Request::Delete(DeleteRequest {
            path,
            version: op_version(op),
        })),
        "set" => Ok(Request::SetData(SetDataRequest {
            path,
            data: Some(op_data(op)?),
            version: op_version(op),
        })),
        "check" => Ok(Request::Check(CheckVersionRequest {
            path,
            version: op_version(op),
        })),
        other => Err(format!(
            "unknown op {other:?} (create, delete, set or check)"
        )),
    }
}

fn result_json(r: &MultiResult) -> Value {
    match r {
        MultiResult::Create(p) => json!({"op": "create", "path": p}),
        MultiResult::Create2(p, s) => json!({"op": "create", "path": p, "stat": stat_json(s)}),
        MultiResult::Delete => json!({"op": "delete"}),
        MultiResult::SetData(s) => json!({"op": "set", "stat": stat_json(s)}),
        MultiResult::Check => json!({"op": "check"}),
        MultiResult::GetData(..) | MultiResult::GetChildren(_) => json!({"op": "read"}),
        MultiResult::Error(code) => {
            json!({"error": super::session::error_name(*code), "code": code})
        }
    }
}

/// POST `/api/v1/multi`: a JSON list of ops (`create`, `delete`, `set`, `check`), done
/// atomically. 200 with one result per op, or the first failure's status with every op's
/// result (ZooKeeper answers the failed op's code and RuntimeInconsistency for the others).
async fn multi(
    State(app): State<AppState>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ops: Vec<Value> = match serde_json::from_slice(&body) {
        Ok(Value::Array(ops)) => ops,
        Ok(_) => return bad_request("the body must be a JSON list of ops"),
        Err(e) => return bad_request(format!("the body is not JSON: {e}")),
    };
    let reqs: Result<Vec<Request>, String> = ops.iter().map(multi_op).collect();
    let reqs = match reqs {
        Ok(r) => r,
        Err(e) => return bad_request(e),
    };
    let session = match session_for(&app, &peer, &headers).await {
        Ok(s) => s,
        Err(e) => return gateway_error(&e),
    };
    let results = match session.call(Request::Multi(reqs)).await {
        Ok((h, _)) if h.err != 0 => return zk_error(h.err, ""),
        Ok((_, ZkResponse::Multi(results))) => results,
        Ok((h, _)) => return zk_error(if h.err == 0 { -5 } else { h.err }, ""),
        Err(e) => return gateway_error(&super::pool::GatewayError::Session(e)),
    };
    let json_results: Vec<Value> = results.iter().map(result_json).collect();
    let failed = results.iter().find_map(|r| match r {
        MultiResult::Error(code) if *code != -2 && *code != 0 => Some(*code),
        _ => None,
    });
    match failed {
        None => Json(json!({"results": json_results})).into_response(),
        Some(code) => {
            let body = json!({
                "error": super::session::error_name(code),
                "code": code,
                "results": json_results,
            });
            (reply::status_of(code), Json(body)).into_response()
        }
    }
}

/// GET `/api/v1/whoami`: the identities of the caller's session, as `whoAmI` reports them.
async fn whoami(
    State(app): State<AppState>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
) -> Response {
    let session = match session_for(&app, &peer, &headers).await {
        Ok(s) => s,
        Err(e) => return gateway_error(&e),
    };
    match run(&session, "/", Request::WhoAmI).await {
        Ok(ZkResponse::WhoAmI(ids)) => {
            let ids: Vec<Value> = ids
                .iter()
                .map(|i| json!({"scheme": i.auth_scheme, "id": i.user}))
                .collect();
            Json(json!({"identities": ids, "tls": peer.tls})).into_response()
        }
        Ok(_) => bad_request("unexpected reply"),
        Err(r) => r,
    }
}

#[derive(serde::Deserialize)]
struct LimitArgs {
    limit: Option<usize>,
}

/// GET `/api/v1/server/largest?limit=N`: the largest znodes by data size (paths and sizes
/// only, no data), with `jute.maxbuffer` to compare against.
async fn largest(State(app): State<AppState>, Query(args): Query<LimitArgs>) -> Response {
    let limit = args.limit.unwrap_or(20);
    match ask_http(&app.shell, HttpQuery::Largest { limit }).await {
        Some(HttpAnswer::Largest(nodes, max)) => {
            Json(json!({"nodes": nodes, "jute_maxbuffer": max})).into_response()
        }
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the server does not answer\n",
        )
            .into_response(),
    }
}

/// GET `/api/v1/server/sessions`: live sessions with client, timeout, last reply,
/// ephemerals and watches (what `cons`, `dump` and `wchc` show, in one consistent view).
async fn sessions(State(app): State<AppState>) -> Response {
    let json_body = |body: String| {
        let json = [(axum::http::header::CONTENT_TYPE, "application/json")];
        (StatusCode::OK, json, body).into_response()
    };
    let query = crate::inbox::Query::Http(HttpQuery::Sessions);
    match crate::http::state::ask(&app.shell, query).await {
        // Rendered off the shell task (`ops::dumps`), or on it by `queries::answer`.
        Some(crate::inbox::Answer::JsonText(body)) => json_body(body),
        Some(crate::inbox::Answer::Http(HttpAnswer::Sessions(body))) => json_body(body),
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the server does not answer\n",
        )
            .into_response(),
    }
}
