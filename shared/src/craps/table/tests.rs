//! Unit tests of `table`.

use super::*;
use crate::craps::bet::resolve;

const BANKER: PlayerId = [0xBB; 32];
const ALICE: PlayerId = [0xA1; 32];
const BOB: PlayerId = [0xB0; 32];

fn roll(a: u8, b: u8) -> Roll {
    Roll::new(a, b).unwrap()
}

fn table() -> Table {
    let mut t = Table::new(TableRules::default(), BANKER, 100_000);
    t.sit(ALICE, 1_000).unwrap();
    t.sit(BOB, 1_000).unwrap();
    t
}

#[test]
fn a_table_reads_back_from_its_bytes_and_nothing_else_does() {
    let mut t = table();
    t.place_bet(&ALICE, BetKind::PassLine, 10).unwrap();
    t.settle(roll(2, 2)).unwrap();
    t.place_bet(&BOB, BetKind::Place(6), 12).unwrap();
    t.place_bet(&ALICE, BetKind::PassOdds, 20).unwrap();
    t.leave(&BOB).ok();
    let mut bytes = Vec::new();
    t.encode(&mut bytes);
    let back = Table::decode(&bytes).expect("decodes");
    let mut again = Vec::new();
    back.encode(&mut again);
    assert_eq!(again, bytes);
    assert_eq!(back.balance(&ALICE), t.balance(&ALICE));
    assert_eq!(back.phase(), Phase::Point(4));
    // Cut short, or with anything after it.
    assert!(Table::decode(&bytes[..bytes.len() - 1]).is_none());
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(Table::decode(&longer).is_none());
    // A phase that is not one.
    let mut bad = bytes.clone();
    bad[TableRules::ENCODED_LEN] = 7;
    assert!(Table::decode(&bad).is_none());
    // Seats out of key order.
    let seats = TableRules::ENCODED_LEN + 1 + 32 + 16;
    let mut swapped = bytes.clone();
    let (a, b) = (seats + 4, seats + 4 + 40);
    let first = swapped[a..a + 40].to_vec();
    let second = swapped[b..b + 40].to_vec();
    swapped[a..a + 40].copy_from_slice(&second);
    swapped[b..b + 40].copy_from_slice(&first);
    assert!(Table::decode(&swapped).is_none());
    // A count larger than the bytes could hold.
    let mut huge = bytes.clone();
    huge[seats..seats + 4].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(Table::decode(&huge).is_none());
}

#[test]
fn a_place_bet_called_working_acts_on_the_come_out_and_one_left_off_does_not() {
    // Working: the 6 pays 7:6 on the come-out, and a 7 takes it.
    for (working, roll_, alice_after, bank_after) in [
        (true, roll(3, 3), 1_000 - 12 + 14, 100_000 - 14),
        (true, roll(3, 4), 1_000 - 12, 100_000 + 12),
        (false, roll(3, 3), 1_000 - 12, 100_000),
        (false, roll(3, 4), 1_000 - 12, 100_000),
    ] {
        let mut t = table();
        t.place_bet(&ALICE, BetKind::Place(6), 12).unwrap();
        t.set_working(&ALICE, BetKind::Place(6), working).unwrap();
        assert_eq!(t.is_working(&ALICE, BetKind::Place(6)), working);
        t.settle(roll_).unwrap();
        assert_eq!(
            t.balance(&ALICE),
            Some(alice_after),
            "working {working}, {roll_:?}"
        );
        assert_eq!(t.bankroll(), bank_after, "working {working}, {roll_:?}");
        assert_eq!(t.total_chips(), t.bought_in());
        // A bet that stays up keeps its call; a decided one loses it.
        let stays = t.bets().contains_key(&(ALICE, BetKind::Place(6)));
        assert_eq!(t.is_working(&ALICE, BetKind::Place(6)), working && stays);
    }
    // A working buy bet on the come-out: true odds less the commission.
    let mut t = table();
    t.place_bet(&ALICE, BetKind::Buy(4), 20).unwrap();
    t.set_working(&ALICE, BetKind::Buy(4), true).unwrap();
    let settled = t.settle(roll(2, 2)).unwrap();
    assert!(matches!(settled.results[0].outcome, Outcome::Win { .. }));
    // With a point on, every place bet works, called or not.
    let mut t = table();
    t.settle(roll(4, 4)).unwrap();
    t.place_bet(&BOB, BetKind::Place(6), 6).unwrap();
    t.settle(roll(3, 3)).unwrap();
    assert_eq!(t.balance(&BOB), Some(1_000 - 6 + 7));
}

#[test]
fn only_a_place_or_buy_bet_on_the_table_can_be_called_working() {
    let mut t = table();
    t.place_bet(&ALICE, BetKind::PassLine, 10).unwrap();
    assert!(matches!(
        t.set_working(&ALICE, BetKind::PassLine, true),
        Err(TableError::NotWorkable(_))
    ));
    assert!(matches!(
        t.set_working(&ALICE, BetKind::Place(8), true),
        Err(TableError::NoSuchBet(_))
    ));
    // Taken down, the call goes with the bet: a new bet starts off.
    t.place_bet(&ALICE, BetKind::Place(8), 6).unwrap();
    t.set_working(&ALICE, BetKind::Place(8), true).unwrap();
    t.take_down(&ALICE, BetKind::Place(8)).unwrap();
    t.place_bet(&ALICE, BetKind::Place(8), 6).unwrap();
    assert!(!t.is_working(&ALICE, BetKind::Place(8)));
    // The call is part of the table's state: its encoding and hash.
    let mut off = Vec::new();
    t.encode(&mut off);
    t.set_working(&ALICE, BetKind::Place(8), true).unwrap();
    let mut on = Vec::new();
    t.encode(&mut on);
    assert_ne!(on, off);
    let back = Table::decode(&on).unwrap();
    assert!(back.is_working(&ALICE, BetKind::Place(8)));
    let mut again = Vec::new();
    back.encode(&mut again);
    assert_eq!(again, on);
}

#[test]
fn a_pass_line_bet_wins_even_money_on_a_natural() {
    let mut t = table();
    t.place_bet(&ALICE, BetKind::PassLine, 10).unwrap();
    assert_eq!(t.balance(&ALICE), Some(990));
    let s = t.settle(roll(3, 4)).unwrap();
    assert_eq!(s.results[0].paid, 20);
    assert_eq!(t.balance(&ALICE), Some(1_010));
    assert_eq!(t.bankroll(), 99_990);
    assert_eq!(t.total_chips(), t.bought_in());
}

#[test]
fn the_point_game_with_odds_pays_true_odds() {
    let mut t = table();
    t.place_bet(&ALICE, BetKind::PassLine, 10).unwrap();
    assert!(matches!(
        t.place_bet(&ALICE, BetKind::PassOdds, 10),
        Err(TableError::NotNow { .. })
    ));
    t.settle(roll(2, 2)).unwrap();
    assert_eq!(t.phase(), Phase::Point(4));
    // 3x on the 4.
    assert_eq!(
        t.place_bet(&ALICE, BetKind::PassOdds, 40),
        Err(TableError::AboveMaximum { stake: 40, max: 30 })
    );
    t.place_bet(&ALICE, BetKind::PassOdds, 30).unwrap();
    t.settle(roll(1, 3)).unwrap();
    // 10 back + 10 win, 30 back + 60 win.
    assert_eq!(t.balance(&ALICE), Some(1_000 + 10 + 60));
    assert_eq!(t.phase(), Phase::ComeOut);
    assert_eq!(t.total_chips(), t.bought_in());
}

#[test]
fn bets_the_rules_or_balance_do_not_allow_are_refused() {
    let mut t = table();
    assert!(matches!(
        t.place_bet(&ALICE, BetKind::Come { point: None }, 10),
        Err(TableError::NotNow { .. })
    ));
    assert_eq!(
        t.place_bet(&ALICE, BetKind::Place(6), 10),
        Err(TableError::NotMultiple { unit: 6 })
    );
    assert_eq!(
        t.place_bet(&ALICE, BetKind::Field, 2_000),
        Err(TableError::InsufficientBalance {
            balance: 1_000,
            needed: 2_000
        })
    );
    assert_eq!(
        t.place_bet(&BANKER, BetKind::Field, 1),
        Err(TableError::BankerCannotBet)
    );
    assert_eq!(
        t.place_bet(&[9; 32], BetKind::Field, 1),
        Err(TableError::NotSeated)
    );
    assert_eq!(
        t.place_bet(&ALICE, BetKind::Hard(5), 1),
        Err(TableError::MalformedBet(BetKind::Hard(5)))
    );
    assert_eq!(
        t.place_bet(&ALICE, BetKind::Field, 0),
        Err(TableError::ZeroAmount)
    );
    assert_eq!(
        t.place_bet(&ALICE, BetKind::DontPassOdds, 6),
        Err(TableError::NotNow {
            kind: "dont-pass-odds".into(),
            when: "on the come-out roll"
        })
    );
    t.place_bet(&ALICE, BetKind::PassLine, 10).unwrap();
    assert_eq!(
        t.take_down(&ALICE, BetKind::PassLine),
        Err(TableError::NotRemovable("pass".into()))
    );
    assert_eq!(
        t.leave(&ALICE),
        Err(TableError::ContractBetOn("pass".into()))
    );
}

#[test]
fn leaving_takes_down_every_bet_that_may_come_down() {
    let mut t = Table::new(TableRules::default(), BANKER, 1_000_000);
    t.sit(ALICE, 1_000).unwrap();
    t.place_bet(&ALICE, BetKind::Field, 10).unwrap();
    t.place_bet(&ALICE, BetKind::Place(6), 12).unwrap();
    t.place_bet(&ALICE, BetKind::Hard(8), 5).unwrap();
    let chips = t.total_chips();
    assert_eq!(
        t.leave(&ALICE),
        Ok(1_000),
        "every stake back with the balance"
    );
    assert!(t.bets().is_empty());
    assert!(!t.is_seated(&ALICE));
    assert_eq!(t.total_chips(), chips, "every chip accounted for");
    assert_eq!(t.total_chips(), t.bought_in());
    // A contract bet keeps the player, and its other bets, where they are.
    t.sit(ALICE, 1_000).unwrap();
    t.place_bet(&ALICE, BetKind::Field, 10).unwrap();
    t.place_bet(&ALICE, BetKind::PassLine, 10).unwrap();
    assert_eq!(
        t.leave(&ALICE),
        Err(TableError::ContractBetOn("pass".into()))
    );
    assert_eq!(t.bets().len(), 2, "nothing came down");
    assert_eq!(t.balance(&ALICE), Some(980));
}

#[test]
fn odds_take_their_unit_from_the_point_and_lay_odds_are_limited_by_the_win() {
    let mut t = table();
    t.place_bet(&ALICE, BetKind::PassLine, 5).unwrap();
    t.place_bet(&BOB, BetKind::DontPass, 10).unwrap();
    t.settle(roll(1, 3)).unwrap(); // point 4
                                   // 3x on the 4, whole chips at 2:1: 15 behind a 5-chip line.
    t.place_bet(&ALICE, BetKind::PassOdds, 15).unwrap();
    // Lay odds win at most 6x the line: 120 on the 4 wins 60.
    assert_eq!(
        t.place_bet(&BOB, BetKind::DontPassOdds, 122),
        Err(TableError::AboveMaximum {
            stake: 122,
            max: 120
        })
    );
    t.place_bet(&BOB, BetKind::DontPassOdds, 120).unwrap();
    let s = t.settle(roll(3, 4)).unwrap(); // seven out
    let paid = |who, kind| {
        s.results
            .iter()
            .find(|r| r.player == who && r.kind == kind)
            .map(|r| r.paid)
    };
    assert_eq!(paid(BOB, BetKind::DontPassOdds), Some(120 + 60));
    assert_eq!(paid(ALICE, BetKind::PassOdds), Some(0));
    // On the 6, odds pay 6:5: stakes in fives; lay 5:6: 10 on the line
    // may lay 72 (wins 60).
    t.place_bet(&ALICE, BetKind::PassLine, 10).unwrap();
    t.place_bet(&BOB, BetKind::DontPass, 10).unwrap();
    t.settle(roll(3, 3)).unwrap();
    assert_eq!(
        t.place_bet(&ALICE, BetKind::PassOdds, 24),
        Err(TableError::NotMultiple { unit: 5 })
    );
    t.place_bet(&ALICE, BetKind::PassOdds, 50).unwrap();
    assert_eq!(
        t.place_bet(&BOB, BetKind::DontPassOdds, 78),
        Err(TableError::AboveMaximum { stake: 78, max: 72 })
    );
    t.place_bet(&BOB, BetKind::DontPassOdds, 72).unwrap();
    assert_eq!(t.total_chips(), t.bought_in());
}

#[test]
fn lay_bets_and_dont_come_odds_work_on_the_come_out() {
    let rules = TableRules::default();
    let seven = roll(3, 4);
    assert!(matches!(
        resolve(BetKind::Lay(4), Phase::ComeOut, seven, &rules),
        Outcome::Win { .. }
    ));
    assert!(matches!(
        resolve(
            BetKind::DontComeOdds { point: 4 },
            Phase::ComeOut,
            seven,
            &rules
        ),
        Outcome::Win { .. }
    ));
    // Place and come odds stay off on the come-out.
    assert_eq!(
        resolve(BetKind::Place(4), Phase::ComeOut, seven, &rules),
        Outcome::NoAction
    );
    assert_eq!(
        resolve(
            BetKind::ComeOdds { point: 4 },
            Phase::ComeOut,
            seven,
            &rules
        ),
        Outcome::Push
    );
}

#[test]
fn come_bets_travel_and_the_dice_pass_on_a_seven_out() {
    let mut t = table();
    assert_eq!(t.shooter(), Some(ALICE));
    t.settle(roll(4, 4)).unwrap(); // point 8
    t.place_bet(&BOB, BetKind::Come { point: None }, 10)
        .unwrap();
    t.settle(roll(2, 3)).unwrap();
    assert_eq!(
        t.bets().get(&(BOB, BetKind::Come { point: Some(5) })),
        Some(&10)
    );
    t.place_bet(&BOB, BetKind::ComeOdds { point: 5 }, 40)
        .unwrap();
    let s = t.settle(roll(3, 4)).unwrap();
    assert!(s.seven_out);
    assert_eq!(t.shooter(), Some(BOB));
    assert!(t.bets().is_empty());
    assert_eq!(t.balance(&BOB), Some(950));
    assert_eq!(t.total_chips(), t.bought_in());
}

#[test]
fn a_forfeit_gives_every_bet_to_the_banker_and_unseats() {
    let mut t = table();
    t.place_bet(&ALICE, BetKind::PassLine, 10).unwrap();
    t.place_bet(&ALICE, BetKind::Field, 5).unwrap();
    assert_eq!(t.forfeit(&ALICE), Ok(15));
    assert!(!t.is_seated(&ALICE));
    assert_eq!(t.shooter(), Some(BOB));
    assert_eq!(t.departed().get(&ALICE), Some(&985));
    assert_eq!(t.bankroll(), 100_015);
    assert_eq!(t.total_chips(), t.bought_in());
}

#[test]
fn chips_are_conserved_over_many_rolls_of_every_bet() {
    let mut t = Table::new(TableRules::default(), BANKER, 10_000_000);
    t.sit(ALICE, 1_000_000).unwrap();
    t.sit(BOB, 1_000_000).unwrap();
    let kinds = [
        BetKind::PassLine,
        BetKind::DontPass,
        BetKind::Come { point: None },
        BetKind::DontCome { point: None },
        BetKind::PassOdds,
        BetKind::DontPassOdds,
        BetKind::Place(6),
        BetKind::Buy(4),
        BetKind::Lay(10),
        BetKind::Field,
        BetKind::Big8,
        BetKind::Hard(6),
        BetKind::AnySeven,
        BetKind::Horn,
        BetKind::CAndE,
        BetKind::Hop(1, 2),
    ];
    let units: Vec<u64> = kinds.iter().map(|k| k.stake_unit(t.rules())).collect();
    let (mut placed, mut wins, mut losses) = (0, 0, 0);
    let mut seed = [0u8; 32];
    for n in 0u32..1_000 {
        for (i, kind) in kinds.iter().enumerate() {
            let who = if i % 2 == 0 { ALICE } else { BOB };
            placed += usize::from(t.place_bet(&who, *kind, units[i] * 2).is_ok());
        }
        for point in [4, 5, 6, 8, 9, 10] {
            placed += usize::from(t.place_bet(&BOB, BetKind::ComeOdds { point }, 30).is_ok());
            placed += usize::from(
                t.place_bet(&ALICE, BetKind::DontComeOdds { point }, 30)
                    .is_ok(),
            );
        }
        seed[..4].copy_from_slice(&n.to_be_bytes());
        let settlement = t.settle(Roll::from_seed(&seed)).unwrap();
        for result in settlement.results {
            match result.outcome {
                Outcome::Win { .. } => wins += 1,
                Outcome::Lose => losses += 1,
                _ => {}
            }
        }
        assert_eq!(t.total_chips(), t.bought_in(), "after roll {n}");
    }
    assert!(placed > 8_000, "only {placed} bets placed");
    assert!(
        wins > 1_000 && losses > 1_000,
        "{wins} wins, {losses} losses"
    );
}

#[test]
fn seats_are_priced_one_per_seat_every_rolls_after_a_burst() {
    use crate::craps::table::{SEAT_BURST, SEAT_CREDIT_MAX, SEAT_EVERY};
    let mut t = Table::new(TableRules::default(), BANKER, 1_000_000);
    // Nobody sits: one seat is always open, whatever the credit.
    assert_eq!(t.open_seats(), SEAT_BURST);
    for _ in 0..SEAT_BURST {
        t.take_seat().unwrap();
    }
    assert_eq!(t.open_seats(), 1, "an empty table always takes someone in");
    t.take_seat().unwrap();
    t.sit(ALICE, 100).unwrap();
    assert_eq!(t.open_seats(), 0);
    assert_eq!(t.take_seat(), Err(TableError::NoSeatOpen));
    let before = t.clone();
    assert_eq!(t, before, "a refused seat changes nothing");
    // One roll's worth of credit per roll, a seat per SEAT_EVERY rolls.
    let mut seed = [0u8; 32];
    for n in 0..SEAT_EVERY {
        assert_eq!(t.open_seats(), 0, "after {n} rolls");
        seed[0] = n as u8;
        t.settle(Roll::from_seed(&seed)).unwrap();
    }
    assert_eq!(t.open_seats(), 1);
    // The credit is part of the agreed state: encoded, hashed, decoded.
    let mut bytes = Vec::new();
    t.encode(&mut bytes);
    assert_eq!(Table::decode(&bytes), Some(t.clone()));
    let mut other = Vec::new();
    before.encode(&mut other);
    assert_ne!(bytes, other);
    // More credit than a table can hold is not a table.
    let at = bytes.len() - 4;
    bytes[at..].copy_from_slice(&(SEAT_CREDIT_MAX + 1).to_be_bytes());
    assert_eq!(Table::decode(&bytes), None);
    // It fills up to the burst and no further.
    for n in 0..SEAT_CREDIT_MAX + 10 {
        seed[1] = n as u8;
        seed[2] = (n >> 8) as u8;
        let _ = t.settle(Roll::from_seed(&seed));
    }
    assert_eq!(t.open_seats(), SEAT_BURST);
}
