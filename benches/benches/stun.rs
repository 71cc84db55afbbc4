//! STUN discovery: the relay's parallel hedged query of the best three
//! servers vs asking one server at a time, with one dead and one slow
//! server among the three (in-process responders on loopback, delays
//! simulated). Each iteration is one full discovery, cache disabled.
//!
//! Servers, in configured order: dead (never answers), slow (150 ms),
//! normal (30 ms). Retransmission: first RTO 50 ms, 3 sends, then 4 RTOs
//! of waiting, so a dead server costs 350 ms to give up on.

use std::sync::Arc;
use std::time::Duration;

use relay::stun::discovery::{query, Discovery, Found};
use shared::stun::message::{binding_success, StunMessage};
use shared::stun::Retransmit;
use tokio::net::UdpSocket;

async fn responder(delay: Option<Duration>) -> String {
    let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let addr = socket.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        loop {
            let Ok((len, from)) = socket.recv_from(&mut buf).await else {
                return;
            };
            let Some(delay) = delay else { continue };
            let Ok(request) = StunMessage::parse(&buf[..len]) else {
                continue;
            };
            let reply = binding_success(request.transaction_id, from, "bench");
            let socket = Arc::clone(&socket);
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = socket.send_to(&reply, from).await;
            });
        }
    });
    addr
}

fn main() {
    let mut c = benches::criterion().sample_size(10);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let servers = runtime.block_on(async {
        vec![
            responder(None).await,
            responder(Some(Duration::from_millis(150))).await,
            responder(Some(Duration::from_millis(30))).await,
        ]
    });
    let policy = Retransmit {
        initial_rto: 50,
        max_transmissions: 3,
        last_wait: 4,
    };
    let mut group = c.benchmark_group("stun_discovery/dead_slow_normal");
    group.bench_function("parallel_hedged", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let discovery = Discovery::new(&servers, policy, Duration::ZERO);
                discovery.discover().await.unwrap()
            })
        })
    });
    group.bench_function("sequential", |b| {
        b.iter(|| runtime.block_on(async { discover_sequential(&servers, policy).await.unwrap() }))
    });
    group.finish();
    c.final_summary();
}

/// The plain way: one server at a time in the configured order, no cache.
async fn discover_sequential(servers: &[String], policy: Retransmit) -> Result<Found, String> {
    let mut failures = Vec::new();
    for server in servers {
        match query(server, policy).await {
            Ok(found) => return Ok(found),
            Err(e) => failures.push(format!("{server}: {e}")),
        }
    }
    Err(failures.join("; "))
}
