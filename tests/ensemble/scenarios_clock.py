"""Scenarios: wall-clock jumps on a real process. The leader runs under libfaketime
(``LD_PRELOAD``, offset read from a control file) with its monotonic clock left alone, as when
NTP steps the system clock: its wall clock jumps an hour forward, then an hour back.

Sessions must neither expire because of a forward jump nor outlive their timeout because of
a backward one (ZooKeeper times sessions on the monotonic clock); the txn times the leader
stamps prove that the jump took effect. Skipped, saying why, without libfaketime
(``apt install faketime``)."""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import time

from registry import Context, Failure, Skip, require_flavour, scenario
from steps import form, stop_and_check, writes_resume
from workload import Workload, make_client

JUMP = 3600  # seconds
SESSION_TIMEOUT = 4.0
EXPIRY_BOUND = 30.0  # seconds for a dead session's ephemeral to go
CACHE = 1  # libfaketime re-reads the control file at most once a second

OWNER = """
import sys, time
from kazoo.client import KazooClient
zk = KazooClient(hosts=sys.argv[1], timeout=float(sys.argv[3]))
zk.start(timeout=30)
zk.create(sys.argv[2], b"owner", ephemeral=True, makepath=True)
print("ready", flush=True)
time.sleep(3600)
"""


def libfaketime() -> str:
    for pat in ("/usr/lib/*/faketime/libfaketimeMT.so.1", "/usr/lib/faketime/libfaketimeMT.so.1",
                "/usr/local/lib/faketime/libfaketimeMT.so.1"):
        found = glob.glob(pat)
        if found:
            return found[0]
    raise Skip("clock jumps need libfaketime (apt install faketime)")


def set_offset(path: str, seconds: int) -> None:
    with open(path + ".tmp", "w") as f:
        f.write(f"{seconds:+d}\n")
    os.replace(path + ".tmp", path)


def _ctime_offset(zk, path: str) -> float:
    """Seconds between the ctime the leader stamped on a new node and now."""
    _, st = zk.create(path, b"t", include_data=True)
    return st.ctime / 1000.0 - time.time()


def _wait_offset(ctx: Context, zk, want: int, tag: str) -> float:
    """Creates probe nodes until their ctime shows the leader's clock `want` seconds off."""
    deadline = time.monotonic() + 20
    off = 0.0
    i = 0
    while time.monotonic() < deadline:
        off = _ctime_offset(zk, f"/clock-{tag}-{i}")
        i += 1
        if abs(off - want) < 120:
            ctx.log(f"leader's txn times now {off:+.0f} s off real time")
            return off
        time.sleep(0.5)
    raise Failure(f"the leader's clock did not jump to {want:+d} s (ctime offset {off:+.0f} s): "
                  "libfaketime had no effect")


class Owner:
    """A separate process holding a session with an ephemeral node; kill() = a dead client."""

    def __init__(self, hosts: str, path: str):
        from ensemble import _reaper
        self.path = path
        self.proc = subprocess.Popen([sys.executable, "-c", OWNER, hosts, path,
                                      str(SESSION_TIMEOUT)], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True,
                                     start_new_session=True)
        _reaper.tell(f"+{self.proc.pid}")
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if "ready" not in line:
            self.kill()
            raise Failure(f"the ephemeral owner did not start: {line!r}")

    def kill(self) -> None:
        from ensemble import _reaper
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 9)
        self.proc.wait(timeout=10)
        _reaper.tell(f"-{self.proc.pid}")


# Menagerie only: a Java member under libfaketime (even with the monotonic clock left alone)
# hangs in the leader's discovery phase (its timed waits go through libfaketime), so Java
# gives no baseline here.
@scenario(flavours=("menagerie",))
def test_clock_jumps_leader(ctx: Context, flavour: str) -> None:
    """The leader's wall clock jumps an hour forward, then an hour back (monotonic clock
    untouched), under write load with 4 s sessions: no session expires wrongly, a dead
    client's session still expires in time, nothing acknowledged is lost."""
    kinds = require_flavour(flavour)
    lib = libfaketime()
    ens = ctx.ensemble(kinds)
    top = max(kinds)
    ctl = os.path.join(ens.workdir, "faketime.offset")
    set_offset(ctl, 0)
    ens[top].extra_env = {"LD_PRELOAD": lib, "FAKETIME_TIMESTAMP_FILE": ctl,
                          "FAKETIME_CACHE_DURATION": str(CACHE),
                          "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
    lead = form(ctx, ens)
    ctx.expect(lead == top, f"{ens[lead].name} leads, not the faked {ens[top].name}")
    follower = next(s for s in ens.members if s != lead)
    wl = Workload(ens, per_member=1, java=1, session_timeout=SESSION_TIMEOUT).start()
    writes_resume(ctx, wl, "load running", n=60)
    owner = Owner(ens.hosts([follower]), "/clock/owned")
    zk = make_client(ens.hosts())
    zk.start(timeout=30)
    try:
        set_offset(ctl, JUMP)
        _wait_offset(ctx, zk, JUMP, "fwd")
        time.sleep(2 * SESSION_TIMEOUT)
        writes_resume(ctx, wl, f"clock {JUMP:+d} s", n=60)
        ctx.expect(ens.leader() == lead, "the leader changed after its clock jumped forward")
        ctx.expect(zk.exists("/clock/owned") is not None,
                   "a live client's ephemeral vanished after the leader's clock jumped forward")
        set_offset(ctl, -JUMP)
        _wait_offset(ctx, zk, -JUMP, "back")
        t = time.monotonic()
        owner.kill()
        while zk.exists("/clock/owned") is not None:
            if time.monotonic() - t > EXPIRY_BOUND:
                raise Failure(f"a dead client's session did not expire within {EXPIRY_BOUND:.0f}"
                              f" s (timeout {SESSION_TIMEOUT:.0f} s) with the leader's clock "
                              f"{-JUMP:+d} s")
            time.sleep(0.2)
        ctx.log(f"dead client's ephemeral gone {time.monotonic() - t:.1f} s after the kill, "
                f"clock {-JUMP:+d} s")
        writes_resume(ctx, wl, f"clock {-JUMP:+d} s", n=60)
        set_offset(ctl, 0)
        _wait_offset(ctx, zk, 0, "zero")
        writes_resume(ctx, wl, "clock back to real time", n=40)
    finally:
        owner.kill()
        zk.stop()
        zk.close()
    expired = [r for w in wl.kazoo for r in w.records if r["err"] == "SessionExpiredError"]
    stop_and_check(ctx, ens, wl)
    if expired:
        raise Failure(f"{len(expired)} operations saw their session expire while the leader's "
                      f"clock jumped (first: {expired[0]['cid']} {expired[0]['op']})")
