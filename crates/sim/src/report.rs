//! The outcome of a run, and how a violation is printed: the seed and fault plan, the
//! violated property, the history around it, and the command that replays the run.

use std::fmt;

use crate::config::{FaultPlan, SimOptions};
use crate::sim::Sim;

/// A property that did not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The property (a `Zab.tla` name where one fits).
    pub invariant: &'static str,
    /// What happened.
    pub detail: String,
    /// Simulated time, ms.
    pub at: u64,
    /// Words that pick the related history lines (member, client, zxid, path).
    pub focus: Vec<String>,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The options it ran with.
    pub opts: SimOptions,
    /// Its faults.
    pub plan: FaultPlan,
    /// The first violation, if any.
    pub violation: Option<Violation>,
    /// The history lines around the violation.
    pub context: Vec<String>,
    /// Simulated time reached, ms.
    pub sim_ms: u64,
    /// Events handled.
    pub events: u64,
    /// History entries (operations, replies, faults, role changes).
    pub history_len: usize,
    /// The last committed zxid.
    pub committed: menagerie_proto::Zxid,
    /// What the checker checked.
    pub coverage: crate::checker::Coverage,
    /// A hash of the whole history: two runs of one seed must have the same.
    pub trace_hash: u64,
    /// Violations of known open issues (not failures unless strict).
    pub known: Vec<Violation>,
    /// Rollover epoch changes (without an election), and the longest that proposals
    /// waited for one (simulated ms).
    pub epoch_changes: (u64, u64),
}

impl RunReport {
    /// The report of a finished run.
    pub fn new(sim: &Sim) -> RunReport {
        let everything = std::env::var_os("MENAGERIE_SIM_HISTORY").is_some();
        let context = match &sim.violation {
            Some(v) if everything => sim
                .history
                .around(v.at, &[], usize::MAX, 0)
                .iter()
                .map(|e| e.to_string())
                .collect(),
            Some(v) => sim
                .history
                .around(v.at, &v.focus, 40, 25)
                .iter()
                .map(|e| e.to_string())
                .collect(),
            None if everything => sim
                .history
                .around(u64::MAX, &[], usize::MAX, 0)
                .iter()
                .map(|e| e.to_string())
                .collect(),
            None => Vec::new(),
        };
        RunReport {
            opts: sim.opts.clone(),
            plan: sim.plan.clone(),
            violation: sim.violation.clone(),
            context,
            sim_ms: sim.now,
            events: sim.queue.handled,
            history_len: sim.history.len(),
            committed: sim.checker.committed_tip(),
            coverage: sim.checker.coverage,
            trace_hash: sim.history.hash(),
            known: sim.checker.known.clone(),
            epoch_changes: sim.epoch_changes,
        }
    }

    /// ", N epoch changes (waits up to M ms)" when the run had any.
    fn epoch_change_note(&self) -> String {
        match self.epoch_changes {
            (0, _) => String::new(),
            (n, ms) => format!(", {n} epoch changes (writes waited up to {ms} ms)"),
        }
    }

    /// Whether the run found nothing wrong.
    pub fn passed(&self) -> bool {
        self.violation.is_none()
    }
}

impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for k in &self.known {
            writeln!(
                f,
                "seed {}: known issue {} at {}.{:03}s: {}",
                self.opts.seed,
                k.invariant,
                k.at / 1000,
                k.at % 1000,
                k.detail
            )?;
        }
        let Some(v) = &self.violation else {
            let c = &self.coverage;
            return write!(
                f,
                "seed {}: ok [{}] ({} ms simulated, {} events; checked {} txns, {} writes, {} reads ({} linearizable, {} read-only), {} syncs, {} watch events, {} expiries, {} refused read-only writes, {} local session ends, {} local-session ephemerals, {} reconfigurations{}; trace {:016x})",
                self.opts.seed,
                self.opts.features().describe(self.opts.voters),
                self.sim_ms,
                self.events,
                c.committed,
                c.writes,
                c.reads,
                c.lin_reads,
                c.ro_reads,
                c.syncs,
                c.events,
                c.expiries,
                c.ro_refused,
                c.local_ends,
                c.local_ephemerals,
                c.reconfigs,
                self.epoch_change_note(),
                self.trace_hash
            )
            .and_then(|()| {
                self.context
                    .iter()
                    .try_for_each(|line| write!(f, "\n    {line}"))
            });
        };
        writeln!(
            f,
            "seed {}: VIOLATION of {} at {}.{:03}s",
            self.opts.seed,
            v.invariant,
            v.at / 1000,
            v.at % 1000
        )?;
        writeln!(f, "  {}", v.detail)?;
        writeln!(
            f,
            "  features: {}",
            self.opts.features().describe(self.opts.voters)
        )?;
        writeln!(f, "  faults: {:?}", self.plan)?;
        writeln!(f, "  history around it:")?;
        for line in &self.context {
            writeln!(f, "    {line}")?;
        }
        write!(f, "  replay: {}", self.opts.replay_command())
    }
}
