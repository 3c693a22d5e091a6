"""ZooKeeper's own shell (zkCli.sh, the Java client) against Java ZooKeeper and Menagerie.

    python3 tests/compat/zkcli_test.py                    # java and menagerie, checks + diff
    python3 tests/compat/zkcli_test.py --servers java     # only the reference
    python3 tests/compat/zkcli_test.py --server 127.0.0.1:2181   # one running FRESH server
    python3 tests/compat/zkcli_test.py --show             # print the normalised transcripts

zkCli.sh is driven in two ways:

* piped sessions: many commands on stdin of one zkCli process (one session, so ephemerals,
  watches and auth live across commands). After every command the client-only command
  ``printwatches`` is sent; its answer ``printwatches is on`` splits the merged stdout+stderr
  into one block per command.
* one-shot: ``zkCli.sh -server HOST:PORT cmd args`` (exit status recorded too).

Each block is normalised: zxids in Stat output become ``B+n`` relative to the czxid of the
first node the test creates (``/zc``), nonzero times become ``<time>``, nonzero
ephemeralOwner values become ``<session-N>`` in order of appearance, bracketed lists and
``ls -R`` output are sorted (child order is unspecified). Watch notifications are printed
by another thread at arbitrary points, so they are taken out of the blocks and compared as a
sorted list per session.

Results: ``TESTRESULT PASS|FAIL zkcli[<server>]`` for the expectations below (each server
separately) and ``TESTRESULT PASS|FAIL zkcli[java-vs-menagerie]`` for the comparison.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import zkserver  # noqa: E402

ZKCLI = zkserver.ZKCLI
MARK = "printwatches"
MARK_OUT = "printwatches is on"
SESSION_TIMEOUT = 90  # seconds for one piped zkCli session
ONESHOT_TIMEOUT = 30

# (command, expected normalised block or None). An expectation is the exact text of the
# block after normalisation, lines joined with "\n"; None = only compared between servers.
# Expectations follow ZooKeeper 3.8 behaviour (checked against the spec and the Java server).
STAT_ZC_FRESH = """cZxid = B+0
ctime = <time>
mZxid = B+0
mtime = <time>
pZxid = B+0
cversion = 0
dataVersion = 0
aclVersion = 0
ephemeralOwner = 0x0
dataLength = 5
numChildren = 0"""

SESSION1: list[tuple[str, str | None]] = [
    ("create /zc hello", "Created /zc"),
    ("stat /zc", STAT_ZC_FRESH),
    ("get /zc", "hello"),
    ("get -s /zc", "hello\n" + STAT_ZC_FRESH),
    ("set /zc world", ""),
    ("set -s /zc world2", None),
    ("set -v 0 /zc x", "version No is not valid : /zc"),
    ("set -v 2 /zc v2", ""),
    ("get /zc", "v2"),
    ("create /zc x", "Node already exists: /zc"),
    ("create /nope/x", "Node does not exist: /nope/x"),
    ("create /zc/child", "Created /zc/child"),
    ("get /zc/child", "null"),  # created without data: null, not empty
    ('create /zc/empty ""', "Created /zc/empty"),
    ("get /zc/empty", ""),
    ('create /zc/spaced "a b c"', "Created /zc/spaced"),
    ("get /zc/spaced", "a b c"),
    ("create -s /zc/s-", "Created /zc/s-0000000003"),
    ("create -s /zc/s- data", "Created /zc/s-0000000004"),
    ("create -e /zc/e eph", "Created /zc/e"),
    ("create -e -s /zc/es-", "Created /zc/es-0000000006"),
    ("create /zc/e/x", "Ephemerals cannot have children: /zc/e/x"),
    ("create -s /zc/e/x", "Ephemerals cannot have children: /zc/e/x"),
    ("stat /zc/e", None),
    ("create -c /zcont", "Created /zcont"),
    ("stat /zcont", None),
    ("create -c /zcont/x cx", "Created /zcont/x"),
    ("create /zcont/x/y", "Created /zcont/x/y"),
    ("create -t 100000 /zttl tdata", "Created /zttl"),
    ("stat /zttl", None),  # TTL nodes report ephemeralOwner 0
    ("create -t 100000 -s /zttl/s-", "Created /zttl/s-0000000000"),
    ("create -s -t 5000 /zttls-", None),
    ("create -t 0 /zt0", "ttl must be positive and cannot be larger than: 1099511627775"),
    ("create /zt0/x", "Node does not exist: /zt0/x"),
    ("ls /zc", "[child, e, empty, es-0000000006, s-0000000003, s-0000000004, spaced]"),
    ("ls -s /zc", None),
    ("ls -R /zc", None),
    ("ls /", None),
    ("ls -s /", None),
    ("ls /missing", "Node does not exist: /missing"),
    ("getAllChildrenNumber /zc", "7"),
    ("getAllChildrenNumber /zcont", "2"),
    ("getAllChildrenNumber /", None),
    ("getAllChildrenNumber /missing", "Node does not exist: /missing"),
    ("getEphemerals", "[/zc/e, /zc/es-0000000006]"),
    ("getEphemerals /zc/e", "[/zc/e, /zc/es-0000000006]"),  # plain string prefix
    ("getEphemerals /zc/es", "[/zc/es-0000000006]"),
    ("getEphemerals /nomatch", "[]"),
    ("delete /zc", "Node not empty: /zc"),
    ("delete -v 5 /zc/child", "version No is not valid : /zc/child"),
    ("delete -v 0 /zc/child", ""),
    ("delete /missing", "Node does not exist: /missing"),
    ("delete /zookeeper", "Arguments are not valid : /zookeeper"),
    ("delete /zookeeper/quota", "Arguments are not valid : /zookeeper/quota"),
    ("deleteall /zcont", ""),
    ("stat /zcont", "Node does not exist: /zcont"),
    ("deleteall /zttl", ""),
    ("ls /", None),
    ("getAcl /zc", "'world,'anyone\n: cdrwa"),
    ("getAcl -s /zc", None),
    ("setAcl /zc world:anyone:ra", ""),
    ("getAcl /zc", "'world,'anyone\n: ra"),
    ("set /zc denied", "Insufficient permission : /zc"),
    ("create /zc/denied", "Insufficient permission : /zc/denied"),
    ("get /zc", "v2"),
    ("setAcl -v 0 /zc world:anyone:cdrwa", "version No is not valid : /zc"),
    ("setAcl -s -v 1 /zc world:anyone:cdrwa", None),
    ("addauth digest u1:p1", ""),
    ("create /zd ddata auth::cdrwa", "Created /zd"),
    ("getAcl /zd", "'digest,'u1:fpT/y03U+EjItKZOSLGvjnJlyng=\n: cdrwa"),
    ("create /zd2 d digest:u1:fpT/y03U+EjItKZOSLGvjnJlyng=:r", "Created /zd2"),
    ("get /zd2", "d"),
    ("whoami", "Auth scheme: User\ndigest: u1\nip: 127.0.0.1"),  # lines sorted
    ("create /zip x ip:127.0.0.1:cdrwa", "Created /zip"),
    ("getAcl /zip", "'ip,'127.0.0.1\n: cdrwa"),
    ("get /zip", "x"),
    ("create /zbadacl x world:anyone:zz", None),
    ("create /zbadacl2 x nosuch:x:cdrwa", None),
    ("sync /zc", "Sync is OK"),
    ("stat /", None),
    ("stat /zookeeper", None),
    ("ls /zookeeper", "[config, quota]"),
    ("get /zookeeper/config", ""),
    ("getAcl /zookeeper/config", "'world,'anyone\n: r"),
    ("set /zookeeper/config x", "Insufficient permission : /zookeeper/config"),
    ("create /zookeeper/zfoo", "Created /zookeeper/zfoo"),
    ("delete /zookeeper/zfoo", ""),
    ("get -w /zc", "v2"),
    ("set /zc w1", ""),
    ("ls -w /zc", None),
    ("create /zc/w", "Created /zc/w"),
    ("stat -w /zw", "Node does not exist: /zw"),
    ("create /zw", "Created /zw"),
    ("addWatch /zw", ""),
    ("create /zw/a", "Created /zw/a"),
    ("set /zw/a x", ""),
    ("delete /zw/a", ""),
    ("addWatch -m PERSISTENT /zc", ""),
    ("set /zc w2", ""),
    ("create /zc/p", "Created /zc/p"),
    ("removewatches /zc", ""),
    ("set /zc w3", ""),
    ("removewatches /zmissing", "KeeperErrorCode = No such watcher for /zmissing"),
    ("create /zq", "Created /zq"),
    ("setquota -n 3 /zq", None),
    ("listquota /zq", None),
    ("create /zq/a", "Created /zq/a"),
    ("create /zq/b", "Created /zq/b"),
    ("listquota /zq", None),
    ("ls /zookeeper/quota/zq", "[zookeeper_limits, zookeeper_stats]"),
    ("get /zookeeper/quota/zq/zookeeper_stats", "count=3,bytes=0"),
    ("delquota -n /zq", None),
    ("listquota /zq", None),
    ("deleteall /zq", ""),
    ("ls -R /zookeeper", None),
    ("create /zb b", "Created /zb"),
    ("setquota -b 10 /zb", None),
    ("create /zb/c 123456789012", "Created /zb/c"),
    ("listquota /zb", None),  # bytes are counted too
    ("setquota -n 2 /zookeeper/quota", "cannot set a quota under the path: /zookeeper/quota"),
    ("delquota /zb", ""),
    ("listquota /zb", "absolute path is /zookeeper/quota/zb/zookeeper_limits\nquota for /zb does not exist."),
    ("ls /zookeeper/quota", "[zq]"),
    ("create /zr r", "Created /zr"),
    ("create /zr/c c", "Created /zr/c"),
    ("setAcl -R /zr world:anyone:cdra", ""),
    ("getAcl /zr/c", "'world,'anyone\n: cdra"),
    ("set /zr/c x", "Insufficient permission : /zr/c"),
    ("ls -s -R /zr", None),
    ("config -s", None),
    ("reconfig -add server.5=127.0.0.1:1234:1235;1236", "KeeperErrorCode = Reconfig is disabled"),
    ("getAcl /missing", "Node does not exist: /missing"),
    ("sync /missing", "Sync is OK"),
    ("stat /zc", None),
    # no marker can be sent while disconnected ("Not connected"), so close+connect is one block
    ("close\nconnect {hostport}", ""),
    ("get /zc", "w3"),
    ("getEphemerals", "[]"),  # the first session was closed: its ephemerals are gone
]

# A second session after the first one ended: its ephemerals are gone.
SESSION2: list[tuple[str, str | None]] = [
    ("ls /zc", "[empty, p, s-0000000003, s-0000000004, spaced, w]"),
    ("getEphemerals", "[]"),
    ("stat /zc", None),
    ("ls /", None),
    ("getAllChildrenNumber /", None),
]

# One-shot invocations: (argv after "-server host:port", expected block, expected exit status)
ONESHOT: list[tuple[list[str], str | None, int | None]] = [
    (["create", "/os", "data"], "Created /os", 0),
    (["get", "/os"], "data", 0),
    (["get", "-s", "/os"], None, 0),
    (["get", "/missing"], "Node does not exist: /missing", 1),
    (["set", "/os", "d2"], "", 0),
    (["ls", "/os"], "[]", 0),
    (["create", "-s", "/os/s-", "x"], "Created /os/s-0000000000", 0),
    (["ls", "/os"], "[s-0000000000]", 0),
    (["delete", "/os"], "Node not empty: /os", 1),
    (["deleteall", "/os"], "", 0),
    (["delete", "/os"], "Node does not exist: /os", 1),
    (["stat", "/"], None, 0),
]


# ----------------------------------------------------------------------------------------------

NOISE = (
    re.compile(r"^SLF4J: "),
    re.compile(r"^Connecting to "),
    re.compile(r"^Welcome to ZooKeeper!$"),
    re.compile(r"^JLine support is "),
)
EVENT_RE = re.compile(r"^WatchedEvent state:(\S+) type:(\S+) path:(.*)$")


class Normaliser:
    def __init__(self):
        self.base: int | None = None
        self.sessions: dict[str, str] = {}

    def zxid(self, hexval: str) -> str:
        v = int(hexval, 16)
        if self.base is None or v == 0:
            return hex(v) if v == 0 else f"ABS+{v}"
        d = v - self.base
        return f"B+{d}" if d >= 0 else f"B{d}"

    def line(self, ln: str) -> str:
        m = re.match(r"^([cmp]Zxid) = (0x[0-9a-fA-F]+)$", ln)
        if m:
            return f"{m.group(1)} = {self.zxid(m.group(2))}"
        m = re.match(r"^([cm]time) = (.*)$", ln)
        if m:
            return ln if "1970" in m.group(2) else f"{m.group(1)} = <time>"
        m = re.match(r"^ephemeralOwner = (0x[0-9a-fA-F]+)$", ln)
        if m and int(m.group(1), 16) != 0:
            sid = m.group(1)
            if sid not in self.sessions:
                self.sessions[sid] = f"<session-{len(self.sessions) + 1}>"
            return f"ephemeralOwner = {self.sessions[sid]}"
        m = re.match(r"^\[(.*)\]$", ln)
        if m:
            items = [x for x in m.group(1).split(", ")] if m.group(1) else []
            return "[" + ", ".join(sorted(items)) + "]"
        return ln

    def block(self, cmd: str, lines: list[str]) -> str:
        out = [self.line(x) for x in lines]
        if cmd.startswith("ls -R") or cmd.startswith("ls -w -R"):
            out = sorted(out)  # traversal order follows the unspecified child order
        if cmd == "whoami" and len(out) > 1:
            out = out[:1] + sorted(out[1:])  # order of a connection's auth ids is not specified
        return "\n".join(out)


def _env() -> dict:
    env = dict(os.environ)
    env["CLIENT_JVMFLAGS"] = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xshare:auto"
    return env


def _unfinished_list(line: str) -> bool:
    """An `ls` answer ('[a, b]') whose closing bracket is still to come."""
    return line.startswith("[") and not line.endswith("]")


def split_events(lines: list[str]) -> tuple[list[str], list[str]]:
    """Take 'WATCHER::' / '' / 'WatchedEvent ...' triples out of the output."""
    out, events = [], []
    stray_watcher = False
    i = 0
    while i < len(lines):
        ln = lines[i]
        if ln == "WATCHER::":
            # normally followed by an empty line and the event line
            j = i + 1
            while j < len(lines) and j <= i + 2 and not EVENT_RE.match(lines[j]) and lines[j] == "":
                j += 1
            if j < len(lines) and EVENT_RE.match(lines[j]):
                events.append(lines[j])
                i = j + 1
                continue
            # The event thread's lines interleaved with the command's output (zkCli prints
            # 'WATCHER::', '' and the event in three calls): its '' comes later.
            stray_watcher = True
            i += 1
            continue
        m = EVENT_RE.match(ln)
        if m:
            if stray_watcher and out and out[-1] == "":
                out.pop()
            stray_watcher = False
            events.append(ln)
            i += 1
            continue
        if out and _unfinished_list(out[-1]) and i > 0 and lines[i - 1] != out[-1]:
            # The event thread's lines cut an `ls` answer in two ('[' then the rest).
            out[-1] += ln
        else:
            out.append(ln)
        i += 1
    # connection state changes of the shell itself are not interesting
    events = [e for e in events if "type:None" not in e]
    return out, events


def run_piped(hostport: str, commands: list[str]) -> tuple[list[list[str]], list[str], str]:
    script = "".join(f"{c}\n{MARK}\n" for c in commands) + "quit\n"
    p = subprocess.run(
        [ZKCLI, "-server", hostport],
        input=script,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=SESSION_TIMEOUT,
        env=_env(),
    )
    raw = p.stdout
    lines = [ln for ln in raw.splitlines() if not any(r.match(ln) for r in NOISE)]
    lines, events = split_events(lines)
    blocks: list[list[str]] = []
    cur: list[str] = []
    # Everything before the first command's output is the banner: drop leading empties.
    for ln in lines:
        if ln == MARK_OUT:
            blocks.append(cur)
            cur = []
        else:
            cur.append(ln)
    # whatever comes after the last marker is the 'quit' output
    blocks = [_trim(b) for b in blocks]
    return blocks, sorted(events), raw


def _trim(b: list[str]) -> list[str]:
    while b and b[0] == "":
        b = b[1:]
    while b and b[-1] == "":
        b = b[:-1]
    return b


def run_oneshot(hostport: str, argv: list[str]) -> tuple[list[str], int]:
    p = subprocess.run(
        [ZKCLI, "-server", hostport, *argv],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=ONESHOT_TIMEOUT,
        env=_env(),
    )
    lines = [ln for ln in p.stdout.splitlines() if not any(r.match(ln) for r in NOISE)]
    lines, _events = split_events(lines)
    return _trim(lines), p.returncode


def transcript(hostport: str) -> list[dict]:
    """Run everything against one server; return normalised records."""
    norm = Normaliser()
    recs: list[dict] = []
    for sname, session in (("s1", SESSION1), ("s2", SESSION2)):
        cmds = [c.format(hostport=hostport) for c, _ in session]
        blocks, events, raw = run_piped(hostport, cmds)
        if len(blocks) != len(cmds):
            recs.append({"where": sname, "cmd": "<session>", "out":
                         f"expected {len(cmds)} blocks, got {len(blocks)}; raw tail:\n{raw[-2000:]}",
                         "expect": None})
        for idx, (cmd, exp) in enumerate(session):
            cmd = cmd.replace("{hostport}", "<host:port>")
            b = blocks[idx] if idx < len(blocks) else ["<no output: session ended early>"]
            if sname == "s1" and cmd == "stat /zc" and norm.base is None:
                m = next((re.match(r"^cZxid = 0x([0-9a-fA-F]+)$", x) for x in b if x.startswith("cZxid")), None)
                if m:
                    norm.base = int(m.group(1), 16)
            recs.append({"where": sname, "cmd": cmd, "out": norm.block(cmd, b), "expect": exp})
        recs.append({"where": sname, "cmd": "<watch events>", "out": "\n".join(norm.line(e) for e in events),
                     "expect": None})
    for argv, exp, exp_rc in ONESHOT:
        lines, rc = run_oneshot(hostport, argv)
        cmd = " ".join(argv)
        recs.append({"where": "oneshot", "cmd": cmd, "out": norm.block(cmd, lines), "expect": exp})
        recs.append({"where": "oneshot", "cmd": cmd + "  (exit status)", "out": str(rc),
                     "expect": None if exp_rc is None else str(exp_rc)})
    return recs


def check_expectations(label: str, recs: list[dict]) -> int:
    bad = 0
    for r in recs:
        if r["cmd"] == "<session>":
            bad += 1
            print(f"[{label}] {r['where']}: {r['out']}")
            continue
        if r["expect"] is not None and r["out"] != r["expect"]:
            bad += 1
            print(f"[{label}] UNEXPECTED {r['where']} `{r['cmd']}`")
            print(_indent("expected", r["expect"]))
            print(_indent("got", r["out"]))
    return bad


def compare(a_label: str, a: list[dict], b_label: str, b: list[dict]) -> int:
    bad = 0
    for i in range(max(len(a), len(b))):
        ra = a[i] if i < len(a) else None
        rb = b[i] if i < len(b) else None
        if ra and rb and ra["cmd"] == rb["cmd"] and ra["out"] == rb["out"]:
            continue
        bad += 1
        where = ra or rb
        print(f"MISMATCH {where['where']} `{where['cmd']}`")
        print(_indent(f"expected ({a_label})", ra["out"] if ra else "<absent>"))
        print(_indent(f"got ({b_label})", rb["out"] if rb else "<absent>"))
    return bad


def _indent(title: str, text: str) -> str:
    body = "\n".join("        " + x for x in (text.splitlines() or ["<empty>"]))
    return f"    {title}:\n{body}"


def main(argv=None) -> int:
    zkserver.install_signal_handlers()
    ap = argparse.ArgumentParser(description="zkCli.sh against Java ZooKeeper and Menagerie")
    ap.add_argument("--servers", default="java,menagerie", help="comma list of java,menagerie")
    ap.add_argument("--server", help="use this running fresh server (host:port) instead")
    ap.add_argument("--show", action="store_true", help="print the normalised transcripts")
    args = ap.parse_args(argv)
    if not os.path.exists(ZKCLI):
        print(f"{ZKCLI} not found (install the Debian package 'zookeeper')")
        print("TESTRESULT FAIL zkcli")
        return 2

    results: dict[str, list[dict]] = {}
    status = 0
    if args.server:
        targets = [("given", None)]
    else:
        kinds = [k for k in args.servers.split(",") if k]
        targets = [(k if kinds.count(k) == 1 else f"{k}#{i + 1}", k) for i, k in enumerate(kinds)]
    for label, kind in targets:
        if kind is None:
            recs = transcript(args.server)
        else:
            why = zkserver.check_available(kind)
            if why:
                print(f"cannot run zkCli against {kind}: {why}")
                print(f"TESTRESULT FAIL zkcli[{kind}]")
                status = 1
                continue
            try:
                with zkserver.start_server(kind) as srv:
                    recs = transcript(srv.hostport)
                    if not srv.alive():
                        print(f"{kind} server died; log tail:\n{srv.log_tail()}")
            except (zkserver.ServerUnavailable, subprocess.TimeoutExpired) as e:
                print(f"cannot run zkCli against {kind}: {e}")
                print(f"TESTRESULT FAIL zkcli[{kind}]")
                status = 1
                continue
        results[label] = recs
        if args.show:
            print(f"===== {label}")
            for r in recs:
                print(f"--- {r['where']} `{r['cmd']}`")
                print(r["out"])
        bad = check_expectations(label, recs)
        n_exp = sum(1 for r in recs if r["expect"] is not None)
        print(f"zkcli[{label}]: {n_exp - bad}/{n_exp} expectations met")
        print(f"TESTRESULT {'PASS' if bad == 0 else 'FAIL'} zkcli[{label}]")
        status |= 1 if bad else 0

    # the first server is the reference; every other one is compared with it
    labels = [t[0] for t in targets]
    ref = labels[0]
    for other in labels[1:]:
        name = f"zkcli[{ref}-vs-{other}]"
        if ref not in results or other not in results:
            print(f"TESTRESULT FAIL {name}")
            status = 1
            continue
        bad = compare(ref, results[ref], other, results[other])
        print(f"{name}: {bad} differing blocks out of {len(results[ref])}")
        print(f"TESTRESULT {'PASS' if bad == 0 else 'FAIL'} {name}")
        status |= 1 if bad else 0
    return status


if __name__ == "__main__":
    sys.exit(main())
