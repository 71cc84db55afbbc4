//! What the agreement step adds to a roll: the banker's coverage over all
//! 36 rolls (engine) against the old check, a sum of every bet's best case
//! (plain, which let standing bets break the bank); applying a cut of 40
//! held bets onto a copy of the table; and a whole roll of 8 players (bets,
//! request, cut, commitments, reveals, settlement, every signature) for
//! scale.

use std::hint::black_box;

use criterion::BatchSize;
use shared::craps::{BetKind, PlayerId, Table, TableRules};
use shared::session::{GameConfig, Session};
use shared::SigningKey;

const BETS: [BetKind; 5] = [
    BetKind::Place(6),
    BetKind::Field,
    BetKind::Hard(8),
    BetKind::Big8,
    BetKind::Hop(2, 5),
];

/// The bets each player places before a roll (5-chip stakes).
const HELD: [BetKind; 5] = [
    BetKind::Field,
    BetKind::Hard(8),
    BetKind::Big8,
    BetKind::AnySeven,
    BetKind::Yo,
];

fn player(n: u8) -> PlayerId {
    [n; 32]
}

/// A table with 8 players and 5 bets each, point on 4.
fn table() -> Table {
    let mut t = Table::new(TableRules::default(), [0; 32], 10_000_000);
    for n in 1..=8 {
        t.sit(player(n), 100_000).expect("sits");
    }
    t.place_bet(&player(1), BetKind::PassLine, 10)
        .expect("line");
    t.settle(shared::dice::Roll::new(2, 2).expect("dice"))
        .expect("point");
    for n in 1..=8 {
        for kind in BETS {
            let unit = kind.stake_unit(t.rules());
            t.place_bet(&player(n), kind, unit * 5).expect("bet");
        }
    }
    t
}

/// Plays the relay: every message to every session, the sender too.
fn pump(sessions: &mut [Session]) {
    loop {
        let mut moved = false;
        for i in 0..sessions.len() {
            while let Some(m) = sessions[i].poll_transmit() {
                moved = true;
                for s in sessions.iter_mut() {
                    let _ = s.handle_relayed(0, m.clone(), 0);
                }
            }
        }
        if !moved {
            return;
        }
    }
}

/// A banker and 8 seated players (and, with `observer`, an observer last),
/// their sit-downs relayed to all.
fn table_of_eight(config: GameConfig, banker: &SigningKey, observer: bool) -> Vec<Session> {
    let mut all = vec![Session::new(config, banker.clone(), [1; 32])];
    for n in 1..=8u8 {
        let mut s = Session::new(config, SigningKey::from_bytes(&[n; 32]), [n; 32]);
        s.sit(0, 100_000).expect("sits");
        all.push(s);
    }
    if observer {
        all.push(Session::observer(config));
    }
    pump(&mut all);
    all
}

/// The shooter rolls, and everything is relayed.
fn roll_once(all: &mut [Session]) {
    let shooter = all[0].table().shooter().expect("a shooter");
    let i = all
        .iter()
        .position(|s| s.local_id() == Some(shooter))
        .expect("seated");
    all[i].roll(0).expect("rolls");
    pump(all);
}

fn main() {
    let mut c = benches::criterion();
    let t = table();
    let mut group = c.benchmark_group("coverage/8 players x 5 bets");
    group.bench_function("worst of 36 rolls, before each roll (engine)", |b| {
        b.iter(|| black_box(&t).shortfall())
    });
    // The old check's cost: each bet's best case looked up (here: derived
    // once, outside the loop, as the old hand-kept table was) and summed.
    let best: std::collections::HashMap<BetKind, shared::ratio::Ratio> = t
        .bets()
        .keys()
        .map(|&(_, kind)| (kind, kind.max_profit(t.rules())))
        .collect();
    group.bench_function("sum of best cases, at each bet (plain)", |b| {
        b.iter(|| {
            black_box(&t)
                .bets()
                .iter()
                .map(|(&(_, kind), &stake)| {
                    let r = best[&kind];
                    (i128::from(stake) * r.numer()).div_euclid(r.denom())
                })
                .sum::<i128>()
        })
    });
    group.finish();

    let start = Table::new(TableRules::default(), [0; 32], 10_000_000);
    let mut seated = start.clone();
    for n in 1..=8 {
        seated.sit(player(n), 100_000).expect("sits");
    }
    c.bench_function("cut/40 held bets onto a copy of the table", |b| {
        b.iter(|| {
            let mut t = black_box(&seated).clone();
            for n in 1..=8 {
                for kind in HELD {
                    let _ = t.place_bet(&player(n), kind, 5);
                }
            }
            t
        })
    });

    let banker = SigningKey::from_bytes(&[100; 32]);
    let config = GameConfig::new([7; 16], banker.verifying_key().to_bytes(), 10_000_000);
    let sessions = || table_of_eight(config, &banker, false);
    c.bench_function("roll/8 players, 5 bets each, in memory", |b| {
        b.iter_batched(
            sessions,
            |mut all| {
                for s in &mut all[1..] {
                    for kind in HELD {
                        let _ = s.place_bet(0, kind, 5);
                    }
                }
                pump(&mut all);
                roll_once(&mut all);
                assert_eq!(all[0].history().len(), 1);
                all
            },
            BatchSize::LargeInput,
        )
    });

    // One seated player's bet reaching a peer (an observer) that holds N
    // strangers' sit-downs (held, and early past the newcomers' share):
    // the work per honest message must not grow with N. Against it, what
    // showing the tentative table afresh would cost at every message (the
    // plain way): the table with every held sit-down applied again.
    let mut group = c.benchmark_group("honest bet with strangers waiting");
    group.sample_size(10);
    for strangers in [0usize, 640] {
        let setup = || {
            let mut all = table_of_eight(config, &banker, true);
            roll_once(&mut all);
            let mut observer = all.pop().expect("the observer");
            let round = observer.round();
            for n in 0..strangers as u32 {
                let mut bytes = [0x77; 32];
                bytes[..4].copy_from_slice(&n.to_be_bytes());
                let sit = shared::message::Message {
                    game: [7; 16],
                    round,
                    seq: 1,
                    action: shared::message::Action::Sit { buy_in: 10 },
                }
                .sign(&SigningKey::from_bytes(&bytes));
                let _ = observer.handle_relayed(0, sit, 0);
            }
            let player = SigningKey::from_bytes(&[1; 32]);
            let first = observer.next_seq_from(&player.verifying_key().to_bytes());
            let bets: Vec<_> = (0..200)
                .map(|i| {
                    shared::message::Message {
                        game: [7; 16],
                        round,
                        seq: first + i,
                        action: shared::message::Action::Bet {
                            kind: BetKind::Field,
                            stake: 5,
                        },
                    }
                    .sign(&player)
                })
                .collect();
            (observer, bets)
        };
        group.bench_function(
            format!("{strangers} strangers' actions waiting (engine)"),
            |b| {
                b.iter_custom(|iters| {
                    let mut total = std::time::Duration::ZERO;
                    let mut left = iters;
                    while left > 0 {
                        let (mut observer, bets) = setup();
                        let k = left.min(bets.len() as u64) as usize;
                        let start = std::time::Instant::now();
                        for m in &bets[..k] {
                            observer.handle_relayed(0, m.clone(), 0).expect("taken");
                        }
                        total += start.elapsed();
                        left -= k as u64;
                    }
                    total
                })
            },
        );
    }
    let (base, _) = {
        let mut t = seated.clone();
        t.sit(player(9), 1).expect("sits");
        (t, ())
    };
    group.bench_function(
        "512 held sit-downs applied afresh (plain, per message)",
        |b| {
            b.iter(|| {
                let mut t = black_box(&base).clone();
                for n in 0..512u32 {
                    let mut p = [0x77; 32];
                    p[..4].copy_from_slice(&n.to_be_bytes());
                    let _ = t.sit(p, 10);
                }
                t
            })
        },
    );
    group.finish();
    c.final_summary();
}
