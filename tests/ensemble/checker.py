"""Checks a recorded workload (workload.History) against the ensemble's final state.

Reads every live member's whole tree (outside /zookeeper) through a kazoo client connected to
that member alone, after ``sync``, and checks:

1. every acknowledged create, sequential create and set is present on every member, with its
   data, and with the zxid the client was told (czxid / the counter's version);
2. no member holds a node in the workload's namespace whose create was never attempted, or
   that a definite error said was not created, and no sequential-create attempt was applied
   twice;
3. the members agree: the same last zxid (``srvr``), the same tree (path, data, czxid, mzxid,
   pzxid, versions, ephemeralOwner), the same digests in ``hash`` at the zxids they both list,
   and no ``zk_digest_mismatches_count`` above zero;
4. per-client order: each client's acknowledged writes have increasing zxids in the order it
   issued them, and its reads never show its counter older than its last acknowledged set;
5. real time: a write acknowledged before another write was issued has the smaller zxid;
   no two acknowledged writes share a zxid.

``check()`` returns a Result whose ``violations`` list is empty when everything holds and
whose ``text`` is a readable report.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError
from kazoo.retry import KazooRetry

from workload import History

MAX_SHOWN = 12  # violations shown per kind


@dataclass
class Result:
    violations: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def add(self, kind: str, items: list[str]) -> None:
        if not items:
            return
        self.violations.append(f"{kind}: {len(items)}")
        self.lines.append(f"VIOLATION {kind} ({len(items)}):")
        self.lines += [f"    {x}" for x in items[:MAX_SHOWN]]
        if len(items) > MAX_SHOWN:
            self.lines.append(f"    ... and {len(items) - MAX_SHOWN} more")

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


# ---------------------------------------------------------------------------------------------
# reading a member


def read_tree(hostport: str, timeout: float = 30.0) -> dict[str, tuple]:
    """path -> (data, czxid, mzxid, pzxid, version, cversion, aversion, ephemeralOwner,
    numChildren) for every node outside /zookeeper, read from one member after sync."""
    logging.getLogger("kazoo").setLevel(logging.CRITICAL)
    zk = KazooClient(hosts=hostport, timeout=10.0, randomize_hosts=False,
                     connection_retry=KazooRetry(max_tries=-1, delay=0.2, max_delay=1.0),
                     command_retry=KazooRetry(max_tries=20, delay=0.2, max_delay=1.0))
    zk.start(timeout=timeout)
    try:
        zk.retry(zk.sync, "/")
        out: dict[str, tuple] = {}
        level = ["/"]
        while level:
            kids_async = [(p, zk.get_children_async(p)) for p in level]
            nxt = []
            for p, a in kids_async:
                try:
                    kids = a.get(timeout=timeout)
                except NoNodeError:
                    continue
                for k in kids:
                    child = (p.rstrip("/") + "/" + k)
                    if child != "/zookeeper":
                        nxt.append(child)
            gets = [(p, zk.get_async(p)) for p in nxt]
            for p, a in gets:
                try:
                    data, st = a.get(timeout=timeout)
                except NoNodeError:
                    continue
                out[p] = (data, st.czxid, st.mzxid, st.pzxid, st.version, st.cversion,
                          st.aversion, st.ephemeralOwner, st.numChildren)
            level = nxt
        return out
    finally:
        zk.stop()
        zk.close()


# ---------------------------------------------------------------------------------------------
# the checks


def logical_ops(history: History) -> list[dict]:
    """Final records of writes, each with `start` = the first attempt's t0."""
    first: dict[tuple, float] = {}
    for r in history.records:
        key = (r["cid"], r["op"], r["key"])
        first.setdefault(key, r["t0"])
    out = []
    for r in history.finals():
        if r["op"] == "get":
            continue
        r = dict(r)
        r["start"] = first[(r["cid"], r["op"], r["key"])]
        out.append(r)
    return out


def check_presence(name: str, tree: dict, ops: list[dict]) -> list[str]:
    bad = []
    for r in ops:
        if r["status"] != "ok":
            continue
        if r["op"] in ("create", "seq"):
            node = tree.get(r["path"])
            if node is None:
                bad.append(f"{name}: acknowledged {r['op']} {r['path']} ({r['cid']}, "
                           f"zxid {_hx(r['zxid'])}) missing")
            elif node[0] != r["value"].encode():
                bad.append(f"{name}: {r['path']} holds {node[0]!r}, acknowledged "
                           f"{r['value']!r}")
            elif r["zxid"] is not None and node[1] != r["zxid"]:
                bad.append(f"{name}: {r['path']} czxid {_hx(node[1])}, client was told "
                           f"{_hx(r['zxid'])}")
        elif r["op"] == "set":
            node = tree.get(r["path"])
            if node is None:
                bad.append(f"{name}: counter {r['path']} missing")
            elif node[4] < r["version"]:
                bad.append(f"{name}: {r['path']} at version {node[4]}, a set to version "
                           f"{r['version']} was acknowledged")
    return bad


def check_phantoms(name: str, tree: dict, history: History, cids: set[str]) -> list[str]:
    """Nodes in /ens whose create was never attempted, or was refused for certain."""
    attempted: dict[str, str] = {}
    refused: set[str] = set()
    seq_values: dict[str, str] = {}
    set_attempts: dict[str, int] = {}
    for r in history.records:
        if r["op"] == "create":
            attempted[r["path"]] = r["value"]
            if r.get("final") and r["status"] == "failed" and r["err"] != "NodeExistsError":
                refused.add(r["path"])
        elif r["op"] == "seq" and r["outcome"] in ("ok", "unknown"):
            seq_values[r["value"]] = r["cid"]
        elif r["op"] == "set" and r["outcome"] in ("ok", "unknown"):
            set_attempts[r["path"]] = set_attempts.get(r["path"], 0) + 1
    bad = []
    seen_seq: dict[bytes, str] = {}
    root = history.root
    for path, node in tree.items():
        if not path.startswith(root + "/"):
            continue
        parts = path[len(root) + 1:].split("/")
        if len(parts) == 1:
            if parts[0] != "seq" and parts[0] not in cids:
                bad.append(f"{name}: {path}: no client of that name")
            continue
        parent, leaf = parts[0], "/".join(parts[1:])
        if parent == "seq":
            val = node[0].decode(errors="replace")
            if val not in seq_values:
                bad.append(f"{name}: {path} = {val!r}: no sequential create with that data "
                           "was attempted")
            elif node[0] in seen_seq:
                bad.append(f"{name}: attempt {val!r} applied twice: {seen_seq[node[0]]}, {path}")
            seen_seq[node[0]] = path
        elif leaf == "counter":
            n = set_attempts.get(path, 0)
            if node[4] > n:
                bad.append(f"{name}: {path} at version {node[4]}, only {n} sets attempted")
            if node[0] != str(node[4]).encode():
                bad.append(f"{name}: {path} version {node[4]} holds {node[0]!r}")
        elif path in refused:
            bad.append(f"{name}: {path} exists, its create failed with a definite error")
        elif path not in attempted:
            bad.append(f"{name}: {path}: never attempted")
        elif node[0] != attempted[path].encode():
            bad.append(f"{name}: {path} holds {node[0]!r}, attempted {attempted[path]!r}")
    return bad


def check_client_order(history: History) -> list[str]:
    bad = []
    by_cid: dict[str, list[dict]] = {}
    for r in history.finals():
        by_cid.setdefault(r["cid"], []).append(r)
    for cid, recs in by_cid.items():
        last_zxid, last_desc = -1, ""
        set_floor = 0
        for r in recs:
            if r["status"] != "ok":
                continue
            if r["op"] == "get":
                if r["version"] is not None and r["version"] < set_floor:
                    bad.append(f"{cid}: read counter version {r['version']} after its set to "
                               f"version {set_floor} was acknowledged (read behind own write)")
                continue
            if r["zxid"] is None:
                continue
            if r["zxid"] <= last_zxid:
                bad.append(f"{cid}: {r['op']} {r['path'] or r['value']} got zxid "
                           f"{_hx(r['zxid'])} after {last_desc} got {_hx(last_zxid)}")
            last_zxid, last_desc = r["zxid"], f"{r['op']} {r['path'] or r['value']}"
            if r["op"] == "set":
                set_floor = max(set_floor, r["version"] or 0)
    return bad


def check_real_time(ops: list[dict]) -> list[str]:
    """Acknowledged writes: zxid order must agree with real-time order."""
    acked = sorted((r for r in ops if r["status"] == "ok" and r["zxid"] is not None),
                   key=lambda r: r["zxid"])
    bad = []
    seen: dict[int, dict] = {}
    for r in acked:
        if r["zxid"] in seen:
            o = seen[r["zxid"]]
            bad.append(f"zxid {_hx(r['zxid'])} acknowledged twice: {o['cid']} {o['op']} "
                       f"{o['path']} and {r['cid']} {r['op']} {r['path']}")
        seen[r["zxid"]] = r
    # suffix minimum of acknowledgement times, in zxid order
    suffix_min = [float("inf")] * (len(acked) + 1)
    arg = [None] * (len(acked) + 1)
    for i in range(len(acked) - 1, -1, -1):
        if acked[i]["t1"] < suffix_min[i + 1]:
            suffix_min[i], arg[i] = acked[i]["t1"], acked[i]
        else:
            suffix_min[i], arg[i] = suffix_min[i + 1], arg[i + 1]
    for i, r in enumerate(acked):
        later = arg[i + 1]
        if later is not None and suffix_min[i + 1] < r["start"]:
            bad.append(f"{later['cid']} {later['op']} {later['path']} (zxid "
                       f"{_hx(later['zxid'])}) was acknowledged at {later['t1']:.3f}, before "
                       f"{r['cid']} {r['op']} {r['path']} (zxid {_hx(r['zxid'])}) was issued "
                       f"at {r['start']:.3f}")
    return bad


def compare_trees(trees: dict[str, dict]) -> list[str]:
    names = list(trees)
    if len(names) < 2:
        return []
    ref_name = names[0]
    ref = trees[ref_name]
    bad = []
    for name in names[1:]:
        t = trees[name]
        for p in sorted(set(ref) | set(t)):
            a, b = ref.get(p), t.get(p)
            if a != b:
                bad.append(f"{p}: {ref_name} {_node(a)} vs {name} {_node(b)}")
    return bad


def compare_digests(ens, res: Result | None = None) -> list[str]:
    """`hash` digests equal at every zxid two members both list; no digest mismatches.

    Java 3.8.0 counts digest mismatches itself when a member that synced by SNAP restarts and
    replays its log over a fuzzy snapshot ("The digest value is empty in snapshot"), and then
    lists wrong digests in `hash` too, while its tree is right. Such a Java member's own
    mismatch count, and its `hash` differences, are reported as notes, not violations."""
    members = list(ens.live())
    hashes = {m.name: m.hash() for m in members}
    counts = {m.name: m.mntr().get("zk_digest_mismatches_count") for m in members}
    java_bad = {m.name for m in members if getattr(m, "kind", "") == "java"
                and counts[m.name] not in (None, "0")}
    bad, notes = [], []
    compared = set()
    names = list(hashes)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            common = set(hashes[a]) & set(hashes[b])
            compared |= common
            for z in sorted(common):
                if hashes[a][z] != hashes[b][z]:
                    msg = f"hash at zxid {_hx(z)}: {a} {hashes[a][z]} vs {b} {hashes[b][z]}"
                    (notes if {a, b} & java_bad else bad).append(msg)
    for name, mm in counts.items():
        if mm not in (None, "0"):
            msg = f"{name}: zk_digest_mismatches_count {mm}"
            (notes if name in java_bad else bad).append(msg)
    if res is not None:
        res.lines.append(f"hash digests compared at {len(compared)} zxids "
                         f"({', '.join(f'{n}: {len(h)}' for n, h in hashes.items())} listed)")
        res.lines += [f"note (Java 3.8.0 digest bug, trees compared instead): {n}"
                      for n in notes]
    return bad


def check(ens, history: History, zxid_timeout: float = 30.0) -> Result:
    """Runs every check; see the module doc. The workload must be stopped."""
    res = Result()
    res.lines.append(f"workload: {history.summary()}")
    res.add("workload client failures", history.fatal)
    cids = history.cids
    ops = logical_ops(history)
    zxid = None
    try:
        zxid = ens.wait_zxids_equal(zxid_timeout)
        res.lines.append(f"members agree on last zxid {_hx(zxid)}")
    except Exception as e:  # noqa: BLE001 - reported as a violation
        res.add("last zxid differs", [str(e)])
    trees = {}
    for m in ens.live():
        t0 = time.monotonic()
        try:
            trees[m.name] = read_tree(m.hostport)
        except Exception as e:  # noqa: BLE001
            res.add(f"{m.name} unreadable", [f"{type(e).__name__}: {e}"])
            continue
        res.lines.append(f"{m.name}: {len(trees[m.name])} nodes read after sync "
                         f"({time.monotonic() - t0:.1f} s)")
    for name, tree in trees.items():
        res.add(f"acknowledged writes missing or wrong on {name}",
                check_presence(name, tree, ops))
        res.add(f"nodes never written on {name}", check_phantoms(name, tree, history, cids))
    try:
        zxid2 = ens.wait_zxids_equal(zxid_timeout)
        if zxid is not None and zxid2 != zxid:
            res.lines.append(f"(last zxid moved to {_hx(zxid2)} while reading)")
    except Exception:  # noqa: BLE001 - already reported above if persistent
        pass
    res.add("members' trees differ", compare_trees(trees))
    res.add("digests differ", compare_digests(ens, res))
    res.add("per-client order", check_client_order(history))
    res.add("real-time order of acknowledged writes", check_real_time(ops))
    acked = sum(1 for r in ops if r["status"] == "ok")
    res.lines.append(f"checked {acked} acknowledged writes on {len(trees)} members: "
                     + ("OK" if res.ok else f"{len(res.violations)} kinds of violation"))
    return res


def _hx(z) -> str:
    return hex(z) if isinstance(z, int) else str(z)


def _node(n) -> str:
    if n is None:
        return "absent"
    return (f"data={n[0][:40]!r} czxid={_hx(n[1])} mzxid={_hx(n[2])} pzxid={_hx(n[3])} "
            f"v={n[4]} cv={n[5]} av={n[6]} owner={_hx(n[7])} kids={n[8]}")
