//! Packed messages (`/ws?pack=1`): a client that splits messages into
//! frames gets what the relay had queued for it in one WebSocket message
//! (each frame says its length); every frame arrives intact and in order,
//! and a client that did not ask still gets one frame per message.

mod common;

use std::time::Duration;

use common::{key, start, Client, ROOM};
use futures_util::StreamExt;
use shared::codec::{frames, FrameRef};
use shared::wire::{FrameKind, MAX_FRAME_LEN};
use tokio_tungstenite::tungstenite::Message;

/// Joins the room as a newcomer (its history replayed), reads until the
/// roster; returns the game frames' payloads in order and how many
/// WebSocket messages carried them.
async fn replay(client: &mut Client, games: usize) -> (Vec<Vec<u8>>, usize) {
    client.join(ROOM, 0).await;
    let mut payloads = Vec::new();
    let mut messages = 0;
    let mut rostered = false;
    while !(rostered && payloads.len() >= games) {
        let next = tokio::time::timeout(Duration::from_secs(5), client.ws.next())
            .await
            .expect("frames within 5 s")
            .expect("open")
            .expect("no error");
        let Message::Binary(bytes) = next else {
            continue;
        };
        messages += 1;
        for frame in frames(&bytes) {
            let frame = FrameRef::parse(frame.expect("whole frames"), MAX_FRAME_LEN).unwrap();
            match frame.header.kind {
                FrameKind::Game => payloads.push(frame.payload.to_vec()),
                FrameKind::Roster => rostered = true,
                _ => {}
            }
        }
    }
    (payloads, messages)
}

#[tokio::test]
async fn queued_frames_come_packed_to_a_client_that_asked_and_alone_to_one_that_did_not() {
    let relay = start(&[]).await;
    let mut sender = Client::connect(&relay.ws(), key(1)).await;
    sender.join_and_roster(ROOM).await;
    const GAMES: usize = 120;
    for i in 0..GAMES as u32 {
        sender
            .send(FrameKind::Game, ROOM, None, &i.to_be_bytes())
            .await;
    }
    // A newcomer's replay is queued at once: packed for the one that asked.
    let mut packed = Client::connect(&format!("{}?pack=1", relay.ws()), key(2)).await;
    let (got, messages) = replay(&mut packed, GAMES).await;
    let expected: Vec<Vec<u8>> = (0..GAMES as u32)
        .map(|i| i.to_be_bytes().to_vec())
        .collect();
    assert_eq!(got, expected, "every frame, in order");
    assert!(
        messages < GAMES / 2,
        "{GAMES} frames and the roster in {messages} messages"
    );
    // One frame per message otherwise (the client parses each message as
    // one frame: two in one would fail it).
    let mut single = Client::connect(&relay.ws(), key(3)).await;
    single.join(ROOM, 0).await;
    let mut seen = 0;
    while seen < GAMES {
        if single.recv().await.expect("open").kind == FrameKind::Game {
            seen += 1;
        }
    }
    // Live traffic to the packed client stays whole too.
    for i in 1000..1010u32 {
        sender
            .send(FrameKind::Game, ROOM, None, &i.to_be_bytes())
            .await;
    }
    let mut live = Vec::new();
    while live.len() < 10 {
        let next = tokio::time::timeout(Duration::from_secs(5), packed.ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let Message::Binary(bytes) = next {
            for frame in frames(&bytes) {
                let frame = FrameRef::parse(frame.unwrap(), MAX_FRAME_LEN).unwrap();
                if frame.header.kind == FrameKind::Game {
                    live.push(u32::from_be_bytes(frame.payload.try_into().unwrap()));
                }
            }
        }
    }
    assert_eq!(live, (1000..1010).collect::<Vec<_>>());
    let metrics = relay.metrics().await;
    let counter = |name: &str| -> u64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
            .unwrap()
    };
    assert!(counter("bitcraps_ws_messages_out_total ") < counter("bitcraps_frames_out_total "));
    relay.stop().await;
}

#[test]
fn a_message_cut_inside_a_frame_is_reported_after_the_whole_ones() {
    let key = key(9);
    let one =
        shared::peer::handshake::signed_frame(&key, FrameKind::Game, ROOM, None, b"one").unwrap();
    let two =
        shared::peer::handshake::signed_frame(&key, FrameKind::Game, ROOM, None, b"two").unwrap();
    let mut message = [one.as_ref(), two.as_ref()].concat();
    let whole: Vec<_> = frames(&message).collect();
    assert_eq!(whole.len(), 2);
    assert!(whole.iter().all(Result::is_ok));
    message.truncate(one.len() + 10);
    let cut: Vec<_> = frames(&message).collect();
    assert_eq!(cut.len(), 2);
    assert_eq!(cut[0].as_deref().unwrap(), one.as_ref());
    assert!(cut[1].is_err());
    assert_eq!(frames(&[]).count(), 0);
    // A frame this build cannot read (an unknown kind) whose length can be
    // read: reported and skipped; the frame after it still comes.
    let mut unknown = one.to_vec();
    unknown[3] = 0x7f;
    let mixed = [unknown.as_slice(), two.as_ref()].concat();
    let got: Vec<_> = frames(&mixed).collect();
    assert_eq!(got.len(), 2);
    assert!(got[0].is_err());
    assert_eq!(got[1].as_deref().unwrap(), two.as_ref());
}
