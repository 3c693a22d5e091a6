//! Dynamic reconfiguration on a node (ZooKeeper: `PrepRequestProcessor`'s reconfig case,
//! `QuorumPeer.processReconfig`; spec 09 §10): the leader preps a reconfig request into a
//! txn that sets `/zookeeper/config`, and every member activates a committed (or, while
//! looking, a newer gossiped) configuration.

use std::sync::Arc;

use menagerie_proto::ErrorCode;
use menagerie_proto::ServerId;
use menagerie_proto::records::{ReconfigRequest, perms};
use menagerie_proto::txn::{SetDataTxn, TxnBody};

use super::Node;
use super::ensemble::Role;
use crate::auth::check_acl;
use crate::config_text::{ConfigText, ServerSpec};
use crate::ensemble::{EnsembleConfig, MemberRole};
use crate::input::Now;
use crate::output::Output;
use crate::proposer::Requester;
use crate::replica::Replica;
use crate::zab::action::Actions;

/// The node that holds the configuration.
const CONFIG_NODE: &str = "/zookeeper/config";

impl Node {
    /// A reconfig request reaching the leader (from its own client or forwarded): proposed
    /// as a reconfig txn, or as an error txn saying why not.
    pub(super) fn submit_reconfig(
        &mut self,
        now: Now,
        who: Requester<'_>,
        r: &ReconfigRequest,
        out: &mut Vec<Output>,
    ) {
        let zxid = self.proposer.last_zxid().next();
        let tree = self.replica.tree();
        match self.prep_reconfig(r, who.ids, zxid.0) {
            Ok(config) => {
                let body = TxnBody::Reconfig(SetDataTxn {
                    path: CONFIG_NODE.into(),
                    data: Some(config.config_text.as_bytes().to_vec()),
                    version: -1,
                });
                let txn = self.proposer.propose_body(tree, now, who, body);
                let mut acts = Actions::new();
                if let Role::Leading(l) = &mut self.role {
                    tracing::info!(zxid = %txn.zxid(), "proposing a reconfiguration");
                    l.propose_reconfig(Arc::new(txn), config, &mut acts);
                }
                self.exec(now, acts, out);
            }
            Err(e) => {
                let txn = self.proposer.propose_error(tree, now, who, e);
                self.propose(now, txn, out);
            }
        }
    }

    /// The checks of ZooKeeper's prep, in its order; the new configuration, versioned by
    /// the txn's zxid.
    fn prep_reconfig(
        &self,
        r: &ReconfigRequest,
        ids: &[menagerie_proto::records::Id],
        version: i64,
    ) -> Result<EnsembleConfig, ErrorCode> {
        let (Some(zab), Role::Leading(leader)) = (&self.zab, &self.role) else {
            return Err(ErrorCode::ReconfigDisabled);
        };
        let current = &zab.config;
        if !current.reconfig_enabled {
            return Err(ErrorCode::ReconfigDisabled);
        }
        if self.config.auth.skip_acl {
            tracing::warn!("skipACL is set, reconfig operation will skip ACL checks!");
        }
        if leader.reconfig_in_progress() {
            return Err(ErrorCode::ReconfigInProgress);
        }
        if r.cur_config_id != -1 && r.cur_config_id != current.config_version {
            return Err(ErrorCode::BadVersion);
        }
        let mut next = match &r.new_members {
            None => incremental(current, r)?,
            Some(members) => ConfigText::parse(&members.replace(',', "\n"))
                .map_err(|_| ErrorCode::BadArguments)?,
        };
        next.version = version;
        let voters = next
            .servers
            .values()
            .filter(|s| s.role == MemberRole::Participant)
            .count();
        if voters < 2 {
            // ZooKeeper with standaloneEnabled (the default): at least 2 followers.
            return Err(ErrorCode::BadArguments);
        }
        let config = next.applied_to(current);
        if !leader.quorum_synced(&config) {
            return Err(ErrorCode::NewConfigNoQuorum);
        }
        let tree = self.replica.tree();
        let acl = tree.get(CONFIG_NODE).map(|n| tree.acl(n).to_vec());
        if !check_acl(
            &acl.unwrap_or_default(),
            perms::WRITE,
            ids,
            self.config.auth.skip_acl,
        ) {
            return Err(ErrorCode::NoAuth);
        }
        Ok(config)
    }

    /// Activates `text` if it is a newer configuration than this member's (and reconfig
    /// is enabled); the role ends if the member's place changed or another member is to
    /// lead it.
    pub(super) fn activate(
        &mut self,
        now: Now,
        text: &str,
        designated: ServerId,
        out: &mut Vec<Output>,
    ) {
        let me = self.config.server_id;
        let Some(zab) = self.zab.as_mut() else {
            return;
        };
        if !zab.config.reconfig_enabled {
            return;
        }
        let parsed = match ConfigText::parse(text) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "configuration not activated");
                return;
            }
        };
        if parsed.version <= zab.config.config_version {
            return;
        }
        let old_role = zab.config.members.get(&me).copied();
        zab.config = parsed.applied_to(&zab.config);
        let new_role = zab.config.members.get(&me).copied();
        tracing::info!(version = %format_args!("{:x}", parsed.version), designated = %designated,
            members = %zab.config.config_text.replace('\n', " "), "configuration activated");
        let text = zab.config.config_text.clone();
        out.push(Output::ConfigActivated {
            text: text.clone(),
            version: parsed.version,
        });
        let stale = self
            .replica
            .tree()
            .get(CONFIG_NODE)
            .is_none_or(|n| n.data() != Some(text.as_bytes()));
        if stale {
            self.replica.set_config_node(&text, now.wall_ms);
        }
        self.after_activation(now, designated, old_role != new_role, out);
    }

    /// What an activated configuration means for the role.
    fn after_activation(
        &mut self,
        now: Now,
        designated: ServerId,
        role_changed: bool,
        out: &mut Vec<Output>,
    ) {
        let me = self.config.server_id;
        let mut acts = Actions::new();
        match (&mut self.role, &self.zab) {
            (Role::Leading(_), _) if role_changed || designated != me => {
                self.step_down(now, "a reconfiguration designated another leader", out);
                return;
            }
            (Role::Leading(l), Some(zab)) => l.activated(&zab.config, &mut acts),
            (Role::Learning(l), _) if role_changed || designated != l.leader() => {
                self.step_down(
                    now,
                    "a reconfiguration changed this member's role or leader",
                    out,
                );
                return;
            }
            (Role::Looking, _) => {
                self.start_election(now, out);
                return;
            }
            _ => {}
        }
        self.exec(now, acts, out);
    }

    /// A notification's configuration, while looking: a newer one is adopted (ZooKeeper's
    /// `WorkerReceiver` calls `processReconfig` and restarts the election).
    pub(super) fn gossiped_config(&mut self, now: Now, config: &[u8], out: &mut Vec<Output>) {
        let Some(zab) = &self.zab else {
            return;
        };
        if !zab.config.reconfig_enabled || !matches!(self.role, Role::Looking) || config.is_empty()
        {
            return;
        }
        let text = String::from_utf8_lossy(config);
        if ConfigText::parse(&text).is_ok_and(|c| c.version > zab.config.config_version) {
            let me = self.config.server_id;
            self.activate(now, &text, me, out);
        }
    }
}

/// A reconfiguration in the history a new leader brings (its tree has applied its whole
/// log) that is newer than its active configuration: proposed, its commit never seen here
/// (ZooKeeper's last seen quorum verifier). `None` without reconfig enabled.
pub(super) fn last_seen_config(
    replica: &Replica,
    active: &EnsembleConfig,
) -> Option<EnsembleConfig> {
    if !active.reconfig_enabled {
        return None;
    }
    let data = replica.tree().get(CONFIG_NODE)?.data()?;
    let parsed = ConfigText::parse(std::str::from_utf8(data).ok()?).ok()?;
    (parsed.version > active.config_version).then(|| parsed.applied_to(active))
}

/// ZooKeeper's incremental reconfiguration: the last configuration (majorities only),
/// minus the leaving servers, plus (or replacing) the joining ones.
fn incremental(current: &EnsembleConfig, r: &ReconfigRequest) -> Result<ConfigText, ErrorCode> {
    if current.hierarchy.is_some() {
        return Err(ErrorCode::BadArguments);
    }
    let mut next = ConfigText::parse(&current.config_text).map_err(|_| ErrorCode::BadArguments)?;
    for leaving in split(r.leaving_servers.as_deref()) {
        let sid: i64 = leaving.parse().map_err(|_| ErrorCode::BadArguments)?;
        next.servers.remove(&ServerId(sid));
    }
    for joiner in split(r.joining_servers.as_deref()) {
        let parts: Vec<&str> = joiner.split('=').filter(|p| !p.is_empty()).collect();
        let [key, value] = parts[..] else {
            return Err(ErrorCode::BadArguments);
        };
        let sid: i64 = key[key.rfind('.').map_or(0, |i| i + 1)..]
            .trim()
            .parse()
            .map_err(|_| ErrorCode::BadArguments)?;
        let spec = ServerSpec::parse(value).map_err(|_| ErrorCode::BadArguments)?;
        if spec.client.is_none() {
            // "each server should have at least 3 ports specified"
            return Err(ErrorCode::BadArguments);
        }
        let clash = next.servers.iter().any(|(other, s)| {
            *other != ServerId(sid)
                && s.addrs.iter().any(|(h, q, e)| {
                    spec.addrs
                        .iter()
                        .any(|(h2, q2, e2)| h == h2 && (q == q2 || e == e2 || q == e2 || e == q2))
                })
        });
        if clash {
            return Err(ErrorCode::BadArguments);
        }
        next.servers.insert(ServerId(sid), spec);
    }
    Ok(next)
}

/// ZooKeeper's `StringUtils.split(s, ",")`: trimmed, empty pieces dropped.
fn split(s: Option<&str>) -> impl Iterator<Item = &str> {
    s.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
}
