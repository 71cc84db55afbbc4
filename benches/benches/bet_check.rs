//! Checking a bet: the stake unit (the smallest stake whose every payout is
//! whole chips) derived from the payouts on every check (plain) vs derived
//! once per bet and rules and kept (engine), and a whole `check_bet`.

use std::hint::black_box;

use shared::craps::{BetKind, Table, TableRules};

fn main() {
    let mut c = benches::criterion();
    let rules = TableRules::default();
    let mut group = c.benchmark_group("stake_unit");
    for kind in [BetKind::Place(6), BetKind::Buy(4)] {
        group.bench_function(format!("{kind:?}, derived each time (plain)"), |b| {
            b.iter(|| black_box(kind).derive_stake_unit(black_box(&rules)))
        });
        group.bench_function(format!("{kind:?}, kept (engine)"), |b| {
            b.iter(|| black_box(kind).stake_unit(black_box(&rules)))
        });
    }
    group.finish();

    let mut table = Table::new(rules, [0; 32], 1_000_000_000);
    let player = [1; 32];
    table.sit(player, 1_000_000).expect("sits");
    c.bench_function("check_bet/buy-4, 20 chips", |b| {
        b.iter(|| table.check_bet(black_box(&player), BetKind::Buy(4), black_box(20)))
    });
    c.final_summary();
}
