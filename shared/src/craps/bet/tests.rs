//! Unit tests of `bet`.

use super::*;

fn roll(a: u8, b: u8) -> Roll {
    Roll::new(a, b).unwrap()
}

#[test]
fn names_round_trip() {
    let kinds = [
        BetKind::PassLine,
        BetKind::Come { point: Some(9) },
        BetKind::DontCome { point: None },
        BetKind::DontComeOdds { point: 4 },
        BetKind::ComeOdds { point: 10 },
        BetKind::Hop(2, 5),
        BetKind::Hard(8),
        BetKind::Lay(5),
        BetKind::CAndE,
    ];
    for kind in kinds {
        assert_eq!(BetKind::from_name(&kind.name()), Some(kind), "{kind:?}");
    }
    assert_eq!(BetKind::from_name("place-7"), None);
    assert_eq!(BetKind::from_name("hop-5-2"), None);
    assert_eq!(BetKind::from_name("nonsense"), None);
}

#[test]
fn stake_units_are_the_same_derived_or_cached() {
    let mut rules = TableRules::default();
    for field in [2, 3] {
        rules.field_pays_on_12 = field;
        for (kind, _) in crate::craps::PUBLISHED_EDGES {
            let derived = kind.derive_stake_unit(&rules);
            assert_eq!(kind.stake_unit(&rules), derived, "{kind:?}");
            assert_eq!(kind.stake_unit(&rules), derived, "{kind:?}, cached");
        }
    }
}

#[test]
fn stake_units_make_every_payout_whole() {
    let rules = TableRules::default();
    assert_eq!(BetKind::PassLine.stake_unit(&rules), 1);
    assert_eq!(BetKind::Place(6).stake_unit(&rules), 6);
    assert_eq!(BetKind::Place(5).stake_unit(&rules), 5);
    assert_eq!(BetKind::Horn.stake_unit(&rules), 4);
    assert_eq!(BetKind::CAndE.stake_unit(&rules), 2);
    assert_eq!(BetKind::ComeOdds { point: 6 }.stake_unit(&rules), 5);
    assert_eq!(BetKind::DontComeOdds { point: 5 }.stake_unit(&rules), 3);
    // Buy 4 pays 2:1 less 5% of the stake: 1.95 per chip, so stakes of 20.
    assert_eq!(BetKind::Buy(4).stake_unit(&rules), 20);
    // Lay 4 pays 1:2 less 5% of the win: 0.475 per chip, so stakes of 40.
    assert_eq!(BetKind::Lay(4).stake_unit(&rules), 40);
}

#[test]
fn horn_and_c_and_e_pay_their_parts() {
    let rules = TableRules::default();
    assert_eq!(
        resolve(BetKind::Horn, Phase::ComeOut, roll(1, 1), &rules),
        win(r(27, 4))
    );
    assert_eq!(
        resolve(BetKind::CAndE, Phase::ComeOut, roll(5, 6), &rules),
        win(r(7, 1))
    );
    assert_eq!(
        resolve(BetKind::CAndE, Phase::ComeOut, roll(3, 4), &rules),
        Outcome::Lose
    );
}

#[test]
fn place_bets_are_off_on_the_come_out() {
    let rules = TableRules::default();
    let six = roll(2, 4);
    assert_eq!(
        resolve(BetKind::Place(6), Phase::ComeOut, six, &rules),
        Outcome::NoAction
    );
    assert_eq!(
        resolve(BetKind::Place(6), Phase::Point(8), six, &rules),
        win_stays(r(7, 6))
    );
}

#[test]
fn come_bets_travel_and_odds_are_off_on_the_come_out() {
    let rules = TableRules::default();
    assert_eq!(
        resolve(
            BetKind::Come { point: None },
            Phase::Point(4),
            roll(4, 5),
            &rules
        ),
        Outcome::Travel(BetKind::Come { point: Some(9) })
    );
    assert_eq!(
        resolve(
            BetKind::ComeOdds { point: 9 },
            Phase::ComeOut,
            roll(4, 5),
            &rules
        ),
        Outcome::Push
    );
    assert_eq!(
        resolve(
            BetKind::ComeOdds { point: 9 },
            Phase::Point(4),
            roll(4, 5),
            &rules
        ),
        win(r(3, 2))
    );
}

#[test]
fn hardways_lose_to_the_easy_way() {
    let rules = TableRules::default();
    let phase = Phase::Point(5);
    assert_eq!(
        resolve(BetKind::Hard(8), phase, roll(4, 4), &rules),
        win_stays(r(9, 1))
    );
    assert_eq!(
        resolve(BetKind::Hard(8), phase, roll(2, 6), &rules),
        Outcome::Lose
    );
    assert_eq!(
        resolve(BetKind::Hard(8), phase, roll(2, 5), &rules),
        Outcome::Lose
    );
    assert_eq!(
        resolve(BetKind::Hard(8), phase, roll(2, 2), &rules),
        Outcome::NoAction
    );
}
