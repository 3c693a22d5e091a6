//! Menagerie's extra commands: `tree` (recursive listing with data sizes), `watch` (stream
//! events of a path), `export` / `import` (a subtree with data and ACLs as a JSON file).

use std::time::Duration;

use menagerie_proto::ErrorCode;
use menagerie_proto::records::{
    Acl, AddWatchRequest, CreateRequest, PathRequest, SetAclRequest, SetDataRequest, WatchesRequest,
};
use menagerie_proto::request::Request;
use menagerie_proto::response::Response;
use serde_json::{Value, json};

use super::args::Parsed;
use super::format::{
    acl_from_json, acl_json, data_from_json, data_json, event_json, event_text, keeper_error,
    validate_path,
};
use super::nodes::{join, read_node};
use super::session::{Io, Shared};
use crate::client::{Client, ClientError};

/// Most nodes `tree` / `export` visit (a bound, not a target).
const MAX_NODES: usize = 5_000_000;

fn map_err(path: &str) -> impl Fn(ClientError) -> String + '_ {
    move |e| match e {
        ClientError::Server(c) => keeper_error(c, Some(path)),
        e => e.to_string(),
    }
}

async fn acl_of(client: &Client, path: &str) -> Result<Vec<Acl>, String> {
    match client
        .call(Request::GetAcl(PathRequest {
            path: path.to_string(),
        }))
        .await
        .map_err(map_err(path))?
    {
        (_, Response::GetAcl { acl, .. }) => Ok(acl),
        (_, r) => Err(format!("unexpected response {r:?}")),
    }
}

/// `tree [path]`: the subtree depth-first, children sorted, each node with its data size.
pub async fn tree(client: &Client, root: &str, json: bool, io: &mut Io<'_>) -> Result<(), String> {
    // (path, depth)
    let mut stack = vec![(root.to_string(), 0usize)];
    let mut nodes: Vec<Value> = Vec::new();
    let mut seen = 0usize;
    while let Some((path, depth)) = stack.pop() {
        seen += 1;
        if seen > MAX_NODES {
            return Err(format!("more than {MAX_NODES} nodes; giving up"));
        }
        let Some((_, stat)) = read_node(client, &path).await? else {
            if depth == 0 {
                return Err(keeper_error(ErrorCode::NoNode, Some(&path)));
            }
            continue; // deleted while we walked
        };
        let mut kids = match client.get_children(&path, false).await {
            Ok(k) => k,
            Err(ClientError::Server(ErrorCode::NoNode)) => Vec::new(),
            Err(e) => return Err(map_err(&path)(e)),
        };
        kids.sort();
        for k in kids.iter().rev() {
            stack.push((join(&path, k), depth + 1));
        }
        if json {
            nodes.push(json!({"path": path, "dataLength": stat.data_length,
                "numChildren": stat.num_children, "ephemeralOwner": stat.ephemeral_owner}));
        } else {
            let name = if depth == 0 {
                path.clone()
            } else {
                path.rsplit('/').next().unwrap_or("").to_string()
            };
            let eph = if stat.ephemeral_owner != 0 {
                " ephemeral"
            } else {
                ""
            };
            let _ = writeln!(
                io.out,
                "{}{name} ({} bytes{eph})",
                "  ".repeat(depth),
                stat.data_length
            );
        }
    }
    if json {
        let _ = writeln!(io.out, "{}", Value::Array(nodes));
    }
    Ok(())
}

/// `watch [-R] [-n count] path`: sets a persistent watch (recursive with `-R`), prints
/// each event as it arrives until `count` events (if given) or Ctrl-C, then removes it.
pub async fn watch(
    client: &Client,
    shared: &Shared,
    p: &Parsed,
    usage: &str,
    io: &mut Io<'_>,
) -> Result<(), String> {
    let Some(path) = p.arg(1) else {
        return Err(usage.to_string());
    };
    validate_path(path)?;
    let count: Option<u64> = match p.value('n') {
        Some(v) => Some(
            v.parse()
                .map_err(|_| "-n needs a number of events".to_string())?,
        ),
        None => None,
    };
    let json = p.json;
    let sub = &shared.subscriber;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    if let Ok(mut s) = sub.lock() {
        *s = Some(tx);
    }
    let mode = if p.has('R') { 1 } else { 0 };
    let res = client
        .call(Request::AddWatch(AddWatchRequest {
            path: path.to_string(),
            mode,
        }))
        .await;
    if let Err(e) = res {
        if let Ok(mut s) = sub.lock() {
            *s = None;
        }
        return Err(map_err(path)(e));
    }
    let _ = writeln!(
        io.err,
        "watching {path}{} (Ctrl-C to stop)",
        if mode == 1 { " and below" } else { "" }
    );
    let _ = io.err.flush();
    print_events(&mut rx, count, json, io).await;
    if let Ok(mut s) = sub.lock() {
        *s = None;
    }
    let _ = tokio::time::timeout(
        Duration::from_secs(5),
        client.call(Request::RemoveWatches(WatchesRequest {
            path: path.to_string(),
            watcher_type: 3,
        })),
    )
    .await;
    Ok(())
}

/// Prints watch events until `count` of them (if given), a lost session or Ctrl-C.
async fn print_events(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<menagerie_proto::records::WatcherEvent>,
    count: Option<u64>,
    json: bool,
    io: &mut Io<'_>,
) {
    let mut seen = 0u64;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        if count.is_some_and(|c| seen >= c) {
            break;
        }
        tokio::select! {
            e = rx.recv() => match e {
                Some(e) if e.event_type == -1 => {
                    if e.state == 0 || e.state == -112 {
                        let _ = writeln!(io.out, "{}", if json { event_json(&e).to_string() } else { event_text(&e) });
                        break;
                    }
                }
                Some(e) => {
                    seen += 1;
                    let line = if json { event_json(&e).to_string() } else { event_text(&e) };
                    let _ = writeln!(io.out, "{line}");
                    let _ = io.out.flush();
                }
                None => break,
            },
            _ = &mut ctrl_c => break,
        }
    }
}

/// `export path file`: every node of the subtree (parents first) with data and ACL, as
/// `{"root": path, "nodes": [{"path", "data", "acl"}]}`. Ephemeral nodes and, for `/`, the
/// `/zookeeper` system subtree are left out.
pub async fn export(
    client: &Client,
    p: &Parsed,
    usage: &str,
    io: &mut Io<'_>,
) -> Result<(), String> {
    let (Some(root), Some(file)) = (p.arg(1), p.arg(2)) else {
        return Err(usage.to_string());
    };
    validate_path(root)?;
    let mut nodes = Vec::new();
    let mut queue = std::collections::VecDeque::from([root.to_string()]);
    while let Some(path) = queue.pop_front() {
        if nodes.len() > MAX_NODES {
            return Err(format!("more than {MAX_NODES} nodes; giving up"));
        }
        if path == "/zookeeper"
            || path.starts_with("/zookeeper/") && !root.starts_with("/zookeeper")
        {
            continue;
        }
        let Some((data, stat)) = read_node(client, &path).await? else {
            if path == root {
                return Err(keeper_error(ErrorCode::NoNode, Some(&path)));
            }
            continue;
        };
        if stat.ephemeral_owner != 0 && path != root {
            continue;
        }
        let acl = acl_of(client, &path).await?;
        let mut kids = match client.get_children(&path, false).await {
            Ok(k) => k,
            Err(ClientError::Server(ErrorCode::NoNode)) => Vec::new(),
            Err(e) => return Err(map_err(&path)(e)),
        };
        kids.sort();
        queue.extend(kids.iter().map(|k| join(&path, k)));
        nodes
            .push(json!({"path": path, "data": data_json(data.as_deref()), "acl": acl_json(&acl)}));
    }
    let n = nodes.len();
    let doc = json!({"format": "menagerie-export-1", "root": root, "nodes": nodes});
    let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
    std::fs::write(file, text + "\n").map_err(|e| format!("cannot write {file}: {e}"))?;
    let _ = writeln!(io.out, "Exported {n} nodes under {root} to {file}");
    Ok(())
}

/// `import file [path]`: recreates an export under `path` (default: the exported root).
/// Nodes are created parents first with an open ACL, existing nodes get their data set;
/// then every node's ACL is set, deepest first, so a restrictive ACL cannot block its own
/// children.
pub async fn import(
    client: &Client,
    p: &Parsed,
    usage: &str,
    io: &mut Io<'_>,
) -> Result<(), String> {
    let Some(file) = p.arg(1) else {
        return Err(usage.to_string());
    };
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read {file}: {e}"))?;
    let doc: Value = serde_json::from_str(&text).map_err(|e| format!("{file}: not JSON: {e}"))?;
    let root = doc
        .get("root")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{file}: no \"root\""))?
        .to_string();
    let target = p.arg(2).unwrap_or(&root).to_string();
    validate_path(&target)?;
    let nodes = doc
        .get("nodes")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("{file}: no \"nodes\" list"))?;
    let plan = import_plan(file, nodes, &root, &target)?;
    let (created, updated) = create_or_update(client, &plan).await?;
    for (dest, _, acl) in plan.iter().rev() {
        let r = Request::SetAcl(SetAclRequest {
            path: dest.clone(),
            acl: acl.clone(),
            version: -1,
        });
        client.call(r).await.map_err(map_err(dest))?;
    }
    let _ = writeln!(
        io.out,
        "Imported {} nodes under {target} ({created} created, {updated} updated)",
        plan.len()
    );
    Ok(())
}

/// One node to import: where, its data, its ACL.
type Planned = (String, Option<Vec<u8>>, Vec<Acl>);

/// The nodes of an export, moved from `root` to `target`, checked.
fn import_plan(
    file: &str,
    nodes: &[Value],
    root: &str,
    target: &str,
) -> Result<Vec<Planned>, String> {
    let mut plan = Vec::with_capacity(nodes.len());
    for n in nodes {
        let path = n
            .get("path")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{file}: a node without \"path\""))?;
        let rel = path
            .strip_prefix(root)
            .ok_or_else(|| format!("{file}: node {path} is not under {root}"))?;
        let dest = if rel.is_empty() {
            target.to_string()
        } else if target == "/" {
            rel.to_string()
        } else if root == "/" {
            format!("{target}/{rel}")
        } else {
            format!("{target}{rel}")
        };
        validate_path(&dest)?;
        let data = data_from_json(n.get("data").unwrap_or(&Value::Null))
            .map_err(|e| format!("{file}: {path}: {e}"))?;
        let acl = acl_from_json(n.get("acl").unwrap_or(&Value::Null))
            .filter(|a| !a.is_empty())
            .ok_or_else(|| format!("{file}: {path}: bad \"acl\""))?;
        plan.push((dest, data, acl));
    }
    Ok(plan)
}

/// Creates the planned nodes with an open ACL, parents first (existing ones get their data
/// set); returns how many were created and updated.
async fn create_or_update(client: &Client, plan: &[Planned]) -> Result<(usize, usize), String> {
    let (mut created, mut updated) = (0usize, 0usize);
    for (dest, data, _) in plan {
        let r = Request::Create(CreateRequest {
            path: dest.clone(),
            data: data.clone(),
            acl: Acl::open_unsafe(),
            flags: 0,
        });
        match client.call(r).await {
            Ok(_) => created += 1,
            Err(ClientError::Server(ErrorCode::NodeExists)) => {
                let r = Request::SetData(SetDataRequest {
                    path: dest.clone(),
                    data: data.clone(),
                    version: -1,
                });
                client.call(r).await.map_err(map_err(dest))?;
                updated += 1;
            }
            Err(e) => return Err(map_err(dest)(e)),
        }
    }
    Ok((created, updated))
}
