//! Which client connections the accept loops admit: at most `maxClientCnxns` per address,
//! at most `maxCnxns` in all (as ZooKeeper), and never so many that the server runs out of
//! file descriptors for its own files.
//!
//! A server whose descriptors are all taken by client connections cannot open the next
//! transaction log or snapshot, and a failed log write stops all writes (issue 16, item 9).
//! So the total is also capped at the descriptor limit less [`FD_RESERVE`] (or a quarter of
//! a small limit); at startup the soft descriptor limit is raised to the hard one.

use std::collections::HashMap;
use std::net::IpAddr;

/// Descriptors kept for the server's own use (log and snapshot files, directory syncs,
/// listeners, admin HTTP connections, the runtime): 128, or a quarter of a limit under 512.
pub const FD_RESERVE: u64 = 128;

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `maxClientCnxns` connections from this address already.
    PerAddress(usize),
    /// The server-wide limit (`maxCnxns`, or the descriptor budget).
    Total(usize),
}

/// Live connection counts, per address and in all.
#[derive(Debug)]
pub struct ConnTable {
    per_ip: HashMap<IpAddr, usize>,
    total: usize,
    per_ip_limit: usize,
    total_limit: usize,
}

impl ConnTable {
    /// A table admitting `per_ip_limit` connections per address and `total_limit` in all
    /// (0: unlimited, for both).
    pub fn new(per_ip_limit: usize, total_limit: usize) -> ConnTable {
        ConnTable {
            per_ip: HashMap::new(),
            total: 0,
            per_ip_limit,
            total_limit,
        }
    }

    /// Counts a new connection from `ip`, or says why it is refused.
    pub fn admit(&mut self, ip: IpAddr) -> Result<(), Refusal> {
        if self.total_limit > 0 && self.total >= self.total_limit {
            return Err(Refusal::Total(self.total_limit));
        }
        let n = self.per_ip.entry(ip).or_insert(0);
        if self.per_ip_limit > 0 && *n >= self.per_ip_limit {
            return Err(Refusal::PerAddress(self.per_ip_limit));
        }
        *n += 1;
        self.total += 1;
        Ok(())
    }

    /// Forgets a connection from `ip` that has ended.
    pub fn release(&mut self, ip: IpAddr) {
        if let Some(n) = self.per_ip.get_mut(&ip) {
            *n -= 1;
            self.total = self.total.saturating_sub(1);
            if *n == 0 {
                self.per_ip.remove(&ip);
            }
        }
    }

    /// Connections counted now.
    pub fn total(&self) -> usize {
        self.total
    }
}

/// The server-wide connection limit: `max_cnxns` (0 = none), capped by the descriptor
/// budget of a process whose descriptor limit is `fd_limit` (`None`: unknown or unlimited).
pub fn total_limit(max_cnxns: usize, fd_limit: Option<u64>) -> usize {
    let budget = fd_limit.map(|l| {
        let reserve = FD_RESERVE.min(l / 4);
        usize::try_from(l.saturating_sub(reserve)).unwrap_or(usize::MAX)
    });
    match (max_cnxns, budget) {
        (0, None) => 0,
        (0, Some(b)) => b.max(1),
        (m, None) => m,
        (m, Some(b)) => m.min(b.max(1)),
    }
}

/// Raises the soft descriptor limit to the hard one (logged) and returns the limit now in
/// force (`None` if it cannot be read or is unlimited).
pub fn raise_fd_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut lim = getrlimit(Resource::Nofile);
    if lim.current != lim.maximum {
        let from = lim.current;
        lim.current = lim.maximum;
        match setrlimit(Resource::Nofile, lim) {
            Ok(()) => tracing::info!(
                from = ?from,
                to = ?lim.maximum,
                "raised the open file limit to its hard limit"
            ),
            Err(e) => {
                tracing::warn!(error = %e, "cannot raise the open file limit");
                lim = getrlimit(Resource::Nofile);
            }
        }
    }
    lim.current
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_and_addresses_are_both_limited() {
        let (a, b): (IpAddr, IpAddr) =
            ("10.0.0.1".parse().expect("ip"), "::1".parse().expect("ip"));
        let mut t = ConnTable::new(2, 3);
        assert_eq!(t.admit(a), Ok(()));
        assert_eq!(t.admit(a), Ok(()));
        assert_eq!(t.admit(a), Err(Refusal::PerAddress(2)));
        assert_eq!(t.admit(b), Ok(()));
        assert_eq!(t.admit(b), Err(Refusal::Total(3)));
        t.release(a);
        assert_eq!(t.total(), 2);
        assert_eq!(t.admit(b), Ok(()));
        t.release("10.9.9.9".parse().expect("ip"));
        assert_eq!(t.total(), 3, "an unknown address changes nothing");
    }

    #[test]
    fn the_descriptor_budget_caps_the_total() {
        assert_eq!(total_limit(0, None), 0);
        assert_eq!(total_limit(0, Some(1024)), 896);
        assert_eq!(total_limit(0, Some(256)), 192);
        assert_eq!(total_limit(100, Some(1024)), 100);
        assert_eq!(total_limit(5000, Some(1024)), 896);
        assert_eq!(total_limit(7, None), 7);
    }
}
