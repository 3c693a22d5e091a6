"""`menagerie cli` against zkCli.sh: the same commands, the same server kind, the same output.

    python3 tests/compat/cli_test.py            # comparisons + extras + interactive (tmux)
    python3 tests/compat/cli_test.py --show     # also print both transcripts
    python3 tests/compat/cli_test.py --kind java  # both clients against Java ZooKeeper

Three parts, each its own TESTRESULT:

* ``cli[zkcli-vs-menagerie-cli]``: zkcli_test.py's whole script (two piped sessions of about
  140 commands, then one-shot invocations with their exit status) is run once with zkCli.sh
  and once with ``menagerie cli``, each against a fresh Menagerie server, with zkcli_test's
  normalisation (zxids relative to the first node, times masked, child lists sorted); every
  block, every exit status and the watch events must be identical. The expectations written
  in zkcli_test.py are checked for ``menagerie cli`` too.
* ``cli[oneshot-same-server]``: one-shot commands (including errors, bad paths, bad options,
  ACL and quota commands) run with zkCli.sh and then with ``menagerie cli`` against ONE
  server; the tree is reset between the two passes; outputs (zxids and times masked) and
  exit statuses must match.
* ``cli[extras]``: ``--json``, ``tree``, ``export``/``import`` round trip, ``watch -n``, and a
  chroot in the connect string (``-server host:port/x``) compared with zkCli.sh.
* ``cli[interactive]``: the shell in tmux: prompt, a command, history (``history`` and the
  up arrow, and the history file), tab completion of a command name and of a znode path, a
  watch event printed while the shell waits, an error message.
  Needs ``tmux``; without it this part FAILs (CI installs it).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import zkcli_test  # noqa: E402
import zkserver  # noqa: E402

zkcli_test.ZKCLI_JAVA = zkcli_test.ZKCLI  # the real zkCli.sh (ZKCLI is switched per run)

TIMEOUT = 30


def menagerie_cli_wrapper(tmp: str) -> str:
    """A zkCli.sh look-alike script that runs `menagerie cli "$@"`."""
    path = os.path.join(tmp, "menagerie-cli.sh")
    with open(path, "w") as f:
        f.write(f'#!/bin/sh\nexec "{zkserver.menagerie_bin()}" cli "$@"\n')
    os.chmod(path, 0o755)
    return path


def transcript_with(client: str, kind: str = "menagerie") -> list[dict]:
    zkcli_test.ZKCLI = client
    with zkserver.start_server(kind) as srv:
        recs = zkcli_test.transcript(srv.hostport)
    # A one-shot zkCli.sh exits without closing its session (it expires later); menagerie
    # cli closes it, which is one more transaction per invocation. So zxids in the one-shot
    # part are masked; everything else about them must still match.
    for r in recs:
        if r["where"] == "oneshot":
            r["out"] = re.sub(r"= B[+-][0-9]+$", "= <zxid>", r["out"], flags=re.M)
    return recs


# ---------------------------------------------------------------- one-shot on one server

SETUP = [
    ["create", "/o", "odata"],
    ["create", "/o/a", "adata"],
    ["create", "/o/b"],
    ["create", "/o/acl", "x", "world:anyone:r"],
    ["create", "/o/a/x"],
    ["create", "/o/b/y"],
    ["create", "/o/a/x/z"],
]
ONESHOT = [
    ["ls", "/o"],
    ["ls", "-s", "/o"],
    ["ls", "-R", "/o"],
    ["ls", "-R", "/o/missing"],
    ["ls", "-R", "/o/acl"],
    ["ls", "/o/missing"],
    ["ls"],
    ["ls", "-x", "/o"],
    ["ls", "/o/"],
    ["ls", "o"],
    ["ls", "/o//a"],
    ["get", "/o"],
    ["get", "-s", "/o/a"],
    ["get", "/o/b"],
    ["get", "/o/missing"],
    ["get"],
    ["stat", "/o"],
    ["stat", "/o/missing"],
    ["stat", "/o", "1"],
    ["get", "/o", "1"],
    ["create", "-s", "/o/s-"],
    ["getAcl", "/o/acl"],
    ["getAcl", "-s", "/o/acl"],
    ["set", "/o/acl", "y"],
    ["create", "/o/acl/c"],
    ["create", "/o", "dup"],
    ["create", "/o/x/y"],
    ["create", "-c", "-e", "/o/bad"],
    ["create", "-t", "abc", "/o/bad"],
    ["create", "-e", "-t", "10", "/o/bad"],
    ["create", "/o/badacl", "x", "world:anyone"],
    ["create"],
    ["set", "-v", "7", "/o/a", "z"],
    ["set", "/o/a"],
    ["delete", "/o"],
    ["delete", "-v", "9", "/o/a"],
    ["delete", "/zookeeper"],
    ["getAllChildrenNumber", "/o"],
    ["getEphemerals", "/o"],
    ["sync", "/o"],
    ["whoami"],
    ["setquota", "/o"],
    ["setquota", "-n", "abc", "/o"],
    ["setquota", "-n", "5", "/o"],
    ["listquota", "/o"],
    ["setquota", "-n", "0", "/o"],
    ["setquota", "-n", "2", "/o/a"],
    ["setquota", "-b", "10", "/o/missing"],
    ["delquota", "-n", "/o"],
    ["listquota", "/o"],
    ["delquota", "/o"],
    ["listquota", "/o"],
    ["delquota", "/o"],
    ["removewatches", "/o"],
    ["addWatch", "-m", "BOGUS", "/o"],
    ["printwatches"],
    ["history"],
    ["redo", "0"],
    ["addauth"],
    ["addauth", "digest", "u:p"],
    ["config"],
    ["config", "-c"],
    ["setAcl", "/o/b", "world:anyone:cdrwaq"],
    ["setAcl", "-v", "0", "/o/b", "world:anyone:cdrwa"],
    ["setAcl", "/o/b"],
    ["getAcl", "/o/b"],
    ["setAcl", "-R", "/o/b", "world:anyone:cdra"],
    ["getAcl", "/o/b/y"],
    ["setAcl", "-R", "/o/a", "world:anyone:cdwa"],
    ["getAcl", "/o/a/x/z"],
    ["ls", "-R", "/o"],  # /o/a is not readable now: partial output, then the error
    ["setAcl", "/o/a", "world:anyone:cdrwa"],
    ["ls", "-R", "/o"],
    ["nosuchcommand"],
    ["deleteall", "/o/missing"],
    ["deleteall", "/o", "-b", "2"],
    ["ls", "/"],
]


def mask(lines: list[str]) -> list[str]:
    out = []
    for ln in lines:
        ln = re.sub(r"^([cmp]Zxid) = 0x[0-9a-f]+$", r"\1 = <zxid>", ln)
        ln = re.sub(r"^([cm]time) = .*$", r"\1 = <time>", ln)
        ln = re.sub(r"^ephemeralOwner = 0x[0-9a-f]+$", "ephemeralOwner = <owner>", ln)
        m = re.match(r"^\[(.*)\]$", ln)
        if m:
            ln = "[" + ", ".join(sorted(m.group(1).split(", "))) + "]" if m.group(1) else "[]"
        out.append(ln)
    return out


def oneshot(client: str, hostport: str, argv: list[str]) -> tuple[list[str], int]:
    zkcli_test.ZKCLI = client
    lines, rc = zkcli_test.run_oneshot(hostport, argv)
    # zkCli prints the usage list before "Command not found"; both do, compared as is
    lines = [ln for ln in lines if ln.strip() != ""]
    # (ls -R is not sorted here: zkCli lists each node's sorted children, then descends)
    return mask(lines), rc


def oneshot_pass(client: str, hostport: str) -> list[dict]:
    recs = []
    for argv in SETUP + ONESHOT:
        lines, rc = oneshot(client, hostport, argv)
        recs.append({"cmd": " ".join(argv), "out": "\n".join(lines), "rc": rc})
    return recs


def reset(mcli: str, hostport: str) -> None:
    for p in ("/o", "/zookeeper/quota/o"):
        subprocess.run([mcli, "-server", hostport, "deleteall", p], capture_output=True, timeout=TIMEOUT)


def compare_oneshot(zk: list[dict], mc: list[dict]) -> int:
    bad = 0
    for a, b in zip(zk, mc):
        if a != b:
            bad += 1
            print(f"MISMATCH one-shot `{a['cmd']}`")
            print(zkcli_test._indent(f"zkCli.sh (exit {a['rc']})", a["out"]))
            print(zkcli_test._indent(f"menagerie cli (exit {b['rc']})", b["out"]))
    if len(zk) != len(mc):
        bad += 1
    return bad


# ---------------------------------------------------------------- extras

def run_cli(mbin: str, hostport: str, *argv: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [mbin, "cli", "-server", hostport, *argv],
        input=stdin, capture_output=True, text=True, timeout=TIMEOUT,
    )


def extras(mbin: str, hostport: str, tmp: str) -> int:
    bad = 0

    def check(what: str, cond: bool, detail: str = "") -> None:
        nonlocal bad
        if not cond:
            bad += 1
            print(f"EXTRAS FAIL {what} {detail}")

    run_cli(mbin, hostport, "create", "/x", "root")
    run_cli(mbin, hostport, "create", "/x/a", "héllo")
    run_cli(mbin, hostport, "create", "/x/a/deep", "d")
    run_cli(mbin, hostport, "create", "/x/b")
    run_cli(mbin, hostport, "create", "/x/lock", "l", "world:anyone:r")
    r = run_cli(mbin, hostport, "--json", "get", "-s", "/x/a")
    try:
        v = json.loads(r.stdout)
        check("json get", v["data"] == "héllo" and v["stat"]["dataLength"] == len("héllo".encode()), r.stdout)
    except (ValueError, KeyError) as e:
        check("json get parses", False, f"{e}: {r.stdout!r}")
    r = run_cli(mbin, hostport, "ls", "--json", "/x")
    try:
        check("json ls", json.loads(r.stdout)["children"] == ["a", "b", "lock"], r.stdout)
    except (ValueError, KeyError) as e:
        check("json ls parses", False, f"{e}: {r.stdout!r}")
    r = run_cli(mbin, hostport, "--json", "getAcl", "/x/lock")
    try:
        check("json getAcl", json.loads(r.stdout)["acl"] == [{"scheme": "world", "id": "anyone", "perms": "r"}], r.stdout)
    except (ValueError, KeyError) as e:
        check("json getAcl parses", False, f"{e}: {r.stdout!r}")
    r = run_cli(mbin, hostport, "whoami", "--json")
    try:
        check("json whoami", {"scheme": "ip", "user": "127.0.0.1"} in json.loads(r.stdout), r.stdout)
    except ValueError as e:
        check("json whoami parses", False, f"{e}: {r.stdout!r}")
    r = run_cli(mbin, hostport, "--json", "ls", "-R", "/x")
    try:
        check("json ls -R", json.loads(r.stdout) == ["/x", "/x/a", "/x/b", "/x/lock", "/x/a/deep"], r.stdout)
    except ValueError as e:
        check("json ls -R parses", False, f"{e}: {r.stdout!r}")
    r = run_cli(mbin, hostport, "--json", "stat", "/x/missing")
    check("json error exit", r.returncode == 1 and "Node does not exist: /x/missing" in r.stderr, repr(r))
    r = run_cli(mbin, hostport, "tree", "/x")
    want = "/x (4 bytes)\n  a (6 bytes)\n    deep (1 bytes)\n  b (0 bytes)\n  lock (1 bytes)\n"
    check("tree", r.stdout == want, repr(r.stdout))
    f = os.path.join(tmp, "export.json")
    r = run_cli(mbin, hostport, "export", "/x", f)
    check("export", r.returncode == 0 and os.path.exists(f), repr(r))
    r = run_cli(mbin, hostport, "import", f, "/copy")
    check("import", r.returncode == 0, repr(r))
    r1 = run_cli(mbin, hostport, "tree", "/copy")
    check("import tree", r1.stdout == want.replace("/x (", "/copy ("), repr(r1.stdout))
    r = run_cli(mbin, hostport, "getAcl", "/copy/lock")
    check("import acl", r.stdout == "'world,'anyone\n: r\n", repr(r.stdout))
    r = run_cli(mbin, hostport, "get", "/copy/a/deep")
    check("import data", r.stdout == "d\n", repr(r.stdout))
    # kazoo (an independent client) sees the same imported tree
    try:
        from kazoo.client import KazooClient
        zk = KazooClient(hosts=hostport, timeout=10)
        zk.start(timeout=10)
        try:
            check("kazoo sees import", zk.get("/copy/a")[0] == "héllo".encode() and
                  sorted(zk.get_children("/copy")) == ["a", "b", "lock"])
            # watch -n 2: two events, then the command ends by itself
            p = subprocess.Popen([mbin, "cli", "-server", hostport, "watch", "-n", "2", "/x/b"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            deadline = time.monotonic() + 10
            for i in range(20):
                if p.poll() is not None or time.monotonic() > deadline:
                    break
                time.sleep(0.3)
                zk.set("/x/b", str(i).encode())
            try:
                out, _ = p.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                out, _ = p.communicate()
            lines = out.splitlines()
            check("watch -n 2", p.returncode == 0 and lines[:2] == [
                "WatchedEvent state:SyncConnected type:NodeDataChanged path:/x/b"] * 2, repr(out))
        finally:
            zk.stop()
            zk.close()
    except ImportError:
        check("kazoo installed", False)
    # a chroot in the connect string: same output as zkCli.sh
    for argv in (["ls", "/"], ["get", "-s", "/a"], ["create", "/b/new", "n"], ["ls", "-R", "/"],
                 ["getEphemerals"], ["stat", "/missing"]):
        zk_lines, zk_rc = oneshot(zkcli_test.ZKCLI_JAVA, hostport + "/x", argv)
        if argv[0] == "create":
            run_cli(mbin, hostport, "delete", "/x/b/new")
        mc_lines, mc_rc = oneshot(menagerie_cli_wrapper(tmp), hostport + "/x", argv)
        check(f"chroot {' '.join(argv)}", (zk_lines, zk_rc) == (mc_lines, mc_rc),
              f"zkCli.sh {zk_rc} {zk_lines} vs menagerie cli {mc_rc} {mc_lines}")
        if argv == ["ls", "/"]:
            check("chroot ls / lists the chroot's children", mc_lines == ["[a, b, lock]"], repr(mc_lines))
    # times in the local zone (TZ), as Java prints them
    if os.path.exists("/usr/share/zoneinfo/America/New_York"):
        old_tz = os.environ.get("TZ")
        os.environ["TZ"] = "America/New_York"
        try:
            outs = []
            for client in (zkcli_test.ZKCLI_JAVA, menagerie_cli_wrapper(tmp)):
                zkcli_test.ZKCLI = client
                outs.append(zkcli_test.run_oneshot(hostport, ["stat", "/x"]))
            check("TZ=America/New_York stat", outs[0] == outs[1] and re.search(r" E[SD]T \d{4}", "\n".join(outs[1][0])),
                  repr(outs))
        finally:
            if old_tz is None:
                os.environ.pop("TZ", None)
            else:
                os.environ["TZ"] = old_tz
    r = run_cli(mbin, hostport, "import", os.path.join(tmp, "nonexistent.json"))
    check("import missing file", r.returncode == 1 and "cannot read" in r.stderr, repr(r))
    return bad


# ---------------------------------------------------------------- interactive (tmux)

class Tmux:
    def __init__(self, sock: str):
        self.sock = sock

    def __call__(self, *args: str) -> str:
        return subprocess.run(["tmux", "-S", self.sock, *args], capture_output=True, text=True,
                              timeout=TIMEOUT).stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "cli")

    def wait_for(self, pred, what: str, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        s = ""
        while time.monotonic() < deadline:
            s = self.screen()
            if pred(s):
                return s
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}; screen:\n{s}")


def interactive(mbin: str, hostport: str, tmp: str) -> int:
    if shutil.which("tmux") is None:
        print("tmux not found (apt install tmux)")
        return 1
    hist = os.path.join(tmp, "history")
    sock = os.path.join(tmp, "tmux.sock")
    t = Tmux(sock)
    env_cmd = f"env MENAGERIE_CLI_HISTORY={hist} TERM=xterm {mbin} cli -server {hostport}"
    run_cli(mbin, hostport, "create", "/interactive")
    run_cli(mbin, hostport, "create", "/interactive/alpha-node", "A")
    prompt0 = f"[zk: {hostport}(CONNECTED) 0] "
    try:
        t("new-session", "-d", "-s", "cli", "-x", "200", "-y", "50", env_cmd)
        t.wait_for(lambda s: prompt0.rstrip() in s, "the first prompt")
        # a command
        t("send-keys", "-t", "cli", "get /interactive/alpha-node", "Enter")
        t.wait_for(lambda s: "\nA\n" in s and "(CONNECTED) 1]" in s, "get output and prompt 1")
        # tab completion of a command name: "getAl" + Tab -> getAllChildrenNumber
        t("send-keys", "-t", "cli", "getAl", "Tab")
        t.wait_for(lambda s: s.rstrip().endswith("getAllChildrenNumber"), "command completion")
        t("send-keys", "-t", "cli", " /interactive", "Enter")
        t.wait_for(lambda s: "(CONNECTED) 2]" in s, "prompt 2")
        # tab completion of a znode path (children asked from the server)
        t("send-keys", "-t", "cli", "get /interactive/al", "Tab")
        t.wait_for(lambda s: s.rstrip().endswith("get /interactive/alpha-node"), "path completion")
        t("send-keys", "-t", "cli", "Enter")
        t.wait_for(lambda s: "(CONNECTED) 3]" in s, "prompt 3")
        # history: the command and the up arrow
        t("send-keys", "-t", "cli", "history", "Enter")
        s = t.wait_for(lambda s: "3 - history" in s, "history output")
        assert "0 - get /interactive/alpha-node" in s, s
        assert "1 - getAllChildrenNumber /interactive" in s, s
        t("send-keys", "-t", "cli", "Up", "Up")
        t.wait_for(lambda s: s.rstrip().endswith("(CONNECTED) 4] get /interactive/alpha-node"), "up arrow")
        t("send-keys", "-t", "cli", "C-u", "")
        # a watch event arrives while the shell waits for input and is printed as zkCli does
        t("send-keys", "-t", "cli", "get -w /interactive/alpha-node", "Enter")
        t.wait_for(lambda s: "(CONNECTED) 5]" in s, "prompt 5")
        run_cli(mbin, hostport, "set", "/interactive/alpha-node", "B")
        s = t.wait_for(lambda s: "type:NodeDataChanged" in s, "the watch event")
        assert "WATCHER::\n\nWatchedEvent state:SyncConnected type:NodeDataChanged path:/interactive/alpha-node" in s, s
        # a clear error, and the shell goes on
        t("send-keys", "-t", "cli", "get /interactive/nope", "Enter")
        t.wait_for(lambda s: "Node does not exist: /interactive/nope" in s and "(CONNECTED) 6]" in s, "error")
        t("send-keys", "-t", "cli", "quit", "Enter")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and "cli" in t("list-sessions"):
            time.sleep(0.2)
        with open(hist) as f:
            saved = f.read()
        for c in ("get /interactive/alpha-node", "getAllChildrenNumber /interactive", "history"):
            assert c in saved, f"{c!r} not in history file:\n{saved}"
        # a new shell starts with the saved history: one Up gives the last command
        status = os.path.join(tmp, "status")
        t("new-session", "-d", "-s", "cli", "-x", "200", "-y", "50",
          f"{env_cmd}; echo $? > {status}; sleep 30")
        t.wait_for(lambda s: prompt0.rstrip() in s, "the prompt of a new shell")
        t("send-keys", "-t", "cli", "Up")
        t.wait_for(lambda s: s.rstrip().endswith(prompt0 + "quit"), "history from the file")
        # Ctrl-C at the prompt ends the shell as it ends zkCli (status 130), and closes the
        # session: its ephemeral node is gone at once
        t("send-keys", "-t", "cli", "C-u", "")
        t("send-keys", "-t", "cli", "create -e /interactive/eph x", "Enter")
        t.wait_for(lambda s: "Created /interactive/eph" in s, "ephemeral created")
        t("send-keys", "-t", "cli", "C-c", "")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not os.path.exists(status):
            time.sleep(0.2)
        with open(status) as f:
            code = f.read().strip()
        assert code == "130", f"exit status after Ctrl-C: {code!r}"
        out = run_cli(mbin, hostport, "stat", "/interactive/eph")
        assert "Node does not exist" in out.stderr + out.stdout, f"ephemeral still there after Ctrl-C: {out}"
        return 0
    except AssertionError as e:
        print(f"INTERACTIVE FAIL: {e}")
        return 1
    finally:
        t("kill-server")


def reconnect(mbin: str, srv, tmp: str) -> int:
    """The shell keeps its session across a server restart: Disconnected, then
    SyncConnected; its ephemeral node survives and its watch is set again."""
    if shutil.which("tmux") is None:
        print("tmux not found (apt install tmux)")
        return 1
    hostport = srv.hostport
    t = Tmux(os.path.join(tmp, "tmux2.sock"))
    env_cmd = f"env MENAGERIE_CLI_HISTORY={os.path.join(tmp, 'history2')} TERM=xterm {mbin} cli -timeout 20000 -server {hostport}"
    try:
        t("new-session", "-d", "-s", "cli", "-x", "200", "-y", "50", env_cmd)
        t.wait_for(lambda s: "(CONNECTED) 0]" in s, "the first prompt")
        t("send-keys", "-t", "cli", "create -e /reconnect-eph x", "Enter")
        t.wait_for(lambda s: "(CONNECTED) 1]" in s, "prompt 1")
        run_cli(mbin, hostport, "create", "/reconnect-w", "0")
        t("send-keys", "-t", "cli", "get -w /reconnect-w", "Enter")
        t.wait_for(lambda s: "(CONNECTED) 2]" in s, "prompt 2")
        srv.restart()
        t.wait_for(lambda s: "state:Disconnected type:None" in s, "Disconnected")
        s = t.wait_for(lambda s: s.count("state:SyncConnected type:None") >= 2, "SyncConnected again", 30)
        t("send-keys", "-t", "cli", "ls /", "Enter")
        s = t.wait_for(lambda s: "(CONNECTED) 3]" in s, "prompt 3 after the restart")
        assert "reconnect-eph" in s, "the session's ephemeral node is gone:\n" + s
        run_cli(mbin, hostport, "set", "/reconnect-w", "1")
        t.wait_for(lambda s: "type:NodeDataChanged path:/reconnect-w" in s, "the restored watch firing")
        t("send-keys", "-t", "cli", "quit", "Enter")
        return 0
    except AssertionError as e:
        print(f"RECONNECT FAIL: {e}")
        return 1
    finally:
        t("kill-server")


def main(argv=None) -> int:
    zkserver.install_signal_handlers()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--show", action="store_true")
    ap.add_argument("--kind", default="menagerie", choices=["menagerie", "java"],
                    help="the server both clients talk to (default menagerie)")
    args = ap.parse_args(argv)
    why = zkserver.check_available("menagerie")
    if why or not os.path.exists(zkcli_test.ZKCLI):
        print(f"cannot run: {why or zkcli_test.ZKCLI + ' missing (apt zookeeper)'}")
        print("TESTRESULT FAIL cli")
        return 2
    zkcli = zkcli_test.ZKCLI_JAVA
    mbin = str(zkserver.menagerie_bin())
    status = 0
    with tempfile.TemporaryDirectory(prefix="cli-test-") as tmp:
        mcli = menagerie_cli_wrapper(tmp)

        # 1. zkcli_test's script, zkCli.sh vs menagerie cli
        name = "cli[zkcli-vs-menagerie-cli]"
        try:
            ref = transcript_with(zkcli, args.kind)
            got = transcript_with(mcli, args.kind)
            if args.show:
                for label, recs in (("zkCli.sh", ref), ("menagerie cli", got)):
                    print(f"===== {label}")
                    for r in recs:
                        print(f"--- {r['where']} `{r['cmd']}`\n{r['out']}")
            bad = zkcli_test.check_expectations("menagerie-cli", got)
            bad += zkcli_test.compare("zkCli.sh", ref, "menagerie cli", got)
            print(f"{name}: {bad} problems in {len(ref)} blocks")
        except (zkserver.ServerUnavailable, subprocess.TimeoutExpired) as e:
            print(f"{name}: {e}")
            bad = 1
        print(f"TESTRESULT {'PASS' if bad == 0 else 'FAIL'} {name}")
        status |= 1 if bad else 0

        with zkserver.start_server(args.kind) as srv:
            # 2. one-shot commands, both clients against the same server
            name = "cli[oneshot-same-server]"
            zk = oneshot_pass(zkcli, srv.hostport)
            reset(mcli, srv.hostport)
            mc = oneshot_pass(mcli, srv.hostport)
            if args.show:
                for a, b in zip(zk, mc):
                    print(f"--- `{a['cmd']}` exit {a['rc']}/{b['rc']}\n{a['out']}")
            bad = compare_oneshot(zk, mc)
            print(f"{name}: {bad} differing of {len(zk)} commands")
            print(f"TESTRESULT {'PASS' if bad == 0 else 'FAIL'} {name}")
            status |= 1 if bad else 0

            # 3. extras
            bad = extras(mbin, srv.hostport, tmp)
            print(f"TESTRESULT {'PASS' if bad == 0 else 'FAIL'} cli[extras]")
            status |= 1 if bad else 0

            # 4. interactive shell through tmux
            bad = interactive(mbin, srv.hostport, tmp)
            print(f"TESTRESULT {'PASS' if bad == 0 else 'FAIL'} cli[interactive]")
            status |= 1 if bad else 0

            # 5. the shell resumes its session when the server restarts
            bad = reconnect(mbin, srv, tmp)
            print(f"TESTRESULT {'PASS' if bad == 0 else 'FAIL'} cli[reconnect]")
            status |= 1 if bad else 0
    return status


if __name__ == "__main__":
    sys.exit(main())
