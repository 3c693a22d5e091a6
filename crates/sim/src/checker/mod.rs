//! The consistency checker. It is told, as the run goes, what members output and serve and
//! what clients send and receive, and checks (names after `Zab.tla` where one fits):
//!
//! * **Zab** ([`zab`]): one established leader per epoch (`Leadership`); one txn per zxid
//!   (`Integrity`); epochs that never go back and `currentEpoch <= acceptedEpoch`; epoch files
//!   that survive crashes; every serving member's state on one committed line
//!   (`PrefixConsistency`, `Agreement`, `TotalOrder`, `PrimaryIntegrity`, see [`chain`]);
//!   equal tree digests at equal zxids; no member whose tree differs from the digest its
//!   leader predicted; a learner that starts serving has everything acknowledged before its
//!   sync began.
//! * **Clients** ([`clients`]): every acknowledged write is committed at the zxid its reply
//!   carries and stays committed (durability); per-connection FIFO replies; writes in zxid
//!   order consistent with real time (if A was acknowledged before B was sent, zxid(A) <
//!   zxid(B)); a session's zxids never go back; a sync answers with everything acknowledged
//!   before it was sent; every read equals the model tree ([`model`]) at the zxid it carries;
//!   writes' results and errors agree with the model; watch events fire once, for the first
//!   change after the watch was set, before any reply that shows that change; ephemerals
//!   vanish exactly with their session; a client is told its session expired only after the
//!   leader decided to close it.
//! * **Liveness** at the end: after the faults heal, every member serves the same state.

pub mod chain;
mod clients;
pub mod model;
mod replies;
mod zab;

use std::collections::{BTreeMap, BTreeSet};

use menagerie_proto::response::Response;
use menagerie_proto::{ServerId, Zxid};

use crate::report::Violation;
pub use clients::{InvokeCtx, Reply};

/// What the checker compares of a member at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberState {
    /// Serving clients.
    pub serving: bool,
    /// Last applied zxid.
    pub zxid: Zxid,
    /// Tree digest.
    pub digest: u64,
}

/// A member's state after it handled an input.
#[derive(Debug, Clone, Copy)]
pub struct Observation {
    /// The member.
    pub sid: ServerId,
    /// Its role.
    pub state: menagerie_proto::quorum::PeerState,
    /// Whether it serves clients.
    pub serving: bool,
    /// Its last applied zxid.
    pub zxid: Zxid,
    /// Its tree digest.
    pub digest: u64,
    /// Digest mismatches it counted so far.
    pub mismatches: u64,
}

/// Properties whose violations are known, open issues (not failures unless `--strict`):
/// the invariant and where it is described (docs/simulation.md, "Findings"). Empty: every
/// finding so far is fixed; an issue found and not yet fixed is parked here (reported with
/// `Checker::known_issue`) so that CI stays useful meanwhile.
pub const KNOWN_ISSUES: [(&str, &str); 1] = [(
    "ReadOnlyAfterRestart",
    "a member restarted while cut off serves read-only clients its own log, whose last txns may never commit (docs/simulation.md, Known limits)",
)];

/// What the checker checked in a run (so that a passing run is known not to be vacuous).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Committed txns (the chain's length).
    pub committed: u64,
    /// Acknowledged writes checked for durability and result.
    pub writes: u64,
    /// Replies to reads compared with the model.
    pub reads: u64,
    /// Watch events checked.
    pub events: u64,
    /// Sessions clients were told had expired.
    pub expiries: u64,
    /// Syncs checked.
    pub syncs: u64,
    /// Reads checked against the linearizable floor (seeds with linearizable reads).
    pub lin_reads: u64,
    /// Reads answered on read-only connections and checked to be committed states.
    pub ro_reads: u64,
    /// Writes refused on read-only connections (`NotReadOnly`).
    pub ro_refused: u64,
    /// Local sessions closed or expired without a txn.
    pub local_ends: u64,
    /// Ephemerals created on seeds with local sessions (by sessions made global for it).
    pub local_ephemerals: u64,
    /// Reconfigurations committed (seeds with reconfig).
    pub reconfigs: u64,
}

/// The checker's state.
#[derive(Debug)]
pub struct Checker {
    chain: chain::Chain,
    model: model::Model,
    violations: Vec<Violation>,
    /// Violations of known open issues (see `KNOWN_ISSUES`), when not strict.
    pub known: Vec<Violation>,
    strict: bool,
    /// The ensemble: its voters and what a quorum of them is.
    ensemble: menagerie_core::ensemble::EnsembleConfig,
    /// The ensemble as each committed reconfiguration left it, by the reconfig's zxid, in
    /// order (seeds with reconfig): the quorum rules of a zxid use the newest one at or
    /// before it.
    configs: Vec<(Zxid, menagerie_core::ensemble::EnsembleConfig)>,
    /// The optional features of the run.
    features: crate::config::Features,
    /// What was checked.
    pub coverage: Coverage,
    zab: zab::ZabState,
    clients: clients::ClientState,
}

impl Checker {
    /// A checker for a run of `opts` on `ensemble`.
    pub fn new(
        ensemble: &menagerie_core::ensemble::EnsembleConfig,
        opts: &crate::config::SimOptions,
    ) -> Checker {
        Checker {
            chain: chain::Chain::default(),
            model: model::Model::default(),
            violations: Vec::new(),
            known: Vec::new(),
            strict: opts.strict,
            ensemble: ensemble.clone(),
            configs: Vec::new(),
            features: opts.features(),
            coverage: Coverage::default(),
            zab: zab::ZabState::default(),
            clients: clients::ClientState::default(),
        }
    }

    /// A violation of a known, still open issue: fails the run only when strict.
    pub fn known_issue(
        &mut self,
        at: u64,
        invariant: &'static str,
        detail: String,
        focus: Vec<String>,
    ) {
        if self.strict {
            return self.fail(at, invariant, detail, focus);
        }
        if self.known.len() < 20 {
            self.known.push(Violation {
                invariant,
                detail,
                at,
                focus,
            });
        }
    }

    /// The last committed zxid.
    pub fn committed_tip(&self) -> Zxid {
        self.chain.tip()
    }

    /// The first violation found, once.
    pub fn take_violation(&mut self) -> Option<Violation> {
        if self.violations.is_empty() {
            None
        } else {
            Some(self.violations.remove(0))
        }
    }

    /// Records a violation (the run stops at the first).
    pub fn fail(&mut self, at: u64, invariant: &'static str, detail: String, focus: Vec<String>) {
        if self.violations.is_empty() {
            self.violations.push(Violation {
                invariant,
                detail,
                at,
                focus,
            });
        }
    }

    /// The chain grew to `zxids` (in order): the model applies them, and checks that waited
    /// for them run.
    fn committed(&mut self, at: u64, zxids: &[Zxid]) {
        self.coverage.committed += zxids.len() as u64;
        for z in zxids {
            let Some(txn) = self.chain.proposal(*z).cloned() else {
                continue;
            };
            self.check_not_read_only_write(at, &txn);
            if let menagerie_proto::txn::TxnBody::Reconfig(t) = &txn.body {
                self.coverage.reconfigs += 1;
                self.reconfigured(at, *z, t.data.as_deref().unwrap_or_default());
            }
            if let Err(e) = self.model.apply(&txn) {
                let focus = vec![format!("{z}")];
                self.fail(at, "TxnSemantics", e, focus);
            }
        }
        self.run_deferred(at);
    }

    /// A reconfiguration committed at `zxid` with the configuration `text`.
    fn reconfigured(&mut self, at: u64, zxid: Zxid, text: &[u8]) {
        match self.parse_config(text) {
            Ok(config) => self.configs.push((zxid, config)),
            Err(e) => {
                let detail = format!("reconfig {zxid} committed an unreadable configuration: {e}");
                self.fail(at, "TxnSemantics", detail, vec![format!("{zxid}")]);
            }
        }
    }

    /// The ensemble as the newest reconfiguration committed at or before `zxid` left it.
    fn committed_ensemble(&self, zxid: Zxid) -> &menagerie_core::ensemble::EnsembleConfig {
        self.configs
            .iter()
            .rev()
            .find(|(z, _)| *z <= zxid)
            .map_or(&self.ensemble, |(_, c)| c)
    }

    /// Whether `holders` may have committed `zxid`: a quorum of the committed ensemble at
    /// it (a txn proposed while a reconfiguration was outstanding needed a quorum of both
    /// the old and the new configuration, so of the newest one too), or of one a
    /// reconfiguration proposed after the committed line's tip up to `zxid` would leave
    /// (serving `zxid` commits whichever of them its history holds; the checker does not
    /// know which).
    fn quorum_may_hold(&self, zxid: Zxid, holders: &[ServerId]) -> bool {
        self.committed_ensemble(zxid).is_quorum(holders)
            || self
                .chain
                .proposals_between(self.chain.tip(), zxid)
                .filter_map(|txn| match &txn.body {
                    menagerie_proto::txn::TxnBody::Reconfig(t) => self
                        .parse_config(t.data.as_deref().unwrap_or_default())
                        .ok(),
                    _ => None,
                })
                .any(|config| config.is_quorum(holders))
    }

    /// The ensemble a reconfiguration's configuration text describes (the core's parser).
    fn parse_config(
        &self,
        text: &[u8],
    ) -> Result<menagerie_core::ensemble::EnsembleConfig, String> {
        let text = String::from_utf8_lossy(text);
        let parsed =
            menagerie_core::config_text::ConfigText::parse(&text).map_err(|e| e.to_string())?;
        Ok(parsed.applied_to(&self.ensemble))
    }

    /// Whether every member is up and serving the same state (the same tree at the same
    /// zxid, epoch starts standing for their heads).
    pub fn converged(&self, states: &BTreeMap<ServerId, Option<MemberState>>) -> bool {
        let mut seen = states.values().map(|s| {
            s.filter(|s| s.serving)
                .map(|s| (self.chain.resolve(s.zxid), s.digest))
        });
        let Some(Some(first)) = seen.next() else {
            return false;
        };
        seen.all(|s| s == Some(first))
    }

    /// The final checks, once the run has ended.
    pub fn finish(&mut self, at: u64, states: &BTreeMap<ServerId, Option<MemberState>>) {
        let mut seen: BTreeSet<(Option<Zxid>, u64)> = BTreeSet::new();
        let mut text = Vec::new();
        for (sid, s) in states {
            match s {
                Some(s) if s.serving => {
                    seen.insert((self.chain.resolve(s.zxid), s.digest));
                    text.push(format!("m{sid} at {} digest {:x}", s.zxid, s.digest));
                }
                Some(s) => text.push(format!("m{sid} not serving (at {})", s.zxid)),
                None => text.push(format!("m{sid} down")),
            }
        }
        let all_serving = states.values().all(|s| s.is_some_and(|s| s.serving));
        if !all_serving || seen.len() != 1 {
            let detail = format!(
                "the ensemble did not converge after the faults healed: {}",
                text.join("; ")
            );
            self.fail(at, "Convergence", detail, vec![]);
            return;
        }
        self.flush_deferred(at);
        self.check_ended_sessions(at);
    }
}

/// A short description of a response, for the history.
pub fn describe_response(body: &Response) -> String {
    match body {
        Response::Empty => String::new(),
        Response::Create { path } => path.clone(),
        Response::Create2 { path, stat } => format!("{path} czxid {}", Zxid(stat.czxid)),
        Response::Stat(s) => format!("v{} mzxid {}", s.version, Zxid(s.mzxid)),
        Response::GetData { data, stat } => format!(
            "{} v{} mzxid {}",
            String::from_utf8_lossy(data.as_deref().unwrap_or_default()),
            stat.version,
            Zxid(stat.mzxid)
        ),
        Response::GetChildren { children } => format!("{children:?}"),
        Response::Multi(results) => format!("{results:?}"),
        other => format!("{other:?}"),
    }
}
