//! The relay load generator's machinery (the `relay-load` binary drives it).
//!
//! Clients are real WebSocket connections that join properly: they answer
//! the relay's challenge with a signed `Join`. Senders put the send time
//! (microseconds since the run began) in the first 8 bytes of each game
//! frame's payload; receivers turn it into an end-to-end latency. Game
//! frames carry an all-zero signature: the relay routes on the header and
//! does not check game signatures (peers do), so the generator spends its
//! CPU on sending, not on ed25519.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde::Serialize;
use shared::codec::{control, encode_unsigned, encode_with_signature, FrameHeader, FrameRef};
use shared::peer::handshake;
use shared::wire::{FrameKind, Priority, RoomId, MAX_FRAME_LEN};
use shared::SigningKey;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

/// Latencies a reader collects before taking the histograms' locks...
const SAMPLE_BATCH: usize = 32;
/// ...or this long after its last flush, so each second's window stays true.
const SAMPLE_FLUSH: Duration = Duration::from_millis(50);

/// The generator's WebSocket read buffer, bytes.
const READ_BUFFER: usize = 8 * 1024;

/// Encodes an unsigned relay frame (for the baseline relay).
pub fn relay_frame(header: FrameHeader, payload: &[u8]) -> Bytes {
    let mut out = BytesMut::new();
    let _ = encode_unsigned(&header, payload, &mut out);
    out.freeze()
}

/// Room `r` of a run.
pub fn room_id(r: usize) -> RoomId {
    let mut id = [0x10u8; 16];
    id[..8].copy_from_slice(&(r as u64).to_be_bytes());
    id
}

/// Client `i`'s key (deterministic, so runs repeat).
pub fn client_key(i: usize) -> SigningKey {
    let mut secret = [7u8; 32];
    secret[..8].copy_from_slice(&(i as u64).to_be_bytes());
    SigningKey::from_bytes(&secret)
}

/// Counters shared by every client of a run.
pub struct Shared {
    /// When the run started: the clock of the payload timestamps.
    pub origin: Instant,
    /// Frames sent.
    pub sent: AtomicU64,
    /// Frames delivered (received by a client).
    pub delivered: AtomicU64,
    /// Connections the relay closed (or that failed).
    pub disconnects: AtomicU64,
    /// Every latency, in microseconds.
    pub latency: Mutex<Histogram<u64>>,
    /// Latencies of the current second (swapped out each second).
    pub window: Mutex<Histogram<u64>>,
    /// Set when senders should stop.
    pub stop: AtomicBool,
}

impl Shared {
    /// Fresh counters.
    pub fn new() -> anyhow::Result<Arc<Self>> {
        let hist = || Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).context("histogram");
        Ok(Arc::new(Self {
            origin: Instant::now(),
            sent: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            disconnects: AtomicU64::new(0),
            latency: Mutex::new(hist()?),
            window: Mutex::new(hist()?),
            stop: AtomicBool::new(false),
        }))
    }

    /// Records (and clears) a batch of latencies: the histograms' locks
    /// are taken once per batch, not once per frame.
    pub(crate) fn record(&self, samples: &mut Vec<u64>) {
        if samples.is_empty() {
            return;
        }
        if let Ok(mut h) = self.latency.lock() {
            for &us in samples.iter() {
                let _ = h.record(us);
            }
        }
        if let Ok(mut h) = self.window.lock() {
            for &us in samples.iter() {
                let _ = h.record(us);
            }
        }
        samples.clear();
    }

    /// Ends a run: senders stop, frames in flight get `settle` to arrive,
    /// then every client task is ended.
    pub async fn finish(&self, tasks: Vec<tokio::task::JoinHandle<()>>, settle: Duration) {
        self.stop.store(true, Ordering::Relaxed);
        tokio::time::sleep(settle).await;
        for task in tasks {
            task.abort();
        }
    }

    pub(crate) fn micros(&self) -> u64 {
        self.origin.elapsed().as_micros() as u64
    }
}

/// A client WebSocket.
pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A connected, joined client.
pub struct Client {
    /// The socket.
    pub ws: Ws,
    /// Its key.
    pub key: SigningKey,
    /// Its room.
    pub room: RoomId,
    /// Whether it speaks NATS (to nats-server's WebSocket listener: a
    /// subject per room) instead of our frames.
    pub nats: bool,
}

/// The NATS subject of a room.
fn subject(room: &RoomId) -> String {
    format!("room.{}", shared::hex(room))
}

/// Connects client `i` to nats-server's WebSocket listener and subscribes
/// to `room`'s subject (as a user comparing servers would: core NATS, no
/// echo of its own messages, as our clients join without echo).
pub async fn connect_nats(url: &str, i: usize, room: RoomId) -> anyhow::Result<Client> {
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(ws_config()), true)
        .await
        .context("connect")?;
    // INFO first.
    match ws.next().await {
        Some(Ok(Message::Binary(_) | Message::Text(_))) => {}
        _ => bail!("nats-server sent no INFO"),
    }
    let hello = format!(
        "CONNECT {{\"verbose\":false,\"pedantic\":false,\"echo\":false,\"protocol\":1,\"name\":\"load-{i}\"}}\r\nSUB {} 1\r\nPING\r\n",
        subject(&room)
    );
    ws.send(Message::Binary(Bytes::from(hello))).await?;
    // PONG: the subscription is in place.
    let mut stream = NatsStream::default();
    loop {
        match ws.next().await {
            Some(Ok(Message::Binary(bytes))) => stream.push(&bytes),
            Some(Ok(Message::Text(text))) => stream.push(text.as_bytes()),
            Some(Ok(_)) => continue,
            _ => bail!("closed before PONG"),
        }
        while let Some(item) = stream.next() {
            match item {
                Nats::Pong => {
                    return Ok(Client {
                        ws,
                        key: client_key(i),
                        room,
                        nats: true,
                    })
                }
                Nats::Err(e) => bail!("nats-server: {e}"),
                _ => {}
            }
        }
    }
}

/// What nats-server sends, as far as the generator cares.
#[derive(Debug, PartialEq, Eq)]
enum Nats {
    /// A message's payload.
    Msg(Bytes),
    /// `PONG`.
    Pong,
    /// `-ERR`.
    Err(String),
    /// Anything else (`INFO`, `+OK`, `PING`).
    Other,
}

/// The NATS text protocol read from WebSocket messages (a protocol message
/// may span WebSocket messages, and one WebSocket message may hold many).
#[derive(Default)]
struct NatsStream {
    buf: BytesMut,
}

impl NatsStream {
    fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    fn next(&mut self) -> Option<Nats> {
        let line_end = self.buf.windows(2).position(|w| w == b"\r\n")?;
        let line = std::str::from_utf8(&self.buf[..line_end]).unwrap_or("");
        if let Some(rest) = line.strip_prefix("MSG ") {
            // MSG <subject> <sid> [reply-to] <#bytes>
            let len: usize = rest.rsplit(' ').next()?.parse().ok()?;
            let start = line_end + 2;
            if self.buf.len() < start + len + 2 {
                return None;
            }
            let mut whole = self.buf.split_to(start + len + 2);
            let _ = whole.split_to(start);
            whole.truncate(len);
            return Some(Nats::Msg(whole.freeze()));
        }
        let item = if line == "PONG" {
            Nats::Pong
        } else if let Some(e) = line.strip_prefix("-ERR ") {
            Nats::Err(e.to_owned())
        } else {
            Nats::Other
        };
        let _ = self.buf.split_to(line_end + 2);
        Some(item)
    }
}

/// A frame published to a room's subject.
fn nats_publish(room: &RoomId, frame: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(frame.len() + 64);
    out.extend_from_slice(format!("PUB {} {}\r\n", subject(room), frame.len()).as_bytes());
    out.extend_from_slice(frame);
    out.extend_from_slice(b"\r\n");
    out.freeze()
}

/// The generator's WebSocket settings. tungstenite zeroes its whole read
/// buffer before every read; its 128 KiB default made that memset a third
/// of the generator's CPU.
pub fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(READ_BUFFER)
}

/// `url` asking the relay to pack the frames it has queued into one
/// WebSocket message (the readers split them; a relay that does not know
/// the query sends one frame per message, which they read alike).
pub fn packed(url: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}pack=1")
}

/// Connects client `i` and joins `room`, its frames packed (`?pack=1`).
pub async fn connect(url: &str, i: usize, room: RoomId) -> anyhow::Result<Client> {
    join(&packed(url), i, room).await
}

/// Connects client `i` and joins `room`, one frame per message (the
/// signaling pairs read one offer or answer per message).
pub async fn connect_single(url: &str, i: usize, room: RoomId) -> anyhow::Result<Client> {
    join(url, i, room).await
}

async fn join(url: &str, i: usize, room: RoomId) -> anyhow::Result<Client> {
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(ws_config()), true)
        .await
        .context("connect")?;
    let key = client_key(i);
    let challenge = loop {
        match ws.next().await {
            Some(Ok(Message::Binary(bytes))) => {
                let frame = FrameRef::parse(&bytes, MAX_FRAME_LEN)?;
                break handshake::read_challenge(&frame)?;
            }
            Some(Ok(_)) => continue,
            _ => bail!("closed before the challenge"),
        }
    };
    // No history (load, not catch-up), no echo (the figures count what
    // the relay delivers to others).
    let join = handshake::join_frame(&key, &challenge, room, u64::MAX, false);
    ws.send(Message::Binary(join)).await?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Binary(bytes))) => {
                let mut rostered = false;
                for frame in shared::codec::frames(&bytes) {
                    let frame = FrameRef::parse(frame?, MAX_FRAME_LEN)?;
                    match frame.header.kind {
                        FrameKind::Roster => rostered = true,
                        FrameKind::Error => {
                            let (code, reason) =
                                control::decode_error(frame.payload).unwrap_or((0, "?"));
                            bail!("join refused ({code}): {reason}")
                        }
                        _ => {}
                    }
                }
                if rostered {
                    break;
                }
            }
            Some(Ok(_)) => continue,
            _ => bail!("closed before the roster"),
        }
    }
    Ok(Client {
        ws,
        key,
        room,
        nats: false,
    })
}

/// A game frame of `size` payload bytes with the send time in front.
fn game_frame(header: &FrameHeader, size: usize, micros: u64) -> Bytes {
    let mut payload = vec![0u8; size.max(8)];
    payload[..8].copy_from_slice(&micros.to_be_bytes());
    let mut out = BytesMut::with_capacity(size + 160);
    let _ = encode_with_signature(header, &payload, &[0; 64], &mut out);
    out.freeze()
}

/// What a client does once joined.
#[derive(Debug, Clone, Copy)]
pub struct Behaviour {
    /// Frames per second it sends (0: none; `f64::INFINITY`: flat out).
    pub rate: f64,
    /// Payload bytes per frame.
    pub size: usize,
    /// Whether it reads (a slow reader never does).
    pub reads: bool,
    /// The priority of its frames: critical ones (the game's consensus
    /// traffic) are never dropped, so a receiver that cannot take them is
    /// closed as a slow consumer; normal ones are dropped under load.
    pub priority: Priority,
}

/// Runs a joined client until `shared.stop`.
pub async fn run_client(client: Client, behaviour: Behaviour, shared: Arc<Shared>) {
    let header = FrameHeader {
        priority: behaviour.priority,
        ..FrameHeader::new(
            FrameKind::Game,
            client.room,
            client.key.verifying_key().to_bytes(),
        )
    };
    let is_nats = client.nats;
    let (mut sink, mut stream) = client.ws.split();
    let reader = {
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            if !behaviour.reads {
                // Hold the socket open without reading anything.
                while !shared.stop.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                return;
            }
            let mut sampled = 0u64;
            let mut samples = Vec::with_capacity(SAMPLE_BATCH);
            let mut flushed = Instant::now();
            let mut nats = is_nats.then(NatsStream::default);
            let mut take = |bytes: &[u8]| {
                let Ok(frame) = FrameRef::parse(bytes, MAX_FRAME_LEN) else {
                    return;
                };
                if frame.header.kind != FrameKind::Game || frame.payload.len() < 8 {
                    return;
                }
                shared.delivered.fetch_add(1, Ordering::Relaxed);
                // Time 1 in 4 deliveries: enough samples, fewer clock
                // reads and less contention.
                sampled += 1;
                if sampled % 4 == 0 {
                    let mut at = [0u8; 8];
                    at.copy_from_slice(&frame.payload[..8]);
                    let latency = shared
                        .micros()
                        .saturating_sub(u64::from_be_bytes(at))
                        .max(1);
                    samples.push(latency);
                    if samples.len() == SAMPLE_BATCH || flushed.elapsed() >= SAMPLE_FLUSH {
                        shared.record(&mut samples);
                        flushed = Instant::now();
                    }
                }
            };
            while let Some(Ok(message)) = stream.next().await {
                let Message::Binary(bytes) = message else {
                    continue;
                };
                match nats.as_mut() {
                    // One frame, or several packed (`?pack=1`).
                    None => shared::codec::frames(&bytes).flatten().for_each(&mut take),
                    Some(nats) => {
                        nats.push(&bytes);
                        while let Some(item) = nats.next() {
                            if let Nats::Msg(payload) = item {
                                take(&payload);
                            }
                        }
                    }
                }
            }
            shared.record(&mut samples);
            if !shared.stop.load(Ordering::Relaxed) {
                shared.disconnects.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    if behaviour.rate > 0.0 {
        let gap = if behaviour.rate.is_finite() {
            Some(Duration::from_secs_f64(1.0 / behaviour.rate))
        } else {
            None
        };
        // Spread the clients' first sends over one period.
        if let Some(gap) = gap {
            let jitter =
                (client.key.verifying_key().to_bytes()[0] as u64 * gap.as_micros() as u64) / 256;
            tokio::time::sleep(Duration::from_micros(jitter)).await;
        }
        let mut next = tokio::time::Instant::now();
        while !shared.stop.load(Ordering::Relaxed) {
            let mut frame = game_frame(&header, behaviour.size, shared.micros());
            if client.nats {
                frame = nats_publish(&client.room, &frame);
            }
            if sink.send(Message::Binary(frame)).await.is_err() {
                shared.disconnects.fetch_add(1, Ordering::Relaxed);
                break;
            }
            shared.sent.fetch_add(1, Ordering::Relaxed);
            match gap {
                Some(gap) => {
                    next += gap;
                    tokio::time::sleep_until(next).await;
                }
                None => tokio::task::yield_now().await,
            }
        }
    } else {
        while !shared.stop.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let _ = sink.close().await;
    reader.abort();
}

/// Resident memory and CPU time of a process, from `/proc`.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ProcSample {
    /// Resident set size, KiB.
    pub rss_kib: u64,
    /// User + system CPU time, in clock ticks.
    pub cpu_ticks: u64,
}

/// Reads `/proc/<pid>`; `None` if the process is gone or not on Linux.
pub fn proc_sample(pid: u32) -> Option<ProcSample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(ProcSample {
        rss_kib,
        cpu_ticks: utime + stime,
    })
}

/// One second of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Tick {
    /// Seconds since the traffic started.
    pub second: u64,
    /// Frames delivered in that second.
    pub delivered: u64,
    /// Median latency in that second, µs.
    pub p50_us: u64,
    /// 99th percentile latency in that second, µs.
    pub p99_us: u64,
    /// Relay RSS at the end of that second, KiB.
    pub relay_rss_kib: Option<u64>,
}

/// Draws deliveries per second and p99 latency over time as an SVG.
pub fn plot(ticks: &[Tick], title: &str, path: &std::path::Path) -> anyhow::Result<()> {
    use plotters::prelude::*;
    let root = SVGBackend::new(path, (900, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, bottom) = root.split_vertically(300);
    let max_s = ticks.len().max(1) as u64;
    let max_d = ticks.iter().map(|t| t.delivered).max().unwrap_or(1).max(1);
    let mut chart = ChartBuilder::on(&top)
        .caption(
            format!("{title}: deliveries per second"),
            ("sans-serif", 18),
        )
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(70)
        .build_cartesian_2d(0u64..max_s, 0u64..max_d + max_d / 10)?;
    chart.configure_mesh().x_desc("second").draw()?;
    chart.draw_series(LineSeries::new(
        ticks.iter().map(|t| (t.second, t.delivered)),
        &BLUE,
    ))?;
    let max_l = ticks.iter().map(|t| t.p99_us).max().unwrap_or(1).max(1);
    let mut chart = ChartBuilder::on(&bottom)
        .caption("latency (µs): p50 green, p99 red", ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(70)
        .build_cartesian_2d(0u64..max_s, 0u64..max_l + max_l / 10)?;
    chart.configure_mesh().x_desc("second").draw()?;
    chart.draw_series(LineSeries::new(
        ticks.iter().map(|t| (t.second, t.p99_us)),
        &RED,
    ))?;
    chart.draw_series(LineSeries::new(
        ticks.iter().map(|t| (t.second, t.p50_us)),
        &GREEN,
    ))?;
    root.present()?;
    Ok(())
}

/// The consensus round trip: `players` participants (the first is the
/// banker; every other keeps a stake, so takes part in every roll) in one
/// room play `rolls` rolls through the relay with real
/// sessions (signed commitments and reveals, every message verified by
/// every peer). Returns each roll's time from the shooter's `roll()` to
/// the shooter holding the settled roll (which needs every reveal).
pub async fn run_consensus(
    urls: &[String],
    players: usize,
    rolls: usize,
) -> anyhow::Result<Vec<Duration>> {
    use shared::peer::{Destination, Peer, PeerEvent};
    use shared::session::{Event, GameConfig, LocalAction};
    use tokio::sync::Notify;

    let room = room_id(0xC0_5E);
    let banker = client_key(1_000_000).verifying_key().to_bytes();
    let config = GameConfig::new(room, banker, 1_000_000_000);
    let times = Arc::new(Mutex::new(Vec::new()));
    let done = Arc::new(Notify::new());
    // The house opens the table before its players come, as it does in
    // the page (it shares the table's link once open).
    let (opened, house_in) = tokio::sync::oneshot::channel::<()>();
    let mut opened = Some(opened);
    let mut house_in = Some(house_in);
    let mut tasks = Vec::new();
    for p in 0..players {
        if p == 1 {
            if let Some(house_in) = house_in.take() {
                let _ = tokio::time::timeout(Duration::from_secs(10), house_in).await;
            }
        }
        let index = if p == 0 { 1_000_000 } else { 1_000_000 + p };
        // Several relays: the players spread over them.
        let url = &urls[p % urls.len()];
        let (ws, _) =
            tokio_tungstenite::connect_async_with_config(packed(url), Some(ws_config()), true)
                .await
                .context("connect")?;
        let times = Arc::clone(&times);
        let done = Arc::clone(&done);
        let mut opened = if p == 0 { opened.take() } else { None };
        tasks.push(tokio::spawn(async move {
            let origin = Instant::now();
            let now = || origin.elapsed().as_millis() as u64;
            let (mut sink, mut stream) = ws.split();
            let mut entropy = [0u8; 32];
            let _ = getrandom::fill(&mut entropy);
            let key = client_key(index);
            let me = key.verifying_key().to_bytes();
            let mut peer = Peer::new(key);
            peer.connection_opened();
            peer.join_table(room, entropy, (me == banker).then_some(config));
            let mut rolled_at: Option<Instant> = None;
            loop {
                // Events first: a roll settled by the last input must be
                // timed before the next one starts.
                while let Some(event) = peer.poll_event() {
                    match event {
                        PeerEvent::Roster { .. } => {
                            if let Some(opened) = opened.take() {
                                let _ = opened.send(());
                            }
                        }
                        PeerEvent::TableOpened { .. } => {
                            let sit = LocalAction::Sit { buy_in: 1_000_000 };
                            let _ = peer.act(now(), room, sit);
                        }
                        PeerEvent::Game {
                            event: Event::Rolled(_),
                            ..
                        } => {
                            if let Some(at) = rolled_at.take() {
                                if let Ok(mut t) = times.lock() {
                                    t.push(at.elapsed());
                                }
                            }
                        }
                        _ => {}
                    }
                }
                let Some(session) = peer.session(&room) else {
                    if !pump(&mut peer, &mut sink, &mut stream, now).await {
                        return;
                    }
                    continue;
                };
                if session.history().len() >= rolls {
                    // Pass on what is still queued (our reveal) before leaving.
                    while let Some(t) = peer.poll_transmit() {
                        if t.to != Destination::Peers {
                            let _ = sink.send(Message::Binary(t.frame)).await;
                        }
                    }
                    done.notify_waiters();
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    return;
                }
                // Every player keeps a stake on the table (a seat with
                // nothing at stake takes no part in the dice): a place bet
                // on 6, placed again after a seven takes it.
                let table = session.table();
                let needs_stake = me != banker && table.is_seated(&me) && !table.has_stake(&me);
                let staked = table.seats().iter().all(|s| table.has_stake(&s.player));
                let everyone = table.seats().len() == players - 1;
                let shooting = table.shooter() == Some(me);
                let betting = session.is_betting();
                if needs_stake && betting {
                    let bet = LocalAction::Bet {
                        kind: shared::craps::BetKind::Place(6),
                        stake: 6,
                    };
                    let _ = peer.act(now(), room, bet);
                }
                // Roll when it is our turn, everyone is seated with a stake
                // and there are rolls left to play.
                if everyone
                    && staked
                    && betting
                    && shooting
                    && rolled_at.is_none()
                    && peer.act(now(), room, LocalAction::Roll).is_ok()
                {
                    rolled_at = Some(Instant::now());
                }
                if !pump(&mut peer, &mut sink, &mut stream, now).await {
                    return;
                }
            }
        }));
    }
    for task in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(120), task).await;
    }
    let times = times.lock().map(|t| t.clone()).unwrap_or_default();
    Ok(times)
}

/// One turn of driving a [`shared::peer::Peer`] over a WebSocket: sends
/// what it has for the relay, then hands it the next frame (or the time,
/// after 20 ms of quiet). Returns false once the socket is gone.
async fn pump<Si, St>(
    peer: &mut shared::peer::Peer,
    sink: &mut Si,
    stream: &mut St,
    now: impl Fn() -> u64,
) -> bool
where
    Si: futures_util::Sink<Message> + Unpin,
    St: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    while let Some(t) = peer.poll_transmit() {
        if t.to != shared::peer::Destination::Peers
            && sink.send(Message::Binary(t.frame)).await.is_err()
        {
            return false;
        }
    }
    match tokio::time::timeout(Duration::from_millis(20), stream.next()).await {
        Ok(Some(Ok(Message::Binary(bytes)))) => {
            let _ = peer.handle_message(now(), &bytes);
            true
        }
        Ok(Some(Ok(_))) => true,
        Ok(_) => false,
        Err(_) => {
            peer.handle_timeout(now());
            true
        }
    }
}
