//! Argument handling as zkCli.sh does it: the connection flags before the command
//! (`ZooKeeperMain.MyCommandOptions`), splitting an interactive line into words, and the
//! per-command short options (Apache commons-cli `DefaultParser` rules).

/// Connection settings from the flags before the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MainArgs {
    /// `-server host:port[,host:port]` (default `localhost:2181`).
    pub server: String,
    /// `-timeout ms`: requested session timeout (default 30000).
    pub timeout_ms: u64,
    /// `-r`: ask for a read-only session.
    pub read_only: bool,
    /// `-waitforconnection`: fail if no connection within the timeout.
    pub wait_for_connection: bool,
    /// `-client-configuration file`: a Java properties file.
    pub client_configuration: Option<String>,
    /// `--json` / `-json`: JSON output for read commands.
    pub json: bool,
    /// The one-shot command and its arguments, if given.
    pub command: Option<Vec<String>>,
}

impl Default for MainArgs {
    fn default() -> Self {
        MainArgs {
            server: "localhost:2181".into(),
            timeout_ms: 30_000,
            read_only: false,
            wait_for_connection: false,
            client_configuration: None,
            json: false,
            command: None,
        }
    }
}

/// Parses the arguments after `menagerie cli`. Unknown `-flags` before the command are
/// ignored, as zkCli does; the first word not starting with `-` starts the command.
pub fn parse_main(args: &[String]) -> Result<MainArgs, String> {
    let mut m = MainArgs::default();
    let mut it = args.iter();
    while let Some(opt) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("Error: no argument found for option {name}"))
        };
        match opt.as_str() {
            "-server" | "--server" => m.server = value(opt)?,
            "-timeout" | "--timeout" => {
                let v = value(opt)?;
                m.timeout_ms = v
                    .parse()
                    .map_err(|_| format!("Error: -timeout needs a number of ms, not {v:?}"))?;
            }
            "-r" => m.read_only = true,
            "-waitforconnection" => m.wait_for_connection = true,
            "-client-configuration" => m.client_configuration = Some(value(opt)?),
            "--json" | "-json" => m.json = true,
            o if !o.starts_with('-') => {
                let mut cmd = vec![o.to_string()];
                cmd.extend(it.cloned());
                m.command = Some(cmd);
                break;
            }
            _ => {}
        }
    }
    Ok(m)
}

/// Splits an interactive line into words: whitespace separates, a word that starts with a
/// quote runs to the matching quote and loses its quotes (`"a b"` is one word `a b`).
pub fn split_line(line: &str) -> Vec<String> {
    let chars: Vec<char> = line.chars().collect();
    let mut words = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let q = chars[i];
        if q == '"' || q == '\'' {
            if let Some(end) = chars[i + 1..].iter().position(|&c| c == q) {
                words.push(chars[i + 1..i + 1 + end].iter().collect());
                i += end + 2;
                continue;
            }
            // an unmatched quote: the quote alone is a word, as zkCli's pattern makes it
            words.push(q.to_string());
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && !chars[i].is_whitespace() {
            i += 1;
        }
        words.push(chars[start..i].iter().collect());
    }
    words
}

/// The result of parsing one command's words.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// Flags seen, with their value for flags that take one.
    pub flags: Vec<(char, Option<String>)>,
    /// Positional arguments, the command name first.
    pub args: Vec<String>,
    /// `--json` was among the words.
    pub json: bool,
}

impl Parsed {
    /// Whether flag `c` was given.
    pub fn has(&self, c: char) -> bool {
        self.flags.iter().any(|(f, _)| *f == c)
    }

    /// The value of flag `c`, if given with one.
    pub fn value(&self, c: char) -> Option<&str> {
        self.flags
            .iter()
            .rev()
            .find(|(f, _)| *f == c)
            .and_then(|(_, v)| v.as_deref())
    }

    /// Positional argument `i` (0 is the command name).
    pub fn arg(&self, i: usize) -> Option<&str> {
        self.args.get(i).map(String::as_str)
    }
}

/// Parses a command's words with the option spec `spec`: letters, each followed by `:` if
/// it takes a value (`"sv:R"`). Options may appear anywhere; a bundle such as `-sw` sets
/// several flags; `--json` is taken out first. Errors are commons-cli's messages.
pub fn parse_opts(words: &[String], spec: &str) -> Result<Parsed, String> {
    let takes = |c: char| -> Option<bool> {
        let i = spec.find(c)?;
        Some(spec[i + c.len_utf8()..].starts_with(':'))
    };
    let mut p = Parsed::default();
    let mut it = words.iter();
    if let Some(first) = it.next() {
        p.args.push(first.clone());
    }
    while let Some(w) = it.next() {
        if w == "--json" {
            p.json = true;
            continue;
        }
        if w == "--" {
            p.args.extend(it.by_ref().cloned());
            break;
        }
        if !w.starts_with('-') || w == "-" {
            p.args.push(w.clone());
            continue;
        }
        let body: Vec<char> = w[1..].chars().collect();
        let Some(&c) = body.first() else {
            continue;
        };
        match takes(c) {
            None => {
                return Err(format!(
                    "org.apache.commons.cli.UnrecognizedOptionException: Unrecognized option: {w}"
                ));
            }
            Some(true) => {
                let v = if body.len() > 1 {
                    body[1..].iter().collect()
                } else {
                    it.next().cloned().ok_or_else(|| {
                        format!(
                            "org.apache.commons.cli.MissingArgumentException: Missing argument for option: {c}"
                        )
                    })?
                };
                p.flags.push((c, Some(v)));
            }
            Some(false) => {
                for &b in &body {
                    if takes(b) != Some(false) {
                        return Err(format!(
                            "org.apache.commons.cli.UnrecognizedOptionException: Unrecognized option: {w}"
                        ));
                    }
                    p.flags.push((b, None));
                }
            }
        }
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn main_flags() {
        let m = parse_main(&words("-server h:1,h:2 -timeout 5000 -r get -s /a")).expect("parses");
        assert_eq!(m.server, "h:1,h:2");
        assert_eq!(m.timeout_ms, 5000);
        assert!(m.read_only);
        assert_eq!(m.command, Some(words("get -s /a")));
        let m = parse_main(&words(
            "-waitforconnection -client-configuration f.properties",
        ))
        .expect("parses");
        assert!(m.wait_for_connection);
        assert_eq!(m.client_configuration.as_deref(), Some("f.properties"));
        assert_eq!(m.command, None);
        assert!(parse_main(&words("-server")).is_err());
        assert!(parse_main(&words("-timeout abc")).is_err());
        assert!(parse_main(&words("--json ls /")).expect("parses").json);
    }

    #[test]
    fn line_splitting() {
        assert_eq!(
            split_line("  create /a  \"a b c\" "),
            vec!["create", "/a", "a b c"]
        );
        assert_eq!(split_line("set /a ''"), vec!["set", "/a", ""]);
        assert_eq!(split_line("set /a 'x y"), vec!["set", "/a", "'", "x", "y"]);
        assert!(split_line("   ").is_empty());
    }

    #[test]
    fn options() {
        let p = parse_opts(&words("get -s -w /a"), "swbx").expect("parses");
        assert!(p.has('s') && p.has('w') && !p.has('b'));
        assert_eq!(p.args, words("get /a"));
        let p = parse_opts(&words("set -v 3 /a d"), "sv:b").expect("parses");
        assert_eq!(p.value('v'), Some("3"));
        assert_eq!(p.args, words("set /a d"));
        let p = parse_opts(&words("deleteall /a -b5"), "b:").expect("parses");
        assert_eq!(p.value('b'), Some("5"));
        let p = parse_opts(&words("ls -sR /a --json"), "swR").expect("parses");
        assert!(p.has('s') && p.has('R') && p.json);
        assert_eq!(
            parse_opts(&words("ls -x /"), "swR"),
            Err(
                "org.apache.commons.cli.UnrecognizedOptionException: Unrecognized option: -x"
                    .into()
            )
        );
        assert_eq!(
            parse_opts(&words("set /a d -v"), "sv:b"),
            Err(
                "org.apache.commons.cli.MissingArgumentException: Missing argument for option: v"
                    .into()
            )
        );
    }
}
