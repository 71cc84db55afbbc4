//! The relay binary itself, as operators run it: under a join/leave storm,
//! stopped with SIGTERM, and read through its log.
//!
//! The storm: thousands of connections a second connect, join a room, and
//! go (leaving, closing, or just dropping the TCP connection), while a
//! neighbouring room plays on. The relay must keep answering, the
//! neighbours must receive every frame, and SIGTERM must stop it within
//! its grace period.
//!
//! Two storm workers share each room, so rooms are emptied (and removed)
//! while someone joins them all the time: the interleaving that once
//! deadlocked the relay.
//!
//! The test command runs it for a few seconds against the debug binary;
//! the long run sets `BITCRAPS_STORM_SECS=10`, `BITCRAPS_STORM_RATE`
//! (cycles per second, default 2,000) and `BITCRAPS_RELAY_BIN` (e.g. the
//! release binary): see RELIABILITY.md.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::binary::{start_binary, terminate, Binary};
use common::{key, Client};
use futures_util::SinkExt;
use shared::wire::FrameKind;

use tokio::io::AsyncWriteExt;

/// The storm's rooms: room `w / 2` for worker `w`.
fn storm_room(worker: u64) -> [u8; 16] {
    let mut room = [0x5a; 16];
    room[..8].copy_from_slice(&(worker / 2).to_be_bytes());
    room
}
const QUIET_ROOM: [u8; 16] = [0x3c; 16];
const WORKERS: u64 = 64;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn exits_within(binary: &mut Binary, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        if binary.child.try_wait().unwrap().is_some() {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "still running {limit:?} after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One storm cycle: connect, join, and go one of three ways.
async fn cycle(url: &str, worker: u64, n: u64) {
    let room = storm_room(worker);
    let mut client = Client::connect(url, key(worker as u8)).await;
    client.join_and_roster(room).await;
    match n % 3 {
        0 => {
            client.send(FrameKind::Leave, room, None, &[]).await;
            let _ = client.ws.close(None).await;
        }
        1 => {
            let _ = client.ws.close(None).await;
        }
        _ => drop(client), // the TCP connection just ends
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_leave_storm_leaves_the_relay_answering_and_the_neighbours_playing() {
    let secs = env_or("BITCRAPS_STORM_SECS", 3);
    let rate = env_or("BITCRAPS_STORM_RATE", 2_000);
    // (Every storm client comes from 127.0.0.1.)
    let mut binary = start_binary(&[
        "--shutdown-grace-secs",
        "3",
        "--max-connections-per-ip",
        "0",
        "--max-pending-http-per-ip",
        "0",
    ]);
    let url = format!("ws://{}/ws", binary.addr);

    // The neighbours: one plays a frame every 10 ms, one listens.
    let mut player = Client::connect(&url, key(200)).await;
    player.join_and_roster(QUIET_ROOM).await;
    let mut listener = Client::connect(&url, key(201)).await;
    listener.join_and_roster(QUIET_ROOM).await;
    let sent = Arc::new(AtomicU64::new(0));
    let playing = {
        let sent = Arc::clone(&sent);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            // A player held up by the saturated machine plays on at its
            // pace, not in a catch-up burst past the rate limit.
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            for i in 0u64.. {
                tick.tick().await;
                player
                    .send(FrameKind::Game, QUIET_ROOM, None, &i.to_be_bytes())
                    .await;
                sent.store(i + 1, Ordering::Relaxed);
            }
        })
    };
    let received = Arc::new(AtomicU64::new(0));
    let worst_gap_ms = Arc::new(AtomicU64::new(0));
    let listening = {
        let (received, worst_gap_ms) = (Arc::clone(&received), Arc::clone(&worst_gap_ms));
        tokio::spawn(async move {
            let mut last = Instant::now();
            for next in 0u64.. {
                // (recv fails the task if nothing comes for 5 s.)
                let got = listener.recv_kind(FrameKind::Game).await;
                let i = u64::from_be_bytes(got.payload[..8].try_into().unwrap());
                assert_eq!(
                    i, next,
                    "the neighbours' frames arrive, all of them, in order"
                );
                received.store(next + 1, Ordering::Relaxed);
                worst_gap_ms.fetch_max(last.elapsed().as_millis() as u64, Ordering::Relaxed);
                last = Instant::now();
            }
        })
    };

    // The storm.
    let cycles = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(secs);
    let per_worker = Duration::from_secs_f64(WORKERS as f64 / rate as f64);
    let mut workers = Vec::new();
    for w in 0..WORKERS {
        let url = url.clone();
        let cycles = Arc::clone(&cycles);
        workers.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(per_worker);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            let mut n = 0;
            while Instant::now() < deadline {
                tick.tick().await;
                cycle(&url, w, n).await;
                n += 1;
                cycles.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for w in workers {
        w.await
            .expect("every storm cycle completes: connect, join, roster");
    }
    let took = started.elapsed();
    let done = cycles.load(Ordering::Relaxed);
    eprintln!(
        "storm: {done} cycles in {took:.1?} ({:.0}/s asked {rate}/s)",
        done as f64 / took.as_secs_f64()
    );

    // The relay still answers.
    let health = tokio::time::timeout(
        Duration::from_secs(5),
        reqwest::get(format!("http://{}/healthz", binary.addr)),
    )
    .await
    .expect("/healthz answers within 5 s")
    .expect("/healthz");
    assert_eq!(health.text().await.unwrap(), "ok");
    // A newcomer still joins a storm room, and finds it empty.
    let mut late = Client::connect(&url, key(250)).await;
    assert_eq!(late.join_and_roster(storm_room(0)).await, vec![late.id()]);
    // The neighbours kept playing, and every frame reached the listener.
    playing.abort();
    let sent = sent.load(Ordering::Relaxed);
    assert!(
        sent > secs * 50,
        "the player played throughout ({sent} frames)"
    );
    let waiting = Instant::now();
    while received.load(Ordering::Relaxed) < sent {
        assert!(!listening.is_finished(), "the listener failed");
        assert!(
            waiting.elapsed() < Duration::from_secs(5),
            "{} of {sent} frames arrived",
            received.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    listening.abort();
    eprintln!(
        "neighbours: {sent} frames, all received; longest gap {} ms (one every 10 ms sent)",
        worst_gap_ms.load(Ordering::Relaxed)
    );

    // SIGTERM stops it within its grace (3 s) and a margin.
    terminate(&binary);
    let took = exits_within(&mut binary, Duration::from_secs(8)).await;
    eprintln!("stopped {took:.1?} after SIGTERM");
}

#[tokio::test]
async fn sigterm_exits_after_the_grace_even_with_a_request_that_never_finishes() {
    let mut binary = start_binary(&["--shutdown-grace-secs", "1"]);
    // A request whose headers never end keeps its connection busy.
    let mut tcp = tokio::net::TcpStream::connect(&binary.addr).await.unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // And an open WebSocket that never reads.
    let _ws = Client::connect(&format!("ws://{}/ws", binary.addr), key(9)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    terminate(&binary);
    let took = exits_within(&mut binary, Duration::from_secs(5)).await;
    eprintln!("stopped {took:.1?} after SIGTERM");
    drop(tcp);
}

#[tokio::test]
async fn operators_read_each_event_with_its_reason_and_a_flood_is_rate_limited() {
    let binary = start_binary(&[]);
    let url = format!("ws://{}/ws", binary.addr);
    let mut player = Client::connect(&url, key(1)).await;
    player.join_and_roster(QUIET_ROOM).await;
    let mut rude = Client::connect(&url, key(2)).await;
    rude.ws
        .send(tokio_tungstenite::tungstenite::Message::text("hello"))
        .await
        .unwrap();
    assert_eq!(
        rude.close_code().await,
        Some(shared::wire::close::BAD_FRAME)
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    {
        let log = binary.log.lock().unwrap();
        let text = log.join("\n");
        assert!(
            !text.contains('\u{1b}'),
            "no colour codes into a pipe:\n{text}"
        );
        assert!(text.contains("limits in force") && text.contains("max_connections=10000"));
        let joined = log
            .iter()
            .find(|l| l.contains("joined"))
            .expect("the join is logged");
        assert!(
            joined.contains("addr=127.0.0.1:") && joined.contains("room=3c3c3c"),
            "{joined}"
        );
        let closed = log
            .iter()
            .find(|l| l.contains("connection closed") && l.contains("code=4000"))
            .expect("the bad frame's close is logged");
        assert!(
            closed.contains("bad_frame") && closed.contains("addr=127.0.0.1:"),
            "{closed}"
        );
    }
    // A flood: 1,000 connections that each send garbage. Every one is
    // counted in /metrics, but the log takes a bounded share.
    let before = binary.log.lock().unwrap().len();
    let started = Instant::now();
    let mut floods = Vec::new();
    for _ in 0..8 {
        let url = url.clone();
        floods.push(tokio::spawn(async move {
            for _ in 0..125 {
                let mut c = Client::connect(&url, key(3)).await;
                c.send_raw(bytes::Bytes::from_static(b"garbage")).await;
                assert_eq!(c.close_code().await, Some(shared::wire::close::BAD_FRAME));
            }
        }));
    }
    for f in floods {
        f.await.unwrap();
    }
    let took = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let metrics = reqwest::get(format!("http://{}/metrics", binary.addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("bitcraps_rejections_total{reason=\"bad_frame\"} 1001"),
        "every refusal counted"
    );
    let log = binary.log.lock().unwrap();
    let lines = log.len() - before;
    // 2,000 events (each connection opened and closed); the bucket lets through
    // its burst of 200 and 50 a second.
    let allowed = 200.0 + 50.0 * (took + 1.0);
    assert!(
        (lines as f64) < allowed,
        "{lines} lines for 2,000 events in {took:.1} s"
    );
    assert!(
        log[before..]
            .iter()
            .any(|l| l.contains("suppressed=") && !l.contains("suppressed=0")),
        "a line says how many were left out"
    );
    eprintln!("flood: 2,000 events in {took:.1} s, {lines} log lines");
}
