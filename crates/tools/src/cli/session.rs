//! The shell's connection: which server, the live client, its state for the prompt, and the
//! task that prints watch notifications (or hands them to a running `watch` command).

use std::collections::HashSet;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use menagerie_proto::records::{SetWatches2, WatcherEvent};
use menagerie_proto::request::Request;
use tokio::sync::mpsc;

use super::args::MainArgs;
use super::format::{event_text, validate_path};
use crate::client::{Client, ClientError, Resume};
use crate::security::ClientSecurity;

/// Where command output goes: zkCli writes some things to stdout and some to stderr.
pub struct Io<'a> {
    /// Standard output.
    pub out: &'a mut dyn Write,
    /// Standard error.
    pub err: &'a mut dyn Write,
}

/// Prints one watch notification block (the text has its own newlines).
pub type Printer = Arc<dyn Fn(&str) + Send + Sync>;

/// Connection states as zkCli shows them in its prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ConnState {
    /// Never connected (or the last connect failed).
    NotConnected = 0,
    /// A live session.
    Connected = 1,
    /// Closed by `close`, or the session expired.
    Closed = 2,
    /// The connection was lost; resuming the session.
    Connecting = 3,
}

impl ConnState {
    /// The name zkCli prints (`ZooKeeper.States`).
    pub fn name(self) -> &'static str {
        match self {
            ConnState::NotConnected => "NOT_CONNECTED",
            ConnState::Connected => "CONNECTED",
            ConnState::Closed => "CLOSED",
            ConnState::Connecting => "CONNECTING",
        }
    }

    fn from_u8(v: u8) -> ConnState {
        match v {
            1 => ConnState::Connected,
            2 => ConnState::Closed,
            3 => ConnState::Connecting,
            _ => ConnState::NotConnected,
        }
    }
}

/// The watches this shell has set, as the Java client's watch manager tracks them: it is
/// what `removewatches` reports as removed (`DataWatchRemoved`, ...).
#[derive(Debug, Default)]
pub struct Watches {
    data: HashSet<String>,
    exist: HashSet<String>,
    child: HashSet<String>,
    persistent: HashSet<String>,
    recursive: HashSet<String>,
}

/// Kinds of watch a command sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchKind {
    /// getData (and exists on an existing node).
    Data,
    /// exists on a missing node.
    Exist,
    /// getChildren.
    Child,
    /// addWatch PERSISTENT.
    Persistent,
    /// addWatch PERSISTENT_RECURSIVE.
    Recursive,
}

impl Watches {
    /// Records a watch set on `path`.
    pub fn add(&mut self, kind: WatchKind, path: &str) {
        let set = match kind {
            WatchKind::Data => &mut self.data,
            WatchKind::Exist => &mut self.exist,
            WatchKind::Child => &mut self.child,
            WatchKind::Persistent => &mut self.persistent,
            WatchKind::Recursive => &mut self.recursive,
        };
        set.insert(path.to_string());
    }

    /// Forgets the one-shot watches an event fired.
    pub fn fired(&mut self, e: &WatcherEvent) {
        match e.event_type {
            1 | 3 => {
                self.data.remove(&e.path);
                self.exist.remove(&e.path);
            }
            4 => {
                self.child.remove(&e.path);
            }
            2 => {
                self.data.remove(&e.path);
                self.exist.remove(&e.path);
                self.child.remove(&e.path);
            }
            _ => {}
        }
    }

    /// The watched paths: data, exist, child, persistent, persistent recursive.
    pub fn lists(&self) -> [Vec<String>; 5] {
        let v = |s: &HashSet<String>| s.iter().cloned().collect::<Vec<_>>();
        [
            v(&self.data),
            v(&self.exist),
            v(&self.child),
            v(&self.persistent),
            v(&self.recursive),
        ]
    }

    /// Removes the watches of `watcher_type` (1 children, 2 data, 3 any) on `path`;
    /// returns the event types to report (5 DataWatchRemoved, 6 ChildWatchRemoved,
    /// 7 PersistentWatchRemoved), empty if there was none.
    pub fn remove(&mut self, path: &str, watcher_type: i32) -> Vec<i32> {
        let mut events = Vec::new();
        if matches!(watcher_type, 1 | 3) && self.child.remove(path) {
            events.push(6);
        }
        if matches!(watcher_type, 2 | 3) {
            let d = self.data.remove(path);
            let x = self.exist.remove(path);
            if d || x {
                events.push(5);
            }
        }
        if watcher_type == 3 {
            let p = self.persistent.remove(path);
            let r = self.recursive.remove(path);
            if p || r {
                events.push(7);
            }
        }
        events
    }
}

/// State shared with the event task.
pub struct Shared {
    /// The watches set through this shell.
    pub watches: Mutex<Watches>,
    /// `printwatches on|off`.
    pub print_watches: AtomicBool,
    state: AtomicU8,
    /// A running `watch` command takes the events instead of the printer.
    pub subscriber: Mutex<Option<mpsc::UnboundedSender<WatcherEvent>>>,
    printer: Mutex<Printer>,
    /// The chroot of the connect string: taken off event paths.
    chroot: Mutex<Option<String>>,
}

impl Shared {
    /// New shared state printing events with `printer`.
    pub fn new(printer: Printer) -> Arc<Shared> {
        Arc::new(Shared {
            print_watches: AtomicBool::new(true),
            state: AtomicU8::new(ConnState::NotConnected as u8),
            subscriber: Mutex::new(None),
            watches: Mutex::new(Watches::default()),
            printer: Mutex::new(printer),
            chroot: Mutex::new(None),
        })
    }

    /// The current connection state.
    pub fn state(&self) -> ConnState {
        ConnState::from_u8(self.state.load(Ordering::SeqCst))
    }

    fn set_state(&self, s: ConnState) {
        self.state.store(s as u8, Ordering::SeqCst);
    }

    /// Delivers one event: to a `watch` command if one runs, else printed (if enabled).
    pub fn deliver(&self, mut e: WatcherEvent) {
        if let Ok(c) = self.chroot.lock()
            && let Some(root) = c.as_deref()
            && e.event_type != -1
        {
            e.path = crate::chroot::strip(root, &e.path);
        }
        if let Ok(mut w) = self.watches.lock() {
            w.fired(&e);
        }
        if let Ok(sub) = self.subscriber.lock()
            && let Some(tx) = sub.as_ref()
            && tx.send(e.clone()).is_ok()
        {
            return;
        }
        if self.print_watches.load(Ordering::SeqCst)
            && let Ok(p) = self.printer.lock()
        {
            p(&format!("\nWATCHER::\n\n{}\n", event_text(&e)));
        }
    }
}

/// One shell's connection to the ensemble.
pub struct Session {
    /// The flags the shell was started with.
    pub opts: MainArgs,
    /// The connect string in use (`host:port[,host:port]`).
    pub host: String,
    /// The current client (replaced when a lost connection is resumed).
    slot: Arc<Mutex<Option<Arc<Client>>>>,
    /// Bumped by every `connect` / `close`: a reconnecting task of an older session stops.
    generation: Arc<AtomicU64>,
    /// State shared with the event task.
    pub shared: Arc<Shared>,
    /// Print the connection's own `SyncConnected` event (interactive shells do).
    pub announce: bool,
    /// TLS and SASL settings (`-client-configuration`, `CLIENT_JVMFLAGS`).
    pub security: Arc<ClientSecurity>,
}

/// A connection event (type None) with the given state.
fn state_event(state: i32) -> WatcherEvent {
    WatcherEvent {
        event_type: -1,
        state,
        path: String::new(),
    }
}

/// The addresses of a connect string.
fn addresses(host: &str) -> Vec<String> {
    host.split(',')
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty())
        .collect()
}

/// Tries the addresses in turn (pausing after each round) until one accepts or `deadline`.
async fn dial(
    addrs: &[String],
    timeout: Duration,
    deadline: Instant,
    read_only: bool,
    resume: Option<&Resume>,
    security: &ClientSecurity,
) -> Result<Client, String> {
    let mut attempt = 0usize;
    loop {
        let addr = &addrs[attempt % addrs.len()];
        attempt += 1;
        let left = deadline.saturating_duration_since(Instant::now());
        let last = match tokio::time::timeout(
            left.max(Duration::from_millis(10)),
            Client::connect_secure(addr, timeout, read_only, resume, security),
        )
        .await
        {
            Ok(Ok(c)) => return Ok(c),
            Ok(Err(ClientError::SessionExpired)) => return Err("expired".into()),
            Ok(Err(e @ ClientError::Auth(_))) => return Err(format!("{addr}: {e}")),
            Ok(Err(e)) => format!("{addr}: {e}"),
            Err(_) => format!("{addr}: timed out"),
        };
        if Instant::now() >= deadline {
            return Err(last);
        }
        if attempt.is_multiple_of(addrs.len()) {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// What the event task needs to resume a lost connection.
struct Pump {
    shared: Arc<Shared>,
    slot: Arc<Mutex<Option<Arc<Client>>>>,
    generation: Arc<AtomicU64>,
    mine: u64,
    addrs: Vec<String>,
    read_only: bool,
    chroot: Option<String>,
    security: Arc<ClientSecurity>,
}

impl Pump {
    fn current(&self) -> bool {
        self.generation.load(Ordering::SeqCst) == self.mine
    }

    /// Delivers the client's events; when its connection drops, resumes the session on
    /// any address (as the Java client does: Disconnected, then SyncConnected with the
    /// watches set again, or Expired).
    async fn run(self, mut client: Arc<Client>) {
        loop {
            let Some(mut rx) = client.take_events() else {
                return;
            };
            while let Some(e) = rx.recv().await {
                self.shared.deliver(e);
            }
            if !self.current() || self.shared.state() != ConnState::Connected {
                return;
            }
            self.shared.set_state(ConnState::Connecting);
            self.shared.deliver(state_event(0));
            let resume = client.resume_info();
            let timeout = Duration::from_millis(client.timeout_ms().max(1) as u64);
            let deadline = Instant::now() + timeout;
            let next = dial(
                &self.addrs,
                timeout,
                deadline,
                self.read_only,
                Some(&resume),
                &self.security,
            )
            .await;
            if !self.current() {
                return;
            }
            let Ok(next) = next else {
                self.shared.set_state(ConnState::Closed);
                if let Ok(mut s) = self.slot.lock() {
                    *s = None;
                }
                self.shared.deliver(state_event(-112));
                return;
            };
            let next = Arc::new(next.with_chroot(self.chroot.clone()));
            let watches = match self.shared.watches.lock() {
                Ok(w) => w.lists(),
                Err(_) => Default::default(),
            };
            if watches.iter().any(|l| !l.is_empty()) {
                let [data, exist, child, persistent, recursive] = watches;
                let r = Request::SetWatches2(SetWatches2 {
                    relative_zxid: resume.last_zxid,
                    data_watches: data,
                    exist_watches: exist,
                    child_watches: child,
                    persistent_watches: persistent,
                    persistent_recursive_watches: recursive,
                });
                let _ = next.call(r).await;
            }
            if let Ok(mut s) = self.slot.lock() {
                *s = Some(Arc::clone(&next));
            }
            self.shared.set_state(ConnState::Connected);
            self.shared.deliver(state_event(3));
            client = next;
        }
    }
}

impl Session {
    /// A session that is not connected yet.
    pub fn new(opts: MainArgs, printer: Printer) -> Session {
        Session {
            host: opts.server.clone(),
            opts,
            slot: Arc::default(),
            generation: Arc::default(),
            shared: Shared::new(printer),
            announce: false,
            security: Arc::default(),
        }
    }

    /// The connection state.
    pub fn state(&self) -> ConnState {
        self.shared.state()
    }

    /// Prints watch notifications with `p` from now on.
    pub fn shared_printer(&self, p: Printer) {
        if let Ok(mut cur) = self.shared.printer.lock() {
            *cur = p;
        }
    }

    fn current(&self) -> Option<Arc<Client>> {
        self.slot.lock().ok().and_then(|s| s.clone())
    }

    /// The live client, if connected.
    pub fn live(&self) -> Option<Arc<Client>> {
        match self.state() {
            ConnState::Connected => self.current(),
            _ => None,
        }
    }

    /// The live client; while a lost connection is being resumed, waits for the outcome
    /// (at most the session timeout).
    pub async fn live_wait(&self) -> Option<Arc<Client>> {
        let deadline = Instant::now() + Duration::from_millis(self.opts.timeout_ms.max(1));
        while self.state() == ConnState::Connecting && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.live()
    }

    /// Closes the current session (if any) and connects to `host` (a connect string),
    /// trying each address in turn until one accepts or the session timeout has passed.
    pub async fn connect(&mut self, host: &str) -> Result<(), String> {
        self.close().await;
        self.host = host.to_string();
        let (hosts, chroot) = crate::chroot::split_connect_string(host);
        if let Some(root) = chroot {
            validate_path(root).map_err(|e| format!("invalid chroot in {host}: {e}"))?;
        }
        let chroot = chroot.map(str::to_string);
        let addrs = addresses(hosts);
        if addrs.is_empty() {
            return Err(format!("no server address in {host:?}"));
        }
        if let Ok(mut c) = self.shared.chroot.lock() {
            c.clone_from(&chroot);
        }
        let timeout = Duration::from_millis(self.opts.timeout_ms.max(1));
        let deadline = Instant::now() + timeout;
        let client = dial(
            &addrs,
            timeout,
            deadline,
            self.opts.read_only,
            None,
            &self.security,
        )
        .await
        .map_err(|last| format!("KeeperErrorCode = ConnectionLoss ({last})"))?;
        let client = Arc::new(client.with_chroot(chroot.clone()));
        if let Ok(mut w) = self.shared.watches.lock() {
            *w = Watches::default();
        }
        if let Ok(mut s) = self.slot.lock() {
            *s = Some(Arc::clone(&client));
        }
        self.shared.set_state(ConnState::Connected);
        if self.announce {
            self.shared.deliver(state_event(3));
        }
        let pump = Pump {
            shared: Arc::clone(&self.shared),
            slot: Arc::clone(&self.slot),
            generation: Arc::clone(&self.generation),
            mine: self.generation.load(Ordering::SeqCst),
            addrs,
            read_only: self.opts.read_only,
            chroot,
            security: Arc::clone(&self.security),
        };
        tokio::spawn(pump.run(client));
        Ok(())
    }

    /// Closes the session (`close`): its ephemerals go, the prompt shows CLOSED.
    pub async fn close(&mut self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        let client = self.slot.lock().ok().and_then(|mut s| s.take());
        let was_live = self.state() == ConnState::Connected;
        if client.is_some() || self.state() == ConnState::Connecting {
            self.shared.set_state(ConnState::Closed);
        }
        if let Some(c) = client
            && was_live
        {
            let _ = c.close().await;
            if self.announce {
                self.shared.deliver(state_event(7));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(event_type: i32, path: &str) -> WatcherEvent {
        WatcherEvent {
            event_type,
            state: 3,
            path: path.into(),
        }
    }

    #[test]
    fn watches_are_tracked_like_the_java_client() {
        let mut w = Watches::default();
        w.add(WatchKind::Data, "/a");
        w.add(WatchKind::Child, "/a");
        w.add(WatchKind::Persistent, "/p");
        // a data change fires the data watch only
        w.fired(&ev(3, "/a"));
        assert_eq!(w.remove("/a", 2), Vec::<i32>::new());
        assert_eq!(w.remove("/a", 3), vec![6]);
        assert_eq!(w.remove("/a", 3), Vec::<i32>::new());
        // persistent watches survive their events and are removed only with "any"
        w.fired(&ev(2, "/p"));
        assert_eq!(w.remove("/p", 1), Vec::<i32>::new());
        assert_eq!(w.remove("/p", 3), vec![7]);
        w.add(WatchKind::Exist, "/x");
        assert_eq!(w.remove("/x", 2), vec![5]);
        assert_eq!(ConnState::Connected.name(), "CONNECTED");
    }
}
