//! Data-tree micro-benchmarks: create, lookup + stat, setData, children listing.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use menagerie_core::tree::{DataTree, NewNode};
use menagerie_proto::records::Acl;

fn populated(n: usize) -> DataTree {
    let mut t = DataTree::new(false, 7);
    let acl = Acl::open_unsafe();
    t.create("/bench", &node(&acl, 1)).expect("parent");
    for i in 0..n {
        t.create(&format!("/bench/n{i:08}"), &node(&acl, i as i64 + 2))
            .expect("create");
    }
    t
}

fn node(acl: &[Acl], zxid: i64) -> NewNode<'_> {
    NewNode {
        data: Some(&[b'x'; 100]),
        acl,
        ephemeral_owner: 0,
        parent_cversion: -1,
        zxid,
        time: zxid,
    }
}

fn benches(c: &mut Criterion) {
    let acl = Acl::open_unsafe();
    c.bench_function("tree/create_delete_100B", |b| {
        let mut t = populated(10_000);
        let mut zxid = 1_000_000;
        b.iter(|| {
            zxid += 1;
            t.create("/bench/new", &node(&acl, zxid)).expect("create");
            t.delete("/bench/new", zxid).expect("delete");
        })
    });
    let t = populated(100_000);
    c.bench_function("tree/lookup_and_stat", |b| {
        let mut i = 0usize;
        b.iter(|| {
            i = (i + 7919) % 100_000;
            let n = t.get(&format!("/bench/n{i:08}")).expect("node");
            black_box(t.client_stat(n))
        })
    });
    c.bench_function("tree/set_data_100B", |b| {
        let mut t = populated(10_000);
        let mut zxid = 1_000_000;
        b.iter(|| {
            zxid += 1;
            t.set_data("/bench/n00000042", Some(&[b'y'; 100]), 1, zxid, zxid)
                .expect("set")
        })
    });
    let small = populated(1_000);
    c.bench_function("tree/children_of_1000", |b| {
        let n = small.get("/bench").expect("parent");
        b.iter(|| black_box(small.children(n)))
    });
}

criterion_group!(tree, benches);
criterion_main!(tree);
