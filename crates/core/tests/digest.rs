//! The tree digest each txn carries, predicted at prep under pipelined random writes.

mod common;

use common::*;

/// A small deterministic generator (xorshift64*), so the random digest test needs no crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Random writes from three sessions, with up to dozens of txns in flight before they are
/// made durable: the digest each txn carries (predicted by prep against the pending
/// changes) must equal the tree's digest after it is applied (the harness checks every
/// txn), the tree's incrementally kept digest must equal one computed from scratch, and
/// replaying the log into a fresh server must give the same digest without a mismatch.
#[test]
fn txn_digests_predict_the_tree_under_pipelined_random_writes() {
    for seed in 1..=8u64 {
        let mut h = Harness::new();
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let conns = [A, B, C];
        for c in conns {
            h.connect(c);
        }
        h.auto_persist = false;
        let paths = ["/a", "/a/b", "/a/c", "/d", "/d/e", "/a/b/f"];
        let mut xid = 1;
        for step in 0..600 {
            let conn = conns[rng.below(3) as usize];
            let p = paths[rng.below(paths.len() as u64) as usize];
            let data = vec![b'x'; rng.below(40) as usize];
            let version = if rng.below(4) == 0 {
                rng.below(3) as i32
            } else {
                -1
            };
            let req = match rng.below(10) {
                0 | 1 => create(p, &data, rng.below(4) as i32),
                2 => container(p),
                3 => delete(p, version),
                4 | 5 => set_data(p, &data, version),
                6 => set_acl(p, world(31), version),
                7 => create_ttl(p, 5, 100 + rng.below(1000) as i64),
                _ => Request::Multi(vec![
                    create(paths[rng.below(6) as usize], &data, 0),
                    set_data(paths[rng.below(6) as usize], b"m", -1),
                    delete(paths[rng.below(6) as usize], -1),
                ]),
            };
            xid += 1;
            h.send(conn, xid, req);
            // Make a random prefix of what is in flight durable now and then.
            if rng.below(6) == 0 && !h.unacked.is_empty() {
                let i = rng.below(h.unacked.len() as u64) as usize;
                let up_to = h.unacked[i];
                h.persist_up_to(up_to);
            }
            // Now and then a session closes (deleting its ephemerals) and comes back.
            if step % 97 == 96 {
                xid += 1;
                h.send(conn, xid, Request::CloseSession);
                if !h.unacked.is_empty() {
                    h.persist_all();
                }
                h.auto_persist = true;
                h.connect(conn);
                h.auto_persist = false;
            }
        }
        if !h.unacked.is_empty() {
            h.persist_all();
        }
        let tree = h.node.tree();
        assert_eq!(tree.digest(), tree.recompute_digest(), "seed {seed}");
        let errors = h.log.iter().filter(|t| t.digest.is_none()).count();
        assert!(
            errors > 0 && errors < h.log.len() / 2,
            "seed {seed}: the mix should have both failed and successful writes"
        );
        // Replay gives the same tree digest and checks every logged digest.
        let mut replayed = Node::new(config(true), START);
        for t in &h.log {
            replayed.replay(t);
        }
        assert_eq!(replayed.tree().digest(), tree.digest(), "seed {seed}");
        assert_eq!(replayed.digest_log().mismatches(), 0, "seed {seed}");
    }
}
