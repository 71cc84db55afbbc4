//! One client connection, generic over the transport: any `Stream` of
//! [`WsIn`] and `Sink` of [`WsOut`] (the axum WebSocket in production,
//! channels in tests).
//!
//! The reader loop (this task) decodes frames and hands them to the hub;
//! a writer task drains the connection's [`Outbox`] to the sink. The two
//! are tied by the outbox's signals: a close decided anywhere (slow
//! consumer, bad input, shutdown) ends both. Every way out is counted and
//! leaves the connection's rooms cleanly.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use shared::codec::{control, FrameError, FrameRef};
use shared::wire::{close, FrameKind, PeerId, Priority, RoomId};
use tokio::time::{sleep_until, Instant};

use crate::hub::{error_frame, relay_frame, Hub, Refusal};
use crate::outbox::Outbox;
use crate::shutdown::Shutdown;

/// What arrives from a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsIn {
    /// A binary message: one frame.
    Binary(Bytes),
    /// A text message (not part of the protocol).
    Text,
    /// A ping or pong (keeps the connection alive).
    Ping,
    /// The client closes.
    Close,
    /// The transport refused a message over the size limit.
    TooBig,
}

/// What goes to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsOut {
    /// One frame.
    Binary(Bytes),
    /// A keep-alive ping.
    Ping,
    /// The relay closes, with a code from `shared::wire::close`.
    Close(u16, String),
}

/// A token bucket: `rate` messages per second on average, `burst` at once.
struct RateLimit {
    tokens: f64,
    rate: f64,
    burst: f64,
    last: Instant,
}

impl RateLimit {
    fn new(rate: u32, burst: u32) -> Self {
        Self {
            tokens: f64::from(burst.max(1)),
            rate: f64::from(rate.max(1)),
            burst: f64::from(burst.max(1)),
            last: Instant::now(),
        }
    }

    fn allow(&mut self) -> bool {
        let now = Instant::now();
        let elapsed = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Frames the writer sends per wake-up before flushing.
const WRITE_BATCH: usize = 64;
/// How long the writer may take to deliver the close frame.
const CLOSE_FLUSH: Duration = Duration::from_secs(1);

/// Serves one connection until it ends.
pub async fn serve<St, Si, E>(hub: Arc<Hub>, mut stream: St, sink: Si, shutdown: Shutdown)
where
    St: Stream<Item = Result<WsIn, E>> + Unpin,
    Si: Sink<WsOut> + Unpin + Send + 'static,
{
    let limits = *hub.limits();
    let metrics = Arc::clone(hub.metrics());
    metrics.connections.inc();
    let conn = hub.next_conn_id();
    let outbox = Arc::new(Outbox::new(
        limits.queue_frames,
        limits.queue_bytes,
        limits.slow_consumer_grace(),
        Arc::clone(&metrics),
    ));
    let mut nonce = [0u8; 32];
    if getrandom::fill(&mut nonce).is_err() {
        outbox.close(close::GOING_AWAY, "no randomness for the join challenge");
    }
    outbox.push(
        Priority::Critical,
        relay_frame(FrameKind::Challenge, [0; 16], 0, &nonce),
    );
    let writer = tokio::spawn(write_loop(
        Arc::clone(&outbox),
        sink,
        limits.ping_interval(),
        Arc::clone(&metrics),
    ));

    let mut state = Conn {
        hub: &hub,
        conn,
        outbox: &outbox,
        nonce,
        identity: None,
        rooms: HashSet::new(),
        rate: RateLimit::new(limits.rate_per_sec, limits.rate_burst),
    };
    // The idle timer is moved only when it fires early, not on every
    // frame: a busy connection costs a clock read per frame instead of a
    // timer-wheel update.
    let idle = limits.idle_timeout();
    let mut last_input = Instant::now();
    let idle_timer = sleep_until(last_input + idle);
    tokio::pin!(idle_timer);
    let stop = shutdown.wait();
    tokio::pin!(stop);
    // Armed only while the outbox is full: idle connections keep no timer.
    let slow_timer = sleep_until(Instant::now());
    tokio::pin!(slow_timer);
    let mut slow_armed = false;
    loop {
        tokio::select! {
            () = outbox.became_full(), if !slow_armed => {
                if let Some(due) = outbox.slow_deadline() {
                    slow_timer.as_mut().reset(due);
                    slow_armed = true;
                }
            }
            () = &mut slow_timer, if slow_armed => {
                if outbox.check_slow() {
                    break;
                }
                // Drained meanwhile (disarm), or full again since (re-arm).
                match outbox.slow_deadline() {
                    Some(due) => slow_timer.as_mut().reset(due),
                    None => slow_armed = false,
                }
            }
            next = stream.next() => match next {
                Some(Ok(message)) => {
                    last_input = Instant::now();
                    if let Err((code, reason, label)) = state.handle(message) {
                        if !label.is_empty() {
                            metrics.reject(label);
                        }
                        outbox.close(code, reason);
                        break;
                    }
                }
                // The transport failed or the client went away.
                Some(Err(_)) | None => break,
            },
            () = outbox.closed() => break,
            () = &mut idle_timer => {
                let due = last_input + idle;
                if due > Instant::now() {
                    idle_timer.as_mut().reset(due);
                    continue;
                }
                metrics.reject("idle");
                outbox.close(close::IDLE, "idle timeout");
                break;
            }
            () = &mut stop => {
                outbox.close(close::GOING_AWAY, "relay shutting down");
                break;
            }
        }
    }
    for room in std::mem::take(&mut state.rooms) {
        if let Some(peer) = state.identity {
            hub.leave(conn, peer, room);
        }
    }
    // A normal end (client closed): close politely too.
    outbox.close(1000, "bye");
    // The writer sends the close frame; a consumer that does not read at
    // all cannot stop us from leaving.
    let mut writer = writer;
    if tokio::time::timeout(CLOSE_FLUSH, &mut writer)
        .await
        .is_err()
    {
        writer.abort();
    }
    metrics.connections.dec();
}

async fn write_loop<Si>(
    outbox: Arc<Outbox>,
    mut sink: Si,
    ping_every: Duration,
    metrics: Arc<crate::metrics::Metrics>,
) where
    Si: Sink<WsOut> + Unpin,
{
    let mut ping = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
    loop {
        loop {
            let batch = outbox.pop_batch(WRITE_BATCH);
            if batch.is_empty() {
                break;
            }
            for frame in batch {
                metrics.bytes_out.inc_by(frame.len() as u64);
                if sink.feed(WsOut::Binary(frame)).await.is_err() {
                    return;
                }
            }
            if sink.flush().await.is_err() {
                return;
            }
        }
        if let Some((code, reason)) = outbox.closing() {
            let _ = sink.send(WsOut::Close(code, reason)).await;
            let _ = sink.close().await;
            return;
        }
        tokio::select! {
            () = outbox.woken() => {}
            _ = ping.tick() => {
                if sink.send(WsOut::Ping).await.is_err() {
                    return;
                }
            }
        }
    }
}

type Fatal = (u16, String, &'static str);

fn fatal(code: u16, reason: impl Into<String>, label: &'static str) -> Fatal {
    (code, reason.into(), label)
}

struct Conn<'a> {
    hub: &'a Hub,
    conn: u64,
    outbox: &'a Arc<Outbox>,
    nonce: [u8; 32],
    identity: Option<PeerId>,
    rooms: HashSet<RoomId>,
    rate: RateLimit,
}

impl Conn<'_> {
    fn refuse(&self, room: RoomId, refusal: Refusal) {
        self.hub.metrics().reject(refusal.label);
        self.outbox.push(
            Priority::Critical,
            error_frame(room, refusal.code, &refusal.reason),
        );
    }

    fn handle(&mut self, message: WsIn) -> Result<(), Fatal> {
        let bytes = match message {
            WsIn::Binary(bytes) => bytes,
            WsIn::Ping => return Ok(()),
            WsIn::Close => return Err(fatal(1000, "bye", "")),
            WsIn::Text => return Err(fatal(close::BAD_FRAME, "frames are binary", "bad_frame")),
            WsIn::TooBig => return Err(fatal(close::TOO_BIG, "frame too large", "too_big")),
        };
        let metrics = self.hub.metrics();
        metrics.frames_in.inc();
        metrics.bytes_in.inc_by(bytes.len() as u64);
        if !self.rate.allow() {
            return Err(fatal(
                close::RATE_LIMITED,
                "too many messages",
                "rate_limited",
            ));
        }
        let frame =
            FrameRef::parse(&bytes, self.hub.limits().max_frame_bytes).map_err(|e| match e {
                FrameError::TooLarge { .. } => fatal(close::TOO_BIG, e.to_string(), "too_big"),
                _ => fatal(close::BAD_FRAME, e.to_string(), "bad_frame"),
            })?;
        let header = frame.header;
        if !header.kind.from_client() {
            return Err(fatal(
                close::BAD_FRAME,
                "relay frames come from the relay",
                "bad_frame",
            ));
        }
        if header.kind == FrameKind::Join {
            return self.join(&frame);
        }
        // Every other frame must come from the key this connection proved.
        if self.identity != Some(header.sender) {
            return Err(fatal(
                close::BAD_FRAME,
                "sender is not this connection's key",
                "bad_frame",
            ));
        }
        let room = header.room;
        let peer = header.sender;
        let result = match header.kind {
            FrameKind::Leave => {
                self.rooms.remove(&room);
                self.hub.leave(self.conn, peer, room);
                Ok(())
            }
            FrameKind::Game => self.hub.validate_game(&frame).and_then(|()| {
                self.hub
                    .broadcast(peer, room, header.priority, bytes.clone())
            }),
            FrameKind::Table => self
                .hub
                .announce_table(peer, room, frame.payload)
                .and_then(|()| {
                    self.hub
                        .broadcast(peer, room, header.priority, bytes.clone())
                }),
            FrameKind::Presence => self.hub.broadcast(peer, room, Priority::Low, bytes.clone()),
            FrameKind::Offer | FrameKind::Answer | FrameKind::Ice | FrameKind::Direct => {
                let target = header.target.unwrap_or_default();
                self.hub
                    .send_to(peer, room, target, header.priority, bytes.clone())
            }
            _ => Ok(()),
        };
        if let Err(refusal) = result {
            self.refuse(room, refusal);
        }
        Ok(())
    }

    fn join(&mut self, frame: &FrameRef<'_>) -> Result<(), Fatal> {
        let bad = |why: &str| fatal(close::BAD_JOIN, why, "bad_join");
        let join = control::Join::decode(frame.payload).map_err(|_| bad("malformed join"))?;
        if join.nonce != self.nonce {
            return Err(bad("join does not answer this connection's challenge"));
        }
        frame
            .verify()
            .map_err(|_| bad("join signature does not match its key"))?;
        let peer = frame.header.sender;
        if self.identity.is_some_and(|id| id != peer) {
            return Err(bad("one connection, one key"));
        }
        let room = frame.header.room;
        if !self.rooms.contains(&room)
            && self.rooms.len() >= self.hub.limits().max_rooms_per_connection
        {
            self.refuse(
                room,
                Refusal {
                    code: shared::wire::error::TOO_MANY_ROOMS,
                    reason: format!(
                        "at most {} rooms per connection",
                        self.hub.limits().max_rooms_per_connection
                    ),
                    label: "too_many_rooms",
                },
            );
            return Ok(());
        }
        self.identity = Some(peer);
        match self
            .hub
            .join(self.conn, peer, self.outbox, room, join.resume_from)
        {
            Ok(()) => {
                self.rooms.insert(room);
            }
            Err(refusal) => self.refuse(room, refusal),
        }
        Ok(())
    }
}
