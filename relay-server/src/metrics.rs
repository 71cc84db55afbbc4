//! Prometheus metrics (the `prometheus` crate), served at `/metrics`.

use prometheus::{IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};

/// Every reason input is refused for (`bitcraps_rejections_total`).
pub const REJECTION_REASONS: [&str; 22] = [
    "bad_frame",
    "bad_join",
    "rate_limited",
    "too_big",
    "bad_utf8",
    "protocol_error",
    "origin",
    "server_full",
    "ip_full",
    "http_full",
    "http_ip_full",
    "too_many_rooms",
    "already_joined",
    "room_full",
    "not_in_room",
    "unknown_target",
    "invalid_game_frame",
    "idle",
    "join_timeout",
    "room_idle",
    "cluster_unavailable",
    "turn_rate",
];
/// Cluster mode's traffic through NATS (`bitcraps_cluster_total`).
pub const CLUSTER_EVENTS: [&str; 11] = [
    "published",
    "received",
    "conflicts",
    "publish_failed",
    "presence_out",
    "presence_in",
    "direct_out",
    "direct_in",
    "relays_gone",
    "disconnects",
    "reconnects",
];
/// Why a queued frame was dropped (`bitcraps_queue_drops_total`).
pub const DROP_REASONS: [&str; 3] = ["evicted", "displaced", "refused"];
/// Queue priorities, highest first, as labels.
pub const PRIORITIES: [&str; 3] = ["critical", "normal", "low"];
/// STUN server events (`bitcraps_stun_total`).
pub const STUN_EVENTS: [&str; 6] = [
    "request",
    "response",
    "rate_limited",
    "malformed",
    "not_a_binding_request",
    "send_failed",
];

/// Every metric the relay exports.
pub struct Metrics {
    registry: Registry,
    /// Open WebSocket connections.
    pub connections: IntGauge,
    /// Connections that have ended but whose socket is still being read
    /// and discarded after the close frame (at most 2 s each); they still
    /// hold their place under `--max-connections`.
    pub lingering: IntGauge,
    /// Rooms with at least one peer.
    pub rooms: IntGauge,
    /// Bytes kept for replay in all rooms (bounded by
    /// `--replay-total-bytes`).
    pub replay_bytes: IntGauge,
    /// Frames received from clients.
    pub frames_in: IntCounter,
    /// Frames queued to clients (one per receiver).
    pub frames_out: IntCounter,
    /// Bytes received from clients.
    pub bytes_in: IntCounter,
    /// Bytes written to clients.
    pub bytes_out: IntCounter,
    /// Frames waiting in all connections' queues.
    pub queued_frames: IntGauge,
    /// Bytes waiting in all connections' queues.
    pub queued_bytes: IntGauge,
    /// Frames dropped from queues, by reason and priority.
    pub drops: IntCounterVec,
    /// Input refused, by reason ([`REJECTION_REASONS`]).
    pub rejections: IntCounterVec,
    /// Connections closed as slow consumers.
    pub slow_consumer_disconnects: IntCounter,
    /// Frames replayed to clients that resumed.
    pub replay_hits: IntCounter,
    /// Resumes that asked for frames older than the replay window.
    pub resume_gaps: IntCounter,
    /// STUN server events ([`STUN_EVENTS`]).
    pub stun: IntCounterVec,
    /// WebSocket messages written to clients (fewer than frames when
    /// clients ask for packed messages).
    pub messages_out: IntCounter,
    /// TURN credentials handed to browsers (`/api/stun` with `--turn-url`).
    pub turn_credentials: IntCounter,
    /// Cluster mode's traffic ([`CLUSTER_EVENTS`]): frames published to
    /// and received from the rooms' stream, ordering conflicts between
    /// relays (retried), presence and targeted frames exchanged, relays
    /// declared gone.
    pub cluster: IntCounterVec,
    /// Cluster mode: other relays heard from lately.
    pub cluster_relays: IntGauge,
    /// Cluster mode: milliseconds from the stamp of the last frame taken
    /// from the stream to its delivery here (the NATS hop and this
    /// relay's reading behind).
    pub cluster_lag_ms: IntGauge,
    /// Always 1, labelled with the relay's and the engine's versions.
    pub build_info: IntGaugeVec,
}

fn counter(registry: &Registry, name: &str, help: &str) -> IntCounter {
    let c = IntCounter::new(name, help).unwrap_or_else(|e| panic!("metric {name}: {e}"));
    registry
        .register(Box::new(c.clone()))
        .unwrap_or_else(|e| panic!("metric {name}: {e}"));
    c
}

fn gauge(registry: &Registry, name: &str, help: &str) -> IntGauge {
    let g = IntGauge::new(name, help).unwrap_or_else(|e| panic!("metric {name}: {e}"));
    registry
        .register(Box::new(g.clone()))
        .unwrap_or_else(|e| panic!("metric {name}: {e}"));
    g
}

fn counter_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels)
        .unwrap_or_else(|e| panic!("metric {name}: {e}"));
    registry
        .register(Box::new(c.clone()))
        .unwrap_or_else(|e| panic!("metric {name}: {e}"));
    c
}

impl Metrics {
    /// A fresh registry with every metric, and every labelled series, at
    /// zero (so dashboards and alerts see a series before its first
    /// event). (Names and labels are constants: a failure here is a
    /// programming error, caught by tests.)
    pub fn new() -> Self {
        let metrics = Self::register();
        for reason in REJECTION_REASONS {
            metrics.rejections.with_label_values(&[reason]);
        }
        for reason in DROP_REASONS {
            for priority in PRIORITIES {
                metrics.drops.with_label_values(&[reason, priority]);
            }
        }
        for event in STUN_EVENTS {
            metrics.stun.with_label_values(&[event]);
        }
        for event in CLUSTER_EVENTS {
            metrics.cluster.with_label_values(&[event]);
        }
        metrics
            .build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION"), shared::ENGINE_VERSION])
            .set(1);
        metrics
    }

    fn register() -> Self {
        let r = Registry::new();
        Self {
            connections: gauge(&r, "bitcraps_connections", "Open WebSocket connections"),
            lingering: gauge(
                &r,
                "bitcraps_lingering_connections",
                "Closed connections still draining after their close frame",
            ),
            rooms: gauge(&r, "bitcraps_rooms", "Rooms with at least one peer"),
            replay_bytes: gauge(
                &r,
                "bitcraps_replay_bytes",
                "Bytes kept for replay in all rooms",
            ),
            frames_in: counter(
                &r,
                "bitcraps_frames_in_total",
                "Frames received from clients",
            ),
            frames_out: counter(&r, "bitcraps_frames_out_total", "Frames queued to clients"),
            bytes_in: counter(&r, "bitcraps_bytes_in_total", "Bytes received from clients"),
            bytes_out: counter(&r, "bitcraps_bytes_out_total", "Bytes written to clients"),
            queued_frames: gauge(
                &r,
                "bitcraps_queued_frames",
                "Frames waiting in connection queues",
            ),
            queued_bytes: gauge(
                &r,
                "bitcraps_queued_bytes",
                "Bytes waiting in connection queues",
            ),
            drops: counter_vec(
                &r,
                "bitcraps_queue_drops_total",
                "Frames dropped from connection queues",
                &["reason", "priority"],
            ),
            rejections: counter_vec(
                &r,
                "bitcraps_rejections_total",
                "Input refused",
                &["reason"],
            ),
            slow_consumer_disconnects: counter(
                &r,
                "bitcraps_slow_consumer_disconnects_total",
                "Connections closed as slow consumers",
            ),
            replay_hits: counter(
                &r,
                "bitcraps_replay_frames_total",
                "Frames replayed on resume",
            ),
            resume_gaps: counter(
                &r,
                "bitcraps_resume_gaps_total",
                "Resumes older than the replay window",
            ),
            stun: counter_vec(&r, "bitcraps_stun_total", "STUN server events", &["event"]),
            messages_out: counter(
                &r,
                "bitcraps_ws_messages_out_total",
                "WebSocket messages written to clients",
            ),
            turn_credentials: counter(
                &r,
                "bitcraps_turn_credentials_total",
                "TURN credentials handed to browsers",
            ),
            cluster: counter_vec(
                &r,
                "bitcraps_cluster_total",
                "Cluster traffic through NATS",
                &["event"],
            ),
            cluster_relays: gauge(
                &r,
                "bitcraps_cluster_relays",
                "Other relays of the cluster heard from lately",
            ),
            cluster_lag_ms: gauge(
                &r,
                "bitcraps_cluster_lag_ms",
                "Milliseconds from the last frame's stamp to its delivery here",
            ),
            build_info: {
                let g = IntGaugeVec::new(
                    Opts::new("bitcraps_build_info", "The relay's build (always 1)"),
                    &["version", "engine"],
                )
                .unwrap_or_else(|e| panic!("metric bitcraps_build_info: {e}"));
                r.register(Box::new(g.clone()))
                    .unwrap_or_else(|e| panic!("metric bitcraps_build_info: {e}"));
                g
            },
            registry: r,
        }
    }

    /// Counts one cluster event ([`CLUSTER_EVENTS`]).
    pub fn cluster(&self, event: &str) {
        self.cluster.with_label_values(&[event]).inc();
    }

    /// Counts one refusal.
    pub fn reject(&self, reason: &str) {
        self.rejections.with_label_values(&[reason]).inc();
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
