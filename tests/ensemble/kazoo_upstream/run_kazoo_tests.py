#!/usr/bin/env python3
"""Run kazoo's own upstream test suite against a 3-member ensemble of Menagerie (or, as the
baseline, of Debian's Java ZooKeeper 3.8).

    python3 tests/ensemble/kazoo_upstream/run_kazoo_tests.py                  # CI subset, Menagerie
    python3 tests/ensemble/kazoo_upstream/run_kazoo_tests.py --server java    # same, Java 3.8
    python3 tests/ensemble/kazoo_upstream/run_kazoo_tests.py --server mixed   # Java 1, Menagerie 2, 3
    python3 tests/ensemble/kazoo_upstream/run_kazoo_tests.py --full           # every module
    python3 tests/ensemble/kazoo_upstream/run_kazoo_tests.py -- -k test_create  # pytest args

kazoo's tests start their ZooKeeper ensemble themselves (``kazoo.testing``: one
``java ... QuorumPeerMain zoo.cfg`` per member, ports from ``ZOOKEEPER_PORT_OFFSET``). For
Menagerie, ``launcher/java`` is put first on PATH: it turns exactly those commands into
``menagerie server --config`` (see its doc). The tests come from kazoo's sdist on PyPI, of the
kazoo version installed here (``pip download kazoo==<version> --no-binary :all:``), cached
under ``$XDG_CACHE_HOME/menagerie`` (default ``~/.cache``).

The tests run in a private virtualenv next to the sdist (created on first use, from
``requirements.txt`` plus that kazoo version: pytest, pytest-timeout, pyjks, pyOpenSSL < 24.3,
objgraph), so the system's Python packages are neither needed nor changed. Tests that fail on Java 3.8.0 too, or that need what Menagerie
deliberately lacks, are listed in ``known_failures.txt`` with the reason; they are reported but
do not fail the run. Prints ``TESTRESULT PASS|FAIL|SKIP kazoo-upstream[<server>]`` last.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
ENSEMBLE_DIR = HERE.parent
ROOT = ENSEMBLE_DIR.parent.parent
sys.path.insert(0, str(ENSEMBLE_DIR))

# Modules run in CI: the client API, watches and the recipes most applications use (about 5
# minutes against Java 3.8 on 2 cores, most of it kazoo restarting its cluster for every test
# class). --full adds test_connection.py (65 s on Java), test_partitioner.py (31 s) and the
# modules that need no server or skip without gevent/eventlet.
CI_MODULES = ["test_client.py", "test_watchers.py", "test_lock.py", "test_cache.py",
              "test_election.py", "test_counter.py", "test_barrier.py", "test_queue.py",
              "test_party.py", "test_lease.py"]
JAVA_CP = ":".join(f"/usr/share/java/{j}.jar" for j in
                   ("zookeeper", "zookeeper-jute", "slf4j-api", "slf4j-log4j12", "log4j-1.2",
                    "netty-handler", "netty-transport", "netty-buffer", "netty-common",
                    "netty-codec", "netty-resolver", "netty-transport-native-epoll",
                    "netty-transport-native-unix-common"))
RUN_TIMEOUT = 1800  # seconds for the whole pytest run
STOP_TIMEOUT = 10


def kazoo_version() -> str:
    import kazoo.version
    return kazoo.version.__version__


def sdist_tests(version: str) -> Path:
    """The extracted sdist of kazoo `version` (downloaded once into the cache)."""
    cache = cache_dir()
    src = cache / f"kazoo-{version}"
    if (src / "kazoo" / "tests").is_dir():
        return src
    tgz = cache / f"kazoo-{version}.tar.gz"
    if not tgz.exists():
        subprocess.run([sys.executable, "-m", "pip", "download", f"kazoo=={version}",
                        "--no-binary", ":all:", "--no-deps", "-q", "-d", str(cache)],
                       check=True, timeout=300)
    with tarfile.open(tgz) as t:
        t.extractall(cache, filter="data")
    return src


def ensure_venv(version: str, cache: Path) -> Path:
    """A virtualenv with kazoo `version` and requirements.txt; returns its python."""
    venv = cache / f"kazoo-{version}-venv"
    py = venv / "bin" / "python"
    stamp = venv / ".menagerie-requirements"
    want = (HERE / "requirements.txt").read_text() + f"kazoo=={version}\n"
    if py.exists() and stamp.exists() and stamp.read_text() == want:
        return py
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True,
                   timeout=300)
    reqs = [ln.split("#")[0].strip() for ln in want.splitlines()]
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    *[r for r in reqs if r]], check=True, timeout=900)
    stamp.write_text(want)
    return py


def cache_dir() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "menagerie"
    cache.mkdir(parents=True, exist_ok=True)
    return cache


def free_offset() -> int:
    """A ZOOKEEPER_PORT_OFFSET whose 30 ports (3 members x 10) are all free now."""
    for _ in range(50):
        base = random.randrange(21000, 39000, 10)
        socks = []
        try:
            for p in range(base, base + 30):
                s = socket.socket()
                s.bind(("127.0.0.1", p))
                socks.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port range for kazoo's cluster")


def known_failures() -> dict[str, str]:
    out = {}
    for line in (HERE / "known_failures.txt").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            test, _, why = line.partition(" ")
            out[test] = why.strip()
    return out


def results(junit: Path) -> tuple[dict[str, str], dict[str, float]]:
    """(test id (module::Class::test) -> passed|failed|skipped, module -> seconds)."""
    out: dict[str, str] = {}
    secs: dict[str, float] = {}
    if not junit.exists():
        return out, secs
    for case in ET.parse(junit).getroot().iter("testcase"):
        mod = case.get("classname", "").rsplit(".", 1)
        module = f"{mod[0].split('.')[-1]}.py"
        secs[module] = secs.get(module, 0.0) + float(case.get("time") or 0)
        name = f"{module}::{mod[-1]}::{case.get('name')}"
        if case.find("failure") is not None or case.find("error") is not None:
            out[name] = "failed"
        elif case.find("skipped") is not None:
            out[name] = "skipped"
        else:
            out[name] = "passed"
    return out, secs


def run_pytest(server: str, py: Path, src: Path, modules: list[str], extra: list[str],
               workdir: Path, version_env: str) -> tuple[int, Path]:
    env = dict(os.environ)
    # the venv first on PATH: the launcher's python3 needs pyjks
    env["PATH"] = f"{py.parent}{os.pathsep}{env['PATH']}"
    env.pop("PYTHONPATH", None)
    env.update({
        "ZOOKEEPER_PORT_OFFSET": str(free_offset()),
        "ZOOKEEPER_CLUSTER_SIZE": "3",
        "ZOOKEEPER_VERSION": version_env,
        "ZOOKEEPER_CLASSPATH": JAVA_CP,
        "KAZOO_LAUNCHER_PIDFILE": str(workdir / "pids"),
        "TMPDIR": str(workdir),  # kazoo's member directories (mkdtemp) land here
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    if server in ("menagerie", "mixed"):
        import zkserver
        env["MENAGERIE_BIN"] = str(zkserver.menagerie_bin())
        env["PATH"] = f"{HERE / 'launcher'}{os.pathsep}{env['PATH']}"
        if server == "mixed":  # member 1 stays Java: two Menagerie members and one Java
            env["KAZOO_LAUNCHER_JAVA_SIDS"] = "1"
    junit = workdir / "junit.xml"
    cmd = [str(py), "-m", "pytest", "-p", "no:cacheprovider", "-o", "log_cli=false",
           "-q", "-rfE", "--color=no", "-p", "no:warnings", f"--junitxml={junit}", "--timeout=120",
           *[f"kazoo/tests/{m}" for m in modules], *extra]
    # SIGTERM/SIGINT of this runner (e.g. a CI timeout) must not leave pytest and its members
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda signum, _f: (_ for _ in ()).throw(SystemExit(128 + signum)))
    log = Path(os.environ.get("KAZOO_UPSTREAM_LOG")
               or Path(tempfile.gettempdir()) / f"kazoo-upstream-{server}.log")
    print(f"$ (cd {src} && {' '.join(cmd)}) > {log} 2>&1", flush=True)
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=src, env=env, start_new_session=True,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        rc = 124
        try:
            rc = proc.wait(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            print(f"kazoo's tests did not finish within {RUN_TIMEOUT} s", flush=True)
        finally:
            stop_leftovers(proc, workdir / "pids")
    lines = log.read_text(errors="replace").splitlines()
    shown = [ln for ln in lines if ln.startswith(("FAILED ", "ERROR "))]
    shown += [ln for ln in lines if ln.startswith("=") and " in " in ln][-1:]
    print("\n".join(shown))
    print(f"(pytest's whole output: {log})")
    return rc, junit


def stop_leftovers(proc: subprocess.Popen, pidfile: Path) -> None:
    """pytest and the members kazoo started run in pytest's process group: end it; then any
    member pid the launcher recorded that is somehow still there."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
    if proc.poll() is None:
        proc.wait(timeout=STOP_TIMEOUT)
    pids = pidfile.read_text().split() if pidfile.exists() else []
    for pid in pids:
        try:
            if os.getpgid(int(pid)) == proc.pid:  # still ours
                os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass


def report(server: str, res: dict[str, str], rc: int) -> bool:
    known = known_failures()
    failed = sorted(t for t, v in res.items() if v == "failed")
    unexpected = [t for t in failed if t not in known]
    expected = [t for t in failed if t in known]
    # the list is about Menagerie members; a mixed ensemble's Java member serves what it lacks
    fixed = sorted(t for t in known if res.get(t) == "passed") if server == "menagerie" else []
    counts = {v: sum(1 for x in res.values() if x == v) for v in ("passed", "failed", "skipped")}
    print(f"\nkazoo upstream tests against {server}: {counts['passed']} passed, "
          f"{counts['failed']} failed ({len(expected)} known), {counts['skipped']} skipped")
    for t in expected:
        print(f"  known failure: {t}  -- {known[t]}")
    for t in fixed:
        print(f"  now passes (remove from known_failures.txt?): {t}")
    for t in unexpected:
        print(f"  FAILED: {t}")
    ok = bool(res) and not unexpected and rc in (0, 1)
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server", choices=["menagerie", "java", "mixed"], default="menagerie",
                    help="mixed: members 2 and 3 Menagerie, member 1 Java 3.8")
    ap.add_argument("--full", action="store_true", help="every module (default: CI subset)")
    ap.add_argument("--modules", help="comma-separated module files (test_client.py,...)")
    ap.add_argument("--force", action="store_true",
                    help="run even if Menagerie cannot form an ensemble (to test the launcher)")
    ap.add_argument("pytest_args", nargs="*")
    args = ap.parse_args()
    name = f"kazoo-upstream[{args.server}]"
    from registry import check_kind_available, menagerie_ensemble_problem
    kinds = {"mixed": ["java", "menagerie"]}.get(args.server, [args.server])
    why = next((w for w in map(check_kind_available, kinds) if w), None) or (
        menagerie_ensemble_problem() if "menagerie" in kinds and not args.force
        else None)
    if why:
        print(f"skipped: {why}\nTESTRESULT SKIP {name}")
        return 0
    version = kazoo_version()
    try:
        py = ensure_venv(version, cache_dir())
        src = sdist_tests(version)
    except (subprocess.SubprocessError, OSError) as e:
        print(f"cannot prepare kazoo {version}'s tests: {e}\nTESTRESULT FAIL {name}")
        return 1
    if args.modules:
        modules = args.modules.split(",")
    elif args.full:
        modules = sorted(p.name for p in (src / "kazoo" / "tests").glob("test_*.py"))
    else:
        modules = CI_MODULES
    # what kazoo's tests assume of the server (CI_ZK_VERSION): the older member's version
    version_env = "3.9.3" if args.server == "menagerie" else "3.8.0"
    t = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="kazoo-upstream-") as wd:
        rc, junit = run_pytest(args.server, py, src, modules, args.pytest_args, Path(wd),
                               version_env)
        res, secs = results(junit)
    print("seconds per module: " + ", ".join(f"{m} {t:.0f}" for m, t in
                                              sorted(secs.items(), key=lambda x: -x[1])))
    ok = report(args.server, res, rc)
    print(f"({time.monotonic() - t:.0f} s)")
    print(f"TESTRESULT {'PASS' if ok else 'FAIL'} {name}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
