//! Settlement: a roll settles every bet; a banker in default pays every
//! bet at its best; a table that closes returns every stake.

use std::collections::BTreeMap;

use super::{ceil_chips, exact_chips, BetResult, PlayerId, Settlement, Table, TableError};
use crate::craps::bet::{resolve, BetKind, Outcome};
use crate::dice::Roll;

impl Table {
    /// The banker broke the protocol: every bet on the table is paid as if
    /// it won at its best, the stakes returned, and the banker keeps what is
    /// left. (So a banker never gains by withholding its reveal.) If the
    /// bankroll runs out, bets are paid in table order until it does.
    pub fn banker_default(&mut self) -> Vec<BetResult> {
        let bets = std::mem::take(&mut self.bets);
        self.working.clear();
        let mut results = Vec::new();
        for ((player, kind), stake) in bets {
            let profit = ceil_chips(stake, kind.max_profit(&self.rules))
                .unwrap_or(u64::MAX)
                .min(self.bankroll);
            self.bankroll -= profit;
            let paid = stake.saturating_add(profit);
            if let Some(seat) = self.seats.iter_mut().find(|s| s.player == player) {
                seat.balance = seat.balance.saturating_add(paid);
            }
            results.push(BetResult {
                player,
                kind,
                stake,
                outcome: Outcome::Win {
                    profit: kind.max_profit(&self.rules),
                    stays: false,
                },
                paid,
            });
        }
        results
    }

    /// Settles every bet against `roll`, moves the phase on and passes the
    /// dice after a seven-out. All or nothing: everything is computed
    /// first, and on an error (the bankroll cannot pay, or chips overflow)
    /// the table is left exactly as it was.
    pub fn settle(&mut self, roll: Roll) -> Result<Settlement, TableError> {
        let phase_before = self.phase;
        let mut kept: BTreeMap<(PlayerId, BetKind), u64> = BTreeMap::new();
        let mut results = Vec::new();
        let mut credit: BTreeMap<PlayerId, u64> = BTreeMap::new();
        let (mut won_total, mut lost_total) = (0u64, 0u64);
        let add = |sum: &mut u64, x: u64| -> Result<(), TableError> {
            *sum = sum.checked_add(x).ok_or(TableError::Overflow)?;
            Ok(())
        };
        for (&(player, kind), &stake) in &self.bets {
            let outcome = resolve(kind, self.acting_phase(&player, kind), roll, &self.rules);
            let paid = match outcome {
                Outcome::NoAction => {
                    add(kept.entry((player, kind)).or_insert(0), stake)?;
                    continue;
                }
                Outcome::Travel(moved) => {
                    add(kept.entry((player, moved)).or_insert(0), stake)?;
                    0
                }
                Outcome::Win { profit, stays } => {
                    let won = exact_chips(stake, profit).ok_or(TableError::Overflow)?;
                    add(&mut won_total, won)?;
                    if stays {
                        add(kept.entry((player, kind)).or_insert(0), stake)?;
                        won
                    } else {
                        won.checked_add(stake).ok_or(TableError::Overflow)?
                    }
                }
                Outcome::Lose => {
                    add(&mut lost_total, stake)?;
                    0
                }
                Outcome::Push => stake,
            };
            add(credit.entry(player).or_insert(0), paid)?;
            results.push(BetResult {
                player,
                kind,
                stake,
                outcome,
                paid,
            });
        }
        let bankroll = self
            .bankroll
            .checked_add(lost_total)
            .and_then(|b| b.checked_sub(won_total))
            .ok_or(TableError::BankerCannotCover {
                available: self.bankroll.saturating_add(lost_total),
            })?;
        let mut seats = self.seats.clone();
        for (player, paid) in credit {
            let seat = seats
                .iter_mut()
                .find(|s| s.player == player)
                .ok_or(TableError::NotSeated)?;
            seat.balance = seat.balance.checked_add(paid).ok_or(TableError::Overflow)?;
        }
        // Nothing can fail from here on.
        self.bankroll = bankroll;
        self.seats = seats;
        self.bets = kept;
        self.seat_credit = (self.seat_credit + 1).min(super::SEAT_CREDIT_MAX);
        // A decided bet's call goes with it.
        let bets = &self.bets;
        self.working.retain(|key| bets.contains_key(key));
        let seven_out = phase_before.is_seven_out(roll);
        self.phase = phase_before.after(roll);
        self.shooter = self.shooter();
        if seven_out {
            if let Some(index) = self
                .shooter
                .and_then(|s| self.seats.iter().position(|x| x.player == s))
            {
                self.shooter = self.next_seat_after(index).or(self.shooter);
            }
        }
        Ok(Settlement {
            roll,
            phase_before,
            phase_after: self.phase,
            seven_out,
            results,
        })
    }

    /// Returns every stake on the table to its player, with no roll (the
    /// table closes because its banker can no longer cover what is in
    /// action). Every result is a push.
    pub fn return_all_stakes(&mut self) -> Vec<BetResult> {
        let bets = std::mem::take(&mut self.bets);
        self.working.clear();
        let mut results = Vec::new();
        for ((player, kind), stake) in bets {
            match self.seats.iter_mut().find(|s| s.player == player) {
                Some(seat) => seat.balance = seat.balance.saturating_add(stake),
                None => {
                    let departed = self.departed.entry(player).or_insert(0);
                    *departed = departed.saturating_add(stake);
                }
            }
            results.push(BetResult {
                player,
                kind,
                stake,
                outcome: Outcome::Push,
                paid: stake,
            });
        }
        results
    }
}
