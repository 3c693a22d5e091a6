//! JSON shapes of the gateway and the mapping of ZooKeeper results to HTTP answers.
//!
//! Errors answer `{"error": "<ZooKeeper's code name>", "code": <number>, "path": ...}` with
//! a status that says the same in HTTP's terms: NoNode 404, NoAuth 403, AuthFailed 401,
//! BadVersion 412 (the `If-Match` precondition), NodeExists / NotEmpty /
//! NoChildrenForEphemerals 409, BadArguments / InvalidACL / Unimplemented op 400,
//! QuotaExceeded 413, NotReadOnly / ConnectionLoss / SessionExpired / Throttled 503.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use menagerie_proto::error_code::ErrorCode;
use menagerie_proto::records::{Acl, Id, Stat};
use serde_json::{Value, json};

use super::pool::GatewayError;
use super::session::SessionError;
use crate::http::auth::AuthError;

/// The HTTP status of a ZooKeeper error code.
pub fn status_of(code: i32) -> StatusCode {
    use ErrorCode::*;
    match ErrorCode::from_code(code) {
        Some(Ok) => StatusCode::OK,
        Some(NoNode) => StatusCode::NOT_FOUND,
        Some(NoAuth) => StatusCode::FORBIDDEN,
        Some(AuthFailed) | Some(SessionClosedRequireSaslAuth) => StatusCode::UNAUTHORIZED,
        Some(BadVersion) => StatusCode::PRECONDITION_FAILED,
        Some(NodeExists) | Some(NotEmpty) | Some(NoChildrenForEphemerals) => StatusCode::CONFLICT,
        Some(BadArguments)
        | Some(InvalidAcl)
        | Some(MarshallingError)
        | Some(Unimplemented)
        | Some(NoWatcher) => StatusCode::BAD_REQUEST,
        Some(QuotaExceeded) => StatusCode::PAYLOAD_TOO_LARGE,
        Some(NotReadOnly)
        | Some(ConnectionLoss)
        | Some(SessionExpired)
        | Some(Throttled)
        | Some(OperationTimeout)
        | Some(RequestTimeout) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A ZooKeeper error as an HTTP answer.
pub fn zk_error(code: i32, path: &str) -> Response {
    let body = json!({
        "error": super::session::error_name(code),
        "code": code,
        "path": path,
    });
    (status_of(code), Json(body)).into_response()
}

/// A request the gateway cannot turn into a ZooKeeper request.
pub fn bad_request(message: impl Into<String>) -> Response {
    let body = json!({
        "error": "BadArguments",
        "code": ErrorCode::BadArguments.code(),
        "message": message.into(),
    });
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

/// A failure to reach ZooKeeper as an HTTP answer.
pub fn gateway_error(e: &GatewayError) -> Response {
    let (status, name, code) = match e {
        GatewayError::Auth(AuthError::Missing | AuthError::Failed)
        | GatewayError::Session(SessionError::AuthFailed) => (
            StatusCode::UNAUTHORIZED,
            "AuthFailed",
            ErrorCode::AuthFailed.code(),
        ),
        GatewayError::Session(SessionError::Timeout(_)) => (
            StatusCode::GATEWAY_TIMEOUT,
            "OperationTimeout",
            ErrorCode::OperationTimeout.code(),
        ),
        GatewayError::Session(SessionError::Closed) | GatewayError::TooManySessions => (
            StatusCode::SERVICE_UNAVAILABLE,
            "ConnectionLoss",
            ErrorCode::ConnectionLoss.code(),
        ),
    };
    let body = json!({"error": name, "code": code, "message": e.to_string()});
    let mut r = (status, Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(
            axum::http::header::WWW_AUTHENTICATE,
            axum::http::HeaderValue::from_static("digest"),
        );
    }
    r
}

/// A Stat with ZooKeeper's field names.
pub fn stat_json(s: &Stat) -> Value {
    json!({
        "czxid": s.czxid,
        "mzxid": s.mzxid,
        "ctime": s.ctime,
        "mtime": s.mtime,
        "version": s.version,
        "cversion": s.cversion,
        "aversion": s.aversion,
        "ephemeralOwner": s.ephemeral_owner,
        "dataLength": s.data_length,
        "numChildren": s.num_children,
        "pzxid": s.pzxid,
    })
}

/// Data as JSON: `data` (UTF-8 text or null) and `data_base64` (always exact).
pub fn data_json(data: Option<&[u8]>) -> (Value, Value) {
    match data {
        None => (Value::Null, Value::Null),
        Some(d) => (
            std::str::from_utf8(d).map_or(Value::Null, |t| Value::String(t.to_owned())),
            Value::String(base64::engine::general_purpose::STANDARD.encode(d)),
        ),
    }
}

const PERMS: [(char, i32); 5] = [('c', 4), ('d', 8), ('r', 1), ('w', 2), ('a', 16)];

/// Permission bits as zkCli prints them (`cdrwa`).
pub fn perms_text(perms: i32) -> String {
    PERMS
        .iter()
        .filter(|(_, bit)| perms & bit != 0)
        .map(|(c, _)| *c)
        .collect()
}

/// Permission letters (`cdrwa`, any order) as bits.
pub fn parse_perms(text: &str) -> Option<i32> {
    text.chars().try_fold(0, |acc, c| {
        PERMS
            .iter()
            .find(|(l, _)| *l == c.to_ascii_lowercase())
            .map(|(_, bit)| acc | bit)
    })
}

/// An ACL list as JSON: `[{"scheme", "id", "perms": "cdrwa"}]`.
pub fn acl_json(acl: &[Acl]) -> Value {
    acl.iter()
        .map(|a| json!({"scheme": a.id.scheme, "id": a.id.id, "perms": perms_text(a.perms)}))
        .collect()
}

/// An ACL list from JSON (`[{"scheme", "id", "perms"}]`, perms as letters or a number).
pub fn acl_from_json(v: &Value) -> Result<Vec<Acl>, String> {
    let list = v.as_array().ok_or("an ACL must be a JSON list")?;
    list.iter()
        .map(|e| {
            let scheme = e["scheme"].as_str().ok_or("ACL entry without \"scheme\"")?;
            let id = e["id"]
                .as_str()
                .unwrap_or(if scheme == "world" { "anyone" } else { "" });
            let perms = match &e["perms"] {
                Value::String(s) => parse_perms(s).ok_or(format!("bad permissions {s:?}"))?,
                Value::Number(n) => n
                    .as_i64()
                    .and_then(|n| i32::try_from(n).ok())
                    .ok_or("bad permission number")?,
                _ => return Err("ACL entry without \"perms\"".to_owned()),
            };
            Ok(Acl {
                perms,
                id: Id {
                    scheme: scheme.to_owned(),
                    id: id.to_owned(),
                },
            })
        })
        .collect()
}

/// An ACL list in zkCli's syntax: `scheme:id:perms[,scheme:id:perms]` (the id may contain
/// colons, as digest ids do).
pub fn acl_from_text(text: &str) -> Result<Vec<Acl>, String> {
    text.split(',')
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let e = e.trim();
            let (scheme, rest) = e.split_once(':').ok_or(format!("bad ACL entry {e:?}"))?;
            let (id, perms) = rest
                .rsplit_once(':')
                .ok_or(format!("bad ACL entry {e:?}"))?;
            Ok(Acl {
                perms: parse_perms(perms).ok_or(format!("bad permissions in {e:?}"))?,
                id: Id {
                    scheme: scheme.to_owned(),
                    id: id.to_owned(),
                },
            })
        })
        .collect()
}

/// ZooKeeper's event type names.
pub fn event_name(event_type: i32) -> &'static str {
    match event_type {
        -1 => "None",
        1 => "NodeCreated",
        2 => "NodeDeleted",
        3 => "NodeDataChanged",
        4 => "NodeChildrenChanged",
        5 => "DataWatchRemoved",
        6 => "ChildWatchRemoved",
        7 => "PersistentWatchRemoved",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acls_in_both_syntaxes() {
        let a = acl_from_text("world:anyone:r,digest:bob:abc=:cdrwa").expect("valid");
        assert_eq!(a[0].perms, 1);
        assert_eq!(a[1].id.id, "bob:abc=");
        assert_eq!(perms_text(a[1].perms), "cdrwa");
        let j = acl_json(&a);
        assert_eq!(acl_from_json(&j).expect("round trip"), a);
        assert!(acl_from_text("world").is_err());
        assert!(acl_from_text("world:anyone:x").is_err());
        assert!(acl_from_json(&json!({"scheme": "world"})).is_err());
    }

    #[test]
    fn errors_map_to_statuses() {
        assert_eq!(status_of(-101), StatusCode::NOT_FOUND);
        assert_eq!(status_of(-102), StatusCode::FORBIDDEN);
        assert_eq!(status_of(-103), StatusCode::PRECONDITION_FAILED);
        assert_eq!(status_of(-110), StatusCode::CONFLICT);
        assert_eq!(crate::http::gateway::session::error_name(-101), "NoNode");
    }
}
