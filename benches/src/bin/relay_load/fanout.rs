//! The fan-out scenarios (and signaling): connect every client a bounded
//! number at a time, run the traffic, sample every second, sum up.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use benches::load::{self, Behaviour, ProcSample, Shared, Tick};
use benches::signaling::{self, Protocol};
use indicatif::{ProgressBar, ProgressStyle};

use crate::args::{Args, Plan, RelayKind, Scenario};
use crate::report::{print_summary, relays_metrics, Latency, Summary};
use crate::spawn::Measured;

/// A client ready for traffic.
enum Joined {
    /// On our relay or the baseline.
    Client(load::Client),
    /// An offerer and its answerer.
    Pair(signaling::Pair),
    /// A matchbox connection that only sits there.
    Held(load::Ws),
}

/// Runs `plan` against `urls` and reports it.
pub async fn run(
    args: &Args,
    plan: Plan,
    protocol: Protocol,
    urls: &[String],
    relay: Option<RelayKind>,
    measured: &Measured<'_>,
) -> anyhow::Result<()> {
    let before = measured.sample();
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
    let signaling = args.scenario == Scenario::Signaling;
    let (clients, connected) = connect_all(plan, protocol, urls, signaling, &bar, &shared).await?;
    let connect_seconds = started.elapsed().as_secs_f64();
    let connected_sample = measured.sample();

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
    let cpu_start = measured.sample().map(|s| s.cpu_ticks);
    let nats_start = measured.nats_cpu();
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
        let now = measured.sample();
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
    let cpu_end = measured.sample().map(|s| s.cpu_ticks);
    let nats_end = measured.nats_cpu();
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
        relay_rss_kib_peak: (!measured.pids.is_empty()).then_some(peak),
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
        relay_metrics: relays_metrics(urls).await,
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
    Ok(())
}

/// Connects every client (a signaling pair as one unit), 256 at a time;
/// the clients that joined, and how many connections that is.
async fn connect_all(
    plan: Plan,
    protocol: Protocol,
    urls: &[String],
    signaling: bool,
    bar: &ProgressBar,
    shared: &Shared,
) -> anyhow::Result<(Vec<(usize, Joined)>, usize)> {
    let semaphore = Arc::new(tokio::sync::Semaphore::new(256));
    let mut joins = tokio::task::JoinSet::new();
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
    Ok((clients, connected))
}
