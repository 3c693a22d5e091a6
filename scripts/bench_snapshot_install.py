#!/usr/bin/env python3
"""A SNAP install of a large tree, seen by the leader's clients: 3-member ensembles (Java 3.8 and
Menagerie, one after the other, same machine, same zoo.cfg: tickTime=2000, initLimit=10,
syncLimit=5, fsync on).

For each kind: `--znodes` nodes of `--node-bytes` (100 B) are created through the leader; idle sessions with
the shortest timeout the ensemble allows (2 ticks) are opened on the leader and on the other
follower; then a get workload at a fixed rate runs against the leader twice for
`--window` seconds: once with nothing else going on (baseline), once while a follower whose
data directory was emptied starts and installs the whole tree by SNAP. Printed: the install
time (exec to the follower answering with the leader's node count), the leader's get p50/p99
in both windows, and how many of the idle sessions expired or lost their connection.

    cargo build --release
    python3 scripts/bench_snapshot_install.py [--znodes 1000000] [--window 30] [--kinds java,menagerie]
    # a 4 GiB tree (about 30 GB of disk, 14 GB of memory for Menagerie; Java would need a
    # heap above 4 GiB per member):
    python3 scripts/bench_snapshot_install.py --znodes 1048576 --node-bytes 4096 \
        --kinds menagerie --snap-count 4000000
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ensemble import ROOT, start_ensemble  # noqa: E402
from bench_ensemble_memory import node_count, populate  # noqa: E402


class IdleSessions:
    """Sessions that only ping; records every state change other than CONNECTED."""

    def __init__(self, hosts: list[str], per_host: int, timeout_s: float):
        from kazoo.client import KazooClient
        logging.getLogger("kazoo").setLevel(logging.CRITICAL)
        self.events: list[str] = []
        self.clients = []
        for host in hosts:
            for _ in range(per_host):
                zk = KazooClient(hosts=host, timeout=timeout_s)
                zk.add_listener(lambda state, h=host: self._seen(h, state))
                zk.start(timeout=30)
                self.clients.append(zk)
        self.session_ids = {zk.client_id[0] for zk in self.clients}

    def _seen(self, host: str, state) -> None:
        if str(state) != "CONNECTED":
            self.events.append(f"{host}:{state}")

    def expired(self) -> int:
        """Sessions whose id changed or that were lost."""
        alive = {zk.client_id[0] for zk in self.clients if zk.connected and zk.client_id}
        return len(self.session_ids - alive) + sum("LOST" in e for e in self.events)

    def close(self) -> None:
        for zk in self.clients:
            try:
                zk.stop()
                zk.close()
            except Exception:  # noqa: BLE001 - best effort at the end of a run
                pass


def get_window(menagerie: Path, hostport: str, seconds: float, rate: int) -> dict:
    out = subprocess.run([str(menagerie), "bench", "--target", hostport, "--workloads", "get",
                          "--json", "--duration", str(seconds), "--sessions", "8",
                          "--outstanding", "4", "--rate", str(rate), "--max-client-cnxns", "0"],
                         check=True, capture_output=True, text=True, timeout=seconds * 4 + 300)
    return json.loads(out.stdout.strip().splitlines()[-1])


def install_while_measuring(menagerie: Path, ens, follower, args) -> tuple[dict, float | None]:
    """Starts the emptied follower 2 s into a get window; times its way back."""
    leader = ens[ens.leader()]
    total = node_count(leader.hostport) or 0
    result: dict = {}
    bench = threading.Thread(target=lambda: result.update(
        get_window(menagerie, leader.hostport, args.window, args.rate)))
    bench.start()
    time.sleep(2)
    t0 = time.monotonic()
    follower.start()
    back = None
    while time.monotonic() - t0 < args.window + 600:
        if (node_count(follower.hostport) or 0) >= total:
            back = time.monotonic() - t0
            break
        time.sleep(0.05)
    bench.join()
    return result, back


def measure(kind: str, menagerie: Path, args) -> dict:
    extra = {"snapCount": str(args.snap_count)} if args.snap_count else None
    ens = start_ensemble(kind, args.workdir, args.java_heap, extra)
    sessions = None
    try:
        leader = ens[ens.leader()]
        print(f"{kind}: populating {args.znodes} znodes of {args.node_bytes} B", file=sys.stderr)
        populate_s = populate(menagerie, leader.hostport, args.znodes, args.node_bytes)
        print(f"{kind}: populated in {populate_s:.0f} s", file=sys.stderr)
        follower, other = (ens[s] for s in ens.followers()[:2])
        follower.stop()
        shutil.rmtree(os.path.join(follower.data_dir, "version-2"), ignore_errors=True)
        for f in ("acceptedEpoch", "currentEpoch"):
            Path(follower.data_dir, f).unlink(missing_ok=True)
        sessions = IdleSessions([leader.hostport, other.hostport], args.sessions, 4.0)
        base = get_window(menagerie, leader.hostport, args.window, args.rate)
        during, back = install_while_measuring(menagerie, ens, follower, args)
        time.sleep(5)  # an expiry decided at the end of the install still shows
        out = {"znodes": node_count(leader.hostport), "node_bytes": args.node_bytes,
               "populate_s": round(populate_s, 1), "install_s": back and round(back, 2),
               "base_p50_us": base["p50_us"], "base_p99_us": base["p99_us"],
               "during_p50_us": during["p50_us"], "during_p99_us": during["p99_us"],
               "during_errors": during["errors"], "sessions": len(sessions.clients),
               "expired": sessions.expired(), "events": sessions.events[:10]}
        print(f"{kind}: {out}", file=sys.stderr)
        return out
    finally:
        if sessions:
            sessions.close()
        ens.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--menagerie", default=str(ROOT / "target/release/menagerie"))
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--znodes", type=int, default=1_000_000)
    ap.add_argument("--node-bytes", type=int, default=100, help="data bytes per znode")
    ap.add_argument("--snap-count", type=int, default=None,
                    help="snapCount for the members (a large tree: fewer, larger snapshots)")
    ap.add_argument("--java-heap", default=None, help="-Xmx of the Java members")
    ap.add_argument("--window", type=float, default=30.0, help="seconds per get window")
    ap.add_argument("--rate", type=int, default=2000, help="gets per second on the leader")
    ap.add_argument("--sessions", type=int, default=20, help="idle sessions per member")
    ap.add_argument("--kinds", default="java,menagerie")
    args = ap.parse_args()
    menagerie = Path(args.menagerie).resolve()
    os.environ["MENAGERIE_BIN"] = str(menagerie)
    results = {k: measure(k, menagerie, args) for k in args.kinds.split(",")}
    print("| kind | znodes x bytes | SNAP install, s | leader get p50/p99 before, us "
          "| during, us | idle sessions expired |")
    print("|---|---|---|---|---|---|")
    for k, r in results.items():
        print(f"| {k} | {r['znodes']} x {r['node_bytes']} | {r['install_s']} | "
              f"{r['base_p50_us']} / "
              f"{r['base_p99_us']} | {r['during_p50_us']} / {r['during_p99_us']} | "
              f"{r['expired']} of {r['sessions']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
