//! Helpers the binary's integration tests share: a process guard, a free port, a
//! four-letter word.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Child;
use std::time::Duration;

/// Kills the child (a server) when dropped, a failing test too.
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A loopback port nothing listens on at the moment.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A four-letter word's answer, `None` if the server does not answer.
pub fn four_letter(port: u16, word: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(word.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// Waits (at most 20 s) until the server on `port` answers `ruok` with `imok`.
pub fn wait_until_serving(port: u16) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while four_letter(port, "ruok").as_deref() != Some("imok") {
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
