//! zkCli's command table and usage texts (and Menagerie's extra commands): what `usage`,
//! `help`, completion and every command's usage error print. A leaf of the shell's modules.

/// zkCli's commands and their usage strings, in `usage` order (sorted by name).
pub const COMMANDS: &[(&str, &str)] = &[
    (
        "addWatch",
        "[-m mode] path # optional mode is one of [PERSISTENT, PERSISTENT_RECURSIVE] - default is PERSISTENT_RECURSIVE",
    ),
    ("addauth", "scheme auth"),
    ("close", ""),
    ("config", "[-c] [-w] [-s]"),
    ("connect", "host:port"),
    ("create", "[-s] [-e] [-c] [-t ttl] path [data] [acl]"),
    ("delete", "[-v version] path"),
    ("deleteall", "path [-b batch size]"),
    ("delquota", "[-n|-b|-N|-B] path"),
    ("get", "[-s] [-w] path"),
    ("getAcl", "[-s] path"),
    ("getAllChildrenNumber", "path"),
    ("getEphemerals", "path"),
    ("history", ""),
    ("listquota", "path"),
    ("ls", "[-s] [-w] [-R] path"),
    ("printwatches", "on|off"),
    ("quit", ""),
    (
        "reconfig",
        "[-s] [-v version] [[-file path] | [-members serverID=host:port1:port2;port3[,...]*]] | [-add serverId=host:port1:port2;port3[,...]]* [-remove serverId[,...]*]",
    ),
    ("redo", "cmdno"),
    ("removewatches", "path [-c|-d|-a] [-l]"),
    ("set", "[-s] [-v version] path data"),
    ("setAcl", "[-s] [-v version] [-R] path acl"),
    ("setquota", "-n|-b|-N|-B val path"),
    ("stat", "[-w] path"),
    ("sync", "path"),
    ("version", ""),
    ("whoami", ""),
];

/// Menagerie's own commands (listed after zkCli's in `usage`).
pub const EXTRA_COMMANDS: &[(&str, &str)] = &[
    ("tree", "[path]  # recursive listing with data sizes"),
    (
        "watch",
        "[-R] [-n count] path  # print events until Ctrl-C or count events",
    ),
    (
        "export",
        "path file  # subtree with data and ACLs to a JSON file",
    ),
    ("import", "file [path]  # a JSON export back into the tree"),
];

/// The usage string of a command (`name options`).
pub fn usage_of(name: &str) -> String {
    COMMANDS
        .iter()
        .chain(EXTRA_COMMANDS)
        .find(|(n, _)| *n == name)
        .map(|(n, u)| format!("{n} {u}"))
        .unwrap_or_else(|| name.to_string())
}

/// The text `usage()` prints (zkCli's list, then the extras).
pub fn usage_text() -> String {
    let mut s = String::from(
        "ZooKeeper -server host:port -client-configuration properties-file cmd args\n",
    );
    for (n, u) in COMMANDS {
        s.push_str(&format!("\t{n} {u}\n"));
    }
    s
}

/// `help` (not a zkCli command): the usage, then Menagerie's extras.
pub fn help_text() -> String {
    let mut s = usage_text();
    s.push_str("Menagerie extras (read commands also take --json):\n");
    s.push_str("\thelp \n");
    for (n, u) in EXTRA_COMMANDS {
        s.push_str(&format!("\t{n} {u}\n"));
    }
    s
}
