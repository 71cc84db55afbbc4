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

mod args;
mod consensus;
mod fanout;
mod report;
mod spawn;

use anyhow::bail;
use benches::signaling::Protocol;
use clap::Parser;

use args::{Args, RelayKind, Scenario};
use spawn::{find_matchbox, spawn_relay, Measured};

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
    // The relays' memory and CPU, summed (NATS's apart).
    let measured = Measured {
        pids: spawned.iter().map(|s| s.0.id()).collect(),
        nats: nats.as_ref(),
    };
    let result = if args.scenario == Scenario::Consensus {
        consensus::run(&args, &plan, &urls, relay, &measured).await
    } else {
        fanout::run(&args, plan, protocol, &urls, relay, &measured).await
    };
    // The relays go before nats-server.
    drop(measured);
    drop(spawned);
    drop(nats);
    result
}
