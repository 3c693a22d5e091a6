"""Ensemble mode of scripts/bench_vs_java.py: a 3-member Java ZooKeeper 3.8 ensemble and a
3-member Menagerie ensemble, same machine, same run, same zoo.cfg (ZooKeeper's production
timing: tickTime=2000, initLimit=10, syncLimit=5), fsync on.

    python3 scripts/bench_vs_java.py --ensemble [--quick] [--json out.json]

Measured, each ensemble alone (the other one paused with SIGSTOP):
* closed-loop setData 100 B, create 100 B and getData with the sessions spread over the three
  members: one `menagerie bench` process per member, each with a third of the sessions, run
  at the same time; ops/s is their sum, p50/p99 the worst member's;
* p99 at the same offered load: setData at 70 % of the slower ensemble's closed-loop rate,
  split evenly over the members;
* leader kill -9 to writes served again, by phase as seen from outside: `detect` (the first
  survivor stops serving), `serving` (the survivors serve again, one of them as leader),
  `write` (the first setData acknowledged through a survivor); plus the election time the
  new leader logs where it logs one (Java: "LEADER ELECTION TOOK"). Medians of `--kills`
  rounds; the killed member is restarted and the ensemble made whole between rounds.
"""

from __future__ import annotations

import json
import logging
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "ensemble"))

from ensemble import Ensemble, install_signal_handlers  # noqa: E402
from registry import menagerie_ensemble_problem  # noqa: E402

WORKLOADS = ["set", "create", "get"]
KINDS = ["java", "menagerie"]
POLL = 0.01  # seconds between srvr polls while timing a failover


def start_ensemble(kind: str, workdir: str | None, java_heap: str | None,
                   extra_cfg: dict | None = None) -> Ensemble:
    """Three members of `kind` with production timing, started and stable."""
    jvm = tuple([f"-Xmx{java_heap}"] if java_heap else [])
    ens = Ensemble({1: kind, 2: kind, 3: kind}, tick=2000, init_limit=10, sync_limit=5,
                   name=f"bench-{kind}", workdir=workdir, jvm_opts=jvm, extra_cfg=extra_cfg)
    # warnings only, but the line that says how long an election took (timed below)
    ens.rust_log = "warn,menagerie_core::node::ensemble=info"
    ens.start()
    ens.wait_stable(120)
    return ens


def pause(ens: Ensemble, paused: bool) -> None:
    for m in ens:
        if m.alive():
            (m.pause if paused else m.resume)()


def bench_spread(menagerie: Path, ens: Ensemble, workload: str, duration: float,
                 sessions: int, outstanding: int, rate: float | None = None) -> dict:
    """One bench process per member, at the same time; sums ops/s, worst p50/p99."""
    procs = []
    per = max(1, sessions // len(ens.members))
    for m in ens:
        cmd = [str(menagerie), "bench", "--target", m.hostport, "--workloads", workload,
               "--json", "--duration", str(duration), "--sessions", str(per),
               "--outstanding", str(outstanding), "--max-client-cnxns", "0"]
        if rate:
            cmd += ["--rate", f"{rate / len(ens.members):.0f}"]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True, start_new_session=True))
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=duration * 4 + 600)
        if p.returncode != 0:
            raise RuntimeError(f"bench {workload} failed: {err.strip()[-500:]}")
        outs.append(json.loads(out.strip().splitlines()[-1]))
    return {"ops_per_sec": sum(o["ops_per_sec"] for o in outs),
            "p50_us": max(o["p50_us"] for o in outs),
            "p99_us": max(o["p99_us"] for o in outs),
            "p999_us": max(o["p999_us"] for o in outs),
            "errors": sum(o["errors"] for o in outs),
            "per_member": [round(o["ops_per_sec"]) for o in outs]}


def measure_kill(ens: Ensemble) -> dict:
    """kill -9 of the leader; seconds to detect, to serve again, to the first write."""
    from kazoo.client import KazooClient
    from kazoo.retry import KazooRetry
    logging.getLogger("kazoo").setLevel(logging.CRITICAL)
    lead = ens.wait_stable(120)
    survivors = [m for m in ens if m.sid != lead]
    zk = KazooClient(hosts=ens.hosts([m.sid for m in survivors]), timeout=30.0,
                     connection_retry=KazooRetry(max_tries=-1, delay=0.01, max_delay=0.05),
                     command_retry=KazooRetry(max_tries=-1, delay=0.01, max_delay=0.05))
    zk.start(timeout=30)
    zk.ensure_path("/bench-failover")
    log_len = {m.sid: len(m.log_text()) for m in survivors}
    first_write: list[float] = []

    def writer(t_kill_box: list[float]) -> None:
        while not t_kill_box:
            time.sleep(POLL)
        zk.retry(zk.set, "/bench-failover", b"x")
        first_write.append(time.monotonic())

    box: list[float] = []
    th = threading.Thread(target=writer, args=(box,), daemon=True)
    th.start()
    t0 = time.monotonic()
    ens.kill(lead)
    box.append(t0)
    detect = serving = None
    deadline = t0 + 120
    while time.monotonic() < deadline and serving is None:
        modes = [m.srvr(timeout=0.5).get("mode") for m in survivors]
        now = time.monotonic()
        if detect is None and any(md not in ("follower", "leader") for md in modes):
            detect = now - t0
        if detect is not None and "leader" in modes and all(
                md in ("leader", "follower") for md in modes):
            serving = now - t0
        time.sleep(POLL)
    th.join(timeout=120)
    zk.stop()
    zk.close()
    elect = None
    for m in survivors:
        tail = m.log_text()[log_len[m.sid]:]
        found = re.findall(r"LEADER ELECTION TOOK - (\d+)", tail, re.I) or re.findall(
            r"election (?:took|finished in) (\d+(?:\.\d+)?) ?ms", tail, re.I)
        if found:
            elect = max(elect or 0.0, float(found[-1]) / 1000)
    res = {"detect_s": detect, "serving_s": serving,
           "write_s": (first_write[0] - t0) if first_write else None, "elect_logged_s": elect}
    ens.start_member(lead)
    ens.wait_stable(120)
    return res


def median_of(runs: list[dict], key: str) -> float | None:
    vals = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def throughput_phase(args, menagerie: Path, enss: dict, report: dict) -> None:
    """Closed-loop runs (round 0 a warm-up), each ensemble alone, alternating who goes first;
    then setData at the same offered load."""
    kinds = list(enss)
    runs = {k: {w: [] for w in WORKLOADS} for k in kinds}
    for r in range(args.repeat + 1):
        for w in WORKLOADS:
            for k in (kinds if r % 2 == 0 else kinds[::-1]):
                res = alone(enss, k, lambda e: bench_spread(
                    menagerie, e, w, 2.0 if r == 0 else args.duration, args.sessions,
                    args.outstanding))
                if r:
                    runs[k][w].append(res)
                    print(f"  ensemble run {r}/{args.repeat} {w:<7} {k:<9} "
                          f"{res['ops_per_sec']:>9.0f} ops/s  p99 {res['p99_us']} us",
                          file=sys.stderr)
    for w in WORKLOADS:
        report["workloads"][w] = {k: {key: statistics.median(x[key] for x in runs[k][w])
                                      for key in ("ops_per_sec", "p50_us", "p99_us",
                                                  "p999_us", "errors")} for k in kinds}
    rate = 0.7 * min(report["workloads"]["set"][k]["ops_per_sec"] for k in kinds)
    same = {k: alone(enss, k, lambda e: bench_spread(menagerie, e, "set", args.duration,
                                                     args.sessions, args.outstanding, rate))
            for k in kinds}
    report["same_load"] = {"workload": "set", "rate": rate, **same}


def failover_phase(args, enss: dict, report: dict) -> None:
    for k in enss:
        kills = []
        for i in range(args.kills):
            kills.append(alone(enss, k, measure_kill))
            print(f"  leader kill {i + 1}/{args.kills} {k}: {kills[-1]}", file=sys.stderr)
        report["failover"][k] = {key: median_of(kills, key) for key in
                                 ("detect_s", "serving_s", "write_s", "elect_logged_s")}
        report["failover"][k]["rounds"] = kills


def alone(enss: dict, kind: str, fn):
    """fn(ensemble of `kind`) while every other ensemble is paused."""
    for k, e in enss.items():
        pause(e, k != kind)
    # a paused ensemble may hold an election when it wakes up: measure once it is stable
    enss[kind].wait_stable(120)
    try:
        return fn(enss[kind])
    finally:
        pause(enss[kind], True)


def run(args, menagerie: Path) -> dict:
    install_signal_handlers()
    kinds = list(KINDS)
    why = menagerie_ensemble_problem()
    report: dict = {"mode": "ensemble", "workloads": {}, "failover": {}, "skipped": {}}
    if why:
        print(f"Menagerie ensemble skipped: {why}", file=sys.stderr)
        report["skipped"]["menagerie"] = why
        kinds = ["java"]
    os.makedirs(args.workdir, exist_ok=True)
    enss: dict = {}
    try:
        for k in kinds:
            enss[k] = start_ensemble(k, args.workdir, args.java_heap)
            pause(enss[k], True)
        throughput_phase(args, menagerie, enss, report)
        failover_phase(args, enss, report)
    finally:
        for e in enss.values():
            pause(e, False)
            e.close()
    return report


def rows(report: dict) -> list[list[str]]:
    out = []

    def cell(d: dict | None, key: str, fmt: str) -> str:
        return fmt.format(d[key]) if d and d.get(key) is not None else "-"

    def ratio(j, m, invert=False) -> str:
        if j is None or m is None or not j or not m:
            return "-"
        return f"{(j / m if invert else m / j):.2f}x"

    for w, r in report["workloads"].items():
        j, m = r.get("java"), r.get("menagerie")
        out.append([f"{w} 100 B, 3 members (ops/s)", cell(j, "ops_per_sec", "{:.0f}"),
                    cell(m, "ops_per_sec", "{:.0f}"),
                    ratio(j and j["ops_per_sec"], m and m["ops_per_sec"]),
                    cell(j, "p99_us", "{}"), cell(m, "p99_us", "{}")])
    s = report.get("same_load")
    if s:
        j, m = s.get("java"), s.get("menagerie")
        out.append([f"set at {s['rate']:.0f}/s offered: p99 us", cell(j, "p99_us", "{}"),
                    cell(m, "p99_us", "{}"),
                    ratio(j and j["p99_us"], m and m["p99_us"], invert=True) + " lower", "", ""])
    for key, label in (("detect_s", "leader kill -9: detect s"),
                       ("serving_s", "leader kill -9: serving again s"),
                       ("write_s", "leader kill -9: first write s"),
                       ("elect_logged_s", "election (logged) s")):
        j, m = report["failover"].get("java"), report["failover"].get("menagerie")
        out.append([label, cell(j, key, "{:.2f}"), cell(m, key, "{:.2f}"),
                    ratio(j and j.get(key), m and m.get(key), invert=True) + " less", "", ""])
    return out
