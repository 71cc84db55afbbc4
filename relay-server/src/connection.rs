//! One client connection, generic over the transport: any `Stream` of
//! [`WsIn`] and `Sink` of [`WsOut`] (the upgraded socket of `socket.rs` in
//! production, channels in tests).
//!
//! The reader loop (this task) decodes frames and hands them to the hub;
//! a writer task drains the connection's [`Outbox`] to the sink. The two
//! are tied by the outbox's signals: a close decided anywhere (slow
//! consumer, bad input, shutdown) ends both. Every way out is counted,
//! logged and leaves the connection's rooms cleanly.
//!
//! Liveness is judged on frames, not on pings or pongs (a client that only
//! answers pings is not taking part): a connection that has joined no room
//! within the join timeout, or sends no frame within the idle timeout, is
//! closed; a member that sends nothing to one of its rooms within the room
//! idle timeout is removed from that room. Every message, pings and pongs
//! included, counts against the rate limit.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use shared::codec::{control, FrameError, FrameRef};
use shared::peer::listing;
use shared::wire::{close, FrameKind, PeerId, Priority, RoomId};
use tokio::time::{sleep_until, Instant};

use crate::log::Who;
use crate::outbox::Outbox;
use crate::rooms::{error_frame, relay_frame, Hub, Refusal};
use crate::shutdown::Shutdown;

/// What arrives from a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsIn {
    /// A binary message: one frame.
    Binary(Bytes),
    /// A text message (not part of the protocol).
    Text,
    /// A ping (answered by the transport).
    Ping,
    /// A pong (the answer to the relay's ping).
    Pong,
    /// The client closes.
    Close,
    /// The transport refused a message over the size limit.
    TooBig,
    /// A text message that is not UTF-8.
    BadUtf8,
    /// The client broke the WebSocket protocol (what it did).
    ProtocolViolation(String),
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

/// A token bucket: `rate` tokens per second on average, `burst` at once;
/// a message costs one token (messages) or its length (bytes).
struct RateLimit {
    tokens: f64,
    rate: f64,
    burst: f64,
    last: Instant,
}

impl RateLimit {
    fn new(rate: u64, burst: u64) -> Self {
        Self {
            tokens: burst.max(1) as f64,
            rate: rate.max(1) as f64,
            burst: burst.max(1) as f64,
            last: Instant::now(),
        }
    }

    fn allow(&mut self, cost: f64, now: Instant) -> bool {
        let elapsed = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= cost {
            self.tokens -= cost;
            true
        } else {
            false
        }
    }
}

/// Frames the writer sends per wake-up before flushing.
const WRITE_BATCH: usize = 64;
/// The most bytes the writer packs into one WebSocket message.
pub const PACK_BYTES: usize = 64 * 1024;

/// How the writer sends frames: one per WebSocket message, or (for a
/// client that asked, `/ws?pack=1`) every frame queued at once packed
/// into one message, up to [`PACK_BYTES`] (each frame says its own
/// length; a frame alone is sent as it is, so a quiet connection's
/// latency does not change).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pack {
    /// One frame per message.
    Single,
    /// What is queued, packed.
    Queued,
}
/// How long the writer may take to deliver the close frame.
const CLOSE_FLUSH: Duration = Duration::from_secs(1);

/// Serves one connection until it ends. Returns the transport's two halves
/// when the writer handed its half back (it did not, if the client stopped
/// reading and the close frame could not be delivered), so that the caller
/// may linger on the socket.
pub async fn serve<St, Si, E>(
    hub: Arc<Hub>,
    addr: Option<SocketAddr>,
    mut stream: St,
    sink: Si,
    shutdown: Shutdown,
    pack: Pack,
) -> Option<(St, Si)>
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
        limits.drop_strategy.strategy(),
        limits.slow_consumer_grace(),
        Arc::clone(&metrics),
    ));
    let mut nonce = [0u8; 32];
    if getrandom::fill(&mut nonce).is_err() {
        outbox.close(close::GOING_AWAY, "no randomness for the join challenge");
    }
    outbox.push(
        Priority::Critical,
        relay_frame(
            FrameKind::Challenge,
            [0; 16],
            0,
            &control::Challenge {
                nonce,
                epoch: hub.epoch(),
            }
            .encode(),
        ),
    );
    let writer = tokio::spawn(write_loop(
        Arc::clone(&outbox),
        sink,
        limits.ping_interval(),
        Arc::clone(&metrics),
        pack,
    ));

    let opened = Instant::now();
    crate::log::opened(Who {
        conn,
        addr,
        peer: None,
    });
    let mut state = Conn {
        hub: &hub,
        conn,
        addr,
        outbox: &outbox,
        nonce,
        identity: None,
        rooms: HashMap::new(),
        rate: RateLimit::new(limits.rate_per_sec.into(), limits.rate_burst.into()),
        bytes: RateLimit::new(limits.rate_bytes_per_sec, limits.rate_bytes_burst),
        last_frame: opened,
        without_room_since: Some(opened),
    };
    // The liveness timer is moved later only when it fires early, not on
    // every frame: a busy connection costs a clock read per frame instead
    // of a timer-wheel update. It is moved earlier at once.
    let liveness = sleep_until(state.next_check(&limits));
    tokio::pin!(liveness);
    let stop = shutdown.wait();
    tokio::pin!(stop);
    // Armed only while the outbox is full: idle connections keep no timer.
    let slow_timer = sleep_until(Instant::now());
    tokio::pin!(slow_timer);
    let mut slow_armed = false;
    let why = loop {
        tokio::select! {
            () = outbox.became_full(), if !slow_armed => {
                if let Some(due) = outbox.slow_deadline() {
                    slow_timer.as_mut().reset(due);
                    slow_armed = true;
                }
            }
            () = &mut slow_timer, if slow_armed => {
                if outbox.check_slow() {
                    break "slow consumer";
                }
                // Drained meanwhile (disarm), or full again since (re-arm).
                match outbox.slow_deadline() {
                    Some(due) => slow_timer.as_mut().reset(due),
                    None => slow_armed = false,
                }
            }
            next = stream.next() => match next {
                Some(Ok(message)) => {
                    if let Err((code, reason, label)) = state.handle(message) {
                        if !label.is_empty() {
                            metrics.reject(label);
                        }
                        outbox.close(code, reason);
                        break if label.is_empty() { "client closed" } else { label };
                    }
                    // A deadline that came closer (it left its last room, or
                    // joined one whose idle timeout ends before the others).
                    let due = state.next_check(&limits);
                    if due < liveness.deadline() {
                        liveness.as_mut().reset(due);
                    }
                }
                // The transport failed or the client went away.
                Some(Err(_)) | None => break "client went away",
            },
            () = outbox.closed() => break "closed",
            () = &mut liveness => {
                let now = Instant::now();
                if let Some((code, reason, label)) = state.check_liveness(now, &limits) {
                    metrics.reject(label);
                    outbox.close(code, reason);
                    break label;
                }
                liveness.as_mut().reset(state.next_check(&limits));
            }
            () = &mut stop => {
                outbox.close(close::GOING_AWAY, "relay shutting down");
                break "shutdown";
            }
        }
    };
    if let Some(peer) = state.identity {
        for room in std::mem::take(&mut state.rooms).into_keys() {
            hub.leave(conn, peer, room);
        }
    }
    // A normal end (client closed): close politely too.
    outbox.close(1000, "bye");
    let (code, reason) = outbox.closing().unwrap_or((1000, String::new()));
    crate::log::closed(state.who(), code, &reason, why, opened.elapsed());
    // The writer sends the close frame; a consumer that does not read at
    // all cannot stop us from leaving.
    let mut writer = writer;
    let sink = match tokio::time::timeout(CLOSE_FLUSH, &mut writer).await {
        Ok(joined) => joined.ok(),
        Err(_) => {
            writer.abort();
            None
        }
    };
    metrics.connections.dec();
    sink.map(|sink| (stream, sink))
}

/// Drains the outbox to the sink until the connection closes; hands the
/// sink back.
async fn write_loop<Si>(
    outbox: Arc<Outbox>,
    mut sink: Si,
    ping_every: Duration,
    metrics: Arc<crate::metrics::Metrics>,
    pack: Pack,
) -> Si
where
    Si: Sink<WsOut> + Unpin,
{
    let mut ping = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
    loop {
        loop {
            let batch = outbox.pop_batch(WRITE_BATCH);
            if batch.is_empty() {
                break;
            }
            for message in messages(batch, pack) {
                metrics.bytes_out.inc_by(message.len() as u64);
                metrics.messages_out.inc();
                if sink.feed(WsOut::Binary(message)).await.is_err() {
                    return sink;
                }
            }
            if sink.flush().await.is_err() {
                return sink;
            }
        }
        if let Some((code, reason)) = outbox.closing() {
            let _ = sink.send(WsOut::Close(code, reason)).await;
            let _ = sink.close().await;
            return sink;
        }
        tokio::select! {
            () = outbox.woken() => {}
            _ = ping.tick() => {
                if sink.send(WsOut::Ping).await.is_err() {
                    return sink;
                }
            }
        }
    }
}

/// The WebSocket messages for `batch`: each frame alone, or packed.
fn messages(batch: Vec<Bytes>, pack: Pack) -> Vec<Bytes> {
    if pack == Pack::Single || batch.len() < 2 {
        return batch;
    }
    let mut out = Vec::new();
    let mut packed = BytesMut::new();
    for frame in batch {
        if !packed.is_empty() && packed.len() + frame.len() > PACK_BYTES {
            out.push(packed.split().freeze());
        }
        packed.extend_from_slice(&frame);
    }
    if !packed.is_empty() {
        out.push(packed.freeze());
    }
    out
}

type Fatal = (u16, String, &'static str);

fn fatal(code: u16, reason: impl Into<String>, label: &'static str) -> Fatal {
    (code, reason.into(), label)
}

struct Conn<'a> {
    hub: &'a Hub,
    conn: u64,
    addr: Option<SocketAddr>,
    outbox: &'a Arc<Outbox>,
    nonce: [u8; 32],
    identity: Option<PeerId>,
    /// The rooms joined, each with the last time this connection sent a
    /// frame to it.
    rooms: HashMap<RoomId, Instant>,
    rate: RateLimit,
    /// The same in bytes: the fan-out multiplies what a member sends.
    bytes: RateLimit,
    /// When the client last sent a frame (pings and pongs do not count).
    last_frame: Instant,
    /// Since when the connection has been in no room (`None` while in one).
    without_room_since: Option<Instant>,
}

impl Conn<'_> {
    fn who(&self) -> Who<'_> {
        Who {
            conn: self.conn,
            addr: self.addr,
            peer: self.identity.as_ref(),
        }
    }

    fn refuse(&self, room: RoomId, refusal: Refusal) {
        self.hub.metrics().reject(refusal.label);
        crate::log::refused(self.who(), Some(&room), refusal.label);
        self.outbox.push(
            Priority::Critical,
            error_frame(room, refusal.code, &refusal.reason),
        );
    }

    /// When the next liveness check is due.
    fn next_check(&self, limits: &crate::config::Limits) -> Instant {
        let mut due = self.last_frame + limits.idle_timeout();
        if let Some(since) = self.without_room_since {
            due = due.min(since + limits.join_timeout());
        }
        if let Some(oldest) = self.rooms.values().min() {
            due = due.min(*oldest + limits.room_idle_timeout());
        }
        due
    }

    /// Applies the join, idle and room-idle timeouts at `now`: members
    /// silent in a room for too long leave it (with an `Error` frame);
    /// returns why the connection must close, if it must.
    fn check_liveness(&mut self, now: Instant, limits: &crate::config::Limits) -> Option<Fatal> {
        if now >= self.last_frame + limits.idle_timeout() {
            return Some(fatal(
                close::IDLE,
                "idle timeout: no frame received",
                "idle",
            ));
        }
        if self
            .without_room_since
            .is_some_and(|since| now >= since + limits.join_timeout())
        {
            return Some(fatal(
                close::JOIN_TIMEOUT,
                "no room joined in time",
                "join_timeout",
            ));
        }
        let silent: Vec<RoomId> = self
            .rooms
            .iter()
            .filter(|(_, last)| now >= **last + limits.room_idle_timeout())
            .map(|(room, _)| *room)
            .collect();
        for room in silent {
            self.leave(room, now);
            self.hub.metrics().reject("room_idle");
            crate::log::refused(self.who(), Some(&room), "room_idle");
            self.outbox.push(
                Priority::Critical,
                error_frame(
                    room,
                    shared::wire::error::ROOM_IDLE,
                    &format!(
                        "removed from the room: nothing sent to it for {} s",
                        limits.room_idle_timeout_secs
                    ),
                ),
            );
        }
        None
    }

    fn leave(&mut self, room: RoomId, now: Instant) {
        if self.rooms.remove(&room).is_some() {
            if let Some(peer) = self.identity {
                self.hub.leave(self.conn, peer, room);
            }
        }
        if self.rooms.is_empty() && self.without_room_since.is_none() {
            self.without_room_since = Some(now);
        }
    }

    fn handle(&mut self, message: WsIn) -> Result<(), Fatal> {
        let bytes = match message {
            WsIn::Binary(bytes) => bytes,
            WsIn::Ping | WsIn::Pong => {
                return if self.rate.allow(1.0, Instant::now()) {
                    Ok(())
                } else {
                    Err(fatal(
                        close::RATE_LIMITED,
                        "too many messages",
                        "rate_limited",
                    ))
                };
            }
            WsIn::Close => return Err(fatal(1000, "bye", "")),
            WsIn::Text => return Err(fatal(close::BAD_FRAME, "frames are binary", "bad_frame")),
            WsIn::TooBig => {
                return Err(fatal(
                    close::TOO_BIG,
                    format!(
                        "message larger than {} bytes",
                        self.hub.limits().max_frame_bytes
                    ),
                    "too_big",
                ))
            }
            WsIn::BadUtf8 => {
                return Err(fatal(close::INVALID_DATA, "text is not UTF-8", "bad_utf8"))
            }
            WsIn::ProtocolViolation(what) => {
                return Err(fatal(close::PROTOCOL_ERROR, what, "protocol_error"))
            }
        };
        let now = Instant::now();
        self.last_frame = now;
        let metrics = self.hub.metrics();
        metrics.frames_in.inc();
        metrics.bytes_in.inc_by(bytes.len() as u64);
        if !self.rate.allow(1.0, now) {
            return Err(fatal(
                close::RATE_LIMITED,
                "too many messages",
                "rate_limited",
            ));
        }
        if !self.bytes.allow(bytes.len() as f64, now) {
            return Err(fatal(close::RATE_LIMITED, "too many bytes", "rate_limited"));
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
        if let Some(last) = self.rooms.get_mut(&room) {
            *last = now;
        }
        let conn = self.conn;
        let result = match header.kind {
            FrameKind::Leave => {
                self.leave(room, now);
                Ok(())
            }
            // Only members' frames reach the validator.
            _ if !self.rooms.contains_key(&room) => Err(Refusal::not_in_room()),
            FrameKind::Game => {
                let hub = &self.hub;
                hub.broadcast_checked(conn, peer, room, header.priority, bytes.clone(), |time| {
                    hub.validate_game(&frame, time)
                })
            }
            FrameKind::Table => self
                .hub
                .announce_table(peer, room, frame.payload)
                .and_then(|()| {
                    self.hub
                        .broadcast(conn, peer, room, header.priority, bytes.clone())
                }),
            FrameKind::Presence if frame.payload.first() == Some(&listing::LISTING) => {
                self.hub.list_table(conn, peer, room, frame.payload)
            }
            FrameKind::Presence => {
                self.hub
                    .announce(conn, peer, room, bytes.clone(), frame.payload.is_empty())
            }
            FrameKind::Offer | FrameKind::Answer | FrameKind::Ice | FrameKind::Direct => {
                let target = header.target.unwrap_or_default();
                self.hub
                    .send_to(conn, peer, room, target, header.priority, bytes.clone())
            }
            _ => Ok(()),
        };
        if let Err(refusal) = result {
            if refusal.code == shared::wire::error::NOT_IN_ROOM
                && self.rooms.remove(&room).is_some()
            {
                // Its key joined this room from another connection since:
                // this one is no longer in it (and may join it again).
                if self.rooms.is_empty() {
                    self.without_room_since = Some(now);
                }
            }
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
        if self.rooms.contains_key(&room) {
            // It has the room's history already: a second join would only
            // have the relay replay it again (a 146-byte frame buying up to
            // the whole window of output).
            self.refuse(
                room,
                Refusal::new(
                    shared::wire::error::ALREADY_JOINED,
                    "already_joined",
                    "already in this room on this connection",
                ),
            );
            return Ok(());
        }
        if self.rooms.len() >= self.hub.limits().max_rooms_per_connection {
            self.refuse(
                room,
                Refusal::new(
                    shared::wire::error::TOO_MANY_ROOMS,
                    "too_many_rooms",
                    format!(
                        "at most {} rooms per connection",
                        self.hub.limits().max_rooms_per_connection
                    ),
                ),
            );
            return Ok(());
        }
        self.identity = Some(peer);
        match self.hub.join(
            self.conn,
            peer,
            self.outbox,
            room,
            join.resume_from,
            join.echo,
        ) {
            Ok(()) => {
                self.rooms.insert(room, Instant::now());
                self.without_room_since = None;
                crate::log::joined(self.who(), &room, join.resume_from);
            }
            Err(refusal) => self.refuse(room, refusal),
        }
        Ok(())
    }
}
