// A deterministic scenario run with the real ZooKeeper Java client (Debian's zookeeper.jar, 3.8).
// It covers what kazoo cannot express: containers, TTL nodes, create2 with Stat, container/TTL
// creates inside multi, multiRead, getAllChildrenNumber, getEphemerals, whoAmI, persistent and
// persistent-recursive watches, removeWatches, getConfig and getACL redaction.
//
// Usage: java -cp <zookeeper jars>:<dir with Scenario.class> Scenario HOST:PORT OUT.json
//
// It writes RAW records (real zxids, times, session ids); scenario_javaclient.py normalises them
// exactly like the kazoo scenario before they are compared. Compiled at test time by
// scenario_javaclient.py; nothing here is part of the server.

import java.io.FileOutputStream;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.lang.reflect.Field;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.ClientCnxn;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooDefs.Ids;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.ClientInfo;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.data.Stat;
import org.apache.zookeeper.server.auth.DigestAuthenticationProvider;

public class Scenario {
    static final int EVENT_WAIT_MS = 5000;
    static final int EVENT_SETTLE_MS = 150;

    interface Call {
        Object run() throws Exception;
    }

    final String hostPort;
    final Map<String, ZooKeeper> clients = new TreeMap<>();
    final Map<String, Long> sessions = new TreeMap<>();
    final List<String> records = new ArrayList<>();
    final List<List<String>> events = Collections.synchronizedList(new ArrayList<>());
    final List<String> states = new ArrayList<>();

    Scenario(String hostPort) {
        this.hostPort = hostPort;
    }

    // ---------------------------------------------------------------- JSON helpers
    static String q(String s) {
        if (s == null) return "null";
        StringBuilder b = new StringBuilder("\"");
        for (char ch : s.toCharArray()) {
            switch (ch) {
                case '"': b.append("\\\""); break;
                case '\\': b.append("\\\\"); break;
                case '\n': b.append("\\n"); break;
                case '\t': b.append("\\t"); break;
                case '\r': b.append("\\r"); break;
                default:
                    if (ch < 0x20 || ch > 0x7e) b.append(String.format("\\u%04x", (int) ch));
                    else b.append(ch);
            }
        }
        return b.append('"').toString();
    }

    static String stat(Stat s) {
        if (s == null) return "null";
        return "{\"stat\":{\"czxid\":" + s.getCzxid() + ",\"mzxid\":" + s.getMzxid() + ",\"pzxid\":" + s.getPzxid()
            + ",\"ctime\":" + s.getCtime() + ",\"mtime\":" + s.getMtime() + ",\"version\":" + s.getVersion()
            + ",\"cversion\":" + s.getCversion() + ",\"aversion\":" + s.getAversion()
            + ",\"ephemeralOwner\":" + s.getEphemeralOwner() + ",\"dataLength\":" + s.getDataLength()
            + ",\"numChildren\":" + s.getNumChildren() + "}}";
    }

    static String bytes(byte[] b) {
        if (b == null) return "null";
        java.nio.charset.CharsetDecoder dec = StandardCharsets.UTF_8.newDecoder();
        try {
            return "{\"bytes\":" + q(dec.decode(java.nio.ByteBuffer.wrap(b)).toString()) + "}";
        } catch (java.nio.charset.CharacterCodingException e) {
            StringBuilder h = new StringBuilder();
            for (byte x : b) h.append(String.format("%02x", x));
            return "{\"hex\":\"" + h + "\"}";
        }
    }

    static String strings(List<String> l, boolean sort) {
        if (l == null) return "null";
        List<String> c = new ArrayList<>(l);
        if (sort) Collections.sort(c);
        StringBuilder b = new StringBuilder("[");
        for (int i = 0; i < c.size(); i++) b.append(i > 0 ? "," : "").append(q(c.get(i)));
        return b.append("]").toString();
    }

    static String acls(List<ACL> l) {
        if (l == null) return "null";
        StringBuilder b = new StringBuilder("[");
        for (int i = 0; i < l.size(); i++) {
            ACL a = l.get(i);
            b.append(i > 0 ? "," : "").append("{\"acl\":[").append(a.getPerms()).append(",")
                .append(q(a.getId().getScheme())).append(",").append(q(a.getId().getId())).append("]}");
        }
        return b.append("]").toString();
    }

    static String opName(int type) {
        switch (type) {
            case ZooDefs.OpCode.create: return "create";
            case ZooDefs.OpCode.create2: return "create2";
            case ZooDefs.OpCode.createContainer: return "createContainer";
            case ZooDefs.OpCode.createTTL: return "createTTL";
            case ZooDefs.OpCode.delete: return "delete";
            case ZooDefs.OpCode.setData: return "setData";
            case ZooDefs.OpCode.check: return "check";
            case ZooDefs.OpCode.getData: return "getData";
            case ZooDefs.OpCode.getChildren: return "getChildren";
            case ZooDefs.OpCode.error: return "error";
            default: return "op" + type;
        }
    }

    static String results(List<OpResult> rs) {
        if (rs == null) return "null";
        StringBuilder b = new StringBuilder("{\"results\":[");
        for (int i = 0; i < rs.size(); i++) {
            OpResult r = rs.get(i);
            b.append(i > 0 ? "," : "").append("{\"type\":").append(q(opName(r.getType())));
            if (r instanceof OpResult.CreateResult) {
                OpResult.CreateResult c = (OpResult.CreateResult) r;
                b.append(",\"path\":").append(q(c.getPath()));
                if (c.getStat() != null) b.append(",\"stat\":").append(stat(c.getStat()).substring(8, stat(c.getStat()).length() - 1));
            } else if (r instanceof OpResult.SetDataResult) {
                String s = stat(((OpResult.SetDataResult) r).getStat());
                b.append(",\"stat\":").append(s.substring(8, s.length() - 1));
            } else if (r instanceof OpResult.ErrorResult) {
                b.append(",\"err\":").append(((OpResult.ErrorResult) r).getErr());
            } else if (r instanceof OpResult.GetDataResult) {
                OpResult.GetDataResult g = (OpResult.GetDataResult) r;
                b.append(",\"data\":").append(bytes(g.getData()));
                String s = stat(g.getStat());
                b.append(",\"stat\":").append(s.equals("null") ? "null" : s.substring(8, s.length() - 1));
            } else if (r instanceof OpResult.GetChildrenResult) {
                b.append(",\"children\":").append(strings(((OpResult.GetChildrenResult) r).getChildren(), true));
            }
            b.append("}");
        }
        return b.append("]}").toString();
    }

    static String args(Object... a) {
        StringBuilder b = new StringBuilder("[");
        for (int i = 0; i < a.length; i++) {
            Object x = a[i];
            b.append(i > 0 ? "," : "");
            if (x == null) b.append("null");
            else if (x instanceof String) b.append(q((String) x));
            else if (x instanceof byte[]) b.append(q(new String((byte[]) x, StandardCharsets.UTF_8)));
            else if (x instanceof Number || x instanceof Boolean) b.append(x);
            else b.append(q(x.toString()));
        }
        return b.append("]").toString();
    }

    // ---------------------------------------------------------------- clients
    long lastZxid(ZooKeeper zk) {
        try {
            Field f = ZooKeeper.class.getDeclaredField("cnxn");
            f.setAccessible(true);
            return ((ClientCnxn) f.get(zk)).getLastZxid();
        } catch (ReflectiveOperationException e) {
            return -1;
        }
    }

    ZooKeeper connect(String name) throws Exception {
        CountDownLatch up = new CountDownLatch(1);
        ZooKeeper zk = new ZooKeeper(hostPort, 30000, e -> {
            if (e.getType() == Watcher.Event.EventType.None) {
                synchronized (states) {
                    states.add(name + ":" + e.getState().name());
                    states.notifyAll();
                }
                if (e.getState() == Watcher.Event.KeeperState.SyncConnected) up.countDown();
            }
        });
        if (!up.await(15, TimeUnit.SECONDS)) {
            throw new IllegalStateException("could not connect to " + hostPort);
        }
        clients.put(name, zk);
        sessions.put(name, zk.getSessionId());
        records.add("{\"i\":" + records.size() + ",\"c\":" + q(name) + ",\"op\":\"connect\"}");
        return zk;
    }

    void close(String name) throws Exception {
        ZooKeeper zk = clients.remove(name);
        zk.close();
        records.add("{\"i\":" + records.size() + ",\"c\":" + q(name) + ",\"op\":\"close\"}");
    }

    Watcher watcher(String tag) {
        return e -> {
            if (e.getType() != Watcher.Event.EventType.None) {
                events.add(Arrays.asList(tag, e.getType().name(), e.getPath()));
            }
        };
    }

    void expectEvents(int n, String label) throws InterruptedException {
        long deadline = System.currentTimeMillis() + EVENT_WAIT_MS;
        while (System.currentTimeMillis() < deadline && events.size() < n) Thread.sleep(10);
        Thread.sleep(EVENT_SETTLE_MS);
        List<String> got = new ArrayList<>();
        synchronized (events) {
            for (List<String> e : events) got.add("[" + q(e.get(0)) + "," + q(e.get(1)) + "," + q(e.get(2)) + "]");
            events.clear();
        }
        Collections.sort(got);
        records.add("{\"i\":" + records.size() + ",\"op\":\"events\",\"args\":[" + q(label) + "],\"result\":["
            + String.join(",", got) + "]}");
    }

    /** Run one call; `fmt` turns its value into JSON. */
    void call(String c, String op, String args, Call body, java.util.function.Function<Object, String> fmt) {
        ZooKeeper zk = clients.get(c);
        StringBuilder r = new StringBuilder("{\"i\":" + records.size() + ",\"c\":" + q(c) + ",\"op\":" + q(op) + ",\"args\":" + args);
        try {
            Object v = body.run();
            r.append(",\"result\":").append(fmt.apply(v));
        } catch (KeeperException e) {
            r.append(",\"error\":{\"class\":").append(q(e.code().name())).append(",\"code\":").append(e.code().intValue()).append("}");
            if (e.getResults() != null) r.append(",\"result\":").append(results(e.getResults()));
        } catch (Exception e) {
            r.append(",\"error\":{\"class\":").append(q(e.getClass().getSimpleName())).append(",\"client_side\":true}");
        }
        r.append(",\"zxid\":").append(lastZxid(zk)).append("}");
        records.add(r.toString());
    }

    static final java.util.function.Function<Object, String> STAT = v -> stat((Stat) v);
    static final java.util.function.Function<Object, String> STR = v -> v == null ? "null" : q(v.toString());
    static final java.util.function.Function<Object, String> NONE = v -> "true";
    static final java.util.function.Function<Object, String> NUM = v -> String.valueOf(v);
    @SuppressWarnings("unchecked")
    static final java.util.function.Function<Object, String> SORTED = v -> strings((List<String>) v, true);
    @SuppressWarnings("unchecked")
    static final java.util.function.Function<Object, String> RESULTS = v -> results((List<OpResult>) v);

    // ---------------------------------------------------------------- operations
    static final List<ACL> OPEN = Ids.OPEN_ACL_UNSAFE;

    void create2(String c, String path, String data, CreateMode mode, long ttl) {
        ZooKeeper zk = clients.get(c);
        call(c, "create2", args(path, data, mode.name(), ttl), () -> {
            Stat st = new Stat();
            String p = zk.create(path, data == null ? null : data.getBytes(StandardCharsets.UTF_8), OPEN, mode, st, ttl);
            return "[" + q(p) + "," + stat(st) + "]";
        }, v -> (String) v);
    }

    void create2(String c, String path, String data, CreateMode mode) {
        ZooKeeper zk = clients.get(c);
        call(c, "create2", args(path, data, mode.name()), () -> {
            Stat st = new Stat();
            String p = zk.create(path, data == null ? null : data.getBytes(StandardCharsets.UTF_8), OPEN, mode, st);
            return "[" + q(p) + "," + stat(st) + "]";
        }, v -> (String) v);
    }

    void create(String c, String path, String data, CreateMode mode) {
        create(c, path, data, mode, OPEN);
    }

    void create(String c, String path, String data, CreateMode mode, List<ACL> acl) {
        ZooKeeper zk = clients.get(c);
        call(c, "create", args(path, data, mode.name(), acl == OPEN ? "OPEN" : acl.toString()),
            () -> zk.create(path, data == null ? null : data.getBytes(StandardCharsets.UTF_8), acl, mode), STR);
    }

    void exists(String c, String path, Watcher w) {
        ZooKeeper zk = clients.get(c);
        call(c, "exists", args(path, w != null), () -> zk.exists(path, w), STAT);
    }

    void getData(String c, String path, Watcher w) {
        ZooKeeper zk = clients.get(c);
        call(c, "getData", args(path, w != null), () -> {
            Stat st = new Stat();
            byte[] d = zk.getData(path, w, st);
            return "[" + bytes(d) + "," + stat(st) + "]";
        }, v -> (String) v);
    }

    void getChildren2(String c, String path, Watcher w) {
        ZooKeeper zk = clients.get(c);
        call(c, "getChildren2", args(path, w != null), () -> {
            Stat st = new Stat();
            List<String> ch = zk.getChildren(path, w, st);
            return "[" + strings(ch, true) + "," + stat(st) + "]";
        }, v -> (String) v);
    }

    void setData(String c, String path, String data, int version) {
        ZooKeeper zk = clients.get(c);
        call(c, "setData", args(path, data, version),
            () -> zk.setData(path, data.getBytes(StandardCharsets.UTF_8), version), STAT);
    }

    void delete(String c, String path, int version) {
        ZooKeeper zk = clients.get(c);
        call(c, "delete", args(path, version), () -> {
            zk.delete(path, version);
            return null;
        }, NONE);
    }

    void getACL(String c, String path) {
        ZooKeeper zk = clients.get(c);
        call(c, "getACL", args(path), () -> {
            Stat st = new Stat();
            List<ACL> l = zk.getACL(path, st);
            return "[" + acls(l) + "," + stat(st) + "]";
        }, v -> (String) v);
    }

    void setACL(String c, String path, List<ACL> acl, int version) {
        ZooKeeper zk = clients.get(c);
        call(c, "setACL", args(path, acl.toString(), version), () -> zk.setACL(path, acl, version), STAT);
    }

    void multi(String c, String label, List<Op> ops) {
        ZooKeeper zk = clients.get(c);
        call(c, "multi", args(label), () -> zk.multi(ops), RESULTS);
    }

    void walk(String c, String path, int depth) {
        if (depth > 10) return;
        ZooKeeper zk = clients.get(c);
        getChildren2(c, path, null);
        getData(c, path, null);
        List<String> ch;
        try {
            ch = new ArrayList<>(zk.getChildren(path, false));
        } catch (Exception e) {
            return;
        }
        Collections.sort(ch);
        for (String x : ch) walk(c, (path.equals("/") ? "" : path) + "/" + x, depth + 1);
    }

    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    // ---------------------------------------------------------------- the scenario
    void run() throws Exception {
        ZooKeeper c1 = connect("c1");

        exists("c1", "/", null);
        getConfig();
        getACL("c1", "/zookeeper/config");

        // create2 for every mode, with the Stat it returns
        create2("c1", "/j", "j", CreateMode.PERSISTENT);
        create2("c1", "/j/nulldata", null, CreateMode.PERSISTENT);
        getData("c1", "/j/nulldata", null);
        create2("c1", "/j/cont", "", CreateMode.CONTAINER);
        create("c1", "/j/cont2", "c", CreateMode.CONTAINER); // opcode 19 via plain create
        create2("c1", "/j/cont/child", "x", CreateMode.PERSISTENT);
        create2("c1", "/j/cont/e", "e", CreateMode.EPHEMERAL);
        create2("c1", "/j/cont/e/x", "", CreateMode.PERSISTENT); // NoChildrenForEphemerals
        create2("c1", "/j/ttl", "t", CreateMode.PERSISTENT_WITH_TTL, 60000);
        create2("c1", "/j/ttl/child", "", CreateMode.PERSISTENT); // TTL nodes may have children
        create2("c1", "/j/ttls-", "t", CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL, 60000);
        create2("c1", "/j/ttlmax", "", CreateMode.PERSISTENT_WITH_TTL, 0xFFFFFFFFFFL);
        create2("c1", "/j/ttlbig", "", CreateMode.PERSISTENT_WITH_TTL, 0x10000000000L); // client-side
        create2("c1", "/j/ttl0", "", CreateMode.PERSISTENT_WITH_TTL, 0); // client-side
        create2("c1", "/j/ttl", "again", CreateMode.PERSISTENT_WITH_TTL, 1000); // NodeExists
        create2("c1", "/j/nope/ttl", "", CreateMode.PERSISTENT_WITH_TTL, 1000); // NoNode
        create2("c1", "/j/cont/e/ttl", "", CreateMode.PERSISTENT_WITH_TTL, 1000); // NoChildrenForEphemerals
        create2("c1", "/j/cont", "", CreateMode.CONTAINER); // NodeExists
        create2("c1", "/j/es-", "", CreateMode.EPHEMERAL_SEQUENTIAL);
        create2("c1", "/j/ps-", "", CreateMode.PERSISTENT_SEQUENTIAL);
        exists("c1", "/j/cont", null);
        exists("c1", "/j/ttl", null);
        getChildren2("c1", "/j", null);

        // getAllChildrenNumber (all descendants) and getEphemerals (plain string prefix)
        call("c1", "getAllChildrenNumber", args("/j"), () -> c1.getAllChildrenNumber("/j"), NUM);
        call("c1", "getAllChildrenNumber", args("/"), () -> c1.getAllChildrenNumber("/"), NUM);
        call("c1", "getAllChildrenNumber", args("/j/cont/child"), () -> c1.getAllChildrenNumber("/j/cont/child"), NUM);
        call("c1", "getAllChildrenNumber", args("/missing"), () -> c1.getAllChildrenNumber("/missing"), NUM);
        call("c1", "getEphemerals", args(), () -> c1.getEphemerals(), SORTED);
        call("c1", "getEphemerals", args("/"), () -> c1.getEphemerals("/"), SORTED);
        call("c1", "getEphemerals", args("/j/cont"), () -> c1.getEphemerals("/j/cont"), SORTED);
        call("c1", "getEphemerals", args("/j/c"), () -> c1.getEphemerals("/j/c"), SORTED);
        call("c1", "getEphemerals", args("/nomatch"), () -> c1.getEphemerals("/nomatch"), SORTED);
        ZooKeeper c2 = connect("c2");
        call("c2", "getEphemerals", args(), () -> c2.getEphemerals(), SORTED);
        create2("c2", "/j/c2eph", "", CreateMode.EPHEMERAL);
        call("c2", "getEphemerals", args("/j"), () -> c2.getEphemerals("/j"), SORTED);
        call("c1", "getEphemerals", args("/j"), () -> c1.getEphemerals("/j"), SORTED);

        // multi with container / TTL creates (3.8.0: results without Stat, ZOOKEEPER-4026)
        multi("c1", "create+container+ttl", Arrays.asList(
            Op.create("/jm", b("m"), OPEN, CreateMode.PERSISTENT),
            Op.create("/jm/cont", b(""), OPEN, CreateMode.CONTAINER),
            Op.create("/jm/ttl", b("t"), OPEN, CreateMode.PERSISTENT_WITH_TTL, 60000),
            Op.create("/jm/s-", b(""), OPEN, CreateMode.PERSISTENT_SEQUENTIAL),
            Op.setData("/jm", b("m2"), 0),
            Op.check("/jm", 1),
            Op.delete("/jm/cont", 0)));
        getChildren2("c1", "/jm", null);
        multi("c1", "failing ttl", Arrays.asList(
            Op.create("/jm/ttl2", b("t"), OPEN, CreateMode.PERSISTENT_WITH_TTL, 60000),
            Op.create("/jm/ttl", b("t"), OPEN, CreateMode.PERSISTENT_WITH_TTL, 60000)));
        multi("c1", "failing check", Arrays.asList(
            Op.create("/jm/x", b(""), OPEN, CreateMode.PERSISTENT),
            Op.check("/jm", 7),
            Op.delete("/jm/ttl", -1)));
        exists("c1", "/jm/x", null);

        // multiRead: failures are reported in place, the others succeed
        multi("c1", "read", Arrays.asList(
            Op.getData("/jm"),
            Op.getChildren("/jm"),
            Op.getData("/jm/missing"),
            Op.getChildren("/missing"),
            Op.getData("/j/nulldata")));

        // persistent watch (data + children of the node itself, stays after firing)
        create("c1", "/jw", "", CreateMode.PERSISTENT);
        Watcher pw = watcher("persistent-jw");
        call("c1", "addWatch", args("/jw", "PERSISTENT"), () -> {
            c1.addWatch("/jw", pw, AddWatchMode.PERSISTENT);
            return null;
        }, NONE);
        setData("c2", "/jw", "1", -1);
        create("c2", "/jw/c", "", CreateMode.PERSISTENT);
        setData("c2", "/jw/c", "x", -1); // no event: child data is not watched
        setData("c2", "/jw", "2", -1);
        expectEvents(3, "persistent watch /jw");
        call("c1", "removeWatches", args("/jw", "Any"), () -> {
            c1.removeWatches("/jw", pw, Watcher.WatcherType.Any, false);
            return null;
        }, NONE);
        expectEvents(1, "persistent watch removed");
        setData("c2", "/jw", "3", -1);
        expectEvents(0, "no event after removal");
        call("c1", "removeWatches", args("/jw", "Any", "again"), () -> {
            c1.removeWatches("/jw", pw, Watcher.WatcherType.Any, false);
            return null;
        }, NONE); // NoWatcher
        call("c1", "removeAllWatches", args("/nowatch", "Data"), () -> {
            c1.removeAllWatches("/nowatch", Watcher.WatcherType.Data, false);
            return null;
        }, NONE); // NoWatcher

        // persistent recursive watch: no NodeChildrenChanged, events carry the changed path
        create("c1", "/jr", "", CreateMode.PERSISTENT);
        call("c1", "addWatch", args("/jr", "PERSISTENT_RECURSIVE"), () -> {
            c1.addWatch("/jr", watcher("recursive-jr"), AddWatchMode.PERSISTENT_RECURSIVE);
            return null;
        }, NONE);
        create("c2", "/jr/a", "", CreateMode.PERSISTENT);
        create("c2", "/jr/a/b", "", CreateMode.PERSISTENT);
        setData("c2", "/jr/a/b", "x", -1);
        delete("c2", "/jr/a/b", -1);
        setData("c2", "/jr", "r", -1);
        expectEvents(5, "recursive watch /jr");
        // one-shot data watch and a child watch registered by the same connection
        getData("c1", "/jr/a", watcher("data-jr-a"));
        getChildren2("c1", "/jr/a", watcher("child-jr-a"));
        delete("c2", "/jr/a", -1);
        expectEvents(3, "delete /jr/a under recursive + one-shot watches");

        // ACLs: digest redaction in getACL without ADMIN, exists() without READ
        call("c1", "addAuthInfo", args("digest", "alice:secret"), () -> {
            c1.addAuthInfo("digest", b("alice:secret"));
            return null;
        }, NONE);
        String dig = DigestAuthenticationProvider.generateDigest("alice:secret");
        List<ACL> acl = Arrays.asList(new ACL(ZooDefs.Perms.ALL, new Id("digest", dig)),
            new ACL(ZooDefs.Perms.READ, Ids.ANYONE_ID_UNSAFE));
        create("c1", "/ja", "secret", CreateMode.PERSISTENT, acl);
        getACL("c1", "/ja");
        getACL("c2", "/ja"); // READ but no ADMIN: digest ids redacted
        getData("c2", "/ja", null);
        setData("c2", "/ja", "no", -1); // NoAuth
        create("c1", "/jn", "", CreateMode.PERSISTENT, Arrays.asList(new ACL(ZooDefs.Perms.ALL, new Id("digest", dig))));
        exists("c2", "/jn", null); // 3.8.0: Stat; 3.8.4+/3.9.2+: NoAuth (ZOOKEEPER-2590)
        getACL("c2", "/jn"); // NoAuth
        call("c1", "whoAmI", args(), () -> {
            List<String> l = new ArrayList<>();
            for (ClientInfo ci : c1.whoAmI()) l.add(ci.getAuthScheme() + ":" + ci.getUser());
            return l;
        }, SORTED);
        call("c2", "whoAmI", args(), () -> {
            List<String> l = new ArrayList<>();
            for (ClientInfo ci : c2.whoAmI()) l.add(ci.getAuthScheme() + ":" + ci.getUser());
            return l;
        }, SORTED);
        setACL("c1", "/ja", OPEN, 0);
        setACL("c1", "/ja", OPEN, 0); // BadVersion
        getACL("c2", "/ja");

        // sync (asynchronous API only)
        call("c1", "sync", args("/j"), () -> {
            CountDownLatch l = new CountDownLatch(1);
            final Object[] out = new Object[2];
            c1.sync("/j", (rc, path, ctx) -> {
                out[0] = rc;
                out[1] = path;
                l.countDown();
            }, null);
            if (!l.await(10, TimeUnit.SECONDS)) throw new IllegalStateException("sync timed out");
            return out[0] + " " + out[1];
        }, STR);

        // removing only the data watches of a path keeps its child watch
        create("c1", "/jx", "", CreateMode.PERSISTENT);
        getData("c1", "/jx", watcher("data-jx"));
        getChildren2("c1", "/jx", watcher("child-jx"));
        call("c1", "removeAllWatches", args("/jx", "Data"), () -> {
            c1.removeAllWatches("/jx", Watcher.WatcherType.Data, false);
            return null;
        }, NONE);
        expectEvents(1, "data watch removed");
        setData("c2", "/jx", "x", -1); // no data watch any more
        create("c2", "/jx/c", "", CreateMode.PERSISTENT);
        expectEvents(1, "child watch still there");
        call("c1", "removeAllWatches", args("/jx", "Children"), () -> {
            c1.removeAllWatches("/jx", Watcher.WatcherType.Children, false);
            return null;
        }, NONE); // NoWatcher: the child watch fired already

        // a persistent watch and a later one-shot watch on the same path by the same connection
        // (3.6-3.8: the one-shot registration replaces the persistent one on the server; 3.9
        // keeps both)
        create("c1", "/jq", "", CreateMode.PERSISTENT);
        call("c1", "addWatch", args("/jq", "PERSISTENT"), () -> {
            c1.addWatch("/jq", watcher("persistent-jq"), AddWatchMode.PERSISTENT);
            return null;
        }, NONE);
        getData("c1", "/jq", watcher("oneshot-jq"));
        setData("c2", "/jq", "1", -1);
        expectEvents(2, "first change of /jq");
        setData("c2", "/jq", "2", -1);
        expectEvents(1, "second change of /jq");

        // a watch event caused by a request precedes that request's reply on the same
        // connection; the Java client delivers both through one queue, in arrival order
        create("c1", "/jo", "", CreateMode.PERSISTENT);
        final List<String> order = Collections.synchronizedList(new ArrayList<>());
        getData("c1", "/jo", e -> order.add("event " + e.getType().name()));
        CountDownLatch both = new CountDownLatch(1);
        c1.setData("/jo", b("x"), -1, (rc, path, ctx, stat) -> {
            order.add("reply rc=" + rc);
            both.countDown();
        }, null);
        both.await(10, TimeUnit.SECONDS);
        Thread.sleep(EVENT_SETTLE_MS);
        records.add("{\"i\":" + records.size() + ",\"op\":\"event-vs-reply order\",\"args\":[\"/jo\"],\"result\":"
            + strings(new ArrayList<>(order), false) + "}");
        order.clear();
        exists("c1", "/jo2", e -> order.add("event " + e.getType().name()));
        CountDownLatch done2 = new CountDownLatch(1);
        c1.multi(Arrays.asList(Op.create("/jo2", b(""), OPEN, CreateMode.PERSISTENT)), (rc, path, ctx, res) -> {
            order.add("reply rc=" + rc);
            done2.countDown();
        }, null);
        done2.await(10, TimeUnit.SECONDS);
        Thread.sleep(EVENT_SETTLE_MS);
        records.add("{\"i\":" + records.size() + ",\"op\":\"event-vs-reply order\",\"args\":[\"/jo2 multi\"],\"result\":"
            + strings(new ArrayList<>(order), false) + "}");

        // SetWatches / SetWatches2 after a reconnect: one-shot watches get catch-up events for
        // changes made while the client was away; persistent watches are re-registered (no
        // catch-up), so their change is made only after the reconnect
        create("c1", "/js", "", CreateMode.PERSISTENT);
        create("c1", "/js/d", "", CreateMode.PERSISTENT);
        create("c1", "/js/gone", "", CreateMode.PERSISTENT);
        create("c1", "/js/same", "", CreateMode.PERSISTENT);
        create("c1", "/jsp", "", CreateMode.PERSISTENT);
        getData("c1", "/js/d", watcher("sw-data-d"));
        getData("c1", "/js/gone", watcher("sw-data-gone"));
        getData("c1", "/js/same", watcher("sw-data-same")); // unchanged: no event
        exists("c1", "/js/new", watcher("sw-exists-new"));
        getChildren2("c1", "/js", watcher("sw-child-js"));
        call("c1", "addWatch", args("/jsp", "PERSISTENT"), () -> {
            c1.addWatch("/jsp", watcher("sw-persistent-jsp"), AddWatchMode.PERSISTENT);
            return null;
        }, NONE);
        int mark;
        synchronized (states) {
            mark = states.size();
        }
        dropConnection("c1");
        setData("c2", "/js/d", "changed", -1);
        delete("c2", "/js/gone", -1);
        create("c2", "/js/new", "", CreateMode.PERSISTENT);
        boolean back = awaitReconnect("c1", mark, 15000);
        records.add("{\"i\":" + records.size() + ",\"op\":\"reconnected\",\"args\":[\"c1\"],\"result\":" + back + "}");
        expectEvents(4, "catch-up events after SetWatches");
        setData("c2", "/jsp", "after", -1);
        setData("c2", "/js/same", "after", -1);
        expectEvents(2, "watches still registered after the reconnect");
        exists("c1", "/js/new", null);

        // resuming a session with a wrong password: the server answers with timeout 0 and the
        // client reports Expired. ZooKeeper 3.8 closes the owner's connection before it checks
        // the password (processConnectRequest), so the owner sees Disconnected and reconnects.
        int stateMark;
        synchronized (states) {
            stateMark = states.size();
        }
        final List<String> badStates = Collections.synchronizedList(new ArrayList<>());
        CountDownLatch expired = new CountDownLatch(1);
        ZooKeeper bad = new ZooKeeper(hostPort, 30000, e -> {
            if (e.getType() == Watcher.Event.EventType.None) {
                badStates.add(e.getState().name());
                if (e.getState() == Watcher.Event.KeeperState.Expired) expired.countDown();
            }
        }, c1.getSessionId(), new byte[16]);
        boolean gotExpired = expired.await(15, TimeUnit.SECONDS);
        bad.close();
        // wake the owner's send thread so that a closed socket is noticed now, not at the next ping
        c1.exists("/", false, (rc, path, ctx, stat) -> { }, null);
        boolean ownerReconnected = awaitReconnect("c1", stateMark, 3000);
        records.add("{\"i\":" + records.size() + ",\"op\":\"resume with wrong password\",\"result\":{\"expired\":"
            + gotExpired + ",\"states\":" + strings(new ArrayList<>(badStates), false)
            + ",\"owner_was_disconnected\":" + ownerReconnected + "}}");
        if (ownerReconnected) Thread.sleep(100);
        exists("c1", "/j", null);

        // the session of c2 ends: its ephemeral goes, watchers of c1 see it
        exists("c1", "/j/c2eph", watcher("exists-c2eph"));
        getChildren2("c1", "/j", watcher("child-j"));
        close("c2");
        expectEvents(2, "c2 closed");
        exists("c1", "/j/c2eph", null);
        call("c1", "getAllChildrenNumber", args("/"), () -> c1.getAllChildrenNumber("/"), NUM);

        exists("c1", "/", null);
        exists("c1", "/zookeeper", null);
        walk("c1", "/", 0);
        close("c1");
    }

    /** Close the client's socket (the client reconnects with the same session and SetWatches). */
    void dropConnection(String c) throws Exception {
        ZooKeeper zk = clients.get(c);
        Field f = ZooKeeper.class.getDeclaredField("cnxn");
        f.setAccessible(true);
        ClientCnxn cnxn = (ClientCnxn) f.get(zk);
        Field st = ClientCnxn.class.getDeclaredField("sendThread");
        st.setAccessible(true);
        Object sendThread = st.get(cnxn);
        java.lang.reflect.Method m = sendThread.getClass().getDeclaredMethod("testableCloseSocket");
        m.setAccessible(true);
        m.invoke(sendThread);
        // An idle client notices the closed socket only at its next ping; a request wakes its
        // send thread up at once (the request itself fails or is sent after the reconnect).
        zk.exists("/", false, (rc, path, ctx, stat) -> { }, null);
    }

    /** Wait (bounded) until client c has seen Disconnected and then SyncConnected again. */
    boolean awaitReconnect(String c, int fromIndex, long timeoutMs) throws InterruptedException {
        long deadline = System.currentTimeMillis() + timeoutMs;
        synchronized (states) {
            while (System.currentTimeMillis() < deadline) {
                boolean down = false;
                for (int i = fromIndex; i < states.size(); i++) {
                    String x = states.get(i);
                    if (x.equals(c + ":Disconnected")) down = true;
                    if (down && x.equals(c + ":SyncConnected")) return true;
                }
                states.wait(Math.max(1, deadline - System.currentTimeMillis()));
            }
        }
        return false;
    }

    /**
     * Container and TTL reaping (the servers run the reaper every 1000 ms). Containers are
     * deleted once empty after having had a child; never-used containers stay (3.8 default);
     * TTL nodes without children are deleted once now - mtime > ttl.
     */
    void runReaper() throws Exception {
        ZooKeeper c1 = connect("c1");
        exists("c1", "/", null);
        create2("c1", "/rc", "", CreateMode.CONTAINER);
        create2("c1", "/rc/x", "", CreateMode.PERSISTENT);
        create2("c1", "/rc-never", "", CreateMode.CONTAINER);
        create2("c1", "/rc-full", "", CreateMode.CONTAINER);
        create2("c1", "/rc-full/keep", "", CreateMode.PERSISTENT);
        create2("c1", "/rt", "", CreateMode.PERSISTENT_WITH_TTL, 1500);
        create2("c1", "/rt-parent", "", CreateMode.PERSISTENT_WITH_TTL, 1500);
        create2("c1", "/rt-parent/keep", "", CreateMode.PERSISTENT);
        create2("c1", "/rt-long", "", CreateMode.PERSISTENT_WITH_TTL, 600000);
        create2("c1", "/rts-", "", CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL, 1500);
        exists("c1", "/rc", watcher("exists-rc"));
        exists("c1", "/rt", watcher("exists-rt"));
        getChildren2("c1", "/", watcher("child-root"));
        delete("c1", "/rc/x", -1);
        // wait (bounded) until the three expected deletions happened, then a little longer
        long deadline = System.currentTimeMillis() + 15000;
        while (System.currentTimeMillis() < deadline) {
            if (c1.exists("/rc", false) == null && c1.exists("/rt", false) == null
                && c1.getChildren("/", false).stream().noneMatch(n -> n.startsWith("rts-"))) break;
            Thread.sleep(100);
        }
        Thread.sleep(2500);
        expectEvents(3, "reaped");
        for (String p : new String[] {"/rc", "/rc-never", "/rc-full", "/rt", "/rt-parent", "/rt-long"}) {
            exists("c1", p, null);
        }
        getChildren2("c1", "/", null);
        // a container that is re-created works again; a TTL node that is written is renewed
        create2("c1", "/rc", "", CreateMode.CONTAINER);
        exists("c1", "/", null);
        close("c1");
    }

    void getConfig() {
        ZooKeeper zk = clients.get("c1");
        call("c1", "getConfig", args(), () -> {
            Stat st = new Stat();
            byte[] d = zk.getConfig(false, st);
            return "[" + bytes(d) + "," + stat(st) + "]";
        }, v -> (String) v);
    }

    public static void main(String[] argv) throws Exception {
        if (argv.length < 2 || argv.length > 3) {
            System.err.println("usage: Scenario HOST:PORT OUT.json [main|reaper]");
            System.exit(2);
        }
        Scenario s = new Scenario(argv[0]);
        int status = 0;
        String abort = null;
        try {
            if (argv.length == 3 && argv[2].equals("reaper")) s.runReaper();
            else s.run();
        } catch (Throwable t) {
            abort = t.toString();
            status = 2;
        } finally {
            for (ZooKeeper zk : s.clients.values()) {
                try {
                    zk.close();
                } catch (Throwable ignored) {
                    // best effort
                }
            }
        }
        if (abort != null) {
            s.records.add("{\"i\":" + s.records.size() + ",\"op\":\"ABORTED\",\"error\":" + q(abort) + "}");
        }
        StringBuilder sess = new StringBuilder("{");
        int k = 0;
        for (Map.Entry<String, Long> e : s.sessions.entrySet()) {
            sess.append(k++ > 0 ? "," : "").append(q(e.getKey())).append(":").append(e.getValue());
        }
        sess.append("}");
        try (Writer w = new OutputStreamWriter(new FileOutputStream(argv[1]), StandardCharsets.UTF_8)) {
            w.write("{\"meta\":{\"scenario\":\"javaclient\",\"sessions\":" + sess + "},\"records\":[\n");
            for (int i = 0; i < s.records.size(); i++) {
                w.write(s.records.get(i));
                w.write(i + 1 < s.records.size() ? ",\n" : "\n");
            }
            w.write("]}\n");
        }
        System.exit(status);
    }
}
