//! Finding the relay's public address with STUN.
//!
//! - The configured servers (`host:port`, hostnames resolved, IPv4 or
//!   IPv6) are ranked by their record: success rate first, then the moving
//!   average of their latency; an untried server ranks between servers
//!   that answered and servers that failed.
//! - [`Discovery::discover`] asks the best three **in parallel**, each on
//!   its own socket with RFC 8489 retransmission (the RTO doubles); the
//!   first valid answer wins and the other queries are cancelled (hedging).
//!   A slow or dead server therefore costs nothing while another answers.
//! - Answers are cached per server in an LRU with a TTL (5 minutes by
//!   default): a fresh cached answer from one of the best servers is used
//!   without asking anyone.
//! - [`Discovery::nat_type`] asks two servers from one socket: different
//!   mapped ports mean a symmetric NAT (peers then need a relay).
//! - The plain way (one server at a time, in the configured order) is
//!   written in the benchmark that compares it (`benches/benches/stun.rs`).

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::Duration;

use lru::LruCache;
use serde::Serialize;
use shared::stun::{Retransmit, Transaction, TransactionError};
use tokio::net::UdpSocket;
use tokio::task::JoinSet;
use tokio::time::{sleep_until, Instant};

/// How many servers are asked at once.
pub const FANOUT: usize = 3;
/// Weight of the newest sample in the latency moving average.
const LATENCY_WEIGHT: f64 = 0.3;

/// What one server has done so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ServerRecord {
    /// `host:port` as configured.
    pub server: String,
    /// Queries that ended (answered or failed; cancelled ones do not count).
    pub queries: u64,
    /// Queries answered with an address.
    pub successes: u64,
    /// Moving average of the round trip, in milliseconds.
    pub latency_ms: Option<f64>,
    /// The last failure, in words.
    pub last_error: Option<String>,
}

impl ServerRecord {
    fn success_rate(&self) -> f64 {
        // Laplace smoothing: an untried server counts as 1/2, above one
        // that failed and below one that answered.
        (self.successes as f64 + 1.0) / (self.queries as f64 + 2.0)
    }
}

/// A discovered public address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Found {
    /// The address the server saw.
    pub public: SocketAddr,
    /// The local address of the socket that asked.
    pub local: SocketAddr,
    /// The server that answered.
    pub server: String,
    /// Its round trip in milliseconds.
    pub rtt_ms: u64,
    /// Whether this came from the cache.
    pub cached: bool,
}

/// The NAT in front of the relay, as two servers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NatKind {
    /// The servers see our own address: no NAT.
    None,
    /// Both servers see the same mapped address: peers can reach us.
    EndpointIndependent,
    /// Each server sees another port: peers need a relay to reach us.
    Symmetric,
}

/// Why discovery failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscoveryError {
    /// No STUN servers are configured.
    #[error("no STUN servers configured")]
    NoServers,
    /// Every server asked failed.
    #[error("every STUN server failed: {}", .0.iter().map(|(s, e)| format!("{s}: {e}")).collect::<Vec<_>>().join("; "))]
    AllFailed(Vec<(String, String)>),
}

/// Why one query failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// The name did not resolve.
    #[error("cannot resolve: {0}")]
    Resolve(String),
    /// A socket error.
    #[error("socket: {0}")]
    Socket(String),
    /// The transaction failed (time-out, error response, unusable answer).
    #[error(transparent)]
    Transaction(#[from] TransactionError),
}

/// The discovery state: server records and the answer cache.
pub struct Discovery {
    /// Never held together with `cache`, nor across an await.
    records: Mutex<Vec<ServerRecord>>,
    /// Never held together with `records`, nor across an await.
    cache: Mutex<LruCache<String, (Instant, Found)>>,
    policy: Retransmit,
    ttl: Duration,
}

/// Asks one server on a fresh socket.
pub async fn query(server: &str, policy: Retransmit) -> Result<Found, QueryError> {
    let target = tokio::net::lookup_host(server)
        .await
        .map_err(|e| QueryError::Resolve(e.to_string()))?
        .next()
        .ok_or_else(|| QueryError::Resolve("no addresses".into()))?;
    let bind: SocketAddr = if target.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    }
    .parse()
    .map_err(|_| QueryError::Socket("bad bind address".into()))?;
    let socket = UdpSocket::bind(bind)
        .await
        .map_err(|e| QueryError::Socket(e.to_string()))?;
    socket
        .connect(target)
        .await
        .map_err(|e| QueryError::Socket(e.to_string()))?;
    let local = socket
        .local_addr()
        .map_err(|e| QueryError::Socket(e.to_string()))?;
    let answer = transact(&socket, None, policy).await?;
    Ok(Found {
        public: answer.mapped,
        local,
        server: server.to_owned(),
        rtt_ms: answer.rtt,
        cached: false,
    })
}

/// Runs one Binding transaction on `socket` (connected, or to `to`).
async fn transact(
    socket: &UdpSocket,
    to: Option<SocketAddr>,
    policy: Retransmit,
) -> Result<shared::stun::Answer, QueryError> {
    let origin = Instant::now();
    let now = || origin.elapsed().as_millis() as u64;
    let mut tid = [0u8; 12];
    getrandom::fill(&mut tid).map_err(|e| QueryError::Socket(e.to_string()))?;
    let mut tx = Transaction::new(tid, policy, now());
    let mut buf = vec![0u8; 1500];
    loop {
        if let Some(request) = tx.poll_transmit(now()) {
            let sent = match to {
                Some(addr) => socket.send_to(request, addr).await,
                None => socket.send(request).await,
            };
            // An ICMP "unreachable" from an earlier send can fail a later
            // send; retransmission covers it.
            let _ = sent;
        }
        tx.handle_timeout(now())?;
        let Some(wake) = tx.poll_timeout() else {
            return Err(TransactionError::TimedOut(tx.sends()).into());
        };
        let deadline = origin + Duration::from_millis(wake);
        tokio::select! {
            received = socket.recv_from(&mut buf) => {
                let Ok((len, from)) = received else { continue };
                if to.is_some_and(|addr| addr != from) {
                    continue;
                }
                // Garbage or someone else's answer: ignore, keep waiting.
                if let Ok(Some(result)) = tx.handle_response(now(), &buf[..len]) {
                    return result.map_err(QueryError::from);
                }
            }
            () = sleep_until(deadline) => {}
        }
    }
}

impl Discovery {
    /// Discovery over `servers` with this retransmission policy and cache
    /// lifetime.
    pub fn new(servers: &[String], policy: Retransmit, ttl: Duration) -> Self {
        let capacity = NonZeroUsize::new(servers.len().max(1)).unwrap_or(NonZeroUsize::MIN);
        Self {
            records: Mutex::new(
                servers
                    .iter()
                    .map(|s| ServerRecord {
                        server: s.clone(),
                        ..ServerRecord::default()
                    })
                    .collect(),
            ),
            cache: Mutex::new(LruCache::new(capacity)),
            policy,
            ttl,
        }
    }

    /// The servers' records, best first.
    pub fn records(&self) -> Vec<ServerRecord> {
        let mut records = self.records.lock().map(|r| r.clone()).unwrap_or_default();
        records.sort_by(|a, b| {
            b.success_rate().total_cmp(&a.success_rate()).then(
                a.latency_ms
                    .unwrap_or(0.0)
                    .total_cmp(&b.latency_ms.unwrap_or(0.0)),
            )
        });
        records
    }

    /// The `n` best servers.
    pub fn best(&self, n: usize) -> Vec<String> {
        self.records()
            .into_iter()
            .take(n)
            .map(|r| r.server)
            .collect()
    }

    fn record(&self, server: &str, outcome: Result<u64, String>) {
        let Ok(mut records) = self.records.lock() else {
            return;
        };
        let Some(r) = records.iter_mut().find(|r| r.server == server) else {
            return;
        };
        r.queries += 1;
        match outcome {
            Ok(rtt) => {
                r.successes += 1;
                let sample = rtt as f64;
                r.latency_ms = Some(match r.latency_ms {
                    Some(avg) => avg + LATENCY_WEIGHT * (sample - avg),
                    None => sample,
                });
            }
            Err(e) => r.last_error = Some(e),
        }
    }

    fn cached(&self, servers: &[String]) -> Option<Found> {
        let mut cache = self.cache.lock().ok()?;
        for server in servers {
            if let Some((at, found)) = cache.get(server) {
                if at.elapsed() < self.ttl {
                    return Some(Found {
                        cached: true,
                        ..found.clone()
                    });
                }
            }
        }
        None
    }

    fn remember(&self, found: &Found) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.put(found.server.clone(), (Instant::now(), found.clone()));
        }
    }

    /// The public address: from the cache if fresh, else by asking the best
    /// three servers at once and taking the first answer.
    pub async fn discover(&self) -> Result<Found, DiscoveryError> {
        let best = self.best(FANOUT);
        if best.is_empty() {
            return Err(DiscoveryError::NoServers);
        }
        if let Some(found) = self.cached(&best) {
            return Ok(found);
        }
        let mut racing = JoinSet::new();
        for server in best {
            let policy = self.policy;
            racing.spawn(async move {
                let result = query(&server, policy).await;
                (server, result)
            });
        }
        let mut failures = Vec::new();
        while let Some(joined) = racing.join_next().await {
            let Ok((server, result)) = joined else {
                continue;
            };
            match result {
                Ok(found) => {
                    self.record(&server, Ok(found.rtt_ms));
                    self.remember(&found);
                    // Dropping the set cancels the slower queries.
                    racing.abort_all();
                    return Ok(found);
                }
                Err(e) => {
                    self.record(&server, Err(e.to_string()));
                    failures.push((server, e.to_string()));
                }
            }
        }
        Err(DiscoveryError::AllFailed(failures))
    }

    /// Tells a symmetric NAT apart by asking the two best servers from one
    /// socket. `None` if fewer than two answer.
    pub async fn nat_type(&self) -> Option<NatKind> {
        let best = self.best(2);
        if best.len() < 2 {
            return None;
        }
        let mut targets = Vec::new();
        for server in &best {
            targets.push(tokio::net::lookup_host(server).await.ok()?.next()?);
        }
        let bind = if targets[0].is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        };
        let socket = UdpSocket::bind(bind).await.ok()?;
        let port = socket.local_addr().ok()?.port();
        let mut mapped = Vec::new();
        for target in &targets {
            mapped.push(
                transact(&socket, Some(*target), self.policy)
                    .await
                    .ok()?
                    .mapped,
            );
        }
        // The local address this socket uses towards the first server.
        let probe = UdpSocket::bind(bind).await.ok()?;
        probe.connect(targets[0]).await.ok()?;
        let local_ip = probe.local_addr().ok()?.ip();
        Some(if mapped[0] != mapped[1] {
            NatKind::Symmetric
        } else if mapped[0] == SocketAddr::new(local_ip, port) {
            NatKind::None
        } else {
            NatKind::EndpointIndependent
        })
    }
}
