//! A table action judged once: [`Table::check`] judges it without
//! changing the table and gives a [`Checked`]; [`Table::take`] applies
//! that to the same table without judging it again. The mutators
//! ([`Table::sit`], [`Table::place_bet`], ...) are the two in a row; a
//! caller that must judge an action before it commits to it (a player's
//! own, before signing it) judges it once and takes what it judged.

use super::{PlayerId, Seat, Table, TableError};
use crate::craps::bet::BetKind;

/// What a player does at the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Sit down with chips.
    Sit {
        /// Chips brought.
        buy_in: u64,
    },
    /// Add chips.
    BuyIn {
        /// Chips added.
        amount: u64,
    },
    /// Place or add to a bet.
    Bet {
        /// Which bet.
        kind: BetKind,
        /// Chips staked.
        stake: u64,
    },
    /// Take a bet down.
    TakeDown {
        /// Which bet.
        kind: BetKind,
    },
    /// Call a place or buy bet working on the come-out, or off.
    Working {
        /// Which bet.
        kind: BetKind,
        /// Working (true) or off.
        working: bool,
    },
    /// Leave with the balance.
    Leave,
}

/// A step [`Table::check`] accepted, for [`Table::take`] on the table it
/// was judged on (nothing may change that table in between).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct Checked {
    player: PlayerId,
    step: Step,
    /// A bet's chips off the balance (stake and any commission); a
    /// take-down's stake back.
    chips: u64,
}

impl Checked {
    /// Whose step.
    pub fn player(&self) -> &PlayerId {
        &self.player
    }

    /// The step.
    pub fn step(&self) -> Step {
        self.step
    }

    /// For a bet, the chips it takes off the balance: the stake and any
    /// commission paid up front.
    pub fn needed(&self) -> u64 {
        match self.step {
            Step::Bet { .. } => self.chips,
            _ => 0,
        }
    }
}

impl Table {
    /// Judges `player`'s `step` without taking it.
    pub fn check(&self, player: &PlayerId, step: Step) -> Result<Checked, TableError> {
        let chips = match step {
            Step::Sit { buy_in } => self.check_sit(player, buy_in).map(|()| 0)?,
            Step::BuyIn { amount } => self.check_buy_in(player, amount).map(|()| 0)?,
            Step::Bet { kind, stake } => self.check_bet(player, kind, stake)?,
            Step::TakeDown { kind } => self.check_take_down(player, kind)?,
            Step::Working { kind, .. } => self.check_working(player, kind).map(|()| 0)?,
            Step::Leave => self.check_leave(player).map(|()| 0)?,
        };
        Ok(Checked {
            player: *player,
            step,
            chips,
        })
    }

    /// Takes a step [`Table::check`] accepted on this same table, without
    /// judging it again. Returns the chips it gives back: a take-down's
    /// stake, or a leaving player's balance (0 otherwise).
    pub fn take(&mut self, checked: Checked) -> Result<u64, TableError> {
        let Checked {
            player,
            step,
            chips,
        } = checked;
        match step {
            Step::Sit { buy_in } => {
                self.bought_in += buy_in;
                let at = self.seats.partition_point(|s| s.player < player);
                self.seats.insert(
                    at,
                    Seat {
                        player,
                        balance: buy_in,
                    },
                );
            }
            Step::BuyIn { amount } => {
                self.bought_in += amount;
                self.seat_mut(&player)?.balance += amount;
            }
            Step::Bet { kind, stake } => {
                let seat = self.seat_mut(&player)?;
                seat.balance =
                    seat.balance
                        .checked_sub(chips)
                        .ok_or(TableError::InsufficientBalance {
                            balance: seat.balance,
                            needed: chips,
                        })?;
                self.bankroll = self
                    .bankroll
                    .checked_add(chips - stake)
                    .ok_or(TableError::Overflow)?;
                *self.bets.entry((player, kind)).or_insert(0) += stake;
            }
            Step::TakeDown { kind } => {
                self.lift(&player, kind, chips)?;
                return Ok(chips);
            }
            Step::Working { kind, working } => {
                match (self.working.binary_search(&(player, kind)), working) {
                    (Err(at), true) => self.working.insert(at, (player, kind)),
                    (Ok(at), false) => {
                        self.working.remove(at);
                    }
                    _ => {}
                }
            }
            Step::Leave => {
                // (Every bet of a player who may leave can come down.)
                let mine: Vec<((PlayerId, BetKind), u64)> = self
                    .bets
                    .range((player, BetKind::PassLine)..) // (the first kind)
                    .take_while(|((p, _), _)| *p == player)
                    .map(|(key, stake)| (*key, *stake))
                    .collect();
                for ((_, kind), stake) in mine {
                    self.lift(&player, kind, stake)?;
                }
                return self.remove_seat(&player);
            }
        }
        Ok(0)
    }

    /// Takes `player`'s `kind` bet of `stake` down, back to its balance.
    fn lift(&mut self, player: &PlayerId, kind: BetKind, stake: u64) -> Result<(), TableError> {
        self.bets.remove(&(*player, kind));
        self.forget_working(&(*player, kind));
        let seat = self.seat_mut(player)?;
        seat.balance = seat
            .balance
            .checked_add(stake)
            .ok_or(TableError::Overflow)?;
        Ok(())
    }
}
