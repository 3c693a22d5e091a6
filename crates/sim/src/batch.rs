//! Running many seeds: in order of seed, on a few threads, printing each violation as it is
//! found.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{RunReport, SimOptions};

/// The outcome of a batch of seeds.
#[derive(Debug, Clone, Default)]
pub struct BatchSummary {
    /// Seeds run.
    pub seeds: u64,
    /// Seeds that found a violation, in the order they finished.
    pub failed: Vec<u64>,
}

/// Runs `count` seeds from `template.seed` on, `jobs` at a time; `each` sees every report
/// (called from one thread at a time).
pub fn run_seeds(
    template: &SimOptions,
    count: u64,
    jobs: usize,
    each: &(dyn Fn(&RunReport) + Sync),
) -> BatchSummary {
    let next = AtomicU64::new(0);
    let failed = Mutex::new(Vec::new());
    let out = Mutex::new(());
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        return;
                    }
                    let opts = SimOptions {
                        seed: template.seed + i,
                        ..template.clone()
                    };
                    let report = quietly(|| crate::run_seed(opts));
                    let _guard = out.lock();
                    each(&report);
                    if !report.passed() {
                        failed
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(report.opts.seed);
                    }
                }
            });
        }
    });
    BatchSummary {
        seeds: count,
        failed: failed.into_inner().unwrap_or_else(|e| e.into_inner()),
    }
}

/// Runs `f` without the members' logs (thousands of role changes per seed), unless
/// `RUST_LOG` asks for them.
fn quietly<T>(f: impl FnOnce() -> T) -> T {
    if std::env::var_os("RUST_LOG").is_some() {
        return f();
    }
    let none = tracing::subscriber::NoSubscriber::default();
    tracing::subscriber::with_default(none, f)
}
