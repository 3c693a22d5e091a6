//! The admin port's HTTP surface on hyper/axum: ZooKeeper's AdminServer commands, Prometheus
//! metrics and probes (the paths ZooKeeper tools already use), the REST gateway under
//! `/api/v1` and the web console under `/console`; optional TLS with client certificates.
//!
//! * [`listener`]: binding, TLS and port unification, one hyper connection per socket
//!   (HTTP/1.1 with keep-alive and HTTP/2), graceful shutdown.
//! * [`admin_routes`]: `admin.commandURL`, `/metrics`, `/ready`, `/health`.
//! * [`auth`]: who is calling (`Authorization` header, client certificate, peer address)
//!   and the permission rule of each AdminServer command.
//! * [`metrics`]: the Prometheus exposition (prometheus-client).
//! * [`queries`]: the questions the HTTP tasks ask the shell task, and their answers.
//! * [`state`]: what every handler shares, and how it asks the shell.
//! * [`target`]: request targets and query strings decoded.
//! * [`gateway`]: znodes as REST resources, each caller a ZooKeeper session of its own.
//! * [`guard`]: refusal of cross-site browser requests and DNS rebinding.
//! * [`console`]: the web console's files, compiled into the binary.
//!
//! Nothing here touches the core: every question goes to the shell task as a message
//! ([`crate::shell::ToShell::Admin`], or client inputs of a virtual connection for the
//! gateway) and is answered between client inputs.

pub mod admin_routes;
pub mod auth;
pub mod console;
pub mod gateway;
pub mod guard;
pub mod listener;
pub mod metrics;
pub mod queries;
pub mod restore;
pub mod sessions_view;
pub mod state;
pub mod target;

pub use listener::{BindError, Listeners};
