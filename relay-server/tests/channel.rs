//! The connection handler over in-memory channels instead of sockets, with
//! tokio's clock paused: the idle timeout and keep-alive without waiting.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::{sink, stream};
use relay::config::Limits;
use relay::connection::{self, WsIn, WsOut};
use relay::hub::Hub;
use relay::metrics::Metrics;
use relay::shutdown;
use shared::codec::{control, encode_signed, FrameHeader, FrameRef};
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
            connection::serve(hub, Box::pin(input), output, signal).await;
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

fn join_frame(key: &SigningKey, nonce: [u8; 32]) -> Bytes {
    let header = FrameHeader::new(FrameKind::Join, [1; 16], key.verifying_key().to_bytes());
    let mut out = BytesMut::new();
    let join = control::Join {
        nonce,
        resume_from: 0,
    };
    encode_signed(&header, &join.encode(), key, &mut out).unwrap();
    out.freeze()
}

#[tokio::test(start_paused = true)]
async fn join_over_channels_then_idle_timeout_with_pings_meanwhile() {
    let hub = Arc::new(Hub::new(Limits::default(), Arc::new(Metrics::new())));
    let mut h = connect(Arc::clone(&hub));
    let (kind, nonce) = frame_of(&h.from_relay.recv().await.unwrap()).unwrap();
    assert_eq!(kind, FrameKind::Challenge);
    let key = SigningKey::from_bytes(&[4; 32]);
    let nonce: [u8; 32] = nonce.try_into().unwrap();
    h.to_relay
        .send(WsIn::Binary(join_frame(&key, nonce)))
        .await
        .unwrap();
    let (kind, roster) = frame_of(&h.from_relay.recv().await.unwrap()).unwrap();
    assert_eq!(kind, FrameKind::Roster);
    assert_eq!(
        control::decode_roster(&roster).unwrap(),
        vec![key.verifying_key().to_bytes()]
    );
    assert_eq!(h.hub.room_count(), 1);

    // Silence: pings every 20 s, then the idle close at 60 s.
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
    let join = join_frame(&key, nonce.try_into().unwrap());
    h.to_relay.send(WsIn::Binary(join.clone())).await.unwrap();
    // A frame every 25 s for 150 s (the idle timeout is 60 s).
    let started = tokio::time::Instant::now();
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_secs(25)).await;
        h.to_relay.send(WsIn::Binary(join.clone())).await.unwrap();
    }
    while let Ok(out) = h.from_relay.try_recv() {
        assert!(!matches!(out, WsOut::Close(..)), "closed while active");
    }
    // Then silence: closed as idle 60 s after the last frame, not before.
    let code = loop {
        if let WsOut::Close(code, _) = h.from_relay.recv().await.unwrap() {
            break code;
        }
    };
    assert_eq!(code, close::IDLE);
    let closed_after = started.elapsed();
    assert!(
        closed_after >= Duration::from_secs(150 + 60)
            && closed_after < Duration::from_secs(150 + 61),
        "closed after {closed_after:?}"
    );
    h.task.await.unwrap();
}

/// Joins `h` to the test room as `key` (after its challenge).
async fn join(h: &mut Harness, key: &SigningKey) {
    let (_, nonce) = frame_of(&h.from_relay.recv().await.unwrap()).unwrap();
    let frame = join_frame(key, nonce.try_into().unwrap());
    h.to_relay.send(WsIn::Binary(frame)).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_full_consumer_is_closed_after_its_grace_without_further_traffic() {
    let limits = Limits {
        queue_frames: 8,
        ..Limits::default()
    };
    let grace = limits.slow_consumer_grace();
    let hub = Arc::new(Hub::new(limits, Arc::new(Metrics::new())));
    let sender_key = SigningKey::from_bytes(&[4; 32]);
    let mut sender = connect(Arc::clone(&hub));
    join(&mut sender, &sender_key).await;
    // The sleeper's socket takes one message and is never read again.
    let mut sleeper = connect_with(Arc::clone(&hub), 1);
    join(&mut sleeper, &SigningKey::from_bytes(&[5; 32])).await;
    while hub.metrics().connections.get() < 2 || hub.room_count() < 1 {
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
    // A burst that overflows the sleeper's queue, then silence.
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

#[tokio::test(start_paused = true)]
async fn a_join_with_the_wrong_nonce_is_closed() {
    let hub = Arc::new(Hub::new(Limits::default(), Arc::new(Metrics::new())));
    let mut h = connect(hub);
    h.from_relay.recv().await.unwrap();
    let key = SigningKey::from_bytes(&[4; 32]);
    h.to_relay
        .send(WsIn::Binary(join_frame(&key, [0; 32])))
        .await
        .unwrap();
    let code = loop {
        if let WsOut::Close(code, _) = h.from_relay.recv().await.unwrap() {
            break code;
        }
    };
    assert_eq!(code, close::BAD_JOIN);
}
