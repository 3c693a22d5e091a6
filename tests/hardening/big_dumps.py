"""Large operator dumps against client latency (issue 16, item 12), on a release server.

    python3 tests/hardening/big_dumps.py [--sessions 1000] [--watches 1000] [--dumps 8]
                                         [--word wchp] [--duration 20] [--rate 20000]

Starts a fresh server (tests/compat/zkserver.py; maxClientCnxns=0), registers
SESSIONS x WATCHES data watches (pipelined `exists` with the watch flag on paths that do not
exist, one raw session per connection, kept alive with pings), then runs
`menagerie bench --workloads get --rate RATE` (open loop) twice: once alone, once while DUMPS concurrent
four-letter WORD requests (`wchp` by default) are answered. Prints both runs' p50/p99/max
latency and throughput, and each dump's size and time. Run by hand; the figures go into
docs/performance.md. Needs python3 and the release binary ($MENAGERIE_BIN or
target/release/menagerie), which also drives the benchmark.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "compat"))
import zkserver  # noqa: E402

OP_EXISTS = 3
OP_PING = 11


def frame(body: bytes) -> bytes:
    return struct.pack(">i", len(body)) + body


def connect_request(timeout_ms: int) -> bytes:
    return frame(struct.pack(">iqiq", 0, 0, timeout_ms, 0) + struct.pack(">i", 16) + bytes(16)
                 + b"\x00")


def read_exact(s: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("server closed the connection")
        buf += chunk
    return bytes(buf)


def read_frame(s: socket.socket) -> bytes:
    (n,) = struct.unpack(">i", read_exact(s, 4))
    return read_exact(s, n)


def watch_session(port: int, index: int, watches: int) -> socket.socket:
    """A session with `watches` data watches on /dump/s<index>/n<i> (which do not exist)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    s.sendall(connect_request(40_000))
    read_frame(s)
    frames = bytearray()
    for i in range(watches):
        path = f"/dump/s{index}/n{i}".encode()
        frames += frame(struct.pack(">ii", i + 1, OP_EXISTS) + struct.pack(">i", len(path)) + path
                        + b"\x01")
    s.sendall(frames)
    for _ in range(watches):
        read_frame(s)
    return s


class Pinger(threading.Thread):
    """Pings every session every 3 s and discards what they receive, until stopped."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.socks: list[socket.socket] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def add(self, s: socket.socket) -> None:
        s.setblocking(False)
        with self.lock:
            self.socks.append(s)

    def run(self) -> None:
        ping = frame(struct.pack(">ii", -2, OP_PING))
        while not self.stop.wait(3.0):
            with self.lock:
                socks = list(self.socks)
            for s in socks:
                try:
                    s.sendall(ping)
                    while s.recv(65536):
                        pass
                except (BlockingIOError, OSError):
                    pass


def dump(port: int, word: str, results: list, start: float) -> None:
    t0 = time.monotonic()
    size = 0
    with socket.create_connection(("127.0.0.1", port), timeout=120) as s:
        s.sendall(word.encode())
        while True:
            b = s.recv(1 << 20)
            if not b:
                break
            size += len(b)
    results.append((t0 - start, time.monotonic() - t0, size))


def bench(binary: Path, port: int, duration: int, rate: int) -> dict:
    out = subprocess.run(
        [str(binary), "bench", "--target", f"127.0.0.1:{port}", "--workloads", "get",
         "--sessions", "16", "--duration", str(duration), "--json", "--max-client-cnxns", "0",
         "--rate", str(rate)],
        check=True, capture_output=True, text=True, timeout=duration + 120)
    return json.loads(out.stdout.strip().splitlines()[-1])


def show(label: str, r: dict) -> None:
    print(f"{label}: {r['ops_per_sec']:.0f} gets/s, p50 {r['p50_us'] / 1000:.2f} ms, "
          f"p99 {r['p99_us'] / 1000:.2f} ms, p99.9 {r['p999_us'] / 1000:.2f} ms, max {r['max_us'] / 1000:.1f} ms, "
          f"errors {r['errors']}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sessions", type=int, default=1000)
    ap.add_argument("--watches", type=int, default=1000)
    ap.add_argument("--dumps", type=int, default=8)
    ap.add_argument("--word", default="wchp")
    ap.add_argument("--duration", type=int, default=20)
    ap.add_argument("--rate", type=int, default=20000,
                    help="offered gets per second (open loop: a stall delays every get due)")
    args = ap.parse_args()
    zkserver.install_signal_handlers()
    binary = zkserver.menagerie_bin()
    # The shell logs how long each capture held it (debug level).
    os.environ.setdefault("RUST_LOG", "info,menagerie_server::shell::dumps=debug")
    with zkserver.start_server("menagerie", extra={"maxClientCnxns": 0}) as srv:
        pinger = Pinger()
        pinger.start()
        t0 = time.monotonic()
        for i in range(args.sessions):
            pinger.add(watch_session(srv.port, i, args.watches))
        print(f"{args.sessions} sessions x {args.watches} watches registered in "
              f"{time.monotonic() - t0:.1f} s; "
              f"{zkserver.four_letter(srv.port, 'wchs', timeout=60).splitlines()[-1]}")
        show("get alone", bench(binary, srv.port, args.duration, args.rate))
        results: list = []
        start = time.monotonic()

        def fire() -> None:
            time.sleep(3.0)
            threads = [threading.Thread(target=dump, args=(srv.port, args.word, results, start))
                       for _ in range(args.dumps)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()

        firing = threading.Thread(target=fire)
        firing.start()
        during = bench(binary, srv.port, args.duration, args.rate)
        firing.join()
        show(f"get with {args.dumps} x {args.word}", during)
        for at, took, size in sorted(results):
            print(f"  {args.word} sent at {at:.1f} s: {size / 1e6:.1f} MB in {took:.2f} s")
        took = re.findall(r"capture_took=([0-9.]+m?s)", Path(srv.log_path).read_text())
        if took:
            print(f"  the shell's share (capture) of each: {', '.join(took)}")
        pinger.stop.set()
    return 0


if __name__ == "__main__":
    sys.exit(main())
