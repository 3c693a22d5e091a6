"""Run a ZooKeeper ensemble of real processes on 127.0.0.1: Java ZooKeeper 3.8 members, Menagerie
members, or a mix of both, with identical zoo.cfg files.

    from ensemble import Ensemble
    with Ensemble({1: "java", 2: "java", 3: "menagerie"}) as ens:
        ens.start()
        leader = ens.wait_stable()
        print(ens.report())
        ens.kill(leader)                      # kill -9
        ens.start_member(leader, "menagerie") # same dataDir, other kind (rolling migration)

Every member gets a directory ``<workdir>/m<sid>`` with ``zoo.cfg``, ``data/myid`` and
``server.log`` (stdout and stderr of every run of that member, each run preceded by a
``=== harness:`` line). The zoo.cfg text is identical on every member apart from ``dataDir``
and ``clientPort`` (spec 09 section 13.2): ``server.N=127.0.0.1:quorum:election`` lines
without client parts, small ``tickTime``/``initLimit``/``syncLimit``, every four-letter word,
no AdminServer, no connection limit.

Processes: each member runs in its own session (process group = its pid). Everything started
here is stopped by ``Ensemble.close()`` (the context manager), at interpreter exit, on
SIGTERM/SIGINT/SIGHUP, and, should this Python process itself be killed, by a small reaper
child that holds a pipe to us and kills the remaining members' process groups when the pipe
closes. Nothing else is ever signalled. Every wait is bounded.

Java members: ``java -cp zookeeper.jar:slf4j-simple.jar ... QuorumPeerMain zoo.cfg`` (spec 09
section 13.3). Menagerie members: ``$MENAGERIE_BIN server --config zoo.cfg``.
``ENSEMBLE_LOG=debug`` turns on the quorum debug logs of both kinds
(``org.apache.zookeeper.server.quorum=debug``, ``RUST_LOG=menagerie=debug``).
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "compat"))

import zkserver  # noqa: E402  (tests/compat: menagerie_bin, four_letter helpers)

HOST = "127.0.0.1"
JAVA_CP = "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar"
# JVM options for test members: small heap, quick start (spec 09 section 13.3). Benchmarks
# pass their own (the JVM's defaults, as Debian's zkServer.sh runs it).
TEST_JVM_OPTS = ("-Xms32m", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")
KINDS = ("java", "menagerie")
SERVING_MODES = ("leader", "follower", "observer")
STOP_TIMEOUT = 8.0  # seconds for SIGTERM before SIGKILL
START_TIMEOUT = 60.0


class EnsembleError(RuntimeError):
    """The ensemble did not reach the state a test waited for (the message says which)."""


# ---------------------------------------------------------------------------------------------
# process bookkeeping: every pid we started, killed even if this process dies


class _Reaper:
    """A child process that kills the process groups we tell it about once our pipe closes.

    It covers the one case atexit cannot: this Python process being killed with SIGKILL (for
    example by a CI timeout). Lines on its stdin: ``+PID`` (started) and ``-PID`` (reaped);
    ``M+PATH``/``M-PATH`` a mount (unmounted, lazily, after the kills) and ``N+NAME``/``N-NAME``
    a network namespace (deleted last; see netns.py).
    """

    CODE = (
        "import os,signal,subprocess,sys\n"
        "pids=set();mounts=set();nets=set()\n"
        "for line in sys.stdin:\n"
        "    line=line.strip()\n"
        "    if line[:1]=='+': pids.add(int(line[1:]))\n"
        "    elif line[:1]=='-': pids.discard(int(line[1:]))\n"
        "    elif line[:2]=='M+': mounts.add(line[2:])\n"
        "    elif line[:2]=='M-': mounts.discard(line[2:])\n"
        "    elif line[:2]=='N+': nets.add(line[2:])\n"
        "    elif line[:2]=='N-': nets.discard(line[2:])\n"
        "for p in pids:\n"
        "    for s in (signal.SIGCONT, signal.SIGKILL):\n"
        "        try: os.killpg(p, s)\n"
        "        except OSError: pass\n"
        "for c in [['umount','-l',m] for m in mounts]+[['ip','netns','del',n] for n in nets]:\n"
        "    try: subprocess.run(c,stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL,"
        "timeout=10)\n"
        "    except Exception: pass\n"
        "for m in mounts:\n"
        "    try: os.rmdir(m)\n"
        "    except OSError: pass\n"
    )

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None

    def _ensure(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", self.CODE], stdin=subprocess.PIPE, text=True,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            )

    def tell(self, line: str) -> None:
        try:
            self._ensure()
            assert self.proc is not None and self.proc.stdin is not None
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except (OSError, ValueError):
            pass

    def close(self) -> None:
        if self.proc is not None and self.proc.stdin is not None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass


_reaper = _Reaper()
_open_ensembles: list["Ensemble"] = []


def _close_all() -> None:
    for e in list(_open_ensembles):
        try:
            e.close()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass
    _reaper.close()


atexit.register(_close_all)


def _on_signal(signum, _frame):
    _close_all()
    raise SystemExit(128 + signum)


def install_signal_handlers() -> None:
    """SIGTERM/SIGINT/SIGHUP -> clean exit that stops every member (main thread only)."""
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        try:
            signal.signal(sig, _on_signal)
        except (ValueError, OSError):
            pass


# ---------------------------------------------------------------------------------------------
# small helpers


def free_ports(n: int) -> list[int]:
    """n distinct free TCP ports on 127.0.0.1 (all held open until all are chosen)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def four_letter(port: int, word: str, timeout: float = 2.0, host: str = HOST) -> str:
    """The whole answer to a four-letter word ('' when the member does not answer)."""
    if host == HOST:
        return zkserver.four_letter(port, word, timeout=timeout)
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(word.encode())
            chunks = []
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                b = s.recv(65536)
                if not b:
                    break
                chunks.append(b)
            return b"".join(chunks).decode(errors="replace")
    except OSError:
        return ""


def parse_srvr(text: str) -> dict:
    """`srvr` answer -> {'mode': ..., 'zxid': int, 'nodes': int, 'version': ...} (may be empty)."""
    out: dict = {}
    for line in text.splitlines():
        key, _, val = line.partition(":")
        val = val.strip()
        if key == "Mode":
            out["mode"] = val
        elif key == "Zxid":
            try:
                out["zxid"] = int(val, 16)
            except ValueError:
                pass
        elif key == "Node count":
            out["nodes"] = int(val) if val.isdigit() else val
        elif key == "Zookeeper version":
            out["version"] = val
    if "not currently serving" in text:
        out["mode"] = "not serving"
    return out


def parse_mntr(text: str) -> dict:
    out = {}
    for line in text.splitlines():
        if "\t" in line:
            k, v = line.split("\t", 1)
            out[k] = v.strip()
    return out


def parse_hash(text: str) -> dict[int, int]:
    """`hash` answer (``<zxid hex>: <digest>`` lines) -> {zxid: digest}."""
    out = {}
    for line in text.splitlines():
        z, sep, d = line.partition(":")
        if not sep:
            continue
        try:
            out[int(z.strip(), 16)] = int(d.strip())
        except ValueError:
            continue
    return out


def check_kind_available(kind: str) -> str | None:
    """None if members of this kind can be started, else why not."""
    if kind == "java":
        if shutil.which("java") is None:
            return "java not found on PATH (apt install default-jre-headless)"
        for jar in JAVA_CP.split(":"):
            if not os.path.exists(jar):
                return f"{jar} not found (apt install zookeeper libslf4j-java)"
        return None
    return zkserver.check_available(kind)


def debug_logs() -> bool:
    return os.environ.get("ENSEMBLE_LOG", "").lower() == "debug"


# ---------------------------------------------------------------------------------------------
# members


class Member:
    """One server of the ensemble: a fixed sid, ports and dataDir; its kind may change."""

    def __init__(self, ens: "Ensemble", sid: int, kind: str, ports: tuple[int, int, int],
                 observer: bool = False):
        self.ens = ens
        self.sid = sid
        self.kind = kind
        self.client_port, self.quorum_port, self.election_port = ports
        self.observer = observer
        # its address: 127.0.0.1, or its own in a network namespace (netns.NetLab)
        self.host = ens.net.host(sid) if ens.net is not None else HOST
        self.dir = os.path.join(ens.workdir, f"m{sid}")
        self.data_dir = os.path.join(self.dir, "data")
        self.cfg_path = os.path.join(self.dir, "zoo.cfg")
        self.log_path = os.path.join(self.dir, "server.log")
        self.proc: subprocess.Popen | None = None
        self.paused = False
        self.stopped = False  # stopped or killed on purpose (not a crash)
        self.ever_paused = False  # SIGSTOPped at some point (its timeouts fired on resume)
        self.ever_disk_full = False  # its log's disk filled up (it rightly acked nothing)
        self.extra_env: dict[str, str] = {}  # e.g. libfaketime's (scenarios_clock.py)
        self.history: list[tuple[float, str]] = []  # (start time, kind) of every run
        self.runs = 0
        os.makedirs(self.data_dir, exist_ok=True)
        Path(self.data_dir, "myid").write_text(f"{sid}\n")

    # -- identity
    @property
    def hostport(self) -> str:
        return f"{self.host}:{self.client_port}"

    @property
    def name(self) -> str:
        return f"{self.kind}#{self.sid}"

    def __repr__(self) -> str:
        pid = self.proc.pid if self.proc else None
        return f"<member {self.name} client={self.client_port} pid={pid}>"

    # -- process control
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def command(self) -> list[str]:
        prefix = self.ens.net.exec_prefix(self.sid) if self.ens.net is not None else []
        return prefix + self._program()

    def _program(self) -> list[str]:
        if self.kind == "java":
            quorum_level = "debug" if debug_logs() else "info"
            return [
                "java", *self.ens.jvm_opts,
                "-Djava.net.preferIPv4Stack=true",
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
                "-Dorg.slf4j.simpleLogger.showDateTime=true",
                "-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS",
                f"-Dorg.slf4j.simpleLogger.log.org.apache.zookeeper.server.quorum={quorum_level}",
                f"-Dzookeeper.log.dir={self.dir}",
                *self.ens.java_props_for(self),
                "-cp", JAVA_CP,
                "org.apache.zookeeper.server.quorum.QuorumPeerMain", self.cfg_path,
            ]
        return [str(zkserver.menagerie_bin()), "server", "--config", self.cfg_path]

    def env(self) -> dict:
        env = dict(os.environ)
        if self.kind == "menagerie":
            env["RUST_LOG"] = "info,menagerie=debug" if debug_logs() else env.get(
                "ENSEMBLE_RUST_LOG", self.ens.rust_log)
            env.pop("SERVER_JVMFLAGS", None)
            env.pop("JVMFLAGS", None)
        env.update(self.extra_env)
        return env

    def start(self, kind: str | None = None) -> None:
        """Start the process (optionally as another kind, on the same dataDir)."""
        if self.alive():
            raise EnsembleError(f"{self.name} is already running")
        if kind is not None:
            if kind not in KINDS:
                raise ValueError(f"unknown kind {kind!r}")
            self.kind = kind
        why = check_kind_available(self.kind)
        if why:
            raise EnsembleError(why)
        self.runs += 1
        self.history.append((time.time(), self.kind))
        with open(self.log_path, "ab") as out:
            out.write(f"=== harness: run {self.runs} as {self.kind} at {time.strftime('%H:%M:%S')}"
                      f" ({time.time():.3f})\n".encode())
            out.flush()
            self.proc = subprocess.Popen(
                self.command(), cwd=self.dir, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True, env=self.env(),
            )
        self.paused = False
        self.stopped = False
        _reaper.tell(f"+{self.proc.pid}")

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    def _reap(self, timeout: float) -> bool:
        assert self.proc is not None
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        _reaper.tell(f"-{self.proc.pid}")
        return True

    def kill(self) -> None:
        """kill -9 (a crash): the process group gets SIGKILL; waits until it is gone."""
        if self.proc is None:
            return
        self.stopped = True
        self.signal(signal.SIGKILL)
        if not self._reap(STOP_TIMEOUT):
            raise EnsembleError(f"{self.name} (pid {self.proc.pid}) survived SIGKILL")
        self.paused = False

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Orderly stop (SIGTERM), SIGKILL after `timeout` seconds."""
        if self.proc is None:
            return
        self.stopped = True
        if self.paused:
            self.signal(signal.SIGCONT)
            self.paused = False
        self.signal(signal.SIGTERM)
        if not self._reap(timeout):
            self.kill()

    def pause(self) -> None:
        """SIGSTOP: the process is frozen, its sockets stay open."""
        self.signal(signal.SIGSTOP)
        self.paused = True
        self.ever_paused = True

    def resume(self) -> None:
        self.signal(signal.SIGCONT)
        self.paused = False

    # -- observation
    def srvr(self, timeout: float = 2.0) -> dict:
        if not self.alive() or self.paused:
            return {}
        return parse_srvr(four_letter(self.client_port, "srvr", timeout, self.host))

    def mntr(self, timeout: float = 2.0) -> dict:
        if not self.alive() or self.paused:
            return {}
        return parse_mntr(four_letter(self.client_port, "mntr", timeout, self.host))

    def hash(self, timeout: float = 3.0) -> dict[int, int]:
        if not self.alive() or self.paused:
            return {}
        return parse_hash(four_letter(self.client_port, "hash", timeout, self.host))

    def mode(self) -> str | None:
        return self.srvr().get("mode")

    def wait_listening(self, port: int, timeout: float = 30.0) -> None:
        """Waits until the member accepts TCP connections on `port` (e.g. its election port)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise EnsembleError(f"{self.name} exited while starting\n{self.log_tail(20)}")
            try:
                with socket.create_connection((self.host, port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise EnsembleError(f"{self.name} does not listen on port {port} after {timeout:.0f} s")

    def log_tail(self, n: int = 60) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def log_text(self) -> str:
        try:
            return Path(self.log_path).read_text(errors="replace")
        except OSError:
            return ""

    def kind_at(self, t: float) -> str | None:
        """The kind this member ran as at time `t` (None before its first start)."""
        kind = None
        for start, k in self.history:
            if start <= t:
                kind = k
        return kind

    def epochs(self) -> tuple[str | None, str | None]:
        """(acceptedEpoch, currentEpoch) file contents, None when absent."""
        out = []
        for name in ("acceptedEpoch", "currentEpoch"):
            try:
                out.append(Path(self.data_dir, "version-2", name).read_text().strip())
            except OSError:
                out.append(None)
        return out[0], out[1]


# ---------------------------------------------------------------------------------------------
# the ensemble


class Ensemble:
    """N members on 127.0.0.1 with identical configuration; see the module doc."""

    def __init__(self, kinds: dict[int, str] | list[str], observers: tuple[int, ...] = (),
                 tick: int = 500, init_limit: int = 20, sync_limit: int = 10,
                 extra_cfg: dict | None = None, java_props: dict | None = None,
                 name: str = "ensemble", keep: bool | None = None, workdir: str | None = None,
                 jvm_opts: tuple[str, ...] = TEST_JVM_OPTS, net=None):
        if isinstance(kinds, list):
            kinds = {i + 1: k for i, k in enumerate(kinds)}
        self.name = name
        self.tick = tick
        self.init_limit = init_limit
        self.sync_limit = sync_limit
        self.extra_cfg = dict(extra_cfg or {})
        self.java_props = dict(java_props or {})
        self.jvm_opts = tuple(jvm_opts)
        self.rust_log = "info"
        self.net = net  # netns.NetLab: members in network namespaces of their own
        self.member_cfg: dict[int, dict] = {}
        self.keep = bool(os.environ.get("ENSEMBLE_KEEP")) if keep is None else keep
        self.failed = False
        base = workdir or os.environ.get("ENSEMBLE_WORKDIR") or None
        self.workdir = tempfile.mkdtemp(prefix=f"ens-{name}-", dir=base)
        ports = free_ports(3 * len(kinds))
        self.members: dict[int, Member] = {}
        for i, (sid, kind) in enumerate(sorted(kinds.items())):
            self.members[sid] = Member(self, sid, kind, tuple(ports[3 * i:3 * i + 3]),
                                       observer=sid in observers)
        for m in self.members.values():
            self._write_cfg(m)
        self._closed = False
        _open_ensembles.append(self)

    # -- configuration
    def server_lines(self) -> list[str]:
        return [f"server.{m.sid}={m.host}:{m.quorum_port}:{m.election_port}"
                + (":observer" if m.observer else "") for m in self.members.values()]

    def _write_cfg(self, m: Member) -> None:
        lines = [
            f"tickTime={self.tick}",
            f"initLimit={self.init_limit}",
            f"syncLimit={self.sync_limit}",
            f"dataDir={m.data_dir}",
            f"clientPort={m.client_port}",
            f"clientPortAddress={m.host}",
            "4lw.commands.whitelist=*",
            "admin.enableServer=false",
            "maxClientCnxns=0",
        ]
        if m.observer:
            lines.append("peerType=observer")
        lines += [f"{k}={v}" for k, v in self.extra_cfg.items()]
        lines += [f"{k}={v}" for k, v in self.member_cfg.get(m.sid, {}).items()]
        lines += self.server_lines()
        Path(m.cfg_path).write_text("\n".join(lines) + "\n")

    def set_member_cfg(self, sid: int, key: str, value) -> None:
        """One member's own zoo.cfg line (e.g. its dataLogDir); rewrites its zoo.cfg."""
        self.member_cfg.setdefault(sid, {})[key] = value
        self._write_cfg(self.members[sid])

    def java_props_for(self, m: Member) -> list[str]:
        return [f"-D{k}={v}" for k, v in self.java_props.items()]

    # -- members
    def __getitem__(self, sid: int) -> Member:
        return self.members[sid]

    def __iter__(self):
        return iter(self.members.values())

    def live(self) -> list[Member]:
        """Members whose process runs and is not paused."""
        return [m for m in self if m.alive() and not m.paused]

    def hosts(self, sids: list[int] | None = None) -> str:
        """A connect string (`host:port,...`), in the given order."""
        sids = list(self.members) if sids is None else sids
        return ",".join(self.members[s].hostport for s in sids)

    def start(self, order: list[int] | None = None, gap: float = 0.0) -> None:
        """Start members in `order` (default: all by sid), `gap` seconds apart."""
        for i, sid in enumerate(order or list(self.members)):
            if i and gap:
                time.sleep(gap)
            self.members[sid].start()

    def start_member(self, sid: int, kind: str | None = None) -> None:
        self.members[sid].start(kind)

    def kill(self, sid: int) -> None:
        self.members[sid].kill()

    def stop_member(self, sid: int) -> None:
        self.members[sid].stop()

    def restart(self, sid: int, kind: str | None = None, sig: int = signal.SIGTERM) -> None:
        """Stop (SIGTERM by default, SIGKILL for a crash) and start again on the same dataDir,
        as `kind` if given (a rolling migration step)."""
        m = self.members[sid]
        if sig == signal.SIGKILL:
            m.kill()
        else:
            m.stop()
        m.start(kind)

    # -- observation
    def states(self) -> dict[int, dict]:
        """srvr of every member ({} for a member that is down, paused or silent)."""
        return {m.sid: m.srvr() for m in self}

    def leader(self) -> int | None:
        leaders = [sid for sid, s in self.states().items() if s.get("mode") == "leader"]
        return leaders[0] if len(leaders) == 1 else None

    def followers(self) -> list[int]:
        return [sid for sid, s in self.states().items() if s.get("mode") == "follower"]

    def wait_stable(self, timeout: float = START_TIMEOUT, expect: list[int] | None = None) -> int:
        """Waits until every live member (or every member of `expect`) answers srvr with a
        serving mode, there is exactly one leader and, where the leader reports
        zk_synced_followers, all followers are synced. Returns the leader's sid."""
        deadline = time.monotonic() + timeout
        last = {}
        while time.monotonic() < deadline:
            dead = [m.name for m in self
                    if m.proc is not None and m.proc.poll() is not None and not m.stopped]
            if dead:
                raise EnsembleError(f"member(s) exited: {', '.join(dead)}\n{self.report()}")
            want = [self.members[s] for s in expect] if expect else self.live()
            last = {m.sid: m.srvr(timeout=1.5) for m in want}
            modes = {sid: s.get("mode") for sid, s in last.items()}
            leaders = [sid for sid, md in modes.items() if md == "leader"]
            if want and all(md in SERVING_MODES for md in modes.values()) and len(leaders) == 1:
                nfollow = sum(1 for md in modes.values() if md == "follower")
                synced = self.members[leaders[0]].mntr().get("zk_synced_followers")
                if synced is None or int(synced) >= nfollow:
                    return leaders[0]
            time.sleep(0.2)
        raise EnsembleError(f"ensemble not stable within {timeout:.0f} s: modes "
                            f"{ {sid: s.get('mode') for sid, s in last.items()} }\n{self.report()}")

    def wait_leader(self, sid: int, timeout: float = START_TIMEOUT) -> None:
        """Waits until the ensemble is stable with `sid` as its leader."""
        deadline = time.monotonic() + timeout
        while True:
            lead = self.wait_stable(max(1.0, deadline - time.monotonic()))
            if lead == sid:
                return
            if time.monotonic() >= deadline:
                raise EnsembleError(f"leader is {lead}, expected {sid}\n{self.report()}")
            time.sleep(0.3)

    def wait_zxids_equal(self, timeout: float = 20.0) -> int:
        """Waits until every live member reports the same zxid; returns it."""
        deadline = time.monotonic() + timeout
        zx = {}
        while time.monotonic() < deadline:
            zx = {m.sid: m.srvr().get("zxid") for m in self.live()}
            vals = set(zx.values())
            if len(vals) == 1 and None not in vals:
                return vals.pop()
            time.sleep(0.2)
        raise EnsembleError(f"zxids differ after {timeout:.0f} s: "
                            f"{ {s: hex(z) if z is not None else None for s, z in zx.items()} }")

    def report(self) -> str:
        """One line per member: kind, sid, pid, mode, zxid, epochs, key mntr values."""
        lines = []
        for m in self:
            if m.proc is None:
                st = "never started"
            elif not m.alive():
                st = f"exited ({m.proc.returncode})"
            elif m.paused:
                st = "paused (SIGSTOP)"
            else:
                s = m.srvr()
                mn = m.mntr()
                z = s.get("zxid")
                st = (f"mode={s.get('mode', '?')} zxid={hex(z) if z is not None else '?'} "
                      f"nodes={s.get('nodes', '?')} "
                      f"state={mn.get('zk_server_state', '?')} "
                      f"synced_followers={mn.get('zk_synced_followers', '-')} "
                      f"digest_mismatches={mn.get('zk_digest_mismatches_count', '-')}")
            acc, cur = m.epochs()
            pid = m.proc.pid if m.proc else "-"
            lines.append(f"  {m.name:<12} client={m.client_port} pid={pid} {st} "
                         f"acceptedEpoch={acc} currentEpoch={cur}")
        return "\n".join(lines)

    def logs_excerpt(self, n: int = 40) -> str:
        out = []
        for m in self:
            out.append(f"--- {m.name} {m.log_path} (last {n} lines) ---\n{m.log_tail(n)}")
        return "\n".join(out)

    # -- teardown
    def close(self) -> None:
        """Stops every member (SIGCONT+SIGTERM, SIGKILL after a bound); removes the work
        directory unless the ensemble failed or ENSEMBLE_KEEP is set."""
        if self._closed:
            return
        self._closed = True
        for m in self:
            if m.proc is not None and m.proc.poll() is None:
                m.signal(signal.SIGCONT)
                m.signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for m in self:
            if m.proc is None:
                continue
            if not m._reap(max(0.1, deadline - time.monotonic())):
                m.signal(signal.SIGKILL)
                m._reap(STOP_TIMEOUT)
        if self in _open_ensembles:
            _open_ensembles.remove(self)
        if self.failed or self.keep:
            print(f"(member directories and logs kept in {self.workdir})", flush=True)
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> "Ensemble":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.failed = True
        self.close()
