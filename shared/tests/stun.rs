//! The STUN codec against the RFC 5769 test vectors, round trips, every
//! error, and the retransmission schedule. Runs natively and in wasm.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use std::net::SocketAddr;

use shared::stun::message::{attr, Class, MessageBuilder, METHOD_BINDING};
use shared::stun::{
    binding_error, binding_request, binding_success, Retransmit, StunError, StunMessage,
    Transaction, TransactionError,
};

/// RFC 5769 section 2.1: sample request (SOFTWARE, PRIORITY,
/// ICE-CONTROLLED, USERNAME, MESSAGE-INTEGRITY, FINGERPRINT).
#[rustfmt::skip]
const REQUEST: &[u8] = &[
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42,
    0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
    0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73,
    0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74,
    0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
    0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36,
    0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76,
    0x59, 0x20, 0x20, 0x20,
    0x00, 0x08, 0x00, 0x14, 0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56,
    0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49, 0xc1, 0xb5, 0x71, 0xa2,
    0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
];

/// RFC 5769 section 2.2: sample IPv4 response.
#[rustfmt::skip]
const RESPONSE_V4: &[u8] = &[
    0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42,
    0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
    0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20,
    0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
    0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3,
    0x8c, 0x74, 0x89, 0xf9, 0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7,
    0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
];

/// RFC 5769 section 2.3: sample IPv6 response.
#[rustfmt::skip]
const RESPONSE_V6: &[u8] = &[
    0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42,
    0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
    0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20,
    0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47,
    0x01, 0x13, 0xa9, 0xfa, 0xa5, 0xd3, 0xf1, 0x79,
    0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9,
    0x00, 0x08, 0x00, 0x14, 0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1,
    0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75, 0xbf, 0xe3, 0xed, 0x41,
    0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c,
];

/// The short-term password of the three vectors.
const PASSWORD: &[u8] = b"VOkJxbRl1RmTxUk/WvJxBt";
const TID: [u8; 12] = [
    0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
];

#[test]
fn rfc5769_sample_request() {
    let msg = StunMessage::parse(REQUEST).unwrap();
    assert_eq!(msg.class, Class::Request);
    assert_eq!(msg.method, METHOD_BINDING);
    assert_eq!(msg.transaction_id, TID);
    assert_eq!(msg.software, Some("STUN test client"));
    assert!(msg.has_fingerprint);
    assert!(
        msg.unknown_required.is_empty(),
        "PRIORITY and USERNAME are known"
    );
    assert!(msg.verify_integrity(PASSWORD));
    assert!(!msg.verify_integrity(b"wrong password"));
}

#[test]
fn rfc5769_sample_ipv4_response() {
    let msg = StunMessage::parse(RESPONSE_V4).unwrap();
    assert_eq!(msg.class, Class::Success);
    assert_eq!(msg.software, Some("test vector"));
    assert_eq!(msg.mapped(), Some("192.0.2.1:32853".parse().unwrap()));
    assert!(msg.verify_integrity(PASSWORD));
}

#[test]
fn rfc5769_sample_ipv6_response() {
    let msg = StunMessage::parse(RESPONSE_V6).unwrap();
    assert_eq!(
        msg.xor_mapped_address,
        Some(
            "[2001:db8:1234:5678:11:2233:4455:6677]:32853"
                .parse()
                .unwrap()
        )
    );
    assert!(msg.verify_integrity(PASSWORD));
}

#[test]
fn a_corrupted_vector_fails_its_fingerprint() {
    for vector in [REQUEST, RESPONSE_V4, RESPONSE_V6] {
        let mut bytes = vector.to_vec();
        bytes[30] ^= 1; // inside SOFTWARE
        assert_eq!(StunMessage::parse(&bytes), Err(StunError::BadFingerprint));
    }
}

#[test]
fn built_messages_round_trip_for_both_families() {
    for addr in ["203.0.113.7:4242", "[2001:db8::7]:4242"] {
        let addr: SocketAddr = addr.parse().unwrap();
        let bytes = binding_success(TID, addr, "BitCraps relay");
        let msg = StunMessage::parse(&bytes).unwrap();
        assert_eq!(msg.class, Class::Success);
        assert_eq!(msg.xor_mapped_address, Some(addr));
        assert_eq!(msg.software, Some("BitCraps relay"));
        assert!(msg.has_fingerprint);
        let plain = MessageBuilder::new(Class::Success, METHOD_BINDING, TID)
            .mapped_address(addr)
            .build();
        assert_eq!(StunMessage::parse(&plain).unwrap().mapped(), Some(addr));
    }
    let request_bytes = binding_request(TID);
    let request = StunMessage::parse(&request_bytes).unwrap();
    assert_eq!(
        (request.class, request.method),
        (Class::Request, METHOD_BINDING)
    );
    let error_bytes = binding_error(TID, 420, "Unknown Attribute");
    let error = StunMessage::parse(&error_bytes).unwrap();
    assert_eq!(error.error, Some((420, "Unknown Attribute")));
}

#[test]
fn unknown_attributes_are_skipped_or_reported() {
    let bytes = MessageBuilder::new(Class::Success, METHOD_BINDING, TID)
        .raw_attribute(0xC001, b"optional thing")
        .raw_attribute(0x7777, b"required thing")
        .xor_mapped_address("10.0.0.1:1".parse().unwrap())
        .fingerprint();
    let msg = StunMessage::parse(&bytes).unwrap();
    assert_eq!(msg.unknown_required, vec![0x7777]);
    assert!(msg.mapped().is_some());
    // A response with an unknown required attribute is not used.
    let mut tx = Transaction::new(TID, Retransmit::default(), 0);
    tx.poll_transmit(0);
    assert!(matches!(
        tx.handle_response(5, &bytes).unwrap(),
        Some(Err(TransactionError::Unusable(_)))
    ));
}

#[test]
fn malformed_packets_give_typed_errors() {
    let good = binding_success(TID, "1.2.3.4:5".parse().unwrap(), "x");
    assert_eq!(StunMessage::parse(&good[..10]), Err(StunError::Truncated));
    assert_eq!(
        StunMessage::parse(&good[..good.len() - 4]),
        Err(StunError::Truncated)
    );
    let mut long = good.clone();
    long.extend_from_slice(&[0; 4]);
    assert!(matches!(
        StunMessage::parse(&long),
        Err(StunError::BadLength { .. })
    ));
    let mut not_stun = good.clone();
    not_stun[0] |= 0x80;
    assert_eq!(StunMessage::parse(&not_stun), Err(StunError::NotStun));
    let mut cookie = good.clone();
    cookie[4] ^= 1;
    assert_eq!(StunMessage::parse(&cookie), Err(StunError::BadCookie));
    // An attribute claiming more bytes than there are.
    let mut overrun = MessageBuilder::new(Class::Success, METHOD_BINDING, TID)
        .raw_attribute(0x8030, &[0; 4])
        .build();
    overrun[22..24].copy_from_slice(&200u16.to_be_bytes());
    assert_eq!(
        StunMessage::parse(&overrun),
        Err(StunError::AttributeOverrun(0x8030))
    );
    // A bad address family.
    let bad = MessageBuilder::new(Class::Success, METHOD_BINDING, TID)
        .raw_attribute(attr::XOR_MAPPED_ADDRESS, &[0, 9, 0, 1, 1, 2, 3, 4])
        .build();
    assert_eq!(
        StunMessage::parse(&bad),
        Err(StunError::BadAttribute(attr::XOR_MAPPED_ADDRESS))
    );
    // Attributes after FINGERPRINT.
    let mut after = binding_request(TID);
    after.extend_from_slice(&[0x80, 0x22, 0, 0]);
    let len = (after.len() - 20) as u16;
    after[2..4].copy_from_slice(&len.to_be_bytes());
    assert!(StunMessage::parse(&after).is_err());
    // Garbage never panics.
    let mut x: u32 = 77;
    for len in 0..200 {
        let mut junk: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        if junk.len() >= 8 {
            junk[0] &= 0x3F;
            junk[4..8].copy_from_slice(&0x2112_A442u32.to_be_bytes());
        }
        let _ = StunMessage::parse(&junk);
    }
}

#[test]
fn retransmissions_double_then_the_transaction_gives_up() {
    let policy = Retransmit {
        initial_rto: 100,
        max_transmissions: 4,
        last_wait: 8,
    };
    let mut tx = Transaction::new(TID, policy, 1_000);
    let mut sent_at = Vec::new();
    let mut now = 1_000;
    loop {
        if tx.poll_transmit(now).is_some() {
            sent_at.push(now);
        }
        if let Err(e) = tx.handle_timeout(now) {
            assert_eq!(e, TransactionError::TimedOut(4));
            break;
        }
        now = tx.poll_timeout().expect("pending");
    }
    // Sends at 0, RTO, 3 RTO, 7 RTO; gives up 8 RTO after the last.
    assert_eq!(sent_at, vec![1_000, 1_100, 1_300, 1_700]);
    assert_eq!(now, 1_700 + 800);
    assert!(tx.poll_timeout().is_none());
}

#[test]
fn an_answer_ends_the_transaction_with_its_round_trip() {
    let mut tx = Transaction::new(TID, Retransmit::default(), 50);
    tx.poll_transmit(50);
    let other = binding_success([9; 12], "1.1.1.1:1".parse().unwrap(), "x");
    assert_eq!(tx.handle_response(60, &other), Ok(None), "not ours");
    let ours = binding_success(TID, "198.51.100.2:999".parse().unwrap(), "srv");
    let answer = tx.handle_response(80, &ours).unwrap().unwrap().unwrap();
    assert_eq!(answer.mapped, "198.51.100.2:999".parse().unwrap());
    assert_eq!(answer.rtt, 30);
    assert_eq!(answer.software.as_deref(), Some("srv"));
    assert!(tx.poll_timeout().is_none());
    let error = binding_error(TID, 500, "Server Error");
    let mut tx = Transaction::new(TID, Retransmit::default(), 0);
    tx.poll_transmit(0);
    assert_eq!(
        tx.handle_response(1, &error).unwrap(),
        Some(Err(TransactionError::ErrorResponse {
            code: 500,
            reason: "Server Error".into()
        }))
    );
}
