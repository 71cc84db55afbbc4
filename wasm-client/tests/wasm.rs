//! Tests of the client's JavaScript-facing API, run in headless Chromium by
//! `wasm-bindgen-test` (see `scripts/test.sh`). Natively they compile to
//! nothing.
#![cfg(target_arch = "wasm32")]

use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn version_matches_the_crate() {
    assert_eq!(bitcraps_client::version(), env!("CARGO_PKG_VERSION"));
}

#[wasm_bindgen_test]
fn dice_from_seed_agree_with_the_engine() {
    let seed = [42u8; 32];
    let expected = shared::Roll::from_seed(&seed);
    let dice = bitcraps_client::roll_from_seed(&seed).expect("32-byte seed");
    assert_eq!(dice, vec![expected.die1(), expected.die2()]);
    assert!(dice.iter().all(|d| (1..=6).contains(d)));
}

#[wasm_bindgen_test]
fn the_protocol_version_comes_from_the_engine() {
    assert_eq!(
        bitcraps_client::protocol_version(),
        shared::PROTOCOL_VERSION
    );
}

#[wasm_bindgen_test]
fn a_seed_of_the_wrong_length_is_an_error() {
    assert!(bitcraps_client::roll_from_seed(&[1, 2, 3]).is_err());
}

/// What the page gets for a refusal: a JavaScript `Error` with its code.
fn thrown(refusal: bitcraps_client::Refusal) -> (String, String) {
    let value = wasm_bindgen::JsValue::from(refusal);
    assert!(
        wasm_bindgen::JsCast::is_instance_of::<js_sys::Error>(&value),
        "an Error"
    );
    let code = js_sys::Reflect::get(&value, &"code".into()).unwrap();
    let message = js_sys::Reflect::get(&value, &"message".into()).unwrap();
    (code.as_string().unwrap(), message.as_string().unwrap())
}

#[wasm_bindgen_test]
fn a_refusal_is_an_error_with_a_stable_code_and_a_message() {
    let (code, message) = thrown(bitcraps_client::roll_from_seed(&[1, 2, 3]).unwrap_err());
    assert_eq!(code, "bad-seed");
    assert!(message.contains("32 bytes"), "{message}");
    let mut client = bitcraps_client::Client::new(&[7; 32]).unwrap();
    let (code, _) = thrown(
        client
            .sit("00112233445566778899aabbccddeeff", 10.0, 0.0)
            .unwrap_err(),
    );
    assert_eq!(code, "not-at-table");
    let (code, _) = thrown(client.sit("not a table", 10.0, 0.0).unwrap_err());
    assert_eq!(code, "bad-table-id");
}

mod client_api {
    use bitcraps_client::Client;
    use bytes::BytesMut;
    use shared::codec::{control, encode_unsigned, FrameHeader, FrameRef};
    use shared::wire::{FrameKind, MAX_FRAME_LEN};
    use wasm_bindgen_test::*;

    const TABLE: &str = "00112233445566778899aabbccddeeff";
    const ROOM: [u8; 16] = [
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee,
        0xff,
    ];

    fn relay(kind: FrameKind, room: [u8; 16], payload: &[u8]) -> Vec<u8> {
        let header = FrameHeader::new(kind, room, [0; 32]);
        let mut out = BytesMut::new();
        encode_unsigned(&header, payload, &mut out).unwrap();
        out.to_vec()
    }

    fn challenge() -> Vec<u8> {
        let c = control::Challenge {
            nonce: [7; 32],
            epoch: 1,
        };
        relay(FrameKind::Challenge, [0; 16], &c.encode())
    }

    fn roster(client: &Client) -> Vec<u8> {
        let me: [u8; 32] = shared::SigningKey::from_bytes(&[1; 32])
            .verifying_key()
            .to_bytes();
        assert!(client.public_key().starts_with(&format!("{:02x}", me[0])));
        relay(FrameKind::Roster, ROOM, &control::encode_roster(&[me], 1))
    }

    /// Polled frames as (kind, destination).
    fn sent(client: &mut Client) -> Vec<(FrameKind, String)> {
        std::iter::from_fn(|| client.poll_transmit())
            .map(|t| {
                assert_eq!(t.table(), TABLE);
                let kind = FrameRef::parse(&t.frame(), MAX_FRAME_LEN)
                    .unwrap()
                    .header
                    .kind;
                (kind, t.to())
            })
            .collect()
    }

    fn kinds(client: &mut Client) -> Vec<FrameKind> {
        sent(client).into_iter().map(|(k, _)| k).collect()
    }

    #[wasm_bindgen_test]
    fn a_house_joins_once_challenged_and_announces_its_table_once_in() {
        let mut client = Client::new(&[1; 32]).unwrap();
        assert_eq!(client.public_key().len(), 64);
        client.join_table(TABLE, &[2; 32], &[10_000.0]).unwrap();
        // Both wait for the challenge; the table is announced once joined.
        assert!(kinds(&mut client).is_empty());
        client.handle_frame(&challenge(), 0.0).unwrap();
        assert_eq!(sent(&mut client), vec![(FrameKind::Join, "relay".into())]);
        let events = client.handle_frame(&roster(&client), 1.0).unwrap();
        assert!(events.contains(r#""type":"roster""#), "{events}");
        assert_eq!(sent(&mut client), vec![(FrameKind::Table, "relay".into())]);
        let state = client.table_state(TABLE).unwrap();
        assert!(state.contains("\"open\":true"), "{state}");
        assert!(state.contains("\"joined\":true"), "{state}");
        assert!(
            state.contains("\"waiting\":1"),
            "announced, not yet echoed: {state}"
        );
        assert!(state.contains("\"bankroll\":10000"), "{state}");
        assert!(
            state.contains("\"rolls\":0") && state.contains("\"recent\":[]"),
            "{state}"
        );
        assert_eq!(client.rolls(TABLE, 0.0, 10.0).unwrap(), "[]");
        assert!(client.rolls("not hex", 0.0, 10.0).is_err());
    }

    #[wasm_bindgen_test]
    fn actions_at_a_table_not_yet_open_are_refused_with_a_reason() {
        let mut client = Client::new(&[1; 32]).unwrap();
        client.join_table(TABLE, &[2; 32], &[]).unwrap();
        assert!(client.sit(TABLE, 100.0, 0.0).is_err());
        assert!(client.bet(TABLE, "no-such-bet", 5.0, 0.0).is_err());
        assert!(client.join_table("not hex", &[2; 32], &[]).is_err());
        // Table options that cannot be played: a negative bankroll, limits
        // the wrong way round, too many numbers.
        let other = "00112233445566778899aabbccddeeff";
        assert!(client.join_table(other, &[2; 32], &[-1.0]).is_err());
        assert!(client
            .join_table(other, &[2; 32], &[1_000.0, 0.0, 0.0, 50.0, 10.0])
            .is_err());
        assert!(client.join_table(other, &[2; 32], &[0.0; 6]).is_err());
        assert!(Client::new(&[1; 5]).is_err());
        assert!(client.handle_frame(&[1, 2, 3], 0.0).is_err());
    }

    #[wasm_bindgen_test]
    fn moves_made_while_away_go_to_peers_now_and_to_the_relay_after_the_join() {
        let mut client = Client::new(&[1; 32]).unwrap();
        client.join_table(TABLE, &[2; 32], &[10_000.0]).unwrap();
        client.handle_frame(&challenge(), 0.0).unwrap();
        client.handle_frame(&roster(&client), 1.0).unwrap();
        let _ = sent(&mut client);
        assert!(
            client.bet(TABLE, "field", 5.0, 2.0).is_err(),
            "the house does not bet"
        );
        // The connection drops and comes back.
        client.connection_opened();
        client.handle_frame(&challenge(), 3.0).unwrap();
        assert_eq!(sent(&mut client), vec![(FrameKind::Join, "relay".into())]);
        // The announcement was never echoed: sent again after the roster.
        client.handle_frame(&roster(&client), 4.0).unwrap();
        assert_eq!(sent(&mut client), vec![(FrameKind::Table, "relay".into())]);
        let catalog = bitcraps_client::bet_catalog();
        assert!(catalog.contains("\"bet\":\"place-6\""));
    }

    #[wasm_bindgen_test]
    fn an_unannounced_table_is_reported_and_joined_tables_are_kept_alive() {
        let mut client = Client::new(&[1; 32]).unwrap();
        client.join_table(TABLE, &[2; 32], &[]).unwrap();
        assert_eq!(
            client.next_timeout(),
            -1.0,
            "nothing is due before the relay is there"
        );
        client.handle_frame(&challenge(), 1_000.0).unwrap();
        assert_eq!(kinds(&mut client), vec![FrameKind::Join]);
        client.handle_frame(&roster(&client), 1_000.0).unwrap();
        let due = client.next_timeout();
        assert_eq!(due, 1_000.0 + shared::peer::TABLE_WAIT_MS as f64);
        let events = client.handle_timeout(due);
        assert!(events.contains(r#""type":"noTable""#), "{events}");
        let keepalive = client.next_timeout();
        assert_eq!(keepalive, 1_000.0 + bitcraps_client::KEEPALIVE_MS as f64);
        client.handle_timeout(keepalive - 1.0);
        assert!(kinds(&mut client).is_empty(), "not yet due");
        client.handle_timeout(keepalive);
        assert_eq!(kinds(&mut client), vec![FrameKind::Presence]);
        // A new connection: nothing is due until its challenge.
        client.connection_opened();
        assert_eq!(client.next_timeout(), -1.0);
    }

    #[wasm_bindgen_test]
    fn a_table_left_is_not_joined_again_and_events_are_camel_case() {
        use shared::codec::encode_signed;
        use shared::session::GameConfig;
        use shared::SigningKey;
        let banker = SigningKey::from_bytes(&[3; 32]);
        let config = GameConfig::new(ROOM, banker.verifying_key().to_bytes(), 10_000);
        let header = FrameHeader::new(FrameKind::Table, ROOM, banker.verifying_key().to_bytes());
        let mut table_frame = BytesMut::new();
        encode_signed(&header, &config.encode(), &banker, &mut table_frame).unwrap();

        let mut client = Client::new(&[1; 32]).unwrap();
        client.join_table(TABLE, &[2; 32], &[]).unwrap();
        client.handle_frame(&challenge(), 0.0).unwrap();
        client.handle_frame(&roster(&client), 0.0).unwrap();
        let opened = client.handle_frame(&table_frame, 1.0).unwrap();
        assert!(opened.contains(r#""type":"table""#), "{opened}");
        client.sit(TABLE, 100.0, 2.0).unwrap();
        // The seat shows at once (its `sat` event comes when a roll's cut
        // takes it in); the state's keys are camelCase too.
        let state = client.table_state(TABLE).unwrap();
        assert!(
            state.contains(r#""balance":100"#) && state.contains(r#""awaitingRoll":1"#),
            "{state}"
        );
        assert_eq!(sent(&mut client).last().unwrap().1, "everyone");
        client.leave(TABLE, 3.0).unwrap();
        let _ = kinds(&mut client);
        client.connection_opened();
        client.handle_frame(&challenge(), 4.0).unwrap();
        // Its sit and leave were never echoed: it joins once more to
        // deliver them, then tells the relay it left.
        assert_eq!(kinds(&mut client), vec![FrameKind::Join]);
        assert!(
            client.table_state(TABLE).is_ok(),
            "its state stays readable"
        );
    }
}

/// Run by hand (`scripts/wasm-cargo test -p bitcraps-wasm-client --profile
/// wasm-release --test wasm -- --include-ignored signature_cost`): what
/// signing and checking one game message cost in this browser, built as
/// the page is (BENCHMARKS.md, "Browser download size").
#[wasm_bindgen_test]
#[ignore]
fn signature_cost_in_the_browser() {
    use shared::message::{Action, Message};
    let key = shared::SigningKey::from_bytes(&[7; 32]);
    let message = Message {
        game: [1; 16],
        round: 1,
        seq: 1,
        action: Action::Reveal { secret: [3; 32] },
    };
    const N: u32 = 2000;
    let started = js_sys::Date::now();
    let mut signed = None;
    for _ in 0..N {
        signed = Some(message.clone().sign(&key));
    }
    let sign_us = (js_sys::Date::now() - started) * 1000.0 / f64::from(N);
    let signed = signed.unwrap();
    let started = js_sys::Date::now();
    for _ in 0..N {
        signed.verify().unwrap();
    }
    let verify_us = (js_sys::Date::now() - started) * 1000.0 / f64::from(N);
    console_log!("sign {sign_us:.1} µs, verify {verify_us:.1} µs ({N} each)");
}
