"""Admin HTTP server: Java ZooKeeper 3.8's AdminServer (Jetty) vs Menagerie's, after the same
small kazoo workload, plus Menagerie's Prometheus endpoints parsed with prometheus_client.

    python3 tests/compat/admin_test.py                      # java vs menagerie
    python3 tests/compat/admin_test.py --servers java,java  # self-test of the comparison
    python3 tests/compat/admin_test.py --show               # print both answers

Both servers run with the AdminServer on 127.0.0.1 at a free port (zkserver.py adds the
servlet API jar Debian's zookeeper.jar manifest leaves out). Every command and alias of the
Java listing is fetched with urllib from both; the answers must have the same keys and JSON
types, recursively (values differ: session ids, times, sizes, paths). Where the workload fixes
a value (node counts, watches, ephemeral paths, errors) the values are compared too.

Known, deliberate differences (checked, not ignored):
* ``environment`` and ``system_properties``: the JVM-only keys (``java.*``, ``sun.*``, ``jdk.*``,
  ...) cannot exist in a native server; the other keys must match.
* Session ids: Menagerie never shows a whole one (docs/security.md); it shows the string
  ``0x<high 40 bits>_<fingerprint>`` where ZooKeeper shows the number. Such strings count as
  the number for the shape comparison, and a session is recognised by its high bits.
* ``monitor``: Java's metrics provider adds ~470 counters and summaries Menagerie does not
  measure; every Menagerie key must exist in Java's answer with the same JSON type, and the
  classic gauges (the mntr set of a 3.8 standalone server) must all be present.

Menagerie's ``/metrics`` (admin port and ``metricsProvider.httpPort``) is parsed with
``prometheus_client.parser.text_string_to_metric_families``; every family must be a gauge
named like a key of Java's ``monitor`` answer (ZooKeeper's Prometheus names), with the value
the ``monitor`` command gives for the tree-derived keys, or a summary ZooKeeper has (its
``monitor`` shows ``cnt_<name>``), or a ``menagerie_`` family of Menagerie's own. Java's Debian package has no
Prometheus provider, so the names are checked against Java's monitor keys.

One ``TESTRESULT`` line per check.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from kazoo.client import KazooClient  # noqa: E402

import zkserver  # noqa: E402

PROMETHEUS_PROVIDER = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"

ALIASES = {
    "configuration": ["conf", "config"], "connection_stat_reset": ["crst"], "connections": ["cons"],
    "environment": ["env", "envi"], "get_trace_mask": ["gtmk"], "initial_configuration": ["icfg"],
    "is_read_only": ["isro"], "last_snapshot": ["lsnp"], "leader": ["lead"], "monitor": ["mntr"],
    "observer_connection_stat_reset": ["orst"], "observers": ["obsr"], "server_stats": ["srvr"],
    "set_trace_mask": ["stmk"], "stat_reset": ["srst"], "stats": ["stat"], "system_properties": ["sysp"],
    "watch_summary": ["wchs"], "watches": ["wchc"], "watches_by_path": ["wchp"],
}
# Commands whose answers (besides shapes) are fixed by the workload, with the keys to compare.
VALUE_KEYS = {
    "watch_summary": ["num_connections", "num_paths", "num_total_watches"],
    "server_stats": ["node_count", "read_only"],
    "is_read_only": ["read_only"],
    "voting_view": ["current_config"],
    "observers": ["synced_observers", "observers"],
    "zabstate": ["voting", "zabstate"],
    "hash": ["digests"],
}
MONITOR_TREE_KEYS = ["server_state", "ephemerals_count", "num_alive_connections", "outstanding_requests",
                     "znode_count", "global_sessions", "local_sessions", "watch_count",
                     "approximate_data_size"]
MONITOR_CLASSIC = MONITOR_TREE_KEYS + [
    "version", "avg_latency", "min_latency", "max_latency", "packets_sent", "packets_received",
    "open_file_descriptor_count", "max_file_descriptor_count", "uptime", "last_client_response_size",
    "min_client_response_size", "max_client_response_size", "connection_drop_probability",
    "auth_failed_count", "non_mtls_remote_conn_count", "non_mtls_local_conn_count",
    "outstanding_tls_handshake"]
JVM_PREFIXES = ("java.", "sun.", "jdk.", "jetty.", "log4j.", "file.encoding", "native.encoding",
                "user.language", "user.timezone", "user.country", "os.memory")


def workload(c: KazooClient) -> None:
    c.create("/f1", b"abc")
    c.create("/f1/child", b"")
    c.create("/f2", b"e", ephemeral=True)
    c.exists("/f1", watch=lambda e: None)
    c.get("/f2", watch=lambda e: None)
    c.get("/f1/child", watch=lambda e: None)
    c.get_children("/", watch=lambda e: None)  # a child watch: not listed by the watch commands


def http(port: int, path: str, method: str = "GET") -> tuple[int, str, str]:
    req = urllib.request.Request(f"http://{zkserver.HOST}:{port}{path}", method=method,
                                 data=b"x" if method == "POST" else None)
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode(errors="replace")


MASKED_SID = re.compile(r"0x([0-9a-f]{10})_[0-9a-f]{6}")


def unmask(v):
    """A masked session id (string) as ZooKeeper's number type, recursively (keys too)."""
    if isinstance(v, dict):
        return {("0" if MASKED_SID.fullmatch(k) else k): unmask(x) for k, x in v.items()}
    if isinstance(v, list):
        return [unmask(x) for x in v]
    if isinstance(v, str) and MASKED_SID.fullmatch(v):
        return 0
    return v


def same_session(v, sid: int) -> bool:
    """Whether v shows session sid: the number (ZooKeeper), or its masked form (Menagerie)."""
    m = MASKED_SID.fullmatch(str(v))
    return str(v) == str(sid) or (m is not None and int(m.group(1), 16) == sid >> 24)


def by_session(d: dict, sid: int):
    return next((x for k, x in d.items() if same_session(k, sid)), None)


def shape(v):
    """Keys and JSON types, recursively; maps keyed by ids/paths/times keep one value shape."""
    v = unmask(v)
    if isinstance(v, dict):
        if v and all(re.fullmatch(r"-?\d+|/.*", k) for k in v):
            return {"<key>": shape(next(iter(v.values())))}
        return {k: shape(x) for k, x in v.items()}
    if isinstance(v, list):
        return [shape(v[0])] if v else []
    return type(v).__name__


def collect(kind: str) -> dict:
    extra = None
    prom_port = None
    if kind == "menagerie":
        prom_port = zkserver.free_port()
        extra = {"metricsProvider.className": PROMETHEUS_PROVIDER,
                 "metricsProvider.httpHost": zkserver.HOST, "metricsProvider.httpPort": prom_port}
    with zkserver.start_server(kind, admin=True, extra=extra) as srv:
        c = KazooClient(hosts=srv.hostport, timeout=10.0, connection_retry=None, command_retry=None)
        c.start(timeout=15)
        try:
            workload(c)
            port = srv.admin_port
            out: dict = {"session": c.client_id[0], "tmpdir": srv.tmpdir}
            _, _, listing = http(port, "/commands")
            out["listing"] = sorted(set(re.findall(r'<a href="/commands/([a-z_]+)">\1</a>', listing)))
            out["commands"] = {}
            for name in out["listing"] + [a for names in ALIASES.values() for a in names] + ["nosuch"]:
                status, ctype, body = http(port, f"/commands/{name}")
                try:
                    out["commands"][name] = (status, ctype.split(";")[0], json.loads(body))
                except json.JSONDecodeError:
                    out["commands"][name] = (status, ctype, {"<not json>": body[:200]})
            for q in ["traceMask=abc", "traceMask=12", "traceMask=306"]:
                status, _, body = http(port, f"/commands/set_trace_mask?{q}")
                out["commands"][f"set_trace_mask?{q}"] = (status, "", json.loads(body))
            out["status"] = {p: http(port, p)[0] for p in ["/", "/nope"]}
            out["status"]["POST /commands/ruok"] = http(port, "/commands/ruok", "POST")[0]
            if kind == "menagerie":
                out["metrics"] = http(port, "/metrics")
                out["prom_metrics"] = http(prom_port, "/metrics")
                out["probes"] = {p: http(port, p)[0] for p in ["/ready", "/health"]}
            return out
        finally:
            c.stop()
            c.close()


def compare(a: dict, b: dict, labels: list[str], show: bool) -> list[tuple[str, list[str]]]:
    """(check name, problems) pairs."""
    results = []
    results.append(("listing", [] if a["listing"] == b["listing"] else
                    [f"{labels[0]} {a['listing']}", f"{labels[1]} {b['listing']}"]))
    sa, sb = a["session"], b["session"]
    for name in sorted(a["commands"]):
        ca, cb = a["commands"][name], b["commands"].get(name)
        problems = []
        if cb is None:
            results.append((name, ["missing"]))
            continue
        if (ca[0], ca[1]) != (cb[0], cb[1]):
            problems.append(f"status/content type {ca[:2]} vs {cb[:2]}")
        ja, jb = ca[2], cb[2]
        if show:
            print(f"--- {name}\n{labels[0]}: {json.dumps(ja)[:600]}\n{labels[1]}: {json.dumps(jb)[:600]}")
        primary = ja.get("command")
        if primary in ("environment", "system_properties"):
            ka = {k for k in ja if not k.startswith(JVM_PREFIXES)}
            kb = {k for k in jb if not k.startswith(JVM_PREFIXES)}
            if primary == "system_properties":
                # JVM launch details and the path of the zoo.cfg differ by nature.
                ka -= {"line.separator", "file.separator", "path.separator"}
                kb -= {"line.separator", "file.separator", "path.separator"}
            if ka != kb:
                problems.append(f"non-JVM keys differ: only {labels[0]}: {sorted(ka - kb)}, "
                                f"only {labels[1]}: {sorted(kb - ka)}")
            if {type(v).__name__ for v in jb.values() if v is not None} != {"str"}:
                problems.append(f"{labels[1]} values are not all strings")
        elif primary == "monitor":
            missing = [k for k in MONITOR_CLASSIC + ["command", "error"] if k not in jb]
            if missing:
                problems.append(f"classic keys missing in {labels[1]}: {missing}")
            for k, v in jb.items():
                if k not in ja:
                    problems.append(f"{k} not in {labels[0]}'s monitor")
                elif shape(v) != shape(ja[k]):
                    problems.append(f"{k}: {shape(ja[k])} vs {shape(v)}")
            for k in MONITOR_TREE_KEYS:
                if ja.get(k) != jb.get(k):
                    problems.append(f"{k}: {ja.get(k)!r} vs {jb.get(k)!r}")
        else:
            if shape(ja) != shape(jb):
                problems.append(f"shape {json.dumps(shape(ja))}\n      vs {json.dumps(shape(jb))}")
            for k in VALUE_KEYS.get(primary, []):
                if ja.get(k) != jb.get(k):
                    problems.append(f"{k}: {ja.get(k)!r} vs {jb.get(k)!r}")
            if primary is None or ja.get("error") is not None:
                if ja != jb:
                    problems.append(f"error answer {ja} vs {jb}")
            if primary == "dump":
                ea = by_session(ja["session_id_to_ephemeral_paths"], sa)
                eb = by_session(jb["session_id_to_ephemeral_paths"], sb)
                if ea != eb:
                    problems.append(f"ephemerals {ea} vs {eb}")
            if primary == "watches":
                wa = by_session(ja["session_id_to_watched_paths"], sa)
                wb = by_session(jb["session_id_to_watched_paths"], sb)
                if sorted(wa or []) != sorted(wb or []):
                    problems.append(f"watched paths {wa} vs {wb}")
            if primary == "watches_by_path":
                pa = {p: len(v) for p, v in ja["path_to_session_ids"].items()}
                pb = {p: len(v) for p, v in jb["path_to_session_ids"].items()}
                if pa != pb:
                    problems.append(f"paths {pa} vs {pb}")
            if primary == "connections":
                ids_a = [x["session_id"] for x in ja["connections"]]
                ids_b = [x["session_id"] for x in jb["connections"]]
                if not (len(ids_a) == len(ids_b) == 1 and same_session(ids_a[0], sa)
                        and same_session(ids_b[0], sb)):
                    problems.append(f"session ids {ids_a} vs {ids_b}")
            if primary in ("configuration",):
                for k in ("data_dir", "data_log_dir"):
                    va = ja[k].replace(a["tmpdir"], "<tmp>")
                    vb = jb[k].replace(b["tmpdir"], "<tmp>")
                    if va != vb:
                        problems.append(f"{k}: {va} vs {vb}")
        results.append((name, problems))
    results.append(("http-status", [] if a["status"] == b["status"] else
                    [f"{labels[0]} {a['status']}", f"{labels[1]} {b['status']}"]))
    return results


def check_prometheus(m: dict, java_monitor: dict) -> list[tuple[str, list[str]]]:
    from prometheus_client.parser import text_string_to_metric_families

    monitor = m["commands"]["monitor"][2]
    out = []
    for label, (status, ctype, body) in (("admin", m["metrics"]), ("provider-port", m["prom_metrics"])):
        problems = []
        if status != 200 or not ctype.startswith("text/plain"):
            problems.append(f"status {status}, content type {ctype!r}")
        try:
            families = list(text_string_to_metric_families(body))
        except Exception as e:  # noqa: BLE001
            families = []
            problems.append(f"prometheus_client cannot parse it: {e}")
        names = {f.name for f in families}
        for f in families:
            if f.name.startswith("menagerie_"):
                continue  # Menagerie's own additions (e.g. the fsync histogram)
            if f.type == "summary":
                # ZooKeeper's summaries show in `monitor` as cnt_/sum_/avg_<name>.
                if f"cnt_{f.name}" not in java_monitor:
                    problems.append(f"{f.name}: not a ZooKeeper summary")
                continue
            if f.type != "gauge":
                problems.append(f"{f.name}: type {f.type}")
            if f.name not in java_monitor:
                problems.append(f"{f.name}: not a ZooKeeper metric name")
            if len(f.samples) != 1:
                problems.append(f"{f.name}: {len(f.samples)} samples")
        for k in ["znode_count", "watch_count", "ephemerals_count", "approximate_data_size",
                  "outstanding_requests", "num_alive_connections", "global_sessions", "avg_latency",
                  "max_latency", "min_latency", "packets_received", "packets_sent", "uptime",
                  "open_file_descriptor_count"]:
            if k not in names:
                problems.append(f"{k} missing")
        values = {f.name: f.samples[0].value for f in families if f.samples}
        for k in ["znode_count", "watch_count", "ephemerals_count", "approximate_data_size", "global_sessions"]:
            if values.get(k) != monitor.get(k):
                problems.append(f"{k}: /metrics {values.get(k)} vs monitor {monitor.get(k)}")
        out.append((f"prometheus-{label}", problems))
    probes = m["probes"]
    out.append(("probes", [] if probes == {"/ready": 200, "/health": 200} else [str(probes)]))
    return out


def main(argv=None) -> int:
    zkserver.install_signal_handlers()
    ap = argparse.ArgumentParser(description="admin server: java vs candidate")
    ap.add_argument("--servers", default="java,menagerie")
    ap.add_argument("--show", action="store_true")
    args = ap.parse_args(argv)
    kinds = [k for k in args.servers.split(",") if k]
    if len(kinds) != 2:
        print("--servers needs exactly two kinds")
        return 2
    labels = [k if kinds.count(k) == 1 else f"{k}#{i + 1}" for i, k in enumerate(kinds)]
    pair = f"{labels[0]}-vs-{labels[1]}"
    if not Path(zkserver.SERVLET_JAR).exists():
        print(f"cannot run: {zkserver.SERVLET_JAR} missing (Debian package libservlet-api-java)")
        print(f"TESTRESULT FAIL admin[{pair}]")
        return 2
    runs = []
    for kind in kinds:
        why = zkserver.check_available(kind)
        if why:
            print(f"cannot run: {why}")
            print(f"TESTRESULT FAIL admin[{pair}]")
            return 2
        try:
            t0 = time.monotonic()
            runs.append(collect(kind))
            print(f"{kind}: {len(runs[-1]['commands'])} requests in {time.monotonic() - t0:.1f} s")
        except Exception as e:  # noqa: BLE001
            print(f"cannot run against {kind}: {e}")
            print(f"TESTRESULT FAIL admin[{pair}]")
            return 2
    results = compare(runs[0], runs[1], labels, args.show)
    if "metrics" in runs[1]:
        results += check_prometheus(runs[1], runs[0]["commands"]["monitor"][2])
    bad = 0
    for name, problems in results:
        test = f"admin[{name}:{pair}]"
        if problems:
            bad += 1
            for p in problems:
                print(f"    {p}")
            print(f"TESTRESULT FAIL {test}")
        else:
            print(f"TESTRESULT PASS {test}")
    print(f"admin: {len(results) - bad}/{len(results)} checks passed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
