//! Transaction records in text and JSON (the part after ZooKeeper's `TxnLogToolkit` prints
//! `session … cxid … zxid …`).

use menagerie_proto::error_code::ErrorCode;
use menagerie_storage::TxnBody;
use serde_json::{Map, Value, json};

use super::format::{acl_json, acl_text, data_json, data_text};

/// ZooKeeper's name of a txn type (`Request.op2String`, hence `createTtl`).
pub fn op_name(txn_type: i32) -> String {
    match txn_type {
        1 => "create",
        2 => "delete",
        5 => "setData",
        7 => "setACL",
        13 => "check",
        14 => "multi",
        15 => "create2",
        16 => "reconfig",
        19 => "createContainer",
        20 => "deleteContainer",
        21 => "createTtl",
        -10 => "createSession",
        -11 => "closeSession",
        -1 => "error",
        t => return format!("unknown({t})"),
    }
    .to_owned()
}

fn error_name(err: i32) -> String {
    match ErrorCode::from_code(err) {
        Some(c) => format!("{err} ({c:?})"),
        None => err.to_string(),
    }
}

/// The record's fields on one line: `/a "hello" [world:anyone:cdrwa] ephemeral=false
/// parentCVersion=1`. `full` prints data without cutting it.
pub fn record_text(rec: &TxnBody, full: bool) -> String {
    match rec {
        TxnBody::Create(t) | TxnBody::Create2(t) => format!(
            "{} {} {} ephemeral={} parentCVersion={}",
            t.path,
            data_text(t.data.as_deref(), full),
            acl_text(&t.acl),
            t.ephemeral,
            t.parent_cversion
        ),
        TxnBody::CreateContainer(t) => format!(
            "{} {} {} parentCVersion={}",
            t.path,
            data_text(t.data.as_deref(), full),
            acl_text(&t.acl),
            t.parent_cversion
        ),
        TxnBody::CreateTtl(t) => format!(
            "{} {} {} parentCVersion={} ttl={}",
            t.path,
            data_text(t.data.as_deref(), full),
            acl_text(&t.acl),
            t.parent_cversion,
            t.ttl
        ),
        TxnBody::Delete(t) | TxnBody::DeleteContainer(t) => t.path.clone(),
        TxnBody::SetData(t) | TxnBody::Reconfig(t) => format!(
            "{} {} version={}",
            t.path,
            data_text(t.data.as_deref(), full),
            t.version
        ),
        TxnBody::SetAcl(t) => format!("{} {} version={}", t.path, acl_text(&t.acl), t.version),
        TxnBody::Check(t) => format!("{} version={}", t.path, t.version),
        TxnBody::CreateSession(t) => t.timeout.to_string(),
        TxnBody::CloseSession(None) => String::new(),
        TxnBody::CloseSession(Some(t)) => format!("[{}]", t.paths_to_delete.join(", ")),
        TxnBody::Error(t) => format!("err={}", error_name(t.err)),
        TxnBody::Multi(subs) => {
            let items: Vec<String> = subs
                .iter()
                .map(|s| {
                    let body = record_text(s, full);
                    if body.is_empty() {
                        op_name(s.txn_type())
                    } else {
                        format!("{} {body}", op_name(s.txn_type()))
                    }
                })
                .collect();
            format!("[{}]", items.join("; "))
        }
    }
}

/// The record's fields as a JSON object (`type` plus one key per field; multi has `txns`).
pub fn record_json(rec: &TxnBody) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), json!(op_name(rec.txn_type())));
    match rec {
        TxnBody::Create(t) | TxnBody::Create2(t) => {
            m.insert("path".into(), json!(t.path));
            data_json(&mut m, t.data.as_deref());
            m.insert("acl".into(), acl_json(&t.acl));
            m.insert("ephemeral".into(), json!(t.ephemeral));
            m.insert("parent_cversion".into(), json!(t.parent_cversion));
        }
        TxnBody::CreateContainer(t) => {
            m.insert("path".into(), json!(t.path));
            data_json(&mut m, t.data.as_deref());
            m.insert("acl".into(), acl_json(&t.acl));
            m.insert("parent_cversion".into(), json!(t.parent_cversion));
        }
        TxnBody::CreateTtl(t) => {
            m.insert("path".into(), json!(t.path));
            data_json(&mut m, t.data.as_deref());
            m.insert("acl".into(), acl_json(&t.acl));
            m.insert("parent_cversion".into(), json!(t.parent_cversion));
            m.insert("ttl".into(), json!(t.ttl));
        }
        TxnBody::Delete(t) | TxnBody::DeleteContainer(t) => {
            m.insert("path".into(), json!(t.path));
        }
        TxnBody::SetData(t) | TxnBody::Reconfig(t) => {
            m.insert("path".into(), json!(t.path));
            data_json(&mut m, t.data.as_deref());
            m.insert("version".into(), json!(t.version));
        }
        TxnBody::SetAcl(t) => {
            m.insert("path".into(), json!(t.path));
            m.insert("acl".into(), acl_json(&t.acl));
            m.insert("version".into(), json!(t.version));
        }
        TxnBody::Check(t) => {
            m.insert("path".into(), json!(t.path));
            m.insert("version".into(), json!(t.version));
        }
        TxnBody::CreateSession(t) => {
            m.insert("timeout".into(), json!(t.timeout));
        }
        TxnBody::CloseSession(t) => {
            m.insert(
                "paths_to_delete".into(),
                json!(t.as_ref().map(|t| &t.paths_to_delete)),
            );
        }
        TxnBody::Error(t) => {
            m.insert("err".into(), json!(t.err));
            if let Some(c) = ErrorCode::from_code(t.err) {
                m.insert("err_name".into(), json!(format!("{c:?}")));
            }
        }
        TxnBody::Multi(subs) => {
            m.insert(
                "txns".into(),
                Value::Array(subs.iter().map(record_json).collect()),
            );
        }
    }
    Value::Object(m)
}

/// Paths a record touches (a multi's sub-records' paths, in order).
pub fn record_paths(rec: &TxnBody) -> Vec<&str> {
    match rec {
        TxnBody::Create(t) | TxnBody::Create2(t) => vec![&t.path],
        TxnBody::CreateContainer(t) => vec![&t.path],
        TxnBody::CreateTtl(t) => vec![&t.path],
        TxnBody::Delete(t) | TxnBody::DeleteContainer(t) => vec![&t.path],
        TxnBody::SetData(t) | TxnBody::Reconfig(t) => vec![&t.path],
        TxnBody::SetAcl(t) => vec![&t.path],
        TxnBody::Check(t) => vec![&t.path],
        TxnBody::CloseSession(Some(t)) => t.paths_to_delete.iter().map(String::as_str).collect(),
        TxnBody::CreateSession(_) | TxnBody::CloseSession(None) | TxnBody::Error(_) => Vec::new(),
        TxnBody::Multi(subs) => subs.iter().flat_map(record_paths).collect(),
    }
}
