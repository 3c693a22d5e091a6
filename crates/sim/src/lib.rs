//! Deterministic simulation of Menagerie ensembles, with a consistency checker.
//!
//! A run ([`Sim`]) puts N complete members — the real core (`menagerie-core`) and the real
//! storage code (`menagerie-storage`) on an in-memory disk each — and simulated clients in one
//! thread, driven by one seed: the same seed gives the same run, bit for bit. Faults come from
//! a plan the seed draws ([`FaultPlan`]): message delays and reordering across connections,
//! lost and duplicated election messages, connection resets, partitions (symmetric, one-way,
//! isolating the leader, bridges), process crashes and power losses (unsynced writes lost,
//! torn last writes), whole-ensemble blackouts, pauses, clock jumps, full disks, slow fsyncs
//! and bit rot in snapshots. The [`checker`] checks every history; a violation is reported
//! with the seed, the history around it and the command that replays it ([`RunReport`]).
//!
//! Modules: [`world`] (clock and event queue), [`net`] and `transport` (links, votes,
//! partitions), [`disk`] (a member's data directory), `member` (the shell's job: inputs in,
//! outputs carried out), `storage` (the shell's retry after a failed disk), `faults`, [`workload`] (clients), [`history`], [`checker`],
//! [`report`].
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod batch;
pub mod checker;
pub mod config;
pub mod disk;
mod faults;
pub mod history;
mod member;
pub mod net;
pub mod report;
mod sim;
mod storage;
mod transport;
pub mod workload;
pub mod world;

pub use config::{FaultPlan, Features, MAX_EVENTS, SimOptions};
pub use menagerie_core::planted::PlantedBug;
pub use report::{RunReport, Violation};
pub use sim::Sim;

/// Runs one seed.
pub fn run_seed(opts: SimOptions) -> RunReport {
    Sim::new(opts).run()
}
