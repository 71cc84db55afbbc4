//! What a session reports: events for the user interface, the record of
//! every roll, and the transcript entries a game can be replayed from.

use std::collections::BTreeMap;

use crate::commit_reveal::{self, Digest32, GameId, Secret};
use crate::craps::{BetKind, BetResult, PlayerId, Settlement};
use crate::dice::Roll;
use crate::message::SignedMessage;
use crate::session::{Millis, SessionError};

/// Why a participant forfeited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForfeitReason {
    /// No commitment before the deadline.
    NoCommit,
    /// No reveal before the deadline.
    NoReveal,
    /// A reveal that does not match the commitment.
    WrongReveal,
}

/// Why a table closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The banker did not commit or reveal in time, or revealed wrongly:
    /// every bet was paid at its best.
    BankerDefaulted,
    /// The bankroll could not pay the worst next roll of the contract bets
    /// in action: no roll, every stake returned.
    BankrollExhausted,
    /// The shooter asked to roll and the banker did not close betting
    /// within the commit deadline (relay time): the house is gone; no
    /// roll, every stake returned.
    HouseGone,
}

/// Everything about one roll, enough to re-check it from scratch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollRecord {
    /// The round.
    pub round: u64,
    /// Each participant's commitment.
    pub commits: Vec<(PlayerId, Digest32)>,
    /// The reveals the dice came from.
    pub reveals: Vec<(PlayerId, Secret)>,
    /// Who forfeited during this roll.
    pub forfeited: Vec<(PlayerId, ForfeitReason)>,
    /// The table hash all participants committed to.
    pub table_hash: Digest32,
    /// The dice.
    pub roll: Roll,
    /// What the roll did.
    pub settlement: Settlement,
    /// The state hash after settlement.
    pub state_hash: Digest32,
}

impl RollRecord {
    /// Re-checks the roll: every reveal matches its commitment and the dice
    /// follow from the reveals.
    pub fn verify(&self, game: &GameId) -> bool {
        let commits: BTreeMap<_, _> = self.commits.iter().copied().collect();
        self.reveals.iter().all(|(p, s)| {
            commits.get(p) == Some(&commit_reveal::commitment(game, self.round, p, s))
        }) && commit_reveal::roll_from_reveals(
            game,
            self.round,
            self.reveals.iter().map(|(p, s)| (p, s)),
        ) == self.roll
    }
}

/// Something that happened at the table, for the user interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A player sat down.
    Sat {
        /// Who.
        player: PlayerId,
        /// With how many chips.
        buy_in: u64,
    },
    /// A player bought more chips.
    BoughtIn {
        /// Who.
        player: PlayerId,
        /// How many.
        amount: u64,
    },
    /// A bet was placed.
    BetPlaced {
        /// Whose.
        player: PlayerId,
        /// Which.
        kind: BetKind,
        /// Chips added.
        stake: u64,
    },
    /// A bet was taken down.
    BetTakenDown {
        /// Whose.
        player: PlayerId,
        /// Which.
        kind: BetKind,
        /// Chips returned.
        stake: u64,
    },
    /// A place or buy bet was called working on the come-out, or off.
    WorkingSet {
        /// Whose.
        player: PlayerId,
        /// Which.
        kind: BetKind,
        /// Working (true) or off.
        working: bool,
    },
    /// A player left with its balance.
    Left {
        /// Who.
        player: PlayerId,
        /// Chips taken away.
        balance: u64,
    },
    /// The shooter started the roll; betting is closed.
    BettingClosed {
        /// The round.
        round: u64,
        /// The hash of the table as this peer sees it.
        table_hash: Digest32,
    },
    /// The shooter did not roll in time: the banker passed the dice.
    DicePassed {
        /// The shooter who had them.
        from: PlayerId,
        /// The one who has them now.
        to: PlayerId,
    },
    /// A participant committed.
    Committed {
        /// Who.
        player: PlayerId,
    },
    /// A participant revealed.
    Revealed {
        /// Who.
        player: PlayerId,
    },
    /// A participant broke the protocol, lost its bets and left.
    Forfeited {
        /// Who.
        player: PlayerId,
        /// Why.
        reason: ForfeitReason,
    },
    /// The dice are in and the table settled.
    Rolled(Box<RollRecord>),
    /// A player said the name it goes by.
    Named {
        /// Who.
        player: PlayerId,
        /// The name.
        name: String,
    },
    /// A participant's state hash after a roll is not this peer's: one of
    /// the two diverged. `minority`: this peer's hash is not the one most
    /// of that roll's participants hold (this peer is the one that
    /// diverged, and should take the game from the others).
    Diverged {
        /// The roll.
        round: u64,
        /// Who sent the other hash.
        player: PlayerId,
        /// Its hash after the roll.
        theirs: Digest32,
        /// This peer's.
        ours: Digest32,
        /// Whether most participants agree on a hash other than ours.
        minority: bool,
    },
    /// Peers disagreed on the table; the round was called off and every
    /// bet of it undone.
    RoundAborted {
        /// The round called off.
        round: u64,
        /// Every other participant's commitment named one table, and not
        /// this peer's: this peer alone saw a different table (it missed
        /// or invented something the others signed).
        alone: bool,
        /// The table hash this peer held.
        table_hash: Digest32,
        /// The table hash each commitment named (signed by its sender).
        named: Vec<(PlayerId, Digest32)>,
    },
    /// Table actions that reached this peer after the shooter's cut (or
    /// during the roll) wait for the next round: they are neither lost
    /// nor refused, and apply when the next roll's betting closes.
    HeldOver {
        /// Whose.
        player: PlayerId,
        /// How many of its actions wait.
        count: usize,
    },
    /// A bet the banker's bankroll could no longer cover on the next roll
    /// was taken down and its stake returned (see [`crate::craps::cover`]).
    BetReturned {
        /// Whose.
        player: PlayerId,
        /// Which.
        kind: BetKind,
        /// Chips returned to its balance.
        stake: u64,
    },
    /// A participant's commitment named another table than the banker's
    /// closing one (it is faulty, or missed something): it takes no part
    /// in this roll (its bets stay on the table and settle with it), and
    /// the round goes on for the others.
    SatOut {
        /// Who.
        player: PlayerId,
        /// The table hash its commitment named.
        named: Digest32,
        /// The table hash of the banker's cut (this peer's too).
        table_hash: Digest32,
    },
    /// The table closed.
    TableClosed {
        /// Why.
        reason: CloseReason,
        /// What happened to every bet on the table: paid at its best when
        /// the banker defaulted, pushed when the bankroll ran dry.
        paid: Vec<BetResult>,
    },
    /// A buffered message was refused when its turn came.
    Rejected {
        /// Its sender.
        sender: PlayerId,
        /// Why.
        error: SessionError,
    },
}

/// Whether every commitment in `named` but those of `excluding` names one
/// table hash, and not `mine` (and there is at least one such).
pub fn named_against(
    named: &[(PlayerId, Digest32)],
    mine: &Digest32,
    excluding: &[PlayerId],
) -> bool {
    let mut others = named
        .iter()
        .filter(|(p, _)| !excluding.contains(p))
        .map(|(_, hash)| hash);
    others
        .next()
        .is_some_and(|first| first != mine && others.all(|h| h == first))
}

/// One entry of a game's transcript, a message processed in its turn:
/// enough to replay the game (see [`crate::verify`]). Deadlines need no
/// entries of their own: they are judged on the relay times the entries
/// carry, so a replay reaches every verdict the game did, at the same
/// message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranscriptEntry {
    /// The relay's time stamped on it (`None`: it came straight from its
    /// sender, over a data channel or as this peer's own action).
    pub relayed_at: Option<Millis>,
    /// The message.
    pub message: SignedMessage,
    /// Whether it was accepted.
    pub accepted: bool,
}
