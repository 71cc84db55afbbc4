//! Events for JavaScript, as JSON objects: everything that happens at a
//! table, in words a page can show.

use serde::Serialize;
use shared::craps::{BetResult, Outcome};
use shared::peer::{PeerEvent, SignalKind};
use shared::session::{CloseReason, Event, ForfeitReason, RollRecord};

pub use shared::hex;

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
#[serde(rename_all = "camelCase")]
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
#[serde(rename_all = "camelCase")]
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

/// Every event the page gets, one typed enum serialised once: tagged by
/// `type`, camelCase keys, ids in hex.
#[derive(Serialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum JsEvent {
    /// Who is at the table (after every join).
    Roster { table: String, peers: Vec<String> },
    /// Someone came.
    PeerJoined { table: String, peer: String },
    /// Someone left.
    PeerLeft { table: String, peer: String },
    /// The house announced the table.
    Table {
        table: String,
        banker: String,
        bankroll: u64,
    },
    /// Nobody announced the table: no such table, or it has closed.
    NoTable { table: String },
    /// The house is away.
    HouseGone { table: String },
    /// The house is back.
    HouseBack { table: String },
    /// Another tab with this key took the table over: this page acts no
    /// more there (`unsent` of its moves never went); a reload takes the
    /// table back.
    OpenElsewhere { table: String, unsent: usize },
    /// The relay restarted (everything was joined again).
    RelayRestarted,
    /// The game's history came from another player, checked.
    Synced {
        table: String,
        from: String,
        rolls: usize,
    },
    /// A snapshot was refused; another player is asked.
    SyncRefused {
        table: String,
        from: String,
        reason: String,
    },
    /// The relay refused something.
    RelayError {
        table: String,
        code: u16,
        reason: String,
    },
    /// A chat line (this page's own too).
    Chat {
        table: String,
        from: String,
        text: String,
    },
    /// WebRTC signaling from a peer.
    Signal {
        table: String,
        kind: &'static str,
        from: String,
        data: String,
    },
    /// A player sat down.
    Sat {
        table: String,
        player: String,
        buy_in: u64,
    },
    /// A player bought chips.
    BoughtIn {
        table: String,
        player: String,
        amount: u64,
    },
    /// A bet was placed.
    Bet {
        table: String,
        player: String,
        bet: String,
        stake: u64,
    },
    /// A bet was taken down.
    TakenDown {
        table: String,
        player: String,
        bet: String,
        stake: u64,
    },
    /// A place or buy bet was called working on the come-out, or off.
    Working {
        table: String,
        player: String,
        bet: String,
        working: bool,
    },
    /// A player left.
    Left {
        table: String,
        player: String,
        balance: u64,
    },
    /// Betting closed for a round.
    BettingClosed { table: String, round: u64 },
    /// A participant committed.
    Committed { table: String, player: String },
    /// A participant revealed.
    Revealed { table: String, player: String },
    /// A participant forfeited.
    Forfeited {
        table: String,
        player: String,
        reason: &'static str,
    },
    /// The dice are in.
    Rolled { table: String, roll: RollJson },
    /// A player said the name it goes by.
    Named {
        table: String,
        player: String,
        name: String,
    },
    /// A participant's state after a roll is not this page's (`minority`:
    /// most participants hold another one, so this page takes the game
    /// from them).
    Diverged {
        table: String,
        round: u64,
        player: String,
        theirs: String,
        ours: String,
        minority: bool,
    },
    /// The round was called off.
    RoundAborted {
        table: String,
        round: u64,
        alone: bool,
    },
    /// The table closed: `reason` is `bankerDefaulted` (every bet paid
    /// at its best) or `bankrollExhausted` (no roll, every stake returned).
    TableClosed {
        table: String,
        reason: &'static str,
        paid: Vec<ResultJson>,
    },
    /// Actions of `player` reached this peer after betting closed: they
    /// wait for the next roll.
    HeldOver {
        table: String,
        player: String,
        count: usize,
    },
    /// The shooter did not roll in time: the house passed the dice.
    DicePassed {
        table: String,
        from: String,
        to: String,
    },
    /// A bet the house could no longer cover was taken down and returned.
    BetReturned {
        table: String,
        player: String,
        bet: String,
        stake: u64,
    },
    /// A participant's commitment named another table than the house's:
    /// it sits this roll out (its bets settle with it).
    SatOut { table: String, player: String },
    /// A peer's message was refused.
    Rejected {
        table: String,
        player: String,
        reason: String,
    },
}

impl From<PeerEvent> for JsEvent {
    fn from(event: PeerEvent) -> Self {
        match event {
            PeerEvent::Roster { room, peers } => JsEvent::Roster {
                table: hex(&room),
                peers: peers.iter().map(|p| hex(p)).collect(),
            },
            PeerEvent::PeerJoined { room, peer } => JsEvent::PeerJoined {
                table: hex(&room),
                peer: hex(&peer),
            },
            PeerEvent::PeerLeft { room, peer } => JsEvent::PeerLeft {
                table: hex(&room),
                peer: hex(&peer),
            },
            PeerEvent::TableOpened {
                room,
                banker,
                bankroll,
            } => JsEvent::Table {
                table: hex(&room),
                banker: hex(&banker),
                bankroll,
            },
            PeerEvent::NoTable { room } => JsEvent::NoTable { table: hex(&room) },
            PeerEvent::HouseGone { room } => JsEvent::HouseGone { table: hex(&room) },
            PeerEvent::HouseBack { room } => JsEvent::HouseBack { table: hex(&room) },
            PeerEvent::OpenElsewhere { room, unsent } => JsEvent::OpenElsewhere {
                table: hex(&room),
                unsent,
            },
            PeerEvent::RelayRestarted => JsEvent::RelayRestarted,
            PeerEvent::Synced { room, from, rolls } => JsEvent::Synced {
                table: hex(&room),
                from: hex(&from),
                rolls,
            },
            PeerEvent::SyncRefused { room, from, reason } => JsEvent::SyncRefused {
                table: hex(&room),
                from: hex(&from),
                reason,
            },
            PeerEvent::RelayError { room, code, reason } => JsEvent::RelayError {
                table: hex(&room),
                code,
                reason,
            },
            PeerEvent::Chat { room, from, text } => JsEvent::Chat {
                table: hex(&room),
                from: hex(&from),
                text,
            },
            PeerEvent::Signal {
                room,
                kind,
                from,
                text,
            } => JsEvent::Signal {
                table: hex(&room),
                kind: match kind {
                    SignalKind::Offer => "offer",
                    SignalKind::Answer => "answer",
                    SignalKind::Ice => "ice",
                },
                from: hex(&from),
                data: text,
            },
            PeerEvent::Game { room, event } => game_event(hex(&room), event),
        }
    }
}

fn game_event(table: String, event: Event) -> JsEvent {
    match event {
        Event::Sat { player, buy_in } => JsEvent::Sat {
            table,
            player: hex(&player),
            buy_in,
        },
        Event::BoughtIn { player, amount } => JsEvent::BoughtIn {
            table,
            player: hex(&player),
            amount,
        },
        Event::BetPlaced {
            player,
            kind,
            stake,
        } => JsEvent::Bet {
            table,
            player: hex(&player),
            bet: kind.name(),
            stake,
        },
        Event::WorkingSet {
            player,
            kind,
            working,
        } => JsEvent::Working {
            table,
            player: hex(&player),
            bet: kind.name(),
            working,
        },
        Event::BetTakenDown {
            player,
            kind,
            stake,
        } => JsEvent::TakenDown {
            table,
            player: hex(&player),
            bet: kind.name(),
            stake,
        },
        Event::Left { player, balance } => JsEvent::Left {
            table,
            player: hex(&player),
            balance,
        },
        Event::BettingClosed { round, .. } => JsEvent::BettingClosed { table, round },
        Event::Committed { player } => JsEvent::Committed {
            table,
            player: hex(&player),
        },
        Event::Revealed { player } => JsEvent::Revealed {
            table,
            player: hex(&player),
        },
        Event::Forfeited {
            player,
            reason: why,
        } => JsEvent::Forfeited {
            table,
            player: hex(&player),
            reason: reason(why),
        },
        Event::Rolled(record) => JsEvent::Rolled {
            table,
            roll: RollJson::from(&*record),
        },
        Event::Named { player, name } => JsEvent::Named {
            table,
            player: hex(&player),
            name,
        },
        Event::Diverged {
            round,
            player,
            theirs,
            ours,
            minority,
        } => JsEvent::Diverged {
            table,
            round,
            player: hex(&player),
            theirs: hex(&theirs),
            ours: hex(&ours),
            minority,
        },
        Event::RoundAborted { round, alone, .. } => JsEvent::RoundAborted {
            table,
            round,
            alone,
        },
        Event::TableClosed { reason, paid } => JsEvent::TableClosed {
            table,
            reason: match reason {
                CloseReason::BankerDefaulted => "bankerDefaulted",
                CloseReason::BankrollExhausted => "bankrollExhausted",
                CloseReason::HouseGone => "houseGone",
            },
            paid: paid.iter().map(ResultJson::from).collect(),
        },
        Event::DicePassed { from, to } => JsEvent::DicePassed {
            table,
            from: hex(&from),
            to: hex(&to),
        },
        Event::HeldOver { player, count } => JsEvent::HeldOver {
            table,
            player: hex(&player),
            count,
        },
        Event::BetReturned {
            player,
            kind,
            stake,
        } => JsEvent::BetReturned {
            table,
            player: hex(&player),
            bet: kind.name(),
            stake,
        },
        Event::SatOut { player, .. } => JsEvent::SatOut {
            table,
            player: hex(&player),
        },
        Event::Rejected { sender, error } => JsEvent::Rejected {
            table,
            player: hex(&sender),
            reason: error.to_string(),
        },
    }
}
