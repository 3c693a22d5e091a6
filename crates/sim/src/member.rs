//! A member: the real core ([`Node`]) and its disk, run the way a shell runs them. Inputs
//! reach the node one at a time with the member's clocks; its outputs are carried out in
//! order (sends, appends with group commit, epoch files, truncations, snapshots). A member
//! can crash (its process and unsynced data gone, per the crash mode), restart (recovery
//! from its disk with the real storage code) or pause (inputs wait, timers stop).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use menagerie_core::replica::Replica;
use menagerie_core::{CoreConfig, Input, Node, Now, Output, SnapshotEnd};
use menagerie_proto::quorum::PeerState;
use menagerie_proto::txn::LoggedTxn;
use menagerie_proto::{ServerId, Zxid};
use menagerie_storage::fs::CrashMode;
use rand::RngExt;

use std::collections::BTreeMap;

use crate::checker::{MemberState, Observation};
use crate::disk::{Disk, DiskError};
use crate::sim::{Sim, TICK_MS, WALL_BASE_MS};
use crate::world::Ev;
use menagerie_host::epochs::EpochError;

/// One member of the ensemble.
pub struct Member {
    /// Its server id.
    pub sid: ServerId,
    /// The running core; `None` while the process is down.
    pub node: Option<Node>,
    /// Its data directory.
    pub disk: Disk,
    /// Incarnation: bumped at every crash, so that events of a dead process are dropped.
    pub inc: u64,
    /// Stopped (SIGSTOP): inputs wait in `deferred`, timers do not fire.
    pub paused: bool,
    /// Inputs that arrived while paused.
    pub deferred: Vec<Input>,
    /// Its monotonic clock runs this far ahead of the world's (only ever grows).
    pub mono_offset: u64,
    /// Its wall clock is off by this much.
    pub wall_offset: i64,
    /// Arming of its core timer, and the time it is armed for.
    pub timer_generation: u64,
    timer_at: Option<u64>,
    /// It listens on its quorum port.
    pub listening: bool,
    /// An fsync is in progress.
    pub fsync_busy: bool,
    /// Its log failed: appends wait until a retry succeeds (`storage.rs`).
    pub storage_failed: bool,
    /// Writing its data directory (epoch files, a cut of the log) failed.
    pub dir_failed: bool,
    /// A cut of the log to finish once the data directory works.
    pub pending_truncate: Option<Zxid>,
    /// The backoff of the retry scheduled, if one is (ms).
    pub retry_ms: Option<u64>,
    /// A data-directory write failed while outputs were carried out: drop the rest.
    pub discard_rest: bool,
    /// Its current dial of a leader: (leader, dial id).
    pub dial: Option<(ServerId, u64)>,
    /// The disk was filled; it is cleared at the next restart or when calm comes.
    pub disk_full: bool,
    /// Last role seen, for the history.
    pub last_role: Option<(PeerState, bool)>,
    /// It was synced by SNAP at least once: its log has a gap before its newest snapshot,
    /// so that snapshot must not rot (see `docs/testing.md`, known limits).
    pub snap_synced: bool,
    /// The highest zxid its disk holds durably (fsynced log, or a written snapshot).
    pub durable: Zxid,
    /// What it had handed to its log when NEWLEADER arrived: all of it must be durable
    /// before it acknowledges NEWLEADER.
    pub newleader_logged: Option<Zxid>,
    /// It served in a role since it last started (its tree then came from a leader, not
    /// only from its own log, which may end with txns that never commit).
    pub served_since_start: bool,
    /// The configuration a reconfiguration last activated here (the real shell's dynamic
    /// configuration file, written atomically): a restart starts from it.
    pub activated_config: Option<String>,
}

impl Member {
    /// A member with an empty disk, not started.
    pub fn new(sid: ServerId, pre_alloc: u64) -> Member {
        Member {
            sid,
            node: None,
            disk: Disk::new(pre_alloc),
            inc: 0,
            paused: false,
            deferred: Vec::new(),
            mono_offset: 0,
            wall_offset: 0,
            timer_generation: 0,
            timer_at: None,
            listening: false,
            fsync_busy: false,
            storage_failed: false,
            dir_failed: false,
            pending_truncate: None,
            activated_config: None,
            retry_ms: None,
            discard_rest: false,
            dial: None,
            disk_full: false,
            last_role: None,
            snap_synced: false,
            durable: Zxid::ZERO,
            newleader_logged: None,
            served_since_start: false,
        }
    }

    /// Whether the process runs (paused or not).
    pub fn is_up(&self) -> bool {
        self.node.is_some()
    }

    /// What the checker compares at the end.
    pub fn state(&self) -> Option<MemberState> {
        let node = self.node.as_ref()?;
        Some(MemberState {
            serving: node.is_serving(),
            zxid: node.last_processed_zxid(),
            digest: node.tree().digest(),
        })
    }
}

impl Sim {
    /// The member's clocks now.
    pub(crate) fn member_now(&self, sid: ServerId) -> Now {
        let m = &self.members[&sid];
        Now {
            mono_ms: 1_000_000 + self.now + m.mono_offset,
            wall_ms: WALL_BASE_MS + self.now as i64 + m.wall_offset,
        }
    }

    /// The configuration `sid` starts with: the last one activated on it, else the initial.
    fn ensemble_of(&self, sid: ServerId) -> menagerie_core::ensemble::EnsembleConfig {
        let activated = self
            .members
            .get(&sid)
            .and_then(|m| m.activated_config.as_deref());
        match activated.map(menagerie_core::config_text::ConfigText::parse) {
            Some(Ok(text)) => text.applied_to(&self.ensemble),
            _ => self.ensemble.clone(),
        }
    }

    fn core_config(&self, sid: ServerId, inc: u64) -> CoreConfig {
        let features = self.opts.features();
        let mut ensemble = self.ensemble_of(sid);
        if self.opts.counter_near_end && self.opts.seed % 4 == 3 && sid == ServerId(1) {
            // A learner that cannot follow a rollover epoch change, as a Java one.
            ensemble.rollover.epoch_change = false;
        }
        CoreConfig {
            server_id: sid,
            tick_ms: TICK_MS,
            min_session_timeout_ms: 2 * TICK_MS as i32,
            max_session_timeout_ms: 20 * TICK_MS as i32,
            seed: self.opts.seed ^ ((sid.0 as u64) << 40) ^ (inc << 20),
            snap_count: self.plan.snap_count,
            ensemble: Some(ensemble),
            read_only_mode: features.read_only,
            local_sessions: features.local_sessions,
            local_sessions_upgrading: features.local_sessions && features.upgrading,
            // Reconfig needs the super user or skipACL; the simulated clients have neither.
            auth: menagerie_core::auth::AuthConfig {
                skip_acl: self.ensemble.reconfig_enabled,
                ..Default::default()
            },
            ..CoreConfig::default()
        }
    }

    /// Starts (or restarts) a member: recovery from its disk, then its first tick.
    pub(crate) fn start_member(&mut self, sid: ServerId) {
        let now = self.member_now(sid);
        let inc = self.members[&sid].inc;
        let mut node = Node::new(self.core_config(sid, inc), now);
        let m = self.members.get_mut(&sid).expect("member exists");
        if m.node.is_some() {
            return;
        }
        let marked = m.disk.epoch_update_marked();
        let recovered = m.disk.recover(&mut node, now);
        let epochs = m.disk.epochs();
        match recovered {
            Ok(replayed) => {
                let zxid = node.last_processed_zxid();
                m.node = Some(node);
                m.durable = zxid;
                m.storage_failed = false;
                m.dir_failed = false;
                m.pending_truncate = None;
                m.retry_ms = None;
                m.fsync_busy = false;
                m.listening = false;
                m.timer_at = None;
                m.served_since_start = false;
                let text = format!("started: zxid {zxid}, {replayed} txns replayed");
                self.history.record(self.now, format!("m{sid}"), text);
                if let Ok(epochs) = epochs {
                    self.checker.recovered(self.now, sid, epochs, zxid, marked);
                }
                self.deliver(sid, Input::Tick);
            }
            Err(DiskError::Epochs(EpochError::CurrentBehindLog { current, last_zxid })) => {
                // Finding 6: the `updatingEpoch` marker covers a sync logged before its
                // epoch was written; nothing else may leave the log ahead of currentEpoch.
                let last = Zxid(last_zxid);
                let detail = format!(
                    "m{sid} cannot start: currentEpoch {current} is older than its last zxid {last}"
                );
                self.checker.fail(
                    self.now,
                    "CurrentEpochBehindLog",
                    detail,
                    vec![format!("m{sid}")],
                );
            }
            Err(e) => {
                let text = format!("cannot start: {e}");
                self.history.record(self.now, format!("m{sid}"), text);
            }
        }
    }

    /// Feeds `input` to the member (later if it is paused; never if it is down).
    pub(crate) fn deliver(&mut self, sid: ServerId, input: Input) {
        let Some(m) = self.members.get_mut(&sid) else {
            return;
        };
        if m.node.is_none() {
            return;
        }
        if m.paused {
            m.deferred.push(input);
            return;
        }
        let mut inputs = vec![input];
        while !inputs.is_empty() && !self.stopped() {
            let input = inputs.remove(0);
            inputs.extend(self.run_input(sid, input));
        }
    }

    /// Runs one input through the node and carries out its outputs; returns inputs the shell
    /// feeds back at once (a reload after TRUNC, a storage failure).
    fn run_input(&mut self, sid: ServerId, input: Input) -> Vec<Input> {
        let now = self.member_now(sid);
        let m = self.members.get_mut(&sid).expect("member exists");
        let Some(node) = m.node.as_mut() else {
            return Vec::new();
        };
        if let Input::Peer { packet, .. } = &input
            && packet.kind() == Some(menagerie_proto::quorum::PacketType::NewLeader)
        {
            // What the learner has handed to its log when it takes NEWLEADER (not when the
            // packet arrived: a paused member takes it later, after the TRUNC before it).
            m.newleader_logged = Some(m.disk.logged());
        }
        let before = node.last_processed_zxid();
        let changes_before = node.epoch_changes().0;
        let mut out = Vec::new();
        let _span = tracing::info_span!("m", id = sid.0, t = self.now).entered();
        let result = catch_unwind(AssertUnwindSafe(|| node.handle(now, input, &mut out)));
        if let Err(panic) = result {
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            self.violation(
                "CoreAssertion",
                format!("m{sid} panicked: {what}"),
                vec![format!("m{sid}")],
            );
            return Vec::new();
        }
        if let Some(node) = self.members.get(&sid).and_then(|m| m.node.as_ref()) {
            let (changes, waited_ms) = node.epoch_changes();
            self.epoch_changes.0 += changes.saturating_sub(changes_before);
            self.epoch_changes.1 = self.epoch_changes.1.max(waited_ms);
        }
        self.observe(sid, before, &out);
        let mut feedback = Vec::new();
        for o in out {
            // After a failed data-directory write, what came with it is dropped (as the
            // shell does); snapshots asked for are still taken.
            if self.members[&sid].discard_rest && !matches!(o, Output::TakeSnapshot(_)) {
                continue;
            }
            if !self.execute(sid, o, &mut feedback) {
                self.crash(sid, CrashMode::ProcessOnly, "storage error");
                return Vec::new();
            }
        }
        if let Some(m) = self.members.get_mut(&sid) {
            m.discard_rest = false;
        }
        self.arm_timer(sid);
        feedback
    }

    /// What the checker sees of a member after each input.
    fn observe(&mut self, sid: ServerId, before: Zxid, out: &[Output]) {
        let m = &self.members[&sid];
        let Some(node) = m.node.as_ref() else {
            return;
        };
        let state = node.peer_state().unwrap_or(PeerState::Looking);
        let obs = Observation {
            sid,
            state,
            serving: node.is_serving(),
            zxid: node.last_processed_zxid(),
            digest: node.tree().digest(),
            mismatches: node.digest_log().mismatches(),
        };
        let changed = m.last_role != Some((state, obs.serving));
        let durable: BTreeMap<ServerId, Zxid> = self
            .members
            .iter()
            .filter(|(s, _)| self.ensemble.is_voter(**s))
            .map(|(s, m)| (*s, m.durable))
            .collect();
        self.check_newleader_ack(sid, out);
        self.checker
            .outputs(self.now, sid, state, before, out, &durable);
        self.checker.observe(self.now, &obs, &durable);
        if obs.serving {
            self.members
                .get_mut(&sid)
                .expect("member")
                .served_since_start = true;
        }
        if changed {
            self.members.get_mut(&sid).expect("member").last_role = Some((state, obs.serving));
            let serving = if obs.serving { ", serving" } else { "" };
            let text = format!("{state:?}{serving} at zxid {}", obs.zxid);
            self.history.record(self.now, format!("m{sid}"), text);
        }
    }

    /// A learner acknowledges NEWLEADER only once everything it logged up to then is
    /// durable (its ACK of the epoch start is the first after NEWLEADER).
    fn check_newleader_ack(&mut self, sid: ServerId, out: &[Output]) {
        let acked = out.iter().any(|o| {
            matches!(o, Output::Send { packet, .. }
                if packet.kind() == Some(menagerie_proto::quorum::PacketType::Ack)
                    && packet.zxid.is_epoch_start())
        });
        let m = self.members.get_mut(&sid).expect("member");
        if !acked {
            return;
        }
        let Some(needed) = m.newleader_logged.take() else {
            return;
        };
        if m.durable < needed {
            let detail = format!(
                "m{sid} acknowledged NEWLEADER while its disk holds {} durably, of {needed} logged",
                m.durable
            );
            let focus = vec![format!("m{sid}")];
            self.checker
                .fail(self.now, "NewLeaderAckAfterDurable", detail, focus);
        }
    }

    /// Carries out one output; false if the process must die (an epoch file or truncation
    /// could not be written).
    fn execute(&mut self, sid: ServerId, o: Output, feedback: &mut Vec<Input>) -> bool {
        match o {
            Output::Connected { conn, .. }
            | Output::Reply { conn, .. }
            | Output::Notify { conn, .. } => self.send_to_client(sid, conn.0, o),
            Output::Close { conn } => self.close_client(sid, conn.0),
            Output::Persist(txn) => self.persist(sid, &txn, feedback),
            Output::TakeSnapshot(_) => self.take_snapshot(sid),
            Output::SendVote { to, notification } => self.send_vote(sid, to, notification),
            Output::Send { to, packet } => self.send_packet(sid, to, packet),
            Output::SendSnapshot { to, zxid } => self.send_snapshot(sid, to, zxid),
            Output::ConnectToLeader { leader } => self.dial(sid, leader),
            // Members are reached by sid: only the file a restart reads is kept.
            Output::ConfigActivated { text, .. } => {
                if let Some(m) = self.members.get_mut(&sid) {
                    m.activated_config = Some(text);
                }
            }
            Output::DropPeer { peer } => self.drop_peer(sid, peer),
            Output::ListenQuorum(on) => {
                if let Some(m) = self.members.get_mut(&sid) {
                    m.listening = on;
                }
            }
            Output::PersistEpoch { accepted, current } => {
                let m = self.members.get_mut(&sid).expect("member");
                if let Err(e) = m.disk.write_epochs(accepted, current) {
                    let why = format!("epoch write failed: {e}");
                    self.dir_failed(sid, why, None, feedback);
                    return true;
                }
                self.checker
                    .epochs_written(self.now, sid, accepted, current);
            }
            Output::UpdatingEpoch(on) => {
                let m = self.members.get_mut(&sid).expect("member");
                if let Err(e) = m.disk.updating_epoch(on) {
                    let why = format!("updatingEpoch marker failed: {e}");
                    self.dir_failed(sid, why, None, feedback);
                }
            }
            Output::Truncate { to, reload } => return self.truncate(sid, to, reload, feedback),
        }
        true
    }

    fn truncate(
        &mut self,
        sid: ServerId,
        to: menagerie_proto::Zxid,
        reload: bool,
        feedback: &mut Vec<Input>,
    ) -> bool {
        let seed = self.opts.seed;
        let m = self.members.get_mut(&sid).expect("member");
        m.durable = m.durable.min(to);
        let result = m.disk.truncate(to).and_then(|()| {
            if !reload {
                return Ok(None);
            }
            let empty = Replica::new(false, seed ^ sid.0 as u64, true);
            m.disk.reload(to, empty).map(Some)
        });
        match result {
            Ok(Some(replica)) => feedback.push(Input::Reloaded(Box::new(replica))),
            Ok(None) => {}
            Err(e) => {
                let why = format!("truncation to {to} failed: {e}");
                self.dir_failed(sid, why, Some(to), feedback);
            }
        }
        true
    }

    fn persist(&mut self, sid: ServerId, txn: &Arc<LoggedTxn>, feedback: &mut Vec<Input>) {
        let m = self.members.get_mut(&sid).expect("member");
        // After a failure the disk keeps it for the retry.
        let result = m.disk.append(txn);
        if m.storage_failed {
            return;
        }
        if let Err(e) = result {
            self.log_failed(sid, &e.to_string(), feedback);
            return;
        }
        if !m.fsync_busy {
            m.fsync_busy = true;
            let inc = m.inc;
            let latency = self.fsync_latency();
            self.queue
                .push(self.now + latency, Ev::FsyncDone { member: sid, inc });
        }
    }

    fn fsync_latency(&mut self) -> u64 {
        let (base, jitter) = self.plan.fsync_ms;
        let (p, slow) = self.plan.slow_fsync;
        let mut t = base + self.rng.random_range(0..=jitter);
        if p > 0.0 && self.rng.random_bool(p) {
            t += self.rng.random_range(0..=slow);
        }
        t.max(1)
    }

    /// The group commit finished: everything appended is durable.
    pub(crate) fn fsync_done(&mut self, sid: ServerId, inc: u64) {
        let Some(m) = self.members.get_mut(&sid) else {
            return;
        };
        if m.inc != inc || m.node.is_none() {
            return;
        }
        m.fsync_busy = false;
        if m.storage_failed {
            return;
        }
        match m.disk.commit() {
            Ok(Some(up_to)) => {
                m.durable = m.durable.max(up_to);
                self.deliver(sid, Input::Persisted { up_to });
            }
            Ok(None) => {}
            Err(e) => {
                let mut feedback = Vec::new();
                self.log_failed(sid, &e.to_string(), &mut feedback);
                for input in feedback {
                    self.deliver(sid, input);
                }
            }
        }
    }

    fn take_snapshot(&mut self, sid: ServerId) {
        let m = self.members.get_mut(&sid).expect("member");
        let Some(node) = m.node.as_ref() else {
            return;
        };
        let end = match m.disk.snapshot(node.replica()) {
            Ok(()) => {
                m.durable = m.durable.max(node.last_processed_zxid());
                SnapshotEnd::Written
            }
            Err(e) => {
                let text = format!("snapshot failed: {e}");
                self.history.record(self.now, format!("m{sid}"), text);
                SnapshotEnd::Failed
            }
        };
        let inc = m.inc;
        let latency = self.rng.random_range(1..30);
        self.queue.push(
            self.now + latency,
            Ev::SnapshotDone {
                member: sid,
                inc,
                end,
            },
        );
    }

    /// A snapshot write is reported to the core.
    pub(crate) fn snapshot_done(&mut self, sid: ServerId, inc: u64, end: SnapshotEnd) {
        if self.members.get(&sid).is_some_and(|m| m.inc == inc) {
            self.deliver(sid, Input::SnapshotEnded(end));
        }
    }

    /// Arms the member's timer for the core's next deadline.
    fn arm_timer(&mut self, sid: ServerId) {
        let now = self.now;
        let m = self.members.get_mut(&sid).expect("member");
        let Some(node) = m.node.as_ref() else {
            return;
        };
        let Some(deadline) = node.next_deadline() else {
            m.timer_at = None;
            return;
        };
        let mono_now = 1_000_000 + now + m.mono_offset;
        let at = if deadline <= mono_now {
            now + 1
        } else {
            now + (deadline - mono_now)
        };
        if m.timer_at == Some(at) {
            return;
        }
        m.timer_at = Some(at);
        m.timer_generation += 1;
        let generation = m.timer_generation;
        self.queue.push(
            at,
            Ev::Timer {
                member: sid,
                generation,
            },
        );
    }

    /// A member's timer fires.
    pub(crate) fn timer(&mut self, sid: ServerId, generation: u64) {
        let Some(m) = self.members.get_mut(&sid) else {
            return;
        };
        if m.timer_generation != generation || m.paused || m.node.is_none() {
            return;
        }
        m.timer_at = None;
        self.deliver(sid, Input::Tick);
    }

    /// The process dies. Its connections break; what the disk keeps depends on `mode`.
    pub(crate) fn crash(&mut self, sid: ServerId, mode: CrashMode, why: &str) {
        let m = self.members.get_mut(&sid).expect("member");
        if m.node.is_none() {
            return;
        }
        m.node = None;
        m.inc += 1;
        m.paused = false;
        m.deferred.clear();
        m.listening = false;
        m.dial = None;
        m.timer_at = None;
        m.fsync_busy = false;
        m.last_role = None;
        m.discard_rest = false;
        m.disk.crash(mode);
        self.history.record(
            self.now,
            format!("m{sid}"),
            format!("crash ({why}, {mode:?})"),
        );
        self.net.known.retain(|(m, _), _| *m != sid);
        self.member_links_down(sid);
        self.checker.crashed(sid);
    }

    /// SIGSTOP.
    pub(crate) fn pause(&mut self, sid: ServerId) {
        let m = self.members.get_mut(&sid).expect("member");
        if m.node.is_some() && !m.paused {
            m.paused = true;
            self.history.record(self.now, format!("m{sid}"), "paused");
        }
    }

    /// SIGCONT: what arrived meanwhile is handled, timers run again.
    pub(crate) fn resume(&mut self, sid: ServerId) {
        let m = self.members.get_mut(&sid).expect("member");
        if !m.paused {
            return;
        }
        m.paused = false;
        let waiting = std::mem::take(&mut m.deferred);
        self.history.record(
            self.now,
            format!("m{sid}"),
            format!("resumed ({} inputs waited)", waiting.len()),
        );
        for input in waiting {
            self.deliver(sid, input);
        }
        self.deliver(sid, Input::Tick);
    }
}
