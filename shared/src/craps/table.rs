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

use crate::craps::bet::{BetKind, Outcome};
use crate::craps::phase::Phase;
use crate::craps::rules::TableRules;
use crate::dice::Roll;
use crate::ratio::Ratio;

/// A player (or the banker), identified by its ed25519 public key.
pub type PlayerId = [u8; 32];

/// Why the table refuses an action.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, strum::IntoStaticStr)]
#[strum(serialize_all = "kebab-case")]
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
    /// The table has taken in all the new players it can for now (see
    /// [`SEAT_EVERY`]): the seat waits for a later roll.
    #[error("no seat is open for a newcomer this roll: the seat waits for a later one")]
    NoSeatOpen,
}

impl TableError {
    /// A stable code for programs (kebab-case: `insufficient-balance`,
    /// `no-seat-open`); the message is for people.
    pub fn code(&self) -> &'static str {
        self.into()
    }
}

/// Rolls' worth of seat credit one new seat costs: past the first
/// [`SEAT_BURST`] at once, the table takes in one new player per this
/// many rolls. A seat whose player never commits costs every honest
/// player one commit timeout; pricing seats bounds how many such timeouts
/// any number of throwaway keys can cause.
pub const SEAT_EVERY: u32 = 4;
/// How many new players a table that has been quiet takes in at once.
pub const SEAT_BURST: u32 = 8;
/// The most seat credit a table holds (a quiet table's).
pub const SEAT_CREDIT_MAX: u32 = SEAT_EVERY * SEAT_BURST;

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
    /// Seat credit, in rolls: every roll adds one (up to
    /// [`SEAT_CREDIT_MAX`]), every new seat a roll takes in costs
    /// [`SEAT_EVERY`].
    seat_credit: u32,
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
            seat_credit: SEAT_CREDIT_MAX,
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
        let checked = self.check(player, Step::Bet { kind, stake })?;
        self.take(checked).map(drop)
    }

    /// Calls a player's place or buy bet working (or off again) on the
    /// come-out; with a point on, every such bet works anyway.
    pub fn set_working(
        &mut self,
        player: &PlayerId,
        kind: BetKind,
        working: bool,
    ) -> Result<(), TableError> {
        let checked = self.check(player, Step::Working { kind, working })?;
        self.take(checked).map(drop)
    }

    /// Whether a player's bet can be called working or off, without
    /// calling it.
    pub fn check_working(&self, player: &PlayerId, kind: BetKind) -> Result<(), TableError> {
        if !matches!(kind, BetKind::Place(_) | BetKind::Buy(_)) {
            return Err(TableError::NotWorkable(kind.name()));
        }
        if !self.bets.contains_key(&(*player, kind)) {
            return Err(TableError::NoSuchBet(kind.name()));
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
        self.acting_phase_if(self.is_working(player, kind))
    }

    /// The phase a place or buy bet acts in on the next roll, called
    /// working or not.
    pub(crate) fn acting_phase_if(&self, working: bool) -> Phase {
        if self.phase == Phase::ComeOut && working {
            Phase::Point(4)
        } else {
            self.phase
        }
    }

    /// Whether a bet can come down, without taking it down: its stake.
    pub fn check_take_down(&self, player: &PlayerId, kind: BetKind) -> Result<u64, TableError> {
        let Some(&stake) = self.bets.get(&(*player, kind)) else {
            return Err(TableError::NoSuchBet(kind.name()));
        };
        if !kind.is_removable() {
            return Err(TableError::NotRemovable(kind.name()));
        }
        let seat = self.seat(player).ok_or(TableError::NotSeated)?;
        seat.balance
            .checked_add(stake)
            .ok_or(TableError::Overflow)?;
        Ok(stake)
    }

    /// Takes a bet down and returns its stake to the balance.
    pub fn take_down(&mut self, player: &PlayerId, kind: BetKind) -> Result<u64, TableError> {
        let checked = self.check(player, Step::TakeDown { kind })?;
        self.take(checked)
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
}

mod checked;
mod encoding;
mod seats;
mod settle;

pub use checked::{Checked, Step};

#[cfg(test)]
mod tests;
