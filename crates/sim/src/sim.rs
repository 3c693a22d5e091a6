//! [`Sim`]: one run. It owns the world (clock, queue, the one random number generator), the
//! members, the network, the clients, the history and the checker, and takes events off the
//! queue until the run ends or the checker finds a violation.
//!
//! A run has two phases: **chaos** (`chaos_ms`), with clients working and faults drawn from
//! the [`FaultPlan`]; then **calm**: every fault is healed (partitions, pauses, full disks),
//! crashed members restart, and the ensemble must converge within `calm_ms` — every member
//! serving, at the same zxid with the same tree digest — after which the checker's last
//! checks run.

use std::collections::BTreeMap;

use menagerie_core::ensemble::{EnsembleConfig, Hierarchy, MemberRole};
use menagerie_proto::ServerId;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::checker::Checker;
use crate::config::{FaultPlan, SimOptions};
use crate::history::History;
use crate::member::Member;
use crate::net::Net;
use crate::report::{RunReport, Violation};
use crate::workload::Client;
use crate::world::{Ev, Queue};

/// Simulated wall clock at time 0 (ms since the Unix epoch).
pub const WALL_BASE_MS: i64 = 1_700_000_000_000;
/// `tickTime` of every member, ms.
pub const TICK_MS: u64 = 100;

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Faults are injected.
    Chaos,
    /// Faults are healed; the ensemble must converge.
    Calm,
    /// Over.
    Done,
}

/// One simulated run.
pub struct Sim {
    /// The caller's options.
    pub opts: SimOptions,
    /// The faults of this run.
    pub plan: FaultPlan,
    /// Simulated time, ms.
    pub now: u64,
    /// The run's only source of randomness.
    pub rng: ChaCha8Rng,
    /// Pending events.
    pub queue: Queue,
    /// The ensemble every member is configured with.
    pub ensemble: EnsembleConfig,
    /// Members by server id.
    pub members: BTreeMap<ServerId, Member>,
    /// Links and partitions.
    pub net: Net,
    /// Simulated clients.
    pub clients: Vec<Client>,
    /// What happened.
    pub history: History,
    /// The consistency checker.
    pub checker: Checker,
    /// The phase.
    pub phase: Phase,
    /// The first violation found.
    pub violation: Option<Violation>,
    /// Partitions in force.
    pub partitions: crate::faults::Partitions,
    /// Convergence checks made at the end so far.
    end_attempts: u32,
    /// Rollover epoch changes led (moves to a new epoch without an election), and the
    /// longest that proposals waited for one (ms).
    pub epoch_changes: (u64, u64),
}

impl Sim {
    /// A run of `opts`; its fault plan is drawn from the seed.
    pub fn new(opts: SimOptions) -> Sim {
        let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
        let mut plan = FaultPlan::draw(&mut rng);
        if !opts.faults {
            plan = FaultPlan::calm();
        }
        Sim::with_plan(opts, plan, rng)
    }

    /// A run of `opts` with a given fault plan.
    pub fn with_plan(opts: SimOptions, plan: FaultPlan, rng: ChaCha8Rng) -> Sim {
        let ensemble = ensemble_config(&opts);
        let mut members = BTreeMap::new();
        for &sid in ensemble.members.keys() {
            members.insert(sid, Member::new(sid, plan.pre_alloc));
        }
        let features = opts.features();
        let clients = (0..opts.clients)
            .map(|id| {
                let mut c = Client::new(id);
                // Odd clients accept read-only members; with local sessions, even ones
                // never create ephemerals (their sessions stay local).
                c.asks_read_only = features.read_only && id % 2 == 1;
                c.makes_ephemerals = !features.local_sessions || id % 2 == 1;
                c
            })
            .collect();
        let checker = Checker::new(&ensemble, &opts);
        Sim {
            plan,
            now: 0,
            rng,
            queue: Queue::default(),
            ensemble,
            members,
            net: Net::default(),
            clients,
            history: History::default(),
            checker,
            phase: Phase::Chaos,
            violation: None,
            partitions: Default::default(),
            end_attempts: 0,
            epoch_changes: (0, 0),
            opts,
        }
    }

    /// Runs to the end and reports.
    pub fn run(mut self) -> RunReport {
        let sids: Vec<ServerId> = self.members.keys().copied().collect();
        for sid in sids {
            self.start_member(sid);
        }
        for c in 0..self.clients.len() {
            let at = 500 + 100 * c as u64;
            self.wake_client(c, at);
        }
        self.queue.push(self.opts.chaos_ms, Ev::Calm);
        self.queue
            .push(self.opts.chaos_ms + self.opts.calm_ms, Ev::End);
        self.schedule_fault_tick();
        while let Some((at, ev)) = self.queue.pop() {
            self.now = at;
            self.dispatch(ev);
            if let Some(v) = self.checker.take_violation() {
                self.violation.get_or_insert(v);
            }
            if self.stopped() {
                break;
            }
            if self.queue.handled >= self.opts.max_events {
                let detail = format!(
                    "{} events by {} ms simulated: a storm or a loop that never settles \
                     (runs take about 100,000)",
                    self.queue.handled, self.now
                );
                self.violation("EventBudget", detail, vec![]);
                break;
            }
        }
        self.report()
    }

    /// Whether the run is over (ended, or a violation was found).
    pub fn stopped(&self) -> bool {
        self.violation.is_some() || self.phase == Phase::Done
    }

    fn dispatch(&mut self, ev: Ev) {
        match ev {
            Ev::Vote {
                from,
                to,
                to_inc,
                notification,
            } => self.vote_arrives(from, to, to_inc, notification),
            Ev::LinkHead { link, dir } => self.link_head(link, dir),
            Ev::Dial {
                learner,
                dial,
                attempt,
            } => self.dial_attempt(learner, dial, attempt),
            Ev::Timer { member, generation } => self.timer(member, generation),
            Ev::FsyncDone { member, inc } => self.fsync_done(member, inc),
            Ev::StorageRetry { member, inc } => self.storage_retry(member, inc),
            Ev::SnapshotDone { member, inc, end } => self.snapshot_done(member, inc, end),
            Ev::Input { member, inc, input } => {
                if self.members.get(&member).is_some_and(|m| m.inc == inc) {
                    self.deliver(member, input);
                }
            }
            Ev::PeerLost {
                member,
                inc,
                peer,
                link,
            } => {
                if self.members.get(&member).is_some_and(|m| m.inc == inc) {
                    self.peer_down(member, peer, link);
                }
            }
            Ev::ClientWake { client, generation } => self.client_wake(client, generation),
            Ev::Fault(f) => self.fault(f),
            Ev::Calm => self.calm(),
            Ev::End => self.end(),
        }
    }

    /// Records a violation found by the harness itself (not the checker).
    pub(crate) fn violation(
        &mut self,
        invariant: &'static str,
        detail: String,
        focus: Vec<String>,
    ) {
        if self.violation.is_none() {
            self.violation = Some(Violation {
                invariant,
                detail,
                at: self.now,
                focus,
            });
        }
    }

    /// The run ends once the ensemble has converged (checked every 500 ms for a while);
    /// then the checker's last checks run.
    fn end(&mut self) {
        let states = self.member_states();
        let converged = self.checker.converged(&states);
        if !converged && self.end_attempts < 20 {
            self.end_attempts += 1;
            self.queue.push(self.now + 500, Ev::End);
            return;
        }
        self.checker.finish(self.now, &states);
        self.phase = Phase::Done;
    }

    /// Whether clients stop sending new requests (the end of the calm phase nears).
    pub fn quiet(&self) -> bool {
        self.now >= self.opts.chaos_ms + self.opts.calm_ms / 2
    }

    /// Each member's state: (serving, last applied zxid, tree digest), or `None` if down.
    pub fn member_states(&self) -> BTreeMap<ServerId, Option<crate::checker::MemberState>> {
        self.members
            .iter()
            .map(|(sid, m)| (*sid, m.state()))
            .collect()
    }

    fn report(self) -> RunReport {
        RunReport::new(&self)
    }
}

/// The ensemble of a run: `voters` participants (sids 1..) then the observers.
fn ensemble_config(opts: &SimOptions) -> EnsembleConfig {
    let mut members = BTreeMap::new();
    for i in 1..=opts.voters {
        members.insert(ServerId(i as i64), MemberRole::Participant);
    }
    for i in 0..opts.observers {
        let sid = ServerId((opts.voters + 1 + i) as i64);
        members.insert(sid, MemberRole::Observer);
    }
    let text = members
        .iter()
        .map(|(s, r)| {
            let role = match r {
                MemberRole::Observer => "observer",
                MemberRole::Participant => "participant",
            };
            format!("server.{s}=127.0.0.{s}:2888:3888:{role}\n", s = s.0)
        })
        .collect::<String>()
        + "version=0";
    let mut config = EnsembleConfig::new(members, text);
    config.min_notification_interval_ms = 50;
    config.max_notification_interval_ms = 1600;
    config.planted_bug = opts.bug;
    // Odd seeds keep committed txns by size as well (DIFF from further back, and the budget's
    // eviction); even ones by count only, as ZooKeeper (more SNAP syncs).
    config.commit_log_bytes = if opts.seed % 2 == 1 { 256 << 10 } else { 0 };
    if opts.counter_near_end {
        let (headroom, margin) = crate::config::COUNTER_HEADROOM;
        config.rollover.first_counter = menagerie_proto::Zxid::MAX_COUNTER - headroom;
        config.rollover.margin = margin;
    }
    let features = opts.features();
    config.linearizable_reads = features.linearizable;
    // Incremental reconfigurations need majority quorums (ZooKeeper refuses them on a
    // hierarchical configuration).
    config.reconfig_enabled = features.reconfig && !(features.hierarchy && opts.voters >= 5);
    if features.hierarchy && opts.voters >= 5 {
        config.hierarchy = Some(hierarchy(opts.voters));
    }
    config
}

/// Hierarchical quorums for `voters` (5 or more): groups of two voters in sid order (the
/// last one alone if the count is odd), every weight 1 except voter 2's, which is 0. With 5
/// voters the groups are {1, 2}, {3, 4}, {5}: a quorum is two groups, each with more than
/// half of its weight, so {1, 5} is one while {2, 3, 5} is not — unlike majorities.
pub fn hierarchy(voters: usize) -> Hierarchy {
    let sids = (1..=voters as i64).map(ServerId);
    Hierarchy {
        group_of: sids
            .clone()
            .map(|s| (s, (s.0 as u64).div_ceil(2)))
            .collect(),
        weights: sids.map(|s| (s, u64::from(s.0 != 2))).collect(),
    }
}
