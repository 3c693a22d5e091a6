#!/usr/bin/env python3
"""Side-by-side benchmark: Apache ZooKeeper 3.8 (Debian's package) vs Menagerie, same machine,
same run, same disk, fsync on for both.

    cargo build --release
    python3 scripts/bench_vs_java.py                       # the whole suite (~15 min)
    python3 scripts/bench_vs_java.py --quick               # shorter runs, 100k znodes
    python3 scripts/bench_vs_java.py --markdown report.md --json report.json
    python3 scripts/bench_vs_java.py --ensemble            # 3 Java members vs 3 Menagerie members

Both servers run standalone with equivalent zoo.cfg (tickTime=2000, forceSync=yes by default,
snapCount default, maxClientCnxns=0, data on the same file system under --workdir). Java runs
as Debian's zkServer.sh runs it (default JVM heap and GC); `--java-heap 1000m` adds -Xmx.
The load generator is `menagerie bench` for both targets. Every workload is run `--repeat`
times against each server, alternating which goes first, after an uncounted warm-up; the
server not being measured is paused (SIGSTOP) so that its background threads do not share the
CPU; the medians are reported with the ratio Menagerie/Java.

Measured:
* closed-loop throughput and latency (16 sessions x 16 outstanding by default) for setData
  100 B, create 1 KiB, create 100 B, getData, exists, getChildren of 1,000, mixed 90 % reads,
  session create+close, ephemeral churn, and watch fan-out to 1,000 watchers (time from the
  setData until the last watcher has its event);
* p99 at the same offered load: setData at 70 % of the slower server's closed-loop rate;
* memory and restart: `--znodes` nodes of 100 B (default 1,000,000) created through the
  wire, RSS of the server process, then stop (SIGTERM) and time from exec until the server
  answers `srvr` with the full node count.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
JAVA_JARS = [f"/usr/share/java/{j}.jar" for j in
             ("zookeeper", "zookeeper-jute", "slf4j-api", "slf4j-log4j12", "log4j-1.2")]
WORKLOADS = ["set", "create1k", "create", "get", "exists", "children", "mixed90", "sessions",
             "ephemeral", "watch1000"]
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def four_letter(port: int, word: str, timeout: float = 2.0) -> str:
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as s:
            s.sendall(word.encode())
            s.shutdown(socket.SHUT_WR)
            out = b""
            while True:
                b = s.recv(65536)
                if not b:
                    break
                out += b
            return out.decode(errors="replace")
    except OSError:
        return ""


def node_count(port: int) -> int | None:
    """The node count `srvr` reports, or None while the server is not serving."""
    for line in four_letter(port, "srvr").splitlines():
        if line.startswith("Node count:"):
            return int(line.split(":")[1])
    return None


class Server:
    """One server process on a data directory that outlives restarts."""

    def __init__(self, kind: str, workdir: str, menagerie: Path, java_heap: str | None):
        self.kind = kind
        self.dir = tempfile.mkdtemp(prefix=f"bench-{kind}-", dir=workdir)
        self.port = free_port()
        self.menagerie = menagerie
        self.java_heap = java_heap
        self.proc: subprocess.Popen | None = None
        cfg = [f"tickTime=2000", f"dataDir={self.dir}/data", f"clientPort={self.port}",
               f"clientPortAddress={HOST}", "maxClientCnxns=0", "admin.enableServer=false",
               "4lw.commands.whitelist=*"]
        self.cfg = os.path.join(self.dir, "zoo.cfg")
        Path(self.cfg).write_text("\n".join(cfg) + "\n")
        os.makedirs(os.path.join(self.dir, "data"), exist_ok=True)

    @property
    def target(self) -> str:
        return f"{HOST}:{self.port}"

    def command(self) -> list[str]:
        if self.kind == "menagerie":
            return [str(self.menagerie), "server", "--config", self.cfg]
        log4j = os.path.join(self.dir, "log4j.properties")
        Path(log4j).write_text(
            "log4j.rootLogger=WARN, F\nlog4j.appender.F=org.apache.log4j.FileAppender\n"
            f"log4j.appender.F.File={self.dir}/server.log\n"
            "log4j.appender.F.layout=org.apache.log4j.PatternLayout\n"
            "log4j.appender.F.layout.ConversionPattern=%d %-5p %c{1}: %m%n\n")
        heap = [f"-Xmx{self.java_heap}"] if self.java_heap else []
        return ["java", *heap, f"-Dlog4j.configuration=file:{log4j}",
                "-Dzookeeper.4lw.commands.whitelist=*", "-Djava.net.preferIPv4Stack=true",
                "-cp", ":".join(JAVA_JARS), "org.apache.zookeeper.server.ZooKeeperServerMain",
                self.cfg]

    def start(self, expect_nodes: int = 0, timeout: float = 600.0) -> float:
        """Starts the process; returns seconds from exec until it serves all nodes."""
        env = dict(os.environ, RUST_LOG="warn")
        out = open(os.path.join(self.dir, "stdout.log"), "ab")
        t0 = time.monotonic()
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT, env=env, start_new_session=True)
        while time.monotonic() - t0 < timeout:
            n = node_count(self.port)
            if n is not None and n >= expect_nodes:
                return time.monotonic() - t0
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited; see {self.dir}/stdout.log")
            time.sleep(0.02)
        raise RuntimeError(f"{self.kind} did not serve within {timeout} s")

    def pause(self, paused: bool) -> None:
        """SIGSTOP/SIGCONT: the server not being measured must not use the CPU meanwhile
        (a JVM's collector and compiler threads keep working after a run)."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGSTOP if paused else signal.SIGCONT)

    def rss_mb(self) -> float:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def bench(menagerie: Path, target: str, workload: str, duration: float, sessions: int,
          outstanding: int, rate: float | None = None) -> dict:
    cmd = [str(menagerie), "bench", "--target", target, "--workloads", workload, "--json",
           "--duration", str(duration), "--sessions", str(sessions), "--outstanding",
           str(outstanding)]
    if rate:
        cmd += ["--rate", f"{rate:.0f}"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration * 4 + 600)
    if out.returncode != 0:
        raise RuntimeError(f"bench {workload} on {target} failed: {out.stderr.strip()}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_alone(servers: dict, kind: str, *args, **kwargs) -> dict:
    """`bench` against one server while every other server is paused."""
    others = [s for k, s in servers.items() if k != kind]
    for s in others:
        s.pause(True)
    try:
        return bench(*args, **kwargs)
    finally:
        for s in others:
            s.pause(False)


def median_result(runs: list[dict]) -> dict:
    return {k: statistics.median(r[k] for r in runs)
            for k in ("ops_per_sec", "p50_us", "p99_us", "p999_us", "max_us", "errors")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--menagerie", default=str(ROOT / "target/release/menagerie"))
    ap.add_argument("--workdir", default=str(ROOT / "target/bench-vs-java"),
                    help="where both data directories live (same disk for both)")
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sessions", type=int, default=16)
    ap.add_argument("--outstanding", type=int, default=16)
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--znodes", type=int, default=1_000_000)
    ap.add_argument("--java-heap", default=None, help="e.g. 1000m (default: the JVM's)")
    ap.add_argument("--quick", action="store_true", help="3 s runs, 1 repeat, 100k znodes")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--markdown", help="write a markdown report here")
    ap.add_argument("--json", help="write all figures as JSON here")
    ap.add_argument("--ensemble", action="store_true",
                    help="3-member ensembles instead of standalone servers")
    ap.add_argument("--kills", type=int, default=3,
                    help="--ensemble: leader kill -9 rounds per ensemble")
    args = ap.parse_args()
    if args.quick:
        args.duration, args.repeat, args.znodes = 3.0, 1, 100_000
    if args.ensemble:
        return ensemble_main(args)
    menagerie = Path(args.menagerie)
    if not menagerie.exists():
        print(f"{menagerie} missing: run `cargo build --release` first", file=sys.stderr)
        return 2
    if not all(os.path.exists(j) for j in JAVA_JARS):
        print("Java ZooKeeper missing: apt install zookeeper", file=sys.stderr)
        return 2
    os.makedirs(args.workdir, exist_ok=True)
    kinds = ["java", "menagerie"]
    workloads = [w for w in args.workloads.split(",") if w]
    report: dict = {"machine": machine(), "settings": vars(args), "workloads": {}}

    servers = {k: Server(k, args.workdir, menagerie, args.java_heap) for k in kinds}
    try:
        for s in servers.values():
            s.start()
        print(f"warming up ({len(workloads)} workloads x 2 servers, 2 s each)", file=sys.stderr)
        for w in workloads:
            for k in kinds:
                bench_alone(servers, k, menagerie, servers[k].target, w, 2.0, args.sessions,
                            args.outstanding)
        runs: dict = {k: {w: [] for w in workloads} for k in kinds}
        for r in range(args.repeat):
            for w in workloads:
                for k in (kinds if r % 2 == 0 else kinds[::-1]):
                    res = bench_alone(servers, k, menagerie, servers[k].target, w, args.duration,
                                      args.sessions, args.outstanding)
                    runs[k][w].append(res)
                    print(f"  run {r + 1}/{args.repeat} {w:<10} {k:<9} "
                          f"{res['ops_per_sec']:>10.0f} ops/s  p99 {res['p99_us']} us",
                          file=sys.stderr)
        for w in workloads:
            report["workloads"][w] = {k: median_result(runs[k][w]) for k in kinds}
        if "set" in workloads:
            slower = min(report["workloads"]["set"][k]["ops_per_sec"] for k in kinds)
            rate = 0.7 * slower
            same: dict = {k: [] for k in kinds}
            for r in range(args.repeat):
                for k in (kinds if r % 2 == 0 else kinds[::-1]):
                    same[k].append(bench_alone(servers, k, menagerie, servers[k].target, "set",
                                               args.duration, args.sessions, args.outstanding,
                                               rate))
            report["same_load"] = {"workload": "set", "rate": rate,
                                   **{k: median_result(same[k]) for k in kinds}}
    finally:
        for s in servers.values():
            s.remove()

    if not args.skip_memory:
        report["memory"] = {}
        for k in kinds:
            s = Server(k, args.workdir, menagerie, args.java_heap)
            try:
                s.start()
                print(f"populating {k} with {args.znodes} znodes", file=sys.stderr)
                t0 = time.monotonic()
                pop = bench(menagerie, s.target, f"populate{args.znodes}", 1.0, args.sessions,
                            args.outstanding)
                populate_s = time.monotonic() - t0
                total = node_count(s.port) or 0
                time.sleep(2)
                rss = s.rss_mb()
                s.stop()
                restart = s.start(expect_nodes=total)
                rss_after = s.rss_mb()
                report["memory"][k] = {"znodes": total, "populate_s": populate_s,
                                       "populate_ops_per_sec": pop["ops_per_sec"],
                                       "rss_mb": rss, "restart_s": restart,
                                       "rss_after_restart_mb": rss_after}
            finally:
                s.remove()

    print_report(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    if args.markdown:
        Path(args.markdown).write_text(markdown(report))
    return 0


def ensemble_main(args) -> int:
    """--ensemble: see scripts/bench_ensemble.py."""
    import bench_ensemble
    menagerie = Path(args.menagerie)
    if not menagerie.exists():
        print(f"{menagerie} missing: run `cargo build --release` first", file=sys.stderr)
        return 2
    if args.quick:
        args.kills = 1
    report = bench_ensemble.run(args, menagerie)
    report["machine"] = machine()
    report["settings"] = vars(args)
    table = [HEADER] + bench_ensemble.rows(report)
    widths = [max(len(r[i]) for r in table) for i in range(len(HEADER))]
    for r in table:
        print("  ".join(c.rjust(widths[i]) if i else c.ljust(widths[i]) for i, c in enumerate(r)))
    for k, why in report["skipped"].items():
        print(f"({k} skipped: {why})")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    if args.markdown:
        m = report["machine"]
        lines = [f"Machine: {m['cpu']}, {m['cores']} cores; {m['java']}. 3-member ensembles, "
                 f"{args.sessions} sessions spread over the members x {args.outstanding} "
                 f"outstanding, {args.duration} s x {args.repeat} runs (medians), fsync on.", "",
                 "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
        lines += ["| " + " | ".join(r) + " |" for r in table[1:]]
        Path(args.markdown).write_text("\n".join(lines) + "\n")
    return 0


def machine() -> dict:
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(mem_kb / 1048576, 1),
            "kernel": os.uname().release, "java": java.splitlines()[0] if java else ""}


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"


def rows(report: dict) -> list[list[str]]:
    out = []
    for w, r in report["workloads"].items():
        j, m = r["java"], r["menagerie"]
        if w.startswith("watch"):
            # Fan-out: the figure is the time until the last watcher is notified (p50).
            out.append([f"{w} (ms to last event, p50)", f"{j['p50_us'] / 1000:.2f}",
                        f"{m['p50_us'] / 1000:.2f}", ratio(j["p50_us"], m["p50_us"]) + " faster",
                        f"{j['p99_us']}", f"{m['p99_us']}"])
        else:
            out.append([f"{w} (ops/s)", f"{j['ops_per_sec']:.0f}", f"{m['ops_per_sec']:.0f}",
                        ratio(m["ops_per_sec"], j["ops_per_sec"]), f"{j['p99_us']}",
                        f"{m['p99_us']}"])
    if "same_load" in report:
        s = report["same_load"]
        j, m = s["java"], s["menagerie"]
        out.append([f"set at {s['rate']:.0f}/s offered: p99 us", f"{j['p99_us']}",
                    f"{m['p99_us']}", ratio(j["p99_us"], m["p99_us"]) + " lower", "", ""])
    for k, label, fmt in (("rss_mb", "RSS MB", "{:.0f}"), ("restart_s", "restart s", "{:.2f}")):
        if "memory" in report and all(x in report["memory"] for x in ("java", "menagerie")):
            j, m = report["memory"]["java"], report["memory"]["menagerie"]
            out.append([f"{label}, {m['znodes']} znodes", fmt.format(j[k]), fmt.format(m[k]),
                        ratio(j[k], m[k]) + " less", "", ""])
    return out


HEADER = ["measure", "Java 3.8", "Menagerie", "ratio", "Java p99 us", "Menagerie p99 us"]


def print_report(report: dict) -> None:
    table = [HEADER] + rows(report)
    widths = [max(len(r[i]) for r in table) for i in range(len(HEADER))]
    for r in table:
        print("  ".join(c.rjust(widths[i]) if i else c.ljust(widths[i]) for i, c in enumerate(r)))


def markdown(report: dict) -> str:
    m = report["machine"]
    s = report["settings"]
    lines = [f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, Linux "
             f"{m['kernel']}; {m['java']}. Load: {s['sessions']} sessions x "
             f"{s['outstanding']} outstanding, {s['duration']} s x {s['repeat']} runs each "
             f"(medians), fsync on.", "",
             "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(r) + " |" for r in rows(report)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
