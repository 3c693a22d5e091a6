//! Measures what the data tree costs per znode beyond the path and data bytes themselves.
//!
//! `cargo run --release -p menagerie-core --example tree_memory [-- NODES]` (default
//! 1,000,000 znodes of 100 bytes under 1,000 parents). Reads the process RSS from
//! `/proc/self/statm` before and after, so it is Linux-only.

use menagerie_core::tree::{DataTree, NewNode};
use menagerie_proto::records::Acl;

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let acl = Acl::open_unsafe();
    let data = [b'x'; 100];
    let before = rss_bytes();
    let mut tree = DataTree::new(false, 1);
    let mut payload: u64 = 0;
    let parents = 1_000.min(n.max(1));
    for p in 0..parents {
        let path = format!("/p{p:04}");
        payload += path.len() as u64;
        tree.create(&path, &node(&acl, &[], p as i64 + 1))
            .expect("create parent");
    }
    for i in 0..n {
        let path = format!("/p{:04}/node-{i:08}", i % parents);
        payload += (path.len() + data.len()) as u64;
        tree.create(&path, &node(&acl, &data, (parents + i) as i64 + 1))
            .expect("create");
    }
    let after = rss_bytes();
    let total = after.saturating_sub(before);
    let nodes = (n + parents) as u64;
    println!("znodes:                {nodes}");
    println!("RSS growth:            {:.1} MiB", total as f64 / 1048576.0);
    println!(
        "path + data bytes:     {:.1} MiB",
        payload as f64 / 1048576.0
    );
    println!(
        "overhead per znode:    {:.1} bytes (beyond path and data)",
        total.saturating_sub(payload) as f64 / nodes as f64
    );
    std::hint::black_box(&tree);
}

fn node<'a>(acl: &'a [Acl], data: &'a [u8], zxid: i64) -> NewNode<'a> {
    NewNode {
        data: Some(data),
        acl,
        ephemeral_owner: 0,
        parent_cversion: -1,
        zxid,
        time: zxid,
    }
}
