//! ZooKeeper 3.9's `restore` admin command over HTTP (POST, authorized as `snapshot`): the
//! body is a snapshot stream, as the `snapshot` command sends it. The upload is stored in
//! the snapshot directory and read whole off the shell task, every checksum and seal
//! checked, before the shell is asked to replace its state (`shell::restore`); a truncated
//! or damaged upload changes nothing and gets a 500 naming what is wrong. Rate limited as
//! `snapshot` (429); `admin.restore.enabled=false` answers 503, as in ZooKeeper.

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;
use futures_util::StreamExt as _;
use menagerie_host::restore::{CheckedSnapshot, read_checked};
use tokio::io::AsyncWriteExt as _;

use super::admin_routes::{command_error, json, not_serving};
use super::queries::{HttpAnswer, HttpQuery};
use super::state::{AppState, ask_http};
use crate::ops::commands::Object;

/// Answers a `restore` request whose caller was authorized.
pub async fn restore(app: &AppState, name: &str, body: Body) -> Response {
    let plan = match ask_http(&app.shell, HttpQuery::RestorePlan).await {
        Some(HttpAnswer::RestorePlan(Ok(plan))) => plan,
        Some(HttpAnswer::RestorePlan(Err((status, e)))) => {
            tracing::warn!(error = %e, "restore refused");
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return command_error(status, name, &e);
        }
        _ => return not_serving(name),
    };
    if !app.restore_limiter.allow() {
        tracing::warn!("restore request rate limited (admin.rateLimiterIntervalInMS)");
        let mut o = Object::new();
        o.insert("command".into(), "restore".into());
        o.insert("error".into(), serde_json::Value::Null);
        return json(StatusCode::TOO_MANY_REQUESTS, &o);
    }
    let upload = upload_path(plan.dirs.snap_dir());
    let checked = receive_and_check(&upload, body, plan.extended_types).await;
    let _ = tokio::fs::remove_file(&upload).await;
    let snap = match checked {
        Ok(snap) => snap,
        Err(e) => {
            tracing::warn!(error = %e, "restore refused: nothing was changed");
            return command_error(StatusCode::INTERNAL_SERVER_ERROR, name, &e);
        }
    };
    match ask_http(&app.shell, HttpQuery::Restore(Box::new(snap))).await {
        Some(HttpAnswer::Restored(Ok(zxid))) => {
            let mut o = Object::new();
            o.insert("last_zxid".into(), zxid.into());
            o.insert("command".into(), "restore".into());
            o.insert("error".into(), serde_json::Value::Null);
            json(StatusCode::OK, &o)
        }
        Some(HttpAnswer::Restored(Err(e))) => {
            tracing::warn!(error = %e, "restore refused: nothing was changed");
            command_error(StatusCode::INTERNAL_SERVER_ERROR, name, &e)
        }
        _ => not_serving(name),
    }
}

/// A file name in the snapshot directory that no reader takes for a snapshot or a log.
fn upload_path(snap_dir: &Path) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    snap_dir.join(format!("restore-upload-{}-{nanos}", std::process::id()))
}

/// Stores the body in `path`, then reads it as a snapshot off the async workers.
async fn receive_and_check(
    path: &Path,
    body: Body,
    extended_types: bool,
) -> Result<CheckedSnapshot, String> {
    let mut file = tokio::fs::File::create(path)
        .await
        .map_err(|e| format!("cannot store the upload in {}: {e}", path.display()))?;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| format!("the upload failed: {e}"))?;
        file.write_all(&chunk)
            .await
            .map_err(|e| format!("cannot store the upload: {e}"))?;
    }
    file.flush()
        .await
        .map_err(|e| format!("cannot store the upload: {e}"))?;
    drop(file);
    let path = path.to_owned();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    tokio::task::spawn_blocking(move || {
        read_checked(&menagerie_storage::StdFs, &path, extended_types, seed)
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| format!("the check of the upload failed: {e}"))?
}
