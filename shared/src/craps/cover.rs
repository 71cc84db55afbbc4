//! The banker's coverage: before every roll, the bankroll must pay the
//! worst single roll of everything in action.
//!
//! Place, buy, lay, big 6/8 and hardway bets stay up after they win, so a
//! bankroll that covered a bet when it was placed may not cover it on the
//! next roll. So coverage is not judged when a bet is placed but before
//! each roll, over all 36 rolls: for each, what the banker would pay
//! (profits of the bets that win) less what it would take in (stakes of
//! the bets that lose). While the worst of them is more than the bankroll,
//! the bet that wins most on that worst roll is taken down and returned to
//! its player (ties: the last in table order); contract bets (a pass or
//! come bet on its point) cannot be taken down, so if they alone are more
//! than the bankroll can pay, the table closes with every stake returned
//! and nothing rolled ([`Uncovered`]).
//!
//! Every peer runs this on the same table, so every peer takes the same
//! bets down in the same order. It reads no clock and sends nothing.

use crate::craps::bet::{resolve, BetKind, Outcome};
use crate::craps::phase::Phase;
use crate::craps::table::{ceil_chips, PlayerId, Table};
use crate::dice::Roll;

/// A bet taken down before a roll because the banker could not cover it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Returned {
    /// Whose bet.
    pub player: PlayerId,
    /// Which bet.
    pub kind: BetKind,
    /// The stake given back to the player's balance.
    pub stake: u64,
}

/// Even with every bet that can come down taken down, the banker could not
/// pay the worst roll of the contract bets left in action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the bankroll cannot pay the worst roll of the contract bets in action (short by {short})")]
pub struct Uncovered {
    /// Chips the bankroll lacks.
    pub short: u64,
}

/// What one bet would win (its profit, in chips) on `roll`, and whether
/// it would lose its stake.
fn on_roll(table: &Table, player: &PlayerId, kind: BetKind, stake: u64, roll: Roll) -> (u64, bool) {
    match resolve(kind, table.acting_phase(player, kind), roll, table.rules()) {
        // A payout that does not fit counts as unpayable.
        Outcome::Win { profit, .. } => (ceil_chips(stake, profit).unwrap_or(u64::MAX), false),
        Outcome::Lose => (0, true),
        Outcome::Push | Outcome::NoAction | Outcome::Travel(_) => (0, false),
    }
}

/// A change to one bet, judged by [`Table::shortfall_with`] before it is
/// made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// `stake` more on the bet, `commission` of it paid to the bankroll up
    /// front.
    Stake {
        /// Chips added to the bet.
        stake: u64,
        /// The up-front commission, to the bankroll.
        commission: u64,
    },
    /// The bet called working on the come-out.
    Working,
}

/// What one bet of `stake` (0: none) costs the banker net on `roll`,
/// acting in `phase`.
fn net_of(table: &Table, kind: BetKind, stake: u64, phase: Phase, roll: Roll) -> i128 {
    if stake == 0 {
        return 0;
    }
    match resolve(kind, phase, roll, table.rules()) {
        Outcome::Win { profit, .. } => i128::from(ceil_chips(stake, profit).unwrap_or(u64::MAX)),
        Outcome::Lose => -i128::from(stake),
        Outcome::Push | Outcome::NoAction | Outcome::Travel(_) => 0,
    }
}

impl Table {
    /// What [`Table::shortfall`] would say were `change` made to
    /// `player`'s `kind` bet, without making it (and without a copy of the
    /// table): the worst roll with that one bet's part replaced.
    pub fn shortfall_with(&self, player: &PlayerId, kind: BetKind, change: Change) -> u64 {
        let old = self.bets().get(&(*player, kind)).copied().unwrap_or(0);
        let old_phase = self.acting_phase(player, kind);
        let (new, new_phase, commission) = match change {
            Change::Stake { stake, commission } => {
                (old.saturating_add(stake), old_phase, commission)
            }
            Change::Working => (old, self.acting_phase_if(true), 0),
        };
        let worst = Roll::all()
            .map(|roll| {
                self.banker_net_on(roll) - net_of(self, kind, old, old_phase, roll)
                    + net_of(self, kind, new, new_phase, roll)
            })
            .max()
            .unwrap_or(0);
        let bankroll = i128::from(self.bankroll()) + i128::from(commission);
        u64::try_from(worst - bankroll).unwrap_or(0)
    }

    /// What the banker would pay beyond what it takes in if `roll` came
    /// next (negative when it would gain).
    pub fn banker_net_on(&self, roll: Roll) -> i128 {
        self.bets()
            .iter()
            .map(
                |(&(player, kind), &stake)| match on_roll(self, &player, kind, stake, roll) {
                    (won, false) => i128::from(won),
                    (_, true) => -i128::from(stake),
                },
            )
            .sum()
    }

    /// The worst roll for the banker and what it would pay, net.
    fn worst_roll(&self) -> (Roll, i128) {
        Roll::all()
            .map(|roll| (roll, self.banker_net_on(roll)))
            // The first of equal worst rolls, so every peer picks the same.
            .fold(
                None,
                |worst: Option<(Roll, i128)>, (roll, net)| match worst {
                    Some((_, w)) if w >= net => worst,
                    _ => Some((roll, net)),
                },
            )
            .unwrap_or((Roll::all().next().unwrap_or_else(|| unreachable!()), 0))
    }

    /// Chips the bankroll lacks to pay the worst next roll (0: covered).
    pub fn shortfall(&self) -> u64 {
        let (_, net) = self.worst_roll();
        u64::try_from(net - i128::from(self.bankroll())).unwrap_or(0)
    }

    /// What the bankroll has left after paying the worst next roll.
    pub fn spare(&self) -> u64 {
        let (_, net) = self.worst_roll();
        u64::try_from(i128::from(self.bankroll()) - net).unwrap_or(0)
    }

    /// Takes down, in a fixed order, the bets the bankroll cannot cover
    /// for the next roll, returning their stakes (see the module docs).
    /// On `Err` some bets may already have come down (they are listed in
    /// no result: the caller closes the table and returns every stake).
    pub fn cover(&mut self) -> Result<Vec<Returned>, Uncovered> {
        let mut returned = Vec::new();
        loop {
            let (roll, net) = self.worst_roll();
            let short = u64::try_from(net - i128::from(self.bankroll())).unwrap_or(0);
            if short == 0 {
                return Ok(returned);
            }
            let biggest = self
                .bets()
                .iter()
                .filter(|(&(_, kind), _)| kind.is_removable())
                .map(|(&(player, kind), &stake)| {
                    (on_roll(self, &player, kind, stake, roll).0, player, kind)
                })
                .filter(|(won, ..)| *won > 0)
                .max();
            let Some((_, player, kind)) = biggest else {
                return Err(Uncovered { short });
            };
            match self.take_down(&player, kind) {
                Ok(stake) => returned.push(Returned {
                    player,
                    kind,
                    stake,
                }),
                // Only a bet of a player no longer seated could refuse;
                // such a bet cannot exist.
                Err(_) => return Err(Uncovered { short }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::craps::rules::{Commission, CommissionTiming, TableRules};
    use crate::ratio::Ratio;

    const BANKER: PlayerId = [0xBB; 32];
    const ALICE: PlayerId = [0xA1; 32];
    const BOB: PlayerId = [0xB0; 32];

    fn roll(a: u8, b: u8) -> Roll {
        Roll::new(a, b).unwrap()
    }

    #[test]
    fn the_shortfall_with_one_change_is_the_shortfall_after_making_it() {
        let kinds = [
            BetKind::PassLine,
            BetKind::Field,
            BetKind::Place(6),
            BetKind::Buy(4),
            BetKind::Lay(10),
            BetKind::Hard(8),
            BetKind::Hop(3, 4),
        ];
        let mut checked = 0;
        for point in [None, Some(roll(2, 2))] {
            let mut t = Table::new(TableRules::default(), BANKER, 2_000);
            t.sit(ALICE, 1_000_000).unwrap();
            t.sit(BOB, 1_000_000).unwrap();
            if let Some(r) = point {
                t.place_bet(&BOB, BetKind::PassLine, 10).unwrap();
                t.settle(r).unwrap();
            }
            t.place_bet(&BOB, BetKind::Place(8), 120).unwrap();
            t.set_working(&BOB, BetKind::Place(8), true).unwrap();
            for kind in kinds {
                for units in [1, 7, 40, 300] {
                    let stake = kind.stake_unit_on(t.phase().point(), t.rules()) * units;
                    let Ok(needed) = t.check_bet(&ALICE, kind, stake) else {
                        continue;
                    };
                    let mut after = t.clone();
                    after.place_bet(&ALICE, kind, stake).unwrap();
                    let change = Change::Stake {
                        stake,
                        commission: needed - stake,
                    };
                    assert_eq!(
                        t.shortfall_with(&ALICE, kind, change),
                        after.shortfall(),
                        "{kind:?} x{units} with {:?}",
                        t.phase()
                    );
                    checked += 1;
                    if after.check_working(&ALICE, kind).is_ok() {
                        let mut working = after.clone();
                        working.set_working(&ALICE, kind, true).unwrap();
                        assert_eq!(
                            after.shortfall_with(&ALICE, kind, Change::Working),
                            working.shortfall(),
                            "{kind:?} working"
                        );
                    }
                }
            }
        }
        assert!(checked > 20, "{checked} changes checked");
    }

    #[test]
    fn a_standing_bet_that_keeps_winning_is_taken_down_before_it_breaks_the_bank() {
        // 852 on place 6 wins 994 against a bankroll of 1,000: covered once,
        // not twice.
        let mut t = Table::new(TableRules::default(), BANKER, 1_000);
        t.sit(ALICE, 2_000).unwrap();
        t.place_bet(&ALICE, BetKind::PassLine, 6).unwrap();
        t.settle(roll(2, 2)).unwrap(); // point 4
        t.place_bet(&ALICE, BetKind::Place(6), 852).unwrap();
        assert_eq!(t.cover(), Ok(vec![]));
        let s = t.settle(roll(3, 3)).unwrap();
        assert_eq!(s.results[0].paid, 994);
        assert_eq!(t.bankroll(), 6);
        // The next roll could pay another 994: the place bet comes down
        // (the pass line, 6 to win on the 4, stays and is still covered).
        assert_eq!(t.shortfall(), 994 - 6);
        let returned = t.cover().unwrap();
        assert_eq!(
            returned,
            vec![Returned {
                player: ALICE,
                kind: BetKind::Place(6),
                stake: 852
            }]
        );
        assert_eq!(t.shortfall(), 0);
        assert_eq!(t.total_chips(), t.bought_in());
        t.settle(roll(3, 3)).unwrap();
        assert_eq!(t.total_chips(), t.bought_in());
    }

    #[test]
    fn every_kind_of_standing_bet_is_covered_roll_after_roll() {
        for kind in [
            BetKind::Big6,
            BetKind::Hard(6),
            BetKind::Buy(4),
            BetKind::Place(8),
        ] {
            let mut t = Table::new(TableRules::default(), BANKER, 1_000);
            t.sit(ALICE, 100_000).unwrap();
            t.place_bet(&ALICE, BetKind::PassLine, 10).unwrap();
            t.settle(roll(4, 5)).unwrap(); // point 9
            let unit = kind.stake_unit(t.rules());
            let stake = (400 / unit) * unit;
            t.place_bet(&ALICE, kind, stake).unwrap();
            // Keep throwing the bet's number: it wins while it is covered
            // and comes down when it no longer is; chips stay conserved and
            // settlement never fails.
            let winner = match kind {
                BetKind::Buy(4) => roll(1, 3),
                BetKind::Place(8) => roll(2, 6),
                _ => roll(3, 3),
            };
            let mut came_down = false;
            for _ in 0..10 {
                let returned = t.cover().unwrap();
                came_down |= returned.iter().any(|r| r.kind == kind);
                t.settle(winner).unwrap();
                assert_eq!(t.total_chips(), t.bought_in(), "{kind:?}");
            }
            assert!(came_down, "{kind:?} was never taken down");
        }
    }

    #[test]
    fn contract_bets_the_bank_cannot_pay_close_the_table() {
        let mut t = Table::new(TableRules::default(), BANKER, 100);
        t.sit(ALICE, 1_000).unwrap();
        t.sit(BOB, 1_000).unwrap();
        t.place_bet(&ALICE, BetKind::PassLine, 80).unwrap();
        t.place_bet(&BOB, BetKind::Aces, 3).unwrap(); // 90 on a 2
        t.place_bet(&BOB, BetKind::Boxcars, 1).unwrap(); // 30 on a 12
                                                         // On a 2 the banker pays 90 and takes 80 + 1; on 7 it pays 80 and
                                                         // takes 4: covered.
        assert_eq!(t.cover(), Ok(vec![]));
        let mut t = Table::new(TableRules::default(), BANKER, 100);
        t.sit(ALICE, 1_000).unwrap();
        t.place_bet(&ALICE, BetKind::PassLine, 100).unwrap();
        t.settle(roll(2, 2)).unwrap();
        assert_eq!(t.bankroll(), 100);
        t.place_bet(&ALICE, BetKind::PassOdds, 30).unwrap();
        // 100 on the pass line and 60 on its odds: the odds come down.
        assert_eq!(t.cover().unwrap().len(), 1);
        let mut t = Table::new(TableRules::default(), BANKER, 50);
        t.sit(ALICE, 1_000).unwrap();
        t.place_bet(&ALICE, BetKind::PassLine, 100).unwrap();
        assert_eq!(t.cover(), Err(Uncovered { short: 50 }));
        let results = t.return_all_stakes();
        assert_eq!(results[0].paid, 100);
        assert_eq!(t.balance(&ALICE), Some(1_000));
        assert_eq!(t.total_chips(), t.bought_in());
    }

    #[test]
    fn max_profit_is_derived_from_resolve_and_gives_the_published_payouts() {
        let rules = TableRules::default();
        let tripled = TableRules {
            field_pays_on_12: 3,
            ..rules
        };
        let up_front = TableRules {
            commission: Commission {
                percent: 5,
                timing: CommissionTiming::UpFront,
            },
            ..rules
        };
        let r = |n, d| Ratio::new(n, d).unwrap();
        for (kind, rules, best) in [
            (BetKind::PassLine, rules, Ratio::ONE),
            (BetKind::DontCome { point: Some(4) }, rules, Ratio::ONE),
            (BetKind::PassOdds, rules, r(2, 1)),
            (BetKind::ComeOdds { point: 6 }, rules, r(6, 5)),
            (BetKind::DontComeOdds { point: 4 }, rules, r(1, 2)),
            (BetKind::Place(6), rules, r(7, 6)),
            (BetKind::Place(4), rules, r(9, 5)),
            (BetKind::Buy(4), up_front, r(2, 1)),
            (BetKind::Lay(10), up_front, r(1, 2)),
            (BetKind::Field, rules, r(2, 1)),
            (BetKind::Field, tripled, r(3, 1)),
            (BetKind::Hard(4), rules, r(7, 1)),
            (BetKind::Hard(8), rules, r(9, 1)),
            (BetKind::Aces, rules, r(30, 1)),
            (BetKind::Hop(2, 5), rules, r(15, 1)),
        ] {
            assert_eq!(kind.max_profit(&rules), best, "{kind:?}");
        }
        // Commission on the win comes off the best win too.
        assert!(BetKind::Buy(4).max_profit(&rules) < r(2, 1));
    }
}
