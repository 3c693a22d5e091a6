//! A deliberately small HTTP/1.1 server for the admin endpoints: GET and HEAD only, one
//! request per connection (`Connection: close`, as ZooKeeper's Jetty answers), the request
//! head limited to [`MAX_HEAD`] bytes and [`READ_TIMEOUT`], at most [`MAX_CONNECTIONS`]
//! connections at once. Malformed requests get 400, unknown paths 404, other methods 405.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, oneshot, watch};

use crate::inbox::{Answer, Query, ToShell};
use crate::ops::{commands, metric};

/// Largest accepted request head (request line and headers).
pub const MAX_HEAD: usize = 16 * 1024;
/// Time allowed for the client to send its request head, and for us to write the answer.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Time allowed for the shell to answer.
pub const SHELL_TIMEOUT: Duration = Duration::from_secs(10);
/// Concurrent connections; more are closed at once.
pub const MAX_CONNECTIONS: usize = 64;

/// What a listener serves.
#[derive(Debug, Clone)]
pub enum Routes {
    /// Commands under `command_url`, `/metrics`, `/ready`, `/health`.
    Admin {
        /// `admin.commandURL`, without a trailing slash.
        command_url: String,
    },
    /// Only `/metrics` (ZooKeeper's PrometheusMetricsProvider port).
    MetricsOnly,
}

/// Accepts connections until `shutdown` turns true (or its sender is gone).
pub async fn serve(
    listener: TcpListener,
    routes: Routes,
    shell: mpsc::Sender<ToShell>,
    mut shutdown: watch::Receiver<bool>,
) {
    let routes = Arc::new(routes);
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            _ = shutdown.changed() => break,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((stream, _)) => {
                let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
                    tracing::warn!(
                        limit = MAX_CONNECTIONS,
                        "too many admin connections; closing a new one"
                    );
                    continue;
                };
                let routes = Arc::clone(&routes);
                let shell = shell.clone();
                tokio::spawn(async move {
                    handle(stream, &routes, &shell).await;
                    drop(permit);
                });
            }
            Err(e) => {
                // e.g. out of file descriptors: do not spin.
                tracing::warn!(error = %e, "admin accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// A parsed request.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    /// `GET` or `HEAD` (others are refused before routing).
    pub method: String,
    /// The decoded path.
    pub path: String,
    /// Decoded query parameters, first value of each.
    pub args: BTreeMap<String, String>,
}

/// An answer to send.
#[derive(Debug, PartialEq, Eq)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Content type.
    pub content_type: &'static str,
    /// Body.
    pub body: String,
}

impl Response {
    fn new(status: u16, content_type: &'static str, body: impl Into<String>) -> Response {
        Response {
            status,
            content_type,
            body: body.into(),
        }
    }

    fn text(status: u16, body: impl Into<String>) -> Response {
        Response::new(status, "text/plain; charset=utf-8", body)
    }

    fn json(o: &commands::Object) -> Response {
        let body = serde_json::to_string_pretty(o).unwrap_or_else(|_| "{}".into());
        Response::new(200, "application/json", body + "\n")
    }
}

async fn handle(mut stream: TcpStream, routes: &Routes, shell: &mpsc::Sender<ToShell>) {
    let response = match tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream)).await {
        Err(_) => Response::text(408, "Request Timeout\n"),
        Ok(Err(HeadError::Io)) => return,
        Ok(Err(HeadError::TooLarge)) => Response::text(431, "Request Header Fields Too Large\n"),
        Ok(Ok(head)) => match parse_request(&head) {
            None => Response::text(400, "Bad Request\n"),
            Some(req) => {
                let head_only = req.method == "HEAD";
                let mut r = route(req, routes, shell).await;
                if head_only {
                    // Keep Content-Length, drop the body.
                    let len = r.body.len();
                    r.body = String::new();
                    let _ = tokio::time::timeout(
                        READ_TIMEOUT,
                        write_response(&mut stream, &r, Some(len)),
                    )
                    .await;
                    return;
                }
                r
            }
        },
    };
    let _ = tokio::time::timeout(READ_TIMEOUT, write_response(&mut stream, &response, None)).await;
}

enum HeadError {
    Io,
    TooLarge,
}

/// Reads up to the blank line that ends the request head.
async fn read_head(stream: &mut TcpStream) -> Result<Vec<u8>, HeadError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await.map_err(|_| HeadError::Io)?;
        if n == 0 {
            return Err(HeadError::Io);
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = find_head_end(&buf) {
            if end > MAX_HEAD {
                return Err(HeadError::TooLarge);
            }
            buf.truncate(end);
            return Ok(buf);
        }
        if buf.len() > MAX_HEAD {
            return Err(HeadError::TooLarge);
        }
    }
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n");
    let lf = buf.windows(2).position(|w| w == b"\n\n");
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Parses the request line of a request head; `None` when it is not valid HTTP/1.x.
pub fn parse_request(head: &[u8]) -> Option<Request> {
    let text = std::str::from_utf8(head).ok()?;
    let line = text.lines().next()?.trim_end_matches('\r');
    let mut parts = line.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some()
        || !version.starts_with("HTTP/1.")
        || method.is_empty()
        || !method.bytes().all(|b| b.is_ascii_uppercase())
        || !target.starts_with('/')
    {
        return None;
    }
    let (raw_path, raw_query) = target.split_once('?').unwrap_or((target, ""));
    let path = percent_decode(raw_path, false)?;
    let mut args = BTreeMap::new();
    for pair in raw_query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (percent_decode(k, true)?, percent_decode(v, true)?);
        args.entry(k).or_insert(v);
    }
    Some(Request {
        method: method.to_owned(),
        path,
        args,
    })
}

/// `%XX` decoding (and `+` as space in query strings); `None` for bad escapes or non-UTF-8.
fn percent_decode(s: &str, plus_is_space: bool) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Decides the answer to a parsed request.
pub async fn route(req: Request, routes: &Routes, shell: &mpsc::Sender<ToShell>) -> Response {
    if req.method != "GET" && req.method != "HEAD" {
        return Response::text(405, "Method Not Allowed\n");
    }
    let command_url = match routes {
        Routes::MetricsOnly => {
            return if req.path == "/metrics" {
                metrics(shell).await
            } else {
                Response::text(404, "Not Found\n")
            };
        }
        Routes::Admin { command_url } => command_url,
    };
    let path = req.path.as_str();
    if path == command_url || path.strip_prefix(command_url.as_str()) == Some("/") {
        return listing(command_url);
    }
    if let Some(name) = path
        .strip_prefix(command_url.as_str())
        .and_then(|rest| rest.strip_prefix('/'))
    {
        let query = Query::Command {
            name: name.to_owned(),
            args: req.args,
        };
        return match ask(shell, query).await {
            Some(Answer::Json(o)) => Response::json(&o),
            _ => {
                let mut o = commands::Object::new();
                o.insert("command".into(), name.into());
                o.insert(
                    "error".into(),
                    "This ZooKeeper instance is not currently serving requests".into(),
                );
                Response::json(&o)
            }
        };
    }
    match path {
        "/metrics" => metrics(shell).await,
        "/ready" | "/health" => match ask(shell, Query::Ready).await {
            Some(Answer::Ready(true)) => Response::text(200, "ok\n"),
            Some(Answer::Ready(false)) => Response::text(
                503,
                "not serving: storage failed, writes are not acknowledged\n",
            ),
            _ => Response::text(503, "not serving: the server does not answer\n"),
        },
        _ => Response::text(404, "Not Found\n"),
    }
}

/// The HTML list of command links, as ZooKeeper's CommandServlet writes it.
fn listing(command_url: &str) -> Response {
    let mut body = String::new();
    for name in commands::primary_names() {
        body.push_str(&format!(
            "<a href=\"{command_url}/{name}\">{name}</a>\n<br/>\n"
        ));
    }
    Response::new(200, "text/html; charset=utf-8", body)
}

async fn metrics(shell: &mpsc::Sender<ToShell>) -> Response {
    match ask(shell, Query::Metrics).await {
        Some(Answer::Metrics(m, extra)) => Response::new(
            200,
            "text/plain; version=0.0.4; charset=utf-8",
            metric::to_prometheus(&m) + &extra,
        ),
        _ => Response::text(503, "not serving: the server does not answer\n"),
    }
}

/// Sends `query` to the shell and waits (bounded) for its answer.
async fn ask(shell: &mpsc::Sender<ToShell>, query: Query) -> Option<Answer> {
    let (reply, rx) = oneshot::channel();
    tokio::time::timeout(SHELL_TIMEOUT, async {
        shell.send(ToShell::Admin { query, reply }).await.ok()?;
        rx.await.ok()
    })
    .await
    .ok()
    .flatten()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

async fn write_response(
    stream: &mut TcpStream,
    r: &Response,
    content_length: Option<usize>,
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\nServer: menagerie\r\n",
        r.status,
        reason(r.status),
        r.content_type,
        content_length.unwrap_or(r.body.len())
    );
    if r.status == 405 {
        head.push_str("Allow: GET, HEAD\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(r.body.as_bytes()).await?;
    stream.flush().await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_request_lines() {
        let r = parse_request(b"GET /commands/stmk?traceMask=12&a=%41+b&a=2 HTTP/1.1\r\nHost: x")
            .expect("valid");
        assert_eq!(r.method, "GET");
        assert_eq!(r.path, "/commands/stmk");
        assert_eq!(r.args["traceMask"], "12");
        assert_eq!(r.args["a"], "A b");
        for bad in [
            &b""[..],
            b"GET",
            b"GET /x",
            b"GET x HTTP/1.1",
            b"GET /x HTTP/2",
            b"get /x HTTP/1.1",
            b"GET /x HTTP/1.1 extra",
            b"GET /%zz HTTP/1.1",
            b"GET /%ff HTTP/1.1",
            b"\xff\xfe",
        ] {
            assert_eq!(
                parse_request(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    fn get(path: &str) -> Request {
        parse_request(format!("GET {path} HTTP/1.1").as_bytes()).expect("valid")
    }

    /// A shell that answers every query with `answer`.
    fn fake_shell(answer: fn() -> Answer) -> mpsc::Sender<ToShell> {
        let (tx, mut rx) = mpsc::channel(4);
        tokio::spawn(async move {
            while let Some(msg) = rx.recv().await {
                if let ToShell::Admin { reply, .. } = msg {
                    let _ = reply.send(answer());
                }
            }
        });
        tx
    }

    #[tokio::test]
    async fn probes_follow_the_shell() {
        let routes = Routes::Admin {
            command_url: "/commands".into(),
        };
        let ok = fake_shell(|| Answer::Ready(true));
        let failed = fake_shell(|| Answer::Ready(false));
        let (gone, _) = mpsc::channel(1);
        for probe in ["/ready", "/health"] {
            assert_eq!(route(get(probe), &routes, &ok).await.status, 200);
            let r = route(get(probe), &routes, &failed).await;
            assert_eq!(r.status, 503);
            assert!(r.body.contains("storage failed"), "{}", r.body);
            assert_eq!(route(get(probe), &routes, &gone).await.status, 503);
        }
        assert_eq!(route(get("/metrics"), &routes, &gone).await.status, 503);
        let r = route(get("/commands/ruok"), &routes, &gone).await;
        assert!(r.body.contains("not currently serving"), "{}", r.body);
        let metrics_only = Routes::MetricsOnly;
        assert_eq!(route(get("/ready"), &metrics_only, &ok).await.status, 404);
    }

    #[test]
    fn head_end_accepts_crlf_and_lf() {
        assert_eq!(find_head_end(b"GET / HTTP/1.0\r\n\r\nbody"), Some(14));
        assert_eq!(find_head_end(b"GET / HTTP/1.0\n\n"), Some(14));
        assert_eq!(find_head_end(b"GET / HTTP/1.0\r\n"), None);
    }
}
