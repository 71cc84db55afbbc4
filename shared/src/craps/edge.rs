//! Exact house edge of every bet, derived from the rules in [`resolve`].
//!
//! A bet and the game phase together form a state. Each of the 36 rolls
//! either decides the bet (win, lose, push) or moves it to another state
//! (the point changes, a come bet travels). That is an absorbing Markov
//! chain; its expected value per chip is the solution of a small linear
//! system, solved here exactly over rationals. No simulation, no floats.
//!
//! The edge is the expected loss per chip wagered until the bet is decided,
//! with pushes counted as decisions (the usual convention: don't pass
//! 1.364%), and an up-front commission counted as part of the wager.

use std::collections::BTreeMap;

use crate::craps::bet::{resolve, BetKind, Outcome};
use crate::craps::phase::Phase;
use crate::craps::rules::TableRules;
use crate::dice::Roll;
use crate::ratio::Ratio;

/// The phase a bet is naturally placed in: line bets on the come-out,
/// everything else while a point is on (the odds and come-odds bets on
/// their own number).
pub fn natural_phase(kind: BetKind) -> Phase {
    match kind {
        BetKind::PassLine | BetKind::DontPass => Phase::ComeOut,
        BetKind::ComeOdds { point } | BetKind::DontComeOdds { point } => Phase::Point(point),
        BetKind::Place(n) | BetKind::Buy(n) | BetKind::Lay(n) | BetKind::Hard(n) => {
            // Any point other than the bet's own number.
            Phase::Point(if n == 4 { 5 } else { 4 })
        }
        _ => Phase::Point(6),
    }
}

/// The published house edge of every bet under [`TableRules::default`]
/// (5% commission on wins, field 2:1 on 12), in percent to 3 decimals.
/// [`house_edge`] must reproduce each one from the rules alone.
pub const PUBLISHED_EDGES: &[(BetKind, f64)] = &[
    (BetKind::PassLine, 1.414),
    (BetKind::DontPass, 1.364),
    (BetKind::Come { point: None }, 1.414),
    (BetKind::DontCome { point: None }, 1.364),
    (BetKind::ComeOdds { point: 4 }, 0.0),
    (BetKind::ComeOdds { point: 5 }, 0.0),
    (BetKind::ComeOdds { point: 6 }, 0.0),
    (BetKind::DontComeOdds { point: 4 }, 0.0),
    (BetKind::DontComeOdds { point: 5 }, 0.0),
    (BetKind::DontComeOdds { point: 6 }, 0.0),
    (BetKind::Place(4), 6.667),
    (BetKind::Place(5), 4.0),
    (BetKind::Place(6), 1.515),
    (BetKind::Place(8), 1.515),
    (BetKind::Place(9), 4.0),
    (BetKind::Place(10), 6.667),
    (BetKind::Buy(4), 1.667),
    (BetKind::Buy(5), 2.0),
    (BetKind::Buy(6), 2.273),
    (BetKind::Buy(10), 1.667),
    (BetKind::Lay(4), 1.667),
    (BetKind::Lay(5), 2.0),
    (BetKind::Lay(6), 2.273),
    (BetKind::Lay(10), 1.667),
    (BetKind::Field, 5.556),
    (BetKind::Big6, 9.091),
    (BetKind::Big8, 9.091),
    (BetKind::Hard(4), 11.111),
    (BetKind::Hard(6), 9.091),
    (BetKind::Hard(8), 9.091),
    (BetKind::Hard(10), 11.111),
    (BetKind::AnySeven, 16.667),
    (BetKind::AnyCraps, 11.111),
    (BetKind::Aces, 13.889),
    (BetKind::AceDeuce, 11.111),
    (BetKind::Yo, 11.111),
    (BetKind::Boxcars, 13.889),
    (BetKind::Horn, 12.5),
    (BetKind::CAndE, 11.111),
    (BetKind::Hop(3, 3), 13.889),
    (BetKind::Hop(2, 5), 11.111),
];

/// A bet's house edge in percent, rounded to 3 decimals (for display and
/// for comparing with [`PUBLISHED_EDGES`]).
pub fn house_edge_percent(kind: BetKind, rules: &TableRules) -> Option<f64> {
    let edge = house_edge(kind, rules)?.to_f64();
    Some((edge * 100_000.0).round() / 1000.0)
}

/// Expected value per chip of stake of a bet placed in `phase`, until it
/// is decided, net of any up-front commission. `None` on arithmetic
/// overflow (which the standard bets never reach).
pub fn expected_value(kind: BetKind, phase: Phase, rules: &TableRules) -> Option<Ratio> {
    // Discover every reachable (bet, phase) state.
    let mut index: BTreeMap<(BetKind, Phase), usize> = BTreeMap::new();
    let mut states = vec![(kind, phase)];
    index.insert((kind, phase), 0);
    let mut i = 0;
    while i < states.len() {
        let (k, p) = states[i];
        for roll in Roll::all() {
            let next = match resolve(k, p, roll, rules) {
                Outcome::NoAction => (k, p.after(roll)),
                Outcome::Travel(moved) => (moved, p.after(roll)),
                _ => continue,
            };
            if let std::collections::btree_map::Entry::Vacant(slot) = index.entry(next) {
                slot.insert(states.len());
                states.push(next);
            }
        }
        i += 1;
    }

    // x_s - sum_roll p * x_next = sum_roll p * value, as an augmented matrix.
    let n = states.len();
    let p = Ratio::new(1, 36)?;
    let mut m = vec![vec![Ratio::ZERO; n + 1]; n];
    for (row, &(k, ph)) in states.iter().enumerate() {
        m[row][row] = Ratio::ONE;
        for roll in Roll::all() {
            let terminal = match resolve(k, ph, roll, rules) {
                Outcome::Win { profit, .. } => Some(profit),
                Outcome::Lose => Some(Ratio::int(-1)),
                Outcome::Push => Some(Ratio::ZERO),
                Outcome::NoAction => None,
                Outcome::Travel(_) => None,
            };
            match terminal {
                Some(value) => m[row][n] = m[row][n].checked_add(p.checked_mul(value)?)?,
                None => {
                    let next = match resolve(k, ph, roll, rules) {
                        Outcome::Travel(moved) => (moved, ph.after(roll)),
                        _ => (k, ph.after(roll)),
                    };
                    let col = index[&next];
                    m[row][col] = m[row][col].checked_sub(p)?;
                }
            }
        }
    }
    let x = solve(m)?;
    x[0].checked_sub(kind.upfront_commission(rules))
}

/// The house edge of a bet (a positive fraction: 0.01414 for the pass
/// line), per chip wagered including any up-front commission.
pub fn house_edge(kind: BetKind, rules: &TableRules) -> Option<Ratio> {
    let ev = expected_value(kind, natural_phase(kind), rules)?;
    let wagered = Ratio::ONE.checked_add(kind.upfront_commission(rules))?;
    Ratio::ZERO.checked_sub(ev)?.checked_div(wagered)
}

/// Gauss-Jordan elimination on an augmented matrix; `None` if singular or
/// on overflow.
fn solve(mut m: Vec<Vec<Ratio>>) -> Option<Vec<Ratio>> {
    let n = m.len();
    for col in 0..n {
        let pivot = (col..n).find(|&r| !m[r][col].is_zero())?;
        m.swap(col, pivot);
        let lead = m[col][col];
        for cell in &mut m[col][col..] {
            *cell = cell.checked_div(lead)?;
        }
        let pivot_row = m[col].clone();
        for (r, row) in m.iter_mut().enumerate() {
            if r == col || row[col].is_zero() {
                continue;
            }
            let factor = row[col];
            for (cell, &above) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                *cell = cell.checked_sub(factor.checked_mul(above)?)?;
            }
        }
    }
    Some(m.into_iter().map(|row| row[n]).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::craps::rules::{Commission, CommissionTiming};

    fn pct(kind: BetKind, rules: &TableRules) -> f64 {
        house_edge_percent(kind, rules).expect("edge computes")
    }

    #[test]
    fn every_published_figure_is_reproduced() {
        let rules = TableRules::default();
        for &(kind, published) in PUBLISHED_EDGES {
            assert_eq!(
                house_edge_percent(kind, &rules),
                Some(published),
                "{kind:?}"
            );
        }
        // Exactly 7/495 and 3/220.
        assert_eq!(house_edge(BetKind::PassLine, &rules), Ratio::new(7, 495));
        assert_eq!(house_edge(BetKind::DontPass, &rules), Ratio::new(3, 220));
    }

    #[test]
    fn odds_are_free() {
        let rules = TableRules::default();
        for point in [4, 5, 6, 8, 9, 10] {
            for kind in [BetKind::ComeOdds { point }, BetKind::DontComeOdds { point }] {
                assert_eq!(house_edge(kind, &rules), Some(Ratio::ZERO), "{kind:?}");
            }
            for kind in [BetKind::PassOdds, BetKind::DontPassOdds] {
                let ev = expected_value(kind, Phase::Point(point), &rules);
                assert_eq!(ev, Some(Ratio::ZERO), "{kind:?} on {point}");
            }
        }
    }

    #[test]
    fn table_options_change_the_edge_as_published() {
        let rules = TableRules::default();
        // 5% paid up front: of the stake on buy bets, of the win on lays.
        let upfront = TableRules {
            commission: Commission {
                percent: 5,
                timing: CommissionTiming::UpFront,
            },
            ..rules
        };
        assert_eq!(pct(BetKind::Buy(4), &upfront), 4.762);
        assert_eq!(pct(BetKind::Buy(6), &upfront), 4.762);
        assert_eq!(pct(BetKind::Lay(4), &upfront), 2.439);
        assert_eq!(pct(BetKind::Lay(5), &upfront), 3.226);
        assert_eq!(pct(BetKind::Lay(6), &upfront), 4.0);
        let triple = TableRules {
            field_pays_on_12: 3,
            ..rules
        };
        assert_eq!(pct(BetKind::Field, &triple), 2.778);
    }
}
