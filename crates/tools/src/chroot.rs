//! A chroot (`host:port/app` in a connect string): client paths are relative to a root node.
//! Requests get the root prefixed to their paths, replies and events get it taken off, as
//! the Java client does.

use menagerie_proto::request::Request;
use menagerie_proto::response::{MultiResult, Response};

/// Splits a connect string into its addresses part and its chroot (`None` for `/` or none).
pub fn split_connect_string(s: &str) -> (&str, Option<&str>) {
    match s.find('/') {
        Some(i) if s[i..].len() > 1 => (&s[..i], Some(s[i..].trim_end_matches('/'))),
        Some(i) => (&s[..i], None),
        None => (s, None),
    }
}

/// The server path of client path `path` under `root`.
pub fn prepend(root: &str, path: &str) -> String {
    if path == "/" {
        root.to_string()
    } else {
        format!("{root}{path}")
    }
}

/// The client path of server path `path` under `root` (unchanged if it is not under it).
pub fn strip(root: &str, path: &str) -> String {
    if path == root {
        "/".to_string()
    } else if let Some(rest) = path.strip_prefix(root)
        && rest.starts_with('/')
    {
        rest.to_string()
    } else {
        path.to_string()
    }
}

/// `req` with every path put under `root`.
pub fn request(root: &str, mut req: Request) -> Request {
    use Request::*;
    match req {
        SetWatches2(mut r) => {
            let all = |v: Vec<String>| v.into_iter().map(|s| prepend(root, &s)).collect();
            r.data_watches = all(r.data_watches);
            r.exist_watches = all(r.exist_watches);
            r.child_watches = all(r.child_watches);
            r.persistent_watches = all(r.persistent_watches);
            r.persistent_recursive_watches = all(r.persistent_recursive_watches);
            SetWatches2(r)
        }
        Multi(ops) => Multi(ops.into_iter().map(|o| request(root, o)).collect()),
        MultiRead(ops) => MultiRead(ops.into_iter().map(|o| request(root, o)).collect()),
        _ => {
            if let Some(path) = path_mut(&mut req) {
                *path = prepend(root, path);
            }
            req
        }
    }
}

/// The one path of a single-path request.
fn path_mut(req: &mut Request) -> Option<&mut String> {
    use Request::*;
    Some(match req {
        Create(r) | Create2(r) | CreateContainer(r) => &mut r.path,
        CreateTtl(r) => &mut r.path,
        Delete(r) => &mut r.path,
        DeleteContainer(r) => &mut r.path,
        Exists(r) | GetChildren(r) | GetChildren2(r) => &mut r.path,
        GetData(r) => &mut r.path,
        SetData(r) => &mut r.path,
        GetAcl(r) => &mut r.path,
        SetAcl(r) => &mut r.path,
        Sync(r) => &mut r.path,
        Check(r) => &mut r.path,
        CheckWatches(r) | RemoveWatches(r) => &mut r.path,
        GetEphemerals(r) => &mut r.path,
        GetAllChildrenNumber(r) => &mut r.path,
        AddWatch(r) => &mut r.path,
        _ => return None,
    })
}

/// `resp` with the root taken off the paths it names.
pub fn response(root: &str, resp: Response) -> Response {
    let s = |x: String| strip(root, &x);
    match resp {
        Response::Create { path } => Response::Create { path: s(path) },
        Response::Create2 { path, stat } => Response::Create2 {
            path: s(path),
            stat,
        },
        Response::Sync { path } => Response::Sync { path: s(path) },
        Response::Ephemerals(list) => Response::Ephemerals(list.into_iter().map(s).collect()),
        Response::Multi(rs) => Response::Multi(
            rs.into_iter()
                .map(|r| match r {
                    MultiResult::Create(p) => MultiResult::Create(s(p)),
                    MultiResult::Create2(p, st) => MultiResult::Create2(s(p), st),
                    r => r,
                })
                .collect(),
        ),
        r => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use menagerie_proto::records::{DeleteRequest, PathRequest};

    #[test]
    fn paths() {
        assert_eq!(
            split_connect_string("h:1,h:2/app/x"),
            ("h:1,h:2", Some("/app/x"))
        );
        assert_eq!(split_connect_string("h:1/"), ("h:1", None));
        assert_eq!(split_connect_string("h:1"), ("h:1", None));
        assert_eq!(prepend("/app", "/"), "/app");
        assert_eq!(prepend("/app", "/a/b"), "/app/a/b");
        assert_eq!(strip("/app", "/app"), "/");
        assert_eq!(strip("/app", "/app/a"), "/a");
        assert_eq!(strip("/app", "/apple"), "/apple");
        let r = request(
            "/app",
            Request::Multi(vec![Request::Delete(DeleteRequest {
                path: "/x".into(),
                version: -1,
            })]),
        );
        assert_eq!(
            r,
            Request::Multi(vec![Request::Delete(DeleteRequest {
                path: "/app/x".into(),
                version: -1
            })])
        );
        assert_eq!(
            request("/app", Request::Sync(PathRequest { path: "/".into() })),
            Request::Sync(PathRequest {
                path: "/app".into()
            })
        );
        assert_eq!(
            response(
                "/app",
                Response::Create {
                    path: "/app/n".into()
                }
            ),
            Response::Create { path: "/n".into() }
        );
    }
}
