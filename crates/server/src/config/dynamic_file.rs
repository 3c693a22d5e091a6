//! The files dynamic reconfiguration keeps (ZooKeeper: `QuorumPeerConfig.writeDynamicConfig`,
//! `editStaticConfig`, `backupOldConfig`): the membership of the activated configuration in
//! `<zoo.cfg>.dynamic.<version hex>`, zoo.cfg rewritten without its membership lines and
//! pointing at that file, and `zoo.cfg.bak` keeping the original at the first start with
//! `reconfigEnabled=true`. Every file is written whole to a temporary name, synced and
//! renamed over the old one, so a crash leaves the old or the new file, never half of one.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes the configuration `text` (version `version`) next to `cfg` and points `cfg` at it.
/// `own_client`: this member's server line has a client address, so zoo.cfg's
/// `clientPort`/`clientPortAddress` go (the line's address is the one that counts).
/// Returns the dynamic file's path.
pub fn write(cfg: &Path, text: &str, version: i64, own_client: bool) -> std::io::Result<PathBuf> {
    let dynamic = PathBuf::from(format!("{}.dynamic.{version:x}", cfg.display()));
    let mut lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("version="))
        .collect();
    lines.sort_unstable();
    write_atomically(&dynamic, lines.join("\n").as_bytes())?;
    let old = std::fs::read_to_string(cfg)?;
    let absolute = std::fs::canonicalize(&dynamic)?;
    let new = static_text(&old, &absolute, own_client);
    write_atomically(cfg, new.as_bytes())?;
    Ok(dynamic)
}

/// zoo.cfg without membership lines (and the client address if the server line has it),
/// with `dynamicConfigFile=` naming `dynamic`; comments and other lines are kept in order.
fn static_text(old: &str, dynamic: &Path, own_client: bool) -> String {
    let mut out = String::new();
    for line in old.lines() {
        let key = line.split(['=', ':']).next().unwrap_or_default().trim();
        let membership = key.starts_with("server.")
            || key.starts_with("group")
            || key.starts_with("weight")
            || key.starts_with("dynamicConfigFile")
            || key.starts_with("peerType")
            || (own_client && key.starts_with("clientPort"));
        if !membership {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push_str(&format!("dynamicConfigFile={}\n", dynamic.display()));
    out
}

/// Copies zoo.cfg to `zoo.cfg.bak` (at startup with `reconfigEnabled=true` and the
/// membership still in zoo.cfg, as ZooKeeper does).
pub fn backup(cfg: &Path) -> std::io::Result<PathBuf> {
    let bak = PathBuf::from(format!("{}.bak", cfg.display()));
    write_atomically(&bak, &std::fs::read(cfg)?)?;
    Ok(bak)
}

/// The version a dynamic file's name carries (`….dynamic.<hex>`), if any.
pub fn version_of(path: &Path) -> Option<i64> {
    let name = path.file_name()?.to_str()?;
    let (_, hex) = name.rsplit_once(".dynamic.")?;
    i64::from_str_radix(hex, 16).ok()
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = PathBuf::from(format!("{}.tmp", path.display()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn membership_moves_to_the_dynamic_file_and_zoo_cfg_points_at_it() {
        let d = tempfile::tempdir().expect("tempdir");
        let cfg = d.path().join("zoo.cfg");
        std::fs::write(
            &cfg,
            "# mine\ntickTime=2000\nclientPort=2181\nserver.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889\n",
        )
        .expect("write");
        let text = "server.2=127.0.0.1:2889:3889:participant\nserver.1=127.0.0.1:2888:3888:participant;0.0.0.0:2181\nversion=100000003";
        let dynamic = write(&cfg, text, 0x1_0000_0003, true).expect("written");
        assert!(dynamic.ends_with("zoo.cfg.dynamic.100000003"));
        assert_eq!(version_of(&dynamic), Some(0x1_0000_0003));
        assert_eq!(
            std::fs::read_to_string(&dynamic).expect("read"),
            "server.1=127.0.0.1:2888:3888:participant;0.0.0.0:2181\nserver.2=127.0.0.1:2889:3889:participant"
        );
        let rewritten = std::fs::read_to_string(&cfg).expect("read");
        assert!(
            rewritten.starts_with("# mine\ntickTime=2000\ndynamicConfigFile="),
            "{rewritten}"
        );
        assert!(!rewritten.contains("server.") && !rewritten.contains("clientPort"));
        assert!(backup(&cfg).expect("bak").ends_with("zoo.cfg.bak"));
    }
}
