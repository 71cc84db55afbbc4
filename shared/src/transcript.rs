//! A whole game's transcript as a file anyone can check: the game's
//! configuration, every message a peer processed (signed by its sender, in
//! the peer's order, with the relay time stamped on it and whether it was
//! accepted), and what the peer says came of it (every roll's dice, the
//! final state hash). [`check`] replays it through a fresh observer
//! ([`crate::verify::Verifier`]: every signature, sequence number, rule,
//! deadline verdict and settlement again, every roll's dice from its
//! reveals) and compares the outcome with the claims, so nothing in the
//! file has to be trusted but the players' keys.
//!
//! ```text
//! file   = "BCTX" | version u8 (1) | config (GameConfig::encode, 103 bytes)
//!        | rolls u32 | (round u64 | die u8 | die u8)*      (the claimed dice)
//!        | state_hash [32]                                   (claimed, at the end)
//!        | entries u32 | entry*
//! entry  = flags u8 (bit 0: relayed, bit 1: accepted) | relay_time u64 (if relayed)
//!        | len u16 | signed message frame [len]
//! ```
//!
//! Only a game followed from its first message can be written: a page that
//! took a game under way from a snapshot holds it from a checkpoint.

use crate::commit_reveal::Digest32;
use crate::decode::{Reader, UnexpectedEnd};
use crate::message::SignedMessage;
use crate::session::{GameConfig, RollRecord, Session, TranscriptEntry};
use crate::verify::{Verifier, VerifyError};

/// The file's first bytes.
pub const MAGIC: &[u8; 4] = b"BCTX";
/// The format's version.
pub const VERSION: u8 = 1;

/// A game's transcript with what its writer claims came of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GameTranscript {
    /// The game.
    pub config: GameConfig,
    /// Every roll's round and dice, as the writer saw them.
    pub rolls: Vec<(u64, [u8; 2])>,
    /// The state hash after the last entry, as the writer held it.
    pub state_hash: Digest32,
    /// Every message the writer processed, in its order.
    pub entries: Vec<TranscriptEntry>,
}

/// Why a transcript file cannot be read, or does not check out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TranscriptError {
    /// Not a transcript file (or of a later version).
    #[error("not a BitCraps transcript (version {0} of the format)")]
    NotATranscript(u8),
    /// The file ends in the middle of something.
    #[error("the file ends early: {0}")]
    Truncated(&'static str),
    /// Something in the file is not what the format allows.
    #[error("malformed: {0}")]
    Malformed(&'static str),
    /// A session that took its game from a snapshot holds it only from a
    /// checkpoint.
    #[error("this game was followed from a checkpoint, not from its first message")]
    FromCheckpoint,
    /// Replaying the messages does not give what was recorded.
    #[error(transparent)]
    Replay(#[from] VerifyError),
    /// Messages that wait for earlier ones of their senders that are not
    /// in the transcript (dropped, or moved out of order).
    #[error("{waiting} messages wait for earlier ones of their senders that the transcript lacks")]
    Incomplete {
        /// How many wait.
        waiting: usize,
    },
    /// A roll the replay made differs from the one claimed.
    #[error("roll {index}: the file says round {claimed_round} rolled {claimed:?}, the reveals give round {round} {actual:?}")]
    DiceDiffer {
        /// Which roll (0: the first).
        index: usize,
        /// The claimed round.
        claimed_round: u64,
        /// The claimed dice.
        claimed: [u8; 2],
        /// The round replayed.
        round: u64,
        /// The dice the reveals give.
        actual: [u8; 2],
    },
    /// The replay made more or fewer rolls than claimed.
    #[error("the file claims {claimed} rolls, its messages make {actual}")]
    RollCount {
        /// Rolls claimed.
        claimed: usize,
        /// Rolls the messages make.
        actual: usize,
    },
    /// The final state differs from the claimed one.
    #[error("the state after the last message differs from the one the file claims")]
    StateDiffers,
}

impl TranscriptError {
    /// A stable name of the failure for programs (kebab-case:
    /// `out-of-turn`, `dice-differ`, ...); the message is for people.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NotATranscript(_) => "not-a-transcript",
            Self::Truncated(_) => "truncated",
            Self::Malformed(_) => "malformed",
            Self::FromCheckpoint => "from-checkpoint",
            Self::Replay(VerifyError::WronglyAccepted { .. }) => "wrongly-accepted",
            Self::Replay(VerifyError::WronglyRefused { .. }) => "wrongly-refused",
            Self::Replay(VerifyError::OutOfTurn { .. }) => "out-of-turn",
            Self::Replay(VerifyError::BadRoll { .. }) => "bad-roll",
            Self::Incomplete { .. } => "incomplete",
            Self::DiceDiffer { .. } => "dice-differ",
            Self::RollCount { .. } => "roll-count",
            Self::StateDiffers => "state-differs",
        }
    }

    /// Whether the bytes could not be read as a transcript at all (as
    /// opposed to a transcript that does not check out).
    pub fn is_unreadable(&self) -> bool {
        matches!(
            self,
            Self::NotATranscript(_) | Self::Truncated(_) | Self::Malformed(_)
        )
    }
}

impl From<UnexpectedEnd> for TranscriptError {
    fn from(_: UnexpectedEnd) -> Self {
        TranscriptError::Truncated("a field is cut short")
    }
}

/// What a transcript that checks out establishes.
#[derive(Debug, Clone)]
pub struct Checked {
    /// Every roll, recomputed from its reveals.
    pub rolls: Vec<RollRecord>,
    /// The state hash after the last message.
    pub state_hash: Digest32,
    /// Messages replayed.
    pub entries: usize,
}

impl GameTranscript {
    /// The transcript of `session`'s game so far, with its claims.
    pub fn of(session: &Session) -> Result<Self, TranscriptError> {
        if session.started_from_checkpoint() {
            return Err(TranscriptError::FromCheckpoint);
        }
        Ok(GameTranscript {
            config: *session.config(),
            rolls: session
                .history()
                .iter()
                .map(|r| (r.round, [r.roll.die1(), r.roll.die2()]))
                .collect(),
            state_hash: session.state_hash(),
            entries: session.transcript().to_vec(),
        })
    }

    /// The file's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + self.entries.len() * 160);
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.extend_from_slice(&self.config.encode());
        out.extend_from_slice(&(self.rolls.len() as u32).to_be_bytes());
        for (round, dice) in &self.rolls {
            out.extend_from_slice(&round.to_be_bytes());
            out.extend_from_slice(dice);
        }
        out.extend_from_slice(&self.state_hash);
        out.extend_from_slice(&(self.entries.len() as u32).to_be_bytes());
        for entry in &self.entries {
            let flags = u8::from(entry.relayed_at.is_some()) | (u8::from(entry.accepted) << 1);
            out.push(flags);
            if let Some(at) = entry.relayed_at {
                out.extend_from_slice(&at.to_be_bytes());
            }
            let frame = entry.message.to_frame();
            out.extend_from_slice(&(frame.len() as u16).to_be_bytes());
            out.extend_from_slice(&frame);
        }
        out
    }

    /// Reads a file [`GameTranscript::encode`] wrote.
    pub fn decode(bytes: &[u8]) -> Result<Self, TranscriptError> {
        let mut r = Reader::new(bytes);
        if r.take(4).ok() != Some(MAGIC.as_slice()) {
            return Err(TranscriptError::NotATranscript(0));
        }
        let version = r.u8()?;
        if version != VERSION {
            return Err(TranscriptError::NotATranscript(version));
        }
        let config = GameConfig::decode(r.take(crate::session::CONFIG_LEN)?)
            .map_err(|_| TranscriptError::Malformed("the game's configuration"))?;
        let mut rolls = Vec::new();
        for _ in 0..r.count(10)? {
            let round = r.u64()?;
            let dice: [u8; 2] = r.array()?;
            if !dice.iter().all(|d| (1..=6).contains(d)) {
                return Err(TranscriptError::Malformed("a die that is not 1-6"));
            }
            rolls.push((round, dice));
        }
        let state_hash: Digest32 = r.array()?;
        let mut entries = Vec::new();
        for _ in 0..r.count(3)? {
            let flags = r.u8()?;
            if flags > 3 {
                return Err(TranscriptError::Malformed("unknown entry flags"));
            }
            let relayed_at = if flags & 1 == 1 { Some(r.u64()?) } else { None };
            let len = usize::from(r.u16()?);
            let message = SignedMessage::from_frame_bytes(r.take(len)?)
                .map_err(|_| TranscriptError::Malformed("a message that does not decode"))?;
            entries.push(TranscriptEntry {
                relayed_at,
                message,
                accepted: flags & 2 == 2,
            });
        }
        r.finish()
            .map_err(|_| TranscriptError::Malformed("bytes after the last entry"))?;
        Ok(GameTranscript {
            config,
            rolls,
            state_hash,
            entries,
        })
    }

    /// Replays every message and checks the outcome against the claims:
    /// the first difference, with its reason, or what the game established.
    pub fn check(&self) -> Result<Checked, TranscriptError> {
        let mut verifier = Verifier::new(self.config);
        verifier.extend(&self.entries)?;
        if verifier.pending() > 0 {
            return Err(TranscriptError::Incomplete {
                waiting: verifier.pending(),
            });
        }
        let rolls = verifier.rolls();
        for (index, (record, (claimed_round, claimed))) in rolls.iter().zip(&self.rolls).enumerate()
        {
            let actual = [record.roll.die1(), record.roll.die2()];
            if record.round != *claimed_round || actual != *claimed {
                return Err(TranscriptError::DiceDiffer {
                    index,
                    claimed_round: *claimed_round,
                    claimed: *claimed,
                    round: record.round,
                    actual,
                });
            }
        }
        if rolls.len() != self.rolls.len() {
            return Err(TranscriptError::RollCount {
                claimed: self.rolls.len(),
                actual: rolls.len(),
            });
        }
        if verifier.state_hash() != self.state_hash {
            return Err(TranscriptError::StateDiffers);
        }
        Ok(Checked {
            rolls: rolls.to_vec(),
            state_hash: verifier.state_hash(),
            entries: verifier.checked(),
        })
    }
}
