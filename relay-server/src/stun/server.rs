//! The relay's STUN server: answers Binding requests on UDP with the
//! requester's address (XOR-MAPPED-ADDRESS), SOFTWARE and FINGERPRINT.
//!
//! A STUN server is an amplification vector (a spoofed source gets the
//! answers), so each source IP gets a token bucket; requests over it are
//! dropped and counted. The bucket table is bounded: when full, buckets
//! idle for a while are swept.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use prometheus::IntCounterVec;
use shared::stun::message::{binding_error, binding_success, Class, StunMessage, METHOD_BINDING};
use tokio::net::UdpSocket;
use tokio::time::Instant;

use crate::shutdown::Shutdown;

/// What the server advertises in SOFTWARE.
pub const SOFTWARE: &str = concat!("BitCraps relay ", env!("CARGO_PKG_VERSION"));

/// Most source addresses tracked by the rate limiter at once.
const MAX_SOURCES: usize = 65_536;

struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Per-source token buckets.
struct Limiter {
    rate: f64,
    burst: f64,
    buckets: HashMap<IpAddr, Bucket>,
}

impl Limiter {
    fn allow(&mut self, ip: IpAddr) -> bool {
        let now = Instant::now();
        if self.buckets.len() >= MAX_SOURCES && !self.buckets.contains_key(&ip) {
            let idle = Duration::from_secs_f64(self.burst / self.rate);
            self.buckets
                .retain(|_, b| now.duration_since(b.last) < idle);
            if self.buckets.len() >= MAX_SOURCES {
                return false;
            }
        }
        let (rate, burst) = (self.rate, self.burst);
        let bucket = self.buckets.entry(ip).or_insert(Bucket {
            tokens: burst,
            last: now,
        });
        bucket.tokens =
            (bucket.tokens + now.duration_since(bucket.last).as_secs_f64() * rate).min(burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// What to answer to one datagram, if anything; the label says why not.
pub fn answer(packet: &[u8], source: SocketAddr) -> Result<Vec<u8>, &'static str> {
    let msg = StunMessage::parse(packet).map_err(|_| "malformed")?;
    if msg.class != Class::Request || msg.method != METHOD_BINDING {
        return Err("not_a_binding_request");
    }
    if !msg.unknown_required.is_empty() {
        return Ok(binding_error(msg.transaction_id, 420, "Unknown Attribute"));
    }
    Ok(binding_success(msg.transaction_id, source, SOFTWARE))
}

/// Serves Binding requests on `socket` until `shutdown`. `events` counts
/// `request`, `response` and drops by reason (`rate_limited`,
/// `malformed`, `not_a_binding_request`, `send_failed`).
pub async fn run(
    socket: Arc<UdpSocket>,
    rate_per_sec: u32,
    events: IntCounterVec,
    shutdown: Shutdown,
) {
    let mut limiter = Limiter {
        rate: f64::from(rate_per_sec.max(1)),
        burst: f64::from(rate_per_sec.max(1)) * 2.0,
        buckets: HashMap::new(),
    };
    let mut buf = vec![0u8; 1500];
    let stop = shutdown.wait();
    tokio::pin!(stop);
    loop {
        let (len, source) = tokio::select! {
            received = socket.recv_from(&mut buf) => match received {
                Ok(r) => r,
                // ICMP errors from earlier sends surface here; keep serving.
                Err(_) => continue,
            },
            () = &mut stop => return,
        };
        events.with_label_values(&["request"]).inc();
        if !limiter.allow(source.ip()) {
            events.with_label_values(&["rate_limited"]).inc();
            continue;
        }
        match answer(&buf[..len], source) {
            Ok(response) => {
                if socket.send_to(&response, source).await.is_ok() {
                    events.with_label_values(&["response"]).inc();
                } else {
                    events.with_label_values(&["send_failed"]).inc();
                }
            }
            Err(reason) => events.with_label_values(&[reason]).inc(),
        }
    }
}
