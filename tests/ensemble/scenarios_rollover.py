"""Scenarios: a leader's zxid counter reaching its end under write load (ADR 0014).

Menagerie members start each elected leader's counter near its end
(``menagerie.firstZxidCounter``; Java members ignore the key). In an all-Menagerie ensemble
the leader moves the ensemble to the next epoch without an election: the same leader, the
epoch up by one, ``zk_rollover_epoch_changes`` counting it. With a real Java learner (it
announces protocol 0x10000, Menagerie learners 0x14d67) the Menagerie leader keeps
ZooKeeper's behaviour: it steps down at the counter's end and an election moves the epoch on.
Either way the usual checker then looks for lost, phantom or divergent data on every
member."""

from __future__ import annotations

import time

from registry import Context, Failure, require_flavour, scenario
from steps import form, stop_and_check, writes_resume
from workload import Workload

COUNTER_END = 0xFFFFFFFF
# The leader starts 700 short of the end; a Menagerie-only ensemble changes epoch 300 short.
ROLLOVER_CFG = {
    "menagerie.firstZxidCounter": str(COUNTER_END - 700),
    "menagerie.rolloverMargin": "300",
}
EPOCH_TIMEOUT = 120.0


def _epoch(ens, sid: int) -> int | None:
    zxid = ens[sid].srvr().get("zxid")
    return zxid >> 32 if isinstance(zxid, int) else None


def _changes(ens, sid: int) -> int:
    return int(ens[sid].mntr().get("zk_rollover_epoch_changes", "-1"))


def _wait_epoch_above(ctx: Context, ens, sid: int, epoch: int) -> int:
    """Waits (bounded) until member `sid` serves in an epoch above `epoch`; returns it."""
    deadline = time.monotonic() + EPOCH_TIMEOUT
    while time.monotonic() < deadline:
        now = _epoch(ens, sid)
        if now is not None and now > epoch:
            return now
        time.sleep(0.2)
    raise Failure(f"{ens[sid].name} still in epoch {epoch:#x} after {EPOCH_TIMEOUT:.0f} s "
                  "of writes: the counter's end never moved the epoch on")


@scenario(flavours=("menagerie", "mixed-mlead"), ci=("menagerie", "mixed-mlead"))
def test_rollover(ctx: Context, flavour: str) -> None:
    """A counter reaching its end: the next epoch without an election (Menagerie learners
    only) or with ZooKeeper's election (a Java learner); no write lost either way."""
    kinds = require_flavour(flavour)
    ens = ctx.ensemble(kinds, extra_cfg=ROLLOVER_CFG)
    leader = form(ctx, ens)
    if kinds[leader] != "menagerie":
        raise Failure(f"{ens[leader].name} leads; the scenario needs a Menagerie leader")
    before = _epoch(ens, leader)
    if before is None:
        raise Failure(f"{ens[leader].name} answers srvr without a zxid")
    wl = Workload(ens, per_member=2, rate=0.0).start()
    writes_resume(ctx, wl, "under load", n=20)
    after = _wait_epoch_above(ctx, ens, leader, before)
    ctx.log(f"epoch {before:#x} -> {after:#x} on {ens[leader].name}")
    writes_resume(ctx, wl, "after the epoch moved on", n=20)
    now_leading = ens.wait_stable(60)
    changes = _changes(ens, leader)
    ctx.log(f"{ens[now_leading].name} leads; {ens[leader].name} led {changes} epoch changes "
            "without an election")
    if flavour == "menagerie":
        if now_leading != leader or changes < 1:
            raise Failure(f"expected {ens[leader].name} to change epoch without an election")
    elif changes != 0:
        raise Failure(f"{ens[leader].name} changed epoch without an election although a Java "
                      "learner was connected")
    stop_and_check(ctx, ens, wl)
