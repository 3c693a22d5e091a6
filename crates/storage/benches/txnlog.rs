//! Transaction-log micro-benchmark: append (checksum, framing, buffering) and group commit of
//! 100-byte setData-sized entries on the in-memory file system (no device in the numbers).

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use menagerie_storage::{Fs, MemFs, TxnLog, TxnLogOptions};

fn log() -> TxnLog {
    let mem = MemFs::new();
    let dir = Path::new("/data/version-2");
    mem.create_dir_all(dir).expect("directory");
    let fs: Arc<dyn Fs> = Arc::new(mem);
    TxnLog::open(fs, dir, TxnLogOptions::default()).expect("open log")
}

fn append_and_commit(c: &mut Criterion) {
    let body = vec![0x5a_u8; 160]; // a setData txn of 100 data bytes, header included
    let mut g = c.benchmark_group("txnlog");
    for batch in [1u64, 256] {
        g.throughput(Throughput::Elements(batch));
        g.bench_function(format!("append {batch} + commit"), |b| {
            let mut log = log();
            let mut zxid = 0i64;
            b.iter(|| {
                for _ in 0..batch {
                    zxid += 1;
                    log.append(zxid, black_box(&body)).expect("append");
                }
                black_box(log.commit().expect("commit"));
                // Bound the in-memory file system: start afresh every million txns.
                if zxid % 1_000_000 < batch as i64 {
                    log = self::log();
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, append_and_commit);
criterion_main!(benches);
