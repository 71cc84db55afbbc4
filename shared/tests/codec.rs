//! The frame codec: round trips, zero-copy, and every error case. The same
//! tests run natively and, compiled to wasm, in headless Chromium.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use bytes::{Bytes, BytesMut};
use shared::codec::control::{self, ControlError, Join};
use shared::codec::frame::{FIXED_HEADER_LEN, SIGNATURE_LEN};
use shared::codec::{
    encode_signed, encode_unsigned, stamp, EncodeError, Frame, FrameError, FrameHeader, FrameRef,
};
use shared::wire::{FrameKind, Priority, MAX_FRAME_LEN};
use shared::SigningKey;

const ROOM: [u8; 16] = [3; 16];

fn key() -> SigningKey {
    SigningKey::from_bytes(&[9; 32])
}

fn me() -> [u8; 32] {
    key().verifying_key().to_bytes()
}

fn signed(kind: FrameKind, target: Option<[u8; 32]>, payload: &[u8]) -> Bytes {
    let mut header = FrameHeader::new(kind, ROOM, me());
    header.target = target;
    let mut out = BytesMut::new();
    encode_signed(&header, payload, &key(), &mut out).unwrap();
    out.freeze()
}

#[test]
fn signed_frames_round_trip_with_and_without_target() {
    let bet = signed(FrameKind::Game, None, b"a bet");
    let frame = FrameRef::parse(&bet, MAX_FRAME_LEN).unwrap();
    assert_eq!(frame.header.kind, FrameKind::Game);
    assert_eq!(frame.header.priority, Priority::Critical);
    assert_eq!(frame.header.room, ROOM);
    assert_eq!(frame.header.sender, me());
    assert_eq!(frame.header.target, None);
    assert_eq!(frame.payload, b"a bet");
    assert_eq!(bet.len(), FIXED_HEADER_LEN + 5 + SIGNATURE_LEN);
    frame.verify().unwrap();

    let offer = signed(FrameKind::Offer, Some([7; 32]), b"v=0 sdp");
    let frame = FrameRef::parse(&offer, MAX_FRAME_LEN).unwrap();
    assert_eq!(frame.header.target, Some([7; 32]));
    assert_eq!(frame.payload, b"v=0 sdp");
    frame.verify().unwrap();
}

#[test]
fn relay_frames_are_unsigned() {
    let header = FrameHeader::new(FrameKind::Roster, ROOM, [0; 32]);
    let mut out = BytesMut::new();
    encode_unsigned(
        &header,
        &control::encode_roster(&[[1; 32], [2; 32]], 7),
        &mut out,
    )
    .unwrap();
    let frame = FrameRef::parse(&out, MAX_FRAME_LEN).unwrap();
    assert_eq!(frame.signature, None);
    assert_eq!(
        control::decode_roster(frame.payload).unwrap(),
        vec![[1; 32], [2; 32]]
    );
    assert_eq!(frame.verify(), Err(FrameError::BadSignature));
}

#[test]
fn the_header_alone_routes_a_frame() {
    let offer = signed(FrameKind::Ice, Some([7; 32]), &[0u8; 500]);
    // Only the header bytes are needed.
    let (header, total) = FrameHeader::peek(&offer[..FIXED_HEADER_LEN + 32]).unwrap();
    assert_eq!(header.kind, FrameKind::Ice);
    assert_eq!(header.target, Some([7; 32]));
    assert_eq!(total, offer.len());
}

#[test]
fn decoding_shares_the_buffer_instead_of_copying() {
    let bytes = signed(FrameKind::Game, None, &[5u8; 300]);
    let frame = Frame::decode(bytes.clone()).unwrap();
    let payload = frame.payload();
    assert_eq!(payload.len(), 300);
    assert_eq!(payload.as_ptr(), bytes[FIXED_HEADER_LEN..].as_ptr());
    // Fan-out: every receiver's copy is the same allocation.
    let copies: Vec<Bytes> = (0..10).map(|_| frame.bytes().clone()).collect();
    assert!(copies.iter().all(|c| c.as_ptr() == bytes.as_ptr()));
    assert_eq!(frame.as_ref().payload, &payload[..]);
}

#[test]
fn the_relay_stamp_does_not_break_the_signature() {
    let mut bytes = signed(FrameKind::Game, None, b"m").to_vec();
    stamp(&mut bytes, 0xDEAD_BEEF, 1_764_000_000_123).unwrap();
    let frame = FrameRef::parse(&bytes, MAX_FRAME_LEN).unwrap();
    assert_eq!(frame.header.seq, 0xDEAD_BEEF);
    assert_eq!(frame.header.time, 1_764_000_000_123);
    frame.verify().unwrap();
    // The priority is outside the signature too.
    bytes[4] = Priority::Low as u8;
    FrameRef::parse(&bytes, MAX_FRAME_LEN)
        .unwrap()
        .verify()
        .unwrap();
    assert_eq!(stamp(&mut [0u8; 10], 1, 1), None);
}

#[test]
fn every_prefix_is_truncated_and_extra_bytes_mismatch() {
    let bytes = signed(FrameKind::Direct, Some([1; 32]), b"hello");
    for len in 0..bytes.len() {
        match FrameRef::parse(&bytes[..len], MAX_FRAME_LEN) {
            Err(FrameError::Truncated { have, .. }) => assert_eq!(have, len),
            other => panic!("prefix {len}: {other:?}"),
        }
    }
    let mut long = bytes.to_vec();
    long.push(0);
    assert_eq!(
        FrameRef::parse(&long, MAX_FRAME_LEN),
        Err(FrameError::LengthMismatch {
            declared: bytes.len(),
            actual: bytes.len() + 1
        })
    );
}

#[test]
fn bad_header_bytes_give_their_own_errors() {
    let good = signed(FrameKind::Game, None, b"x").to_vec();
    let with = |at: usize, value: u8| {
        let mut b = good.clone();
        b[at] = value;
        FrameRef::parse(&b, MAX_FRAME_LEN).map(|_| ())
    };
    assert_eq!(with(0, b'X'), Err(FrameError::BadMagic));
    assert_eq!(with(2, 7), Err(FrameError::UnknownVersion(7)));
    assert_eq!(with(3, 0x99), Err(FrameError::UnknownKind(0x99)));
    assert_eq!(with(4, 3), Err(FrameError::UnknownPriority(3)));
    // Undefined flag bit; a target on a room frame; unsigned client frame.
    assert_eq!(with(5, 0b110), Err(FrameError::BadFlags { flags: 0b110 }));
    assert_eq!(with(5, 0b11), Err(FrameError::BadFlags { flags: 0b11 }));
    assert_eq!(with(5, 0b00), Err(FrameError::BadFlags { flags: 0 }));
    // A relay kind claiming to be signed.
    assert_eq!(
        with(3, FrameKind::Roster as u8),
        Err(FrameError::BadFlags { flags: 0b10 })
    );
    // A signaling kind without its target.
    assert_eq!(
        with(3, FrameKind::Offer as u8),
        Err(FrameError::BadFlags { flags: 0b10 })
    );
    assert_eq!(FrameRef::parse(b"XY", 100), Err(FrameError::BadMagic));
}

#[test]
fn oversized_frames_are_refused_before_reading_them() {
    // A header declaring a 4 GiB payload: refused from the header alone.
    let mut bytes = signed(FrameKind::Game, None, b"x").to_vec();
    bytes[70..74].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(matches!(
        FrameRef::parse(&bytes, MAX_FRAME_LEN),
        Err(FrameError::TooLarge {
            max: MAX_FRAME_LEN,
            ..
        })
    ));
    // A real frame over a smaller limit.
    let big = signed(FrameKind::Presence, None, &[0u8; 2_000]);
    assert!(matches!(
        FrameRef::parse(&big, 1_000),
        Err(FrameError::TooLarge { max: 1_000, .. })
    ));
    // Encoding refuses to build one over the cap.
    let header = FrameHeader::new(FrameKind::Presence, ROOM, me());
    let mut out = BytesMut::new();
    assert!(matches!(
        encode_signed(&header, &vec![0u8; MAX_FRAME_LEN], &key(), &mut out),
        Err(EncodeError::TooLarge { .. })
    ));
    assert!(out.is_empty());
}

#[test]
fn headers_that_do_not_suit_the_kind_are_not_encoded() {
    let mut out = BytesMut::new();
    let untargeted_offer = FrameHeader::new(FrameKind::Offer, ROOM, me());
    assert_eq!(
        encode_signed(&untargeted_offer, b"", &key(), &mut out),
        Err(EncodeError::BadHeader(FrameKind::Offer))
    );
    let client_kind = FrameHeader::new(FrameKind::Game, ROOM, me());
    assert_eq!(
        encode_unsigned(&client_kind, b"", &mut out),
        Err(EncodeError::BadHeader(FrameKind::Game))
    );
}

#[test]
fn forged_payloads_and_bad_keys_fail_verification() {
    let mut bytes = signed(FrameKind::Game, None, b"bet 10").to_vec();
    bytes[FIXED_HEADER_LEN + 4] = b'9';
    let frame = FrameRef::parse(&bytes, MAX_FRAME_LEN).unwrap();
    assert_eq!(frame.verify(), Err(FrameError::BadSignature));
    // A target changed by the relay is caught: it is signed.
    let mut offer = signed(FrameKind::Offer, Some([7; 32]), b"sdp").to_vec();
    offer[FIXED_HEADER_LEN] ^= 1;
    assert_eq!(
        FrameRef::parse(&offer, MAX_FRAME_LEN).unwrap().verify(),
        Err(FrameError::BadSignature)
    );
    // A sender that is not a curve point.
    let mut bad_key = signed(FrameKind::Game, None, b"x").to_vec();
    bad_key[22..54].copy_from_slice(&[0xFF; 32]);
    let result = FrameRef::parse(&bad_key, MAX_FRAME_LEN).unwrap().verify();
    assert!(matches!(
        result,
        Err(FrameError::BadKey | FrameError::BadSignature)
    ));
}

#[test]
fn random_garbage_never_panics() {
    let mut x: u64 = 0x1234_5678;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let template = signed(FrameKind::Offer, Some([2; 32]), b"some sdp text").to_vec();
    for _ in 0..20_000 {
        let mut b = template.clone();
        let flips = 1 + next() % 4;
        for _ in 0..flips {
            let at = (next() % b.len() as u64) as usize;
            b[at] = next() as u8;
        }
        let cut = (next() % (b.len() as u64 + 1)) as usize;
        if let Ok(frame) = FrameRef::parse(&b[..cut], MAX_FRAME_LEN) {
            let _ = frame.verify();
        }
        let _ = FrameHeader::peek(&b[..cut]);
    }
}

#[test]
fn control_payloads_round_trip_and_reject_bad_lengths() {
    for echo in [false, true] {
        let join = Join {
            nonce: [4; 32],
            resume_from: 77,
            echo,
        };
        assert_eq!(Join::decode(&join.encode()), Ok(join));
    }
    assert_eq!(
        Join::decode(&[0; 40]),
        Err(ControlError::UnexpectedEnd(shared::decode::UnexpectedEnd))
    );
    assert_eq!(
        Join::decode(&[0; 42]),
        Err(ControlError::TrailingBytes(shared::decode::TrailingBytes(
            1
        )))
    );
    let mut flagged = [0u8; 41];
    flagged[40] = 0b10;
    assert_eq!(Join::decode(&flagged), Err(ControlError::BadFlags(0b10)));
    let challenge = control::Challenge {
        nonce: [9; 32],
        epoch: u64::MAX - 3,
    };
    assert_eq!(
        control::Challenge::decode(&challenge.encode()),
        Ok(challenge)
    );
    assert!(control::Challenge::decode(&[9; 32]).is_err());
    assert_eq!(control::decode_id(&[5; 32]), Ok([5; 32]));
    assert!(control::decode_id(&[5; 31]).is_err());
    assert_eq!(
        control::decode_roster(&control::encode_roster(&[], 3)),
        Ok(vec![])
    );
    assert!(control::decode_roster(&[0, 2, 1]).is_err());
    let roster = control::encode_roster(&[[1; 32], [2; 32]], 9);
    assert_eq!(
        control::decode_roster_with_incarnation(&roster),
        Ok((vec![[1; 32], [2; 32]], 9))
    );
    for cut in 0..roster.len() {
        assert!(control::decode_roster(&roster[..cut]).is_err(), "{cut}");
    }
    let mut longer = roster.clone();
    longer.push(0);
    assert!(control::decode_roster(&longer).is_err());
    // A count the payload cannot hold reserves nothing.
    assert!(control::decode_roster(&[0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
    assert!(control::decode_roster(&[]).is_err());
    let error = control::encode_error(4008, "slow consumer").unwrap();
    assert_eq!(control::decode_error(&error), Ok((4008, "slow consumer")));
    assert_eq!(
        control::encode_error(1, &"x".repeat(124)),
        Err(ControlError::ReasonTooLong)
    );
    assert_eq!(
        control::decode_error(&[0, 1, 0xFF]),
        Err(ControlError::NotUtf8)
    );
    assert_eq!(control::decode_text(b"candidate:1"), Ok("candidate:1"));
    assert_eq!(control::decode_text(&[0xC3]), Err(ControlError::NotUtf8));
}
