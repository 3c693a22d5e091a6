//! ZooKeeper's DataTree digest (ZOOKEEPER-3114, digest version 2; spec 10.9).
//!
//! Node digest = CRC-32 over the path bytes, the data bytes (if not null) and a 60-byte
//! big-endian block `czxid, mzxid, pzxid, ctime, mtime, version, cversion, aversion,
//! ephemeralOwner` — note the field order differs from `StatPersisted` (ZooKeeper:
//! `DigestCalculator.calculateDigest`). Nodes under `/zookeeper/` count as 0; `/zookeeper`
//! itself and the root (path `""`, alias `"/"`) count. The tree digest is the wrapping 64-bit
//! sum of node digests (ZooKeeper: `AdHash`).

use crate::records::StatPersisted;

/// The digest version this module computes (ZooKeeper: `DigestCalculator.DIGEST_VERSION`).
pub const DIGEST_VERSION: i32 = 2;

/// The path as the digest hashes it: the root is `""` (ZooKeeper hashes `""` and `"/"` alike).
fn digest_path(path: &str) -> &str {
    if path == "/" { "" } else { path }
}

/// Whether a node is left out of the digest: everything below `/zookeeper/` (quota nodes are
/// rewritten locally on every server, so they cannot be compared).
pub fn excluded(path: &str) -> bool {
    path.starts_with("/zookeeper/")
}

/// CRC-32 of the path and data part of a node digest. A node's digest is this value
/// continued over the 60-byte stat block ([`node_digest_with`]), so a node whose data did not
/// change can be rehashed without reading its data again.
pub fn path_data_crc(path: &str, data: Option<&[u8]>) -> u32 {
    let mut crc = crc32fast::Hasher::new();
    crc.update(digest_path(path).as_bytes());
    if let Some(d) = data {
        crc.update(d);
    }
    crc.finalize()
}

/// Digest of one node from its [`path_data_crc`] and stat; 0 for nodes below `/zookeeper/`.
pub fn node_digest_with(path: &str, path_data_crc: u32, stat: &StatPersisted) -> u64 {
    if excluded(path) {
        return 0;
    }
    let mut b = [0u8; 60];
    b[0..8].copy_from_slice(&stat.czxid.to_be_bytes());
    b[8..16].copy_from_slice(&stat.mzxid.to_be_bytes());
    b[16..24].copy_from_slice(&stat.pzxid.to_be_bytes());
    b[24..32].copy_from_slice(&stat.ctime.to_be_bytes());
    b[32..40].copy_from_slice(&stat.mtime.to_be_bytes());
    b[40..44].copy_from_slice(&stat.version.to_be_bytes());
    b[44..48].copy_from_slice(&stat.cversion.to_be_bytes());
    b[48..52].copy_from_slice(&stat.aversion.to_be_bytes());
    b[52..60].copy_from_slice(&stat.ephemeral_owner.to_be_bytes());
    let mut crc = crc32fast::Hasher::new_with_initial(path_data_crc);
    crc.update(&b);
    u64::from(crc.finalize())
}

/// Digest of one node; 0 for nodes below `/zookeeper/`.
pub fn node_digest(path: &str, data: Option<&[u8]>, stat: &StatPersisted) -> u64 {
    if excluded(path) {
        return 0;
    }
    node_digest_with(path, path_data_crc(path, data), stat)
}

/// An incrementally maintained tree digest (ZooKeeper: `AdHash`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct TreeDigest(u64);

impl TreeDigest {
    /// The digest of no nodes.
    pub fn new() -> TreeDigest {
        TreeDigest(0)
    }

    /// Adds a node (after it was created or changed).
    pub fn add(&mut self, path: &str, data: Option<&[u8]>, stat: &StatPersisted) {
        self.0 = self.0.wrapping_add(node_digest(path, data, stat));
    }

    /// Removes a node (before it is changed or deleted).
    pub fn remove(&mut self, path: &str, data: Option<&[u8]>, stat: &StatPersisted) {
        self.0 = self.0.wrapping_sub(node_digest(path, data, stat));
    }

    /// The value, as an unsigned number.
    pub fn value(self) -> u64 {
        self.0
    }

    /// The value as ZooKeeper stores it (`TxnDigest.treeDigest`, `ZxidDigest.digest`).
    pub fn as_i64(self) -> i64 {
        self.0 as i64
    }
}

/// The tree digest as of a zxid (ZooKeeper: `DataTree.ZxidDigest`): kept every 128 zxids
/// for the `hash` command, and stored in snapshots (for a fuzzy snapshot, the zxid when its
/// walk ended, later than the one in its name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZxidDigest {
    /// The last txn applied when the digest was taken (0 = none known).
    pub zxid: crate::ids::Zxid,
    /// How the digest was computed ([`DIGEST_VERSION`] today; < 2 is stored as hex text).
    pub version: i32,
    /// The tree digest, as ZooKeeper stores it (a signed long).
    pub digest: i64,
}

/// The digest of a whole tree, given as `(path, data, stat)` for every node (root as `""`).
pub fn tree_digest<'a, I>(nodes: I) -> u64
where
    I: IntoIterator<Item = (&'a str, Option<&'a [u8]>, &'a StatPersisted)>,
{
    let mut d = TreeDigest::new();
    for (path, data, stat) in nodes {
        d.add(path, data, stat);
    }
    d.value()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_tree_matches_zookeeper() {
        // Spec 10.9: a fresh 3.8.0 server's tree digest (root + /zookeeper; /zookeeper/quota
        // and /zookeeper/config are excluded).
        let zero = StatPersisted::default();
        let ro = StatPersisted {
            aversion: -1,
            ..StatPersisted::default()
        };
        let nodes = [
            ("", Some(&b""[..]), &zero),
            ("/zookeeper", Some(&b""[..]), &zero),
            ("/zookeeper/quota", Some(&b""[..]), &zero),
            ("/zookeeper/config", Some(&b""[..]), &ro),
        ];
        assert_eq!(tree_digest(nodes), 0x51c6d660);
    }

    #[test]
    fn create_a_hello_matches_the_logged_txn_digest() {
        // Spec 10.2/10.9: after `create /a "hello"` at zxid 2 the 3.8.0 server logged
        // TxnDigest 0x14ff8ef00.
        let time = 1795274139084;
        let root = StatPersisted {
            pzxid: 2,
            cversion: 1,
            ..StatPersisted::default()
        };
        let zk = StatPersisted::default();
        let a = StatPersisted {
            czxid: 2,
            mzxid: 2,
            pzxid: 2,
            ctime: time,
            mtime: time,
            ..StatPersisted::default()
        };
        let mut d = TreeDigest::new();
        d.add("", Some(b""), &root);
        d.add("/zookeeper", Some(b""), &zk);
        d.add("/a", Some(b"hello"), &a);
        assert_eq!(d.value(), 0x14ff8ef00);
        assert_eq!(d.as_i64(), 0x14ff8ef00);
        // "/" hashes as the root; removal undoes addition.
        assert_eq!(
            node_digest("/", Some(b""), &root),
            node_digest("", Some(b""), &root)
        );
        d.remove("/a", Some(b"hello"), &a);
        d.remove("/", Some(b""), &root);
        d.remove("/zookeeper", Some(b""), &zk);
        assert_eq!(d.value(), 0);
        // Null data and empty data hash alike; different data differs.
        assert_eq!(
            node_digest("/x", None, &a),
            node_digest("/x", Some(b""), &a)
        );
        assert_ne!(
            node_digest("/x", Some(b"1"), &a),
            node_digest("/x", None, &a)
        );
    }
}
