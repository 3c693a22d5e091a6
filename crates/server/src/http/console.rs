//! The web console: plain HTML, CSS and JavaScript compiled into the binary (no CDN, no
//! network at runtime), served under `/console`.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};

/// The console's files: (name, content type, bytes).
const FILES: &[(&str, &str, &[u8])] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("../../console/index.html"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../console/app.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../../console/app.css"),
    ),
];

/// Only the console's own files, no inline script, no framing by other sites.
const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; \
                   script-src 'self'; connect-src 'self'; frame-ancestors 'none'";

fn file(name: &str) -> Response {
    match FILES.iter().find(|(n, _, _)| *n == name) {
        Some((_, ctype, bytes)) => (
            StatusCode::OK,
            [
                (CONTENT_TYPE, *ctype),
                (CACHE_CONTROL, "no-cache"),
                (CONTENT_SECURITY_POLICY, CSP),
            ],
            *bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "Not Found\n").into_response(),
    }
}

/// `/console`: the page.
pub async fn index() -> Response {
    file("index.html")
}

/// `/console/<file>`: a script or style sheet.
pub async fn asset(Path(name): Path<String>) -> Response {
    file(&name)
}
