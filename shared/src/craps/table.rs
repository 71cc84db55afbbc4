//! The table: who sits with how many chips, the bets on the layout, and
//! how a roll settles them.
//!
//! Chips are whole numbers and every movement is checked. Chips are
//! conserved: the banker's bankroll plus the players' balances plus the
//! stakes on the table plus the balances of players who left only change
//! by buy-ins ([`Table::sit`], [`Table::buy_in`]); see [`Table::total_chips`].
//!
//! The banker covers the table roll by roll: before every roll the bets it
//! cannot pay are taken down (see [`crate::craps::cover`]); a bet is never
//! refused at placement for the banker's sake, so whether one is accepted
//! depends only on its player's own chips and bets and the table's phase.

use std::collections::BTreeMap;

use crate::craps::bet::{resolve, BetKind, Outcome};
use crate::craps::phase::Phase;
use crate::craps::rules::TableRules;
use crate::decode::Reader;
use crate::dice::Roll;
use crate::ratio::Ratio;

/// A player (or the banker), identified by its ed25519 public key.
pub type PlayerId = [u8; 32];

/// Why the table refuses an action.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    /// The player is not seated at this table.
    #[error("not seated at this table")]
    NotSeated,
    /// The player is already seated (or is the banker).
    #[error("already seated at this table")]
    AlreadySeated,
    /// The banker covers bets; it cannot place them.
    #[error("the banker cannot bet")]
    BankerCannotBet,
    /// The bet names a number that bet cannot have.
    #[error("no such bet: {0:?}")]
    MalformedBet(BetKind),
    /// Only place and buy bets are called working or off.
    #[error("only place and buy bets can be called working on the come-out, not {0}")]
    NotWorkable(String),
    /// The bet cannot be placed in this phase (e.g. pass line with a point on).
    #[error("{kind} cannot be placed {when}")]
    NotNow {
        /// The bet.
        kind: String,
        /// When it was tried, in words.
        when: &'static str,
    },
    /// The stake is below the table minimum.
    #[error("stake {stake} is below the table minimum of {min}")]
    BelowMinimum {
        /// The stake offered.
        stake: u64,
        /// The table minimum.
        min: u64,
    },
    /// The stake (with what is already on that bet) is above the maximum.
    #[error("stake {stake} is above the limit of {max}")]
    AboveMaximum {
        /// The stake that would be on the bet.
        stake: u64,
        /// The limit for this bet.
        max: u64,
    },
    /// Payouts would not be whole chips.
    #[error("stake must be a multiple of {unit} so the payout is whole chips")]
    NotMultiple {
        /// The stake unit of this bet.
        unit: u64,
    },
    /// Odds need their line bet first.
    #[error("odds need a {0} bet first")]
    NoLineBet(&'static str),
    /// The player's balance does not cover the stake (and commission).
    #[error("balance {balance} does not cover {needed}")]
    InsufficientBalance {
        /// The player's balance.
        balance: u64,
        /// What the bet needs.
        needed: u64,
    },
    /// The banker's bankroll could not pay this bet's best case.
    #[error("the banker cannot cover this bet (can still cover {available})")]
    BankerCannotCover {
        /// Winnings the banker can still cover.
        available: u64,
    },
    /// There is no such bet to take down.
    #[error("no {0} bet to take down")]
    NoSuchBet(String),
    /// Contract bets stay until decided.
    #[error("{0} is a contract bet and cannot be taken down")]
    NotRemovable(String),
    /// The player has a contract bet (pass, come) on the table, which no
    /// one may take down: it stays until the dice decide it.
    #[error("your {0} bet stays until the dice decide it: leave after that")]
    ContractBetOn(String),
    /// A zero amount.
    #[error("the amount must be more than zero")]
    ZeroAmount,
    /// Chip arithmetic would overflow.
    #[error("chip count overflow")]
    Overflow,
}

/// A seated player and its chips off the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seat {
    /// The player.
    pub player: PlayerId,
    /// Chips not on the table.
    pub balance: u64,
}

/// What one roll did to one bet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BetResult {
    /// Whose bet.
    pub player: PlayerId,
    /// Which bet (before any travel).
    pub kind: BetKind,
    /// The stake.
    pub stake: u64,
    /// What happened.
    pub outcome: Outcome,
    /// Chips paid to the player: won profit, plus the stake if returned.
    pub paid: u64,
}

/// What a roll did to the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    /// The roll.
    pub roll: Roll,
    /// The phase it was thrown in.
    pub phase_before: Phase,
    /// The phase after it.
    pub phase_after: Phase,
    /// Whether the shooter sevened out (the dice pass on).
    pub seven_out: bool,
    /// Every bet that changed (won, lost, pushed or travelled).
    pub results: Vec<BetResult>,
}

/// The state every peer keeps identically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    rules: TableRules,
    phase: Phase,
    banker: PlayerId,
    bankroll: u64,
    seats: Vec<Seat>,
    shooter: Option<PlayerId>,
    bets: BTreeMap<(PlayerId, BetKind), u64>,
    /// Place and buy bets their players called working on the come-out
    /// (by default they are off then, as at any casino); in key order (a
    /// few at most: a sorted list is all it needs).
    working: Vec<(PlayerId, BetKind)>,
    departed: BTreeMap<PlayerId, u64>,
    bought_in: u64,
}

/// `stake * ratio` in whole chips, rounded up (`None` on overflow).
pub(crate) fn ceil_chips(stake: u64, ratio: Ratio) -> Option<u64> {
    let x = Ratio::int(i128::from(stake)).checked_mul(ratio)?;
    let (n, d) = (x.numer(), x.denom());
    u64::try_from((n + d - 1).div_euclid(d)).ok()
}

/// `stake * ratio` when it is whole chips.
pub(crate) fn exact_chips(stake: u64, ratio: Ratio) -> Option<u64> {
    let x = Ratio::int(i128::from(stake)).checked_mul(ratio)?;
    (x.denom() == 1).then(|| u64::try_from(x.numer()).ok())?
}

impl Table {
    /// A new table with its banker and the banker's bankroll (a buy-in).
    pub fn new(rules: TableRules, banker: PlayerId, bankroll: u64) -> Self {
        Self {
            rules,
            phase: Phase::ComeOut,
            banker,
            bankroll,
            seats: Vec::new(),
            shooter: None,
            bets: BTreeMap::new(),
            working: Vec::new(),
            departed: BTreeMap::new(),
            bought_in: bankroll,
        }
    }

    /// The rules.
    pub fn rules(&self) -> &TableRules {
        &self.rules
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The banker.
    pub fn banker(&self) -> PlayerId {
        self.banker
    }

    /// The banker's bankroll.
    pub fn bankroll(&self) -> u64 {
        self.bankroll
    }

    /// Seated players, in public-key order.
    pub fn seats(&self) -> &[Seat] {
        &self.seats
    }

    /// The player holding the dice, if anyone is seated. Before the first
    /// roll it is the first seat in key order; afterwards the dice pass on
    /// at each seven-out (or when the shooter leaves).
    pub fn shooter(&self) -> Option<PlayerId> {
        self.shooter
            .or_else(|| self.seats.first().map(|s| s.player))
    }

    /// Every bet on the table: (player, kind) -> stake.
    pub fn bets(&self) -> &BTreeMap<(PlayerId, BetKind), u64> {
        &self.bets
    }

    /// Balances of players who left (cashed out).
    pub fn departed(&self) -> &BTreeMap<PlayerId, u64> {
        &self.departed
    }

    /// A seated player's balance.
    pub fn balance(&self, player: &PlayerId) -> Option<u64> {
        self.seat(player).map(|s| s.balance)
    }

    /// Whether `player` is seated (the banker is not "seated").
    pub fn is_seated(&self, player: &PlayerId) -> bool {
        self.seat(player).is_some()
    }

    /// The banker and every seated player: who takes part in each roll.
    pub fn participants(&self) -> Vec<PlayerId> {
        let mut all = vec![self.banker];
        all.extend(self.seats.iter().map(|s| s.player));
        all
    }

    fn seat(&self, player: &PlayerId) -> Option<&Seat> {
        self.seats.iter().find(|s| &s.player == player)
    }

    fn seat_mut(&mut self, player: &PlayerId) -> Result<&mut Seat, TableError> {
        self.seats
            .iter_mut()
            .find(|s| &s.player == player)
            .ok_or(TableError::NotSeated)
    }

    /// Every chip at the table: bankroll + balances + stakes + departed.
    /// Always equals [`Table::bought_in`].
    pub fn total_chips(&self) -> u128 {
        u128::from(self.bankroll)
            + self
                .seats
                .iter()
                .map(|s| u128::from(s.balance))
                .sum::<u128>()
            + self.bets.values().map(|&v| u128::from(v)).sum::<u128>()
            + self.departed.values().map(|&v| u128::from(v)).sum::<u128>()
    }

    /// Every chip ever brought to the table (bankroll and buy-ins).
    pub fn bought_in(&self) -> u128 {
        u128::from(self.bought_in)
    }

    /// Seats a new player with `buy_in` chips. Seats are kept in key order,
    /// so the order players sit down in does not matter.
    pub fn sit(&mut self, player: PlayerId, buy_in: u64) -> Result<(), TableError> {
        if self.is_seated(&player) || player == self.banker {
            return Err(TableError::AlreadySeated);
        }
        if buy_in == 0 {
            return Err(TableError::ZeroAmount);
        }
        self.bought_in = self
            .bought_in
            .checked_add(buy_in)
            .ok_or(TableError::Overflow)?;
        let at = self.seats.partition_point(|s| s.player < player);
        self.seats.insert(
            at,
            Seat {
                player,
                balance: buy_in,
            },
        );
        Ok(())
    }

    /// Adds chips to a seated player's balance.
    pub fn buy_in(&mut self, player: &PlayerId, amount: u64) -> Result<(), TableError> {
        if amount == 0 {
            return Err(TableError::ZeroAmount);
        }
        let total = self
            .bought_in
            .checked_add(amount)
            .ok_or(TableError::Overflow)?;
        let seat = self.seat_mut(player)?;
        seat.balance = seat
            .balance
            .checked_add(amount)
            .ok_or(TableError::Overflow)?;
        self.bought_in = total;
        Ok(())
    }

    /// Checks a bet against the rules, the phase, the player's line bets
    /// and balance, without placing it (the banker's coverage is checked
    /// before each roll instead: [`Table::cover`]). Returns the
    /// chips it takes from the balance (stake plus any up-front commission).
    pub fn check_bet(
        &self,
        player: &PlayerId,
        kind: BetKind,
        stake: u64,
    ) -> Result<u64, TableError> {
        if *player == self.banker {
            return Err(TableError::BankerCannotBet);
        }
        let seat = self.seat(player).ok_or(TableError::NotSeated)?;
        if !kind.is_well_formed() {
            return Err(TableError::MalformedBet(kind));
        }
        let not_now = |when| {
            Err(TableError::NotNow {
                kind: kind.name(),
                when,
            })
        };
        let point = self.phase.point();
        match kind {
            BetKind::PassLine | BetKind::DontPass if point.is_some() => {
                return not_now("while a point is on")
            }
            BetKind::Come { point: None } | BetKind::DontCome { point: None }
                if point.is_none() =>
            {
                return not_now("on the come-out roll")
            }
            BetKind::Come { point: Some(_) } | BetKind::DontCome { point: Some(_) } => {
                return not_now("directly: bet come and let it travel")
            }
            BetKind::PassOdds | BetKind::DontPassOdds if point.is_none() => {
                return not_now("on the come-out roll")
            }
            _ => {}
        }
        if stake == 0 {
            return Err(TableError::ZeroAmount);
        }
        let unit = kind.stake_unit_on(self.phase.point(), &self.rules);
        if stake % unit != 0 {
            return Err(TableError::NotMultiple { unit });
        }
        let already = self.bets.get(&(*player, kind)).copied().unwrap_or(0);
        let total = already.checked_add(stake).ok_or(TableError::Overflow)?;
        if total < self.rules.min_bet {
            return Err(TableError::BelowMinimum {
                stake: total,
                min: self.rules.min_bet,
            });
        }
        let max = self.max_stake(player, kind)?;
        if total > max {
            return Err(TableError::AboveMaximum { stake: total, max });
        }
        let commission = exact_chips(stake, kind.upfront_commission(&self.rules))
            .ok_or(TableError::NotMultiple { unit })?;
        let needed = stake.checked_add(commission).ok_or(TableError::Overflow)?;
        if seat.balance < needed {
            return Err(TableError::InsufficientBalance {
                balance: seat.balance,
                needed,
            });
        }
        Ok(needed)
    }

    /// The most that may be on one bet: the table maximum, or for odds the
    /// odds limit times the line bet they stand behind.
    fn max_stake(&self, player: &PlayerId, kind: BetKind) -> Result<u64, TableError> {
        let line = |line_kind: BetKind, name| {
            self.bets
                .get(&(*player, line_kind))
                .copied()
                .ok_or(TableError::NoLineBet(name))
        };
        let odds = self.rules.odds;
        let multiple = |stake: u64, times: u8| stake.saturating_mul(u64::from(times));
        // Lay odds are limited by what they win: at most `odds.lay` times
        // the line bet (the usual "6x win": lay 12x on 4, 9x on 5, 7.2x on 6).
        let lay = |stake: u64, point: u8| {
            let pays = crate::craps::bet::lay_odds(point);
            let most = i128::from(stake.saturating_mul(u64::from(odds.lay)));
            u64::try_from(most * pays.denom() / pays.numer()).unwrap_or(u64::MAX)
        };
        Ok(match (kind, self.phase.point()) {
            (BetKind::PassOdds, Some(p)) => {
                multiple(line(BetKind::PassLine, "pass line")?, odds.take_for(p))
            }
            (BetKind::DontPassOdds, Some(p)) => lay(line(BetKind::DontPass, "don't pass")?, p),
            (BetKind::DontPassOdds, None) => multiple(line(BetKind::DontPass, "don't pass")?, 0),
            (BetKind::ComeOdds { point }, _) => multiple(
                line(BetKind::Come { point: Some(point) }, "come")?,
                odds.take_for(point),
            ),
            (BetKind::DontComeOdds { point }, _) => lay(
                line(BetKind::DontCome { point: Some(point) }, "don't come")?,
                point,
            ),
            _ => self.rules.max_bet,
        })
    }

    /// Places (or adds to) a bet after [`Table::check_bet`].
    pub fn place_bet(
        &mut self,
        player: &PlayerId,
        kind: BetKind,
        stake: u64,
    ) -> Result<(), TableError> {
        let needed = self.check_bet(player, kind, stake)?;
        let commission = needed - stake;
        self.seat_mut(player)?.balance -= needed;
        self.bankroll = self
            .bankroll
            .checked_add(commission)
            .ok_or(TableError::Overflow)?;
        *self.bets.entry((*player, kind)).or_insert(0) += stake;
        Ok(())
    }

    /// Calls a player's place or buy bet working (or off again) on the
    /// come-out; with a point on, every such bet works anyway.
    pub fn set_working(
        &mut self,
        player: &PlayerId,
        kind: BetKind,
        working: bool,
    ) -> Result<(), TableError> {
        if !matches!(kind, BetKind::Place(_) | BetKind::Buy(_)) {
            return Err(TableError::NotWorkable(kind.name()));
        }
        if !self.bets.contains_key(&(*player, kind)) {
            return Err(TableError::NoSuchBet(kind.name()));
        }
        match (self.working.binary_search(&(*player, kind)), working) {
            (Err(at), true) => self.working.insert(at, (*player, kind)),
            (Ok(at), false) => {
                self.working.remove(at);
            }
            _ => {}
        }
        Ok(())
    }

    /// A bet's working call goes with it.
    fn forget_working(&mut self, key: &(PlayerId, BetKind)) {
        if let Ok(at) = self.working.binary_search(key) {
            self.working.remove(at);
        }
    }

    /// Whether a player called this bet working on the come-out.
    pub fn is_working(&self, player: &PlayerId, kind: BetKind) -> bool {
        self.working.binary_search(&(*player, kind)).is_ok()
    }

    /// The phase a bet acts in on the next roll: the table's, except that
    /// a place or buy bet called working acts on the come-out as it does
    /// with a point on (which point does not change its outcome).
    pub(crate) fn acting_phase(&self, player: &PlayerId, kind: BetKind) -> Phase {
        if self.phase == Phase::ComeOut && self.is_working(player, kind) {
            Phase::Point(4)
        } else {
            self.phase
        }
    }

    /// Takes a bet down and returns its stake to the balance.
    pub fn take_down(&mut self, player: &PlayerId, kind: BetKind) -> Result<u64, TableError> {
        if !self.bets.contains_key(&(*player, kind)) {
            return Err(TableError::NoSuchBet(kind.name()));
        }
        if !kind.is_removable() {
            return Err(TableError::NotRemovable(kind.name()));
        }
        self.seat_mut(player)?;
        let stake = self.bets.remove(&(*player, kind)).unwrap_or(0);
        self.forget_working(&(*player, kind));
        let seat = self.seat_mut(player)?;
        seat.balance = seat
            .balance
            .checked_add(stake)
            .ok_or(TableError::Overflow)?;
        Ok(stake)
    }

    /// (Tests only) `chips` appear in `player`'s balance from nowhere, as
    /// a bug or a flipped bit would put them there.
    #[cfg(feature = "test-faults")]
    #[doc(hidden)]
    pub fn inject_chips(&mut self, player: &PlayerId, chips: u64) {
        if let Ok(seat) = self.seat_mut(player) {
            seat.balance = seat.balance.saturating_add(chips);
        }
    }

    /// A player leaves with its balance and every bet that may come down
    /// (taken down first, its stake back); a contract bet (pass, come)
    /// keeps it at the table until the dice decide it, and nothing changes.
    pub fn leave(&mut self, player: &PlayerId) -> Result<u64, TableError> {
        let mine: Vec<BetKind> = self
            .bets
            .keys()
            .filter(|(p, _)| p == player)
            .map(|(_, kind)| *kind)
            .collect();
        if let Some(contract) = mine.iter().find(|k| !k.is_removable()) {
            return Err(TableError::ContractBetOn(contract.name()));
        }
        self.seat_mut(player)?;
        for kind in mine {
            self.take_down(player, kind)?;
        }
        self.remove_seat(player)
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

    fn remove_seat(&mut self, player: &PlayerId) -> Result<u64, TableError> {
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

    fn next_seat_after(&self, index: usize) -> Option<PlayerId> {
        if self.seats.len() <= 1 {
            return None;
        }
        Some(self.seats[(index + 1) % self.seats.len()].player)
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

    /// Canonical bytes of the whole state, for hashing: every peer with the
    /// same state produces the same bytes.
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.rules.encode(out);
        out.push(self.phase.to_byte());
        out.extend_from_slice(&self.banker);
        out.extend_from_slice(&self.bankroll.to_be_bytes());
        out.extend_from_slice(&self.bought_in.to_be_bytes());
        out.extend_from_slice(&(self.seats.len() as u32).to_be_bytes());
        for seat in &self.seats {
            out.extend_from_slice(&seat.player);
            out.extend_from_slice(&seat.balance.to_be_bytes());
        }
        out.extend_from_slice(self.shooter.as_ref().unwrap_or(&[0; 32]));
        out.extend_from_slice(&(self.bets.len() as u32).to_be_bytes());
        for ((player, kind), stake) in &self.bets {
            out.extend_from_slice(player);
            out.extend_from_slice(&kind.code());
            out.extend_from_slice(&stake.to_be_bytes());
        }
        out.extend_from_slice(&(self.departed.len() as u32).to_be_bytes());
        for (player, balance) in &self.departed {
            out.extend_from_slice(player);
            out.extend_from_slice(&balance.to_be_bytes());
        }
        out.extend_from_slice(&(self.working.len() as u32).to_be_bytes());
        for (player, kind) in &self.working {
            out.extend_from_slice(player);
            out.extend_from_slice(&kind.code());
        }
    }

    /// The table [`Table::encode`] wrote, if the bytes are one: canonical
    /// (seats in key order, each once; the shooter seated; every bet a
    /// real one on a player's name, with chips on it), so a decoded
    /// table encodes to the same bytes and hashes the same.
    pub fn decode(bytes: &[u8]) -> Option<Table> {
        let mut r = Reader::new(bytes);
        let rules = TableRules::decode(r.take(TableRules::ENCODED_LEN).ok()?)?;
        let phase = Phase::from_byte(r.u8().ok()?)?;
        let banker: PlayerId = r.array().ok()?;
        let bankroll = r.u64().ok()?;
        let bought_in = r.u64().ok()?;
        let mut seats: Vec<Seat> = Vec::new();
        for _ in 0..r.count(40).ok()? {
            let player: PlayerId = r.array().ok()?;
            let balance = r.u64().ok()?;
            let in_order = seats.last().is_none_or(|last| last.player < player);
            if !in_order || player == banker {
                return None;
            }
            seats.push(Seat { player, balance });
        }
        let shooter: PlayerId = r.array().ok()?;
        let shooter = (shooter != [0; 32]).then_some(shooter);
        let seated = |p: &PlayerId| seats.binary_search_by(|s| s.player.cmp(p)).is_ok();
        if shooter.is_some_and(|s| !seated(&s)) {
            return None;
        }
        let mut bets = BTreeMap::new();
        let mut last = None;
        for _ in 0..r.count(43).ok()? {
            let player: PlayerId = r.array().ok()?;
            let kind = BetKind::from_code(r.array().ok()?)?;
            let stake = r.u64().ok()?;
            let key = (player, kind);
            if stake == 0 || last.is_some_and(|l| l >= key) {
                return None;
            }
            last = Some(key);
            bets.insert(key, stake);
        }
        let mut departed = BTreeMap::new();
        let mut last = None;
        for _ in 0..r.count(40).ok()? {
            let player: PlayerId = r.array().ok()?;
            if last.is_some_and(|l| l >= player) {
                return None;
            }
            last = Some(player);
            departed.insert(player, r.u64().ok()?);
        }
        let mut working = Vec::new();
        let mut last = None;
        for _ in 0..r.count(35).ok()? {
            let player: PlayerId = r.array().ok()?;
            let kind = BetKind::from_code(r.array().ok()?)?;
            let key = (player, kind);
            let workable = matches!(kind, BetKind::Place(_) | BetKind::Buy(_));
            if !workable || !bets.contains_key(&key) || last.is_some_and(|l| l >= key) {
                return None;
            }
            last = Some(key);
            working.push(key);
        }
        if !r.is_empty() {
            return None;
        }
        Some(Table {
            rules,
            phase,
            banker,
            bankroll,
            seats,
            shooter,
            bets,
            working,
            departed,
            bought_in,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
