//! What a run simulates: [`SimOptions`] (given by the caller) and the [`FaultPlan`] (drawn
//! from the seed, so that every seed explores its own mix of faults).

use menagerie_core::planted::PlantedBug;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

/// The caller's choices for one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimOptions {
    /// The seed: the same seed gives the same run, bit for bit.
    pub seed: u64,
    /// Voting members (3 or 5).
    pub voters: usize,
    /// Observers.
    pub observers: usize,
    /// A mistake planted in every member's core.
    pub bug: PlantedBug,
    /// Simulated milliseconds of work under faults; a calm phase (faults healed) follows.
    pub chaos_ms: u64,
    /// Simulated milliseconds the calm phase may take to converge.
    pub calm_ms: u64,
    /// Simulated clients.
    pub clients: usize,
    /// Whether faults are injected (without, the run checks the protocol on a quiet
    /// network and disk).
    pub faults: bool,
    /// Whether violations of known, still open issues fail the run too (otherwise they are
    /// counted and shown, and the run goes on).
    pub strict: bool,
    /// Leaders start their zxid counter near its end ([`COUNTER_HEADROOM`] short of it), so
    /// that rollover epoch changes happen (ADR 0014); in one seed of four, member 1 cannot
    /// follow one (as a Java learner), and leaders fall back to an election.
    pub counter_near_end: bool,
    /// The optional features the run turns on; `None`: those of the seed
    /// ([`Features::for_seed`]).
    pub features: Option<Features>,
    /// Events a run may handle before it stops with an `EventBudget` violation: a seed
    /// caught in a message storm or a retry loop then fails fast instead of stalling a
    /// batch (runs take about 100,000 events).
    pub max_events: u64,
}

/// The default [`SimOptions::max_events`]: some 20 times what the busiest seeds take.
pub const MAX_EVENTS: u64 = 2_000_000;

/// Optional features of the core a run turns on. [`Features::for_seed`] spreads them over
/// seeds (independently, so that some seeds combine them) such that any run of a few dozen
/// consecutive seeds exercises each one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Features {
    /// `menagerie.linearizableReads` on every member; the checker then also proves that
    /// reads are linearizable.
    pub linearizable: bool,
    /// Hierarchical quorums (groups and weights, one voter of weight 0); applied only with 5
    /// voters or more.
    pub hierarchy: bool,
    /// `readonlymode.enabled` on every member; some clients ask for read-only sessions.
    pub read_only: bool,
    /// `localSessionsEnabled` on every member.
    pub local_sessions: bool,
    /// `localSessionsUpgradingEnabled` (with `local_sessions`).
    pub upgrading: bool,
    /// `reconfigEnabled`: clients now and then remove one of the original voters, add it
    /// back or make it an observer (not with hierarchical quorums, where incremental
    /// reconfigurations are refused); the checker's quorum rules follow the configuration
    /// committed at each zxid.
    pub reconfig: bool,
}

impl Features {
    /// The features of `seed`: linearizable reads on a third of the seeds, hierarchical
    /// quorums on half (5 voters or more), read-only mode on two fifths, local sessions on
    /// half (with upgrading on three quarters of those).
    pub fn for_seed(seed: u64) -> Features {
        Features {
            linearizable: seed % 3 == 1,
            hierarchy: seed.is_multiple_of(2),
            read_only: matches!(seed % 5, 1 | 3),
            local_sessions: matches!(seed % 4, 2 | 3),
            upgrading: seed % 8 != 6,
            reconfig: seed % 7 == 3,
        }
    }

    /// A short list of the features on, for reports (`-` when none is).
    pub fn describe(&self, voters: usize) -> String {
        let mut on = Vec::new();
        if self.linearizable {
            on.push("linearizable");
        }
        if self.hierarchy && voters >= 5 {
            on.push("hierarchy");
        }
        if self.read_only {
            on.push("read-only");
        }
        if self.local_sessions {
            on.push(if self.upgrading {
                "local-sessions"
            } else {
                "local-sessions(no upgrade)"
            });
        }
        if self.reconfig && !(self.hierarchy && voters >= 5) {
            on.push("reconfig");
        }
        if on.is_empty() {
            "-".into()
        } else {
            on.join(",")
        }
    }
}

/// With `counter_near_end`: how far short of its end a leader's counter starts, and the
/// margin at which the epoch change starts.
pub const COUNTER_HEADROOM: (u32, u32) = (150, 60);

impl SimOptions {
    /// A run of `seed` with 3 voters, no observer and the real protocol.
    pub fn new(seed: u64) -> SimOptions {
        SimOptions {
            seed,
            voters: 3,
            observers: 0,
            bug: PlantedBug::None,
            chaos_ms: 30_000,
            calm_ms: 20_000,
            clients: 5,
            faults: true,
            strict: false,
            counter_near_end: false,
            features: None,
            max_events: MAX_EVENTS,
        }
    }

    /// The command that replays this run.
    pub fn replay_command(&self) -> String {
        let mut cmd = format!(
            "cargo run --release -p menagerie -- sim --seeds 1 --first {} --nodes {}",
            self.seed, self.voters
        );
        if self.observers > 0 {
            cmd.push_str(&format!(" --observers {}", self.observers));
        }
        if !self.faults {
            cmd.push_str(" --no-faults");
        }
        if self.strict {
            cmd.push_str(" --strict");
        }
        if self.counter_near_end {
            cmd.push_str(" --counter-near-end");
        }
        if self.bug != PlantedBug::None {
            cmd.push_str(&format!(" --bug {}", self.bug.name()));
        }
        if let Some(f) = self.features {
            cmd.push_str(&format!(" --features {}", f.arg()));
        }
        if self.max_events != MAX_EVENTS {
            cmd.push_str(&format!(" --max-events {}", self.max_events));
        }
        cmd
    }

    /// The features of this run.
    pub fn features(&self) -> Features {
        self.features
            .unwrap_or_else(|| Features::for_seed(self.seed))
    }
}

impl Features {
    /// Features from a `--features` argument: `none`, `seed`, or a comma-separated list of
    /// `linearizable`, `hierarchy`, `read-only`, `local-sessions`, `upgrading`, `reconfig`.
    pub fn parse(arg: &str) -> Result<Option<Features>, String> {
        let mut f = Features::default();
        for name in arg.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match name {
                "seed" => return Ok(None),
                "none" => {}
                "linearizable" => f.linearizable = true,
                "hierarchy" => f.hierarchy = true,
                "read-only" => f.read_only = true,
                "local-sessions" => f.local_sessions = true,
                "reconfig" => f.reconfig = true,
                "upgrading" => {
                    f.local_sessions = true;
                    f.upgrading = true;
                }
                other => return Err(format!("unknown feature {other:?}")),
            }
        }
        Ok(Some(f))
    }

    /// The `--features` argument that sets these features.
    pub fn arg(&self) -> String {
        let f = self;
        let names = [
            (f.linearizable, "linearizable"),
            (f.hierarchy, "hierarchy"),
            (f.read_only, "read-only"),
            (f.local_sessions, "local-sessions"),
            (f.local_sessions && f.upgrading, "upgrading"),
            (f.reconfig, "reconfig"),
        ];
        let on: Vec<&str> = names.iter().filter(|(b, _)| *b).map(|(_, n)| *n).collect();
        if on.is_empty() {
            "none".into()
        } else {
            on.join(",")
        }
    }
}

/// How often each fault happens in one run. Every rate is zero in some seeds and drawn from
/// a range in the others, so that seeds differ in kind, not just in timing.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultPlan {
    /// Process crashes per simulated second (over the whole ensemble).
    pub crash_per_s: f64,
    /// Of crashes: the share that are power losses (unsynced writes lost) rather than a
    /// killed process (the kernel keeps what was written).
    pub power_loss: f64,
    /// Of power losses: the share that tear the last unsynced write.
    pub torn_write: f64,
    /// Whole-ensemble power losses per simulated second.
    pub blackout_per_s: f64,
    /// Pauses (SIGSTOP then SIGCONT) per simulated second.
    pub pause_per_s: f64,
    /// Partitions per simulated second.
    pub partition_per_s: f64,
    /// Quorum connections reset per simulated second.
    pub reset_per_s: f64,
    /// Clock jumps per simulated second.
    pub clock_jump_per_s: f64,
    /// Client connections reset per simulated second.
    pub client_reset_per_s: f64,
    /// Full disks per simulated second.
    pub disk_full_per_s: f64,
    /// Chance that a crash also flips a bit in the member's newest snapshot.
    pub snapshot_rot: f64,
    /// Chance an election notification is lost.
    pub vote_drop: f64,
    /// Chance an election notification arrives twice.
    pub vote_dup: f64,
    /// One-way network delay: base and uniform jitter, ms.
    pub delay_ms: (u64, u64),
    /// Chance of a delay spike per message, and its size (ms).
    pub spike: (f64, u64),
    /// fsync latency: base and jitter (ms); chance and size of a slow one.
    pub fsync_ms: (u64, u64),
    /// Slow fsyncs: chance and size (ms).
    pub slow_fsync: (f64, u64),
    /// `snapCount` of every member.
    pub snap_count: u64,
    /// Log preallocation block (bytes; 0 = none).
    pub pre_alloc: u64,
}

impl FaultPlan {
    /// Draws a plan. With `calm`, no fault at all (used by tests of the harness itself).
    pub fn draw(rng: &mut ChaCha8Rng) -> FaultPlan {
        let mut rate = |max: f64| -> f64 {
            if rng.random_bool(0.35) {
                0.0
            } else {
                rng.random_range(0.0..max)
            }
        };
        let crash_per_s = rate(0.4);
        let blackout_per_s = rate(0.03);
        let pause_per_s = rate(0.3);
        let partition_per_s = rate(0.3);
        let reset_per_s = rate(0.3);
        let clock_jump_per_s = rate(0.2);
        let client_reset_per_s = rate(0.5);
        let disk_full_per_s = rate(0.05);
        let vote_drop = rate(0.3);
        let vote_dup = rate(0.2);
        FaultPlan {
            crash_per_s,
            power_loss: rng.random_range(0.0..1.0),
            torn_write: rng.random_range(0.0..1.0),
            blackout_per_s,
            pause_per_s,
            partition_per_s,
            reset_per_s,
            clock_jump_per_s,
            client_reset_per_s,
            disk_full_per_s,
            snapshot_rot: if rng.random_bool(0.3) {
                rng.random_range(0.0..0.5)
            } else {
                0.0
            },
            vote_drop,
            vote_dup,
            delay_ms: (rng.random_range(0..5), rng.random_range(0..20)),
            spike: (rng.random_range(0.0..0.02), rng.random_range(50..1500)),
            fsync_ms: (rng.random_range(0..5), rng.random_range(0..10)),
            slow_fsync: (rng.random_range(0.0..0.05), rng.random_range(50..2000)),
            snap_count: rng.random_range(20..400),
            pre_alloc: if rng.random_bool(0.5) {
                64 * 1024 * 1024
            } else {
                rng.random_range(1..64) * 1024
            },
        }
    }

    /// No faults, a quick network and disk.
    pub fn calm() -> FaultPlan {
        FaultPlan {
            crash_per_s: 0.0,
            power_loss: 0.0,
            torn_write: 0.0,
            blackout_per_s: 0.0,
            pause_per_s: 0.0,
            partition_per_s: 0.0,
            reset_per_s: 0.0,
            clock_jump_per_s: 0.0,
            client_reset_per_s: 0.0,
            disk_full_per_s: 0.0,
            snapshot_rot: 0.0,
            vote_drop: 0.0,
            vote_dup: 0.0,
            delay_ms: (1, 2),
            spike: (0.0, 0),
            fsync_ms: (1, 2),
            slow_fsync: (0.0, 0),
            snap_count: 100,
            pre_alloc: 64 * 1024,
        }
    }
}
