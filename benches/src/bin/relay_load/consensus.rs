//! The consensus scenario: 8 players roll through the relay(s), every
//! message signed and checked; time and CPU per roll.

use std::time::Duration;

use benches::load;

use crate::args::{Args, Plan, RelayKind};
use crate::spawn::Measured;

/// Plays `plan.duration` rolls and reports them.
pub async fn run(
    args: &Args,
    plan: &Plan,
    urls: &[String],
    relay: Option<RelayKind>,
    measured: &Measured<'_>,
) -> anyhow::Result<()> {
    // `duration` is the number of rolls here.
    let rolls = plan.duration as usize;
    // CPU of the players (this process) and of the relay over the run:
    // the players' signatures share this machine's cores with the relay.
    let cpu = || {
        (
            load::proc_sample(std::process::id()).map(|s| s.cpu_ticks),
            measured.sample().map(|s| s.cpu_ticks),
            measured.nats_cpu(),
        )
    };
    let cpu_before = cpu();
    let mut times = load::run_consensus(urls, plan.clients, rolls).await?;
    let cpu_after = cpu();
    // ms of CPU per roll (Linux counts CPU in 1/100 s).
    let per_roll = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (Some(a), Some(b)) if !times.is_empty() => Some((b - a) as f64 * 10.0 / times.len() as f64),
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
    Ok(())
}
