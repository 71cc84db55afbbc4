//! STUN in the relay: its server (against our client and coturn's), and
//! discovery against real STUN servers from Debian (coturn, stund) and
//! in-process responders that are slow, dead, lossy or answer garbage.

mod common;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use relay::stun::discovery::{query, Discovery, DiscoveryError, NatKind};
use shared::stun::message::{binding_success, StunMessage};
use shared::stun::{binding_request, Retransmit};
use tokio::net::UdpSocket;

fn fast() -> Retransmit {
    Retransmit {
        initial_rto: 20,
        max_transmissions: 4,
        last_wait: 4,
    }
}

#[derive(Clone, Copy)]
enum Behaviour {
    Good,
    Slow(u64),
    Dead,
    Garbage,
    /// Ignores the first n requests, then answers.
    Lossy(usize),
}

/// An in-process STUN responder on a free loopback port.
async fn responder(behaviour: Behaviour) -> (String, Arc<AtomicUsize>) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap().to_string();
    let seen = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&seen);
    tokio::spawn(async move {
        let socket = Arc::new(socket);
        let mut buf = [0u8; 1500];
        loop {
            let Ok((len, from)) = socket.recv_from(&mut buf).await else {
                return;
            };
            let n = count.fetch_add(1, Ordering::SeqCst) + 1;
            let Ok(request) = StunMessage::parse(&buf[..len]) else {
                continue;
            };
            let reply = binding_success(request.transaction_id, from, "test responder");
            match behaviour {
                Behaviour::Good => {
                    let _ = socket.send_to(&reply, from).await;
                }
                Behaviour::Lossy(skip) if n > skip => {
                    let _ = socket.send_to(&reply, from).await;
                }
                Behaviour::Lossy(_) | Behaviour::Dead => {}
                Behaviour::Slow(ms) => {
                    let socket = Arc::clone(&socket);
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                        let _ = socket.send_to(&reply, from).await;
                    });
                }
                Behaviour::Garbage => {
                    let _ = socket.send_to(b"\x01\x01 definitely not stun", from).await;
                }
            }
        }
    });
    (addr, seen)
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A real server process, killed on drop.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(program: &str, args: &[String]) -> Server {
    let child = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start {program} ({e}): install coturn and stun-server (scripts/setup.sh does)")
        });
    Server(child)
}

/// Starts a server with `start(port)` on a free port and asks it until it
/// answers (it may still be starting; on a loaded machine coturn takes
/// seconds). A port taken between choosing and binding it, or a start that
/// never answers within 10 s, is tried again on another port.
async fn start_until_answers(
    start: impl Fn(u16) -> Server,
) -> (Server, String, relay::stun::discovery::Found) {
    for _ in 0..3 {
        let port = free_udp_port();
        let server = start(port);
        let addr = format!("127.0.0.1:{port}");
        for _ in 0..100 {
            if let Ok(found) = query(&addr, fast()).await {
                return (server, addr, found);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    panic!("the server never answered, on three ports");
}

#[tokio::test]
async fn discovery_gets_the_right_address_from_coturn() {
    let (_coturn, server, found) = start_until_answers(|port| {
        spawn(
            "turnserver",
            &[
                "-n".into(),
                "--listening-ip=127.0.0.1".into(),
                format!("--listening-port={port}"),
                "--stun-only".into(),
                "--no-cli".into(),
                "--no-stdout-log".into(),
            ],
        )
    })
    .await;
    assert_eq!(
        found.public, found.local,
        "no NAT on loopback: coturn sees our own socket"
    );
    let discovery = Discovery::new(
        std::slice::from_ref(&server),
        fast(),
        Duration::from_secs(300),
    );
    let found = discovery.discover().await.unwrap();
    assert_eq!(found.public, found.local);
    assert_eq!(found.server, server);
}

#[tokio::test]
async fn discovery_gets_the_right_address_from_stund() {
    let (_stund, _, found) = start_until_answers(|port| {
        spawn(
            "stund",
            &[
                "-h".into(),
                "127.0.0.1".into(),
                "-a".into(),
                "127.0.0.2".into(),
                "-p".into(),
                port.to_string(),
                "-o".into(),
                free_udp_port().to_string(),
            ],
        )
    })
    .await;
    assert_eq!(
        found.public, found.local,
        "stund (RFC 3489) answers with MAPPED-ADDRESS"
    );
}

#[tokio::test]
async fn coturns_client_gets_its_address_from_our_server() {
    let relay = common::start(&[]).await;
    let addr = relay.relay.stun_addr().expect("STUN server bound");
    let output = tokio::task::spawn_blocking(move || {
        Command::new("turnutils_stunclient")
            .args(["-p", &addr.port().to_string(), "127.0.0.1"])
            .output()
    })
    .await
    .unwrap()
    .expect("turnutils_stunclient runs (coturn is installed by scripts/setup.sh)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.contains("127.0.0.1:"), "{text}");
    assert!(!text.to_lowercase().contains("error"), "{text}");
    assert!(
        relay
            .relay
            .metrics()
            .stun
            .with_label_values(&["response"])
            .get()
            >= 1
    );
    relay.stop().await;
}

#[tokio::test]
async fn our_server_answers_ignores_garbage_and_rate_limits() {
    let relay = common::start(&["--stun-rate-per-sec", "5"]).await;
    let server = relay.relay.stun_addr().unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = client.local_addr().unwrap();
    client
        .send_to(&binding_request([3; 12]), server)
        .await
        .unwrap();
    let mut buf = [0u8; 1500];
    let (len, _) = tokio::time::timeout(Duration::from_secs(5), client.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let answer = StunMessage::parse(&buf[..len]).unwrap();
    assert_eq!(answer.xor_mapped_address, Some(me));
    assert!(answer.software.unwrap().starts_with("BitCraps relay"));
    client
        .send_to(b"garbage garbage garbage", server)
        .await
        .unwrap();
    // A burst well over 5/s (burst 10): most are dropped.
    for i in 0..40u8 {
        client
            .send_to(&binding_request([i; 12]), server)
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stun = &relay.relay.metrics().stun;
    assert_eq!(stun.with_label_values(&["malformed"]).get(), 1);
    assert!(stun.with_label_values(&["rate_limited"]).get() >= 25);
    assert!(stun.with_label_values(&["response"]).get() <= 12);
    relay.stop().await;
}

#[tokio::test]
async fn the_first_answer_wins_while_dead_and_slow_servers_are_raced() {
    let (dead, _) = responder(Behaviour::Dead).await;
    let (slow, _) = responder(Behaviour::Slow(2_000)).await;
    let (good, _) = responder(Behaviour::Good).await;
    let discovery = Discovery::new(
        &[dead.clone(), slow.clone(), good.clone()],
        fast(),
        Duration::from_secs(300),
    );
    let started = std::time::Instant::now();
    let found = discovery.discover().await.unwrap();
    assert_eq!(found.server, good);
    assert!(!found.cached);
    // Hedging: we did not wait for the slow one (2 s) or the dead one.
    assert!(
        started.elapsed() < Duration::from_millis(1_500),
        "{:?}",
        started.elapsed()
    );
    let records = discovery.records();
    assert_eq!(records[0].server, good);
    assert_eq!(records[0].successes, 1);
    // The losers were cancelled, not counted as failures.
    assert!(records
        .iter()
        .filter(|r| r.server != good)
        .all(|r| r.queries == 0));
}

#[tokio::test]
async fn lost_requests_are_retransmitted_with_a_doubling_timeout() {
    let (lossy, seen) = responder(Behaviour::Lossy(2)).await;
    let found = query(&lossy, fast()).await.unwrap();
    assert_eq!(
        seen.load(Ordering::SeqCst),
        3,
        "two lost, the third answered"
    );
    // Sent at 0, 20 and 60 ms: the answer came after at least 60 ms.
    assert!(found.rtt_ms >= 60, "rtt {}", found.rtt_ms);
}

#[tokio::test]
async fn records_steer_the_next_choice_and_answers_are_cached() {
    let mut servers = Vec::new();
    for _ in 0..2 {
        servers.push(responder(Behaviour::Dead).await.0);
    }
    let (garbage, _) = responder(Behaviour::Garbage).await;
    servers.push(garbage.clone());
    let (good, good_seen) = responder(Behaviour::Good).await;
    servers.push(good.clone());
    // Four servers, three asked at once: the first round may miss `good`.
    let discovery = Discovery::new(&servers, fast(), Duration::from_secs(300));
    let mut answers = 0;
    for _ in 0..3 {
        match discovery.discover().await {
            Ok(found) => {
                assert_eq!(found.server, good);
                answers += 1;
            }
            Err(DiscoveryError::AllFailed(failures)) => assert_eq!(failures.len(), 3),
            Err(e) => panic!("{e}"),
        }
    }
    assert!(answers >= 1);
    assert_eq!(
        discovery.best(1),
        vec![good.clone()],
        "the answering server ranks first"
    );
    let records = discovery.records();
    assert_eq!(records.last().unwrap().successes, 0);
    // Cached: the next discovery asks nobody.
    let before = good_seen.load(Ordering::SeqCst);
    let found = discovery.discover().await.unwrap();
    assert!(found.cached);
    assert_eq!(good_seen.load(Ordering::SeqCst), before);
    // An expired cache asks again.
    let short = Discovery::new(
        std::slice::from_ref(&good),
        fast(),
        Duration::from_millis(0),
    );
    short.discover().await.unwrap();
    assert!(!short.discover().await.unwrap().cached);
}

#[tokio::test]
async fn two_servers_tell_the_nat_apart() {
    let (a, _) = responder(Behaviour::Good).await;
    let (b, _) = responder(Behaviour::Good).await;
    let discovery = Discovery::new(&[a, b], fast(), Duration::from_secs(300));
    assert_eq!(discovery.nat_type().await, Some(NatKind::None));
    let one = Discovery::new(
        &[responder(Behaviour::Good).await.0],
        fast(),
        Duration::from_secs(1),
    );
    assert_eq!(one.nat_type().await, None);
}

async fn api_stun(relay: &common::Running) -> serde_json::Value {
    let response = reqwest::get(format!("{}/api/stun", relay.http()))
        .await
        .unwrap();
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.unwrap()
}

/// `/api/stun` once discovery has finished.
async fn settled(relay: &common::Running) -> serde_json::Value {
    for _ in 0..200 {
        let report = api_stun(relay).await;
        if report["settled"] == true {
            return report;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("discovery never finished");
}

#[tokio::test]
async fn the_relay_hands_browsers_the_address_discovery_found() {
    let (a, _) = responder(Behaviour::Good).await;
    let (b, _) = responder(Behaviour::Good).await;
    let relay =
        common::start(&["--stun-servers", &format!("{a},{b}"), "--stun-rto-ms", "20"]).await;
    let report = settled(&relay).await;
    assert!([a.as_str(), b.as_str()].contains(&report["public"]["server"].as_str().unwrap()));
    let public: SocketAddr = report["public"]["public"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(public.ip().to_string(), "127.0.0.1");
    assert_eq!(
        report["nat"], "none",
        "two servers compared, cached with the answer"
    );
    assert_eq!(report["servers"].as_array().unwrap().len(), 2);
    // The STUN server listens on 127.0.0.1, the interface discovery used,
    // with no NAT: the discovered address with the server's port.
    let listen = report["listen"].as_str().unwrap();
    assert!(listen.starts_with("127.0.0.1:"));
    assert_eq!(report["server"], listen);
    assert_eq!(report["source"], "discovered");
    assert_eq!(
        report["ice_servers"],
        serde_json::json!([{ "urls": [format!("stun:{listen}")] }]),
        "ready for RTCPeerConnection; no TURN configured"
    );
    assert_eq!(report["expires_at"], serde_json::Value::Null);
    relay.stop().await;
}

#[tokio::test]
async fn api_stun_answers_at_once_while_discovery_waits_on_a_dead_server() {
    let (dead, seen) = responder(Behaviour::Dead).await;
    // 7 sends from 500 ms: discovery takes about 40 s to give up.
    let relay = common::start(&["--stun-servers", &dead]).await;
    while seen.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for _ in 0..5 {
        let asked = std::time::Instant::now();
        let report = api_stun(&relay).await;
        assert!(
            asked.elapsed() < Duration::from_millis(500),
            "{:?}",
            asked.elapsed()
        );
        assert_eq!(report["settled"], false, "still asking");
        assert_eq!(report["public"], serde_json::Value::Null);
        // A browser on this machine can use the loopback server meanwhile.
        assert_eq!(report["source"], "loopback");
    }
    relay.stop().await;
}

#[tokio::test]
async fn the_operators_public_address_is_what_browsers_get() {
    let relay = common::start(&["--public-addr", "198.51.100.20"]).await;
    let report = api_stun(&relay).await;
    let port = report["listen"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(report["server"], format!("198.51.100.20:{port}"));
    assert_eq!(report["source"], "public_addr");
    assert_eq!(
        report["ice_servers"][0]["urls"][0],
        format!("stun:198.51.100.20:{port}")
    );
    relay.stop().await;
}

fn turn_port_range() -> (u16, u16) {
    // Relay ports for one coturn: a range per test process and port.
    let base = 50_000 + (free_udp_port() % 100) * 100;
    (base, base + 99)
}

/// Runs coturn's own TURN client with these credentials: an allocation
/// and 20 messages relayed through it. `Ok` with its last lines, or `Err`
/// with its output when the allocation was refused.
fn turn_client(port: u16, username: &str, password: &str) -> Result<String, String> {
    let output = Command::new("turnutils_uclient")
        .args(["-p", &port.to_string(), "-u", username, "-w", password])
        .args([
            "-n",
            "5",
            "-m",
            "1",
            "-l",
            "100",
            "-y",
            "-e",
            "127.0.0.1",
            "127.0.0.1",
        ])
        .output()
        .expect("turnutils_uclient (coturn) is installed by scripts/setup.sh");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    if text.lines().any(|l| l.ends_with("tot_recv_msgs=20"))
        && text.contains("Total lost packets 0 ")
    {
        Ok(text)
    } else {
        Err(text)
    }
}

#[tokio::test]
async fn browsers_get_turn_credentials_that_coturn_accepts() {
    let secret = "shared-with-coturn";
    let (min, max) = turn_port_range();
    let (_coturn, server, _) = start_until_answers(|port| {
        spawn(
            "turnserver",
            &[
                "-n".into(),
                "--listening-ip=127.0.0.1".into(),
                "--relay-ip=127.0.0.1".into(),
                format!("--listening-port={port}"),
                format!("--min-port={min}"),
                format!("--max-port={max}"),
                "--use-auth-secret".into(),
                format!("--static-auth-secret={secret}"),
                "--realm=bitcraps.test".into(),
                "--allow-loopback-peers".into(),
                "--no-tls".into(),
                "--no-dtls".into(),
                "--no-cli".into(),
                "--no-stdout-log".into(),
            ],
        )
    })
    .await;
    let port: u16 = server.rsplit(':').next().unwrap().parse().unwrap();
    let url = format!("turn:{server}?transport=udp");
    let relay = common::start(&[
        "--turn-url",
        &url,
        "--turn-secret",
        secret,
        "--turn-ttl-secs",
        "600",
    ])
    .await;
    let report = api_stun(&relay).await;
    let turn = &report["ice_servers"][1];
    assert_eq!(turn["urls"], serde_json::json!([url]));
    let username = turn["username"].as_str().unwrap();
    let password = turn["credential"].as_str().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let expires = report["expires_at"].as_u64().unwrap();
    assert!(
        (now + 595..=now + 605).contains(&expires),
        "{expires} vs {now}"
    );
    assert!(username.starts_with(&format!("{expires}:")));
    assert_eq!(
        report["expires_in"], 600,
        "relative, for clocks that differ"
    );
    // Each browser gets its own name.
    let again = api_stun(&relay).await;
    assert_ne!(again["ice_servers"][1]["username"], turn["username"]);
    // coturn relays with them...
    let port_ok = turn_client(port, username, password);
    assert!(
        port_ok.is_ok(),
        "coturn refused the relay's credentials: {}",
        port_ok.unwrap_err()
    );
    // ...and refuses a wrong password or expired credentials.
    assert!(turn_client(port, username, "d3JvbmcgcGFzc3dvcmQ=").is_err());
    let old = relay::ice::turn_credentials(secret.as_bytes(), "late", now - 7200, 3600);
    assert!(turn_client(port, &old.username, &old.credential).is_err());
    // Counted.
    let metrics = relay.metrics().await;
    assert!(
        metrics.contains("bitcraps_turn_credentials_total 2"),
        "{metrics}"
    );
    relay.stop().await;
}

#[tokio::test]
async fn turn_credentials_are_rationed_per_address() {
    let relay = common::start(&[
        "--turn-url",
        "turn:127.0.0.1:3478",
        "--turn-secret",
        "rationed",
        "--turn-per-ip-per-min",
        "2",
    ])
    .await;
    for _ in 0..2 {
        let report = api_stun(&relay).await;
        assert_eq!(report["turn_limited"], false);
        assert!(report["ice_servers"][1]["credential"].is_string());
    }
    // The third this minute: STUN only, said so, counted.
    let report = api_stun(&relay).await;
    assert_eq!(report["turn_limited"], true);
    assert_eq!(report["expires_at"], serde_json::Value::Null);
    assert!(report["ice_servers"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s.get("credential").is_none()));
    let metrics = relay.metrics().await;
    assert!(
        metrics.contains("bitcraps_rejections_total{reason=\"turn_rate\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("bitcraps_turn_credentials_total 2"));
    relay.stop().await;
}

#[test]
fn turn_needs_a_url_and_a_secret_together() {
    use clap::Parser;
    let parse = |args: &[&str]| relay::Config::try_parse_from([&["bitcraps-relay"], args].concat());
    assert!(parse(&["--turn-url", "turn:127.0.0.1:3478"]).is_err());
    assert!(parse(&["--turn-secret", "s"]).is_err());
    assert!(parse(&["--turn-url", "stun:127.0.0.1:3478", "--turn-secret", "s"]).is_err());
    assert!(parse(&["--public-addr", "not an address"]).is_err());
    let ok = parse(&[
        "--turn-url",
        "turn:127.0.0.1:3478",
        "--turn-secret",
        "hunter2-turn",
    ])
    .unwrap();
    assert_eq!(ok.turn.turn_secret.as_deref(), Some("hunter2-turn"));
    assert!(
        !format!("{ok:?}").contains("hunter2"),
        "the secret is never printed"
    );
}
