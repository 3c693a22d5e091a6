"""Scenarios: forming ensembles of each flavour, mixed ensembles with each kind leading in
turn, rolling restarts and the rolling migration Java -> Menagerie -> Java, and the checker's
own test (planted violations must be caught)."""

from __future__ import annotations

import copy
import time

from checker import check, check_real_time, compare_digests, compare_trees, logical_ops
from javalogs import menagerie_log_problems
from registry import FLAVOURS, JAVA_BUG_NOTE, Context, Failure, require_flavour, require_kinds, scenario
from steps import form, stop_and_check, writes_resume
from workload import Workload, make_client


def check_epochs(ctx: Context, ens) -> None:
    """acceptedEpoch/currentEpoch files are equal on every live member."""
    ep = {m.name: m.epochs() for m in ens.live()}
    ctx.log(f"epoch files (accepted, current): {ep}")
    if len(set(ep.values())) != 1:
        raise Failure(f"epoch files differ between members: {ep}")


def check_modes(ctx: Context, ens, leader: int) -> None:
    modes = {m.name: m.mode() for m in ens.live()}
    ctx.log(f"modes: {modes}")
    for m in ens.live():
        want = "leader" if m.sid == leader else ("observer" if m.observer else "follower")
        if modes[m.name] != want:
            raise Failure(f"{m.name} reports Mode {modes[m.name]}, expected {want}")


@scenario(flavours=("java", "menagerie", "menagerie5", "mixed-mlead", "mixed-jlead", "mixed5"),
          ci=("menagerie", "mixed-mlead", "mixed-jlead"))
def test_formation(ctx: Context, flavour: str) -> None:
    """The highest sid starts first and leads; writes through every member are on every
    member."""
    kinds = require_flavour(flavour)
    if flavour.startswith("mixed"):
        ctx.note(JAVA_BUG_NOTE)
    ens = ctx.ensemble(kinds)
    leader = form(ctx, ens)
    top = max(kinds)
    # Fresh ensemble, all zxids 0, the top sid started first: everyone votes for it.
    ctx.expect(leader == top, f"leader is {ens[leader].name}, expected sid {top}")
    check_modes(ctx, ens, leader)
    wl = Workload(ens, per_member=1, java=1 if "java" in kinds.values() else 0).start()
    writes_resume(ctx, wl, "steady state", n=150)
    stop_and_check(ctx, ens, wl, allow_failed=False)
    check_epochs(ctx, ens)


@scenario(ci=True)
def test_checker_catches_planted(ctx: Context) -> None:
    """The checker reports planted violations: a lost acknowledged write, a node nobody
    wrote, a wrong zxid, a real-time inversion, a diverging member tree, a Menagerie panic."""
    require_flavour("java")
    ens = ctx.ensemble(FLAVOURS["java"])
    form(ctx, ens)
    wl = Workload(ens, per_member=1, rate=50).start()
    writes_resume(ctx, wl, "workload", n=60)
    hist = wl.stop()
    base = check(ens, hist)
    ctx.expect(base.ok, f"clean history reported violations: {base.text}")
    creates = [r for r in hist.records if r["op"] == "create" and r.get("final")]
    ctx.expect(len(creates) >= 3, "too few creates to plant violations")

    planted = copy.deepcopy(hist)
    lost = dict(creates[0], path=creates[0]["path"][:-8] + "77777777", key=77777777)
    planted.records.append(lost)  # acknowledged, never made
    planted.records[planted.records.index(next(
        r for r in planted.records if r is not lost and r["path"] == creates[1]["path"]
        and r.get("final")))]["zxid"] += 1  # the client was told another zxid
    seen_set = set()
    for r in planted.records:  # a read that shows the counter behind the client's own set
        if r.get("final") and r["op"] == "set" and r["status"] == "ok":
            seen_set.add(r["cid"])
        elif r.get("final") and r["op"] == "get" and r["cid"] in seen_set and r["version"]:
            r["version"] = 0
            break
    zk = make_client(ens.hosts())
    zk.start(timeout=20)
    try:
        zk.create(f"{hist.root}/k0/n99999999", b"nobody")  # written outside the workload
    finally:
        zk.stop()
        zk.close()
    res = check(ens, planted)
    text = res.text
    for what in ("77777777", "czxid", "n99999999: never attempted", "per-client order",
                 "read behind own write"):
        ctx.expect(what in text, f"planted violation {what!r} not reported:\n{text}")

    # real-time inversion: an op with a larger zxid acknowledged before a smaller one began
    ops = logical_ops(hist)
    a, b = sorted((r for r in ops if r["status"] == "ok" and r["zxid"]),
                  key=lambda r: r["zxid"])[:2]
    a = dict(a, start=b["t1"] + 1.0, t1=b["t1"] + 2.0)
    ctx.expect(bool(check_real_time([a, b])), "real-time inversion not reported")
    trees = {"x": {"/a": (b"1", 1, 1, 1, 0, 0, 0, 0, 0)},
             "y": {"/a": (b"2", 1, 2, 1, 1, 0, 0, 0, 0)}}
    ctx.expect(bool(compare_trees(trees)), "diverging trees not reported")
    ctx.expect(len(compare_digests(_FakeEnsemble())) == 2,
               "a digest difference or a digest mismatch count was not reported")
    panics, errors = menagerie_log_problems([_LoggingMember("menagerie", _PANIC_LOG),
                                             _LoggingMember("java", _PANIC_LOG)])
    ctx.expect(len(panics) == 1 and len(errors) == 1,
               f"a Menagerie member's panic / ERROR line not reported once: {panics} {errors}")
    ctx.log("all planted violations reported")


_PANIC_LOG = ("2026-12-03T10:00:00.000Z  INFO menagerie: serving\n"
              "2026-12-03T10:00:01.000Z ERROR menagerie::shell: planted error\n"
              "thread 'main' panicked at crates/core/src/x.rs:1:1:\nplanted\n")


class _LoggingMember:
    """A member that only ever ran as `kind`, whose log is `text`."""

    def __init__(self, kind: str, text: str):
        self.kind, self.sid, self._text = kind, 1, text
        self.history = [(0.0, kind)]

    def log_text(self) -> str:
        return self._text


class _FakeMember:
    def __init__(self, name: str, digests: dict, mismatches: str):
        self.name, self._d, self._m = name, digests, mismatches

    def hash(self) -> dict:
        return self._d

    def mntr(self) -> dict:
        return {"zk_digest_mismatches_count": self._m}


class _FakeEnsemble:
    """Two members whose `hash` differ at zxid 0x80, one counting a digest mismatch."""

    def live(self) -> list:
        return [_FakeMember("a", {0x80: 1, 0x100: 2}, "0"),
                _FakeMember("b", {0x80: 9, 0x100: 2}, "1")]


def _mixed_phases(ctx: Context, kinds: dict[int, str], early: list[int], late: int,
                  second_leader: int) -> None:
    """Phase A: `early` members form (the higher sid leads), `late` joins as a follower;
    writes checked. Phase B: the leader is killed (-9) with the ensemble quiet, so
    `second_leader` (highest remaining sid) leads; the old leader rejoins as a follower of
    the other kind; writes checked again."""
    ctx.note(JAVA_BUG_NOTE)
    ens = ctx.ensemble(kinds)
    first = form(ctx, ens, order=early)
    ctx.expect(first == max(early), f"leader {ens[first].name}, expected sid {max(early)}")
    ens.start_member(late)
    ens.wait_stable()
    check_modes(ctx, ens, first)
    ctx.log(f"phase A: {ens[first].name} leads, {ens[late].name} joined late")
    wl = Workload(ens, per_member=1, java=1, root="/ensA").start()
    writes_resume(ctx, wl, "phase A", n=120)
    stop_and_check(ctx, ens, wl, allow_failed=False)
    check_epochs(ctx, ens)

    ens.wait_zxids_equal()
    ens.kill(first)
    lead = ens.wait_stable()
    ctx.expect(lead == second_leader,
               f"after killing {ens[first].name} the leader is {ens[lead].name}, expected "
               f"{ens[second_leader].name} (highest sid, equal zxids)")
    ens.start_member(first)
    ens.wait_stable()
    check_modes(ctx, ens, second_leader)
    ctx.log(f"phase B: {ens[second_leader].name} leads, {ens[first].name} rejoined")
    wl = Workload(ens, per_member=1, java=1, root="/ensB").start()
    writes_resume(ctx, wl, "phase B", n=120)
    stop_and_check(ctx, ens, wl, allow_failed=False)
    check_epochs(ctx, ens)


@scenario(ci=True)
def test_mixed_2java_1menagerie(ctx: Context) -> None:
    """Java 1, 2 form (Java 2 leads), Menagerie 3 joins late as follower; then Java 2 is
    killed, Menagerie 3 leads Java 1, and Java 2 rejoins as a follower of Menagerie."""
    require_kinds("java", "menagerie")
    _mixed_phases(ctx, {1: "java", 2: "java", 3: "menagerie"}, early=[1, 2], late=3,
                  second_leader=3)


@scenario(ci=True)
def test_mixed_1java_2menagerie(ctx: Context) -> None:
    """Menagerie 1, 2 form (Menagerie 2 leads), Java 3 joins late as follower; then Menagerie
    2 is killed, Java 3 leads Menagerie 1, and Menagerie 2 rejoins as a follower of Java."""
    require_kinds("java", "menagerie")
    _mixed_phases(ctx, {1: "menagerie", 2: "menagerie", 3: "java"}, early=[1, 2], late=3,
                  second_leader=3)


def _rolling(ctx: Context, start_kind: str, steps: list[str]) -> None:
    """Starts an all-`start_kind` ensemble under a running writer (kazoo clients on every
    member and a Java client), then for each kind in `steps` replaces every member in turn
    (followers first, the leader last) by a member of that kind on the same dataDir. Zero
    failed operations (other than connection-loss retries), zero acknowledged writes lost."""
    kinds = {1: start_kind, 2: start_kind, 3: start_kind}
    ens = ctx.ensemble(kinds)
    form(ctx, ens)
    wl = Workload(ens, per_member=1, java=1, rate=25).start()
    writes_resume(ctx, wl, "writer running", n=40)
    for kind in steps:
        lead = ens.wait_stable()
        order = [s for s in ens.members if s != lead] + [lead]
        for sid in order:
            t = time.monotonic()
            ens.restart(sid, kind)
            lead_now = ens.wait_stable()
            ctx.log(f"{ens[sid].name} replaced (leader now {ens[lead_now].name}) in "
                    f"{time.monotonic() - t:.1f} s")
            writes_resume(ctx, wl, f"after replacing member {sid}", n=20)
        ctx.log(f"all members are {kind}: {ens.report()}")
    stop_and_check(ctx, ens, wl, allow_failed=False)
    check_epochs(ctx, ens)


@scenario(ci=True)
def test_rolling_migration(ctx: Context) -> None:
    """All Java; members replaced one by one by Menagerie on the same dataDir under a running
    writer; then back to Java the same way."""
    require_kinds("java", "menagerie")
    ctx.note(JAVA_BUG_NOTE)
    _rolling(ctx, "java", ["menagerie", "java"])


@scenario(flavours=("java", "menagerie"))
def test_rolling_restart(ctx: Context, flavour: str) -> None:
    """Every member restarted in turn (same kind) under a running writer, twice."""
    require_flavour(flavour)
    kind = FLAVOURS[flavour][1]
    _rolling(ctx, kind, [kind, kind])


OBSERVER_SETS = {
    "java": {1: "java", 2: "java", 3: "java", 4: "java"},
    "menagerie": {1: "menagerie", 2: "menagerie", 3: "menagerie", 4: "menagerie"},
    "java-with-menagerie-observer": {1: "java", 2: "java", 3: "java", 4: "menagerie"},
    "menagerie-with-java-observer": {1: "menagerie", 2: "menagerie", 3: "menagerie", 4: "java"},
}


@scenario(flavours=tuple(OBSERVER_SETS), ci=("java-with-menagerie-observer",))
def test_observer(ctx: Context, flavour: str) -> None:
    """Three voters and an observer (server.4=...:observer, peerType=observer): the observer
    reports Mode: observer, serves reads, forwards writes, and has every write."""
    kinds = OBSERVER_SETS[flavour]
    require_kinds(*sorted(set(kinds.values())))
    if len(set(kinds.values())) > 1:
        ctx.note(JAVA_BUG_NOTE)
    ens = ctx.ensemble(kinds, observers=(4,))
    leader = form(ctx, ens)
    ctx.expect(leader == 3, f"leader is {ens[leader].name}, expected sid 3")
    check_modes(ctx, ens, leader)
    wl = Workload(ens, per_member=1, java=1).start()
    writes_resume(ctx, wl, "writes through every member, the observer too", n=150)
    stop_and_check(ctx, ens, wl, allow_failed=False)
