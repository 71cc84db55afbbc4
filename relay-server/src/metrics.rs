//! Prometheus metrics (the `prometheus` crate), served at `/metrics`.

use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};

/// Every metric the relay exports.
pub struct Metrics {
    registry: Registry,
    /// Open WebSocket connections.
    pub connections: IntGauge,
    /// Rooms with at least one peer.
    pub rooms: IntGauge,
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
    /// Input refused, by reason (bad_frame, bad_join, rate_limited, too_big,
    /// origin, server_full, too_many_rooms, room_full, not_in_room,
    /// unknown_target, invalid_game_frame, idle).
    pub rejections: IntCounterVec,
    /// Connections closed as slow consumers.
    pub slow_consumer_disconnects: IntCounter,
    /// Frames replayed to clients that resumed.
    pub replay_hits: IntCounter,
    /// Resumes that asked for frames older than the replay window.
    pub resume_gaps: IntCounter,
    /// STUN server events: request, response, and drops by reason
    /// (rate_limited, malformed, not_a_binding_request, send_failed).
    pub stun: IntCounterVec,
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
    /// A fresh registry with every metric at zero. (Names and labels are
    /// constants: a failure here is a programming error, caught by tests.)
    pub fn new() -> Self {
        let r = Registry::new();
        Self {
            connections: gauge(&r, "bitcraps_connections", "Open WebSocket connections"),
            rooms: gauge(&r, "bitcraps_rooms", "Rooms with at least one peer"),
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
            registry: r,
        }
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
