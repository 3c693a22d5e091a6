#!/usr/bin/env python3
"""The cost of linearizable reads (`menagerie.linearizableReads`): the same 3-member
Menagerie ensemble workload with the setting off and on, one after the other, sessions
spread over the members (one `menagerie bench` process per member, as the ensemble mode of
bench_vs_java.py). Each read waits for a round (a leadership confirmation on the leader, a
sync through the leader on a follower); reads arriving meanwhile share the next round.

    cargo build --release
    python3 scripts/bench_linearizable.py [--duration 5] [--repeat 2] [--workloads get,mixed90]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ensemble import ROOT, bench_spread, start_ensemble  # noqa: E402


def measure(menagerie: Path, linearizable: bool, args) -> dict:
    extra = {"menagerie.linearizableReads": "true"} if linearizable else {}
    ens = start_ensemble("menagerie", args.workdir, None, extra)
    try:
        out = {}
        for w in args.workloads.split(","):
            runs = [bench_spread(menagerie, ens, w, args.duration, args.sessions,
                                 args.outstanding) for _ in range(args.repeat)]
            out[w] = {k: statistics.median(r[k] for r in runs)
                      for k in ("ops_per_sec", "p50_us", "p99_us", "errors")}
            print(f"  linearizable={linearizable} {w}: {out[w]}", file=sys.stderr)
        return out
    finally:
        ens.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--menagerie", default=str(ROOT / "target/release/menagerie"))
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--sessions", type=int, default=48)
    ap.add_argument("--outstanding", type=int, default=16)
    ap.add_argument("--workloads", default="get,mixed90")
    args = ap.parse_args()
    menagerie = Path(args.menagerie).resolve()
    os.environ["MENAGERIE_BIN"] = str(menagerie)  # the members run this binary too
    off = measure(menagerie, False, args)
    on = measure(menagerie, True, args)
    print("| workload | default ops/s | linearizable ops/s | ratio | default p99 us | "
          "linearizable p99 us |")
    print("|---|---|---|---|---|---|")
    for w in off:
        a, b = off[w], on[w]
        print(f"| {w} | {a['ops_per_sec']:.0f} | {b['ops_per_sec']:.0f} | "
              f"{b['ops_per_sec'] / a['ops_per_sec']:.2f}x | {a['p99_us']:.0f} | "
              f"{b['p99_us']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
