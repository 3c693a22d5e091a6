//! Replies in request order while writes are in flight, and a failed storage.

mod common;

use common::*;

// ---- ordering with writes in flight -------------------------------------------------------

#[test]
fn reads_wait_behind_the_connections_writes_in_flight() {
    let mut h = Harness::new();
    h.connect(A);
    h.connect(B);
    h.auto_persist = false;
    let z0 = h.zxid();
    let (z1, z2, z3) = (z0 + 1, z0 + 2, z0 + 3);
    assert_eq!(h.send(A, 1, create("/q", b"x", 0)), vec![]);
    assert_eq!(h.send(A, 2, get_data("/q", false)), vec![]);
    // Pings are not part of the order.
    assert_eq!(
        h.send(A, -2, Request::Ping),
        vec![reply(A, -2, z0, ErrorCode::Ok, Response::Empty)]
    );
    // Other connections are not held up and read the applied state.
    assert_eq!(
        h.send(B, 1, get_data("/q", false)),
        vec![reply(B, 1, z0, ErrorCode::NoNode, Response::Empty)]
    );
    // Prep sees the pending create.
    assert_eq!(h.send(B, 2, create("/q", b"", 0)), vec![]);
    assert_eq!(h.send(A, 3, create("/q/child", b"", 0)), vec![]);
    assert_eq!(h.send(A, 4, exists("/q/child", false)), vec![]);
    assert_eq!(h.send_raw(A, 5, 4, Err(BadRequest::Malformed)), vec![]);
    assert_eq!(
        h.send(A, 6, Request::Sync(PathRequest { path: "/q".into() })),
        vec![]
    );
    assert_eq!(h.unacked, vec![z1, z2, z3]);
    let t = START.wall_ms;
    assert_eq!(
        h.persist_up_to(z1),
        vec![
            reply(A, 1, z1, ErrorCode::Ok, created("/q")),
            reply(A, 2, z1, ErrorCode::Ok, data(b"x", new_stat(z1, t, 1))),
        ]
    );
    assert_eq!(
        h.persist_up_to(z2),
        vec![reply(B, 2, z2, ErrorCode::NodeExists, Response::Empty)]
    );
    assert_eq!(
        h.persist_up_to(z3),
        vec![
            reply(A, 3, z3, ErrorCode::Ok, created("/q/child")),
            reply(A, 4, z3, ErrorCode::Ok, Response::Stat(new_stat(z3, t, 0))),
            reply(A, 5, z3, ErrorCode::MarshallingError, Response::Empty),
            reply(
                A,
                6,
                z3,
                ErrorCode::Ok,
                Response::Sync { path: "/q".into() }
            ),
        ]
    );
    assert!(h.unacked.is_empty());
}

#[test]
fn no_reply_goes_to_a_connection_that_is_gone() {
    let mut h = Harness::new();
    let s = h.connect(A);
    h.connect(B);
    h.err(B, exists("/x", true), ErrorCode::NoNode);
    h.err(B, exists("/y", true), ErrorCode::NoNode);
    h.auto_persist = false;
    let z = h.zxid() + 1;
    assert_eq!(h.send(A, 1, create("/x", b"", 0)), vec![]);
    assert_eq!(h.send(A, 2, get_data("/", false)), vec![]);
    assert_eq!(h.run(Input::Disconnected { conn: A }), vec![]);
    assert_eq!(h.persist_all(), vec![notify(B, z, CREATED, "/x")]);
    // Same when the session moved to another connection meanwhile.
    h.auto_persist = true;
    h.connect_with(C, resume(s, h.zxid()));
    h.auto_persist = false;
    assert_eq!(h.send(C, 1, create("/y", b"", 0)), vec![]);
    let out = h.connect_with(D, resume(s, h.zxid()));
    assert_eq!(out, vec![close(C), connected(D, 10_000, s, Some(false))]);
    assert_eq!(h.persist_all(), vec![notify(B, z + 1, CREATED, "/y")]);
}

/// While the storage is failed: a write in flight waits (its connection stays open), new
/// writes get NotReadOnly, new sessions are refused, reads go on. Once the shell has made the
/// waiting txns durable and reports the storage recovered, the waiting write is answered and
/// the server is writable again.
#[test]
fn a_failed_storage_leaves_a_read_only_server_until_it_recovers() {
    let mut h = Harness::new();
    h.connect(A);
    h.connect(B);
    h.ok(A, create("/kept", b"v", 0));
    h.auto_persist = false;
    // A's write is in flight when the disk fails.
    assert_eq!(h.send(A, 1, create("/waits", b"", 0)), vec![]);
    assert_eq!(h.run(Input::StorageFailed), vec![]);
    assert!(h.node.is_read_only());
    let z = h.zxid();
    assert_eq!(
        h.send(B, 2, set_data("/kept", b"w", -1)),
        vec![reply(B, 2, z, ErrorCode::NotReadOnly, Response::Empty)]
    );
    let Response::GetData { data, .. } = h.ok(B, get_data("/kept", false)) else {
        panic!("getData")
    };
    assert_eq!(data.as_deref(), Some(&b"v"[..]));
    assert_eq!(h.connect_with(C, new_session()), vec![close(C)]);
    // Nothing was proposed after the failure.
    assert_eq!(h.unacked, [z + 1]);
    // The shell's retry made A's txn durable: it is answered; the server is writable.
    let out = h.persist_all();
    assert!(
        out.iter()
            .any(|o| matches!(o, Output::Reply { conn, .. } if *conn == A)),
        "{out:?}"
    );
    assert_eq!(h.run(Input::StorageRecovered), vec![]);
    assert!(!h.node.is_read_only());
    h.auto_persist = true;
    h.ok(B, set_data("/kept", b"w", -1));
    assert!(matches!(
        h.connect_with(C, new_session()).as_slice(),
        [Output::Connected { .. }]
    ));
}

/// A `tracing` writer that collects the formatted log lines.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Clients that keep trying to open sessions while the storage is failed get one warning
/// per 10 s of their clock, with the number left out (issue 16, item 14).
#[test]
fn refused_sessions_while_storage_is_failed_are_warned_about_once_per_interval() {
    let logs = Captured::default();
    let sub = tracing_subscriber::fmt()
        .with_writer({
            let l = logs.clone();
            move || l.clone()
        })
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(sub, || {
        let mut h = Harness::new();
        h.run(Input::StorageFailed);
        for c in 0..50 {
            assert_eq!(
                h.connect_with(ConnId(100 + c), new_session()),
                vec![close(ConnId(100 + c))]
            );
        }
        h.advance(10_000);
        assert_eq!(
            h.connect_with(ConnId(200), new_session()),
            vec![close(ConnId(200))]
        );
    });
    let text = String::from_utf8_lossy(&logs.0.lock().expect("log buffer")).into_owned();
    let warnings: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("refusing a new session"))
        .collect();
    assert_eq!(warnings.len(), 2, "{text}");
    assert!(warnings[1].contains("suppressed=49"), "{text}");
}
