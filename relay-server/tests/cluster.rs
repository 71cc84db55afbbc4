//! Cluster mode with real parts: a real `nats-server` (JetStream on) and
//! several relays sharing rooms through it, clients on real WebSockets.
//! One room spread over relays must look like one room on one relay: one
//! order of frames (same numbers, same bytes, everywhere), one roster,
//! presence and signaling across relays, resume on any relay with no gap
//! and no duplicate, committed frames that outlive every relay, and a
//! relay that dies taking its members out of the room.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use bytes::Bytes;
use common::binary::start_binary;
use common::nats::Nats;
use common::{key, start, Client, Got, Running, ROOM};
use shared::codec::control;
use shared::peer::handshake;
use shared::wire::{error, FrameKind, PeerId};

async fn relay(nats: &Nats) -> Running {
    start(&["--nats", &nats.url()]).await
}

/// Connects with `key(n)` and joins the room with its echo on; returns
/// the client and the roster.
async fn member(url: &str, n: u8, resume_from: u64) -> (Client, Vec<PeerId>) {
    let mut client = Client::connect(url, key(n)).await;
    let join = handshake::join_frame(&client.key, &client.challenge, ROOM, resume_from, true);
    client.send_raw(join).await;
    let roster = client.recv_kind(FrameKind::Roster).await;
    let peers = control::decode_roster(&roster.payload).unwrap();
    (client, peers)
}

/// The next `n` game frames, skipping presence.
async fn games(client: &mut Client, n: usize) -> Vec<Got> {
    let mut got = Vec::new();
    while got.len() < n {
        let frame = client.recv().await.expect("connection open");
        match frame.kind {
            FrameKind::Game => got.push(frame),
            FrameKind::PeerJoined | FrameKind::PeerLeft | FrameKind::Presence => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    got
}

async fn send_all(client: &mut Client, frames: &[Bytes]) {
    for frame in frames {
        client.send_raw(frame.clone()).await;
    }
}

fn sorted(mut peers: Vec<PeerId>) -> Vec<PeerId> {
    peers.sort();
    peers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_relays_give_one_room_one_order_one_roster_and_signaling() {
    let nats = Nats::start().await;
    let relays = [relay(&nats).await, relay(&nats).await, relay(&nats).await];
    let epochs: HashSet<u64> = {
        let mut e = HashSet::new();
        for r in &relays {
            e.insert(Client::connect(&r.ws(), key(99)).await.challenge.epoch);
        }
        e
    };
    assert_eq!(epochs.len(), 1, "every relay gives the cluster's epoch");

    let (mut a, roster) = member(&relays[0].ws(), 1, 0).await;
    assert_eq!(roster, vec![a.id()]);
    let (mut b, roster) = member(&relays[1].ws(), 2, 0).await;
    assert_eq!(
        sorted(roster),
        sorted(vec![a.id(), b.id()]),
        "b sees a, who is on another relay"
    );
    let joined = a.recv_kind(FrameKind::PeerJoined).await;
    assert_eq!(joined.payload, b.id());
    let (mut c, roster) = member(&relays[2].ws(), 3, 0).await;
    assert_eq!(sorted(roster), sorted(vec![a.id(), b.id(), c.id()]));
    for client in [&mut a, &mut b] {
        let joined = client.recv_kind(FrameKind::PeerJoined).await;
        assert_eq!(joined.payload, c.id());
    }

    // All three send at once, through three relays.
    const EACH: usize = 20;
    let mine = |client: &Client| -> Vec<Bytes> {
        (0..EACH)
            .map(|i| client.frame(FrameKind::Game, ROOM, None, format!("frame {i}").as_bytes()))
            .collect()
    };
    let (fa, fb, fc) = (mine(&a), mine(&b), mine(&c));
    let sent: HashSet<Bytes> = [&fa, &fb, &fc].into_iter().flatten().cloned().collect();
    tokio::join!(
        send_all(&mut a, &fa),
        send_all(&mut b, &fb),
        send_all(&mut c, &fc)
    );
    let (ga, gb, gc) = tokio::join!(
        games(&mut a, 3 * EACH),
        games(&mut b, 3 * EACH),
        games(&mut c, 3 * EACH)
    );
    for (i, frame) in ga.iter().enumerate() {
        assert_eq!(frame.seq, i as u64 + 1, "numbers follow one another");
        assert_eq!(frame.raw, gb[i].raw, "the same bytes at every relay");
        assert_eq!(frame.raw, gc[i].raw, "the same bytes at every relay");
        if i > 0 {
            assert!(frame.time >= ga[i - 1].time, "relay time never goes back");
        }
    }
    // Stamped frames differ from those sent only in number and time.
    let unstamped: HashSet<Bytes> = ga
        .iter()
        .map(|f| {
            let mut raw = f.raw.to_vec();
            shared::codec::stamp(&mut raw, 0, 0).unwrap();
            Bytes::from(raw)
        })
        .collect();
    assert_eq!(unstamped, sent, "every frame, once");

    // A chat line crosses relays; signaling reaches its target only.
    a.send(FrameKind::Presence, ROOM, None, b"\x01hello").await;
    for client in [&mut b, &mut c] {
        let line = client.recv_kind(FrameKind::Presence).await;
        assert_eq!(line.sender, a.id());
        assert_eq!(line.payload, b"\x01hello");
    }
    a.send(FrameKind::Offer, ROOM, Some(c.id()), b"sdp offer")
        .await;
    let offer = c.recv_kind(FrameKind::Offer).await;
    assert_eq!(
        (offer.sender, offer.payload.as_slice()),
        (a.id(), &b"sdp offer"[..])
    );
    c.send(FrameKind::Answer, ROOM, Some(a.id()), b"sdp answer")
        .await;
    let answer = a.recv_kind(FrameKind::Answer).await;
    assert_eq!(answer.sender, c.id());
    a.send(FrameKind::Offer, ROOM, Some([9; 32]), b"nobody")
        .await;
    let refused = a.recv_kind(FrameKind::Error).await;
    let (code, _) = control::decode_error(&refused.payload).unwrap();
    assert_eq!(code, error::UNKNOWN_TARGET);

    // b leaves: the others, on other relays, are told.
    b.send(FrameKind::Leave, ROOM, None, &[]).await;
    for client in [&mut a, &mut c] {
        let left = client.recv_kind(FrameKind::PeerLeft).await;
        assert_eq!(left.payload, b.id());
    }
    let metrics = relays[0].relay.metrics();
    assert!(metrics.cluster.with_label_values(&["published"]).get() >= EACH as u64);
    assert!(metrics.cluster.with_label_values(&["received"]).get() >= 3 * EACH as u64);
    for r in relays {
        r.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_resumes_on_another_relay_with_no_gap_and_no_duplicate() {
    let nats = Nats::start().await;
    let (one, two) = (relay(&nats).await, relay(&nats).await);
    let (mut a, _) = member(&one.ws(), 1, 0).await;
    let (mut b, _) = member(&two.ws(), 2, 0).await;
    let mut mine = Vec::new();
    for i in 0..5u8 {
        let frame = a.frame(FrameKind::Game, ROOM, None, &[i]);
        mine.push(frame.clone());
        a.send_raw(frame).await;
    }
    let first = games(&mut b, 5).await;
    assert_eq!(
        first.iter().map(|f| f.seq).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
    drop(b); // its relay, its connection: gone
    for i in 5..10u8 {
        a.send_raw(a.frame(FrameKind::Game, ROOM, None, &[i])).await;
    }
    let echoes = games(&mut a, 10).await;
    // Back on the other relay, from where it was.
    let mut b = Client::connect(&one.ws(), key(2)).await;
    b.send_raw(handshake::join_frame(&b.key, &b.challenge, ROOM, 5, true))
        .await;
    let mut resumed = Vec::new();
    loop {
        let frame = b.recv().await.expect("open");
        match frame.kind {
            FrameKind::Game => resumed.push(frame),
            FrameKind::Roster => {
                assert_eq!(frame.seq, 10, "the roster gives the room's last number");
                break;
            }
            FrameKind::Error => panic!(
                "no gap expected: {:?}",
                control::decode_error(&frame.payload)
            ),
            _ => {}
        }
    }
    let want: Vec<Bytes> = echoes[5..].iter().map(|f| f.raw.clone()).collect();
    assert_eq!(
        resumed.iter().map(|f| f.raw.clone()).collect::<Vec<_>>(),
        want
    );

    // A client that says it saw more than the room holds (the room was
    // made anew since) gets all of it, once this relay has waited to be
    // sure it is not just behind.
    let mut c = Client::connect(&two.ws(), key(3)).await;
    c.send_raw(handshake::join_frame(&c.key, &c.challenge, ROOM, 500, true))
        .await;
    let started = std::time::Instant::now();
    let replayed = games(&mut c, 10).await;
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(replayed[0].seq, 1);
    assert_eq!(c.recv_kind(FrameKind::Roster).await.seq, 10);

    // A frame given again (its sender never saw it acknowledged) is
    // stored once: the next number goes to the next new frame.
    a.send_raw(mine[4].clone()).await;
    let new = a.frame(FrameKind::Game, ROOM, None, b"new");
    a.send_raw(new.clone()).await;
    let next = games(&mut b, 1).await;
    assert_eq!(next[0].seq, 11);
    assert_eq!(next[0].payload, b"new");
    one.stop().await;
    two.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn committed_frames_outlive_every_relay() {
    let nats = Nats::start().await;
    let first = relay(&nats).await;
    let (mut a, _) = member(&first.ws(), 1, 0).await;
    let epoch = a.challenge.epoch;
    for i in 0..5u8 {
        a.send_raw(a.frame(FrameKind::Game, ROOM, None, &[i])).await;
    }
    // Echoed: stored.
    let stored = games(&mut a, 5).await;
    first.stop().await;

    let second = relay(&nats).await;
    let (mut b, _) = {
        let mut b = Client::connect(&second.ws(), key(2)).await;
        assert_eq!(
            b.challenge.epoch, epoch,
            "the cluster's epoch outlives its relays"
        );
        b.send_raw(handshake::join_frame(&b.key, &b.challenge, ROOM, 0, true))
            .await;
        (b, ())
    };
    let replayed = games(&mut b, 5).await;
    assert_eq!(
        replayed.iter().map(|f| &f.raw).collect::<Vec<_>>(),
        stored.iter().map(|f| &f.raw).collect::<Vec<_>>()
    );
    let roster = b.recv_kind(FrameKind::Roster).await;
    assert_eq!(roster.seq, 5);
    // The numbering goes on.
    b.send_raw(b.frame(FrameKind::Game, ROOM, None, b"after"))
        .await;
    assert_eq!(games(&mut b, 1).await[0].seq, 6);
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_relay_killed_takes_its_members_out_and_a_key_moving_is_replaced() {
    let nats = Nats::start().await;
    let here = relay(&nats).await;
    let mut there = start_binary(&["--nats", &nats.url()]);
    let (mut a, _) = member(&here.ws(), 1, 0).await;
    let (b, roster) = member(&there.ws(), 2, 0).await;
    assert_eq!(roster.len(), 2);
    assert_eq!(a.recv_kind(FrameKind::PeerJoined).await.payload, b.id());

    there.kill();
    let left = a
        .recv_kind_within(FrameKind::PeerLeft, Duration::from_secs(10))
        .await;
    assert_eq!(
        left.payload,
        b.id(),
        "a SIGKILLed relay's members leave the room"
    );
    assert!(
        here.relay
            .metrics()
            .cluster
            .with_label_values(&["relays_gone"])
            .get()
            >= 1
    );

    // The same key joining on another relay replaces the first connection.
    let elsewhere = relay(&nats).await;
    let (_a2, roster) = member(&elsewhere.ws(), 1, 0).await;
    assert_eq!(roster, vec![a.id()]);
    let replaced = a.recv_kind(FrameKind::Error).await;
    let (code, _) = control::decode_error(&replaced.payload).unwrap();
    assert_eq!(code, error::REPLACED);
    // Its only member here moved away: the room is closed here.
    for _ in 0..100 {
        if here.relay.hub().room_count() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(here.relay.hub().room_count(), 0);
    here.stop().await;
    elsewhere.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn relays_that_lose_nats_say_so_keep_their_players_and_resume_without_a_gap() {
    let mut nats = Nats::start().await;
    let (one, two) = (relay(&nats).await, relay(&nats).await);
    let ready = |r: &Running| {
        let url = format!("{}/readyz", r.http());
        async move { reqwest::get(url).await.unwrap().status().as_u16() }
    };
    assert_eq!(ready(&one).await, 200);
    let (mut a, _) = member(&one.ws(), 1, 0).await;
    let (mut b, _) = member(&two.ws(), 2, 0).await;
    a.send_raw(a.frame(FrameKind::Game, ROOM, None, b"before"))
        .await;
    assert_eq!(games(&mut b, 1).await[0].seq, 1);

    nats.kill();
    let mut waited = 0;
    while ready(&one).await != 503 {
        waited += 1;
        assert!(waited < 100, "/readyz says NATS is gone within 5 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let health = reqwest::get(format!("{}/healthz", one.http()))
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200, "alive all the same");
    assert_eq!(
        health.text().await.unwrap(),
        "ok (not ready: NATS unreachable)"
    );
    // A move made meanwhile waits; its sender is told the table stalls.
    a.send_raw(a.frame(FrameKind::Game, ROOM, None, b"during"))
        .await;
    let stalled = a
        .recv_kind_within(FrameKind::Error, Duration::from_secs(10))
        .await;
    let (code, _) = control::decode_error(&stalled.payload).unwrap();
    assert_eq!(code, error::CLUSTER_UNAVAILABLE);
    // Every player is told its table waits, on every relay.
    let told = b
        .recv_kind_within(FrameKind::Error, Duration::from_secs(5))
        .await;
    let (code, reason) = control::decode_error(&told.payload).unwrap();
    assert_eq!(code, error::CLUSTER_UNAVAILABLE, "{reason}");

    nats.restart().await;
    // It is stored once NATS is back, in its turn: no gap, no duplicate.
    let mut got = Vec::new();
    while got.is_empty() {
        let frame = b.recv_within(Duration::from_secs(30)).await.expect("open");
        if frame.kind == FrameKind::Game {
            got.push(frame);
        }
    }
    assert_eq!((got[0].seq, got[0].payload.as_slice()), (2, &b"during"[..]));
    a.send_raw(a.frame(FrameKind::Game, ROOM, None, b"after"))
        .await;
    let next = games(&mut b, 1).await;
    assert_eq!(
        (next[0].seq, next[0].payload.as_slice()),
        (3, &b"after"[..])
    );
    assert_eq!(ready(&one).await, 200);
    let metrics = one.relay.metrics();
    assert!(metrics.cluster.with_label_values(&["disconnects"]).get() >= 1);
    // Nobody was taken for gone meanwhile.
    assert_eq!(metrics.cluster.with_label_values(&["relays_gone"]).get(), 0);
    one.stop().await;
    two.stop().await;
}

/// What cluster mode rests on, checked against the real server: a frame
/// stored once, then given again with a stale expected sequence (its
/// relay lost the acknowledgement and retries), is known by its id before
/// the sequence is checked, so it is never stored twice; a frame with a
/// stale expected sequence and a new id is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_knows_a_frame_by_its_id_before_checking_its_turn() {
    use async_nats::header::{NATS_EXPECTED_LAST_SUBJECT_SEQUENCE, NATS_MESSAGE_ID};
    use async_nats::jetstream;
    let nats = Nats::start().await;
    let client = async_nats::connect(nats.url()).await.unwrap();
    let js = jetstream::new(client);
    js.create_stream(jetstream::stream::Config {
        name: "CHECK".into(),
        subjects: vec!["check.>".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    let publish = |expected: u64, id: &str| {
        let js = js.clone();
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(
            NATS_EXPECTED_LAST_SUBJECT_SEQUENCE,
            expected.to_string().as_str(),
        );
        headers.insert(NATS_MESSAGE_ID, id);
        async move {
            js.publish_with_headers("check.room", headers, Bytes::from_static(b"f"))
                .await
                .unwrap()
                .await
        }
    };
    let first = publish(0, "one").await.unwrap();
    assert!(!first.duplicate);
    let again = publish(0, "one").await.expect("a duplicate, not a refusal");
    assert!(again.duplicate);
    assert_eq!(again.sequence, first.sequence);
    let stale = publish(0, "two").await.expect_err("out of turn");
    assert_eq!(
        stale.kind(),
        async_nats::jetstream::context::PublishErrorKind::WrongLastSequence
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_lobby_of_every_relay_shows_the_tables_listed_on_any() {
    use shared::peer::listing;
    use shared::session::GameConfig;
    let nats = Nats::start().await;
    let (one, two) = (relay(&nats).await, relay(&nats).await);
    let lobby = |r: &Running| {
        let url = format!("{}/api/tables", r.http());
        async move {
            let body: serde_json::Value = reqwest::get(url).await.unwrap().json().await.unwrap();
            body["tables"].as_array().unwrap().clone()
        }
    };
    let (mut house, _) = member(&one.ws(), 1, 0).await;
    let config = GameConfig::new(ROOM, house.id(), 100_000);
    let payload = listing::encode(&config, "Across the cluster").unwrap();
    house.send(FrameKind::Presence, ROOM, None, &payload).await;
    let (_player, _) = member(&two.ws(), 2, 0).await;
    let mut seen = Vec::new();
    for _ in 0..100 {
        seen = lobby(&two).await;
        if seen.first().is_some_and(|t| t["players"] == 1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(seen.len(), 1, "listed on one, shown on two: {seen:?}");
    assert_eq!(seen[0]["name"], "Across the cluster");
    assert_eq!(seen[0]["table"], shared::hex(&ROOM));
    assert_eq!(
        seen[0]["players"], 1,
        "its player on the other relay counts"
    );
    assert_eq!(lobby(&one).await.len(), 1, "and on its own relay, once");

    house.send(FrameKind::Leave, ROOM, None, &[]).await;
    for _ in 0..100 {
        if lobby(&two).await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(lobby(&two).await.is_empty(), "gone when its house leaves");
    one.stop().await;
    two.stop().await;
}
