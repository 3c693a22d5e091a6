#!/usr/bin/env python3
"""Memory per member and a follower's way back, for 3-member ensembles with many znodes:
Java 3.8 and Menagerie, one after the other, same machine, same zoo.cfg (tickTime=2000,
initLimit=10, syncLimit=5, fsync on).

For each kind: `--znodes` nodes of 100 B are created through the leader (`menagerie bench
populateN`), then the RSS of every member is read; then one follower is stopped (SIGTERM),
a further `--while-away` nodes are created, and the follower is started again: the time from
its exec until it answers `srvr` with the leader's node count (recovery from its own
snapshot and log, then a DIFF or SNAP from the leader).

    cargo build --release
    python3 scripts/bench_ensemble_memory.py [--znodes 1000000] [--while-away 10000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ensemble import ROOT, start_ensemble  # noqa: E402


def four_letter(hostport: str, word: str) -> str:
    import socket
    host, port = hostport.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=2) as s:
            s.sendall(word.encode())
            s.shutdown(socket.SHUT_WR)
            out = b""
            while chunk := s.recv(65536):
                out += chunk
            return out.decode(errors="replace")
    except OSError:
        return ""


def node_count(hostport: str) -> int | None:
    for line in four_letter(hostport, "srvr").splitlines():
        if line.startswith("Node count:"):
            return int(line.split(":")[1])
    return None


def rss_mb(pid: int) -> float:
    """RSS of the process and its children (Java runs under a wrapper in some setups)."""
    total = 0
    pids = [pid] + [int(p) for p in subprocess.run(["pgrep", "-P", str(pid)], text=True,
                                                     capture_output=True).stdout.split()]
    for p in pids:
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def populate(menagerie: Path, hostport: str, n: int, node_bytes: int = 100) -> float:
    t0 = time.monotonic()
    subprocess.run([str(menagerie), "bench", "--target", hostport, "--workloads",
                    f"populate{n}x{node_bytes}", "--json", "--max-client-cnxns", "0"],
                   check=True, capture_output=True, text=True, timeout=3600)
    return time.monotonic() - t0


def measure(kind: str, menagerie: Path, args) -> dict:
    ens = start_ensemble(kind, args.workdir, None)
    try:
        leader = ens[ens.leader()]
        print(f"{kind}: populating {args.znodes} znodes", file=sys.stderr)
        populate_s = populate(menagerie, leader.hostport, args.znodes)
        time.sleep(3)
        rss = {m.sid: round(rss_mb(m.proc.pid)) for m in ens if m.proc}
        follower = ens[ens.followers()[0]]
        follower.stop()
        populate(menagerie, leader.hostport, args.while_away)
        total = node_count(leader.hostport) or 0
        t0 = time.monotonic()
        follower.start()
        while (node_count(follower.hostport) or 0) < total:
            if time.monotonic() - t0 > 900:
                raise RuntimeError(f"{kind}: follower not back within 900 s")
            time.sleep(0.02)
        back_s = time.monotonic() - t0
        out = {"znodes": total, "populate_s": round(populate_s, 1), "rss_mb": rss,
               "follower_back_s": round(back_s, 2)}
        print(f"{kind}: {out}", file=sys.stderr)
        return out
    finally:
        ens.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--menagerie", default=str(ROOT / "target/release/menagerie"))
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--znodes", type=int, default=1_000_000)
    ap.add_argument("--while-away", type=int, default=10_000)
    ap.add_argument("--kinds", default="java,menagerie")
    args = ap.parse_args()
    menagerie = Path(args.menagerie).resolve()
    os.environ["MENAGERIE_BIN"] = str(menagerie)
    results = {k: measure(k, menagerie, args) for k in args.kinds.split(",")}
    print("| kind | znodes | RSS per member, MB | follower back in sync, s |")
    print("|---|---|---|---|")
    for k, r in results.items():
        rss = " / ".join(str(v) for v in r["rss_mb"].values())
        print(f"| {k} | {r['znodes']} | {rss} | {r['follower_back_s']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
