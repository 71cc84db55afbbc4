//! Unit tests of `message`.

use super::*;

fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

fn sample(action: Action) -> SignedMessage {
    Message {
        game: [9; 16],
        round: 3,
        seq: 7,
        action,
    }
    .sign(&key(1))
}

fn every_action() -> Vec<Action> {
    vec![
        Action::Sit { buy_in: 500 },
        Action::BuyIn { amount: 5 },
        Action::Bet {
            kind: BetKind::Hop(2, 5),
            stake: 10,
        },
        Action::Bet {
            kind: BetKind::Come { point: None },
            stake: 1,
        },
        Action::TakeDown {
            kind: BetKind::ComeOdds { point: 6 },
        },
        Action::Leave,
        Action::Working {
            kind: BetKind::Buy(10),
            working: true,
        },
        Action::Working {
            kind: BetKind::Place(6),
            working: false,
        },
        Action::Commit {
            commitment: [4; 32],
            table_hash: [5; 32],
            close: None,
        },
        Action::Commit {
            commitment: [4; 32],
            table_hash: [5; 32],
            close: Cut::new(vec![([9; 32], 7), ([2; 32], 1)]),
        },
        Action::Reveal { secret: [6; 32] },
        Action::Roll,
        Action::PassDice,
        Action::Tick,
        Action::Settled {
            round: 7,
            state_hash: [8; 32],
        },
        Action::Name {
            name: "Zoë ⚅".into(),
        },
    ]
}

#[test]
fn every_action_round_trips_through_a_frame_and_verifies() {
    for action in every_action() {
        let signed = sample(action);
        let frame = signed.to_frame();
        let back = SignedMessage::from_frame_bytes(&frame).unwrap();
        assert_eq!(back, signed);
        back.verify().unwrap();
        // Sign once: the frame's own signature check agrees.
        FrameRef::parse(&frame, 1024).unwrap().verify().unwrap();
    }
}

#[test]
fn a_name_that_is_empty_too_long_or_not_text_is_refused() {
    let bytes = |name: &str| {
        let mut out = Vec::new();
        Message {
            game: [1; 16],
            round: 1,
            seq: 1,
            action: Action::Name { name: name.into() },
        }
        .encode(&mut out);
        out
    };
    for name in ["", "   ", "a\u{7}b", &"x".repeat(MAX_NAME + 1)] {
        assert_eq!(
            Message::decode(&bytes(name)),
            Err(MessageError::BadName),
            "{name:?}"
        );
    }
    let mut not_text = bytes("ab");
    let at = not_text.len() - 2;
    not_text[at] = 0xff;
    assert_eq!(Message::decode(&not_text), Err(MessageError::BadName));
    assert!(is_valid_name(&"é".repeat(12)), "24 bytes of text");
    assert!(Message::decode(&bytes("Zoë")).is_ok());
}

#[test]
fn every_game_frame_travels_as_critical() {
    for action in every_action() {
        assert_eq!(sample(action).priority(), Priority::Critical);
    }
}

#[test]
fn a_changed_byte_breaks_the_signature() {
    let signed = sample(Action::Bet {
        kind: BetKind::Field,
        stake: 10,
    });
    let mut bytes = signed.to_frame().to_vec();
    // The payload starts after the 66-byte header.
    let last_stake_byte = crate::codec::frame::FIXED_HEADER_LEN + 1 + 16 + 8 + 8 + 1 + 3 + 7;
    bytes[last_stake_byte] ^= 1;
    let forged = SignedMessage::from_frame_bytes(&bytes).unwrap();
    assert_eq!(forged.verify(), Err(MessageError::BadSignature));
    let mut other = signed.clone();
    other.sender = key(2).verifying_key().to_bytes();
    assert_eq!(other.verify(), Err(MessageError::BadSignature));
    // A cached key must be the sender's own.
    assert_eq!(
        signed.verify_with(&key(2).verifying_key()),
        Err(MessageError::BadKey)
    );
    assert_eq!(signed.verify_with(&key(1).verifying_key()), Ok(()));
    // The relay's stamp (sequence number, time) is outside the signature.
    let mut stamped = signed.to_frame().to_vec();
    crate::codec::stamp(&mut stamped, 99, 1_700_000_000_000).unwrap();
    let frame = FrameRef::parse(&stamped, 1024).unwrap();
    assert_eq!(frame.header.seq, 99);
    assert_eq!(frame.header.time, 1_700_000_000_000);
    SignedMessage::from_frame(&frame).unwrap().verify().unwrap();
}

#[test]
fn malformed_messages_give_typed_errors_never_panics() {
    let mut good = Vec::new();
    let m = sample(Action::Reveal { secret: [1; 32] }).message;
    m.encode(&mut good);
    for len in 0..good.len() {
        assert!(Message::decode(&good[..len]).is_err(), "prefix {len}");
    }
    let mut version = good.clone();
    version[0] = 9;
    assert_eq!(
        Message::decode(&version),
        Err(MessageError::UnknownVersion(9))
    );
    let mut action = good.clone();
    action[33] = 99;
    assert_eq!(
        Message::decode(&action),
        Err(MessageError::UnknownAction(99))
    );
    let mut bad_kind = Vec::new();
    Message {
        action: Action::TakeDown {
            kind: BetKind::Place(6),
        },
        ..m
    }
    .encode(&mut bad_kind);
    bad_kind[35] = 7; // place-7
    assert_eq!(Message::decode(&bad_kind), Err(MessageError::BadBetKind(9)));
    // A frame of another kind, or whose room is not the game.
    let mut out = BytesMut::new();
    let header = FrameHeader::new(FrameKind::Presence, m.game, [0; 32]);
    crate::codec::encode_signed(&header, &good, &key(1), &mut out).unwrap();
    assert_eq!(
        SignedMessage::from_frame_bytes(&out),
        Err(MessageError::NotAGameFrame)
    );
    let mut out = BytesMut::new();
    let header = FrameHeader::new(FrameKind::Game, [1; 16], [0; 32]);
    crate::codec::encode_signed(&header, &good, &key(1), &mut out).unwrap();
    assert_eq!(
        SignedMessage::from_frame_bytes(&out),
        Err(MessageError::RoomMismatch)
    );
    // Arbitrary garbage of every small length.
    let mut x: u32 = 12345;
    for len in 0..300 {
        let junk: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        let _ = Message::decode(&junk);
        let _ = SignedMessage::from_frame_bytes(&junk);
    }
}
