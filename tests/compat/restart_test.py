"""Durability: data written through kazoo must survive a restart (orderly and SIGKILL).

    python3 tests/compat/restart_test.py                     # java vs menagerie
    python3 tests/compat/restart_test.py --candidate java    # self-test of the masking
    python3 tests/compat/restart_test.py --keep DIR

For each server: start it fresh, write a small tree with kazoo (data, null data, sequential
nodes, an ACL'd node, a node of 100 KiB, nodes deleted again, ephemerals of closed sessions),
close every session, stop the server with SIGTERM and start it again on the same data
directory and port, read everything back and write more (the sequential counter and the zxid
must continue; a session that stayed open across the restart is resumed by its client and keeps
its ephemeral; a container and TTL nodes created with zkCli.sh keep their types and are reaped
after the restart), then SIGKILL it and restart once more and check again. ZooKeeper acknowledges a
write only after it is in its fsynced transaction log, so nothing acknowledged may be lost.

Records use the kazoo scenario's normalisation (zxids relative to the first zxid client c1 saw,
times masked) and are compared with the same code and allow-list as differential.py.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from kazoo.client import KazooClient  # noqa: E402
from kazoo.security import make_digest_acl  # noqa: E402

import differential  # noqa: E402
import scenario_kazoo  # noqa: E402
import zkserver  # noqa: E402


class RestartScenario(scenario_kazoo.Scenario):
    def __init__(self, srv: zkserver.Server):
        super().__init__(srv.hostport)
        self.srv = srv

    def restart(self, sig: int, label: str, keep: tuple = ()) -> None:
        for name in list(self.clients):
            if name not in keep:
                self.close(name)
        try:
            self.srv.restart(sig)
            self.records.append({"i": len(self.records), "op": "restart", "args": [label], "result": "serving"})
        except zkserver.ServerUnavailable as e:
            self.records.append({"i": len(self.records), "op": "restart", "args": [label],
                                 "result": f"did not come back: {str(e).splitlines()[0]}"})
            raise

    def zkcli(self, *argv: str) -> None:
        """Containers and TTL nodes cannot be created with kazoo: use zkCli.sh one-shot."""
        env = dict(os.environ, CLIENT_JVMFLAGS="-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
        # piped with "quit" so that the shell closes its session (a one-shot zkCli.sh exits
        # without closing it, and the session would expire at a timing-dependent moment)
        p = subprocess.run([zkserver.ZKCLI, "-server", self.hostport], input=" ".join(argv) + "\nquit\n",
                           capture_output=True, text=True, timeout=60, env=env)
        out = [ln for ln in (p.stdout + p.stderr).splitlines()
               if ln.startswith(("Created", "Node", "Ephemerals", "Insufficient", "KeeperErrorCode"))]
        self.records.append({"i": len(self.records), "op": "zkCli", "args": list(argv), "result": out})

    def wait_gone(self, who: str, path: str, label: str) -> None:
        """Poll (bounded) until the reaper removed `path`; record whether it did."""
        deadline = time.monotonic() + 15
        gone = False
        while time.monotonic() < deadline:
            if self.clients[who].exists(path) is None:
                gone = True
                break
            time.sleep(0.1)
        self.records.append({"i": len(self.records), "op": "reaped", "args": [path, label], "result": gone})

    def check(self, who: str) -> None:
        c = self.call
        c(who, "exists", "/")
        c(who, "get_children", "/r", include_data=True)
        for p in ("/r", "/r/null", "/r/empty", "/r/seq-0000000002", "/r/v", "/r/big", "/r/tx1", "/r/tx2"):
            c(who, "get", p)
        c(who, "exists", "/r/seq-0000000003")  # deleted before the restart
        c(who, "exists", "/r/eph")  # ephemeral of a closed session
        c(who, "get", "/r/acl")  # NoAuth without the digest
        c(who, "get_acls", "/r/acl")

    def run(self) -> None:
        c = self.call
        self.connect("c1")
        c("c1", "exists", "/")
        c("c1", "create", "/r", b"root of the restart test")
        c("c1", "create", "/r/null", None)
        c("c1", "create", "/r/empty", b"")
        for _ in range(5):
            c("c1", "create", "/r/seq-", b"s", sequence=True)
        c("c1", "delete", "/r/seq-0000000003")
        c("c1", "create", "/r/v", b"0")
        for k in range(1, 4):
            c("c1", "set", "/r/v", str(k).encode())
        c("c1", "create", "/r/big", bytes(range(256)) * 400)
        c("c1", "add_auth", "digest", "alice:secret")
        c("c1", "create", "/r/acl", b"secret", acl=[make_digest_acl("alice", "secret", all=True)])
        c("c1", "set_acls", "/r", [scenario_kazoo.OPEN[0]], 0)  # aversion 1
        self.txn("c1", [("create", "/r/tx1", b"t1"), ("create", "/r/tx2", b"t2"), ("set_data", "/r/v", b"tx", 3)])
        self.txn("c1", [("create", "/r/tx3", b""), ("check", "/r/v", 0)])  # fails: not applied
        self.connect("c2")
        c("c2", "create", "/r/eph", b"", ephemeral=True)
        c("c2", "create", "/r/eph-seq-", b"", ephemeral=True, sequence=True)
        c("c1", "delete", "/r/empty")
        c("c1", "create", "/r/empty", b"")  # re-created: new czxid
        self.zkcli("create", "-c", "/rcont")
        c("c1", "create", "/rcont/x", b"")
        self.zkcli("create", "-t", "600000", "/rttl-long")
        self.check("c1")

        # a session that stays open across the restart: ZooKeeper restores sessions from its
        # log, so the client reconnects to the same session and its ephemeral survives
        # 30 s: a restart on a loaded machine (a JVM starting) must not outlast the session
        live = KazooClient(hosts=self.hostport, timeout=30.0)  # default retry: keeps reconnecting
        live.start(timeout=15)
        self.clients["live"] = live
        self.sessions[live.client_id[0]] = "live"
        live_sid = live.client_id[0]
        self.records.append({"i": len(self.records), "c": "live", "op": "connect"})
        c("live", "create", "/r/live-eph", b"", ephemeral=True)

        self.restart(signal.SIGTERM, "SIGTERM", keep=("live",))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not live.connected:
            time.sleep(0.05)
        self.records.append({"i": len(self.records), "op": "live session after restart",
                             "result": {"connected": live.connected,
                                        "same_session": live.connected and live.client_id[0] == live_sid}})
        self.connect("c3")
        self.check("c3")
        c("c3", "exists", "/r/live-eph")
        self.close("live")
        c("c3", "exists", "/r/live-eph")
        c("c3", "create", "/r/seq-", b"after restart", sequence=True)  # counter continues
        c("c3", "create", "/r/after1", b"")  # the zxid continues too
        c("c3", "set", "/r/v", b"after")
        # node types survive: /rcont is still a container (reaped once empty), TTL stays TTL
        c("c3", "exists", "/rttl-long")
        c("c3", "delete", "/rcont/x")
        self.wait_gone("c3", "/rcont", "container emptied after the restart")
        self.zkcli("create", "-t", "2000", "/rttl-short")

        self.restart(signal.SIGKILL, "SIGKILL")
        self.connect("c4")
        self.check("c4")
        self.wait_gone("c4", "/rttl-short", "TTL 2 s, created before the crash")
        c("c4", "exists", "/rttl-long")
        c("c4", "get", "/r/after1")
        c("c4", "get", "/r/v")
        c("c4", "create", "/r/seq-", b"after crash", sequence=True)
        self.walk("c4", "/")
        self.close("c4")


def run_kind(kind: str) -> dict:
    # the reaper runs every second so that container/TTL types can be checked after restarts
    srv = zkserver.start_server(kind, extra={"znode.container.checkIntervalMs": 1000})
    sc = RestartScenario(srv)
    status = 0
    try:
        sc.run()
    except Exception as e:  # noqa: BLE001 - record how far we got
        sc.records.append({"i": len(sc.records), "op": "ABORTED", "error": f"{type(e).__name__}: {e}"})
        status = 2
    finally:
        for cl in list(sc.clients.values()):
            try:
                cl.stop()
                cl.close()
            except Exception:  # noqa: BLE001
                pass
        tail = srv.log_tail() if status else ""
        srv.stop()
    return {"meta": {"exit": status, "log_tail": tail}, "records": sc.records}


def main(argv=None) -> int:
    zkserver.install_signal_handlers()
    ap = argparse.ArgumentParser(description="restart durability: java vs candidate")
    ap.add_argument("--candidate", default="menagerie", choices=["java", "menagerie"])
    ap.add_argument("--keep", help="directory to keep both outputs in")
    args = ap.parse_args(argv)
    ref_label, cand_label = "java", args.candidate
    if ref_label == cand_label:
        ref_label, cand_label = "java#1", "java#2"
    name = f"restart[java-vs-{cand_label}]"
    for kind in {"java", args.candidate}:
        why = zkserver.check_available(kind)
        if why:
            print(f"cannot run: {why}")
            print(f"TESTRESULT FAIL {name}")
            return 2
    import logging

    logging.basicConfig(level=logging.CRITICAL)
    exp = run_kind("java")
    got = run_kind(args.candidate)
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
        for label, d in ((ref_label, exp), (cand_label, got)):
            with open(os.path.join(args.keep, f"restart-{label.replace('#', '')}.json"), "w") as f:
                json.dump(d, f, indent=1)
    if exp["meta"]["exit"]:
        print(f"the restart scenario failed against Java: the harness is broken\n{exp['records'][-1]}")
        print(exp["meta"]["log_tail"])
        print(f"TESTRESULT FAIL {name}")
        return 2
    if got["meta"]["exit"]:
        print(f"{cand_label} aborted: {got['records'][-1]}\n--- server log tail ---\n{got['meta']['log_tail']}")
    mism, allowed = differential.compare_records(exp["records"], got["records"], "restart", ref_label, cand_label)
    print(f"restart: {mism} mismatches, {allowed} allowed differences ({len(exp['records'])} records)")
    ok = mism == 0 and not got["meta"]["exit"]
    print(f"TESTRESULT {'PASS' if ok else 'FAIL'} {name}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
