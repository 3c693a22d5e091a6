//! The REST gateway (`/api/v1`): znodes as HTTP resources, each caller a ZooKeeper session.
//!
//! * [`session`]: one virtual connection into the core, opened as a native client would.
//! * [`znodes`]: `/api/v1/znodes/<path>`: GET (data, JSON, children, long-poll and
//!   Server-Sent Events watches), PUT (setData), POST (create), DELETE.
//! * [`extras`]: ACLs, multi, whoami, the server views of the console, the OpenAPI document.
//! * [`history`]: recent changes from the transaction log, per znode with earlier data.
//! * [`pool`]: the sessions, one per caller identity, and why a request cannot reach ZooKeeper.
//! * [`reply`]: JSON shapes and the mapping of ZooKeeper errors to HTTP statuses.
//!
//! [`pool::Pool`] keeps one session per caller identity (IP address, digest credential, client
//! certificate): requests of the same caller share it (so a console's requests cost one
//! session, not one per request), it pings while it lives, and it is closed after
//! `admin.gateway.sessionIdleMs` (60 s) without requests or open watches. Sessions the server closes (expiry,
//! read-only) are replaced by a new one at the next request.

pub mod extras;
pub mod history;
pub mod pool;
pub mod reply;
pub mod session;
pub mod znodes;

use axum::Router;

use crate::http::state::AppState;

/// The gateway's routes (state: [`AppState`]).
pub fn routes() -> Router<AppState> {
    znodes::routes()
        .merge(extras::routes())
        .merge(history::routes())
}
