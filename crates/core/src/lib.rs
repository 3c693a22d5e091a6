//! Menagerie's deterministic core.
//!
//! # Theory of operation
//!
//! The core is ZooKeeper's server logic as a pure state machine: no sockets, files, clocks,
//! threads or global random numbers. The shell (the `menagerie-server` crate, or a test, or
//! later the simulator) feeds it [`Input`]s together with the current time ([`Now`]) and
//! carries out the [`Output`]s it returns, in order.
//!
//! A write travels the path every ZooKeeper server uses, so that the replicated ensemble can
//! reuse it with Zab in the middle:
//!
//! 1. **prep** ([`prep`]) validates the request against the latest pending state, assigns the
//!    next zxid and builds an idempotent txn (failed writes become error txns and still
//!    consume their zxid);
//! 2. **persist**: the core emits [`Output::Persist`]; the shell makes the txn durable and
//!    answers [`Input::Persisted`]; nothing is applied or acknowledged before that;
//! 3. **apply** ([`apply`]) executes the txn on the [`tree::DataTree`];
//! 4. watch notifications ([`watch`]) are emitted, then the reply.
//!
//! Reads are answered from the tree at once unless the same connection has writes in flight,
//! in which case they wait behind them: replies always leave in request order.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod acl;
pub mod apply;
pub mod auth;
pub mod digest_log;
pub mod io;
pub mod path;
pub mod prep;
pub mod quota;
pub mod reaper;
pub mod sasl;
pub mod server;
pub mod session;
pub mod tree;
pub mod txn;
pub mod walk;
pub mod watch;

pub use io::{BadRequest, ConnId, Input, Now, Output};
pub use server::{CoreConfig, Server};
