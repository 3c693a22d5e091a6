# Reads back a few nodes from a server: python3 -c "$(cat check.py)" HOST:PORT.
import sys

from kazoo.client import KazooClient

zk = KazooClient(hosts=sys.argv[1], timeout=10.0)
zk.start(timeout=20)
print("A %s" % zk.get("/a")[0].decode())
print("M1 %s" % zk.get("/m1")[0].decode())
print("SEQ %d" % len(zk.get_children("/seq")))
print("E2 %d" % zk.exists("/e2").ephemeralOwner)
zk.stop()
zk.close()
