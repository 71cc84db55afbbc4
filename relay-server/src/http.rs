//! The relay's HTTP surface: the web page (static files), the WebSocket
//! endpoint `/ws`, `/healthz`, Prometheus `/metrics` and `/api/stats`.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use arc_swap::ArcSwap;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower_http::compression::predicate::{DefaultPredicate, NotForContentType, Predicate};
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnFailure, TraceLayer};

use crate::config::Config;
use crate::ice::{IceServer, Identity, Source};
use crate::metrics::Metrics;
use crate::per_ip::PerIp;
use crate::rooms::Hub;
use crate::shutdown::Shutdown;
use crate::socket;
use crate::stun::discovery::{Discovery, Found, NatKind, ServerRecord};

/// The snapshot behind `/api/stats`, refreshed every second and published
/// through an `ArcSwap` (readers never lock).
#[derive(Debug, Clone, Default, Serialize)]
pub struct RelayStats {
    /// Open WebSocket connections.
    pub connections: i64,
    /// Rooms with members.
    pub rooms: i64,
    /// Frames received.
    pub frames_in: u64,
    /// Frames queued to receivers.
    pub frames_out: u64,
    /// Frames waiting in queues now.
    pub queued_frames: i64,
    /// Slow consumers disconnected.
    pub slow_consumer_disconnects: u64,
    /// Frames replayed on resume.
    pub replayed_frames: u64,
    /// Validation mode's engine counters, when it is on.
    pub validation: Option<ValidationStats>,
}

/// The validating engine's counters.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ValidationStats {
    /// Tables followed.
    pub games: u64,
    /// Game frames accepted.
    pub accepted: u64,
    /// Game frames refused.
    pub rejected: u64,
    /// Rolls seen.
    pub rolls: u64,
}

/// Everything the routes share.
#[derive(Clone)]
pub struct Relay {
    hub: Arc<Hub>,
    metrics: Arc<Metrics>,
    origins: Arc<Vec<String>>,
    /// Origins whose pages may load the files and read `/api/*` (empty:
    /// any).
    cors: Arc<Vec<String>>,
    permits: Arc<Semaphore>,
    /// WebSocket connections per client address.
    per_ip: PerIp,
    shutdown: Shutdown,
    stats: Arc<ArcSwap<RelayStats>>,
    stun: crate::config::StunConfig,
    stun_addr: Arc<OnceLock<SocketAddr>>,
    discovery: Option<Arc<Discovery>>,
    /// What discovery found last (refreshed in the background).
    identity: Arc<ArcSwap<Identity>>,
    turn: crate::config::TurnConfig,
    /// TURN credentials minted per IP address in its current minute.
    turn_mints: Arc<dashmap::DashMap<std::net::IpAddr, (std::time::Instant, u32)>>,
}

impl Relay {
    /// A relay for `config`, stopping when `shutdown` fires; in cluster
    /// mode (`--nats`), once it has joined the cluster.
    pub async fn start(config: &Config, shutdown: Shutdown) -> anyhow::Result<Self> {
        if !config.cluster.enabled() {
            return Ok(Self::new(config, shutdown));
        }
        let limits = config.limits.effective();
        let metrics = Arc::new(Metrics::new());
        let connected =
            crate::cluster::connect(&config.cluster, limits.replay_frames, &metrics).await?;
        let mut hub = Hub::new(config.limits, Arc::clone(&metrics));
        hub.set_epoch(connected.epoch());
        let hub = Arc::new(hub);
        crate::cluster::Cluster::start(connected, &hub, shutdown.clone()).await?;
        Ok(Self::with_hub(config, shutdown, hub, metrics))
    }

    /// A relay for `config` on its own (no cluster), stopping when
    /// `shutdown` fires.
    pub fn new(config: &Config, shutdown: Shutdown) -> Self {
        let metrics = Arc::new(Metrics::new());
        let mut hub = Hub::new(config.limits, Arc::clone(&metrics));
        if let Some(dir) = &config.transcripts {
            hub.set_transcripts(crate::transcripts::TranscriptLog::new(dir));
        }
        Self::with_hub(config, shutdown, Arc::new(hub), metrics)
    }

    fn with_hub(config: &Config, shutdown: Shutdown, hub: Arc<Hub>, metrics: Arc<Metrics>) -> Self {
        Self {
            hub,
            metrics,
            origins: Arc::new(config.origins.allowed.clone()),
            cors: Arc::new(config.origins.cors().to_vec()),
            permits: Arc::new(Semaphore::new(config.limits.max_connections)),
            per_ip: PerIp::default(),
            shutdown,
            stats: Arc::new(ArcSwap::from_pointee(RelayStats::default())),
            stun: config.stun.clone(),
            stun_addr: Arc::new(OnceLock::new()),
            identity: Arc::new(ArcSwap::from_pointee(Identity {
                settled: config.stun.stun_servers.is_empty(),
                ..Identity::default()
            })),
            turn: config.turn.clone(),
            turn_mints: Arc::new(dashmap::DashMap::new()),
            discovery: (!config.stun.stun_servers.is_empty()).then(|| {
                Arc::new(Discovery::new(
                    &config.stun.stun_servers,
                    shared::stun::Retransmit {
                        initial_rto: config.stun.stun_rto_ms.max(1),
                        ..shared::stun::Retransmit::default()
                    },
                    Duration::from_secs(config.stun.stun_cache_secs),
                ))
            }),
        }
    }

    /// Whether `ip` may have TURN credentials now (one minute windows of
    /// `--turn-per-ip-per-min`; old windows are forgotten as the map grows).
    fn may_mint(&self, ip: std::net::IpAddr) -> bool {
        let now = std::time::Instant::now();
        let minute = Duration::from_secs(60);
        if self.turn_mints.len() > 10_000 {
            self.turn_mints
                .retain(|_, (start, _)| now.duration_since(*start) < minute);
        }
        let mut entry = self.turn_mints.entry(ip).or_insert((now, 0));
        let (start, count) = entry.value_mut();
        if now.duration_since(*start) >= minute {
            *start = now;
            *count = 0;
        }
        *count += 1;
        *count <= self.turn.turn_per_ip_per_min
    }

    /// The address the STUN server listens on, once bound.
    pub fn stun_addr(&self) -> Option<SocketAddr> {
        self.stun_addr.get().copied()
    }

    /// Public-address discovery, if STUN servers are configured.
    pub fn discovery(&self) -> Option<&Arc<Discovery>> {
        self.discovery.as_ref()
    }

    /// The rooms.
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// The metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The routes, serving the page from `web_dir`.
    pub fn router(&self, web_dir: &Path) -> Router {
        Router::new()
            .route("/healthz", get(healthz))
            .route("/readyz", get(readyz))
            .route("/metrics", get(metrics))
            .route("/api/stats", get(stats))
            .route("/api/stun", get(stun))
            .route("/api/tables", get(tables))
            .route("/ws", get(websocket))
            .fallback_service(static_files(web_dir))
            // Another site's page embeds the table: its browser loads the
            // element and the wasm and reads `/api/*` from here (CORS).
            .layer(cors(&self.cors))
            // Per-request lines at debug only, failures included: the
            // relay logs its own refusals (503 when full) with their
            // reason, through the rate limiter (`crate::log`).
            .layer(
                TraceLayer::new_for_http()
                    .on_failure(DefaultOnFailure::new().level(tracing::Level::DEBUG)),
            )
            .with_state(self.clone())
    }

    /// Builds and publishes a fresh stats snapshot.
    pub fn publish_stats(&self) {
        let m = &self.metrics;
        let validation = self.hub.validator().map(|v| {
            let s = v.publish_stats();
            ValidationStats {
                games: s.games,
                accepted: s.messages_accepted,
                rejected: s.messages_rejected,
                rolls: s.rolls,
            }
        });
        self.stats.store(Arc::new(RelayStats {
            connections: m.connections.get(),
            rooms: m.rooms.get(),
            frames_in: m.frames_in.get(),
            frames_out: m.frames_out.get(),
            queued_frames: m.queued_frames.get(),
            slow_consumer_disconnects: m.slow_consumer_disconnects.get(),
            replayed_frames: m.replay_hits.get(),
            validation,
        }));
    }
}

/// The page's files: compressed (brotli or gzip, as the browser accepts:
/// files the build compressed already, such as the wasm, as they are; the
/// small rest on the fly) and revalidated on every load
/// (`Cache-Control: no-cache` with `Last-Modified`, so an unchanged file
/// costs a 304 and a new release is picked up at once: the file names
/// carry no version).
fn static_files(
    web_dir: &Path,
) -> impl tower::Service<
    axum::extract::Request,
    Response = Response<
        impl axum::body::HttpBody<Data = bytes::Bytes, Error = impl Into<axum::BoxError>>
            + Send
            + 'static,
    >,
    Error = std::convert::Infallible,
    Future = impl Send + 'static,
> + Clone
       + Send
       + Sync
       + 'static {
    tower::ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        ))
        // The wasm is never compressed per request (it cost about 21 ms of
        // CPU each): the build writes it compressed once, next to it.
        .layer(
            CompressionLayer::new()
                .quality(CompressionLevel::Precise(5))
                .compress_when(
                    DefaultPredicate::new().and(NotForContentType::new("application/wasm")),
                ),
        )
        .service(
            ServeDir::new(web_dir)
                .append_index_html_on_directories(true)
                .precompressed_br()
                .precompressed_gzip(),
        )
}

/// CORS for `origins` (any when empty): reads only (GET, HEAD), no
/// credentials, so a page elsewhere can load the element, the wasm and
/// `/api/*`. (The WebSocket checks `Origin` on its own:
/// `--allowed-origins`.)
fn cors(origins: &[String]) -> tower_http::cors::CorsLayer {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let allow = if origins.is_empty() {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o.trim()).ok()),
        )
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([axum::http::Method::GET, axum::http::Method::HEAD])
}

/// Liveness: answers `ok` while the relay runs.
/// Liveness: the relay answers (200 whatever its readiness, which the
/// body and `/readyz` tell).
async fn healthz(State(relay): State<Relay>) -> &'static str {
    match relay.hub.cluster() {
        Some(cluster) if !cluster.connected() => "ok (not ready: NATS unreachable)",
        _ => "ok",
    }
}

/// Readiness: the relay can carry rooms (in cluster mode, its link to
/// NATS is up; while it is not, local connections stay open and frames
/// wait to be stored, but a load balancer should send new players to
/// another relay).
async fn readyz(State(relay): State<Relay>) -> Response {
    match relay.hub.cluster() {
        Some(cluster) if !cluster.connected() => (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: NATS unreachable\n",
        )
            .into_response(),
        _ => "ready\n".into_response(),
    }
}

async fn metrics(State(relay): State<Relay>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        relay.metrics.render(),
    )
        .into_response()
}

async fn stats(State(relay): State<Relay>) -> Json<RelayStats> {
    Json(RelayStats::clone(&relay.stats.load()))
}

/// The most tables `/api/tables` lists.
pub const MAX_LISTED: usize = 200;

/// The lobby: the tables houses listed, those with the most players first.
async fn tables(State(relay): State<Relay>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "tables": relay.hub.tables(MAX_LISTED) }))
}

/// What `/api/stun` answers: the ICE servers for this browser, and how
/// the relay found its address. Built from cached state: never waits on
/// the network.
#[derive(Debug, Serialize)]
struct StunReport {
    /// The relay's STUN server as this browser can reach it (none if no
    /// address would work from where it asked).
    server: Option<SocketAddr>,
    /// Where `server` comes from.
    source: Option<Source>,
    /// Where the STUN server listens.
    listen: Option<SocketAddr>,
    /// The relay's public address, if discovery is configured and worked.
    public: Option<Found>,
    /// Why discovery failed, if it did.
    error: Option<String>,
    /// The NAT in front of the relay (two servers compared).
    nat: Option<NatKind>,
    /// Whether discovery has finished once (false: still asking).
    settled: bool,
    /// Each configured server's record, best first.
    servers: Vec<ServerRecord>,
    /// `RTCConfiguration.iceServers` for this browser: the STUN server
    /// above and the operator's TURN server with fresh credentials.
    ice_servers: Vec<IceServer>,
    /// Unix seconds when the TURN credentials expire (ask again before).
    expires_at: Option<u64>,
    /// Seconds the TURN credentials last from now (for a client whose
    /// clock is not the relay's).
    expires_in: Option<u64>,
    /// This address asked for TURN credentials too often this minute
    /// (`--turn-per-ip-per-min`): none this time.
    turn_limited: bool,
}

async fn stun(
    State(relay): State<Relay>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
) -> Response {
    let identity = relay.identity.load();
    let listen = relay.stun_addr();
    let reachable = listen.and_then(|listen| {
        crate::ice::advertised(listen, relay.stun.public_addr, &identity, Some(client.ip()))
    });
    let mut ice_servers: Vec<IceServer> = reachable
        .iter()
        .map(|(addr, _)| IceServer::stun(*addr))
        .collect();
    let mut expires_at = None;
    let turn_limited = relay.turn.turn_secret.is_some() && !relay.may_mint(client.ip());
    if turn_limited {
        relay.metrics.reject("turn_rate");
        crate::log::refused_upgrade(
            Some(client),
            "turn_rate",
            "TURN credentials asked too often (--turn-per-ip-per-min)",
        );
    }
    if let Some(secret) = relay.turn.turn_secret.as_deref().filter(|_| !turn_limited) {
        let mut tag = [0u8; 6];
        let _ = getrandom::fill(&mut tag);
        let name = format!("bitcraps-{}", shared::hex(&tag));
        let credentials = crate::ice::turn_credentials(
            secret.as_bytes(),
            &name,
            crate::rooms::unix_ms() / 1000,
            relay.turn.turn_ttl_secs,
        );
        expires_at = Some(credentials.expires_at);
        ice_servers.push(IceServer::turn(&relay.turn.turn_urls, &credentials));
        relay.metrics.turn_credentials.inc();
    }
    let report = StunReport {
        server: reachable.map(|(addr, _)| addr),
        source: reachable.map(|(_, source)| source),
        listen,
        public: identity.public.clone(),
        error: identity.error.clone(),
        nat: identity.nat,
        settled: identity.settled,
        servers: identity.servers.clone(),
        ice_servers,
        expires_at,
        expires_in: expires_at.map(|_| relay.turn.turn_ttl_secs),
        turn_limited,
    };
    // Credentials are per request: never cached.
    ([(header::CACHE_CONTROL, "no-store")], Json(report)).into_response()
}

async fn websocket(
    State(relay): State<Relay>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    if !relay.origins.is_empty() {
        let origin = request
            .headers()
            .get(header::ORIGIN)
            .and_then(|o| o.to_str().ok());
        if !origin.is_some_and(|o| relay.origins.iter().any(|a| a == o)) {
            relay.metrics.reject("origin");
            crate::log::refused_upgrade(Some(addr), "origin", origin.unwrap_or("(none)"));
            return (StatusCode::FORBIDDEN, "origin not allowed").into_response();
        }
    }
    let per_ip = relay.hub.limits().max_connections_per_ip;
    let Some(ip_slot) = relay.per_ip.take(addr.ip(), per_ip) else {
        relay.metrics.reject("ip_full");
        crate::log::refused_upgrade(
            Some(addr),
            "ip_full",
            &format!("{per_ip} connections from this address (--max-connections-per-ip)"),
        );
        return (
            StatusCode::TOO_MANY_REQUESTS,
            "too many connections from this address",
        )
            .into_response();
    };
    let Ok(permit) = Arc::clone(&relay.permits).try_acquire_owned() else {
        relay.metrics.reject("server_full");
        crate::log::refused_upgrade(
            Some(addr),
            "server_full",
            &format!(
                "{} connections open (--max-connections)",
                relay.hub.limits().max_connections
            ),
        );
        return (StatusCode::SERVICE_UNAVAILABLE, "relay is full").into_response();
    };
    // A client that splits messages into frames asks for them packed.
    let pack = match request.uri().query() {
        Some(q) if q.split('&').any(|p| p == "pack=1") => crate::connection::Pack::Queued,
        _ => crate::connection::Pack::Single,
    };
    let config = socket::config(relay.hub.limits());
    socket::accept(request, config, move |ws| async move {
        socket::serve(
            Arc::clone(&relay.hub),
            Some(addr),
            ws,
            relay.shutdown.clone(),
            pack,
        )
        .await;
        drop(permit);
        drop(ip_slot);
    })
}

/// Serves `relay` on `listener` until `shutdown` fires: then stops
/// accepting, closes every WebSocket with 1001 (going away) and waits for
/// open requests to finish. Runs the once-a-second housekeeping (the
/// stats snapshot) meanwhile.
pub async fn serve(listener: TcpListener, relay: Relay, web_dir: &Path) -> std::io::Result<()> {
    let housekeeping = {
        let relay = relay.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            let stop = relay.shutdown.clone().wait();
            tokio::pin!(stop);
            loop {
                tokio::select! {
                    _ = tick.tick() => relay.publish_stats(),
                    () = &mut stop => break,
                }
            }
        })
    };
    if !relay.stun.no_stun_server {
        match tokio::net::UdpSocket::bind(relay.stun.stun_listen).await {
            Ok(socket) => {
                if let Ok(addr) = socket.local_addr() {
                    let _ = relay.stun_addr.set(addr);
                    tracing::info!(%addr, "STUN server listening");
                }
                tokio::spawn(crate::stun::server::run(
                    Arc::new(socket),
                    relay.stun.stun_rate_per_sec,
                    relay.metrics.stun.clone(),
                    relay.shutdown.clone(),
                ));
            }
            Err(error) => tracing::warn!(
                addr = %relay.stun.stun_listen,
                %error,
                "cannot bind the STUN server; running without it (see --stun-listen)"
            ),
        }
    }
    if let Some(discovery) = relay.discovery.clone() {
        tokio::spawn(rediscover(
            discovery,
            Arc::clone(&relay.identity),
            Duration::from_secs(relay.stun.stun_cache_secs.max(1)),
            relay.shutdown.clone(),
        ));
    }
    let limits = relay.hub.limits();
    let result = crate::listener::run(
        listener,
        crate::listener::Accept {
            router: relay.router(web_dir),
            max_pending_http: limits.max_pending_http.max(1),
            max_pending_http_per_ip: limits.max_pending_http_per_ip,
            header_timeout: Duration::from_secs(limits.header_timeout_secs.max(1)),
            http_deadline: Duration::from_secs(limits.http_deadline_secs.max(1)),
            websockets: Arc::clone(&relay.permits),
            max_websockets: limits.max_connections,
            metrics: Arc::clone(&relay.metrics),
            shutdown: relay.shutdown.clone(),
        },
    )
    .await;
    housekeeping.abort();
    result
}

/// Finds the relay's public address and NAT type now, then again once per
/// `every` (the cache's lifetime), and sooner after a failure (from 5 s,
/// doubling); each result replaces `identity`. Logs what changed.
async fn rediscover(
    discovery: Arc<Discovery>,
    identity: Arc<ArcSwap<Identity>>,
    every: Duration,
    shutdown: Shutdown,
) {
    let stop = shutdown.wait();
    tokio::pin!(stop);
    let mut retry = Duration::from_secs(5);
    loop {
        let found = discovery.discover().await;
        let nat = match found {
            Ok(_) => discovery.nat_type().await,
            Err(_) => None,
        };
        let next = Identity {
            settled: true,
            public: found.as_ref().ok().cloned(),
            error: found.as_ref().err().map(ToString::to_string),
            nat,
            servers: discovery.records(),
        };
        let before = identity.load();
        let public = |i: &Identity| i.public.as_ref().map(|f| f.public);
        if !before.settled || public(&before) != public(&next) || before.nat != next.nat {
            match &found {
                Ok(found) => tracing::info!(
                    public = %found.public,
                    server = %found.server,
                    rtt_ms = found.rtt_ms,
                    ?nat,
                    "public address discovered"
                ),
                Err(error) => tracing::warn!(%error, "public address discovery failed"),
            }
        }
        identity.store(Arc::new(next));
        let wait = if found.is_ok() {
            retry = Duration::from_secs(5);
            every
        } else {
            let wait = retry.min(every);
            retry = (retry * 2).min(every);
            wait
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = &mut stop => return,
        }
    }
}
