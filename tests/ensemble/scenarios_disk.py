"""Scenarios: storage faults under write load — a member's full data disk (its dataLogDir on
a small tmpfs the test mounts and fills) and torn transaction-log tails after kill -9.

Full disk: the filled member's log writes fail; the others keep acknowledging; the space is
freed and the member restarted; nothing acknowledged is lost. With
``ENSEMBLE_ENOSPC_NO_RESTART=1`` the check "recovers without restart" runs instead of the
restart: once the space is freed, the member must serve again, caught up, by itself (storage
that retries after ENOSPC). Skipped, saying why, where tmpfs cannot be mounted.

Torn tails: a member killed with -9 gets its newest log file cut half-way into its last
record, or an unfinished record written after its last whole one; restarted, it must start,
drop the torn tail, rejoin and catch up; its logs must then read back to its last zxid with
no gap (txnlog.py)."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import tempfile
import time

import txnlog
from registry import JAVA_BUG_NOTE, Context, Failure, Skip, require_flavour, scenario
from steps import form, stop_and_check, writes_resume
from workload import Workload, make_client

DISK_FLAVOURS = ("java", "menagerie", "mixed-mlead", "mixed-jlead")
TMPFS_SIZE = "8m"
PREALLOC_KB = 64  # preAllocSize: small, so a log file fits the tmpfs (Java's default: 64 MiB)
NO_RESTART_ENV = "ENSEMBLE_ENOSPC_NO_RESTART"
NO_RESTART_WAIT = 60.0  # seconds the "recovers without restart" check waits
EFFECT_WAIT = 45.0  # seconds a filled disk has to show (past the preallocated space)
LAG = 100  # txns behind the leader that count as "not logging"
ENOSPC_WORDS = ("No space left", "ENOSPC", "os error 28", "no space")


# ---------------------------------------------------------------------------------------------
# tmpfs


def mount_tmpfs(ctx: Context, size: str) -> str:
    """Mounts a tmpfs of `size` on a new temporary directory and returns its path; unmounted
    and removed when the scenario ends (after the members stop) or, should the harness be
    killed, unmounted by its reaper. Skip when mounting is not permitted here."""
    from ensemble import _reaper
    if shutil.which("mount") is None:
        raise Skip("a full disk needs `mount` (util-linux)")
    path = tempfile.mkdtemp(prefix="ens-tmpfs-", dir=os.environ.get("ENSEMBLE_WORKDIR"))
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", path],
                       capture_output=True, text=True, timeout=10)
    if p.returncode != 0:
        os.rmdir(path)
        raise Skip(f"a full disk needs a tmpfs mount, refused here (uid {os.geteuid()}): "
                   f"{' '.join(p.stderr.split()) or p.returncode}")
    _reaper.tell(f"M+{path}")

    def unmount() -> None:
        q = subprocess.run(["umount", path], capture_output=True, text=True, timeout=10)
        if q.returncode != 0:
            subprocess.run(["umount", "-l", path], capture_output=True, timeout=10)
        _reaper.tell(f"M-{path}")
        if os.path.ismount(path):
            print(f"  (tmpfs at {path} still mounted)", flush=True)
        else:
            shutil.rmtree(path, ignore_errors=True)

    ctx.on_exit(unmount)
    return path


def fill(path: str, limit: int = 1 << 30) -> int:
    """Writes `path` until the file system is full (ENOSPC); returns the bytes written."""
    chunk = b"\xa5" * 65536
    n = 0
    with open(path, "wb", buffering=0) as f:
        while n < limit:
            try:
                n += f.write(chunk)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                break
        try:  # the last partial block, byte by byte
            while f.write(b"\xa5"):
                n += 1
        except OSError:
            pass
    return n


def wait_effect(ens, sid: int, since: int, timeout: float) -> str:
    """Waits until the full disk shows on member `sid`: it exited, stopped serving, logged
    ENOSPC (after log byte `since`) or fell LAG txns behind the leader. Returns what it saw;
    raises Failure when nothing shows (the scenario would test nothing)."""
    m = ens[sid]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not m.alive():
            return f"exited ({m.proc.returncode})"
        tail = m.log_text()[since:]
        hit = next((ln for ln in tail.splitlines() if any(w in ln for w in ENOSPC_WORDS)), None)
        if hit:
            return f"logged: {hit.strip()[:300]}"
        st = m.srvr(timeout=1.0)
        if st.get("mode") not in ("follower", "leader", "observer"):
            return f"mode {st.get('mode')}"
        lead = ens.leader()
        lz = ens[lead].srvr().get("zxid") if lead else None
        if lz is not None and st.get("zxid") is not None and lz - st["zxid"] >= LAG:
            return f"{lz - st['zxid']} txns behind the leader"
        time.sleep(0.3)
    raise Failure(f"{m.name}'s dataLogDir has been full for {timeout:.0f} s and nothing shows: "
                  "still serving, caught up, no ENOSPC in its log")


def _victim(kinds: dict[int, str]) -> int:
    """The member to hurt: a follower-to-be (not the highest sid, which leads first), of the
    other kind than the leader where there is one."""
    top = max(kinds)
    others = [s for s in sorted(kinds) if s != top]
    return ([s for s in others if kinds[s] != kinds[top]] or others)[0]


def _serves_again(ens, sid: int, timeout: float) -> str | None:
    """Waits until member `sid` takes a new session and a write through it (its own log
    takes writes again); None when it did, else what it was doing."""
    from kazoo.exceptions import NodeExistsError
    deadline = time.monotonic() + timeout
    state = "?"
    while time.monotonic() < deadline:
        m = ens[sid]
        if not m.alive():
            return f"exited ({m.proc.returncode})"
        zk = make_client(ens.hosts([sid]), timeout=5.0)
        try:
            zk.start(timeout=5)
            zk.create("/enospc-recovered", b"x")
            return None
        except NodeExistsError:
            return None  # an earlier attempt of ours went through
        except Exception as e:  # noqa: BLE001 - not yet: say what it does
            state = f"mode {m.srvr(timeout=1.0).get('mode')}, a write through it: " \
                    f"{type(e).__name__}"
        finally:
            zk.stop()
            zk.close()
        time.sleep(0.5)
    return state


# ---------------------------------------------------------------------------------------------
# full disk


@scenario(flavours=DISK_FLAVOURS, ci=("menagerie",))
def test_full_disk_follower(ctx: Context, flavour: str) -> None:
    """A follower's dataLogDir (a small tmpfs) fills up under write load: its log writes
    fail, the leader and the other follower keep acknowledging; the space is freed, the
    member restarted (or, with ENSEMBLE_ENOSPC_NO_RESTART=1, recovers by itself); nothing
    acknowledged is lost."""
    full_disk(ctx, flavour, quorum_needs_it=False)


@scenario(flavours=DISK_FLAVOURS)
def test_full_disk_quorum(ctx: Context, flavour: str) -> None:
    """The other follower is killed, then the remaining follower's dataLogDir fills up: the
    quorum needs the full member's acks, so no write may be acknowledged that it did not log.
    Then the leader is killed, the space freed and the two followers restarted without it:
    every acknowledged write must be on them."""
    full_disk(ctx, flavour, quorum_needs_it=True)


def full_disk(ctx: Context, flavour: str, quorum_needs_it: bool) -> None:
    kinds = require_flavour(flavour)
    if flavour.startswith("mixed"):
        ctx.note(JAVA_BUG_NOTE)
    ens = ctx.ensemble(kinds, extra_cfg={"preAllocSize": PREALLOC_KB})
    victim = _victim(kinds)
    logdir = mount_tmpfs(ctx, TMPFS_SIZE)
    ens.set_member_cfg(victim, "dataLogDir", logdir)
    lead = form(ctx, ens)
    ctx.expect(lead != victim, f"{ens[victim].name} leads; the scenario wants it a follower")
    other = next(s for s in ens.members if s not in (lead, victim))
    wl = Workload(ens, per_member=1, java=1).start()
    writes_resume(ctx, wl, "load running", n=60)
    if quorum_needs_it:
        ens.kill(other)
        ctx.log(f"killed the other follower {ens[other].name}: the quorum needs "
                f"{ens[victim].name}")
        writes_resume(ctx, wl, "two members left", n=20)
    filler = os.path.join(logdir, "filler")
    since = len(ens[victim].log_text())
    n = fill(filler)
    ens[victim].ever_disk_full = True  # a Java leader rightly drops it (javalogs.py)
    t_full = time.monotonic()
    acked_full = wl.acked()
    ctx.log(f"filled {ens[victim].name}'s dataLogDir ({TMPFS_SIZE} tmpfs): {n} bytes of filler")
    effect = wait_effect(ens, victim, since, EFFECT_WAIT)
    ctx.log(f"{ens[victim].name} after {time.monotonic() - t_full:.1f} s: {effect}")
    if quorum_needs_it:
        acked_effect = wl.acked()
        time.sleep(ens.sync_limit * ens.tick / 1000 + 3)
        ctx.log(f"disk full for {time.monotonic() - t_full:.1f} s: "
                f"{wl.acked() - acked_full} writes acknowledged meanwhile, "
                f"{wl.acked() - acked_effect} of them after the full disk showed; "
                f"{ens[victim].name}: {_state(ens, victim)}")
        ens.kill(lead)
        ctx.log(f"killed the leader {ens[lead].name}; only {ens[victim].name} (disk full "
                "until now) and the killed follower can hold what was acknowledged")
    else:
        writes_resume(ctx, wl, "with the follower's disk full", n=60)
        time.sleep(ens.sync_limit * ens.tick / 1000)
        ctx.log(f"{ens[victim].name} after {time.monotonic() - t_full:.1f} s with a full disk: "
                f"{_state(ens, victim)}")
    os.unlink(filler)
    ctx.log("filler removed")
    if quorum_needs_it:
        ens.start_member(other)
    _recover(ctx, ens, victim)
    if quorum_needs_it:
        new = ens.wait_stable(timeout=60, expect=[victim, other])
        ctx.log(f"{ens[new].name} leads {ens[victim].name} and {ens[other].name}")
        writes_resume(ctx, wl, "without the old leader", n=40)
        hist_check_without(ctx, ens, wl, lead)
        return
    ens.wait_stable(timeout=60)
    writes_resume(ctx, wl, f"{ens[victim].name} back", n=40)
    stop_and_check(ctx, ens, wl)


def _state(ens, sid: int) -> str:
    m = ens[sid]
    if not m.alive():
        return f"exited ({m.proc.returncode}); last log lines:\n{m.log_tail(4)}"
    st = m.srvr(timeout=1.0)
    lead = ens.leader()
    lz = ens[lead].srvr().get("zxid") if lead is not None and lead != sid else None
    z = st.get("zxid")
    return (f"running, mode {st.get('mode')}, zxid {hex(z) if z is not None else '?'}"
            + (f" (leader {ens[lead].name} at {lz:#x})" if lz is not None else ""))


def _recover(ctx: Context, ens, victim: int) -> None:
    """After the space is freed: restart the member (the default), or wait for it to serve
    by itself (ENSEMBLE_ENOSPC_NO_RESTART=1: "recovers without restart")."""
    m = ens[victim]
    if os.environ.get(NO_RESTART_ENV):
        why = _serves_again(ens, victim, NO_RESTART_WAIT)
        if why is not None:
            raise Failure(f"recovers without restart: {m.name} does not take a new session and "
                          f"a write within {NO_RESTART_WAIT:.0f} s of the space being freed: "
                          f"{why}")
        ctx.log(f"recovers without restart: {m.name} takes new sessions and writes again")
        return
    if m.alive():
        m.stop()
        ctx.log(f"stopped {m.name} (SIGTERM) to restart it")
    else:
        ctx.log(f"{m.name} had exited ({m.proc.returncode})")
    m.start()
    ctx.log(f"restarted {m.name}")


def hist_check_without(ctx: Context, ens, wl: Workload, down: int) -> None:
    """Checks with `down` still stopped (the survivors must hold every acknowledged write),
    then starts it and checks the same history again including it."""
    from checker import check
    hist = wl.stop()
    for phase in ("without", "with"):
        if phase == "with":
            ens.start_member(down)
            ens.wait_stable(timeout=60)
        ctx.log(f"checking {phase} {ens[down].name}")
        res = check(ens, hist)
        for line in res.text.splitlines():
            ctx.log(line)
        if not res.ok:
            path = os.path.join(ens.workdir, "history.jsonl")
            hist.dump(path)
            raise Failure(f"{phase} {ens[down].name}: " + "; ".join(res.violations)
                          + f"\n{res.text}\nhistory: {path}")


# ---------------------------------------------------------------------------------------------
# torn log tails


@scenario(flavours=DISK_FLAVOURS, ci=("menagerie",))
def test_torn_tail_cut(ctx: Context, flavour: str) -> None:
    """kill -9 of the leader under write load; its newest log file is cut half-way into its
    last record; restarted, it drops the torn record, rejoins and catches up; nothing
    acknowledged is lost and its logs read back to its last zxid."""
    torn_tail(ctx, flavour, leader=True, tear=txnlog.cut_last)


@scenario(flavours=DISK_FLAVOURS)
def test_torn_tail_unfinished(ctx: Context, flavour: str) -> None:
    """kill -9 of a follower under write load; an unfinished record (checksum, length, part
    of a body, then zeros) is written after its newest log's last record; restarted, it
    ignores it, rejoins and catches up, and what it logs afterwards reads back."""
    torn_tail(ctx, flavour, leader=False, tear=txnlog.unfinished_after_last)


def torn_tail(ctx: Context, flavour: str, leader: bool, tear) -> None:
    kinds = require_flavour(flavour)
    if flavour.startswith("mixed"):
        ctx.note(JAVA_BUG_NOTE)
    ens = ctx.ensemble(kinds)
    lead = form(ctx, ens)
    victim = lead if leader else _victim(kinds)
    wl = Workload(ens, per_member=1, java=1).start()
    writes_resume(ctx, wl, "load running", n=80)
    ens.kill(victim)
    ctx.log(f"killed {'leader' if leader else 'follower'} {ens[victim].name} (-9)")
    v2 = os.path.join(ens[victim].data_dir, "version-2")
    ctx.log(f"torn: {tear(v2)}")
    writes_resume(ctx, wl, "without it", n=40)
    ens.start_member(victim)
    ens.wait_stable(timeout=60)
    ctx.log(f"{ens[victim].name} restarted and rejoined as {ens[victim].mode()}")
    writes_resume(ctx, wl, "rejoined", n=60)
    stop_and_check(ctx, ens, wl)
    last = ens[victim].srvr().get("zxid")
    ens[victim].stop()
    bad = txnlog.readable_problems(v2, last or 0)
    ctx.log(f"{ens[victim].name} stopped at zxid {last:#x}; its logs read back: "
            + ("OK" if not bad else "; ".join(bad)))
    if bad:
        raise Failure(f"{ens[victim].name}'s logs after the torn tail: " + "; ".join(bad))


@scenario(flavours=DISK_FLAVOURS)
def test_torn_tail_all(ctx: Context, flavour: str) -> None:
    """Every member is killed (-9) under write load and gets an unfinished record after its
    newest log's last record; all restart, serve, are killed and restarted again (so what
    they logged after the torn tail is read back too): nothing acknowledged is lost."""
    kinds = require_flavour(flavour)
    if flavour.startswith("mixed"):
        ctx.note(JAVA_BUG_NOTE)
    ens = ctx.ensemble(kinds)
    form(ctx, ens)
    wl = Workload(ens, per_member=1, java=1).start()
    writes_resume(ctx, wl, "load running", n=80)
    for round_ in (1, 2):
        for m in ens:
            m.kill()
        ctx.log(f"round {round_}: killed every member (-9)")
        if round_ == 1:
            for m in ens:
                v2 = os.path.join(m.data_dir, "version-2")
                ctx.log(f"{m.name}: {txnlog.unfinished_after_last(v2)}")
        ens.start()
        lead = ens.wait_stable(timeout=60)
        ctx.log(f"round {round_}: all restarted, {ens[lead].name} leads")
        writes_resume(ctx, wl, f"round {round_}: serving again", n=60)
    stop_and_check(ctx, ens, wl)
    last = {m.sid: m.srvr().get("zxid") or 0 for m in ens}
    for m in ens:
        m.stop()
    bad = [f"{ens[s].name}: {b}" for s, z in last.items()
           for b in txnlog.readable_problems(os.path.join(ens[s].data_dir, "version-2"), z)]
    ctx.log("every member's logs read back: " + ("OK" if not bad else "; ".join(bad)))
    if bad:
        raise Failure("logs after torn tails: " + "; ".join(bad))
