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
//! from all reveals (see [`crate::fair`]), the table settles, and every
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
//! It deliberately does no I/O and reads no clock: the caller passes `now`
//! in milliseconds on any monotonic clock (used only for when to send: a
//! tick, the banker passing idle dice), and the relay's time with every
//! relayed message.

mod checkpoint;
mod config;
mod early;
mod error;
mod held;
mod record;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::craps::{BetKind, PlayerId, Table, TableError};
use crate::fair::{self, Digest32, GameId, Secret};
use crate::message::{Action, Cut, Message, MessageError, SignedMessage};

pub use checkpoint::{confirmed, CheckpointError, CheckpointState};
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

/// Where the round is; a phase's times are the relay's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Betting,
    Committing { opened: Millis },
    Revealing { opened: Millis },
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
}

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

    /// When [`Session::handle_timeout`] should next be called (this peer's
    /// clock).
    pub fn poll_timeout(&self) -> Option<Millis> {
        match self.stage {
            Stage::Committing { .. } | Stage::Revealing { .. } => self.tick_at,
            Stage::Betting => [self.pass_dice_at(), self.tick_at]
                .into_iter()
                .flatten()
                .min(),
            Stage::Closed => None,
        }
    }

    /// The relay time at which the current phase ends, if one is under
    /// way (while betting: the banker's deadline to close, once the shooter
    /// asked).
    pub fn deadline(&self) -> Option<Millis> {
        let timeout = self.config.commit_timeout;
        match self.stage {
            Stage::Committing { opened } => Some(opened.saturating_add(timeout)),
            Stage::Revealing { opened } => Some(opened.saturating_add(self.config.reveal_timeout)),
            Stage::Betting => [
                self.roll_asked_at.map(|at| at.saturating_add(timeout)),
                self.house_due(),
            ]
            .into_iter()
            .flatten()
            .min(),
            Stage::Closed => None,
        }
    }

    /// While betting with a shooter: the relay time by which the banker
    /// must have passed the idle shooter's dice (or the shooter asked).
    fn house_due(&self) -> Option<Millis> {
        let wait = self.config.shooter_timeout;
        // (Once the shooter asked, the commit deadline is the house's.)
        let idle = wait > 0 && self.roll_asked_at.is_none();
        (idle && self.idle_shooter().is_some()).then(|| {
            self.idle_since
                .saturating_add(wait)
                .saturating_add(HOUSE_ANSWER_MS)
        })
    }

    /// Compares a participant's state hash after roll `round` with this
    /// peer's: a difference is reported with both hashes, and whether most
    /// of the roll's participants hold another hash than this peer.
    fn compare_settled(&mut self, sender: PlayerId, round: u64, theirs: Digest32) {
        let at = self.history.partition_point(|r| r.round < round);
        let Some(record) = self.history.get(at).filter(|r| r.round == round) else {
            return; // a roll this peer does not hold (yet, or any more)
        };
        if !record.commits.iter().any(|(p, _)| *p == sender) {
            return; // only that roll's participants speak for it
        }
        let (ours, participants) = (record.state_hash, record.commits.len());
        let votes = self.settled.entry(round).or_default();
        votes.insert(sender, theirs);
        let mut counts: BTreeMap<Digest32, usize> = BTreeMap::new();
        for hash in votes.values() {
            *counts.entry(*hash).or_default() += 1;
        }
        let minority = counts
            .iter()
            .any(|(hash, n)| *hash != ours && 2 * n > participants);
        while self.settled.len() > SETTLED_ROUNDS {
            self.settled.pop_first();
        }
        if theirs != ours {
            self.events.push_back(Event::Diverged {
                round,
                player: sender,
                theirs,
                ours,
                minority,
            });
        }
    }

    /// A shooter's idle time counts from when it got the dice: called
    /// after every relayed message that may change the agreed shooter.
    fn watch_shooter(&mut self, now: Millis) {
        if self.stage == Stage::Betting && self.idle_shooter() != self.watched {
            self.restart_idle(now);
        }
    }

    /// The agreed shooter's idle time starts again (a roll, a pass, a new
    /// shooter): the banker's pass counts from `now` on its own clock; the
    /// house's deadline from the relay's time, alike on every peer, and
    /// each peer asks for the relay's time once its own clock says that
    /// deadline has passed.
    fn restart_idle(&mut self, now: Millis) {
        self.watched = self.idle_shooter();
        self.shooter_since = now;
        self.idle_since = self.clock;
        if self.stage == Stage::Betting && self.roll_asked_at.is_none() {
            self.tick_at = None;
            if self.watched.is_some() && self.config.shooter_timeout > 0 {
                let wait = self.config.shooter_timeout.saturating_add(HOUSE_ANSWER_MS);
                self.schedule_tick(now, wait);
            }
        }
    }

    /// The relay's time of the latest relayed message processed.
    pub fn relay_clock(&self) -> Millis {
        self.clock
    }

    /// The relay's time reached `at`, read at `now` on this peer's clock.
    fn advance_clock(&mut self, now: Millis, at: Millis) {
        if at >= self.clock {
            self.clock = at;
            self.clock_seen_at = now;
        }
    }

    /// This peer's estimate of the relay's time at `now` (its clock): the
    /// last relay time seen, plus what this clock counted since. For
    /// display only (verdicts use only stamped times).
    pub fn relay_now(&self, now: Millis) -> Millis {
        self.clock
            .saturating_add(now.saturating_sub(self.clock_seen_at))
    }

    /// While betting, before the shooter asks: the relay time by which it
    /// should roll (its dice pass on after it, if the house is there).
    pub fn shooter_due(&self) -> Option<Millis> {
        let wait = self.config.shooter_timeout;
        let waiting = self.stage == Stage::Betting && self.roll_asked_at.is_none() && wait > 0;
        (waiting && self.idle_shooter().is_some()).then(|| self.idle_since.saturating_add(wait))
    }

    /// Whether one of this peer's own messages of this round, sent but not
    /// yet back from the relay, is such an action.
    fn in_flight(&self, kind: impl Fn(&Action) -> bool) -> bool {
        self.local.as_ref().is_some_and(|l| {
            l.unconfirmed
                .iter()
                .any(|m| m.message.round == self.round && kind(&m.message.action))
        })
    }

    /// (Banker) when the dice pass on if the shooter has not asked to roll
    /// (back to the same player when it sits alone), with a shooter
    /// deadline set.
    fn pass_dice_at(&self) -> Option<Millis> {
        let timeout = self.config.shooter_timeout;
        let closing = self.in_flight(|a| matches!(a, Action::Commit { close: Some(_), .. }));
        let waiting = self.is_banker() && !self.roll_asked() && !closing && timeout > 0;
        (waiting && self.idle_shooter().is_some())
            .then(|| self.shooter_since.saturating_add(timeout))
    }

    /// The table everyone has the same view of while betting is open: the
    /// round's start, or, while nobody sits there (the first round), the
    /// round's start with every action the relay has carried (in key
    /// order, as a cut applies them) and the dice passed since.
    fn agreed_table(&self) -> std::borrow::Cow<'_, Table> {
        if !self.round_start.seats().is_empty() {
            return std::borrow::Cow::Borrowed(&self.round_start);
        }
        let mut table = self.round_start.clone();
        for m in self.held.iter_relayed() {
            let _ = apply_to_table(&mut table, &m.sender, &m.message.action);
        }
        pass_on(&mut table, self.passes);
        std::borrow::Cow::Owned(table)
    }

    /// Who has the dice on the agreed table: the same on every peer at the
    /// same point of the relay's order.
    fn agreed_shooter(&self) -> Option<PlayerId> {
        self.agreed_table().shooter()
    }

    /// The agreed shooter, whose dice the banker passes when it does not
    /// roll in time (to the next player, or back to itself when it sits
    /// alone: the house shows it is still there).
    fn idle_shooter(&self) -> Option<PlayerId> {
        self.agreed_table().shooter()
    }

    // ----- local actions -------------------------------------------------

    /// Performs one of this peer's own actions. A table action taken
    /// while the dice are rolling waits for the next round.
    pub fn perform(&mut self, now: Millis, action: LocalAction) -> Result<(), SessionError> {
        match action {
            LocalAction::Sit { buy_in } => self.sit(now, buy_in),
            LocalAction::BuyIn { amount } => self.buy_in(now, amount),
            LocalAction::Bet { kind, stake } => self.place_bet(now, kind, stake),
            LocalAction::TakeDown { kind } => self.take_down(now, kind),
            LocalAction::Working { kind, working } => self.set_working(now, kind, working),
            LocalAction::Leave => self.leave(now),
            LocalAction::Roll => self.roll(now),
        }
    }

    /// Tells the table the name this player goes by (1-24 bytes of text):
    /// shown instead of its key, on every page.
    pub fn set_name(&mut self, now: Millis, name: &str) -> Result<(), SessionError> {
        if !crate::message::is_valid_name(name) {
            return Err(SessionError::Invalid(crate::message::MessageError::BadName));
        }
        self.act(
            now,
            Action::Name {
                name: name.to_owned(),
            },
        )
    }

    /// The names players go by, as the table learned them, in key order.
    pub fn names(&self) -> impl Iterator<Item = (&PlayerId, &str)> {
        self.names
            .iter()
            .filter_map(|(player, m)| match &m.message.action {
                Action::Name { name } => Some((player, name.as_str())),
                _ => None,
            })
    }

    /// The name `player` goes by, if it gave one.
    pub fn name_of(&self, player: &PlayerId) -> Option<&str> {
        match &self.names.get(player)?.message.action {
            Action::Name { name } => Some(name.as_str()),
            _ => None,
        }
    }

    /// Sits down with `buy_in` chips.
    pub fn sit(&mut self, now: Millis, buy_in: u64) -> Result<(), SessionError> {
        self.act(now, Action::Sit { buy_in })
    }

    /// Buys more chips.
    pub fn buy_in(&mut self, now: Millis, amount: u64) -> Result<(), SessionError> {
        self.act(now, Action::BuyIn { amount })
    }

    /// Places (or adds to) a bet.
    pub fn place_bet(
        &mut self,
        now: Millis,
        kind: BetKind,
        stake: u64,
    ) -> Result<(), SessionError> {
        self.act(now, Action::Bet { kind, stake })
    }

    /// Takes a bet down.
    pub fn take_down(&mut self, now: Millis, kind: BetKind) -> Result<(), SessionError> {
        self.act(now, Action::TakeDown { kind })
    }

    /// Calls a place or buy bet of this player's working on the come-out,
    /// or off again.
    pub fn set_working(
        &mut self,
        now: Millis,
        kind: BetKind,
        working: bool,
    ) -> Result<(), SessionError> {
        self.act(now, Action::Working { kind, working })
    }

    /// Leaves the table.
    pub fn leave(&mut self, now: Millis) -> Result<(), SessionError> {
        self.act(now, Action::Leave)
    }

    /// Starts the roll (shooter only): asks the banker to close betting.
    /// Asking again in the same round sends nothing.
    pub fn roll(&mut self, now: Millis) -> Result<(), SessionError> {
        let local = self.local.as_ref().ok_or(SessionError::ObserverOnly)?;
        if local.asked_to_roll == self.round && self.stage == Stage::Betting {
            return Ok(());
        }
        if self.stage != Stage::Betting {
            return Err(SessionError::BettingClosed);
        }
        if self.table.shooter() != self.local_id() {
            return Err(SessionError::NotShooter);
        }
        let round = self.round;
        if let Some(local) = self.local.as_mut() {
            local.asked_to_roll = round;
        }
        self.act(now, Action::Roll)
    }

    /// (Banker) whether the shooter has asked to roll: the agreed one, or
    /// the one on this peer's table (a request may come before the action
    /// that made its sender the shooter).
    fn roll_asked(&self) -> bool {
        self.roll_asked_at.is_some()
            || [self.table.shooter(), self.round_start.shooter()]
                .into_iter()
                .flatten()
                .any(|s| self.roll_requests.contains(&s))
    }

    /// Whether this peer is the banker.
    fn is_banker(&self) -> bool {
        self.local_id() == Some(self.config.banker)
    }

    /// (Banker) closes betting: commits with the cut of everything held.
    fn close_as_banker(&mut self, now: Millis) {
        let start = &self.round_start;
        let cut = self
            .held
            .cut(|p| start.is_seated(p) || *p == self.config.banker);
        let closing = self.closing(&cut);
        if closing.table.seats().is_empty() {
            // Everyone who sat has left again: nothing to roll on. Passing
            // the dice ends the deadline a request opened (the house is
            // here), alike on every peer.
            if self.roll_asked_at.is_some() {
                let _ = self.send_local(now, Action::PassDice);
            }
            return;
        }
        if let Ok(action) = self.local_commit(Some((cut, &closing.table))) {
            let _ = self.send_local(now, action);
        }
    }

    /// Our commitment; the banker's closing one carries its cut and the
    /// table it makes.
    fn local_commit(&self, close: Option<(Cut, &Table)>) -> Result<Action, SessionError> {
        let local = self.local.as_ref().ok_or(SessionError::ObserverOnly)?;
        let secret = fair::derive_secret(&local.entropy, &self.config.game, self.round);
        let (table_hash, close) = match close {
            Some((cut, table)) => (self.hash_table(b"bitcraps/table/v1", table), Some(cut)),
            None => (self.table_hash, None),
        };
        Ok(Action::Commit {
            commitment: fair::commitment(&self.config.game, self.round, &local.id, &secret),
            table_hash,
            close,
        })
    }

    /// Signs `action` as this peer's next message, applies it, queues it
    /// for sending, and lets the game move on. Nothing is sent if it is
    /// refused.
    fn act(&mut self, now: Millis, action: Action) -> Result<(), SessionError> {
        let result = self.send_local(now, action);
        self.move_on(now);
        result
    }

    /// Checks, signs, applies and queues one local message; nothing more.
    /// A timed step (and anything after it) is applied when the relay's
    /// copy comes back.
    fn send_local(&mut self, now: Millis, action: Action) -> Result<(), SessionError> {
        if self.stage == Stage::Closed {
            return Err(SessionError::Closed);
        }
        let local = self.local.as_ref().ok_or(SessionError::ObserverOnly)?;
        let message = Message {
            game: self.config.game,
            round: self.round,
            seq: local.next_seq,
            action,
        };
        // Checked before signing, so a refused action consumes no sequence
        // number and nothing is sent.
        self.precheck(local.id, &message)?;
        let signed = message.sign(&local.key);
        self.outbox.push_back(signed.clone());
        if let Some(local) = self.local.as_mut() {
            local.next_seq += 1;
            let action = &signed.message.action;
            let waits = action.is_timed() && !action.counts_at_once();
            if waits || !local.unconfirmed.is_empty() {
                local.unconfirmed.push_back(signed);
                return Ok(());
            }
        }
        self.process(now, signed, None)
    }

    /// Processes this peer's own messages that waited behind a timed step
    /// (up to the next timed one, which waits for the relay's copy).
    fn release_own(&mut self, now: Millis) {
        let Some(me) = self.local_id() else {
            return;
        };
        let mut expected = self.expected_seq(&me);
        while let Some(m) = self.local.as_mut().and_then(|l| {
            let untimed = l
                .unconfirmed
                .front()
                .is_some_and(|m| !m.message.action.is_timed() && m.message.seq == expected);
            if untimed {
                l.unconfirmed.pop_front()
            } else {
                None
            }
        }) {
            let sender = m.sender;
            expected += 1;
            if let Err(error) = self.process(now, m, None) {
                self.events.push_back(Event::Rejected { sender, error });
            }
        }
    }

    /// Whether our own message would be accepted. A table action is
    /// checked against the table this peer shows while betting is open; one
    /// taken during a roll is judged when its round's betting closes.
    fn precheck(&self, me: PlayerId, message: &Message) -> Result<(), SessionError> {
        self.check_stage(&me, message)?;
        match &message.action {
            // (A closing commitment is checked by `roll`, on its cut's table.)
            action if action.is_table_action() => {
                if self.held.count(&me) >= MAX_HELD {
                    return Err(SessionError::TooManyWaiting);
                }
                if self.stage == Stage::Betting {
                    let mut table = self.table.clone();
                    apply_to_table(&mut table, &me, action)?;
                    if table.shortfall() > 0 {
                        return Err(SessionError::Table(TableError::BankerCannotCover {
                            available: self.table.spare(),
                        }));
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    // ----- network input -------------------------------------------------

    /// Handles a message that came straight from its sender (a data
    /// channel): a seated player's table action shows on the tentative
    /// table at once, but counts only as the relay's copy comes (it takes
    /// no sequence number, so a sender cannot give peers different
    /// versions of one). Anything else is refused
    /// ([`SessionError::NotRelayed`]) until the relay's copy comes.
    pub fn handle_message(
        &mut self,
        _now: Millis,
        signed: SignedMessage,
    ) -> Result<(), SessionError> {
        self.admit(&signed)?;
        let sender = signed.sender;
        let (seq, expected) = (signed.message.seq, self.expected_seq(&sender));
        if !signed.message.action.is_table_action() || self.local_id() == Some(sender) {
            return Err(SessionError::NotRelayed);
        }
        if seq < expected {
            return Err(SessionError::Replayed { seq, expected });
        }
        if !self.table.is_seated(&sender) && !matches!(signed.message.action, Action::Sit { .. }) {
            return Err(SessionError::NotParticipant);
        }
        let mine = self
            .previews
            .range((sender, 0)..=(sender, u64::MAX))
            .count();
        if mine >= MAX_PREVIEWS || seq - expected >= MAX_AHEAD {
            return Err(SessionError::TooFarAhead { seq, expected });
        }
        self.previews.insert((sender, seq), signed);
        if self.stage == Stage::Betting {
            self.show_held();
        }
        Ok(())
    }

    /// Handles a message the relay stamped at relay time `at` (its
    /// frame's time). Early messages wait in a bounded buffer until their
    /// turn; an error refers to this message only.
    pub fn handle_relayed(
        &mut self,
        now: Millis,
        signed: SignedMessage,
        at: Millis,
    ) -> Result<(), SessionError> {
        self.receive(now, signed, Some(at))
    }

    /// Replays one transcript entry of this game (another peer's, or a
    /// snapshot's): its message in its turn, as its peer processed it
    /// (relayed at its time, or straight, as that peer's own).
    pub fn replay(&mut self, now: Millis, entry: &TranscriptEntry) -> Result<(), SessionError> {
        self.receive(now, entry.message.clone(), entry.relayed_at)
    }

    fn receive(
        &mut self,
        now: Millis,
        signed: SignedMessage,
        relayed_at: Option<Millis>,
    ) -> Result<(), SessionError> {
        self.admit(&signed)?;
        // Our own message back from the relay: its turn, if it was the
        // first we had not processed (else it waits for its turn like any
        // early message).
        if let Some(local) = self.local.as_mut().filter(|l| l.id == signed.sender) {
            if local.unconfirmed.front() == Some(&signed) {
                let result = self.process(now, signed, relayed_at);
                self.release_own(now);
                self.move_on(now);
                return result;
            }
        }
        let expected = self.expected_seq(&signed.sender);
        let seq = signed.message.seq;
        if seq < expected {
            // (Our own table action, back from the relay: at this point of
            // the relay's order, as every other peer processes it.)
            if let Some(at) = relayed_at.filter(|_| self.held.is_held(&signed)) {
                self.advance_clock(now, at);
                self.expire(now);
                self.held.relayed(&signed);
                self.watch_shooter(now);
                // (The clock may have ended a phase: take our next step.)
                self.move_on(now);
            }
            return Err(SessionError::Replayed { seq, expected });
        }
        if seq > expected || !self.is_due(&signed) {
            // A seat no roll has taken in yet costs nothing to take: it
            // gets a share of its own.
            let sender = &signed.sender;
            let standing = if *sender == self.config.banker || self.round_start.is_seated(sender) {
                Standing::Player
            } else if self.held.sits(sender) {
                Standing::Seating
            } else {
                Standing::Stranger
            };
            return match self.early.hold(signed, relayed_at, expected, standing) {
                Ok(()) => Ok(()),
                Err(Full::TooFar) => Err(SessionError::TooFarAhead { seq, expected }),
                Err(Full::Duplicate) => Err(SessionError::Replayed { seq, expected }),
            };
        }
        // Our own earlier messages coming back (a reload rebuilding its
        // state from the relay's replay): never reuse their numbers; and
        // what the relay carried under a number is what counts under it,
        // whatever this session signed (a tampered copy, say).
        let own = self.local.as_mut().filter(|l| l.id == signed.sender);
        if let Some(local) = own {
            local.next_seq = local.next_seq.max(seq + 1);
        }
        let result = self.process(now, signed, relayed_at);
        self.release_own(now);
        self.move_on(now);
        result
    }

    /// Whether an in-sequence message can be processed now, or must wait:
    /// for a later round, for a phase this peer has not reached yet
    /// (another peer may have seen every commitment and revealed before
    /// the last commitment reached us), for the actions a cut names, or for
    /// room among the held actions.
    fn is_due(&self, signed: &SignedMessage) -> bool {
        let message = &signed.message;
        if message.round > self.round {
            return false;
        }
        if message.action.is_table_action() {
            // Only this sender's own count: whether a message is due never
            // depends on other senders or on what waits in the buffer, so a
            // replay of the transcript decides exactly as the game did.
            return self.held.count(&signed.sender) < MAX_HELD;
        }
        if message.round < self.round {
            return true; // processed now, and refused as stale
        }
        match (&message.action, self.stage) {
            (
                Action::Commit {
                    close: Some(cut), ..
                },
                Stage::Betting,
            ) => cut
                .entries()
                .iter()
                .all(|(sender, last)| self.expected_seq(sender) > *last),
            (Action::Commit { close: None, .. }, Stage::Betting) => false,
            (Action::Reveal { .. }, Stage::Betting | Stage::Committing { .. }) => false,
            _ => true,
        }
    }

    /// What every message must pass, whichever way it came: an open
    /// table, this game, its sender's signature.
    fn admit(&mut self, signed: &SignedMessage) -> Result<(), SessionError> {
        if self.stage == Stage::Closed {
            return Err(SessionError::Closed);
        }
        if signed.message.game != self.config.game {
            return Err(SessionError::WrongGame);
        }
        Ok(self.check_signature(signed)?)
    }

    /// Verifies a message's signature with the sender's cached key. Only
    /// keys that signed a valid message are kept.
    fn check_signature(&mut self, signed: &SignedMessage) -> Result<(), MessageError> {
        if let Some(key) = self.keys.get(&signed.sender) {
            return signed.verify_with(key);
        }
        let key = VerifyingKey::from_bytes(&signed.sender).map_err(|_| MessageError::BadKey)?;
        signed.verify_with(&key)?;
        if self.keys.len() < MAX_KEYS {
            self.keys.insert(signed.sender, key);
        }
        Ok(())
    }

    fn expected_seq(&self, sender: &PlayerId) -> u64 {
        self.expected.get(sender).copied().unwrap_or(1)
    }

    /// The sequence number the next message from `sender` must have.
    pub fn next_seq_from(&self, sender: &PlayerId) -> u64 {
        self.expected_seq(sender)
    }

    /// This peer's own messages up to number `seq` are out already (sent
    /// before this session was rebuilt from a snapshot, which could not
    /// hold them): drops whatever the rebuild signed under those numbers
    /// and never signs another; the relay's copies of the sent ones count
    /// as they come.
    pub fn own_sent_through(&mut self, now: Millis, seq: u64) {
        let Some(local) = self.local.as_mut() else {
            return;
        };
        let me = local.id;
        local.next_seq = local.next_seq.max(seq + 1);
        local.unconfirmed.retain(|m| m.message.seq > seq);
        self.outbox
            .retain(|m| m.sender != me || m.message.seq > seq);
        self.move_on(now);
    }

    /// How many of this peer's own messages wait for the relay's copy
    /// before they count (a timed step, and what it sent after it).
    pub fn unconfirmed(&self) -> usize {
        self.local.as_ref().map_or(0, |l| l.unconfirmed.len())
    }

    /// How many early messages wait for their turn.
    pub fn pending(&self) -> usize {
        self.early.len()
    }

    /// Takes every step the game allows now: our own commitment or reveal
    /// when due, finishing the commit or reveal phase when complete, and
    /// buffered messages whose turn has come. Called after every input, so
    /// no step ever runs inside another.
    fn move_on(&mut self, now: Millis) {
        loop {
            if self.step(now) {
                continue;
            }
            if !self.process_buffered(now) {
                break;
            }
        }
    }

    /// One protocol step, if one is due. Returns whether it took one.
    fn step(&mut self, now: Millis) -> bool {
        let local = self
            .local_id()
            .filter(|id| self.roll_participants.contains(id));
        match self.stage {
            Stage::Committing { .. } => {
                let sent = self.in_flight(|a| matches!(a, Action::Commit { .. }));
                if local.is_some_and(|id| !self.commits.contains_key(&id)) && !sent {
                    if let Ok(action) = self.local_commit(None) {
                        // Our commitment in the commit phase cannot be refused.
                        let _ = self.send_local(now, action);
                    }
                    return true;
                }
                if self.all_committed() {
                    self.finish_commits(now, self.last_commit_at);
                    return true;
                }
                false
            }
            Stage::Revealing { .. } => {
                let sent = self.in_flight(|a| matches!(a, Action::Reveal { .. }));
                if local.is_some_and(|id| !self.reveals.contains_key(&id)) && !sent {
                    if let Some(l) = self.local.as_ref() {
                        let secret = fair::derive_secret(&l.entropy, &self.config.game, self.round);
                        let _ = self.send_local(now, Action::Reveal { secret });
                    }
                    return true;
                }
                if self.all_revealed() {
                    self.finish_roll(now);
                    return true;
                }
                false
            }
            Stage::Betting
                if self.is_banker()
                    && self.roll_asked()
                    && !self
                        .in_flight(|a| matches!(a, Action::Commit { .. } | Action::PassDice)) =>
            {
                self.roll_requests.clear();
                self.close_as_banker(now);
                true
            }
            Stage::Betting | Stage::Closed => false,
        }
    }

    /// Processes the earliest-arrived buffered message whose turn has come.
    fn process_buffered(&mut self, now: Millis) -> bool {
        let ready = self
            .early
            .by_arrival()
            .filter(|(_, m, _)| m.message.seq == self.expected_seq(&m.sender) && self.is_due(m))
            .min_by_key(|(arrival, _, _)| *arrival)
            .map(|(_, m, _)| (m.sender, m.message.seq));
        let Some((signed, relayed_at)) = ready.and_then(|key| self.early.remove(&key)) else {
            return false;
        };
        let sender = signed.sender;
        if let Err(error) = self.process(now, signed, relayed_at) {
            self.events.push_back(Event::Rejected { sender, error });
        }
        if self.local_id() == Some(sender) {
            self.release_own(now);
        }
        if self.stage == Stage::Closed {
            self.early.clear();
        }
        true
    }

    /// A message in its turn: consume its sequence number, read the
    /// relay's time off it (ending a phase whose deadline it is past),
    /// check and apply.
    fn process(
        &mut self,
        now: Millis,
        signed: SignedMessage,
        relayed_at: Option<Millis>,
    ) -> Result<(), SessionError> {
        self.expected.insert(signed.sender, signed.message.seq + 1);
        let sender = signed.sender;
        // Ours: what the relay carried under this number is what counts.
        if let Some(local) = self.local.as_mut().filter(|l| l.id == sender) {
            local
                .unconfirmed
                .retain(|m| m.message.seq > signed.message.seq);
        }
        // Its preview (and any stale one before it) is done: found once,
        // removed by key, never a walk over everyone's previews.
        let shown: Vec<(PlayerId, u64)> = self
            .previews
            .range((sender, 0)..=(sender, signed.message.seq))
            .map(|(key, _)| *key)
            .collect();
        for key in &shown {
            self.previews.remove(key);
        }
        let previewed = !shown.is_empty();
        if let Some(at) = relayed_at {
            self.advance_clock(now, at);
            self.expire(now);
        }
        // Recorded before applying: applying may produce further messages,
        // which must follow this one in the transcript.
        let entry = self.transcript.len();
        self.transcript.push(TranscriptEntry {
            relayed_at,
            message: signed.clone(),
            accepted: false,
        });
        let result = self.apply(now, signed, relayed_at);
        if let Some(e) = self.transcript.get_mut(entry) {
            e.accepted = result.is_ok();
        }
        self.watch_shooter(now);
        if previewed && self.stage == Stage::Betting {
            // It showed already as its preview: show the table afresh.
            self.show_held();
        }
        result
    }

    fn check_stage(&self, sender: &PlayerId, message: &Message) -> Result<(), SessionError> {
        if self.stage == Stage::Closed {
            return Err(SessionError::Closed);
        }
        if message.action.is_table_action() {
            // Judged when a cut takes it in; never refused for its timing.
            return Ok(());
        }
        let round = message.round;
        if matches!(
            message.action,
            Action::Roll | Action::Tick | Action::Settled { .. } | Action::Name { .. }
        ) {
            // A request only the banker acts on, if it is current; the
            // relay's time, which anyone may ask for; a state hash,
            // compared with the roll it names whenever it comes.
            return Ok(());
        }
        if round < self.round {
            return Err(SessionError::StaleRound {
                round,
                current: self.round,
            });
        }
        let seated = self.table.is_seated(sender) || *sender == self.config.banker;
        let banker = *sender == self.config.banker;
        match (&message.action, self.stage) {
            // A request only the banker acts on.
            (Action::Roll, _) => {}
            (Action::Commit { close: Some(_), .. } | Action::PassDice, _) if !banker => {
                return Err(SessionError::NotBanker)
            }
            (Action::Commit { close: Some(_), .. } | Action::PassDice, Stage::Betting) => {}
            (Action::PassDice, _) => return Err(SessionError::BettingClosed),
            (_, _) if !seated => return Err(SessionError::NotParticipant),
            (Action::Commit { close: None, .. }, Stage::Committing { .. }) => {
                if !self.roll_participants.contains(sender) {
                    return Err(SessionError::NotParticipant);
                }
                if self.commits.contains_key(sender) {
                    return Err(SessionError::AlreadyCommitted);
                }
            }
            (Action::Commit { close: Some(_), .. }, _) => return Err(SessionError::BettingClosed),
            (Action::Commit { .. }, _) => return Err(SessionError::NotCommitting),
            (Action::Reveal { .. }, Stage::Revealing { .. }) => {
                if !self.commits.contains_key(sender) || !self.roll_participants.contains(sender) {
                    return Err(SessionError::NotRevealing);
                }
                if self.reveals.contains_key(sender) {
                    return Err(SessionError::AlreadyRevealed);
                }
            }
            (Action::Reveal { .. }, _) => return Err(SessionError::NotRevealing),
            _ => {}
        }
        Ok(())
    }

    fn apply(
        &mut self,
        now: Millis,
        signed: SignedMessage,
        relayed_at: Option<Millis>,
    ) -> Result<(), SessionError> {
        self.check_stage(&signed.sender, &signed.message)?;
        let sender = signed.sender;
        match &signed.message.action {
            Action::Tick => {}
            Action::Settled { round, state_hash } => {
                self.compare_settled(sender, *round, *state_hash);
            }
            Action::Name { name } => {
                if self.names.len() < MAX_NAMES || self.names.contains_key(&sender) {
                    self.names.insert(sender, signed.clone());
                    self.events.push_back(Event::Named {
                        player: sender,
                        name: name.clone(),
                    });
                }
            }
            Action::Commit {
                commitment,
                table_hash,
                close,
            } => {
                // (Timed: only relayed ones get here.)
                let at = relayed_at.unwrap_or(self.clock);
                if let Some(cut) = close {
                    self.close_betting(now, at, cut)?;
                }
                self.last_commit_at = self.last_commit_at.max(at);
                self.commits.insert(sender, (*commitment, *table_hash));
                self.events.push_back(Event::Committed { player: sender });
            }
            Action::Roll => {
                let current = signed.message.round == self.round && self.stage == Stage::Betting;
                // The agreed shooter asked: the banker must close betting
                // within the commit deadline, or the house is gone. It
                // counts from when this round's order reached it (a
                // request signed early waits for its round).
                let agreed = self.agreed_shooter() == Some(sender);
                let seated = self.table.is_seated(&sender);
                if current && self.is_banker() && (seated || agreed) {
                    self.roll_requests.insert(sender);
                }
                if current && agreed && self.roll_asked_at.is_none() {
                    self.roll_asked_at = Some(self.clock);
                    self.schedule_tick(now, self.config.commit_timeout);
                }
            }
            Action::PassDice => {
                let from = self.agreed_shooter();
                if self.round_start.seats().is_empty() {
                    self.passes = self.passes.wrapping_add(1);
                } else {
                    self.round_start.pass_dice();
                }
                self.show_held();
                self.roll_requests.clear();
                self.roll_asked_at = None;
                self.restart_idle(now);
                let to = self.agreed_shooter();
                if let (Some(from), Some(to)) = (from, to) {
                    if from != to {
                        self.events.push_back(Event::DicePassed { from, to });
                    }
                }
            }
            Action::Reveal { secret } => {
                let committed = self.commits.get(&sender).map(|c| c.0);
                let round = self.round;
                if committed != Some(fair::commitment(&self.config.game, round, &sender, secret)) {
                    self.forfeit(sender, ForfeitReason::WrongReveal);
                } else {
                    self.reveals.insert(sender, *secret);
                    self.events.push_back(Event::Revealed { player: sender });
                }
            }
            _ => {
                if self.stage == Stage::Betting {
                    // Shown at once; judged for good when a cut takes it.
                    let _ = apply_to_table(&mut self.table, &sender, &signed.message.action);
                } else {
                    self.events.push_back(Event::HeldOver {
                        player: sender,
                        count: self.held.count(&sender) + 1,
                    });
                }
                self.held.push(signed, relayed_at.is_some());
            }
        }
        Ok(())
    }

    /// The table `cut` makes: the round's start, then every held action the
    /// cut includes (senders in key order), then the banker's coverage. A
    /// contract bet (pass line, come) of this cut that the bankroll cannot
    /// pay is refused, the last first, rather than close the table; only
    /// the contract bets of earlier rounds can do that.
    fn closing(&self, cut: &Cut) -> Closing {
        let included: Vec<&SignedMessage> = self.held.included(cut).collect();
        let contract = |m: &SignedMessage| matches!(m.message.action, Action::Bet { kind, .. } if !kind.is_removable());
        let mut refused: Vec<usize> = Vec::new();
        loop {
            let mut table = self.round_start.clone();
            let mut events = Vec::new();
            for (i, m) in included.iter().enumerate() {
                let result = if refused.contains(&i) {
                    Err(SessionError::Table(TableError::BankerCannotCover {
                        available: table.spare(),
                    }))
                } else {
                    apply_to_table(&mut table, &m.sender, &m.message.action)
                };
                events.push(result.unwrap_or_else(|error| Event::Rejected {
                    sender: m.sender,
                    error,
                }));
            }
            pass_on(&mut table, self.passes);
            match table.cover() {
                Ok(returned) => {
                    events.extend(returned.into_iter().map(|r| Event::BetReturned {
                        player: r.player,
                        kind: r.kind,
                        stake: r.stake,
                    }));
                    return Closing {
                        table,
                        events,
                        solvent: true,
                    };
                }
                Err(_) => {
                    let last = (0..included.len())
                        .rev()
                        .find(|i| !refused.contains(i) && contract(included[*i]));
                    match last {
                        Some(i) => refused.push(i),
                        None => {
                            return Closing {
                                table,
                                events,
                                solvent: false,
                            }
                        }
                    }
                }
            }
        }
    }

    /// The banker's closing commitment, stamped at relay time `opened`:
    /// adopt the table its cut makes, and open the commit phase on it.
    fn close_betting(
        &mut self,
        now: Millis,
        opened: Millis,
        cut: &Cut,
    ) -> Result<(), SessionError> {
        let closing = self.closing(cut);
        if closing.table.seats().is_empty() {
            return Err(SessionError::NobodySeated);
        }
        self.in_roll = self.held.take(cut);
        self.table = closing.table;
        self.events.extend(closing.events);
        for (player, count) in self.held.counts() {
            self.events.push_back(Event::HeldOver { player, count });
        }
        if !closing.solvent {
            let paid = self.table.return_all_stakes();
            self.stage = Stage::Closed;
            self.events.push_back(Event::TableClosed {
                reason: CloseReason::BankrollExhausted,
                paid,
            });
            return Ok(());
        }
        self.table_hash = self.hash_table(b"bitcraps/table/v1", &self.table);
        self.roll_participants = self.table.participants().into_iter().collect();
        self.roll_asked_at = None;
        self.stage = Stage::Committing { opened };
        self.last_commit_at = opened;
        self.schedule_tick(now, self.config.commit_timeout);
        self.events.push_back(Event::BettingClosed {
            round: self.round,
            table_hash: self.table_hash,
        });
        Ok(())
    }

    fn all_committed(&self) -> bool {
        self.roll_participants
            .iter()
            .all(|p| self.commits.contains_key(p))
    }

    fn all_revealed(&self) -> bool {
        self.roll_participants
            .iter()
            .all(|p| self.reveals.contains_key(p))
    }

    /// Whether the banker's closing commitment names this peer's table
    /// hash (the table its cut makes here).
    fn agrees_with_banker(&self) -> bool {
        self.banker_hash() == Some(self.table_hash)
    }

    fn banker_hash(&self) -> Option<Digest32> {
        self.commits.get(&self.config.banker).map(|(_, hash)| *hash)
    }

    /// Whether players committed and none named the banker's table: the
    /// banker's is the odd one, and the round is called off on every peer
    /// (decided by the commitments alone, so alike everywhere).
    fn banker_alone(&self) -> bool {
        let banker = self.config.banker;
        let mut players = self.commits.iter().filter(|(p, _)| **p != banker);
        let first = players.next();
        first.is_some()
            && first
                .into_iter()
                .chain(players)
                .all(|(_, (_, hash))| Some(*hash) != self.banker_hash())
    }

    /// The peers hold different tables: call the round off and undo its
    /// actions (putting them back would only make the same tables again).
    fn abort_round(&mut self, now: Millis) {
        let round = self.round;
        let named: Vec<(PlayerId, Digest32)> = self
            .commits
            .iter()
            .map(|(p, (_, hash))| (*p, *hash))
            .collect();
        let me = self.local.as_ref().map(|l| l.id);
        // Alone: every other participant named one table and not this
        // peer's, or this peer's differs from the banker's and another
        // player named the banker's (a third, garbage, hash cannot keep an
        // honest peer that missed something from catching up).
        let banker = self.config.banker;
        let backed = named
            .iter()
            .any(|(p, hash)| *p != banker && Some(*p) != me && Some(*hash) == self.banker_hash());
        let alone = named_against(&named, &self.table_hash, me.as_slice())
            || (backed && !self.agrees_with_banker());
        let table_hash = self.table_hash;
        self.in_roll.clear();
        self.table = self.round_start.clone();
        self.next_round();
        self.restart_idle(now);
        self.events.push_back(Event::RoundAborted {
            round,
            alone,
            table_hash,
            named,
        });
    }

    /// All commitments are in (or the deadline passed). This peer holds
    /// the banker's table: whoever committed to another sits the roll
    /// out, and the others reveal at relay time `opened`. It does not (it
    /// missed something, or the banker is faulty): the round is called off
    /// here, and if every other participant named one table, this peer
    /// was alone and takes the game from a player.
    fn finish_commits(&mut self, now: Millis, opened: Millis) {
        if !self.agrees_with_banker() || self.banker_alone() {
            self.abort_round(now);
            return;
        }
        let table_hash = self.table_hash;
        let dissent: Vec<(PlayerId, Digest32)> = self
            .commits
            .iter()
            .filter(|(_, (_, hash))| *hash != table_hash)
            .map(|(p, (_, hash))| (*p, *hash))
            .collect();
        for (player, named) in dissent {
            self.commits.remove(&player);
            self.roll_participants.remove(&player);
            self.events.push_back(Event::SatOut {
                player,
                named,
                table_hash,
            });
        }
        self.stage = Stage::Revealing { opened };
        self.schedule_tick(now, self.config.reveal_timeout);
    }

    /// A phase of `timeout` opened (this peer learnt it at `now`): if it is
    /// still open a little after that on this peer's clock, ask for the
    /// relay's time.
    fn schedule_tick(&mut self, now: Millis, timeout: Millis) {
        self.tick_at = self
            .local
            .is_some()
            .then(|| now.saturating_add(timeout).saturating_add(TICK_GRACE));
    }

    /// Ends every phase whose deadline the relay's clock has passed: who
    /// has not committed (or revealed) by then forfeits.
    fn expire(&mut self, now: Millis) {
        loop {
            let Some(deadline) = self.deadline().filter(|d| self.clock > *d) else {
                return;
            };
            match self.stage {
                Stage::Committing { .. } if !self.agrees_with_banker() || self.banker_alone() => {
                    self.abort_round(now)
                }
                Stage::Committing { .. } => {
                    let missing = |s: &Self, p: &PlayerId| !s.commits.contains_key(p);
                    self.forfeit_missing(missing, ForfeitReason::NoCommit);
                    if self.stage != Stage::Closed {
                        self.finish_commits(now, deadline);
                    }
                }
                Stage::Revealing { .. } => {
                    let missing = |s: &Self, p: &PlayerId| !s.reveals.contains_key(p);
                    self.forfeit_missing(missing, ForfeitReason::NoReveal);
                    if self.stage != Stage::Closed {
                        self.finish_roll(now);
                    }
                }
                Stage::Betting => {
                    self.house_gone();
                    return;
                }
                Stage::Closed => return,
            }
        }
    }

    /// The shooter asked and the banker did not close betting in time, or
    /// nobody asked and the banker did not pass an idle shooter's dice in
    /// time: no roll; the table closes with every stake on the agreed
    /// table returned (actions no cut took never staked anything).
    fn house_gone(&mut self) {
        self.table = self.round_start.clone();
        let paid = self.table.return_all_stakes();
        self.stage = Stage::Closed;
        self.tick_at = None;
        self.events.push_back(Event::TableClosed {
            reason: CloseReason::HouseGone,
            paid,
        });
    }

    /// Every participant whose step is `missing` forfeits for `reason`.
    fn forfeit_missing(
        &mut self,
        missing: impl Fn(&Self, &PlayerId) -> bool,
        reason: ForfeitReason,
    ) {
        let late: Vec<PlayerId> = self
            .roll_participants
            .iter()
            .filter(|p| missing(self, p))
            .copied()
            .collect();
        for player in late {
            self.forfeit(player, reason);
        }
    }

    fn forfeit(&mut self, player: PlayerId, reason: ForfeitReason) {
        self.roll_participants.remove(&player);
        self.forfeited.push((player, reason));
        self.events.push_back(Event::Forfeited { player, reason });
        if player == self.config.banker {
            let paid = self.table.banker_default();
            self.stage = Stage::Closed;
            self.events.push_back(Event::TableClosed {
                reason: CloseReason::BankerDefaulted,
                paid,
            });
        } else {
            let _ = self.table.forfeit(&player);
        }
    }

    fn finish_roll(&mut self, now: Millis) {
        let game = self.config.game;
        let roll = fair::roll_from_reveals(&game, self.round, self.reveals.iter());
        let settlement = match self.table.settle(roll) {
            Ok(s) => s,
            Err(_) => {
                // Coverage was checked before the roll, so only a chip
                // overflow can fail here; settlement changed nothing, and no
                // peer can continue such a table: it closes, every bet paid.
                let paid = self.table.banker_default();
                self.stage = Stage::Closed;
                self.events.push_back(Event::TableClosed {
                    reason: CloseReason::BankerDefaulted,
                    paid,
                });
                return;
            }
        };
        let record = RollRecord {
            round: self.round,
            commits: self.commits.iter().map(|(p, (c, _))| (*p, *c)).collect(),
            reveals: self.reveals.iter().map(|(p, s)| (*p, *s)).collect(),
            forfeited: std::mem::take(&mut self.forfeited),
            table_hash: self.table_hash,
            roll,
            settlement,
            state_hash: [0; 32],
        };
        self.in_roll.clear();
        self.next_round();
        self.restart_idle(now);
        let mut record = record;
        record.state_hash = self.state_hash();
        self.history.push(record.clone());
        self.take_checkpoint(record.round, record.state_hash);
        // Each participant says what it holds after the roll: a peer that
        // diverged is found now, not at the next round's commitments.
        let me = self.local_id();
        if me.is_some_and(|id| record.commits.iter().any(|(p, _)| *p == id)) {
            let _ = self.send_local(
                now,
                Action::Settled {
                    round: record.round,
                    state_hash: record.state_hash,
                },
            );
        }
        self.events.push_back(Event::Rolled(Box::new(record)));
    }

    /// Opens the next round on the table as it stands, and shows every
    /// held action on it.
    fn next_round(&mut self) {
        self.round += 1;
        self.stage = Stage::Betting;
        self.passes = 0;
        self.tick_at = None;
        self.roll_asked_at = None;
        self.roll_requests.clear();
        self.round_start = self.table.clone();
        self.show_held();
        self.commits.clear();
        self.reveals.clear();
        self.roll_participants.clear();
        self.forfeited.clear();
    }

    /// The tentative table: the round's start with every held action,
    /// then every preview.
    fn show_held(&mut self) {
        self.table = self.round_start.clone();
        for m in self.held.iter().chain(self.previews.values()) {
            let _ = apply_to_table(&mut self.table, &m.sender, &m.message.action);
        }
        pass_on(&mut self.table, self.passes);
    }

    /// Acts on this peer's clock: the banker passes the dice of an idle
    /// shooter; a peer whose clock says a phase's deadline has passed asks
    /// for the relay's time (the verdict is the relay clock's, see the
    /// module's header).
    pub fn handle_timeout(&mut self, now: Millis) {
        if self.stage == Stage::Betting && self.pass_dice_at().is_some_and(|at| now >= at) {
            // Our own message: in everyone's order like any other.
            self.shooter_since = now;
            let _ = self.send_local(now, Action::PassDice);
            self.move_on(now);
        }
        match self.stage {
            Stage::Closed => {}
            _ if self.deadline().is_none() => {}
            _ => {
                if self.tick_at.is_some_and(|at| now >= at) {
                    // Again if the relay's time is not past the deadline
                    // yet (this clock runs fast); one at a time (none
                    // piles up while the relay is out of reach).
                    let timeout = self.config.commit_timeout.min(self.config.reveal_timeout);
                    self.tick_at = Some(now.saturating_add((timeout / 4).max(TICK_GRACE)));
                    if !self.in_flight(|a| *a == Action::Tick) {
                        let _ = self.send_local(now, Action::Tick);
                        self.move_on(now);
                    }
                }
            }
        }
    }
}

/// Passes the dice `passes` times: as often as the banker passed them
/// before anyone sat at the agreed table (zero once someone does).
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

fn pass_on(table: &mut Table, passes: usize) {
    let seats = table.seats().len().max(1);
    for _ in 0..passes % seats {
        table.pass_dice();
    }
}

/// Applies a table action (sit, buy in, bet, take down, leave).
fn apply_to_table(
    table: &mut Table,
    sender: &PlayerId,
    action: &Action,
) -> Result<Event, SessionError> {
    let player = *sender;
    Ok(match *action {
        Action::Sit { buy_in } => {
            table.sit(player, buy_in)?;
            Event::Sat { player, buy_in }
        }
        Action::BuyIn { amount } => {
            table.buy_in(sender, amount)?;
            Event::BoughtIn { player, amount }
        }
        Action::Bet { kind, stake } => {
            table.place_bet(sender, kind, stake)?;
            Event::BetPlaced {
                player,
                kind,
                stake,
            }
        }
        Action::TakeDown { kind } => {
            let stake = table.take_down(sender, kind)?;
            Event::BetTakenDown {
                player,
                kind,
                stake,
            }
        }
        Action::Working { kind, working } => {
            table.set_working(sender, kind, working)?;
            Event::WorkingSet {
                player,
                kind,
                working,
            }
        }
        Action::Leave => {
            let balance = table.leave(sender)?;
            Event::Left { player, balance }
        }
        // Commit and reveal are protocol steps handled by the session,
        // never table actions.
        Action::Commit { .. }
        | Action::Reveal { .. }
        | Action::Roll
        | Action::PassDice
        | Action::Tick
        | Action::Settled { .. }
        | Action::Name { .. } => return Err(SessionError::NotCommitting),
    })
}
