//! A whole game's transcript as a file anyone can check: the game's
//! configuration, every message a peer processed (signed by its sender, in
//! the peer's order, with the relay time stamped on it and whether it was
//! accepted), and what the peer says came of it (every roll's dice, the
//! final state hash). [`GameTranscript::check`] replays it through a fresh
//! observer ([`crate::verify::Verifier`]: every signature, sequence number,
//! rule, deadline verdict and settlement again, every roll's dice from its
//! reveals) and compares the outcome with the claims, so nothing in the
//! file has to be trusted but the players' keys.
//!
//! The file is written as the game goes (a relay in validation mode
//! appends each message as it relays it): a header, then one record per
//! message, then, when the writer is done, its claims.
//!
//! ```text
//! file    = "BCTX" | version u8 (2) | config (GameConfig::encode, 103 bytes)
//!         | base_len u32 | base (a checkpoint, none when 0) | record*
//! record  = 1 | flags u8 (bit 0: relayed, bit 1: accepted)
//!             | relay_time u64 (if relayed) | len u16 | signed message frame
//!         | 2 | rolls u32 | (round u64 | die u8 | die u8)* | state_hash [32]
//!             (the claims: the last record of a finished file)
//! ```
//!
//! A game the writer followed from its first message has no base. A page
//! that took a game under way (from a snapshot) writes the checkpoint it
//! started from: the state after a roll, which the file's own `Settled`
//! messages must show most of that state's voters signed, and on which a
//! roll in the file must have been played (so the house and the roll's
//! players committed to it); the checker says so, and from which roll.
//! A file without claims (its writer stopped, or the game goes on) is
//! checked only when asked for ([`GameTranscript::decode_unfinished`]),
//! its last record dropped if it is cut short.

use crate::commit_reveal::Digest32;
use crate::decode::{Reader, UnexpectedEnd};
use crate::message::SignedMessage;
use crate::session::{GameConfig, RollRecord, Session, TranscriptEntry};
use crate::verify::{Verifier, VerifyError, Vouched};

/// The file's first bytes.
pub const MAGIC: &[u8; 4] = b"BCTX";
/// The format's version.
pub const VERSION: u8 = 2;
/// A record holding a message.
const ENTRY: u8 = 1;
/// The record holding the claims.
const CLAIMS: u8 = 2;

/// What a transcript's writer says came of its messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// Every roll's round and dice, as the writer saw them.
    pub rolls: Vec<(u64, [u8; 2])>,
    /// The state hash after the last entry, as the writer held it.
    pub state_hash: Digest32,
}

/// A game's transcript with what its writer claims came of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GameTranscript {
    /// The game.
    pub config: GameConfig,
    /// The checkpoint the writer took the game from, if it did not follow
    /// it from its first message.
    pub base: Option<Vec<u8>>,
    /// Every message the writer processed, in its order.
    pub entries: Vec<TranscriptEntry>,
    /// What the writer says came of them (`None`: an unfinished file).
    pub claims: Option<Claims>,
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
    /// The file has no claims: its writer stopped before the end (a
    /// crash), or the game was still on.
    #[error("the file has no ending: its writer stopped, or the game was still on (check what it holds as unfinished)")]
    Unfinished,
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
            Self::Unfinished => "unfinished",
            Self::Replay(VerifyError::WronglyAccepted { .. }) => "wrongly-accepted",
            Self::Replay(VerifyError::WronglyRefused { .. }) => "wrongly-refused",
            Self::Replay(VerifyError::OutOfTurn { .. }) => "out-of-turn",
            Self::Replay(VerifyError::BadRoll { .. }) => "bad-roll",
            Self::Replay(VerifyError::BadCheckpoint(_)) => "bad-checkpoint",
            Self::Replay(VerifyError::Unvouched { .. }) => "unvouched",
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
    /// The checkpoint the file starts from, and who vouched for it
    /// (`None`: the game from its first message).
    pub from: Option<Vouched>,
    /// Whether the file had its writer's claims to compare with (an
    /// unfinished file has none).
    pub finished: bool,
}

impl GameTranscript {
    /// The transcript of `session`'s game so far, with its claims (from
    /// the checkpoint it started from, if it took the game under way).
    pub fn of(session: &Session) -> Self {
        GameTranscript {
            config: *session.config(),
            base: session.base_checkpoint().map(|b| b.to_vec()),
            entries: session.transcript().to_vec(),
            claims: Some(claims_of(session)),
        }
    }

    /// The file's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = header(&self.config, self.base.as_deref());
        for entry in &self.entries {
            encode_entry(entry, &mut out);
        }
        if let Some(claims) = &self.claims {
            encode_claims(claims, &mut out);
        }
        out
    }

    /// Reads a finished file [`GameTranscript::encode`] wrote (one without
    /// claims is [`TranscriptError::Unfinished`]).
    pub fn decode(bytes: &[u8]) -> Result<Self, TranscriptError> {
        let transcript = Self::read(bytes, false)?;
        if transcript.claims.is_none() {
            return Err(TranscriptError::Unfinished);
        }
        Ok(transcript)
    }

    /// Reads a file that may be unfinished: one whose writer stopped
    /// before writing its claims (a relay that crashed, a game still on).
    /// A last record cut short is left out (a crash in the middle of
    /// writing it).
    pub fn decode_unfinished(bytes: &[u8]) -> Result<Self, TranscriptError> {
        Self::read(bytes, true)
    }

    fn read(bytes: &[u8], unfinished: bool) -> Result<Self, TranscriptError> {
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
        let base_len = r.u32()? as usize;
        let base = (base_len > 0).then(|| r.take(base_len)).transpose()?;
        let mut transcript = GameTranscript {
            config,
            base: base.map(<[u8]>::to_vec),
            entries: Vec::new(),
            claims: None,
        };
        while !r.is_empty() {
            if transcript.claims.is_some() {
                return Err(TranscriptError::Malformed("records after the claims"));
            }
            let record = match r.u8()? {
                ENTRY => read_entry(&mut r).map(Record::Entry),
                CLAIMS => read_claims(&mut r).map(Record::Claims),
                _ => return Err(TranscriptError::Malformed("an unknown record")),
            };
            match record {
                Ok(Record::Entry(entry)) => transcript.entries.push(entry),
                Ok(Record::Claims(claims)) => transcript.claims = Some(claims),
                // The writer stopped in the middle of its last record.
                Err(TranscriptError::Truncated(_)) if unfinished => break,
                Err(error) => return Err(error),
            }
        }
        Ok(transcript)
    }

    /// Replays every message and checks the outcome against the claims:
    /// the first difference, with its reason, or what the game established.
    pub fn check(&self) -> Result<Checked, TranscriptError> {
        let mut verifier = match &self.base {
            None => Verifier::new(self.config),
            Some(base) => Verifier::from_checkpoint(self.config, base, &self.entries)?,
        };
        verifier.extend(&self.entries)?;
        if verifier.pending() > 0 {
            return Err(TranscriptError::Incomplete {
                waiting: verifier.pending(),
            });
        }
        if !verifier.played_on() {
            let round = verifier.from().map_or(0, |f| f.round);
            return Err(VerifyError::Unvouched { round }.into());
        }
        let rolls = verifier.rolls();
        if let Some(claims) = &self.claims {
            for (index, (record, (claimed_round, claimed))) in
                rolls.iter().zip(&claims.rolls).enumerate()
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
            if rolls.len() != claims.rolls.len() {
                return Err(TranscriptError::RollCount {
                    claimed: claims.rolls.len(),
                    actual: rolls.len(),
                });
            }
            if verifier.state_hash() != claims.state_hash {
                return Err(TranscriptError::StateDiffers);
            }
        }
        Ok(Checked {
            rolls: rolls.to_vec(),
            state_hash: verifier.state_hash(),
            entries: verifier.checked(),
            from: verifier.from().cloned(),
            finished: self.claims.is_some(),
        })
    }
}

enum Record {
    Entry(TranscriptEntry),
    Claims(Claims),
}

/// A file's first bytes, before its records: what a writer that appends
/// as the game goes writes first.
pub fn header(config: &GameConfig, base: Option<&[u8]>) -> Vec<u8> {
    let base = base.unwrap_or_default();
    let mut out = Vec::with_capacity(256 + base.len());
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.extend_from_slice(&config.encode());
    out.extend_from_slice(&(base.len() as u32).to_be_bytes());
    out.extend_from_slice(base);
    out
}

/// Appends one message's record.
pub fn encode_entry(entry: &TranscriptEntry, out: &mut Vec<u8>) {
    out.push(ENTRY);
    let flags = u8::from(entry.relayed_at.is_some()) | (u8::from(entry.accepted) << 1);
    out.push(flags);
    if let Some(at) = entry.relayed_at {
        out.extend_from_slice(&at.to_be_bytes());
    }
    let frame = entry.message.to_frame();
    out.extend_from_slice(&(frame.len() as u16).to_be_bytes());
    out.extend_from_slice(&frame);
}

/// Appends the claims' record (the last one).
pub fn encode_claims(claims: &Claims, out: &mut Vec<u8>) {
    out.push(CLAIMS);
    out.extend_from_slice(&(claims.rolls.len() as u32).to_be_bytes());
    for (round, dice) in &claims.rolls {
        out.extend_from_slice(&round.to_be_bytes());
        out.extend_from_slice(dice);
    }
    out.extend_from_slice(&claims.state_hash);
}

/// The claims a session makes about its game so far.
pub fn claims_of(session: &Session) -> Claims {
    Claims {
        rolls: session
            .history()
            .iter()
            .map(|r| (r.round, [r.roll.die1(), r.roll.die2()]))
            .collect(),
        state_hash: session.state_hash(),
    }
}

fn read_entry(r: &mut Reader<'_>) -> Result<TranscriptEntry, TranscriptError> {
    let flags = r.u8()?;
    if flags > 3 {
        return Err(TranscriptError::Malformed("unknown entry flags"));
    }
    let relayed_at = if flags & 1 == 1 { Some(r.u64()?) } else { None };
    let len = usize::from(r.u16()?);
    let message = SignedMessage::from_frame_bytes(r.take(len)?)
        .map_err(|_| TranscriptError::Malformed("a message that does not decode"))?;
    Ok(TranscriptEntry {
        relayed_at,
        message,
        accepted: flags & 2 == 2,
    })
}

fn read_claims(r: &mut Reader<'_>) -> Result<Claims, TranscriptError> {
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
    Ok(Claims { rolls, state_hash })
}
