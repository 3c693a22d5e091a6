"""Differential test: the same client scenario against real Java ZooKeeper 3.8 and Menagerie.

    python3 tests/compat/differential.py                      # kazoo scenario, java vs menagerie
    python3 tests/compat/differential.py --scenario javaclient
    python3 tests/compat/differential.py --candidate java     # java vs java: self-test of masking
    python3 tests/compat/differential.py --keep DIR           # also keep both JSON outputs in DIR

Each side gets its own fresh server (see zkserver.py). The scenario's normalised records (see
scenario_kazoo.py for the normalisation) are compared record by record; every difference is
printed as ``op / args / expected (Java) / got (candidate)``. A difference listed in ALLOWED below
is reported but does not fail the run. Exit status: 0 all equal (or only allowed differences),
1 mismatches, 2 a server or the scenario could not run.

The last line of output is machine readable: ``TESTRESULT PASS|FAIL <name>`` (run_all.sh counts
these).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import zkserver  # noqa: E402

SCENARIO_TIMEOUT = 180  # seconds for one scenario run against one server


def _script(name: str, *extra: str):
    return lambda hp, out: [sys.executable, str(HERE / name), "--server", hp, "--out", out, *extra]


# name -> (command for host:port and output file, extra server settings for zkserver)
SCENARIOS = {
    "kazoo": (_script("scenario_kazoo.py"), None),
    "kazoo_sessions": (_script("scenario_kazoo_sessions.py"), None),
    "javaclient": (_script("scenario_javaclient.py"), None),
    # container / TTL reaping; ZooKeeper's ContainerManager runs every checkIntervalMs (default
    # 60 s); both servers get 1000 ms (a JVM property for Java, a zoo.cfg key for Menagerie)
    "javaclient_reaper": (_script("scenario_javaclient.py", "--mode", "reaper"),
                          {"znode.container.checkIntervalMs": 1000}),
}


# ----------------------------------------------------------------------------------------------
# Known, justified differences between Java ZooKeeper 3.8.0 (the Debian package we compare
# against) and Menagerie. Each entry: id, scenarios it applies to, `why` (mandatory), and
# `accept(expected_record, got_record)` which must return True ONLY for exactly the known
# difference (anything else about the record must still be equal).
# ----------------------------------------------------------------------------------------------


def _zk4026(exp: dict, got: dict) -> bool:
    """Only difference: sub-results that Java 3.8.0 gives as plain create (no Stat) are create2
    with a Stat (same path) from the candidate; everything else in the record is equal."""
    if exp.get("op") != "multi" or got.get("op") != "multi" or exp == got:
        return False
    er, gr = exp.get("result"), got.get("result")
    if not (isinstance(er, dict) and isinstance(gr, dict)):
        return False
    el, gl = er.get("results"), gr.get("results")
    if not (isinstance(el, list) and isinstance(gl, list)) or len(el) != len(gl):
        return False
    for e, g in zip(el, gl):
        if e == g:
            continue
        if not (e.get("type") == "create" and "stat" not in e and g.get("type") == "create2"
                and g.get("path") == e.get("path") and "stat" in g and len(g) == 3):
            return False
    rest_e = {k: v for k, v in exp.items() if k != "result"}
    rest_g = {k: v for k, v in got.items() if k != "result"}
    return rest_e == rest_g and {k: v for k, v in er.items() if k != "results"} == {
        k: v for k, v in gr.items() if k != "results"}


def _zk2590(exp: dict, got: dict) -> bool:
    # exists() on a node the caller may not READ: 3.8.0 returns the Stat, 3.8.4+/3.9.2+ NoAuth.
    if exp.get("op") != "exists" or got.get("op") != "exists" or exp.get("args") != got.get("args"):
        return False
    return (
        isinstance(exp.get("result"), dict)
        and "stat" in exp["result"]
        and got.get("error", {}).get("code") == -102
        and exp.get("zxid") == got.get("zxid")
    )


def _zk4466(exp: dict, got: dict) -> bool:
    # the event record right after a second change of a path that has both a persistent and a
    # (used up) one-shot watch of the same connection: 3.8 has lost the persistent watch
    return (
        exp.get("op") == got.get("op") == "events"
        and exp.get("args") == got.get("args") == ["second change of /jq"]
        and exp.get("result") == []
        and got.get("result") == [["persistent-jq", "NodeDataChanged", "/jq"]]
    )


def _owner_kept(exp: dict, got: dict) -> bool:
    # a resume with a wrong password: Java disconnects the session's owner first, Menagerie
    # keeps it; everything else about the record is equal
    er, gr = exp.get("result"), got.get("result")
    if not (isinstance(er, dict) and isinstance(gr, dict)):
        return False
    return (
        exp.get("op") == got.get("op")
        and exp.get("args") == got.get("args")
        and er.get("owner_was_disconnected") is True
        and gr.get("owner_was_disconnected") is False
        and {k: v for k, v in er.items() if k != "owner_was_disconnected"}
        == {k: v for k, v in gr.items() if k != "owner_was_disconnected"}
    )


ALLOWED = [
    {
        "id": "ZOOKEEPER-4026",
        "scenarios": ["javaclient"],
        "why": (
            "ZooKeeper 3.8.0 deserialises create2/createContainer/createTTL sub-ops of a multi as "
            "plain create, so their results come back as type 1 (CreateResult without Stat). Fixed "
            "in 3.8.4 and 3.9.0; Menagerie follows 3.9 and returns type 15 with the Stat. Accepted "
            "only where Java has a plain create result and the candidate a create2 result with the "
            "same path plus a Stat; everything else must be equal. (Observed on 3.8.0: container "
            "and TTL creates in a multi already come back as create2 with Stat, so today only a "
            "raw opcode-15 sub-op, which neither kazoo nor the Java client sends, would hit this.)"
        ),
        "accept": _zk4026,
    },
    {
        "id": "ZOOKEEPER-2590",
        "scenarios": ["kazoo", "kazoo_sessions", "javaclient", "restart"],
        "why": (
            "exists() did not check READ permission before 3.8.4/3.9.2; newer servers answer NoAuth "
            "when the node exists and the caller lacks READ. Menagerie may follow 3.9. Accepted only "
            "for exists() where Java returns a Stat and the candidate returns NoAuth (-102) with "
            "the same reply zxid."
        ),
        "accept": _zk2590,
    },
    {
        "id": "ZOOKEEPER-4466",
        "scenarios": ["javaclient"],
        "why": (
            "3.6-3.8 keep one watch mode per (connection, path): a one-shot getData watch set after "
            "addWatch(PERSISTENT) on the same path replaces the persistent watch on the server, so "
            "after the first change the client still believes in a persistent watch that no longer "
            "fires. 3.9.0 fixed it (several modes per path, triggering removes only the one-shot "
            "bit); Menagerie follows 3.9. Accepted only for that record: no event from 3.8, exactly "
            "the persistent watch's NodeDataChanged from the candidate."
        ),
        "accept": _zk4466,
    },
    {
        "id": "issue-16-owner-kept",
        "scenarios": ["javaclient"],
        "why": (
            "A resume with a wrong password: ZooKeeper (3.8.0 and later) closes the session's "
            "current connection before checking the password, so anyone who knows a session id "
            "(cons, ephemeralOwner) can keep disconnecting its owner. Menagerie refuses the resume "
            "and leaves the owner connected (issue 16, item 3; docs/security.md). Accepted only "
            "for owner_was_disconnected true (Java) vs false (candidate), the rest equal."
        ),
        "accept": _owner_kept,
    },
]


# ----------------------------------------------------------------------------------------------
# Comparison
# ----------------------------------------------------------------------------------------------


def deep_diff(a, b, path: str = "") -> list[tuple[str, object, object]]:
    """List of (field path, a value, b value) where the two JSON values differ."""
    if type(a) is not type(b):
        return [(path or ".", a, b)]
    if isinstance(a, dict):
        out = []
        for k in sorted(set(a) | set(b), key=str):
            p = f"{path}.{k}" if path else str(k)
            if k not in a:
                out.append((p, "<absent>", b[k]))
            elif k not in b:
                out.append((p, a[k], "<absent>"))
            else:
                out.extend(deep_diff(a[k], b[k], p))
        return out
    if isinstance(a, list):
        if len(a) != len(b):
            return [(path or ".", a, b)]
        out = []
        for i, (x, y) in enumerate(zip(a, b)):
            out.extend(deep_diff(x, y, f"{path}[{i}]"))
        return out
    return [] if a == b else [(path or ".", a, b)]


def _short(v, limit: int = 400) -> str:
    s = json.dumps(v, sort_keys=True)
    return s if len(s) <= limit else s[: limit - 3] + "..."


def describe(rec: dict) -> str:
    who = rec.get("c", "")
    args = rec.get("args", [])
    return f"{who + ' ' if who else ''}{rec.get('op')} {_short(args, 200)}"


def outcome(rec: dict):
    """The part of a record that is compared (everything but the index)."""
    return {k: v for k, v in rec.items() if k != "i"}


def compare_records(
    expected: list[dict],
    got: list[dict],
    scenario: str,
    exp_name: str = "java",
    got_name: str = "menagerie",
    out=sys.stdout,
    max_report: int = 60,
) -> tuple[int, int]:
    """Print differences; return (number of mismatches, number of allowed differences)."""
    mismatches = allowed = 0
    allow = [a for a in ALLOWED if scenario in a["scenarios"]]
    n = max(len(expected), len(got))
    for i in range(n):
        e = expected[i] if i < len(expected) else None
        g = got[i] if i < len(got) else None
        if e is not None and g is not None and outcome(e) == outcome(g):
            continue
        if e is not None and g is not None:
            hit = next((a for a in allow if a["accept"](outcome(e), outcome(g))), None)
            if hit:
                allowed += 1
                print(f"ALLOWED [{hit['id']}] #{i} {describe(e)}", file=out)
                continue
        mismatches += 1
        if mismatches > max_report:
            continue
        if e is None:
            print(f"MISMATCH #{i}: {exp_name} has no record here; {got_name} has {describe(g)}", file=out)
            print(f"    got ({got_name}):      {_short(outcome(g))}", file=out)
            continue
        if g is None:
            rest = len(expected) - i
            print(f"MISMATCH #{i}..#{len(expected) - 1}: {got_name} has no more records "
                  f"({rest} expected records unmatched); next expected: {describe(e)}", file=out)
            mismatches += rest - 1
            break
        print(f"MISMATCH #{i} {describe(e)}", file=out)
        if e.get("op") != g.get("op") or e.get("args") != g.get("args"):
            print(f"    (record is out of step: {got_name} did {describe(g)})", file=out)
        ex = {k: v for k, v in outcome(e).items() if k not in ("c", "op", "args")}
        gx = {k: v for k, v in outcome(g).items() if k not in ("c", "op", "args")}
        print(f"    expected ({exp_name}): {_short(ex)}", file=out)
        print(f"    got ({got_name}):      {_short(gx)}", file=out)
        for p, x, y in deep_diff(ex, gx)[:12]:
            print(f"      {p}: {exp_name}={_short(x, 120)}  {got_name}={_short(y, 120)}", file=out)
    if mismatches > max_report:
        print(f"... {mismatches - max_report} more mismatches not shown", file=out)
    return mismatches, allowed


# ----------------------------------------------------------------------------------------------
# Running
# ----------------------------------------------------------------------------------------------


def run_scenario(scenario: str, srv: zkserver.Server, out_path: str) -> dict:
    cmd = SCENARIOS[scenario][0](srv.hostport, out_path)
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=SCENARIO_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{scenario} scenario against {srv.kind} timed out after {SCENARIO_TIMEOUT} s")
    dt = time.monotonic() - t0
    if not os.path.exists(out_path):
        raise RuntimeError(
            f"{scenario} scenario against {srv.kind} produced no output (exit {p.returncode})\n"
            f"{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
        )
    with open(out_path) as f:
        data = json.load(f)
    data.setdefault("meta", {})["exit"] = p.returncode
    data["meta"]["seconds"] = round(dt, 1)
    if p.returncode != 0:
        data["meta"]["stderr"] = p.stderr[-3000:]
    return data


def main(argv=None) -> int:
    zkserver.install_signal_handlers()
    ap = argparse.ArgumentParser(description="java ZooKeeper vs candidate, same client scenario")
    ap.add_argument("--scenario", default="kazoo", choices=sorted(SCENARIOS))
    ap.add_argument("--reference", default="java", choices=["java", "menagerie"])
    ap.add_argument("--candidate", default="menagerie", choices=["java", "menagerie"])
    ap.add_argument("--keep", help="directory to keep both scenario outputs in")
    ap.add_argument("--name", help="test name for the TESTRESULT line")
    args = ap.parse_args(argv)
    name = args.name or f"differential[{args.scenario}:{args.reference}-vs-{args.candidate}]"
    ref_label, cand_label = args.reference, args.candidate
    if ref_label == cand_label:
        ref_label, cand_label = f"{ref_label}#1", f"{cand_label}#2"

    for kind in {args.reference, args.candidate}:
        why = zkserver.check_available(kind)
        if why:
            print(f"cannot run: {why}")
            print(f"TESTRESULT FAIL {name}")
            return 2

    tmp = args.keep or tempfile.mkdtemp(prefix="compat-diff-")
    os.makedirs(tmp, exist_ok=True)
    results = {}
    try:
        for label, kind in ((ref_label, args.reference), (cand_label, args.candidate)):
            with zkserver.start_server(kind, extra=SCENARIOS[args.scenario][1]) as srv:
                out = os.path.join(tmp, f"{args.scenario}-{label.replace('#', '')}.json")
                results[label] = run_scenario(args.scenario, srv, out)
                if not srv.alive():
                    results[label]["meta"]["server_died"] = srv.log_tail()
    except (zkserver.ServerUnavailable, RuntimeError) as e:
        print(f"cannot run: {e}")
        print(f"TESTRESULT FAIL {name}")
        return 2

    exp, got = results[ref_label], results[cand_label]
    for label, d in ((ref_label, exp), (cand_label, got)):
        m = d["meta"]
        print(f"{label}: {len(d['records'])} records in {m.get('seconds')} s, scenario exit {m.get('exit')}")
        if m.get("server_died"):
            print(f"  {label} server died during the scenario; log tail:\n{m['server_died']}")
        if m.get("exit"):
            print(f"  scenario stderr tail:\n{m.get('stderr', '')}")
    if exp["meta"].get("exit"):
        print(f"the scenario failed against the reference {ref_label}: the harness is broken")
        print(f"TESTRESULT FAIL {name}")
        return 2

    mism, allowed = compare_records(exp["records"], got["records"], args.scenario, ref_label, cand_label)
    print(f"{args.scenario}: {mism} mismatches, {allowed} allowed differences "
          f"({len(exp['records'])} records compared)")
    if args.keep:
        print(f"outputs kept in {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    ok = mism == 0 and not got["meta"].get("exit")
    print(f"TESTRESULT {'PASS' if ok else 'FAIL'} {name}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
