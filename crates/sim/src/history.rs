//! The history of a run: what clients asked and were told, what members and faults did, in
//! simulated time. The checker works on the structured calls it gets; this history is what
//! a violation report prints around the moment it happened.

use std::fmt;

/// One line of the history.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Simulated time, ms.
    pub at: u64,
    /// Who it concerns (for filtering): `m3`, `c2`, `s0x...`.
    pub who: String,
    /// What happened.
    pub text: String,
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:>6}.{:03}s {:<6} {}",
            self.at / 1000,
            self.at % 1000,
            self.who,
            self.text
        )
    }
}

/// Every entry of a run.
#[derive(Debug, Default)]
pub struct History {
    entries: Vec<Entry>,
}

impl History {
    /// Records an entry.
    pub fn record(&mut self, at: u64, who: impl Into<String>, text: impl Into<String>) {
        self.entries.push(Entry {
            at,
            who: who.into(),
            text: text.into(),
        });
    }

    /// A hash of every entry (FNV-1a): equal for two runs of the same seed.
    pub fn hash(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for e in &self.entries {
            let line = e.to_string();
            for b in line.bytes().chain(std::iter::once(b'\n')) {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        }
        h
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries around a violation: the last `tail` before `at`, and up to `related`
    /// earlier ones whose text or subject mentions one of `focus`.
    pub fn around(&self, at: u64, focus: &[String], tail: usize, related: usize) -> Vec<&Entry> {
        let end = self.entries.partition_point(|e| e.at <= at);
        let start = end.saturating_sub(tail);
        let mentions = |e: &Entry| {
            focus
                .iter()
                .any(|f| !f.is_empty() && (e.who == *f || e.text.contains(f.as_str())))
        };
        let mut earlier: Vec<&Entry> = self.entries[..start]
            .iter()
            .rev()
            .filter(|e| mentions(e))
            .take(related)
            .collect();
        earlier.reverse();
        earlier.extend(&self.entries[start..end]);
        earlier
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn around_keeps_the_tail_and_related_lines() {
        let mut h = History::default();
        h.record(1, "c1", "create /k/1");
        h.record(2, "c2", "get /k/2");
        h.record(3, "m1", "crash");
        h.record(4, "c2", "get /k/3");
        h.record(9, "c2", "later");
        let lines: Vec<String> = h
            .around(4, &["/k/1".to_string()], 2, 5)
            .iter()
            .map(|e| e.text.clone())
            .collect();
        assert_eq!(lines, vec!["create /k/1", "crash", "get /k/3"]);
    }
}
