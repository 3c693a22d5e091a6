//! Codec micro-benchmarks: decoding requests and encoding replies.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use menagerie_proto::jute::{Reader, Record};
use menagerie_proto::opcode::OpCode;
use menagerie_proto::records::{Acl, CreateRequest, ReplyHeader, SetDataRequest, Stat};
use menagerie_proto::request::{Request, encode_request};
use menagerie_proto::response::{Response, encode_reply};

fn benches(c: &mut Criterion) {
    let set = encode_request(
        7,
        &Request::SetData(SetDataRequest {
            path: "/bench/node-0000000042".into(),
            data: Some(vec![b'x'; 100]),
            version: -1,
        }),
    );
    c.bench_function("codec/decode_set_data_100B", |b| {
        b.iter(|| {
            let mut r = Reader::new(&set[8..]);
            black_box(Request::decode(OpCode::SetData, &mut r).expect("decode"))
        })
    });
    let create = encode_request(
        8,
        &Request::Create(CreateRequest {
            path: "/bench/node-".into(),
            data: Some(vec![b'x'; 1024]),
            acl: Acl::open_unsafe(),
            flags: 2,
        }),
    );
    c.bench_function("codec/decode_create_1KiB", |b| {
        b.iter(|| {
            let mut r = Reader::new(&create[8..]);
            black_box(Request::decode(OpCode::Create, &mut r).expect("decode"))
        })
    });
    let header = ReplyHeader {
        xid: 7,
        zxid: 99,
        err: 0,
    };
    let body = Response::GetData {
        data: Some(vec![b'x'; 100]),
        stat: Stat::default(),
    };
    let mut out = Vec::with_capacity(512);
    c.bench_function("codec/encode_get_data_reply_100B", |b| {
        b.iter(|| {
            out.clear();
            encode_reply(&mut out, &header, &body);
            black_box(out.len())
        })
    });
    let stat = Stat::default().to_bytes();
    c.bench_function("codec/decode_stat", |b| {
        b.iter(|| black_box(Stat::from_bytes(&stat).expect("stat")))
    });
}

criterion_group!(codec, benches);
criterion_main!(codec);
