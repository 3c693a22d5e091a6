"""Three-member ensembles for `bench_vs_java.py --ensemble`: Java 3.8 (QuorumPeerMain) or
Menagerie, on 127.0.0.1 with their own ports and data directories, and the leader-failover
measurement (kill -9 of the leader under a writer, timed by phase).

Phases of a failover, timed from outside and from the members' own logs:
* detect: from the kill until a surviving member stops serving (it saw the leader go);
* elect: the new leader's "LEADER ELECTION TOOK - N MS" line (both implementations log it);
* sync: the rest of the time until a survivor serves again as leader or follower;
* first write: from the kill until a create through a surviving member succeeds.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

HOST = "127.0.0.1"
JAVA_JARS = [f"/usr/share/java/{j}.jar" for j in
             ("zookeeper", "zookeeper-jute", "slf4j-api", "slf4j-log4j12", "log4j-1.2")]
ELECTION_TOOK = re.compile(r"(LEADING|FOLLOWING) - LEADER ELECTION TOOK - (\d+) MS")


def free_ports(n: int) -> list[int]:
    import socket
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind((HOST, 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def four_letter(port: int, word: str, timeout: float = 1.0) -> str:
    import socket
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


def mode(port: int) -> str | None:
    """`leader`, `follower` or `observer` while the member serves, else None."""
    for line in four_letter(port, "srvr").splitlines():
        if line.startswith("Mode:"):
            m = line.split(":", 1)[1].strip()
            return m if m in ("leader", "follower", "observer") else None
    return None


class Member:
    """One member process on a data directory that outlives restarts."""

    def __init__(self, ensemble: "Ensemble", sid: int):
        self.ensemble, self.sid = ensemble, sid
        self.dir = os.path.join(ensemble.dir, f"m{sid}")
        self.port = ensemble.client_ports[sid - 1]
        self.proc: subprocess.Popen | None = None
        os.makedirs(os.path.join(self.dir, "data"), exist_ok=True)
        Path(self.dir, "data", "myid").write_text(f"{sid}\n")
        cfg = ["tickTime=2000", "initLimit=10", "syncLimit=5", f"dataDir={self.dir}/data",
               f"clientPort={self.port}", f"clientPortAddress={HOST}", "maxClientCnxns=0",
               "admin.enableServer=false", "4lw.commands.whitelist=*"]
        for n, (q, e) in enumerate(ensemble.peer_ports, start=1):
            cfg.append(f"server.{n}={HOST}:{q}:{e}")
        self.cfg = os.path.join(self.dir, "zoo.cfg")
        Path(self.cfg).write_text("\n".join(cfg) + "\n")
        self.log = os.path.join(self.dir, "server.log")

    def command(self) -> list[str]:
        if self.ensemble.kind == "menagerie":
            return [str(self.ensemble.menagerie), "server", "--config", self.cfg]
        log4j = os.path.join(self.dir, "log4j.properties")
        Path(log4j).write_text(
            "log4j.rootLogger=WARN, F\nlog4j.logger.org.apache.zookeeper.server.quorum=INFO\n"
            "log4j.appender.F=org.apache.log4j.FileAppender\n"
            f"log4j.appender.F.File={self.log}\n"
            "log4j.appender.F.layout=org.apache.log4j.PatternLayout\n"
            "log4j.appender.F.layout.ConversionPattern=%d %-5p %c{1}: %m%n\n")
        heap = [f"-Xmx{self.ensemble.java_heap}"] if self.ensemble.java_heap else []
        return ["java", *heap, f"-Dlog4j.configuration=file:{log4j}",
                "-Dzookeeper.4lw.commands.whitelist=*", "-Djava.net.preferIPv4Stack=true",
                "-cp", ":".join(JAVA_JARS), "org.apache.zookeeper.server.quorum.QuorumPeerMain",
                self.cfg]

    def start(self) -> None:
        env = dict(os.environ, RUST_LOG="info")
        out = open(self.log if self.ensemble.kind == "menagerie" else
                   os.path.join(self.dir, "stdout.log"), "ab")
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT, env=env, start_new_session=True)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            assert self.proc is not None
            os.killpg(self.proc.pid, sig)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        if self.proc:
            self.proc.wait()
        self.proc = None

    def stop(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.signal(signal.SIGCONT)
            self.signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None

    def rss_mb(self) -> float:
        if not self.alive():
            return float("nan")
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def election_ms(self, since: int) -> int | None:
        """The last election duration this member logged after byte offset `since`."""
        try:
            text = Path(self.log).read_bytes()[since:].decode(errors="replace")
        except OSError:
            return None
        found = ELECTION_TOOK.findall(text)
        return int(found[-1][1]) if found else None

    def log_size(self) -> int:
        try:
            return os.path.getsize(self.log)
        except OSError:
            return 0


class Ensemble:
    """Three members of one kind, the interface `bench_vs_java.Server` has."""

    def __init__(self, kind: str, workdir: str, menagerie: Path, java_heap: str | None,
                 size: int = 3):
        self.kind, self.menagerie, self.java_heap = kind, menagerie, java_heap
        self.dir = tempfile.mkdtemp(prefix=f"bench-ensemble-{kind}-", dir=workdir)
        ports = free_ports(3 * size)
        self.client_ports = ports[:size]
        self.peer_ports = list(zip(ports[size:2 * size], ports[2 * size:]))
        self.members = [Member(self, sid) for sid in range(1, size + 1)]

    @property
    def target(self) -> str:
        return ",".join(f"{HOST}:{m.port}" for m in self.members)

    def start(self, expect_nodes: int = 0, timeout: float = 120.0) -> float:
        """Starts every member; seconds until all serve with exactly one leader."""
        t0 = time.monotonic()
        for m in self.members:
            if not m.alive():
                m.start()
        while time.monotonic() - t0 < timeout:
            modes = [mode(m.port) for m in self.members]
            if all(modes) and modes.count("leader") == 1:
                return time.monotonic() - t0
            for m in self.members:
                if m.proc is not None and m.proc.poll() is not None:
                    raise RuntimeError(f"{self.kind} member {m.sid} exited; see {m.log}")
            time.sleep(0.05)
        raise RuntimeError(f"{self.kind} ensemble not formed within {timeout} s ({self.dir})")

    def leader(self) -> Member | None:
        for m in self.members:
            if m.alive() and mode(m.port) == "leader":
                return m
        return None

    def pause(self, paused: bool) -> None:
        for m in self.members:
            m.signal(signal.SIGSTOP if paused else signal.SIGCONT)

    def rss_mb(self) -> float:
        return max(m.rss_mb() for m in self.members)

    def stop(self) -> None:
        for m in self.members:
            m.stop()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def failover(self, timeout: float = 60.0) -> dict:
        """Kills the leader (-9) while a writer waits; times each phase; restarts it."""
        import threading

        from kazoo.client import KazooClient  # the compatibility suite installs kazoo

        old = self.leader()
        if old is None:
            raise RuntimeError(f"{self.kind}: no leader to kill")
        survivors = [m for m in self.members if m is not old]
        offsets = {m.sid: m.log_size() for m in survivors}
        client = KazooClient(hosts=",".join(f"{HOST}:{m.port}" for m in survivors),
                             timeout=30.0)
        client.start(timeout=15)
        client.ensure_path("/failover")
        seen: dict = {}
        done = threading.Event()

        def watch_modes() -> None:
            deadline = time.monotonic() + timeout
            while not done.is_set() and time.monotonic() < deadline:
                modes = [mode(m.port) for m in survivors]
                now = time.monotonic()
                if "detect" not in seen and not all(modes):
                    seen["detect"] = now
                if "detect" in seen and "serving" not in seen and "leader" in modes:
                    seen["serving"] = now
                time.sleep(0.005)

        poller = threading.Thread(target=watch_modes, daemon=True)
        t_kill = time.monotonic()
        old.kill()
        poller.start()
        t_write = None
        try:
            while time.monotonic() - t_kill < timeout:
                try:
                    client.create("/failover/w-", b"x", sequence=True)
                    t_write = time.monotonic()
                    break
                except Exception:  # connection loss while the ensemble re-forms
                    time.sleep(0.005)
        finally:
            done.set()
            poller.join()
            client.stop()
            client.close()
        if t_write is None:
            raise RuntimeError(f"{self.kind}: no write served within {timeout} s of the kill")
        elections = [m.election_ms(offsets[m.sid]) for m in survivors]
        elect_ms = max((e for e in elections if e is not None), default=None)
        detect_ms = (seen["detect"] - t_kill) * 1000 if "detect" in seen else 0.0
        serving_ms = (seen.get("serving", t_write) - t_kill) * 1000
        old.start()
        self.start()
        return {"detect_ms": detect_ms, "elect_ms": elect_ms,
                "sync_ms": max(serving_ms - detect_ms - (elect_ms or 0), 0.0),
                "serving_ms": serving_ms, "first_write_ms": (t_write - t_kill) * 1000}
