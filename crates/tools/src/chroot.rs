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
pub fn request(root: &str, req: Request) -> Request {
    use Request::*;
    let p = |s: String| prepend(root, &s);
    match req {
        Create(mut r) => {
            r.path = p(r.path);
            Create(r)
        }
        Create2(mut r) => {
            r.path = p(r.path);
            Create2(r)
        }
        CreateContainer(mut r) => {
            r.path = p(r.path);
            CreateContainer(r)
        }
        CreateTtl(mut r) => {
            r.path = p(r.path);
            CreateTtl(r)
        }
        Delete(mut r) => {
            r.path = p(r.path);
            Delete(r)
        }
        DeleteContainer(mut r) => {
            r.path = p(r.path);
            DeleteContainer(r)
        }
        Exists(mut r) => {
            r.path = p(r.path);
            Exists(r)
        }
        GetData(mut r) => {
            r.path = p(r.path);
            GetData(r)
        }
        SetData(mut r) => {
            r.path = p(r.path);
            SetData(r)
        }
        GetAcl(mut r) => {
            r.path = p(r.path);
            GetAcl(r)
        }
        SetAcl(mut r) => {
            r.path = p(r.path);
            SetAcl(r)
        }
        GetChildren(mut r) => {
            r.path = p(r.path);
            GetChildren(r)
        }
        GetChildren2(mut r) => {
            r.path = p(r.path);
            GetChildren2(r)
        }
        Sync(mut r) => {
            r.path = p(r.path);
            Sync(r)
        }
        Check(mut r) => {
            r.path = p(r.path);
            Check(r)
        }
        CheckWatches(mut r) => {
            r.path = p(r.path);
            CheckWatches(r)
        }
        RemoveWatches(mut r) => {
            r.path = p(r.path);
            RemoveWatches(r)
        }
        GetEphemerals(mut r) => {
            r.path = p(r.path);
            GetEphemerals(r)
        }
        GetAllChildrenNumber(mut r) => {
            r.path = p(r.path);
            GetAllChildrenNumber(r)
        }
        AddWatch(mut r) => {
            r.path = p(r.path);
            AddWatch(r)
        }
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
        other => other,
    }
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
