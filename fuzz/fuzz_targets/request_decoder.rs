//! Fuzzes what the server does with a client frame: the connect handshake decoder, the
//! request header, and the per-opcode body decoder (including hand-framed multi), which
//! must never panic or allocate without bound, and must round-trip whatever it accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use menagerie_proto::jute::{Reader, Record};
use menagerie_proto::opcode::OpCode;
use menagerie_proto::records::{ConnectRequest, RequestHeader};
use menagerie_proto::request::{Request, encode_request};

fuzz_target!(|data: &[u8]| {
    let _ = ConnectRequest::read(&mut Reader::new(data));
    let mut r = Reader::new(data);
    let Ok(header) = RequestHeader::read(&mut r) else {
        return;
    };
    let Some(op) = OpCode::from_code(header.op) else {
        return;
    };
    if let Ok(Some(req)) = Request::decode(op, &mut r) {
        // Whatever decodes must encode and decode to the same request.
        let bytes = encode_request(header.xid, &req);
        let mut again = Reader::new(&bytes[8..]);
        let back = Request::decode(req.op(), &mut again).expect("re-decode");
        assert_eq!(back, Some(req));
    }
});
