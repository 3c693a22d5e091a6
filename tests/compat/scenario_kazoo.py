"""A deterministic kazoo scenario whose normalised results can be compared between servers.

Run against a FRESH standalone server (it inspects the root and /zookeeper, whose Stats depend
on everything that happened before)::

    python3 tests/compat/scenario_kazoo.py --server 127.0.0.1:2181 [--out result.json]

Output: JSON ``{"meta": {...}, "records": [...]}``. Every record is one client call::

    {"i": 17, "c": "c1", "op": "set", "args": ["/a", "v1", 0],
     "result": {...} | "error": {"class": "BadVersionError", "code": -103},
     "zxid": 12}

Normalisation (so that two correct servers give identical records):

* czxid / mzxid / pzxid and the reply-header zxid (``zxid``, kazoo's ``last_zxid`` after the
  call) are RELATIVE to the baseline zxid seen by the first request of client c1 (the zxid of
  c1's own session creation on a fresh server). Zxids smaller than the baseline (the built-in
  nodes, which have 0) are written as ``"pre:<value>"``.
* ctime / mtime: 0 stays 0; a plausible wall-clock time (within a minute of the run) becomes
  ``"<time>"``, anything else ``"BAD-TIME:<value>"``. ``mtime_vs_ctime`` keeps what is
  deterministic: ``"=ctime"`` for a never-written node (version 0), ``">=ctime"`` after setData
  (same millisecond is possible), ``"BAD:..."`` otherwise.
* ephemeralOwner: 0 stays 0; the session id of one of the scenario's clients becomes
  ``"<session c1>"`` etc.; anything else is ``"BAD-OWNER:<hex>"``.
* version / cversion / aversion / dataLength / numChildren are kept exactly.
* getChildren results are sorted (the order is unspecified by ZooKeeper).
* watch events are recorded as sorted lists of ``[watcher-tag, type, path]``.

What kazoo 2.11 cannot express is not covered here (containers, TTL nodes, create2 inside a
multi, getAllChildrenNumber, getEphemerals, multiRead, persistent watches, SetWatches): the Java
client scenario (scenario_javaclient.py) and zkcli_test.py cover those. kazoo also normalises
paths itself (drops empty components, rejects "." and ".."), so only server-side path checks
that survive it (NUL, control and private-use characters, trailing "/" of sequential creates)
are exercised.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time

from kazoo.client import KazooClient
from kazoo.exceptions import ZookeeperError
from kazoo.protocol.states import ZnodeStat
from kazoo.security import ACL, Id, make_digest_acl

OP_TIMEOUT = 10.0  # seconds per client call
EVENT_WAIT = 5.0  # seconds to wait for an expected watch event
EVENT_SETTLE = 0.15  # seconds to wait for unexpected extra events

OPEN = [ACL(31, Id("world", "anyone"))]


class Scenario:
    def __init__(self, hostport: str):
        self.hostport = hostport
        self.clients: dict[str, KazooClient] = {}
        self.sessions: dict[int, str] = {}
        self.records: list[dict] = []
        self.base: int | None = None
        self.t_start = int(time.time() * 1000)
        self.events: list[list] = []
        self.events_lock = threading.Lock()

    # ------------------------------------------------------------------ clients
    def connect(self, name: str) -> KazooClient:
        c = KazooClient(hosts=self.hostport, timeout=10.0, connection_retry=None, command_retry=None)
        c.start(timeout=15)
        self.clients[name] = c
        self.sessions[c.client_id[0]] = name
        self.records.append({"i": len(self.records), "c": name, "op": "connect"})
        return c

    def close(self, name: str) -> None:
        c = self.clients.pop(name)
        c.stop()
        c.close()
        self.records.append({"i": len(self.records), "c": name, "op": "close"})

    # ------------------------------------------------------------ normalisation
    def rz(self, z: int):
        if self.base is None or z is None:
            return z
        if z < self.base:
            return f"pre:{z}"
        return z - self.base

    def rtime(self, t: int):
        if t == 0:
            return 0
        now = int(time.time() * 1000)
        if self.t_start - 60_000 <= t <= now + 60_000:
            return "<time>"
        return f"BAD-TIME:{t}"

    def owner(self, o: int):
        if o == 0:
            return 0
        name = self.sessions.get(o)
        if name:
            return f"<session {name}>"
        return f"BAD-OWNER:{o & 0xFFFFFFFFFFFFFFFF:#x}"

    @staticmethod
    def mtime_rel(mtime: int, ctime: int, version: int) -> str:
        # Only what is deterministic: a node never written has mtime == ctime; after setData
        # mtime >= ctime (equal when both happened in the same millisecond).
        if version == 0:
            return "=ctime" if mtime == ctime else "BAD:mtime!=ctime"
        return ">=ctime" if mtime >= ctime else "BAD:mtime<ctime"

    def stat(self, s: ZnodeStat) -> dict:
        return {
            "czxid": self.rz(s.czxid),
            "mzxid": self.rz(s.mzxid),
            "pzxid": self.rz(s.pzxid),
            "ctime": self.rtime(s.ctime),
            "mtime": self.rtime(s.mtime),
            "mtime_vs_ctime": self.mtime_rel(s.mtime, s.ctime, s.version),
            "version": s.version,
            "cversion": s.cversion,
            "aversion": s.aversion,
            "ephemeralOwner": self.owner(s.ephemeralOwner),
            "dataLength": s.dataLength,
            "numChildren": s.numChildren,
        }

    def norm(self, v, op: str):
        if isinstance(v, ZnodeStat):
            return {"stat": self.stat(v)}
        if isinstance(v, ACL):
            return {"acl": [v.perms, v.id.scheme, v.id.id]}
        if isinstance(v, BaseException):
            return self.err(v)
        if isinstance(v, bytes):
            try:
                return {"bytes": v.decode("utf-8")}
            except UnicodeDecodeError:
                return {"hex": v.hex()}
        if isinstance(v, tuple):
            return [self.norm(x, op) for x in v]
        if isinstance(v, list):
            items = [self.norm(x, op) for x in v]
            if op in ("get_children",) and all(isinstance(x, str) for x in items):
                items = sorted(items)
            return items
        return v  # str, int, bool, None

    @staticmethod
    def err(e: BaseException) -> dict:
        if isinstance(e, ZookeeperError):
            return {"class": type(e).__name__, "code": getattr(e, "code", None)}
        return {"class": type(e).__name__, "client_side": True}

    # -------------------------------------------------------------------- calls
    def call(self, cname: str, op: str, *args, **kw):
        """Run one kazoo call, record it, return its raw result (or None on error)."""
        c = self.clients[cname]
        rec = {"i": len(self.records), "c": cname, "op": op, "args": self._args(args, kw)}
        raw = None
        try:
            raw = self._invoke(c, op, args, kw)
            ok = True
        except Exception as e:  # noqa: BLE001 - every failure is a result to compare
            raw, ok = e, False
        if self.base is None and c.last_zxid:
            # The first reply c1 gets carries the zxid of its own session creation.
            self.base = c.last_zxid
        if ok:
            rec["result"] = self.norm(raw, op)
        else:
            rec["error"] = self.err(raw)
            raw = None
        if op not in ("command",):
            rec["zxid"] = self.rz(c.last_zxid)
        self.records.append(rec)
        return raw

    def quiet(self, cname: str, op: str, *args, **kw) -> None:
        """A call whose outcome only matters if it fails (keeps the records short)."""
        c = self.clients[cname]
        try:
            self._invoke(c, op, args, kw)
        except Exception as e:  # noqa: BLE001
            self.records.append({"i": len(self.records), "c": cname, "op": op,
                                 "args": self._args(args, kw), "error": self.err(e)})

    def _invoke(self, c: KazooClient, op: str, args, kw):
        if op == "commit":
            return args[0].commit_async().get(timeout=OP_TIMEOUT)
        if op == "delete" and kw.get("recursive"):
            return c.delete(*args, **kw)  # no async form; bounded by the runner's timeout
        if op == "command":
            return c.command(*args).strip()
        fn = getattr(c, op + "_async", None)
        if fn is None:
            return getattr(c, op)(*args, **kw)
        return fn(*args, **kw).get(timeout=OP_TIMEOUT)

    def _args(self, args, kw) -> list:
        out = []
        for a in args:
            if isinstance(a, bytes):
                out.append(a.decode("utf-8", "replace") if len(a) <= 64 else f"<{len(a)} bytes>")
            elif isinstance(a, list) and a and isinstance(a[0], ACL):
                out.append([[x.perms, x.id.scheme, x.id.id] for x in a])
            elif callable(a) or hasattr(a, "operations"):
                out.append(getattr(a, "tag", type(a).__name__))
            else:
                out.append(a)
        for k in sorted(kw):
            v = kw[k]
            if callable(v):
                v = getattr(v, "tag", "watch")
            elif isinstance(v, list) and v and isinstance(v[0], ACL):
                v = [[x.perms, x.id.scheme, x.id.id] for x in v]
            out.append({k: v})
        return out

    # ------------------------------------------------------------------ watches
    def watcher(self, tag: str):
        def cb(event):
            with self.events_lock:
                self.events.append([tag, event.type, event.path])

        cb.tag = tag
        return cb

    def expect_events(self, n: int, label: str) -> None:
        """Wait (bounded) for n watch events, then record everything received since last time."""
        deadline = time.monotonic() + EVENT_WAIT
        while time.monotonic() < deadline:
            with self.events_lock:
                if len(self.events) >= n:
                    break
            time.sleep(0.01)
        time.sleep(EVENT_SETTLE)
        with self.events_lock:
            got, self.events = sorted(self.events), []
        self.records.append({"i": len(self.records), "op": "events", "args": [label], "result": got})

    def txn(self, cname: str, ops: list[tuple]):
        t = self.clients[cname].transaction()
        for op in ops:
            getattr(t, op[0])(*op[1:])
        t.tag = "txn" + json.dumps([[o[0], *[x.decode() if isinstance(x, bytes) else x for x in o[1:]]] for o in ops])
        return self.call(cname, "commit", t)

    # ----------------------------------------------------------------- scenario
    def run(self) -> None:
        c = self.call
        self.connect("c1")

        # --- fresh server: the built-in nodes (root cversion is -1, /zookeeper's is -2)
        c("c1", "exists", "/")
        c("c1", "exists", "/zookeeper")
        c("c1", "get_children", "/")
        c("c1", "get_children", "/zookeeper")
        c("c1", "get", "/zookeeper/config")
        c("c1", "get_acls", "/zookeeper/config")
        c("c1", "get", "/zookeeper/quota")
        c("c1", "get_acls", "/")
        c("c1", "get_children", "/", include_data=True)
        c("c1", "command", b"ruok")

        # --- create / get / set / delete with versions
        c("c1", "create", "/a", b"data-a")
        c("c1", "create", "/a", b"again")  # NodeExists
        c("c1", "create", "/nope/child", b"x")  # NoNode (parent)
        c("c1", "create", "/a/b", b"")  # empty data
        c("c1", "get", "/a/b")
        c("c1", "create", "/a/nul", None)  # null data (buffer length -1)
        c("c1", "get", "/a/nul")
        c("c1", "create", "/a/c", b"create2", include_data=True)  # create2 with Stat
        c("c1", "exists", "/a")
        c("c1", "exists", "/missing")
        c("c1", "get", "/a")
        c("c1", "get", "/missing")
        c("c1", "set", "/a", b"v1", 0)
        c("c1", "set", "/a", b"v2", 0)  # BadVersion
        c("c1", "set", "/a", b"v2", -1)
        c("c1", "set", "/a", b"v3", 5)  # BadVersion
        c("c1", "set", "/missing", b"x")  # NoNode
        c("c1", "get", "/a")
        c("c1", "exists", "/a")  # pzxid unchanged by setData
        c("c1", "delete", "/a")  # NotEmpty
        c("c1", "delete", "/a", 99)  # BadVersion is checked before NotEmpty
        c("c1", "delete", "/a/b", 3)  # BadVersion
        c("c1", "delete", "/a/b", 0)
        c("c1", "delete", "/a/b")  # NoNode
        c("c1", "delete", "/missing")  # NoNode
        c("c1", "exists", "/a")  # cversion = 3 creates + 1 delete, pzxid = the delete
        c("c1", "get_children", "/a")
        c("c1", "get_children", "/a", include_data=True)
        c("c1", "get_children", "/missing")
        big = bytes(range(256)) * 2048  # 512 KiB
        c("c1", "create", "/big", big)
        c("c1", "get", "/big")
        c("c1", "set", "/big", b"")
        c("c1", "exists", "/big")
        c("c1", "delete", "/big")
        c("c1", "create", "/utf-\u00e9\u00e8\u4e2d", "h\u00e9".encode())
        c("c1", "get", "/utf-\u00e9\u00e8\u4e2d")
        c("c1", "delete", "/utf-\u00e9\u00e8\u4e2d")

        # --- path validation as the server does it. kazoo normalises paths itself (drops
        # empty components, rejects "." and ".."), so only what survives that is sent here.
        c("c1", "create", "/a/...", b"")  # legal
        c("c1", "delete", "/a/...")
        c("c1", "create", "/a/x\x00y", b"")  # NUL: BadArguments
        c("c1", "create", "/a/x\x01y", b"")  # control character: BadArguments
        c("c1", "create", "/a/x\ue000y", b"")  # private use area: BadArguments
        c("c1", "create", "/nope/x\x01y", b"")  # parent lookup first: NoNode
        c("c1", "create", "/a/x\x7fy", b"")  # DEL: BadArguments
        c("c1", "create", "/a/x\u00a0y", b"")  # NBSP is legal
        c("c1", "delete", "/a/x\u00a0y")
        c("c1", "set", "/a/x\x01y", b"")  # setData validates the path: BadArguments
        c("c1", "set", "/a/x\x00y", b"")  # BadArguments
        c("c1", "get", "/a/x\x01y")  # reads do not validate: NoNode
        c("c1", "get", "/a/x\x00y")  # NoNode
        c("c1", "get_children", "/a/x\x00y")  # NoNode
        c("c1", "exists", "/a/x\x01y")  # NoNode (no body)
        c("c1", "exists", "/a\x00b")  # exists rejects NUL: BadArguments
        c("c1", "delete", "/a/x\x01y")  # delete only checks parent/special paths: NoNode
        c("c1", "delete", "/a/x\x00y")  # BadArguments
        c("c1", "set_acls", "/a/x\x01y", OPEN)  # BadArguments
        c("c1", "get_acls", "/a/x\x01y")  # NoNode
        self.txn("c1", [("check", "/a/x\x01y", 0)])  # BadArguments
        self.txn("c1", [("create", "/a/x\x01y", b"")])  # BadArguments
        c("c1", "delete", "/")  # BadArguments
        c("c1", "delete", "/zookeeper")  # BadArguments
        c("c1", "delete", "/zookeeper/quota")  # BadArguments
        c("c1", "delete", "/zookeeper/config")  # BadArguments
        c("c1", "create", "/zookeeper/foo", b"allowed")
        c("c1", "exists", "/zookeeper")
        c("c1", "delete", "/zookeeper/foo")
        c("c1", "set", "/", b"root-data")
        c("c1", "get", "/")

        # --- ephemerals (owner masking, NoChildrenForEphemerals, removal at close)
        c("c1", "create", "/eph", b"e", ephemeral=True)
        c("c1", "exists", "/eph")
        c("c1", "create", "/eph/child", b"")
        c("c1", "create", "/eph/child", b"", ephemeral=True)
        c("c1", "create", "/eph/s-", b"", sequence=True)
        self.connect("c2")
        c("c2", "exists", "/eph")
        c("c2", "create", "/eph2", b"", ephemeral=True)
        seqp = c("c2", "create", "/eph2s-", b"", ephemeral=True, sequence=True) or "/eph2s-?"
        c("c1", "exists", "/eph2")
        c("c1", "get", seqp)
        c("c1", "get_children", "/", include_data=True)
        c("c1", "set", seqp, b"set-by-c1")  # another session may modify and delete it
        c("c1", "create", "/eph3", b"", ephemeral=True)
        c("c2", "delete", "/eph3")
        self.txn("c2", [("create", "/eph4", b"", None, True, True), ("create", "/eph5", b"", None, True)])
        c("c1", "exists", "/eph5")
        c("c1", "exists", "/eph2", watch=self.watcher("c1-exists-eph2"))
        self.close("c2")
        c("c1", "exists", "/eph2")
        c("c1", "exists", seqp)
        c("c1", "exists", "/")  # pzxid = the closeSession txn
        self.expect_events(1, "ephemeral of closed session deleted")

        # --- sequential nodes: suffix = creation count of the parent, deletes do not advance it
        c("c1", "create", "/seq", b"")
        for _ in range(3):
            c("c1", "create", "/seq/n-", b"", sequence=True)
        c("c1", "delete", "/seq/n-0000000001")
        c("c1", "create", "/seq/n-", b"", sequence=True)
        c("c1", "create", "/seq/x", b"")
        c("c1", "create", "/seq/n-", b"", sequence=True)
        c("c1", "create", "/seq/e-", b"", ephemeral=True, sequence=True)
        c("c1", "create", "/seq/n-0000000001", b"")  # reuse of a deleted name is a plain create
        c("c1", "create", "/seq/n-0000000002", b"")  # NodeExists
        c("c1", "exists", "/seq")
        c("c1", "get_children", "/seq")
        c("c1", "get_children", "/seq", include_data=True)
        c("c1", "create", "/seq/", b"", sequence=True)  # "/seq/0000000008" is legal
        c("c1", "create", "/seq/x/", b"", sequence=True)
        c("c1", "create", "/seq/x/", b"", ephemeral=True, sequence=True)
        c("c1", "get_children", "/seq/x")
        c("c1", "delete", "/seq", recursive=True)
        c("c1", "exists", "/seq")
        c("c1", "create", "/seq", b"")
        c("c1", "create", "/seq/n-", b"", sequence=True)  # fresh parent: 0000000000 again

        # --- transactions (multi)
        self.txn("c1", [("create", "/tx", b""), ("create", "/tx/a", b"1"),
                        ("set_data", "/tx/a", b"2", 0), ("check", "/tx/a", 1),
                        ("create", "/tx/s-", b"", None, False, True)])
        c("c1", "exists", "/tx")
        c("c1", "exists", "/tx/a")
        c("c1", "get_children", "/tx")
        # failing in the middle: earlier ops report 0 (RolledBack), later ones -2
        self.txn("c1", [("create", "/tx/b", b""), ("set_data", "/tx/a", b"x", 99),
                        ("create", "/tx/c", b"")])
        c("c1", "exists", "/tx/b")
        c("c1", "exists", "/tx")
        # failing first op
        self.txn("c1", [("check", "/tx/missing", 0), ("create", "/tx/d", b"")])
        # failing last op; sequential numbers of the rolled-back creates are not consumed
        self.txn("c1", [("create", "/tx/s-", b"", None, False, True),
                        ("create", "/tx/s-", b"", None, False, True),
                        ("create", "/tx", b"")])
        self.txn("c1", [("create", "/tx/s-", b"", None, False, True)])
        # later ops see earlier ones: delete then re-create, create under a new node
        self.txn("c1", [("delete", "/tx/a", 1), ("create", "/tx/a", b"new"),
                        ("create", "/tx/a/deep", b""), ("set_data", "/tx/a/deep", b"d", 0),
                        ("check", "/tx/a/deep", 1)])
        c("c1", "get", "/tx/a")
        c("c1", "exists", "/tx/a/deep")
        self.txn("c1", [("check", "/tx/a", 5)])  # BadVersion alone
        self.txn("c1", [("create", "/tx/eph", b"", None, True)])
        self.txn("c1", [("create", "/tx/eph/no", b"")])  # NoChildrenForEphemerals
        self.txn("c1", [("delete", "/tx")])  # NotEmpty
        self.txn("c1", [("delete", "/tx/nope")])  # NoNode
        self.txn("c1", [("set_data", "/tx/nope", b"")])  # NoNode
        self.txn("c1", [("create", "/tx/x", b""), ("delete", "/tx/x"), ("create", "/tx/x", b"2")])
        c("c1", "get_children", "/tx", include_data=True)

        # --- ACLs
        c("c1", "get_acls", "/a")
        c("c1", "set_acls", "/a", OPEN, 0)
        c("c1", "set_acls", "/a", OPEN, 0)  # BadVersion (aversion is 1 now)
        c("c1", "set_acls", "/missing", OPEN)  # NoNode
        c("c1", "set_acls", "/a", [])  # InvalidACL
        c("c1", "set_acls", "/a", [ACL(31, Id("nosuchscheme", "x"))])  # InvalidACL
        c("c1", "set_acls", "/a", [ACL(1 | 16, Id("world", "anyone"))], 1)  # READ|ADMIN
        c("c1", "get_acls", "/a")
        c("c1", "exists", "/a")  # aversion 2, mzxid unchanged by setACL
        c("c1", "get", "/a")
        c("c1", "set", "/a", b"denied")  # NoAuth
        c("c1", "create", "/a/denied", b"")  # NoAuth (CREATE on parent)
        c("c1", "delete", "/a/c")  # NoAuth (DELETE on parent)
        c("c1", "delete", "/a/nope")  # NoAuth: parent DELETE is checked before existence
        c("c1", "set_acls", "/a", OPEN, 2)
        c("c1", "delete", "/a/c")
        c("c1", "create", "/wo", b"", acl=[ACL(2, Id("world", "anyone"))])  # WRITE only
        c("c1", "get", "/wo")  # NoAuth
        c("c1", "get_children", "/wo")  # NoAuth
        c("c1", "get_acls", "/wo")  # NoAuth: needs READ or ADMIN
        c("c1", "exists", "/wo")  # 3.8.0: Stat (no check); 3.8.4+/3.9.2+: NoAuth (ZOOKEEPER-2590)
        c("c1", "set", "/wo", b"ok")
        c("c1", "create", "/wo/c", b"")  # NoAuth
        c("c1", "delete", "/wo")  # allowed: DELETE is checked on the parent (/)
        self.connect("c3")
        c("c1", "add_auth", "digest", "alice:secret")
        dig = make_digest_acl("alice", "secret", all=True)
        c("c1", "create", "/sec", b"s", acl=[dig])
        c("c1", "get_acls", "/sec")
        c("c1", "get", "/sec")
        c("c1", "create", "/sec2", b"", acl=[ACL(31, Id("auth", ""))])  # auth -> digest alice
        c("c1", "get_acls", "/sec2")
        c("c3", "get", "/sec")  # NoAuth
        c("c3", "get_acls", "/sec")  # NoAuth
        c("c3", "set", "/sec", b"x")  # NoAuth
        c("c3", "get_children", "/sec")  # NoAuth
        c("c3", "create", "/sec/x", b"")  # NoAuth
        c("c3", "create", "/c3auth", b"", acl=[ACL(31, Id("auth", ""))])  # InvalidACL
        c("c3", "create", "/c3ip", b"", acl=[ACL(31, Id("ip", "127.0.0.1"))])
        c("c3", "get", "/c3ip")
        c("c3", "get_acls", "/c3ip")
        c("c3", "add_auth", "digest", "bob:pw")
        c("c3", "get", "/sec")  # still NoAuth
        c("c3", "add_auth", "digest", "alice:secret")
        c("c3", "get", "/sec")
        c("c3", "set", "/sec", b"by-c3")
        c("c1", "delete", "/sec")
        c("c1", "delete", "/sec2")
        c("c1", "delete", "/c3ip")

        # --- fixupACL: de-duplication, world ids, ip and digest id syntax, unknown schemes
        c("c1", "create", "/acl", b"", acl=[OPEN[0], OPEN[0]])  # duplicates are removed
        c("c1", "get_acls", "/acl")
        c("c1", "set_acls", "/acl", [ACL(31, Id("world", "nobody"))])  # InvalidACL
        c("c1", "set_acls", "/acl", [ACL(31, Id("ip", "10.0.0.0/33"))])  # InvalidACL
        c("c1", "set_acls", "/acl", [ACL(31, Id("ip", "300.1.1.1"))])  # InvalidACL
        c("c1", "set_acls", "/acl", [ACL(31, Id("digest", "alice"))])  # InvalidACL: no ':'
        c("c1", "set_acls", "/acl", [ACL(31, Id("digest", "a:b:c"))])  # InvalidACL: 3 parts
        c("c1", "set_acls", "/acl", [ACL(31, Id("super", "x"))])  # InvalidACL: no provider
        c("c1", "set_acls", "/acl", [ACL(31, Id("ip", "127.0.0.0/8")), ACL(1, Id("world", "anyone"))])
        c("c1", "get_acls", "/acl")
        c("c1", "get", "/acl")  # ip:127.0.0.0/8 matches this connection
        c("c1", "set_acls", "/acl", [ACL(31, Id("ip", "10.1.2.3")), ACL(1, Id("world", "anyone"))])
        c("c1", "set", "/acl", b"denied")  # NoAuth: only READ via world
        c("c1", "set_acls", "/acl", [ACL(0, Id("world", "anyone"))])  # NoAuth: no ADMIN
        c("c1", "delete", "/acl")  # DELETE is checked on the parent
        c("c1", "create", "/acl0", b"", acl=[ACL(0, Id("world", "anyone"))])  # perms not validated
        c("c1", "get", "/acl0")  # NoAuth
        c("c1", "get_acls", "/acl0")  # NoAuth
        c("c1", "delete", "/acl0")

        # --- a sequential node directly under the root: "/" + suffix is legal
        c("c1", "create", "/", b"", sequence=True)
        rootseq = c("c1", "create", "/", b"", sequence=True)
        if rootseq:
            c("c1", "delete", rootseq)

        # --- many children (listing, counts, sequence numbers)
        c("c1", "create", "/many", b"")
        for k in range(300):
            self.quiet("c1", "create", f"/many/n{k:03d}", b"")
        c("c1", "get_children", "/many", include_data=True)
        c("c1", "create", "/many/s-", b"", sequence=True)
        c("c1", "delete", "/many", recursive=True)

        # --- watches (one-shot)
        c("c1", "exists", "/w", watch=self.watcher("exists-w"))
        c("c1", "create", "/w", b"")
        self.expect_events(1, "created /w")
        c("c1", "get", "/w", watch=self.watcher("data-w"))
        c("c1", "get_children", "/w", watch=self.watcher("child-w"))
        c("c3", "set", "/w", b"changed")
        self.expect_events(1, "data changed /w")
        c("c3", "set", "/w", b"changed-again")  # one-shot: the data watch is gone
        self.expect_events(0, "no second data event")
        c("c3", "create", "/w/k", b"")
        self.expect_events(1, "child created under /w")
        c("c1", "get", "/w/k", watch=self.watcher("data-wk"))
        c("c1", "get_children", "/w", watch=self.watcher("child-w2"))
        c("c1", "exists", "/w/k", watch=self.watcher("exists-wk"))
        c("c3", "delete", "/w/k")
        self.expect_events(3, "delete /w/k")
        c("c1", "create", "/w2", b"")
        c("c1", "get", "/w2", watch=self.watcher("data-w2"))
        c("c1", "get_children", "/w2", watch=self.watcher("child-w2"))
        c("c1", "exists", "/w2", watch=self.watcher("exists-w2"))
        c("c3", "delete", "/w2")
        self.expect_events(3, "delete /w2 with data, child and exist watches")
        c("c1", "exists", "/w3", watch=self.watcher("exists-w3"))
        c("c1", "get_children", "/w", watch=self.watcher("child-w-multi"))
        self.txn("c3", [("create", "/w3", b""), ("create", "/w/m", b""), ("set_data", "/w3", b"x")])
        self.expect_events(2, "events fired by one multi")
        c("c1", "get", "/w3", watch=self.watcher("data-w3"))
        self.txn("c3", [("set_data", "/w3", b"y"), ("check", "/w3", 99)])  # fails: no event
        self.expect_events(0, "failed multi fires nothing")
        c("c3", "delete", "/w3")
        c("c3", "delete", "/w/m")
        self.expect_events(1, "data watch on /w3 sees the delete")
        c("c1", "sync", "/missing")  # sync does not check existence
        c("c1", "get", "/w/missing", watch=self.watcher("data-missing"))  # NoNode: no watch set
        c("c3", "create", "/w/missing", b"")
        self.expect_events(0, "no watch from failed getData")
        c("c3", "create", "/w/e", b"", ephemeral=True)
        c("c1", "exists", "/w/e", watch=self.watcher("exists-we"))
        c("c1", "get_children", "/w", watch=self.watcher("child-w3"))
        c("c1", "set", "/w", b"again")  # no data watch left on /w: no event
        self.close("c3")
        self.expect_events(2, "ephemeral /w/e removed at close of c3")
        c("c1", "exists", "/w")

        # --- sync, ensure_path, recursive delete
        c("c1", "sync", "/")
        c("c1", "sync", "/a")
        c("c1", "ensure_path", "/deep/er/path")
        c("c1", "ensure_path", "/deep/er/path")
        c("c1", "exists", "/deep/er")
        c("c1", "create", "/deep/er/path/leaf", b"", makepath=True)
        c("c1", "create", "/made/by/makepath", b"m", makepath=True)
        c("c1", "exists", "/made/by")
        c("c1", "delete", "/deep", recursive=True)
        c("c1", "exists", "/deep")
        c("c1", "delete", "/made", recursive=True)

        # --- final state: stats of the built-in nodes and a walk of the whole tree
        c("c1", "exists", "/")
        c("c1", "exists", "/zookeeper")
        c("c1", "exists", "/zookeeper/quota")
        c("c1", "exists", "/zookeeper/config")
        self.walk("c1", "/")
        self.close("c1")

    def walk(self, cname: str, path: str, depth: int = 0) -> None:
        if depth > 10:
            return
        children = self.call(cname, "get_children", path, include_data=True)
        self.call(cname, "get", path)
        if not children:
            return
        for ch in sorted(children[0]):
            self.walk(cname, (path.rstrip("/") + "/" + ch), depth + 1)


def main(argv=None, scenario_class=None, name: str = "kazoo") -> int:
    scenario_class = scenario_class or Scenario
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--server", required=True, help="host:port of a fresh server")
    ap.add_argument("--out", help="write the JSON here (default: stdout)")
    ap.add_argument("--verbose", action="store_true", help="show kazoo's log")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.CRITICAL)
    sc = scenario_class(args.server)
    status = 0
    try:
        sc.run()
    except Exception as e:  # noqa: BLE001 - record how far we got
        sc.records.append({"i": len(sc.records), "op": "ABORTED", "error": repr(e)})
        status = 2
    finally:
        for cl in list(sc.clients.values()):
            try:
                cl.stop()
                cl.close()
            except Exception:  # noqa: BLE001
                pass
    import kazoo

    out = {
        "meta": {"scenario": name, "kazoo": getattr(kazoo, "__version__", "?"), "server": args.server},
        "records": sc.records,
    }
    text = json.dumps(out, indent=1)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    else:
        print(text)
    return status


if __name__ == "__main__":
    sys.exit(main())
