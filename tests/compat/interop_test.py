"""On-disk interoperability with Java ZooKeeper 3.8, both directions, on one data directory.

1. Java ZooKeeper writes a tree (small snapCount, so both snapshots and logs exist; ACLs,
   sequential nodes, deletes, sessions with ephemerals), then stops.
2. Menagerie starts on that directory and must show the identical tree (data, Stat, ACLs);
   it writes more, then stops.
3. Java ZooKeeper starts on the result and must show Menagerie's writes, identical again.

Both servers check the tree digests in what they load (ZooKeeper 3.6+ logs one after every
txn and stores one in every snapshot): each must report ``zk_digest_mismatches_count`` 0 after
loading the other's files, and Java must have read the digest block of Menagerie's snapshot.

    python3 tests/compat/interop_test.py

Prints "TESTRESULT PASS|FAIL interop[java->menagerie]" and "...[menagerie->java]", and
"digest[java->menagerie]" / "digest[menagerie->java]".
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from kazoo.client import KazooClient  # noqa: E402
from kazoo.security import make_digest_acl  # noqa: E402

import zkserver  # noqa: E402


def start(kind: str, tmp: str, port: int) -> subprocess.Popen:
    data = os.path.join(tmp, "data")
    cfg = os.path.join(tmp, f"zoo-{kind}.cfg")
    lines = [f"tickTime=2000", f"dataDir={data}", f"clientPort={port}", "clientPortAddress=127.0.0.1"]
    lines.append("admin.enableServer=false")  # both default to an admin server on port 8080
    if kind == "java":
        with open(cfg, "w") as f:
            f.write("\n".join(lines) + "\n")
        cmd = zkserver._java_command(tmp, cfg, {"zookeeper.snapCount": 40})
    else:
        lines += ["snapCount=40", "4lw.commands.whitelist=*"]
        with open(cfg, "w") as f:
            f.write("\n".join(lines) + "\n")
        cmd = [str(zkserver.menagerie_bin()), "server", "--config", cfg]
    out = open(os.path.join(tmp, f"{kind}.log"), "ab")
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if zkserver.four_letter(port, "srvr", timeout=1.0).startswith("Zookeeper version"):
            return proc
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    stop(proc)
    raise RuntimeError(f"{kind} did not start; see {tmp}/{kind}.log")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def dump(hostport: str) -> dict:
    """Every node (outside /zookeeper) with data, Stat and ACL."""
    zk = KazooClient(hosts=hostport, auth_data=[("digest", "u:p")])
    zk.start(timeout=10)
    out = {}
    stack = ["/"]
    while stack:
        p = stack.pop()
        if p.startswith("/zookeeper"):
            continue
        data, st = zk.get(p)
        acl, _ = zk.get_acls(p)
        out[p] = (data, tuple(st), tuple((a.perms, a.id.scheme, a.id.id) for a in acl))
        for c in zk.get_children(p):
            stack.append(("" if p == "/" else p) + "/" + c)
    zk.stop()
    zk.close()
    return out


def write(hostport: str, prefix: str, keep_open: bool) -> KazooClient | None:
    zk = KazooClient(hosts=hostport, auth_data=[("digest", "u:p")])
    zk.start(timeout=10)
    zk.ensure_path(f"/{prefix}")
    for i in range(50):
        zk.create(f"/{prefix}/n{i:02d}", f"v{i}".encode())
    for i in range(0, 50, 7):
        zk.delete(f"/{prefix}/n{i:02d}")
    for i in range(5):
        zk.create(f"/{prefix}/seq-", b"", sequence=True)
    zk.set(f"/{prefix}/n01", b"changed")
    zk.create(f"/{prefix}/null", None)
    zk.create(f"/{prefix}/secret", b"s", acl=[make_digest_acl("u", "p", all=True)])
    zk.set_acls(f"/{prefix}/n02", [make_digest_acl("u", "p", read=True, write=True)])
    t = zk.transaction()
    t.create(f"/{prefix}/multi-a", b"a")
    t.set_data(f"/{prefix}/n03", b"m")
    t.commit()
    zk.create(f"/{prefix}/eph", b"e", ephemeral=True)
    if keep_open:
        return zk
    zk.stop()
    zk.close()
    return None


def compare(name: str, want: dict, got: dict) -> bool:
    diffs = [p for p in sorted(set(want) | set(got)) if want.get(p) != got.get(p)]
    for p in diffs[:10]:
        print(f"  {name}: {p}: expected {want.get(p)} got {got.get(p)}")
    print(f"TESTRESULT {'FAIL' if diffs else 'PASS'} interop[{name}] ({len(want)} nodes, {len(diffs)} differ)")
    return not diffs


def mismatches(port: int) -> int | None:
    """The server's zk_digest_mismatches_count (None if it does not report one)."""
    for line in zkserver.four_letter(port, "mntr").splitlines():
        key, _, value = line.partition("\t")
        if key == "zk_digest_mismatches_count":
            return int(value)
    return None


def check_digests(name: str, port: int, log: str, need_log_line: str | None) -> bool:
    """No digest mismatch reported by the server that just loaded the other's files."""
    count = mismatches(port)
    problems = []
    if count != 0:
        problems.append(f"zk_digest_mismatches_count={count}")
    with open(log, errors="replace") as f:
        text = f.read()
    if "Digests are not matching" in text or "digest mismatch" in text:
        problems.append("the log reports a digest mismatch")
    if need_log_line and need_log_line not in text:
        problems.append(f"the log lacks {need_log_line!r}")
    for p in problems:
        print(f"  digest[{name}]: {p}")
    print(f"TESTRESULT {'FAIL' if problems else 'PASS'} digest[{name}]")
    return not problems


def main() -> int:
    logging.getLogger("kazoo").setLevel(logging.CRITICAL)
    for kind in ("java", "menagerie"):
        reason = zkserver.check_available(kind)
        if reason:
            print(f"TESTRESULT FAIL interop ({reason})")
            return 1
    tmp = tempfile.mkdtemp(prefix="compat-interop-")
    ok = True
    try:
        port = zkserver.free_port()
        hp = f"127.0.0.1:{port}"
        java = start("java", tmp, port)
        try:
            write(hp, "j", keep_open=False)
            before = dump(hp)
        finally:
            stop(java)
        snaps = sorted(os.listdir(os.path.join(tmp, "data", "version-2")))
        print("java wrote:", " ".join(snaps))
        m = start("menagerie", tmp, port)
        try:
            ok &= compare("java->menagerie", before, dump(hp))
            ok &= check_digests("java->menagerie", port, os.path.join(tmp, "menagerie.log"), None)
            write(hp, "m", keep_open=False)
            after = dump(hp)
        finally:
            stop(m)
        # Java logs the next start in server.log; keep the first run's lines apart.
        java_log = os.path.join(tmp, "server.log")
        if os.path.exists(java_log):
            os.replace(java_log, java_log + ".first")
        java = start("java", tmp, port)
        try:
            ok &= compare("menagerie->java", after, dump(hp))
            ok &= check_digests("menagerie->java", port, java_log, "The digest in the snapshot has digest version of 2")
        finally:
            stop(java)
    finally:
        if ok:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"data and logs kept in {tmp}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
