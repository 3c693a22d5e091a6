"""Crash test: SIGKILL the server at random moments under concurrent write load; after each
restart every acknowledged write must be there, and the sequential numbers handed out must
not go back (nothing unacknowledged appears out of order).

    python3 tests/compat/crash_test.py [--servers menagerie,java] [--rounds 6] [--seed 1]

Prints one "TESTRESULT PASS|FAIL crash[<server>]" line per server.
"""

from __future__ import annotations

import argparse
import logging
import random
import signal
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from kazoo.client import KazooClient  # noqa: E402
from kazoo.retry import KazooRetry  # noqa: E402

import zkserver  # noqa: E402

WRITERS = 4


def writer(hostport: str, wid: int, acked: list, stop: threading.Event) -> None:
    """Creates sequential nodes until the connection breaks; records what was acknowledged."""
    zk = KazooClient(hosts=hostport, timeout=5.0,
                     connection_retry=KazooRetry(max_tries=0), command_retry=KazooRetry(max_tries=0))
    try:
        zk.start(timeout=5)
    except Exception:
        return
    try:
        n = 0
        while not stop.is_set():
            try:
                path = zk.create(f"/crash/w{wid}-", f"{wid}:{n}".encode(), sequence=True)
            except Exception:
                return
            acked.append((path, f"{wid}:{n}".encode()))
            n += 1
    finally:
        try:
            zk.stop()
            zk.close()
        except Exception:
            pass


def run(kind: str, rounds: int, rng: random.Random) -> bool:
    with zkserver.start_server(kind) as srv:
        zk = KazooClient(hosts=srv.hostport)
        zk.start(timeout=10)
        zk.ensure_path("/crash")
        zk.stop()
        zk.close()
        acked: list = []
        ok = True
        for r in range(rounds):
            stop = threading.Event()
            threads = [threading.Thread(target=writer, args=(srv.hostport, w, acked, stop), daemon=True)
                       for w in range(WRITERS)]
            for t in threads:
                t.start()
            time.sleep(rng.uniform(0.3, 1.5))
            srv.restart(signal.SIGKILL)
            stop.set()
            for t in threads:
                t.join(timeout=20)
            zk = KazooClient(hosts=srv.hostport)
            zk.start(timeout=10)
            present = set(zk.get_children("/crash"))
            missing = [p for p, _ in acked if p.rsplit("/", 1)[1] not in present]
            wrong = []
            for p, data in rng.sample(acked, min(50, len(acked))):
                got, _ = zk.get(p)
                if got != data:
                    wrong.append((p, data, got))
            # Sequence numbers come from the parent's cversion: a later create must get a
            # larger number than every acknowledged one.
            top = max((int(p[-10:]) for p, _ in acked), default=-1)
            nxt = zk.create("/crash/probe-", b"", sequence=True)
            zk.delete(nxt)
            zk.stop()
            zk.close()
            # The recovered tree's digest agreed with every replayed txn's (and the snapshot's).
            mntr = dict(ln.split("\t", 1) for ln in zkserver.four_letter(srv.port, "mntr").splitlines()
                        if "\t" in ln)
            mismatches = mntr.get("zk_digest_mismatches_count", "<missing>")
            print(f"crash[{kind}] round {r}: {len(acked)} acknowledged, {len(present)} present, "
                  f"{len(missing)} missing, {len(wrong)} wrong data, next seq {nxt[-10:]}, "
                  f"digest mismatches {mismatches}")
            if missing or wrong or int(nxt[-10:]) <= top or mismatches != "0":
                print(f"  missing: {missing[:5]} wrong: {wrong[:3]} top acked seq: {top}")
                ok = False
                break
        return ok


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--servers", default="menagerie")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    # kazoo logs every dropped connection; the kills are deliberate here.
    logging.getLogger("kazoo").setLevel(logging.CRITICAL)
    failed = False
    for kind in args.servers.split(","):
        reason = zkserver.check_available(kind)
        if reason:
            print(f"TESTRESULT FAIL crash[{kind}] ({reason})")
            failed = True
            continue
        ok = run(kind, args.rounds, random.Random(args.seed))
        print(f"TESTRESULT {'PASS' if ok else 'FAIL'} crash[{kind}]")
        failed |= not ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
