//! Where the server's log goes: stderr (the default), or a size-rotated file in a log
//! directory, set as ZooKeeper's scripts set it.
//!
//! * `zookeeper.log.dir` (zoo.cfg key or `-Dzookeeper.log.dir=` in `SERVER_JVMFLAGS` /
//!   `JVMFLAGS`), else the `ZOO_LOG_DIR` environment variable: the directory. Unset: stderr.
//! * `zookeeper.log.file` / `ZOO_LOG_FILE`: the file name (default `zookeeper.log`, as in
//!   ZooKeeper's logback.xml).
//! * `zookeeper.log.maxfilesize` (default `256MB`) and `zookeeper.log.maxbackupindex`
//!   (default 20): the file is renamed to `zookeeper.log.1` (older ones shift to `.2`, ...)
//!   once it passes the size, and at most that many old files are kept, as logback's
//!   `FixedWindowRollingPolicy` with a `SizeBasedTriggeringPolicy` does.
//!
//! Colours (ANSI escapes) are used only when the output is a terminal and `NO_COLOR` is unset;
//! `MENAGERIE_LOG_FORMAT=json` writes one JSON object per line; `RUST_LOG` sets the level.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context;
use file_rotate::compression::Compression;
use file_rotate::suffix::AppendCount;
use file_rotate::{ContentLimit, FileRotate};

/// The keys this module reads from zoo.cfg (the server does not warn about them).
pub const KEYS: &[&str] = &[
    "zookeeper.log.dir",
    "zookeeper.log.file",
    "zookeeper.log.maxfilesize",
    "zookeeper.log.maxbackupindex",
];

/// Log file settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    /// The log directory; `None`: log to stderr.
    pub dir: Option<PathBuf>,
    /// The file name in `dir`.
    pub file: String,
    /// Rotate once the file passes this many bytes.
    pub max_file_size: u64,
    /// Rotated files kept (`zookeeper.log.1` .. `zookeeper.log.N`).
    pub max_backups: usize,
}

impl LogSettings {
    /// The settings from `props` (zoo.cfg and JVM flags, zoo.cfg winning) and the
    /// environment (`ZOO_LOG_DIR`, `ZOO_LOG_FILE`), which has the lowest priority.
    pub fn from_sources(
        props: &BTreeMap<String, String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<LogSettings> {
        let get = |key: &str, var: &str| {
            props
                .get(key)
                .map(|v| v.trim().to_owned())
                .or_else(|| env(var))
                .filter(|v| !v.is_empty())
        };
        let max_file_size = match props.get("zookeeper.log.maxfilesize") {
            Some(v) => parse_size(v.trim()).ok_or_else(|| {
                anyhow::anyhow!(
                    "invalid value {v:?} for zookeeper.log.maxfilesize: expected a size such as 256MB"
                )
            })?,
            None => 256 << 20,
        };
        let max_backups = match props.get("zookeeper.log.maxbackupindex") {
            Some(v) => v.trim().parse().map_err(|_| {
                anyhow::anyhow!(
                    "invalid value {v:?} for zookeeper.log.maxbackupindex: expected a number"
                )
            })?,
            None => 20,
        };
        Ok(LogSettings {
            dir: get("zookeeper.log.dir", "ZOO_LOG_DIR").map(PathBuf::from),
            file: get("zookeeper.log.file", "ZOO_LOG_FILE")
                .unwrap_or_else(|| "zookeeper.log".into()),
            max_file_size,
            max_backups,
        })
    }

    /// The log file, if logging to a file.
    pub fn path(&self) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join(&self.file))
    }
}

/// `256MB`, `10KB`, `1GB`, `512` (bytes): logback's `FileSize` syntax (case-insensitive,
/// optional `B`, optional space).
pub fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim().to_ascii_uppercase();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().ok()?;
    let shift = match unit.trim().trim_end_matches('B') {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        _ => return None,
    };
    n.checked_mul(1 << shift).filter(|n| *n > 0)
}

/// Logging for the tools (`cli`, `bench`, `inspect`, `purge`, the daemon verbs): stderr.
pub fn init_stderr() {
    init(Output::Stderr, std::io::stderr().is_terminal());
}

/// Logging for the server: stderr, or the rotated file of `settings` (the directory is
/// created; an unwritable file is an error before anything is logged).
pub fn init_server(settings: &LogSettings) -> anyhow::Result<()> {
    let Some(path) = settings.path() else {
        init_stderr();
        return Ok(());
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the log directory {}", dir.display()))?;
    }
    // Open once ourselves so that a permission problem is reported, not swallowed.
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("cannot write the log file {}", path.display()))?;
    let rotate = FileRotate::new(
        &path,
        AppendCount::new(settings.max_backups),
        ContentLimit::BytesSurpassed(usize::try_from(settings.max_file_size).unwrap_or(usize::MAX)),
        Compression::None,
        None,
    );
    init(Output::File(Mutex::new(rotate)), false);
    Ok(())
}

enum Output {
    Stderr,
    File(Mutex<FileRotate<AppendCount>>),
}

fn init(output: Output, terminal: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let json = std::env::var("MENAGERIE_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi);
    // `try_init`: a second call (tests) keeps the first subscriber.
    let _ = match (output, json) {
        (Output::Stderr, false) => builder.with_writer(std::io::stderr).try_init(),
        (Output::Stderr, true) => builder.json().with_writer(std::io::stderr).try_init(),
        (Output::File(f), false) => builder.with_writer(f).try_init(),
        (Output::File(f), true) => builder.json().with_writer(f).try_init(),
    };
}

/// `dir` made absolute against the working directory (as given if that fails).
pub fn absolute(dir: &Path) -> PathBuf {
    std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("256MB"), Some(256 << 20));
        assert_eq!(parse_size("10kb"), Some(10 << 10));
        assert_eq!(parse_size("1 GB"), Some(1 << 30));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("2M"), Some(2 << 20));
        for bad in ["", "MB", "0", "10TB", "-1KB", "ten"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
    }

    #[test]
    fn sources_and_defaults() {
        let none = |_: &str| None;
        let s = LogSettings::from_sources(&props(&[]), none).expect("defaults");
        assert_eq!(s.dir, None);
        assert_eq!(
            (s.file.as_str(), s.max_file_size, s.max_backups),
            ("zookeeper.log", 256 << 20, 20)
        );
        let env = |v: &str| (v == "ZOO_LOG_DIR").then(|| "/env/logs".to_string());
        let s = LogSettings::from_sources(&props(&[]), env).expect("env");
        assert_eq!(s.path(), Some(PathBuf::from("/env/logs/zookeeper.log")));
        let s = LogSettings::from_sources(
            &props(&[
                ("zookeeper.log.dir", "/cfg/logs"),
                ("zookeeper.log.file", "zk.log"),
                ("zookeeper.log.maxfilesize", "1MB"),
                ("zookeeper.log.maxbackupindex", "3"),
            ]),
            env,
        )
        .expect("zoo.cfg wins");
        assert_eq!(s.path(), Some(PathBuf::from("/cfg/logs/zk.log")));
        assert_eq!((s.max_file_size, s.max_backups), (1 << 20, 3));
        let e = LogSettings::from_sources(&props(&[("zookeeper.log.maxfilesize", "big")]), none)
            .expect_err("bad size")
            .to_string();
        assert!(
            e.contains("zookeeper.log.maxfilesize") && e.contains("big"),
            "{e}"
        );
    }
}
