//! Checking a whole game's transcript (what `bitcraps-verify` and a
//! newcomer's snapshot replay do): every signature checked in batches of
//! 64 before the replay (the product) vs one by one as the replay meets
//! them (plain). A game of 8 players and 20 rolls, from the engine's
//! deterministic simulation.

#[path = "../../shared/tests/sim/mod.rs"]
#[allow(missing_docs, clippy::all)]
mod sim;

use std::hint::black_box;

use shared::transcript::GameTranscript;
use shared::verify::Verifier;

fn main() {
    let mut net = sim::Net::new(8, 5);
    net.run_until(100_000_000, |n| n.rolls(0) >= 20);
    net.settle();
    let game = GameTranscript::of(&net.peers[1].session);
    let entries = game.entries.clone();
    eprintln!(
        "transcript: {} messages, {} rolls",
        entries.len(),
        net.rolls(0)
    );
    let mut c = benches::criterion();
    let mut group = c.benchmark_group("transcript_check");
    group.bench_function("signatures in batches of 64 (product)", |b| {
        b.iter(|| {
            let mut v = Verifier::new(game.config);
            v.extend(black_box(&entries)).unwrap();
            v.state_hash()
        })
    });
    group.bench_function("signatures one by one (plain)", |b| {
        b.iter(|| {
            let mut v = Verifier::new(game.config).one_by_one();
            v.extend(black_box(&entries)).unwrap();
            v.state_hash()
        })
    });
    group.finish();
    c.final_summary();
}
