//! What a run found: the summary (printed, and as `--json`) and the
//! relays' own counters.

use serde::Serialize;

use crate::args::{Plan, RelayKind, Scenario};
use benches::load::Tick;

#[derive(Debug, Serialize)]
pub struct Summary {
    pub scenario: Scenario,
    pub relay: Option<RelayKind>,
    /// Relays driven (several: one cluster through NATS).
    pub relays: usize,
    pub plan: Plan,
    pub connected: usize,
    pub connect_seconds: f64,
    pub sent: u64,
    pub delivered: u64,
    pub expected_deliveries: u64,
    pub deliveries_per_sec: f64,
    pub latency_us: Latency,
    pub disconnects: u64,
    pub relay_rss_kib_idle_before: Option<u64>,
    pub relay_rss_kib_connected: Option<u64>,
    pub relay_rss_kib_peak: Option<u64>,
    pub relay_kib_per_connection: Option<f64>,
    pub relay_cpu_percent: Option<f64>,
    /// Cluster mode: nats-server's CPU over the traffic.
    pub nats_cpu_percent: Option<f64>,
    /// Counters scraped from the relay's `/metrics` after the run (our
    /// relay only): frames dropped from queues and slow consumers closed.
    pub relay_metrics: Option<RelayMetrics>,
    pub ticks: Vec<Tick>,
}

#[derive(Debug, Default, Serialize)]
pub struct RelayMetrics {
    pub queue_drops: u64,
    pub slow_consumer_disconnects: u64,
    pub frames_in: u64,
    pub frames_out: u64,
}

/// Sums the samples of each named metric in a Prometheus text exposition.
pub fn scrape(text: &str, name: &str) -> u64 {
    text.lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// The relays' counters, summed.
pub async fn relays_metrics(urls: &[String]) -> Option<RelayMetrics> {
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

pub async fn relay_metrics(ws_url: &str) -> Option<RelayMetrics> {
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
pub struct Latency {
    pub p50: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    pub samples: u64,
}

pub fn print_summary(s: &Summary) {
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
