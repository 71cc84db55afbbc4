//! Table rules: what a table lets its players do, fixed when it is created.

use crate::decode::Reader;

/// Maximum odds behind a line bet, as multiples of the line bet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OddsLimit {
    /// Maximum take odds when the point is 4 or 10.
    pub on_4_10: u8,
    /// Maximum take odds when the point is 5 or 9.
    pub on_5_9: u8,
    /// Maximum take odds when the point is 6 or 8.
    pub on_6_8: u8,
    /// The most lay odds behind don't pass / don't come may win, as a
    /// multiple of the line bet (6: lay up to 12x on 4 and 10, 9x on 5
    /// and 9, 7.2x on 6 and 8).
    pub lay: u8,
}

impl OddsLimit {
    /// The common "3-4-5x" table: the odds win at most 6x the line bet on
    /// every number, on either side.
    pub const THREE_FOUR_FIVE: OddsLimit = OddsLimit {
        on_4_10: 3,
        on_5_9: 4,
        on_6_8: 5,
        lay: 6,
    };

    /// Maximum take-odds multiple for a point number.
    pub fn take_for(self, point: u8) -> u8 {
        match point {
            4 | 10 => self.on_4_10,
            5 | 9 => self.on_5_9,
            _ => self.on_6_8,
        }
    }
}

/// When the commission ("vig") on buy and lay bets is charged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommissionTiming {
    /// Taken out of the win, only when the bet wins (the common modern rule).
    OnWin,
    /// Paid when the bet is placed and never returned.
    UpFront,
}

/// The commission on buy and lay bets: a percentage of the stake on buy
/// bets and of the potential win on lay bets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Commission {
    /// Percent of the base (see [`CommissionTiming`]), e.g. 5.
    pub percent: u8,
    /// When it is charged.
    pub timing: CommissionTiming,
}

/// Everything a table's players agree on before the first roll.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TableRules {
    /// Smallest stake of any bet, in chips.
    pub min_bet: u64,
    /// Largest stake of any single bet, in chips.
    pub max_bet: u64,
    /// Odds limits behind line bets.
    pub odds: OddsLimit,
    /// What the field pays on 12 (the 2 always pays 2:1): 2 or 3.
    pub field_pays_on_12: u8,
    /// Commission on buy and lay bets.
    pub commission: Commission,
}

impl Default for TableRules {
    fn default() -> Self {
        Self {
            min_bet: 1,
            max_bet: 1_000_000,
            odds: OddsLimit::THREE_FOUR_FIVE,
            field_pays_on_12: 2,
            commission: Commission {
                percent: 5,
                timing: CommissionTiming::OnWin,
            },
        }
    }
}

impl TableRules {
    /// How many bytes [`TableRules::encode`] writes.
    pub const ENCODED_LEN: usize = 23;

    /// Parses [`TableRules::encode`]'s 23 bytes; `None` if malformed or
    /// unplayable (min above max, field not 2 or 3, commission over 100%).
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let mut r = Reader::new(bytes);
        let (min_bet, max_bet) = (r.u64().ok()?, r.u64().ok()?);
        let [on_4_10, on_5_9, on_6_8, lay, field_pays_on_12, percent, timing] = r.array().ok()?;
        if !r.is_empty() {
            return None;
        }
        let rules = TableRules {
            min_bet,
            max_bet,
            odds: OddsLimit {
                on_4_10,
                on_5_9,
                on_6_8,
                lay,
            },
            field_pays_on_12,
            commission: Commission {
                percent,
                timing: match timing {
                    0 => CommissionTiming::OnWin,
                    1 => CommissionTiming::UpFront,
                    _ => return None,
                },
            },
        };
        let playable = rules.min_bet >= 1
            && rules.min_bet <= rules.max_bet
            && matches!(rules.field_pays_on_12, 2 | 3)
            && rules.commission.percent <= 100;
        playable.then_some(rules)
    }

    /// Encodes the rules canonically (for hashes and the wire).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.min_bet.to_be_bytes());
        out.extend_from_slice(&self.max_bet.to_be_bytes());
        out.extend_from_slice(&[
            self.odds.on_4_10,
            self.odds.on_5_9,
            self.odds.on_6_8,
            self.odds.lay,
            self.field_pays_on_12,
            self.commission.percent,
            match self.commission.timing {
                CommissionTiming::OnWin => 0,
                CommissionTiming::UpFront => 1,
            },
        ]);
    }
}
