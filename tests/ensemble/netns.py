"""Network partitions for ensemble members: each member runs in a network namespace of its own,
all of them joined by a bridge in a hub namespace; the test process reaches every member over
one veth pair from the root namespace.

    lab = NetLab([1, 2, 3])           # raises Unavailable (say why) where namespaces are refused
    ens = Ensemble(kinds, net=lab)    # members bind 10.x.y.<sid>, run via `ip netns exec`
    lab.cut(1, 2)                     # 1 -> 2 packets dropped (one-way)
    lab.isolate(1)                    # 1 <-> everyone else, both ways
    lab.heal()                        # every cut removed
    lab.close()                       # namespaces (and with them every veth and the bridge) gone

Layout (names carry a per-run prefix ``mzt<pid>-``, so concurrent runs do not meet):

* ``<prefix>hub``: bridge ``br0``; one port per member (``v<sid>``) and ``up0``, the peer
  of ``mzt<pid>h`` in the root namespace, which holds ``10.x.y.254/24`` (the only thing this
  module puts in the root namespace: one interface and its connected /24 route, both gone
  when the hub namespace is deleted);
* ``<prefix>m<sid>``: ``lo`` and ``eth0`` with ``10.x.y.<sid>/24``.

The /24 is chosen among ``10.213.0.0/16`` so that it overlaps no route of the root namespace.
A cut from A to B is a ``blackhole`` route for B's address inside A's namespace: A's packets
to B vanish silently (like a broken link: no reset, no ICMP); the clients' path (10.x.y.254)
is never cut. Only ``iproute2`` is needed.

Clean-up: ``close()`` deletes the namespaces; the harness's reaper child (ensemble.py) deletes
them too should this process be killed, and ``NetLab`` deletes namespaces left by earlier runs
whose process is gone.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess

PREFIX = f"mzt{os.getpid()}-"
ROOT_IF = f"mzt{os.getpid()}h"
_LEFTOVER = re.compile(r"^mzt(\d+)-")
SUBNET_BASE = "10.213"
CMD_TIMEOUT = 10.0


class Unavailable(RuntimeError):
    """Network namespaces cannot be used here (not root, no iproute2, refused by the kernel)."""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    p = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=CMD_TIMEOUT)
    if check and p.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {p.stderr.strip() or p.returncode}")
    return p


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_leftovers() -> list[str]:
    """Deletes namespaces of earlier runs whose process is gone; returns their names."""
    if shutil.which("ip") is None:
        return []
    p = _ip("netns", "list", check=False)
    gone = []
    for line in p.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        m = _LEFTOVER.match(name)
        if m and int(m.group(1)) != os.getpid() and not _pid_alive(int(m.group(1))):
            _ip("netns", "del", name, check=False)
            gone.append(name)
    return gone


def unavailable_reason() -> str | None:
    """None when this process may create network namespaces, veth pairs and bridges; else
    why not (the scenarios skip with it)."""
    if shutil.which("ip") is None:
        return "iproute2's `ip` is not installed (apt install iproute2)"
    if os.geteuid() != 0:
        return "network namespaces need root (CAP_NET_ADMIN and CAP_SYS_ADMIN); running as uid " \
               f"{os.geteuid()}"
    probe = f"{PREFIX}probe"
    p = _ip("netns", "add", probe, check=False)
    if p.returncode != 0:
        return f"`ip netns add` refused: {p.stderr.strip()}"
    try:
        q = _ip("-n", probe, "link", "add", "b0", "type", "bridge", check=False)
        if q.returncode != 0:
            return f"creating a bridge in a network namespace refused: {q.stderr.strip()}"
        q = _ip("-n", probe, "link", "add", "va", "type", "veth", "peer", "name", "vb",
                check=False)
        if q.returncode != 0:
            return f"creating a veth pair refused: {q.stderr.strip()}"
        q = _ip("netns", "exec", probe, "true", check=False)
        if q.returncode != 0:
            return f"`ip netns exec` refused: {q.stderr.strip()}"
    finally:
        _ip("netns", "del", probe, check=False)
    return None


def _free_subnet() -> str:
    """A 10.213.N prefix that no route of the root namespace covers."""
    routes = _ip("-4", "route", "show", "table", "all", check=False).stdout
    used = set(re.findall(r"\b10\.213\.(\d+)\.", routes))
    if re.search(r"\b10\.0\.0\.0/8\b|\b10\.213\.0\.0/16\b", routes):
        raise Unavailable("the root namespace routes 10.213.0.0/16 already; no free subnet")
    free = [n for n in range(1, 255) if str(n) not in used]
    if not free:
        raise Unavailable("no free /24 in 10.213.0.0/16")
    return f"{SUBNET_BASE}.{random.choice(free)}"


class NetLab:
    """Namespaces for the members `sids`; see the module doc."""

    def __init__(self, sids: list[int]):
        from ensemble import _reaper
        sweep_leftovers()
        why = unavailable_reason()
        if why:
            raise Unavailable(why)
        self.sids = list(sids)
        self.hub = f"{PREFIX}hub"
        self.subnet = _free_subnet()
        self.cuts: set[tuple[int, int]] = set()
        self.closed = False
        self.names = [self.hub] + [self.ns(s) for s in self.sids]
        for name in self.names:
            _reaper.tell(f"N+{name}")
        try:
            self._build()
        except Exception:
            self.close()
            raise

    # -- layout
    def ns(self, sid: int) -> str:
        return f"{PREFIX}m{sid}"

    def host(self, sid: int) -> str:
        """The member's address (inside its namespace)."""
        return f"{self.subnet}.{sid}"

    def exec_prefix(self, sid: int) -> list[str]:
        """The command prefix that runs a program inside the member's namespace (it execs, so
        the pid is the program's)."""
        return ["ip", "netns", "exec", self.ns(sid)]

    def _build(self) -> None:
        hub = self.hub
        _ip("netns", "add", hub)
        _ip("-n", hub, "link", "set", "lo", "up")
        _ip("-n", hub, "link", "add", "br0", "type", "bridge")
        _ip("-n", hub, "link", "set", "br0", "up")
        _ip("link", "add", ROOT_IF, "type", "veth", "peer", "name", "up0", "netns", hub)
        _ip("-n", hub, "link", "set", "up0", "master", "br0", "up")
        _ip("addr", "add", f"{self.subnet}.254/24", "dev", ROOT_IF)
        _ip("link", "set", ROOT_IF, "up")
        for sid in self.sids:
            ns = self.ns(sid)
            _ip("netns", "add", ns)
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", hub, "link", "add", f"v{sid}", "type", "veth", "peer", "name", "eth0",
                "netns", ns)
            _ip("-n", hub, "link", "set", f"v{sid}", "master", "br0", "up")
            _ip("-n", ns, "addr", "add", f"{self.host(sid)}/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")

    # -- faults
    def cut(self, a: int, b: int) -> None:
        """a's packets to b are dropped (one way); b may still send to a."""
        if (a, b) not in self.cuts:
            _ip("-n", self.ns(a), "route", "add", "blackhole", f"{self.host(b)}/32")
            self.cuts.add((a, b))

    def mend(self, a: int, b: int) -> None:
        if (a, b) in self.cuts:
            _ip("-n", self.ns(a), "route", "del", "blackhole", f"{self.host(b)}/32",
                check=False)
            self.cuts.discard((a, b))

    def split(self, side_a: list[int], side_b: list[int]) -> None:
        """No packet between the two sides, either way."""
        for a in side_a:
            for b in side_b:
                self.cut(a, b)
                self.cut(b, a)

    def isolate(self, sid: int) -> None:
        """`sid` cut off from every other member, both ways (clients still reach it)."""
        self.split([sid], [s for s in self.sids if s != sid])

    def heal(self) -> None:
        for a, b in sorted(self.cuts):
            self.mend(a, b)

    def describe(self) -> str:
        return ", ".join(f"{a}->{b}" for a, b in sorted(self.cuts)) or "none"

    # -- teardown
    def close(self) -> None:
        """Deletes every namespace (members' processes must be stopped first: a namespace
        lives on while a process is inside it)."""
        from ensemble import _reaper
        if self.closed:
            return
        self.closed = True
        for name in reversed(self.names):
            _ip("netns", "del", name, check=False)
            _reaper.tell(f"N-{name}")
        _ip("link", "del", ROOT_IF, check=False)

    def leftovers(self) -> list[str]:
        """Our namespaces or root interface still present (should be none after close)."""
        names = set(_ip("netns", "list", check=False).stdout.split())
        left = [n for n in self.names if n in names]
        if _ip("link", "show", ROOT_IF, check=False).returncode == 0:
            left.append(ROOT_IF)
        return left
