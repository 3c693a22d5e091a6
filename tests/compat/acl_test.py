"""ACLs, authentication switches and quota enforcement, differential against Java ZooKeeper.

    python3 tests/compat/acl_test.py                         # java and menagerie
    python3 tests/compat/acl_test.py --servers menagerie     # one kind only

Every scenario runs on a fresh server of each kind with the same settings (Java gets them as
``-Dzookeeper.*`` system properties, Menagerie as zoo.cfg keys), drives it with kazoo (and
zkCli.sh for quotas), and records one line per step: the outcome (``ok ...`` with the data
read, or the kazoo exception name, which maps 1:1 to ZooKeeper's error code). Each server's
records must match the expectations below (ZooKeeper 3.8 behaviour), and the two servers'
records must be identical.

Scenarios:

* ``acl``: digest (right and wrong passwords, no auth), the ``auth`` scheme, getACL
  redaction, permissions on parents vs children, ip ranges that must and must not match,
  invalid ACLs, ``super`` only with the right secret, addauth with an unknown scheme.
* ``skipacl``: ``skipACL=yes`` opens everything.
* ``enforce``: ``enforce.auth.enabled=true`` with ``enforce.auth.schemes=digest``.
* ``quota``: ``enforceQuota=true`` with zkCli ``setquota``/``listquota``/``delquota``.
* ``sasl``: kazoo's SASL DIGEST-MD5 (pure-sasl) with users from a JAAS ``Server`` section,
  ``sasl`` ACLs, the ``auth`` scheme, the SASL super user, wrong passwords, unknown users;
  and ``menagerie cli`` with a JAAS ``Client`` section (``CLIENT_JVMFLAGS``), as zkCli.sh.
* ``skipacl-jvmflags`` (Menagerie only): ``skipACL`` given as ``-Dzookeeper.skipACL=yes`` in
  ``SERVER_JVMFLAGS`` instead of zoo.cfg.

Prints ``TESTRESULT PASS|FAIL acl-<scenario>[<server>]`` and
``TESTRESULT PASS|FAIL acl-<scenario>[java-vs-menagerie]``.
"""

from __future__ import annotations

import argparse
import logging
import re
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
from kazoo.client import KazooClient  # noqa: E402
from kazoo.security import ACL, Id, make_digest_acl_credential  # noqa: E402

logging.getLogger("kazoo").setLevel(logging.CRITICAL)

SUPER_SECRET = "admin"
SUPER_DIGEST = "super:xQJmxLMiHGwaqBvst5y6rkB6HQs="  # digest of super:admin
ALL, READ, WRITE, CREATE, DELETE, ADMIN = 31, 1, 2, 4, 8, 16


def client(hp: str, auth: list[tuple[str, str]] | None = None) -> KazooClient:
    zk = KazooClient(hosts=hp, timeout=10, auth_data=auth or None, connection_retry=None,
                     command_retry=None)
    zk.start(timeout=15)
    return zk


def stop(zk: KazooClient) -> None:
    try:
        zk.stop()
        zk.close()
    except Exception:  # noqa: BLE001 - the server may have closed the connection already
        pass


def attempt(fn) -> str:
    """Runs fn; 'ok <value>' or the exception's class name."""
    try:
        v = fn()
    except Exception as e:  # noqa: BLE001 - the class name is the result
        return type(e).__name__
    if isinstance(v, tuple) and len(v) == 2 and hasattr(v[1], "version"):
        v = v[0]  # (data, ZnodeStat): the data
    if hasattr(v, "version") and hasattr(v, "mzxid"):
        v = f"stat version={v.version} aversion={v.aversion} dataLength={v.dataLength}"
    if isinstance(v, bytes):
        v = v.decode(errors="replace")
    if isinstance(v, list):
        v = sorted(str(x) for x in v)
    return f"ok {v}" if v is not None else "ok"


def acl(perms: int, scheme: str, ident: str) -> ACL:
    return ACL(perms, Id(scheme, ident))


def digest_acl(user: str, pw: str, perms: int = ALL) -> ACL:
    return ACL(perms, Id("digest", make_digest_acl_credential(user, pw)))


# ---- scenarios ------------------------------------------------------------------------------

def scenario_acl(hp: str) -> list[tuple[str, str]]:
    rec: list[tuple[str, str]] = []
    bob = client(hp, [("digest", "bob:secret")])
    anon = client(hp)
    wrong = client(hp, [("digest", "bob:wrong")])
    creator_all = [ACL(ALL, Id("auth", ""))]
    rec.append(("bob create /sec (auth acl)", attempt(lambda: bob.create("/sec", b"s3cret", acl=creator_all))))
    rec.append(("bob get_acls /sec", attempt(lambda: [f"{a.perms}:{a.id.scheme}:{a.id.id}" for a in bob.get_acls("/sec")[0]])))
    rec.append(("anon get /sec", attempt(lambda: anon.get("/sec"))))
    rec.append(("wrong-pw get /sec", attempt(lambda: wrong.get("/sec"))))
    rec.append(("bob get /sec", attempt(lambda: bob.get("/sec"))))
    rec.append(("anon set /sec", attempt(lambda: anon.set("/sec", b"x"))))
    rec.append(("anon get_children /sec", attempt(lambda: anon.get_children("/sec"))))
    rec.append(("anon create /sec/c", attempt(lambda: anon.create("/sec/c", b""))))
    rec.append(("anon get_acls /sec", attempt(lambda: anon.get_acls("/sec")[0])))
    rec.append(("anon create (auth acl, no auth)", attempt(lambda: anon.create("/x", b"", acl=creator_all))))
    # Read-only for everybody plus admin for bob: a reader sees bob's digest redacted.
    ro = [acl(READ, "world", "anyone"), digest_acl("bob", "secret", ADMIN)]
    rec.append(("bob create /ro", attempt(lambda: bob.create("/ro", b"pub", acl=ro))))
    rec.append(("anon get_acls /ro", attempt(lambda: [f"{a.perms}:{a.id.scheme}:{a.id.id}" for a in anon.get_acls("/ro")[0]])))
    rec.append(("anon get /ro", attempt(lambda: anon.get("/ro"))))
    rec.append(("anon create /ro/c (no CREATE on parent)", attempt(lambda: anon.create("/ro/c", b""))))
    rec.append(("anon set_acls /ro", attempt(lambda: anon.set_acls("/ro", [acl(ALL, "world", "anyone")]))))
    # Parent grants DELETE: a child nobody but bob may touch can still be deleted by anyone.
    rec.append(("anon create /open", attempt(lambda: anon.create("/open", b""))))
    rec.append(("bob create /open/mine", attempt(lambda: bob.create("/open/mine", b"m", acl=creator_all))))
    rec.append(("anon get /open/mine", attempt(lambda: anon.get("/open/mine"))))
    rec.append(("anon delete /open/mine (parent grants DELETE)", attempt(lambda: anon.delete("/open/mine"))))
    # Parent without DELETE for anon: the open child cannot be deleted by anon.
    rec.append(("bob create /nodel", attempt(lambda: bob.create("/nodel", b"", acl=[acl(ALL & ~DELETE, "world", "anyone"), digest_acl("bob", "secret")]))))
    rec.append(("anon create /nodel/c", attempt(lambda: anon.create("/nodel/c", b""))))
    rec.append(("anon delete /nodel/c", attempt(lambda: anon.delete("/nodel/c"))))
    rec.append(("bob delete /nodel/c", attempt(lambda: bob.delete("/nodel/c"))))
    # ip ranges (the clients connect from 127.0.0.1).
    for i, ident in enumerate(["127.0.0.0/8", "127.0.0.1", "127.0.0.1/32", "10.0.0.0/8",
                               "127.0.0.2", "127.0.1.0/24", "0.0.0.0/0", "128.0.0.0/1"]):
        p = f"/ip{i}"
        rec.append((f"create {p} ip:{ident}", attempt(lambda: bob.create(p, b"ipdata", acl=[acl(READ, "ip", ident), digest_acl("bob", "secret")]))))
        rec.append((f"anon get {p}", attempt(lambda: anon.get(p))))
    for ident in ["10.0.0.0/33", "300.1.1.1", "1.2.3", "127.0.0.1/-1"]:
        rec.append((f"create ip:{ident}", attempt(lambda: anon.create("/bad", b"", acl=[acl(ALL, "ip", ident)]))))
    for scheme, ident in [("world", "someone"), ("digest", "nocolon"), ("nosuch", "x"), ("super", "")]:
        rec.append((f"create {scheme}:{ident}", attempt(lambda: anon.create("/bad", b"", acl=[acl(ALL, scheme, ident)]))))
    # super only with the right secret.
    for secret in ["wrong", "Admin", SUPER_SECRET + " "]:
        c = client(hp, [("digest", f"super:{secret}")])
        rec.append((f"super:{secret!r} get /sec", attempt(lambda: c.get("/sec"))))
        stop(c)
    c = client(hp, [("digest", f"super:{SUPER_SECRET}")])
    rec.append(("super get /sec", attempt(lambda: c.get("/sec"))))
    rec.append(("super set /sec", attempt(lambda: c.set("/sec", b"by-super"))))
    rec.append(("super get_acls /sec", attempt(lambda: [f"{a.perms}:{a.id.scheme}:{a.id.id}" for a in c.get_acls("/sec")[0]])))
    rec.append(("super delete /nodel", attempt(lambda: c.delete("/nodel"))))
    stop(c)
    # Unknown scheme: AuthFailed, and the client is done.
    c = client(hp)
    rec.append(("add_auth nosuch", attempt(lambda: c.add_auth("nosuch", "x"))))
    time.sleep(0.5)
    rec.append(("after AuthFailed, client state", str(c.state)))
    stop(c)
    for zk in (bob, anon, wrong):
        stop(zk)
    return rec


def sasl_client(hp: str, user: str, pw: str) -> KazooClient:
    zk = KazooClient(hosts=hp, timeout=6, connection_retry=None, command_retry=None,
                     sasl_options={"mechanism": "DIGEST-MD5", "username": user, "password": pw})
    zk.start(timeout=6)
    return zk


def sasl_read(hp: str, user: str, pw: str, path: str) -> str:
    """Reads a node readable only by sasl:bob. A failed SASL exchange makes the server answer
    AuthFailed and close; kazoo then either gives up or reconnects without SASL, depending on
    timing, so both outcomes are recorded as 'no access'."""
    zk = None
    try:
        zk = sasl_client(hp, user, pw)
        r = attempt(lambda: zk.get(path))
        return r if r.startswith("ok") else "no access"
    except Exception:  # noqa: BLE001
        return "no access"
    finally:
        if zk is not None:
            stop(zk)


def cli_sasl(hp: str, user: str, pw: str, cmds: list[str]) -> str:
    """``menagerie cli`` with SASL DIGEST-MD5 configured as for zkCli.sh: a JAAS file with a
    ``Client`` section, named by ``-Djava.security.auth.login.config`` in CLIENT_JVMFLAGS.
    Output lines joined by ' | ', or 'refused' when the CLI fails to connect (exit 1)."""
    d = tempfile.mkdtemp(prefix="compat-cli-jaas-")
    try:
        jaas = os.path.join(d, "client.conf")
        with open(jaas, "w") as f:
            f.write("Client {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n"
                    f'  username="{user}"\n  password="{pw}";\n}};\n')
        env = dict(os.environ, CLIENT_JVMFLAGS=f"-Djava.security.auth.login.config={jaas}")
        p = subprocess.run([str(zkserver.menagerie_bin()), "cli", "-timeout", "5000",
                            "-server", hp, *cmds[0].split()],
                           capture_output=True, text=True, timeout=60, env=env)
        if p.returncode != 0 and "SASL" in p.stderr:
            return "refused"
        lines = [ln.strip() for ln in (p.stdout + p.stderr).splitlines() if ln.strip()]
        if lines[:1] == ["Auth scheme: User"]:
            # The order of the identities is the server's (Java lists sasl before ip,
            # Menagerie ip before sasl); the CLI prints what it gets.
            lines = lines[:1] + sorted(lines[1:])
        return " | ".join(lines)
    except subprocess.TimeoutExpired:
        return "timed out"
    finally:
        shutil.rmtree(d, ignore_errors=True)


def scenario_sasl(hp: str) -> list[tuple[str, str]]:
    rec = []
    bob = sasl_client(hp, "bob", "bobpw")
    rec.append(("sasl bob create /s (sasl:bob)", attempt(lambda: bob.create("/s", b"sasl-data", acl=[acl(ALL, "sasl", "bob")]))))
    rec.append(("sasl bob get /s", attempt(lambda: bob.get("/s"))))
    rec.append(("sasl bob create /s2 (auth acl)", attempt(lambda: bob.create("/s2", b"", acl=[ACL(ALL, Id("auth", ""))]))))
    rec.append(("sasl bob get_acls /s2", attempt(lambda: [f"{a.perms}:{a.id.scheme}:{a.id.id}" for a in bob.get_acls("/s2")[0]])))
    stop(bob)
    alice = sasl_client(hp, "alice", "alicepw")
    rec.append(("sasl alice get /s", attempt(lambda: alice.get("/s"))))
    stop(alice)
    anon = client(hp, [("digest", "bob:bobpw")])
    rec.append(("digest bob get /s", attempt(lambda: anon.get("/s"))))
    stop(anon)
    root = sasl_client(hp, "root", "rootpw")
    rec.append(("sasl root (superUser) get /s", attempt(lambda: root.get("/s"))))
    stop(root)
    rec.append(("sasl wrong password get /s", sasl_read(hp, "bob", "wrong", "/s")))
    rec.append(("sasl unknown user get /s", sasl_read(hp, "eve", "bobpw", "/s")))
    rec.append(("sasl bob again get /s", sasl_read(hp, "bob", "bobpw", "/s")))
    rec.append(("menagerie cli sasl bob get /s", cli_sasl(hp, "bob", "bobpw", ["get /s"])))
    rec.append(("menagerie cli sasl bob whoami", cli_sasl(hp, "bob", "bobpw", ["whoami"])))
    rec.append(("menagerie cli sasl wrong password", cli_sasl(hp, "bob", "wrong", ["get /s"])))
    return rec


JAAS = """Server {
       org.apache.zookeeper.server.auth.DigestLoginModule required
       user_bob="bobpw"
       user_alice="alicepw"
       user_root="rootpw";
};
"""


def scenario_skipacl(hp: str) -> list[tuple[str, str]]:
    rec = []
    bob = client(hp, [("digest", "bob:secret")])
    anon = client(hp)
    rec.append(("bob create /sec", attempt(lambda: bob.create("/sec", b"s", acl=[ACL(ALL, Id("auth", ""))]))))
    rec.append(("anon get /sec", attempt(lambda: anon.get("/sec"))))
    rec.append(("anon get_acls /sec", attempt(lambda: [f"{a.perms}:{a.id.scheme}:{a.id.id}" for a in anon.get_acls("/sec")[0]])))
    rec.append(("anon create /sec/c", attempt(lambda: anon.create("/sec/c", b""))))
    rec.append(("anon set /sec", attempt(lambda: anon.set("/sec", b"x"))))
    rec.append(("anon create invalid acl", attempt(lambda: anon.create("/bad", b"", acl=[acl(ALL, "ip", "1.2.3.4/40")]))))
    stop(bob)
    stop(anon)
    return rec


def scenario_enforce(hp: str) -> list[tuple[str, str]]:
    rec = []
    anon = client(hp)
    rec.append(("anon exists /", attempt(lambda: anon.exists("/") is not None)))
    stop(anon)
    anon = client(hp)
    rec.append(("anon create /x", attempt(lambda: anon.create("/x", b""))))
    stop(anon)
    bob = client(hp, [("digest", "bob:secret")])
    rec.append(("bob create /x", attempt(lambda: bob.create("/x", b"v"))))
    rec.append(("bob get /x", attempt(lambda: bob.get("/x"))))
    stop(bob)
    return rec


# zkCli transcript for the quota scenario: one piped session.
QUOTA_CMDS = [
    "create /q d12345",
    "setquota -N 3 /q",
    "setquota -B 20 /q",
    "setquota -n 2 /q",
    "listquota /q",
    "create /q/a",
    "create /q/b",
    "create /q/c",
    "set /q/a 0123456789abcdef",
    "set /q/a 0123456789abcd",
    "set /q/b x",
    "set /q/a short",
    "set /q/b x",
    "listquota /q",
    "delquota -N /q",
    "create /q/c",
    "listquota /q",
    "delquota /q",
    "listquota /q",
    "create /q/d 0123456789012345678901234567890",
    "setquota -n 1 /q/a",
    "setquota -n 1 /zookeeper/quota",
]


def scenario_quota(hp: str) -> list[tuple[str, str]]:
    mark = "printwatches"
    stdin = "".join(f"{c}\n{mark}\n" for c in QUOTA_CMDS) + "quit\n"
    p = subprocess.run([zkserver.ZKCLI, "-server", hp], input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=120)
    out = p.stdout
    # Keep from the first command's output on; split on the marker's answer.
    blocks = out.split("printwatches is on")
    # The first block also holds the connection banner; the last one the shutdown.
    rec = []
    for cmd, block in zip(QUOTA_CMDS, blocks):
        lines = [ln.strip() for ln in block.splitlines()]
        lines = [re.sub(r"^\[zk: [^\]]*\] ", "", ln) for ln in lines]
        keep = [ln for ln in lines if ln and not ln.startswith(("WATCHER", "WatchedEvent", "[zk:",
                                                                "Connecting", "Welcome", "JLine",
                                                                "log4j", "SLF4J"))]
        keep = [ln for ln in keep if not re.match(r"^\d{4}-\d\d-\d\d", ln)]
        rec.append((cmd, " | ".join(keep)))
    if len(blocks) < len(QUOTA_CMDS):
        rec.append(("transcript", f"only {len(blocks)} blocks; tail: {out[-500:]!r}"))
    return rec


SCENARIOS = {
    "acl": (scenario_acl, {"zookeeper.DigestAuthenticationProvider.superDigest": SUPER_DIGEST}),
    "skipacl": (scenario_skipacl, {"zookeeper.skipACL": "yes"}),
    "enforce": (scenario_enforce, {"zookeeper.enforce.auth.enabled": "true",
                                   "zookeeper.enforce.auth.schemes": "digest"}),
    "quota": (scenario_quota, {"zookeeper.enforceQuota": "true"}),
    # The JAAS file path is filled in by main().
    "sasl": (scenario_sasl, {"zookeeper.authProvider.1":
                             "org.apache.zookeeper.server.auth.SASLAuthenticationProvider",
                             "zookeeper.superUser": "root"}),
}

BOB = "bob:fyVmFCwVbTJYrznoSu1koqYEYF0="

# Expected ZooKeeper 3.8 outcomes (None: only compared between the servers).
EXPECT: dict[str, dict[str, str | None]] = {
    "acl": {
        "bob create /sec (auth acl)": "ok /sec",
        "bob get_acls /sec": f"ok ['31:digest:{BOB}']",
        "anon get /sec": "NoAuthError",
        "wrong-pw get /sec": "NoAuthError",
        "bob get /sec": "ok s3cret",
        "anon set /sec": "NoAuthError",
        "anon get_children /sec": "NoAuthError",
        "anon create /sec/c": "NoAuthError",
        "anon get_acls /sec": "NoAuthError",
        "anon create (auth acl, no auth)": "InvalidACLError",
        "anon get_acls /ro": "ok ['16:digest:bob:x', '1:world:anyone']",
        "anon get /ro": "ok pub",
        "anon create /ro/c (no CREATE on parent)": "NoAuthError",
        "anon set_acls /ro": "NoAuthError",
        "anon get /open/mine": "NoAuthError",
        "anon delete /open/mine (parent grants DELETE)": "ok True",
        "anon delete /nodel/c": "NoAuthError",
        "bob delete /nodel/c": "ok True",
        "anon get /ip0": "ok ipdata",
        "anon get /ip1": "ok ipdata",
        "anon get /ip2": "ok ipdata",
        "anon get /ip3": "NoAuthError",
        "anon get /ip4": "NoAuthError",
        "anon get /ip5": "NoAuthError",
        "anon get /ip6": "ok ipdata",
        "anon get /ip7": "NoAuthError",
        "create ip:10.0.0.0/33": "InvalidACLError",
        "create world:someone": "InvalidACLError",
        "create digest:nocolon": "InvalidACLError",
        "create nosuch:x": "InvalidACLError",
        "create super:": "InvalidACLError",
        "super:'wrong' get /sec": "NoAuthError",
        "super:'Admin' get /sec": "NoAuthError",
        "super:'admin ' get /sec": "NoAuthError",
        "super get /sec": "ok s3cret",
        "super set /sec": "ok stat version=1 aversion=0 dataLength=8",
        "super get_acls /sec": f"ok ['31:digest:{BOB}']",
        "super delete /nodel": "ok True",
        "add_auth nosuch": "AuthFailedError",
        "after AuthFailed, client state": None,
    },
    "skipacl": {
        "anon get /sec": "ok s",
        "anon get_acls /sec": f"ok ['31:digest:{BOB}']",
        "anon create /sec/c": "ok /sec/c",
        "anon set /sec": "ok stat version=1 aversion=0 dataLength=1",
        "anon create invalid acl": "InvalidACLError",
    },
    "sasl": {
        "sasl bob create /s (sasl:bob)": "ok /s",
        "sasl bob get /s": "ok sasl-data",
        "sasl bob get_acls /s2": "ok ['31:sasl:bob']",
        "sasl alice get /s": "NoAuthError",
        "digest bob get /s": "NoAuthError",
        "sasl root (superUser) get /s": "ok sasl-data",
        "sasl wrong password get /s": "no access",
        "sasl unknown user get /s": "no access",
        "sasl bob again get /s": "ok sasl-data",
        "menagerie cli sasl bob get /s": "sasl-data",
        "menagerie cli sasl bob whoami": "Auth scheme: User | ip: 127.0.0.1 | sasl: bob",
        "menagerie cli sasl wrong password": "refused",
    },
    "enforce": {
        "anon exists /": "SessionClosedRequireSaslError",
        "anon create /x": "SessionClosedRequireSaslError",
        "bob create /x": "ok /x",
        "bob get /x": "ok v",
    },
}


def check_expectations(name: str, rec: list[tuple[str, str]]) -> list[str]:
    problems = []
    got = dict(rec)
    for label, want in EXPECT.get(name, {}).items():
        if want is None:
            continue
        if label not in got:
            problems.append(f"missing step {label!r}")
        elif got[label] != want:
            problems.append(f"{label}: expected {want!r}, got {got[label]!r}")
    return problems


def check_quota(rec: list[tuple[str, str]]) -> list[str]:
    """The quota transcript in order (ZooKeeper 3.8 with enforceQuota=true)."""
    want = [
        ("create /q/c", "Quota has exceeded : /q/c"),  # 4th node, countHardLimit=3
        ("set /q/a 0123456789abcdef", "Quota has exceeded : /q/a"),  # 6 + 16 > 20
        ("set /q/a 0123456789abcd", ""),  # 6 + 14 = 20
        ("set /q/b x", "Quota has exceeded : /q/b"),  # 21
        ("set /q/a short", ""),
        ("set /q/b x", ""),
        ("create /q/c", "Created /q/c"),  # after delquota -N
        ("create /q/d 0123456789012345678901234567890", "Created /q/d"),  # after delquota
        ("setquota -n 1 /zookeeper/quota", "cannot set a quota under the path: /zookeeper/quota"),
    ]
    got = [(c, t) for c, t in rec if any(c == w for w, _ in want)]
    problems = [f"{c}: expected {w!r}, got {t!r}" for (c, t), (_, w) in zip(got, want) if t != w]
    if len(got) != len(want):
        problems.append(f"{len(got)} quota steps recorded, expected {len(want)}")
    texts = [t for _, t in rec]
    if not any("countHardLimit=3" in t and "byteHardLimit=20" in t and "count=2," in t
               for t in texts):
        problems.append("listquota never showed the merged limits")
    if not any("Output stat for /q count=3,bytes=12" in t for t in texts):
        problems.append("listquota never showed the usage count=3,bytes=12")
    return problems


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--servers", default="java,menagerie")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--show", action="store_true")
    args = ap.parse_args()
    zkserver.install_signal_handlers()
    kinds = [k for k in args.servers.split(",") if k]
    failed = False
    jaas_dir = tempfile.mkdtemp(prefix="compat-jaas-")
    jaas = os.path.join(jaas_dir, "jaas.conf")
    with open(jaas, "w") as f:
        f.write(JAAS)
    SCENARIOS["sasl"][1]["java.security.auth.login.config"] = jaas
    for name in args.scenarios.split(","):
        fn, extra = SCENARIOS[name]
        results = {}
        for kind in kinds:
            why = zkserver.check_available(kind)
            if why:
                print(f"TESTRESULT FAIL acl-{name}[{kind}] ({why})")
                failed = True
                continue
            with zkserver.start_server(kind, extra=extra) as srv:
                rec = fn(srv.hostport)
                alive = srv.alive()
            results[kind] = rec
            if args.show:
                for label, out in rec:
                    print(f"  [{kind}] {label}: {out}")
            problems = check_expectations(name, rec)
            if name == "quota":
                problems += check_quota(rec)
            if not alive:
                problems.append("server died")
            for p in problems:
                print(f"  {kind}: {p}")
            print(f"TESTRESULT {'FAIL' if problems else 'PASS'} acl-{name}[{kind}]")
            failed |= bool(problems)
        if "java" in results and "menagerie" in results:
            diffs = [(a, b) for a, b in zip(results["java"], results["menagerie"]) if a != b]
            if len(results["java"]) != len(results["menagerie"]):
                diffs.append((("steps", str(len(results["java"]))), ("steps", str(len(results["menagerie"])))))
            for j, m in diffs:
                print(f"  differs: java {j} / menagerie {m}")
            print(f"TESTRESULT {'FAIL' if diffs else 'PASS'} acl-{name}[java-vs-menagerie]")
            failed |= bool(diffs)
    if "menagerie" in kinds and zkserver.check_available("menagerie") is None:
        # The -D form ZooKeeper's scripts use: SERVER_JVMFLAGS, no zoo.cfg key.
        os.environ["SERVER_JVMFLAGS"] = "-Xmx64m -Dzookeeper.skipACL=yes"
        try:
            with zkserver.start_server("menagerie") as srv:
                rec = scenario_skipacl(srv.hostport)
        finally:
            del os.environ["SERVER_JVMFLAGS"]
        problems = check_expectations("skipacl", rec)
        for p in problems:
            print(f"  menagerie (SERVER_JVMFLAGS): {p}")
        print(f"TESTRESULT {'FAIL' if problems else 'PASS'} acl-skipacl-jvmflags[menagerie]")
        failed |= bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
