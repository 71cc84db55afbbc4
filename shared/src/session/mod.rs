//! One game as a sans-I/O state machine: messages and the time go in;
//! messages to send, events to show and the next deadline come out.
//!
//! ```text
//! handle_relayed(now, signed, at) -> Result<(), SessionError>  (stamped by the relay at `at`)
//! handle_message(now, signed) -> Result<(), SessionError>      (straight from its sender)
//! handle_timeout(now)
//! poll_transmit() -> Option<SignedMessage>     (sign once, send to every peer)
//! poll_event()    -> Option<Event>
//! poll_timeout()  -> Option<Millis>
//! ```
//!
//! A round goes: **betting** (sit, buy in, bet, take down, leave) until the
//! shooter commits. The shooter's commitment closes betting and names the
//! round's *cut* ([`Cut`]): for each sender, the last sequence number whose
//! table actions this roll is on. Every peer applies exactly those (waiting
//! for any it has not received yet), in sender key order onto the table of
//! the round's start, so every peer rolls on the same table whatever order
//! the bets reached it in; actions past the cut, and those that arrive
//! during the roll, are **held over** to the next round, never refused and
//! never a reason to call the round off. Then the banker's coverage is
//! checked ([`crate::craps::cover`]): bets it cannot pay on the worst roll
//! come down. Every participant (the banker and every seated player)
//! commits to a secret and to the hash of that table; when all commitments
//! are in and name the same table hash, each **reveals**; the dice come
//! from all reveals (see [`crate::commit_reveal`]), the table settles, and every
//! peer holds the same state hash.
//!
//! **Deadlines have one verdict**, judged on one clock: the relay's. The
//! relay stamps every frame of a room with its sequence number and its
//! time, in one order, and delivers game frames to every peer in that
//! order (they all travel at critical priority). Commitments, reveals,
//! roll requests, passed dice and ticks ([`Action::is_timed`]) count only as the relay
//! stamped them; a data channel carries table actions only, which show
//! until the relay's copy counts. The commit phase opens at the
//! relay time of the banker's closing commitment and ends
//! `commit_timeout` later; the reveal phase opens at the relay time of the
//! last commitment (or at the commit deadline) and ends `reveal_timeout`
//! later. A step stamped at or before its deadline is in time; the first
//! stamped message after a deadline ends the phase, on every peer at the
//! same message of the same order, whatever the peers' own clocks say.
//! When nothing else is under way, a peer whose own clock says the
//! deadline has passed sends a [`Action::Tick`] to have the relay's time
//! read out. A participant that has not committed in time, or not revealed
//! in time (or revealed a secret that does not match its commitment),
//! forfeits its bets to the banker and leaves; the roll is then decided by
//! the remaining reveals. A banker that does so pays every bet on the
//! table at its best and the table closes. A peer's own timed steps count
//! when they come back from the relay, like everyone's. Once the agreed
//! shooter has asked to roll, the banker must close betting within
//! `commit_timeout` (relay time) or the house is gone: the table closes
//! with every stake returned. So too when nobody asks: the banker passes
//! the dice of a shooter idle for `shooter_timeout` (to the same shooter
//! when nobody else sits), and if it has not within [`HOUSE_ANSWER_MS`]
//! after that (relay time, counted from the roll, the pass or the change
//! of shooter that started the wait), the house is gone. Every table
//! with a seated player thus ends if its house goes, in any phase. If the commitments name different table
//! hashes, a peer is faulty (only the relay's copies count, so a sender
//! cannot give peers different versions of a message): the round is
//! called off, its actions are undone, and betting reopens.
//!
//! Every message is checked: game, signature, sender's sequence number
//! (duplicates and replays are refused; early ones wait in a bounded
//! buffer), round, phase and seat. The session never panics on input.
//!
//! The parts: `intake` (messages in, in their sender's turn), `betting`
//! (this peer's actions, the tentative table, the cut), `rolling`
//! (the roll and settlement), `deadlines` (the relay's clock and what a
//! passed deadline does), `checkpoint` (the state after a roll, for
//! newcomers), `held` and `early` (what waits), `record` (events,
//! transcript, roll records).
//!
//! It deliberately does no I/O and reads no clock: the caller passes `now`
//! in milliseconds on any monotonic clock (used only for when to send: a
//! tick, the banker passing idle dice), and the relay's time with every
//! relayed message.

mod betting;
mod checkpoint;
mod config;
mod deadlines;
mod early;
mod error;
mod held;
mod intake;
mod record;
mod rolling;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::commit_reveal::{self, Digest32, GameId, Secret};
use crate::craps::{BetKind, Change, Checked, PlayerId, Step, Table, TableError};
use crate::message::{Action, Cut, Message, MessageError, SignedMessage};

pub use checkpoint::{confirmed, settled_votes, CheckpointError, CheckpointState};
pub use config::{ConfigError, GameConfig, CONFIG_LEN};
pub use early::{MAX_AHEAD, MAX_SEATING_PENDING, MAX_STRANGERS_PENDING, MAX_STRANGER_AHEAD};
pub use error::SessionError;
pub use record::{named_against, CloseReason, Event, ForfeitReason, RollRecord, TranscriptEntry};

use early::{Early, Full, Standing};
use held::Held;

/// Milliseconds on the caller's monotonic clock.
pub type Millis = u64;

/// The most table actions of one sender that may wait for a cut (more
/// wait, unprocessed, in the early buffer until a roll takes some).
pub const MAX_HELD: usize = 256;

/// The most table actions of newcomers (senders with no seat when the
/// round started) that may wait for a cut, all together; more wait in the
/// early buffer's bounded shares (see [`MAX_STRANGERS_PENDING`] and
/// [`MAX_SEATING_PENDING`]). So all a flood of keys can make every peer
/// hold is bounded, whatever their number.
pub const MAX_NEWCOMERS_HELD: usize = 512;

/// How long after a phase's deadline, on this peer's clock, it asks for
/// the relay's time with a [`Action::Tick`] if the phase is still open.
pub const TICK_GRACE: Millis = 250;

/// How long after an idle shooter's `shooter_timeout` the banker may take
/// to pass the dice before the house counts as gone (relay time). Long
/// enough for a house whose tab is in the background (browsers run its
/// timers as seldom as once a minute).
pub const HOUSE_ANSWER_MS: Millis = 60_000;

/// The most names a session keeps (a name of a player it already has
/// replaces the old one; past this, strangers' names are ignored).
pub const MAX_NAMES: usize = 256;

/// How many recent rolls' state hashes ([`Action::Settled`]) are kept to
/// compare with the participants'.
pub const SETTLED_ROUNDS: usize = 8;

/// The most table actions of one sender shown ahead of the relay's copy
/// (see [`Session::handle_message`]).
pub const MAX_PREVIEWS: usize = 32;

/// An action a participant takes itself (see [`Session::perform`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalAction {
    /// Sit down with chips.
    Sit {
        /// Chips brought.
        buy_in: u64,
    },
    /// Buy more chips.
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
    /// Leave the table.
    Leave,
    /// Start the roll (shooter only).
    Roll,
}

/// Which early messages the next look at the buffer must consider. After
/// [`Session::move_on`] no early message is due; until something else
/// happens, only a seated player's table actions taken during betting
/// (its own next messages can have become due, and the house's closing
/// commitment waiting for them) spare a look at everyone's: so a seated
/// player's bet costs the same however many strangers' messages wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scan {
    /// Nothing recorded since the last look (look at everything).
    Unset,
    /// Only this sender's and the house's.
    Only(PlayerId),
    /// Everything.
    Full,
}

/// Where the round is; a phase's times are the relay's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Betting,
    Committing {
        opened: Millis,
    },
    /// Players reveal first; the house's turn (`house_from`, the relay
    /// time it opened) comes once every player has revealed or is out, so
    /// no player knows the dice while its own reveal is still to come.
    Revealing {
        opened: Millis,
        house_from: Option<Millis>,
    },
    Closed,
}

struct Local {
    key: SigningKey,
    id: PlayerId,
    entropy: [u8; 32],
    next_seq: u64,
    /// The last round this peer asked to roll in.
    asked_to_roll: u64,
    /// Own messages signed and sent but not processed yet, in sequence
    /// order: a timed step waits for the relay's copy (its stamp decides
    /// whether it was in time, as for everyone), and what follows it
    /// waits behind it.
    unconfirmed: VecDeque<SignedMessage>,
}

/// The table a cut produces, before it is adopted.
struct Closing {
    table: Table,
    events: Vec<Event>,
    solvent: bool,
}

/// One game, as one peer (or an observer) sees it.
pub struct Session {
    config: GameConfig,
    /// During betting, the round's start plus every held action (what the
    /// players see); during a roll, the table rolled on.
    table: Table,
    /// The agreed table when the round opened.
    round_start: Table,
    round: u64,
    stage: Stage,
    /// The relay's time of the latest relayed message processed.
    clock: Millis,
    /// The relay's time of the latest commitment accepted this round.
    last_commit_at: Millis,
    /// When (on this peer's clock) to send a tick if the phase is still
    /// open.
    tick_at: Option<Millis>,
    /// The relay time at which the agreed shooter asked to roll this
    /// round: the banker must close betting within `commit_timeout`.
    roll_asked_at: Option<Millis>,
    /// The dice passed this round while nobody sat at the agreed table
    /// (the first round): the next cut's table starts that many seats on.
    passes: usize,
    /// The names players go by: each one's latest signed [`Action::Name`]
    /// (at most [`MAX_NAMES`]).
    names: BTreeMap<PlayerId, SignedMessage>,
    /// Per recent roll, the state hash each participant said it holds
    /// after it ([`Action::Settled`]; the last [`SETTLED_ROUNDS`] rolls).
    settled: BTreeMap<u64, BTreeMap<PlayerId, Digest32>>,
    /// The shooter whose idle time `shooter_since` and `idle_since` count.
    watched: Option<PlayerId>,
    /// The relay time from which the agreed shooter's idle time counts
    /// (the same on every peer): the house must pass the dice within
    /// `shooter_timeout` + [`HOUSE_ANSWER_MS`] of it.
    idle_since: Millis,
    /// When (this peer's clock) the relay's time last moved on.
    clock_seen_at: Millis,
    table_hash: Digest32,
    roll_participants: BTreeSet<PlayerId>,
    commits: BTreeMap<PlayerId, (Digest32, Digest32)>,
    reveals: BTreeMap<PlayerId, Secret>,
    forfeited: Vec<(PlayerId, ForfeitReason)>,
    expected: BTreeMap<PlayerId, u64>,
    early: Early,
    /// Which early messages can have become due since the buffer was last
    /// found to hold none.
    scan: Scan,
    held: Held,
    /// Table actions a data channel brought before the relay did, keyed
    /// (sender, seq): shown on the tentative table, never processed (the
    /// relay's copy is, in the relay's order, on every peer alike).
    previews: BTreeMap<(PlayerId, u64), SignedMessage>,
    /// The actions this round's cut took.
    in_roll: Vec<SignedMessage>,
    /// (Banker) who asked to roll this round: the request is granted as
    /// soon as one of them is the shooter on this peer's table (a request
    /// may arrive before the action that made its sender the shooter).
    roll_requests: BTreeSet<PlayerId>,
    /// (Banker) since when, on its own clock, the current shooter has had
    /// the dice (a lone player's too: its dice pass back to it).
    shooter_since: Millis,
    local: Option<Local>,
    outbox: VecDeque<SignedMessage>,
    events: VecDeque<Event>,
    transcript: Vec<TranscriptEntry>,
    history: Vec<RollRecord>,
    /// Rolls before the first of `history` (a session that started from a
    /// checkpoint).
    rolls_before: u64,
    /// The state after each of the last few rolls (what a snapshot starts
    /// from, once the players confirmed it).
    checkpoints: VecDeque<checkpoint::Checkpoint>,
    /// The checkpoint this session started from, if any: `transcript`
    /// holds what came after it.
    base: Option<checkpoint::Checkpoint>,
    /// Senders' keys, decompressed once (at most `MAX_KEYS`).
    keys: HashMap<PlayerId, VerifyingKey>,
    /// Messages whose signatures passed a batch check
    /// ([`Session::preverify`]): digests of sender, signed bytes and
    /// signature, each taken out when its message comes.
    preverified: HashSet<Digest32>,
    /// Messages that counted at once, before the relay's copy (this
    /// peer's own `Name` and `Settled`, or a replay of them): when that
    /// copy comes, its relay time is read at its place in the relay's
    /// order, as every other peer reads it (at most `MAX_UNRELAYED`).
    unrelayed: VecDeque<(PlayerId, u64)>,
}

/// Messages counted at once whose relay copy a session waits for.
const MAX_UNRELAYED: usize = 64;

/// Senders whose decompressed keys a session keeps; beyond that, keys are
/// decompressed per message (a flood of strangers cannot grow the cache).
pub const MAX_KEYS: usize = 64;

impl Session {
    /// A session for a participant holding `key`. `entropy` must be secret
    /// and random (the browser's `crypto.getRandomValues`, the OS RNG):
    /// every round's secret is derived from it.
    pub fn new(config: GameConfig, key: SigningKey, entropy: [u8; 32]) -> Self {
        let id = key.verifying_key().to_bytes();
        let mut session = Self::observer(config);
        session.local = Some(Local {
            key,
            id,
            entropy,
            next_seq: 1,
            asked_to_roll: 0,
            unconfirmed: VecDeque::new(),
        });
        session
    }

    /// A session that only checks and follows a game (e.g. the relay's).
    pub fn observer(config: GameConfig) -> Self {
        let table = Table::new(config.rules, config.banker, config.bankroll);
        Self {
            config,
            round_start: table.clone(),
            table,
            round: 1,
            stage: Stage::Betting,
            clock: 0,
            last_commit_at: 0,
            tick_at: None,
            roll_asked_at: None,
            passes: 0,
            watched: None,
            idle_since: 0,
            clock_seen_at: 0,
            settled: BTreeMap::new(),
            names: BTreeMap::new(),
            table_hash: [0; 32],
            roll_participants: BTreeSet::new(),
            commits: BTreeMap::new(),
            reveals: BTreeMap::new(),
            forfeited: Vec::new(),
            expected: BTreeMap::new(),
            early: Early::default(),
            scan: Scan::Unset,
            held: Held::default(),
            previews: BTreeMap::new(),
            in_roll: Vec::new(),
            roll_requests: BTreeSet::new(),
            shooter_since: 0,
            local: None,
            outbox: VecDeque::new(),
            events: VecDeque::new(),
            transcript: Vec::new(),
            history: Vec::new(),
            rolls_before: 0,
            checkpoints: VecDeque::new(),
            base: None,
            keys: HashMap::new(),
            preverified: HashSet::new(),
            unrelayed: VecDeque::new(),
        }
    }

    /// The game's configuration.
    pub fn config(&self) -> &GameConfig {
        &self.config
    }

    /// The table as this peer sees it: while betting is open, including
    /// every action not yet in a roll; during a roll, the table rolled on.
    pub fn table(&self) -> &Table {
        &self.table
    }

    /// The current round (starts at 1).
    pub fn round(&self) -> u64 {
        self.round
    }

    /// This peer's id, if it is a participant.
    pub fn local_id(&self) -> Option<PlayerId> {
        self.local.as_ref().map(|l| l.id)
    }

    /// Whether betting is open.
    pub fn is_betting(&self) -> bool {
        self.stage == Stage::Betting
    }

    /// Whether the table has closed.
    pub fn is_closed(&self) -> bool {
        self.stage == Stage::Closed
    }

    /// How many of `player`'s table actions wait for a roll to take them.
    pub fn held_count(&self, player: &PlayerId) -> usize {
        self.held.count(player)
    }

    /// Every roll this session processed (not those before the checkpoint
    /// it started from, if any: see [`Session::rolls`]).
    pub fn history(&self) -> &[RollRecord] {
        &self.history
    }

    /// How many rolls the game has had.
    pub fn rolls(&self) -> u64 {
        self.rolls_before + self.history.len() as u64
    }

    /// Whether this session took its game from a checkpoint (a snapshot):
    /// its transcript then starts there, not at the game's first message.
    pub fn started_from_checkpoint(&self) -> bool {
        self.base.is_some()
    }

    /// The checkpoint this session took its game from, if any (its bytes,
    /// as [`CheckpointState::read`] reads them): its transcript holds what
    /// came after it.
    pub fn base_checkpoint(&self) -> Option<&bytes::Bytes> {
        self.base.as_ref().map(|c| &c.bytes)
    }

    /// The transcript so far.
    pub fn transcript(&self) -> &[TranscriptEntry] {
        &self.transcript
    }

    /// The hash of the agreed state: the round and its table (while
    /// betting is open, the table at the round's start; during a roll, the
    /// table rolled on). Equal on every peer that processed the same cuts;
    /// actions no cut has taken yet are not part of it (when they reached
    /// each peer differs).
    pub fn state_hash(&self) -> Digest32 {
        let agreed = match self.stage {
            Stage::Betting => &self.round_start,
            _ => &self.table,
        };
        state_hash_of(&self.config.game, self.round, agreed)
    }

    fn hash_table(&self, domain: &[u8], table: &Table) -> Digest32 {
        hash_table(domain, &self.config.game, self.round, table)
    }

    /// (Tests only) A fault in this peer's own table: `chips` more in
    /// `player`'s balance on the table this peer plays on now. Injected
    /// during a roll, this peer settles it differently from the others.
    #[cfg(feature = "test-faults")]
    #[doc(hidden)]
    pub fn inject_fault(&mut self, player: &PlayerId, chips: u64) {
        self.table.inject_chips(player, chips);
    }

    /// The next message to send to every other peer.
    pub fn poll_transmit(&mut self) -> Option<SignedMessage> {
        self.outbox.pop_front()
    }

    /// The next event to show.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }
}

/// The state hash of `table` in `round` of `game` (see
/// [`Session::state_hash`]).
fn state_hash_of(game: &GameId, round: u64, table: &Table) -> Digest32 {
    hash_table(b"bitcraps/state/v2", game, round, table)
}

fn hash_table(domain: &[u8], game: &GameId, round: u64, table: &Table) -> Digest32 {
    let mut bytes = Vec::with_capacity(256);
    table.encode(&mut bytes);
    let mut h = Sha256::new();
    h.update(domain);
    h.update(game);
    h.update(round.to_be_bytes());
    h.update(bytes);
    h.finalize().into()
}

/// Passes the dice `passes` times: as often as the banker passed them
/// before anyone sat at the agreed table (zero once someone does).
fn pass_on(table: &mut Table, passes: usize) {
    let seats = table.seats().len().max(1);
    for _ in 0..passes % seats {
        table.pass_dice();
    }
}

/// The table step a table action is (`None` for a protocol step).
fn step_of(action: &Action) -> Option<Step> {
    Some(match *action {
        Action::Sit { buy_in } => Step::Sit { buy_in },
        Action::BuyIn { amount } => Step::BuyIn { amount },
        Action::Bet { kind, stake } => Step::Bet { kind, stake },
        Action::TakeDown { kind } => Step::TakeDown { kind },
        Action::Working { kind, working } => Step::Working { kind, working },
        Action::Leave => Step::Leave,
        // Commit and reveal are protocol steps handled by the session,
        // never table actions.
        Action::Commit { .. }
        | Action::Reveal { .. }
        | Action::Roll
        | Action::PassDice
        | Action::Tick
        | Action::Settled { .. }
        | Action::Name { .. } => return None,
    })
}

/// Judges a table action against `table` without taking it; for one that
/// adds to the banker's risk, which bet and how.
fn check_on_table(
    table: &Table,
    sender: &PlayerId,
    action: &Action,
) -> Result<(Checked, Option<(BetKind, Change)>), SessionError> {
    let step = step_of(action).ok_or(SessionError::NotCommitting)?;
    let checked = table.check(sender, step)?;
    let change = match step {
        Step::Bet { kind, stake } => Some((
            kind,
            Change::Stake {
                stake,
                commission: checked.needed() - stake,
            },
        )),
        Step::Working {
            kind,
            working: true,
        } => Some((kind, Change::Working)),
        _ => None,
    };
    Ok((checked, change))
}

/// Takes a table step judged on this same table, without judging it
/// again; the event that shows it.
fn take_on_table(table: &mut Table, checked: Checked) -> Result<Event, SessionError> {
    let player = *checked.player();
    let back = table.take(checked)?;
    Ok(match checked.step() {
        Step::Sit { buy_in } => Event::Sat { player, buy_in },
        Step::BuyIn { amount } => Event::BoughtIn { player, amount },
        Step::Bet { kind, stake } => Event::BetPlaced {
            player,
            kind,
            stake,
        },
        Step::TakeDown { kind } => Event::BetTakenDown {
            player,
            kind,
            stake: back,
        },
        Step::Working { kind, working } => Event::WorkingSet {
            player,
            kind,
            working,
        },
        Step::Leave => Event::Left {
            player,
            balance: back,
        },
    })
}

/// Judges and takes a table action (sit, buy in, bet, take down, working,
/// leave).
fn apply_to_table(
    table: &mut Table,
    sender: &PlayerId,
    action: &Action,
) -> Result<Event, SessionError> {
    let step = step_of(action).ok_or(SessionError::NotCommitting)?;
    let checked = table.check(sender, step)?;
    take_on_table(table, checked)
}
