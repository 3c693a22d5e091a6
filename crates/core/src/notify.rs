//! Applied changes -> watch events (ZooKeeper: the `triggerWatch` calls of
//! `DataTree.createNode` / `deleteNode` / `setData`).
//!
//! Events of one txn go out in change order, then connection order. A triggered connection
//! without READ on the node concerned (judged by the ACL at the time of the change) loses
//! its one-shot watch but hears nothing (ZooKeeper 3.8.4+, CVE-2024-23944).

use std::collections::BTreeSet;

use menagerie_proto::Zxid;
use menagerie_proto::records::{WatcherEvent, perms};

use crate::apply::{Change, ReadAcl};
use crate::auth::check_acl;
use crate::front::Front;
use crate::front::reads::SYNC_CONNECTED;
use crate::input::ConnId;
use crate::output::Output;
use crate::path;
use crate::watch::{EventType, Table, WatchManager};

/// Fires the watches `changes` trigger and emits their events.
pub struct Notifier<'a> {
    /// The registry.
    pub watches: &'a mut WatchManager,
    /// Connections, for the READ check.
    pub front: &'a Front,
    /// `zookeeper.skipACL=yes`.
    pub skip_acl: bool,
    /// The txn's zxid (in every event's header).
    pub zxid: Zxid,
}

impl Notifier<'_> {
    /// Emits the events of one applied txn.
    pub fn notify(&mut self, changes: &[Change], out: &mut Vec<Output>) {
        let none = BTreeSet::new();
        for change in changes {
            match change {
                Change::Created {
                    path: p,
                    acl,
                    parent_acl,
                } => {
                    self.fire(out, Table::Data, p, EventType::Created, &none, acl);
                    self.children_changed(out, p, parent_acl);
                }
                Change::Deleted {
                    path: p,
                    acl,
                    parent_acl,
                } => {
                    // A connection watching both data and children hears NodeDeleted once.
                    let data = self.fire(out, Table::Data, p, EventType::Deleted, &none, acl);
                    self.fire(out, Table::Child, p, EventType::Deleted, &data, acl);
                    self.children_changed(out, p, parent_acl);
                }
                Change::DataChanged { path: p, acl } => {
                    self.fire(out, Table::Data, p, EventType::DataChanged, &none, acl);
                }
            }
        }
    }

    fn children_changed(&mut self, out: &mut Vec<Output>, child: &str, parent_acl: &ReadAcl) {
        let parent = path::parent(child);
        let none = BTreeSet::new();
        let event = EventType::ChildrenChanged;
        self.fire(out, Table::Child, parent, event, &none, parent_acl);
    }

    /// Triggers `event` on `path` in `table` (skipping `skip`), emits the notifications and
    /// returns who was triggered.
    fn fire(
        &mut self,
        out: &mut Vec<Output>,
        table: Table,
        path: &str,
        event: EventType,
        skip: &BTreeSet<ConnId>,
        acl: &ReadAcl,
    ) -> BTreeSet<ConnId> {
        let mut fired = self.watches.trigger(table, path, event, skip);
        if let Some(acl) = acl {
            let (front, skip_acl) = (self.front, self.skip_acl);
            fired.retain(|&conn| check_acl(acl, perms::READ, front.ids(conn), skip_acl));
        }
        for &conn in &fired {
            out.push(Output::Notify {
                conn,
                zxid: self.zxid,
                event: WatcherEvent {
                    event_type: event as i32,
                    state: SYNC_CONNECTED,
                    path: path.to_owned(),
                },
            });
        }
        fired
    }
}
