//! ZooKeeper's settings given as JVM system properties: the `-Dkey=value` words of the
//! `SERVER_JVMFLAGS` and `JVMFLAGS` variables, as `zkEnv.sh` leaves them after sourcing
//! `zookeeper-env.sh` and `java.env` from the configuration directory (`$ZOOCFGDIR`, else the
//! directory of zoo.cfg).
//!
//! Every property the configuration layer reads is taken from there: the `zookeeper.*` ones,
//! the few ZooKeeper reads without that prefix (`jute.maxbuffer`, `readonlymode.enabled`,
//! `znode.container.*`, the JAAS file) and Menagerie's own `menagerie.*`. zoo.cfg wins: as
//! ZooKeeper's `QuorumPeerConfig` turns a zoo.cfg key `k` it does not handle itself into the
//! system property `zookeeper.k`, replacing a `-Dzookeeper.k` flag, a zoo.cfg key `k` or
//! `zookeeper.k` hides the flag of either spelling. Properties nothing reads are dropped with
//! a debug log line.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Environment variables whose `-D` words are read as settings (later ones win).
pub const VARS: [&str; 2] = ["JVMFLAGS", "SERVER_JVMFLAGS"];

/// The files `zkEnv.sh` sources from the configuration directory, in its order.
pub const ENV_FILES: [&str; 2] = ["zookeeper-env.sh", "java.env"];

/// Property names outside `zookeeper.*` and `menagerie.*` that the configuration reads.
const UNPREFIXED: &[&str] = &[
    "jute.maxbuffer",
    "readonlymode.enabled",
    "znode.container.checkIntervalMs",
    "znode.container.maxPerMinute",
    "znode.container.maxNeverUsedIntervalMs",
    crate::security_config::JAAS_KEY,
];

/// Whether a system property may configure Menagerie (unknown `zookeeper.*` names pass
/// here and are dropped later, when the configuration does not take them).
pub fn is_candidate(key: &str) -> bool {
    key.starts_with("zookeeper.") || key.starts_with("menagerie.") || UNPREFIXED.contains(&key)
}

/// Every `-Dkey=value` word of a JVM command-line fragment (`-Dkey` alone: an empty value).
pub fn parse_flags(flags: &str) -> BTreeMap<String, String> {
    flags
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("-D"))
        .filter(|w| !w.is_empty())
        .map(|w| match w.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (w.to_owned(), String::new()),
        })
        .collect()
}

/// The configuration directory `zkEnv.sh` would use: `$ZOOCFGDIR`, else zoo.cfg's.
pub fn config_dir(zoo_cfg: Option<&Path>, env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    env("ZOOCFGDIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| zoo_cfg.and_then(Path::parent).map(Path::to_path_buf))
}

/// The values of [`VARS`] after the environment `env` and the [`ENV_FILES`] found in
/// `dir` (simple shell assignments, `export` or not, quoted or not, with `$VAR` and
/// `${VAR}` of these variables expanded; other lines are ignored).
pub fn flag_vars(
    dir: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> BTreeMap<String, String> {
    let mut vars: BTreeMap<String, String> = VARS
        .iter()
        .filter_map(|v| env(v).map(|value| ((*v).to_owned(), value)))
        .collect();
    for file in ENV_FILES {
        let Some(path) = dir.map(|d| d.join(file)) else {
            continue;
        };
        if let Ok(text) = std::fs::read_to_string(&path) {
            tracing::debug!(file = %path.display(), "reading JVM flags from it, as zkEnv.sh does");
            apply_env_script(&text, &mut vars);
        }
    }
    vars
}

/// Applies the assignments of [`VARS`] in a `java.env`-style script to `vars`.
pub fn apply_env_script(text: &str, vars: &mut BTreeMap<String, String>) {
    for line in text.lines() {
        let line = line.trim();
        let line = line.strip_prefix("export ").map_or(line, str::trim_start);
        let Some((name, raw)) = line.split_once('=') else {
            continue;
        };
        if !VARS.contains(&name) {
            continue;
        }
        let value = match unquote(raw.trim()) {
            (text, true) => expand(text, vars),
            (text, false) => text.to_owned(),
        };
        vars.insert(name.to_owned(), value);
    }
}

/// The text of a shell word (inside double or single quotes, or up to a comment) and
/// whether variables in it are expanded (not between single quotes).
fn unquote(raw: &str) -> (&str, bool) {
    if let Some(rest) = raw.strip_prefix('\'') {
        return (rest.split('\'').next().unwrap_or_default(), false);
    }
    if let Some(rest) = raw.strip_prefix('"') {
        return (rest.split('"').next().unwrap_or_default(), true);
    }
    (raw.split(" #").next().unwrap_or_default().trim(), true)
}

/// `$VAR` and `${VAR}` of [`VARS`] replaced by their current values (others by nothing,
/// as the shell would for unset variables).
fn expand(value: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, next) = match after.strip_prefix('{') {
            Some(braced) => match braced.split_once('}') {
                Some((name, next)) => (name, next),
                None => (braced, ""),
            },
            None => {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                after.split_at(end)
            }
        };
        if name.is_empty() {
            out.push('$');
        } else if let Some(v) = vars.get(name) {
            out.push_str(v);
        }
        rest = next;
    }
    out.push_str(rest);
    out
}

/// The JVM-flag properties of a server started with zoo.cfg `zoo_cfg` (`None`: without
/// one) in this process's environment.
pub fn from_environment(zoo_cfg: Option<&Path>) -> BTreeMap<String, String> {
    let env = |k: &str| std::env::var(k).ok();
    let dir = config_dir(zoo_cfg, &env);
    properties(&flag_vars(dir.as_deref(), &env))
}

/// The properties the flag variables `vars` give ([`is_candidate`] ones; the others are
/// logged at debug level and dropped).
pub fn properties(vars: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for var in VARS {
        for (k, v) in vars.get(var).map(|f| parse_flags(f)).unwrap_or_default() {
            if is_candidate(&k) {
                out.insert(k, v);
            } else {
                tracing::debug!(property = %k, variable = var, "JVM flag ignored: Menagerie does not read it");
            }
        }
    }
    out
}

/// zoo.cfg's properties with the JVM ones added where zoo.cfg does not set the same key
/// under either spelling (`k` or `zookeeper.k`); also returns the keys that came from the
/// JVM flags.
pub fn merge(
    jvm: BTreeMap<String, String>,
    cfg: BTreeMap<String, String>,
) -> (BTreeMap<String, String>, BTreeSet<String>) {
    let mut props = cfg;
    let mut from_jvm = BTreeSet::new();
    for (k, v) in jvm {
        let twin = match k.strip_prefix("zookeeper.") {
            Some(bare) => bare.to_owned(),
            None => format!("zookeeper.{k}"),
        };
        if props.contains_key(&k) || props.contains_key(&twin) {
            tracing::debug!(property = %k, "JVM flag overridden by zoo.cfg, as in ZooKeeper");
            continue;
        }
        from_jvm.insert(k.clone());
        props.insert(k, v);
    }
    (props, from_jvm)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn every_known_property_is_read_and_the_rest_dropped() {
        let vars = map(&[(
            "SERVER_JVMFLAGS",
            "-Xmx1g -Dznode.container.checkIntervalMs=100 -Djute.maxbuffer=4096 \
             -Dzookeeper.snapCount=7 -Dreadonlymode.enabled=true -Dsun.net.x=1 -Dmenagerie.maxQueuedBytesTotal=9",
        )]);
        assert_eq!(
            properties(&vars),
            map(&[
                ("jute.maxbuffer", "4096"),
                ("menagerie.maxQueuedBytesTotal", "9"),
                ("readonlymode.enabled", "true"),
                ("znode.container.checkIntervalMs", "100"),
                ("zookeeper.snapCount", "7"),
            ])
        );
    }

    #[test]
    fn security_properties_and_values_with_equals_signs_are_kept() {
        let vars = map(&[(
            "JVMFLAGS",
            "-Xmx1g -Dzookeeper.skipACL=yes -Dfoo=bar \
             -Dzookeeper.DigestAuthenticationProvider.superDigest=super:a= \
             -Djava.security.auth.login.config=/j",
        )]);
        let p = properties(&vars);
        assert_eq!(p.len(), 3);
        assert_eq!(p["zookeeper.skipACL"], "yes");
        assert_eq!(
            p["zookeeper.DigestAuthenticationProvider.superDigest"],
            "super:a="
        );
        assert_eq!(p["java.security.auth.login.config"], "/j");
    }

    #[test]
    fn zoo_cfg_wins_under_either_spelling() {
        let jvm = map(&[
            ("zookeeper.snapCount", "7"),
            ("zookeeper.maxCnxns", "5"),
            ("jute.maxbuffer", "2048"),
            ("zookeeper.digest.enabled", "false"),
        ]);
        let cfg = map(&[
            ("snapCount", "100"),
            ("zookeeper.maxCnxns", "50"),
            ("zookeeper.jute.maxbuffer", "4096"),
        ]);
        let (props, from_jvm) = merge(jvm, cfg);
        assert_eq!(
            props,
            map(&[
                ("snapCount", "100"),
                ("zookeeper.digest.enabled", "false"),
                ("zookeeper.jute.maxbuffer", "4096"),
                ("zookeeper.maxCnxns", "50"),
            ])
        );
        assert_eq!(
            from_jvm.into_iter().collect::<Vec<_>>(),
            vec!["zookeeper.digest.enabled".to_string()]
        );
    }

    #[test]
    fn env_scripts_assign_and_extend_the_flag_variables() {
        let mut vars = map(&[("JVMFLAGS", "-Da=1")]);
        apply_env_script(
            "# comment\nexport SERVER_JVMFLAGS=\"-Dzookeeper.snapCount=7 $SERVER_JVMFLAGS\"\n\
             JVMFLAGS=\"${JVMFLAGS} -Djute.maxbuffer=2048\"\nOTHER=-Dx=y\n\
             SERVER_JVMFLAGS=\"$SERVER_JVMFLAGS -Db=2\" # done\nexport JVMFLAGS='$JVMFLAGS -Dc=3'\n",
            &mut vars,
        );
        assert_eq!(
            vars,
            map(&[
                ("JVMFLAGS", "$JVMFLAGS -Dc=3"),
                ("SERVER_JVMFLAGS", "-Dzookeeper.snapCount=7  -Db=2"),
            ])
        );
    }

    #[test]
    fn the_config_dir_is_zoocfgdir_else_the_zoo_cfg_directory() {
        let none = |_: &str| None;
        let set = |k: &str| (k == "ZOOCFGDIR").then(|| "/etc/zk".to_owned());
        let cfg = Path::new("/opt/zk/conf/zoo.cfg");
        assert_eq!(
            config_dir(Some(cfg), &none),
            Some(PathBuf::from("/opt/zk/conf"))
        );
        assert_eq!(config_dir(Some(cfg), &set), Some(PathBuf::from("/etc/zk")));
        assert_eq!(config_dir(None, &none), None);
    }
}
