//! What operators read: one `info` line for each connection opened or
//! closed, each join, each refusal (with the peer's address, its key, the
//! room and the reason), rate-limited so that a flood cannot fill a disk.
//!
//! One token bucket for the whole process ([`LINES_PER_SEC`] on average,
//! [`LINES_BURST`] at once). Lines over the budget are not written but
//! counted: the next line written says how many were left out
//! (`suppressed`). Counters in `/metrics` stay exact either way.
//!
//! The bucket's `Mutex` is a leaf lock: nothing else is locked while it is
//! held, and it may be taken under a room's lock.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use shared::wire::{PeerId, RoomId};

/// Log lines per second on average.
pub const LINES_PER_SEC: f64 = 50.0;
/// Log lines at once above the average.
pub const LINES_BURST: f64 = 200.0;

struct Bucket {
    tokens: f64,
    last: Option<Instant>,
    suppressed: u64,
}

static BUCKET: Mutex<Bucket> = Mutex::new(Bucket {
    tokens: LINES_BURST,
    last: None,
    suppressed: 0,
});

/// Whether a line may be written now; if so, how many were left out since
/// the last one written.
fn admit() -> Option<u64> {
    let mut bucket = BUCKET.lock().ok()?;
    let now = Instant::now();
    let elapsed = bucket
        .last
        .map_or(Duration::ZERO, |last| now.duration_since(last));
    bucket.last = Some(now);
    bucket.tokens = (bucket.tokens + elapsed.as_secs_f64() * LINES_PER_SEC).min(LINES_BURST);
    if bucket.tokens >= 1.0 {
        bucket.tokens -= 1.0;
        Some(std::mem::take(&mut bucket.suppressed))
    } else {
        bucket.suppressed += 1;
        None
    }
}

/// A short printable prefix of a key or room id.
fn short(id: &[u8]) -> String {
    id.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// Who a line is about.
#[derive(Debug, Clone, Copy)]
pub struct Who<'a> {
    /// The relay's connection number.
    pub conn: u64,
    /// The client's address, when known.
    pub addr: Option<SocketAddr>,
    /// The key the connection proved, once it joined.
    pub peer: Option<&'a PeerId>,
}

impl Who<'_> {
    fn addr(&self) -> String {
        self.addr.map_or_else(|| "-".into(), |a| a.to_string())
    }

    fn peer(&self) -> String {
        self.peer.map_or_else(|| "-".into(), |p| short(p))
    }
}

/// A WebSocket connection was opened.
pub fn opened(who: Who<'_>) {
    if let Some(suppressed) = admit() {
        tracing::info!(conn = who.conn, addr = %who.addr(), suppressed, "connection opened");
    }
}

/// A connection ended.
pub fn closed(who: Who<'_>, code: u16, reason: &str, why: &str, lasted: Duration) {
    if let Some(suppressed) = admit() {
        tracing::info!(
            conn = who.conn,
            addr = %who.addr(),
            peer = %who.peer(),
            code,
            reason,
            why,
            secs = lasted.as_secs_f64(),
            suppressed,
            "connection closed"
        );
    }
}

/// A peer joined (or resumed in) a room.
pub fn joined(who: Who<'_>, room: &RoomId, resume_from: u64) {
    if let Some(suppressed) = admit() {
        tracing::info!(
            conn = who.conn,
            addr = %who.addr(),
            peer = %who.peer(),
            room = %short(room),
            resume_from,
            suppressed,
            "joined"
        );
    }
}

/// Something was refused: a request, a frame or a whole connection.
pub fn refused(who: Who<'_>, room: Option<&RoomId>, reason: &str) {
    if let Some(suppressed) = admit() {
        tracing::info!(
            conn = who.conn,
            addr = %who.addr(),
            peer = %who.peer(),
            room = %room.map_or_else(|| "-".into(), |r| short(r)),
            reason,
            suppressed,
            "refused"
        );
    }
}

/// The most of a client-given string (an `Origin` header, say) a line
/// carries: rate-limited lines must be bounded in bytes too.
const MAX_DETAIL: usize = 100;

/// `text` cut to [`MAX_DETAIL`] characters, control characters escaped.
fn bounded(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(MAX_DETAIL)
        .flat_map(char::escape_default)
        .collect();
    if text.chars().count() > MAX_DETAIL {
        out.push('…');
    }
    out
}

/// An upgrade request refused before it became a connection.
pub fn refused_upgrade(addr: Option<SocketAddr>, reason: &str, detail: &str) {
    if let Some(suppressed) = admit() {
        let detail = bounded(detail);
        tracing::info!(
            addr = %addr.map_or_else(|| "-".into(), |a| a.to_string()),
            reason,
            %detail,
            suppressed,
            "connection refused"
        );
    }
}
