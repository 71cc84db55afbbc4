//! Why a session refuses a message or a local action.

use crate::craps::TableError;
use crate::message::MessageError;

/// Why a message or action was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, strum::IntoStaticStr)]
#[strum(serialize_all = "kebab-case")]
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
    /// This player already has [`crate::session::MAX_HELD`] actions
    /// waiting for the next roll.
    #[error("too many of your actions are waiting for the roll")]
    TooManyWaiting,
    /// Only the banker closes betting and passes the dice.
    #[error("only the banker may do that")]
    NotBanker,
    /// Nobody is seated: there is nothing to roll.
    #[error("nobody is seated")]
    NobodySeated,
    /// A commitment, reveal, roll request, passed dice or tick that did not come
    /// through the relay:
    /// timed steps count only with the relay's stamp (its order and clock
    /// are what every peer judges deadlines on).
    #[error("commitments, reveals, roll requests, passed dice and ticks count only as the relay stamped them")]
    NotRelayed,
    /// This session only observes; it has no key to act with.
    #[error("this session observes only")]
    ObserverOnly,
}

impl SessionError {
    /// Whether the message was refused in its turn, by the game's rules,
    /// after its sequence number was used up: every peer that processes it
    /// judges it the same way, and its sender's later messages follow it.
    /// (The others refuse a message before it takes a number: a bad
    /// signature, a replay, another game.) A relay that validates must
    /// pass such a message on, or the peers would wait for that number
    /// forever.
    pub fn used_its_turn(&self) -> bool {
        !matches!(
            self,
            SessionError::WrongGame
                | SessionError::Invalid(_)
                | SessionError::Replayed { .. }
                | SessionError::TooFarAhead { .. }
                | SessionError::Closed
                | SessionError::ObserverOnly
                | SessionError::TooManyWaiting
                | SessionError::NotRelayed
        )
    }
}

impl SessionError {
    /// A stable code for programs (kebab-case, such as `betting-closed`
    /// or, for the table's refusals, the table's own: `insufficient-balance`);
    /// the message is for people.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Table(e) => e.code(),
            _ => self.into(),
        }
    }
}
