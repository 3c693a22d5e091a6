"""kazoo's recipes, unchanged, with several clients at once, against each server.

    python3 tests/compat/recipes_test.py                          # java and menagerie
    python3 tests/compat/recipes_test.py --servers menagerie

Every recipe runs with its own KazooClient per participant (separate sessions and TCP
connections), the way applications use them, and checks the recipe's promise rather than
timings: Lock/WriteLock/ReadLock mutual exclusion and no lost updates, Semaphore lease limit,
Election has exactly one leader at a time and fails over when the leader's session closes,
Barrier and DoubleBarrier release together, Counter sums concurrent increments, Queue and
LockingQueue deliver every item exactly once (Queue in priority order), Party and ShallowParty
membership, DataWatch and ChildrenWatch see every change in order, TreeCache mirrors a subtree,
SetPartitioner splits a set among members, NonBlockingLease is exclusive.

One ``TESTRESULT`` line per recipe and server: ``recipes[<recipe>:<server>]``.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from kazoo.client import KazooClient  # noqa: E402
from kazoo.exceptions import ConnectionClosedError  # noqa: E402
from kazoo.recipe.partitioner import PartitionState  # noqa: E402

import zkserver  # noqa: E402

PARTICIPANTS = 4
DEADLINE = 60.0  # seconds per recipe


class Clients:
    """N started clients against one server; all stopped on exit."""

    def __init__(self, hostport: str, n: int):
        self.hostport = hostport
        self.all: list[KazooClient] = []
        for _ in range(n):
            self.new()

    def new(self) -> KazooClient:
        c = KazooClient(hosts=self.hostport, timeout=10.0)
        c.start(timeout=15)
        self.all.append(c)
        return c

    def __getitem__(self, i: int) -> KazooClient:
        return self.all[i]

    def close(self) -> None:
        for c in self.all:
            try:
                c.stop()
                c.close()
            except Exception:  # noqa: BLE001
                pass


def run_threads(fns: list[Callable[[], None]], timeout: float = DEADLINE) -> None:
    """Runs every function in its own thread; re-raises the first failure."""
    errors: list[BaseException] = []

    def wrap(f: Callable[[], None]) -> Callable[[], None]:
        def go() -> None:
            try:
                f()
            except BaseException as e:  # noqa: BLE001
                errors.append(e)
        return go

    threads = [threading.Thread(target=wrap(f), daemon=True) for f in fns]
    for t in threads:
        t.start()
    end = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, end - time.monotonic()))
    if any(t.is_alive() for t in threads):
        raise AssertionError("participants still running after the deadline")
    if errors:
        raise errors[0]


def wait_for(cond: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


# ---- recipes ------------------------------------------------------------------------------

def lock(cs: Clients) -> None:
    """Read-modify-write of one znode under a Lock: no update lost, never two holders."""
    cs[0].ensure_path("/r/lock/value")
    cs[0].set("/r/lock/value", b"0")
    holders = [0]
    guard = threading.Lock()
    rounds = 15

    def worker(c: KazooClient, ident: str) -> Callable[[], None]:
        def go() -> None:
            lk = c.Lock("/r/lock/mutex", ident)
            for _ in range(rounds):
                with lk:
                    with guard:
                        holders[0] += 1
                        assert holders[0] == 1, "two lock holders at once"
                    v, _ = c.get("/r/lock/value")
                    c.set("/r/lock/value", str(int(v) + 1).encode())
                    with guard:
                        holders[0] -= 1
        return go

    run_threads([worker(c, f"w{i}") for i, c in enumerate(cs.all)])
    v, _ = cs[0].get("/r/lock/value")
    assert int(v) == rounds * len(cs.all), f"lost updates: {v!r}"
    assert cs[0].get_children("/r/lock/mutex") == [], "lock nodes left behind"


def rw_lock(cs: Clients) -> None:
    """ReadLocks share, a WriteLock excludes readers and writers."""
    state = {"readers": 0, "writers": 0, "max_readers": 0}
    guard = threading.Lock()

    def reader(c: KazooClient) -> Callable[[], None]:
        def go() -> None:
            for _ in range(5):
                with c.ReadLock("/r/rw"):
                    with guard:
                        assert state["writers"] == 0, "reader inside a write lock"
                        state["readers"] += 1
                        state["max_readers"] = max(state["max_readers"], state["readers"])
                    time.sleep(0.05)
                    with guard:
                        state["readers"] -= 1
        return go

    def writer(c: KazooClient) -> Callable[[], None]:
        def go() -> None:
            for _ in range(5):
                with c.WriteLock("/r/rw"):
                    with guard:
                        assert state["readers"] == 0 and state["writers"] == 0, "writer not alone"
                        state["writers"] += 1
                    time.sleep(0.01)
                    with guard:
                        state["writers"] -= 1
        return go

    run_threads([reader(cs[0]), reader(cs[1]), reader(cs[2]), writer(cs[3])])
    assert state["max_readers"] >= 2, "read locks never overlapped"


def semaphore(cs: Clients) -> None:
    """At most max_leases holders at once."""
    inside = [0, 0]  # current, maximum
    guard = threading.Lock()

    def worker(c: KazooClient, ident: str) -> Callable[[], None]:
        def go() -> None:
            sem = c.Semaphore("/r/sem", ident, max_leases=2)
            for _ in range(4):
                with sem:
                    with guard:
                        inside[0] += 1
                        inside[1] = max(inside[1], inside[0])
                        assert inside[0] <= 2, "more holders than leases"
                    time.sleep(0.03)
                    with guard:
                        inside[0] -= 1
        return go

    run_threads([worker(c, f"s{i}") for i, c in enumerate(cs.all)])
    assert inside[1] == 2, f"the two leases were never both used: {inside}"


def election(cs: Clients) -> None:
    """One leader at a time; when the leader's client stops, another takes over."""
    leaders: list[str] = []
    current = [0]
    guard = threading.Lock()
    release = {i: threading.Event() for i in range(len(cs.all))}

    def lead(i: int) -> Callable[[], None]:
        def go() -> None:
            with guard:
                current[0] += 1
                assert current[0] == 1, "two leaders at once"
                leaders.append(f"c{i}")
            release[i].wait(DEADLINE)
            with guard:
                current[0] -= 1
        return go

    elections = [c.Election("/r/election", f"c{i}") for i, c in enumerate(cs.all)]

    def contend(i: int) -> None:
        try:
            elections[i].run(lead(i))
        except ConnectionClosedError:
            pass  # the leader's own client was stopped under it: that is the test

    threads = [threading.Thread(target=contend, args=(i,), daemon=True)
               for i in range(len(elections))]
    for t in threads:
        t.start()
    for n in range(1, len(cs.all) + 1):
        wait_for(lambda: len(leaders) >= n, f"leader #{n}")
        who = int(leaders[-1][1:])
        if n == 1:
            contenders = elections[0].contenders()
            assert len(contenders) == len(cs.all), f"contenders: {contenders}"
        # The leader's session ends abruptly (no cancel): the others must notice the
        # ephemeral going away.
        release[who].set()
        cs[who].stop()
    for t in threads:
        t.join(10)
    assert sorted(leaders) == sorted(f"c{i}" for i in range(len(cs.all))), leaders


def barrier(cs: Clients) -> None:
    """Waiters block while the barrier node exists and all pass when it is removed."""
    b = cs[0].Barrier("/r/barrier")
    b.create()
    passed: list[int] = []

    def waiter(i: int, c: KazooClient) -> Callable[[], None]:
        def go() -> None:
            assert c.Barrier("/r/barrier").wait(timeout=30), "barrier wait timed out"
            passed.append(i)
        return go

    ts = [threading.Thread(target=waiter(i, c), daemon=True) for i, c in enumerate(cs.all[1:])]
    for t in ts:
        t.start()
    time.sleep(0.5)
    assert passed == [], "passed a standing barrier"
    b.remove()
    for t in ts:
        t.join(30)
    assert sorted(passed) == list(range(len(cs.all) - 1)), passed


def double_barrier(cs: Clients) -> None:
    """Nobody is past enter() before all have entered; nobody past leave() before all left."""
    n = len(cs.all)
    entered = [0]
    guard = threading.Lock()

    # entered[0] is counted after enter() returns, so each member checks after a pause
    # long enough for every other member's enter() to return too.
    def check_member(c: KazooClient, i: int) -> Callable[[], None]:
        def go() -> None:
            db = c.DoubleBarrier("/r/dbarrier", n, identifier=f"m{i}")
            time.sleep(0.1 * i)
            db.enter()
            with guard:
                entered[0] += 1
            time.sleep(0.3)
            with guard:
                assert entered[0] == n, f"passed enter() with {entered[0]} of {n} in"
            db.leave()
        return go

    run_threads([check_member(c, i) for i, c in enumerate(cs.all)])
    assert cs[0].get_children("/r/dbarrier") == [], "members left behind"


def counter(cs: Clients) -> None:
    """Concurrent increments of a Counter add up (its optimistic retry loop in action)."""
    def worker(c: KazooClient) -> Callable[[], None]:
        def go() -> None:
            ctr = c.Counter("/r/counter")
            for _ in range(25):
                ctr += 1
        return go

    run_threads([worker(c) for c in cs.all])
    assert cs[0].Counter("/r/counter").value == 25 * len(cs.all)
    fctr = cs[0].Counter("/r/fcounter", default=0.0)
    fctr += 2.5
    fctr -= 1.0
    assert cs[1].Counter("/r/fcounter", default=0.0).value == 1.5


def queue(cs: Clients) -> None:
    """Queue: priority order for one consumer; several consumers get each item once."""
    q = cs[0].Queue("/r/queue")
    for i, prio in enumerate([50, 10, 90, 10, 30]):
        q.put(f"item{i}".encode(), priority=prio)
    got = [q.get() for _ in range(5)]
    assert got == [b"item1", b"item3", b"item4", b"item0", b"item2"], got
    assert q.get() is None
    producers, per = 2, 20
    taken: list[bytes] = []
    guard = threading.Lock()

    def produce(c: KazooClient, p: int) -> Callable[[], None]:
        def go() -> None:
            qq = c.Queue("/r/queue2")
            for i in range(per):
                qq.put(f"p{p}-{i}".encode())
        return go

    run_threads([produce(cs[i], i) for i in range(producers)])

    def consume(c: KazooClient) -> Callable[[], None]:
        def go() -> None:
            qq = c.Queue("/r/queue2")
            while True:
                item = qq.get()
                if item is None:
                    return
                with guard:
                    taken.append(item)
        return go

    run_threads([consume(c) for c in cs.all])
    expected = sorted(f"p{p}-{i}".encode() for p in range(producers) for i in range(per))
    assert sorted(taken) == expected, f"{len(taken)} taken, duplicates or losses"


def locking_queue(cs: Clients) -> None:
    """LockingQueue: an item is held by one consumer until consume(); released items return."""
    lq = cs[0].LockingQueue("/r/lqueue")
    for i in range(12):
        lq.put(f"job{i}".encode(), priority=100 - i)
    done: list[bytes] = []
    guard = threading.Lock()

    def worker(c: KazooClient) -> Callable[[], None]:
        def go() -> None:
            q = c.LockingQueue("/r/lqueue")
            while True:
                item = q.get(timeout=1.0)
                if item is None:
                    return
                with guard:
                    assert item not in done, f"{item!r} handed out twice"
                    done.append(item)
                assert q.consume()
        return go

    run_threads([worker(c) for c in cs.all])
    assert sorted(done) == sorted(f"job{i}".encode() for i in range(12)), done
    assert len(lq) == 0


def party(cs: Clients) -> None:
    """Party and ShallowParty list their members; a stopped member's entry goes away."""
    for kind in ("Party", "ShallowParty"):
        path = f"/r/{kind.lower()}"
        parties = [getattr(c, kind)(path, f"m{i}") for i, c in enumerate(cs.all)]
        for p in parties:
            p.join()
        wait_for(lambda: len(parties[0]) == len(cs.all), f"{kind} of {len(cs.all)}")
        assert sorted(parties[0]) == sorted(f"m{i}" for i in range(len(cs.all)))
        parties[-1].leave()
        wait_for(lambda: len(parties[0]) == len(cs.all) - 1, f"{kind} after a leave")
        for p in parties[:-1]:
            p.leave()
        assert len(parties[0]) == 0


def data_watch(cs: Clients) -> None:
    """DataWatch on one client sees every value another client writes, in order, and the
    deletion."""
    seen: list[bytes | None] = []
    cs[0].create("/r/dw", b"v0", makepath=True)

    @cs[1].DataWatch("/r/dw")
    def _watch(data, stat):  # noqa: ANN001
        seen.append(data)

    for i in range(1, 11):
        wait_for(lambda: seen and seen[-1] == f"v{i - 1}".encode(), f"DataWatch v{i - 1}")
        cs[0].set("/r/dw", f"v{i}".encode())
    wait_for(lambda: seen[-1] == b"v10", "DataWatch v10")
    cs[0].delete("/r/dw")
    wait_for(lambda: seen[-1] is None, "DataWatch of the deletion")
    assert seen == [f"v{i}".encode() for i in range(11)] + [None], seen


def children_watch(cs: Clients) -> None:
    """ChildrenWatch follows membership changes made by other clients, incl. ephemerals of a
    client that goes away."""
    cs[0].ensure_path("/r/cw")
    seen: list[list[str]] = []

    @cs[1].ChildrenWatch("/r/cw")
    def _watch(children):  # noqa: ANN001
        seen.append(sorted(children))

    wait_for(lambda: seen == [[]], "initial children")
    cs[2].create("/r/cw/a", b"", ephemeral=True)
    wait_for(lambda: seen[-1] == ["a"], "child a")
    cs[3].create("/r/cw/b", b"")
    wait_for(lambda: seen[-1] == ["a", "b"], "child b")
    cs[2].stop()  # its ephemeral goes with its session
    wait_for(lambda: seen[-1] == ["b"], "ephemeral a gone")
    cs[3].delete("/r/cw/b")
    wait_for(lambda: seen[-1] == [], "child b deleted")


def tree_cache(cs: Clients) -> None:
    """TreeCache mirrors a subtree changed by another client."""
    from kazoo.recipe.cache import TreeCache

    cs[0].ensure_path("/r/tc")
    tc = TreeCache(cs[1], "/r/tc")
    tc.start()
    try:
        cs[0].create("/r/tc/a", b"1")
        cs[0].create("/r/tc/a/b", b"2")
        cs[0].set("/r/tc/a", b"3")
        wait_for(lambda: tc.get_data("/r/tc/a/b") is not None
                 and tc.get_data("/r/tc/a") is not None
                 and tc.get_data("/r/tc/a").data == b"3", "cache of /r/tc")
        assert sorted(tc.get_children("/r/tc/a")) == ["b"]
        cs[0].delete("/r/tc/a", recursive=True)
        wait_for(lambda: tc.get_data("/r/tc/a") is None, "cache removal")
    finally:
        tc.close()


def partitioner(cs: Clients) -> None:
    """SetPartitioner: members agree on a split that covers the set exactly once."""
    items = [f"part{i}" for i in range(12)]
    parts = [c.SetPartitioner("/r/partition", set=items, time_boundary=0.5,
                              identifier=f"m{i}") for i, c in enumerate(cs.all[:3])]

    def settled() -> bool:
        for p in parts:
            if p.state == PartitionState.ALLOCATING:
                p.wait_for_acquire(timeout=0.1)
            elif p.state == PartitionState.RELEASE:
                p.release_set()
        return all(p.state == PartitionState.ACQUIRED for p in parts)

    wait_for(settled, "partition acquired", timeout=30)
    got = [item for p in parts for item in p]
    assert sorted(got) == sorted(items), got
    for p in parts:
        p.finish()


def lease(cs: Clients) -> None:
    """NonBlockingLease: only one holder until it expires."""
    from datetime import timedelta

    first = cs[0].NonBlockingLease("/r/lease", timedelta(seconds=30), identifier="a")
    assert first, "the first lease was refused"
    for c in cs.all[1:]:
        assert not c.NonBlockingLease("/r/lease", timedelta(seconds=30), identifier="b"), \
            "a second holder got the lease"


RECIPES: list[tuple[str, Callable[[Clients], None]]] = [
    ("Lock", lock), ("ReadWriteLock", rw_lock), ("Semaphore", semaphore),
    ("Election", election), ("Barrier", barrier), ("DoubleBarrier", double_barrier),
    ("Counter", counter), ("Queue", queue), ("LockingQueue", locking_queue),
    ("Party", party), ("DataWatch", data_watch), ("ChildrenWatch", children_watch),
    ("TreeCache", tree_cache), ("SetPartitioner", partitioner), ("Lease", lease),
]


def run_server(kind: str, only: set[str] | None) -> tuple[int, int]:
    passed = failed = 0
    try:
        srv = zkserver.start_server(kind)
    except zkserver.ServerUnavailable as e:
        print(f"TESTRESULT FAIL recipes[start:{kind}] {e}")
        return 0, 1
    try:
        for name, fn in RECIPES:
            if only and name not in only:
                continue
            cs = Clients(srv.hostport, PARTICIPANTS)
            t0 = time.monotonic()
            try:
                fn(cs)
                print(f"TESTRESULT PASS recipes[{name}:{kind}] ({time.monotonic() - t0:.1f}s)")
                passed += 1
            except Exception:  # noqa: BLE001
                print(f"TESTRESULT FAIL recipes[{name}:{kind}]")
                traceback.print_exc()
                failed += 1
            finally:
                cs.close()
    finally:
        srv.stop()
    return passed, failed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--servers", default="java,menagerie")
    ap.add_argument("--only", default="", help="comma-separated recipe names")
    args = ap.parse_args()
    only = set(filter(None, args.only.split(","))) or None
    total_fail = 0
    for kind in args.servers.split(","):
        _, f = run_server(kind, only)
        total_fail += f
    return 1 if total_fail else 0


if __name__ == "__main__":
    sys.exit(main())
