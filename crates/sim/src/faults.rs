//! Fault injection: every 100 ms of the chaos phase each kind of fault happens with the
//! probability its rate in the [`FaultPlan`](crate::config::FaultPlan) gives, and schedules
//! its own end (a restart, a resume, a heal). The calm phase ends them all.

use std::collections::BTreeMap;

use menagerie_proto::ServerId;
use menagerie_storage::fs::CrashMode;
use rand::RngExt;

use crate::sim::{Phase, Sim};
use crate::world::Ev;

/// How often faults are drawn, ms.
const FAULT_TICK_MS: u64 = 100;

/// A fault's start or end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultEv {
    /// Draw the faults of the next 100 ms.
    Tick,
    /// A crashed member starts again.
    Restart(ServerId),
    /// A paused member continues.
    Resume(ServerId),
    /// A partition heals.
    Heal(u64),
    /// A full disk has room again.
    DiskClear(ServerId),
    /// A client notices its connection broke.
    ClientLinkLost(usize, u64),
}

/// Partitions in force, by id: the directed pairs each one blocks.
#[derive(Debug, Default)]
pub struct Partitions {
    active: BTreeMap<u64, Vec<(ServerId, ServerId)>>,
    next: u64,
}

impl Sim {
    pub(crate) fn schedule_fault_tick(&mut self) {
        self.queue
            .push(self.now + FAULT_TICK_MS, Ev::Fault(FaultEv::Tick));
    }

    /// A fault event.
    pub(crate) fn fault(&mut self, f: FaultEv) {
        match f {
            FaultEv::Tick => {
                if self.phase == Phase::Chaos {
                    self.draw_faults();
                    self.schedule_fault_tick();
                }
            }
            FaultEv::Restart(sid) => self.restart(sid),
            FaultEv::Resume(sid) => self.resume(sid),
            FaultEv::Heal(id) => self.heal(id),
            FaultEv::DiskClear(sid) => self.disk_clear(sid),
            FaultEv::ClientLinkLost(c, link) => self.client_link_lost(c, link),
        }
    }

    fn chance(&mut self, per_s: f64) -> bool {
        let p = per_s * FAULT_TICK_MS as f64 / 1000.0;
        p > 0.0 && self.rng.random_bool(p.min(1.0))
    }

    fn random_member(&mut self, up: bool) -> Option<ServerId> {
        let sids: Vec<ServerId> = self
            .members
            .iter()
            .filter(|(_, m)| !up || m.is_up())
            .map(|(s, _)| *s)
            .collect();
        (!sids.is_empty()).then(|| sids[self.rng.random_range(0..sids.len())])
    }

    fn draw_faults(&mut self) {
        let plan = self.plan.clone();
        if self.chance(plan.crash_per_s) {
            self.crash_one();
        }
        if self.chance(plan.blackout_per_s) {
            self.blackout();
        }
        if self.chance(plan.pause_per_s)
            && let Some(sid) = self.random_member(true)
        {
            self.pause(sid);
            let t = self.rng.random_range(100..3000);
            self.queue
                .push(self.now + t, Ev::Fault(FaultEv::Resume(sid)));
        }
        if self.chance(plan.partition_per_s) {
            self.partition();
        }
        if self.chance(plan.reset_per_s) {
            let links = self.net.quorum_links();
            if !links.is_empty() {
                let link = links[self.rng.random_range(0..links.len())];
                self.history
                    .record(self.now, "net", format!("reset quorum link {link}"));
                self.reset_link(link);
            }
        }
        if self.chance(plan.clock_jump_per_s) {
            self.clock_jump();
        }
        if self.chance(plan.client_reset_per_s) {
            let c = self.rng.random_range(0..self.clients.len().max(1));
            if let Some(conn) = self.clients.get(c).and_then(|k| k.conn.clone()) {
                self.history
                    .record(self.now, "net", format!("reset client link {}", conn.link));
                self.reset_link(conn.link);
            }
        }
        if self.chance(plan.disk_full_per_s)
            && let Some(sid) = self.random_member(true)
        {
            self.fill_disk(sid);
        }
    }

    fn crash_one(&mut self) {
        let Some(sid) = self.random_member(true) else {
            return;
        };
        let mode = self.crash_mode();
        self.crash(sid, mode, "fault");
        if self.plan.snapshot_rot > 0.0
            && self.rng.random_bool(self.plan.snapshot_rot)
            && !self.members[&sid].snap_synced
        {
            let pick = self.rng.random_range(0..u64::MAX);
            if self.members[&sid].disk.rot_newest_snapshot(pick) {
                self.history.record(
                    self.now,
                    format!("m{sid}"),
                    "bit flipped in its newest snapshot",
                );
            }
        }
        let t = self.rng.random_range(200..5000);
        self.queue
            .push(self.now + t, Ev::Fault(FaultEv::Restart(sid)));
    }

    fn crash_mode(&mut self) -> CrashMode {
        if !self.rng.random_bool(self.plan.power_loss) {
            return CrashMode::ProcessOnly;
        }
        if self.rng.random_bool(self.plan.torn_write) {
            CrashMode::TornTail {
                keep_bytes: self.rng.random_range(0..4096),
            }
        } else {
            CrashMode::LoseUnsynced
        }
    }

    /// Every member loses power at once.
    fn blackout(&mut self) {
        self.history
            .record(self.now, "net", "blackout: every member loses power");
        let sids: Vec<ServerId> = self.members.keys().copied().collect();
        for sid in sids {
            let mode = if self.rng.random_bool(self.plan.torn_write) {
                CrashMode::TornTail {
                    keep_bytes: self.rng.random_range(0..4096),
                }
            } else {
                CrashMode::LoseUnsynced
            };
            self.crash(sid, mode, "blackout");
            let t = self.rng.random_range(100..3000);
            self.queue
                .push(self.now + t, Ev::Fault(FaultEv::Restart(sid)));
        }
    }

    fn restart(&mut self, sid: ServerId) {
        if self.members[&sid].is_up() {
            return;
        }
        if self.members[&sid].disk_full && self.phase == Phase::Chaos {
            // An operator frees space first.
            self.queue
                .push(self.now + 500, Ev::Fault(FaultEv::Restart(sid)));
            return;
        }
        self.start_member(sid);
        if !self.members[&sid].is_up() {
            self.queue
                .push(self.now + 500, Ev::Fault(FaultEv::Restart(sid)));
        }
    }

    fn partition(&mut self) {
        let (pairs, text) = match self.rng.random_range(0..4u32) {
            0 => self.isolation(),
            1 => self.one_way(),
            2 => self.split(None),
            _ => {
                let sids: Vec<ServerId> = self.members.keys().copied().collect();
                let b = sids[self.rng.random_range(0..sids.len())];
                self.split(Some(b))
            }
        };
        let id = self.partitions.next;
        self.partitions.next += 1;
        self.partitions.active.insert(id, pairs);
        self.recompute_blocked();
        self.history
            .record(self.now, "net", format!("partition {id}: {text}"));
        let t = self.rng.random_range(200..5000);
        self.queue.push(self.now + t, Ev::Fault(FaultEv::Heal(id)));
    }

    /// One member (the leader, half of the time) cut off from all others.
    fn isolation(&mut self) -> (Vec<(ServerId, ServerId)>, String) {
        let sids: Vec<ServerId> = self.members.keys().copied().collect();
        let x = match self.leader() {
            Some(l) if self.rng.random_bool(0.5) => l,
            _ => sids[self.rng.random_range(0..sids.len())],
        };
        let pairs = sids
            .iter()
            .filter(|y| **y != x)
            .flat_map(|&y| [(x, y), (y, x)])
            .collect();
        (pairs, format!("isolate m{x}"))
    }

    /// One member cannot reach some others, which can still reach it.
    fn one_way(&mut self) -> (Vec<(ServerId, ServerId)>, String) {
        let sids: Vec<ServerId> = self.members.keys().copied().collect();
        let x = sids[self.rng.random_range(0..sids.len())];
        let mut pairs = Vec::new();
        for &y in &sids {
            if y != x && self.rng.random_bool(0.6) {
                pairs.push((x, y));
            }
        }
        let text = format!("one way from m{x}: {pairs:?}");
        (pairs, text)
    }

    /// Two sides that cannot reach each other; with a bridge, one member reaches both.
    fn split(&mut self, bridge: Option<ServerId>) -> (Vec<(ServerId, ServerId)>, String) {
        let sids: Vec<ServerId> = self.members.keys().copied().collect();
        let side: Vec<bool> = sids.iter().map(|_| self.rng.random_bool(0.5)).collect();
        let mut pairs = Vec::new();
        for (i, &x) in sids.iter().enumerate() {
            for (j, &y) in sids.iter().enumerate() {
                if side[i] != side[j] && Some(x) != bridge && Some(y) != bridge {
                    pairs.push((x, y));
                }
            }
        }
        let text = match bridge {
            Some(b) => format!("bridge m{b} over sides {side:?}"),
            None => format!("split into sides {side:?}"),
        };
        (pairs, text)
    }

    fn heal(&mut self, id: u64) {
        if self.partitions.active.remove(&id).is_some() {
            self.history
                .record(self.now, "net", format!("partition {id} healed"));
            self.recompute_blocked();
            self.release_stalled();
        }
    }

    fn recompute_blocked(&mut self) {
        self.net.blocked = self
            .partitions
            .active
            .values()
            .flatten()
            .copied()
            .filter(|(a, b)| a != b)
            .collect();
    }

    fn clock_jump(&mut self) {
        let Some(sid) = self.random_member(true) else {
            return;
        };
        let forward = self.rng.random_bool(0.5);
        let m = self.members.get_mut(&sid).expect("member");
        if forward {
            let jump = self.rng.random_range(100..3000);
            m.mono_offset += jump;
            self.history.record(
                self.now,
                format!("m{sid}"),
                format!("monotonic clock jumps {jump} ms"),
            );
        } else {
            let jump = self.rng.random_range(-60_000..60_000);
            m.wall_offset += jump;
            self.history.record(
                self.now,
                format!("m{sid}"),
                format!("wall clock jumps {jump} ms"),
            );
        }
        self.deliver(sid, menagerie_core::Input::Tick);
    }

    fn fill_disk(&mut self, sid: ServerId) {
        let m = self.members.get_mut(&sid).expect("member");
        if m.disk_full {
            return;
        }
        m.disk_full = true;
        m.disk.fill();
        self.history
            .record(self.now, format!("m{sid}"), "disk full");
        let t = self.rng.random_range(500..5000);
        self.queue
            .push(self.now + t, Ev::Fault(FaultEv::DiskClear(sid)));
    }

    /// Space is freed; a member whose storage failed comes back by itself at its next retry
    /// (`storage.rs`), as the shell does, without a restart.
    fn disk_clear(&mut self, sid: ServerId) {
        let m = self.members.get_mut(&sid).expect("member");
        if !m.disk_full {
            return;
        }
        m.disk_full = false;
        m.disk.clear_faults();
        self.history
            .record(self.now, format!("m{sid}"), "disk has room again");
        if !self.members[&sid].is_up() {
            self.restart(sid);
        }
    }

    /// The serving leader, if exactly one member leads and serves.
    pub(crate) fn leader(&self) -> Option<ServerId> {
        let leaders: Vec<ServerId> = self
            .members
            .iter()
            .filter(|(_, m)| {
                m.node.as_ref().is_some_and(|n| {
                    n.peer_state() == Some(menagerie_proto::quorum::PeerState::Leading)
                        && n.is_serving()
                })
            })
            .map(|(s, _)| *s)
            .collect();
        (leaders.len() == 1).then(|| leaders[0])
    }

    /// Calm: every fault ends; crashed members restart.
    pub(crate) fn calm(&mut self) {
        self.phase = Phase::Calm;
        self.history.record(self.now, "net", "calm: faults end");
        let ids: Vec<u64> = self.partitions.active.keys().copied().collect();
        for id in ids {
            self.heal(id);
        }
        let sids: Vec<ServerId> = self.members.keys().copied().collect();
        for sid in sids {
            self.resume(sid);
            self.disk_clear(sid);
            if !self.members[&sid].is_up() {
                self.restart(sid);
            }
        }
    }
}
