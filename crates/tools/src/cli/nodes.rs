//! Small building blocks the data commands share: reading a node, joining paths, and
//! zkCli's messages for failed calls. A leaf of the shell's modules.

use menagerie_proto::ErrorCode;
use menagerie_proto::records::{GetDataRequest, Stat};
use menagerie_proto::request::Request;
use menagerie_proto::response::Response;

use super::format::{keeper_error, plain_keeper_error};
use crate::client::{Client, ClientError};

/// Maps a call error on `path` to zkCli's message.
pub(super) fn err_on(path: &str) -> impl Fn(ClientError) -> String + '_ {
    move |e| match e {
        ClientError::Server(code) => keeper_error(code, Some(path)),
        ClientError::ConnectionLoss | ClientError::Io(_) => {
            plain_keeper_error(ErrorCode::ConnectionLoss, Some(path))
        }
        e => e.to_string(),
    }
}

/// The message for a response of the wrong kind.
pub(super) fn unexpected(r: &Response) -> String {
    format!("unexpected response from the server: {r:?}")
}

/// `parent/child` without doubling the root's slash.
pub fn join(parent: &str, child: &str) -> String {
    if parent == "/" {
        format!("/{child}")
    } else {
        format!("{parent}/{child}")
    }
}

/// Reads data and stat of a node; `None` if it does not exist.
pub async fn read_node(
    client: &Client,
    path: &str,
) -> Result<Option<(Option<Vec<u8>>, Stat)>, String> {
    let r = Request::GetData(GetDataRequest {
        path: path.to_string(),
        watch: false,
    });
    match client.call(r).await {
        Ok((_, Response::GetData { data, stat })) => Ok(Some((data, stat))),
        Ok((_, r)) => Err(unexpected(&r)),
        Err(ClientError::Server(ErrorCode::NoNode)) => Ok(None),
        Err(e) => Err(err_on(path)(e)),
    }
}
