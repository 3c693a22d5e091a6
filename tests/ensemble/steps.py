"""Steps the scenarios share: form an ensemble, run a workload, stop and check it."""

from __future__ import annotations

import os
import time

from checker import check
from registry import Context, Failure
from workload import Workload


def form(ctx: Context, ens, order: list[int] | None = None, gap: float = 0.0,
         timeout: float = 60.0) -> int:
    """Starts the members and waits for a stable ensemble; returns the leader's sid.

    Default order: the highest sid first; once its election port listens, just enough
    voters for a quorum with it; the rest once that quorum serves. A bare quorum cannot
    decide without the top sid's vote, so it leads whatever its kind (Menagerie members start
    in milliseconds, JVMs in seconds: started together, the Menagerie members would elect
    one of their own before a JVM's vote reaches them). With `order`, members start in that
    order, `gap` seconds apart."""
    t = time.monotonic()
    if order is None:
        voters = sorted(s for s in ens.members if not ens[s].observer)
        first = [voters[-1]] + voters[:len(voters) // 2]
        ens.start(first[:1])
        ens[first[0]].wait_listening(ens[first[0]].election_port)
        ens.start(first[1:])
        ens.wait_stable(timeout, expect=first)
        ens.start([s for s in ens.members if s not in first])
    else:
        ens.start(order, gap)
    leader = ens.wait_stable(timeout)
    ctx.log(f"ensemble formed in {time.monotonic() - t:.1f} s, leader {ens[leader].name}")
    return leader


def move_leadership(ctx: Context, ens, want: int, timeout: float = 60.0) -> None:
    """Makes `want` the leader: stops the current leader (the remaining members elect the
    highest (zxid, sid)), starts it again as a follower; bounded number of rounds."""
    for _ in range(len(ens.members)):
        lead = ens.wait_stable(timeout)
        if lead == want:
            return
        ctx.log(f"moving leadership: stopping leader {ens[lead].name}")
        ens.stop_member(lead)
        ens.wait_stable(timeout)
        ens.start_member(lead)
    lead = ens.wait_stable(timeout)
    if lead != want:
        raise Failure(f"could not make {ens[want].name} the leader (leader: {ens[lead].name})")


def stop_and_check(ctx: Context, ens, wl: Workload, allow_failed: bool = True) -> None:
    """Stops the workload, checks it against every live member; fails with the report."""
    hist = wl.stop()
    ctx.log("workload stopped; checking")
    res = check(ens, hist)
    for line in res.text.splitlines():
        ctx.log(line)
    failed_ops = [r for r in hist.finals() if r["op"] != "get" and r["status"] != "ok"]
    if not allow_failed and failed_ops:
        res.add("client operations that failed (other than connection-loss retries)",
                [f"{r['cid']} {r['op']} {r['path'] or r['value']}: {r['status']} {r['err']}"
                 for r in failed_ops])
    if not res.ok:
        path = os.path.join(ens.workdir, "history.jsonl")
        hist.dump(path)
        ctx.log(f"history of every attempt: {path}")
        raise Failure("; ".join(res.violations) + "\n" + res.text)


SCALE = float(os.environ.get("ENSEMBLE_SCALE", "1"))  # >1: longer load phases (full runs)


def writes_resume(ctx: Context, wl: Workload, what: str, n: int = 10,
                  timeout: float = 60.0) -> float:
    """Waits until `n` more writes are acknowledged (times ENSEMBLE_SCALE for the load
    phases, n >= 20); logs and returns the seconds."""
    if n >= 20:
        n = int(n * SCALE)
    secs = wl.wait_progress(n, timeout * max(1.0, SCALE))
    ctx.log(f"{what}: {n} more writes acknowledged after {secs:.2f} s")
    return secs
