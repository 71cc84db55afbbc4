//! The command line: scenarios, which relay, and the plan a run follows.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// 2,000 rooms x 4 players, 5 frames/s each.
    ManySmall,
    /// 10 rooms x 200 players, 1 frame/s each.
    FewBig,
    /// Connections that only sit there: relay memory per connection.
    Idle,
    /// A busy room with one client that never reads, flooded with 4 KiB frames.
    SlowReader,
    /// 8 players play rolls through the relay (commit + reveal, all signed
    /// and verified): time per roll.
    Consensus,
    /// Pairs of peers signal through the relay (offer, answer echoed back),
    /// as browsers do to open a WebRTC channel: round trip per offer.
    Signaling,
    /// Everything from the flags.
    Custom,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RelayKind {
    /// The BitCraps relay.
    Ours,
    /// The plain axum + broadcast relay (`baseline-relay`).
    Baseline,
    /// `matchbox_server` from crates.io, if installed (idle and signaling
    /// scenarios only: it has no room broadcast).
    Matchbox,
    /// `nats-server` (Debian's) over its WebSocket listener: a subject per
    /// room, clients publish and subscribe in NATS's own protocol (fan-out
    /// scenarios: many-small, few-big, idle, slow-reader, custom).
    Nats,
}

/// Load generator for the BitCraps relay.
#[derive(Debug, Parser)]
#[command(name = "relay-load", version)]
pub struct Args {
    /// A preset; flags given explicitly override its numbers.
    #[arg(long, value_enum, default_value_t = Scenario::Custom)]
    pub scenario: Scenario,
    /// Relay WebSocket URL; without it the relay is started here. Give it
    /// several times for several relays of one cluster.
    #[arg(long)]
    pub url: Vec<String>,
    /// Start nats-server and this many of our relays sharing rooms
    /// through it (cluster mode) instead of one relay.
    #[arg(long, conflicts_with = "url", value_parser = clap::value_parser!(u16).range(1..=16))]
    pub cluster: Option<u16>,
    /// Which relay to start when no --url is given.
    #[arg(long, value_enum, default_value_t = RelayKind::Ours)]
    pub relay: RelayKind,
    /// Clients in all.
    #[arg(long)]
    pub clients: Option<usize>,
    /// Rooms (clients are spread evenly).
    #[arg(long)]
    pub rooms: Option<usize>,
    /// Payload bytes per frame.
    #[arg(long)]
    pub size: Option<usize>,
    /// Frames per second per sending client; 0 = flat out.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Fraction of clients that send (the rest only read).
    #[arg(long)]
    pub senders: Option<f64>,
    /// Seconds of traffic.
    #[arg(long)]
    pub duration: Option<u64>,
    /// Clients that never read (slow-reader has 1; 0 runs its control).
    #[arg(long)]
    pub slow_readers: Option<usize>,
    /// Write the summary as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Draw throughput and latency over time as SVG here.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Hide the progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Threads the generator runs on (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// The priority of the game frames sent: `critical` (the game's own,
    /// never dropped: a receiver that cannot keep up is closed as a slow
    /// consumer) or `normal` (dropped under load, to measure raw fan-out
    /// past what receivers take).
    #[arg(long, value_enum, default_value_t = FramePriority::Critical)]
    pub priority: FramePriority,
}

/// `--priority`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FramePriority {
    /// Consensus traffic.
    Critical,
    /// Ordinary traffic.
    Normal,
}

impl From<FramePriority> for shared::wire::Priority {
    fn from(p: FramePriority) -> Self {
        match p {
            FramePriority::Critical => shared::wire::Priority::Critical,
            FramePriority::Normal => shared::wire::Priority::Normal,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Plan {
    pub clients: usize,
    pub rooms: usize,
    pub size: usize,
    pub rate: f64,
    pub senders: f64,
    pub duration: u64,
    pub slow_readers: usize,
}

impl Args {
    pub fn plan(&self) -> Plan {
        let preset = match self.scenario {
            Scenario::ManySmall => Plan {
                clients: 8_000,
                rooms: 2_000,
                size: 64,
                rate: 5.0,
                senders: 1.0,
                duration: 20,
                slow_readers: 0,
            },
            Scenario::FewBig => Plan {
                clients: 2_000,
                rooms: 10,
                size: 64,
                rate: 1.0,
                senders: 1.0,
                duration: 20,
                slow_readers: 0,
            },
            Scenario::Idle => Plan {
                clients: 9_000,
                rooms: 9_000,
                size: 0,
                rate: 0.0,
                senders: 0.0,
                duration: 5,
                slow_readers: 0,
            },
            Scenario::SlowReader => Plan {
                clients: 10,
                rooms: 1,
                size: 4096,
                rate: 4000.0,
                senders: 0.1,
                duration: 10,
                slow_readers: 1,
            },
            Scenario::Consensus => Plan {
                clients: 8,
                rooms: 1,
                size: 0,
                rate: 0.0,
                senders: 0.0,
                duration: 200,
                slow_readers: 0,
            },
            Scenario::Signaling => Plan {
                clients: 2_000,
                rooms: 1_000,
                size: 512,
                rate: 5.0,
                senders: 0.5,
                duration: 10,
                slow_readers: 0,
            },
            Scenario::Custom => Plan {
                clients: 100,
                rooms: 10,
                size: 64,
                rate: 10.0,
                senders: 1.0,
                duration: 10,
                slow_readers: 0,
            },
        };
        let clients = self.clients.unwrap_or(preset.clients).min(20_000);
        Plan {
            clients,
            // Signaling pairs two clients per room.
            rooms: if self.scenario == Scenario::Signaling {
                (clients / 2).max(1)
            } else {
                self.rooms.unwrap_or(preset.rooms).max(1)
            },
            size: self.size.unwrap_or(preset.size).min(60_000),
            rate: self.rate.unwrap_or(preset.rate),
            senders: self.senders.unwrap_or(preset.senders).clamp(0.0, 1.0),
            duration: self.duration.unwrap_or(preset.duration).min(300),
            slow_readers: self.slow_readers.unwrap_or(preset.slow_readers),
        }
    }
}
