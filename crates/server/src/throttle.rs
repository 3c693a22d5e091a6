//! Rate-limited warnings: a flood of bad connections must not flood the log (issue 16,
//! item 14). Each kind of warning is logged at most once per [`WARN_INTERVAL`]; the next
//! line that gets through says how many were left out meanwhile (they are logged at DEBUG).

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// At most one line of a kind per this interval.
pub const WARN_INTERVAL: Duration = Duration::from_secs(10);

/// The state of one kind of warning (a `static` per call site).
#[derive(Debug)]
pub struct Throttle {
    state: Mutex<Option<(Instant, u64)>>,
}

impl Throttle {
    /// A throttle that has let nothing through yet.
    pub const fn new() -> Throttle {
        Throttle {
            state: Mutex::new(None),
        }
    }

    /// Whether to log now: `Some(n)` with the number of warnings of this kind left out
    /// since the last one logged, `None` to leave this one out (it is counted).
    pub fn allow(&self, now: Instant) -> Option<u64> {
        let mut s = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match &mut *s {
            Some((last, skipped)) if now.duration_since(*last) < WARN_INTERVAL => {
                *skipped += 1;
                None
            }
            other => {
                let skipped = other.map_or(0, |(_, n)| n);
                *other = Some((now, 0));
                Some(skipped)
            }
        }
    }
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle::new()
    }
}

/// `tracing::warn!` through a `static` [`Throttle`] of this call site; lines that get through
/// carry `suppressed`, the number left out since the previous one. The ones left out are
/// logged at DEBUG level.
#[macro_export]
macro_rules! throttled_warn {
    ($($arg:tt)+) => {{
        static THROTTLE: $crate::throttle::Throttle = $crate::throttle::Throttle::new();
        if let Some(suppressed) = THROTTLE.allow(std::time::Instant::now()) {
            tracing::warn!(suppressed, $($arg)+);
        } else {
            tracing::debug!($($arg)+);
        }
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_interval_then_the_count() {
        let t = Throttle::new();
        let start = Instant::now();
        assert_eq!(t.allow(start), Some(0));
        for i in 1..=9_999u64 {
            assert_eq!(t.allow(start + Duration::from_millis(i % 9_000)), None);
        }
        assert_eq!(t.allow(start + WARN_INTERVAL), Some(9_999));
        assert_eq!(t.allow(start + WARN_INTERVAL), None);
    }
}
