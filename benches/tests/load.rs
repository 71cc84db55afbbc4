//! The load generator's machinery against a real relay on loopback:
//! joins, timed deliveries, and the consensus round trip.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use benches::load::{self, Behaviour, Shared};
use clap::Parser;

async fn relay() -> (String, relay::shutdown::ShutdownTrigger) {
    let config = relay::Config::parse_from(["bitcraps-relay", "--stun-listen", "127.0.0.1:0"]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/ws", listener.local_addr().unwrap());
    let (trigger, signal) = relay::shutdown::channel();
    let app = relay::Relay::new(&config, signal);
    tokio::spawn(async move {
        let _ = relay::serve(listener, app, std::path::Path::new("web")).await;
    });
    (url, trigger)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_join_send_and_every_frame_is_delivered_and_timed() {
    let (url, trigger) = relay().await;
    let shared = Shared::new().unwrap();
    let mut tasks = Vec::new();
    for i in 0..6 {
        let client = load::connect(&url, i, load::room_id(i % 2)).await.unwrap();
        let behaviour = Behaviour {
            rate: 20.0,
            size: 100,
            reads: true,
            priority: shared::wire::Priority::Critical,
        };
        tasks.push(tokio::spawn(load::run_client(
            client,
            behaviour,
            Arc::clone(&shared),
        )));
    }
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    shared.finish(tasks, Duration::from_millis(300)).await;
    let sent = shared.sent.load(Ordering::Relaxed);
    let delivered = shared.delivered.load(Ordering::Relaxed);
    assert!(sent >= 60, "sent {sent}");
    // Three per room: each frame reaches the two others (a few may still
    // be in flight when the run stops).
    assert!(
        delivered + 12 >= 2 * sent && delivered <= 2 * sent,
        "{delivered} of {}",
        2 * sent
    );
    let latency = shared.latency.lock().unwrap();
    // Recorded in µs: the slowest loopback delivery takes more than ten
    // and well under a minute (how long is the load generator's figure).
    assert!(
        !latency.is_empty() && latency.max() >= 10 && latency.max() < 60_000_000,
        "latencies recorded in µs"
    );
    trigger.trigger();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consensus_round_trip_plays_real_rolls() {
    let (url, trigger) = relay().await;
    // Every roll the shooter started finished and was timed (how long
    // they take is the load generator's figure, not this test's: a
    // player kept waiting on a deadline is tested in model time in
    // shared/tests/peer.rs).
    let times = load::run_consensus(std::slice::from_ref(&url), 3, 5)
        .await
        .unwrap();
    assert_eq!(times.len(), 5);
    trigger.trigger();
}

#[test]
fn proc_samples_read_this_process() {
    let sample = load::proc_sample(std::process::id()).expect("Linux /proc");
    assert!(sample.rss_kib > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signaling_pairs_get_every_offer_answered() {
    use benches::signaling::{self, Protocol};
    let (url, trigger) = relay().await;
    let shared = Shared::new().unwrap();
    let mut tasks = Vec::new();
    for p in 0..3 {
        let pair = signaling::connect_pair(&url, Protocol::Frames, p)
            .await
            .unwrap();
        tasks.push(tokio::spawn(signaling::run_pair(
            pair,
            20.0,
            300,
            Arc::clone(&shared),
        )));
    }
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    shared.finish(tasks, Duration::from_millis(300)).await;
    let sent = shared.sent.load(Ordering::Relaxed);
    let answered = shared.delivered.load(Ordering::Relaxed);
    assert!(sent >= 45, "sent {sent}");
    assert!(
        answered + 3 >= sent && answered <= sent,
        "{answered} of {sent}"
    );
    assert_eq!(shared.disconnects.load(Ordering::Relaxed), 0);
    let latency = shared.latency.lock().unwrap();
    assert_eq!(latency.len(), answered, "every round trip timed");
    assert!(
        latency.max() >= 10 && latency.max() < 60_000_000,
        "round trips in µs"
    );
    trigger.trigger();
}

#[test]
fn the_matchbox_comparison_is_skipped_with_a_message_when_not_installed() {
    let run = |scenario: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_relay-load"))
            .args(["--relay", "matchbox", "--scenario", scenario, "--quiet"])
            .env("PATH", "")
            .output()
            .unwrap()
    };
    let skipped = run("signaling");
    assert!(skipped.status.success());
    let said = String::from_utf8_lossy(&skipped.stdout);
    assert!(said.contains("matchbox_server is not installed"), "{said}");
    // Scenarios matchbox cannot run are refused, installed or not.
    let refused = run("few-big");
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("only signals"), "{said}");
}

#[test]
fn signaling_without_a_rate_is_refused_before_anything_starts() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_relay-load"))
        .args([
            "--scenario",
            "signaling",
            "--rate",
            "0",
            "--quiet",
            "--threads",
            "1",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("give --rate"), "{said}");
}

/// Runs the generator with `args` and `--json` into a file; its summary.
fn run_generator(name: &str, args: &[&str]) -> serde_json::Value {
    let dir = std::env::temp_dir().join(format!("relay-load-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("summary.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_relay-load"))
        .args(args)
        .args(["--quiet", "--threads", "2", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    summary
}

/// Every client joined and stayed, and every frame reached every other
/// member of its room (a few may still be in flight when the run stops).
fn assert_every_frame_delivered(summary: &serde_json::Value, clients: u64) {
    assert_eq!(summary["connected"], clients);
    assert_eq!(summary["disconnects"], 0);
    let (delivered, expected) = (
        summary["delivered"].as_u64().unwrap(),
        summary["expected_deliveries"].as_u64().unwrap(),
    );
    assert!(expected >= 100, "{expected}");
    assert!(
        delivered <= expected && delivered + 60 >= expected,
        "{delivered} of {expected}"
    );
}

/// `relay-load --cluster 2`: nats-server and two relays started by the
/// generator, each room's members on both; every frame reaches every
/// other member. (Needs the relay binary next to the generator's, as the
/// test command builds it. The consensus scenario over a cluster is run
/// by hand: BENCHMARKS.md.)
#[test]
fn the_generator_drives_a_cluster_of_relays_through_nats() {
    let fanout = run_generator(
        "cluster",
        &[
            "--clients",
            "12",
            "--rooms",
            "3",
            "--rate",
            "10",
            "--duration",
            "2",
            "--cluster",
            "2",
        ],
    );
    assert_eq!(fanout["relays"], 2);
    assert_every_frame_delivered(&fanout, 12);
}

/// `--relay nats`: the generator drives nats-server (Debian's, started on
/// loopback with its WebSocket listener) in NATS's own protocol, a subject
/// per room; every frame reaches every other subscriber of its room, as
/// with our relay, so the two can be compared on the same work.
#[test]
fn the_generator_drives_nats_server_for_the_comparison() {
    let summary = run_generator(
        "nats",
        &[
            "--relay",
            "nats",
            "--clients",
            "12",
            "--rooms",
            "3",
            "--rate",
            "10",
            "--duration",
            "2",
        ],
    );
    assert_eq!(summary["relay"], "nats");
    assert_every_frame_delivered(&summary, 12);
    // Its process was measured like ours.
    assert!(summary["relay_rss_kib_connected"].as_u64().unwrap() > 1000);
}
