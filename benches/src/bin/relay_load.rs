//! `relay-load`: a load generator for the BitCraps relay (and, for
//! comparison, the plain baseline relay).
//!
//!     cargo build --release -p bitcraps-relay -p benches
//!     target/release/relay-load --scenario many-small
//!     target/release/relay-load --scenario few-big --relay baseline
//!     target/release/relay-load --url ws://127.0.0.1:8080/ws --clients 100 --rooms 10
//!     target/release/relay-load --scenario consensus --cluster 3
//!
//! Without `--url` it starts the relay itself (the binaries next to this
//! one) on a free loopback port and reads its memory and CPU from /proc;
//! `--cluster N` starts nats-server and N relays sharing rooms through it
//! (cluster mode), and `--url` given several times drives relays already
//! running; either way the clients are spread over the relays so that
//! every room has members on each (client `i` of room `i % rooms` goes to
//! relay `(i / rooms) % relays`).
//! Everything is bounded: at most 20,000 clients and 300 seconds.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use benches::load::{self, Behaviour, ProcSample, Shared, Tick};
use benches::signaling::{self, Protocol};
use clap::{Parser, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
enum Scenario {
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
enum RelayKind {
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
struct Args {
    /// A preset; flags given explicitly override its numbers.
    #[arg(long, value_enum, default_value_t = Scenario::Custom)]
    scenario: Scenario,
    /// Relay WebSocket URL; without it the relay is started here. Give it
    /// several times for several relays of one cluster.
    #[arg(long)]
    url: Vec<String>,
    /// Start nats-server and this many of our relays sharing rooms
    /// through it (cluster mode) instead of one relay.
    #[arg(long, conflicts_with = "url", value_parser = clap::value_parser!(u16).range(1..=16))]
    cluster: Option<u16>,
    /// Which relay to start when no --url is given.
    #[arg(long, value_enum, default_value_t = RelayKind::Ours)]
    relay: RelayKind,
    /// Clients in all.
    #[arg(long)]
    clients: Option<usize>,
    /// Rooms (clients are spread evenly).
    #[arg(long)]
    rooms: Option<usize>,
    /// Payload bytes per frame.
    #[arg(long)]
    size: Option<usize>,
    /// Frames per second per sending client; 0 = flat out.
    #[arg(long)]
    rate: Option<f64>,
    /// Fraction of clients that send (the rest only read).
    #[arg(long)]
    senders: Option<f64>,
    /// Seconds of traffic.
    #[arg(long)]
    duration: Option<u64>,
    /// Clients that never read (slow-reader has 1; 0 runs its control).
    #[arg(long)]
    slow_readers: Option<usize>,
    /// Write the summary as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Draw throughput and latency over time as SVG here.
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Hide the progress bar.
    #[arg(long)]
    quiet: bool,
    /// Threads the generator runs on (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// The priority of the game frames sent: `critical` (the game's own,
    /// never dropped: a receiver that cannot keep up is closed as a slow
    /// consumer) or `normal` (dropped under load, to measure raw fan-out
    /// past what receivers take).
    #[arg(long, value_enum, default_value_t = FramePriority::Critical)]
    priority: FramePriority,
}

/// `--priority`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum FramePriority {
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
struct Plan {
    clients: usize,
    rooms: usize,
    size: usize,
    rate: f64,
    senders: f64,
    duration: u64,
    slow_readers: usize,
}

impl Args {
    fn plan(&self) -> Plan {
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

/// A client ready for traffic.
enum Joined {
    /// On our relay or the baseline.
    Client(load::Client),
    /// An offerer and its answerer.
    Pair(signaling::Pair),
    /// A matchbox connection that only sits there.
    Held(load::Ws),
}

/// The relay process this run started, killed on drop.
struct Spawned(Child);

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// `matchbox_server` on the PATH, if installed.
fn find_matchbox() -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("matchbox_server"))
        .find(|path| path.is_file())
}

async fn spawn_relay(kind: RelayKind, extra: &[String]) -> anyhow::Result<(Spawned, String)> {
    let dir = std::env::current_exe()?
        .parent()
        .context("no binary folder")?
        .to_path_buf();
    let port = free_port()?;
    let listen = format!("127.0.0.1:{port}");
    let mut nats_monitor = None;
    let mut command = match kind {
        RelayKind::Ours => {
            let mut c = Command::new(dir.join("bitcraps-relay"));
            c.args([
                "--listen",
                &listen,
                "--no-stun-server",
                "--max-connections",
                "20000",
                // Every client comes from 127.0.0.1.
                "--max-connections-per-ip",
                "0",
                "--max-pending-http-per-ip",
                "0",
                "--max-pending-http",
                "20000",
            ])
            .args(["--max-peers-per-room", "1000"])
            .args([
                "--rate-per-sec",
                "100000",
                "--rate-burst",
                "100000",
                "--rate-bytes-per-sec",
                "100000000000",
                "--rate-bytes-burst",
                "100000000000",
                "--idle-timeout-secs",
                "600",
                "--room-idle-timeout-secs",
                "600",
            ])
            .args(extra)
            .env("RUST_LOG", "warn");
            c
        }
        RelayKind::Baseline => {
            let mut c = Command::new(dir.join("baseline-relay"));
            c.args(["--listen", &listen]);
            c
        }
        RelayKind::Matchbox => {
            let mut c = Command::new(find_matchbox().context("matchbox_server is not installed")?);
            c.arg(&listen).env("RUST_LOG", "warn");
            c
        }
        RelayKind::Nats => {
            // Client port, monitoring port (its /healthz), WebSocket port.
            let (client_port, monitor_port) = (free_port()?, free_port()?);
            let config = std::env::temp_dir().join(format!(
                "bitcraps-load-nats-{}-{port}.conf",
                std::process::id()
            ));
            std::fs::write(
                &config,
                format!(
                    "listen: 127.0.0.1:{client_port}\nhttp: 127.0.0.1:{monitor_port}\n\
                     max_connections: 100000\nping_interval: \"10m\"\n\
                     websocket {{ listen: \"{listen}\", no_tls: true }}\n"
                ),
            )?;
            nats_monitor = Some(monitor_port);
            let mut c = Command::new(benches::nats::binary());
            c.arg("-c").arg(&config);
            c
        }
    };
    // `BITCRAPS_LOAD_RELAY_LOGS=DIR`: each relay started here writes its
    // log (info, cluster traffic at debug) to DIR/relay-<port>.log.
    let log = match std::env::var_os("BITCRAPS_LOAD_RELAY_LOGS") {
        Some(dir) if kind == RelayKind::Ours => {
            command.env("RUST_LOG", "info,async_nats=warn,relay::cluster=debug");
            Stdio::from(std::fs::File::create(
                PathBuf::from(dir).join(format!("relay-{port}.log")),
            )?)
        }
        _ => Stdio::null(),
    };
    let child = command
        .stdout(log)
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start the relay from {} (cargo build --release -p bitcraps-relay -p benches)", dir.display()))?;
    let spawned = Spawned(child);
    let (health, url) = match kind {
        RelayKind::Matchbox => (format!("http://{listen}/health"), format!("ws://{listen}")),
        RelayKind::Nats => (
            format!("http://127.0.0.1:{}/healthz", nats_monitor.unwrap_or(0)),
            format!("ws://{listen}"),
        ),
        _ => (
            format!("http://{listen}/healthz"),
            format!("ws://{listen}/ws"),
        ),
    };
    for _ in 0..100 {
        if reqwest::get(&health).await.is_ok() {
            return Ok((spawned, url));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("the relay did not start")
}

#[derive(Debug, Serialize)]
struct Summary {
    scenario: Scenario,
    relay: Option<RelayKind>,
    /// Relays driven (several: one cluster through NATS).
    relays: usize,
    plan: Plan,
    connected: usize,
    connect_seconds: f64,
    sent: u64,
    delivered: u64,
    expected_deliveries: u64,
    deliveries_per_sec: f64,
    latency_us: Latency,
    disconnects: u64,
    relay_rss_kib_idle_before: Option<u64>,
    relay_rss_kib_connected: Option<u64>,
    relay_rss_kib_peak: Option<u64>,
    relay_kib_per_connection: Option<f64>,
    relay_cpu_percent: Option<f64>,
    /// Cluster mode: nats-server's CPU over the traffic.
    nats_cpu_percent: Option<f64>,
    /// Counters scraped from the relay's `/metrics` after the run (our
    /// relay only): frames dropped from queues and slow consumers closed.
    relay_metrics: Option<RelayMetrics>,
    ticks: Vec<Tick>,
}

#[derive(Debug, Default, Serialize)]
struct RelayMetrics {
    queue_drops: u64,
    slow_consumer_disconnects: u64,
    frames_in: u64,
    frames_out: u64,
}

/// Sums the samples of each named metric in a Prometheus text exposition.
fn scrape(text: &str, name: &str) -> u64 {
    text.lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// The relays' counters, summed.
async fn relays_metrics(urls: &[String]) -> Option<RelayMetrics> {
    let mut sum: Option<RelayMetrics> = None;
    for url in urls {
        if let Some(m) = relay_metrics(url).await {
            let s = sum.get_or_insert_with(RelayMetrics::default);
            s.queue_drops += m.queue_drops;
            s.slow_consumer_disconnects += m.slow_consumer_disconnects;
            s.frames_in += m.frames_in;
            s.frames_out += m.frames_out;
        }
    }
    sum
}

async fn relay_metrics(ws_url: &str) -> Option<RelayMetrics> {
    let http = ws_url
        .replacen("ws://", "http://", 1)
        .replacen("/ws", "/metrics", 1);
    let text = reqwest::get(&http).await.ok()?.text().await.ok()?;
    if !text.contains("bitcraps_") {
        return None;
    }
    Some(RelayMetrics {
        queue_drops: scrape(&text, "bitcraps_queue_drops_total"),
        slow_consumer_disconnects: scrape(&text, "bitcraps_slow_consumer_disconnects_total"),
        frames_in: scrape(&text, "bitcraps_frames_in_total"),
        frames_out: scrape(&text, "bitcraps_frames_out_total"),
    })
}

#[derive(Debug, Default, Serialize)]
struct Latency {
    p50: u64,
    p99: u64,
    p999: u64,
    max: u64,
    samples: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = match args.threads {
        Some(1) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?,
        Some(n) => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n.max(1))
            .enable_all()
            .build()?,
        None => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?,
    };
    runtime.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let plan = args.plan();
    let protocol = match args.relay {
        RelayKind::Matchbox => {
            if !matches!(args.scenario, Scenario::Idle | Scenario::Signaling) {
                bail!("matchbox_server only signals: run --scenario idle or signaling against it");
            }
            if args.url.is_empty() && find_matchbox().is_none() {
                println!(
                    "matchbox_server is not installed (cargo install matchbox_server); \
                     skipping the matchbox comparison"
                );
                return Ok(());
            }
            Protocol::Matchbox
        }
        RelayKind::Nats => {
            if matches!(args.scenario, Scenario::Consensus | Scenario::Signaling) {
                bail!("nats-server is compared on fan-out: run many-small, few-big, idle, slow-reader or custom");
            }
            Protocol::Nats
        }
        _ => Protocol::Frames,
    };
    if args.scenario == Scenario::Signaling && !(plan.rate > 0.0 && plan.rate.is_finite()) {
        bail!("signaling runs at a set rate: give --rate in offers per second per pair");
    }
    if args.cluster.is_some() && args.relay != RelayKind::Ours {
        bail!("--cluster runs our relay");
    }
    // Cluster mode: nats-server first (dropped last, after the relays).
    let nats = match args.cluster {
        Some(_) => Some(benches::nats::start_server().await?),
        None => None,
    };
    let mut spawned = Vec::new();
    let (urls, relay) = if args.url.is_empty() {
        let extra: Vec<String> = nats
            .as_ref()
            .map(|n| vec!["--nats".into(), n.url.clone()])
            .unwrap_or_default();
        let mut urls = Vec::new();
        for _ in 0..args.cluster.unwrap_or(1) {
            let (child, url) = spawn_relay(args.relay, &extra).await?;
            spawned.push(child);
            urls.push(url);
        }
        (urls, Some(args.relay))
    } else {
        (args.url.clone(), None)
    };
    let pids: Vec<u32> = spawned.iter().map(|s| s.0.id()).collect();
    // The relays' memory and CPU, summed (NATS's apart).
    let sample = || -> Option<ProcSample> {
        let all: Vec<ProcSample> = pids.iter().filter_map(|p| load::proc_sample(*p)).collect();
        (!all.is_empty() && all.len() == pids.len()).then(|| ProcSample {
            rss_kib: all.iter().map(|s| s.rss_kib).sum(),
            cpu_ticks: all.iter().map(|s| s.cpu_ticks).sum(),
        })
    };
    let nats_cpu = || {
        nats.as_ref()
            .and_then(|n| load::proc_sample(n.pid()))
            .map(|s| s.cpu_ticks)
    };
    if args.scenario == Scenario::Consensus {
        // `duration` is the number of rolls here.
        let rolls = plan.duration as usize;
        // CPU of the players (this process) and of the relay over the run:
        // the players' signatures share this machine's cores with the relay.
        let cpu = || {
            (
                load::proc_sample(std::process::id()).map(|s| s.cpu_ticks),
                sample().map(|s| s.cpu_ticks),
                nats_cpu(),
            )
        };
        let cpu_before = cpu();
        let mut times = load::run_consensus(&urls, plan.clients, rolls).await?;
        let cpu_after = cpu();
        // ms of CPU per roll (Linux counts CPU in 1/100 s).
        let per_roll = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (Some(a), Some(b)) if !times.is_empty() => {
                Some((b - a) as f64 * 10.0 / times.len() as f64)
            }
            _ => None,
        };
        let players_cpu = per_roll(cpu_before.0, cpu_after.0);
        let relay_cpu = per_roll(cpu_before.1, cpu_after.1);
        let nats_cpu = per_roll(cpu_before.2, cpu_after.2);
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let q = |f: f64| {
            times
                .get(((times.len() as f64 - 1.0) * f).round() as usize)
                .copied()
                .map_or(0.0, ms)
        };
        println!(
            "consensus           {} players on {} relay(s), {} rolls timed",
            plan.clients,
            urls.len(),
            times.len()
        );
        println!(
            "roll round trip ms  median {:.2}  p99 {:.2}  max {:.2}",
            q(0.5),
            q(0.99),
            q(1.0)
        );
        let show = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.2}"));
        println!(
            "CPU ms per roll     players {}  relay(s) {}  nats-server {}  (the machine has {} cores)",
            show(players_cpu),
            show(relay_cpu),
            show(nats_cpu),
            std::thread::available_parallelism().map_or(1, |n| n.get())
        );
        if let Some(path) = &args.json {
            let report = serde_json::json!({
                "scenario": "consensus", "relay": relay, "relays": urls.len(), "players": plan.clients, "rolls": times.len(),
                "median_ms": q(0.5), "p99_ms": q(0.99), "max_ms": q(1.0),
                "players_cpu_ms_per_roll": players_cpu, "relay_cpu_ms_per_roll": relay_cpu,
                "nats_cpu_ms_per_roll": nats_cpu,
            });
            std::fs::write(path, serde_json::to_string_pretty(&report)?)?;
        }
        drop(spawned);
        drop(nats);
        return Ok(());
    }
    let before = sample();
    let shared = Shared::new()?;

    // Connect everyone, a bounded number at a time.
    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(plan.clients as u64)
    };
    bar.set_style(
        ProgressStyle::with_template("{msg:12} [{bar:40}] {pos}/{len} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message("connecting");
    let started = Instant::now();
    let semaphore = Arc::new(tokio::sync::Semaphore::new(256));
    let mut joins = tokio::task::JoinSet::new();
    let signaling = args.scenario == Scenario::Signaling;
    // A signaling pair connects as one unit of two clients.
    let units = if signaling {
        plan.clients / 2
    } else {
        plan.clients
    };
    for i in 0..units {
        // Every room has members on each relay.
        let url = urls[(i / plan.rooms) % urls.len()].clone();
        let permit = Arc::clone(&semaphore).acquire_owned().await?;
        let room = i % plan.rooms;
        joins.spawn(async move {
            let joining = async {
                Ok::<_, anyhow::Error>(match (signaling, protocol) {
                    (true, _) => Joined::Pair(signaling::connect_pair(&url, protocol, i).await?),
                    (false, Protocol::Matchbox) => Joined::Held(
                        signaling::connect_matchbox(&url, &format!("idle-{room}"))
                            .await?
                            .0,
                    ),
                    (false, Protocol::Frames) => {
                        Joined::Client(load::connect(&url, i, load::room_id(room)).await?)
                    }
                    (false, Protocol::Nats) => {
                        Joined::Client(load::connect_nats(&url, i, load::room_id(room)).await?)
                    }
                })
            };
            let joined = match tokio::time::timeout(Duration::from_secs(20), joining).await {
                Ok(result) => result,
                Err(_) => Err(anyhow::anyhow!("no join within 20 s")),
            };
            drop(permit);
            (i, joined)
        });
    }
    let mut clients = Vec::with_capacity(plan.clients);
    let mut connected = 0;
    while let Some(joined) = joins.join_next().await {
        let (i, client) = joined?;
        match client {
            Ok(c) => {
                connected += if signaling { 2 } else { 1 };
                clients.push((i, c));
            }
            Err(e) => {
                bar.println(format!("client {i}: {e:#}"));
                shared.disconnects.fetch_add(1, Ordering::Relaxed);
            }
        }
        bar.inc(if signaling { 2 } else { 1 });
    }
    let connect_seconds = started.elapsed().as_secs_f64();
    let connected_sample = sample();

    // Traffic.
    let senders_per_room = ((plan.clients / plan.rooms) as f64 * plan.senders).ceil() as usize;
    let rate = if plan.rate == 0.0 {
        f64::INFINITY
    } else {
        plan.rate
    };
    let mut per_room_members = vec![0usize; plan.rooms];
    let mut per_room_senders = vec![0usize; plan.rooms];
    let mut tasks = Vec::new();
    let mut slow_left = plan.slow_readers;
    for (i, client) in clients {
        let client = match client {
            Joined::Client(client) => client,
            Joined::Pair(pair) => {
                per_room_members[i % plan.rooms] += 2;
                tasks.push(tokio::spawn(signaling::run_pair(
                    pair,
                    plan.rate,
                    plan.size,
                    Arc::clone(&shared),
                )));
                continue;
            }
            Joined::Held(ws) => {
                per_room_members[i % plan.rooms] += 1;
                tasks.push(tokio::spawn(signaling::hold(ws, Arc::clone(&shared))));
                continue;
            }
        };
        let r = i % plan.rooms;
        per_room_members[r] += 1;
        let sends = per_room_senders[r] < senders_per_room && plan.senders > 0.0;
        let reads = if !sends && slow_left > 0 {
            slow_left -= 1;
            false
        } else {
            true
        };
        if sends {
            per_room_senders[r] += 1;
        }
        let behaviour = Behaviour {
            rate: if sends { rate } else { 0.0 },
            size: plan.size,
            reads,
            priority: args.priority.into(),
        };
        tasks.push(tokio::spawn(load::run_client(
            client,
            behaviour,
            Arc::clone(&shared),
        )));
    }
    bar.set_length(plan.duration);
    bar.set_position(0);
    bar.set_message("traffic");
    let traffic = Instant::now();
    let cpu_start = sample().map(|s| s.cpu_ticks);
    let nats_start = nats_cpu();
    let mut ticks = Vec::new();
    let mut last = 0;
    let mut peak = connected_sample.map_or(0, |s| s.rss_kib);
    for second in 1..=plan.duration {
        tokio::time::sleep_until(tokio::time::Instant::from_std(
            traffic + Duration::from_secs(second),
        ))
        .await;
        let delivered = shared.delivered.load(Ordering::Relaxed);
        let window = shared.window.lock().map(|mut h| {
            let (p50, p99) = (h.value_at_quantile(0.5), h.value_at_quantile(0.99));
            h.reset();
            (p50, p99)
        });
        let (p50_us, p99_us) = window.unwrap_or((0, 0));
        let now = sample();
        peak = peak.max(now.map_or(0, |s: ProcSample| s.rss_kib));
        ticks.push(Tick {
            second,
            delivered: delivered - last,
            p50_us,
            p99_us,
            relay_rss_kib: now.map(|s| s.rss_kib),
        });
        last = delivered;
        bar.set_position(second);
        bar.set_message(format!("{} /s", ticks.last().map_or(0, |t| t.delivered)));
    }
    let elapsed = traffic.elapsed().as_secs_f64();
    let cpu_end = sample().map(|s| s.cpu_ticks);
    let nats_end = nats_cpu();
    shared.finish(tasks, Duration::from_millis(200)).await;
    bar.finish_and_clear();

    let sent = shared.sent.load(Ordering::Relaxed);
    let delivered = shared.delivered.load(Ordering::Relaxed);
    // Each frame should reach every reading member of its room but the sender.
    let avg_readers = if plan.rooms > 0 {
        per_room_members.iter().sum::<usize>() as f64 / plan.rooms as f64
            - 1.0
            - plan.slow_readers as f64 / plan.rooms as f64
    } else {
        0.0
    };
    let latency = shared.latency.lock().map(|h| Latency {
        p50: h.value_at_quantile(0.5),
        p99: h.value_at_quantile(0.99),
        p999: h.value_at_quantile(0.999),
        max: h.max(),
        samples: h.len(),
    });
    let ticks_per_sec = 100.0; // Linux USER_HZ
    let summary = Summary {
        scenario: args.scenario,
        relay,
        relays: urls.len(),
        plan,
        connected,
        connect_seconds,
        sent,
        delivered,
        // A signaling offer is answered once.
        expected_deliveries: if signaling {
            sent
        } else {
            (sent as f64 * avg_readers.max(0.0)) as u64
        },
        deliveries_per_sec: delivered as f64 / elapsed,
        latency_us: latency.unwrap_or_default(),
        disconnects: shared.disconnects.load(Ordering::Relaxed),
        relay_rss_kib_idle_before: before.map(|s| s.rss_kib),
        relay_rss_kib_connected: connected_sample.map(|s| s.rss_kib),
        relay_rss_kib_peak: (!pids.is_empty()).then_some(peak),
        relay_kib_per_connection: match (before, connected_sample) {
            (Some(b), Some(c)) if connected > 0 => {
                Some((c.rss_kib as f64 - b.rss_kib as f64) / connected as f64)
            }
            _ => None,
        },
        relay_cpu_percent: match (cpu_start, cpu_end) {
            (Some(a), Some(b)) => Some((b - a) as f64 / ticks_per_sec / elapsed * 100.0),
            _ => None,
        },
        nats_cpu_percent: match (nats_start, nats_end) {
            (Some(a), Some(b)) => Some((b - a) as f64 / ticks_per_sec / elapsed * 100.0),
            _ => None,
        },
        relay_metrics: relays_metrics(&urls).await,
        ticks,
    };
    print_summary(&summary);
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&summary)?)?;
    }
    if let Some(path) = &args.plot {
        load::plot(
            &summary.ticks,
            &format!(
                "{:?} on {:?}",
                args.scenario,
                relay.unwrap_or(RelayKind::Ours)
            ),
            path,
        )?;
    }
    drop(spawned);
    drop(nats);
    Ok(())
}

fn print_summary(s: &Summary) {
    let opt = |v: Option<u64>| v.map_or("-".into(), |v| v.to_string());
    println!(
        "scenario            {:?} against {}{}",
        s.scenario,
        s.relay
            .map_or("given URL(s)".into(), |r| format!("{r:?} relay")),
        if s.relays > 1 {
            format!(" x {} (one cluster through NATS)", s.relays)
        } else {
            String::new()
        }
    );
    println!(
        "clients / rooms     {} connected of {} in {} rooms ({:.1} s to connect)",
        s.connected, s.plan.clients, s.plan.rooms, s.connect_seconds
    );
    let signaling = s.scenario == Scenario::Signaling;
    let (sent, delivered, latency) = if signaling {
        (
            "offers sent        ",
            "answers received   ",
            "round trip µs      ",
        )
    } else {
        (
            "frames sent        ",
            "deliveries         ",
            "latency µs         ",
        )
    };
    println!("{sent} {}", s.sent);
    println!(
        "{delivered} {} of ~{} expected ({:.0}/s)",
        s.delivered, s.expected_deliveries, s.deliveries_per_sec
    );
    println!(
        "{latency} p50 {}  p99 {}  p99.9 {}  max {}  ({} samples)",
        s.latency_us.p50,
        s.latency_us.p99,
        s.latency_us.p999,
        s.latency_us.max,
        s.latency_us.samples
    );
    println!("disconnects         {}", s.disconnects);
    println!(
        "relay RSS KiB       before {}  connected {}  peak {}",
        opt(s.relay_rss_kib_idle_before),
        opt(s.relay_rss_kib_connected),
        opt(s.relay_rss_kib_peak)
    );
    if let Some(per) = s.relay_kib_per_connection {
        println!("relay KiB per conn  {per:.2}");
    }
    if let Some(cpu) = s.relay_cpu_percent {
        println!("relay CPU           {cpu:.0}% (of one core; all relays together)");
    }
    if let Some(cpu) = s.nats_cpu_percent {
        println!("nats-server CPU     {cpu:.0}% (of one core)");
    }
    if let Some(m) = &s.relay_metrics {
        println!(
            "relay /metrics      frames in {}  out {}  queue drops {}  slow consumers closed {}",
            m.frames_in, m.frames_out, m.queue_drops, m.slow_consumer_disconnects
        );
    }
}
