//! Simulated ZooKeeper clients. Each client keeps one session at a time and talks to one
//! member over a client link, as the Java client does: it connects to a member at random,
//! resumes its session elsewhere when the connection breaks (sending the last zxid it saw),
//! pings when idle, gives up on a silent connection after two thirds of the session timeout,
//! and pipelines a few requests. Now and then a client stops for longer than its session
//! timeout (a long GC pause), so that the leader expires its session, or closes its session
//! itself.

mod client;
pub mod ops;

pub use client::{Client, Conn};
pub use ops::{Mode, Op};
