//! The operations surface: everything operators and their tools read from a running server,
//! answered by the shell task between client inputs with a consistent view of the core.
//!
//! * [`view`]: what the shell knows that the core does not ([`view::ShellView`]).
//! * [`metric`]: the monitoring numbers as values and their three renderings (`mntr`, the
//!   `monitor` command, Prometheus text).
//! * [`monitor`]: the monitoring numbers, collected once from the core and the view.
//! * [`facts`]: the version, process environment, directory sizes, trace mask and
//!   operation names that both the four-letter words and the admin commands report.
//! * [`redact`]: secrets and session ids kept out of operator output.
//! * [`four_letter`]: the four-letter words (`ruok`, `srvr`, `mntr`, ...).
//! * [`commands`]: ZooKeeper's AdminServer commands and their JSON.
//! * [`dumps`]: the answers that grow with the watches, sessions and connections, captured
//!   on the shell task and rendered on another thread.
//! * [`ensemble`]: what an ensemble member adds (its mode, the leader's gauges, the
//!   ensemble's admin commands).
//! * [`answer`]: the admin HTTP server's questions ([`Query`]) answered.
//!
//! The import graph inside runs one way: `view`, `metric` and `facts` are leaves,
//! `ensemble` builds on `metric` and `view`, `monitor` on those, `dumps` on the leaves,
//! `four_letter` and `commands` on all of those, and this file on the two.

pub mod commands;
pub mod dumps;
pub mod ensemble;
pub mod facts;
pub mod four_letter;
pub mod metric;
pub mod monitor;
pub mod redact;
pub mod view;

use menagerie_core::Node;

use crate::inbox::{Answer, Query};
use dumps::Reply;
use view::ShellView;

/// Answers an admin HTTP `query` from the core, or captures what a large command's answer
/// needs ([`dumps::Capture`]); called by the shell task. `storage_ok` is false once the
/// storage thread has failed.
pub fn answer(
    query: Query,
    server: &mut Node,
    view: &ShellView<'_>,
    storage_ok: bool,
) -> Reply<Answer> {
    let answer = match query {
        Query::Command { name, args } => match commands::prepare(&name, &args, server, view) {
            Reply::Ready(o) => Answer::Json(o),
            Reply::Later(capture) => return Reply::Later(capture),
        },
        Query::Ready => Answer::Ready(storage_ok),
        Query::Http(crate::http::queries::HttpQuery::Sessions) => {
            let capture = crate::http::sessions_view::SessionsCapture::capture(server, view);
            return Reply::Later(dumps::Capture::Sessions(Box::new(capture)));
        }
        Query::Http(q) => Answer::Http(crate::http::queries::answer(q, server, view)),
    };
    Reply::Ready(answer)
}

/// Whether the admin `query` may be answered through a [`dumps::Capture`] (and so waits
/// for its turn among [`dumps::MAX_RENDERING`]).
pub fn is_large_query(query: &Query) -> bool {
    match query {
        Query::Command { name, .. } => {
            commands::primary_name(name).is_some_and(dumps::is_large_command)
        }
        Query::Http(crate::http::queries::HttpQuery::Sessions) => true,
        _ => false,
    }
}
