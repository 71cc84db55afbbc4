//! The relay over real WebSockets (tokio-tungstenite clients on loopback).

mod common;

use bytes::BytesMut;
use std::time::Duration;

use common::{key, start, Client, ROOM};
use shared::codec::control;
use shared::wire::{close, error, FrameKind};

const OTHER_ROOM: [u8; 16] = [0x55; 16];

#[tokio::test]
async fn join_roster_and_leave_are_announced() {
    let relay = start(&[]).await;
    let mut a = Client::connect(&relay.ws(), key(1)).await;
    assert_eq!(a.join_and_roster(ROOM).await, vec![a.id()]);
    let mut b = Client::connect(&relay.ws(), key(2)).await;
    let mut expected = vec![a.id(), b.id()];
    expected.sort();
    assert_eq!(b.join_and_roster(ROOM).await, expected);
    let joined = a.recv_kind(FrameKind::PeerJoined).await;
    assert_eq!(control::decode_id(&joined.payload).unwrap(), b.id());
    assert_eq!(joined.seq, 0, "presence is not part of the room's order");
    b.send(FrameKind::Leave, ROOM, None, &[]).await;
    let left = a.recv_kind(FrameKind::PeerLeft).await;
    assert_eq!(control::decode_id(&left.payload).unwrap(), b.id());
    assert_eq!(left.seq, 0);
    relay.stop().await;
}

#[tokio::test]
async fn room_frames_reach_every_other_member_in_one_order() {
    let relay = start(&[]).await;
    let mut a = Client::connect(&relay.ws(), key(1)).await;
    let mut b = Client::connect(&relay.ws(), key(2)).await;
    let mut c = Client::connect(&relay.ws(), key(3)).await;
    for client in [&mut a, &mut b, &mut c] {
        client.join_and_roster(ROOM).await;
    }
    for i in 0..50u8 {
        a.send(FrameKind::Game, ROOM, None, &[b'a', i]).await;
        b.send(FrameKind::Game, ROOM, None, &[b'b', i]).await;
    }
    let mut seen_by_c = Vec::new();
    while seen_by_c.len() < 100 {
        let got = c.recv().await.unwrap();
        if got.kind == FrameKind::Game {
            seen_by_c.push((got.seq, got.payload.clone()));
        }
    }
    assert!(
        seen_by_c.windows(2).all(|w| w[0].0 < w[1].0),
        "increasing sequence"
    );
    // Each sender's frames arrive in the order sent.
    for tag in [b'a', b'b'] {
        let mine: Vec<u8> = seen_by_c
            .iter()
            .filter(|(_, p)| p[0] == tag)
            .map(|(_, p)| p[1])
            .collect();
        assert_eq!(mine, (0..50).collect::<Vec<_>>());
    }
    // A sees B's frames with the same sequence numbers C saw, and none of its own.
    let mut seen_by_a = Vec::new();
    while seen_by_a.len() < 50 {
        let got = a.recv().await.unwrap();
        if got.kind == FrameKind::Game {
            assert_eq!(got.payload[0], b'b');
            seen_by_a.push((got.seq, got.payload.clone()));
        }
    }
    let b_in_c: Vec<_> = seen_by_c
        .into_iter()
        .filter(|(_, p)| p[0] == b'b')
        .collect();
    assert_eq!(seen_by_a, b_in_c);
    relay.stop().await;
}

#[tokio::test]
async fn signaling_goes_to_its_target_only() {
    let relay = start(&[]).await;
    let mut a = Client::connect(&relay.ws(), key(1)).await;
    let mut b = Client::connect(&relay.ws(), key(2)).await;
    let mut c = Client::connect(&relay.ws(), key(3)).await;
    for client in [&mut a, &mut b, &mut c] {
        client.join_and_roster(ROOM).await;
    }
    let b_id = b.id();
    a.send(FrameKind::Offer, ROOM, Some(b_id), b"v=0 offer")
        .await;
    a.send(FrameKind::Game, ROOM, None, b"marker").await;
    let offer = b.recv_kind(FrameKind::Offer).await;
    assert_eq!(offer.payload, b"v=0 offer");
    assert_eq!(offer.sender, a.id());
    // C's next frame after the joins is the marker: the offer skipped it.
    loop {
        let got = c.recv().await.unwrap();
        assert_ne!(got.kind, FrameKind::Offer);
        if got.kind == FrameKind::Game {
            assert_eq!(got.payload, b"marker");
            break;
        }
    }
    // A target outside the room gets an error frame, not a disconnect.
    a.send(FrameKind::Ice, ROOM, Some([9; 32]), b"candidate")
        .await;
    let err = a.recv_kind(FrameKind::Error).await;
    assert_eq!(
        control::decode_error(&err.payload).unwrap().0,
        error::UNKNOWN_TARGET
    );
    relay.stop().await;
}

#[tokio::test]
async fn nobody_joins_as_someone_else() {
    let relay = start(&[]).await;
    // A join signed by another key than the one it names.
    let mut mallory = Client::connect(&relay.ws(), key(6)).await;
    let victim = key(1).verifying_key().to_bytes();
    let join = control::Join {
        nonce: mallory.nonce,
        resume_from: 0,
        echo: false,
    };
    let mut forged = mallory
        .frame(FrameKind::Join, ROOM, None, &join.encode())
        .to_vec();
    forged[22..54].copy_from_slice(&victim);
    mallory.send_raw(forged.into()).await;
    assert_eq!(mallory.close_code().await, Some(close::BAD_JOIN));
    // A genuine join replayed on another connection (wrong nonce).
    let mut alice = Client::connect(&relay.ws(), key(1)).await;
    let replayed = alice.frame(FrameKind::Join, ROOM, None, &join.encode());
    alice.send_raw(replayed).await;
    assert_eq!(alice.close_code().await, Some(close::BAD_JOIN));
    // Frames from a key the connection never proved.
    let mut eve = Client::connect(&relay.ws(), key(7)).await;
    eve.join_and_roster(ROOM).await;
    let mut other = eve.frame(FrameKind::Game, ROOM, None, b"x").to_vec();
    other[22..54].copy_from_slice(&victim);
    eve.send_raw(other.into()).await;
    assert_eq!(eve.close_code().await, Some(close::BAD_FRAME));
    relay.stop().await;
}

#[tokio::test]
async fn a_reconnecting_client_resumes_without_a_gap() {
    let relay = start(&[]).await;
    let mut a = Client::connect(&relay.ws(), key(1)).await;
    a.join_and_roster(ROOM).await;
    let mut b = Client::connect(&relay.ws(), key(2)).await;
    b.join_and_roster(ROOM).await;
    a.send(FrameKind::Game, ROOM, None, b"before").await;
    let last = b.recv_kind(FrameKind::Game).await.seq;
    drop(b);
    // While B is away: A sends five frames (and B's departure is stamped).
    for i in 0..5u8 {
        a.send(FrameKind::Game, ROOM, None, &[i]).await;
    }
    a.recv_kind(FrameKind::PeerLeft).await;
    let mut b = Client::connect(&relay.ws(), key(2)).await;
    b.join(ROOM, last).await;
    let mut replayed = Vec::new();
    loop {
        let got = b.recv().await.unwrap();
        if got.kind == FrameKind::Roster {
            break;
        }
        replayed.push(got);
    }
    let seqs: Vec<u64> = replayed.iter().map(|g| g.seq).collect();
    assert_eq!(
        seqs,
        (last + 1..last + 1 + seqs.len() as u64).collect::<Vec<_>>(),
        "no gap"
    );
    let games: Vec<Vec<u8>> = replayed
        .iter()
        .filter(|g| g.kind == FrameKind::Game)
        .map(|g| g.payload.clone())
        .collect();
    assert_eq!(games, (0..5u8).map(|i| vec![i]).collect::<Vec<_>>());
    relay.stop().await;
}

#[tokio::test]
async fn a_resume_beyond_the_window_is_told_plainly() {
    let relay = start(&["--replay-frames", "3"]).await;
    let mut a = Client::connect(&relay.ws(), key(1)).await;
    a.join_and_roster(ROOM).await;
    let mut b = Client::connect(&relay.ws(), key(2)).await;
    b.join_and_roster(ROOM).await;
    for i in 0..10u8 {
        a.send(FrameKind::Game, ROOM, None, &[i]).await;
    }
    for _ in 0..10 {
        b.recv_kind(FrameKind::Game).await;
    }
    drop(b);
    // Back, asking for everything after sequence 1: long gone.
    let mut b = Client::connect(&relay.ws(), key(2)).await;
    b.join(ROOM, 1).await;
    let err = b.recv_kind(FrameKind::Error).await;
    let (code, reason) = control::decode_error(&err.payload).unwrap();
    assert_eq!(code, error::RESUME_GAP);
    assert!(reason.contains("resynchronise"), "{reason}");
    relay.stop().await;
}

#[tokio::test]
async fn bad_input_closes_only_its_own_connection() {
    let relay = start(&[
        "--max-frame-bytes",
        "1024",
        "--rate-per-sec",
        "20",
        "--rate-burst",
        "20",
    ])
    .await;
    let mut bystander = Client::connect(&relay.ws(), key(9)).await;
    bystander.join_and_roster(OTHER_ROOM).await;
    let mut peer = Client::connect(&relay.ws(), key(8)).await;
    peer.join_and_roster(OTHER_ROOM).await;

    let mut big = Client::connect(&relay.ws(), key(1)).await;
    big.join_and_roster(ROOM).await;
    big.send(FrameKind::Game, ROOM, None, &[0u8; 1100]).await;
    assert_eq!(big.close_code().await, Some(close::TOO_BIG));

    let mut junk = Client::connect(&relay.ws(), key(2)).await;
    junk.send_raw(bytes::Bytes::from_static(b"BCnot a frame at all"))
        .await;
    assert_eq!(junk.close_code().await, Some(close::BAD_FRAME));

    let mut text = Client::connect(&relay.ws(), key(3)).await;
    futures_util::SinkExt::send(
        &mut text.ws,
        tokio_tungstenite::tungstenite::Message::text("hi"),
    )
    .await
    .unwrap();
    assert_eq!(text.close_code().await, Some(close::BAD_FRAME));

    let mut flood = Client::connect(&relay.ws(), key(4)).await;
    flood.join_and_roster(ROOM).await;
    for _ in 0..100 {
        let frame = flood.frame(FrameKind::Game, ROOM, None, b"spam");
        if futures_util::SinkExt::send(
            &mut flood.ws,
            tokio_tungstenite::tungstenite::Message::Binary(frame),
        )
        .await
        .is_err()
        {
            break;
        }
    }
    assert_eq!(flood.close_code().await, Some(close::RATE_LIMITED));

    // The other room never noticed.
    peer.send(FrameKind::Game, OTHER_ROOM, None, b"still here")
        .await;
    let got = bystander.recv_kind(FrameKind::Game).await;
    assert_eq!(got.payload, b"still here");
    let metrics = relay.relay.metrics();
    for reason in ["too_big", "bad_frame", "rate_limited"] {
        assert!(
            metrics.rejections.with_label_values(&[reason]).get() >= 1,
            "{reason}"
        );
    }
    relay.stop().await;
}

#[tokio::test]
async fn origins_outside_the_allow_list_are_refused() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let relay = start(&["--allowed-origins", "http://good.example"]).await;
    let mut request = relay.ws().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("Origin", "http://evil.example".parse().unwrap());
    let refused = tokio_tungstenite::connect_async(request).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403)
        }
        other => panic!("expected 403, got {other:?}"),
    }
    let mut request = relay.ws().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("Origin", "http://good.example".parse().unwrap());
    assert!(tokio_tungstenite::connect_async(request).await.is_ok());
    assert_eq!(relay.rejections("origin"), 1);
    relay.stop().await;
}

#[tokio::test]
async fn too_many_rooms_or_peers_get_error_frames() {
    let relay = start(&[
        "--max-rooms-per-connection",
        "1",
        "--max-peers-per-room",
        "1",
    ])
    .await;
    let mut a = Client::connect(&relay.ws(), key(1)).await;
    a.join_and_roster(ROOM).await;
    a.join(OTHER_ROOM, 0).await;
    let err = a.recv_kind(FrameKind::Error).await;
    assert_eq!(
        control::decode_error(&err.payload).unwrap().0,
        error::TOO_MANY_ROOMS
    );
    let mut b = Client::connect(&relay.ws(), key(2)).await;
    b.join(ROOM, 0).await;
    let err = b.recv_kind(FrameKind::Error).await;
    assert_eq!(
        control::decode_error(&err.payload).unwrap().0,
        error::ROOM_FULL
    );
    // Frames for a room one has not joined are refused too.
    b.send(FrameKind::Game, ROOM, None, b"x").await;
    let err = b.recv_kind(FrameKind::Error).await;
    assert_eq!(
        control::decode_error(&err.payload).unwrap().0,
        error::NOT_IN_ROOM
    );
    relay.stop().await;
}

#[tokio::test]
async fn shutdown_closes_every_client_with_going_away() {
    let relay = start(&[]).await;
    let mut a = Client::connect(&relay.ws(), key(1)).await;
    a.join_and_roster(ROOM).await;
    relay.trigger.trigger();
    assert_eq!(a.close_code().await, Some(close::GOING_AWAY));
    tokio::time::timeout(Duration::from_secs(10), relay.task)
        .await
        .expect("relay ends after its clients")
        .unwrap();
}

#[tokio::test]
async fn a_replaced_connection_speaks_for_nobody() {
    let relay = start(&[]).await;
    let mut old = Client::connect(&relay.ws(), key(1)).await;
    old.join_and_roster(ROOM).await;
    let mut other = Client::connect(&relay.ws(), key(2)).await;
    other.join_and_roster(ROOM).await;
    // The same key joins from a new connection (a second tab, a reload).
    let mut new = Client::connect(&relay.ws(), key(1)).await;
    new.join_and_roster(ROOM).await;
    let replaced = old.recv_kind(FrameKind::Error).await;
    assert_eq!(
        control::decode_error(&replaced.payload).unwrap().0,
        error::REPLACED
    );
    // The old connection's frames go nowhere, and it is told.
    old.send(FrameKind::Game, ROOM, None, b"from the old tab")
        .await;
    let refused = old.recv_kind(FrameKind::Error).await;
    assert_eq!(
        control::decode_error(&refused.payload).unwrap().0,
        error::NOT_IN_ROOM
    );
    new.send(FrameKind::Game, ROOM, None, b"from the new tab")
        .await;
    assert_eq!(
        other.recv_kind(FrameKind::Game).await.payload,
        b"from the new tab"
    );
    // It may take the seat back by joining again.
    old.join(ROOM, 0).await;
    old.recv_kind(FrameKind::Roster).await;
    let replaced = new.recv_kind(FrameKind::Error).await;
    assert_eq!(
        control::decode_error(&replaced.payload).unwrap().0,
        error::REPLACED
    );
    relay.stop().await;
}

#[tokio::test]
async fn keep_alives_go_to_nobody_and_presence_to_everyone() {
    let relay = start(&[]).await;
    let mut a = Client::connect(&relay.ws(), key(1)).await;
    a.join_and_roster(ROOM).await;
    let mut b = Client::connect(&relay.ws(), key(2)).await;
    b.join_and_roster(ROOM).await;
    a.recv_kind(FrameKind::PeerJoined).await;
    b.send(FrameKind::Presence, ROOM, None, &[]).await;
    b.send(FrameKind::Presence, ROOM, None, b"typing").await;
    let got = a.recv().await.unwrap();
    assert_eq!(got.kind, FrameKind::Presence);
    assert_eq!(
        got.payload, b"typing",
        "the keep-alive before it never came"
    );
    assert_eq!(got.seq, 0, "presence is not stamped");
    relay.stop().await;
}

#[tokio::test]
async fn a_sender_that_asks_for_its_echo_gets_its_room_frames_back_stamped() {
    let relay = start(&[]).await;
    let mut a = Client::connect(&relay.ws(), key(1)).await;
    let join = shared::peer::handshake::join_frame(&a.key, &a.challenge, ROOM, 0, true);
    a.send_raw(join).await;
    a.recv_kind(FrameKind::Roster).await;
    let mut b = Client::connect(&relay.ws(), key(2)).await;
    b.join_and_roster(ROOM).await;
    a.recv_kind(FrameKind::PeerJoined).await;

    a.send(FrameKind::Game, ROOM, None, b"from a").await;
    let echo = a.recv_kind(FrameKind::Game).await;
    let got = b.recv_kind(FrameKind::Game).await;
    assert_eq!(
        (echo.sender, echo.payload.as_slice()),
        (a.id(), &b"from a"[..])
    );
    assert_eq!(echo.seq, got.seq, "the echo carries the room's stamp");
    assert!(echo.seq > 0);
    // The stamp carries the relay's time (ms since the Unix epoch): one
    // clock for every peer of the room, never going back.
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert_eq!(echo.time, got.time, "one time for every copy");
    assert!(
        echo.time <= wall && echo.time + 10_000 > wall,
        "{} vs {wall}",
        echo.time
    );
    // Without the flag, nothing comes back: a's next frame is b's.
    b.send(FrameKind::Game, ROOM, None, b"from b").await;
    let next = a.recv_kind(FrameKind::Game).await;
    assert_eq!(next.payload, b"from b");
    assert!(next.time >= echo.time);
    a.send(FrameKind::Presence, ROOM, None, b"hello").await;
    let next = b.recv().await.unwrap();
    assert_eq!(next.kind, FrameKind::Presence, "no echo unasked: {next:?}");
    relay.stop().await;
}

#[tokio::test]
async fn a_time_a_client_writes_in_its_frame_is_replaced_by_the_relays() {
    let relay = start(&[]).await;
    let mut a = Client::connect(&relay.ws(), key(1)).await;
    a.join_and_roster(ROOM).await;
    let mut b = Client::connect(&relay.ws(), key(2)).await;
    b.join_and_roster(ROOM).await;
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    // A minute back (a banker opening its commit phase in the past would
    // make everyone late), or an hour ahead: the relay's time either way.
    for claimed in [wall - 60_000, wall + 3_600_000] {
        let mut f = BytesMut::from(&a.frame(FrameKind::Game, ROOM, None, b"dated")[..]);
        shared::codec::stamp(&mut f, 41, claimed).unwrap();
        a.send_raw(f.freeze()).await;
        let got = b.recv_kind(FrameKind::Game).await;
        assert!(
            got.time >= wall && got.time < wall + 60_000,
            "{} vs {wall}",
            got.time
        );
        assert!(got.seq != 41, "the sequence number is the room's own");
    }
    relay.stop().await;
}

#[tokio::test]
async fn each_relay_start_has_its_own_epoch_and_a_resume_past_a_new_rooms_numbering_replays_it_all()
{
    let first = start(&[]).await;
    let second = start(&[]).await;
    let a = Client::connect(&first.ws(), key(1)).await;
    let b = Client::connect(&first.ws(), key(2)).await;
    let c = Client::connect(&second.ws(), key(3)).await;
    assert_eq!(a.challenge.epoch, b.challenge.epoch, "one epoch per start");
    assert_ne!(
        a.challenge.epoch, c.challenge.epoch,
        "a new start, a new epoch"
    );
    assert_ne!(
        a.challenge.nonce, b.challenge.nonce,
        "one nonce per connection"
    );
    second.stop().await;

    // A room that numbers 1, 2 now; a client that saw seq 31 of the room
    // that was here before is given all of this one.
    let mut a = a;
    let join = shared::peer::handshake::join_frame(&a.key, &a.challenge, ROOM, 0, true);
    a.send_raw(join).await;
    a.send(FrameKind::Game, ROOM, None, b"one").await;
    a.send(FrameKind::Game, ROOM, None, b"two").await;
    a.recv_kind(FrameKind::Game).await;
    assert_eq!(a.recv_kind(FrameKind::Game).await.seq, 2, "both stamped");
    let mut b = b;
    b.join(ROOM, 31).await;
    let one = b.recv_kind(FrameKind::Game).await;
    let two = b.recv_kind(FrameKind::Game).await;
    assert_eq!((one.seq, two.seq), (1, 2));
    let roster = b.recv_kind(FrameKind::Roster).await;
    assert_eq!(
        roster.seq, 2,
        "the roster says where the room's numbering is"
    );
    // u64::MAX asks for nothing from the past.
    let mut c = Client::connect(&first.ws(), key(3)).await;
    c.join(ROOM, u64::MAX).await;
    assert_eq!(c.recv().await.unwrap().kind, FrameKind::Roster);
    first.stop().await;
}

#[tokio::test]
async fn a_room_emptied_and_made_anew_has_a_new_incarnation_in_its_roster() {
    let relay = start(&[]).await;
    let mut a = Client::connect(&relay.ws(), key(1)).await;
    a.join(ROOM, 0).await;
    let first = a.recv_kind(FrameKind::Roster).await;
    let mut b = Client::connect(&relay.ws(), key(2)).await;
    b.join(ROOM, 0).await;
    let second = b.recv_kind(FrameKind::Roster).await;
    let incarnation = |p: &[u8]| control::decode_roster_with_incarnation(p).unwrap().1;
    assert_eq!(
        incarnation(&first.payload),
        incarnation(&second.payload),
        "one room"
    );
    a.send(FrameKind::Leave, ROOM, None, &[]).await;
    b.send(FrameKind::Leave, ROOM, None, &[]).await;
    b.recv_kind(FrameKind::PeerLeft).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut c = Client::connect(&relay.ws(), key(3)).await;
    c.join(ROOM, 0).await;
    let third = c.recv_kind(FrameKind::Roster).await;
    assert_ne!(
        incarnation(&first.payload),
        incarnation(&third.payload),
        "made anew"
    );
    relay.stop().await;
}
