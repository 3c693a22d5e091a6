//! Measures what the watch registry costs per watch (issue target: 1,000,000 watches in at
//! most 100 MB).
//!
//! `cargo run --release -p menagerie-core --example watch_memory [-- WATCHES]` (default
//! 1,000,000). Two shapes: one connection watching WATCHES distinct paths (the worst case:
//! every watch carries its own path), and 1,000 connections each watching the same
//! WATCHES/1,000 paths (the common case: many clients on a few nodes). Reads the process RSS
//! from `/proc/self/statm`, so it is Linux-only.

use std::collections::BTreeSet;

use menagerie_core::ConnId;
use menagerie_core::watch::{EventType, Table, WatchManager};

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn measure(name: &str, conns: u64, paths: u64) {
    let before = rss_bytes();
    let mut w = WatchManager::new(7);
    let mut path_bytes = 0u64;
    for p in 0..paths {
        let path = format!("/app/watched/node-{p:08}");
        path_bytes += path.len() as u64;
        for c in 0..conns {
            w.add_standard(Table::Data, &path, ConnId(c + 1));
        }
    }
    let after = rss_bytes();
    let n = w.count() as u64;
    let cost = after.saturating_sub(before);
    println!(
        "{name}: {n} watches ({conns} connections x {paths} paths, {path_bytes} path bytes): \
         {:.1} MB RSS, {:.1} bytes/watch",
        cost as f64 / 1e6,
        cost as f64 / n.max(1) as f64
    );
    // Fire and drop everything so the next shape starts from a clean heap.
    let none = BTreeSet::new();
    for p in 0..paths {
        let path = format!("/app/watched/node-{p:08}");
        w.trigger(Table::Data, &path, EventType::DataChanged, &none);
    }
    assert_eq!(w.count(), 0, "one-shot watches are gone after firing");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: u64 = args
        .iter()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    // Each shape runs in a fresh process: freed heap is not returned to the system, so a
    // second shape in the same process would look cheaper than it is.
    match args
        .iter()
        .skip(1)
        .find(|a| a.parse::<u64>().is_err())
        .map(String::as_str)
    {
        Some("distinct") => measure("distinct paths", 1, n),
        Some("shared") => measure("shared paths", 1_000, (n / 1_000).max(1)),
        _ => {
            let exe = std::env::current_exe().expect("own executable");
            for shape in ["distinct", "shared"] {
                let status = std::process::Command::new(&exe)
                    .args([shape.to_owned(), n.to_string()])
                    .status()
                    .expect("run shape");
                assert!(status.success(), "{shape} failed");
            }
        }
    }
}
