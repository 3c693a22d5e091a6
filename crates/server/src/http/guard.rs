//! Browser-borne attacks on the admin port: requests another web site makes the operator's
//! browser send, and DNS rebinding.
//!
//! Callers without an `Authorization` header act with their `ip` identity, and the console
//! runs on the loopback address by default, so a page on another site must not be able to
//! make a browser on the server's host act for it:
//!
//! * a request the browser marks `Sec-Fetch-Site: cross-site` is refused unless it is a
//!   plain navigation (following a link to the console is fine; a script, image or form of
//!   another site is not);
//! * a state-changing method (anything but GET, HEAD, OPTIONS) with an `Origin` header that
//!   is not the request's own `Host` is refused (cross-site forms and fetches);
//! * while the port is bound to a loopback address, the `Host` header must name a loopback
//!   address or `localhost` (a DNS name rebound to 127.0.0.1 is refused).
//!
//! Clients that are not browsers (curl, Prometheus, ZooKeeper tools) send none of these
//! headers and are not affected.

use axum::extract::{Request, State};
use axum::http::header::{HOST, ORIGIN};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::state::AppState;

/// Why a request is refused, if it is.
pub fn refusal(method: &Method, headers: &HeaderMap, loopback_only: bool) -> Option<&'static str> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let host = headers.get(HOST).and_then(|v| v.to_str().ok());
    if loopback_only && host.is_some_and(|h| !is_loopback_host(h)) {
        return Some("Host is not a loopback address (DNS rebinding protection)");
    }
    if get("sec-fetch-site") == Some("cross-site") && get("sec-fetch-mode") != Some("navigate") {
        return Some("cross-site request refused");
    }
    let unsafe_method = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if unsafe_method && let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) {
        let authority = origin.split_once("://").map_or(origin, |(_, a)| a);
        if host != Some(authority) {
            return Some("cross-origin request refused");
        }
    }
    None
}

/// Whether a `Host` header names the loopback: `localhost`, 127.0.0.0/8 or `[::1]`, with
/// any port.
fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(n, _)| n)
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The middleware: answers 403 with a JSON error for a refused request.
pub async fn guard(State(app): State<AppState>, req: Request, next: Next) -> Response {
    match refusal(req.method(), req.headers(), app.loopback_only) {
        None => next.run(req).await,
        Some(why) => {
            let body = json!({"error": "Forbidden", "message": why});
            (StatusCode::FORBIDDEN, axum::Json(body)).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("header value"));
        }
        h
    }

    #[test]
    fn browsers_of_other_sites_are_refused() {
        let same = headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080"),
        ]);
        assert_eq!(refusal(&Method::POST, &same, true), None);
        let other = headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "https://evil.example"),
        ]);
        assert!(refusal(&Method::POST, &other, true).is_some());
        assert_eq!(
            refusal(&Method::GET, &other, true),
            None,
            "reads are not state changes"
        );
        let img = headers(&[
            ("sec-fetch-site", "cross-site"),
            ("sec-fetch-mode", "no-cors"),
        ]);
        assert!(refusal(&Method::GET, &img, true).is_some());
        let link = headers(&[
            ("sec-fetch-site", "cross-site"),
            ("sec-fetch-mode", "navigate"),
        ]);
        assert_eq!(refusal(&Method::GET, &link, true), None);
        assert_eq!(
            refusal(&Method::DELETE, &HeaderMap::new(), true),
            None,
            "curl"
        );
    }

    #[test]
    fn loopback_servers_refuse_other_host_names() {
        for ok in [
            "localhost",
            "localhost:8080",
            "127.0.0.1:1",
            "127.1.2.3",
            "[::1]:8080",
            "LOCALHOST",
        ] {
            assert!(is_loopback_host(ok), "{ok}");
        }
        for bad in [
            "evil.example:8080",
            "10.0.0.1",
            "[::2]:80",
            "localhost.evil.example",
        ] {
            assert!(!is_loopback_host(bad), "{bad}");
        }
        let rebound = headers(&[("host", "evil.example:8080")]);
        assert!(refusal(&Method::GET, &rebound, true).is_some());
        assert_eq!(refusal(&Method::GET, &rebound, false), None);
    }
}
