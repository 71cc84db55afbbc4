//! The connection handler over in-memory channels instead of sockets, with
//! tokio's clock paused: the idle timeout and keep-alive without waiting.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::{sink, stream};
use relay::config::Limits;
use relay::connection::{self, WsIn, WsOut};
use relay::metrics::Metrics;
use relay::rooms::Hub;
use relay::shutdown;
use shared::codec::{control, encode_signed, FrameHeader, FrameRef};
use shared::peer::handshake;
use shared::wire::{close, FrameKind, MAX_FRAME_LEN};
use shared::SigningKey;
use tokio::sync::mpsc;

struct Harness {
    to_relay: mpsc::Sender<WsIn>,
    from_relay: mpsc::Receiver<WsOut>,
    task: tokio::task::JoinHandle<()>,
    hub: Arc<Hub>,
}

fn connect(hub: Arc<Hub>) -> Harness {
    connect_with(hub, 1024)
}

/// A connection whose socket holds at most `capacity` unread messages.
fn connect_with(hub: Arc<Hub>, capacity: usize) -> Harness {
    let (to_relay, rx) = mpsc::channel::<WsIn>(16);
    let (tx, from_relay) = mpsc::channel::<WsOut>(capacity);
    let input = stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|m| (Ok::<_, ()>(m), rx))
    });
    let output = Box::pin(sink::unfold(tx, |tx, item: WsOut| async move {
        tx.send(item).await.map(|()| tx).map_err(|_| ())
    }));
    let (_trigger, signal) = shutdown::channel();
    let task = tokio::spawn({
        let hub = Arc::clone(&hub);
        async move {
            let _keep = _trigger;
            connection::serve(
                hub,
                None,
                Box::pin(input),
                output,
                signal,
                connection::Pack::Single,
            )
            .await;
        }
    });
    Harness {
        to_relay,
        from_relay,
        task,
        hub,
    }
}

fn frame_of(out: &WsOut) -> Option<(FrameKind, Vec<u8>)> {
    match out {
        WsOut::Binary(bytes) => {
            let f = FrameRef::parse(bytes, MAX_FRAME_LEN).unwrap();
            Some((f.header.kind, f.payload.to_vec()))
        }
        _ => None,
    }
}

fn join_frame(key: &SigningKey, challenge: &[u8]) -> Bytes {
    join_room(key, challenge, [1; 16])
}

#[tokio::test(start_paused = true)]
async fn join_over_channels_then_idle_timeout_with_pings_meanwhile() {
    let hub = Arc::new(Hub::new(Limits::default(), Arc::new(Metrics::new())));
    let mut h = connect(Arc::clone(&hub));
    let (kind, nonce) = frame_of(&h.from_relay.recv().await.unwrap()).unwrap();
    assert_eq!(kind, FrameKind::Challenge);
    let key = SigningKey::from_bytes(&[4; 32]);
    h.to_relay
        .send(WsIn::Binary(join_frame(&key, &nonce)))
        .await
        .unwrap();
    let (kind, roster) = frame_of(&h.from_relay.recv().await.unwrap()).unwrap();
    assert_eq!(kind, FrameKind::Roster);
    assert_eq!(
        control::decode_roster(&roster).unwrap(),
        vec![key.verifying_key().to_bytes()]
    );
    assert_eq!(h.hub.room_count(), 1);

    // Silence: pings every 20 s, then the idle close.
    let mut pings = 0;
    let code = loop {
        match tokio::time::timeout(Duration::from_secs(120), h.from_relay.recv()).await {
            Ok(Some(WsOut::Ping)) => pings += 1,
            Ok(Some(WsOut::Close(code, _))) => break code,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(code, close::IDLE);
    assert!(pings >= 2, "{pings} pings");
    h.task.await.unwrap();
    assert_eq!(hub.room_count(), 0, "leaving on close empties the room");
    assert_eq!(
        hub.metrics().rejections.with_label_values(&["idle"]).get(),
        1
    );
}

#[tokio::test(start_paused = true)]
async fn traffic_keeps_a_connection_open_past_the_idle_timeout() {
    let hub = Arc::new(Hub::new(Limits::default(), Arc::new(Metrics::new())));
    let mut h = connect(Arc::clone(&hub));
    let (_, nonce) = frame_of(&h.from_relay.recv().await.unwrap()).unwrap();
    let key = SigningKey::from_bytes(&[4; 32]);
    let join = join_frame(&key, &nonce);
    h.to_relay.send(WsIn::Binary(join.clone())).await.unwrap();
    // A frame every 25 s for 150 s (longer than the idle timeout).
    let idle = Limits::default().idle_timeout();
    let started = tokio::time::Instant::now();
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_secs(25)).await;
        h.to_relay.send(WsIn::Binary(join.clone())).await.unwrap();
    }
    while let Ok(out) = h.from_relay.try_recv() {
        assert!(!matches!(out, WsOut::Close(..)), "closed while active");
    }
    // Then silence: closed as idle after the last frame, not before.
    let code = loop {
        if let WsOut::Close(code, _) = h.from_relay.recv().await.unwrap() {
            break code;
        }
    };
    assert_eq!(code, close::IDLE);
    let closed_after = started.elapsed();
    let last = Duration::from_secs(150);
    assert!(
        closed_after >= last + idle && closed_after < last + idle + Duration::from_secs(1),
        "closed after {closed_after:?}"
    );
    h.task.await.unwrap();
}

/// Joins `h` to the test room as `key` (after its challenge).
async fn join(h: &mut Harness, key: &SigningKey) {
    let (_, nonce) = frame_of(&h.from_relay.recv().await.unwrap()).unwrap();
    let frame = join_frame(key, &nonce);
    h.to_relay.send(WsIn::Binary(frame)).await.unwrap();
}

/// A hub with `limits`, a member that sends (key 4) and a member whose
/// socket holds one unread message (key 5), both in the test room.
async fn sender_and_one_message_reader(limits: Limits) -> (Arc<Hub>, Harness, SigningKey, Harness) {
    let hub = Arc::new(Hub::new(limits, Arc::new(Metrics::new())));
    let sender_key = SigningKey::from_bytes(&[4; 32]);
    let mut sender = connect(Arc::clone(&hub));
    join(&mut sender, &sender_key).await;
    let mut reader = connect_with(Arc::clone(&hub), 1);
    join(&mut reader, &SigningKey::from_bytes(&[5; 32])).await;
    while hub.metrics().connections.get() < 2 || hub.room_count() < 1 {
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
    (hub, sender, sender_key, reader)
}

#[tokio::test(start_paused = true)]
async fn a_full_consumer_is_closed_after_its_grace_without_further_traffic() {
    let limits = Limits {
        queue_frames: 8,
        ..Limits::default()
    };
    let grace = limits.slow_consumer_grace();
    // The sleeper's socket takes one message and is never read again.
    let (hub, sender, sender_key, sleeper) = sender_and_one_message_reader(limits).await;
    // A burst of normal-priority frames that overflows the sleeper's
    // queue, then silence.
    let mut header = FrameHeader::new(
        FrameKind::Game,
        [1; 16],
        sender_key.verifying_key().to_bytes(),
    );
    header.priority = shared::wire::Priority::Normal;
    for i in 0..40u32 {
        let mut out = BytesMut::new();
        encode_signed(&header, &i.to_be_bytes(), &sender_key, &mut out).unwrap();
        sender
            .to_relay
            .send(WsIn::Binary(out.freeze()))
            .await
            .unwrap();
    }
    tokio::time::sleep(grace / 2).await;
    assert_eq!(
        hub.metrics().slow_consumer_disconnects.get(),
        0,
        "within its grace"
    );
    tokio::time::sleep(grace).await;
    assert_eq!(
        hub.metrics().slow_consumer_disconnects.get(),
        1,
        "closed after it"
    );
    // Its handler ends (the close frame cannot reach a socket nobody reads).
    tokio::time::timeout(Duration::from_secs(5), sleeper.task)
        .await
        .expect("the sleeper's handler ends")
        .unwrap();
    assert_eq!(hub.metrics().connections.get(), 1);
}

/// Sends `n` frames of `priority` from `sender` (numbered from `from`).
async fn burst(
    sender: &Harness,
    key: &SigningKey,
    priority: shared::wire::Priority,
    from: u32,
    n: u32,
) {
    let mut header = FrameHeader::new(FrameKind::Game, [1; 16], key.verifying_key().to_bytes());
    header.priority = priority;
    for i in from..from + n {
        let mut out = BytesMut::new();
        encode_signed(&header, &i.to_be_bytes(), key, &mut out).unwrap();
        sender
            .to_relay
            .send(WsIn::Binary(out.freeze()))
            .await
            .unwrap();
    }
}

fn drops(hub: &Hub, reason: &str, priority: &str) -> u64 {
    hub.metrics()
        .drops
        .with_label_values(&[reason, priority])
        .get()
}

#[tokio::test(start_paused = true)]
async fn each_drop_strategy_does_what_it_says_with_a_reader_that_stopped() {
    use relay::config::DropPolicy;
    use shared::wire::Priority;
    for policy in [
        DropPolicy::LowPriority,
        DropPolicy::Oldest,
        DropPolicy::Backpressure,
    ] {
        let limits = Limits {
            queue_frames: 8,
            drop_strategy: policy,
            ..Limits::default()
        };
        let grace = limits.slow_consumer_grace();
        let (hub, sender, key, _sleeper) = sender_and_one_message_reader(limits).await;
        // Ordinary frames past what the stopped reader's queue holds.
        burst(&sender, &key, Priority::Normal, 0, 40).await;
        tokio::time::sleep(grace + grace / 2).await;
        let closed = hub.metrics().slow_consumer_disconnects.get();
        match policy {
            // Nothing lower to displace: refused, closed after the grace.
            DropPolicy::LowPriority | DropPolicy::Backpressure => {
                assert_eq!(closed, 1, "{policy:?}");
                assert!(drops(&hub, "refused", "normal") > 0, "{policy:?}");
                assert_eq!(drops(&hub, "evicted", "normal"), 0, "{policy:?}");
            }
            // The oldest make room: never full, never closed; it would
            // read the newest 8 frames.
            DropPolicy::Oldest => {
                assert_eq!(closed, 0, "{policy:?}");
                assert!(
                    drops(&hub, "evicted", "normal") >= 20,
                    "{policy:?}: {} evicted, {} refused",
                    drops(&hub, "evicted", "normal"),
                    drops(&hub, "refused", "normal")
                );
                assert_eq!(drops(&hub, "refused", "normal"), 0);
                // Game frames: the first that would evict another game
                // frame closes it at once (a hole in the room's order is
                // never left; it resumes from the replay).
                burst(&sender, &key, Priority::Critical, 100, 8).await;
                tokio::time::sleep(Duration::from_millis(10)).await;
                assert_eq!(
                    hub.metrics().slow_consumer_disconnects.get(),
                    0,
                    "8 game frames fit"
                );
                burst(&sender, &key, Priority::Critical, 200, 1).await;
                tokio::time::sleep(Duration::from_millis(10)).await;
                assert_eq!(
                    hub.metrics().slow_consumer_disconnects.get(),
                    1,
                    "the 9th evicts one: closed"
                );
                assert_eq!(drops(&hub, "evicted", "critical"), 1);
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_join_with_the_wrong_nonce_is_closed() {
    let hub = Arc::new(Hub::new(Limits::default(), Arc::new(Metrics::new())));
    let mut h = connect(hub);
    h.from_relay.recv().await.unwrap();
    let key = SigningKey::from_bytes(&[4; 32]);
    h.to_relay
        .send(WsIn::Binary(join_frame(&key, &[0; 40])))
        .await
        .unwrap();
    let code = loop {
        if let WsOut::Close(code, _) = h.from_relay.recv().await.unwrap() {
            break code;
        }
    };
    assert_eq!(code, close::BAD_JOIN);
}

fn signed(key: &SigningKey, kind: FrameKind, room: [u8; 16], payload: &[u8]) -> Bytes {
    handshake::signed_frame(key, kind, room, None, payload).unwrap()
}

/// The join answering a challenge payload.
fn join_room(key: &SigningKey, challenge: &[u8], room: [u8; 16]) -> Bytes {
    let challenge = control::Challenge::decode(challenge).unwrap();
    handshake::join_frame(key, &challenge, room, 0, false)
}

/// Reads until the relay closes; returns the code and when it closed.
async fn closed(h: &mut Harness) -> (u16, tokio::time::Instant) {
    loop {
        match h.from_relay.recv().await {
            Some(WsOut::Close(code, _)) => return (code, tokio::time::Instant::now()),
            Some(_) => {}
            None => panic!("ended without a close frame"),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn pongs_do_not_keep_a_connection_alive() {
    let hub = Arc::new(Hub::new(Limits::default(), Arc::new(Metrics::new())));
    let mut h = connect(Arc::clone(&hub));
    let key = SigningKey::from_bytes(&[4; 32]);
    join(&mut h, &key).await;
    let joined = tokio::time::Instant::now();
    let pong = h.to_relay.clone();
    let ponger = tokio::spawn(async move {
        while pong.send(WsIn::Pong).await.is_ok() {
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    });
    let (code, at) = closed(&mut h).await;
    assert_eq!(code, close::IDLE);
    let idle = Limits::default().idle_timeout();
    assert!(at - joined >= idle && at - joined < idle + Duration::from_secs(1));
    ponger.abort();
    h.task.await.unwrap();
    assert_eq!(hub.room_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_connection_that_never_joins_is_closed_after_the_join_timeout() {
    let hub = Arc::new(Hub::new(Limits::default(), Arc::new(Metrics::new())));
    let mut h = connect(Arc::clone(&hub));
    let opened = tokio::time::Instant::now();
    // Answering pings is not joining.
    h.to_relay.send(WsIn::Pong).await.unwrap();
    let (code, at) = closed(&mut h).await;
    assert_eq!(code, close::JOIN_TIMEOUT);
    assert_eq!(at - opened, Limits::default().join_timeout());
    h.task.await.unwrap();
    assert_eq!(
        hub.metrics()
            .rejections
            .with_label_values(&["join_timeout"])
            .get(),
        1
    );
}

#[tokio::test(start_paused = true)]
async fn leaving_the_last_room_starts_the_join_timeout_again() {
    let hub = Arc::new(Hub::new(Limits::default(), Arc::new(Metrics::new())));
    let mut h = connect(Arc::clone(&hub));
    let key = SigningKey::from_bytes(&[4; 32]);
    join(&mut h, &key).await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    h.to_relay
        .send(WsIn::Binary(signed(&key, FrameKind::Leave, [1; 16], &[])))
        .await
        .unwrap();
    let left = tokio::time::Instant::now();
    let (code, at) = closed(&mut h).await;
    assert_eq!(code, close::JOIN_TIMEOUT);
    assert_eq!(at - left, Limits::default().join_timeout());
    h.task.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_member_silent_in_one_room_is_removed_from_it_and_keeps_the_other() {
    let limits = Limits::default();
    let hub = Arc::new(Hub::new(limits, Arc::new(Metrics::new())));
    let mut h = connect(Arc::clone(&hub));
    let key = SigningKey::from_bytes(&[4; 32]);
    let (_, nonce) = frame_of(&h.from_relay.recv().await.unwrap()).unwrap();
    let (quiet, busy) = ([1; 16], [2; 16]);
    for room in [quiet, busy] {
        h.to_relay
            .send(WsIn::Binary(join_room(&key, &nonce, room)))
            .await
            .unwrap();
    }
    for _ in [quiet, busy] {
        loop {
            let out = h.from_relay.recv().await.unwrap();
            if frame_of(&out).is_some_and(|(kind, _)| kind == FrameKind::Roster) {
                break;
            }
        }
    }
    let joined = tokio::time::Instant::now();
    assert_eq!(hub.room_count(), 2);
    // Keep-alives (empty presence frames) to the busy room only.
    let to_relay = h.to_relay.clone();
    let keepalive = signed(&key, FrameKind::Presence, busy, &[]);
    let alive = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(15)).await;
            if to_relay
                .send(WsIn::Binary(keepalive.clone()))
                .await
                .is_err()
            {
                break;
            }
        }
    });
    let (code, room, at) = loop {
        let out = h.from_relay.recv().await.expect("still open");
        assert!(!matches!(out, WsOut::Close(..)), "the connection stays");
        if let WsOut::Binary(bytes) = out {
            let f = FrameRef::parse(&bytes, MAX_FRAME_LEN).unwrap();
            if f.header.kind == FrameKind::Error {
                let (code, _) = control::decode_error(f.payload).unwrap();
                break (code, f.header.room, tokio::time::Instant::now());
            }
        }
    };
    assert_eq!(code, shared::wire::error::ROOM_IDLE);
    assert_eq!(room, quiet);
    assert_eq!(at - joined, limits.room_idle_timeout());
    assert_eq!(hub.room_count(), 1, "only the busy room is left");
    // Long after, the connection is still open and in the busy room.
    tokio::time::sleep(limits.room_idle_timeout() * 2).await;
    assert_eq!(hub.room_count(), 1);
    assert!(!h.task.is_finished());
    alive.abort();
}

#[tokio::test(start_paused = true)]
async fn a_critical_frame_that_does_not_fit_closes_the_consumer_at_once() {
    let limits = Limits {
        queue_frames: 8,
        ..Limits::default()
    };
    // A reader that makes some progress (one message at a time, slowly):
    // it must not keep its connection while missing critical frames.
    let (hub, sender, sender_key, mut slow) = sender_and_one_message_reader(limits).await;
    let header = FrameHeader::new(
        FrameKind::Game,
        [1; 16],
        sender_key.verifying_key().to_bytes(),
    );
    for i in 0..40u32 {
        let mut out = BytesMut::new();
        encode_signed(&header, &i.to_be_bytes(), &sender_key, &mut out).unwrap();
        sender
            .to_relay
            .send(WsIn::Binary(out.freeze()))
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(
        hub.metrics().slow_consumer_disconnects.get(),
        1,
        "closed well within the grace"
    );
    // What it read before the close has no gap: its frames are in order,
    // and then the close (it resumes from the last one on reconnecting).
    let mut last = None;
    loop {
        match tokio::time::timeout(Duration::from_secs(5), slow.from_relay.recv()).await {
            Ok(Some(WsOut::Binary(bytes))) => {
                let f = FrameRef::parse(&bytes, MAX_FRAME_LEN).unwrap();
                if f.header.kind == FrameKind::Game {
                    let i = u32::from_be_bytes(f.payload.try_into().unwrap());
                    assert_eq!(i, last.map_or(0, |l: u32| l + 1), "no hole");
                    last = Some(i);
                }
            }
            Ok(Some(WsOut::Close(code, _))) => {
                assert_eq!(code, close::SLOW_CONSUMER);
                break;
            }
            Ok(Some(WsOut::Ping)) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}
