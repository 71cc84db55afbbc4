//! The relay's command line: every flag has a default that works with no
//! flags at all, and every flag can also be set by an environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

/// BitCraps relay: serves the craps table page and carries players' messages.
#[derive(Debug, Clone, Parser)]
#[command(name = "bitcraps-relay", version, about, long_about = None)]
pub struct Config {
    /// Address and port to listen on for HTTP and WebSocket.
    #[arg(long, env = "BITCRAPS_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Folder with the web page to serve (index.html and the built wasm in pkg/).
    #[arg(long, env = "BITCRAPS_WEB_DIR", default_value = "web")]
    pub web_dir: PathBuf,

    /// Log format: human-readable text or one JSON object per line.
    #[arg(long, env = "BITCRAPS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Seconds to wait for open connections to finish after SIGINT/SIGTERM.
    #[arg(long, env = "BITCRAPS_SHUTDOWN_GRACE_SECS", default_value_t = 10)]
    pub shutdown_grace_secs: u64,

    /// Limits per connection, room and relay.
    #[command(flatten)]
    pub limits: Limits,

    /// The `Origin` allow-list for WebSocket connections.
    #[command(flatten)]
    pub origins: Origins,

    /// STUN: the relay's own server and public-address discovery.
    #[command(flatten)]
    pub stun: StunConfig,

    /// TURN: credentials for the operator's TURN server.
    #[command(flatten)]
    pub turn: TurnConfig,

    /// Validation mode: write every validated game's transcript (`.bctx`,
    /// for `bitcraps-verify`) into this folder as the game goes.
    #[arg(long, env = "BITCRAPS_TRANSCRIPTS", requires = "validate")]
    pub transcripts: Option<PathBuf>,

    /// Cluster mode: several relays sharing rooms through NATS.
    #[command(flatten)]
    pub cluster: ClusterConfig,
}

/// Cluster mode's settings (see `docs/ARCHITECTURE.md`, "Cluster mode").
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct ClusterConfig {
    /// Cluster mode: the NATS servers (`nats://HOST:PORT`, comma-separated,
    /// JetStream on) through which relays share rooms. Unset: this relay
    /// alone holds its rooms.
    #[arg(
        long = "nats",
        env = "BITCRAPS_NATS",
        value_delimiter = ',',
        conflicts_with = "validate"
    )]
    pub nats: Vec<String>,

    /// Shards the rooms are spread over (a relay reads one ordered
    /// consumer per shard it has players in). Every relay of a cluster
    /// must use the same number.
    #[arg(long, env = "BITCRAPS_NATS_SHARDS", default_value_t = 16,
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub nats_shards: u16,

    /// Seconds the cluster keeps a room's frames (the stream's age limit;
    /// a room silent for longer starts afresh).
    #[arg(long, env = "BITCRAPS_NATS_MAX_AGE_SECS", default_value_t = 86_400)]
    pub nats_max_age_secs: u64,

    /// Bytes of frames the cluster keeps for all rooms together (the
    /// stream's size limit; the oldest go first).
    #[arg(long, env = "BITCRAPS_NATS_MAX_BYTES", default_value_t = 1 << 30)]
    pub nats_max_bytes: i64,

    /// Seconds to wait for NATS when the relay starts.
    #[arg(long, env = "BITCRAPS_NATS_CONNECT_TIMEOUT_SECS", default_value_t = 10)]
    pub nats_connect_timeout_secs: u64,
}

impl ClusterConfig {
    /// Whether cluster mode is on.
    pub fn enabled(&self) -> bool {
        !self.nats.is_empty()
    }
}

/// STUN settings.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct StunConfig {
    /// UDP address of the relay's STUN server (browsers can use it as
    /// their ICE server). If it cannot be bound, the relay runs without it.
    #[arg(long, env = "BITCRAPS_STUN_LISTEN", default_value = "127.0.0.1:3478")]
    pub stun_listen: SocketAddr,

    /// Do not run the STUN server.
    #[arg(long, env = "BITCRAPS_NO_STUN_SERVER", default_value_t = false)]
    pub no_stun_server: bool,

    /// Binding requests per second one source IP may send (the STUN server
    /// is an amplification vector); the rest are dropped and counted.
    #[arg(long, env = "BITCRAPS_STUN_RATE_PER_SEC", default_value_t = 20)]
    pub stun_rate_per_sec: u32,

    /// STUN servers (`host:port`, comma-separated) to discover the relay's
    /// public address with; the best three are asked in parallel. Empty:
    /// no discovery.
    #[arg(long, env = "BITCRAPS_STUN_SERVERS", value_delimiter = ',')]
    pub stun_servers: Vec<String>,

    /// Seconds a discovered address is cached.
    #[arg(long, env = "BITCRAPS_STUN_CACHE_SECS", default_value_t = 300)]
    pub stun_cache_secs: u64,

    /// First retransmission timeout of discovery queries, in milliseconds
    /// (doubles on each retry, 7 sends in all, RFC 8489).
    #[arg(long, env = "BITCRAPS_STUN_RTO_MS", default_value_t = 500)]
    pub stun_rto_ms: u64,

    /// The address browsers elsewhere reach the STUN server at (`IP` or
    /// `IP:PORT`; behind a NAT, the forwarded one). Unset: the address
    /// discovery found, else the listening address if it is public.
    #[arg(long, env = "BITCRAPS_PUBLIC_ADDR")]
    pub public_addr: Option<crate::ice::PublicAddr>,
}

/// TURN: the operator's TURN server (coturn) for browsers that cannot
/// reach one another directly.
#[derive(Clone, PartialEq, Eq, clap::Args)]
pub struct TurnConfig {
    /// TURN server URLs handed to browsers (`turn:HOST:PORT`,
    /// `turns:HOST:5349?transport=tcp`, comma-separated); needs
    /// `--turn-secret`.
    #[arg(long = "turn-url", env = "BITCRAPS_TURN_URLS", value_delimiter = ',',
          requires = "turn_secret", value_parser = crate::ice::parse_turn_url)]
    pub turn_urls: Vec<String>,

    /// The secret shared with the TURN server (coturn's
    /// `static-auth-secret`): browsers get credentials made from it that
    /// expire. Prefer the environment variable (a command line is visible
    /// to every user of the machine).
    #[arg(
        long,
        env = "BITCRAPS_TURN_SECRET",
        hide_env_values = true,
        requires = "turn_urls"
    )]
    pub turn_secret: Option<String>,

    /// Seconds a browser's TURN credentials last (the page asks for new
    /// ones before they expire).
    #[arg(long, env = "BITCRAPS_TURN_TTL_SECS", default_value_t = 3600,
          value_parser = clap::value_parser!(u64).range(60..=604_800))]
    pub turn_ttl_secs: u64,

    /// TURN credentials one IP address may get per minute (a page asks
    /// once, and again before they expire); past it `/api/stun` answers
    /// without TURN (`turn_limited`) and counts a `turn_rate` refusal.
    #[arg(long, env = "BITCRAPS_TURN_PER_IP_PER_MIN", default_value_t = 30)]
    pub turn_per_ip_per_min: u32,
}

impl std::fmt::Debug for TurnConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnConfig")
            .field("turn_urls", &self.turn_urls)
            .field("turn_secret", &self.turn_secret.as_ref().map(|_| "(set)"))
            .field("turn_ttl_secs", &self.turn_ttl_secs)
            .field("turn_per_ip_per_min", &self.turn_per_ip_per_min)
            .finish()
    }
}

/// Limits that protect the relay and every room from any one client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Args)]
pub struct Limits {
    /// Largest WebSocket message (one frame) accepted, in bytes.
    #[arg(long, env = "BITCRAPS_MAX_FRAME_BYTES", default_value_t = 64 * 1024)]
    pub max_frame_bytes: usize,

    /// Most WebSocket connections at once; more are refused with HTTP 503.
    #[arg(long, env = "BITCRAPS_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,

    /// Most WebSocket connections at once from one IP address (0: no
    /// limit); more get HTTP 429. One address cannot take every slot.
    #[arg(long, env = "BITCRAPS_MAX_CONNECTIONS_PER_IP", default_value_t = 256)]
    pub max_connections_per_ip: usize,

    /// Most TCP connections at once that are not WebSockets (requests for
    /// the page, or upgrades under way); more are closed at once.
    #[arg(long, env = "BITCRAPS_MAX_PENDING_HTTP", default_value_t = 1024)]
    pub max_pending_http: usize,

    /// Most of those from one IP address (0: no limit); more are closed
    /// at once. A browser opens up to 6 per page.
    #[arg(long, env = "BITCRAPS_MAX_PENDING_HTTP_PER_IP", default_value_t = 64)]
    pub max_pending_http_per_ip: usize,

    /// Seconds a request's headers may take to arrive (and a keep-alive
    /// connection may wait for its next request) before it is closed.
    #[arg(long, env = "BITCRAPS_HEADER_TIMEOUT_SECS", default_value_t = 10)]
    pub header_timeout_secs: u64,

    /// Seconds a connection may stay an HTTP connection (requests,
    /// responses and keep-alive) before it is closed; WebSockets are not
    /// affected once upgraded.
    #[arg(long, env = "BITCRAPS_HTTP_DEADLINE_SECS", default_value_t = 60)]
    pub http_deadline_secs: u64,

    /// Most rooms (tables) one connection may be in.
    #[arg(long, env = "BITCRAPS_MAX_ROOMS_PER_CONNECTION", default_value_t = 16)]
    pub max_rooms_per_connection: usize,

    /// Most peers in one room.
    #[arg(long, env = "BITCRAPS_MAX_PEERS_PER_ROOM", default_value_t = 64)]
    pub max_peers_per_room: usize,

    /// Messages per second one connection may send on average.
    #[arg(long, env = "BITCRAPS_RATE_PER_SEC", default_value_t = 200)]
    pub rate_per_sec: u32,

    /// Messages one connection may send in a burst above the average rate.
    #[arg(long, env = "BITCRAPS_RATE_BURST", default_value_t = 400)]
    pub rate_burst: u32,

    /// Bytes per second one connection may send on average (each is fanned
    /// out to the whole room).
    #[arg(long, env = "BITCRAPS_RATE_BYTES_PER_SEC", default_value_t = 1024 * 1024)]
    pub rate_bytes_per_sec: u64,

    /// Bytes one connection may send in a burst above the average.
    #[arg(long, env = "BITCRAPS_RATE_BYTES_BURST", default_value_t = 4 * 1024 * 1024)]
    pub rate_bytes_burst: u64,

    /// Frames queued for one connection before drops start.
    #[arg(long, env = "BITCRAPS_QUEUE_FRAMES", default_value_t = 1000)]
    pub queue_frames: usize,

    /// Bytes queued for one connection before drops start.
    #[arg(long, env = "BITCRAPS_QUEUE_BYTES", default_value_t = 1024 * 1024)]
    pub queue_bytes: usize,

    /// Milliseconds a connection's queue may stay full before it is
    /// disconnected as a slow consumer (close code 4003).
    #[arg(long, env = "BITCRAPS_SLOW_CONSUMER_GRACE_MS", default_value_t = 2_000)]
    pub slow_consumer_grace_ms: u64,

    /// What a connection's full queue does with one frame more:
    /// `low-priority` drops lower-priority frames (presence, chat) for it,
    /// else refuses it; `oldest` drops the oldest frames of any priority;
    /// `backpressure` refuses it. A game frame that cannot be queued, or
    /// is dropped, closes the connection as a slow consumer at once (it
    /// resumes from the replay with no gap); a queue refusing lesser
    /// frames for the grace period closes it too.
    #[arg(long, env = "BITCRAPS_DROP_STRATEGY", value_enum, default_value_t = DropPolicy::LowPriority)]
    pub drop_strategy: DropPolicy,

    /// Seconds without a frame before a connection is closed (close code
    /// 4004). Pings and pongs do not count: clients keep their connection
    /// alive with a Presence frame per room.
    #[arg(long, env = "BITCRAPS_IDLE_TIMEOUT_SECS", default_value_t = 90)]
    pub idle_timeout_secs: u64,

    /// Seconds a connection may be in no room (after connecting, or after
    /// leaving its last room) before it is closed (close code 4005).
    #[arg(long, env = "BITCRAPS_JOIN_TIMEOUT_SECS", default_value_t = 10)]
    pub join_timeout_secs: u64,

    /// Seconds a member may send nothing to a room before it is removed
    /// from it (an `Error` frame, code 8), so silent members cannot hold a
    /// room's seats.
    #[arg(long, env = "BITCRAPS_ROOM_IDLE_TIMEOUT_SECS", default_value_t = 120)]
    pub room_idle_timeout_secs: u64,

    /// Seconds between the relay's pings.
    #[arg(long, env = "BITCRAPS_PING_INTERVAL_SECS", default_value_t = 20)]
    pub ping_interval_secs: u64,

    /// Frames each room keeps for clients that reconnect and resume.
    #[arg(long, env = "BITCRAPS_REPLAY_FRAMES", default_value_t = 1024)]
    pub replay_frames: usize,

    /// Bytes of frames each room keeps for replay at most (the frame count
    /// above is the other bound).
    #[arg(long, env = "BITCRAPS_REPLAY_BYTES", default_value_t = 256 * 1024)]
    pub replay_bytes: usize,

    /// Bytes of replay all rooms together keep at most; past it, a room
    /// that stamps a frame drops its own oldest (down to none).
    #[arg(long, env = "BITCRAPS_REPLAY_TOTAL_BYTES", default_value_t = 256 * 1024 * 1024)]
    pub replay_total_bytes: usize,

    /// Check every game frame with the engine before fan-out and drop the
    /// invalid ones (rooms must announce their table with a Table frame).
    #[arg(long, env = "BITCRAPS_VALIDATE", default_value_t = false)]
    pub validate: bool,
}

/// `--drop-strategy`: the queue strategies of `shared::queue`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DropPolicy {
    /// `DropLowPriority`: displace lower-priority frames, else refuse.
    LowPriority,
    /// `DropOldest`: evict the oldest frames, whatever their priority.
    Oldest,
    /// `Backpressure`: evict nothing, refuse.
    Backpressure,
}

impl DropPolicy {
    /// The queue's strategy.
    pub fn strategy(self) -> shared::queue::DropStrategy {
        use shared::queue::DropStrategy;
        match self {
            Self::LowPriority => DropStrategy::DropLowPriority,
            Self::Oldest => DropStrategy::DropOldest,
            Self::Backpressure => DropStrategy::Backpressure,
        }
    }
}

/// Frames and bytes of a joining connection's queue kept free of replay
/// for the roster and the relay's own frames.
const JOIN_HEADROOM_FRAMES: usize = 8;
const JOIN_HEADROOM_BYTES: usize = 16 * 1024;

impl Limits {
    /// These limits with the replay window fitted to what one connection's
    /// queue accepts, so a newcomer always receives every kept frame and
    /// then its roster.
    pub fn effective(self) -> Limits {
        Limits {
            replay_frames: self
                .replay_frames
                .min(self.queue_frames.saturating_sub(JOIN_HEADROOM_FRAMES)),
            replay_bytes: self
                .replay_bytes
                .min(self.queue_bytes.saturating_sub(JOIN_HEADROOM_BYTES)),
            ..self
        }
    }

    /// The slow-consumer grace period.
    pub fn slow_consumer_grace(&self) -> Duration {
        Duration::from_millis(self.slow_consumer_grace_ms)
    }

    /// The idle timeout.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs)
    }

    /// The join timeout.
    pub fn join_timeout(&self) -> Duration {
        Duration::from_secs(self.join_timeout_secs)
    }

    /// The room idle timeout.
    pub fn room_idle_timeout(&self) -> Duration {
        Duration::from_secs(self.room_idle_timeout_secs)
    }

    /// The ping interval.
    pub fn ping_interval(&self) -> Duration {
        Duration::from_secs(self.ping_interval_secs.max(1))
    }
}

impl Default for Limits {
    fn default() -> Self {
        Config::parse_from(["bitcraps-relay"]).limits
    }
}

/// Who may open a WebSocket, by the `Origin` header.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct Origins {
    /// Origins allowed to open a WebSocket (comma-separated, e.g.
    /// `https://example.com,http://127.0.0.1:8080`). Empty: any origin.
    #[arg(
        long = "allowed-origins",
        env = "BITCRAPS_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    pub allowed: Vec<String>,
    /// Origins whose pages may load the relay's files (the element, the
    /// wasm) and read `/api/*` (CORS; comma-separated). Empty: those of
    /// `--allowed-origins`, or any origin if that is empty too.
    #[arg(
        long = "cors-origins",
        env = "BITCRAPS_CORS_ORIGINS",
        value_delimiter = ','
    )]
    pub cors: Vec<String>,
}

impl Origins {
    /// The origins other sites' pages may load the relay's files from
    /// (CORS): `--cors-origins`, else `--allowed-origins`; empty: any.
    pub fn cors(&self) -> &[String] {
        if self.cors.is_empty() {
            &self.allowed
        } else {
            &self.cors
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Config::command().debug_assert();
    }

    #[test]
    fn no_flags_means_port_8080_on_loopback() {
        let config = Config::try_parse_from(["bitcraps-relay"]).expect("defaults parse");
        assert_eq!(config.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(config.web_dir, PathBuf::from("web"));
        assert_eq!(config.log_format, LogFormat::Text);
        assert_eq!(config.limits.max_frame_bytes, 65_536);
        assert_eq!(config.limits.queue_frames, 1000);
        assert!(!config.limits.validate);
    }

    #[test]
    fn a_bad_address_is_refused() {
        assert!(Config::try_parse_from(["bitcraps-relay", "--listen", "nowhere"]).is_err());
    }

    #[test]
    fn origins_are_a_comma_separated_list() {
        let config =
            Config::try_parse_from(["bitcraps-relay", "--allowed-origins", "http://a,http://b"])
                .unwrap();
        assert_eq!(config.origins.allowed, vec!["http://a", "http://b"]);
        assert_eq!(
            config.origins.cors(),
            ["http://a", "http://b"],
            "the default"
        );
        let config = Config::try_parse_from([
            "bitcraps-relay",
            "--allowed-origins",
            "http://a",
            "--cors-origins",
            "http://c",
        ])
        .unwrap();
        assert_eq!(config.origins.cors(), ["http://c"]);
    }
}
