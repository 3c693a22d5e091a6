//! Tools that talk to a ZooKeeper-compatible server over the wire (a small async client and
//! the load generator behind `menagerie bench`) and that read its data directory
//! (`menagerie inspect`).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod bench;
pub mod chroot;
pub mod cli;
pub mod client;
pub mod inspect;
pub mod pipeline;
pub mod sasl;
pub mod security;
