//! Menagerie's deterministic core.
//!
//! # Theory of operation
//!
//! The core is ZooKeeper's server logic as a pure state machine: no sockets, files, clocks,
//! threads or global random numbers. The shell (the `menagerie-server` crate, a test, or the
//! simulator) feeds a [`Node`] [`Input`]s together with the current time ([`Now`]) and carries
//! out the [`Output`]s it returns, in order.
//!
//! A [`Node`] is made of parts that each own their state (see [`node`]):
//!
//! 1. the **front** ([`front`]) takes a client's request; a read is answered from the tree
//!    (after any write of the same connection still in flight), a write goes on;
//! 2. the **proposer** ([`proposer`], with [`prep`]) validates the write against the latest
//!    *pending* state ([`pending`]), assigns the next zxid and builds an idempotent txn
//!    (failed writes become error txns and still consume their zxid);
//! 3. **persist**: the node emits [`Output::Persist`]; the shell makes the txn durable and
//!    answers [`Input::Persisted`]; nothing is applied or acknowledged before that;
//! 4. the **replica** ([`replica`], with [`apply`]) applies it to the [`tree::DataTree`];
//! 5. the **notifier** ([`notify`]) turns the changes into watch events, then the front sends
//!    the reply, matched to the request by (session, cxid).
//!
//! The replicated ensemble puts Zab between 3 and 4: a txn commits once a quorum has it
//! durable; followers get txns from the leader and their clients' writes are matched to the
//! leader's txns by (session, cxid) exactly as above.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod acl;
pub mod apply;
pub mod auth;
pub mod config;
pub mod config_text;
pub mod digest_log;
pub mod ensemble;
pub mod front;
pub mod input;
pub mod listing;
pub mod node;
pub mod notify;
pub mod output;
pub mod path;
pub mod pending;
pub mod planted;
pub mod prep;
pub mod proposer;
pub mod quota;
pub mod reaper;
pub mod replica;
pub mod sasl;
pub mod session;
pub mod snap_stream;
pub mod snapshot_policy;
pub mod tree;
pub mod walk;
pub mod watch;
pub mod zab;

pub use config::CoreConfig;
pub use front::{ConnInfo, ConnStats, Latency, LatencyHistogram, Stats};
pub use input::{BadRequest, ConnId, Input, Now, SnapshotEnd};
pub use node::Node;
pub use node::views::SessionInfo;
pub use output::{Output, SnapshotMode};
