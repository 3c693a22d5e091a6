"""zktop (Debian's `top` for ZooKeeper) parsing each server's `stat` output.

    python3 tests/compat/zktop_test.py                 # java and menagerie
    python3 tests/compat/zktop_test.py --servers menagerie

zktop's own parser (``zktop.ZKServer`` / ``zktop.Session`` from the Debian package) reads
`stat`; a server whose output it cannot parse shows up as "Unavailable". The test runs the
parser against each server with two kazoo clients connected and checks that it found the
version, the mode, every connection with its counters, and the latency/received/sent lines;
the attribute names it extracted must be the same for both servers.

One ``TESTRESULT`` line per server: ``zktop[<server>]``, plus ``zktop[same-fields]``.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from kazoo.client import KazooClient  # noqa: E402

import zkserver  # noqa: E402


def load_zktop():
    """Imports Debian's zktop module (it parses sys.argv at import time)."""
    saved = sys.argv
    sys.argv = ["zktop", "--timeout", "5"]
    try:
        sys.path.append("/usr/lib/python3/dist-packages")
        import zktop  # noqa: PLC0415
    finally:
        sys.argv = saved
    return zktop


def check(kind: str, zktop) -> tuple[bool, set[str]]:
    srv = zkserver.start_server(kind)
    clients = []
    try:
        for i in range(2):
            c = KazooClient(hosts=srv.hostport, timeout=10.0)
            c.start(timeout=15)
            c.create(f"/zktop{i}", b"x", ephemeral=True)
            c.get(f"/zktop{i}")
            clients.append(c)
        s = zktop.ZKServer(srv.hostport, 0)
        problems = []
        if s.unavailable:
            problems.append("zktop could not parse stat (Unavailable)")
            return False, set()
        if not re.fullmatch(r"\d+\.\d+\.\d+", s.version):
            problems.append(f"version {s.version!r}")
        if getattr(s, "mode", None) != "standalone":
            problems.append(f"mode {getattr(s, 'mode', None)!r}")
        # Our two clients plus zktop's own connection.
        if len(s.sessions) < 3:
            problems.append(f"{len(s.sessions)} sessions parsed")
        for sess in s.sessions:
            for field in ("queued", "recved", "sent"):
                if not hasattr(sess, field):
                    problems.append(f"session {sess.host}:{sess.port} lacks {field}")
        for field in ("min_latency", "avg_latency", "max_latency", "received", "sent",
                      "connections", "outstanding", "zxid", "node_count"):
            if not hasattr(s, field):
                problems.append(f"no {field}")
        if int(getattr(s, "node_count", "0")) < 7:
            problems.append(f"node_count {getattr(s, 'node_count', None)}")
        for p in problems:
            print(f"  {kind}: {p}")
        fields = {k for k in vars(s) if k not in ("sessions",)}
        return not problems, fields
    finally:
        for c in clients:
            c.stop()
            c.close()
        srv.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--servers", default="java,menagerie")
    args = ap.parse_args()
    try:
        zktop = load_zktop()
    except ImportError as e:
        print(f"TESTRESULT FAIL zktop[import] {e} (apt install zktop)")
        return 1
    fields = {}
    ok_all = True
    for kind in args.servers.split(","):
        ok, fields[kind] = check(kind, zktop)
        ok_all &= ok
        print(f"TESTRESULT {'PASS' if ok else 'FAIL'} zktop[{kind}]")
    if len(fields) > 1:
        sets = list(fields.values())
        same = all(s == sets[0] for s in sets)
        if not same:
            print("  fields differ:", {k: sorted(v ^ sets[0]) for k, v in fields.items()})
        ok_all &= same
        print(f"TESTRESULT {'PASS' if same else 'FAIL'} zktop[same-fields]")
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main())
