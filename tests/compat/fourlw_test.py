"""Four-letter words: Java ZooKeeper vs Menagerie after the same small kazoo workload.

    python3 tests/compat/fourlw_test.py                      # java vs menagerie
    python3 tests/compat/fourlw_test.py --servers java,java  # self-test of the normalisation
    python3 tests/compat/fourlw_test.py --show

Both servers whitelist every word (zkserver.py). The words are sent with kazoo's
``KazooClient.command`` (a fresh TCP connection each). Outputs are normalised before comparison:
version strings, latencies, ports, temp directories, sizes on disk, session ids and timestamps are
masked; counts that follow from the workload (node count, zxid, connections, watches, ephemerals,
approximate data size, last op, timeouts) are compared exactly. ``hash`` is asked after 300 more
creates: the zxids of its lines (every 128th) must match and each digest must be a number (the
values differ, since they cover creation times). For ``mntr`` the values of the
keys derived from the data tree are compared and every key of the classic (non-metrics) set must
be present; ``envi`` compares only the keys a non-JVM server can have.

One ``TESTRESULT`` line per word: ``fourlw[<word>:java-vs-<candidate>]``.
"""

from __future__ import annotations

import argparse
import re
import socket
import struct
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from kazoo.client import KazooClient  # noqa: E402

import zkserver  # noqa: E402

WORDS = ["ruok", "isro", "srvr", "stat", "cons", "wchs", "wchc", "wchp", "mntr", "conf", "envi",
         "dirs", "gtmk", "dump", "crst", "srst", "xxxx", "hash", "stmk"]

MNTR_TREE_KEYS = ["zk_server_state", "zk_ephemerals_count", "zk_num_alive_connections",
                  "zk_outstanding_requests", "zk_znode_count", "zk_global_sessions", "zk_local_sessions",
                  "zk_watch_count", "zk_approximate_data_size"]
MNTR_REQUIRED = MNTR_TREE_KEYS + [
    "zk_version", "zk_avg_latency", "zk_min_latency", "zk_max_latency", "zk_packets_sent",
    "zk_packets_received", "zk_open_file_descriptor_count", "zk_max_file_descriptor_count", "zk_uptime",
    "zk_last_client_response_size", "zk_min_client_response_size", "zk_max_client_response_size",
    "zk_connection_drop_probability", "zk_auth_failed_count", "zk_non_mtls_remote_conn_count",
    "zk_non_mtls_local_conn_count", "zk_outstanding_tls_handshake"]
CONF_EXACT = {"secureClientPort", "tickTime", "maxClientCnxns", "minSessionTimeout", "maxSessionTimeout",
              "clientPortListenBacklog", "serverId"}


def workload(c: KazooClient) -> None:
    c.create("/f1", b"abc")
    c.create("/f1/child", b"")
    c.create("/f2", b"e", ephemeral=True)
    c.exists("/f1", watch=lambda e: None)
    c.get("/f2", watch=lambda e: None)
    c.get("/f1/child", watch=lambda e: None)
    c.get_children("/", watch=lambda e: None)  # a child watch: not counted by wchs/wchc/wchp
    c.set("/f1", b"abcd")  # fires the data watch on /f1
    c.get("/f1")


def collect(hostport: str) -> dict[str, str]:
    c = KazooClient(hosts=hostport, timeout=10.0, connection_retry=None, command_retry=None)
    c.start(timeout=15)
    try:
        workload(c)
        out = {}
        for w in WORDS:
            if w == "hash":
                # The digest log keeps every 128th zxid: go past 0x100.
                for r in [c.create_async(f"/bulk{i}", b"b") for i in range(300)]:
                    r.get(timeout=30)
            if w == "stmk":
                out[w] = set_trace_mask(hostport, 0x1234) + " then gtmk " + c.command(b"gtmk")
                continue
            try:
                out[w] = c.command(w.encode())
            except Exception as e:  # noqa: BLE001
                out[w] = f"<{type(e).__name__}>"
            time.sleep(0.05)
        return out
    finally:
        c.stop()
        c.close()


def set_trace_mask(hostport: str, mask: int) -> str:
    """``stmk``: the word, then the new mask as an 8-byte big-endian long; the answer."""
    host, port = hostport.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(b"stmk" + struct.pack(">q", mask))
        chunks = []
        while chunk := s.recv(4096):
            chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def kv(text: str, sep: str) -> list[tuple[str, str]]:
    out = []
    for ln in text.splitlines():
        if sep in ln:
            k, v = ln.split(sep, 1)
            out.append((k.strip(), v.strip()))
    return out


def mask_sid(s: str) -> str:
    # Menagerie masks session ids (0x<high 40 bits>_<fingerprint>; see docs/security.md).
    return re.sub(r"0x[0-9a-f]{10}_[0-9a-f]{6}|0x[0-9a-f]{8,16}", "0x<session>", s)


def norm_conn_line(ln: str) -> str:
    ln = re.sub(r"/127\.0\.0\.1:\d+", "/127.0.0.1:<port>", ln)
    ln = mask_sid(ln)
    ln = re.sub(r"\b(recved|sent|est|lresp|llat|minlat|avglat|maxlat)=\d+", r"\1=<n>", ln)
    return ln


def normalise(word: str, text: str, tmpdir: str) -> str:
    if word in ("srvr", "stat"):
        lines = []
        clients: list[str] = []
        for ln in text.splitlines():
            if ln.startswith("Zookeeper version:"):
                lines.append("Zookeeper version: <version>")
            elif ln.startswith("Latency min/avg/max:"):
                ok = re.match(r"^Latency min/avg/max: \d+/\d+(\.\d+)?/\d+$", ln)
                lines.append("Latency min/avg/max: " + ("<ok>" if ok else f"BAD FORMAT {ln!r}"))
            elif re.match(r"^(Received|Sent): \d+$", ln):
                k, v = ln.split(": ")
                lines.append(f"{k}: {'>0' if int(v) > 0 else '0'}")
            elif ln.startswith(" /"):
                clients.append(norm_conn_line(ln))
            else:
                lines.append(ln)
        if clients:
            i = lines.index("Clients:") + 1 if "Clients:" in lines else len(lines)
            lines[i:i] = sorted(clients)
        return "\n".join(lines)
    if word == "cons":
        return "\n".join(sorted(norm_conn_line(x) for x in text.splitlines() if x.strip()))
    if word in ("wchc", "wchp"):
        return mask_sid(text)
    if word == "hash":
        return "\n".join(re.sub(r"^([0-9a-f]+): -?\d+$", r"\1: <digest>", ln) for ln in text.splitlines())
    if word == "mntr":
        d = dict(kv(text, "\t"))
        out = [f"{k}\t{d.get(k, '<missing>')}" for k in MNTR_TREE_KEYS]
        missing = [k for k in MNTR_REQUIRED if k not in d]
        out.append("missing classic keys: " + (", ".join(missing) if missing else "none"))
        return "\n".join(out)
    if word == "conf":
        out = []
        for k, v in kv(text, "="):
            if k in CONF_EXACT:
                out.append(f"{k}={v}")
            elif k in ("dataDir", "dataLogDir"):
                out.append(f"{k}={v.replace(tmpdir, '<tmp>')}")
            else:
                out.append(f"{k}=<masked>")
        return "\n".join(out)
    if word == "envi":
        keys = [k for k, _ in kv(text, "=") if not k.startswith("java.")]
        return "keys: " + ", ".join(sorted(keys))
    if word == "dirs":
        return "\n".join(f"{k}: <size>" for k, _ in kv(text, ":"))
    if word == "dump":
        # only the ephemeral-nodes part is comparable (the rest are expiry buckets and times)
        m = re.search(r"ephemeral nodes dump:\n(.*?)(?:\nConnections|\Z)", text, re.S)
        return mask_sid(m.group(1).rstrip()) if m else "<no 'ephemeral nodes dump:' section>"
    return text


def run_one(kind: str) -> tuple[dict[str, str], str]:
    with zkserver.start_server(kind) as srv:
        raw = collect(srv.hostport)
        return {w: normalise(w, raw[w], srv.tmpdir) for w in WORDS}, srv.tmpdir


def main(argv=None) -> int:
    zkserver.install_signal_handlers()
    ap = argparse.ArgumentParser(description="four-letter words: java vs candidate")
    ap.add_argument("--servers", default="java,menagerie")
    ap.add_argument("--show", action="store_true")
    args = ap.parse_args(argv)
    kinds = [k for k in args.servers.split(",") if k]
    if len(kinds) != 2:
        print("--servers needs exactly two kinds")
        return 2
    labels = [k if kinds.count(k) == 1 else f"{k}#{i + 1}" for i, k in enumerate(kinds)]
    results = []
    for label, kind in zip(labels, kinds):
        why = zkserver.check_available(kind)
        if why:
            print(f"cannot run: {why}")
            print(f"TESTRESULT FAIL fourlw[{labels[0]}-vs-{labels[1]}]")
            return 2
        try:
            res, _ = run_one(kind)
        except (zkserver.ServerUnavailable, Exception) as e:  # noqa: BLE001
            print(f"cannot run against {kind}: {e}")
            print(f"TESTRESULT FAIL fourlw[{labels[0]}-vs-{labels[1]}]")
            return 2
        results.append(res)
        if args.show:
            print(f"===== {label}")
            for w in WORDS:
                print(f"--- {w}\n{res[w]}")
    bad = 0
    for w in WORDS:
        a, b = results[0][w], results[1][w]
        name = f"fourlw[{w}:{labels[0]}-vs-{labels[1]}]"
        if a == b:
            print(f"TESTRESULT PASS {name}")
            continue
        bad += 1
        print(f"MISMATCH {w}")
        for title, t in ((f"expected ({labels[0]})", a), (f"got ({labels[1]})", b)):
            print(f"    {title}:")
            print("\n".join("        " + x for x in (t.splitlines() or ["<empty>"])))
        print(f"TESTRESULT FAIL {name}")
    print(f"fourlw: {len(WORDS) - bad}/{len(WORDS)} words equal after normalisation")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
