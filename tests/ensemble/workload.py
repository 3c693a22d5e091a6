"""A recorded write workload for ensemble tests: kazoo clients (threads) and, optionally, Java
client processes (``javaclient/EnsembleWriter.java``), spread over the members.

Every client works in its own namespace ``/ens/<cid>`` and loops over three kinds of write
plus a read:

* ``create``: ``/ens/<cid>/n<k>`` (k = 0, 1, ...) with data ``<cid>:<k>``, through create2 so
  the reply carries the czxid;
* ``set``: compare-and-set of ``/ens/<cid>/counter`` (``setData`` with the version the client
  last saw), data = the new version number;
* ``seq``: a sequential create ``/ens/seq/<cid>-`` with data ``<cid>:<k>:<attempt>``;
* ``get``: a read of the counter, whose version must never be below the last acknowledged set
  (a session never reads behind its own writes).

Each attempt is recorded as a dict (``cid op key path value attempt t0 t1 outcome err zxid
version``); ``outcome`` is ``ok``, ``error`` (the server answered with an error code) or
``unknown`` (connection loss, session expiry or a timeout: the write may or may not have been
applied). After an ``unknown`` the client retries the same logical operation, the way an
application would: a plain create again (``NodeExists`` with our own data = it had been
applied), a set after re-reading the counter (already at our version = applied), a sequential
create as a new attempt (its data names the attempt). The last attempt of every logical
operation carries ``final: True`` and ``status``: ``ok``, ``failed`` (an error no retry
explains) or ``abandoned`` (the retry deadline passed).
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from kazoo.client import KazooClient
from kazoo.exceptions import (BadVersionError, ConnectionLoss, NodeExistsError, NoNodeError,
                              OperationTimeoutError, SessionExpiredError, ZookeeperError)
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.retry import KazooRetry

HERE = Path(__file__).resolve().parent
ROOT_PATH = "/ens"  # default root; each Workload may have its own (one per test phase)
UNKNOWN_ERRORS = (ConnectionLoss, SessionExpiredError, OperationTimeoutError, KazooTimeoutError)
RETRY_DEADLINE = 60.0  # seconds a logical operation is retried before it is abandoned
OP_TIMEOUT = 15.0  # seconds one attempt may take before it counts as unknown
JAVA_CP = "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-nop.jar"

log = logging.getLogger("workload")


def now() -> float:
    return time.time()


def make_client(hosts: str, timeout: float = 10.0, randomize: bool = False) -> KazooClient:
    """A kazoo client that keeps reconnecting (bounded delay) and never retries commands
    itself: the caller decides what a failed command means."""
    return KazooClient(
        hosts=hosts, timeout=timeout, randomize_hosts=randomize,
        connection_retry=KazooRetry(max_tries=-1, delay=0.1, max_delay=1.0),
        command_retry=None,
    )


class KazooWriter(threading.Thread):
    """One kazoo session writing in /ens/<cid> until stopped; see the module doc."""

    def __init__(self, cid: str, hosts: str, stop: threading.Event, rate: float,
                 mix: tuple[str, ...], session_timeout: float, root: str = ROOT_PATH):
        super().__init__(name=f"writer-{cid}", daemon=True)
        self.cid = cid
        self.root = root
        self.hosts = hosts
        self.stop_ev = stop
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.mix = mix
        self.session_timeout = session_timeout
        self.records: list[dict] = []
        self.k = 0
        self.seq_k = 0
        self.set_k = 0
        self.counter_version = 0  # version of /ens/<cid>/counter as last acknowledged
        self.zk: KazooClient | None = None
        self.fatal: str | None = None
        self.aborted = threading.Event()  # set by Workload.abort: no more retries

    # -- recording
    def _rec(self, op: str, key: int, path: str, value: str, attempt: int, t0: float,
             outcome: str, err: str = "", zxid: int | None = None,
             version: int | None = None, final: bool = False, status: str = "") -> dict:
        r = {"cid": self.cid, "op": op, "key": key, "path": path, "value": value,
             "attempt": attempt, "t0": t0, "t1": now(), "outcome": outcome, "err": err,
             "zxid": zxid, "version": version}
        if final:
            r["final"] = True
            r["status"] = status
        self.records.append(r)
        return r

    def _call(self, fn, *args, **kwargs):
        """Runs one client call; returns (outcome, value or exception name)."""
        try:
            res = fn(*args, **kwargs).get(timeout=OP_TIMEOUT)
            return "ok", res
        except UNKNOWN_ERRORS as e:
            return "unknown", e
        except ZookeeperError as e:
            return "error", e

    # -- operations
    def do_create(self) -> None:
        k = self.k
        self.k += 1
        path = f"{self.root}/{self.cid}/n{k:08d}"
        value = f"{self.cid}:{k}"
        start = now()
        for attempt in range(1, 1000):
            t0 = now()
            outcome, res = self._call(self.zk.create_async, path, value.encode(),
                                      include_data=True)
            if outcome == "ok":
                self._rec("create", k, path, value, attempt, t0, "ok", zxid=res[1].czxid,
                          final=True, status="ok")
                return
            if outcome == "error" and isinstance(res, NodeExistsError) and attempt > 1:
                # An earlier attempt of ours landed: confirm by its data.
                o2, got = self._call(self.zk.get_async, path)
                if o2 == "ok" and got[0] == value.encode():
                    self._rec("create", k, path, value, attempt, t0, "ok", err="confirmed",
                              zxid=got[1].czxid, final=True, status="ok")
                    return
            if outcome == "error":
                self._rec("create", k, path, value, attempt, t0, "error", type(res).__name__,
                          final=True, status="failed")
                return
            if not self._may_retry(start):
                self._rec("create", k, path, value, attempt, t0, "unknown",
                          type(res).__name__, final=True, status="abandoned")
                return
            self._rec("create", k, path, value, attempt, t0, "unknown", type(res).__name__)
            self._backoff()

    def do_seq(self) -> None:
        k = self.seq_k
        self.seq_k += 1
        start = now()
        for attempt in range(1, 1000):
            value = f"{self.cid}:{k}:{attempt}"
            t0 = now()
            outcome, res = self._call(self.zk.create_async, f"{self.root}/seq/{self.cid}-",
                                      value.encode(), sequence=True, include_data=True)
            if outcome == "ok":
                self._rec("seq", k, res[0], value, attempt, t0, "ok", zxid=res[1].czxid,
                          final=True, status="ok")
                return
            if outcome == "error":
                self._rec("seq", k, "", value, attempt, t0, "error", type(res).__name__,
                          final=True, status="failed")
                return
            if not self._may_retry(start):
                self._rec("seq", k, "", value, attempt, t0, "unknown", type(res).__name__,
                          final=True, status="abandoned")
                return
            self._rec("seq", k, "", value, attempt, t0, "unknown", type(res).__name__)
            self._backoff()

    def do_set(self) -> None:
        k = self.set_k
        self.set_k += 1
        path = f"{self.root}/{self.cid}/counter"
        start = now()
        for attempt in range(1, 1000):
            v = self.counter_version
            value = str(v + 1)
            t0 = now()
            outcome, res = self._call(self.zk.set_async, path, value.encode(), version=v)
            if outcome == "ok":
                self.counter_version = res.version
                self._rec("set", k, path, value, attempt, t0, "ok", zxid=res.mzxid,
                          version=res.version, final=True, status="ok")
                return
            if outcome == "error" and isinstance(res, BadVersionError) and attempt > 1:
                o2, got = self._call(self.zk.get_async, path)
                if o2 == "ok" and got[1].version == v + 1 and got[0] == value.encode():
                    self.counter_version = v + 1
                    self._rec("set", k, path, value, attempt, t0, "ok", err="confirmed",
                              zxid=got[1].mzxid, version=v + 1, final=True, status="ok")
                    return
            if outcome == "error":
                self._rec("set", k, path, value, attempt, t0, "error", type(res).__name__,
                          final=True, status="failed")
                return
            if not self._may_retry(start):
                self._rec("set", k, path, value, attempt, t0, "unknown", type(res).__name__,
                          final=True, status="abandoned")
                return
            self._rec("set", k, path, value, attempt, t0, "unknown", type(res).__name__)
            self._backoff()

    def do_get(self) -> None:
        path = f"{self.root}/{self.cid}/counter"
        t0 = now()
        outcome, res = self._call(self.zk.get_async, path)
        if outcome == "ok":
            self._rec("get", 0, path, res[0].decode(), 1, t0, "ok", zxid=res[1].mzxid,
                      version=res[1].version, final=True, status="ok")
            # The floor for later reads is what this session has seen.
        else:
            # A read is not retried: nothing to confirm. Reads that fail are not failures of
            # the service for the migration check unless they are errors.
            self._rec("get", 0, path, "", 1, t0, outcome, type(res).__name__, final=True,
                      status="failed" if outcome == "error" else "abandoned-read")

    def _may_retry(self, start: float) -> bool:
        return now() - start < RETRY_DEADLINE and not self.aborted.is_set()

    def _backoff(self) -> None:
        time.sleep(0.05 + random.random() * 0.1)

    # -- thread
    def setup(self) -> None:
        """This client's directory and counter, retried after a connection loss as an
        application would (a lost connection here is not an acknowledged write)."""
        counter = f"{self.root}/{self.cid}/counter"
        for attempt in range(20):
            try:
                self.zk.ensure_path(f"{self.root}/{self.cid}")
                if not self.zk.exists(counter):
                    self.zk.create(counter, b"0")
                return
            except NodeExistsError:
                return  # an earlier attempt's create went through
            except UNKNOWN_ERRORS:
                if attempt == 19 or self.stop_ev.wait(0.2):
                    raise

    def run(self) -> None:
        logging.getLogger("kazoo").setLevel(logging.CRITICAL)
        try:
            self.zk = make_client(self.hosts, timeout=self.session_timeout)
            self.zk.start(timeout=30)
            self.setup()
            self.counter_version = 0
            ops = {"create": self.do_create, "seq": self.do_seq, "set": self.do_set,
                   "get": self.do_get}
            i = 0
            while not self.stop_ev.is_set():
                t = now()
                ops[self.mix[i % len(self.mix)]]()
                i += 1
                if self.interval:
                    left = self.interval - (now() - t)
                    if left > 0:
                        self.stop_ev.wait(left)
        except Exception as e:  # noqa: BLE001 - reported as a workload failure
            self.fatal = f"{type(e).__name__}: {e}"
        finally:
            if self.zk is not None:
                try:
                    self.zk.stop()
                    self.zk.close()
                except Exception:  # noqa: BLE001
                    pass


# ---------------------------------------------------------------------------------------------
# Java client writers


def java_writer_classes() -> str:
    """Compiles javaclient/EnsembleWriter.java once per source version; returns the class dir."""
    src = HERE / "javaclient" / "EnsembleWriter.java"
    import hashlib
    h = hashlib.sha1(src.read_bytes()).hexdigest()[:12]
    d = os.path.join(tempfile.gettempdir(), f"menagerie-ensemble-javaclient-{h}")
    if os.path.exists(os.path.join(d, "EnsembleWriter.class")):
        return d
    javac = shutil.which("javac")
    if not javac:
        raise RuntimeError("javac not found: install a JDK (default-jdk-headless)")
    tmp = tempfile.mkdtemp(prefix="menagerie-ensemble-javac-")
    p = subprocess.run([javac, "-nowarn", "-cp", "/usr/share/java/zookeeper.jar", "-d", tmp,
                        str(src)], capture_output=True, text=True, timeout=180)
    if p.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise RuntimeError(f"javac failed:\n{p.stdout}\n{p.stderr}")
    try:
        os.rename(tmp, d)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
    return d


class JavaWriter:
    """One Java client process (EnsembleWriter) writing plain creates in /ens/<cid>."""

    def __init__(self, cid: str, hosts: str, workdir: str, rate: float, session_timeout: float,
                 root: str):
        self.cid = cid
        self.out = os.path.join(workdir, f"{root.strip('/')}-{cid}.jsonl")
        self.stopfile = self.out + ".stop"
        self.errlog = os.path.join(workdir, f"{cid}.log")
        classes = java_writer_classes()
        cmd = ["java", "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
               "-cp", f"{JAVA_CP}:{classes}", "EnsembleWriter", hosts, root, cid, self.out,
               self.stopfile, str(rate), str(int(session_timeout * 1000)),
               str(int(RETRY_DEADLINE * 1000))]
        from ensemble import _reaper  # the same reaper as the members
        with open(self.errlog, "wb") as err:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=err,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        _reaper.tell(f"+{self.proc.pid}")
        self.fatal: str | None = None
        self.records: list[dict] = []

    def stop(self, timeout: float) -> None:
        from ensemble import _reaper
        Path(self.stopfile).write_text("stop\n")
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, 9)
            self.proc.wait(timeout=10)
            self.fatal = f"Java writer {self.cid} did not stop within {timeout:.0f} s"
        _reaper.tell(f"-{self.proc.pid}")
        if self.proc.returncode not in (0, None) and not self.fatal:
            self.fatal = (f"Java writer {self.cid} exited {self.proc.returncode}: "
                          + Path(self.errlog).read_text(errors="replace")[-2000:])
        try:
            with open(self.out) as f:
                self.records = [json.loads(line) for line in f if line.strip()]
        except OSError as e:
            self.fatal = self.fatal or f"no records from Java writer {self.cid}: {e}"


# ---------------------------------------------------------------------------------------------
# the workload


_active: list["Workload"] = []


def abort_all() -> None:
    """Stops every workload still running (a scenario failed midway): writer threads are told
    to stop, Java writers are killed. Nothing is checked."""
    for wl in list(_active):
        wl.abort()


class Workload:
    """Writers spread over the members: `per_member` kazoo clients whose first host is each
    member in turn (the rest of the members follow, for failover), plus `java` Java-client
    processes. `rate` is per client, operations per second (0 = as fast as possible)."""

    def __init__(self, ens, per_member: int = 1, java: int = 0, rate: float = 40.0,
                 mix: tuple[str, ...] = ("create", "set", "create", "get", "seq"),
                 session_timeout: float = 10.0, members: list[int] | None = None,
                 root: str = ROOT_PATH):
        self.ens = ens
        self.root = root
        self.stop_ev = threading.Event()
        self.kazoo: list[KazooWriter] = []
        self.java: list[JavaWriter] = []
        self.t_start = self.t_stop = 0.0
        sids = members or [m.sid for m in ens]
        self._setup(ens.hosts(sids), root)
        n = 0
        for _ in range(per_member):
            for j in range(len(sids)):
                order = sids[j:] + sids[:j]
                self.kazoo.append(KazooWriter(f"k{n}", ens.hosts(order), self.stop_ev, rate,
                                              mix, session_timeout, root))
                n += 1
        self._java_spec = []
        for i in range(java):
            j = (i + 1) % len(sids)
            self._java_spec.append((f"j{i}", ens.hosts(sids[j:] + sids[:j])))
        self.rate = rate
        self.session_timeout = session_timeout

    @staticmethod
    def _setup(hosts: str, root: str) -> None:
        zk = make_client(hosts, randomize=True)
        zk.start(timeout=30)
        try:
            for p in (root, f"{root}/seq"):
                zk.retry(zk.ensure_path, p)
        finally:
            zk.stop()
            zk.close()

    def start(self) -> "Workload":
        _active.append(self)
        self.t_start = now()
        for w in self.kazoo:
            w.start()
        for cid, hosts in self._java_spec:
            self.java.append(JavaWriter(cid, hosts, self.ens.workdir, self.rate,
                                        self.session_timeout, self.root))
        return self

    def acked(self) -> int:
        """Writes acknowledged so far (for progress output and 'writes served again')."""
        return sum(1 for w in self.kazoo for r in list(w.records)
                   if r.get("final") and r["status"] == "ok" and r["op"] != "get")

    def last_ack_time(self) -> float:
        t = 0.0
        for w in self.kazoo:
            for r in reversed(list(w.records)):
                if r["outcome"] == "ok" and r["op"] != "get":
                    t = max(t, r["t1"])
                    break
        return t

    def wait_progress(self, n: int = 20, timeout: float = 60.0) -> float:
        """Waits until `n` more writes were acknowledged; returns the seconds it took."""
        t0 = now()
        base = self.acked()
        while now() - t0 < timeout:
            if self.acked() >= base + n:
                return now() - t0
            time.sleep(0.05)
        raise TimeoutError(f"fewer than {n} writes acknowledged within {timeout:.0f} s")

    def abort(self) -> None:
        from ensemble import _reaper
        self.stop_ev.set()
        for w in self.kazoo:
            w.aborted.set()
        for j in self.java:
            if j.proc.poll() is None:
                os.killpg(j.proc.pid, 9)
                j.proc.wait(timeout=10)
            _reaper.tell(f"-{j.proc.pid}")
        for w in self.kazoo:
            w.join(timeout=5)
        if self in _active:
            _active.remove(self)

    def stop(self, timeout: float = RETRY_DEADLINE + 30) -> "History":
        if self in _active:
            _active.remove(self)
        self.stop_ev.set()
        deadline = now() + timeout
        for w in self.kazoo:
            w.join(timeout=max(0.1, deadline - now()))
        for j in self.java:
            j.stop(max(5.0, deadline - now()))
        self.t_stop = now()
        fatal = [f"{w.cid}: {w.fatal}" for w in self.kazoo if w.fatal]
        fatal += [f"{w.cid} still running" for w in self.kazoo if w.is_alive()]
        fatal += [j.fatal for j in self.java if j.fatal]
        records = [r for w in self.kazoo for r in list(w.records)]
        records += [r for j in self.java for r in j.records]
        cids = {w.cid for w in self.kazoo} | {j.cid for j in self.java}
        return History(records, fatal, self.t_start, self.t_stop, self.root, cids)


class History:
    """Every attempt of every client, in the order each client made them."""

    def __init__(self, records: list[dict], fatal: list[str], t_start: float, t_stop: float,
                 root: str = ROOT_PATH, cids: set[str] | None = None):
        self.root = root
        self.cids = cids if cids is not None else {r["cid"] for r in records}
        self.records = records
        self.fatal = fatal
        self.t_start = t_start
        self.t_stop = t_stop

    def finals(self) -> list[dict]:
        return [r for r in self.records if r.get("final")]

    def summary(self) -> str:
        fin = self.finals()
        writes = [r for r in fin if r["op"] != "get"]
        by = {}
        for r in writes:
            by[r["status"]] = by.get(r["status"], 0) + 1
        unknown = sum(1 for r in self.records if r["outcome"] == "unknown")
        errs: dict[str, int] = {}
        for r in writes:
            if r["status"] == "failed":
                errs[r["err"]] = errs.get(r["err"], 0) + 1
        clients = sorted({r["cid"] for r in self.records})
        return (f"{len(clients)} clients, {len(writes)} writes "
                f"({', '.join(f'{k} {v}' for k, v in sorted(by.items()))}"
                + (f"; failed with {', '.join(f'{k} {v}' for k, v in sorted(errs.items()))}"
                   if errs else "") + "), "
                f"{unknown} attempts with unknown outcome (retried), "
                f"{sum(1 for r in fin if r['op'] == 'get')} reads, "
                f"{self.t_stop - self.t_start:.1f} s")

    def dump(self, path: str) -> None:
        with open(path, "w") as f:
            for r in self.records:
                f.write(json.dumps(r) + "\n")


