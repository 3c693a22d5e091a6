//! Fuzzes what a server decodes from its peers (issue 16): the election connection's
//! initial header and notifications, quorum packets and their payloads (learner info,
//! forwarded requests, session touches and revalidations), and the SNAP stream of a
//! leader. None of it may panic or allocate more than the input justifies; a quorum packet
//! that decodes must survive an encode/decode round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use menagerie_proto::quorum::packet::{
    parse_int, parse_revalidate, parse_revalidate_reply, parse_touches,
};
use menagerie_proto::quorum::snap::SnapDecoder;
use menagerie_proto::quorum::{
    ForwardedRequest, InitialMessage, LearnerInfo, Notification, QuorumPacket,
};

fuzz_target!(|data: &[u8]| {
    let _ = InitialMessage::parse(data);
    let _ = Notification::parse(data);
    let _ = LearnerInfo::parse(data);
    let _ = ForwardedRequest::parse(data);
    let _ = parse_touches(data);
    let _ = parse_revalidate(data);
    let _ = parse_revalidate_reply(data);
    let _ = parse_int(data);
    if let Ok(Some((packet, used))) = QuorumPacket::decode_prefix(data) {
        assert!(used <= data.len());
        let bytes = packet.to_bytes();
        let again = QuorumPacket::decode_prefix(&bytes).expect("re-decode");
        assert_eq!(again, Some((packet, bytes.len())));
    }
    // A SNAP stream, fed as it arrives; bounded by the input, since each item uses bytes.
    let mut snap = SnapDecoder::new();
    let mut at = 0;
    while at < data.len() && !snap.is_done() {
        match snap.next(&data[at..]) {
            Ok(Some((_, used))) if used > 0 => at += used,
            _ => break,
        }
    }
});
