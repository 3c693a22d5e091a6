"""Start and stop the servers the compatibility suite talks to.

Two kinds of server, both standalone on 127.0.0.1 with a free port and a fresh temporary
data directory:

* ``java``: the real Apache ZooKeeper 3.8 from Debian's ``zookeeper`` package, run directly with
  ``java -cp <Debian jars> org.apache.zookeeper.server.ZooKeeperServerMain <tmp>/zoo.cfg``
  (TTL nodes enabled with ``-Dzookeeper.extendedTypesEnabled=true``, all four-letter words
  whitelisted, log4j at INFO into ``<tmp>/server.log``).
* ``menagerie``: the binary named by ``$MENAGERIE_BIN`` (default ``target/release/menagerie``
  under the repository root), run as ``menagerie server --config <tmp>/zoo.cfg``.

Every process started here is started in its own process group and is killed (SIGTERM, then
SIGKILL) by ``Server.stop()``, by the context manager, and at interpreter exit. Nothing else is
ever signalled.

Usage as a library::

    from zkserver import start_server
    with start_server("java") as srv:
        print(srv.hostport)

Usage from the shell (prints ``host:port`` and waits until Ctrl-C)::

    python3 tests/compat/zkserver.py java
    python3 tests/compat/zkserver.py menagerie
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

HOST = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MENAGERIE_BIN = REPO_ROOT / "target" / "release" / "menagerie"

# Debian's zookeeper.jar carries a Class-Path manifest naming its dependencies in
# /usr/share/java; we only add an SLF4J binding (log4j 1.2) so the server log is readable.
JAVA_JARS = [
    "/usr/share/java/zookeeper.jar",
    "/usr/share/java/zookeeper-jute.jar",
    "/usr/share/java/slf4j-api.jar",
    "/usr/share/java/slf4j-log4j12.jar",
    "/usr/share/java/log4j-1.2.jar",
    # Not in the manifest, but the Netty connection factory (TLS, tls_test.py) needs it.
    "/usr/share/java/netty-codec.jar",
]
SERVLET_JAR = "/usr/share/java/servlet-api.jar"
ZKCLI = "/usr/share/zookeeper/bin/zkCli.sh"
CLI_MT = "/usr/lib/zookeeper/bin/cli_mt"

START_TIMEOUT = 30.0  # seconds until a server must accept and answer
STOP_TIMEOUT = 10.0

_started: list["Server"] = []


class ServerUnavailable(RuntimeError):
    """The requested server cannot be started (missing binary, package, ...)."""


def menagerie_bin() -> Path:
    env = os.environ.get("MENAGERIE_BIN")
    if env:
        p = Path(env)
        if not p.is_absolute():
            p = REPO_ROOT / p
        return p
    return DEFAULT_MENAGERIE_BIN


def check_available(kind: str) -> str | None:
    """Return None if a server of this kind can be started, else a human readable reason."""
    if kind == "java":
        if shutil.which("java") is None:
            return "java not found on PATH (install default-jre-headless)"
        missing = [j for j in JAVA_JARS[:1] if not os.path.exists(j)]
        if missing:
            return f"{missing[0]} not found (install the Debian package 'zookeeper')"
        return None
    if kind == "menagerie":
        b = menagerie_bin()
        if not b.exists():
            return (
                f"Menagerie binary {b} does not exist: build it with "
                "'cargo build --release --bin menagerie' or set MENAGERIE_BIN"
            )
        if not os.access(b, os.X_OK):
            return f"Menagerie binary {b} is not executable"
        return None
    return f"unknown server kind {kind!r} (expected 'java' or 'menagerie')"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def four_letter(port: int, cmd: str, timeout: float = 2.0) -> str:
    """Send a four-letter word and return the whole answer ('' on any failure)."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(cmd.encode())
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


class Server:
    def __init__(self, kind: str, port: int, tmpdir: str, proc: subprocess.Popen, log_path: str):
        self.kind = kind
        self.host = HOST
        self.port = port
        self.tmpdir = tmpdir
        self.proc = proc
        self.log_path = log_path
        self._stopped = False

    @property
    def hostport(self) -> str:
        return f"{self.host}:{self.port}"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, n: int = 40) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def stop(self, keep_tmp: bool = False) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self.proc.poll() is None:
            try:
                # The process was started with start_new_session=True: its pid is its own
                # process group id, so this reaches only what we started.
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=STOP_TIMEOUT)
        if self in _started:
            _started.remove(self)
        if not keep_tmp and not os.environ.get("COMPAT_KEEP_TMP"):
            shutil.rmtree(self.tmpdir, ignore_errors=True)

    def restart(self, sig: int = signal.SIGTERM, timeout: float = START_TIMEOUT) -> None:
        """Stop the process with `sig` (SIGTERM: orderly, SIGKILL: crash), keep the data
        directory and port, start the same command again and wait until it serves."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=STOP_TIMEOUT)
        deadline = time.monotonic() + timeout
        while True:  # the port may linger for a moment
            with open(self.out_path, "ab") as out:
                self.proc = subprocess.Popen(
                    self.cmd, cwd=self.tmpdir, stdin=subprocess.DEVNULL, stdout=out,
                    stderr=subprocess.STDOUT, start_new_session=True, env=self.env,
                )
            try:
                _wait_ready(self, max(1.0, deadline - time.monotonic()))
                return
            except ServerUnavailable:
                if self.proc.poll() is None or time.monotonic() >= deadline:
                    raise
                time.sleep(0.5)

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<{self.kind} server {self.hostport} pid={self.proc.pid}>"


def _stop_all() -> None:
    for s in list(_started):
        try:
            s.stop()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


atexit.register(_stop_all)


def _on_signal(signum, _frame):
    _stop_all()
    raise SystemExit(128 + signum)


def install_signal_handlers() -> None:
    """Turn SIGTERM/SIGINT/SIGHUP into a clean exit so atexit cleanup runs (main thread only)."""
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        try:
            signal.signal(sig, _on_signal)
        except (ValueError, OSError):
            pass


def _write_zoo_cfg(kind: str, tmpdir: str, port: int, tick: int, extra: dict | None = None,
                   admin_port: int | None = None, cfg_lines: dict | None = None) -> str:
    data_dir = os.path.join(tmpdir, "data")
    os.makedirs(data_dir, exist_ok=True)
    lines = [
        f"tickTime={tick}",
        f"dataDir={data_dir}",
        f"clientPort={port}",
        f"clientPortAddress={HOST}",
    ]
    if admin_port:
        lines += ["admin.enableServer=true", f"admin.serverAddress={HOST}", f"admin.serverPort={admin_port}"]
    else:
        lines += ["admin.enableServer=false"]  # ZooKeeper's default would take port 8080
    if kind != "java":
        # Same switches the Java server gets as -D system properties.
        lines += ["extendedTypesEnabled=true", "4lw.commands.whitelist=*"]
        lines += [f"{k}={v}" for k, v in (extra or {}).items()]
    # zoo.cfg keys for both kinds (e.g. secureClientPort, ssl.*).
    lines += [f"{k}={v}" for k, v in (cfg_lines or {}).items()]
    cfg = os.path.join(tmpdir, "zoo.cfg")
    with open(cfg, "w") as f:
        f.write("\n".join(lines) + "\n")
    return cfg


def _java_command(tmpdir: str, cfg: str, extra: dict | None = None, admin: bool = False) -> list[str]:
    log4j = os.path.join(tmpdir, "log4j.properties")
    with open(log4j, "w") as f:
        f.write(
            "log4j.rootLogger=INFO, F\n"
            "log4j.appender.F=org.apache.log4j.FileAppender\n"
            f"log4j.appender.F.File={os.path.join(tmpdir, 'server.log')}\n"
            "log4j.appender.F.layout=org.apache.log4j.PatternLayout\n"
            "log4j.appender.F.layout.ConversionPattern=%d{ISO8601} %-5p [%t] %c{1}: %m%n\n"
        )
    # The AdminServer (Jetty) also needs the servlet API, which zookeeper.jar's manifest omits.
    jars = JAVA_JARS + ([SERVLET_JAR] if admin else [])
    cp = ":".join(j for j in jars if os.path.exists(j))
    return [
        "java",
        "-Xms64m",
        "-Xmx256m",
        "-XX:+UseSerialGC",
        "-XX:TieredStopAtLevel=1",
        f"-Dlog4j.configuration=file:{log4j}",
        "-Dzookeeper.extendedTypesEnabled=true",
        "-Dzookeeper.4lw.commands.whitelist=*",
        f"-Dzookeeper.admin.enableServer={'true' if admin else 'false'}",
        "-Djava.net.preferIPv4Stack=true",
        # e.g. znode.container.checkIntervalMs: JVM properties, not zoo.cfg keys, for Java
        *[f"-D{k}={v}" for k, v in (extra or {}).items()],
        "-cp",
        cp,
        "org.apache.zookeeper.server.ZooKeeperServerMain",
        cfg,
    ]


def start_server(kind: str, tick: int = 2000, timeout: float = START_TIMEOUT, extra: dict | None = None,
                 admin: bool = False, cfg: dict | None = None) -> Server:
    """Start a fresh standalone server of the given kind and wait until it serves clients.

    `extra` settings go to Java as -D system properties and to Menagerie as zoo.cfg lines
    (e.g. {"znode.container.checkIntervalMs": 1000}, which ZooKeeper reads only as a JVM property).
    With `admin` the AdminServer listens on 127.0.0.1 at a free port (``srv.admin_port``);
    otherwise it is disabled on both kinds.
    `cfg` settings are zoo.cfg lines for both kinds (e.g. {"secureClientPort": 2281}).
    """
    why = check_available(kind)
    if why:
        raise ServerUnavailable(why)
    last_err = None
    for _attempt in range(3):  # the free port may be taken between probe and bind
        port = free_port()
        tmpdir = tempfile.mkdtemp(prefix=f"compat-{kind}-")
        admin_port = free_port() if admin else None
        cfg_path = _write_zoo_cfg(kind, tmpdir, port, tick, extra, admin_port, cfg)
        if kind == "java":
            cmd = _java_command(tmpdir, cfg_path, extra, admin)
            out_path = os.path.join(tmpdir, "stdout.log")
            log_path = os.path.join(tmpdir, "server.log")
        else:
            cmd = [str(menagerie_bin()), "server", "--config", cfg_path]
            out_path = os.path.join(tmpdir, "server.log")
            log_path = out_path
        env = dict(os.environ)
        env.setdefault("RUST_LOG", "info")
        with open(out_path, "wb") as out:
            proc = subprocess.Popen(
                cmd,
                cwd=tmpdir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=env,
            )
        srv = Server(kind, port, tmpdir, proc, log_path)
        srv.cmd, srv.out_path, srv.env = cmd, out_path, env
        srv.admin_port = admin_port
        _started.append(srv)
        try:
            _wait_ready(srv, timeout)
            return srv
        except ServerUnavailable as e:
            last_err = e
            srv.stop(keep_tmp=True)
            tail = srv.log_tail() if os.path.exists(srv.log_path) else ""
            if "Address already in use" in tail or "address in use" in tail.lower():
                shutil.rmtree(tmpdir, ignore_errors=True)
                continue
            raise ServerUnavailable(f"{e}\n--- {srv.log_path} (tail) ---\n{tail}") from None
    raise last_err  # type: ignore[misc]


def _wait_ready(srv: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not srv.alive():
            raise ServerUnavailable(
                f"{srv.kind} server exited with status {srv.proc.returncode} during startup"
            )
        try:
            with socket.create_connection((HOST, srv.port), timeout=1.0):
                pass
        except OSError:
            time.sleep(0.1)
            continue
        # The port accepts. Java binds before its database is loaded and refuses sessions
        # until then; 'srvr' says "not currently serving" in that window.
        ans = four_letter(srv.port, "srvr", timeout=2.0)
        if srv.kind == "java":
            if "Mode:" in ans:
                return
        else:
            if "not currently serving" not in ans:
                return
        time.sleep(0.1)
    raise ServerUnavailable(f"{srv.kind} server did not accept on {srv.hostport} within {timeout:.0f} s")


def main(argv: list[str]) -> int:
    install_signal_handlers()
    if len(argv) != 2 or argv[1] not in ("java", "menagerie"):
        print(f"usage: {argv[0]} java|menagerie", file=sys.stderr)
        return 2
    try:
        srv = start_server(argv[1])
    except ServerUnavailable as e:
        print(f"cannot start {argv[1]}: {e}", file=sys.stderr)
        return 1
    print(srv.hostport, flush=True)
    print(f"(data and log in {srv.tmpdir}; Ctrl-C stops it)", file=sys.stderr, flush=True)
    try:
        while srv.alive():
            time.sleep(0.5)
        print(f"server exited with {srv.proc.returncode}", file=sys.stderr)
        return 1
    finally:
        srv.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
