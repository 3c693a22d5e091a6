"""Concurrency invariants with several kazoo clients (run against each server on its own).

    python3 tests/compat/stress_test.py                    # java and menagerie
    python3 tests/compat/stress_test.py --servers menagerie
    python3 tests/compat/stress_test.py --server 127.0.0.1:2181

Not a differential test: interleavings differ from run to run, so only invariants are checked,
and every server must satisfy them:

* optimistic counter: N clients increment /st/counter with versioned setData, retrying on
  BadVersion; the final value and version equal the number of successful increments;
* sequential creates from N clients: names are unique and the suffixes are exactly 0..total-1,
  parent cversion/numChildren equal the number of creates;
* ephemeral lock race: in every round exactly one client creates /st/lock;
* multi transfers between two nodes guarded by version checks: the sum is preserved and every
  committed transfer is visible;
* pipelining: one client sends 2000 asynchronous requests without waiting (creates, reads,
  writes, exists, deletes); every reply must match its request (kazoo checks xid order) and each
  read sees the writes the same session sent before it.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from kazoo.client import KazooClient  # noqa: E402
from kazoo.exceptions import BadVersionError, NodeExistsError  # noqa: E402

import zkserver  # noqa: E402

N_CLIENTS = 4
DEADLINE = 60.0  # seconds for the whole stress run against one server


def client(hp: str) -> KazooClient:
    c = KazooClient(hosts=hp, timeout=10.0, connection_retry=None, command_retry=None)
    c.start(timeout=15)
    return c


def run_threads(fn, clients) -> list:
    errors: list = []

    def wrap(i, c):
        try:
            fn(i, c)
        except Exception as e:  # noqa: BLE001
            errors.append(f"client {i}: {type(e).__name__}: {e}")

    ts = [threading.Thread(target=wrap, args=(i, c), daemon=True) for i, c in enumerate(clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(DEADLINE)
        if t.is_alive():
            errors.append("a worker thread did not finish in time")
    return errors


def check_counter(clients, main) -> list[str]:
    main.create("/st/counter", b"0")
    per = 100
    ok = [0] * len(clients)

    def work(i, c):
        deadline = time.monotonic() + DEADLINE / 2
        while ok[i] < per and time.monotonic() < deadline:
            data, st = c.get("/st/counter")
            try:
                c.set("/st/counter", str(int(data) + 1).encode(), version=st.version)
                ok[i] += 1
            except BadVersionError:
                pass

    errs = run_threads(work, clients)
    data, st = main.get("/st/counter")
    total = sum(ok)
    if total != per * len(clients):
        errs.append(f"only {total} of {per * len(clients)} increments done in time")
    if int(data) != total or st.version != total:
        errs.append(f"counter value {data!r} / version {st.version}, expected {total}")
    return errs


def check_sequential(clients, main) -> list[str]:
    main.create("/st/seq", b"")
    per = 60
    names: list[list[str]] = [[] for _ in clients]

    def work(i, c):
        for _ in range(per):
            names[i].append(c.create("/st/seq/n-", b"", sequence=True))

    errs = run_threads(work, clients)
    allnames = [n for lst in names for n in lst]
    total = per * len(clients)
    nums = sorted(int(n.rsplit("-", 1)[1]) for n in allnames)
    if len(set(allnames)) != len(allnames):
        errs.append("duplicate sequential names")
    if nums != list(range(total)):
        errs.append(f"suffixes are not exactly 0..{total - 1}: first gaps {sorted(set(range(total)) - set(nums))[:5]}")
    for lst in names:  # one client's creates are ordered
        if lst != sorted(lst):
            errs.append("a client's sequential names are not increasing")
            break
    st = main.exists("/st/seq")
    if st.cversion != total or st.numChildren != total:
        errs.append(f"/st/seq cversion {st.cversion} numChildren {st.numChildren}, expected {total}")
    return errs


def check_lock(clients, main) -> list[str]:
    rounds = 25
    winners = [0] * rounds
    barrier = threading.Barrier(len(clients), timeout=20)
    lock = threading.Lock()

    def work(i, c):
        for r in range(rounds):
            barrier.wait()
            try:
                c.create("/st/lock", str(i).encode(), ephemeral=True)
                with lock:
                    winners[r] += 1
                won = True
            except NodeExistsError:
                won = False
            barrier.wait()
            if won:
                c.delete("/st/lock")
            barrier.wait()

    errs = run_threads(work, clients)
    bad = [r for r, w in enumerate(winners) if w != 1]
    if bad:
        errs.append(f"rounds without exactly one lock holder: {bad[:5]} (winners {[winners[r] for r in bad[:5]]})")
    return errs


def check_transfers(clients, main) -> list[str]:
    main.create("/st/a", b"1000")
    main.create("/st/b", b"1000")
    per = 40
    done = [0] * len(clients)

    def work(i, c):
        deadline = time.monotonic() + DEADLINE / 2
        while done[i] < per and time.monotonic() < deadline:
            da, sa = c.get("/st/a")
            db, sb = c.get("/st/b")
            t = c.transaction()
            t.check("/st/a", sa.version)
            t.check("/st/b", sb.version)
            t.set_data("/st/a", str(int(da) - 1).encode(), sa.version)
            t.set_data("/st/b", str(int(db) + 1).encode(), sb.version)
            res = t.commit()
            if all(not isinstance(x, Exception) for x in res):
                done[i] += 1
            elif not any(isinstance(x, BadVersionError) for x in res):
                raise AssertionError(f"unexpected multi result {res}")  # only races may fail

    errs = run_threads(work, clients)
    a = int(main.get("/st/a")[0])
    b = int(main.get("/st/b")[0])
    total = sum(done)
    if a + b != 2000:
        errs.append(f"sum not preserved: a={a} b={b}")
    if a != 1000 - total:
        errs.append(f"a={a} but {total} transfers committed")
    return errs


def check_pipelining(main) -> list[str]:
    main.create("/st/p", b"")
    asyncs = []
    n = 400
    for k in range(n):
        p = f"/st/p/n{k}"
        asyncs.append(("create", k, main.create_async(p, str(k).encode())))
        asyncs.append(("get", k, main.get_async(p)))
        asyncs.append(("set", k, main.set_async(p, f"v{k}".encode())))
        asyncs.append(("get2", k, main.get_async(p)))
        if k % 2:
            asyncs.append(("delete", k, main.delete_async(p)))
        else:
            asyncs.append(("exists", k, main.exists_async(p)))
    errs = []
    for kind, k, a in asyncs:
        try:
            r = a.get(timeout=30)
        except Exception as e:  # noqa: BLE001
            errs.append(f"{kind} #{k}: {type(e).__name__}")
            if len(errs) > 5:
                break
            continue
        if kind == "get" and r[0] != str(k).encode():
            errs.append(f"get #{k} saw {r[0]!r}, not the create sent before it")
        if kind == "get2" and r[0] != f"v{k}".encode():
            errs.append(f"get #{k} after set saw {r[0]!r}")
        if kind == "exists" and (r is None or r.version != 1):
            errs.append(f"exists #{k}: {r}")
    left = main.get_children("/st/p")
    if len(left) != n // 2:
        errs.append(f"{len(left)} children left, expected {n // 2}")
    return errs[:10]


CHECKS = ["counter", "sequential", "lock", "transfers", "pipelining"]


def run_against(hp: str) -> dict[str, list[str]]:
    main = client(hp)
    clients = [client(hp) for _ in range(N_CLIENTS)]
    out = {}
    try:
        main.ensure_path("/st")
        out["counter"] = check_counter(clients, main)
        out["sequential"] = check_sequential(clients, main)
        out["lock"] = check_lock(clients, main)
        out["transfers"] = check_transfers(clients, main)
        out["pipelining"] = check_pipelining(main)
    finally:
        for c in clients + [main]:
            try:
                c.stop()
                c.close()
            except Exception:  # noqa: BLE001
                pass
    return out


def main(argv=None) -> int:
    zkserver.install_signal_handlers()
    ap = argparse.ArgumentParser(description="concurrency invariants")
    ap.add_argument("--servers", default="java,menagerie")
    ap.add_argument("--server", help="a running server (host:port) instead")
    args = ap.parse_args(argv)
    targets = [("given", None)] if args.server else [(k, k) for k in args.servers.split(",") if k]
    status = 0
    for label, kind in targets:
        t0 = time.monotonic()
        try:
            if kind is None:
                res = run_against(args.server)
            else:
                why = zkserver.check_available(kind)
                if why:
                    raise zkserver.ServerUnavailable(why)
                with zkserver.start_server(kind) as srv:
                    res = run_against(srv.hostport)
                    if not srv.alive():
                        res.setdefault("server", []).append("server died:\n" + srv.log_tail())
        except Exception as e:  # noqa: BLE001
            print(f"stress[{label}]: cannot run: {type(e).__name__}: {e}")
            for chk in CHECKS:
                print(f"TESTRESULT FAIL stress[{chk}:{label}]")
            status = 1
            continue
        for chk in CHECKS + [k for k in res if k not in CHECKS]:
            errs = res.get(chk, ["not run"])
            for e in errs:
                print(f"stress[{chk}:{label}]: {e}")
            print(f"TESTRESULT {'PASS' if not errs else 'FAIL'} stress[{chk}:{label}]")
            status |= 1 if errs else 0
        print(f"stress[{label}]: {time.monotonic() - t0:.1f} s")
    return status


if __name__ == "__main__":
    sys.exit(main())
