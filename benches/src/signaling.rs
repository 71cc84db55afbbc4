//! The signaling scenario: pairs of peers exchange offers and answers
//! through a relay, the way browsers set up a WebRTC data channel, and the
//! offerer times each round trip.
//!
//! It speaks two protocols:
//! - **frames**: our relay (and the baseline), binary frames targeted by
//!   the peer's key (`Offer` / `Answer`); the pair shares a room;
//! - **matchbox**: `matchbox_server` (crates.io), JSON text messages
//!   targeted by the UUID the server assigns; the pair shares a room path.
//!
//! Offers carry the send time (microseconds since the run began); the
//! answer echoes the offer's payload, so the offerer measures the round
//! trip. Signaling frames go unsigned here: the relay routes on the header
//! and leaves signatures to the peers.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use bytes::BytesMut;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use shared::codec::{encode_with_signature, FrameHeader, FrameRef};
use shared::wire::{FrameKind, PeerId, RoomId, MAX_FRAME_LEN};
use tokio_tungstenite::tungstenite::Message;

use crate::load::{self, Shared, Ws};

/// How a pair reaches the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Our binary frames (our relay, the baseline).
    Frames,
    /// `matchbox_server`'s JSON messages.
    Matchbox,
    /// NATS's text protocol (nats-server's WebSocket listener; fan-out
    /// only).
    Nats,
}

/// Whom the offerer addresses.
#[derive(Debug, Clone)]
enum Target {
    Key {
        room: RoomId,
        me: PeerId,
        peer: PeerId,
    },
    Uuid(String),
}

/// A connected offerer and answerer that know how to reach each other.
pub struct Pair {
    offerer: Ws,
    answerer: Ws,
    target: Target,
}

/// Opens a matchbox connection in room `room` and waits for its id.
pub async fn connect_matchbox(url: &str, room: &str) -> anyhow::Result<(Ws, String)> {
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(
        format!("{url}/{room}"),
        Some(load::ws_config()),
        true,
    )
    .await
    .context("connect")?;
    while let Some(message) = ws.next().await {
        if let Message::Text(text) = message? {
            let event: Value = serde_json::from_str(&text)?;
            if let Some(id) = event.get("IdAssigned").and_then(Value::as_str) {
                return Ok((ws, id.to_owned()));
            }
        }
    }
    bail!("closed before an id was assigned")
}

/// Connects pair `p`: clients `2p` (offerer) and `2p + 1` (answerer).
pub async fn connect_pair(url: &str, protocol: Protocol, p: usize) -> anyhow::Result<Pair> {
    match protocol {
        Protocol::Frames => {
            let room = load::room_id(p);
            let offerer = load::connect_single(url, 2 * p, room).await?;
            let answerer = load::connect_single(url, 2 * p + 1, room).await?;
            let target = Target::Key {
                room,
                me: offerer.key.verifying_key().to_bytes(),
                peer: answerer.key.verifying_key().to_bytes(),
            };
            Ok(Pair {
                offerer: offerer.ws,
                answerer: answerer.ws,
                target,
            })
        }
        Protocol::Nats => bail!("nats-server is compared on fan-out, not signaling"),
        Protocol::Matchbox => {
            let room = format!("pair-{p}");
            let (mut offerer, _) = connect_matchbox(url, &room).await?;
            let (answerer, answerer_id) = connect_matchbox(url, &room).await?;
            // The server tells the peers already there about a newcomer.
            loop {
                match offerer.next().await {
                    Some(Ok(Message::Text(text))) => {
                        let event: Value = serde_json::from_str(&text)?;
                        if event.get("NewPeer").and_then(Value::as_str) == Some(&answerer_id) {
                            break;
                        }
                    }
                    Some(Ok(_)) => {}
                    _ => bail!("closed before the peer arrived"),
                }
            }
            Ok(Pair {
                offerer,
                answerer,
                target: Target::Uuid(answerer_id),
            })
        }
    }
}

/// The offer (or its answer) as a message: the send time, then padding to
/// `size` bytes of payload.
fn offer(target: &Target, micros: u64, size: usize) -> Message {
    match target {
        Target::Key { room, me, peer } => {
            let mut payload = vec![0u8; size.max(8)];
            payload[..8].copy_from_slice(&micros.to_be_bytes());
            let mut header = FrameHeader::new(FrameKind::Offer, *room, *me);
            header.target = Some(*peer);
            let mut out = BytesMut::with_capacity(payload.len() + 200);
            let _ = encode_with_signature(&header, &payload, &[0; 64], &mut out);
            Message::Binary(out.freeze())
        }
        Target::Uuid(peer) => {
            let mut sdp = micros.to_string();
            sdp.push(' ');
            while sdp.len() < size {
                sdp.push('x');
            }
            Message::text(json!({"Signal": {"receiver": peer, "data": {"Offer": sdp}}}).to_string())
        }
    }
}

/// The answer to a received offer, if `message` is one.
fn answer(message: &Message) -> Option<Message> {
    match message {
        Message::Binary(bytes) => {
            let frame = FrameRef::parse(bytes, MAX_FRAME_LEN).ok()?;
            if frame.header.kind != FrameKind::Offer {
                return None;
            }
            let mut header = FrameHeader::new(
                FrameKind::Answer,
                frame.header.room,
                frame.header.target.unwrap_or_default(),
            );
            header.target = Some(frame.header.sender);
            let mut out = BytesMut::with_capacity(bytes.len());
            let _ = encode_with_signature(&header, frame.payload, &[0; 64], &mut out);
            Some(Message::Binary(out.freeze()))
        }
        Message::Text(text) => {
            let event: Value = serde_json::from_str(text).ok()?;
            let signal = event.get("Signal")?;
            let sender = signal.get("sender")?.as_str()?;
            let sdp = signal.get("data")?.get("Offer")?.as_str()?;
            Some(Message::text(
                json!({"Signal": {"receiver": sender, "data": {"Answer": sdp}}}).to_string(),
            ))
        }
        _ => None,
    }
}

/// The send time an answer carries, if `message` is one.
fn answered_at(message: &Message) -> Option<u64> {
    match message {
        Message::Binary(bytes) => {
            let frame = FrameRef::parse(bytes, MAX_FRAME_LEN).ok()?;
            if frame.header.kind != FrameKind::Answer || frame.payload.len() < 8 {
                return None;
            }
            let mut at = [0u8; 8];
            at.copy_from_slice(&frame.payload[..8]);
            Some(u64::from_be_bytes(at))
        }
        Message::Text(text) => {
            let event: Value = serde_json::from_str(text).ok()?;
            let sdp = event.get("Signal")?.get("data")?.get("Answer")?.as_str()?;
            sdp.split(' ').next()?.parse().ok()
        }
        _ => None,
    }
}

/// Runs a pair until `shared.stop`: the offerer sends `rate` offers per
/// second (`sent`); each answer that comes back counts as delivered, with
/// its round trip as the latency.
pub async fn run_pair(pair: Pair, rate: f64, size: usize, shared: Arc<Shared>) {
    let (mut answer_sink, mut answer_stream) = pair.answerer.split();
    let answerer = {
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            while let Some(Ok(message)) = answer_stream.next().await {
                if let Some(reply) = answer(&message) {
                    if answer_sink.send(reply).await.is_err() {
                        break;
                    }
                }
            }
            if !shared.stop.load(Ordering::Relaxed) {
                shared.disconnects.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let (mut sink, mut stream) = pair.offerer.split();
    let reader = {
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            // A pair sees a few answers a second: each is recorded at once.
            let mut sample = Vec::with_capacity(1);
            while let Some(Ok(message)) = stream.next().await {
                let Some(at) = answered_at(&message) else {
                    continue;
                };
                shared.delivered.fetch_add(1, Ordering::Relaxed);
                sample.push(shared.micros().saturating_sub(at).max(1));
                shared.record(&mut sample);
            }
            if !shared.stop.load(Ordering::Relaxed) {
                shared.disconnects.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let gap = Duration::from_secs_f64(1.0 / rate.max(0.001));
    // Spread the pairs' first offers over one period.
    let jitter = Duration::from_secs_f64(gap.as_secs_f64() * spread(&pair.target));
    tokio::time::sleep(jitter).await;
    let mut next = tokio::time::Instant::now();
    while !shared.stop.load(Ordering::Relaxed) {
        if sink
            .send(offer(&pair.target, shared.micros(), size))
            .await
            .is_err()
        {
            shared.disconnects.fetch_add(1, Ordering::Relaxed);
            break;
        }
        shared.sent.fetch_add(1, Ordering::Relaxed);
        next += gap;
        tokio::time::sleep_until(next).await;
    }
    let _ = sink.close().await;
    reader.abort();
    answerer.abort();
}

/// A number in [0, 1) that differs between pairs (from the target), so
/// pairs do not all send in the same instant.
fn spread(target: &Target) -> f64 {
    let byte = match target {
        Target::Key { peer, .. } => peer[0],
        Target::Uuid(id) => id
            .bytes()
            .fold(0u8, |a, b| a.wrapping_mul(31).wrapping_add(b)),
    };
    f64::from(byte) / 256.0
}

/// Holds a matchbox connection open (answering pings) until `shared.stop`.
pub async fn hold(ws: Ws, shared: Arc<Shared>) {
    let (_sink, mut stream) = ws.split();
    loop {
        tokio::select! {
            next = stream.next() => if !matches!(next, Some(Ok(_))) {
                if !shared.stop.load(Ordering::Relaxed) {
                    shared.disconnects.fetch_add(1, Ordering::Relaxed);
                }
                return;
            },
            () = tokio::time::sleep(Duration::from_millis(50)) => {
                if shared.stop.load(Ordering::Relaxed) {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use matchbox_protocol::{
        JsonPeerEvent, JsonPeerRequest, PeerEvent, PeerId as Uuid, PeerRequest,
    };

    fn text(message: &Message) -> String {
        match message {
            Message::Text(t) => t.to_string(),
            other => panic!("expected text, got {other:?}"),
        }
    }

    #[test]
    fn matchbox_offers_and_answers_use_matchbox_server_types() {
        let offerer: Uuid = uuid(1);
        let answerer: Uuid = uuid(2);
        let offer = offer(&Target::Uuid(answerer.to_string()), 123_456, 64);
        // What the offerer sends parses as matchbox's request...
        let request: JsonPeerRequest = text(&offer).parse().unwrap();
        let PeerRequest::Signal { receiver, data } = request else {
            panic!("not a signal");
        };
        assert_eq!(receiver, answerer);
        // ...and the server forwards it as an event from the offerer.
        let forwarded = Message::text(
            JsonPeerEvent::Signal {
                sender: offerer,
                data,
            }
            .to_string(),
        );
        let reply = answer(&forwarded).expect("an offer is answered");
        let request: JsonPeerRequest = text(&reply).parse().unwrap();
        let PeerRequest::Signal { receiver, data } = request else {
            panic!("not a signal");
        };
        assert_eq!(receiver, offerer);
        let back = Message::text(
            PeerEvent::Signal {
                sender: answerer,
                data,
            }
            .to_string(),
        );
        assert_eq!(answered_at(&back), Some(123_456));
        // An answer is not answered again, and other events are ignored.
        assert!(answer(&back).is_none());
        let new_peer = Message::text(JsonPeerEvent::NewPeer(answerer).to_string());
        assert!(answer(&new_peer).is_none() && answered_at(&new_peer).is_none());
    }

    #[test]
    fn frame_offers_are_answered_to_their_sender_with_the_same_time() {
        let target = Target::Key {
            room: [3; 16],
            me: [1; 32],
            peer: [2; 32],
        };
        let offer = offer(&target, 987, 100);
        let Message::Binary(bytes) = answer(&offer).expect("answered") else {
            panic!("binary");
        };
        let frame = FrameRef::parse(&bytes, MAX_FRAME_LEN).unwrap();
        assert_eq!(frame.header.kind, FrameKind::Answer);
        assert_eq!(frame.header.sender, [2; 32]);
        assert_eq!(frame.header.target, Some([1; 32]));
        assert_eq!(frame.payload.len(), 100);
        assert_eq!(answered_at(&Message::Binary(bytes)), Some(987));
        assert_eq!(answered_at(&offer), None, "an offer is not an answer");
    }

    fn uuid(n: u8) -> Uuid {
        let text = format!("00000000-0000-4000-8000-0000000000{n:02x}");
        serde_json::from_value(serde_json::Value::String(text)).unwrap()
    }
}
