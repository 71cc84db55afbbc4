//! Seats: who sits, who shoots and who takes part in the dice; sitting
//! down (with the table's seat credit), buying in, leaving, forfeiting,
//! and the dice passing on.

use super::{PlayerId, Seat, Step, Table, TableError, SEAT_EVERY};
use crate::craps::bet::BetKind;

impl Table {
    /// Whether `player` is seated (the banker is not "seated").
    pub fn is_seated(&self, player: &PlayerId) -> bool {
        self.seat(player).is_some()
    }

    /// Who contributes entropy to the next roll: the banker, the shooter,
    /// and every seat with a stake on the table. A seat with nothing at
    /// stake takes no part (it has nothing to protect, and a reveal it
    /// could withhold for free would only slow the roll).
    pub fn participants(&self) -> Vec<PlayerId> {
        let shooter = self.shooter();
        let mut all = vec![self.banker];
        all.extend(
            self.seats
                .iter()
                .map(|s| s.player)
                .filter(|p| Some(*p) == shooter || self.has_stake(p)),
        );
        all
    }

    /// Whether `player` has any bet on the table.
    pub fn has_stake(&self, player: &PlayerId) -> bool {
        self.bets
            // (Pass line sorts first of the kinds: the player's first key.)
            .range((*player, BetKind::PassLine)..)
            .next()
            .is_some_and(|((p, _), _)| p == player)
    }

    pub(super) fn seat(&self, player: &PlayerId) -> Option<&Seat> {
        self.seats.iter().find(|s| &s.player == player)
    }

    pub(super) fn seat_mut(&mut self, player: &PlayerId) -> Result<&mut Seat, TableError> {
        self.seats
            .iter_mut()
            .find(|s| &s.player == player)
            .ok_or(TableError::NotSeated)
    }

    /// How many new players the table can take in now (see
    /// [`SEAT_EVERY`]); one at least while nobody sits (credit comes with
    /// rolls, and a table nobody sits at has none).
    pub fn open_seats(&self) -> u32 {
        let open = self.seat_credit / SEAT_EVERY;
        if self.seats.is_empty() {
            open.max(1)
        } else {
            open
        }
    }

    /// Spends one open seat's credit on a player the roll takes in; the
    /// table is unchanged when none is open.
    pub fn take_seat(&mut self) -> Result<(), TableError> {
        if self.open_seats() == 0 {
            return Err(TableError::NoSeatOpen);
        }
        self.seat_credit = self.seat_credit.saturating_sub(SEAT_EVERY);
        Ok(())
    }

    /// Whether `player` may sit down with `buy_in` chips, without seating
    /// it ([`Table::sit`] checks the same).
    pub fn check_sit(&self, player: &PlayerId, buy_in: u64) -> Result<(), TableError> {
        if self.is_seated(player) || *player == self.banker {
            return Err(TableError::AlreadySeated);
        }
        if buy_in == 0 {
            return Err(TableError::ZeroAmount);
        }
        self.bought_in
            .checked_add(buy_in)
            .ok_or(TableError::Overflow)?;
        Ok(())
    }

    /// Seats a new player with `buy_in` chips. Seats are kept in key order,
    /// so the order players sit down in does not matter.
    pub fn sit(&mut self, player: PlayerId, buy_in: u64) -> Result<(), TableError> {
        let checked = self.check(&player, Step::Sit { buy_in })?;
        self.take(checked).map(drop)
    }

    /// Whether a seated player may add `amount` chips, without adding them.
    pub fn check_buy_in(&self, player: &PlayerId, amount: u64) -> Result<(), TableError> {
        if amount == 0 {
            return Err(TableError::ZeroAmount);
        }
        self.bought_in
            .checked_add(amount)
            .ok_or(TableError::Overflow)?;
        let seat = self.seat(player).ok_or(TableError::NotSeated)?;
        seat.balance
            .checked_add(amount)
            .ok_or(TableError::Overflow)?;
        Ok(())
    }

    /// Adds chips to a seated player's balance.
    pub fn buy_in(&mut self, player: &PlayerId, amount: u64) -> Result<(), TableError> {
        let checked = self.check(player, Step::BuyIn { amount })?;
        self.take(checked).map(drop)
    }

    /// A player leaves with its balance and every bet that may come down
    /// (taken down first, its stake back); a contract bet (pass, come)
    /// keeps it at the table until the dice decide it, and nothing changes.
    pub fn leave(&mut self, player: &PlayerId) -> Result<u64, TableError> {
        let checked = self.check(player, Step::Leave)?;
        self.take(checked)
    }

    /// Whether a player may leave now, without it leaving.
    pub fn check_leave(&self, player: &PlayerId) -> Result<(), TableError> {
        let contract = self
            .bets
            .keys()
            .find(|(p, kind)| p == player && !kind.is_removable());
        if let Some((_, kind)) = contract {
            return Err(TableError::ContractBetOn(kind.name()));
        }
        self.seat(player).ok_or(TableError::NotSeated)?;
        Ok(())
    }

    /// A player who broke the protocol (did not commit or reveal in time,
    /// or revealed a secret that does not match its commitment) loses every
    /// bet it has on the table to the banker and leaves with its balance.
    pub fn forfeit(&mut self, player: &PlayerId) -> Result<u64, TableError> {
        let mine: Vec<_> = self
            .bets
            .keys()
            .filter(|(p, _)| p == player)
            .copied()
            .collect();
        let mut lost = 0u64;
        for key in mine {
            let stake = self.bets.remove(&key).unwrap_or(0);
            self.forget_working(&key);
            lost = lost.checked_add(stake).ok_or(TableError::Overflow)?;
        }
        self.bankroll = self
            .bankroll
            .checked_add(lost)
            .ok_or(TableError::Overflow)?;
        self.remove_seat(player)?;
        Ok(lost)
    }

    /// The dice pass to the next seat (the shooter did not roll in time).
    pub fn pass_dice(&mut self) {
        let next = self
            .shooter()
            .and_then(|s| self.seats.iter().position(|x| x.player == s))
            .and_then(|index| self.next_seat_after(index));
        if next.is_some() {
            self.shooter = next;
        }
    }

    pub(super) fn remove_seat(&mut self, player: &PlayerId) -> Result<u64, TableError> {
        let index = self
            .seats
            .iter()
            .position(|s| &s.player == player)
            .ok_or(TableError::NotSeated)?;
        let next = self.next_seat_after(index);
        let seat = self.seats.remove(index);
        if self.shooter == Some(*player) {
            self.shooter = next;
        }
        let departed = self.departed.entry(*player).or_insert(0);
        *departed = departed.saturating_add(seat.balance);
        Ok(seat.balance)
    }

    pub(super) fn next_seat_after(&self, index: usize) -> Option<PlayerId> {
        if self.seats.len() <= 1 {
            return None;
        }
        Some(self.seats[(index + 1) % self.seats.len()].player)
    }
}
