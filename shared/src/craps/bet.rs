//! Every standard craps bet: what it pays and what one roll does to it.
//!
//! [`resolve`] is the single source of truth for the rules of a bet. The
//! table settles real chips with it, and [`crate::craps::edge`] derives each
//! bet's exact house edge from it, so the published figures test the rules.

use std::collections::HashMap;
use std::sync::{LazyLock, RwLock};

use crate::craps::phase::{is_point_number, Phase};
use crate::craps::rules::{CommissionTiming, TableRules};
use crate::dice::Roll;
use crate::ratio::Ratio;

/// Stake units already derived, by bet and rules.
static STAKE_UNITS: LazyLock<RwLock<HashMap<(BetKind, TableRules), u64>>> =
    LazyLock::new(Default::default);
/// Entries the stake-unit cache holds at most (every bet under ~60 rule sets).
const MAX_STAKE_UNITS: usize = 4_096;

/// A kind of bet. Numbered bets carry their number; come and don't come
/// bets carry the point they travelled to (`None` until they have one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BetKind {
    /// Pass line: wins on a come-out 7/11 or when the point is made.
    PassLine,
    /// Don't pass: wins on a come-out 2/3 (12 pushes) or a seven-out.
    DontPass,
    /// Come: a pass line bet of its own, placed while a point is on.
    Come {
        /// The number it travelled to, once it has one.
        point: Option<u8>,
    },
    /// Don't come: a don't pass bet of its own, placed while a point is on.
    DontCome {
        /// The number it travelled to, once it has one.
        point: Option<u8>,
    },
    /// Free odds behind the pass line (true odds, no edge).
    PassOdds,
    /// Lay odds behind don't pass.
    DontPassOdds,
    /// Free odds behind a come bet on `point`.
    ComeOdds {
        /// The come bet's number.
        point: u8,
    },
    /// Lay odds behind a don't come bet on `point`.
    DontComeOdds {
        /// The don't come bet's number.
        point: u8,
    },
    /// Place bet: the number before a 7 (9:5 on 4/10, 7:5 on 5/9, 7:6 on 6/8).
    Place(u8),
    /// Buy bet: like place, but true odds minus a commission.
    Buy(u8),
    /// Lay bet: a 7 before the number, true odds minus a commission.
    Lay(u8),
    /// Field: one roll; 3, 4, 9, 10, 11 pay 1:1, 2 pays 2:1, 12 pays 2:1 or 3:1.
    Field,
    /// Big 6: a 6 before a 7, even money.
    Big6,
    /// Big 8: an 8 before a 7, even money.
    Big8,
    /// Hardway 4, 6, 8 or 10: the number as a pair before a 7 or the easy way.
    Hard(u8),
    /// Any seven, one roll, 4:1.
    AnySeven,
    /// Any craps (2, 3, 12), one roll, 7:1.
    AnyCraps,
    /// Two ("aces"), one roll, 30:1.
    Aces,
    /// Three ("ace-deuce"), one roll, 15:1.
    AceDeuce,
    /// Eleven ("yo"), one roll, 15:1.
    Yo,
    /// Twelve ("boxcars"), one roll, 30:1.
    Boxcars,
    /// Horn: 2, 3, 11, 12 in four equal parts (stake a multiple of 4).
    Horn,
    /// Craps & eleven: half any craps, half yo (stake a multiple of 2).
    CAndE,
    /// Hop: the exact dice next roll (`low <= high`); hard hops 30:1, easy 15:1.
    Hop(u8, u8),
}

/// What one roll does to one bet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The bet wins `profit` per chip staked (after any commission on the
    /// win). `stays`: the stake keeps working (place, buy, lay, hardways,
    /// big 6/8); otherwise it is returned with the win.
    Win {
        /// Net win per chip of stake.
        profit: Ratio,
        /// Whether the stake stays on the table.
        stays: bool,
    },
    /// The stake goes to the banker.
    Lose,
    /// The stake is returned, no win.
    Push,
    /// Nothing happens to this bet.
    NoAction,
    /// A come / don't come bet travels to its number (or its odds follow it).
    Travel(BetKind),
}

fn r(num: i128, den: i128) -> Ratio {
    // Only called with constant non-zero denominators.
    Ratio::new(num, den).unwrap_or(Ratio::ZERO)
}

/// True odds of a number against a 7, as a payout: 2:1, 3:2 or 6:5.
fn true_odds(number: u8) -> Ratio {
    match number {
        4 | 10 => r(2, 1),
        5 | 9 => r(3, 2),
        _ => r(6, 5),
    }
}

/// True odds of a 7 against a number, as a lay payout: 1:2, 2:3 or 5:6.
pub(crate) fn lay_odds(number: u8) -> Ratio {
    match number {
        4 | 10 => r(1, 2),
        5 | 9 => r(2, 3),
        _ => r(5, 6),
    }
}

fn place_odds(number: u8) -> Ratio {
    match number {
        4 | 10 => r(9, 5),
        5 | 9 => r(7, 5),
        _ => r(7, 6),
    }
}

impl BetKind {
    /// Whether this kind, as written, is a bet that exists (numbers in
    /// range). It does not check the table state.
    pub fn is_well_formed(self) -> bool {
        match self {
            BetKind::Come { point } | BetKind::DontCome { point } => {
                point.is_none_or(is_point_number)
            }
            BetKind::ComeOdds { point } | BetKind::DontComeOdds { point } => is_point_number(point),
            BetKind::Place(n) | BetKind::Buy(n) | BetKind::Lay(n) => is_point_number(n),
            BetKind::Hard(n) => matches!(n, 4 | 6 | 8 | 10),
            BetKind::Hop(a, b) => (1..=6).contains(&a) && (1..=6).contains(&b) && a <= b,
            _ => true,
        }
    }

    /// The bet's three wire bytes: `code a b` (see `crate::message`).
    pub fn code(self) -> [u8; 3] {
        let p = |x: Option<u8>| x.unwrap_or(0);
        match self {
            BetKind::PassLine => [1, 0, 0],
            BetKind::DontPass => [2, 0, 0],
            BetKind::Come { point } => [3, p(point), 0],
            BetKind::DontCome { point } => [4, p(point), 0],
            BetKind::PassOdds => [5, 0, 0],
            BetKind::DontPassOdds => [6, 0, 0],
            BetKind::ComeOdds { point } => [7, point, 0],
            BetKind::DontComeOdds { point } => [8, point, 0],
            BetKind::Place(n) => [9, n, 0],
            BetKind::Buy(n) => [10, n, 0],
            BetKind::Lay(n) => [11, n, 0],
            BetKind::Field => [12, 0, 0],
            BetKind::Big6 => [13, 0, 0],
            BetKind::Big8 => [14, 0, 0],
            BetKind::Hard(n) => [15, n, 0],
            BetKind::AnySeven => [16, 0, 0],
            BetKind::AnyCraps => [17, 0, 0],
            BetKind::Aces => [18, 0, 0],
            BetKind::AceDeuce => [19, 0, 0],
            BetKind::Yo => [20, 0, 0],
            BetKind::Boxcars => [21, 0, 0],
            BetKind::Horn => [22, 0, 0],
            BetKind::CAndE => [23, 0, 0],
            BetKind::Hop(a, b) => [24, a, b],
        }
    }

    /// The bet three wire bytes name, if they name one.
    pub fn from_code([code, a, b]: [u8; 3]) -> Option<BetKind> {
        let opt = |x: u8| (x != 0).then_some(x);
        let kind = match code {
            1 => BetKind::PassLine,
            2 => BetKind::DontPass,
            3 => BetKind::Come { point: opt(a) },
            4 => BetKind::DontCome { point: opt(a) },
            5 => BetKind::PassOdds,
            6 => BetKind::DontPassOdds,
            7 => BetKind::ComeOdds { point: a },
            8 => BetKind::DontComeOdds { point: a },
            9 => BetKind::Place(a),
            10 => BetKind::Buy(a),
            11 => BetKind::Lay(a),
            12 => BetKind::Field,
            13 => BetKind::Big6,
            14 => BetKind::Big8,
            15 => BetKind::Hard(a),
            16 => BetKind::AnySeven,
            17 => BetKind::AnyCraps,
            18 => BetKind::Aces,
            19 => BetKind::AceDeuce,
            20 => BetKind::Yo,
            21 => BetKind::Boxcars,
            22 => BetKind::Horn,
            23 => BetKind::CAndE,
            24 => BetKind::Hop(a, b),
            _ => return None,
        };
        (kind.code() == [code, a, b] && kind.is_well_formed()).then_some(kind)
    }

    /// The best win per chip of stake this bet can have (after any
    /// commission on the win): what a defaulting banker pays on it.
    pub fn max_profit(self, rules: &TableRules) -> Ratio {
        // Derived, not restated: the best win `resolve` gives this bet in
        // any phase on any roll.
        let phases = [Phase::ComeOut]
            .into_iter()
            .chain([4, 5, 6, 8, 9, 10].map(Phase::Point));
        phases
            .flat_map(|phase| Roll::all().map(move |roll| (phase, roll)))
            .filter_map(|(phase, roll)| match resolve(self, phase, roll, rules) {
                Outcome::Win { profit, .. } => Some(profit),
                _ => None,
            })
            .max()
            .unwrap_or(Ratio::ZERO)
    }

    /// Whether a player may take this bet down before a roll. Pass line and
    /// come bets are contract bets: once down, they stay until decided.
    pub fn is_removable(self) -> bool {
        !matches!(self, BetKind::PassLine | BetKind::Come { .. })
    }

    /// Commission paid when the bet is placed, per chip of stake (zero
    /// unless this is a buy or lay bet on an up-front table).
    pub fn upfront_commission(self, rules: &TableRules) -> Ratio {
        let pct = r(i128::from(rules.commission.percent), 100);
        match (self, rules.commission.timing) {
            (BetKind::Buy(_), CommissionTiming::UpFront) => pct,
            (BetKind::Lay(n), CommissionTiming::UpFront) => {
                lay_odds(n).checked_mul(pct).unwrap_or(Ratio::ZERO)
            }
            _ => Ratio::ZERO,
        }
    }

    /// The stake unit of this bet with `point` on: odds behind the pass
    /// line or don't pass pay by the point (a 5-chip line on 4 may take 15
    /// in odds), so theirs is that of the same odds behind a come bet on
    /// that number; every other bet's is [`BetKind::stake_unit`].
    pub fn stake_unit_on(self, point: Option<u8>, rules: &TableRules) -> u64 {
        match (self, point) {
            (BetKind::PassOdds, Some(point)) => BetKind::ComeOdds { point }.stake_unit(rules),
            (BetKind::DontPassOdds, Some(point)) => {
                BetKind::DontComeOdds { point }.stake_unit(rules)
            }
            _ => self.stake_unit(rules),
        }
    }

    /// The smallest stake unit for which every payout and commission of this
    /// bet is a whole number of chips in any phase: stakes must be
    /// multiples of it (see also [`BetKind::stake_unit_on`]).
    ///
    /// Deriving it walks every roll in every phase (2-33 µs); every bet
    /// check needs it, so it is derived once per bet and rules and kept.
    pub fn stake_unit(self, rules: &TableRules) -> u64 {
        let key = (self, *rules);
        if let Some(unit) = STAKE_UNITS.read().ok().and_then(|m| m.get(&key).copied()) {
            return unit;
        }
        let unit = self.derive_stake_unit(rules);
        if let Ok(mut units) = STAKE_UNITS.write() {
            // Rules come from the network: a flood of tables with odd rules
            // must not grow the cache without end.
            if units.len() < MAX_STAKE_UNITS {
                units.insert(key, unit);
            }
        }
        unit
    }

    /// [`stake_unit`](Self::stake_unit), derived from the payouts.
    pub fn derive_stake_unit(self, rules: &TableRules) -> u64 {
        let mut unit: i128 = match self {
            BetKind::Horn => 4,
            BetKind::CAndE => 2,
            _ => 1,
        };
        let mut need = |x: Ratio| {
            let d = x.checked_mul(Ratio::int(unit)).map_or(1, Ratio::denom);
            unit *= d;
        };
        need(self.upfront_commission(rules));
        for roll in Roll::all() {
            for phase in [
                Phase::ComeOut,
                Phase::Point(4),
                Phase::Point(5),
                Phase::Point(6),
            ] {
                if let Outcome::Win { profit, .. } = resolve(self, phase, roll, rules) {
                    need(profit);
                }
            }
            for phase in [Phase::Point(8), Phase::Point(9), Phase::Point(10)] {
                if let Outcome::Win { profit, .. } = resolve(self, phase, roll, rules) {
                    need(profit);
                }
            }
        }
        u64::try_from(unit).unwrap_or(u64::MAX)
    }

    /// A short stable name, e.g. `place-6`, `hop-2-5`, `come-odds-8`.
    pub fn name(self) -> String {
        match self {
            BetKind::PassLine => "pass".into(),
            BetKind::DontPass => "dont-pass".into(),
            BetKind::Come { point: None } => "come".into(),
            BetKind::Come { point: Some(p) } => format!("come-{p}"),
            BetKind::DontCome { point: None } => "dont-come".into(),
            BetKind::DontCome { point: Some(p) } => format!("dont-come-{p}"),
            BetKind::PassOdds => "pass-odds".into(),
            BetKind::DontPassOdds => "dont-pass-odds".into(),
            BetKind::ComeOdds { point } => format!("come-odds-{point}"),
            BetKind::DontComeOdds { point } => format!("dont-come-odds-{point}"),
            BetKind::Place(n) => format!("place-{n}"),
            BetKind::Buy(n) => format!("buy-{n}"),
            BetKind::Lay(n) => format!("lay-{n}"),
            BetKind::Field => "field".into(),
            BetKind::Big6 => "big-6".into(),
            BetKind::Big8 => "big-8".into(),
            BetKind::Hard(n) => format!("hard-{n}"),
            BetKind::AnySeven => "any-seven".into(),
            BetKind::AnyCraps => "any-craps".into(),
            BetKind::Aces => "aces".into(),
            BetKind::AceDeuce => "ace-deuce".into(),
            BetKind::Yo => "yo".into(),
            BetKind::Boxcars => "boxcars".into(),
            BetKind::Horn => "horn".into(),
            BetKind::CAndE => "c-and-e".into(),
            BetKind::Hop(a, b) => format!("hop-{a}-{b}"),
        }
    }

    /// Parses a name written by [`BetKind::name`].
    pub fn from_name(name: &str) -> Option<BetKind> {
        let num = |s: &str| s.parse::<u8>().ok();
        let kind = match name {
            "pass" => BetKind::PassLine,
            "dont-pass" => BetKind::DontPass,
            "come" => BetKind::Come { point: None },
            "dont-come" => BetKind::DontCome { point: None },
            "pass-odds" => BetKind::PassOdds,
            "dont-pass-odds" => BetKind::DontPassOdds,
            "field" => BetKind::Field,
            "big-6" => BetKind::Big6,
            "big-8" => BetKind::Big8,
            "any-seven" => BetKind::AnySeven,
            "any-craps" => BetKind::AnyCraps,
            "aces" => BetKind::Aces,
            "ace-deuce" => BetKind::AceDeuce,
            "yo" => BetKind::Yo,
            "boxcars" => BetKind::Boxcars,
            "horn" => BetKind::Horn,
            "c-and-e" => BetKind::CAndE,
            _ => {
                if let Some(rest) = name.strip_prefix("hop-") {
                    let (a, b) = rest.split_once('-')?;
                    BetKind::Hop(num(a)?, num(b)?)
                } else if let Some(p) = name.strip_prefix("dont-come-odds-") {
                    BetKind::DontComeOdds { point: num(p)? }
                } else if let Some(p) = name.strip_prefix("come-odds-") {
                    BetKind::ComeOdds { point: num(p)? }
                } else if let Some(p) = name.strip_prefix("dont-come-") {
                    BetKind::DontCome {
                        point: Some(num(p)?),
                    }
                } else if let Some(p) = name.strip_prefix("come-") {
                    BetKind::Come {
                        point: Some(num(p)?),
                    }
                } else if let Some(n) = name.strip_prefix("place-") {
                    BetKind::Place(num(n)?)
                } else if let Some(n) = name.strip_prefix("buy-") {
                    BetKind::Buy(num(n)?)
                } else if let Some(n) = name.strip_prefix("lay-") {
                    BetKind::Lay(num(n)?)
                } else if let Some(n) = name.strip_prefix("hard-") {
                    BetKind::Hard(num(n)?)
                } else {
                    return None;
                }
            }
        };
        kind.is_well_formed().then_some(kind)
    }
}

fn win(profit: Ratio) -> Outcome {
    Outcome::Win {
        profit,
        stays: false,
    }
}

fn win_stays(profit: Ratio) -> Outcome {
    Outcome::Win {
        profit,
        stays: true,
    }
}

/// A buy bet's win: true odds, less the commission on the stake when the
/// table takes it from the win.
fn buy_profit(number: u8, rules: &TableRules) -> Ratio {
    let odds = true_odds(number);
    if rules.commission.timing == CommissionTiming::UpFront {
        return odds;
    }
    let pct = r(i128::from(rules.commission.percent), 100);
    odds.checked_sub(pct).unwrap_or(Ratio::ZERO)
}

/// A lay bet's win: true odds, less the commission on the win when the
/// table takes it from the win.
fn lay_profit(number: u8, rules: &TableRules) -> Ratio {
    let odds = lay_odds(number);
    if rules.commission.timing == CommissionTiming::UpFront {
        return odds;
    }
    let keep = r(100 - i128::from(rules.commission.percent.min(100)), 100);
    odds.checked_mul(keep).unwrap_or(Ratio::ZERO)
}

/// A number-vs-seven bet: wins on `number`, loses on 7, else nothing.
fn number_before_seven(total: u8, number: u8, profit: Ratio, stays: bool) -> Outcome {
    if total == number {
        Outcome::Win { profit, stays }
    } else if total == 7 {
        Outcome::Lose
    } else {
        Outcome::NoAction
    }
}

/// A seven-vs-number bet: wins on 7, loses on `number`, else nothing.
fn seven_before_number(total: u8, number: u8, profit: Ratio, stays: bool) -> Outcome {
    if total == 7 {
        Outcome::Win { profit, stays }
    } else if total == number {
        Outcome::Lose
    } else {
        Outcome::NoAction
    }
}

/// What `roll`, thrown in `phase`, does to a bet of `kind`.
///
/// Place, buy, hardway and come-odds bets are off on the come-out roll
/// (the usual default); lay bets and don't-come odds always work, as most
/// casinos play them; everything else always works.
pub fn resolve(kind: BetKind, phase: Phase, roll: Roll, rules: &TableRules) -> Outcome {
    let total = roll.total();
    let come_out = phase == Phase::ComeOut;
    match kind {
        BetKind::PassLine => match phase {
            Phase::ComeOut => match total {
                7 | 11 => win(Ratio::ONE),
                2 | 3 | 12 => Outcome::Lose,
                _ => Outcome::NoAction,
            },
            Phase::Point(p) => number_before_seven(total, p, Ratio::ONE, false),
        },
        BetKind::DontPass => match phase {
            Phase::ComeOut => match total {
                2 | 3 => win(Ratio::ONE),
                12 => Outcome::Push,
                7 | 11 => Outcome::Lose,
                _ => Outcome::NoAction,
            },
            Phase::Point(p) => seven_before_number(total, p, Ratio::ONE, false),
        },
        BetKind::Come { point: None } => match total {
            7 | 11 => win(Ratio::ONE),
            2 | 3 | 12 => Outcome::Lose,
            n => Outcome::Travel(BetKind::Come { point: Some(n) }),
        },
        BetKind::Come { point: Some(p) } => number_before_seven(total, p, Ratio::ONE, false),
        BetKind::DontCome { point: None } => match total {
            2 | 3 => win(Ratio::ONE),
            12 => Outcome::Push,
            7 | 11 => Outcome::Lose,
            n => Outcome::Travel(BetKind::DontCome { point: Some(n) }),
        },
        BetKind::DontCome { point: Some(p) } => seven_before_number(total, p, Ratio::ONE, false),
        BetKind::PassOdds => match phase {
            // Odds only exist while a point is on; should one be left on a
            // come-out it is returned.
            Phase::ComeOut => Outcome::Push,
            Phase::Point(p) => number_before_seven(total, p, true_odds(p), false),
        },
        BetKind::DontPassOdds => match phase {
            Phase::ComeOut => Outcome::Push,
            Phase::Point(p) => seven_before_number(total, p, lay_odds(p), false),
        },
        BetKind::ComeOdds { point } => {
            let outcome = number_before_seven(total, point, true_odds(point), false);
            // Off on the come-out: returned when its come bet is decided.
            if come_out && outcome != Outcome::NoAction {
                Outcome::Push
            } else {
                outcome
            }
        }
        // Working on the come-out too, as most casinos play them.
        BetKind::DontComeOdds { point } => {
            seven_before_number(total, point, lay_odds(point), false)
        }
        BetKind::Place(n) if !come_out => number_before_seven(total, n, place_odds(n), true),
        BetKind::Buy(n) if !come_out => number_before_seven(total, n, buy_profit(n, rules), true),
        BetKind::Lay(n) => seven_before_number(total, n, lay_profit(n, rules), true),
        BetKind::Hard(n) if !come_out => {
            if total == n && roll.is_hard() {
                let pays = if matches!(n, 4 | 10) { 7 } else { 9 };
                win_stays(Ratio::int(pays))
            } else if total == 7 || total == n {
                Outcome::Lose
            } else {
                Outcome::NoAction
            }
        }
        BetKind::Place(_) | BetKind::Buy(_) | BetKind::Hard(_) => Outcome::NoAction,
        BetKind::Field => match total {
            3 | 4 | 9 | 10 | 11 => win(Ratio::ONE),
            2 => win(Ratio::int(2)),
            12 => win(Ratio::int(i128::from(rules.field_pays_on_12))),
            _ => Outcome::Lose,
        },
        BetKind::Big6 => number_before_seven(total, 6, Ratio::ONE, true),
        BetKind::Big8 => number_before_seven(total, 8, Ratio::ONE, true),
        BetKind::AnySeven => one_roll(total == 7, Ratio::int(4)),
        BetKind::AnyCraps => one_roll(matches!(total, 2 | 3 | 12), Ratio::int(7)),
        BetKind::Aces => one_roll(total == 2, Ratio::int(30)),
        BetKind::AceDeuce => one_roll(total == 3, Ratio::int(15)),
        BetKind::Yo => one_roll(total == 11, Ratio::int(15)),
        BetKind::Boxcars => one_roll(total == 12, Ratio::int(30)),
        // One quarter on each number: the winning quarter is paid, the
        // other three quarters lose.
        BetKind::Horn => match total {
            2 | 12 => win(r(30 - 3, 4)),
            3 | 11 => win(r(15 - 3, 4)),
            _ => Outcome::Lose,
        },
        // Half on any craps (7:1), half on eleven (15:1).
        BetKind::CAndE => match total {
            2 | 3 | 12 => win(r(7 - 1, 2)),
            11 => win(r(15 - 1, 2)),
            _ => Outcome::Lose,
        },
        BetKind::Hop(a, b) => {
            let (lo, hi) = (roll.die1().min(roll.die2()), roll.die1().max(roll.die2()));
            let pays = if a == b { 30 } else { 15 };
            one_roll((lo, hi) == (a, b), Ratio::int(pays))
        }
    }
}

fn one_roll(won: bool, profit: Ratio) -> Outcome {
    if won {
        win(profit)
    } else {
        Outcome::Lose
    }
}

#[cfg(test)]
mod tests;
