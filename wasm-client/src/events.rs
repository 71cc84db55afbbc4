//! Events for JavaScript, as JSON objects: everything that happens at a
//! table, in words a page can show.

use serde::Serialize;
use shared::craps::{BetResult, Outcome};
use shared::session::{Event, ForfeitReason, RollRecord};

/// Lower-case hex of bytes (ids, hashes).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses lower- or upper-case hex into exactly `N` bytes.
pub fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// One bet's result in a roll.
#[derive(Serialize)]
pub struct ResultJson {
    player: String,
    bet: String,
    stake: u64,
    outcome: &'static str,
    paid: u64,
}

impl From<&BetResult> for ResultJson {
    fn from(r: &BetResult) -> Self {
        Self {
            player: hex(&r.player),
            bet: r.kind.name(),
            stake: r.stake,
            outcome: match r.outcome {
                Outcome::Win { stays: true, .. } => "win-stays",
                Outcome::Win { .. } => "win",
                Outcome::Lose => "lose",
                Outcome::Push => "push",
                Outcome::NoAction => "none",
                Outcome::Travel(_) => "travel",
            },
            paid: r.paid,
        }
    }
}

/// A roll, with everything the verify panel needs.
#[derive(Serialize)]
pub struct RollJson {
    round: u64,
    dice: [u8; 2],
    total: u8,
    point_before: u8,
    point_after: u8,
    seven_out: bool,
    commits: Vec<(String, String)>,
    reveals: Vec<(String, String)>,
    forfeited: Vec<(String, &'static str)>,
    table_hash: String,
    state_hash: String,
    results: Vec<ResultJson>,
}

fn reason(r: ForfeitReason) -> &'static str {
    match r {
        ForfeitReason::NoCommit => "no-commit",
        ForfeitReason::NoReveal => "no-reveal",
        ForfeitReason::WrongReveal => "wrong-reveal",
    }
}

impl From<&RollRecord> for RollJson {
    fn from(r: &RollRecord) -> Self {
        Self {
            round: r.round,
            dice: [r.roll.die1(), r.roll.die2()],
            total: r.roll.total(),
            point_before: r.settlement.phase_before.to_byte(),
            point_after: r.settlement.phase_after.to_byte(),
            seven_out: r.settlement.seven_out,
            commits: r.commits.iter().map(|(p, c)| (hex(p), hex(c))).collect(),
            reveals: r.reveals.iter().map(|(p, s)| (hex(p), hex(s))).collect(),
            forfeited: r
                .forfeited
                .iter()
                .map(|(p, why)| (hex(p), reason(*why)))
                .collect(),
            table_hash: hex(&r.table_hash),
            state_hash: hex(&r.state_hash),
            results: r.settlement.results.iter().map(ResultJson::from).collect(),
        }
    }
}

/// An event as JSON, tagged by `type`.
pub fn event_json(table: &str, event: &Event) -> serde_json::Value {
    use serde_json::json;
    match event {
        Event::Sat { player, buy_in } => {
            json!({"type": "sat", "table": table, "player": hex(player), "buyIn": buy_in})
        }
        Event::BoughtIn { player, amount } => {
            json!({"type": "boughtIn", "table": table, "player": hex(player), "amount": amount})
        }
        Event::BetPlaced {
            player,
            kind,
            stake,
        } => {
            json!({"type": "bet", "table": table, "player": hex(player), "bet": kind.name(), "stake": stake})
        }
        Event::BetTakenDown {
            player,
            kind,
            stake,
        } => {
            json!({"type": "takenDown", "table": table, "player": hex(player), "bet": kind.name(), "stake": stake})
        }
        Event::Left { player, balance } => {
            json!({"type": "left", "table": table, "player": hex(player), "balance": balance})
        }
        Event::BettingClosed { round, .. } => {
            json!({"type": "bettingClosed", "table": table, "round": round})
        }
        Event::Committed { player } => {
            json!({"type": "committed", "table": table, "player": hex(player)})
        }
        Event::Revealed { player } => {
            json!({"type": "revealed", "table": table, "player": hex(player)})
        }
        Event::Forfeited {
            player,
            reason: why,
        } => {
            json!({"type": "forfeited", "table": table, "player": hex(player), "reason": reason(*why)})
        }
        Event::Rolled(record) => {
            json!({"type": "rolled", "table": table, "roll": RollJson::from(&**record)})
        }
        Event::RoundAborted { round } => {
            json!({"type": "roundAborted", "table": table, "round": round})
        }
        Event::TableClosed { paid } => json!({
            "type": "tableClosed", "table": table,
            "paid": paid.iter().map(ResultJson::from).collect::<Vec<_>>()
        }),
        Event::Rejected { sender, error } => {
            json!({"type": "rejected", "table": table, "player": hex(sender), "reason": error.to_string()})
        }
    }
}
