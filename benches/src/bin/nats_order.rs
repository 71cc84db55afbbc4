//! `nats-order`: one order per room across relays, two ways, measured
//! against a real `nats-server` (started here with JetStream on, storage
//! in a temporary folder, on a free loopback port):
//!
//! - `jetstream`: one stream (`ROOMS`, subjects `rooms.<room>`). A relay
//!   publishes a client's frame and waits for the stream's ack (the
//!   frame's sequence number: ordered, stored, readable again from any
//!   relay after a restart); each relay reads each room through an
//!   ordered push consumer filtered to that room's subject
//!   (`--one-consumer`: one per relay over every room).
//! - `sequencer`: core NATS pub/sub and nothing stored. A relay publishes
//!   to `in.<room>`; the room's sequencer (one of the relays, chosen by the
//!   room's number) numbers each frame and publishes it to `out.<room>`;
//!   every relay subscribes to `out.<room>`.
//!
//! `--relays` connections stand in for relays (each its own NATS client,
//! as separate relay processes would be); every relay serves every room
//! (the worst case: each room has players on every relay) and publishes a
//! share of its frames. Frames carry their send time; the run reports
//! publish-to-delivery latency over every delivery, deliveries per second,
//! and checks that every relay saw every room's frames in one order with
//! nothing missing.
//!
//!     target/release/nats-order --design jetstream --rooms 100 --rate 20 --duration 10

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use async_nats::jetstream;
use bytes::{BufMut, Bytes, BytesMut};
use clap::{Parser, ValueEnum};
use futures_util::StreamExt;
use hdrhistogram::Histogram;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Design {
    Jetstream,
    Sequencer,
}

/// One order per room across relays through NATS: JetStream or a sequencer.
#[derive(Debug, Parser)]
struct Args {
    #[arg(long, value_enum)]
    design: Design,
    /// Relays (NATS connections), each serving every room.
    #[arg(long, default_value_t = 3)]
    relays: usize,
    /// Rooms.
    #[arg(long, default_value_t = 100)]
    rooms: usize,
    /// Frames per second per room (0: as fast as the publishers go).
    #[arg(long, default_value_t = 20.0)]
    rate: f64,
    /// Seconds of publishing.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Bytes per frame.
    #[arg(long, default_value_t = 200)]
    size: usize,
    /// JetStream: one ordered consumer per relay over every room's subject
    /// (`rooms.>`), instead of one per relay and room.
    #[arg(long)]
    one_consumer: bool,
    /// An already running nats-server (with JetStream) instead of one
    /// started here.
    #[arg(long)]
    url: Option<String>,
}

/// What every relay received: per room, the frames' ids in order.
type Seen = Arc<Mutex<Vec<HashMap<u32, Vec<u64>>>>>;

/// A frame: room u32 | id u64 | sent (µs since the run began) u64 | padding.
fn frame(room: u32, id: u64, sent_us: u64, size: usize) -> Bytes {
    let mut b = BytesMut::with_capacity(size.max(20));
    b.put_u32(room);
    b.put_u64(id);
    b.put_u64(sent_us);
    b.resize(size.max(20), 0);
    b.freeze()
}

fn parse(payload: &[u8]) -> Option<(u32, u64, u64)> {
    if payload.len() < 20 {
        return None;
    }
    let room = u32::from_be_bytes(payload[0..4].try_into().ok()?);
    let id = u64::from_be_bytes(payload[4..12].try_into().ok()?);
    let sent = u64::from_be_bytes(payload[12..20].try_into().ok()?);
    Some((room, id, sent))
}

/// Records one delivery to relay `relay`.
fn deliver(
    seen: &Seen,
    hist: &Mutex<Histogram<u64>>,
    start: Instant,
    relay: usize,
    payload: &[u8],
) {
    let Some((room, id, sent)) = parse(payload) else {
        return;
    };
    let now = start.elapsed().as_micros() as u64;
    if let Ok(mut h) = hist.lock() {
        let _ = h.record(now.saturating_sub(sent).max(1));
    }
    if let Ok(mut s) = seen.lock() {
        s[relay].entry(room).or_default().push(id);
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let server = match &args.url {
        Some(_) => None,
        None => Some(benches::nats::start_server().await?),
    };
    let url = args
        .url
        .clone()
        .or_else(|| server.as_ref().map(|s| s.url.clone()))
        .context("no server")?;
    let mut clients = Vec::new();
    for _ in 0..args.relays {
        clients.push(async_nats::connect(&url).await.context("connect")?);
    }
    let start = Instant::now();
    let seen: Seen = Arc::new(Mutex::new(vec![HashMap::new(); args.relays]));
    let hist = Arc::new(Mutex::new(Histogram::<u64>::new(3)?));
    let rooms = args.rooms as u32;

    // Readers: every relay, every room.
    match args.design {
        Design::Jetstream => {
            let js = jetstream::new(clients[0].clone());
            let _ = js.delete_stream("ROOMS").await;
            let stream = js
                .create_stream(jetstream::stream::Config {
                    name: "ROOMS".into(),
                    subjects: vec!["rooms.>".into()],
                    storage: jetstream::stream::StorageType::File,
                    max_age: Duration::from_secs(600),
                    ..Default::default()
                })
                .await
                .map_err(|e| anyhow::anyhow!("create stream: {e}"))?;
            let filters: Vec<String> = if args.one_consumer {
                vec!["rooms.>".into()]
            } else {
                (0..rooms).map(|room| format!("rooms.{room}")).collect()
            };
            for (relay, client) in clients.iter().enumerate() {
                for filter in &filters {
                    let consumer = stream
                        .create_consumer(jetstream::consumer::push::OrderedConfig {
                            deliver_subject: client.new_inbox(),
                            filter_subject: filter.clone(),
                            ..Default::default()
                        })
                        .await
                        .map_err(|e| anyhow::anyhow!("consumer: {e}"))?;
                    let mut messages = consumer
                        .messages()
                        .await
                        .map_err(|e| anyhow::anyhow!("messages: {e}"))?;
                    let (seen, hist) = (Arc::clone(&seen), Arc::clone(&hist));
                    tokio::spawn(async move {
                        while let Some(Ok(m)) = messages.next().await {
                            deliver(&seen, &hist, start, relay, &m.payload);
                        }
                    });
                }
            }
        }
        Design::Sequencer => {
            for (relay, client) in clients.iter().enumerate() {
                for room in 0..rooms {
                    let mut sub = client
                        .subscribe(format!("out.{room}"))
                        .await
                        .context("subscribe")?;
                    let (seen, hist) = (Arc::clone(&seen), Arc::clone(&hist));
                    tokio::spawn(async move {
                        while let Some(m) = sub.next().await {
                            // (The sequence number is the first 8 bytes.)
                            deliver(&seen, &hist, start, relay, &m.payload[8..]);
                        }
                    });
                }
            }
            // Each room's sequencer: the relay `room % relays`.
            for room in 0..rooms {
                let client = clients[room as usize % args.relays].clone();
                let mut sub = client
                    .subscribe(format!("in.{room}"))
                    .await
                    .context("subscribe")?;
                tokio::spawn(async move {
                    let mut seq = 0u64;
                    let subject = format!("out.{room}");
                    while let Some(m) = sub.next().await {
                        seq += 1;
                        let mut out = BytesMut::with_capacity(8 + m.payload.len());
                        out.put_u64(seq);
                        out.put_slice(&m.payload);
                        let _ = client.publish(subject.clone(), out.freeze()).await;
                    }
                });
            }
        }
    }
    for client in &clients {
        client.flush().await?;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Publishers: each relay publishes its share of each room's frames,
    // paced per room.
    let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let run_start = Instant::now();
    let mut publishers = Vec::new();
    for (relay, client) in clients.iter().enumerate() {
        let client = client.clone();
        let js = jetstream::new(client.clone());
        let sent = Arc::clone(&sent);
        let args_rate = args.rate;
        let duration = Duration::from_secs(args.duration);
        let (relays, size, design) = (args.relays, args.size, args.design);
        publishers.push(tokio::spawn(async move {
            // This relay's rooms' frames: rooms where room % relays == relay
            // publish from here (a share of the rooms; every relay still
            // reads every room).
            let mine: Vec<u32> = (0..rooms)
                .filter(|r| *r as usize % relays == relay)
                .collect();
            let interval = if args_rate > 0.0 {
                Duration::from_secs_f64(1.0 / args_rate)
            } else {
                Duration::ZERO
            };
            let mut id = (relay as u64) << 48;
            let mut next = Instant::now();
            let mut acks = Vec::new();
            while run_start.elapsed() < duration {
                for &room in &mine {
                    id += 1;
                    let payload = frame(room, id, start.elapsed().as_micros() as u64, size);
                    match design {
                        Design::Jetstream => {
                            match js.publish(format!("rooms.{room}"), payload).await {
                                // The ack (the stream's sequence number) comes
                                // back on its own; wait for it later.
                                Ok(ack) => acks.push(ack),
                                Err(_) => continue,
                            }
                        }
                        Design::Sequencer => {
                            if client.publish(format!("in.{room}"), payload).await.is_err() {
                                continue;
                            }
                        }
                    }
                    sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                if acks.len() > 1_000 {
                    for ack in acks.drain(..) {
                        let _ = ack.await;
                    }
                }
                next += interval;
                if let Some(wait) = next.checked_duration_since(Instant::now()) {
                    tokio::time::sleep(wait).await;
                }
            }
            for ack in acks.drain(..) {
                let _ = ack.await;
            }
        }));
    }
    for p in publishers {
        p.await?;
    }
    let elapsed = run_start.elapsed();
    for client in &clients {
        client.flush().await?;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    let sent = sent.load(std::sync::atomic::Ordering::Relaxed);
    let seen = seen.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
    let deliveries: usize = seen.iter().flat_map(|r| r.values()).map(Vec::len).sum();
    // One order: every relay holds every room's frames, the same ids in
    // the same order.
    let mut same_order = true;
    for room in 0..rooms {
        let first = seen[0].get(&room);
        for relay in &seen[1..] {
            same_order &= relay.get(&room) == first;
        }
    }
    let hist = hist.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
    let ms = |us: u64| us as f64 / 1000.0;
    println!(
        "{:?}: {} relays, {} rooms, {} frames sent in {:.1} s ({:.0}/s); {} deliveries ({:.0}/s, expected {}); one order on every relay: {}; latency ms p50 {:.2} p99 {:.2} max {:.2}",
        args.design,
        args.relays,
        args.rooms,
        sent,
        elapsed.as_secs_f64(),
        sent as f64 / elapsed.as_secs_f64(),
        deliveries,
        deliveries as f64 / elapsed.as_secs_f64(),
        sent as usize * args.relays,
        same_order,
        ms(hist.value_at_quantile(0.5)),
        ms(hist.value_at_quantile(0.99)),
        ms(hist.max()),
    );
    if !same_order || deliveries != sent as usize * args.relays {
        bail!("a relay missed frames, or saw another order");
    }
    drop(server);
    Ok(())
}
