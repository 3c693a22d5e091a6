"""ZooKeeper's C client shell (cli_mt, Debian package zookeeper-bin) against both servers.

    python3 tests/compat/cli_mt_test.py                  # java and menagerie, checks + diff
    python3 tests/compat/cli_mt_test.py --servers java,java   # self-test of the masking
    python3 tests/compat/cli_mt_test.py --server 127.0.0.1:2181 --show

cli_mt reads one command per line on stdin and answers asynchronously on stderr (completion
callbacks on its own thread). Syntax (3.8): ``create [+[e|s|c|t=ttl]] <path>`` (data is always
"new"; ``+es`` = ephemeral sequential), ``create2`` (same, prints the Stat), ``delete <path>``,
``set <path> <data>``, ``get <path>`` (sets a watch), ``ls <path>`` (sets a child watch),
``ls2 <path>``, ``sync <path>``, ``exists <path>`` and ``wexists <path>`` (synchronous, print
only errors), ``addauth <scheme> <cred>``, ``config``, ``quit``.

Two cli_mt processes (sessions A and B) are driven step by step: a command is written to one of
them, then the harness waits (bounded) until the answer has arrived and all output of both
processes has been quiet for a moment. Each step records what each process printed.

Normalisation: ``time = N msec`` lines are dropped; ctime/mtime (local time, seconds) become
``<time>`` unless they are the epoch; czxid/mzxid become ``B+n`` relative to the czxid of the first
node created (``/cmt``); session ids (``Got a new session id``, ephemeralOwner) become
``<session A>``/``<session B>``; runs of consecutive watch notifications are sorted (``myid`` is not used: cli_mt prints it on a
block-buffered stdout, so it only shows up at exit); children listed by ls/ls2 are sorted.
"""

from __future__ import annotations

import argparse
import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import zkserver  # noqa: E402

CLI_MT = zkserver.CLI_MT
STEP_TIMEOUT = 10.0  # seconds until a command's answer must have arrived
QUIET = 0.2  # seconds of silence on all processes that end a step
CONNECT_TIMEOUT = 15.0

# (process, command, expected normalised output of that process or None). Expectations are
# ZooKeeper 3.8 behaviour; every step is also compared between the servers.
STEPS: list[tuple[str, str, str | None]] = [
    ("A", "create2 /cmt", "Creating [/cmt] node (mode: 0)\n[/cmt]: rc = 0\n\tname = /cmt\n"
     "\tctime = <time>\n\tczxid=B+0\n\tmtime=<time>\n\tmzxid=B+0\n\tversion=0\taversion=0\n"
     "\tephemeralOwner = 0"),
    ("A", "get /cmt", "/cmt: rc = 0\n value_len = 3\nnew\nStat:\n\tctime = <time>\n\tczxid=B+0\n"
     "\tmtime=<time>\n\tmzxid=B+0\n\tversion=0\taversion=0\n\tephemeralOwner = 0"),
    ("A", "set /cmt hello", "Watcher CHANGED_EVENT state = CONNECTED_STATE for path /cmt\n"
     "/cmt: rc = 0 Stat:\n\tctime = <time>\n\tczxid=B+0\n\tmtime=<time>\n\tmzxid=B+1\n"
     "\tversion=1\taversion=0\n\tephemeralOwner = 0"),
    ("A", "get /cmt", None),
    ("A", "set /missing x", "/missing: rc = -101 Stat:\nnull"),
    ("A", "create /cmt/a", "Creating [/cmt/a] node (mode: 0)\n[/cmt/a]: rc = 0\n\tname = /cmt/a"),
    ("A", "create2 /cmt/b", None),
    ("A", "create +s /cmt/s-", "Creating [/cmt/s-] node (mode: 2)\n[/cmt/s-]: rc = 0\n"
     "\tname = /cmt/s-0000000002"),
    ("A", "create2 +s /cmt/s-", None),
    ("A", "create +e /cmt/e", "Creating [/cmt/e] node (mode: 1)\n[/cmt/e]: rc = 0\n\tname = /cmt/e"),
    ("A", "create2 +es /cmt/es-", None),
    ("A", "create /cmt/e/x", "Creating [/cmt/e/x] node (mode: 0)\n[/cmt/e/x]: rc = -108"),
    ("A", "create /cmt", "Creating [/cmt] node (mode: 0)\n[/cmt]: rc = -110"),
    ("A", "create /nope/x", "Creating [/nope/x] node (mode: 0)\n[/nope/x]: rc = -101"),
    ("A", "create +c /cmt-cont", "Creating [/cmt-cont] node (mode: 4)\n[/cmt-cont]: rc = 0\n"
     "\tname = /cmt-cont"),
    ("A", "create2 +c /cmt-cont/x", None),
    ("A", "create2 +t=60000 /cmt-ttl", None),
    ("A", "create +t=60000 /cmt-ttl/x", None),
    ("A", "ls /cmt", "/cmt: rc = 0\n\ta\n\tb\n\te\n\tes-0000000005\n\ts-0000000002\n\ts-0000000003"),
    ("A", "ls2 /cmt", None),
    ("A", "ls /missing", "/missing: rc = -101"),
    ("A", "ls2 /", None),
    ("A", "ls /zookeeper", "/zookeeper: rc = 0\n\tconfig\n\tquota"),
    ("A", "exists /cmt", ""),
    ("A", "exists /missing", "Error -101 for /missing"),
    ("B", "exists /cmt/e", ""),
    ("B", "get /cmt/e", "/cmt/e: rc = 0\n value_len = 3\nnew\nStat:\n\tctime = <time>\n\tczxid=B+7\n"
     "\tmtime=<time>\n\tmzxid=B+7\n\tversion=0\taversion=0\n\tephemeralOwner = <session A>"),
    ("B", "wexists /cmt/es-0000000005", ""),
    ("B", "ls /cmt", None),
    ("A", "delete /cmt", "/cmt: rc = -111"),
    ("A", "delete /cmt/a", "Watcher CHILD_EVENT state = CONNECTED_STATE for path /cmt\n/cmt/a: rc = 0"),
    ("A", "delete /missing", "/missing: rc = -101"),
    ("A", "delete /zookeeper", "/zookeeper: rc = -8"),
    ("A", "sync /cmt", "[/cmt]: rc = 0\n\tname = /cmt"),
    ("A", "config", "/zookeeper/config: rc = 0\n value_len = 0\n\nStat:\n"
     "\tctime = Thu Jan  1 00:00:00 1970\n\tczxid=0\n\tmtime=Thu Jan  1 00:00:00 1970\n\tmzxid=0\n"
     "\tversion=0\taversion=ffffffff\n\tephemeralOwner = 0"),
    ("A", "set /zookeeper/config x", "/zookeeper/config: rc = -102 Stat:\nnull"),
    ("A", "addauth digest u:p", ""),
    ("A", "create2 /cmt/after-auth", None),
    ("A", "quit", "Quitting..."),
    ("B", "ls2 /cmt", None),
    ("B", "get /cmt/es-0000000005", "/cmt/es-0000000005: rc = -101\n\nStat:\nnull"),
    ("B", "delete /cmt/b", None),
    ("B", "quit", "Quitting..."),
]


class Proc:
    def __init__(self, name: str, hostport: str):
        self.name = name
        self.p = subprocess.Popen(
            [CLI_MT, hostport],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            bufsize=0,
        )
        os.set_blocking(self.p.stdout.fileno(), False)
        self.buf = b""
        self.closed = False

    def send(self, line: str) -> None:
        self.p.stdin.write((line + "\n").encode())
        self.p.stdin.flush()

    def read_available(self) -> bool:
        got = False
        while not self.closed:
            try:
                b = self.p.stdout.read(65536)
            except BlockingIOError:
                break
            if b is None:
                break
            if not b:
                self.closed = True
                break
            self.buf += b
            got = True
        return got

    def take(self) -> str:
        s, self.buf = self.buf.decode(errors="replace"), b""
        return s

    def kill(self) -> None:
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait(timeout=5)


def pump(procs: list[Proc], until, timeout: float) -> bool:
    """Read from all processes until until() is true and everything was quiet for QUIET s."""
    deadline = time.monotonic() + timeout
    last = time.monotonic()
    while time.monotonic() < deadline:
        fds = [p.p.stdout for p in procs if not p.closed]
        if fds:
            select.select(fds, [], [], 0.02)
        else:
            time.sleep(0.02)
        if any(p.read_available() for p in procs):
            last = time.monotonic()
        if until() and time.monotonic() - last >= QUIET:
            return True
    return False


ANSWERS = {  # command word -> how its answer is recognised in the accumulated output
    "create": re.compile(r"\]: rc = -?\d+"),
    "create2": re.compile(r"\]: rc = -?\d+"),
    "sync": re.compile(r"\]: rc = -?\d+"),
    "get": re.compile(r": rc = -?\d+"),
    "set": re.compile(r": rc = -?\d+"),
    "delete": re.compile(r": rc = -?\d+"),
    "ls": re.compile(r": rc = -?\d+"),
    "ls2": re.compile(r": rc = -?\d+"),
    "config": re.compile(r": rc = -?\d+"),
    "quit": re.compile(r"Quitting"),
}


def run_steps(hostport: str) -> list[dict]:
    procs = {"A": Proc("A", hostport), "B": Proc("B", hostport)}
    allp = list(procs.values())
    try:
        recs = []
        # wait for both sessions
        ok = pump(allp, lambda: all("Got a new session id" in p.buf.decode(errors="replace") for p in allp),
                  CONNECT_TIMEOUT)
        recs.append({"proc": "*", "cmd": "<connect>", "out": {p.name: p.take() for p in allp},
                     "expect": None, "ok": ok})
        for who, cmd, expect in STEPS:
            p = procs[who]
            word = cmd.split()[0]
            pat = ANSWERS.get(word)
            p.send(cmd)
            if pat is None:  # synchronous command: answer (if any) is printed before returning
                ok = pump(allp, lambda: True, STEP_TIMEOUT)
            else:
                ok = pump(allp, lambda: bool(pat.search(p.buf.decode(errors="replace"))), STEP_TIMEOUT)
            recs.append({"proc": who, "cmd": cmd, "out": {q.name: q.take() for q in allp},
                         "expect": expect, "ok": ok})
        return recs
    finally:
        for p in allp:
            try:
                p.p.stdin.close()
            except OSError:
                pass
        deadline = time.monotonic() + 5
        for p in allp:
            try:
                p.p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()


class Normaliser:
    def __init__(self):
        self.base: int | None = None
        self.sessions: dict[int, str] = {}

    def learn(self, recs: list[dict]) -> None:
        for r in recs:
            for name, text in r["out"].items():
                m = re.search(r"Got a new session id: 0x([0-9a-f]+)", text)
                if m:
                    self.sessions[int(m.group(1), 16)] = f"<session {name}>"
            if self.base is None and r["cmd"] == "create2 /cmt":
                m = re.search(r"\tczxid=([0-9a-f]+)", r["out"].get("A", ""))
                if m:
                    self.base = int(m.group(1), 16)

    def zxid(self, h: str) -> str:
        v = int(h, 16)
        if v == 0 or self.base is None:
            return h
        d = v - self.base
        return f"B+{d}" if d >= 0 else f"B{d}"

    def sess(self, h: str) -> str:
        v = int(h, 16)
        if v == 0:
            return "0"
        return self.sessions.get(v, "<unknown session>")

    def text(self, text: str) -> str:
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines = lines[:-1]
        out: list[str] = []
        children: list[str] | None = None
        for ln in lines:
            if re.match(r"^time = -?\d+ msec$", ln):
                if children is not None:
                    out.extend(sorted(children))
                    children = None
                continue
            if children is not None:
                if ln.startswith("\t") and not re.match(r"^\t(ctime|mtime|czxid|mzxid|version|ephemeralOwner)", ln):
                    children.append(ln)
                    continue
                out.extend(sorted(children))
                children = None
            m = re.match(r"^(\t?)(ctime = |mtime=)(.*)$", ln)
            if m:
                val = m.group(3) if "1970" in m.group(3) else "<time>"
                out.append(f"{m.group(1)}{m.group(2)}{val}")
                continue
            m = re.match(r"^\t(czxid|mzxid)=([0-9a-f]+)$", ln)
            if m:
                out.append(f"\t{m.group(1)}={self.zxid(m.group(2))}")
                continue
            m = re.match(r"^\tephemeralOwner = ([0-9a-f]+)$", ln)
            if m:
                out.append(f"\tephemeralOwner = {self.sess(m.group(1))}")
                continue
            m = re.match(r"^(Got a new session id: |session Id = )(?:0x)?([0-9a-f]+)$", ln)
            if m:
                out.append(f"{m.group(1)}{self.sess(m.group(2))}")
                continue
            out.append(ln)
            if re.match(r"^/.*: rc = 0$", ln):
                children = []  # an ls/ls2 listing may follow
        if children:
            out.extend(sorted(children))
        # Runs of consecutive watch notifications are sorted: e.g. the ephemerals of a closed
        # session are deleted in Java's HashSet order, which is unspecified.
        res: list[str] = []
        run: list[str] = []
        for ln in out + [""]:
            if ln.startswith("Watcher "):
                run.append(ln)
                continue
            res.extend(sorted(run))
            run = []
            res.append(ln)
        return "\n".join(res[:-1])


def transcript(hostport: str) -> list[dict]:
    recs = run_steps(hostport)
    n = Normaliser()
    n.learn(recs)
    out = []
    for r in recs:
        norm = {k: n.text(v) for k, v in r["out"].items()}
        out.append({
            "step": f"{r['proc']}: {r['cmd']}",
            "proc": r["proc"],
            "out": norm,
            "expect": r["expect"],
            "answered": r["ok"],
        })
    return out


def check_expectations(label: str, recs: list[dict]) -> int:
    bad = 0
    for r in recs:
        if not r["answered"]:
            bad += 1
            print(f"[{label}] NO ANSWER within {STEP_TIMEOUT:.0f} s to `{r['step']}`; output: {r['out']}")
            continue
        if r["expect"] is None:
            continue
        got = r["out"].get(r["proc"], "")
        if got != r["expect"]:
            bad += 1
            print(f"[{label}] UNEXPECTED `{r['step']}`")
            print(_indent("expected", r["expect"]))
            print(_indent("got", got))
    return bad


def compare(a_label: str, a: list[dict], b_label: str, b: list[dict]) -> int:
    bad = 0
    for i in range(max(len(a), len(b))):
        ra = a[i] if i < len(a) else None
        rb = b[i] if i < len(b) else None
        if ra and rb and ra["step"] == rb["step"] and ra["out"] == rb["out"]:
            continue
        bad += 1
        step = (ra or rb)["step"]
        print(f"MISMATCH `{step}`")
        for proc in sorted(set((ra or {}).get("out", {})) | set((rb or {}).get("out", {}))):
            x = (ra or {}).get("out", {}).get(proc, "<absent>")
            y = (rb or {}).get("out", {}).get(proc, "<absent>")
            if x != y:
                print(f"  output of session {proc}:")
                print(_indent(f"expected ({a_label})", x))
                print(_indent(f"got ({b_label})", y))
    return bad


def _indent(title: str, text: str) -> str:
    body = "\n".join("        " + x.replace("\t", "\\t") for x in (text.splitlines() or ["<empty>"]))
    return f"    {title}:\n{body}"


def main(argv=None) -> int:
    zkserver.install_signal_handlers()
    ap = argparse.ArgumentParser(description="cli_mt (C client) against Java ZooKeeper and Menagerie")
    ap.add_argument("--servers", default="java,menagerie", help="comma list of java,menagerie")
    ap.add_argument("--server", help="use this running fresh server (host:port) instead")
    ap.add_argument("--show", action="store_true", help="print the normalised transcripts")
    args = ap.parse_args(argv)
    if not os.access(CLI_MT, os.X_OK):
        print(f"{CLI_MT} not found (install the Debian package 'zookeeper-bin')")
        print("TESTRESULT FAIL cli_mt")
        return 2
    if args.server:
        targets = [("given", None)]
    else:
        kinds = [k for k in args.servers.split(",") if k]
        targets = [(k if kinds.count(k) == 1 else f"{k}#{i + 1}", k) for i, k in enumerate(kinds)]

    results: dict[str, list[dict]] = {}
    status = 0
    for label, kind in targets:
        if kind is None:
            recs = transcript(args.server)
        else:
            why = zkserver.check_available(kind)
            if why:
                print(f"cannot run cli_mt against {kind}: {why}")
                print(f"TESTRESULT FAIL cli_mt[{label}]")
                status = 1
                continue
            try:
                with zkserver.start_server(kind) as srv:
                    recs = transcript(srv.hostport)
                    if not srv.alive():
                        print(f"{kind} server died; log tail:\n{srv.log_tail()}")
            except zkserver.ServerUnavailable as e:
                print(f"cannot run cli_mt against {kind}: {e}")
                print(f"TESTRESULT FAIL cli_mt[{label}]")
                status = 1
                continue
        results[label] = recs
        if args.show:
            print(f"===== {label}")
            for r in recs:
                print(f"--- `{r['step']}`" + ("" if r["answered"] else "   (NO ANSWER)"))
                for proc, text in r["out"].items():
                    if text:
                        print(f"  [{proc}]")
                        print("\n".join("    " + x.replace("\t", "\\t") for x in text.splitlines()))
        bad = check_expectations(label, recs)
        n_exp = sum(1 for r in recs if r["expect"] is not None)
        print(f"cli_mt[{label}]: {len(recs) - bad} of {len(recs)} steps answered as expected "
              f"({n_exp} with an exact expectation)")
        print(f"TESTRESULT {'PASS' if bad == 0 else 'FAIL'} cli_mt[{label}]")
        status |= 1 if bad else 0

    labels = [t[0] for t in targets]
    for other in labels[1:]:
        name = f"cli_mt[{labels[0]}-vs-{other}]"
        if labels[0] not in results or other not in results:
            print(f"TESTRESULT FAIL {name}")
            status = 1
            continue
        bad = compare(labels[0], results[labels[0]], other, results[other])
        print(f"{name}: {bad} differing steps out of {len(results[labels[0]])}")
        print(f"TESTRESULT {'PASS' if bad == 0 else 'FAIL'} {name}")
        status |= 1 if bad else 0
    return status


if __name__ == "__main__":
    sys.exit(main())
