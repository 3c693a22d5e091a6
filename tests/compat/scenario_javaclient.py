"""Run javaclient/Scenario.java (the real ZooKeeper 3.8 Java client) and normalise its records.

    python3 tests/compat/scenario_javaclient.py --server 127.0.0.1:2181 [--out result.json]

Needs a JDK (javac) and Debian's zookeeper.jar. The class is compiled once per source version
into a cache directory under the system temp dir. The Java side writes raw records; the
normalisation here is the same as in scenario_kazoo.py: zxids relative to the first zxid seen
by client c1, times masked to ``<time>`` (0 kept), session ids replaced by ``<session cN>``,
everything else exact.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "javaclient" / "Scenario.java"
ZK_JAR = "/usr/share/java/zookeeper.jar"  # its manifest Class-Path brings the dependencies
RUN_TIMEOUT = 150


def compiled_dir() -> str:
    src = SOURCE.read_bytes()
    h = hashlib.sha1(src + ZK_JAR.encode()).hexdigest()[:12]
    d = os.path.join(tempfile.gettempdir(), f"menagerie-compat-javaclient-{h}")
    if os.path.exists(os.path.join(d, "Scenario.class")):
        return d
    javac = shutil.which("javac")
    if not javac:
        raise RuntimeError("javac not found: install a JDK (Debian package default-jdk-headless)")
    tmp = tempfile.mkdtemp(prefix="menagerie-compat-javac-")
    p = subprocess.run(
        [javac, "-nowarn", "-cp", ZK_JAR, "-d", tmp, str(SOURCE)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if p.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise RuntimeError(f"javac failed:\n{p.stdout}\n{p.stderr}")
    try:
        os.rename(tmp, d)
    except OSError:  # another run compiled it meanwhile
        shutil.rmtree(tmp, ignore_errors=True)
    return d


class Normaliser:
    def __init__(self, sessions: dict[str, int], t_start: int):
        self.sessions = {v: k for k, v in sessions.items()}
        self.t_start = t_start
        self.base: int | None = None

    def rz(self, z):
        if not isinstance(z, int) or self.base is None:
            return z
        return f"pre:{z}" if z < self.base else z - self.base

    def rtime(self, t: int):
        if t == 0:
            return 0
        now = int(time.time() * 1000)
        return "<time>" if self.t_start - 60_000 <= t <= now + 60_000 else f"BAD-TIME:{t}"

    def owner(self, o: int):
        if o == 0:
            return 0
        name = self.sessions.get(o)
        return f"<session {name}>" if name else f"BAD-OWNER:{o & 0xFFFFFFFFFFFFFFFF:#x}"

    def stat(self, s: dict) -> dict:
        if s["version"] == 0:
            mrel = "=ctime" if s["mtime"] == s["ctime"] else "BAD:mtime!=ctime"
        else:
            mrel = ">=ctime" if s["mtime"] >= s["ctime"] else "BAD:mtime<ctime"
        return {
            "czxid": self.rz(s["czxid"]),
            "mzxid": self.rz(s["mzxid"]),
            "pzxid": self.rz(s["pzxid"]),
            "ctime": self.rtime(s["ctime"]),
            "mtime": self.rtime(s["mtime"]),
            "mtime_vs_ctime": mrel,
            "version": s["version"],
            "cversion": s["cversion"],
            "aversion": s["aversion"],
            "ephemeralOwner": self.owner(s["ephemeralOwner"]),
            "dataLength": s["dataLength"],
            "numChildren": s["numChildren"],
        }

    def walk(self, v):
        if isinstance(v, dict):
            out = {}
            for k, x in v.items():
                if k == "stat" and isinstance(x, dict) and "czxid" in x:
                    out[k] = self.stat(x)
                else:
                    out[k] = self.walk(x)
            return out
        if isinstance(v, list):
            return [self.walk(x) for x in v]
        return v

    def records(self, recs: list[dict]) -> list[dict]:
        for r in recs:
            if r.get("c") == "c1" and isinstance(r.get("zxid"), int) and r["zxid"] > 0:
                self.base = r["zxid"]
                break
        out = []
        for r in recs:
            r = self.walk(r)
            if "zxid" in r:
                r["zxid"] = self.rz(r["zxid"])
            out.append(r)
        return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--server", required=True)
    ap.add_argument("--out")
    ap.add_argument("--mode", default="main", choices=["main", "reaper"])
    args = ap.parse_args(argv)
    try:
        cdir = compiled_dir()
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        print(str(e), file=sys.stderr)
        return 3
    raw_fd, raw_path = tempfile.mkstemp(prefix="javaclient-raw-", suffix=".json")
    os.close(raw_fd)
    t_start = int(time.time() * 1000)
    try:
        p = subprocess.run(
            [
                "java",
                "-XX:TieredStopAtLevel=1",
                "-XX:+UseSerialGC",
                "-Dzookeeper.request.timeout=10000",
                "-Djava.net.preferIPv4Stack=true",
                "-cp",
                f"{ZK_JAR}:{cdir}",
                "Scenario",
                args.server,
                raw_path,
                args.mode,
            ],
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
        )
        with open(raw_path) as f:
            raw = json.load(f)
    except (subprocess.TimeoutExpired, OSError, json.JSONDecodeError) as e:
        print(f"java scenario failed: {e}", file=sys.stderr)
        return 2
    finally:
        try:
            os.unlink(raw_path)
        except OSError:
            pass
    norm = Normaliser(raw["meta"].get("sessions", {}), t_start)
    out = {
        "meta": {"scenario": "javaclient", "mode": args.mode, "server": args.server},
        "records": norm.records(raw["records"]),
    }
    text = json.dumps(out, indent=1)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    else:
        print(text)
    if p.returncode != 0:
        print(p.stderr[-3000:], file=sys.stderr)
    return p.returncode


if __name__ == "__main__":
    sys.exit(main())
