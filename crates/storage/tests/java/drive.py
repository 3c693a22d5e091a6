# Drives a real ZooKeeper 3.8 server so that it logs every txn type a standalone server can
# write. Run as: python3 -c "$(cat drive.py)" HOST:PORT. Prints SESSION1/SESSION2 ids and DONE.
# Session 2 is deliberately left open (the process exits without closing it) so that its
# ephemeral node and session entry end up in the snapshot taken at the next server start.
import os
import sys
import time

from kazoo.client import KazooClient
from kazoo.exceptions import NodeExistsError
from kazoo.protocol.serialization import Create2, long_struct
from kazoo.security import OPEN_ACL_UNSAFE, make_digest_acl


class CreateContainer(Create2):
    type = 19  # createContainer: same request record as create2, flags 4


class CreateTTL(Create2):
    type = 21  # createTTL: create2's record plus a long ttl

    def serialize(self):
        b = Create2.serialize(self)
        b.extend(long_struct.pack(1))  # 1 ms: reaped at the next container check
        return b


def call(zk, request):
    result = zk.handler.async_result()
    zk._call(request, result)
    return result.get(timeout=10)


hp = sys.argv[1]
zk = KazooClient(hosts=hp, timeout=10.0)
zk.start(timeout=20)
zk2 = KazooClient(hosts=hp, timeout=10.0)
zk2.start(timeout=20)
print("SESSION1 %d" % zk.client_id[0])
print("SESSION2 %d" % zk2.client_id[0])

zk.create("/a", b"hello")                                            # create (1)
zk.create("/acl", b"secret", acl=[make_digest_acl("user", "pw", all=True)])
zk.add_auth("digest", "user:pw")
zk.set_acls("/acl", [make_digest_acl("user", "pw", read=True, admin=True)])  # setACL (7)
for i in range(30):                                                  # enough for snapshots
    zk.create("/seq/s-", str(i).encode(), sequence=True, makepath=True)
zk.create("/e", b"eph", ephemeral=True)
zk2.create("/e2", b"eph2", ephemeral=True)
zk.create("/c2", b"c2", include_data=True)                           # create2 (15)
zk.set("/a", b"world")                                               # setData (5)
zk.delete("/seq/s-0000000001")                                       # delete (2)
try:
    zk.create("/a", b"dup")                                          # error (-1)
except NodeExistsError:
    pass
t = zk.transaction()                                                 # multi (14) with check
t.create("/m1", b"1")
t.check("/a", 1)
t.set_data("/m1", b"2")
t.commit()
t = zk.transaction()                                                 # failed multi
t.create("/m2", b"1")
t.check("/a", 99)
t.commit()
call(zk, CreateContainer("/cont", b"", OPEN_ACL_UNSAFE, 4))          # createContainer (19)
zk.create("/cont/child", b"")
zk.delete("/cont/child")
call(zk, CreateTTL("/ttl", b"t", OPEN_ACL_UNSAFE, 5))                # createTTL (21)
deadline = time.time() + 10                                          # deleteContainer (20)
while (zk.exists("/cont") or zk.exists("/ttl")) and time.time() < deadline:
    time.sleep(0.05)
if zk.exists("/cont") or zk.exists("/ttl"):
    sys.exit("container / TTL node not reaped")
zk.stop()                                                            # closeSession (-11)
zk.close()
print("DONE", flush=True)
os._exit(0)  # leaves session 2 open
