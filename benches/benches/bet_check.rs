//! Checking a bet: the stake unit (the smallest stake whose every payout is
//! whole chips) derived from the payouts on every check (plain) vs derived
//! once per bet and rules and kept (engine), a whole `check_bet`, and a
//! player's own bet checked with the banker's cover before it is signed:
//! on a copy of the table (plain) vs without one (engine); and then taken:
//! judged again (plain) vs taken as it was judged (engine).

use std::hint::black_box;

use shared::craps::{BetKind, Change, Step, Table, TableRules};

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

    // 8 players with 5 bets each; player 1 adds 12 on place 6.
    let mut busy = Table::new(rules, [0; 32], 1_000_000_000);
    for n in 1..=8u8 {
        busy.sit([n; 32], 1_000_000).expect("sits");
        for kind in [
            BetKind::PassLine,
            BetKind::Field,
            BetKind::Place(8),
            BetKind::Hard(6),
            BetKind::AnyCraps,
        ] {
            busy.place_bet(&[n; 32], kind, 12).expect("bets");
        }
    }
    let (who, kind, stake) = ([1; 32], BetKind::Place(6), 12);
    let mut group = c.benchmark_group("own bet with the cover/8 players x 5 bets");
    group.bench_function("on a copy of the table (plain)", |b| {
        b.iter(|| {
            let mut t = black_box(&busy).clone();
            t.place_bet(&who, kind, black_box(stake)).expect("fits");
            t.shortfall()
        })
    });
    group.bench_function("without a copy (engine)", |b| {
        b.iter(|| {
            let t = black_box(&busy);
            let needed = t.check_bet(&who, kind, black_box(stake)).expect("fits");
            let commission = needed - stake;
            t.shortfall_with(&who, kind, Change::Stake { stake, commission })
        })
    });
    group.finish();

    // Then taking it on the table shown: judged a second time by
    // `place_bet` (plain) vs taken as it was judged (engine). The copy the
    // bet lands on is made outside the measurement.
    let mut group = c.benchmark_group("own bet taken after its check/8 players x 5 bets");
    group.bench_function("judged again (plain)", |b| {
        b.iter_batched_ref(
            || busy.clone(),
            |t| {
                let needed = t.check_bet(&who, kind, black_box(stake)).expect("fits");
                t.place_bet(&who, kind, stake).expect("fits");
                needed
            },
            criterion::BatchSize::SmallInput,
        )
    });
    group.bench_function("taken as judged (engine)", |b| {
        b.iter_batched_ref(
            || busy.clone(),
            |t| {
                let checked = t
                    .check(
                        &who,
                        Step::Bet {
                            kind,
                            stake: black_box(stake),
                        },
                    )
                    .expect("fits");
                t.take(checked).expect("fits")
            },
            criterion::BatchSize::SmallInput,
        )
    });
    group.finish();
    c.final_summary();
}
