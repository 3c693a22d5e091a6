"""Scenarios: network partitions under write load. Every member runs in a network namespace
of its own (netns.py); partitions cut member-to-member traffic while the clients (the test
process) still reach every member. Skipped, saying why, where namespaces are not permitted.

Checked besides the usual checker (no lost, phantom or divergent data, per-client and
real-time order): the majority elects a leader and serves writes; a member cut off from the
majority stops being leader/follower and acknowledges no write while cut off; after healing
it rejoins, and a session that saw a write on the majority never reads older data on it."""

from __future__ import annotations

import logging
import threading
import time

from netns import NetLab, Unavailable
from registry import JAVA_BUG_NOTE, Context, Failure, Skip, require_flavour, scenario
from scenarios_faults import _probe_client, _stale_read_probe
from steps import form, stop_and_check, writes_resume
from workload import Workload, make_client

PARTITION_FLAVOURS = ("java", "menagerie", "mixed-mlead", "mixed-jlead")
FIVE_FLAVOURS = ("menagerie5", "mixed5")
STEP_DOWN_SLACK = 10.0  # seconds beyond syncLimit for a cut-off member to stop serving


def net_ensemble(ctx: Context, flavour: str):
    """An ensemble of `flavour` whose members each run in a network namespace; the namespaces
    are deleted when the scenario ends, whatever happens (and by the reaper if we are killed)."""
    kinds = require_flavour(flavour)
    try:
        lab = NetLab(sorted(kinds))
    except Unavailable as e:
        raise Skip(f"network partitions need network namespaces: {e}")

    def close_lab() -> None:
        lab.close()
        left = lab.leftovers()
        if left:
            print(f"  (network namespaces or interfaces left behind: {left})", flush=True)

    ctx.on_exit(close_lab)
    if flavour.startswith("mixed"):
        ctx.note(JAVA_BUG_NOTE)
    ens = ctx.ensemble(kinds, net=lab)
    ctx.log(f"members in namespaces {lab.ns(min(kinds))}.. on {lab.subnet}.0/24")
    return ens, lab


class WriteProbe:
    """A session on member `sid` alone, connected before the cut; `send()` then issues one
    create through it and records whether (and when) it was acknowledged."""

    def __init__(self, ens, sid: int):
        self.zk = make_client(ens.hosts([sid]))
        self.zk.start(timeout=30)
        self.acked_at: float | None = None
        self.error = ""
        self.thread = threading.Thread(target=self._run, daemon=True)

    def send(self, path: str) -> None:
        self.path = path
        self.thread.start()

    def _run(self) -> None:
        try:
            self.zk.create_async(self.path, b"cut-off").get(timeout=60)
            self.acked_at = time.monotonic()
        except Exception as e:  # noqa: BLE001 - any failure is "not acknowledged"
            self.error = type(e).__name__

    def close(self) -> None:
        try:
            self.zk.stop()
            self.zk.close()
        except Exception:  # noqa: BLE001
            pass
        if self.thread.is_alive():
            self.thread.join(timeout=5)


def wait_not_serving(ctx: Context, ens, sids: list[int], timeout: float) -> float:
    """Waits until every member of `sids` has stopped being leader or follower (srvr answers
    without a serving mode); returns the seconds it took."""
    t = time.monotonic()
    modes = {}
    while time.monotonic() - t < timeout:
        modes = {s: ens[s].srvr(timeout=1.0).get("mode") for s in sids}
        if all(md not in ("leader", "follower", "observer") for md in modes.values()):
            return time.monotonic() - t
        time.sleep(0.2)
    raise Failure(f"cut-off member(s) still serving {timeout:.0f} s after the partition: "
                  f"{ {ens[s].name: md for s, md in modes.items()} }")


def partition_majority(ctx: Context, ens, lab: NetLab, minority: list[int],
                       majority: list[int], cut) -> None:
    """The common course: load; `cut()`; the majority elects and serves; the minority stops
    serving and acknowledges nothing; heal; the minority rejoins; the checker runs."""
    logging.getLogger("kazoo").setLevel(logging.CRITICAL)
    old = ens.leader()
    wl = Workload(ens, per_member=1, java=1).start()
    writes_resume(ctx, wl, "load running", n=60)
    probe = _probe_client(ens, majority[0])
    wprobe = WriteProbe(ens, minority[0])
    t = time.monotonic()
    cut()
    ctx.log(f"cut: {lab.describe()} (minority {[ens[s].name for s in minority]})")
    wprobe.send("/cut-off-write")
    t_heal = float("inf")
    try:
        new = ens.wait_stable(timeout=60, expect=majority)
        ctx.log(f"majority leader {ens[new].name} after {time.monotonic() - t:.2f} s")
        writes_resume(ctx, wl, "majority serving", n=40)
        limit = ens.sync_limit * ens.tick / 1000 + STEP_DOWN_SLACK
        secs = wait_not_serving(ctx, ens, minority, limit)
        ctx.log(f"minority stopped serving within {secs:.2f} s of the majority's election "
                f"(old leader {ens[old].name if old else '?'})")
        path, st = probe.create("/stale-probe", b"x", include_data=True)
        writes_resume(ctx, wl, "minority not serving", n=40)
        ctx.expect(wprobe.acked_at is None,
                   f"a write sent to cut-off {ens[minority[0]].name} was acknowledged while it "
                   "was cut off from the majority")
        ctx.log(f"write sent to the cut-off {ens[minority[0]].name}: not acknowledged "
                f"({wprobe.error or 'pending'})")
        t_heal = time.monotonic()
        lab.heal()
        ctx.log("healed")
        _stale_read_probe(ctx, ens, probe, minority[0], path, st.czxid)
        lead = ens.wait_stable(timeout=60)
        ctx.log(f"after healing: leader {ens[lead].name}, "
                f"{', '.join(f'{ens[s].name} {ens[s].mode()}' for s in minority)}")
        writes_resume(ctx, wl, "healed", n=40)
    finally:
        probe.stop()
        probe.close()
        wprobe.close()
    if wprobe.acked_at is not None and wprobe.acked_at < t_heal:
        raise Failure(f"the cut-off {ens[minority[0]].name} acknowledged a write before the "
                      "partition healed")
    stop_and_check(ctx, ens, wl)


@scenario(flavours=PARTITION_FLAVOURS, ci=("menagerie",))
def test_partition_leader(ctx: Context, flavour: str) -> None:
    """The leader is cut off from both followers (clients still reach it) under write load;
    the followers elect a leader and serve; the old leader stops serving and acknowledges no
    write; after healing it rejoins with nothing lost and no stale read for a session."""
    ens, lab = net_ensemble(ctx, flavour)
    old = form(ctx, ens)
    others = [s for s in ens.members if s != old]
    partition_majority(ctx, ens, lab, [old], others, lambda: lab.isolate(old))


@scenario(flavours=PARTITION_FLAVOURS)
def test_partition_follower(ctx: Context, flavour: str) -> None:
    """A follower (of the other kind than the leader in mixed ensembles) is cut off from the
    others under write load; the leader stays and serves; the follower stops serving; after
    healing it catches up."""
    ens, lab = net_ensemble(ctx, flavour)
    lead = form(ctx, ens)
    followers = [s for s in ens.members if s != lead]
    victim = ([s for s in followers if ens[s].kind != ens[lead].kind] or followers)[0]
    others = [s for s in ens.members if s != victim]
    partition_majority(ctx, ens, lab, [victim], others, lambda: lab.isolate(victim))
    ctx.expect(ens.leader() == lead, "the leader changed while a follower was cut off")


@scenario(flavours=PARTITION_FLAVOURS)
def test_partition_oneway_leader_out(ctx: Context, flavour: str) -> None:
    """One-way partition: the leader's packets to the followers are dropped, theirs to it
    arrive; the followers elect a new leader; the old one stops serving; healed, it rejoins."""
    ens, lab = net_ensemble(ctx, flavour)
    old = form(ctx, ens)
    others = [s for s in ens.members if s != old]

    def cut() -> None:
        for s in others:
            lab.cut(old, s)

    partition_majority(ctx, ens, lab, [old], others, cut)


@scenario(flavours=PARTITION_FLAVOURS)
def test_partition_oneway_leader_in(ctx: Context, flavour: str) -> None:
    """One-way partition: the followers' packets to the leader are dropped (it still sends to
    them); the followers elect a new leader; the old one stops serving; healed, it rejoins."""
    ens, lab = net_ensemble(ctx, flavour)
    old = form(ctx, ens)
    others = [s for s in ens.members if s != old]

    def cut() -> None:
        for s in others:
            lab.cut(s, old)

    partition_majority(ctx, ens, lab, [old], others, cut)


@scenario(flavours=FIVE_FLAVOURS)
def test_partition_2_3(ctx: Context, flavour: str) -> None:
    """Five members split 2+3 under write load, the leader and one follower on the side of
    two: the three elect a leader and serve; the two stop serving; healed, all agree."""
    ens, lab = net_ensemble(ctx, flavour)
    old = form(ctx, ens)
    rest = [s for s in ens.members if s != old]
    minority = [old, rest[0]]
    majority = rest[1:]
    partition_majority(ctx, ens, lab, minority, majority,
                       lambda: lab.split(minority, majority))
