//! The admin HTTP server on an ephemeral loopback port: every AdminServer command (and alias)
//! answers JSON with the keys and JSON types Java ZooKeeper 3.8 answers (captured from a live
//! 3.8.0 standalone server), `/metrics` is Prometheus text with ZooKeeper's names and the same
//! numbers as `mntr`, `/ready` and `/health` answer, and bad requests get 4xx, never a crash.
//! The state is made with the independent `zookeeper-client` crate.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::four_letter;
use menagerie_server::config::AdminConfig;
use menagerie_server::{RunningServer, ServerConfig};
use serde_json::Value;
use zookeeper_client as zk;

fn config(dir: &std::path::Path) -> ServerConfig {
    ServerConfig {
        four_letter_whitelist: vec!["*".into()],
        admin: AdminConfig {
            enabled: true,
            addr: "127.0.0.1:0".parse().expect("loopback address"),
            ..AdminConfig::zookeeper_default()
        },
        initial_config: "tickTime=200\nadmin.serverPort=0\nsnapCount=1000\n".into(),
        ..common::config(dir)
    }
}

/// One raw HTTP exchange (blocking; the server runs on the tokio runtime's other threads).
fn http_raw(addr: SocketAddr, request: &[u8]) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).expect("connect to the admin port");
    s.set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    s.write_all(request).expect("send");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)
        .expect("read to the end (Connection: close)");
    let text = String::from_utf8(buf).expect("UTF-8 answer");
    let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status code");
    (status, head.to_owned(), body.to_owned())
}

async fn get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    tokio::task::spawn_blocking(move || http_raw(addr, req.as_bytes()))
        .await
        .expect("request task")
}

async fn get_json(addr: SocketAddr, path: &str) -> serde_json::Map<String, Value> {
    let (status, head, body) = get(addr, path).await;
    assert_eq!(status, 200, "{path}: {head}\n{body}");
    assert!(head.contains("Content-Type: application/json"), "{head}");
    match serde_json::from_str(&body) {
        Ok(Value::Object(o)) => o,
        other => panic!("{path}: not a JSON object: {other:?}\n{body}"),
    }
}

/// The JSON type names Python's json module gives (as in the captured reference).
fn ty(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// Keys and types of Java ZooKeeper 3.8.0's answers (standalone, one client session).
const REFERENCE: &[(&str, &[(&str, &str)])] = &[
    (
        "configuration",
        &[
            ("client_port", "int"),
            ("data_dir", "str"),
            ("data_log_dir", "str"),
            ("tick_time", "int"),
            ("max_client_cnxns", "int"),
            ("min_session_timeout", "int"),
            ("max_session_timeout", "int"),
            ("server_id", "int"),
            ("client_port_listen_backlog", "int"),
        ],
    ),
    ("connection_stat_reset", &[]),
    (
        "connections",
        &[("connections", "list"), ("secure_connections", "list")],
    ),
    ("dirs", &[("datadir_size", "int"), ("logdir_size", "int")]),
    (
        "dump",
        &[
            ("expiry_time_to_session_ids", "dict"),
            ("session_id_to_ephemeral_paths", "dict"),
        ],
    ),
    ("get_trace_mask", &[("tracemask", "int")]),
    ("hash", &[("digests", "list")]),
    ("initial_configuration", &[("initial_configuration", "str")]),
    ("is_read_only", &[("read_only", "bool")]),
    ("last_snapshot", &[("zxid", "str"), ("timestamp", "int")]),
    ("observer_connection_stat_reset", &[]),
    (
        "observers",
        &[("synced_observers", "int"), ("observers", "list")],
    ),
    ("ruok", &[]),
    (
        "server_stats",
        &[
            ("version", "str"),
            ("read_only", "bool"),
            ("server_stats", "dict"),
            ("client_response", "dict"),
            ("node_count", "int"),
        ],
    ),
    ("stat_reset", &[]),
    (
        "stats",
        &[
            ("version", "str"),
            ("read_only", "bool"),
            ("server_stats", "dict"),
            ("client_response", "dict"),
            ("node_count", "int"),
            ("connections", "list"),
            ("secure_connections", "list"),
        ],
    ),
    ("voting_view", &[("current_config", "dict")]),
    (
        "watch_summary",
        &[
            ("num_connections", "int"),
            ("num_paths", "int"),
            ("num_total_watches", "int"),
        ],
    ),
    ("watches", &[("session_id_to_watched_paths", "dict")]),
    ("watches_by_path", &[("path_to_session_ids", "dict")]),
    ("zabstate", &[("voting", "bool"), ("zabstate", "str")]),
];

const SERVER_STATS: &[(&str, &str)] = &[
    ("packets_sent", "int"),
    ("packets_received", "int"),
    ("fsync_threshold_exceed_count", "int"),
    ("client_response_stats", "dict"),
    ("data_dir_size", "int"),
    ("log_dir_size", "int"),
    ("provider_null", "bool"),
    ("server_state", "str"),
    ("last_processed_zxid", "int"),
    ("outstanding_requests", "int"),
    ("avg_latency", "float"),
    ("max_latency", "int"),
    ("min_latency", "int"),
    ("num_alive_client_connections", "int"),
    ("auth_failed_count", "int"),
    ("non_mtlsremote_conn_count", "int"),
    ("non_mtlslocal_conn_count", "int"),
    ("uptime", "int"),
];

const CONNECTION: &[(&str, &str)] = &[
    ("remote_socket_address", "str"),
    ("interest_ops", "int"),
    ("outstanding_requests", "int"),
    ("packets_received", "int"),
    ("packets_sent", "int"),
    // A masked id (issue 16): a string where ZooKeeper has the number.
    ("session_id", "str"),
    ("last_operation", "str"),
    ("established", "int"),
    ("session_timeout", "int"),
    ("last_cxid", "int"),
    ("last_zxid", "int"),
    ("last_response_time", "int"),
    ("last_latency", "int"),
    ("min_latency", "int"),
    ("avg_latency", "int"),
    ("max_latency", "int"),
];

fn assert_shape(what: &str, o: &serde_json::Map<String, Value>, expected: &[(&str, &str)]) {
    let got: Vec<(&str, &str)> = o.iter().map(|(k, v)| (k.as_str(), ty(v))).collect();
    assert_eq!(
        got, expected,
        "{what}: keys and JSON types differ from ZooKeeper 3.8"
    );
}

fn with_command(expected: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut v = expected.to_vec();
    v.push(("command", "str"));
    v.push(("error", "NoneType"));
    v
}

/// A client holding an ephemeral node and two data watches (alive while the watchers are).
struct State {
    client: zk::Client,
    _watchers: Vec<zk::OneshotWatcher>,
}

async fn make_state(server: &RunningServer) -> State {
    let client = common::connect(&server.addr.to_string()).await;
    let open = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    let eph = zk::CreateMode::Ephemeral.with_acls(zk::Acls::anyone_all());
    client.create("/a", b"x", &open).await.expect("create /a");
    client
        .create("/a/b", b"yy", &open)
        .await
        .expect("create /a/b");
    client.create("/e", b"", &eph).await.expect("create /e");
    let (_, w1) = client
        .check_and_watch_stat("/a")
        .await
        .expect("exists watch");
    let (_, _, w2) = client.get_and_watch_data("/a/b").await.expect("data watch");
    State {
        client,
        _watchers: vec![w1, w2],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_answer_zookeeper_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = menagerie_server::start(config(dir.path()))
        .await
        .expect("start");
    let admin = server.admin_addr.expect("admin server bound");
    let state = make_state(&server).await;
    // Session ids are shown masked (see ops::redact).
    let session = menagerie_server::ops::redact::masked_session(state.client.session_id().0);

    // The listing: one link per primary name, ZooKeeper's 26.
    let (status, _, body) = get(admin, "/commands").await;
    assert_eq!(status, 200);
    assert_eq!(body.matches("<a href=\"/commands/").count(), 26, "{body}");
    assert!(body.contains("<a href=\"/commands/monitor\">monitor</a>"));
    assert_eq!(get(admin, "/commands/").await.2, body);

    for (name, expected) in REFERENCE {
        let o = get_json(admin, &format!("/commands/{name}")).await;
        assert_shape(name, &o, &with_command(expected));
        assert_eq!(o["command"], *name);
    }

    // Aliases answer under the primary name.
    for (alias, primary) in [
        ("conf", "configuration"),
        ("config", "configuration"),
        ("cons", "connections"),
        ("envi", "environment"),
        ("env", "environment"),
        ("srvr", "server_stats"),
        ("stat", "stats"),
        ("mntr", "monitor"),
        ("wchs", "watch_summary"),
        ("wchc", "watches"),
        ("wchp", "watches_by_path"),
        ("isro", "is_read_only"),
        ("gtmk", "get_trace_mask"),
        ("lsnp", "last_snapshot"),
        ("icfg", "initial_configuration"),
        ("sysp", "system_properties"),
        ("crst", "connection_stat_reset"),
        ("srst", "stat_reset"),
        ("orst", "observer_connection_stat_reset"),
        ("obsr", "observers"),
    ] {
        let o = get_json(admin, &format!("/commands/{alias}")).await;
        assert_eq!(o["command"], primary, "{alias}");
        assert_eq!(o["error"], Value::Null, "{alias}");
    }

    // Nested shapes and values that follow from the state.
    let stats = get_json(admin, "/commands/server_stats").await;
    let inner = stats["server_stats"]
        .as_object()
        .expect("server_stats object");
    assert_shape("server_stats.server_stats", inner, SERVER_STATS);
    assert_eq!(inner["server_state"], "standalone");
    assert_eq!(inner["num_alive_client_connections"], 1);
    // The root (counted twice, as ZooKeeper does), /zookeeper, /zookeeper/quota,
    // /zookeeper/config, /a, /a/b, /e.
    assert_eq!(stats["node_count"], 8);
    let conns = get_json(admin, "/commands/connections").await;
    let list = conns["connections"].as_array().expect("connections list");
    assert_eq!(list.len(), 1);
    assert_shape(
        "connections[0]",
        list[0].as_object().expect("connection object"),
        CONNECTION,
    );
    assert_eq!(list[0]["session_id"], session);
    let brief = get_json(admin, "/commands/stats").await;
    let brief = brief["connections"][0]
        .as_object()
        .expect("brief connection");
    assert_shape("stats.connections[0]", brief, &CONNECTION[..5]);
    let dump = get_json(admin, "/commands/dump").await;
    assert_eq!(
        dump["session_id_to_ephemeral_paths"][&session],
        serde_json::json!(["/e"])
    );
    let watches = get_json(admin, "/commands/watches").await;
    assert_eq!(
        watches["session_id_to_watched_paths"][&session],
        serde_json::json!(["/a", "/a/b"])
    );
    let by_path = get_json(admin, "/commands/watches_by_path").await;
    assert_eq!(
        by_path["path_to_session_ids"]["/a/b"],
        serde_json::json!([session])
    );
    let summary = get_json(admin, "/commands/wchs").await;
    assert_eq!(
        (
            &summary["num_connections"],
            &summary["num_paths"],
            &summary["num_total_watches"]
        ),
        (&1.into(), &2.into(), &2.into())
    );
    let conf = get_json(admin, "/commands/conf").await;
    // The configured port (0 here), as ZooKeeper reports its configuration.
    assert_eq!(conf["client_port"], 0);
    assert_eq!(conf["tick_time"], 200);
    let icfg = get_json(admin, "/commands/initial_configuration").await;
    assert_eq!(
        icfg["initial_configuration"],
        "tickTime=200\nadmin.serverPort=0\nsnapCount=1000\n"
    );
    let sysp = get_json(admin, "/commands/system_properties").await;
    assert_eq!(sysp["zookeeper.admin.serverPort"], "0");
    assert_eq!(sysp["zookeeper.snapCount"], "1000");
    assert!(sysp.get("zookeeper.tickTime").is_none());

    // Errors as ZooKeeper answers them (HTTP 200, an error string).
    let o = get_json(admin, "/commands/nosuch").await;
    assert_eq!(
        serde_json::Value::Object(o),
        serde_json::json!({"command": "nosuch", "error": "Unknown command: nosuch"})
    );
    let o = get_json(admin, "/commands/leader").await;
    assert_eq!(o["error"], "server is not initialized");
    assert_eq!(o["command"], "leader");
    let o = get_json(admin, "/commands/lead").await;
    assert_eq!(o["command"], "leader");
    let o = get_json(admin, "/commands/set_trace_mask").await;
    assert_eq!(o["error"], "setTraceMask requires long traceMask argument");
    let o = get_json(admin, "/commands/stmk?traceMask=abc").await;
    assert_eq!(
        o["error"],
        "setTraceMask requires long traceMask argument, got abc"
    );
    let o = get_json(admin, "/commands/stmk?traceMask=12").await;
    assert_eq!((&o["tracemask"], &o["error"]), (&12.into(), &Value::Null));
    assert_eq!(get_json(admin, "/commands/gtmk").await["tracemask"], 12);
    assert_eq!(four_letter(server.addr, "gtmk").await, "12");
    assert_eq!(
        four_letter(server.addr, "srst").await,
        "Server stats reset.\n"
    );
    get_json(admin, "/commands/stmk?traceMask=306").await;

    drop(state);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_mntr_and_prometheus_share_one_source() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = menagerie_server::start(config(dir.path()))
        .await
        .expect("start");
    let admin = server.admin_addr.expect("admin server bound");
    let state = make_state(&server).await;

    let monitor = get_json(admin, "/commands/monitor").await;
    let mntr = four_letter(server.addr, "mntr").await;
    let text: Vec<(&str, &str)> = mntr
        .lines()
        .map(|l| {
            let (k, v) = l.split_once('\t').expect("zk_<key>\\t<value>");
            (k.strip_prefix("zk_").expect("zk_ prefix"), v)
        })
        .collect();
    let json_keys: Vec<&str> = monitor
        .keys()
        .map(String::as_str)
        .filter(|k| *k != "command" && *k != "error")
        .collect();
    let text_keys: Vec<&str> = text.iter().map(|(k, _)| *k).collect();
    assert_eq!(json_keys, text_keys, "mntr and monitor list the same keys");
    for (k, v) in &text {
        let j = &monitor[*k];
        match *k {
            "uptime" | "open_file_descriptor_count" | "max_file_descriptor_count" => {
                assert_eq!(ty(j), "int", "{k}")
            }
            // The four-letter-word connection itself is alive while mntr runs.
            "num_alive_connections" => assert_eq!(v.parse::<i64>().ok(), j.as_i64().map(|n| n + 1)),
            "version" | "server_state" => assert_eq!(j.as_str(), Some(*v), "{k}"),
            // Java's monitor types: doubles for these two, longs for the rest.
            "avg_latency" | "connection_drop_probability" => {
                assert_eq!(ty(j), "float", "{k}");
                assert_eq!(j.as_f64(), v.parse().ok(), "{k}");
            }
            _ => assert_eq!(j.as_i64(), v.parse().ok(), "{k} = {v} vs {j}"),
        }
    }
    assert_eq!(monitor["znode_count"], 8);
    assert_eq!(monitor["ephemerals_count"], 1);
    assert_eq!(monitor["watch_count"], 2);
    assert_eq!(monitor["server_state"], "standalone");

    let (status, head, body) = get(admin, "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        head.contains("Content-Type: text/plain; version=0.0.4"),
        "{head}"
    );
    // The log's fsyncs (the writes above were made durable, so some were counted).
    let fsyncs: u64 = body
        .lines()
        .find_map(|l| l.strip_prefix("fsynctime_count ")?.parse().ok())
        .unwrap_or_else(|| panic!("fsynctime_count in {body}"));
    assert!(fsyncs > 0, "{body}");
    assert!(
        body.contains(&format!(
            "menagerie_fsync_seconds_bucket{{le=\"+Inf\"}} {fsyncs}"
        )),
        "{body}"
    );
    // Request latencies: reads and writes were made above.
    for summary in ["readlatency", "updatelatency"] {
        let n: u64 = body
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{summary}_count "))?.parse().ok())
            .unwrap_or_else(|| panic!("{summary}_count in {body}"));
        assert!(n > 0, "{summary}: {body}");
        let hist = if summary == "readlatency" {
            "menagerie_read_latency_seconds"
        } else {
            "menagerie_update_latency_seconds"
        };
        assert!(
            body.contains(&format!("{hist}_bucket{{le=\"+Inf\"}} {n}\n")),
            "{hist}: {body}"
        );
    }
    for name in [
        "znode_count",
        "watch_count",
        "ephemerals_count",
        "outstanding_requests",
        "num_alive_connections",
        "approximate_data_size",
        "avg_latency",
        "max_latency",
        "min_latency",
        "packets_received",
        "packets_sent",
        "global_sessions",
        "open_file_descriptor_count",
        "uptime",
    ] {
        assert!(
            body.contains(&format!("# TYPE {name} gauge\n{name} ")),
            "{name} missing from\n{body}"
        );
    }
    assert!(body.contains("\nznode_count 8.0\n"), "{body}");
    assert!(body.contains("\nephemerals_count 1.0\n"), "{body}");
    assert!(!body.contains("version"), "strings are not exported");
    for line in body.lines().filter(|l| !l.starts_with('#')) {
        let (name, value) = line.split_once(' ').expect("name value");
        // Histogram buckets carry an `le` label.
        let name = name.split('{').next().unwrap_or(name);
        assert!(
            name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{line}"
        );
        assert!(value.parse::<f64>().is_ok(), "{line}");
    }

    for probe in ["/ready", "/health"] {
        let (status, _, body) = get(admin, probe).await;
        assert_eq!((status, body.as_str()), (200, "ok\n"), "{probe}");
    }
    drop(state);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_4xx_and_the_server_keeps_serving() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = menagerie_server::start(config(dir.path()))
        .await
        .expect("start");
    let admin = server.admin_addr.expect("admin server bound");
    let cases: Vec<(Vec<u8>, u16)> = vec![
        (b"GARBAGE\r\n\r\n".to_vec(), 400),
        (b"GET nopath HTTP/1.1\r\n\r\n".to_vec(), 400),
        (b"GET /commands/%zz HTTP/1.1\r\n\r\n".to_vec(), 400),
        (b"\xff\xfe\xfd\r\n\r\n".to_vec(), 400),
        (b"GET /nope HTTP/1.1\r\n\r\n".to_vec(), 404),
        (b"GET / HTTP/1.0\r\n\r\n".to_vec(), 404),
        (
            b"POST /commands/ruok HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi".to_vec(),
            405,
        ),
        (b"DELETE /metrics HTTP/1.1\r\n\r\n".to_vec(), 405),
        (
            {
                let mut v = b"GET /commands/ruok HTTP/1.1\r\nX: ".to_vec();
                v.extend(std::iter::repeat_n(b'a', 20_000));
                v.extend(b"\r\n\r\n");
                v
            },
            431,
        ),
    ];
    for (req, want) in cases {
        let shown = String::from_utf8_lossy(&req[..req.len().min(40)]).into_owned();
        let (status, head, _) = tokio::task::spawn_blocking(move || http_raw(admin, &req))
            .await
            .expect("request task");
        assert_eq!(status, want, "{shown:?}: {head}");
    }
    // A client that connects and goes away, or sends half a request and closes.
    tokio::task::spawn_blocking(move || {
        drop(TcpStream::connect(admin).expect("connect"));
        let mut s = TcpStream::connect(admin).expect("connect");
        s.write_all(b"GET /comm").expect("send");
    })
    .await
    .expect("task");
    // HEAD: the head only, with the length of the body a GET would get.
    let (status, head, body) = tokio::task::spawn_blocking(move || {
        http_raw(admin, b"HEAD /commands/ruok HTTP/1.1\r\n\r\n")
    })
    .await
    .expect("task");
    assert_eq!((status, body.as_str()), (200, ""), "{head}");
    assert!(!head.contains("Content-Length: 0"), "{head}");
    // Bare-LF requests are accepted.
    let (status, _, body) =
        tokio::task::spawn_blocking(move || http_raw(admin, b"GET /commands/ruok HTTP/1.1\n\n"))
            .await
            .expect("task");
    assert_eq!(status, 200, "{body}");
    let o = get_json(admin, "/commands/ruok").await;
    assert_eq!(o["error"], Value::Null);
    server.stop().await;
}

#[tokio::test]
async fn admin_can_be_disabled_and_a_taken_port_stops_startup() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = config(dir.path());
    c.admin.enabled = false;
    let server = menagerie_server::start(c.clone()).await.expect("start");
    assert_eq!(server.admin_addr, None);
    server.stop().await;

    // ZooKeeper exits with "Unable to start AdminServer" when the port is taken.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    c.admin.enabled = true;
    c.admin.addr = taken.local_addr().expect("addr");
    let err = match menagerie_server::start(c).await {
        Ok(_) => panic!("started although the admin port is taken"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("admin server"), "{err}");
}

#[tokio::test]
async fn prometheus_provider_port_serves_only_metrics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = config(dir.path());
    c.admin.enabled = false;
    c.admin.prometheus_addr = Some("127.0.0.1:0".parse().expect("addr"));
    let server = menagerie_server::start(c).await.expect("start");
    let prom = server.prometheus_addr.expect("prometheus port bound");
    let (status, _, body) = get(prom, "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        body.contains("# TYPE znode_count gauge\nznode_count 5.0\n"),
        "{body}"
    );
    assert_eq!(get(prom, "/commands/ruok").await.0, 404);
    server.stop().await;
}
