"""Session-level behaviour seen through kazoo (same record format as scenario_kazoo.py).

    python3 tests/compat/scenario_kazoo_sessions.py --server 127.0.0.1:2181 [--out result.json]

Covers: negotiated session timeouts (clamped to [2, 20] x tickTime; the servers run with
tickTime=2000), session id layout and the deterministic session password
(java.util.Random(sessionId ^ 0xB3415C00)), expiry of the session of a client that was killed
(its ephemeral disappears, watchers are told, parent pzxid/cversion move), reconnect with the
same session after a dropped connection (ephemerals kept), refusal of a client that has
seen a newer zxid than the server, the request size limit (jute.maxbuffer = 1048575 bytes per
frame: larger frames close the connection, kazoo reconnects) and an unknown auth scheme.
(kazoo never sends SetWatches: it drops its watchers on disconnect. scenario_javaclient.py
covers SetWatches/SetWatches2 with the Java client.)

Time-dependent results are recorded as buckets ("in time window") rather than durations.
Run it against a FRESH server.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from kazoo.client import KazooClient  # noqa: E402
from kazoo.protocol.connection import _CONNECTION_DROP  # noqa: E402
from kazoo.protocol.states import KazooState  # noqa: E402

import scenario_kazoo  # noqa: E402

TICK_MS = 2000  # zkserver.py starts both servers with tickTime=2000


def java_random_bytes(seed: int, n: int) -> bytes:
    """java.util.Random(seed).nextBytes(n)."""
    mask = (1 << 48) - 1
    s = (seed ^ 0x5DEECE66D) & mask
    out = bytearray()
    while len(out) < n:
        s = (s * 0x5DEECE66D + 0xB) & mask
        r = s >> 16
        if r & (1 << 31):
            r -= 1 << 32
        for _ in range(min(4, n - len(out))):
            out.append(r & 0xFF)
            r >>= 8
    return bytes(out)


def expected_password(session_id: int) -> bytes:
    sid = session_id & 0xFFFFFFFFFFFFFFFF
    if sid >= 1 << 63:
        sid -= 1 << 64
    return java_random_bytes(sid ^ 0xB3415C00, 16)


class NegotiatedTimeouts(logging.Handler):
    """kazoo only logs the negotiated session timeout (at its BLATHER level)."""

    def __init__(self):
        super().__init__(level=1)
        self.values: list[int] = []

    def emit(self, record):
        m = re.search(r"negotiated session timeout: (\d+)", record.getMessage())
        if m:
            self.values.append(int(m.group(1)))


KILLED_CLIENT = r"""
import sys, time
from kazoo.client import KazooClient
c = KazooClient(hosts=sys.argv[1], timeout=4.0, connection_retry=None, command_retry=None)
c.start(timeout=15)
c.create("/sx/e", b"", ephemeral=True)
print(c.client_id[0], flush=True)
time.sleep(120)
"""


class SessionScenario(scenario_kazoo.Scenario):
    def __init__(self, hostport: str):
        super().__init__(hostport)
        self.neg = NegotiatedTimeouts()
        lg = logging.getLogger("kazoo")  # kazoo.client's logger is also the connection's
        lg.addHandler(self.neg)
        lg.setLevel(1)
        lg.propagate = False

    def note(self, op: str, result, args=None) -> None:
        self.records.append({"i": len(self.records), "op": op, "args": args or [], "result": result})

    def connect_timeout(self, name: str, timeout: float) -> KazooClient:
        n0 = len(self.neg.values)
        c = KazooClient(hosts=self.hostport, timeout=timeout, connection_retry=None, command_retry=None)
        c.start(timeout=15)
        self.clients[name] = c
        self.sessions[c.client_id[0]] = name
        got = self.neg.values[n0] if len(self.neg.values) > n0 else None
        self.note("negotiated-timeout", got, [name, int(timeout * 1000)])
        return c

    def run(self) -> None:
        c = self.call
        c1 = self.connect("c1")
        c("c1", "exists", "/")

        # --- session timeout negotiation: clamp to [2*tick, 20*tick]
        for name, t in (("t1", 1.0), ("t2", 10.0), ("t3", 100.0)):
            self.connect_timeout(name, t)
            self.close(name)

        # --- session ids and passwords
        sid, pw = c1.client_id
        self.note("session-password-formula", pw == expected_password(sid), ["c1"])
        c2 = self.connect("c2")
        sid2, pw2 = c2.client_id
        self.note("session-password-formula", pw2 == expected_password(sid2), ["c2"])
        self.note("session-id-top-byte", [sid >> 56, sid2 >> 56])
        self.note("session-id-delta", sid2 - sid, ["c2 - c1, with three sessions in between"])
        self.close("c2")

        # --- expiry of a killed client's session
        c("c1", "create", "/sx", b"")
        p = subprocess.Popen(
            [sys.executable, "-c", KILLED_CLIENT, self.hostport],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        try:
            line = ""
            t0 = time.monotonic()
            while time.monotonic() - t0 < 20 and not line:
                line = p.stdout.readline().strip()
            if line:
                self.sessions[int(line)] = "killed"
            c("c1", "exists", "/sx/e", watch=self.watcher("exists-sx-e"))
            c("c1", "get_children", "/sx", watch=self.watcher("child-sx"))
        finally:
            os.killpg(p.pid, signal.SIGKILL)  # our own child, in its own process group
            p.wait(timeout=10)
        killed_at = time.monotonic()
        gone_after = None
        while time.monotonic() - killed_at < 20:
            if c1.exists("/sx/e") is None:
                gone_after = time.monotonic() - killed_at
                break
            time.sleep(0.05)
        # negotiated 4000 ms; last touch <= ~1.4 s before the kill (kazoo pings every
        # read_timeout/2); expiry happens at the next tick boundary after the timeout
        if gone_after is None:
            bucket = "never (20 s)"
        elif gone_after < 2.0:
            bucket = "too early (< 2 s)"
        elif gone_after <= 9.0:
            bucket = "in window [2 s, 9 s]"
        else:
            bucket = "too late (> 9 s)"
        self.note("expired-ephemeral-removed", bucket, ["4000 ms session, client SIGKILLed"])
        self.expect_events(2, "expiry of the killed session")
        c("c1", "exists", "/sx")
        c("c1", "get_children", "/sx", include_data=True)

        # --- reconnect with the same session (kazoo resends watches with SetWatches)
        states: list[str] = []
        c5 = KazooClient(hosts=self.hostport, timeout=10.0, connection_retry=None, command_retry=None)
        c5.start(timeout=15)
        self.clients["c5"] = c5
        self.sessions[c5.client_id[0]] = "c5"
        self.records.append({"i": len(self.records), "c": "c5", "op": "connect"})
        c("c5", "create", "/sr", b"")
        c("c5", "create", "/sr/e", b"", ephemeral=True)
        c("c5", "create", "/sr/w", b"")
        c("c5", "get", "/sr/w", watch=self.watcher("c5-data-sr-w"))
        c("c5", "get_children", "/sr", watch=self.watcher("c5-child-sr"))
        reconnected = threading.Event()

        def listener(state):
            states.append(str(state))
            if state == KazooState.CONNECTED:
                reconnected.set()

        c5.add_listener(listener)
        sid5 = c5.client_id[0]
        c5._call(_CONNECTION_DROP, c5.handler.async_result())
        c("c1", "set", "/sr/w", b"changed while c5 was away")  # before or after the reconnect
        ok = reconnected.wait(15)
        self.note("reconnected", {"ok": ok, "same_session": c5.client_id[0] == sid5 if ok else None,
                                  "states": states[:2]})
        c("c5", "exists", "/sr/e")  # the ephemeral survived: same session
        # kazoo drops its watchers on every disconnect (it calls them with a NONE event and never
        # sends SetWatches), so no data/child events follow; SetWatches is covered by the Java
        # client scenario.
        self.expect_events(2, "kazoo clears its watches on disconnect")
        c("c1", "create", "/sr/new", b"")
        self.expect_events(0, "no event after the reconnect")
        c5.remove_listener(listener)

        # --- a client that has seen a newer zxid than the server is refused
        c7 = KazooClient(hosts=self.hostport, timeout=4.0, connection_retry=None, command_retry=None)
        c7.last_zxid = (c1.last_zxid or 0) + 1_000_000
        try:
            c7.start(timeout=3)
            self.note("stale-server-refused", "connected (not refused)")
            c7.stop()
        except Exception as e:  # noqa: BLE001
            self.note("stale-server-refused", type(e).__name__)
        c7.close()

        # --- request size limit: frame length 1048575 is accepted, 1048576 is not
        # frame = header 8 + path (4+5) + data (4+N) + one world:anyone ACL (4+4+9+10) + flags 4
        n_ok = 1048575 - (8 + 9 + 4 + 27 + 4)
        c("c1", "create", "/big1", b"x" * n_ok)
        c("c1", "create", "/big2", b"x" * (n_ok + 1))  # ConnectionLoss, kazoo reconnects
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not c1.connected:
            time.sleep(0.05)
        time.sleep(0.2)
        c("c1", "exists", "/big2")
        c("c1", "exists", "/big1")
        c("c1", "delete", "/big1")

        # --- unknown auth scheme: AuthFailed and the connection is closed
        c8 = KazooClient(hosts=self.hostport, timeout=10.0, connection_retry=None, command_retry=None)
        c8.start(timeout=15)
        self.clients["c8"] = c8
        self.sessions[c8.client_id[0]] = "c8"
        self.records.append({"i": len(self.records), "c": "c8", "op": "connect"})
        c("c8", "add_auth", "nosuchscheme", "x")
        try:
            c8.stop()
            c8.close()
        except Exception:  # noqa: BLE001
            pass
        self.clients.pop("c8", None)

        self.close("c5")
        c("c1", "get_children", "/sr", include_data=True)
        c("c1", "exists", "/")
        self.close("c1")


if __name__ == "__main__":
    sys.exit(scenario_kazoo.main(scenario_class=SessionScenario, name="kazoo_sessions"))
