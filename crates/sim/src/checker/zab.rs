//! Checks of the protocol itself, from what members output and the states they serve.

use std::collections::{BTreeMap, BTreeSet};

use menagerie_core::Output;
use menagerie_proto::quorum::{PacketType, PeerState};
use menagerie_proto::txn::TxnBody;
use menagerie_proto::{ServerId, Zxid};

use super::chain::Fork;
use super::{Checker, Observation};

/// What the protocol checks remember.
#[derive(Debug, Default)]
pub struct ZabState {
    /// The member that established each epoch.
    epoch_leader: BTreeMap<u32, ServerId>,
    /// Each member's epoch files as last written: (accepted, current).
    epochs: BTreeMap<ServerId, (u32, u32)>,
    /// The digest first seen at each (resolved) zxid, and who had it.
    digests: BTreeMap<Zxid, (u64, ServerId)>,
    /// Digest mismatches each member has counted.
    mismatches: BTreeMap<ServerId, u64>,
    /// Learners being synced: what they must have when they start serving.
    sync_floor: BTreeMap<ServerId, Zxid>,
    /// Members serving now.
    serving: BTreeSet<ServerId>,
    /// Sessions a leader has proposed to close.
    pub closes_proposed: BTreeSet<i64>,
    /// Sessions a leader has proposed to create (global sessions; local ones never are).
    pub creates_proposed: BTreeSet<i64>,
    /// The last state each member was seen serving (to skip repeats).
    last_seen: BTreeMap<ServerId, (Zxid, u64)>,
}

impl Checker {
    /// What a member output while handling one input (`before`: its last applied zxid
    /// before it; `state`: its role after it).
    pub fn outputs(
        &mut self,
        at: u64,
        sid: ServerId,
        state: PeerState,
        before: Zxid,
        out: &[Output],
        durable: &BTreeMap<ServerId, Zxid>,
    ) {
        for o in out {
            match o {
                Output::Persist(txn) => {
                    if let Some(seen) = self.chain.propose(txn) {
                        let detail = format!(
                            "m{sid} logged {} for zxid {}, which was already proposed as {:?}",
                            describe_txn(txn),
                            txn.zxid(),
                            describe_txn(&seen)
                        );
                        self.fail(at, "Integrity", detail, vec![format!("{}", txn.zxid())]);
                    }
                    match txn.body {
                        TxnBody::CloseSession(_) => {
                            self.zab.closes_proposed.insert(txn.session().0);
                        }
                        TxnBody::CreateSession(_) => {
                            self.zab.creates_proposed.insert(txn.session().0);
                        }
                        _ => {}
                    }
                }
                Output::PersistEpoch { current, .. } => {
                    if let (PeerState::Leading, Some(e)) = (state, current) {
                        self.chain.set_head(*e, before);
                        self.established(at, sid, *e);
                    }
                }
                Output::Send { to, packet } => match packet.kind() {
                    Some(PacketType::Ack) if !packet.zxid.is_epoch_start() => {
                        let has = durable.get(&sid).copied().unwrap_or(Zxid::ZERO);
                        if packet.zxid > has {
                            let detail = format!(
                                "m{sid} acknowledged {} to m{to} while its disk holds only up to {has}",
                                packet.zxid
                            );
                            self.fail(at, "AckAfterDurable", detail, vec![format!("m{sid}")]);
                        }
                    }
                    // A serving leader's NEWLEADER announces a rollover epoch change, which
                    // is established once it writes currentEpoch (above).
                    Some(PacketType::NewLeader)
                        if state == PeerState::Leading && !self.zab.serving.contains(&sid) =>
                    {
                        self.established(at, sid, packet.zxid.epoch());
                    }
                    Some(PacketType::Diff | PacketType::Trunc) => {
                        self.zab.sync_floor.insert(*to, self.clients.max_acked);
                    }
                    _ => {}
                },
                Output::SendSnapshot { to, .. } => {
                    self.zab.sync_floor.insert(*to, self.clients.max_acked);
                }
                _ => {}
            }
        }
    }

    /// Zab.tla `Leadership`: at most one member establishes each epoch.
    fn established(&mut self, at: u64, sid: ServerId, epoch: u32) {
        match self.zab.epoch_leader.get(&epoch) {
            Some(l) if *l != sid => {
                let detail =
                    format!("m{sid} established epoch {epoch}, which m{l} established before");
                self.fail(
                    at,
                    "Leadership",
                    detail,
                    vec![format!("m{sid}"), format!("m{l}")],
                );
            }
            Some(_) => {}
            None => {
                self.zab.epoch_leader.insert(epoch, sid);
            }
        }
    }

    /// A member's epoch files were written (durably).
    pub fn epochs_written(
        &mut self,
        at: u64,
        sid: ServerId,
        accepted: Option<u32>,
        current: Option<u32>,
    ) {
        let (a0, c0) = self.zab.epochs.get(&sid).copied().unwrap_or((0, 0));
        let a = accepted.unwrap_or(a0);
        let c = current.unwrap_or(c0);
        let focus = vec![format!("m{sid}")];
        if a < a0 || c < c0 {
            let detail =
                format!("m{sid} wrote epochs (accepted {a}, current {c}) after ({a0}, {c0})");
            self.fail(at, "EpochsNeverDecrease", detail, focus);
        } else if c > a {
            let detail = format!("m{sid} wrote currentEpoch {c} above its acceptedEpoch {a}");
            self.fail(at, "CurrentEpochNotAboveAccepted", detail, focus);
        }
        self.zab.epochs.insert(sid, (a, c));
    }

    /// A member restarted with these epoch files and this last zxid; with `marked`, its
    /// `updatingEpoch` marker was there, and currentEpoch may have been raised to the epoch
    /// of the last zxid (never above acceptedEpoch).
    pub fn recovered(
        &mut self,
        at: u64,
        sid: ServerId,
        epochs: (u32, u32),
        zxid: Zxid,
        marked: bool,
    ) {
        let adopted = |(a0, c0): (u32, u32)| {
            marked && epochs == (a0, zxid.epoch()) && zxid.epoch() > c0 && zxid.epoch() <= a0
        };
        if let Some(&written) = self.zab.epochs.get(&sid)
            && written != epochs
            && !adopted(written)
        {
            let detail = format!(
                "m{sid} restarted with epochs {epochs:?}, but last wrote {written:?} (durably)"
            );
            self.fail(at, "EpochFilesDurable", detail, vec![format!("m{sid}")]);
        }
        self.zab.epochs.insert(sid, epochs);
    }

    /// A member's process died.
    pub fn crashed(&mut self, sid: ServerId) {
        self.zab.serving.remove(&sid);
        self.zab.sync_floor.remove(&sid);
        self.zab.last_seen.remove(&sid);
        self.zab.mismatches.remove(&sid);
    }

    /// A member's state after an input; `durable` is what each voter's disk holds.
    pub fn observe(&mut self, at: u64, obs: &Observation, durable: &BTreeMap<ServerId, Zxid>) {
        let Observation {
            sid,
            state,
            serving,
            zxid,
            digest,
            mismatches,
        } = *obs;
        let before = self.zab.mismatches.insert(sid, mismatches).unwrap_or(0);
        if mismatches > before {
            let detail = format!(
                "m{sid} applied a txn and its tree's digest differs from the one its leader predicted (zxid {zxid})"
            );
            self.fail(at, "DigestMismatch", detail, vec![format!("m{sid}")]);
        }
        if !serving {
            self.zab.serving.remove(&sid);
            return;
        }
        if self.zab.last_seen.get(&sid) == Some(&(zxid, digest)) && self.zab.serving.contains(&sid)
        {
            return;
        }
        self.zab.last_seen.insert(sid, (zxid, digest));
        let resolved = self.chain.resolve(zxid);
        if self.zab.serving.insert(sid)
            && let Some(floor) = self.zab.sync_floor.remove(&sid)
            && state != PeerState::Leading
            && resolved.is_some_and(|z| z < floor)
        {
            let detail = format!(
                "m{sid} serves at {zxid}, without {floor}, acknowledged before its sync began"
            );
            self.fail(
                at,
                "UpToDateOnServe",
                detail,
                vec![format!("m{sid}"), format!("{floor}")],
            );
        }
        self.check_digest(at, sid, resolved, zxid, digest);
        self.check_quorum_durable(at, sid, resolved, durable);
        match self.chain.extend(zxid) {
            Ok(new) => self.committed(at, &new),
            Err(Fork::Unknown(z)) => {
                let detail = format!(
                    "m{sid} serves at {zxid}, whose history includes {z}, which no leader proposed after a known epoch head"
                );
                self.fail(at, "Integrity", detail, vec![format!("m{sid}")]);
            }
            Err(Fork::Branch {
                zxid: z,
                at: base,
                lost,
            }) => {
                let detail = format!(
                    "m{sid} serves at {zxid} ({z}), a history that leaves the committed one at {base} and lacks committed {lost:?}"
                );
                let mut focus = vec![format!("m{sid}")];
                focus.extend(lost.iter().map(|z| format!("{z}")));
                self.fail(at, "PrefixConsistency", detail, focus);
            }
        }
    }

    /// Zab: a txn is applied (committed) only once a quorum of voters has it durable.
    fn check_quorum_durable(
        &mut self,
        at: u64,
        sid: ServerId,
        resolved: Option<Zxid>,
        durable: &BTreeMap<ServerId, Zxid>,
    ) {
        let Some(z) = resolved.filter(|z| *z > self.chain.tip()) else {
            return;
        };
        let holders: Vec<ServerId> = durable
            .iter()
            .filter(|(_, d)| **d >= z)
            .map(|(s, _)| *s)
            .collect();
        // A quorum as the ensemble defines it: a majority of voters, or with hierarchical
        // quorums a majority of groups each with a majority of its weight; with
        // reconfigurations, of the voters of the configuration in force at `z`.
        if !self.quorum_may_hold(z, &holders) {
            let ensemble = self.committed_ensemble(z);
            let voters: Vec<ServerId> = ensemble.voters().collect();
            let detail = format!(
                "m{sid} serves {z}, but only {holders:?} of the voters {voters:?} hold it durably, no quorum{}: {durable:?}",
                if ensemble.hierarchy.is_some() {
                    " of groups"
                } else {
                    ""
                }
            );
            // A new leader's head is committed by the NEWLEADER quorum (finding 4: the
            // leader counted itself before its own log was durable).
            let focus = vec![format!("m{sid}"), format!("{z}")];
            let invariant = if self.chain.is_head(z) {
                "HeadNeedsQuorum"
            } else {
                "CommitNeedsQuorum"
            };
            self.fail(at, invariant, detail, focus);
        }
    }

    fn check_digest(
        &mut self,
        at: u64,
        sid: ServerId,
        resolved: Option<Zxid>,
        zxid: Zxid,
        digest: u64,
    ) {
        let Some(key) = resolved else {
            return;
        };
        match self.zab.digests.get(&key) {
            None => {
                self.zab.digests.insert(key, (digest, sid));
            }
            Some((d, _)) if *d == digest => {}
            Some((d, other)) => {
                let detail = format!(
                    "m{sid} serves zxid {zxid} with tree digest {digest:x}; m{other} had {d:x} there"
                );
                let focus = vec![format!("m{sid}"), format!("m{other}")];
                self.fail(at, "DigestAtZxid", detail, focus);
            }
        }
    }
}

/// A short description of a txn.
pub fn describe_txn(t: &menagerie_proto::txn::LoggedTxn) -> String {
    format!(
        "{:?} (session {:#x}, cxid {})",
        t.body.op(),
        t.header.client_id.0,
        t.header.cxid
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SimOptions;

    fn checker(voters: usize, hierarchical: bool) -> Checker {
        let members = (1..=voters as i64)
            .map(|s| {
                (
                    ServerId(s),
                    menagerie_core::ensemble::MemberRole::Participant,
                )
            })
            .collect();
        let mut ensemble = menagerie_core::ensemble::EnsembleConfig::new(members, String::new());
        if hierarchical {
            ensemble.hierarchy = Some(crate::sim::hierarchy(voters));
        }
        Checker::new(&ensemble, &SimOptions::new(0))
    }

    /// Which voters hold `z` durably: the others hold nothing.
    fn durable(holders: &[i64], voters: i64, z: Zxid) -> BTreeMap<ServerId, Zxid> {
        (1..=voters)
            .map(|s| {
                let d = if holders.contains(&s) { z } else { Zxid::ZERO };
                (ServerId(s), d)
            })
            .collect()
    }

    fn commit_allowed(c: &mut Checker, holders: &[i64]) -> bool {
        let z = Zxid::new(1, 1);
        c.check_quorum_durable(0, ServerId(1), Some(z), &durable(holders, 5, z));
        c.take_violation().is_none()
    }

    #[test]
    fn durability_counts_quorums_as_the_ensemble_defines_them() {
        // Majorities: three of five.
        assert!(commit_allowed(&mut checker(5, false), &[2, 3, 4]));
        assert!(!commit_allowed(&mut checker(5, false), &[1, 5]));
        // Groups {1, 2}, {3, 4}, {5}, voter 2 of weight 0: two groups with a majority of
        // their weight each.
        assert!(commit_allowed(&mut checker(5, true), &[1, 5]));
        assert!(commit_allowed(&mut checker(5, true), &[3, 4, 5]));
        assert!(!commit_allowed(&mut checker(5, true), &[2, 3, 4]));
        assert!(!commit_allowed(&mut checker(5, true), &[2, 3, 5]));
    }
}
