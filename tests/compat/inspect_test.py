"""`menagerie inspect` against ZooKeeper's own file tools, on data directories written by
Java ZooKeeper 3.8 and by Menagerie.

For each kind of server: start it with a small snapCount, drive a workload that logs many txn
types (createSession, create, create2, createContainer, createTTL (createTtl), setData, setACL, delete,
multi with and without an error, ephemerals, closeSession), stop it, then run on every file

* Java: ``org.apache.zookeeper.server.persistence.TxnLogToolkit <log>`` and
  ``org.apache.zookeeper.server.SnapshotFormatter <snapshot>``;
* ``menagerie inspect --json <file>``;

and compare: per log the txn count, the zxid sequence, the txn types and the paths; per
snapshot the node paths, the sessions (id, timeout, ephemeral count) and the last zxid.
Finally a truncated and a bit-flipped copy of a log must make ``menagerie inspect`` exit 1 and
name the file and offset. Across the two servers, the txn types that carry a TxnDigest must be
the same (ZooKeeper 3.6+ writes one after every txn but a failed one).

    python3 tests/compat/inspect_test.py

Prints "TESTRESULT PASS|FAIL inspect[java-files]", "inspect[menagerie-files]",
"inspect[damaged]", "inspect[digest-placement]".
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from kazoo.client import KazooClient  # noqa: E402
from kazoo.exceptions import NodeExistsError  # noqa: E402
from kazoo.security import make_digest_acl  # noqa: E402

import zkserver  # noqa: E402

TOOL_TIMEOUT = 60
TXN_LINE = re.compile(
    r"session (0x[0-9a-f]+) cxid (0x[0-9a-f]+) zxid (0x[0-9a-f]+) (\w+)(?: (.*))?$"
)
EOF_LINE = re.compile(r"^EOF reached after (\d+) txns\.$")
# Ops whose first field is the path in TxnLogToolkit's output.
PATH_OPS = {"create", "create2", "createContainer", "createTtl", "setData", "delete", "setACL"}


def java_cp() -> str:
    return ":".join(j for j in zkserver.JAVA_JARS[:3] if os.path.exists(j))


def run_java(main: str, path: Path) -> str:
    out = subprocess.run(
        ["java", "-XX:TieredStopAtLevel=1", "-cp", java_cp(), main, str(path)],
        capture_output=True, timeout=TOOL_TIMEOUT, stdin=subprocess.DEVNULL,
    )
    return out.stdout.decode(errors="replace")


def run_inspect(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(zkserver.menagerie_bin()), "inspect", *args],
        capture_output=True, timeout=TOOL_TIMEOUT, stdin=subprocess.DEVNULL,
    )


def workload(srv) -> None:
    zk = KazooClient(hosts=srv.hostport)
    zk.start(timeout=15)
    zk.create("/a", b"hello")
    try:
        zk.create("/a", b"again")  # fails: logged as an error txn, without a digest
    except NodeExistsError:
        pass
    for i in range(25):
        zk.create(f"/a/n{i:02d}", f"v{i}".encode())
    zk.set("/a/n01", b"changed")
    zk.delete("/a/n02")
    zk.create("/a/s-", b"", sequence=True)
    zk.create("/c2", b"create2", include_data=True)
    zk.create("/eph", b"e", ephemeral=True)
    zk.set_acls("/a/n03", [make_digest_acl("u", "p", all=True)])
    t = zk.transaction()
    t.create("/m", b"m")
    t.set_data("/a", b"y")
    t.commit()
    t = zk.transaction()
    t.create("/m2", b"m")
    t.delete("/nonexistent")
    t.commit()  # fails: logged as a multi with error sub-txns
    zk.stop()
    zk.close()
    # Container and TTL nodes: kazoo cannot create them, zkCli.sh can.
    for cmd in (["create", "-c", "/cont", "c"], ["create", "-t", "600000", "/ttl", "t"]):
        subprocess.run(
            [zkserver.ZKCLI, "-server", srv.hostport, *cmd],
            capture_output=True, timeout=TOOL_TIMEOUT, stdin=subprocess.DEVNULL,
        )


def java_log(path: Path) -> dict:
    text = run_java("org.apache.zookeeper.server.persistence.TxnLogToolkit", path)
    txns, count = [], None
    for line in text.splitlines():
        m = TXN_LINE.search(line)
        if m:
            op, rest = m.group(4), m.group(5) or ""
            p = rest.split(",", 1)[0].lstrip("'") if op in PATH_OPS else None
            txns.append((int(m.group(3), 16), op, p))
        m = EOF_LINE.match(line)
        if m:
            count = int(m.group(1))
    return {"count": count, "txns": txns}


def ours_log(path: Path) -> dict:
    out = run_inspect("--json", str(path))
    objs = [json.loads(l) for l in out.stdout.decode().splitlines()]
    txns = []
    for o in objs:
        if o["kind"] != "txn":
            continue
        op = o["type"]
        p = o["paths"][0] if op in PATH_OPS and o["paths"] else None
        txns.append((o["zxid"], op, p))
    summary = [o for o in objs if o["kind"] == "summary"]
    return {"count": summary[0]["txns"] if summary else None, "txns": txns, "rc": out.returncode}


def java_snapshot(path: Path) -> dict:
    text = run_java("org.apache.zookeeper.server.SnapshotFormatter", path)
    lines = text.splitlines()
    paths, sessions, last, section = set(), set(), None, "nodes"
    for i, line in enumerate(lines):
        if line.startswith("Session Details"):
            section = "sessions"
        elif line.startswith("Last zxid:"):
            last = int(line.split(":", 1)[1].strip(), 16)
        elif section == "nodes" and line.startswith("/") and i > 0 and lines[i - 1] == "----":
            paths.add(line)
        elif section == "sessions" and line.startswith("0x"):
            sid, timeout, eph = (x.strip() for x in line.split(","))
            sessions.add((int(sid, 16), int(timeout), int(eph)))
    return {"paths": paths, "sessions": sessions, "last": last}


def ours_snapshot(path: Path) -> dict:
    out = run_inspect("--json", str(path))
    objs = [json.loads(l) for l in out.stdout.decode().splitlines()]
    paths = {o["path"] for o in objs if o["kind"] == "node"}
    sessions = {(int(o["id"], 16), o["timeout"], o["ephemerals"]) for o in objs if o["kind"] == "session"}
    summary = [o for o in objs if o["kind"] == "summary"]
    last = summary[0]["last_zxid"] if summary else None
    return {"paths": paths, "sessions": sessions, "last": last, "rc": out.returncode,
            "digest": summary[0].get("digest") if summary else None}


def compare_dir(name: str, vdir: Path) -> bool:
    files = sorted(vdir.iterdir(), key=lambda p: p.name)
    logs = [f for f in files if f.name.startswith("log.")]
    snaps = [f for f in files if re.fullmatch(r"snapshot\.[0-9a-f]+", f.name)]
    problems = []
    total_txns, types = 0, set()
    for f in logs:
        j, o = java_log(f), ours_log(f)
        total_txns += len(o["txns"])
        types |= {t[1] for t in o["txns"]}
        if o["rc"] != 0:
            problems.append(f"{f.name}: menagerie inspect exited {o['rc']}")
        if j["count"] is None or j["count"] != o["count"]:
            problems.append(f"{f.name}: txn count java {j['count']} ours {o['count']}")
        if j["txns"] != o["txns"]:
            diff = [(a, b) for a, b in zip(j["txns"], o["txns"]) if a != b][:5]
            problems.append(f"{f.name}: txns differ (java, ours): {diff} lengths {len(j['txns'])} {len(o['txns'])}")
    for f in snaps:
        j, o = java_snapshot(f), ours_snapshot(f)
        if o["rc"] != 0:
            problems.append(f"{f.name}: menagerie inspect exited {o['rc']}")
        for k in ("paths", "sessions", "last"):
            if j[k] != o[k]:
                problems.append(f"{f.name}: {k}: java {j[k]} ours {o[k]}")
    want = {"createSession", "create", "create2", "createContainer", "createTtl", "setData",
            "setACL", "delete", "multi", "closeSession"}
    if not want <= types:
        problems.append(f"txn types missing from the logs: {sorted(want - types)}")
    if len(snaps) < 2:
        problems.append(f"only {len(snaps)} snapshots were written")
    for p in problems[:20]:
        print(f"  {name}: {p}")
    ok = not problems
    print(f"TESTRESULT {'PASS' if ok else 'FAIL'} inspect[{name}] "
          f"({len(logs)} logs with {total_txns} txns, {len(snaps)} snapshots; {len(problems)} differences)")
    return ok


def check_damaged(vdir: Path, tmp: str) -> bool:
    log = sorted((f for f in vdir.iterdir() if f.name.startswith("log.")), key=lambda p: p.name)[0]
    data = log.read_bytes()
    problems = []
    cut = Path(tmp, "cut.log")
    cut.write_bytes(data[:100])
    r = run_inspect(str(cut))
    err = r.stderr.decode()
    if r.returncode != 1 or "cut.log: offset" not in err or "truncated" not in err:
        problems.append(f"truncated log: rc {r.returncode}, stderr {err!r}")
    flipped = Path(tmp, "flip.log")
    b = bytearray(data)
    b[40] ^= 0x01  # inside the first entry's body
    flipped.write_bytes(bytes(b))
    r = run_inspect("--json", str(flipped))
    err = r.stderr.decode()
    if r.returncode != 1 or "CRC check failed" not in err or "at offset 16" not in err:
        problems.append(f"bit flip: rc {r.returncode}, stderr {err!r}")
    for p in problems:
        print(f"  damaged: {p}")
    print(f"TESTRESULT {'PASS' if not problems else 'FAIL'} inspect[damaged]")
    return not problems


def digest_placement(vdir: Path) -> dict[str, list[bool]]:
    """For each txn type in the logs of `vdir`: whether its txns carry a TxnDigest."""
    seen: dict[str, set[bool]] = {}
    for log in sorted(vdir.glob("log.*")):
        for line in run_inspect("--json", str(log)).stdout.decode().splitlines():
            o = json.loads(line)
            if o["kind"] == "txn":
                seen.setdefault(o["type"], set()).add(o.get("digest") is not None)
    return {k: sorted(v) for k, v in sorted(seen.items())}


def main() -> int:
    logging.getLogger("kazoo").setLevel(logging.CRITICAL)
    zkserver.install_signal_handlers()
    for kind in ("java", "menagerie"):
        why = zkserver.check_available(kind)
        if why:
            print(f"TESTRESULT FAIL inspect ({why})")
            return 1
    ok = True
    tmp = tempfile.mkdtemp(prefix="compat-inspect-")
    keep = []
    placement = {}
    try:
        for kind in ("java", "menagerie"):
            srv = zkserver.start_server(kind, extra={"zookeeper.snapCount": 20})
            try:
                workload(srv)
            finally:
                srv.stop(keep_tmp=True)
            vdir = Path(srv.tmpdir, "data", "version-2")
            placement[kind] = digest_placement(vdir)
            good = compare_dir(f"{kind}-files", vdir)
            if kind == "java":
                good &= check_damaged(vdir, tmp)
            if good:
                shutil.rmtree(srv.tmpdir, ignore_errors=True)
            else:
                keep.append(srv.tmpdir)
            ok &= good
        same = placement["java"] == placement["menagerie"] and placement["java"].get("error") == [False]
        if not same:
            print(f"  digests by txn type: java {placement['java']} menagerie {placement['menagerie']}")
        print(f"TESTRESULT {'PASS' if same else 'FAIL'} inspect[digest-placement] "
              f"({len(placement['java'])} txn types)")
        ok &= same
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if keep:
        print("data kept in", " ".join(keep))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
