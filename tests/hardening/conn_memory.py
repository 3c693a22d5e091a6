"""Memory per connection (issue 16, items 10 and 13), measured on a release server.

    python3 tests/hardening/conn_memory.py [--kind menagerie|java] [-n 1000]

Starts a fresh server (tests/compat/zkserver.py; maxClientCnxns=0) and reports its resident
memory (VmRSS) in three phases:

1. ``prefix``: N connections each send only a 4-byte length prefix of 1 MiB - 1 and 10 bytes
   of the frame, then wait (a server that allocates the announced length up front grows by
   about N MiB);
2. ``idle`` (on another fresh server): N sessions (raw ConnectRequest, answered), then idle;
3. ``closed``: the same after every connection is closed (memory the server gives back).

Prints one line per phase with the RSS and the growth per connection in KiB. Run by hand;
the figures go into the issue's note. Needs nothing but python3 (and the release binary,
$MENAGERIE_BIN or target/release/menagerie).
"""

from __future__ import annotations

import argparse
import socket
import struct
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "compat"))
import zkserver  # noqa: E402


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def settle(pid: int, seconds: float = 2.0) -> int:
    time.sleep(seconds)
    return rss_kib(pid)


def connect_request() -> bytes:
    body = struct.pack(">iqiq", 0, 0, 10_000, 0) + struct.pack(">i", 16) + bytes(16) + b"\x00"
    return struct.pack(">i", len(body)) + body


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kind", default="menagerie")
    ap.add_argument("-n", type=int, default=1000)
    args = ap.parse_args()
    zkserver.install_signal_handlers()
    extra = {"maxClientCnxns": 0} if args.kind == "menagerie" else {}
    cfg = {"maxClientCnxns": 0} if args.kind == "java" else None
    # Each phase on a fresh server, so that one phase's freed memory does not hide the next.
    with zkserver.start_server(args.kind, extra=extra, cfg=cfg) as srv:
        pid = srv.proc.pid
        base = settle(pid)
        socks = []
        for _ in range(args.n):
            s = socket.create_connection(("127.0.0.1", srv.port))
            s.sendall(struct.pack(">i", (1 << 20) - 1) + bytes(10))
            socks.append(s)
        rss = settle(pid)
        print(f"prefix: {args.n} connections announcing 1 MiB frames: RSS {base} -> {rss} KiB, "
              f"{(rss - base) / args.n:.1f} KiB per connection")
        for s in socks:
            s.close()
    with zkserver.start_server(args.kind, extra=extra, cfg=cfg) as srv:
        pid = srv.proc.pid
        base = settle(pid)
        socks = []
        for _ in range(args.n):
            s = socket.create_connection(("127.0.0.1", srv.port))
            s.sendall(connect_request())
            socks.append(s)
        for s in socks:
            s.settimeout(10)
            s.recv(64)
        rss = settle(pid)
        print(f"idle: {args.n} sessions: RSS {base} -> {rss} KiB, "
              f"{(rss - base) / args.n:.1f} KiB per connection")
        for s in socks:
            s.close()
        after = settle(pid, 15.0)
        print(f"closed: RSS {after} KiB ({rss - after} KiB of {rss - base} KiB given back)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
