// A writer for the ensemble tests, with the real ZooKeeper 3.8 Java client (Debian's
// zookeeper.jar). It creates <root>/<cid>/n<k> (k = 0, 1, ...) with data "<cid>:<k>" through
// create2 until the stop file appears, and records every attempt as one JSON line in the same
// shape as tests/ensemble/workload.py (cid op key path value attempt t0 t1 outcome err zxid
// version [final status]). After a connection loss or session expiry it retries the same
// create; NodeExists with its own data means an earlier attempt was applied.
//
// Usage: java -cp <zookeeper.jar>:<slf4j binding>:<dir> EnsembleWriter HOSTS ROOT CID OUT
//        STOPFILE RATE SESSION_TIMEOUT_MS RETRY_DEADLINE_MS
// Compiled at test time by workload.py; nothing here is part of the server.

import java.io.File;
import java.io.FileOutputStream;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs.Ids;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.Stat;

public class EnsembleWriter {
    final String hosts;
    final String root;
    final String cid;
    final Writer out;
    final File stopFile;
    final long intervalMs;
    final int sessionTimeoutMs;
    final long retryDeadlineMs;
    ZooKeeper zk;

    EnsembleWriter(String[] a) throws Exception {
        hosts = a[0];
        root = a[1];
        cid = a[2];
        out = new OutputStreamWriter(new FileOutputStream(a[3]), StandardCharsets.UTF_8);
        stopFile = new File(a[4]);
        double rate = Double.parseDouble(a[5]);
        intervalMs = rate > 0 ? (long) (1000.0 / rate) : 0;
        sessionTimeoutMs = Integer.parseInt(a[6]);
        retryDeadlineMs = Long.parseLong(a[7]);
    }

    static String q(String s) {
        return s == null ? "null" : "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }

    static double secs(long ms) {
        return ms / 1000.0;
    }

    void record(int k, String path, String value, int attempt, long t0, long t1, String outcome,
                String err, Long zxid, String status) throws Exception {
        StringBuilder b = new StringBuilder();
        b.append("{\"cid\":").append(q(cid)).append(",\"op\":\"create\",\"key\":").append(k)
            .append(",\"path\":").append(q(path)).append(",\"value\":").append(q(value))
            .append(",\"attempt\":").append(attempt)
            // Wall-clock milliseconds, widened by 1 ms on each side for the real-time check.
            .append(",\"t0\":").append(secs(t0 - 1)).append(",\"t1\":").append(secs(t1 + 1))
            .append(",\"outcome\":").append(q(outcome)).append(",\"err\":").append(q(err))
            .append(",\"zxid\":").append(zxid == null ? "null" : zxid.toString())
            .append(",\"version\":null");
        if (status != null) {
            b.append(",\"final\":true,\"status\":").append(q(status));
        }
        out.write(b.append("}\n").toString());
        out.flush();
    }

    void connect() throws Exception {
        if (zk != null) {
            zk.close();
        }
        CountDownLatch up = new CountDownLatch(1);
        zk = new ZooKeeper(hosts, sessionTimeoutMs, ev -> {
            if (ev.getState() == Watcher.Event.KeeperState.SyncConnected) {
                up.countDown();
            }
        });
        up.await(30, TimeUnit.SECONDS);
    }

    static boolean unknown(KeeperException e) {
        return e.code() == KeeperException.Code.CONNECTIONLOSS
            || e.code() == KeeperException.Code.SESSIONEXPIRED
            || e.code() == KeeperException.Code.OPERATIONTIMEOUT;
    }

    void createOne(int k) throws Exception {
        String path = root + "/" + cid + "/n" + String.format("%08d", k);
        String value = cid + ":" + k;
        byte[] data = value.getBytes(StandardCharsets.UTF_8);
        long start = System.currentTimeMillis();
        for (int attempt = 1; ; attempt++) {
            long t0 = System.currentTimeMillis();
            try {
                Stat st = new Stat();
                zk.create(path, data, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT, st);
                record(k, path, value, attempt, t0, System.currentTimeMillis(), "ok", "",
                       st.getCzxid(), "ok");
                return;
            } catch (KeeperException e) {
                long t1 = System.currentTimeMillis();
                if (e.code() == KeeperException.Code.NODEEXISTS && attempt > 1) {
                    try {
                        Stat st = new Stat();
                        byte[] got = zk.getData(path, false, st);
                        if (Arrays.equals(got, data)) {
                            record(k, path, value, attempt, t0, System.currentTimeMillis(), "ok",
                                   "confirmed", st.getCzxid(), "ok");
                            return;
                        }
                    } catch (KeeperException e2) {
                        // fall through: reported as the NodeExists error
                    }
                }
                String name = e.code().name();
                if (!unknown(e)) {
                    record(k, path, value, attempt, t0, t1, "error", name, null, "failed");
                    return;
                }
                if (t1 - start > retryDeadlineMs) {
                    record(k, path, value, attempt, t0, t1, "unknown", name, null, "abandoned");
                    return;
                }
                record(k, path, value, attempt, t0, t1, "unknown", name, null, null);
                if (e.code() == KeeperException.Code.SESSIONEXPIRED) {
                    connect();
                }
                Thread.sleep(50 + (long) (Math.random() * 100));
            }
        }
    }

    void run() throws Exception {
        connect();
        long setupDeadline = System.currentTimeMillis() + retryDeadlineMs;
        while (true) {
            try {
                zk.create(root + "/" + cid, new byte[0], Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
                break;
            } catch (KeeperException.NodeExistsException e) {
                break; // created by an earlier attempt
            } catch (KeeperException e) {
                if (!unknown(e) || System.currentTimeMillis() > setupDeadline) {
                    throw e;
                }
                if (e.code() == KeeperException.Code.SESSIONEXPIRED) {
                    connect();
                }
                Thread.sleep(100);
            }
        }
        for (int k = 0; !stopFile.exists(); k++) {
            long t = System.currentTimeMillis();
            createOne(k);
            long left = intervalMs - (System.currentTimeMillis() - t);
            if (left > 0) {
                Thread.sleep(left);
            }
        }
        zk.close();
        out.close();
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 8) {
            System.err.println("usage: EnsembleWriter HOSTS ROOT CID OUT STOPFILE RATE SESSION_MS DEADLINE_MS");
            System.exit(2);
        }
        new EnsembleWriter(args).run();
        System.exit(0);
    }
}
