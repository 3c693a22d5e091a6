//! Zab, ZooKeeper's atomic broadcast, as pure state machines (spec 09): [`election`] (Fast
//! Leader Election), and the leader's and learners' phases of discovery, synchronisation and
//! broadcast. Names follow the Zab papers, `Zab.tla` and the Java classes they port.
//!
//! Zab knows no tree: it orders opaque txns and tells the node what to persist, send and
//! commit.

pub mod action;
pub mod committed_log;
pub mod election;
pub mod leader;
pub mod learner;
pub mod vote;
