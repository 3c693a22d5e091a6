"""Scenarios: dynamic reconfiguration (``reconfigEnabled=true``) under write load. A client
with the super digest removes a follower, adds it back, then removes the leader, with kazoo's
``reconfig``; after each step every member must serve the same ``/zookeeper/config`` (the
new membership, its version the reconfig's zxid) and writes must go on. The usual checker
then looks for lost, phantom or divergent data on every member of the final configuration.

A removed Menagerie member keeps learning as a non-voting observer; a removed Java member
stays LOOKING, and Java members drop election connections from servers outside their
configuration, so in mixed ensembles a removed member is not required to serve, and one
that does not serve when the workload stops is stopped before the check."""

from __future__ import annotations

import time

from kazoo.client import KazooClient
from kazoo.retry import KazooRetry

from registry import JAVA_BUG_NOTE, Context, Failure, require_flavour, scenario
from steps import form, stop_and_check, writes_resume
from workload import Workload

RECONFIG_FLAVOURS = ("java", "menagerie", "mixed-mlead", "mixed-jlead")
# super:test (zoo.cfg keys Java turns into zookeeper.* system properties)
SUPER_CFG = {
    "reconfigEnabled": "true",
    "DigestAuthenticationProvider.superDigest": "super:D/InIHSb7yEEbrWz8b9l71RjZJU=",
}
AGREE_TIMEOUT = 60.0


def _super_client(hosts: str) -> KazooClient:
    zk = KazooClient(hosts=hosts, timeout=10.0, auth_data=[("digest", "super:test")],
                     connection_retry=KazooRetry(max_tries=-1, delay=0.1, max_delay=1.0),
                     command_retry=None)
    zk.start(timeout=30)
    return zk


def _config_on(ens, sid: int) -> str:
    zk = KazooClient(hosts=ens.hosts([sid]), timeout=10.0)
    zk.start(timeout=15)
    try:
        zk.sync("/zookeeper/config")
        return zk.get("/zookeeper/config")[0].decode()
    finally:
        zk.stop()
        zk.close()


def _servers(text: str) -> dict[int, str]:
    out = {}
    for line in text.splitlines():
        if line.startswith("server."):
            k, v = line.split("=", 1)
            out[int(k.removeprefix("server."))] = v
    return out


def _agree(ctx: Context, ens, want: str, sids: list[int]) -> None:
    """Every member in `sids` serves `want` as /zookeeper/config (bounded wait)."""
    deadline = time.monotonic() + AGREE_TIMEOUT
    seen: dict[int, str] = {}
    while time.monotonic() < deadline:
        seen = {}
        for s in sids:
            try:
                seen[s] = _config_on(ens, s)
            except Exception as e:  # noqa: BLE001 (a member between roles)
                seen[s] = f"<{type(e).__name__}>"
        if all(v == want for v in seen.values()):
            ctx.log(f"members {sids} serve the new configuration "
                    f"(version {want.rsplit('=', 1)[-1]})")
            return
        time.sleep(0.5)
    raise Failure(f"members disagree on /zookeeper/config after {AGREE_TIMEOUT:.0f} s; "
                  f"wanted {want!r}, saw {seen}")


def _reconfig(ctx: Context, admin: KazooClient, **kw) -> str:
    """Runs one reconfig; returns the committed configuration. Removing the leader may close
    the connection before the answer arrives (Java's leader drops its clients at once): the
    outcome is then read back, as an operator would, from /zookeeper/config."""
    from kazoo.exceptions import ConnectionLoss
    t = time.monotonic()
    try:
        data, _ = admin.reconfig(joining=kw.get("joining"), leaving=kw.get("leaving"),
                                 new_members=None)
        text = data.decode()
    except ConnectionLoss:
        ctx.log(f"reconfig {kw}: connection lost before the answer; reading the outcome")
        leaving = kw.get("leaving")
        deadline = time.monotonic() + AGREE_TIMEOUT
        text = ""
        while time.monotonic() < deadline:
            try:
                admin.sync("/zookeeper/config")
                text = admin.get("/zookeeper/config")[0].decode()
                if leaving is None or int(leaving) not in _servers(text):
                    break
            except Exception:  # noqa: BLE001 (reconnecting)
                pass
            time.sleep(0.5)
        else:
            raise Failure(f"reconfig {kw}: connection lost and the change is not visible: {text!r}")
    ctx.log(f"reconfig {kw} acknowledged in {time.monotonic() - t:.2f} s")
    return text


@scenario(flavours=RECONFIG_FLAVOURS, ci=("menagerie",))
def test_reconfig_members(ctx: Context, flavour: str) -> None:
    """Removing a follower, adding it back, removing the leader and restarting the rest keep
    every write."""
    kinds = require_flavour(flavour)
    if flavour.startswith("mixed"):
        ctx.note(JAVA_BUG_NOTE)
    ens = ctx.ensemble(kinds, extra_cfg=SUPER_CFG)
    leader = form(ctx, ens)
    sids = sorted(ens.members)
    wl = Workload(ens, per_member=1, rate=30.0).start()
    writes_resume(ctx, wl, "under load", n=20)
    admin = _super_client(ens.hosts())
    try:
        start = _config_on(ens, leader)
        lines = _servers(start)
        if start.endswith("version=0"):
            raise Failure(f"the first leader did not version the configuration: {start!r}")
        follower = max(s for s in sids if s != leader)
        text = _reconfig(ctx, admin, leaving=str(follower))
        if follower in _servers(text):
            raise Failure(f"server.{follower} still in the new configuration: {text!r}")
        _agree(ctx, ens, text, [s for s in sids if s != follower])
        writes_resume(ctx, wl, f"{ens[follower].name} removed", n=20)

        m = ens[follower]
        joining = f"server.{follower}={lines[follower].split(';')[0]};{m.host}:{m.client_port}"
        text = _reconfig(ctx, admin, joining=joining)
        if follower not in _servers(text):
            raise Failure(f"server.{follower} not added: {text!r}")
        _agree(ctx, ens, text, sids)
        writes_resume(ctx, wl, f"{ens[follower].name} added back", n=20)

        text = _reconfig(ctx, admin, leaving=str(leader))
        if leader in _servers(text):
            raise Failure(f"the leader is still in the new configuration: {text!r}")
        new_leader = ens.wait_stable(60, expect=[s for s in sids if s != leader])
        if new_leader == leader:
            raise Failure("the removed leader still leads")
        ctx.log(f"leader {ens[leader].name} removed; {ens[new_leader].name} leads")
        remaining = [s for s in sids if s != leader]
        _agree(ctx, ens, text, remaining)
        writes_resume(ctx, wl, "leader removed", n=20)

        # Each member comes back from its own files (zoo.cfg rewritten to point at the
        # dynamic file the reconfiguration wrote) with the same configuration.
        for s in remaining:
            ens.restart(s)
            ens.wait_stable(60, expect=remaining)
            _agree(ctx, ens, text, remaining)
            writes_resume(ctx, wl, f"{ens[s].name} restarted from its rewritten zoo.cfg", n=10)
    finally:
        admin.stop()
        admin.close()
    _stop_if_not_serving(ctx, ens, leader)
    stop_and_check(ctx, ens, wl)


def _stop_if_not_serving(ctx: Context, ens, sid: int, timeout: float = 10.0) -> None:
    """A member removed from the configuration that does not serve (a Java one) is stopped."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ens[sid].mode() in ("leader", "follower", "observer"):
            ctx.log(f"removed {ens[sid].name} serves as {ens[sid].mode()}")
            return
        time.sleep(0.5)
    ctx.log(f"removed {ens[sid].name} does not serve (mode {ens[sid].mode()}); stopped")
    ens.stop_member(sid)


@scenario(flavours=("java", "menagerie"), ci=("menagerie",))
def test_reconfig_zkcli(ctx: Context, flavour: str) -> None:
    """zkCli.sh's reconfig and config (the Java client's ZooKeeperAdmin) remove and add a
    member: the shell prints the committed configuration, and config shows it."""
    import zkcli_test  # tests/compat, on the path through ensemble.py

    kinds = require_flavour(flavour)
    ens = ctx.ensemble(kinds, extra_cfg=SUPER_CFG)
    leader = form(ctx, ens)
    follower = max(s for s in ens.members if s != leader)
    lines = _servers(_config_on(ens, leader))
    m = ens[follower]
    joining = f"server.{follower}={lines[follower].split(';')[0]};{m.host}:{m.client_port}"
    cmds = ["addauth digest super:test", f"reconfig -remove {follower}", "config",
            f"reconfig -add {joining}", "config"]
    blocks, _, raw = zkcli_test.run_piped(ens[leader].hostport, cmds)
    if len(blocks) < len(cmds):
        raise Failure(f"zkCli printed {len(blocks)} of {len(cmds)} blocks:\n{raw[-2000:]}")
    removed, shown, added, shown_after = blocks[1], blocks[2], blocks[3], blocks[4]
    ctx.log(f"zkCli reconfig -remove: {removed}")
    if not removed or removed[0] != "Committed new configuration:" or any(
            ln.startswith(f"server.{follower}=") for ln in removed):
        raise Failure(f"reconfig -remove printed {removed}")
    if shown != removed[1:]:
        raise Failure(f"config after -remove printed {shown}, reconfig printed {removed[1:]}")
    if joining not in added:
        raise Failure(f"reconfig -add printed {added} (no {joining!r})")
    if shown_after != added[1:]:
        raise Failure(f"config after -add printed {shown_after}, reconfig printed {added[1:]}")
    _agree(ctx, ens, "\n".join(added[1:]), sorted(ens.members))


@scenario(flavours=("java", "menagerie"), ci=("menagerie",))
def test_reconfig_client_port(ctx: Context, flavour: str) -> None:
    """A reconfiguration that gives a member a new client port moves its listener: clients
    reach it on the new port at once, and the old port stops accepting."""
    import socket

    from ensemble import free_ports

    kinds = require_flavour(flavour)
    ens = ctx.ensemble(kinds, extra_cfg=SUPER_CFG)
    leader = form(ctx, ens)
    follower = max(s for s in ens.members if s != leader)
    m = ens[follower]
    lines = _servers(_config_on(ens, leader))
    new_port = free_ports(1)[0]
    joining = f"server.{follower}={lines[follower].split(';')[0]};{m.host}:{new_port}"
    admin = _super_client(ens.hosts([leader]))
    try:
        text = _reconfig(ctx, admin, joining=joining)
    finally:
        admin.stop()
        admin.close()
    deadline = time.monotonic() + 20
    seen = ""
    while time.monotonic() < deadline:
        try:
            zk = KazooClient(hosts=f"{m.host}:{new_port}", timeout=5.0)
            zk.start(timeout=5)
            zk.sync("/zookeeper/config")
            seen = zk.get("/zookeeper/config")[0].decode()
            zk.stop()
            zk.close()
            if seen == text:
                break
        except Exception:  # noqa: BLE001 (not listening yet)
            time.sleep(0.3)
    if seen != text:
        raise Failure(f"{m.name} not serving the new configuration on port {new_port}: {seen!r}")
    ctx.log(f"{m.name} serves on its new client port {new_port}")
    old_open = True
    for _ in range(40):
        try:
            with socket.create_connection((m.host, m.client_port), timeout=1):
                pass
            time.sleep(0.25)
        except OSError:
            old_open = False
            break
    if old_open:
        raise Failure(f"{m.name} still accepts clients on its old port {m.client_port}")
    ctx.log(f"old client port {m.client_port} closed")
