//! One game as a sans-I/O state machine: messages and the time go in;
//! messages to send, events to show and the next deadline come out.
//!
//! ```text
//! handle_message(now, signed) -> Result<(), SessionError>
//! handle_timeout(now)
//! poll_transmit() -> Option<SignedMessage>     (sign once, send to every peer)
//! poll_event()    -> Option<Event>
//! poll_timeout()  -> Option<Millis>
//! ```
//!
//! A round goes: **betting** (sit, buy in, bet, take down, leave) until the
//! shooter commits; that closes betting, and every participant (the banker
//! and every seated player) commits to a secret and to the hash of the table
//! it sees; when all commitments are in and name the same table hash, each
//! **reveals**; the dice come from all reveals (see [`crate::fair`]), the
//! table settles, and every peer holds the same state hash.
//!
//! Deadlines, judged on the local clock: a participant that has not
//! committed `commit_timeout` after betting closed, or not revealed
//! `reveal_timeout` after the reveals opened (or revealed a secret that does
//! not match its commitment), forfeits its bets to the banker and leaves;
//! the roll is then decided by the remaining reveals. A banker that does so
//! pays every bet on the table at its best and the table closes. If the
//! commitments name different table hashes the peers saw different bets:
//! the round is called off, every peer returns to the state at its start,
//! and betting reopens in the next round.
//!
//! Every message is checked: game, signature, sender's sequence number
//! (duplicates and replays are refused; early ones wait in a bounded
//! buffer), round, phase and seat. The session never panics on input.
//!
//! It deliberately does no I/O and reads no clock: the caller passes `now`
//! in milliseconds on any monotonic clock.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::craps::{BetKind, BetResult, PlayerId, Settlement, Table, TableError, TableRules};
use crate::dice::Roll;
use crate::fair::{self, Digest32, GameId, Secret};
use crate::message::{Action, Message, MessageError, SignedMessage};

/// Milliseconds on the caller's monotonic clock.
pub type Millis = u64;

/// The most messages one sender may be ahead of the next expected one.
pub const MAX_AHEAD: u64 = 64;
/// The most early messages a session buffers in total.
pub const MAX_PENDING: usize = 1024;

/// Everything the peers of one game agree on before it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GameConfig {
    /// The game.
    pub game: GameId,
    /// The table rules.
    pub rules: TableRules,
    /// The banker's public key.
    pub banker: PlayerId,
    /// The banker's bankroll (its buy-in).
    pub bankroll: u64,
    /// How long participants have to commit once betting closes.
    pub commit_timeout: Millis,
    /// How long participants have to reveal once all have committed.
    pub reveal_timeout: Millis,
}

/// Why bytes are not a game configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a table configuration is {CONFIG_LEN} bytes of valid rules")]
pub struct ConfigError;

/// Length of an encoded [`GameConfig`].
pub const CONFIG_LEN: usize = 16 + 23 + 32 + 8 + 8 + 8;

impl GameConfig {
    /// The configuration's bytes (the payload of a `Table` frame):
    /// `game[16] rules[23] banker[32] bankroll u64 commit_timeout u64
    /// reveal_timeout u64`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(CONFIG_LEN);
        out.extend_from_slice(&self.game);
        self.rules.encode(&mut out);
        out.extend_from_slice(&self.banker);
        out.extend_from_slice(&self.bankroll.to_be_bytes());
        out.extend_from_slice(&self.commit_timeout.to_be_bytes());
        out.extend_from_slice(&self.reveal_timeout.to_be_bytes());
        out
    }

    /// Parses [`GameConfig::encode`]'s bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, ConfigError> {
        if bytes.len() != CONFIG_LEN {
            return Err(ConfigError);
        }
        let u64_at = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[at..at + 8]);
            u64::from_be_bytes(b)
        };
        let mut game = [0u8; 16];
        game.copy_from_slice(&bytes[..16]);
        let rules = TableRules::decode(&bytes[16..39]).ok_or(ConfigError)?;
        let mut banker = [0u8; 32];
        banker.copy_from_slice(&bytes[39..71]);
        Ok(Self {
            game,
            rules,
            banker,
            bankroll: u64_at(71),
            commit_timeout: u64_at(79),
            reveal_timeout: u64_at(87),
        })
    }

    /// A game with default rules and 10-second deadlines.
    pub fn new(game: GameId, banker: PlayerId, bankroll: u64) -> Self {
        Self {
            game,
            rules: TableRules::default(),
            banker,
            bankroll,
            commit_timeout: 10_000,
            reveal_timeout: 10_000,
        }
    }
}

/// Why a message or action was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// The message belongs to another game.
    #[error("message for another game")]
    WrongGame,
    /// The bytes or signature are bad.
    #[error("invalid message: {0}")]
    Invalid(#[from] MessageError),
    /// A sequence number already seen from this sender (duplicate or replay).
    #[error("replayed message: seq {seq}, expected {expected}")]
    Replayed {
        /// The message's sequence number.
        seq: u64,
        /// The next one expected from that sender.
        expected: u64,
    },
    /// Too far ahead of the next expected message, or the buffer is full.
    #[error("message too far ahead (seq {seq}, expected {expected})")]
    TooFarAhead {
        /// The message's sequence number.
        seq: u64,
        /// The next one expected from that sender.
        expected: u64,
    },
    /// The message is for a round that is over.
    #[error("message for round {round}, but round {current} is under way")]
    StaleRound {
        /// The message's round.
        round: u64,
        /// The current round.
        current: u64,
    },
    /// The sender takes no part in this game.
    #[error("sender is not at this table")]
    NotParticipant,
    /// Betting is closed for this round (a commitment is already in).
    #[error("betting is closed for this round")]
    BettingClosed,
    /// Only the shooter may start the roll.
    #[error("only the shooter may start the roll")]
    NotShooter,
    /// A commitment outside the commit phase.
    #[error("not accepting commitments now")]
    NotCommitting,
    /// A second commitment from the same participant.
    #[error("already committed this round")]
    AlreadyCommitted,
    /// A reveal outside the reveal phase, or from a non-committer.
    #[error("not accepting reveals now")]
    NotRevealing,
    /// A second reveal from the same participant.
    #[error("already revealed this round")]
    AlreadyRevealed,
    /// The table refused the action.
    #[error(transparent)]
    Table(#[from] TableError),
    /// The table has closed.
    #[error("the table is closed")]
    Closed,
    /// This session only observes; it has no key to act with.
    #[error("this session observes only")]
    ObserverOnly,
}

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
        self.reveals
            .iter()
            .all(|(p, s)| commits.get(p) == Some(&fair::commitment(game, self.round, p, s)))
            && fair::roll_from_reveals(game, self.round, self.reveals.iter().map(|(p, s)| (p, s)))
                == self.roll
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
    /// The banker defaulted; every bet was paid and the table closed.
    TableClosed {
        /// The bets paid out.
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

/// One entry of a game's transcript: enough to replay it (see
/// [`crate::verify`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // nearly every entry is a message: boxing would only add allocations
pub enum TranscriptEntry {
    /// A message processed in its turn, and whether it was accepted.
    Message {
        /// When.
        at: Millis,
        /// The message.
        message: SignedMessage,
        /// Whether it was accepted.
        accepted: bool,
    },
    /// A deadline that passed and changed the game.
    Timeout {
        /// When.
        at: Millis,
    },
}

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
    /// Leave the table.
    Leave,
    /// Start the roll (shooter only).
    Roll,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Betting,
    Committing { deadline: Millis },
    Revealing { deadline: Millis },
    Closed,
}

struct Local {
    key: SigningKey,
    id: PlayerId,
    entropy: [u8; 32],
    next_seq: u64,
}

/// One game, as one peer (or an observer) sees it.
pub struct Session {
    config: GameConfig,
    table: Table,
    round_start: Table,
    round: u64,
    stage: Stage,
    table_hash: Digest32,
    roll_participants: BTreeSet<PlayerId>,
    commits: BTreeMap<PlayerId, (Digest32, Digest32)>,
    reveals: BTreeMap<PlayerId, Secret>,
    forfeited: Vec<(PlayerId, ForfeitReason)>,
    expected: BTreeMap<PlayerId, u64>,
    pending: BTreeMap<(PlayerId, u64), (u64, SignedMessage)>,
    arrivals: u64,
    local: Option<Local>,
    outbox: VecDeque<SignedMessage>,
    events: VecDeque<Event>,
    transcript: Vec<TranscriptEntry>,
    history: Vec<RollRecord>,
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
            table_hash: [0; 32],
            roll_participants: BTreeSet::new(),
            commits: BTreeMap::new(),
            reveals: BTreeMap::new(),
            forfeited: Vec::new(),
            expected: BTreeMap::new(),
            pending: BTreeMap::new(),
            arrivals: 0,
            local: None,
            outbox: VecDeque::new(),
            events: VecDeque::new(),
            transcript: Vec::new(),
            history: Vec::new(),
            keys: HashMap::new(),
        }
    }

    /// The game's configuration.
    pub fn config(&self) -> &GameConfig {
        &self.config
    }

    /// The table as this peer sees it.
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

    /// Every roll so far.
    pub fn history(&self) -> &[RollRecord] {
        &self.history
    }

    /// The transcript so far.
    pub fn transcript(&self) -> &[TranscriptEntry] {
        &self.transcript
    }

    /// The hash of the whole current state. Equal on every peer that
    /// processed the same messages.
    pub fn state_hash(&self) -> Digest32 {
        self.hash(b"bitcraps/state/v1")
    }

    fn hash(&self, domain: &[u8]) -> Digest32 {
        let mut bytes = Vec::with_capacity(256);
        self.table.encode(&mut bytes);
        let mut h = Sha256::new();
        h.update(domain);
        h.update(self.config.game);
        h.update(self.round.to_be_bytes());
        h.update(bytes);
        h.finalize().into()
    }

    /// The next message to send to every other peer.
    pub fn poll_transmit(&mut self) -> Option<SignedMessage> {
        self.outbox.pop_front()
    }

    /// The next event to show.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Session::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Millis> {
        match self.stage {
            Stage::Committing { deadline } | Stage::Revealing { deadline } => Some(deadline),
            Stage::Betting | Stage::Closed => None,
        }
    }

    // ----- local actions -------------------------------------------------

    /// Performs one of this peer's own actions.
    pub fn perform(&mut self, now: Millis, action: LocalAction) -> Result<(), SessionError> {
        match action {
            LocalAction::Sit { buy_in } => self.sit(now, buy_in),
            LocalAction::BuyIn { amount } => self.buy_in(now, amount),
            LocalAction::Bet { kind, stake } => self.place_bet(now, kind, stake),
            LocalAction::TakeDown { kind } => self.take_down(now, kind),
            LocalAction::Leave => self.leave(now),
            LocalAction::Roll => self.roll(now),
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

    /// Leaves the table.
    pub fn leave(&mut self, now: Millis) -> Result<(), SessionError> {
        self.act(now, Action::Leave)
    }

    /// Starts the roll (shooter only): commits, which closes betting.
    pub fn roll(&mut self, now: Millis) -> Result<(), SessionError> {
        let local = self.local.as_ref().ok_or(SessionError::ObserverOnly)?;
        if self.stage != Stage::Betting {
            return Err(SessionError::BettingClosed);
        }
        if self.table.shooter() != Some(local.id) {
            return Err(SessionError::NotShooter);
        }
        let action = self.local_commit()?;
        self.act(now, action)
    }

    fn local_commit(&self) -> Result<Action, SessionError> {
        let local = self.local.as_ref().ok_or(SessionError::ObserverOnly)?;
        let secret = fair::derive_secret(&local.entropy, &self.config.game, self.round);
        let table_hash = match self.stage {
            Stage::Betting => self.hash(b"bitcraps/table/v1"),
            _ => self.table_hash,
        };
        Ok(Action::Commit {
            commitment: fair::commitment(&self.config.game, self.round, &local.id, &secret),
            table_hash,
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

    /// Signs, checks, applies and queues one local message; nothing more.
    fn send_local(&mut self, now: Millis, action: Action) -> Result<(), SessionError> {
        if self.stage == Stage::Closed {
            return Err(SessionError::Closed);
        }
        let local = self.local.as_ref().ok_or(SessionError::ObserverOnly)?;
        let signed = Message {
            game: self.config.game,
            round: self.round,
            seq: local.next_seq,
            action,
        }
        .sign(&local.key);
        // Check first (on a copy of the table), so a refused action consumes
        // no sequence number and nothing is sent.
        self.precheck(&signed)?;
        if let Some(local) = self.local.as_mut() {
            local.next_seq += 1;
        }
        self.outbox.push_back(signed);
        self.process(now, signed)
    }

    fn precheck(&self, signed: &SignedMessage) -> Result<(), SessionError> {
        self.check_stage(signed)?;
        if !matches!(
            signed.message.action,
            Action::Commit { .. } | Action::Reveal { .. }
        ) {
            apply_to_table(
                &mut self.table.clone(),
                &signed.sender,
                signed.message.action,
            )?;
        }
        Ok(())
    }

    // ----- network input -------------------------------------------------

    /// Handles a message from the network. Early messages wait in a bounded
    /// buffer until their turn; an error refers to this message only.
    pub fn handle_message(
        &mut self,
        now: Millis,
        signed: SignedMessage,
    ) -> Result<(), SessionError> {
        if self.stage == Stage::Closed {
            return Err(SessionError::Closed);
        }
        if signed.message.game != self.config.game {
            return Err(SessionError::WrongGame);
        }
        self.check_signature(&signed)?;
        let expected = self.expected_seq(&signed.sender);
        let seq = signed.message.seq;
        if seq < expected {
            return Err(SessionError::Replayed { seq, expected });
        }
        if seq > expected || !self.is_due(&signed) {
            if seq - expected >= MAX_AHEAD || self.pending.len() >= MAX_PENDING {
                return Err(SessionError::TooFarAhead { seq, expected });
            }
            if self.pending.contains_key(&(signed.sender, seq)) {
                return Err(SessionError::Replayed { seq, expected });
            }
            self.arrivals += 1;
            self.pending
                .insert((signed.sender, seq), (self.arrivals, signed));
            return Ok(());
        }
        // Our own earlier messages coming back (a reload rebuilding its
        // state from the relay's replay): never reuse their numbers.
        if let Some(local) = self.local.as_mut().filter(|l| l.id == signed.sender) {
            local.next_seq = local.next_seq.max(seq + 1);
        }
        let result = self.process(now, signed);
        self.move_on(now);
        result
    }

    /// Whether an in-sequence message can be processed now, or must wait:
    /// for a later round, or for a phase this peer has not reached yet
    /// (another peer may have seen every commitment and revealed before
    /// the last commitment reached us).
    fn is_due(&self, signed: &SignedMessage) -> bool {
        if signed.message.round > self.round {
            return false;
        }
        if signed.message.round < self.round {
            return true; // processed now, and refused as stale
        }
        match (signed.message.action, self.stage) {
            (Action::Commit { .. }, Stage::Betting) => self.table.shooter() == Some(signed.sender),
            (Action::Reveal { .. }, Stage::Betting | Stage::Committing { .. }) => false,
            _ => true,
        }
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

    /// How many early messages wait for their turn.
    pub fn pending(&self) -> usize {
        self.pending.len()
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
                if local.is_some_and(|id| !self.commits.contains_key(&id)) {
                    if let Ok(action) = self.local_commit() {
                        // Our commitment in the commit phase cannot be refused.
                        let _ = self.send_local(now, action);
                    }
                    return true;
                }
                if self.all_committed() {
                    self.finish_commits(now);
                    return true;
                }
                false
            }
            Stage::Revealing { .. } => {
                if local.is_some_and(|id| !self.reveals.contains_key(&id)) {
                    if let Some(l) = self.local.as_ref() {
                        let secret = fair::derive_secret(&l.entropy, &self.config.game, self.round);
                        let _ = self.send_local(now, Action::Reveal { secret });
                    }
                    return true;
                }
                if self.all_revealed() {
                    self.finish_roll();
                    return true;
                }
                false
            }
            Stage::Betting | Stage::Closed => false,
        }
    }

    /// Processes the earliest-arrived buffered message whose turn has come.
    fn process_buffered(&mut self, now: Millis) -> bool {
        let ready = self
            .pending
            .iter()
            .filter(|(&(sender, seq), (_, m))| seq == self.expected_seq(&sender) && self.is_due(m))
            .min_by_key(|(_, (arrival, _))| *arrival)
            .map(|(key, _)| *key);
        let Some((_, signed)) = ready.and_then(|key| self.pending.remove(&key)) else {
            return false;
        };
        if let Err(error) = self.process(now, signed) {
            self.events.push_back(Event::Rejected {
                sender: signed.sender,
                error,
            });
        }
        if self.stage == Stage::Closed {
            self.pending.clear();
        }
        true
    }

    /// A message in its turn: consume its sequence number, check and apply.
    fn process(&mut self, now: Millis, signed: SignedMessage) -> Result<(), SessionError> {
        self.expected.insert(signed.sender, signed.message.seq + 1);
        // Recorded before applying: applying may produce further messages,
        // which must follow this one in the transcript.
        let entry = self.transcript.len();
        self.transcript.push(TranscriptEntry::Message {
            at: now,
            message: signed,
            accepted: false,
        });
        let result = self.apply(now, &signed);
        if let Some(TranscriptEntry::Message { accepted, .. }) = self.transcript.get_mut(entry) {
            *accepted = result.is_ok();
        }
        result
    }

    fn check_stage(&self, signed: &SignedMessage) -> Result<(), SessionError> {
        let round = signed.message.round;
        if round < self.round {
            return Err(SessionError::StaleRound {
                round,
                current: self.round,
            });
        }
        let sender = &signed.sender;
        let seated = self.table.is_seated(sender) || *sender == self.config.banker;
        match signed.message.action {
            Action::Sit { .. } => {}
            _ if !seated => return Err(SessionError::NotParticipant),
            _ => {}
        }
        match (signed.message.action, self.stage) {
            (Action::Commit { .. }, Stage::Betting) => {
                if self.table.shooter() != Some(*sender) {
                    return Err(SessionError::NotShooter);
                }
            }
            (Action::Commit { .. }, Stage::Committing { .. }) => {
                if !self.roll_participants.contains(sender) {
                    return Err(SessionError::NotParticipant);
                }
                if self.commits.contains_key(sender) {
                    return Err(SessionError::AlreadyCommitted);
                }
            }
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
            (_, Stage::Betting) => {}
            (_, Stage::Closed) => return Err(SessionError::Closed),
            (_, _) => return Err(SessionError::BettingClosed),
        }
        Ok(())
    }

    fn apply(&mut self, now: Millis, signed: &SignedMessage) -> Result<(), SessionError> {
        self.check_stage(signed)?;
        let sender = signed.sender;
        match signed.message.action {
            Action::Commit {
                commitment,
                table_hash,
            } => {
                if self.stage == Stage::Betting {
                    self.close_betting(now);
                }
                self.commits.insert(sender, (commitment, table_hash));
                self.events.push_back(Event::Committed { player: sender });
            }
            Action::Reveal { secret } => {
                let committed = self.commits.get(&sender).map(|c| c.0);
                let round = self.round;
                if committed != Some(fair::commitment(&self.config.game, round, &sender, &secret)) {
                    self.forfeit(sender, ForfeitReason::WrongReveal);
                } else {
                    self.reveals.insert(sender, secret);
                    self.events.push_back(Event::Revealed { player: sender });
                }
            }
            action => {
                let event = apply_to_table(&mut self.table, &sender, action)?;
                self.events.push_back(event);
            }
        }
        Ok(())
    }

    fn close_betting(&mut self, now: Millis) {
        self.table_hash = self.hash(b"bitcraps/table/v1");
        self.roll_participants = self.table.participants().into_iter().collect();
        self.stage = Stage::Committing {
            deadline: now.saturating_add(self.config.commit_timeout),
        };
        self.events.push_back(Event::BettingClosed {
            round: self.round,
            table_hash: self.table_hash,
        });
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

    /// Whether every commitment so far names this peer's table hash.
    fn commits_agree(&self) -> bool {
        self.commits
            .values()
            .all(|(_, hash)| *hash == self.table_hash)
    }

    /// The peers saw different tables: undo the round.
    fn abort_round(&mut self) {
        let round = self.round;
        let named: Vec<(PlayerId, Digest32)> = self
            .commits
            .iter()
            .map(|(p, (_, hash))| (*p, *hash))
            .collect();
        let me = self.local.as_ref().map(|l| l.id);
        let alone = named_against(&named, &self.table_hash, me.as_slice());
        let table_hash = self.table_hash;
        self.table = self.round_start.clone();
        self.next_round();
        self.events.push_back(Event::RoundAborted {
            round,
            alone,
            table_hash,
            named,
        });
    }

    /// All commitments are in (or the deadline passed): agree or abort.
    fn finish_commits(&mut self, now: Millis) {
        if !self.commits_agree() {
            self.abort_round();
            return;
        }
        self.stage = Stage::Revealing {
            deadline: now.saturating_add(self.config.reveal_timeout),
        };
    }

    fn forfeit(&mut self, player: PlayerId, reason: ForfeitReason) {
        self.roll_participants.remove(&player);
        self.forfeited.push((player, reason));
        self.events.push_back(Event::Forfeited { player, reason });
        if player == self.config.banker {
            let paid = self.table.banker_default();
            self.stage = Stage::Closed;
            self.events.push_back(Event::TableClosed { paid });
        } else {
            let _ = self.table.forfeit(&player);
        }
    }

    fn finish_roll(&mut self) {
        let game = self.config.game;
        let roll = fair::roll_from_reveals(&game, self.round, self.reveals.iter());
        let settlement = match self.table.settle(roll) {
            Ok(s) => s,
            Err(_) => {
                // Only a chip overflow can fail here; no peer can continue
                // such a table, so it closes with every bet paid back.
                let paid = self.table.banker_default();
                self.stage = Stage::Closed;
                self.events.push_back(Event::TableClosed { paid });
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
        self.next_round();
        let mut record = record;
        record.state_hash = self.state_hash();
        self.history.push(record.clone());
        self.events.push_back(Event::Rolled(Box::new(record)));
    }

    fn next_round(&mut self) {
        self.round += 1;
        self.stage = Stage::Betting;
        self.round_start = self.table.clone();
        self.commits.clear();
        self.reveals.clear();
        self.roll_participants.clear();
        self.forfeited.clear();
    }

    /// Applies deadlines that have passed.
    pub fn handle_timeout(&mut self, now: Millis) {
        let fired = match self.stage {
            Stage::Committing { deadline } if now >= deadline && !self.commits_agree() => {
                self.abort_round();
                true
            }
            Stage::Committing { deadline } if now >= deadline => {
                let late: Vec<_> = self
                    .roll_participants
                    .iter()
                    .filter(|p| !self.commits.contains_key(*p))
                    .copied()
                    .collect();
                for player in late {
                    self.forfeit(player, ForfeitReason::NoCommit);
                }
                if self.stage != Stage::Closed {
                    self.finish_commits(now);
                }
                true
            }
            Stage::Revealing { deadline } if now >= deadline => {
                let late: Vec<_> = self
                    .roll_participants
                    .iter()
                    .filter(|p| !self.reveals.contains_key(*p))
                    .copied()
                    .collect();
                for player in late {
                    self.forfeit(player, ForfeitReason::NoReveal);
                }
                if self.stage != Stage::Closed {
                    self.finish_roll();
                }
                true
            }
            _ => false,
        };
        if fired {
            self.transcript.push(TranscriptEntry::Timeout { at: now });
            self.move_on(now);
        }
    }
}

/// Applies a table action (sit, buy in, bet, take down, leave).
fn apply_to_table(
    table: &mut Table,
    sender: &PlayerId,
    action: Action,
) -> Result<Event, SessionError> {
    let player = *sender;
    Ok(match action {
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
        Action::Leave => {
            let balance = table.leave(sender)?;
            Event::Left { player, balance }
        }
        // Commit and reveal are protocol steps handled by the session,
        // never table actions.
        Action::Commit { .. } | Action::Reveal { .. } => return Err(SessionError::NotCommitting),
    })
}
