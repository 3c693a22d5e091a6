"""Scenarios: sessions across the ensemble. A client that only reads on a follower is not
expired; a session moves to another member and keeps its ephemerals; ephemerals survive a
leader change; a session that dies during a leader change expires under the new leader, and
only then."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from kazoo.protocol.connection import _CONNECTION_DROP
from kazoo.protocol.states import KazooState

from ensemble import _reaper
from registry import JAVA_BUG_NOTE, Context, Failure, require_flavour, scenario
from steps import form
from workload import make_client

SESSION_FLAVOURS = ("java", "menagerie", "mixed-mlead", "mixed-jlead")
TIMEOUT = 4.0  # requested session timeout, seconds (the ensemble's tick is 0.5 s)


class Session:
    """A kazoo session that records its state changes."""

    def __init__(self, hosts: str, timeout: float = TIMEOUT):
        self.states: list[str] = []
        self.zk = make_client(hosts, timeout=timeout)
        self.zk.add_listener(lambda s: self.states.append(str(s)))
        self.zk.start(timeout=30)
        self.states.clear()  # only changes after the session is established count

    @property
    def id(self) -> int | None:
        cid = self.zk.client_id
        return cid[0] if cid else None

    def wait_connected(self, ports: set[int], timeout: float = 20.0) -> bool:
        """Waits until the session is connected to a member listening on one of `ports`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (self.zk.state == KazooState.CONNECTED and self.peer_port() in ports
                    and self.id is not None):
                return True
            time.sleep(0.1)
        return False

    def peer_port(self) -> int | None:
        try:
            return self.zk._connection._socket.getpeername()[1]
        except (AttributeError, OSError):
            return None

    def close(self) -> None:
        try:
            self.zk.stop()
            self.zk.close()
        except Exception:  # noqa: BLE001
            pass


def owner_on(ens, sid: int, path: str) -> int | None:
    """ephemeralOwner of `path` read on member `sid` after sync (None: absent)."""
    zk = make_client(ens.hosts([sid]))
    zk.start(timeout=30)
    try:
        zk.sync("/")
        st = zk.exists(path)
        return st.ephemeralOwner if st else None
    finally:
        zk.stop()
        zk.close()


def expect_owner_everywhere(ctx: Context, ens, path: str, owner: int | None) -> None:
    for m in ens.live():
        got = owner_on(ens, m.sid, path)
        if got != owner:
            raise Failure(f"{path} on {m.name}: owner {got and hex(got)}, expected "
                          f"{owner and hex(owner)}")
    ctx.log(f"{path}: owner {owner and hex(owner)} on every member")


@scenario(flavours=SESSION_FLAVOURS, ci=("menagerie",))
def test_reads_only_session_on_follower(ctx: Context, flavour: str) -> None:
    """A session that only reads, on a follower, for 3x its timeout is not expired (the
    follower reports its touches to the leader)."""
    ens = ctx.ensemble(require_flavour(flavour))
    lead = form(ctx, ens)
    follower = next(s for s in ens.members if s != lead
                    and (ens[s].kind != ens[lead].kind or not flavour.startswith("mixed")))
    s = Session(ens.hosts([follower]))
    try:
        s.zk.create("/ro-eph", b"", ephemeral=True)
        sid = s.id
        t_end = time.monotonic() + 3 * TIMEOUT
        reads = 0
        while time.monotonic() < t_end:
            s.zk.exists("/ro-eph")
            s.zk.get_children("/")
            reads += 2
            time.sleep(0.3)
        ctx.log(f"{reads} reads on {ens[follower].name} over {3 * TIMEOUT:.0f} s; "
                f"states seen: {s.states or 'none'}")
        ctx.expect(s.id == sid and not s.states, f"session changed state: {s.states}")
        expect_owner_everywhere(ctx, ens, "/ro-eph", sid)
    finally:
        s.close()


@scenario(flavours=SESSION_FLAVOURS, ci=("mixed-jlead",))
def test_session_moves_to_other_member(ctx: Context, flavour: str) -> None:
    """A session moves from one follower to another (and, in mixed ensembles, to the other
    kind of member): same session id, its ephemeral kept, writes work from the new member;
    then its member is stopped and it moves again."""
    ens = ctx.ensemble(require_flavour(flavour))
    lead = form(ctx, ens)
    a, b = [s for s in ens.members if s != lead][:2]
    if flavour.startswith("mixed"):
        ctx.note(JAVA_BUG_NOTE)
    s = Session(ens.hosts([a]))
    try:
        s.zk.create("/move-eph", b"", ephemeral=True)
        sid = s.id
        ctx.expect(s.peer_port() == ens[a].client_port, "session not on the first member")
        s.zk.set_hosts(ens.hosts([b]))
        s.zk._call(_CONNECTION_DROP, None)
        ctx.expect(s.wait_connected({ens[b].client_port}),
                   f"session did not reconnect to {ens[b].name}")
        ctx.expect(s.id == sid, "reconnect gave a new session")
        s.zk.create("/move-eph2", b"", ephemeral=True)
        ctx.log(f"session {sid:#x} moved {ens[a].name} -> {ens[b].name}, wrote there")
        expect_owner_everywhere(ctx, ens, "/move-eph", sid)
        s.zk.set_hosts(ens.hosts([lead, a]))
        ens.stop_member(b)
        ctx.expect(s.wait_connected({ens[lead].client_port, ens[a].client_port}),
                   "session did not reconnect after its member stopped")
        ctx.expect(s.id == sid, "session changed after its member stopped")
        ens.wait_stable()
        expect_owner_everywhere(ctx, ens, "/move-eph2", sid)
        ctx.expect("LOST" not in s.states, f"session lost: {s.states}")
    finally:
        s.close()
    expect_owner_everywhere(ctx, ens, "/move-eph", None)


@scenario(flavours=SESSION_FLAVOURS, ci=("menagerie",))
def test_ephemerals_across_leader_change(ctx: Context, flavour: str) -> None:
    """One session per member (the leader's one can fail over), each with an ephemeral; the
    leader is killed; every session survives with its ephemeral; the old leader rejoins and
    has them too; a closed session's ephemeral goes everywhere."""
    ens = ctx.ensemble(require_flavour(flavour))
    lead = form(ctx, ens)
    sids = list(ens.members)
    sessions = {sid: Session(ens.hosts(sids[sids.index(sid):] + sids[:sids.index(sid)]),
                             timeout=8.0) for sid in sids}
    try:
        for sid, s in sessions.items():
            s.zk.create(f"/eph-{sid}", b"", ephemeral=True)
        ens.kill(lead)
        new = ens.wait_stable()
        ctx.log(f"killed leader {ens[lead].name}; {ens[new].name} leads")
        for sid, s in sessions.items():
            s.zk.retry(s.zk.exists, "/")  # reconnected (the leader's session moved)
        for sid, s in sessions.items():
            expect_owner_everywhere(ctx, ens, f"/eph-{sid}", s.id)
            ctx.expect("LOST" not in s.states, f"session {sid} lost: {s.states}")
        ens.start_member(lead)
        ens.wait_stable()
        for sid, s in sessions.items():
            expect_owner_everywhere(ctx, ens, f"/eph-{sid}", s.id)
        gone = sessions.pop(new)
        gone.close()
        time.sleep(0.5)
        expect_owner_everywhere(ctx, ens, f"/eph-{new}", None)
    finally:
        for s in sessions.values():
            s.close()


DEAD_CLIENT = """
import sys, time
from kazoo.client import KazooClient
zk = KazooClient(hosts=sys.argv[1], timeout=float(sys.argv[2]))
zk.start(timeout=30)
zk.create("/dead-eph", b"", ephemeral=True)
print(hex(zk.client_id[0]), flush=True)
time.sleep(120)
"""


@scenario(flavours=SESSION_FLAVOURS, ci=("menagerie",))
def test_expiry_during_leader_change(ctx: Context, flavour: str) -> None:
    """A client process on a follower is killed (its session is never closed) and the leader
    is killed right after: the session expires under the new leader (not before the ensemble
    has a leader again, and within a bound after), on every member; a live session's
    ephemeral stays."""
    ens = ctx.ensemble(require_flavour(flavour))
    lead = form(ctx, ens)
    follower, other = [s for s in ens.members if s != lead][:2]
    live = Session(ens.hosts([other, follower]), timeout=8.0)
    proc = subprocess.Popen([sys.executable, "-c", DEAD_CLIENT, ens.hosts([follower]),
                             str(TIMEOUT)], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    _reaper.tell(f"+{proc.pid}")
    try:
        live.zk.create("/live-eph", b"", ephemeral=True)
        dead_id = int(proc.stdout.readline().strip() or "0", 16)
        ctx.expect(dead_id != 0, "the client process did not create its ephemeral")
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        t_dead = time.monotonic()
        ens.kill(lead)
        ctx.log(f"client {dead_id:#x} killed, leader {ens[lead].name} killed")
        new = ens.wait_stable()
        t_stable = time.monotonic()
        present = owner_on(ens, new, "/dead-eph")
        ctx.log(f"{ens[new].name} leads after {t_stable - t_dead:.2f} s; dead session's "
                f"ephemeral {'present' if present else 'gone'} then")
        if t_stable - t_dead < TIMEOUT * 0.5:
            ctx.expect(present == dead_id, "the dead session expired before its timeout "
                       "could have passed under the new leader")
        bound = TIMEOUT + 2 * ens.tick / 1000 + 5.0
        while owner_on(ens, new, "/dead-eph") is not None:
            if time.monotonic() - t_stable > bound:
                raise Failure(f"dead session not expired {bound:.1f} s after the new leader "
                              "was elected")
            time.sleep(0.3)
        ctx.log(f"dead session expired {time.monotonic() - t_dead:.2f} s after the client "
                f"died ({time.monotonic() - t_stable:.2f} s after the new leader)")
        expect_owner_everywhere(ctx, ens, "/dead-eph", None)
        live.zk.retry(live.zk.exists, "/")
        expect_owner_everywhere(ctx, ens, "/live-eph", live.id)
    finally:
        live.close()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        _reaper.tell(f"-{proc.pid}")
