"""TLS on the secure client port with kazoo, differential against Java ZooKeeper.

    python3 tests/compat/tls_test.py                       # java and menagerie
    python3 tests/compat/tls_test.py --servers menagerie

Certificates are made here with the ``cryptography`` package: a CA, a server certificate
(SAN 127.0.0.1 and localhost), client certificates for ``alice``, ``bob`` and ``root``, one
signed by an unknown CA and one that expired. Both servers get the same PEM files:
``secureClientPort``, ``ssl.keyStore.location`` (key + certificate in one PEM file,
``ssl.keyStore.type=PEM``), ``ssl.trustStore.location`` (the CA), ``ssl.clientAuth=need``,
and the x509 super user ``CN=root,O=Menagerie Test``. Java also needs the Netty connection
factory and the x509 auth provider (``-Dzookeeper.serverCnxnFactory``,
``-Dzookeeper.authProvider.x509``).

``menagerie cli`` with a zkCli-style ``-client-configuration`` file runs the same commands
as the Java shell and must print the same, against both servers.

Steps (kazoo ``use_ssl=True`` with ``ca``/``certfile``/``keyfile``): alice creates a node
with an ``x509`` ACL for her certificate subject and reads it back; bob gets NoAuth; root
(super) reads it; clients with an untrusted, expired or no certificate, plaintext clients on
the TLS port and TLS clients on the plaintext port are refused; the server still serves.

Prints ``TESTRESULT PASS|FAIL tls[<server>]`` and ``TESTRESULT PASS|FAIL tls[java-vs-menagerie]``.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import zkserver  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402
from kazoo.client import KazooClient  # noqa: E402
from kazoo.security import ACL, Id  # noqa: E402

logging.getLogger("kazoo").setLevel(logging.CRITICAL)

ALICE = "CN=alice,O=Menagerie Test"
ROOT = "CN=root,O=Menagerie Test"
NETTY = "org.apache.zookeeper.server.NettyServerCnxnFactory"
X509_PROVIDER = "org.apache.zookeeper.server.auth.X509AuthenticationProvider"


def _name(cn: str, org: str | None = "Menagerie Test") -> x509.Name:
    attrs = []
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _cert(subject, key, issuer, issuer_key, ca=False, sans=None, expired=False):
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = (now - datetime.timedelta(days=800), now - datetime.timedelta(days=400)) \
        if expired else (now - datetime.timedelta(days=1), now + datetime.timedelta(days=30))
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(start).not_valid_after(end)
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if sans:
        import ipaddress
        b = b.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def _pem_key(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_pki(d: str) -> dict[str, str]:
    files = {}
    ca_key = _key()
    ca_name = _name("Menagerie Test CA", None)
    ca = _cert(ca_name, ca_key, ca_name, ca_key, ca=True)
    rogue_key = _key()
    rogue_name = _name("Rogue CA", None)
    rogue_ca = _cert(rogue_name, rogue_key, rogue_name, rogue_key, ca=True)

    def write(name: str, data: bytes) -> str:
        p = os.path.join(d, name)
        with open(p, "wb") as f:
            f.write(data)
        files[name] = p
        return p

    write("ca.pem", ca.public_bytes(serialization.Encoding.PEM))
    skey = _key()
    scert = _cert(_name("server"), skey, ca_name, ca_key, sans=True)
    write("server.pem", _pem_key(skey) + scert.public_bytes(serialization.Encoding.PEM))
    for who, issuer, ikey, expired in [("alice", ca_name, ca_key, False),
                                       ("bob", ca_name, ca_key, False),
                                       ("root", ca_name, ca_key, False),
                                       ("rogue", rogue_name, rogue_key, False),
                                       ("expired", ca_name, ca_key, True)]:
        k = _key()
        c = _cert(_name(who), k, issuer, ikey, expired=expired)
        write(f"{who}.crt", c.public_bytes(serialization.Encoding.PEM))
        write(f"{who}.key", _pem_key(k))
    del rogue_ca
    return files


def tls_client(host: str, port: int, files: dict[str, str], who: str | None,
               use_ssl: bool = True, timeout: float = 6) -> KazooClient:
    kw = {}
    if use_ssl:
        kw = dict(use_ssl=True, ca=files["ca.pem"], verify_certs=True)
        if who:
            kw.update(certfile=files[f"{who}.crt"], keyfile=files[f"{who}.key"])
    zk = KazooClient(hosts=f"{host}:{port}", timeout=6, connection_retry=None,
                     command_retry=None, **kw)
    zk.start(timeout=timeout)
    return zk


def attempt(fn) -> str:
    try:
        v = fn()
    except Exception as e:  # noqa: BLE001 - the class name is the result
        return type(e).__name__
    if isinstance(v, tuple) and len(v) == 2 and hasattr(v[1], "version"):
        v = v[0]
    if isinstance(v, bytes):
        v = v.decode(errors="replace")
    return f"ok {v}" if v is not None else "ok"


def connects(host, port, files, who, use_ssl=True, timeout=2.0) -> str:
    """'connected' or 'refused (...)'; a refusal is only seen as a timeout by kazoo, so the
    expected refusals use a short one."""
    zk = None
    try:
        zk = tls_client(host, port, files, who, use_ssl, timeout=timeout)
        zk.get("/")
        return "connected"
    except Exception as e:  # noqa: BLE001
        return f"refused ({type(e).__name__})"
    finally:
        if zk is not None:
            try:
                zk.stop()
                zk.close()
            except Exception:  # noqa: BLE001
                pass


JAVA_CLIENT_JARS = ["/usr/share/java/zookeeper.jar", "/usr/share/java/zookeeper-jute.jar",
                    "/usr/share/java/netty-codec.jar", "/usr/share/java/netty-resolver.jar",
                    "/usr/share/java/slf4j-api.jar"]


def java_client(host: str, secure: int, files: dict[str, str], who: str, cmds: list[str]) -> str:
    """ZooKeeper's Java shell (ZooKeeperMain, what zkCli.sh runs) over TLS with the Netty
    client socket and PEM stores; zkCli.sh itself cannot be used because its class path
    lacks the Netty codec and resolver jars. Returns the answer lines, joined by ' | '."""
    if not all(os.path.exists(j) for j in JAVA_CLIENT_JARS):
        return "skipped: Java client jars missing"
    store = os.path.join(os.path.dirname(files["ca.pem"]), f"{who}.pem")
    with open(store, "w") as f:
        f.write(Path(files[f"{who}.key"]).read_text() + Path(files[f"{who}.crt"]).read_text())
    cmd = ["java", "-Dzookeeper.client.secure=true",
           "-Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty",
           f"-Dzookeeper.ssl.keyStore.location={store}", "-Dzookeeper.ssl.keyStore.type=PEM",
           f"-Dzookeeper.ssl.trustStore.location={files['ca.pem']}",
           "-Dzookeeper.ssl.trustStore.type=PEM", "-cp", ":".join(JAVA_CLIENT_JARS),
           "org.apache.zookeeper.ZooKeeperMain", "-server", f"{host}:{secure}"]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(4)  # piped commands run at once: let the TLS session come up first
        out, _ = p.communicate("".join(c + "\n" for c in cmds) + "quit\n", timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
    keep = [ln.strip() for ln in out.splitlines()
            if ln.strip() and not ln.startswith(("SLF4J", "WATCHER", "WatchedEvent", "Connecting",
                                                 "Welcome", "JLine", "ERROR ServiceUtils"))]
    return " | ".join(keep)


def menagerie_cli(host: str, secure: int, files: dict[str, str], who: str, cmds: list[str]) -> str:
    """``menagerie cli`` over TLS, configured as zkCli.sh is: a ``-client-configuration``
    file with ``zookeeper.client.secure=true`` and PEM key and trust stores. Same commands and
    the same filtering as ``java_client``."""
    d = os.path.dirname(files["ca.pem"])
    store = os.path.join(d, f"{who}.pem")
    with open(store, "w") as f:
        f.write(Path(files[f"{who}.key"]).read_text() + Path(files[f"{who}.crt"]).read_text())
    conf = os.path.join(d, f"{who}-client.properties")
    with open(conf, "w") as f:
        f.write("zookeeper.client.secure=true\n"
                "zookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty\n"
                f"zookeeper.ssl.keyStore.location={store}\nzookeeper.ssl.keyStore.type=PEM\n"
                f"zookeeper.ssl.trustStore.location={files['ca.pem']}\n"
                "zookeeper.ssl.trustStore.type=PEM\n")
    cmd = [str(zkserver.menagerie_bin()), "cli", "-server", f"{host}:{secure}",
           "-client-configuration", conf]
    try:
        p = subprocess.run(cmd, input="".join(c + "\n" for c in cmds) + "quit\n",
                           capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return "timed out"
    out = p.stdout + p.stderr
    keep = [ln.strip() for ln in out.splitlines()
            if ln.strip() and not ln.startswith(("WATCHER", "WatchedEvent", "Connecting", "Welcome"))]
    return " | ".join(keep)


def scenario(host: str, port: int, secure: int, files: dict[str, str]) -> list[tuple[str, str]]:
    rec = []
    alice = tls_client(host, secure, files, "alice")
    x509_acl = [ACL(31, Id("x509", ALICE))]
    rec.append(("alice create /t (x509 acl)", attempt(lambda: alice.create("/t", b"tls-data", acl=x509_acl))))
    rec.append(("alice get /t", attempt(lambda: alice.get("/t"))))
    rec.append(("alice get_acls /t", attempt(lambda: [f"{a.perms}:{a.id.scheme}:{a.id.id}" for a in alice.get_acls("/t")[0]])))
    rec.append(("alice create /u (auth acl)", attempt(lambda: alice.create("/u", b"u", acl=[ACL(31, Id("auth", ""))]))))
    rec.append(("alice get_acls /u", attempt(lambda: [f"{a.perms}:{a.id.scheme}:{a.id.id}" for a in alice.get_acls("/u")[0]])))
    alice.stop()
    alice.close()
    bob = tls_client(host, secure, files, "bob")
    rec.append(("bob get /t", attempt(lambda: bob.get("/t"))))
    rec.append(("bob set /t", attempt(lambda: bob.set("/t", b"x"))))
    bob.stop()
    bob.close()
    root = tls_client(host, secure, files, "root")
    rec.append(("root (x509 super) get /t", attempt(lambda: root.get("/t"))))
    root.stop()
    root.close()
    plain = tls_client(host, port, files, None, use_ssl=False)
    rec.append(("plaintext client get /t", attempt(lambda: plain.get("/t"))))
    plain.stop()
    plain.close()
    rec.append(("no client certificate", connects(host, secure, files, None)))
    rec.append(("untrusted client certificate", connects(host, secure, files, "rogue")))
    rec.append(("expired client certificate", connects(host, secure, files, "expired")))
    rec.append(("plaintext on the TLS port", connects(host, secure, files, None, use_ssl=False)))
    rec.append(("TLS on the plaintext port", connects(host, port, files, "alice")))
    rec.append(("alice again", connects(host, secure, files, "alice", timeout=6)))
    rec.append(("java client alice: whoami, get /t", java_client(host, secure, files, "alice", ["whoami", "get /t"])))
    rec.append(("java client bob: get /t", java_client(host, secure, files, "bob", ["get /t"])))
    rec.append(("menagerie cli alice: whoami, get /t", menagerie_cli(host, secure, files, "alice", ["whoami", "get /t"])))
    rec.append(("menagerie cli bob: get /t", menagerie_cli(host, secure, files, "bob", ["get /t"])))
    return rec


EXPECT = {
    "alice create /t (x509 acl)": "ok /t",
    "alice get /t": "ok tls-data",
    "alice get_acls /t": None,
    "alice get_acls /u": None,
    "bob get /t": "NoAuthError",
    "bob set /t": "NoAuthError",
    "root (x509 super) get /t": "ok tls-data",
    "plaintext client get /t": "NoAuthError",
    "alice again": "connected",
    "java client alice: whoami, get /t":
        f"Auth scheme: User | ip: 127.0.0.1 | x509: {ALICE} | tls-data",
    "java client bob: get /t": "Insufficient permission : /t",
    "menagerie cli alice: whoami, get /t":
        f"Auth scheme: User | ip: 127.0.0.1 | x509: {ALICE} | tls-data",
    "menagerie cli bob: get /t": "Insufficient permission : /t",
}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--servers", default="java,menagerie")
    ap.add_argument("--show", action="store_true")
    args = ap.parse_args()
    zkserver.install_signal_handlers()
    failed = False
    results = {}
    with tempfile.TemporaryDirectory(prefix="compat-tls-") as d:
        files = make_pki(d)
        for kind in [k for k in args.servers.split(",") if k]:
            why = zkserver.check_available(kind)
            if why:
                print(f"TESTRESULT FAIL tls[{kind}] ({why})")
                failed = True
                continue
            secure = zkserver.free_port()
            cfg = {
                "secureClientPort": secure,
                "ssl.keyStore.location": files["server.pem"],
                "ssl.keyStore.type": "PEM",
                "ssl.trustStore.location": files["ca.pem"],
                "ssl.trustStore.type": "PEM",
                "ssl.clientAuth": "need",
            }
            props = {"zookeeper.X509AuthenticationProvider.superUser": ROOT}
            if kind == "java":
                props.update({"zookeeper.serverCnxnFactory": NETTY,
                              "zookeeper.authProvider.x509": X509_PROVIDER})
            with zkserver.start_server(kind, extra=props, cfg=cfg) as srv:
                rec = scenario(srv.host, srv.port, secure, files)
                alive = srv.alive()
                log = srv.log_tail(200)
            results[kind] = rec
            problems = []
            for label, out in rec:
                if args.show:
                    print(f"  [{kind}] {label}: {out}")
            got = dict(rec)
            for label, want in EXPECT.items():
                if want is not None and got.get(label) != want:
                    problems.append(f"{label}: expected {want!r}, got {got.get(label)!r}")
            for label in ["no client certificate", "untrusted client certificate",
                          "expired client certificate", "plaintext on the TLS port",
                          "TLS on the plaintext port"]:
                if not got.get(label, "").startswith("refused"):
                    problems.append(f"{label}: expected a refusal, got {got.get(label)!r}")
            if ALICE not in got.get("alice get_acls /t", ""):
                problems.append(f"x509 ACL not stored as given: {got.get('alice get_acls /t')!r}")
            if not alive:
                problems.append("server died")
            if kind == "menagerie" and "panicked" in log:
                problems.append("the server log shows a panic")
            for p in problems:
                print(f"  {kind}: {p}")
            print(f"TESTRESULT {'FAIL' if problems else 'PASS'} tls[{kind}]")
            failed |= bool(problems)
    if "java" in results and "menagerie" in results:
        diffs = [(a, b) for a, b in zip(results["java"], results["menagerie"]) if a != b]
        for j, m in diffs:
            print(f"  differs: java {j} / menagerie {m}")
        print(f"TESTRESULT {'FAIL' if diffs else 'PASS'} tls[java-vs-menagerie]")
        failed |= bool(diffs)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
